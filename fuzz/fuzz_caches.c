/*
 * fuzz_caches.c — libFuzzer target for nn_caches_parse, the reader of AE_CACHES: arbitrary
 * bytes in, and either -1 with nothing written or three sizes from 1 byte to 2^60 (2^40 times
 * the largest suffix), never an overflow. Built by -DAE_FUZZ=ON (fuzz/run.sh):
 *
 *   build-fuzz/fuzz_caches -max_len=64 fuzz/corpus/caches/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0; /* the parser reads a C string, as getenv gives it */
    nn_caches c = {-7, -7, -7, "untouched"};
    int rc = nn_caches_parse(s, &c);
    const int64_t most = (int64_t)1 << 60;
    if (rc == 0) {
        if (c.l1d <= 0 || c.l2 <= 0 || c.l3 <= 0 || c.l1d > most || c.l2 > most || c.l3 > most)
            abort();
    } else if (rc != -1 || c.l1d != -7 || c.l2 != -7 || c.l3 != -7) {
        abort();
    }
    free(s);
    return 0;
}
