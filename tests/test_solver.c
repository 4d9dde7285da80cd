/*
 * test_solver.c — src/solver.c: optimality of every fit (the gradient, computed here in double),
 * ridge against Cramer's rule, logistic against scipy, cross-validation on separable and on
 * linear data, the folds' invariants, out-of-fold predictions recomputed by hand, and every
 * validation error.
 *
 * Golden numbers: tests/data/solver/golden_logistic.py (scipy 1.10.1, Debian python3-scipy,
 * trust-exact Newton to |gradient| < 1e-16) on the rows golden_rows() builds by the same
 * formulas: float32 rows x_ij = sin(0.7 i + 1.3 j) + 0.3 cos(2.1 i j + 0.5), labels
 * y_i = [sin(1.1 i) + 0.8 x_i0 - 0.5 x_i3 > 0.1], soft labels 0.15 + 0.7 (0.5 + 0.5 sin(0.37 i)).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "solver.h"
#include "stats.h"
#include "test.h"

/* ---- data -------------------------------------------------------------------------------- */

static double gauss(stats_rng *r)
{
    double u = stats_rng_uniform(r), v = stats_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

/* n random rows of dim values (a common mean, as CLIP embeddings have, plus noise), L2-normalised */
static float *rows_random(int32_t n, int32_t dim, uint64_t seed)
{
    stats_rng r;
    stats_rng_seed(&r, seed);
    float *x = malloc(sizeof(float) * (size_t)n * dim);
    double *mu = malloc(sizeof(double) * (size_t)dim), *row = malloc(sizeof(double) * (size_t)dim);
    for (int32_t k = 0; k < dim; k++) mu[k] = gauss(&r) / sqrt(dim);
    for (int32_t i = 0; i < n; i++) {
        double s = 0;
        for (int32_t k = 0; k < dim; k++) {
            row[k] = 0.8 * mu[k] + 0.6 * gauss(&r) / sqrt(dim);
            s += row[k] * row[k];
        }
        for (int32_t k = 0; k < dim; k++) x[(size_t)i * dim + k] = (float)(row[k] / sqrt(s));
    }
    free(mu), free(row);
    return x;
}

/* The gradient norm of the objective at (w, b), in double, from the definitions */
static double grad_norm(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *y,
                        const int32_t *rows, int32_t m, double lambda, const double *w, double b)
{
    double *g = calloc((size_t)dim + 1, sizeof(double));
    for (int32_t j = 0; j < m; j++) {
        int32_t i = rows ? rows[j] : j;
        const float *xi = x + (size_t)i * dim;
        double z = b;
        for (int32_t k = 0; k < dim; k++) z += w[k] * xi[k];
        double r = kind == SOLVE_LOGISTIC ? 1 / (1 + exp(-z)) - y[i] : 2 * (z - y[i]);
        g[dim] += r / m;
        for (int32_t k = 0; k < dim; k++) g[k] += r * xi[k] / m;
    }
    double s = g[dim] * g[dim];
    for (int32_t k = 0; k < dim; k++) {
        g[k] += 2 * lambda * w[k];
        s += g[k] * g[k];
    }
    free(g);
    return sqrt(s);
}

static double objective(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *y,
                        double lambda, const double *w, double b)
{
    double s = 0, ww = 0;
    for (int32_t i = 0; i < n; i++) {
        double z = b;
        for (int32_t k = 0; k < dim; k++) z += w[k] * x[(size_t)i * dim + k];
        s += kind == SOLVE_LOGISTIC ? log1p(exp(-fabs(z))) + fmax(z, 0) - y[i] * z : (z - y[i]) * (z - y[i]);
    }
    for (int32_t k = 0; k < dim; k++) ww += w[k] * w[k];
    return s / n + lambda * ww;
}

/* ---- optimality ------------------------------------------------------------------------- */

static void check_fit(solve_kind kind, int32_t n, int32_t dim, double lambda, uint64_t seed)
{
    float *x = rows_random(n, dim, seed);
    double *y = malloc(sizeof(double) * (size_t)n), *w = malloc(sizeof(double) * (size_t)dim), b = 0;
    stats_rng r;
    stats_rng_seed(&r, seed + 1);
    for (int32_t i = 0; i < n; i++)
        y[i] = kind == SOLVE_LOGISTIC ? (double)(i % 2 == 0 ? 1 : i % 4 == 1 ? 0 : stats_rng_uniform(&r) < 0.3)
                                      : 3 + 2 * gauss(&r) + x[(size_t)i * dim] * 10;
    solve_info info;
    int rc = solve_fit(kind, x, n, dim, y, NULL, 0, lambda, w, &b, &info);
    CHECK_EQ_INT(rc, AE_OK);
    double gn = grad_norm(kind, x, n, dim, y, NULL, n, lambda, w, b);
    CHECK_MSG(gn < 1e-8, "%s n=%d dim=%d lambda=%g: |gradient| = %.3g", kind == SOLVE_LOGISTIC ? "logistic" : "ridge",
              n, dim, lambda, gn);
    CHECK_EQ_INT(info.converged, 1);
    CHECK(info.grad_norm <= SOLVE_GTOL);
    free(x), free(y), free(w);
}

static void test_optimality(void)
{
    const int32_t sizes[][2] = {{3, 1}, {7, 13}, {200, 65}, {30, 100}, {300, 40}, {64, 64}, {2, 5}};
    const double lambdas[] = {1e-6, 1e-3, 1};
    for (int kind = 0; kind < 2; kind++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (size_t l = 0; l < 3; l++)
                check_fit((solve_kind)kind, sizes[s][0], sizes[s][1], lambdas[l], 100 + s);
    /* a penalty off the grid, and one above it */
    check_fit(SOLVE_LOGISTIC, 50, 20, 0.0123, 7);
    check_fit(SOLVE_LOGISTIC, 50, 20, 1e3, 7);
    check_fit(SOLVE_RIDGE, 50, 80, 0.0123, 7);
}

/* a fit on a subset of the rows sees only those rows: its gradient on them is zero */
static void test_fit_rows(void)
{
    const int32_t n = 60, dim = 24;
    float *x = rows_random(n, dim, 5);
    double y[60], w[24], b;
    int32_t rows[30];
    for (int32_t i = 0; i < n; i++) y[i] = (i * 7) % 3 == 0;
    for (int32_t j = 0; j < 30; j++) rows[j] = 2 * j + 1; /* the odd rows */
    for (int kind = 0; kind < 2; kind++) {
        CHECK_EQ_INT(solve_fit((solve_kind)kind, x, n, dim, y, rows, 30, 1e-3, w, &b, NULL), AE_OK);
        CHECK(grad_norm((solve_kind)kind, x, n, dim, y, rows, 30, 1e-3, w, b) < 1e-8);
        CHECK(grad_norm((solve_kind)kind, x, n, dim, y, NULL, n, 1e-3, w, b) > 1e-4); /* not all rows' */
    }
    free(x);
}

/* ---- ridge against Cramer's rule ---------------------------------------------------------- */

static double det3(const double a[3][3])
{
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
}

/* ridge with an unpenalised bias: (C + lambda n I) w = c, C and c centred sums; b = ybar - xbar w
 * (dim <= 3) */
static void ridge_cramer(const float *x, int32_t n, int32_t dim, const double *y, double lambda,
                         double *w, double *b)
{
    double xb[3] = {0}, yb = 0, a[3][3] = {{0}}, c[3] = {0};
    for (int32_t i = 0; i < n; i++) {
        yb += y[i] / n;
        for (int32_t k = 0; k < dim; k++) xb[k] += x[i * dim + k] / (double)n;
    }
    for (int32_t i = 0; i < n; i++)
        for (int32_t k = 0; k < dim; k++) {
            c[k] += (x[i * dim + k] - xb[k]) * (y[i] - yb);
            for (int32_t l = 0; l < dim; l++) a[k][l] += (x[i * dim + k] - xb[k]) * (x[i * dim + l] - xb[l]);
        }
    for (int32_t k = 0; k < 3; k++) a[k][k] += k < dim ? lambda * n : 1; /* unused dims: identity */
    double d = det3(a);
    *b = yb;
    for (int32_t k = 0; k < dim; k++) {
        double ak[3][3];
        memcpy(ak, a, sizeof ak);
        for (int32_t l = 0; l < 3; l++) ak[l][k] = l < dim ? c[l] : 0;
        w[k] = det3(ak) / d;
        *b -= xb[k] * w[k];
    }
}

static void test_ridge_exact(void)
{
    const float x2[] = {0.5f, 1, 1.5f, -0.25f, 2, 0.75f, -1, 0.5f, 0.25f, 2.5f};
    const double y2[] = {1, 2, 0.5, 3, 1.75};
    const float x3[] = {1, 0.5f, -0.5f, 0.25f, 2, 1, 1.5f, -1, 0.75f, 0.5f, 0.5f, 2, -0.75f, 1.25f, 0.25f};
    const double y3[] = {2, -1, 0.5, 3, 1};
    const double lambdas[] = {1e-6, 0.01, 1, 100};
    for (int l = 0; l < 4; l++) {
        double w[3], b, wr[3], br;
        /* 5 rows of 2 and of 3 values, 2 rows of 3 (fewer rows than dimensions: the basis path) */
        ridge_cramer(x2, 5, 2, y2, lambdas[l], wr, &br);
        CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x2, 5, 2, y2, NULL, 0, lambdas[l], w, &b, NULL), AE_OK);
        for (int k = 0; k < 2; k++) CHECK_NEAR(w[k], wr[k], 1e-10 * fmax(1, fabs(wr[k])));
        CHECK_NEAR(b, br, 1e-10 * fmax(1, fabs(br)));
        ridge_cramer(x3, 5, 3, y3, lambdas[l], wr, &br);
        CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x3, 5, 3, y3, NULL, 0, lambdas[l], w, &b, NULL), AE_OK);
        for (int k = 0; k < 3; k++) CHECK_NEAR(w[k], wr[k], 1e-10 * fmax(1, fabs(wr[k])));
        CHECK_NEAR(b, br, 1e-10 * fmax(1, fabs(br)));
        /* two rows: w = d (y1 - y0) / (|d|^2 + 4 lambda), d = x1 - x0 (Cramer's rule is
         * ill-conditioned here: C has rank 1) */
        double d[3], dd = 0;
        for (int k = 0; k < 3; k++) d[k] = (double)x3[3 + k] - x3[k], dd += d[k] * d[k];
        br = (y3[0] + y3[1]) / 2;
        for (int k = 0; k < 3; k++) {
            wr[k] = d[k] * (y3[1] - y3[0]) / (dd + 4 * lambdas[l]);
            br -= wr[k] * ((double)x3[k] + x3[3 + k]) / 2;
        }
        CHECK_EQ_INT(solve_fit(SOLVE_RIDGE, x3, 2, 3, y3, NULL, 0, lambdas[l], w, &b, NULL), AE_OK);
        for (int k = 0; k < 3; k++) CHECK_NEAR(w[k], wr[k], 1e-10 * fmax(1, fabs(wr[k])));
        CHECK_NEAR(b, br, 1e-10 * fmax(1, fabs(br)));
    }
}

