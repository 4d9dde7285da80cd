/*
 * wds.c — WebDataset tar shards through libarchive: brace lists, the index pass over the
 * headers, and the streaming reads behind ae_wds_source.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aesthete.h"
#include "error.h"
#include "wds.h"

#define MAX_KEPT (1 << 20)
#define MAX_NAMES 10000000L

int ae_wds_is_tar(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcasecmp(name + n - 4, ".tar");
}

/* ---- braces ---- */

typedef struct expander {
    int (*fn)(void *, const char *);
    void *ctx;
    long count;
} expander;

/* the matching '}' of the '{' at p, or NULL */
static const char *closing(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) return p;
    }
    return NULL;
}

static int expand_rec(expander *x, const char *pat);

/* pat with the group [open, close] replaced by alt (len bytes) */
static int expand_with(expander *x, const char *pat, const char *open, const char *close, const char *alt, size_t len)
{
    size_t head = (size_t)(open - pat), tail = strlen(close + 1);
    char *s = malloc(head + len + tail + 1);
    if (!s) return ae_fail(AE_ERR_NOMEM, "out of memory");
    memcpy(s, pat, head), memcpy(s + head, alt, len), memcpy(s + head + len, close + 1, tail + 1);
    int rc = expand_rec(x, s);
    free(s);
    return rc;
}

static int expand_rec(expander *x, const char *pat)
{
    const char *open = strchr(pat, '{');
    if (!open) {
        if (strchr(pat, '}')) return ae_fail(AE_ERR_INVALID, "%s: a '}' without its '{'", pat);
        if (++x->count > MAX_NAMES) return ae_fail(AE_ERR_INVALID, "%s: expands to more than %ld names", pat, MAX_NAMES);
        return x->fn(x->ctx, pat);
    }
    const char *close = closing(open);
    if (!close) return ae_fail(AE_ERR_INVALID, "%s: a '{' without its '}'", pat);
    const char *body = open + 1;
    size_t blen = (size_t)(close - body);
    /* {A..B}: a numeric range, zero padded to the width of A when A starts with 0 */
    char a[24], b[24];
    const char *dots = memmem(body, blen, "..", 2);
    if (dots && !memchr(body, ',', blen) && (size_t)(dots - body) < sizeof a && blen - (size_t)(dots - body) - 2 < sizeof b) {
        size_t la = (size_t)(dots - body), lb = blen - la - 2;
        memcpy(a, body, la), a[la] = 0, memcpy(b, dots + 2, lb), b[lb] = 0;
        char *ea, *eb;
        long long lo = strtoll(a, &ea, 10), hi = strtoll(b, &eb, 10);
        if (la && lb && !*ea && !*eb) {
            int width = a[0] == '0' || (a[0] == '-' && a[1] == '0') ? (int)la : 0;
            long long step = lo <= hi ? 1 : -1;
            if ((hi - lo) * step >= MAX_NAMES) return ae_fail(AE_ERR_INVALID, "%s: expands to more than %ld names", pat, MAX_NAMES);
            for (long long v = lo;; v += step) {
                char num[32];
                int len = snprintf(num, sizeof num, "%0*lld", width, v);
                int rc = expand_with(x, pat, open, close, num, (size_t)len);
                if (rc) return rc;
                if (v == hi) break;
            }
            return 0;
        }
    }
    /* {x,y,z} at this level (commas inside nested groups do not split) */
    int depth = 0, any = 0;
    const char *start = body;
    for (const char *p = body; p <= close; p++) {
        if (p < close && *p == '{') depth++;
        else if (p < close && *p == '}') depth--;
        else if (p == close || (*p == ',' && depth == 0)) {
            if (p == close && !any) break; /* no comma: a literal group, as the shell keeps it */
            int rc = expand_with(x, pat, open, close, start, (size_t)(p - start));
            if (rc) return rc;
            start = p + 1, any = 1;
        }
    }
    if (any) return 0;
    return ae_fail(AE_ERR_INVALID, "%s: '{%.*s}' is neither a range {A..B} nor a list {a,b}", pat, (int)blen, body);
}

