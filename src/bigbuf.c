/*
 * bigbuf.c — large buffers (packed weights, decoded photos) in mappings of their own.
 *
 * A buffer of at least map_from bytes gets an anonymous mapping aligned to 2 MiB and (Linux)
 * marked for transparent huge pages, exactly `bytes` long, so the tail past the last whole
 * 2 MiB uses small pages and nothing is wasted. Page faults were most of a model load (a
 * ViT-B/32 is 150 000 of them with 4 KiB pages, each several times dearer in a VM) and of
 * decoding a 12 MP photo (a fresh 36 MB from malloc each time; parallel decoders then queue
 * on the kernel's page-table lock); with 2 MiB pages they are 512 times fewer, and the
 * forward pass's weight streams need a few TLB entries instead of thousands. Smaller buffers
 * come from malloc. The size decides which, so ae_big_free needs the same
 * size and threshold. Weights are mapped whatever their size (loaded once, kept); photos only
 * from 4 MiB (a 1 MP photo's 3 MB comes back from malloc's free list at no cost, a fresh
 * mapping per photo measured 6 % slower).
 */
#define _GNU_SOURCE
#include "bigbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define PAGE ((size_t)4096)

void *ae_big_alloc(size_t bytes, size_t map_from)
{
    if (bytes < map_from) return malloc(bytes ? bytes : 1);
    if (bytes > SIZE_MAX - HUGE_PAGE) return NULL;
    size_t span = bytes + HUGE_PAGE;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    char *a = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    size_t end = ((size_t)(a - p) + bytes + PAGE - 1) & ~(PAGE - 1);
    if (a > p) munmap(p, (size_t)(a - p));
    if (end < span) munmap(p + end, span - end);
#ifdef MADV_HUGEPAGE
    madvise(a, bytes & ~(HUGE_PAGE - 1), MADV_HUGEPAGE); /* a hint: fine if refused */
#endif
    return a;
}

void ae_big_free(void *p, size_t bytes, size_t map_from)
{
    if (!p) return;
    if (bytes < map_from) free(p);
    else munmap(p, bytes);
}