/* ---- logistic against scipy --------------------------------------------------------------- */

static void golden_rows(int32_t n, int32_t dim, float *x, double *y, double *ys)
{
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < dim; j++)
            x[i * dim + j] = (float)(sin(0.7 * i + 1.3 * j) + 0.3 * cos(2.1 * i * j + 0.5));
        double t = sin(1.1 * i) + 0.8 * (double)x[i * dim] - 0.5 * (double)x[i * dim + 3];
        y[i] = t > 0.1;
        ys[i] = 0.15 + 0.7 * (0.5 + 0.5 * sin(0.37 * i));
    }
}

static void check_golden(const float *x, int32_t n, int32_t dim, const double *y, double lambda,
                         double b_ref, const double *w_ref)
{
    double w[12], b, maxd;
    solve_info info;
    CHECK_EQ_INT(solve_fit(SOLVE_LOGISTIC, x, n, dim, y, NULL, 0, lambda, w, &b, &info), AE_OK);
    maxd = fabs(b - b_ref);
    for (int32_t k = 0; k < dim; k++) maxd = fmax(maxd, fabs(w[k] - w_ref[k]));
    CHECK_MSG(maxd < 1e-7, "%d x %d, lambda %g: max |difference| from scipy %.3g", n, dim, lambda, maxd);
    CHECK_EQ_INT(info.converged, 1);
}

