/*
 * bench_soak.c — a soak of `aesthete serve`: for --seconds (default 600) clients on loopback
 * send mixed well-formed and hostile traffic at the server's admission limits, while the
 * server's VmRSS is sampled every second. The server runs the tiny fixture model
 * (models/tiny-quickgelu: a forward pass costs about a millisecond, so the CPU goes to the
 * traffic rather than to inference) with small limits, so that the clients reach them:
 *
 *     --max-connections 64 --max-per-ip 64 --max-inflight 8 --max-upload-mb 1
 *     --max-pixels 4000000 --timeout 2 --request-timeout 10 --threads 2 --no-cache --quiet
 *
 * Clients (threads, each looping over its kinds until the time is up; one connection per
 * request, raw sockets):
 *   6 well-formed: POST /api/score (a PNG, a JPEG), /api/rank (two files), /api/embed, GET
 *     /healthz; every 200 is compared with the reference answer asked for before the load
 *     (the same JSON but "elapsed_ms", numbers within 1e-4 relative: batching across requests
 *     may change the last bits). 503 (busy) and a connection closed before any answer (the
 *     connection limit) are allowed; any other status is unexpected;
 *   10 slow: headers one byte every 250 ms (slowloris), or a declared 512 kB body sent at 256
 *     bytes/s: the server must cut them off (close) within --timeout + 5 s;
 *   3 hostile: Content-Length 10^15 (413), multipart without boundary / truncated (400), a
 *     PNG and a JPEG declaring 50000 x 50000 and 65000 x 65000 pixels (413, the pixel cap), a
 *     chunk size of FFFFFFFFFFFFFFFF (411), a 100 kB URI (414), a 100 kB header (431);
 *   1 flood: 32 pipelined GET /healthz on one connection (all answered: closing it after an
 *     answer is unexpected), or 48 connections opened at once.
 * Fast kinds must be answered (or refused by closing) within 5 s. In a sanitizer build the
 * deadlines are 4 times longer and the RSS bound is reported, not checked.
 *
 * At the end: the server must be alive, answer GET /healthz and exit 0 on SIGTERM. The RSS
 * bound: the baseline (VmRSS after the reference answers, 2 s after start-up) plus what the
 * limits let requests hold at once:
 *     max_inflight * max_upload_bytes          bodies buffered by admitted requests
 *   + decode_slots * 3 * max_pixels            images being decoded (3 bytes a pixel;
 *                                              decode_slots = max(1, min(cores / 2, 4)))
 *   + max_connections * 256 KiB                per connection: libmicrohttpd's 64 KiB of
 *                                              memory, its thread's stack and the
 *                                              allocator's per-thread cache
 * Exit status 0 when there was no crash, no wrong answer, nothing unexpected and VmRSS stayed
 * under the bound; 1 otherwise; 2 for a usage error.
 *
 * Usage: bench_soak [--seconds N] [--csv FILE] [--png FILE] [--cli AESTHETE] [--model DIR]
 *   --csv: the RSS curve (t_s,vmrss_kib, one row a second); --png: its plot (app/plot.c).
 *   Prints a Markdown table (requests and answers per kind) and name<TAB>value lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "aesthete.h"
#include "plot.h"
#include "test.h"

/* the server's limits for the soak (see the header) */
#define MAX_CONNECTIONS 64
#define MAX_INFLIGHT 8
#define MAX_UPLOAD_MB 1
#define MAX_PIXELS 4000000
#define TIMEOUT_S 2
#if defined(__SANITIZE_ADDRESS__)
/* a sanitizer build (CI runs test_soak in one): 4 times slower, and its quarantine and shadow
   memory are no part of the server's, so the RSS bound is reported but not checked */
#define SLOWER 4.0
#define CHECK_RSS 0
#else
#define SLOWER 1.0
#define CHECK_RSS 1
#endif
#define FAST_WAIT_S (5.0 * SLOWER) /* a fast kind's answer (or refusal) within this */
#define PER_CONN_KIB 256

/* pseudo-statuses */
enum { ST_CLOSED = 600, ST_NOCONN, ST_LATE, ST_DROPPED, ST_N }; /* ST_DROPPED: closed after an answer */

