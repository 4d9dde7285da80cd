/*
 * pickle.h — a restricted reader of Python pickles: PyTorch state dicts (torch.save's zip
 * format, .pth/.pt) and pickled numpy arrays (pickle.dump of an ndarray, .pkl).
 *
 * Nothing in a pickle is ever executed. The unpickler (pickle.c) knows the opcodes of protocols
 * 0 to 5 that these files use and an explicit allow-list of the callables they name
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the torch
 * float storage types, numpy's _reconstruct, ndarray, dtype and _frombuffer, _codecs.encode);
 * every other global (os.system, builtins.eval, ...) is refused by name, and each allowed one
 * is applied only to the arguments it takes. The container (torchfile.c) reads
 * <root>/data.pkl, <root>/version and the raw storages <root>/data/<key> with libzip.
 *
 * Every tensor comes out as C-contiguous float32, whatever its storage (float32, float16,
 * bfloat16, float64) and strides. Functions return AE_OK or a negative AE_ERR_* with the
 * message (naming the input and the cause) set through ae_fail; they never print or abort.
 */
#ifndef AE_PICKLE_H
#define AE_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#define PK_MAX_DIMS 8
#define PK_MAX_PICKLE (64u << 20)      /* data.pkl: far above any state dict's */
#define PK_MAX_NUMPY (1u << 30)        /* a pickled numpy file */
#define PK_MAX_STORAGE (4ull << 30)    /* one storage's bytes */

typedef struct pk_tensor {
    char *name;                  /* the state dict key, nested dicts joined with '.'; NULL for a
                                    numpy array */
    int32_t ndim;                /* 0 for a scalar */
    int64_t shape[PK_MAX_DIMS];
    int64_t numel;
    float *data;                 /* numel floats, C order (never NULL, even when numel is 0) */
} pk_tensor;

typedef struct pk_tensors {
    pk_tensor *t;                /* in file order */
    int32_t n;
} pk_tensors;

/* A PyTorch checkpoint holding a state dict (name -> tensor; nested dicts flattened with '.',
 * values that are not tensors or dicts skipped). Storages FloatStorage, HalfStorage,
 * BFloat16Storage and DoubleStorage; other types are refused by name. On failure *out is empty.
 * Caller frees with pk_tensors_free. */
int pk_torch_load(const char *path, pk_tensors *out);
/* The same from the zip's bytes in memory; label names it in messages. */
int pk_torch_load_mem(const void *data, size_t size, const char *label, pk_tensors *out);

/* A pickled numpy array (ndarray of float16, float32 or float64; either byte order and C or
 * Fortran order; pickle protocols 0 to 5). On failure *out is empty. Caller frees with
 * pk_tensor_free. */
int pk_numpy_load(const char *path, pk_tensor *out);
int pk_numpy_load_mem(const void *data, size_t size, const char *label, pk_tensor *out);

void pk_tensor_free(pk_tensor *t);
void pk_tensors_free(pk_tensors *t);

/* ---- internal: the unpickler on its own (torchfile.c, tests, fuzzing) ---- */

/* Delivers the raw bytes of storage `key`, which must be exactly nbytes long: *data stays valid
 * until pk_unpickle_state_dict_mem returns. Returns AE_OK or an AE_ERR_* after ae_fail. */
typedef int (*pk_storage_fn)(void *ctx, const char *key, uint64_t nbytes, const uint8_t **data);

/* Unpickles a data.pkl (size <= PK_MAX_PICKLE) holding a state dict; each tensor's storage is
 * fetched through fn (NULL: every tensor fails with AE_ERR_NOT_FOUND). */
int pk_unpickle_state_dict_mem(const void *pkl, size_t size, const char *label,
                               pk_storage_fn fn, void *ctx, pk_tensors *out);

#endif
