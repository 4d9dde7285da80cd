/*
 * safetensors.c — reading and writing the safetensors format of Hugging Face.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON, then the tensor data:
 *   {"__metadata__": {"format": "pt"},
 *    "text_model.x.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}, ...}
 * Offsets count from the first byte after the header. Reading maps the file read-only
 * (st_open), or reads only the header and keeps the file open for reading tensors one at a
 * time (st_open_header, st_read_f32: model weights, so that no page of the file stays
 * resident), and trusts nothing until the header has been checked: the header length against the file size and
 * ST_MAX_HEADER, the JSON (jansson, duplicate names refused), every entry's dtype, shape and
 * offsets (sizes computed with overflow checks), and that no two byte spans overlap. Only
 * then do the st_tensor data pointers point into the mapping. Tensors are kept sorted by
 * name so st_get is a binary search.
 *
 * Writing (st_write) produces float32 tensors with string metadata, the header padded with
 * spaces to a multiple of 8 as the Python library does, written to a temporary file in the
 * same folder and renamed over the target so readers never see half a file.
 */
#define _GNU_SOURCE
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"

/* In st_dtype order. The non-float types exist because older CLIP checkpoints store I64
 * position_ids buffers next to the weights; they must not make the file unreadable. */
static const char *dtype_names[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16",
                                    "I8",  "U64", "U32",  "U16", "U8",  "BOOL"};
static const size_t dtype_sizes[] = {4, 2, 2, 8, 8, 4, 2, 1, 8, 4, 2, 1, 1};
#define N_DTYPES ((int)(sizeof dtype_sizes / sizeof dtype_sizes[0]))

const char *st_dtype_name(st_dtype dt)
{
    return (unsigned)dt < (unsigned)N_DTYPES ? dtype_names[dt] : "?";
}

size_t st_dtype_size(st_dtype dt) { return (unsigned)dt < (unsigned)N_DTYPES ? dtype_sizes[dt] : 0; }

/* ---- reading ------------------------------------------------------------------------------ */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

const char *st_shape_str(char *buf, size_t cap, int32_t ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int32_t i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* Reads a JSON integer that must be >= 0 into *v. */
static int nonneg_int(const json_t *j, int64_t *v)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0) return 0;
    *v = (int64_t)json_integer_value(j);
    return 1;
}

/* Validates one header entry and fills t (name not set). data: the data section. */
static int parse_entry(const char *label, const char *name, const json_t *e, const uint8_t *data,
                       size_t data_size, uint64_t data_off, st_tensor *t, size_t *begin_out)
{
    if (!json_is_object(e))
        return ae_fail(AE_ERR_FORMAT, "%s: tensor %s: entry is not an object", label, name);

    const json_t *jd = json_object_get(e, "dtype");
    if (!json_is_string(jd))
        return ae_fail(AE_ERR_FORMAT, "%s: tensor %s: missing or non-string dtype", label, name);
    const char *ds = json_string_value(jd);
    int dt = -1;
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(ds, dtype_names[i]) == 0) dt = i;
    if (dt < 0)
        return ae_fail(AE_ERR_UNSUPPORTED,
                       "%s: tensor %s: dtype %.32s is not supported (F32, F16, BF16; integer "
                       "and F64 buffers are tolerated)",
                       label, name, ds);
    t->dtype = (st_dtype)dt;

    const json_t *js = json_object_get(e, "shape");
    if (!json_is_array(js))
        return ae_fail(AE_ERR_FORMAT, "%s: tensor %s: missing or non-array shape", label, name);
    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS)
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: tensor %s: shape has %zu dimensions (at most %d)",
                       label, name, nd, ST_MAX_DIMS);
    t->ndim = (int32_t)nd;
    /* numel and byte count, refusing anything that does not fit in int64 / size_t */
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        int64_t d;
        if (!nonneg_int(json_array_get(js, i), &d))
            return ae_fail(AE_ERR_FORMAT,
                           "%s: tensor %s: shape entry %zu is not a non-negative integer", label,
                           name, i);
        t->shape[i] = d;
        if (d != 0 && numel > (uint64_t)INT64_MAX / (uint64_t)d) overflow = 1;
        else numel *= (uint64_t)d;
    }
    char sb[200];
    /* an overflowing shape with a zero dimension elsewhere is still empty */
    for (size_t i = 0; i < nd; i++)
        if (t->shape[i] == 0) overflow = 0, numel = 0;
    if (overflow || numel > (uint64_t)SIZE_MAX / dtype_sizes[dt])
        return ae_fail(AE_ERR_FORMAT, "%s: tensor %s: shape %s overflows", label, name,
                       st_shape_str(sb, sizeof sb, t->ndim, t->shape));
    t->numel = (int64_t)numel;
    size_t need = (size_t)numel * dtype_sizes[dt];

    const json_t *jo = json_object_get(e, "data_offsets");
    int64_t b, en;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !nonneg_int(json_array_get(jo, 0), &b) ||
        !nonneg_int(json_array_get(jo, 1), &en))
        return ae_fail(AE_ERR_FORMAT,
                       "%s: tensor %s: data_offsets must be two non-negative integers [begin, end]",
                       label, name);
    if (b > en || (uint64_t)en > data_size)
        return ae_fail(AE_ERR_FORMAT,
                       "%s: tensor %s: data_offsets [%lld, %lld] outside the data (%zu bytes)",
                       label, name, (long long)b, (long long)en, data_size);
    if ((uint64_t)(en - b) != need)
        return ae_fail(AE_ERR_FORMAT,
                       "%s: tensor %s: data_offsets [%lld, %lld] span %lld bytes, shape %s %s "
                       "needs %zu",
                       label, name, (long long)b, (long long)en, (long long)(en - b),
                       st_shape_str(sb, sizeof sb, t->ndim, t->shape), dtype_names[dt], need);
    t->data = data ? data + b : NULL;
    t->nbytes = need;
    t->offset = data_off + (uint64_t)b;
    *begin_out = (size_t)b;
    return AE_OK;
}

