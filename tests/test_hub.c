/*
 * test_hub.c — model lookup in the Hugging Face cache. Builds fake caches under
 * test_tmpdir() with the real layout (refs/<rev> holding a commit hash, snapshots/<commit>/
 * with symlinks into blobs/) and checks the order of $HF_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub and ~/.cache/huggingface/hub, revisions, missing refs and
 * snapshots, the not-found message, and malformed specs.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hub.h"
#include "test.h"

static const char *C1 = "1111111111111111111111111111111111111111";
static const char *C2 = "2222222222222222222222222222222222222222";
static const char *C3 = "3333333333333333333333333333333333333333";
static const char *C4 = "4444444444444444444444444444444444444444";
static const char *C5 = "abcdefabcdefabcdefabcdefabcdefabcdef0123";

static void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static const char *under(const char *rel)
{
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", test_tmpdir(), rel);
    return b;
}

/* A snapshot of org/name in cache as huggingface_hub writes it; ref may be NULL. */
static void add_model(const char *cache, const char *repo_dir, const char *ref, const char *commit,
                      int with_config)
{
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/%s/blobs", cache, repo_dir);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/%s/blobs/%s-config", cache, repo_dir, commit);
    write_text(p, "{}");
    snprintf(p, sizeof p, "%s/%s/snapshots/%s", cache, repo_dir, commit);
    mkdirs(p);
    if (with_config) {
        snprintf(p, sizeof p, "%s/%s/snapshots/%s/config.json", cache, repo_dir, commit);
        snprintf(q, sizeof q, "../../blobs/%s-config", commit);
        CHECK(symlink(q, p) == 0);
    }
    if (ref) {
        snprintf(p, sizeof p, "%s/%s/refs", cache, repo_dir);
        mkdirs(p);
        snprintf(p, sizeof p, "%s/%s/refs/%s", cache, repo_dir, ref);
        write_text(p, commit); /* no newline, like huggingface_hub */
    }
}

static void env(const char *k, const char *v)
{
    if (v) setenv(k, v, 1);
    else unsetenv(k);
}

static void expect_dir(const char *spec, const char *want)
{
    char dir[4096];
    ae_clear_error();
    int rc = hub_resolve(spec, dir, sizeof dir);
    CHECK_MSG(rc == AE_OK, "%s: rc %d (%s)", spec, rc, ae_last_error());
    if (rc == AE_OK) CHECK_MSG(strcmp(dir, want) == 0, "%s -> %s, expected %s", spec, dir, want);
}

static void expect_fail(const char *spec, int rc_want, const char *needle)
{
    char dir[4096];
    int rc = hub_resolve(spec, dir, sizeof dir);
    CHECK_MSG(rc == rc_want, "%s: rc %d, expected %d (%s)", spec ? spec : "(null)", rc, rc_want,
              ae_last_error());
    CHECK_STR_CONTAINS(ae_last_error(), needle);
}

static char snap[8400];
static const char *snapshot(const char *cache, const char *commit)
{
    snprintf(snap, sizeof snap, "%s/models--openai--clip-tiny/snapshots/%s", cache, commit);
    return snap;
}

