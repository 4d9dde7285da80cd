/*
 * cache.c — the SQLite embedding cache of cache.h.
 *
 * Schema (PRAGMA user_version = 2, for future migrations):
 *   embeddings(key TEXT, dim INTEGER, vec BLOB, created INTEGER, PRIMARY KEY(key, dim))
 *   WITHOUT ROWID
 * vec holds dim float32 little-endian, then the XXH64 of the key, dim and those bytes (8 bytes
 * LE): a row that does not check out (edited, damaged, or of version 1 without the sum) is a
 * miss, computed again and replaced, never a result.
 *
 * A cache never stops scoring: a damaged file (not SQLite, or SQLite reporting corruption) is
 * moved aside as <path>.corrupt-<time> and a new one started; a full disk or a lock held too
 * long stop the writes for the rest of the run; a read-only file or folder is opened read-only
 * (its rows used, nothing stored); a lookup that waited out the busy timeout (another process
 * holds the database exclusively) stops the lookups too, so a run waits for a lock at most
 * once on reading and once on writing; each is noted once, for the caller to warn
 * (ae_cache_warning). Opening writes nothing to a database that is set up already, so a
 * read-only or locked file opens at once. WAL mode lets readers go on while one process writes;
 * synchronous=NORMAL keeps every committed transaction across a process crash (only a power
 * loss may drop the last ones, never corrupting the file). Writers take the lock up front
 * (BEGIN IMMEDIATE) so two processes never deadlock upgrading read locks, and wait for each
 * other through the busy timeout.
 */
#define _GNU_SOURCE
#include "cache.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "error.h"
#include "fileio.h"
#include "hash.h"

#define BUSY_MS 30000
#define MAX_DIM (1 << 20) /* floats per embedding; keeps byte counts inside int */

struct ae_cache {
    sqlite3 *db;
    sqlite3_stmt *get, *put;
    char *path;
    int64_t hits, misses, bad_rows;
    int no_writes; /* a write failed, or read-only: the rest of the run computes without storing */
    int off;       /* a lookup failed: no more reads or writes */
    int broken;    /* SQLite reported corruption: off, and moved aside at close */
    char warning[1024];
};

#define SUM_BYTES 8

static uint64_t row_sum(const char *key, int32_t dim, const void *vec, size_t bytes)
{
    XXH64_state_t *st = XXH64_createState();
    if (!st) return 0;
    XXH64_reset(st, 0x61657374686574ULL);
    XXH64_update(st, key, strlen(key) + 1);
    uint8_t d[4] = {(uint8_t)dim, (uint8_t)(dim >> 8), (uint8_t)(dim >> 16), (uint8_t)(dim >> 24)};
    XXH64_update(st, d, 4);
    XXH64_update(st, vec, bytes);
    uint64_t h = XXH64_digest(st);
    XXH64_freeState(st);
    return h;
}

/* The first problem of this handle, kept for ae_cache_warning. */
static void note(ae_cache *c, const char *msg)
{
    if (c->warning[0]) return;
    size_t n = strlen(msg) < sizeof c->warning ? strlen(msg) : sizeof c->warning - 1;
    memcpy(c->warning, msg, n);
    c->warning[n] = 0;
}

const char *ae_cache_warning(const ae_cache *c) { return c && c->warning[0] ? c->warning : NULL; }

int ae_cache_is_sqlite(const char *path)
{
    char head[16] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    return n == sizeof head && !memcmp(head, "SQLite format 3", 16);
}

/* Renames a damaged database (and drops its -wal, -shm) to <path>.corrupt-<time>[-k] (a new
 * name: an earlier one is kept); the name into aside. */
static int move_aside(const char *path, char *aside, size_t cap)
{
    long long t = (long long)time(NULL);
    snprintf(aside, cap, "%s.corrupt-%lld", path, t);
    for (int k = 1; access(aside, F_OK) == 0 && k < 1000; k++) /* never over an earlier one */
        snprintf(aside, cap, "%s.corrupt-%lld-%d", path, t, k);
    if (rename(path, aside) != 0) return -1;
    char p[4200];
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}


