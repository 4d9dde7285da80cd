/*
 * fetch.c — http(s) downloads into memory with libcurl (easy API for one URL, multi API for
 * many at once on one thread).
 *
 * Every transfer is a `struct xfer`: the easy handle, the growing body, and the first failure
 * noticed by the write callback (status >= 400, text/html, over the byte cap), which wins over
 * curl's own code because it says more. Limits are enforced by curl where it can
 * (protocols for the first request and for redirects, redirect count, timeouts, low-speed
 * abort, Content-Length over the cap) and by the write callback for bodies without a length.
 */
#define _GNU_SOURCE
#include "fetch.h"
#include "netguard.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

#define URL_SHOWN 200 /* characters of a URL quoted in a message */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int ae_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return ae_fail(AE_ERR_IO, "libcurl: initialisation failed: %s",
                       curl_easy_strerror(curl_init_rc));
    return AE_OK;
}

const char *ae_user_agent(void) { return "aesthete/" AE_VERSION; }

void ae_buffer_free(ae_buffer *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

void ae_fetch_set_limits(void *curl, const ae_fetch_params *p)
{
    CURL *h = curl;
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, p->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)p->max_redirects);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    if (p->low_speed_bytes > 0 && p->low_speed_secs > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)p->low_speed_bytes);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)p->low_speed_secs);
    }
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_bytes);
    curl_easy_setopt(h, CURLOPT_USERAGENT, ae_user_agent());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: we run inside threads */
}

ae_fetch_params ae_fetch_default_params(void)
{
    ae_fetch_params p = {
        .max_bytes = 50 * 1000 * 1000,
        .max_redirects = 5,
        .connect_timeout_ms = 10000,
        .timeout_ms = 60000,
        .low_speed_bytes = 1024,
        .low_speed_secs = 10,
        .reject_html = 1,
        .max_parallel = 8,
    };
    return p;
}

struct xfer {
    CURL *h;
    const char *url;
    const ae_fetch_params *p;
    ae_buffer body;
    int checked;     /* the write callback has looked at status and headers */
    int fail_rc;     /* AE_OK, or the failure noticed by the write callback */
    char fail[256];  /* its cause (without the URL) */
    char errbuf[CURL_ERROR_SIZE];
    ae_netguard_state guard; /* public_only: what the address check refused */
};

static const char *reason(long status)
{
    switch (status) {
    case 400: return " Bad Request";
    case 401: return " Unauthorized";
    case 403: return " Forbidden";
    case 404: return " Not Found";
    case 410: return " Gone";
    case 429: return " Too Many Requests";
    case 500: return " Internal Server Error";
    case 502: return " Bad Gateway";
    case 503: return " Service Unavailable";
    case 504: return " Gateway Timeout";
    default: return "";
    }
}

static int http_fail(struct xfer *x, long status)
{
    x->fail_rc = status == 404 || status == 410 ? AE_ERR_NOT_FOUND : AE_ERR_IO;
    snprintf(x->fail, sizeof x->fail, "server answered HTTP %ld%s", status, reason(status));
    return x->fail_rc;
}

static void too_large(struct xfer *x)
{
    x->fail_rc = AE_ERR_TOO_LARGE;
    snprintf(x->fail, sizeof x->fail, "body exceeds the limit of %lld bytes",
             (long long)x->p->max_bytes);
}

/* First bytes of the final response: the status and headers are known by now (curl does not
 * pass the bodies of redirects it follows). Returns 0 to go on. */
