/*
 * fuzz_pickle.c — libFuzzer target for the restricted unpickler: any bytes go through
 * pk_unpickle_state_dict_mem as a torch data.pkl (every storage served as zeros, up to 4 KiB)
 * and through pk_numpy_load_mem as a pickled numpy array. Whatever is accepted must keep its
 * promises: names set and distinct, numel the product of the shape, data present.
 * Built by -DAE_FUZZ=ON (fuzz/run.sh). Run: build-fuzz/fuzz_pickle -max_len=65536
 * fuzz/corpus/pickle (seeds: small torch data.pkl files and numpy pickles of every protocol,
 * hand-made hostile ones).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zeros(void *ctx, const char *key, uint64_t nbytes, const uint8_t **out)
{
    static const uint8_t z[4096];
    if (nbytes > sizeof z) return -5; /* AE_ERR_TOO_LARGE, without a message: fine here */
    *out = z;
    return 0;
}

static void check(const pk_tensor *t, int named)
{
    int64_t n = 1;
    if ((named && !t->name) || !t->data || t->ndim < 0 || t->ndim > PK_MAX_DIMS) abort();
    for (int32_t d = 0; d < t->ndim; d++) n *= t->shape[d];
    if (n != t->numel) abort();
    volatile float sum = 0; /* every element readable */
    for (int64_t i = 0; i < t->numel; i++) sum += t->data[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy so that reads past the end are caught exactly */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    pk_tensors ts;
    if (pk_unpickle_state_dict_mem(buf, size, "fuzz", zeros, NULL, &ts) == 0) {
        for (int32_t i = 0; i < ts.n; i++) {
            check(&ts.t[i], 1);
            for (int32_t j = 0; j < i; j++)
                if (!strcmp(ts.t[i].name, ts.t[j].name)) abort();
        }
        pk_tensors_free(&ts);
    } else if (ts.n || ts.t) {
        abort();
    }
    pk_tensor t;
    if (pk_numpy_load_mem(buf, size, "fuzz", &t) == 0) check(&t, 0);
    else if (t.data || t.name) abort();
    pk_tensor_free(&t);
    free(buf);
    return 0;
}
