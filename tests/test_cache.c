/*
 * test_cache.c — app/cache.c: round trips, keys, stats, clear, persistence, two processes
 * writing at once (fork), a writer killed with SIGKILL mid-run (every committed batch
 * survives, the file stays consistent), corrupt files, read-only files, and ae_mkdirs (the one
 * mkdir -p of the cache, the kept banks, the hub cache and the CLI).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "fileio.h"
#include "run.h"
#include "test.h"

#define DIM 8

static void vec_for(int a, int b, float *v)
{
    for (int i = 0; i < DIM; i++) v[i] = (float)a * 1000.0f + (float)b + (float)i * 0.125f;
}

static void test_keys(void)
{
    char k[65], k2[65];
    ae_cache_key("abc", 3, "0123456789abcdef", "exif=1", k);
    /* pinned: sha256("aesthete-embedding-v1\n" + sha256hex("abc") + "\n" + fp + "\n" + opts + "\n") */
    CHECK_STR_CONTAINS(k, "e36fe005198f960bd617656197ef12ae48cfc93611eef26a3567664dd893a5ae");
    CHECK_EQ_INT(strlen(k), 64);
    ae_cache_key("abc", 3, "0123456789abcdee", "exif=1", k2);
    CHECK(strcmp(k, k2) != 0);
    ae_cache_key("abc", 3, "0123456789abcdef", "exif=0", k2);
    CHECK(strcmp(k, k2) != 0);
    ae_cache_key("abd", 3, "0123456789abcdef", "exif=1", k2);
    CHECK(strcmp(k, k2) != 0);
    ae_cache_key("abc", 3, "0123456789abcdef", "exif=1", k2);
    CHECK(strcmp(k, k2) == 0);
    ae_cache_key_from_hash("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                           "0123456789abcdef", "exif=1", k2);
    CHECK(strcmp(k, k2) == 0);
}

static void test_round_trip(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/a/b/emb.sqlite3", test_tmpdir()); /* parents created */
    ae_cache *c;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    if (!c) return;
    char keys[3][65];
    const char *kp[3];
    float vecs[3 * DIM], out[DIM];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "img%d", i);
        ae_cache_key(name, strlen(name), "00000000deadbeef", "exif=1", keys[i]);
        kp[i] = keys[i];
        vec_for(1, i, vecs + i * DIM);
    }
    CHECK_EQ_INT(ae_cache_put_many(c, kp, vecs, 3, DIM), AE_OK);
    for (int i = 0; i < 3; i++) {
        memset(out, 0, sizeof out);
        CHECK_EQ_INT(ae_cache_get(c, keys[i], out, DIM), 1);
        CHECK(memcmp(out, vecs + i * DIM, sizeof out) == 0);
    }
    CHECK_EQ_INT(ae_cache_get(c, "nope", out, DIM), 0);
    CHECK_EQ_INT(ae_cache_get(c, keys[0], out, DIM + 1), 0); /* other dim: miss */
    /* replace */
    float v2[DIM];
    vec_for(2, 0, v2);
    CHECK_EQ_INT(ae_cache_put(c, keys[0], v2, DIM), AE_OK);
    CHECK_EQ_INT(ae_cache_get(c, keys[0], out, DIM), 1);
    CHECK(memcmp(out, v2, sizeof out) == 0);

    ae_cache_stats st;
    CHECK_EQ_INT(ae_cache_stats_get(c, &st), AE_OK);
    CHECK_EQ_INT(st.entries, 3);
    CHECK_EQ_INT(st.vec_bytes, 3 * DIM * 4);
    CHECK_EQ_INT(st.hits, 4);
    CHECK_EQ_INT(st.misses, 2);
    CHECK(st.file_bytes > 0);
    CHECK(strcmp(st.path, path) == 0);

    /* bad calls */
    CHECK_EQ_INT(ae_cache_get(c, keys[0], out, 0), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_cache_get(c, keys[0], out, INT32_MAX), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_cache_put_many(c, kp, NULL, 2, DIM), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_cache_put_many(c, kp, vecs, 0, DIM), AE_OK);
    ae_cache_close(c);

    /* persistence */
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    CHECK_EQ_INT(ae_cache_get(c, keys[2], out, DIM), 1);
    CHECK(memcmp(out, vecs + 2 * DIM, sizeof out) == 0);
    CHECK_EQ_INT(ae_cache_clear(c), AE_OK);
    CHECK_EQ_INT(ae_cache_get(c, keys[2], out, DIM), 0);
    CHECK_EQ_INT(ae_cache_stats_get(c, &st), AE_OK);
    CHECK_EQ_INT(st.entries, 0);
    CHECK_EQ_INT(st.hits, 1);
    CHECK_EQ_INT(st.misses, 1);
    ae_cache_close(c);
}

