/*
 * hash.h — SHA-256 (FIPS 180-4) for the application layer: the embedding cache keys images by
 * the hash of their bytes, and hub downloads check LFS files against their sha256 ETag.
 * Streaming (init / update / final) so that large files need not be held in memory.
 */
#ifndef AE_APP_HASH_H
#define AE_APP_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ae_sha256 {
    uint32_t h[8];
    uint64_t len;    /* bytes hashed so far */
    uint8_t buf[64]; /* partial block */
    size_t nbuf;
} ae_sha256;

void ae_sha256_init(ae_sha256 *c);
void ae_sha256_update(ae_sha256 *c, const void *data, size_t n);
void ae_sha256_final(ae_sha256 *c, uint8_t out[32]);
/* Writes the 64 lowercase hex digits of digest and a NUL into hex. */
void ae_sha256_tohex(const uint8_t digest[32], char hex[65]);
/* One shot: hex digest of n bytes. */
void ae_sha256_hex(const void *data, size_t n, char hex[65]);
/* Bytes passed to ae_sha256_update by all threads since the start: lets tests check that
 * work which needs no hash (scoring without a cache) does none. */
uint64_t ae_sha256_bytes_hashed(void);

#endif
