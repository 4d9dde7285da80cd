/*
 * labelled.h — what `train` and `eval` share: images with a label or a rating, from the
 * user's folders (--good DIR --bad DIR), a CSV/TSV of path,label or path,rating (--ratings),
 * or AVA (--ava AVA.txt --images DIR: mean score of the votes), narrowed by id lists
 * (--split keeps, --exclude drops); and their embeddings, through the cache.
 */
#ifndef AE_CLI_LABELLED_H
#define AE_CLI_LABELLED_H

#include <stdint.h>

#include "scoring.h"
#include "stats.h"

/* The options, as given (repeatable ones up to LABELLED_MAX each). */
#define LABELLED_MAX 64
typedef struct labelled_opts {
    const char *good[LABELLED_MAX], *bad[LABELLED_MAX];
    int n_good, n_bad;
    const char *ratings, *ava, *images, *split, *exclude, *embeddings;
    int recursive, strict;
} labelled_opts;

/* Long options of labelled_opts (codes 400..), to append to a table, and their help. */
enum labelled_option { /* between the scoring options' codes and OPT_COMMAND */
    OPT_GOOD = 350, OPT_BAD, OPT_RATINGS, OPT_AVA, OPT_IMAGES, OPT_SPLIT, OPT_EXCLUDE_IDS, OPT_STRICT,
    OPT_LABELLED_EMBEDDINGS
};
#define LABELLED_OPTIONS                                                                        \
    {"good", required_argument, 0, OPT_GOOD}, {"bad", required_argument, 0, OPT_BAD},           \
    {"ratings", required_argument, 0, OPT_RATINGS}, {"ava", required_argument, 0, OPT_AVA},     \
    {"images", required_argument, 0, OPT_IMAGES}, {"split", required_argument, 0, OPT_SPLIT},   \
    {"exclude", required_argument, 0, OPT_EXCLUDE_IDS}, {"recursive", no_argument, 0, 'r'},     \
    {"strict", no_argument, 0, OPT_STRICT}, {"embeddings", required_argument, 0, OPT_LABELLED_EMBEDDINGS}
extern const char labelled_options_help[];

/* 0 handled, 1 not one of these, -1 usage error (printed). */
int labelled_opt(labelled_opts *o, int c, const char *arg, const char *cmd);

/* The images and their values. */
typedef struct labelled {
    char **input;    /* path of each image (owned) */
    double *value;   /* 1 good / 0 bad, or the rating */
    int32_t n;
    int ratings;     /* 1: numeric ratings; 0: good/bad labels */
    int32_t n_good, n_bad; /* labels */
    int64_t not_rated; /* ids of --split without a rating */
    float *embeds;   /* n * dim after labelled_embed */
    ae_score *scores;/* n, by the scorer's head, after labelled_embed */
    int32_t dim;
    int32_t *row;      /* --ratings/--ava: each image's entry in the file (0-based, before
                          --split/--exclude): its row of --embeddings */
    int32_t n_entries; /* the file's entries */
} labelled;

/* Reads the sources (exactly one kind: folders, --ratings or --ava) into l. Prints the error
 * and returns non-zero (EXIT_USAGE) on failure. */
int labelled_load(const labelled_opts *o, const char *cmd, labelled *l);

/* Embeds every image with the scorer (through its cache) and scores it with its head; the
 * images that fail are reported on stderr (the first ten, then a count) and removed from l.
 * With --embeddings, reads them instead (one row per entry; the scorer has no model then,
 * and its head, if any, scores them). Returns the number removed, or -1 on a fatal error
 * (printed). */
int32_t labelled_embed(scorer *s, const score_opts *so, const labelled_opts *o, labelled *l);

/* How scores sc (l->n, of one head) agree with l's values, as the paper measures it: m[0]
 * the accuracy of sc[i].good against value > cut, m[1] Spearman's and m[2] Pearson's
 * correlation of sc[i].score with the values; with boot > 0, their percentile bootstrap
 * intervals over boot resamples drawn from seed (else lo = hi = NaN). score (may be NULL):
 * l->n doubles receiving the scores. Prints the error and returns non-zero on failure. */
int labelled_figures(const labelled *l, const ae_score *sc, double cut, int32_t boot, uint64_t seed,
                     stats_interval m[3], double *score);

void labelled_free(labelled *l);

#endif
