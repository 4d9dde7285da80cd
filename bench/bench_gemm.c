/*
 * bench_gemm.c — GFLOP/s of nn_linear_forward on the CLIP shapes (ViT-B/32 vision at M = 50
 * and 1600, i.e. batch 1 and 32; the text tower at M = 77 and 77*16) for each kernel set the
 * CPU supports, with 1 and 2 threads, and an estimate of a whole ViT-B/32 image forward (12
 * layers of LayerNorm, qkv, attention, out_proj + residual, LayerNorm, fc1 + quick_gelu, fc2 +
 * residual, plus the patch embedding) in images per second.
 *
 * With OpenBLAS (Debian's libopenblas-dev, found at build time) each shape is also run through
 * cblas_sgemm (x · Wᵀ, no bias, no activation: the same FLOPs with less work) with the same
 * thread count, and the ratio ours / OpenBLAS printed. OpenBLAS picks its kernels by CPU:
 * OPENBLAS_CORETYPE=Haswell gives its AVX2 kernels, to set beside the avx2 set.
 *
 * usage: bench_gemm [kernel set|all] [seconds per measurement] [max threads] [layers|shapes]
 * ("layers": only the ViT-B/32 layer estimates; "shapes": only the GEMM shapes)
 * AE_GEMM_BLOCKING=kc,mc,nc forces the blocking (0 = derived), to try others;
 * AE_BENCH_SHAPE=text runs only the shapes whose name contains text.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/nn_internal.h"

#ifdef AE_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* With one thread the benchmark counts the thread's CPU time (other processes sharing the
 * cores then do not count); with more it must count wall time. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *rnd(size_t n)
{
    float *v = aligned_alloc(64, ((n * sizeof(float)) + 63) & ~(size_t)63);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = ((s >> 8) * (1.0f / 16777216.0f) - 0.5f) * 0.1f;
    }
    return v;
}

typedef struct shape {
    const char *name;
    int32_t k, n;
    nn_act act;
    int res;
} shape;

static const shape shapes[] = {
    {"vit qkv 768->2304", 768, 2304, NN_ACT_NONE, 0},
    {"vit out 768->768 +res", 768, 768, NN_ACT_NONE, 1},
    {"vit fc1 768->3072 qgelu", 768, 3072, NN_ACT_QUICK_GELU, 0},
    {"vit fc1 768->3072 (no act)", 768, 3072, NN_ACT_NONE, 0},
    {"vit fc2 3072->768 +res", 3072, 768, NN_ACT_NONE, 1},
    {"vit patch 3072->768", 3072, 768, NN_ACT_NONE, 0},
    {"vit proj 768->512", 768, 512, NN_ACT_NONE, 0},
    {"txt qkv 512->1536", 512, 1536, NN_ACT_NONE, 0},
    {"txt out 512->512 +res", 512, 512, NN_ACT_NONE, 1},
    {"txt fc1 512->2048 qgelu", 512, 2048, NN_ACT_QUICK_GELU, 0},
    {"txt fc2 2048->512 +res", 2048, 512, NN_ACT_NONE, 1},
};

/* Best seconds per call of fn(ctx) over a few timed batches. */
static double time_best(void (*fn)(void *), void *ctx, double budget)
{
    fn(ctx); /* warm-up */
    double best = 1e30, t_end = now_s() + budget;
    int reps = 1;
    do {
        double t0 = now_s();
        for (int i = 0; i < reps; i++) fn(ctx);
        double dt = (now_s() - t0) / reps;
        best = dt < best ? dt : best;
        if (dt * reps < budget / 20) reps *= 2;
    } while (now_s() < t_end);
    return best;
}

typedef struct call {
    const nn_linear *l;
    const float *x, *w, *res;
    float *y;
    int32_t m;
    nn_act act;
    nn_pool *pool;
} call;

static void run_ours(void *p)
{
    call *c = p;
    nn_linear_forward(c->l, c->x, c->m, c->y, c->act, c->res, c->pool);
}

#ifdef AE_HAVE_OPENBLAS
static void run_blas(void *p)
{
    call *c = p;
    int32_t n = c->l->n_out, k = c->l->n_in;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->m, n, k, 1.0f, c->x, k, c->w, k,
                c->res ? 1.0f : 0.0f, c->y, n);
}
#endif

/* A ViT-B/32 encoder stack at batch `batch` (L = 50): n_layers layers with their own weights
 * (12 distinct layers = 340 MB of packed weights, more than the caches: the weights then
 * stream from memory as in a real forward pass). Returns seconds per layer. */
static nn_precision prec; /* of the layers timed: AE_BENCH_PRECISION=fp32|int8|bf16 */

