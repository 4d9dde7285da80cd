/*
 * linear.c — linear layers: weight packing at load time and the blocked, threaded GEMM driver
 * y[m, n_out] = act(x[m, n_in] · Wᵀ + b) (+ residual).
 *
 * The weights are packed once into NN_NR-column panels (layout in nn_internal.h). A forward
 * call cuts the work into units (a row block of ROW_BLOCK tiles of <= mr_max rows) x (a chunk
 * of panels): at batch 1 there is one row block and the panels are split, so each weight is
 * read by one thread; at large batch the row blocks are split. The threads take units from a
 * shared counter, so one that is descheduled on a busy machine holds nobody up. A unit walks
 *     k blocks (kc) -> panels -> row tiles
 * and hands every (row tile, panel, k block) to the micro-kernel of the selected kernel set.
 * So a weight slice [kc][NR] is loaded once per row block and reused by its tiles from L1,
 * while the tiles prefetch the next slice between them (weights stream from memory at
 * batch 1, from L3 at large batch); the rows of a block stay in L1/L2. Activations are read
 * in place, except when their row stride is a multiple of 4 KiB (K = 1024, 2048, 3072...):
 * then the block's rows are copied to a padded per-thread buffer so they do not all fight
 * over one L1 set. Rows are split into tiles of nearly equal size (50 rows: 13+12+13+12), so
 * no kernel call wastes rows. Bias, activation and residual are applied by the kernel on the
 * tile in registers.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nn/nn_internal.h"

#define KC_TARGET 256            /* depth of a k block (192..384 measure the same) */
#define ROW_BLOCK 4              /* row tiles that share each weight slice (2..8 tried) */
#define PF_AHEAD 1               /* prefetch distance in weight slices (2, 3 measure the same) */
#define ROW_PAD 16               /* floats added to the row stride of copied x tiles */

static void *alloc_aligned(size_t n_floats)
{
    size_t bytes = (n_floats * sizeof(float) + NN_ALIGN - 1) & ~(size_t)(NN_ALIGN - 1);
    return aligned_alloc(NN_ALIGN, bytes ? bytes : NN_ALIGN);
}

int nn_linear_init(nn_linear *l, int32_t n_out, int32_t n_in, const float *w, const float *bias)
{
    memset(l, 0, sizeof *l);
    if (n_out <= 0 || n_in <= 0 || !w)
        return ae_fail(AE_ERR_INVALID, "linear layer: bad shape [%d, %d]", (int)n_out, (int)n_in);
    size_t n_panels = ((size_t)n_out + NN_NR - 1) / NN_NR;
    if (n_panels * (size_t)n_in > SIZE_MAX / sizeof(float) / NN_NR)
        return ae_fail(AE_ERR_TOO_LARGE, "linear layer: [%d, %d] too large", (int)n_out, (int)n_in);
    float *pw = alloc_aligned(n_panels * (size_t)n_in * NN_NR);
    float *pb = bias ? alloc_aligned(n_panels * NN_NR) : NULL;
    if (!pw || (bias && !pb)) {
        free(pw);
        free(pb);
        return ae_fail(AE_ERR_NOMEM, "linear layer [%d, %d]: out of memory", (int)n_out, (int)n_in);
    }
    /* pw[p][k][j] = W[p*NR + j][k], zero past n_out */
    for (size_t p = 0; p < n_panels; p++) {
        float *dst = pw + p * (size_t)n_in * NN_NR;
        for (int32_t j = 0; j < NN_NR; j++) {
            size_t row = p * NN_NR + (size_t)j;
            const float *src = row < (size_t)n_out ? w + row * (size_t)n_in : NULL;
            for (int32_t k = 0; k < n_in; k++) dst[(size_t)k * NN_NR + j] = src ? src[k] : 0.0f;
        }
    }
    if (pb) {
        memset(pb, 0, n_panels * NN_NR * sizeof(float));
        memcpy(pb, bias, (size_t)n_out * sizeof(float));
    }
    l->n_out = n_out;
    l->n_in = n_in;
    l->w = pw;
    l->bias = pb;
    return AE_OK;
}

void nn_linear_free(nn_linear *l)
{
    if (!l) return;
    free(l->w);
    free(l->bias);
    l->w = l->bias = NULL;
}

