/*
 * linear.c — linear layers: weight packing at load time and the blocked, threaded GEMM driver
 * y[m, n_out] = act(x[m, n_in] · Wᵀ + b) (+ residual).
 *
 * The weights are packed once into NN_NR-column panels (layout in nn_internal.h): they are B
 * of the GotoBLAS/BLIS recipe, packed ahead of time. A forward call cuts the output into
 * work units of (a row block of about mc rows) x (a column block of about nc columns), taken
 * by the threads from a shared counter (a thread that is descheduled on a busy machine simply
 * takes fewer). A unit walks
 *     k blocks of kc -> column slices -> row tiles
 * The row block's A[:, k0:k0+kc] (mc x kc, read in place, or copied to a padded stride when
 * rows of x fall 4 KiB apart) stays in L2; each slice of
 * a weight panel (kc x the set's nr floats) is loaded once from L3 or memory into L1 and used
 * by every row tile of the block while those tiles prefetch the next slice between them; the
 * unit's block of C (mc x nc) stays in L2 across the k blocks. The three sizes follow from the
 * caches of the machine (nn_gemm_blocking) and the kernel set's tile, so a CPU with a 32 KiB
 * L1 and 512 KiB L2 gets other blocks than one with 48 KiB and 2 MiB. At batch 1 (m = 50) there
 * is one row block and the columns are split among the threads, so each weight is read from
 * memory by one thread once. Rows are split into tiles of nearly equal size (50 rows: 13 + 12
 * + 13 + 12), so no kernel call wastes rows. Bias, activation and residual are applied by the
 * kernel on the tile in registers. When the whole row block fits in L2 (batch 1), a unit
 * walks its panels one after the other through all k blocks instead (unit_step): the weights
 * are then read in memory order, once, and the tiles' C stays in L1.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "nn/nn_internal.h"

#define ROW_PAD 16 /* floats added to the row stride of copied A blocks */

void *nn_alloc64(size_t bytes)
{
    bytes = (bytes + NN_ALIGN - 1) & ~(size_t)(NN_ALIGN - 1);
    return aligned_alloc(NN_ALIGN, bytes ? bytes : NN_ALIGN);
}

int nn_linear_init_prec(nn_linear *l, int32_t n_out, int32_t n_in, const float *w,
                        const float *bias, nn_precision prec)
{
    if (prec == NN_I8) return nn_linear_init_i8(l, n_out, n_in, w, bias);
    if (prec == NN_BF16) return nn_linear_init_bf16(l, n_out, n_in, w, bias);
    return nn_linear_init(l, n_out, n_in, w, bias);
}

int nn_linear_init(nn_linear *l, int32_t n_out, int32_t n_in, const float *w, const float *bias)
{
    memset(l, 0, sizeof *l);
    if (n_out <= 0 || n_in <= 0 || !w)
        return ae_fail(AE_ERR_INVALID, "linear layer: bad shape [%d, %d]", (int)n_out, (int)n_in);
    size_t n_panels = ((size_t)n_out + NN_NR - 1) / NN_NR;
    if (n_panels * (size_t)n_in > SIZE_MAX / sizeof(float) / NN_NR)
        return ae_fail(AE_ERR_TOO_LARGE, "linear layer: [%d, %d] too large", (int)n_out, (int)n_in);
    size_t w_bytes = n_panels * (size_t)n_in * NN_NR * sizeof(float);
    /* in 2 MiB pages: loading is mostly page faults otherwise, and the weight streams of
     * the forward pass need few TLB entries (bigbuf.c) */
    float *pw = ae_big_alloc(w_bytes, AE_BIG_WEIGHTS);
    float *pb = bias ? nn_alloc64(n_panels * NN_NR * sizeof(float)) : NULL;
    if (!pw || (bias && !pb)) {
        ae_big_free(pw, w_bytes, AE_BIG_WEIGHTS);
        free(pb);
        return ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of memory", (int)n_out, (int)n_in);
    }
    /* pw[p][k][j] = W[p*NR + j][k], zero past n_out; transposed in blocks of 16 k (a block
     * of 16 x NR floats, 2 KiB, stays in L1 while its columns are filled), which makes
     * loading a model several times faster than a column at a time */
    for (size_t p = 0; p < n_panels; p++) {
        float *dst = pw + p * (size_t)n_in * NN_NR;
        for (int32_t k0 = 0; k0 < n_in; k0 += 16) {
            int32_t kn = n_in - k0 < 16 ? n_in - k0 : 16;
            for (int32_t j = 0; j < NN_NR; j++) {
                size_t row = p * NN_NR + (size_t)j;
                float *d = dst + (size_t)k0 * NN_NR + j;
                if (row < (size_t)n_out) {
                    const float *src = w + row * (size_t)n_in + k0;
                    for (int32_t k = 0; k < kn; k++) d[k * NN_NR] = src[k];
                } else {
                    for (int32_t k = 0; k < kn; k++) d[k * NN_NR] = 0.0f;
                }
            }
        }
    }
    if (pb) {
        memset(pb, 0, n_panels * NN_NR * sizeof(float));
        memcpy(pb, bias, (size_t)n_out * sizeof(float));
    }
    l->n_out = n_out;
    l->n_in = n_in;
    l->w = pw;
    l->w_bytes = w_bytes;
    l->bias = pb;
    return AE_OK;
}

