/*
 * ops.c — LayerNorm and multi-head self-attention, threaded over the pool.
 *
 * LayerNorm hands out chunks of rows to the threads (only when there are enough: a 50 x 768
 * LayerNorm takes microseconds) and runs the row kernel of the selected kernel set. Both ops
 * take their work units from a shared counter, so a thread that runs late on a busy machine
 * does not hold the others up.
 *
 * Attention runs one (sequence, head) per task. Both products of a head go through the GEMM
 * micro-kernel of the selected kernel set: the keys (then the values) of the head are packed
 * into NN_NR-wide panels in chunks of 64 head dimensions, so the scores S = Q·Kᵀ and the output
 * P·V are ordinary tiles; the scale, the causal mask and the softmax (max subtracted, expf)
 * work on the score rows in between. With a causal mask the tiles above the diagonal are
 * skipped. Per-thread scratch: scores [L][Lp] and one packed chunk [64][Lp], Lp = L rounded
 * up to NN_NR.
 *
 * nn_attention_prefix (the text tower) runs packed causal sequences after a shared prefix
 * whose keys and values are given, one query row at a time (see its section below).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "nn/nn_internal.h"

#define DCHUNK 64

static inline int32_t round_nr(int32_t n)
{
    return (n + NN_NR - 1) / NN_NR * NN_NR;
}

/* ---- LayerNorm ------------------------------------------------------------------------------ */

#define LN_CHUNK 16 /* rows per work unit */

typedef struct ln_task {
    const float *x, *w, *b;
    float *y;
    int32_t m, d;
    float eps;
    atomic_int next; /* next chunk of rows to take */
} ln_task;

static void ln_run(void *arg, int ith, int nth)
{
    ln_task *t = arg;
    const nn_kernels *kern = nn_kernels_get();
    for (;;) {
        int32_t r0 = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed) * LN_CHUNK;
        if (r0 >= t->m) break;
        int32_t r1 = r0 + LN_CHUNK < t->m ? r0 + LN_CHUNK : t->m;
        kern->layernorm_rows(t->x, r0, r1, t->d, t->w, t->b, t->eps, t->y);
    }
}

void nn_layernorm(const float *x, int32_t m, int32_t d, const float *w, const float *b, float eps,
                  float *y, nn_pool *pool)
{
    if (m <= 0 || d <= 0) return;
    if ((int64_t)m * d < 262144 || m < 2) {
        nn_kernels_get()->layernorm_rows(x, 0, m, d, w, b, eps, y);
        return;
    }
    ln_task t = {x, w, b, y, m, d, eps, 0};
    atomic_init(&t.next, 0);
    nn_pool_run(pool, ln_run, &t);
}

/* ---- attention ------------------------------------------------------------------------------ */

size_t nn_attention_scratch(int32_t L, const nn_pool *pool)
{
    size_t lp = (size_t)round_nr(L > 0 ? L : 1);
    return (size_t)nn_pool_size(pool) * lp * (lp + DCHUNK);
}

