/*
 * gemm_neon.c — the float32 kernels of the AArch64 sets ("neon", "neondot"): a 5x16 GEMM
 * micro-kernel over half of a 32-column weight panel (the GEMM driver hands it 16-column
 * slices; a 32-column call runs both halves) with a fused epilogue, softmax and LayerNorm
 * rows. Plain ARMv8-A Advanced SIMD, which every AArch64 CPU has.
 *
 * The tile reads four k of each activation row as one vector and multiplies a panel row by
 * one lane of it (fmla by element): per four k, 5 loads of A and 16 of B feed 80 FMAs. Its
 * 32 registers hold 20 accumulators (5 rows x 4 vectors of 4 columns), the 5 A vectors and
 * the 4 B vectors of one panel row; a sixth row would need 34 and spill, so mr is 5 (CLIP's
 * 50-token rows split into tiles of 5 exactly). Partial panels go through ld4/st4
 * (vmath_neon.h); quick_gelu uses a vector expf, gelu calls erff per element.
 */
#include <arm_neon.h>
#include <math.h>

#include "nn/nn_internal.h"
#include "nn/vmath_neon.h"

#define MR 5

/* The hot loop: R rows x 16 columns starting at column j0 of the panel. */
static inline __attribute__((always_inline)) void half_rows(const nn_tile *t, int j0, const int R)
{
    float32x4_t c0[MR], c1[MR], c2[MR], c3[MR];
    const int nv = t->nr - j0; /* valid columns from j0 (> 0; over 16 means all 16) */
    const ptrdiff_t lda = t->lda, ldc = t->ldc, ldr = t->ldr;
    float *c = t->c + j0;
    const float *res = t->res ? t->res + j0 : NULL;

    if (t->first) {
        float32x4_t z0 = vdupq_n_f32(0.0f), z1 = z0, z2 = z0, z3 = z0;
        if (t->bias) {
            z0 = vld1q_f32(t->bias + j0);
            z1 = vld1q_f32(t->bias + j0 + 4);
            z2 = vld1q_f32(t->bias + j0 + 8);
            z3 = vld1q_f32(t->bias + j0 + 12);
        }
#pragma GCC unroll 5
        for (int r = 0; r < R; r++) {
            c0[r] = z0, c1[r] = z1, c2[r] = z2, c3[r] = z3;
            if (t->res_init) {
                const float *p = res + r * ldr;
                c0[r] = vaddq_f32(c0[r], ld4(p, nv));
                c1[r] = vaddq_f32(c1[r], ld4(p + 4, nv - 4));
                c2[r] = vaddq_f32(c2[r], ld4(p + 8, nv - 8));
                c3[r] = vaddq_f32(c3[r], ld4(p + 12, nv - 12));
            }
        }
    } else {
#pragma GCC unroll 5
        for (int r = 0; r < R; r++) {
            const float *p = c + r * ldc;
            c0[r] = ld4(p, nv);
            c1[r] = ld4(p + 4, nv - 4);
            c2[r] = ld4(p + 8, nv - 8);
            c3[r] = ld4(p + 12, nv - 12);
        }
    }

    const float *a = t->a, *b = t->b + j0;
    /* without a stream to prefetch, "prefetch" the slice being read (no branch in the loop) */
    const float *pf = t->pf ? t->pf : b;
    const ptrdiff_t pf_step = t->pf ? t->pf_step : NN_NR;
    const int32_t kc = t->kc;
    int32_t k = 0;
    /* one k: panel row q of the four, times lane q of each row's A vector */
#define STEP(q)                                                                    \
    do {                                                                           \
        const float *bq = b + (q) * NN_NR;                                         \
        const float32x4_t b0 = vld1q_f32(bq), b1 = vld1q_f32(bq + 4);              \
        const float32x4_t b2 = vld1q_f32(bq + 8), b3 = vld1q_f32(bq + 12);         \
        _Pragma("GCC unroll 5") for (int r = 0; r < R; r++) {                      \
            c0[r] = vfmaq_laneq_f32(c0[r], b0, av[r], q);                          \
            c1[r] = vfmaq_laneq_f32(c1[r], b1, av[r], q);                          \
            c2[r] = vfmaq_laneq_f32(c2[r], b2, av[r], q);                          \
            c3[r] = vfmaq_laneq_f32(c3[r], b3, av[r], q);                          \
        }                                                                          \
    } while (0)
    for (; k + 4 <= kc; k += 4, b += 4 * NN_NR, a += 4) {
        __builtin_prefetch(pf);
        __builtin_prefetch(pf + 16);
        __builtin_prefetch(pf + pf_step);
        __builtin_prefetch(pf + pf_step + 16);
        __builtin_prefetch(pf + 2 * pf_step);
        __builtin_prefetch(pf + 2 * pf_step + 16);
        __builtin_prefetch(pf + 3 * pf_step);
        __builtin_prefetch(pf + 3 * pf_step + 16);
        pf += 4 * pf_step;
        float32x4_t av[MR];
#pragma GCC unroll 5
        for (int r = 0; r < R; r++) av[r] = vld1q_f32(a + r * lda);
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
    }
#undef STEP
    for (; k < kc; k++, b += NN_NR, a++) { /* the last kc % 4 */
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        const float32x4_t b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
#pragma GCC unroll 5
        for (int r = 0; r < R; r++) {
            const float ar = a[r * lda];
            c0[r] = vfmaq_n_f32(c0[r], b0, ar);
            c1[r] = vfmaq_n_f32(c1[r], b1, ar);
            c2[r] = vfmaq_n_f32(c2[r], b2, ar);
            c3[r] = vfmaq_n_f32(c3[r], b3, ar);
        }
    }

#pragma GCC unroll 5
    for (int r = 0; r < R; r++) {
        if (t->last) {
            c0[r] = act4(t->act, c0[r]);
            c1[r] = act4(t->act, c1[r]);
            c2[r] = act4(t->act, c2[r]);
            c3[r] = act4(t->act, c3[r]);
            if (t->res_final) {
                const float *p = res + r * ldr;
                c0[r] = vaddq_f32(c0[r], ld4(p, nv));
                c1[r] = vaddq_f32(c1[r], ld4(p + 4, nv - 4));
                c2[r] = vaddq_f32(c2[r], ld4(p + 8, nv - 8));
                c3[r] = vaddq_f32(c3[r], ld4(p + 12, nv - 12));
            }
        }
        float *p = c + r * ldc;
        st4(p, nv, c0[r]);
        st4(p + 4, nv - 4, c1[r]);
        st4(p + 8, nv - 8, c2[r]);
        st4(p + 12, nv - 12, c3[r]);
    }
}

