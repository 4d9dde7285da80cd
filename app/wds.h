/*
 * wds.h — WebDataset input: tar shards read as streams with libarchive, never extracted.
 *
 * A sample is the run of adjacent members sharing a key (the member's path up to the first
 * dot of its file name: "a/000123.jpg" and "a/000123.json" are sample "a/000123", fields
 * "jpg" and "json"); its image is the first member whose last extension is an image's (jpg,
 * jpeg, png, webp, gif, bmp, heic, heif, avif). A shard is read twice: once over its headers
 * (data skipped, except the small members kept for the metadata), which finds the samples
 * and every problem of the layout; once more when scoring, member after member.
 *
 * Nothing is skipped silently: a sample with a problem is a row with an error (no image
 * member, the same key twice, members of a key not adjacent, several images under a key with
 * dots), and so is a shard that cannot be read at all (not a tar, empty, missing) or that
 * ends early (a truncated or corrupt tar: the samples before the damage are still scored).
 */
#ifndef AE_APP_WDS_H
#define AE_APP_WDS_H

#include <stddef.h>
#include <stdint.h>

#include "fetch.h"

/* 1 if the name ends with ".tar" (any case): an argument that is a shard. */
int ae_wds_is_tar(const char *name);

/* Expands shell-style braces: "data/{00000..00099}.tar" (numeric ranges keep the zero
 * padding of their first bound), "{a,b,c}", several groups. Calls fn for each name, in order;
 * stops at fn's first non-zero return and returns it. A pattern with unbalanced braces or
 * more than 10,000,000 names: AE_ERR_INVALID with a one-line ae_last_error(). */
int ae_wds_expand(const char *pattern, int (*fn)(void *ctx, const char *name), void *ctx);

typedef struct ae_wds_kept {
    char field[32]; /* the extension: "json", "txt" */
    char *data;     /* the member's bytes, NUL-terminated */
    size_t size;
} ae_wds_kept;

typedef struct ae_wds_sample {
    char *key;          /* NULL: a row of the shard itself (unreadable, empty, truncated) */
    char *input;        /* "SHARD#KEY" (or the shard's path): the row's name */
    char *image;        /* the image member's name, NULL when the sample has none */
    int64_t member;     /* its ordinal among the tar's entries */
    int64_t image_size;
    char *members;      /* its members' names, quoted, for messages */
    char *error;        /* non-NULL: the sample fails with this one-line message */
    int32_t n_kept;
    ae_wds_kept *kept;  /* the members of the fields asked to keep, in tar order */
} ae_wds_sample;

typedef struct ae_wds_shard {
    char *path;
    int32_t n;
    ae_wds_sample *samples;
} ae_wds_shard;

/* Lists the samples of the tar at path (the first pass). keep: NULL or the fields to carry
 * ("json", "txt"), n_keep of them; a kept member over 1 MiB fails its sample. Problems of
 * the shard become samples with errors: the call fails only out of memory. */
int ae_wds_index(const char *path, const char *const *keep, int32_t n_keep, ae_wds_shard *out);
void ae_wds_shard_free(ae_wds_shard *sh);

/* ---- a feed: inputs in which some items are shards, for ae_score_inputs ---- */
typedef struct ae_wds_feed ae_wds_feed;

/* Replaces every shard of items[n] (ae_wds_is_tar) by its samples, in order. Caller frees
 * with ae_wds_feed_free. max_bytes: refuse members over this size. */
int ae_wds_feed_new(const char *const *items, int32_t n, const char *const *keep, int32_t n_keep,
                    int64_t max_bytes, ae_wds_feed **out);
void ae_wds_feed_free(ae_wds_feed *f);
/* The flattened inputs ("SHARD#KEY" for samples, the others as given), valid until freed. */
int32_t ae_wds_feed_count(const ae_wds_feed *f);
const char *const *ae_wds_feed_inputs(const ae_wds_feed *f);
/* The sample of input i, NULL when it is no shard's. */
const ae_wds_sample *ae_wds_feed_sample(const ae_wds_feed *f, int32_t i);
/* The shard of input i (NULL when none) and its number among the items' shards. */
const ae_wds_shard *ae_wds_feed_shard(const ae_wds_feed *f, int32_t i);
/* An ae_scorer_params.source for the feed (ctx = the feed): the bytes of a sample's image
 * member, read on from where the last call stopped. */
int ae_wds_source(void *ctx, int32_t i, const char *input, ae_buffer *body, char *err, size_t cap);

#endif
