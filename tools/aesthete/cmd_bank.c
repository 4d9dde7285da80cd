/*
 * cmd_bank.c — `aesthete bank build|info|import`: prompt banks, encoded once and saved as
 * safetensors files that every scoring command takes with --bank.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "head.h"
#include "cli.h"
#include "scoring.h"

static void help(void)
{
    printf("usage: aesthete bank build [OPTIONS] -o NAME.bank\n"
           "       aesthete bank info NAME.bank\n"
           "       aesthete bank import --positive P --negative N [--model-id ID] -o NAME.bank\n\n"
           "build   encodes the prompts of a method once (text tower) and saves them:\n"
           "  --method M           fixed (default), context, ensemble, laion or laion-v2\n"
           "  --model M, --positive ADJ, --negative ADJ, --template T, --classes FILE,\n"
           "  --column NAME, --normalize-prompts, --laion-head H, --threads N: as for 'score'\n"
           "  --text-precision P   the text encoder's arithmetic: fp32 (default), int8 or bf16,\n"
           "                       recorded in the bank (--precision, the image encoder's, is\n"
           "                       accepted as for 'score' and does not change a bank)\n"
           "  -o, --output FILE    where to write the bank (safetensors; NumPy/PyTorch can read it)\n"
           "info    prints what a bank holds: method, prompts, classes, model (as 'head info')\n"
           "import  makes an ensemble bank from two precomputed centroids:\n"
           "  --positive FILE      the positive centroid: .npy, a pickled NumPy array (.pkl, as\n"
           "                       the article's hotel_positive_prompt.pkl) or raw float32, one row\n"
           "  --negative FILE      the negative centroid\n"
           "  --model-id ID        the model they came from (recorded; any model of the same\n"
           "                       dimension may use the bank, as it has no weights fingerprint)\n"
           "  -o, --output FILE    where to write the bank\n\n"
           "Exit status: 0 done, 2 usage or error.\n");
}

/* 1 if one of the arguments asks for help */
static int asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static int bank_info(int argc, char **argv)
{
    if (asks_help(argc, argv)) return help(), EXIT_ALL_OK;
    if (argc == 3 && !strcmp(argv[1], "--")) argc--, argv++;
    if (argc != 2) return cli_usage_error("bank", "info takes one bank file");
    return cli_head_info(argv[1]);
}

static int bank_import(int argc, char **argv)
{
    enum { OPT_POS_FILE = OPT_COMMAND, OPT_NEG_FILE, OPT_MODEL_ID };
    static const struct option opts[] = {{"positive", required_argument, 0, OPT_POS_FILE},
                                         {"negative", required_argument, 0, OPT_NEG_FILE},
                                         {"model-id", required_argument, 0, OPT_MODEL_ID},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *pos = NULL, *neg = NULL, *id = NULL, *out = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_POS_FILE: pos = optarg; break;
        case OPT_NEG_FILE: neg = optarg; break;
        case OPT_MODEL_ID: id = optarg; break;
        case 'o': out = optarg; break;
        case 'h': help(); return EXIT_ALL_OK;
        default: return cli_bad_option("bank", c, argc, argv);
        }
    }
    if (!pos || !neg || !out) return cli_usage_error("bank", "import needs --positive, --negative and -o");
    if (optind != argc) return cli_usage_error("bank", "unexpected argument '%s'", argv[optind]);
    float *p = NULL, *n = NULL;
    int32_t pr, pc, nr, nc;
    int ret = EXIT_USAGE;
    ae_head *b = NULL;
    /* a raw file (AE_ERR_INVALID: no .npy header, so no dimension known): the whole file is
     * one row; a damaged .npy or an unreadable file stays an error */
    int rc = ae_read_matrix(pos, 0, &p, &pr, &pc);
    if (rc == AE_ERR_INVALID) {
        struct stat st;
        if (stat(pos, &st) != 0) goto fail;
        if (st.st_size <= 0 || st.st_size % 4 || st.st_size / 4 > AE_MAX_BANK_DIM) {
            cli_error("%s: %lld bytes is not a whole number of float32 values (at most %d)", pos,
                      (long long)st.st_size, AE_MAX_BANK_DIM);
            goto done;
        }
        rc = ae_read_matrix(pos, (int32_t)(st.st_size / 4), &p, &pr, &pc);
    }
    if (rc != AE_OK) goto fail;
    if (ae_read_matrix(neg, pc, &n, &nr, &nc) != AE_OK) goto fail;
    if (pr != 1 || nr != 1) {
        cli_error("%s: %d rows; a centroid is one row", pr != 1 ? pos : neg, pr != 1 ? pr : nr);
        goto done;
    }
    if (ae_head_from_centroids(p, n, pc, id, &b) != AE_OK || ae_head_save(b, out) != AE_OK) goto fail;
    printf("%s: ensemble bank, dimension %d, from %s and %s\n", out, pc, pos, neg);
    ret = EXIT_ALL_OK;
    goto done;
fail:
    cli_error("%s", ae_last_error());
done:
    ae_head_free(b);
    free(p), free(n);
    return ret;
}

static int bank_build(int argc, char **argv)
{
    static const struct option opts[] = {SCORE_OPTIONS, {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    const char *out = NULL;
    int c, r;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" SCORE_SHORT "o:h", opts, NULL)) != -1) {
        if (c == 'h') return help(), EXIT_ALL_OK;
        if (c == 'o') {
            out = optarg;
            continue;
        }
        if (c == '?' || c == ':') return cli_bad_option("bank", c, argc, argv);
        if (c == OPT_HEAD) return cli_usage_error("bank", "build makes a bank: --head/--bank do not apply");
        if ((r = score_opt(&o, c, optarg, "bank")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("bank", '?', argc, argv);
    }
    if (!out) return cli_usage_error("bank", "build needs -o NAME.bank");
    if (optind != argc) return cli_usage_error("bank", "unexpected argument '%s'", argv[optind]);
    scorer s = {0};
    /* prompts need the text tower only; a LAION head is chosen from the configs alone */
    int laion = o.method == AE_METHOD_LAION;
    if (!(s.model = cli_load_model(o.model, !laion, 0, o.precision, o.text_precision))) return EXIT_USAGE;
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = (int32_t)o.threads;
    int ret = EXIT_USAGE;
    if (ae_session_new(s.model, &sp, &s.session) != AE_OK) cli_error("%s", ae_last_error());
    else if (build_bank(&s, &o, &s.bank, 0) == 0) {
        if (ae_head_save(s.bank, out) != AE_OK) cli_error("%s", ae_last_error());
        else {
            ae_head_info i;
            ae_head_get_info(s.bank, &i);
            printf("%s: %s bank, %d prompts, %d classes, dimension %d\n", out, ae_method_name(i.method),
                   i.n_prompts, i.n_classes, i.dim);
            ret = EXIT_ALL_OK;
        }
    }
    scorer_close(&s);
    return ret;
}

int cmd_bank(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: aesthete bank build|info|import ... ('aesthete bank --help' for all)\n");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return help(), EXIT_ALL_OK;
    if (!strcmp(argv[1], "build")) return bank_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) return bank_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "import")) return bank_import(argc - 1, argv + 1);
    return cli_usage_error("bank", "unknown subcommand '%s' (build, info, import)", argv[1]);
}
