/*
 * classlist.c — reads lists of content classes (TXT, CSV/TSV, XLSX) into ae_classlist.
 *
 * Every format front-end hands raw cell or line bytes to one builder (add_name), which
 * normalises them (white space, UTF-8, control characters), applies the limits and drops
 * duplicates through a small open-addressing hash set; finish() packs the result into one
 * allocation. The rules users see are documented in classlist.h. XLSX is a zip of XML parts:
 * the parts are inflated through libzip with a byte counter that stops at the declared size
 * and at max_bytes (so a zip bomb whose header lies is stopped at the cap), and streamed
 * through libxml2's xmlTextReader without network, DTD loading or entity substitution; a
 * DOCTYPE or an entity reference node is refused. libxml2's messages are captured through
 * the reader's structured error handler and libzip's through its error objects, so nothing
 * is printed. The read callback reports a stop as end of input (not -1), because libxml2
 * would print an I/O error for -1 through its global handler.
 */
#define _GNU_SOURCE
#include "classlist.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlreader.h>
#include <zip.h>

#include "csv.h"
#include "error.h"

ae_classlist_params ae_classlist_default_params(void)
{
    ae_classlist_params p;
    memset(&p, 0, sizeof p);
    p.max_bytes = AE_CLASSLIST_MAX_BYTES;
    p.max_classes = AE_CLASSLIST_MAX_CLASSES;
    p.max_name_bytes = AE_CLASSLIST_MAX_NAME_BYTES;
    return p;
}

static ae_classlist_params resolve_params(const ae_classlist_params *in)
{
    ae_classlist_params p = in ? *in : ae_classlist_default_params();
    if (!p.max_bytes) p.max_bytes = AE_CLASSLIST_MAX_BYTES;
    if (p.max_classes <= 0) p.max_classes = AE_CLASSLIST_MAX_CLASSES;
    if (!p.max_name_bytes) p.max_name_bytes = AE_CLASSLIST_MAX_NAME_BYTES;
    if (p.column && !*p.column) p.column = NULL;
    if (p.column) p.header = 1;
    return p;
}

/* ---- UTF-8 and white space ------------------------------------------------------------- */

/* Decodes one strictly valid UTF-8 sequence (no overlongs, surrogates or > U+10FFFF) at s.
 * Returns its length, 0 if invalid. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    size_t k;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < k || s[1] < lo || s[1] > hi) return 0;
    uint32_t v = c & (0xFF >> (k + 1));
    v = (v << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return k;
}

static size_t utf8_encode(uint32_t cp, char *o)
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

enum { NORM_BAD_UTF8 = 1, NORM_CONTROL = 2 };

typedef struct normerr {
    int kind;
    size_t pos;  /* byte offset of the bad sequence in the input */
    uint32_t cp; /* NORM_CONTROL: the character */
} normerr;

/* Normalises s[0..n): white-space runs -> one space, trimmed; U+FEFF dropped. Writes into
 * out when out != NULL (room for n bytes suffices). Returns the length, or -1 with *e set. */
static long normalise(const uint8_t *s, size_t n, char *out, normerr *e)
{
    size_t i = 0, o = 0;
    int pend = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
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

/* Up to the last ~24 bytes before s + pos (valid UTF-8: normalise checked them), for error
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
static void sanitize(const char *s, size_t n, char *buf, size_t cap, size_t max)
{
    size_t o = 0, i = 0;
    if (max > cap - 4) max = cap - 4;
    while (i < n && o < max) {
        uint32_t cp;
        size_t k = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!k || is_control(cp)) { buf[o++] = '?'; i += k ? k : 1; continue; }
        if (o + k > max) break;
        memcpy(buf + o, s + i, k);
        o += k;
        i += k;
    }
    if (i < n) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = 0;
}

/* ---- the builder ----------------------------------------------------------------------- */

/* Where a name came from, formatted only when a message needs it. */
typedef struct loc {
    const char *sheet; /* XLSX: the sheet's name or part path; NULL for text */
    int64_t line;      /* text: 1-based line; XLSX: row */
    int32_t col;       /* XLSX: 1-based column */
    int entry;         /* from_strings: line means "entry" */
} loc;

static void col_letters(int32_t col, char *buf)
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

static void loc_format(const loc *l, char *buf, size_t cap)
{
    if (l->sheet) {
        char c[8];
        col_letters(l->col, c);
        snprintf(buf, cap, "sheet '%s' cell %s%lld", l->sheet, c, (long long)l->line);
    } else snprintf(buf, cap, "%s %lld", l->entry ? "entry" : "line", (long long)l->line);
}

typedef struct builder {
    const char *name; /* the input, for messages */
    ae_classlist_params p;
    char *text;       /* the names, each NUL-terminated */
    size_t len, cap;
    size_t *off;      /* (n) offsets into text */
    int32_t n, ocap;
    uint32_t *slots;  /* hash set: index + 1, 0 = empty; (nslots), a power of two */
    size_t nslots;
} builder;

static void builder_init(builder *b, const char *name, const ae_classlist_params *p)
{
    memset(b, 0, sizeof *b);
    b->name = name;
    b->p = *p;
}

static void builder_free(builder *b)
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
static size_t set_find(const builder *b, const char *s, size_t n, int *found)
{
    size_t mask = b->nslots - 1, i = (size_t)hash_bytes(s, n) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = b->slots[i];
        if (!v) { *found = 0; return i; }
        const char *t = b->text + b->off[v - 1];
        if (strlen(t) == n && !memcmp(t, s, n)) { *found = 1; return i; }
    }
}

static int set_grow(builder *b)
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

