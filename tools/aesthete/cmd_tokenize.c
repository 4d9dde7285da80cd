/*
 * cmd_tokenize.c — `aesthete tokenize`: the token ids of each text as the text encoder sees
 * them, one JSON object per line: {"text": ..., "ids": [...]} or {"text": ..., "error": ...}.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("usage: aesthete tokenize [OPTIONS] TEXT...\n\n"
           "Prints {\"text\": ..., \"ids\": [...]} per text: <|startoftext|>, the BPE ids, <|endoftext|>,\n"
           "truncated to the model's context length with <|endoftext|> kept last.\n\n"
           "  -m, --model M   model directory or Hugging Face repo id (default: $AESTHETE_MODEL or %s)\n"
           "  --no-truncate   print all ids, even past the context length\n"
           "  -h, --help      this text\n"
           "  --              end of options (a text may start with '-')\n\n"
           "Exit status: 0 all texts tokenized, 1 some failed (invalid UTF-8), 2 usage or model error.\n",
           DEFAULT_MODEL);
}

int cmd_tokenize(int argc, char **argv)
{
    enum { OPT_NO_TRUNCATE = OPT_COMMAND };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"no-truncate", no_argument, 0, OPT_NO_TRUNCATE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL;
    int truncate = 1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_NO_TRUNCATE: truncate = 0; break;
        case 'h': help(); return EXIT_ALL_OK;
        default: return cli_bad_option("tokenize", c, argc, argv);
        }
    }
    if (optind == argc) return cli_usage_error("tokenize", "no TEXT given");
    /* the tokenizer and the context length only: no weights, not even the fingerprint */
    ae_model_params mp = ae_model_default_params();
    mp.load_text = mp.load_vision = 0;
    mp.load_tokenizer = mp.no_fingerprint = 1;
    ae_model *m = cli_load_model_params(model, &mp);
    if (!m) return EXIT_USAGE;
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        size_t len = strlen(argv[i]), n = 0;
        int32_t *ids = NULL;
        int rc = ae_tokenize(m, argv[i], len, truncate, NULL, 0, &n);
        if (rc == AE_OK) {
            ids = malloc(sizeof(int32_t) * (n ? n : 1));
            rc = ids ? ae_tokenize(m, argv[i], len, truncate, ids, n, &n) : AE_ERR_NOMEM;
        }
        fputs("{\"text\": ", stdout);
        put_json_string(stdout, argv[i], len);
        if (rc == AE_OK) {
            fputs(", \"ids\": [", stdout);
            for (size_t k = 0; k < n; k++) printf(k ? ", %d" : "%d", ids[k]);
            fputc(']', stdout);
        } else {
            const char *msg = ae_last_error()[0] ? ae_last_error() : ae_strerror(rc);
            fputs(", \"error\": ", stdout);
            put_json_string(stdout, msg, strlen(msg));
            cli_error("text %d: %s", i - optind + 1, msg);
            failed++;
        }
        fputs("}\n", stdout);
        free(ids);
    }
    ae_model_free(m);
    return failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
