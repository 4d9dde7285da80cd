/*
 * xmp.c — XMP sidecars (xmp.h): sidecar names, reading a sidecar (libxml2 checks that it is
 * well-formed XMP, then exempi parses it), setting xmp:Rating and the aesthete fields through
 * exempi's property calls, serialising with exempi and writing through fileio.h's atomic file.
 * No XMP text is put together here: exempi parses and serialises all of it.
 */
#define _GNU_SOURCE /* st_mtim */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exempi/xmp.h>
#include <exempi/xmpconsts.h>
#include <exempi/xmperrors.h>
#include <libxml/xmlreader.h>

#include "error.h"
#include "fileio.h"
#include "xmp.h"
#include "utf8.h"

#define RDF_NS "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define META_NS "adobe:ns:meta/"

/* ---- exempi, once ------------------------------------------------------------------------ */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ready; /* written once inside pthread_once, read after it */

static void init(void)
{
    xmlInitParser();
    if (!xmp_init()) return;
    XmpStringPtr prefix = xmp_string_new();
    if (!prefix) return;
    /* the registered prefix may differ ("aesthete_1_") if this process registered another URI
     * under "aesthete" first; the URI is what counts */
    ready = xmp_register_namespace(AE_XMP_NS, AE_XMP_PREFIX, prefix);
    xmp_string_free(prefix);
}

static int start(const char *path)
{
    pthread_once(&once, init);
    if (!ready)
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: exempi could not be initialised (error %d)", path,
                       xmp_get_error());
    return AE_OK;
}

/* exempi gives a code, no text (it prints its own text to stderr) */
static const char *xmp_cause(int e)
{
    switch (e) {
    case XMPErr_BadXML: return "not well-formed XML";
    case XMPErr_BadRDF: return "malformed RDF";
    case XMPErr_BadXMP: return "malformed XMP";
    case XMPErr_BadUnicode: return "invalid Unicode";
    case XMPErr_BadSchema: return "bad namespace";
    case XMPErr_BadXPath: return "bad property path";
    case XMPErr_BadValue: return "bad value";
    case XMPErr_BadSerialize: return "cannot serialise";
    case XMPErr_NoMemory: return "out of memory";
    case 0: return "failed";
    default: return "error";
    }
}

/* A failed exempi call: "path: what: cause (exempi error N)"; out of memory as AE_ERR_NOMEM. */
static int xmp_fail(int rc, const char *path, const char *what)
{
    int e = xmp_get_error();
    if (e == XMPErr_NoMemory) rc = AE_ERR_NOMEM;
    return ae_fail(rc, "%s: %s: %s (exempi error %d)", path, what, xmp_cause(e), -e);
}

/* ---- names ------------------------------------------------------------------------------- */

int ae_xmp_sidecar_path(const char *image, ae_xmp_naming naming, char *out, size_t cap)
{
    if (out && cap) out[0] = 0;
    if (!image || !out || !cap)
        return ae_fail(AE_ERR_INVALID, "ae_xmp_sidecar_path: NULL argument");
    if (naming != AE_XMP_NAME_BASE && naming != AE_XMP_NAME_EXT)
        return ae_fail(AE_ERR_INVALID, "%s: unknown sidecar naming %d", image, (int)naming);
    const char *name = strrchr(image, '/');
    name = name ? name + 1 : image;
    if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return ae_fail(AE_ERR_INVALID, "%s: not a file name", image[0] ? image : "\"\"");
    size_t keep = strlen(image);
    if (naming == AE_XMP_NAME_BASE) {
        const char *dot = strrchr(name, '.');
        if (dot && dot > name) keep = (size_t)(dot - image); /* a leading dot is no extension */
    }
    if (keep > cap - 1 || cap - 1 - keep < 4)
        return ae_fail(AE_ERR_INVALID, "%s: the sidecar path is longer than %zu bytes", image,
                       cap - 1);
    memcpy(out, image, keep);
    memcpy(out + keep, ".xmp", 5);
    return AE_OK;
}

/* ---- text -------------------------------------------------------------------------------- */

/* 1 if s is valid UTF-8 without control characters. */
static int plain_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        uint32_t c;
        size_t k = ae_utf8_decode(p, n, &c);
        if (!k || c < 0x20 || (c >= 0x7F && c < 0xA0)) return 0;
        p += k;
        n -= k;
    }
    return 1;
}

