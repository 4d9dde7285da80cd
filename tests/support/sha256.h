/* sha256.h — SHA-256 for tests (checking fixture hashes); FIPS 180-4. */
#ifndef AE_TEST_SHA256_H
#define AE_TEST_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx { uint32_t h[8]; uint64_t len; uint8_t buf[64]; size_t nbuf; } sha256_ctx;
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
/* One-shot: writes 64 lowercase hex digits + NUL into hex. */
void sha256_hex(const void *data, size_t n, char hex[65]);
#endif
