/*
 * image_decode.c — the public ae_image_* functions: reading a file, detecting its format from
 * the first bytes (never from the name), the pixel limit, and EXIF orientation.
 *
 * The per-format decoders (image_formats.h) produce Pillow 9.4's convert("RGB") of the image
 * as stored. When params->exif_rotate is set, the EXIF Orientation tag the decoder found
 * (JPEG APP1, PNG eXIf, WebP EXIF) is applied afterwards, as ImageOps.exif_transpose does;
 * with exif_rotate = 0 the pixels are exactly what transformers' CLIPImageProcessor sees.
 * HEIF/AVIF files carry their rotation and mirroring as irot/imir boxes, which libheif always
 * applies (the HEIF rules say EXIF orientation must then be ignored, and it is).
 *
 * The EXIF reader is a minimal bounds-checked TIFF walker for the one tag we need: IFD0 entry
 * 0x0112, type SHORT, count 1; anything malformed means "orientation 1", as in Pillow. The
 * rest of the block (capture time, camera) is read by libexif when asked (photo.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bigbuf.h"
#include "error.h"
#include "fileio.h"
#include "image.h"
#include "image_formats.h"

ae_image_params ae_image_default_params(void)
{
    ae_image_params p;
    memset(&p, 0, sizeof p);
    p.exif_rotate = 1;
    p.max_pixels = 100000000;
    return p;
}

void ae_image_free(ae_image *img)
{
    if (!img) return;
    ae_big_free(img->rgb, (size_t)img->width * (size_t)img->height * 3, AE_BIG_PIXELS);
    img->rgb = NULL;
    img->width = img->height = 0;
}

int img_check_size(const char *name, int64_t width, int64_t height,
                   const ae_image_params *params)
{
    if (width <= 0 || height <= 0)
        return ae_fail(AE_ERR_FORMAT, "%s: invalid image size %lld x %lld", name,
                       (long long)width, (long long)height);
    /* Both come from 16- or 32-bit header fields, so the product fits in 64 bits. */
    uint64_t n = (uint64_t)width * (uint64_t)height;
    if (params->max_pixels && n > params->max_pixels)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %lld x %lld = %llu pixels exceeds the limit of %llu",
                       name, (long long)width, (long long)height, (unsigned long long)n,
                       (unsigned long long)params->max_pixels);
    if (width > INT32_MAX || height > INT32_MAX || n > (SIZE_MAX - 64) / 3)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %lld x %lld pixels is too large", name,
                       (long long)width, (long long)height);
    return AE_OK;
}

int img_alloc(const char *name, int32_t width, int32_t height, ae_image *out)
{
    /* a photo's pixels in huge pages: a fresh 36 MB of small pages per 12 MP photo cost more
     * in page faults than the decoding (bigbuf.c) */
    out->rgb = ae_big_alloc((size_t)width * (size_t)height * 3, AE_BIG_PIXELS);
    if (!out->rgb)
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory for %d x %d pixels", name, width, height);
    out->width = width;
    out->height = height;
    return AE_OK;
}

