/*
 * fuzz_matrix.c — libFuzzer target for embedding files (ae_read_matrix, src/matrix.c): the
 * first byte picks the file's name (.npy, .pkl, .f32, no extension) and the expected row
 * length (none, 1, 3, 4, 512), the rest is written to that file in a private folder (the
 * reader maps a path). What is accepted must keep ae_read_matrix's promises: rows and cols
 * >= 1, cols the expected length when one was given, every value finite and readable; a
 * refusal leaves NULL and 0 x 0 with a message naming the path. Built by -DAE_FUZZ=ON
 * (fuzz/run.sh); seeds: .npy files of float32/float16, 1-D and 2-D, numpy pickles, raw rows
 * from the fixtures' seed bank, damaged headers.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"emb.npy", "emb.pkl", "emb.f32", "emb"};
    static const int32_t dims[] = {0, 1, 3, 4, 512, 0, 2, 8};
    if (size < 1) return 0;
    const char *path = fuzz_path(names[data[0] & 3]);
    const int32_t dim = dims[data[0] >> 2 & 7];
    fuzz_write(path, data + 1, size - 1);
    float *m = (float *)data;
    int32_t rows = -1, cols = -1;
    if (ae_read_matrix(path, dim, &m, &rows, &cols) == AE_OK) {
        if (!m || rows < 1 || cols < 1 || (dim > 0 && cols != dim)) abort();
        for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
            if (!isfinite(m[i])) abort();
    } else if (m || rows || cols || !fuzz_names(ae_last_error(), path)) {
        abort();
    }
    free(m);
    return 0;
}