static int reserve(builder *b, size_t extra)
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
static int add_name(builder *b, const char *s, size_t n, const loc *l)
{
    normerr e;
    long m = normalise((const uint8_t *)s, n, NULL, &e);
    char where[160], ctx[64];
    if (m < 0) {
        loc_format(l, where, sizeof where);
        context_before((const uint8_t *)s, e.pos, ctx, sizeof ctx);
        if (e.kind == NORM_BAD_UTF8)
            return ae_fail(AE_ERR_FORMAT, "%s: %s: invalid UTF-8 (byte 0x%02x after \"%s\"); "
                           "save the file as UTF-8", b->name, where, (uint8_t)s[e.pos], ctx);
        return ae_fail(AE_ERR_FORMAT, "%s: %s: control character U+%04X after \"%s\"", b->name,
                       where, (unsigned)e.cp, ctx);
    }
    if (m == 0) return AE_OK;
    if ((size_t)m > b->p.max_name_bytes) {
        loc_format(l, where, sizeof where);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: class name of %ld bytes, longer than the "
                       "limit of %zu bytes", b->name, where, m, b->p.max_name_bytes);
    }
    int rc = reserve(b, (size_t)m + 1);
    if (rc) return rc;
    char *dst = b->text + b->len;
    normalise((const uint8_t *)s, n, dst, &e);
    dst[m] = 0;
    size_t slot = 0;
    if (!b->p.keep_duplicates) {
        if ((size_t)b->n * 2 >= b->nslots && (rc = set_grow(b))) return rc;
        int found;
        slot = set_find(b, dst, (size_t)m, &found);
        if (found) return AE_OK; /* the first occurrence wins; nothing was committed */
    }
    if (b->n >= b->p.max_classes) {
        loc_format(l, where, sizeof where);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: more than %d class names (the limit)",
                       b->name, where, b->p.max_classes);
    }
    if (b->len + (size_t)m + 1 > b->p.max_bytes) {
        loc_format(l, where, sizeof where);
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
static int finish(builder *b, ae_classlist *out)
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
    return AE_OK;
}

void ae_classlist_free(ae_classlist *list)
{
    if (!list) return;
    free(list->names);
    list->names = NULL;
    list->n = 0;
}

/* Normalised header text for matching; returns its length (buf holds up to cap - 1 bytes). */
static size_t header_text(const char *s, size_t n, char *buf, size_t cap)
{
    normerr e;
    long m = normalise((const uint8_t *)s, n, NULL, &e);
    if (m <= 0 || (size_t)m >= cap) {
        /* invalid or huge header cells never match; show them sanitised */
        if (m != 0) sanitize(s, n, buf, cap, 32);
        else buf[0] = 0;
        return m < 0 || (size_t)m >= cap ? (size_t)-1 : 0;
    }
    normalise((const uint8_t *)s, n, buf, &e);
    buf[m] = 0;
    return (size_t)m;
}

/* Header columns seen, for "column 'x' not found (columns: a, b)". */
typedef struct header_list {
    char text[512];
    int count;
} header_list;

static void header_list_add(header_list *h, const char *s)
{
    if (!*s) return;
    size_t len = strlen(h->text);
    if (h->count == 12) {
        if (len + 6 < sizeof h->text) strcat(h->text, ", ...");
    } else if (h->count < 12) {
        char one[64];
        sanitize(s, strlen(s), one, sizeof one, 32);
        if (len + strlen(one) + 3 < sizeof h->text)
            snprintf(h->text + len, sizeof h->text - len, "%s%s", h->count ? ", " : "", one);
    }
    h->count++;
}

/* 1: exact match, 2: ASCII case-insensitive match, 0: none. */
static int header_match(const char *cell, const char *want)
{
    if (!strcmp(cell, want)) return 1;
    if (!strcasecmp(cell, want)) return 2;
    return 0;
}

/* ---- text: TXT, CSV, TSV ---------------------------------------------------------------- */

enum { FMT_TXT, FMT_CSV, FMT_TSV, FMT_UNKNOWN, FMT_XLSX };

static int ext_format(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot) return FMT_UNKNOWN;
    static const struct { const char *ext; int fmt; } map[] = {
        {"txt", FMT_TXT}, {"text", FMT_TXT}, {"lst", FMT_TXT}, {"list", FMT_TXT},
        {"names", FMT_TXT}, {"csv", FMT_CSV}, {"tsv", FMT_TSV}, {"tab", FMT_TSV},
        {"xlsx", FMT_XLSX}, {"xlsm", FMT_XLSX}, {"xls", FMT_XLSX}, {"xlsb", FMT_XLSX},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcasecmp(dot + 1, map[i].ext)) return map[i].fmt;
    return FMT_UNKNOWN;
}

static int parse_txt(builder *b, const char *d, size_t n)
{
    loc l = {0};
    size_t i = 0;
    int rc;
    for (l.line = 1; i < n; l.line++) {
        size_t s = i;
        while (i < n && d[i] != '\n' && d[i] != '\r') i++;
        if ((rc = add_name(b, d + s, i - s, &l))) return rc;
        if (i < n) i += d[i] == '\r' && i + 1 < n && d[i + 1] == '\n' ? 2 : 1;
    }
    if (!b->n) return ae_fail(AE_ERR_INVALID, "%s: no class names (only blank lines)", b->name);
    return AE_OK;
}

static int parse_csv(builder *b, const char *d, size_t n, char delim)
{
    csv c;
    csv_init(&c, d, n, delim);
    const char *want = b->p.column;
    int header = b->p.header, rc = AE_OK, r;
    size_t col = 0;
    int64_t rl;
    loc l = {0};
    header_list hl = {{0}, 0};
    while ((r = csv_next(&c, b->name, &rl)) == 1) {
        l.line = rl;
        if (header) {
            /* the first record with a non-empty field is the header */
            int any = 0, best = 0;
            for (size_t f = 0; f < c.nf; f++) {
                char h[256];
                size_t hn = header_text(c.buf + c.fo[f], c.fl[f], h, sizeof h);
                if (hn == 0) continue;
                any = 1;
                header_list_add(&hl, h);
                int m = hn == (size_t)-1 || !want ? 0 : header_match(h, want);
                if (m && (!best || m < best)) { best = m; col = f; }
            }
            if (!any) continue;
            if (want && !best) {
                char w[64];
                sanitize(want, strlen(want), w, sizeof w, 40);
                rc = ae_fail(AE_ERR_NOT_FOUND, "%s: column '%s' not found (columns: %s)",
                             b->name, w, hl.text);
                goto done;
            }
            header = 0;
            continue;
        }
        if (col < c.nf && (rc = add_name(b, c.buf + c.fo[col], c.fl[col], &l))) goto done;
    }
    if (r < 0) { rc = r; goto done; }
    if (!b->n) {
        if (b->p.header && header)
            rc = ae_fail(AE_ERR_INVALID, "%s: no class names (no header row)", b->name);
        else if (want) {
            char w[64];
            sanitize(want, strlen(want), w, sizeof w, 40);
            rc = ae_fail(AE_ERR_INVALID, "%s: no class names (column '%s' is empty)", b->name, w);
        } else
            rc = ae_fail(AE_ERR_INVALID, "%s: no class names (the first column is empty)",
                         b->name);
    }
done:
    csv_free(&c);
    return rc;
}