int ae_cache_default_path(char *path, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg) n = snprintf(path, cap, "%s/aesthete/embeddings.sqlite3", xdg);
    else if (home && *home) n = snprintf(path, cap, "%s/.cache/aesthete/embeddings.sqlite3", home);
    else return ae_fail(AE_ERR_NOT_FOUND, "cache: neither XDG_CACHE_HOME nor HOME is set; "
                                          "give the cache path explicitly");
    if (n < 0 || (size_t)n >= cap) return ae_fail(AE_ERR_INVALID, "cache: path too long");
    return AE_OK;
}

/* The message for an SQLite failure on the database file. */
static int db_fail(ae_cache *c, const char *what)
{
    int code = sqlite3_extended_errcode(c->db) & 0xff;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        return ae_fail(AE_ERR_FORMAT,
                       "%s: not a usable embedding cache (%s); delete the file or run "
                       "'aesthete cache clear' to start a new one",
                       c->path, sqlite3_errmsg(c->db));
    if (code == SQLITE_NOMEM) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", c->path);
    return ae_fail(AE_ERR_IO, "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

/* Runs SQL without results; retries SQLITE_BUSY a bounded number of times for statements the
 * busy handler does not cover (changing the journal mode). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int exec(ae_cache *c, const char *sql)
{
    double t0 = now_s();
    int rc;
    for (;;) {
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL) & 0xff;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || now_s() - t0 > BUSY_MS / 1000.0) break;
        usleep(20000);
    }
    return rc == SQLITE_OK ? AE_OK : db_fail(c, sql);
}

static void disconnect(ae_cache *c);

void ae_cache_close(ae_cache *c)
{
    if (!c) return;
    disconnect(c);
    if (c->broken) { /* found damaged while in use: the next run starts a new one */
        char aside[4300];
        move_aside(c->path, aside, sizeof aside);
    }
    free(c->path);
    free(c);
}

static int open_db(const char *path, ae_cache **out);

int ae_cache_open(const char *path, ae_cache **out)
{
    char def[4096];
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_cache_open: no output handle");
    *out = NULL;
    int rc;
    int is_default = !path;
    if (!path) {
        if ((rc = ae_cache_default_path(def, sizeof def))) return rc;
        path = def;
    }
    if (!*path) return ae_fail(AE_ERR_INVALID, "cache: empty path");
    rc = open_db(path, out);
    /* damaged: moved aside and started anew; a file that is no database at all only where it
     * is the default cache (a --cache that names another file by mistake is left alone) */
    if (rc == AE_ERR_FORMAT && (is_default || ae_cache_is_sqlite(path))) {
        char why[600], aside[4300];
        snprintf(why, sizeof why, "%s", ae_last_error());
        if (move_aside(path, aside, sizeof aside) == 0 && (rc = open_db(path, out)) == AE_OK) {
            char msg[9000];
            const char *cause = strstr(why, "(") ? strstr(why, "(") : why;
            snprintf(msg, sizeof msg, "%s: the embedding cache was damaged %.*s; moved aside to %s, a new one started",
                     path, (int)strcspn(cause, ";"), cause, aside);
            note(*out, msg);
        }
    }
    return rc;
}

/* An integer from a one-value query, or -1. */
static int64_t query_int(ae_cache *c, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Sets up the database: WAL, the table, the version; each written only when missing, so
 * that a database set up already is not written to (read-only or locked, it opens at once). */
static int set_up(ae_cache *c)
{
    int rc;
    sqlite3_stmt *q = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) { /* unreadable, or locked past the busy timeout */
        rc = db_fail(c, "reading");
        sqlite3_finalize(q);
        return rc;
    }
    int wal = (mode = (const char *)sqlite3_column_text(q, 0)) && !strcmp(mode, "wal");
    sqlite3_finalize(q);
    if (!wal && (rc = exec(c, "PRAGMA journal_mode=WAL"))) return rc;
    if ((rc = exec(c, "PRAGMA synchronous=NORMAL"))) return rc; /* per connection: no write */
    if (query_int(c, "SELECT count(*) FROM sqlite_schema WHERE name='embeddings'") != 1 &&
        (rc = exec(c, "CREATE TABLE IF NOT EXISTS embeddings("
                      "key TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL, "
                      "created INTEGER NOT NULL, PRIMARY KEY(key, dim)) WITHOUT ROWID")))
        return rc;
    if (query_int(c, "PRAGMA user_version") != 2 && (rc = exec(c, "PRAGMA user_version=2"))) return rc;
    return AE_OK;
}

