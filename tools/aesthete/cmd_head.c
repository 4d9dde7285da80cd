/*
 * cmd_head.c — `aesthete head import|info`: heads as they are published (a PyTorch .pth or a
 * .safetensors of nn.Linear layers: LAION V1, the improved aesthetic predictor V2 and its
 * ReLU variant, a probe trained elsewhere) made into head files that every scoring command
 * takes with --head; and what a head file holds (prompt banks too).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scoring.h"

static void help(void)
{
    printf("usage: aesthete head import FILE.pth|FILE.safetensors -o NAME.head [OPTIONS]\n"
           "       aesthete head info FILE.head\n\n"
           "import  reads the state dict of a stack of linear layers (\"weight\"/\"bias\", or\n"
           "        \"<prefix><i>.weight\"/\"<prefix><i>.bias\" in the order of i) from a PyTorch\n"
           "        checkpoint (read by a restricted unpickler: a plain state dict or nothing,\n"
           "        never code) or a .safetensors file; a stack without activations is\n"
           "        collapsed into one affine map:\n"
           "  --model M            the CLIP model the head was made for: its id and architecture\n"
           "                       are recorded and checked when scoring (not its fingerprint:\n"
           "                       any copy of that model may use the head)\n"
           "  --model-id ID        record this id instead (no architecture check)\n"
           "  --name N             the head's name in results (default: the file's name)\n"
           "  --relu auto|yes|no   a ReLU between the layers? auto (default) tells the two\n"
           "                       published LAION V2 layouts (linearMSE, reluMSE) by their key\n"
           "                       names and refuses other stacks of more than one layer\n"
           "  --cut X              label cut point: good iff score >= X (default 5, LAION's middle)\n"
           "  --no-normalize       feed the raw embedding (default: L2-normalised, as LAION)\n"
           "  --logistic           the output is a logit: probability = sigmoid(score)\n"
           "  --license L          recorded with the head (default: the file's metadata, if any)\n"
           "  -o, --output FILE    where to write the head\n"
           "info    prints what a head holds: kind, method, model, layers, cut, provenance\n\n"
           "Exit status: 0 done, 2 usage or error.\n");
}

int cli_head_info(const char *path)
{
    ae_head *h = NULL;
    if (ae_head_load(path, &h) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    ae_head_info i;
    ae_head_get_info(h, &i);
    printf("head         %s\n", path);
    printf("kind         %s\n", ae_head_kind_name(i.kind));
    printf("method       %s%s\n", ae_method_name(i.method), i.normalize_prompts ? " (normalised prompts)" : "");
    printf("name         %s\n", i.name);
    printf("dimension    %d\n", i.dim);
    if (i.kind == AE_HEAD_PROMPTS) {
        if (i.template_text[0]) printf("template     %s\n", i.template_text);
        if (i.positive[0]) printf("adjectives   %s / %s\n", i.positive, i.negative);
        printf("prompts      %d\n", i.n_prompts);
        printf("classes      %d", i.n_classes);
        for (int k = 0; k < i.n_classes && k < 5; k++) printf("%s%s", k ? ", " : ": ", ae_head_class(h, k));
        printf("%s\n", i.n_classes > 5 ? ", ..." : "");
    } else {
        if (i.laion_head[0])
            printf("laion        %s %s\n", i.method == AE_METHOD_LAION_V2 ? "improved aesthetic predictor (V2)"
                                                                        : "LAION-Aesthetics V1",
                   i.laion_head);
        printf("layers       %d%s\n", i.n_layers, i.kind == AE_HEAD_LINEAR ? " (w . x + b)" : "");
        printf("input        %s\n", i.normalize ? "L2-normalised embedding" : "raw embedding");
        printf("label        good iff score >= %g%s\n", (double)i.cut,
               i.logistic ? "; probability = sigmoid(score)" : "");
    }
    printf("model        %s\n", i.model_id[0] ? i.model_id : "(unknown)");
    printf("fingerprint  %s\n", i.fingerprint[0] ? i.fingerprint : "(none: any model of this dimension)");
    if (i.precision[0]) printf("precision    %s (of the text tower)\n", i.precision);
    if (i.provenance[0]) printf("provenance   %s\n", i.provenance);
    if (i.license[0]) printf("license      %s\n", i.license);
    ae_head_free(h);
    return EXIT_ALL_OK;
}

static int head_import(int argc, char **argv)
{
    enum { O_MODEL = OPT_COMMAND, O_MODEL_ID, O_NAME, O_RELU, O_CUT, O_NO_NORMALIZE, O_LOGISTIC, O_LICENSE };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"model-id", required_argument, 0, O_MODEL_ID},
        {"name", required_argument, 0, O_NAME},   {"relu", required_argument, 0, O_RELU},
        {"cut", required_argument, 0, O_CUT},     {"no-normalize", no_argument, 0, O_NO_NORMALIZE},
        {"logistic", no_argument, 0, O_LOGISTIC}, {"license", required_argument, 0, O_LICENSE},
        {"output", required_argument, 0, 'o'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ae_head_params hp = ae_head_default_params();
    const char *out = NULL, *model = NULL;
    char *end;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_MODEL_ID: hp.model_id = optarg; break;
        case O_NAME: hp.name = optarg; break;
        case O_RELU:
            if (!strcmp(optarg, "auto")) hp.relu = -1;
            else if (!strcmp(optarg, "yes")) hp.relu = 1;
            else if (!strcmp(optarg, "no")) hp.relu = 0;
            else return cli_usage_error("head", "--relu: '%s' is not auto, yes or no", optarg);
            break;
        case O_CUT:
            hp.cut = strtof(optarg, &end);
            if (!*optarg || *end || !isfinite(hp.cut)) return cli_usage_error("head", "--cut: '%s' is not a number", optarg);
            break;
        case O_NO_NORMALIZE: hp.normalize = 0; break;
        case O_LOGISTIC: hp.logistic = 1; break;
        case O_LICENSE: hp.license = optarg; break;
        case 'o': out = optarg; break;
        case 'h': help(); return EXIT_ALL_OK;
        default: return cli_bad_option("head", c, argc, argv);
        }
    }
    if (optind + 1 != argc || !out) return cli_usage_error("head", "import takes one FILE.pth or FILE.safetensors and -o");
    if (model && hp.model_id) return cli_usage_error("head", "give --model or --model-id, not both");
    ae_model *m = NULL;
    if (model) { /* the configs only: no weights, no fingerprint */
        ae_model_params mp = ae_model_default_params();
        mp.load_text = mp.load_vision = 0;
        mp.no_fingerprint = 1;
        if (!(m = cli_load_model_params(model, &mp))) return EXIT_USAGE;
        ae_model_info mi;
        ae_model_get_info(m, &mi);
        hp.model_id = mi.id;
        hp.patch_size = mi.patch_size;
        hp.vision_width = mi.vision.hidden_size;
    }
    ae_head *h = NULL;
    int ret = EXIT_USAGE;
    if (ae_head_import(argv[optind], &hp, &h) != AE_OK || (m && ae_head_check_model(h, m) != AE_OK) ||
        ae_head_save(h, out) != AE_OK) {
        cli_error("%s", ae_last_error());
    } else {
        ae_head_info i;
        ae_head_get_info(h, &i);
        printf("%s: %s head \"%s\", dimension %d, %d layer%s, from %s\n", out, ae_head_kind_name(i.kind), i.name,
               i.dim, i.n_layers, i.n_layers == 1 ? "" : "s", argv[optind]);
        ret = EXIT_ALL_OK;
    }
    ae_head_free(h);
    ae_model_free(m);
    return ret;
}

int cmd_head(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: aesthete head import|info ... ('aesthete head --help' for all)\n");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return help(), EXIT_ALL_OK;
    if (!strcmp(argv[1], "import")) return head_import(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) {
        for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return help(), EXIT_ALL_OK;
        if (argc == 4 && !strcmp(argv[2], "--")) argc--, argv++;
        if (argc != 3) return cli_usage_error("head", "info takes one head file");
        return cli_head_info(argv[2]);
    }
    return cli_usage_error("head", "unknown subcommand '%s' (import, info)", argv[1]);
}
