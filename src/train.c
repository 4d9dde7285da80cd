/*
 * train.c — a head trained on the user's own labels: a linear probe on L2-normalised CLIP
 * image embeddings, the paper's best method on AVA (0.793 accuracy against 0.725 for fixed
 * prompts). Binary labels train a logistic regression (score = the logit, probability =
 * sigmoid), numeric ratings a ridge regression (score = the predicted rating); the penalty is
 * chosen by group-aware k-fold cross-validation (solver.c), so the reported CV figures are
 * those of images the head did not see, and duplicates of one picture never sit on both sides.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "head.h"
#include "solver.h"
#include "stats.h"

ae_train_params ae_train_default_params(void)
{
    ae_train_params p = {0};
    p.kind = AE_TRAIN_AUTO;
    p.folds = 5;
    p.seed = 20221;
    return p;
}

/* Groups of identical rows (copies of one picture: the same bytes, or the same pixels with
 * other metadata): g[i] = the first row of i's group. Candidates are found by sorting on the
 * first component and compared in full. NULL when out of memory. */
static int64_t *identical_groups(const float *e, int32_t n, int32_t dim, int32_t *copies)
{
    int64_t *g = malloc(sizeof *g * (size_t)n);
    int32_t *order = malloc(sizeof *order * (size_t)n);
    double *first = malloc(sizeof *first * (size_t)n);
    if (!g || !order || !first) goto fail;
    for (int32_t i = 0; i < n; i++) first[i] = e[(size_t)i * dim], g[i] = i;
    if (stats_order(first, n, order) != AE_OK) goto fail;
    *copies = 0;
    for (int32_t a = 0; a < n; a++) {
        int32_t i = order[a];
        if (g[i] != i) continue;
        for (int32_t b = a + 1; b < n && first[order[b]] == first[i]; b++) {
            int32_t j = order[b];
            if (g[j] == j && !memcmp(e + (size_t)i * dim, e + (size_t)j * dim, sizeof(float) * (size_t)dim))
                g[j] = i, (*copies)++;
        }
    }
    free(order), free(first);
    return g;
fail:
    free(g), free(order), free(first);
    return NULL;
}

/* AE_TRAIN_LOGISTIC when every target is 0 or 1, else AE_TRAIN_RIDGE */
static ae_train_kind auto_kind(const double *y, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        if (y[i] != 0 && y[i] != 1) return AE_TRAIN_RIDGE;
    return AE_TRAIN_LOGISTIC;
}

int ae_head_train(const float *embeds, int32_t n, int32_t dim, const double *targets, const int64_t *groups,
                  const ae_train_params *params, const ae_head_params *head_params, ae_head **out,
                  ae_train_report *report)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_head_train: invalid arguments");
    *out = NULL;
    if (!embeds || !targets || n < 2 || dim < 1 || dim > SOLVE_MAX_DIM)
        return ae_fail(AE_ERR_INVALID, "ae_head_train: %d embeddings of dimension %d (at least 2, at most %d wide)", n,
                       dim, SOLVE_MAX_DIM);
    ae_train_params tp = params ? *params : ae_train_default_params();
    ae_train_kind kind = tp.kind == AE_TRAIN_AUTO ? auto_kind(targets, n) : tp.kind;
    if (kind != AE_TRAIN_LOGISTIC && kind != AE_TRAIN_RIDGE)
        return ae_fail(AE_ERR_INVALID, "ae_head_train: unknown kind %d", (int)tp.kind);
    if (tp.folds < 2) return ae_fail(AE_ERR_INVALID, "cross-validation needs at least 2 folds, not %d", tp.folds);

    /* the rows the head will see: L2-normalised, as it scores them */
    float *x = malloc(sizeof(float) * (size_t)n * dim);
    double *w = malloc(sizeof(double) * (size_t)dim);
    float *wf = malloc(sizeof(float) * (size_t)dim);
    if (!x || !w || !wf) {
        free(x), free(w), free(wf);
        return ae_fail(AE_ERR_NOMEM, "out of memory");
    }
    int rc = AE_OK;
    for (int32_t i = 0; i < n && rc == AE_OK; i++) {
        const float *e = embeds + (size_t)i * dim;
        double s = 0;
        for (int32_t k = 0; k < dim; k++) s += (double)e[k] * e[k];
        if (!(s > 0) || !isfinite(s)) {
            rc = ae_fail(AE_ERR_INVALID, "embedding %d is %s", i, s == 0 ? "a zero vector" : "not finite");
            break;
        }
        s = sqrt(s);
        for (int32_t k = 0; k < dim; k++) x[(size_t)i * dim + k] = (float)(e[k] / s);
    }
    /* copies of one picture never sit on both sides of a fold */
    int32_t copies = 0;
    int64_t *own = NULL;
    if (rc == AE_OK && !groups && !(groups = own = identical_groups(embeds, n, dim, &copies)))
        rc = ae_fail(AE_ERR_NOMEM, "out of memory");
    solve_report rep;
    memset(&rep, 0, sizeof rep);
    rep.oof = report ? report->oof : NULL;
    double b = 0;
    solve_kind sk = kind == AE_TRAIN_LOGISTIC ? SOLVE_LOGISTIC : SOLVE_RIDGE;
    if (rc == AE_OK) rc = solve_cv(sk, x, n, dim, targets, groups, tp.folds, tp.seed, w, &b, &rep);
    if (rc == AE_OK) {
        for (int32_t k = 0; k < dim; k++) wf[k] = (float)w[k];
        float bf = (float)b;
        ae_head_params hp = head_params ? *head_params : ae_head_default_params();
        char prov[256];
        if (!hp.provenance || !hp.provenance[0]) {
            int32_t good = 0;
            for (int32_t i = 0; i < n; i++) good += targets[i] > 0.5;
            if (kind == AE_TRAIN_LOGISTIC)
                snprintf(prov, sizeof prov,
                         "ae_head_train: logistic regression on %d embeddings (%d good, %d bad), lambda %.3g, "
                         "%d-fold CV accuracy %.4f",
                         n, good, n - good, rep.lambda, rep.folds, rep.cv_metric);
            else
                snprintf(prov, sizeof prov,
                         "ae_head_train: ridge regression on %d rated embeddings, lambda %.3g, %d-fold CV SRCC %.4f", n,
                         rep.lambda, rep.folds, rep.cv_metric);
            hp.provenance = prov;
        }
        hp.method = AE_METHOD_HEAD;
        hp.normalize = 1;
        hp.logistic = kind == AE_TRAIN_LOGISTIC;
        if (hp.logistic) hp.cut = 0; /* the logit: probability 0.5 */
        ae_head_layer layer = {dim, 1, wf, &bf, 0};
        rc = ae_head_from_layers(&layer, 1, &hp, out);
    }
    if (rc == AE_OK && report) {
        report->kind = kind;
        report->lambda = rep.lambda;
        report->cv_metric = rep.cv_metric;
        report->cv_secondary = rep.cv_secondary;
        report->folds = rep.folds;
        report->copies = copies;
    }
    free(x), free(w), free(wf), free(own);
    return rc;
}
