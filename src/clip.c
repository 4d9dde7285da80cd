/*
 * clip.c — the forward passes of CLIP's two encoders, as transformers' CLIPModel computes
 * get_image_features and get_text_features, in float32 over a batch.
 *
 * Vision: the stride-P patch conv as one linear layer over patches flattened in (c, y, x)
 * order, class token prepended, position embeddings added, pre_layrnorm, the encoder layers,
 * token 0 of each image, post_layernorm, visual_projection.
 * Text: token_embedding[ids] + position_embedding[0:L], the encoder layers with a causal
 * mask, final_layer_norm, the row of the first EOS (the last row if there is none),
 * text_projection.
 * Encoder layer: h += out_proj(attn(ln1(h))); h += fc2(act(fc1(ln2(h)))), the activation and
 * the residual fused into the linear kernels.
 *
 * Text batches are packed, not padded: the n sequences lie one after the other as
 * sum(L_i) token rows. Every op except attention is per row, so nothing is computed for
 * padding; attention (nn_attention_prefix) runs per sequence.
 * The last layer needs only the pooled rows after attention: they are gathered before
 * out_proj, which skips out_proj and the MLP for every other token of the last layer.
 *
 * Shared prefix: under the causal mask the hidden states of a sequence's first Lp tokens
 * depend on those tokens only. When every sequence of a batch begins with the same Lp tokens
 * (prompt banks: "a outstanding picture, of a #" + class), the prefix runs once, as a
 * sequence of its own, and each layer's keys and values of it are kept (the last layer needs
 * nothing else of it); then only the suffix tokens of the sequences run, their attention
 * reading the kept prefix keys and values before their own (nn_attention_prefix). Lp is the
 * longest common prefix, kept shorter than every sequence and not past any pooled row, so the
 * pooled rows are all suffix rows. The debug hook sees the unshared pass.
 *
 * The token embedding is not in memory (model.c): a text pass first reads the rows of its
 * distinct token ids, sorted (so runs of ids are read at once), into `big`, which is free until
 * the first layer, and builds every input row from them, the suffixes' too (they wait in `h`
 * behind the prefix's rows while the prefix runs). A failed read is the pass's error.
 *
 * All memory comes from the caller's scratch (clip_*_scratch_floats); nothing is allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "clip_debug.h"
#include "error.h"
#include "model.h"

_Thread_local clip_debug_hook clip_debug_fn;
_Thread_local void *clip_debug_ctx;

/* Scratch regions of one forward pass over `rows` token rows. */
typedef struct bufs {
    float *h;       /* [rows, D] the residual stream */
    float *x;       /* [rows, D] LayerNorm output, attention context, pooled rows */
    float *big;     /* [rows, max(3D, I, extra)] qkv, then the MLP hidden, patches */
    int32_t *prow;  /* [rows] pooled row of each sequence */
    int32_t *slen;  /* [rows] suffix length of each sequence (shared-prefix text pass) */
    float *att;     /* max(nn_attention_scratch(L), nn_attention_prefix_scratch(L)) */
    float *kv;      /* [layers, Lp, 2D] the prefix's keys and values (text), else unused */
} bufs;

static size_t up16(size_t x) { return (x + 15) & ~(size_t)15; } /* 64-byte alignment */

static size_t big_cols(const clip_tower_config *c, size_t extra)
{
    size_t b = (size_t)3 * c->hidden;
    if ((size_t)c->intermediate > b) b = c->intermediate;
    if (extra > b) b = extra;
    return b;
}

/* Lays the regions out from base (if not NULL) and returns the floats needed. The pooled
 * row table has one entry per row, so any number of sequences fits in a given row count. */
