/*
 * ratings.c — AVA.txt, id lists and CSV/TSV rating or label files into (key, value) lists
 * (ratings.h). Each reader walks its input once: AVA.txt and id lists line by line with
 * their own small tokenizers (whitespace-separated integers; one entry a line), CSV through
 * app/csv.h. Keys go into one text block per list with an open-addressing hash index over
 * them (FNV-1a with a final mix, linear probing, load <= 1/2), which finds repeats while reading and serves
 * ae_ratings_find afterwards. A bad line's message is formatted once into a local buffer, so
 * that strict mode's error and skip mode's first_skip are the same text.
 */
#define _GNU_SOURCE
#include "ratings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "error.h"
#include "utf8.h"
#include "fileio.h"

/* ---- keys: one text block and a hash index ------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    /* FNV's low bits depend on the low bits of the bytes only (digits: 4 bits each), and the
     * index masks the low bits: fold the high half in (MurmurHash3's finaliser) */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* A slot: the low 32 bits of the key's hash (which place it: cap <= 2^32) above entry + 1;
 * 0 = empty. Probes compare hashes first and touch the key text only when they match, so an
 * insert costs about one cache miss. */
#define SLOT(h, e) ((uint64_t)(h) << 32 | (uint32_t)((e) + 1))
#define SLOT_ENTRY(s) ((int32_t)(uint32_t)(s) - 1)

/* The slot holding key s[0..n) (*found = its entry) or the empty slot where it would go
 * (*found = -1). Keys never hold a NUL byte, so strncmp + the terminator test is exact. */
static size_t ix_slot(const ae_keyindex *ix, const char *s, size_t n, uint32_t h32,
                      int32_t *found)
{
    size_t m = ix->cap - 1, i = h32 & m;
    for (;; i = (i + 1) & m) {
        uint64_t sl = ix->slots[i];
        if (!sl) break;
        if ((uint32_t)(sl >> 32) != h32) continue;
        const char *k = ix->text + ix->off[SLOT_ENTRY(sl)];
        if (!strncmp(k, s, n) && !k[n]) {
            *found = SLOT_ENTRY(sl);
            return i;
        }
    }
    *found = -1;
    return i;
}

static int32_t ix_find(const ae_keyindex *ix, const char *s, size_t n)
{
    int32_t f = -1;
    if (ix->cap) ix_slot(ix, s, n, (uint32_t)hash_bytes(s, n), &f);
    return f;
}

/* Rebuilds the slots of entries 0..n-1 from their text (after entries moved). */
static void ix_rehash(ae_keyindex *ix, int32_t n)
{
    memset(ix->slots, 0, ix->cap * sizeof *ix->slots);
    for (int32_t i = 0; i < n; i++) {
        const char *k = ix->text + ix->off[i];
        size_t len = strlen(k);
        uint32_t h32 = (uint32_t)hash_bytes(k, len);
        int32_t f;
        ix->slots[ix_slot(ix, k, len, h32, &f)] = SLOT(h32, i);
    }
}

/* Adds s[0..len) as entry n (the caller's count), unless an entry has it: then *dup is that
 * entry and nothing is added (*dup = -1 otherwise). */
static int ix_add(ae_keyindex *ix, int32_t n, const char *s, size_t len, int32_t *dup,
                  const char *name)
{
    *dup = -1;
    if (n >= INT32_MAX - 1)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: more than %d entries", name, INT32_MAX - 1);
    if ((size_t)n + 1 > ix->cap / 2) { /* grow: move the slots by their stored hashes */
        size_t nc = ix->cap ? ix->cap * 2 : 1024, m = nc - 1;
        uint64_t *sl = calloc(nc, sizeof *sl);
        if (!sl) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        for (size_t i = 0; i < ix->cap; i++) {
            uint64_t v = ix->slots[i];
            if (!v) continue;
            size_t j = (uint32_t)(v >> 32) & m;
            while (sl[j]) j = (j + 1) & m;
            sl[j] = v;
        }
        free(ix->slots);
        ix->slots = sl;
        ix->cap = nc;
    }
    uint32_t h32 = (uint32_t)hash_bytes(s, len);
    size_t h = ix_slot(ix, s, len, h32, dup);
    if (*dup >= 0) return AE_OK;
    if ((size_t)n == ix->ocap) {
        size_t nc = ix->ocap ? ix->ocap * 2 : 1024;
        size_t *o = realloc(ix->off, nc * sizeof *o);
        if (!o) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        ix->off = o;
        ix->ocap = nc;
    }
    if (ix->tcap - ix->tlen < len + 1) {
        size_t nc = ix->tcap ? ix->tcap : 16384;
        while (nc - ix->tlen < len + 1) nc *= 2;
        char *t = realloc(ix->text, nc);
        if (!t) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        ix->text = t;
        ix->tcap = nc;
    }
    ix->off[n] = ix->tlen;
    memcpy(ix->text + ix->tlen, s, len);
    ix->text[ix->tlen + len] = 0;
    ix->tlen += len + 1;
    ix->slots[h] = SLOT(h32, n);
    return AE_OK;
}

