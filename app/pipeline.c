/*
 * pipeline.c — the scoring pipeline behind `aesthete score`, `aesthete rank` and the server.
 *
 * Inputs go in batches of B through two slots (double buffering). Filling a slot is the
 * producers' work: the batch's URLs are downloaded together, then each input is one job —
 * read the file, its cache key (SHA-256 of the bytes + model fingerprint + preprocessing
 * options + the precision when not fp32, only when a cache is in use) and lookup, then decode + resize + crop + normalise
 * into the slot's 224 x 224 tensor. The calling thread meanwhile runs the forward pass of the
 * previous slot on the session's threads, writes its new embeddings to the cache in one
 * transaction (a kill -9 loses at most the batches in flight) and scores them, in input
 * order. Reading a folder again with another bank or method costs no vision work.
 *
 * Who decodes: producer threads beside the forward pass, one per core the session leaves
 * free, so that more-core machines decode in the shadow of the GEMMs. Whatever of a batch is
 * not done when the forward pass wants it is done by the calling thread and the session's
 * threads together (the jobs are claimed from one counter), so the pipeline is never slower
 * than decoding and encoding in turn; with no core to spare that is all there is. Memory stays bounded: two slots of B
 * tensors (~600 KB each for 224 x 224) and one full-size image per decoding thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "hash.h"
#include "image.h"
#include "inputs.h"
#include "model.h"
#include "nn/nn.h"
#include "pipeline.h"
#include "session.h"

ae_scorer_params ae_scorer_default_params(void)
{
    ae_scorer_params p;
    memset(&p, 0, sizeof p);
    p.image = ae_image_default_params();
    p.fetch = ae_fetch_default_params();
    p.batch = 16;
    p.max_file_bytes = (int64_t)1 << 30;
    p.producers = -1;
    return p;
}

/* "-": standard input, read to its end (once: a caller names it at most once) */
static int read_stdin(int64_t cap, ae_buffer *b)
{
    size_t got = 0, have = 0;
    for (;;) {
        if (got == have) {
            size_t want = have ? have * 2 : 1 << 16;
            void *p = realloc(b->data, want + 1);
            if (!p) return ae_buffer_free(b), ae_fail(AE_ERR_NOMEM, "-: out of memory");
            b->data = p;
            have = want;
        }
        ssize_t k = read(STDIN_FILENO, (char *)b->data + got, have - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return ae_buffer_free(b), ae_fail(AE_ERR_IO, "-: %s", strerror(errno));
        if (k == 0) break;
        got += (size_t)k;
        if ((int64_t)got > cap)
            return ae_buffer_free(b), ae_fail(AE_ERR_TOO_LARGE, "-: more than the limit of %lld bytes", (long long)cap);
    }
    b->size = b->cap = got;
    return AE_OK;
}

static int read_whole(const char *path, int64_t cap, ae_buffer *b)
{
    if (!*path) return ae_fail(AE_ERR_IO, "\"\": an empty file name");
    if (!strcmp(path, "-")) return read_stdin(cap, b);
    /* a FIFO among the inputs is refused below instead of blocking the batch */
    int fd = ae_file_open(path);
    size_t scheme = fd < 0 && errno == ENOENT ? ae_url_scheme_len(path) : 0;
    if (scheme) /* ftp://..., file://...: not a missing file */
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: unsupported URL scheme \"%.*s\" (only http and https)", path, (int)scheme, path);
    if (fd < 0) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = AE_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) rc = ae_fail(AE_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size > cap)
        rc = ae_fail(AE_ERR_TOO_LARGE, "%s: %lld bytes exceeds the limit of %lld", path, (long long)st.st_size,
                     (long long)cap);
    else if (!(b->data = malloc((size_t)st.st_size + 1))) rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    else {
        size_t got = 0, want = (size_t)st.st_size;
        while (got < want) {
            ssize_t k = read(fd, (char *)b->data + got, want - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            got += (size_t)k;
        }
        if (got != want) rc = ae_fail(AE_ERR_IO, "%s: read error (the file shrank or is unreadable)", path);
        else b->size = b->cap = want;
    }
    close(fd);
    if (rc != AE_OK) ae_buffer_free(b);
    return rc;
}

