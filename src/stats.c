/*
 * stats.c — correlations, ranks, accuracy, bootstrap intervals and the seeded generator
 * (stats.h).
 *
 * Correlations are computed as scipy does: two passes (means first, then centred sums), so
 * that data far from zero (ratings around 5, ranks around n / 2) loses no digits, and the
 * result clipped to [-1, 1]. Ranks come from one sort of (value, index) pairs; runs of equal
 * values share the mean of their 1-based positions.
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* 1 if all n values are finite */
static int finite_all(const double *x, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

double stats_pearson(const double *x, const double *y, int32_t n)
{
    if (n < 2 || !x || !y || !finite_all(x, n) || !finite_all(y, n)) return NAN;
    double mx = 0, my = 0;
    for (int32_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int32_t i = 0; i < n; i++) {
        double a = x[i] - mx, b = y[i] - my;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if (!(sxx > 0) || !(syy > 0)) return NAN;
    double r = sxy / (sqrt(sxx) * sqrt(syy));
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct keyed {
    double v;
    int32_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->v != q->v) return p->v < q->v ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

int stats_order(const double *x, int32_t n, int32_t *order)
{
    if (n < 0 || (n > 0 && (!x || !order)))
        return ae_fail(AE_ERR_INVALID, "stats_order: bad arguments (n = %d)", (int)n);
    if (n == 0) return AE_OK;
    keyed *k = malloc((size_t)n * sizeof *k);
    if (!k) return ae_fail(AE_ERR_NOMEM, "stats_order: out of memory (%d values)", (int)n);
    for (int32_t i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof *k, keyed_cmp);
    for (int32_t i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
    return AE_OK;
}

int stats_rank(const double *x, int32_t n, double *ranks)
{
    if (n < 0 || (n > 0 && (!x || !ranks)))
        return ae_fail(AE_ERR_INVALID, "stats_rank: bad arguments (n = %d)", (int)n);
    for (int32_t i = 0; i < n; i++)
        if (isnan(x[i])) {
            for (int32_t j = 0; j < n; j++) ranks[j] = NAN;
            return AE_OK;
        }
    if (n == 0) return AE_OK;
    int32_t *o = malloc((size_t)n * sizeof *o);
    if (!o) return ae_fail(AE_ERR_NOMEM, "stats_rank: out of memory (%d values)", (int)n);
    int rc = stats_order(x, n, o);
    for (int32_t a = 0; rc == AE_OK && a < n;) {
        int32_t b = a;
        while (b + 1 < n && x[o[b + 1]] == x[o[a]]) b++;
        double r = (a + b) / 2.0 + 1; /* positions a..b, 1-based */
        for (int32_t j = a; j <= b; j++) ranks[o[j]] = r;
        a = b + 1;
    }
    free(o);
    return rc;
}

double stats_spearman(const double *x, const double *y, int32_t n)
{
    if (n < 2 || !x || !y || !finite_all(x, n) || !finite_all(y, n)) return NAN;
    double *r = malloc(2 * (size_t)n * sizeof *r);
    if (!r) {
        ae_fail(AE_ERR_NOMEM, "stats_spearman: out of memory (%d values)", (int)n);
        return NAN;
    }
    double rho = NAN;
    if (!stats_rank(x, n, r) && !stats_rank(y, n, r + n)) rho = stats_pearson(r, r + n, n);
    free(r);
    return rho;
}

double stats_accuracy(const double *pred, const double *truth, int32_t n, double pred_threshold,
                      double truth_threshold)
{
    if (n < 1 || !pred || !truth) return NAN;
    int64_t hit = 0;
    for (int32_t i = 0; i < n; i++) {
        if (isnan(pred[i]) || isnan(truth[i])) return NAN;
        hit += (pred[i] > pred_threshold) == (truth[i] > truth_threshold);
    }
    return (double)hit / n;
}

double stats_logloss(const double *p, const double *y, int32_t n)
{
    if (n < 1 || !p || !y) return NAN;
    const double eps = 1e-15;
    double s = 0;
    for (int32_t i = 0; i < n; i++) {
        if (isnan(p[i]) || isnan(y[i])) return NAN;
        double q = p[i] < eps ? eps : p[i] > 1 - eps ? 1 - eps : p[i];
        s -= y[i] * log(q) + (1 - y[i]) * log1p(-q);
    }
    return s / n;
}

double stats_mse(const double *pred, const double *truth, int32_t n)
{
    if (n < 1 || !pred || !truth) return NAN;
    double s = 0;
    for (int32_t i = 0; i < n; i++) {
        double d = pred[i] - truth[i];
        if (isnan(d)) return NAN;
        s += d * d;
    }
    return s / n;
}

double stats_metric_eval(const stats_metric *m, const double *pred, const double *truth,
                         int32_t n)
{
    switch (m->kind) {
    case STATS_PEARSON: return stats_pearson(pred, truth, n);
    case STATS_SPEARMAN: return stats_spearman(pred, truth, n);
    case STATS_ACCURACY:
        return stats_accuracy(pred, truth, n, m->pred_threshold, m->truth_threshold);
    }
    return NAN;
}

static int double_cmp(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

/* The q-quantile (0..1) of sorted v[0..n), linear between order statistics (numpy "linear") */
static double quantile_sorted(const double *v, int32_t n, double q)
{
    double h = q * (n - 1);
    int32_t lo = (int32_t)floor(h);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);
}

int stats_bootstrap(const stats_metric *m, const double *pred, const double *truth, int32_t n,
                    int32_t resamples, uint64_t seed, stats_interval *out)
{
    if (!m || !pred || !truth || !out || n < 1 || resamples < 1)
        return ae_fail(AE_ERR_INVALID, "stats_bootstrap: bad arguments (n = %d, resamples = %d)",
                       (int)n, (int)resamples);
    out->value = out->lo = out->hi = NAN;
    out->resamples = resamples;
    out->valid = 0;
    double *rp = malloc(2 * (size_t)n * sizeof *rp);
    double *vals = malloc((size_t)resamples * sizeof *vals);
    int rc = AE_OK;
    if (!rp || !vals) {
        rc = ae_fail(AE_ERR_NOMEM, "stats_bootstrap: out of memory (%d rows, %d resamples)",
                     (int)n, (int)resamples);
        goto done;
    }
    out->value = stats_metric_eval(m, pred, truth, n);
    if (isnan(out->value)) goto done;
    double *rt = rp + n;
    stats_rng g;
    stats_rng_seed(&g, seed);
    int32_t nv = 0;
    for (int32_t b = 0; b < resamples; b++) {
        for (int32_t i = 0; i < n; i++) {
            int32_t j = (int32_t)stats_rng_below(&g, (uint64_t)n);
            rp[i] = pred[j];
            rt[i] = truth[j];
        }
        double v = stats_metric_eval(m, rp, rt, n);
        if (!isnan(v)) vals[nv++] = v;
    }
    out->valid = nv;
    if (nv > 0) {
        qsort(vals, (size_t)nv, sizeof *vals, double_cmp);
        out->lo = quantile_sorted(vals, nv, 0.025);
        out->hi = quantile_sorted(vals, nv, 0.975);
    }
done:
    free(rp);
    free(vals);
    return rc;
}

/* ---- xoshiro256** seeded by splitmix64 ------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void stats_rng_seed(stats_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t stats_rng_next(stats_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t stats_rng_below(stats_rng *r, uint64_t bound)
{
    /* the high word of a 64 x 64 product is uniform once draws with a low word under
     * 2^64 mod bound are rejected */
    unsigned __int128 p = (unsigned __int128)stats_rng_next(r) * bound;
    uint64_t lo = (uint64_t)p;
    if (lo < bound) {
        uint64_t thresh = -bound % bound; /* 2^64 mod bound */
        while (lo < thresh) {
            p = (unsigned __int128)stats_rng_next(r) * bound;
            lo = (uint64_t)p;
        }
    }
    return (uint64_t)(p >> 64);
}

double stats_rng_uniform(stats_rng *r) { return (double)(stats_rng_next(r) >> 11) * 0x1p-53; }
