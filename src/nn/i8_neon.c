/*
 * i8_neon.c — the int8 tile of the "neon" set (AArch64 CPUs without the dot-product
 * extension: Cortex-A53/A72, Graviton 1): 4 rows x 16 columns by widening multiplies.
 *
 * A panel's group of 4 k holds, per 4 columns, one 16-byte vector (column j's 4 weights, then
 * column j+1's, ...). The row's 4 activation bytes are broadcast to all four 32-bit lanes;
 * vmull_s8 / vmull_high_s8 give the 16 int16 products of 4 columns, vpaddq_s16 adds adjacent
 * pairs (k0+k1, k2+k3 of each column) and vpadalq_s16 adds those pairs into the column's
 * int32 lane. An int16 pair is at most 2 * 128 * 127 = 32512 in magnitude because the weights
 * are never -128 (linear_i8.c), so nothing saturates and the int32 sums equal the reference's
 * exactly. Activations are s8 (i8_unsigned = 0): corr is NULL and not read. Per group and row:
 * one broadcast and, per 4 columns, 4 instructions for 16 multiply-adds; 16 accumulators.
 * Epilogue as in nn_internal.h (fmaf of the dequantisation is one vfmaq, bit for bit).
 */
#include <arm_neon.h>

#include "nn/nn_internal.h"
#include "nn/vmath_neon.h"

#define MR 4

static inline __attribute__((always_inline)) void tile_rows(const nn_tile_i8 *t, const int R)
{
    int32x4_t acc[MR][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = vdupq_n_s32(0);
    const uint8_t *a = t->a;
    const int8_t *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t lda = t->lda, pf_step = t->pf ? t->pf_step : 4 * NN_NR;
    /* the hot loop: one group of 4 k per iteration */
    for (int32_t g = 0; g < t->kg; g++, b += 4 * NN_NR, a += 4) {
        __builtin_prefetch(pf);
        pf += pf_step;
        int8x16_t bv[4];
        for (int i = 0; i < 4; i++) bv[i] = vld1q_s8(b + 16 * i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const int8x16_t ar = vreinterpretq_s8_s32(vdupq_n_s32(nn_i8_group(a + r * lda)));
            const int8x8_t al = vget_low_s8(ar);
            for (int i = 0; i < 4; i++) {
                int16x8_t lo = vmull_s8(vget_low_s8(bv[i]), al), hi = vmull_high_s8(bv[i], ar);
                acc[r][i] = vpadalq_s16(acc[r][i], vpaddq_s16(lo, hi));
            }
        }
    }

    const int nr = t->nr;
    float32x4_t ws[4], z[4];
    for (int i = 0; i < 4; i++) {
        ws[i] = ld4(t->w_scale + 4 * i, nr - 4 * i);
        z[i] = t->bias ? ld4(t->bias + 4 * i, nr - 4 * i) : vdupq_n_f32(0.0f);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const float as = t->a_scale[r];
        float32x4_t v[4], u[4];
        for (int i = 0; i < 4; i++)
            v[i] = vfmaq_f32(z[i], vcvtq_f32_s32(acc[r][i]), vmulq_n_f32(ws[i], as));
        if (t->add) {
            for (int i = 0; i < 4; i++) u[i] = ld4(t->add + r * t->ldadd + 4 * i, nr - 4 * i);
            for (int i = 0; i < 4; i++) v[i] = vaddq_f32(v[i], u[i]);
        }
        for (int i = 0; i < 4; i++) v[i] = act4(t->act, v[i]);
        if (t->res) {
            for (int i = 0; i < 4; i++) u[i] = ld4(t->res + r * t->ldr + 4 * i, nr - 4 * i);
            for (int i = 0; i < 4; i++) v[i] = vaddq_f32(v[i], u[i]);
        }
        for (int i = 0; i < 4; i++) st4(t->c + r * t->ldc + 4 * i, nr - 4 * i, v[i]);
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

void nn_tile_i8_neon(const nn_tile_i8 *t)
{
    tiles[t->mr](t);
}
