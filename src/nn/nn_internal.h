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
 *
 * bfloat16 (NN_BF16) uses the same panels and tile contract with 32-bit units that each hold
 * two bf16 (k even in the low half, k odd in the high half): panel p holds, for every pair
 * g of k (K rounded up to even), NN_NR pairs W[p*NN_NR + j][2g, 2g+1]; A rows are pairs of
 * bf16 too, and "kc" counts pairs. The float32 GEMM driver runs them unchanged.
 *
 * int8 (NN_I8) panels hold groups of four k (K rounded up to a multiple of 4, zero padded):
 *     w[((p * KG + g) * NN_NR + j) * 4 + q] = Wq[p*NN_NR + j][4g + q]      (KG = K / 4)
 * so one 32-bit lane carries the 4 products that vpdpbusd / sdot / pmaddubsw+pmaddwd sum.
 * An int8 tile call computes C[mr, nr] over all of K at once (no k blocks, the int32 sums
 * never leave registers):
 *     acc[r][j] = Σk A[r][k] · Wq[j][k]          (A as s8, or as u8 = s8 + 128, see i8_unsigned)
 *     v = fmaf((float)(acc - corr[j]), a_scale[r] * w_scale[j], bias[j] or 0)
 *     v += add[r][j] (if add); v = act(v); v += res[r][j] (if res)
 * corr is w_corr (128 Σk Wq) for kernels that take unsigned activations, else NULL. The row is
 * finished before it is stored, so res may alias c.
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

typedef struct nn_tile_i8 {
    int32_t mr, nr, kg;       /* rows (1..i8_mr), valid columns (1..NN_NR), k groups of 4 */
    const uint8_t *a;         /* a[r * lda + k]: quantized rows (s8 or u8 bytes) */
    ptrdiff_t lda;
    const int8_t *b;          /* packed panel from the tile's first column: b[(g*NN_NR + j)*4 + q] */
    const float *a_scale;     /* [mr] */
    const float *w_scale;     /* [nr] */
    const int32_t *corr;      /* [nr] or NULL */
    const float *bias;        /* [nr] or NULL */
    const float *add;         /* add[r * ldadd + j] or NULL: added before the activation */
    ptrdiff_t ldadd;
    const float *res;         /* res[r * ldr + j] or NULL: added after it */
    ptrdiff_t ldr;
    float *c;
    ptrdiff_t ldc;
    nn_act act;
    const int8_t *pf;         /* optional: prefetch pf + g * pf_step while computing group g */
    int32_t pf_step;
} nn_tile_i8;

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
    /* int8: the tile (contract above), its most rows and the GEMM driver's columns per call
     * (NN_NR or NN_NR / 2), and whether it takes activations as u8 = s8 + 128 */
    void (*tile_i8)(const nn_tile_i8 *t);
    int32_t i8_mr, i8_nr, i8_unsigned;
    /* q[k] = nn_q8(x[k] * inv) as a byte, xor flip, for k < n: an activation row quantized
     * (nn_quant_i8_ref is the spec) */
    void (*quant_i8)(const float *x, int32_t n, float inv, uint8_t flip, uint8_t *q);
    /* bf16 tile (the nn_tile contract on bf16 pairs), NULL if the set has none; see
     * nn_bf16_kernel */
    void (*tile_bf16)(const nn_tile *t);
} nn_kernels;

extern const nn_kernels nn_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define NN_HAVE_X86 1
extern const nn_kernels nn_kernels_avx2;    /* int8: pmaddubsw + pmaddwd (sign trick) */
extern const nn_kernels nn_kernels_avxvnni; /* avx2 + int8 by AVX-VNNI vpdpbusd */
extern const nn_kernels nn_kernels_avx512;  /* int8: the avx2 kernel (AVX-512 without VNNI) */
extern const nn_kernels nn_kernels_avx512vnni; /* avx512 + int8 by AVX512-VNNI vpdpbusd */
#endif
#if defined(__aarch64__)
#define NN_HAVE_NEON 1
extern const nn_kernels nn_kernels_neon;    /* int8: vmull_s8 + vpadalq (no dot product) */
extern const nn_kernels nn_kernels_neondot; /* neon + int8 by SDOT (FEAT_DotProd) */
#endif

/* The per-ISA functions the kernel tables of dispatch.c are made of. */
#ifdef NN_HAVE_X86
void nn_tile_f32_avx2(const nn_tile *t);
void nn_softmax_avx2(float *s, int32_t n, float scale);
void nn_tile_i8_avx2(const nn_tile_i8 *t);     /* i8_avx2.c: 4 x 16, s8 activations */
void nn_tile_i8_avxvnni(const nn_tile_i8 *t);  /* i8_avxvnni.c: 4 x 16, u8 */
void nn_tile_f32_avx512(const nn_tile *t);
void nn_softmax_avx512(float *s, int32_t n, float scale);
void nn_layernorm_rows_avx512(const float *x, int32_t r0, int32_t r1, int32_t d, const float *w,
                              const float *b, float eps, float *y);
void nn_tile_i8_avx512vnni(const nn_tile_i8 *t); /* i8_avx512vnni.c: 14 x 32, u8 */
void nn_quant_i8_avx2(const float *x, int32_t n, float inv, uint8_t flip, uint8_t *q);   /* quant_avx2.c */
void nn_quant_i8_avx512(const float *x, int32_t n, float inv, uint8_t flip, uint8_t *q); /* quant_avx512.c */
void nn_tile_bf16_avx512bf16(const nn_tile *t);  /* bf16_avx512bf16.c: 14 x 32 */
#endif
#ifdef NN_HAVE_NEON
void nn_tile_f32_neon(const nn_tile *t);        /* gemm_neon.c: 5 x 16 */
void nn_softmax_neon(float *s, int32_t n, float scale);
void nn_layernorm_rows_neon(const float *x, int32_t r0, int32_t r1, int32_t d, const float *w,
                            const float *b, float eps, float *y);