static size_t layout(const clip_tower_config *c, size_t rows, size_t extra, int32_t L,
                     size_t kv, const nn_pool *pool, float *base, bufs *b)
{
    size_t D = c->hidden, o = 0;
    size_t att = nn_attention_scratch(L, pool), attp = nn_attention_prefix_scratch(L, pool);
    size_t oh = o; o += up16(rows * D);
    size_t ox = o; o += up16(rows * D);
    size_t ob = o; o += up16(rows * big_cols(c, extra));
    size_t op = o; o += up16(rows);
    size_t os = o; o += up16(rows);
    size_t oa = o; o += up16(att > attp ? att : attp);
    size_t ok = o; o += up16(kv);
    if (base) {
        b->h = base + oh;
        b->x = base + ox;
        b->big = base + ob;
        b->prow = (int32_t *)(base + op);
        b->slen = (int32_t *)(base + os);
        b->att = base + oa;
        b->kv = base + ok;
    }
    return o;
}

static size_t patch_cols(const clip_tower_config *c)
{
    return (size_t)c->channels * c->patch_size * c->patch_size;
}

static int32_t vision_tokens(const clip_tower_config *c)
{
    int32_t g = c->image_size / c->patch_size;
    return g * g + 1;
}

size_t clip_vision_scratch_floats(const ae_model *m, int32_t n, const nn_pool *pool)
{
    const clip_tower_config *c = &m->vision.cfg;
    int32_t T = vision_tokens(c);
    return layout(c, (size_t)n * T, patch_cols(c), T, 0, pool, NULL, NULL);
}

/* The prefix keys and values of every layer, for a prefix of up to the context length. */
static size_t kv_floats(const clip_tower_config *c)
{
    return (size_t)c->layers * 2 * c->max_positions * c->hidden;
}

size_t clip_text_scratch_floats(const ae_model *m, int32_t n, const nn_pool *pool)
{
    const clip_tower_config *c = &m->text.cfg;
    int32_t L = c->max_positions;
    return layout(c, (size_t)n * L, 0, L, kv_floats(c), pool, NULL, NULL);
}

/* ---- debug hook ------------------------------------------------------------------------ */

static void dbg(const char *tower, const char *name, const float *p, int32_t rows,
                int32_t cols, int32_t ld)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", tower, name);
    clip_debug_fn(clip_debug_ctx, full, p, rows, cols, ld);
}

static void dbg_detail(const char *tower, const char *step, const float *p, int32_t rows,
                       int32_t cols, int32_t ld)
{
    char name[64];
    snprintf(name, sizeof name, "layer_0_detail.%s", step);
    dbg(tower, name, p, rows, cols, ld);
}

/* ---- the encoder layer ----------------------------------------------------------------- */

typedef struct pass {
    const clip_tower *t;
    const char *tower;   /* "vision" / "text", for debug names */
    nn_act act;
    nn_pool *pool;
    bufs b;
    /* sequences: n_seq of length L each (lens NULL), or of lens[i] each, packed */
    int32_t n_seq, L;
    const int32_t *lens;
    /* shared prefix of Lp tokens: KV_SAVE runs the prefix and keeps its keys and values in
     * b.kv; KV_USE runs suffixes after it */
    enum { KV_NONE, KV_SAVE, KV_USE } kv_mode;
    int32_t Lp;
} pass;

static nn_act act_of(ae_act a) { return a == AE_ACT_GELU ? NN_ACT_GELU : NN_ACT_QUICK_GELU; }

/* Attention: qkv [rows, 3D] -> out [rows, D]. Vision: n_seq sequences of L tokens. Text:
 * the packed sequences, after this layer's prefix keys and values kv [Lp, 2D] in a suffix
 * pass. All text attention goes through the one kernel, so an embedding does not depend on
 * the batch it was computed in or on the prefix shared. */
static void attend(const pass *p, const float *qkv, const float *kv, float *out)
{
    const clip_tower_config *c = &p->t->cfg;
    if (p->lens) {
        nn_attention_prefix(kv, p->kv_mode == KV_USE ? p->Lp : 0, qkv, p->lens, p->n_seq,
                            c->hidden, c->heads, out, p->b.att, p->pool);
        return;
    }
    nn_attention(qkv, p->n_seq, p->L, c->hidden, c->heads, 0, out, p->b.att, p->pool); /* vision */
}

