/*
 * linear_bf16.c — bfloat16 linear layers (NN_BF16): weights rounded to bf16 at init,
 * activations at each call, float32 sums.
 *
 * bf16 keeps float32's exponent and 8 bits of mantissa, so no scales and no outliers: a value
 * is rounded to nearest even (nn_f32_to_bf16). Pairs of bf16 (k even, k odd) form the 32-bit
 * units of the float32 panel layout (nn_internal.h), so the float32 GEMM driver of linear.c
 * runs them as they are, with a tile that multiplies pairs (vdpbf16ps on AVX512_BF16, the
 * plain-C reference elsewhere, for tests). A call rounds x into rows of pairs (K rounded up to
 * even, the pad zero) in the pool's shared buffer, then runs the driver.
 */
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "nn/nn_internal.h"

static inline int32_t pairs(int32_t k) { return (k + 1) / 2; }

int nn_linear_init_bf16(nn_linear *l, int32_t n_out, int32_t n_in, const float *w, const float *bias)
{
    memset(l, 0, sizeof *l);
    if (n_out <= 0 || n_in <= 0 || !w)
        return ae_fail(AE_ERR_INVALID, "linear layer: bad shape [%d, %d]", (int)n_out, (int)n_in);
    const size_t n_panels = ((size_t)n_out + NN_NR - 1) / NN_NR, kp = (size_t)pairs(n_in);
    if (n_panels * kp > SIZE_MAX / 4 / NN_NR / 2)
        return ae_fail(AE_ERR_TOO_LARGE, "linear layer: [%d, %d] too large", (int)n_out, (int)n_in);
    const size_t w_bytes = n_panels * kp * NN_NR * 4, n_pad = n_panels * NN_NR;
    uint16_t *pw = ae_big_alloc(w_bytes, AE_BIG_WEIGHTS);
    float *pb = bias ? nn_alloc64(n_pad * sizeof(float)) : NULL;
    if (!pw || (bias && !pb)) {
        ae_big_free(pw, w_bytes, AE_BIG_WEIGHTS);
        free(pb);
        return ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of memory", (int)n_out, (int)n_in);
    }
    memset(pw, 0, w_bytes);
    /* pw[((p * kp + g) * NR + j) * 2 + h] = bf16(W[p*NR + j][2g + h]) */
    for (int32_t n = 0; n < n_out; n++) {
        const float *row = w + (size_t)n * n_in;
        uint16_t *dst = pw + (size_t)(n / NN_NR) * kp * NN_NR * 2 + (size_t)(n % NN_NR) * 2;
        for (int32_t k = 0; k < n_in; k++)
            dst[(size_t)(k / 2) * NN_NR * 2 + k % 2] = nn_f32_to_bf16(row[k]);
    }
    if (pb) {
        memset(pb, 0, n_pad * sizeof(float));
        memcpy(pb, bias, (size_t)n_out * sizeof(float));
    }
    l->n_out = n_out;
    l->n_in = n_in;
    l->prec = NN_BF16;
    l->w = pw;
    l->w_bytes = w_bytes;
    l->bias = pb;
    return AE_OK;
}

/* The nn_tile contract on pairs, in float32: per unit, acc += a.hi * b.hi, then acc += a.lo *
 * b.lo (each product of two bf16 is exact in float32; the order of vdpbf16ps). */
void nn_tile_bf16_ref(const nn_tile *t)
{
    float acc[NN_NR];
    for (int32_t r = 0; r < t->mr; r++) {
        const uint16_t *a = (const uint16_t *)(t->a + r * t->lda);
        float *c = t->c + r * t->ldc;
        for (int32_t j = 0; j < NN_NR; j++) acc[j] = 0.0f;
        if (t->first) {
            if (t->bias) /* (nr columns: a 16-column slice of a panel is only half a panel) */
                for (int32_t j = 0; j < t->nr; j++) acc[j] = t->bias[j];
            if (t->res_init)
                for (int32_t j = 0; j < t->nr; j++) acc[j] += t->res[r * t->ldr + j];
        } else {
            for (int32_t j = 0; j < t->nr; j++) acc[j] = c[j];
        }
        const uint16_t *b = (const uint16_t *)t->b;
        for (int32_t p = 0; p < t->kc; p++, b += 2 * NN_NR) {
            float a0 = nn_bf16_to_f32(a[2 * p]), a1 = nn_bf16_to_f32(a[2 * p + 1]);
            for (int32_t j = 0; j < t->nr; j++) {
                acc[j] += a1 * nn_bf16_to_f32(b[2 * j + 1]);
                acc[j] += a0 * nn_bf16_to_f32(b[2 * j]);
            }
        }
        if (t->last) nn_epilogue_row(t->act, acc, t->res_final ? t->res + r * t->ldr : NULL, t->nr);
        for (int32_t j = 0; j < t->nr; j++) c[j] = acc[j];
    }
}

typedef struct cvt_task {
    const float *x;
    uint16_t *xb;
    int32_t m, k, kp;
} cvt_task;

static void cvt_run(void *arg, int ith, int nth)
{
    cvt_task *c = arg;
    int32_t r0, r1;
    nn_split(c->m, nth, ith, &r0, &r1);
    for (int32_t r = r0; r < r1; r++) {
        const float *x = c->x + (size_t)r * c->k;
        uint16_t *d = c->xb + (size_t)r * c->kp * 2;
        for (int32_t k = 0; k < c->k; k++) d[k] = nn_f32_to_bf16(x[k]);
        if (c->k & 1) d[c->k] = 0;
    }
}

void nn_linear_forward_bf16(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                            const float *residual, nn_pool *pool)
{
    if (m <= 0) return;
    cvt_task c = {x, NULL, m, l->n_in, pairs(l->n_in)};
    size_t bytes = (size_t)m * c.kp * 4;
    void *own = NULL;
    c.xb = pool ? nn_pool_shared(pool, bytes) : (own = nn_alloc64(bytes));
    if (!c.xb) return; /* out of memory: y is left as it was */
    nn_pool_run(pool, cvt_run, &c);
    nn_gemm_run(l->w, l->bias, l->n_out, c.kp, nn_bf16_kernel(nn_kernels_get()),
                (const float *)c.xb, m, y, act, residual, pool);
    free(own);
}
