/*
 * bf16_avx512bf16.c — the bf16 tile of the AVX-512 sets, on CPUs with AVX512_BF16 (Cooper
 * Lake, Sapphire Rapids, Zen 4 and 5): the 14x32 template of tile_avx512.h where one unit of
 * k is a pair of bf16 and one step is vdpbf16ps, 2 multiply-adds per float32 lane, so twice
 * the float32 tile's work per instruction and half its weight bytes.
 */
#include <immintrin.h>
#include <stdint.h>

#define TILE_ENTRY nn_tile_bf16_avx512bf16
#define TILE_BROADCAST(p) _mm512_castsi512_ps(_mm512_set1_epi32(*(const int32_t *)(p)))
#define TILE_MADD(acc, a, b) _mm512_dpbf16_ps(acc, (__m512bh)(a), (__m512bh)(b))
#include "nn/tile_avx512.h"
