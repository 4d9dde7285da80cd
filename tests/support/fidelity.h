/*
 * fidelity.h — the figures of `aesthete verify` computed a second way, straight through the
 * library, for the tests: a model at one precision embeds a list of images (one batch) and
 * scores them with its own `fixed` and `ensemble` (ImageNet) banks; two such runs give the
 * image-embedding cosine (min, mean, worst image), the Spearman rank correlation of each
 * method's scores (ties ranked by their mean rank) and whether the top 3 are the same images.
 */
#ifndef AE_TEST_FIDELITY_H
#define AE_TEST_FIDELITY_H

#include <stdint.h>

#include "aesthete.h"

#define FID_TOP 3

typedef struct fid_run {
    int32_t n, dim;
    float *emb;       /* n x dim image embeds */
    double *score[2]; /* n scores: [0] fixed, [1] ensemble over the 1000 ImageNet classes */
} fid_run;

/* Loads model_dir with the image tower at precision p and the text tower at text_p (fp32 is
 * what `score --precision P` and `verify` run by default), embeds the n images (all must
 * decode) in one batch and scores them with banks built by that text tower. Returns 0, or -1
 * with the reason on stderr. */
int fid_encode(const char *model_dir, ae_precision p, ae_precision text_p, const char *const *paths,
               int32_t n, fid_run *out);
void fid_run_free(fid_run *r);

typedef struct fid_figures {
    double cos_min, cos_mean;
    int32_t worst;                   /* image of cos_min */
    double spearman[2], max_change[2];
    int32_t top_ref[2][FID_TOP], top_red[2][FID_TOP];
    int top_same[2];                 /* the same FID_TOP images, in any order */
} fid_figures;

void fid_compare(const fid_run *ref, const fid_run *red, fid_figures *f);

/* Spearman of a and b (n >= 2). */
double fid_spearman(const double *a, const double *b, int32_t n);
/* The k indices of the largest values, largest first, ties by index. */
void fid_top(const double *v, int32_t n, int32_t k, int32_t *top);

/* The fixture photos (images/photo_*), sorted by name: *paths is a malloc'ed array of
 * malloc'ed strings (fid_photos_free). Returns their number. */
int32_t fid_photos(char ***paths);
void fid_photos_free(char **paths, int32_t n);

#endif