static void test_golden(void)
{
    float x[40 * 5], xw[8 * 12];
    double y[40], ys[40], yw[8], ysw[8];
    golden_rows(40, 5, x, y, ys);
    golden_rows(8, 12, xw, yw, ysw);
    const double w1[] = {0.95838507024116493, 0.36520949213387605, -0.82412811284638809,
                         -1.1446160978367383, -0.5273966640277391};
    check_golden(x, 40, 5, y, 0.01, -0.26987195909044015, w1);
    const double w2[] = {1.0895650224278397, -0.29261733832687242, -3.4229804118977065,
                         -2.0806917325115073, -3.1635870333945739};
    check_golden(x, 40, 5, y, 1e-4, -0.14328026746825751, w2);
    const double w3[] = {0.088162142429821497, 0.10968390441551111, -0.069239298218345971,
                         0.13011765894768948, -0.041126689100327553};
    check_golden(x, 40, 5, ys, 0.001, 0.083670068715221826, w3);
    const double w4[] = {0.62733670791040352, 0.94670012674039306, -0.14475760629238085,
                         -0.78439585775722842, 0.1782095904006078, 0.84142476986399117,
                         0.53076634281867519, -0.12392949828297631, -0.6482187071630342,
                         0.054651347357910732, 1.0894633237374705, 0.46584043282867221};
    check_golden(xw, 8, 12, yw, 0.01, -0.12721730129854864, w4);
}

