/*
 * test_tokenizer.c — the CLIP tokenizer against the Hugging Face goldens (every line of
 * fixtures/tokenizer/tokens.jsonl, ids exact), truncation through ae_tokenize, invalid UTF-8,
 * load errors, pathological long inputs, and load / encode speed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "error.h"
#include "model.h"
#include "test.h"
#include "tokenizer.h"

static ae_tokenizer *tok;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One golden line: the text's bytes and the expected ids. */
typedef struct golden {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} golden;

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static golden *load_goldens(size_t *count)
{
    size_t size;
    char *text = read_file(fixture("tokenizer/tokens.jsonl"), &size);
    CHECK(text != NULL);
    if (!text) return NULL;
    size_t cap = 4096, n = 0;
    golden *g = calloc(cap, sizeof *g);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &err);
        if (!o) { fprintf(stderr, "tokens.jsonl: %s\n", err.text); test_failed++; continue; }
        const char *hex = json_string_value(json_object_get(o, "utf8_hex"));
        json_t *ids = json_object_get(o, "ids");
        if (n == cap || !hex || !json_is_array(ids)) { json_decref(o); test_failed++; continue; }
        size_t hl = strlen(hex);
        g[n].len = hl / 2;
        g[n].text = malloc(hl / 2 + 1);
        for (size_t i = 0; i < hl / 2; i++)
            g[n].text[i] = (char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
        g[n].text[hl / 2] = 0;
        g[n].n = json_array_size(ids);
        g[n].ids = malloc((g[n].n + 1) * sizeof(int32_t));
        for (size_t i = 0; i < g[n].n; i++)
            g[n].ids[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        n++;
        json_decref(o);
    }
    free(text);
    *count = n;
    return g;
}

static void free_goldens(golden *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) { free(g[i].text); free(g[i].ids); }
    free(g);
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s (%zu):", label, n);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

static int same(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void test_goldens(const golden *g, size_t n)
{
    CHECK_EQ_INT(n, 2525);
    size_t bad = 0, tokens = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        int32_t *ids;
        size_t k;
        int rc = tok_encode(tok, g[i].text, g[i].len, &ids, &k);
        tokens += k;
        if (rc || !same(ids, k, g[i].ids, g[i].n)) {
            if (bad++ < 8) {
                fprintf(stderr, "tokens.jsonl line %zu: \"%s\" rc %d %s\n", i, g[i].text, rc,
                        rc ? ae_last_error() : "");
                print_ids("expected", g[i].ids, g[i].n);
                if (!rc) print_ids("got", ids, k);
            }
        }
        free(ids);
    }
    double dt = now() - t0;
    printf("goldens: %zu of %zu lines match; %zu tokens in %.1f ms (%.2f M tokens/s)\n", n - bad,
           n, tokens, dt * 1e3, tokens / dt * 1e-6);
    CHECK_EQ_INT(bad, 0);
}

/* The same goldens from two threads at once: the tokenizer is shared and const. */
typedef struct job { const golden *g; size_t n; int bad; } job;

static void *encode_all(void *arg)
{
    job *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        int32_t *ids;
        size_t k;
        if (tok_encode(tok, j->g[i].text, j->g[i].len, &ids, &k) ||
            !same(ids, k, j->g[i].ids, j->g[i].n))
            j->bad++;
        free(ids);
    }
    return NULL;
}

