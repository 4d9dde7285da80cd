/*
 * vmath_neon.h — vector activations and partial-row loads and stores for the aarch64 NEON
 * kernels (gemm_neon.c, i8_neon.c, i8_neondot.c): expf and quick_gelu on 4 floats within a
 * few ulp of the scalar spec in nn_ref.c (gelu per element through it), and vectors of which
 * only the first n lanes are valid (NEON has no masked loads: a partial vector goes through a
 * small buffer, so nothing past n is read or written). Included by *_neon*.c files only.
 */
#ifndef AE_NN_VMATH_NEON_H
#define AE_NN_VMATH_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "nn/nn_internal.h"

/* expf for a vector: the Cephes polynomial of vmath_avx2.h, 2^n built in the exponent bits;
 * within 2 ulp. NaN stays NaN (NEON's fmax/fmin propagate it, as expf does). */
static inline float32x4_t exp4(float32x4_t x)
{
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.3f));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

static inline float32x4_t act4(nn_act act, float32x4_t x)
{
    if (act == NN_ACT_QUICK_GELU) {
        /* x / (1 + e): AArch64 has a vector divide, exact like the scalar one */
        float32x4_t e = exp4(vmulq_f32(x, vdupq_n_f32(-1.702f)));
        return vdivq_f32(x, vaddq_f32(e, vdupq_n_f32(1.0f)));
    }
    if (act == NN_ACT_GELU) {
        float v[4];
        vst1q_f32(v, x);
        for (int i = 0; i < 4; i++) v[i] = nn_gelu(v[i]);
        return vld1q_f32(v);
    }
    return x;
}

/* Lanes p[0..3] of which the first n are valid (n may be <= 0 or over 4), the rest zero; a
 * partial vector goes through a buffer, so nothing past n is read. */
static inline float32x4_t ld4(const float *p, int n)
{
    if (n >= 4) return vld1q_f32(p);
    float buf[4] = {0};
    if (n > 0) memcpy(buf, p, (size_t)n * sizeof(float));
    return vld1q_f32(buf);
}

/* Stores the first n lanes of v (all 4 if n >= 4, none if n <= 0). */
static inline void st4(float *p, int n, float32x4_t v)
{
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    float buf[4];
    vst1q_f32(buf, v);
    if (n > 0) memcpy(p, buf, (size_t)n * sizeof(float));
}

#endif