static void test_default_path(void)
{
    char p[4096], want[4096];
    char *old = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    snprintf(want, sizeof want, "%s/xdg", test_tmpdir());
    setenv("XDG_CACHE_HOME", want, 1);
    CHECK_EQ_INT(ae_cache_default_path(p, sizeof p), AE_OK);
    strcat(want, "/aesthete/embeddings.sqlite3");
    CHECK(strcmp(p, want) == 0);
    ae_cache *c;
    CHECK_EQ_INT(ae_cache_open(NULL, &c), AE_OK);
    ae_cache_stats st;
    ae_cache_stats_get(c, &st);
    CHECK(strcmp(st.path, want) == 0);
    ae_cache_close(c);
    CHECK_EQ_INT(access(want, F_OK), 0);
    CHECK_EQ_INT(ae_cache_remove_files(NULL), AE_OK);
    CHECK(access(want, F_OK) != 0);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/someone", 1);
    CHECK_EQ_INT(ae_cache_default_path(p, sizeof p), AE_OK);
    CHECK(strcmp(p, "/home/someone/.cache/aesthete/embeddings.sqlite3") == 0);
    if (old) setenv("XDG_CACHE_HOME", old, 1);
    free(old);
}

/* A child process: writes `batches` batches of `per` entries keyed "w<id>-<b>-<i>"; after each
 * commit writes the batch number to fd (if >= 0). Exit status 0 if all went well. */
static void writer(const char *path, int id, int batches, int per, int fd)
{
    ae_cache *c;
    if (ae_cache_open(path, &c) != AE_OK) {
        fprintf(stderr, "writer %d: %s\n", id, ae_last_error());
        _exit(3);
    }
    char (*keys)[32] = malloc((size_t)per * 32);
    const char **kp = malloc((size_t)per * sizeof *kp);
    float *v = malloc((size_t)per * DIM * sizeof *v), out[DIM];
    for (int b = 0; b < batches; b++) {
        for (int i = 0; i < per; i++) {
            snprintf(keys[i], 32, "w%d-%d-%d", id, b, i);
            kp[i] = keys[i];
            vec_for(id * 100 + b, i, v + i * DIM);
        }
        if (ae_cache_put_many(c, kp, v, per, DIM) != AE_OK) {
            fprintf(stderr, "writer %d: %s\n", id, ae_last_error());
            _exit(4);
        }
        if (ae_cache_get(c, keys[0], out, DIM) != 1) _exit(5); /* reads between writes */
        if (fd >= 0 && write(fd, &b, sizeof b) != sizeof b) _exit(6);
    }
    ae_cache_close(c);
    free(keys); free(kp); free(v);
    _exit(0);
}

static int count_batch(ae_cache *c, int id, int b, int per)
{
    int n = 0;
    float out[DIM], want[DIM];
    for (int i = 0; i < per; i++) {
        char key[32];
        snprintf(key, sizeof key, "w%d-%d-%d", id, b, i);
        vec_for(id * 100 + b, i, want);
        n += ae_cache_get(c, key, out, DIM) == 1 && memcmp(out, want, sizeof out) == 0;
    }
    return n;
}

static void test_concurrent(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/concurrent.sqlite3", test_tmpdir());
    enum { NPROC = 3, BATCHES = 15, PER = 20 };
    pid_t pids[NPROC];
    fflush(NULL);
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        if (pids[p] == 0) writer(path, p + 1, BATCHES, PER, -1);
    }
    for (int p = 0; p < NPROC; p++) {
        int status = -1;
        waitpid(pids[p], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d status %d", p, status);
    }
    ae_cache *c;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    if (!c) return;
    ae_cache_stats st;
    ae_cache_stats_get(c, &st);
    CHECK_EQ_INT(st.entries, NPROC * BATCHES * PER);
    int good = 0;
    for (int p = 0; p < NPROC; p++)
        for (int b = 0; b < BATCHES; b++) good += count_batch(c, p + 1, b, PER);
    CHECK_EQ_INT(good, NPROC * BATCHES * PER);
    ae_cache_close(c);
}