static void ix_free(ae_keyindex *ix)
{
    free(ix->text);
    free(ix->off);
    free(ix->slots);
    memset(ix, 0, sizeof *ix);
}

/* A list being read: the index plus the entries' values. */
typedef struct build {
    const char *name;
    ae_keyindex ix;
    ae_rating *v;
    int32_t n;
    size_t vcap;
} build;

/* Appends an entry for key s[0..len); *dup as ix_add. */
static int build_add(build *b, const char *s, size_t len, double value, int64_t votes,
                     int64_t line, int32_t *dup)
{
    if ((size_t)b->n == b->vcap) {
        size_t nc = b->vcap ? b->vcap * 2 : 1024;
        ae_rating *v = realloc(b->v, nc * sizeof *v);
        if (!v) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", b->name);
        b->v = v;
        b->vcap = nc;
    }
    int rc = ix_add(&b->ix, b->n, s, len, dup, b->name);
    if (rc || *dup >= 0) return rc;
    b->v[b->n] = (ae_rating){NULL, value, votes, line};
    b->n++;
    return AE_OK;
}

/* The number of LF-ended lines in d[0..n) + 1, at most n / min_line + 1: an estimate of the
 * entries (CR-only files: 1, they grow as they go). */
static size_t count_lines(const char *d, size_t n, size_t min_line)
{
    size_t k = 1;
    for (const char *p = d, *e = d + n; p < e && (p = memchr(p, '\n', (size_t)(e - p))); p++) k++;
    return k < n / min_line + 1 ? k : n / min_line + 1;
}

/* Room for about n entries up front (at most 2^21; more grow as usual), so that the hash
 * slots are laid out once rather than moved at every doubling: on machines where the first
 * touch of a page is slow (virtual machines), that is most of the time of a large file. */
static int build_reserve(build *b, size_t n)
{
    if (n > (size_t)1 << 21) n = (size_t)1 << 21;
    if (n < 1024) return AE_OK;
    size_t cap = 1024;
    while (cap / 2 < n + 1) cap *= 2;
    if (!(b->v = malloc(n * sizeof *b->v)) || !(b->ix.off = malloc(n * sizeof *b->ix.off)) ||
        !(b->ix.slots = calloc(cap, sizeof *b->ix.slots)))
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", b->name);
    b->vcap = b->ix.ocap = n;
    b->ix.cap = cap;
    return AE_OK;
}

static void build_free(build *b)
{
    ix_free(&b->ix);
    free(b->v);
    b->v = NULL;
    b->n = 0;
}

/* Moves a finished list into *out (keys point into its text from now on: no more adds). */
static void build_finish(build *b, ae_ratings *out)
{
    for (int32_t i = 0; i < b->n; i++) b->v[i].key = b->ix.text + b->ix.off[i];
    out->v = b->v;
    out->n = b->n;
    out->ix_ = b->ix;
    memset(b, 0, sizeof *b);
}

/* ---- text helpers ---------------------------------------------------------------------- */


enum { TEXT_OK, TEXT_UTF8, TEXT_CONTROL, TEXT_NUL };

/* Checks that s[0..n) is valid UTF-8 without control characters (C0, DEL). */
static int check_text(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            if (!u[i]) return TEXT_NUL;
            if (u[i] < 0x20 || u[i] == 0x7F) return TEXT_CONTROL;
            i++;
            continue;
        }
        size_t k = ae_utf8_seq(u + i, n - i);
        if (!k) return TEXT_UTF8;
        i += k;
    }
    return TEXT_OK;
}

/* s[0..n) for a message: at most max bytes cut on a character boundary, control
 * characters and invalid bytes as '?', "..." when cut. cap >= max + 4. */
