/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader:
 * any bytes go through st_parse; every file it accepts must keep its promises (sorted names,
 * st_get finds each tensor, spans inside the buffer, st_to_f32 readable to the end). The
 * configs have their own target (fuzz_config.c). Built by -DAE_FUZZ=ON (fuzz/run.sh).
 * Seeds: small real files (heads and banks aesthete wrote), headers of the tiny models
 * (head -c 4096 model.safetensors: their tensors run past the end), hand-made edge cases.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy so that reads past the end are caught exactly */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    st_file f;
    if (st_parse(&f, buf, size, "fuzz") == 0) {
        for (int32_t i = 0; i < f.n_tensors; i++) {
            const st_tensor *t = &f.tensors[i];
            if (i > 0 && strcmp(f.tensors[i - 1].name, t->name) >= 0) abort();
            if (st_get(&f, t->name) != t) abort();
            if (t->nbytes && (t->data < buf || t->data + t->nbytes > buf + size)) abort();
            if (t->numel > 0 && t->numel <= (1 << 20)) {
                float *out = malloc((size_t)t->numel * sizeof(float));
                if (out) st_to_f32(t, out);
                free(out);
            }
        }
        for (int32_t i = 0; i < f.n_meta; i++)
            if (!st_meta(&f, f.meta_keys[i])) abort();
        st_close(&f);
    }
    free(buf);
    return 0;
}