static void test_crash(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/crash.sqlite3", test_tmpdir());
    enum { PER = 50, ACKS = 25 };
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        writer(path, 7, 100000, PER, fds[1]);
    }
    close(fds[1]);
    int last = -1, b;
    while (last < ACKS && read(fds[0], &b, sizeof b) == sizeof b) last = b;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_EQ_INT(last, ACKS);

    /* the file is consistent */
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    const char *res = "";
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW) res = (const char *)sqlite3_column_text(q, 0);
    CHECK(res && strcmp(res, "ok") == 0);
    sqlite3_finalize(q);
    sqlite3_close(db);

    /* every acknowledged batch is complete, and batches are all or nothing */
    ae_cache *c;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    if (!c) return;
    int good = 0;
    for (int i = 0; i <= last; i++) good += count_batch(c, 7, i, PER);
    CHECK_EQ_INT(good, (last + 1) * PER);
    ae_cache_stats st;
    ae_cache_stats_get(c, &st);
    CHECK_MSG(st.entries % PER == 0, "entries %lld", (long long)st.entries);
    CHECK(st.entries >= (last + 1) * PER);
    printf("crash: killed after %d acknowledged batches, %lld entries on disk\n", last + 1,
           (long long)st.entries);
    ae_cache_close(c);
}

static void test_corrupt(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/corrupt.sqlite3", test_tmpdir());
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 8192; i++) fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    ae_cache *c = (ae_cache *)1;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_ERR_FORMAT);
    CHECK(c == NULL);
    CHECK_STR_CONTAINS(ae_last_error(), path);
    CHECK_STR_CONTAINS(ae_last_error(), "not a usable embedding cache (file is not a database)");
    CHECK_STR_CONTAINS(ae_last_error(), "'aesthete cache clear'");
    printf("corrupt: %s\n", ae_last_error());
    CHECK_EQ_INT(ae_cache_remove_files(path), AE_OK);
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    ae_cache_close(c);

    /* damaged pages inside a real database: errors, never a crash */
    snprintf(path, sizeof path, "%s/damaged.sqlite3", test_tmpdir());
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    enum { N = 400 };
    char (*keys)[65] = malloc(N * 65);
    const char **kp = malloc(N * sizeof *kp);
    float *v = calloc(N * DIM, sizeof *v), out[DIM];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 65, "damaged-%d", i);
        kp[i] = keys[i];
    }
    CHECK_EQ_INT(ae_cache_put_many(c, kp, v, N, DIM), AE_OK);
    ae_cache_close(c);
    f = fopen(path, "r+b");
    fseek(f, 4096, SEEK_SET);
    for (int i = 0; i < 3 * 4096; i++) fputc((i * 17 + 5) & 0xff, f);
    fclose(f);
    int rc = ae_cache_open(path, &c);
    int errors = 0;
    if (rc == AE_OK) {
        for (int i = 0; i < N; i++) errors += ae_cache_get(c, keys[i], out, DIM) < 0;
        ae_cache_close(c);
    }
    CHECK(rc == AE_ERR_FORMAT || errors > 0);
    printf("damaged: open rc %d, %d lookups failed: %s\n", rc, errors, ae_last_error());
    CHECK_STR_CONTAINS(ae_last_error(), "not a usable embedding cache");
    free(keys); free(kp); free(v);

    /* a folder where the file should be */
    CHECK(ae_cache_open(test_tmpdir(), &c) < 0);
    printf("folder: %s\n", ae_last_error());
}

/* the number of files in dir whose name starts with prefix */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

/* Rows are checked when read: an edited row, a version-1 row without its sum, a row of the
 * wrong length are misses (computed again by the caller), counted as bad rows. */
