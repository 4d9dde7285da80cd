/*
 * nn_internal.h — what the kernel files share behind nn.h: the packed weight layout, the
 * GEMM tile contract, and the per-ISA kernel tables chosen at start-up (dispatch.c).
 *
 * Packed weights (nn_linear.w): W [n_out, n_in] is cut into panels of NN_NR output columns;
 * panel p holds, for every k in 0..n_in-1, the NN_NR weights W[p*NN_NR + j][k] contiguously:
 *     w[(p * n_in + k) * NN_NR + j]         (zero for p*NN_NR + j >= n_out)
 * so the micro-kernel reads one aligned row of NN_NR floats per k. The layout is the same for
 * every ISA, so the kernel set can be switched at any time (tests do) without repacking.
 * The bias copy is padded with zeros to a whole number of panels.
 *
 * A tile call computes C[mr, nr] (nr <= NN_NR) for one k block [k0, k0 + kc):
 *     acc  = first ? bias (+ residual if res_init) : C
 *     acc += A[:, k0:k0+kc] · panel[k0:k0+kc]
 *     last: acc = act(acc) (+ residual if res_final)
 * res_init is used for act == NONE (the sum is linear, so the residual can enter first; this
 * is what makes y == residual safe across k blocks); res_final only with a single k block.
 */
#ifndef AE_NN_INTERNAL_H
#define AE_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#define NN_NR 32     /* packed panel width (output columns) */
#define NN_MR_MAX 16 /* no kernel takes more rows per tile */
#define NN_ALIGN 64

typedef struct nn_tile {
    int32_t mr, nr, kc;  /* rows (1..kernel mr_max), valid columns (1..NN_NR), depth */
    const float *a;      /* a[r * lda + k]: row-major activations at column k0 */
    ptrdiff_t lda;
    const float *b;      /* packed panel rows k0..k0+kc-1: [kc][NN_NR], from the tile's first column */
    float *c;            /* c[r * ldc + j] */
    ptrdiff_t ldc;
    const float *bias;   /* NN_NR floats (zero padded) or NULL; used when first */
    const float *res;    /* res[r * ldr + j] or NULL */
    ptrdiff_t ldr;
    int32_t first, last, res_init, res_final;
    nn_act act;
    const float *pf;     /* optional: memory to prefetch while computing: lines pf, pf + 16,
                            advancing pf_step floats per k */
    int32_t pf_step;
} nn_tile;

typedef struct nn_kernels {
    const char *name;
    int32_t mr_max; /* rows per tile, <= NN_MR_MAX */
    int32_t nr;     /* columns per tile in the GEMM driver: NN_NR, or NN_NR / 2 where the
                       micro-kernel covers half a panel (its slices of B then take half the
                       L1 space); any tile call still accepts nr up to NN_NR */
    void (*tile)(const nn_tile *t);
    /* s[j] = softmax(scale * s)[j] for j < n (max subtracted, exp, normalised) */
    void (*softmax)(float *s, int32_t n, float scale);
    /* LayerNorm of rows [r0, r1) (see nn_layernorm) */
    void (*layernorm_rows)(const float *x, int32_t r0, int32_t r1, int32_t d, const float *w,
                           const float *b, float eps, float *y);
} nn_kernels;

extern const nn_kernels nn_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define NN_HAVE_X86 1
extern const nn_kernels nn_kernels_avx2;
extern const nn_kernels nn_kernels_avx512;
#endif

/* Per-core cache sizes in bytes (sysconf, else CPUID, else 32 KiB / 512 KiB / 2 MiB): what
 * the GEMM blocking is derived from. l3 is the share of one core. Computed once. */
typedef struct nn_caches {
    int64_t l1d, l2, l3;
    const char *source; /* "sysconf", "cpuid", "default" or "AE_CACHES" */
} nn_caches;
nn_caches nn_cpu_caches(void);
/* Reads "L1D,L2,L3" (bytes, or with a K or M suffix: "48K,1M,32M") as AE_CACHES gives them;
 * 0 on success, -1 (out untouched) for anything else. A malformed AE_CACHES is ignored: the
 * caches are then detected as without it. */
int nn_caches_parse(const char *s, nn_caches *out);

/* GEMM blocking of a linear layer with n_in inputs on n_threads threads for a kernel set
 * (derivation in linear.c): kc = depth of a k block, mc = rows of a row block, nc = columns
 * of a column block, from the caches of nn_cpu_caches and the set's tile. */
typedef struct nn_blocking {
    int32_t kc, mc, nc;
} nn_blocking;
nn_blocking nn_gemm_blocking(const nn_kernels *k, int32_t n_in, int32_t n_threads);
/* Forces kc, mc, nc (each 0 = derived from the caches) for every set: tests use tiny blocks
 * to reach every edge path, benchmarks try others. Not thread-safe against running GEMMs. */
void nn_gemm_set_blocking(int32_t kc, int32_t mc, int32_t nc);

/* The kernel set in use (chosen once from the CPU and AE_KERNELS). */
const nn_kernels *nn_kernels_get(void);
/* Switches to "scalar", "avx2" or "avx512"; 0 on success, -1 if unknown or unsupported by
 * this CPU (the set in use is then unchanged). For tests and benchmarks. */
int nn_set_kernels(const char *name);
/* 1 if the CPU (and OS) can run the named set. */
int nn_kernels_supported(const char *name);

/* Thread ith's scratch of the pool, at least n_floats, 64-byte aligned; grown (reallocated,
 * contents lost) when too small. Only thread ith may call it for its slot, from inside a task
 * (or the pool's owner between runs). NULL if pool is NULL or out of memory. */
float *nn_pool_scratch(nn_pool *pool, int ith, size_t n_floats);

/* Scalar activations: the spec for every vectorised version. */
float nn_quick_gelu(float x); /* x * sigmoid(1.702 x) */
float nn_gelu(float x);       /* 0.5 x (1 + erf(x / sqrt 2)) */
static inline float nn_act_apply(nn_act act, float x)
{
    return act == NN_ACT_QUICK_GELU ? nn_quick_gelu(x) : act == NN_ACT_GELU ? nn_gelu(x) : x;
}

/* Portable tile kernel in plain C (the scalar set's, and the edge/epilogue helper). */
void nn_tile_generic(const nn_tile *t);
void nn_softmax_scalar(float *s, int32_t n, float scale);
void nn_layernorm_rows_scalar(const float *x, int32_t r0, int32_t r1, int32_t d, const float *w,
                              const float *b, float eps, float *y);
/* The last-block epilogue on one row of accumulators: act, then + res[j] if res != NULL. */
void nn_epilogue_row(nn_act act, float *acc, const float *res, int32_t nr);

#endif