/* Keys j < L of dims [d0, d0 + dc) (rows of stride ld from k) transposed into panels:
 * pk[p][dd][jj] = k[(p NR + jj) ld + d0 + dd], 0 for L <= j < lp. In blocks of 4 keys x 4
 * dims through the compiler's portable vector shuffles (SSE or NEON): a float at a time, this
 * copy was 1.6 % of an int8 ViT-B/32 forward, more than the softmax. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static void pack_keys(const float *k, ptrdiff_t ld, int32_t L, int32_t lp, int32_t d0, int32_t dc,
                      float *pk)
{
    const int32_t dv = dc / 4 * 4; /* dims in blocks of 4 where 4 keys are there */
    for (int32_t j0 = 0; j0 < lp; j0 += 4) {
        float *dst = pk + (size_t)(j0 / NN_NR) * dc * NN_NR + j0 % NN_NR;
        const float *r = k + (j0 < L ? j0 : 0) * ld + d0; /* (rows past L are not read) */
        int32_t dd = 0;
        if (j0 + 4 <= L)
            for (; dd < dv; dd += 4) {
                const v4f a0 = load4(r + dd), a1 = load4(r + ld + dd);
                const v4f a2 = load4(r + 2 * ld + dd), a3 = load4(r + 3 * ld + dd);
                const v4f t0 = __builtin_shufflevector(a0, a1, 0, 4, 1, 5);
                const v4f t1 = __builtin_shufflevector(a0, a1, 2, 6, 3, 7);
                const v4f t2 = __builtin_shufflevector(a2, a3, 0, 4, 1, 5);
                const v4f t3 = __builtin_shufflevector(a2, a3, 2, 6, 3, 7);
                store4(dst + (size_t)dd * NN_NR, __builtin_shufflevector(t0, t2, 0, 1, 4, 5));
                store4(dst + (size_t)(dd + 1) * NN_NR, __builtin_shufflevector(t0, t2, 2, 3, 6, 7));
                store4(dst + (size_t)(dd + 2) * NN_NR, __builtin_shufflevector(t1, t3, 0, 1, 4, 5));
                store4(dst + (size_t)(dd + 3) * NN_NR, __builtin_shufflevector(t1, t3, 2, 3, 6, 7));
            }
        else if (j0 >= L)
            for (; dd < dc; dd++) store4(dst + (size_t)dd * NN_NR, (v4f){0, 0, 0, 0});
        for (; dd < dc; dd++)
            for (int32_t i = 0; i < 4; i++) dst[(size_t)dd * NN_NR + i] = j0 + i < L ? r[i * ld + dd] : 0.0f;
    }
}

/* One head: q, k, v rows of dh floats with stride ld; out rows with stride ldo. */
static void attn_head(const nn_kernels *kern, const float *q, const float *k, const float *v,
                      ptrdiff_t ld, int32_t L, int32_t dh, int32_t causal, float *out,
                      ptrdiff_t ldo, float *scratch)
{
    int32_t lp = round_nr(L);
    float *S = scratch;                 /* [L][lp] */
    float *pk = scratch + (size_t)L * lp; /* [lp/NR][dc][NR] keys or [2][L][NR] values */
    int32_t n_tiles = (L + kern->mr_max - 1) / kern->mr_max;
    nn_tile t;
    memset(&t, 0, sizeof t);
    t.act = NN_ACT_NONE;

    /* S = Q·Kᵀ, accumulated over chunks of DCHUNK head dimensions */
    for (int32_t d0 = 0; d0 < dh; d0 += DCHUNK) {
        int32_t dc = dh - d0 < DCHUNK ? dh - d0 : DCHUNK;
        pack_keys(k, ld, L, lp, d0, dc, pk);
        t.kc = dc;
        t.lda = ld;
        t.ldc = lp;
        t.first = d0 == 0;
        t.last = d0 + DCHUNK >= dh;
        for (int32_t ti = 0; ti < n_tiles; ti++) {
            int32_t i0, i1;
            nn_split(L, n_tiles, ti, &i0, &i1);
            t.mr = i1 - i0;
            t.a = q + i0 * ld + d0;
            for (int32_t p = 0; p < lp / NN_NR; p++) {
                if (causal && p * NN_NR > i1 - 1) break; /* all above the diagonal */
                t.nr = L - p * NN_NR < NN_NR ? L - p * NN_NR : NN_NR;
                t.b = pk + (size_t)p * dc * NN_NR;
                t.c = S + (size_t)i0 * lp + p * NN_NR;
                kern->tile(&t);
            }
        }
    }

    float scale = 1.0f / sqrtf((float)dh);
    for (int32_t i = 0; i < L; i++) {
        float *s = S + (size_t)i * lp;
        int32_t jn = causal ? i + 1 : L;
        kern->softmax(s, jn, scale);
        for (int32_t j = jn; j < L; j++) s[j] = 0.0f; /* masked */
    }

    /* out = P·V, in chunks of DCHUNK output dimensions (up to two panels) */
    for (int32_t d0 = 0; d0 < dh; d0 += DCHUNK) {
        int32_t dc = dh - d0 < DCHUNK ? dh - d0 : DCHUNK;
        int32_t np = (dc + NN_NR - 1) / NN_NR;
        for (int32_t pp = 0; pp < np; pp++)
            for (int32_t j = 0; j < L; j++) {
                float *dst = pk + ((size_t)pp * L + j) * NN_NR;
                const float *src = v + j * ld + d0 + pp * NN_NR;
                int32_t n = dc - pp * NN_NR < NN_NR ? dc - pp * NN_NR : NN_NR;
                memcpy(dst, src, (size_t)n * sizeof(float));
                for (int32_t jj = n; jj < NN_NR; jj++) dst[jj] = 0.0f;
            }
        t.lda = lp;
        t.ldc = ldo;
        t.first = t.last = 1;
        for (int32_t ti = 0; ti < n_tiles; ti++) {
            int32_t i0, i1;
            nn_split(L, n_tiles, ti, &i0, &i1);
            t.mr = i1 - i0;
            t.kc = causal ? i1 : L; /* P is zero past the diagonal */
            t.a = S + (size_t)i0 * lp;
            for (int32_t pp = 0; pp < np; pp++) {
                t.nr = dc - pp * NN_NR < NN_NR ? dc - pp * NN_NR : NN_NR;
                t.b = pk + (size_t)pp * L * NN_NR;
                t.c = out + i0 * ldo + d0 + pp * NN_NR;
                kern->tile(&t);
            }
        }
    }
}

