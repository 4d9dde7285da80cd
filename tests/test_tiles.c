/*
 * test_tiles.c — each kernel set's micro-kernels called directly against the plain-C spec
 * (nn_ref.c, linear_i8.c), for every set this CPU runs: the float32 tile (every row count up
 * to the set's mr_max, every column count 1..32, depths 1..13 around the unrolled steps,
 * first / middle / last k block, bias or none, res_init / res_final with the residual
 * separate or aliased to C, each activation) against nn_tile_generic; the int8 tile (every
 * row count up to i8_mr, columns 1..32, 1..17 groups of 4 k) against nn_tile_i8_ref, with the
 * int32 sums bit-exact (unit scales, no epilogue terms: the output is the sum itself) and the
 * epilogue (scales, bias, add, activation, residual, residual aliased to C) bit-exact without
 * an activation and within a few ulp with one; softmax and LayerNorm rows against the scalar
 * set's. Every call is also checked to write nothing outside its mr x nr block of C. The set
 * chosen at start-up is printed ("default kernel set: neon") and, on AArch64, checked to be
 * neondot exactly when the CPU has the dot-product extension.
 *
 * The linear-layer tests of test_nn.c reach the tiles through the GEMM drivers, with the
 * shapes those hand out; these reach every edge of the tile contract (nn_internal.h).
 */
#include <stdint.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "test.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static float frand(void) /* uniform in [-1, 1) */
{
    return (float)((rnd() >> 8) * (1.0 / 8388608.0) - 1.0);
}

static const float SENTINEL = 12345.0f;

#define LDC 40 /* row stride of C and the residual: room for the sentinels past 32 columns */

/* 1 if every element of c outside rows [0, mr) x columns [0, nr) is still the sentinel */
static int untouched(const float *c, int rows, int mr, int nr)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < LDC; j++)
            if ((r >= mr || j >= nr) && c[r * LDC + j] != SENTINEL) return 0;
    return 1;
}

/* ---- float32 tile ----------------------------------------------------------------------- */

typedef struct {
    int first, last, bias, res_init, res_final, alias;
    nn_act act;
} f32_case;

static const f32_case f32_cases[] = {
    {1, 1, 1, 0, 0, 0, NN_ACT_NONE},       {1, 1, 0, 0, 0, 0, NN_ACT_NONE},
    {1, 1, 1, 1, 0, 0, NN_ACT_NONE},       {1, 1, 1, 1, 0, 1, NN_ACT_NONE},
    {1, 1, 1, 0, 1, 0, NN_ACT_QUICK_GELU}, {1, 1, 0, 0, 1, 1, NN_ACT_GELU},
    {1, 1, 1, 0, 0, 0, NN_ACT_QUICK_GELU}, {1, 0, 1, 1, 0, 1, NN_ACT_NONE},
    {0, 0, 0, 0, 0, 0, NN_ACT_NONE},       {0, 1, 0, 0, 0, 0, NN_ACT_GELU},
    {0, 1, 0, 0, 0, 0, NN_ACT_QUICK_GELU},
};

