/*
 * gemm_avx512.c — the float32 kernels of the AVX-512 sets: the 14x32 GEMM tile (the
 * template of tile_avx512.h with one FMA per k), softmax and LayerNorm rows.
 */
#include <immintrin.h>
#include <math.h>

#include "nn/nn_internal.h"
#include "nn/vmath_avx512.h"

#define TILE_ENTRY nn_tile_f32_avx512
#define TILE_BROADCAST(p) _mm512_set1_ps(*(p))
#define TILE_MADD(acc, a, b) _mm512_fmadd_ps(a, b, acc)
#include "nn/tile_avx512.h"

void nn_softmax_avx512(float *s, int32_t n, float scale)
{
    __m512 vs = _mm512_set1_ps(scale), mx = _mm512_set1_ps(-INFINITY);
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), vs);
        _mm512_mask_storeu_ps(s + j, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vmax));
        e = _mm512_maskz_mov_ps(m, e);
        _mm512_mask_storeu_ps(s + j, m, e);
        sum = _mm512_add_ps(sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
    }
}

/* Two passes per row (mean, then the variance of x - mean), 16 float lanes each. */
void nn_layernorm_rows_avx512(const float *x, int32_t r0, int32_t r1, int32_t d,
                                  const float *w, const float *b, float eps, float *y)
{
    for (int32_t r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        __m512 s = _mm512_setzero_ps();
        for (int32_t j = 0; j < d; j += 16) {
            __mmask16 m = d - j >= 16 ? 0xFFFF : (__mmask16)((1u << (d - j)) - 1);
            s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, xr + j));
        }
        float mean = _mm512_reduce_add_ps(s) / (float)d;
        __m512 vm = _mm512_set1_ps(mean), v = _mm512_setzero_ps();
        for (int32_t j = 0; j < d; j += 16) {
            __mmask16 m = d - j >= 16 ? 0xFFFF : (__mmask16)((1u << (d - j)) - 1);
            __m512 t = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + j), vm);
            v = _mm512_fmadd_ps(t, t, v);
        }
        float rstd = 1.0f / sqrtf(_mm512_reduce_add_ps(v) / (float)d + eps);
        __m512 vr = _mm512_set1_ps(rstd);
        for (int32_t j = 0; j < d; j += 16) {
            __mmask16 m = d - j >= 16 ? 0xFFFF : (__mmask16)((1u << (d - j)) - 1);
            __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vm), vr);
            t = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(m, w + j), _mm512_maskz_loadu_ps(m, b + j));
            _mm512_mask_storeu_ps(yr + j, m, t);
        }
    }
}