static const char *show(const char *s, size_t n, char *buf, size_t cap, size_t max)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t o = 0, i = 0;
    if (max > cap - 4) max = cap - 4;
    while (i < n && o < max) {
        size_t k = ae_utf8_seq(u + i, n - i);
        if (!k || (k == 1 && (u[i] < 0x20 || u[i] == 0x7F))) {
            buf[o++] = '?';
            i++;
            continue;
        }
        if (o + k > max) break;
        memcpy(buf + o, s + i, k);
        o += k;
        i += k;
    }
    if (i < n) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = 0;
    return buf;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *n)
{
    while (*n && is_blank(**s)) { (*s)++; (*n)--; }
    while (*n && is_blank((*s)[*n - 1])) (*n)--;
}

/* Skips a UTF-8 byte order mark; refuses UTF-16 (its BOM). */
static int text_start(const char *name, const char **d, size_t *n)
{
    const uint8_t *u = (const uint8_t *)*d;
    if (*n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: UTF-16 text is not supported; save it as UTF-8",
                       name);
    if (*n >= 3 && !memcmp(u, "\xEF\xBB\xBF", 3)) { *d += 3; *n -= 3; }
    return AE_OK;
}

static int check_args(const char *name, const char *d, size_t n, void *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "%s: out is NULL", name);
    if (!d && n) return ae_fail(AE_ERR_INVALID, "%s: data is NULL", name);
    if (n > AE_RATINGS_MAX_BYTES)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %zu bytes, larger than the limit of %zu bytes", name,
                       n, AE_RATINGS_MAX_BYTES);
    return AE_OK;
}

/* The next line of d[*pos..n): [*s, *e), *pos past its end (LF, CRLF or a lone CR). */
static void next_line(const char *d, size_t n, size_t *pos, size_t *s, size_t *e)
{
    size_t i = *pos;
    *s = i;
    while (i < n && d[i] != '\n' && d[i] != '\r') i++;
    *e = i;
    if (i < n) i += d[i] == '\r' && i + 1 < n && d[i + 1] == '\n' ? 2 : 1;
    *pos = i;
}

/* The id rule (ratings.h) as a view into s[0..n): *start, *len. */
static void id_view(const char *s, size_t n, size_t *start, size_t *len)
{
    size_t b = n;
    while (b && s[b - 1] != '/' && s[b - 1] != '\\') b--;
    size_t e = n;
    const char *dot = memrchr(s + b, '.', n - b);
    if (dot && dot > s + b) {
        static const char *const ext[] = {"jpg", "jpeg", "png", "webp", "gif", "bmp",
                                          "tif", "tiff", "heic", "heif", "avif"};
        size_t el = (size_t)(s + n - dot - 1);
        for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
            if (el == strlen(ext[i]) && !strncasecmp(dot + 1, ext[i], el)) {
                e = (size_t)(dot - s);
                break;
            }
    }
    size_t i = b;
    while (i < e && s[i] >= '0' && s[i] <= '9') i++;
    if (i == e && e > b) /* all digits: no leading zeros, "0" stays */
        while (b + 1 < e && s[b] == '0') b++;
    *start = b;
    *len = e - b;
}

/* ---- AVA.txt ---------------------------------------------------------------------------- */

enum { AVA_FIELDS = 15 };

static const char *ava_field_name(int k, char *buf, size_t cap)
{
    static const char *const fixed[] = {"row number", "image id"};
    if (k < 2) return fixed[k];
    if (k < 12) snprintf(buf, cap, "count of rating %d", k - 1);
    else if (k < 14) snprintf(buf, cap, "tag %d", k - 11);
    else snprintf(buf, cap, "challenge id");
    return buf;
}

/* Parses one AVA line s[0..n) into its 15 fields. Returns 0 (f set), 1 (blank) or -1 with
 * the reason in msg. */
