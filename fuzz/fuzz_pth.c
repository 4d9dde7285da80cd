/*
 * fuzz_pth.c — libFuzzer target for importing a head from PyTorch or safetensors weights
 * (ae_head_import: src/head_import.c; src/torchfile.c for a .pth, zip archives through libzip
 * and the legacy pickled form, the restricted unpickler of src/pickle.c; src/safetensors.c):
 * the first byte picks the file name (.pth, .pt, .bin, .safetensors) and whether the ReLUs
 * are told or guessed, the rest is the file. What is imported must be a linear or MLP head
 * with a dimension >= 1 and at least one layer; a refusal leaves NULL with a message naming
 * the path. Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: the .pth files of tests/data/pickle
 * (zip and legacy), a LAION-style MLP state dict, safetensors heads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"head.pth", "head.pt", "head.bin", "head.safetensors"};
    if (size < 1) return 0;
    const char *path = fuzz_path(names[data[0] & 3]);
    fuzz_write(path, data + 1, size - 1);
    ae_head_params hp = ae_head_default_params();
    hp.relu = (data[0] >> 2 & 3) == 3 ? -1 : (data[0] >> 2 & 1);
    ae_head *h = (ae_head *)data;
    if (ae_head_import(path, &hp, &h) == AE_OK) {
        ae_head_info i;
        ae_head_get_info(h, &i);
        if ((i.kind != AE_HEAD_LINEAR && i.kind != AE_HEAD_MLP) || i.dim < 1 || i.n_layers < 1 || !i.name)
            abort();
        ae_head_free(h);
    } else if (h || !fuzz_names(ae_last_error(), path)) {
        abort();
    }
    return 0;
}
