/*
 * linear_i8.c — int8 linear layers (NN_I8): quantization of the weights at init, of the
 * activations at each call, and the GEMM driver of the int8 tiles.
 *
 * Weights: per output channel, symmetric: Wq[n][k] = round(W[n][k] / s[n]) with
 * s[n] = max_k |W[n][k]| / 127, so Wq is in [-127, 127] (never -128: the AVX2 kernel's sign
 * trick and the unsigned offset both rely on it), packed in groups of 4 k (nn_internal.h).
 *
 * Activations: per row, symmetric, at each call: q[r][k] = round(x[r][k] / a[r]) with
 * a[r] = max_k |x[r][k]| / 127. One large value in a row would leave the others a few levels
 * (CLIP's residual stream has a few channels 20-100x the rest, and LayerNorm passes them on),
 * so first the row's values beyond ROW_OUTLIER_RATIO times its tail-free RMS (the RMS of the
 * values within 4 RMS, the weights' rule below; at most MAX_ROW_OUTLIERS, the largest) are
 * taken out of the int8 product — quantized as 0 and left out of a[r] — and their exact
 * float32 contribution, x[r][k] · (s Wq)[:, k], is added to the row's sums before the
 * activation (the decomposition of LLM.int8(), Dettmers et al. 2022, made per row). Each row
 * is decided on its own values alone, so a row's result never depends on the other rows of
 * the call: an image scores the same alone, in a batch of 32 or beside any other images.
 *
 * A call: (1) each row's outliers, scale and quantized bytes (as s8, or as u8 = s8 + 128 for
 * kernels that multiply unsigned by signed: the sums are then corrected by 128 Σk Wq[n][k],
 * kept per channel); (2) the outlier correction, if any; (3) the tiles: work units of a row block x a column block from a shared
 * counter, column-block major, as in linear.c. A unit runs each column slice of its block over
 * all its row tiles, each tile over all of K (the int32 sums stay in registers; a slice of
 * K x 32 bytes fits L1 for K = 768 and L2 for 3072), so there are no k blocks.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "nn/nn_internal.h"

#define MAX_ROW_OUTLIERS 32    /* activations kept out of a row's int8 product, at most, */
#define ROW_OUTLIER_RATIO 6.0f /* ... beyond this many tail-free RMS of the row */
#define SPARSE_SIGMAS 6.0   /* weights beyond this many (tail-free) RMS of their row are exact */
#define SPARSE_MAX_SHARE 16 /* ... unless more than 1 in this many of the row's are */
#define COL_MIN_LEVELS 2    /* input columns with 15/16 of their weights within this many int8
                               steps of zero are exact, */
#define COL_MIN_ROWS 64     /* in layers of this many outputs at least */

static inline int32_t kgroups(int32_t k) { return (k + 3) / 4; }

/* Row stride of the quantized activations: K rounded up to 64 bytes, plus a line, so rows
 * never fall 4 KiB apart. */
static inline ptrdiff_t qa_ld(int32_t k) { return ((ptrdiff_t)kgroups(k) * 4 + 63) / 64 * 64 + 64; }



/* |x| as the bits of a non-negative float: their integer order is the floats' order (NaN
 * above infinity), and integer maxima vectorise where float ones may not. */
static inline int32_t abs_bits(float x)
{
    int32_t u;
    memcpy(&u, &x, sizeof u);
    return u & 0x7fffffff;
}

