/*
 * batch.c — reading, decoding and preprocessing many images in parallel on a session's
 * threads. Images differ wildly in size (a 12 MP JPEG decodes ~100x slower than a thumbnail),
 * so threads take the next input from a shared counter instead of a fixed slice. One bad
 * input never stops the others: each gets its own status and message. EXIF orientation is
 * applied while resizing (img_preprocess_oriented), never as a rotated full-size copy.
 */
#include <stdatomic.h>
#include <string.h>

#include "error.h"
#include "image.h"
#include "model.h"
#include "session.h"

typedef struct load_job {
    const ae_model *model;
    const char *const *paths;       /* files, or names of the buffers */
    const void *const *bufs;         /* NULL: read the files */
    const size_t *sizes;
    int32_t n;
    const ae_image_params *params;
    float *pixels;
    size_t pixels_size;
    int32_t *status;
    char *messages;
    size_t msg_cap;
    atomic_int next;
} load_job;

static void load_task(void *arg, int ith, int nth)
{
    load_job *j = arg;
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        const char *name = j->paths ? j->paths[i] : "image";
        int rc = j->bufs && !j->bufs[i] && j->sizes[i]
                     ? ae_fail(AE_ERR_INVALID, "%s: no data", name)
                     : img_prepare(&j->model->pre, j->bufs ? (j->bufs[i] ? j->bufs[i] : "") : NULL,
                                   j->bufs ? j->sizes[i] : 0, name, j->params,
                                   j->pixels + (size_t)i * j->pixels_size, NULL);
        j->status[i] = rc;
        if (j->messages) {
            char *m = j->messages + (size_t)i * j->msg_cap;
            if (rc == AE_OK) m[0] = 0;
            else snprintf(m, j->msg_cap, "%s", ae_last_error()[0] ? ae_last_error() : ae_strerror(rc));
        }
    }
}

static int32_t run(ae_session *s, load_job *j)
{
    ae_image_params defaults = ae_image_default_params();
    if (!j->params) j->params = &defaults;
    j->model = session_model(s);
    j->pixels_size = ae_model_pixels_size(j->model);
    atomic_init(&j->next, 0);
    nn_pool_run(session_pool(s), load_task, j);
    int32_t failed = 0;
    for (int32_t i = 0; i < j->n; i++) failed += j->status[i] != AE_OK;
    return failed;
}

int32_t ae_load_images(ae_session *s, const char *const *paths, int32_t n,
                       const ae_image_params *params, float *pixels, int32_t *status,
                       char *messages, size_t msg_cap)
{
    if (!s || n < 0 || (n > 0 && (!paths || !pixels || !status)) || (messages && msg_cap == 0))
        return ae_fail(AE_ERR_INVALID, "ae_load_images: invalid arguments");
    load_job j = {.paths = paths, .n = n, .params = params, .pixels = pixels,
                  .status = status, .messages = messages, .msg_cap = msg_cap};
    return run(s, &j);
}

int32_t ae_decode_images(ae_session *s, const void *const *bufs, const size_t *sizes,
                         const char *const *names, int32_t n, const ae_image_params *params,
                         float *pixels, int32_t *status, char *messages, size_t msg_cap)
{
    if (!s || n < 0 || (n > 0 && (!bufs || !sizes || !pixels || !status)) || (messages && msg_cap == 0))
        return ae_fail(AE_ERR_INVALID, "ae_decode_images: invalid arguments");
    load_job j = {.paths = names, .bufs = bufs, .sizes = sizes, .n = n, .params = params,
                  .pixels = pixels, .status = status, .messages = messages, .msg_cap = msg_cap};
    return run(s, &j);
}
