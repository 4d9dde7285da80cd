/*
 * session.c — sessions (the worker threads and scratch memory of one caller) and the public
 * encoders ae_encode_images / ae_encode_tokens / ae_encode_texts.
 *
 * ae_session_new allocates everything a forward pass can need: one scratch arena sized for
 * the largest chunk of either tower the model holds (img_chunk images; TEXT_CHUNK_SEQS full
 * sequences of text tokens, packed) and the chunk tables of the text encoder. The encoders
 * split their input into such chunks, so the forward passes never allocate. A tower loaded
 * into the model after the session was made (ae_model_set_towers) gets its scratch at the
 * next encoding call (fit()). Inputs are validated in full before anything is computed; a
 * failing call leaves embeds unspecified (a text chunk reads its token rows from the model's
 * file, and that read can fail: clip_text_forward's error ends the call).
 *
 * The text encoder runs the leading tokens that all sequences of a chunk share only once, so
 * the sequences are ordered by their ids before chunking (prompts made from a few templates
 * then fall into chunks of one template each) and a chunk ends early where its common prefix
 * would shrink; the embeddings are written back in the caller's order. An embedding does not
 * depend on the chunk it was computed in. ae_encode_texts tokenizes every text first and
 * then takes the same path as ae_encode_tokens: chunking the strings in the caller's order
 * (as it once did) mixed the templates in each chunk, so the shared prefix was only
 * "<|startoftext|> a", and capped chunks at 32 texts; that made strings 2.5-3x slower than
 * the same ids.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "session.h"

enum {
    IMG_CHUNK = 32,       /* images per vision forward pass, at most (img_chunk) */
    TEXT_CHUNK_SEQS = 32, /* text scratch sized for this many full-length sequences ... */
    TEXT_MAX_SEQS = 256,  /* ... and a chunk holds at most this many sequences */
    MAX_THREADS = 1024,
    PREFIX_SPLIT_SEQS = 32, /* a chunk this full may end where its common prefix shrinks */
};

struct ae_session {
    const ae_model *model;
    nn_pool *pool;
    float *scratch;       /* 64-byte aligned arena */
    size_t scratch_floats;
    size_t text_tokens;   /* token capacity of one text chunk: TEXT_CHUNK_SEQS * context */
    int32_t img_chunk;    /* images per vision forward pass (img_chunk) */
    /* the text encoder's chunk tables (NULL until the model has a text tower) */
    const int32_t **seq;  /* [TEXT_MAX_SEQS] the chunk's sequences */
    int32_t *len;         /* [TEXT_MAX_SEQS] */
    float *emb;           /* [TEXT_MAX_SEQS, proj] one chunk's embeddings */
};

ae_session_params ae_session_default_params(void)
{
    ae_session_params p = {.n_threads = 0};
    return p;
}

const ae_model *session_model(const ae_session *s) { return s->model; }
nn_pool *session_pool(ae_session *s) { return s->pool; }

void ae_session_free(ae_session *s)
{
    if (!s) return;
    nn_pool_free(s->pool);
    free(s->scratch);
    free(s->seq);
    free(s->len);
    free(s->emb);
    free(s);
}

/* Images per vision forward pass. int8 products run at 3-4x the float32 rate, so reading the
 * activations from memory costs them a larger share: their passes take as many images as
 * keep the activations (the pass's scratch, 18 KiB a token row for ViT-B/32) within the L3
 * share of the session's threads, so that each layer's output is still in cache when the
 * next reads it: for ViT-B/32 with 8 MiB a core, 8 images on one thread and 17 on two (int8
 * at batch 32 on an Emerald Rapids Xeon, interleaved runs: 1.05x on one thread, 1.13x on
 * two). float32 and bf16 passes take IMG_CHUNK: passes of 16 ran at 0.98x there on two
 * threads, reading the weights, 4x as large, twice as often. 1 to IMG_CHUNK. */