enum {
    K_SCORE_PNG, K_SCORE_JPEG, K_RANK, K_EMBED, K_HEALTH, /* well-formed */
    K_SLOW_HEADERS, K_SLOW_BODY,
    K_HUGE_LENGTH, K_NO_BOUNDARY, K_TRUNC_MULTIPART, K_BOMB_PNG, K_BOMB_JPEG, K_CHUNK, K_LONG_URI, K_BIG_HEADERS,
    K_FLOOD_PIPELINE, K_FLOOD_BURST, NK
};
#define N_WELL 5

typedef struct kind {
    const char *name;
    int ok[3]; /* statuses expected besides 503 and a closed connection (0: none) */
} kind;

static const kind kinds[NK] = {
    [K_SCORE_PNG] = {"score_png", {200}},        [K_SCORE_JPEG] = {"score_jpeg", {200}},
    [K_RANK] = {"rank", {200}},                  [K_EMBED] = {"embed", {200}},
    [K_HEALTH] = {"healthz", {200}},             [K_SLOW_HEADERS] = {"slow_headers", {0}},
    [K_SLOW_BODY] = {"slow_body", {0}},          [K_HUGE_LENGTH] = {"huge_length", {413}},
    [K_NO_BOUNDARY] = {"no_boundary", {400}},    [K_TRUNC_MULTIPART] = {"truncated_multipart", {400}},
    [K_BOMB_PNG] = {"bomb_png", {413}},          [K_BOMB_JPEG] = {"bomb_jpeg", {413}},
    [K_CHUNK] = {"chunk_2^64", {411}},           [K_LONG_URI] = {"long_uri", {414}},
    [K_BIG_HEADERS] = {"big_headers", {431}},    [K_FLOOD_PIPELINE] = {"flood_pipelined", {200}},
    [K_FLOOD_BURST] = {"flood_burst", {200}},
};

static int port;
static volatile int stop_clients;
static long counts[NK][ST_N];
static long n_wrong[NK], n_unexpected[NK];
static double max_cut_s[NK]; /* slow kinds: the longest time until the server cut them off */
static double max_rel_diff;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char first_problem[512];

typedef struct buf {
    char *p;
    size_t n;
} buf;
static buf requests[NK];   /* the bytes of each one-shot kind */
static json_t *reference[N_WELL];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&mu);
    if (!first_problem[0]) {
        va_start(ap, fmt);
        vsnprintf(first_problem, sizeof first_problem, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&mu);
}

static void append(buf *b, const void *d, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    if (!b->p) abort();
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    append(b, tmp, (size_t)n);
}

/* ---- sockets ---- */

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* One answer at the start of b: its status, body and length consumed; 0 if incomplete. */
static size_t parse_answer(const char *b, size_t n, int *status, const char **body, size_t *blen)
{
    const char *end = memmem(b, n, "\r\n\r\n", 4);
    if (!end || n < 12 || strncmp(b, "HTTP/1.", 7)) return 0;
    *status = atoi(b + 9);
    size_t hl = (size_t)(end - b) + 4, cl = 0;
    for (const char *h = b; h < end; h++)
        if ((h == b || h[-1] == '\n') && !strncasecmp(h, "Content-Length:", 15)) cl = strtoul(h + 15, NULL, 10);
    if (n < hl + cl) return 0;
    *body = b + hl, *blen = cl;
    return hl + cl;
}

/* Reads until EOF, reset or deadline into *out; returns 1 on EOF/reset, 0 at the deadline. */
static int read_until(int fd, buf *out, double deadline, size_t enough)
{
    char tmp[65536];
    for (;;) {
        if (enough && out->n >= enough) return 0;
        int ms = (int)((deadline - now()) * 1000);
        if (ms <= 0) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms < 200 ? ms : 200) < 0) return 1;
        if (!p.revents) continue;
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k <= 0) return 1;
        append(out, tmp, (size_t)k);
    }
}

/* ---- answers ---- */

static void drop_elapsed(json_t *j)
{
    if (json_is_object(j)) json_object_del(j, "elapsed_ms");
}

/* a and b the same JSON, numbers within 1e-4 relative (the largest difference kept) */
static int same_json(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        double d = fabs(x - y) / fmax(1.0, fmax(fabs(x), fabs(y)));
        pthread_mutex_lock(&mu);
        if (d > max_rel_diff) max_rel_diff = d;
        pthread_mutex_unlock(&mu);
        return d <= 1e-4;
    }
    if (json_typeof(a) != json_typeof(b)) return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_json(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !same_json(v, w)) return 0;
        }
        return 1;
    }
    return json_equal(a, b);
}