typedef struct fwd_task {
    const nn_linear *l;
    const nn_kernels *kern;
    const float *x;   /* [m, n_in] */
    float *y;         /* [m, n_out] */
    const float *res; /* [m, n_out] or NULL */
    int32_t m;
    nn_act act;
    int32_t n_panels, m_tiles, n_kb;
    int32_t n_rb, n_pc, chunk; /* row blocks, panel chunks of `chunk` panels */
    atomic_int next_unit;      /* the next (row block, panel chunk) to take */
    int copy_a;       /* x rows are copied to a padded stride (see nn_linear_forward) */
    nn_pool *pool;    /* for the per-thread copy buffers */
    float *buf;       /* the copy buffer when there is no pool */
} fwd_task;

/* Floats of copy buffer a thread needs: a row block at padded stride. */
#define ABUF_FLOATS ((size_t)ROW_BLOCK * NN_MR_MAX * (KC_TARGET + ROW_PAD))

/* [lo, hi) of part i of n split in parts as even as possible */
static inline void split(int32_t n, int32_t parts, int32_t i, int32_t *lo, int32_t *hi)
{
    *lo = (int32_t)((int64_t)n * i / parts);
    *hi = (int32_t)((int64_t)n * (i + 1) / parts);
}

/* Points t at k block kb (depth, flags). */
static void set_kblock(const fwd_task *f, nn_tile *t, int32_t kb, int32_t *k0)
{
    int32_t k1;
    split(f->l->n_in, f->n_kb, kb, k0, &k1);
    t->kc = k1 - *k0;
    t->first = kb == 0;
    t->last = kb == f->n_kb - 1;
}

/* Points t at the rows of tile ti from column k0. With abuf, the rows are read from their
 * copy there (copy: make it first). */
static int32_t set_rows(const fwd_task *f, nn_tile *t, int32_t ti, int32_t k0, float *abuf,
                        int copy)
{
    int32_t r0, r1, K = f->l->n_in;
    split(f->m, f->m_tiles, ti, &r0, &r1);
    t->mr = r1 - r0;
    t->a = f->x + (size_t)r0 * K + k0;
    t->lda = K;
    if (abuf) {
        if (copy)
            for (int32_t r = 0; r < t->mr; r++)
                memcpy(abuf + r * (KC_TARGET + ROW_PAD), t->a + (size_t)r * K,
                       (size_t)t->kc * sizeof(float));
        t->a = abuf;
        t->lda = KC_TARGET + ROW_PAD;
    }
    return r0;
}

/* Points t at panel p for the rows from r0 and k0, and runs the kernel. */
static void run_panel(const fwd_task *f, nn_tile *t, int32_t p, int32_t r0, int32_t k0)
{
    const nn_linear *l = f->l;
    int32_t c0 = p * NN_NR, N = l->n_out;
    t->nr = N - c0 < NN_NR ? N - c0 : NN_NR;
    t->b = l->w + ((size_t)p * l->n_in + k0) * NN_NR;
    t->c = f->y + (size_t)r0 * N + c0;
    t->bias = l->bias ? l->bias + c0 : NULL;
    t->res = f->res ? f->res + (size_t)r0 * N + c0 : NULL;
    f->kern->tile(t);
}

/* One work unit: row tiles [b0, b1) x panels [q0, q1), all k blocks. For each k block the
 * weight slices [kc][NR] of the panels stream past the tiles: each slice is used by every
 * tile (from L1) while those tiles prefetch the next slice between them; the rows stay in
 * L1/L2 (copied to abuf first when their stride is bad). */