static inline float bits_float(int32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The passes over x below run once per call over all of it; GCC emits AVX-512 and AVX2 copies
 * of them beside the baseline one and picks one at load time (the library is built for
 * baseline x86-64). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define AE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AE_CLONES
#endif

/* The largest abs_bits of x[0..K) and, in *ss, Σ x[k]² (vectorised by the simd pragma: the
 * sum's order is the vector lanes', so its last bits differ between kernel sets) */
AE_CLONES
static int32_t row_stats(const float *x, int32_t K, float *ss)
{
    float s = 0.0f;
    int32_t ub = 0;
#pragma omp simd reduction(+ : s) reduction(max : ub)
    for (int32_t k = 0; k < K; k++) {
        const int32_t u = abs_bits(x[k]);
        s += x[k] * x[k];
        ub = ub > u ? ub : u;
    }
    *ss = s;
    return ub;
}

/* The first block of 64 at or after k0 (a multiple of 64) of x[0..K) with an abs_bits above
 * tb, or K */
AE_CLONES
static int32_t block_above(const float *x, int32_t k0, int32_t K, int32_t tb)
{
    for (; k0 < K; k0 += 64) {
        const int32_t n = K - k0 < 64 ? K - k0 : 64;
        int32_t ub = 0;
#pragma omp simd reduction(max : ub)
        for (int32_t k = 0; k < n; k++) {
            const int32_t u = abs_bits(x[k0 + k]);
            ub = ub > u ? ub : u;
        }
        if (ub > tb) return k0;
    }
    return K;
}

/* Σ x[k]² over the x[k] with |x[k]| <= lim, and in *n how many they are */
AE_CLONES
static float row_sumsq_within(const float *x, int32_t K, float lim, int32_t *n)
{
    float s = 0.0f;
    int32_t c = 0;
#pragma omp simd reduction(+ : s, c)
    for (int32_t k = 0; k < K; k++) {
        const int in = fabsf(x[k]) <= lim;
        s += in ? x[k] * x[k] : 0.0f;
        c += in;
    }
    *n = c;
    return s;
}

/* q[k] = nn_q8(x[k] * inv) as a byte, xor flip: the spec of the kernel sets' quant_i8 */
AE_CLONES
void nn_quant_i8_ref(const float *x, int32_t K, float inv, uint8_t flip, uint8_t *q)
{
    for (int32_t k = 0; k < K; k++) q[k] = (uint8_t)((uint8_t)nn_q8(x[k] * inv) ^ flip);
}

/* c[n] += a · w[n] */
AE_CLONES
static void axpy_row(float a, const float *w, int32_t N, float *c)
{
    for (int32_t n = 0; n < N; n++) c[n] += a * w[n];
}

void nn_i8_exact_free(nn_i8_exact *e)
{
    if (!e) return;
    free(e->sp_start);
    free(e->sp_col);
    free(e->sp_val);
    free(e->col_w);
    free(e);
}

/* Appends (k, v) to the sparse weights, growing the arrays; -1 when out of memory. */
static int sparse_push(nn_i8_exact *e, int32_t *cap, int32_t k, float v)
{
    if (e->n_sparse == *cap) {
        int32_t c = *cap ? 2 * *cap : 1024;
        int32_t *col = realloc(e->sp_col, (size_t)c * sizeof *col);
        if (col) e->sp_col = col;
        float *val = realloc(e->sp_val, (size_t)c * sizeof *val);
        if (val) e->sp_val = val;
        if (!col || !val) return -1;
        *cap = c;
    }
    e->sp_col[e->n_sparse] = k;
    e->sp_val[e->n_sparse++] = v;
    return 0;
}

static int init_fail(nn_linear *l, int rc)
{
    nn_linear_free(l);
    memset(l, 0, sizeof *l);
    return rc;
}

int nn_linear_init_i8(nn_linear *l, int32_t n_out, int32_t n_in, const float *w, const float *bias)
{
    memset(l, 0, sizeof *l);
    if (n_out <= 0 || n_in <= 0 || !w)
        return ae_fail(AE_ERR_INVALID, "linear layer: bad shape [%d, %d]", (int)n_out, (int)n_in);
    const size_t n_panels = ((size_t)n_out + NN_NR - 1) / NN_NR, kg = (size_t)kgroups(n_in);
    if (n_panels * kg > SIZE_MAX / 4 / NN_NR / 2)
        return ae_fail(AE_ERR_TOO_LARGE, "linear layer: [%d, %d] too large", (int)n_out, (int)n_in);
    const size_t w_bytes = n_panels * kg * NN_NR * 4, n_pad = n_panels * NN_NR;
    l->n_out = n_out;
    l->n_in = n_in;
    l->prec = NN_I8;
    l->w_bytes = w_bytes;
    int8_t *pw = l->w = ae_big_alloc(w_bytes, AE_BIG_WEIGHTS);
    float *scale = l->w_scale = nn_alloc64(n_pad * sizeof(float));
    int32_t *corr = l->w_corr = nn_alloc64(n_pad * sizeof(int32_t));
    float *pb = l->bias = bias ? nn_alloc64(n_pad * sizeof(float)) : NULL;
    nn_i8_exact *e = l->exact = calloc(1, sizeof *e);
    int32_t *colsmall = calloc((size_t)n_in, sizeof *colsmall); /* rows with |Wq| <= 2 */
    if (e) e->sp_start = malloc(((size_t)n_out + 1) * sizeof *e->sp_start);
    if (!pw || !scale || !corr || (bias && !pb) || !e || !e->sp_start || !colsmall) {
        free(colsmall);
        return init_fail(l, ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of memory",
                                    (int)n_out, (int)n_in));
    }
    memset(pw, 0, w_bytes);
    memset(scale, 0, n_pad * sizeof(float));
    memset(corr, 0, n_pad * sizeof(int32_t));
    int32_t cap = 0;
    for (int32_t n = 0; n < n_out; n++) {
        const float *row = w + (size_t)n * n_in;
        /* the row's spread without its tail: the RMS of the weights within 4 RMS */
        double s2 = 0.0, t2 = 0.0;
        int finite = 1;
        for (int32_t k = 0; k < n_in; k++) {
            finite &= isfinite(row[k]) != 0;
            s2 += (double)row[k] * row[k];
        }
        if (!finite) {
            free(colsmall);
            return init_fail(l, ae_fail(AE_ERR_FORMAT, "linear layer: output channel %d has a "
                                        "weight that is not finite", (int)n));
        }
        const double rms = sqrt(s2 / n_in);
        int32_t nt = 0;
        for (int32_t k = 0; k < n_in; k++)
            if (fabs(row[k]) <= 4.0 * rms) t2 += (double)row[k] * row[k], nt++;
        const float thr = nt ? (float)(SPARSE_SIGMAS * sqrt(t2 / nt)) : INFINITY;
        /* the tail goes to the sparse part unless it is not sparse (then the row stays whole) */
        int32_t n_tail = 0;
        for (int32_t k = 0; k < n_in; k++) n_tail += fabsf(row[k]) > thr;
        const int sparse = n_tail > 0 && n_tail <= n_in / SPARSE_MAX_SHARE;
        e->sp_start[n] = e->n_sparse;
        float amax = 0.0f;
        for (int32_t k = 0; k < n_in; k++) {
            const float a = fabsf(row[k]);
            if (sparse && a > thr) {
                if (sparse_push(e, &cap, k, row[k])) {
                    free(colsmall);
                    return init_fail(l, ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of "
                                                "memory", (int)n_out, (int)n_in));
                }
            } else {
                amax = a > amax ? a : amax;
            }
        }
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int8_t *dst = pw + (size_t)(n / NN_NR) * kg * NN_NR * 4 + (size_t)(n % NN_NR) * 4;
        int32_t sum = 0;
        for (int32_t k = 0; k < n_in; k++) {
            int32_t q = sparse && fabsf(row[k]) > thr ? 0 : nn_q8(row[k] * inv);
            dst[(size_t)(k / 4) * NN_NR * 4 + k % 4] = (int8_t)q;
            sum += q;
            colsmall[k] += q >= -COL_MIN_LEVELS && q <= COL_MIN_LEVELS;
        }
        scale[n] = amax / 127.0f;
        corr[n] = 128 * sum;
    }
    e->sp_start[n_out] = e->n_sparse;
    /* columns int8 cannot carry: 15 in 16 of their weights within COL_MIN_LEVELS steps of
     * zero, where the layer's median column has at most a quarter such (at most
     * NN_I8_MAX_COLS, the weakest) */
    int32_t *sorted = malloc((size_t)n_in * sizeof *sorted);
    if (!sorted) {
        free(colsmall);
        return init_fail(l, ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of memory",
                                    (int)n_out, (int)n_in));
    }
    memcpy(sorted, colsmall, (size_t)n_in * sizeof *sorted);
    int32_t med; /* the median by selection (Hoare) */
    {
        int32_t lo = 0, hi = n_in - 1, kth = n_in / 2;
        while (lo < hi) {
            int32_t piv = sorted[(lo + hi) / 2], a = lo, b = hi;
            while (a <= b) {
                while (sorted[a] < piv) a++;
                while (sorted[b] > piv) b--;
                if (a <= b) {
                    int32_t t = sorted[a];
                    sorted[a++] = sorted[b];
                    sorted[b--] = t;
                }
            }
            if (kth <= b) hi = b;
            else if (kth >= a) lo = a;
            else break;
        }
        med = sorted[kth];
    }
    free(sorted);
    if (n_out >= COL_MIN_ROWS && med <= n_out / 4) {
        for (int32_t k = 0; k < n_in; k++) {
            if (colsmall[k] < n_out - n_out / 16) continue;
            if (e->n_cols < NN_I8_MAX_COLS) {
                e->cols[e->n_cols++] = k;
                continue;
            }
            int32_t lo = 0; /* full: replace the least weak kept one if this one is weaker */
            for (int32_t i = 1; i < e->n_cols; i++)
                if (colsmall[e->cols[i]] < colsmall[e->cols[lo]]) lo = i;
            if (colsmall[k] > colsmall[e->cols[lo]]) e->cols[lo] = k;
        }
        for (int32_t i = 1; i < e->n_cols; i++) /* ascending */
            for (int32_t j2 = i; j2 > 0 && e->cols[j2 - 1] > e->cols[j2]; j2--) {
                int32_t t = e->cols[j2];
                e->cols[j2] = e->cols[j2 - 1];
                e->cols[j2 - 1] = t;
            }
    }
    free(colsmall);
    if (e->n_cols) {
        if (!(e->col_w = malloc((size_t)e->n_cols * n_out * sizeof *e->col_w)))
            return init_fail(l, ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of memory",
                                        (int)n_out, (int)n_in));
        for (int32_t i = 0; i < e->n_cols; i++)
            for (int32_t n = 0; n < n_out; n++) {
                float v = w[(size_t)n * n_in + e->cols[i]];
                for (int32_t s2i = e->sp_start[n]; s2i < e->sp_start[n + 1]; s2i++)
                    if (e->sp_col[s2i] == e->cols[i]) v = 0.0f; /* (the sparse part has it) */
                e->col_w[(size_t)i * n_out + n] = v;
            }
    }
    if (!e->n_sparse && !e->n_cols) {
        nn_i8_exact_free(e);
        l->exact = NULL;
    }
    if (pb) {
        memset(pb, 0, n_pad * sizeof(float));
        memcpy(pb, bias, (size_t)n_out * sizeof(float));
    }
    return AE_OK;
}