/* UTF-16 with a byte order mark -> UTF-8 (malloc'd into *out). */
static int utf16_to_utf8(const uint8_t *d, size_t n, const char *name, char **out, size_t *on)
{
    int be = d[0] == 0xFE;
    if (n % 2)
        return ae_fail(AE_ERR_FORMAT, "%s: UTF-16 text with an odd number of bytes (%zu)", name, n);
    char *o = malloc(n / 2 * 3 + 1);
    if (!o) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
    size_t k = 0;
    for (size_t i = 2; i < n; i += 2) {
        uint32_t u = be ? (uint32_t)(d[i] << 8 | d[i + 1]) : (uint32_t)(d[i + 1] << 8 | d[i]);
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
            uint32_t v = be ? (uint32_t)(d[i + 2] << 8 | d[i + 3]) : (uint32_t)(d[i + 3] << 8 | d[i + 2]);
            if (v >= 0xDC00 && v <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                i += 2;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF) {
            free(o);
            return ae_fail(AE_ERR_FORMAT, "%s: invalid UTF-16 (unpaired surrogate at byte %zu)",
                           name, i);
        }
        k += utf8_encode(u, o + k);
    }
    *out = o;
    *on = k;
    return AE_OK;
}

static int parse_text(builder *b, const char *d, size_t n, int fmt)
{
    const uint8_t *u = (const uint8_t *)d;
    char *conv = NULL;
    int rc;
    if (n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        if ((rc = utf16_to_utf8(u, n, b->name, &conv, &n))) return rc;
        d = conv;
    } else {
        const char *z = memchr(d, 0, n);
        if (z) {
            size_t at = (size_t)(z - d);
            int utf16 = n >= 4 && ((!u[0] && !u[2]) || (!u[1] && !u[3]));
            return ae_fail(AE_ERR_FORMAT, "%s: not a text file (NUL byte at offset %zu%s)", b->name,
                           at, utf16 ? "; UTF-16 text needs a byte order mark" : "");
        }
    }
    if (n >= 3 && !memcmp(d, "\xEF\xBB\xBF", 3)) { d += 3; n -= 3; }
    if (memchr(d, 0, n)) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: not a text file (a NUL character)", b->name);
        goto done;
    }
    if (fmt == FMT_UNKNOWN) {
        /* the first line with something besides white space decides */
        fmt = b->p.header ? FMT_CSV : FMT_TXT;
        for (size_t i = 0; i < n;) {
            size_t e = i;
            int text = 0;
            for (; e < n && d[e] != '\n' && d[e] != '\r'; e++) text |= d[e] != ' ' && d[e] != '\t';
            if (text) {
                if (memchr(d + i, '\t', e - i)) fmt = FMT_TSV;
                break;
            }
            i = e + 1;
        }
    }
    if (fmt == FMT_TXT) {
        if (b->p.header) {
            rc = ae_fail(AE_ERR_INVALID, "%s: a text list has one class per line and no columns "
                         "or header; use a .csv, .tsv or .xlsx file to pick a column", b->name);
            goto done;
        }
        rc = parse_txt(b, d, n);
    } else rc = parse_csv(b, d, n, fmt == FMT_TSV ? '\t' : csv_sniff_delim(d, n));
done:
    free(conv);
    return rc;
}

/* ---- XLSX ------------------------------------------------------------------------------- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

/* Counts inflated bytes; stops (as end of input) past the limit, on a zip error, or at a
 * DOCTYPE before the root element (found by scanning the prolog, so the refusal does not
 * depend on libxml2's entity handling; UTF-16 parts are left to libxml2's own limits). */
typedef struct zreader {
    zip_file_t *zf;
    uint64_t limit, declared, count;
    int over, ioerr, dtd;
    int prolog; /* 0: outside markup, 1: after '<', 2..8: matching "!DOCTYPE", 9: in <? or
                   <!-- up to '>', -1: the root element started */
    char err[160];
} zreader;

static void scan_prolog(zreader *r, const char *buf, size_t n)
{
    static const char doctype[] = "!DOCTYPE";
    for (size_t i = 0; i < n && r->prolog >= 0 && !r->dtd; i++) {
        char ch = buf[i];
        if (r->prolog == 0) r->prolog = ch == '<';
        else if (r->prolog == 1) r->prolog = ch == '!' ? 2 : ch == '?' ? 9 : -1;
        else if (r->prolog >= 2 && r->prolog <= 8) {
            if (ch != doctype[r->prolog - 1]) r->prolog = ch == '>' ? 0 : 9;
            else if (++r->prolog == 9) r->dtd = 1;
        } else if (ch == '>') r->prolog = 0;
    }
}

static int zr_read(void *ctx, char *buf, int len)
{
    zreader *r = ctx;
    if (r->over || r->ioerr || len <= 0) return 0;
    zip_int64_t got = zip_fread(r->zf, buf, (zip_uint64_t)len);
    if (got < 0) {
        r->ioerr = 1;
        snprintf(r->err, sizeof r->err, "%s", zip_file_strerror(r->zf));
        return 0;
    }
    r->count += (uint64_t)got;
    if (r->count > r->limit) { r->over = 1; return 0; }
    if (r->prolog >= 0) {
        scan_prolog(r, buf, (size_t)got);
        if (r->dtd) return 0;
    }
    return (int)got;
}

typedef struct xlsx {
    builder *b;
    zip_t *za;
    uint64_t cap;
    /* shared strings: (nss) offsets into sbuf, each NUL-terminated */
    char *sbuf;
    size_t slen, scap;
    size_t *soff;
    uint32_t nss, socap;
    char sheet[96];      /* sheet name (sanitised) or part path, for messages */
} xlsx;

