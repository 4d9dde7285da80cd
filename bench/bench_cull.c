/*
 * bench_cull.c — ae_cull on n cached embeddings: the time to group a shoot once its
 * embeddings are known (the all-pairs cosines dominate: n^2 d flops for the upper triangle).
 *
 *   bench_cull [n ...] [--dim D] [--threads T] [--repeat R] [--search S] [--topics K] [--check]
 *
 * Embeddings: random unit vectors with one planted near-duplicate per 20 images (cos 0.97)
 * and bursts of 5 frames (cos 0.9, 0.5 s apart) for a tenth of them, so that links, the
 * diameter checks and the keeper pass do real work. --topics K draws the vectors around K
 * random topics instead (cos ~0.7 to their topic, ~0.5 between two images of one topic), as
 * real photos' embeddings cluster; isotropic vectors (the default) are the worst case for
 * buckets. --search all|buckets|auto (default auto) is ae_cull_params.search. Prints the
 * median seconds of R runs, the all-pairs product's GFLOP/s (2 * n^2 / 2 * d flops, also for
 * buckets: what all pairs would need to run as fast) and, with --search buckets --check, the
 * share of the images in groups by all pairs that get the same keeper by buckets (one extra
 * run of all pairs, untimed).
  */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aesthete.h"

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void unit(float *x, int d)
{
    double s = 0;
    for (int k = 0; k < d; k++) {
        double u = uniform(), v = uniform();
        x[k] = (float)(sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v));
        s += (double)x[k] * x[k];
    }
    for (int k = 0; k < d; k++) x[k] = (float)(x[k] / sqrt(s));
}

/* out = c * base + sqrt(1 - c^2) * (a random direction made orthogonal to base) */
static void near_copy(const float *base, double c, float *out, int d)
{
    unit(out, d);
    double p = 0, s = 0;
    for (int k = 0; k < d; k++) p += (double)out[k] * base[k];
    for (int k = 0; k < d; k++) out[k] = (float)(out[k] - p * base[k]), s += (double)out[k] * out[k];
    for (int k = 0; k < d; k++) out[k] = (float)(c * base[k] + sqrt(1 - c * c) * out[k] / sqrt(s));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int dim = 512, threads = 0, repeat = 3, ns[16], nn = 0, topics = 0, check = 0;
    ae_cull_search search = AE_CULL_SEARCH_AUTO;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dim") && i + 1 < argc) dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--topics") && i + 1 < argc) topics = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--check")) check = 1;
        else if (!strcmp(argv[i], "--search") && i + 1 < argc && ae_cull_search_parse(argv[i + 1], &search) == AE_OK) i++;
        else if (nn < 16 && atoi(argv[i]) > 0) ns[nn++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: bench_cull [n ...] [--dim D] [--threads T] [--repeat R] [--search S] [--topics K] [--check]\n");
            return 2;
        }
    }
    if (!nn) ns[nn++] = 5000;
    if (repeat < 1 || repeat > 50) repeat = 3;
    if (topics < 0) topics = 0;
    printf("kernels %s, dim %d, threads %d, search %s, %s\n", ae_kernels(), dim, threads, ae_cull_search_name(search),
           topics ? "clustered" : "isotropic");
    printf("%9s %10s %10s %8s %8s %8s\n", "images", "seconds", "GFLOP/s", "groups", "rejects", "same");
    for (int t = 0; t < nn; t++) {
        const int n = ns[t];
        float *e = malloc(sizeof(float) * (size_t)n * dim), *topic = malloc(sizeof(float) * (size_t)(topics + 1) * dim);
        ae_cull_item *it = calloc((size_t)n, sizeof *it);
        ae_cull_row *r = malloc(sizeof *r * (size_t)n), *all = NULL;
        if (!e || !topic || !it || !r) {
            fprintf(stderr, "bench_cull: out of memory for %d images\n", n);
            return 1;
        }
        for (int k = 0; k < topics; k++) unit(topic + (size_t)k * dim, dim);
        for (int i = 0; i < n; i++) {
            float *x = e + (size_t)i * dim;
            if (i % 20 == 1) near_copy(x - dim, 0.97, x, dim);
            else if (i % 10 >= 5 && i % 100 < 10 && i % 10 != 5) near_copy(x - dim, 0.9, x, dim);
            else if (topics) near_copy(topic + (size_t)(uniform() * topics) * dim, 0.7, x, dim);
            else unit(x, dim);
            it[i].embedding = x;
            it[i].score = (float)uniform();
            it[i].has_quality = 1, it[i].quality.sharpness = (float)(100 + 100 * uniform());
            it[i].has_time = 1, it[i].time = i * 0.5 + (i % 100 < 10 ? 0 : 1000.0 * i);
            it[i].camera = "bench";
        }
        ae_cull_params p = ae_cull_default_params();
        p.n_threads = threads;
        p.search = search;
        double sec[50];
        int groups = 0, rejects = 0;
        for (int k = 0; k < repeat; k++) {
            double t0 = now();
            if (ae_cull(it, n, dim, &p, r) != AE_OK) {
                fprintf(stderr, "bench_cull: %s\n", ae_last_error());
                return 1;
            }
            sec[k] = now() - t0;
        }
        for (int i = 0; i < n; i++) {
            groups = r[i].group + 1 > groups ? r[i].group + 1 : groups;
            rejects += !r[i].keep;
        }
        qsort(sec, (size_t)repeat, sizeof sec[0], cmp_double);
        double med = sec[repeat / 2];
        char same[16] = "-";
        if (check && search == AE_CULL_SEARCH_BUCKETS && (all = malloc(sizeof *all * (size_t)n))) {
            p.search = AE_CULL_SEARCH_ALL;
            if (ae_cull(it, n, dim, &p, all) != AE_OK) {
                fprintf(stderr, "bench_cull: %s\n", ae_last_error());
                return 1;
            }
            long grouped = 0, agree = 0;
            for (int i = 0; i < n; i++)
                if (all[i].group >= 0) grouped++, agree += r[i].group >= 0 && r[i].keeper == all[i].keeper;
            snprintf(same, sizeof same, "%.2f%%", grouped ? 100.0 * agree / grouped : 100.0);
        }
        printf("%9d %10.3f %10.1f %8d %8d %8s\n", n, med, (double)n * n * dim / med * 1e-9, groups, rejects, same);
        free(e), free(topic), free(it), free(r), free(all);
    }
    return 0;
}
