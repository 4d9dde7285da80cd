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
 *   - A model is immutable after loading (but for ae_model_set_towers, see there) and may be
 *     shared by any number of threads; a session owns the scratch memory and worker threads of
 *     one caller and must not be used by two threads at once.
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

/* The arithmetic of the encoders' matrix products with weights (the patch embedding and the
 * q/k/v, out, fc1 and fc2 layers of every encoder layer, 99% of the work; attention,
 * LayerNorm, activations and the final projections always stay float32):
 *   FP32  float32, what transformers computes (the default);
 *   INT8  weights int8 per output channel, activations int8 per row at run time, int32 sums,
 *         outlier input columns kept in float32; 4x less weight memory, 2-3x faster;
 *   BF16  bfloat16 weights and activations, float32 sums; needs a CPU with AVX512_BF16.
 * Reduced precision changes embeddings slightly (cosine to FP32 ~0.999+ on CLIP-like
 * models): check it on your own model and photos with `aesthete verify` once per model. */
typedef enum { AE_PRECISION_FP32 = 0, AE_PRECISION_INT8 = 1, AE_PRECISION_BF16 = 2 } ae_precision;

/* "fp32", "int8", "bf16"; ae_precision_parse returns -1 for anything else. */
const char *ae_precision_name(ae_precision p);
int ae_precision_parse(const char *name);
/* AE_OK if this CPU can run precision p, else AE_ERR_UNSUPPORTED with a message saying why
 * ("bf16 needs a CPU with AVX512_BF16; this one has avx512vnni kernels"). */
int ae_precision_check(ae_precision p);

typedef struct ae_model_params {
    int32_t load_text;      /* 1: load the text tower and the tokenizer (default 1) */
    int32_t load_vision;    /* 1: load the vision tower (default 1) */
    int32_t load_tokenizer; /* 1: load vocab.json and merges.txt even without the text tower,
                               for ae_tokenize (default 0) */
    int32_t no_fingerprint; /* 1: read no more of model.safetensors than its header: the
                               fingerprint is "" (default 0). Only without towers (tokenizing,
                               describing); ae_model_set_towers computes it when it loads one. */
    ae_precision precision; /* of the image tower, now and by ae_model_set_towers (FP32) */
    ae_precision text_precision; /* of the text tower (FP32, whatever `precision` is): prompt
                               banks are encoded once and a score is a small difference of two
                               text cosines, which int8 text noise reorders (recipe B/32: the
                               fixed ranking of 16 photos at Spearman 0.976 with int8 banks,
                               0.997 with fp32 ones, images int8 in both) */
} ae_model_params;

ae_model_params ae_model_default_params(void);

/* Resolves a model spec to a directory: an existing directory is returned as is; otherwise
 * "org/name[@revision]" is looked up read-only in the local Hugging Face cache
 * ($HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub;
 * models--org--name/refs/<rev> -> snapshots/<commit>/). Writes a NUL-terminated path into
 * dir (cap bytes). AE_ERR_NOT_FOUND says where it looked and how to get the model. */
int ae_model_resolve(const char *spec, char *dir, size_t cap);

/* Loads config.json, model.safetensors, vocab.json, merges.txt and preprocessor_config.json
 * from the directory that `spec` resolves to. *out is freed with ae_model_free.
 *
 * Only the towers asked for are loaded (a ranking with a saved bank needs no text tower,
 * text embeddings no vision tower); with neither, the model holds the configs, the
 * safetensors header (dtypes, shapes, sizes) and the fingerprint, and no weights. Memory:
 * model.safetensors is never mapped. Its header is read and checked, the whole file is read
 * once in small chunks for the fingerprint (unless no_fingerprint), and each tensor is read
 * into a temporary buffer of at most one layer (F16/BF16 widened to float32 there, once),
 * then packed for the kernels, so the weights are held once: the packed float32 of the
 * towers loaded (ViT-B/32: vision ~352 MB, text ~152 MB) and nothing of the file. The text
 * tower's token embedding (49408 rows, 101 MB as float32 for ViT-B/32) is not among them: it
 * stays in the file, which the text tower keeps open (a file renamed over it later is not
 * read), and each text batch reads the rows of its tokens (the 2000 ImageNet prompts of a
 * bank use 1,501 distinct ids). */