int ae_wds_expand(const char *pattern, int (*fn)(void *ctx, const char *name), void *ctx)
{
    expander x = {fn, ctx, 0};
    return expand_rec(&x, pattern);
}

/* ---- the index pass ---- */

static const char *IMAGE_EXT[] = {"jpg", "jpeg", "png", "webp", "gif", "bmp", "heic", "heif", "avif"};

/* 1 if the last extension of a field ("jpg", "2021.jpg", "input.png") is an image's */
static int is_image_field(const char *field)
{
    const char *last = strrchr(field, '.');
    last = last ? last + 1 : field;
    for (size_t i = 0; i < sizeof IMAGE_EXT / sizeof *IMAGE_EXT; i++)
        if (!strcasecmp(last, IMAGE_EXT[i])) return 1;
    return 0;
}

/* the field of a member name: after the first dot of its file name ("" without one) */
static const char *field_of(const char *name)
{
    const char *base = strrchr(name, '/');
    const char *dot = strchr(base ? base + 1 : name, '.');
    return dot ? dot + 1 : "";
}

typedef struct member {
    char *name;
    const char *field; /* into name */
    int64_t ordinal, size;
    char *data;        /* kept members only */
    int link;          /* a hard or symbolic link: no bytes of its own */
} member;

typedef struct indexer {
    ae_wds_shard *sh;
    int32_t cap;
    const char *const *keep;
    int32_t n_keep;
    /* the run of the current key */
    char *key;
    member *m;
    int32_t nm, capm;
    int rc;            /* AE_OK, or out of memory */
} indexer;

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

static ae_wds_sample *new_sample(indexer *x)
{
    ae_wds_shard *sh = x->sh;
    if (sh->n == x->cap) {
        int32_t cap = x->cap ? x->cap * 2 : 64;
        ae_wds_sample *p = realloc(sh->samples, sizeof *p * (size_t)cap);
        if (!p) return NULL;
        sh->samples = p, x->cap = cap;
    }
    ae_wds_sample *s = &sh->samples[sh->n++];
    memset(s, 0, sizeof *s);
    return s;
}

/* a row of the shard itself */
static void shard_error(indexer *x, char *msg)
{
    ae_wds_sample *s = msg ? new_sample(x) : NULL;
    if (!s || !(s->input = strdup(x->sh->path))) {
        free(msg);
        x->rc = AE_ERR_NOMEM;
        return;
    }
    s->error = msg;
}

static int wanted(const indexer *x, const char *field)
{
    for (int32_t i = 0; i < x->n_keep; i++)
        if (!strcmp(x->keep[i], field)) return 1;
    return 0;
}

/* The members' names, "a.jpg, a.json" (at most ~400 bytes). */
static void member_list(const indexer *x, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int32_t i = 0; i < x->nm && len + 8 < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s'%s'", i ? ", " : "", x->m[i].name);
        if (w < 0 || (size_t)w >= cap - len) {
            snprintf(buf + (len < cap - 5 ? len : cap - 5), 5, "...");
            break;
        }
        len += (size_t)w;
    }
}

