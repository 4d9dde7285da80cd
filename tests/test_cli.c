/*
 * test_cli.c — the aesthete command as other tools call it: every subcommand's output
 * format, values against the goldens (tiny models), per-input errors, exit codes and
 * usage messages.
 */
#define _GNU_SOURCE
#include <jansson.h>

#include "test.h"
#include "aesthete.h"
#include "run.h"

static const char *TINY = NULL, *TINY_GELU = NULL;

static void test_usage(void)
{
    run_result r = RUN("--version");
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "aesthete " AE_VERSION);
    run_free(&r);

    r = RUN("--help");
    CHECK_EQ_INT(r.code, 0);
    const char *cmds[] = {"embed", "tokenize", "preprocess", "info"};
    for (int i = 0; i < 4; i++) CHECK_STR_CONTAINS(r.out, cmds[i]);
    run_free(&r);

    r = RUN("frobnicate");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "unknown command 'frobnicate'");
    run_free(&r);

    r = RUN("embed", "--help");
    CHECK_EQ_INT(r.code, 0);
    const char *eo[] = {"--model", "--text", "--threads", "--no-exif-rotate", "--max-pixels",
                        "openai/clip-vit-base-patch32", "--help", "--"};
    for (int i = 0; i < 8; i++) CHECK_STR_CONTAINS(r.out, eo[i]);
    run_free(&r);

    r = RUN("tokenize", "--help");
    CHECK_STR_CONTAINS(r.out, "--no-truncate");
    run_free(&r);
    r = RUN("preprocess", "--help");
    CHECK_STR_CONTAINS(r.out, "--rgb");
    CHECK_STR_CONTAINS(r.out, "-o, --output");
    run_free(&r);
    r = RUN("info", "--help");
    CHECK_STR_CONTAINS(r.out, "--json");
    run_free(&r);

    r = RUN("embed", "--bogus", "x.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--bogus");
    CHECK_STR_CONTAINS(r.err, "Try 'aesthete embed --help'");
    run_free(&r);

    r = RUN("embed", "--threads", "many", "x.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--threads: 'many' is not an integer");
    run_free(&r);

    r = RUN("embed", "--model", TINY);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "no IMAGE given");
    run_free(&r);

    r = RUN("preprocess", "--model", TINY, fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "missing -o FILE");
    run_free(&r);
}

/* ids of tokens.jsonl line k */
static json_t *golden_line(int k)
{
    size_t n;
    char *all = read_file(fixture("tokenizer/tokens.jsonl"), &n);
    json_t *j = all ? jline(all, k) : NULL;
    free(all);
    return j;
}

static int ids_equal(json_t *a, json_t *b, size_t limit)
{
    if (!json_is_array(a) || !json_is_array(b)) return 0;
    for (size_t i = 0; i < limit; i++)
        if (json_integer_value(json_array_get(a, i)) != json_integer_value(json_array_get(b, i))) return 0;
    return 1;
}

static void test_tokenize(void)
{
    json_t *g0 = golden_line(0), *glong = golden_line(2522);
    const char *t0 = json_string_value(json_object_get(g0, "text"));
    const char *tlong = json_string_value(json_object_get(glong, "text"));
    run_result r = RUN("tokenize", "--model", TINY, t0, "", tlong, "--", "-dash");
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 4);
    json_t *l0 = jline(r.out, 0), *l1 = jline(r.out, 1), *l2 = jline(r.out, 2), *l3 = jline(r.out, 3);
    CHECK(l0 && !strcmp(json_string_value(json_object_get(l0, "text")), t0));
    json_t *gids = json_object_get(g0, "ids");
    CHECK(json_array_size(json_object_get(l0, "ids")) == json_array_size(gids));
    CHECK(ids_equal(json_object_get(l0, "ids"), gids, json_array_size(gids)));
    CHECK_EQ_INT(json_array_size(json_object_get(l1, "ids")), 2);
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(l1, "ids"), 1)), 49407);
    json_t *ids2 = json_object_get(l2, "ids");
    CHECK_EQ_INT(json_array_size(ids2), 77);
    CHECK_EQ_INT(json_integer_value(json_array_get(ids2, 76)), 49407);
    CHECK(ids_equal(ids2, json_object_get(glong, "ids"), 76));
    CHECK(l3 && !strcmp(json_string_value(json_object_get(l3, "text")), "-dash"));
    json_decref(l0), json_decref(l1), json_decref(l2), json_decref(l3);
    run_free(&r);

    r = RUN("tokenize", "--model", TINY, "--no-truncate", tlong);
    CHECK_EQ_INT(r.code, 0);
    l0 = jline(r.out, 0);
    CHECK_EQ_INT(json_array_size(json_object_get(l0, "ids")), json_array_size(json_object_get(glong, "ids")));
    CHECK(ids_equal(json_object_get(l0, "ids"), json_object_get(glong, "ids"),
                    json_array_size(json_object_get(glong, "ids"))));
    json_decref(l0);
    run_free(&r);

    r = RUN("tokenize", "--model", TINY, "ok", "bad \xc3\x28 utf8", "fine");
    CHECK_EQ_INT(r.code, 1);
    CHECK_EQ_INT(count_lines(r.out), 3);
    l1 = jline(r.out, 1);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(l1, "error")), "invalid UTF-8");
    CHECK_STR_CONTAINS(r.err, "text 2: ");
    CHECK_STR_CONTAINS(r.err, "invalid UTF-8");
    l2 = jline(r.out, 2);
    CHECK_EQ_INT(json_array_size(json_object_get(l2, "ids")), 3);
    json_decref(l1), json_decref(l2);
    run_free(&r);
    json_decref(g0), json_decref(glong);
}