int ae_model_load(const char *spec, const ae_model_params *params, ae_model **out);
void ae_model_free(ae_model *model);

/* Makes the model hold exactly the towers asked for: loads a tower it lacks from the same
 * model.safetensors (and vocab.json / merges.txt for the text tower), frees one it holds but
 * is not asked for; freeing comes first, so the two are never held at once if not needed.
 * Typical use: load the vision tower alone, and add the text tower only when a prompt bank
 * must be built (then drop it again). The file must be the one the model was loaded from:
 * AE_ERR_MODEL if it was replaced or modified since (its fingerprint would no longer hold).
 * Freeing the text tower closes the model's descriptor of model.safetensors.
 * A failed load leaves that tower absent and the rest as it was. This changes the model: no
 * other thread may use it, or a session of it, during the call. Sessions made before adapt
 * at their next call (a tower's scratch is allocated then). */
int ae_model_set_towers(ae_model *model, int32_t load_text, int32_t load_vision);

typedef struct ae_tower_info {
    int32_t hidden_size, num_layers, num_heads, intermediate_size;
    const char *hidden_act;  /* "quick_gelu" or "gelu" */
    float layer_norm_eps;
    int32_t loaded;          /* 0 if the tower was not loaded */
    int64_t n_params;        /* its parameters in model.safetensors (text_model.* and
                                text_projection, or vision_model.* and visual_projection);
                                a loaded text tower holds all but the token embedding's */
} ae_tower_info;

typedef struct ae_model_info {
    const char *dir;           /* resolved model directory */
    const char *id;            /* the model as its users name it, never a local path: the
                                  repo id of a hub spec ("openai/clip-vit-base-patch32", no
                                  @revision), the repo of a Hugging Face cache snapshot
                                  directory, else config.json's _name_or_path when it is a
                                  repo id, else the directory's name */
    const char *weights_dtype; /* "F32", "F16", "BF16" or "mixed" as stored in the file */
    int64_t n_params;          /* parameters in model.safetensors */
    int64_t file_size;         /* bytes of model.safetensors */
    int64_t header_size;       /* bytes of its JSON header */
    int32_t embed_dim;         /* projection dim */
    int32_t image_size, patch_size; /* vision input size and patch size */
    int32_t context_length, vocab_size;
    ae_tower_info text, vision;
    /* preprocessing */
    int32_t resize_shortest_edge, crop_height, crop_width;
    float image_mean[3], image_std[3];
    char fingerprint[17];      /* 64-bit hash of all of model.safetensors, 16 hex; "" if
                                  loaded with no_fingerprint */
    ae_precision precision;    /* of the image tower, as loaded (ae_model_params.precision) */
    ae_precision text_precision; /* of the text tower (ae_model_params.text_precision) */
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
    int32_t fast_decode;  /* 1: decode JPEGs with libjpeg-turbo's DCT scaling (M/8, M = 1..8)
                             to the smallest size whose shortest side is still >=
                             fast_decode_side, as Pillow's draft() does; much faster on large
                             photos, but the pixels (and scores) differ slightly from the exact
                             decode. Other formats, and JPEGs too small to scale, are decoded
                             exactly. Default 0 (Pillow-exact). */
    int32_t fast_decode_side; /* the shortest side fast_decode keeps; 0 (default): the model's
                             resize target where a model is known (ae_load_images,
                             ae_decode_images), 224 in ae_image_decode / ae_image_load */
} ae_image_params;

ae_image_params ae_image_default_params(void);

/* A decoded image, converted to 8-bit RGB as Pillow's convert("RGB") does. */
typedef struct ae_image {
    int32_t width, height;
    uint8_t *rgb;         /* height * width * 3 bytes, row-major; owned, ae_image_free */
} ae_image;

/* The format of an image from its first bytes ("jpeg", "png", "webp", "gif", "bmp", "heif"),
 * or NULL if it is none the decoder knows. 32 bytes are enough. */
const char *ae_image_format(const void *head, size_t n);

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

