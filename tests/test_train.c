/*
 * test_train.c — `aesthete train` and `aesthete eval` as a user calls them: the metrics against
 * golden numbers from scipy (exactly representable scores, so the golden numbers are those of
 * the same inputs), the real LAION L/14 vectors, heads trained on separable and on rated
 * synthetic embeddings, copies of one image kept in one fold, images through the cache with
 * the tiny model, and every usage error's message.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "aesthete.h"
#include "run.h"
#include "stats.h"
#include "test.h"

static char TINY[4096], GELU[4096];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

/* a float32 .npy [rows, cols] */
static void write_npy(const char *path, const float *v, int rows, int cols)
{
    char hdr[128];
    memset(hdr, ' ', sizeof hdr);
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = 118, hdr[9] = 0;
    int k = snprintf(hdr + 10, 118, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    hdr[10 + k] = ' ';
    hdr[127] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(hdr, 1, sizeof hdr, f);
    fwrite(v, sizeof(float), (size_t)rows * cols, f);
    fclose(f);
}

static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *parse(const char *out)
{
    json_t *j = json_loads(out ? out : "", 0, NULL);
    CHECK_MSG(j != NULL, "not JSON: %s", out ? out : "(null)");
    return j;
}

static json_t *head_n(json_t *report, int i) { return json_array_get(json_object_get(report, "heads"), (size_t)i); }

/* ---- eval's arithmetic against scipy ---------------------------------------------------- */

/* One-hot embeddings (12 x 8): a linear head w . x scores row i exactly w[i % 8], so the
 * scores below are the very numbers scipy was given:
 *   w = [-1.5, 0.25, 2.0, 3.75, -0.5, 1.0, 4.5, 0.125]; s_i = w[i % 8]; r_i = 1 + ((7 i) % 10) * 0.9
 *   stats.spearmanr(s, r)[0], stats.pearsonr(s, r)[0], mean((s >= 1) == (r > 5))
 * (scipy 1.10.1), and the same on rows 0, 2, 4, 6, 8, 10. */
#define G_SRCC -0.282687277205107
#define G_PLCC -0.26387961873616406
#define G_ACC (1.0 / 3.0)
#define G_SPLIT_SRCC -0.17912443020795965
#define G_SPLIT_PLCC -0.32300969043607186
#define G_SPLIT_ACC (1.0 / 6.0)

static void test_eval_golden(void)
{
    const float w[8] = {-1.5f, 0.25f, 2.0f, 3.75f, -0.5f, 1.0f, 4.5f, 0.125f}, b = 0;
    float e[12 * 8] = {0};
    for (int i = 0; i < 12; i++) e[i * 8 + i % 8] = 1;
    const char *npy = test_tmp("onehot.npy"), *head = test_tmp("onehot.head"), *csv = test_tmp("onehot.csv");
    write_npy(npy, e, 12, 8);
    ae_head_params hp = ae_head_default_params();
    hp.name = "onehot";
    hp.cut = 1;
    ae_head_layer layer = {8, 1, w, &b, 0};
    ae_head *h = NULL;
    CHECK_EQ_INT(ae_head_from_layers(&layer, 1, &hp, &h), AE_OK);
    CHECK_EQ_INT(ae_head_save(h, head), AE_OK);
    ae_head_free(h);
    char text[2048];
    int k = snprintf(text, sizeof text, "path,rating\n");
    for (int i = 0; i < 12; i++) k += snprintf(text + k, sizeof text - k, "row%d.jpg,%.17g\n", i, 1 + ((i * 7) % 10) * 0.9);
    write_text(csv, text);

    run_result r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    json_t *j = parse(r.out), *h0 = head_n(j, 0);
    CHECK_EQ_INT(jnum(j, "images"), 12);
    CHECK(!strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "ratings"));
    CHECK_NEAR(jnum(j, "cut"), 5, 0);
    CHECK(!strcmp(json_string_value(json_object_get(h0, "name")) ?: "", "onehot"));
    CHECK_NEAR(jnum(h0, "srcc"), G_SRCC, 1e-9);
    CHECK_NEAR(jnum(h0, "plcc"), G_PLCC, 1e-9);
    CHECK_NEAR(jnum(h0, "accuracy"), G_ACC, 1e-12);
    json_decref(j);
    run_free(&r);

    /* the table says the same */
    r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "12 images, rated; good iff rating > 5");
    CHECK_STR_CONTAINS(r.out, "0.3333");
    CHECK_STR_CONTAINS(r.out, "-0.2827");
    CHECK_STR_CONTAINS(r.out, "-0.2639");
    run_free(&r);

    /* --split keeps the rows listed (by id: path, extension and leading zeros aside); their
     * embeddings are their own rows of the file */
    const char *split = test_tmp("onehot-split.txt");
    write_text(split, "# the even rows\nrow0\nrow2.jpg\nimages/row4.JPG\nrow6\nrow8\nrow10\nrow99\n");
    r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--split", split, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    j = parse(r.out), h0 = head_n(j, 0);
    CHECK_EQ_INT(jnum(j, "images"), 6);
    CHECK_EQ_INT(jnum(j, "not_rated"), 1);
    CHECK_STR_CONTAINS(r.err, "1 ids have no rating");
    CHECK_STR_CONTAINS(r.err, "row99");
    CHECK_NEAR(jnum(h0, "srcc"), G_SPLIT_SRCC, 1e-9);
    CHECK_NEAR(jnum(h0, "plcc"), G_SPLIT_PLCC, 1e-9);
    CHECK_NEAR(jnum(h0, "accuracy"), G_SPLIT_ACC, 1e-12);
    json_decref(j);
    run_free(&r);

    /* --exclude drops them: the odd rows are left */
    r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--exclude", split, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    j = parse(r.out);
    CHECK_EQ_INT(jnum(j, "images"), 6);
    json_decref(j);
    run_free(&r);

    /* AVA: the mean of the votes; with --embeddings and --split each kept image keeps its own
     * row (images 11, 13, 15 are rows 1, 3, 5: scores w[1], w[3], w[5]) */
    const char *ava = test_tmp("AVA.txt"), *avasplit = test_tmp("ava-test.txt");
    write_text(ava, "1 10 0 0 0 0 1 0 0 0 0 0 0 0 0\n2 11 0 0 0 0 0 0 0 3 1 0 0 0 0\n"
                    "3 12 0 0 0 0 1 0 0 0 0 0 0 0 0\n4 13 0 0 1 1 0 0 0 0 0 0 0 0 0\n"
                    "5 14 0 0 0 0 1 0 0 0 0 0 0 0 0\n6 15 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
    write_text(avasplit, "11\n13.jpg\n15\n");
    float e6[6 * 8] = {0};
    for (int i = 0; i < 6; i++) e6[i * 8 + i] = 1;
    const char *npy6 = test_tmp("ava.npy");
    write_npy(npy6, e6, 6, 8);
    r = RUN("eval", "--head", head, "--ava", ava, "--embeddings", npy6, "--split", avasplit, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    j = parse(r.out);
    CHECK_EQ_INT(jnum(j, "images"), 3);
    {
        const double sc[3] = {w[1], w[3], w[5]}, mean[3] = {(8 * 3 + 9) / 4.0, (3 + 4) / 2.0, (6 + 7) / 2.0};
        CHECK_NEAR(jnum(head_n(j, 0), "srcc"), stats_spearman(sc, mean, 3), 1e-12);
        CHECK_NEAR(jnum(head_n(j, 0), "plcc"), stats_pearson(sc, mean, 3), 1e-12);
        /* good iff mean > 5: 8.25 and 6.5 good, 3.5 bad; the head: 0.25 < 1 bad, 3.75 good, 1 good */
        CHECK_NEAR(jnum(head_n(j, 0), "accuracy"), 1.0 / 3.0, 1e-12);
    }
    json_decref(j);
    run_free(&r);

    /* the bootstrap: an interval around the value, the same for a seed, another for another */
    run_result b1 = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--bootstrap", "300", "--seed",
                        "7", "--format", "json");
    run_result b2 = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--bootstrap", "300", "--seed",
                        "7", "--format", "json");
    run_result b3 = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--bootstrap", "300", "--seed",
                        "8", "--format", "json");
    CHECK_EQ_INT(b1.code, 0);
    CHECK(b1.out && b2.out && !strcmp(b1.out, b2.out));
    CHECK(b1.out && b3.out && strcmp(b1.out, b3.out));
    j = parse(b1.out);
    json_t *acc = json_object_get(head_n(j, 0), "accuracy"), *srcc = json_object_get(head_n(j, 0), "srcc");
    CHECK_NEAR(jnum(acc, "value"), G_ACC, 1e-12);
    CHECK_NEAR(jnum(srcc, "value"), G_SRCC, 1e-9);
    CHECK(jnum(acc, "lo") <= G_ACC && G_ACC <= jnum(acc, "hi") && jnum(acc, "lo") < jnum(acc, "hi"));
    CHECK(jnum(srcc, "lo") <= G_SRCC && G_SRCC <= jnum(srcc, "hi") && jnum(srcc, "lo") >= -1 && jnum(srcc, "hi") <= 1);
    json_decref(j);
    run_free(&b1), run_free(&b2), run_free(&b3);

    /* the plot: a PNG; a folder that does not exist: the path named, exit 2 */
    const char *png = test_tmp("eval.png");
    r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--plot", png);
    CHECK_EQ_INT(r.code, 0);
    size_t n = 0;
    unsigned char *p = read_file(png, &n);
    CHECK(p && n > 100 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8));
    free(p);
    run_free(&r);
    r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--plot", test_tmp("no/such/dir/e.png"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "no/such/dir/e.png");
    run_free(&r);
}

