/*
 * image.h — internal image pipeline: the public ae_image_* decode functions live in
 * image_decode.c; this is resizing (Pillow-exact bicubic), centre crop and normalisation,
 * as transformers' CLIPImageProcessor does them, and the facts about a photo that come from
 * the same decode (photo.c).
 */
#ifndef AE_IMAGE_H
#define AE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "aesthete.h"
#include "config.h"

/* Resize shortest side to p->shortest_edge (Pillow BICUBIC, byte-exact), centre crop
 * p->crop_h x p->crop_w, computing only the cropped window. crop_rgb: crop_h*crop_w*3 HWC
 * (may be NULL); pixels: 3*crop_h*crop_w CHW normalised float32 (may be NULL). */
int img_preprocess(const clip_preproc *p, const ae_image *img, float *pixels, uint8_t *crop_rgb);

/* The same for the image as EXIF orientation 1..8 shows it (img_orient's meaning), read
 * straight from the stored pixels with transposed / mirrored coordinates: byte-identical to
 * img_orient followed by img_preprocess, without the rotated full-size copy. */
int img_preprocess_oriented(const clip_preproc *p, const ae_image *img, int orientation,
                            float *pixels, uint8_t *crop_rgb);

/* ae_image_decode without applying the orientation: *orientation receives the EXIF
 * orientation to apply (1 when params->exif_rotate is 0 or there is none). */
int img_decode_oriented(const void *data, size_t size, const char *name,
                        const ae_image_params *params, ae_image *out, int *orientation);

/* The same, also reading *capture (may be NULL) from the EXIF block the decoder found
 * (ae_exif_capture; empty when there is none), whatever params->exif_rotate says. */
int img_decode_capture(const void *data, size_t size, const char *name,
                       const ae_image_params *params, ae_image *out, int *orientation,
                       ae_capture *capture);

/* Reads a whole file into *data (caller frees with free()), *size bytes. */
int img_read_file(const char *path, void **data, size_t *size);

/* fast_decode's rule: the DCT scale M/8 (M = 1..8) that libjpeg-turbo decodes a w x h JPEG
 * to, the smallest whose output (ceil(w * M / 8) x ceil(h * M / 8)) still has its shortest
 * side >= side; 8 (no scaling) when none smaller does or side <= 0. */
int img_jpeg_scale(int64_t w, int64_t h, int64_t side);

/* Reads (data == NULL: the file `name`) or takes data[size], decodes and preprocesses one
 * image for a model's preprocessor into pixels (and crop_rgb, may be NULL): the work of one
 * input of ae_load_images / ae_decode_images. fast_decode_side 0 resolves to p's
 * shortest_edge. Errors name the input. */
int img_prepare(const clip_preproc *p, const void *data, size_t size, const char *name,
                const ae_image_params *params, float *pixels, uint8_t *crop_rgb);

/* What culling needs to know of a photo, from its one decode. */
typedef struct img_facts {
    ae_quality quality;      /* ae_image_quality of the image as displayed */
    ae_capture capture;      /* from the EXIF block the decoder found */
    uint64_t pixel_hash[2];  /* img_pixel_hash of the stored pixels and their orientation */
    int32_t width, height;   /* as displayed (after EXIF orientation), as decoded: with
                                params->fast_decode, the DCT-scaled size */
} img_facts;

/* img_prepare that also fills *facts (may be NULL: then exactly img_prepare) from the decoded
 * pixels and the EXIF block the decoder found. With facts, pixels == NULL and crop_rgb == NULL
 * mean "decode and facts only": no resize, and p may then be NULL. The quality is measured on
 * the stored pixels, which gives the displayed image's values (photo.c: the box grid is
 * symmetric), with its width and height as displayed. */
int img_prepare_facts(const clip_preproc *p, const void *data, size_t size, const char *name,
                      const ae_image_params *params, float *pixels, uint8_t *crop_rgb,
                      img_facts *facts);

/* XXH3 128-bit hash of the decoded pixels: width, height and orientation (little-endian
 * 32-bit, they seed it) and the RGB bytes. Equal for two files whose stored pixels and EXIF
 * orientation are identical, whatever their metadata or container. */
void img_pixel_hash(const ae_image *img, int orientation, uint64_t out[2]);

#endif