/* ---- the reference tile ------------------------------------------------------------------- */

void nn_tile_i8_ref(const nn_tile_i8 *t)
{
    float v[NN_NR];
    for (int32_t r = 0; r < t->mr; r++) {
        const uint8_t *a = t->a + r * t->lda;
        const float as = t->a_scale[r];
        for (int32_t j = 0; j < t->nr; j++) {
            int32_t acc = 0;
            for (int32_t g = 0; g < t->kg; g++)
                for (int32_t q = 0; q < 4; q++) {
                    int32_t av = t->corr ? (int32_t)a[4 * g + q] : (int32_t)(int8_t)a[4 * g + q];
                    acc += av * t->b[((size_t)g * NN_NR + j) * 4 + q];
                }
            if (t->corr) acc -= t->corr[j];
            v[j] = fmaf((float)acc, as * t->w_scale[j], t->bias ? t->bias[j] : 0.0f);
            if (t->add) v[j] += t->add[r * t->ldadd + j];
        }
        nn_epilogue_row(t->act, v, t->res ? t->res + r * t->ldr : NULL, t->nr);
        memcpy(t->c + r * t->ldc, v, (size_t)t->nr * sizeof(float));
    }
}

/* ---- forward ------------------------------------------------------------------------------ */

typedef struct i8_task {
    const nn_linear *l;
    const nn_kernels *kern;
    const float *x;
    int32_t m, K, N, nth;
    uint8_t *qa;              /* [m][lda] quantized rows */
    ptrdiff_t lda;
    float *a_scale;           /* [m] */
    int32_t n_s;              /* the layer's exact columns (l->exact->cols) */
    float *tmp;               /* [nth][K] per thread: a row with its exact columns and outliers 0 */
    float *xs;                /* [m][n_s] the exact columns of x */
    int32_t *ro_n;            /* [m] each row's outliers: how many, */
    int32_t *ro_k;            /* [m][MAX_ROW_OUTLIERS] their columns, */
    float *ro_v;              /* [m][MAX_ROW_OUTLIERS] their values */
    int32_t n_u, *u_slot;     /* [K] the union of the rows' outlier columns: a column's slot or -1 */
    int32_t *u_cols;          /* [K] the slots' columns */
    float *wu;                /* [n_u][N] their dequantized weights, s[n] Wq[n][k] */
    float *corr;              /* [m][N] the exact and outlier parts of the sums, or NULL */
    uint8_t *tile_corr;       /* [m_tiles] 1: corr holds the tile's rows (else they have none) */
    float *y;
    const float *res;
    nn_act act;
    /* GEMM units */
    int32_t mr, nrs, m_tiles, n_rb, n_cb, cb_panels, n_panels;
    atomic_int next_unit;
} i8_task;

