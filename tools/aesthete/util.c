/*
 * util.c — helpers shared by the subcommands: messages, option values, model loading and
 * JSON output.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* s with control characters written as \n, \r, \t or \xHH: one line, safe on a terminal */
static void put_plain(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
}

void cli_error(const char *fmt, ...)
{
    /* one line, whatever the message quotes (a file name may hold a newline or an escape) */
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("aesthete: ", stderr);
    put_plain(stderr, buf);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "aesthete %s: ", cmd);
    put_plain(stderr, buf);
    fprintf(stderr, "\nTry 'aesthete %s --help'.\n", cmd);
    return EXIT_USAGE;
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end); /* accepts 100e6 as well as 8 */
    if (errno || end == s || *end || v != v || v < lo || v > hi || v != (double)(long)v) {
        cli_usage_error(cmd, "%s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int cli_parse_number(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) {
        cli_usage_error(cmd, "%s: '%s' is not a number", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

const char *cli_base_name(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(buf, cap, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

int cli_parse_precision(const char *cmd, const char *opt, const char *s)
{
    int p = ae_precision_parse(s);
    if (p < 0) cli_usage_error(cmd, "%s: '%s' is not fp32, int8 or bf16", opt, s);
    return p;
}

int cli_precision(int p)
{
    if (p >= 0) return p;
    /* the default, as $AESTHETE_MODEL is the model's: one setting for every command */
    const char *env = getenv("AESTHETE_PRECISION");
    if (!env || !*env) return AE_PRECISION_FP32;
    if ((p = ae_precision_parse(env)) < 0)
        cli_error("$AESTHETE_PRECISION: '%s' is not fp32, int8 or bf16", env);
    return p;
}

ae_model *cli_load_model(const char *spec, int load_text, int load_vision, int precision,
                         int text_precision)
{
    ae_model_params mp = ae_model_default_params();
    mp.load_text = load_text;
    mp.load_vision = load_vision;
    int p = cli_precision(precision);
    if (p < 0) return NULL;
    mp.precision = (ae_precision)p;
    if (text_precision >= 0) mp.text_precision = (ae_precision)text_precision;
    return cli_load_model_params(spec, &mp);
}

ae_model *cli_load_model_params(const char *spec, const ae_model_params *mp)
{
    if (!spec) spec = getenv("AESTHETE_MODEL");
    if (!spec || !*spec) spec = DEFAULT_MODEL;
    ae_model *m = NULL;
    int rc = ae_model_load(spec, mp, &m);
    if (rc != AE_OK) {
        cli_error("%s", ae_last_error()[0] ? ae_last_error() : ae_strerror(rc));
        return NULL;
    }
    return m;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

void put_json_string(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\t': fputs("\\t", f); break;
            case '\r': fputs("\\r", f); break;
            default: fprintf(f, "\\u%04x", c);
            }
            i++;
        } else {
            size_t k = utf8_seq(s + i, len - i);
            if (k == 0) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(s + i, 1, k, f);
                i += k;
            }
        }
    }
    fputc('"', f);
}

void put_json_floats(FILE *f, const float *v, int32_t n)
{
    fputc('[', f);
    for (int32_t i = 0; i < n; i++) fprintf(f, i ? ", %.9g" : "%.9g", (double)v[i]);
    fputc(']', f);
}