/* One XML part being read. */
typedef struct xpart {
    xlsx *x;
    const char *path;
    zreader zr;
    xmlTextReaderPtr r;
    char xerr[200];
    int xline;
} xpart;

static void xml_error(void *arg, xmlErrorPtr e)
{
    xpart *p = arg;
    if (p->xerr[0] || !e || e->level < XML_ERR_ERROR) return;
    snprintf(p->xerr, sizeof p->xerr, "%s", e->message ? e->message : "malformed XML");
    /* libxml2 messages may span lines ("...encoding !\nBytes: 0xF3"): keep one line */
    for (char *c = p->xerr; *c; c++)
        if ((unsigned char)*c < 0x20) *c = ' ';
    size_t n = strlen(p->xerr);
    while (n && p->xerr[n - 1] == ' ') p->xerr[--n] = 0;
    p->xline = e->line;
}

/* Opens a part; AE_ERR_NOT_FOUND (no message set) if the zip has no such entry. */
static int part_open(xlsx *x, const char *path, xpart *p)
{
    memset(p, 0, sizeof *p);
    p->x = x;
    p->path = path;
    const char *name = x->b->name;
    zip_int64_t idx = zip_name_locate(x->za, path, ZIP_FL_NOCASE);
    if (idx < 0) return AE_ERR_NOT_FOUND;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(x->za, (zip_uint64_t)idx, 0, &st) < 0)
        return ae_fail(AE_ERR_FORMAT, "%s: %s: %s", name, path, zip_strerror(x->za));
    p->zr.limit = x->cap;
    if (st.valid & ZIP_STAT_SIZE) {
        if (st.size > x->cap)
            return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: uncompressed size %llu bytes, over the "
                           "limit of %llu bytes", name, path, (unsigned long long)st.size,
                           (unsigned long long)x->cap);
        p->zr.declared = st.size;
        p->zr.limit = st.size;
    }
    p->zr.zf = zip_fopen_index(x->za, (zip_uint64_t)idx, 0);
    if (!p->zr.zf) return ae_fail(AE_ERR_FORMAT, "%s: %s: %s", name, path, zip_strerror(x->za));
    p->r = xmlReaderForIO(zr_read, NULL, &p->zr, path, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    if (!p->r) {
        zip_fclose(p->zr.zf);
        p->zr.zf = NULL;
        return ae_fail(AE_ERR_NOMEM, "%s: %s: cannot create an XML reader", name, path);
    }
    xmlTextReaderSetStructuredErrorHandler(p->r, xml_error, p);
    return AE_OK;
}

static void part_close(xpart *p)
{
    if (p->r) xmlFreeTextReader(p->r);
    if (p->zr.zf) zip_fclose(p->zr.zf);
    p->r = NULL;
    p->zr.zf = NULL;
}

/* Why reading stopped early, as a message. */
static int part_fail(xpart *p)
{
    const char *name = p->x->b->name;
    if (p->zr.over) {
        if (p->zr.limit < p->x->cap)
            return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: inflates past its declared size of %llu "
                           "bytes (a zip bomb?)", name, p->path, (unsigned long long)p->zr.declared);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s: inflates past the limit of %llu bytes", name,
                       p->path, (unsigned long long)p->x->cap);
    }
    if (p->zr.ioerr) return ae_fail(AE_ERR_FORMAT, "%s: %s: %s", name, p->path, p->zr.err);
    if (p->zr.dtd)
        return ae_fail(AE_ERR_FORMAT, "%s: %s: a DTD (<!DOCTYPE>) is not allowed in an XLSX part",
                       name, p->path);
    if (p->xerr[0])
        return ae_fail(AE_ERR_FORMAT, "%s: %s: line %d: %s", name, p->path, p->xline, p->xerr);
    return ae_fail(AE_ERR_FORMAT, "%s: %s: malformed XML", name, p->path);
}

/* Next node: 1, 0 at a clean end, or an error. Refuses DTDs and entity references. */
static int part_next(xpart *p)
{
    int r = xmlTextReaderRead(p->r);
    if (r < 0 || p->zr.over || p->zr.ioerr || p->zr.dtd) return part_fail(p);
    if (r == 0) return 0;
    int t = xmlTextReaderNodeType(p->r);
    if (t == XML_READER_TYPE_DOCUMENT_TYPE)
        return ae_fail(AE_ERR_FORMAT, "%s: %s: a DTD (<!DOCTYPE>) is not allowed in an XLSX part",
                       p->x->b->name, p->path);
    if (t == XML_READER_TYPE_ENTITY_REFERENCE)
        return ae_fail(AE_ERR_FORMAT, "%s: %s: entity references are not allowed in an XLSX part",
                       p->x->b->name, p->path);
    return 1;
}

static int is_elem(xpart *p, const char *local)
{
    const xmlChar *n = xmlTextReaderConstLocalName(p->r);
    return n && !strcmp((const char *)n, local);
}

static int is_text_node(int t)
{
    return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
           t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE || t == XML_READER_TYPE_WHITESPACE;
}

/* A growing string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n, const char *name)
{
    if (b->cap - b->n < n + 1) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc - b->n < n + 1) nc *= 2;
        char *t = realloc(b->s, nc);
        if (!t) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        b->s = t;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return AE_OK;
}

static int sb_text(sbuf *b, xpart *p)
{
    const char *v = (const char *)xmlTextReaderConstValue(p->r);
    return v ? sb_add(b, v, strlen(v), p->x->b->name) : AE_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* OOXML escapes characters XML cannot hold as _xHHHH_ (ST_Xstring); decodes them in place.
 * Surrogate escapes are left as written. */
