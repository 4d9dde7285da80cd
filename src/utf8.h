/*
 * utf8.h — the one UTF-8 validator of the project (parameters, paths, class names, JSON
 * output): well-formed sequences only, as RFC 3629 defines them — no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 */
#ifndef AE_UTF8_H
#define AE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1..4) of the well-formed sequence at s (n bytes available) with its code point
 * into *cp (cp may be NULL), or 0 when the bytes there are not one. */
size_t ae_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* The same without the code point. */
size_t ae_utf8_seq(const unsigned char *s, size_t n);
/* 1 if s[0, n) is well-formed UTF-8 throughout (NUL bytes are characters here: callers that
 * want text without control characters check those themselves). */
int ae_utf8_valid(const void *s, size_t n);

#endif
