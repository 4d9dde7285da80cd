/*
 * classlist_internal.h — what the class-list readers share (not installed, not public).
 *
 * app/classlist.c holds the public entry points and chooses the format; each format has its
 * own reader (classlist_txt.c, classlist_csv.c, classlist_xlsx.c) that hands raw cell or line
 * bytes to the one builder in classlist_names.c (cl_add_name), which normalises them, applies
 * the limits and drops duplicates; cl_finish packs the result into an ae_classlist.
 */
#ifndef AE_CLASSLIST_INTERNAL_H
#define AE_CLASSLIST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "classlist.h"

enum { NORM_BAD_UTF8 = 1, NORM_CONTROL = 2 };

typedef struct cl_normerr {
    int kind;
    size_t pos;  /* byte offset of the bad sequence in the input */
    uint32_t cp; /* NORM_CONTROL: the character */
} cl_normerr;

/* Where a name came from, formatted only when a message needs it. */
typedef struct cl_loc {
    const char *sheet; /* XLSX: the sheet's name or part path; NULL for text */
    int64_t line;      /* text: 1-based line; XLSX: row */
    int32_t col;       /* XLSX: 1-based column */
    int entry;         /* from_strings: line means "entry" */
} cl_loc;

typedef struct cl_builder {
    const char *name; /* the input, for messages */
    ae_classlist_params p;
    char *text;       /* the names, each NUL-terminated */
    size_t len, cap;
    size_t *off;      /* (n) offsets into text */
    int32_t n, ocap;
    uint32_t *slots;  /* hash set: index + 1, 0 = empty; (nslots), a power of two */
    size_t nslots;
    char column[72];  /* the column read (its header, else its letter): ae_classlist.column */
} cl_builder;

/* Header columns seen, for "column 'x' not found (columns: a, b)". */
typedef struct cl_header_list {
    char text[512];
    int count;
} cl_header_list;

/* ---- UTF-8 and white space (classlist_names.c) ---- */

/* Writes cp as UTF-8 into o (room for 4 bytes); returns its length. */
size_t cl_utf8_encode(uint32_t cp, char *o);
/* Normalises s[0..n): white-space runs -> one space, trimmed; U+FEFF dropped. Writes into
 * out when out != NULL (room for n bytes suffices). Returns the length, or -1 with *e set. */
long cl_normalise(const uint8_t *s, size_t n, char *out, cl_normerr *e);
/* A copy of s for messages: at most max bytes cut on a character boundary, control
 * characters and invalid bytes as '?'. */
void cl_sanitize(const char *s, size_t n, char *buf, size_t cap, size_t max);

/* ---- the builder (classlist_names.c) ---- */

/* 1-based column -> "A", "B", ..., "AA" (buf: 8 bytes). */
void cl_col_letters(int32_t col, char *buf);
void cl_loc_format(const cl_loc *l, char *buf, size_t cap);
void cl_builder_init(cl_builder *b, const char *name, const ae_classlist_params *p);
void cl_builder_free(cl_builder *b);
/* Normalises s[0..n) and appends it unless empty or a duplicate. */
int cl_add_name(cl_builder *b, const char *s, size_t n, const cl_loc *l);
/* Packs the names into one block: n pointers, then the text. */
int cl_finish(cl_builder *b, ae_classlist *out);

/* ---- header rows (classlist_names.c) ---- */

/* Normalised header text for matching; returns its length (buf holds up to cap - 1 bytes),
 * (size_t)-1 for a cell that can never match (shown sanitised in buf). */
size_t cl_header_text(const char *s, size_t n, char *buf, size_t cap);
void cl_header_list_add(cl_header_list *h, const char *s);
/* 1: exact match, 2: ASCII case-insensitive match, 0: none. */
int cl_header_match(const char *cell, const char *want);

/* ---- the column of a table when none was named (classlist_columns.c) ---- */

typedef struct cl_colstat {
    char head[48];           /* the first row's cell, normalised and sanitised ("": empty) */
    int head_kind;           /* empty, integer, other number or text */
    int64_t head_int;        /* the first row's integer */
    int64_t n, last_k;       /* non-empty cells below the first row; the last one's row */
    int all_num;             /* they are all numbers */
    int seq0, seq1, seq2;    /* the k-th row below the first (0-based) holds k, k+1, k+2 */
} cl_colstat;

typedef struct cl_table {
    cl_colstat *c;           /* (nc) by column, 0-based */
    int32_t nc, cap;
    int64_t first_row;       /* the first row with a non-empty cell (-1: none yet) */
    int64_t cur_row;         /* the row of the last non-empty cell */
    int64_t k, ndata;        /* its 0-based number below the first row; rows below it */
} cl_table;

void cl_table_init(cl_table *t);
void cl_table_free(cl_table *t);
/* Feeds one cell (row and 1-based column as the reader numbers them, rows in order; the
 * raw bytes, normalised here). */
int cl_table_cell(cl_table *t, int64_t row, int32_t col, const char *s, size_t n,
                  const char *name);
/* Chooses the column (*col, 1-based) and whether the first non-empty row is a header
 * (*header), setting b->column, or fails with a message naming the columns ("where" follows
 * the input's name in it: "" or "sheet 'Rooms': "). With no value at all: column 1. */
int cl_table_choose(const cl_table *t, cl_builder *b, const char *where, int32_t *col,
                    int *header);

/* ---- the formats: each fills b from the whole input, or fails with a message ---- */

int cl_parse_txt(cl_builder *b, const char *d, size_t n);           /* classlist_txt.c */
int cl_parse_csv(cl_builder *b, const char *d, size_t n, char delim); /* classlist_csv.c */
int cl_parse_xlsx(cl_builder *b, const void *data, size_t size);    /* classlist_xlsx.c */

#endif
