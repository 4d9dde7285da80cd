/*
 * aesthete.h — the one public header of libaesthete.
 *
 * libaesthete computes OpenAI CLIP embeddings natively in C, exactly as Hugging Face
 * transformers does for the same checkpoint, and scores images by aesthetic quality with
 * zero-shot prompting ("CLIP knows image aesthetics", Hentschel, Kobs, Hotho 2022).
 *
 * Usage:
 *
 *     ae_model *model;
 *     ae_model_params mp = ae_model_default_params();
 *     if (ae_model_load("openai/clip-vit-base-patch32", &mp, &model) != AE_OK)
 *         fprintf(stderr, "%s\n", ae_last_error());
 *
 *     ae_session_params sp = ae_session_default_params();   // threads = cores
 *     ae_session *s;
 *     ae_session_new(model, &sp, &s);
 *
 *     ae_image img;                                         // decode + RGB
 *     ae_image_params ip = ae_image_default_params();
 *     ae_image_load("photo.jpg", &ip, &img);
 *     float *pix = malloc(ae_model_pixels_size(model) * sizeof(float));
 *     ae_preprocess(model, &img, pix, NULL);                // resize, crop, normalise
 *     float emb[1024];                                       // ae_model_embed_dim() floats
 *     ae_encode_images(s, pix, 1, emb);
 *
 *     const char *texts[] = {"a outstanding picture", "a horrible picture"};
 *     float temb[2 * 1024];
 *     ae_encode_texts(s, texts, 2, temb);
 *
 *     ae_image_free(&img); free(pix);
 *     ae_session_free(s); ae_model_free(model);
 *
 * Conventions:
 *   - Functions that can fail return AE_OK (0) or a negative AE_ERR_* code. The detail of the
 *     last failure on the calling thread ("model.safetensors: tensor x: shape [512] expected
 *     [768]") is returned by ae_last_error(); it names the input and the cause in one line.
 *   - The library never prints, never exits, and never aborts on bad input.
 *   - A model is immutable after loading and may be shared by any number of threads; a session
 *     owns the scratch memory and worker threads of one caller and must not be used by two
 *     threads at once.
 */
#ifndef AESTHETE_H
#define AESTHETE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AE_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------------------------ */

enum {
    AE_OK = 0,
    AE_ERR_INVALID = -1,     /* bad argument or malformed text input (e.g. invalid UTF-8) */
    AE_ERR_IO = -2,          /* a file could not be opened, read or mapped */
    AE_ERR_FORMAT = -3,      /* a file's content is malformed (safetensors, JSON, image) */
    AE_ERR_UNSUPPORTED = -4, /* well-formed but not supported (unknown image format, dtype) */
    AE_ERR_TOO_LARGE = -5,   /* over a configured limit (pixels, header size) */
    AE_ERR_NOT_FOUND = -6,   /* a model, file or tensor that is needed is missing */
    AE_ERR_NOMEM = -7,       /* out of memory */
    AE_ERR_MODEL = -8,       /* the model files disagree with each other (shapes vs config) */
};

/* Static text of an AE_ERR_* code ("invalid argument", ...). Never NULL. */
const char *ae_strerror(int rc);

/* Detail of the last failure on the calling thread, one line, or "" if none. The pointer
 * stays valid until the next libaesthete call on this thread. */
const char *ae_last_error(void);

/* ---- models ------------------------------------------------------------------------------ */

typedef struct ae_model ae_model;

typedef struct ae_model_params {
    int32_t load_text;   /* 1: load the text tower (default 1) */
    int32_t load_vision; /* 1: load the vision tower (default 1) */
} ae_model_params;

ae_model_params ae_model_default_params(void);

/* Resolves a model spec to a directory: an existing directory is returned as is; otherwise
 * "org/name[@revision]" is looked up read-only in the local Hugging Face cache
 * ($HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub;
 * models--org--name/refs/<rev> -> snapshots/<commit>/). Writes a NUL-terminated path into
 * dir (cap bytes). AE_ERR_NOT_FOUND says where it looked and how to get the model. */
int ae_model_resolve(const char *spec, char *dir, size_t cap);

/* Loads config.json, model.safetensors, vocab.json, merges.txt and preprocessor_config.json
 * from the directory that `spec` resolves to. F32, F16 and BF16 weights are converted to
 * float32 once. *out is freed with ae_model_free. */
int ae_model_load(const char *spec, const ae_model_params *params, ae_model **out);
void ae_model_free(ae_model *model);

