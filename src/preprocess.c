/*
 * preprocess.c — the public preprocessing entry point: an image prepared with the model's
 * own preprocessor_config.json (resize, crop, normalise; see image_resize.c).
 */
#include <stdlib.h>

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
    ae_image_params ip = params ? *params : ae_image_default_params();
    /* fast decode keeps the shortest side the resize needs (never scaling below it) */
    if (ip.fast_decode && ip.fast_decode_side <= 0) ip.fast_decode_side = p->do_resize ? p->shortest_edge : 0;
    if (ip.fast_decode && ip.fast_decode_side <= 0) ip.fast_decode = 0;
    ae_image img = {0};
    int o = 1, rc;
    if (data) {
        rc = img_decode_oriented(data, size, name, &ip, &img, &o);
    } else {
        /* a file: read it whole (ae_image_load's reader), then decode as above */
        void *buf;
        rc = img_read_file(name, &buf, &size);
        if (rc == AE_OK) {
            rc = img_decode_oriented(buf, size, name, &ip, &img, &o);
            free(buf);
        }
    }
    if (rc == AE_OK) {
        rc = img_preprocess_oriented(p, &img, o, pixels, crop_rgb);
        if (rc != AE_OK) ae_fail_prefix(rc, "%s: ", name);
    }
    ae_image_free(&img);
    return rc;
}
