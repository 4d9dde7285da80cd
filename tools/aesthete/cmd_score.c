/*
 * cmd_score.c — `aesthete score`: the aesthetic score of each input image (file or URL), in
 * input order, or of each row of a file of precomputed embeddings (--embeddings).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scale.h"
#include "scoring.h"

static void help(void)
{
    printf("usage: aesthete score [OPTIONS] INPUT...|-\n"
           "       aesthete score [--bank FILE | --method laion [--laion-head H]] --embeddings FILE\n\n"
           "Scores images (files or http(s) URLs) by aesthetic quality, in input order:\n"
           "score = 1000 * (cos(image, positive) - cos(image, negative)), higher is better;\n"
           "probability = softmax(100 * [cos_pos, cos_neg])[0]; label good or bad; class (context).\n"
           "With --embeddings, scores the rows of a .npy (float32/float16, [N, D] or [D]) or raw\n"
           "float32 file instead, without the vision tower; inputs are named FILE#row.\n"
           "An INPUT of - is one image read from stdin (e.g. curl -s URL | aesthete score -);\n"
           "one ending in .tar is a WebDataset shard (its samples, named SHARD#KEY); brace lists\n"
           "('data/{00000..00099}.tar') are expanded.\n\n"
           "%s%s%s%s%s"
           "  --embeddings FILE    score precomputed image embeddings\n"
           "  --fast-decode        decode JPEGs by DCT scaling to about the size the resize needs\n"
           "                       (much faster on large photos; scores differ slightly from\n"
           "                       the exact, Pillow-identical decode: see README)\n"
           "  -h, --help           this text\n\n"
           "Exit status: 0 every input scored, 1 some failed, 2 usage or fatal error.\n",
           score_options_help, output_options_help, shard_options_help, scale_options_help, stream_option_help);
}

static int score_embeddings(const score_opts *o, const char *file)
{
    scorer s;
    int rc = scorer_open(&s, o, "score", 0);
    if (rc) {
        scorer_close(&s);
        return rc;
    }
    ae_head_info bi;
    ae_head_get_info(s.bank, &bi);
    float *data = NULL;
    int32_t rows = 0, cols = 0;
    if (ae_read_matrix(file, bi.dim, &data, &rows, &cols) != AE_OK) {
        cli_error("%s", ae_last_error());
        scorer_close(&s);
        return EXIT_USAGE;
    }
    writer w;
    writer_begin(&w, o->format, 0, s.bank);
    int failed = 0;
    size_t cap = strlen(file) + 24;
    char *name = malloc(cap);
    for (int32_t i = 0; name && i < rows; i++) {
        ae_score sc;
        snprintf(name, cap, "%s#%d", file, i);
        int r = ae_head_score(s.bank, data + (size_t)i * cols, 1, &sc);
        char err[600];
        if (r != AE_OK) snprintf(err, sizeof err, "%s: %s", name, ae_last_error());
        out_row row = {0, name, &sc, r == AE_OK ? score_class(s.bank, &sc) : NULL, r == AE_OK ? NULL : err};
        writer_row(&w, &row);
        failed += r != AE_OK;
    }
    writer_end(&w);
    free(name);
    free(data);
    scorer_close(&s);
    return failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

int cmd_score(int argc, char **argv)
{
    enum { OPT_EMBEDDINGS = OPT_COMMAND };
    static const struct option opts[] = {SCORE_OPTIONS, SCALE_OPTIONS, STREAM_OPTION,
                                         {"embeddings", required_argument, 0, OPT_EMBEDDINGS},
                                         {"fast-decode", no_argument, 0, OPT_FAST_DECODE},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    const char *embeddings = NULL;
    scale_opts so;
    scale_opts_init(&so);
    int c, r;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" SCORE_SHORT "h", opts, NULL)) != -1) {
        if (c == 'h') return help(), EXIT_ALL_OK;
        if (c == '?' || c == ':') return cli_bad_option("score", c, argc, argv);
        if (c == OPT_EMBEDDINGS) {
            embeddings = optarg;
            continue;
        }
        if (c == OPT_FAST_DECODE) {
            o.image.fast_decode = 1;
            continue;
        }
        if ((r = scale_opt(&so, c, optarg, "score")) <= 0) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        if ((r = score_opt(&o, c, optarg, "score")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("score", '?', argc, argv);
    }
    if (embeddings) {
        if (optind != argc) return cli_usage_error("score", "--embeddings takes no INPUT arguments");
        return score_embeddings(&o, embeddings);
    }
    if (so.stream) return optind == argc ? scale_stream(&o, "score") : cli_usage_error("score", "--stream reads stdin: no INPUT");
    if (argc == optind) return cli_usage_error("score", "no INPUT given");
    for (int i = optind, stdin_seen = 0; i < argc; i++)
        if (!strcmp(argv[i], "-") && stdin_seen++)
            return cli_usage_error("score", "- (stdin) can be read once: name it once");
    ae_inputs in = {0};
    ae_wds_feed *feed = NULL; /* the samples of tar shards */
    if ((r = scale_args(argv + optind, argc - optind, &in)) || so.out_dir) {
        if (!r) r = scale_run(&so, &o, &in, &(scale_job){SCALE_SCORE, "score", NULL, NULL, NULL});
        ae_inputs_free(&in);
        return r;
    }
    if ((r = scale_select(&so, &in, "score")) || (r = scale_feed(&so, &in, ae_scorer_default_params().max_file_bytes, &feed))) {
        ae_inputs_free(&in);
        return r;
    }
    int n = in.n;
    scorer s;
    if ((r = scorer_open(&s, &o, "score", 1))) {
        scorer_close(&s);
        ae_inputs_free(&in);
        ae_wds_feed_free(feed);
        return r;
    }
    ae_scored *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    if (!rows) {
        scorer_close(&s);
        ae_inputs_free(&in);
        ae_wds_feed_free(feed);
        return cli_error("out of memory"), EXIT_USAGE;
    }
    writer w;
    writer_begin(&w, o.format, 0, s.bank);
    row_stream ctx = {&w, s.bank}; /* rows are written as each batch finishes */
    ae_scorer_params sp = scorer_params(&o, &s);
    scale_source(&sp, feed);
    int32_t failed = ae_score_inputs(s.session, s.bank, (const char *const *)in.items, n, &sp, rows, NULL,
                                     write_scored_rows, &ctx);
    writer_end(&w);
    if (failed < 0) cli_error("%s", ae_last_error());
    if (failed >= 0) print_summary(&o, rows, n, NULL);
    free(rows);
    scorer_close(&s);
    ae_inputs_free(&in);
    ae_wds_feed_free(feed);
    return failed < 0 ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