static void test_f32_tile(const nn_kernels *k)
{
    enum { KMAX = 13, LDA = KMAX + 3 };
    static const int depths[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13};
    const int rows = k->mr_max;
    float *a = malloc(sizeof(float) * rows * LDA), *b = malloc(sizeof(float) * KMAX * NN_NR);
    float bias[NN_NR], *res = malloc(sizeof(float) * rows * LDC), *c0 = malloc(sizeof(float) * rows * LDC);
    float *got = malloc(sizeof(float) * rows * LDC), *want = malloc(sizeof(float) * rows * LDC);
    float *res_g = malloc(sizeof(float) * rows * LDC), *res_w = malloc(sizeof(float) * rows * LDC);
    for (int i = 0; i < rows * LDA; i++) a[i] = frand();
    for (int i = 0; i < KMAX * NN_NR; i++) b[i] = frand();
    for (int j = 0; j < NN_NR; j++) bias[j] = frand();
    for (int i = 0; i < rows * LDC; i++) res[i] = frand(), c0[i] = frand();
    int calls = 0, bad = 0, strays = 0;
    double worst = 0;
    for (size_t ci = 0; ci < sizeof f32_cases / sizeof *f32_cases; ci++) {
        const f32_case *fc = &f32_cases[ci];
        for (int mr = 1; mr <= rows; mr++)
            for (int nr = 1; nr <= NN_NR; nr++)
                for (size_t di = 0; di < sizeof depths / sizeof *depths; di++) {
                    const int kc = depths[di];
                    /* C: the sentinel outside the block; inside it, the previous k block's
                     * sums (not first) or garbage (first) */
                    for (int i = 0; i < rows * LDC; i++) got[i] = SENTINEL;
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++) got[r * LDC + j] = c0[r * LDC + j];
                    memcpy(want, got, sizeof(float) * rows * LDC);
                    memcpy(res_g, res, sizeof(float) * rows * LDC);
                    memcpy(res_w, res, sizeof(float) * rows * LDC);
                    const int use_res = fc->res_init || fc->res_final;
                    if (use_res && fc->alias) /* res == c: C holds the residual */
                        for (int r = 0; r < mr; r++)
                            for (int j = 0; j < nr; j++)
                                got[r * LDC + j] = want[r * LDC + j] = res[r * LDC + j];
                    nn_tile t = {
                        .mr = mr, .nr = nr, .kc = kc, .a = a, .lda = LDA, .b = b, .ldc = LDC,
                        .bias = fc->bias ? bias : NULL, .ldr = LDC, .first = fc->first,
                        .last = fc->last, .res_init = fc->res_init, .res_final = fc->res_final,
                        .act = fc->act,
                    };
                    nn_tile tw = t;
                    t.c = got;
                    tw.c = want;
                    t.res = use_res ? (fc->alias ? got : res_g) : NULL;
                    tw.res = use_res ? (fc->alias ? want : res_w) : NULL;
                    if (calls & 1) { /* a prefetch stream on every other call */
                        t.pf = b;
                        t.pf_step = 8;
                    }
                    k->tile(&t);
                    nn_tile_generic(&tw);
                    calls++;
                    if (!untouched(got, rows, mr, nr)) strays++;
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++) {
                            /* the size of what was summed: products, bias, C, residual */
                            double mag = 1.0;
                            for (int p = 0; p < kc; p++) mag += fabs(a[r * LDA + p] * b[p * NN_NR + j]);
                            double d = fabs((double)got[r * LDC + j] - want[r * LDC + j]) / mag;
                            if (!(d <= 2e-6)) bad++;
                            if (!(d <= worst)) worst = d;
                        }
                }
    }
    printf("tile f32 %-10s: %d calls, max err %.3g (of the magnitude summed)\n", k->name, calls, worst);
    CHECK_MSG(bad == 0, "%s: %d outputs of the f32 tile off the spec", k->name, bad);
    CHECK_MSG(strays == 0, "%s: %d f32 tile calls wrote outside their block", k->name, strays);
    free(a);
    free(b);
    free(res);
    free(c0);
    free(got);
    free(want);
    free(res_g);
    free(res_w);
}

/* ---- int8 tile -------------------------------------------------------------------------- */

enum { KG_MAX = 17 };

/* Quantized operands as a set takes them: a[r][k] s8 (stored as u8 = s8 + 128 for sets with
 * i8_unsigned, with corr = 128 Σk w), w packed in groups of 4 k. extreme: all magnitudes 127,
 * signs chosen so that the sums reach +-kg * 4 * 127^2 */
static void i8_operands(const nn_kernels *k, int rows, int kg, int extreme, uint8_t *a, ptrdiff_t lda,
                        int8_t *b, int32_t *corr)
{
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < kg * 4; i++) {
            int v = extreme ? ((r & 1) ? -127 : 127) : (int)(rnd() % 255) - 127;
            a[r * lda + i] = (uint8_t)((uint8_t)(int8_t)v ^ (k->i8_unsigned ? 0x80 : 0));
        }
    for (int j = 0; j < NN_NR; j++) {
        int32_t s = 0;
        for (int i = 0; i < kg * 4; i++) {
            int v = extreme ? ((j & 1) ? 127 : -127) : (int)(rnd() % 255) - 127;
            b[((i / 4) * NN_NR + j) * 4 + i % 4] = (int8_t)v;
            s += v;
        }
        corr[j] = 128 * s;
    }
}

