/*
 * cmd_fetch_model.c — `aesthete fetch-model [REPO_ID]`: downloads a model's files from the
 * Hugging Face hub into the standard cache layout, where --model REPO_ID then finds it.
 */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hubdl.h"

static void help(void)
{
    printf("usage: aesthete fetch-model [REPO_ID]\n\n"
           "Downloads config.json, model.safetensors, the tokenizer and preprocessor files of\n"
           "REPO_ID (org/name[@revision], default %s) from the Hugging Face hub\n"
           "($HF_ENDPOINT, default https://huggingface.co; $HF_TOKEN if set) into the hub cache\n"
           "($HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub).\n"
           "Interrupted downloads resume; LFS files are checked against their sha256.\n",
           DEFAULT_MODEL);
}

static void on_progress(void *user, const char *file, int64_t done, int64_t total)
{
    if (!isatty(STDERR_FILENO)) {
        if (done == 0) fprintf(stderr, "aesthete: fetching %s\n", file);
        return;
    }
    int width = 30, fill = total > 0 ? (int)(width * (double)done / (double)total) : 0;
    fprintf(stderr, "\r%-26.26s [%.*s%*s] %6.1f / %6.1f MB ", file, fill, "==============================",
            width - fill, "", done / 1e6, total > 0 ? total / 1e6 : 0.0);
    if (total >= 0 && done == total) fputc('\n', stderr);
    fflush(stderr);
}

int cmd_fetch_model(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return help(), EXIT_ALL_OK;
    if (argc > 2) return cli_usage_error("fetch-model", "expected one REPO_ID");
    const char *spec = argc == 2 ? argv[1] : DEFAULT_MODEL;
    if (spec[0] == '-') return cli_usage_error("fetch-model", "unknown option '%s'", spec);
    ae_hubdl_params p = ae_hubdl_default_params();
    p.progress = on_progress;
    char dir[4096];
    if (ae_hub_download(spec, &p, dir, sizeof dir) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    printf("%s\n", dir);
    return EXIT_ALL_OK;
}
