/*
 * test_solver.c — src/solver.c against the definitions in solver.h: the gradient of each
 * objective, computed here independently in double, vanishes at the solution (n < dim and
 * n > dim, odd sizes); ridge against its closed form; folds keep groups whole, are balanced,
 * stratified and deterministic; cross-validation's out-of-fold predictions are those of a fit
 * without the row's fold; separable data is classified without error; every refusal.
 */
#include <math.h>
#include <stdint.h>

#include "aesthete.h"
#include "solver.h"
#include "stats.h"
#include "test.h"

/* |gradient| of the objective at (w, b) over all n rows, and |gradient at 0| */
static double grad_norm(solve_kind k, const float *x, int n, int d, const double *y, double lambda,
                        const double *w, double b, double *g0)
{
    double *g = calloc((size_t)d + 1, sizeof *g), *z = calloc((size_t)d + 1, sizeof *z);
    for (int pass = 0; pass < 2; pass++) {
        double *out = pass ? z : g;
        for (int i = 0; i < n; i++) {
            double t = pass ? 0 : b;
            for (int j = 0; j < d && !pass; j++) t += w[j] * x[i * d + j];
            double r = k == SOLVE_LOGISTIC ? 1 / (1 + exp(-t)) - y[i] : 2 * (t - y[i]);
            for (int j = 0; j < d; j++) out[j] += r * x[i * d + j] / n;
            out[d] += r / n;
        }
        for (int j = 0; j < d && !pass; j++) out[j] += 2 * lambda * w[j];
    }
    double s = 0, s0 = 0;
    for (int j = 0; j <= d; j++) s += g[j] * g[j], s0 += z[j] * z[j];
    free(g), free(z);
    *g0 = sqrt(s0);
    return sqrt(s);
}

static float *random_rows(stats_rng *r, int n, int d)
{
    float *x = malloc(sizeof(float) * (size_t)n * d);
    for (int i = 0; i < n * d; i++) x[i] = (float)(stats_rng_uniform(r) - 0.5);
    return x;
}

static void test_optimality(void)
{
    const int sizes[][2] = {{3, 1}, {7, 13}, {200, 65}, {40, 300}, {61, 61}};
    stats_rng r;
    stats_rng_seed(&r, 1);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s][0], d = sizes[s][1];
        float *x = random_rows(&r, n, d);
        double *y = malloc(sizeof *y * n), *yr = malloc(sizeof *yr * n), *w = malloc(sizeof *w * d), b, g0;
        for (int i = 0; i < n; i++) y[i] = i % 3 == 0, yr[i] = 3 * x[i * d] + stats_rng_uniform(&r);
        const double lambdas[] = {1e-3, 0.1, 10};
        for (int l = 0; l < 3; l++) {
            solve_info info;
            CHECK_EQ_INT(solve_fit(SOLVE_LOGISTIC, x, n, d, y, NULL, 0, lambdas[l], w, &b, &info), AE_OK);
            double gn = grad_norm(SOLVE_LOGISTIC, x, n, d, y, lambdas[l], w, b, &g0);
            CHECK_MSG(gn <= 1e-8 * (g0 > 1 ? g0 : 1), "logistic n=%d d=%d lambda=%g: |grad| %g", n, d, lambdas[l], gn);
            CHECK_EQ_INT(info.converged, 1);
            CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x, n, d, yr, NULL, 0, lambdas[l], w, &b, NULL), AE_OK);
            gn = grad_norm(SOLVE_RIDGE, x, n, d, yr, lambdas[l], w, b, &g0);
            CHECK_MSG(gn <= 1e-8 * (g0 > 1 ? g0 : 1), "ridge n=%d d=%d lambda=%g: |grad| %g", n, d, lambdas[l], gn);
        }
        free(x), free(y), free(yr), free(w);
    }
}

/* Ridge on two features, solved here by Cramer's rule on the centred normal equations:
 * (C + lambda I) w = c, b = mean y - w . mean x, with C, c the centred scatter / n. */
