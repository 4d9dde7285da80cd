/*
 * cmd_embed.c — `aesthete embed`: CLIP embeddings of images or texts as JSON Lines, one
 * object per input, in input order: {"input": ..., "embedding": [...]} (the projected,
 * un-normalised image_embeds / text_embeds), or {"input": ..., "error": ...}.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scale.h"

#define CHUNK 1024 /* images per call of the pipeline (it batches them itself) */

static void help(void)
{
    printf("usage: aesthete embed [OPTIONS] INPUT...\n"
           "       aesthete embed [OPTIONS] --text TEXT...\n\n"
           "Prints one JSON object per input on stdout: {\"input\": ..., \"embedding\": [...]}\n"
           "(projected, un-normalised CLIP embeds), or {\"input\": ..., \"error\": ...}.\n"
           "An INPUT is an image file, an http(s) URL or a WebDataset shard (*.tar: its samples,\n"
           "named SHARD#KEY); brace lists ('data/{00000..00099}.tar') are expanded. With --out,\n"
           "per-shard float16 L2-normalised img_emb_*.npy and metadata instead (see README).\n\n"
           "  -m, --model M     model directory or Hugging Face repo id org/name[@revision]\n"
           "                    (default: $AESTHETE_MODEL or %s)\n"
           "  --text            the arguments are texts, not image files\n"
           "  --precision P     the image encoder's arithmetic: fp32, int8 or bf16 (bf16 needs\n"
           "                    a CPU with AVX512_BF16); faster, embeddings differ slightly:\n"
           "                    see README (default: $AESTHETE_PRECISION or fp32)\n"
           "  --text-precision P  the text encoder's (--text): fp32, int8 or bf16 (default:\n"
           "                    fp32, whatever --precision is)\n"
           "  --threads N       worker threads (default: 0 = all cores)\n"
           "  --no-exif-rotate  ignore EXIF orientation (bit-exact with transformers)\n"
           "  --max-pixels N    refuse images larger than N pixels (default: 100e6)\n"
           "  --fast-decode     decode JPEGs by DCT scaling (faster, embeddings differ slightly)\n"
           "  --verbose         with --out: say which shards were skipped\n"
           "%s%s"
           "  -h, --help        this text\n"
           "  --                end of options (a text may start with '-')\n\n"
           "Texts longer than the context (77 tokens) are truncated with a warning, as CLIP does.\n"
           "Exit status: 0 all inputs embedded, 1 some failed, 2 usage or model error.\n",
           DEFAULT_MODEL, shard_options_help, scale_options_help);
}

