/*
 * fileio.h — opening a file named from outside for reading, safely.
 *
 * A path on a command line or in a list may name a FIFO that no process writes to; a plain
 * open() or fopen() waits on it forever. These open with O_NONBLOCK (which never waits) and
 * then switch the descriptor back to blocking reads, so a pipe that has a writer (`<(cmd)`)
 * reads normally and one without reads as empty. O_CLOEXEC throughout: the library may run
 * in a program that starts others.
 */
#ifndef AE_FILEIO_H
#define AE_FILEIO_H

#include <stdio.h>

/* A read-only descriptor for path, or -1 with errno set. */
int ae_file_open(const char *path);
/* The same as a stdio stream ("rb"), or NULL with errno set. */
FILE *ae_file_fopen(const char *path);

#endif