/* ---- cross-validation -------------------------------------------------------------------- */

/* two clusters of embeddings, +-0.3 u around a common mean: perfectly separable */
static void test_separable(void)
{
    const int32_t n = 80, dim = 64;
    stats_rng r;
    stats_rng_seed(&r, 11);
    float *x = malloc(sizeof(float) * n * dim);
    double y[80], u[64], mu[64], w[64], b, nu = 0;
    for (int32_t k = 0; k < dim; k++) u[k] = gauss(&r), mu[k] = gauss(&r) / 8, nu += u[k] * u[k];
    for (int32_t i = 0; i < n; i++) {
        y[i] = i % 2;
        double row[64], s = 0;
        for (int32_t k = 0; k < dim; k++) {
            row[k] = mu[k] + (y[i] ? 0.3 : -0.3) * u[k] / sqrt(nu) + 0.05 * gauss(&r);
            s += row[k] * row[k];
        }
        for (int32_t k = 0; k < dim; k++) x[i * dim + k] = (float)(row[k] / sqrt(s));
    }
    solve_report rep;
    memset(&rep, 0, sizeof rep);
    double oof[80];
    rep.oof = oof;
    CHECK_EQ_INT(solve_cv(SOLVE_LOGISTIC, x, n, dim, y, NULL, 5, 1, w, &b, &rep), AE_OK);
    CHECK_NEAR(rep.cv_metric, 1.0, 0);
    CHECK_EQ_INT(rep.folds, 5);
    CHECK_EQ_INT(rep.unconverged, 0);
    CHECK(rep.grad_max <= SOLVE_GTOL);
    CHECK(rep.lambda >= 1e-6 && rep.lambda <= 100);
    CHECK(rep.cv_secondary > 0 && rep.cv_secondary < 0.2);
    CHECK_NEAR(stats_logloss(oof, y, n), rep.cv_secondary, 1e-12);
    double p[80];
    CHECK_EQ_INT(solve_predict(SOLVE_LOGISTIC, x, n, dim, w, b, p), AE_OK);
    CHECK_NEAR(stats_accuracy(p, y, n, 0.5, 0.5), 1.0, 0);
    /* the smallest penalty on separable rows: bounded (lambda |w|^2 <= f(0, 0) = log 2), and optimal */
    solve_info info;
    CHECK_EQ_INT(solve_fit(SOLVE_LOGISTIC, x, n, dim, y, NULL, 0, 1e-6, w, &b, &info), AE_OK);
    double ww = 0;
    for (int32_t k = 0; k < dim; k++) ww += w[k] * w[k];
    CHECK(1e-6 * ww <= log(2));
    CHECK(ww > 100); /* and large: the data pull it apart */
    CHECK_EQ_INT(info.converged, 1);
    CHECK(grad_norm(SOLVE_LOGISTIC, x, n, dim, y, NULL, n, 1e-6, w, b) < 1e-8);
    CHECK(objective(SOLVE_LOGISTIC, x, n, dim, y, 1e-6, w, b) < 0.01);
    free(x);
}

/* ratings linear in a direction u plus noise: ridge recovers u and ranks well */
static void test_ridge_direction(void)
{
    const int32_t n = 600, dim = 48;
    float *x = rows_random(n, dim, 21);
    stats_rng r;
    stats_rng_seed(&r, 22);
    double u[48], y[600], w[48], b, nu = 0;
    for (int32_t k = 0; k < dim; k++) u[k] = gauss(&r), nu += u[k] * u[k];
    for (int32_t k = 0; k < dim; k++) u[k] /= sqrt(nu);
    double sy = 0;
    for (int32_t i = 0; i < n; i++) {
        double t = 0;
        for (int32_t k = 0; k < dim; k++) t += u[k] * x[i * dim + k];
        y[i] = 5 + 20 * t + 0.3 * gauss(&r);
        sy += y[i];
    }
    solve_report rep;
    memset(&rep, 0, sizeof rep);
    CHECK_EQ_INT(solve_cv(SOLVE_RIDGE, x, n, dim, y, NULL, 5, 3, w, &b, &rep), AE_OK);
    CHECK_MSG(rep.cv_metric > 0.9, "Spearman %.4f", rep.cv_metric);
    double cw = 0, nw = 0;
    for (int32_t k = 0; k < dim; k++) cw += w[k] * u[k], nw += w[k] * w[k];
    CHECK_MSG(cw / sqrt(nw) > 0.95, "cosine %.4f", cw / sqrt(nw));
    CHECK(rep.cv_secondary > 0 && rep.cv_secondary < 1);
    CHECK(rep.lambda < 1e-2); /* the signal is strong: little penalty */
    free(x);
}

