/*
 * bank.c — prompt banks, the heads of the paper's prompt methods: the prompts of a method
 * built from a template, adjectives and class names, each tokenized once and encoded by the
 * text tower, kept as their embeddings (fixed: the two prompts; context: a pair per class;
 * ensemble: the two centroids). Files, scoring and checks are the heads' (head.c, score.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "head.h"
#include "session.h"

#define BANK_CHUNK 256 /* prompts encoded per call (progress granularity) */

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

int ae_bank_build(ae_session *s, const ae_bank_params *p,
                  void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx, ae_head **out)
{
    *out = NULL;
    if (!s || !p) return ae_fail(AE_ERR_INVALID, "ae_bank_build: invalid arguments");
    const ae_model *m = session_model(s);
    if (p->method == AE_METHOD_LAION) return ae_head_laion(p->laion_head, m, out);
    if (p->method == AE_METHOD_LAION_V2) return ae_head_laion("v2-vit-l-14", m, out);
    if ((unsigned)p->method > AE_METHOD_ENSEMBLE)
        return ae_fail(AE_ERR_INVALID, "method %s has no prompts to build", ae_method_name(p->method));
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

    ae_model_info info;
    ae_model_get_info(m, &info);
    int32_t n = with_classes ? p->n_classes : 1, dim = info.embed_dim, ctx_len = info.context_length;
    int64_t total = 2 * (int64_t)n;
    ae_head *b = head_alloc();
    char **prompts = calloc((size_t)total, sizeof(char *));
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)total * (size_t)ctx_len);  /* [total, ctx_len] */
    const int32_t **seq = malloc(sizeof(int32_t *) * (size_t)total);
    int32_t *len = malloc(sizeof(int32_t) * (size_t)total);
    float *emb = malloc(sizeof(float) * (size_t)total * (size_t)dim);
    int rc = b && prompts && ids && seq && len && emb ? AE_OK : ae_fail(AE_ERR_NOMEM, "out of memory");
    /* prompts: all positives, then all negatives */
    for (int32_t i = 0; rc == AE_OK && i < n; i++) {
        const char *cls = with_classes ? p->classes[i] : NULL;
        prompts[i] = expand(tmpl, pos, cls);
        prompts[n + i] = expand(tmpl, neg, cls);
        if (!prompts[i] || !prompts[n + i]) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    /* each prompt tokenized once, truncated as ae_encode_texts does; a prompt the tokenizer
     * refuses (invalid UTF-8 in a class name) is named exactly */
    for (int64_t i = 0; rc == AE_OK && i < total; i++) {
        size_t n_ids = 0;
        int32_t *row = ids + (size_t)i * ctx_len;
        rc = ae_tokenize(m, prompts[i], strlen(prompts[i]), 1, row, (size_t)ctx_len, &n_ids);
        if (rc != AE_OK) ae_fail_prefix(rc, "prompt %lld (\"%.200s\"): ", (long long)i + 1, prompts[i]);
        seq[i] = row;
        len[i] = (int32_t)n_ids;
    }
    for (int64_t done = 0; rc == AE_OK && done < total; done += BANK_CHUNK) {
        int32_t k = (int32_t)(total - done < BANK_CHUNK ? total - done : BANK_CHUNK);
        rc = ae_encode_tokens(s, seq + done, len + done, k, emb + done * dim);
        if (rc != AE_OK) ae_fail_prefix(rc, "prompts %lld to %lld: ", (long long)done + 1, (long long)(done + k));
        if (progress) progress(ctx, done + k, total);
    }
    int32_t rows = p->method == AE_METHOD_CONTEXT ? n : 1;
    if (rc == AE_OK) rc = head_alloc_rows(b, rows, dim);
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
        if (rc == AE_OK) rc = head_finish(b, "bank");
    }
    if (rc == AE_OK && with_classes) {
        b->classes = calloc((size_t)n, sizeof(char *));
        if (!b->classes) rc = ae_fail(AE_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; rc == AE_OK && i < n; i++) {
            if (!(b->classes[i] = head_strdup(p->classes[i]))) rc = AE_ERR_NOMEM;
            b->n_classes = i + 1;
        }
    }
    if (rc == AE_OK) {
        b->method = p->method;
        rc = head_set_str(&b->name, ae_method_name(p->method));
        b->n_prompts = (int32_t)total;
        b->normalize_prompts = p->method == AE_METHOD_ENSEMBLE && p->normalize_prompts;
        if (rc == AE_OK) rc = head_set_str(&b->template_text, tmpl);
        if (rc == AE_OK) rc = head_set_str(&b->positive, pos);
        if (rc == AE_OK) rc = head_set_str(&b->negative, neg);
        if (rc == AE_OK) rc = head_set_str(&b->model_id, info.id);
        if (rc == AE_OK) rc = head_set_str(&b->fingerprint, info.fingerprint);
        if (rc == AE_OK) rc = head_set_str(&b->precision, ae_precision_name(info.text_precision));
    }
    for (int64_t i = 0; prompts && i < total; i++) free(prompts[i]);
    free(prompts), free(ids), free(seq), free(len), free(emb);
    if (rc != AE_OK) {
        ae_head_free(b);
        return rc;
    }
    *out = b;
    return AE_OK;
}

int ae_head_from_centroids(const float *positive, const float *negative, int32_t dim,
                           const char *model_id, ae_head **out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_head_from_centroids: invalid arguments");
    *out = NULL;
    if (!positive || !negative || dim <= 0) return ae_fail(AE_ERR_INVALID, "ae_head_from_centroids: invalid arguments");
    if (dim > AE_MAX_BANK_DIM)
        return ae_fail(AE_ERR_INVALID, "centroids: %d dimensions, at most %d", dim, AE_MAX_BANK_DIM);
    ae_head *b = head_alloc();
    int rc = b ? head_alloc_rows(b, 1, dim) : AE_ERR_NOMEM;
    if (rc == AE_OK) {
        memcpy(b->pos, positive, sizeof(float) * (size_t)dim);
        memcpy(b->neg, negative, sizeof(float) * (size_t)dim);
        b->method = AE_METHOD_ENSEMBLE;
        rc = head_finish(b, "centroids");
    }
    if (rc == AE_OK) rc = head_set_str(&b->model_id, model_id ? model_id : "");
    if (rc == AE_OK) rc = head_set_str(&b->name, "ensemble");
    if (rc != AE_OK) {
        ae_head_free(b);
        return rc;
    }
    *out = b;
    return AE_OK;
}

