/*
 * image.h — internal image pipeline: the public ae_image_* decode functions live in
 * image_decode.c; this is resizing (Pillow-exact bicubic), centre crop and normalisation,
 * as transformers' CLIPImageProcessor does them.
 */
#ifndef AE_IMAGE_H
#define AE_IMAGE_H

#include <stdint.h>

#include "aesthete.h"
#include "config.h"

/* Resize shortest side to p->shortest_edge (Pillow BICUBIC, byte-exact), centre crop
 * p->crop_h x p->crop_w, computing only the cropped window. crop_rgb: crop_h*crop_w*3 HWC
 * (may be NULL); pixels: 3*crop_h*crop_w CHW normalised float32 (may be NULL). */
int img_preprocess(const clip_preproc *p, const ae_image *img, float *pixels, uint8_t *crop_rgb);

#endif