static void test_threads(const golden *g, size_t n)
{
    job a = {g, n, 0}, b = {g, n, 0};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, encode_all, &a) == 0);
    CHECK(pthread_create(&tb, NULL, encode_all, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(a.bad, 0);
    CHECK_EQ_INT(b.bad, 0);
}

static void test_truncation(const golden *g, size_t n)
{
    struct ae_model m;
    memset(&m, 0, sizeof m);
    m.tok = tok;
    m.cfg.text.max_positions = 77;
    const golden *longest = NULL;
    for (size_t i = 0; i < n; i++)
        if (!longest || g[i].n > longest->n) longest = &g[i];
    CHECK(longest && longest->n == 367);
    if (!longest) return;

    size_t k = 0;
    CHECK_EQ_INT(ae_tokenize(&m, longest->text, longest->len, 1, NULL, 0, &k), AE_OK);
    CHECK_EQ_INT(k, 77);
    CHECK_EQ_INT(ae_tokenize(&m, longest->text, longest->len, 0, NULL, 0, &k), AE_OK);
    CHECK_EQ_INT(k, 367);

    int32_t ids[400];
    CHECK_EQ_INT(ae_tokenize(&m, longest->text, longest->len, 1, ids, 400, &k), AE_OK);
    CHECK_EQ_INT(k, 77);
    CHECK(memcmp(ids, longest->ids, 76 * sizeof *ids) == 0);
    CHECK_EQ_INT(ids[76], TOK_EOS);
    CHECK_EQ_INT(ids[0], TOK_BOS);

    /* cap smaller than the result: the first cap ids, the full count */
    for (int i = 0; i < 400; i++) ids[i] = -7;
    CHECK_EQ_INT(ae_tokenize(&m, longest->text, longest->len, 1, ids, 10, &k), AE_OK);
    CHECK_EQ_INT(k, 77);
    CHECK(memcmp(ids, longest->ids, 10 * sizeof *ids) == 0);
    CHECK_EQ_INT(ids[10], -7);

    /* untruncated: all 367 */
    CHECK_EQ_INT(ae_tokenize(&m, longest->text, longest->len, 0, ids, 400, &k), AE_OK);
    CHECK_EQ_INT(k, 367);
    CHECK(memcmp(ids, longest->ids, 367 * sizeof *ids) == 0);

    /* short text: truncation changes nothing; exactly 77 ids stays 77 */
    CHECK_EQ_INT(ae_tokenize(&m, "a photo of a cat", 16, 1, ids, 400, &k), AE_OK);
    CHECK_EQ_INT(k, 7);
    int32_t cat[] = {49406, 320, 1125, 539, 320, 2368, 49407};
    CHECK(same(ids, k, cat, 7));
    char words[200] = "";
    for (int i = 0; i < 75; i++) strcat(words, "a ");
    CHECK_EQ_INT(ae_tokenize(&m, words, strlen(words), 1, ids, 400, &k), AE_OK);
    CHECK_EQ_INT(k, 77);
    CHECK_EQ_INT(ids[75], 320);
    CHECK_EQ_INT(ids[76], TOK_EOS);
    strcat(words, "b");
    CHECK_EQ_INT(ae_tokenize(&m, words, strlen(words), 1, ids, 400, &k), AE_OK);
    CHECK_EQ_INT(k, 77);
    CHECK_EQ_INT(ids[75], 320);
    CHECK_EQ_INT(ids[76], TOK_EOS);

    /* invalid UTF-8 through the public call */
    CHECK_EQ_INT(ae_tokenize(&m, "ok\xff", 3, 1, ids, 400, &k), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "invalid UTF-8 at byte 2");
    CHECK_EQ_INT(k, 0);

    /* a model without the text tower */
    m.tok = NULL;
    CHECK_EQ_INT(ae_tokenize(&m, "a", 1, 1, ids, 400, &k), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "model loaded without the text tower");
    CHECK_EQ_INT(ae_tokenize(NULL, "a", 1, 1, ids, 400, &k), AE_ERR_INVALID);
    m.tok = tok;
    CHECK_EQ_INT(ae_tokenize(&m, "a", 1, 1, NULL, 5, &k), AE_ERR_INVALID);
}

static void expect_ids(const char *text, size_t len, const int32_t *want, size_t n)
{
    int32_t *ids = NULL;
    size_t k = 0;
    int rc = tok_encode(tok, text, len, &ids, &k);
    CHECK_MSG(rc == AE_OK && same(ids, k, want, n), "text of %zu bytes: rc %d, %zu ids", len, rc,
              k);
    free(ids);
}

static void expect_invalid(const char *text, size_t len, const char *msg)
{
    int32_t *ids = (int32_t *)1;
    size_t k = 99;
    CHECK_EQ_INT(tok_encode(tok, text, len, &ids, &k), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), msg);
    CHECK(ids == NULL && k == 0);
}

