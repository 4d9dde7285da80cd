/*
 * preprocess.c — the public preprocessing entry point: an image prepared with the model's
 * own preprocessor_config.json (resize, crop, normalise; see image_resize.c), and the one
 * decode of an input that the pipeline does (img_prepare), with the facts culling needs
 * taken from the same pixels and EXIF block (img_prepare_facts).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "image.h"
#include "model.h"

int ae_preprocess(const ae_model *model, const ae_image *img, float *pixels, uint8_t *crop_rgb)
{
    if (!model || !img) return ae_fail(AE_ERR_INVALID, "ae_preprocess: invalid arguments");
    return img_preprocess(&model->pre, img, pixels, crop_rgb);
}

int img_prepare(const clip_preproc *p, const void *data, size_t size, const char *name,
                const ae_image_params *params, float *pixels, uint8_t *crop_rgb)
{
    return img_prepare_facts(p, data, size, name, params, pixels, crop_rgb, NULL);
}

/* The facts of a decoded image (stored pixels, orientation o to display them). */
static int facts_of(const ae_image *img, int o, const char *name, img_facts *f)
{
    int rc = ae_image_quality(img, &f->quality);
    if (rc != AE_OK) return ae_fail_prefix(rc, "%s: ", name);
    img_pixel_hash(img, o, f->pixel_hash);
    f->width = img->width, f->height = img->height;
    if (o >= 5) { /* the transposing orientations */
        int32_t t = f->width;
        f->width = f->height, f->height = t;
        t = f->quality.width;
        f->quality.width = f->quality.height, f->quality.height = t;
    }
    return AE_OK;
}

int img_prepare_facts(const clip_preproc *p, const void *data, size_t size, const char *name,
                      const ae_image_params *params, float *pixels, uint8_t *crop_rgb,
                      img_facts *facts)
{
    const int resize = !facts || pixels || crop_rgb;
    if (resize && !p) return ae_fail(AE_ERR_INVALID, "%s: no preprocessor", name ? name : "image");
    ae_image_params ip = params ? *params : ae_image_default_params();
    /* fast decode keeps the shortest side the resize needs (never scaling below it) */
    if (ip.fast_decode && ip.fast_decode_side <= 0)
        ip.fast_decode_side = p && p->do_resize ? p->shortest_edge : 0;
    if (ip.fast_decode && ip.fast_decode_side <= 0) ip.fast_decode = 0;
    if (facts) memset(facts, 0, sizeof *facts);
    ae_capture *cap = facts ? &facts->capture : NULL;
    ae_image img = {0};
    int o = 1, rc;
    if (data) {
        rc = img_decode_capture(data, size, name, &ip, &img, &o, cap);
    } else {
        /* a file: read it whole (ae_image_load's reader), then decode as above */
        void *buf;
        rc = img_read_file(name, &buf, &size);
        if (rc == AE_OK) {
            rc = img_decode_capture(buf, size, name, &ip, &img, &o, cap);
            free(buf);
        }
    }
    if (rc == AE_OK && resize) {
        rc = img_preprocess_oriented(p, &img, o, pixels, crop_rgb);
        if (rc != AE_OK) ae_fail_prefix(rc, "%s: ", name);
    }
    if (rc == AE_OK && facts) rc = facts_of(&img, o, name ? name : "image", facts);
    ae_image_free(&img);
    return rc;
}
