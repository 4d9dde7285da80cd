#!/usr/bin/env python3
"""Distinct camera-like JPEGs for bench/e2e.sh, made from the fixture photos with PIL.

  make_photos.py OUT_DIR COUNT MEGAPIXELS FIXTURE_PHOTO...

Photo i: fixture photo i mod N (EXIF orientation applied), a random crop of 80-100% of each
side, a random mirror, brightness and contrast x0.9-1.1, resized (Lanczos) to about
MEGAPIXELS at the crop's aspect ratio, with Gaussian grain (sigma 3 of 255, so upscaled
photos are not unnaturally smooth and compress like real ones), saved as baseline JPEG
quality 90, 4:2:0, no EXIF. Seeded by i: the same files every time.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageEnhance, ImageOps


def main(out, count, mp, sources):
    os.makedirs(out, exist_ok=True)
    srcs = [ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in sources]
    for i in range(count):
        rng = np.random.default_rng(1000 + i)
        im = srcs[i % len(srcs)]
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.8, 1.0)), int(h * rng.uniform(0.8, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = im.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            im = ImageOps.mirror(im)
        im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.9, 1.1))
        im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.9, 1.1))
        s = (mp * 1e6 / (cw * ch)) ** 0.5
        im = im.resize((max(1, round(cw * s)), max(1, round(ch * s))), Image.LANCZOS)
        a = np.asarray(im, dtype=np.float32)
        a += rng.normal(0, 3, a.shape).astype(np.float32)
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))
        im.save(os.path.join(out, f"p{i:03d}.jpg"), quality=90, subsampling=2)
    print(f"{count} photos of ~{mp} MP in {out}")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