static int32_t img_chunk(const ae_session *s)
{
    if (s->model->precision != AE_PRECISION_INT8) return IMG_CHUNK;
    size_t per_image = clip_vision_scratch_floats(s->model, IMG_CHUNK, s->pool) / IMG_CHUNK *
                       sizeof(float);
    size_t n = nn_pool_cache(s->pool) / (per_image ? per_image : 1);
    return n < 1 ? 1 : n > IMG_CHUNK ? IMG_CHUNK : (int32_t)n;
}

/* Sizes the scratch and the text tables for the towers the model holds now (the scratch
 * only grows). Outside any forward pass: at creation and at the start of each call. */
static int fit(ae_session *s, const char *fn)
{
    const ae_model *m = s->model;
    size_t need = 0;
    if (m->has_vision) {
        s->img_chunk = img_chunk(s);
        need = clip_vision_scratch_floats(m, s->img_chunk, s->pool);
    }
    if (m->has_text) {
        size_t t = clip_text_scratch_floats(m, TEXT_CHUNK_SEQS, s->pool);
        if (t > need) need = t;
        s->text_tokens = (size_t)TEXT_CHUNK_SEQS * m->cfg.text.max_positions;
        if (!s->seq) {
            s->seq = malloc(TEXT_MAX_SEQS * sizeof *s->seq);
            s->len = malloc(TEXT_MAX_SEQS * sizeof *s->len);
            s->emb = malloc((size_t)TEXT_MAX_SEQS * m->cfg.proj_dim * sizeof *s->emb);
            if (!s->seq || !s->len || !s->emb) {
                free(s->seq), free(s->len), free(s->emb);
                s->seq = NULL, s->len = NULL, s->emb = NULL;
                goto nomem;
            }
        }
    }
    if (s->scratch && need <= s->scratch_floats) return AE_OK;
    size_t bytes = (need * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) goto nomem;
    free(s->scratch);
    s->scratch = p;
    s->scratch_floats = need;
    return AE_OK;
nomem:
    return ae_fail(AE_ERR_NOMEM, "%s: out of memory (%d threads, %zu MB scratch)", fn,
                   nn_pool_size(s->pool), need * sizeof(float) >> 20);
}

int ae_session_new(const ae_model *model, const ae_session_params *params, ae_session **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_session_new: out is NULL");
    *out = NULL;
    if (!model) return ae_fail(AE_ERR_INVALID, "ae_session_new: model is NULL");
    ae_session_params p = params ? *params : ae_session_default_params();
    if (p.n_threads < 0 || p.n_threads > MAX_THREADS)
        return ae_fail(AE_ERR_INVALID, "ae_session_new: n_threads = %d (must be 0..%d)",
                       (int)p.n_threads, MAX_THREADS);
    int nt = p.n_threads;
    if (nt == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nt = c < 1 ? 1 : c > MAX_THREADS ? MAX_THREADS : (int)c;
    }

    ae_session *s = calloc(1, sizeof *s);
    if (!s) return ae_fail(AE_ERR_NOMEM, "ae_session_new: out of memory");
    s->model = model;
    s->pool = nn_pool_new(nt);
    if (!s->pool) {
        ae_session_free(s);
        return ae_fail(AE_ERR_NOMEM, "ae_session_new: out of memory (%d threads)", nt);
    }
    int rc = fit(s, "ae_session_new");
    if (rc) {
        ae_session_free(s);
        return rc;
    }
    *out = s;
    return AE_OK;
}

static int check_call(ae_session *s, const char *fn, int32_t n, const void *in,
                      const void *embeds, int need_vision)
{
    if (!s) return ae_fail(AE_ERR_INVALID, "%s: session is NULL", fn);
    if (need_vision && !s->model->has_vision)
        return ae_fail(AE_ERR_INVALID, "%s: the vision tower was not loaded (load_vision = 0)", fn);
    if (!need_vision && !s->model->has_text)
        return ae_fail(AE_ERR_INVALID, "%s: the text tower was not loaded (load_text = 0)", fn);
    if (n < 1) return ae_fail(AE_ERR_INVALID, "%s: n = %d: nothing to encode", fn, (int)n);
    if (!in || !embeds) return ae_fail(AE_ERR_INVALID, "%s: NULL input or output", fn);
    return fit(s, fn);
}