/* ---- folds -------------------------------------------------------------------------------- */

static void fold_stats(const int32_t *fold, const double *y, int32_t n, int32_t k, int32_t *size,
                       double *pos)
{
    for (int32_t f = 0; f < k; f++) size[f] = 0, pos[f] = 0;
    for (int32_t i = 0; i < n; i++) {
        size[fold[i]]++;
        pos[fold[i]] += y ? y[i] : 0;
    }
}

static void test_folds(void)
{
    enum { N = 300 };
    int32_t fold[N], fold2[N], size[10];
    int64_t groups[N];
    double y[N], pos[10];
    stats_rng r;
    stats_rng_seed(&r, 5);
    /* groups of 1 to 5 rows, one label per group (30% good) */
    int32_t gmax = 0;
    for (int32_t i = 0, g = 0; i < N; g++) {
        int32_t len = 1 + (int32_t)stats_rng_below(&r, 5);
        double lab = stats_rng_uniform(&r) < 0.3;
        if (len > gmax) gmax = len;
        for (int32_t j = 0; j < len && i < N; j++, i++) groups[i] = 1000 + 7 * g, y[i] = lab;
    }
    CHECK_EQ_INT(solve_folds(y, groups, N, 5, 42, fold), 5);
    int split = 0;
    for (int32_t i = 0; i < N; i++)
        for (int32_t j = i + 1; j < N; j++) split += groups[i] == groups[j] && fold[i] != fold[j];
    CHECK_EQ_INT(split, 0);
    fold_stats(fold, y, N, 5, size, pos);
    int32_t smin = N, smax = 0;
    double share = 0;
    for (int32_t i = 0; i < N; i++) share += y[i] / N;
    for (int32_t f = 0; f < 5; f++) {
        smin = size[f] < smin ? size[f] : smin, smax = size[f] > smax ? size[f] : smax;
        CHECK_MSG(fabs(pos[f] - share * size[f]) <= gmax, "fold %d: %g good of %d", f, pos[f], size[f]);
    }
    CHECK_MSG(smax - smin <= gmax, "fold sizes %d..%d, largest group %d", smin, smax, gmax);
    CHECK(smin > 0);
    /* deterministic for a seed, different for another */
    CHECK_EQ_INT(solve_folds(y, groups, N, 5, 42, fold2), 5);
    CHECK(memcmp(fold, fold2, sizeof fold) == 0);
    CHECK_EQ_INT(solve_folds(y, groups, N, 5, 43, fold2), 5);
    CHECK(memcmp(fold, fold2, sizeof fold) != 0);

    /* singletons (groups NULL): sizes within 1, good rows per fold within 1 of their share */
    for (int32_t i = 0; i < N; i++) y[i] = (i * 37) % 10 < 3;
    CHECK_EQ_INT(solve_folds(y, NULL, N, 7, 1, fold), 7);
    fold_stats(fold, y, N, 7, size, pos);
    smin = N, smax = 0;
    for (int32_t f = 0; f < 7; f++) {
        smin = size[f] < smin ? size[f] : smin, smax = size[f] > smax ? size[f] : smax;
        CHECK_MSG(fabs(pos[f] - 0.3 * size[f]) <= 1, "fold %d: %g good of %d", f, pos[f], size[f]);
    }
    CHECK(smax - smin <= 1);
    /* ratings: the folds' mean ratings close to the overall mean */
    for (int32_t i = 0; i < N; i++) y[i] = 1 + 9 * stats_rng_uniform(&r);
    CHECK_EQ_INT(solve_folds(y, NULL, N, 5, 1, fold), 5);
    fold_stats(fold, y, N, 5, size, pos);
    double mean = 0;
    for (int32_t i = 0; i < N; i++) mean += y[i] / N;
    for (int32_t f = 0; f < 5; f++) CHECK_MSG(fabs(pos[f] / size[f] - mean) < 0.2, "fold %d mean %g vs %g", f, pos[f] / size[f], mean);

    /* fewer groups than folds: k reduced, none empty */
    int64_t g3[] = {5, 9, 5, 2, 9, 9, 2};
    double y3[] = {1, 0, 1, 0, 0, 1, 1};
    CHECK_EQ_INT(solve_folds(y3, g3, 7, 5, 1, fold), 3);
    fold_stats(fold, NULL, 7, 3, size, pos);
    for (int32_t f = 0; f < 3; f++) CHECK(size[f] > 0);
    CHECK(fold[0] == fold[2] && fold[1] == fold[4] && fold[1] == fold[5] && fold[3] == fold[6]);
    CHECK_EQ_INT(solve_folds(NULL, g3, 7, 2, 1, fold), 2); /* y NULL: no stratification */

    /* the assignment of a seed is pinned (stats_rng is the same on every platform): a change of
     * this vector changes every user's folds, so it should be deliberate */
    const double yp[10] = {1, 0, 0, 1, 0, 1, 1, 0, 0, 0};
    CHECK_EQ_INT(solve_folds(yp, NULL, 10, 3, 2022, fold), 3);
    const int32_t pinned[10] = {1, 2, 0, 0, 1, 0, 2, 1, 2, 0};
    int same = 1;
    for (int32_t i = 0; i < 10; i++) same &= fold[i] == pinned[i];
    CHECK_MSG(same, "folds %d %d %d %d %d %d %d %d %d %d", fold[0], fold[1], fold[2], fold[3], fold[4],
              fold[5], fold[6], fold[7], fold[8], fold[9]);
}

