/*
 * pipeline.h — scoring many images end to end: read files or download URLs, look each one up
 * in the embedding cache by the hash of its bytes (only when a cache is given), decode and
 * encode only the misses in batches (decoding the next batch while the current one is
 * encoded), store them, and score everything with a bank.
 * One bad input never stops the others; results come back per input, in input order.
 */
#ifndef AE_APP_PIPELINE_H
#define AE_APP_PIPELINE_H

#include <stdint.h>

#include "aesthete.h"
#include "cache.h"
#include "fetch.h"

/* What cull needs to know of a photo besides its embedding, from the one decode that the
 * embedding needs (kept in the cache beside it, so a cached photo is not decoded again). */
typedef struct ae_photo_facts {
    int32_t ok;                   /* 1: the fields below are known */
    int32_t cached;               /* 1: they came from the cache */
    uint8_t bytes_hash[32];       /* SHA-256 of the file's bytes */
    uint64_t pixel_hash[2];       /* of the decoded pixels and their EXIF orientation */
    ae_quality quality;
    ae_capture capture;
    int32_t width, height;        /* as displayed */
    int64_t file_bytes;
} ae_photo_facts;

typedef struct ae_scorer_params {
    ae_image_params image;        /* EXIF rotation, pixel limit */
    ae_fetch_params fetch;        /* limits for URL inputs */
    ae_cache *cache;              /* NULL: no cache */
    int32_t batch;                /* images decoded and encoded per batch (default 16) */
    int64_t max_file_bytes;       /* refuse local files over this size (default 1 GiB) */
    ae_photo_facts *facts;        /* NULL, or one per input receiving its facts (a cached
                                     embedding whose facts are not cached yet is decoded
                                     once more for them) */
    int32_t producers;            /* threads decoding ahead of the forward pass: -1 (default)
                                     one per core the session leaves free, or one at idle
                                     priority when none is; 0 decode between forward passes */
    void (*on_read)(void *ctx);   /* NULL, or called from any thread as each input has been
                                     read and decoded (or has failed), before its batch is
                                     encoded: for a progress display that moves from the
                                     first image */
    void *on_read_ctx;
    /* NULL, or where inputs' bytes come from instead of files and URLs (WebDataset samples:
     * ae_wds_source). Called for each input of a batch as the batch is opened, batches in
     * input order, one call at a time: 1 with *body filled (the pipeline frees it), 0 to
     * read the input as a file or URL, -1 with a one-line message in err (a failed input). */
    int (*source)(void *ctx, int32_t index, const char *input, ae_buffer *body, char *err, size_t cap);
    void *source_ctx;
} ae_scorer_params;

ae_scorer_params ae_scorer_default_params(void);

typedef struct ae_scored {
    const char *input;            /* the caller's string */
    int32_t rc;                   /* AE_OK or the AE_ERR_* of this input */
    char error[512];              /* one line naming the input and the cause, or "" */
    ae_score score;
    int32_t cached;               /* 1 if the embedding came from the cache */
} ae_scored;

/* Called after each batch with the finished rows [first, first + n) (for streaming output
 * and progress). */
typedef void (*ae_scored_fn)(void *ctx, const ae_scored *rows, int32_t first, int32_t n);

/* Scores n inputs (paths or http(s) URLs) into out[n]. embeds (may be NULL): n * dim floats
 * receiving each input's image embedding. bank NULL: embeddings only (`embed`; the rows'
 * scores stay zero). Returns the number of failed inputs, or a negative
 * AE_ERR_* if nothing could be done (bad arguments, a bank of another model). */
int32_t ae_score_inputs(ae_session *s, const ae_head *bank, const char *const *inputs, int32_t n,
                        const ae_scorer_params *params, ae_scored *out, float *embeds,
                        ae_scored_fn fn, void *ctx);

#endif
