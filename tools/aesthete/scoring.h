/*
 * scoring.h — what `score`, `rank` and `serve` share: the options that choose a model, a
 * method or bank and the cache; setting them up; writing result rows in every format; the
 * progress bar.
 */
#ifndef AE_CLI_SCORING_H
#define AE_CLI_SCORING_H

#include <getopt.h>
#include <pthread.h>
#include <time.h>

#include "aesthete.h"
#include "cache.h"
#include "inputs.h"
#include "pipeline.h"

typedef enum { FMT_AUTO = -1, FMT_TABLE, FMT_CSV, FMT_TSV, FMT_JSONL, FMT_JSON } out_format;

typedef struct score_opts {
    const char *model, *bank_path, *template_text, *positive, *negative;
    const char *classes_path, *column, *laion_head, *cache_path;
    int method;            /* ae_method, -1 when not given (fixed, or the bank's) */
    int precision;         /* of the image tower: ae_precision, -1 when not given
                              ($AESTHETE_PRECISION or fp32) */
    int text_precision;    /* of the text tower (the banks): -1 when not given (fp32) */
    int normalize_prompts, no_cache, verbose, quiet; /* quiet: no progress bar, no warnings */
    int allow_private_urls; /* fetch URLs of loopback and private addresses too */
    long threads;
    out_format format;
    ae_image_params image;
} score_opts;

/* --exclude GLOB may be given this many times (rank, cull) */
#define MAX_EXCLUDE 64

#define SCORE_SHORT "m:f:q"
#define SCORE_OPTIONS                                                                                 \
    {"model", required_argument, 0, OPT_MODEL}, {"method", required_argument, 0, OPT_METHOD},         \
    {"bank", required_argument, 0, OPT_HEAD}, {"head", required_argument, 0, OPT_HEAD},               \
    {"positive", required_argument, 0, OPT_POSITIVE}, {"negative", required_argument, 0, OPT_NEGATIVE}, \
    {"template", required_argument, 0, OPT_TEMPLATE}, {"classes", required_argument, 0, OPT_CLASSES}, \
    {"column", required_argument, 0, OPT_COLUMN},                                                     \
    {"normalize-prompts", no_argument, 0, OPT_NORMALIZE_PROMPTS},                                     \
    {"laion-head", required_argument, 0, OPT_LAION_HEAD},                                             \
    {"threads", required_argument, 0, OPT_THREADS}, {"no-exif-rotate", no_argument, 0, OPT_NO_EXIF_ROTATE}, \
    {"max-pixels", required_argument, 0, OPT_MAX_PIXELS}, {"no-cache", no_argument, 0, OPT_NO_CACHE},  \
    {"cache", required_argument, 0, OPT_CACHE}, {"format", required_argument, 0, OPT_FORMAT},         \
    {"verbose", no_argument, 0, OPT_VERBOSE}, {"quiet", no_argument, 0, OPT_QUIET},                   \
    {"precision", required_argument, 0, OPT_PRECISION},                                               \
    {"text-precision", required_argument, 0, OPT_TEXT_PRECISION},                                     \
    {"allow-private-urls", no_argument, 0, OPT_ALLOW_PRIVATE_URLS}

/* Help text of SCORE_OPTIONS: the model, scoring and cache options; then the output options
 * (--format, --verbose, --quiet), which serve does not take. */
extern const char score_options_help[], output_options_help[];
/* score_options_help without --allow-private-urls, which serve refuses */
extern const char serve_score_options_help[];

void score_opts_init(score_opts *o);
/* Handles option code c with its argument: 0 handled, 1 not a scoring option, -1 usage
 * error (printed). */
int score_opt(score_opts *o, int c, const char *arg, const char *cmd);

/* What a scoring command works with. */
typedef struct scorer {
    ae_model *model;     /* NULL when scoring precomputed embeddings */
    ae_session *session;
    ae_head *bank;
    ae_cache *cache;     /* NULL with --no-cache */
    char key[65];        /* the recipe key of a head made from options (ae_recipe), else "" */
    int quiet;           /* --quiet: scorer_close does not warn of the cache's problems */
} scorer;

