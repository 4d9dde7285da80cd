/*
 * error.h — error reporting inside libaesthete.
 *
 * Every failing function calls ae_fail(rc, "name: cause") once, at the place where the input
 * and the cause are both known, and returns its result. The message is kept per thread
 * (ae_last_error() in the public header), so threads never see each other's errors.
 * Callers that add context use ae_fail_prefix(rc, "outer: ") which prepends to the detail.
 */
#ifndef AE_ERROR_H
#define AE_ERROR_H

#include <stdio.h>
#include <stdlib.h>

#include "aesthete.h"

#if defined(__GNUC__)
#define AE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define AE_PRINTF(a, b)
#endif

/* Sets the thread's error detail from a printf format and returns rc. */
int ae_fail(int rc, const char *fmt, ...) AE_PRINTF(2, 3);
/* Prepends a printf-formatted prefix to the current detail and returns rc. */
int ae_fail_prefix(int rc, const char *fmt, ...) AE_PRINTF(2, 3);
void ae_clear_error(void);

/* Programmer errors only (never reachable from bad input): print file:line and abort. */
#define AE_ASSERT(x)                                                                       \
    do {                                                                                   \
        if (!(x)) {                                                                        \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x);      \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