static void record(int k, int status, const char *body, size_t blen, double took)
{
    int expected = status == 503 || status == ST_CLOSED || status == ST_NOCONN;
    for (int i = 0; i < 3; i++) expected |= kinds[k].ok[i] && status == kinds[k].ok[i];
    int wrong = 0;
    if (status >= 200 && status < 300) {
        int ref = k < N_WELL ? k : k == K_FLOOD_PIPELINE || k == K_FLOOD_BURST ? K_HEALTH : -1;
        if (ref >= 0) {
            json_t *j = json_loadb(body, blen, 0, NULL);
            drop_elapsed(j);
            wrong = !j || !same_json(j, reference[ref]);
            json_decref(j);
        } else {
            wrong = 1; /* a hostile request accepted */
        }
    }
    if (wrong) problem("%s: wrong answer: %.300s", kinds[k].name, body ? body : "");
    else if (!expected) problem("%s: unexpected answer %d after %.1f s", kinds[k].name, status, took);
    pthread_mutex_lock(&mu);
    counts[k][status]++;
    if (wrong) n_wrong[k]++;
    else if (!expected) n_unexpected[k]++;
    pthread_mutex_unlock(&mu);
}

/* A one-shot request (Connection: close): its answer, or ST_CLOSED / ST_NOCONN / ST_LATE. */
static void one_shot(int k)
{
    double t0 = now();
    int fd = connect_server();
    if (fd < 0) {
        record(k, ST_NOCONN, NULL, 0, 0);
        return;
    }
    buf in = {0};
    send_all(fd, requests[k].p, requests[k].n); /* a refusal may come before all is sent */
    int eof = read_until(fd, &in, t0 + FAST_WAIT_S + (k < N_WELL ? 10 : 0), 0);
    close(fd);
    int status;
    const char *body = NULL;
    size_t blen = 0;
    if (!parse_answer(in.p ? in.p : "", in.n, &status, &body, &blen)) status = eof ? ST_CLOSED : ST_LATE;
    record(k, status, body, blen, now() - t0);
    free(in.p);
}

/* Slowloris headers or a slow body; counts ST_CLOSED when the server cut it off in time. */
static void slow(int k)
{
    double t0 = now(), limit = TIMEOUT_S + 5.0 * SLOWER;
    int fd = connect_server();
    if (fd < 0) {
        record(k, ST_NOCONN, NULL, 0, 0);
        return;
    }
    const char *head = k == K_SLOW_HEADERS ? "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                                           : "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                             "image/png\r\nContent-Length: 524288\r\n\r\n";
    send_all(fd, head, strlen(head));
    char chunk[64];
    memset(chunk, 'a', sizeof chunk);
    buf in = {0};
    int eof = 0;
    while (!eof && now() - t0 < limit && !stop_clients) {
        if (send_all(fd, chunk, k == K_SLOW_HEADERS ? 1 : sizeof chunk) != 0) eof = 1;
        else eof = read_until(fd, &in, now() + 0.25, 1);
    }
    close(fd);
    double took = now() - t0;
    int status;
    const char *body = NULL;
    size_t blen = 0;
    if (!parse_answer(in.p ? in.p : "", in.n, &status, &body, &blen)) status = eof ? ST_CLOSED : ST_LATE;
    if (status == ST_LATE && stop_clients) { /* ended by us, not by the deadline */
        free(in.p);
        return;
    }
    pthread_mutex_lock(&mu);
    if (status == ST_CLOSED && took > max_cut_s[k]) max_cut_s[k] = took;
    pthread_mutex_unlock(&mu);
    record(k, status, body, blen, took);
    free(in.p);
}