void nn_linear_free(nn_linear *l)
{
    if (!l) return;
    ae_big_free(l->w, l->w_bytes, AE_BIG_WEIGHTS);
    free(l->bias);
    free(l->w_scale);
    free(l->w_corr);
    nn_i8_exact_free(l->exact);
    l->exact = NULL;
    l->w = NULL;
    l->bias = l->w_scale = NULL;
    l->w_corr = NULL;
    l->w_bytes = 0;
}

/* ---- blocking ---------------------------------------------------------------------------- */

static int32_t forced[3]; /* kc, mc, nc set by nn_gemm_set_blocking (0 = derived) */

static int32_t clamp_down(int64_t v, int32_t lo, int32_t hi, int32_t multiple)
{
    if (v > hi) v = hi;
    v -= v % multiple;
    return v < lo ? lo : (int32_t)v;
}

nn_blocking nn_gemm_blocking(const nn_kernels *k, int32_t n_in, int32_t n_threads)
{
    const nn_caches c = nn_cpu_caches();
    const int64_t F = (int64_t)sizeof(float), K = n_in > 0 ? n_in : 1;
    const int32_t nth = n_threads > 0 ? n_threads : 1, min_rows = 4 * k->mr_max;
    nn_blocking b;
    /* kc: a slice of a weight panel, kc rows of nr floats, fills half of L1 (the A rows of
     * the tile stream past it) */
    b.kc = forced[0] ? forced[0] : clamp_down(c.l1d / 2 / (k->nr * F), 32, 512, 16);
    /* nc: the weights of a column block (K x nc) fit in half the threads' L3, so the row
     * blocks after the first read them from there, not from memory; and the block of C of
     * a row block (mc x nc) a quarter of L2 with the smallest row block, so it is still in
     * L2 at the next k block */
    int64_t nc_l3 = c.l3 * nth / 2 / (K * F), nc_l2 = c.l2 / 4 / (min_rows * F);
    b.nc = forced[2] ? forced[2] : clamp_down(nc_l3 < nc_l2 ? nc_l3 : nc_l2, 8 * NN_NR, 8192, NN_NR);
    /* mc: the block of A (mc x kc) and that of C (mc x nc) a quarter of L2 each; at least
     * four tiles share each weight slice that comes from L3 */
    int64_t kcb = b.kc < K ? b.kc : K, mc_a = c.l2 / 4 / (kcb * F), mc_c = c.l2 / 4 / (b.nc * F);
    b.mc = forced[1] ? forced[1] : clamp_down(mc_a < mc_c ? mc_a : mc_c, min_rows, 4096, k->mr_max);
    return b;
}

void nn_gemm_set_blocking(int32_t kc, int32_t mc, int32_t nc)
{
    forced[0] = kc > 0 ? kc : 0;
    forced[1] = mc > 0 ? mc : 0;
    forced[2] = nc > 0 ? (nc + NN_NR - 1) / NN_NR * NN_NR : 0;
}