/* Ends the run of the current key: one sample. */
static void finish_run(indexer *x)
{
    if (!x->key) return;
    ae_wds_sample *s = new_sample(x);
    if (!s) {
        x->rc = AE_ERR_NOMEM;
        goto out;
    }
    s->key = x->key, x->key = NULL;
    const char *path = x->sh->path;
    s->input = dupf("%s#%s", path, s->key);
    char list[420];
    member_list(x, list, sizeof list);
    int32_t first = -1, images = 0, dotted = 0;
    for (int32_t i = 0; i < x->nm; i++) {
        for (int32_t j = 0; j < i; j++)
            if (!strcmp(x->m[i].field, x->m[j].field) && !s->error)
                s->error = dupf("%s: duplicate key '%s': member '%s' appears twice", path, s->key, x->m[i].name);
        if (is_image_field(x->m[i].field)) {
            images++, dotted |= strchr(x->m[i].field, '.') != NULL;
            if (first < 0) first = i;
        }
    }
    for (int32_t i = 0; i < x->nm && !s->error; i++)
        if (x->m[i].size < 0) s->error = dupf("%s: member '%s' has no valid size in its header", path, x->m[i].name);
    for (int32_t i = 0; i < x->nm && !s->error; i++)
        if (x->m[i].link) s->error = dupf("%s: member '%s' is a link, which a shard cannot hold", path, x->m[i].name);
    if (!s->error && !*s->key)
        s->error = dupf("%s: member '%s' has no key (its file name starts with a dot)", path, x->m[0].name);
    if (!s->error && images > 1 && dotted)
        s->error = dupf("%s: key '%s' has several images (%s): a key ends at the first dot of a file name, so names with "
                        "dots in the key collide",
                        path, s->key, list);
    if (!s->error && first < 0) s->error = dupf("%s: sample '%s' has no image member (%s)", path, s->key, list);
    if (first >= 0) {
        s->image = strdup(x->m[first].name);
        s->member = x->m[first].ordinal, s->image_size = x->m[first].size;
    }
    for (int32_t i = 0; i < x->nm; i++) {
        if (!x->m[i].data) continue;
        ae_wds_kept *k = realloc(s->kept, sizeof *k * (size_t)(s->n_kept + 1));
        if (!k) {
            x->rc = AE_ERR_NOMEM;
            break;
        }
        s->kept = k;
        k += s->n_kept++;
        snprintf(k->field, sizeof k->field, "%s", x->m[i].field);
        k->data = x->m[i].data, k->size = (size_t)x->m[i].size, x->m[i].data = NULL;
    }
    s->members = strdup(list);
    if (!s->input || !s->members || (first >= 0 && !s->image)) x->rc = AE_ERR_NOMEM;
out:
    for (int32_t i = 0; i < x->nm; i++) free(x->m[i].name), free(x->m[i].data);
    x->nm = 0;
    free(x->key);
    x->key = NULL;
}

static int cmp_sample_key(const void *a, const void *b, void *arg)
{
    const ae_wds_sample *S = arg;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    int c = strcmp(S[i].key, S[j].key);
    return c ? c : (i > j) - (i < j);
}

/* A key whose run comes back after other keys: the later runs fail (the first stands). */
static void check_repeats(indexer *x)
{
    ae_wds_shard *sh = x->sh;
    int32_t *ix = malloc(sizeof *ix * (size_t)(sh->n ? sh->n : 1)), k = 0;
    if (!ix) {
        x->rc = AE_ERR_NOMEM;
        return;
    }
    for (int32_t i = 0; i < sh->n; i++)
        if (sh->samples[i].key) ix[k++] = i;
    qsort_r(ix, (size_t)k, sizeof *ix, cmp_sample_key, sh->samples);
    for (int32_t a = 1; a < k; a++) {
        ae_wds_sample *s = &sh->samples[ix[a]];
        const ae_wds_sample *first = &sh->samples[ix[a - 1]];
        if (strcmp(s->key, first->key)) continue;
        /* the same image field again is a duplicate key; other fields are a key's members
         * scattered through the shard */
        int dup = s->image && first->image && !strcmp(field_of(s->image), field_of(first->image));
        char *msg = dup ? dupf("%s: duplicate key '%s' (member '%s' again after other keys)", sh->path, s->key, s->image)
                        : dupf("%s: members of '%s' are not adjacent (%s after other keys): members out of order",
                               sh->path, s->key, s->members);
        if (!msg) {
            x->rc = AE_ERR_NOMEM;
            break;
        }
        free(s->error);
        s->error = msg;
    }
    free(ix);
}

