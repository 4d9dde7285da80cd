/*
 * bank.c — prompt banks: the prompts of a method built from a template, adjectives and class
 * names, encoded once by the text tower, saved as safetensors so that NumPy/PyTorch users can
 * open them too, and loaded back with full validation.
 *
 * File layout (safetensors, float32):
 *   "positive", "negative"  [rows, dim]  prompt embeddings (context: one row per class;
 *                                        fixed: the two prompts; ensemble: the two centroids)
 *   "weight" [dim], "bias" [1]           laion banks instead
 *   __metadata__: format "aesthete-bank/1", method, template, positive, negative,
 *                 classes (JSON array), model, fingerprint, normalize_prompts, laion_head,
 *                 prompts (number encoded), precision (of the text tower: "fp32", "int8",
 *                 "bf16"; written by banks built since reduced precision exists, a key the
 *                 loaders before it ignore; a built bank without it is fp32).
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank.h"
#include "error.h"
#include "safetensors.h"
#include "session.h"

#define BANK_FORMAT "aesthete-bank/1"
#define BANK_CHUNK 256 /* prompts encoded per call (progress granularity) */

char *bank_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) ae_fail(AE_ERR_NOMEM, "out of memory");
    return d;
}

ae_bank *bank_alloc(void)
{
    ae_bank *b = calloc(1, sizeof *b);
    if (!b) {
        ae_fail(AE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char **s[] = {&b->template_text, &b->positive, &b->negative, &b->model_id, &b->fingerprint, &b->laion_head,
                  &b->precision};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!(*s[i] = bank_strdup(""))) {
            ae_bank_free(b);
            return NULL;
        }
    return b;
}

int bank_alloc_rows(ae_bank *b, int32_t rows, int32_t dim)
{
    size_t n = (size_t)rows * (size_t)dim;
    b->rows = rows;
    b->dim = dim;
    b->pos = malloc(sizeof(float) * n);
    b->neg = malloc(sizeof(float) * n);
    b->pos_unit = malloc(sizeof(float) * n);
    b->neg_unit = malloc(sizeof(float) * n);
    if (!b->pos || !b->neg || !b->pos_unit || !b->neg_unit) return ae_fail(AE_ERR_NOMEM, "out of memory");
    return AE_OK;
}

static int unit_rows(const float *src, float *dst, int32_t rows, int32_t dim, const char *label,
                     const char *side)
{
    for (int32_t r = 0; r < rows; r++) {
        const float *x = src + (size_t)r * dim;
        double n = 0;
        for (int32_t k = 0; k < dim; k++) n += (double)x[k] * x[k];
        if (!(n > 0) || !isfinite(n))
            return ae_fail(AE_ERR_FORMAT, "%s: %s row %d is %s", label, side, r,
                           n == 0 ? "a zero vector" : "not finite");
        n = sqrt(n);
        for (int32_t k = 0; k < dim; k++) dst[(size_t)r * dim + k] = (float)(x[k] / n);
    }
    return AE_OK;
}

int bank_finish(ae_bank *b, const char *label)
{
    int rc = unit_rows(b->pos, b->pos_unit, b->rows, b->dim, label, "positive");
    if (rc == AE_OK) rc = unit_rows(b->neg, b->neg_unit, b->rows, b->dim, label, "negative");
    return rc;
}

void ae_bank_free(ae_bank *b)
{
    if (!b) return;
    free(b->pos), free(b->neg), free(b->pos_unit), free(b->neg_unit), free(b->weight);
    for (int32_t i = 0; i < b->n_classes; i++) free(b->classes[i]);
    free(b->classes);
    free(b->template_text), free(b->positive), free(b->negative);
    free(b->model_id), free(b->fingerprint), free(b->laion_head), free(b->precision);
    free(b);
}

ae_bank_params ae_bank_default_params(void)
{
    ae_bank_params p = {0};
    p.method = AE_METHOD_FIXED;
    return p;
}

/* template with every {adjective} and {class} replaced; NULL on out of memory */
static char *expand(const char *tmpl, const char *adjective, const char *cls)
{
    size_t cap = strlen(tmpl) + 1, la = strlen(adjective), lc = cls ? strlen(cls) : 0;
    for (const char *p = tmpl; (p = strchr(p, '{')); p++) cap += la + lc; /* generous */
    char *out = malloc(cap), *o = out;
    if (!out) return NULL;
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{adjective}", 11)) {
            memcpy(o, adjective, la), o += la, p += 11;
        } else if (cls && !strncmp(p, "{class}", 7)) {
            memcpy(o, cls, lc), o += lc, p += 7;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

static int set_str(char **dst, const char *s)
{
    char *d = bank_strdup(s);
    if (!d) return AE_ERR_NOMEM;
    free(*dst);
    *dst = d;
    return AE_OK;
}

int ae_bank_build(ae_session *s, const ae_bank_params *p,
                  void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx, ae_bank **out)
{
    *out = NULL;
    if (!s || !p) return ae_fail(AE_ERR_INVALID, "ae_bank_build: invalid arguments");
    const ae_model *m = session_model(s);
    if (p->method == AE_METHOD_LAION) return ae_bank_laion(p->laion_head, m, out);
    if ((unsigned)p->method > AE_METHOD_LAION) return ae_fail(AE_ERR_INVALID, "unknown method %d", (int)p->method);
    int with_classes = p->method != AE_METHOD_FIXED;
    const char *tmpl = p->template_text ? p->template_text
                       : with_classes   ? AE_DEFAULT_TEMPLATE_CLASS
                                        : AE_DEFAULT_TEMPLATE_FIXED;
    const char *pos = p->positive ? p->positive : AE_DEFAULT_POSITIVE;
    const char *neg = p->negative ? p->negative : AE_DEFAULT_NEGATIVE;
    if (!strstr(tmpl, "{adjective}"))
        return ae_fail(AE_ERR_INVALID, "template \"%s\" has no {adjective}", tmpl);
    if (with_classes && !strstr(tmpl, "{class}"))
        return ae_fail(AE_ERR_INVALID, "template \"%s\" has no {class}: the %s method needs one",
                       tmpl, ae_method_name(p->method));
    if (!with_classes && strstr(tmpl, "{class}"))
        return ae_fail(AE_ERR_INVALID, "template \"%s\" has {class}: use --method context or ensemble", tmpl);
    if (with_classes && (p->n_classes <= 0 || !p->classes))
        return ae_fail(AE_ERR_INVALID, "the %s method needs at least one class", ae_method_name(p->method));

    int32_t n = with_classes ? p->n_classes : 1, dim = ae_model_embed_dim(m);
    int64_t total = 2 * (int64_t)n;
    ae_bank *b = bank_alloc();
    char **prompts = calloc((size_t)total, sizeof(char *));
    float *emb = malloc(sizeof(float) * (size_t)total * (size_t)dim);
    int rc = b && prompts && emb ? AE_OK : ae_fail(AE_ERR_NOMEM, "out of memory");
    /* prompts: all positives, then all negatives */
    for (int32_t i = 0; rc == AE_OK && i < n; i++) {
        const char *cls = with_classes ? p->classes[i] : NULL;
        prompts[i] = expand(tmpl, pos, cls);
        prompts[n + i] = expand(tmpl, neg, cls);
        if (!prompts[i] || !prompts[n + i]) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    /* a prompt the tokenizer refuses (invalid UTF-8 in a class name) is named exactly */
    for (int64_t i = 0; rc == AE_OK && i < total; i++) {
        size_t n_ids = 0;
        rc = ae_tokenize(m, prompts[i], strlen(prompts[i]), 0, NULL, 0, &n_ids);
        if (rc != AE_OK) ae_fail_prefix(rc, "prompt %lld (\"%.200s\"): ", (long long)i + 1, prompts[i]);
    }
    for (int64_t done = 0; rc == AE_OK && done < total; done += BANK_CHUNK) {
        int32_t k = (int32_t)(total - done < BANK_CHUNK ? total - done : BANK_CHUNK);
        rc = ae_encode_texts(s, (const char *const *)prompts + done, k, emb + done * dim);
        if (rc != AE_OK) ae_fail_prefix(rc, "prompts %lld to %lld: ", (long long)done + 1, (long long)(done + k));
        if (progress) progress(ctx, done + k, total);
    }
    int32_t rows = p->method == AE_METHOD_CONTEXT ? n : 1;
    if (rc == AE_OK) rc = bank_alloc_rows(b, rows, dim);
    if (rc == AE_OK) {
        if (p->method == AE_METHOD_ENSEMBLE) {
            /* centroid: plain mean (paper and article), or mean of unit vectors */
            double *acc = calloc((size_t)dim, sizeof *acc);
            if (!acc) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
            for (int side = 0; acc && side < 2; side++) {
                float *dst = side ? b->neg : b->pos;
                memset(acc, 0, sizeof *acc * (size_t)dim);
                for (int32_t i = 0; i < n; i++) {
                    const float *e = emb + ((size_t)side * n + i) * dim;
                    double scale = 1;
                    if (p->normalize_prompts) { /* [dim] row -> unit length */
                        double nn = 0;
                        for (int32_t j = 0; j < dim; j++) nn += (double)e[j] * e[j];
                        scale = nn > 0 ? 1 / sqrt(nn) : 0;
                    }
                    for (int32_t k = 0; k < dim; k++) acc[k] += e[k] * scale;
                }
                for (int32_t k = 0; k < dim; k++) dst[k] = (float)(acc[k] / n);
            }
            free(acc);
        } else {
            memcpy(b->pos, emb, sizeof(float) * (size_t)rows * dim);
            memcpy(b->neg, emb + (size_t)n * dim, sizeof(float) * (size_t)rows * dim);
        }
        if (rc == AE_OK) rc = bank_finish(b, "bank");
    }
    if (rc == AE_OK && with_classes) {
        b->classes = calloc((size_t)n, sizeof(char *));
        if (!b->classes) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; rc == AE_OK && i < n; i++) {
            if (!(b->classes[i] = bank_strdup(p->classes[i]))) rc = AE_ERR_NOMEM;
            b->n_classes = i + 1;
        }
    }
    if (rc == AE_OK) {
        ae_model_info info;
        ae_model_get_info(m, &info);
        b->method = p->method;
        b->n_prompts = (int32_t)total;
        b->normalize_prompts = p->method == AE_METHOD_ENSEMBLE && p->normalize_prompts;
        rc = set_str(&b->template_text, tmpl);
        if (rc == AE_OK) rc = set_str(&b->positive, pos);
        if (rc == AE_OK) rc = set_str(&b->negative, neg);
        if (rc == AE_OK) rc = set_str(&b->model_id, info.dir);
        if (rc == AE_OK) rc = set_str(&b->fingerprint, info.fingerprint);
        if (rc == AE_OK) rc = set_str(&b->precision, ae_precision_name(info.text_precision));
    }
    for (int64_t i = 0; prompts && i < total; i++) free(prompts[i]);
    free(prompts);
    free(emb);
    if (rc != AE_OK) {
        ae_bank_free(b);
        return rc;
    }
    *out = b;
    return AE_OK;
}

int ae_bank_from_centroids(const float *positive, const float *negative, int32_t dim,
                           const char *model_id, ae_bank **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_bank_from_centroids: invalid arguments");
    *out = NULL;
    if (!positive || !negative || dim <= 0) return ae_fail(AE_ERR_INVALID, "ae_bank_from_centroids: invalid arguments");
    if (dim > AE_MAX_BANK_DIM)
        return ae_fail(AE_ERR_INVALID, "centroids: %d dimensions, at most %d", dim, AE_MAX_BANK_DIM);
    ae_bank *b = bank_alloc();
    int rc = b ? bank_alloc_rows(b, 1, dim) : AE_ERR_NOMEM;
    if (rc == AE_OK) {
        memcpy(b->pos, positive, sizeof(float) * (size_t)dim);
        memcpy(b->neg, negative, sizeof(float) * (size_t)dim);
        b->method = AE_METHOD_ENSEMBLE;
        rc = bank_finish(b, "centroids");
    }
    if (rc == AE_OK) rc = set_str(&b->model_id, model_id ? model_id : "");
    if (rc != AE_OK) {
        ae_bank_free(b);
        return rc;
    }
    *out = b;
    return AE_OK;
}

/* ---- files ---- */

int ae_bank_save(const ae_bank *b, const char *path)
{
    if (!b || !path) return ae_fail(AE_ERR_INVALID, "ae_bank_save: invalid arguments");
    json_t *cls = json_array();
    for (int32_t i = 0; cls && i < b->n_classes; i++)
        if (json_array_append_new(cls, json_string(b->classes[i])) != 0) {
            json_decref(cls); /* json_string refuses invalid UTF-8 */
            return ae_fail(AE_ERR_INVALID, "%s: class name %d is not valid UTF-8", path, i + 1);
        }
    char *cls_json = cls ? json_dumps(cls, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(cls);
    if (!cls_json) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    char dim[16], norm[4], prompts[16];
    snprintf(dim, sizeof dim, "%d", b->dim);
    snprintf(norm, sizeof norm, "%d", b->normalize_prompts);
    snprintf(prompts, sizeof prompts, "%d", b->n_prompts);
    const char *keys[] = {"format", "method", "template", "positive", "negative", "classes", "model",
                          "fingerprint", "normalize_prompts", "laion_head", "dim", "prompts", "precision"};
    const char *vals[] = {BANK_FORMAT, ae_method_name(b->method), b->template_text, b->positive, b->negative,
                          cls_json, b->model_id, b->fingerprint, norm, b->laion_head, dim, prompts, b->precision};
    /* no precision key where no text tower encoded the bank */
    int32_t n_meta = (int32_t)(sizeof keys / sizeof keys[0]) - !b->precision[0];
    st_out_tensor t[2];
    memset(t, 0, sizeof t);
    if (b->method == AE_METHOD_LAION) {
        t[0] = (st_out_tensor){.name = "weight", .ndim = 1, .shape = {b->dim}, .data = b->weight};
        t[1] = (st_out_tensor){.name = "bias", .ndim = 1, .shape = {1}, .data = &b->bias};
    } else {
        t[0] = (st_out_tensor){.name = "positive", .ndim = 2, .shape = {b->rows, b->dim}, .data = b->pos};
        t[1] = (st_out_tensor){.name = "negative", .ndim = 2, .shape = {b->rows, b->dim}, .data = b->neg};
    }
    int rc = st_write(path, t, 2, keys, vals, n_meta);
    free(cls_json);
    return rc;
}

static const char *meta(const st_file *f, const char *key)
{
    const char *v = st_meta(f, key);
    return v ? v : "";
}

/* copies a 2-D/1-D F32/F16/BF16 tensor of the expected shape into a new float array */
static int load_tensor(const st_file *f, const char *name, int64_t rows, int64_t dim, float **dst)
{
    const st_tensor *t = st_get(f, name);
    if (!t) return ae_fail(AE_ERR_FORMAT, "%s: missing tensor %s", f->label, name);
    int ok = rows < 0 ? (t->ndim == 1 && t->shape[0] == dim)
                      : (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == dim);
    if (!ok) return ae_fail(AE_ERR_FORMAT, "%s: tensor %s has the wrong shape", f->label, name);
    *dst = malloc(sizeof(float) * (size_t)t->numel);
    if (!*dst) return ae_fail(AE_ERR_NOMEM, "out of memory");
    st_to_f32(t, *dst);
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite((*dst)[i])) return ae_fail(AE_ERR_FORMAT, "%s: tensor %s has non-finite values", f->label, name);
    return AE_OK;
}

int ae_bank_load(const char *path, ae_bank **out)
{
    *out = NULL;
    st_file f = {0};
    int rc = st_open(&f, path);
    if (rc != AE_OK) return rc;
    ae_bank *b = bank_alloc();
    if (!b) rc = AE_ERR_NOMEM;
    if (rc == AE_OK && strcmp(meta(&f, "format"), BANK_FORMAT))
        rc = ae_fail(AE_ERR_FORMAT, "%s: not an aesthete prompt bank (metadata format is \"%s\", expected \"%s\")",
                     path, meta(&f, "format"), BANK_FORMAT);
    int method = rc == AE_OK ? ae_method_parse(meta(&f, "method")) : -1;
    if (rc == AE_OK && method < 0) rc = ae_fail(AE_ERR_FORMAT, "%s: unknown method \"%s\"", path, meta(&f, "method"));
    char *end;
    long dim = rc == AE_OK ? strtol(meta(&f, "dim"), &end, 10) : 0;
    if (rc == AE_OK && (dim <= 0 || dim > AE_MAX_BANK_DIM || *end))
        rc = ae_fail(AE_ERR_FORMAT, "%s: bad dim \"%s\"", path, meta(&f, "dim"));
    if (rc == AE_OK) {
        b->method = (ae_method)method;
        b->dim = (int32_t)dim;
        b->normalize_prompts = !strcmp(meta(&f, "normalize_prompts"), "1");
        long np = strtol(meta(&f, "prompts"), &end, 10);
        b->n_prompts = np >= 0 && np <= INT32_MAX && !*end ? (int32_t)np : 0; /* informative only */
        const char *keys[] = {"template", "positive", "negative", "model", "fingerprint", "laion_head"};
        char **dst[] = {&b->template_text, &b->positive, &b->negative, &b->model_id, &b->fingerprint, &b->laion_head};
        for (int i = 0; rc == AE_OK && i < 6; i++) rc = set_str(dst[i], meta(&f, keys[i]));
        /* a bank built before the key existed was encoded at fp32, the only precision then */
        const char *prec = meta(&f, "precision");
        if (!*prec && b->fingerprint[0] && b->method != AE_METHOD_LAION) prec = "fp32";
        if (rc == AE_OK && *prec && ae_precision_parse(prec) < 0)
            rc = ae_fail(AE_ERR_FORMAT, "%s: unknown precision \"%.64s\" (fp32, int8 or bf16)", path, prec);
        if (rc == AE_OK) rc = set_str(&b->precision, prec);
    }
    if (rc == AE_OK && b->method == AE_METHOD_LAION) {
        float *bias = NULL;
        rc = load_tensor(&f, "weight", -1, dim, &b->weight);
        if (rc == AE_OK) rc = load_tensor(&f, "bias", -1, 1, &bias);
        if (rc == AE_OK) b->bias = bias[0];
        free(bias);
    } else if (rc == AE_OK) {
        const st_tensor *t = st_get(&f, "positive");
        int64_t rows = t && t->ndim == 2 ? t->shape[0] : 0;
        if (rows <= 0 || rows > 10000000 || (b->method != AE_METHOD_CONTEXT && rows != 1))
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensor \"positive\" missing or of the wrong shape for method %s",
                         path, ae_method_name(b->method));
        if (rc == AE_OK) {
            b->rows = (int32_t)rows;
            rc = load_tensor(&f, "positive", rows, dim, &b->pos);
        }
        if (rc == AE_OK) rc = load_tensor(&f, "negative", rows, dim, &b->neg);
        if (rc == AE_OK) {
            b->pos_unit = malloc(sizeof(float) * (size_t)rows * dim);
            b->neg_unit = malloc(sizeof(float) * (size_t)rows * dim);
            rc = b->pos_unit && b->neg_unit ? bank_finish(b, path) : ae_fail(AE_ERR_NOMEM, "out of memory");
        }
        /* class names */
        json_error_t je;
        const char *cj = meta(&f, "classes");
        json_t *cls = rc == AE_OK && *cj ? json_loads(cj, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (rc == AE_OK && *cj && !json_is_array(cls))
            rc = ae_fail(AE_ERR_FORMAT, "%s: metadata \"classes\" is not a JSON array of strings", path);
        size_t nc = json_array_size(cls);
        if (rc == AE_OK && b->method == AE_METHOD_CONTEXT && nc != (size_t)rows)
            rc = ae_fail(AE_ERR_FORMAT, "%s: %zu class names for %lld rows", path, nc, (long long)rows);
        if (rc == AE_OK && nc) {
            b->classes = calloc(nc, sizeof(char *));
            if (!b->classes) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
            for (size_t i = 0; rc == AE_OK && i < nc; i++) {
                const char *s = json_string_value(json_array_get(cls, i));
                if (!s) rc = ae_fail(AE_ERR_FORMAT, "%s: class name %zu is not a string", path, i + 1);
                else if (!(b->classes[i] = bank_strdup(s))) rc = AE_ERR_NOMEM;
                else b->n_classes = (int32_t)i + 1;
            }
        }
        json_decref(cls);
    }
    st_close(&f);
    if (rc != AE_OK) {
        ae_bank_free(b);
        return rc;
    }
    *out = b;
    return AE_OK;
}

void ae_bank_get_info(const ae_bank *b, ae_bank_info *i)
{
    i->method = b->method;
    i->dim = b->dim;
    i->n_classes = b->n_classes;
    i->n_prompts = b->n_prompts;
    i->normalize_prompts = b->normalize_prompts;
    i->template_text = b->template_text;
    i->positive = b->positive;
    i->negative = b->negative;
    i->model_id = b->model_id;
    i->fingerprint = b->fingerprint;
    i->laion_head = b->laion_head;
    i->precision = b->precision;
}

const char *ae_bank_class(const ae_bank *b, int32_t i)
{
    return b && i >= 0 && i < b->n_classes ? b->classes[i] : NULL;
}

int ae_bank_check_model(const ae_bank *b, const ae_model *m)
{
    ae_model_info info;
    ae_model_get_info(m, &info);
    if (b->dim != info.embed_dim)
        return ae_fail(AE_ERR_MODEL, "the bank has %d-dimensional embeddings but the model %s has %d",
                       b->dim, info.dir, info.embed_dim);
    if (b->fingerprint[0] && strcmp(b->fingerprint, info.fingerprint))
        return ae_fail(AE_ERR_MODEL,
                       "the bank was built with model %s (fingerprint %s), not with %s (fingerprint %s): "
                       "build it again with this model (aesthete bank build)",
                       b->model_id[0] ? b->model_id : "?", b->fingerprint, info.dir, info.fingerprint);
    return AE_OK;
}