static int ava_line(const char *s, size_t n, uint64_t f[AVA_FIELDS], char *msg, size_t cap)
{
    size_t ts[AVA_FIELDS], tl[AVA_FIELDS];
    int nf = 0;
    for (size_t i = 0;;) {
        while (i < n && is_blank(s[i])) i++;
        if (i == n) break;
        size_t st = i;
        while (i < n && !is_blank(s[i])) i++;
        if (nf < AVA_FIELDS) { ts[nf] = st; tl[nf] = i - st; }
        nf++;
    }
    if (!nf) return 1;
    if (nf != AVA_FIELDS) {
        snprintf(msg, cap, "%d field%s, an AVA line has %d", nf, nf == 1 ? "" : "s", AVA_FIELDS);
        return -1;
    }
    for (int k = 0; k < AVA_FIELDS; k++) {
        const char *t = s + ts[k];
        size_t len = tl[k], j = t[0] == '-';
        uint64_t max = k >= 2 && k < 12 ? INT32_MAX : INT64_MAX, v = 0;
        int big = 0;
        for (; j < len && t[j] >= '0' && t[j] <= '9'; j++) {
            unsigned dg = (unsigned)(t[j] - '0');
            if (v > (max - dg) / 10) big = 1;
            else v = v * 10 + dg;
        }
        if (j == len && len > (size_t)(t[0] == '-') && !big && t[0] != '-') {
            f[k] = v;
            continue;
        }
        char fb[32], tb[48];
        const char *fname = ava_field_name(k, fb, sizeof fb);
        show(t, len, tb, sizeof tb, 24);
        if (memchr(t, 0, len))
            snprintf(msg, cap, "field %d (%s) holds a NUL byte: '%s'", k + 1, fname, tb);
        else if (j != len || (len == 1 && t[0] == '-'))
            snprintf(msg, cap, "field %d (%s) is not a whole number: '%s'", k + 1, fname, tb);
        else if (t[0] == '-')
            snprintf(msg, cap, "field %d (%s) is negative: '%s'", k + 1, fname, tb);
        else
            snprintf(msg, cap, "field %d (%s) is too large: '%s' (the most is %llu)", k + 1, fname,
                     tb, (unsigned long long)max);
        return -1;
    }
    return 0;
}

int ae_ratings_parse_ava(const char *name, const char *d, size_t size, int strict,
                         ae_ratings *out)
{
    if (!name || !*name) name = "AVA.txt";
    int rc = check_args(name, d, size, out);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if ((rc = text_start(name, &d, &size))) return rc;
    build b = {.name = name};
    /* a good AVA line has at least 30 bytes with its LF */
    if ((rc = build_reserve(&b, count_lines(d, size, 30)))) goto fail;
    char msg[192], first[224] = "";
    int64_t line = 0, skipped = 0;
    size_t pos = 0;
    /* the hot loop: 255,530 lines for the real file */
    while (pos < size) {
        size_t s, e;
        next_line(d, size, &pos, &s, &e);
        line++;
        uint64_t f[AVA_FIELDS];
        int r;
        if (e - s > AE_RATINGS_MAX_LINE) {
            snprintf(msg, sizeof msg, "longer than %d bytes", AE_RATINGS_MAX_LINE);
            r = -1;
        } else r = ava_line(d + s, e - s, f, msg, sizeof msg);
        if (r == 1) continue;
        if (r == 0) {
            /* counts <= INT32_MAX: sums far below 2^53, so both are exact as doubles and
             * the mean is one correctly rounded division */
            int64_t votes = 0, total = 0;
            for (int k = 0; k < 10; k++) {
                votes += (int64_t)f[2 + k];
                total += (int64_t)(k + 1) * (int64_t)f[2 + k];
            }
            char key[24];
            int kl = snprintf(key, sizeof key, "%llu", (unsigned long long)f[1]);
            if (!votes) {
                snprintf(msg, sizeof msg, "image %s has no votes (all ten counts are 0)", key);
                r = -1;
            } else {
                int32_t dup;
                if ((rc = build_add(&b, key, (size_t)kl, (double)total / (double)votes, votes,
                                    line, &dup)))
                    goto fail;
                if (dup >= 0) {
                    snprintf(msg, sizeof msg, "image %s repeats line %lld", key,
                             (long long)b.v[dup].line);
                    r = -1;
                }
            }
        }
        if (r < 0) {
            if (strict) {
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: %s", name, (long long)line, msg);
                goto fail;
            }
            if (!skipped) snprintf(first, sizeof first, "line %lld: %s", (long long)line, msg);
            skipped++;
        }
    }
    if (!b.n) {
        if (skipped)
            rc = ae_fail(AE_ERR_FORMAT, "%s: no ratings: %lld bad line%s skipped, the first: %s",
                         name, (long long)skipped, skipped == 1 ? "" : "s", first);
        else rc = ae_fail(AE_ERR_INVALID, "%s: no ratings (%s)", name,
                          size ? "only blank lines" : "the file is empty");
        goto fail;
    }
    build_finish(&b, out);
    out->kind = AE_RATINGS_RATINGS;
    out->skipped = skipped;
    if (skipped) snprintf(out->first_skip, sizeof out->first_skip, "%s: %s", name, first);
    return AE_OK;
fail:
    build_free(&b);
    memset(out, 0, sizeof *out);
    return rc;
}