/* Moves row prow[s] of a [.., D] buffer to row s, for s = 0..n-1. prow is increasing and
 * prow[s] >= s, so no row is overwritten before it is read. */
static void gather(float *a, const int32_t *prow, int32_t n, int32_t D)
{
    for (int32_t s = 0; s < n; s++)
        if (prow[s] != s) memcpy(a + (size_t)s * D, a + (size_t)prow[s] * D, (size_t)D * sizeof *a);
}

/* One encoder layer over *rows rows of p->b.h. With `pooled` set, only the pooled rows
 * (p->b.prow) go on after attention and *rows becomes p->n_seq. */
static void layer(const pass *p, int32_t li, int32_t *rows, int pooled)
{
    const clip_tower_config *c = &p->t->cfg;
    const clip_layer *ly = &p->t->layers[li];
    int32_t D = c->hidden, I = c->intermediate, m = *rows;
    float *h = p->b.h, *x = p->b.x, *big = p->b.big;
    int detail = clip_debug_fn && li == 0 && p->kv_mode == KV_NONE;
    float *kv = p->b.kv + (size_t)li * p->Lp * 2 * D;                     /* [Lp, 2D] */

    nn_layernorm(h, m, D, ly->ln1_w, ly->ln1_b, c->eps, x, p->pool);      /* x [m, D] */
    nn_linear_forward(&ly->qkv, x, m, big, NN_ACT_NONE, NULL, p->pool);   /* big [m, 3D] */
    if (p->kv_mode == KV_SAVE) {
        for (int32_t r = 0; r < m; r++)
            memcpy(kv + (size_t)r * 2 * D, big + (size_t)r * 3 * D + D,
                   (size_t)2 * D * sizeof *kv);
        if (li == c->layers - 1) return; /* the suffixes need only its keys and values */
    }
    if (detail) {
        dbg_detail(p->tower, "layer_norm1", x, m, D, D);
        dbg_detail(p->tower, "q_proj", big, m, D, 3 * D);
        dbg_detail(p->tower, "k_proj", big + D, m, D, 3 * D);
        dbg_detail(p->tower, "v_proj", big + 2 * D, m, D, 3 * D);
    }
    attend(p, big, kv, x);                                                /* x [m, D] */
    if (detail) dbg_detail(p->tower, "attn_context", x, m, D, D);
    if (pooled) {
        gather(h, p->b.prow, p->n_seq, D);
        gather(x, p->b.prow, p->n_seq, D);
        m = *rows = p->n_seq;
    }
    if (detail) { /* out_proj before the residual, into the dead qkv */
        nn_linear_forward(&ly->out, x, m, big, NN_ACT_NONE, NULL, p->pool);
        dbg_detail(p->tower, "out_proj", big, m, D, D);
    }
    nn_linear_forward(&ly->out, x, m, h, NN_ACT_NONE, h, p->pool);        /* h += out(x) */
    nn_layernorm(h, m, D, ly->ln2_w, ly->ln2_b, c->eps, x, p->pool);
    if (detail) {
        dbg_detail(p->tower, "residual1", h, m, D, D);
        dbg_detail(p->tower, "layer_norm2", x, m, D, D);
        nn_linear_forward(&ly->fc1, x, m, big, NN_ACT_NONE, NULL, p->pool);
        dbg_detail(p->tower, "fc1", big, m, I, I);
    }
    nn_linear_forward(&ly->fc1, x, m, big, p->act, NULL, p->pool);        /* big [m, I] */
    if (detail) {
        dbg_detail(p->tower, "act", big, m, I, I);
        nn_linear_forward(&ly->fc2, big, m, x, NN_ACT_NONE, NULL, p->pool); /* x is dead */
        dbg_detail(p->tower, "fc2", x, m, D, D);
    }
    nn_linear_forward(&ly->fc2, big, m, h, NN_ACT_NONE, h, p->pool);      /* h += fc2(.) */
    if (detail) dbg_detail(p->tower, "output", h, m, D, D);
    if (clip_debug_fn && p->kv_mode == KV_NONE) {
        char name[48];
        snprintf(name, sizeof name, "layer_%d_output", (int)li);
        dbg(p->tower, name, h, m, D, D);
    }
}