static void unescape_x(sbuf *b)
{
    if (!b->s) return;
    size_t o = 0;
    for (size_t i = 0; i < b->n;) {
        if (i + 7 <= b->n && b->s[i] == '_' && b->s[i + 1] == 'x' && b->s[i + 6] == '_') {
            int h0 = hexval(b->s[i + 2]), h1 = hexval(b->s[i + 3]);
            int h2 = hexval(b->s[i + 4]), h3 = hexval(b->s[i + 5]);
            if (h0 >= 0 && h1 >= 0 && h2 >= 0 && h3 >= 0) {
                uint32_t cp = (uint32_t)(h0 << 12 | h1 << 8 | h2 << 4 | h3);
                if (cp < 0xD800 || cp > 0xDFFF) { /* encoded length <= 3 < 7 */
                    o += utf8_encode(cp, b->s + o);
                    i += 7;
                    continue;
                }
            }
        }
        b->s[o++] = b->s[i++];
    }
    b->n = o;
    b->s[o] = 0;
}

/* Reads the text of a string item (<si> or <is>) whose start element is current: <t>
 * directly inside it or inside rich-text runs <r>; phonetic runs <rPh> are skipped. */
static int read_string_item(xpart *p, sbuf *out)
{
    out->n = 0;
    if (out->s) out->s[0] = 0;
    if (xmlTextReaderIsEmptyElement(p->r)) return AE_OK;
    int base = xmlTextReaderDepth(p->r), in_t = 0, skip = 0, rc;
    while ((rc = part_next(p)) == 1) {
        int t = xmlTextReaderNodeType(p->r), d = xmlTextReaderDepth(p->r);
        if (t == XML_READER_TYPE_END_ELEMENT) {
            if (d == base) break;
            if (skip && d == skip) skip = 0;
            else if (in_t && d == in_t) in_t = 0;
        } else if (t == XML_READER_TYPE_ELEMENT && !skip) {
            if (is_elem(p, "rPh") && !xmlTextReaderIsEmptyElement(p->r)) skip = d;
            else if (is_elem(p, "t") && !xmlTextReaderIsEmptyElement(p->r)) in_t = d;
        } else if (is_text_node(t) && in_t && !skip && (rc = sb_text(out, p)))
            return rc;
    }
    if (rc < 0) return rc;
    if (rc == 0) return part_fail(p); /* ended inside the item */
    unescape_x(out);
    return AE_OK;
}

static int ss_push(xlsx *x, const char *s, size_t n)
{
    const char *name = x->b->name;
    if (x->nss == x->socap) {
        if (x->socap >= UINT32_MAX / 2)
            return ae_fail(AE_ERR_TOO_LARGE, "%s: too many shared strings", name);
        uint32_t nc = x->socap ? x->socap * 2 : 256;
        size_t *o = realloc(x->soff, nc * sizeof *o);
        if (!o) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        x->soff = o;
        x->socap = nc;
    }
    if (x->scap - x->slen < n + 1) {
        size_t nc = x->scap ? x->scap : 4096;
        while (nc - x->slen < n + 1) nc *= 2;
        char *t = realloc(x->sbuf, nc);
        if (!t) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        x->sbuf = t;
        x->scap = nc;
    }
    x->soff[x->nss++] = x->slen;
    memcpy(x->sbuf + x->slen, s, n);
    x->sbuf[x->slen + n] = 0;
    x->slen += n + 1;
    return AE_OK;
}

static int read_shared_strings(xlsx *x, const char *path)
{
    xpart p;
    int rc = part_open(x, path, &p);
    if (rc == AE_ERR_NOT_FOUND) return AE_OK; /* a workbook without text cells */
    if (rc) return rc;
    sbuf s = {0};
    while ((rc = part_next(&p)) == 1) {
        if (xmlTextReaderNodeType(p.r) != XML_READER_TYPE_ELEMENT || !is_elem(&p, "si")) continue;
        if ((rc = read_string_item(&p, &s)) || (rc = ss_push(x, s.s ? s.s : "", s.n))) break;
    }
    free(s.s);
    part_close(&p);
    return rc < 0 ? rc : AE_OK;
}

/* Attribute by local name (any namespace when ns_any, else none); caller xmlFree()s. */
static char *attr(xpart *p, const char *local, int ns_any)
{
    char *v = NULL;
    if (xmlTextReaderMoveToFirstAttribute(p->r) != 1) return NULL;
    do {
        const xmlChar *ln = xmlTextReaderConstLocalName(p->r);
        const xmlChar *ns = xmlTextReaderConstNamespaceUri(p->r);
        if (ln && !strcmp((const char *)ln, local) && (ns_any ? ns != NULL : ns == NULL)) {
            v = (char *)xmlTextReaderValue(p->r);
            break;
        }
    } while (xmlTextReaderMoveToNextAttribute(p->r) == 1);
    xmlTextReaderMoveToElement(p->r);
    return v;
}

/* Resolves a relationship target against xl/ into out ("" if it leaves the package). */
static void resolve_target(const char *target, char *out, size_t cap)
{
    char tmp[512];
    if (target[0] == '/') snprintf(tmp, sizeof tmp, "%s", target + 1);
    else snprintf(tmp, sizeof tmp, "xl/%s", target);
    /* fold "." and ".." segments */
    size_t o = 0;
    out[0] = 0;
    for (char *seg = tmp, *next; seg; seg = next) {
        next = strchr(seg, '/');
        if (next) *next++ = 0;
        if (!*seg || !strcmp(seg, ".")) continue;
        if (!strcmp(seg, "..")) {
            if (!o) { out[0] = 0; return; }
            while (o && out[o - 1] != '/') o--;
            if (o) o--;
            out[o] = 0;
            continue;
        }
        int n = snprintf(out + o, cap - o, "%s%s", o ? "/" : "", seg);
        if (n < 0 || (size_t)n >= cap - o) { out[0] = 0; return; }
        o += (size_t)n;
    }
}

