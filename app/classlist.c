/*
 * classlist.c — reads lists of content classes (TXT, CSV/TSV, XLSX) into ae_classlist: the
 * public entry points, and the choice of the format (by content, then by the name's
 * extension) and of the text encoding. The formats are read by classlist_txt.c,
 * classlist_csv.c and classlist_xlsx.c into the one builder of classlist_names.c; the rules
 * users see are documented in classlist.h.
 */
#define _GNU_SOURCE
#include "classlist_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "error.h"
#include "fileio.h"

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

void ae_classlist_free(ae_classlist *list)
{
    if (!list) return;
    free(list->names);
    list->names = NULL;
    list->n = 0;
    list->column[0] = 0;
}

/* ---- the format and the encoding ------------------------------------------------------- */

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
        k += cl_utf8_encode(u, o + k);
    }
    *out = o;
    *on = k;
    return AE_OK;
}

static int parse_text(cl_builder *b, const char *d, size_t n, int fmt)
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
        rc = cl_parse_txt(b, d, n);
    } else rc = cl_parse_csv(b, d, n, fmt == FMT_TSV ? '\t' : csv_sniff_delim(d, n));
done:
    free(conv);
    return rc;
}

/* ---- entry points ----------------------------------------------------------------------- */

int ae_classlist_parse(const void *data, size_t size, const char *name,
                       const ae_classlist_params *params, ae_classlist *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_classlist_parse: out is NULL");
    out->n = 0;
    out->names = NULL;
    out->column[0] = 0;
    if (!name || !*name) name = "classes";
    if (!data && size) return ae_fail(AE_ERR_INVALID, "%s: data is NULL", name);
    ae_classlist_params p = resolve_params(params);
    if (p.column) {
        cl_normerr e;
        if (cl_normalise((const uint8_t *)p.column, strlen(p.column), NULL, &e) < 0)
            return ae_fail(AE_ERR_INVALID, "%s: the column name is not valid text", name);
    }
    if (size > p.max_bytes)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %zu bytes, larger than the limit of %zu bytes",
                       name, size, p.max_bytes);
    if (!size) return ae_fail(AE_ERR_INVALID, "%s: no class names (the file is empty)", name);
    const uint8_t *u = data;
    int fmt = ext_format(name);
    cl_builder b;
    cl_builder_init(&b, name, &p);
    int rc;
    if (size >= 4 && !memcmp(u, "PK\x03\x04", 4)) rc = cl_parse_xlsx(&b, data, size);
    else if (size >= 4 && !memcmp(u, "PK\x05\x06", 4))
        rc = ae_fail(AE_ERR_FORMAT, "%s: an empty zip archive, not an XLSX workbook", name);
    else if (size >= 8 && !memcmp(u, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: legacy Excel .xls or password-protected workbook "
                     "(an OLE2 file) is not supported; save it as .xlsx or .csv", name);
    else if (fmt == FMT_XLSX)
        rc = ae_fail(AE_ERR_FORMAT, "%s: not an XLSX file (no zip signature)", name);
    else rc = parse_text(&b, data, size, fmt);
    if (!rc) rc = cl_finish(&b, out);
    cl_builder_free(&b);
    return rc;
}

int ae_classlist_load(const char *path, const ae_classlist_params *params, ae_classlist *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_classlist_load: out is NULL");
    out->n = 0;
    out->names = NULL;
    out->column[0] = 0;
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "ae_classlist_load: no path");
    ae_classlist_params p = resolve_params(params);
    /* fileio.h's bounded reader: a FIFO without a writer reads as empty, never blocks */
    char *buf;
    size_t n;
    int rc = ae_file_read(path, p.max_bytes, &buf, &n);
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
    out->column[0] = 0;
    if (!name || !*name) name = "classes";
    if (n < 0 || (n && !names)) return ae_fail(AE_ERR_INVALID, "%s: bad name array", name);
    ae_classlist_params p = resolve_params(params);
    cl_builder b;
    cl_builder_init(&b, name, &p);
    cl_loc l = {.entry = 1};
    int rc = AE_OK;
    for (int32_t i = 0; i < n && !rc; i++) {
        l.line = i + 1;
        if (names[i]) rc = cl_add_name(&b, names[i], strlen(names[i]), &l);
    }
    if (!rc && !b.n) rc = ae_fail(AE_ERR_INVALID, "%s: no class names", name);
    if (!rc) rc = cl_finish(&b, out);
    cl_builder_free(&b);
    return rc;
}

/* data/imagenet_classes.txt, embedded by CMake (cmake/xxd.cmake) */
extern const unsigned char ae_imagenet_classes_txt[];
extern const unsigned long ae_imagenet_classes_txt_len;

int ae_classlist_imagenet(ae_classlist *out)
{
    /* all 1000 entries, duplicates included: see classlist.h */
    ae_classlist_params p = ae_classlist_default_params();
    p.keep_duplicates = 1;
    int rc = ae_classlist_parse(ae_imagenet_classes_txt, ae_imagenet_classes_txt_len,
                                "imagenet_classes.txt", &p, out);
    AE_ASSERT(rc != AE_OK || out->n == 1000);
    return rc;
}

void ae_classlist_describe(const ae_classlist *cl, const char *source, char *buf, size_t cap)
{
    if (!cap) return;
    int n = cl ? cl->n : 0;
    const char *column = cl ? cl->column : "";
    size_t o;
    if (source && column[0])
        o = (size_t)snprintf(buf, cap, "%d classes from %s (column %s):", n, source, column);
    else if (source) o = (size_t)snprintf(buf, cap, "%d classes from %s:", n, source);
    else o = (size_t)snprintf(buf, cap, "%d classes (the built-in ImageNet list):", n);
    /* the first names, about 80 bytes of them */
    size_t shown = 0;
    for (int i = 0; i < n && o < cap; i++) {
        size_t len = strlen(cl->names[i]);
        if (i && shown + len > 80) {
            snprintf(buf + o, cap - o, ", ...");
            return;
        }
        o += (size_t)snprintf(buf + o, cap - o, "%s %s", i ? "," : "", cl->names[i]);
        shown += len + 2;
    }
}