static void test_i8_tile(const nn_kernels *k)
{
    const int rows = k->i8_mr;
    const ptrdiff_t lda = KG_MAX * 4 + 16;
    uint8_t *a = malloc((size_t)rows * lda);
    int8_t *b = malloc((size_t)KG_MAX * NN_NR * 4);
    int32_t corr[NN_NR];
    float ones[NN_NR], a_scale[NN_MR_MAX], w_scale[NN_NR], bias[NN_NR];
    float *add = malloc(sizeof(float) * rows * LDC), *res = malloc(sizeof(float) * rows * LDC);
    float *got = malloc(sizeof(float) * rows * LDC), *want = malloc(sizeof(float) * rows * LDC);
    for (int j = 0; j < NN_NR; j++) ones[j] = 1.0f;
    int calls = 0, sums_off = 0, epi_off = 0, strays = 0;
    double worst = 0;
    for (int kg = 1; kg <= KG_MAX; kg++)
        for (int extreme = 0; extreme <= 1; extreme++) {
            i8_operands(k, rows, kg, extreme, a, lda, b, corr);
            for (int mr = 1; mr <= rows; mr++)
                for (int nr = 1; nr <= NN_NR; nr++) {
                    /* (1) the int32 sums: unit scales and nothing added, so C is the sum
                     * itself (exact in float: |sum| <= 17 * 4 * 127^2 < 2^24) */
                    for (int i = 0; i < rows * LDC; i++) got[i] = want[i] = SENTINEL;
                    nn_tile_i8 t = {
                        .mr = mr, .nr = nr, .kg = kg, .a = a, .lda = lda, .b = b,
                        .a_scale = ones, .w_scale = ones, .corr = k->i8_unsigned ? corr : NULL,
                        .ldadd = LDC, .ldr = LDC, .ldc = LDC, .act = NN_ACT_NONE,
                    };
                    if (calls & 1) {
                        t.pf = b;
                        t.pf_step = 64;
                    }
                    nn_tile_i8 tw = t;
                    t.c = got;
                    tw.c = want;
                    k->tile_i8(&t);
                    nn_tile_i8_ref(&tw);
                    calls++;
                    if (!untouched(got, rows, mr, nr)) strays++;
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++)
                            if (got[r * LDC + j] != want[r * LDC + j]) sums_off++;
                    if (extreme) continue;
                    /* (2) the epilogue, with one combination of its terms per column count */
                    const int variant = nr % 8;
                    const nn_act act = (nn_act)(nr / 8 % 3);
                    for (int r = 0; r < mr; r++) a_scale[r] = 0.001f * (1 + rnd() % 100);
                    for (int j = 0; j < NN_NR; j++) {
                        w_scale[j] = 0.0001f * (1 + rnd() % 100);
                        bias[j] = frand();
                    }
                    for (int i = 0; i < rows * LDC; i++) {
                        add[i] = frand();
                        res[i] = frand();
                        got[i] = want[i] = SENTINEL;
                    }
                    const int alias = variant == 7; /* res == c */
                    if (alias)
                        for (int r = 0; r < mr; r++)
                            for (int j = 0; j < nr; j++) got[r * LDC + j] = want[r * LDC + j] = res[r * LDC + j];
                    t.a_scale = tw.a_scale = a_scale;
                    t.w_scale = tw.w_scale = w_scale;
                    t.bias = tw.bias = variant & 1 ? bias : NULL;
                    t.add = tw.add = variant & 2 ? add : NULL;
                    t.res = variant & 4 ? (alias ? got : res) : NULL;
                    tw.res = variant & 4 ? (alias ? want : res) : NULL;
                    t.act = tw.act = act;
                    k->tile_i8(&t);
                    nn_tile_i8_ref(&tw);
                    calls++;
                    if (!untouched(got, rows, mr, nr)) strays++;
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++) {
                            /* an activation's error of a few ulp is one of its input (of
                             * size 1 or more here) and survives a residual that cancels */
                            double g = got[r * LDC + j], w = want[r * LDC + j];
                            double rv = tw.res ? fabs(res[r * LDC + j]) : 0.0;
                            double d = fabs(g - w) / (fabs(w) + rv + 1.0);
                            if (act == NN_ACT_NONE ? g != w : !(d <= 1e-6)) epi_off++;
                            if (!(d <= worst)) worst = d;
                        }
                }
        }
    printf("tile i8  %-10s: %d calls, sums %s, epilogue max err %.3g\n", k->name, calls,
           sums_off ? "OFF" : "exact", worst);
    CHECK_MSG(sums_off == 0, "%s: %d int8 sums differ from nn_tile_i8_ref", k->name, sums_off);
    CHECK_MSG(epi_off == 0, "%s: %d int8 epilogue outputs off the spec", k->name, epi_off);
    CHECK_MSG(strays == 0, "%s: %d int8 tile calls wrote outside their block", k->name, strays);
    free(a);
    free(b);
    free(add);
    free(res);
    free(got);
    free(want);
}

