/*
 * i8_avx512vnni.c — the int8 tile of the avx512vnni set: 8 rows x 32 columns by vpdpbusd.
 *
 * The 16 int32 accumulators stay in zmm registers over all of K. Per group of 4 k the tile
 * loads one 128-byte row of the packed panel (two zmm: 16 columns x 4 k each) and, per row,
 * broadcasts the row's 4 activation bytes, i.e. 16 vpdpbusd (1024 multiply-adds) for 2 loads
 * and 8 broadcasts. (With more rows GCC 12 starts copying accumulators between registers
 * around every instruction: 14 rows ran at half the speed of 8 on Zen 5.) vpdpbusd multiplies unsigned by signed bytes,
 * so the activations come as u8 = s8 + 128 and the epilogue subtracts 128 Σk Wq (t->corr);
 * then it converts, scales by a_scale[r] * w_scale[j], adds bias, the outlier correction,
 * the activation and the residual on the registers (nn_internal.h has the contract).
 */
#include <immintrin.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/vmath_avx512.h"

#define MR 8

static inline int32_t load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* acc += u8 a · s8 w per 32-bit lane, in place. GCC 12's intrinsic copies the accumulator
 * through other registers (and the stack) around every vpdpbusd of a 28-accumulator loop,
 * which cost 4x here; the instruction itself, written out, keeps each accumulator in one
 * register. */
static inline __m512i dpbusd(__m512i acc, __m512i a, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
}

static inline __attribute__((always_inline)) void tile_rows(const nn_tile_i8 *t, const int R)
{
    __m512i c0[MR], c1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_si512();
    const uint8_t *a = t->a;
    const int8_t *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t lda = t->lda, pf_step = t->pf ? t->pf_step : 128;
    for (int32_t g = 0; g < t->kg; g++, b += 4 * NN_NR, a += 4) {
        _mm_prefetch((const char *)pf, _MM_HINT_T0);
        pf += pf_step;
        const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m512i ar = _mm512_set1_epi32(load4(a + r * lda));
            c0[r] = dpbusd(c0[r], ar, b0);
            c1[r] = dpbusd(c1[r], ar, b1);
        }
    }

    const int nr = t->nr;
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    const __m512i k0 = _mm512_loadu_si512(t->corr), k1 = _mm512_loadu_si512(t->corr + 16);
    const __m512 s0 = _mm512_loadu_ps(t->w_scale), s1 = _mm512_loadu_ps(t->w_scale + 16);
    const __m512 z0 = t->bias ? _mm512_loadu_ps(t->bias) : _mm512_setzero_ps();
    const __m512 z1 = t->bias ? _mm512_loadu_ps(t->bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        const __m512 as = _mm512_set1_ps(t->a_scale[r]);
        __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c0[r], k0));
        __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c1[r], k1));
        v0 = _mm512_fmadd_ps(v0, _mm512_mul_ps(as, s0), z0);
        v1 = _mm512_fmadd_ps(v1, _mm512_mul_ps(as, s1), z1);
        if (t->add) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, t->add + r * t->ldadd));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, t->add + r * t->ldadd + 16));
        }
        v0 = act512(t->act, v0);
        v1 = act512(t->act, v1);
        if (t->res) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, t->res + r * t->ldr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, t->res + r * t->ldr + 16));
        }
        _mm512_mask_storeu_ps(t->c + r * t->ldc, m0, v0);
        _mm512_mask_storeu_ps(t->c + r * t->ldc + 16, m1, v1);
    }
}

#define TILE_FN(n) \
    static void tile_##n(const nn_tile_i8 *t) { tile_rows(t, n); }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6) TILE_FN(7) TILE_FN(8)

static void (*const tiles[MR + 1])(const nn_tile_i8 *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_7, tile_8,
};

void nn_tile_i8_avx512vnni(const nn_tile_i8 *t)
{
    tiles[t->mr](t);
}