/* The layers, then final LayerNorm of the pooled rows and the projection into embeds. */
static void encode(pass *p, int32_t rows, float *embeds)
{
    const clip_tower *t = p->t;
    int32_t D = t->cfg.hidden, nl = t->cfg.layers;
    /* the debug hook wants every row of every layer: no early pooling then */
    int early = !clip_debug_fn;
    int pooled = 0;
    for (int32_t li = 0; li < nl; li++) {
        int last = li == nl - 1 && early;
        layer(p, li, &rows, last);
        pooled |= last;
    }
    if (clip_debug_fn) {
        if (!p->lens) {
            dbg(p->tower, "last_hidden_state", p->b.h, rows, D, D);
        } else {
            nn_layernorm(p->b.h, rows, D, t->final_ln_w, t->final_ln_b, t->cfg.eps, p->b.x,
                         p->pool);
            dbg(p->tower, "final_layer_norm", p->b.x, p->lens[0], D, D);
            float pos = (float)p->b.prow[0];
            dbg(p->tower, "pooled_position", &pos, 1, 1, 1);
        }
    }
    if (!pooled) gather(p->b.h, p->b.prow, p->n_seq, D);
    nn_layernorm(p->b.h, p->n_seq, D, t->final_ln_w, t->final_ln_b, t->cfg.eps, p->b.x, p->pool);
    if (clip_debug_fn) dbg(p->tower, "pooler_output", p->b.x, 1, D, D);
    nn_linear_forward(&t->proj, p->b.x, p->n_seq, embeds, NN_ACT_NONE, NULL, p->pool);
    if (clip_debug_fn)
        dbg(p->tower, p->lens ? "text_embeds" : "image_embeds", embeds, 1, t->proj.n_out,
            t->proj.n_out);
}

/* ---- vision ---------------------------------------------------------------------------- */

void clip_vision_forward(const ae_model *m, const float *pixels, int32_t n, float *embeds,
                         float *scratch, nn_pool *pool)
{
    const clip_tower *t = &m->vision;
    const clip_tower_config *c = &t->cfg;
    int32_t D = c->hidden, P = c->patch_size, S = c->image_size, C = c->channels;
    int32_t G = S / P, np = G * G, T = np + 1, rows = n * T;
    size_t K = patch_cols(c);
    AE_ASSERT(m->has_vision && n >= 1);

    pass p = {.t = t, .tower = "vision", .act = act_of(c->act), .pool = pool,
              .n_seq = n, .L = T, .lens = NULL};
    layout(c, (size_t)rows, K, T, 0, pool, scratch, &p.b);

    /* patches [n * np, K], row (img, py, px), column (ch, y, x): the conv's input windows */
    for (int32_t img = 0; img < n; img++)
        for (int32_t py = 0; py < G; py++)
            for (int32_t px = 0; px < G; px++) {
                float *row = p.b.big + ((size_t)img * np + (size_t)py * G + px) * K;
                for (int32_t ch = 0; ch < C; ch++)
                    for (int32_t y = 0; y < P; y++)
                        memcpy(row + ((size_t)ch * P + y) * P,
                               pixels + (((size_t)img * C + ch) * S + (size_t)py * P + y) * S +
                                   (size_t)px * P,
                               (size_t)P * sizeof(float));
            }
    nn_linear_forward(&t->patch, p.b.big, n * np, p.b.x, NN_ACT_NONE, NULL, pool); /* x [n*np, D] */

    /* h [n, T, D]: class token, then the patches, plus position embeddings */
    const float *pos = t->position_embedding;
    for (int32_t img = 0; img < n; img++) {
        float *h = p.b.h + (size_t)img * T * D;
        for (int32_t d = 0; d < D; d++) h[d] = t->class_embedding[d] + pos[d];
        for (int32_t k = 0; k < np; k++) {
            const float *e = p.b.x + ((size_t)img * np + k) * D;
            const float *q = pos + (size_t)(k + 1) * D;
            float *r = h + (size_t)(k + 1) * D;
            for (int32_t d = 0; d < D; d++) r[d] = e[d] + q[d];
        }
        p.b.prow[img] = img * T;
    }
    if (clip_debug_fn) dbg("vision", "embeddings", p.b.h, T, D, D);
    nn_layernorm(p.b.h, rows, D, t->pre_ln_w, t->pre_ln_b, c->eps, p.b.h, pool);
    if (clip_debug_fn) dbg("vision", "pre_layrnorm", p.b.h, T, D, D);
    encode(&p, rows, embeds);
}

