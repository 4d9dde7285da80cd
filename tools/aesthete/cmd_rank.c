/*
 * cmd_rank.c — `aesthete rank`: every image of folders, list files or stdin, scored and
 * sorted best first, with rank numbers; --top and --min-score keep the best.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inputs.h"
#include "scale.h"
#include "scoring.h"

static void help(void)
{
    printf("usage: aesthete rank [OPTIONS] DIR|LIST|-...\n\n"
           "Scores every image of the arguments and prints them sorted best first.\n"
           "An argument is a folder (its images, recognised by content; -r: subfolders too),\n"
           "a list file or - for stdin (one path or http(s) URL per line; '#' comments),\n"
           "an image file or a URL, a WebDataset shard (*.tar; brace lists expanded).\n"
           "Columns: rank, score, probability, label, class, input.\n\n"
           "%s"
           "  -r, --recursive      descend into subfolders\n"
           "  --top K              print only the K best\n"
           "  --min-score S        print only images scoring at least S\n"
           "  --fast-decode        decode JPEGs by DCT scaling to about the size the resize needs\n"
           "                       (much faster on large photos; scores differ slightly from\n"
           "                       the exact, Pillow-identical decode: see README)\n"
           "%s%s%s"
           "  --help               this text\n\n"
           "A progress bar is drawn on stderr when it is a terminal. Failed inputs are reported\n"
           "on stderr (and as {\"input\", \"error\"} objects in jsonl/json) after the ranking.\n"
           "Exit status: 0 every input scored, 1 some failed, 2 usage or fatal error.\n",
           score_options_help, shard_options_help, scale_options_help, stream_option_help);
}

static void warn(void *ctx, const char *msg) { cli_error("warning: %s", msg); }

typedef struct rank_ctx {
    progress *pr;
} rank_ctx;

static void on_batch(void *ctx, const ae_scored *rows, int32_t first, int32_t n)
{
    rank_ctx *c = ctx;
    progress_update(c->pr, first + n);
}

static const ae_scored *sort_rows;
static int by_score(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float si = sort_rows[i].score.score, sj = sort_rows[j].score.score;
    if (si != sj) return si > sj ? -1 : 1;
    return i < j ? -1 : i > j; /* stable: input order among equals */
}

int cmd_rank(int argc, char **argv)
{
    static const struct option opts[] = {SCORE_OPTIONS, SCALE_OPTIONS, STREAM_OPTION,
                                         {"recursive", no_argument, 0, 'r'},
                                         {"top", required_argument, 0, 'k'},
                                         {"min-score", required_argument, 0, 's'},
                                         {"fast-decode", no_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    scale_opts so;
    scale_opts_init(&so);
    int c, r, recursive = 0, has_min = 0;
    long top = 0;
    double min_score = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "r", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_ALL_OK;
        case 'r': recursive = 1; continue;
        case 'F': o.image.fast_decode = 1; continue;
        case 'k':
            if (cli_parse_int("rank", "--top", optarg, 1, 1L << 40, &top)) return EXIT_USAGE;
            continue;
        case 's': {
            char *end;
            min_score = strtod(optarg, &end);
            if (end == optarg || *end || min_score != min_score)
                return cli_usage_error("rank", "--min-score: '%s' is not a number", optarg);
            has_min = 1;
            continue;
        }
        }
        if ((r = scale_opt(&so, c, optarg, "rank")) <= 0) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        if ((r = score_opt(&o, c, optarg, "rank")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_usage_error("rank", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (so.stream) return optind == argc ? scale_stream(&o, "rank") : cli_usage_error("rank", "--stream reads stdin: no DIR or LIST");
    if (optind == argc) return cli_usage_error("rank", "no DIR, LIST or - given");
    if (so.out_dir && (top || has_min))
        return cli_usage_error("rank", "--out writes every row per shard: rank them with `aesthete merge --top K DIR`");
    ae_inputs in = {0};
    for (int i = optind; i < argc; i++)
        if (ae_inputs_add(&in, argv[i], recursive, warn, NULL) != AE_OK) {
            cli_error("%s", ae_last_error());
            ae_inputs_free(&in);
            return EXIT_USAGE;
        }
    if (in.n == 0) {
        cli_error("no images found in %s%s", argv[optind], argc - optind > 1 ? " ..." : "");
        ae_inputs_free(&in);
        return EXIT_SOME_FAILED;
    }
    if (so.out_dir) {
        r = scale_run(&so, &o, &in, "rank");
        ae_inputs_free(&in);
        return r;
    }
    ae_wds_feed *feed = NULL; /* the samples of tar shards */
    if ((r = scale_select(&so, &in, "rank")) || (r = scale_feed(&so, &in, (int64_t)1 << 30, &feed))) {
        ae_inputs_free(&in);
        return r;
    }
    scorer s;
    if ((r = scorer_open(&s, &o, "rank", 1))) {
        scorer_close(&s);
        ae_inputs_free(&in);
        ae_wds_feed_free(feed);
        return r;
    }
    ae_scored *rows = calloc((size_t)(in.n ? in.n : 1), sizeof *rows);
    int32_t *order = calloc((size_t)(in.n ? in.n : 1), sizeof *order);
    if (!rows || !order) {
        free(rows), free(order);
        scorer_close(&s);
        ae_inputs_free(&in);
        return cli_error("out of memory"), EXIT_USAGE;
    }
    progress pr;
    progress_begin(&pr, in.n, "images");
    rank_ctx ctx = {&pr};
    ae_scorer_params sp = ae_scorer_default_params();
    sp.image = o.image;
    sp.cache = s.cache;
    scale_source(&sp, feed);
    int32_t failed = ae_score_inputs(s.session, s.bank, (const char *const *)in.items, in.n, &sp, rows, NULL,
                                     on_batch, &ctx);
    progress_end(&pr);
    if (failed < 0) {
        cli_error("%s", ae_last_error());
    } else {
        int32_t n_ok = 0;
        for (int32_t i = 0; i < in.n; i++)
            if (rows[i].rc == AE_OK) order[n_ok++] = i;
        sort_rows = rows;
        qsort(order, (size_t)n_ok, sizeof *order, by_score);
        writer w;
        writer_begin(&w, o.format, 1, s.bank);
        for (int32_t k = 0; k < n_ok; k++) {
            const ae_scored *x = &rows[order[k]];
            if (top && k >= top) break;
            if (has_min && x->score.score < min_score) break;
            out_row row = {k + 1, x->input, &x->score, score_class(s.bank, &x->score), NULL};
            writer_row(&w, &row);
        }
        for (int32_t i = 0; i < in.n; i++)
            if (rows[i].rc != AE_OK) {
                out_row row = {0, rows[i].input, &rows[i].score, NULL, rows[i].error};
                writer_row(&w, &row);
            }
        writer_end(&w);
    }
    if (failed >= 0) print_summary(&o, rows, in.n);
    free(rows), free(order);
    scorer_close(&s);
    ae_inputs_free(&in);
    ae_wds_feed_free(feed);
    return failed < 0 ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