nn_units nn_gemm_units(int32_t m_tiles, int32_t rb_tiles, int32_t n_panels, int32_t cb_panels,
                       int nth)
{
    nn_units u;
    if (rb_tiles < 1) rb_tiles = 1;
    if (cb_panels < 1) cb_panels = 1;
    u.n_rb = (m_tiles + rb_tiles - 1) / rb_tiles;
    u.n_cb = (n_panels + cb_panels - 1) / cb_panels;
    /* batch 1: one row block, so the columns are what is split */
    const int32_t want = nth <= 1 ? 1 : 4 * nth;
    if (u.n_rb * u.n_cb < want) u.n_cb = (want + u.n_rb - 1) / u.n_rb;
    if (u.n_cb > n_panels) u.n_cb = n_panels;
    u.cb_panels = (n_panels + u.n_cb - 1) / u.n_cb;
    u.n_cb = (n_panels + u.cb_panels - 1) / u.cb_panels;
    /* 9 units on 2 threads leave one idle for the last: more row blocks, each a little
     * smaller (int8 qkv of ViT-B/32 at batch 32: 3 x 3 units before, 10% of its time) */
    while (nth > 1 && u.n_rb > 1 && u.n_rb * u.n_cb < 16 * nth && (u.n_rb * u.n_cb) % nth &&
           u.n_rb < m_tiles)
        u.n_rb++;
    return u;
}

/* ---- forward ------------------------------------------------------------------------------ */

typedef struct fwd_task {
    const float *w;   /* packed panels of K rows */
    const float *bias;
    int32_t N, K;     /* output columns, 32-bit units per row of x */
    void (*tile)(const nn_tile *t);
    const nn_kernels *kern;
    const float *x;   /* [m, n_in] */
    float *y;         /* [m, n_out] */
    const float *res; /* [m, n_out] or NULL */
    int32_t m;
    nn_act act;
    int32_t n_panels, m_tiles, n_kb, kc_max;
    int32_t n_rb, n_cb, cb_panels; /* row blocks, column blocks of cb_panels panels */
    int32_t rb_tiles;              /* most row tiles in a row block */
    atomic_int next_unit;          /* the next (row block, column block) to take */
    int32_t copy;                  /* A is copied to a padded stride (see nn_linear_forward) */
    int32_t panel_major;           /* units walk panel by panel (see unit_step) */
    nn_pool *pool;    /* for the per-thread A buffers */
    float *buf;       /* the A buffer when there is no pool */
} fwd_task;

/* Row stride of the copied A: the columns copied at once plus a line, so rows never fall
 * 4 KiB apart (panel-major units copy all of K once, the others a k block at a time). */
static inline int32_t abuf_ld(const fwd_task *f)
{
    return (f->panel_major ? f->K : f->kc_max) + ROW_PAD;
}

/* Floats of A copy a thread needs: its largest row block. */
static size_t abuf_floats(const fwd_task *f)
{
    return (size_t)f->rb_tiles * f->kern->mr_max * abuf_ld(f);
}

/* Copies A[r0:r1, k0:k0+kc] to dst at stride abuf_ld (one memcpy a row). */
static void copy_a(const fwd_task *f, int32_t r0, int32_t r1, int32_t k0, int32_t kc, float *dst)
{
    int32_t K = f->K, ld = abuf_ld(f);
    for (int32_t r = r0; r < r1; r++)
        memcpy(dst + (size_t)(r - r0) * ld, f->x + (size_t)r * K + k0, (size_t)kc * sizeof(float));
}

/* Asks for rows [r0, r1) of C from column c0 (nr floats each): the next tile's, while this
 * one runs. */
static inline void prefetch_c(const float *y, int32_t ldy, int32_t r0, int32_t r1, int32_t nr)
{
    for (int32_t r = r0; r < r1; r++)
        for (int32_t j = 0; j < nr; j += 16) __builtin_prefetch(y + (size_t)r * ldy + j, 1, 3);
}

#define MAX_RB_TILES 1024 /* mc <= 4096 rows, mr_max >= 4 */

/* Step st of a unit with n_sl column slices and n_kb k blocks: the slice (panel p, first
 * column c0) and k block. kb-major units sweep every slice in one k block, then the next;
 * panel-major ones run a slice through all its k blocks, reading the weights in memory
 * order (at batch 1 they stream from memory once, and C stays in L1). */
typedef struct step {
    int32_t p, c0, kb;
} step;

static inline step unit_step(const fwd_task *f, int32_t q0, int32_t n_sl, int32_t st)
{
    const int32_t per_panel = NN_NR / f->kern->nr;
    int32_t sl = f->panel_major ? st / f->n_kb : st % n_sl;
    step s;
    s.kb = f->panel_major ? st % f->n_kb : st / n_sl;
    s.p = q0 + sl / per_panel;
    s.c0 = s.p * NN_NR + (sl % per_panel) * f->kern->nr;
    return s;
}