/* Copies src into dst (cap > 0 bytes), cut at a character boundary if it does not fit. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* A whole finite number (strtod: "3", "3.0", "-1"): 1 and *v, else 0. */
static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(d)) return 0;
    *v = d;
    return 1;
}

static void fmt_score(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.4f", v);
    if (!strcmp(buf, "-0.0000")) snprintf(buf, cap, "0.0000");
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct xcheck {
    char err[200];
    int line;
} xcheck;

static void xml_error(void *arg, xmlErrorPtr e)
{
    xcheck *c = arg;
    if (c->err[0] || !e || e->level < XML_ERR_ERROR) return;
    snprintf(c->err, sizeof c->err, "%s", e->message ? e->message : "malformed XML");
    /* libxml2 messages may span lines ("...encoding !\nBytes: 0xF3"): keep one line */
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    size_t n = strlen(c->err);
    while (n && c->err[n - 1] == ' ') c->err[--n] = 0;
    c->line = e->line;
}

static int is(const xmlChar *a, const char *b) { return a && !strcmp((const char *)a, b); }

/* An rdf:Alt being read. Adobe's toolkit inside exempi (NormalizeLangArray) gives the second
 * item of a language alternative of exactly two items, one of them x-default, the x-default
 * item's text whenever it parses or serialises ("older Adobe apps only used x-default"): a
 * title in x-default and de-DE would come out with the German text gone. Such a sidecar is
 * refused, not rewritten. */
typedef struct alt {
    int depth;       /* of the open rdf:Alt element; -1: none */
    int items, complex;
    xmlChar *lang[2]; /* xml:lang of the first two items */
    char *text[2];    /* their text, len[i] bytes */
    size_t len[2], cap[2];
    char prop[96];    /* the property holding it, for the message */
} alt;

static void alt_reset(alt *a, int depth)
{
    for (int i = 0; i < 2; i++) {
        if (a->lang[i]) xmlFree(a->lang[i]);
        a->lang[i] = NULL;
        a->len[i] = 0;
    }
    a->depth = depth;
    a->items = a->complex = 0;
}

static int alt_text(alt *a, const char *t)
{
    int i = a->items - 1;
    size_t n = strlen(t);
    if (a->len[i] + n + 1 > a->cap[i]) {
        size_t c = 2 * (a->len[i] + n + 1);
        char *p = realloc(a->text[i], c);
        if (!p) return AE_ERR_NOMEM;
        a->text[i] = p;
        a->cap[i] = c;
    }
    memcpy(a->text[i] + a->len[i], t, n);
    a->len[i] += n;
    return AE_OK;
}

/* At the end of an rdf:Alt: would exempi lose one of its texts? */
static int alt_lossy(const alt *a)
{
    if (a->items != 2 || a->complex || !a->lang[0] || !a->lang[1]) return 0;
    if (strcasecmp((const char *)a->lang[0], "x-default") &&
        strcasecmp((const char *)a->lang[1], "x-default"))
        return 0;
    return a->len[0] != a->len[1] || (a->len[0] && memcmp(a->text[0], a->text[1], a->len[0]));
}

/* Is data[0..n) well-formed XML whose root is x:xmpmeta/x:xapmeta holding rdf:RDF, or rdf:RDF?
 * Exempi would take any XML ("<html/>" parses as empty XMP, and overwriting it would lose the
 * file) and prints its errors; libxml2 says why, with a line, and prints nothing. writing:
 * also refuse the language alternatives that exempi would damage. */
static int check_xml(const char *path, const char *data, size_t n, int writing)
{
    if (n == 0) return ae_fail(AE_ERR_FORMAT, "%s: not XMP: an empty file", path);
    xcheck c = {{0}, 0};
    xmlTextReaderPtr r = xmlReaderForMemory(data, (int)n, NULL, NULL, XML_PARSE_NONET);
    if (!r) return ae_fail(AE_ERR_NOMEM, "%s: cannot create an XML reader", path);
    xmlTextReaderSetStructuredErrorHandler(r, xml_error, &c);
    alt a = {.depth = -1};
    int root = 0, meta = 0, rdf = 0, rc = AE_OK, k;
    const char *why = NULL;
    char rootname[96] = "", last[96] = "";
    while (rc == AE_OK && (k = xmlTextReaderRead(r)) == 1 && !c.err[0]) {
        int t = xmlTextReaderNodeType(r), d = xmlTextReaderDepth(r);
        if (t == XML_READER_TYPE_DOCUMENT_TYPE) {
            why = "a DTD (<!DOCTYPE>) is not allowed";
            break;
        }
        if (a.depth >= 0 && d == a.depth + 2 &&
            (t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
             t == XML_READER_TYPE_WHITESPACE || t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE)) {
            const xmlChar *v = xmlTextReaderConstValue(r);
            if (a.items >= 1 && a.items <= 2 && v && alt_text(&a, (const char *)v))
                rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
            continue;
        }
        const xmlChar *ns = xmlTextReaderConstNamespaceUri(r), *ln = xmlTextReaderConstLocalName(r);
        int is_rdf = is(ns, RDF_NS);
        if (t == XML_READER_TYPE_END_ELEMENT) {
            if (d == a.depth && is_rdf && is(ln, "Alt")) {
                if (writing && alt_lossy(&a)) {
                    const char *other = (const char *)a.lang[strcasecmp((const char *)a.lang[0],
                                                                        "x-default") ? 0 : 1];
                    rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: %s: its x-default and %.32s texts "
                                 "differ, and exempi would overwrite the %.32s one with "
                                 "x-default's; left as it is", path, a.prop, other, other);
                }
                alt_reset(&a, -1);
            }
            continue;
        }
        if (t != XML_READER_TYPE_ELEMENT) continue;
        if (a.depth >= 0 && d == a.depth + 1 && is_rdf && is(ln, "li") && ++a.items <= 2)
            a.lang[a.items - 1] = xmlTextReaderGetAttributeNs(r, (const xmlChar *)"lang",
                                                              XML_XML_NAMESPACE);
        else if (a.depth >= 0 && d > a.depth + 1) a.complex = 1;
        if (is_rdf && is(ln, "Alt") && !xmlTextReaderIsEmptyElement(r)) {
            alt_reset(&a, d); /* an Alt inside another: the outer one is no language alternative */
            snprintf(a.prop, sizeof a.prop, "%s", last);
        }
        const xmlChar *qn = xmlTextReaderConstName(r);
        snprintf(last, sizeof last, "%s", qn ? (const char *)qn : "?");
        if (d == 0) {
            root = 1;
            meta = is(ns, META_NS) && (is(ln, "xmpmeta") || is(ln, "xapmeta"));
            rdf = is_rdf && is(ln, "RDF");
            snprintf(rootname, sizeof rootname, "%s", last);
        } else if (d == 1 && meta && is_rdf && is(ln, "RDF")) rdf = 1;
    }
    if (rc) {
    } else if (!why && (k < 0 || c.err[0])) {
        if (c.err[0]) rc = ae_fail(AE_ERR_FORMAT, "%s: not XMP: line %d: %s", path, c.line, c.err);
        else rc = ae_fail(AE_ERR_FORMAT, "%s: not XMP: malformed XML", path);
    } else if (why) rc = ae_fail(AE_ERR_FORMAT, "%s: not XMP: %s", path, why);
    else if (!root) rc = ae_fail(AE_ERR_FORMAT, "%s: not XMP: no XML element", path);
    else if (!rdf) {
        for (char *p = rootname; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F) *p = '?';
        if (meta) rc = ae_fail(AE_ERR_FORMAT, "%s: not XMP: no rdf:RDF in <%s>", path, rootname);
        else rc = ae_fail(AE_ERR_FORMAT, "%s: not XMP: the root element is <%s>, not x:xmpmeta "
                          "or rdf:RDF", path, rootname);
    }
    alt_reset(&a, -1);
    free(a.text[0]);
    free(a.text[1]);
    xmlFreeTextReader(r);
    return rc;
}

