/*
 * nn_ref.c — the reference kernels: the plain-C spec every optimised kernel is tested against.
 *
 * nn_gemm_ref is the textbook triple loop (one float accumulator per output, k in order, bias
 * added last). The activations here are the scalar definitions (libm expf/erff) that the
 * vectorised epilogues are tested against. The rest is the "scalar" kernel set, portable C
 * following the contracts of nn_internal.h: the tile micro-kernel, softmax, LayerNorm rows.
 */
#include <math.h>

#include "nn/nn_internal.h"

void nn_gemm_ref(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b,
                 int32_t ldb, const float *bias, float *c, int32_t ldc)
{
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            const float *ai = a + (size_t)i * lda, *bj = b + (size_t)j * ldb;
            float s = 0.0f;
            for (int32_t p = 0; p < k; p++) s += ai[p] * bj[p];
            c[(size_t)i * ldc + j] = bias ? s + bias[j] : s;
        }
}

float nn_quick_gelu(float x)
{
    return x / (1.0f + expf(-1.702f * x));
}

float nn_gelu(float x)
{
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

void nn_epilogue_row(nn_act act, float *acc, const float *res, int32_t nr)
{
    if (act != NN_ACT_NONE)
        for (int32_t j = 0; j < nr; j++) acc[j] = nn_act_apply(act, acc[j]);
    if (res)
        for (int32_t j = 0; j < nr; j++) acc[j] += res[j];
}

/* The hot loop of the scalar set: one row of NN_NR accumulators at a time. The whole row is
 * finished (epilogue included) before it is stored, so res may alias c. */
void nn_tile_generic(const nn_tile *t)
{
    float acc[NN_NR];
    for (int32_t r = 0; r < t->mr; r++) {
        const float *a = t->a + r * t->lda;
        float *c = t->c + r * t->ldc;
        for (int32_t j = 0; j < NN_NR; j++) acc[j] = 0.0f;
        if (t->first) {
            if (t->bias)
                for (int32_t j = 0; j < NN_NR; j++) acc[j] = t->bias[j];
            if (t->res_init)
                for (int32_t j = 0; j < t->nr; j++) acc[j] += t->res[r * t->ldr + j];
        } else {
            for (int32_t j = 0; j < t->nr; j++) acc[j] = c[j];
        }
        const float *b = t->b;
        for (int32_t p = 0; p < t->kc; p++, b += NN_NR) {
            float ap = a[p];
            for (int32_t j = 0; j < NN_NR; j++) acc[j] += ap * b[j];
        }
        if (t->last) nn_epilogue_row(t->act, acc, t->res_final ? t->res + r * t->ldr : NULL, t->nr);
        for (int32_t j = 0; j < t->nr; j++) c[j] = acc[j];
    }
}

void nn_softmax_scalar(float *s, int32_t n, float scale)
{
    float mx = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        s[j] *= scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    float sum = 0.0f;
    for (int32_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float inv = 1.0f / sum;
    for (int32_t j = 0; j < n; j++) s[j] *= inv;
}

/* Two passes per row (mean, then the variance of x - mean) with 8 partial float sums. */
void nn_layernorm_rows_scalar(const float *x, int32_t r0, int32_t r1, int32_t d, const float *w,
                              const float *b, float eps, float *y)
{
    for (int32_t r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        float s8[8] = {0};
        int32_t i = 0;
        for (; i + 8 <= d; i += 8)
            for (int j = 0; j < 8; j++) s8[j] += xr[i + j];
        float s = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
        for (; i < d; i++) s += xr[i];
        float mean = s / (float)d;
        float v8[8] = {0};
        for (i = 0; i + 8 <= d; i += 8)
            for (int j = 0; j < 8; j++) {
                float t = xr[i + j] - mean;
                v8[j] += t * t;
            }
        float v = ((v8[0] + v8[4]) + (v8[1] + v8[5])) + ((v8[2] + v8[6]) + (v8[3] + v8[7]));
        for (; i < d; i++) v += (xr[i] - mean) * (xr[i] - mean);
        float rstd = 1.0f / sqrtf(v / (float)d + eps);
        for (i = 0; i < d; i++) yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
    }
}