/* The compute kernels in use: "avx512vnni", "avx512", "avxvnni", "avx2" or "scalar" (the
 * best the CPU has, chosen once; AE_KERNELS=<name> in the environment forces a set the CPU
 * supports: "avx512" and "avx2" are the sets of CPUs without VNNI, whose int8 products use
 * pmaddubsw instead). On AArch64: "neondot" (int8 by SDOT) or "neon" (CPUs without the
 * dot-product extension). */
const char *ae_kernels(void);

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
 * n * embed_dim floats (text_embeds, pooled at the first EOS). The token embedding's rows are
 * read from model.safetensors (see ae_model_load): AE_ERR_IO, naming the file and the cause,
 * if they cannot be (the file was truncated since the model was loaded). */
int ae_encode_tokens(ae_session *s, const int32_t *const *ids, const int32_t *n_ids, int32_t n,
                     float *embeds);

/* Tokenizes (with truncation) and encodes n NUL-terminated UTF-8 strings (errors as
 * ae_encode_tokens). */
int ae_encode_texts(ae_session *s, const char *const *texts, int32_t n, float *embeds);

/* Reads, decodes and preprocesses n image files in parallel on the session's threads.
 * pixels: n * ae_model_pixels_size() floats, input i at offset i * ae_model_pixels_size().
 * status[i]: AE_OK or the AE_ERR_* code of input i. messages (may be NULL): n * msg_cap bytes,
 * the one-line error of each failed input ("" for those that succeeded).
 * Returns the number of failed inputs (0: all done), or a negative AE_ERR_* for a bad call. */
int32_t ae_load_images(ae_session *s, const char *const *paths, int32_t n,
                       const ae_image_params *params, float *pixels, int32_t *status,
                       char *messages, size_t msg_cap);

/* The same for n images in memory (bufs[i], sizes[i] bytes); names (may be NULL) label the
 * messages. */
int32_t ae_decode_images(ae_session *s, const void *const *bufs, const size_t *sizes,
                         const char *const *names, int32_t n, const ae_image_params *params,
                         float *pixels, int32_t *status, char *messages, size_t msg_cap);

/* ---- aesthetic scoring: heads ------------------------------------------------------------ */

/* A head turns an image embedding into a score; every way aesthete scores is one:
 *   prompt banks, the methods of "CLIP knows image aesthetics" (Hentschel, Kobs, Hotho 2022):
 *     FIXED     one positive and one negative prompt ("a outstanding picture" / "a horrible
 *               picture");
 *     CONTEXT   one positive and one negative prompt per class; the best-matching prompt of
 *               all 2N decides the label and the class, the score uses that class's pair;
 *     ENSEMBLE  the same 2N prompts, averaged per side into two centroids;
 *     score = 1000 * (cos(i, pos) - cos(i, neg)) (the article's scale), probability =
 *     softmax(100 * [cos_pos, cos_neg])[0] (the paper's fixed logit scale);
 *   linear heads, score = w . (i / |i|) + b:
 *     LAION     LAION-Aesthetics V1, shipped for ViT-B/32, B/16 and L/14 (about 1..10);
 *     LAION_V2  the improved aesthetic predictor (ViT-L/14; an MLP whose layers have no
 *               activation between them, shipped collapsed into its exact affine map);
 *     HEAD      a head from a file: trained on the user's labels (ae_head_train), imported
 *               from PyTorch or safetensors weights (ae_head_import);
 *   MLP heads: linear layers with ReLU between some of them (LAION V2's reluMSE variant).
 * A linear or MLP head has a label cut point (good iff score >= cut) and, when it was
 * trained as a logistic regression, a probability sigmoid(score). */
typedef enum {
    AE_METHOD_FIXED, AE_METHOD_CONTEXT, AE_METHOD_ENSEMBLE, AE_METHOD_LAION, AE_METHOD_LAION_V2,
    AE_METHOD_HEAD
} ae_method;
typedef enum { AE_HEAD_PROMPTS, AE_HEAD_LINEAR, AE_HEAD_MLP } ae_head_kind;

/* "fixed", "context", "ensemble", "laion", "laion-v2", "head"; ae_method_parse returns -1
 * for anything else. ae_head_kind_name: "prompts", "linear", "mlp". */
const char *ae_method_name(ae_method m);
int ae_method_parse(const char *name);
const char *ae_head_kind_name(ae_head_kind k);

