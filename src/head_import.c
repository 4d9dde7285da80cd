/*
 * head_import.c — heads as they are published: the state dict of a stack of nn.Linear layers
 * (the LAION V1 heads, the improved aesthetic predictor's MLP, a probe trained in PyTorch),
 * in a PyTorch checkpoint (.pth / .pt / .bin: torch.save's zip, read by the restricted
 * unpickler of pickle.c) or a .safetensors file.
 *
 * The layers are the tensors "<prefix><i>.weight" [out, in] with "<prefix><i>.bias" [out]
 * (or one "weight" / "bias" pair), taken in the order of i; any other tensor is refused,
 * since a head that also needs it (a normalisation layer, an embedding) would be scored
 * wrong. Whether a ReLU sits between the layers is not in a state dict: the caller says so,
 * or (relu -1) the key names must be one of the two published layouts of the improved
 * aesthetic predictor, whose nn.Sequential indices give it away:
 *   linearMSE  Linear, Dropout, Linear, Dropout, Linear, Dropout, Linear, Linear  (0 2 4 6 7)
 *   reluMSE    Linear, ReLU, Dropout, ... , Linear, ReLU, Linear            (0 3 6 9 11)
 * and a single layer has none.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "head.h"
#include "pickle.h"
#include "safetensors.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* the tensors of a .safetensors file as float32, and its metadata "source" and "license"
 * (as written by converters such as the one of ../shared/fixtures/real/laion-v2) */
static int read_safetensors(const char *path, pk_tensors *out, char *source, char *license, size_t cap)
{
    st_file f = {0};
    int rc = st_open(&f, path);
    if (rc != AE_OK) return rc;
    const char *src = st_meta(&f, "source"), *lic = st_meta(&f, "license");
    snprintf(source, cap, "%s", src ? src : "");
    snprintf(license, cap, "%s", lic ? lic : "");
    out->t = calloc((size_t)(f.n_tensors ? f.n_tensors : 1), sizeof *out->t);
    if (!out->t) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; rc == AE_OK && i < f.n_tensors; i++) {
        const st_tensor *s = &f.tensors[i];
        pk_tensor *t = &out->t[out->n];
        if (s->ndim > 8) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensor %s has %d dimensions", path, s->name, s->ndim);
            break;
        }
        if (!(t->name = strdup(s->name)) || !(t->data = malloc(sizeof(float) * (size_t)(s->numel ? s->numel : 1)))) {
            free(t->name);
            rc = ae_fail(AE_ERR_NOMEM, "out of memory");
            break;
        }
        t->ndim = s->ndim;
        for (int32_t d = 0; d < s->ndim; d++) t->shape[d] = s->shape[d];
        t->numel = s->numel;
        st_to_f32(s, t->data);
        out->n++;
    }
    st_close(&f);
    return rc;
}

/* the index i of "<prefix><i>.weight", with the prefix's length; -1 if the name has no i */
static long layer_index(const char *name, size_t *prefix_len)
{
    size_t n = strlen(name) - 7; /* without ".weight" */
    size_t d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9') d--;
    if (d == n || n - d > 6) return -1;
    *prefix_len = d;
    return strtol(name + d, NULL, 10);
}

typedef struct found_layer {
    long index;
    const pk_tensor *w, *b;
} found_layer;

static int cmp_layer(const void *a, const void *b)
{
    long x = ((const found_layer *)a)->index, y = ((const found_layer *)b)->index;
    return (x > y) - (x < y);
}

static const pk_tensor *find(const pk_tensors *ts, const char *name)
{
    for (int32_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].name, name)) return &ts->t[i];
    return NULL;
}

/* relu from the key indices: 0 none, 1 relu, -1 cannot tell */
static int relu_from_indices(const found_layer *l, int32_t n)
{
    static const long linear_mse[] = {0, 2, 4, 6, 7}, relu_mse[] = {0, 3, 6, 9, 11};
    if (n == 1) return 0;
    int lin = n == 5, relu = n == 5;
    for (int32_t i = 0; i < n && (lin || relu); i++) {
        lin &= l[i].index == linear_mse[i];
        relu &= l[i].index == relu_mse[i];
    }
    return lin ? 0 : relu ? 1 : -1;
}