static double time_vit_layers(int32_t batch, int n_layers, nn_pool *pool, double budget)
{
    const int32_t D = 768, L = 50, DI = 3072, M = batch * L;
    nn_linear *lin = calloc((size_t)n_layers * 4, sizeof *lin);
    float *w = rnd((size_t)DI * D), *b = rnd(DI), *lnw = rnd(D), *lnb = rnd(D);
    for (int i = 0; i < n_layers; i++) {
        nn_linear_init_prec(&lin[4 * i + 0], 3 * D, D, w, b, prec);
        nn_linear_init_prec(&lin[4 * i + 1], D, D, w, b, prec);
        nn_linear_init_prec(&lin[4 * i + 2], DI, D, w, b, prec);
        nn_linear_init_prec(&lin[4 * i + 3], D, DI, w, b, prec);
    }
    float *x = rnd((size_t)M * D), *h = rnd((size_t)M * D), *q = rnd((size_t)M * 3 * D);
    float *a = rnd((size_t)M * D), *f = rnd((size_t)M * DI);
    float *scratch = rnd(nn_attention_scratch(L, pool));
    double best = 1e30, t_end = now_s() + budget;
    int first = 1;
    do {
        double t0 = now_s();
        for (int i = 0; i < n_layers; i++) {
            nn_linear *qkv = &lin[4 * i], *out = qkv + 1, *fc1 = qkv + 2, *fc2 = qkv + 3;
            nn_layernorm(x, M, D, lnw, lnb, 1e-5f, h, pool);
            nn_linear_forward(qkv, h, M, q, NN_ACT_NONE, NULL, pool);
            nn_attention(q, batch, L, D, 12, 0, a, scratch, pool);
            nn_linear_forward(out, a, M, x, NN_ACT_NONE, x, pool);
            nn_layernorm(x, M, D, lnw, lnb, 1e-5f, h, pool);
            nn_linear_forward(fc1, h, M, f, NN_ACT_QUICK_GELU, NULL, pool);
            nn_linear_forward(fc2, f, M, x, NN_ACT_NONE, x, pool);
        }
        double dt = (now_s() - t0) / n_layers;
        if (!first) best = dt < best ? dt : best;
        first = 0;
        /* keep the activations bounded: re-seed x */
        for (size_t i = 0; i < (size_t)M * D; i++) x[i] = h[i] * 0.1f;
    } while (now_s() < t_end || best > 1e29);
    for (int i = 0; i < 4 * n_layers; i++) nn_linear_free(&lin[i]);
    free(lin);
    free(w); free(b); free(lnw); free(lnb); free(x); free(h); free(q); free(a); free(f);
    free(scratch);
    return best;
}

/* The parts of a layer timed separately: where the layer time goes. */
static void vit_layer_parts(int32_t batch, nn_pool *pool, double budget)
{
    const int32_t D = 768, L = 50, M = batch * L;
    float *x = rnd((size_t)M * D), *h = rnd((size_t)M * D), *q = rnd((size_t)M * 3 * D);
    float *lnw = rnd(D), *lnb = rnd(D), *scratch = rnd(nn_attention_scratch(L, pool));
    double best_ln = 1e30, best_at = 1e30, t_end = now_s() + budget;
    do {
        double t0 = now_s();
        nn_layernorm(x, M, D, lnw, lnb, 1e-5f, h, pool);
        double t1 = now_s();
        nn_attention(q, batch, L, D, 12, 0, h, scratch, pool);
        double t2 = now_s();
        best_ln = t1 - t0 < best_ln ? t1 - t0 : best_ln;
        best_at = t2 - t1 < best_at ? t2 - t1 : best_at;
    } while (now_s() < t_end);
    double at_flop = 4.0 * batch * 12 * L * L * 64;
    printf("    layernorm [%d x 768]: %.3f ms; attention batch %d: %.3f ms (%.1f GFLOP/s)\n",
           (int)M, best_ln * 1e3, (int)batch, best_at * 1e3, at_flop / best_at * 1e-9);
    free(x); free(h); free(q); free(lnw); free(lnb); free(scratch);
}

static int mode; /* 0 all, 1 layers only, 2 shapes only */