static void run_unit(const fwd_task *f, nn_tile *t, int32_t b0, int32_t b1, int32_t q0,
                     int32_t q1, float *abuf)
{
    const nn_linear *l = f->l;
    const size_t tile_floats = (size_t)NN_MR_MAX * (KC_TARGET + ROW_PAD);
    int32_t K = l->n_in;
    t->pf_step = (NN_NR + (b1 - b0) - 1) / (b1 - b0);
    for (int32_t kb = 0; kb < f->n_kb; kb++) {
        int32_t k0;
        set_kblock(f, t, kb, &k0);
        for (int32_t ti = b0; abuf && ti < b1; ti++)
            set_rows(f, t, ti, k0, abuf + (ti - b0) * tile_floats, 1);
        for (int32_t p = q0; p < q1; p++) {
            /* the slice PF_AHEAD places further in this unit's stream (k block major) */
            const float *next = NULL;
            int32_t np = q1 - q0, s = kb * np + (p - q0) + PF_AHEAD;
            if (s < f->n_kb * np) {
                int32_t nk0, nk1;
                split(K, f->n_kb, s / np, &nk0, &nk1);
                next = l->w + ((size_t)(q0 + s % np) * K + nk0) * NN_NR;
            }
            for (int32_t ti = b0; ti < b1; ti++) {
                int32_t r0 = set_rows(f, t, ti, k0, abuf ? abuf + (ti - b0) * tile_floats : NULL, 0);
                t->pf = next ? next + (size_t)(ti - b0) * t->kc * t->pf_step : NULL;
                run_panel(f, t, p, r0, k0);
            }
        }
    }
}

/* The threads take units (row block, panel chunk) from a shared counter, row block major:
 * a thread that runs late (the machine is shared) simply takes fewer units. */
static void fwd_run(void *arg, int ith, int nth)
{
    fwd_task *f = arg;
    const nn_linear *l = f->l;
    float *abuf = NULL;
    if (f->copy_a) abuf = f->pool ? nn_pool_scratch(f->pool, ith, ABUF_FLOATS) : f->buf;
    nn_tile t;
    memset(&t, 0, sizeof t);
    t.ldc = l->n_out;
    t.ldr = l->n_out;
    t.act = f->act;
    t.res_init = f->res && f->act == NN_ACT_NONE;
    t.res_final = f->res && f->act != NN_ACT_NONE;
    int32_t n_units = f->n_rb * f->n_pc;
    for (;;) {
        int32_t u = atomic_fetch_add_explicit(&f->next_unit, 1, memory_order_relaxed);
        if (u >= n_units) break;
        int32_t b0, b1, rb = u / f->n_pc, pc = u % f->n_pc;
        split(f->m_tiles, f->n_rb, rb, &b0, &b1);
        int32_t q0 = pc * f->chunk, q1 = q0 + f->chunk < f->n_panels ? q0 + f->chunk : f->n_panels;
        run_unit(f, &t, b0, b1, q0, q1, abuf);
    }
}

void nn_linear_forward(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                       const float *residual, nn_pool *pool)
{
    if (m <= 0) return;
    fwd_task f;
    f.l = l;
    f.kern = nn_kernels_get();
    f.x = x;
    f.y = y;
    f.res = residual;
    f.m = m;
    f.act = act;
    f.n_panels = (l->n_out + NN_NR - 1) / NN_NR;
    f.m_tiles = (m + f.kern->mr_max - 1) / f.kern->mr_max;
    /* an activation before the residual needs the whole sum in one pass (y may be residual) */
    f.n_kb = residual && act != NN_ACT_NONE ? 1 : (l->n_in + KC_TARGET - 1) / KC_TARGET;
    /* Rows of x 4 KiB apart all fall in one L1 set (and thrash it): those are read from a
     * copy with a padded stride. */
    f.copy_a = l->n_in % 1024 == 0 && (l->n_in + f.n_kb - 1) / f.n_kb <= KC_TARGET;
    /* work units: row blocks x panel chunks, about 4 per thread at least */
    int nth = nn_pool_size(pool);
    f.n_rb = (f.m_tiles + ROW_BLOCK - 1) / ROW_BLOCK;
    int32_t want = nth == 1 ? 1 : 4 * nth;
    f.n_pc = (want + f.n_rb - 1) / f.n_rb;
    if (f.n_pc > f.n_panels) f.n_pc = f.n_panels;
    f.chunk = (f.n_panels + f.n_pc - 1) / f.n_pc;
    f.n_pc = (f.n_panels + f.chunk - 1) / f.chunk;
    atomic_init(&f.next_unit, 0);
    f.pool = pool;
    f.buf = NULL;
    if (f.copy_a && !pool) {
        f.buf = aligned_alloc(NN_ALIGN, ABUF_FLOATS * sizeof(float));
        if (!f.buf) f.copy_a = 0; /* slower, still right */
    }
    nn_pool_run(pool, fwd_run, &f);
    free(f.buf);
}
