/*
 * head.c — heads, the one scoring object: their memory, linear and MLP heads made from
 * layers (a stack without activations collapsed into its affine map), files, and the check
 * that a head fits a model. Prompt banks are built in bank.c, scored with the rest in
 * score.c.
 *
 * Files are safetensors (float32), so NumPy and PyTorch users can open them too:
 *   prompt heads ("aesthete-bank/1", the format of aesthete's prompt banks, unchanged):
 *     "positive", "negative" [rows, dim]  prompt embeddings (context: one row per class;
 *                                         fixed: the two prompts; ensemble: the centroids)
 *     __metadata__: format, method, template, positive, negative, classes (JSON array),
 *                   model, fingerprint, normalize_prompts, laion_head, dim, prompts,
 *                   precision (of the text tower; absent in banks made before it existed,
 *                   which were fp32). Earlier versions also wrote LAION heads in this format
 *                   ("weight" [dim], "bias" [1], method laion): they still load.
 *   linear and MLP heads ("aesthete-head/1"):
 *     "weight" [dim], "bias" [1]                       linear
 *     "layers.<i>.weight" [out, in], "layers.<i>.bias" [out]   mlp, i = 0 .. n-1
 *     __metadata__: format, kind, method, name, model, fingerprint, dim, layers, relu (JSON
 *                   array of 0/1 per layer), normalize, logistic, cut, patch_size,
 *                   vision_width, laion_head, provenance, license.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "head.h"
#include "safetensors.h"

#define BANK_FORMAT "aesthete-bank/1"
#define HEAD_FORMAT "aesthete-head/1"

char *head_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) ae_fail(AE_ERR_NOMEM, "out of memory");
    return d;
}

int head_set_str(char **dst, const char *s)
{
    char *d = head_strdup(s);
    if (!d) return AE_ERR_NOMEM;
    free(*dst);
    *dst = d;
    return AE_OK;
}

ae_head *head_alloc(void)
{
    ae_head *h = calloc(1, sizeof *h);
    if (!h) {
        ae_fail(AE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char **s[] = {&h->template_text, &h->positive, &h->negative, &h->precision, &h->name,
                  &h->model_id,      &h->fingerprint, &h->laion_head, &h->provenance, &h->license};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!(*s[i] = head_strdup(""))) {
            ae_head_free(h);
            return NULL;
        }
    h->normalize = 1;
    return h;
}

int head_alloc_rows(ae_head *h, int32_t rows, int32_t dim)
{
    size_t n = (size_t)rows * (size_t)dim;
    h->kind = AE_HEAD_PROMPTS;
    h->rows = rows;
    h->dim = dim;
    h->pos = malloc(sizeof(float) * n);
    h->neg = malloc(sizeof(float) * n);
    h->pos_unit = malloc(sizeof(float) * n);
    h->neg_unit = malloc(sizeof(float) * n);
    if (!h->pos || !h->neg || !h->pos_unit || !h->neg_unit) return ae_fail(AE_ERR_NOMEM, "out of memory");
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

int head_finish(ae_head *h, const char *label)
{
    int rc = unit_rows(h->pos, h->pos_unit, h->rows, h->dim, label, "positive");
    if (rc == AE_OK) rc = unit_rows(h->neg, h->neg_unit, h->rows, h->dim, label, "negative");
    return rc;
}

static void free_layers(ae_head *h)
{
    for (int32_t i = 0; h->layers && i < h->n_layers; i++) free(h->layers[i].w), free(h->layers[i].b);
    free(h->layers);
    h->layers = NULL;
    h->n_layers = 0;
}

void ae_head_free(ae_head *h)
{
    if (!h) return;
    free(h->pos), free(h->neg), free(h->pos_unit), free(h->neg_unit), free(h->weight);
    free_layers(h);
    for (int32_t i = 0; i < h->n_classes; i++) free(h->classes[i]);
    free(h->classes);
    free(h->template_text), free(h->positive), free(h->negative), free(h->precision);
    free(h->name), free(h->model_id), free(h->fingerprint), free(h->laion_head);
    free(h->provenance), free(h->license);
    free(h);
}

/* ---- linear and MLP heads from layers ---- */

