/*
 * test_hubdl.c — app/hubdl.c against the test server playing the Hugging Face hub (with a CDN
 * for the LFS file): a download of the tiny-gelu model into a temporary HF_HUB_CACHE that
 * ae_model_resolve then finds, cached blobs not fetched again, an interrupted download
 * resumed with a Range request, a sha256 mismatch, missing files, the token, bad names, and
 * an unreachable endpoint.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "hubdl.h"
#include "support/httpd.h"
#include "hash.h"
#include "run.h"
#include "test.h"

static const char *files[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                              "tokenizer_config.json", "preprocessor_config.json"};
#define NF 6
static void *data[NF];
static size_t sizes[NF];
static httpd *srv;
static char endpoint[128];

struct prog { int calls; int64_t st_done, st_total; };

static void on_progress(void *user, const char *file, int64_t done, int64_t total)
{
    struct prog *p = user;
    p->calls++;
    if (strcmp(file, "model.safetensors") == 0) p->st_done = done, p->st_total = total;
}

static ae_hubdl_params params(const char *cache)
{
    ae_hubdl_params p = ae_hubdl_default_params();
    p.endpoint = endpoint;
    p.cache_dir = cache;
    p.token = "";
    return p;
}

static int64_t size_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* Every file of the snapshot has the fixture's bytes. */
static int snapshot_matches(const char *snap)
{
    int good = 0;
    for (int i = 0; i < NF; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", snap, files[i]);
        size_t n;
        void *b = read_file(p, &n);
        good += b && n == sizes[i] && memcmp(b, data[i], n) == 0;
        free(b);
    }
    return good;
}

static void test_download(void)
{
    char cache[PATH_MAX], snap[PATH_MAX], dir[PATH_MAX], p[2 * PATH_MAX];
    snprintf(cache, sizeof cache, "%s/hub", test_tmpdir());
    setenv("HF_HUB_CACHE", cache, 1);
    const char *commit = "1111111111222222222233333333334444444444";
    httpd_hub_set_commit(srv, commit);
    struct prog pr = {0};
    ae_hubdl_params hp = params(NULL); /* the cache from HF_HUB_CACHE */
    hp.progress = on_progress;
    hp.progress_user = &pr;
    hp.token = "hf_secret";
    int rc = ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
    snprintf(p, sizeof p, "%s/models--org--tiny-gelu/snapshots/%s", cache, commit);
    CHECK(strcmp(snap, p) == 0);
    CHECK_EQ_INT(snapshot_matches(snap), NF);

    /* the reading side finds it */
    CHECK_EQ_INT(ae_model_resolve("org/tiny-gelu", dir, sizeof dir), AE_OK);
    CHECK(strcmp(dir, snap) == 0);
    CHECK_EQ_INT(ae_model_resolve("org/tiny-gelu@" "1111111111222222222233333333334444444444",
                                  dir, sizeof dir), AE_OK);

    /* the layout: refs/main, relative links into blobs named by etag (sha256 for LFS) */
    snprintf(p, sizeof p, "%s/models--org--tiny-gelu/refs/main", cache);
    size_t n;
    char *ref = read_file(p, &n);
    CHECK(ref && strcmp(ref, commit) == 0);
    free(ref);
    char sha[65], link[512];
    ae_sha256_hex(data[1], sizes[1], sha);
    snprintf(p, sizeof p, "%s/model.safetensors", snap);
    ssize_t l = readlink(p, link, sizeof link - 1);
    CHECK(l > 0);
    link[l > 0 ? l : 0] = 0;
    char want[128];
    snprintf(want, sizeof want, "../../blobs/%s", sha);
    CHECK_MSG(strcmp(link, want) == 0, "link %s", link);
    snprintf(p, sizeof p, "%s/config.json", snap);
    l = readlink(p, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    ae_sha256_hex(data[0], sizes[0], sha);
    snprintf(want, sizeof want, "../../blobs/%.40s", sha); /* the server's git-style etag */
    CHECK_MSG(strcmp(link, want) == 0, "link %s", link);
    snprintf(p, sizeof p, "%s/tokenizer.json", snap); /* optional, 404: skipped */
    CHECK(access(p, F_OK) != 0);

    CHECK(pr.calls >= 2 * NF);
    CHECK_EQ_INT(pr.st_done, sizes[1]);
    CHECK_EQ_INT(pr.st_total, sizes[1]);
    CHECK(httpd_log_has(srv, "auth=Bearer hf_secret"));
    CHECK(httpd_log_has(srv, "HEAD /org/tiny-gelu/resolve/main/config.json"));
    /* after the first file, the others are asked for by commit */
    CHECK(httpd_log_has(srv, "HEAD /org/tiny-gelu/resolve/1111111111222222222233333333334444444444/model.safetensors"));

    /* again: everything cached, only HEADs */
    int gets = httpd_count(srv, "GET ");
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_OK);
    CHECK_EQ_INT(httpd_count(srv, "GET "), gets);
    CHECK_EQ_INT(snapshot_matches(snap), NF);
    unsetenv("HF_HUB_CACHE");
}

