/*
 * bench_ratings.c — reading an AVA.txt of AVA's size (255,530 lines), generated with
 * realistic fields (row numbers, 6-digit image ids, vote counts summing to ~200, tags,
 * challenge ids): the median of 9 runs of ae_ratings_parse_ava (in memory) and of
 * ae_ratings_read_ava (file read included, from the page cache), plus
 * ae_ratings_find of every key. The parse's process CPU time and page faults are printed
 * too: on virtual machines where a first touch of a page is slow, those faults are most of
 * the time, and wall time on a busy machine includes waiting for a core.
 *
 *   bench_ratings [lines]
 *
 * Output lines are "name<TAB>value<TAB>unit".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ratings.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt + u.ru_majflt;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define RUNS 9

int main(int argc, char **argv)
{
    int32_t n = argc > 1 ? atoi(argv[1]) : 255530;
    if (n <= 0) return 2;
    size_t cap = (size_t)n * 96, len = 0;
    char *buf = malloc(cap);
    uint64_t x = 88172645463325252ull;
    /* 6-digit ids, distinct (7919 is prime to 900000), in no particular order */
    if (n > 900000) return 2;
    for (int32_t i = 0; i < n; i++) {
        int c[10];
        for (int k = 0; k < 10; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c[k] = (int)(x % (k >= 3 && k <= 6 ? 60 : 12));
        }
        c[4]++;
        len += (size_t)snprintf(buf + len, cap - len, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n",
                                i + 1, 100000 + (int)((int64_t)i * 7919 % 900000),
                                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9],
                                (int)(x % 66), (int)(x / 66 % 66), 1 + i % 1400);
    }
    char path[] = "/tmp/bench_ratings_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len) { perror(path); return 1; }
    close(fd);

    double tp[RUNS], tc[RUNS], tr[RUNS], tf[RUNS], pf[RUNS];
    int32_t got = 0;
    for (int r = 0; r < RUNS; r++) {
        ae_ratings a;
        long f0 = faults();
        double c0 = cpu(), t0 = now();
        if (ae_ratings_parse_ava("AVA.txt", buf, len, 1, &a)) {
            fprintf(stderr, "%s\n", ae_last_error());
            return 1;
        }
        tp[r] = now() - t0;
        tc[r] = cpu() - c0;
        pf[r] = (double)(faults() - f0);
        got = a.n;
        int32_t miss = 0;
        t0 = now();
        for (int32_t i = 0; i < a.n; i++) miss += ae_ratings_find(&a, a.v[i].key) != i;
        tf[r] = now() - t0;
        if (miss) { fprintf(stderr, "find: %d wrong\n", miss); return 1; }
        ae_ratings_free(&a);
        t0 = now();
        if (ae_ratings_read_ava(path, 1, &a)) {
            fprintf(stderr, "%s\n", ae_last_error());
            return 1;
        }
        tr[r] = now() - t0;
        ae_ratings_free(&a);
    }
    unlink(path);
    qsort(tp, RUNS, sizeof *tp, cmp_double);
    qsort(tr, RUNS, sizeof *tr, cmp_double);
    qsort(tf, RUNS, sizeof *tf, cmp_double);
    qsort(tc, RUNS, sizeof *tc, cmp_double);
    qsort(pf, RUNS, sizeof *pf, cmp_double);
    printf("ava_lines\t%d\tlines\n", got);
    printf("ava_bytes\t%zu\tbytes\n", len);
    printf("ava_parse_ms\t%.2f\tms\n", 1e3 * tp[RUNS / 2]);
    printf("ava_parse_cpu_ms\t%.2f\tms\n", 1e3 * tc[RUNS / 2]);
    printf("ava_parse_page_faults\t%.0f\tfaults\n", pf[RUNS / 2]);
    printf("ava_read_ms\t%.2f\tms\n", 1e3 * tr[RUNS / 2]);
    printf("ava_find_all_ms\t%.2f\tms\n", 1e3 * tf[RUNS / 2]);
    free(buf);
    return 0;
}
