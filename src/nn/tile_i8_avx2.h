/*
 * tile_i8_avx2.h — the int8 tile of the nn_tile_i8 contract on 256-bit registers, as a
 * template: the AVX2 tile (i8_avx2.c, pmaddubsw with the sign trick) and the AVX-VNNI one
 * (i8_avxvnni.c, vpdpbusd) differ only in what one group of 4 k does to a row's sums, so each
 * file defines
 *     TILE_ENTRY                     the function's name
 *     TILE_STEP(c0, c1, ar, b0, b1)  c0/c1 (int32 sums of columns 0..7 / 8..15) += the row's
 *                                    4 activation bytes ar (broadcast) times the weights b0/b1
 * and includes this file once. Everything else is here: 4 rows x 16 columns, 8 accumulators
 * over all of K, the prefetch stream, and the epilogue (t->corr subtracted when the kernel
 * takes unsigned activations, then scale, bias, outlier addend, activation, residual, masked
 * partial columns). A call of more than 16 columns runs the two halves of the panel.
 */
#include <immintrin.h>

#include "nn/nn_internal.h"
#include "nn/vmath_avx2.h"

#define MR 4

static inline __attribute__((always_inline)) void tile_rows(const nn_tile_i8 *t, const int R)
{
    __m256i c0[MR], c1[MR];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm256_setzero_si256();
    const uint8_t *a = t->a;
    const int8_t *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t lda = t->lda, pf_step = t->pf ? t->pf_step : 128;
    for (int32_t g = 0; g < t->kg; g++, b += 4 * NN_NR, a += 4) {
        _mm_prefetch((const char *)pf, _MM_HINT_T0);
        pf += pf_step;
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256i ar = _mm256_set1_epi32(nn_i8_group(a + r * lda));
            TILE_STEP(c0[r], c1[r], ar, b0, b1);
        }
    }

    const int nr = t->nr;
    const __m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);
    const __m256i k0 = t->corr ? _mm256_loadu_si256((const __m256i *)t->corr) : _mm256_setzero_si256();
    const __m256i k1 = t->corr ? _mm256_loadu_si256((const __m256i *)(t->corr + 8)) : _mm256_setzero_si256();
    const __m256 s0 = _mm256_loadu_ps(t->w_scale), s1 = _mm256_loadu_ps(t->w_scale + 8);
    const __m256 z0 = t->bias ? _mm256_loadu_ps(t->bias) : _mm256_setzero_ps();
    const __m256 z1 = t->bias ? _mm256_loadu_ps(t->bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m256 as = _mm256_set1_ps(t->a_scale[r]);
        __m256 v0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(c0[r], k0));
        __m256 v1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(c1[r], k1));
        v0 = _mm256_fmadd_ps(v0, _mm256_mul_ps(as, s0), z0);
        v1 = _mm256_fmadd_ps(v1, _mm256_mul_ps(as, s1), z1);
        if (t->add) {
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(t->add + r * t->ldadd, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(t->add + r * t->ldadd + 8, m1));
        }
        v0 = act256(t->act, v0);
        v1 = act256(t->act, v1);
        if (t->res) {
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(t->res + r * t->ldr, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(t->res + r * t->ldr + 8, m1));
        }
        _mm256_maskstore_ps(t->c + r * t->ldc, m0, v0);
        _mm256_maskstore_ps(t->c + r * t->ldc + 8, m1, v1);
    }
}

/* a tile call may cover a whole 32-column panel: then both halves */
#define TILE_FN(n)                                                   \
    static void tile_##n(const nn_tile_i8 *t)                        \
    {                                                                \
        if (t->nr <= 16) {                                           \
            tile_rows(t, n);                                         \
            return;                                                  \
        }                                                            \
        nn_tile_i8 h = *t;                                           \
        h.nr = 16;                                                   \
        tile_rows(&h, n);                                            \
        h.nr = t->nr - 16;                                           \
        h.b = t->b + 16 * 4;                                         \
        h.w_scale = t->w_scale + 16;                                 \
        h.corr = t->corr ? t->corr + 16 : NULL;                      \
        h.bias = t->bias ? t->bias + 16 : NULL;                      \
        h.add = t->add ? t->add + 16 : NULL;                         \
        h.res = t->res ? t->res + 16 : NULL;                         \
        h.c = t->c + 16;                                             \
        tile_rows(&h, n);                                            \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4)

static void (*const tiles[MR + 1])(const nn_tile_i8 *) = {
    NULL, tile_1, tile_2, tile_3, tile_4,
};

void TILE_ENTRY(const nn_tile_i8 *t)
{
    tiles[t->mr](t);
}
