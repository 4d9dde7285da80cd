/*
 * test_nn.c — every numeric kernel against a double-precision reference, for every kernel set
 * the CPU supports (scalar, avx2, avx512), with 1, 2 and 3 threads, on odd sizes: linear layers
 * (bias or not, each activation, residual separate or aliased to the output), LayerNorm,
 * attention (causal or not), the activations, the thread pool and the reference GEMM.
 * Errors are measured relative to the magnitude of the terms summed and printed.
 */
#include <stdint.h>
#include <string.h>

#include "aesthete.h"
#include "nn/nn_internal.h"
#include "support/nn_test.h"
#include "test.h"

static const char *act_name[] = {"none", "quick_gelu", "gelu"};

/* ---- activations ---------------------------------------------------------------------------- */

static void test_activations(void)
{
    CHECK_NEAR(nn_quick_gelu(1.0f), 0.8457957659328212, 1e-6);
    CHECK_NEAR(nn_quick_gelu(-1.0f), -0.1542042340671787, 1e-6);
    CHECK_NEAR(nn_quick_gelu(3.0f), 2.981928690292214, 1e-6);
    CHECK_NEAR(nn_gelu(1.0f), 0.8413447460685429, 1e-6);
    CHECK_NEAR(nn_gelu(-1.0f), -0.15865525393145707, 1e-6);
    CHECK_NEAR(nn_gelu(-0.5f), -0.15426876936299344, 1e-6);
    CHECK_NEAR(nn_gelu(0.25f), 0.14967658142073093, 1e-7);
    CHECK(nn_gelu(-30.0f) == 0.0f);
    CHECK(nn_quick_gelu(-200.0f) == 0.0f || fabsf(nn_quick_gelu(-200.0f)) < 1e-30f);
    CHECK_NEAR(nn_gelu(30.0f), 30.0, 0);
}

/* ---- reference GEMM ------------------------------------------------------------------------- */

static void test_gemm_ref(void)
{
    int32_t m = 5, n = 7, k = 13;
    float *a = nn_test_rand_vec((size_t)m * 20, 1), *b = nn_test_rand_vec((size_t)n * 16, 1), *bias = nn_test_rand_vec(n, 1);
    float c[5 * 9];
    nn_gemm_ref(m, n, k, a, 20, b, 16, bias, c, 9);
    double maxd = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = bias[j];
            for (int p = 0; p < k; p++) s += (double)a[i * 20 + p] * b[j * 16 + p];
            double d = fabs(s - c[i * 9 + j]);
            maxd = d > maxd ? d : maxd;
        }
    printf("gemm_ref: max abs diff %.3g\n", maxd);
    CHECK(maxd < 1e-5);
    free(a);
    free(b);
    free(bias);
}

/* ---- thread pool ---------------------------------------------------------------------------- */

typedef struct {
    int hits[8];
    int nth_seen;
} pool_probe;

static void probe_task(void *arg, int ith, int nth)
{
    pool_probe *p = arg;
    __atomic_add_fetch(&p->hits[ith], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&p->nth_seen, nth, __ATOMIC_RELAXED);
}

static void test_pool(void)
{
    CHECK(nn_pool_new(0) == NULL);
    CHECK_EQ_INT(nn_pool_size(NULL), 1);
    pool_probe p0;
    memset(&p0, 0, sizeof p0);
    nn_pool_run(NULL, probe_task, &p0);
    CHECK_EQ_INT(p0.hits[0], 1);
    CHECK_EQ_INT(p0.nth_seen, 1);
    for (int n = 1; n <= 4; n++) {
        nn_pool *pool = nn_pool_new(n);
        CHECK(pool != NULL);
        if (!pool) continue;
        CHECK_EQ_INT(nn_pool_size(pool), n);
        pool_probe p;
        memset(&p, 0, sizeof p);
        int runs = 2000;
        for (int r = 0; r < runs; r++) nn_pool_run(pool, probe_task, &p);
        int ok = 1;
        for (int i = 0; i < n; i++) ok &= p.hits[i] == runs;
        for (int i = n; i < 8; i++) ok &= p.hits[i] == 0;
        CHECK_MSG(ok, "pool of %d: every thread runs every task once", n);
        CHECK_EQ_INT(p.nth_seen, n);
        nn_pool_free(pool);
    }
    nn_pool_free(NULL);
}