int ae_ratings_read_ava(const char *path, int strict, ae_ratings *out)
{
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "ae_ratings_read_ava: no path");
    if (out) memset(out, 0, sizeof *out);
    char *d;
    size_t n;
    int rc = ae_file_read(path, AE_RATINGS_MAX_BYTES, &d, &n);
    if (rc) return rc;
    rc = ae_ratings_parse_ava(path, d, n, strict, out);
    free(d);
    return rc;
}

/* ---- id lists --------------------------------------------------------------------------- */

int ae_ratings_parse_ids(const char *name, const char *d, size_t size, ae_idset *out)
{
    if (!name || !*name) name = "ids";
    int rc = check_args(name, d, size, out);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if ((rc = text_start(name, &d, &size))) return rc;
    ae_keyindex ix = {0};
    int32_t n = 0;
    int64_t line = 0;
    size_t pos = 0;
    while (pos < size) {
        size_t s, e;
        next_line(d, size, &pos, &s, &e);
        line++;
        const char *t = d + s;
        size_t len = e - s;
        if (len > AE_RATINGS_MAX_LINE) {
            rc = ae_fail(AE_ERR_TOO_LARGE, "%s: line %lld: longer than %d bytes", name,
                         (long long)line, AE_RATINGS_MAX_LINE);
            goto fail;
        }
        trim(&t, &len);
        if (!len || t[0] == '#') continue;
        int bad = check_text(t, len);
        if (bad) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: %s", name, (long long)line,
                         bad == TEXT_NUL ? "a NUL byte" : bad == TEXT_UTF8 ? "invalid UTF-8"
                                                                           : "a control character");
            goto fail;
        }
        size_t ks, kl;
        id_view(t, len, &ks, &kl);
        if (!kl) {
            char tb[48];
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: '%s' names no image", name,
                         (long long)line, show(t, len, tb, sizeof tb, 40));
            goto fail;
        }
        int32_t dup;
        if ((rc = ix_add(&ix, n, t + ks, kl, &dup, name))) goto fail;
        if (dup < 0) n++; /* a repeated id is dropped */
    }
    if (!n) {
        rc = ae_fail(AE_ERR_INVALID, "%s: no ids (%s)", name,
                     size ? "only blank lines and comments" : "the file is empty");
        goto fail;
    }
    if (!(out->keys = malloc((size_t)n * sizeof *out->keys))) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    for (int32_t i = 0; i < n; i++) out->keys[i] = ix.text + ix.off[i];
    out->n = n;
    out->ix_ = ix;
    return AE_OK;
fail:
    ix_free(&ix);
    return rc;
}

int ae_ratings_read_ids(const char *path, ae_idset *out)
{
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "ae_ratings_read_ids: no path");
    if (out) memset(out, 0, sizeof *out);
    char *d;
    size_t n;
    int rc = ae_file_read(path, AE_RATINGS_MAX_BYTES, &d, &n);
    if (rc) return rc;
    rc = ae_ratings_parse_ids(path, d, n, out);
    free(d);
    return rc;
}

/* ---- CSV / TSV -------------------------------------------------------------------------- */

static const char *const path_names[] = {"path", "file", "filename", "image"};
static const char *const value_names[] = {"rating", "score", "label"};
#define COLUMN_HINT "name one path, file, filename or image column and one rating, score or " \
                    "label column"

static int in_list(const char *s, size_t n, const char *const *list, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (strlen(list[i]) == n && !strncasecmp(s, list[i], n)) return 1;
    return 0;
}

int ae_ratings_label_word(const char *s, size_t n)
{
    static const char *const yes[] = {"good", "yes", "y", "true", "keep", "up", "+"};
    static const char *const no[] = {"bad", "no", "n", "false", "reject", "down", "-"};
    if (in_list(s, n, yes, sizeof yes / sizeof *yes)) return 1;
    if (in_list(s, n, no, sizeof no / sizeof *no)) return 0;
    return -1;
}

/* A finite decimal number: 1 with *v, 0 if s[0..n) is not one, -1 if it overflows. With a
 * delimiter other than ',' a single ',' and no '.' is a decimal comma. */