static int parse_metadata(st_file *f, const json_t *m)
{
    if (!json_is_object(m))
        return ae_fail(AE_ERR_FORMAT, "%s: __metadata__ is not an object", f->label);
    size_t n = json_object_size(m);
    f->meta_keys = calloc(n + 1, sizeof *f->meta_keys);
    f->meta_vals = calloc(n + 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", f->label);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        if (!json_is_string(v))
            return ae_fail(AE_ERR_FORMAT, "%s: __metadata__ value of \"%.64s\" is not a string",
                           f->label, k);
        f->meta_keys[f->n_meta] = strdup(k);
        f->meta_vals[f->n_meta] = strdup(json_string_value(v));
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_vals[f->n_meta - 1])
            return ae_fail(AE_ERR_NOMEM, "%s: out of memory", f->label);
    }
    return AE_OK;
}

typedef struct span {
    size_t begin, end;
    int32_t idx;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* Checks the 8-byte header length of a file of f->size bytes (first8: its first 8 bytes, or
 * NULL if it has fewer) and returns it in *hlen. */
static int check_length(const st_file *f, const uint8_t *first8, uint64_t *hlen)
{
    const char *label = f->label;
    if (f->size < 8 || !first8)
        return ae_fail(AE_ERR_FORMAT, "%s: file is %zu bytes, too short for a safetensors header",
                       label, f->size);
    *hlen = le64(first8);
    if (*hlen > f->size - 8)
        return ae_fail(AE_ERR_FORMAT, "%s: header length %llu exceeds file size %zu", label,
                       (unsigned long long)*hlen, f->size);
    if (*hlen > ST_MAX_HEADER)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: header length %llu exceeds the limit of %u bytes",
                       label, (unsigned long long)*hlen, ST_MAX_HEADER);
    return AE_OK;
}

/* Parses and checks the JSON header hdr[0..hlen) of a file of f->size bytes (its length
 * already checked); f->label is set. data: the data section in memory, or NULL when only
 * the header was read (the tensors' data pointers stay NULL, their offsets are set). */
static int parse(st_file *f, const char *hdr, uint64_t hlen, const uint8_t *data)
{
    const char *label = f->label;
    size_t data_size = f->size - 8 - (size_t)hlen;
    f->header_size = hlen;

    json_error_t jerr;
    json_t *root = json_loadb(hdr, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ae_fail(AE_ERR_FORMAT, "%s: invalid JSON header: %s (line %d, column %d)", label,
                       jerr.text, jerr.line, jerr.column);
    int rc = AE_OK;
    span *spans = NULL;
    if (!json_is_object(root)) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: header is not a JSON object", label);
        goto done;
    }

    size_t n = json_object_size(root);
    const json_t *meta = json_object_get(root, "__metadata__");
    if (meta) n--;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    spans = calloc(n ? n : 1, sizeof *spans);
    if (!f->tensors || !spans) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", label);
        goto done;
    }
    if (meta && (rc = parse_metadata(f, meta)) != AE_OK) goto done;

    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st_tensor *t = &f->tensors[f->n_tensors];
        size_t begin = 0;
        if ((rc = parse_entry(label, key, val, data, data_size, 8 + hlen, t, &begin)) != AE_OK)
            goto done;
        if (!(t->name = strdup(key))) {
            rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", label);
            goto done;
        }
        spans[f->n_tensors] = (span){begin, begin + t->nbytes, f->n_tensors};
        f->n_tensors++;
    }

    /* byte spans must not overlap (empty tensors may sit anywhere) */
    qsort(spans, (size_t)f->n_tensors, sizeof *spans, cmp_span);
    size_t prev_end = 0;
    int32_t prev = -1;
    for (int32_t i = 0; i < f->n_tensors; i++) {
        if (spans[i].begin == spans[i].end) continue;
        if (prev >= 0 && spans[i].begin < prev_end) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensors %s [%zu, %zu] and %s [%zu, %zu] overlap",
                         label, f->tensors[spans[prev].idx].name, spans[prev].begin,
                         spans[prev].end, f->tensors[spans[i].idx].name, spans[i].begin,
                         spans[i].end);
            goto done;
        }
        prev = i;
        prev_end = spans[i].end;
    }
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_tensor);