#define TILE_FN(n)                                       \
    static void tile_##n(const nn_tile *t)               \
    {                                                    \
        half_rows(t, 0, n);                              \
        if (t->nr > 16) half_rows(t, 16, n);             \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5)

static void (*const tiles[MR + 1])(const nn_tile *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5,
};

void nn_tile_f32_neon(const nn_tile *t)
{
    tiles[t->mr](t);
}

/* As nn_softmax_scalar: scale and max, then exp and the sum (4 partial sums here), then the
 * normalisation. The last n % 4 go through a buffer with the vector expf too. */
void nn_softmax_neon(float *s, int32_t n, float scale)
{
    float mx = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        s[j] *= scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    const float32x4_t vmax = vdupq_n_f32(mx);
    float32x4_t sum = vdupq_n_f32(0.0f);
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(s + j), vmax));
        vst1q_f32(s + j, e);
        sum = vaddq_f32(sum, e);
    }
    float total = vaddvq_f32(sum);
    if (j < n) {
        float buf[4] = {0};
        memcpy(buf, s + j, (size_t)(n - j) * sizeof(float));
        vst1q_f32(buf, exp4(vsubq_f32(vld1q_f32(buf), vmax)));
        for (int32_t i = 0; i < n - j; i++) {
            s[j + i] = buf[i];
            total += buf[i];
        }
    }
    float inv = 1.0f / total;
    for (j = 0; j < n; j++) s[j] *= inv;
}

/* As nn_layernorm_rows_scalar: the 8 partial sums are two vectors, reduced in the same order
 * ((0+4) + (1+5)) + ((2+6) + (3+7)), then the tail; the same for the variance of x - mean. */
void nn_layernorm_rows_neon(const float *x, int32_t r0, int32_t r1, int32_t d, const float *w,
                            const float *b, float eps, float *y)
{
    for (int32_t r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
        int32_t i = 0;
        for (; i + 8 <= d; i += 8) {
            s0 = vaddq_f32(s0, vld1q_f32(xr + i));
            s1 = vaddq_f32(s1, vld1q_f32(xr + i + 4));
        }
        float32x4_t h = vaddq_f32(s0, s1);
        float s = (vgetq_lane_f32(h, 0) + vgetq_lane_f32(h, 1)) + (vgetq_lane_f32(h, 2) + vgetq_lane_f32(h, 3));
        for (; i < d; i++) s += xr[i];
        const float mean = s / (float)d;
        const float32x4_t vm = vdupq_n_f32(mean);
        float32x4_t v0 = vdupq_n_f32(0.0f), v1 = v0;
        for (i = 0; i + 8 <= d; i += 8) {
            float32x4_t t0 = vsubq_f32(vld1q_f32(xr + i), vm), t1 = vsubq_f32(vld1q_f32(xr + i + 4), vm);
            v0 = vfmaq_f32(v0, t0, t0);
            v1 = vfmaq_f32(v1, t1, t1);
        }
        h = vaddq_f32(v0, v1);
        float v = (vgetq_lane_f32(h, 0) + vgetq_lane_f32(h, 1)) + (vgetq_lane_f32(h, 2) + vgetq_lane_f32(h, 3));
        for (; i < d; i++) v += (xr[i] - mean) * (xr[i] - mean);
        const float rstd = 1.0f / sqrtf(v / (float)d + eps);
        const float32x4_t vr = vdupq_n_f32(rstd);
        for (i = 0; i + 4 <= d; i += 4) {
            float32x4_t t0 = vmulq_f32(vsubq_f32(vld1q_f32(xr + i), vm), vr);
            vst1q_f32(yr + i, vfmaq_f32(vld1q_f32(b + i), t0, vld1q_f32(w + i)));
        }
        for (; i < d; i++) yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
    }
}
