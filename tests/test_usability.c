/*
 * test_usability.c — what a new user trips over on the command line (issue "What a new user
 * trips over"): rank's input handling (a missing argument among several, a PDF or a binary
 * named by mistake, an empty image, hidden folders, --exclude, score - from stdin), help and
 * option parsing (subcommand --help, 'help CMD', -V, bad options named, short options),
 * rank's output choices (--reverse, --max-score, --paths, -0, --copy-top, --link-top), the
 * progress bar on a terminal, and files left behind (cache stats creates nothing, cache clear
 * removes the kept banks, a failed fetch-model leaves no empty folders).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"
#include "run.h"
#include "test.h"

static char TINY[4096], CACHE[4200];

static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) fwrite(data, 1, n, f), fclose(f);
}

static void copy_in(const char *fixture_rel, const char *to)
{
    size_t n;
    char *d = read_file(fixture(fixture_rel), &n);
    if (d) put_file(to, d, n);
    free(d);
}

/* the "input" of every JSON line of out that has a score, in order, joined by '|' */
static void inputs_of(const char *out, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int k = 0;; k++) {
        json_t *j = jline(out, k);
        if (!j) break;
        const char *in = json_string_value(json_object_get(j, "input"));
        const char *slash = in ? strrchr(in, '/') : NULL;
        if (json_object_get(j, "score"))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "|" : "", slash ? slash + 1 : in);
        json_decref(j);
    }
}

static int lines_containing(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* a folder of three photos, a hidden file, a hidden folder, a PNG and a text file */
static const char *photos(void)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s", test_tmp("photos"));
    mkdir(dir, 0755);
    char p[4400];
    const char *names[][2] = {{"images/photo_boats.jpg", "boats.jpg"},
                              {"images/photo_rocket.jpg", "rocket.jpg"},
                              {"images/photo_ladybird.jpg", "ladybird.jpg"},
                              {"images/small_100x75.png", "small.png"},
                              {"images/photo_portrait.jpg", ".hidden.jpg"}};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i][1]);
        copy_in(names[i][0], p);
    }
    snprintf(p, sizeof p, "%s/.thumbnails", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.thumbnails/thumb.jpg", dir);
    copy_in("images/photo_landscape.jpg", p);
    snprintf(p, sizeof p, "%s/notes.md", dir);
    put_file(p, "# shoot notes\n", 14);
    return dir;
}