typedef struct attn_task {
    const nn_kernels *kern;
    const float *qkv;
    float *out, *scratch;
    int32_t batch, L, D, heads, causal;
    size_t per_thread;
    atomic_int next; /* next (sequence, head) to take */
} attn_task;

static void attn_run(void *arg, int ith, int nth)
{
    attn_task *a = arg;
    int32_t n = a->batch * a->heads;
    int32_t dh = a->D / a->heads;
    ptrdiff_t ld = 3 * (ptrdiff_t)a->D;
    float *scratch = a->scratch + (size_t)ith * a->per_thread;
    for (;;) {
        int32_t task = atomic_fetch_add_explicit(&a->next, 1, memory_order_relaxed);
        if (task >= n) break;
        int32_t b = task / a->heads, h = task % a->heads;
        const float *q = a->qkv + (size_t)b * a->L * ld + (size_t)h * dh;
        float *out = a->out + (size_t)b * a->L * a->D + (size_t)h * dh;
        attn_head(a->kern, q, q + a->D, q + 2 * a->D, ld, a->L, dh, a->causal, out, a->D, scratch);
    }
}

void nn_attention(const float *qkv, int32_t batch, int32_t L, int32_t D, int32_t heads,
                  int32_t causal, float *out, float *scratch, nn_pool *pool)
{
    if (batch <= 0 || L <= 0 || heads <= 0 || D <= 0) return;
    attn_task a;
    a.kern = nn_kernels_get();
    a.qkv = qkv;
    a.out = out;
    a.scratch = scratch;
    a.batch = batch;
    a.L = L;
    a.D = D;
    a.heads = heads;
    a.causal = causal;
    a.per_thread = nn_attention_scratch(L, NULL);
    atomic_init(&a.next, 0);
    nn_pool_run(pool, attn_run, &a);
}

/* ---- attention after a shared prefix -------------------------------------------------------- */

/* Sequences that all begin with the same Lp tokens: under a causal mask those tokens' keys and
 * values are the same in every sequence, so they are computed once and only the suffix tokens
 * are passed here. Suffix token i of a sequence attends to the Lp prefix keys and to its own
 * suffix keys 0..i. One (sequence, head) per task; the rows are short (the whole sequence is
 * at most the context), so each query row is done in plain C: the scores, the softmax of the
 * kernel set, the weighted sum of the values. The dot products keep 8 partial sums so that
 * the compiler vectorises them. Per-thread scratch: one score row of Lp + max(lens) floats. */

