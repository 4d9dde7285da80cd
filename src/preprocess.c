/*
 * preprocess.c — the public preprocessing entry point: an image prepared with the model's
 * own preprocessor_config.json (resize, crop, normalise; see image_resize.c).
 */
#include "error.h"
#include "image.h"
#include "model.h"

int ae_preprocess(const ae_model *model, const ae_image *img, float *pixels, uint8_t *crop_rgb)
{
    if (!model || !img) return ae_fail(AE_ERR_INVALID, "ae_preprocess: invalid arguments");
    return img_preprocess(&model->pre, img, pixels, crop_rgb);
}
