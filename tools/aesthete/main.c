/*
 * main.c — the aesthete command: a table of subcommands, each in its own file, each parsing
 * its own options (git's git.c layout).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"embed", cmd_embed, "CLIP embeddings of images or texts, as JSON Lines"},
    {"tokenize", cmd_tokenize, "token ids of texts, as the text encoder sees them"},
    {"preprocess", cmd_preprocess, "the model's input tensor for an image, as raw bytes"},
    {"info", cmd_info, "what a model is: architecture, dtypes, sizes, where from"},
    {"score", cmd_score, "aesthetic scores of images, URLs or precomputed embeddings"},
    {"rank", cmd_rank, "images of folders or lists, scored and sorted best first"},
    {"merge", cmd_merge, "the global ranking of a run folder of shards (score --out DIR)"},
    {"cull", cmd_cull, "group copies, near duplicates and bursts; keep the best; XMP ratings"},
    {"bank", cmd_bank, "prompt banks: build, info, import"},
    {"train", cmd_train, "a head trained on your own labels or ratings (a linear probe)"},
    {"eval", cmd_eval, "accuracy, SRCC and PLCC of heads against ratings (AVA or your own)"},
    {"head", cmd_head, "scoring heads: import published ones (.pth, .safetensors), info"},
    {"cache", cmd_cache, "the embedding cache: stats, clear"},
    {"fetch-model", cmd_fetch_model, "download a model from the Hugging Face hub"},
    {"serve", cmd_serve, "the web page and JSON API over HTTP"},
    {"verify", cmd_verify, "how much int8 or bf16 changes embeddings and rankings of your photos"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: aesthete COMMAND [OPTIONS] [ARGS]\n\n"
               "Scores and ranks images by aesthetic quality with OpenAI CLIP.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'aesthete COMMAND --help' (or 'aesthete help COMMAND') lists the options of a command.\n"
               "  -V, --version  print the version\n  -h, --help     this text\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") && argc > 2) { /* aesthete help rank: rank --help */
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) return commands[i].fn(2, (char *[]){argv[2], "--help", NULL});
        cli_error("unknown command '%s'. Try 'aesthete --help'.", argv[2]);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("aesthete %s\n", AE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            /* results that could not be written are not a success: a full disk or a closed
             * file (a closed pipe ends the process quietly with SIGPIPE, as for every tool) */
            errno = 0;
            if (fflush(stdout) != 0 || ferror(stdout)) {
                int e = cli_stdout_errno() ? cli_stdout_errno() : errno ? errno : EIO;
                if (e == EPIPE) return 128 + SIGPIPE; /* where SIGPIPE is ignored: as if it were not */
                cli_error("standard output: %s (the results were not all written)", strerror(e));
                return EXIT_USAGE;
            }
            return rc;
        }
    cli_error("unknown command '%s'. Try 'aesthete --help'.", argv[1]);
    return EXIT_USAGE;
}
