/*
 * test_quant.c — the reduced-precision linear layers (int8, bf16) for every kernel set the CPU
 * supports, with 1, 2 and 3 threads, on odd sizes:
 *   - the activation quantizer against its plain-C reference, bit for bit;
 *   - int8 tiles against the plain-C reference tile, bit for bit (the int32 sums and the
 *     float epilogue without activation), signed and unsigned activations alike;
 *   - int8 layers against this file's own double-precision model of the quantization (weights
 *     per output channel, activations per row, each row's outliers in float32): the layer must
 *     compute exactly that model, to float rounding, and each row's result must be the same
 *     bits alone as among the call's other rows (a score never depends on the batch);
 *   - int8 layers against float32: output rows at cosine >= 0.9999 on random data, with a
 *     few input columns 100x the rest (CLIP's outliers), with a heavy weight tail and with
 *     weak weight columns reading massive inputs (the stress model's pathologies), where plain
 *     int8 would be much worse (checked: the model without the exact parts is >= 10x
 *     further from cosine 1);
 *   - bf16 tiles against their reference and bf16 layers against a double model on the
 *     bf16-rounded operands, where the CPU has AVX512_BF16 (the reference tile everywhere).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "aesthete.h"
#include "nn/nn_internal.h"
#include "support/nn_test.h"
#include "test.h"

static const int32_t sizes[] = {1, 2, 3, 5, 7, 13, 31, 33, 47, 50, 64, 65, 100, 129, 257, 769};
#define N_SIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* ---- int8 tiles ------------------------------------------------------------------------------ */

static void test_i8_tiles(const char *set)
{
    const nn_kernels *k = nn_kernels_get();
    const int32_t kgs[] = {1, 3, 17, 192};
    int n_cmp = 0, bad = 0;
    for (size_t g = 0; g < sizeof kgs / sizeof *kgs; g++) {
        const int32_t kg = kgs[g], K = 4 * kg, lda = K + 64;
        uint8_t *a_s = malloc((size_t)NN_MR_MAX * lda), *a_u = malloc((size_t)NN_MR_MAX * lda);
        int8_t *b = malloc((size_t)kg * NN_NR * 4);
        for (int32_t i = 0; i < NN_MR_MAX * lda; i++) {
            int32_t q = (int32_t)lrintf(nn_test_frand() * 127.0f);
            a_s[i] = (uint8_t)(int8_t)q;
            a_u[i] = (uint8_t)(q + 128);
        }
        /* the extremes too: +-127 everywhere in the first row (the sums' worst case) */
        for (int32_t i = 0; i < K; i++) {
            a_s[i] = (uint8_t)(int8_t)(i & 1 ? -127 : 127);
            a_u[i] = (uint8_t)((i & 1 ? -127 : 127) + 128);
        }
        int32_t corr[NN_NR] = {0};
        for (int32_t i = 0; i < kg * NN_NR * 4; i++) b[i] = (int8_t)lrintf(nn_test_frand() * 127.0f);
        for (int32_t j = 0; j < NN_NR; j++) {
            for (int32_t gg = 0; gg < kg; gg++)
                for (int q = 0; q < 4; q++) corr[j] += 128 * b[((size_t)gg * NN_NR + j) * 4 + q];
        }
        float as[NN_MR_MAX], ws[NN_NR], bias[NN_NR], ones_a[NN_MR_MAX], ones_w[NN_NR];
        for (int i = 0; i < NN_MR_MAX; i++) as[i] = 0.01f + 0.001f * i, ones_a[i] = 1.0f;
        for (int j = 0; j < NN_NR; j++) ws[j] = 0.02f - 0.0003f * j, bias[j] = nn_test_frand(), ones_w[j] = 1.0f;
        float add[NN_MR_MAX * NN_NR], res[NN_MR_MAX * NN_NR];
        for (int i = 0; i < NN_MR_MAX * NN_NR; i++) add[i] = nn_test_frand(), res[i] = nn_test_frand();
        const int32_t nrs[] = {1, 5, 16, 17, 31, 32};
        for (int32_t mr = 1; mr <= k->i8_mr; mr++)
            for (size_t ni = 0; ni < sizeof nrs / sizeof *nrs; ni++)
                for (int variant = 0; variant < 3; variant++) {
                    nn_tile_i8 t;
                    memset(&t, 0, sizeof t);
                    t.mr = mr;
                    t.nr = nrs[ni];
                    t.kg = kg;
                    t.lda = lda;
                    t.b = b;
                    t.ldadd = t.ldr = t.ldc = NN_NR;
                    /* variant 0: raw sums (scales 1, nothing added); 1: scales + bias + add +
                     * res; 2: as 1 with quick_gelu (compared to a tolerance) */
                    t.a_scale = variant ? as : ones_a;
                    t.w_scale = variant ? ws : ones_w;
                    t.bias = variant ? bias : NULL;
                    t.add = variant ? add : NULL;
                    t.res = variant ? res : NULL;
                    t.act = variant == 2 ? NN_ACT_QUICK_GELU : NN_ACT_NONE;
                    float want[NN_MR_MAX * NN_NR], want_u[NN_MR_MAX * NN_NR], got[NN_MR_MAX * NN_NR];
                    memset(want, 0, sizeof want);
                    memset(want_u, 0, sizeof want_u);
                    for (int i = 0; i < NN_MR_MAX * NN_NR; i++) got[i] = -12345.0f;
                    t.a = a_s;
                    t.corr = NULL;
                    t.c = want;
                    nn_tile_i8_ref(&t);
                    t.a = a_u;
                    t.corr = corr;
                    t.c = want_u;
                    nn_tile_i8_ref(&t);
                    t.a = k->i8_unsigned ? a_u : a_s;
                    t.corr = k->i8_unsigned ? corr : NULL;
                    t.c = got;
                    k->tile_i8(&t);
                    for (int32_t r = 0; r < mr; r++)
                        for (int32_t j = 0; j < NN_NR; j++) {
                            const float w = want[r * NN_NR + j], gv = got[r * NN_NR + j];
                            n_cmp++;
                            if (j >= t.nr) { /* columns past nr are never written */
                                bad += gv != -12345.0f;
                                continue;
                            }
                            bad += memcmp(&w, &want_u[r * NN_NR + j], sizeof w) != 0;
                            if (variant < 2) bad += memcmp(&w, &gv, sizeof w) != 0;
                            else bad += !(fabsf(w - gv) <= 2e-6f * (fabsf(w) + 1.0f));
                        }
                }
        free(a_s);
        free(a_u);
        free(b);
    }
    CHECK_MSG(bad == 0, "%s: int8 tile: %d of %d outputs differ from the reference", set, bad, n_cmp);
    printf("int8 tile  %-10s mr 1..%d: %d outputs, %d differ\n", set, (int)k->i8_mr, n_cmp, bad);
}

