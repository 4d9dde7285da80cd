/*
 * bigbuf.h — large buffers in huge-page mappings of their own (see bigbuf.c).
 */
#ifndef AE_BIGBUF_H
#define AE_BIGBUF_H

#include <stddef.h>

#define AE_BIG_WEIGHTS ((size_t)0)        /* map_from: packed weights, always mapped */
#define AE_BIG_PIXELS ((size_t)4 << 20)   /* map_from: decoded photos of 4 MiB and more */

/* bytes from a mapping of their own when bytes >= map_from (2 MiB aligned, huge pages),
 * else from malloc; NULL when out of memory. */
void *ae_big_alloc(size_t bytes, size_t map_from);
/* Frees a buffer of ae_big_alloc, given the same bytes and map_from. */
void ae_big_free(void *p, size_t bytes, size_t map_from);

#endif
