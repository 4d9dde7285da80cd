/*
 * httpd.c — the test HTTP server of httpd.h. One thread per connection so that slow bodies
 * (drip) do not hold up other requests; state shared with the test is guarded by a mutex.
 */
#define _GNU_SOURCE
#include "httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hash.h"

#define MAX_ROUTES 32
#define MAX_FILES 16
#define MAX_LOG 512

struct route {
    char path[256];
    int status;
    char type[64];
    const void *data;
    size_t size;
};

struct hubfile {
    char name[128];
    const void *data;
    size_t size;
    int lfs;
    char sha[65];
    int bad_etag;
    size_t drop_after; /* cut after this many bytes when dropping */
    int drop;          /* 1: the next body is cut */
};

struct httpd {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    struct route routes[MAX_ROUTES];
    int n_routes;
    struct hubfile files[MAX_FILES];
    int n_files;
    char commit[41];
    char *log[MAX_LOG];
    int n_log;
};

/* A body produced by a reader callback: a byte range of data, or a generated stream. */
struct body {
    const uint8_t *data; /* NULL: generated */
    uint64_t size;       /* bytes to serve */
    uint64_t cut;        /* drop the connection after this many (UINT64_MAX: never) */
    int drip_ms;         /* generated: sleep per byte */
};

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct body *b = cls;
    if (pos >= b->cut) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= b->size) return MHD_CONTENT_READER_END_OF_STREAM;
    uint64_t n = b->size - pos;
    if (n > max) n = max;
    if (n > b->cut - pos) n = b->cut - pos;
    if (b->drip_ms) {
        usleep((useconds_t)b->drip_ms * 1000);
        n = 1;
    }
    for (uint64_t i = 0; i < n; i++)
        buf[i] = b->data ? (char)b->data[pos + i] : (char)((pos + i) * 7 + 3);
    return (ssize_t)n;
}

static enum MHD_Result send_body(struct MHD_Connection *c, int status, const char *type,
                                 struct body *tmpl, int chunked, struct MHD_Response **keep)
{
    struct body *b = malloc(sizeof *b);
    if (!b) return MHD_NO;
    *b = *tmpl;
    struct MHD_Response *r = MHD_create_response_from_callback(
        chunked ? MHD_SIZE_UNKNOWN : b->size, 16384, read_body, b, free);
    if (!r) {
        free(b);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(r, "Content-Type", type);
    if (keep) {
        *keep = r; /* the caller adds headers and queues */
        return MHD_YES;
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *type,
                                 const char *text, const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (location) MHD_add_response_header(r, "Location", location);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static void log_req(httpd *s, const char *method, const char *url, const char *range,
                    const char *auth)
{
    char line[800];
    snprintf(line, sizeof line, "%s %s%s%s%s%s", method, url, range ? " range=" : "",
             range ? range : "", auth ? " auth=" : "", auth ? auth : "");
    pthread_mutex_lock(&s->mu);
    if (s->n_log < MAX_LOG) s->log[s->n_log++] = strdup(line);
    pthread_mutex_unlock(&s->mu);
}

/* The hub's /<org>/<name>/resolve/<rev>/<file>. */
static enum MHD_Result hub_resolve(httpd *s, struct MHD_Connection *c, const char *file)
{
    pthread_mutex_lock(&s->mu);
    struct hubfile *f = NULL;
    for (int i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].name, file) == 0) f = &s->files[i];
    struct hubfile fc;
    if (f) fc = *f;
    char commit[41];
    memcpy(commit, s->commit, sizeof commit);
    pthread_mutex_unlock(&s->mu);
    if (!f) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            15, (void *)"Entry not found", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "X-Error-Code", "EntryNotFound");
        MHD_add_response_header(r, "X-Repo-Commit", commit);
        enum MHD_Result ok = MHD_queue_response(c, 404, r);
        MHD_destroy_response(r);
        return ok;
    }
    char etag[80], size[32];
    snprintf(size, sizeof size, "%zu", fc.size);
    if (fc.lfs) {
        char loc[200];
        snprintf(loc, sizeof loc, "http://127.0.0.1:%d/cdn/%s", s->port, fc.sha);
        snprintf(etag, sizeof etag, "\"%s\"", fc.sha);
        if (fc.bad_etag) etag[1] = etag[1] == '0' ? '1' : '0';
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", loc);
        MHD_add_response_header(r, "X-Repo-Commit", commit);
        MHD_add_response_header(r, "X-Linked-Etag", etag);
        MHD_add_response_header(r, "X-Linked-Size", size);
        MHD_add_response_header(r, "ETag", etag);
        enum MHD_Result ok = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ok;
    }
    snprintf(etag, sizeof etag, "\"%.40s\"", fc.sha); /* a git blob sha1 stands here */
    struct body b = {fc.data, fc.size, UINT64_MAX, 0};
    pthread_mutex_lock(&s->mu);
    if (f->drop) b.cut = f->drop_after, f->drop = 0;
    pthread_mutex_unlock(&s->mu);
    struct MHD_Response *r;
    if (send_body(c, 200, "text/plain", &b, 0, &r) != MHD_YES) return MHD_NO;
    MHD_add_response_header(r, "X-Repo-Commit", commit);
    MHD_add_response_header(r, "ETag", etag);
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