/* An open sidecar: its parsed XMP (empty if there was no file) and what the file was. */
typedef struct sidecar {
    XmpPtr x;
    int exists;
    struct stat st;
} sidecar;

static int sidecar_load(const char *path, int writing, sidecar *s)
{
    memset(s, 0, sizeof *s);
    if (lstat(path, &s->st) != 0) {
        if (errno != ENOENT) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
        if (!(s->x = xmp_new_empty())) return xmp_fail(AE_ERR_NOMEM, path, "cannot create XMP");
        return AE_OK;
    }
    s->exists = 1;
    if (S_ISLNK(s->st.st_mode))
        return ae_fail(AE_ERR_FORMAT, "%s: a symbolic link, not a sidecar file; left as it is",
                       path);
    if (!S_ISREG(s->st.st_mode))
        return ae_fail(AE_ERR_FORMAT, "%s: not a regular file (%s)", path,
                       S_ISDIR(s->st.st_mode) ? "a folder" : "a device, pipe or socket");
    if ((uint64_t)s->st.st_size > AE_XMP_MAX_BYTES)
        return ae_fail(AE_ERR_FORMAT, "%s: %lld bytes, larger than the limit of %zu bytes for a "
                       "sidecar", path, (long long)s->st.st_size, AE_XMP_MAX_BYTES);
    char *data;
    size_t n;
    int rc = ae_file_read(path, AE_XMP_MAX_BYTES, &data, &n);
    if (rc == AE_ERR_TOO_LARGE) /* it grew since lstat */
        return ae_fail(AE_ERR_FORMAT, "%s: larger than the limit of %zu bytes for a sidecar",
                       path, AE_XMP_MAX_BYTES);
    if (rc) return rc;
    if ((rc = check_xml(path, data, n, writing)) == AE_OK) {
        if (!(s->x = xmp_new_empty())) rc = xmp_fail(AE_ERR_NOMEM, path, "cannot create XMP");
        else if (!xmp_parse(s->x, data, n)) rc = xmp_fail(AE_ERR_FORMAT, path, "not XMP");
    }
    free(data);
    return rc;
}