/* The first row of row tile ti (the rows are split evenly among the m_tiles tiles) */
static inline int32_t tile_row(const i8_task *f, int32_t ti) { return (int32_t)((int64_t)f->m * ti / f->m_tiles); }

/* The values of x beyond thr (>= 0): at most MAX_ROW_OUTLIERS, the largest (a full list swaps
 * its smallest for a larger one), into col/val; returns how many. They are few, so the row
 * is scanned a vector pass per block of 64 and only blocks with one are looked into (the
 * scalar scan alone was 1.4 % of an int8 ViT-B/32 forward). */
static int32_t row_outliers(const float *x, int32_t K, float thr, int32_t *col, float *val)
{
    int32_t n = 0;
    const int32_t tb = abs_bits(thr);
    for (int32_t k0 = block_above(x, 0, K, tb); k0 < K; k0 = block_above(x, k0 + 64, K, tb)) {
        const int32_t k1 = K - k0 < 64 ? K : k0 + 64;
        for (int32_t k = k0; k < k1; k++) {
            if (!(fabsf(x[k]) > thr)) continue;
            if (n < MAX_ROW_OUTLIERS) {
                col[n] = k;
                val[n++] = x[k];
                continue;
            }
            int32_t lo = 0;
            for (int32_t i = 1; i < n; i++)
                if (fabsf(val[i]) < fabsf(val[lo])) lo = i;
            if (fabsf(x[k]) > fabsf(val[lo])) col[lo] = k, val[lo] = x[k];
        }
    }
    return n;
}

