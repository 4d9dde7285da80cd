/*
 * test_cli.c — the aesthete command as other tools call it: every subcommand's output
 * format, values against the goldens (tiny models), per-input errors, exit codes and
 * usage messages.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <sys/stat.h>

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

/* ---- --precision ---- */

/* cosine of two JSON arrays of numbers (-2 when they are not arrays of one length) */
static double jcos(json_t *a, json_t *b)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || !json_is_array(b) || n == 0 || json_array_size(b) != n) return -2;
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        double x = json_number_value(json_array_get(a, i)), y = json_number_value(json_array_get(b, i));
        ab += x * y, aa += x * x, bb += y * y;
    }
    return ab / sqrt(aa * bb);
}

/* 1 if the two arrays hold the same numbers, bit for bit as printed (%.9g round-trips) */
static int jsame(json_t *a, json_t *b)
{
    if (!json_is_array(a) || json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_number_value(json_array_get(a, i)) != json_number_value(json_array_get(b, i))) return 0;
    return 1;
}

/* The embedding of one input ("embed" + args, with env), or NULL; *code gets the exit status. */
static json_t *embed_one(const char *env, const char *const *args, int *code)
{
    const char *argv[16];
    int k = 0;
    argv[k++] = "embed";
    for (int i = 0; args[i] && k < 15; i++) argv[k++] = args[i];
    argv[k] = NULL;
    run_result r = run_cli(env, NULL, argv);
    *code = r.code;
    json_t *l = r.code == 0 ? jline(r.out, 0) : NULL;
    json_t *e = json_incref(json_object_get(l, "embedding"));
    json_decref(l);
    run_free(&r);
    return e;
}

/* The "score" of `score --format jsonl` + args on one image, NAN if it failed; stderr kept. */
static double score_one(const char *const *args, char *err, size_t cap)
{
    const char *argv[20] = {"score", "--format", "jsonl"};
    int k = 3;
    for (int i = 0; args[i] && k < 19; i++) argv[k++] = args[i];
    argv[k] = NULL;
    run_result r = run_cli(NULL, NULL, argv);
    json_t *l = r.code == 0 ? jline(r.out, 0) : NULL;
    double v = json_is_number(json_object_get(l, "score")) ? json_number_value(json_object_get(l, "score")) : NAN;
    if (err) snprintf(err, cap, "%s", r.err ? r.err : "");
    json_decref(l);
    run_free(&r);
    return v;
}

/* int8 (and bf16 where the CPU has it) on both tiny models, images and texts: close to fp32
 * (cosine >= 0.99) but not the same numbers, each tower at its own option (images --precision,
 * texts --text-precision) and untouched by the other's; bf16 without AVX512_BF16 refused in
 * one line */
