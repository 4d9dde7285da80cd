/*
 * test.c — the harness behind tests/test.h.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test.h"

int test_passed, test_failed;
static char tmpdir[4096];

const char *fixture(const char *rel)
{
    static char buf[8][4096];
    static int slot;
    const char *root = getenv("AE_FIXTURES");
    if (!root || !*root) root = AE_FIXTURES_DEFAULT;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap + 1);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *q = realloc(p, cap * 2 + 1);
            if (!q) { free(p); p = NULL; break; }
            p = q;
            cap *= 2;
        }
    }
    fclose(f);
    if (p) p[n] = 0; /* NUL-terminated for text users */
    if (size) *size = n;
    return p;
}

float *fixture_f32(const char *rel, size_t want)
{
    size_t size = 0;
    float *p = read_file(fixture(rel), &size);
    CHECK_MSG(p != NULL, "cannot read %s", rel);
    if (p && size != want * sizeof(float)) {
        CHECK_MSG(0, "%s: %zu bytes, expected %zu", rel, size, want * sizeof(float));
        free(p);
        return NULL;
    }
    return p;
}

char *test_tmp(const char *rel)
{
    static char buf[64][4200];
    static int slot;
    char *b = buf[slot++ & 63];
    snprintf(b, sizeof buf[0], "%s/%s", test_tmpdir(), rel);
    return b;
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/aesthete-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmpdir;
}

int test_summary(void)
{
    if (tmpdir[0] && !getenv("AE_KEEP_TMP")) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = (uint8_t)v; }

size_t bomb_png(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 8;
    memcpy(out, sig, 8);
    put32(out + n, 13), memcpy(out + n + 4, "IHDR", 4);
    put32(out + n + 8, w), put32(out + n + 12, h);
    out[n + 16] = 8, out[n + 17] = 2, out[n + 18] = 0, out[n + 19] = 0, out[n + 20] = 0; /* 8-bit RGB */
    put32(out + n + 21, (uint32_t)crc32(0, out + n + 4, 17));
    n += 25;
    /* a small IDAT of zlib-compressed zeros (what a bomb would expand) */
    uint8_t raw[4096] = {0}, z[256];
    uLongf zl = sizeof z;
    compress(z, &zl, raw, sizeof raw);
    put32(out + n, (uint32_t)zl), memcpy(out + n + 4, "IDAT", 4), memcpy(out + n + 8, z, zl);
    put32(out + n + 8 + zl, (uint32_t)crc32(0, out + n + 4, (uInt)(4 + zl)));
    n += 12 + zl;
    put32(out + n, 0), memcpy(out + n + 4, "IEND", 4), put32(out + n + 8, (uint32_t)crc32(0, out + n + 4, 4));
    return n + 12;
}