static void bench_set(const char *set, double budget, int max_threads)
{
    if (nn_set_kernels(set)) {
        printf("%s: not supported here\n", set);
        return;
    }
    printf("== kernel set %s; blocking kc/mc/nc for 2 threads:", nn_kernel_name());
    for (int32_t k = 512; k <= 3072; k *= k == 512 ? 1.5 : 2) {
        nn_blocking bl = nn_gemm_blocking(nn_kernels_get(), k, 2);
        printf(" K=%d %d/%d/%d", (int)k, (int)bl.kc, (int)bl.mc, (int)bl.nc);
    }
    printf(" ==\n");
    for (int nth = 1; nth <= max_threads; nth++) {
        nn_pool *pool = nn_pool_new(nth);
        clock_id = nth == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        printf("  threads %d (%s time)\n", nth, nth == 1 ? "CPU" : "wall");
        for (size_t s = 0; mode != 1 && s < sizeof shapes / sizeof shapes[0]; s++) {
            const shape *sh = &shapes[s];
            if (getenv("AE_BENCH_SHAPE") && !strstr(sh->name, getenv("AE_BENCH_SHAPE"))) continue;
            int txt = sh->name[0] == 't';
            int32_t ms[2] = {txt ? 77 : 50, txt ? 77 * 16 : 1600};
            nn_linear l;
            float *w = rnd((size_t)sh->n * sh->k), *b = rnd(sh->n);
            nn_linear_init_prec(&l, sh->n, sh->k, w, b, prec);
            printf("    %-26s", sh->name);
            for (int i = 0; i < 2; i++) {
                int32_t m = ms[i];
                float *x = rnd((size_t)m * sh->k), *y = rnd((size_t)m * sh->n);
                call c = {&l, x, w, sh->res ? y : NULL, y, m, sh->act, pool};
                double t = time_best(run_ours, &c, budget), flop = 2.0 * m * sh->n * sh->k;
                printf("  M=%-5d %6.1f", (int)m, flop / t * 1e-9);
#ifdef AE_HAVE_OPENBLAS
                openblas_set_num_threads(nth);
                double tb = time_best(run_blas, &c, budget);
                printf(" blas %6.1f x%.2f", flop / tb * 1e-9, tb / t);
#endif
                free(x);
                free(y);
            }
            printf("  GFLOP/s\n");
            nn_linear_free(&l);
            free(w);
            free(b);
        }
        for (int32_t batch = 1; mode != 2 && batch <= 32; batch += 31) {
            /* one layer (weights stay in L3), and at batch 1 twelve distinct layers (weights
             * from memory); the patch embedding (~ one fc2) is counted as 1/12 of a layer */
            for (int n_layers = 1; n_layers <= (batch == 1 ? 12 : 1); n_layers += 11) {
                double t = time_vit_layers(batch, n_layers, pool, budget * 4);
                double img = (12 + 1.0 / 12) * t / batch;
                printf("    ViT-B/32 layer, batch %2d, %2d distinct: %.3f ms -> ~%.1f img/s (%.1f GFLOP/s)\n",
                       (int)batch, n_layers, t * 1e3, 1.0 / img, 8.8 / img);
            }
            vit_layer_parts(batch, pool, budget);
        }
        nn_pool_free(pool);
    }
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    double budget = argc > 2 ? atof(argv[2]) : 0.3;
    int max_threads = argc > 3 ? atoi(argv[3]) : 2;
    mode = argc > 4 ? !strcmp(argv[4], "layers") ? 1 : !strcmp(argv[4], "shapes") ? 2 : 0 : 0;
    const char *pe = getenv("AE_BENCH_PRECISION");
    prec = pe && !strcmp(pe, "int8") ? NN_I8 : pe && !strcmp(pe, "bf16") ? NN_BF16 : NN_F32;
    printf("precision: %s\n", prec == NN_I8 ? "int8" : prec == NN_BF16 ? "bf16" : "fp32");
    const char *forced = getenv("AE_GEMM_BLOCKING");
    if (forced) {
        int kc = 0, mc = 0, nc = 0;
        sscanf(forced, "%d,%d,%d", &kc, &mc, &nc);
        nn_gemm_set_blocking(kc, mc, nc);
    }
    nn_caches c = nn_cpu_caches();
    printf("default kernel set: %s; caches per core (%s): L1d %lld KiB, L2 %lld KiB, L3 %lld KiB\n",
           nn_kernel_name(), c.source, (long long)c.l1d / 1024, (long long)c.l2 / 1024,
           (long long)c.l3 / 1024);
#ifdef AE_HAVE_OPENBLAS
    printf("OpenBLAS: %s (core %s); OPENBLAS_CORETYPE=%s\n", openblas_get_config(),
           openblas_get_corename(), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
#endif
    if (!strcmp(which, "all")) {
        bench_set("avx512", budget, max_threads);
        bench_set("avx2", budget, max_threads);
    } else {
        bench_set(which, budget, max_threads);
    }
    return 0;
}