static void sidecar_free(sidecar *s)
{
    if (s->x) xmp_free(s->x);
    s->x = NULL;
}

/* ---- the fields -------------------------------------------------------------------------- */

enum { F_RATING, F_ROLE, F_KIND, F_GROUP, F_SCORE, F_METHOD, NF };

static const struct {
    const char *ns, *name, *label;
} field[NF] = {
    {NS_XAP, "Rating", "rating"},
    {AE_XMP_NS, "Role", AE_XMP_PREFIX ":Role"},
    {AE_XMP_NS, "Kind", AE_XMP_PREFIX ":Kind"},
    {AE_XMP_NS, "Group", AE_XMP_PREFIX ":Group"},
    {AE_XMP_NS, "Score", AE_XMP_PREFIX ":Score"},
    {AE_XMP_NS, "Method", AE_XMP_PREFIX ":Method"},
};

/* A property's value into v: 1 present (*simple: not a struct or an array), 0 absent, or a
 * negative AE_ERR_*. */
static int prop_get(const char *path, XmpPtr x, int i, XmpStringPtr v, int *simple)
{
    uint32_t bits = 0;
    *simple = 0;
    if (xmp_get_property(x, field[i].ns, field[i].name, v, &bits)) {
        *simple = XMP_IS_PROP_SIMPLE(bits);
        return 1;
    }
    if (xmp_get_error()) return xmp_fail(AE_ERR_FORMAT, path, field[i].label);
    return 0;
}

static int word_in(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcmp(s, *words)) return 1;
    return 0;
}

static int check_fields(const char *path, const ae_xmp_fields *f)
{
    static const char *const kinds[] = {"exact", "near", "burst", "single", NULL};
    static const char *const roles[] = {"keep", "reject", "single", NULL};
    if (f->rating < -1 || f->rating > 5)
        return ae_fail(AE_ERR_INVALID, "%s: rating %d is outside -1..5", path, (int)f->rating);
    if (!isfinite(f->score))
        return ae_fail(AE_ERR_INVALID, "%s: the score is not a finite number", path);
    if (f->kind && !word_in(f->kind, kinds))
        return ae_fail(AE_ERR_INVALID, "%s: kind must be exact, near, burst or single", path);
    if (f->role && !word_in(f->role, roles))
        return ae_fail(AE_ERR_INVALID, "%s: role must be keep, reject or single", path);
    const char *text[2] = {f->group, f->method}, *what[2] = {"group", "method"};
    for (int i = 0; i < 2; i++) {
        if (!text[i]) continue;
        if (strlen(text[i]) >= AE_XMP_MAX_TEXT)
            return ae_fail(AE_ERR_INVALID, "%s: the %s is longer than %d bytes", path, what[i],
                           AE_XMP_MAX_TEXT - 1);
        if (!plain_text(text[i]))
            return ae_fail(AE_ERR_INVALID, "%s: the %s is not UTF-8 text without control "
                           "characters", path, what[i]);
    }
    return AE_OK;
}

/* A bounded line being built; cut (never overrun) when full. */
typedef struct line {
    char b[1024];
    size_t n;
} line;

