/*
 * test_ratings.c — rating and label files (app/ratings.c): AVA.txt means computed exactly,
 * every kind of damaged AVA line in strict and skip mode with its exact message, id lists and
 * the split filter, CSV/TSV label and rating files (header detection, label words, kinds,
 * column picking, path resolution, quoting, delimiters), the limits and the file errors.
 * Messages are compared exactly.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratings.h"
#include "test.h"

#define CHECK_ERR(expr, code, msg)                                                         \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        CHECK_MSG(rc_ == (code), "%s = %d (%s), expected %d", #expr, rc_, ae_last_error(), code); \
        CHECK_MSG(!strcmp(ae_last_error(), msg), "message \"%s\"\n      expected \"%s\"",      \
                  ae_last_error(), msg);                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        CHECK_MSG(a_ && !strcmp(a_, b_), "%s = \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_); \
    } while (0)

static void write_bytes(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

static int ava(const char *s, int strict, ae_ratings *r)
{
    return ae_ratings_parse_ava("AVA.txt", s, strlen(s), strict, r);
}

static int csvp(const char *s, const char *dir, ae_ratings *r)
{
    return ae_ratings_parse_csv("r.csv", dir, s, strlen(s), r);
}

static int ids(const char *s, ae_idset *set)
{
    return ae_ratings_parse_ids("ids.txt", s, strlen(s), set);
}

/* A list that failed must be empty. */
static void check_empty(const ae_ratings *r)
{
    CHECK(r->n == 0 && r->v == NULL && r->skipped == 0 && r->ix_.text == NULL);
}

/* ---- AVA.txt ----------------------------------------------------------------------------- */

static void test_ava_means(void)
{
    ae_ratings r;
    /* counts 0 1 2 ... 9 for ratings 1..10: sum r(r-1) = 330 over 45 votes = 22/3 */
    CHECK_EQ_INT(ava("1 100 0 1 2 3 4 5 6 7 8 9 0 0 1\n", 1, &r), AE_OK);
    CHECK_EQ_INT(r.n, 1);
    CHECK_STR(r.v[0].key, "100");
    CHECK_NEAR(r.v[0].value, 22.0 / 3.0, 1e-12);
    CHECK(r.v[0].value == 22.0 / 3.0); /* one correctly rounded division */
    CHECK_EQ_INT(r.v[0].votes, 45);
    CHECK_EQ_INT(r.v[0].line, 1);
    CHECK_EQ_INT(r.kind, AE_RATINGS_RATINGS);
    CHECK_EQ_INT(r.skipped, 0);
    CHECK_STR(r.first_skip, "");
    ae_ratings_free(&r);
    check_empty(&r);

    /* a real AVA line (image 953619): 699 / 124; mean exactly 5 is not good (> 5 is) */
    const char *t = "1 953619 0 1 5 17 38 36 15 6 5 1 1 22 1396\n"
                    "2 953958 0 0 0 0 2 0 0 0 0 0 0 0 1396\n"    /* all fives: 5.0 */
                    "3 954184 0 0 0 1 0 1 0 0 0 0 0 0 1396\n"    /* 4 and 6: 5.0 */
                    "4 954113 0 0 0 0 99 1 0 0 0 0 0 0 1396\n";  /* 5.01 */
    CHECK_EQ_INT(ava(t, 1, &r), AE_OK);
    CHECK_EQ_INT(r.n, 4);
    CHECK_NEAR(r.v[0].value, 699.0 / 124.0, 1e-12);
    CHECK_EQ_INT(r.v[0].votes, 124);
    CHECK(r.v[1].value == 5.0 && !(r.v[1].value > 5));
    CHECK(r.v[2].value == 5.0 && !(r.v[2].value > 5));
    CHECK(r.v[3].value > 5 && r.v[3].value == 501.0 / 100.0);
    CHECK_EQ_INT(ae_ratings_find(&r, "954184"), 2);
    CHECK_EQ_INT(ae_ratings_find(&r, "953619"), 0);
    CHECK_EQ_INT(ae_ratings_find(&r, "95361"), -1);
    CHECK_EQ_INT(ae_ratings_find(&r, ""), -1);
    ae_ratings_free(&r);

    /* all votes on 1 or on 10; the largest counts and ids */
    CHECK_EQ_INT(ava("1 1 7 0 0 0 0 0 0 0 0 0 0 0 0\n"
                     "2 2 0 0 0 0 0 0 0 0 0 2147483647 0 0 0\n"
                     "9223372036854775807 9223372036854775807 2147483647 2147483647 2147483647 "
                     "2147483647 2147483647 2147483647 2147483647 2147483647 2147483647 "
                     "2147483647 9223372036854775807 9223372036854775807 9223372036854775807\n",
                     1, &r), AE_OK);
    CHECK_EQ_INT(r.n, 3);
    CHECK(r.v[0].value == 1.0 && r.v[1].value == 10.0 && r.v[2].value == 5.5);
    CHECK_EQ_INT(r.v[1].votes, 2147483647);
    CHECK_EQ_INT(r.v[2].votes, 21474836470LL);
    CHECK_STR(r.v[2].key, "9223372036854775807");
    ae_ratings_free(&r);

    /* leading zeros are not part of the id; tabs and runs of spaces separate fields */
    CHECK_EQ_INT(ava("1\t00042  0 0 0 0 1 0 0 0 0 0\t0 0 0", 1, &r), AE_OK);
    CHECK_STR(r.v[0].key, "42");
    ae_ratings_free(&r);
    CHECK_EQ_INT(ava("1 0 0 0 0 0 1 0 0 0 0 0 0 0 0", 1, &r), AE_OK);
    CHECK_STR(r.v[0].key, "0");
    ae_ratings_free(&r);
}

