/*
 * csv.h — the app layer's one CSV/TSV record tokenizer (class lists, rating files).
 *
 * RFC 4180 records over a buffer held in memory: fields separated by one delimiter byte;
 * a field that starts with '"' is quoted and may hold delimiters, line breaks and "" (one
 * quote); text after a closing quote is kept, as Excel does. Records end at LF, CRLF or a lone
 * CR (outside quotes). Bytes are not interpreted otherwise: UTF-8 checks, BOMs and white space
 * are the caller's business. Each record's fields are unquoted into one buffer the reader
 * owns (never NULL once a record was read, also for a record of empty fields); csv_field
 * pointers stay valid until the next csv_next.
 *
 *     csv c;
 *     csv_init(&c, data, size, csv_sniff_delim(data, size));
 *     int64_t line;
 *     while ((rc = csv_next(&c, "labels.csv", &line)) == 1)
 *         for (size_t f = 0; f < c.nf; f++) use(c.buf + c.fo[f], c.fl[f]);
 *     csv_free(&c);   // rc < 0: an AE_ERR_* with ae_last_error() "labels.csv: line 7: ..."
 */
#ifndef AE_CSV_H
#define AE_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct csv {
    const char *d;     /* the input (not owned) */
    size_t n, pos;
    char delim;
    int64_t line;      /* current physical line, 1-based */
    char *buf;         /* the current record's fields, unquoted, back to back (owned) */
    size_t blen, bcap;
    size_t *fo, *fl;   /* (nf) field offsets and lengths in buf (owned) */
    size_t nf, fcap;
} csv;

/* Starts reading d[0..n) with the given delimiter; nothing is allocated yet. */
void csv_init(csv *c, const char *d, size_t n, char delim);
/* Reads the next record. Returns 1 (a record: nf >= 1 fields), 0 at the end of the input, or
 * a negative AE_ERR_* (AE_ERR_FORMAT "NAME: line L: unterminated quoted field",
 * AE_ERR_NOMEM). *rec_line: the line the record starts on. name is used in messages. */
int csv_next(csv *c, const char *name, int64_t *rec_line);
/* Frees what the reader allocated; c can be initialised again. */
void csv_free(csv *c);
/* The delimiter of the first non-blank line: ',' unless it has no unquoted ',' and has an
 * unquoted ';' or tab (the more frequent of the two; a tie goes to the tab). */
char csv_sniff_delim(const char *d, size_t n);

#endif
