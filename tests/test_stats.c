/*
 * test_stats.c — src/stats.c against scipy, and the bootstrap's determinism and coverage.
 *
 * Golden numbers: scipy 1.10.1 (Debian python3-scipy), on the data built below by the same
 * formulas in float64:
 *     i = np.arange(50); x = np.sin(1.3*i) + 0.1*i; y = np.cos(0.7*i) + 0.002*i*i
 *     scipy.stats.pearsonr(x, y)[0], scipy.stats.spearmanr(x, y)[0]
 *     a = np.floor(4*np.sin(1.7*i)); b = np.floor(3*np.cos(0.9*i)) + i % 3   (many ties)
 *     scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "aesthete.h"
#include "stats.h"
#include "test.h"

#define N 50

static void smooth(double *x, double *y)
{
    for (int i = 0; i < N; i++) {
        x[i] = sin(1.3 * i) + 0.1 * i;
        y[i] = cos(0.7 * i) + 0.002 * i * i;
    }
}

static void tied(double *a, double *b)
{
    for (int i = 0; i < N; i++) {
        a[i] = floor(4 * sin(1.7 * i));
        b[i] = floor(3 * cos(0.9 * i)) + i % 3;
    }
}

static void test_scipy(void)
{
    double x[N], y[N], a[N], b[N];
    smooth(x, y);
    tied(a, b);
    CHECK_NEAR(stats_pearson(x, y, N), 0.7863535866201998, 1e-9);
    CHECK_NEAR(stats_spearman(x, y, N), 0.784297719087635, 1e-9);
    CHECK_NEAR(stats_pearson(a, b, N), 0.08207307038739946, 1e-9);
    CHECK_NEAR(stats_spearman(a, b, N), 0.08877831847645723, 1e-9);
    /* symmetric, and invariant to monotone maps (Spearman) */
    CHECK_NEAR(stats_spearman(y, x, N), 0.784297719087635, 1e-12);
    double ex[N];
    for (int i = 0; i < N; i++) ex[i] = exp(x[i]);
    CHECK_NEAR(stats_spearman(ex, y, N), 0.784297719087635, 1e-12);
    CHECK_NEAR(stats_pearson(x, x, N), 1, 1e-15);
    for (int i = 0; i < N; i++) ex[i] = -2 * x[i] + 7;
    CHECK_NEAR(stats_pearson(x, ex, N), -1, 1e-15);
}

static void test_rank(void)
{
    const double v[11] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
    const double want[11] = {4.5, 1.5, 6.0, 1.5, 8.0, 11.0, 3.0, 10.0, 8.0, 4.5, 8.0};
    double r[11];
    CHECK_EQ_INT(stats_rank(v, 11, r), AE_OK);
    for (int i = 0; i < 11; i++) CHECK_NEAR(r[i], want[i], 0);
    const double nan_in[3] = {1, NAN, 2};
    CHECK_EQ_INT(stats_rank(nan_in, 3, r), AE_OK);
    CHECK(isnan(r[0]) && isnan(r[1]) && isnan(r[2]));
    CHECK_EQ_INT(stats_rank(v, -1, r), AE_ERR_INVALID);
    CHECK_EQ_INT(stats_rank(NULL, 0, NULL), AE_OK);
}

static void test_undefined(void)
{
    double x[N], y[N], c[N];
    smooth(x, y);
    for (int i = 0; i < N; i++) c[i] = 3;
    CHECK(isnan(stats_pearson(x, c, N)));   /* zero variance */
    CHECK(isnan(stats_spearman(c, y, N)));
    CHECK(isnan(stats_pearson(x, y, 1)));   /* n < 2 */
    CHECK(isnan(stats_spearman(x, y, 0)));
    CHECK(isnan(stats_spearman(x, y, -3)));
    CHECK(isnan(stats_pearson(NULL, y, N)));
    x[7] = NAN;
    CHECK(isnan(stats_pearson(x, y, N)));
    CHECK(isnan(stats_spearman(x, y, N)));
    CHECK(isnan(stats_accuracy(x, y, N, 0, 0)));
    CHECK(isnan(stats_mse(x, y, N)));
    x[7] = INFINITY;
    CHECK(isnan(stats_pearson(x, y, N)));
    CHECK(isnan(stats_spearman(x, y, N)));
    CHECK(isnan(stats_accuracy(x, y, 0, 0, 0)));
    CHECK(isnan(stats_logloss(x, y, 0)));
}

static void test_accuracy_losses(void)
{
    /* the paper's protocol: good iff mean rating > 5; predicted ratings against 5 */
    const double truth[6] = {5.0, 5.01, 6.2, 3.9, 7.1, 4.5};
    const double pred[6] = {4.9, 5.2, 5.0, 4.0, 6.0, 5.5};
    /* truth good: 0 1 1 0 1 0; pred good: 0 1 0 0 1 1 -> 4 of 6 */
    CHECK_NEAR(stats_accuracy(pred, truth, 6, 5, 5), 4.0 / 6, 1e-15);
    const double p[4] = {0.9, 0.2, 0.0, 1.0}, yl[4] = {1, 0, 0, 1};
    CHECK_NEAR(stats_logloss(p, yl, 4), (-log(0.9) - log(0.8)) / 4, 1e-15);
    const double p2[2] = {0.0, 1.0}, y2[2] = {1, 0}; /* clipped at 1e-15 as scikit-learn */
    CHECK_NEAR(stats_logloss(p2, y2, 2), (-log(1e-15) - log1p(-(1 - 1e-15))) / 2, 1e-12);
    CHECK_NEAR(stats_mse(pred, truth, 2), (0.01 + 0.19 * 0.19) / 2, 1e-15);
}

