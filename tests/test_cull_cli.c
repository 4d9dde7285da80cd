/*
 * test_cull_cli.c — `aesthete cull` as a user runs it, on a set made from the fixture photos
 * with real tools (tests/data/cull/make_set.sh: ImageMagick re-encodes, a resize, a 5% crop,
 * brightness +-10%, a Gaussian blur, JPEG -> PNG and WebP, exiftool metadata and capture
 * times).
 *
 * With the tiny model (embeddings without visual meaning): exact groups (the same bytes, the
 * same pixels with other metadata), every output format, failed inputs, the cache holding the
 * facts, XMP sidecars read back by exiv2 and exiftool, moving rejects.
 * With the full-size random ViT-B/32 of the recipe: near duplicates and bursts end to end.
 * Its random embeddings keep every re-encode, resize, crop, blur, PNG and WebP copy at cosine
 * >= 0.968 to the original while distinct photos stay <= 0.942, so --similar 0.96 separates
 * them; a +-10% brightness change moves the landscape to 0.90 / 0.94 (a random network is no
 * judge of brightness), so those two are only checked not to join another photo. The burst
 * frames (crops walking across one photo) are >= 0.98 alike: bursts are run with
 * --similar 0.9995 so that only the capture times and cameras can join them.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b32_recipe.h"
#include "run.h"
#include "test.h"

static char SET[4200], CACHE[4200], TINY[4096];

/* output of a shell command, NUL-terminated (caller frees) */
static char *sh_out(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t n = 0, cap = 1 << 16;
    char *s = malloc(cap);
    for (size_t k; s && (k = fread(s + n, 1, cap - 1 - n, p)) > 0;) {
        n += k;
        if (n + 1 >= cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) break;
            s = t;
        }
    }
    pclose(p);
    if (s) s[n] = 0;
    return s;
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* the JSON Lines rows of a cull run, by file name */
typedef struct rows {
    int n;
    json_t *row[128];
    const char *name[128];
} rows;

static void rows_parse(rows *r, const char *out)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 128; k++) {
        json_t *j = jline(out, k);
        if (!j) break;
        r->row[r->n] = j;
        r->name[r->n++] = base(json_string_value(json_object_get(j, "input")));
    }
}

static void rows_free(rows *r)
{
    for (int i = 0; i < r->n; i++) json_decref(r->row[i]);
}

static json_t *find(const rows *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0) return r->row[i];
    return NULL;
}

static const char *str(const rows *r, const char *name, const char *key)
{
    json_t *j = find(r, name);
    const char *s = j ? json_string_value(json_object_get(j, key)) : NULL;
    return s ? s : "(null)";
}

static int group(const rows *r, const char *name)
{
    json_t *j = find(r, name);
    json_t *g = j ? json_object_get(j, "group") : NULL;
    return g && json_is_integer(g) ? (int)json_integer_value(g) : -1;
}

static void write_list(const char *path, const char *const *names)
{
    FILE *f = fopen(path, "w");
    for (int i = 0; f && names[i]; i++) fprintf(f, "%s/%s\n", SET, names[i]);
    if (f) fclose(f);
}

/* ---- tiny model: exact groups, formats, errors, cache ------------------------------------ */