/* Every group is a row repeated: a model that saw a row's fold would predict it almost
 * perfectly. The out-of-fold predictions must be those of the fold's own model, refitted here
 * with solve_fit on the other folds' rows. */
static void check_oof(solve_kind kind, int32_t ngroups, int32_t rep_rows, int32_t dim, uint64_t seed)
{
    int32_t n = ngroups * rep_rows;
    float *base = rows_random(ngroups, dim, seed);
    float *x = malloc(sizeof(float) * (size_t)n * dim);
    double *y = malloc(sizeof(double) * n), *oof = malloc(sizeof(double) * n), *pred = malloc(sizeof(double) * n);
    double *w = malloc(sizeof(double) * dim), *w2 = malloc(sizeof(double) * dim), b, b2;
    int64_t *groups = malloc(sizeof(int64_t) * n);
    int32_t *fold = malloc(sizeof(int32_t) * n), *rows = malloc(sizeof(int32_t) * n);
    stats_rng r;
    stats_rng_seed(&r, seed);
    for (int32_t g = 0; g < ngroups; g++) {
        double lab = kind == SOLVE_LOGISTIC ? (double)(g % 3 == 0) : 4 + 10 * base[g * dim] + gauss(&r);
        for (int32_t j = 0; j < rep_rows; j++) {
            int32_t i = g * rep_rows + j;
            memcpy(x + (size_t)i * dim, base + (size_t)g * dim, sizeof(float) * dim);
            y[i] = lab;
            groups[i] = g;
        }
    }
    solve_report rep;
    memset(&rep, 0, sizeof rep);
    rep.oof = oof;
    CHECK_EQ_INT(solve_cv(kind, x, n, dim, y, groups, 4, 99, w, &b, &rep), AE_OK);
    CHECK_EQ_INT(rep.folds, 4);
    CHECK_EQ_INT(solve_folds(y, groups, n, 4, 99, fold), 4);
    double maxd = 0;
    for (int32_t f = 0; f < 4; f++) {
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++)
            if (fold[i] != f) rows[m++] = i;
        CHECK_EQ_INT(solve_fit(kind, x, n, dim, y, rows, m, rep.lambda, w2, &b2, NULL), AE_OK);
        CHECK_EQ_INT(solve_predict(kind, x, n, dim, w2, b2, pred), AE_OK);
        for (int32_t i = 0; i < n; i++)
            if (fold[i] == f) maxd = fmax(maxd, fabs(oof[i] - pred[i]) / fmax(1, fabs(pred[i])));
    }
    CHECK_MSG(maxd < 1e-9, "%s %d x %d: out-of-fold vs refit: %.3g", kind == SOLVE_LOGISTIC ? "logistic" : "ridge",
              n, dim, maxd);
    /* the returned model is the refit on all rows at the chosen penalty */
    CHECK_EQ_INT(solve_fit(kind, x, n, dim, y, NULL, 0, rep.lambda, w2, &b2, NULL), AE_OK);
    double wd = fabs(b - b2);
    for (int32_t k = 0; k < dim; k++) wd = fmax(wd, fabs(w[k] - w2[k]));
    CHECK_MSG(wd < 1e-9 * fmax(1, fabs(b2)), "final model vs solve_fit: %.3g", wd);
    /* and the criterion is that of the out-of-fold predictions */
    double crit = kind == SOLVE_LOGISTIC ? stats_logloss(oof, y, n) : stats_mse(oof, y, n);
    CHECK_NEAR(rep.cv_secondary, crit, 1e-12);
    double metric = kind == SOLVE_LOGISTIC ? stats_accuracy(oof, y, n, 0.5, 0.5) : stats_spearman(oof, y, n);
    CHECK_NEAR(rep.cv_metric, metric, 1e-12);
    free(base), free(x), free(y), free(oof), free(pred), free(w), free(w2), free(groups), free(fold), free(rows);
}