static void set_error(ae_scored *r, int rc, const char *msg)
{
    r->rc = rc;
    snprintf(r->error, sizeof r->error, "%s", msg && *msg ? msg : ae_strerror(rc));
}

/* `next` of a slot that is free or being opened: a thread finishing the previous batch may
 * still take one more number, which must claim nothing */
#define CLOSED (1 << 30)

/* One batch being filled or encoded. Fields other than the job results are written by the
 * thread that opens the slot, before `opened` is set under the lock. */
typedef struct slot {
    int32_t batch;              /* batch index held, -1 = free */
    int32_t opened;             /* the batch's URLs are fetched: its jobs may be claimed */
    int32_t finished;           /* jobs done (under the lock) */
    atomic_int next;            /* next job to claim */
    int32_t base, k;            /* inputs [base, base + k) */
    ae_buffer *bufs;            /* (B) downloaded bodies of URL inputs */
    int32_t *rc;                /* (B) AE_OK or the input's error */
    char (*msg)[512];           /* (B) its message */
    int32_t *hit;               /* (B) 1: the embedding came from the cache */
    char (*keys)[65];           /* (B) cache keys (only with a cache) */
    char (*fkeys)[65];          /* (B) cache keys of the facts (with a cache and facts) */
    int32_t *fnew;              /* (B) 1: facts computed now, to be stored */
    int32_t *src;               /* (B) 1: the bytes came from params->source */
    float *pixels;              /* (B, psz) preprocessed tensors */
    float *emb;                 /* (B, dim) embeddings: cache hits, then the encoded ones */
} slot;

typedef struct pipe {
    const char *const *inputs;
    int32_t n, B, nbatch, dim;
    size_t psz;
    const ae_scorer_params *p;
    const clip_preproc *pre;
    const char *fingerprint, *opts, *fopts;
    pthread_mutex_t mu, cache_mu;
    pthread_cond_t cv;
    int quit;
    int32_t released;           /* batches the calling thread has finished: [0, released) */
    slot slots[2];
} pipe_t;

/* Fetches the URLs of batch b into slot sl and makes its jobs claimable. */
static void open_batch(pipe_t *P, slot *sl, int32_t b)
{
    const int32_t base = b * P->B, k = P->n - base < P->B ? P->n - base : P->B;
    sl->base = base, sl->k = k;
    const char *urls[k > 0 ? k : 1];
    int32_t url_of[k > 0 ? k : 1], nurl = 0;
    for (int32_t i = 0; i < k; i++) {
        sl->rc[i] = AE_OK, sl->msg[i][0] = 0, sl->hit[i] = 0, sl->fnew[i] = 0, sl->src[i] = 0;
        memset(&sl->bufs[i], 0, sizeof sl->bufs[i]);
        const char *in = P->inputs[base + i];
        int got = in && P->p->source ? P->p->source(P->p->source_ctx, base + i, in, &sl->bufs[i], sl->msg[i], 512) : 0;
        if (got) {
            if (got < 0) sl->rc[i] = AE_ERR_IO;
            sl->src[i] = 1;
            continue;
        }
        if (in && ae_is_url(in)) urls[nurl] = in, url_of[nurl++] = i;
    }
    if (nurl) {
        ae_fetch_result *fr = calloc((size_t)nurl, sizeof *fr);
        if (!fr) {
            for (int32_t u = 0; u < nurl; u++)
                sl->rc[url_of[u]] = AE_ERR_NOMEM, snprintf(sl->msg[url_of[u]], 512, "%s: out of memory", urls[u]);
        } else {
            ae_fetch_many(urls, nurl, &P->p->fetch, fr);
            for (int32_t u = 0; u < nurl; u++) {
                int32_t i = url_of[u];
                if (fr[u].rc != AE_OK)
                    sl->rc[i] = fr[u].rc, snprintf(sl->msg[i], 512, "%s", fr[u].error[0] ? fr[u].error : ae_strerror(fr[u].rc));
                else sl->bufs[i] = fr[u].body, memset(&fr[u].body, 0, sizeof fr[u].body);
            }
            ae_fetch_results_free(fr, nurl);
            free(fr);
        }
    }
    int32_t failed = 0; /* failed downloads are done already */
    for (int32_t i = 0; i < k; i++) failed += sl->rc[i] != AE_OK;
    pthread_mutex_lock(&P->mu);
    sl->finished += failed;
    pthread_mutex_unlock(&P->mu);
    atomic_store(&sl->next, 0); /* last: the jobs are claimable from here on */
}