/* ---- int8 layers ---------------------------------------------------------------------------- */

/* round half to even, clamped to +-127, NaN -> 0: the library's rule */
static int32_t q8_model(double v)
{
    if (v != v) return 0;
    v = v > 127 ? 127 : v < -127 ? -127 : v;
    return (int32_t)nearbyint(v);
}

typedef struct model_out {
    double *y;   /* [m, n] the quantized layer as the library must compute it */
    double *mag; /* [m, n] the magnitude of its terms (for relative errors) */
    int32_t n_outliers;
} model_out;

/* The int8 layer in double precision, as linear_i8.c describes it:
 *   weights: per output channel; a row's weights beyond 6x its RMS within 4 RMS are exact
 *   (sparse) unless more than 1 in 16 are; the scale is the absmax of the rest. Input columns
 *   with 15/16 of their quantized weights in [-2, 2] (n >= 64, the median column at most a
 *   quarter) are exact (at most 16, the weakest);
 *   activations, each row on its own: the exact columns, and among the others the row's values
 *   beyond 6x the RMS of its values within 4 RMS (the 32 largest at most), are computed in
 *   float32 (exact columns with the weights, the others with the dequantized weights); the
 *   rest are quantized per row.
 * with_exact 0 quantizes every weight and column and finds no outliers (plain int8). */
