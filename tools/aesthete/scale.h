/*
 * scale.h — what `rank`, `score`, `embed` and `cull` share for cluster runs: the options
 * --shard, --shard-count, --out, --force, --keep and --stream; taking this task's part of
 * the inputs; WebDataset shards among the inputs; the per-shard outputs of a run folder
 * (scores, float16 embeddings, metadata, manifest); the stdin stream of `--stream`.
 */
#ifndef AE_CLI_SCALE_H
#define AE_CLI_SCALE_H

#include <getopt.h>

#include "inputs.h"
#include "pipeline.h"
#include "scoring.h"
#include "wds.h"

typedef struct scale_opts {
    const char *shard, *shard_count; /* --shard I/N, --shard-count N */
    const char *out_dir;             /* --out DIR */
    const char *keep[8];             /* --keep json,txt */
    int32_t n_keep;
    char keep_buf[256];              /* the fields' text, cut at the commas */
    int force, stream;
} scale_opts;

/* option codes: between the shared ones (cli.h, labelled.h) and OPT_COMMAND */
enum scale_option { OPT_SHARD = 370, OPT_SHARD_COUNT, OPT_OUT, OPT_FORCE, OPT_KEEP, OPT_STREAM };
#define SCALE_OPTIONS                                                                         \
    {"shard", required_argument, 0, OPT_SHARD}, {"shard-count", required_argument, 0, OPT_SHARD_COUNT}, \
    {"out", required_argument, 0, OPT_OUT}, {"force", no_argument, 0, OPT_FORCE},             \
    {"keep", required_argument, 0, OPT_KEEP}
#define STREAM_OPTION {"stream", no_argument, 0, OPT_STREAM}
#define SHARD_OPTIONS {"shard", required_argument, 0, OPT_SHARD}, {"shard-count", required_argument, 0, OPT_SHARD_COUNT}

/* Help text of SCALE_OPTIONS (and of --shard alone, and of --stream). */
extern const char scale_options_help[], shard_options_help[], stream_option_help[];

void scale_opts_init(scale_opts *o);
/* Handles option code c: 0 handled, 1 not one of these, -1 usage error (printed). */
int scale_opt(scale_opts *o, int c, const char *arg, const char *cmd);

/* Keeps this task's part of in (the shard from the flags or the environment); prints the
 * error and returns EXIT_USAGE when the shard cannot be resolved. */
int scale_select(const scale_opts *o, ae_inputs *in, const char *cmd);
/* The same over n arguments: *first and *count of them to take. */
int scale_select_args(const scale_opts *o, int n, const char *cmd, int *first, int *count);

/* The INPUT arguments of `score`: each as it is, brace lists expanded. Prints errors. */
int scale_args(char **argv, int n, ae_inputs *in);

/* Replaces the tar shards of in by their samples ("SHARD#KEY"); *feed (NULL when in has no
 * shard) is the source to give ae_score_inputs (scale_source). Prints errors: EXIT_USAGE. */
int scale_feed(const scale_opts *o, ae_inputs *in, int64_t max_bytes, ae_wds_feed **feed);
void scale_source(ae_scorer_params *sp, ae_wds_feed *feed);

/* What a run folder is written for: the rows' file and what the rows are. */
typedef enum {
    SCALE_SCORE, /* score, rank: scores/S.jsonl, written as each batch finishes */
    SCALE_EMBED, /* embed: no rows' file (the failed inputs are listed in the manifest) */
    SCALE_CULL   /* cull: cull/S.jsonl, the groups within the shard, once it is all read */
} scale_kind;

typedef struct scale_job {
    scale_kind kind;
    const char *cmd;      /* for messages */
    const char *options;  /* NULL, or more options that change the rows (cull's), for the
                             manifest */
    /* SCALE_CULL: writes the rows of a finished shard to f from its n inputs' results
     * (facts: one per input); 0, or -1 after the error (printed) */
    int (*finish)(void *ctx, FILE *f, const scorer *s, const ae_scored *rows, const float *embeds,
                  const ae_photo_facts *facts, int32_t n);
    void *ctx;
} scale_job;

/* `--out DIR`: embeds (and scores or culls) this task's part of in shard by shard into DIR
 * (skipping the shards whose manifest says they are complete for these inputs, model, head
 * and options, unless --force). A shard written by another kind of command is refused.
 * Returns the exit status. */
int scale_run(const scale_opts *so, const score_opts *o, ae_inputs *in, const scale_job *job);

/* The fast decode's side when photo facts are gathered too (cull): at least the quality
 * measures' working resolution (AE_QUALITY_SIDE), else the model's resize edge; the side as
 * it is without fast decoding. */
int scale_facts_side(const ae_scorer_params *sp, const ae_model_info *mi);

/* A scorer without a head or a cache, for `embed`: the model's vision tower (o->model,
 * o->precision) and a session of o->threads. Prints the error and returns non-zero on
 * failure (close with scorer_close either way). */
int scale_open_embedder(scorer *s, const score_opts *o);

/* `--stream`: paths or URLs one per line on stdin, one JSON line per input on stdout, in
 * order, flushed per line. Returns the exit status. */
int scale_stream(const score_opts *o, const char *cmd);

/* float32 -> IEEE half, round to nearest even (overflow to infinity). */
uint16_t scale_f16(float f);

#endif
