/*
 * cmd_train.c — `aesthete train`: a head from the user's own labels (good / bad folders, a
 * CSV of path,label or path,rating, AVA), a linear probe on the images' CLIP embeddings,
 * which the paper finds better than every prompt (0.793 accuracy on AVA against 0.725 for
 * fixed prompts). The embeddings come through the cache, so training again after adding a
 * few labels encodes only the new images. It prints the cross-validated figures of the head
 * beside those of a zero-shot head (the ensemble, or the one the options choose) on the same
 * images, and writes the head for --head.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "labelled.h"
#include "scoring.h"
#include "stats.h"

static void help(void)
{
    printf("usage: aesthete train (--good DIR --bad DIR | --ratings FILE | --ava AVA.txt --images DIR)\n"
           "                      -o NAME.head [OPTIONS]\n\n"
           "Trains a head on your labels: a logistic regression on good/bad labels (score = its\n"
           "logit, probability of good = sigmoid(score), good iff probability >= 0.5), or a ridge\n"
           "regression on numeric ratings (score = the predicted rating, good iff >= --cut), on\n"
           "the L2-normalised image embeddings. The L2 penalty is chosen by k-fold cross-\n"
           "validation in which copies of one picture (identical embeddings) never sit on both\n"
           "sides. Prints the cross-validated accuracy (and SRCC for ratings) beside the zero-shot\n"
           "head's on the same images: the --method given, by default ensemble.\n\n"
           "%s"
           "  -o, --output FILE    where to write the head (use it with --head FILE)\n"
           "  --name N             the head's name in results (default: the file's name)\n"
           "  --kind K             auto (default: logistic for labels, ridge for ratings),\n"
           "                       logistic or ridge\n"
           "  --folds K            cross-validation folds (default 5)\n"
           "  --seed S             of the folds' shuffle (default 20221: the same head each run)\n"
           "  --cut X              ridge: good iff the predicted rating >= X (default 5, AVA's)\n"
           "  --model-id ID        the model the head is for, as you name it (default: the\n"
           "                       model's id; with --embeddings, none unless given)\n"
           "%s%s"
           "  -h, --help           this text\n\n"
           "--format json prints the report as one JSON object.\n"
           "Exit status: 0 trained, every image read; 1 trained, some images failed (reported);\n"
           "2 usage or fatal error.\n",
           labelled_options_help, score_options_help, output_options_help);
}

int cmd_train(int argc, char **argv)
{
    enum { O_NAME = OPT_COMMAND, O_KIND, O_FOLDS, O_SEED, O_CUT, O_MODEL_ID };
    static const struct option opts[] = {SCORE_OPTIONS, LABELLED_OPTIONS,
                                         {"output", required_argument, 0, 'o'},
                                         {"name", required_argument, 0, O_NAME},
                                         {"kind", required_argument, 0, O_KIND},
                                         {"folds", required_argument, 0, O_FOLDS},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"cut", required_argument, 0, O_CUT},
                                         {"model-id", required_argument, 0, O_MODEL_ID},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    labelled_opts lo = {0};
    ae_train_params tp = ae_train_default_params();
    const char *out = NULL, *name = NULL, *model_id = NULL;
    double cut = 5;
    long v;
    int c, r;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" SCORE_SHORT "o:rh", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_ALL_OK;
        case '?':
        case ':': return cli_bad_option("train", c, argc, argv);
        case 'o': out = optarg; continue;
        case O_NAME: name = optarg; continue;
        case O_MODEL_ID: model_id = optarg; continue;
        case O_KIND:
            if (!strcmp(optarg, "auto")) tp.kind = AE_TRAIN_AUTO;
            else if (!strcmp(optarg, "logistic")) tp.kind = AE_TRAIN_LOGISTIC;
            else if (!strcmp(optarg, "ridge")) tp.kind = AE_TRAIN_RIDGE;
            else return cli_usage_error("train", "--kind: '%s' is not auto, logistic or ridge", optarg);
            continue;
        case O_FOLDS:
            if (cli_parse_int("train", "--folds", optarg, 2, 100, &v)) return EXIT_USAGE;
            tp.folds = (int32_t)v;
            continue;
        case O_SEED:
            if (cli_parse_int("train", "--seed", optarg, 0, 1L << 62, &v)) return EXIT_USAGE;
            tp.seed = (uint64_t)v;
            continue;
        case O_CUT:
            if (cli_parse_number("train", "--cut", optarg, &cut)) return EXIT_USAGE;
            continue;
        }
        if ((r = labelled_opt(&lo, c, optarg, "train")) < 0) return EXIT_USAGE;
        if (r == 0) continue;
        if ((r = score_opt(&o, c, optarg, "train")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("train", '?', argc, argv);
    }
    if (optind != argc) return cli_usage_error("train", "unexpected argument '%s' (inputs go with --good, --bad, --ratings or --ava)", argv[optind]);
    if (!out) return cli_usage_error("train", "-o FILE: where to write the head");
    if (o.format != FMT_AUTO && o.format != FMT_TABLE && o.format != FMT_JSON)
        return cli_usage_error("train", "--format: the report is a table or json");
    if (lo.embeddings && o.model)
        return cli_usage_error("train", "--embeddings are made already: no --model (--model-id ID records which)");
    /* the zero-shot comparison: with --embeddings only a head that needs no text tower */
    if (o.method < 0 && !o.bank_path && !lo.embeddings) o.method = AE_METHOD_ENSEMBLE;

    labelled l;
    if ((r = labelled_load(&lo, "train", &l))) return r;
    if (!l.ratings && tp.kind == AE_TRAIN_RIDGE) l.ratings = 1; /* 0/1 as numbers */
    if (l.ratings && tp.kind == AE_TRAIN_LOGISTIC) {
        labelled_free(&l);
        return cli_usage_error("train", "--kind logistic needs good/bad labels, and these are ratings");
    }
    scorer s;
    memset(&s, 0, sizeof s);
    if ((r = lo.embeddings ? (o.bank_path || o.method >= 0 ? scorer_add_head(&s, &o, "train", &s.bank) : 0)
                           : scorer_open(&s, &o, "train", 1))) {
        scorer_close(&s);
        labelled_free(&l);
        return r;
    }
    int32_t failed = labelled_embed(&s, &o, &lo, &l);
    int ret = EXIT_USAGE;
    ae_head *head = NULL;
    double *oof = NULL;
    if (failed < 0) goto done;
    if (!l.ratings && (l.n_good < 2 || l.n_bad < 2)) {
        cli_error("training needs at least 2 good and 2 bad images that can be read, not %d and %d", l.n_good, l.n_bad);
        goto done;
    }
    if (!(oof = malloc(sizeof *oof * (size_t)l.n))) {
        cli_error("out of memory");
        goto done;
    }

    char nbuf[256];
    ae_head_params hp = ae_head_default_params();
    hp.name = name ? name : cli_base_name(out, nbuf, sizeof nbuf);
    ae_model_info mi; /* hp points into it */
    if (s.model) { /* the head is made for this model's embeddings: its fingerprint is kept */
        ae_model_get_info(s.model, &mi);
        hp.model_id = mi.id;
        hp.fingerprint = mi.fingerprint;
        hp.patch_size = mi.patch_size;
        hp.vision_width = mi.vision.hidden_size;
    }
    if (model_id) hp.model_id = model_id;
    hp.cut = (float)cut;
    ae_train_report rep = {0};
    rep.oof = oof;
    if (ae_head_train(l.embeds, l.n, l.dim, l.value, NULL, &tp, &hp, &head, &rep) != AE_OK) {
        cli_error("%s", ae_last_error());
        goto done;
    }
    int logistic = rep.kind == AE_TRAIN_LOGISTIC;
    /* ratings: the accuracy at the cut, when the ratings fall on both sides of it */
    int32_t above = 0;
    for (int32_t i = 0; i < l.n; i++) above += l.value[i] > cut;
    double cv_acc = logistic                          ? rep.cv_metric
                    : above > 0 && above < l.n ? stats_accuracy(oof, l.value, l.n, cut, cut)
                                                      : NAN;
    double cv_srcc = logistic ? NAN : rep.cv_metric;
    double zs_acc = NAN, zs_srcc = NAN;
    ae_head_info zi = {0};
    if (s.bank) { /* the zero-shot head's figures on the same images, as eval gives them */
        ae_head_get_info(s.bank, &zi);
        stats_interval zm[3];
        if (labelled_figures(&l, l.scores, l.ratings ? cut : 0.5, 0, 0, zm, NULL)) goto done;
        zs_acc = zm[0].value;
        if (l.ratings) zs_srcc = zm[1].value;
    }
    if (ae_head_save(head, out) != AE_OK) {
        cli_error("%s", ae_last_error());
        goto done;
    }
    if (o.format == FMT_JSON) {
        printf("{\"head\": ");
        put_json_string(stdout, out, strlen(out));
        printf(", \"name\": ");
        put_json_string(stdout, hp.name, strlen(hp.name));
        printf(", \"kind\": \"%s\", \"images\": %d, ", logistic ? "logistic" : "ridge", l.n);
        if (!l.ratings) printf("\"good\": %d, \"bad\": %d, ", l.n_good, l.n_bad);
        printf("\"failed\": %d, \"copies\": %d, \"lambda\": %.9g, \"folds\": %d, \"cv\": {\"accuracy\": ", failed,
               rep.copies, rep.lambda, rep.folds);
        if (isnan(cv_acc)) printf("null");
        else printf("%.9g", cv_acc);
        if (logistic) printf(", \"logloss\": %.9g}", rep.cv_secondary);
        else printf(", \"srcc\": %.9g, \"mse\": %.9g}", cv_srcc, rep.cv_secondary);
        if (s.bank) {
            printf(", \"zero_shot\": {\"method\": \"%s\", \"name\": ", ae_method_name(zi.method));
            put_json_string(stdout, zi.name, strlen(zi.name));
            printf(", \"accuracy\": %.9g", zs_acc);
            if (!logistic) printf(", \"srcc\": %.9g", zs_srcc);
            printf("}");
        }
        printf("}\n");
    } else {
        if (logistic)
            printf("trained %s: logistic regression on %d images (%d good, %d bad)", hp.name, l.n, l.n_good, l.n_bad);
        else
            printf("trained %s: ridge regression on %d rated images", hp.name, l.n);
        if (rep.copies) printf(", %d copies of other images kept in their folds", rep.copies);
        printf("\npenalty      lambda %.3g, chosen by %d-fold cross-validation\n", rep.lambda, rep.folds);
        if (logistic) printf("accuracy     %.4f cross-validated (log-loss %.4f)", cv_acc, rep.cv_secondary);
        else if (isnan(cv_acc)) printf("SRCC         %.4f cross-validated (MSE %.4g)", cv_srcc, rep.cv_secondary);
        else printf("SRCC         %.4f cross-validated (accuracy at %g: %.4f)", cv_srcc, cut, cv_acc);
        if (s.bank && logistic) printf("; zero-shot %s: %.4f", zi.name, zs_acc);
        if (s.bank && !logistic) printf("; zero-shot %s: %.4f (%.4f)", zi.name, zs_srcc, zs_acc);
        putchar('\n');
        printf("wrote        %s (score with --head %s)\n", out, out);
    }
    fflush(stdout);
    ret = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
done:
    free(oof);
    ae_head_free(head);
    scorer_close(&s);
    labelled_free(&l);
    return ret;
}