static void test_precision_embed(void)
{
    const char *img = fixture("images/photo_rocket.jpg");
    const int bf16 = ae_precision_check(AE_PRECISION_BF16) == AE_OK;
    const char *models[2] = {TINY, TINY_GELU};
    for (int mi = 0; mi < 2; mi++)
        for (int text = 0; text < 2; text++) {
            const char *in = text ? "a outstanding picture" : img, *mode = text ? "--text" : "--threads";
            const char *mode_arg = text ? "--" : "2"; /* images: a fixed thread count */
            int code;
            json_t *ref = embed_one(NULL, (const char *const[]){"--model", models[mi], mode, mode_arg, in, NULL}, &code);
            CHECK_EQ_INT(code, 0);
            json_t *f32 = embed_one(NULL, (const char *const[]){"--model", models[mi], "--precision", "fp32", mode,
                                                                mode_arg, in, NULL}, &code);
            CHECK_MSG(ref && jsame(ref, f32), "--precision fp32 is the default");
            json_decref(f32);
            for (int p = AE_PRECISION_INT8; p <= AE_PRECISION_BF16; p++) {
                const char *name = ae_precision_name((ae_precision)p);
                const char *own = text ? "--text-precision" : "--precision", *other = text ? "--precision" : "--text-precision";
                const char *args[] = {"--model", models[mi], own, name, mode, mode_arg, in, NULL};
                if (p == AE_PRECISION_BF16 && !bf16) {
                    run_result r = run_cli(NULL, NULL, (const char *const[]){"embed", "--model", models[mi],
                                                                             own, "bf16", in, NULL});
                    CHECK_EQ_INT(r.code, 2); /* as a model that fails to load */
                    CHECK_EQ_INT(count_lines(r.err), 1);
                    CHECK_STR_CONTAINS(r.err, "aesthete: bf16 needs a CPU with AVX512_BF16");
                    CHECK_EQ_INT(count_lines(r.out), 0);
                    run_free(&r);
                    continue;
                }
                json_t *e = embed_one(NULL, args, &code);
                CHECK_EQ_INT(code, 0);
                double c = jcos(ref, e);
                CHECK_MSG(c >= 0.99, "%s %s %s: cosine to fp32 %.6f", models[mi], text ? "text" : "image", name, c);
                CHECK_MSG(!jsame(ref, e), "%s %s %s: bit-identical to fp32", models[mi], text ? "text" : "image", name);
                printf("embed %s %s (%s, %s): cosine to fp32 %.6f\n", own, name, mi ? "tiny-gelu" : "tiny-quickgelu",
                       text ? "text" : "image", c);
                json_decref(e);
                /* the other tower's option leaves this one at fp32 */
                args[2] = other;
                e = embed_one(NULL, args, &code);
                CHECK_EQ_INT(code, 0);
                CHECK_MSG(jsame(ref, e), "%s %s %s %s: not fp32", models[mi], text ? "text" : "image", other, name);
                json_decref(e);
            }
            json_decref(ref);
        }

    /* $AESTHETE_PRECISION is the default, as $AESTHETE_MODEL is the model's; --precision wins */
    int code;
    const char *base[] = {"--model", TINY, "--threads", "2", img, NULL};
    json_t *f32 = embed_one(NULL, base, &code);
    json_t *i8 = embed_one(NULL, (const char *const[]){"--model", TINY, "--threads", "2", "--precision", "int8", img,
                                                       NULL}, &code);
    json_t *env8 = embed_one("AESTHETE_PRECISION=int8", base, &code);
    CHECK_MSG(i8 && jsame(i8, env8), "AESTHETE_PRECISION=int8 differs from --precision int8");
    json_t *env32 = embed_one("AESTHETE_PRECISION=int8", (const char *const[]){"--model", TINY, "--threads", "2",
                                                                               "--precision", "fp32", img, NULL}, &code);
    CHECK_MSG(f32 && jsame(f32, env32), "--precision fp32 does not override AESTHETE_PRECISION");
    json_t *empty = embed_one("AESTHETE_PRECISION=", base, &code);
    CHECK_MSG(f32 && jsame(f32, empty), "an empty AESTHETE_PRECISION is not fp32");
    json_decref(f32), json_decref(i8), json_decref(env8), json_decref(env32), json_decref(empty);
    run_result r = run_cli("AESTHETE_PRECISION=fp16", NULL, (const char *const[]){"embed", "--model", TINY, img, NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_EQ_INT(count_lines(r.err), 1);
    CHECK_STR_CONTAINS(r.err, "aesthete: $AESTHETE_PRECISION: 'fp16' is not fp32, int8 or bf16");
    run_free(&r);
}

/* every command that runs an encoder takes --precision and --text-precision, shows them in
 * --help, and names a bad value; info reports both and what the CPU runs */
static void test_precision_usage(void)
{
    const char *img = fixture("images/photo_rocket.jpg");
    static const char *const cmds[][3] = {{"embed", NULL}, {"score", NULL}, {"rank", NULL},
                                           {"bank", "build"}, {"serve", NULL}, {"info", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *name = cmds[i][0], *sub = cmds[i][1];
        const char *help[4] = {name, sub ? sub : "--help", sub ? "--help" : NULL, NULL};
        run_result r = run_cli(NULL, NULL, help);
        CHECK_EQ_INT(r.code, 0);
        CHECK_MSG(r.out && strstr(r.out, "--precision"), "'%s --help' lacks --precision", name);
        CHECK_MSG(r.out && (strstr(r.out, "$AESTHETE_PRECISION") || (sub && strstr(r.out, "as for 'score'"))),
                  "'%s --help' lacks the default", name);
        CHECK_MSG(r.out && strstr(r.out, "--text-precision P"), "'%s --help' lacks --text-precision", name);
        CHECK_MSG(r.out && strstr(r.out, "fp32"), "'%s --help' lacks --text-precision's default", name);
        run_free(&r);
        for (int t = 0; t < 2; t++) {
            const char *opt = t ? "--text-precision" : "--precision";
            const char *args[10];
            int k = 0;
            args[k++] = name;
            if (sub) args[k++] = sub;
            args[k++] = "--model", args[k++] = TINY, args[k++] = opt, args[k++] = "nonsense";
            if (!strcmp(name, "embed") || !strcmp(name, "score") || !strcmp(name, "rank")) args[k++] = img;
            if (sub) args[k++] = "-o", args[k++] = test_tmp("never.bank");
            args[k] = NULL;
            r = run_cli(NULL, NULL, args);
            CHECK_EQ_INT(r.code, 2);
            char want[128];
            snprintf(want, sizeof want, "aesthete %s: %s: 'nonsense' is not fp32, int8 or bf16\n", name, opt);
            CHECK_STR_CONTAINS(r.err, want);
            snprintf(want, sizeof want, "Try 'aesthete %s --help'.", name);
            CHECK_STR_CONTAINS(r.err, want);
            CHECK_EQ_INT(count_lines(r.err), 2);
            run_free(&r);
        }
    }
    run_result r = RUN("score", "--model", TINY, img, "--precision");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "option '--precision' needs a value");
    run_free(&r);

    const int bf16 = ae_precision_check(AE_PRECISION_BF16) == AE_OK;
    r = RUN("info", "--model", TINY, "--json");
    json_t *j = json_loads(r.out ? r.out : "", 0, NULL);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "precision")), "fp32"));
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "text_precision")) ?: "", "fp32"));
    json_t *ps = json_object_get(j, "precisions");
    CHECK_EQ_INT(json_array_size(ps), bf16 ? 3 : 2);
    CHECK(!strcmp(json_string_value(json_array_get(ps, 1)), "int8"));
    if (bf16) CHECK(!strcmp(json_string_value(json_array_get(ps, 2)), "bf16"));
    json_decref(j);
    run_free(&r);
    r = RUN("info", "--model", TINY);
    CHECK_STR_CONTAINS(r.out, bf16 ? "precision fp32 (images), fp32 (texts) (this CPU runs fp32 int8 bf16)\n"
                                   : "precision fp32 (images), fp32 (texts) (this CPU runs fp32 int8; bf16 needs "
                                     "AVX512_BF16)\n");
    run_free(&r);
    /* $AESTHETE_PRECISION is the image tower's: the texts stay fp32 */
    r = run_cli("AESTHETE_PRECISION=int8", NULL, (const char *const[]){"info", "--model", TINY, NULL});
    CHECK_STR_CONTAINS(r.out, "precision int8 (images), fp32 (texts) (");
    run_free(&r);
    r = RUN("info", "--model", TINY, "--text-precision", "int8", "--json");
    j = json_loads(r.out ? r.out : "", 0, NULL);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "precision")) ?: "", "fp32"));
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "text_precision")) ?: "", "int8"));
    json_decref(j);
    run_free(&r);
    r = RUN("info", "--model", TINY, "--precision", "bf16");
    CHECK_EQ_INT(r.code, bf16 ? 0 : 2);
    if (bf16) CHECK_STR_CONTAINS(r.out, "precision bf16 (images), fp32 (texts) (");
    else CHECK_STR_CONTAINS(r.err, "bf16 needs a CPU with AVX512_BF16");
    run_free(&r);
    r = RUN("info", "--model", TINY, "--text-precision", "bf16");
    CHECK_EQ_INT(r.code, bf16 ? 0 : 2);
    if (bf16) CHECK_STR_CONTAINS(r.out, "precision fp32 (images), bf16 (texts) (");
    else CHECK_STR_CONTAINS(r.err, "bf16 needs a CPU with AVX512_BF16");
    run_free(&r);
}