#define AE_DEFAULT_POSITIVE "outstanding"
#define AE_DEFAULT_NEGATIVE "horrible"
#define AE_DEFAULT_TEMPLATE_FIXED "a {adjective} picture"
#define AE_DEFAULT_TEMPLATE_CLASS "a {adjective} picture, of a #{class}"

/* A head: immutable once made; share it freely between threads. */
typedef struct ae_head ae_head;

typedef struct ae_bank_params {
    ae_method method;
    const char *template_text;  /* NULL: AE_DEFAULT_TEMPLATE_FIXED / _CLASS by method;
                                   {adjective} and {class} are replaced */
    const char *positive;       /* adjective, NULL: AE_DEFAULT_POSITIVE */
    const char *negative;       /* adjective, NULL: AE_DEFAULT_NEGATIVE */
    const char *const *classes; /* context / ensemble: class names (UTF-8) */
    int32_t n_classes;
    int32_t normalize_prompts;  /* ensemble: mean of L2-normalised embeddings (default 0:
                                   plain mean, as the paper's code and the article) */
    const char *laion_head;     /* laion: "vit-b-32", "vit-b-16", "vit-l-14" or NULL = by model */
} ae_bank_params;

ae_bank_params ae_bank_default_params(void);

/* Builds the head of a method: for the prompt methods the prompts of params, each tokenized
 * once and encoded with the session's model (text tower); for LAION and LAION_V2 the shipped
 * head (ae_head_laion). progress (may be NULL) is called with (done, total) prompts. */
int ae_bank_build(ae_session *s, const ae_bank_params *params,
                  void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                  ae_head **out);

/* A prompt head from two precomputed centroids (ENSEMBLE-style), e.g. the article's own.
 * model_id may be NULL; without a fingerprint such a head is accepted by any model of
 * dimension dim. */
int ae_head_from_centroids(const float *positive, const float *negative, int32_t dim,
                           const char *model_id, ae_head **out);

/* A shipped LAION head: V1 by name ("vit-b-32", "vit-b-16", "vit-l-14") or, with name NULL,
 * the V1 head of the model's architecture (m required then); "v2-vit-l-14" is V2 (the
 * improved aesthetic predictor, sac+logos+ava1-l14-linearMSE, Apache-2.0). With m given, a
 * head of another architecture is refused naming both. */
int ae_head_laion(const char *name, const ae_model *m, ae_head **out);

/* What a linear or MLP head records about itself (all strings may be NULL: ""). */
typedef struct ae_head_params {
    const char *name;        /* shown in results ("taste"); NULL: by method or file name */
    ae_method method;        /* LAION, LAION_V2 or HEAD (default HEAD) */
    const char *model_id;    /* the model as its users name it ("openai/clip-vit-large-
                                patch14"), never a local path */
    const char *fingerprint; /* ae_model_info.fingerprint of that model, "" if unknown: a
                                head with one is accepted by that model only */
    int32_t patch_size, vision_width; /* that model's architecture, 0 = unknown */
    int32_t normalize;       /* 1 (default): the embedding is L2-normalised first */
    int32_t logistic;        /* 1: probability = sigmoid(score) (default 0: none) */
    float cut;               /* good iff score >= cut (default 5, LAION's middle rating) */
    int32_t relu;            /* ae_head_import: -1 (default) tell from the key names (the two
                                published LAION V2 layouts), 0 none between layers, 1 a ReLU
                                after every layer but the last */
    const char *provenance, *license; /* where the weights come from, under which terms */
} ae_head_params;

ae_head_params ae_head_default_params(void);

/* One linear layer of a head given by its weights (copied). */
typedef struct ae_head_layer {
    int32_t in, out;
    const float *weight;     /* [out, in], row-major as PyTorch's nn.Linear.weight */
    const float *bias;       /* [out], may be NULL (zeros) */
    int32_t relu;            /* 1: ReLU after this layer (not after the last) */
} ae_head_layer;

/* A head from n stacked layers (layers[0].in = the embedding dimension, the last out = 1).
 * A stack without ReLU is collapsed into its one affine map at once, in double: a linear
 * head equal to the stack up to rounding (LAION V2 linearMSE: within 1e-6). */
