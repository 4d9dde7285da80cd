/*
 * dispatch.c — picks the kernel set once: the best the CPU supports (avx512 > avx2 > scalar),
 * unless AE_KERNELS=scalar|avx2|avx512 names another supported set. Tests and benchmarks may
 * switch sets with nn_set_kernels; the packed weight layout is common to all sets, so a switch
 * is safe between calls.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

static _Atomic(const nn_kernels *) current;

int nn_kernels_supported(const char *name)
{
    if (!name) return 0;
    if (!strcmp(name, "scalar")) return 1;
#ifdef NN_HAVE_X86
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(name, "avx2")) return avx2;
    if (!strcmp(name, "avx512"))
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
    return 0;
}

static const nn_kernels *by_name(const char *name)
{
    if (!nn_kernels_supported(name)) return NULL;
    if (!strcmp(name, "scalar")) return &nn_kernels_scalar;
#ifdef NN_HAVE_X86
    if (!strcmp(name, "avx2")) return &nn_kernels_avx2;
    if (!strcmp(name, "avx512")) return &nn_kernels_avx512;
#endif
    return NULL;
}

static const nn_kernels *choose(void)
{
    const nn_kernels *k = by_name(getenv("AE_KERNELS"));
    if (k) return k;
    if ((k = by_name("avx512"))) return k;
    if ((k = by_name("avx2"))) return k;
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