/* ---- the real LAION ViT-L/14 vectors, one per rating bucket 0..9 ------------------------- */

/* scipy 1.10.1 on expected-l14-scores.json against the buckets 0..9 (good iff bucket > 5;
 * a LAION head says good iff score >= 5): */
#define L14_V1_PLCC 0.9928790744088696
#define L14_V2_PLCC 0.9780824753500339

static void test_eval_laion_real(void)
{
    const char *csv = test_tmp("buckets.csv");
    char text[512];
    int k = 0;
    for (int i = 0; i < 10; i++) k += snprintf(text + k, sizeof text - k, "rating%d.npy,%d\n", i, i);
    write_text(csv, text);
    run_result r = RUN("eval", "--embeddings", fixture("real/laion-vit-l-14-rating-embeddings.f32"), "--ratings", csv,
                       "--method", "laion", "--laion-head", "vit-l-14", "--method", "laion-v2", "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    json_t *j = parse(r.out), *v1 = head_n(j, 0), *v2 = head_n(j, 1);
    CHECK_EQ_INT(jnum(j, "images"), 10);
    CHECK(!strcmp(json_string_value(json_object_get(v1, "method")) ?: "", "laion"));
    CHECK(!strcmp(json_string_value(json_object_get(v2, "method")) ?: "", "laion-v2"));
    CHECK_NEAR(jnum(v1, "srcc"), 1, 1e-12);
    CHECK_NEAR(jnum(v1, "plcc"), L14_V1_PLCC, 1e-6); /* float32 scores against float64 ones */
    CHECK_NEAR(jnum(v1, "accuracy"), 0.8, 1e-12);
    CHECK_NEAR(jnum(v2, "srcc"), 1, 1e-12);
    CHECK_NEAR(jnum(v2, "plcc"), L14_V2_PLCC, 1e-6);
    CHECK_NEAR(jnum(v2, "accuracy"), 1.0, 1e-12);
    json_decref(j);
    run_free(&r);

    /* a ridge head trained on the buckets with noise recovers their order */
    float *e = fixture_f32("real/laion-vit-l-14-rating-embeddings.f32", 10 * 768);
    if (!e) return;
    enum { REP = 8, D = 768 };
    float *x = malloc(sizeof(float) * 10 * REP * D);
    stats_rng g;
    stats_rng_seed(&g, 99);
    k = snprintf(text, sizeof text, "path,rating\n");
    char *big = malloc(65536);
    int bk = snprintf(big, 65536, "path,rating\n");
    for (int rep = 0; rep < REP; rep++)
        for (int i = 0; i < 10; i++) {
            float *row = x + (size_t)(rep * 10 + i) * D;
            for (int d = 0; d < D; d++) row[d] = e[i * D + d] + (float)((stats_rng_uniform(&g) - 0.5) * 0.02);
            bk += snprintf(big + bk, 65536 - bk, "r%d_%d,%d\n", rep, i, i);
        }
    const char *npy = test_tmp("noisy.npy"), *rcsv = test_tmp("noisy.csv"), *head = test_tmp("buckets.head");
    write_npy(npy, x, 10 * REP, D);
    write_text(rcsv, big);
    r = RUN("train", "--embeddings", npy, "--ratings", rcsv, "--model-id", "openai/clip-vit-large-patch14", "-o", head,
            "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    j = parse(r.out);
    CHECK(!strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "ridge"));
    CHECK_MSG(jnum(json_object_get(j, "cv"), "srcc") > 0.95, "cv srcc %g", jnum(json_object_get(j, "cv"), "srcc"));
    json_decref(j);
    run_free(&r);
    /* scored on the clean vectors: the buckets in order */
    r = RUN("eval", "--head", head, "--embeddings", fixture("real/laion-vit-l-14-rating-embeddings.f32"), "--ratings",
            csv, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    j = parse(r.out);
    CHECK_NEAR(jnum(head_n(j, 0), "srcc"), 1, 1e-12);
    json_decref(j);
    run_free(&r);
    r = RUN("head", "info", head);
    CHECK_STR_CONTAINS(r.out, "openai/clip-vit-large-patch14");
    CHECK_STR_CONTAINS(r.out, "ridge regression on 80 rated embeddings");
    run_free(&r);
    free(x), free(e), free(big);
}

/* ---- train on synthetic embeddings -------------------------------------------------------- */

static void test_train_separable(void)
{
    enum { N = 40, D = 32 };
    float e[N * D];
    stats_rng g;
    stats_rng_seed(&g, 5);
    char text[4096];
    int k = snprintf(text, sizeof text, "file,label\n");
    for (int i = 0; i < N; i++) {
        int good = i < N / 2;
        for (int d = 0; d < D; d++) e[i * D + d] = (float)(stats_rng_uniform(&g) - 0.5);
        e[i * D] += good ? 2.0f : -2.0f; /* separable along the first axis */
        k += snprintf(text + k, sizeof text - k, "img%02d.jpg,%s\n", i, good ? (i % 2 ? "good" : "Yes") : "bad");
    }
    memcpy(e + D, e, sizeof(float) * D); /* row 1 is a copy of row 0 */
    const char *npy = test_tmp("sep.npy"), *csv = test_tmp("sep.csv"), *head = test_tmp("sep.head");
    write_npy(npy, e, N, D);
    write_text(csv, text);
    run_result r = RUN("train", "--embeddings", npy, "--ratings", csv, "--model-id", "test/sep", "-o", head, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    json_t *j = parse(r.out);
    CHECK(!strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "logistic"));
    CHECK_EQ_INT(jnum(j, "images"), N);
    CHECK_EQ_INT(jnum(j, "good"), N / 2);
    CHECK_EQ_INT(jnum(j, "bad"), N / 2);
    CHECK_EQ_INT(jnum(j, "copies"), 1);
    CHECK_NEAR(jnum(json_object_get(j, "cv"), "accuracy"), 1.0, 0);
    CHECK(json_object_get(j, "zero_shot") == NULL); /* no head to compare with was given */
    json_decref(j);
    run_free(&r);

    /* the head says what it is, and labels the rows as they were labelled */
    r = RUN("head", "info", head);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "name         sep");
    CHECK_STR_CONTAINS(r.out, "test/sep");
    CHECK_STR_CONTAINS(r.out, "probability = sigmoid(score)");
    CHECK_STR_CONTAINS(r.out, "logistic regression on 40 embeddings (20 good, 20 bad)");
    run_free(&r);
    r = RUN("score", "--head", head, "--embeddings", npy, "--format", "jsonl");
    CHECK_EQ_INT(r.code, 0);
    int right = 0;
    for (int i = 0; i < N; i++) {
        json_t *row = jline(r.out, i);
        const char *label = json_string_value(json_object_get(row, "label"));
        double p = jnum(row, "probability"), s = jnum(row, "score");
        right += label && !strcmp(label, i < N / 2 ? "good" : "bad");
        CHECK_NEAR(p, 1 / (1 + exp(-s)), 1e-6);
        json_decref(row);
    }
    CHECK_EQ_INT(right, N);
    run_free(&r);

    /* a table report names the figures */
    r = RUN("train", "--embeddings", npy, "--ratings", csv, "-o", head, "--name", "my taste");
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "trained my taste: logistic regression on 40 images (20 good, 20 bad), 1 copies");
    CHECK_STR_CONTAINS(r.out, "accuracy     1.0000 cross-validated");
    run_free(&r);

    /* errors: each names the cause */
    const char *one = test_tmp("onlygood.csv");
    write_text(one, "a.jpg,good\nb.jpg,good\nc.jpg,good\n");
    float three[3 * D] = {0};
    for (int i = 0; i < 3; i++) three[i * D + i] = 1;
    const char *npy3 = test_tmp("three.npy");
    write_npy(npy3, three, 3, D);
    r = RUN("train", "--embeddings", npy3, "--ratings", one, "-o", head);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "at least 2 good and 2 bad images that can be read, not 3 and 0");
    run_free(&r);
    r = RUN("train", "--embeddings", npy3, "--ratings", csv, "-o", head);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "3 embeddings for the 40 entries of");
    run_free(&r);
    r = RUN("train", "--embeddings", npy, "--ratings", csv);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "-o FILE: where to write the head");
    run_free(&r);
    r = RUN("train", "-o", head);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "no labels: give --good DIR --bad DIR, --ratings FILE or --ava AVA.txt");
    run_free(&r);
    r = RUN("train", "--ava", csv, "-o", head);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--ava needs --images DIR");
    run_free(&r);
    r = RUN("train", "--ratings", csv, "--good", "x", "-o", head);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "give one kind of labels");
    run_free(&r);
    r = RUN("train", "--embeddings", npy, "--ratings", csv, "--folds", "1", "-o", head);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--folds");
    run_free(&r);
    r = RUN("eval", "--embeddings", npy, "--ratings", csv, "--method", "fixed");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--method fixed needs the model's text tower");
    run_free(&r);
    r = RUN("eval", "--embeddings", npy, "--ratings", csv, "--method", "laion");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "32-dimensional rows, expected 512"); /* the B/32 LAION head's */
    run_free(&r);
}

