/*
 * i8_avx2.c — the int8 tile of the avx2 and avx512 sets (CPUs without VNNI): 4 rows x 16
 * columns by vpmaddubsw + vpmaddwd.
 *
 * vpmaddubsw multiplies unsigned by signed bytes and adds adjacent pairs into a saturating
 * int16: with u8 activations up to 255 and weights up to ±127 a pair reaches 64770 and
 * saturates. The sign trick avoids that exactly: the activations stay s8 in [-127, 127], the
 * unsigned operand is |a| (vpabsb) and the signed one the weight with a's sign (vpsignb), so a
 * pair is at most 2 * 127 * 127 = 32258. vpmaddwd by ones then adds the pairs into int32, so
 * the sums equal the reference's exactly. Per group of 4 k and row: one broadcast, one vpabsb
 * and, per 8 columns, vpsignb, vpmaddubsw, vpmaddwd and vpaddd. No correction term (corr is
 * NULL for this kernel: activations are signed). Epilogue as in nn_internal.h.
 */
#include <immintrin.h>

/* |a| (unsigned) times the weights with a's sign, pairs into int16 (at most 2 * 127^2, no
 * saturation), then pairs of those into the int32 sums */
#define TILE_ENTRY nn_tile_i8_avx2
#define TILE_STEP(c0, c1, ar, b0, b1)                                                          \
    do {                                                                                       \
        const __m256i ua_ = _mm256_abs_epi8(ar), ones_ = _mm256_set1_epi16(1);                 \
        (c0) = _mm256_add_epi32((c0), _mm256_madd_epi16(_mm256_maddubs_epi16(ua_, _mm256_sign_epi8((b0), (ar))), ones_)); \
        (c1) = _mm256_add_epi32((c1), _mm256_madd_epi16(_mm256_maddubs_epi16(ua_, _mm256_sign_epi8((b1), (ar))), ones_)); \
    } while (0)
#include "nn/tile_i8_avx2.h"