static model_out int8_model(const float *x, const float *w, const float *bias, const float *res,
                            int32_t m, int32_t n, int32_t k, nn_act act, int with_exact)
{
    model_out o = {calloc((size_t)m * n, sizeof(double)), calloc((size_t)m * n, sizeof(double)), 0};
    float *sw = malloc((size_t)n * sizeof *sw);
    int32_t *qw = malloc((size_t)n * k * sizeof *qw), *qx = malloc((size_t)m * k * sizeof *qx);
    uint8_t *sparse = calloc((size_t)n * k, 1); /* 1: the weight is exact */
    float *sx = malloc((size_t)m * sizeof *sx);
    uint8_t *exact_col = calloc((size_t)k, 1);
    int32_t *colsmall = calloc((size_t)k, sizeof *colsmall);
    for (int32_t j = 0; j < n; j++) {
        const float *row = w + (size_t)j * k;
        double s2 = 0, t2 = 0;
        int nt = 0, n_tail = 0;
        for (int32_t p = 0; p < k; p++) s2 += (double)row[p] * row[p];
        double rms = sqrt(s2 / k);
        for (int32_t p = 0; p < k; p++)
            if (fabs(row[p]) <= 4 * rms) t2 += (double)row[p] * row[p], nt++;
        float thr = nt ? (float)(6.0 * sqrt(t2 / nt)) : INFINITY;
        for (int32_t p = 0; p < k; p++) n_tail += fabsf(row[p]) > thr;
        int sp = with_exact && n_tail > 0 && n_tail <= k / 16;
        float amax = 0;
        for (int32_t p = 0; p < k; p++) {
            sparse[(size_t)j * k + p] = sp && fabsf(row[p]) > thr;
            if (!sparse[(size_t)j * k + p]) amax = fabsf(row[p]) > amax ? fabsf(row[p]) : amax;
        }
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        sw[j] = amax / 127.0f;
        for (int32_t p = 0; p < k; p++) {
            int32_t q = sparse[(size_t)j * k + p] ? 0 : q8_model(row[p] * inv);
            qw[(size_t)j * k + p] = q;
            colsmall[p] += q >= -2 && q <= 2;
        }
    }
    if (with_exact && n >= 64) {
        int32_t *sorted = malloc((size_t)k * sizeof *sorted);
        memcpy(sorted, colsmall, (size_t)k * sizeof *sorted);
        for (int32_t a = 1; a < k; a++) /* insertion sort: the median */
            for (int32_t b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
                int32_t t = sorted[b];
                sorted[b] = sorted[b - 1];
                sorted[b - 1] = t;
            }
        int32_t med = sorted[k / 2];
        free(sorted);
        if (med <= n / 4)
            for (int c = 0; c < 16; c++) { /* the weakest, one at a time */
                int32_t best = -1;
                for (int32_t p = 0; p < k; p++)
                    if (!exact_col[p] && colsmall[p] >= n - n / 16 && (best < 0 || colsmall[p] > colsmall[best])) best = p;
                if (best < 0) break;
                exact_col[best] = 1;
            }
    }
    uint8_t *out_row = calloc((size_t)k, 1), *any_out = calloc((size_t)k, 1); /* this row's, any row's */
    double *xo = calloc((size_t)m * k, sizeof *xo); /* x where a row's outlier is, else 0 */
    for (int32_t i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * k;
        memset(out_row, 0, (size_t)k);
        if (with_exact) {
            double s2 = 0, t2 = 0;
            int32_t n_rest = 0, nt = 0;
            for (int32_t p = 0; p < k; p++)
                if (!exact_col[p]) s2 += (double)xr[p] * xr[p], n_rest++;
            double rms = n_rest ? sqrt(s2 / n_rest) : 0;
            for (int32_t p = 0; p < k; p++)
                if (!exact_col[p] && fabs(xr[p]) <= 4 * rms) t2 += (double)xr[p] * xr[p], nt++;
            double thr = 6.0 * (nt ? sqrt(t2 / nt) : 0);
            for (int c = 0; c < 32; c++) { /* the largest beyond the threshold, one at a time */
                int32_t best = -1;
                for (int32_t p = 0; p < k; p++)
                    if (!exact_col[p] && !out_row[p] && fabs(xr[p]) > thr &&
                        (best < 0 || fabs(xr[p]) > fabs(xr[best])))
                        best = p;
                if (best < 0) break;
                out_row[best] = 1;
                o.n_outliers += !any_out[best];
                any_out[best] = 1;
            }
        }
        float amax = 0;
        for (int32_t p = 0; p < k; p++)
            if (!exact_col[p] && !out_row[p]) amax = fabsf(xr[p]) > amax ? fabsf(xr[p]) : amax;
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        sx[i] = inv > 0 ? amax / 127.0f : 0.0f;
        for (int32_t p = 0; p < k; p++) {
            int ex = exact_col[p] || out_row[p];
            qx[(size_t)i * k + p] = ex ? 0 : q8_model(xr[p] * inv);
            xo[(size_t)i * k + p] = out_row[p] ? xr[p] : 0;
        }
    }
    free(out_row);
    free(any_out);
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            double acc = 0, mag = 0, fl = 0;
            for (int32_t p = 0; p < k; p++) {
                const size_t wi = (size_t)j * k + p;
                acc += (double)qx[(size_t)i * k + p] * qw[wi];
                double t = 0;
                if (sparse[wi] || exact_col[p]) t = (double)x[(size_t)i * k + p] * w[wi];
                else if (xo[(size_t)i * k + p] != 0) t = xo[(size_t)i * k + p] * ((double)qw[wi] * sw[j]);
                fl += t;
                mag += fabs(t);
            }
            double s = acc * ((double)sx[i] * sw[j]) + fl + (bias ? bias[j] : 0);
            for (int32_t p = 0; p < k; p++) mag += fabs((double)qx[(size_t)i * k + p] * qw[(size_t)j * k + p] * ((double)sx[i] * sw[j]));
            mag += bias ? fabs(bias[j]) : 0;
            double yv = nn_test_act(act, s);
            if (res) {
                yv += res[(size_t)i * n + j];
                mag += fabs(res[(size_t)i * n + j]);
            }
            o.y[(size_t)i * n + j] = yv;
            o.mag[(size_t)i * n + j] = mag;
        }
    free(sw);
    free(qw);
    free(qx);
    free(sx);
    free(xo);
    free(sparse);
    free(exact_col);
    free(colsmall);
    return o;
}