static int embed_texts(ae_session *s, const ae_model *m, char **texts, int n)
{
    int32_t dim = ae_model_embed_dim(m);
    ae_model_info info;
    ae_model_get_info(m, &info);
    float *emb = malloc(sizeof(float) * (size_t)dim * (size_t)n);
    const char **ok = malloc(sizeof(char *) * (size_t)n);
    int *status = malloc(sizeof(int) * (size_t)n);
    char **errs = calloc((size_t)n, sizeof(char *));
    int failed = 0, n_ok = 0;
    if (!emb || !ok || !status || !errs) {
        free(emb), free(ok), free(status), free(errs);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    /* tokenize first: invalid texts get their error, long ones a warning */
    for (int i = 0; i < n; i++) {
        size_t n_ids = 0;
        status[i] = ae_tokenize(m, texts[i], strlen(texts[i]), 0, NULL, 0, &n_ids);
        if (status[i] != AE_OK) {
            errs[i] = strdup(ae_last_error()[0] ? ae_last_error() : ae_strerror(status[i]));
            continue;
        }
        if (n_ids > (size_t)info.context_length)
            cli_error("text %d: %zu tokens, truncated to the context length %d", i + 1, n_ids,
                      info.context_length);
        ok[n_ok++] = texts[i];
    }
    int rc = n_ok ? ae_encode_texts(s, ok, n_ok, emb) : AE_OK;
    for (int i = 0, k = 0; i < n; i++) {
        const char *err = status[i] != AE_OK ? (errs[i] ? errs[i] : ae_strerror(status[i]))
                          : rc != AE_OK                ? ae_last_error()
                                                       : NULL;
        fputs("{\"input\": ", stdout);
        put_json_string(stdout, texts[i], strlen(texts[i]));
        if (!err) {
            fputs(", \"embedding\": ", stdout);
            put_json_floats(stdout, emb + (size_t)k * dim, dim);
        } else {
            fputs(", \"error\": ", stdout);
            put_json_string(stdout, err, strlen(err));
            cli_error("text %d: %s", i + 1, err);
            failed++;
        }
        if (status[i] == AE_OK) k++;
        fputs("}\n", stdout);
    }
    for (int i = 0; i < n; i++) free(errs[i]);
    free(emb), free(ok), free(status), free(errs);
    return failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

typedef struct embed_rows {
    const float *emb;  /* the chunk's embeddings, by input */
    int32_t dim, base; /* base: the chunk's first input */
    ae_wds_feed *feed; /* the samples of tar shards, or NULL */
} embed_rows;

/* an ae_scored_fn: the finished rows of a batch as {"input", "embedding"} or their error */
static void put_rows(void *ctx, const ae_scored *rows, int32_t first, int32_t n)
{
    const embed_rows *e = ctx;
    for (int32_t i = first; i < first + n; i++) {
        fputs("{\"input\": ", stdout);
        put_json_string(stdout, rows[i].input, strlen(rows[i].input));
        if (rows[i].rc == AE_OK) {
            fputs(", \"embedding\": ", stdout);
            put_json_floats(stdout, e->emb + (size_t)i * e->dim, e->dim);
        } else {
            fputs(", \"error\": ", stdout);
            put_json_string(stdout, rows[i].error, strlen(rows[i].error));
            cli_error("%s", rows[i].error);
        }
        fputs("}\n", stdout);
    }
    fflush(stdout);
}

/* the feed's source for a chunk of its inputs: indices from the chunk's first */
static int chunk_source(void *ctx, int32_t i, const char *input, ae_buffer *body, char *err, size_t cap)
{
    embed_rows *e = ctx;
    return ae_wds_source(e->feed, e->base + i, input, body, err, cap);
}

/* The images (files, URLs, samples of tar shards) through the scoring pipeline without a
 * head: the decode, batching and tar source of score; no cache. */
static int embed_images(const score_opts *o, ae_inputs *in, ae_wds_feed *feed)
{
    scorer s;
    int rc = scale_open_embedder(&s, o);
    int32_t dim = s.model ? ae_model_embed_dim(s.model) : 0;
    ae_scored *rows = calloc(CHUNK, sizeof *rows);
    float *emb = malloc(sizeof(float) * (size_t)dim * CHUNK);
    if (!rc && (!rows || !emb)) rc = EXIT_USAGE, cli_error("out of memory");
    ae_scorer_params sp = scorer_params(o, &s);
    embed_rows e = {emb, dim, 0, feed};
    if (feed) sp.source = chunk_source, sp.source_ctx = &e;
    int64_t failed = 0;
    /* in chunks, so memory stays that of CHUNK embeddings however long the list */
    for (int32_t base = 0; !rc && base < in->n; base += CHUNK) {
        int32_t k = in->n - base < CHUNK ? in->n - base : CHUNK;
        e.base = base;
        int32_t f = ae_score_inputs(s.session, NULL, (const char *const *)in->items + base, k, &sp, rows, emb, put_rows, &e);
        if (f < 0) rc = EXIT_USAGE, cli_error("%s", ae_last_error());
        else failed += f;
    }
    free(rows), free(emb);
    scorer_close(&s);
    return rc ? rc : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

int cmd_embed(int argc, char **argv)
{
    enum { OPT_TEXT = OPT_COMMAND };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"text", no_argument, 0, OPT_TEXT},
        {"threads", required_argument, 0, OPT_THREADS}, {"no-exif-rotate", no_argument, 0, OPT_NO_EXIF_ROTATE},
        {"max-pixels", required_argument, 0, OPT_MAX_PIXELS}, {"help", no_argument, 0, 'h'},
        {"fast-decode", no_argument, 0, OPT_FAST_DECODE}, {"precision", required_argument, 0, OPT_PRECISION},
        {"text-precision", required_argument, 0, OPT_TEXT_PRECISION}, {"verbose", no_argument, 0, OPT_VERBOSE},
        SCALE_OPTIONS, {0, 0, 0, 0}};
    scale_opts so;
    scale_opts_init(&so);
    score_opts o; /* what the image path takes of the scoring options */
    score_opts_init(&o);
    int text = 0, text_precision = -1, r;
    long maxpix = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case OPT_TEXT: text = 1; break;
        case OPT_PRECISION: if ((o.precision = cli_parse_precision("embed", "--precision", optarg)) < 0) return EXIT_USAGE; break;
        case OPT_TEXT_PRECISION:
            if ((text_precision = cli_parse_precision("embed", "--text-precision", optarg)) < 0) return EXIT_USAGE;
            break;
        case OPT_THREADS: if (cli_parse_int("embed", "--threads", optarg, 0, 1024, &o.threads)) return EXIT_USAGE; break;
        case OPT_NO_EXIF_ROTATE: o.image.exif_rotate = 0; break;
        case OPT_FAST_DECODE: o.image.fast_decode = 1; break;
        case OPT_MAX_PIXELS:
            if (cli_parse_int("embed", "--max-pixels", optarg, 1, 1L << 40, &maxpix)) return EXIT_USAGE;
            o.image.max_pixels = (uint64_t)maxpix;
            break;
        case OPT_VERBOSE: o.verbose = 1; break;
        case 'h': help(); return EXIT_ALL_OK;
        default:
            if ((r = scale_opt(&so, c, optarg, "embed")) < 0) return EXIT_USAGE;
            if (r > 0) return cli_bad_option("embed", c, argc, argv);
        }
    }
    int n = argc - optind;
    if (n == 0) return cli_usage_error("embed", text ? "no TEXT given" : "no IMAGE given");
    if (text && (so.out_dir || so.n_keep || so.force))
        return cli_usage_error("embed", "--out, --keep and --force are for images, not --text");
    if (text) {
        int first, count; /* this task's part of the arguments */
        if (scale_select_args(&so, n, "embed", &first, &count)) return EXIT_USAGE;
        optind += first, n = count;
        if (n == 0) return EXIT_ALL_OK;
        ae_model *m = cli_load_model(o.model, 1, 0, o.precision, text_precision);
        if (!m) return EXIT_USAGE;
        ae_session_params sp = ae_session_default_params();
        sp.n_threads = (int32_t)o.threads;
        ae_session *s = NULL;
        if (ae_session_new(m, &sp, &s) != AE_OK) {
            cli_error("%s", ae_last_error());
            ae_model_free(m);
            return EXIT_USAGE;
        }
        int ret = embed_texts(s, m, argv + optind, n);
        ae_session_free(s);
        ae_model_free(m);
        return ret;
    }
    /* images: the inputs of score (files, URLs, tar shards, brace lists) */
    ae_inputs in = {0};
    ae_wds_feed *feed = NULL;
    if ((r = scale_args(argv + optind, n, &in)) || so.out_dir) {
        if (!r) r = scale_run(&so, &o, &in, &(scale_job){SCALE_EMBED, "embed", NULL, NULL, NULL});
    } else if (!(r = scale_select(&so, &in, "embed")) && !(r = scale_feed(&so, &in, ae_scorer_default_params().max_file_bytes, &feed)) && in.n)
        r = embed_images(&o, &in, feed);
    ae_inputs_free(&in);
    ae_wds_feed_free(feed);
    return r;
}
