/*
 * dispatch.c — the kernel sets, and the choice of one: the best the CPU supports
 * (avx512vnni > avx512 > avxvnni > avx2 > scalar), unless AE_KERNELS names another supported
 * set. The sets differ in their float32 kernels (AVX-512 or AVX2+FMA) and in their int8 tile
 * (AVX512-VNNI, AVX-VNNI, or pmaddubsw on AVX2); "avx512" and "avx2" are the sets of CPUs
 * without VNNI, and can be forced on a CPU with it to test those paths. On AArch64 the sets are
 * "neondot" and "neon" (NEON float32 kernels; int8 by SDOT where the CPU has the dot-product
 * extension, else by widening multiplies), neondot > neon > scalar. Tests and benchmarks
 * may switch sets with nn_set_kernels; the packed weight layouts are common to all sets, so a
 * switch is safe between calls.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

const nn_kernels nn_kernels_scalar = {
    .name = "scalar", .mr_max = 4, .nr = NN_NR, .tile = nn_tile_generic,
    .softmax = nn_softmax_scalar, .layernorm_rows = nn_layernorm_rows_scalar,
    .tile_i8 = nn_tile_i8_ref, .i8_mr = 4, .i8_nr = NN_NR, .i8_unsigned = 0,
    .quant_i8 = nn_quant_i8_ref,
};
#ifdef NN_HAVE_X86
const nn_kernels nn_kernels_avx2 = {
    .name = "avx2", .mr_max = 6, .nr = NN_NR / 2, .tile = nn_tile_f32_avx2,
    .softmax = nn_softmax_avx2, .layernorm_rows = nn_layernorm_rows_scalar,
    .tile_i8 = nn_tile_i8_avx2, .i8_mr = 4, .i8_nr = NN_NR / 2, .i8_unsigned = 0,
    .quant_i8 = nn_quant_i8_avx2,
};
const nn_kernels nn_kernels_avxvnni = {
    .name = "avxvnni", .mr_max = 6, .nr = NN_NR / 2, .tile = nn_tile_f32_avx2,
    .softmax = nn_softmax_avx2, .layernorm_rows = nn_layernorm_rows_scalar,
    .tile_i8 = nn_tile_i8_avxvnni, .i8_mr = 4, .i8_nr = NN_NR / 2, .i8_unsigned = 1,
    .quant_i8 = nn_quant_i8_avx2,
};
const nn_kernels nn_kernels_avx512 = {
    .name = "avx512", .mr_max = 14, .nr = NN_NR, .tile = nn_tile_f32_avx512,
    .softmax = nn_softmax_avx512, .layernorm_rows = nn_layernorm_rows_avx512,
    .tile_i8 = nn_tile_i8_avx2, .i8_mr = 4, .i8_nr = NN_NR / 2, .i8_unsigned = 0,
    .quant_i8 = nn_quant_i8_avx512,
    .tile_bf16 = nn_tile_bf16_avx512bf16,
};
const nn_kernels nn_kernels_avx512vnni = {
    .name = "avx512vnni", .mr_max = 14, .nr = NN_NR, .tile = nn_tile_f32_avx512,
    .softmax = nn_softmax_avx512, .layernorm_rows = nn_layernorm_rows_avx512,
    .tile_i8 = nn_tile_i8_avx512vnni, .i8_mr = 14, .i8_nr = NN_NR, .i8_unsigned = 1,
    .quant_i8 = nn_quant_i8_avx512,
    .tile_bf16 = nn_tile_bf16_avx512bf16,
};
#endif
#ifdef NN_HAVE_NEON
const nn_kernels nn_kernels_neon = {
    .name = "neon", .mr_max = 5, .nr = NN_NR / 2, .tile = nn_tile_f32_neon,
    .softmax = nn_softmax_neon, .layernorm_rows = nn_layernorm_rows_neon,
    .tile_i8 = nn_tile_i8_neon, .i8_mr = 4, .i8_nr = NN_NR / 2, .i8_unsigned = 0,
    .quant_i8 = nn_quant_i8_ref,
};
const nn_kernels nn_kernels_neondot = {
    .name = "neondot", .mr_max = 5, .nr = NN_NR / 2, .tile = nn_tile_f32_neon,
    .softmax = nn_softmax_neon, .layernorm_rows = nn_layernorm_rows_neon,
    .tile_i8 = nn_tile_i8_neondot, .i8_mr = 5, .i8_nr = NN_NR / 2, .i8_unsigned = 0,
    .quant_i8 = nn_quant_i8_ref,
};

/* SDOT (FEAT_DotProd, "asimddp" in /proc/cpuinfo), as the kernel reports it */
static int cpu_has_dotprod(void)
{
#if defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    int v = 0;
    size_t n = sizeof v;
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &n, NULL, 0) == 0 && v;
#else
    return 0;
