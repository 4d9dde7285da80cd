/*
 * fuzz_config.c — libFuzzer target for a model folder's config.json and
 * preprocessor_config.json (src/config.c, jansson underneath): the same bytes go through
 * clip_config_parse and clip_preproc_parse. What is accepted must keep the promises the model
 * builder relies on: every size in its range (hidden divisible by heads, image divisible by
 * patch, bos and eos inside the vocabulary, 3 channels), layer_norm_eps in (0, 1) as the float
 * the encoders use; a preprocessor with bicubic resampling, sides in [1, 16384], a rescale
 * factor in (0, 1], finite means and non-zero finite deviations. A refusal names the file.
 * Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: the real configs of the fixtures, both forms of
 * size and crop_size, hostile numbers.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tower(const clip_tower_config *t)
{
    if (t->hidden < 1 || t->heads < 1 || t->hidden % t->heads || t->layers < 1 || t->intermediate < 1)
        abort();
    if (!(t->eps > 0 && t->eps < 1)) abort();
    if (t->act != AE_ACT_QUICK_GELU && t->act != AE_ACT_GELU) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy so that reads past the end are caught exactly */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    clip_config c;
    if (clip_config_parse(buf, size, "config.json", &c) == AE_OK) {
        check_tower(&c.text);
        check_tower(&c.vision);
        if (c.proj_dim < 1 || c.text.vocab < 1 || c.text.max_positions < 2) abort();
        if (c.text.bos_id < 0 || c.text.bos_id >= c.text.vocab || c.text.eos_id < 0 || c.text.eos_id >= c.text.vocab)
            abort();
        if (c.vision.channels != 3 || c.vision.patch_size < 1 || c.vision.image_size % c.vision.patch_size)
            abort();
        if (!memchr(c.name_or_path, 0, sizeof c.name_or_path)) abort();
    } else if (!fuzz_names(ae_last_error(), "config.json")) {
        abort();
    }
    clip_preproc p;
    if (clip_preproc_parse(buf, size, "preprocessor_config.json", &p) == AE_OK) {
        if (p.resample != 3 || p.shortest_edge < 1 || p.shortest_edge > 16384 || p.crop_h < 1 ||
            p.crop_h > 16384 || p.crop_w < 1 || p.crop_w > 16384)
            abort();
        if (!(p.rescale_factor > 0 && p.rescale_factor <= 1)) abort();
        for (int i = 0; i < 3; i++)
            if (!isfinite(p.mean[i]) || !isfinite(p.std[i]) || !(fabsf(p.std[i]) > 0)) abort();
    } else if (!fuzz_names(ae_last_error(), "preprocessor_config.json")) {
        abort();
    }
    free(buf);
    return 0;
}