int ae_encode_images(ae_session *s, const float *pixels, int32_t n, float *embeds)
{
    int rc = check_call(s, "ae_encode_images", n, pixels, embeds, 1);
    if (rc) return rc;
    const ae_model *m = s->model;
    size_t px = (size_t)m->vision.cfg.channels * m->vision.cfg.image_size *
                m->vision.cfg.image_size;
    size_t E = (size_t)m->cfg.proj_dim;
    /* passes of equal size (32 images in passes of at most 17: two of 16, not 17 and 15) */
    int32_t passes = (n + s->img_chunk - 1) / s->img_chunk;
    for (int32_t j = 0; j < passes; j++) {
        int32_t i0 = (int32_t)((int64_t)n * j / passes), i1 = (int32_t)((int64_t)n * (j + 1) / passes);
        clip_vision_forward(m, pixels + (size_t)i0 * px, i1 - i0, embeds + (size_t)i0 * E,
                            s->scratch, s->pool);
    }
    return AE_OK;
}

/* One sequence of ae_encode_tokens, in the order of its ids. */
typedef struct seq_ref {
    const int32_t *ids;
    int32_t len, idx;
} seq_ref;

static int cmp_seq(const void *pa, const void *pb)
{
    const seq_ref *a = pa, *b = pb;
    int32_t n = a->len < b->len ? a->len : b->len;
    for (int32_t j = 0; j < n; j++)
        if (a->ids[j] != b->ids[j]) return a->ids[j] < b->ids[j] ? -1 : 1;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int32_t common(const int32_t *a, const int32_t *b, int32_t n)
{
    int32_t j = 0;
    while (j < n && a[j] == b[j]) j++;
    return j;
}

/* Encodes the sequences r[0, n), sorted by ids, in chunks that fit the scratch: at most
 * text_tokens tokens and TEXT_MAX_SEQS sequences each. A chunk that holds PREFIX_SPLIT_SEQS
 * ends early where its common prefix would shrink by enough to add a quarter to its rows
 * (the prompts of one template stay together; a class name's first token does not split).
 * embeds[r[i].idx] gets sequence i. The error of a chunk's pass (its token rows could not be
 * read) stops it. */
static int encode_chunks(ae_session *s, const seq_ref *r, int32_t n, float *embeds)
{
    size_t E = (size_t)s->model->cfg.proj_dim;
    for (int32_t i = 0; i < n;) {
        size_t tokens = 0;
        int32_t j = i, lcp = r[i].len;
        while (j < n && j - i < TEXT_MAX_SEQS && tokens + (size_t)r[j].len <= s->text_tokens) {
            int32_t l = common(r[i].ids, r[j].ids, lcp < r[j].len ? lcp : r[j].len);
            if (j - i >= PREFIX_SPLIT_SEQS && (size_t)4 * (lcp - l) * (j - i) >= tokens) break;
            lcp = l;
            s->seq[j - i] = r[j].ids;
            s->len[j - i] = r[j].len;
            tokens += (size_t)r[j++].len;
        }
        int rc = clip_text_forward(s->model, s->seq, s->len, j - i, s->emb, s->scratch, s->pool);
        if (rc) return rc;
        for (int32_t k = i; k < j; k++)
            memcpy(embeds + (size_t)r[k].idx * E, s->emb + (size_t)(k - i) * E,
                   E * sizeof *embeds);
        i = j;
    }
    return AE_OK;
}

int ae_encode_tokens(ae_session *s, const int32_t *const *ids, const int32_t *n_ids, int32_t n,
                     float *embeds)
{
    int rc = check_call(s, "ae_encode_tokens", n, ids, embeds, 0);
    if (rc) return rc;
    if (!n_ids) return ae_fail(AE_ERR_INVALID, "ae_encode_tokens: n_ids is NULL");
    const clip_tower_config *c = &s->model->text.cfg;
    for (int32_t i = 0; i < n; i++) {
        if (n_ids[i] < 1)
            return ae_fail(AE_ERR_INVALID, "text %d: %d tokens (at least 1 needed)", (int)i,
                           (int)n_ids[i]);
        if (n_ids[i] > c->max_positions)
            return ae_fail(AE_ERR_INVALID, "text %d: %d tokens exceeds the context length %d",
                           (int)i, (int)n_ids[i], (int)c->max_positions);
        if (!ids[i]) return ae_fail(AE_ERR_INVALID, "text %d: ids is NULL", (int)i);
        for (int32_t j = 0; j < n_ids[i]; j++)
            if (ids[i][j] < 0 || ids[i][j] >= c->vocab)
                return ae_fail(AE_ERR_INVALID,
                               "text %d: token %d is id %d, outside the vocabulary (0..%d)",
                               (int)i, (int)j, (int)ids[i][j], (int)c->vocab - 1);
    }
    seq_ref *r = malloc((size_t)n * sizeof *r);
    if (!r) return ae_fail(AE_ERR_NOMEM, "ae_encode_tokens: out of memory (%d texts)", (int)n);
    for (int32_t i = 0; i < n; i++) r[i] = (seq_ref){ids[i], n_ids[i], i};
    qsort(r, (size_t)n, sizeof *r, cmp_seq);
    rc = encode_chunks(s, r, n, embeds);
    free(r);
    return rc;
}

/* Grows *buf (int32 ids, *cap of them) to hold need. */
static int grow(int32_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    int32_t *p = realloc(*buf, c * sizeof *p);
    if (!p) return -1;
    *buf = p;
    *cap = c;
    return 0;
}

int ae_encode_texts(ae_session *s, const char *const *texts, int32_t n, float *embeds)
{
    int rc = check_call(s, "ae_encode_texts", n, texts, embeds, 0);
    if (rc) return rc;
    const ae_model *m = s->model;
    size_t ctx = (size_t)m->text.cfg.max_positions;
    for (int32_t i = 0; i < n; i++)
        if (!texts[i]) return ae_fail(AE_ERR_INVALID, "text %d: NULL string", (int)i);

    /* every text's ids, one after the other in `all` (r[i].ids holds an offset until all is
     * complete, as realloc may move it), then sorted and chunked as ae_encode_tokens does */
    seq_ref *r = malloc((size_t)n * sizeof *r);
    int32_t *all = NULL;
    size_t cap = 0, used = 0;
    if (!r || grow(&all, &cap, ctx)) goto nomem;
    for (int32_t i = 0; i < n; i++) {
        if (grow(&all, &cap, used + ctx)) goto nomem;
        size_t got = 0;
        rc = ae_tokenize(m, texts[i], strlen(texts[i]), 1, all + used, ctx, &got);
        if (rc) {
            rc = ae_fail_prefix(rc, "text %d: ", (int)i);
            goto done;
        }
        if (got > ctx) got = ctx; /* truncated: the count may report the full length */
        if (got < 1) {
            rc = ae_fail(AE_ERR_INVALID, "text %d: tokenizer returned no ids", (int)i);
            goto done;
        }
        /* the vocabulary is the model's, but check: a bad id must never reach an assert */
        for (size_t j = 0; j < got; j++)
            if (all[used + j] < 0 || all[used + j] >= m->text.cfg.vocab) {
                rc = ae_fail(AE_ERR_MODEL, "text %d: tokenizer id %d outside the model's "
                             "vocabulary of %d", (int)i, (int)all[used + j],
                             (int)m->text.cfg.vocab);
                goto done;
            }
        r[i] = (seq_ref){(const int32_t *)(uintptr_t)used, (int32_t)got, i};
        used += got;
    }
    for (int32_t i = 0; i < n; i++) r[i].ids = all + (uintptr_t)r[i].ids;
    qsort(r, (size_t)n, sizeof *r, cmp_seq);
    rc = encode_chunks(s, r, n, embeds);
    goto done;
nomem:
    rc = ae_fail(AE_ERR_NOMEM, "ae_encode_texts: out of memory (%d texts)", (int)n);
done:
    free(r);
    free(all);
    return rc;
}