/* ---- EXIF orientation -------------------------------------------------------------------- */

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int img_exif_orientation(const uint8_t *exif, size_t len)
{
    if (!exif) return 1;
    if (len >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) {
        exif += 6;
        len -= 6;
    }
    if (len < 8) return 1;
    int le;
    if (memcmp(exif, "II*\0", 4) == 0) le = 1;
    else if (memcmp(exif, "MM\0*", 4) == 0) le = 0;
    else return 1;
    uint32_t ifd = rd32(exif + 4, le);
    if (ifd > len - 2) return 1;
    unsigned n = rd16(exif + ifd, le);
    for (unsigned i = 0; i < n; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > len) return 1;
        if (rd16(exif + e, le) != 0x0112) continue;
        unsigned type = rd16(exif + e + 2, le);
        if (type != 3 || rd32(exif + e + 4, le) < 1) return 1; /* SHORT, inline */
        unsigned v = rd16(exif + e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* Source index (in the stored image, w x h) of oriented pixel (x, y). */
static inline size_t orient_src(int orientation, int32_t w, int32_t h, int32_t x, int32_t y)
{
    int32_t sx, sy;
    switch (orientation) {
    case 2: sx = w - 1 - x; sy = y; break;             /* FLIP_LEFT_RIGHT */
    case 3: sx = w - 1 - x; sy = h - 1 - y; break;     /* ROTATE_180 */
    case 4: sx = x; sy = h - 1 - y; break;             /* FLIP_TOP_BOTTOM */
    case 5: sx = y; sy = x; break;                     /* TRANSPOSE */
    case 6: sx = y; sy = h - 1 - x; break;             /* ROTATE_270 (clockwise) */
    case 7: sx = w - 1 - y; sy = h - 1 - x; break;     /* TRANSVERSE */
    default: sx = w - 1 - y; sy = x; break;            /* 8: ROTATE_90 */
    }
    return (size_t)sy * (size_t)w + (size_t)sx;
}

static inline void swap3(uint8_t *a, uint8_t *b)
{
    uint8_t t0 = a[0], t1 = a[1], t2 = a[2];
    a[0] = b[0], a[1] = b[1], a[2] = b[2];
    b[0] = t0, b[1] = t1, b[2] = t2;
}

/* In place, so a rotated photo never needs a second full-size buffer: the flips (2, 3, 4)
 * swap pixel pairs; the transposing orientations (5..8) move every pixel along the cycles of
 * the permutation, with one bit per pixel marking those already placed (w * h / 8 bytes).
 * The pipeline does not even do this: it resizes straight from the stored pixels
 * (img_preprocess_oriented). */
int img_orient(ae_image *img, int orientation, const char *name)
{
    if (orientation < 2 || orientation > 8) return AE_OK;
    const int32_t w = img->width, h = img->height;
    uint8_t *a = img->rgb;
    if (orientation <= 4) {
        for (int32_t y = 0; y < h; y++)
            for (int32_t x = 0; x < w; x++) {
                size_t d = (size_t)y * (size_t)w + (size_t)x, s = orient_src(orientation, w, h, x, y);
                /* a flip is its own inverse: each pair (d, s) is swapped once, from d < s */
                if (s > d) swap3(a + d * 3, a + s * 3);
            }
        return AE_OK;
    }
    const int32_t ow = h; /* oriented width (5..8 exchange width and height) */
    const size_t n = (size_t)w * (size_t)h;
    uint8_t *seen = calloc(n / 8 + 1, 1);
    if (!seen) return ae_fail(AE_ERR_NOMEM, "%s: out of memory rotating %d x %d", name, w, h);
    for (size_t i = 0; i < n; i++) {
        if (seen[i >> 3] >> (i & 7) & 1) continue;
        /* the cycle through i: position j receives the pixel at orient_src(j) */
        uint8_t t[3] = {a[i * 3], a[i * 3 + 1], a[i * 3 + 2]};
        size_t j = i;
        for (;;) {
            seen[j >> 3] |= (uint8_t)(1u << (j & 7));
            size_t k = orient_src(orientation, w, h, (int32_t)(j % (size_t)ow), (int32_t)(j / (size_t)ow));
            if (k == i) {
                a[j * 3] = t[0], a[j * 3 + 1] = t[1], a[j * 3 + 2] = t[2];
                break;
            }
            a[j * 3] = a[k * 3], a[j * 3 + 1] = a[k * 3 + 1], a[j * 3 + 2] = a[k * 3 + 2];
            j = k;
        }
    }
    free(seen);
    img->width = ow;
    img->height = w;
    return AE_OK;
}

/* ---- format detection -------------------------------------------------------------------- */

/* The decoder for a format name of ae_image_format() (image_sniff.c, the one place that
 * knows the magic numbers). */
static img_decoder sniff(const uint8_t *d, size_t n)
{
    static const struct { const char *name; img_decoder fn; } table[] = {
        {"jpeg", img_decode_jpeg}, {"png", img_decode_png}, {"webp", img_decode_webp},
        {"gif", img_decode_gif},   {"bmp", img_decode_bmp}, {"heif", img_decode_heif},
    };
    const char *f = ae_image_format(d, n);
    for (size_t i = 0; f && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(f, table[i].name) == 0) return table[i].fn;
    return NULL;
}

int img_decode_capture(const void *data, size_t size, const char *name,
                       const ae_image_params *params, ae_image *out, int *orientation,
                       ae_capture *capture)
{
    *orientation = 1;
    if (capture) memset(capture, 0, sizeof *capture);
    if (!name) name = "image";
    if (!out) return ae_fail(AE_ERR_INVALID, "%s: no output image", name);
    memset(out, 0, sizeof *out);
    ae_image_params p = params ? *params : ae_image_default_params();
    if (p.fast_decode && p.fast_decode_side <= 0) p.fast_decode_side = 224;
    if (!data && size) return ae_fail(AE_ERR_INVALID, "%s: no data", name);
    if (size == 0) return ae_fail(AE_ERR_FORMAT, "%s: empty file", name);

    img_decoder dec = sniff(data, size);
    if (!dec)
        return ae_fail(AE_ERR_UNSUPPORTED,
                       "%s: unknown image format (not JPEG, PNG, WebP, GIF, BMP, HEIF or AVIF)",
                       name);
    /* the decoders look for the block only when someone needs it */
    img_exif exif = {NULL, 0, NULL, 0};
    int rc = dec(data, size, name, &p, out, p.exif_rotate || capture ? &exif : NULL);
    if (rc == AE_OK && p.exif_rotate && !exif.upright)
        *orientation = img_exif_orientation(exif.data, exif.len);
    if (rc == AE_OK && capture && (rc = ae_exif_capture(exif.data, exif.len, capture)) != AE_OK) {
        ae_fail_prefix(rc, "%s: ", name);
        ae_image_free(out);
    }
    free(exif.owned);
    return rc;
}

int img_decode_oriented(const void *data, size_t size, const char *name,
                        const ae_image_params *params, ae_image *out, int *orientation)
{
    return img_decode_capture(data, size, name, params, out, orientation, NULL);
}

int ae_image_decode(const void *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out)
{
    int o;
    int rc = img_decode_oriented(data, size, name, params, out, &o);
    if (rc == AE_OK && (rc = img_orient(out, o, name ? name : "image")) != AE_OK) ae_image_free(out);
    return rc;
}

int img_read_file(const char *path, void **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    if (!path) return ae_fail(AE_ERR_INVALID, "image: no path");
    FILE *f = ae_file_fopen(path);
    if (!f) return ae_fail(AE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = AE_OK;
    struct stat st;
    /* Regular files: one buffer of the right size (+1 to see EOF without a realloc). */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < SIZE_MAX / 2) {
        cap = (size_t)st.st_size + 1;
        buf = malloc(cap);
        if (!buf) {
            fclose(f);
            return ae_fail(AE_ERR_NOMEM, "%s: out of memory reading %lld bytes", path,
                           (long long)st.st_size);
        }
    }
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 20;
            uint8_t *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory reading the file", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) rc = ae_fail(AE_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc != AE_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *size = n;
    return AE_OK;
}

int ae_image_load(const char *path, const ae_image_params *params, ae_image *out)
{
    if (out) memset(out, 0, sizeof *out);
    void *buf;
    size_t n;
    int rc = img_read_file(path, &buf, &n);
    if (rc != AE_OK) return rc;
    rc = ae_image_decode(buf, n, path, params, out);
    free(buf);
    return rc;
}