/* ---- linear --------------------------------------------------------------------------------- */

enum { RES_NONE, RES_SEPARATE, RES_ALIASED };

/* Checks one linear layer call against the double reference; returns the error relative to
 * the magnitude (sum of |terms| + |residual|) of each output. */
static double check_linear(int32_t m, int32_t n, int32_t k, int with_bias, nn_act act, int res_mode,
                           nn_pool *pool)
{
    float *x = nn_test_rand_vec((size_t)m * k, 1.0f);
    float *w = nn_test_rand_vec((size_t)n * k, 3.0f / sqrtf((float)k)); /* pre-activations span ±~5 */
    float *bias = with_bias ? nn_test_rand_vec(n, 0.5f) : NULL;
    float *res = res_mode != RES_NONE ? nn_test_rand_vec((size_t)m * n, 1.0f) : NULL;
    float *res_copy = NULL;
    if (res) {
        res_copy = malloc((size_t)m * n * sizeof(float));
        memcpy(res_copy, res, (size_t)m * n * sizeof(float));
    }
    float *y = res_mode == RES_ALIASED ? res : malloc((size_t)m * n * sizeof(float));
    nn_linear l;
    int rc = nn_linear_init(&l, n, k, w, bias);
    CHECK_EQ_INT(rc, AE_OK);
    if (rc) return 1e9;
    nn_linear_forward(&l, x, m, y, act, res, pool);
    double worst = 0;
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0, mag = bias ? fabs(bias[j]) : 0;
            for (int32_t p = 0; p < k; p++) {
                double t = (double)x[(size_t)i * k + p] * w[(size_t)j * k + p];
                s += t;
                mag += fabs(t);
            }
            double ref = nn_test_act(act, s);
            if (res) {
                ref += res_copy[(size_t)i * n + j];
                mag += fabs(res_copy[(size_t)i * n + j]);
            }
            double e = fabs(y[(size_t)i * n + j] - ref) / (mag + 1e-30);
            if (!(e <= worst)) worst = isnan(e) ? 1e9 : e;
        }
    nn_linear_free(&l);
    free(x);
    free(w);
    free(bias);
    free(res_copy);
    if (res_mode != RES_ALIASED) free(y);
    free(res);
    return worst;
}

static const int32_t sizes[] = {1, 2, 3, 7, 13, 31, 33, 47, 50, 64, 65, 100, 129, 257, 769};
#define N_SIZES ((int)(sizeof sizes / sizeof sizes[0]))

static void test_linear_set(const char *kern, nn_pool *pool, int nth)
{
    double worst = 0;
    int calls = 0;
    /* odd shapes: every size appears as m, n and k; variants rotate over the calls */
    for (int i = 0; i < N_SIZES; i++)
        for (int j = 0; j < 3; j++) {
            int32_t m = sizes[i], n = sizes[(i * 5 + j * 3 + 2) % N_SIZES];
            int32_t k = sizes[(i * 7 + j * 4 + 1) % N_SIZES];
            int v = i * 3 + j + nth;
            double e = check_linear(m, n, k, v & 1, (nn_act)(v % 3), (v / 3) % 3, pool);
            CHECK_MSG(e < 2e-6, "%s, %d threads: linear m=%d n=%d k=%d: rel err %.3g", kern, nth,
                      (int)m, (int)n, (int)k, e);
            worst = e > worst ? e : worst;
            calls++;
        }
    /* row strides that are multiples of 4 KiB (x rows copied to a padded buffer), several
     * row blocks */
    static const int32_t copied[][3] = {{50, 65, 1024}, {129, 33, 2048}, {3, 40, 3072}};
    for (int i = 0; i < 3; i++) {
        int v = i + nth;
        double e = check_linear(copied[i][0], copied[i][1], copied[i][2], v & 1, (nn_act)(v % 3),
                                (v + 1) % 3, pool);
        CHECK_MSG(e < 2e-6, "%s, %d threads: linear m=%d n=%d k=%d: rel err %.3g", kern, nth,
                  (int)copied[i][0], (int)copied[i][1], (int)copied[i][2], e);
        worst = e > worst ? e : worst;
        calls++;
    }
    /* every variant on a shape with several k blocks, row tiles and a partial panel */
    for (int with_bias = 0; with_bias < 2; with_bias++)
        for (int act = 0; act < 3; act++)
            for (int res = 0; res < 3; res++) {
                double e = check_linear(31, 77, 769, with_bias, (nn_act)act, res, pool);
                CHECK_MSG(e < 2e-6, "%s, %d threads: linear 31x77x769 bias=%d act=%s res=%d: rel err %.3g",
                          kern, nth, with_bias, act_name[act], res, e);
                worst = e > worst ? e : worst;
                calls++;
            }
    printf("linear  %-6s threads=%d: %d calls, max rel err %.3g\n", kern, nth, calls, worst);
}

