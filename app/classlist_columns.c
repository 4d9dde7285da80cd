/*
 * classlist_columns.c — which column of a table (a CSV/TSV file, an XLSX sheet) holds the
 * class names when none was named, and whether its first row is a header.
 *
 * A reader feeds every cell of the table once (cl_table_cell), then cl_table_choose decides
 * from what it saw, by these rules (classlist.h shows them to users):
 *   - the first row with a non-empty cell is a header when params.header is set, or when a
 *     column holds only numbers below it and that first row's cell is not a number (empty or
 *     text): "id" above 1, 2, 3 (a CSV), or the empty cell pandas writes above its index; else
 *     every row is data;
 *   - an index column holds, in every data row, the integers 0..n-1 or 1..n in row order;
 *   - of the columns with a value, the index columns are dropped; the class names are the one
 *     column that holds text (a cell that is not a number), else the one column left (of
 *     numbers), else the one index column when it is the only column at all. Any other count
 *     is an error naming the columns (the first 8) and telling to choose one with --column.
 * Cells whose value cannot be read (a broken XLSX cell) are not fed: they count as empty
 * here and are errors only in the column that is read. Columns past the 16384th (Excel's
 * limit) are never chosen.
 */
#include "classlist_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_COLS 16384

enum { KIND_EMPTY, KIND_INT, KIND_NUM, KIND_TEXT };

/* What a normalised cell is: empty, an integer (*iv set; at most 18 digits), another number
 * (optional sign, digits with at most one '.' or ',' (a European decimal comma), optional
 * exponent) or text. */
static int kind_of(const char *s, size_t n, int64_t *iv)
{
    if (!n) return KIND_EMPTY;
    size_t i = s[0] == '-' || s[0] == '+';
    size_t d0 = i, digits = 0, dot = 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') digits++;
        else if ((s[i] == '.' || s[i] == ',') && !dot) dot = 1; /* "3.25", "120,50" */
        else break;
    }
    if (!digits) return KIND_TEXT;
    if (i == n && !dot && digits <= 18) {
        int64_t v = 0;
        for (size_t k = d0; k < n; k++) v = v * 10 + (s[k] - '0');
        *iv = s[0] == '-' ? -v : v;
        return KIND_INT;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        size_t e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == e0) return KIND_TEXT;
    }
    return i == n ? KIND_NUM : KIND_TEXT;
}

void cl_table_init(cl_table *t)
{
    memset(t, 0, sizeof *t);
    t->first_row = -1;
}

void cl_table_free(cl_table *t)
{
    free(t->c);
    t->c = NULL;
    t->nc = t->cap = 0;
}

int cl_table_cell(cl_table *t, int64_t row, int32_t col, const char *s, size_t n,
                  const char *name)
{
    if (col < 1 || col > MAX_COLS) return AE_OK;
    /* the cell's normalised text: numbers are short, so longer cells are text */
    char buf[72];
    cl_normerr e;
    long m = cl_normalise((const uint8_t *)s, n, NULL, &e);
    if (m == 0) return AE_OK;
    int64_t iv = 0;
    int kind = KIND_TEXT;
    if (m > 0 && (size_t)m < sizeof buf) {
        cl_normalise((const uint8_t *)s, n, buf, &e);
        buf[m] = 0;
        kind = kind_of(buf, (size_t)m, &iv);
    }
    if (row != t->cur_row || t->first_row < 0) { /* a new non-empty row */
        if (t->first_row < 0) t->first_row = row;
        else t->k = t->ndata++;
        t->cur_row = row;
    }
    if (col > t->nc) {
        if (col > t->cap) {
            int32_t nc = t->cap ? t->cap : 16;
            while (nc < col) nc *= 2;
            if (nc > MAX_COLS) nc = MAX_COLS;
            cl_colstat *c = realloc(t->c, (size_t)nc * sizeof *c);
            if (!c) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
            t->c = c;
            t->cap = nc;
        }
        for (int32_t j = t->nc; j < col; j++) {
            memset(&t->c[j], 0, sizeof t->c[j]);
            t->c[j].all_num = t->c[j].seq0 = t->c[j].seq1 = t->c[j].seq2 = 1;
        }
        t->nc = col;
    }
    cl_colstat *c = &t->c[col - 1];
    if (row == t->first_row) {
        if (c->head_kind != KIND_EMPTY) return AE_OK; /* a repeated cell: the first counts */
        c->head_kind = kind;
        c->head_int = iv;
        if (m > 0 && (size_t)m < sizeof buf) cl_sanitize(buf, (size_t)m, c->head, sizeof c->head, 40);
        else cl_sanitize(s, n, c->head, sizeof c->head, 40);
        return AE_OK;
    }
    if (c->n && c->last_k == t->k) return AE_OK; /* a repeated cell */
    c->n++;
    c->last_k = t->k;
    if (kind == KIND_TEXT) c->all_num = 0;
    if (kind != KIND_INT) c->seq0 = c->seq1 = c->seq2 = 0;
    else {
        c->seq0 &= iv == t->k;
        c->seq1 &= iv == t->k + 1;
        c->seq2 &= iv == t->k + 2;
    }
    return AE_OK;
}

