/*
 * csv.c — RFC 4180 records (csv.h): one pass over the bytes, quoted fields unquoted into the
 * reader's buffer, line numbers counted across line breaks inside quotes so that messages
 * name the line a user sees in an editor.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void csv_init(csv *c, const char *d, size_t n, char delim)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->n = n;
    c->delim = delim;
    c->line = 1;
}

void csv_free(csv *c)
{
    free(c->buf);
    free(c->fo);
    free(c->fl);
    c->buf = NULL;
    c->fo = c->fl = NULL;
    c->bcap = c->fcap = c->blen = c->nf = 0;
}

static int csv_put(csv *c, char ch, const char *name)
{
    if (c->blen == c->bcap) {
        size_t nc = c->bcap ? c->bcap * 2 : 1024;
        char *b = realloc(c->buf, nc);
        if (!b) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        c->buf = b;
        c->bcap = nc;
    }
    c->buf[c->blen++] = ch;
    return AE_OK;
}

static int csv_field(csv *c, size_t start, const char *name)
{
    if (c->nf == c->fcap) {
        size_t nc = c->fcap ? c->fcap * 2 : 16;
        size_t *a = realloc(c->fo, nc * sizeof *a), *b2;
        if (!a) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        c->fo = a;
        b2 = realloc(c->fl, nc * sizeof *b2);
        if (!b2) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        c->fl = b2;
        c->fcap = nc;
    }
    c->fo[c->nf] = start;
    c->fl[c->nf] = c->blen - start;
    c->nf++;
    return AE_OK;
}

int csv_next(csv *c, const char *name, int64_t *rec_line)
{
    if (c->pos >= c->n) return 0;
    *rec_line = c->line;
    c->nf = 0;
    c->blen = 0;
    /* a record of empty fields still has a buffer: buf + fo[f] is never NULL + 0 */
    if (!c->buf) {
        if (!(c->buf = malloc(1024))) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        c->bcap = 1024;
    }
    int rc;
    for (;;) {
        size_t start = c->blen;
        if (c->pos < c->n && c->d[c->pos] == '"') {
            int64_t open_line = c->line;
            c->pos++;
            for (;;) {
                if (c->pos >= c->n)
                    return ae_fail(AE_ERR_FORMAT, "%s: line %lld: unterminated quoted field",
                                   name, (long long)open_line);
                char ch = c->d[c->pos];
                if (ch == '"') {
                    if (c->pos + 1 < c->n && c->d[c->pos + 1] == '"') c->pos++;
                    else { c->pos++; break; }
                } else if (ch == '\n' || (ch == '\r' && !(c->pos + 1 < c->n && c->d[c->pos + 1] == '\n')))
                    c->line++;
                if ((rc = csv_put(c, ch, name))) return rc;
                c->pos++;
            }
        }
        /* unquoted text, or text after a closing quote (kept, as Excel does) */
        while (c->pos < c->n) {
            char ch = c->d[c->pos];
            if (ch == c->delim || ch == '\n' || ch == '\r') break;
            if ((rc = csv_put(c, ch, name))) return rc;
            c->pos++;
        }
        if ((rc = csv_field(c, start, name))) return rc;
        if (c->pos >= c->n) return 1;
        if (c->d[c->pos] == c->delim) { c->pos++; continue; }
        c->pos += c->d[c->pos] == '\r' && c->pos + 1 < c->n && c->d[c->pos + 1] == '\n' ? 2 : 1;
        c->line++;
        return 1;
    }
}

char csv_sniff_delim(const char *d, size_t n)
{
    size_t i = 0;
    while (i < n && (d[i] == '\n' || d[i] == '\r' || d[i] == ' ')) i++;
    int q = 0, comma = 0, semi = 0, tab = 0;
    for (; i < n; i++) {
        char ch = d[i];
        if (ch == '"') q = !q;
        else if (!q && (ch == '\n' || ch == '\r')) break;
        else if (!q && ch == ',') comma++;
        else if (!q && ch == ';') semi++;
        else if (!q && ch == '\t') tab++;
    }
    if (comma) return ',';
    if (tab >= semi && tab) return '\t';
    return semi ? ';' : ',';
}
