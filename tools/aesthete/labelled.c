/*
 * labelled.c — images with labels or ratings for `train` and `eval`: read from folders, a
 * CSV/TSV or AVA (ratings.c reads the files), narrowed by id lists, embedded through the
 * cache or read from a file of precomputed embeddings.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inputs.h"
#include "labelled.h"
#include "ratings.h"

const char labelled_options_help[] =
    "  --good DIR|LIST      images you like (repeatable): a folder, a list file or an image\n"
    "  --bad DIR|LIST       images you do not like (repeatable)\n"
    "  -r, --recursive      --good/--bad folders: descend into subfolders\n"
    "  --ratings FILE       a CSV/TSV of path,rating or path,label (good/bad, 1/0, yes/no,\n"
    "                       keep/reject, up/down); paths relative to the file's folder\n"
    "  --ava AVA.txt        AVA's index: image id and vote counts for 1..10 (mean score)\n"
    "  --images DIR         the folder of AVA's images (<id>.jpg)\n"
    "  --split FILE         keep only the ids or paths listed (one per line; the paper's\n"
    "                       test list for eval)\n"
    "  --exclude FILE       leave out the ids or paths listed (the test list, for train)\n"
    "  --strict             a malformed line of AVA.txt is an error (default: skipped and\n"
    "                       counted, with the first one named)\n"
    "  --embeddings FILE    precomputed image embeddings (.npy, .pkl or raw float32), one row\n"
    "                       per entry of --ratings/--ava in its order, instead of images\n";

int labelled_opt(labelled_opts *o, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case OPT_GOOD:
    case OPT_BAD: {
        int good = c == OPT_GOOD;
        int *n = good ? &o->n_good : &o->n_bad;
        if (*n == LABELLED_MAX) {
            cli_usage_error(cmd, "more than %d --%s arguments", LABELLED_MAX, good ? "good" : "bad");
            return -1;
        }
        (good ? o->good : o->bad)[(*n)++] = arg;
        return 0;
    }
    case OPT_RATINGS: o->ratings = arg; return 0;
    case OPT_AVA: o->ava = arg; return 0;
    case OPT_IMAGES: o->images = arg; return 0;
    case OPT_SPLIT: o->split = arg; return 0;
    case OPT_EXCLUDE_IDS: o->exclude = arg; return 0;
    case OPT_STRICT: o->strict = 1; return 0;
    case OPT_LABELLED_EMBEDDINGS: o->embeddings = arg; return 0;
    case 'r': o->recursive = 1; return 0;
    default: return 1;
    }
}


static int push(labelled *l, int32_t *cap, const char *input, double value)
{
    if (l->n == *cap) {
        int32_t nc = *cap ? *cap * 2 : 256;
        char **ni = realloc(l->input, sizeof *ni * (size_t)nc);
        if (ni) l->input = ni;
        double *nv = realloc(l->value, sizeof *nv * (size_t)nc);
        if (nv) l->value = nv;
        if (!ni || !nv) return -1;
        *cap = nc;
    }
    if (!(l->input[l->n] = strdup(input))) return -1;
    l->value[l->n++] = value;
    return 0;
}

/* The labelled folders: every image of --good is 1, of --bad 0. */
static int load_folders(const labelled_opts *o, const char *cmd, labelled *l)
{
    int32_t cap = 0;
    for (int side = 0; side < 2; side++) {
        const char *const *args = side ? o->bad : o->good;
        int na = side ? o->n_bad : o->n_good;
        for (int a = 0; a < na; a++) {
            ae_inputs in = {0};
            if (ae_inputs_add(&in, args[a], o->recursive, cli_warn, NULL) != AE_OK) {
                cli_error("%s", ae_last_error());
                ae_inputs_free(&in);
                return EXIT_USAGE;
            }
            if (in.n == 0) cli_error("warning: no images in %s", args[a]);
            for (int32_t i = 0; i < in.n; i++)
                if (push(l, &cap, in.items[i], side ? 0 : 1)) {
                    ae_inputs_free(&in);
                    cli_error("out of memory");
                    return EXIT_USAGE;
                }
            ae_inputs_free(&in);
        }
    }
    return 0;
}