/* Reads the data of the current entry (size bytes, <= MAX_KEPT) into a new string. */
static char *read_data(struct archive *a, int64_t size)
{
    char *d = malloc((size_t)size + 1);
    if (!d) return NULL;
    int64_t got = 0;
    while (got < size) {
        la_ssize_t k = archive_read_data(a, d + got, (size_t)(size - got));
        if (k <= 0) break;
        got += k;
    }
    if (got != size) {
        free(d);
        return NULL;
    }
    d[size] = 0;
    return d;
}

static void index_members(indexer *x, struct archive *a)
{
    const char *path = x->sh->path;
    struct archive_entry *e;
    int64_t ordinal = -1, regular = 0;
    char last[512] = "";
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) { /* ARCHIVE_FAILED or FATAL: nothing further can be read */
            finish_run(x);
            const char *why = archive_error_string(a);
            if (ordinal < 0)
                shard_error(x, dupf("%s: not a tar shard (%s)", path, why ? why : "unreadable"));
            else
                shard_error(x, dupf("%s: truncated or corrupt tar after member '%s' (%s): the samples before it are kept",
                                    path, last, why ? why : "read error"));
            return;
        }
        ordinal++;
        const char *name = archive_entry_pathname(e);
        snprintf(last, sizeof last, "%s", name ? name : "?");
        if (!name || archive_entry_filetype(e) == AE_IFDIR) continue;
        int link = archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e);
        regular++;
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        const char *dot = strchr(base, '.');
        size_t klen = dot ? (size_t)(dot - name) : strlen(name);
        if (!x->key || strlen(x->key) != klen || strncmp(x->key, name, klen)) {
            finish_run(x);
            if (x->rc) return;
            if (!(x->key = strndup(name, klen))) {
                x->rc = AE_ERR_NOMEM;
                return;
            }
        }
        if (x->nm == x->capm) {
            int32_t cap = x->capm ? x->capm * 2 : 8;
            member *p = realloc(x->m, sizeof *p * (size_t)cap);
            if (!p) {
                x->rc = AE_ERR_NOMEM;
                return;
            }
            x->m = p, x->capm = cap;
        }
        member *m = &x->m[x->nm];
        memset(m, 0, sizeof *m);
        if (!(m->name = strdup(name))) {
            x->rc = AE_ERR_NOMEM;
            return;
        }
        x->nm++;
        m->field = dot ? m->name + (dot - name) + 1 : m->name + strlen(m->name);
        m->ordinal = ordinal, m->size = archive_entry_size(e), m->link = link;
        if (!link && wanted(x, m->field)) {
            if (m->size < 0 || m->size > MAX_KEPT) {
                /* the sample fails: its metadata cannot be carried whole */
                finish_run(x);
                ae_wds_sample *s = x->sh->n ? &x->sh->samples[x->sh->n - 1] : NULL;
                if (s && !s->error) s->error = dupf("%s: member '%s' to keep is %lld bytes, over the limit of %d", path, name,
                                                    (long long)m->size, MAX_KEPT);
                continue;
            }
            if (!(m->data = read_data(a, m->size))) {
                finish_run(x);
                const char *why = archive_error_string(a);
                shard_error(x, dupf("%s: truncated or corrupt tar in member '%s' (%s): the samples before it are kept", path,
                                    name, why ? why : "short read"));
                return;
            }
        }
    }
    finish_run(x);
    if (regular == 0 && x->rc == AE_OK)
        shard_error(x, dupf("%s: an empty tar shard (%s)", path, ordinal < 0 ? "no members" : "no files, only folders"));
}

int ae_wds_index(const char *path, const char *const *keep, int32_t n_keep, ae_wds_shard *out)
{
    memset(out, 0, sizeof *out);
    indexer x = {out, 0, keep, n_keep, NULL, NULL, 0, 0, AE_OK};
    if (!(out->path = strdup(path))) return ae_fail(AE_ERR_NOMEM, "out of memory");
    struct archive *a = archive_read_new();
    if (!a) return ae_fail(AE_ERR_NOMEM, "out of memory");
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        const char *why = archive_error_string(a);
        int missing = archive_errno(a) == ENOENT;
        shard_error(&x, missing ? dupf("%s: %s", path, strerror(ENOENT))
                                : dupf("%s: not a tar shard (%s)", path, why && *why ? why : strerror(errno)));
    } else {
        index_members(&x, a);
    }
    archive_read_free(a);
    if (x.rc == AE_OK) check_repeats(&x);
    finish_run(&x); /* frees a run cut short by an error */
    free(x.m);
    if (x.rc != AE_OK) {
        ae_wds_shard_free(out);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    return AE_OK;
}