static void test_oof(void)
{
    check_oof(SOLVE_LOGISTIC, 40, 3, 16, 1); /* folds' fits on float rows */
    check_oof(SOLVE_RIDGE, 40, 3, 16, 2);
    check_oof(SOLVE_LOGISTIC, 12, 2, 40, 3); /* fewer rows than dimensions, duplicates in the basis */
    check_oof(SOLVE_RIDGE, 12, 2, 40, 4);
}

/* ---- validation --------------------------------------------------------------------------- */

static void expect(int rc, const char *msg)
{
    CHECK_EQ_INT(rc, AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), msg);
}

static void test_validation(void)
{
    float x[6 * 4];
    double y[6] = {1, 0, 1, 0, 1, 0}, w[4], b;
    for (int i = 0; i < 24; i++) x[i] = (float)sin(i + 1.0);
    int64_t g[6] = {1, 2, 3, 4, 5, 6}, g1[6] = {7, 7, 7, 7, 7, 7};
    int32_t fold[6], rows[3] = {0, 1, 9};
    solve_report rep;

    expect(solve_cv(SOLVE_LOGISTIC, NULL, 6, 4, y, g, 2, 1, w, &b, &rep), "NULL argument");
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, NULL, g, 2, 1, w, &b, &rep), "NULL argument");
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, y, g, 2, 1, NULL, &b, &rep), "NULL argument");
    expect(solve_cv((solve_kind)7, x, 6, 4, y, g, 2, 1, w, &b, &rep), "unknown kind 7");
    expect(solve_cv(SOLVE_LOGISTIC, x, 1, 4, y, g, 2, 1, w, &b, &rep), "1 row: training needs at least 2");
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 0, y, g, 2, 1, w, &b, &rep), "dimension 0 is outside 1..4096");
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4097, y, g, 2, 1, w, &b, &rep), "dimension 4097 is outside 1..4096");
    CHECK(isnan(rep.lambda)); /* a failed call leaves no stale numbers */
    x[13] = NAN;
    expect(solve_cv(SOLVE_RIDGE, x, 6, 4, y, g, 2, 1, w, &b, &rep), "embedding 3 is not finite (value 1 is nan)");
    x[13] = INFINITY;
    expect(solve_fit(SOLVE_RIDGE, x, 6, 4, y, NULL, 0, 1, w, &b, NULL), "embedding 3 is not finite");
    x[13] = 0.5f;
    y[2] = INFINITY;
    expect(solve_cv(SOLVE_RIDGE, x, 6, 4, y, g, 2, 1, w, &b, &rep), "target 2 is not finite");
    y[2] = 1.5;
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, y, g, 2, 1, w, &b, &rep), "label 2 is 1.5: logistic labels lie in [0, 1]");
    y[2] = -0.5;
    expect(solve_fit(SOLVE_LOGISTIC, x, 6, 4, y, NULL, 0, 1, w, &b, NULL), "label 2 is -0.5");
    y[2] = 1;
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, y, g, 1, 1, w, &b, &rep), "cross-validation needs at least 2 folds, not 1");
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, y, g1, 3, 1, w, &b, &rep),
           "all 6 rows share one group: cross-validation needs at least 2 groups");
    double good[6] = {1, 1, 0.75, 1, 0.6, 1}, bad[6] = {0, 0, 0.5, 0, 0, 0.25};
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, good, g, 2, 1, w, &b, &rep),
           "all 6 labels are 'good' (> 0.5): training needs both good and bad examples");
    expect(solve_cv(SOLVE_LOGISTIC, x, 6, 4, bad, g, 2, 1, w, &b, &rep),
           "all 6 labels are 'bad' (<= 0.5): training needs both good and bad examples");
    double ones[6] = {1, 1, 1, 1, 1, 1}, zeros[6] = {0};
    expect(solve_fit(SOLVE_LOGISTIC, x, 6, 4, ones, NULL, 0, 1, w, &b, NULL),
           "all 6 labels are 'good': training needs both good and bad examples");
    expect(solve_fit(SOLVE_LOGISTIC, x, 6, 4, zeros, NULL, 0, 1, w, &b, NULL), "all 6 labels are 'bad'");
    /* one good row: the fold holding it leaves its model nothing good to learn from */
    double one[4] = {1, 0, 0, 0};
    expect(solve_cv(SOLVE_LOGISTIC, x, 4, 4, one, NULL, 2, 1, w, &b, &rep),
           "of 2: its training rows: all 2 labels are 'bad': training needs both good and bad examples");
    /* solve_fit: penalty, rows */
    expect(solve_fit(SOLVE_RIDGE, x, 6, 4, y, NULL, 0, 0, w, &b, NULL), "penalty 0: it must be positive and finite");
    expect(solve_fit(SOLVE_RIDGE, x, 6, 4, y, NULL, 0, INFINITY, w, &b, NULL), "penalty inf");
    expect(solve_fit(SOLVE_RIDGE, x, 6, 4, y, rows, 3, 1, w, &b, NULL), "row 9 is outside 0..5");
    expect(solve_fit(SOLVE_RIDGE, x, 6, 4, y, rows, 1, 1, w, &b, NULL), "1 row: training needs at least 2");
    expect(solve_fit(SOLVE_RIDGE, x, 6, 4, y, NULL, 0, 1, NULL, &b, NULL), "NULL argument");
    /* solve_folds, solve_predict */
    expect(solve_folds(y, g, 6, 1, 1, fold), "at least 2 folds, not 1");
    expect(solve_folds(y, g, 1, 2, 1, fold), "1 row: cross-validation needs at least 2");
    expect(solve_folds(y, g, 6, 2, 1, NULL), "NULL argument");
    expect(solve_folds(y, g1, 6, 2, 1, fold), "share one group");
    y[4] = NAN;
    expect(solve_folds(y, g, 6, 2, 1, fold), "target 4 is not finite");
    expect(solve_predict(SOLVE_RIDGE, x, 6, 4, NULL, 0, y), "solve_predict: invalid arguments");
    /* identical rows: nothing to learn but the bias (the basis is empty with fewer rows than
     * dimensions), for both kinds */
    float same[5 * 3];
    double ys[5] = {1, 0, 1, 1, 0}, ws[4];
    for (int i = 0; i < 15; i++) same[i] = (float)(i % 3) / 3;
    for (int kind = 0; kind < 2; kind++)
        for (int32_t nn = 2; nn <= 5; nn += 3) { /* 2 rows of 3 values, 5 of 3 */
            double mean = 0, w2 = 0;
            for (int32_t i = 0; i < nn; i++) mean += ys[i] / nn;
            CHECK_EQ_INT(solve_fit((solve_kind)kind, same, nn, 3, ys, NULL, 0, 1e-3, ws, &b, NULL), AE_OK);
            for (int k = 0; k < 3; k++) w2 += ws[k] * ws[k];
            CHECK(w2 < 1e-20);
            double z = b + ws[1] / 3 + 2 * ws[2] / 3;
            CHECK_NEAR(kind == SOLVE_LOGISTIC ? 1 / (1 + exp(-z)) : z, mean, 1e-10);
        }
    memset(&rep, 0, sizeof rep);
    CHECK_EQ_INT(solve_cv(SOLVE_LOGISTIC, same, 5, 3, ys, NULL, 2, 1, ws, &b, &rep), AE_OK);
    CHECK_NEAR(rep.lambda, 100, 1e-12); /* every penalty ties: the largest */
    /* the grid */
    CHECK_NEAR(solve_lambda(0), 100, 1e-12);
    CHECK_NEAR(solve_lambda(4), 1, 1e-15);
    CHECK_NEAR(solve_lambda(SOLVE_NLAMBDA - 1), 1e-6, 1e-20);
    CHECK(isnan(solve_lambda(-1)) && isnan(solve_lambda(SOLVE_NLAMBDA)));
    for (int32_t j = 1; j < SOLVE_NLAMBDA; j++) CHECK_NEAR(solve_lambda(j - 1) / solve_lambda(j), sqrt(10), 1e-12);
}

int main(void)
{
    test_optimality();
    test_fit_rows();
    test_ridge_exact();
    test_golden();
    test_separable();
    test_ridge_direction();
    test_folds();
    test_oof();
    test_validation();
    return test_summary();
}