/* One work unit: row tiles [b0, b1) x panels [q0, q1), all k blocks (see the file comment). */
static void run_unit(const fwd_task *f, nn_tile *t, int32_t b0, int32_t b1, int32_t q0,
                     int32_t q1, float *abuf)
{
    const int32_t K = f->K, N = f->N, NR = f->kern->nr, ldb = abuf_ld(f);
    const int32_t nt = b1 - b0, n_sl = (q1 - q0) * (NN_NR / NR), n_steps = n_sl * f->n_kb;
    int32_t rs[MAX_RB_TILES + 1]; /* first row of each tile, and the end */
    for (int32_t i = 0; i <= nt; i++) rs[i] = (int32_t)((int64_t)f->m * (b0 + i) / f->m_tiles);
    t->pf_step = (NN_NR + nt - 1) / nt; /* each tile prefetches 1/nt of the next slice */
    t->lda = abuf ? ldb : K;
    if (abuf && f->panel_major) copy_a(f, rs[0], rs[nt], 0, K, abuf);
    step s = unit_step(f, q0, n_sl, 0);
    int32_t copied_kb = -1;
    for (int32_t st = 0; st < n_steps; st++) {
        const step nx = st + 1 < n_steps ? unit_step(f, q0, n_sl, st + 1) : (step){0, N, 0};
        if (s.c0 < N) { /* (the second half of a partial last panel has no columns) */
            int32_t k0, k1;
            nn_split(K, f->n_kb, s.kb, &k0, &k1);
            const int32_t kc = k1 - k0;
            if (abuf && !f->panel_major && s.kb != copied_kb) {
                copy_a(f, rs[0], rs[nt], k0, kc, abuf);
                copied_kb = s.kb;
            }
            /* row r0 + r of the unit at a0 + r * lda */
            const float *a0 = abuf ? abuf + (f->panel_major ? k0 : 0) : f->x + (size_t)rs[0] * K + k0;
            const float *next = NULL;
            if (nx.c0 < N) {
                int32_t nk0, nk1;
                nn_split(K, f->n_kb, nx.kb, &nk0, &nk1);
                next = f->w + ((size_t)nx.p * K + nk0) * NN_NR + (nx.c0 - nx.p * NN_NR);
            }
            t->kc = kc;
            t->first = s.kb == 0;
            t->last = s.kb == f->n_kb - 1;
            t->nr = N - s.c0 < NR ? N - s.c0 : NR;
            t->b = f->w + ((size_t)s.p * K + k0) * NN_NR + (s.c0 - s.p * NN_NR);
            t->bias = f->bias ? f->bias + s.c0 : NULL;
            float *yc = f->y + s.c0;
            const float *rc = f->res ? f->res + s.c0 : NULL;
            const size_t pf_tile = (size_t)kc * t->pf_step;
            for (int32_t i = 0; i < nt; i++) {
                const int32_t r0 = rs[i];
                t->mr = rs[i + 1] - r0;
                t->a = a0 + (size_t)(r0 - rs[0]) * t->lda;
                t->c = yc + (size_t)r0 * N;
                t->res = rc ? rc + (size_t)r0 * N : NULL;
                t->pf = next ? next + i * pf_tile : NULL;
                if (i + 1 < nt) prefetch_c(yc, N, rs[i + 1], rs[i + 2], t->nr);
                f->tile(t);
            }
        }
        s = nx;
    }
}

static void fwd_run(void *arg, int ith, int nth)
{
    (void)nth; /* units come from the shared counter, not from ith/nth */
    fwd_task *f = arg;
    float *abuf = !f->copy ? NULL : f->pool ? nn_pool_scratch(f->pool, ith, abuf_floats(f)) : f->buf;
    nn_tile t;
    memset(&t, 0, sizeof t);
    t.ldc = f->N;
    t.ldr = f->N;
    t.act = f->act;
    t.res_init = f->res && f->act == NN_ACT_NONE;
    t.res_final = f->res && f->act != NN_ACT_NONE;
    int32_t n_units = f->n_rb * f->n_cb;
    for (;;) {
        int32_t u = atomic_fetch_add_explicit(&f->next_unit, 1, memory_order_relaxed);
        if (u >= n_units) break;
        int32_t b0, b1, cb = u / f->n_rb, rb = u % f->n_rb;
        nn_split(f->m_tiles, f->n_rb, rb, &b0, &b1);
        int32_t q0 = cb * f->cb_panels;
        int32_t q1 = q0 + f->cb_panels < f->n_panels ? q0 + f->cb_panels : f->n_panels;
        run_unit(f, &t, b0, b1, q0, q1, abuf);
    }
}

