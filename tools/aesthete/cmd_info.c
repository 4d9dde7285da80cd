/*
 * cmd_info.c — `aesthete info`: a model's architecture, dtypes, sizes, fingerprint and where
 * it is, from its configs and the header of model.safetensors. No weights are loaded: the
 * file is read once in chunks for the fingerprint, never mapped, so this takes the time of
 * reading the file from the page cache and a few MB of memory.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("usage: aesthete info [OPTIONS]\n\n"
           "Describes a model: where it is, weights dtype and size, the architecture of both\n"
           "towers, preprocessing, the kernels in use and the precisions this CPU runs. It reads\n"
           "the configs and the header of model.safetensors, and the whole file once for the\n"
           "fingerprint; no weights are loaded.\n\n"
           "  -m, --model M   model directory or Hugging Face repo id (default: $AESTHETE_MODEL or\n"
           "                  %s)\n"
           "  --precision P   the image tower's precision the other commands would use, checked\n"
           "                  against this CPU (an error if it cannot run it) (default:\n"
           "                  $AESTHETE_PRECISION or fp32)\n"
           "  --text-precision P  the text tower's, checked the same way (default: fp32)\n"
           "  --json          one JSON object instead of text\n"
           "  -h, --help      this text\n",
           DEFAULT_MODEL);
}

static void tower_text(const char *name, const ae_tower_info *t)
{
    printf("%-8s hidden %d, layers %d, heads %d, MLP %d, %s, layer_norm_eps %g, %lld parameters\n",
           name, t->hidden_size, t->num_layers, t->num_heads, t->intermediate_size, t->hidden_act,
           (double)t->layer_norm_eps, (long long)t->n_params);
}

static void tower_json(const char *name, const ae_tower_info *t)
{
    printf("\"%s\": {\"hidden_size\": %d, \"num_layers\": %d, \"num_heads\": %d, "
           "\"intermediate_size\": %d, \"hidden_act\": \"%s\", \"layer_norm_eps\": %g, "
           "\"parameters\": %lld}",
           name, t->hidden_size, t->num_layers, t->num_heads, t->intermediate_size, t->hidden_act,
           (double)t->layer_norm_eps, (long long)t->n_params);
}

int cmd_info(int argc, char **argv)
{
    enum { OPT_JSON = OPT_COMMAND };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"json", no_argument, 0, OPT_JSON},
                                         {"precision", required_argument, 0, OPT_PRECISION},
                                         {"text-precision", required_argument, 0, OPT_TEXT_PRECISION},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL;
    int json = 0, precision = -1, text_precision = -1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_PRECISION: if ((precision = cli_parse_precision("info", "--precision", optarg)) < 0) return EXIT_USAGE; break;
        case OPT_TEXT_PRECISION:
            if ((text_precision = cli_parse_precision("info", "--text-precision", optarg)) < 0) return EXIT_USAGE;
            break;
        case 'h': help(); return EXIT_ALL_OK;
        default: return cli_bad_option("info", c, argc, argv);
        }
    }
    if (optind != argc) return cli_usage_error("info", "unexpected argument '%s'", argv[optind]);
    /* no towers: configs, the safetensors header (dtypes, shapes, sizes), the fingerprint;
     * the precisions are checked as a load with towers would (bf16 needs AVX512_BF16) */
    ae_model *m = cli_load_model(model, 0, 0, precision, text_precision);
    if (!m) return EXIT_USAGE;
    ae_model_info i;
    ae_model_get_info(m, &i);
    int runs[3]; /* the precisions this CPU runs */
    for (int p = AE_PRECISION_FP32; p <= AE_PRECISION_BF16; p++) runs[p] = ae_precision_check((ae_precision)p) == AE_OK;
    if (json) {
        printf("{\"dir\": ");
        put_json_string(stdout, i.dir, strlen(i.dir));
        printf(", \"read\": \"configs, the model.safetensors header, the whole file for the "
               "fingerprint (not mapped); no weights loaded\", \"header_size\": %lld",
               (long long)i.header_size);
        printf(", \"weights_dtype\": \"%s\", \"parameters\": %lld, \"file_size\": %lld, "
               "\"fingerprint\": \"%s\", \"embed_dim\": %d, \"image_size\": %d, \"patch_size\": %d, "
               "\"context_length\": %d, \"vocab_size\": %d, \"kernels\": \"%s\", ",
               i.weights_dtype, (long long)i.n_params, (long long)i.file_size, i.fingerprint,
               i.embed_dim, i.image_size, i.patch_size, i.context_length, i.vocab_size, ae_kernels());
        printf("\"precision\": \"%s\", \"text_precision\": \"%s\", \"precisions\": [",
               ae_precision_name(i.precision), ae_precision_name(i.text_precision));
        for (int p = AE_PRECISION_FP32, k = 0; p <= AE_PRECISION_BF16; p++)
            if (runs[p]) printf(k++ ? ", \"%s\"" : "\"%s\"", ae_precision_name((ae_precision)p));
        printf("], ");
        tower_json("text", &i.text);
        printf(", ");
        tower_json("vision", &i.vision);
        printf(", \"preprocess\": {\"shortest_edge\": %d, \"crop\": [%d, %d], "
               "\"mean\": [%.8g, %.8g, %.8g], \"std\": [%.8g, %.8g, %.8g]}}\n",
               i.resize_shortest_edge, i.crop_height, i.crop_width, (double)i.image_mean[0],
               (double)i.image_mean[1], (double)i.image_mean[2], (double)i.image_std[0],
               (double)i.image_std[1], (double)i.image_std[2]);
    } else {
        printf("model    %s\n", i.dir);
        printf("weights  model.safetensors, %s, %lld parameters, %lld bytes, fingerprint %s\n",
               i.weights_dtype, (long long)i.n_params, (long long)i.file_size, i.fingerprint);
        printf("read     config.json, preprocessor_config.json, the model.safetensors header (%lld "
               "bytes: names, dtypes, shapes) and all %lld bytes once for the fingerprint (read "
               "in chunks, not mapped); no weights loaded\n",
               (long long)i.header_size, (long long)i.file_size);
        tower_text("text", &i.text);
        printf("         vocab %d, context %d tokens\n", i.vocab_size, i.context_length);
        tower_text("vision", &i.vision);
        printf("         image %d px, patch %d px, %d positions\n", i.image_size, i.patch_size,
               (i.image_size / i.patch_size) * (i.image_size / i.patch_size) + 1);
        printf("embed    %d dimensions\n", i.embed_dim);
        printf("kernels  %s\n", ae_kernels());
        printf("precision %s (images), %s (texts) (this CPU runs", ae_precision_name(i.precision),
               ae_precision_name(i.text_precision));
        for (int p = AE_PRECISION_FP32; p <= AE_PRECISION_BF16; p++)
            if (runs[p]) printf(" %s", ae_precision_name((ae_precision)p));
        printf("%s)\n", runs[AE_PRECISION_BF16] ? "" : "; bf16 needs AVX512_BF16");
        printf("input    resize shortest side to %d, centre crop %dx%d, bicubic, mean [%.8g %.8g %.8g], "
               "std [%.8g %.8g %.8g]\n",
               i.resize_shortest_edge, i.crop_width, i.crop_height, (double)i.image_mean[0],
               (double)i.image_mean[1], (double)i.image_mean[2], (double)i.image_std[0],
               (double)i.image_std[1], (double)i.image_std[2]);
    }
    ae_model_free(m);
    return EXIT_ALL_OK;
}