static int count_files(const char *dir)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls '%s' 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

/* One cache for every precision: each run gets its own embeddings and banks, never the
 * other's; the banks follow the text tower (--text-precision), not --precision */
static void test_precision_cache(void)
{
    const char *img = fixture("images/photo_rocket.jpg");
    mkdir(test_tmp("prec"), 0755);
    char cache[4200], banks[4200], err[8192];
    snprintf(cache, sizeof cache, "%s", test_tmp("prec/embeddings.sqlite3"));
    snprintf(banks, sizeof banks, "%s", test_tmp("prec/banks"));
    double f32 = score_one((const char *const[]){"--model", TINY, "--no-cache", img, NULL}, NULL, 0);
    double i8 = score_one((const char *const[]){"--model", TINY, "--no-cache", "--precision", "int8", img, NULL}, NULL, 0);
    double t8 = score_one((const char *const[]){"--model", TINY, "--no-cache", "--precision", "int8",
                                                "--text-precision", "int8", img, NULL}, NULL, 0);
    CHECK(!isnan(f32) && !isnan(i8) && !isnan(t8) && f32 != i8 && t8 != i8);
    printf("score: fp32 %.6f, int8 images %.6f, int8 images and texts %.6f\n", f32, i8, t8);
    const char *const runs[][2] = {{"int8", "1 encoded, 0 from the cache"}, {"fp32", "1 encoded, 0 from the cache"},
                                   {"int8", "0 encoded, 1 from the cache"}, {"fp32", "0 encoded, 1 from the cache"}};
    for (int i = 0; i < 4; i++) {
        double v = score_one((const char *const[]){"--model", TINY, "--cache", cache, "--verbose", "--precision",
                                                   runs[i][0], img, NULL}, err, sizeof err);
        double want = !strcmp(runs[i][0], "int8") ? i8 : f32;
        CHECK_MSG(v == want, "run %d (%s): score %.9g, expected %.9g", i, runs[i][0], v, want);
        CHECK_STR_CONTAINS(err, runs[i][1]);
    }
    CHECK_EQ_INT(count_files(banks), 1); /* one fixed bank: fp32 texts at both precisions */
    /* int8 texts: a bank of their own, the image embeddings of the int8 runs */
    double v = score_one((const char *const[]){"--model", TINY, "--cache", cache, "--verbose", "--precision", "int8",
                                               "--text-precision", "int8", img, NULL}, err, sizeof err);
    CHECK_MSG(v == t8, "int8 texts with the cache: score %.9g, expected %.9g", v, t8);
    CHECK_STR_CONTAINS(err, "0 encoded, 1 from the cache");
    CHECK_EQ_INT(count_files(banks), 2);
    /* rank agrees: it shares the cache and the banks */
    run_result r = RUN("rank", "--model", TINY, "--cache", cache, "--verbose", img);
    json_t *l = jline(r.out, 0);
    CHECK(json_number_value(json_object_get(l, "score")) == f32);
    CHECK_STR_CONTAINS(r.err, "0 encoded, 1 from the cache");
    json_decref(l);
    run_free(&r);

    /* a bank records the precision of the text tower that built it (--text-precision; not
     * --precision, the image tower's); any precision may use it */
    const char *b8 = test_tmp("prec/int8.bank"), *bi8 = test_tmp("prec/images-int8.bank");
    r = RUN("bank", "build", "--model", TINY, "--text-precision", "int8", "-o", b8);
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    r = RUN("bank", "build", "--model", TINY, "--precision", "int8", "-o", bi8);
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    r = RUN("bank", "info", b8);
    CHECK_STR_CONTAINS(r.out, "precision    int8");
    run_free(&r);
    r = RUN("bank", "info", bi8);
    CHECK_STR_CONTAINS(r.out, "precision    fp32");
    run_free(&r);
    v = score_one((const char *const[]){"--model", TINY, "--no-cache", "--precision", "int8", "--bank", b8, img,
                                        NULL}, NULL, 0);
    CHECK_MSG(v == t8, "--bank of int8 prompts, int8 images: %.9g, expected %.9g", v, t8);
    v = score_one((const char *const[]){"--model", TINY, "--no-cache", "--precision", "int8", "--bank", bi8, img,
                                        NULL}, NULL, 0);
    CHECK_MSG(v == i8, "--bank built with --precision int8 (fp32 prompts), int8 images: %.9g, expected %.9g", v, i8);
    v = score_one((const char *const[]){"--model", TINY, "--no-cache", "--bank", b8, img, NULL}, NULL, 0);
    CHECK_MSG(!isnan(v) && v != f32 && v != i8 && v != t8, "an int8 bank with fp32 images: %.9g", v);
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
    test_precision_embed();
    test_precision_usage();
    test_precision_cache();
    return test_summary();
}