static int check_response(struct xfer *x)
{
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400) return http_fail(x, status);
    char *ct = NULL;
    curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
    if (x->p->reject_html && ct && strncasecmp(ct, "text/html", 9) == 0) {
        x->fail_rc = AE_ERR_FORMAT;
        snprintf(x->fail, sizeof x->fail, "server sent text/html, not an image");
        return x->fail_rc;
    }
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct xfer *x = user;
    size_t n = size * nmemb;
    if (!x->checked) {
        x->checked = 1;
        if (check_response(x)) return 0; /* != n: curl aborts with CURLE_WRITE_ERROR */
    }
    ae_buffer *b = &x->body;
    size_t max = (size_t)x->p->max_bytes;
    if (n > max - b->size) {
        too_large(x);
        return 0;
    }
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64 * 1024;
        if (cap < b->size + n) cap = b->size + n;
        if (cap > max) cap = max;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            x->fail_rc = AE_ERR_NOMEM;
            snprintf(x->fail, sizeof x->fail, "out of memory for a %zu-byte body", cap);
            return 0;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, ptr, n);
    b->size += n;
    return n;
}

size_t ae_url_scheme_len(const char *s)
{
    size_t n = 0;
    if (!s || !isalpha((unsigned char)s[0])) return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.') n++;
    return strncmp(s + n, "://", 3) ? 0 : n;
}

/* Scheme check before curl sees the URL, for a clearer message than curl's. */
static int check_scheme(const char *url, char *msg, size_t cap)
{
    if (!url || !*url) {
        snprintf(msg, cap, "(empty URL): not a URL");
        return AE_ERR_INVALID;
    }
    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) return 0;
    const char *sep = strstr(url, "://");
    if (sep) {
        snprintf(msg, cap, "%.*s: scheme \"%.*s\" is not supported (only http and https URLs)",
                 URL_SHOWN, url, (int)(sep - url < 16 ? sep - url : 16), url);
        return AE_ERR_UNSUPPORTED;
    }
    snprintf(msg, cap, "%.*s: not a URL (expected http:// or https://)", URL_SHOWN, url);
    return AE_ERR_INVALID;
}

/* Sets up x for url; returns AE_OK or an error written to msg. */
static int xfer_setup(struct xfer *x, const char *url, const ae_fetch_params *p, char *msg,
                      size_t cap)
{
    memset(x, 0, sizeof *x);
    x->url = url;
    x->p = p;
    int rc = check_scheme(url, msg, cap);
    if (rc) return rc;
    if (p->max_bytes <= 0 || p->max_redirects < 0 || p->connect_timeout_ms <= 0 ||
        p->timeout_ms <= 0 || p->low_speed_bytes < 0 || p->low_speed_secs < 0) {
        snprintf(msg, cap, "%.*s: invalid fetch parameters", URL_SHOWN, url);
        return AE_ERR_INVALID;
    }
    x->h = curl_easy_init();
    if (!x->h) {
        snprintf(msg, cap, "%.*s: libcurl could not create a handle", URL_SHOWN, url);
        return AE_ERR_NOMEM;
    }
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    ae_fetch_set_limits(h, p);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    if (p->public_only) {
        curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the check must see the real peer */
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, ae_netguard_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &x->guard);
    }
    return AE_OK;
}

/* Turns the outcome of a transfer into AE_OK (x->body kept) or an error written to msg. */
static int xfer_finish(struct xfer *x, CURLcode cc, long *status_out, char *msg, size_t cap)
{
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (status_out) *status_out = status;
    if (cc == CURLE_OK && !x->fail_rc) {
        if (status >= 400) http_fail(x, status);
        else if (status >= 300) {
            x->fail_rc = AE_ERR_IO;
            snprintf(x->fail, sizeof x->fail, "HTTP %ld redirect not followed", status);
        } else if (!x->checked && check_response(x)) {
            /* empty body: the checks still apply */
        } else {
            return AE_OK;
        }
    }
    if (cc == CURLE_FILESIZE_EXCEEDED && !x->fail_rc) too_large(x);
    int rc;
    if (x->guard.blocked) {
        rc = AE_ERR_INVALID;
        snprintf(msg, cap, "%.*s: address %s is not public (loopback, private, link-local or reserved)", URL_SHOWN,
                 x->url, x->guard.addr);
    } else if (x->fail_rc) {
        rc = x->fail_rc;
        snprintf(msg, cap, "%.*s: %s", URL_SHOWN, x->url, x->fail);
    } else {
        const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        switch (cc) {
        case CURLE_UNSUPPORTED_PROTOCOL: rc = AE_ERR_UNSUPPORTED; break;
        case CURLE_URL_MALFORMAT: rc = AE_ERR_INVALID; break;
        case CURLE_OUT_OF_MEMORY: rc = AE_ERR_NOMEM; break;
        default: rc = AE_ERR_IO; break;
        }
        snprintf(msg, cap, "%.*s: %s%s", URL_SHOWN, x->url, why,
                 cc == CURLE_UNSUPPORTED_PROTOCOL ? " (only http and https are fetched)" : "");
    }
    ae_buffer_free(&x->body);
    return rc;
}