void ae_wds_shard_free(ae_wds_shard *sh)
{
    for (int32_t i = 0; i < sh->n; i++) {
        ae_wds_sample *s = &sh->samples[i];
        free(s->key), free(s->input), free(s->image), free(s->error), free(s->members);
        for (int32_t k = 0; k < s->n_kept; k++) free(s->kept[k].data);
        free(s->kept);
    }
    free(sh->samples);
    free(sh->path);
    memset(sh, 0, sizeof *sh);
}

/* ---- the feed ---- */

struct ae_wds_feed {
    ae_wds_shard *shards;
    int32_t n_shards;
    int32_t n;
    char **inputs;          /* (n) owned copies of the non-shard items; samples point in */
    int32_t *shard_of, *sample_of; /* (n) -1: not a sample */
    int64_t max_bytes;
    /* the stream being read */
    struct archive *a;
    int32_t open_shard;
    int64_t ordinal;        /* of the entry whose header was read last */
    char broken[400];       /* non-empty: the open shard cannot be read further */
};

int ae_wds_feed_new(const char *const *items, int32_t n, const char *const *keep, int32_t n_keep, int64_t max_bytes,
                    ae_wds_feed **out)
{
    ae_wds_feed *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f) return ae_fail(AE_ERR_NOMEM, "out of memory");
    f->open_shard = -1, f->max_bytes = max_bytes;
    int32_t ns = 0;
    for (int32_t i = 0; i < n; i++) ns += ae_wds_is_tar(items[i]);
    int64_t total = 0;
    int rc = AE_OK;
    if (ns && !(f->shards = calloc((size_t)ns, sizeof *f->shards))) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; rc == AE_OK && i < n; i++) {
        if (!ae_wds_is_tar(items[i])) {
            total++;
            continue;
        }
        rc = ae_wds_index(items[i], keep, n_keep, &f->shards[f->n_shards]);
        if (rc == AE_OK) total += f->shards[f->n_shards++].n;
    }
    if (rc == AE_OK && total > INT32_MAX) rc = ae_fail(AE_ERR_TOO_LARGE, "more than 2^31 inputs");
    if (rc == AE_OK) {
        f->n = (int32_t)total;
        f->inputs = calloc((size_t)(total ? total : 1), sizeof *f->inputs);
        f->shard_of = malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
        f->sample_of = malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
        if (!f->inputs || !f->shard_of || !f->sample_of) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0, k = 0, s = 0; rc == AE_OK && i < n; i++) {
        if (!ae_wds_is_tar(items[i])) {
            f->shard_of[k] = f->sample_of[k] = -1;
            if (!(f->inputs[k++] = strdup(items[i]))) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
            continue;
        }
        for (int32_t j = 0; j < f->shards[s].n; j++, k++)
            f->inputs[k] = f->shards[s].samples[j].input, f->shard_of[k] = s, f->sample_of[k] = j;
        s++;
    }
    if (rc != AE_OK) {
        ae_wds_feed_free(f);
        return rc;
    }
    *out = f;
    return AE_OK;
}

void ae_wds_feed_free(ae_wds_feed *f)
{
    if (!f) return;
    if (f->a) archive_read_free(f->a);
    for (int32_t i = 0; f->inputs && i < f->n; i++)
        if (f->shard_of[i] < 0) free(f->inputs[i]);
    for (int32_t s = 0; s < f->n_shards; s++) ae_wds_shard_free(&f->shards[s]);
    free(f->shards), free(f->inputs), free(f->shard_of), free(f->sample_of);
    free(f);
}

