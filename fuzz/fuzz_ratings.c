/*
 * fuzz_ratings.c — libFuzzer target for the rating and label readers (app/ratings.c): the
 * input goes, whole, through all three parsers — AVA.txt strict and skipping, CSV/TSV with
 * and without a folder, the id list — and then the AVA and CSV lists are filtered by the id
 * list. Whatever is accepted must keep its promises: at least one entry, keys non-empty,
 * distinct and found again at their index, values finite (AVA means in [1, 10] with votes,
 * labels 0 or 1), CSV paths valid UTF-8 without control characters; the filter keeps
 * exactly the entries whose id is in the set, and every id of the set is either matched or
 * missing. A failure leaves the list empty with a message. Built by -DAE_FUZZ=ON
 * (fuzz/run.sh):
 *
 *   build-fuzz/fuzz_ratings -max_len=4096 -timeout=10 fuzz/corpus/ratings/
 *
 * (seeds: AVA lines good and damaged, id lists, CSV/TSV/';' files with headers, labels,
 * quotes and BOMs).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The id rule, again, independently: what the filter must have matched. */
static void id_of(const char *s, char *out, size_t cap)
{
    const char *b = s;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '\\') b = p + 1;
    size_t n = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot > b) {
        static const char *const ext[] = {"jpg", "jpeg", "png", "webp", "gif", "bmp",
                                          "tif", "tiff", "heic", "heif", "avif"};
        for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
            size_t k = strlen(ext[i]);
            int same = strlen(dot + 1) == k;
            for (size_t j = 0; same && j < k; j++) {
                char c = dot[1 + j];
                if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
                same = c == ext[i][j];
            }
            if (same) { n = (size_t)(dot - b); break; }
        }
    }
    size_t d = 0;
    while (d < n && b[d] >= '0' && b[d] <= '9') d++;
    if (d == n)
        while (n > 1 && b[0] == '0') { b++; n--; }
    if (n >= cap) abort();
    memcpy(out, b, n);
    out[n] = 0;
}

static void check_failed(const ae_ratings *r)
{
    if (r->n || r->v || r->skipped || r->ix_.text || r->ix_.slots || r->first_skip[0]) abort();
    if (!ae_last_error()[0]) abort();
}

static void check_list(const ae_ratings *r, int ava, int strict)
{
    if (r->n < 1 || !r->v) abort();
    if (ava && (r->kind != AE_RATINGS_RATINGS || (strict && r->skipped))) abort();
    if ((r->skipped > 0) != (r->first_skip[0] != 0) || r->skipped < 0) abort();
    for (int32_t i = 0; i < r->n; i++) {
        const ae_rating *e = &r->v[i];
        if (!e->key || !e->key[0] || !isfinite(e->value) || e->line < 1) abort();
        if (i && e->line <= r->v[i - 1].line) abort();
        if (ae_ratings_find(r, e->key) != i) abort();
        if (ava) {
            if (e->votes < 1 || e->value < 1 || e->value > 10) abort();
            for (const char *p = e->key; *p; p++)
                if (*p < '0' || *p > '9') abort();
            if (e->key[0] == '0' && e->key[1]) abort();
        } else {
            if (e->votes) abort();
            if (r->kind == AE_RATINGS_LABELS && e->value != 0 && e->value != 1) abort();
            for (const unsigned char *p = (const unsigned char *)e->key; *p; p++)
                if (*p < 0x20 || *p == 0x7F) abort();
        }
    }
}

static void check_filter(ae_ratings *r, const ae_idset *s)
{
    int32_t before = r->n;
    uint8_t *hit = calloc((size_t)s->n + 1, 1);
    char id[AE_RATINGS_MAX_LINE + 8192];
    int32_t want = 0;
    for (int32_t i = 0; i < r->n; i++) {
        id_of(r->v[i].key, id, sizeof id);
        int32_t f = ae_idset_find(s, id);
        if (f >= 0) { hit[f] = 1; want++; }
    }
    ae_idset missing;
    if (ae_ratings_filter(r, s, &missing) != AE_OK) abort();
    if (r->n != want || r->n > before) abort();
    for (int32_t i = 0; i < r->n; i++) {
        id_of(r->v[i].key, id, sizeof id);
        if (ae_idset_find(s, id) < 0 || ae_ratings_find(r, r->v[i].key) != i) abort();
    }
    int32_t nm = 0;
    for (int32_t i = 0; i < s->n; i++) {
        int32_t m = ae_idset_find(&missing, s->keys[i]);
        if ((m >= 0) == hit[i]) abort();
        if (m >= 0 && m != nm++) abort();
    }
    if (nm != missing.n) abort();
    ae_idset_free(&missing);
    free(hit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy so that reads past the end are caught exactly */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);

    ae_idset s;
    int have_ids = ae_ratings_parse_ids("ids", buf, size, &s) == AE_OK;
    if (have_ids) {
        if (s.n < 1 || !s.keys) abort();
        for (int32_t i = 0; i < s.n; i++)
            if (!s.keys[i][0] || ae_idset_find(&s, s.keys[i]) != i) abort();
    } else if (s.n || s.keys || !ae_last_error()[0]) {
        abort();
    }

    for (int strict = 0; strict < 2; strict++) {
        ae_ratings r;
        if (ae_ratings_parse_ava("AVA.txt", buf, size, strict, &r) == AE_OK) {
            check_list(&r, 1, strict);
            if (have_ids) check_filter(&r, &s);
        } else check_failed(&r);
        ae_ratings_free(&r);
    }
    for (int d = 0; d < 2; d++) {
        ae_ratings r;
        if (ae_ratings_parse_csv("r.csv", d ? "/data/set" : NULL, buf, size, &r) == AE_OK) {
            check_list(&r, 0, 0);
            if (have_ids) check_filter(&r, &s);
        } else check_failed(&r);
        ae_ratings_free(&r);
    }
    if (have_ids) ae_idset_free(&s);
    free(buf);
    return 0;
}