/* The blocked driver with tiny forced blocks (k blocks of 32, row blocks of two tiles, column
 * blocks of one or two panels), so that every machine runs the paths that real caches only
 * reach on others: many row, column and k blocks, partial ones, the copied-A path (K a
 * multiple of 1024), uneven splits; then the derived blocking's invariants. */
static void test_linear_blocked(const char *kern, nn_pool *pool, int nth)
{
    const nn_kernels *k = nn_kernels_get();
    static const int32_t shapes[][3] = {{1, 33, 65}, {29, 95, 100}, {50, 97, 1024}, {77, 64, 33},
                                        {130, 40, 257}, {13, 160, 2048}};
    double worst = 0;
    for (int b = 0; b < 2; b++) {
        nn_gemm_set_blocking(32 + 16 * b, 2 * k->mr_max, NN_NR * (b + 1));
        for (int i = 0; i < 6; i++) {
            int v = i + b + nth;
            double e = check_linear(shapes[i][0], shapes[i][1], shapes[i][2], v & 1,
                                    (nn_act)(v % 3), (v / 3) % 3, pool);
            CHECK_MSG(e < 2e-6, "%s, %d threads, tiny blocks %d: linear m=%d n=%d k=%d: rel err %.3g",
                      kern, nth, b, (int)shapes[i][0], (int)shapes[i][1], (int)shapes[i][2], e);
            worst = e > worst ? e : worst;
        }
    }
    nn_gemm_set_blocking(0, 0, 0);
    /* the derived blocking of a copied A (K a multiple of 1024): one column block, row blocks
     * shrunk to keep its C in L2 (102 rows with the tests' 512 KiB), rounded to the threads */
    double e = check_linear(600, 320, 1024, nth & 1, NN_ACT_QUICK_GELU, 0, pool);
    CHECK_MSG(e < 2e-6, "%s, %d threads, derived blocks: linear m=600 n=320 k=1024: rel err %.3g",
              kern, nth, e);
    worst = e > worst ? e : worst;
    nn_caches c = nn_cpu_caches();
    for (int32_t K = 64; K <= 4096; K *= 4) {
        nn_blocking bl = nn_gemm_blocking(k, K, nth);
        CHECK_MSG(bl.kc >= 32 && bl.kc % 16 == 0 && (int64_t)bl.kc * k->nr * 4 <= c.l1d,
                  "%s: kc %d fits L1 (%lld)", kern, (int)bl.kc, (long long)c.l1d);
        CHECK_MSG(bl.mc >= 4 * k->mr_max && bl.mc % k->mr_max == 0, "%s: mc %d", kern, (int)bl.mc);
        CHECK_MSG(bl.nc >= 8 * NN_NR && bl.nc % NN_NR == 0, "%s: nc %d", kern, (int)bl.nc);
    }
    printf("linear  %-6s threads=%d: tiny blocks, max rel err %.3g\n", kern, nth, worst);
}

