/*
 * score.c — aesthetic scores of image embeddings with a head (prompt bank, linear, MLP), of
 * images (encoded, then scored), and the shipped LAION heads (V1 linear for ViT-B/32, B/16,
 * L/14; V2 for ViT-L/14 as its exact affine map).
 *
 * All arithmetic is in double: cosines are compared with goldens at 1e-6 and the context
 * method takes an argmax over 2N close cosines.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "head.h"
#include "session.h"

static const char *method_names[] = {"fixed", "context", "ensemble", "laion", "laion-v2", "head"};
#define N_METHODS ((int)(sizeof method_names / sizeof method_names[0]))

const char *ae_method_name(ae_method m)
{
    return (unsigned)m < N_METHODS ? method_names[m] : "unknown";
}

int ae_method_parse(const char *name)
{
    for (int i = 0; name && i < N_METHODS; i++)
        if (!strcmp(name, method_names[i])) return i;
    return -1;
}

const char *ae_head_kind_name(ae_head_kind k)
{
    static const char *names[] = {"prompts", "linear", "mlp"};
    return (unsigned)k < 3 ? names[k] : "unknown";
}

static double dot_unit(const double *iu, const float *row, int32_t dim)
{
    double s = 0;
    for (int32_t k = 0; k < dim; k++) s += iu[k] * row[k];
    return s;
}

/* probability = softmax(100 * [cp, cn])[0] = 1 / (1 + exp(100 (cn - cp))) */
static double pair_probability(double cp, double cn) { return 1.0 / (1.0 + exp(100.0 * (cn - cp))); }

/* w . x + bias, x the unit embedding iu or (iu NULL) the raw one e */
static double linear(const ae_head *h, const double *iu, const float *e)
{
    double s = h->bias;
    for (int32_t k = 0; k < h->dim; k++) s += (iu ? iu[k] : e[k]) * h->weight[k];
    return s;
}

/* the widest output of an MLP's layers (0 for other kinds) */
static int32_t mlp_width(const ae_head *h)
{
    int32_t width = 0;
    for (int32_t i = 0; i < h->n_layers; i++) width = h->layers[i].out > width ? h->layers[i].out : width;
    return width;
}

/* the layers in turn, in double; act: two buffers of mlp_width(h) each */
static double mlp(const ae_head *h, const double *iu, const float *e, double *act, int32_t width)
{
    double *a = act, *b = act + width;
    const double *x = iu;
    for (int32_t i = 0; i < h->n_layers; i++) {
        const head_layer *L = &h->layers[i];
        for (int32_t o = 0; o < L->out; o++) {
            const float *w = L->w + (size_t)o * L->in;
            double s = L->b[o];
            if (x) for (int32_t k = 0; k < L->in; k++) s += x[k] * w[k];
            else for (int32_t k = 0; k < L->in; k++) s += (double)e[k] * w[k];
            b[o] = L->relu && s < 0 ? 0 : s;
        }
        x = b;
        double *t = a;
        a = b, b = t;
    }
    return x[0];
}

