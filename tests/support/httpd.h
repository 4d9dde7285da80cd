/*
 * httpd.h — a small HTTP server for tests (libmicrohttpd, 127.0.0.1, ephemeral port, one
 * thread per connection) that plays well-behaved and misbehaving web servers and the Hugging
 * Face hub. Only loopback; every endless or slow body is bounded.
 *
 * Built-in routes:
 *   /bytes/<n>          n bytes (pattern i*7+3), Content-Type image/jpeg
 *   /status/<code>      that status, a short text/plain body
 *   /redirect/<n>       302 to /redirect/<n-1>; /redirect/0 answers 200 "redirected"
 *   /goto?to=<url>      302 to any URL (file://, ftp://, ...)
 *   /endless            a chunked body that never ends (stops after 1 GiB)
 *   /drip?ms=M&n=N      one byte every M ms, N bytes (defaults 100, 50)
 *   /html               200 text/html
 *   /<org>/<name>/resolve/<rev>/<file>   the hub: files added with httpd_hub_add; LFS files
 *                       answer 302 to /cdn/<sha256> with X-Repo-Commit, X-Linked-Etag,
 *                       X-Linked-Size; others 200 with a quoted 40-hex ETag; unknown files 404
 *   /moved/<rest>       307 to the relative /org/<rest> (a renamed repository)
 *   /cdn/<sha256>       LFS file content, honours "Range: bytes=N-" (206)
 * plus exact paths added with httpd_add. Every request is logged as
 * "METHOD PATH[ range=bytes=N-][ auth=<Authorization>]" for httpd_count / httpd_log_has.
 */
#ifndef AE_TEST_HTTPD_H
#define AE_TEST_HTTPD_H

#include <stddef.h>

typedef struct httpd httpd;

/* NULL on failure (the reason on stderr). */
httpd *httpd_start(void);
void httpd_stop(httpd *s);
int httpd_port(const httpd *s);
/* "http://127.0.0.1:<port><path>" into buf; returns buf. */
const char *httpd_url(const httpd *s, const char *path, char *buf, size_t cap);
/* A fixed answer for an exact path; data is not copied and must outlive the server. */
int httpd_add(httpd *s, const char *path, int status, const char *content_type,
              const void *data, size_t size);

/* The hub: a file of the served model (data not copied); lfs: served through /cdn/. */
int httpd_hub_add(httpd *s, const char *name, const void *data, size_t size, int lfs);
/* The commit hash answered in X-Repo-Commit (40 hex; a default is set). */
void httpd_hub_set_commit(httpd *s, const char *commit);
/* The next body of `name` is cut off (connection dropped) after `after` bytes; once. */
void httpd_hub_drop_once(httpd *s, const char *name, size_t after);
/* `name` is announced with a wrong sha256 ETag. */
void httpd_hub_bad_etag(httpd *s, const char *name);

/* Requests whose log line starts with prefix (e.g. "GET /cdn/"). */
int httpd_count(httpd *s, const char *prefix);
/* 1 if some log line contains needle. */
int httpd_log_has(httpd *s, const char *needle);
/* A local TCP port with nothing listening (bound, then closed); 0 on failure. */
int httpd_closed_port(void);

#endif