int ae_head_from_layers(const ae_head_layer *layers, int32_t n, const ae_head_params *hp,
                        ae_head **out);

/* Reads a head as such heads are published: a PyTorch checkpoint (.pth / .pt / .bin, the zip
 * of torch.save, read by a restricted unpickler that accepts a plain state dict and nothing
 * else) or a .safetensors file, holding nn.Linear weights ("weight"/"bias", or
 * "<prefix><i>.weight"/"<prefix><i>.bias" for a stack, in the order of i). */
int ae_head_import(const char *path, const ae_head_params *hp, ae_head **out);

/* Training a head on the user's own labels (a linear probe: the paper's best method). */
typedef enum { AE_TRAIN_AUTO = 0, AE_TRAIN_LOGISTIC = 1, AE_TRAIN_RIDGE = 2 } ae_train_kind;

typedef struct ae_train_params {
    ae_train_kind kind;     /* AUTO (default): LOGISTIC when every target is 0 or 1 (bad /
                               good), else RIDGE (numeric ratings) */
    int32_t folds;          /* k of the cross-validation that chooses the L2 penalty (5) */
    uint64_t seed;          /* of the folds' shuffle (fixed default: the same head each run) */
} ae_train_params;

ae_train_params ae_train_default_params(void);

typedef struct ae_train_report {
    ae_train_kind kind;     /* what was trained */
    double lambda;          /* the penalty chosen: lambda * |w|^2 beside the mean loss */
    double cv_metric;       /* cross-validated accuracy (logistic) or Spearman (ridge) */
    double cv_secondary;    /* its log-loss (logistic) or mean squared error (ridge) */
    int32_t folds;
    int32_t copies;         /* rows identical to an earlier one, kept in its fold (groups NULL) */
    double *oof;            /* NULL, or n doubles (the caller's) receiving every row's
                               out-of-fold prediction: probability of good, or rating */
} ae_train_report;

/* Trains a linear head on n image embeddings (n * dim floats, normalised inside) with
 * targets[n]: logistic regression on 0/1 labels (score = the logit, probability = sigmoid,
 * cut 0) or ridge regression on ratings (score = the predicted rating, cut from hp), both with
 * an L2 penalty chosen by k-fold cross-validation in which the rows of one group (groups[n];
 * NULL: rows with identical embeddings, copies of one picture, form a group) are never split
 * across folds. hp (may be NULL) names the head and its model (id, fingerprint); without a
 * provenance, the head records what it was trained on (rows, kind, penalty, CV figure);
 * report (may be NULL) receives the cross-validated figures. A few hundred 768-d embeddings
 * train in milliseconds. */
int ae_head_train(const float *embeds, int32_t n, int32_t dim, const double *targets,
                  const int64_t *groups, const ae_train_params *params, const ae_head_params *hp,
                  ae_head **out, ae_train_report *report);


/* Saves as safetensors and loads it back, validating everything. Prompt heads keep the
 * format of aesthete's prompt banks (metadata format "aesthete-bank/1", tensors "positive"
 * and "negative" [N, dim]; method, template, adjectives, classes as a JSON array, model id,
 * fingerprint, the text tower's precision); linear and MLP heads are "aesthete-head/1"
 * ("weight" [dim] and "bias" [1], or "layers.<i>.weight" [out, in] and "layers.<i>.bias"
 * [out]; kind, method, name, model, fingerprint, dim, cut, normalize, logistic, relu,
 * patch_size, vision_width, provenance, license). Banks saved by earlier versions (prompt
 * banks without a precision: fp32; LAION banks) load as before. */
int ae_head_save(const ae_head *h, const char *path);
int ae_head_load(const char *path, ae_head **out);
void ae_head_free(ae_head *h);