/* Finds the first sheet's part and the shared strings part. */
static int find_parts(xlsx *x, char *sheet_path, size_t scap, char *ss_path, size_t sscap)
{
    snprintf(sheet_path, scap, "xl/worksheets/sheet1.xml");
    snprintf(ss_path, sscap, "xl/sharedStrings.xml");
    sanitize(sheet_path, strlen(sheet_path), x->sheet, sizeof x->sheet, 64);
    xpart p;
    char *rid = NULL;
    int rc = part_open(x, "xl/workbook.xml", &p);
    if (rc == AE_ERR_NOT_FOUND) return AE_OK;
    if (rc) return rc;
    while ((rc = part_next(&p)) == 1) {
        if (xmlTextReaderNodeType(p.r) != XML_READER_TYPE_ELEMENT || !is_elem(&p, "sheet")) continue;
        char *nm = attr(&p, "name", 0);
        rid = attr(&p, "id", 1);
        if (nm) sanitize(nm, strlen(nm), x->sheet, sizeof x->sheet, 64);
        xmlFree(nm);
        break;
    }
    part_close(&p);
    if (rc < 0) { xmlFree(rid); return rc; }
    rc = part_open(x, "xl/_rels/workbook.xml.rels", &p);
    if (rc == AE_ERR_NOT_FOUND) { xmlFree(rid); return AE_OK; }
    if (rc) { xmlFree(rid); return rc; }
    while ((rc = part_next(&p)) == 1) {
        if (xmlTextReaderNodeType(p.r) != XML_READER_TYPE_ELEMENT || !is_elem(&p, "Relationship"))
            continue;
        char *id = attr(&p, "Id", 0), *target = attr(&p, "Target", 0), *type = attr(&p, "Type", 0);
        char *mode = attr(&p, "TargetMode", 0);
        if (target && !(mode && !strcmp(mode, "External"))) {
            size_t tl = type ? strlen(type) : 0;
            if (rid && id && !strcmp(id, rid)) resolve_target(target, sheet_path, scap);
            else if (tl >= 14 && !strcmp(type + tl - 14, "/sharedStrings"))
                resolve_target(target, ss_path, sscap);
        }
        xmlFree(id);
        xmlFree(target);
        xmlFree(type);
        xmlFree(mode);
    }
    part_close(&p);
    xmlFree(rid);
    return rc < 0 ? rc : AE_OK;
}

/* "B12" -> col 2, row 12. Returns 0 on success. */
static int parse_ref(const char *s, int32_t *col, int64_t *row)
{
    int32_t c = 0;
    int64_t r = 0;
    size_t i = 0;
    for (; (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'); i++) {
        c = c * 26 + ((s[i] | 0x20) - 'a' + 1);
        if (c > 16384) return -1;
    }
    if (!i || s[i] < '0' || s[i] > '9') return -1;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        r = r * 10 + (s[i] - '0');
        if (r > 1048576) return -1;
    }
    if (s[i] || r < 1) return -1;
    *col = c;
    *row = r;
    return 0;
}

/* The cell being read. */
typedef struct cell {
    int32_t col;
    int64_t row;
    char type[12];
    int has_f, has_v, has_is;
    sbuf v, is, f;
} cell;

/* The cell's value as text (empty: skip). Points into c or x. */
static int cell_value(xlsx *x, cell *c, const char **out, size_t *n)
{
    const char *name = x->b->name;
    char ref[16];
    col_letters(c->col, ref);
    snprintf(ref + strlen(ref), sizeof ref - strlen(ref), "%lld", (long long)c->row);
    if (!strcmp(c->type, "str") || !strcmp(c->type, "inlineStr")) unescape_x(&c->v);
    const char *v = c->v.s ? c->v.s : "";
    *out = "";
    *n = 0;
    if (c->has_f && !c->has_v) {
        char ftxt[64];
        sanitize(c->f.s ? c->f.s : "", c->f.n, ftxt, sizeof ftxt, 40);
        return ae_fail(AE_ERR_FORMAT, "%s: sheet '%s' cell %s: formula '=%s' has no cached value; "
                       "open and save the file in a spreadsheet program to compute it", name,
                       x->sheet, ref, ftxt);
    }
    if (!strcmp(c->type, "s")) {
        if (!c->has_v) return AE_OK;
        char *end;
        const char *q = v;
        while (*q == ' ') q++;
        errno = 0;
        unsigned long long idx = *q >= '0' && *q <= '9' ? strtoull(q, &end, 10) : 0;
        if (!(*q >= '0' && *q <= '9') || errno || (*end && *end != ' ')) {
            char vt[48];
            sanitize(v, c->v.n, vt, sizeof vt, 24);
            return ae_fail(AE_ERR_FORMAT, "%s: sheet '%s' cell %s: shared string index '%s' is "
                           "not a number", name, x->sheet, ref, vt);
        }
        if (idx >= x->nss)
            return ae_fail(AE_ERR_FORMAT, "%s: sheet '%s' cell %s: shared string index %llu out "
                           "of range (%u strings)", name, x->sheet, ref, idx, x->nss);
        *out = x->sbuf + x->soff[idx];
        *n = strlen(*out);
    } else if (!strcmp(c->type, "inlineStr")) {
        sbuf *s = c->has_is ? &c->is : &c->v;
        *out = s->s ? s->s : "";
        *n = s->n;
    } else if (!strcmp(c->type, "e")) {
        return AE_OK; /* #N/A, #REF!, ...: no name */
    } else if (!strcmp(c->type, "b")) {
        *out = !strcmp(v, "1") ? "TRUE" : !strcmp(v, "0") ? "FALSE" : v;
        *n = strlen(*out);
    } else { /* "n" (numbers as stored), "str" (formula text), "d" (ISO dates) */
        *out = v;
        *n = c->v.n;
    }
    return AE_OK;
}

/* A data cell of the chosen column: its value becomes a name. */
static int take_cell(xlsx *x, cell *c)
{
    const char *val;
    size_t vn;
    int rc = cell_value(x, c, &val, &vn);
    if (rc) return rc;
    loc l = {.sheet = x->sheet, .line = c->row, .col = c->col};
    return add_name(x->b, val, vn, &l);
}

