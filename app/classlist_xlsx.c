/*
 * classlist_xlsx.c — an XLSX class list: one column of the first sheet, named by its header
 * or chosen by classlist_columns.c from a first pass over the sheet. XLSX is a zip of XML
 * parts: the parts are inflated through libzip with a byte counter that stops at the declared
 * size and at max_bytes (so a zip bomb whose header lies is stopped at the cap), and streamed
 * through libxml2's xmlTextReader without network, DTD loading or entity substitution; a
 * DOCTYPE or an entity reference node is refused. libxml2's messages are captured through
 * the reader's structured error handler and libzip's through its error objects, so nothing
 * is printed. The read callback reports a stop as end of input (not -1), because libxml2
 * would print an I/O error for -1 through its global handler.
 */
#include "classlist_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlreader.h>
#include <zip.h>

#include "error.h"

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
    cl_builder *b;
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
                    o += cl_utf8_encode(cp, b->s + o);
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
    cl_sanitize(sheet_path, strlen(sheet_path), x->sheet, sizeof x->sheet, 64);
    xpart p;
    char *rid = NULL;
    int rc = part_open(x, "xl/workbook.xml", &p);
    if (rc == AE_ERR_NOT_FOUND) return AE_OK;
    if (rc) return rc;
    while ((rc = part_next(&p)) == 1) {
        if (xmlTextReaderNodeType(p.r) != XML_READER_TYPE_ELEMENT || !is_elem(&p, "sheet")) continue;
        char *nm = attr(&p, "name", 0);
        rid = attr(&p, "id", 1);
        if (nm) cl_sanitize(nm, strlen(nm), x->sheet, sizeof x->sheet, 64);
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
    cl_col_letters(c->col, ref);
    snprintf(ref + strlen(ref), sizeof ref - strlen(ref), "%lld", (long long)c->row);
    if (!strcmp(c->type, "str") || !strcmp(c->type, "inlineStr")) unescape_x(&c->v);
    const char *v = c->v.s ? c->v.s : "";
    *out = "";
    *n = 0;
    if (c->has_f && !c->has_v) {
        char ftxt[64];
        cl_sanitize(c->f.s ? c->f.s : "", c->f.n, ftxt, sizeof ftxt, 40);
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
            cl_sanitize(v, c->v.n, vt, sizeof vt, 24);
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
    cl_loc l = {.sheet = x->sheet, .line = c->row, .col = c->col};
    return cl_add_name(x->b, val, vn, &l);
}

/* Reads the sheet: with a table, feeds it every cell whose value can be read (to choose the
 * column); else adds the names of column col (1-based; or the column named by params.column)
 * below the header row when header is set. */
static int read_sheet(xlsx *x, const char *path, cl_table *table, int32_t col, int header)
{
    cl_builder *b = x->b;
    xpart p;
    int rc = part_open(x, path, &p);
    if (rc == AE_ERR_NOT_FOUND)
        return ae_fail(AE_ERR_NOT_FOUND, "%s: no worksheet (%s is missing)", b->name, path);
    if (rc) return rc;
    const char *want = table ? NULL : b->p.column;
    int best = 0;
    int32_t target = col, hcol = 0;
    if (table) header = 0;
    const int had_header = header; /* header is cleared once the header row was read */
    int64_t row = 0, hrow = -1;
    int32_t prev_col = 0;
    cell c;
    memset(&c, 0, sizeof c);
    cl_header_list hl = {{0}, 0};
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
                    cl_sanitize(r, strlen(r), rt, sizeof rt, 16);
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
            if (table) {
                const char *val;
                size_t vn;
                if (cell_value(x, &c, &val, &vn) == AE_OK &&
                    (rc = cl_table_cell(table, c.row, c.col, val, vn, b->name)))
                    break;
                continue;
            }
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
            size_t hn = cl_header_text(val, vn, h, sizeof h);
            if (hn == 0) continue;
            hrow = c.row;
            cl_header_list_add(&hl, h);
            int m = hn == (size_t)-1 || !want ? 0 : cl_header_match(h, want);
            if (m && (!best || m < best)) {
                best = m;
                hcol = c.col;
                cl_sanitize(h, hn, b->column, sizeof b->column, 40);
            }
        }
        continue;
    header_done:
        /* the header row is complete: choose the column, then read data (this cell too) */
        if (want && !best) {
            char w[64];
            cl_sanitize(want, strlen(want), w, sizeof w, 40);
            rc = ae_fail(AE_ERR_NOT_FOUND, "%s: sheet '%s': column '%s' not found (columns: %s)",
                         b->name, x->sheet, w, hl.text);
            break;
        }
        target = want ? hcol : col;
        header = 0;
        if (pending && c.col == target && (rc = take_cell(x, &c))) break;
    }
    if (rc == 0 && header && hrow >= 0) { /* the sheet ended on the header row */
        if (want && !best) {
            char w[64];
            cl_sanitize(want, strlen(want), w, sizeof w, 40);
            rc = ae_fail(AE_ERR_NOT_FOUND, "%s: sheet '%s': column '%s' not found (columns: %s)",
                         b->name, x->sheet, w, hl.text);
        }
        target = want ? hcol : col;
    }
    free(c.v.s);
    free(c.is.s);
    free(c.f.s);
    part_close(&p);
    if (rc < 0) return rc;
    if (table) return AE_OK;
    if (!b->n) {
        char letters[8];
        cl_col_letters(target, letters);
        if (had_header && hrow < 0)
            return ae_fail(AE_ERR_INVALID, "%s: sheet '%s': no class names (the sheet is empty)",
                           b->name, x->sheet);
        return ae_fail(AE_ERR_INVALID, "%s: sheet '%s': no class names in column %s", b->name,
                       x->sheet, letters);
    }
    return AE_OK;
}

int cl_parse_xlsx(cl_builder *b, const void *data, size_t size)
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
    int32_t col = 1;
    int header = b->p.header;
    if (!b->p.column) { /* a first pass chooses the column */
        cl_table t;
        cl_table_init(&t);
        char where[128];
        snprintf(where, sizeof where, "sheet '%s': ", x.sheet);
        rc = read_sheet(&x, sheet, &t, 0, 0);
        if (!rc) rc = cl_table_choose(&t, b, where, &col, &header);
        cl_table_free(&t);
        if (rc) goto done;
    }
    rc = read_sheet(&x, sheet, NULL, col, header);
done:
    zip_discard(x.za);
    free(x.sbuf);
    free(x.soff);
    return rc;
}