static void test_ridge_closed_form(void)
{
    const float x[5 * 2] = {1, 0, 0, 1, 1, 1, 2, 0.5f, -1, 2};
    const double y[5] = {1, 2, 2.5, 3, -0.5}, lambda = 0.05;
    double mx[2] = {0}, my = 0, C[2][2] = {{0}}, c[2] = {0};
    for (int i = 0; i < 5; i++) mx[0] += x[2 * i] / 5.0, mx[1] += x[2 * i + 1] / 5.0, my += y[i] / 5;
    for (int i = 0; i < 5; i++) {
        double a = x[2 * i] - mx[0], e = x[2 * i + 1] - mx[1];
        C[0][0] += a * a / 5, C[0][1] += a * e / 5, C[1][1] += e * e / 5;
        c[0] += a * (y[i] - my) / 5, c[1] += e * (y[i] - my) / 5;
    }
    double A = C[0][0] + lambda, B = C[0][1], D = C[1][1] + lambda, det = A * D - B * B;
    double w0 = (c[0] * D - B * c[1]) / det, w1 = (A * c[1] - B * c[0]) / det, b0 = my - w0 * mx[0] - w1 * mx[1];
    double w[2], b;
    CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x, 5, 2, y, NULL, 0, lambda, w, &b, NULL), AE_OK);
    CHECK_NEAR(w[0], w0, 1e-10);
    CHECK_NEAR(w[1], w1, 1e-10);
    CHECK_NEAR(b, b0, 1e-10);
    /* a subset of rows: the fit of rows 0, 2, 4 equals the fit of those rows alone */
    const int32_t rows[3] = {0, 2, 4};
    const float x3[6] = {1, 0, 1, 1, -1, 2};
    const double y3[3] = {1, 2.5, -0.5};
    double ws[2], bs, wa[2], ba;
    CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x, 5, 2, y, rows, 3, lambda, ws, &bs, NULL), AE_OK);
    CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x3, 3, 2, y3, NULL, 0, lambda, wa, &ba, NULL), AE_OK);
    CHECK_NEAR(ws[0], wa[0], 1e-12);
    CHECK_NEAR(ws[1], wa[1], 1e-12);
    CHECK_NEAR(bs, ba, 1e-12);
    double pred[5];
    CHECK_EQ_INT(solve_predict(SOLVE_RIDGE, x, 5, 2, w, b, pred), AE_OK);
    CHECK_NEAR(pred[3], w0 * 2 + w1 * 0.5 + b0, 1e-10);
    CHECK_EQ_INT(solve_predict(SOLVE_LOGISTIC, x, 5, 2, w, b, pred), AE_OK);
    CHECK_NEAR(pred[3], 1 / (1 + exp(-(w0 * 2 + w1 * 0.5 + b0))), 1e-10);
}

static void test_folds(void)
{
    enum { N = 103 };
    double y[N];
    int64_t g[N];
    int32_t f[N], f2[N], f3[N];
    for (int i = 0; i < N; i++) y[i] = i % 4 == 0, g[i] = i / 3; /* groups of 3 (the last of 1) */
    CHECK_EQ_INT(solve_folds(y, g, N, 5, 7, f), 5);
    CHECK_EQ_INT(solve_folds(y, g, N, 5, 7, f2), 5);
    CHECK_EQ_INT(solve_folds(y, g, N, 5, 8, f3), 5);
    int same = 1, other = 0, split = 0, size[5] = {0}, pos[5] = {0};
    for (int i = 0; i < N; i++) {
        same &= f[i] == f2[i];
        other |= f[i] != f3[i];
        size[f[i]]++, pos[f[i]] += y[i] > 0.5;
        for (int j = 0; j < i; j++) split += g[i] == g[j] && f[i] != f[j];
    }
    CHECK(same);
    CHECK(other);
    CHECK_EQ_INT(split, 0);
    int lo = N, hi = 0;
    for (int k = 0; k < 5; k++) lo = size[k] < lo ? size[k] : lo, hi = size[k] > hi ? size[k] : hi;
    CHECK_MSG(hi - lo <= 3, "fold sizes %d..%d", lo, hi);
    for (int k = 0; k < 5; k++) CHECK_MSG(fabs((double)pos[k] / size[k] - 26.0 / N) < 0.12, "fold %d: %d of %d positive", k, pos[k], size[k]);
    /* fewer groups than folds: as many folds as groups */
    int64_t two[6] = {1, 1, 1, 2, 2, 2};
    double y6[6] = {0, 1, 0, 1, 0, 1};
    CHECK_EQ_INT(solve_folds(y6, two, 6, 5, 1, f), 2);
    CHECK(f[0] == f[1] && f[1] == f[2] && f[3] == f[4] && f[0] != f[3]);
    int64_t one[3] = {4, 4, 4};
    CHECK_EQ_INT(solve_folds(y6, one, 3, 2, 1, f), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "group");
}

