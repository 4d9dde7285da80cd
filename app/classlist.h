/*
 * classlist.h — lists of content classes for context-aware (ensemble) aesthetic prompting.
 *
 * The paper scores an image against prompts built from content classes: for each class name
 * c, "a outstanding picture, of a #c" and "a horrible picture, of a #c" (the embeddings of
 * each side are averaged). The classes are the 1000 ImageNet classes by default, or a
 * domain list the user supplies, such as ~1000 hotel room features kept in a spreadsheet
 * column "Col_Names". This module only produces the list of names; building prompts from
 * them is the prompt bank's business.
 *
 * Usage:
 *
 *     ae_classlist cl;
 *     ae_classlist_params p = ae_classlist_default_params();
 *     p.column = "Col_Names";               // or NULL: the one column of text (see below)
 *     if (ae_classlist_load("rooms.xlsx", &p, &cl) != AE_OK)
 *         fprintf(stderr, "aesthete: %s\n", ae_last_error());
 *     for (int32_t i = 0; i < cl.n; i++) puts(cl.names[i]);
 *     ae_classlist_free(&cl);
 *
 * Formats (chosen by content first, then by the name's extension):
 *   - XLSX (content starts with the zip signature "PK\3\4"; .xlsx/.xlsm): the first sheet of
 *     the workbook (xl/workbook.xml + xl/_rels/workbook.xml.rels, else
 *     xl/worksheets/sheet1.xml). Shared strings (rich-text runs joined, phonetic runs
 *     skipped), inline strings, numbers as the text Excel stored, booleans as TRUE/FALSE,
 *     formulas by their cached value. A formula without a cached value is an error naming
 *     the cell (the file was written by a program that does not calculate; open and save it
 *     in a spreadsheet). Error cells (#N/A, ...) are skipped like empty cells.
 *     Legacy .xls, encrypted workbooks (both OLE2 files), .xlsb and .ods are refused with a
 *     message saying so.
 *   - CSV (.csv): RFC 4180 — quoted fields may hold delimiters, "" and line breaks; CRLF, LF
 *     or CR line ends. The delimiter is ',' unless the first record has no unquoted ',' but
 *     has an unquoted ';' (European Excel) or tab. TSV (.tsv, .tab): the same with tabs.
 *   - TXT (.txt, .text, .lst, .list, .names): one class per line, taken literally.
 *   - Any other name: TSV if the first non-blank line has a tab; else CSV (sniffed) if a
 *     column or header was requested, else TXT.
 *   - UTF-16 text with a byte order mark (Excel's "Unicode Text") is converted to UTF-8.
 *
 * Columns and the header row. params.column picks the column whose header equals it
 * (exactly, else ignoring ASCII case; the first such column); the header row is then the
 * first row (record) with a non-empty cell. Without a column (app/classlist_columns.c):
 *   - the first non-empty row is a header when params.header is set, or when some column
 *     holds only numbers below it while that row's cell is not a number: "id" above 1, 2, 3,
 *     or the empty cell pandas writes above its index; otherwise every row is data (so a
 *     one-column list whose first row is a header keeps it as a class: name it);
 *   - an index column (every data row holds the integers 0..n-1 or 1..n, in order) is never
 *     the class names;
 *   - the names are the one column left that holds text (a cell that is not a number: "-1",
 *     "3.25" and "120,50" are numbers), else the one column left (of numbers, such as years),
 *     else the one column of the table even if it is an index (a list of numbers);
 *   - anything else is refused (AE_ERR_INVALID) with one line naming the columns and what to
 *     pass: "rooms.csv: 2 columns could be the class names: 'name' (column B), 'kind'
 *     (column C); choose one with --column NAME".
 * out->column tells which column was read. A TXT file has no columns: asking for one is an
 * error.
 *
 * Every name is normalised the same way for every format: a UTF-8 BOM is dropped; runs of
 * Unicode white space (tabs, line breaks inside quoted cells, NBSP, ...) become one space and
 * are trimmed from both ends — CLIP's tokenizer collapses \s+ anyway, so prompts do not
 * change; empty names are skipped; invalid UTF-8 and control characters are errors naming the
 * line or cell; exact duplicates are dropped keeping the first occurrence (case matters),
 * unless params.keep_duplicates is set.
 *
 * Limits (each violation is an error naming the file, the place and the limit; nothing is
 * allocated beyond them): the input size (max_bytes, also the cap on every uncompressed XLSX
 * part, checked against the zip header and again while inflating, and on the total bytes of
 * names), the number of names (max_classes) and the bytes of one name (max_name_bytes). XML
 * parts are read with libxml2's streaming reader without network, DTDs or entity
 * substitution; a DOCTYPE or an entity reference in an XLSX part is refused.
 *
 * Errors: AE_ERR_IO (cannot read), AE_ERR_FORMAT (malformed: bad UTF-8, broken zip or XML,
 * bad cell), AE_ERR_UNSUPPORTED (.xls, .xlsb, .ods), AE_ERR_TOO_LARGE (a limit),
 * AE_ERR_NOT_FOUND (missing column or worksheet), AE_ERR_INVALID (bad arguments, no class
 * names at all). ae_last_error() holds one line that starts with the input's name, e.g.
 * "rooms.xlsx: sheet 'Rooms' cell A5: shared string index 99 out of range (12 strings)".
 * Thread-safe: no global state besides libxml2's one-time initialisation.
 */
