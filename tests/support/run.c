/*
 * run.c — see run.h.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run.h"
#include "test.h"

static const char *cli(void)
{
    const char *p = getenv("AE_CLI");
    return p && *p ? p : AE_CLI_PATH;
}

/* Appends s to buf single-quoted for sh. */
static void shq(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    if (n + 4 >= cap) return;
    buf[n++] = '\'';
    for (; *s && n + 8 < cap; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    buf[n++] = '\'';
    buf[n++] = ' ';
    buf[n] = 0;
}

run_result run_cli(const char *env, const char *input, const char *const *args)
{
    static char cmd[1 << 17];
    char outp[4200], errp[4200];
    snprintf(outp, sizeof outp, "%s/stdout", test_tmpdir());
    snprintf(errp, sizeof errp, "%s/stderr", test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s ", env ? env : "");
    shq(cmd, sizeof cmd, cli());
    for (int i = 0; args[i]; i++) shq(cmd, sizeof cmd, args[i]);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, "> '%s' 2> '%s' < '%s'", outp, errp, input ? input : "/dev/null");
    int st = system(cmd);
    run_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), NULL, NULL, 0};
    r.out = read_file(outp, &r.out_len);
    r.err = read_file(errp, NULL);
    return r;
}

int run_sh(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

json_t *jline(const char *out, int k)
{
    const char *p = out;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p || !*p) return NULL;
    const char *e = strchr(p, '\n');
    return json_loadb(p, e ? (size_t)(e - p) : strlen(p), 0, NULL);
}

int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}