static int read_sheet(xlsx *x, const char *path)
{
    builder *b = x->b;
    xpart p;
    int rc = part_open(x, path, &p);
    if (rc == AE_ERR_NOT_FOUND)
        return ae_fail(AE_ERR_NOT_FOUND, "%s: no worksheet (%s is missing)", b->name, path);
    if (rc) return rc;
    const char *want = b->p.column;
    int header = b->p.header, best = 0;
    int32_t target = 1, hcol = 0;
    int64_t row = 0, hrow = -1;
    int32_t prev_col = 0;
    cell c;
    memset(&c, 0, sizeof c);
    header_list hl = {{0}, 0};
    int in = 0; /* 1: inside <v>, 2: inside <f> */
    int pending = 0, in_data = 0;
    int cdepth = -1;
    while ((rc = part_next(&p)) == 1) {
        int t = xmlTextReaderNodeType(p.r);
        int end_cell = 0;
        if (t == XML_READER_TYPE_ELEMENT) {
            int empty = xmlTextReaderIsEmptyElement(p.r);
            if (is_elem(&p, "sheetData")) {
                in_data = !empty;
                continue;
            }
            if (!in_data) continue; /* extensions after the data (sparklines) have <f> too */
            if (is_elem(&p, "row")) {
                char *r = attr(&p, "r", 0);
                char *e;
                long long rv = r ? strtoll(r, &e, 10) : 0;
                row = r && *r && !*e && rv >= 1 && rv <= 1048576 ? rv : row + 1;
                xmlFree(r);
                prev_col = 0;
                /* a header row candidate ends with its row */
            } else if (is_elem(&p, "c")) {
                char *r = attr(&p, "r", 0), *ty = attr(&p, "t", 0);
                int32_t cc;
                int64_t rr;
                if (r && parse_ref(r, &cc, &rr) == 0) {
                    c.col = cc;
                    c.row = rr;
                } else if (r) {
                    char rt[32];
                    sanitize(r, strlen(r), rt, sizeof rt, 16);
                    xmlFree(r);
                    xmlFree(ty);
                    rc = ae_fail(AE_ERR_FORMAT, "%s: sheet '%s': bad cell reference '%s'", b->name,
                                 x->sheet, rt);
                    break;
                } else {
                    c.col = prev_col + 1;
                    c.row = row;
                }
                snprintf(c.type, sizeof c.type, "%s", ty ? ty : "n");
                xmlFree(r);
                xmlFree(ty);
                prev_col = c.col;
                c.has_f = c.has_v = c.has_is = 0;
                c.v.n = c.is.n = c.f.n = 0;
                if (c.v.s) c.v.s[0] = 0;
                if (c.f.s) c.f.s[0] = 0;
                if (empty) end_cell = 1;
                else cdepth = xmlTextReaderDepth(p.r);
            } else if (cdepth >= 0 && is_elem(&p, "v")) {
                c.has_v = 1;
                in = empty ? 0 : 1;
            } else if (cdepth >= 0 && is_elem(&p, "f")) {
                c.has_f = 1;
                in = empty ? 0 : 2;
            } else if (cdepth >= 0 && is_elem(&p, "is")) {
                c.has_is = 1;
                if ((rc = read_string_item(&p, &c.is))) break;
            }
        } else if (t == XML_READER_TYPE_END_ELEMENT) {
            if (is_elem(&p, "sheetData")) in_data = 0;
            else if (cdepth >= 0 && xmlTextReaderDepth(p.r) == cdepth && is_elem(&p, "c")) end_cell = 1;
            else if (in && (is_elem(&p, "v") || is_elem(&p, "f"))) in = 0;
            else if (is_elem(&p, "row") && header && hrow >= 0 && row == hrow) {
                pending = 0;
                goto header_done;
            }
        } else if (is_text_node(t) && in) {
            if ((rc = sb_text(in == 1 ? &c.v : &c.f, &p))) break;
        }
        if (end_cell) {
            cdepth = -1;
            in = 0;
            if (header && hrow >= 0 && c.row != hrow) {
                pending = 1; /* the first cell after the header row: data */
                goto header_done;
            }
            if (!header) {
                if (c.col == target && (rc = take_cell(x, &c))) break;
                continue;
            }
            /* looking for the header row: every cell counts */
            const char *val;
            size_t vn;
            char h[256];
            if ((rc = cell_value(x, &c, &val, &vn))) break;
            size_t hn = header_text(val, vn, h, sizeof h);
            if (hn == 0) continue;
            hrow = c.row;
            header_list_add(&hl, h);
            int m = hn == (size_t)-1 || !want ? 0 : header_match(h, want);
            if (m && (!best || m < best)) { best = m; hcol = c.col; }
        }
        continue;
    header_done:
        /* the header row is complete: choose the column, then read data (this cell too) */
        if (want && !best) {
            char w[64];
            sanitize(want, strlen(want), w, sizeof w, 40);
            rc = ae_fail(AE_ERR_NOT_FOUND, "%s: sheet '%s': column '%s' not found (columns: %s)",
                         b->name, x->sheet, w, hl.text);
            break;
        }
        target = want ? hcol : 1;
        header = 0;
        if (pending && c.col == target && (rc = take_cell(x, &c))) break;
    }
    if (rc == 0 && header && hrow >= 0) { /* the sheet ended on the header row */
        if (want && !best) {
            char w[64];
            sanitize(want, strlen(want), w, sizeof w, 40);
            rc = ae_fail(AE_ERR_NOT_FOUND, "%s: sheet '%s': column '%s' not found (columns: %s)",
                         b->name, x->sheet, w, hl.text);
        }
        target = want ? hcol : 1;
    }
    free(c.v.s);
    free(c.is.s);
    free(c.f.s);
    part_close(&p);
    if (rc < 0) return rc;
    if (!b->n) {
        char letters[8];
        col_letters(target, letters);
        if (b->p.header && hrow < 0)
            return ae_fail(AE_ERR_INVALID, "%s: sheet '%s': no class names (the sheet is empty)",
                           b->name, x->sheet);
        return ae_fail(AE_ERR_INVALID, "%s: sheet '%s': no class names in column %s", b->name,
                       x->sheet, letters);
    }
    return AE_OK;
}

