/*
 * test_rank.c — `aesthete score`, `rank`, `bank` and `cache` as a user calls them, with the
 * tiny fixture model: values against the library recomputed here, every output format,
 * per-input errors, the embedding cache (a second run encodes nothing; a run killed with
 * SIGKILL half-way loses nothing), the real CLIP vectors with the article's hotel bank.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <jansson.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aesthete.h"
#include "pipeline.h"
#include "run.h"
#include "test.h"

static char TINY[4096], GELU[4096], CACHE[4200];

/* regular files in a folder (0 if it does not exist) */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void copy_file(const char *from, const char *to, const void *extra, size_t extra_len)
{
    size_t n;
    char *d = read_file(from, &n);
    FILE *f = fopen(to, "wb");
    if (f && d) {
        fwrite(d, 1, n, f);
        if (extra) fwrite(extra, 1, extra_len, f);
    }
    if (f) fclose(f);
    free(d);
}

/* score of one image computed through the library: the reference for the CLI */
static int lib_score(const char *model, const char *image, ae_method method, ae_score *out, const char **cls)
{
    ae_model *m = NULL;
    ae_model_params mp = ae_model_default_params();
    ae_session *s = NULL;
    ae_session_params sp = ae_session_default_params();
    ae_head *b = NULL;
    ae_image img = {0};
    ae_image_params ip = ae_image_default_params();
    int rc = ae_model_load(model, &mp, &m);
    if (rc == AE_OK) rc = ae_session_new(m, &sp, &s);
    const char *classes[3] = {"dog", "hotel lobby", "rocket"};
    ae_bank_params bp = ae_bank_default_params();
    bp.method = method;
    bp.classes = classes;
    bp.n_classes = 3;
    if (rc == AE_OK) rc = ae_bank_build(s, &bp, NULL, NULL, &b);
    if (rc == AE_OK) rc = ae_image_load(image, &ip, &img);
    float *pix = m ? malloc(sizeof(float) * ae_model_pixels_size(m)) : NULL, emb[64];
    if (rc == AE_OK) rc = ae_preprocess(m, &img, pix, NULL);
    if (rc == AE_OK) rc = ae_encode_images(s, pix, 1, emb);
    if (rc == AE_OK) rc = ae_head_score(b, emb, 1, out);
    if (rc == AE_OK && cls) *cls = out->class_index >= 0 ? classes[out->class_index] : NULL;
    free(pix);
    ae_image_free(&img);
    ae_head_free(b);
    ae_session_free(s);
    ae_model_free(m);
    return rc;
}

static void test_score_values(void)
{
    const char *img = fixture("images/photo_rocket.jpg");
    for (int method = AE_METHOD_FIXED; method <= AE_METHOD_ENSEMBLE; method++) {
        ae_score want;
        const char *cls = NULL;
        CHECK_EQ_INT(lib_score(TINY, img, (ae_method)method, &want, &cls), AE_OK);
        char classes[4200];
        snprintf(classes, sizeof classes, "%s", test_tmp("three.txt"));
        FILE *f = fopen(classes, "w");
        if (f) fputs("dog\nhotel lobby\nrocket\n", f), fclose(f);
        run_result r = RUN("score", "--model", TINY, "--cache", CACHE, "--method", ae_method_name((ae_method)method),
                           "--classes", method == AE_METHOD_FIXED ? "" : classes, img);
        if (method == AE_METHOD_FIXED) {
            CHECK_EQ_INT(r.code, 2); /* --classes with fixed is a usage error */
            CHECK_STR_CONTAINS(r.err, "--classes is used by the context and ensemble methods only");
            run_free(&r);
            r = RUN("score", "--model", TINY, "--cache", CACHE, img);
        }
        CHECK_EQ_INT(r.code, 0);
        json_t *j = jline(r.out, 0);
        CHECK_NEAR(json_number_value(json_object_get(j, "score")), want.score, 1e-3);
        CHECK_NEAR(json_number_value(json_object_get(j, "probability")), want.probability, 1e-6);
        CHECK(!strcmp(json_string_value(json_object_get(j, "label")), want.good ? "good" : "bad"));
        CHECK(!strcmp(json_string_value(json_object_get(j, "method")), ae_method_name((ae_method)method)));
        if (cls) CHECK(json_string_value(json_object_get(j, "class")) && !strcmp(json_string_value(json_object_get(j, "class")), cls));
        else CHECK(json_is_null(json_object_get(j, "class")));
        json_decref(j);
        run_free(&r);
    }
}