static float *read_f32(const char *path, size_t *n)
{
    size_t bytes;
    float *f = read_file(path, &bytes);
    if (n) *n = bytes / 4;
    return f;
}

/* max |a-b| - (1e-5 + 1e-4|b|) over a JSON array vs floats; returns the worst excess (<= 0 ok) */
static double excess(json_t *arr, const float *ref, int dim, double *maxdiff)
{
    double worst = -1;
    *maxdiff = 0;
    if (!json_is_array(arr) || (int)json_array_size(arr) != dim) return 1e9;
    for (int i = 0; i < dim; i++) {
        double a = json_number_value(json_array_get(arr, i)), b = ref[i], d = fabs(a - b);
        if (d > *maxdiff) *maxdiff = d;
        double e = d - (1e-5 + 1e-4 * fabs(b));
        if (e > worst) worst = e;
    }
    return worst;
}

static void test_embed_text(void)
{
    json_t *g0 = golden_line(0), *g1 = golden_line(2217);
    size_t n;
    float *ref = read_f32(fixture("embeddings/tiny-quickgelu/text_embeds.f32"), &n);
    const int dim = 40;
    CHECK(ref && n == (size_t)2525 * dim);
    run_result r = RUN("embed", "--model", TINY, "--text", json_string_value(json_object_get(g0, "text")),
                       "\xff", json_string_value(json_object_get(g1, "text")));
    CHECK_EQ_INT(r.code, 1);
    CHECK_EQ_INT(count_lines(r.out), 3);
    json_t *l0 = jline(r.out, 0), *l1 = jline(r.out, 1), *l2 = jline(r.out, 2);
    double md;
    CHECK_MSG(ref && excess(json_object_get(l0, "embedding"), ref, dim, &md) <= 0, "line 0 max diff %g", md);
    printf("embed --text: max abs diff %.3g\n", md);
    CHECK(ref && excess(json_object_get(l2, "embedding"), ref + 2217 * dim, dim, &md) <= 0);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(l1, "error")), "invalid UTF-8");
    CHECK(!strcmp(json_string_value(json_object_get(l1, "input")), "\xef\xbf\xbd"));
    json_decref(l0), json_decref(l1), json_decref(l2);
    run_free(&r);

    json_t *glong = golden_line(2522);
    r = RUN("embed", "--model", TINY, "--text", "--", json_string_value(json_object_get(glong, "text")));
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.err, "text 1: 82 tokens, truncated to the context length 77");
    l0 = jline(r.out, 0);
    CHECK(ref && excess(json_object_get(l0, "embedding"), ref + 2522 * dim, dim, &md) <= 0);
    json_decref(l0);
    run_free(&r);
    free(ref);
    json_decref(g0), json_decref(g1), json_decref(glong);
}

/* row of the tiny-quickgelu image goldens for an as-stored file */
static int image_row(const char *file)
{
    size_t n;
    char *s = read_file(fixture("embeddings/tiny-quickgelu/image_embeds.224.json"), &n);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    int row = -1;
    json_t *order = json_object_get(j, "order");
    for (size_t i = 0; i < json_array_size(order); i++) {
        json_t *e = json_array_get(order, i);
        if (!strcmp(json_string_value(json_object_get(e, "file")), file) &&
            !strcmp(json_string_value(json_object_get(e, "variant")), "as_stored"))
            row = (int)i;
    }
    json_decref(j);
    return row;
}

