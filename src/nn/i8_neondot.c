/*
 * i8_neondot.c — the int8 tile of the "neondot" set (AArch64 CPUs with the dot-product
 * extension, FEAT_DotProd: Cortex-A55/A76 and later, Neoverse N1/V1 (Graviton 2/3), Apple
 * M1 and later): 5 rows x 16 columns by SDOT. Compiled with -march=armv8.2-a+dotprod (this
 * file only: a flag on i8_neon.c could let the compiler put SDOT into the tile for CPUs
 * without it) and chosen only where the CPU reports the extension (dispatch.c).
 *
 * SDOT by element adds, to each 32-bit lane of an accumulator, the dot product of that lane's
 * 4 weight bytes (one column's group of 4 k, the panel layout of nn_internal.h) with one
 * 4-byte lane of a second vector. That vector holds 16 bytes of an activation row, 4 groups,
 * so a row is loaded once per 4 groups and each panel row of 16 columns (4 vectors) feeds 5
 * rows: per 4 groups, 5 + 16 loads and 80 SDOTs. 20 accumulators + 5 A + 4 B vectors fill
 * 29 of the 32 registers (a sixth row would spill). The last kg % 4 groups broadcast their 4
 * bytes instead. Products are exact in int32, so the sums equal the reference's. Activations
 * are s8 (i8_unsigned = 0): corr is NULL and not read. Epilogue as in nn_internal.h.
 */
#include <arm_neon.h>

#include "nn/nn_internal.h"
#include "nn/vmath_neon.h"

#define MR 5

static inline __attribute__((always_inline)) void tile_rows(const nn_tile_i8 *t, const int R)
{
    int32x4_t acc[MR][4];
#pragma GCC unroll 5
    for (int r = 0; r < R; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = vdupq_n_s32(0);
    const uint8_t *a = t->a;
    const int8_t *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t lda = t->lda, pf_step = t->pf ? t->pf_step : 4 * NN_NR;
    const int32_t kg = t->kg;
    int32_t g = 0;
#define STEP(q)                                                                    \
    do {                                                                           \
        const int8x16_t b0 = vld1q_s8(b + (q) * 4 * NN_NR), b1 = vld1q_s8(b + (q) * 4 * NN_NR + 16); \
        const int8x16_t b2 = vld1q_s8(b + (q) * 4 * NN_NR + 32), b3 = vld1q_s8(b + (q) * 4 * NN_NR + 48); \
        _Pragma("GCC unroll 5") for (int r = 0; r < R; r++) {                      \
            acc[r][0] = vdotq_laneq_s32(acc[r][0], b0, av[r], q);                  \
            acc[r][1] = vdotq_laneq_s32(acc[r][1], b1, av[r], q);                  \
            acc[r][2] = vdotq_laneq_s32(acc[r][2], b2, av[r], q);                  \
            acc[r][3] = vdotq_laneq_s32(acc[r][3], b3, av[r], q);                  \
        }                                                                          \
    } while (0)
    /* the hot loop: 4 groups of 4 k per iteration */
    for (; g + 4 <= kg; g += 4, b += 16 * NN_NR, a += 16) {
        for (int q = 0; q < 4; q++) {
            __builtin_prefetch(pf);
            pf += pf_step;
        }
        int8x16_t av[MR];
#pragma GCC unroll 5
        for (int r = 0; r < R; r++) av[r] = vreinterpretq_s8_u8(vld1q_u8(a + r * lda));
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
    }
#undef STEP
    for (; g < kg; g++, b += 4 * NN_NR, a += 4) { /* the last kg % 4 groups */
        int8x16_t bv[4];
        for (int i = 0; i < 4; i++) bv[i] = vld1q_s8(b + 16 * i);
#pragma GCC unroll 5
        for (int r = 0; r < R; r++) {
            const int8x16_t ar = vreinterpretq_s8_s32(vdupq_n_s32(nn_i8_group(a + r * lda)));
            for (int i = 0; i < 4; i++) acc[r][i] = vdotq_s32(acc[r][i], bv[i], ar);
        }
    }

    const int nr = t->nr;
    float32x4_t ws[4], z[4];
    for (int i = 0; i < 4; i++) {
        ws[i] = ld4(t->w_scale + 4 * i, nr - 4 * i);
        z[i] = t->bias ? ld4(t->bias + 4 * i, nr - 4 * i) : vdupq_n_f32(0.0f);
    }
#pragma GCC unroll 5
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
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5)

static void (*const tiles[MR + 1])(const nn_tile_i8 *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5,
};

void nn_tile_i8_neondot(const nn_tile_i8 *t)
{
    tiles[t->mr](t);
}