/* ---- softmax and LayerNorm rows --------------------------------------------------------- */

static void test_softmax(const nn_kernels *k)
{
    static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 50, 77, 197, 257};
    float s[257], want[257];
    double worst = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        const int n = sizes[i];
        for (int j = 0; j < n; j++) s[j] = want[j] = 8.0f * frand();
        const float scale = 0.125f + (float)i;
        k->softmax(s, n, scale);
        nn_softmax_scalar(want, n, scale);
        for (int j = 0; j < n; j++) {
            double d = fabs((double)s[j] - want[j]) / (want[j] + 1e-30);
            if (!(d <= worst)) worst = d;
        }
    }
    printf("softmax  %-10s: max rel err %.3g\n", k->name, worst);
    CHECK_MSG(worst < 1e-5, "%s: softmax rel err %.3g", k->name, worst);
}

static void test_layernorm_rows(const nn_kernels *k)
{
    static const int dims[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 64, 77, 768, 1027};
    enum { ROWS = 3, DMAX = 1027 };
    float *x = malloc(sizeof(float) * ROWS * DMAX), *y = malloc(sizeof(float) * ROWS * DMAX);
    float *want = malloc(sizeof(float) * ROWS * DMAX), *w = malloc(sizeof(float) * DMAX);
    float *bb = malloc(sizeof(float) * DMAX);
    double worst = 0;
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        const int d = dims[i];
        for (int j = 0; j < ROWS * d; j++) x[j] = 3.0f * frand() + (j % 7 == 0 ? 20.0f : 0.0f);
        for (int j = 0; j < d; j++) w[j] = frand(), bb[j] = frand();
        for (int j = 0; j < ROWS * d; j++) y[j] = want[j] = SENTINEL;
        k->layernorm_rows(x, 1, ROWS, d, w, bb, 1e-5f, y); /* rows 1 and 2 only */
        nn_layernorm_rows_scalar(x, 1, ROWS, d, w, bb, 1e-5f, want);
        for (int j = 0; j < d; j++) CHECK(y[j] == SENTINEL); /* row 0 not written */
        for (int j = d; j < ROWS * d; j++) {
            double e = fabs((double)y[j] - want[j]) / (fabs(w[j % d]) * 4.0 + fabs(bb[j % d]) + 1e-3);
            if (!(e <= worst)) worst = e;
        }
        /* in place (y == x) */
        memcpy(y, x, sizeof(float) * ROWS * d);
        k->layernorm_rows(y, 0, ROWS, d, w, bb, 1e-5f, y);
        nn_layernorm_rows_scalar(x, 0, ROWS, d, w, bb, 1e-5f, want);
        for (int j = 0; j < ROWS * d; j++) {
            double e = fabs((double)y[j] - want[j]) / (fabs(w[j % d]) * 4.0 + fabs(bb[j % d]) + 1e-3);
            if (!(e <= worst)) worst = e;
        }
    }
    printf("layernorm %-9s: max err %.3g\n", k->name, worst);
    CHECK_MSG(worst < 1e-5, "%s: layernorm err %.3g", k->name, worst);
    free(x);
    free(y);
    free(want);
    free(w);
    free(bb);
}

int main(void)
{
    static const char *sets[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni",
                                 "neon", "neondot"};
    /* the set chosen at start-up (scripts/test-arm64.sh reads this line under qemu's -cpu) */
    const char *def = nn_kernels_get()->name;
    printf("default kernel set: %s\n", def);
    CHECK(nn_kernels_supported(def));
#if defined(__aarch64__)
    if (!getenv("AE_KERNELS")) /* neondot > neon: SDOT where the CPU has it */
        CHECK_STR_CONTAINS(def, nn_kernels_supported("neondot") ? "neondot" : "neon");
#endif
    int ran = 0;
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        if (nn_set_kernels(sets[s]) != 0) {
            printf("%s: not supported by this CPU, skipped\n", sets[s]);
            continue;
        }
        const nn_kernels *k = nn_kernels_get();
        CHECK(!strcmp(k->name, sets[s]));
        CHECK(k->mr_max >= 1 && k->mr_max <= NN_MR_MAX && k->i8_mr >= 1 && k->i8_mr <= NN_MR_MAX);
        test_f32_tile(k);
        test_i8_tile(k);
        test_softmax(k);
        test_layernorm_rows(k);
        ran++;
    }
    CHECK(ran >= 1);
    return test_summary();
}
