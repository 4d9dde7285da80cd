/*
 * safetensors.h — reader and writer of the safetensors format (Hugging Face).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the data; offsets are relative to the first byte after the header.
 * Files are mapped read-only and fully validated by st_open before anything is trusted:
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
    const uint8_t *data;      /* points into the mapping, not aligned in general */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    const uint8_t *base;      /* the mapping or caller's buffer */
    size_t size;
    int mapped;               /* 1 if base is an mmap owned by this struct */
    st_tensor *tensors;       /* sorted by name */
    int32_t n_tensors;
    char **meta_keys, **meta_vals; /* __metadata__ string pairs */
    int32_t n_meta;
    char *label;              /* path or caller's label, for messages */
} st_file;

/* Maps and validates path. On failure *f is left empty (st_close is still safe). */
int st_open(st_file *f, const char *path);
/* Validates a buffer; it is not copied and must outlive f. */
int st_parse(st_file *f, const void *buf, size_t size, const char *label);
void st_close(st_file *f);

const st_tensor *st_get(const st_file *f, const char *name); /* NULL if absent */
const char *st_meta(const st_file *f, const char *key);      /* NULL if absent */
const char *st_dtype_name(st_dtype dt);
/* "[4, 4]" into buf (cap bytes, cut short if needed), for messages; returns buf. */
const char *st_shape_str(char *buf, size_t cap, int32_t ndim, const int64_t *shape);
/* Converts t's numel elements to float32 (exactly for F16/BF16; other types by value). */
void st_to_f32(const st_tensor *t, float *dst);

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