static void test_formats(void)
{
    const char *a = fixture("images/photo_rocket.jpg"), *b = fixture("images/photo_astronaut.png");
    run_result r = RUN("score", "--model", TINY, "--cache", CACHE, "--format", "csv", a, b);
    CHECK_EQ_INT(r.code, 0);
    CHECK(r.out && !strncmp(r.out, "score,probability,label,class,input\n", 36));
    CHECK_EQ_INT(count_lines(r.out), 3);
    CHECK_STR_CONTAINS(r.out, "photo_rocket.jpg\n");
    run_free(&r);
    r = RUN("score", "--model", TINY, "--cache", CACHE, "--format", "tsv", a);
    CHECK(r.out && !strncmp(r.out, "score\tprobability\tlabel\tclass\tinput\n", 36));
    run_free(&r);
    r = RUN("score", "--model", TINY, "--cache", CACHE, "--format", "json", a, b);
    json_t *arr = json_loads(r.out ? r.out : "", 0, NULL);
    CHECK(json_is_array(arr) && json_array_size(arr) == 2);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(arr, 1), "input")), b));
    json_decref(arr);
    run_free(&r);
    r = RUN("score", "--model", TINY, "--cache", CACHE, "--format", "table", a);
    CHECK_STR_CONTAINS(r.out, "score  probability  label");
    CHECK_STR_CONTAINS(r.out, "photo_rocket.jpg");
    run_free(&r);
    r = RUN("score", "--model", TINY, "--format", "xml", a);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--format: 'xml' is not table, csv, tsv, jsonl or json");
    run_free(&r);
    r = RUN("score", "--model", TINY, "--bank", "x.bank", "--method", "context", a);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--head (--bank) already fixes the method");
    run_free(&r);
}

