/*
 * solver.h — fitting linear heads on L2-normalised CLIP image embeddings: penalised logistic and
 * ridge regression, the penalty chosen by group-aware stratified k-fold cross-validation.
 *
 * The objectives, over the m rows a fit sees (x_i: dim floats, y_i: its target):
 *   - logistic: mean_i logloss(y_i, sigmoid(w·x_i + b)) + lambda |w|^2, with logloss(y, p) =
 *     -y log p - (1 - y) log(1 - p) and y_i in [0, 1] (0/1 labels, or soft labels);
 *   - ridge:    mean_i (w·x_i + b - y_i)^2 + lambda |w|^2.
 * The bias b is never penalised and lambda > 0, so each objective has one minimiser (for the
 * logistic one provided 0 < mean y < 1 over the rows; otherwise b runs off to infinity, and the
 * fit is refused).
 *
 * How each is solved (solver.c has the reasons):
 *   - The rows are shifted by their mean first (a shift moves only b, so the solution is the
 *     same), and when a fit has fewer rows than dimensions it works in an orthonormal basis of
 *     the span of its rows (a pivoted Cholesky factorisation of their Gram matrix; w lies in
 *     that span), so its size is min(rows, dim) + 1 either way (the kernel form's cost without
 *     a second solver). Rows whose distance from the span of the others is below 3e-6 of the
 *     largest row's norm (duplicates) add no dimension; a fold's fit on fewer rows than
 *     dimensions in a cross-validation of more than 6000 rows (a fold of huge groups) reads the
 *     float rows instead, to stay clear of a rows^2 Gram matrix.
 *   - Ridge: exactly, from the normal equations in double. The centred scatter matrix is
 *     reduced to tridiagonal form once (Householder), after which each lambda costs a
 *     tridiagonal solve: the whole grid for 2/3 p^3, four Cholesky factorisations' worth where
 *     one per penalty would be seventeen.
 *   - Logistic: Newton's method with a backtracking (Armijo) line search; each Newton system is
 *     solved by conjugate gradients with exact Hessian-vector products (a pass over the rows
 *     each), preconditioned by the Cholesky factor of a Hessian built at an earlier iterate and
 *     lambda (from all rows, or from an even subsample of 4 (p + 1) of them when there are
 *     more), rebuilt when CG starts needing many iterations: Newton's convergence without a
 *     rows x p^2 Hessian per step. Converged when |gradient| <= SOLVE_GTOL |gradient at w = 0,
 *     b = 0|, both in the solver's centred coordinates (the caller's gradient is within a
 *     factor 1 + |mean row| of it). Separable rows need nothing special: lambda > 0 bounds
 *     lambda |w|^2 by log 2. A fit stops without converging after SOLVE_MAX_NEWTON steps of
 *     one lambda, when no step decreases the objective any more (rounding level), or if even
 *     a shifted Hessian cannot be factorised; it keeps its best iterate (the line search only
 *     accepts descent), and solve_info / solve_report count it.
 *   - Lambda path: along the grid from large to small lambda, each fit starting from a secant
 *     prediction of the previous two solutions (or the previous one, if better).
 *
 * The grid: SOLVE_NLAMBDA = 17 values, two per decade, lambda_j = 10^(2 - j/2) for j = 0..16:
 * 1e2 down to 1e-6 (near its minimum the CV criterion changes little over a factor of 3.2, and
 * each grid point costs a fit per fold). solve_cv picks the lambda whose out-of-fold
 * predictions of all rows have the smallest log-loss (logistic) or mean squared error
 * (ridge), ties going to the larger lambda, then refits on all rows with it.
 *
 * Validation: NULL pointers, n < 2, dim outside 1..SOLVE_MAX_DIM, a non-finite x or y, a
 * logistic y outside [0, 1], folds < 2, fewer than 2 groups, a single class (logistic: every
 * label 1, or every label 0, for a fit; every label > 0.5, or none, for solve_cv, whose
 * accuracy needs both) fail with AE_ERR_INVALID and a one-line ae_last_error(); allocation
 * failures with AE_ERR_NOMEM. Nothing here prints, exits or keeps state: every function is
 * thread-safe. Memory, with p = min(rows, dim): about 4 (p + 1)^2 doubles, plus, when some
 * fit has fewer rows than dimensions, the rows' Gram matrix (rows^2 doubles), a centred double
 * copy of them and their basis (p^2); solve_cv adds 17 doubles per row (the out-of-fold
 * predictions at every lambda).
 */
#ifndef AE_SOLVER_H
#define AE_SOLVER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOLVE_MAX_DIM 4096
#define SOLVE_NLAMBDA 17      /* the penalty grid: 10^(2 - j/2), j = 0..16 */
#define SOLVE_GTOL 1e-10      /* logistic: relative gradient norm of convergence */
#define SOLVE_MAX_NEWTON 100  /* logistic: Newton steps per lambda at most */

