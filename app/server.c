/*
 * server.c — the HTTP side of `aesthete serve`: the libmicrohttpd daemon, request routing,
 * body buffering with its caps, admission to the inference queue, the receive deadlines, and
 * graceful shutdown.
 *
 * Threads: one per connection (MHD_USE_THREAD_PER_CONNECTION), at most max_connections of
 * them and max_per_ip per client address. A request is checked as soon as its headers are in:
 * route and method (404/405), declared Content-Length against the upload cap (413 before a
 * byte of the body is read), Content-Type (415), multipart boundary (400), and a free slot
 * among max_inflight (503 + Retry-After otherwise; these refusals drain a body within the cap
 * without keeping it, so that the client reads the answer rather than a reset connection).
 * A chunked body is refused (411): it declares no length, so the cap could not be checked
 * up front. The body is then buffered (libmicrohttpd delivers exactly Content-Length bytes).
 * Once complete, server_api.c answers it on the same thread, waiting for the inference thread
 * when needed. Decoding, CPU-bound and up to 3 * max_pixels bytes per image, runs on at most
 * max(1, min(cores / 2, 4)) connection threads at once; with the caps above, the memory of a
 * busy server stays within about max_inflight * max_upload_bytes + 4 * 3 * max_pixels bytes
 * plus the model.
 *
 * Slow clients: libmicrohttpd's timeout is an inactivity timeout, which a client sending one
 * byte a second never trips. A watchdog thread therefore tracks every connection from its
 * socket and shuts it down when its request headers have not arrived within timeout_s, when
 * its body falls below 16 KiB/s on average after that grace, when an idle keep-alive
 * connection exceeds timeout_s, or when sending an answer takes longer than timeout_s. Time
 * spent waiting for inference is not counted (the request budget covers it); MHD's own
 * timeout stays set as a backstop above all of these.
 *
 * Shutdown: MHD_quiesce_daemon closes the listening socket, requests already admitted run to
 * their answer, then the daemon and the threads stop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "server_internal.h"

/* web/ compiled in by cmake/xxd.cmake */
extern const unsigned char ae_web_index_html[], ae_web_app_js[], ae_web_style_css[];
extern const unsigned long ae_web_index_html_len, ae_web_app_js_len, ae_web_style_css_len;

#define MIN_BODY_RATE 16384.0 /* bytes/s a body must average after the grace period */

ae_server_params ae_server_default_params(void)
{
    ae_server_params p;
    memset(&p, 0, sizeof p);
    p.host = "127.0.0.1";
    p.port = 8080;
    p.max_connections = 64;
    p.max_per_ip = 32;
    p.timeout_s = 30;
    p.request_timeout_s = 60;
    p.max_upload_bytes = (int64_t)20 << 20;
    p.max_inflight = 16;
    p.max_parts = 256;
    p.batch = 8;
    p.max_banks = 16;
    p.max_classes = 2000;
    p.image = ae_image_default_params();
    p.fetch = ae_fetch_default_params();
    return p;
}

double server_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

json_t *api_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    /* messages can quote client bytes: json_string refuses invalid UTF-8, so fall back */
    json_t *v = json_string(msg);
    json_object_set_new(o, "error", v ? v : json_string("invalid request"));
    return o;
}

/* ---- per-request state ---- */

typedef struct request {
    int route;
    int admitted;          /* holds one of max_inflight */
    int responded;
    int get;               /* a GET without a body: answered once the request is complete */
    int cors;                 /* from the --cors origin: answered with its CORS headers */
    uint8_t *body;
    size_t size, cap;
    int64_t declared;      /* Content-Length, -1 if none */
    char line[160];        /* "METHOD /path" for the log */
    json_t *deferred;      /* an answer decided from the headers, sent once the body is drained */
    int deferred_status;
    char content_type[512];
    double t0;
} request;

static conn_track *track_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_track *)ci->socket_context : NULL;
}

static void set_phase(ae_server *s, struct MHD_Connection *c, int phase, int reset)
{
    conn_track *t = track_of(c);
    if (!t) return;
    pthread_mutex_lock(&s->mu);
    t->phase = phase;
    if (reset) t->start = server_now(), t->received = 0;
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result send_buffer(ae_server *s, struct MHD_Connection *c, request *r, int status,
                                   const char *ctype, void *data, size_t len, enum MHD_ResponseMemoryMode mode,
                                   int close)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, mode);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (status == 503) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route == ROUTE_HEAD ? "GET, HEAD, POST" : r->route >= ROUTE_SCORE ? "POST" : "GET, HEAD");
    if (r->cors) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, s->p.cors_origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type, Authorization");
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) {
        r->responded = 1;
        /* from now on the watchdog times the sending of the answer */
        set_phase(s, c, CONN_RECEIVING, 1);
    }
    return ok;
}