/* Each row on its own (the file comment's rule): its outliers, its scale, its bytes. The exact
 * columns and the outliers are made 0 in a copy of the row, which is then quantized. */
static void quant_run(void *arg, int ith, int nth)
{
    i8_task *f = arg;
    int32_t r0, r1;
    nn_split(f->m, nth, ith, &r0, &r1);
    const int32_t K = f->K, n_s = f->n_s, n_rest = K - n_s;
    const int32_t *ecols = n_s ? f->l->exact->cols : NULL;
    const uint8_t flip = f->kern->i8_unsigned ? 0x80 : 0;
    float *tmp = f->tmp + (size_t)ith * K;
    for (int32_t r = r0; r < r1; r++) {
        const float *x = f->x + (size_t)r * K;
        uint8_t *q = f->qa + r * f->lda;
        int32_t *oc = f->ro_k + (size_t)r * MAX_ROW_OUTLIERS, no = 0;
        float *ov = f->ro_v + (size_t)r * MAX_ROW_OUTLIERS, ss;
        if (n_s) {
            memcpy(tmp, x, (size_t)K * sizeof *tmp);
            for (int32_t i = 0; i < n_s; i++) {
                f->xs[(size_t)r * n_s + i] = x[ecols[i]];
                tmp[ecols[i]] = 0.0f;
            }
            x = tmp;
        }
        float amax = bits_float(row_stats(x, K, &ss));
        if (n_rest > 0 && isfinite(amax) && isfinite(ss)) {
            const float rms = sqrtf(ss / (float)n_rest);
            float tf = rms; /* the tail-free RMS: of the values within 4 RMS (the zeros of the
                               exact columns are not values of the row) */
            if (amax > 4.0f * rms) {
                int32_t c;
                const float t2 = row_sumsq_within(x, K, 4.0f * rms, &c);
                tf = c > n_s ? sqrtf(t2 / (float)(c - n_s)) : 0.0f;
            }
            const float thr = ROW_OUTLIER_RATIO * tf;
            if (amax > thr && (no = row_outliers(x, K, thr, oc, ov))) {
                if (x != tmp) x = memcpy(tmp, x, (size_t)K * sizeof *tmp);
                for (int32_t i = 0; i < no; i++) tmp[oc[i]] = 0.0f;
                amax = bits_float(row_stats(x, K, &ss));
            }
        }
        f->ro_n[r] = no;
        const float inv = amax > 0.0f && isfinite(amax) ? 127.0f / amax : 0.0f;
        f->a_scale[r] = inv > 0.0f ? amax / 127.0f : 0.0f;
        f->kern->quant_i8(x, K, inv, flip, q);
        if (f->lda > K) memset(q + K, flip, (size_t)(f->lda - K));
    }
}

