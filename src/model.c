/*
 * model.c — loading a CLIP model directory into an immutable ae_model.
 *
 * A model directory (a local folder, or a snapshot of the Hugging Face cache, see hub.c)
 * holds config.json, model.safetensors, preprocessor_config.json, vocab.json and merges.txt.
 * Loading reads the configs, maps the weights (st_open validates the file), checks that every
 * tensor the config implies is present with exactly the expected shape (names and shapes of
 * transformers' CLIPModel.state_dict(); tensors that are not needed, such as logit_scale or
 * the position_ids buffers of older files, are ignored), then converts everything to float32
 * once:
 *   - embeddings, LayerNorm parameters and the class embedding go into one allocation,
 *     `block`, and the tower structs point into it;
 *   - linear weights are converted into a temporary buffer and handed to nn_linear_init,
 *     which copies them into the layout of the kernels. q, k and v are stacked into one
 *     [3D, D] layer; the patch-embedding convolution [D, C, P, P] is the linear layer
 *     [D, C*P*P] over patches flattened in (c, y, x) order.
 * The same code walks the tensors twice: a checking pass (errors before any large
 * allocation, and the size of `block`), then the converting pass.
 *
 * Without preprocessor_config.json the CLIPImageProcessor defaults are used with resize and
 * crop equal to vision_config.image_size (what a processor saved with the model would say).
 *
 * The fingerprint identifies the weights (it keys caches and prompt banks): a 64-bit hash of
 * the entire model.safetensors, so it changes when any byte changes. See fingerprint().
 */
#define _GNU_SOURCE
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "hub.h"
#include "safetensors.h"

#define DIR_CAP 4096

ae_model_params ae_model_default_params(void)
{
    return (ae_model_params){.load_text = 1, .load_vision = 1};
}

int ae_model_resolve(const char *spec, char *dir, size_t cap)
{
    return hub_resolve(spec, dir, cap);
}

/* ---- fingerprint -------------------------------------------------------------------------- */

/* The hot loop of the fingerprint: four independent lanes so that the multiply latency
 * overlaps and the loop runs near memory speed. Each little-endian 64-bit word w of lane i
 * updates s = (s ^ w) * K; s ^= s >> 29 (a bijection of s for a fixed w, so changing one word
 * always changes its lane). The file is read in 32-byte blocks, words 0..3 to lanes 0..3; the
 * last partial block is zero-padded. Lanes start at (i + 1) * 0x9E3779B97F4A7C15 ^ size and
 * are folded with the murmur3 finaliser: h = size; for each lane h = fmix64(h ^ s[i]).
 * Printed as 16 lowercase hex digits. */
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static void fingerprint(const uint8_t *p, size_t n, char out[17])
{
    const uint64_t K = 0x9FB21C651E98DF25ull;
    uint64_t s[4];
    for (int i = 0; i < 4; i++) s[i] = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; l++) {
            s[l] = (s[l] ^ rd64(p + i + 8 * l)) * K;
            s[l] ^= s[l] >> 29;
        }
    if (i < n) {
        uint8_t tail[32] = {0};
        memcpy(tail, p + i, n - i);
        for (int l = 0; l < 4; l++) {
            s[l] = (s[l] ^ rd64(tail + 8 * l)) * K;
            s[l] ^= s[l] >> 29;
        }
    }
    uint64_t h = (uint64_t)n;
    for (int l = 0; l < 4; l++) h = fmix64(h ^ s[l]);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- the two-pass tensor walk ------------------------------------------------------------- */

typedef struct loader {
    const st_file *st;
    const char *label;   /* path of model.safetensors */
    int convert;         /* 0: checking pass, 1: converting pass */
    float *block;
    size_t block_floats; /* floats used so far (pass 0: the size to allocate) */
    float *tmp;          /* linear weights + biases before nn_linear_init */
    size_t tmp_floats;   /* pass 0: the size to allocate */
} loader;

static int is_float(st_dtype dt) { return dt == ST_F32 || dt == ST_F16 || dt == ST_BF16; }