static enum MHD_Result send_json(ae_server *s, struct MHD_Connection *c, request *r, int status, json_t *j,
                                 int close)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    if (!text) text = strdup("{\"error\":\"out of memory\"}"), status = 503;
    if (!text) return MHD_NO;
    size_t n = strlen(text);
    if (!s->p.quiet) /* one line per answer; the error text for failures */
        fprintf(stderr, "aesthete serve: %s %d %.1f ms%s%s\n", r->line, status, (server_now() - r->t0) * 1e3,
                status >= 400 ? " " : "", status >= 400 ? text : "");
    return send_buffer(s, c, r, status, "application/json", text, n, MHD_RESPMEM_MUST_FREE, close);
}

static enum MHD_Result send_page(ae_server *s, struct MHD_Connection *c, request *r)
{
    const unsigned char *data;
    unsigned long len;
    const char *type;
    switch (r->route) {
    case ROUTE_JS: data = ae_web_app_js, len = ae_web_app_js_len, type = "text/javascript; charset=utf-8"; break;
    case ROUTE_CSS: data = ae_web_style_css, len = ae_web_style_css_len, type = "text/css; charset=utf-8"; break;
    default: data = ae_web_index_html, len = ae_web_index_html_len, type = "text/html; charset=utf-8"; break;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                            "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                            "frame-ancestors 'none'");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) r->responded = 1, set_phase(s, c, CONN_RECEIVING, 1);
    return ok;
}

/* GET /api/head?id=ID: the head file of a head trained on the server, as a download. */
static enum MHD_Result send_head_file(ae_server *s, struct MHD_Connection *c, request *r)
{
    const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
    uint8_t *data = NULL;
    size_t len = 0;
    char fname[128];
    int status = 200;
    json_t *err = api_head_file(s, id, &data, &len, fname, sizeof fname, &status);
    if (err) return send_json(s, c, r, status, err, 0);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    char disp[200];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", fname);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    MHD_add_response_header(resp, "Content-Disposition", disp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) r->responded = 1, set_phase(s, c, CONN_RECEIVING, 1);
    return ok;
}

static int route_of(const char *url, const char *method, int *method_ok)
{
    static const struct { const char *path; int route, post; } routes[] = {
        {"/", ROUTE_PAGE, 0},          {"/index.html", ROUTE_PAGE, 0}, {"/app.js", ROUTE_JS, 0},
        {"/style.css", ROUTE_CSS, 0},  {"/healthz", ROUTE_HEALTH, 0},  {"/api/info", ROUTE_INFO, 0},
        {"/api/score", ROUTE_SCORE, 1}, {"/api/rank", ROUTE_RANK, 1},  {"/api/embed", ROUTE_EMBED, 1},
        {"/api/bank", ROUTE_BANK, 1},   {"/api/head", ROUTE_HEAD, 2},  {"/api/cull", ROUTE_CULL, 1},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i].path)) {
            int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), is_post = !strcmp(method, "POST");
            *method_ok = routes[i].post == 2 ? is_get || is_post : routes[i].post ? is_post : is_get;
            if (routes[i].post == 2 && is_get) return ROUTE_HEAD_FILE; /* a trained head, downloaded */
            return routes[i].route;
        }
    return ROUTE_NONE;
}

static int starts_with_ci(const char *s, const char *prefix) { return !strncasecmp(s, prefix, strlen(prefix)); }