/* 32 pipelined GET /healthz on one keep-alive connection, the last asking to close */
static void flood_pipeline(void)
{
    enum { N = 32 };
    double t0 = now();
    int fd = connect_server();
    if (fd < 0) {
        record(K_FLOOD_PIPELINE, ST_NOCONN, NULL, 0, 0);
        return;
    }
    buf out = {0}, in = {0};
    for (int i = 0; i < N; i++)
        appendf(&out, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", i == N - 1 ? "Connection: close\r\n" : "");
    send_all(fd, out.p, out.n);
    int eof = read_until(fd, &in, t0 + FAST_WAIT_S, 0);
    close(fd);
    size_t off = 0;
    int got = 0;
    for (; got < N; got++) {
        int status;
        const char *body;
        size_t blen;
        size_t used = parse_answer(in.p ? in.p + off : "", in.n - off, &status, &body, &blen);
        if (!used) break;
        record(K_FLOOD_PIPELINE, status, body, blen, now() - t0);
        off += used;
    }
    /* closed before any answer: the connection limit; after one: keep-alive broken */
    int rest = !eof ? ST_LATE : got ? ST_DROPPED : ST_CLOSED;
    for (; got < N; got++) record(K_FLOOD_PIPELINE, rest, NULL, 0, now() - t0);
    free(out.p);
    free(in.p);
}

/* 48 connections at once, each GET /healthz */
static void flood_burst(void)
{
    enum { N = 48 };
    int fds[N];
    double t0 = now();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < N; i++) {
        fds[i] = connect_server();
        if (fds[i] >= 0) send_all(fds[i], req, strlen(req));
    }
    for (int i = 0; i < N; i++) {
        if (fds[i] < 0) {
            record(K_FLOOD_BURST, ST_NOCONN, NULL, 0, 0);
            continue;
        }
        buf in = {0};
        int eof = read_until(fds[i], &in, t0 + FAST_WAIT_S, 0);
        close(fds[i]);
        int status;
        const char *body = NULL;
        size_t blen = 0;
        if (!parse_answer(in.p ? in.p : "", in.n, &status, &body, &blen)) status = eof ? ST_CLOSED : ST_LATE;
        record(K_FLOOD_BURST, status, body, blen, now() - t0);
        free(in.p);
    }
}

typedef struct role {
    const int *kinds;
    int n;
} role;

static void *client(void *arg)
{
    const role *r = arg;
    for (long i = 0; !stop_clients; i++) {
        int k = r->kinds[i % r->n];
        if (k == K_SLOW_HEADERS || k == K_SLOW_BODY) slow(k);
        else if (k == K_FLOOD_PIPELINE) flood_pipeline();
        else if (k == K_FLOOD_BURST) flood_burst();
        else one_shot(k);
    }
    return NULL;
}

/* ---- requests ---- */

static void *must_read(const char *rel, size_t *n)
{
    void *d = read_file(fixture(rel), n);
    if (!d) {
        fprintf(stderr, "bench_soak: cannot read fixture %s\n", fixture(rel));
        exit(2);
    }
    return d;
}

static void raw_post(buf *b, const char *path, const char *ctype, const void *body, size_t n)
{
    appendf(b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            path, ctype, n);
    append(b, body, n);
}

static void multipart(buf *b, const char *path, const char *const *rels, int n)
{
    buf body = {0};
    for (int i = 0; i < n; i++) {
        size_t len;
        void *d = must_read(rels[i], &len);
        const char *base = strrchr(rels[i], '/') ? strrchr(rels[i], '/') + 1 : rels[i];
        appendf(&body, "--SOAK\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n", base);
        append(&body, d, len);
        append(&body, "\r\n", 2);
        free(d);
    }
    appendf(&body, "--SOAK--\r\n");
    raw_post(b, path, "multipart/form-data; boundary=SOAK", body.p, body.n);
    free(body.p);
}