static void test_ava_line_ends(void)
{
    ae_ratings r;
    /* CRLF, a lone CR, blank lines (with white space), no final line end, a BOM */
    const char *t = "\xEF\xBB\xBF" "1 11 0 0 0 0 1 0 0 0 0 0 0 0 0\r\n"
                    "\r\n"
                    "  \t \n"
                    "2 12 0 0 0 0 0 1 0 0 0 0 0 0 0\r"
                    "3 13 0 0 0 0 0 0 1 0 0 0 0 0 0 \t\n"
                    "4 14 0 0 0 0 0 0 0 1 0 0 0 0 0";
    CHECK_EQ_INT(ava(t, 1, &r), AE_OK);
    CHECK_EQ_INT(r.n, 4);
    if (r.n == 4) {
        CHECK_STR(r.v[0].key, "11");
        CHECK_EQ_INT(r.v[0].line, 1);
        CHECK_EQ_INT(r.v[1].line, 4);
        CHECK(r.v[1].value == 6.0);
        CHECK_EQ_INT(r.v[2].line, 5);
        CHECK_EQ_INT(r.v[3].line, 6);
        CHECK(r.v[3].value == 8.0);
    }
    ae_ratings_free(&r);
}

#define WITH_NUL(lit) lit, sizeof(lit) - 1

typedef struct bad_line {
    const char *line; /* the second line of a three-line file */
    size_t len;       /* 0: strlen */
    const char *msg;  /* after "AVA.txt: line 2: " */
} bad_line;

