/*
 * nn.h — the numeric kernels of the CLIP encoders and the thread pool that runs them.
 *
 * Every kernel has a plain-C reference (nn_ref.c) that is the spec; optimised variants
 * (one ISA per file: *_avx512.c, *_avx2.c) are chosen once at start-up by CPU detection and
 * tested against the reference on odd sizes. Model code calls these functions only and never
 * sees an intrinsic or a pthread.
 */
#ifndef AE_NN_H
#define AE_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- thread pool ------------------------------------------------------------------------ */

typedef struct nn_pool nn_pool;
typedef void (*nn_task)(void *arg, int ith, int nth);

nn_pool *nn_pool_new(int n_threads); /* n_threads >= 1 (the caller counts as one); NULL on failure */
void nn_pool_free(nn_pool *pool);
int nn_pool_size(const nn_pool *pool);
/* Runs fn(arg, ith, nth) for ith = 0..nth-1 on the pool's threads (the caller runs ith 0)
 * and returns when all are done. pool may be NULL: runs fn(arg, 0, 1). A part that no worker
 * has started when the caller is done with its own runs on the caller, so fn must not tie
 * ith to an OS thread (no thread-locals). One caller at a time per pool. */
void nn_pool_run(nn_pool *pool, nn_task fn, void *arg);
/* Bytes of last-level cache the pool's threads can count on: their share of L3 (cpu.c). */
size_t nn_pool_cache(const nn_pool *pool);

/* ---- linear layers ---------------------------------------------------------------------- */

/* The arithmetic of a linear layer's product (everything else stays float32):
 *   NN_F32   float32 weights and activations;
 *   NN_I8    int8 weights quantized per output channel (symmetric, at init), activations
 *            quantized per row at each call (symmetric), int32 sums, dequantised in the
 *            epilogue; input columns with outlier magnitudes are taken out of the int8
 *            product and added in float32 (linear_i8.c);
 *   NN_BF16  bfloat16 weights and activations (rounded to nearest even), float32 sums
 *            (linear_bf16.c). */
typedef enum { NN_F32 = 0, NN_I8 = 1, NN_BF16 = 2 } nn_precision;

/* A linear layer y = x·Wᵀ + b with W [n_out, n_in] (PyTorch layout). The weights are copied
 * at init into the packed layout of their precision (nn_internal.h); the source may be freed
 * afterwards. */
typedef struct nn_linear {
    int32_t n_out, n_in;
    nn_precision prec;
    void *w;          /* packed weights, owned (ae_big_alloc of w_bytes) */
    size_t w_bytes;
    float *bias;      /* [n_out] owned copy padded to whole panels, or NULL */
    float *w_scale;   /* NN_I8: [padded n_out] per-channel scales (W ≈ w_scale[n] * Wq[n]) */
    int32_t *w_corr;  /* NN_I8: [padded n_out] 128 * Σk Wq[n][k], for unsigned activations */
    struct nn_i8_exact *exact; /* NN_I8: the weights kept in float32 (linear_i8.c), or NULL */
} nn_linear;

int nn_linear_init(nn_linear *l, int32_t n_out, int32_t n_in, const float *w, const float *bias);
/* The same in a given precision; NN_BF16 needs nn_precision_supported(NN_BF16). */
int nn_linear_init_prec(nn_linear *l, int32_t n_out, int32_t n_in, const float *w,
                        const float *bias, nn_precision prec);
/* 1 if this CPU runs the precision natively: NN_F32 and NN_I8 always (every kernel set has
 * an int8 kernel), NN_BF16 with AVX512_BF16. */
int nn_precision_supported(nn_precision prec);
void nn_linear_free(nn_linear *l);

typedef enum { NN_ACT_NONE, NN_ACT_QUICK_GELU, NN_ACT_GELU } nn_act;

/* y[m, n_out] = act(x[m, n_in] · Wᵀ + b) (+ residual[m, n_out] if residual != NULL; the
 * residual is added after the activation). y may equal residual. Threaded over pool. */
void nn_linear_forward(const nn_linear *l, const float *x, int32_t m, float *y, nn_act act,
                       const float *residual, nn_pool *pool);

/* ---- other ops (threaded where it pays) --------------------------------------------------- */

/* y[i] = (x[i] - mean) / sqrt(var + eps) * w + b per row of d; y may equal x. */
void nn_layernorm(const float *x, int32_t m, int32_t d, const float *w, const float *b, float eps,
                  float *y, nn_pool *pool);

/* Multi-head self-attention over `batch` independent sequences of length L:
 * qkv [batch, L, 3*D] (q, k, v concatenated per token, each split into heads of D/heads),
 * out [batch, L, D] = concat_h softmax(q_h·k_hᵀ/√dh + mask)·v_h, causal mask if causal.
 * scratch: nn_attention_scratch(L, pool) floats. */
size_t nn_attention_scratch(int32_t L, const nn_pool *pool);
void nn_attention(const float *qkv, int32_t batch, int32_t L, int32_t D, int32_t heads,
                  int32_t causal, float *out, float *scratch, nn_pool *pool);

/* Causal attention of `batch` sequences that all begin with the same Lp tokens, given only
 * their suffixes: kv [Lp, 2D] holds the prefix's keys (columns 0..D) and values (D..2D);
 * qkv [sum(lens), 3D] the suffix tokens of the sequences packed one after the other
 * (sequence b has lens[b] >= 1 tokens, at positions Lp..Lp+lens[b]-1). Suffix token i of a
 * sequence attends to the Lp prefix tokens and to its own suffix tokens 0..i; out
 * [sum(lens), D]. Lp may be 0 (plain causal attention of packed sequences).
 * scratch: nn_attention_prefix_scratch(Lp + max(lens), pool) floats. */
size_t nn_attention_prefix_scratch(int32_t L, const nn_pool *pool);
void nn_attention_prefix(const float *kv, int32_t Lp, const float *qkv, const int32_t *lens,
                         int32_t batch, int32_t D, int32_t heads, float *out, float *scratch,
                         nn_pool *pool);

/* ---- reference kernels (the spec; used by tests) ---------------------------------------- */

/* C[m, n] = A[m, k] · B[n, k]ᵀ (+ bias[n]), plain C, row-major with leading dimensions. */
void nn_gemm_ref(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b,
                 int32_t ldb, const float *bias, float *c, int32_t ldc);

/* Name of the kernel set in use: "avx512vnni", "avx512", "avxvnni", "avx2", "neondot", "neon"
 * or "scalar" (dispatch.c). AE_KERNELS=<name> in the environment forces a set the CPU
 * supports (for tests and benchmarks). */
const char *nn_kernel_name(void);

#endif
