#!/usr/bin/env python3
"""article_rank.py — what the article's readers run: rank a folder of photos by CLIP aesthetics
with PIL and PyTorch, the baseline of bench/e2e.sh.

  /usr/bin/python3 bench/article_rank.py MODEL_DIR FOLDER [--batch 32] [--threads 2]

The article's pipeline, step by step: CLIPModel.from_pretrained (here bench/peers/clip_torch.py's
re-statement of the HF modules, loading the same model.safetensors: both towers, as CLIPModel
does); the two prompts "a outstanding picture" / "a horrible picture" encoded once and
normalised; every image opened with PIL, Image.open(...).convert("RGB"), preprocessed as
CLIPImageProcessor does (shortest side resized to 224 with PIL BICUBIC, centre crop 224,
rescale 1/255, normalise with the config's mean/std, CHW), encoded in batches of 32,
normalised; score = 1000 * (cos_pos - cos_neg); printed best first as "score<TAB>path".
No EXIF rotation (Pillow does none; the benchmark's photos carry no EXIF).
Run it with Debian's /usr/bin/python3 (python3-torch, python3-pil) in the tuned environment of
bench/peers.sh (bench/e2e.sh does).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import clip_torch  # noqa: E402

PROMPTS = ["a outstanding picture", "a horrible picture"]
EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


class Processor:
    """CLIPImageProcessor's defaults for openai/clip-vit-base-patch32, from preprocessor_config.json."""

    def __init__(self, model_dir):
        try:
            c = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
        except OSError:
            c = {}
        size, crop = c.get("size", 224), c.get("crop_size", 224)
        self.size = size.get("shortest_edge", 224) if isinstance(size, dict) else size
        self.crop = crop.get("height", 224) if isinstance(crop, dict) else crop
        self.mean = np.array(c.get("image_mean", [0.48145466, 0.4578275, 0.40821073]), np.float32)
        self.std = np.array(c.get("image_std", [0.26862954, 0.26130258, 0.27577711]), np.float32)

    def __call__(self, path):
        img = Image.open(path).convert("RGB")
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = self.size, int(self.size * long / short)  # get_resize_output_image_size
        nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
        arr = np.asarray(img.resize((nw, nh), resample=Image.BICUBIC))
        top, left = (nh - self.crop) // 2, (nw - self.crop) // 2  # center_crop
        arr = arr[top:top + self.crop, left:left + self.crop]
        x = (arr.astype(np.float32) * np.float32(1 / 255) - self.mean) / self.std
        return x.transpose(2, 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("folder")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = sorted(os.path.join(a.folder, f) for f in os.listdir(a.folder) if f.lower().endswith(EXTS))
    vision, text = clip_torch.load(a.model, "vision"), clip_torch.load(a.model, "text")
    tok, proc = clip_torch.Tokenizer(a.model), Processor(a.model)
    scores = []
    with torch.inference_mode():
        t = text(*clip_torch.pad_batch([tok.encode(p) for p in PROMPTS]))
        t = t / t.norm(dim=-1, keepdim=True)
        for i in range(0, len(files), a.batch):
            x = torch.from_numpy(np.stack([proc(f) for f in files[i:i + a.batch]]))
            e = vision(x)
            cos = (e / e.norm(dim=-1, keepdim=True)) @ t.T
            scores += (1000 * (cos[:, 0] - cos[:, 1])).tolist()
    for s, f in sorted(zip(scores, files), reverse=True):
        print(f"{s:.4f}\t{f}")


if __name__ == "__main__":
    main()
