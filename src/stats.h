/*
 * stats.h — the statistics of evaluating and training aesthetic heads, in double precision.
 *
 * The evaluation protocol is that of "CLIP knows image aesthetics" (Hentschel, Kobs, Hotho
 * 2022) on AVA: an image is good iff its mean rating is > 5; a head is judged by the binary
 * accuracy of its good/bad decision, by Spearman's rank correlation (SRCC) and by Pearson's
 * linear correlation (PLCC) between its scores and the mean ratings.
 *
 *   - stats_pearson, stats_spearman: as scipy.stats.pearsonr / spearmanr (Spearman = Pearson of
 *     the average ranks, ties sharing the mean of their positions, scipy's rankdata "average").
 *   - stats_accuracy: the share of rows where (pred > pred_threshold) == (truth >
 *     truth_threshold); stats_logloss, stats_mse: the secondary criteria of model selection.
 *   - stats_bootstrap: percentile intervals of a metric over resamples of the rows drawn with
 *     replacement from a seeded generator (deterministic for a seed, on every platform).
 *
 * Undefined values are NaN, never a crash or an error code: n < 2 (n < 1 for accuracy, log-loss,
 * MSE), a NaN or infinity anywhere in the input, or zero variance of either side of a
 * correlation (scipy returns NaN there too, with a warning). Nothing here keeps state; every
 * function is thread-safe.
 *
 * stats_rng is the one seeded generator of the library (bootstrap resampling, cross-validation
 * folds): xoshiro256** (Blackman, Vigna 2018) seeded through splitmix64, bounded draws by
 * Lemire's multiply-and-reject, so a seed gives the same stream everywhere.
 */
#ifndef AE_STATS_H
#define AE_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pearson's r of x and y (n values each), clipped to [-1, 1]; NaN when undefined (above). */
double stats_pearson(const double *x, const double *y, int32_t n);

/* Spearman's rho: Pearson's r of the average ranks of x and of y. NaN when undefined, and NaN
 * with ae_last_error() set (AE_ERR_NOMEM) if its 2n-double scratch cannot be allocated. */
double stats_spearman(const double *x, const double *y, int32_t n);

/* The indices of the n values in ascending order, ties by index (a stable order): order (n,
 * caller's). The values must not be NaN. Returns AE_OK, AE_ERR_INVALID or AE_ERR_NOMEM. */
int stats_order(const double *x, int32_t n, int32_t *order);
/* Average ranks, 1-based: ranks[i] = 1 + (rows smaller than x[i]) + (ties of x[i] - 1) / 2,
 * as scipy.stats.rankdata(method="average"). If any x is NaN every rank is NaN (scipy's
 * propagation). ranks (n, caller's) may not alias x. Returns AE_OK, AE_ERR_INVALID (n < 0 or
 * NULL with n > 0) or AE_ERR_NOMEM. */
int stats_rank(const double *x, int32_t n, double *ranks);

/* Share of the n rows where (pred[i] > pred_threshold) == (truth[i] > truth_threshold): the
 * paper's binary accuracy with truth = mean rating, truth_threshold = 5, and pred a predicted
 * rating (threshold 5) or a probability of "good" (threshold 0.5). NaN when n < 1 or any
 * value is NaN. */
double stats_accuracy(const double *pred, const double *truth, int32_t n, double pred_threshold,
                      double truth_threshold);

/* Mean binary cross-entropy of probabilities p against labels y in {0, 1} (other values are
 * used as soft labels), with p clipped to [1e-15, 1 - 1e-15] as scikit-learn's log_loss. NaN
 * when n < 1 or any value is NaN. */
double stats_logloss(const double *p, const double *y, int32_t n);

/* Mean squared difference; NaN when n < 1 or any value is NaN. */
double stats_mse(const double *pred, const double *truth, int32_t n);

/* ---- metrics by name, for the bootstrap and for callers that report several ---------- */

typedef enum stats_kind { STATS_PEARSON, STATS_SPEARMAN, STATS_ACCURACY } stats_kind;

typedef struct stats_metric {
    stats_kind kind;
    double pred_threshold, truth_threshold; /* STATS_ACCURACY only */
} stats_metric;

/* The metric of pred against truth (n rows). */
double stats_metric_eval(const stats_metric *m, const double *pred, const double *truth,
                         int32_t n);

typedef struct stats_interval {
    double value;      /* the metric on all n rows */
    double lo, hi;     /* the 2.5th and 97.5th percentiles of the resampled metric */
    int32_t resamples; /* resamples drawn */
    int32_t valid;     /* of which the metric was defined (a resample of constant rows is not) */
} stats_interval;

/* Percentile bootstrap 95% interval (Efron & Tibshirani 1993, ch. 13): resamples times, draw n
 * row indices uniformly with replacement (stats_rng seeded with seed, the same for every
 * metric), evaluate the metric on the resampled pairs; lo and hi are the 2.5th and 97.5th
 * percentiles of the valid values, interpolated linearly between order statistics (numpy's
 * default percentile). value, lo and hi are NaN when the metric is undefined on all rows or
 * no resample is valid. Returns AE_OK, AE_ERR_INVALID (n < 1, resamples < 1, NULL pointers)
 * or AE_ERR_NOMEM. Time: resamples x the metric's cost (n log n for Spearman). */
int stats_bootstrap(const stats_metric *m, const double *pred, const double *truth, int32_t n,
                    int32_t resamples, uint64_t seed, stats_interval *out);

/* ---- the seeded generator ----------------------------------------------------------------- */

typedef struct stats_rng {
    uint64_t s[4];
} stats_rng;

/* xoshiro256** state from four splitmix64 outputs of seed (any seed, 0 included). */
void stats_rng_seed(stats_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t stats_rng_next(stats_rng *r);
/* Uniform in [0, bound) without modulo bias (Lemire 2019); bound >= 1. */
uint64_t stats_rng_below(stats_rng *r, uint64_t bound);
/* Uniform in [0, 1) with 53 random bits. */
double stats_rng_uniform(stats_rng *r);

#ifdef __cplusplus
}
#endif

#endif