static int score_one(const ae_head *b, const float *e, double *iu, double *act, int32_t width, ae_score *out,
                     int32_t index)
{
    int32_t dim = b->dim;
    double norm = 0;
    for (int32_t k = 0; k < dim; k++) norm += (double)e[k] * e[k];
    if (!(norm > 0) || !isfinite(norm))
        return ae_fail(AE_ERR_INVALID, "embedding %d: %s", index, norm == 0 ? "zero vector" : "not finite");
    norm = sqrt(norm);
    for (int32_t k = 0; k < dim; k++) iu[k] = e[k] / norm;

    out->class_index = -1;
    if (b->kind != AE_HEAD_PROMPTS) {
        double y = b->kind == AE_HEAD_LINEAR ? linear(b, b->normalize ? iu : NULL, e) : mlp(b, b->normalize ? iu : NULL, e, act, width);
        out->score = (float)y;
        out->probability = b->logistic ? (float)(1.0 / (1.0 + exp(-y))) : NAN;
        out->cos_pos = out->cos_neg = NAN;
        out->good = y >= b->cut;
        return AE_OK;
    }
    int32_t row = 0;
    int good = -1; /* context: the side of the winning prompt */
    if (b->method == AE_METHOD_CONTEXT) {
        /* the single best prompt of all 2N decides: positives first, then negatives, first
         * maximum wins (the order of the paper's logits) */
        double best = -INFINITY;
        good = 1;
        for (int32_t r = 0; r < b->rows; r++) {
            double c = dot_unit(iu, b->pos_unit + (size_t)r * dim, dim);
            if (c > best) best = c, row = r;
        }
        for (int32_t r = 0; r < b->rows; r++) {
            double c = dot_unit(iu, b->neg_unit + (size_t)r * dim, dim);
            if (c > best) best = c, row = r, good = 0;
        }
        out->class_index = row;
    }
    double cp = dot_unit(iu, b->pos_unit + (size_t)row * dim, dim);
    double cn = dot_unit(iu, b->neg_unit + (size_t)row * dim, dim);
    out->cos_pos = (float)cp;
    out->cos_neg = (float)cn;
    out->score = (float)(1000.0 * (cp - cn));
    out->probability = (float)pair_probability(cp, cn);
    /* context: good if the winning prompt is positive (it is of class row, so this agrees
     * with the sign of cp - cn); the other methods: the sign */
    out->good = good >= 0 ? good : cp >= cn;
    return AE_OK;
}

int ae_head_score(const ae_head *b, const float *embeds, int32_t n, ae_score *out)
{
    if (!b || n < 0 || (n > 0 && (!embeds || !out)))
        return ae_fail(AE_ERR_INVALID, "ae_head_score: invalid arguments");
    int32_t width = mlp_width(b);
    double *iu = malloc(sizeof(double) * (size_t)b->dim), *act = malloc(sizeof(double) * (2 * (size_t)width + 1));
    int rc = iu && act ? AE_OK : ae_fail(AE_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n && rc == AE_OK; i++)
        rc = score_one(b, embeds + (size_t)i * b->dim, iu, act, width, &out[i], i);
    free(iu), free(act);
    return rc;
}

int ae_score_images(ae_session *s, const ae_head *h, const float *pixels, int32_t n, ae_score *out,
                    float *embeds)
{
    if (!s || !h || n < 0 || (n > 0 && (!pixels || !out)))
        return ae_fail(AE_ERR_INVALID, "ae_score_images: invalid arguments");
    const ae_model *m = session_model(s);
    int rc = ae_head_check_model(h, m);
    if (rc != AE_OK) return rc;
    enum { CHUNK = 64 }; /* images per encoder call when the caller keeps no embeddings */
    int32_t dim = ae_model_embed_dim(m);
    size_t px = ae_model_pixels_size(m);
    float *buf = embeds ? NULL : malloc(sizeof(float) * (size_t)(n < CHUNK ? n : CHUNK) * dim);
    if (!embeds && n > 0 && !buf) return ae_fail(AE_ERR_NOMEM, "out of memory");
    for (int32_t done = 0; rc == AE_OK && done < n; done += CHUNK) {
        int32_t k = n - done < CHUNK ? n - done : CHUNK;
        float *e = embeds ? embeds + (size_t)done * dim : buf;
        rc = ae_encode_images(s, pixels + (size_t)done * px, k, e);
        if (rc == AE_OK) rc = ae_head_score(h, e, k, out + done);
    }
    free(buf);
    return rc;
}

/* ---- LAION heads (data/laion, compiled in by cmake/xxd.cmake) ---- */

extern const unsigned char ae_laion_vit_b_32[], ae_laion_vit_b_16[], ae_laion_vit_l_14[], ae_laion_v2_vit_l_14[];
extern const unsigned long ae_laion_vit_b_32_len, ae_laion_vit_b_16_len, ae_laion_vit_l_14_len,
    ae_laion_v2_vit_l_14_len;