/* The activations of every kernel set over a fine grid: a linear layer with W = I. */
static void test_act_grid(const char *kern, nn_pool *pool)
{
    const int32_t n = 64, m = 250; /* 16000 values in [-12, 12) */
    float *w = calloc((size_t)n * n, sizeof(float)), *x = malloc((size_t)m * n * sizeof(float));
    float *y = malloc((size_t)m * n * sizeof(float));
    for (int32_t i = 0; i < n; i++) w[(size_t)i * n + i] = 1.0f;
    for (int32_t i = 0; i < m * n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(m * n);
    nn_linear l;
    CHECK_EQ_INT(nn_linear_init(&l, n, n, w, NULL), AE_OK);
    for (int act = 1; act < 3; act++) {
        nn_linear_forward(&l, x, m, y, (nn_act)act, NULL, pool);
        double worst = 0;
        for (int32_t i = 0; i < m * n; i++) {
            double e = fabs(y[i] - nn_test_act((nn_act)act, x[i])) / (fabs(x[i]) + 1e-30);
            if (!(e <= worst)) worst = isnan(e) ? 1e9 : e;
        }
        printf("%-10s %-6s: max err / |x| %.3g over [-12, 12)\n", act_name[act], kern, worst);
        CHECK_MSG(worst < 3e-7, "%s %s: err %.3g", act_name[act], kern, worst);
    }
    nn_linear_free(&l);
    free(w);
    free(x);
    free(y);
}

/* The cache sizes the blocking comes from: AE_CACHES (set by main before the first call)
 * is taken as given. */
static void test_caches(void)
{
    nn_caches c = nn_cpu_caches();
    printf("caches (%s): L1d %lld, L2 %lld, L3 %lld\n", c.source, (long long)c.l1d, (long long)c.l2,
           (long long)c.l3);
    CHECK_STR_CONTAINS(c.source, "AE_CACHES");
    CHECK_MSG(c.l1d == 32 * 1024 && c.l2 == 512 * 1024 && c.l3 == 4 * 1024 * 1024,
              "AE_CACHES=32K,512K,4M read as %lld, %lld, %lld", (long long)c.l1d, (long long)c.l2,
              (long long)c.l3);
    nn_caches p = {0, 0, 0, "untouched"};
    CHECK_EQ_INT(nn_caches_parse("49152,1048576,33554432", &p), 0);
    CHECK(p.l1d == 49152 && p.l2 == 1048576 && p.l3 == 33554432);
    CHECK_EQ_INT(nn_caches_parse("48k,1m,32M", &p), 0);
    CHECK(p.l1d == 49152 && p.l2 == 1048576 && p.l3 == 33554432);
    static const char *bad[] = {"", "32K", "32K,512K", "32K,512K,4M,", "32K,,4M", "-1,512K,4M",
                                " 32K,512K,4M", "+32K,512K,4M", "0,512K,4M", "32K,512K,4G",
                                "99999999999999999999,1,1", "1099511627777,1,1", "9223372036854775807M,1,1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nn_caches q = {1, 2, 3, "untouched"};
        CHECK_MSG(nn_caches_parse(bad[i], &q) == -1 && q.l1d == 1 && q.l2 == 2 && q.l3 == 3,
                  "AE_CACHES '%s' refused, nothing written", bad[i]);
    }
    CHECK_EQ_INT(nn_caches_parse(NULL, &p), -1);
}

/* ---- LayerNorm ------------------------------------------------------------------------------ */

static void test_layernorm_set(const char *kern, nn_pool *pool, int nth)
{
    static const int32_t ms[] = {1, 3, 50, 77}, ds[] = {1, 7, 64, 768, 769};
    double worst = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 5; b++) {
            int32_t m = ms[a], d = ds[b];
            float *x = nn_test_rand_vec((size_t)m * d, 2.0f), *w = nn_test_rand_vec(d, 1.0f), *bb = nn_test_rand_vec(d, 1.0f);
            for (size_t i = 0; i < (size_t)m * d; i++) x[i] += 3.0f; /* a mean far from 0 */
            float *x0 = malloc((size_t)m * d * sizeof(float));
            memcpy(x0, x, (size_t)m * d * sizeof(float));
            int alias = (a + b) & 1;
            float *y = alias ? x : malloc((size_t)m * d * sizeof(float));
            nn_layernorm(x, m, d, w, bb, 1e-5f, y, pool);
            double e = 0;
            for (int32_t i = 0; i < m; i++) {
                const float *xr = x0 + (size_t)i * d;
                double mean = 0, var = 0;
                for (int32_t j = 0; j < d; j++) mean += xr[j];
                mean /= d;
                for (int32_t j = 0; j < d; j++) var += (xr[j] - mean) * (xr[j] - mean);
                var /= d;
                double rstd = 1.0 / sqrt(var + 1e-5);
                for (int32_t j = 0; j < d; j++) {
                    double ref = (xr[j] - mean) * rstd * w[j] + bb[j];
                    double mag = (fabs(xr[j]) + fabs(mean)) * rstd * fabs(w[j]) + fabs(bb[j]);
                    double ej = fabs(y[(size_t)i * d + j] - ref) / (mag + 1e-30);
                    if (!(ej <= e)) e = isnan(ej) ? 1e9 : ej;
                }
            }
            CHECK_MSG(e < 2e-6, "%s, %d threads: layernorm m=%d d=%d: rel err %.3g", kern, nth,
                      (int)m, (int)d, e);
            worst = e > worst ? e : worst;
            free(x);
            free(x0);
            free(w);
            free(bb);
            if (!alias) free(y);
        }
    printf("layernorm %-6s threads=%d: max rel err %.3g\n", kern, nth, worst);
}