static void test_rank_inputs(void)
{
    const char *dir = photos();
    char list[4400], seen[8192];

    /* a missing argument among several: reported, the rest ranked, exit 1 */
    run_result r = RUN("rank", "-m", TINY, "--cache", CACHE, "-f", "jsonl", test_tmp("nope"), dir);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "nope: No such file or directory");
    inputs_of(r.out, seen, sizeof seen);
    CHECK_EQ_INT(lines_containing(seen, "|") + 1, 4); /* boats, rocket, ladybird, small; no hidden */
    CHECK(!strstr(seen, "hidden") && !strstr(seen, "thumb"));
    json_t *last = jline(r.out, 4);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(last, "input")), "nope");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(last, "error")), "No such file or directory");
    json_decref(last);
    run_free(&r);

    /* hidden names: -r skips .thumbnails/ and .hidden.jpg; --hidden takes them; --verbose counts */
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-r", "--verbose", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 4);
    CHECK_STR_CONTAINS(r.err, "4 inputs: ");
    CHECK_STR_CONTAINS(r.err, "; 3 skipped (1 not images, 2 hidden, 0 excluded)");
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-r", "--hidden", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 6);
    CHECK_STR_CONTAINS(r.out, ".thumbnails/thumb.jpg");
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-r", "--hidden", "--exclude", "*.png", "--exclude", ".thumbnails",
            "--verbose", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 4); /* boats, rocket, ladybird, .hidden */
    CHECK(!strstr(r.out, "small.png") && !strstr(r.out, "thumb"));
    CHECK_STR_CONTAINS(r.err, "2 excluded");
    run_free(&r);

    /* a PDF and a binary named by mistake: one error each, never read as lists */
    char pdf[4400], bin[4400], empty[4400];
    snprintf(pdf, sizeof pdf, "%s", test_tmp("doc.pdf"));
    const char pdf_bytes[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\nstream\n\x01\x02\x9f\n";
    put_file(pdf, pdf_bytes, sizeof pdf_bytes - 1);
    snprintf(bin, sizeof bin, "%s", test_tmp("blob"));
    unsigned char junk[600];
    for (int i = 0; i < 600; i++) junk[i] = (unsigned char)(i * 7919 >> 3);
    put_file(bin, junk, sizeof junk);
    snprintf(empty, sizeof empty, "%s", test_tmp("empty.jpg"));
    put_file(empty, "", 0);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-f", "jsonl", pdf, bin, empty, dir);
    CHECK_EQ_INT(r.code, 1);
    CHECK_EQ_INT(count_lines(r.err), 3); /* doc.pdf, blob, empty.jpg: one line each */
    CHECK_STR_CONTAINS(r.err, "doc.pdf: ");
    CHECK_STR_CONTAINS(r.err, "blob: ");
    CHECK_STR_CONTAINS(r.err, "empty.jpg: ");
    CHECK(!strstr(r.err, "No such file")); /* no line of the PDF taken for a path */
    CHECK_EQ_INT(count_lines(r.out), 7);   /* 4 ranked + 3 error rows */
    run_free(&r);

    /* lists: *.lst, any text file, and - */
    snprintf(list, sizeof list, "%s", test_tmp("picks.lst"));
    char text[9000];
    snprintf(text, sizeof text, "# two picks\n%s/boats.jpg\n%s/rocket.jpg\n", dir, dir);
    put_file(list, text, strlen(text));
    r = RUN("rank", "-m", TINY, "--cache", CACHE, list);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 2);
    run_free(&r);
    snprintf(list, sizeof list, "%s", test_tmp("picks"));
    put_file(list, text, strlen(text));
    r = RUN("rank", "-m", TINY, "--cache", CACHE, list);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 2);
    run_free(&r);

    /* score - reads one image from stdin; - twice is refused */
    char boats[4400];
    snprintf(boats, sizeof boats, "%s/boats.jpg", dir);
    run_result a = RUN("score", "-m", TINY, "--no-cache", boats);
    r = run_cli(NULL, boats, (const char *const[]){"score", "-m", TINY, "--no-cache", "-", NULL});
    CHECK_EQ_INT(r.code, 0);
    json_t *ja = jline(a.out, 0), *jb = jline(r.out, 0);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(jb, "input")), "-");
    CHECK_NEAR(json_real_value(json_object_get(jb, "score")), json_real_value(json_object_get(ja, "score")), 1e-6);
    json_decref(ja), json_decref(jb);
    run_free(&a), run_free(&r);
    r = RUN("score", "-m", TINY, "--no-cache", "-", "-");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "- (stdin) can be read once");
    run_free(&r);
}

static void test_rank_outputs(void)
{
    const char *dir = test_tmp("photos");
    char best[8192], worst[8192];
    run_result r = RUN("rank", "-m", TINY, "--cache", CACHE, "-f", "jsonl", dir);
    inputs_of(r.out, best, sizeof best);
    json_t *j0 = jline(r.out, 0), *j3 = jline(r.out, 3);
    double top = json_real_value(json_object_get(j0, "score")), bottom = json_real_value(json_object_get(j3, "score"));
    json_decref(j0), json_decref(j3);
    run_free(&r);
    CHECK(top > bottom);

    /* --reverse: the same ranking, worst first; -n 1 with it: the worst */
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "--format", "jsonl", "--reverse", dir);
    inputs_of(r.out, worst, sizeof worst);
    char rev[8192] = "";
    for (char *p = best + strlen(best); p > best;) { /* best's names, reversed */
        char *q = p;
        while (q > best && q[-1] != '|') q--;
        snprintf(rev + strlen(rev), sizeof rev - strlen(rev), "%s%.*s", rev[0] ? "|" : "", (int)(p - q), q);
        p = q > best ? q - 1 : best;
    }
    CHECK_MSG(!strcmp(worst, rev), "%s vs %s", worst, rev);
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-f", "jsonl", "--reverse", "-n", "1", dir);
    CHECK_EQ_INT(count_lines(r.out), 1);
    json_t *j = jline(r.out, 0);
    CHECK_NEAR(json_real_value(json_object_get(j, "score")), bottom, 1e-9);
    json_decref(j);
    run_free(&r);

    /* --max-score: only the images at or below it; above --min-score: refused */
    char cut[64];
    snprintf(cut, sizeof cut, "%.9g", bottom);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-f", "jsonl", "--max-score", cut, dir);
    CHECK_EQ_INT(count_lines(r.out), 1);
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "--min-score", "5", "--max-score", "1", dir);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--min-score 5 is above --max-score 1");
    run_free(&r);

    /* --paths and -0 */
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "--paths", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(count_lines(r.out), 4);
    char first[4400];
    snprintf(first, sizeof first, "%s/%.*s\n", dir, (int)strcspn(best, "|"), best);
    CHECK_MSG(!strncmp(r.out, first, strlen(first)), "%s", r.out);
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-0", dir);
    int nuls = 0;
    for (size_t i = 0; i < r.out_len; i++) nuls += r.out[i] == 0;
    CHECK_EQ_INT(nuls, 4);
    CHECK(!memchr(r.out, '\n', r.out_len));
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "--paths", "--format", "csv", dir);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "drop --format");
    run_free(&r);

    /* --copy-top: rank-prefixed copies, identical bytes; never replaced on a second run */
    char to[4400], want[9000], src[9000];
    snprintf(to, sizeof to, "%s", test_tmp("best"));
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-n", "2", "--copy-top", to, dir);
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    snprintf(want, sizeof want, "%s/1-%.*s", to, (int)strcspn(best, "|"), best);
    snprintf(src, sizeof src, "%s/%.*s", dir, (int)strcspn(best, "|"), best);
    size_t na = 0, nb = 0;
    char *da = read_file(want, &na), *db = read_file(src, &nb);
    CHECK_MSG(da && db && na == nb && !memcmp(da, db, na), "%s", want);
    free(da), free(db);
    DIR *d = opendir(to);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    CHECK_EQ_INT(n, 2);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-n", "2", "--copy-top", to, dir);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "exists (never replaced)");
    run_free(&r);
    /* --link-top: symbolic links to the absolute paths */
    snprintf(to, sizeof to, "%s", test_tmp("linked"));
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-n", "1", "--link-top", to, dir);
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    snprintf(want, sizeof want, "%s/1-%.*s", to, (int)strcspn(best, "|"), best);
    char target[4400] = "", real[4400] = "";
    ssize_t k = readlink(want, target, sizeof target - 1);
    if (k > 0) target[k] = 0;
    CHECK(realpath(src, real) && !strcmp(target, real));
}