/* Opens path with flags and prepares the statements (the put only when writable); immutable:
 * read-only through a file: URI with immutable=1 (no -shm, no locks: for a WAL database in a
 * folder where its -shm cannot be made). */
static int connect(ae_cache *c, int flags, int immutable)
{
    int rc;
    char *uri = NULL;
    if (immutable) {
        size_t n = strlen(c->path);
        if (!(uri = malloc(3 * n + 32))) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", c->path);
        char *u = uri + sprintf(uri, "file:");
        for (const unsigned char *p = (const unsigned char *)c->path; *p; p++)
            u += strchr("?#%", *p) || *p < 0x20 || *p >= 0x7f ? sprintf(u, "%%%02X", *p) : sprintf(u, "%c", *p);
        sprintf(u, "?immutable=1");
        flags |= SQLITE_OPEN_URI;
    }
    int opened = sqlite3_open_v2(uri ? uri : c->path, &c->db, flags | SQLITE_OPEN_FULLMUTEX, NULL);
    free(uri);
    if (opened != SQLITE_OK)
        return c->db ? ae_fail(AE_ERR_IO, "%s: cannot open the embedding cache: %s", c->path,
                               sqlite3_errmsg(c->db))
                     : ae_fail(AE_ERR_NOMEM, "%s: out of memory", c->path);
    sqlite3_busy_timeout(c->db, BUSY_MS);
    sqlite3_extended_result_codes(c->db, 1);
    if (flags & SQLITE_OPEN_READONLY) {
        if (query_int(c, "SELECT count(*) FROM sqlite_schema WHERE name='embeddings'") != 1)
            return db_fail(c, "reading");
    } else if ((rc = set_up(c))) {
        return rc;
    }
    if (sqlite3_prepare_v3(c->db, "SELECT vec FROM embeddings WHERE key=?1 AND dim=?2", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->get, NULL) != SQLITE_OK ||
        (!(flags & SQLITE_OPEN_READONLY) &&
         sqlite3_prepare_v3(c->db,
                            "INSERT OR REPLACE INTO embeddings(key, dim, vec, created) "
                            "VALUES(?1, ?2, ?3, ?4)",
                            -1, SQLITE_PREPARE_PERSISTENT, &c->put, NULL) != SQLITE_OK))
        return db_fail(c, "preparing statements");
    return AE_OK;
}

static void disconnect(ae_cache *c)
{
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->put);
    sqlite3_close(c->db);
    c->get = c->put = NULL;
    c->db = NULL;
}

static int open_db(const char *path, ae_cache **out)
{
    *out = NULL;
    int rc;
    if ((rc = ae_mkdirs_for(path))) return rc;
    ae_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    rc = connect(c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0);
    /* a database we may not write (a read-only file, folder or mount): its rows are still
     * good; opened read-only, it serves lookups and stores nothing (not for a lock: that
     * waited out the busy timeout once already) */
    int code = c->db ? sqlite3_extended_errcode(c->db) & 0xff : 0;
    if (rc == AE_ERR_IO && access(path, F_OK) == 0 &&
        (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)) {
        char why[1200];
        snprintf(why, sizeof why, "%s", ae_last_error());
        disconnect(c);
        int ro = connect(c, SQLITE_OPEN_READONLY, 0);
        if (ro != AE_OK && ro != AE_ERR_NOMEM) disconnect(c), ro = connect(c, SQLITE_OPEN_READONLY, 1);
        if (ro == AE_OK) {
            char msg[2600], cause[1300], *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
            if (slash) slash == dir ? (void)(slash[1] = 0) : (void)(*slash = 0);
            if (access(path, W_OK) != 0) snprintf(cause, sizeof cause, "%s", strerror(errno));
            else if (dir && access(slash ? dir : ".", W_OK) != 0) snprintf(cause, sizeof cause, "its folder: %s", strerror(errno));
            else snprintf(cause, sizeof cause, "%s", strncmp(why, path, strlen(path)) ? why : why + strlen(path) + 2);
            free(dir);
            snprintf(msg, sizeof msg, "%s: the embedding cache is read-only here (%s); its embeddings are used, new ones are not kept",
                     path, cause);
            note(c, msg);
            c->no_writes = 1;
            rc = AE_OK;
        } else {
            ae_fail(AE_ERR_IO, "%s", why); /* the first failure says more */
        }
    }
    if (rc) {
        ae_cache_close(c);
        return rc;
    }
    *out = c;
    return AE_OK;
}