/* A rating file (CSV or AVA), narrowed by --split and --exclude. */
static int load_ratings(const labelled_opts *o, const char *cmd, labelled *l)
{
    ae_ratings rt = {0};
    int rc = o->ava ? ae_ratings_read_ava(o->ava, o->strict, &rt) : ae_ratings_read_csv(o->ratings, &rt);
    if (rc != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    if (rt.skipped)
        cli_error("warning: %s: %lld malformed lines skipped (--strict to stop at them); the first: %s",
                  o->ava ? o->ava : o->ratings, (long long)rt.skipped, rt.first_skip);
    /* the entries' lines before --split/--exclude: an entry's row in --embeddings is its
     * position among them (lines ascend in file order) */
    int64_t *lines = malloc(sizeof *lines * (size_t)rt.n);
    int32_t n_all = rt.n;
    if (!lines) {
        ae_ratings_free(&rt);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    for (int32_t i = 0; i < rt.n; i++) lines[i] = rt.v[i].line;
    const char *lists[2] = {o->split, o->exclude};
    for (int k = 0; k < 2; k++) {
        if (!lists[k]) continue;
        ae_idset ids = {0}, missing = {0};
        if (ae_ratings_read_ids(lists[k], &ids) != AE_OK ||
            (k == 0 ? ae_ratings_filter(&rt, &ids, &missing) : ae_ratings_exclude(&rt, &ids)) != AE_OK) {
            cli_error("%s", ae_last_error());
            ae_idset_free(&ids);
            ae_ratings_free(&rt);
            free(lines);
            return EXIT_USAGE;
        }
        if (k == 0) l->not_rated = missing.n;
        if (missing.n)
            cli_error("warning: %s: %d ids have no rating in %s (the first: %s)", lists[k], missing.n,
                      o->ava ? o->ava : o->ratings, missing.keys[0]);
        ae_idset_free(&missing);
        ae_idset_free(&ids);
    }
    l->ratings = rt.kind == AE_RATINGS_RATINGS;
    l->n_entries = n_all;
    if (!(l->row = malloc(sizeof *l->row * (size_t)(rt.n ? rt.n : 1)))) {
        ae_ratings_free(&rt);
        free(lines);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    for (int32_t i = 0, j = 0; i < rt.n; i++) {
        while (j < n_all && lines[j] < rt.v[i].line) j++;
        l->row[i] = j;
    }
    free(lines);
    int32_t cap = 0, want = rt.n;
    size_t plen = o->images ? strlen(o->images) : 0;
    for (int32_t i = 0; i < rt.n; i++) {
        char *path = NULL;
        const char *key = rt.v[i].key;
        if (o->ava && o->images) { /* AVA's images are <id>.jpg */
            if (!(path = malloc(plen + strlen(key) + 6))) break;
            sprintf(path, "%s%s%s.jpg", o->images, plen && o->images[plen - 1] == '/' ? "" : "/", key);
        }
        int bad = push(l, &cap, path ? path : key, rt.v[i].value);
        free(path);
        if (bad) {
            ae_ratings_free(&rt);
            cli_error("out of memory");
            return EXIT_USAGE;
        }
    }
    ae_ratings_free(&rt);
    if (l->n < want) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    return 0;
}

/* n_good and n_bad of labels (0 for ratings) */
static void count_labels(labelled *l)
{
    l->n_good = l->n_bad = 0;
    for (int32_t i = 0; i < l->n; i++) {
        l->n_good += !l->ratings && l->value[i] > 0.5;
        l->n_bad += !l->ratings && l->value[i] <= 0.5;
    }
}

int labelled_load(const labelled_opts *o, const char *cmd, labelled *l)
{
    memset(l, 0, sizeof *l);
    int kinds = (o->n_good || o->n_bad) + !!o->ratings + !!o->ava;
    if (kinds != 1)
        return cli_usage_error(cmd, kinds ? "give one kind of labels: --good/--bad folders, --ratings or --ava"
                                          : "no labels: give --good DIR --bad DIR, --ratings FILE or --ava AVA.txt");
    if ((o->n_good || o->n_bad) && (o->split || o->exclude || o->embeddings))
        return cli_usage_error(cmd, "--split, --exclude and --embeddings go with --ratings or --ava");
    if (o->ava && !o->images && !o->embeddings)
        return cli_usage_error(cmd, "--ava needs --images DIR, the folder of AVA's images (or --embeddings)");
    if (o->images && !o->ava) return cli_usage_error(cmd, "--images goes with --ava");
    int rc = o->ava || o->ratings ? load_ratings(o, cmd, l) : load_folders(o, cmd, l);
    if (rc) {
        labelled_free(l);
        return rc;
    }
    count_labels(l);
    if (l->n == 0) {
        cli_error("no labelled images%s", o->split ? " (none of --split has a rating)" : "");
        labelled_free(l);
        return EXIT_SOME_FAILED;
    }
    return 0;
}

/* Keeps the rows with ok[i] (in order), freeing the others. */
static void compact(labelled *l, const int *ok)
{
    int32_t k = 0;
    for (int32_t i = 0; i < l->n; i++) {
        if (!ok[i]) {
            free(l->input[i]);
            continue;
        }
        l->input[k] = l->input[i];
        l->value[k] = l->value[i];
        if (l->row) l->row[k] = l->row[i];
        if (l->scores) l->scores[k] = l->scores[i];
        if (l->embeds && k != i)
            memcpy(l->embeds + (size_t)k * l->dim, l->embeds + (size_t)i * l->dim, sizeof(float) * (size_t)l->dim);
        k++;
    }
    l->n = k;
    count_labels(l);
}

static void on_batch(void *ctx, const ae_scored *rows, int32_t first, int32_t n) { progress_update(ctx, first + n); }

#define REPORTED 10 /* failed images named on stderr, then a count */

int32_t labelled_embed(scorer *s, const score_opts *so, const labelled_opts *o, labelled *l)
{
    int32_t failed = 0;
    int *ok = malloc(sizeof *ok * (size_t)l->n);
    if (!ok || !(l->scores = calloc((size_t)l->n, sizeof *l->scores))) {
        free(ok);
        cli_error("out of memory");
        return -1;
    }
    if (o->embeddings) {
        ae_head_info hi;
        if (s->bank) ae_head_get_info(s->bank, &hi);
        int32_t rows = 0;
        float *all = NULL;
        if (ae_read_matrix(o->embeddings, s->bank ? hi.dim : 0, &all, &rows, &l->dim) != AE_OK) {
            cli_error("%s", ae_last_error());
            free(ok);
            return -1;
        }
        if (rows != l->n_entries) {
            cli_error("%s: %d embeddings for the %d entries of %s: they must be one row each, in its order",
                      o->embeddings, rows, l->n_entries, o->ava ? o->ava : o->ratings);
            free(all), free(ok);
            return -1;
        }
        if (!(l->embeds = malloc(sizeof(float) * (size_t)l->n * l->dim))) {
            cli_error("out of memory");
            free(all), free(ok);
            return -1;
        }
        for (int32_t i = 0; i < l->n; i++)
            memcpy(l->embeds + (size_t)i * l->dim, all + (size_t)l->row[i] * l->dim, sizeof(float) * (size_t)l->dim);
        free(all), free(ok);
        if (s->bank && ae_head_score(s->bank, l->embeds, l->n, l->scores) != AE_OK) {
            cli_error("%s: %s", o->embeddings, ae_last_error());
            return -1;
        }
        return 0;
    }
    ae_model_info mi;
    ae_model_get_info(s->model, &mi);
    l->dim = mi.embed_dim;
    ae_scored *rows = calloc((size_t)l->n, sizeof *rows);
    if (!rows || !(l->embeds = malloc(sizeof(float) * (size_t)l->n * l->dim))) {
        free(rows), free(ok);
        cli_error("out of memory");
        return -1;
    }
    progress pr;
    progress_begin(&pr, so->quiet ? 0 : l->n, "images");
    ae_scorer_params sp = scorer_params(so, s);
    sp.on_read = progress_read;
    sp.on_read_ctx = &pr;
    int32_t r = ae_score_inputs(s->session, s->bank, (const char *const *)l->input, l->n, &sp, rows, l->embeds,
                                on_batch, &pr);
    progress_end(&pr);
    if (r < 0) {
        cli_error("%s", ae_last_error());
        free(rows), free(ok);
        return -1;
    }
    for (int32_t i = 0; i < l->n; i++) {
        ok[i] = rows[i].rc == AE_OK;
        l->scores[i] = rows[i].score;
        if (ok[i]) continue;
        if (failed++ < REPORTED) cli_error("%s", rows[i].error);
    }
    if (failed > REPORTED) cli_error("... and %d more images that could not be read", failed - REPORTED);
    print_summary(so, rows, l->n, NULL);
    compact(l, ok);
    free(rows), free(ok);
    return failed;
}

int labelled_figures(const labelled *l, const ae_score *sc, double cut, int32_t boot, uint64_t seed,
                     stats_interval m[3], double *score)
{
    double *pred = malloc(sizeof *pred * (size_t)l->n), *own = score ? NULL : malloc(sizeof *own * (size_t)l->n);
    if (!pred || (!score && !own)) {
        free(pred), free(own);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    if (!score) score = own;
    for (int32_t i = 0; i < l->n; i++) pred[i] = sc[i].good, score[i] = sc[i].score;
    const stats_metric ms[3] = {{STATS_ACCURACY, 0.5, cut}, {STATS_SPEARMAN, 0, 0}, {STATS_PEARSON, 0, 0}};
    int rc = AE_OK;
    for (int k = 0; k < 3 && rc == AE_OK; k++) {
        const double *x = k == 0 ? pred : score;
        if (boot > 0) {
            rc = stats_bootstrap(&ms[k], x, l->value, l->n, boot, seed, &m[k]);
        } else {
            m[k].value = stats_metric_eval(&ms[k], x, l->value, l->n);
            m[k].lo = m[k].hi = NAN;
        }
    }
    free(pred), free(own);
    if (rc != AE_OK) cli_error("%s", ae_last_error());
    return rc != AE_OK ? EXIT_USAGE : 0;
}

void labelled_free(labelled *l)
{
    for (int32_t i = 0; i < l->n; i++) free(l->input[i]);
    free(l->input), free(l->value), free(l->embeds), free(l->scores), free(l->row);
    memset(l, 0, sizeof *l);
}