static void test_row_checks(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rows.sqlite3", test_tmpdir());
    ae_cache *c;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    if (!c) return;
    float v[DIM], out[DIM];
    vec_for(3, 1, v);
    const char *keys[] = {"edited", "old", "short", "fine"};
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(ae_cache_put(c, keys[i], v, DIM), AE_OK);
    ae_cache_close(c);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    /* a NaN written over the first float, the sum left: the edit NaN-in-the-cache probe */
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE embeddings SET vec = X'0000C07F' || substr(vec, 5) WHERE key = 'edited';"
                                  "UPDATE embeddings SET vec = substr(vec, 1, 32) WHERE key = 'old';"
                                  "UPDATE embeddings SET vec = substr(vec, 1, 12) WHERE key = 'short';",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    if (!c) return;
    CHECK_EQ_INT(ae_cache_get(c, "edited", out, DIM), 0);
    CHECK_EQ_INT(ae_cache_get(c, "old", out, DIM), 0);
    CHECK_EQ_INT(ae_cache_get(c, "short", out, DIM), 0);
    CHECK_EQ_INT(ae_cache_get(c, "fine", out, DIM), 1);
    CHECK(memcmp(out, v, sizeof v) == 0);
    ae_cache_stats st;
    CHECK_EQ_INT(ae_cache_stats_get(c, &st), AE_OK);
    CHECK_EQ_INT(st.bad_rows, 2); /* the old row is merely old */
    /* a put replaces the bad row with a good one */
    CHECK_EQ_INT(ae_cache_put(c, "edited", v, DIM), AE_OK);
    CHECK_EQ_INT(ae_cache_get(c, "edited", out, DIM), 1);
    CHECK_STR_CONTAINS(ae_cache_warning(c), "rows.sqlite3: a stored embedding failed its check (edited, damaged, or from another file); computed again, never used");
    ae_cache_close(c);
}

/* A damaged file is moved aside and a new cache started, with a warning; found damaged while
 * in use, the handle stops using it and moves it aside at close. */
static void test_moved_aside(void)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/aside", test_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/emb.sqlite3", dir);
    FILE *f = fopen(path, "wb");
    fwrite("SQLite format 3", 1, 16, f);
    for (int i = 0; i < 8192; i++) fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    ae_cache *c = NULL;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    const char *w = ae_cache_warning(c);
    CHECK_STR_CONTAINS(w, "the embedding cache was damaged");
    CHECK_STR_CONTAINS(w, "moved aside to");
    CHECK_EQ_INT(count_prefixed(dir, "emb.sqlite3.corrupt-"), 1);
    float v[DIM], out[DIM];
    vec_for(5, 5, v);
    CHECK_EQ_INT(ae_cache_put(c, "k", v, DIM), AE_OK);
    CHECK_EQ_INT(ae_cache_get(c, "k", out, DIM), 1);
    ae_cache_close(c);

    /* damaged pages found by a lookup: an error once, misses after it, moved aside at close */
    enum { N = 400 };
    char (*keys)[65] = malloc(N * 65);
    const char **kp = malloc(N * sizeof *kp);
    float *vs = calloc(N * DIM, sizeof *vs);
    for (int i = 0; i < N; i++) snprintf(keys[i], 65, "page-%d", i), kp[i] = keys[i], vs[i * DIM] = 1;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    CHECK_EQ_INT(ae_cache_put_many(c, kp, vs, N, DIM), AE_OK);
    ae_cache_close(c);
    f = fopen(path, "r+b");
    fseek(f, 4096, SEEK_SET);
    for (int i = 0; i < 3 * 4096; i++) fputc((i * 17 + 5) & 0xff, f);
    fclose(f);
    int rc = ae_cache_open(path, &c), errors = 0, misses = 0;
    if (rc == AE_OK) {
        for (int i = 0; i < N; i++) {
            int g = ae_cache_get(c, keys[i], out, DIM);
            errors += g < 0, misses += g == 0;
        }
        CHECK(errors <= 1);
        if (errors) {
            CHECK_STR_CONTAINS(ae_cache_warning(c), "the embedding cache is damaged");
            CHECK_EQ_INT(ae_cache_put(c, "after", v, DIM), AE_OK); /* nothing done, no error */
        }
        ae_cache_close(c);
        if (errors) CHECK_EQ_INT(count_prefixed(dir, "emb.sqlite3.corrupt-"), 2);
    }
    printf("damaged pages: open rc %d, %d lookups failed, %d missed\n", rc, errors, misses);
    free(keys), free(kp), free(vs);
}

