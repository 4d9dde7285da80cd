/*
 * gemm_avx2.c — the AVX2+FMA kernel set: a 6x16 GEMM micro-kernel over half of a 32-column
 * weight panel (the GEMM driver hands it 16-column slices; a 32-column call runs both halves),
 * with a fused epilogue.
 *
 * 16 ymm registers hold 12 accumulators (6 rows x 16 columns), the two weight vectors of a
 * panel row and one broadcast activation. The row count is a compile-time constant (one
 * unrolled instance per mr = 1..6). Partial panels use masked loads and stores; quick_gelu
 * uses a vector expf, gelu calls erff per element.
 */
#include <immintrin.h>
#include <math.h>

#include "nn/nn_internal.h"
#include "nn/vmath_avx2.h"

#define MR 6

/* The hot loop: R rows x 16 columns starting at column j0 of the panel. */
static inline __attribute__((always_inline)) void half_rows(const nn_tile *t, int j0, const int R)
{
    __m256 c0[MR], c1[MR];
    const int nv = t->nr - j0; /* valid columns in this half (> 0) */
    const __m256i m0 = lane_mask(nv), m1 = lane_mask(nv - 8);
    const ptrdiff_t lda = t->lda, ldc = t->ldc, ldr = t->ldr;
    float *c = t->c + j0;
    const float *res = t->res ? t->res + j0 : NULL;

    if (t->first) {
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        if (t->bias) {
            b0 = _mm256_loadu_ps(t->bias + j0);
            b1 = _mm256_loadu_ps(t->bias + j0 + 8);
        }
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            c0[r] = b0;
            c1[r] = b1;
            if (t->res_init) {
                c0[r] = _mm256_add_ps(c0[r], _mm256_maskload_ps(res + r * ldr, m0));
                c1[r] = _mm256_add_ps(c1[r], _mm256_maskload_ps(res + r * ldr + 8, m1));
            }
        }
    } else {
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            c0[r] = _mm256_maskload_ps(c + r * ldc, m0);
            c1[r] = _mm256_maskload_ps(c + r * ldc + 8, m1);
        }
    }

    const float *a = t->a, *b = t->b + j0;
    /* without a stream to prefetch, "prefetch" the slice being read (no branch in the loop) */
    const float *pf = t->pf ? t->pf : b;
    const ptrdiff_t pf_step = t->pf ? t->pf_step : NN_NR;
    const int32_t kc = t->kc;
    for (int32_t k = 0; k < kc; k++, b += NN_NR, a++) {
        _mm_prefetch((const char *)pf, _MM_HINT_T0);
        _mm_prefetch((const char *)(pf + 16), _MM_HINT_T0);
        pf += pf_step;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 ar = _mm256_broadcast_ss(a + r * lda);
            c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
        }
    }

#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        if (t->last) {
            c0[r] = act256(t->act, c0[r]);
            c1[r] = act256(t->act, c1[r]);
            if (t->res_final) {
                c0[r] = _mm256_add_ps(c0[r], _mm256_maskload_ps(res + r * ldr, m0));
                c1[r] = _mm256_add_ps(c1[r], _mm256_maskload_ps(res + r * ldr + 8, m1));
            }
        }
        _mm256_maskstore_ps(c + r * ldc, m0, c0[r]);
        _mm256_maskstore_ps(c + r * ldc + 8, m1, c1[r]);
    }
}

#define TILE_FN(n)                                       \
    static void tile_##n(const nn_tile *t)               \
    {                                                    \
        half_rows(t, 0, n);                              \
        if (t->nr > 16) half_rows(t, 16, n);             \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)

static void (*const tiles[MR + 1])(const nn_tile *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6,
};

void nn_tile_f32_avx2(const nn_tile *t)
{
    tiles[t->mr](t);
}

void nn_softmax_avx2(float *s, int32_t n, float scale)
{
    float mx = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        s[j] *= scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    __m256 vmax = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
    for (int32_t j = 0; j < n; j += 8) {
        __m256i m = lane_mask(n - j);
        __m256 e = exp256(_mm256_sub_ps(_mm256_maskload_ps(s + j, m), vmax));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(s + j, m, e);
        sum = _mm256_add_ps(sum, e);
    }
    float v[8], total = 0.0f;
    _mm256_storeu_ps(v, sum);
    for (int i = 0; i < 8; i++) total += v[i];
    float inv = 1.0f / total;
    for (int32_t j = 0; j < n; j++) s[j] *= inv;
}

