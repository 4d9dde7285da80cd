/*
 * vmath_avx2.h — vector activations and lane masks for the AVX2 kernels (float32 and int8
 * epilogues): expf and quick_gelu on 8 floats within a few ulp of the scalar spec in
 * nn_ref.c (gelu per element through it). Included by *_avx2*.c / *_avxvnni.c files only.
 */
#ifndef AE_NN_VMATH_AVX2_H
#define AE_NN_VMATH_AVX2_H

#include <immintrin.h>

#include "nn/nn_internal.h"

/* expf for a vector (Cephes polynomial, 2^n built in the exponent bits); within 2 ulp. */
static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 act256(nn_act act, __m256 x)
{
    if (act == NN_ACT_QUICK_GELU) {
        /* x / (1 + e): a 12-bit reciprocal and one Newton step (within an ulp or two) */
        __m256 e = exp256(_mm256_mul_ps(x, _mm256_set1_ps(-1.702f)));
        __m256 d = _mm256_add_ps(e, _mm256_set1_ps(1.0f)), r = _mm256_rcp_ps(d);
        r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
        return _mm256_mul_ps(x, r);
    }
    if (act == NN_ACT_GELU) {
        float v[8];
        _mm256_storeu_ps(v, x);
        for (int i = 0; i < 8; i++) v[i] = nn_gelu(v[i]);
        return _mm256_loadu_ps(v);
    }
    return x;
}

/* lanes j < n set */
static inline __m256i lane_mask(int n)
{
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