done:
    free(spans);
    json_decref(root);
    return rc;
}

static void clear(st_file *f)
{
    for (int32_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int32_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    f->tensors = NULL;
    f->meta_keys = f->meta_vals = NULL;
    f->n_tensors = f->n_meta = 0;
}

int st_parse(st_file *f, const void *buf, size_t size, const char *label)
{
    memset(f, 0, sizeof *f);
    f->label = strdup(label ? label : "safetensors");
    if (!f->label) return ae_fail(AE_ERR_NOMEM, "safetensors: out of memory");
    f->base = buf;
    f->size = size;
    uint64_t hlen = 0;
    int rc = check_length(f, size >= 8 ? f->base : NULL, &hlen);
    if (rc == AE_OK) rc = parse(f, (const char *)f->base + 8, hlen, f->base + 8 + hlen);
    if (rc != AE_OK) st_close(f);
    return rc;
}

/* Opens path (a regular file) into *fd and sets f->label and f->size. */
static int open_regular(st_file *f, const char *path, int *fd_out)
{
    memset(f, 0, sizeof *f);
    int fd = ae_file_open(path); /* a FIFO is refused below, not waited on */
    if (fd < 0) return ae_fail(errno == ENOENT ? AE_ERR_NOT_FOUND : AE_ERR_IO, "%s: %s", path,
                               strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ae_fail(AE_ERR_IO, "%s: not a regular file", path);
    }
    if (!(f->label = strdup(path))) {
        close(fd);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    f->size = (size_t)sb.st_size;
    *fd_out = fd;
    return AE_OK;
}

/* pread of exactly n bytes at off of fd (the file `label`), or AE_ERR_IO naming what was
 * read. */
static int read_at(const char *label, int fd, void *dst, size_t n, uint64_t off, const char *what)
{
    uint8_t *p = dst;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : (size_t)1 << 30;
        ssize_t r = pread(fd, p, chunk, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return ae_fail(AE_ERR_IO, "%s: %s: %s", label, what,
                           r < 0 ? strerror(errno) : "unexpected end of file (did it change?)");
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return AE_OK;
}

int st_open_header(st_file *f, const char *path)
{
    int fd = -1;
    int rc = open_regular(f, path, &fd);
    if (rc) return rc;
    f->fd = fd;
    f->has_fd = 1;
    uint8_t first8[8];
    uint64_t hlen = 0;
    char *hdr = NULL;
    if (f->size >= 8 && (rc = read_at(f->label, fd, first8, 8, 0, "header"))) goto done;
    if ((rc = check_length(f, f->size >= 8 ? first8 : NULL, &hlen))) goto done;
    if (!(hdr = malloc(hlen ? (size_t)hlen : 1))) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = read_at(f->label, fd, hdr, (size_t)hlen, 8, "header"))) goto done;
    rc = parse(f, hdr, hlen, NULL);
done:
    free(hdr);
    if (rc != AE_OK) st_close(f);
    return rc;
}

int st_open(st_file *f, const char *path)
{
    /* read, not mapped: a file truncated or replaced while in use cannot fault (SIGBUS) a
     * mapping; what st_open serves (heads, banks) is small */
    memset(f, 0, sizeof *f);
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return ae_fail(AE_ERR_IO, "%s: not a regular file", path);
    char *buf;
    size_t size;
    int rc = ae_file_read(path, ST_MAX_FILE, &buf, &size);
    if (rc != AE_OK) return rc;
    if (!(f->label = strdup(path))) {
        free(buf);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    f->base = (const uint8_t *)buf;
    f->size = size;
    f->owned = 1;
    uint64_t hlen = 0;
    rc = check_length(f, size >= 8 ? f->base : NULL, &hlen);
    if (rc == AE_OK) rc = parse(f, (const char *)f->base + 8, hlen, f->base + 8 + hlen);
    if (rc != AE_OK) st_close(f);
    return rc;
}

void st_close(st_file *f)
{
    if (!f) return;
    clear(f);
    if (f->owned) free((void *)f->base);
    if (f->has_fd) close(f->fd);
    free(f->label);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_get(const st_file *f, const char *name)
{
    int32_t lo = 0, hi = f->n_tensors - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->tensors[mid].name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
    for (int32_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

/* ---- conversion --------------------------------------------------------------------------- */

/* IEEE half -> single, exact: normals rebias the exponent, subnormals are normalised, inf and
 * NaN keep their class (NaN payload shifted along). */
static uint32_t f16_bits_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return sign | 0x7f800000u | mant << 13;
    if (exp != 0) return sign | (exp + 112) << 23 | mant << 13;
    if (mant == 0) return sign;
    /* subnormal: value = mant * 2^-24; shift the leading 1 up to bit 10 */
    uint32_t e = 113;
    while (!(mant & 0x400)) {
        mant <<= 1;
        e--;
    }
    return sign | e << 23 | (mant & 0x3ff) << 13;
}

/* Little-endian unsigned integer of `size` bytes. */
static uint64_t le(const uint8_t *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = size; i-- > 0;) v = v << 8 | p[i];
    return v;
}

void st_to_f32(const st_tensor *t, float *dst)
{
    const uint8_t *p = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case ST_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (n) memcpy(dst, p, n * 4);
#else
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &b, 4);
        }
#endif
        break;
    case ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint32_t b = f16_bits_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            memcpy(&dst[i], &b, 4);
        }
        break;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &b, 4);
        }
        break;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t b = le(p + 8 * i, 8);
            double d;
            memcpy(&d, &b, 8);
            dst[i] = (float)d;
        }
        break;
    case ST_I64: case ST_I32: case ST_I16: case ST_I8: {
        size_t sz = dtype_sizes[t->dtype];
        for (size_t i = 0; i < n; i++) {
            uint64_t u = le(p + sz * i, sz);
            int64_t v;
            if (sz < 8 && (u >> (8 * sz - 1)) & 1) u |= ~(uint64_t)0 << (8 * sz); /* sign */
            memcpy(&v, &u, 8);
            dst[i] = (float)v;
        }
        break;
    }
    case ST_U64: case ST_U32: case ST_U16: case ST_U8: case ST_BOOL: {
        size_t sz = dtype_sizes[t->dtype];
        for (size_t i = 0; i < n; i++) dst[i] = (float)le(p + sz * i, sz);
        break;
    }
    }
}

