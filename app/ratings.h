/*
 * ratings.h — the rating and label files of `aesthete train` and `aesthete eval`: each is
 * turned into a list of (key, value) entries, nothing more. Labels from folders (good/, bad/)
 * need no parsing and are the caller's business.
 *
 *     ae_ratings r;
 *     ae_idset test, missing;
 *     if (ae_ratings_read_ava("AVA.txt", 0, &r) != AE_OK)           // 0: skip damaged lines
 *         return fail(ae_last_error());     // "AVA.txt: line 7: 12 fields, an AVA line has 15"
 *     if (r.skipped) warn("%lld bad lines skipped; the first: %s", r.skipped, r.first_skip);
 *     if (ae_ratings_read_ids("test_ids.txt", &test) != AE_OK) return fail(ae_last_error());
 *     ae_ratings_filter(&r, &test, &missing);         // keep the test images; missing.n lack one
 *     for (int32_t i = 0; i < r.n; i++) use(r.v[i].key, r.v[i].value); // image <dir>/<key>.jpg
 *     ae_idset_free(&missing); ae_idset_free(&test); ae_ratings_free(&r);
 *
 * Formats:
 *   - AVA.txt (the AVA dataset's index): one image a line, 15 whitespace-separated (space,
 *     tab) non-negative decimal integers: row number, image id, the vote counts c1..c10 of
 *     ratings 1..10, two semantic tag ids, a challenge id. value = sum(r * c_r) / sum(c_r),
 *     computed exactly in integers and divided once (the correctly rounded mean); votes =
 *     sum(c_r). The key is the image id in decimal without leading zeros ("953619"; the image
 *     is <id>.jpg). Counts are at most INT32_MAX, the other fields INT64_MAX. A line with
 *     another number of fields, a field that is not a whole number (signs, trailing junk,
 *     NUL bytes), a negative or too large number, no votes at all, or an image id seen on an
 *     earlier line is bad: with strict, an error "AVA.txt: line 7: 12 fields, an AVA line has
 *     15"; without, the line is left out and counted in skipped, and the first such message
 *     kept in first_skip (a repeated id keeps the first line).
 *   - Id lists (split files such as the paper's 25,551 test ids or AVA's *.jpgl): one id or
 *     path a line; spaces and tabs around it, blank lines and lines starting with '#' are
 *     ignored; repeats are dropped. Every entry becomes a key by the id rule below. Invalid
 *     UTF-8, a control character (a tab inside, a NUL) or an entry with nothing left of it
 *     ("photos/") is an error naming the line.
 *   - CSV/TSV (the user's own): path and value columns, the delimiter sniffed by
 *     csv_sniff_delim (',', ';' or tab; RFC 4180 quoting through app/csv.h). The first
 *     non-blank record is a header when its second field is neither a number nor a label
 *     word ("path,rating"). Two columns: path, value. More: only with a header naming one
 *     path column (path, file, filename, image) and one value column (rating, score,
 *     label), ASCII case ignored; otherwise refused with the list of columns. Fields are
 *     trimmed of spaces and tabs; a record whose fields are all empty is skipped; without a
 *     header, fields after the second must be empty. A value is a finite decimal number
 *     ("4.5", "-1e3"; with ';' or tab as the delimiter "4,5" too) or a label word, ASCII
 *     case ignored: good, yes, y, true, keep, up, + (1) and bad, no, n, false, reject, down,
 *     - (0). kind is AE_RATINGS_LABELS when every value is a word or the number 0 or 1, else
 *     AE_RATINGS_RATINGS; words beside other numbers are an error naming both lines. The key
 *     is the path, resolved lexically: absolute paths and URLs ("scheme://") as they are,
 *     others joined to the CSV file's folder (leading "./" dropped); the file system is not
 *     touched. An empty path, invalid UTF-8 or a control character in a path, and a path
 *     seen on an earlier line are errors naming the line.
 * All three: a UTF-8 byte order mark is skipped, lines end at LF, CRLF or a lone CR, the last
 * line needs no line end.
 *
 * The id rule (ids lists, and rating keys in ae_ratings_filter): the part after the last '/'
 * or '\', less an image extension (.jpg .jpeg .png .webp .gif .bmp .tif .tiff .heic .heif
 * .avif, any case); all digits: leading zeros dropped. So "images/000953619.JPG",
 * "953619.jpg" and "953619" are all the key of AVA image 953619.
 *
 * Limits: inputs over AE_RATINGS_MAX_BYTES (1 GiB), lines or CSV records over
 * AE_RATINGS_MAX_LINE bytes (64 KiB) and more than INT32_MAX - 1 entries are errors
 * (AE_ERR_TOO_LARGE; an over-long AVA line is a bad line like the others). An AVA.txt of 255,530 lines (12 MB) parses in about 0.1-0.2 s of CPU on
 * a 2-vCPU AMD EPYC virtual machine (bench/bench_ratings.c), most of it first-touch page
 * faults and cache misses of the hash index.
 *
 * Errors: AE_ERR_FORMAT (a bad line or record), AE_ERR_INVALID (no entries, bad arguments),
 * AE_ERR_UNSUPPORTED (UTF-16 text), AE_ERR_TOO_LARGE, AE_ERR_NOT_FOUND / AE_ERR_IO (the file),
 * AE_ERR_NOMEM; ae_last_error() is one line starting with the file's name as given. On failure
 * *out is empty (zeroed; freeing it is fine). Thread-safe: nothing global.
 */
