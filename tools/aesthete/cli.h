/*
 * cli.h — shared pieces of the aesthete command: the subcommand signature, option parsing
 * helpers, JSON output, and model loading with one-line error messages.
 *
 * Exit codes of every command: 0 all inputs done, 1 some inputs failed, 2 usage or fatal error.
 */
#ifndef AE_CLI_H
#define AE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "aesthete.h"

#define DEFAULT_MODEL "openai/clip-vit-base-patch32"

enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2 };

/* getopt_long codes: an option with a short form is its letter ('o' for -o, --output); the
 * others are named, the shared tables' (scoring.h, labelled.h) from 300, each command's own
 * from OPT_COMMAND up: enum { OPT_TOP = OPT_COMMAND, OPT_MIN_SCORE, ... }. */
enum { OPT_COMMAND = 400 };
/* The codes of the options that several commands accept (SCORE_OPTIONS in scoring.h and the
 * same options of embed, info, verify, ...). */
enum shared_option {
    OPT_MODEL = 'm', OPT_FORMAT = 'f', OPT_QUIET = 'q',
    OPT_METHOD = 300, OPT_HEAD, OPT_POSITIVE, OPT_NEGATIVE, OPT_TEMPLATE, OPT_CLASSES, OPT_COLUMN,
    OPT_NORMALIZE_PROMPTS, OPT_LAION_HEAD, OPT_THREADS, OPT_NO_EXIF_ROTATE, OPT_MAX_PIXELS,
    OPT_NO_CACHE, OPT_CACHE, OPT_VERBOSE, OPT_PRECISION, OPT_TEXT_PRECISION, OPT_FAST_DECODE,
    OPT_ALLOW_PRIVATE_URLS
};

/* The long options every scoring command accepts, to append to a table; SCORE_SHORT is their
 * short forms, to put in getopt's string (after a leading ':'). */


/* "aesthete: " + message + newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Notes the cause of the first failed write to stdout (call right after writing results);
 * cli_stdout_errno gives it (0: none), for main to report "standard output: No space left on
 * device" and fail instead of exiting 0 with results lost. */
void cli_note_stdout(void);
int cli_stdout_errno(void);

/* "aesthete: warning: " + msg: the ae_inputs_warn of the commands (ctx unused). */
void cli_warn(void *ctx, const char *msg);
/* Usage error: message, then "Try 'aesthete CMD --help'." Returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long returned as c, '?' (an unknown option) or ':' (an
 * option without its value; the option string must start with ':'), naming the argument:
 * "unknown option '--methd'", "option '--top' needs a value", "unknown option '-d' in
 * '-dash.jpg' (a file whose name starts with '-': write ./-dash.jpg, or put it after --)".
 * Returns EXIT_USAGE. */
int cli_bad_option(const char *cmd, int c, int argc, char **argv);

/* Parses a positive integer option value in [lo, hi]; on error prints and returns -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);

/* The value of option opt (--precision, --text-precision) as an ae_precision (fp32, int8,
 * bf16); anything else is a usage error ("--precision: 'x' is not fp32, int8 or bf16",
 * printed): returns -1. */
int cli_parse_precision(const char *cmd, const char *opt, const char *s);
/* A finite number into *out: 0, or -1 after a usage error "OPT: 'S' is not a number". */
int cli_parse_number(const char *cmd, const char *opt, const char *s, double *out);
/* Seconds on the monotonic clock (for rates and elapsed times). */
double cli_now(void);
/* The file name of path without its folder and last extension ("a/taste.head" -> "taste"),
 * into buf; returns buf. */
const char *cli_base_name(const char *path, char *buf, size_t cap);
/* The image tower's precision to load with: p when >= 0 (from --precision), else
 * $AESTHETE_PRECISION when set and not empty, else fp32. A variable naming no precision is
 * printed: returns -1. The text tower's (--text-precision) has no variable: it is fp32 unless
 * a command is told otherwise, whatever the images' (a bank is encoded once and kept, and
 * int8 text noise reorders scores: see ae_model_params.text_precision), so a setting for the
 * whole machine would only put reduced banks under every run for no lasting speed. */
int cli_precision(int p);

/* Loads the model (spec from --model, or $AESTHETE_MODEL, or the default) with the towers
 * asked for, the image tower at precision (as cli_precision takes it: -1 for the default),
 * the text tower at text_precision (-1: fp32). Prints the error (bf16 on a CPU without
 * AVX512_BF16: the library's one line) and returns NULL on failure. */
ae_model *cli_load_model(const char *spec, int load_text, int load_vision, int precision,
                         int text_precision);
/* The same with all the parameters (no towers: tokenize, info). */
ae_model *cli_load_model_params(const char *spec, const ae_model_params *params);

/* Writes s (len bytes) as a JSON string literal; invalid UTF-8 becomes U+FFFD. */
void put_json_string(FILE *f, const char *s, size_t len);
/* Writes a float array as a JSON array with round-trip precision. */
void put_json_floats(FILE *f, const float *v, int32_t n);

/* Subcommands */
int cmd_embed(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_rank(int argc, char **argv);
int cmd_bank(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_fetch_model(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_head(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_cull(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Creates the folders of path's parent (ae_mkdirs_for); 0, or -1 with errno and ae_last_error(). */
int cli_mkdirs(const char *path);
/* Copies src to dst without ever replacing dst: to a temporary name beside dst, synced, then
 * linked to dst (EEXIST if dst exists) and the temporary removed; 0, or -1 with errno. */
int cli_copy_noreplace(const char *src, const char *dst);

/* Prints what the head (or prompt bank) file at path holds; EXIT_USAGE if it cannot be read. */
int cli_head_info(const char *path);

#endif