static void test_rank_and_cache(void)
{
    char dir[4200], sub[4300], CACHE[4200]; /* a cache of its own: counts below are exact */
    snprintf(CACHE, sizeof CACHE, "%s", test_tmp("rank.sqlite3"));
    snprintf(dir, sizeof dir, "%s", test_tmp("photos"));
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(dir, 0755);
    mkdir(sub, 0755);
    /* images named without extensions, a text file, and one image in a subfolder */
    copy_file(fixture("images/photo_rocket.jpg"), test_tmp("photos/IMG_0001"), NULL, 0);
    copy_file(fixture("images/photo_astronaut.png"), test_tmp("photos/b.png"), NULL, 0);
    copy_file(fixture("images/photo_coffee.gif"), test_tmp("photos/c.gif"), NULL, 0);
    copy_file(fixture("images/photo_garden_lossy.webp"), test_tmp("photos/sub/d.webp"), NULL, 0);
    copy_file(fixture("images/index.json"), test_tmp("photos/notes.txt"), NULL, 0);
    run_result r = RUN("rank", "--model", TINY, "--cache", CACHE, "--verbose", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 3); /* not recursive, notes.txt is no image */
    double prev = 1e9;
    for (int i = 0; i < 3; i++) {
        json_t *j = jline(r.out, i);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "rank")), i + 1);
        double s = json_number_value(json_object_get(j, "score"));
        CHECK(s <= prev);
        prev = s;
        json_decref(j);
    }
    CHECK_STR_CONTAINS(r.err, "3 inputs: 3 encoded, 0 from the cache, 0 failed");
    run_free(&r);

    r = RUN("rank", "--model", TINY, "--cache", CACHE, "--verbose", "-r", dir, "--format", "tsv");
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 5);
    CHECK_STR_CONTAINS(r.out, "rank\tscore\tprobability\tlabel\tclass\tinput\n1\t");
    CHECK_STR_CONTAINS(r.out, "sub/d.webp");
    CHECK_STR_CONTAINS(r.err, "4 inputs: 1 encoded, 3 from the cache, 0 failed");
    run_free(&r);

    /* another method re-runs no vision tower */
    r = RUN("rank", "--model", TINY, "--cache", CACHE, "--verbose", "-r", "--method", "ensemble", dir, "--top", "2");
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 2);
    CHECK_STR_CONTAINS(r.err, "4 inputs: 0 encoded, 4 from the cache, 0 failed");
    run_free(&r);

    r = RUN("cache", "stats", "--cache", CACHE);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "entries    ");
    run_free(&r);

    /* cache clear never removes a file that is not an SQLite database */
    const char *notes = test_tmp("notes.md");
    copy_file(fixture("images/index.json"), notes, NULL, 0);
    r = RUN("cache", "clear", "--cache", notes);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "not an SQLite database; not removing");
    CHECK(access(notes, F_OK) == 0);
    run_free(&r);
    /* ... but a damaged one is moved aside, a new one started, and clear removes the old */
    const char *broken = test_tmp("broken.sqlite3");
    FILE *bf = fopen(broken, "wb");
    if (bf) {
        fwrite("SQLite format 3\0", 1, 16, bf);
        for (int i = 0; i < 4096; i++) fputc(0xA5, bf);
        fclose(bf);
    }
    r = RUN("cache", "clear", "--cache", broken);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.err, "the embedding cache was damaged");
    CHECK_STR_CONTAINS(r.out, "removed 1 damaged cache moved aside earlier");
    run_free(&r);
    r = RUN("cache", "stats", "--cache", broken);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "entries    0");
    run_free(&r);

    /* --min-score keeps the best */
    r = RUN("rank", "--model", TINY, "--cache", CACHE, "-r", dir, "--min-score", "1e9");
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 0);
    run_free(&r);

    /* a list on stdin with a missing file, an unreachable URL and a corrupt image */
    copy_file(fixture("images/photo_rocket.jpg"), test_tmp("trunc.jpg"), NULL, 0);
    if (truncate(test_tmp("trunc.jpg"), 5000) != 0) CHECK(0);
    char list[4200];
    snprintf(list, sizeof list, "%s", test_tmp("list.txt"));
    FILE *f = fopen(list, "w");
    if (f) {
        fprintf(f, "# photos\n%s\n\n%s\nhttp://127.0.0.1:9/none.jpg\r\n%s\n", fixture("images/photo_rocket.jpg"),
                test_tmp("nope.jpg"), test_tmp("trunc.jpg"));
        fclose(f);
    }
    r = run_cli(NULL, list, (const char *const[]){"rank", "--model", TINY, "--cache", CACHE, "-", NULL});
    CHECK_EQ_INT(r.code, 1);
    CHECK_EQ_INT(count_lines(r.out), 4);
    json_t *j0 = jline(r.out, 0), *j1 = jline(r.out, 1), *j2 = jline(r.out, 2), *j3 = jline(r.out, 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(j0, "rank")), 1);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j1, "error")), "nope.jpg");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j2, "error")), "http://127.0.0.1:9/none.jpg");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j3, "error")), "trunc.jpg");
    CHECK_EQ_INT(count_lines(r.err), 3);
    json_decref(j0), json_decref(j1), json_decref(j2), json_decref(j3);
    run_free(&r);

    /* an empty folder */
    mkdir(test_tmp("empty"), 0755);
    r = RUN("rank", "--model", TINY, "--cache", CACHE, test_tmp("empty"));
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "no images found in");
    run_free(&r);
    r = RUN("rank", "--model", TINY, test_tmp("does-not-exist")); /* an input that failed, as in score */
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "does-not-exist: No such file or directory");
    run_free(&r);
}

static int cache_entries(const char *cache)
{
    run_result r = RUN("cache", "stats", "--cache", cache);
    const char *p = r.out ? strstr(r.out, "entries") : NULL;
    int n = p ? atoi(p + 7) : -1;
    run_free(&r);
    return n;
}

/* A run killed with SIGKILL half-way: the cache stays valid, the next run computes only
 * what was not stored, and nothing is lost. */
