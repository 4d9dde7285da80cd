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

#define CHUNK 32 /* images decoded and encoded per batch */

static void help(void)
{
    printf("usage: aesthete embed [OPTIONS] IMAGE...\n"
           "       aesthete embed [OPTIONS] --text TEXT...\n\n"
           "Prints one JSON object per input on stdout: {\"input\": ..., \"embedding\": [...]}\n"
           "(projected, un-normalised CLIP embeds), or {\"input\": ..., \"error\": ...}.\n\n"
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
           "  --shard I/N       embed part I of N of the arguments (default: from\n"
           "                    SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; see README)\n"
           "  --shard-count N   the N of JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)\n"
           "  -h, --help        this text\n"
           "  --                end of options (a text may start with '-')\n\n"
           "Texts longer than the context (77 tokens) are truncated with a warning, as CLIP does.\n"
           "Exit status: 0 all inputs embedded, 1 some failed, 2 usage or model error.\n",
           DEFAULT_MODEL);
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

static int embed_images(ae_session *s, const ae_model *m, char **paths, int n,
                        const ae_image_params *ip)
{
    enum { MSG = 512 };
    int32_t dim = ae_model_embed_dim(m);
    size_t psz = ae_model_pixels_size(m);
    float *pix = malloc(sizeof(float) * psz * CHUNK);
    float *emb = malloc(sizeof(float) * (size_t)dim * CHUNK);
    int32_t status[CHUNK], idx[CHUNK];
    char *msgs = malloc((size_t)CHUNK * MSG);
    int failed = 0;
    if (!pix || !emb || !msgs) {
        free(pix), free(emb), free(msgs);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    for (int base = 0; base < n; base += CHUNK) {
        int cn = n - base < CHUNK ? n - base : CHUNK, ok = 0;
        ae_load_images(s, (const char *const *)paths + base, cn, ip, pix, status, msgs, MSG);
        /* compact the decoded images so one batch call encodes them all */
        for (int i = 0; i < cn; i++) {
            if (status[i] != AE_OK) continue;
            if (ok != i) memcpy(pix + (size_t)ok * psz, pix + (size_t)i * psz, sizeof(float) * psz);
            idx[i] = ok++;
        }
        int rc = ok ? ae_encode_images(s, pix, ok, emb) : AE_OK;
        for (int i = 0; i < cn; i++) {
            const char *err = NULL;
            if (status[i] != AE_OK) err = msgs + (size_t)i * MSG;
            else if (rc != AE_OK) err = ae_last_error();
            fputs("{\"input\": ", stdout);
            put_json_string(stdout, paths[base + i], strlen(paths[base + i]));
            if (!err) {
                fputs(", \"embedding\": ", stdout);
                put_json_floats(stdout, emb + (size_t)idx[i] * dim, dim);
            } else {
                fputs(", \"error\": ", stdout);
                put_json_string(stdout, err, strlen(err));
                cli_error("%s", err);
                failed++;
            }
            fputs("}\n", stdout);
        }
        fflush(stdout);
    }
    free(pix), free(emb), free(msgs);
    return failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

int cmd_embed(int argc, char **argv)
{
    enum { OPT_TEXT = OPT_COMMAND };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"text", no_argument, 0, OPT_TEXT},
        {"threads", required_argument, 0, OPT_THREADS}, {"no-exif-rotate", no_argument, 0, OPT_NO_EXIF_ROTATE},
        {"max-pixels", required_argument, 0, OPT_MAX_PIXELS}, {"help", no_argument, 0, 'h'},
        {"fast-decode", no_argument, 0, OPT_FAST_DECODE}, {"precision", required_argument, 0, OPT_PRECISION},
        {"text-precision", required_argument, 0, OPT_TEXT_PRECISION}, SHARD_OPTIONS, {0, 0, 0, 0}};
    scale_opts so;
    scale_opts_init(&so);
    const char *model = NULL;
    int text = 0, precision = -1, text_precision = -1;
    long threads = 0, maxpix = 0;
    ae_image_params ip = ae_image_default_params();
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_TEXT: text = 1; break;
        case OPT_PRECISION: if ((precision = cli_parse_precision("embed", "--precision", optarg)) < 0) return EXIT_USAGE; break;
        case OPT_TEXT_PRECISION:
            if ((text_precision = cli_parse_precision("embed", "--text-precision", optarg)) < 0) return EXIT_USAGE;
            break;
        case OPT_THREADS: if (cli_parse_int("embed", "--threads", optarg, 0, 1024, &threads)) return EXIT_USAGE; break;
        case OPT_NO_EXIF_ROTATE: ip.exif_rotate = 0; break;
        case OPT_FAST_DECODE: ip.fast_decode = 1; break;
        case OPT_MAX_PIXELS:
            if (cli_parse_int("embed", "--max-pixels", optarg, 1, 1L << 40, &maxpix)) return EXIT_USAGE;
            ip.max_pixels = (uint64_t)maxpix;
            break;
        case 'h': help(); return EXIT_ALL_OK;
        case OPT_SHARD: case OPT_SHARD_COUNT: scale_opt(&so, c, optarg, "embed"); break;
        default: return cli_bad_option("embed", c, argc, argv);
        }
    }
    int n = argc - optind;
    if (n == 0) return cli_usage_error("embed", text ? "no TEXT given" : "no IMAGE given");
    int first, count; /* this task's part of the arguments */
    if (scale_select_args(&so, n, "embed", &first, &count)) return EXIT_USAGE;
    optind += first, n = count;
    if (n == 0) return EXIT_ALL_OK;
    ae_model *m = cli_load_model(model, text, !text, precision, text_precision);
    if (!m) return EXIT_USAGE;
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = (int32_t)threads;
    ae_session *s = NULL;
    int rc = ae_session_new(m, &sp, &s);
    if (rc != AE_OK) {
        cli_error("%s", ae_last_error());
        ae_model_free(m);
        return EXIT_USAGE;
    }
    int ret = text ? embed_texts(s, m, argv + optind, n) : embed_images(s, m, argv + optind, n, &ip);
    ae_session_free(s);
    ae_model_free(m);
    return ret;
}