/* ---- attention ------------------------------------------------------------------------------ */

static double check_attention(int32_t batch, int32_t L, int32_t D, int32_t heads, int32_t causal,
                              nn_pool *pool)
{
    int32_t dh = D / heads;
    size_t ld = 3 * (size_t)D;
    float *qkv = nn_test_rand_vec((size_t)batch * L * ld, 2.0f);
    float *out = malloc((size_t)batch * L * D * sizeof(float));
    float *scratch = malloc(nn_attention_scratch(L, pool) * sizeof(float));
    double *p = malloc((size_t)L * sizeof(double));
    nn_attention(qkv, batch, L, D, heads, causal, out, scratch, pool);
    double worst = 0;
    for (int32_t b = 0; b < batch; b++)
        for (int32_t h = 0; h < heads; h++)
            for (int32_t i = 0; i < L; i++) {
                const float *q = qkv + ((size_t)b * L + i) * ld + (size_t)h * dh;
                int32_t jn = causal ? i + 1 : L;
                double mx = -INFINITY, sum = 0;
                for (int32_t j = 0; j < jn; j++) {
                    const float *k = qkv + ((size_t)b * L + j) * ld + D + (size_t)h * dh;
                    double s = 0;
                    for (int32_t d = 0; d < dh; d++) s += (double)q[d] * k[d];
                    p[j] = s / sqrt((double)dh);
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (int32_t j = 0; j < jn; j++) sum += (p[j] = exp(p[j] - mx));
                for (int32_t d = 0; d < dh; d++) {
                    double o = 0, mag = 0;
                    for (int32_t j = 0; j < jn; j++) {
                        double vv = qkv[((size_t)b * L + j) * ld + 2 * D + (size_t)h * dh + d];
                        o += p[j] / sum * vv;
                        mag += p[j] / sum * fabs(vv);
                    }
                    double e = fabs(out[((size_t)b * L + i) * D + (size_t)h * dh + d] - o) / (mag + 1e-30);
                    if (!(e <= worst)) worst = isnan(e) ? 1e9 : e;
                }
            }
    free(qkv);
    free(out);
    free(scratch);
    free(p);
    return worst;
}

static void test_attention_set(const char *kern, nn_pool *pool, int nth)
{
    static const int32_t Ls[] = {1, 5, 50, 77};
    /* (D, heads): dh = 64, 16, 12, 80 (two chunks of head dimensions), 8, 15 and 67 (dims
     * past the key packing's blocks of 4) */
    static const int32_t dims[][2] = {{128, 2}, {96, 6}, {72, 6}, {160, 2}, {8, 1}, {90, 6}, {134, 2}};
    double worst = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 7; b++)
            for (int causal = 0; causal < 2; causal++) {
                int32_t batch = 1 + (a + b + causal) % 3;
                double e = check_attention(batch, Ls[a], dims[b][0], dims[b][1], causal, pool);
                CHECK_MSG(e < 1e-5, "%s, %d threads: attention batch=%d L=%d D=%d heads=%d causal=%d: rel err %.3g",
                          kern, nth, (int)batch, (int)Ls[a], (int)dims[b][0], (int)dims[b][1], causal, e);
                worst = e > worst ? e : worst;
            }
    printf("attention %-6s threads=%d: max rel err %.3g\n", kern, nth, worst);
}

/* ---- attention after a shared prefix ------------------------------------------------------- */

/* batch sequences of Lp + lens[b] tokens whose first Lp tokens (q, k, v) are the same: the
 * suffix rows of nn_attention_prefix against causal attention over the whole sequences in
 * double precision; and bitwise against the same call with no prefix given (Lp = 0, the
 * prefix tokens passed as part of every suffix), which is what makes text embeddings
 * independent of the prefix shared. Returns the max relative error. */