static void test_kill_resume(void)
{
    char dir[4200], cache[4200];
    snprintf(dir, sizeof dir, "%s", test_tmp("many"));
    snprintf(cache, sizeof cache, "%s", test_tmp("kill.sqlite3"));
    mkdir(dir, 0755);
    const int B = 16, N = 96; /* the CLI's batch (ae_scorer_default_params); six batches */
    for (int i = 0; i < N; i++) {
        char name[64], tag[16];
        snprintf(name, sizeof name, "many/p%03d.jpg", i);
        snprintf(tag, sizeof tag, "%d", i); /* bytes after the JPEG end: a new file, same pixels */
        copy_file(fixture("images/photo_landscape.jpg"), test_tmp(name), tag, strlen(tag));
    }
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1), dup2(devnull, 2);
        const char *cli = getenv("AE_CLI") ? getenv("AE_CLI") : AE_CLI_PATH;
        execl(cli, cli, "rank", "--model", TINY, "--cache", cache, "--threads", "1", dir, (char *)NULL);
        _exit(127);
    }
    int entries = 0;
    for (int t = 0; t < 600 && entries < B; t++) { /* wait for the first batch, 60 s at most */
        usleep(100000);
        entries = cache_entries(cache);
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int after_kill = cache_entries(cache);
    printf("killed after %d of %d images were cached\n", after_kill, N);
    CHECK_MSG(after_kill >= B && after_kill % B == 0, "%d cached: whole batches of %d", after_kill, B);
    run_result r = RUN("rank", "--model", TINY, "--cache", cache, "--verbose", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), N);
    char want[128];
    snprintf(want, sizeof want, "%d inputs: %d encoded, %d from the cache, 0 failed", N, N - after_kill, after_kill);
    CHECK_STR_CONTAINS(r.err, want);
    run_free(&r);
    CHECK_EQ_INT(cache_entries(cache), N);
}

/* Hostile inputs: a FIFO among the images (refused, not waited on), a list piped in
 * (`<(find ...)`, read whole, not sniffed), a lying .npy, a raw centroid of unknown size. */
