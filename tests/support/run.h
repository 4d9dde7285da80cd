/*
 * run.h — running the aesthete command from tests: exit code, stdout and stderr captured,
 * and JSON Lines helpers.
 */
#ifndef AE_TEST_RUN_H
#define AE_TEST_RUN_H

#include <jansson.h>
#include <stddef.h>

typedef struct run_result {
    int code;        /* exit status, or 128 + signal */
    char *out, *err; /* captured, NUL-terminated */
    size_t out_len;
} run_result;

/* Runs $AE_CLI with NULL-terminated args; env (may be NULL) is a shell prefix such as
 * "HF_HUB_CACHE='/x'"; stdin is /dev/null unless input is given (a file path). */
run_result run_cli(const char *env, const char *input, const char *const *args);
#define RUN(...) run_cli(NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})
void run_free(run_result *r);

/* A shell command made with printf's format: its exit status (128 when it did not exit). */
int run_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Line k (0-based) of JSON Lines output, parsed; NULL if absent or invalid. */
json_t *jline(const char *out, int k);
int count_lines(const char *s);

#endif
