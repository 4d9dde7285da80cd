/*
 * peak.c — the fp32 FMA peak of this CPU, the roof that bench/peers.sh sets the encoders'
 * speed against, and the rates of the reduced-precision dot products the int8 and bf16
 * kernels are made of.
 *
 *   bench_peak [--threads N] [--ms MS]
 *
 * For each vector width the CPU supports (AVX-512: 16 floats, AVX2 + FMA: 8 floats; chosen
 * at run time with __builtin_cpu_supports, the code of each width compiled for it through a
 * target attribute), runs independent chains of fused multiply-adds (enough chains to hide
 * the FMA latency on every pipe) on 1 thread and on N threads (default 2) at once, and prints
 * the best of 15 timings of ~50 ms as GFLOP/s, counting a multiply-add as 2 FLOP per lane. A chain of
 * dependent integer adds (1 cycle each) gives the clock the FMA loop ran at, for FLOP/cycle.
 *
 * The same for the dot-product instructions of the reduced precisions, where the CPU has them:
 * vpdpbusd (AVX512-VNNI, AVX-VNNI: 4 byte products per int32 lane), vdpbf16ps (AVX512-BF16:
 * 2 bf16 products per float lane) and the AVX2 int8 step of i8_avx2.c (vpsignb, vpmaddubsw,
 * vpmaddwd, vpaddd: 4 instructions for 32 byte products), as GOP/s counting a multiply-add as
 * 2, so each compares with the fp32 line directly: how much an int8 or bf16 GEMM can gain on
 * this CPU at most (on an Emerald Rapids Xeon vdpbf16ps runs at a quarter of the FMA rate,
 * half its multiply-adds: bf16 cannot beat fp32 there without AMX).
 *
 * Output lines are "name<TAB>value<TAB>unit", like bench_encode's:
 *   clock_ghz_1t, fma_avx512_gflops_1t, fma_avx512_gflops_Nt, fma_avx2_gflops_1t, ...,
 *   dot_int8_avx512vnni_gops_1t, dot_int8_avx512vnni_gops_Nt, dot_bf16_avx512bf16_gops_1t, ...
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The hot loops: each returns a value that depends on every FMA, so none can be dropped.
 * 16 zmm chains (AVX-512 has 32 registers), 12 ymm chains (AVX2 has 16); each iteration is
 * one FMA per chain. 2 FMA pipes x 4 cycles latency need 8 chains; more costs nothing. */
__attribute__((target("avx512f")))
static float fma_avx512(long iters)
{
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 c[16];
    for (int j = 0; j < 16; j++) c[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16 /* every chain in its own register, not in memory */
        for (int j = 0; j < 16; j++) c[j] = _mm512_fmadd_ps(c[j], a, b);
    }
    __m512 s = c[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, c[j]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma")))
static float fma_avx2(long iters)
{
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c[12];
    for (int j = 0; j < 12; j++) c[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12 /* every chain in its own register, not in memory */
        for (int j = 0; j < 12; j++) c[j] = _mm256_fmadd_ps(c[j], a, b);
    }
    __m256 s = c[0];
    for (int j = 1; j < 12; j++) s = _mm256_add_ps(s, c[j]);
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

/* The dot products: 16 zmm / 12 ymm chains, as above (their latency is 4-6 cycles). */
__attribute__((target("avx512f,avx512vnni")))
static float dot_int8_avx512vnni(long iters)
{
    const __m512i a = _mm512_set1_epi32(0x01020304), b = _mm512_set1_epi32(0x05060708);
    __m512i c[16];
    for (int j = 0; j < 16; j++) c[j] = _mm512_set1_epi32(j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) c[j] = _mm512_dpbusd_epi32(c[j], a, b);
    }
    __m512i s = c[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_epi32(s, c[j]);
    return (float)_mm512_reduce_add_epi32(s);
}

__attribute__((target("avx2,avxvnni")))
static float dot_int8_avxvnni(long iters)
{
    const __m256i a = _mm256_set1_epi32(0x01020304), b = _mm256_set1_epi32(0x05060708);
    __m256i c[12];
    for (int j = 0; j < 12; j++) c[j] = _mm256_set1_epi32(j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++) c[j] = _mm256_dpbusd_avx_epi32(c[j], a, b);
    }
    int32_t v[8], t = 0;
    for (int j = 1; j < 12; j++) c[0] = _mm256_add_epi32(c[0], c[j]);
    _mm256_storeu_si256((__m256i *)v, c[0]);
    for (int k = 0; k < 8; k++) t += v[k];
    return (float)t;
}

/* the step of i8_avx2.c: |a| times the weights with a's sign, pairs to int16, to int32 */
__attribute__((target("avx2")))
static float dot_int8_avx2(long iters)
{
    const __m256i a = _mm256_set1_epi32(0x01fe0304), b = _mm256_set1_epi32(0x05060708),
                  ua = _mm256_abs_epi8(a), ones = _mm256_set1_epi16(1);
    __m256i c[12];
    for (int j = 0; j < 12; j++) c[j] = _mm256_set1_epi32(j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++) {
            __m256i bj = _mm256_add_epi8(b, _mm256_set1_epi8((char)j)); /* not hoisted: as in the tile */
            __asm__("" : "+x"(bj));
            c[j] = _mm256_add_epi32(c[j], _mm256_madd_epi16(_mm256_maddubs_epi16(ua, _mm256_sign_epi8(bj, a)), ones));
        }
    }
    int32_t v[8], t = 0;
    for (int j = 1; j < 12; j++) c[0] = _mm256_add_epi32(c[0], c[j]);
    _mm256_storeu_si256((__m256i *)v, c[0]);
    for (int k = 0; k < 8; k++) t += v[k];
    return (float)t;
}

__attribute__((target("avx512f,avx512bf16")))
static float dot_bf16_avx512bf16(long iters)
{
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    __m512 c[16];
    for (int j = 0; j < 16; j++) c[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) c[j] = _mm512_dpbf16_ps(c[j], a, b);
    }
    __m512 s = c[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, c[j]);
    return _mm512_reduce_add_ps(s);
}

