/*
 * test_verify.c — `aesthete verify` on the tiny test model: usage errors and their exit
 * codes, a bad image reported and left out, the JSON report against the same figures
 * computed through the library (tests/support/fidelity.c: cosine within 1e-6, Spearman
 * within 1e-9, the same top 3 and worst image), the gates and the exit status following the
 * figures, the text report, --classes; by default only the image tower is reduced (the banks
 * stay fp32, as `score --precision P` runs), with --text-precision the text tower too, and
 * the reports say which. The figures at full size are test_fidelity's.
 */
#define _GNU_SOURCE
#include <jansson.h>

#include "aesthete.h"
#include "run.h"
#include "support/fidelity.h"
#include "test.h"

static const char *TINY;

static void test_usage(void)
{
    run_result r = RUN("verify", "--help");
    CHECK_EQ_INT(r.code, 0);
    const char *want[] = {"--precision", "--text-precision", "--model", "--classes", "--column", "--threads",
                          "--json", "0.999", "0.995", "0.99", "openai/clip-vit-base-patch32"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) CHECK_STR_CONTAINS(r.out, want[i]);
    run_free(&r);

    r = RUN("--help");
    CHECK_STR_CONTAINS(r.out, "verify");
    run_free(&r);

    r = run_cli("AESTHETE_PRECISION=", NULL, (const char *const[]){"verify", "--model", TINY, "a.jpg", "b.jpg", NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--precision int8|bf16 is required");
    CHECK_STR_CONTAINS(r.err, "Try 'aesthete verify --help'");
    run_free(&r);

    /* $AESTHETE_PRECISION is the default, as for the other commands */
    r = run_cli("AESTHETE_PRECISION=int8", NULL,
                (const char *const[]){"verify", "--model", TINY, fixture("images/photo_rocket.jpg"), NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "needs at least 2 images"); /* got past the precision */
    run_free(&r);
    r = run_cli("AESTHETE_PRECISION=fp32", NULL, (const char *const[]){"verify", "a.jpg", "b.jpg", NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--precision int8|bf16 is required");
    run_free(&r);
    r = run_cli("AESTHETE_PRECISION=int3", NULL, (const char *const[]){"verify", "a.jpg", "b.jpg", NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "$AESTHETE_PRECISION: 'int3'");
    run_free(&r);

    r = RUN("verify", "--precision", "fp32", "a.jpg", "b.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "fp32 is the reference");
    run_free(&r);

    r = RUN("verify", "--precision", "int4", "a.jpg", "b.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "'int4' is not int8 or bf16");
    run_free(&r);

    r = RUN("verify", "--precision", "int8", "--text-precision", "int4", "a.jpg", "b.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "aesthete verify: --text-precision: 'int4' is not fp32, int8 or bf16\n");
    CHECK_STR_CONTAINS(r.err, "Try 'aesthete verify --help'");
    run_free(&r);

    r = RUN("verify", "--precision", "int8", "--model", TINY);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "no IMAGE given");
    run_free(&r);

    r = RUN("verify", "--precision", "int8", "--model", TINY, fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "needs at least 2 images");
    CHECK_STR_CONTAINS(r.err, "Spearman");
    run_free(&r);

    r = RUN("verify", "--precision", "int8", "--frobnicate", "a.jpg", "b.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--frobnicate");
    run_free(&r);

    r = RUN("verify", "--precision", "int8", "--threads", "many", "a.jpg", "b.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--threads: 'many' is not an integer");
    run_free(&r);

    /* two inputs, one readable: nothing to rank */
    r = RUN("verify", "--precision", "int8", "--model", TINY, "/nonexistent/x.jpg",
            fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "/nonexistent/x.jpg");
    CHECK_STR_CONTAINS(r.err, "only 1 of 2 images could be read");
    run_free(&r);

    if (ae_precision_check(AE_PRECISION_BF16) != AE_OK) {
        r = RUN("verify", "--precision", "bf16", "--model", TINY, "a.jpg", "b.jpg");
        CHECK_EQ_INT(r.code, 2);
        CHECK_STR_CONTAINS(r.err, "bf16");
        run_free(&r);
        r = RUN("verify", "--precision", "int8", "--text-precision", "bf16", "--model", TINY, "a.jpg", "b.jpg");
        CHECK_EQ_INT(r.code, 2);
        CHECK_STR_CONTAINS(r.err, "bf16");
        run_free(&r);
    }
}

static const char *json_name(json_t *a, size_t i) { return json_string_value(json_array_get(a, i)); }

/* The command's JSON against the library's figures for the same images. */
static void check_report(json_t *j, const fid_figures *f, const char *const *paths, int32_t n,
                         ae_precision p, ae_precision tp, int code)
{
    static const char *const gate[] = {"PASS", "WARN", "FAIL"};
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "images")), n);
    CHECK(!strcmp(json_string_value(json_object_get(j, "precision")) ?: "", ae_precision_name(p)));
    CHECK(!strcmp(json_string_value(json_object_get(j, "text_precision")) ?: "", ae_precision_name(tp)));
    json_t *c = json_object_get(j, "cosine");
    CHECK_NEAR(json_real_value(json_object_get(c, "min")), f->cos_min, 1e-6);
    CHECK_NEAR(json_real_value(json_object_get(c, "mean")), f->cos_mean, 1e-6);
    CHECK(!strcmp(json_string_value(json_object_get(c, "worst")) ?: "", paths[f->worst]));
    int cg = f->cos_min >= 0.999 ? 0 : f->cos_min >= 0.995 ? 1 : 2, verdict = cg;
    CHECK(!strcmp(json_string_value(json_object_get(c, "gate")) ?: "", gate[cg]));
    static const char *const mname[2] = {"fixed", "ensemble"};
    for (int m = 0; m < 2; m++) {
        json_t *o = json_object_get(j, mname[m]);
        CHECK_MSG(o != NULL, "no \"%s\"", mname[m]);
        CHECK_NEAR(json_number_value(json_object_get(o, "spearman")), f->spearman[m], 1e-9);
        CHECK_NEAR(json_number_value(json_object_get(o, "max_score_change")), f->max_change[m], 1e-4);
        CHECK_EQ_INT(json_is_true(json_object_get(o, "top3_same")), f->top_same[m]);
        json_t *tr = json_object_get(o, "top_fp32"), *td = json_object_get(o, "top_reduced");
        CHECK_EQ_INT(json_array_size(tr), FID_TOP);
        CHECK_EQ_INT(json_array_size(td), FID_TOP);
        for (int k = 0; k < FID_TOP; k++) {
            CHECK(!strcmp(json_name(tr, k) ?: "", paths[f->top_ref[m][k]]));
            CHECK(!strcmp(json_name(td, k) ?: "", paths[f->top_red[m][k]]));
        }
        int g = f->spearman[m] >= 0.99 && f->top_same[m] ? 0 : 2;
        CHECK(!strcmp(json_string_value(json_object_get(o, "gate")) ?: "", gate[g]));
        verdict = g > verdict ? g : verdict;
    }
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "ensemble"), "classes")), 1000);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "per_image")), n);
    /* what the precision buys: both rates measured, the speedup their ratio */
    json_t *sp = json_object_get(j, "speed");
    const double r32 = json_number_value(json_object_get(sp, "fp32_images_per_s")),
                 rred = json_number_value(json_object_get(sp, "reduced_images_per_s"));
    CHECK(r32 > 0 && rred > 0);
    CHECK_NEAR(json_number_value(json_object_get(sp, "speedup")), rred / r32, 1e-4 * rred / r32);
    CHECK(!strcmp(json_string_value(json_object_get(j, "verdict")) ?: "", gate[verdict]));
    CHECK_EQ_INT(code, verdict == 2 ? 1 : 0);
    printf("  images %s, texts %s: cosine min %.6f mean %.6f, Spearman fixed %.4f ensemble %.4f, verdict %s "
           "(exit %d)\n", ae_precision_name(p), ae_precision_name(tp), f->cos_min, f->cos_mean, f->spearman[0],
           f->spearman[1], gate[verdict], code);
}