/* The tensor `name` with exactly the shape (ndim, d...), or an error. */
static int need(loader *L, const char *name, int32_t ndim, const int64_t *shape,
                const st_tensor **out)
{
    const st_tensor *t = st_get(L->st, name);
    if (!t) return ae_fail(AE_ERR_NOT_FOUND, "%s: missing tensor %s", L->label, name);
    if (!is_float(t->dtype))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s is not supported for weights "
                       "(F32, F16, BF16)", L->label, name, st_dtype_name(t->dtype));
    int ok = t->ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char a[128], b[128];
        return ae_fail(AE_ERR_MODEL, "%s: tensor %s: shape %s expected %s", L->label, name,
                       st_shape_str(a, sizeof a, t->ndim, t->shape), st_shape_str(b, sizeof b, ndim, shape));
    }
    *out = t;
    return AE_OK;
}

/* Rounds to 16 floats so every tensor in the block starts 64-byte aligned. */
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* A tensor kept as is in `block`: 1-D [d0] (d1 == 0) or 2-D [d0, d1]. */
static int plain(loader *L, const char *name, int64_t d0, int64_t d1, const float **dst)
{
    int64_t shape[2] = {d0, d1};
    const st_tensor *t;
    int rc = need(L, name, d1 ? 2 : 1, shape, &t);
    if (rc) return rc;
    if (L->convert) {
        float *p = L->block + L->block_floats;
        st_to_f32(t, p);
        *dst = p;
    }
    L->block_floats += round16((size_t)t->numel);
    return AE_OK;
}

/* Whether t's bytes can be read as floats in place. */
static int direct_f32(const st_tensor *t)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return t->dtype == ST_F32 && ((uintptr_t)t->data & 3) == 0;
#else
    (void)t;
    return 0;
#endif
}

/* A linear layer made of n_parts weights [n_out, n_in] stacked along n_out (q, k, v), each
 * with its bias [n_out] if has_bias. names[i] is the weight's prefix ("...q_proj"); the
 * weight tensor is "<prefix>.weight" with the shape given by w_ndim/w_shape (the patch
 * convolution is 4-D), the bias "<prefix>.bias". */
static int linear(loader *L, nn_linear *lin, int n_parts, const char *const *names, int has_bias,
                  int32_t w_ndim, const int64_t *w_shape, int64_t n_out, int64_t n_in)
{
    const st_tensor *w[3], *b[3] = {NULL, NULL, NULL};
    char nm[256];
    int rc;
    for (int i = 0; i < n_parts; i++) {
        snprintf(nm, sizeof nm, "%s.weight", names[i]);
        if ((rc = need(L, nm, w_ndim, w_shape, &w[i]))) return rc;
        if (has_bias) {
            snprintf(nm, sizeof nm, "%s.bias", names[i]);
            if ((rc = need(L, nm, 1, &n_out, &b[i]))) return rc;
        }
    }
    size_t nw = (size_t)(n_parts * n_out * n_in), nb = (size_t)(n_parts * n_out);
    if (!L->convert) {
        if (nw + nb > L->tmp_floats) L->tmp_floats = nw + nb;
        return AE_OK;
    }
    /* a single aligned little-endian F32 tensor is handed over straight from the mapping
     * (saves copying most of an F32 file once more) */
    if (n_parts == 1 && direct_f32(w[0]) && (!has_bias || direct_f32(b[0]))) {
        rc = nn_linear_init(lin, (int32_t)n_out, (int32_t)n_in, (const float *)(const void *)w[0]->data,
                            has_bias ? (const float *)(const void *)b[0]->data : NULL);
        if (rc) return ae_fail_prefix(rc, "%s: %s: ", L->label, names[0]);
        return AE_OK;
    }
    float *tw = L->tmp, *tb = L->tmp + nw;
    for (int i = 0; i < n_parts; i++) {
        st_to_f32(w[i], tw + (size_t)i * (size_t)(n_out * n_in));
        if (has_bias) st_to_f32(b[i], tb + (size_t)i * (size_t)n_out);
    }
    rc = nn_linear_init(lin, (int32_t)(n_parts * n_out), (int32_t)n_in, tw, has_bias ? tb : NULL);
    if (rc) return ae_fail_prefix(rc, "%s: %s: ", L->label, names[0]);
    return AE_OK;
}

