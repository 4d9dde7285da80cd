/*
 * cache.h — the embedding cache: image embeddings kept in an SQLite database so that scoring
 * the same files again (with the same model and preprocessing) skips decoding and encoding.
 *
 * Location: $XDG_CACHE_HOME/aesthete/embeddings.sqlite3, else
 * ~/.cache/aesthete/embeddings.sqlite3 (folders created), or any path given to ae_cache_open.
 * An entry is keyed by (key, dim): key is ae_cache_key()'s SHA-256 over the image file's bytes,
 * the model fingerprint and the options string (the pipeline's: the preprocessing options and,
 * when not fp32, the precision), so that any change of either gives a new key; the value is dim float32 (little-endian). Several aesthete processes may use one
 * database at once (WAL mode, a busy timeout, writes in IMMEDIATE transactions); a process
 * killed mid-write loses at most its current batch and never corrupts the file.
 * A handle is used by one thread at a time.
 */
#ifndef AE_APP_CACHE_H
#define AE_APP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ae_cache ae_cache;

/* The default database path (see above) into path (cap bytes). AE_ERR_NOT_FOUND when neither
 * XDG_CACHE_HOME nor HOME is known, AE_ERR_INVALID when it does not fit. */
int ae_cache_default_path(char *path, size_t cap);

/* Opens (creating if needed, with parent folders) the database at path, or at the default
 * path when path is NULL. *out is closed with ae_cache_close. A file that is not an SQLite
 * database gives AE_ERR_FORMAT and a message saying how to recover (ae_cache_remove_files /
 * "aesthete cache clear"), except where it is damaged SQLite or the default cache: that file
 * is moved aside as <path>.corrupt-<unix time>, a new cache is opened and ae_cache_warning
 * says so. */
int ae_cache_open(const char *path, ae_cache **out);
void ae_cache_close(ae_cache *c);

/* The cache key of an image: 64 lowercase hex digits + NUL, the SHA-256 over the SHA-256 of
 * the file's bytes, the model fingerprint (ae_model_info.fingerprint) and the preprocessing
 * options string (e.g. "exif=1"). Changing any of the three changes the key. */
void ae_cache_key(const void *bytes, size_t n, const char *fingerprint, const char *opts,
                  char key[65]);
/* The same from an already computed hex SHA-256 of the bytes (e.g. hashed while streaming). */
void ae_cache_key_from_hash(const char content_sha256[65], const char *fingerprint,
                            const char *opts, char key[65]);

/* Looks up key with dim floats; on a hit copies them into out. Returns 1 (hit), 0 (miss) or a
 * negative AE_ERR_*. A row that fails its check sum (edited, damaged, or of an older version)
 * is a miss. Counts hits and misses for ae_cache_stats. */
int ae_cache_get(ae_cache *c, const char *key, float *out, int32_t dim);

/* Stores n embeddings (vecs: n * dim floats, row i for keys[i]) in one transaction: all or
 * none. Existing entries are replaced. Waits for other writers (busy timeout 30 s). After a
 * failed write (a full disk, a read-only file, a lock held past the timeout) or corruption the
 * handle stores nothing more (AE_OK, nothing done) and ae_cache_warning says why. */
int ae_cache_put_many(ae_cache *c, const char *const *keys, const float *vecs, int32_t n,
                      int32_t dim);
int ae_cache_put(ae_cache *c, const char *key, const float *vec, int32_t dim);

typedef struct ae_cache_stats {
    int64_t entries;    /* rows in the database */
    int64_t vec_bytes;  /* bytes of stored embeddings */
    int64_t file_bytes; /* size of the database file and its WAL on disk */
    int64_t hits, misses; /* ae_cache_get results of this handle */
    int64_t bad_rows;   /* rows read that failed their check (dropped as misses) */
    const char *path;   /* the database file; valid until ae_cache_close */
} ae_cache_stats;

int ae_cache_stats_get(ae_cache *c, ae_cache_stats *st);

/* The first problem this handle met, as one line naming the cache and the cause ("...: the
 * embedding cache was damaged (...); moved aside to ....corrupt-..., a new one started",
 * "...: cannot store embeddings (writing: database or disk is full); ..."), or NULL: for the
 * caller to warn once. Scoring is never affected: what could not be read is computed. */
const char *ae_cache_warning(const ae_cache *c);

/* Deletes every entry and gives the space back to the file system. */
int ae_cache_clear(ae_cache *c);

/* 1 if the file at path starts with SQLite's magic ("SQLite format 3\0"): a database, perhaps
 * damaged, as opposed to a file some --cache names by mistake. */
int ae_cache_is_sqlite(const char *path);

/* Removes the database file and its -wal / -shm companions (path NULL: the default path);
 * the way out of a corrupt database. Missing files are not an error. */
int ae_cache_remove_files(const char *path);

#ifdef __cplusplus
}
#endif
#endif