int32_t ae_wds_feed_count(const ae_wds_feed *f) { return f->n; }
const char *const *ae_wds_feed_inputs(const ae_wds_feed *f) { return (const char *const *)f->inputs; }

const ae_wds_sample *ae_wds_feed_sample(const ae_wds_feed *f, int32_t i)
{
    return i >= 0 && i < f->n && f->shard_of[i] >= 0 ? &f->shards[f->shard_of[i]].samples[f->sample_of[i]] : NULL;
}

const ae_wds_shard *ae_wds_feed_shard(const ae_wds_feed *f, int32_t i)
{
    return i >= 0 && i < f->n && f->shard_of[i] >= 0 ? &f->shards[f->shard_of[i]] : NULL;
}

static int open_stream(ae_wds_feed *f, int32_t s)
{
    if (f->a) archive_read_free(f->a);
    f->a = archive_read_new();
    f->open_shard = s, f->ordinal = -1, f->broken[0] = 0;
    if (!f->a) return snprintf(f->broken, sizeof f->broken, "out of memory"), -1;
    archive_read_support_format_tar(f->a);
    if (archive_read_open_filename(f->a, f->shards[s].path, 1 << 16) != ARCHIVE_OK) {
        const char *why = archive_error_string(f->a);
        snprintf(f->broken, sizeof f->broken, "%s: %s", f->shards[s].path, why ? why : "cannot be opened");
        return -1;
    }
    return 0;
}

int ae_wds_source(void *ctx, int32_t i, const char *input, ae_buffer *body, char *err, size_t cap)
{
    ae_wds_feed *f = ctx;
    const ae_wds_sample *s = ae_wds_feed_sample(f, i);
    if (!s) return 0; /* a file or URL: the pipeline reads it */
    if (s->error) return snprintf(err, cap, "%s", s->error), -1;
    const char *path = f->shards[f->shard_of[i]].path;
    /* samples come in order: the stream only moves on; a step back (never in one pass over
     * a feed) reopens the shard */
    if (f->open_shard != f->shard_of[i] || f->ordinal >= s->member) open_stream(f, f->shard_of[i]);
    if (f->broken[0]) return snprintf(err, cap, "%s: %s: %s", path, s->image, f->broken), -1;
    struct archive_entry *e;
    while (f->ordinal < s->member) {
        int r = archive_read_next_header(f->a, &e);
        if (r == ARCHIVE_EOF || r < ARCHIVE_WARN) {
            const char *why = r == ARCHIVE_EOF ? "the tar ended" : archive_error_string(f->a);
            snprintf(f->broken, sizeof f->broken, "unreadable (%s)", why ? why : "read error");
            return snprintf(err, cap, "%s: %s: %s", path, s->image, f->broken), -1;
        }
        f->ordinal++;
    }
    if (s->image_size < 0 || s->image_size > f->max_bytes)
        return snprintf(err, cap, "%s: %s: %lld bytes exceeds the limit of %lld", path, s->image, (long long)s->image_size,
                        (long long)f->max_bytes),
               -1;
    memset(body, 0, sizeof *body);
    if (!(body->data = malloc((size_t)s->image_size + 1))) return snprintf(err, cap, "%s: out of memory", s->input), -1;
    int64_t got = 0;
    while (got < s->image_size) {
        la_ssize_t k = archive_read_data(f->a, body->data + got, (size_t)(s->image_size - got));
        if (k <= 0) {
            const char *why = k < 0 ? archive_error_string(f->a) : NULL;
            snprintf(f->broken, sizeof f->broken, "unreadable after a cut member");
            ae_buffer_free(body);
            return snprintf(err, cap, "%s: %s: truncated member (%lld of %lld bytes: %s)", path, s->image, (long long)got,
                            (long long)s->image_size, why ? why : "the tar ends early"),
                   -1;
        }
        got += k;
    }
    body->size = body->cap = (size_t)s->image_size;
    return 1;
}