/* The CDN's /cdn/<sha256>, with "Range: bytes=N-". */
static enum MHD_Result hub_cdn(httpd *s, struct MHD_Connection *c, const char *sha,
                               const char *range)
{
    pthread_mutex_lock(&s->mu);
    struct hubfile *f = NULL;
    for (int i = 0; i < s->n_files; i++)
        if (s->files[i].lfs && strcmp(s->files[i].sha, sha) == 0) f = &s->files[i];
    struct body b = {0};
    if (f) {
        b = (struct body){f->data, f->size, UINT64_MAX, 0};
        if (f->drop) b.cut = f->drop_after, f->drop = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (!f) return send_text(c, 404, "text/plain", "no such blob", NULL);
    unsigned long long from = 0;
    int partial = range && sscanf(range, "bytes=%llu-", &from) == 1;
    if (partial && from >= b.size)
        return send_text(c, 416, "text/plain", "range not satisfiable", NULL);
    uint64_t total = b.size;
    if (partial) {
        b.data += from;
        b.size -= from;
    }
    struct MHD_Response *r;
    if (send_body(c, 0, "application/octet-stream", &b, 0, &r) != MHD_YES) return MHD_NO;
    MHD_add_response_header(r, "ETag", "\"cdn-etag\"");
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (partial) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", from, (unsigned long long)total - 1,
                 (unsigned long long)total);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    enum MHD_Result ok = MHD_queue_response(c, partial ? 206 : 200, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    httpd *s = cls;
    (void)version; (void)upload;
    if (*upload_size) { /* the tests send no bodies; swallow any */
        *upload_size = 0;
        return MHD_YES;
    }
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    log_req(s, method, url, range,
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));

    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_routes; i++) {
        if (strcmp(s->routes[i].path, url) != 0) continue;
        struct route rt = s->routes[i];
        pthread_mutex_unlock(&s->mu);
        struct body b = {rt.data, rt.size, UINT64_MAX, 0};
        return send_body(c, rt.status, rt.type, &b, 0, NULL);
    }
    pthread_mutex_unlock(&s->mu);

    unsigned long n;
    char tail[256];
    if (sscanf(url, "/bytes/%lu", &n) == 1) {
        struct body b = {NULL, n, UINT64_MAX, 0};
        return send_body(c, 200, "image/jpeg", &b, 0, NULL);
    }
    if (sscanf(url, "/status/%lu", &n) == 1) return send_text(c, (int)n, "text/plain", "status", NULL);
    if (sscanf(url, "/redirect/%lu", &n) == 1) {
        if (n == 0) return send_text(c, 200, "image/png", "redirected", NULL);
        char loc[64];
        snprintf(loc, sizeof loc, "/redirect/%lu", n - 1);
        return send_text(c, 302, "text/plain", "moved", loc);
    }
    if (strcmp(url, "/goto") == 0) {
        const char *to = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to");
        return send_text(c, 302, "text/plain", "moved", to ? to : "/");
    }
    if (strcmp(url, "/endless") == 0) {
        struct body b = {NULL, (uint64_t)1 << 30, UINT64_MAX, 0};
        return send_body(c, 200, "application/octet-stream", &b, 1, NULL);
    }
    if (strcmp(url, "/drip") == 0) {
        const char *ms = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ms");
        const char *cnt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
        struct body b = {NULL, cnt ? strtoull(cnt, NULL, 10) : 50, UINT64_MAX,
                         ms ? atoi(ms) : 100};
        if (b.drip_ms < 1 || b.drip_ms > 2000) b.drip_ms = 100;
        if (b.size > 10000) b.size = 10000;
        return send_body(c, 200, "image/jpeg", &b, 0, NULL);
    }
    if (strcmp(url, "/html") == 0)
        return send_text(c, 200, "text/html; charset=utf-8",
                         "<!doctype html><html><body>Not an image</body></html>", NULL);
    if (sscanf(url, "/cdn/%255s", tail) == 1) return hub_cdn(s, c, tail, range);
    if (strncmp(url, "/moved/", 7) == 0) { /* a renamed repository: relative 307 to /org/ */
        char loc[512];
        snprintf(loc, sizeof loc, "/org/%s", url + 7);
        return send_text(c, 307, "text/plain", "moved", loc);
    }
    /* /<org>/<name>/resolve/<rev>/<file> */
    const char *p = strstr(url, "/resolve/");
    if (p) {
        const char *file = strchr(p + 9, '/');
        if (file) return hub_resolve(s, c, file + 1);
    }
    return send_text(c, 404, "text/plain", "not found", NULL);
}