static void test_cv(void)
{
    enum { N = 60, D = 20 };
    stats_rng r;
    stats_rng_seed(&r, 3);
    float *x = random_rows(&r, N, D);
    double y[N], w[D], b, oof[N];
    int64_t g[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        x[i * D] += y[i] ? 1.5f : -1.5f; /* separable */
        g[i] = i / 2 * 2 + (i % 2);      /* each its own group... */
    }
    memcpy(x + 2 * D, x, sizeof(float) * D); /* ... but row 2 is a copy of row 0: one group */
    y[2] = y[0];
    g[2] = g[0];
    solve_report rep = {0};
    rep.oof = oof;
    CHECK_EQ_INT(solve_cv(SOLVE_LOGISTIC, x, N, D, y, g, 5, 11, w, &b, &rep), AE_OK);
    CHECK_NEAR(rep.cv_metric, 1.0, 0);
    CHECK_EQ_INT(rep.folds, 5);
    CHECK(rep.lambda >= 1e-6 && rep.lambda <= 1e2 && rep.cv_secondary > 0 && rep.cv_secondary < 0.6931);
    /* the out-of-fold predictions are those of a fit on the other folds at the chosen lambda */
    int32_t fold[N], rows[N], nr = 0;
    CHECK_EQ_INT(solve_folds(y, g, N, 5, 11, fold), 5);
    for (int i = 0; i < N; i++)
        if (fold[i] != fold[0]) rows[nr++] = i;
    double wf[D], bf, p[N];
    CHECK_EQ_INT(solve_fit(SOLVE_LOGISTIC, x, N, D, y, rows, nr, rep.lambda, wf, &bf, NULL), AE_OK);
    CHECK_EQ_INT(solve_predict(SOLVE_LOGISTIC, x, N, D, wf, bf, p), AE_OK);
    for (int i = 0; i < N; i++)
        if (fold[i] == fold[0]) CHECK_NEAR(oof[i], p[i], 1e-7);
    CHECK_NEAR(oof[2], p[2], 1e-7); /* the copy was held out with its original */
    CHECK(fold[2] == fold[0]);

    /* ridge: a rating along a direction, recovered */
    double yr[N], dir[D];
    for (int j = 0; j < D; j++) dir[j] = stats_rng_uniform(&r) - 0.5;
    for (int i = 0; i < N; i++) {
        yr[i] = 0;
        for (int j = 0; j < D; j++) yr[i] += dir[j] * x[i * D + j];
        yr[i] = 5 + 4 * yr[i] + (stats_rng_uniform(&r) - 0.5) * 0.05;
    }
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, x, N, D, yr, NULL, 5, 11, w, &b, &rep), AE_OK);
    CHECK_MSG(rep.cv_metric > 0.95, "ridge CV Spearman %g", rep.cv_metric);
    double dot = 0, nw = 0, nd = 0;
    for (int j = 0; j < D; j++) dot += w[j] * dir[j], nw += w[j] * w[j], nd += dir[j] * dir[j];
    CHECK_MSG(dot / sqrt(nw * nd) > 0.95, "direction cosine %g", dot / sqrt(nw * nd));
    free(x);
}

static void test_refusals(void)
{
    float x[8] = {0, 1, 1, 0, 1, 1, 0, 0};
    double y[4] = {1, 1, 1, 1}, w[2], b;
    CHECK_EQ_INT(solve_cv(SOLVE_LOGISTIC, x, 4, 2, y, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "good");
    double y2[4] = {0, 1, 2, 0};
    CHECK_EQ_INT(solve_cv(SOLVE_LOGISTIC, x, 4, 2, y2, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    double y3[4] = {0, 1, NAN, 0};
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, x, 4, 2, y3, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    float xn[8] = {0, 1, INFINITY, 0, 1, 1, 0, 0};
    double y4[4] = {0, 1, 1, 0};
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, xn, 4, 2, y4, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, x, 4, 2, y4, NULL, 1, 1, w, &b, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, x, 1, 2, y4, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, x, 4, 0, y4, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, NULL, 4, 2, y4, NULL, 2, 1, w, &b, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x, 4, 2, y4, NULL, 0, 0, w, &b, NULL), AE_ERR_INVALID);
    CHECK(isnan(solve_lambda(-1)) && isnan(solve_lambda(SOLVE_NLAMBDA)));
    CHECK_NEAR(solve_lambda(0), 1e2, 1e-9);
    CHECK_NEAR(solve_lambda(SOLVE_NLAMBDA - 1), 1e-6, 1e-18);
}

int main(void)
{
    test_optimality();
    test_ridge_closed_form();
    test_folds();
    test_cv();
    test_refusals();
    return test_summary();
}
