/*
 * fuzz_multipart.c — libFuzzer target for the server's multipart/form-data reader
 * (app/server_multipart.c): the input's first line is the request's Content-Type, the rest its
 * body. mp_boundary must give a boundary of 1..70 printable ASCII characters or refuse;
 * mp_parse must give at most max_parts parts whose contents lie inside the body and end right
 * before a delimiter, with NUL-terminated fields and file names that are safe labels (valid
 * UTF-8, no path separators, quotes or control characters, not only dots), or refuse with 400
 * or 413 and a message, nothing allocated. The same first line also goes through
 * mp_sanitize_filename as a raw file name. Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: the
 * uploads the page and curl send, hostile boundaries and headers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_label(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == 0 || n == cap || !fuzz_utf8((const uint8_t *)s, n) || strspn(s, ".") == n) abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '/' || c == '\\') abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - data) : size;
    char *ct = malloc(hl + 1);
    if (!ct) return 0;
    memcpy(ct, data, hl);
    ct[hl] = 0;

    char fname[64];
    mp_sanitize_filename(ct, hl, fname, sizeof fname);
    check_label(fname, sizeof fname);

    char b[72];
    if (mp_boundary(ct, b, sizeof b) == 0) {
        size_t bl = strlen(b);
        if (bl < 1 || bl > 70) abort();
        for (size_t i = 0; i < bl; i++)
            if (b[i] < 0x20 || b[i] > 0x7e) abort();
        /* the body: a private copy so that reads past the end are caught exactly */
        size_t n = nl ? size - hl - 1 : 0;
        uint8_t *body = malloc(n ? n : 1);
        if (!body) abort();
        if (n) memcpy(body, nl + 1, n);
        const int max_parts = 6;
        mp_part *parts = (mp_part *)body;
        int np = -1;
        char err[256] = "";
        int rc = mp_parse(body, n, b, max_parts, &parts, &np, err, sizeof err);
        if (rc == 0) {
            if (np < 0 || np > max_parts || (np && !parts)) abort();
            char delim[80];
            int dl = snprintf(delim, sizeof delim, "\r\n--%s", b);
            for (int i = 0; i < np; i++) {
                const mp_part *q = &parts[i];
                if (q->data < body || q->size > n || q->data + q->size > body + n) abort();
                if ((size_t)(body + n - (q->data + q->size)) < (size_t)dl ||
                    memcmp(q->data + q->size, delim, (size_t)dl))
                    abort();
                if (!memchr(q->name, 0, sizeof q->name) || !memchr(q->content_type, 0, sizeof q->content_type))
                    abort();
                if (q->has_filename) check_label(q->filename, sizeof q->filename);
                else if (q->filename[0]) abort();
            }
            free(parts);
        } else if ((rc != 400 && rc != 413) || parts || np != 0 || !err[0]) {
            abort();
        }
        free(body);
    }
    free(ct);
    return 0;
}
