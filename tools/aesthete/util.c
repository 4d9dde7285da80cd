/*
 * util.c — helpers shared by the subcommands: messages, option values, model loading and
 * JSON output.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "utf8.h"

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

static int stdout_errno;

void cli_note_stdout(void)
{
    if (!stdout_errno && ferror(stdout)) stdout_errno = errno ? errno : EIO;
}

int cli_stdout_errno(void) { return stdout_errno; }

void cli_warn(void *ctx, const char *msg) { cli_error("warning: %s", msg); }

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

int cli_bad_option(const char *cmd, int c, int argc, char **argv)
{
    const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) && optopt > 0 && optopt < 128) { /* a short option */
        if (optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-' && strchr(argv[optind] + 1, optopt))
            arg = argv[optind]; /* getopt is still inside this cluster */
        if (c == ':') return cli_usage_error(cmd, "option '-%c' needs a value", optopt);
        if (arg[0] == '-' && strlen(arg) > 2)
            return cli_usage_error(cmd, "unknown option '-%c' in '%s' (a file whose name starts with '-': write ./%s, or put it after --)",
                                   optopt, arg, arg);
        return cli_usage_error(cmd, "unknown option '-%c'", optopt);
    }
    size_t len = strcspn(arg, "=");
    if (c == ':') return cli_usage_error(cmd, "option '%.*s' needs a value", (int)len, arg);
    return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, arg);
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

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
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

int cli_mkdirs(const char *path) { return ae_mkdirs_for(path) == AE_OK ? 0 : -1; }

int cli_copy_noreplace(const char *src, const char *dst)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.aesthete-copy-%ld", dst, (long)getpid()) >= (int)sizeof tmp)
        return errno = ENAMETOOLONG, -1;
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in < 0) return -1;
    struct stat st;
    if (fstat(in, &st) != 0 || (out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777)) < 0)
        goto done;
    char buf[1 << 16];
    for (;;) {
        ssize_t k = read(in, buf, sizeof buf);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) goto done;
        if (k == 0) break;
        for (ssize_t off = 0; off < k;) {
            ssize_t w = write(out, buf + off, (size_t)(k - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) goto done;
            off += w;
        }
    }
    if (fsync(out) != 0 || close(out) != 0) {
        out = -1;
        goto done;
    }
    out = -1;
    if (link(tmp, dst) != 0) goto done;
    rc = 0;
done:;
    int e = errno;
    if (out >= 0) close(out);
    close(in);
    unlink(tmp);
    errno = e;
    return rc;
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
            size_t k = ae_utf8_seq(s + i, len - i);
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