typedef struct ae_tower_info {
    int32_t hidden_size, num_layers, num_heads, intermediate_size;
    const char *hidden_act;  /* "quick_gelu" or "gelu" */
    float layer_norm_eps;
    int32_t loaded;          /* 0 if the tower was not loaded */
} ae_tower_info;

typedef struct ae_model_info {
    const char *dir;           /* resolved model directory */
    const char *weights_dtype; /* "F32", "F16", "BF16" or "mixed" as stored in the file */
    int64_t n_params;          /* parameters in model.safetensors */
    int64_t file_size;         /* bytes of model.safetensors */
    int32_t embed_dim;         /* projection dim */
    int32_t image_size, patch_size; /* vision input size and patch size */
    int32_t context_length, vocab_size;
    ae_tower_info text, vision;
    /* preprocessing */
    int32_t resize_shortest_edge, crop_height, crop_width;
    float image_mean[3], image_std[3];
    char fingerprint[17];      /* 64-bit hex hash of the weights file header and size */
} ae_model_info;

/* Fills *info; pointers inside point into the model (valid until ae_model_free). */
void ae_model_get_info(const ae_model *model, ae_model_info *info);

/* Embedding dimension (projection dim). */
int32_t ae_model_embed_dim(const ae_model *model);
/* Number of floats of one preprocessed image: 3 * crop_height * crop_width. */
size_t ae_model_pixels_size(const ae_model *model);

/* ---- tokenizer --------------------------------------------------------------------------- */

/* Tokenizes `text` (len bytes of UTF-8; len may be 0) exactly as Hugging Face's
 * CLIPTokenizerFast: BOS, ids, EOS. If truncate != 0 the result is cut to the model's context
 * length with EOS kept last. Writes up to cap ids into ids and the full count into *n_ids
 * (call with cap 0 to size). AE_ERR_INVALID for invalid UTF-8. */
int ae_tokenize(const ae_model *model, const char *text, size_t len, int32_t truncate,
                int32_t *ids, size_t cap, size_t *n_ids);

/* ---- images ------------------------------------------------------------------------------ */

typedef struct ae_image_params {
    int32_t exif_rotate;  /* 1: apply the EXIF orientation (default 1); 0 = transformers */
    uint64_t max_pixels;  /* refuse images over this many pixels, from the header (100e6) */
} ae_image_params;

ae_image_params ae_image_default_params(void);

/* A decoded image, converted to 8-bit RGB as Pillow's convert("RGB") does. */
typedef struct ae_image {
    int32_t width, height;
    uint8_t *rgb;         /* height * width * 3 bytes, row-major; owned, ae_image_free */
} ae_image;

/* Decodes JPEG, PNG, WebP, GIF (first frame), BMP, HEIC/AVIF from memory, detected by
 * content. `name` labels error messages (may be NULL). */
int ae_image_decode(const void *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out);
/* Reads and decodes a file. */
int ae_image_load(const char *path, const ae_image_params *params, ae_image *out);
void ae_image_free(ae_image *img);

/* Resizes (Pillow-exact bicubic, shortest side), centre-crops and normalises an image with the
 * model's preprocessor config. pixels: ae_model_pixels_size() floats, CHW, may be NULL;
 * crop_rgb: crop_height * crop_width * 3 bytes HWC (the uint8 crop), may be NULL. */
int ae_preprocess(const ae_model *model, const ae_image *img, float *pixels, uint8_t *crop_rgb);

/* ---- sessions and encoders --------------------------------------------------------------- */

typedef struct ae_session ae_session;

typedef struct ae_session_params {
    int32_t n_threads;    /* worker threads; 0 = number of online cores (default) */
} ae_session_params;

ae_session_params ae_session_default_params(void);

/* A session holds the scratch memory and threads for encoding with `model`, which must
 * outlive it. Freed with ae_session_free. */
int ae_session_new(const ae_model *model, const ae_session_params *params, ae_session **out);
void ae_session_free(ae_session *s);

/* Encodes n preprocessed images (n * ae_model_pixels_size() floats) into n * embed_dim
 * floats: the projected, un-normalised image_embeds of transformers. */
int ae_encode_images(ae_session *s, const float *pixels, int32_t n, float *embeds);

/* Encodes n token id sequences (each BOS ... EOS, at most the context length) into
 * n * embed_dim floats (text_embeds, pooled at the first EOS). */
int ae_encode_tokens(ae_session *s, const int32_t *const *ids, const int32_t *n_ids, int32_t n,
                     float *embeds);

/* Tokenizes (with truncation) and encodes n NUL-terminated UTF-8 strings. */
int ae_encode_texts(ae_session *s, const char *const *texts, int32_t n, float *embeds);

#ifdef __cplusplus
}
#endif
#endif /* AESTHETE_H */