static void test_exact_and_formats(void)
{
    const char *names[] = {"boats.jpg", "boats_copy.jpg", "boats_meta.jpg", "rocket.jpg", "ladybird.jpg",
                           "broken.jpg", NULL};
    char list[4200];
    snprintf(list, sizeof list, "%s/exact.txt", test_tmpdir());
    write_list(list, names);
    run_result r = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--burst-gap", "0",
                       "--format", "jsonl", "--verbose", list);
    CHECK_EQ_INT(r.code, 1); /* broken.jpg failed */
    CHECK_STR_CONTAINS(r.err, "broken.jpg");
    rows x;
    rows_parse(&x, r.out);
    CHECK_EQ_INT(x.n, 6); /* five photos + the error row */
    CHECK_EQ_INT(group(&x, "boats.jpg"), 1);
    CHECK_EQ_INT(group(&x, "boats_copy.jpg"), 1);
    CHECK_EQ_INT(group(&x, "boats_meta.jpg"), 1);
    CHECK(!strcmp(str(&x, "boats.jpg", "kind"), "exact"));
    CHECK(!strcmp(str(&x, "boats.jpg", "role"), "keep")); /* equal scores: the first input */
    CHECK(!strcmp(str(&x, "boats_copy.jpg", "match"), "bytes"));
    CHECK(!strcmp(str(&x, "boats_meta.jpg", "match"), "pixels"));
    CHECK_STR_CONTAINS(str(&x, "boats_meta.jpg", "reason"), "the same pixels as boats.jpg (other metadata)");
    CHECK_STR_CONTAINS(str(&x, "boats_copy.jpg", "reason"), "the same bytes as boats.jpg");
    CHECK_STR_CONTAINS(str(&x, "boats_copy.jpg", "keeper"), "/boats.jpg");
    CHECK_EQ_INT(group(&x, "rocket.jpg"), -1);
    CHECK(!strcmp(str(&x, "rocket.jpg", "role"), "single"));
    CHECK(!strcmp(str(&x, "ladybird.jpg", "kind"), "single"));
    CHECK(json_is_null(json_object_get(find(&x, "rocket.jpg"), "similarity"))); /* no keeper to be like */
    CHECK(json_number_value(json_object_get(find(&x, "boats_copy.jpg"), "similarity")) > 0.9999);
    CHECK_STR_CONTAINS(str(&x, "broken.jpg", "error"), "broken.jpg");
    /* facts: sharpness, exposure, size of the displayed image */
    json_t *b = find(&x, "boats.jpg");
    double sharp1 = b ? json_number_value(json_object_get(b, "sharpness")) : -1;
    CHECK(sharp1 > 0);
    CHECK(b && json_integer_value(json_object_get(b, "width")) > 0);
    json_t *hi = b ? json_object_get(b, "highlights") : NULL;
    CHECK(hi && json_number_value(hi) >= 0 && json_number_value(hi) <= 1);
    CHECK_STR_CONTAINS(r.err, "5 encoded");
    rows_free(&x);
    run_free(&r);

    /* the second run takes embeddings and facts from the cache and says the same */
    run_result r2 = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--burst-gap", "0",
                        "--format", "jsonl", "--verbose", list);
    CHECK_EQ_INT(r2.code, 1);
    CHECK_STR_CONTAINS(r2.err, "0 encoded, 5 from the cache");
    rows y;
    rows_parse(&y, r2.out);
    CHECK_EQ_INT(y.n, 6);
    CHECK(!strcmp(str(&y, "boats_meta.jpg", "match"), "pixels"));
    json_t *b2 = find(&y, "boats.jpg");
    CHECK(b2 && json_number_value(json_object_get(b2, "sharpness")) == sharp1);
    rows_free(&y);
    run_free(&r2);

    /* table: group by group, keeper first, then singles; csv/tsv headers; --rejects; --summary */
    run_result t = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--burst-gap", "0",
                       "--format", "table", list);
    const char *k = strstr(t.out, "boats.jpg\n"), *c = strstr(t.out, "boats_copy.jpg"), *s = strstr(t.out, "rocket.jpg");
    CHECK(k && c && s && k < c && c < s);
    CHECK_STR_CONTAINS(t.out, "group  kind    role");
    CHECK_STR_CONTAINS(t.out, "reject");
    run_free(&t);
    run_result csv = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--format", "csv", list);
    CHECK(!strncmp(csv.out, "group,kind,role,match,score,similarity,sharpness,rel_sharpness,highlights,shadows,"
                            "noise,width,height,time,camera,keeper,reason,input\n", 109));
    CHECK_EQ_INT(count_lines(csv.out), 6); /* header + 5 photos; the error goes to stderr */
    run_free(&csv);
    run_result rej = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--format", "tsv",
                         "--rejects", list);
    CHECK_EQ_INT(count_lines(rej.out), 3);
    CHECK_STR_CONTAINS(rej.out, "boats_copy.jpg");
    CHECK(!strstr(rej.out, "rocket.jpg"));
    run_free(&rej);
    run_result sum = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--burst-gap", "0",
                         "--format", "table", "--summary", list);
    CHECK_STR_CONTAINS(sum.out, "5 images: 1 groups (1 exact, 0 near, 0 burst), 1 keepers, 2 rejects, 2 singles, 1 failed");
    run_free(&sum);
    run_result js = RUN("cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--format", "json",
                        "--summary", list);
    json_t *j = json_loads(js.out, 0, NULL);
    CHECK(j && json_integer_value(json_object_get(j, "rejects")) == 2 &&
          json_integer_value(json_object_get(j, "exact")) == 1);
    json_decref(j);
    run_free(&js);
}

