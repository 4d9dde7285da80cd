/*
 * matrix.c — reading precomputed embeddings: NumPy .npy files (float32 or float16, C order,
 * shape [N, D] or [D], as clip-retrieval writes them), pickled NumPy arrays (.pkl / .pickle, or
 * a pickle's look when no dimension is given, as pickle.dump of an ndarray writes them: the article's centroid
 * files; read by pickle.c, which executes nothing) and raw float32 files (.f32 or any other
 * name: rows of a given dimension).
 *
 * .npy layout: "\x93NUMPY", major, minor, header length (uint16 LE for v1, uint32 LE for v2/3),
 * an ASCII Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), },
 * padded with spaces and a newline, then the data.
 */
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "pickle.h"
#include "fileio.h"

#define MAX_NPY_HEADER 65536

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalise */
            exp = 113;
            while (!(man & 1024)) man <<= 1, exp--;
            bits = sign | exp << 23 | (man & 1023) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 112) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* value of 'key' in the header dict: pointer just after "'key':" and spaces, or NULL */
static const char *dict_value(const char *h, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static int parse_npy(const unsigned char *buf, size_t size, const char *path, float **data,
                     int32_t *rows, int32_t *cols)
{
    if (size < 10) return ae_fail(AE_ERR_FORMAT, "%s: truncated .npy header", path);
    int major = buf[6];
    size_t hl, off;
    if (major == 1) hl = buf[8] | (size_t)buf[9] << 8, off = 10;
    else if (major == 2 || major == 3) {
        if (size < 12) return ae_fail(AE_ERR_FORMAT, "%s: truncated .npy header", path);
        hl = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24, off = 12;
    } else return ae_fail(AE_ERR_UNSUPPORTED, "%s: .npy format version %d is not supported", path, major);
    if (hl > MAX_NPY_HEADER || hl > size - off)
        return ae_fail(AE_ERR_FORMAT, "%s: .npy header length %zu exceeds the file", path, hl);
    char h[MAX_NPY_HEADER + 1];
    memcpy(h, buf + off, hl);
    h[hl] = 0;
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"), *sh = dict_value(h, "shape");
    if (!d || !fo || !sh) return ae_fail(AE_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape", path);
    int item;
    if (!strncmp(d, "'<f4'", 5)) item = 4;
    else if (!strncmp(d, "'<f2'", 5)) item = 2;
    else {
        char dt[16] = {0};
        sscanf(d, "'%15[^']", dt);
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (float32 or float16, little-endian)", path, dt);
    }
    if (strncmp(fo, "False", 5)) return ae_fail(AE_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", path);
    if (*sh != '(') return ae_fail(AE_ERR_FORMAT, "%s: bad shape in .npy header", path);
    long long dims[3];
    int nd = 0;
    const char *p = sh + 1;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p) || nd == 3) return ae_fail(AE_ERR_UNSUPPORTED, "%s: shape must be (N, D) or (D,)", path);
        char *e;
        errno = 0;
        dims[nd++] = strtoll(p, &e, 10);
        if (errno || dims[nd - 1] > (1LL << 31) - 1) return ae_fail(AE_ERR_FORMAT, "%s: shape too large", path);
        p = e;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') return ae_fail(AE_ERR_FORMAT, "%s: bad shape in .npy header", path);
    }
    if (nd < 1 || nd > 2) return ae_fail(AE_ERR_UNSUPPORTED, "%s: shape must be (N, D) or (D,), got %d dimensions", path, nd);
    long long r = nd == 2 ? dims[0] : 1, c = nd == 2 ? dims[1] : dims[0];
    if (c <= 0) return ae_fail(AE_ERR_FORMAT, "%s: zero-width embeddings", path);
    /* as a pickled array or a raw file: no rows is no embeddings, not an empty success */
    if (r <= 0) return ae_fail(AE_ERR_FORMAT, "%s: shape (%lld, %lld) has no rows", path, r, c);
    size_t need = (size_t)r * (size_t)c * (size_t)item, have = size - off - hl;
    if (need != have)
        return ae_fail(AE_ERR_FORMAT, "%s: shape (%lld, %lld) needs %zu data bytes, the file has %zu", path, r, c, need, have);
    float *out = malloc(sizeof(float) * (size_t)(r * c) + 1);
    if (!out) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    const unsigned char *src = buf + off + hl;
    for (size_t i = 0; i < (size_t)(r * c); i++) {
        if (item == 4) memcpy(&out[i], src + 4 * i, 4);
        else out[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    }
    *data = out;
    *rows = (int32_t)r;
    *cols = (int32_t)c;
    return AE_OK;
}

/* A pickled NumPy array of shape [D] or [N, D] (restricted unpickler: pickle.c). */
static int read_pickled(const unsigned char *buf, size_t size, const char *path, int32_t dim, float **data,
                        int32_t *rows, int32_t *cols)
{
    pk_tensor t = {0};
    int rc = pk_numpy_load_mem(buf, size, path, &t);
    if (rc != AE_OK) return rc;
    int64_t r = t.ndim == 1 ? 1 : t.ndim == 2 ? t.shape[0] : 0, c = t.ndim >= 1 ? t.shape[t.ndim - 1] : 0;
    if (r <= 0 || c <= 0 || r > INT32_MAX || c > INT32_MAX)
        rc = ae_fail(AE_ERR_FORMAT, "%s: a pickled array of %d dimensions; expected [D] or [N, D]", path, t.ndim);
    else if (dim > 0 && c != dim)
        rc = ae_fail(AE_ERR_FORMAT, "%s: %lld-dimensional rows, expected %d", path, (long long)c, dim);
    if (rc == AE_OK) {
        *data = t.data, t.data = NULL;
        *rows = (int32_t)r, *cols = (int32_t)c;
    }
    pk_tensor_free(&t);
    return rc;
}

int ae_read_matrix(const char *path, int32_t dim, float **data, int32_t *rows, int32_t *cols)
{
    if (!data || !rows || !cols) return ae_fail(AE_ERR_INVALID, "ae_read_matrix: invalid arguments");
    *data = NULL;
    *rows = *cols = 0;
    if (!path) return ae_fail(AE_ERR_INVALID, "ae_read_matrix: invalid arguments");
    int fd = ae_file_open(path);
    if (fd < 0) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ae_fail(AE_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    /* mapped, not read: the file's bytes are copied once, into the floats returned */
    const unsigned char *buf = NULL;
    if (size > 0) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ae_fail(e == ENOMEM ? AE_ERR_NOMEM : AE_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        buf = m;
    }
    close(fd);
    int rc;
    size_t plen = strlen(path);
    /* a pickle by its name, or by its look (PROTO 2..5 first, STOP last) where a raw file
     * could not be read anyway (no dimension given): raw floats may begin with any bytes */
    int pickled = (plen > 4 && !strcmp(path + plen - 4, ".pkl")) || (plen > 7 && !strcmp(path + plen - 7, ".pickle")) ||
                  (dim <= 0 && size >= 3 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5 && buf[size - 1] == '.');
    if (size >= 6 && !memcmp(buf, "\x93NUMPY", 6)) {
        rc = parse_npy(buf, size, path, data, rows, cols);
        if (rc == AE_OK && dim > 0 && *cols != dim)
            rc = ae_fail(AE_ERR_FORMAT, "%s: %d-dimensional rows, expected %d", path, *cols, dim);
    } else if (pickled) {
        rc = read_pickled(buf, size, path, dim, data, rows, cols);
    } else if (dim <= 0) {
        rc = ae_fail(AE_ERR_INVALID, "%s: raw float32 needs a known dimension", path);
    } else if (size == 0 || size % (4 * (size_t)dim)) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: %zu bytes is not a whole number of %d-float rows", path, size, dim);
    } else if (size / (4 * (size_t)dim) > INT32_MAX) {
        rc = ae_fail(AE_ERR_TOO_LARGE, "%s: more than %d rows", path, INT32_MAX);
    } else {
        *data = malloc(size);
        rc = *data ? AE_OK : ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
        if (rc == AE_OK) {
            memcpy(*data, buf, size);
            *rows = (int32_t)(size / (4 * (size_t)dim));
            *cols = dim;
        }
    }
    if (buf) munmap((void *)buf, size);
    if (rc == AE_OK) {
        for (size_t i = 0; i < (size_t)*rows * (size_t)*cols; i++)
            if (!isfinite((*data)[i])) {
                rc = ae_fail(AE_ERR_FORMAT, "%s: row %zu has a non-finite value", path, i / (size_t)*cols);
                break;
            }
    }
    if (rc != AE_OK) free(*data), *data = NULL, *rows = *cols = 0;
    return rc;
}