static void test_rng(void)
{
    stats_rng a, b;
    stats_rng_seed(&a, 42);
    stats_rng_seed(&b, 42);
    int same = 1, inrange = 1;
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t u = stats_rng_next(&a);
        same &= u == stats_rng_next(&b);
        uint64_t k = stats_rng_below(&a, 7);
        stats_rng_below(&b, 7);
        inrange &= k < 7;
        if (k < 7) hist[k]++;
        double f = stats_rng_uniform(&a);
        stats_rng_uniform(&b);
        inrange &= f >= 0 && f < 1;
    }
    CHECK(same);
    CHECK(inrange);
    for (int k = 0; k < 7; k++) CHECK_MSG(abs(hist[k] - 10000) < 500, "bucket %d: %d", k, hist[k]);
    stats_rng_seed(&b, 43);
    CHECK(stats_rng_next(&a) != stats_rng_next(&b));
    /* splitmix64 of seed 0 is the reference first output e220a8397b1dcdaf */
    stats_rng_seed(&a, 0);
    CHECK(a.s[0] == 0xe220a8397b1dcdafull);
}

/* Gaussian pair (Box-Muller) from the library's generator, for the coverage test */
static double gauss(stats_rng *r)
{
    double u = stats_rng_uniform(r), v = stats_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static void test_bootstrap(void)
{
    double x[N], y[N];
    smooth(x, y);
    stats_metric sp = {STATS_SPEARMAN, 0, 0};
    stats_interval a, b, c;
    CHECK_EQ_INT(stats_bootstrap(&sp, x, y, N, 500, 7, &a), AE_OK);
    CHECK_EQ_INT(stats_bootstrap(&sp, x, y, N, 500, 7, &b), AE_OK);
    CHECK_EQ_INT(stats_bootstrap(&sp, x, y, N, 500, 8, &c), AE_OK);
    CHECK_NEAR(a.value, 0.784297719087635, 1e-9);
    CHECK(a.lo == b.lo && a.hi == b.hi); /* deterministic for a seed */
    CHECK(a.lo != c.lo || a.hi != c.hi);
    CHECK(a.lo < a.value && a.value < a.hi && a.hi <= 1);
    CHECK_EQ_INT(a.resamples, 500);
    CHECK_EQ_INT(a.valid, 500);
    printf("  Spearman %.4f, 95%% interval [%.4f, %.4f] (500 resamples)\n", a.value, a.lo, a.hi);

    /* undefined on all rows: NaN interval, not an error */
    double cst[N];
    for (int i = 0; i < N; i++) cst[i] = 1;
    CHECK_EQ_INT(stats_bootstrap(&sp, cst, y, N, 50, 1, &c), AE_OK);
    CHECK(isnan(c.value) && isnan(c.lo) && isnan(c.hi));
    CHECK_EQ_INT(stats_bootstrap(&sp, x, y, 0, 50, 1, &c), AE_ERR_INVALID);
    CHECK_EQ_INT(stats_bootstrap(&sp, x, y, N, 0, 1, &c), AE_ERR_INVALID);

    /* coverage: samples of n = 200 from y = x + noise with ρ = 1/√2 (noise σ = 1): the
     * interval of Pearson's r must hold 0.7071 in about 95% of 200 trials */
    enum { M = 200, TRIALS = 200 };
    static double px[M], py[M];
    stats_rng g;
    stats_rng_seed(&g, 2022);
    stats_metric pe = {STATS_PEARSON, 0, 0};
    int hits = 0;
    for (int t = 0; t < TRIALS; t++) {
        for (int i = 0; i < M; i++) {
            px[i] = gauss(&g);
            py[i] = px[i] + gauss(&g);
        }
        stats_interval iv;
        stats_bootstrap(&pe, px, py, M, 400, (uint64_t)t, &iv);
        hits += iv.lo <= M_SQRT1_2 && M_SQRT1_2 <= iv.hi;
    }
    printf("  coverage of the Pearson interval: %d of %d\n", hits, TRIALS);
    CHECK_MSG(hits >= 176 && hits <= 199, "%d of %d", hits, TRIALS); /* 95% ± 3σ of a binomial */

    /* accuracy: a classifier right on 80 of 100 rows */
    double pr[100], tr[100];
    for (int i = 0; i < 100; i++) {
        tr[i] = i % 2 ? 6 : 4;
        pr[i] = i < 80 ? tr[i] : 10 - tr[i];
    }
    stats_metric ac = {STATS_ACCURACY, 5, 5};
    CHECK_EQ_INT(stats_bootstrap(&ac, pr, tr, 100, 1000, 3, &c), AE_OK);
    CHECK_NEAR(c.value, 0.8, 1e-15);
    /* binomial sd 0.04: the interval is about 0.72 .. 0.88 */
    CHECK_MSG(c.lo > 0.69 && c.lo < 0.75 && c.hi > 0.85 && c.hi < 0.91, "[%g, %g]", c.lo, c.hi);
}

int main(void)
{
    test_scipy();
    test_rank();
    test_undefined();
    test_accuracy_losses();
    test_rng();
    test_bootstrap();
    return test_summary();
}