/* Checks made once the headers are in. Returns 0 to go on, else the status already chosen. */
static int check_headers(ae_server *s, struct MHD_Connection *c, request *r, json_t **err)
{
    /* A chunked body declares no length, and libmicrohttpd keeps its chunk sizes to itself: a
       client announcing a chunk of 2^64 - 1 bytes and sending a few would hold the connection
       (and a slot of max_inflight) until the watchdog's deadline. Bodies must declare their
       length (browsers and curl's -F / --data-binary do). */
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasestr(te, "chunked")) {
        *err = api_error("a chunked request body is not accepted: send Content-Length");
        return 411;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    r->declared = -1;
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno == ERANGE || v > (unsigned long long)INT64_MAX) v = (unsigned long long)INT64_MAX;
        r->declared = (int64_t)v;
    }
    if (r->declared > s->p.max_upload_bytes) {
        *err = api_error("request body of %lld bytes exceeds the limit of %lld bytes", (long long)r->declared,
                         (long long)s->p.max_upload_bytes);
        return 413;
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
    int multipart = starts_with_ci(r->content_type, "multipart/form-data");
    int has_body = r->declared != 0; /* unknown (chunked) counts as a body */
    if (multipart) {
        char b[80];
        if (mp_boundary(r->content_type, b, sizeof b) != 0) {
            *err = api_error("multipart/form-data without a valid boundary parameter");
            return 400;
        }
    } else if (r->route == ROUTE_HEAD) {
        if (!starts_with_ci(r->content_type, "application/json")) {
            *err = api_error("send the labelled embeddings as application/json (got Content-Type '%s')",
                             r->content_type[0] ? r->content_type : "none");
            return 415;
        }
    } else if (r->route == ROUTE_RANK || r->route == ROUTE_CULL || r->route == ROUTE_BANK) {
        *err = api_error("send the files as multipart/form-data (got Content-Type '%s')",
                         r->content_type[0] ? r->content_type : "none");
        return 415;
    } else if (has_body && !starts_with_ci(r->content_type, "image/") &&
               !starts_with_ci(r->content_type, "application/octet-stream") && r->content_type[0]) {
        *err = api_error("Content-Type '%s' is not accepted: send image/*, application/octet-stream or "
                         "multipart/form-data", r->content_type);
        return 415;
    }
    pthread_mutex_lock(&s->mu);
    int full = s->inflight >= s->p.max_inflight;
    if (!full) s->inflight++, r->admitted = 1;
    else s->n_rejected++;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        *err = api_error("busy: %d requests in progress (--max-inflight); retry shortly", s->p.max_inflight);
        return 503;
    }
    return 0;
}

/* Content-Length was checked against the cap, and libmicrohttpd delivers no more than it */
static int append_body(ae_server *s, request *r, const char *data, size_t n)
{
    if ((int64_t)(r->size + n) > s->p.max_upload_bytes) return -1; /* not reached; a guard */
    if (r->size + n > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        if (r->declared > 0 && (size_t)r->declared >= r->size + n) cap = (size_t)r->declared;
        while (cap < r->size + n) cap *= 2;
        if ((int64_t)cap > s->p.max_upload_bytes) cap = (size_t)s->p.max_upload_bytes;
        uint8_t *b = realloc(r->body, cap + 1);
        if (!b) return -2;
        r->body = b, r->cap = cap;
    }
    memcpy(r->body + r->size, data, n);
    r->size += n;
    return 0;
}

/* ---- who may ask: Host, origin, token ---- */

/* The host part of a Host or Origin authority ("[::1]:8080" -> "::1", "a.b:80" -> "a.b") */
static void host_part(const char *auth, char *out, size_t cap)
{
    size_t n;
    if (auth[0] == '[') {
        const char *e = strchr(auth, ']');
        n = e ? (size_t)(e - auth - 1) : 0;
        auth++;
    } else {
        n = strcspn(auth, ":");
    }
    if (n >= cap) n = cap - 1;
    memcpy(out, auth, n);
    out[n] = 0;
}