static int parse_number(const char *s, size_t n, char delim, double *v)
{
    char buf[128];
    if (!n || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *comma = memchr(buf, ',', n);
    if (comma && delim != ',' && !memchr(buf, '.', n) && !memchr(comma + 1, ',', n - (size_t)(comma - buf) - 1))
        *comma = '.';
    size_t i = 0, d1 = 0, d2 = 0;
    if (buf[i] == '+' || buf[i] == '-') i++;
    while (buf[i] >= '0' && buf[i] <= '9') { i++; d1++; }
    if (buf[i] == '.') {
        i++;
        while (buf[i] >= '0' && buf[i] <= '9') { i++; d2++; }
    }
    if (!d1 && !d2) return 0;
    if (buf[i] == 'e' || buf[i] == 'E') {
        size_t de = 0;
        i++;
        if (buf[i] == '+' || buf[i] == '-') i++;
        while (buf[i] >= '0' && buf[i] <= '9') { i++; de++; }
        if (!de) return 0;
    }
    if (i != n) return 0;
    char *end;
    double x = strtod(buf, &end);
    if (end != buf + n) return 0; /* a locale whose decimal point is not '.' */
    if (!isfinite(x)) return -1;
    *v = x;
    return 1;
}

static int is_url(const char *s, size_t n)
{
    size_t i = 0;
    if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    return n - i >= 3 && !memcmp(s + i, "://", 3);
}

/* The key of path p[0..n) read from a file in dir (ratings.h), into *buf (grown). */
static int resolve(const char *name, const char *dir, const char *p, size_t n, char **buf,
                   size_t *cap, size_t *len)
{
    size_t dl = 0;
    if (dir && *dir && p[0] != '/' && !is_url(p, n)) {
        while (n > 2 && p[0] == '.' && p[1] == '/') {
            p += 2;
            n -= 2;
            while (n > 1 && p[0] == '/') { p++; n--; }
        }
        dl = strlen(dir);
    }
    size_t need = dl + 1 + n + 1;
    if (need > *cap) {
        char *t = realloc(*buf, need);
        if (!t) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        *buf = t;
        *cap = need;
    }
    size_t o = 0;
    if (dl) {
        memcpy(*buf, dir, dl);
        o = dl;
        if (dir[dl - 1] != '/') (*buf)[o++] = '/';
    }
    memcpy(*buf + o, p, n);
    *len = o + n;
    return AE_OK;
}

/* Field f of the current record, trimmed. csv_next leaves buf NULL while no record so far
 * had a byte in a field: NULL + 0 is undefined, hence "". */
static void field(const csv *c, size_t f, const char **s, size_t *n)
{
    *s = c->buf ? c->buf + c->fo[f] : "";
    *n = c->fl[f];
    trim(s, n);
}

/* "a, b, c" of the record's fields, for messages (12 at most). */
static void list_fields(const csv *c, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t f = 0; f < c->nf && o + 8 < cap; f++) {
        if (f == 12) { snprintf(out + o, cap - o, ", ..."); break; }
        const char *s;
        size_t n;
        field(c, f, &s, &n);
        char one[48];
        int w = snprintf(out + o, cap - o, "%s%s", f ? ", " : "", show(s, n, one, sizeof one, 32));
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
    }
}