typedef struct ae_head_info {
    ae_head_kind kind;
    ae_method method;
    const char *name;        /* the head's name: the method's, or the one it was given */
    int32_t dim, n_classes, n_prompts, normalize_prompts;
    const char *template_text, *positive, *negative; /* "" when not applicable */
    const char *model_id, *fingerprint;              /* "" when unknown */
    const char *laion_head;                          /* "" unless a shipped LAION head */
    const char *precision;  /* "fp32", "int8", "bf16": the text tower's when the bank was
                               built; "" when none encoded it (imported centroids, linear and
                               MLP heads). Informative: ae_head_check_model accepts a bank of
                               any precision (score with a bank built at your model's
                               text_precision to get what `score --text-precision` computes) */
    int32_t n_layers;       /* mlp: layers; linear: 1; prompts: 0 */
    int32_t normalize, logistic;
    float cut;              /* linear / mlp: good iff score >= cut */
    const char *provenance, *license;
} ae_head_info;
void ae_head_get_info(const ae_head *h, ae_head_info *info);
/* Class name i (context / ensemble), or NULL. */
const char *ae_head_class(const ae_head *h, int32_t i);

/* AE_OK if the head can score embeddings of this model; AE_ERR_MODEL with a message naming
 * both when it was made for another one (another fingerprint, dimension or architecture). */
int ae_head_check_model(const ae_head *h, const ae_model *m);

typedef struct ae_score {
    float score;        /* prompts: 1000 * (cos_pos - cos_neg); linear / mlp: the output */
    float probability;  /* prompts: softmax(100 * [cos_pos, cos_neg])[0]; logistic heads:
                           sigmoid(score); NaN otherwise */
    float cos_pos, cos_neg; /* prompts; NaN otherwise */
    int32_t good;       /* label: 1 good, 0 bad */
    int32_t class_index;/* context: the detected class; -1 otherwise */
} ae_score;

/* Scores n image embeddings (n * dim floats, not necessarily normalised). */
int ae_head_score(const ae_head *h, const float *embeds, int32_t n, ae_score *out);

/* Encodes n preprocessed images (as ae_encode_images) and scores them with h: out[n], and
 * embeds (may be NULL) n * embed_dim floats receiving the embeddings. Batches inside. */
int ae_score_images(ae_session *s, const ae_head *h, const float *pixels, int32_t n,
                    ae_score *out, float *embeds);

/* ---- culling: photo facts, groups of copies and bursts, a keeper per group -------------- */

/* Classic quality measures of a decoded image, computed on its luma (BT.601 with Pillow's
 * convert("L") weights, (19595 R + 38470 G + 7471 B) / 65536, not rounded) after an exact area
 * average that brings the shortest side to AE_QUALITY_SIDE (the other in proportion, rounded;
 * never upscaled), so that they do not depend on the file's size. Flips and quarter turns of
 * the image give the same values. None replaces the aesthetic score. */
#define AE_QUALITY_SIDE 512
typedef struct ae_quality {
    float sharpness;   /* variance of the 4-neighbour Laplacian of luma (interior pixels) */
    float highlights;  /* fraction of pixels with luma >= 250 (clipped highlights) */
    float shadows;     /* fraction of pixels with luma <= 5 (crushed shadows) */
    float noise;       /* Immerkaer's fast estimate of the noise sigma, in luma levels at the
                          working resolution */
    int32_t width, height; /* the working resolution measured */
} ae_quality;
/* Returns AE_OK; AE_ERR_INVALID for NULL or an empty image, AE_ERR_TOO_LARGE for a side over
 * 16,777,216 pixels or a shortest side over 131,072, AE_ERR_NOMEM. Sharpness and noise are 0
 * for an image under 3 pixels a side. */
int ae_image_quality(const ae_image *img, ae_quality *q);

/* When and with what a photo was taken, from its EXIF block (TIFF bytes, with or without the
 * "Exif\0\0" prefix): DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal, else
 * DateTimeDigitized + SubSecTimeDigitized + OffsetTimeDigitized (an offset only when valid,
 * -14:00..+14:00); Make, Model and BodySerialNumber (standard tags only, no maker notes). An
 * absent, malformed or absurd date (year outside 1900..2200, "0000:00:00", month 13, Feb 30,
 * hour 25, ...) leaves has_time 0; it is never an error. */
typedef struct ae_capture {
    int32_t has_time;
    double time;            /* seconds since 1970-01-01 of the camera's clock, + sub-seconds;
                               UTC when has_offset, the camera's local time otherwise */
    int32_t has_offset;
    int32_t offset_minutes; /* east of UTC */
    char camera[96];        /* "Make Model #Serial" (parts absent are left out; the make too
                               when the model starts with it: "Canon EOS R5 #123"), printable
                               ASCII, trimmed, cut to fit; "" unknown */
} ae_capture;
/* Returns AE_OK (also when nothing was found: *out then says so), AE_ERR_INVALID on NULL
 * (exif may be NULL with len 0: no block), AE_ERR_NOMEM. */
