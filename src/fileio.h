/*
 * fileio.h — opening a file named from outside for reading, safely.
 *
 * A path on a command line or in a list may name a FIFO that no process writes to; a plain
 * open() or fopen() waits on it forever. These open with O_NONBLOCK (which never waits) and
 * then switch the descriptor back to blocking reads, so a pipe that has a writer (`<(cmd)`)
 * reads normally and one without reads as empty. O_CLOEXEC throughout: the library may run
 * in a program that starts others. ae_file_read reads a whole file into memory under a cap,
 * for the parsers of small text inputs (rating and label lists).
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

#endif
