/*
 * score.c — aesthetic scores of image embeddings against a prompt bank, and the shipped
 * LAION-Aesthetics V1 linear heads.
 *
 * All arithmetic is in double: cosines are compared with goldens at 1e-6 and the context
 * method takes an argmax over 2N close cosines.
 */
#include <math.h>
#include <string.h>

#include "bank.h"
#include "error.h"

static const char *method_names[] = {"fixed", "context", "ensemble", "laion"};

const char *ae_method_name(ae_method m)
{
    return (unsigned)m < 4 ? method_names[m] : "unknown";
}

int ae_method_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, method_names[i])) return i;
    return -1;
}

static double dot_unit(const double *iu, const float *row, int32_t dim)
{
    double s = 0;
    for (int32_t k = 0; k < dim; k++) s += iu[k] * row[k];
    return s;
}

/* probability = softmax(100 * [cp, cn])[0] = 1 / (1 + exp(100 (cn - cp))) */
static double pair_probability(double cp, double cn) { return 1.0 / (1.0 + exp(100.0 * (cn - cp))); }

static int score_one(const ae_bank *b, const float *e, double *iu, ae_score *out, int32_t index)
{
    int32_t dim = b->dim;
    double norm = 0;
    for (int32_t k = 0; k < dim; k++) norm += (double)e[k] * e[k];
    if (!(norm > 0) || !isfinite(norm))
        return ae_fail(AE_ERR_INVALID, "embedding %d: %s", index, norm == 0 ? "zero vector" : "not finite");
    norm = sqrt(norm);
    for (int32_t k = 0; k < dim; k++) iu[k] = e[k] / norm;

    out->class_index = -1;
    if (b->method == AE_METHOD_LAION) {
        double s = b->bias;
        for (int32_t k = 0; k < dim; k++) s += iu[k] * b->weight[k];
        out->score = (float)s;
        out->probability = out->cos_pos = out->cos_neg = NAN;
        out->good = s >= 5.0; /* the middle of LAION's 1..10 rating scale */
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

int ae_bank_score(const ae_bank *b, const float *embeds, int32_t n, ae_score *out)
{
    if (!b || n < 0 || (n > 0 && (!embeds || !out)))
        return ae_fail(AE_ERR_INVALID, "ae_bank_score: invalid arguments");
    double *iu = malloc(sizeof(double) * (size_t)b->dim);
    if (!iu) return ae_fail(AE_ERR_NOMEM, "out of memory");
    int rc = AE_OK;
    for (int32_t i = 0; i < n && rc == AE_OK; i++)
        rc = score_one(b, embeds + (size_t)i * b->dim, iu, &out[i], i);
    free(iu);
    return rc;
}

/* ---- LAION heads (data/laion, compiled in by cmake/xxd.cmake) ---- */

extern const unsigned char ae_laion_vit_b_32[], ae_laion_vit_b_16[], ae_laion_vit_l_14[];
extern const unsigned long ae_laion_vit_b_32_len, ae_laion_vit_b_16_len, ae_laion_vit_l_14_len;

static const struct {
    const char *name;
    const unsigned char *data;
    const unsigned long *len;
    int32_t dim, patch, vision_hidden;
} heads[] = {
    {"vit-b-32", ae_laion_vit_b_32, &ae_laion_vit_b_32_len, 512, 32, 768},
    {"vit-b-16", ae_laion_vit_b_16, &ae_laion_vit_b_16_len, 512, 16, 768},
    {"vit-l-14", ae_laion_vit_l_14, &ae_laion_vit_l_14_len, 768, 14, 1024},
};

int ae_bank_laion(const char *name, const ae_model *m, ae_bank **out)
{
    int h = -1;
    *out = NULL;
    if (name) {
        for (int i = 0; i < 3; i++)
            if (!strcmp(name, heads[i].name)) h = i;
        if (h < 0)
            return ae_fail(AE_ERR_INVALID, "unknown LAION head '%s' (vit-b-32, vit-b-16, vit-l-14)", name);
    } else {
        if (!m) return ae_fail(AE_ERR_INVALID, "ae_bank_laion: a head name or a model is needed");
        ae_model_info info;
        ae_model_get_info(m, &info);
        for (int i = 0; i < 3; i++)
            if (info.embed_dim == heads[i].dim && info.patch_size == heads[i].patch &&
                info.vision.hidden_size == heads[i].vision_hidden)
                h = i;
        if (h < 0)
            return ae_fail(AE_ERR_UNSUPPORTED,
                           "no LAION aesthetic head for this model (embed dim %d, patch %d, vision width %d): "
                           "LAION V1 heads exist for ViT-B/32, ViT-B/16 and ViT-L/14",
                           info.embed_dim, info.patch_size, info.vision.hidden_size);
    }
    if (*heads[h].len != (unsigned long)(heads[h].dim + 1) * 4)
        return ae_fail(AE_ERR_FORMAT, "LAION head %s: %lu bytes compiled in, expected %d", heads[h].name,
                       *heads[h].len, (heads[h].dim + 1) * 4);
    ae_bank *b = bank_alloc();
    if (!b) return AE_ERR_NOMEM;
    b->method = AE_METHOD_LAION;
    b->dim = heads[h].dim;
    b->weight = malloc(sizeof(float) * (size_t)b->dim);
    free(b->laion_head);
    b->laion_head = bank_strdup(heads[h].name);
    if (!b->weight || !b->laion_head) {
        ae_bank_free(b);
        return ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    memcpy(b->weight, heads[h].data, sizeof(float) * (size_t)b->dim); /* little-endian hosts */
    memcpy(&b->bias, heads[h].data + sizeof(float) * (size_t)b->dim, sizeof(float));
    *out = b;
    return AE_OK;
}