int ae_exif_capture(const void *exif, size_t len, ae_capture *out);
/* The capture time in ISO 8601 on the camera's clock, "2024-06-01T12:00:05.250+02:00"
 * (milliseconds when not whole, the offset when known), or "" without a time. */
int ae_capture_iso(const ae_capture *c, char *buf, size_t cap);

/* Groups among n images: `exact` (the same bytes, or the same decoded pixels with other
 * metadata), `near` (visually the same picture: cosine of the L2-normalised embeddings >=
 * similar) and `burst` (frames of one camera taken within burst_gap seconds of each other and
 * cosine >= burst_similar). Links are joined transitively (connected components) in order of
 * decreasing similarity, but two groups merge only while every pair of the merged group keeps
 * a cosine >= cos(2 * acos(threshold)) (the group spans at most twice the linking angle), so
 * a slow pan does not chain a whole shoot. An image is in at most one group; a group's kind is
 * the loosest link that formed it (exact < near < burst). Each group gets one keeper (see
 * ae_keep_by); the others are its rejects. Near links come from all pairs (AE_CULL_SEARCH_ALL:
 * blocked matrix products through the library's GEMM, O(n^2 d) flops: ~5 s for 30,000 images
 * of 512 dimensions on 2 cores, exact) or, for millions, from buckets (AE_CULL_SEARCH_BUCKETS:
 * spherical k-means into ceil(sqrt(n)) buckets, each image in its AE_CULL_PROBES nearest,
 * all pairs inside each bucket, O(n^1.5 d); a pair whose images share no bucket is missed,
 * which is rare for copies at cosine >= 0.9 of real photos, whose embeddings cluster).
 * AE_CULL_SEARCH_AUTO (the default) takes all pairs up to AE_CULL_ALL_PAIRS_MAX images.
 * Bursts compare only frames of one camera within the gap, whatever the search. */
typedef enum { AE_CULL_SINGLE = 0, AE_CULL_EXACT, AE_CULL_NEAR, AE_CULL_BURST } ae_cull_kind;
/* How a group member relates to its keeper: the same bytes, the same decoded pixels, near
 * (cosine to the keeper >= similar, or joined through near links), burst; NONE for keepers
 * and singles. */
typedef enum { AE_MATCH_NONE = 0, AE_MATCH_BYTES, AE_MATCH_PIXELS, AE_MATCH_NEAR, AE_MATCH_BURST } ae_cull_match;
/* The keeper of a group: SCORE (default) the highest aesthetic score among the members that
 * are not clearly blurrier than the group's sharpest (sharpness < blur_ratio of its
 * sharpness); SHARPNESS the sharpest; SIZE the most pixels, then the largest file; NEWEST the
 * latest capture time. Ties go to the higher score, then more pixels, then the earlier input. */
typedef enum { AE_KEEP_BY_SCORE = 0, AE_KEEP_BY_SHARPNESS, AE_KEEP_BY_SIZE, AE_KEEP_BY_NEWEST } ae_keep_by;
/* How near-duplicate pairs are searched (see above). */
typedef enum { AE_CULL_SEARCH_AUTO = 0, AE_CULL_SEARCH_ALL, AE_CULL_SEARCH_BUCKETS } ae_cull_search;
#define AE_CULL_ALL_PAIRS_MAX 100000
#define AE_CULL_PROBES 2

typedef struct ae_cull_item {
    const float *embedding;      /* dim floats (normalised inside); required */
    float score;                 /* the aesthetic score, higher is better; NaN: unknown */
    int32_t has_bytes_hash, has_pixel_hash, has_quality;
    uint8_t bytes_hash[32];      /* SHA-256 of the file */
    uint64_t pixel_hash[2];      /* of the decoded pixels and their orientation */
    ae_quality quality;
    int32_t has_time;
    double time;                 /* seconds (capture time, or mtime: the caller's choice) */
    const char *camera;          /* bursts never span two cameras; NULL or "" = unknown (one
                                    camera for all unknowns) */
    int64_t pixels, file_bytes;  /* for AE_KEEP_BY_SIZE; 0 unknown */
} ae_cull_item;