ae_head_params ae_head_default_params(void)
{
    ae_head_params p = {0};
    p.method = AE_METHOD_HEAD;
    p.normalize = 1;
    p.cut = 5.0f;
    p.relu = -1;
    return p;
}

/* the metadata of hp into h */
static int set_params(ae_head *h, const ae_head_params *hp)
{
    if (hp->method != AE_METHOD_LAION && hp->method != AE_METHOD_LAION_V2 && hp->method != AE_METHOD_HEAD)
        return ae_fail(AE_ERR_INVALID, "a linear or MLP head's method is laion, laion-v2 or head, not %s",
                       ae_method_name(hp->method));
    if (!isfinite(hp->cut)) return ae_fail(AE_ERR_INVALID, "the head's cut point is not finite");
    h->method = hp->method;
    h->normalize = hp->normalize != 0;
    h->logistic = hp->logistic != 0;
    h->cut = hp->cut;
    h->patch_size = hp->patch_size > 0 ? hp->patch_size : 0;
    h->vision_width = hp->vision_width > 0 ? hp->vision_width : 0;
    const char *name = hp->name && *hp->name ? hp->name : ae_method_name(hp->method);
    int rc = head_set_str(&h->name, name);
    if (rc == AE_OK) rc = head_set_str(&h->model_id, hp->model_id);
    if (rc == AE_OK) rc = head_set_str(&h->fingerprint, hp->fingerprint);
    if (rc == AE_OK) rc = head_set_str(&h->provenance, hp->provenance);
    if (rc == AE_OK) rc = head_set_str(&h->license, hp->license);
    return rc;
}