int st_read_f32(const st_file *f, const st_tensor *t, float *dst)
{
    if (!f->has_fd)
        return ae_fail(AE_ERR_INVALID, "%s: st_read_f32 needs a file opened with st_open_header",
                       f->label);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s cannot be read as float32",
                       f->label, t->name, st_dtype_name(t->dtype));
    char what[300];
    snprintf(what, sizeof what, "tensor %.256s", t->name);
    return st_read_f32_at(f->fd, f->label, t->dtype, t->offset, (size_t)t->numel, dst, what);
}

int st_read_f32_at(int fd, const char *label, st_dtype dt, uint64_t off, size_t n, float *dst,
                   const char *what)
{
    AE_ASSERT(dt == ST_F32 || dt == ST_F16 || dt == ST_BF16);
    if (n == 0) return AE_OK;
    uint8_t *bytes = (uint8_t *)dst;
    if (dt == ST_F32) {
        int rc = read_at(label, fd, bytes, n * 4, off, what);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
        for (size_t i = 0; rc == AE_OK && i < n; i++) {
            uint8_t *b = bytes + 4 * i, x = b[0], y = b[1];
            b[0] = b[3], b[1] = b[2], b[2] = y, b[3] = x;
        }
#endif
        return rc;
    }
    /* the 2-byte values into the upper half; widening element i writes bytes [4i, 4i + 4),
     * below the first value not yet read (2n + 2i + 2 > 4i + 3 for every i < n) */
    const uint8_t *src = bytes + 2 * n;
    int rc = read_at(label, fd, bytes + 2 * n, n * 2, off, what);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
        uint32_t b = dt == ST_F16 ? f16_bits_to_f32(h) : (uint32_t)h << 16;
        memcpy(&dst[i], &b, 4);
    }
    return AE_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

