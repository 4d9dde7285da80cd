/*
 * cmd_eval.c — `aesthete eval`: the protocol of "CLIP knows image aesthetics" (Hentschel,
 * Kobs, Hotho 2022) for every head given, on AVA or the user's own rated images: an image is
 * good iff its mean rating is > 5 (--cut); a head is judged by the binary accuracy of its
 * good/bad decision (its label: the positive prompts win, or score >= the head's cut), and
 * by Spearman's (SRCC) and Pearson's (PLCC) correlation of its scores with the ratings, with
 * percentile-bootstrap 95% intervals on request. The images are embedded once, through the
 * cache; every head scores the same embeddings.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "labelled.h"
#include "plot.h"
#include "scoring.h"
#include "stats.h"

#define MAX_HEADS 16

static void help(void)
{
    printf("usage: aesthete eval (--ava AVA.txt --images DIR | --ratings FILE | --good DIR --bad DIR)\n"
           "                     [--method M]... [--head FILE]... [OPTIONS]\n\n"
           "Judges heads against human ratings as the paper does on AVA: an image is good iff its\n"
           "rating is > --cut (5; 0.5 for good/bad labels). Per head: the binary accuracy of its\n"
           "good/bad label, SRCC and PLCC of its scores with the ratings. --method and --head\n"
           "are repeatable, in any mix, up to %d (default: --method fixed --method ensemble);\n"
           "the prompt options (--positive, --classes, ...) apply to every --method.\n\n"
           "%s"
           "  --cut X              truth: good iff rating > X (default 5, or 0.5 for labels)\n"
           "  --bootstrap N        95%% percentile intervals from N resamples (e.g. 1000)\n"
           "  --seed S             of the bootstrap (default 20221)\n"
           "  --plot FILE.png      score vs rating, one panel per head\n"
           "%s%s"
           "  -h, --help           this text\n\n"
           "--format json prints one JSON object; otherwise a table.\n"
           "Exit status: 0 every image read; 1 some images failed (reported, left out);\n"
           "2 usage or fatal error.\n",
           MAX_HEADS, labelled_options_help, score_options_help, output_options_help);
}

typedef struct head_spec {
    int method;       /* ae_method, or -1 */
    const char *file; /* --head FILE, or NULL */
} head_spec;

typedef struct head_eval {
    ae_head *head;    /* owned unless it is the scorer's */
    char name[160];
    const char *method;
    stats_interval m[3]; /* accuracy, SRCC, PLCC */
    double *score;
} head_eval;

static const char *const metric_name[3] = {"accuracy", "srcc", "plcc"};

static void put_num(double v)
{
    if (isnan(v)) printf("null");
    else printf("%.17g", v);
}

static void table(const head_eval *e, int ne, const labelled *l, double cut, long boot)
{
    printf("%d images, %s; good iff %s > %g (%d good, %d bad)\n", l->n, l->ratings ? "rated" : "labelled good/bad",
           l->ratings ? "rating" : "label", cut, l->n_good, l->n_bad);
    printf("%-32s  %-18s  %-18s  %-18s\n", "head", "accuracy", "SRCC", "PLCC");
    for (int h = 0; h < ne; h++) {
        printf("%-32.32s", e[h].name);
        for (int k = 0; k < 3; k++) {
            char cell[64];
            const stats_interval *m = &e[h].m[k];
            if (isnan(m->value)) snprintf(cell, sizeof cell, "-");
            else if (boot > 0 && !isnan(m->lo)) snprintf(cell, sizeof cell, "%.4f [%.4f, %.4f]", m->value, m->lo, m->hi);
            else snprintf(cell, sizeof cell, "%.4f", m->value);
            printf("  %-18s", cell);
        }
        putchar('\n');
    }
    if (boot > 0) printf("[lo, hi]: 95%% percentile bootstrap intervals over %ld resamples\n", boot);
}

