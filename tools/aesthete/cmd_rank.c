/*
 * cmd_rank.c — `aesthete rank`: every image of folders, list files or stdin, scored and
 * sorted best first, with rank numbers; --top and --min-score keep the best.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "inputs.h"
#include "scale.h"
#include "scoring.h"

static void help(void)
{
    printf("usage: aesthete rank [OPTIONS] DIR|LIST|-...\n\n"
           "Scores every image of the arguments and prints them sorted best first.\n"
           "An argument is a folder (its images, recognised by content; -r: subfolders too),\n"
           "a list (a file named *.txt or *.lst, any other text file, or - for stdin: one path\n"
           "or http(s) URL per line; '#' comments), an image file, a URL, or a WebDataset shard\n"
           "(*.tar; brace lists such as 'data/{00000..00099}.tar' expanded). Columns: rank,\n"
           "score, probability, label, class, input.\n\n"
           "%s%s%s%s%s"
           "  -r, --recursive      descend into subfolders\n"
           "  --hidden             walk hidden files and folders too (names starting with '.')\n"
           "  --exclude GLOB       leave out files and folders whose name, or path below the\n"
           "                       folder given, matches GLOB (repeatable; e.g. '*.png', 'raw/*')\n"
           "  -n, --top K          print only the K best (with --reverse: the K worst)\n"
           "  --min-score S        print only images scoring at least S\n"
           "  --max-score S        print only images scoring at most S\n"
           "  --reverse            worst first (for culling by hand)\n"
           "  --paths              print the paths only, one per line, in rank order\n"
           "  -0, --null           with --paths: end each path with NUL instead of a newline\n"
           "                       (for xargs -0)\n"
           "  --copy-top DIR       copy the images printed into DIR as RANK-NAME (zero-padded\n"
           "                       rank, so the folder sorts as ranked); never replaces a file\n"
           "  --link-top DIR       the same with symbolic links to the images\n"
           "  --fast-decode        decode JPEGs by DCT scaling to about the size the resize needs\n"
           "                       (much faster on large photos; scores differ slightly from\n"
           "                       the exact, Pillow-identical decode: see README)\n"
           "  -h, --help           this text\n\n"
           "A progress bar is drawn on stderr when it is a terminal. Failed inputs (a missing\n"
           "file, an unreadable image) are reported on stderr (and as {\"input\", \"error\"}\n"
           "objects in jsonl/json) after the ranking; the others are still ranked.\n"
           "Exit status: 0 every input scored, 1 some failed, 2 usage or fatal error.\n",
           score_options_help, output_options_help, shard_options_help, scale_options_help, stream_option_help);
}

typedef struct rank_ctx {
    progress *pr;
} rank_ctx;

static void on_batch(void *ctx, const ae_scored *rows, int32_t first, int32_t n)
{
    rank_ctx *c = ctx;
    progress_update(c->pr, first + n);
}

static const ae_scored *sort_rows;
static int sort_sign; /* 1 best first, -1 worst first */
static int by_score(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float si = sort_rows[i].score.score, sj = sort_rows[j].score.score;
    if (si != sj) return (si > sj ? -1 : 1) * sort_sign;
    return i < j ? -1 : i > j; /* stable: input order among equals */
}

/* --copy-top / --link-top: the image of rank k into dir as "<k, zero-padded>-<name>";
 * 0, or -1 after the error (never replaces a file). */
