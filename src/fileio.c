/*
 * fileio.c — opening files named from outside without ever blocking on a FIFO (fileio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fileio.h"

int ae_file_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

FILE *ae_file_fopen(const char *path)
{
    int fd = ae_file_open(path);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}
