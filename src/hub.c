/*
 * hub.c — finding a model in the local Hugging Face cache, read-only and without network.
 *
 * The cache layout written by huggingface_hub:
 *   <cache>/models--<org>--<name>/refs/<revision>        text file: the commit hash
 *   <cache>/models--<org>--<name>/snapshots/<commit>/    the files (symlinks into blobs/)
 * A spec "org/name[@revision]" (revision default "main"; a 40-hex revision names a commit
 * directly) is looked up in each cache in turn: $HF_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub (unset or empty variables are
 * skipped, duplicates looked at once). The first snapshot that holds a config.json wins.
 * A spec that names an existing directory is returned unchanged, so local folders always
 * work. Names are restricted to [A-Za-z0-9._-] without "..", which also keeps a spec from
 * walking out of the cache.
 */
#define _GNU_SOURCE
#include "hub.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"

#define PATH_CAP 4096
#define MAX_CACHES 4

/* snprintf that says whether everything fit (a cut path must never be looked at). */
static int fmt(char *out, size_t cap, const char *f, ...) AE_PRINTF(3, 4);
static int fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A name part: non-empty, [A-Za-z0-9._-], not "." / ".." and without "..". */
static int valid_part(const char *s, size_t n)
{
    if (n == 0 || n > 96) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-')) return 0;
        if (c == '.' && i + 1 < n && s[i + 1] == '.') return 0;
    }
    return !(n == 1 && s[0] == '.');
}

int hub_split_spec(const char *spec, char org[HUB_PART_CAP], char name[HUB_PART_CAP],
                   char rev[HUB_PART_CAP])
{
    if (!spec) return 0;
    const char *slash = strchr(spec, '/'), *at = strchr(spec, '@');
    const char *name_end = at ? at : spec + strlen(spec);
    const char *r = at ? at + 1 : "main";
    if (!slash || slash > name_end || strchr(slash + 1, '/') ||
        !valid_part(spec, (size_t)(slash - spec)) ||
        !valid_part(slash + 1, (size_t)(name_end - slash - 1)) || !valid_part(r, strlen(r)))
        return 0;
    /* each part is at most 96 bytes (valid_part), so these fit */
    snprintf(org, HUB_PART_CAP, "%.*s", (int)(slash - spec), spec);
    snprintf(name, HUB_PART_CAP, "%.*s", (int)(name_end - slash - 1), slash + 1);
    snprintf(rev, HUB_PART_CAP, "%s", r);
    return 1;
}

static int is_commit(const char *s)
{
    size_t n = strlen(s);
    if (n != 40) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* Reads refs/<rev>: one commit hash (hex, 40 or 64 digits), surrounding white space allowed. */
static int read_ref(const char *path, char *hash, size_t cap)
{
    FILE *f = ae_file_fopen(path);
    if (!f) return 0;
    char buf[128];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = buf;
    while (*s && isspace((unsigned char)*s)) s++;
    size_t len = 0;
    while (isxdigit((unsigned char)s[len])) len++;
    for (size_t i = len; s[i]; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    if ((len != 40 && len != 64) || len >= cap) return 0;
    memcpy(hash, s, len);
    hash[len] = 0;
    return 1;
}

/* The caches to look in, in order, without duplicates. */
static int cache_dirs(char dirs[MAX_CACHES][PATH_CAP])
{
    int n = 0;
    char cand[MAX_CACHES][PATH_CAP];
    int nc = 0;
    const char *v;
    /* a variable too long for PATH_CAP is skipped rather than cut */
    if ((v = getenv("HF_HUB_CACHE")) && *v) nc += fmt(cand[nc], PATH_CAP, "%s", v);
    if ((v = getenv("HF_HOME")) && *v) nc += fmt(cand[nc], PATH_CAP, "%s/hub", v);
    if ((v = getenv("XDG_CACHE_HOME")) && *v)
        nc += fmt(cand[nc], PATH_CAP, "%s/huggingface/hub", v);
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res) home = pw.pw_dir;
        if (home && *home) nc += fmt(cand[nc], PATH_CAP, "%s/.cache/huggingface/hub", home);
    } else {
        nc += fmt(cand[nc], PATH_CAP, "%s/.cache/huggingface/hub", home);
    }
    for (int i = 0; i < nc; i++) {
        /* "a/b/" and "a/b" are the same place */
        size_t l = strlen(cand[i]);
        while (l > 1 && cand[i][l - 1] == '/') cand[i][--l] = 0;
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= strcmp(dirs[j], cand[i]) == 0;
        if (!dup) memcpy(dirs[n++], cand[i], l + 1);
    }
    return n;
}