/* Loads the model, opens the cache, and loads or builds the bank (built banks are kept in
 * the cache folder, keyed by model and prompts, so they are encoded once). with_model 0:
 * only a bank (--bank, or laion by --laion-head) for --embeddings. Prints the error and
 * returns non-zero on failure. */
int scorer_open(scorer *s, const score_opts *o, const char *cmd, int with_model);
/* The pipeline's parameters from the options and the scorer: the image options, the cache,
 * and URLs fetched from public addresses only unless --allow-private-urls. */
ae_scorer_params scorer_params(const score_opts *o, const scorer *s);

/* Frees it all; first warns (one line) of a problem the cache met: damaged and moved aside,
 * or writes stopped (a full disk, a read-only file, a lock held too long). */
void scorer_close(scorer *s);
/* Another head for an open scorer, from options: --head FILE, or --method and its prompts
 * (built or taken from the banks kept, as scorer_open does); with no model (scorer_open's
 * with_model 0), a head file or a shipped laion head only. Checked against the model.
 * Prints the error and returns non-zero on failure. */
int scorer_add_head(scorer *s, const score_opts *o, const char *cmd, ae_head **out);

/* Builds a bank from the options with the scorer's session (text tower). */
int build_bank(scorer *s, const score_opts *o, ae_head **out, int quiet);

/* "aesthete: N inputs: E encoded, C from the cache, F failed" on stderr (with --verbose),
 * and what the folder walks of in (may be NULL) left out: "; S files skipped (not images),
 * H hidden, X excluded". */
void print_summary(const score_opts *o, const ae_scored *rows, int32_t n, const ae_inputs *in);

/* ---- output ---- */
typedef struct out_row {
    int64_t rank;        /* 0: no rank column */
    const char *input;
    const ae_score *score;
    const char *class_name;
    const char *error;   /* non-NULL: a failed input */
} out_row;

typedef struct writer {
    out_format fmt;
    int with_rank, n;
    const char *method;
    const char *head;    /* the head's name (JSON "head") */
    /* table: widths from the rows; rows are buffered for it */
} writer;

/* An ae_scored_fn (ctx: a row_stream) writing the finished rows of each batch as they come,
 * in input order (a failed input as its error row), then flushing stdout. */
typedef struct row_stream {
    writer *w;
    const ae_head *bank;
} row_stream;
void write_scored_rows(void *ctx, const ae_scored *rows, int32_t first, int32_t n);

/* FMT_AUTO becomes a table on a terminal, JSON Lines otherwise. */
void writer_begin(writer *w, out_format fmt, int with_rank, const ae_head *head);
/* Writes a row; a failed input goes to stderr (one line) and, in JSON formats, to stdout. */
void writer_row(writer *w, const out_row *r);
void writer_end(writer *w);
/* One field on stdout: CSV-quoted when needed; TSV with \t \n \r \\ escaped; for a table
 * with control characters shown as '?'. */
void csv_field(const char *s);
void tsv_field(const char *s);
void table_field(const char *s);
/* the class name of a score, or NULL */
const char *score_class(const ae_head *b, const ae_score *s);

/* A progress bar on stderr when it is a terminal; no-op otherwise. It is drawn at once,
 * moves as each input is read (progress_read, from any thread) and as each batch is done
 * (progress_update), with the rate and the time left, and is cleared at the end or when the
 * process is interrupted (SIGINT, SIGTERM: the line is wiped, then the signal takes its
 * default course). */
typedef struct progress {
    int active;
    int64_t total, done;
    _Atomic int64_t read;
    double t0, drawn;
    const char *what;
    pthread_mutex_t mu;
} progress;
void progress_begin(progress *p, int64_t total, const char *what);
void progress_update(progress *p, int64_t done);
void progress_read(void *p); /* one more input read: an ae_scorer_params.on_read */
void progress_end(progress *p);

#endif
