/*
 * quant_avx512.c — the activation quantizer of the avx512 and avx512vnni sets: 16 floats a
 * step, scaled, rounded to nearest even (vcvtps2dq), clamped to ±127 and narrowed to bytes;
 * NaN gives 0. Bit for bit nn_quant_i8_ref (test_quant).
 */
#include <immintrin.h>

#include "nn/nn_internal.h"

void nn_quant_i8_avx512(const float *x, int32_t n, float inv, uint8_t flip, uint8_t *q)
{
    const __m512 s = _mm512_set1_ps(inv), hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    const __m128i fx = _mm_set1_epi8((char)flip);
    for (int32_t k = 0; k < n; k += 16) {
        const __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), s);
        const __mmask16 num = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        const __m512i i = _mm512_maskz_cvt_roundps_epi32(num, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_mask_storeu_epi8(q + k, m, _mm_xor_si128(_mm512_cvtepi32_epi8(i), fx));
    }
}