static int is_loopback_name(const char *h)
{
    return !strcasecmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

/* 1 if host (no port) is in the comma-separated list */
static int in_list(const char *list, const char *host)
{
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == strlen(host) && !strncasecmp(p, host, n)) return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* Equal in constant time for equal lengths (the token's length is not secret enough to hide) */
static int same_secret(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    unsigned char d = n != m;
    for (size_t i = 0; i < n && i < m; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* 0 when the request may go on; else its status with *err. */
static int access_check(ae_server *s, struct MHD_Connection *c, request *r, const char *method, json_t **err)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    char h[256] = "";
    if (host) host_part(host, h, sizeof h);
    /* a server on loopback answers loopback names only: a page of another site that
       resolves its own name to 127.0.0.1 (DNS rebinding) is not this server's client */
    if (is_loopback_name(s->p.host) && !is_loopback_name(h) && !in_list(s->p.allowed_hosts, h) &&
        strcmp(h, s->p.host)) {
        *err = api_error("Host '%.64s' is not this server's name; start it with --allowed-host %.64s to accept it",
                         host ? host : "(none)", h[0] ? h : "NAME");
        return 403;
    }
    /* another site's page: refused unless it is the --cors origin */
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    int cross = 0;
    if (origin && strcmp(origin, "null")) {
        const char *auth = strstr(origin, "://");
        cross = !auth || !host || strcasecmp(auth + 3, host);
    } else if (origin) {
        cross = 1; /* a sandboxed or file:// page */
    }
    if (!origin && site && !strcasecmp(site, "cross-site")) cross = 1;
    if (cross && !(s->p.cors_origin && origin && !strcmp(origin, s->p.cors_origin))) {
        *err = api_error("a request from another site (%.64s) is refused; start the server with --cors ORIGIN to allow one",
                         origin ? origin : "Sec-Fetch-Site: cross-site");
        return 403;
    }
    r->cors = cross; /* the allowed origin: answered with its CORS header */
    /* a preflight carries no token; the request it announces will */
    if (s->p.auth_token && r->route >= ROUTE_INFO && r->route != ROUTE_PAGE && strcmp(method, "OPTIONS")) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!a || strncasecmp(a, "Bearer ", 7) || !same_secret(a + 7, s->p.auth_token)) {
            *err = api_error(a ? "the token is not this server's" : "this server needs a token: Authorization: Bearer TOKEN");
            return 401;
        }
    }
    return 0;
}

/* the pages, /healthz, /api/info and GET /api/head */
static enum MHD_Result answer_get(ae_server *s, struct MHD_Connection *c, request *r)
{
    set_phase(s, c, CONN_BUSY, 0);
    json_t *bad = api_unknown_param(r->route, c, NULL, 0);
    if (bad) return send_json(s, c, r, 400, bad, 0);
    if (r->route == ROUTE_HEALTH) return send_json(s, c, r, 200, json_pack("{s:s}", "status", "ok"), 0);
    if (r->route == ROUTE_INFO) return send_json(s, c, r, 200, api_info(s), 0);
    if (r->route == ROUTE_HEAD_FILE) return send_head_file(s, c, r);
    return send_page(s, c, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    ae_server *s = cls;
    request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *con_cls = r;
        r->t0 = server_now();
        snprintf(r->line, sizeof r->line, "%.8s %.140s", method, url);
        for (char *p = r->line; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?'; /* no control bytes in logs */
        pthread_mutex_lock(&s->mu);
        s->active++;
        s->n_requests++;
        pthread_mutex_unlock(&s->mu);
        int method_ok = 0;
        r->route = route_of(url, method, &method_ok);
        json_t *denied = NULL;
        int why = access_check(s, c, r, method, &denied);
        if (why) {
            /* a body within the cap is drained and answered after (see below), so that the
               client sees the answer rather than a reset connection */
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            long long n = cl ? strtoll(cl, NULL, 10) : 0;
            if (n <= 0 || n > s->p.max_upload_bytes) return send_json(s, c, r, why, denied, 1);
            r->deferred = denied, r->deferred_status = why;
            set_phase(s, c, CONN_RECEIVING, 0);
            return MHD_YES;
        }
        if (r->cors && !strcmp(method, "OPTIONS")) /* the allowed origin's preflight */
            return send_buffer(s, c, r, 204, "text/plain", (void *)"", 0, MHD_RESPMEM_PERSISTENT, 0);
        if (r->route == ROUTE_NONE)
            return send_json(s, c, r, 404, api_error("no such path: %s", url), 0);
        if (!method_ok)
            return send_json(s, c, r, 405, api_error("method %s is not allowed on %s", method, url), 0);
        if (r->route < ROUTE_SCORE) {
            /* answered on the next call, once libmicrohttpd has the whole request: an answer
               queued from the headers alone makes it close the connection (no keep-alive).
               A GET that announces a body is answered at once and closed. */
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
                (cl && strcmp(cl, "0")))
                return answer_get(s, c, r);
            r->get = 1;
            set_phase(s, c, CONN_BUSY, 0);
            return MHD_YES;
        }
        json_t *err = NULL;
        int st = check_headers(s, c, r, &err);
        if (st) {
            /* A client that sent its whole body before reading the answer would see the
               connection reset instead of it, so a body within the cap is drained (not kept)
               and answered after; 413 and clients waiting on "Expect: 100-continue" (which
               then send nothing) are answered at once. */
            const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            if (st == 413 || st == 411 || (expect && !strcasecmp(expect, "100-continue")) || r->declared == 0)
                return send_json(s, c, r, st, err, 1);
            r->deferred = err, r->deferred_status = st;
        }
        set_phase(s, c, CONN_RECEIVING, 0); /* the body: the rate rule applies from the request start */
        return MHD_YES;
    }
    if (r->responded) { /* an early answer was queued: drop what still arrives */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        conn_track *t = track_of(c);
        if (t) {
            pthread_mutex_lock(&s->mu);
            t->received += (int64_t)n;
            pthread_mutex_unlock(&s->mu);
        }
        if (r->deferred) return MHD_YES; /* drained */
        int rc = append_body(s, r, upload_data, n);
        if (rc == -1) return MHD_NO; /* libmicrohttpd takes no answer in the middle of a body */
        if (rc == -2) return send_json(s, c, r, 503, api_error("out of memory buffering the request"), 1);
        return MHD_YES;
    }
    /* the whole request is in */
    set_phase(s, c, CONN_BUSY, 0);
    if (r->get) return answer_get(s, c, r);
    if (r->deferred) {
        json_t *j = r->deferred;
        r->deferred = NULL;
        return send_json(s, c, r, r->deferred_status, j, 1);
    }
    api_request ar = {c, r->route, r->content_type, r->body, r->size, r->t0, r->t0 + s->p.request_timeout_s};
    int status = 200;
    json_t *j = api_handle(s, &ar, &status);
    return send_json(s, c, r, status, j, 0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    ae_server *s = cls;
    request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    set_phase(s, c, CONN_RECEIVING, 1); /* idle keep-alive from now on */
    pthread_mutex_lock(&s->mu);
    if (r->admitted) s->inflight--;
    s->active--;
    pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
    json_decref(r->deferred);
    free(r->body);
    free(r);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    ae_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_track *t = calloc(1, sizeof *t);
        if (!t || !ci) {
            free(t);
            return;
        }
        t->fd = ci->connect_fd;
        t->phase = CONN_RECEIVING;
        t->start = server_now();
        pthread_mutex_lock(&s->mu);
        t->next = s->conns;
        if (s->conns) s->conns->prev = t;
        s->conns = t;
        pthread_mutex_unlock(&s->mu);
        *socket_context = t;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_track *t = *socket_context;
        if (!t) return;
        /* unlinked before MHD closes the socket, so the watchdog never touches a reused fd */
        pthread_mutex_lock(&s->mu);
        if (t->prev) t->prev->next = t->next;
        else s->conns = t->next;
        if (t->next) t->next->prev = t->prev;
        pthread_mutex_unlock(&s->mu);
        free(t);
        *socket_context = NULL;
    }
}

static void *watchdog_main(void *arg)
{
    ae_server *s = arg;
    const double grace = s->p.timeout_s;
    pthread_mutex_lock(&s->mu);
    while (!s->watchdog_stop) {
        double now = server_now();
        for (conn_track *t = s->conns; t; t = t->next) {
            if (t->phase == CONN_BUSY || t->killed) continue;
            if (now - t->start > grace + (double)t->received / MIN_BODY_RATE) {
                t->killed = 1;
                shutdown(t->fd, SHUT_RDWR);
            }
        }
        double next = server_now() + 0.25;
        struct timespec ts = {(time_t)next, (long)((next - (double)(time_t)next) * 1e9)};
        pthread_cond_timedwait(&s->tick_cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- lifetime ---- */

int ae_server_new(const ae_model *model, ae_session *session, const ae_server_params *params, ae_server **out)
{
    *out = NULL;
    if (!model || !session) return ae_fail(AE_ERR_INVALID, "server: no model or session");
    ae_server *s = calloc(1, sizeof *s);
    if (!s) return ae_fail(AE_ERR_NOMEM, "server: out of memory");
    s->p = params ? *params : ae_server_default_params();
    if (!s->p.host) s->p.host = "127.0.0.1";
    if (s->p.max_inflight < 1) s->p.max_inflight = 1;
    if (s->p.batch < 1) s->p.batch = 1;
    if (s->p.max_parts < 1) s->p.max_parts = 1;
    if (s->p.timeout_s < 1) s->p.timeout_s = 1;
    if (s->p.request_timeout_s < 1) s->p.request_timeout_s = 1;
    s->model = model;
    s->session = session;
    ae_model_get_info(model, &s->info);
    s->psz = ae_model_pixels_size(model);
    s->dim = s->info.embed_dim;
    if (s->p.model_name && *s->p.model_name) snprintf(s->model_name, sizeof s->model_name, "%s", s->p.model_name);
    else /* as users name it: a hub model's repo id, not its snapshot's commit hash */
        snprintf(s->model_name, sizeof s->model_name, "%s", s->info.id);
    s->p.model_name = s->model_name;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, &ca);
    pthread_cond_init(&s->done_cv, &ca);
    pthread_cond_init(&s->idle_cv, &ca);
    pthread_cond_init(&s->tick_cv, &ca);
    pthread_cond_init(&s->decode_cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Decoding is CPU-bound and each decode may hold up to 3 * max_pixels bytes. Half the
       cores (at most 4) leave the rest to the forward pass, whose workers suffer from
       oversubscription, and bound that memory. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->decode_slots = cores < 2 ? 1 : cores > 8 ? 4 : (int)(cores / 2);
    *out = s;
    return AE_OK;
}

int ae_server_start(ae_server *s)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (!strcmp(s->p.host, "localhost")) s->p.host = "127.0.0.1";
    if (inet_pton(AF_INET, s->p.host, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)s->p.port);
    } else if (inet_pton(AF_INET6, s->p.host, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)s->p.port);
        flags |= MHD_USE_IPv6;
    } else {
        return ae_fail(AE_ERR_INVALID, "--host %s: not a numeric IPv4 or IPv6 address", s->p.host);
    }
    if (s->p.port < 0 || s->p.port > 65535) return ae_fail(AE_ERR_INVALID, "--port %d: out of range", s->p.port);
    if (!s->p.tls_cert != !s->p.tls_key) return ae_fail(AE_ERR_INVALID, "TLS needs both a certificate and a key");
    if (s->p.tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return ae_fail(AE_ERR_UNSUPPORTED, "this libmicrohttpd was built without TLS");
        flags |= MHD_USE_TLS;
    }
    /* Bodies (up to max_upload_bytes) and decoded images are allocated and freed by the
       connection threads. glibc raises its mmap threshold each time such a block is freed, so
       the next ones come from per-thread arenas that keep the memory: the soak (bench_soak)
       saw VmRSS climb from 44 to 155 MiB in 20 s. A fixed threshold (which also stops the
       raising) gives every large block back on free. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    if (infer_start(s) != 0) return ae_fail(AE_ERR_NOMEM, "server: cannot start the inference thread");
    s->watchdog_stop = 0;
    if (pthread_create(&s->watchdog_thread, NULL, watchdog_main, s) == 0) s->watchdog_running = 1;
    /* MHD's inactivity timeout is the backstop; the watchdog enforces the tighter deadlines */
    unsigned backstop = (unsigned)(s->p.request_timeout_s + 2 * s->p.timeout_s);
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->p.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr.sa,
        MHD_OPTION_CONNECTION_TIMEOUT, backstop, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->p.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->p.max_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)65536, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        s->p.tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->p.tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, s->p.tls_key, MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        infer_stop(s);
        ae_server_stop(s, 0);
        return ae_fail(AE_ERR_IO, "cannot listen on %s port %d: %s", s->p.host, s->p.port,
                       e ? strerror(e) : "libmicrohttpd refused to start");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->p.port;
    s->started = 1;
    if (s->p.prebuild && banks_prebuild_start(s) != 0) {
        ae_server_stop(s, 0);
        return ae_fail(AE_ERR_NOMEM, "server: cannot start the thread that builds the banks");
    }
    return AE_OK;
}