static void build_requests(void)
{
    size_t n;
    void *d = must_read("images/small_100x75.png", &n);
    raw_post(&requests[K_SCORE_PNG], "/api/score", "image/png", d, n);
    free(d);
    d = must_read("images/photo_chelsea_gray.jpg", &n);
    raw_post(&requests[K_SCORE_JPEG], "/api/score", "image/jpeg", d, n);
    free(d);
    multipart(&requests[K_RANK], "/api/rank", (const char *const[]){"images/photo_rocket.jpg", "images/gradient_rgb.png"}, 2);
    multipart(&requests[K_EMBED], "/api/embed", (const char *const[]){"images/photo_ladybird.jpg"}, 1);
    appendf(&requests[K_HEALTH], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    appendf(&requests[K_HUGE_LENGTH], "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                                      "Content-Length: 1000000000000000\r\n\r\n");
    raw_post(&requests[K_NO_BOUNDARY], "/api/score", "multipart/form-data", "--x\r\n\r\nabc\r\n--x--", 17);
    const char *trunc = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\nabc";
    raw_post(&requests[K_TRUNC_MULTIPART], "/api/rank", "multipart/form-data; boundary=B", trunc, strlen(trunc));
    uint8_t png[512];
    raw_post(&requests[K_BOMB_PNG], "/api/score", "image/png", png, bomb_png(png, 50000, 50000));
    /* a real JPEG whose frame header (SOF0..SOF2) says 65000 x 65000 */
    uint8_t *jpg = must_read("images/photo_rocket.jpg", &n);
    for (size_t i = 2; i + 9 < n; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] >= 0xC0 && jpg[i + 1] <= 0xC2) {
            jpg[i + 5] = 0xFD, jpg[i + 6] = 0xE8, jpg[i + 7] = 0xFD, jpg[i + 8] = 0xE8;
            break;
        }
    raw_post(&requests[K_BOMB_JPEG], "/api/score", "image/jpeg", jpg, n);
    free(jpg);
    appendf(&requests[K_CHUNK], "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                                "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc");
    char *big = malloc(100001);
    memset(big, 'a', 100000), big[100000] = 0;
    appendf(&requests[K_LONG_URI], "GET /healthz?q=");
    append(&requests[K_LONG_URI], big, 100000);
    appendf(&requests[K_LONG_URI], " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    appendf(&requests[K_BIG_HEADERS], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
    append(&requests[K_BIG_HEADERS], big, 100000);
    appendf(&requests[K_BIG_HEADERS], "\r\n\r\n");
    free(big);
}

/* ---- the server ---- */

static pid_t server_pid;

static long proc_kib(const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)server_pid);
    char *txt = read_file(path, NULL);
    const char *p = txt ? strstr(txt, field) : NULL;
    long v = p ? atol(p + strlen(field)) : -1;
    free(txt);
    return v;
}

static int start_server(const char *cli, const char *model, const char *log)
{
    char upload[16], conns[16], inflight[16], pixels[16], timeout[16];
    snprintf(upload, sizeof upload, "%d", MAX_UPLOAD_MB);
    snprintf(conns, sizeof conns, "%d", MAX_CONNECTIONS);
    snprintf(inflight, sizeof inflight, "%d", MAX_INFLIGHT);
    snprintf(pixels, sizeof pixels, "%d", MAX_PIXELS);
    snprintf(timeout, sizeof timeout, "%d", TIMEOUT_S);
    const char *argv[] = {cli, "serve", "--model", model, "--port", "0", "--no-cache", "--quiet", "--threads", "2",
                          "--max-connections", conns, "--max-per-ip", conns, "--max-inflight", inflight,
                          "--max-upload-mb", upload, "--max-pixels", pixels, "--timeout", timeout,
                          "--request-timeout", "10", NULL};
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        char *txt = read_file(log, NULL);
        const char *p = txt ? strstr(txt, "listening on http://127.0.0.1:") : NULL;
        if (p) port = atoi(p + strlen("listening on http://127.0.0.1:"));
        free(txt);
        if (port) return 0;
        if (waitpid(server_pid, NULL, WNOHANG) == server_pid) break;
        usleep(100000);
    }
    char *txt = read_file(log, NULL);
    fprintf(stderr, "bench_soak: the server did not start; its log:\n%s\n", txt ? txt : "(none)");
    free(txt);
    return -1;
}

/* the answer of a well-formed kind before the load (retried while busy) */
static json_t *ask_reference(int k)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = connect_server();
        buf in = {0};
        if (fd >= 0) {
            send_all(fd, requests[k].p, requests[k].n);
            read_until(fd, &in, now() + 30, 0);
            close(fd);
        }
        int status;
        const char *body;
        size_t blen;
        if (in.p && parse_answer(in.p, in.n, &status, &body, &blen) && status == 200) {
            json_t *j = json_loadb(body, blen, 0, NULL);
            free(in.p);
            drop_elapsed(j);
            return j;
        }
        free(in.p);
        usleep(100000);
    }
    return NULL;
}

static const char *status_name(int st, char *tmp)
{
    if (st == ST_CLOSED) return "closed";
    if (st == ST_NOCONN) return "no connection";
    if (st == ST_LATE) return "no answer in time";
    if (st == ST_DROPPED) return "closed after an earlier answer";
    sprintf(tmp, "%d", st);
    return tmp;
}