static int layers_of(const char *path, const pk_tensors *ts, const ae_head_params *hp, ae_head **out)
{
    found_layer *l = calloc((size_t)(ts->n ? ts->n : 1), sizeof *l);
    ae_head_layer *hl = calloc((size_t)(ts->n ? ts->n : 1), sizeof *hl);
    int32_t n = 0, used = 0;
    size_t prefix_len = 0;
    const char *prefix = NULL;
    int rc = l && hl ? AE_OK : ae_fail(AE_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; rc == AE_OK && i < ts->n; i++) {
        const pk_tensor *w = &ts->t[i];
        if (!ends_with(w->name, ".weight") && strcmp(w->name, "weight")) continue;
        size_t pl = 0;
        long idx = strcmp(w->name, "weight") ? layer_index(w->name, &pl) : 0;
        if (idx < 0 || (prefix && (pl != prefix_len || strncmp(w->name, prefix, pl))))
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensor %s is not a layer of one stack \"<prefix><i>.weight\"%s%.*s", path,
                         w->name, prefix ? " like " : "", prefix ? (int)prefix_len : 0, prefix ? prefix : "");
        else if (w->ndim != 2)
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensor %s has %d dimensions; a linear layer's weight has 2", path,
                         w->name, w->ndim);
        if (rc != AE_OK) break;
        prefix = w->name, prefix_len = pl;
        char bias[512];
        snprintf(bias, sizeof bias, "%.*s%s", (int)(strlen(w->name) - 6), w->name, "bias");
        l[n] = (found_layer){idx, w, find(ts, bias)};
        if (l[n].b && (l[n].b->ndim != 1 || l[n].b->shape[0] != w->shape[0]))
            rc = ae_fail(AE_ERR_FORMAT, "%s: tensor %s has the wrong shape for %s", path, l[n].b->name, w->name);
        used += 1 + (l[n].b != NULL);
        n++;
    }
    if (rc == AE_OK && n == 0) rc = ae_fail(AE_ERR_FORMAT, "%s: no linear layer (\"weight\" tensors) in it", path);
    if (rc == AE_OK && used != ts->n)
        for (int32_t i = 0; i < ts->n; i++) { /* name the first tensor that is in no layer */
            int in = 0;
            for (int32_t j = 0; j < n && !in; j++) in = l[j].w == &ts->t[i] || l[j].b == &ts->t[i];
            if (!in) {
                rc = ae_fail(AE_ERR_UNSUPPORTED, "%s: tensor %s is not part of a stack of linear layers", path,
                             ts->t[i].name);
                break;
            }
        }
    if (rc == AE_OK) {
        qsort(l, (size_t)n, sizeof *l, cmp_layer);
        for (int32_t i = 1; rc == AE_OK && i < n; i++)
            if (l[i].index == l[i - 1].index) rc = ae_fail(AE_ERR_FORMAT, "%s: layer %ld twice", path, l[i].index);
    }
    int relu = hp->relu;
    if (rc == AE_OK && relu < 0 && (relu = relu_from_indices(l, n)) < 0) {
        char idx[128] = "";
        for (int32_t i = 0; i < n && strlen(idx) < sizeof idx - 16; i++)
            snprintf(idx + strlen(idx), sizeof idx - strlen(idx), "%s%ld", i ? " " : "", l[i].index);
        rc = ae_fail(AE_ERR_UNSUPPORTED,
                     "%s: %d layers (indices %s): whether a ReLU sits between them is not in the file; say so "
                     "(relu 0 or 1, aesthete head import --relu no|yes)",
                     path, n, idx);
    }
    for (int32_t i = 0; rc == AE_OK && i < n; i++) {
        const pk_tensor *w = l[i].w;
        if (w->shape[0] > INT32_MAX || w->shape[1] > INT32_MAX) rc = ae_fail(AE_ERR_FORMAT, "%s: layer too large", path);
        hl[i] = (ae_head_layer){(int32_t)w->shape[1], (int32_t)w->shape[0], w->data, l[i].b ? l[i].b->data : NULL,
                                relu && i + 1 < n};
    }
    if (rc == AE_OK) {
        rc = ae_head_from_layers(hl, n, hp, out);
        if (rc != AE_OK) ae_fail_prefix(rc, "%s: ", path);
    }
    free(l), free(hl);
    return rc;
}

int ae_head_import(const char *path, const ae_head_params *params, ae_head **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_head_import: invalid arguments");
    *out = NULL;
    if (!path) return ae_fail(AE_ERR_INVALID, "ae_head_import: invalid arguments");
    ae_head_params hp = params ? *params : ae_head_default_params();
    pk_tensors ts = {0};
    int st = ends_with(path, ".safetensors");
    char source[512] = "", license[512] = "";
    int rc = st ? read_safetensors(path, &ts, source, license, sizeof source) : pk_torch_load(path, &ts);
    /* the name by default: the file's, without folder and extension */
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
    if (!hp.name || !*hp.name) hp.name = name;
    if (!hp.provenance || !*hp.provenance) hp.provenance = *source ? source : base;
    if (!hp.license || !*hp.license) hp.license = license;
    if (rc == AE_OK) rc = layers_of(path, &ts, &hp, out);
    pk_tensors_free(&ts);
    return rc;
}