/* the float32 product in double, for fidelity */
static double *fp_model(const float *x, const float *w, const float *bias, const float *res,
                        int32_t m, int32_t n, int32_t k, nn_act act)
{
    double *y = malloc((size_t)m * n * sizeof *y);
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0;
            for (int32_t p = 0; p < k; p++) s += (double)x[(size_t)i * k + p] * w[(size_t)j * k + p];
            y[(size_t)i * n + j] = nn_test_act(act, s) + (res ? res[(size_t)i * n + j] : 0);
        }
    return y;
}

/* smallest cosine over rows between a float result and a double one */
static double min_row_cos(const float *a, const double *b, int32_t m, int32_t n)
{
    double worst = 1;
    for (int32_t i = 0; i < m; i++) {
        double d = 0, na = 0, nb = 0;
        for (int32_t j = 0; j < n; j++) {
            d += a[(size_t)i * n + j] * b[(size_t)i * n + j];
            na += (double)a[(size_t)i * n + j] * a[(size_t)i * n + j];
            nb += b[(size_t)i * n + j] * b[(size_t)i * n + j];
        }
        double c = na > 0 && nb > 0 ? d / sqrt(na * nb) : (na == nb ? 1 : 0);
        worst = c < worst ? c : worst;
    }
    return worst;
}

static double min_row_cos_dd(const double *a, const double *b, int32_t m, int32_t n)
{
    float *af = malloc((size_t)m * n * sizeof *af);
    for (size_t i = 0; i < (size_t)m * n; i++) af[i] = (float)a[i];
    double c = min_row_cos(af, b, m, n);
    free(af);
    return c;
}

typedef struct i8_case {
    int32_t m, n, k;
    int bias, res; /* res: 0 none, 1 separate, 2 aliased to y */
    nn_act act;
    int outliers;  /* columns of x scaled up 100x */
    int heavy;     /* 1 weight in 256 scaled up 20x (a heavy tail) */
    int weak;      /* columns of w scaled down 100x, those of x up 100x (massive channels read
                      at ordinary strength) */
} i8_case;