#endif
}
#endif

static _Atomic(const nn_kernels *) current;

#ifdef NN_HAVE_X86
static int cpu_has(const char *what)
{
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (!strcmp(what, "avx2")) return avx2;
    /* AVX-VNNI from CPUID leaf 7.1 EAX bit 4: clang before 16 does not know the name
     * "avxvnni" in __builtin_cpu_supports (the OS's YMM support is in the avx2 test) */
    unsigned a = 0, b, c, d;
    if (!strcmp(what, "avxvnni")) return avx2 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
    if (!strcmp(what, "avx512")) return avx512;
    if (!strcmp(what, "avx512vnni")) return avx512 && __builtin_cpu_supports("avx512vnni");
    if (!strcmp(what, "avx512bf16")) return avx512 && __builtin_cpu_supports("avx512bf16");
    return 0;
}
#endif

int nn_kernels_supported(const char *name)
{
    if (!name) return 0;
    if (!strcmp(name, "scalar")) return 1;
#ifdef NN_HAVE_X86
    if (strcmp(name, "avx512bf16")) return cpu_has(name); /* (a CPU feature, not a set) */
#endif
#ifdef NN_HAVE_NEON
    if (!strcmp(name, "neon")) return 1; /* Advanced SIMD is part of every AArch64 CPU */
    if (!strcmp(name, "neondot")) return cpu_has_dotprod();
#endif
    return 0;
}

static const nn_kernels *by_name(const char *name)
{
    if (!nn_kernels_supported(name)) return NULL;
    if (!strcmp(name, "scalar")) return &nn_kernels_scalar;
#ifdef NN_HAVE_X86
    if (!strcmp(name, "avx2")) return &nn_kernels_avx2;
    if (!strcmp(name, "avxvnni")) return &nn_kernels_avxvnni;
    if (!strcmp(name, "avx512")) return &nn_kernels_avx512;
    if (!strcmp(name, "avx512vnni")) return &nn_kernels_avx512vnni;
#endif
#ifdef NN_HAVE_NEON
    if (!strcmp(name, "neon")) return &nn_kernels_neon;
    if (!strcmp(name, "neondot")) return &nn_kernels_neondot;
#endif
    return NULL;
}

static const nn_kernels *choose(void)
{
    const nn_kernels *k = by_name(getenv("AE_KERNELS"));
    if (k) return k;
#ifdef NN_HAVE_NEON
    static const char *const best_first[] = {"neondot", "neon"};
#else
    static const char *const best_first[] = {"avx512vnni", "avx512", "avxvnni", "avx2"};
#endif
    for (size_t i = 0; i < sizeof best_first / sizeof *best_first; i++)
        if ((k = by_name(best_first[i]))) return k;
    return &nn_kernels_scalar;
}

const nn_kernels *nn_kernels_get(void)
{
    const nn_kernels *k = atomic_load_explicit(&current, memory_order_acquire);
    if (!k) {
        k = choose(); /* idempotent: racing first calls store the same pointer */
        atomic_store_explicit(&current, k, memory_order_release);
    }
    return k;
}

int nn_set_kernels(const char *name)
{
    const nn_kernels *k = by_name(name);
    if (!k) return -1;
    atomic_store_explicit(&current, k, memory_order_release);
    return 0;
}

const char *nn_kernel_name(void)
{
    return nn_kernels_get()->name;
}

int nn_precision_supported(nn_precision prec)
{
    if (prec == NN_F32 || prec == NN_I8) return 1;
#ifdef NN_HAVE_X86
    if (prec == NN_BF16) return cpu_has("avx512bf16");
#endif
    return 0;
}

void (*nn_bf16_kernel(const nn_kernels *k))(const nn_tile *t)
{
#ifdef NN_HAVE_X86
    if (k->tile_bf16 && cpu_has("avx512bf16")) return k->tile_bf16;
#endif
    return nn_tile_bf16_ref;
}