#ifndef AE_RATINGS_H
#define AE_RATINGS_H

#include <stddef.h>
#include <stdint.h>

#include "aesthete.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AE_RATINGS_MAX_BYTES ((size_t)1 << 30)
#define AE_RATINGS_MAX_LINE 65536

typedef struct ae_rating {
    const char *key; /* image id (AVA) or resolved path (CSV); owned by the list */
    double value;    /* mean score (AVA), rating, or label 1/0 */
    int64_t votes;   /* AVA: the number of votes; CSV: 0 */
    int64_t line;    /* 1-based line of the entry in its file */
} ae_rating;

typedef enum ae_ratings_kind { AE_RATINGS_RATINGS = 0, AE_RATINGS_LABELS = 1 } ae_ratings_kind;

/* Private to ratings.c: the keys' text and a hash index over them. */
typedef struct ae_keyindex {
    char *text;
    size_t tlen, tcap;
    size_t *off;     /* (n) key offsets in text */
    size_t ocap;
    uint64_t *slots; /* (cap) hash << 32 | entry + 1, 0 = empty */
    size_t cap;
} ae_keyindex;

typedef struct ae_ratings {
    ae_rating *v;           /* (n) entries in file order, keys distinct */
    int32_t n;
    ae_ratings_kind kind;   /* AVA: always AE_RATINGS_RATINGS */
    int64_t skipped;        /* AVA without strict: bad lines left out */
    char first_skip[256];   /* the first one's message, "AVA.txt: line 7: ..." ("" if none) */
    ae_keyindex ix_;
} ae_ratings;

typedef struct ae_idset {
    const char **keys;      /* (n) distinct keys in file order; owned by the set */
    int32_t n;
    ae_keyindex ix_;
} ae_idset;

/* AVA.txt at path, or size bytes in memory (name, may be NULL: "AVA.txt", names it in
 * messages). strict: 1 = the first bad line is an error, 0 = bad lines are skipped and
 * counted (blank lines are neither). At least one entry on success. */
int ae_ratings_read_ava(const char *path, int strict, ae_ratings *out);
int ae_ratings_parse_ava(const char *name, const char *data, size_t size, int strict,
                         ae_ratings *out);

/* A CSV/TSV of path,rating or path,label rows at path (relative paths resolved against its
 * folder), or size bytes in memory with dir (NULL or "": paths kept as they are) in that
 * role. name (may be NULL: "ratings.csv") names it in messages. At least one entry. */
int ae_ratings_read_csv(const char *path, ae_ratings *out);
int ae_ratings_parse_csv(const char *name, const char *dir, const char *data, size_t size,
                         ae_ratings *out);

/* An id list (split file) at path or in memory (name may be NULL: "ids"). At least one id. */
int ae_ratings_read_ids(const char *path, ae_idset *out);
int ae_ratings_parse_ids(const char *name, const char *data, size_t size, ae_idset *out);

/* Keeps the entries of r whose key, by the id rule, is in keep (order kept; for CSV lists
 * the file name decides, so two paths with one name both stay). missing (may be NULL)
 * receives the keys of keep that matched no entry, in keep's order (possibly none: n = 0);
 * free it with ae_idset_free. Returns AE_OK, AE_ERR_INVALID (NULL r or keep) or AE_ERR_NOMEM
 * (r unchanged then). */
int ae_ratings_filter(ae_ratings *r, const ae_idset *keep, ae_idset *missing);

/* The opposite: leaves out the entries whose key, by the id rule, is in drop (order kept;
 * `train --exclude` the test ids). Returns AE_OK or AE_ERR_NOMEM (r unchanged then). */
int ae_ratings_exclude(ae_ratings *r, const ae_idset *drop);

/* The index of the entry with exactly this key, or -1. O(1) (hashed). */
int32_t ae_ratings_find(const ae_ratings *r, const char *key);
/* The index of key (already normalised by the id rule) in s, or -1. */
int32_t ae_idset_find(const ae_idset *s, const char *key);

/* 1 or 0 for a label word of the CSV format above (good ... + / bad ... -, ASCII case
 * ignored), -1 for anything else: s[0..n), not NUL-terminated. */
int ae_ratings_label_word(const char *s, size_t n);

/* Free everything and zero the struct; a zeroed or freed one is fine. */
void ae_ratings_free(ae_ratings *r);
void ae_idset_free(ae_idset *s);

#ifdef __cplusplus
}
#endif

#endif
