/*
 * test.h — a tiny test harness: CHECK, CHECK_EQ_INT, CHECK_NEAR, CHECK_STR_CONTAINS, and
 * helpers to find the fixtures and make temporary folders. Each test file has a main() that
 * calls its cases and returns test_summary(); the last line printed is
 * "N passed, N failed".
 */
#ifndef AE_TEST_H
#define AE_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_passed, test_failed;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) test_passed++;                                                           \
        else { test_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_MSG(cond, ...)                                                               \
    do {                                                                                   \
        if (cond) test_passed++;                                                           \
        else {                                                                             \
            test_failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        CHECK_MSG(a_ == b_, "%s = %lld, expected %lld", #a, a_, b_);                       \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double a_ = (double)(a), b_ = (double)(b);                                         \
        CHECK_MSG(fabs(a_ - b_) <= (tol), "%s = %.9g, expected %.9g (tol %g)", #a, a_, b_, (double)(tol)); \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                    \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        CHECK_MSG(h_ && strstr(h_, n_), "\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
    } while (0)

/* <fixtures>/<rel>: $AE_FIXTURES or <repo>/../shared/fixtures. Returns a static buffer
 * per call slot (up to 8 live results). */
const char *fixture(const char *rel);
/* Reads a whole file; NULL on failure. *size set. Caller frees. */
void *read_file(const char *path, size_t *size);
/* <fixtures>/<rel> as float32, which must hold exactly `want` floats (a failed CHECK and NULL
 * otherwise). Caller frees. */
float *fixture_f32(const char *rel, size_t want);
/* A fresh temporary folder under $TMPDIR (removed by test_summary). */
const char *test_tmpdir(void);
/* <test_tmpdir()>/<rel> in one of 64 static buffers used in turn (valid for 63 more calls). */
char *test_tmp(const char *rel);
int test_summary(void);
/* A valid-looking PNG whose IHDR claims w x h with a small IDAT of zeros (a decompression
 * bomb's header) into out (at least 320 bytes); returns its size. */
size_t bomb_png(uint8_t *out, uint32_t w, uint32_t h);

#endif
