/*
 * fuzz_image.c — libFuzzer target for the image decoders and the preprocessor: any bytes
 * go through ae_image_decode (format by content) with a small pixel limit, and every image
 * that decodes is preprocessed at 64 px and at 224 px with a larger crop (zero padding), and
 * measured (ae_image_quality: fractions in [0, 1], finite non-negative sharpness and noise);
 * every other input also has its capture read from the EXIF block its decoder found.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_image.c
 *        src/image_*.c src/photo.c src/bigbuf.c src/fileio.c src/error.c
 *        $(pkg-config --cflags --libs libjpeg libpng libwebp libwebpdemux libheif libexif
 *        libxxhash) -lgif -lm
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "aesthete.h"
#include "config.h"
#include "image.h"
#include "image_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ae_image_params ip = ae_image_default_params();
    ip.max_pixels = 1 << 22; /* keep each run small */
    ip.exif_rotate = size & 1;
    ae_image img;
    int o;
    ae_capture cap;
    if (img_decode_capture(data, size, "fuzz", &ip, &img, &o, size & 2 ? &cap : NULL) != AE_OK)
        return 0;
    if (!img.rgb || img.width <= 0 || img.height <= 0) abort(); /* contract */
    if (o < 1 || o > 8 || img_orient(&img, o, "fuzz") != AE_OK) abort();
    ae_quality q;
    if (ae_image_quality(&img, &q) != AE_OK) abort();
    if (!(q.highlights >= 0 && q.highlights <= 1 && q.shadows >= 0 && q.shadows <= 1 &&
          q.sharpness >= 0 && isfinite(q.sharpness) && q.noise >= 0 && isfinite(q.noise)))
        abort();
    static const int sizes[2][2] = {{64, 64}, {224, 240}};
    for (int i = 0; i < 2; i++) {
        clip_preproc p = {0};
        p.do_resize = p.do_center_crop = p.do_rescale = p.do_normalize = 1;
        p.shortest_edge = sizes[i][0];
        p.crop_h = p.crop_w = sizes[i][1];
        p.resample = 3;
        p.rescale_factor = 1.0 / 255.0;
        p.mean[0] = p.mean[1] = p.mean[2] = 0.5f;
        p.std[0] = p.std[1] = p.std[2] = 0.25f;
        size_t n = (size_t)p.crop_h * p.crop_w;
        float *pix = malloc(n * 3 * sizeof(float));
        uint8_t *crop = malloc(n * 3);
        if (pix && crop && img_preprocess(&p, &img, pix, crop) != AE_OK) abort();
        free(pix);
        free(crop);
    }
    ae_image_free(&img);
    return 0;
}
