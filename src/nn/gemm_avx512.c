/*
 * gemm_avx512.c — the AVX-512 kernel set: a 14x32 GEMM micro-kernel with a fused epilogue.
 *
 * A tile of up to 14 rows x 32 columns keeps its 28 accumulators in zmm registers; per k it
 * loads one 32-float row of the packed weight panel (two zmm) and broadcasts one activation
 * per row straight from x (embedded {1to16} broadcasts, so x needs no packing), i.e. 28 FMAs
 * for 2 vector loads + 14 broadcasts, which leaves the two FMA ports the bottleneck. The row
 * count is a compile-time constant (one unrolled instance per mr = 1..14). The epilogue works
 * on the registers: bias/residual at the start, activation (vector expf for quick_gelu, a
 * vector erf for gelu) and residual at the end, partial column panels through masks.
 */
#include <immintrin.h>
#include <math.h>

#include "nn/nn_internal.h"

#define MR 14
#define PF_HINT _MM_HINT_T0 /* the next weight slice goes to L1 (T1 measured no better) */

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

/* The hot loop: one tile of R rows (a compile-time constant after inlining). */
static inline __attribute__((always_inline)) void tile_rows(const nn_tile *t, const int R)
{
    __m512 c0[MR], c1[MR];
    const int nr = t->nr;
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    const ptrdiff_t lda = t->lda, ldc = t->ldc, ldr = t->ldr;
    float *c = t->c;

    if (t->first) {
        __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
        if (t->bias) {
            b0 = _mm512_loadu_ps(t->bias);
            b1 = _mm512_loadu_ps(t->bias + 16);
        }
#pragma GCC unroll 14
        for (int r = 0; r < R; r++) {
            c0[r] = b0;
            c1[r] = b1;
        }
        if (t->res_init) {
#pragma GCC unroll 14
            for (int r = 0; r < R; r++) {
                c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, t->res + r * ldr));
                c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, t->res + r * ldr + 16));
            }
        }
    } else {
#pragma GCC unroll 14
        for (int r = 0; r < R; r++) {
            c0[r] = _mm512_maskz_loadu_ps(m0, c + r * ldc);
            c1[r] = _mm512_maskz_loadu_ps(m1, c + r * ldc + 16);
        }
    }

    /* without a stream to prefetch, "prefetch" the slice being read (no branch in the loop) */
    const float *a = t->a, *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t pf_step = t->pf ? t->pf_step : NN_NR;
    const int32_t kc = t->kc;
    for (int32_t k = 0; k < kc; k++, b += NN_NR, a++) {
        _mm_prefetch((const char *)pf, PF_HINT);
        _mm_prefetch((const char *)(pf + 16), PF_HINT);
        pf += pf_step;
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 14
        for (int r = 0; r < R; r++) {
            __m512 ar = _mm512_set1_ps(a[r * lda]);
            c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
        }
    }

    if (t->last && t->act != NN_ACT_NONE) {
#pragma GCC unroll 14
        for (int r = 0; r < R; r++) {
            c0[r] = act512(t->act, c0[r]);
            c1[r] = act512(t->act, c1[r]);
        }
    }
    if (t->last && t->res_final) {
#pragma GCC unroll 14
        for (int r = 0; r < R; r++) {
            c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, t->res + r * ldr));
            c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, t->res + r * ldr + 16));
        }
    }
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, c0[r]);
        _mm512_mask_storeu_ps(c + r * ldc + 16, m1, c1[r]);
    }
}

#define TILE_FN(n) \
    static void tile_##n(const nn_tile *t) { tile_rows(t, n); }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6) TILE_FN(7)
TILE_FN(8) TILE_FN(9) TILE_FN(10) TILE_FN(11) TILE_FN(12) TILE_FN(13) TILE_FN(14)

static void (*const tiles[MR + 1])(const nn_tile *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_7,
    tile_8, tile_9, tile_10, tile_11, tile_12, tile_13, tile_14,
};

static void tile_avx512(const nn_tile *t)
{
    tiles[t->mr](t);
}

static void softmax_avx512(float *s, int32_t n, float scale)
{
    __m512 vs = _mm512_set1_ps(scale), mx = _mm512_set1_ps(-INFINITY);
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), vs);
        _mm512_mask_storeu_ps(s + j, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vmax));
        e = _mm512_maskz_mov_ps(m, e);
        _mm512_mask_storeu_ps(s + j, m, e);
        sum = _mm512_add_ps(sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
    }
}

/* Two passes per row (mean, then the variance of x - mean), 16 float lanes each. */
static void layernorm_rows_avx512(const float *x, int32_t r0, int32_t r1, int32_t d,
                                  const float *w, const float *b, float eps, float *y)
{
    for (int32_t r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        __m512 s = _mm512_setzero_ps();
        for (int32_t j = 0; j < d; j += 16) {
            __mmask16 m = d - j >= 16 ? 0xFFFF : (__mmask16)((1u << (d - j)) - 1);
            s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, xr + j));
        }
        float mean = _mm512_reduce_add_ps(s) / (float)d;
        __m512 vm = _mm512_set1_ps(mean), v = _mm512_setzero_ps();
        for (int32_t j = 0; j < d; j += 16) {
            __mmask16 m = d - j >= 16 ? 0xFFFF : (__mmask16)((1u << (d - j)) - 1);
            __m512 t = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + j), vm);
            v = _mm512_fmadd_ps(t, t, v);
        }
        float rstd = 1.0f / sqrtf(_mm512_reduce_add_ps(v) / (float)d + eps);
        __m512 vr = _mm512_set1_ps(rstd);
        for (int32_t j = 0; j < d; j += 16) {
            __mmask16 m = d - j >= 16 ? 0xFFFF : (__mmask16)((1u << (d - j)) - 1);
            __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vm), vr);
            t = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(m, w + j), _mm512_maskz_loadu_ps(m, b + j));
            _mm512_mask_storeu_ps(yr + j, m, t);
        }
    }
}

const nn_kernels nn_kernels_avx512 = {"avx512", MR, NN_NR, tile_avx512, softmax_avx512,
                                      layernorm_rows_avx512};
