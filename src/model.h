/*
 * model.h — the loaded CLIP model (changed only by ae_model_set_towers) and the encoder entry
 * points used by sessions.
 *
 * All parameters are float32: linear layers in nn_linear (packed for the kernels), the rest
 * (embeddings, LayerNorm) in one allocation per tower, `block`, except the text tower's token
 * embedding, which stays in model.safetensors: a batch reads the rows it needs
 * (clip_token_rows). Tensors carry shape comments.
 * A tower may be absent (has_text / has_vision 0: its pointers NULL, its config still
 * known); ae_model_set_towers loads or frees one later.
 */
#ifndef AE_MODEL_H
#define AE_MODEL_H

#include <stdint.h>
#include <sys/types.h>

#include "aesthete.h"
#include "config.h"
#include "nn/nn.h"
#include "safetensors.h"
#include "tokenizer.h"

typedef struct clip_layer {
    const float *ln1_w, *ln1_b; /* [D] */
    const float *ln2_w, *ln2_b; /* [D] */
    nn_linear qkv;              /* [3D, D]: q_proj, k_proj, v_proj stacked, biases too */
    nn_linear out;              /* [D, D] out_proj */
    nn_linear fc1;              /* [I, D] */
    nn_linear fc2;              /* [D, I] */
} clip_layer;

typedef struct clip_tower {
    clip_tower_config cfg;
    clip_layer *layers;               /* [cfg.layers] */
    const float *final_ln_w, *final_ln_b; /* [D] text final_layer_norm / vision post_layernorm */
    nn_linear proj;                   /* [proj_dim, D], no bias */
    const float *position_embedding;  /* [positions, D] */
    /* text only: the token embedding [vocab, D], where it lies in model.safetensors. fd is a
     * descriptor of the file loaded (so a file replaced since, by rename, is not read), open
     * and owned while path is not NULL; path names it in messages. */
    struct {
        int fd;
        char *path;
        st_dtype dtype;               /* F32, F16 or BF16 */
        uint64_t offset;              /* of row 0 */
    } token_file;
    /* vision only */
    nn_linear patch;                  /* [D, C*P*P]: the stride-P conv, patches flattened (c, y, x) */
    const float *class_embedding;     /* [D] */
    const float *pre_ln_w, *pre_ln_b; /* [D] pre_layrnorm */
    float *block;                     /* owns every const float * above */
} clip_tower;

struct ae_model {
    char *dir;
    char *id;                         /* ae_model_info.id */
    clip_config cfg;
    clip_preproc pre;
    ae_tokenizer *tok;
    int32_t has_text, has_vision;
    clip_tower text, vision;
    /* model.safetensors as it was at load (a tower loaded later must come from the same
     * bytes the fingerprint was computed over) */
    dev_t st_dev;
    ino_t st_ino;
    int64_t st_mtime_ns;
    /* for ae_model_get_info */
    char dtype[8];
    int64_t n_params, file_size, header_size;
    int64_t n_params_text, n_params_vision;
    char fingerprint[17];             /* "" if not computed (no_fingerprint) */
    ae_precision precision;           /* of the image tower's products */
    ae_precision text_precision;      /* of the text tower's */
};

/* Rows ids[0, n) (increasing) of the text tower's token embedding into rows [n, D], widened
 * to float32 as the tensor's other values are at load; consecutive ids are read together, with
 * pread (thread-safe, the model is not changed). AE_ERR_IO naming the file and the cause if
 * the read fails or comes up short (the file was truncated since it was loaded). */
int clip_token_rows(const clip_tower *t, const int32_t *ids, int32_t n, float *rows);

/* Encoder forward passes (clip.c). scratch: clip_scratch_floats(...) floats, 64-byte
 * aligned; the size depends on the pool (per-thread attention scratch).
 * Vision: pixels [n, C, S, S] -> embeds [n, proj]. Text: n sequences -> embeds [n, proj];
 * clip_text_scratch_floats(m, k, pool) serves any batch of at most k * context tokens in all. */
size_t clip_vision_scratch_floats(const ae_model *m, int32_t n, const nn_pool *pool);
size_t clip_text_scratch_floats(const ae_model *m, int32_t n, const nn_pool *pool);
void clip_vision_forward(const ae_model *m, const float *pixels, int32_t n, float *embeds,
                         float *scratch, nn_pool *pool);
/* The text pass reads its token rows first (clip_token_rows): its error, if any, is returned
 * and embeds is not written. */
int clip_text_forward(const ae_model *m, const int32_t *const *ids, const int32_t *n_ids,
                      int32_t n, float *embeds, float *scratch, nn_pool *pool);

#endif