/* One encoder layer: prefix "text_model.encoder.layers.3". */
static int layer(loader *L, clip_layer *ly, const char *prefix, int64_t D, int64_t I)
{
    char n[6][128];
    int rc;
    const char *parts[] = {"layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight",
                           "layer_norm2.bias"};
    const float **dst[] = {&ly->ln1_w, &ly->ln1_b, &ly->ln2_w, &ly->ln2_b};
    for (int i = 0; i < 4; i++) {
        snprintf(n[0], sizeof n[0], "%s.%s", prefix, parts[i]);
        if ((rc = plain(L, n[0], D, 0, dst[i]))) return rc;
    }
    snprintf(n[0], sizeof n[0], "%s.self_attn.q_proj", prefix);
    snprintf(n[1], sizeof n[1], "%s.self_attn.k_proj", prefix);
    snprintf(n[2], sizeof n[2], "%s.self_attn.v_proj", prefix);
    snprintf(n[3], sizeof n[3], "%s.self_attn.out_proj", prefix);
    snprintf(n[4], sizeof n[4], "%s.mlp.fc1", prefix);
    snprintf(n[5], sizeof n[5], "%s.mlp.fc2", prefix);
    const char *qkv[] = {n[0], n[1], n[2]}, *out[] = {n[3]}, *fc1[] = {n[4]}, *fc2[] = {n[5]};
    int64_t dd[2] = {D, D}, id[2] = {I, D}, di[2] = {D, I};
    if ((rc = linear(L, &ly->qkv, 3, qkv, 1, 2, dd, D, D)) ||
        (rc = linear(L, &ly->out, 1, out, 1, 2, dd, D, D)) ||
        (rc = linear(L, &ly->fc1, 1, fc1, 1, 2, id, I, D)) ||
        (rc = linear(L, &ly->fc2, 1, fc2, 1, 2, di, D, I)))
        return rc;
    return AE_OK;
}

static int tower(loader *L, clip_tower *tw, int text, int64_t proj)
{
    const clip_tower_config *c = &tw->cfg;
    const char *pre = text ? "text_model" : "vision_model";
    int64_t D = c->hidden;
    char nm[192];
    int rc;
    if (text) {
        if ((rc = plain(L, "text_model.embeddings.token_embedding.weight", c->vocab, D,
                        &tw->token_embedding)))
            return rc;
    } else {
        int64_t P = c->patch_size, ws[4] = {D, c->channels, P, P};
        const char *pn[] = {"vision_model.embeddings.patch_embedding"};
        if ((rc = plain(L, "vision_model.embeddings.class_embedding", D, 0,
                        &tw->class_embedding)) ||
            (rc = linear(L, &tw->patch, 1, pn, 0, 4, ws, D, c->channels * P * P)) ||
            (rc = plain(L, "vision_model.pre_layrnorm.weight", D, 0, &tw->pre_ln_w)) ||
            (rc = plain(L, "vision_model.pre_layrnorm.bias", D, 0, &tw->pre_ln_b)))
            return rc;
    }
    snprintf(nm, sizeof nm, "%s.embeddings.position_embedding.weight", pre);
    if ((rc = plain(L, nm, c->max_positions, D, &tw->position_embedding))) return rc;
    for (int32_t i = 0; i < c->layers; i++) {
        char lp[48];
        snprintf(lp, sizeof lp, "%s.encoder.layers.%d", pre, i);
        if ((rc = layer(L, &tw->layers[i], lp, D, c->intermediate))) return rc;
    }
    const char *fln = text ? "text_model.final_layer_norm" : "vision_model.post_layernorm";
    snprintf(nm, sizeof nm, "%s.weight", fln);
    if ((rc = plain(L, nm, D, 0, &tw->final_ln_w))) return rc;
    snprintf(nm, sizeof nm, "%s.bias", fln);
    if ((rc = plain(L, nm, D, 0, &tw->final_ln_b))) return rc;
    const char *pj[] = {text ? "text_projection" : "visual_projection"};
    int64_t ps[2] = {proj, D};
    return linear(L, &tw->proj, 1, pj, 0, 2, ps, proj, D);
}

/* ---- load / free -------------------------------------------------------------------------- */

/* nn_linear_free on a layer that init never reached (a failed load) is skipped. */
static void lin_free(nn_linear *l)
{
    if (l->w || l->bias) nn_linear_free(l);
}