size_t nn_attention_prefix_scratch(int32_t L, const nn_pool *pool)
{
    size_t lp = (size_t)((L > 0 ? L : 1) + 15) / 16 * 16;
    return (size_t)nn_pool_size(pool) * lp;
}

static inline float dot8(const float *a, const float *b, int32_t n)
{
    float acc[8] = {0};
    int32_t d = 0;
    for (; d + 8 <= n; d += 8)
        for (int32_t u = 0; u < 8; u++) acc[u] += a[d + u] * b[d + u];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; d < n; d++) s += a[d] * b[d];
    return s;
}

typedef struct attnp_task {
    const nn_kernels *kern;
    const float *kv, *qkv;
    const int32_t *lens;
    float *out, *scratch;
    int32_t Lp, batch, D, heads;
    size_t per_thread;
    atomic_int next;
} attnp_task;

static void attnp_run(void *arg, int ith, int nth)
{
    (void)nth;
    attnp_task *a = arg;
    int32_t n = a->batch * a->heads, D = a->D, dh = D / a->heads, Lp = a->Lp;
    float scale = 1.0f / sqrtf((float)dh);
    float *s = a->scratch + (size_t)ith * a->per_thread;
    int32_t at = 0; /* this thread's tasks only increase: the first row of sequence `at` */
    size_t off = 0;
    for (;;) {
        int32_t task = atomic_fetch_add_explicit(&a->next, 1, memory_order_relaxed);
        if (task >= n) break;
        int32_t b = task / a->heads, h = task % a->heads, L = a->lens[b];
        for (; at < b; at++) off += (size_t)a->lens[at];
        const float *kp = a->kv + (size_t)h * dh, *vp = kp + D;  /* rows of 2D */
        const float *q = a->qkv + off * 3 * D + (size_t)h * dh;   /* rows of 3D */
        const float *k = q + D, *v = q + 2 * D;
        float *out = a->out + off * D + (size_t)h * dh;
        for (int32_t i = 0; i < L; i++) {
            const float *qi = q + (size_t)i * 3 * D;
            for (int32_t j = 0; j < Lp; j++) s[j] = dot8(qi, kp + (size_t)j * 2 * D, dh);
            for (int32_t j = 0; j <= i; j++) s[Lp + j] = dot8(qi, k + (size_t)j * 3 * D, dh);
            int32_t ns = Lp + i + 1;
            a->kern->softmax(s, ns, scale);
            float *o = out + (size_t)i * D;
            for (int32_t d = 0; d < dh; d++) o[d] = 0.0f;
            for (int32_t j = 0; j < Lp; j++) {
                const float *vj = vp + (size_t)j * 2 * D;
                float p = s[j];
                for (int32_t d = 0; d < dh; d++) o[d] += p * vj[d];
            }
            for (int32_t j = 0; j <= i; j++) {
                const float *vj = v + (size_t)j * 3 * D;
                float p = s[Lp + j];
                for (int32_t d = 0; d < dh; d++) o[d] += p * vj[d];
            }
        }
    }
}

void nn_attention_prefix(const float *kv, int32_t Lp, const float *qkv, const int32_t *lens,
                         int32_t batch, int32_t D, int32_t heads, float *out, float *scratch,
                         nn_pool *pool)
{
    if (batch <= 0 || heads <= 0 || D <= 0 || Lp < 0) return;
    int32_t maxl = 0;
    for (int32_t b = 0; b < batch; b++)
        if (lens[b] > maxl) maxl = lens[b];
    attnp_task a;
    a.kern = nn_kernels_get();
    a.kv = kv;
    a.qkv = qkv;
    a.lens = lens;
    a.out = out;
    a.scratch = scratch;
    a.Lp = Lp;
    a.batch = batch;
    a.D = D;
    a.heads = heads;
    a.per_thread = nn_attention_prefix_scratch(Lp + maxl, NULL);
    atomic_init(&a.next, 0);
    nn_pool_run(pool, attnp_run, &a);
}
