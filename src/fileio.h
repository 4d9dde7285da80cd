/*
 * fileio.h — opening a file named from outside for reading, safely; writing a file whole or
 * not at all.
 *
 * A path on a command line or in a list may name a FIFO that no process writes to; a plain
 * open() or fopen() waits on it forever. These open with O_NONBLOCK (which never waits) and
 * then switch the descriptor back to blocking reads, so a pipe that has a writer (`<(cmd)`)
 * reads normally and one without reads as empty. O_CLOEXEC throughout: the library may run
 * in a program that starts others. ae_file_read reads a whole file into memory under a cap,
 * for the parsers of small text inputs (rating and label lists).
 *
 * Folders (ae_mkdirs): mkdir -p, for every place that makes the folders of a path it writes
 * (the cache, the kept banks, the hub cache, the CLI's moves).
 *
 * Writing (ae_file_atomic_*): a temporary file beside the target ("<path>.tmp.XXXXXX", same
 * folder so the rename stays on one file system) is written through af.fp, then flushed,
 * synced and renamed over the target, so a reader sees the old file or the new one, never half
 * of one, and a failure at any step leaves no temporary file behind:
 *
 *     ae_atomic_file af;
 *     if ((rc = ae_file_atomic_open("plot.png", &af)) != AE_OK) return rc;
 *     if (fwrite(data, 1, n, af.fp) != n) { ae_file_atomic_abort(&af); return ae_fail(...); }
 *     return ae_file_atomic_commit(&af);  // "plot.png: cannot write: No space left on device"
 */
#ifndef AE_FILEIO_H
#define AE_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* A read-only descriptor for path, or -1 with errno set. */
int ae_file_open(const char *path);
/* The same as a stdio stream ("rb"), or NULL with errno set. */
FILE *ae_file_fopen(const char *path);
/* Reads the whole of path (a regular file, or a pipe read to its end) into *data: size + 1
 * bytes, the last a NUL not counted in *size; the caller frees *data. A regular file over
 * max_bytes is refused from its size, before anything is read; a pipe is refused once it has
 * given more. Returns AE_OK, AE_ERR_NOT_FOUND (no such file), AE_ERR_IO (unreadable, a
 * folder), AE_ERR_TOO_LARGE or AE_ERR_NOMEM, with ae_last_error() "PATH: cause"; on failure
 * *data is NULL and *size 0. */
int ae_file_read(const char *path, size_t max_bytes, char **data, size_t *size);

/* Creates the folder dir and those above it that are missing (mode 0777 less the umask, as
 * mkdir -p); folders that exist are fine, trailing and doubled slashes too, "" and "/" are
 * nothing to do. Returns AE_OK, AE_ERR_IO with errno set and ae_last_error() "DIR: cannot
 * create folder: <cause>" (or "DIR: cannot create folder PART: <cause>" when a folder above it
 * failed, e.g. a file in the way: "Not a directory"), or AE_ERR_NOMEM. */
int ae_mkdirs(const char *dir);
/* The same for the folder that holds the file path (its part before the last '/'; nothing to
 * do for a bare name). */
int ae_mkdirs_for(const char *path);

typedef struct ae_atomic_file {
    FILE *fp;   /* write the content here ("wb") */
    char *path; /* the target (a copy) */
    char *tmp;  /* the temporary file */
} ae_atomic_file;

/* Creates the temporary file for path (mode 0644). Returns AE_OK, AE_ERR_IO ("path: cannot
 * write: <cause>", e.g. a missing folder) or AE_ERR_NOMEM; on failure nothing is left to free. */
int ae_file_atomic_open(const char *path, ae_atomic_file *af);
/* Flushes, syncs and closes af->fp and renames the temporary file over the target. A write
 * error on af->fp (ferror), a failed flush, sync, close or rename gives AE_ERR_IO "path: cannot
 * write: <cause>" and removes the temporary file. af is released either way. */
int ae_file_atomic_commit(ae_atomic_file *af);
/* Closes and removes the temporary file (the target is untouched) and releases af; for a
 * caller whose own writing failed. Keeps errno and the error detail. */
void ae_file_atomic_abort(ae_atomic_file *af);

#endif
