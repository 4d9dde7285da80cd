/*
 * image_formats.h — private interface between the image front end (image_decode.c: format
 * sniffing, the pixel limit, EXIF orientation) and the per-format decoders
 * (image_jpeg.c, image_png.c, image_webp.c, image_gif.c, image_bmp.c, image_heif.c).
 *
 * Every decoder turns one complete file in memory into 8-bit RGB exactly as Pillow 9.4's
 * Image.open(...).convert("RGB") does, and follows the same contract:
 *   - it reads the dimensions from the header and calls img_check_size() BEFORE it allocates
 *     or decodes any pixel data (so a 30000 x 30000 PNG header costs nothing);
 *   - on failure it calls ae_fail(rc, "<name>: cause") once, frees everything it allocated
 *     and leaves *out empty;
 *   - when exif is not NULL, it may return the raw EXIF block it found (TIFF data, with or
 *     without the "Exif\0\0" prefix) in exif->data / exif->len, pointing into `data` or owned
 *     by exif->owned (freed by the caller with free()); exif is NULL when nobody needs it.
 */
#ifndef AE_IMAGE_FORMATS_H
#define AE_IMAGE_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "aesthete.h"

typedef struct img_exif {
    const uint8_t *data; /* EXIF/TIFF bytes, or NULL */
    size_t len;
    void *owned;         /* malloc'ed copy behind data, or NULL (then data points into input) */
    int upright;         /* 1: the decoder applied the container's orientation (HEIF): the
                            block's Orientation tag is not to be applied again */
} img_exif;

typedef int (*img_decoder)(const uint8_t *data, size_t size, const char *name,
                           const ae_image_params *params, ae_image *out, img_exif *exif);

int img_decode_jpeg(const uint8_t *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out, img_exif *exif);
int img_decode_png(const uint8_t *data, size_t size, const char *name,
                   const ae_image_params *params, ae_image *out, img_exif *exif);
int img_decode_webp(const uint8_t *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out, img_exif *exif);
int img_decode_gif(const uint8_t *data, size_t size, const char *name,
                   const ae_image_params *params, ae_image *out, img_exif *exif);
int img_decode_bmp(const uint8_t *data, size_t size, const char *name,
                   const ae_image_params *params, ae_image *out, img_exif *exif);
int img_decode_heif(const uint8_t *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out, img_exif *exif);

/* Refuses zero dimensions (AE_ERR_FORMAT) and width * height > params->max_pixels
 * (AE_ERR_TOO_LARGE; max_pixels 0 means no limit) with a message naming `name`. */
int img_check_size(const char *name, int64_t width, int64_t height,
                   const ae_image_params *params);

/* Allocates out->rgb for width x height (after img_check_size). AE_ERR_NOMEM on failure. */
int img_alloc(const char *name, int32_t width, int32_t height, ae_image *out);

/* EXIF Orientation (tag 0x0112 of IFD0) of a TIFF block, optionally prefixed by "Exif\0\0";
 * 1 when absent or malformed (never fails, like Pillow's getexif()). */
int img_exif_orientation(const uint8_t *exif, size_t len);

/* Applies EXIF orientation 1..8 as Pillow's ImageOps.exif_transpose does (2: mirror,
 * 3: rotate 180, 4: flip, 5: transpose, 6: rotate 90 clockwise, 7: transverse,
 * 8: rotate 90 counter-clockwise), replacing img's pixels. Other values do nothing. */
int img_orient(ae_image *img, int orientation, const char *name);

#endif
