/*
 * utf8.c — UTF-8 validation (utf8.h).
 */
#include "utf8.h"

size_t ae_utf8_decode(const unsigned char *s, size_t n, uint32_t *out)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        if (out) *out = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (out) *out = cp;
    return len;
}

size_t ae_utf8_seq(const unsigned char *s, size_t n) { return ae_utf8_decode(s, n, NULL); }

int ae_utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n;) {
        size_t k = ae_utf8_seq(p + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}