static int finite_all(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Checks the shapes of a stack: layers[0].in = dim, each in = the previous out, last out 1. */
static int check_layers(const ae_head_layer *l, int32_t n)
{
    if (n < 1 || n > AE_MAX_HEAD_LAYERS)
        return ae_fail(AE_ERR_FORMAT, "a head has 1 to %d layers, not %d", AE_MAX_HEAD_LAYERS, n);
    for (int32_t i = 0; i < n; i++) {
        if (l[i].in < 1 || l[i].in > AE_MAX_HEAD_WIDTH || l[i].out < 1 || l[i].out > AE_MAX_HEAD_WIDTH ||
            !l[i].weight)
            return ae_fail(AE_ERR_FORMAT, "head layer %d: shape [%d, %d] (1 to %d wide, with weights)", i,
                           l[i].out, l[i].in, AE_MAX_HEAD_WIDTH);
        if (i > 0 && l[i].in != l[i - 1].out)
            return ae_fail(AE_ERR_FORMAT, "head layer %d takes %d inputs but layer %d gives %d", i, l[i].in,
                           i - 1, l[i - 1].out);
        if (!finite_all(l[i].weight, (size_t)l[i].in * l[i].out) ||
            (l[i].bias && !finite_all(l[i].bias, (size_t)l[i].out)))
            return ae_fail(AE_ERR_FORMAT, "head layer %d has non-finite weights", i);
    }
    if (l[n - 1].out != 1)
        return ae_fail(AE_ERR_FORMAT, "the last head layer gives %d outputs; a score is one", l[n - 1].out);
    return AE_OK;
}

/* Collapses a stack without activations into w [dim], b: the product of the layers from the
 * last back (a row vector times each weight), in double. */
static int collapse(const ae_head_layer *l, int32_t n, float *w, float *b)
{
    int32_t width = 1;
    for (int32_t i = 0; i < n; i++) width = l[i].in > width ? l[i].in : width;
    double *v = calloc((size_t)width, sizeof *v), *u = calloc((size_t)width, sizeof *u);
    if (!v || !u) {
        free(v), free(u);
        return ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    /* v = d score / d (output of layer i); start at the last layer's single output */
    v[0] = 1;
    double bias = 0;
    for (int32_t i = n - 1; i >= 0; i--) {
        const ae_head_layer *L = &l[i];
        for (int32_t o = 0; o < L->out; o++) bias += v[o] * (L->bias ? L->bias[o] : 0);
        for (int32_t k = 0; k < L->in; k++) u[k] = 0;
        for (int32_t o = 0; o < L->out; o++) {
            const float *row = L->weight + (size_t)o * L->in;
            for (int32_t k = 0; k < L->in; k++) u[k] += v[o] * row[k];
        }
        double *t = v;
        v = u, u = t;
    }
    for (int32_t k = 0; k < l[0].in; k++) w[k] = (float)v[k];
    *b = (float)bias;
    free(v), free(u);
    return finite_all(w, (size_t)l[0].in) && isfinite(*b) ? AE_OK
                                                          : ae_fail(AE_ERR_FORMAT, "the collapsed head is not finite");
}

int ae_head_from_layers(const ae_head_layer *layers, int32_t n, const ae_head_params *params, ae_head **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_head_from_layers: invalid arguments");
    *out = NULL;
    if (!layers) return ae_fail(AE_ERR_INVALID, "ae_head_from_layers: invalid arguments");
    ae_head_params hp = params ? *params : ae_head_default_params();
    int rc = check_layers(layers, n);
    if (rc != AE_OK) return rc;
    int any_relu = 0;
    for (int32_t i = 0; i + 1 < n; i++) any_relu |= layers[i].relu != 0;
    ae_head *h = head_alloc();
    if (!h) return AE_ERR_NOMEM;
    h->dim = layers[0].in;
    if ((rc = set_params(h, &hp)) != AE_OK) goto fail;
    if (!any_relu) {
        h->kind = AE_HEAD_LINEAR;
        if (!(h->weight = malloc(sizeof(float) * (size_t)h->dim))) {
            rc = ae_fail(AE_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if ((rc = collapse(layers, n, h->weight, &h->bias)) != AE_OK) goto fail;
    } else {
        h->kind = AE_HEAD_MLP;
        if (!(h->layers = calloc((size_t)n, sizeof *h->layers))) {
            rc = ae_fail(AE_ERR_NOMEM, "out of memory");
            goto fail;
        }
        h->n_layers = n;
        for (int32_t i = 0; i < n; i++) {
            head_layer *L = &h->layers[i];
            L->in = layers[i].in, L->out = layers[i].out, L->relu = i + 1 < n && layers[i].relu;
            L->w = malloc(sizeof(float) * (size_t)L->in * L->out);
            L->b = calloc((size_t)L->out, sizeof(float));
            if (!L->w || !L->b) {
                rc = ae_fail(AE_ERR_NOMEM, "out of memory");
                goto fail;
            }
            memcpy(L->w, layers[i].weight, sizeof(float) * (size_t)L->in * L->out);
            if (layers[i].bias) memcpy(L->b, layers[i].bias, sizeof(float) * (size_t)L->out);
        }
    }
    *out = h;
    return AE_OK;
fail:
    ae_head_free(h);
    return rc;
}

/* ---- files ---- */

static int save_prompts(const ae_head *h, const char *path)
{
    json_t *cls = json_array();
    for (int32_t i = 0; cls && i < h->n_classes; i++)
        if (json_array_append_new(cls, json_string(h->classes[i])) != 0) {
            json_decref(cls); /* json_string refuses invalid UTF-8 */
            return ae_fail(AE_ERR_INVALID, "%s: class name %d is not valid UTF-8", path, i + 1);
        }
    char *cls_json = cls ? json_dumps(cls, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(cls);
    if (!cls_json) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    char dim[16], norm[4], prompts[16];
    snprintf(dim, sizeof dim, "%d", h->dim);
    snprintf(norm, sizeof norm, "%d", h->normalize_prompts);
    snprintf(prompts, sizeof prompts, "%d", h->n_prompts);
    const char *keys[] = {"format", "method", "template", "positive", "negative", "classes", "model",
                          "fingerprint", "normalize_prompts", "laion_head", "dim", "prompts", "precision"};
    const char *vals[] = {BANK_FORMAT, ae_method_name(h->method), h->template_text, h->positive, h->negative,
                          cls_json, h->model_id, h->fingerprint, norm, h->laion_head, dim, prompts, h->precision};
    /* no precision key where no text tower encoded the bank */
    int32_t n_meta = (int32_t)(sizeof keys / sizeof keys[0]) - !h->precision[0];
    st_out_tensor t[2] = {
        {.name = "positive", .ndim = 2, .shape = {h->rows, h->dim}, .data = h->pos},
        {.name = "negative", .ndim = 2, .shape = {h->rows, h->dim}, .data = h->neg},
    };
    int rc = st_write(path, t, 2, keys, vals, n_meta);
    free(cls_json);
    return rc;
}

static int save_layers(const ae_head *h, const char *path)
{
    int32_t nl = h->kind == AE_HEAD_MLP ? h->n_layers : 1;
    st_out_tensor *t = calloc((size_t)nl * 2, sizeof *t);
    char (*names)[32] = calloc((size_t)nl * 2, sizeof *names);
    char relu[4 * AE_MAX_HEAD_LAYERS + 4] = "[", dim[16], layers[16], cut[32], patch[16], width[16];
    if (!t || !names) {
        free(t), free(names);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    if (h->kind == AE_HEAD_LINEAR) {
        t[0] = (st_out_tensor){.name = "weight", .ndim = 1, .shape = {h->dim}, .data = h->weight};
        t[1] = (st_out_tensor){.name = "bias", .ndim = 1, .shape = {1}, .data = &h->bias};
        strcat(relu, "0");
    } else {
        for (int32_t i = 0; i < nl; i++) {
            const head_layer *L = &h->layers[i];
            snprintf(names[2 * i], sizeof names[0], "layers.%d.weight", i);
            snprintf(names[2 * i + 1], sizeof names[0], "layers.%d.bias", i);
            t[2 * i] = (st_out_tensor){.name = names[2 * i], .ndim = 2, .shape = {L->out, L->in}, .data = L->w};
            t[2 * i + 1] = (st_out_tensor){.name = names[2 * i + 1], .ndim = 1, .shape = {L->out}, .data = L->b};
            strcat(relu, i ? (L->relu ? ",1" : ",0") : (L->relu ? "1" : "0"));
        }
    }
    strcat(relu, "]");
    snprintf(dim, sizeof dim, "%d", h->dim);
    snprintf(layers, sizeof layers, "%d", nl);
    snprintf(cut, sizeof cut, "%.9g", (double)h->cut);
    snprintf(patch, sizeof patch, "%d", h->patch_size);
    snprintf(width, sizeof width, "%d", h->vision_width);
    const char *keys[] = {"format", "kind", "method", "name", "model", "fingerprint", "dim", "layers", "relu",
                          "normalize", "logistic", "cut", "patch_size", "vision_width", "laion_head",
                          "provenance", "license"};
    const char *vals[] = {HEAD_FORMAT, ae_head_kind_name(h->kind), ae_method_name(h->method), h->name,
                          h->model_id, h->fingerprint, dim, layers, relu, h->normalize ? "1" : "0",
                          h->logistic ? "1" : "0", cut, patch, width, h->laion_head, h->provenance, h->license};
    int rc = st_write(path, t, 2 * nl, keys, vals, (int32_t)(sizeof keys / sizeof keys[0]));
    free(t), free(names);
    return rc;
}

int ae_head_save(const ae_head *h, const char *path)
{
    if (!h || !path) return ae_fail(AE_ERR_INVALID, "ae_head_save: invalid arguments");
    return h->kind == AE_HEAD_PROMPTS ? save_prompts(h, path) : save_layers(h, path);
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
    if (!finite_all(*dst, (size_t)t->numel))
        return ae_fail(AE_ERR_FORMAT, "%s: tensor %s has non-finite values", f->label, name);
    return AE_OK;
}

/* a metadata integer in [lo, hi]; "" gives def */
static int meta_int(const st_file *f, const char *key, long lo, long hi, long def, long *v)
{
    const char *s = meta(f, key);
    char *end;
    if (!*s) {
        *v = def;
        return AE_OK;
    }
    long x = strtol(s, &end, 10);
    if (*end || x < lo || x > hi)
        return ae_fail(AE_ERR_FORMAT, "%s: metadata %s \"%.32s\" is not an integer in %ld..%ld", f->label, key, s,
                       lo, hi);
    *v = x;
    return AE_OK;
}

/* the prompt tensors and class names of an aesthete-bank/1 file */
static int load_prompts(const st_file *f, ae_head *b, long dim)
{
    const char *path = f->label;
    int rc = AE_OK;
    const st_tensor *t = st_get(f, "positive");
    int64_t rows = t && t->ndim == 2 ? t->shape[0] : 0;
    if (rows <= 0 || rows > 10000000 || (b->method != AE_METHOD_CONTEXT && rows != 1))
        return ae_fail(AE_ERR_FORMAT, "%s: tensor \"positive\" missing or of the wrong shape for method %s", path,
                       ae_method_name(b->method));
    b->rows = (int32_t)rows;
    rc = load_tensor(f, "positive", rows, dim, &b->pos);
    if (rc == AE_OK) rc = load_tensor(f, "negative", rows, dim, &b->neg);
    if (rc == AE_OK) {
        b->pos_unit = malloc(sizeof(float) * (size_t)rows * dim);
        b->neg_unit = malloc(sizeof(float) * (size_t)rows * dim);
        rc = b->pos_unit && b->neg_unit ? head_finish(b, path) : ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    json_error_t je;
    const char *cj = meta(f, "classes");
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
            else if (!(b->classes[i] = head_strdup(s))) rc = AE_ERR_NOMEM;
            else b->n_classes = (int32_t)i + 1;
        }
    }
    json_decref(cls);
    return rc;
}

/* "weight" [dim] and "bias" [1] */
static int load_linear(const st_file *f, ae_head *h, long dim)
{
    float *bias = NULL;
    h->kind = AE_HEAD_LINEAR;
    int rc = load_tensor(f, "weight", -1, dim, &h->weight);
    if (rc == AE_OK) rc = load_tensor(f, "bias", -1, 1, &bias);
    if (rc == AE_OK) h->bias = bias[0];
    free(bias);
    return rc;
}

/* "layers.<i>.weight" / "layers.<i>.bias" with the relu flags of the metadata */
static int load_mlp(const st_file *f, ae_head *h, long dim)
{
    long nl;
    int rc = meta_int(f, "layers", 1, AE_MAX_HEAD_LAYERS, 0, &nl);
    if (rc != AE_OK) return rc;
    if (nl < 1) return ae_fail(AE_ERR_FORMAT, "%s: an mlp head without metadata \"layers\"", f->label);
    json_error_t je;
    json_t *relu = json_loads(meta(f, "relu"), 0, &je);
    if (!json_is_array(relu) || json_array_size(relu) != (size_t)nl) {
        json_decref(relu);
        return ae_fail(AE_ERR_FORMAT, "%s: metadata \"relu\" is not an array of %ld flags", f->label, nl);
    }
    h->kind = AE_HEAD_MLP;
    h->layers = calloc((size_t)nl, sizeof *h->layers);
    if (!h->layers) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    else h->n_layers = (int32_t)nl;
    int64_t in = dim;
    for (long i = 0; rc == AE_OK && i < nl; i++) {
        char wn[48], bn[48];
        snprintf(wn, sizeof wn, "layers.%ld.weight", i);
        snprintf(bn, sizeof bn, "layers.%ld.bias", i);
        const st_tensor *t = st_get(f, wn);
        int64_t out = t && t->ndim == 2 ? t->shape[0] : 0;
        head_layer *L = &h->layers[i];
        if (out < 1 || out > AE_MAX_HEAD_WIDTH || (i == nl - 1 && out != 1)) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensor %s missing or of the wrong shape", f->label, wn);
            break;
        }
        L->in = (int32_t)in, L->out = (int32_t)out;
        rc = load_tensor(f, wn, out, in, &L->w);
        if (rc == AE_OK) rc = load_tensor(f, bn, -1, out, &L->b);
        json_t *r = json_array_get(relu, (size_t)i);
        if (rc == AE_OK && !json_is_integer(r))
            rc = ae_fail(AE_ERR_FORMAT, "%s: metadata \"relu\" flag %ld is not 0 or 1", f->label, i);
        L->relu = rc == AE_OK && i + 1 < nl && json_integer_value(r) != 0;
        in = out;
    }
    json_decref(relu);
    return rc;
}

int ae_head_load(const char *path, ae_head **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_head_load: invalid arguments");
    *out = NULL;
    if (!path) return ae_fail(AE_ERR_INVALID, "ae_head_load: invalid arguments");
    st_file f = {0};
    int rc = st_open(&f, path);
    if (rc == AE_ERR_FORMAT) { /* say first what the file is not (a photo given as a bank) */
        char detail[512];
        const char *e = ae_last_error(), *cause = strncmp(e, path, strlen(path)) ? e : e + strlen(path);
        snprintf(detail, sizeof detail, "%s", cause[0] == ':' ? cause + 2 : cause);
        return ae_fail(AE_ERR_FORMAT, "%s: not an aesthete head or prompt bank (%s)", path, detail);
    }
    if (rc != AE_OK) return rc;
    ae_head *h = head_alloc();
    if (!h) rc = AE_ERR_NOMEM;
    const char *format = meta(&f, "format");
    int bank = !strcmp(format, BANK_FORMAT), headf = !strcmp(format, HEAD_FORMAT);
    if (rc == AE_OK && !bank && !headf)
        rc = ae_fail(AE_ERR_FORMAT,
                     "%s: not an aesthete head or prompt bank (metadata format is \"%.64s\", expected \"%s\" or \"%s\")",
                     path, format, HEAD_FORMAT, BANK_FORMAT);
    int method = rc == AE_OK ? ae_method_parse(meta(&f, "method")) : -1;
    if (rc == AE_OK && method < 0) rc = ae_fail(AE_ERR_FORMAT, "%s: unknown method \"%.64s\"", path, meta(&f, "method"));
    long dim = 0;
    if (rc == AE_OK) rc = meta_int(&f, "dim", 1, AE_MAX_BANK_DIM, 0, &dim);
    if (rc == AE_OK && dim < 1) rc = ae_fail(AE_ERR_FORMAT, "%s: bad dim \"%.32s\"", path, meta(&f, "dim"));
    if (rc == AE_OK) {
        h->method = (ae_method)method;
        h->dim = (int32_t)dim;
        const char *keys[] = {"model", "fingerprint", "laion_head", "name", "provenance", "license"};
        char **dst[] = {&h->model_id, &h->fingerprint, &h->laion_head, &h->name, &h->provenance, &h->license};
        for (int i = 0; rc == AE_OK && i < 6; i++) rc = head_set_str(dst[i], meta(&f, keys[i]));
        if (rc == AE_OK && !h->name[0]) rc = head_set_str(&h->name, ae_method_name(h->method));
    }
    int prompts = method == AE_METHOD_FIXED || method == AE_METHOD_CONTEXT || method == AE_METHOD_ENSEMBLE;
    if (rc == AE_OK && bank && !prompts && method != AE_METHOD_LAION)
        rc = ae_fail(AE_ERR_FORMAT, "%s: a prompt bank of method %s", path, ae_method_name(h->method));
    if (rc == AE_OK && headf && prompts)
        rc = ae_fail(AE_ERR_FORMAT, "%s: a linear or MLP head of prompt method %s", path, ae_method_name(h->method));
    if (rc == AE_OK && bank) {
        h->normalize_prompts = !strcmp(meta(&f, "normalize_prompts"), "1");
        long np;
        if (meta_int(&f, "prompts", 0, INT32_MAX, 0, &np) != AE_OK) np = 0; /* informative only */
        h->n_prompts = (int32_t)np;
        const char *keys[] = {"template", "positive", "negative"};
        char **dst[] = {&h->template_text, &h->positive, &h->negative};
        for (int i = 0; rc == AE_OK && i < 3; i++) rc = head_set_str(dst[i], meta(&f, keys[i]));
        /* a bank built before the key existed was encoded at fp32, the only precision then */
        const char *prec = meta(&f, "precision");
        if (!*prec && h->fingerprint[0] && prompts) prec = "fp32";
        if (rc == AE_OK && *prec && ae_precision_parse(prec) < 0)
            rc = ae_fail(AE_ERR_FORMAT, "%s: unknown precision \"%.64s\" (fp32, int8 or bf16)", path, prec);
        if (rc == AE_OK) rc = head_set_str(&h->precision, prec);
        if (rc == AE_OK) rc = prompts ? load_prompts(&f, h, dim) : load_linear(&f, h, dim);
        /* LAION banks of earlier versions: V1's cut point, the middle of its 1..10 scale */
        h->cut = 5.0f;
    } else if (rc == AE_OK) {
        const char *kind = meta(&f, "kind");
        long patch = 0, width = 0;
        h->normalize = strcmp(meta(&f, "normalize"), "0") != 0;
        h->logistic = !strcmp(meta(&f, "logistic"), "1");
        char *end;
        const char *cs = meta(&f, "cut");
        double cut = strtod(cs, &end);
        if (!*cs || *end || !isfinite(cut))
            rc = ae_fail(AE_ERR_FORMAT, "%s: metadata cut \"%.32s\" is not a number", path, cs);
        h->cut = (float)cut;
        if (rc == AE_OK) rc = meta_int(&f, "patch_size", 0, 1 << 20, 0, &patch);
        if (rc == AE_OK) rc = meta_int(&f, "vision_width", 0, 1 << 20, 0, &width);
        h->patch_size = (int32_t)patch, h->vision_width = (int32_t)width;
        if (rc == AE_OK) {
            if (!strcmp(kind, "linear")) rc = load_linear(&f, h, dim);
            else if (!strcmp(kind, "mlp")) rc = load_mlp(&f, h, dim);
            else rc = ae_fail(AE_ERR_FORMAT, "%s: unknown head kind \"%.32s\" (linear or mlp)", path, kind);
        }
    }
    st_close(&f);
    if (rc != AE_OK) {
        ae_head_free(h);
        return rc;
    }
    *out = h;
    return AE_OK;
}

/* ---- queries ---- */

void ae_head_get_info(const ae_head *h, ae_head_info *i)
{
    memset(i, 0, sizeof *i);
    i->kind = h->kind;
    i->method = h->method;
    i->name = h->name;
    i->dim = h->dim;
    i->n_classes = h->n_classes;
    i->n_prompts = h->n_prompts;
    i->normalize_prompts = h->normalize_prompts;
    i->template_text = h->template_text;
    i->positive = h->positive;
    i->negative = h->negative;
    i->model_id = h->model_id;
    i->fingerprint = h->fingerprint;
    i->laion_head = h->laion_head;
    i->precision = h->precision;
    i->n_layers = h->kind == AE_HEAD_MLP ? h->n_layers : h->kind == AE_HEAD_LINEAR;
    i->normalize = h->kind != AE_HEAD_PROMPTS && h->normalize;
    i->logistic = h->kind != AE_HEAD_PROMPTS && h->logistic;
    i->cut = h->kind != AE_HEAD_PROMPTS ? h->cut : NAN;
    i->provenance = h->provenance;
    i->license = h->license;
}

const char *ae_head_class(const ae_head *h, int32_t i)
{
    return h && i >= 0 && i < h->n_classes ? h->classes[i] : NULL;
}

int ae_head_check_model(const ae_head *h, const ae_model *m)
{
    if (!h || !m) return ae_fail(AE_ERR_INVALID, "ae_head_check_model: invalid arguments");
    ae_model_info info;
    ae_model_get_info(m, &info);
    const char *made_for = h->model_id[0] ? h->model_id : "another model";
    if (h->dim != info.embed_dim)
        return ae_fail(AE_ERR_MODEL, "the head %s was made for %s (%d-dimensional embeddings) but the model %s has %d",
                       h->name, made_for, h->dim, info.id, info.embed_dim);
    if ((h->patch_size && h->patch_size != info.patch_size) ||
        (h->vision_width && h->vision_width != info.vision.hidden_size))
        return ae_fail(AE_ERR_MODEL,
                       "the head %s was made for %s (patch %d, vision width %d), not for %s (patch %d, vision width %d)",
                       h->name, made_for, h->patch_size, h->vision_width, info.id, info.patch_size,
                       info.vision.hidden_size);
    if (h->fingerprint[0] && strcmp(h->fingerprint, info.fingerprint))
        return ae_fail(AE_ERR_MODEL,
                       "the head %s was made with model %s (fingerprint %s), not with %s (fingerprint %s): "
                       "%s it again with this model",
                       h->name, h->model_id[0] ? h->model_id : "?", h->fingerprint, info.id, info.fingerprint,
                       h->kind == AE_HEAD_PROMPTS ? "build" : "train");
    return AE_OK;
}