/* ---- photo facts in the cache: a record of FACT_WORDS little-endian 32-bit words, stored
 * as a "vector" under its own key (ae_cache_key_from_hash with FACTS_ID in the fingerprint's
 * place); a change of the layout changes FACTS_ID. */
#define FACTS_ID "photo-facts-v1"
#define FACT_WORDS 44

static void put_u32(float *w, int k, uint32_t u) { memcpy(&w[k], &u, 4); }
static uint32_t get_u32(const float *w, int k)
{
    uint32_t u;
    memcpy(&u, &w[k], 4);
    return u;
}

static void facts_pack(const ae_photo_facts *f, float *w)
{
    memset(w, 0, sizeof(float) * FACT_WORDS);
    put_u32(w, 0, 1);
    for (int k = 0; k < 2; k++) put_u32(w, 1 + 2 * k, (uint32_t)f->pixel_hash[k]), put_u32(w, 2 + 2 * k, (uint32_t)(f->pixel_hash[k] >> 32));
    w[5] = f->quality.sharpness, w[6] = f->quality.highlights, w[7] = f->quality.shadows, w[8] = f->quality.noise;
    put_u32(w, 9, (uint32_t)f->quality.width), put_u32(w, 10, (uint32_t)f->quality.height);
    put_u32(w, 11, (uint32_t)f->width), put_u32(w, 12, (uint32_t)f->height);
    put_u32(w, 13, (uint32_t)f->capture.has_time);
    uint64_t t;
    memcpy(&t, &f->capture.time, 8);
    put_u32(w, 14, (uint32_t)t), put_u32(w, 15, (uint32_t)(t >> 32));
    put_u32(w, 16, (uint32_t)f->capture.has_offset), put_u32(w, 17, (uint32_t)f->capture.offset_minutes);
    _Static_assert(sizeof f->capture.camera == 96, "the record holds 96 bytes of camera");
    for (int k = 0; k < 24; k++) {
        const uint8_t *c = (const uint8_t *)f->capture.camera + 4 * k;
        put_u32(w, 18 + k, (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24);
    }
}

/* 0 when the record is not one of ours */
static int facts_unpack(const float *w, ae_photo_facts *f)
{
    if (get_u32(w, 0) != 1) return 0;
    for (int k = 0; k < 2; k++) f->pixel_hash[k] = get_u32(w, 1 + 2 * k) | (uint64_t)get_u32(w, 2 + 2 * k) << 32;
    f->quality.sharpness = w[5], f->quality.highlights = w[6], f->quality.shadows = w[7], f->quality.noise = w[8];
    f->quality.width = (int32_t)get_u32(w, 9), f->quality.height = (int32_t)get_u32(w, 10);
    f->width = (int32_t)get_u32(w, 11), f->height = (int32_t)get_u32(w, 12);
    f->capture.has_time = (int32_t)get_u32(w, 13);
    uint64_t t = get_u32(w, 14) | (uint64_t)get_u32(w, 15) << 32;
    memcpy(&f->capture.time, &t, 8);
    f->capture.has_offset = (int32_t)get_u32(w, 16), f->capture.offset_minutes = (int32_t)get_u32(w, 17);
    for (int k = 0; k < 24; k++) {
        uint32_t u = get_u32(w, 18 + k);
        for (int b = 0; b < 4; b++) f->capture.camera[4 * k + b] = (char)(u >> (8 * b));
    }
    f->capture.camera[95] = 0;
    return 1;
}

static void facts_from(ae_photo_facts *f, const img_facts *x)
{
    memcpy(f->pixel_hash, x->pixel_hash, sizeof f->pixel_hash);
    f->quality = x->quality;
    f->capture = x->capture;
    f->width = x->width, f->height = x->height;
    f->ok = 1;
}

/* One input: bytes, cache key and lookup, decode and preprocess into the slot. Runs on any
 * thread; a failed download (rc set when the batch was opened) is done already. */
/* 1 if an embedding read from the cache is finite and not zero */
static int usable_embedding(const float *v, int32_t dim)
{
    double ss = 0;
    for (int32_t k = 0; k < dim; k++) ss += (double)v[k] * v[k];
    return isfinite(ss) && ss > 0;
}

static void run_job(pipe_t *P, slot *sl, int32_t i)
{
    const char *in = P->inputs[sl->base + i];
    int rc;
    ae_buffer own = {0};
    const ae_buffer *b = &sl->bufs[i];
    if (sl->rc[i] != AE_OK) return;
    if (!in) {
        rc = ae_fail(AE_ERR_INVALID, "input is NULL");
        goto out;
    }
    if (!sl->src[i] && !ae_is_url(in)) {
        if ((rc = read_whole(in, P->p->max_file_bytes, &own)) != AE_OK) goto out;
        b = &own;
    }
    ae_photo_facts *f = P->p->facts ? &P->p->facts[sl->base + i] : NULL;
    if (f) {
        memset(f, 0, sizeof *f);
        f->file_bytes = (int64_t)b->size;
    }
    if (P->p->cache || f) {
        uint8_t digest[32];
        char content[65];
        ae_sha256 h;
        ae_sha256_init(&h);
        ae_sha256_update(&h, b->data, b->size);
        ae_sha256_final(&h, digest);
        ae_sha256_tohex(digest, content);
        if (f) memcpy(f->bytes_hash, digest, 32);
        if (P->p->cache) {
            ae_cache_key_from_hash(content, P->fingerprint, P->opts, sl->keys[i]);
            if (f) ae_cache_key_from_hash(content, FACTS_ID, P->fopts, sl->fkeys[i]);
            float rec[FACT_WORDS];
            pthread_mutex_lock(&P->cache_mu);
            /* a cache that fails to read is not fatal: the image is computed instead */
            int hit = ae_cache_get(P->p->cache, sl->keys[i], sl->emb + (size_t)i * P->dim, P->dim);
            int fhit = f ? ae_cache_get(P->p->cache, sl->fkeys[i], rec, FACT_WORDS) : 0;
            pthread_mutex_unlock(&P->cache_mu);
            if (fhit == 1 && facts_unpack(rec, f)) f->ok = 1, f->cached = 1;
            /* what was stored is checked again: a row that is not finite or is zero is
             * computed anew (and replaced), never scored */
            sl->hit[i] = hit == 1 && usable_embedding(sl->emb + (size_t)i * P->dim, P->dim);
        }
    }
    if (sl->hit[i] && (!f || f->ok)) {
        rc = AE_OK;
        goto out;
    }
    /* decode: for the embedding (pixels), the facts, or both */
    img_facts x;
    float *px = sl->hit[i] ? NULL : sl->pixels + (size_t)i * P->psz;
    rc = img_prepare_facts(P->pre, b->data ? (const void *)b->data : "", b->size, in, &P->p->image, px, NULL,
                           f && !f->ok ? &x : NULL);
    if (rc == AE_OK && f && !f->ok) facts_from(f, &x), sl->fnew[i] = P->p->cache != NULL;
    /* a cached embedding stands when only its facts cannot be had (e.g. a lower pixel limit
     * now): the photo is culled without them */
    if (rc != AE_OK && sl->hit[i]) rc = AE_OK;
out:
    if (rc != AE_OK) {
        const char *m = ae_last_error();
        snprintf(sl->msg[i], 512, "%s", m && *m ? m : ae_strerror(rc));
    }
    sl->rc[i] = rc;
    ae_buffer_free(&own);
    if (P->p->on_read) P->p->on_read(P->p->on_read_ctx);
    pthread_mutex_lock(&P->mu);
    if (++sl->finished == sl->k) pthread_cond_broadcast(&P->cv);
    pthread_mutex_unlock(&P->mu);
}

/* Claims and runs the slot's jobs until none is left (producers, the calling thread and the
 * session's threads all take them from the one counter). */
static void claim_jobs(pipe_t *P, slot *sl)
{
    for (;;) {
        int32_t i = atomic_fetch_add(&sl->next, 1);
        if (i >= P->B || i >= sl->k) return; /* B first: a slot being reopened has next = CLOSED */
        run_job(P, sl, i);
    }
}

/* Waits until batch b holds slot b % 2 and is opened, opening it if nobody has. Returns
 * NULL when the pipeline is quitting or batch b is finished already (a producer that fell
 * behind must not open it again). Called with the lock held. */
static slot *acquire(pipe_t *P, int32_t b)
{
    slot *sl = &P->slots[b % 2];
    for (;;) {
        if (P->quit || b < P->released) return NULL;
        if (sl->batch == b && sl->opened) return sl;
        if (sl->batch == -1) {
            sl->batch = b;
            sl->finished = 0;
            pthread_mutex_unlock(&P->mu);
            open_batch(P, sl, b);
            pthread_mutex_lock(&P->mu);
            sl->opened = 1;
            pthread_cond_broadcast(&P->cv);
            return sl;
        }
        pthread_cond_wait(&P->cv, &P->mu); /* the slot is busy with batch b - 2, or opening */
    }
}

static void *producer_main(void *arg)
{
    pipe_t *P = arg;
    for (int32_t b = 0; b < P->nbatch; b++) {
        pthread_mutex_lock(&P->mu);
        if (b < P->released) b = P->released; /* fell behind: skip what is done */
        slot *sl = b < P->nbatch ? acquire(P, b) : NULL;
        int quit = P->quit;
        pthread_mutex_unlock(&P->mu);
        if (quit) break;
        if (sl) claim_jobs(P, sl);
    }
    return NULL;
}

static void help_task(void *arg, int ith, int nth)
{
    (void)ith, (void)nth;
    void **a = arg;
    claim_jobs(a[0], a[1]);
}

static int slot_alloc(slot *sl, int32_t B, size_t psz, int32_t dim)
{
    memset(sl, 0, sizeof *sl);
    sl->batch = -1;
    atomic_init(&sl->next, CLOSED);
    sl->bufs = calloc((size_t)B, sizeof *sl->bufs);
    sl->rc = calloc((size_t)B, sizeof *sl->rc);
    sl->msg = calloc((size_t)B, sizeof *sl->msg);
    sl->hit = calloc((size_t)B, sizeof *sl->hit);
    sl->keys = calloc((size_t)B, sizeof *sl->keys);
    sl->fkeys = calloc((size_t)B, sizeof *sl->fkeys);
    sl->fnew = calloc((size_t)B, sizeof *sl->fnew);
    sl->src = calloc((size_t)B, sizeof *sl->src);
    sl->pixels = malloc(sizeof(float) * psz * (size_t)B);
    sl->emb = malloc(sizeof(float) * (size_t)dim * (size_t)B);
    return sl->bufs && sl->rc && sl->msg && sl->hit && sl->keys && sl->fkeys && sl->fnew && sl->src && sl->pixels && sl->emb
               ? AE_OK
               : AE_ERR_NOMEM;
}

static void slot_free(slot *sl)
{
    if (sl->bufs && sl->batch >= 0)
        for (int32_t i = 0; i < sl->k; i++) ae_buffer_free(&sl->bufs[i]);
    free(sl->bufs), free(sl->rc), free(sl->msg), free(sl->hit), free(sl->keys), free(sl->fkeys), free(sl->fnew), free(sl->src), free(sl->pixels), free(sl->emb);
}

/* Producer threads for a session of `threads` threads: one per core the session leaves free
 * (at most 8), p->producers if >= 0. With no core to spare (the default session takes them
 * all) there is none: a producer would only take cycles from the GEMMs (measured: a
 * SCHED_IDLE producer finds no idle cycles to fill, the pool's waits spin, and one at normal
 * priority preempts pool threads mid-part), so the batch is decoded between forward passes
 * on all the threads. */
static int producers_for(const ae_scorer_params *p, int threads)
{
    if (p->producers >= 0) return p->producers > 64 ? 64 : p->producers;
    long spare = sysconf(_SC_NPROCESSORS_ONLN) - threads;
    return spare < 1 ? 0 : spare > 8 ? 8 : (int)spare;
}

int32_t ae_score_inputs(ae_session *s, const ae_head *bank, const char *const *inputs, int32_t n,
                        const ae_scorer_params *params, ae_scored *out, float *embeds_out,
                        ae_scored_fn fn, void *ctx)
{
    ae_scorer_params defaults = ae_scorer_default_params();
    const ae_scorer_params *p = params ? params : &defaults;
    if (!s || n < 0 || (n > 0 && (!inputs || !out)))
        return ae_fail(AE_ERR_INVALID, "ae_score_inputs: invalid arguments");
    const ae_model *m = session_model(s);
    int rc = bank ? ae_head_check_model(bank, m) : AE_OK;
    if (rc != AE_OK) return rc;
    ae_model_info info;
    ae_model_get_info(m, &info);
    char opts[128];
    /* the options that change the pixels are part of the cache key; fast decode only when on,
     * so the keys of exact decoding stay those of earlier versions */
    snprintf(opts, sizeof opts, "exif=%d,edge=%d,crop=%dx%d%s", p->image.exif_rotate ? 1 : 0,
             info.resize_shortest_edge, info.crop_width, info.crop_height,
             p->image.fast_decode ? ",fast=1" : "");
    if (p->image.fast_decode && p->image.fast_decode_side > 0)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), ",fastside=%d", p->image.fast_decode_side);
    /* int8 and bf16 embeddings differ from fp32 ones: kept apart, fp32 keys unchanged */
    if (info.precision != AE_PRECISION_FP32)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), ",precision=%s", ae_precision_name(info.precision));

    pipe_t P;
    memset(&P, 0, sizeof P);
    P.inputs = inputs, P.n = n, P.p = p, P.pre = &m->pre;
    P.B = p->batch > 0 ? p->batch : 32;
    P.nbatch = (int32_t)(((int64_t)n + P.B - 1) / P.B);
    P.dim = info.embed_dim, P.psz = ae_model_pixels_size(m);
    /* the facts depend on the decoded pixels only: the decoding options, not the model's */
    char fopts[96];
    snprintf(fopts, sizeof fopts, "exif=%d%s", p->image.exif_rotate ? 1 : 0, p->image.fast_decode ? ",fast=1" : "");
    if (p->image.fast_decode)
        snprintf(fopts + strlen(fopts), sizeof fopts - strlen(fopts), ",fastside=%d",
                 p->image.fast_decode_side > 0 ? p->image.fast_decode_side : info.resize_shortest_edge);
    P.fingerprint = info.fingerprint, P.opts = opts, P.fopts = fopts;
    pthread_mutex_init(&P.mu, NULL);
    pthread_mutex_init(&P.cache_mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    const int32_t B = P.B, dim = P.dim;
    float *memb = malloc(sizeof(float) * (size_t)dim * (size_t)B);
    int32_t *miss = malloc(sizeof(int32_t) * (size_t)B);
    const char **keyp = malloc(sizeof(char *) * (size_t)B);
    float *frec = p->facts && p->cache ? malloc(sizeof(float) * FACT_WORDS * (size_t)B) : NULL;
    int32_t failed = 0;
    int nprod = 0, started = 0;
    pthread_t th[64];
    if (slot_alloc(&P.slots[0], B, P.psz, dim) != AE_OK || slot_alloc(&P.slots[1], B, P.psz, dim) != AE_OK ||
        !memb || !miss || !keyp || (p->facts && p->cache && !frec)) {
        failed = ae_fail(AE_ERR_NOMEM, "out of memory");
        goto done;
    }
    nprod = n > 0 ? producers_for(p, nn_pool_size(session_pool(s))) : 0;
    for (; started < nprod; started++)
        if (pthread_create(&th[started], NULL, producer_main, &P) != 0) break; /* fewer is fine */

    for (int32_t b = 0; b < P.nbatch; b++) {
        pthread_mutex_lock(&P.mu);
        slot *sl = acquire(&P, b);
        pthread_mutex_unlock(&P.mu);
        /* what the producers have not claimed yet, on this thread and the session's */
        void *ha[2] = {&P, sl};
        nn_pool_run(session_pool(s), help_task, ha);
        pthread_mutex_lock(&P.mu);
        while (sl->finished < sl->k) pthread_cond_wait(&P.cv, &P.mu); /* jobs still running */
        pthread_mutex_unlock(&P.mu);

        const int32_t base = sl->base, k = sl->k;
        ae_scored *r = out + base;
        int32_t nmiss = 0;
        for (int32_t i = 0; i < k; i++) {
            memset(&r[i], 0, sizeof r[i]);
            r[i].input = inputs[base + i] ? inputs[base + i] : "";
            r[i].score.class_index = -1;
            if (sl->rc[i] != AE_OK) set_error(&r[i], sl->rc[i], sl->msg[i]);
            else if (sl->hit[i]) r[i].cached = 1;
            else {
                if (nmiss != i) memcpy(sl->pixels + (size_t)nmiss * P.psz, sl->pixels + (size_t)i * P.psz, sizeof(float) * P.psz);
                miss[nmiss++] = i;
            }
        }
        rc = nmiss ? ae_encode_images(s, sl->pixels, nmiss, memb) : AE_OK;
        for (int32_t j = 0; j < nmiss; j++) {
            if (rc != AE_OK) {
                set_error(&r[miss[j]], rc, ae_last_error());
                continue;
            }
            memcpy(sl->emb + (size_t)miss[j] * dim, memb + (size_t)j * dim, sizeof(float) * (size_t)dim);
            keyp[j] = sl->keys[miss[j]];
        }
        if (rc == AE_OK && nmiss && p->cache) {
            pthread_mutex_lock(&P.cache_mu);
            ae_cache_put_many(p->cache, keyp, memb, nmiss, dim);
            pthread_mutex_unlock(&P.cache_mu);
        }
        /* new facts of this batch, in one transaction (of inputs whose embedding is kept) */
        if (p->cache && p->facts) {
            int32_t nf = 0;
            for (int32_t i = 0; i < k; i++)
                if (sl->fnew[i] && r[i].rc == AE_OK) {
                    facts_pack(&p->facts[base + i], frec + (size_t)nf * FACT_WORDS);
                    keyp[nf++] = sl->fkeys[i];
                }
            if (nf) {
                pthread_mutex_lock(&P.cache_mu);
                ae_cache_put_many(p->cache, keyp, frec, nf, FACT_WORDS);
                pthread_mutex_unlock(&P.cache_mu);
            }
        }
        for (int32_t i = 0; i < k; i++) {
            if (r[i].rc != AE_OK) {
                failed++;
                continue;
            }
            if (bank && (rc = ae_head_score(bank, sl->emb + (size_t)i * dim, 1, &r[i].score)) != AE_OK) {
                set_error(&r[i], rc, ae_last_error());
                failed++;
                continue;
            }
            if (embeds_out)
                memcpy(embeds_out + (size_t)(base + i) * dim, sl->emb + (size_t)i * dim, sizeof(float) * (size_t)dim);
        }
        /* the slot is free for batch b + 2 */
        for (int32_t i = 0; i < k; i++) ae_buffer_free(&sl->bufs[i]);
        pthread_mutex_lock(&P.mu);
        atomic_store(&sl->next, CLOSED);
        sl->batch = -1, sl->opened = 0;
        P.released = b + 1;
        pthread_cond_broadcast(&P.cv);
        pthread_mutex_unlock(&P.mu);
        if (fn) fn(ctx, out, base, k);
    }
done:
    pthread_mutex_lock(&P.mu);
    P.quit = 1;
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    slot_free(&P.slots[0]), slot_free(&P.slots[1]);
    free(memb), free(miss), free(keyp), free(frec);
    pthread_mutex_destroy(&P.mu), pthread_mutex_destroy(&P.cache_mu);
    pthread_cond_destroy(&P.cv);
    return failed;
}