static double check_attention_prefix(int32_t Lp, const int32_t *lens, int32_t batch, int32_t D,
                                     int32_t heads, nn_pool *pool)
{
    int32_t dh = D / heads, maxl = 0;
    size_t ld = 3 * (size_t)D, rows = 0;
    for (int32_t b = 0; b < batch; b++) {
        rows += (size_t)lens[b];
        maxl = lens[b] > maxl ? lens[b] : maxl;
    }
    float *pre = nn_test_rand_vec((size_t)(Lp ? Lp : 1) * ld, 2.0f); /* the prefix tokens' qkv */
    float *suf = nn_test_rand_vec(rows * ld, 2.0f);                   /* the suffixes' qkv, packed */
    float *kv = malloc((size_t)(Lp ? Lp : 1) * 2 * D * sizeof(float));
    for (int32_t j = 0; j < Lp; j++)
        memcpy(kv + (size_t)j * 2 * D, pre + (size_t)j * ld + D, (size_t)2 * D * sizeof(float));
    /* the whole sequences packed, for the Lp = 0 call */
    size_t frows = rows + (size_t)batch * Lp;
    float *full = malloc(frows * ld * sizeof(float));
    int32_t *flens = malloc((size_t)batch * sizeof *flens);
    size_t so = 0, fo = 0;
    for (int32_t b = 0; b < batch; b++) {
        memcpy(full + fo * ld, pre, (size_t)Lp * ld * sizeof(float));
        memcpy(full + (fo + Lp) * ld, suf + so * ld, (size_t)lens[b] * ld * sizeof(float));
        flens[b] = Lp + lens[b];
        so += (size_t)lens[b];
        fo += (size_t)flens[b];
    }
    float *out = malloc((rows + 1) * D * sizeof(float)); /* + a guard row */
    float *fout = malloc(frows * D * sizeof(float));
    for (int32_t d = 0; d < D; d++) out[rows * D + d] = 12345.0f;
    float *scratch = malloc(nn_attention_prefix_scratch(Lp + maxl, pool) * sizeof(float));
    double *p = malloc((size_t)(Lp + maxl) * sizeof(double));
    nn_attention_prefix(kv, Lp, suf, lens, batch, D, heads, out, scratch, pool);
    nn_attention_prefix(kv, 0, full, flens, batch, D, heads, fout, scratch, pool);
    for (int32_t d = 0; d < D; d++) CHECK(out[rows * D + d] == 12345.0f);

    double worst = 0;
    int exact = 1;
    so = fo = 0;
    for (int32_t b = 0; b < batch; b++) {
        for (int32_t h = 0; h < heads; h++)
            for (int32_t i = 0; i < lens[b]; i++) {
                /* row r of the whole sequence b */
#define ROW(r) ((r) < Lp ? pre + (size_t)(r) * ld : suf + (so + (size_t)(r) - Lp) * ld)
                const float *q = ROW(Lp + i) + (size_t)h * dh;
                int32_t jn = Lp + i + 1;
                double mx = -INFINITY, sum = 0;
                for (int32_t j = 0; j < jn; j++) {
                    const float *k = ROW(j) + D + (size_t)h * dh;
                    double s = 0;
                    for (int32_t d = 0; d < dh; d++) s += (double)q[d] * k[d];
                    p[j] = s / sqrt((double)dh);
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (int32_t j = 0; j < jn; j++) sum += (p[j] = exp(p[j] - mx));
                for (int32_t d = 0; d < dh; d++) {
                    double o = 0, mag = 0;
                    for (int32_t j = 0; j < jn; j++) {
                        double vv = ROW(j)[2 * D + (size_t)h * dh + d];
                        o += p[j] / sum * vv;
                        mag += p[j] / sum * fabs(vv);
                    }
#undef ROW
                    size_t at = (so + i) * D + (size_t)h * dh + d;
                    double e = fabs(out[at] - o) / (mag + 1e-30);
                    if (!(e <= worst)) worst = isnan(e) ? 1e9 : e;
                    if (out[at] != fout[(fo + Lp + i) * D + (size_t)h * dh + d]) exact = 0;
                }
            }
        so += (size_t)lens[b];
        fo += (size_t)flens[b];
    }
    CHECK_MSG(exact, "attention_prefix Lp=%d batch=%d D=%d: differs from the unshared call",
              (int)Lp, (int)batch, (int)D);
    free(pre);
    free(suf);
    free(kv);
    free(full);
    free(flens);
    free(out);
    free(fout);
    free(scratch);
    free(p);
    return worst;
}

static void test_attention_prefix_set(const char *kern, nn_pool *pool, int nth)
{
    /* suffix lengths, as in prompt banks, plus a whole-context one and single tokens */
    static const int32_t lens[] = {5, 1, 3, 7, 1, 2, 69, 4, 6};
    static const int32_t Lps[] = {0, 1, 8, 76};
    static const int32_t dims[][2] = {{128, 2}, {96, 6}, {72, 6}, {160, 2}, {8, 1}};
    double worst = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 5; b++) {
            /* Lp = 76: two sequences of the whole context, each with one suffix token */
            static const int32_t one[2] = {1, 1};
            int32_t batch = Lps[a] == 76 ? 2 : 1 + (a * 5 + b) % 9;
            const int32_t *l = Lps[a] == 76 ? one : lens;
            double e = check_attention_prefix(Lps[a], l, batch, dims[b][0], dims[b][1], pool);
            CHECK_MSG(e < 1e-5, "%s, %d threads: attention_prefix Lp=%d batch=%d D=%d heads=%d: rel err %.3g",
                      kern, nth, (int)Lps[a], (int)batch, (int)dims[b][0], (int)dims[b][1], e);
            worst = e > worst ? e : worst;
        }
    printf("attention_prefix %-6s threads=%d: max rel err %.3g\n", kern, nth, worst);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void test_linear_errors(void)
{
    nn_linear l;
    float w[4] = {1, 2, 3, 4};
    CHECK_EQ_INT(nn_linear_init(&l, 0, 4, w, NULL), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "linear layer: bad shape [0, 4]");
    CHECK(l.w == NULL && l.bias == NULL);
    nn_linear_free(&l); /* safe after a failed init */
    CHECK_EQ_INT(nn_linear_init(&l, 2, -1, w, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(nn_linear_init(&l, 1, 4, w, NULL), AE_OK);
    float x[4] = {1, 1, 1, 1}, y[1];
    nn_linear_forward(&l, x, 1, y, NN_ACT_NONE, NULL, NULL);
    CHECK_NEAR(y[0], 10.0, 0);
    nn_linear_forward(&l, x, 0, y, NN_ACT_NONE, NULL, NULL); /* m = 0: nothing */
    nn_linear_free(&l);
}

int main(void)
{
    nn_test_seed(0x9E3779B97F4A7C15ull);
    /* a Zen 3-like hierarchy, whatever this machine has: the blocking tests then follow it */
    setenv("AE_CACHES", "32K,512K,4M", 1);
    test_activations();
    test_gemm_ref();
    test_pool();
    test_linear_errors();
    test_caches();
    const char *default_name = nn_kernel_name();
    printf("default kernel set: %s\n", default_name);
    CHECK(!strcmp(default_name, "scalar") || !strcmp(default_name, "avx2") ||
          !strcmp(default_name, "avxvnni") || !strcmp(default_name, "avx512") ||
          !strcmp(default_name, "avx512vnni") || !strcmp(default_name, "neon") ||
          !strcmp(default_name, "neondot"));
    CHECK_EQ_INT(nn_set_kernels("nonsense"), -1);
    static const char *sets[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni",
                                 "neon", "neondot"};
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        if (!nn_kernels_supported(sets[s])) {
            printf("%s: not supported by this CPU, skipped\n", sets[s]);
            CHECK_EQ_INT(nn_set_kernels(sets[s]), -1);
            continue;
        }
        CHECK_EQ_INT(nn_set_kernels(sets[s]), 0);
        CHECK_STR_CONTAINS(nn_kernel_name(), sets[s]);
        test_act_grid(sets[s], NULL);
        for (int nth = 1; nth <= 3; nth++) {
            nn_pool *pool = nth == 1 ? NULL : nn_pool_new(nth);
            test_linear_set(sets[s], pool, nth);
            test_linear_blocked(sets[s], pool, nth);
            test_layernorm_set(sets[s], pool, nth);
            test_attention_set(sets[s], pool, nth);
            test_attention_prefix_set(sets[s], pool, nth);
            nn_pool_free(pool);
        }
    }
    return test_summary();
}
