/*
 * tile_avx512.h — the 14x32 AVX-512 tile of the nn_tile contract, as a template: the float32
 * tile (gemm_avx512.c) and the bf16 one (bf16_avx512bf16.c) differ only in what one k step
 * does, so each file defines
 *     TILE_ENTRY                 the function's name
 *     TILE_BROADCAST(p)          the __m512 operand of row r from its 32-bit unit at p
 *     TILE_MADD(acc, a, b)       acc + a * b for one unit of k (an FMA, or a bf16 pair dot)
 * and includes this file once. Everything else — bias and residual at the start, the
 * prefetch stream, activation and residual at the end, masked partial panels — is here.
 *
 * A tile of up to 14 rows x 32 columns keeps its 28 accumulators in zmm registers; per k it
 * loads one 32-unit row of the packed weight panel (two zmm) and broadcasts one unit per row
 * straight from x (embedded {1to16} broadcasts, so x needs no packing), i.e. 28 multiply-adds
 * for 2 vector loads + 14 broadcasts, which leaves the two FMA ports the bottleneck. The row
 * count is a compile-time constant (one unrolled instance per mr = 1..14).
 */
#include "nn/nn_internal.h"
#include "nn/vmath_avx512.h"

#define MR 14
#define PF_HINT _MM_HINT_T0 /* the next weight slice goes to L1 (T1 measured no better) */

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
            const __m512 ar = TILE_BROADCAST(a + r * lda);
            c0[r] = TILE_MADD(c0[r], ar, b0);
            c1[r] = TILE_MADD(c1[r], ar, b1);
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

void TILE_ENTRY(const nn_tile *t)
{
    tiles[t->mr](t);
}
