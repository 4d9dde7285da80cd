/*
 * server_multipart.c — multipart/form-data (RFC 7578 / RFC 2046) split in memory.
 *
 * The body is already complete and capped by the server, so parts point into it rather than
 * being copied. Layout: an ignored preamble, then "--BOUNDARY" CRLF, part headers, an empty
 * line, the content, CRLF "--BOUNDARY", and so on until "--BOUNDARY--". Only the
 * Content-Disposition (name, filename) and Content-Type headers are read. Hostile input is
 * bounded: the number of parts (413 past max_parts), the bytes of one part's headers (8 KiB),
 * and every parameter is copied into a fixed-size field. A missing closing delimiter is an
 * error (a truncated upload). File names are only labels: mp_sanitize_filename keeps the last
 * path component, never a path.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_internal.h"

#define MAX_HEADER_BLOCK 8192

/* Reads a parameter value at p (token or quoted-string) into out; returns the end. */
static const char *param_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            /* only \" is an escape: browsers send backslashes of Windows paths as they are */
            if (*p == '\\' && p + 1 < end && p[1] == '"') p++;
            if (n + 1 < cap) out[n++] = *p;
        }
        if (p < end) p++;
    } else {
        for (; p < end && *p != ';' && !isspace((unsigned char)*p); p++)
            if (n + 1 < cap) out[n++] = *p;
    }
    out[n] = 0;
    return p;
}

/* Finds parameter `key` in "value; k=v; k2="v2"" (s..end); 1 if found. */
static int find_param(const char *s, const char *end, const char *key, char *out, size_t cap, size_t *raw_len)
{
    size_t klen = strlen(key);
    const char *p = memchr(s, ';', (size_t)(end - s));
    while (p && p < end) {
        p++;
        while (p < end && isspace((unsigned char)*p)) p++;
        const char *eq = p;
        while (eq < end && *eq != '=' && *eq != ';') eq++;
        const char *kend = eq;
        while (kend > p && isspace((unsigned char)kend[-1])) kend--;
        if (eq < end && *eq == '=') {
            const char *v = eq + 1;
            while (v < end && isspace((unsigned char)*v)) v++;
            if ((size_t)(kend - p) == klen && !strncasecmp(p, key, klen)) {
                param_value(v, end, out, cap);
                if (raw_len) *raw_len = strlen(out);
                return 1;
            }
            p = param_value(v, end, (char[8]){0}, 1);
        }
        p = memchr(p, ';', (size_t)(end - p));
    }
    return 0;
}

int mp_boundary(const char *content_type, char *out, size_t cap)
{
    if (!content_type) return -1;
    const char *end = content_type + strlen(content_type);
    char b[256];
    if (!find_param(content_type, end, "boundary", b, sizeof b, NULL)) return -1;
    size_t n = strlen(b);
    if (n < 1 || n > 70 || n + 1 > cap) return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e) return -1;
    memcpy(out, b, n + 1);
    return 0;
}

size_t mp_utf8_char(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!len || len > n) return 0;
    for (size_t j = 1; j < len; j++)
        if (((unsigned char)s[j] & 0xc0) != 0x80) return 0;
    /* the second byte's range after E0, ED, F0 and F4: no overlong forms, no surrogates,
     * nothing past U+10FFFF */
    unsigned char c1 = len > 1 ? (unsigned char)s[1] : 0;
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
        return 0;
    return len;
}

void mp_sanitize_filename(const char *in, size_t n, char *out, size_t cap)
{
    /* the last component after / or \ (browsers on Windows once sent full paths) */
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] == '/' || in[i] == '\\') start = i + 1;
    size_t k = 0;
    for (size_t i = start; i < n && k + 1 < cap;) {
        unsigned char c = (unsigned char)in[i];
        size_t len = mp_utf8_char(in + i, n - i);
        if (!len) {
            i++;
            continue;
        }
        if (len == 1 && (c < 0x20 || c == 0x7f || c == '"')) {
            i++;
            continue;
        }
        if (k + len >= cap) break;
        memcpy(out + k, in + i, len);
        k += len, i += len;
    }
    out[k] = 0;
    /* names made only of dots ("..", ".") say nothing */
    size_t dots = strspn(out, ".");
    if (k == 0 || dots == k) snprintf(out, cap, "upload");
}

static void parse_headers(const char *h, size_t n, mp_part *part)
{
    const char *end = h + n;
    for (const char *line = h; line < end;) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!eol) eol = end;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            size_t klen = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && isspace((unsigned char)*v)) v++;
            if (klen == 19 && !strncasecmp(line, "Content-Disposition", 19)) {
                find_param(v, eol, "name", part->name, sizeof part->name, NULL);
                char raw[1024];
                size_t rl = 0;
                if (find_param(v, eol, "filename", raw, sizeof raw, &rl)) {
                    part->has_filename = 1;
                    mp_sanitize_filename(raw, rl, part->filename, sizeof part->filename);
                }
            } else if (klen == 12 && !strncasecmp(line, "Content-Type", 12)) {
                size_t vl = (size_t)(eol - v);
                if (vl >= sizeof part->content_type) vl = sizeof part->content_type - 1;
                memcpy(part->content_type, v, vl);
                part->content_type[vl] = 0;
            }
        }
        line = eol + 2;
    }
}

int mp_parse(const uint8_t *body, size_t size, const char *boundary, int max_parts,
             mp_part **parts_out, int *n_out, char *err, size_t errcap)
{
    *parts_out = NULL;
    *n_out = 0;
    char delim[80];
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *b = (const char *)body, *end = b + size;
    /* the first delimiter may open the body without the CRLF */
    const char *p;
    if (size >= (size_t)dl - 2 && !memcmp(b, delim + 2, (size_t)dl - 2)) p = b + dl - 2;
    else if ((p = memmem(b, size, delim, (size_t)dl))) p += dl;
    else {
        snprintf(err, errcap, "multipart body without the boundary delimiter");
        return 400;
    }
    int cap = 8, n = 0;
    mp_part *parts = malloc((size_t)cap * sizeof *parts);
    if (!parts) {
        snprintf(err, errcap, "out of memory");
        return 503;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') break; /* closing delimiter */
        while (p < end && (*p == ' ' || *p == '\t')) p++;      /* transport padding */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') goto malformed;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *data;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') hend = p - 2, data = p + 2; /* no headers */
        else if (!hend || hend - p > MAX_HEADER_BLOCK) goto malformed;
        else data = hend + 4;
        if (n == max_parts) {
            free(parts);
            snprintf(err, errcap, "too many parts: more than %d", max_parts);
            return 413;
        }
        if (n == cap) {
            mp_part *np = realloc(parts, (size_t)(cap *= 2) * sizeof *parts);
            if (!np) {
                free(parts);
                snprintf(err, errcap, "out of memory");
                return 503;
            }
            parts = np;
        }
        mp_part *part = &parts[n++];
        memset(part, 0, sizeof *part);
        if (hend > p) parse_headers(p, (size_t)(hend - p), part);
        const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
        if (!next) goto malformed;
        part->data = (const uint8_t *)data;
        part->size = (size_t)(next - data);
        p = next + dl;
    }
    *parts_out = parts;
    *n_out = n;
    return 0;
malformed:
    free(parts);
    snprintf(err, errcap, "malformed multipart body (part %d)", n + 1);
    return 400;
}