int main(void)
{
    const char *home = under("home"), *xdg = under("xdg"), *hfhome = under("hfhome"),
               *hub = under("hubcache");
    char home_cache[4096], xdg_cache[4096], hfhome_cache[4096];
    snprintf(home_cache, sizeof home_cache, "%s/.cache/huggingface/hub", home);
    snprintf(xdg_cache, sizeof xdg_cache, "%s/huggingface/hub", xdg);
    snprintf(hfhome_cache, sizeof hfhome_cache, "%s/hub", hfhome);
    const char *R = "models--openai--clip-tiny";
    add_model(home_cache, R, "main", C1, 1);
    add_model(home_cache, R, "v2", C5, 1);
    add_model(xdg_cache, R, "main", C2, 1);
    add_model(hfhome_cache, R, "main", C3, 1);
    add_model(hub, R, "main", C4, 1);

    env("HF_HUB_CACHE", NULL);
    env("HF_HOME", NULL);
    env("XDG_CACHE_HOME", NULL);
    env("HOME", home);

    /* an existing directory is itself, whatever it is called */
    expect_dir(test_tmpdir(), test_tmpdir());
    mkdirs(under("local/org"));
    CHECK(chdir(under("local")) == 0);
    expect_dir("org", "org");
    mkdirs(under("local/openai/clip-tiny"));
    expect_dir("openai/clip-tiny", "openai/clip-tiny"); /* a local folder wins over the cache */
    CHECK(chdir(test_tmpdir()) == 0);

    /* precedence: each variable in turn takes over */
    expect_dir("openai/clip-tiny", snapshot(home_cache, C1));
    env("XDG_CACHE_HOME", xdg);
    expect_dir("openai/clip-tiny", snapshot(xdg_cache, C2));
    env("HF_HOME", hfhome);
    expect_dir("openai/clip-tiny", snapshot(hfhome_cache, C3));
    env("HF_HUB_CACHE", hub);
    expect_dir("openai/clip-tiny", snapshot(hub, C4));
    /* empty variables are skipped; trailing slashes are fine */
    env("HF_HUB_CACHE", "");
    expect_dir("openai/clip-tiny", snapshot(hfhome_cache, C3));
    char slashed[4200];
    snprintf(slashed, sizeof slashed, "%s/", hub);
    env("HF_HUB_CACHE", slashed);
    expect_dir("openai/clip-tiny", snapshot(hub, C4));

    /* a cache without the model falls through to the next */
    env("HF_HUB_CACHE", under("empty-cache"));
    expect_dir("openai/clip-tiny", snapshot(hfhome_cache, C3));

    /* revisions: a ref name, a commit hash, and revisions only one cache has */
    expect_dir("openai/clip-tiny@main", snapshot(hfhome_cache, C3));
    expect_dir("openai/clip-tiny@v2", snapshot(home_cache, C5));
    char spec[256];
    snprintf(spec, sizeof spec, "openai/clip-tiny@%s", C1);
    expect_dir(spec, snapshot(home_cache, C1)); /* no ref needed */
    snprintf(spec, sizeof spec, "openai/clip-tiny@%s", C2);
    expect_dir(spec, snapshot(xdg_cache, C2));
    expect_fail("openai/clip-tiny@v3", AE_ERR_NOT_FOUND, "no refs/v3");

    /* a broken snapshot: ref to a missing snapshot, snapshot without config.json, bad ref */
    add_model(hub, "models--org--noconfig", "main", C1, 0);
    add_model(hub, "models--org--badref", NULL, C1, 1);
    mkdirs(under("hubcache/models--org--badref/refs"));
    write_text(under("hubcache/models--org--badref/refs/main"), "../../../../etc\n");
    add_model(hub, "models--org--nosnap", "main", C1, 1);
    char p[4200];
    snprintf(p, sizeof p, "%s/models--org--nosnap/refs/main", hub);
    write_text(p, C2);
    env("HF_HUB_CACHE", hub);
    expect_fail("org/noconfig", AE_ERR_NOT_FOUND, "no config.json in the snapshot");
    expect_fail("org/badref", AE_ERR_NOT_FOUND, "models--org--badref (refs/main is not a 40- or 64-hex commit: damaged)");
    expect_fail("org/nosnap", AE_ERR_NOT_FOUND, "models--org--nosnap (snapshot missing 222222222222)");
    /* a ref with a trailing newline is fine */
    snprintf(p, sizeof p, "%s/models--org--nosnap/refs/main", hub);
    snprintf(spec, sizeof spec, "%s\n", C1);
    write_text(p, spec);
    snprintf(p, sizeof p, "%s/models--org--nosnap/snapshots/%s", hub, C1);
    expect_dir("org/nosnap", p);

    /* not found anywhere: every place is named, and how to get the model */
    expect_fail("someone/missing-model", AE_ERR_NOT_FOUND,
                "someone/missing-model: not a directory and not in the Hugging Face cache");
    const char *msg = ae_last_error();
    CHECK_STR_CONTAINS(msg, "download it with: aesthete fetch-model someone/missing-model "
                            "(or huggingface-cli download someone/missing-model)");
    char want[4300];
    snprintf(want, sizeof want, "%s/models--someone--missing-model (missing)", hub);
    CHECK_STR_CONTAINS(msg, want);
    snprintf(want, sizeof want, "%s/models--someone--missing-model (missing)", hfhome_cache);
    CHECK_STR_CONTAINS(msg, want);
    snprintf(want, sizeof want, "%s/models--someone--missing-model (missing)", xdg_cache);
    CHECK_STR_CONTAINS(msg, want);
    snprintf(want, sizeof want, "%s/models--someone--missing-model (missing)", home_cache);
    CHECK_STR_CONTAINS(msg, want);
    CHECK(strchr(msg, '\n') == NULL);

    /* the same place twice is looked at once */
    env("HF_HUB_CACHE", xdg_cache);
    expect_fail("someone/missing-model", AE_ERR_NOT_FOUND, "missing");
    msg = ae_last_error();
    const char *first = strstr(msg, xdg_cache);
    CHECK(first && strstr(first + 1, xdg_cache) == NULL);

    /* no variables and no HOME: the passwd entry's home is used, nothing crashes */
    env("HF_HUB_CACHE", NULL);
    env("HF_HOME", NULL);
    env("XDG_CACHE_HOME", NULL);
    env("HOME", NULL);
    expect_fail("someone/missing-model", AE_ERR_NOT_FOUND, "download it with");
    env("HOME", home);

    /* malformed specs */
    const char *bad[] = {"noslash", "a/b/c", "../x", "a/..", "a/b@", "/b", "a/", "a b/c",
                         "a/b@../x", "org/na..me", "org/name@v/1", "a/b@c@d", "or$g/x", "@x/y",
                         "a/\xc3\xa9", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[256];
        int rc = hub_resolve(bad[i], dir, sizeof dir);
        CHECK_MSG(rc == AE_ERR_INVALID || (strcmp(bad[i], ".") == 0 && rc == AE_OK),
                  "spec \"%s\": rc %d (%s)", bad[i], rc, ae_last_error());
        if (rc == AE_ERR_INVALID) {
            CHECK_STR_CONTAINS(ae_last_error(), bad[i]);
            CHECK_STR_CONTAINS(ae_last_error(), "org/name[@revision]");
        }
    }
    expect_fail("", AE_ERR_INVALID, "empty model name");
    expect_fail(NULL, AE_ERR_INVALID, "empty model name");
    /* the result does not fit */
    char small[8];
    CHECK_EQ_INT(hub_resolve(test_tmpdir(), small, sizeof small), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "path longer than the 8 bytes given");
    return test_summary();
}