static void test_usage_errors(void)
{
    struct {
        const char *opt, *val, *msg;
    } bad[] = {
        {"--similar", "1.5", "--similar: 1.5 is not a cosine in (0, 1]"},
        {"--burst-gap", "-1", "--burst-gap: -1 is not 0 to 86400 seconds"},
        {"--keep-by", "largest", "--keep-by: 'largest' is not score, sharpness, size or newest"},
        {"--time-from", "gps", "--time-from: 'gps' is not exif or mtime"},
        {"--stars", "1,2,3", "--stars: '1,2,3' is not four increasing numbers A,B,C,D"},
        {"--xmp-name", "sidecar", "--xmp-name: 'sidecar' is not base or ext"},
        {"--near-search", "lsh", "--near-search: 'lsh' is not auto, all or buckets"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_result r = RUN("cull", "--model", TINY, bad[i].opt, bad[i].val, SET);
        CHECK_EQ_INT(r.code, 2);
        CHECK_STR_CONTAINS(r.err, bad[i].msg);
        run_free(&r);
    }
    run_result d = RUN("cull", "--model", TINY, "--dry-run", SET);
    CHECK_EQ_INT(d.code, 2);
    CHECK_STR_CONTAINS(d.err, "--dry-run: nothing to try");
    run_result m = RUN("cull", "--model", TINY, "-r", "--move-rejects", SET, SET);
    CHECK_EQ_INT(m.code, 2);
    CHECK_STR_CONTAINS(m.err, "is the input folder");
    char inside[4300];
    snprintf(inside, sizeof inside, "%s/rejects", SET);
    run_result m2 = RUN("cull", "--model", TINY, "-r", "--move-rejects", inside, SET);
    CHECK_EQ_INT(m2.code, 2);
    CHECK_STR_CONTAINS(m2.err, "which -r would scan again");
    run_result none = RUN("cull", "--model", TINY, "/nonexistent/folder");
    CHECK_EQ_INT(none.code, 1);
    CHECK_STR_CONTAINS(none.err, "/nonexistent/folder");
    run_free(&d), run_free(&m), run_free(&m2), run_free(&none);
}

/* ---- XMP sidecars and moves -------------------------------------------------------------- */

/* cull (-r, the tiny model, exact groups only, JSON Lines) with extra[] (NULL-ended, the
 * folder last) after those options */
static run_result shoot_cull(const char *const *extra)
{
    const char *args[32] = {"cull", "--model", TINY, "--cache", CACHE, "--similar", "0.9999", "--burst-gap", "0",
                            "-r", "--format", "jsonl"};
    int n = 12;
    for (int i = 0; extra[i] && n < 31; i++) args[n++] = extra[i];
    args[n] = NULL;
    return run_cli(NULL, NULL, args);
}

static void test_xmp_and_move(void)
{
    char dir[4200], dest[4300], cmd[16384];
    snprintf(dir, sizeof dir, "%s/shoot", test_tmpdir());
    snprintf(dest, sizeof dest, "%s/rejected", test_tmpdir());
    /* day1/boats.jpg comes first of its exact group: the keeper (equal scores) */
    run_sh("mkdir -p '%s/day1' && cp '%s'/boats.jpg '%s'/boats_copy.jpg '%s'/boats_meta.jpg '%s'/rocket.jpg '%s/day1/' && "
       "cp '%s'/ladybird.jpg '%s/'",
       dir, SET, SET, SET, SET, dir, SET, dir);
    /* a sidecar another tool wrote, with a subject and a label */
    CHECK_EQ_INT(run_sh("cd '%s/day1' && exiftool -q -q -o rocket.xmp -XMP-dc:Subject=launch -XMP-xmp:Label=Blue rocket.jpg", dir), 0);
    /* a sidecar nobody can parse */
    snprintf(cmd, sizeof cmd, "%s/ladybird.xmp", dir);
    FILE *f = fopen(cmd, "w");
    if (f) fputs("<x:xmpmeta this is not XML", f), fclose(f);

    /* dry run: nothing written */
    run_result d = shoot_cull((const char *const[]){"--write-xmp", "--dry-run", dir, NULL});
    CHECK_EQ_INT(d.code, 1); /* the corrupt sidecar */
    CHECK_STR_CONTAINS(d.err, "xmp (dry run):");
    CHECK_STR_CONTAINS(d.err, "ladybird.xmp");
    snprintf(cmd, sizeof cmd, "%s/day1/boats.xmp", dir);
    CHECK(access(cmd, F_OK) != 0);
    run_free(&d);

    run_result w = shoot_cull((const char *const[]){"--write-xmp", dir, NULL});
    CHECK_EQ_INT(w.code, 1);
    CHECK_STR_CONTAINS(w.err, "XMP sidecars: 3 created, 1 updated, 0 unchanged, 1 failed");
    run_free(&w);
    /* read back with the real tools */
    snprintf(cmd, sizeof cmd, "exiv2 -px '%s/day1/boats_copy.xmp' 2>&1", dir);
    char *e = sh_out(cmd);
    CHECK_MSG(e && strstr(e, "Xmp.xmp.Rating") && strstr(e, "-1"), "exiv2 says: %s", e ? e : "(nothing)");
    CHECK_MSG(e && strstr(e, "reject"), "exiv2 says: %s", e ? e : "(nothing)");
    free(e);
    snprintf(cmd, sizeof cmd, "exiftool -s -s -s -XMP-xmp:Rating '%s/day1/boats.xmp'", dir);
    e = sh_out(cmd);
    CHECK_MSG(e && atoi(e) >= 1 && atoi(e) <= 5, "keeper's rating: %s", e ? e : "(nothing)");
    free(e);
    snprintf(cmd, sizeof cmd, "exiftool -s -s -s -XMP-dc:Subject -XMP-xmp:Label '%s/day1/rocket.xmp'", dir);
    e = sh_out(cmd);
    CHECK_MSG(e && strstr(e, "launch") && strstr(e, "Blue"), "the other tool's fields: %s", e ? e : "(nothing)");
    free(e);
    snprintf(cmd, sizeof cmd, "%s/ladybird.xmp", dir);
    size_t n;
    char *corrupt = read_file(cmd, &n);
    CHECK(corrupt && n == strlen("<x:xmpmeta this is not XML") && !memcmp(corrupt, "<x:xmpmeta", 10));
    free(corrupt);
    /* again: nothing changes */
    run_result again = shoot_cull((const char *const[]){"--write-xmp", dir, NULL});
    CHECK_STR_CONTAINS(again.err, "0 created, 0 updated, 4 unchanged, 1 failed");
    run_free(&again);

    /* moves: dry run, then for real; paths kept below the folder; sidecars go along */
    run_result mv0 = shoot_cull((const char *const[]){"--move-rejects", dest, "--dry-run", dir, NULL});
    CHECK_EQ_INT(mv0.code, 0);
    CHECK_STR_CONTAINS(mv0.err, "move (dry run):");
    CHECK_STR_CONTAINS(mv0.err, "rejects: 2 to move");
    snprintf(cmd, sizeof cmd, "%s/day1/boats_copy.jpg", dir);
    CHECK(access(cmd, F_OK) == 0);
    run_free(&mv0);
    /* a file already at one target: that reject stays, the other moves */
    run_sh("mkdir -p '%s/day1' && echo keep > '%s/day1/boats_meta.jpg'", dest, dest);
    run_result mv = shoot_cull((const char *const[]){"--move-rejects", dest, dir, NULL});
    CHECK_EQ_INT(mv.code, 1);
    CHECK_STR_CONTAINS(mv.err, "exists (never overwritten)");
    snprintf(cmd, sizeof cmd, "%s/day1/boats_copy.jpg", dest);
    CHECK(access(cmd, F_OK) == 0);
    snprintf(cmd, sizeof cmd, "%s/day1/boats_copy.xmp", dest);
    CHECK(access(cmd, F_OK) == 0);
    snprintf(cmd, sizeof cmd, "%s/day1/boats_copy.jpg", dir);
    CHECK(access(cmd, F_OK) != 0);
    snprintf(cmd, sizeof cmd, "%s/day1/boats_meta.jpg", dir);
    CHECK(access(cmd, F_OK) == 0);
    snprintf(cmd, sizeof cmd, "%s/day1/boats_meta.jpg", dest);
    char *kept = read_file(cmd, &n);
    CHECK(kept && n == 5 && !memcmp(kept, "keep\n", 5));
    free(kept);
    run_free(&mv);
}

/* ---- the full-size recipe model: near duplicates and bursts ------------------------------- */

static void test_near_and_bursts(void)
{
    char model[4096];
    if (b32_recipe_dir(model, sizeof model, 0) != 0) {
        CHECK_MSG(0, "the recipe model could not be written");
        return;
    }
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/b32-cache.sqlite3", test_tmpdir());
    run_result r = RUN("cull", "--model", model, "--cache", cache, "--similar", "0.96", "--burst-gap", "0",
                       "--format", "jsonl", SET);
    CHECK_EQ_INT(r.code, 1); /* broken.jpg */
    /* the bucket search (meant for millions) finds the same groups in this shoot: the same output */
    run_result rb = RUN("cull", "--model", model, "--cache", cache, "--similar", "0.96", "--burst-gap", "0",
                        "--near-search", "buckets", "--format", "jsonl", SET);
    CHECK_EQ_INT(rb.code, 1);
    CHECK_MSG(r.out && rb.out && !strcmp(r.out, rb.out), "--near-search buckets changed the groups:\n%s\nvs\n%s",
              r.out ? r.out : "", rb.out ? rb.out : "");
    run_free(&rb);
    rows x;
    rows_parse(&x, r.out);
    char path[4300];
    snprintf(path, sizeof path, "%s/../expect.tsv", SET);
    FILE *f = fopen(path, "r");
    char line[512];
    int checked = 0;
    while (f && fgets(line, sizeof line, f)) {
        char name[128], orig[64], how[32];
        if (sscanf(line, "%127s %63s %31s", name, orig, how) != 3) continue;
        char oname[80];
        snprintf(oname, sizeof oname, "%s.jpg", orig);
        int g = group(&x, name), og = group(&x, oname);
        if (!strcmp(how, "error")) {
            CHECK_STR_CONTAINS(str(&x, name, "error"), name);
            continue;
        }
        if (!strcmp(how, "distinct")) {
            CHECK_MSG(g == -1, "%s: a distinct photo in group %d", name, g);
            checked++;
        } else if (!strcmp(orig, "boats") || !strcmp(orig, "landscape")) {
            if (!strcmp(how, "original")) continue;
            if (!strcmp(name, "landscape_bright.jpg") || !strcmp(name, "landscape_dark.jpg")) {
                CHECK_MSG(g == -1 || g == og, "%s joined another photo's group %d", name, g);
                continue;
            }
            CHECK_MSG(g >= 1 && g == og, "%s: group %d, its original %s: %d", name, g, oname, og);
            CHECK_MSG(!strcmp(str(&x, name, "kind"), "near"), "%s: kind %s", name, str(&x, name, "kind"));
            /* the match is the relation to the keeper, whichever member that is */
            const char *m = str(&x, name, "match"), *kp = base(str(&x, name, "keeper"));
            char o1[80], o2[80], o3[80];
            snprintf(o1, sizeof o1, "%s.jpg", orig), snprintf(o2, sizeof o2, "%s_copy.jpg", orig);
            snprintf(o3, sizeof o3, "%s_meta.jpg", orig);
            int keeper_same_bytes = !strcmp(kp, o1) || !strcmp(kp, o2);
            int keeper_same_pixels = keeper_same_bytes || !strcmp(kp, o3);
            if (!strcmp(str(&x, name, "role"), "reject") && !strcmp(how, "bytes"))
                CHECK_MSG(!strcmp(m, keeper_same_bytes ? "bytes" : keeper_same_pixels ? "pixels" : "near"),
                          "%s: match %s to keeper %s", name, m, kp);
            if (!strcmp(str(&x, name, "role"), "reject") && !strcmp(how, "pixels"))
                CHECK_MSG(!strcmp(m, keeper_same_pixels ? "pixels" : "near"), "%s: match %s to keeper %s", name, m, kp);
            if (!strcmp(how, "blur")) {
                CHECK_MSG(!strcmp(str(&x, name, "role"), "reject"), "the blurred %s is the keeper", name);
                json_t *rs = json_object_get(find(&x, name), "rel_sharpness");
                CHECK_MSG(rs && json_number_value(rs) < 0.5, "%s: relative sharpness %g", name, json_number_value(rs));
                CHECK_STR_CONTAINS(str(&x, name, "reason"), "blurrier");
            }
            checked++;
        }
    }
    if (f) fclose(f);
    CHECK_MSG(checked >= 20, "only %d rows checked", checked);
    /* the groups of both originals differ */
    CHECK(group(&x, "boats.jpg") != group(&x, "landscape.jpg"));
    rows_free(&x);
    run_free(&r);

    /* bursts: EXIF times, split by camera and by the gap */
    const char *frames[] = {"burst_a1.jpg", "burst_a2.jpg", "burst_a3.jpg", "burst_b1.jpg", "burst_late.jpg",
                            "odd_date.jpg", "rocket.jpg", NULL};
    char list[4200];
    snprintf(list, sizeof list, "%s/bursts.txt", test_tmpdir());
    write_list(list, frames);
    run_result b = RUN("cull", "--model", model, "--cache", cache, "--similar", "0.9995", "--burst-similar", "0.95",
                       "--format", "jsonl", list);
    CHECK_EQ_INT(b.code, 0);
    rows y;
    rows_parse(&y, b.out);
    int ga = group(&y, "burst_a1.jpg");
    CHECK(ga >= 1);
    CHECK_EQ_INT(group(&y, "burst_a2.jpg"), ga);
    CHECK_EQ_INT(group(&y, "burst_a3.jpg"), ga);
    CHECK(!strcmp(str(&y, "burst_a2.jpg", "kind"), "burst"));
    CHECK(group(&y, "burst_b1.jpg") != ga);   /* another camera */
    CHECK(group(&y, "burst_late.jpg") != ga); /* 30 s later */
    CHECK(!strcmp(str(&y, "burst_a1.jpg", "camera"), "Canon EOS R5 #1001"));
    CHECK_STR_CONTAINS(str(&y, "burst_a2.jpg", "time"), "2024-06-01T12:00:00.500");
    json_t *od = find(&y, "odd_date.jpg");
    CHECK(od && json_is_null(json_object_get(od, "time")));
    rows_free(&y);
    run_free(&b);
    /* a gap of 0.4 s splits the frames 0.5 s apart */
    run_result g = RUN("cull", "--model", model, "--cache", cache, "--similar", "0.9995", "--burst-similar", "0.95",
                       "--burst-gap", "0.4", "--format", "jsonl", list);
    rows z;
    rows_parse(&z, g.out);
    CHECK_EQ_INT(group(&z, "burst_a1.jpg"), -1);
    rows_free(&z);
    run_free(&g);
    /* --time-from mtime: the files' times, set here 1 s apart, join a1..a3 (a gap of 1.5 s) */
    run_sh("cd '%s' && touch -d '2020-01-01 10:00:00' burst_a1.jpg && touch -d '2020-01-01 10:00:01' burst_a2.jpg && "
       "touch -d '2020-01-01 10:00:02' burst_a3.jpg && touch -d '2021-01-01' burst_late.jpg burst_b1.jpg",
       SET);
    run_result mt = RUN("cull", "--model", model, "--cache", cache, "--similar", "0.9995", "--burst-similar", "0.95",
                        "--burst-gap", "1.5", "--time-from", "mtime", "--format", "jsonl", list);
    rows w;
    rows_parse(&w, mt.out);
    CHECK(group(&w, "burst_a1.jpg") >= 1);
    CHECK_EQ_INT(group(&w, "burst_a3.jpg"), group(&w, "burst_a1.jpg"));
    CHECK(group(&w, "burst_late.jpg") != group(&w, "burst_a1.jpg"));
    rows_free(&w);
    run_free(&mt);
}

int main(void)
{
    snprintf(TINY, sizeof TINY, "%s", fixture("models/tiny-gelu"));
    snprintf(CACHE, sizeof CACHE, "%s/cache.sqlite3", test_tmpdir());
    char out[4096];
    snprintf(out, sizeof out, "%s/cullset", test_tmpdir());
    int rc = run_sh("bash '%s/tests/data/cull/make_set.sh' '%s' '%s' >&2", AE_SOURCE_DIR, fixture("images"), out);
    CHECK_MSG(rc == 0, "make_set.sh failed (%d): the tools come with scripts/setup.sh", rc);
    if (rc != 0) return test_summary();
    snprintf(SET, sizeof SET, "%s/set", out);
    test_usage_errors();
    test_exact_and_formats();
    test_xmp_and_move();
    test_near_and_bursts();
    return test_summary();
}
