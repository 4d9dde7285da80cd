/*
 * fetch.h — downloading images from http(s) URLs into memory with libcurl.
 *
 * Only http and https are fetched, also across redirects (a redirect to file:// or ftp:// is
 * refused), the number of redirects is limited, the body is capped while it arrives (an endless
 * body costs at most max_bytes), and a server that stops sending or drips slower than the
 * low-speed limit is dropped. A status >= 400 is an error naming the status. Every error is one
 * line that names the URL and the cause, kept in ae_last_error() (or per URL for
 * ae_fetch_many).
 */
#ifndef AE_APP_FETCH_H
#define AE_APP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer; zero-initialise, free with ae_buffer_free. */
typedef struct ae_buffer {
    uint8_t *data;
    size_t size, cap;
} ae_buffer;

void ae_buffer_free(ae_buffer *b);

/* The length of s's URL scheme ("ftp" of "ftp://host/x": 3) when s starts with one
 * (letters, digits, '+', '-', '.' then "://"), else 0: for "unsupported URL scheme" instead of
 * "no such file". */
size_t ae_url_scheme_len(const char *s);

typedef struct ae_fetch_params {
    int64_t max_bytes;          /* refuse bodies over this many bytes (default 50 MB) */
    int32_t max_redirects;      /* redirects followed at most (default 5) */
    int32_t connect_timeout_ms; /* TCP + TLS connect (default 10000) */
    int32_t timeout_ms;         /* whole transfer (default 60000) */
    int32_t low_speed_bytes;    /* abort when slower than this many bytes/s ... (default 1024) */
    int32_t low_speed_secs;     /* ... for this many seconds (default 10) */
    int32_t reject_html;        /* 1: a text/html answer is an error (default 1) */
    int32_t max_parallel;       /* ae_fetch_many: transfers at once (default 8) */
    int32_t public_only;        /* 1: connect only to public addresses, on every connection
                                   (redirects too; proxies ignored): netguard.h (default 0) */
} ae_fetch_params;

ae_fetch_params ae_fetch_default_params(void);

/* Initialises libcurl once per process (thread-safe). Called by every entry point here and in
 * hubdl.c; returns AE_OK or AE_ERR_IO. */
int ae_curl_init(void);

/* The User-Agent sent with every request: "aesthete/<AE_VERSION>". */
const char *ae_user_agent(void);

/* Sets the limits of params on a libcurl easy handle (a CURL *): http(s) only, also across
 * redirects, the redirect count, connect/total timeouts, the low-speed limit, the size cap, the
 * User-Agent, no signals. Shared by every transfer of the application layer. */
void ae_fetch_set_limits(void *curl, const ae_fetch_params *params);

/* Downloads url into *out (zero-initialised or freed by the caller before; filled only on
 * success, caller frees with ae_buffer_free). params may be NULL for the defaults.
 * Returns AE_OK, or with ae_last_error() set to "URL: cause":
 *   AE_ERR_INVALID      malformed URL
 *   AE_ERR_UNSUPPORTED  not http(s), or a redirect to another scheme
 *   AE_ERR_NOT_FOUND    HTTP 404 / 410
 *   AE_ERR_TOO_LARGE    body over max_bytes
 *   AE_ERR_FORMAT       text/html instead of an image (reject_html)
 *   AE_ERR_IO           anything else: connection, timeout, too slow, too many redirects,
 *                       other HTTP statuses >= 400 */
int ae_fetch_url(const char *url, const ae_fetch_params *params, ae_buffer *out);

/* The result of one URL of ae_fetch_many. */
typedef struct ae_fetch_result {
    int32_t rc;          /* AE_OK or an AE_ERR_* code as for ae_fetch_url */
    int32_t http_status; /* last HTTP status, 0 if none was received */
    ae_buffer body;      /* the body when rc == AE_OK; free with ae_fetch_results_free */
    char error[512];     /* "URL: cause" when rc != AE_OK, else "" */
} ae_fetch_result;

/* Downloads n URLs concurrently (at most params->max_parallel at once) on the calling thread.
 * results[i] belongs to urls[i]; one URL failing never stops the others.
 * Returns the number of failed URLs (0: all fetched), or a negative AE_ERR_* for a bad call
 * (results untouched). */
int32_t ae_fetch_many(const char *const *urls, int32_t n, const ae_fetch_params *params,
                      ae_fetch_result *results);
void ae_fetch_results_free(ae_fetch_result *results, int32_t n);

#ifdef __cplusplus
}
#endif
#endif
