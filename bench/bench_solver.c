/*
 * bench_solver.c — seconds of solve_cv (5 folds, the 17-penalty grid, the refit) for logistic
 * and ridge heads on synthetic CLIP-like embeddings: a common mean direction (as CLIP image
 * embeddings have), noise whose variance decays as 1/k over the dimensions (a spectrum like
 * theirs, not a flat one that would flatter the solver's conditioning), a "good" direction,
 * L2-normalised rows. Labels: good iff the direction's score plus noise is > 0 (logistic), or
 * 5 + 1.5 score + noise (ridge).
 *
 * usage: bench_solver [kind:n:dim ...]   (kind l or r; default l:500:768 r:500:768 l:2000:512
 *        r:2000:512 l:20000:512 r:20000:512)
 * Prints name<TAB>seconds<TAB>s lines (the thread's CPU time, so that other processes on the
 * cores do not count; the solver is single-threaded), the median of 3 runs for cases of under
 * 2 s, else one, and the chosen lambda and CV figures on stderr.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aesthete.h"
#include "solver.h"
#include "stats.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double gauss(stats_rng *r)
{
    double u = stats_rng_uniform(r), v = stats_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static void make(int32_t n, int32_t dim, int logistic, float *x, double *y)
{
    stats_rng r;
    stats_rng_seed(&r, 2022);
    double *mu = malloc(sizeof(double) * dim), *u = malloc(sizeof(double) * dim);
    double *row = malloc(sizeof(double) * dim), nm = 0, nu = 0;
    for (int32_t k = 0; k < dim; k++) {
        mu[k] = gauss(&r), u[k] = gauss(&r);
        nm += mu[k] * mu[k], nu += u[k] * u[k];
    }
    for (int32_t i = 0; i < n; i++) {
        double t = gauss(&r), s = 0;
        for (int32_t k = 0; k < dim; k++) {
            row[k] = 0.8 * mu[k] / sqrt(nm) + 0.15 * t * u[k] / sqrt(nu) +
                     0.6 * gauss(&r) * sqrt(1.0 / (k + 1) / log(dim + 1.0));
            s += row[k] * row[k];
        }
        for (int32_t k = 0; k < dim; k++) x[(size_t)i * dim + k] = (float)(row[k] / sqrt(s));
        y[i] = logistic ? (double)(t + 0.5 * gauss(&r) > 0) : 5 + 1.5 * t + 0.5 * gauss(&r);
    }
    free(mu), free(u), free(row);
}

static int cmp_d(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

static int run(const char *spec)
{
    char kind;
    int n, dim;
    if (sscanf(spec, "%c:%d:%d", &kind, &n, &dim) != 3 || (kind != 'l' && kind != 'r') || n < 2 || dim < 1) {
        fprintf(stderr, "bench_solver: bad case '%s' (kind:n:dim, kind l or r)\n", spec);
        return 1;
    }
    float *x = malloc(sizeof(float) * (size_t)n * dim);
    double *y = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * dim), b;
    if (!x || !y || !w) {
        fprintf(stderr, "bench_solver: out of memory\n");
        return 1;
    }
    make(n, dim, kind == 'l', x, y);
    solve_kind sk = kind == 'l' ? SOLVE_LOGISTIC : SOLVE_RIDGE;
    double t[3];
    int reps = 0;
    solve_report rep;
    for (; reps < 3; reps++) {
        memset(&rep, 0, sizeof rep);
        double t0 = cpu_s();
        if (solve_cv(sk, x, n, dim, y, NULL, 5, 1, w, &b, &rep) != AE_OK) {
            fprintf(stderr, "bench_solver: %s\n", ae_last_error());
            return 1;
        }
        t[reps] = cpu_s() - t0;
        if (t[reps] > 2) {
            reps++;
            break;
        }
    }
    qsort(t, reps, sizeof *t, cmp_d);
    printf("cv_%s_%d_x_%d\t%.3f\ts\n", kind == 'l' ? "logistic" : "ridge", n, dim, t[reps / 2]);
    fprintf(stderr, "  lambda %g, cv %s %.4f, %s %.4f, unconverged %d, max gradient %.2g\n", rep.lambda,
            kind == 'l' ? "accuracy" : "Spearman", rep.cv_metric, kind == 'l' ? "log-loss" : "MSE",
            rep.cv_secondary, rep.unconverged, rep.grad_max);
    fflush(stdout);
    free(x), free(y), free(w);
    return 0;
}

int main(int argc, char **argv)
{
    const char *def[] = {"l:500:768", "r:500:768", "l:2000:512", "r:2000:512", "l:20000:512", "r:20000:512"};
    int rc = 0;
    if (argc > 1)
        for (int i = 1; i < argc; i++) rc |= run(argv[i]);
    else
        for (size_t i = 0; i < sizeof def / sizeof *def; i++) rc |= run(def[i]);
    return rc;
}