/* corr[r] = x[r, exact] · W[:, exact]ᵀ + x[r, outliers] · (s Wq)[:, outliers]ᵀ + the sparse
 * weights' part, each row in an order of its own (never the call's) */
static void corr_run(void *arg, int ith, int nth)
{
    i8_task *f = arg;
    int32_t t0, t1;
    nn_split(f->m_tiles, nth, ith, &t0, &t1);
    const int32_t N = f->N, n_s = f->n_s;
    const nn_i8_exact *e = f->l->exact;
    for (int32_t ti = t0; ti < t1; ti++) {
        if (!f->tile_corr[ti]) continue;
        const int32_t r0 = tile_row(f, ti), r1 = tile_row(f, ti + 1);
        for (int32_t r = r0; r < r1; r++) {
            float *c = f->corr + (size_t)r * N;
            memset(c, 0, (size_t)(uint32_t)N * sizeof *c);
            for (int32_t i = 0; i < n_s; i++) axpy_row(f->xs[(size_t)r * n_s + i], e->col_w + (size_t)i * N, N, c);
            const int32_t *oc = f->ro_k + (size_t)r * MAX_ROW_OUTLIERS;
            const float *ov = f->ro_v + (size_t)r * MAX_ROW_OUTLIERS;
            for (int32_t i = 0; i < f->ro_n[r]; i++) axpy_row(ov[i], f->wu + (size_t)f->u_slot[oc[i]] * N, N, c);
            if (e && e->n_sparse) {
                const float *x = f->x + (size_t)r * f->K;
                for (int32_t n = 0; n < N; n++) {
                    float v = 0.0f;
                    for (int32_t i = e->sp_start[n]; i < e->sp_start[n + 1]; i++)
                        v += x[e->sp_col[i]] * e->sp_val[i];
                    c[n] += v;
                }
            }
        }
    }
}

