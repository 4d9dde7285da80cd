/*
 * i8_avx512vnni.c — the int8 tile of the avx512vnni set: up to 14 rows x 32 columns by
 * vpdpbusd.
 *
 * The int32 accumulators (two zmm per row) stay in registers over all of K. Per group of 4 k
 * the tile loads one 128-byte row of the packed panel (two zmm: 16 columns x 4 k each) and,
 * per row, broadcasts the row's 4 activation bytes: 28 vpdpbusd (1792 multiply-adds) for 2
 * loads and 14 broadcasts at 14 rows. vpdpbusd multiplies unsigned by signed bytes, so the
 * activations come as u8 = s8 + 128 and the epilogue subtracts 128 Σk Wq (t->corr); then it
 * converts, scales by a_scale[r] * w_scale[j], adds bias, the outlier correction, the
 * activation and the residual (nn_internal.h has the contract).
 *
 * GCC 12 cannot keep more than ~16 such accumulators in place: with more rows it copies them
 * between registers around every vpdpbusd (14 rows in intrinsics ran at half the speed of 8).
 * So tiles of 9..14 rows run their k loop as one block of assembly with fixed registers
 * (zmm0..27 the accumulators, zmm28/29 the weights, zmm30/31 the broadcasts; rows addressed
 * from five base pointers, 3 rows apart, plus 0, 1 or 2 row strides) that leaves the sums in
 * memory for the epilogue; tiles of up to 8 rows use intrinsics.
 */
#include <immintrin.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/vmath_avx512.h"

#define MR 14
#define MR_INTRIN 8 /* rows up to which the intrinsics tile is used */

/* acc += u8 a · s8 w per 32-bit lane, in place. GCC 12's intrinsic copies the accumulator
 * through other registers (and the stack) around every vpdpbusd of a 28-accumulator loop,
 * which cost 4x here; the instruction itself, written out, keeps each accumulator in one
 * register. */
static inline __m512i dpbusd(__m512i acc, __m512i a, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
}

/* The k loop of tiles of 9..14 rows (see the file comment): acc[r][0..31] = the int32 sums
 * of row r. */
#define ZERO(r, a, b) \
    ".if %c[R] > " #r "\n vpxord %%zmm" #a ", %%zmm" #a ", %%zmm" #a "\n" \
    " vpxord %%zmm" #b ", %%zmm" #b ", %%zmm" #b "\n .endif\n"
#define ROW(r, addr, a, b, x) \
    ".if %c[R] > " #r "\n vpbroadcastd " addr ", %%zmm" #x "\n" \
    " vpdpbusd %%zmm28, %%zmm" #x ", %%zmm" #a "\n vpdpbusd %%zmm29, %%zmm" #x ", %%zmm" #b "\n .endif\n"
#define STORE(r, a, b) \
    ".if %c[R] > " #r "\n vmovdqu64 %%zmm" #a ", " #r "*128(%[acc])\n" \
    " vmovdqu64 %%zmm" #b ", " #r "*128+64(%[acc])\n .endif\n"

static inline __attribute__((always_inline)) void sums_asm(const nn_tile_i8 *t, const int R,
                                                         int32_t *acc)
{
    const ptrdiff_t L = t->lda;
    const uint8_t *p0 = t->a, *p3 = p0 + 3 * L, *p6 = p0 + 6 * L, *p9 = p0 + 9 * L, *p12 = p0 + 12 * L;
    const int8_t *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t pf_step = t->pf ? t->pf_step : 128;
    ptrdiff_t n = t->kg;
    __asm__ volatile(
        ZERO(0, 0, 1) ZERO(1, 2, 3) ZERO(2, 4, 5) ZERO(3, 6, 7) ZERO(4, 8, 9) ZERO(5, 10, 11)
        ZERO(6, 12, 13) ZERO(7, 14, 15) ZERO(8, 16, 17) ZERO(9, 18, 19) ZERO(10, 20, 21)
        ZERO(11, 22, 23) ZERO(12, 24, 25) ZERO(13, 26, 27)
        "1:\n"
        " prefetcht0 (%[pf])\n add %[pfs], %[pf]\n"
        " vmovdqu64 (%[b]), %%zmm28\n vmovdqu64 64(%[b]), %%zmm29\n"
        ROW(0, "(%[p0])", 0, 1, 30) ROW(1, "(%[p0],%[L],1)", 2, 3, 31) ROW(2, "(%[p0],%[L],2)", 4, 5, 30)
        ROW(3, "(%[p3])", 6, 7, 31) ROW(4, "(%[p3],%[L],1)", 8, 9, 30) ROW(5, "(%[p3],%[L],2)", 10, 11, 31)
        ROW(6, "(%[p6])", 12, 13, 30) ROW(7, "(%[p6],%[L],1)", 14, 15, 31) ROW(8, "(%[p6],%[L],2)", 16, 17, 30)
        ROW(9, "(%[p9])", 18, 19, 31) ROW(10, "(%[p9],%[L],1)", 20, 21, 30) ROW(11, "(%[p9],%[L],2)", 22, 23, 31)
        ROW(12, "(%[p12])", 24, 25, 30) ROW(13, "(%[p12],%[L],1)", 26, 27, 31)
        " add $128, %[b]\n add $4, %[p0]\n add $4, %[p3]\n add $4, %[p6]\n add $4, %[p9]\n"
        " add $4, %[p12]\n dec %[n]\n jnz 1b\n"
        STORE(0, 0, 1) STORE(1, 2, 3) STORE(2, 4, 5) STORE(3, 6, 7) STORE(4, 8, 9) STORE(5, 10, 11)
        STORE(6, 12, 13) STORE(7, 14, 15) STORE(8, 16, 17) STORE(9, 18, 19) STORE(10, 20, 21)
        STORE(11, 22, 23) STORE(12, 24, 25) STORE(13, 26, 27)
        : [p0] "+r"(p0), [p3] "+r"(p3), [p6] "+r"(p6), [p9] "+r"(p9), [p12] "+r"(p12), [b] "+r"(b),
          [pf] "+r"(pf), [n] "+r"(n)
        : [L] "r"(L), [pfs] "r"(pf_step), [acc] "r"(acc), [R] "i"(R)
        : "cc", "memory", "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8",
          "zmm9", "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18",
          "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "zmm26", "zmm27", "zmm28",
          "zmm29", "zmm30", "zmm31");
}

