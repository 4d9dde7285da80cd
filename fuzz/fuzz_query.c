/*
 * fuzz_query.c — libFuzzer target for the query strings of the server: the input is what
 * follows '?' in a request's URL. It is split and decoded as libmicrohttpd 0.9.75 does for
 * MHD_GET_ARGUMENT_KIND ('&' between arguments, the first '=' between name and value, '+' a
 * space, then MHD_http_unescape, its own decoder), and every value goes through the check the
 * endpoints make (api_param_ok, app/server_api.c), then through the parsers of the named
 * parameters (method, keep_by, search, the numbers of /api/cull). The promise: a value is
 * accepted exactly when it is at most 1024 bytes of UTF-8 by RFC 3629 (no overlong forms, no
 * surrogates) without NUL or another control character but tab — in particular "%00" is never
 * accepted, it would cut the value short. Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: the
 * query strings of the page and the tests, and the probe's findings (a%00b, overlong and
 * surrogate escapes).
 */
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "fuzz_util.h"
#include "server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* what the server accepts, independently */
static int acceptable(const char *v, size_t n)
{
    if (n > 1024 || !fuzz_utf8((const uint8_t *)v, n)) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 && v[i] != '\t') return 0;
    return 1;
}

static void one_value(const char *name, char *v)
{
    size_t n = MHD_http_unescape(v);
    int ok = api_param_ok(v, n);
    if (ok != acceptable(v, n)) abort();
    if (!ok) return;
    /* what the endpoints do with accepted values (they see a C string) */
    if (strlen(v) != n) abort();
    if (!strcmp(name, "method")) {
        int m = ae_method_parse(v);
        if (m >= 0 && strcmp(ae_method_name((ae_method)m), v)) abort(); /* names round-trip */
    } else if (!strcmp(name, "keep_by")) {
        ae_keep_by k;
        ae_keep_by_parse(v, &k);
    } else if (!strcmp(name, "search")) {
        ae_cull_search cs;
        ae_cull_search_parse(v, &cs);
    } else {
        char *end;
        volatile double x = strtod(v, &end);
        (void)x;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = malloc(size + 1);
    if (!q) return 0;
    memcpy(q, data, size);
    q[size] = 0; /* MHD hands the URL over as a C string: a NUL ends it */
    for (char *arg = q; arg;) {
        char *amp = strchr(arg, '&');
        if (amp) *amp = 0;
        char *eq = strchr(arg, '=');
        if (eq) *eq = 0;
        for (char *p = arg; *p; p++)
            if (*p == '+') *p = ' ';
        MHD_http_unescape(arg);
        if (eq) {
            for (char *p = eq + 1; *p; p++)
                if (*p == '+') *p = ' ';
            one_value(arg, eq + 1);
        }
        arg = amp ? amp + 1 : NULL;
    }
    free(q);
    return 0;
}