/* Row tiles [b0, b1) x panels [q0, q1): each column slice over all the row tiles. */
static void i8_unit(const i8_task *f, nn_tile_i8 *t, int32_t b0, int32_t b1, int32_t q0, int32_t q1)
{
    const nn_linear *l = f->l;
    const int32_t N = f->N, NRs = f->nrs, per_panel = NN_NR / NRs, kg = kgroups(f->K);
    const int32_t nt = b1 - b0, n_sl = (q1 - q0) * per_panel;
    const int8_t *w = l->w;
    /* the next slice's lines are spread over the unit's tiles: a whole panel row (128 bytes)
     * a group for 32-column slices, one line of it for 16-column ones */
    const int32_t line = NRs == NN_NR ? 64 : 128;
    for (int32_t sl = 0; sl < n_sl; sl++) {
        const int32_t p = q0 + sl / per_panel, c0 = p * NN_NR + (sl % per_panel) * NRs;
        if (c0 >= N) continue;
        const int8_t *panel = w + (size_t)p * kg * NN_NR * 4;
        const int8_t *next = NULL;
        if (sl + 1 < n_sl) {
            const int32_t np = q0 + (sl + 1) / per_panel, nc0 = np * NN_NR + ((sl + 1) % per_panel) * NRs;
            if (nc0 < N) next = w + (size_t)np * kg * NN_NR * 4 + (size_t)(nc0 - np * NN_NR) * 4;
        }
        t->nr = N - c0 < NRs ? N - c0 : NRs;
        t->b = panel + (size_t)(c0 - p * NN_NR) * 4;
        t->w_scale = l->w_scale + c0;
        t->corr = f->kern->i8_unsigned ? l->w_corr + c0 : NULL;
        t->bias = l->bias ? l->bias + c0 : NULL;
        t->pf_step = line * nt;
        for (int32_t i = 0; i < nt; i++) {
            const int32_t r0 = tile_row(f, b0 + i), r1 = tile_row(f, b0 + i + 1);
            t->mr = r1 - r0;
            t->a = f->qa + r0 * f->lda;
            t->a_scale = f->a_scale + r0;
            t->add = f->corr && f->tile_corr[b0 + i] ? f->corr + (size_t)r0 * N + c0 : NULL;
            t->res = f->res ? f->res + (size_t)r0 * N + c0 : NULL;
            t->c = f->y + (size_t)r0 * N + c0;
            t->pf = next ? next + (size_t)line * i : NULL;
            f->kern->tile_i8(t);
        }
    }
}

static void gemm_run(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    i8_task *f = arg;
    nn_tile_i8 t;
    memset(&t, 0, sizeof t);
    t.kg = kgroups(f->K);
    t.lda = f->lda;
    t.ldadd = t.ldr = t.ldc = f->N;
    t.act = f->act;
    const int32_t n_units = f->n_rb * f->n_cb;
    for (;;) {
        int32_t u = atomic_fetch_add_explicit(&f->next_unit, 1, memory_order_relaxed);
        if (u >= n_units) break;
        int32_t b0, b1, cb = u / f->n_rb, rb = u % f->n_rb;
        nn_split(f->m_tiles, f->n_rb, rb, &b0, &b1);
        int32_t q0 = cb * f->cb_panels;
        int32_t q1 = q0 + f->cb_panels < f->n_panels ? q0 + f->cb_panels : f->n_panels;
        i8_unit(f, &t, b0, b1, q0, q1);
    }
}