static void test_edge_cases(void)
{
    int32_t empty[] = {TOK_BOS, TOK_EOS};
    expect_ids("", 0, empty, 2);
    expect_ids(NULL, 0, empty, 2);
    expect_ids(" ", 1, empty, 2);
    expect_ids(" \t\r\n\v\f", 6, empty, 2);
    expect_ids("\xc2\x85\xc2\xa0\xe2\x80\xa8\xe3\x80\x80", 10, empty, 2); /* NEL NBSP LS U+3000 */

    expect_invalid("ab\x80", 3, "invalid UTF-8 at byte 2");          /* lone continuation */
    expect_invalid("\xc0\x80", 2, "invalid UTF-8 at byte 0");         /* overlong NUL */
    expect_invalid("x\xc1\xbf", 3, "invalid UTF-8 at byte 1");        /* overlong 2-byte */
    expect_invalid("xy\xe0\x80\x80", 5, "invalid UTF-8 at byte 2");   /* overlong 3-byte */
    expect_invalid("\xf0\x80\x80\x80", 4, "invalid UTF-8 at byte 0"); /* overlong 4-byte */
    expect_invalid("a\xed\xa0\x80", 4, "invalid UTF-8 at byte 1");    /* surrogate D800 */
    expect_invalid("abc\xf0\x9f\x98", 6, "invalid UTF-8 at byte 3");  /* truncated 4-byte */
    expect_invalid("abc\xf0\x9f\x98 d", 8, "invalid UTF-8 at byte 3");
    expect_invalid("\xf5\x80\x80\x80", 4, "invalid UTF-8 at byte 0"); /* F5+ */
    expect_invalid("ok \xff", 4, "invalid UTF-8 at byte 3");
    expect_invalid("\xf4\x90\x80\x80", 4, "invalid UTF-8 at byte 0"); /* > U+10FFFF */
    expect_invalid("\xe2\x82", 2, "invalid UTF-8 at byte 0");

    /* embedded NUL is text: "\0" is the byte-level symbol of 0x00 */
    int32_t *a, *b;
    size_t na, nb;
    CHECK(tok_encode(tok, "null\0byte", 9, &a, &na) == AE_OK);
    CHECK(na > 4 && a[0] == TOK_BOS && a[na - 1] == TOK_EOS);
    CHECK(tok_encode(tok, "nullbyte", 8, &b, &nb) == AE_OK);
    CHECK(!same(a, na, b, nb));
    free(a);
    free(b);

    /* İ lowercases to "i" + U+0307, Σ always to σ (both also covered by the goldens) */
    CHECK(tok_encode(tok, "\xc4\xb0", 2, &a, &na) == AE_OK);
    CHECK(tok_encode(tok, "i\xcc\x87", 3, &b, &nb) == AE_OK);
    CHECK(same(a, na, b, nb));
    free(a);
    free(b);

    /* Hangul: L V + U+11A7 is the syllable GA followed by U+11A7 (a vowel, not a trailing
     * consonant); utf8proc 2.8 alone would drop the U+11A7. */
    CHECK(tok_encode(tok, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa7", 9, &a, &na) == AE_OK);
    CHECK(tok_encode(tok, "\xea\xb0\x80\xe1\x86\xa7", 6, &b, &nb) == AE_OK);
    CHECK(same(a, na, b, nb));
    free(b);
    CHECK(tok_encode(tok, "\xea\xb0\x80", 3, &b, &nb) == AE_OK);
    CHECK(!same(a, na, b, nb));
    free(a);
    free(b);

    /* canonical ordering: a + U+0301 (ccc 230) + U+0316 (ccc 220) == a + U+0316 + U+0301 */
    CHECK(tok_encode(tok, "a\xcc\x81\xcc\x96", 5, &a, &na) == AE_OK);
    CHECK(tok_encode(tok, "a\xcc\x96\xcc\x81", 5, &b, &nb) == AE_OK);
    CHECK(same(a, na, b, nb));
    free(a);
    free(b);
}

/* Unicode-version corners, ids from the reference (tokenizers 0.23.2, the library that made
 * tokens.jsonl): its regexes know Unicode 16.0 letters and numbers, its lowercasing is at
 * Unicode 17.0, its NFC at Unicode 9.0; utf8proc 2.8 is at 15.0. */
static void test_unicode_versions(void)
{
    static const struct { const char *text; int32_t ids[12]; } cases[] = {
        {"a\xf0\xae\xaf\xb0", {49406, 64, 172, 106, 107, 364, 49407}},   /* CJK Ext I letter (15.1) */
        {"\xea\x9f\x8b\xe1\xb2\x89", {49406, 133, 97, 157, 110, 488, 49407}}, /* A7CB 1C89 lower */
        {"\xf0\x90\xb5\x90x", {49406, 172, 238, 113, 108, 343, 49407}}, /* Garay upper + x */
        {"\xf0\x96\xba\xa0", {49406, 172, 244, 118, 375, 49407}},      /* 17.0 lowercase */
        {"\xf0\x90\xb5\x80\xf0\x90\xb5\x81", {49406, 172, 238, 113, 478, 172, 238, 113, 479, 49407}},
        {"q\xe1\xb7\xb8\xcc\x81", {49406, 336, 157, 115, 116, 136, 479, 49407}}, /* U+1DF8 (10.0) */
        {"q\xcc\x81\xe1\xb7\xb8", {49406, 336, 136, 223, 157, 115, 372, 49407}}, /* not reordered */
        {"\xf0\x91\xa4\xb5\xf0\x91\xa4\xb0", {49406, 172, 239, 97, 113, 172, 239, 97, 364, 49407}},
        {"\xf0\x91\xa4\xb8", {49406, 172, 239, 97, 372, 49407}},     /* U+11938 kept */
        {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa7", {49406, 21122, 222, 157, 228, 356, 49407}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = 0;
        while (cases[i].ids[n] != TOK_EOS) n++;
        int32_t *ids;
        size_t k;
        int rc = tok_encode(tok, cases[i].text, strlen(cases[i].text), &ids, &k);
        CHECK_MSG(rc == AE_OK && same(ids, k, cases[i].ids, n + 1), "Unicode case %zu", i);
        if (!rc && !same(ids, k, cases[i].ids, n + 1)) {
            print_ids("expected", cases[i].ids, n + 1);
            print_ids("got", ids, k);
        }
        free(ids);
    }
}

static void test_load_errors(void)
{
    const char *dir = test_tmpdir();
    char vocab[4096], merges[4096], missing[4096];
    snprintf(missing, sizeof missing, "%s/nothing.json", dir);
    ae_tokenizer *t = (ae_tokenizer *)1;
    CHECK_EQ_INT(tok_load(missing, fixture("tokenizer/merges.txt"), &t), AE_ERR_NOT_FOUND); /* ae_file_read: a missing file is NOT_FOUND */
    CHECK_STR_CONTAINS(ae_last_error(), "nothing.json");
    CHECK(t == NULL);

    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    FILE *f = fopen(vocab, "w");
    fputs("{\"a\": 1, \"a\": 2}", f);
    fclose(f);
    CHECK_EQ_INT(tok_load(vocab, fixture("tokenizer/merges.txt"), &t), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "vocab.json");
    CHECK_STR_CONTAINS(ae_last_error(), "duplicate");

    /* a merges file with a bad third line */
    size_t size;
    char *real = read_file(fixture("tokenizer/merges.txt"), &size);
    CHECK(real != NULL);
    if (!real) return;
    char *third = strchr(strchr(strchr(real, '\n') + 1, '\n') + 1, '\n') + 1;
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    f = fopen(merges, "w");
    fwrite(real, 1, (size_t)(third - real), f);
    fputs("in tooo many\n", f);
    fclose(f);
    CHECK_EQ_INT(tok_load(fixture("tokenizer/vocab.json"), merges, &t), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "merges.txt: line 4: expected two symbols");
    f = fopen(merges, "w");
    fwrite(real, 1, (size_t)(third - real), f);
    fputs("zq\xc3\xa9 x\n", f);
    fclose(f);
    CHECK_EQ_INT(tok_load(fixture("tokenizer/vocab.json"), merges, &t), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "line 4: \"zq\xc3\xa9\" is not in the vocabulary");
    /* an empty merges.txt, and one cut short (the vocabulary no longer matches): refused, as
     * they would tokenize with a tokenizer that is not CLIP's */
    f = fopen(merges, "w");
    fputs("#version: 0.2\n", f);
    fclose(f);
    CHECK_EQ_INT(tok_load(fixture("tokenizer/vocab.json"), merges, &t), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "merges.txt: no merges (empty or cut short): not CLIP's tokenizer");
    CHECK(t == NULL);
    f = fopen(merges, "w");
    fwrite(real, 1, (size_t)(third - real), f);
    fclose(f);
    CHECK_EQ_INT(tok_load(fixture("tokenizer/vocab.json"), merges, &t), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "vocab.json has 49408 symbols but");
    CHECK_STR_CONTAINS(ae_last_error(), "the two files do not belong together");
    /* the real pair loads, with CLIP's 49408 symbols */
    CHECK_EQ_INT(tok_load(fixture("tokenizer/vocab.json"), fixture("tokenizer/merges.txt"), &t), AE_OK);
    if (t) {
        CHECK_EQ_INT(tok_vocab_size(t), 49408);
        tok_free(t);
    }
    free(real);
}

/* Long inputs stay near-linear: 1 MB of ordinary text, one long word (BPE heap), and 1 MB of
 * combining marks in descending class order (canonical ordering). */
static void test_long_inputs(void)
{
    const size_t mb = 1 << 20;
    char *buf = malloc(mb + 16);
    const char *phrase = "a photo of a cat ";
    size_t pl = strlen(phrase), reps = mb / pl;
    for (size_t i = 0; i < reps; i++) memcpy(buf + i * pl, phrase, pl);
    int32_t *ids;
    size_t n;
    double t0 = now();
    CHECK_EQ_INT(tok_encode(tok, buf, reps * pl, &ids, &n), AE_OK);
    double dt = now() - t0;
    CHECK_EQ_INT(n, 2 + 5 * reps);
    int ok = 1;
    for (size_t i = 0; i < reps && n == 2 + 5 * reps; i++)
        ok &= ids[1 + 5 * i] == 320 && ids[2 + 5 * i] == 1125 && ids[5 + 5 * i] == 2368;
    CHECK(ok);
    printf("1 MB of text: %zu tokens in %.1f ms (%.2f M tokens/s, %.1f MB/s)\n", n, dt * 1e3,
           n / dt * 1e-6, reps * pl / dt * 1e-6);
    free(ids);

    /* 256 KB keeps the sanitizer run short; 1 MB takes about 0.3 s in a release build */
    const size_t word = mb / 4;
    memset(buf, 'a', word);
    t0 = now();
    CHECK_EQ_INT(tok_encode(tok, buf, word, &ids, &n), AE_OK);
    dt = now() - t0;
    CHECK(n > 2 && n < word / 2 && ids[0] == TOK_BOS && ids[n - 1] == TOK_EOS);
    printf("256 KB single word: %zu tokens in %.1f ms\n", n, dt * 1e3);
    free(ids);

    buf[0] = 'a';
    size_t len = 1;
    while (len + 4 <= mb) {
        memcpy(buf + len, "\xcc\x81\xcc\x96", 4); /* U+0301 (230), U+0316 (220) */
        len += 4;
    }
    t0 = now();
    CHECK_EQ_INT(tok_encode(tok, buf, len, &ids, &n), AE_OK);
    dt = now() - t0;
    CHECK(n > 2 && ids[n - 1] == TOK_EOS);
    printf("1 MB of combining marks: %zu tokens in %.1f ms\n", n, dt * 1e3);
    free(ids);
    free(buf);
}

int main(void)
{
    double t0 = now();
    int rc = tok_load(fixture("tokenizer/vocab.json"), fixture("tokenizer/merges.txt"), &tok);
    double dt = now() - t0;
    CHECK_MSG(rc == AE_OK, "tok_load: %s", ae_last_error());
    if (rc) return test_summary();
    printf("tok_load: vocab.json + merges.txt in %.1f ms\n", dt * 1e3);

    size_t n = 0;
    golden *g = load_goldens(&n);
    if (g) {
        test_goldens(g, n);
        test_threads(g, n);
        test_truncation(g, n);
    }
    test_edge_cases();
    test_unicode_versions();
    test_load_errors();
    test_long_inputs();
    free_goldens(g, n);
    tok_free(tok);
    return test_summary();
}