int ae_ratings_parse_csv(const char *name, const char *dir, const char *d, size_t size,
                         ae_ratings *out)
{
    if (!name || !*name) name = "ratings.csv";
    int rc = check_args(name, d, size, out);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if ((rc = text_start(name, &d, &size))) return rc;
    char delim = csv_sniff_delim(d, size);
    const char *dname = delim == '\t' ? "tab" : delim == ';' ? "';'" : "','";
    csv c;
    csv_init(&c, d, size, delim);
    build b = {.name = name};
    char *kbuf = NULL, cols[512], tb[48], tb2[48];
    size_t kcap = 0;
    int started = 0, header = 0;
    size_t pcol = 0, vcol = 1;
    int64_t line, word_line = 0, num_line = 0;
    char word_txt[48] = "", num_txt[48] = "";
    int r;
    if ((rc = build_reserve(&b, count_lines(d, size, 4)))) goto fail; /* "a,1\n" */
    while ((r = csv_next(&c, name, &line)) == 1) {
        if (c.blen > AE_RATINGS_MAX_LINE) {
            rc = ae_fail(AE_ERR_TOO_LARGE, "%s: line %lld: a record longer than %d bytes", name,
                         (long long)line, AE_RATINGS_MAX_LINE);
            goto fail;
        }
        const char *s, *p;
        size_t n, pn;
        int empty = 1;
        for (size_t f = 0; f < c.nf && empty; f++) {
            field(&c, f, &s, &n);
            empty = !n;
        }
        if (empty) continue;
        /* fields after the first two hold something (matters without a header) */
        int extra = 0;
        for (size_t f = 2; f < c.nf && !extra; f++) {
            field(&c, f, &s, &n);
            extra = n > 0;
        }
        if (!started) {
            started = 1;
            if (c.nf < 2) {
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: one column; expected a path and a "
                             "rating or label on each line (read with %s as the delimiter)", name,
                             (long long)line, dname);
                goto fail;
            }
            double v;
            field(&c, 1, &s, &n);
            header = n && !parse_number(s, n, delim, &v) && ae_ratings_label_word(s, n) < 0;
            if (header && c.nf > 2) {
                int np = 0, nv = 0;
                for (size_t f = 0; f < c.nf; f++) {
                    field(&c, f, &s, &n);
                    if (in_list(s, n, path_names, sizeof path_names / sizeof *path_names)) {
                        np++;
                        pcol = f;
                    }
                    if (in_list(s, n, value_names, sizeof value_names / sizeof *value_names)) {
                        nv++;
                        vcol = f;
                    }
                }
                if (np != 1 || nv != 1) {
                    list_fields(&c, cols, sizeof cols);
                    rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: cannot tell the path and value "
                                 "columns (columns: %s); " COLUMN_HINT, name, (long long)line, cols);
                    goto fail;
                }
            } else if (!header && extra) {
                list_fields(&c, cols, sizeof cols);
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: %zu columns and no header row (%s); "
                             "add a header row: " COLUMN_HINT, name, (long long)line, c.nf, cols);
                goto fail;
            }
            if (header) continue;
        }
        size_t need = (pcol > vcol ? pcol : vcol) + 1;
        if (c.nf < need || (!header && extra)) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: %zu field%s, expected %s%zu", name,
                         (long long)line, c.nf, c.nf == 1 ? "" : "s", header ? "at least " : "",
                         header ? need : 2);
            goto fail;
        }
        field(&c, pcol, &p, &pn);
        field(&c, vcol, &s, &n);
        if (!pn) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: empty path", name, (long long)line);
            goto fail;
        }
        int bad = check_text(p, pn);
        if (bad) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: %s in the path", name, (long long)line,
                         bad == TEXT_UTF8 ? "invalid UTF-8" : bad == TEXT_NUL ? "a NUL byte"
                                                                              : "a control character");
            goto fail;
        }
        if (!n) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: no rating or label for %s", name,
                         (long long)line, show(p, pn, tb, sizeof tb, 40));
            goto fail;
        }
        double v;
        int w = ae_ratings_label_word(s, n), num = 0;
        if (w >= 0) v = w;
        else if ((num = parse_number(s, n, delim, &v)) != 1) {
            show(s, n, tb, sizeof tb, 24);
            if (num < 0)
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: '%s' is out of range", name,
                             (long long)line, tb);
            else
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: '%s' is neither a number nor a label "
                             "word (good/bad, yes/no, y/n, true/false, keep/reject, up/down, +/-, "
                             "1/0)", name, (long long)line, tb);
            goto fail;
        }
        if (w >= 0) {
            if (num_line) {
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: the label '%s' in a file of ratings "
                             "(line %lld: %s); use words or numbers, not both", name,
                             (long long)line, show(s, n, tb, sizeof tb, 24), (long long)num_line,
                             num_txt);
                goto fail;
            }
            if (!word_line) {
                word_line = line;
                show(s, n, word_txt, sizeof word_txt, 24);
            }
        } else if (v != 0 && v != 1) {
            if (word_line) {
                rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: the rating %s in a file of labels "
                             "(line %lld: '%s'); use words or numbers, not both", name,
                             (long long)line, show(s, n, tb, sizeof tb, 24), (long long)word_line,
                             word_txt);
                goto fail;
            }
            if (!num_line) {
                num_line = line;
                show(s, n, num_txt, sizeof num_txt, 24);
            }
        }
        size_t kl = 0;
        int32_t dup;
        if ((rc = resolve(name, dir, p, pn, &kbuf, &kcap, &kl))) goto fail;
        if ((rc = build_add(&b, kbuf, kl, v, 0, line, &dup))) goto fail;
        if (dup >= 0) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %lld: %s repeats line %lld", name,
                         (long long)line, show(p, pn, tb2, sizeof tb2, 40),
                         (long long)b.v[dup].line);
            goto fail;
        }
    }
    if (r < 0) {
        rc = r;
        goto fail;
    }
    if (!b.n) {
        rc = ae_fail(AE_ERR_INVALID, "%s: no ratings (%s)", name,
                     started ? "only a header row" : size ? "only blank lines" : "the file is empty");
        goto fail;
    }
    build_finish(&b, out);
    out->kind = num_line ? AE_RATINGS_RATINGS : AE_RATINGS_LABELS;
    csv_free(&c);
    free(kbuf);
    return AE_OK;