/* ---- text ------------------------------------------------------------------------------ */

/* The token rows of one text pass: the distinct ids of its sequences, increasing, and their
 * embedding rows [n, D]. */
typedef struct token_rows {
    const int32_t *id;
    const float *row;
    int32_t n;
} token_rows;

static int cmp_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Reads the rows of the ids of `rows` tokens into big (rows * big_cols floats, which hold the
 * rows * D floats and rows ids needed). */
static int read_token_rows(const clip_tower *t, const int32_t *const *ids, const int32_t *n_ids,
                           int32_t n, size_t rows, float *big, token_rows *tr)
{
    size_t D = (size_t)t->cfg.hidden, k = 0, u = 0;
    int32_t *id = (int32_t *)(big + rows * D);
    for (int32_t s = 0; s < n; s++)
        for (int32_t j = 0; j < n_ids[s]; j++) id[k++] = ids[s][j];
    qsort(id, k, sizeof *id, cmp_id);
    for (size_t i = 0; i < k; i++)
        if (u == 0 || id[i] != id[u - 1]) id[u++] = id[i];
    *tr = (token_rows){id, big, (int32_t)u};
    return clip_token_rows(t, id, (int32_t)u, big);
}

/* row [D] = token_embedding[id] + position_embedding[j] */
static void embed_token(const clip_tower *t, const token_rows *tr, int32_t id, int32_t j,
                        float *row)
{
    int32_t D = t->cfg.hidden, lo = 0, hi = tr->n - 1;
    while (lo < hi) { /* the row of id */
        int32_t mid = lo + (hi - lo) / 2;
        if (tr->id[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    AE_ASSERT(tr->n > 0 && tr->id[lo] == id);
    const float *e = tr->row + (size_t)lo * D;
    const float *q = t->position_embedding + (size_t)j * D;
    for (int32_t d = 0; d < D; d++) row[d] = e[d] + q[d];
}

/* The pooled position of a sequence: its first eos_id, as transformers pools (configs from
 * before that fix say eos_token_id 2 and pooled at argmax(ids), the first EOS of CLIP's
 * vocabulary: config.c reads 2 as 49407, which is the same position). */
static int32_t pooled_at(int32_t eos, const int32_t *ids, int32_t L)
{
    for (int32_t j = 0; j < L; j++)
        if (ids[j] == eos) return j;
    return L - 1;
}

/* The prefix length to share: the longest common prefix of the sequences, shorter than every
 * sequence and not past any pooled position (at [n]). */
static int32_t shared_prefix(const int32_t *const *ids, const int32_t *n_ids, int32_t n,
                             const int32_t *at)
{
    int32_t Lp = n_ids[0];
    for (int32_t s = 0; s < n; s++) {
        if (n_ids[s] - 1 < Lp) Lp = n_ids[s] - 1;
        if (at[s] < Lp) Lp = at[s];
        int32_t j = 0;
        while (j < Lp && ids[s][j] == ids[0][j]) j++;
        Lp = j;
    }
    return Lp;
}

int clip_text_forward(const ae_model *m, const int32_t *const *ids, const int32_t *n_ids,
                      int32_t n, float *embeds, float *scratch, nn_pool *pool)
{
    const clip_tower *t = &m->text;
    const clip_tower_config *c = &t->cfg;
    int32_t D = c->hidden, ctx = c->max_positions;
    AE_ASSERT(m->has_text && n >= 1);

    size_t rows = 0;
    for (int32_t s = 0; s < n; s++) {
        AE_ASSERT(n_ids[s] >= 1 && n_ids[s] <= ctx);
        rows += (size_t)n_ids[s];
    }
    pass p = {.t = t, .tower = "text", .act = act_of(c->act), .pool = pool,
              .n_seq = n, .L = 0, .lens = n_ids, .kv_mode = KV_NONE, .Lp = 0};
    layout(c, rows, 0, ctx, kv_floats(c), pool, scratch, &p.b);
    token_rows tr;
    int rc = read_token_rows(t, ids, n_ids, n, rows, p.b.big, &tr);
    if (rc) return rc;

    /* prow [n]: the pooled position in each sequence, made a row number below */
    for (int32_t s = 0; s < n; s++) p.b.prow[s] = pooled_at(c->eos_id, ids[s], n_ids[s]);
    int32_t Lp = clip_debug_fn ? 0 : shared_prefix(ids, n_ids, n, p.b.prow);

    if (Lp < 1) {
        /* h [rows, D] = token_embedding[id] + position_embedding[j], sequences packed */
        size_t off = 0;
        for (int32_t s = 0; s < n; s++) {
            for (int32_t j = 0; j < n_ids[s]; j++)
                embed_token(t, &tr, ids[s][j], j, p.b.h + (off + j) * D);
            p.b.prow[s] += (int32_t)off;
            off += (size_t)n_ids[s];
        }
        if (clip_debug_fn) dbg("text", "embeddings", p.b.h, n_ids[0], D, D);
        encode(&p, (int32_t)rows, embeds);
        return AE_OK;
    }

    /* h: the prefix's Lp rows, then the suffixes' sum(slen) rows (tokens Lp.. of each sequence
     * at their positions), all made while the token rows are in big (Lp + sum(slen) <= rows) */
    for (int32_t j = 0; j < Lp; j++) embed_token(t, &tr, ids[0][j], j, p.b.h + (size_t)j * D);
    size_t off = Lp;
    for (int32_t s = 0; s < n; s++) {
        int32_t L = n_ids[s];
        p.b.slen[s] = L - Lp;
        for (int32_t j = Lp; j < L; j++)
            embed_token(t, &tr, ids[s][j], j, p.b.h + (off + j - Lp) * D);
        p.b.prow[s] += (int32_t)off - 2 * Lp; /* its row once the suffixes are moved */
        off += (size_t)(L - Lp);
    }

    /* the prefix: one sequence of Lp tokens through every layer (rows [0, Lp) of h only),
     * keeping its keys and values */
    pass pre = p;
    pre.n_seq = 1;
    pre.lens = &Lp;
    pre.kv_mode = KV_SAVE;
    pre.Lp = Lp;
    int32_t prows = Lp;
    for (int32_t li = 0; li < c->layers; li++) layer(&pre, li, &prows, 0);

    /* the suffixes, moved to the front of h */
    off -= (size_t)Lp;
    memmove(p.b.h, p.b.h + (size_t)Lp * D, off * D * sizeof *p.b.h);
    p.lens = p.b.slen;
    p.kv_mode = KV_USE;
    p.Lp = Lp;
    encode(&p, (int32_t)off, embeds);
    return AE_OK;
}