static void test_resume(void)
{
    char cache[PATH_MAX], snap[PATH_MAX], inc[PATH_MAX + 200];
    snprintf(cache, sizeof cache, "%s/hub-resume", test_tmpdir());
    httpd_hub_set_commit(srv, "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd");
    ae_hubdl_params hp = params(cache);
    hp.retries = 0;
    httpd_hub_drop_once(srv, "model.safetensors", 1000000);
    int rc = ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap);
    CHECK_EQ_INT(rc, AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "model.safetensors: download interrupted after ");
    CHECK_STR_CONTAINS(ae_last_error(), "run the command again to resume");
    printf("interrupted: %s\n", ae_last_error());
    char sha[65];
    ae_sha256_hex(data[1], sizes[1], sha);
    snprintf(inc, sizeof inc, "%s/models--org--tiny-gelu/blobs/%s.incomplete", cache, sha);
    int64_t part = size_of(inc);
    CHECK_MSG(part > 0 && part <= 1000000, "partial %lld", (long long)part);
    /* nothing points at the half-done snapshot */
    char refp[PATH_MAX + 64];
    snprintf(refp, sizeof refp, "%s/models--org--tiny-gelu/refs/main", cache);
    CHECK(access(refp, F_OK) != 0);

    char want[64];
    snprintf(want, sizeof want, "range=bytes=%lld-", (long long)part);
    CHECK(!httpd_log_has(srv, want));
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_OK);
    CHECK(httpd_log_has(srv, want));
    CHECK(access(inc, F_OK) != 0);
    CHECK_EQ_INT(snapshot_matches(snap), NF);
    CHECK(access(refp, F_OK) == 0);

    /* with retries, one call gets through */
    snprintf(cache, sizeof cache, "%s/hub-retry", test_tmpdir());
    hp = params(cache);
    httpd_hub_drop_once(srv, "model.safetensors", 2000000);
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_OK);
    CHECK(httpd_log_has(srv, "range=bytes=2000000-"));
    CHECK_EQ_INT(snapshot_matches(snap), NF);

    /* a renamed repository: the hub redirects relative to the new name */
    snprintf(cache, sizeof cache, "%s/hub-moved", test_tmpdir());
    hp = params(cache);
    CHECK_EQ_INT(ae_hub_download("moved/tiny-gelu", &hp, snap, sizeof snap), AE_OK);
    CHECK_STR_CONTAINS(snap, "/models--moved--tiny-gelu/snapshots/");
    CHECK_EQ_INT(snapshot_matches(snap), NF);
    CHECK(httpd_log_has(srv, "HEAD /moved/tiny-gelu/resolve/main/config.json"));

    /* a non-LFS file cut off is resumed too (the hub ignores the range: start over) */
    snprintf(cache, sizeof cache, "%s/hub-retry2", test_tmpdir());
    hp = params(cache);
    httpd_hub_drop_once(srv, "vocab.json", 100000);
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_OK);
    CHECK_EQ_INT(snapshot_matches(snap), NF);
}

/* Two processes downloading the same model into one cache at once both succeed (the blob
 * lock keeps them from writing one .incomplete file together). */
static void test_two_processes(void)
{
    char cache[PATH_MAX], snap[PATH_MAX];
    snprintf(cache, sizeof cache, "%s/hub-two", test_tmpdir());
    httpd_hub_set_commit(srv, "9999999999999999999999999999999999999999");
    pid_t pids[2];
    fflush(NULL);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            ae_hubdl_params hp = params(cache);
            int rc = ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap);
            if (rc) fprintf(stderr, "child %d: %s\n", i, ae_last_error());
            _exit(rc == AE_OK && snapshot_matches(snap) == NF ? 0 : 1);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status = -1;
        waitpid(pids[i], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", i, status);
    }
    ae_hubdl_params hp = params(cache);
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_OK);
    CHECK_EQ_INT(snapshot_matches(snap), NF);
}

static void test_bad_sha(void)
{
    char cache[PATH_MAX], snap[PATH_MAX], blobs[PATH_MAX + 64];
    snprintf(cache, sizeof cache, "%s/hub-bad", test_tmpdir());
    httpd_hub_set_commit(srv, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    httpd_hub_bad_etag(srv, "model.safetensors");
    ae_hubdl_params hp = params(cache);
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "model.safetensors: sha256 mismatch: the hub announced ");
    CHECK_STR_CONTAINS(ae_last_error(), "the download was removed");
    printf("bad sha: %s\n", ae_last_error());
    /* no blob, no partial file of the LFS file is left */
    snprintf(blobs, sizeof blobs, "%s/models--org--tiny-gelu/blobs", cache);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c . > '%s/count'", blobs, cache);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/count", cache);
    char *cnt = read_file(cmd, NULL);
    CHECK(cnt && atoi(cnt) == NF - 1); /* the five small files only */
    free(cnt);
}

