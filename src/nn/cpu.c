/*
 * cpu.c — the per-core cache sizes the GEMM blocking is derived from.
 *
 * In order: AE_CACHES="L1D,L2,L3" (bytes, or with a K/M suffix; for tests and for trying
 * another machine's blocking), glibc's sysconf(_SC_LEVEL*_CACHE_SIZE) (CPUID on x86), CPUID
 * itself (deterministic cache parameters: leaf 4 on Intel, 0x8000001D on AMD), then 32 KiB /
 * 512 KiB / 2 MiB, sizes common to nearly every CPU of the last ten years. The L3 is divided
 * among the logical CPUs that share it where CPUID says how many do, and capped at 8 MiB a
 * core (virtual machines report a whole socket's L3). Out-of-range values (a VM reporting 0
 * or absurd sizes) fall back to the defaults one level at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "nn/nn_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define KIB 1024LL
#define MIB (1024LL * 1024LL)

static nn_caches cached;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A size in bytes, or with a K or M suffix; -1 unless it is a plain number from 0 to 2^40
 * (nothing larger is a cache, and the product with the suffix must not overflow). */
static int64_t parse_size(const char *s, const char **end)
{
    if (*s < '0' || *s > '9') return -1; /* no sign or space, which strtoll would take */
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (errno || v > (1LL << 40)) return -1;
    if (*e == 'K' || *e == 'k') v *= KIB, e++;
    else if (*e == 'M' || *e == 'm') v *= MIB, e++;
    *end = e;
    return v;
}

int nn_caches_parse(const char *s, nn_caches *out)
{
    if (!s || !*s) return -1;
    int64_t v[3];
    for (int i = 0; i < 3; i++) {
        const char *e;
        v[i] = parse_size(s, &e);
        if (v[i] <= 0) return -1;
        if (i < 2 && *e != ',') return -1;
        if (i == 2 && *e) return -1;
        s = e + 1;
    }
    out->l1d = v[0], out->l2 = v[1], out->l3 = v[2];
    out->source = "AE_CACHES";
    return 0;
}

static int from_sysconf(nn_caches *c)
{
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l1 <= 0 || l2 <= 0) return -1;
    c->l1d = l1, c->l2 = l2, c->l3 = l3 > 0 ? l3 : 0;
    c->source = "sysconf";
    return 0;
#else
    (void)c;
    return -1;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
/* CPUID's deterministic cache parameters: leaf 4 (Intel) or 0x8000001D (AMD). Each subleaf
 * describes one cache: type (1 data, 3 unified), level, ways, partitions, line size, sets
 * and how many logical CPUs share it. */
static int from_cpuid(nn_caches *c, int64_t *l3_sharing)
{
    unsigned a, b, cx, d, leaf = 4;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return -1;
    int amd = b == 0x68747541; /* "Auth"enticAMD */
    if (amd) {
        if (!__get_cpuid(0x80000000, &a, &b, &cx, &d) || a < 0x8000001D) return -1;
        leaf = 0x8000001D;
    } else if (a < 4) {
        return -1;
    }
    int found = 0;
    for (unsigned sub = 0; sub < 16; sub++) {
        __cpuid_count(leaf, sub, a, b, cx, d);
        unsigned type = a & 31, level = (a >> 5) & 7;
        if (type == 0) break;
        if (type != 1 && type != 3) continue;
        int64_t size = (int64_t)(((b >> 22) & 0x3FF) + 1) * (((b >> 12) & 0x3FF) + 1) *
                       ((b & 0xFFF) + 1) * ((int64_t)cx + 1);
        int64_t share = ((a >> 14) & 0xFFF) + 1;
        if (level == 1) c->l1d = size, found |= 1;
        if (level == 2) c->l2 = size, found |= 2;
        if (level == 3) c->l3 = size, *l3_sharing = share;
    }
    if ((found & 3) != 3) return -1;
    c->source = "cpuid";
    return 0;
}
#endif

static int64_t in_range(int64_t v, int64_t lo, int64_t hi, int64_t dflt)
{
    return v >= lo && v <= hi ? v : dflt;
}

static void detect(void)
{
    nn_caches c = {0, 0, 0, "default"};
    int64_t l3_sharing = 0;
    if (nn_caches_parse(getenv("AE_CACHES"), &c) == 0) { /* taken as given: per core */
        l3_sharing = 1;
    } else if (from_sysconf(&c) != 0) {
#if defined(__x86_64__) || defined(__i386__)
        if (from_cpuid(&c, &l3_sharing) != 0) c = (nn_caches){0, 0, 0, "default"};
#endif
    }
    if (l3_sharing == 0 && c.l3 > 0) {
        /* sysconf gives the whole L3; divide it among the CPUs online (a lower bound of the
         * share a core gets when all are busy) */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        l3_sharing = n > 0 ? n : 1;
    }
    if (l3_sharing > 1) c.l3 /= l3_sharing;
    c.l1d = in_range(c.l1d, 8 * KIB, 256 * KIB, 32 * KIB);
    c.l2 = in_range(c.l2, 64 * KIB, 16 * MIB, 512 * KIB);
    c.l3 = c.l3 > 8 * MIB ? 8 * MIB : in_range(c.l3, 256 * KIB, 8 * MIB, 2 * MIB);
    cached = c;
}

nn_caches nn_cpu_caches(void)
{
    pthread_once(&once, detect);
    return cached;
}

size_t nn_pool_cache(const nn_pool *pool)
{
    return (size_t)nn_cpu_caches().l3 * (size_t)nn_pool_size(pool);
}
