/*
 * fileio.c — opening files named from outside without ever blocking on a FIFO, reading one
 * whole under a cap, making folders (mkdir -p), and writing files through a temporary file and a rename (fileio.h).
 */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
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

/* mkdir -p of the first n bytes of path. */
static int mkdirs_n(const char *path, size_t n)
{
    while (n > 1 && path[n - 1] == '/') n--; /* trailing slashes */
    if (n == 0 || (n == 1 && path[0] == '/')) return AE_OK;
    char *p = malloc(n + 1);
    if (!p) {
        errno = ENOMEM;
        return ae_fail(AE_ERR_NOMEM, "%.*s: out of memory", (int)n, path);
    }
    memcpy(p, path, n);
    p[n] = 0;
    int rc = AE_OK;
    for (size_t i = 1; i <= n && rc == AE_OK; i++) {
        if (i < n && (p[i] != '/' || p[i - 1] == '/')) continue; /* each folder once */
        p[i] = 0;
        struct stat st;
        if (mkdir(p, 0777) != 0) {
            int e = errno;
            /* there already (EEXIST, or EACCES/EROFS on a folder we may not write) is fine;
             * a file in the way is not */
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                if (e == EEXIST) e = ENOTDIR;
                if (i == n) rc = ae_fail(AE_ERR_IO, "%s: cannot create folder: %s", p, strerror(e));
                else rc = ae_fail(AE_ERR_IO, "%.*s: cannot create folder %s: %s", (int)n, path, p, strerror(e));
                errno = e;
            }
        }
        if (i < n) p[i] = '/';
    }
    free(p);
    return rc;
}

int ae_mkdirs(const char *dir)
{
    if (!dir) return ae_fail(AE_ERR_INVALID, "ae_mkdirs: no folder");
    return mkdirs_n(dir, strlen(dir));
}

int ae_mkdirs_for(const char *path)
{
    if (!path) return ae_fail(AE_ERR_INVALID, "ae_mkdirs_for: no path");
    const char *slash = strrchr(path, '/');
    return slash ? mkdirs_n(path, slash == path ? 1 : (size_t)(slash - path)) : AE_OK;
}

int ae_file_atomic_open(const char *path, ae_atomic_file *af)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "ae_file_atomic_open: no path");
    size_t n = strlen(path);
    af->path = malloc(n + 1);
    af->tmp = malloc(n + sizeof ".tmp.XXXXXX");
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        memset(af, 0, sizeof *af);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkostemp(af->tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(af->path);
        free(af->tmp);
        memset(af, 0, sizeof *af);
        return ae_fail(AE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    (void)fchmod(fd, 0644); /* mkstemp's 0600 would hide a plot or a head from other users */
    if (!(af->fp = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        ae_file_atomic_abort(af);
        return ae_fail(AE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return AE_OK;
}

int ae_file_atomic_commit(ae_atomic_file *af)
{
    int e = 0;
    if (ferror(af->fp)) e = errno ? errno : EIO;
    else if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0) e = errno;
    if (fclose(af->fp) != 0 && !e) e = errno;
    af->fp = NULL;
    if (!e && rename(af->tmp, af->path) != 0) e = errno;
    if (e) {
        int rc = ae_fail(AE_ERR_IO, "%s: cannot write: %s", af->path, strerror(e));
        ae_file_atomic_abort(af);
        return rc;
    }
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
    return AE_OK;
}

void ae_file_atomic_abort(ae_atomic_file *af)
{
    int e = errno;
    if (af->fp) fclose(af->fp);
    if (af->tmp) unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
    errno = e;
}

int ae_file_read(const char *path, size_t max_bytes, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd = ae_file_open(path);
    if (fd < 0)
        return ae_fail(errno == ENOENT ? AE_ERR_NOT_FOUND : AE_ERR_IO, "%s: %s", path,
                       strerror(errno));
    if (max_bytes > SIZE_MAX / 4) max_bytes = SIZE_MAX / 4; /* cap + 1 never wraps */
    struct stat st;
    int bad = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (bad) {
        close(fd);
        return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(bad));
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %lld bytes, larger than the limit of %zu bytes", path,
                       (long long)st.st_size, max_bytes);
    }
    /* a regular file: its size (+1 to see the end at once); a pipe: grow, never past the cap */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
    if (cap > max_bytes + 1) cap = max_bytes + 1;
    char *buf = malloc(cap + 1);
    int rc = AE_OK;
    if (!buf) {
        close(fd);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (n > max_bytes) {
                rc = ae_fail(AE_ERR_TOO_LARGE, "%s: larger than the limit of %zu bytes", path,
                             max_bytes);
                break;
            }
            size_t nc = cap > (max_bytes + 1) / 2 ? max_bytes + 1 : cap * 2;
            char *t = realloc(buf, nc + 1);
            if (!t) { rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path); break; }
            buf = t;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { rc = ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno)); break; }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd); /* a file that grew past the cap while being read was stopped above */
    if (rc != AE_OK) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return AE_OK;
}