#ifndef AE_CLASSLIST_H
#define AE_CLASSLIST_H

#include <stddef.h>
#include <stdint.h>

#include "aesthete.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ae_classlist {
    int32_t n;    /* number of names, >= 1 after a successful call */
    char **names; /* n NUL-terminated UTF-8 names (NFC not enforced); one allocation
                     holding the pointers and the text: free with ae_classlist_free only */
    char column[72]; /* the column read: its header (as in the file, normalised, at most 40
                        bytes), else its letter ("B"); "" for a text list or strings */
} ae_classlist;

typedef struct ae_classlist_params {
    const char *column;     /* header of the column to read; NULL: chosen (see above) */
    int32_t header;         /* 1: the first non-empty row is a header and is skipped (implied
                               by column); 0: detected (default, see above) */
    int32_t keep_duplicates;/* 1: keep repeated names (default 0: keep the first only) */
    size_t max_bytes;       /* input bytes, uncompressed XLSX part and total name bytes
                               (default 64 MiB; 0 = default) */
    int32_t max_classes;    /* names after de-duplication (default 100000; 0 = default) */
    size_t max_name_bytes;  /* bytes of one normalised name (default 4096; 0 = default) */
} ae_classlist_params;

#define AE_CLASSLIST_MAX_BYTES ((size_t)64 << 20)
#define AE_CLASSLIST_MAX_CLASSES 100000
#define AE_CLASSLIST_MAX_NAME_BYTES 4096

ae_classlist_params ae_classlist_default_params(void);

/* Reads the file at path (at most max_bytes; "-" is not special) and parses it as
 * ae_classlist_parse does, naming it by its base name in messages. params may be NULL
 * (defaults). On success *out holds >= 1 names; on failure *out is {0, NULL}. */
int ae_classlist_load(const char *path, const ae_classlist_params *params, ae_classlist *out);

/* Parses size bytes of a class list held in memory (an upload). name (may be NULL: "classes")
 * is used for the format's extension and in messages. data is not kept. */
int ae_classlist_parse(const void *data, size_t size, const char *name,
                       const ae_classlist_params *params, ae_classlist *out);

/* Builds a list from n C strings (command-line or JSON input) with the same normalisation,
 * de-duplication and limits. name is used in messages ("line i" = names[i - 1]). */
int ae_classlist_from_strings(const char *const *names, int32_t n, const char *name,
                              const ae_classlist_params *params, ae_classlist *out);

/* The built-in 1000 ImageNet class names in OpenAI's order (data/imagenet_classes.txt, compiled
 * into the library), all 1000 kept: the list repeats
 * "missile" and "sunglasses", and the paper's ImageNet ensemble (and the golden prompt ids)
 * use all 1000 prompts, so these two weigh double exactly as in the reference. */
int ae_classlist_imagenet(ae_classlist *out);

/* One line for the user about a list: "103 classes from SOURCE (column Col_Names): lobby,
 * infinity pool, king bed suite, ..." (its first names, about 80 bytes of them; no column
 * for a text list); source NULL: "1000 classes (the built-in ImageNet list): tench, ...".
 * Truncated to cap bytes. */
void ae_classlist_describe(const ae_classlist *cl, const char *source, char *buf, size_t cap);

/* Frees the names and zeroes *list; NULL or an already freed list is fine. */
void ae_classlist_free(ae_classlist *list);

#ifdef __cplusplus
}
#endif

#endif
