/*
 * image_png.c — PNG decoding with libpng, converted to RGB as Pillow 9.4 does.
 *
 * libpng only unpacks samples here (sub-byte depths expanded to one byte per sample; gray
 * scaled to 0..255 like Pillow's "L;2"/"L;4"/"1"; 16-bit samples keep the HIGH byte, Pillow's
 * "RGB;16B" rawmodes) and no gamma, colour or alpha transform is requested. The RGB
 * conversion is ours, Pillow's convert("RGB"):
 *   gray, gray+alpha  -> (v, v, v), alpha dropped (no compositing)
 *   RGB, RGBA         -> alpha dropped
 *   palette           -> palette colour, tRNS ignored; indices past the PLTE entries take
 *                        Pillow's default palette, the gray ramp (i, i, i)
 *   16-bit gray       -> Pillow opens it as mode "I" and convert("RGB") CLAMPS the 16-bit
 *                        value to 0..255 (so most of such an image is white); kept for
 *                        exactness with transformers
 * Interlaced images are de-interlaced by libpng. The eXIf chunk is returned for orientation.
 * libpng errors longjmp back here and become "name: corrupt PNG data: <libpng message>";
 * running out of input is "truncated PNG data".
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "error.h"
#include "image_formats.h"

typedef struct reader {
    const uint8_t *data;
    size_t size, pos;
    int truncated;
    char msg[160];
} reader;

static void on_read(png_structp png, png_bytep buf, size_t n)
{
    reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos) {
        r->truncated = 1;
        png_error(png, "truncated");
    }
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
}

static void on_error(png_structp png, png_const_charp msg)
{
    reader *r = png_get_error_ptr(png);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int img_decode_png(const uint8_t *data, size_t size, const char *name,
                   const ae_image_params *params, ae_image *out, img_exif *exif)
{
    /* The IHDR is the first chunk: check the size before libpng reads any further (a
     * header claiming 30000 x 30000 is refused even if no image data follows). */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        int64_t w = (int64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        int64_t h = (int64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        int rc = img_check_size(name, w, h, params);
        if (rc != AE_OK) return rc;
    }
    reader rd = {data, size, 0, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &rd, on_error, on_warning);
    if (!png) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
    }
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        int rc = rd.truncated ? ae_fail(AE_ERR_FORMAT, "%s: truncated PNG data", name)
                              : ae_fail(AE_ERR_FORMAT, "%s: corrupt PNG data: %s", name, rd.msg);
        png_destroy_read_struct(&png, &info, NULL);
        free(buf);
        free(rows);
        ae_image_free(out);
        return rc;
    }
    png_set_read_fn(png, &rd, on_read);
    /* Lift libpng's 1M-per-side default: only our pixel limit (below) applies. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int rc = img_check_size(name, w, h, params);
    if (rc != AE_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return rc;
    }
    if (exif) {
        png_uint_32 n = 0;
        png_bytep ex = NULL;
        if (png_get_eXIf_1(png, info, &n, &ex) && ex && n) {
            exif->owned = malloc(n);
            if (exif->owned) {
                memcpy(exif->owned, ex, n);
                exif->data = exif->owned;
                exif->len = n;
            }
        }
    }

    /* Unpack only: 1/2/4-bit gray scaled to 8 bits, palette indices to one byte each. */
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ctype == PNG_COLOR_TYPE_PALETTE && depth < 8) png_set_packing(png);
    const int gray16 = ctype == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (depth == 16 && !gray16) png_set_strip_16(png); /* keeps the high byte */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const int channels = png_get_channels(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || rowbytes < (size_t)w * channels * (gray16 ? 2 : 1))
        png_error(png, "unexpected row layout");

    /* Palette: Pillow's default palette is the gray ramp, PLTE overwrites its first entries. */
    uint8_t pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL;
        int np = 0;
        if (!png_get_PLTE(png, info, &plte, &np) || !plte) png_error(png, "missing PLTE");
        for (int i = 0; i < np && i < 256; i++) {
            pal[i][0] = plte[i].red;
            pal[i][1] = plte[i].green;
            pal[i][2] = plte[i].blue;
        }
    }

    rc = img_alloc(name, (int32_t)w, (int32_t)h, out);
    if (rc != AE_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return rc;
    }
    /* Decode into one buffer (interlaced images need the whole image), then convert. RGB
     * 8-bit goes straight into the output. */
    const int direct = channels == 3 && !gray16;
    if (!direct) {
        buf = malloc(rowbytes * h);
        if (!buf) png_error(png, "out of memory");
    }
    rows = malloc(sizeof(png_bytep) * h);
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = direct ? out->rgb + (size_t)y * w * 3 : buf + (size_t)y * rowbytes;
    png_read_image(png, rows);

    if (!direct) {
        for (png_uint_32 y = 0; y < h; y++) {
            const uint8_t *s = rows[y];
            uint8_t *d = out->rgb + (size_t)y * w * 3;
            for (png_uint_32 x = 0; x < w; x++, d += 3) {
                if (gray16) {
                    unsigned v = (unsigned)s[2 * x] << 8 | s[2 * x + 1];
                    d[0] = d[1] = d[2] = v > 255 ? 255 : (uint8_t)v;
                } else if (ctype == PNG_COLOR_TYPE_PALETTE) {
                    const uint8_t *c = pal[s[x]];
                    d[0] = c[0];
                    d[1] = c[1];
                    d[2] = c[2];
                } else if (channels <= 2) { /* gray, gray + alpha */
                    d[0] = d[1] = d[2] = s[x * channels];
                } else { /* RGBA */
                    d[0] = s[4 * x];
                    d[1] = s[4 * x + 1];
                    d[2] = s[4 * x + 2];
                }
            }
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(buf);
    free(rows);
    return AE_OK;
}