static int write_all(FILE *fp, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, fp) == n;
}

/* Builds the JSON header (unpadded) into *out; *sizes gets each tensor's byte count. */
static int build_header(const char *path, const st_out_tensor *ts, int32_t n,
                        const char *const *mk, const char *const *mv, int32_t n_meta, char **out,
                        size_t *sizes)
{
    int rc = AE_OK;
    json_t *root = json_object();
    if (!root) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    if (n_meta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m) != 0) goto nomem;
        for (int32_t i = 0; i < n_meta; i++) {
            if (!mk[i] || !mv[i]) {
                rc = ae_fail(AE_ERR_INVALID, "%s: metadata %d has a NULL key or value", path, i);
                goto fail;
            }
            if (json_object_set_new(m, mk[i], json_string(mv[i])) != 0) {
                rc = ae_fail(AE_ERR_INVALID, "%s: metadata \"%.64s\" is not valid UTF-8", path,
                             mk[i]);
                goto fail;
            }
        }
    }
    uint64_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        const st_out_tensor *t = &ts[i];
        if (!t->name || strcmp(t->name, "__metadata__") == 0 || json_object_get(root, t->name)) {
            rc = ae_fail(AE_ERR_INVALID, "%s: tensor %d: missing, reserved or duplicate name %s",
                         path, i, t->name ? t->name : "(null)");
            goto fail;
        }
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
            rc = ae_fail(AE_ERR_INVALID, "%s: tensor %s: %d dimensions", path, t->name, t->ndim);
            goto fail;
        }
        uint64_t numel = 1;
        json_t *shape = json_array();
        if (!shape) goto nomem;
        for (int32_t d = 0; d < t->ndim; d++) {
            int64_t s = t->shape[d];
            if (s < 0 || (s > 0 && numel > ((uint64_t)1 << 60) / (uint64_t)s)) {
                json_decref(shape);
                rc = ae_fail(AE_ERR_INVALID, "%s: tensor %s: bad dimension %lld", path, t->name,
                             (long long)s);
                goto fail;
            }
            numel *= (uint64_t)s;
            json_array_append_new(shape, json_integer(s));
        }
        if (numel > 0 && !t->data) {
            json_decref(shape);
            rc = ae_fail(AE_ERR_INVALID, "%s: tensor %s: NULL data", path, t->name);
            goto fail;
        }
        sizes[i] = (size_t)numel * 4;
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + numel * 4));
        if (!e) goto nomem;
        if (json_object_set_new(root, t->name, e) != 0) {
            rc = ae_fail(AE_ERR_INVALID, "%s: tensor name %.64s is not valid UTF-8", path, t->name);
            goto fail;
        }
        off += numel * 4;
    }
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!*out) goto nomem;
    json_decref(root);
    return AE_OK;
nomem:
    rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
fail:
    json_decref(root);
    return rc;
}

int st_write(const char *path, const st_out_tensor *ts, int32_t n, const char *const *meta_keys,
             const char *const *meta_vals, int32_t n_meta)
{
    if (!path || n < 0 || (n > 0 && !ts) || n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_vals)))
        return ae_fail(AE_ERR_INVALID, "st_write: invalid arguments");
    char *hdr = NULL;
    size_t *sizes = calloc((size_t)n + 1, sizeof *sizes);
    int rc;
    if (!sizes) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    if ((rc = build_header(path, ts, n, meta_keys, meta_vals, n_meta, &hdr, sizes)) != AE_OK) {
        free(sizes);
        return rc;
    }
    /* written whole or not at all: a temporary file beside path, synced and renamed over it */
    ae_atomic_file af;
    if ((rc = ae_file_atomic_open(path, &af)) != AE_OK) {
        free(hdr), free(sizes);
        return rc;
    }
    FILE *fp = af.fp;
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = write_all(fp, len8, 8) && write_all(fp, hdr, hlen);
    for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
    for (int32_t i = 0; ok && i < n; i++) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        ok = write_all(fp, ts[i].data, sizes[i]);
#else
        const uint8_t *p = (const uint8_t *)ts[i].data;
        for (size_t j = 0; ok && j < sizes[i]; j += 4)
            ok = fputc(p[j + 3], fp) != EOF && fputc(p[j + 2], fp) != EOF &&
                 fputc(p[j + 1], fp) != EOF && fputc(p[j], fp) != EOF;
#endif
    }
    int e = errno;
    free(hdr), free(sizes);
    errno = e;
    /* a failed write leaves the stream in error: commit reports it ("path: cannot
     * write: No space left on device") and removes the temporary file */
    return ae_file_atomic_commit(&af);
}
