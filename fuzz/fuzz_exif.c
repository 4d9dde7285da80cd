/*
 * fuzz_exif.c — libFuzzer target for ae_exif_capture (src/photo.c, libexif underneath): the
 * input goes in as it is and again behind an "Exif\0\0" prefix (or without it, when it has
 * one), the two ways the image decoders hand a block over. What comes out must keep the
 * promises of ae_capture: has_time 0 with time 0 and no offset, or a finite time within
 * [1900-01-01, 2201-01-01) give or take the 14 hours an offset can move it; has_offset only
 * with a time and the offset within -14:00..+14:00; the camera NUL-terminated inside its
 * buffer, printable ASCII and trimmed. The same TIFF bytes with and without the prefix must
 * give the same capture. Built by -DAE_FUZZ=ON (fuzz/run.sh):
 *
 *   build-fuzz/fuzz_exif -max_len=8192 -timeout=10 fuzz/corpus/exif/
 *
 * That sees the coverage of photo.c only. For libexif's own (where the parsing is), compile
 * its sources (libexif 0.6.24, the version Debian ships) with the same sanitizers and
 * -fsanitize=fuzzer-no-link, a config.h of two lines (#define GETTEXT_PACKAGE "libexif-12",
 * #define HAVE_LOCALTIME_R 1) and /usr/include/libexif/_stdint.h copied beside them, and link
 * those objects instead of -lexif (-I<libexif source> first).
 *
 * Seeds: blocks exiftool wrote into fixture JPEGs (little- and big-endian, with and without
 * the prefix), one with only an Orientation, a doubled prefix from an early run (its stripped
 * copy is a prefixed block, not TIFF bytes: the comparison below skips that case), and maker
 * notes of the five kinds libexif interprets (Canon, Olympus, Pentax, Fuji, Apple) written by
 * fuzz/exif_seeds.py.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const ae_capture *c)
{
    const double lo = -2208988800.0 - 14 * 3600; /* 1900-01-01 00:00 local at +14:00 */
    const double hi = 7289654400.0 + 14 * 3600;  /* 2201-01-01 00:00 local at -14:00 */
    if (c->has_time != 0 && c->has_time != 1) abort();
    if (c->has_time) {
        if (!isfinite(c->time) || c->time < lo || c->time >= hi + 1) abort(); /* + leap second */
    } else if (c->time != 0 || c->has_offset) {
        abort();
    }
    if (c->has_offset != 0 && c->has_offset != 1) abort();
    if (c->has_offset && (c->offset_minutes < -14 * 60 || c->offset_minutes > 14 * 60)) abort();
    size_t n = strnlen(c->camera, sizeof c->camera);
    if (n == sizeof c->camera) abort();
    for (size_t i = 0; i < n; i++)
        if (c->camera[i] < 0x20 || c->camera[i] > 0x7e) abort();
    if (n && (c->camera[0] == ' ' || c->camera[n - 1] == ' ')) abort(); /* trimmed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ae_capture a, b;
    if (ae_exif_capture(data, size, &a) != AE_OK) abort();
    check(&a);
    const int prefixed = size >= 6 && memcmp(data, "Exif\0\0", 6) == 0;
    if (prefixed) {
        /* the TIFF bytes alone, in a buffer of their own size (ASan sees any overread) */
        uint8_t *t = malloc(size - 6 ? size - 6 : 1);
        if (!t) return 0;
        memcpy(t, data + 6, size - 6);
        if (ae_exif_capture(t, size - 6, &b) != AE_OK) abort();
        free(t);
        check(&b);
        /* libexif's minimum: a block under 8 bytes is nothing either way; and TIFF bytes that
         * start with a second prefix are no TIFF bytes (the stripped copy is a prefixed block) */
        if (size - 6 >= 8 && memcmp(data + 6, "Exif\0\0", 6) != 0 && memcmp(&a, &b, sizeof a) != 0)
            abort();
    } else {
        uint8_t *t = malloc(size + 6);
        if (!t) return 0;
        memcpy(t, "Exif\0\0", 6);
        memcpy(t + 6, data, size);
        if (ae_exif_capture(t, size + 6, &b) != AE_OK) abort();
        free(t);
        check(&b);
        if (size >= 8 && memcmp(&a, &b, sizeof a) != 0) abort();
    }
    return 0;
}
