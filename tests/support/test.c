/*
 * test.c — the harness behind tests/test.h.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <unistd.h>

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
