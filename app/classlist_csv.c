/*
 * classlist_csv.c — a CSV or TSV class list through the app layer's one tokenizer (csv.h):
 * one column of it, named by its header or chosen by classlist_columns.c.
 */
#include "classlist_internal.h"

#include <stdint.h>
#include <string.h>

#include "csv.h"
#include "error.h"

/* Without a named column: reads every field once to choose the column and the header. */
static int choose(cl_builder *b, const char *d, size_t n, char delim, size_t *col, int *header)
{
    csv c;
    csv_init(&c, d, n, delim);
    cl_table t;
    cl_table_init(&t);
    int64_t rl;
    int r, rc = AE_OK;
    while (!rc && (r = csv_next(&c, b->name, &rl)) == 1)
        for (size_t f = 0; f < c.nf && !rc && f < INT32_MAX; f++)
            rc = cl_table_cell(&t, rl, (int32_t)f + 1, c.buf + c.fo[f], c.fl[f], b->name);
    if (!rc && r < 0) rc = r;
    int32_t pick = 1;
    if (!rc) rc = cl_table_choose(&t, b, "", &pick, header);
    *col = (size_t)pick - 1;
    cl_table_free(&t);
    csv_free(&c);
    return rc;
}

int cl_parse_csv(cl_builder *b, const char *d, size_t n, char delim)
{
    const char *want = b->p.column;
    int header = b->p.header, rc = AE_OK, r;
    size_t col = 0;
    if (!want && (rc = choose(b, d, n, delim, &col, &header))) return rc;
    csv c;
    csv_init(&c, d, n, delim);
    int64_t rl;
    cl_loc l = {0};
    cl_header_list hl = {{0}, 0};
    while ((r = csv_next(&c, b->name, &rl)) == 1) {
        l.line = rl;
        if (header) {
            /* the first record with a non-empty field is the header */
            int any = 0, best = 0;
            for (size_t f = 0; f < c.nf; f++) {
                char h[256];
                size_t hn = cl_header_text(c.buf + c.fo[f], c.fl[f], h, sizeof h);
                if (hn == 0) continue;
                any = 1;
                cl_header_list_add(&hl, h);
                int m = hn == (size_t)-1 || !want ? 0 : cl_header_match(h, want);
                if (m && (!best || m < best)) {
                    best = m;
                    col = f;
                    cl_sanitize(h, hn, b->column, sizeof b->column, 40);
                }
            }
            if (!any) continue;
            if (want && !best) {
                char w[64];
                cl_sanitize(want, strlen(want), w, sizeof w, 40);
                rc = ae_fail(AE_ERR_NOT_FOUND, "%s: column '%s' not found (columns: %s)",
                             b->name, w, hl.text);
                goto done;
            }
            header = 0;
            continue;
        }
        if (col < c.nf && (rc = cl_add_name(b, c.buf + c.fo[col], c.fl[col], &l))) goto done;
    }
    if (r < 0) { rc = r; goto done; }
    if (!b->n) {
        if (b->p.header && header) /* (a header found by choose() is never missing) */
            rc = ae_fail(AE_ERR_INVALID, "%s: no class names (no header row)", b->name);
        else if (want) {
            char w[64];
            cl_sanitize(want, strlen(want), w, sizeof w, 40);
            rc = ae_fail(AE_ERR_INVALID, "%s: no class names (column '%s' is empty)", b->name, w);
        } else
            rc = ae_fail(AE_ERR_INVALID, "%s: no class names (the first column is empty)",
                         b->name);
    }
done:
    csv_free(&c);
    return rc;
}