fail:
    csv_free(&c);
    free(kbuf);
    build_free(&b);
    memset(out, 0, sizeof *out);
    return rc;
}

int ae_ratings_read_csv(const char *path, ae_ratings *out)
{
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "ae_ratings_read_csv: no path");
    if (out) memset(out, 0, sizeof *out);
    char *d;
    size_t n;
    int rc = ae_file_read(path, AE_RATINGS_MAX_BYTES, &d, &n);
    if (rc) return rc;
    /* the folder: "" for "labels.csv" (paths stay relative to the working folder, which is
     * the CSV file's), "/" for "/labels.csv" */
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
    char *dir = malloc(dl + 1);
    if (!dir) {
        free(d);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(dir, path, dl);
    dir[dl] = 0;
    rc = ae_ratings_parse_csv(path, dir, d, n, out);
    free(dir);
    free(d);
    return rc;
}

/* ---- lookups and the split filter --------------------------------------------------------- */

int32_t ae_ratings_find(const ae_ratings *r, const char *key)
{
    return r && key ? ix_find(&r->ix_, key, strlen(key)) : -1;
}

int32_t ae_idset_find(const ae_idset *s, const char *key)
{
    return s && key ? ix_find(&s->ix_, key, strlen(key)) : -1;
}

/* Keeps the entries whose key is in keep (drop 0) or is not (drop 1). */
static int select_entries(ae_ratings *r, const ae_idset *keep, int drop, ae_idset *missing)
{
    if (missing) memset(missing, 0, sizeof *missing);
    if (!r || !keep) return ae_fail(AE_ERR_INVALID, "ae_ratings_filter: NULL list or set");
    uint8_t *hit = calloc((size_t)keep->n + 1, 1), *in = calloc((size_t)r->n + 1, 1);
    ae_keyindex mix = {0};
    const char **mkeys = NULL;
    int32_t nm = 0;
    int rc = AE_OK;
    if (!hit || !in) {
        rc = ae_fail(AE_ERR_NOMEM, "ae_ratings_filter: out of memory");
        goto done;
    }
    for (int32_t i = 0; i < r->n; i++) {
        size_t ks, kl;
        id_view(r->v[i].key, strlen(r->v[i].key), &ks, &kl);
        int32_t f = ix_find(&keep->ix_, r->v[i].key + ks, kl);
        if (f >= 0) hit[f] = 1;
        in[i] = (f >= 0) != drop;
    }
    if (missing) {
        for (int32_t i = 0; i < keep->n; i++) {
            int32_t dup;
            if (hit[i]) continue;
            if ((rc = ix_add(&mix, nm, keep->keys[i], strlen(keep->keys[i]), &dup, "split")))
                goto done;
            nm += dup < 0; /* keep's keys are distinct: always */
        }
        if (nm && !(mkeys = malloc((size_t)nm * sizeof *mkeys))) {
            rc = ae_fail(AE_ERR_NOMEM, "ae_ratings_filter: out of memory");
            goto done;
        }
        for (int32_t i = 0; i < nm; i++) mkeys[i] = mix.text + mix.off[i];
    }
    /* nothing can fail from here: compact the entries and their index in place */
    int32_t k = 0;
    for (int32_t i = 0; i < r->n; i++)
        if (in[i]) {
            r->v[k] = r->v[i];
            r->ix_.off[k] = r->ix_.off[i];
            k++;
        }
    r->n = k;
    if (r->ix_.cap) ix_rehash(&r->ix_, k);
    if (missing) {
        missing->keys = mkeys;
        missing->n = nm;
        missing->ix_ = mix;
        mkeys = NULL;
        memset(&mix, 0, sizeof mix);
    }
done:
    free(hit);
    free(in);
    free(mkeys);
    ix_free(&mix);
    return rc;
}

int ae_ratings_filter(ae_ratings *r, const ae_idset *keep, ae_idset *missing)
{
    return select_entries(r, keep, 0, missing);
}

int ae_ratings_exclude(ae_ratings *r, const ae_idset *drop)
{
    return select_entries(r, drop, 1, NULL);
}

void ae_ratings_free(ae_ratings *r)
{
    if (!r) return;
    ix_free(&r->ix_);
    free(r->v);
    memset(r, 0, sizeof *r);
}

void ae_idset_free(ae_idset *s)
{
    if (!s) return;
    ix_free(&s->ix_);
    free(s->keys);
    memset(s, 0, sizeof *s);
}
