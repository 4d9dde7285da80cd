/*
 * classlist_names.c — the one builder of class lists: every format hands it raw cell or line
 * bytes (cl_add_name), which it normalises (white space, UTF-8, control characters), checks
 * against the limits and de-duplicates through a small open-addressing hash set; cl_finish
 * packs the result into one allocation. Also the header-row helpers the CSV and XLSX readers
 * share.
 */
#include "classlist_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "utf8.h"

/* ---- UTF-8 and white space ------------------------------------------------------------- */


size_t cl_utf8_encode(uint32_t cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unicode White_Space: what CLIP's tokenizer collapses with \s+. */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static int is_control(uint32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

/* Normalises s[0..n): white-space runs -> one space, trimmed; U+FEFF dropped. Writes into
 * out when out != NULL (room for n bytes suffices). Returns the length, or -1 with *e set. */
long cl_normalise(const uint8_t *s, size_t n, char *out, cl_normerr *e)
{
    size_t i = 0, o = 0;
    int pend = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = ae_utf8_decode(s + i, n - i, &cp);
        if (!k) { e->kind = NORM_BAD_UTF8; e->pos = i; return -1; }
        if (is_space(cp)) { pend = o > 0; i += k; continue; }
        if (cp == 0xFEFF) { i += k; continue; }
        if (is_control(cp)) { e->kind = NORM_CONTROL; e->pos = i; e->cp = cp; return -1; }
        if (pend) {
            if (out) out[o] = ' ';
            o++;
            pend = 0;
        }
        if (out) memcpy(out + o, s + i, k);
        o += k;
        i += k;
    }
    return (long)o;
}

/* Up to the last ~24 bytes before s + pos (valid UTF-8: cl_normalise checked them), for error
 * messages, with white space shown as spaces so the message stays on one line. */
static void context_before(const uint8_t *s, size_t pos, char *buf, size_t cap)
{
    size_t start = pos > 24 ? pos - 24 : 0;
    while (start < pos && (s[start] & 0xC0) == 0x80) start++;
    size_t o = 0;
    for (size_t i = start; i < pos && o + 1 < cap; i++) buf[o++] = s[i] < 0x20 ? ' ' : (char)s[i];
    buf[o] = 0;
}

/* A copy of s for messages: at most max bytes cut on a character boundary, control
 * characters and invalid bytes as '?'. */
void cl_sanitize(const char *s, size_t n, char *buf, size_t cap, size_t max)
{
    size_t o = 0, i = 0;
    if (max > cap - 4) max = cap - 4;
    while (i < n && o < max) {
        uint32_t cp;
        size_t k = ae_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!k || is_control(cp)) { buf[o++] = '?'; i += k ? k : 1; continue; }
        if (o + k > max) break;
        memcpy(buf + o, s + i, k);
        o += k;
        i += k;
    }
    if (i < n) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = 0;
}

/* ---- the builder -------------------------------------------------------------------------- */

void cl_col_letters(int32_t col, char *buf)
{
    char tmp[8];
    int n = 0;
    while (col > 0 && n < 7) {
        col--;
        tmp[n++] = (char)('A' + col % 26);
        col /= 26;
    }
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
}

void cl_loc_format(const cl_loc *l, char *buf, size_t cap)
{
    if (l->sheet) {
        char c[8];
        cl_col_letters(l->col, c);
        snprintf(buf, cap, "sheet '%s' cell %s%lld", l->sheet, c, (long long)l->line);
    } else snprintf(buf, cap, "%s %lld", l->entry ? "entry" : "line", (long long)l->line);
}

void cl_builder_init(cl_builder *b, const char *name, const ae_classlist_params *p)
{
    memset(b, 0, sizeof *b);
    b->name = name;
    b->p = *p;
}

void cl_builder_free(cl_builder *b)
{
    free(b->text);
    free(b->off);
    free(b->slots);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

/* Finds the name text[start..start+n) in the set; returns its slot (empty or a match). */
static size_t set_find(const cl_builder *b, const char *s, size_t n, int *found)
{
    size_t mask = b->nslots - 1, i = (size_t)hash_bytes(s, n) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = b->slots[i];
        if (!v) { *found = 0; return i; }
        const char *t = b->text + b->off[v - 1];
        if (strlen(t) == n && !memcmp(t, s, n)) { *found = 1; return i; }
    }
}

static int set_grow(cl_builder *b)
{
    size_t ns = b->nslots ? b->nslots * 2 : 1024;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", b->name);
    free(b->slots);
    b->slots = sl;
    b->nslots = ns;
    for (int32_t k = 0; k < b->n; k++) {
        const char *t = b->text + b->off[k];
        int found;
        size_t i = set_find(b, t, strlen(t), &found);
        b->slots[i] = (uint32_t)k + 1;
    }
    return AE_OK;
}