void ae_cache_key_from_hash(const char content_sha256[65], const char *fingerprint,
                            const char *opts, char key[65])
{
    /* domain-separated, each field ends with a newline (none of them may contain one: the
     * fingerprint is hex and the options are name=value pairs) */
    ae_sha256 h;
    uint8_t d[32];
    ae_sha256_init(&h);
    ae_sha256_update(&h, "aesthete-embedding-v1\n", 22);
    ae_sha256_update(&h, content_sha256, strlen(content_sha256));
    ae_sha256_update(&h, "\n", 1);
    if (fingerprint) ae_sha256_update(&h, fingerprint, strlen(fingerprint));
    ae_sha256_update(&h, "\n", 1);
    if (opts) ae_sha256_update(&h, opts, strlen(opts));
    ae_sha256_update(&h, "\n", 1);
    ae_sha256_final(&h, d);
    ae_sha256_tohex(d, key);
}

void ae_cache_key(const void *bytes, size_t n, const char *fingerprint, const char *opts,
                  char key[65])
{
    char content[65];
    ae_sha256_hex(bytes, n, content);
    ae_cache_key_from_hash(content, fingerprint, opts, key);
}

/* float32 <-> little-endian bytes (a plain copy on little-endian hosts). */
static void to_le(void *dst, const float *src, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        for (int b = 0; b < 4; b++) d[4 * i + b] = (uint8_t)(u >> (8 * b));
    }
#else
    memcpy(dst, src, n * 4);
#endif
}

static void from_le(float *dst, const void *src, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        for (int b = 0; b < 4; b++) u |= (uint32_t)s[4 * i + b] << (8 * b);
        memcpy(&dst[i], &u, 4);
    }
#else
    memcpy(dst, src, n * 4);
#endif
}

/* After an SQLite failure: noted once; corruption stops all use, anything else the writes. */
static int use_failed(ae_cache *c, const char *what)
{
    int code = sqlite3_extended_errcode(c->db) & 0xff;
    int rc = db_fail(c, what);
    char msg[1200];
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
        c->broken = c->off = 1;
        snprintf(msg, sizeof msg, "%s: the embedding cache is damaged (%s); not used for the rest of this run, moved aside at its end",
                 c->path, sqlite3_errmsg(c->db));
    } else if (!strcmp(what, "reading")) { /* e.g. locked past the busy timeout */
        c->off = 1;
        snprintf(msg, sizeof msg, "%s: cannot read the embedding cache (%s); not used for the rest of this run",
                 c->path, sqlite3_errmsg(c->db));
    } else {
        c->no_writes = 1;
        snprintf(msg, sizeof msg, "%s: cannot store embeddings (%s: %s); results are computed but not kept for the rest of this run",
                 c->path, what, sqlite3_errmsg(c->db));
    }
    note(c, msg);
    return rc;
}

/* A row that does not check out: counted, noted once. */
static void bad_row(ae_cache *c)
{
    char msg[1200];
    if (c->bad_rows++ == 0) {
        snprintf(msg, sizeof msg, "%s: a stored embedding failed its check (edited, damaged, or from another file); "
                                  "computed again, never used", c->path);
        note(c, msg);
    }
}

int ae_cache_get(ae_cache *c, const char *key, float *out, int32_t dim)
{
    if (!c || !key || !out || dim <= 0 || dim > MAX_DIM) return ae_fail(AE_ERR_INVALID, "cache: invalid lookup");
    if (c->off) return c->misses++, 0;
    sqlite3_stmt *st = c->get;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, dim);
    int rc = sqlite3_step(st), hit = 0;
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        /* a row of the wrong length or whose sum does not check out is a miss; the next put
         * replaces it */
        if (blob && len == dim * 4 + SUM_BYTES) {
            uint64_t want = 0;
            for (int b = 0; b < SUM_BYTES; b++) want |= (uint64_t)((const uint8_t *)blob)[dim * 4 + b] << (8 * b);
            if (row_sum(key, dim, blob, (size_t)dim * 4) == want) {
                from_le(out, blob, (size_t)dim);
                hit = 1;
            } else {
                bad_row(c);
            }
        } else if (blob && len != dim * 4) { /* a version-1 row is merely old */
            bad_row(c);
        }
    } else if (rc != SQLITE_DONE) {
        int r = use_failed(c, "reading");
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (hit) c->hits++;
    else c->misses++;
    return hit;
}