static void add(line *l, const char *fmt, ...) AE_PRINTF(2, 3);
static void add(line *l, const char *fmt, ...)
{
    if (l->n >= sizeof l->b - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->b + l->n, sizeof l->b - l->n, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k < sizeof l->b - l->n ? (size_t)k : sizeof l->b - 1 - l->n;
}

/* An old value for the summary: one line, at most 64 bytes. */
static void add_value(line *l, const char *v)
{
    char t[68];
    copy_cut(t, 65, v);
    if (strlen(v) > 64) strcat(t, "...");
    for (char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F) *p = ' ';
    add(l, "%s", t);
}

/* The sidecar unchanged since st was taken (exists) / still absent (!exists)? */
static int same_file(const char *path, const sidecar *s)
{
    struct stat now;
    if (lstat(path, &now) != 0) return !s->exists && errno == ENOENT;
    return s->exists && now.st_dev == s->st.st_dev && now.st_ino == s->st.st_ino &&
           now.st_size == s->st.st_size && now.st_mtim.tv_sec == s->st.st_mtim.tv_sec &&
           now.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec;
}

/* Exempi's serialisation of s, checked to read back as the sidecar will be read: its
 * serialiser writes some parsed values unescaped (an rdf:about holding a '"' comes out as
 * rdf:about="a"b"), and a sidecar no tool can read must never replace one they can. */
static int serialise(const char *path, const sidecar *s, XmpStringPtr out)
{
    if (!xmp_serialize(s->x, out, XMP_SERIAL_OMITPACKETWRAPPER, 0))
        return xmp_fail(AE_ERR_FORMAT, path, "cannot serialise");
    const char *text = xmp_string_cstr(out);
    size_t n = xmp_string_len(out);
    int rc = check_xml("", text, n, 0);
    XmpPtr back = NULL;
    if (rc == AE_OK && (!(back = xmp_new_empty()) || !xmp_parse(back, text, n)))
        rc = xmp_fail(AE_ERR_FORMAT, "", "not XMP");
    if (back) xmp_free(back);
    if (rc == AE_ERR_NOMEM) return rc;
    if (rc) {
        char why[256]; /* a copy: ae_fail writes where ae_last_error() points */
        const char *e = ae_last_error();
        copy_cut(why, sizeof why, e[0] == ':' && e[1] == ' ' ? e + 2 : e);
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: exempi's rewrite of it would not read back (%s);"
                       " left as it is", path, why);
    }
    return AE_OK;
}