static void test_help_and_options(void)
{
    run_result r = RUN("bank", "info", "--help");
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "usage: aesthete bank build");
    run_free(&r);
    r = RUN("head", "info", "--help");
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "usage: aesthete head");
    run_free(&r);
    r = RUN("cache", "stats", "--help");
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "usage: aesthete cache stats");
    run_free(&r);
    run_result a = RUN("help", "score"), b = RUN("score", "--help");
    CHECK_EQ_INT(a.code, 0);
    CHECK(a.out && b.out && !strcmp(a.out, b.out) && strstr(a.out, "usage: aesthete score"));
    run_free(&a), run_free(&b);
    r = RUN("help", "nonsense");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "unknown command 'nonsense'");
    run_free(&r);
    a = RUN("-V"), b = RUN("--version");
    CHECK_EQ_INT(a.code, 0);
    CHECK(a.out && b.out && !strcmp(a.out, b.out) && !strncmp(a.out, "aesthete ", 9));
    run_free(&a), run_free(&b);
    r = RUN("serve", "--help");
    CHECK(r.out && !strstr(r.out, "--format") && !strstr(r.out, "--verbose") && strstr(r.out, "-q, --quiet"));
    run_free(&r);

    /* bad options are named */
    r = RUN("score", "-m", TINY, "--format", "tsv", "-dash.jpg");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "unknown option '-d' in '-dash.jpg'");
    CHECK_STR_CONTAINS(r.err, "write ./-dash.jpg, or put it after --");
    CHECK(!strstr(r.err, "'tsv'"));
    run_free(&r);
    r = RUN("serve", "--port", "99999");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--port: '99999' is not an integer in [0, 65535]");
    run_free(&r);
    r = RUN("rank", "-m", TINY, "--methd=context", ".");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "unknown option '--methd'");
    run_free(&r);
    r = RUN("rank", "-m", TINY, ".", "--top");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "option '--top' needs a value");
    run_free(&r);
    r = RUN("bank", "info", fixture("images/photo_boats.jpg"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "photo_boats.jpg: not an aesthete head or prompt bank");
    run_free(&r);

    /* short options and the singular summary */
    char boats[4400];
    snprintf(boats, sizeof boats, "%s/boats.jpg", test_tmp("photos"));
    r = RUN("score", "-m", TINY, "--cache", CACHE, "-f", "csv", "--verbose", boats);
    CHECK_EQ_INT(r.code, 0);
    CHECK(r.out && !strncmp(r.out, "score,probability,label,class,input\n", 36));
    CHECK_STR_CONTAINS(r.err, "1 input: ");
    run_free(&r);
    /* -q: no warnings (an unreadable subfolder is one), failures still reported */
    char locked[4400];
    snprintf(locked, sizeof locked, "%s/photos/locked", test_tmpdir());
    mkdir(locked, 0);
    if (geteuid() != 0) { /* root reads any folder */
        r = RUN("rank", "-m", TINY, "--cache", CACHE, "-r", test_tmp("photos"));
        CHECK_STR_CONTAINS(r.err, "warning: ");
        run_free(&r);
        r = RUN("rank", "-m", TINY, "--cache", CACHE, "-r", "-q", test_tmp("photos"));
        CHECK(r.err && !strstr(r.err, "warning"));
        run_free(&r);
    }
    rmdir(locked);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "-q", test_tmp("nope"), test_tmp("photos"));
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "nope: No such file or directory");
    run_free(&r);
}