/* One int8 layer call: against the model (exact to float rounding) and against float32. */
static void check_i8(const char *set, int nth, nn_pool *pool, i8_case c, double *worst_model,
                     double *worst_cos)
{
    float *x = nn_test_rand_vec((size_t)c.m * c.k, 1.0f);
    float *w = nn_test_rand_vec((size_t)c.n * c.k, 3.0f / sqrtf((float)c.k));
    for (int o = 0; o < c.outliers; o++) {
        int32_t col = (o * 7919 + 3) % c.k;
        for (int32_t i = 0; i < c.m; i++) x[(size_t)i * c.k + col] *= 100.0f;
    }
    if (c.heavy)
        for (size_t i = 0; i < (size_t)c.n * c.k; i++)
            if ((i * 2654435761u) % 256 == 7) w[i] *= 20.0f;
    for (int o = 0; o < c.weak; o++) {
        int32_t col = (o * 104729 + 11) % c.k;
        for (int32_t i = 0; i < c.m; i++) x[(size_t)i * c.k + col] *= 100.0f;
        for (int32_t j = 0; j < c.n; j++) w[(size_t)j * c.k + col] *= 0.01f;
    }
    float *bias = c.bias ? nn_test_rand_vec(c.n, 0.5f) : NULL;
    float *res = c.res ? nn_test_rand_vec((size_t)c.m * c.n, 1.0f) : NULL;
    float *res_copy = res ? malloc((size_t)c.m * c.n * sizeof *res_copy) : NULL;
    if (res) memcpy(res_copy, res, (size_t)c.m * c.n * sizeof *res);
    float *y = c.res == 2 ? res : malloc((size_t)c.m * c.n * sizeof *y);
    nn_linear l;
    int rc = nn_linear_init_prec(&l, c.n, c.k, w, bias, NN_I8);
    CHECK_EQ_INT(rc, AE_OK);
    nn_linear_forward(&l, x, c.m, y, c.act, res, pool);
    model_out mo = int8_model(x, w, bias, res_copy, c.m, c.n, c.k, c.act, 1);
    double e = 0;
    for (size_t i = 0; i < (size_t)c.m * c.n; i++) {
        double d = fabs(y[i] - mo.y[i]) / (mo.mag[i] + 1e-30);
        if (!(d <= e)) e = isnan(d) ? 1e9 : d;
    }
    CHECK_MSG(e < 2e-6, "%s, %d threads: int8 m=%d n=%d k=%d act=%d res=%d outliers=%d: %.3g off "
              "the quantization model", set, nth, (int)c.m, (int)c.n, (int)c.k, (int)c.act, c.res,
              c.outliers, e);
    *worst_model = e > *worst_model ? e : *worst_model;
    /* a row's result is its own: the same bits when it is computed alone (the first rows, the
     * last) as among the call's other rows */
    float *y1 = malloc((size_t)c.n * sizeof *y1);
    for (int32_t i = 0; i < c.m; i = i < 3 || i == c.m - 1 ? i + 1 : c.m - 1) {
        nn_linear_forward(&l, x + (size_t)i * c.k, 1, y1, c.act, res_copy ? res_copy + (size_t)i * c.n : NULL, pool);
        CHECK_MSG(!memcmp(y1, y + (size_t)i * c.n, (size_t)c.n * sizeof *y1), "%s, %d threads: int8 m=%d n=%d "
                  "k=%d outliers=%d: row %d alone differs from row %d of the call", set, nth, (int)c.m,
                  (int)c.n, (int)c.k, c.outliers, (int)i, (int)i);
    }
    free(y1);
    /* fidelity to float32 (rows of at least 64 outputs: a short row's cosine says little) */
    if (c.n >= 64 && c.k >= 64) {
        double *yf = fp_model(x, w, bias, res_copy, c.m, c.n, c.k, c.act);
        double cs = min_row_cos(y, yf, c.m, c.n);
        CHECK_MSG(cs >= 0.9999, "%s: int8 m=%d n=%d k=%d outliers=%d: row cosine to fp32 %.6f",
                  set, (int)c.m, (int)c.n, (int)c.k, c.outliers, cs);
        *worst_cos = cs < *worst_cos ? cs : *worst_cos;
        if (c.outliers || c.heavy || c.weak) {
            /* the outlier columns were found, and plain int8 would lose */
            CHECK_MSG(mo.n_outliers == c.outliers, "%s: %d outlier columns found, %d made", set,
                      mo.n_outliers, c.outliers);
            CHECK_MSG(!c.heavy || (l.exact && l.exact->n_sparse > 0), "%s: heavy tail: %d exact weights",
                      set, l.exact ? l.exact->n_sparse : 0);
            CHECK_MSG(!c.weak || (l.exact && l.exact->n_cols == c.weak), "%s: %d exact columns, %d made",
                      set, l.exact ? l.exact->n_cols : 0, c.weak);
            model_out plain = int8_model(x, w, bias, res_copy, c.m, c.n, c.k, c.act, 0);
            double cp = min_row_cos_dd(plain.y, yf, c.m, c.n);
            CHECK_MSG(1 - cp > 10 * (1 - cs), "%s: plain int8's cosine is %.6f, not 10x further "
                      "from 1 than with the exact parts (%.6f)", set, cp, cs);
            free(plain.y);
            free(plain.mag);
        }
        free(yf);
    }
    free(mo.y);
    free(mo.mag);
    nn_linear_free(&l);
    free(x);
    free(w);
    free(bias);
    free(res_copy);
    if (c.res != 2) free(y);
    free(res);
}

