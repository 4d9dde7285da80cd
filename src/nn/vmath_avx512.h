/*
 * vmath_avx512.h — vector activations for the AVX-512 kernels (float32 and int8 epilogues):
 * expf, quick_gelu and gelu on 16 floats, each within a few ulp of the scalar spec in
 * nn_ref.c. Included by *_avx512*.c files only (compiled with AVX-512 flags).
 */
#ifndef AE_NN_VMATH_AVX512_H
#define AE_NN_VMATH_AVX512_H

#include <immintrin.h>

#include "nn/nn_internal.h"

/* expf for a vector, Cephes-style: 2^n * p(r), |r| <= ln2/2; within 2 ulp of expf. */
static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* x * sigmoid(1.702 x) = x / (1 + exp(-1.702 x)); the division as a 14-bit reciprocal and
 * one Newton step (28 bits, within an ulp of the quotient; a third of a division's cost in
 * the fc1 epilogue) */
static inline __m512 quick_gelu512(__m512 x)
{
    __m512 e = exp512(_mm512_mul_ps(x, _mm512_set1_ps(-1.702f)));
    __m512 d = _mm512_add_ps(e, _mm512_set1_ps(1.0f)), r = _mm512_rcp14_ps(d);
    r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
    return _mm512_mul_ps(x, r);
}

/* 0.5 x (1 + erf(x/√2)). |z| < 1: erf(z) = z P(z²); |z| >= 1: 1 + erf(z) = 2 - erfc(|z|) or
 * erfc(|z|) with erfc(a) = exp(G(a - 2.5)), G a fit of log erfc on [1, 4] (mpmath chebyfit,
 * 2e-9); the error is within 1.2e-7 |x|, like the float erff formula's, and no cancellation
 * for negative x. */
static inline __m512 gelu512(__m512 x)
{
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 a = _mm512_abs_ps(z), u = _mm512_mul_ps(z, z);
    /* |z| < 1: erf(z) = z P(z^2) */
    __m512 p = _mm512_set1_ps(7.875875062685488e-05f);
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.000801686428716587f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.005189087423433974f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.026854212010626412f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.11283594715160218f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.37612626666720334f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(1.1283791658483509f));
    __m512 small = _mm512_fmadd_ps(z, p, _mm512_set1_ps(1.0f)); /* 1 + erf(z) */
    /* |z| >= 1: erfc(|z|) = exp(G(|z| - 2.5)) */
    __m512 t = _mm512_sub_ps(_mm512_min_ps(a, _mm512_set1_ps(4.0f)), _mm512_set1_ps(2.5f));
    __m512 g = _mm512_set1_ps(-3.834714142238689e-08f);
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-6.614636860827395e-08f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(1.8297927568634065e-06f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-1.2974525812988588e-05f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(7.696963263743512e-05f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-0.00042070964826457246f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(0.002165501738697137f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-0.010858163840072425f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-0.9438937363300378f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-5.35268074066997f));
    g = _mm512_fmadd_ps(g, t, _mm512_set1_ps(-7.806815272727264f));
    __m512 e = exp512(g);
    __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 large = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), e), e);
    __mmask16 far = _mm512_cmp_ps_mask(a, _mm512_set1_ps(3.92f), _CMP_GT_OQ);
    large = _mm512_mask_blend_ps(_mm512_kand(far, neg), large, _mm512_setzero_ps());
    __mmask16 big = _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.0f), _CMP_GE_OQ);
    __m512 onep = _mm512_mask_blend_ps(big, small, large);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), onep);
}
static inline __m512 act512(nn_act act, __m512 x)
{
    return act == NN_ACT_QUICK_GELU ? quick_gelu512(x) : act == NN_ACT_GELU ? gelu512(x) : x;
}

#endif