static void test_hostile_inputs(void)
{
    FILE *f;
    const char *a = fixture("images/photo_rocket.jpg");
    const char *fifo = test_tmp("in.fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    char pre[64];
    snprintf(pre, sizeof pre, "timeout 60");
    run_result r = run_cli(pre, NULL, (const char *const[]){"score", "--model", TINY, "--no-cache", fifo, a, NULL});
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "in.fifo: not a regular file");
    CHECK_EQ_INT(count_lines(r.out), 2);
    CHECK_STR_CONTAINS(r.out, "photo_rocket.jpg");
    run_free(&r);

    /* names with a tab, a newline, a backslash: TSV escapes them; errors stay one line */
    mkdir(test_tmp("odd"), 0700);
    copy_file(a, test_tmp("odd/a\tb\nc\\d.jpg"), NULL, 0);
    r = RUN("rank", "--model", TINY, "--no-cache", "--format", "tsv", test_tmp("odd"));
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "/odd/a\\tb\\nc\\\\d.jpg\n");
    CHECK_EQ_INT(count_lines(r.out), 2);
    run_free(&r);
    r = RUN("rank", "--model", TINY, "--no-cache", "--format", "table", test_tmp("odd"));
    CHECK_STR_CONTAINS(r.out, "/odd/a?b?c\\d.jpg\n");
    run_free(&r);
    r = RUN("score", "--model", TINY, "--no-cache", "", "no\nsuch.jpg", a);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "aesthete: \"\": an empty file name\n");
    CHECK_STR_CONTAINS(r.err, "aesthete: no\\nsuch.jpg: No such file or directory\n");
    CHECK_EQ_INT(count_lines(r.err), 2);
    CHECK_EQ_INT(count_lines(r.out), 3);
    run_free(&r);

    /* the bank kept in the cache is keyed by every option in full: a template longer than
     * any fixed buffer still tells two class lists apart */
    char *longt = malloc(9000);
    strcpy(longt, "{class} {adjective}");
    for (size_t i = strlen(longt); i < 8998; i++) longt[i] = ' ';
    longt[8998] = 'x', longt[8999] = 0;
    const char *ca = test_tmp("dog.txt"), *cb = test_tmp("cat.txt"), *bc = test_tmp("bankcache.sqlite3");
    if ((f = fopen(ca, "w"))) {
        fputs("dog\n", f);
        fclose(f);
    }
    if ((f = fopen(cb, "w"))) {
        fputs("cat\n", f);
        fclose(f);
    }
    r = RUN("score", "--model", TINY, "--cache", bc, "--method", "context", "--template", longt, "--classes", ca, a);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "\"class\": \"dog\"");
    run_free(&r);
    r = RUN("score", "--model", TINY, "--cache", bc, "--method", "context", "--template", longt, "--classes", cb, a);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "\"class\": \"cat\"");
    run_free(&r);
    free(longt);
    /* a class list through a pipe is read once, by the class list reader (not by the cache) */
    const char *cfifo = test_tmp("classes.fifo");
    CHECK(mkfifo(cfifo, 0600) == 0);
    char feed[9000];
    snprintf(feed, sizeof feed, "(cat '%s' > '%s' &); timeout 60", cb, cfifo);
    r = run_cli(feed, NULL, (const char *const[]){"score", "--model", TINY, "--cache", bc, "--method", "context",
                                                  "--classes", cfifo, a, NULL});
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "\"class\": \"cat\"");
    run_free(&r);
    /* --cache with a bare file name keeps its banks beside it */
    char incwd[4400];
    snprintf(incwd, sizeof incwd, "cd '%s' && timeout 60", test_tmpdir());
    r = run_cli(incwd, NULL, (const char *const[]){"score", "--model", TINY, "--cache", "here.sqlite3", a, NULL});
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    struct stat bst;
    CHECK(stat(test_tmp("banks"), &bst) == 0 && S_ISDIR(bst.st_mode));

    /* a list through a pipe (as `<(find ...)` gives): every line kept */
    const char *list = test_tmp("list.txt"), *lfifo = test_tmp("list.fifo");
    if ((f = fopen(list, "w"))) {
        fprintf(f, "%s\n%s\n", a, fixture("images/photo_astronaut.png"));
        fclose(f);
    }
    CHECK(mkfifo(lfifo, 0600) == 0);
    char cat[9000];
    snprintf(cat, sizeof cat, "(cat '%s' > '%s' &); timeout 60", list, lfifo);
    r = run_cli(cat, NULL, (const char *const[]){"rank", "--model", TINY, "--no-cache", lfifo, NULL});
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 2);
    CHECK_STR_CONTAINS(r.out, "photo_rocket.jpg");
    CHECK_STR_CONTAINS(r.out, "photo_astronaut.png");
    run_free(&r);

    /* surrounding blanks are trimmed, not taken for a NUL byte; a real NUL skips the line */
    const char *blanks = test_tmp("blanks.txt");
    if ((f = fopen(blanks, "wb"))) {
        fprintf(f, "  %s \t\n", a);
        fwrite("x\0y.jpg\n", 1, 8, f);
        fclose(f);
    }
    r = RUN("rank", "--model", TINY, "--no-cache", blanks);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 1);
    CHECK_STR_CONTAINS(r.out, "photo_rocket.jpg");
    CHECK_STR_CONTAINS(r.err, "blanks.txt: line 2: NUL byte in the line (skipped)");
    CHECK_EQ_INT(count_lines(r.err), 1);
    run_free(&r);

    /* bank import: a damaged .npy is an error, never taken for raw floats */
    const char *npy = test_tmp("bad.npy");
    unsigned char b[64 + 16];
    memset(b, ' ', sizeof b);
    memcpy(b, "\x93NUMPY\x01\x00\x36\x00{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", 64);
    b[63] = '\n';
    if ((f = fopen(npy, "wb"))) {
        fwrite(b, 1, sizeof b, f);
        fclose(f);
    }
    r = RUN("bank", "import", "--positive", npy, "--negative", npy, "-o", test_tmp("npy.bank"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "bad.npy: dtype '<i4' is not supported");
    run_free(&r);
    /* a raw centroid whose size is no whole number of floats */
    const char *raw = test_tmp("odd.f32");
    if ((f = fopen(raw, "wb"))) {
        fwrite("abcdefg", 1, 7, f);
        fclose(f);
    }
    r = RUN("bank", "import", "--positive", raw, "--negative", raw, "-o", test_tmp("odd.bank"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "odd.f32: 7 bytes is not a whole number of float32 values");
    CHECK_EQ_INT(count_lines(r.err), 1);
    run_free(&r);
}

static void test_banks_cli(void)
{
    /* the article's hotel centroids, imported, scoring the real CLIP vectors */
    const char *hotel = test_tmp("hotel.bank");
    run_result r = RUN("bank", "import", "--positive", fixture("seed-hotel-bank/positive.f32"), "--negative",
                       fixture("seed-hotel-bank/negative.f32"), "--model-id", "openai/clip-vit-base-patch32", "-o", hotel);
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    r = RUN("bank", "info", hotel);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "method       ensemble");
    CHECK_STR_CONTAINS(r.out, "dimension    512");
    CHECK_STR_CONTAINS(r.out, "openai/clip-vit-base-patch32");
    run_free(&r);
    char *js = read_file(fixture("real/expected-scores.json"), NULL);
    json_t *want = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    r = RUN("score", "--bank", hotel, "--embeddings", fixture("real/laion-vit-b-32-rating-embeddings.f32"));
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 10);
    run_result l = RUN("score", "--method", "laion", "--embeddings", fixture("real/laion-vit-b-32-rating-embeddings.f32"));
    CHECK_EQ_INT(l.code, 0);
    for (int i = 0; i < 10; i++) {
        json_t *j = jline(r.out, i), *k = jline(l.out, i), *e = json_array_get(want, i);
        CHECK_NEAR(json_number_value(json_object_get(j, "score")), json_real_value(json_object_get(e, "seed_score")), 1e-3);
        CHECK_NEAR(json_number_value(json_object_get(k, "score")), json_real_value(json_object_get(e, "laion_v1_b32")), 1e-4);
        CHECK(json_is_null(json_object_get(k, "probability")));
        char name[64];
        snprintf(name, sizeof name, "laion-vit-b-32-rating-embeddings.f32#%d", i);
        CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "input")), name);
        json_decref(j), json_decref(k);
    }
    run_free(&r), run_free(&l);
    json_decref(want);

    /* LAION V2 on the real ViT-L/14 rating vectors, as expected-l14-scores.json */
    char *js14 = read_file(fixture("real/expected-l14-scores.json"), NULL);
    json_t *want14 = js14 ? json_loads(js14, 0, NULL) : NULL;
    free(js14);
    r = RUN("score", "--method", "laion-v2", "--embeddings", fixture("real/laion-vit-l-14-rating-embeddings.f32"));
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 10);
    for (int i = 0; i < 10 && want14; i++) {
        json_t *j = jline(r.out, i), *e = json_array_get(json_object_get(want14, "rows"), i);
        CHECK_NEAR(json_number_value(json_object_get(j, "score")),
                   json_real_value(json_object_get(e, "laion_v2_linearMSE")), 1e-5);
        CHECK(!strcmp(json_string_value(json_object_get(j, "method")), "laion-v2"));
        CHECK(!strcmp(json_string_value(json_object_get(j, "head")), "laion-v2"));
        json_decref(j);
    }
    run_free(&r);
    json_decref(want14);
    /* ... and refused on a model it was not made for, naming both */
    r = RUN("score", "--model", TINY, "--no-cache", "--method", "laion-v2", fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "made for openai/clip-vit-large-patch14 (768-dimensional embeddings) but the model "
                              "tiny-quickgelu has 40");
    run_free(&r);
    r = RUN("score", "--method", "head", "--embeddings", fixture("real/laion-vit-l-14-rating-embeddings.f32"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--method: 'head' is not fixed, context, ensemble, laion or laion-v2");
    run_free(&r);

    /* the article's own pickled centroids import as they are, equal to the .f32 copies */
    const char *pkl = test_tmp("hotel-pkl.bank");
    r = RUN("bank", "import", "--positive", fixture("seed-hotel-bank/hotel_positive_prompt.pkl"), "--negative",
            fixture("seed-hotel-bank/hotel_negative_prompt.pkl"), "--model-id", "openai/clip-vit-base-patch32", "-o", pkl);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "ensemble bank, dimension 512");
    run_free(&r);
    r = RUN("score", "--bank", pkl, "--embeddings", fixture("real/laion-vit-b-32-rating-embeddings.f32"));
    run_result f32 = RUN("score", "--bank", hotel, "--embeddings", fixture("real/laion-vit-b-32-rating-embeddings.f32"));
    CHECK(r.code == 0 && f32.code == 0 && r.out && f32.out && !strcmp(r.out, f32.out));
    run_free(&r), run_free(&f32);

    /* head import: the published V2 checkpoint, checked against the model it names */
    const char *v2 = test_tmp("v2.head");
    r = RUN("head", "import", fixture("real/laion-v2/ava+logos-l14-reluMSE.pth"), "--model-id",
            "openai/clip-vit-large-patch14", "--cut", "5.5", "-o", v2);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "mlp head \"ava+logos-l14-reluMSE\", dimension 768, 5 layers");
    run_free(&r);
    r = RUN("head", "info", v2);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "kind         mlp");
    CHECK_STR_CONTAINS(r.out, "label        good iff score >= 5.5");
    CHECK_STR_CONTAINS(r.out, "model        openai/clip-vit-large-patch14");
    run_free(&r);
    r = RUN("score", "--head", v2, "--embeddings", fixture("real/laion-vit-l-14-rating-embeddings.f32"));
    CHECK_EQ_INT(r.code, 0);
    char *js14b = read_file(fixture("real/expected-l14-scores.json"), NULL);
    json_t *w14 = js14b ? json_loads(js14b, 0, NULL) : NULL;
    free(js14b);
    for (int i = 0; i < 10 && w14; i++) {
        json_t *j = jline(r.out, i), *e = json_array_get(json_object_get(w14, "rows"), i);
        double want = json_real_value(json_object_get(e, "laion_v2_reluMSE"));
        CHECK_NEAR(json_number_value(json_object_get(j, "score")), want, 1e-5);
        CHECK(!strcmp(json_string_value(json_object_get(j, "label")), want >= 5.5 ? "good" : "bad"));
        json_decref(j);
    }
    json_decref(w14);
    run_free(&r);
    r = RUN("score", "--model", TINY, "--no-cache", "--head", v2, fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "the head ava+logos-l14-reluMSE was made for openai/clip-vit-large-patch14");
    run_free(&r);
    r = RUN("head", "import", fixture("real/laion-v2/ava+logos-l14-reluMSE.pth"), "--model", TINY, "-o", v2);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "(768-dimensional embeddings) but the model tiny-quickgelu has 40");
    run_free(&r);
    r = RUN("head", "import", fixture("seed-hotel-bank/hotel_positive_prompt.pkl"), "-o", v2);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "hotel_positive_prompt.pkl");
    run_free(&r);
    r = RUN("head", "import", fixture("real/laion-v2/ava+logos-l14-reluMSE.pth"), "--relu", "maybe", "-o", v2);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--relu: 'maybe' is not auto, yes or no");
    run_free(&r);

    /* options resolved before the kept bank is looked up: the default method and the same
     * method spelt out share one bank file; other adjectives make a second */
    const char *kc = test_tmp("keep/cache.sqlite3"), *photo = fixture("images/photo_rocket.jpg");
    char banks_dir[4200];
    snprintf(banks_dir, sizeof banks_dir, "%s/keep/banks", test_tmpdir());
    const char *spellings[][8] = {{"--model", TINY, NULL},
                                  {"--model", TINY, "--method", "fixed", NULL},
                                  {"--model", TINY, "--method", "fixed", "--positive", "outstanding", NULL},
                                  {"--model", TINY, "--template", "a {adjective} picture", NULL}};
    char first_out[4096] = "";
    for (int k = 0; k < 4; k++) {
        const char *args[16] = {"score", "--cache", kc, "--format", "csv"};
        int n = 5;
        for (int j = 0; spellings[k][j]; j++) args[n++] = spellings[k][j];
        args[n++] = photo;
        args[n] = NULL;
        r = run_cli(NULL, NULL, args);
        CHECK_EQ_INT(r.code, 0);
        if (k == 0) snprintf(first_out, sizeof first_out, "%s", r.out);
        else CHECK(!strcmp(r.out, first_out));
        run_free(&r);
        CHECK_EQ_INT(count_files(banks_dir), 1);
    }
    r = RUN("score", "--cache", kc, "--model", TINY, "--negative", "bad", photo);
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    CHECK_EQ_INT(count_files(banks_dir), 2);

    /* a context bank from the shipped hotel list; info and scores carry its classes */
    char classes[4200];
    snprintf(classes, sizeof classes, "%s/examples/hotel_classes.txt", AE_SOURCE_DIR);
    const char *ctx = test_tmp("hotel-ctx.bank");
    r = RUN("bank", "build", "--model", TINY, "--method", "context", "--classes", classes, "-o", ctx);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "context bank");
    run_free(&r);
    r = RUN("score", "--model", TINY, "--cache", CACHE, "--bank", ctx, fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 0);
    json_t *j = jline(r.out, 0);
    const char *cls = json_string_value(json_object_get(j, "class"));
    size_t n;
    char *list = read_file(classes, &n);
    char needle[300];
    snprintf(needle, sizeof needle, "%s\n", cls ? cls : "(none)");
    CHECK_STR_CONTAINS(list, needle);
    free(list);
    json_decref(j);
    run_free(&r);
    /* a bank of another model is refused */
    r = RUN("score", "--model", GELU, "--bank", ctx, fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "(40-dimensional embeddings) but the model tiny-gelu has 24");
    run_free(&r);
    /* a damaged bank file */
    const char *bad = test_tmp("bad.bank");
    copy_file(ctx, bad, NULL, 0);
    if (truncate(bad, 1000) != 0) CHECK(0);
    r = RUN("score", "--model", TINY, "--bank", bad, fixture("images/photo_rocket.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "bad.bank");
    run_free(&r);
}

/* the library's pipeline: a NULL among the inputs is one failed row, never a crash */
static void test_pipeline_null_input(void)
{
    ae_model *m = NULL;
    ae_model_params mp = ae_model_default_params();
    ae_session *s = NULL;
    ae_session_params sp = ae_session_default_params();
    ae_head *b = NULL;
    CHECK_EQ_INT(ae_model_load(TINY, &mp, &m), AE_OK);
    CHECK_EQ_INT(ae_session_new(m, &sp, &s), AE_OK);
    ae_bank_params bp = ae_bank_default_params();
    CHECK_EQ_INT(ae_bank_build(s, &bp, NULL, NULL, &b), AE_OK);
    const char *inputs[3] = {fixture("images/photo_rocket.jpg"), NULL, test_tmp("absent.jpg")};
    ae_scored rows[3];
    CHECK_EQ_INT(ae_score_inputs(s, b, inputs, 3, NULL, rows, NULL, NULL, NULL), 2);
    CHECK_EQ_INT(rows[0].rc, AE_OK);
    CHECK_EQ_INT(rows[1].rc, AE_ERR_INVALID);
    CHECK_STR_CONTAINS(rows[1].error, "input is NULL");
    CHECK(rows[1].input && !rows[1].input[0]);
    CHECK_STR_CONTAINS(rows[2].error, "absent.jpg");
    ae_head_free(b);
    ae_session_free(s);
    ae_model_free(m);
}

int main(void)
{
    snprintf(TINY, sizeof TINY, "%s", fixture("models/tiny-quickgelu"));
    snprintf(GELU, sizeof GELU, "%s", fixture("models/tiny-gelu"));
    snprintf(CACHE, sizeof CACHE, "%s/cache.sqlite3", test_tmpdir());
    test_score_values();
    test_formats();
    test_rank_and_cache();
    test_banks_cli();
    test_hostile_inputs();
    test_pipeline_null_input();
    test_kill_resume();
    return test_summary();
}