static void tower_free(clip_tower *tw)
{
    if (tw->layers) {
        for (int32_t i = 0; i < tw->cfg.layers; i++) {
            lin_free(&tw->layers[i].qkv);
            lin_free(&tw->layers[i].out);
            lin_free(&tw->layers[i].fc1);
            lin_free(&tw->layers[i].fc2);
        }
        free(tw->layers);
    }
    lin_free(&tw->proj);
    lin_free(&tw->patch);
    memset(tw, 0, sizeof *tw);
}

void ae_model_free(ae_model *m)
{
    if (!m) return;
    tower_free(&m->text);
    tower_free(&m->vision);
    if (m->tok) tok_free(m->tok);
    free(m->block);
    free(m->dir);
    free(m);
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* dir + "/" + name into out, or AE_ERR_INVALID if it does not fit. */
static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return ae_fail(AE_ERR_INVALID, "%s: path too long", dir);
    return AE_OK;
}

int ae_model_load(const char *spec, const ae_model_params *params, ae_model **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_model_load: out is NULL");
    *out = NULL;
    ae_model_params p = params ? *params : ae_model_default_params();
    char dir[DIR_CAP], path[DIR_CAP + 64], path2[DIR_CAP + 64];
    st_file st;
    memset(&st, 0, sizeof st);
    loader L = {0};
    ae_model *m = NULL;
    int rc = ae_model_resolve(spec, dir, sizeof dir);
    if (rc) return rc;

    m = calloc(1, sizeof *m);
    if (!m || !(m->dir = strdup(dir))) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", dir);
        goto fail;
    }
    m->has_text = p.load_text != 0;
    m->has_vision = p.load_vision != 0;

    /* configs */
    if ((rc = join(path, sizeof path, dir, "config.json")) ||
        (rc = clip_config_load(path, &m->cfg)))
        goto fail;
    if ((rc = join(path, sizeof path, dir, "preprocessor_config.json"))) goto fail;
    if (file_exists(path)) {
        if ((rc = clip_preproc_load(path, &m->pre))) goto fail;
    } else {
        clip_preproc_parse("{}", 2, path, &m->pre);
        m->pre.shortest_edge = m->pre.crop_h = m->pre.crop_w = m->cfg.vision.image_size;
    }
    if (m->has_vision) {
        if (!m->pre.do_center_crop) {
            rc = ae_fail(AE_ERR_UNSUPPORTED,
                         "%s: do_center_crop false is not supported (the vision tower needs "
                         "%dx%d input)",
                         path, m->cfg.vision.image_size, m->cfg.vision.image_size);
            goto fail;
        }
        if (m->pre.crop_h != m->cfg.vision.image_size || m->pre.crop_w != m->cfg.vision.image_size) {
            rc = ae_fail(AE_ERR_MODEL,
                         "%s: crop_size %dx%d does not match vision_config.image_size %d", path,
                         m->pre.crop_w, m->pre.crop_h, m->cfg.vision.image_size);
            goto fail;
        }
    }
    m->text.cfg = m->cfg.text;
    m->vision.cfg = m->cfg.vision;

    /* tokenizer; its ids go up to <|endoftext|>, so the embedding table must hold them */
    if (m->has_text) {
        if (m->cfg.text.vocab <= TOK_EOS) {
            rc = ae_fail(AE_ERR_MODEL,
                         "%s/config.json: text_config.vocab_size %d is smaller than the CLIP "
                         "tokenizer's %d",
                         dir, m->cfg.text.vocab, TOK_EOS + 1);
            goto fail;
        }
        if ((rc = join(path, sizeof path, dir, "vocab.json")) ||
            (rc = join(path2, sizeof path2, dir, "merges.txt")) ||
            (rc = tok_load(path, path2, &m->tok)))
            goto fail;
    }

    /* weights */
    if ((rc = join(path, sizeof path, dir, "model.safetensors"))) goto fail;
    if (!file_exists(path)) {
        if ((rc = join(path2, sizeof path2, dir, "pytorch_model.bin"))) goto fail;
        rc = ae_fail(AE_ERR_NOT_FOUND, "%s: missing%s", path,
                     file_exists(path2) ? " (pytorch_model.bin is there, but only safetensors "
                                          "weights are supported)"
                                        : "");
        goto fail;
    }
    if ((rc = st_open(&st, path))) goto fail;
    m->file_size = (int64_t)st.size;
    fingerprint(st.base, st.size, m->fingerprint);
    /* parameters: the floating-point tensors (integer position_ids buffers are not) */
    for (int32_t i = 0; i < st.n_tensors; i++) {
        if (!is_float(st.tensors[i].dtype)) continue;
        const char *dn = st_dtype_name(st.tensors[i].dtype);
        m->n_params += st.tensors[i].numel;
        if (!m->dtype[0]) snprintf(m->dtype, sizeof m->dtype, "%s", dn);
        else if (strcmp(m->dtype, dn) != 0) snprintf(m->dtype, sizeof m->dtype, "mixed");
    }
    if (!m->dtype[0]) snprintf(m->dtype, sizeof m->dtype, "F32");

    if (m->has_text && !(m->text.layers = calloc((size_t)m->cfg.text.layers, sizeof(clip_layer))))
        goto nomem;
    if (m->has_vision &&
        !(m->vision.layers = calloc((size_t)m->cfg.vision.layers, sizeof(clip_layer))))
        goto nomem;

    /* pass 0 checks names and shapes and sizes the buffers; pass 1 converts */
    L.st = &st;
    L.label = path;
    for (int pass = 0; pass < 2; pass++) {
        L.convert = pass;
        L.block_floats = 0;
        if (m->has_text && (rc = tower(&L, &m->text, 1, m->cfg.proj_dim))) goto fail;
        if (m->has_vision && (rc = tower(&L, &m->vision, 0, m->cfg.proj_dim))) goto fail;
        if (pass == 0) {
            if (posix_memalign((void **)&m->block, 64, (L.block_floats ? L.block_floats : 1) *
                                                           sizeof(float)) != 0) {
                m->block = NULL;
                goto nomem;
            }
            if (!(L.tmp = malloc((L.tmp_floats ? L.tmp_floats : 1) * sizeof(float)))) goto nomem;
            L.block = m->block;
        }
    }
    free(L.tmp);
    st_close(&st);
    *out = m;
    return AE_OK;

