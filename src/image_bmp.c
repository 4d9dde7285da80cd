/*
 * image_bmp.c — a small, strict Windows/OS2 BMP reader (Debian has no BMP library).
 *
 * Layout: 14-byte file header ("BM", file size, reserved, offset of the pixel data), then
 * an info header whose first 4 bytes give its size: 12 (OS/2 BITMAPCOREHEADER: 16-bit
 * width/height, 3-byte palette entries) or 40/52/56/64/108/124 (BITMAPINFOHEADER and its
 * successors: 32-bit width/height, a negative height meaning top-down rows, 4-byte palette
 * entries B, G, R, 0). Rows are padded to 4 bytes and stored bottom-up unless top-down.
 *
 * Supported as Pillow 9.4 reads them: 1/4/8-bit palette images (palette of biClrUsed or
 * 2^bits entries; an index past it takes Pillow's gray ramp), 16-bit (BI_RGB = 5-5-5, or
 * BI_BITFIELDS 5-6-5 / 5-5-5; samples widened as v * 255 / max), 24-bit BGR, 32-bit BGRX
 * (BI_RGB or BI_BITFIELDS with byte-aligned masks; alpha dropped). RLE-compressed, JPEG/PNG
 * embedded and other mask layouts are refused as unsupported. Every header field is checked
 * against the file size before use: the pixel data must lie inside the file.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "image_formats.h"

static uint32_t le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Shift and width of a contiguous bit mask; -1 if the mask is empty or not contiguous. */
static int mask_info(uint32_t m, int *shift, int *bits)
{
    if (!m) return -1;
    int s = 0;
    while (!(m & 1)) { m >>= 1; s++; }
    int b = 0;
    while (m & 1) { m >>= 1; b++; }
    if (m) return -1;
    *shift = s;
    *bits = b;
    return 0;
}

int img_decode_bmp(const uint8_t *d, size_t size, const char *name,
                   const ae_image_params *params, ae_image *out, img_exif *exif)
{
    (void)exif;
    if (size < 14 + 12) return ae_fail(AE_ERR_FORMAT, "%s: truncated BMP header", name);
    const uint32_t off = le32(d + 10), hsize = le32(d + 14);
    if (hsize != 12 && hsize != 40 && hsize != 52 && hsize != 56 && hsize != 64 &&
        hsize != 108 && hsize != 124)
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: unsupported BMP header size %u", name, hsize);
    if (14 + (size_t)hsize > size) return ae_fail(AE_ERR_FORMAT, "%s: truncated BMP header", name);
    const uint8_t *h = d + 14;
    int64_t w, hh;
    uint32_t bits, comp = 0, ncolors = 0, planes;
    int topdown = 0, palent = 4;
    if (hsize == 12) {
        w = le16(h + 4);
        hh = le16(h + 6);
        planes = le16(h + 8);
        bits = le16(h + 10);
        palent = 3;
    } else {
        w = (int32_t)le32(h + 4);
        hh = (int32_t)le32(h + 8);
        planes = le16(h + 12);
        bits = le16(h + 14);
        comp = le32(h + 16);
        ncolors = le32(h + 32);
        if (hh < 0) {
            topdown = 1;
            hh = -hh;
        }
    }
    if (planes != 1) return ae_fail(AE_ERR_FORMAT, "%s: BMP planes %u (must be 1)", name, planes);
    if (w < 0) return ae_fail(AE_ERR_FORMAT, "%s: negative BMP width %lld", name, (long long)w);
    int rc = img_check_size(name, w, hh, params);
    if (rc != AE_OK) return rc;

    /* Channel masks: R, G, B for 16/32-bit; BI_RGB defaults. */
    uint32_t mask[3];
    if (bits == 16) { mask[0] = 0x7C00; mask[1] = 0x03E0; mask[2] = 0x001F; }
    else { mask[0] = 0xFF0000; mask[1] = 0x00FF00; mask[2] = 0x0000FF; }
    if (comp == 3 || comp == 6) { /* BI_BITFIELDS, BI_ALPHABITFIELDS */
        if (bits != 16 && bits != 32)
            return ae_fail(AE_ERR_FORMAT, "%s: BMP bit fields with %u bits per pixel", name, bits);
        /* Masks follow a 40-byte header; later headers hold them at the same place. */
        if (14 + 40 + 12 > (size_t)size)
            return ae_fail(AE_ERR_FORMAT, "%s: truncated BMP header", name);
        for (int i = 0; i < 3; i++) mask[i] = le32(h + 40 + 4 * i);
    } else if (comp == 1 || comp == 2) {
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: RLE-compressed BMP is not supported", name);
    } else if (comp != 0) {
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: BMP compression %u is not supported", name, comp);
    }
    int shift[3], mbits[3];
    if (bits == 16 || bits == 32) {
        for (int i = 0; i < 3; i++)
            if (mask_info(mask[i], &shift[i], &mbits[i]) || mbits[i] > 8 ||
                (bits == 32 && mbits[i] != 8))
                return ae_fail(AE_ERR_UNSUPPORTED, "%s: unsupported BMP channel masks", name);
    } else if (bits != 1 && bits != 4 && bits != 8 && bits != 24) {
        return ae_fail(AE_ERR_FORMAT, "%s: invalid BMP bit depth %u", name, bits);
    }

    /* Palette, right after the info header (and the masks of a 40-byte BITFIELDS header). */
    uint8_t pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
    if (bits <= 8) {
        uint32_t n = ncolors ? ncolors : 1u << bits;
        if (n > 256) return ae_fail(AE_ERR_FORMAT, "%s: BMP palette of %u colours", name, n);
        size_t p0 = 14 + (size_t)hsize;
        if (p0 + (size_t)n * palent > size)
            return ae_fail(AE_ERR_FORMAT, "%s: truncated BMP palette", name);
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e = d + p0 + (size_t)i * palent;
            pal[i][0] = e[2];
            pal[i][1] = e[1];
            pal[i][2] = e[0];
        }
    }

    const size_t stride = (((size_t)w * bits + 31) / 32) * 4;
    if (off < 14 + (size_t)hsize || off > size || stride * (size_t)hh > size - off)
        return ae_fail(AE_ERR_FORMAT, "%s: truncated BMP data (%zu bytes of pixels needed)", name,
                       stride * (size_t)hh);
    rc = img_alloc(name, (int32_t)w, (int32_t)hh, out);
    if (rc != AE_OK) return rc;

    for (int64_t y = 0; y < hh; y++) {
        const uint8_t *s = d + off + stride * (size_t)(topdown ? y : hh - 1 - y);
        uint8_t *o = out->rgb + (size_t)y * (size_t)w * 3;
        for (int64_t x = 0; x < w; x++, o += 3) {
            if (bits <= 8) {
                unsigned i;
                if (bits == 8) i = s[x];
                else if (bits == 4) i = (s[x >> 1] >> (x & 1 ? 0 : 4)) & 15;
                else i = (s[x >> 3] >> (7 - (x & 7))) & 1;
                memcpy(o, pal[i], 3);
            } else if (bits == 24) {
                o[0] = s[3 * x + 2];
                o[1] = s[3 * x + 1];
                o[2] = s[3 * x];
            } else {
                uint32_t v = bits == 16 ? le16(s + 2 * x) : le32(s + 4 * x);
                for (int c = 0; c < 3; c++) {
                    uint32_t m = (1u << mbits[c]) - 1, q = (v >> shift[c]) & m;
                    o[c] = (uint8_t)(q * 255 / m);
                }
            }
        }
    }
    return AE_OK;
}