void nn_tile_i8_neon(const nn_tile_i8 *t);      /* i8_neon.c: 4 x 16, s8 activations */
void nn_tile_i8_neondot(const nn_tile_i8 *t);   /* i8_neondot.c: 5 x 16, s8, SDOT */
#endif

/* [lo, hi) of part i of n split in parts as even as possible (threads' rows, row blocks) */
static inline void nn_split(int32_t n, int32_t parts, int32_t i, int32_t *lo, int32_t *hi)
{
    *lo = (int32_t)((int64_t)n * i / parts);
    *hi = (int32_t)((int64_t)n * (i + 1) / parts);
}

/* The work units of a GEMM driver (linear.c, linear_i8.c): n_rb row blocks of the m_tiles
 * row tiles x n_cb column blocks of cb_panels of the n_panels panels, from blocks of about
 * rb_tiles tiles and cb_panels panels: more column blocks when the nth threads need units
 * (at least 4 a thread), and few units made whole rounds of the threads. */
typedef struct nn_units {
    int32_t n_rb, n_cb, cb_panels;
} nn_units;
nn_units nn_gemm_units(int32_t m_tiles, int32_t rb_tiles, int32_t n_panels, int32_t cb_panels,
                       int nth);

/* bytes (rounded up to whole lines) 64-byte aligned, free() to release; NULL when out of memory */
void *nn_alloc64(size_t bytes);

/* The 4 activation bytes of one k group of an int8 row (p needs no alignment), for a broadcast */
static inline int32_t nn_i8_group(const uint8_t *p)
{
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/* int8 reference tile (plain C; the spec of every tile_i8) */
void nn_tile_i8_ref(const nn_tile_i8 *t);

/* round(v) (to nearest even) clamped to [-127, 127]; NaN -> 0: the int8 rule for weights and
 * activations. Written so that -O3 vectorises the loops that call it (selects instead of
 * branches, rounding by adding and subtracting 1.5 * 2^23, exact for |v| <= 2^22). */
static inline int32_t nn_q8(float v)
{
    v = v > 127.0f ? 127.0f : v;
    v = v < -127.0f ? -127.0f : v;
    v = v == v ? v : 0.0f;
    return (int32_t)((v + 12582912.0f) - 12582912.0f);
}

/* the activation quantizers (the quant_i8 of the kernel sets) */
void nn_quant_i8_ref(const float *x, int32_t n, float inv, uint8_t flip, uint8_t *q);
/* bf16 reference tile (plain C), and the bf16 tile to use with kernel set k: its own where
 * the CPU has AVX512_BF16, else the reference */
void nn_tile_bf16_ref(const nn_tile *t);
void (*nn_bf16_kernel(const nn_kernels *k))(const nn_tile *t);
/* float -> bf16, round to nearest even (NaN kept a quiet NaN): the spec of every vector
 * conversion */
static inline uint16_t nn_f32_to_bf16(float f)
{
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1)) >> 16);
}
static inline float nn_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* The blocked float32 GEMM driver of linear.c on raw operands: y[m, n_out] =
 * act(x · Wᵀ + bias) (+ residual) with `units` 32-bit units per row of x (floats, or bf16
 * pairs), w packed panels of `units` rows, and the tile function `tile` (the set's fp32 tile
 * or a bf16 one). nn_linear_forward of NN_F32 and NN_BF16 layers ends here. */
void nn_gemm_run(const float *w, const float *bias, int32_t n_out, int32_t units,
                 void (*tile)(const nn_tile *t), const float *x, int32_t m, float *y, nn_act act,
                 const float *residual, nn_pool *pool);

/* The weights of an int8 layer that int8 cannot carry, kept in float32 (linear_i8.c):
 * single weights far out in the tail of their row (sparse, by output channel), and whole
 * input columns whose weights all sit within a couple of int8 steps of zero. */
#define NN_I8_MAX_COLS 16
typedef struct nn_i8_exact {
    int32_t n_sparse;
    int32_t *sp_start;  /* [n_out + 1]: the weights of channel n are sp_start[n] .. [n + 1] */
    int32_t *sp_col;    /* [n_sparse] input column */
    float *sp_val;      /* [n_sparse] weight */
    int32_t n_cols;
    int32_t cols[NN_I8_MAX_COLS]; /* input columns, ascending */
    float *col_w;       /* [n_cols][n_out] their weights (0 where a weight is sparse) */
} nn_i8_exact;
void nn_i8_exact_free(nn_i8_exact *e);

/* Precision-specific parts of nn_linear (linear_i8.c, linear_bf16.c) */
int nn_linear_init_i8(nn_linear *l, int32_t n_out, int32_t n_in, const float *w, const float *bias);
void nn_linear_forward_i8(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                          const float *residual, nn_pool *pool);
int nn_linear_init_bf16(nn_linear *l, int32_t n_out, int32_t n_in, const float *w,
                        const float *bias);
void nn_linear_forward_bf16(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                            const float *residual, nn_pool *pool);

/* A buffer of the pool shared by all its threads (the quantized activations of a call), at
 * least `bytes`, 64-byte aligned, kept and grown between calls; the pool's owner may call it
 * between runs only. pool NULL: NULL (the caller allocates). */
void *nn_pool_shared(nn_pool *pool, size_t bytes);

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
/* Switches to a set by name (see nn_kernel_name); 0 on success, -1 if unknown or unsupported by
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