int ae_cache_put_many(ae_cache *c, const char *const *keys, const float *vecs, int32_t n,
                      int32_t dim)
{
    if (!c || n < 0 || dim <= 0 || dim > MAX_DIM || (n > 0 && (!keys || !vecs)))
        return ae_fail(AE_ERR_INVALID, "cache: invalid store");
    if (n == 0 || c->off || c->no_writes) return AE_OK; /* noted once already */
    size_t bytes = (size_t)dim * 4 + SUM_BYTES;
    uint8_t *blob = malloc(bytes);
    if (!blob) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", c->path);
    int rc = exec(c, "BEGIN IMMEDIATE");
    if (rc) {
        free(blob);
        return use_failed(c, "locking for a write");
    }
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *st = c->put;
    for (int32_t i = 0; i < n && !rc; i++) {
        if (!keys[i]) {
            rc = ae_fail(AE_ERR_INVALID, "cache: key %d is NULL", i);
            break;
        }
        to_le(blob, vecs + (size_t)i * dim, (size_t)dim);
        uint64_t sum = row_sum(keys[i], dim, blob, (size_t)dim * 4);
        for (int b = 0; b < SUM_BYTES; b++) blob[(size_t)dim * 4 + b] = (uint8_t)(sum >> (8 * b));
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, dim);
        sqlite3_bind_blob(st, 3, blob, (int)bytes, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        if (sqlite3_step(st) != SQLITE_DONE) rc = use_failed(c, "writing");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    free(blob);
    if (!rc && (rc = exec(c, "COMMIT"))) use_failed(c, "committing");
    if (rc) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL); /* keeps the first error */
    return rc;
}

int ae_cache_put(ae_cache *c, const char *key, const float *vec, int32_t dim)
{
    return ae_cache_put_many(c, &key, vec, 1, dim);
}

static int64_t file_size(const char *path, const char *suffix)
{
    char p[4200];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    struct stat sb;
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int ae_cache_stats_get(ae_cache *c, ae_cache_stats *st)
{
    if (!c || !st) return ae_fail(AE_ERR_INVALID, "cache: invalid stats call");
    memset(st, 0, sizeof *st);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT count(*), coalesce(sum(max(length(vec) - 8, 0)), 0) FROM embeddings",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(c, "counting");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        st->entries = sqlite3_column_int64(q, 0);
        st->vec_bytes = sqlite3_column_int64(q, 1);
    }
    int r = rc == SQLITE_ROW ? AE_OK : db_fail(c, "counting");
    sqlite3_finalize(q);
    st->file_bytes = file_size(c->path, "") + file_size(c->path, "-wal");
    st->hits = c->hits;
    st->misses = c->misses;
    st->bad_rows = c->bad_rows;
    st->path = c->path;
    return r;
}

int ae_cache_clear(ae_cache *c)
{
    if (!c) return ae_fail(AE_ERR_INVALID, "cache: invalid clear call");
    int rc = exec(c, "DELETE FROM embeddings");
    if (rc) return rc;
    /* giving the space back is best effort: another process may be reading */
    sqlite3_exec(c->db, "VACUUM", NULL, NULL, NULL);
    sqlite3_exec(c->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    return AE_OK;
}

int ae_cache_remove_files(const char *path)
{
    char def[4096];
    int rc;
    if (!path) {
        if ((rc = ae_cache_default_path(def, sizeof def))) return rc;
        path = def;
    }
    const char *suffix[3] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        if (unlink(p) != 0 && errno != ENOENT)
            return ae_fail(AE_ERR_IO, "%s: cannot remove: %s", p, strerror(errno));
    }
    return AE_OK;
}