nomem:
    rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", dir);
fail:
    free(L.tmp);
    st_close(&st);
    ae_model_free(m);
    return rc;
}

/* ---- queries ------------------------------------------------------------------------------ */

static void tower_info(const clip_tower_config *c, int loaded, ae_tower_info *t)
{
    t->hidden_size = c->hidden;
    t->num_layers = c->layers;
    t->num_heads = c->heads;
    t->intermediate_size = c->intermediate;
    t->hidden_act = ae_act_name(c->act);
    t->layer_norm_eps = c->eps;
    t->loaded = loaded;
}

void ae_model_get_info(const ae_model *m, ae_model_info *info)
{
    memset(info, 0, sizeof *info);
    if (!m) return;
    info->dir = m->dir;
    info->weights_dtype = m->dtype;
    info->n_params = m->n_params;
    info->file_size = m->file_size;
    info->embed_dim = m->cfg.proj_dim;
    info->image_size = m->cfg.vision.image_size;
    info->patch_size = m->cfg.vision.patch_size;
    info->context_length = m->cfg.text.max_positions;
    info->vocab_size = m->cfg.text.vocab;
    tower_info(&m->cfg.text, m->has_text, &info->text);
    tower_info(&m->cfg.vision, m->has_vision, &info->vision);
    info->resize_shortest_edge = m->pre.shortest_edge;
    info->crop_height = m->pre.crop_h;
    info->crop_width = m->pre.crop_w;
    memcpy(info->image_mean, m->pre.mean, sizeof info->image_mean);
    memcpy(info->image_std, m->pre.std, sizeof info->image_std);
    memcpy(info->fingerprint, m->fingerprint, sizeof info->fingerprint);
}

int32_t ae_model_embed_dim(const ae_model *m) { return m ? m->cfg.proj_dim : 0; }

size_t ae_model_pixels_size(const ae_model *m)
{
    return m ? 3 * (size_t)m->pre.crop_h * (size_t)m->pre.crop_w : 0;
}