static int copy_out(const char *path, char *dir, size_t cap)
{
    size_t n = strlen(path);
    if (n + 1 > cap)
        return ae_fail(AE_ERR_INVALID, "%s: path longer than the %zu bytes given", path, cap);
    memcpy(dir, path, n + 1);
    return AE_OK;
}

int hub_resolve(const char *spec, char *dir, size_t cap)
{
    if (!spec || !*spec || !dir || cap == 0)
        return ae_fail(AE_ERR_INVALID, "model: empty model name");
    if (is_dir(spec)) return copy_out(spec, dir, cap);

    char org[HUB_PART_CAP], name[HUB_PART_CAP], rev[HUB_PART_CAP];
    if (!hub_split_spec(spec, org, name, rev))
        return ae_fail(AE_ERR_INVALID,
                       "%s: not a directory, and not a model name of the form "
                       "org/name[@revision] (letters, digits, '.', '_', '-')",
                       spec);

    char caches[MAX_CACHES][PATH_CAP];
    int nc = cache_dirs(caches);
    char looked[MAX_CACHES][PATH_CAP + 64];
    char repo[PATH_CAP], path[PATH_CAP + 256], hash[72];
    for (int i = 0; i < nc; i++) {
        const char *why;
        if (!fmt(repo, sizeof repo, "%s/models--%s--%s", caches[i], org, name)) {
            snprintf(looked[i], sizeof looked[i], "%.200s... (path too long)", caches[i]);
            continue;
        }
        if (!is_dir(repo)) {
            why = "missing";
        } else {
            if (is_commit(rev)) {
                snprintf(hash, sizeof hash, "%.64s", rev); /* 40 or 64 hex digits */
            } else {
                if (!fmt(path, sizeof path, "%s/refs/%s", repo, rev) ||
                    !read_ref(path, hash, sizeof hash)) {
                    /* say which: never downloaded whole, or a damaged ref */
                    if (access(path, F_OK) != 0)
                        fmt(looked[i], sizeof looked[i], "%s (no refs/%s: no finished download)", repo, rev);
                    else
                        fmt(looked[i], sizeof looked[i], "%s (refs/%s is not a 40- or 64-hex commit: damaged)", repo, rev);
                    continue;
                }
            }
            fmt(path, sizeof path, "%s/snapshots/%s", repo, hash); /* fits: repo < PATH_CAP */
            if (!is_dir(path)) {
                why = "snapshot missing";
            } else {
                char cfg[PATH_CAP + 300];
                fmt(cfg, sizeof cfg, "%s/config.json", path);
                if (is_file(cfg)) return copy_out(path, dir, cap);
                why = "no config.json in the snapshot";
            }
            snprintf(looked[i], sizeof looked[i], "%s (%s %.12s)", repo, why, hash);
            continue;
        }
        snprintf(looked[i], sizeof looked[i], "%s (%s)", repo, why);
    }

    char where[PATH_CAP];
    size_t w = 0;
    where[0] = 0;
    for (int i = 0; i < nc && w < sizeof where; i++)
        w += (size_t)snprintf(where + w, sizeof where - w, "%s%s", i ? "; " : "", looked[i]);
    if (nc == 0) snprintf(where, sizeof where, "nowhere: HOME is not set");
    /* the hint comes before the list so that long paths cannot cut it off */
    return ae_fail(AE_ERR_NOT_FOUND,
                   "%s: not a directory and not in the Hugging Face cache; download it with: "
                   "aesthete fetch-model %s/%s (or huggingface-cli download %s/%s); looked in: %s",
                   spec, org, name, org, name, where);
}