static const struct {
    const char *name, *model_id, *provenance, *license;
    ae_method method;
    const unsigned char *data;
    const unsigned long *len;
    int32_t dim, patch, vision_hidden;
} heads[] = {
    {"vit-b-32", "openai/clip-vit-base-patch32", "LAION-AI/aesthetic-predictor sa_0_4_vit_b_32_linear.pth", "MIT",
     AE_METHOD_LAION, ae_laion_vit_b_32, &ae_laion_vit_b_32_len, 512, 32, 768},
    {"vit-b-16", "openai/clip-vit-base-patch16", "LAION-AI/aesthetic-predictor sa_0_4_vit_b_16_linear.pth", "MIT",
     AE_METHOD_LAION, ae_laion_vit_b_16, &ae_laion_vit_b_16_len, 512, 16, 768},
    {"vit-l-14", "openai/clip-vit-large-patch14", "LAION-AI/aesthetic-predictor sa_0_4_vit_l_14_linear.pth", "MIT",
     AE_METHOD_LAION, ae_laion_vit_l_14, &ae_laion_vit_l_14_len, 768, 14, 1024},
    {"v2-vit-l-14", "openai/clip-vit-large-patch14",
     "christophschuhmann/improved-aesthetic-predictor@6934dd81792f086e613a121dbce43082cb8be85e "
     "sac+logos+ava1-l14-linearMSE.pth, its 5 layers collapsed into one affine map",
     "Apache-2.0", AE_METHOD_LAION_V2, ae_laion_v2_vit_l_14, &ae_laion_v2_vit_l_14_len, 768, 14, 1024},
};
#define N_HEADS ((int)(sizeof heads / sizeof heads[0]))

int ae_head_laion(const char *name, const ae_model *m, ae_head **out)
{
    int h = -1;
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_head_laion: invalid arguments");
    *out = NULL;
    ae_model_info info;
    if (m) ae_model_get_info(m, &info);
    if (name) {
        for (int i = 0; i < N_HEADS; i++)
            if (!strcmp(name, heads[i].name)) h = i;
        if (h < 0)
            return ae_fail(AE_ERR_INVALID,
                           "unknown LAION head '%s' (vit-b-32, vit-b-16, vit-l-14; v2-vit-l-14 for V2)", name);
    } else {
        if (!m) return ae_fail(AE_ERR_INVALID, "ae_head_laion: a head name or a model is needed");
        for (int i = 0; i < N_HEADS; i++)
            if (heads[i].method == AE_METHOD_LAION && info.embed_dim == heads[i].dim &&
                info.patch_size == heads[i].patch && info.vision.hidden_size == heads[i].vision_hidden)
                h = i;
        if (h < 0)
            return ae_fail(AE_ERR_UNSUPPORTED,
                           "no LAION aesthetic head for this model (%s: embed dim %d, patch %d, vision width %d): "
                           "LAION V1 heads exist for ViT-B/32, ViT-B/16 and ViT-L/14, V2 for ViT-L/14",
                           info.id, info.embed_dim, info.patch_size, info.vision.hidden_size);
    }
    if (*heads[h].len != (unsigned long)(heads[h].dim + 1) * 4)
        return ae_fail(AE_ERR_FORMAT, "LAION head %s: %lu bytes compiled in, expected %d", heads[h].name,
                       *heads[h].len, (heads[h].dim + 1) * 4);
    float *w = malloc(sizeof(float) * (size_t)heads[h].dim), b;
    if (!w) return ae_fail(AE_ERR_NOMEM, "out of memory");
    memcpy(w, heads[h].data, sizeof(float) * (size_t)heads[h].dim); /* little-endian hosts */
    memcpy(&b, heads[h].data + sizeof(float) * (size_t)heads[h].dim, sizeof(float));
    ae_head_params hp = ae_head_default_params();
    hp.method = heads[h].method;
    hp.model_id = heads[h].model_id;
    hp.patch_size = heads[h].patch;
    hp.vision_width = heads[h].vision_hidden;
    hp.cut = 5.0f; /* the middle of the 1..10 rating scale */
    hp.provenance = heads[h].provenance;
    hp.license = heads[h].license;
    ae_head_layer layer = {heads[h].dim, 1, w, &b, 0};
    int rc = ae_head_from_layers(&layer, 1, &hp, out);
    free(w);
    if (rc == AE_OK && (rc = head_set_str(&(*out)->laion_head, heads[h].name)) != AE_OK) {
        ae_head_free(*out);
        *out = NULL;
    }
    if (rc == AE_OK && m && (rc = ae_head_check_model(*out, m)) != AE_OK) {
        ae_head_free(*out);
        *out = NULL;
    }
    return rc;
}