typedef enum solve_kind { SOLVE_LOGISTIC, SOLVE_RIDGE } solve_kind;

/* lambda_j of the grid, j in 0..SOLVE_NLAMBDA-1 (descending); NaN outside. */
double solve_lambda(int32_t j);

typedef struct solve_info {
    int32_t iterations; /* Newton steps, over the whole continuation (logistic; 0 for ridge) */
    int32_t converged;  /* 1 if the final gradient met SOLVE_GTOL (ridge: always 1) */
    double grad_norm;   /* final |gradient| / |gradient at w = 0, b = 0| (ridge: 0) */
} solve_info;

/* Fits one penalty on the rows rows[0..nrows) of x (n rows of dim floats, row-major; rows NULL:
 * all n rows, nrows ignored), targets y[row] (n values, only the chosen rows are read):
 * w (dim, caller's) and *b. The logistic fit follows the grid from 1e2 down to lambda (the grid
 * values above it, then lambda itself), warm-starting each from the last, which keeps small
 * penalties on separable rows a few Newton steps each. lambda > 0. info may be NULL. Returns
 * AE_OK (also when the logistic fit did not converge: info says so), AE_ERR_INVALID or
 * AE_ERR_NOMEM. */
int solve_fit(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *y,
              const int32_t *rows, int32_t nrows, double lambda, double *w, double *b,
              solve_info *info);

/* pred[i] = w·x_i + b for the n rows (ridge: the predicted rating), or its sigmoid (logistic:
 * the probability of "good"): pred (n, caller's). Returns AE_OK or AE_ERR_INVALID. */
int solve_predict(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *w,
                  double b, double *pred);

/* Group-aware stratified k-fold: fold[i] (n, caller's) in 0..k'-1 for each row. Rows with one
 * group id (groups NULL: each row its own group) share a fold. The groups are shuffled by
 * stats_rng seeded with seed (deterministic for a seed on every platform), ordered by size
 * (largest first), then by mean target when y is given (y NULL: no stratification), ties in
 * shuffled order, and each goes to a fold of the smallest size so far; among those, to the one
 * whose sum of targets stays closest to its share (the folds' share of positives, or their mean
 * rating). So fold sizes differ by at most the largest group, and every fold is non-empty.
 * k' = min(k, number of groups). Returns k' (>= 2), or AE_ERR_INVALID (n < 2, k < 2, fewer
 * than 2 groups, a non-finite y, NULL fold) or AE_ERR_NOMEM. */
int solve_folds(const double *y, const int64_t *groups, int32_t n, int32_t k, uint64_t seed,
                int32_t *fold);

typedef struct solve_report {
    double lambda;       /* penalty chosen */
    double cv_metric;    /* at lambda, of the out-of-fold predictions of all rows: accuracy
                            (logistic: p > 0.5 vs y > 0.5) or Spearman (ridge) */
    double cv_secondary; /* their log-loss (logistic) or MSE (ridge) */
    int32_t folds;       /* folds used (fewer than asked when there are fewer groups) */
    double *oof;         /* NULL, or n doubles (caller's): each row's out-of-fold prediction
                            at lambda: probability (logistic) or rating (ridge) */
    int32_t unconverged; /* logistic fits (fold x lambda, and the final one) that stopped
                            before SOLVE_GTOL; each kept its best iterate */
    double grad_max;     /* the largest final relative gradient norm of all its logistic fits */
} solve_report;

/* Cross-validates the grid over solve_folds(y, groups, n, folds, seed) (y stratifies both
 * kinds), chooses lambda as above and refits on all n rows: w (dim, caller's), *b. Every fit of
 * a fold sees only the other folds' rows. rep may be NULL; rep->oof is read (NULL or caller's
 * buffer), every other field written. The logistic fits of a fold each need 0 < mean y < 1 on
 * their training rows (AE_ERR_INVALID naming the fold otherwise). Returns AE_OK,
 * AE_ERR_INVALID or AE_ERR_NOMEM. Time (logistic): 15 to 25 passes over the rows per lambda
 * and fold, plus a Hessian (rows x p^2 / 2, at most 4 (p + 1) rows) every few lambdas; ridge:
 * the scatter matrices of all rows and of each fold's rows (rows x p^2 in all) and a
 * tridiagonal reduction (2/3 p^3) per fold. bench/bench_solver.c measures it. */
int solve_cv(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *y,
             const int64_t *groups, int32_t folds, uint64_t seed, double *w, double *b,
             solve_report *rep);

#ifdef __cplusplus
}
#endif

#endif