/* the bar on a terminal (script(1) gives the command one): drawn at once, wiped at the end */
static void test_progress(void)
{
    if (run_sh("command -v script >/dev/null") != 0) {
        fprintf(stderr, "test_progress: skipped (no script(1))\n");
        return;
    }
    char log[4400];
    snprintf(log, sizeof log, "%s", test_tmp("tty.log"));
    int rc = run_sh("AE_BAR_TEST=1 script -qec \"'%s' rank -m '%s' --cache '%s' '%s' >/dev/null\" '%s' >/dev/null 2>&1",
                    getenv("AE_CLI"), TINY, CACHE, test_tmp("photos"), log);
    CHECK_EQ_INT(rc, 0);
    size_t n = 0;
    char *t = read_file(log, &n);
    CHECK_STR_CONTAINS(t, "] 0/4 images");
    CHECK_STR_CONTAINS(t, "] 4/4 images");
    CHECK_STR_CONTAINS(t, "\r\033[K");
    free(t);
}

static void test_files_left_behind(void)
{
    /* cache stats on a cache that does not exist: says so, creates nothing */
    char fresh[4400];
    snprintf(fresh, sizeof fresh, "%s/fresh/cache.sqlite3", test_tmpdir());
    run_result r = RUN("cache", "stats", "--cache", fresh);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "(none yet)");
    CHECK_STR_CONTAINS(r.out, "banks      0 ");
    struct stat st;
    CHECK(stat(fresh, &st) != 0);
    CHECK(stat(test_tmp("fresh"), &st) != 0);
    run_free(&r);

    /* a bank kept beside the cache is counted, and cache clear removes it */
    char classes[4400];
    snprintf(classes, sizeof classes, "%s", test_tmp("classes.txt"));
    put_file(classes, "boat\nrocket\n", 12);
    r = RUN("rank", "-m", TINY, "--cache", CACHE, "--method", "ensemble", "--classes", classes, test_tmp("photos"));
    CHECK_EQ_INT(r.code, 0);
    run_free(&r);
    r = RUN("cache", "stats", "--cache", CACHE);
    CHECK_STR_CONTAINS(r.out, "banks      2 "); /* the fixed method's and this one */
    run_free(&r);
    r = RUN("cache", "clear", "--cache", CACHE);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "removed 2 kept banks");
    run_free(&r);
    r = RUN("cache", "stats", "--cache", CACHE);
    CHECK_STR_CONTAINS(r.out, "entries    0");
    CHECK_STR_CONTAINS(r.out, "banks      0 ");
    run_free(&r);

    /* a failed fetch-model leaves no empty folders; the lookup says why it found nothing */
    char hub[4400], env[9000];
    snprintf(hub, sizeof hub, "%s", test_tmp("hub"));
    mkdir(hub, 0755);
    snprintf(env, sizeof env, "HF_HUB_CACHE='%s' HF_HOME='%s' HF_ENDPOINT=http://127.0.0.1:9", hub, hub);
    r = run_cli(env, NULL, (const char *const[]){"fetch-model", "org/model", NULL});
    CHECK_EQ_INT(r.code, 2);
    run_free(&r);
    char repo[4600];
    snprintf(repo, sizeof repo, "%s/models--org--model", hub);
    CHECK_MSG(stat(repo, &st) != 0, "%s left behind", repo);
    snprintf(repo, sizeof repo, "%s/models--org--model/refs", hub);
    run_sh("mkdir -p '%s' && echo not-a-commit > '%s/main'", repo, repo);
    r = run_cli(env, NULL, (const char *const[]){"info", "-m", "org/model", NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "refs/main is not a 40- or 64-hex commit: damaged");
    run_free(&r);
    run_sh("rm -f '%s/main'", repo);
    r = run_cli(env, NULL, (const char *const[]){"info", "-m", "org/model", NULL});
    CHECK_STR_CONTAINS(r.err, "no refs/main: no finished download");
    run_free(&r);
}