int main(int argc, char **argv)
{
    double seconds = 600;
    const char *csv = NULL, *png = NULL, *cli = getenv("AE_CLI"), *model = NULL;
    if (!cli || !*cli) cli = AE_CLI_PATH;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
        else if (!strcmp(argv[i], "--png") && i + 1 < argc) png = argv[++i];
        else if (!strcmp(argv[i], "--cli") && i + 1 < argc) cli = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else {
            fprintf(stderr, "usage: bench_soak [--seconds N] [--csv FILE] [--png FILE] [--cli AESTHETE] [--model DIR]\n");
            return 2;
        }
    }
    if (!(seconds > 0)) {
        fprintf(stderr, "bench_soak: --seconds must be positive\n");
        return 2;
    }
    if (!model) model = fixture("models/tiny-quickgelu");
    signal(SIGPIPE, SIG_IGN);
    build_requests();
    char *log = test_tmp("soak-server.log");
    if (start_server(cli, model, log) != 0) return 1;
    for (int k = 0; k < N_WELL; k++)
        if (!(reference[k] = ask_reference(k))) {
            fprintf(stderr, "bench_soak: no reference answer for %s\n", kinds[k].name);
            kill(server_pid, SIGKILL);
            return 1;
        }
    sleep(2);
    long base_kib = proc_kib("VmRSS:");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int slots = cores < 2 ? 1 : cores > 8 ? 4 : (int)(cores / 2);
    double limits_mib = MAX_INFLIGHT * (double)MAX_UPLOAD_MB + slots * 3.0 * MAX_PIXELS / 1048576.0 +
                        MAX_CONNECTIONS * PER_CONN_KIB / 1024.0;
    double bound_mib = base_kib / 1024.0 + limits_mib;

    static const int well[] = {K_SCORE_PNG, K_SCORE_JPEG, K_RANK, K_EMBED, K_HEALTH};
    static const int slows[] = {K_SLOW_HEADERS, K_SLOW_BODY};
    static const int hostile[] = {K_HUGE_LENGTH, K_NO_BOUNDARY, K_TRUNC_MULTIPART, K_BOMB_PNG,
                                  K_BOMB_JPEG, K_CHUNK, K_LONG_URI, K_BIG_HEADERS};
    static const int floods[] = {K_FLOOD_PIPELINE, K_FLOOD_BURST};
    static role roles[4] = {{well, 5}, {slows, 2}, {hostile, 8}, {floods, 2}};
    static const int per_role[4] = {6, 10, 3, 1};
    static role shifted[32];
    pthread_t th[32];
    int nt = 0;
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < per_role[r]; i++) {
            /* each thread of a role starts at another of its kinds */
            static int rotated[32][8];
            for (int j = 0; j < roles[r].n; j++) rotated[nt][j] = roles[r].kinds[(i + j) % roles[r].n];
            shifted[nt] = (role){rotated[nt], roles[r].n};
            pthread_create(&th[nt], NULL, client, &shifted[nt]);
            nt++;
        }

    /* the RSS curve, one sample a second */
    int cap = (int)seconds + 8, ns = 0;
    double *ts = calloc((size_t)cap, sizeof *ts), *rss = calloc((size_t)cap, sizeof *rss);
    double t0 = now(), max_mib = 0;
    int died = 0;
    while (now() - t0 < seconds) {
        double t = now() - t0;
        long v = proc_kib("VmRSS:");
        if (v < 0 || waitpid(server_pid, NULL, WNOHANG) == server_pid) {
            died = 1;
            break;
        }
        if (ns < cap) ts[ns] = t, rss[ns] = v / 1024.0, ns++;
        if (v / 1024.0 > max_mib) max_mib = v / 1024.0;
        double next = t0 + (double)(int)(t + 1.0);
        while (now() < next) usleep(20000);
    }
    stop_clients = 1;
    for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
    long hwm_kib = died ? -1 : proc_kib("VmHWM:");

    /* alive: /healthz answers once the slow clients are gone */
    int alive = 0;
    for (int attempt = 0; !died && attempt < 50 && !alive; attempt++) {
        int fd = connect_server();
        buf in = {0};
        if (fd >= 0) {
            send_all(fd, requests[K_HEALTH].p, requests[K_HEALTH].n);
            read_until(fd, &in, now() + 5, 0);
            close(fd);
        }
        int status;
        const char *body;
        size_t blen;
        alive = in.p && parse_answer(in.p, in.n, &status, &body, &blen) && status == 200;
        free(in.p);
        if (!alive) usleep(100000);
    }
    int exit_status = -1;
    if (!died) {
        kill(server_pid, SIGTERM);
        int st;
        for (int i = 0; i < 300; i++) {
            if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
                exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            usleep(100000);
        }
        if (exit_status < 0) kill(server_pid, SIGKILL), waitpid(server_pid, NULL, 0);
    }

    /* the report */
    long total = 0, wrong = 0, unexpected = 0;
    printf("| kind | requests | answers | wrong | unexpected |\n| --- | ---: | --- | ---: | ---: |\n");
    for (int k = 0; k < NK; k++) {
        long n = 0;
        char answers[512] = "", tmp[16];
        size_t off = 0;
        for (int st = 0; st < ST_N; st++)
            if (counts[k][st]) {
                n += counts[k][st];
                off += (size_t)snprintf(answers + off, sizeof answers - off, "%s%s: %ld", off ? ", " : "",
                                        status_name(st, tmp), counts[k][st]);
                if (off >= sizeof answers) off = sizeof answers - 1;
            }
        total += n, wrong += n_wrong[k], unexpected += n_unexpected[k];
        printf("| %s | %ld | %s | %ld | %ld |\n", kinds[k].name, n, answers, n_wrong[k], n_unexpected[k]);
    }
    int ok_answers = 1; /* every kind was tried, and every well-formed kind answered 200 */
    for (int k = 0; k < NK; k++) {
        long n = 0;
        for (int st = 0; st < ST_N; st++) n += counts[k][st];
        if (!n || (k < N_WELL && !counts[k][200])) ok_answers = 0;
    }
    printf("\nseconds\t%.0f\ts\nrequests\t%ld\t\nwrong_answers\t%ld\t\nunexpected_answers\t%ld\t\n", now() - t0, total,
           wrong, unexpected);
    printf("max_rel_diff\t%.2g\t\nslow_headers_cut_max\t%.1f\ts\nslow_body_cut_max\t%.1f\ts\n", max_rel_diff,
           max_cut_s[K_SLOW_HEADERS], max_cut_s[K_SLOW_BODY]);
    printf("rss_baseline\t%.1f\tMiB\nrss_max\t%.1f\tMiB\nvm_hwm\t%.1f\tMiB\nrss_bound\t%.1f\tMiB\n", base_kib / 1024.0,
           max_mib, hwm_kib / 1024.0, bound_mib);
    printf("server_alive\t%d\t\nserver_exit\t%d\t\n", alive && !died, exit_status);
    int pass = !died && alive && exit_status == 0 && !wrong && !unexpected && ok_answers &&
               (!CHECK_RSS || (max_mib <= bound_mib && hwm_kib / 1024.0 <= bound_mib));
    if (!CHECK_RSS) printf("the RSS bound is not checked in a sanitizer build\n");
    if (first_problem[0]) printf("first problem: %s\n", first_problem);
    if (!ok_answers) printf("a kind got no request through, or a well-formed kind no 200\n");

    if (csv) {
        FILE *f = fopen(csv, "w");
        if (!f) fprintf(stderr, "bench_soak: %s: cannot write: %s\n", csv, strerror(errno)), pass = 0;
        else {
            fprintf(f, "t_s,vmrss_kib\n");
            for (int i = 0; i < ns; i++) fprintf(f, "%.0f,%.0f\n", ts[i], rss[i] * 1024.0);
            fclose(f);
        }
    }
    if (png) {
        char note[160];
        snprintf(note, sizeof note, "max %.1f MiB, VmHWM %.1f, bound %.1f MiB", max_mib, hwm_kib / 1024.0, bound_mib);
        ae_plot_series s = {"aesthete serve VmRSS under the soak", note, ts, rss, ns};
        ae_plot_params p = ae_plot_default_params();
        p.width = 720, p.height = 300, p.has_x_cut = 0, p.x_label = "seconds", p.y_label = "MiB";
        if (ae_plot_scatter_png(png, &s, 1, &p) != AE_OK)
            fprintf(stderr, "bench_soak: %s\n", ae_last_error()), pass = 0;
    }
    printf("%s\n", pass ? "PASS" : "FAIL");
    for (int k = 0; k < NK; k++) free(requests[k].p);
    for (int k = 0; k < N_WELL; k++) json_decref(reference[k]);
    free(ts), free(rss);
    unlink(log), rmdir(test_tmpdir());
    return pass ? 0 : 1;
}