static int reserve(cl_builder *b, size_t extra)
{
    if (b->cap - b->len >= extra) return AE_OK;
    size_t want = b->len + extra, nc = b->cap ? b->cap : 4096;
    while (nc < want) nc = nc > SIZE_MAX / 2 ? want : nc * 2;
    char *t = realloc(b->text, nc);
    if (!t) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", b->name);
    b->text = t;
    b->cap = nc;
    return AE_OK;
}

/* Normalises s[0..n) and appends it unless empty or a duplicate. */
int cl_add_name(cl_builder *b, const char *s, size_t n, const cl_loc *l)
{
    cl_normerr e;
    long m = cl_normalise((const uint8_t *)s, n, NULL, &e);
    char where[160], ctx[64];
    if (m < 0) {
        cl_loc_format(l, where, sizeof where);
        context_before((const uint8_t *)s, e.pos, ctx, sizeof ctx);
        if (e.kind == NORM_BAD_UTF8)
            return ae_fail(AE_ERR_FORMAT, "%s: %s: invalid UTF-8 (byte 0x%02x after \"%s\"); "
                           "save the file as UTF-8", b->name, where, (uint8_t)s[e.pos], ctx);
        return ae_fail(AE_ERR_FORMAT, "%s: %s: control character U+%04X after \"%s\"", b->name,
                       where, (unsigned)e.cp, ctx);
    }
    if (m == 0) return AE_OK;
    if ((size_t)m > b->p.max_name_bytes) {
        cl_loc_format(l, where, sizeof where);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: class name of %ld bytes, longer than the "
                       "limit of %zu bytes", b->name, where, m, b->p.max_name_bytes);
    }
    int rc = reserve(b, (size_t)m + 1);
    if (rc) return rc;
    char *dst = b->text + b->len;
    cl_normalise((const uint8_t *)s, n, dst, &e);
    dst[m] = 0;
    size_t slot = 0;
    if (!b->p.keep_duplicates) {
        if ((size_t)b->n * 2 >= b->nslots && (rc = set_grow(b))) return rc;
        int found;
        slot = set_find(b, dst, (size_t)m, &found);
        if (found) return AE_OK; /* the first occurrence wins; nothing was committed */
    }
    if (b->n >= b->p.max_classes) {
        cl_loc_format(l, where, sizeof where);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: more than %d class names (the limit)",
                       b->name, where, b->p.max_classes);
    }
    if (b->len + (size_t)m + 1 > b->p.max_bytes) {
        cl_loc_format(l, where, sizeof where);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: the class names total more than %zu bytes "
                       "(the limit)", b->name, where, b->p.max_bytes);
    }
    if (b->n == b->ocap) {
        int32_t nc = b->ocap ? b->ocap * 2 : 256;
        size_t *o = realloc(b->off, (size_t)nc * sizeof *o);
        if (!o) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", b->name);
        b->off = o;
        b->ocap = nc;
    }
    b->off[b->n] = b->len;
    if (!b->p.keep_duplicates) b->slots[slot] = (uint32_t)b->n + 1;
    b->n++;
    b->len += (size_t)m + 1;
    return AE_OK;
}

/* Packs the names into one block: n pointers, then the text. */
int cl_finish(cl_builder *b, ae_classlist *out)
{
    AE_ASSERT(b->n > 0);
    size_t head = (size_t)b->n * sizeof(char *);
    char **names = malloc(head + b->len);
    if (!names) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", b->name);
    char *text = (char *)names + head;
    memcpy(text, b->text, b->len);
    for (int32_t i = 0; i < b->n; i++) names[i] = text + b->off[i];
    out->n = b->n;
    out->names = names;
    memcpy(out->column, b->column, sizeof out->column);
    return AE_OK;
}

size_t cl_header_text(const char *s, size_t n, char *buf, size_t cap)
{
    cl_normerr e;
    long m = cl_normalise((const uint8_t *)s, n, NULL, &e);
    if (m <= 0 || (size_t)m >= cap) {
        /* invalid or huge header cells never match; show them sanitised */
        if (m != 0) cl_sanitize(s, n, buf, cap, 32);
        else buf[0] = 0;
        return m < 0 || (size_t)m >= cap ? (size_t)-1 : 0;
    }
    cl_normalise((const uint8_t *)s, n, buf, &e);
    buf[m] = 0;
    return (size_t)m;
}

void cl_header_list_add(cl_header_list *h, const char *s)
{
    if (!*s) return;
    size_t len = strlen(h->text);
    if (h->count == 12) {
        if (len + 6 < sizeof h->text) strcat(h->text, ", ...");
    } else if (h->count < 12) {
        char one[64];
        cl_sanitize(s, strlen(s), one, sizeof one, 32);
        if (len + strlen(one) + 3 < sizeof h->text)
            snprintf(h->text + len, sizeof h->text - len, "%s%s", h->count ? ", " : "", one);
    }
    h->count++;
}

/* 1: exact match, 2: ASCII case-insensitive match, 0: none. */
int cl_header_match(const char *cell, const char *want)
{
    if (!strcmp(cell, want)) return 1;
    if (!strcasecmp(cell, want)) return 2;
    return 0;
}
