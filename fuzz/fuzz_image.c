/*
 * fuzz_image.c — libFuzzer target for the image decoders (JPEG, PNG, WebP, GIF, BMP,
 * HEIF/AVIF, format by content) through the entry the CLI's pipeline uses for every input,
 * img_prepare_facts (src/preprocess.c), with a pixel cap (1 Mpx here, checked from the header
 * before any pixel is decoded), EXIF rotation and the fast JPEG decode picked from the
 * input's size, and a 64 px or a 224 px preprocessor with a larger crop (zero padding). What
 * decodes must give finite pixels for the whole crop; with the facts asked for (every other
 * input), quality fractions in [0, 1], finite non-negative sharpness and noise, a displayed
 * size within the cap, and a capture that keeps ae_capture's promises. A refusal names the
 * input. Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: the small images of the fixtures and
 * tiny hand-made files of every format (ImageMagick, cwebp).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "config.h"
#include "fuzz_util.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ae_image_params ip = ae_image_default_params();
    ip.max_pixels = 1 << 20; /* keep each run small */
    ip.exif_rotate = size & 1;
    ip.fast_decode = (size & 4) != 0;
    static const int sizes[2][2] = {{64, 64}, {224, 240}};
    const int *sz = sizes[size >> 3 & 1];
    clip_preproc p = {0};
    p.do_resize = p.do_center_crop = p.do_rescale = p.do_normalize = p.do_convert_rgb = 1;
    p.shortest_edge = sz[0];
    p.crop_h = p.crop_w = sz[1];
    p.resample = 3;
    p.rescale_factor = 1.0 / 255.0;
    p.mean[0] = p.mean[1] = p.mean[2] = 0.5f;
    p.std[0] = p.std[1] = p.std[2] = 0.25f;
    const size_t n = (size_t)p.crop_h * p.crop_w * 3;
    float *pix = malloc(n * sizeof(float));
    uint8_t *crop = malloc(n);
    if (!pix || !crop) abort();
    img_facts f;
    img_facts *fp = size & 2 ? &f : NULL;
    if (img_prepare_facts(&p, data, size, "fuzz.img", &ip, pix, crop, fp) != AE_OK) {
        if (!fuzz_names(ae_last_error(), "fuzz.img")) abort();
    } else {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(pix[i])) abort();
        if (fp) {
            const ae_quality *q = &f.quality;
            if (!(q->highlights >= 0 && q->highlights <= 1 && q->shadows >= 0 && q->shadows <= 1 &&
                  q->sharpness >= 0 && isfinite(q->sharpness) && q->noise >= 0 && isfinite(q->noise)))
                abort();
            if (f.width < 1 || f.height < 1 || (uint64_t)f.width * (uint64_t)f.height > ip.max_pixels) abort();
            const ae_capture *c = &f.capture;
            const double lo = -2208988800.0 - 14 * 3600, hi = 7289654400.0 + 14 * 3600; /* 1900 and 2201 */
            if (!c->has_time && (c->time != 0 || c->has_offset)) abort();
            if (c->has_time && !(isfinite(c->time) && c->time >= lo && c->time < hi)) abort();
            if (c->has_offset && (c->offset_minutes < -14 * 60 || c->offset_minutes > 14 * 60)) abort();
            if (!memchr(c->camera, 0, sizeof c->camera)) abort();
        }
    }
    free(pix);
    free(crop);
    return 0;
}