typedef struct ae_cull_params {
    float similar;         /* near duplicates: cosine >= this (default 0.95) */
    float burst_similar;   /* burst frames: cosine >= this (default 0.85) */
    double burst_gap;      /* seconds between frames of a burst (default 2; <= 0: no bursts) */
    ae_keep_by keep_by;
    float blur_ratio;      /* "clearly blurrier": sharpness < blur_ratio * the group's
                              sharpest (default 0.5) */
    ae_cull_search search; /* near pairs: auto (default), all pairs or buckets */
    int32_t n_threads;     /* 0: online cores */
} ae_cull_params;
ae_cull_params ae_cull_default_params(void);

typedef struct ae_cull_row {
    int32_t group;         /* 0, 1, ... numbered by the group's first input; -1 for singles */
    ae_cull_kind kind;     /* the group's kind; AE_CULL_SINGLE for singles */
    int32_t keep;          /* 1: the group's keeper or a single; 0: a reject */
    int32_t keeper;        /* index of the group's keeper (its own for keepers and singles) */
    ae_cull_match match;   /* relation to the keeper */
    float similarity;      /* cosine to the keeper (1 for keepers and singles; the CLI and server print none for singles) */
    float rel_sharpness;   /* sharpness / the group's sharpest; NaN without quality */
    int32_t blurrier;      /* 1: clearly blurrier than the group's sharpest */
    int32_t size;          /* members of its group (1 for singles) */
    int32_t twin;          /* a reject matching its keeper only by near or burst links but
                              an exact copy (bytes or pixels) of another member: the earliest
                              such member; -1 otherwise */
    ae_cull_match twin_match; /* AE_MATCH_BYTES or AE_MATCH_PIXELS when twin >= 0 */
} ae_cull_row;

/* Groups items[n] (dim-dimensional embeddings) into out[n]. AE_ERR_INVALID for bad arguments
 * (a NULL embedding, thresholds outside (0, 1], n < 0), AE_ERR_NOMEM. */
int ae_cull(const ae_cull_item *items, int32_t n, int32_t dim, const ae_cull_params *params,
            ae_cull_row *out);
/* Why row i is a reject, in one line, into buf (cap bytes; "" for keepers and singles):
 * "near-duplicate of IMG_0012.jpg, 31.2 points lower, blurrier", "the same pixels as
 * IMG_0012.jpg (other metadata)", "burst frame of ...", with what keep_by weighed ("fewer
 * pixels", "older", "less sharp") and an exact twin ("near-duplicate of A.jpg (the same bytes
 * as B.jpg), 2.4 points lower"). names[n] (may be NULL) name the items. */
int ae_cull_reason(const ae_cull_item *items, const ae_cull_row *rows, int32_t i, ae_keep_by keep_by,
                   const char *const *names, char *buf, size_t cap);
/* "single", "exact", "near", "burst" and "", "bytes", "pixels", "near", "burst". */
const char *ae_cull_kind_name(ae_cull_kind k);
const char *ae_cull_match_name(ae_cull_match m);
/* "score", "sharpness", "size", "newest"; ae_keep_by_parse: AE_OK or AE_ERR_INVALID. */
const char *ae_keep_by_name(ae_keep_by k);
int ae_keep_by_parse(const char *name, ae_keep_by *out);
/* "auto", "all", "buckets"; ae_cull_search_parse: AE_OK or AE_ERR_INVALID for other names. */
const char *ae_cull_search_name(ae_cull_search s);
int ae_cull_search_parse(const char *name, ae_cull_search *out);

/* Reads a .npy (float32 or float16, C order, shape [N, D] or [D]), a pickled NumPy array
 * (.pkl / .pickle, as numpy.ndarray.dump and pickle.dump write it; read by the restricted
 * unpickler) or raw float32 file (any other name: rows of dim floats, dim required > 0) into
 * *rows x *cols floats (caller frees with free()). */
int ae_read_matrix(const char *path, int32_t dim, float **data, int32_t *rows, int32_t *cols);

#ifdef __cplusplus
}
#endif
#endif /* AESTHETE_H */