static void test_report(void)
{
    char **photos;
    int32_t total = fid_photos(&photos), n = total < 6 ? total : 6; /* a few are enough here */
    CHECK(n >= 3);
    const char *bad = test_tmp("not-an-image.jpg");
    FILE *f = fopen(bad, "w");
    if (f) fputs("hello\n", f), fclose(f);

    fid_run ref, red;
    CHECK_EQ_INT(fid_encode(TINY, AE_PRECISION_FP32, AE_PRECISION_FP32, (const char *const *)photos, n, &ref), 0);
    /* images int8 or bf16 with fp32 texts (the default), then both towers at int8 */
    static const ae_precision cases[][2] = {{AE_PRECISION_INT8, AE_PRECISION_FP32},
                                            {AE_PRECISION_BF16, AE_PRECISION_FP32},
                                            {AE_PRECISION_INT8, AE_PRECISION_INT8}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        ae_precision p = cases[ci][0], tp = cases[ci][1];
        if (ae_precision_check(p) != AE_OK) continue;
        CHECK_EQ_INT(fid_encode(TINY, p, tp, (const char *const *)photos, n, &red), 0);
        fid_figures fg;
        fid_compare(&ref, &red, &fg);
        /* the bad file in the middle: reported, left out, the rest compared; --text-precision
         * given only where it is not the default */
        const char *args[32] = {"verify", "--json", "--precision", ae_precision_name(p), "--model", TINY};
        int k = 6;
        if (tp != AE_PRECISION_FP32) args[k++] = "--text-precision", args[k++] = ae_precision_name(tp);
        for (int32_t i = 0; i < n; i++) {
            if (i == 2) args[k++] = bad;
            args[k++] = photos[i];
        }
        args[k] = NULL;
        run_result r = run_cli(NULL, NULL, args);
        json_error_t err;
        json_t *j = json_loads(r.out ? r.out : "", 0, &err);
        CHECK_MSG(j != NULL, "verify --json: %s; stdout: %.200s", err.text, r.out ? r.out : "");
        CHECK_STR_CONTAINS(r.err, "not-an-image.jpg");
        if (j) {
            json_t *sk = json_object_get(j, "skipped");
            CHECK_EQ_INT(json_array_size(sk), 1);
            CHECK_STR_CONTAINS(json_string_value(json_object_get(json_array_get(sk, 0), "input")),
                               "not-an-image.jpg");
            CHECK_STR_CONTAINS(json_string_value(json_object_get(json_array_get(sk, 0), "error")),
                               "unknown image format");
            check_report(j, &fg, (const char *const *)photos, n, p, tp, r.code);
        }
        json_decref(j);
        run_free(&r);

        /* the text report says the same */
        args[1] = "--threads";
        args[2] = "1";
        args[3] = "--precision";
        args[4] = ae_precision_name(p);
        args[5] = "--model";
        args[6] = TINY;
        k = 7;
        if (tp != AE_PRECISION_FP32) args[k++] = "--text-precision", args[k++] = ae_precision_name(tp);
        for (int32_t i = 0; i < n; i++) args[k++] = photos[i];
        args[k] = NULL;
        r = run_cli(NULL, NULL, args);
        /* which towers were reduced */
        char towers[160];
        if (tp == AE_PRECISION_FP32)
            snprintf(towers, sizeof towers, "%s against fp32: model", ae_precision_name(p));
        else
            snprintf(towers, sizeof towers, "%s images and texts against fp32: model", ae_precision_name(p));
        CHECK_STR_CONTAINS(r.out, towers);
        if (tp == AE_PRECISION_FP32)
            snprintf(towers, sizeof towers, "reduced: the image tower (%s); the text tower stays fp32",
                     ae_precision_name(p));
        else
            snprintf(towers, sizeof towers, "reduced: the image tower (%s) and the text tower (%s)",
                     ae_precision_name(p), ae_precision_name(tp));
        CHECK_STR_CONTAINS(r.out, towers);
        char want[64];
        snprintf(want, sizeof want, "min %.6f", fg.cos_min);
        CHECK_STR_CONTAINS(r.out, want);
        CHECK_STR_CONTAINS(r.out, photos[fg.worst]);
        CHECK_STR_CONTAINS(r.out, "ensemble (1000 classes): Spearman");
        /* the speed line: fp32 A images/s, P B images/s: Cx fp32, C = B / A; the note exactly
         * when the reduced side was slower */
        const char *sl = r.out ? strstr(r.out, "warm-up included): fp32 ") : NULL;
        double ra = 0, rb = 0, ratio = 0;
        char pn[8] = "";
        CHECK(sl && sscanf(sl, "warm-up included): fp32 %lf images/s, %7s %lf images/s: %lfx fp32", &ra, pn, &rb,
                           &ratio) == 4);
        CHECK(!strcmp(pn, ae_precision_name(p)) && ra > 0 && rb > 0);
        CHECK_NEAR(ratio, rb / ra, 0.006 + 0.06 * rb / ra); /* printed rounded to 0.1 and 0.01 */
        CHECK_EQ_INT(r.out && strstr(r.out, "ran slower than fp32 on this CPU") != NULL, ratio < 0.995);
        CHECK_STR_CONTAINS(r.out, "verdict: ");
        CHECK_STR_CONTAINS(r.out, r.code ? "verdict: FAIL" : "verdict: ");
        run_free(&r);
        fid_run_free(&red);
    }
    fid_run_free(&ref);

    /* the ensemble over a --classes file */
    const char *cls = test_tmp("classes.txt");
    if ((f = fopen(cls, "w"))) fputs("dog\ncat\nhotel lobby\n", f), fclose(f);
    run_result r = RUN("verify", "--json", "--precision", "int8", "--model", TINY, "--classes", cls,
                       photos[0], photos[1], photos[2]);
    json_t *j = json_loads(r.out ? r.out : "", 0, NULL);
    CHECK(j != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "ensemble"), "classes")), 3);
    CHECK(r.code == 0 || r.code == 1);
    json_decref(j);
    run_free(&r);
    fid_photos_free(photos, total);
}

int main(void)
{
    TINY = strdup(fixture("models/tiny-quickgelu"));
    test_usage();
    test_report();
    free((void *)TINY);
    return test_summary();
}
