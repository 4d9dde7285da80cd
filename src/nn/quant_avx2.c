/*
 * quant_avx2.c — the activation quantizer of the avx2 and avxvnni sets: 32 floats a step,
 * scaled, NaN made 0, clamped to ±127, rounded to nearest even (vcvtps2dq) and packed to
 * bytes (the packs work per 128-bit lane, so a permute puts the four groups back in order);
 * the tail as nn_quant_i8_ref. Bit for bit nn_quant_i8_ref (test_quant).
 */
#include <immintrin.h>

#include "nn/nn_internal.h"

static inline __m256i q8x8(const float *x, __m256 s, __m256 lo, __m256 hi)
{
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), s);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    return _mm256_cvtps_epi32(v); /* MXCSR's rounding: to nearest even */
}

void nn_quant_i8_avx2(const float *x, int32_t n, float inv, uint8_t flip, uint8_t *q)
{
    const __m256 s = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
    const __m256i fx = _mm256_set1_epi8((char)flip), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int32_t k = 0;
    for (; k + 32 <= n; k += 32) {
        const __m256i a = _mm256_packs_epi32(q8x8(x + k, s, lo, hi), q8x8(x + k + 8, s, lo, hi));
        const __m256i b = _mm256_packs_epi32(q8x8(x + k + 16, s, lo, hi), q8x8(x + k + 24, s, lo, hi));
        const __m256i c = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), order);
        _mm256_storeu_si256((__m256i *)(q + k), _mm256_xor_si256(c, fx));
    }
    for (; k < n; k++) q[k] = (uint8_t)((uint8_t)nn_q8(x[k] * inv) ^ flip);
}