static void test_embed_images(void)
{
    char empty[4200], missing[4200];
    snprintf(empty, sizeof empty, "%s/empty.jpg", test_tmpdir());
    snprintf(missing, sizeof missing, "%s/missing.png", test_tmpdir());
    FILE *f = fopen(empty, "wb");
    if (f) fclose(f);
    size_t n;
    float *ref = read_f32(fixture("embeddings/tiny-quickgelu/image_embeds.224.f32"), &n);
    const int dim = 40;
    run_result r = RUN("embed", "--model", TINY, "--no-exif-rotate", "--threads", "2",
                       fixture("images/photo_rocket.jpg"), empty, missing,
                       fixture("images/palette_trns.png"));
    CHECK_EQ_INT(r.code, 1);
    CHECK_EQ_INT(count_lines(r.out), 4);
    json_t *l[4];
    for (int i = 0; i < 4; i++) l[i] = jline(r.out, i);
    double md;
    int rocket = image_row("photo_rocket.jpg"), pal = image_row("palette_trns.png");
    CHECK(rocket >= 0 && pal >= 0);
    CHECK_MSG(ref && rocket >= 0 && excess(json_object_get(l[0], "embedding"), ref + rocket * dim, dim, &md) <= 0,
              "rocket max diff %g", md);
    printf("embed IMAGE: max abs diff %.3g\n", md);
    CHECK(ref && pal >= 0 && excess(json_object_get(l[3], "embedding"), ref + pal * dim, dim, &md) <= 0);
    CHECK(!strcmp(json_string_value(json_object_get(l[1], "input")), empty));
    CHECK_STR_CONTAINS(json_string_value(json_object_get(l[1], "error")), "empty.jpg");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(l[1], "error")), "empty");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(l[2], "error")), "missing.png");
    CHECK_STR_CONTAINS(r.err, "missing.png");
    for (int i = 0; i < 4; i++) json_decref(l[i]);
    run_free(&r);

    /* the pixel limit is checked per image */
    r = RUN("embed", "--model", TINY, "--max-pixels", "1000", fixture("images/photo_rocket.jpg"),
            fixture("images/tiny_1x1.png"));
    CHECK_EQ_INT(r.code, 1);
    json_t *e0 = jline(r.out, 0), *e1 = jline(r.out, 1);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(e0, "error")), "exceeds the limit of 1000");
    CHECK(json_is_array(json_object_get(e1, "embedding")));
    json_decref(e0), json_decref(e1);
    run_free(&r);
    free(ref);
}

static void test_preprocess(void)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/rocket.rgb", test_tmpdir());
    run_result r = RUN("preprocess", "--model", TINY, "--rgb", "--no-exif-rotate",
                       fixture("images/photo_rocket.jpg"), "-o", out);
    CHECK_EQ_INT(r.code, 0);
    size_t a, b;
    char *got = read_file(out, &a), *want = read_file(fixture("images/expected/photo_rocket.jpg.224.rgb"), &b);
    CHECK(got && want && a == b && a == 224 * 224 * 3 && !memcmp(got, want, a));
    free(got), free(want);
    run_free(&r);

    snprintf(out, sizeof out, "%s/chelsea.f32", test_tmpdir());
    r = RUN("preprocess", "--model", TINY_GELU, fixture("images/photo_chelsea_gray.jpg"), "--output", out);
    CHECK_EQ_INT(r.code, 0);
    got = read_file(out, &a);
    want = read_file(fixture("images/expected/photo_chelsea_gray.jpg.64.f32"), &b);
    CHECK(got && want && a == b && a == 3 * 64 * 64 * 4 && !memcmp(got, want, a));
    free(got), free(want);
    run_free(&r);

    r = RUN("preprocess", "--model", TINY, fixture("images/index.json"), "-o", out);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "index.json");
    run_free(&r);
}

static void test_info(void)
{
    run_result r = RUN("info", "--model", TINY_GELU);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "F16");
    CHECK_STR_CONTAINS(r.out, "hidden 48, layers 3, heads 4, MLP 112, gelu");
    CHECK_STR_CONTAINS(r.out, "hidden 64, layers 3, heads 4, MLP 136, gelu");
    CHECK_STR_CONTAINS(r.out, "embed    24 dimensions");
    run_free(&r);

    r = RUN("info", "--model", TINY, "--json");
    CHECK_EQ_INT(r.code, 0);
    json_t *j = json_loads(r.out ? r.out : "", 0, NULL);
    CHECK(j != NULL);
    CHECK(!strcmp(json_string_value(json_object_get(j, "weights_dtype")), "F32"));
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "parameters")), 4104873);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "file_size")), 16428372);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "vision"), "hidden_size")), 96);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "text"), "hidden_act")), "quick_gelu"));
    CHECK_EQ_INT(strlen(json_string_value(json_object_get(j, "fingerprint"))), 16);
    const char *k = json_string_value(json_object_get(j, "kernels"));
    CHECK(k && !strcmp(k, ae_kernels()) && (!strcmp(k, "avx512vnni") || !strcmp(k, "avx512") ||
                                               !strcmp(k, "avxvnni") || !strcmp(k, "avx2") ||
                                               !strcmp(k, "scalar")));
    json_decref(j);
    run_free(&r);
}

static void test_model_errors(void)
{
    char env[4300];
    snprintf(env, sizeof env, "HF_HUB_CACHE='%s' HOME='%s'", test_tmpdir(), test_tmpdir());
    run_result r = run_cli(env, NULL, (const char *const[]){"info", "--model", "someorg/nomodel", NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "someorg/nomodel");
    CHECK_STR_CONTAINS(r.err, test_tmpdir());
    CHECK_EQ_INT(count_lines(r.err), 1);
    run_free(&r);

    r = RUN("embed", "--model", fixture("images"), fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "config.json");
    run_free(&r);
}

int main(void)
{
    static char t1[4096], t2[4096];
    snprintf(t1, sizeof t1, "%s", fixture("models/tiny-quickgelu"));
    snprintf(t2, sizeof t2, "%s", fixture("models/tiny-gelu"));
    TINY = t1;
    TINY_GELU = t2;
    test_usage();
    test_tokenize();
    test_embed_text();
    test_embed_images();
    test_preprocess();
    test_info();
    test_model_errors();
    return test_summary();
}