int ae_fetch_url(const char *url, const ae_fetch_params *params, ae_buffer *out)
{
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_fetch_url: no output buffer");
    int rc = ae_curl_init();
    if (rc) return rc;
    ae_fetch_params def = ae_fetch_default_params();
    const ae_fetch_params *p = params ? params : &def;
    struct xfer x;
    char msg[512];
    rc = xfer_setup(&x, url, p, msg, sizeof msg);
    if (rc == AE_OK) {
        CURLcode cc = curl_easy_perform(x.h);
        rc = xfer_finish(&x, cc, NULL, msg, sizeof msg);
    }
    if (x.h) curl_easy_cleanup(x.h);
    if (rc) return ae_fail(rc, "%s", msg);
    *out = x.body;
    return AE_OK;
}

void ae_fetch_results_free(ae_fetch_result *results, int32_t n)
{
    for (int32_t i = 0; results && i < n; i++) ae_buffer_free(&results[i].body);
}

int32_t ae_fetch_many(const char *const *urls, int32_t n, const ae_fetch_params *params,
                      ae_fetch_result *results)
{
    if (n < 0 || (n > 0 && (!urls || !results)))
        return ae_fail(AE_ERR_INVALID, "ae_fetch_many: invalid arguments");
    int rc = ae_curl_init();
    if (rc) return rc;
    ae_fetch_params def = ae_fetch_default_params();
    const ae_fetch_params *p = params ? params : &def;
    int32_t par = p->max_parallel > 0 ? p->max_parallel : 8;
    struct xfer *xs = calloc(n ? (size_t)n : 1, sizeof *xs);
    CURLM *m = curl_multi_init();
    if (!xs || !m) {
        free(xs);
        if (m) curl_multi_cleanup(m);
        return ae_fail(AE_ERR_NOMEM, "ae_fetch_many: out of memory");
    }
    memset(results, 0, (size_t)n * sizeof *results);

    int32_t next = 0, running = 0, failed = 0;
    for (;;) {
        /* keep up to `par` transfers going; URLs failing set-up are finished at once */
        while (running < par && next < n) {
            ae_fetch_result *r = &results[next];
            struct xfer *x = &xs[next];
            r->rc = xfer_setup(x, urls[next], p, r->error, sizeof r->error);
            if (r->rc == AE_OK && curl_multi_add_handle(m, x->h) != CURLM_OK) {
                r->rc = AE_ERR_NOMEM;
                snprintf(r->error, sizeof r->error, "%.*s: libcurl could not add the transfer",
                         URL_SHOWN, urls[next]);
            }
            if (r->rc != AE_OK) {
                failed++;
                if (x->h) curl_easy_cleanup(x->h);
                x->h = NULL;
            } else {
                running++;
            }
            next++;
        }
        if (running == 0) break;
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            ae_fetch_result *r = &results[x - xs];
            long status = 0;
            r->rc = xfer_finish(x, msg->data.result, &status, r->error, sizeof r->error);
            r->http_status = (int32_t)status;
            if (r->rc == AE_OK) r->body = x->body;
            else failed++;
            curl_multi_remove_handle(m, x->h);
            curl_easy_cleanup(x->h);
            x->h = NULL;
            running--;
        }
        if (running > 0 && still > 0) curl_multi_poll(m, NULL, 0, 200, NULL);
    }
    curl_multi_cleanup(m);
    free(xs);
    return failed;
}