void nn_gemm_run(const float *w, const float *bias, int32_t n_out, int32_t units,
                 void (*tile)(const nn_tile *t), const float *x, int32_t m, float *y, nn_act act,
                 const float *residual, nn_pool *pool)
{
    if (m <= 0) return;
    fwd_task f;
    f.w = w;
    f.bias = bias;
    f.N = n_out;
    f.K = units;
    f.tile = tile;
    f.kern = nn_kernels_get();
    f.x = x;
    f.y = y;
    f.res = residual;
    f.m = m;
    f.act = act;
    int nth = nn_pool_size(pool);
    nn_blocking bl = nn_gemm_blocking(f.kern, f.K, nth);
    const int32_t MR = f.kern->mr_max;
    f.n_panels = (f.N + NN_NR - 1) / NN_NR;
    f.m_tiles = (m + MR - 1) / MR;
    /* an activation before the residual needs the whole sum in one pass (y may be residual) */
    f.n_kb = residual && act != NN_ACT_NONE ? 1 : (f.K + bl.kc - 1) / bl.kc;
    f.kc_max = (f.K + f.n_kb - 1) / f.n_kb;
    /* Rows of x 4 KiB apart all fall in one L1 set (and thrash it): those are read from a
     * copy with a padded stride. */
    f.copy = f.K % 1024 == 0;
    int32_t mc = bl.mc, nc_panels = bl.nc / NN_NR;
    /* A copied block is copied again for every column block: then one column block, with
     * rows as many as leave its block of C a quarter of L2 (fc2 of ViT-B/32 at batch 32 on
     * one thread: 154 instead of 145 GFLOP/s on an Emerald Rapids Xeon, where it had 3 column
     * blocks of 320) */
    if (f.copy && !forced[1] && !forced[2]) {
        const int64_t c_rows = nn_cpu_caches().l2 / 4 / ((int64_t)f.n_panels * NN_NR * sizeof(float));
        if (c_rows >= 4 * MR) {
            nc_panels = f.n_panels;
            if (mc > c_rows) mc = (int32_t)c_rows;
        }
    }
    /* row blocks of about mc rows, in whole tiles; column blocks of about nc columns, units
     * column block major (the row blocks of a column block share its weights in L3) */
    int32_t tiles_per_rb = mc / MR > 0 ? mc / MR : 1;
    if (tiles_per_rb > MAX_RB_TILES) tiles_per_rb = MAX_RB_TILES;
    nn_units u = nn_gemm_units(f.m_tiles, tiles_per_rb, f.n_panels, nc_panels, nth);
    f.n_rb = u.n_rb;
    f.n_cb = u.n_cb;
    f.cb_panels = u.cb_panels;
    f.rb_tiles = (f.m_tiles + f.n_rb - 1) / f.n_rb;
    /* One row block whose rows (all of K) stay in L2: the units walk the weights panel by
     * panel, in memory order, each read once (batch 1: they stream from memory). */
    f.panel_major = f.n_rb == 1 &&
                    (int64_t)m * f.K * (int64_t)sizeof(float) <= nn_cpu_caches().l2 * 3 / 4;
    atomic_init(&f.next_unit, 0);
    f.pool = pool;
    f.buf = NULL;
    if (!pool) f.buf = nn_alloc64(abuf_floats(&f) * sizeof(float)); /* NULL: unpacked, see run_unit */
    nn_pool_run(pool, fwd_run, &f);
    free(f.buf);
}

void nn_linear_forward(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                       const float *residual, nn_pool *pool)
{
    if (l->prec == NN_I8) {
        nn_linear_forward_i8(l, x, m, y, act, residual, pool);
    } else if (l->prec == NN_BF16) {
        nn_linear_forward_bf16(l, x, m, y, act, residual, pool);
    } else {
        nn_gemm_run(l->w, l->bias, l->n_out, l->n_in, nn_kernels_get()->tile, x, m, y, act,
                    residual, pool);
    }
}