static int parse_xlsx(builder *b, const void *data, size_t size)
{
    pthread_once(&xml_once, xml_init);
    xlsx x;
    memset(&x, 0, sizeof x);
    x.b = b;
    x.cap = b->p.max_bytes;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
    if (!src) {
        int rc = ae_fail(AE_ERR_NOMEM, "%s: %s", b->name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    x.za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!x.za) {
        int rc = ae_fail(AE_ERR_FORMAT, "%s: not a readable zip archive (%s); the XLSX file is "
                         "truncated or damaged", b->name, zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        return rc;
    }
    zip_error_fini(&ze);
    int rc;
    char sheet[512], ss[512];
    if (zip_name_locate(x.za, "xl/workbook.bin", ZIP_FL_NOCASE) >= 0) {
        rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: binary Excel workbooks (.xlsb) are not supported; "
                     "save it as .xlsx or .csv", b->name);
        goto done;
    }
    if (zip_name_locate(x.za, "xl/workbook.xml", ZIP_FL_NOCASE) < 0 &&
        zip_name_locate(x.za, "xl/worksheets/sheet1.xml", ZIP_FL_NOCASE) < 0) {
        if (zip_name_locate(x.za, "content.xml", 0) >= 0)
            rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: OpenDocument spreadsheets (.ods) are not "
                         "supported; save it as .xlsx or .csv", b->name);
        else
            rc = ae_fail(AE_ERR_FORMAT, "%s: a zip archive but not an XLSX workbook (no "
                         "xl/workbook.xml)", b->name);
        goto done;
    }
    if ((rc = find_parts(&x, sheet, sizeof sheet, ss, sizeof ss))) goto done;
    if (!sheet[0]) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: the first sheet's target leaves the package", b->name);
        goto done;
    }
    size_t sl = strlen(sheet);
    if (sl > 4 && !strcasecmp(sheet + sl - 4, ".bin")) {
        rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: binary Excel workbooks (.xlsb) are not supported; "
                     "save it as .xlsx or .csv", b->name);
        goto done;
    }
    if (ss[0] && (rc = read_shared_strings(&x, ss))) goto done;
    rc = read_sheet(&x, sheet);
done:
    zip_discard(x.za);
    free(x.sbuf);
    free(x.soff);
    return rc;
}

/* ---- entry points ----------------------------------------------------------------------- */

int ae_classlist_parse(const void *data, size_t size, const char *name,
                       const ae_classlist_params *params, ae_classlist *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_classlist_parse: out is NULL");
    out->n = 0;
    out->names = NULL;
    if (!name || !*name) name = "classes";
    if (!data && size) return ae_fail(AE_ERR_INVALID, "%s: data is NULL", name);
    ae_classlist_params p = resolve_params(params);
    if (p.column) {
        normerr e;
        if (normalise((const uint8_t *)p.column, strlen(p.column), NULL, &e) < 0)
            return ae_fail(AE_ERR_INVALID, "%s: the column name is not valid text", name);
    }
    if (size > p.max_bytes)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %zu bytes, larger than the limit of %zu bytes",
                       name, size, p.max_bytes);
    if (!size) return ae_fail(AE_ERR_INVALID, "%s: no class names (the file is empty)", name);
    const uint8_t *u = data;
    int fmt = ext_format(name);
    builder b;
    builder_init(&b, name, &p);
    int rc;
    if (size >= 4 && !memcmp(u, "PK\x03\x04", 4)) rc = parse_xlsx(&b, data, size);
    else if (size >= 4 && !memcmp(u, "PK\x05\x06", 4))
        rc = ae_fail(AE_ERR_FORMAT, "%s: an empty zip archive, not an XLSX workbook", name);
    else if (size >= 8 && !memcmp(u, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: legacy Excel .xls or password-protected workbook "
                     "(an OLE2 file) is not supported; save it as .xlsx or .csv", name);
    else if (fmt == FMT_XLSX)
        rc = ae_fail(AE_ERR_FORMAT, "%s: not an XLSX file (no zip signature)", name);
    else rc = parse_text(&b, data, size, fmt);
    if (!rc) rc = finish(&b, out);
    builder_free(&b);
    return rc;
}

int ae_classlist_load(const char *path, const ae_classlist_params *params, ae_classlist *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_classlist_load: out is NULL");
    out->n = 0;
    out->names = NULL;
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "ae_classlist_load: no path");
    ae_classlist_params p = resolve_params(params);
    errno = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ae_fail(errno == ENOENT ? AE_ERR_NOT_FOUND : AE_ERR_IO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        int rc = ae_fail(AE_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "is a directory");
        close(fd);
        return rc;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > p.max_bytes) {
        close(fd);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %lld bytes, larger than the limit of %zu bytes",
                       path, (long long)st.st_size, p.max_bytes);
    }
    /* regular files: their size; pipes: grow, but never past max_bytes + 1 */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
    char *buf = malloc(cap);
    int rc = AE_OK;
    if (!buf) { close(fd); return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            if (cap > p.max_bytes) {
                rc = ae_fail(AE_ERR_TOO_LARGE, "%s: larger than the limit of %zu bytes", path,
                             p.max_bytes);
                break;
            }
            size_t nc = cap * 2 > p.max_bytes + 1 ? p.max_bytes + 1 : cap * 2;
            char *t = realloc(buf, nc);
            if (!t) { rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path); break; }
            buf = t;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { rc = ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno)); break; }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (!rc) rc = ae_classlist_parse(buf, n, path, &p, out);
    free(buf);
    return rc;
}

int ae_classlist_from_strings(const char *const *names, int32_t n, const char *name,
                              const ae_classlist_params *params, ae_classlist *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_classlist_from_strings: out is NULL");
    out->n = 0;
    out->names = NULL;
    if (!name || !*name) name = "classes";
    if (n < 0 || (n && !names)) return ae_fail(AE_ERR_INVALID, "%s: bad name array", name);
    ae_classlist_params p = resolve_params(params);
    builder b;
    builder_init(&b, name, &p);
    loc l = {.entry = 1};
    int rc = AE_OK;
    for (int32_t i = 0; i < n && !rc; i++) {
        l.line = i + 1;
        if (names[i]) rc = add_name(&b, names[i], strlen(names[i]), &l);
    }
    if (!rc && !b.n) rc = ae_fail(AE_ERR_INVALID, "%s: no class names", name);
    if (!rc) rc = finish(&b, out);
    builder_free(&b);
    return rc;
}

int ae_classlist_imagenet(ae_classlist *out)
{
    /* all 1000 entries, duplicates included: see classlist.h */
    ae_classlist_params p = ae_classlist_default_params();
    p.keep_duplicates = 1;
    return ae_classlist_from_strings(ae_imagenet_class_names, 1000, "imagenet", &p, out);
}