/* A full disk (a 512 KiB tmpfs, as root): writes stop with a warning, lookups go on. */
static void test_full_disk(void)
{
    char mnt[4096], path[4200];
    snprintf(mnt, sizeof mnt, "%s/small", test_tmpdir());
    mkdir(mnt, 0755);
    if (geteuid() != 0 || run_sh("mount -t tmpfs -o size=512k tmpfs '%s' 2>/dev/null", mnt) != 0) {
        printf("full disk: skipped (needs root to mount a small tmpfs)\n");
        return;
    }
    snprintf(path, sizeof path, "%s/emb.sqlite3", mnt);
    ae_cache *c;
    CHECK_EQ_INT(ae_cache_open(path, &c), AE_OK);
    enum { PER = 64, DIMS = 512 };
    char (*keys)[32] = malloc(PER * 32);
    const char **kp = malloc(PER * sizeof *kp);
    float *vs = calloc(PER * DIMS, sizeof *vs), out[DIMS];
    int failed_at = -1;
    for (int b = 0; c && b < 20 && failed_at < 0; b++) {
        for (int i = 0; i < PER; i++) snprintf(keys[i], 32, "b%d-%d", b, i), kp[i] = keys[i], vs[i * DIMS] = (float)b + 1;
        if (ae_cache_put_many(c, kp, vs, PER, DIMS) != AE_OK) failed_at = b;
    }
    CHECK(failed_at > 0);
    CHECK_STR_CONTAINS(ae_cache_warning(c), "cannot store embeddings");
    CHECK_EQ_INT(ae_cache_put_many(c, kp, vs, PER, DIMS), AE_OK); /* stopped: nothing done */
    CHECK_EQ_INT(ae_cache_get(c, "b0-3", out, DIMS), 1);           /* what was stored reads */
    CHECK(out[0] == 1.0f);
    printf("full disk: the write of batch %d failed: %s\n", failed_at, ae_cache_warning(c));
    ae_cache_close(c);
    run_sh("umount '%s'", mnt);
    free(keys), free(kp), free(vs);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ae_mkdirs: folders made, existing ones fine, slashes, a file in the way, a folder that may
 * not be written, a full disk (a tmpfs without inodes) */
static void test_mkdirs(void)
{
    char d[4096], p[4200];
    snprintf(d, sizeof d, "%s/mk/a/b/c", test_tmpdir());
    CHECK_EQ_INT(ae_mkdirs(d), AE_OK);
    CHECK(is_dir(d));
    CHECK_EQ_INT(ae_mkdirs(d), AE_OK); /* there already */
    snprintf(p, sizeof p, "%s/mk//x///y//", test_tmpdir());
    CHECK_EQ_INT(ae_mkdirs(p), AE_OK);
    snprintf(p, sizeof p, "%s/mk/x/y", test_tmpdir());
    CHECK(is_dir(p));
    CHECK_EQ_INT(ae_mkdirs(""), AE_OK);
    CHECK_EQ_INT(ae_mkdirs("/"), AE_OK);
    CHECK_EQ_INT(ae_mkdirs("///"), AE_OK);
    CHECK_EQ_INT(ae_mkdirs(NULL), AE_ERR_INVALID);
    /* the folder of a file */
    snprintf(p, sizeof p, "%s/mk/f/g/file.bank", test_tmpdir());
    CHECK_EQ_INT(ae_mkdirs_for(p), AE_OK);
    snprintf(p, sizeof p, "%s/mk/f/g", test_tmpdir());
    CHECK(is_dir(p));
    snprintf(p, sizeof p, "%s/mk/f/g/file.bank", test_tmpdir());
    CHECK(access(p, F_OK) != 0); /* the file itself is not made */
    CHECK_EQ_INT(ae_mkdirs_for("bare-name"), AE_OK);
    CHECK(access("bare-name", F_OK) != 0);
    /* a file in the way: the folder itself, then one above it */
    snprintf(p, sizeof p, "%s/mk/plain", test_tmpdir());
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    CHECK_EQ_INT(ae_mkdirs(p), AE_ERR_IO);
    CHECK_EQ_INT(errno, ENOTDIR);
    char want[4400];
    snprintf(want, sizeof want, "%s: cannot create folder: Not a directory", p);
    CHECK_STR_CONTAINS(ae_last_error(), want);
    snprintf(d, sizeof d, "%s/mk/plain/sub/dir/", test_tmpdir());
    CHECK_EQ_INT(ae_mkdirs(d), AE_ERR_IO);
    snprintf(want, sizeof want, "%s/mk/plain/sub/dir: cannot create folder %s/mk/plain: Not a directory",
             test_tmpdir(), test_tmpdir());
    CHECK_STR_CONTAINS(ae_last_error(), want);
    CHECK(strchr(ae_last_error(), '\n') == NULL);
    /* the cache's open says the same */
    snprintf(p, sizeof p, "%s/mk/plain/emb.sqlite3", test_tmpdir());
    ae_cache *c = NULL;
    CHECK_EQ_INT(ae_cache_open(p, &c), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "mk/plain: cannot create folder: Not a directory");
    /* a folder we may not write, as another user (root writes anywhere) */
    snprintf(d, sizeof d, "%s/mk/locked", test_tmpdir());
    mkdir(d, 0555);
    if (geteuid() == 0) {
        int rc = run_sh("chmod 755 '%s' && setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "
                        "\"mkdir '%s/inner' 2>/dev/null; test \\$? -ne 0\" 2>/dev/null",
                        test_tmpdir(), d);
        if (rc == 0) {
            pid_t pid = fork();
            if (pid == 0) { /* the child, as nobody, calls ae_mkdirs */
                if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
                snprintf(p, sizeof p, "%s/inner/deeper", d);
                int r = ae_mkdirs(p);
                char w[9000];
                snprintf(w, sizeof w, "%s/inner/deeper: cannot create folder %s/inner: Permission denied", d, d);
                _exit(r == AE_ERR_IO && errno == EACCES && strstr(ae_last_error(), w) ? 0 : 4);
            }
            int st = -1;
            waitpid(pid, &st, 0);
            CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "permission: child status %d", st);
        } else {
            printf("mkdirs: permission case skipped (setpriv to nobody failed)\n");
        }
    } else {
        snprintf(p, sizeof p, "%s/inner", d);
        CHECK_EQ_INT(ae_mkdirs(p), AE_ERR_IO);
        CHECK_STR_CONTAINS(ae_last_error(), "cannot create folder: Permission denied");
    }
    /* an existing folder on a read-only or full file system is fine; a new one is not */
    snprintf(d, sizeof d, "%s/mk/noinodes", test_tmpdir());
    mkdir(d, 0755);
    if (geteuid() == 0 && run_sh("mount -t tmpfs -o size=64k,nr_inodes=2 tmpfs '%s' 2>/dev/null", d) == 0) {
        snprintf(p, sizeof p, "%s/a", d);
        int made = 0;
        for (int i = 0; i < 8 && ae_mkdirs(p) == AE_OK; i++) /* until the inodes run out */
            made++, snprintf(p + strlen(p), sizeof p - strlen(p), "/a");
        CHECK(made < 8);
        CHECK_EQ_INT(errno, ENOSPC);
        CHECK_STR_CONTAINS(ae_last_error(), "cannot create folder");
        CHECK_STR_CONTAINS(ae_last_error(), "No space left on device");
        snprintf(p, sizeof p, "%s/a", d);
        CHECK_EQ_INT(ae_mkdirs(p), AE_OK); /* made before: fine */
        printf("mkdirs: full: %s\n", ae_last_error());
        run_sh("umount '%s'", d);
    } else {
        printf("mkdirs: full disk skipped (needs root to mount a tmpfs)\n");
    }
}

int main(void)
{
    test_mkdirs();
    test_keys();
    test_round_trip();
    test_concurrent();
    test_crash();
    test_corrupt();
    test_default_path();
    test_row_checks();
    test_moved_aside();
    test_full_disk();
    return test_summary();
}