static void test_ava_bad_lines(void)
{
    static char long_line[AE_RATINGS_MAX_LINE + 2];
    memset(long_line, ' ', sizeof long_line - 1);
    memcpy(long_line, "2 5 0 0 0 0 1 0 0 0 0 0 0 0 0", 29);
    static char digits[1001];
    memset(digits, '1', 1000);
    char huge[1100];
    snprintf(huge, sizeof huge, "2 %s 0 0 0 0 1 0 0 0 0 0 0 0 0", digits);
    const bad_line cases[] = {
        {"2 5 0 0 0 0 1 0 0 0 0 0", 0, "12 fields, an AVA line has 15"},
        {"2 5 0 0 0 0 1 0 0 0 0 0 0 0 0 7", 0, "16 fields, an AVA line has 15"},
        {"2", 0, "1 field, an AVA line has 15"},
        {"2 x 0 0 0 0 1 0 0 0 0 0 0 0 0", 0, "field 2 (image id) is not a whole number: 'x'"},
        {"2 5 0 0 0 0 1abc 0 0 0 0 0 0 0 0", 0,
         "field 7 (count of rating 5) is not a whole number: '1abc'"},
        {"2 5 0 0 0 0 1 0 0 0 0 0 0 0 0.5", 0, "field 15 (challenge id) is not a whole number: '0.5'"},
        {"2 5 0 0 0 0 +1 0 0 0 0 0 0 0 0", 0,
         "field 7 (count of rating 5) is not a whole number: '+1'"},
        {"2 5 0 0 0 0 1 0 0 0 0 0 - 0 0", 0, "field 13 (tag 1) is not a whole number: '-'"},
        {"2 5 0 -3 0 0 1 0 0 0 0 0 0 0 0", 0, "field 4 (count of rating 2) is negative: '-3'"},
        {"-2 5 0 0 0 0 1 0 0 0 0 0 0 0 0", 0, "field 1 (row number) is negative: '-2'"},
        {"2 5 0 0 0 0 1 0 0 0 0 0 0 0 -99999999999999999999", 0,
         "field 15 (challenge id) is negative: '-99999999999999999999'"},
        {"2 5 0 0 0 0 2147483648 0 0 0 0 0 0 0 0", 0,
         "field 7 (count of rating 5) is too large: '2147483648' (the most is 2147483647)"},
        {"2 9223372036854775808 0 0 0 0 1 0 0 0 0 0 0 0 0", 0,
         "field 2 (image id) is too large: '9223372036854775808' (the most is 9223372036854775807)"},
        {huge, 0, "field 2 (image id) is too large: '111111111111111111111111...' (the most is "
                  "9223372036854775807)"},
        {"2 5 0 0 0 0 0 0 0 0 0 0 1 2 3", 0, "image 5 has no votes (all ten counts are 0)"},
        {WITH_NUL("2 5 \0 0 0 0 1 0 0 0 0 0 0 0 0"), "field 3 (count of rating 1) holds a NUL byte: '?'"},
        {WITH_NUL("2 5 0 0 0 0 1 0 0 0 0 0 0 0 0\0"), "field 15 (challenge id) holds a NUL byte: '0?'"},
        {"2 5 0 0 0 0 1 0 0 0 0 0 \x01 0 0", 0, "field 13 (tag 1) is not a whole number: '?'"},
        {"2 5 0 0 0 0 1 0 0 0 0 0 0 0 \xC3\xA9", 0,
         "field 15 (challenge id) is not a whole number: '\xC3\xA9'"},
        {"2 1 0 0 0 0 1 0 0 0 0 0 0 0 0", 0, "image 1 repeats line 1"},
        {"2 0001 0 0 0 0 1 0 0 0 0 0 0 0 0", 0, "image 1 repeats line 1"},
        {long_line, 0, "longer than 65536 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bad_line *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->line);
        const char *first = "1 1 0 0 0 0 0 0 0 0 0 1 0 0 0\n", *last = "\n3 3 0 0 1 0 0 0 0 0 0 0 0 0 0\n";
        size_t fl = strlen(first), ll = strlen(last);
        char *buf = malloc(fl + len + ll);
        memcpy(buf, first, fl);
        memcpy(buf + fl, c->line, len);
        memcpy(buf + fl + len, last, ll);
        char want[512];
        snprintf(want, sizeof want, "AVA.txt: line 2: %s", c->msg);
        ae_ratings r;
        int rc = ae_ratings_parse_ava("AVA.txt", buf, fl + len + ll, 1, &r);
        CHECK_MSG(rc == AE_ERR_FORMAT, "case %zu: rc %d", i, rc);
        CHECK_MSG(!strcmp(ae_last_error(), want), "case %zu: \"%s\"\n      expected \"%s\"", i,
                  ae_last_error(), want);
        check_empty(&r);
        /* skip mode: the same text, the good lines kept */
        rc = ae_ratings_parse_ava("AVA.txt", buf, fl + len + ll, 0, &r);
        CHECK_MSG(rc == AE_OK, "case %zu: skip rc %d (%s)", i, rc, ae_last_error());
        CHECK_MSG(r.n == 2 && r.skipped == 1, "case %zu: n %d skipped %lld", i, r.n,
                  (long long)r.skipped);
        CHECK_MSG(!strcmp(r.first_skip, want), "case %zu: first_skip \"%s\"", i, r.first_skip);
        if (r.n == 2) {
            CHECK_STR(r.v[0].key, "1");
            CHECK(r.v[0].value == 10.0);
            CHECK_STR(r.v[1].key, "3");
            CHECK_EQ_INT(r.v[1].line, 3);
        }
        ae_ratings_free(&r);
        free(buf);
    }
}

static void test_ava_skip_mode(void)
{
    ae_ratings r;
    /* several bad lines: counted, the first one's message kept */
    const char *t = "1 1 0 0 0 0 1 0 0 0 0 0 0 0 0\n"
                    "2 2 0 0 0 0 1 0 0 0 0\n"
                    "3 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                    "4 4 0 0 0 0 1 0 0 0 0 0 0 0 0\n"
                    "5 1 0 0 0 0 0 0 0 0 0 9 0 0 0\n"
                    "6 6 0 0 0 0 1";                  /* truncated, no line end */
    CHECK_EQ_INT(ava(t, 0, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.skipped, 4);
    CHECK_STR(r.first_skip, "AVA.txt: line 2: 11 fields, an AVA line has 15");
    CHECK(r.v[0].value == 5.0); /* a repeated id keeps the first line */
    CHECK_STR(r.v[1].key, "4");
    ae_ratings_free(&r);
    CHECK_ERR(ava(t, 1, &r), AE_ERR_FORMAT, "AVA.txt: line 2: 11 fields, an AVA line has 15");
    CHECK_ERR(ava("1 1 0 0 0 0 1 0 0 0 0 0 0 0 0\n2 2 0 0 0 0 1", 1, &r), AE_ERR_FORMAT,
              "AVA.txt: line 2: 7 fields, an AVA line has 15");

    /* nothing good at all */
    CHECK_ERR(ava("garbage\n1 2 3\n", 0, &r), AE_ERR_FORMAT,
              "AVA.txt: no ratings: 2 bad lines skipped, the first: line 1: 1 field, an AVA line "
              "has 15");
    check_empty(&r);
    CHECK_ERR(ava("1 2 3", 0, &r), AE_ERR_FORMAT,
              "AVA.txt: no ratings: 1 bad line skipped, the first: line 1: 3 fields, an AVA line "
              "has 15");
    CHECK_ERR(ava("", 0, &r), AE_ERR_INVALID, "AVA.txt: no ratings (the file is empty)");
    CHECK_ERR(ava("\n \r\n\t", 1, &r), AE_ERR_INVALID, "AVA.txt: no ratings (only blank lines)");
    CHECK_ERR(ae_ratings_parse_ava(NULL, "", 0, 1, &r), AE_ERR_INVALID,
              "AVA.txt: no ratings (the file is empty)");
    CHECK_ERR(ae_ratings_parse_ava("x", "\xFF\xFE" "1\0", 4, 1, &r), AE_ERR_UNSUPPORTED,
              "x: UTF-16 text is not supported; save it as UTF-8");
    CHECK_ERR(ae_ratings_parse_ava("x", NULL, 3, 1, &r), AE_ERR_INVALID, "x: data is NULL");
    CHECK_ERR(ae_ratings_parse_ava("x", "", 0, 1, NULL), AE_ERR_INVALID, "x: out is NULL");

    /* a very long name: first_skip is cut, still one terminated line */
    char name[400];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    CHECK_EQ_INT(ae_ratings_parse_ava(name, "x\n1 1 0 0 0 0 1 0 0 0 0 0 0 0 0", 31, 0, &r), AE_OK);
    CHECK_EQ_INT(strlen(r.first_skip), sizeof r.first_skip - 1);
    CHECK(!strncmp(r.first_skip, name, 255));
    ae_ratings_free(&r);
}

/* An AVA.txt of AVA's size, generated: every line checked (not timed here). */
static void test_ava_full_size(void)
{
    const int32_t n = 255530;
    size_t cap = (size_t)n * 80, len = 0;
    char *buf = malloc(cap);
    uint32_t x = 12345;
    for (int32_t i = 0; i < n; i++) {
        int c[10];
        for (int k = 0; k < 10; k++) {
            x = x * 1664525u + 1013904223u;
            c[k] = (int)(x >> 26); /* 0..63 */
        }
        c[4] += 1; /* never zero votes */
        len += (size_t)snprintf(buf + len, cap - len, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n",
                                i + 1, 100000 + i * 3, c[0], c[1], c[2], c[3], c[4], c[5], c[6],
                                c[7], c[8], c[9], i % 66, i % 7, 1000 + i % 1400);
    }
    ae_ratings r;
    CHECK_EQ_INT(ae_ratings_parse_ava("AVA.txt", buf, len, 1, &r), AE_OK);
    CHECK_EQ_INT(r.n, n);
    int bad = 0;
    x = 12345;
    for (int32_t i = 0; i < r.n; i++) {
        int64_t v = 0, t = 0;
        for (int k = 0; k < 10; k++) {
            x = x * 1664525u + 1013904223u;
            int64_t ck = (int64_t)(x >> 26) + (k == 4);
            v += ck;
            t += (k + 1) * ck;
        }
        char key[16];
        snprintf(key, sizeof key, "%d", 100000 + i * 3);
        bad += r.v[i].votes != v || r.v[i].value != (double)t / (double)v ||
               strcmp(r.v[i].key, key) || r.v[i].line != i + 1 || ae_ratings_find(&r, key) != i;
    }
    CHECK_EQ_INT(bad, 0);
    ae_ratings_free(&r);
    free(buf);
}

/* ---- id lists and the split filter ----------------------------------------------------------- */

static void test_ids(void)
{
    ae_idset s;
    CHECK_EQ_INT(ids("\xEF\xBB\xBF" "953619\n953620.jpg\nimages/000953621.JPG\n  # a comment\n\n"
                     "  953622  \r\nC:\\AVA\\953623.jpeg\r953619\n0953620.jpg\n0\n000.png\n"
                     "img_01.png\na.b.txt\n.jpg\nnested/dir/photo 1.WebP",
                     &s), AE_OK);
    static const char *const want[] = {"953619", "953620", "953621", "953622", "953623",
                                       "0", "img_01", "a.b.txt", ".jpg", "photo 1"};
    CHECK_EQ_INT(s.n, 10);
    for (int i = 0; i < s.n && i < 10; i++) CHECK_STR(s.keys[i], want[i]);
    CHECK_EQ_INT(ae_idset_find(&s, "953621"), 2);
    CHECK_EQ_INT(ae_idset_find(&s, "photo 1"), 9);
    CHECK_EQ_INT(ae_idset_find(&s, "953621.jpg"), -1); /* keys are looked up as they are */
    ae_idset_free(&s);
    CHECK(s.n == 0 && s.keys == NULL);

    CHECK_ERR(ids("1\nphotos/\n", &s), AE_ERR_FORMAT, "ids.txt: line 2: 'photos/' names no image");
    CHECK(s.n == 0 && s.keys == NULL);
    CHECK_ERR(ae_ratings_parse_ids("ids.txt", "1\n2\0003\n", 6, &s), AE_ERR_FORMAT,
              "ids.txt: line 2: a NUL byte");
    CHECK_ERR(ids("1\n\xC3(.jpg\n", &s), AE_ERR_FORMAT, "ids.txt: line 2: invalid UTF-8");
    CHECK_ERR(ids("1\n2\x7F\n", &s), AE_ERR_FORMAT, "ids.txt: line 2: a control character");
    CHECK_ERR(ids("1\n2\t3\n", &s), AE_ERR_FORMAT, "ids.txt: line 2: a control character");
    CHECK_ERR(ids("", &s), AE_ERR_INVALID, "ids.txt: no ids (the file is empty)");
    CHECK_ERR(ids("# test split\n\n   \n", &s), AE_ERR_INVALID,
              "ids.txt: no ids (only blank lines and comments)");
    char *big = malloc(AE_RATINGS_MAX_LINE + 8);
    memset(big, '7', AE_RATINGS_MAX_LINE + 1);
    big[AE_RATINGS_MAX_LINE + 1] = 0;
    CHECK_ERR(ids(big, &s), AE_ERR_TOO_LARGE, "ids.txt: line 1: longer than 65536 bytes");
    big[AE_RATINGS_MAX_LINE] = 0; /* exactly the limit: fine */
    CHECK_EQ_INT(ids(big, &s), AE_OK);
    CHECK_EQ_INT(strlen(s.keys[0]), AE_RATINGS_MAX_LINE);
    ae_idset_free(&s);
    free(big);
}

static void test_filter(void)
{
    ae_ratings r;
    ae_idset split, missing;
    CHECK_EQ_INT(ava("1 1 0 0 0 0 1 0 0 0 0 0 0 0 0\n2 2 0 0 0 0 0 1 0 0 0 0 0 0 0\n"
                     "3 3 0 0 0 0 1 0 0 0 0 0 0 0 0\n4 4 0 0 0 0 0 0 1 0 0 0 0 0 0\n"
                     "5 5 0 0 0 0 1 0 0 0 0 0 0 0 0\n6 6 0 0 0 0 0 0 0 1 0 0 0 0 0\n",
                     1, &r), AE_OK);
    CHECK_EQ_INT(ids("9\n6.jpg\n2\n8\n004\n", &split), AE_OK);
    CHECK_EQ_INT(ae_ratings_filter(&r, &split, &missing), AE_OK);
    CHECK_EQ_INT(r.n, 3);
    if (r.n == 3) {
        /* the list's order, not the split's */
        CHECK_STR(r.v[0].key, "2");
        CHECK(r.v[0].value == 6.0);
        CHECK_STR(r.v[1].key, "4");
        CHECK_STR(r.v[2].key, "6");
        CHECK_EQ_INT(r.v[2].line, 6);
    }
    CHECK_EQ_INT(ae_ratings_find(&r, "4"), 1);
    CHECK_EQ_INT(ae_ratings_find(&r, "6"), 2);
    CHECK_EQ_INT(ae_ratings_find(&r, "1"), -1);
    CHECK_EQ_INT(missing.n, 2);
    if (missing.n == 2) {
        CHECK_STR(missing.keys[0], "9");
        CHECK_STR(missing.keys[1], "8");
    }
    CHECK_EQ_INT(ae_idset_find(&missing, "8"), 1);
    ae_idset_free(&missing);
    /* exclude is the complement: of 1..6 without 2, 4, 6, the odd ids in order */
    ae_ratings odd;
    CHECK_EQ_INT(ava("1 1 0 0 0 0 1 0 0 0 0 0 0 0 0\n2 2 0 0 0 0 0 1 0 0 0 0 0 0 0\n"
                     "3 3 0 0 0 0 1 0 0 0 0 0 0 0 0\n4 4 0 0 0 0 0 0 1 0 0 0 0 0 0\n"
                     "5 5 0 0 0 0 1 0 0 0 0 0 0 0 0\n6 6 0 0 0 0 0 0 0 1 0 0 0 0 0\n",
                     1, &odd), AE_OK);
    CHECK_EQ_INT(ae_ratings_exclude(&odd, &split), AE_OK);
    CHECK_EQ_INT(odd.n, 3);
    if (odd.n == 3) {
        CHECK_STR(odd.v[0].key, "1");
        CHECK_STR(odd.v[1].key, "3");
        CHECK_STR(odd.v[2].key, "5");
        CHECK_EQ_INT(odd.v[2].line, 5);
    }
    CHECK_EQ_INT(ae_ratings_find(&odd, "3"), 1);
    CHECK_EQ_INT(ae_ratings_find(&odd, "4"), -1);
    ae_ratings_free(&odd);
    /* again: nothing more goes; all of the split has a rating except 9 and 8; no missing set */
    CHECK_EQ_INT(ae_ratings_filter(&r, &split, NULL), AE_OK);
    CHECK_EQ_INT(r.n, 3);
    ae_idset_free(&split);
    /* a split that matches nothing empties the list */
    CHECK_EQ_INT(ids("100\n", &split), AE_OK);
    CHECK_EQ_INT(ae_ratings_filter(&r, &split, &missing), AE_OK);
    CHECK_EQ_INT(r.n, 0);
    CHECK_EQ_INT(missing.n, 1);
    CHECK_EQ_INT(ae_ratings_find(&r, "2"), -1);
    ae_idset_free(&missing);
    ae_idset_free(&split);
    ae_ratings_free(&r);

    /* CSV keys go through the id rule: a path's file name, less the image extension */
    CHECK_EQ_INT(csvp("photos/0002.jpg,1\nimg.png,0\nother/x.gif,1\n", "/set", &r), AE_OK);
    CHECK_EQ_INT(ids("2\nimg\nzzz\n", &split), AE_OK);
    CHECK_EQ_INT(ae_ratings_filter(&r, &split, &missing), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    if (r.n == 2) {
        CHECK_STR(r.v[0].key, "/set/photos/0002.jpg");
        CHECK_STR(r.v[1].key, "/set/img.png");
    }
    CHECK_EQ_INT(missing.n, 1);
    if (missing.n == 1) CHECK_STR(missing.keys[0], "zzz");
    ae_idset_free(&missing);
    ae_idset_free(&split);
    ae_ratings_free(&r);
    CHECK_ERR(ae_ratings_filter(NULL, NULL, &missing), AE_ERR_INVALID,
              "ae_ratings_filter: NULL list or set");
}

/* ---- CSV / TSV --------------------------------------------------------------------------------- */

static void test_csv_header(void)
{
    ae_ratings r;
    CHECK_EQ_INT(csvp("path,rating\na.jpg,5\nb.jpg,6.25\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.v[0].key, "a.jpg");
    CHECK(r.v[0].value == 5.0 && r.v[1].value == 6.25);
    CHECK_EQ_INT(r.v[0].line, 2);
    CHECK_EQ_INT(r.v[0].votes, 0);
    CHECK_EQ_INT(r.kind, AE_RATINGS_RATINGS);
    ae_ratings_free(&r);
    /* no header: the first row is data */
    CHECK_EQ_INT(csvp("a.jpg,5\nb.jpg,6", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.v[0].line, 1);
    ae_ratings_free(&r);
    /* any two names make a header; a label word in the second field does not */
    CHECK_EQ_INT(csvp("image,aesthetic\na.jpg,good\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 1);
    ae_ratings_free(&r);
    CHECK_EQ_INT(csvp("photo,good\na.jpg,bad\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.v[0].key, "photo");
    CHECK_EQ_INT(r.kind, AE_RATINGS_LABELS);
    ae_ratings_free(&r);
    /* blank records before the header, white space around fields */
    CHECK_EQ_INT(csvp("\n , \n  path , score \n a.jpg , 7 \n,,\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 1);
    CHECK_STR(r.v[0].key, "a.jpg");
    CHECK(r.v[0].value == 7.0);
    CHECK_EQ_INT(r.v[0].line, 4);
    ae_ratings_free(&r);
    /* trailing empty columns (spreadsheets write them) */
    CHECK_EQ_INT(csvp("a.jpg,5,,\nb.jpg,4,\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    ae_ratings_free(&r);
    CHECK_ERR(csvp("a.jpg,\nb.jpg,4\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: no rating or label for a.jpg");
    CHECK_ERR(csvp("path,rating\n", NULL, &r), AE_ERR_INVALID, "r.csv: no ratings (only a header row)");
    check_empty(&r);
}

static void test_csv_labels(void)
{
    ae_ratings r;
    const char *t = "good,GOOD\nbad,Bad\nyes,yes\nno,NO\ny,Y\nn,n\ntrue,True\nfalse,FALSE\n"
                    "keep,keep\nreject,Reject\nup,UP\ndown,down\nplus,+\nminus,-\none,1\nzero,0\n"
                    "onef,1.0\nzerof,-0\n";
    CHECK_EQ_INT(csvp(t, NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 18);
    CHECK_EQ_INT(r.kind, AE_RATINGS_LABELS);
    for (int i = 0; i < r.n; i++) CHECK_MSG(r.v[i].value == (i % 2 ? 0.0 : 1.0), "entry %d", i);
    ae_ratings_free(&r);
    /* 0/1 only: labels; any other number: ratings */
    CHECK_EQ_INT(csvp("a,0\nb,1\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.kind, AE_RATINGS_LABELS);
    ae_ratings_free(&r);
    CHECK_EQ_INT(csvp("a,0\nb,1\nc,-1e3\nd,+2.5E-1\ne,.5\nf,7.\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.kind, AE_RATINGS_RATINGS);
    CHECK(r.v[2].value == -1000.0 && r.v[3].value == 0.25 && r.v[4].value == 0.5 &&
          r.v[5].value == 7.0);
    ae_ratings_free(&r);
    CHECK_EQ_INT(csvp("a,good\nb,0\nc,1\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.kind, AE_RATINGS_LABELS);
    ae_ratings_free(&r);
    /* words beside other numbers */
    CHECK_ERR(csvp("a,good\nb,0\nc,3.5\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 3: the rating 3.5 in a file of labels (line 1: 'good'); use words or "
              "numbers, not both");
    CHECK_ERR(csvp("path,rating\na,1\nb,7\nc,0\nd,Thumbs\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 5: 'Thumbs' is neither a number nor a label word (good/bad, yes/no, "
              "y/n, true/false, keep/reject, up/down, +/-, 1/0)");
    CHECK_ERR(csvp("path,rating\na,1\nb,7\nc,0\nd,DOWN\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 5: the label 'DOWN' in a file of ratings (line 3: 7); use words or "
              "numbers, not both");
    check_empty(&r);
    /* not numbers */
    static const char *const bad[] = {"nan", "inf", "-infinity", "0x10", "1e", "1,5", "5 stars",
                                      "++1", "1.2.3", ".", "e5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char in[64], want[256];
        snprintf(in, sizeof in, "a.jpg,5\nb.jpg,\"%s\"\n", bad[i]); /* alone it is a header */
        snprintf(want, sizeof want, "r.csv: line 2: '%s' is neither a number nor a label word "
                 "(good/bad, yes/no, y/n, true/false, keep/reject, up/down, +/-, 1/0)", bad[i]);
        CHECK_ERR(csvp(in, NULL, &r), AE_ERR_FORMAT, want);
    }
    CHECK_ERR(csvp("a.jpg,1e999\n", NULL, &r), AE_ERR_FORMAT, "r.csv: line 1: '1e999' is out of range");
    CHECK_EQ_INT(csvp("a.jpg,1e-999\nb.jpg,-1.7976931348623157e308\n", NULL, &r), AE_OK);
    CHECK(r.v[0].value == 0.0 && r.v[1].value == -1.7976931348623157e308);
    ae_ratings_free(&r);
}

static void test_csv_columns(void)
{
    ae_ratings r;
    CHECK_EQ_INT(csvp("id,File,comment,Score\n1,a.jpg,\"nice, really\",4.5\n2,b.jpg,,3\n",
                      "/d", &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.v[0].key, "/d/a.jpg");
    CHECK(r.v[0].value == 4.5 && r.v[1].value == 3.0);
    ae_ratings_free(&r);
    CHECK_EQ_INT(csvp("label,x,IMAGE\nbad,,a.jpg\ngood,?,b.jpg,extra\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.v[1].key, "b.jpg");
    CHECK_EQ_INT(r.kind, AE_RATINGS_LABELS);
    ae_ratings_free(&r);
    /* a field spanning lines: the next record's line is the editor's */
    CHECK_EQ_INT(csvp("file,note,rating\na.jpg,\"two\nlines\",3\nb.jpg,z,4\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.v[1].line, 4);
    ae_ratings_free(&r);

    CHECK_ERR(csvp("a,b,c\nx.jpg,1,2\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: cannot tell the path and value columns (columns: a, b, c); name one "
              "path, file, filename or image column and one rating, score or label column");
    CHECK_ERR(csvp("path,rating,score\nx.jpg,1,2\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: cannot tell the path and value columns (columns: path, rating, "
              "score); name one path, file, filename or image column and one rating, score or "
              "label column");
    CHECK_ERR(csvp("a.jpg,5,x\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: 3 columns and no header row (a.jpg, 5, x); add a header row: name "
              "one path, file, filename or image column and one rating, score or label column");
    CHECK_ERR(csvp("a.jpg,5\nb.jpg,6,7\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 2: 3 fields, expected 2");
    CHECK_ERR(csvp("a.jpg,5\nb.jpg\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 2: 1 field, expected 2");
    CHECK_ERR(csvp("file,x,rating\na.jpg,1,2\nb.jpg,1\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 3: 2 fields, expected at least 3");
    CHECK_ERR(csvp("a.jpg\nb.jpg\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: one column; expected a path and a rating or label on each line "
              "(read with ',' as the delimiter)");
    CHECK_ERR(csvp("a.jpg|5\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: one column; expected a path and a rating or label on each line "
              "(read with ',' as the delimiter)");
    /* the list of columns is cut at 12 */
    CHECK_ERR(csvp("c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,c13,c14\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: cannot tell the path and value columns (columns: c1, c2, c3, c4, c5, "
              "c6, c7, c8, c9, c10, c11, c12, ...); name one path, file, filename or image column "
              "and one rating, score or label column");
}

static void test_csv_paths(void)
{
    ae_ratings r;
    CHECK_EQ_INT(csvp("a.jpg,1\n./b.jpg,1\n.//c.jpg,1\n/abs/d.jpg,1\nhttps://x.org/e.jpg,1\n"
                      "sub/f.jpg,1\n../g.jpg,1\n\"my, photo.jpg\",1\n\"say \"\"hi\"\".jpg\",1\n"
                      "caf\xC3\xA9.jpg,1\nC:\\pics\\h.jpg,1\nhttp:/i.jpg,1\n",
                      "/data/set", &r), AE_OK);
    static const char *const want[] = {
        "/data/set/a.jpg", "/data/set/b.jpg", "/data/set/c.jpg", "/abs/d.jpg",
        "https://x.org/e.jpg", "/data/set/sub/f.jpg", "/data/set/../g.jpg",
        "/data/set/my, photo.jpg", "/data/set/say \"hi\".jpg", "/data/set/caf\xC3\xA9.jpg",
        "/data/set/C:\\pics\\h.jpg", "/data/set/http:/i.jpg"};
    CHECK_EQ_INT(r.n, 12);
    for (int i = 0; i < r.n && i < 12; i++) CHECK_STR(r.v[i].key, want[i]);
    CHECK_EQ_INT(ae_ratings_find(&r, "/data/set/my, photo.jpg"), 7);
    ae_ratings_free(&r);
    /* a folder with a trailing slash; the root; none */
    CHECK_EQ_INT(csvp("a.jpg,1\n", "/", &r), AE_OK);
    CHECK_STR(r.v[0].key, "/a.jpg");
    ae_ratings_free(&r);
    CHECK_EQ_INT(csvp("a.jpg,1\n", "rel/", &r), AE_OK);
    CHECK_STR(r.v[0].key, "rel/a.jpg");
    ae_ratings_free(&r);
    CHECK_EQ_INT(csvp("./a.jpg,1\n", "", &r), AE_OK);
    CHECK_STR(r.v[0].key, "./a.jpg");
    ae_ratings_free(&r);

    CHECK_ERR(csvp("a.jpg,1\n./a.jpg,2\n", "/d", &r), AE_ERR_FORMAT,
              "r.csv: line 2: ./a.jpg repeats line 1");
    CHECK_ERR(csvp("a.jpg,1\n,2\n", NULL, &r), AE_ERR_FORMAT, "r.csv: line 2: empty path");
    CHECK_ERR(csvp("\"\",2\n", NULL, &r), AE_ERR_FORMAT, "r.csv: line 1: empty path");
    CHECK_ERR(csvp("a.jpg,1\n\xFF.jpg,2\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 2: invalid UTF-8 in the path");
    CHECK_ERR(csvp("\xED\xA0\x80.jpg,2\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: invalid UTF-8 in the path"); /* a surrogate */
    CHECK_ERR(csvp("\"a\nb.jpg\",2\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: a control character in the path");
    CHECK_ERR(ae_ratings_parse_csv("r.csv", NULL, "a\0.jpg,2\n", 9, &r), AE_ERR_FORMAT,
              "r.csv: line 1: a NUL byte in the path");
    CHECK_ERR(csvp("a.jpg,1\n\"b.jpg,2\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 2: unterminated quoted field");
    check_empty(&r);
}

static void test_csv_formats(void)
{
    ae_ratings r;
    /* BOM, CRLF, no final line end */
    CHECK_EQ_INT(csvp("\xEF\xBB\xBFpath,rating\r\na.jpg,3\r\nb.jpg,4", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.v[0].key, "a.jpg");
    CHECK_EQ_INT(r.v[1].line, 3);
    ae_ratings_free(&r);
    /* TSV (paths with commas and spaces need no quotes), decimal commas */
    CHECK_EQ_INT(csvp("path\trating\nmy, photo.jpg\t4,5\nb.jpg\t-2\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.v[0].key, "my, photo.jpg");
    CHECK(r.v[0].value == 4.5 && r.v[1].value == -2.0);
    ae_ratings_free(&r);
    /* ';' (European spreadsheets) */
    CHECK_EQ_INT(csvp("Datei;Bewertung\na.jpg;7,25\nb.jpg;8\n\"c;d.jpg\";1,0e1\n", NULL, &r), AE_OK);
    CHECK_EQ_INT(r.n, 3);
    CHECK(r.v[0].value == 7.25 && r.v[1].value == 8.0 && r.v[2].value == 10.0);
    CHECK_STR(r.v[2].key, "c;d.jpg");
    ae_ratings_free(&r);
    /* with ',' as the delimiter a decimal comma is a field break */
    CHECK_ERR(csvp("a.jpg,4,5\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: 3 columns and no header row (a.jpg, 4, 5); add a header row: name "
              "one path, file, filename or image column and one rating, score or label column");
    CHECK_ERR(csvp("a.jpg;4,5,6\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: 3 columns and no header row (a.jpg;4, 5, 6); add a header row: name "
              "one path, file, filename or image column and one rating, score or label column");
    CHECK_ERR(csvp("a.jpg\t4,5,6\n", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 1: 3 columns and no header row (a.jpg?4, 5, 6); add a header row: name "
              "one path, file, filename or image column and one rating, score or label column");

    /* fuzz/corpus/ratings/crash-empty-first-record: a first record with no byte in a field
     * (csv.h's buffer still NULL) */
    CHECK_ERR(csvp("\r\xed", NULL, &r), AE_ERR_FORMAT,
              "r.csv: line 2: one column; expected a path and a rating or label on each line "
              "(read with ',' as the delimiter)");
    CHECK_ERR(csvp("\n,\n", NULL, &r), AE_ERR_INVALID, "r.csv: no ratings (only blank lines)");
    CHECK_ERR(csvp("", NULL, &r), AE_ERR_INVALID, "r.csv: no ratings (the file is empty)");
    CHECK_ERR(csvp("\xEF\xBB\xBF", NULL, &r), AE_ERR_INVALID, "r.csv: no ratings (the file is empty)");
    CHECK_ERR(csvp("\n\r\n ,\t\n", NULL, &r), AE_ERR_INVALID, "r.csv: no ratings (only blank lines)");
    CHECK_ERR(ae_ratings_parse_csv(NULL, NULL, "\xFE\xFF\0a", 4, &r), AE_ERR_UNSUPPORTED,
              "ratings.csv: UTF-16 text is not supported; save it as UTF-8");
    char *big = malloc(AE_RATINGS_MAX_LINE + 16);
    memset(big, 'a', AE_RATINGS_MAX_LINE + 1);
    memcpy(big + AE_RATINGS_MAX_LINE + 1, ",1\n", 4);
    CHECK_ERR(csvp(big, NULL, &r), AE_ERR_TOO_LARGE, "r.csv: line 1: a record longer than 65536 bytes");
    free(big);
}

/* ---- files ----------------------------------------------------------------------------- */

static void test_files(void)
{
    ae_ratings r;
    ae_idset s;
    char want[8192];
    mkdir(test_tmp("sets"), 0755);
    const char *csv = "path,label\na.jpg,good\n../b.jpg,bad\n/c.jpg,keep\n";
    write_bytes(test_tmp("sets/labels.csv"), csv, strlen(csv));
    CHECK_EQ_INT(ae_ratings_read_csv(test_tmp("sets/labels.csv"), &r), AE_OK);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.kind, AE_RATINGS_LABELS);
    if (r.n == 3) {
        CHECK_STR(r.v[0].key, test_tmp("sets/a.jpg"));
        CHECK_STR(r.v[1].key, test_tmp("sets/../b.jpg"));
        CHECK_STR(r.v[2].key, "/c.jpg");
    }
    ae_ratings_free(&r);
    const char *ava_txt = "1 7 0 0 0 0 1 0 0 0 0 0 0 0 0\n2 8 0 0 0 x\n";
    write_bytes(test_tmp("AVA.txt"), ava_txt, strlen(ava_txt));
    CHECK_EQ_INT(ae_ratings_read_ava(test_tmp("AVA.txt"), 0, &r), AE_OK);
    CHECK_EQ_INT(r.n, 1);
    snprintf(want, sizeof want, "%s: line 2: 6 fields, an AVA line has 15", test_tmp("AVA.txt"));
    CHECK_STR(r.first_skip, want);
    ae_ratings_free(&r);
    CHECK_ERR(ae_ratings_read_ava(test_tmp("AVA.txt"), 1, &r), AE_ERR_FORMAT, want);
    write_bytes(test_tmp("test.jpgl"), "7\n9\n", 4);
    CHECK_EQ_INT(ae_ratings_read_ids(test_tmp("test.jpgl"), &s), AE_OK);
    CHECK_EQ_INT(s.n, 2);
    ae_idset_free(&s);

    snprintf(want, sizeof want, "%s: No such file or directory", test_tmp("none.txt"));
    CHECK_ERR(ae_ratings_read_ava(test_tmp("none.txt"), 1, &r), AE_ERR_NOT_FOUND, want);
    CHECK_ERR(ae_ratings_read_csv(test_tmp("none.txt"), &r), AE_ERR_NOT_FOUND, want);
    CHECK_ERR(ae_ratings_read_ids(test_tmp("none.txt"), &s), AE_ERR_NOT_FOUND, want);
    snprintf(want, sizeof want, "%s: Is a directory", test_tmp("sets"));
    CHECK_ERR(ae_ratings_read_csv(test_tmp("sets"), &r), AE_ERR_IO, want);
    CHECK_ERR(ae_ratings_read_ava("", 1, &r), AE_ERR_INVALID, "ae_ratings_read_ava: no path");
    CHECK_ERR(ae_ratings_read_csv(NULL, &r), AE_ERR_INVALID, "ae_ratings_read_csv: no path");
    CHECK_ERR(ae_ratings_read_ids(NULL, &s), AE_ERR_INVALID, "ae_ratings_read_ids: no path");

    /* over the size limit: refused from the size of a sparse file, nothing read */
    int fd = open(test_tmp("huge.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)AE_RATINGS_MAX_BYTES + 1) == 0);
    if (fd >= 0) close(fd);
    snprintf(want, sizeof want, "%s: 1073741825 bytes, larger than the limit of 1073741824 bytes",
             test_tmp("huge.txt"));
    CHECK_ERR(ae_ratings_read_ava(test_tmp("huge.txt"), 0, &r), AE_ERR_TOO_LARGE, want);
    CHECK_ERR(ae_ratings_read_ids(test_tmp("huge.txt"), &s), AE_ERR_TOO_LARGE, want);
    unlink(test_tmp("huge.txt"));
    /* a FIFO with no writer reads as empty instead of hanging */
    if (mkfifo(test_tmp("fifo"), 0644) == 0) {
        snprintf(want, sizeof want, "%s: no ratings (the file is empty)", test_tmp("fifo"));
        CHECK_ERR(ae_ratings_read_csv(test_tmp("fifo"), &r), AE_ERR_INVALID, want);
        unlink(test_tmp("fifo"));
    }
}

int main(void)
{
    test_ava_means();
    test_ava_line_ends();
    test_ava_bad_lines();
    test_ava_skip_mode();
    test_ava_full_size();
    test_ids();
    test_filter();
    test_csv_header();
    test_csv_labels();
    test_csv_columns();
    test_csv_paths();
    test_csv_formats();
    test_files();
    return test_summary();
}