/* Appends "'head' (column B)" or "column B (starts 'x')" for column j (0-based). */
static void list_add(char *list, size_t cap, int *count, const cl_colstat *c, int32_t j, int header)
{
    size_t len = strlen(list);
    char letters[8];
    cl_col_letters(j + 1, letters);
    if (*count == 8) snprintf(list + len, cap - len, ", ...");
    else if (*count < 8) {
        const char *sep = *count ? ", " : "";
        if (!c->head[0]) snprintf(list + len, cap - len, "%scolumn %s%s", sep, letters, header ? " (no header)" : "");
        else if (header) snprintf(list + len, cap - len, "%s'%s' (column %s)", sep, c->head, letters);
        else snprintf(list + len, cap - len, "%scolumn %s (starts '%s')", sep, letters, c->head);
    }
    (*count)++;
}

/* A column's part, with the first row as a header (h) or as data. */
static void roles(const cl_table *t, const cl_colstat *c, int h, int *present, int *index, int *num)
{
    if (h) {
        *present = c->n > 0;
        *index = *present && c->n == t->ndata && (c->seq0 || c->seq1);
        *num = c->all_num;
    } else {
        *present = c->n > 0 || c->head_kind != KIND_EMPTY;
        *index = c->head_kind == KIND_INT && c->n == t->ndata &&
                 ((c->head_int == 0 && c->seq1) || (c->head_int == 1 && c->seq2));
        *num = c->all_num && c->head_kind != KIND_TEXT;
    }
}

int cl_table_choose(const cl_table *t, cl_builder *b, const char *where, int32_t *col, int *header)
{
    *col = 1;
    int h = b->p.header;
    if (t->first_row < 0) { /* no value at all: the reader says so */
        *header = h;
        return AE_OK;
    }
    for (int32_t j = 0; j < t->nc && !h; j++) {
        const cl_colstat *c = &t->c[j];
        h = c->n > 0 && c->all_num && (c->head_kind == KIND_EMPTY || c->head_kind == KIND_TEXT);
    }
    /* the columns with a value, the index columns among them, the ones holding text */
    int32_t n_present = 0, n_cand = 0, n_text = 0, any = -1, cand = -1, text = -1;
    for (int32_t j = 0; j < t->nc; j++) {
        int present, index, num;
        roles(t, &t->c[j], h, &present, &index, &num);
        if (!present) continue;
        n_present++, any = j;
        if (index) continue;
        n_cand++, cand = j;
        if (!num) n_text++, text = j;
    }
    int32_t pick = n_text == 1 ? text : n_text ? -1 : n_cand == 1 ? cand : n_cand ? -1 :
                   n_present == 1 ? any : -1;
    if (pick < 0) {
        /* the columns one could mean: those with text, else all but the index columns,
           else all */
        char list[600] = "";
        int count = 0;
        for (int32_t j = 0; j < t->nc; j++) {
            int present, index, num;
            roles(t, &t->c[j], h, &present, &index, &num);
            if (!present || (n_cand && index) || (n_text && num)) continue;
            list_add(list, sizeof list, &count, &t->c[j], j, h);
        }
        return ae_fail(AE_ERR_INVALID, "%s: %s%d columns could be the class names: %s; %s",
                       b->name, where, count, list,
                       h ? "choose one with --column NAME"
                         : "choose one with --column NAME, NAME being its first row's text "
                           "(add a header row if the file has none)");
    }
    *col = pick + 1;
    *header = h;
    if (h && t->c[pick].head[0]) snprintf(b->column, sizeof b->column, "%s", t->c[pick].head);
    else cl_col_letters(pick + 1, b->column);
    return AE_OK;
}