/* stdout that cannot take the results: a full disk is an error, a closed pipe ends quietly */
static void test_stdout_faults(void)
{
    char err[4400];
    snprintf(err, sizeof err, "%s", test_tmp("stdout.err"));
    int rc = run_sh("'%s' rank -m '%s' --no-cache -f jsonl '%s' >/dev/full 2>'%s'", getenv("AE_CLI"), TINY,
                    test_tmp("photos"), err);
    CHECK_EQ_INT(rc, 2);
    size_t n;
    char *t = read_file(err, &n);
    CHECK_STR_CONTAINS(t, "standard output: No space left on device (the results were not all written)");
    free(t);
    /* many rows into head -1: the first arrives, nothing is said, the status is SIGPIPE's
     * (also where SIGPIPE is ignored, as under some test runners) */
    char script[4400];
    snprintf(script, sizeof script, "%s", test_tmp("pipe.sh"));
    FILE *f = fopen(script, "w");
    if (f) {
        fprintf(f, "trap '' PIPE\nset -o pipefail\nargs=()\nfor i in $(seq 200); do args+=('%s/rocket.jpg'); done\n"
                   "'%s' score -m '%s' --no-cache --threads 1 \"${args[@]}\" 2>'%s' | head -1 >/dev/null\n",
                test_tmp("photos"), getenv("AE_CLI"), TINY, err);
        fclose(f);
    }
    rc = run_sh("bash '%s'", script);
    CHECK_MSG(rc == 141 || rc == 0, "status %d", rc);
    t = read_file(err, &n);
    CHECK_MSG(t && n == 0, "stderr: %s", t ? t : "(none)");
    free(t);
}

/* URLs: only http(s), and by default only public addresses (a list from someone else cannot
 * reach local services); --allow-private-urls opts out */
static void test_urls(void)
{
    run_result r = RUN("score", "-m", TINY, "--no-cache", "file:///etc/passwd", "ftp://example.com/a.jpg");
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "file:///etc/passwd: unsupported URL scheme \"file\" (only http and https)");
    CHECK_STR_CONTAINS(r.err, "ftp://example.com/a.jpg: unsupported URL scheme \"ftp\"");
    CHECK(!strstr(r.err, "No such file"));
    run_free(&r);
    httpd *h = httpd_start();
    CHECK(h != NULL);
    if (!h) return;
    size_t n;
    char *jpg = read_file(fixture("images/photo_boats.jpg"), &n), url[256];
    httpd_add(h, "/boats.jpg", 200, "image/jpeg", jpg, n);
    httpd_url(h, "/boats.jpg", url, sizeof url);
    r = RUN("score", "-m", TINY, "--no-cache", url);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "address 127.0.0.1 is not public (loopback, private, link-local or reserved)");
    run_free(&r);
    r = RUN("score", "-m", TINY, "--no-cache", "--allow-private-urls", url);
    CHECK_EQ_INT(r.code, 0);
    json_t *j = jline(r.out, 0);
    CHECK(j && json_is_number(json_object_get(j, "score")));
    json_decref(j);
    run_free(&r);
    /* the server never fetches from private addresses */
    r = RUN("serve", "--allow-private-urls");
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--allow-private-urls does not apply");
    run_free(&r);
    /* so serve's help does not offer it; score's does */
    r = RUN("serve", "--help");
    CHECK_EQ_INT(r.code, 0);
    CHECK(strstr(r.out, "--allow-urls") != NULL);
    CHECK(strstr(r.out, "--allow-private-urls") == NULL);
    run_free(&r);
    r = RUN("score", "--help");
    CHECK(strstr(r.out, "--allow-private-urls") != NULL);
    run_free(&r);
    httpd_stop(h);
    free(jpg);
}

int main(void)
{
    snprintf(TINY, sizeof TINY, "%s", fixture("models/tiny-quickgelu"));
    snprintf(CACHE, sizeof CACHE, "%s/cache.sqlite3", test_tmpdir());
    test_rank_inputs();
    test_rank_outputs();
    test_help_and_options();
    test_progress();
    test_files_left_behind();
    test_stdout_faults();
    test_urls();
    return test_summary();
}