httpd *httpd_start(void)
{
    httpd *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->commit, sizeof s->commit, "0123456789abcdef0123456789abcdef01234567");
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sin,
                            MHD_OPTION_CONNECTION_TIMEOUT, 20U, MHD_OPTION_END);
    if (!s->d) {
        fprintf(stderr, "httpd: could not start the test server\n");
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

void httpd_stop(httpd *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d);
    for (int i = 0; i < s->n_log; i++) free(s->log[i]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int httpd_port(const httpd *s) { return s->port; }

const char *httpd_url(const httpd *s, const char *path, char *buf, size_t cap)
{
    snprintf(buf, cap, "http://127.0.0.1:%d%s", s->port, path);
    return buf;
}

int httpd_add(httpd *s, const char *path, int status, const char *content_type,
              const void *data, size_t size)
{
    pthread_mutex_lock(&s->mu);
    int ok = s->n_routes < MAX_ROUTES;
    if (ok) {
        struct route *r = &s->routes[s->n_routes++];
        snprintf(r->path, sizeof r->path, "%s", path);
        snprintf(r->type, sizeof r->type, "%s", content_type);
        r->status = status;
        r->data = data;
        r->size = size;
    }
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

int httpd_hub_add(httpd *s, const char *name, const void *data, size_t size, int lfs)
{
    char sha[65];
    ae_sha256_hex(data, size, sha);
    pthread_mutex_lock(&s->mu);
    int ok = s->n_files < MAX_FILES;
    if (ok) {
        struct hubfile *f = &s->files[s->n_files++];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", name);
        f->data = data;
        f->size = size;
        f->lfs = lfs;
        memcpy(f->sha, sha, sizeof sha);
    }
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

static struct hubfile *find_file(httpd *s, const char *name)
{
    for (int i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].name, name) == 0) return &s->files[i];
    return NULL;
}

void httpd_hub_set_commit(httpd *s, const char *commit)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->commit, sizeof s->commit, "%s", commit);
    pthread_mutex_unlock(&s->mu);
}

void httpd_hub_drop_once(httpd *s, const char *name, size_t after)
{
    pthread_mutex_lock(&s->mu);
    struct hubfile *f = find_file(s, name);
    if (f) f->drop = 1, f->drop_after = after;
    pthread_mutex_unlock(&s->mu);
}

void httpd_hub_bad_etag(httpd *s, const char *name)
{
    pthread_mutex_lock(&s->mu);
    struct hubfile *f = find_file(s, name);
    if (f) f->bad_etag = 1;
    pthread_mutex_unlock(&s->mu);
}

int httpd_count(httpd *s, const char *prefix)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_log; i++) n += strncmp(s->log[i], prefix, strlen(prefix)) == 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int httpd_log_has(httpd *s, const char *needle)
{
    int has = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_log && !has; i++) has = strstr(s->log[i], needle) != NULL;
    pthread_mutex_unlock(&s->mu);
    return has;
}

int httpd_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    close(fd);
    return port;
}
