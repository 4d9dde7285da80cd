/*
 * safetensors.h — reader and writer of the safetensors format (Hugging Face).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the data; offsets are relative to the first byte after the header.
 * st_open reads a whole file (at most ST_MAX_FILE bytes); st_open_header reads only its header (pread) and keeps the
 * file open, so that tensors are read one at a time with st_read_f32 and no page of the data
 * stays resident (model weights: see model.c). Either way the header is fully validated
 * before anything is trusted:
 * header length against the file size and a cap, well-formed JSON without duplicate names,
 * dtype known, shape x dtype size == byte span, spans inside the data, not overlapping, no
 * integer overflow. Weights are F32/F16/BF16; the integer and F64 types are read too because
 * older CLIP checkpoints carry I64 position_ids buffers (model.c refuses them as weights);
 * F8 and unknown dtypes are refused (AE_ERR_UNSUPPORTED).
 */
#ifndef AE_SAFETENSORS_H
#define AE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* 100 MiB: far above any real CLIP header */
#define ST_MAX_FILE ((size_t)1 << 30) /* st_open's files (heads, banks): 1 GiB */

typedef enum {
    ST_F32, ST_F16, ST_BF16,
    ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U64, ST_U32, ST_U16, ST_U8, ST_BOOL
} st_dtype;

typedef struct st_tensor {
    char *name;               /* owned by the st_file */
    st_dtype dtype;
    int32_t ndim;             /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const uint8_t *data;      /* points into base, not aligned in general; NULL for a
                                 file opened with st_open_header */
    size_t nbytes;
    uint64_t offset;          /* of the first data byte in the file */
} st_tensor;

typedef struct st_file {
    const uint8_t *base;      /* the file's bytes (st_open) or the caller's buffer */
    size_t size;
    int owned;                /* 1 if base is st_open's copy, freed by st_close */
    int fd, has_fd;           /* st_open_header: the open file (has_fd 1; st_close closes it) */
    uint64_t header_size;     /* N, the JSON header's bytes */
    st_tensor *tensors;       /* sorted by name */
    int32_t n_tensors;
    char **meta_keys, **meta_vals; /* __metadata__ string pairs */
    int32_t n_meta;
    char *label;              /* path or caller's label, for messages */
} st_file;

/* Reads and validates path. On failure *f is left empty (st_close is still safe). */
int st_open(st_file *f, const char *path);
/* Reads and validates only the header of path (8 + N bytes, with pread; nothing is mapped)
 * and keeps the file open for st_read_f32. The tensors' data pointers are NULL. */
int st_open_header(st_file *f, const char *path);
/* Validates a buffer; it is not copied and must outlive f. */
int st_parse(st_file *f, const void *buf, size_t size, const char *label);
void st_close(st_file *f);

const st_tensor *st_get(const st_file *f, const char *name); /* NULL if absent */
const char *st_meta(const st_file *f, const char *key);      /* NULL if absent */
const char *st_dtype_name(st_dtype dt);
size_t st_dtype_size(st_dtype dt);                           /* bytes per element */
/* "[4, 4]" into buf (cap bytes, cut short if needed), for messages; returns buf. */
const char *st_shape_str(char *buf, size_t cap, int32_t ndim, const int64_t *shape);
/* Converts t's numel elements to float32 (exactly for F16/BF16; other types by value). */
void st_to_f32(const st_tensor *t, float *dst);

/* Reads tensor t (F32, F16 or BF16) of a file opened with st_open_header into dst
 * (t->numel floats), converting to float32 once, in place: F16/BF16 bytes are read into the
 * upper half of dst and widened from the front. AE_ERR_IO if the file is shorter than its
 * header said (it changed since it was opened). */
int st_read_f32(const st_file *f, const st_tensor *t, float *dst);
/* The same for n elements of dtype dt (F32, F16 or BF16) at byte offset off of the open file
 * fd, with pread (no file position is used, so threads may share fd): how st_read_f32 reads,
 * and how a part of a tensor is read later from a file kept open (the text tower's token
 * rows, model.c). A short or failed read is AE_ERR_IO "<label>: <what>: <cause>". */
int st_read_f32_at(int fd, const char *label, st_dtype dt, uint64_t off, size_t n, float *dst,
                   const char *what);

/* Writer: float32 tensors and string metadata, written to path atomically
 * (temporary file + rename). */
typedef struct st_out_tensor {
    const char *name;
    int32_t ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
} st_out_tensor;

int st_write(const char *path, const st_out_tensor *ts, int32_t n, const char *const *meta_keys,
             const char *const *meta_vals, int32_t n_meta);

#endif