static int write_out(const char *path, const sidecar *s, const char *text, size_t n)
{
    ae_atomic_file af;
    int rc = ae_file_atomic_open(path, &af);
    if (rc) return rc;
    if (s->exists && fchmod(fileno(af.fp), s->st.st_mode & 07777) != 0) {
        rc = ae_fail(AE_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        ae_file_atomic_abort(&af);
        return rc;
    }
    if (fwrite(text, 1, n, af.fp) != n) {
        rc = ae_fail(AE_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        ae_file_atomic_abort(&af);
        return rc;
    }
    /* Lightroom or darktable may have rewritten it meanwhile: theirs wins (a window of a few
     * system calls remains between this check and the rename) */
    if (!same_file(path, s)) {
        rc = ae_fail(AE_ERR_IO, "%s: changed by another program while being updated; not "
                     "written", path);
        ae_file_atomic_abort(&af);
        return rc;
    }
    return ae_file_atomic_commit(&af);
}

int ae_xmp_update(const char *sidecar_path, const ae_xmp_fields *f, int dry_run,
                  ae_xmp_change *change, char *summary, size_t cap)
{
    const char *path = sidecar_path;
    if (change) *change = AE_XMP_UNCHANGED;
    if (summary && cap) summary[0] = 0;
    if (!path || !*path || !f) return ae_fail(AE_ERR_INVALID, "ae_xmp_update: NULL argument");
    int rc = check_fields(path, f);
    if (rc || (rc = start(path))) return rc;

    /* the values wanted, as text; NULL: absent */
    char rating[16], score[64];
    snprintf(rating, sizeof rating, "%d", (int)f->rating);
    fmt_score(score, sizeof score, f->score);
    const char *want[NF] = {rating, f->role, f->kind, f->group && *f->group ? f->group : NULL,
                            score, f->method && *f->method ? f->method : NULL};

    sidecar s;
    XmpStringPtr old[NF] = {0}, text = NULL;
    int have[NF] = {0}, simple[NF] = {0}, differs[NF] = {0}, nchanged = 0;
    if ((rc = sidecar_load(path, 1, &s)) != AE_OK) goto done;
    for (int i = 0; i < NF; i++) {
        if (!(old[i] = xmp_string_new())) {
            rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        if ((rc = prop_get(path, s.x, i, old[i], &simple[i])) < 0) goto done;
        have[i] = rc;
        rc = AE_OK;
        const char *v = have[i] ? xmp_string_cstr(old[i]) : NULL;
        double d;
        char again[64];
        if (!have[i] || !want[i]) differs[i] = have[i] != !!want[i];
        else if (!simple[i]) differs[i] = 1;
        else if (i == F_RATING) differs[i] = !number(v, &d) || d != f->rating;
        else if (i == F_SCORE) {
            /* "4.21" and "4.2100" are the same score; anything that formats alike is */
            int ok = number(v, &d);
            if (ok) fmt_score(again, sizeof again, d);
            differs[i] = !ok || strcmp(again, want[i]) != 0;
        } else differs[i] = strcmp(v, want[i]) != 0;
        nchanged += differs[i];
    }
    if (s.exists && !nchanged) {
        if (summary && cap) copy_cut(summary, cap, "unchanged");
        goto done;
    }

    line l = {{0}, 0};
    if (!s.exists) add(&l, "new sidecar, rating %s", rating);
    for (int i = 0; i < NF && s.exists; i++) {
        if (!differs[i]) continue;
        add(&l, "%s%s ", l.n ? ", " : "", field[i].label);
        if (!have[i]) add(&l, "none");
        else if (!simple[i]) add(&l, "(not text)");
        else add_value(&l, xmp_string_cstr(old[i]));
        add(&l, " -> %s", want[i] ? want[i] : "none");
    }
    for (int i = 0; i < NF; i++) {
        if (!differs[i]) continue;
        /* a struct or an array under our name (not ours): replaced whole */
        if (have[i] && (!want[i] || !simple[i]) &&
            !xmp_delete_property(s.x, field[i].ns, field[i].name)) {
            rc = xmp_fail(AE_ERR_FORMAT, path, field[i].label);
            goto done;
        }
        if (want[i] && !xmp_set_property(s.x, field[i].ns, field[i].name, want[i], 0)) {
            rc = xmp_fail(AE_ERR_FORMAT, path, field[i].label);
            goto done;
        }
    }
    if (!(text = xmp_string_new())) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = serialise(path, &s, text)) != AE_OK) goto done;
    if (!dry_run &&
        (rc = write_out(path, &s, xmp_string_cstr(text), xmp_string_len(text))) != AE_OK)
        goto done;
    if (change) *change = s.exists ? AE_XMP_UPDATED : AE_XMP_CREATED;
    if (summary && cap) copy_cut(summary, cap, l.b);
done:
    for (int i = 0; i < NF; i++)
        if (old[i]) xmp_string_free(old[i]);
    if (text) xmp_string_free(text);
    sidecar_free(&s);
    return rc;
}

int ae_xmp_read(const char *path, ae_xmp_info *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!path || !*path || !out) return ae_fail(AE_ERR_INVALID, "ae_xmp_read: NULL argument");
    int rc = start(path);
    if (rc) return rc;
    sidecar s;
    if ((rc = sidecar_load(path, 0, &s)) != AE_OK) goto done;
    if (!s.exists) {
        rc = ae_fail(AE_ERR_NOT_FOUND, "%s: %s", path, strerror(ENOENT));
        goto done;
    }
    XmpStringPtr v = xmp_string_new();
    if (!v) { rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path); goto done; }
    for (int i = 0; i < NF; i++) {
        int simple, got = prop_get(path, s.x, i, v, &simple);
        if (got < 0) { rc = got; break; }
        if (!got || !simple) continue;
        const char *t = xmp_string_cstr(v);
        double d;
        switch (i) {
        case F_RATING:
            if (number(t, &d) && d >= -1 && d <= 5 && d == (int32_t)d) {
                out->has_rating = 1;
                out->rating = (int32_t)d;
            }
            break;
        case F_SCORE:
            if (number(t, &d) && isfinite((float)d)) {
                out->has_score = 1;
                out->score = (float)d;
            }
            break;
        case F_ROLE: copy_cut(out->role, sizeof out->role, t); break;
        case F_KIND: copy_cut(out->kind, sizeof out->kind, t); break;
        case F_GROUP: copy_cut(out->group, sizeof out->group, t); break;
        case F_METHOD: copy_cut(out->method, sizeof out->method, t); break;
        }
    }
    xmp_string_free(v);
done:
    sidecar_free(&s);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}