void nn_linear_forward_i8(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                          const float *residual, nn_pool *pool)
{
    if (m <= 0) return;
    i8_task f;
    memset(&f, 0, sizeof f);
    f.l = l;
    f.kern = nn_kernels_get();
    f.x = x;
    f.m = m;
    f.K = l->n_in;
    f.N = l->n_out;
    f.nth = nn_pool_size(pool);
    f.lda = qa_ld(f.K);
    f.y = y;
    f.res = residual;
    f.act = act;
    const nn_i8_exact *e = l->exact;
    f.n_s = e ? e->n_cols : 0;
    f.mr = f.kern->i8_mr;
    f.nrs = f.kern->i8_nr;
    f.m_tiles = (m + f.mr - 1) / f.mr;
    /* one buffer: quantized rows, row scales, the threads' row copies, the exact columns'
     * values, the rows' outliers, the union's slots and columns, the correction and which
     * tiles have one */
    const size_t K = (size_t)(uint32_t)f.K, N = (size_t)(uint32_t)f.N, M = (size_t)m;
    const size_t parts[10] = {M * f.lda, M * sizeof(float), (size_t)f.nth * K * sizeof(float),
                              M * f.n_s * sizeof(float), M * sizeof(int32_t),
                              M * MAX_ROW_OUTLIERS * sizeof(int32_t), M * MAX_ROW_OUTLIERS * sizeof(float),
                              2 * K * sizeof(int32_t), M * N * sizeof(float), (size_t)f.m_tiles};
    size_t off[10], total = 0;
    for (int i = 0; i < 10; i++) {
        off[i] = total;
        total += (parts[i] + 63) / 64 * 64;
    }
    void *own = NULL;
    uint8_t *buf = pool ? nn_pool_shared(pool, total) : (own = nn_alloc64(total));
    if (!buf) return; /* out of memory: y is left as it was (the caller's buffers are fine) */
    f.qa = buf + off[0];
    f.a_scale = (float *)(buf + off[1]);
    f.tmp = (float *)(buf + off[2]);
    f.xs = (float *)(buf + off[3]);
    f.ro_n = (int32_t *)(buf + off[4]);
    f.ro_k = (int32_t *)(buf + off[5]);
    f.ro_v = (float *)(buf + off[6]);
    f.u_slot = (int32_t *)(buf + off[7]);
    f.u_cols = f.u_slot + K;

    nn_pool_run(pool, quant_run, &f);
    /* the union of the rows' outlier columns, and their dequantized weights */
    memset(f.u_slot, 0xff, K * sizeof(int32_t));
    for (int32_t r = 0; r < m; r++)
        for (int32_t i = 0; i < f.ro_n[r]; i++) {
            const int32_t k = f.ro_k[(size_t)r * MAX_ROW_OUTLIERS + i];
            if (f.u_slot[k] < 0) f.u_cols[f.u_slot[k] = f.n_u++] = k;
        }
    void *own_wu = NULL;
    if (f.n_u) {
        if (!(f.wu = own_wu = nn_alloc64((size_t)f.n_u * N * sizeof(float)))) {
            free(own);
            return; /* out of memory, as above */
        }
        const int8_t *w = l->w;
        const size_t kg = (size_t)kgroups(f.K);
        for (int32_t i = 0; i < f.n_u; i++) {
            const int32_t k = f.u_cols[i];
            for (size_t n = 0; n < N; n++) {
                int8_t q = w[(n / NN_NR) * kg * NN_NR * 4 + ((size_t)(k / 4) * NN_NR + n % NN_NR) * 4 + k % 4];
                f.wu[i * N + n] = (float)q * l->w_scale[n];
            }
        }
    }
    if (f.n_s || f.n_u || (e && e->n_sparse)) {
        /* every tile has a correction when the layer has exact parts, else those with outliers */
        const int all = f.n_s || (e && e->n_sparse);
        f.tile_corr = buf + off[9];
        for (int32_t ti = 0; ti < f.m_tiles; ti++) {
            int any = all;
            for (int32_t r = tile_row(&f, ti); !any && r < tile_row(&f, ti + 1); r++) any = f.ro_n[r] > 0;
            f.tile_corr[ti] = (uint8_t)any;
        }
        f.corr = (float *)(buf + off[8]);
        nn_pool_run(pool, corr_run, &f);
    }

    /* blocking: a row block's quantized rows take a quarter of L2; a column block's weights
     * half the threads' share of L3 (nn_gemm_units makes the units) */
    const nn_caches c = nn_cpu_caches();
    int64_t rb_rows = c.l2 / 4 / f.lda;
    int32_t tiles_per_rb = (int32_t)(rb_rows / f.mr);
    if (tiles_per_rb < 4) tiles_per_rb = 4;
    f.n_panels = (f.N + NN_NR - 1) / NN_NR;
    int64_t panel_b = (int64_t)kgroups(f.K) * NN_NR * 4;
    int64_t nc_panels = c.l3 * f.nth / 2 / panel_b;
    if (nc_panels > f.n_panels) nc_panels = f.n_panels;
    nn_units u = nn_gemm_units(f.m_tiles, tiles_per_rb, f.n_panels, (int32_t)nc_panels, f.nth);
    f.n_rb = u.n_rb;
    f.n_cb = u.n_cb;
    f.cb_panels = u.cb_panels;
    atomic_init(&f.next_unit, 0);
    nn_pool_run(pool, gemm_run, &f);
    free(own_wu);
    free(own);
}