static void test_train_ratings_kind(void)
{
    enum { N = 60, D = 24 };
    float e[N * D];
    stats_rng g;
    stats_rng_seed(&g, 11);
    char text[4096];
    int k = 0;
    for (int i = 0; i < N; i++) {
        double t = stats_rng_uniform(&g);
        for (int d = 0; d < D; d++) e[i * D + d] = (float)(stats_rng_uniform(&g) - 0.5) * 0.05f;
        e[i * D + 3] += (float)t; /* the rating follows axis 3 ... */
        e[i * D + 5] += 1.0f;     /* ... on a constant part, so normalising keeps the order */
        k += snprintf(text + k, sizeof text - k, "p%d.png;%.3f\n", i, 2 + 6 * t + (stats_rng_uniform(&g) - 0.5) * 0.3);
    }
    const char *npy = test_tmp("rated.npy"), *csv = test_tmp("rated.csv"), *head = test_tmp("rated.head");
    write_npy(npy, e, N, D);
    write_text(csv, text);
    run_result r = RUN("train", "--embeddings", npy, "--ratings", csv, "-o", head, "--kind", "logistic");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--kind logistic needs good/bad labels");
    run_free(&r);
    r = RUN("train", "--embeddings", npy, "--ratings", csv, "-o", head, "--format", "json", "--cut", "5");
    CHECK_EQ_INT(r.code, 0);
    json_t *j = parse(r.out), *cv = json_object_get(j, "cv");
    CHECK(!strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "ridge"));
    CHECK_MSG(jnum(cv, "srcc") > 0.9, "cv srcc %g", jnum(cv, "srcc"));
    CHECK(jnum(cv, "mse") >= 0 && jnum(cv, "accuracy") > 0.8);
    json_decref(j);
    run_free(&r);
    r = RUN("eval", "--head", head, "--embeddings", npy, "--ratings", csv, "--format", "json");
    CHECK_EQ_INT(r.code, 0);
    j = parse(r.out);
    CHECK(jnum(head_n(j, 0), "srcc") > 0.9 && jnum(head_n(j, 0), "plcc") > 0.9);
    json_decref(j);
    run_free(&r);
}