/* The epilogue of row r from its sums v0 (columns 0..15) and v1 (16..31) */
static inline __attribute__((always_inline)) void epilogue_row(const nn_tile_i8 *t, int r,
                                                             __m512i c0, __m512i c1)
{
    const int nr = t->nr;
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    const __m512i k0 = _mm512_loadu_si512(t->corr), k1 = _mm512_loadu_si512(t->corr + 16);
    const __m512 s0 = _mm512_loadu_ps(t->w_scale), s1 = _mm512_loadu_ps(t->w_scale + 16);
    const __m512 z0 = t->bias ? _mm512_loadu_ps(t->bias) : _mm512_setzero_ps();
    const __m512 z1 = t->bias ? _mm512_loadu_ps(t->bias + 16) : _mm512_setzero_ps();
    const __m512 as = _mm512_set1_ps(t->a_scale[r]);
    __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c0, k0));
    __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c1, k1));
    v0 = _mm512_fmadd_ps(v0, _mm512_mul_ps(as, s0), z0);
    v1 = _mm512_fmadd_ps(v1, _mm512_mul_ps(as, s1), z1);
    if (t->add) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, t->add + r * t->ldadd));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, t->add + r * t->ldadd + 16));
    }
    v0 = act512(t->act, v0);
    v1 = act512(t->act, v1);
    if (t->res) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, t->res + r * t->ldr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, t->res + r * t->ldr + 16));
    }
    _mm512_mask_storeu_ps(t->c + r * t->ldc, m0, v0);
    _mm512_mask_storeu_ps(t->c + r * t->ldc + 16, m1, v1);
}

static inline __attribute__((always_inline)) void tile_rows_asm(const nn_tile_i8 *t, const int R)
{
    int32_t acc[MR * 32] __attribute__((aligned(64)));
    sums_asm(t, R, acc);
    for (int r = 0; r < R; r++)
        epilogue_row(t, r, _mm512_load_si512(acc + r * 32), _mm512_load_si512(acc + r * 32 + 16));
}

static inline __attribute__((always_inline)) void tile_rows(const nn_tile_i8 *t, const int R)
{
    __m512i c0[MR_INTRIN], c1[MR_INTRIN];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_si512();
    const uint8_t *a = t->a;
    const int8_t *b = t->b, *pf = t->pf ? t->pf : t->b;
    const ptrdiff_t lda = t->lda, pf_step = t->pf ? t->pf_step : 128;
    for (int32_t g = 0; g < t->kg; g++, b += 4 * NN_NR, a += 4) {
        _mm_prefetch((const char *)pf, _MM_HINT_T0);
        pf += pf_step;
        const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m512i ar = _mm512_set1_epi32(nn_i8_group(a + r * lda));
            c0[r] = dpbusd(c0[r], ar, b0);
            c1[r] = dpbusd(c1[r], ar, b1);
        }
    }

#pragma GCC unroll 8
    for (int r = 0; r < R; r++) epilogue_row(t, r, c0[r], c1[r]);
}

#define TILE_FN(n) \
    static void tile_##n(const nn_tile_i8 *t) { tile_rows(t, n); }
#define TILE_FN_ASM(n) \
    static void tile_##n(const nn_tile_i8 *t) { tile_rows_asm(t, n); }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6) TILE_FN(7) TILE_FN(8)
TILE_FN_ASM(9) TILE_FN_ASM(10) TILE_FN_ASM(11) TILE_FN_ASM(12) TILE_FN_ASM(13) TILE_FN_ASM(14)

static void (*const tiles[MR + 1])(const nn_tile_i8 *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_7,
    tile_8, tile_9, tile_10, tile_11, tile_12, tile_13, tile_14,
};

void nn_tile_i8_avx512vnni(const nn_tile_i8 *t)
{
    tiles[t->mr](t);
}
