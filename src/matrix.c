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

/* The header of a .npy file of size bytes whose first bytes are buf[0, n): the item size (4
 * or 2), rows, columns and the offset of the data. */
static int parse_npy_header(const unsigned char *buf, size_t n, size_t size, const char *path, int *item_out,
                            long long *rows, long long *cols, size_t *data_off)
{
    if (n < 10) return ae_fail(AE_ERR_FORMAT, "%s: truncated .npy header", path);
    int major = buf[6];
    size_t hl, off;
    if (major == 1) hl = buf[8] | (size_t)buf[9] << 8, off = 10;
    else if (major == 2 || major == 3) {
        if (n < 12) return ae_fail(AE_ERR_FORMAT, "%s: truncated .npy header", path);
        hl = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24, off = 12;
    } else return ae_fail(AE_ERR_UNSUPPORTED, "%s: .npy format version %d is not supported", path, major);
    if (hl > MAX_NPY_HEADER || hl > n - off)
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
    *item_out = item;
    *rows = r, *cols = c;
    *data_off = off + hl;
    return AE_OK;
}

/* pread of exactly n bytes at off: AE_OK, or AE_ERR_IO when the file is shorter than it was
 * (changed while being read) or unreadable */
static int read_exact(int fd, void *dst, size_t n, off_t off, const char *path)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = pread(fd, (char *)dst + got, n - got, off + (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
        if (k == 0) return ae_fail(AE_ERR_IO, "%s: the file shrank while being read (changed under us)", path);
        got += (size_t)k;
    }
    return AE_OK;
}

/* The data of a .npy file into floats: float32 straight into them, float16 through a chunk */
static int read_npy_data(int fd, size_t off, int item, long long r, long long c, const char *path, float **data)
{
    size_t count = (size_t)r * (size_t)c;
    float *out = malloc(sizeof(float) * count + 1);
    if (!out) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    int rc = AE_OK;
    if (item == 4) {
        rc = read_exact(fd, out, 4 * count, (off_t)off, path);
    } else {
        enum { CHUNK = 1 << 18 };
        uint16_t *h = malloc(2 * CHUNK);
        if (!h) rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; rc == AE_OK && i < count; i += CHUNK) {
            size_t k = count - i < CHUNK ? count - i : CHUNK;
            if ((rc = read_exact(fd, h, 2 * k, (off_t)(off + 2 * i), path)) != AE_OK) break;
            for (size_t j = 0; j < k; j++) {
                const unsigned char *b = (const unsigned char *)&h[j];
                out[i + j] = half_to_float((uint16_t)(b[0] | b[1] << 8));
            }
        }
        free(h);
    }
    if (rc != AE_OK) free(out);
    else *data = out;
    return rc;
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
    /* read, never mapped (a file truncated while in use cannot fault a mapping): the .npy header
     * from the first bytes and its data straight into the floats returned; pickles and raw
     * files whole */
    unsigned char head[12 + MAX_NPY_HEADER];
    size_t nhead = size < sizeof head ? size : sizeof head;
    int rc = read_exact(fd, head, nhead, 0, path);
    size_t plen = strlen(path);
    int pickled = (plen > 4 && !strcmp(path + plen - 4, ".pkl")) || (plen > 7 && !strcmp(path + plen - 7, ".pickle"));
    if (rc != AE_OK) {
    } else if (nhead >= 6 && !memcmp(head, "\x93NUMPY", 6)) {
        int item = 0;
        long long r = 0, c = 0;
        size_t off = 0;
        rc = parse_npy_header(head, nhead, size, path, &item, &r, &c, &off);
        if (rc == AE_OK) rc = read_npy_data(fd, off, item, r, c, path, data);
        if (rc == AE_OK) *rows = (int32_t)r, *cols = (int32_t)c;
        if (rc == AE_OK && dim > 0 && *cols != dim)
            rc = ae_fail(AE_ERR_FORMAT, "%s: %d-dimensional rows, expected %d", path, *cols, dim);
    } else if (pickled || (dim <= 0 && size >= 3 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)) {
        /* a pickle by its name, or by its look (PROTO 2..5 first, STOP last) where a raw file
         * could not be read anyway (no dimension given): raw floats may begin with any bytes */
        unsigned char *buf = malloc(size + 1);
        rc = buf ? read_exact(fd, buf, size, 0, path) : ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
        if (rc == AE_OK && !pickled && buf[size - 1] != '.')
            rc = ae_fail(AE_ERR_INVALID, "%s: raw float32 needs a known dimension", path);
        if (rc == AE_OK) rc = read_pickled(buf, size, path, dim, data, rows, cols);
        free(buf);
    } else if (dim <= 0) {
        rc = ae_fail(AE_ERR_INVALID, "%s: raw float32 needs a known dimension", path);
    } else if (size == 0 || size % (4 * (size_t)dim)) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: %zu bytes is not a whole number of %d-float rows", path, size, dim);
    } else if (size / (4 * (size_t)dim) > INT32_MAX) {
        rc = ae_fail(AE_ERR_TOO_LARGE, "%s: more than %d rows", path, INT32_MAX);
    } else {
        *data = malloc(size);
        rc = *data ? read_exact(fd, *data, size, 0, path) : ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
        if (rc == AE_OK) {
            *rows = (int32_t)(size / (4 * (size_t)dim));
            *cols = dim;
        } else {
            free(*data);
            *data = NULL;
        }
    }
    close(fd);
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