static void test_i8_layers(const char *set, nn_pool *pool, int nth)
{
    double worst_model = 0, worst_cos = 1;
    int calls = 0;
    for (int i = 0; i < N_SIZES; i++) {
        i8_case c = {sizes[i], sizes[(i * 5 + 2 + nth) % N_SIZES], sizes[(i * 7 + 1 + nth) % N_SIZES],
                     (i + nth) & 1, (i + nth) % 3, (nn_act)((i / 2 + nth) % 3), 0, 0, 0};
        check_i8(set, nth, pool, c, &worst_model, &worst_cos);
        calls++;
    }
    /* CLIP's shapes at batch 1, with outliers, and a fc2-like one */
    const i8_case big[] = {
        {50, 2304, 768, 1, 0, NN_ACT_NONE, 0, 0, 0}, {50, 768, 768, 1, 2, NN_ACT_NONE, 3, 0, 0},
        {77, 256, 768, 1, 0, NN_ACT_QUICK_GELU, 5, 0, 0}, {50, 96, 3072, 1, 1, NN_ACT_NONE, 2, 0, 0},
        {129, 65, 257, 0, 2, NN_ACT_GELU, 1, 0, 0},
        /* the stress model's pathologies: a heavy weight tail, weak columns, both with outliers */
        {50, 256, 768, 1, 0, NN_ACT_NONE, 0, 1, 0}, {50, 256, 768, 1, 2, NN_ACT_NONE, 0, 0, 4},
        {65, 130, 515, 1, 0, NN_ACT_QUICK_GELU, 2, 1, 3},
    };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        check_i8(set, nth, pool, big[i], &worst_model, &worst_cos);
        calls++;
    }
    printf("int8 layer %-10s threads=%d: %d calls, max rel err to the model %.3g, min row cosine "
           "to fp32 %.6f\n", set, nth, calls, worst_model, worst_cos);
}

/* All-zero rows and non-finite inputs: no NaN from the quantization itself, the row's output
 * is its bias; a NaN in x gives that row's outlier column... nothing: it is quantized as 0. */
static void test_i8_edges(nn_pool *pool)
{
    const int32_t m = 3, n = 40, k = 36;
    float *x = nn_test_rand_vec((size_t)m * k, 1.0f), *w = nn_test_rand_vec((size_t)n * k, 0.3f), *b = nn_test_rand_vec(n, 1.0f);
    for (int32_t p = 0; p < k; p++) x[p] = 0.0f; /* row 0: zeros */
    nn_linear l;
    CHECK_EQ_INT(nn_linear_init_prec(&l, n, k, w, b, NN_I8), AE_OK);
    float y[3 * 40];
    nn_linear_forward(&l, x, m, y, NN_ACT_NONE, NULL, pool);
    int ok = 1;
    for (int32_t j = 0; j < n; j++) ok &= y[j] == b[j];
    CHECK_MSG(ok, "int8: a zero row gives the bias");
    nn_linear_free(&l);
    /* a weight that is not finite is refused at init, naming the channel */
    w[5 * k + 3] = NAN;
    CHECK_EQ_INT(nn_linear_init_prec(&l, n, k, w, b, NN_I8), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "output channel 5");
    CHECK(l.w == NULL);
    free(x);
    free(w);
    free(b);
}

/* ---- bf16 ----------------------------------------------------------------------------------- */