/* 100 dependent 1-cycle adds per iteration: adds per second = cycles per second. The addend
 * is a register, not an immediate: Golden Cove and later fold chains of add-immediate at
 * rename (an Emerald Rapids Xeon then "ran" at 17 GHz). */
static float add_chain(long iters)
{
    uint64_t x = 0, one = 1;
    __asm__ volatile("" : "+r"(one));
    for (long i = 0; i < iters; i++) {
#define A10 "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t" \
            "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
        __asm__ volatile(A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 : "+r"(x) : "r"(one));
    }
    return (float)x;
}

typedef float (*kernel)(long);

struct job {
    kernel k;
    long iters;
    pthread_barrier_t *start;
    double t0, t1;
    volatile float sink;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->start);
    j->t0 = now();
    j->sink = j->k(j->iters);
    j->t1 = now();
    return NULL;
}

/* Best of 15: seconds from the first thread's start to the last thread's end. Many short
 * runs rather than a few long ones: on a shared machine some of them run undisturbed. */
static double run(kernel k, long iters, int nthr)
{
    double best = 1e30;
    for (int rep = 0; rep < 15; rep++) {
        struct job jobs[64];
        pthread_t th[64];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)nthr);
        for (int i = 0; i < nthr; i++) {
            jobs[i] = (struct job){.k = k, .iters = iters, .start = &start};
            pthread_create(&th[i], NULL, worker, &jobs[i]);
        }
        double t0 = 1e30, t1 = 0;
        for (int i = 0; i < nthr; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].t0 < t0) t0 = jobs[i].t0;
            if (jobs[i].t1 > t1) t1 = jobs[i].t1;
        }
        pthread_barrier_destroy(&start);
        if (t1 - t0 < best) best = t1 - t0;
    }
    return best;
}

/* Iterations that take about ms milliseconds on one thread. */
static long calibrate(kernel k, double ms)
{
    long it = 1000;
    for (;;) {
        double t0 = now();
        k(it);
        double dt = now() - t0;
        if (dt > 0.02 || it > (1L << 40)) return (long)(it * (ms / 1e3) / dt) + 1;
        it *= 4;
    }
}

int main(int argc, char **argv)
{
    int nthr = 2;
    double ms = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) nthr = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc) ms = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_peak [--threads N] [--ms MS]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (nthr < 1 || nthr > 64) nthr = 2;
    if (ms < 5) ms = 5;
    __builtin_cpu_init();
    long it = calibrate(add_chain, ms);
    double ghz = it * 100.0 / run(add_chain, it, 1) / 1e9;
    printf("# fp32 FMA peak and dot-product rates, best of 15 runs of ~%.0f ms, %d threads\n", ms, nthr);
    printf("clock_ghz_1t\t%.3f\tGHz\n", ghz);
    static const struct { const char *name; kernel k; int flops; } sets[] = {
        {"avx512", fma_avx512, 16 * 16 * 2},
        {"avx2", fma_avx2, 12 * 8 * 2},
    };
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        int ok = s == 0 ? __builtin_cpu_supports("avx512f")
                        : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        if (!ok) {
            printf("# %s: not supported by this CPU\n", sets[s].name);
            continue;
        }
        long n = calibrate(sets[s].k, ms);
        double flop = (double)n * sets[s].flops;
        double g1 = flop / run(sets[s].k, n, 1) / 1e9;
        double gn = nthr * flop / run(sets[s].k, n, nthr) / 1e9;
        printf("fma_%s_gflops_1t\t%.1f\tGFLOP/s\n", sets[s].name, g1);
        printf("fma_%s_flop_per_cycle\t%.1f\tFLOP/cycle\n", sets[s].name, g1 / ghz);
        printf("fma_%s_gflops_%dt\t%.1f\tGFLOP/s\n", sets[s].name, nthr, gn);
    }
    /* ops per call of one iteration: chains x products per instruction x 2 */
    const struct { const char *name; kernel k; int ops; int ok; } dots[] = {
        {"int8_avx512vnni", dot_int8_avx512vnni, 16 * 64 * 2,
         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni")},
        {"int8_avxvnni", dot_int8_avxvnni, 12 * 32 * 2, __builtin_cpu_supports("avxvnni")},
        {"int8_avx2", dot_int8_avx2, 12 * 32 * 2, __builtin_cpu_supports("avx2")},
        {"bf16_avx512bf16", dot_bf16_avx512bf16, 16 * 32 * 2,
         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16")},
    };
    for (size_t s = 0; s < sizeof dots / sizeof *dots; s++) {
        if (!dots[s].ok) {
            printf("# dot %s: not supported by this CPU\n", dots[s].name);
            continue;
        }
        long n = calibrate(dots[s].k, ms);
        double ops = (double)n * dots[s].ops;
        printf("dot_%s_gops_1t\t%.1f\tGOP/s\n", dots[s].name, ops / run(dots[s].k, n, 1) / 1e9);
        printf("dot_%s_gops_%dt\t%.1f\tGOP/s\n", dots[s].name, nthr, nthr * ops / run(dots[s].k, n, nthr) / 1e9);
    }
    return 0;
}
