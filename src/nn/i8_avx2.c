/*
 * i8_avx2.c — the int8 tile of the avx2 and avx512 sets (CPUs without VNNI): 4 rows x 16
 * columns by vpmaddubsw + vpmaddwd.
 *
 * vpmaddubsw multiplies unsigned by signed bytes and adds adjacent pairs into a saturating
 * int16: with u8 activations up to 255 and weights up to ±127 a pair reaches 64770 and
 * saturates. The sign trick avoids that exactly: the activations stay s8 in [-127, 127], the
 * unsigned operand is |a| (vpabsb) and the signed one the weight with a's sign (vpsignb), so a
 * pair is at most 2 * 127 * 127 = 32258. vpmaddwd by ones then adds the pairs into int32, so
 * the sums equal the reference's exactly. Per group of 4 k and row: one broadcast, one vpabsb
 * and, per 8 columns, vpsignb, vpmaddubsw, vpmaddwd and vpaddd. No correction term (corr is
 * NULL for this kernel: activations are signed). Epilogue as in nn_internal.h.
 */
#include <immintrin.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/vmath_avx2.h"

#define MR 4

static inline int32_t load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline __attribute__((always_inline)) void tile_rows(const nn_tile_i8 *t, const int R)
{
    __m256i c0[MR], c1[MR];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
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
            const __m256i ar = _mm256_set1_epi32(load4(a + r * lda)), ua = _mm256_abs_epi8(ar);
            __m256i p0 = _mm256_maddubs_epi16(ua, _mm256_sign_epi8(b0, ar));
            __m256i p1 = _mm256_maddubs_epi16(ua, _mm256_sign_epi8(b1, ar));
            c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(p0, ones));
            c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(p1, ones));
        }
    }

    const int nr = t->nr;
    const __m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);
    const __m256 s0 = _mm256_loadu_ps(t->w_scale), s1 = _mm256_loadu_ps(t->w_scale + 8);
    const __m256 z0 = t->bias ? _mm256_loadu_ps(t->bias) : _mm256_setzero_ps();
    const __m256 z1 = t->bias ? _mm256_loadu_ps(t->bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m256 as = _mm256_set1_ps(t->a_scale[r]);
        __m256 v0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c0[r]), _mm256_mul_ps(as, s0), z0);
        __m256 v1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c1[r]), _mm256_mul_ps(as, s1), z1);
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

void nn_tile_i8_avx2(const nn_tile_i8 *t)
{
    tiles[t->mr](t);
}
