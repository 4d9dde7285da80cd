/*
 * fidelity.c — see fidelity.h. Written apart from tools/aesthete/cmd_verify.c on purpose
 * (ranks by counting instead of sorting, banks through ae_bank_build directly), so the tests
 * can hold the command's figures against these.
 */
#define _GNU_SOURCE
#include "fidelity.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classlist.h"
#include "test.h"

void fid_run_free(fid_run *r)
{
    free(r->emb);
    free(r->score[0]);
    free(r->score[1]);
    memset(r, 0, sizeof *r);
}

int fid_encode(const char *model_dir, ae_precision p, ae_precision text_p, const char *const *paths,
               int32_t n, fid_run *out)
{
    memset(out, 0, sizeof *out);
    ae_model *m = NULL;
    ae_session *s = NULL;
    ae_head *b = NULL;
    ae_classlist cl = {0};
    float *pix = NULL;
    int32_t *st = calloc((size_t)n, sizeof *st);
    ae_score *sc = calloc((size_t)n, sizeof *sc);
    int rc = -1;
    ae_model_params mp = ae_model_default_params();
    mp.precision = p;
    mp.text_precision = text_p;
    ae_session_params sp = ae_session_default_params();
    if (!st || !sc) goto fail;
    if (ae_model_load(model_dir, &mp, &m) != AE_OK || ae_session_new(m, &sp, &s) != AE_OK) {
        fprintf(stderr, "fidelity: %s (images %s, texts %s)\n", ae_last_error(), ae_precision_name(p),
                ae_precision_name(text_p));
        goto fail;
    }
    out->n = n;
    out->dim = ae_model_embed_dim(m);
    size_t px = ae_model_pixels_size(m);
    pix = malloc(px * (size_t)n * sizeof *pix);
    out->emb = malloc((size_t)out->dim * (size_t)n * sizeof *out->emb);
    out->score[0] = malloc((size_t)n * sizeof(double));
    out->score[1] = malloc((size_t)n * sizeof(double));
    if (!pix || !out->emb || !out->score[0] || !out->score[1]) goto fail;
    ae_image_params ip = ae_image_default_params();
    if (ae_load_images(s, paths, n, &ip, pix, st, NULL, 0) != 0) {
        fprintf(stderr, "fidelity: an image did not decode\n");
        goto fail;
    }
    if (ae_encode_images(s, pix, n, out->emb) != AE_OK || ae_classlist_imagenet(&cl) != AE_OK) {
        fprintf(stderr, "fidelity: %s\n", ae_last_error());
        goto fail;
    }
    for (int k = 0; k < 2; k++) {
        ae_bank_params bp = ae_bank_default_params();
        bp.method = k ? AE_METHOD_ENSEMBLE : AE_METHOD_FIXED;
        if (k) bp.classes = (const char *const *)cl.names, bp.n_classes = cl.n;
        if (ae_bank_build(s, &bp, NULL, NULL, &b) != AE_OK ||
            ae_head_score(b, out->emb, n, sc) != AE_OK) {
            fprintf(stderr, "fidelity: %s\n", ae_last_error());
            goto fail;
        }
        for (int32_t i = 0; i < n; i++) out->score[k][i] = sc[i].score;
        ae_head_free(b);
        b = NULL;
    }
    rc = 0;
fail:
    if (rc) fid_run_free(out);
    ae_head_free(b);
    ae_classlist_free(&cl);
    ae_session_free(s);
    ae_model_free(m);
    free(pix);
    free(st);
    free(sc);
    return rc;
}

/* mean rank (1-based) of each value: 1 + the number smaller + half the others equal */
static void ranks(const double *v, int32_t n, double *r)
{
    for (int32_t i = 0; i < n; i++) {
        int32_t less = 0, eq = 0;
        for (int32_t j = 0; j < n; j++) less += v[j] < v[i], eq += v[j] == v[i];
        r[i] = less + (eq + 1) / 2.0;
    }
}

double fid_spearman(const double *a, const double *b, int32_t n)
{
    double *ra = malloc((size_t)n * sizeof *ra), *rb = malloc((size_t)n * sizeof *rb);
    double m = (n + 1) / 2.0, ab = 0, aa = 0, bb = 0; /* mean rank, ties or not */
    ranks(a, n, ra);
    ranks(b, n, rb);
    for (int32_t i = 0; i < n; i++) {
        ab += (ra[i] - m) * (rb[i] - m);
        aa += (ra[i] - m) * (ra[i] - m);
        bb += (rb[i] - m) * (rb[i] - m);
    }
    free(ra);
    free(rb);
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : aa == bb;
}

void fid_top(const double *v, int32_t n, int32_t k, int32_t *top)
{
    for (int32_t j = 0; j < k; j++) {
        top[j] = -1;
        for (int32_t i = 0; i < n; i++) {
            int used = 0;
            for (int32_t l = 0; l < j; l++) used |= top[l] == i;
            if (!used && (top[j] < 0 || v[i] > v[top[j]])) top[j] = i;
        }
    }
}

void fid_compare(const fid_run *ref, const fid_run *red, fid_figures *f)
{
    memset(f, 0, sizeof *f);
    int32_t n = ref->n, E = ref->dim, k = n < FID_TOP ? n : FID_TOP;
    f->cos_min = 2;
    for (int32_t i = 0; i < n; i++) {
        const float *a = ref->emb + (size_t)i * E, *b = red->emb + (size_t)i * E;
        double ab = 0, aa = 0, bb = 0;
        for (int32_t j = 0; j < E; j++) {
            ab += (double)a[j] * b[j];
            aa += (double)a[j] * a[j];
            bb += (double)b[j] * b[j];
        }
        double c = ab / sqrt(aa * bb);
        f->cos_mean += c / n;
        if (c < f->cos_min) f->cos_min = c, f->worst = i;
    }
    for (int m = 0; m < 2; m++) {
        f->spearman[m] = fid_spearman(ref->score[m], red->score[m], n);
        for (int32_t i = 0; i < n; i++)
            f->max_change[m] = fmax(f->max_change[m], fabs(ref->score[m][i] - red->score[m][i]));
        fid_top(ref->score[m], n, k, f->top_ref[m]);
        fid_top(red->score[m], n, k, f->top_red[m]);
        f->top_same[m] = 1;
        for (int32_t j = 0; j < k; j++) {
            int found = 0;
            for (int32_t l = 0; l < k; l++) found |= f->top_red[m][l] == f->top_ref[m][j];
            f->top_same[m] &= found;
        }
    }
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int32_t fid_photos(char ***paths)
{
    const char *dir = fixture("images");
    DIR *d = opendir(dir);
    struct dirent *e;
    int32_t n = 0, cap = 0;
    char **p = NULL;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "photo_", 6)) continue;
        if (n == cap) {
            char **q = realloc(p, (size_t)(cap = cap ? 2 * cap : 32) * sizeof *p);
            if (!q) break;
            p = q;
        }
        if (asprintf(&p[n], "%s/%s", dir, e->d_name) < 0) break;
        n++;
    }
    if (d) closedir(d);
    if (n) qsort(p, (size_t)n, sizeof *p, cmpstr);
    *paths = p;
    return n;
}

void fid_photos_free(char **paths, int32_t n)
{
    for (int32_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}