static void test_bf16_rounding(void)
{
    CHECK_EQ_INT(nn_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(nn_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to even (1); a bit above: up */
    CHECK_EQ_INT(nn_f32_to_bf16(1.00390625f), 0x3f80);
    CHECK_EQ_INT(nn_f32_to_bf16(1.0039064f), 0x3f81);
    CHECK_EQ_INT(nn_f32_to_bf16(1.01171875f), 0x3f82); /* halfway, odd below: up to even */
    CHECK(isnan(nn_bf16_to_f32(nn_f32_to_bf16(NAN))));
    CHECK(nn_bf16_to_f32(nn_f32_to_bf16(INFINITY)) == INFINITY);
    CHECK_NEAR(nn_bf16_to_f32(nn_f32_to_bf16(3.14159265f)), 3.140625, 0);
}

static void check_bf16(const char *set, nn_pool *pool, int32_t m, int32_t n, int32_t k, int v,
                       double *worst)
{
    float *x = nn_test_rand_vec((size_t)m * k, 1.0f), *w = nn_test_rand_vec((size_t)n * k, 3.0f / sqrtf((float)k));
    float *bias = v & 1 ? nn_test_rand_vec(n, 0.5f) : NULL;
    int res_mode = v % 3;
    nn_act act = (nn_act)((v / 3) % 3);
    float *res = res_mode ? nn_test_rand_vec((size_t)m * n, 1.0f) : NULL;
    float *res_copy = res ? malloc((size_t)m * n * sizeof *res_copy) : NULL;
    if (res) memcpy(res_copy, res, (size_t)m * n * sizeof *res);
    float *y = res_mode == 2 ? res : malloc((size_t)m * n * sizeof *y);
    nn_linear l;
    CHECK_EQ_INT(nn_linear_init_prec(&l, n, k, w, bias, NN_BF16), AE_OK);
    nn_linear_forward(&l, x, m, y, act, res, pool);
    double e = 0;
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0, mag = bias ? fabs(bias[j]) : 0;
            for (int32_t p = 0; p < k; p++) {
                double t = (double)nn_bf16_to_f32(nn_f32_to_bf16(x[(size_t)i * k + p])) *
                           nn_bf16_to_f32(nn_f32_to_bf16(w[(size_t)j * k + p]));
                s += t;
                mag += fabs(t);
            }
            double ref = nn_test_act(act, s) + (res ? res_copy[(size_t)i * n + j] : 0);
            mag += res ? fabs(res_copy[(size_t)i * n + j]) : 0;
            double d = fabs(y[(size_t)i * n + j] - ref) / (mag + 1e-30);
            if (!(d <= e)) e = isnan(d) ? 1e9 : d;
        }
    CHECK_MSG(e < 2e-6, "%s: bf16 m=%d n=%d k=%d: rel err %.3g to the bf16 model", set, (int)m,
              (int)n, (int)k, e);
    *worst = e > *worst ? e : *worst;
    nn_linear_free(&l);
    free(x);
    free(w);
    free(bias);
    free(res_copy);
    if (res_mode != 2) free(y);
    free(res);
}

static void test_bf16_layers(const char *set, nn_pool *pool, int nth)
{
    double worst = 0;
    for (int i = 0; i < N_SIZES; i++)
        check_bf16(set, pool, sizes[i], sizes[(i * 5 + 2 + nth) % N_SIZES],
                   sizes[(i * 7 + 1 + nth) % N_SIZES], i + nth, &worst);
    check_bf16(set, pool, 50, 2304, 768, 1, &worst);
    check_bf16(set, pool, 31, 77, 3073, 4, &worst);
    printf("bf16 layer %-10s threads=%d (%s tile): max rel err %.3g\n", set, nth,
           nn_bf16_kernel(nn_kernels_get()) == nn_tile_bf16_ref ? "reference" : "AVX512_BF16", worst);
}

/* The AVX512_BF16 tile against the reference on every row count, bit for bit. */
static void test_bf16_tiles(const char *set)
{
    void (*tile)(const nn_tile *) = nn_bf16_kernel(nn_kernels_get());
    if (tile == nn_tile_bf16_ref) return;
    const int32_t kc = 37;
    uint16_t *a = malloc((size_t)NN_MR_MAX * (kc + 8) * 2 * sizeof *a), *b = malloc((size_t)kc * NN_NR * 2 * sizeof *b);
    for (int32_t i = 0; i < NN_MR_MAX * (kc + 8) * 2; i++) a[i] = nn_f32_to_bf16(nn_test_frand());
    for (int32_t i = 0; i < kc * NN_NR * 2; i++) b[i] = nn_f32_to_bf16(nn_test_frand());
    float bias[NN_NR], res[NN_MR_MAX * NN_NR];
    for (int j = 0; j < NN_NR; j++) bias[j] = nn_test_frand();
    for (int i = 0; i < NN_MR_MAX * NN_NR; i++) res[i] = nn_test_frand();
    int bad = 0, n = 0;
    for (int32_t mr = 1; mr <= nn_kernels_get()->mr_max; mr++)
        for (int32_t nr = 1; nr <= NN_NR; nr += 15) {
            nn_tile t;
            memset(&t, 0, sizeof t);
            t.mr = mr;
            t.nr = nr;
            t.kc = kc;
            t.a = (const float *)a;
            t.lda = kc + 8;
            t.b = (const float *)b;
            t.ldc = t.ldr = NN_NR;
            t.bias = bias;
            t.res = res;
            t.first = t.last = t.res_init = 1;
            float want[NN_MR_MAX * NN_NR], got[NN_MR_MAX * NN_NR];
            t.c = want;
            nn_tile_bf16_ref(&t);
            t.c = got;
            tile(&t);
            for (int32_t r = 0; r < mr; r++)
                for (int32_t j = 0; j < nr; j++, n++)
                    bad += !(fabsf(want[r * NN_NR + j] - got[r * NN_NR + j]) <= 1e-6f * (fabsf(want[r * NN_NR + j]) + 8.0f));
        }
    CHECK_MSG(bad == 0, "%s: bf16 tile: %d of %d outputs differ from the reference", set, bad, n);
    printf("bf16 tile  %-10s: %d outputs, %d differ\n", set, n, bad);
    free(a);
    free(b);
}

/* The set's activation quantizer against the reference, bit for bit: odd lengths (the
 * tails), values on the rounding halves and the ±127 edges, beyond them, ±0, infinities and
 * NaN, both flips. */
static void test_i8_quant(const char *set)
{
    const nn_kernels *k = nn_kernels_get();
    static const float special[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, 127.0f, 127.49f, 127.5f,
                                    128.0f, -126.5f, -127.5f, -128.0f, 1e30f, -1e30f, 0.0f, -0.0f};
    const int32_t lens[] = {1, 7, 15, 16, 17, 31, 32, 33, 63, 100, 257, 768, 3072};
    int64_t tested = 0, differ = 0;
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        const int32_t n = lens[li];
        float *x = nn_test_rand_vec((size_t)n, 3.0f);
        for (int32_t i = 0; i < n; i++) {
            if (i % 5 == 1) x[i] = special[(size_t)i % (sizeof special / sizeof *special)] / 42.0f;
            if (i % 97 == 3) x[i] = INFINITY * (i & 1 ? -1.0f : 1.0f);
            if (i % 89 == 5) x[i] = NAN;
        }
        uint8_t *a = malloc((size_t)n + 1), *b = malloc((size_t)n + 1);
        for (int flip = 0; flip < 2; flip++) {
            const uint8_t fl = flip ? 0x80 : 0;
            a[n] = b[n] = 0x5a; /* nothing written past n */
            k->quant_i8(x, n, 42.0f, fl, a);
            nn_quant_i8_ref(x, n, 42.0f, fl, b);
            for (int32_t i = 0; i <= n; i++) differ += a[i] != b[i];
            tested += n + 1;
        }
        free(a);
        free(b);
        free(x);
    }
    CHECK_MSG(differ == 0, "%s: int8 quantizer: %lld of %lld bytes differ from the reference", set,
              (long long)differ, (long long)tested);
    printf("int8 quant %-10s: %lld bytes, %lld differ\n", set, (long long)tested, (long long)differ);
}

int main(void)
{
    nn_test_seed(0x2545F4914F6CDD1Dull);
    test_bf16_rounding();
    static const char *sets[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "neon", "neondot"};
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        if (nn_set_kernels(sets[s])) {
            printf("%s: not supported by this CPU, skipped\n", sets[s]);
            continue;
        }
        test_i8_tiles(sets[s]);
        test_i8_quant(sets[s]);
        test_bf16_tiles(sets[s]);
        for (int nth = 1; nth <= 3; nth++) {
            nn_pool *pool = nth == 1 ? NULL : nn_pool_new(nth);
            test_i8_layers(sets[s], pool, nth);
            test_bf16_layers(sets[s], pool, nth);
            if (nth == 2) test_i8_edges(pool);
            nn_pool_free(pool);
        }
    }
    printf("bf16 on this CPU: %s\n", nn_precision_supported(NN_BF16) ? "native" : "refused by the library");
    return test_summary();
}