static void test_errors(void)
{
    char cache[PATH_MAX], snap[PATH_MAX], ep[128];
    snprintf(cache, sizeof cache, "%s/hub-err", test_tmpdir());
    ae_hubdl_params hp = params(cache);
    const char *bad[] = {"noslash", "org/na me", "../x/y", "org/x/y", "org/..", "org/x@a/b", ""};
    for (int i = 0; i < 7; i++) {
        CHECK_EQ_INT(ae_hub_download(bad[i], &hp, snap, sizeof snap), AE_ERR_INVALID);
    }
    CHECK_STR_CONTAINS(ae_last_error(), "empty model name");

    /* offline */
    int port = httpd_closed_port();
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    hp.endpoint = ep;
    CHECK_EQ_INT(ae_hub_download("org/tiny-gelu", &hp, snap, sizeof snap), AE_ERR_IO);
    char want[256];
    snprintf(want, sizeof want,
             "could not reach %s: Couldn't connect to server — check the network, or copy the "
             "model directory and pass --model DIR", ep);
    CHECK_STR_CONTAINS(ae_last_error(), want);

    /* a hub without the model's files */
    httpd *empty = httpd_start();
    CHECK(empty != NULL);
    if (!empty) return;
    static const char cfg[] = "{}";
    httpd_hub_add(empty, "config.json", cfg, 2, 0);
    char ep2[128];
    httpd_url(empty, "", ep2, sizeof ep2);
    hp.endpoint = ep2;
    CHECK_EQ_INT(ae_hub_download("org/other", &hp, snap, sizeof snap), AE_ERR_NOT_FOUND);
    CHECK_STR_CONTAINS(ae_last_error(),
                       "org/other: preprocessor_config.json not found in the repository (revision "
                       "0123456789abcdef0123456789abcdef01234567)");
    /* a server error, and an endpoint that is not a hub at all */
    CHECK_EQ_INT(ae_hub_download("status/500", &hp, snap, sizeof snap), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "status/500: config.json: the hub answered HTTP 500");
    CHECK_EQ_INT(ae_hub_download("status/401", &hp, snap, sizeof snap), AE_ERR_NOT_FOUND);
    CHECK_STR_CONTAINS(ae_last_error(), "or private or gated (HTTP 401); check the name, or set HF_TOKEN");
    hp.endpoint = endpoint;
    httpd_add(srv, "/x/y/resolve/main/config.json", 200, "text/html", "<html>", 6);
    CHECK_EQ_INT(ae_hub_download("x/y", &hp, snap, sizeof snap), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "no valid X-Repo-Commit header");
    httpd_stop(empty);
}

/* `aesthete fetch-model` as a user runs it: $HF_ENDPOINT and $HF_HUB_CACHE, then the model is
 * found by its repo id; offline, one clear line and exit status 2. */
static void test_cli(void)
{
    char cache[PATH_MAX], env[PATH_MAX + 300];
    snprintf(cache, sizeof cache, "%s/cli-hub", test_tmpdir());
    snprintf(env, sizeof env, "HF_ENDPOINT='%s' HF_HUB_CACHE='%s' HF_TOKEN=", endpoint, cache);
    run_result r = run_cli(env, NULL, (const char *const[]){"fetch-model", "org/tiny-gelu", NULL});
    CHECK_MSG(r.code == 0, "fetch-model: exit %d: %s", r.code, r.err ? r.err : "");
    CHECK_STR_CONTAINS(r.out, "/models--org--tiny-gelu/snapshots/");
    CHECK_STR_CONTAINS(r.err, "aesthete: fetching model.safetensors"); /* stderr is no terminal */
    run_free(&r);
    r = run_cli(env, NULL, (const char *const[]){"info", "--model", "org/tiny-gelu", "--json", NULL});
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "\"weights_dtype\": \"F16\"");
    CHECK_STR_CONTAINS(r.out, "models--org--tiny-gelu");
    run_free(&r);
    char off[PATH_MAX + 300];
    snprintf(off, sizeof off, "HF_ENDPOINT='http://127.0.0.1:%d' HF_HUB_CACHE='%s/off'", httpd_closed_port(), cache);
    r = run_cli(off, NULL, (const char *const[]){"fetch-model", "org/tiny-gelu", NULL});
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "could not reach");
    CHECK_EQ_INT(count_lines(r.err), 1);
    run_free(&r);
    r = run_cli(env, NULL, (const char *const[]){"fetch-model", "not a repo", NULL});
    CHECK_EQ_INT(r.code, 2);
    run_free(&r);
}

int main(void)
{
    for (int i = 0; i < NF; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/tiny-gelu/%s", files[i]);
        data[i] = read_file(fixture(rel), &sizes[i]);
        CHECK_MSG(data[i] != NULL, "fixture %s", rel);
        if (!data[i]) return test_summary();
    }
    srv = httpd_start();
    CHECK(srv != NULL);
    if (!srv) return test_summary();
    for (int i = 0; i < NF; i++) httpd_hub_add(srv, files[i], data[i], sizes[i], i == 1);
    httpd_url(srv, "", endpoint, sizeof endpoint);
    unsetenv("HF_TOKEN");
    unsetenv("HF_ENDPOINT");
    test_download();
    test_cli(); /* before the tests that make the server misbehave */
    test_resume();
    test_two_processes();
    test_bad_sha();
    test_errors();
    httpd_stop(srv);
    for (int i = 0; i < NF; i++) free(data[i]);
    return test_summary();
}
