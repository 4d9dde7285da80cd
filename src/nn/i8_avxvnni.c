/*
 * i8_avxvnni.c — the int8 tile of the avxvnni set: 4 rows x 16 columns by the VEX-encoded
 * vpdpbusd of AVX-VNNI (Alder Lake and later, Zen 5), on CPUs without AVX-512 or with it
 * turned off.
 *
 * 8 ymm accumulators (4 rows x 2 x 8 columns), two weight vectors per group of 4 k (the
 * tile's 16-column half of a 128-byte panel row) and one broadcast: 8 vpdpbusd per group
 * (6 rows, 12 accumulators, ran 40% slower: GCC 12 then copies them between registers).
 * Activations come as u8 = s8 + 128, corrected by t->corr in the epilogue; the epilogue
 * follows nn_internal.h on the registers.
 */
#include <immintrin.h>

/* acc += u8 a · s8 w per 32-bit lane, in place (as i8_avx512vnni.c, GCC 12's intrinsic moves
 * the accumulators around every instruction) */
static inline __m256i dpbusd(__m256i acc, __m256i a, __m256i w)
{
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(w));
    return acc;
}

#define TILE_ENTRY nn_tile_i8_avxvnni
#define TILE_STEP(c0, c1, ar, b0, b1) ((c0) = dpbusd((c0), (ar), (b0)), (c1) = dpbusd((c1), (ar), (b1)))
#include "nn/tile_i8_avx2.h"