static void json(const head_eval *e, int ne, const labelled *l, double cut, long boot, int32_t failed)
{
    printf("{\"images\": %d, \"failed\": %d, \"not_rated\": %lld, \"kind\": \"%s\", \"cut\": %.9g, \"good\": %d, "
           "\"bad\": %d, \"bootstrap\": %ld, \"heads\": [",
           l->n, failed, (long long)l->not_rated, l->ratings ? "ratings" : "labels", cut, l->n_good, l->n_bad, boot);
    for (int h = 0; h < ne; h++) {
        printf("%s{\"name\": ", h ? ", " : "");
        put_json_string(stdout, e[h].name, strlen(e[h].name));
        printf(", \"method\": \"%s\"", e[h].method);
        for (int k = 0; k < 3; k++) {
            printf(", \"%s\": ", metric_name[k]);
            if (boot > 0) {
                printf("{\"value\": ");
                put_num(e[h].m[k].value);
                printf(", \"lo\": ");
                put_num(e[h].m[k].lo);
                printf(", \"hi\": ");
                put_num(e[h].m[k].hi);
                printf("}");
            } else {
                put_num(e[h].m[k].value);
            }
        }
        printf("}");
    }
    printf("]}\n");
}

static int plot(const char *path, const head_eval *e, int ne, const labelled *l, double cut)
{
    ae_plot_series ser[MAX_HEADS];
    char notes[MAX_HEADS][96];
    for (int h = 0; h < ne; h++) {
        snprintf(notes[h], sizeof notes[h], "acc %.3f  SRCC %.3f  PLCC %.3f", e[h].m[0].value, e[h].m[1].value,
                 e[h].m[2].value);
        ser[h] = (ae_plot_series){e[h].name, notes[h], l->value, e[h].score, l->n};
    }
    ae_plot_params pp = ae_plot_default_params();
    pp.x_label = l->ratings ? "rating" : "label";
    pp.y_label = "score";
    pp.x_cut = cut;
    pp.has_x_cut = 1;
    if (ae_plot_scatter_png(path, ser, ne, &pp) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    enum { O_CUT = OPT_COMMAND, O_BOOT, O_SEED, O_PLOT };
    static const struct option opts[] = {SCORE_OPTIONS, LABELLED_OPTIONS,
                                         {"cut", required_argument, 0, O_CUT},
                                         {"bootstrap", required_argument, 0, O_BOOT},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"plot", required_argument, 0, O_PLOT},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    labelled_opts lo = {0};
    head_spec spec[MAX_HEADS];
    int ns = 0, has_cut = 0, c, r;
    double cut = 5;
    long boot = 0, seed = 20221;
    const char *plot_path = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" SCORE_SHORT "rh", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_ALL_OK;
        case '?':
        case ':': return cli_bad_option("eval", c, argc, argv);
        case O_CUT:
            if (cli_parse_number("eval", "--cut", optarg, &cut)) return EXIT_USAGE;
            has_cut = 1;
            continue;
        case O_BOOT:
            if (cli_parse_int("eval", "--bootstrap", optarg, 1, 1000000, &boot)) return EXIT_USAGE;
            continue;
        case O_SEED:
            if (cli_parse_int("eval", "--seed", optarg, 0, 1L << 62, &seed)) return EXIT_USAGE;
            continue;
        case O_PLOT: plot_path = optarg; continue;
        case OPT_METHOD: /* --method, --head: repeatable here */
        case OPT_HEAD:
            if (ns == MAX_HEADS) return cli_usage_error("eval", "more than %d heads", MAX_HEADS);
            if ((r = score_opt(&o, c, optarg, "eval"))) return EXIT_USAGE;
            spec[ns++] = c == OPT_METHOD ? (head_spec){o.method, NULL} : (head_spec){-1, optarg};
            o.method = -1, o.bank_path = NULL;
            continue;
        }
        if ((r = labelled_opt(&lo, c, optarg, "eval")) < 0) return EXIT_USAGE;
        if (r == 0) continue;
        if ((r = score_opt(&o, c, optarg, "eval")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("eval", '?', argc, argv);
    }
    if (optind != argc) return cli_usage_error("eval", "unexpected argument '%s' (images go with --images, --ratings or --good/--bad)", argv[optind]);
    if (o.format != FMT_AUTO && o.format != FMT_TABLE && o.format != FMT_JSON)
        return cli_usage_error("eval", "--format: the report is a table or json");
    if (lo.embeddings && o.model) return cli_usage_error("eval", "--embeddings are made already: no --model");
    if (ns == 0) {
        if (lo.embeddings) return cli_usage_error("eval", "--embeddings needs --head FILE or --method laion|laion-v2");
        spec[ns++] = (head_spec){AE_METHOD_FIXED, NULL};
        spec[ns++] = (head_spec){AE_METHOD_ENSEMBLE, NULL};
    }

    labelled l;
    if ((r = labelled_load(&lo, "eval", &l))) return r;
    if (!has_cut && !l.ratings) cut = 0.5;
    head_eval e[MAX_HEADS];
    memset(e, 0, sizeof e);
    scorer s;
    memset(&s, 0, sizeof s);
    int ret = EXIT_USAGE, ne = 0;
    int32_t failed = -1;
    for (int h = 0; h < ns; h++) {
        score_opts oh = o;
        oh.method = spec[h].method;
        oh.bank_path = spec[h].file;
        if (spec[h].file) /* the prompt options are for the methods */
            oh.positive = oh.negative = oh.template_text = oh.classes_path = NULL;
        if (h == 0 && !lo.embeddings) {
            if ((r = scorer_open(&s, &oh, "eval", 1))) goto done;
            e[0].head = s.bank;
        } else if ((r = scorer_add_head(&s, &oh, "eval", &e[h].head))) {
            goto done;
        }
        ne = h + 1;
        ae_head_info hi;
        ae_head_get_info(e[h].head, &hi);
        e[h].method = ae_method_name(hi.method);
        if (spec[h].file) snprintf(e[h].name, sizeof e[h].name, "%s", hi.name);
        else if (hi.kind == AE_HEAD_PROMPTS && hi.n_classes)
            snprintf(e[h].name, sizeof e[h].name, "%s (%d classes)", hi.name, hi.n_classes);
        else snprintf(e[h].name, sizeof e[h].name, "%s", hi.name);
    }
    s.bank = e[0].head; /* scores while embedding; with --embeddings, gives their dimension */
    if ((failed = labelled_embed(&s, &o, &lo, &l)) < 0) goto done;
    if (l.n < 2) {
        cli_error("only %d image%s could be read: nothing to correlate", l.n, l.n == 1 ? "" : "s");
        goto done;
    }
    ae_score *sc = malloc(sizeof *sc * (size_t)l.n);
    for (int h = 0; sc && h < ne; h++) {
        if ((h > 0 || lo.embeddings) && ae_head_score(e[h].head, l.embeds, l.n, sc) != AE_OK) {
            cli_error("%s: %s", e[h].name, ae_last_error());
            free(sc);
            goto done;
        }
        if (!(e[h].score = malloc(sizeof *e[h].score * (size_t)l.n)) ||
            labelled_figures(&l, h > 0 || lo.embeddings ? sc : l.scores, cut, (int32_t)boot, (uint64_t)seed, e[h].m,
                             e[h].score)) {
            if (!e[h].score) cli_error("out of memory");
            free(sc);
            goto done;
        }
    }
    if (!sc) {
        cli_error("out of memory");
        goto done;
    }
    free(sc);
    if (o.format == FMT_JSON) json(e, ne, &l, cut, boot, failed);
    else table(e, ne, &l, cut, boot);
    fflush(stdout);
    if (plot_path && (r = plot(plot_path, e, ne, &l, cut))) goto done;
    ret = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
done:
    for (int h = 0; h < ne; h++) {
        if (e[h].head != s.bank) ae_head_free(e[h].head);
        free(e[h].score);
    }
    scorer_close(&s);
    labelled_free(&l);
    return ret;
}