static int place(const char *dir, int link, const char *input, int64_t k, int width)
{
    if (ae_is_url(input)) {
        cli_error("%s: not copied: a URL, not a local file", input);
        return -1;
    }
    const char *slash = strrchr(input, '/');
    char dst[PATH_MAX], abs[PATH_MAX];
    if (snprintf(dst, sizeof dst, "%s/%0*lld-%s", dir, width, (long long)k, slash ? slash + 1 : input) >=
        (int)sizeof dst) {
        cli_error("%s: not %s: the target path is too long", input, link ? "linked" : "copied");
        return -1;
    }
    int rc = link ? (realpath(input, abs) ? symlink(abs, dst) : -1) : cli_copy_noreplace(input, dst);
    if (rc != 0) {
        if (errno == EEXIST) cli_error("%s: not %s: %s exists (never replaced)", input, link ? "linked" : "copied", dst);
        else cli_error("%s: not %s to %s: %s", input, link ? "linked" : "copied", dst, strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_rank(int argc, char **argv)
{
    enum { OPT_MIN_SCORE = OPT_COMMAND, OPT_MAX_SCORE, OPT_REVERSE, OPT_PATHS, OPT_COPY_TOP, OPT_LINK_TOP,
           OPT_HIDDEN, OPT_EXCLUDE };
    static const struct option opts[] = {SCORE_OPTIONS, SCALE_OPTIONS, STREAM_OPTION,
                                         {"recursive", no_argument, 0, 'r'},
                                         {"top", required_argument, 0, 'n'},
                                         {"min-score", required_argument, 0, OPT_MIN_SCORE},
                                         {"max-score", required_argument, 0, OPT_MAX_SCORE},
                                         {"reverse", no_argument, 0, OPT_REVERSE},
                                         {"paths", no_argument, 0, OPT_PATHS},
                                         {"null", no_argument, 0, '0'},
                                         {"copy-top", required_argument, 0, OPT_COPY_TOP},
                                         {"link-top", required_argument, 0, OPT_LINK_TOP},
                                         {"hidden", no_argument, 0, OPT_HIDDEN},
                                         {"exclude", required_argument, 0, OPT_EXCLUDE},
                                         {"fast-decode", no_argument, 0, OPT_FAST_DECODE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    scale_opts so;
    scale_opts_init(&so);
    const char *excluded[MAX_EXCLUDE];
    ae_inputs in = {.exclude = excluded};
    int c, r, recursive = 0, has_min = 0, has_max = 0, paths = 0, nul = 0, link = 0;
    long top = 0;
    double min_score = 0, max_score = 0;
    const char *place_dir = NULL;
    sort_sign = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" SCORE_SHORT "rn:0h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_ALL_OK;
        case 'r': recursive = 1; continue;
        case OPT_FAST_DECODE: o.image.fast_decode = 1; continue;
        case 'n':
            if (cli_parse_int("rank", "--top", optarg, 1, 1L << 40, &top)) return EXIT_USAGE;
            continue;
        case OPT_MIN_SCORE:
        case OPT_MAX_SCORE:
            if (cli_parse_number("rank", c == OPT_MIN_SCORE ? "--min-score" : "--max-score", optarg,
                                 c == OPT_MIN_SCORE ? &min_score : &max_score))
                return EXIT_USAGE;
            *(c == OPT_MIN_SCORE ? &has_min : &has_max) = 1;
            continue;
        case OPT_REVERSE: sort_sign = -1; continue;
        case OPT_PATHS: paths = 1; continue;
        case '0': nul = paths = 1; continue;
        case OPT_COPY_TOP:
        case OPT_LINK_TOP:
            if (place_dir) return cli_usage_error("rank", "--copy-top and --link-top: give one, once");
            place_dir = optarg;
            link = c == OPT_LINK_TOP;
            continue;
        case OPT_HIDDEN: in.hidden = 1; continue;
        case OPT_EXCLUDE:
            if (in.n_exclude == MAX_EXCLUDE) return cli_usage_error("rank", "at most %d --exclude", MAX_EXCLUDE);
            excluded[in.n_exclude++] = optarg;
            continue;
        case '?':
        case ':': return cli_bad_option("rank", c, argc, argv);
        }
        if ((r = scale_opt(&so, c, optarg, "rank")) <= 0) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        if ((r = score_opt(&o, c, optarg, "rank")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("rank", '?', argc, argv);
    }
    if (so.stream) return optind == argc ? scale_stream(&o, "rank") : cli_usage_error("rank", "--stream reads stdin: no DIR or LIST");
    if (optind == argc) return cli_usage_error("rank", "no DIR, LIST or - given");
    if (so.out_dir && (top || has_min || has_max || sort_sign < 0 || paths || place_dir))
        return cli_usage_error("rank", "--out writes every row per shard: rank them with `aesthete merge --top K DIR`");
    if (paths && o.format != FMT_AUTO)
        return cli_usage_error("rank", "--paths (-0) prints paths only: drop --format");
    if (has_min && has_max && min_score > max_score)
        return cli_usage_error("rank", "--min-score %g is above --max-score %g", min_score, max_score);
    if (place_dir && mkdir(place_dir, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: %s", place_dir, strerror(errno));
        return EXIT_USAGE;
    }
    /* a missing argument is reported and the others are still ranked, as score does */
    int32_t n_args = argc - optind, failed_args = 0;
    char **arg_errors = calloc((size_t)n_args, sizeof *arg_errors);
    const char **bad_args = calloc((size_t)n_args, sizeof *bad_args);
    for (int i = optind; arg_errors && bad_args && i < argc; i++)
        if (ae_inputs_add(&in, argv[i], recursive, o.quiet ? NULL : cli_warn, NULL) != AE_OK) {
            bad_args[failed_args] = argv[i];
            arg_errors[failed_args++] = strdup(ae_last_error());
        }
    if (!arg_errors || !bad_args) return free(arg_errors), free(bad_args), ae_inputs_free(&in), cli_error("out of memory"), EXIT_USAGE;
    if (in.n == 0) {
        for (int32_t i = 0; i < failed_args; i++) cli_error("%s", arg_errors[i] ? arg_errors[i] : "out of memory");
        if (!failed_args) cli_error("no images found in %s%s", argv[optind], n_args > 1 ? " ..." : "");
        for (int32_t i = 0; i < failed_args; i++) free(arg_errors[i]);
        free(arg_errors), free(bad_args);
        ae_inputs_free(&in);
        return EXIT_SOME_FAILED;
    }
    if (so.out_dir) {
        for (int32_t i = 0; i < failed_args; i++) cli_error("%s", arg_errors[i] ? arg_errors[i] : "out of memory"), free(arg_errors[i]);
        free(arg_errors), free(bad_args);
        r = scale_run(&so, &o, &in, &(scale_job){SCALE_SCORE, "rank", NULL, NULL, NULL});
        ae_inputs_free(&in);
        return r ? r : failed_args ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    }
    ae_wds_feed *feed = NULL; /* the samples of tar shards */
    if ((r = scale_select(&so, &in, "rank")) || (r = scale_feed(&so, &in, ae_scorer_default_params().max_file_bytes, &feed))) {
        for (int32_t i = 0; i < failed_args; i++) free(arg_errors[i]);
        free(arg_errors), free(bad_args);
        ae_inputs_free(&in);
        return r;
    }
    scorer s;
    if ((r = scorer_open(&s, &o, "rank", 1))) {
        ae_wds_feed_free(feed);
        scorer_close(&s);
        for (int32_t i = 0; i < failed_args; i++) free(arg_errors[i]);
        free(arg_errors), free(bad_args);
        ae_inputs_free(&in);
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
    progress_begin(&pr, o.quiet ? 0 : in.n, "images");
    rank_ctx ctx = {&pr};
    ae_scorer_params sp = scorer_params(&o, &s);
    sp.on_read = progress_read;
    sp.on_read_ctx = &pr;
    scale_source(&sp, feed);
    int32_t failed = ae_score_inputs(s.session, s.bank, (const char *const *)in.items, in.n, &sp, rows, NULL,
                                     on_batch, &ctx);
    progress_end(&pr);
    int32_t place_failed = 0;
    if (failed < 0) {
        cli_error("%s", ae_last_error());
    } else {
        int32_t n_ok = 0;
        /* compared as floats, as scores are: a score printed (9 digits, which round-trip a
         * float) and given back as a bound keeps its image, whatever its last bits */
        const float lo = (float)min_score, hi = (float)max_score;
        for (int32_t i = 0; i < in.n; i++) {
            float v = rows[i].score.score;
            if (rows[i].rc == AE_OK && (!has_min || v >= lo) && (!has_max || v <= hi)) order[n_ok++] = i;
        }
        sort_rows = rows;
        qsort(order, (size_t)n_ok, sizeof *order, by_score);
        if (top && n_ok > top) n_ok = (int32_t)top;
        int width = 1;
        for (int32_t k = n_ok; k >= 10; k /= 10) width++;
        writer w;
        if (!paths) writer_begin(&w, o.format, 1, s.bank);
        for (int32_t k = 0; k < n_ok; k++) {
            const ae_scored *x = &rows[order[k]];
            if (paths) {
                fputs(x->input, stdout);
                putchar(nul ? '\0' : '\n');
            } else {
                out_row row = {k + 1, x->input, &x->score, score_class(s.bank, &x->score), NULL};
                writer_row(&w, &row);
            }
            if (place_dir) place_failed += place(place_dir, link, x->input, k + 1, width) != 0;
        }
        if (!paths) {
            for (int32_t i = 0; i < failed_args; i++) {
                out_row row = {0, bad_args[i], NULL, NULL, arg_errors[i] ? arg_errors[i] : "out of memory"};
                writer_row(&w, &row);
            }
            for (int32_t i = 0; i < in.n; i++)
                if (rows[i].rc != AE_OK) {
                    out_row row = {0, rows[i].input, &rows[i].score, NULL, rows[i].error};
                    writer_row(&w, &row);
                }
            writer_end(&w);
        } else {
            for (int32_t i = 0; i < failed_args; i++) cli_error("%s", arg_errors[i] ? arg_errors[i] : "out of memory");
            for (int32_t i = 0; i < in.n; i++)
                if (rows[i].rc != AE_OK) cli_error("%s", rows[i].error);
            fflush(stdout);
        }
    }
    if (failed >= 0) print_summary(&o, rows, in.n, &in);
    free(rows), free(order);
    for (int32_t i = 0; i < failed_args; i++) free(arg_errors[i]);
    free(arg_errors), free(bad_args);
    scorer_close(&s);
    ae_inputs_free(&in);
    ae_wds_feed_free(feed);
    return failed < 0 ? EXIT_USAGE : failed || failed_args || place_failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