int32_t ae_server_port(const ae_server *s) { return s->port; }

void ae_server_stop(ae_server *s, int32_t grace_s)
{
    if (!s || s->stopped) return;
    s->stopped = 1;
    if (s->daemon) {
        MHD_socket ls = MHD_quiesce_daemon(s->daemon); /* no new connections */
        if (ls != MHD_INVALID_SOCKET) close(ls);
        double until = server_now() + (grace_s > 0 ? grace_s : 0);
        pthread_mutex_lock(&s->mu);
        while (s->inflight > 0 && server_now() < until) {
            struct timespec ts = {(time_t)(server_now() + 0.1), 0};
            double t = server_now() + 0.1;
            ts.tv_sec = (time_t)t, ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&s->idle_cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    banks_prebuild_stop(s);
    infer_stop(s);
    if (s->watchdog_running) {
        pthread_mutex_lock(&s->mu);
        s->watchdog_stop = 1;
        pthread_cond_broadcast(&s->tick_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->watchdog_thread, NULL);
        s->watchdog_running = 0;
    }
}

void ae_server_free(ae_server *s)
{
    if (!s) return;
    if (s->started) ae_server_stop(s, 0);
    banks_free_all(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->idle_cv);
    pthread_cond_destroy(&s->tick_cv);
    pthread_cond_destroy(&s->decode_cv);
    free(s);
}