/* ---- images through the cache, with the tiny model ---------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *d = read_file(from, &n);
    FILE *f = fopen(to, "wb");
    if (f && d) fwrite(d, 1, n / (strstr(to, "broken") ? 3 : 1), f);
    if (f) fclose(f);
    free(d);
}

static void test_train_images(void)
{
    char good[4200], bad[4200], cache[4200], head[4200];
    snprintf(good, sizeof good, "%s", test_tmp("good"));
    snprintf(bad, sizeof bad, "%s", test_tmp("bad"));
    snprintf(cache, sizeof cache, "%s", test_tmp("train.sqlite3"));
    snprintf(head, sizeof head, "%s", test_tmp("taste.head"));
    mkdir(good, 0755), mkdir(bad, 0755);
    copy_file(fixture("images/photo_rocket.jpg"), test_tmp("good/rocket.jpg"));
    copy_file(fixture("images/photo_rocket.jpg"), test_tmp("good/rocket-copy.jpg"));
    copy_file(fixture("images/photo_boats.jpg"), test_tmp("good/boats.jpg"));
    copy_file(fixture("images/photo_ladybird.jpg"), test_tmp("good/ladybird.jpg"));
    copy_file(fixture("images/photo_landscape.jpg"), test_tmp("bad/landscape.jpg"));
    copy_file(fixture("images/photo_portrait.jpg"), test_tmp("bad/portrait.jpg"));
    copy_file(fixture("images/photo_coffee.gif"), test_tmp("bad/coffee.gif"));
    copy_file(fixture("images/photo_astronaut.png"), test_tmp("bad/astronaut.png"));
    copy_file(fixture("images/photo_rocket_progressive.jpg"), test_tmp("bad/broken.jpg")); /* a third of it */

    run_result r = RUN("train", "--model", TINY, "--cache", cache, "--good", good, "--bad", bad, "-o", head, "--folds",
                       "3", "--format", "json", "--verbose");
    CHECK_EQ_INT(r.code, 1); /* trained, one image failed */
    CHECK_STR_CONTAINS(r.err, "broken.jpg");
    CHECK_STR_CONTAINS(r.err, "9 inputs: 8 encoded, 0 from the cache, 1 failed");
    json_t *j = parse(r.out);
    CHECK_EQ_INT(jnum(j, "images"), 8);
    CHECK_EQ_INT(jnum(j, "good"), 4);
    CHECK_EQ_INT(jnum(j, "bad"), 4);
    CHECK_EQ_INT(jnum(j, "failed"), 1);
    CHECK_EQ_INT(jnum(j, "copies"), 1); /* rocket-copy.jpg: one group with rocket.jpg */
    CHECK_EQ_INT(jnum(j, "folds"), 3);
    json_t *zs = json_object_get(j, "zero_shot");
    CHECK(!strcmp(json_string_value(json_object_get(zs, "method")) ?: "", "ensemble"));
    double zs_acc = jnum(zs, "accuracy");
    json_decref(j);
    run_free(&r);

    /* the zero-shot figure is the ensemble's own labels against the folders */
    run_result s = RUN("rank", "--model", TINY, "--cache", cache, "--method", "ensemble", "--format", "jsonl", good, bad);
    int right = 0, rows = 0;
    for (int i = 0; i < 8; i++) {
        json_t *row = jline(s.out, i);
        const char *in = json_string_value(json_object_get(row, "input")), *label = json_string_value(json_object_get(row, "label"));
        if (in && label) rows++, right += (strstr(in, "/good/") != NULL) == !strcmp(label, "good");
        json_decref(row);
    }
    CHECK_EQ_INT(rows, 8);
    CHECK_NEAR(zs_acc, right / 8.0, 1e-12);
    run_free(&s);

    /* again: every embedding from the cache */
    r = RUN("train", "--model", TINY, "--cache", cache, "--good", good, "--bad", bad, "-o", head, "--folds", "3",
            "--verbose");
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "9 inputs: 0 encoded, 8 from the cache, 1 failed");
    CHECK_STR_CONTAINS(r.out, "zero-shot ensemble");
    run_free(&r);

    /* the head scores with its model, and is refused by another */
    r = RUN("score", "--model", TINY, "--cache", cache, "--head", head, test_tmp("good/boats.jpg"));
    CHECK_EQ_INT(r.code, 0);
    json_t *row = jline(r.out, 0);
    CHECK(!strcmp(json_string_value(json_object_get(row, "head")) ?: "", "taste"));
    CHECK(json_is_number(json_object_get(row, "probability")));
    json_decref(row);
    run_free(&r);
    r = RUN("score", "--model", GELU, "--no-cache", "--head", head, test_tmp("good/boats.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "taste");
    run_free(&r);

    /* eval on the folders: the fixed prompts' accuracy is their labels' */
    r = RUN("eval", "--model", TINY, "--cache", cache, "--good", good, "--bad", bad, "--method", "fixed", "--head", head,
            "--format", "json");
    CHECK_EQ_INT(r.code, 1);
    j = parse(r.out);
    CHECK(!strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "labels"));
    CHECK_NEAR(jnum(j, "cut"), 0.5, 0);
    CHECK_EQ_INT(jnum(j, "images"), 8);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "heads")), 2);
    CHECK(!strcmp(json_string_value(json_object_get(head_n(j, 1), "name")) ?: "", "taste"));
    double fixed_acc = jnum(head_n(j, 0), "accuracy");
    json_decref(j);
    run_free(&r);
    s = RUN("rank", "--model", TINY, "--cache", cache, "--format", "jsonl", good, bad);
    right = 0;
    for (int i = 0; i < 8; i++) {
        json_t *x = jline(s.out, i);
        const char *in = json_string_value(json_object_get(x, "input")), *label = json_string_value(json_object_get(x, "label"));
        if (in && label) right += (strstr(in, "/good/") != NULL) == !strcmp(label, "good");
        json_decref(x);
    }
    CHECK_NEAR(fixed_acc, right / 8.0, 1e-12);
    run_free(&s);
}

int main(void)
{
    snprintf(TINY, sizeof TINY, "%s", fixture("models/tiny-quickgelu"));
    snprintf(GELU, sizeof GELU, "%s", fixture("models/tiny-gelu"));
    test_eval_golden();
    test_eval_laion_real();
    test_train_separable();
    test_train_ratings_kind();
    test_train_images();
    return test_summary();
}
