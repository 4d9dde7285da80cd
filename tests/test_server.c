/*
 * test_server.c — `aesthete serve` against real clients on loopback, with the tiny fixture
 * model: every endpoint, every error status, the scores equal to `aesthete score` for the same
 * image and settings, and hostile clients (slowloris, a 1 GB declared body, malformed and
 * oversized multipart, non-images, a decompression-bomb PNG, floods beyond --max-inflight,
 * URL inputs to private addresses); the server must answer with the right status or drop the
 * connection, stay up, keep its memory bounded, and finish an in-flight request on SIGTERM
 * before exiting 0; /api/cull's groups, keepers and errors, equal to `aesthete cull`'s. The
 * server runs as a child process ($AE_CLI serve --port 0); libcurl and raw sockets are the
 * clients.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "httpd.h"
#include "netguard.h"
#include "server_internal.h"
#include "run.h"
#include "test.h"

static const char *cli(void)
{
    const char *p = getenv("AE_CLI");
    return p && *p ? p : AE_CLI_PATH;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---- the server process ---- */

typedef struct server {
    pid_t pid;
    int port;
    int tls; /* started with --tls-cert: https, the test's own certificate */
    char log[4200];
} server;

/* Starts `aesthete serve` with the tiny model and extra args (NULL-terminated). */
static int server_start(server *s, const char *const *extra)
{
    static int n;
    memset(s, 0, sizeof *s);
    snprintf(s->log, sizeof s->log, "%s/server%d.log", test_tmpdir(), n++);
    const char *argv[64];
    int k = 0;
    argv[k++] = cli();
    argv[k++] = "serve";
    argv[k++] = "--model";
    argv[k++] = fixture("models/tiny-quickgelu");
    argv[k++] = "--port";
    argv[k++] = "0";
    int own_cache = 0;
    for (int i = 0; extra && extra[i]; i++) own_cache |= !strcmp(extra[i], "--cache");
    if (!own_cache) argv[k++] = "--no-cache";
    argv[k++] = "--threads";
    argv[k++] = "2";
    for (int i = 0; extra && extra[i] && k < 62; i++) argv[k++] = extra[i];
    argv[k] = NULL;
    s->pid = fork();
    if (s->pid < 0) return -1;
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) { /* up to 60 s (ASan builds load slowly) */
        char *txt = read_file(s->log, NULL);
        const char *p = txt ? strstr(txt, "listening on http") : NULL; /* http(s)://HOST:PORT */
        const char *e = p ? strchr(p, '\n') : NULL;
        const char *colon = NULL;
        for (const char *c = p; e && c < e; c++)
            if (*c == ':') colon = c;
        if (colon && colon[1] != '/') s->port = atoi(colon + 1), s->tls = !strncmp(p, "listening on https", 18);
        free(txt);
        if (s->port) return 0;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) break;
        usleep(100000);
    }
    fprintf(stderr, "server did not start; log:\n");
    char *txt = read_file(s->log, NULL);
    fprintf(stderr, "%s\n", txt ? txt : "(none)");
    free(txt);
    return -1;
}

/* SIGTERM, then the exit status (or -1 if it had to be killed after 30 s). */
static int server_stop(server *s)
{
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(100000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    return -1;
}

static long rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *txt = read_file(path, NULL);
    const char *p = txt ? strstr(txt, "VmRSS:") : NULL;
    long v = p ? atol(p + 6) : -1;
    free(txt);
    return v;
}

/* ---- HTTP with libcurl ---- */

typedef struct resp {
    long status;
    char *body;
    size_t len;
    char headers[4096];
    json_t *json;
    CURLcode cc;
} resp;

static size_t on_body(char *d, size_t sz, size_t n, void *ctx)
{
    resp *r = ctx;
    char *b = realloc(r->body, r->len + sz * n + 1);
    if (!b) return 0;
    memcpy(b + r->len, d, sz * n);
    r->body = b;
    r->len += sz * n;
    b[r->len] = 0;
    return sz * n;
}

static size_t on_header(char *d, size_t sz, size_t n, void *ctx)
{
    resp *r = ctx;
    size_t have = strlen(r->headers), len = sz * n;
    if (have + len < sizeof r->headers) memcpy(r->headers + have, d, len), r->headers[have + len] = 0;
    return len;
}

static CURL *easy(const server *s, const char *path, resp *r)
{
    char url[4096];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", s->tls ? "https" : "http", s->port, path);
    CURL *h = curl_easy_init();
    memset(r, 0, sizeof *r);
    if (s->tls) curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L), curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    /* big bodies are sent with "Expect: 100-continue"; wait for the server's answer to it
       (a 413 comes before the body) however slow a sanitizer build is, instead of curl's
       1 s default after which it would start sending into a closing connection */
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 30000L);
    return h;
}

static void finish(CURL *h, resp *r)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->body) r->json = json_loads(r->body, 0, NULL);
    curl_easy_cleanup(h);
}

static void resp_free(resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static resp get(const server *s, const char *path)
{
    resp r;
    CURL *h = easy(s, path, &r);
    r.cc = curl_easy_perform(h);
    finish(h, &r);
    return r;
}

static resp post_raw_once(const server *s, const char *path, const char *ctype, const void *body, size_t n)
{
    resp r;
    CURL *h = easy(s, path, &r);
    struct curl_slist *hd = NULL;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "");
    hd = curl_slist_append(hd, ct);
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    r.cc = curl_easy_perform(h);
    finish(h, &r);
    curl_slist_free_all(hd);
    return r;
}

/* The functional checks send one request at a time, but the server may still count the
 * previous one for a moment after its answer arrived (an early answer's body is drained
 * after it; --max-inflight is 2 here): told "busy" (503, Retry-After), these helpers try
 * again as a real client would. The floods and budget tests use their own handles. */
static int busy(const resp *r)
{
    return r->status == 503 && r->body && strstr(r->body, "busy");
}

static resp post_raw(const server *s, const char *path, const char *ctype, const void *body, size_t n)
{
    resp r = post_raw_once(s, path, ctype, body, n);
    for (int i = 0; i < 20 && busy(&r); i++) {
        resp_free(&r);
        usleep(100000);
        r = post_raw_once(s, path, ctype, body, n);
    }
    return r;
}

static resp post_file(const server *s, const char *path, const char *ctype, const char *file)
{
    size_t n = 0;
    void *d = read_file(file, &n);
    resp r = post_raw(s, path, ctype, d, n);
    free(d);
    return r;
}

/* multipart: files[i] uploaded as field "file" with name names[i] (NULL: the base name) */
static resp post_files_once(const server *s, const char *path, const char *const *files, const char *const *names,
                            int n, const char *const *fields)
{
    resp r;
    CURL *h = easy(s, path, &r);
    curl_mime *m = curl_mime_init(h);
    for (int i = 0; i < n; i++) {
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, "file");
        curl_mime_filedata(p, files[i]);
        if (names && names[i]) curl_mime_filename(p, names[i]);
    }
    for (int i = 0; fields && fields[i]; i += 2) {
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, fields[i]);
        curl_mime_data(p, fields[i + 1], CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
    r.cc = curl_easy_perform(h);
    finish(h, &r);
    curl_mime_free(m);
    return r;
}

static resp post_files(const server *s, const char *path, const char *const *files, const char *const *names, int n,
                       const char *const *fields)
{
    resp r = post_files_once(s, path, files, names, n, fields);
    for (int i = 0; i < 20 && busy(&r); i++) {
        resp_free(&r);
        usleep(100000);
        r = post_files_once(s, path, files, names, n, fields);
    }
    return r;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
static double jnum(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }
/* o[k] is the string v */
static int jis(json_t *o, const char *k, const char *v) { return jstr(o, k) && !strcmp(jstr(o, k), v); }

#define CHECK_STATUS(r, code, needle)                                                              \
    do {                                                                                           \
        CHECK_MSG((r).status == (code), "status %ld, expected %d: %s", (r).status, (code),          \
                  (r).body ? (r).body : "(no body)");                                              \
        if (needle) CHECK_STR_CONTAINS((r).json ? jstr((r).json, "error") : NULL, (const char *)(needle)); \
    } while (0)

/* ---- raw sockets ---- */

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what arrives within secs into buf; returns bytes, stops at EOF. *closed set on EOF/reset. */
static size_t read_for(int fd, char *buf, size_t cap, double secs, int *closed)
{
    size_t n = 0;
    double end = now() + secs;
    *closed = 0;
    while (n + 1 < cap) {
        int ms = (int)((end - now()) * 1000);
        if (ms <= 0) break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0) break;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0) {
            *closed = 1;
            break;
        }
        n += (size_t)k;
    }
    buf[n] = 0;
    return n;
}

/* ---- fixtures built here ---- */

/* ---- tests ---- */

static void test_pages(const server *s)
{
    resp r = get(s, "/healthz");
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && !strcmp(jstr(r.json, "status"), "ok"));
    resp_free(&r);
    r = get(s, "/");
    CHECK_STATUS(r, 200, NULL);
    CHECK_STR_CONTAINS(r.body, "<title>aesthete");
    CHECK_STR_CONTAINS(r.headers, "Content-Security-Policy: default-src 'self'");
    CHECK_STR_CONTAINS(r.headers, "text/html");
    resp_free(&r);
    r = get(s, "/app.js");
    CHECK_STATUS(r, 200, NULL);
    CHECK_STR_CONTAINS(r.body, "/api/score");
    CHECK_STR_CONTAINS(r.headers, "text/javascript");
    resp_free(&r);
    r = get(s, "/style.css");
    CHECK_STATUS(r, 200, NULL);
    CHECK_STR_CONTAINS(r.headers, "text/css");
    resp_free(&r);
    r = get(s, "/nope/../../etc/passwd");
    CHECK_STATUS(r, 404, "no such path");
    resp_free(&r);
    r = get(s, "/api/score");
    CHECK_STATUS(r, 405, "not allowed");
    CHECK_STR_CONTAINS(r.headers, "Allow: POST");
    resp_free(&r);
    r = post_raw(s, "/healthz", "text/plain", "x", 1);
    CHECK_STATUS(r, 405, "not allowed");
    resp_free(&r);

    r = get(s, "/api/info");
    CHECK_STATUS(r, 200, NULL);
    json_t *j = r.json;
    CHECK(j && !strcmp(jstr(json_object_get(j, "model"), "name"), "tiny-quickgelu"));
    CHECK_EQ_INT(jnum(json_object_get(j, "model"), "embed_dim"), 40);
    /* the prompt methods only: no LAION head fits the tiny model */
    CHECK_EQ_INT(json_array_size(json_object_get(j, "methods")), 3);
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(j, "methods"), 2)), "ensemble"));
    CHECK_STR_CONTAINS(jstr(j, "version"), ".");
    json_t *lim = json_object_get(j, "limits");
    CHECK_EQ_INT(jnum(lim, "max_upload_bytes"), 4 << 20);
    CHECK_EQ_INT(jnum(lim, "max_inflight"), 2);
    CHECK_EQ_INT(jnum(lim, "max_pixels"), 100000000);
    CHECK_EQ_INT(jnum(lim, "timeout_s"), 2);
    json_t *b0 = json_array_get(json_object_get(j, "banks"), 0);
    CHECK(b0 && !strcmp(jstr(b0, "id"), "fixed") && json_is_true(json_object_get(b0, "default")));
    CHECK(j && !strcmp(jstr(json_object_get(j, "model"), "precision"), "fp32"));
    CHECK(j && jstr(json_object_get(j, "model"), "text_precision") &&
          !strcmp(jstr(json_object_get(j, "model"), "text_precision"), "fp32"));
    CHECK(b0 && jstr(b0, "precision") && !strcmp(jstr(b0, "precision"), "fp32"));
    CHECK(json_is_false(json_object_get(j, "allow_urls")));
    resp_free(&r);
}

/* The CLI's JSON line for each image with these extra options. */
static json_t *cli_scores(const char *const *opts, const char *const *files, int n)
{
    const char *args[32];
    int k = 0;
    args[k++] = "score", args[k++] = "--model", args[k++] = fixture("models/tiny-quickgelu");
    args[k++] = "--no-cache", args[k++] = "--format", args[k++] = "jsonl";
    for (int i = 0; opts && opts[i]; i++) args[k++] = opts[i];
    for (int i = 0; i < n; i++) args[k++] = files[i];
    args[k] = NULL;
    run_result rr = run_cli(NULL, NULL, args);
    CHECK_EQ_INT(rr.code, 0);
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, jline(rr.out, i));
    run_free(&rr);
    return a;
}

static double max_diff;

static void same_score(json_t *srv, json_t *ref, const char *what)
{
    if (!srv || !ref) {
        CHECK_MSG(0, "%s: missing result", what);
        return;
    }
    double d = fabs(jnum(srv, "score") - jnum(ref, "score"));
    if (d > max_diff) max_diff = d;
    CHECK_MSG(d <= 1e-4, "%s: score %.9g vs CLI %.9g", what, jnum(srv, "score"), jnum(ref, "score"));
    json_t *ps = json_object_get(srv, "probability"), *pr = json_object_get(ref, "probability");
    CHECK_MSG((json_is_null(ps) && json_is_null(pr)) || fabs(json_number_value(ps) - json_number_value(pr)) <= 1e-6,
              "%s: probability", what);
    CHECK_MSG(!strcmp(jstr(srv, "label"), jstr(ref, "label")), "%s: label %s vs %s", what, jstr(srv, "label"),
              jstr(ref, "label"));
    const char *cs = jstr(srv, "class"), *cr = jstr(ref, "class");
    CHECK_MSG((!cs && !cr) || (cs && cr && !strcmp(cs, cr)), "%s: class %s vs %s", what, cs ? cs : "null",
              cr ? cr : "null");
}

static void test_scores_match_cli(const server *s)
{
    const char *names[] = {"photo_boats.jpg", "photo_rocket.jpg", "photo_coffee.gif", "photo_garden_lossy.webp",
                           "palette_trns.png"};
    const int n = 5;
    const char *files[5];
    char paths[5][4200];
    for (int i = 0; i < n; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "images/%s", names[i]);
        snprintf(paths[i], sizeof paths[i], "%s", fixture(rel));
        files[i] = paths[i];
    }
    struct {
        const char *query;
        const char *opts[8];
    } cases[] = {
        {"", {NULL}},
        {"?method=context", {"--method", "context", NULL}},
        {"?method=ensemble", {"--method", "ensemble", NULL}},
        {"?method=fixed&positive=beautiful&negative=ugly", {"--positive", "beautiful", "--negative", "ugly", NULL}},
        {"?method=context&template=a%20%7Badjective%7D%20photo%20of%20a%20%7Bclass%7D",
         {"--method", "context", "--template", "a {adjective} photo of a {class}", NULL}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        json_t *ref = cli_scores(cases[c].opts, files, n);
        for (int i = 0; i < n; i++) {
            char path[256], what[300];
            snprintf(path, sizeof path, "/api/score%s", cases[c].query);
            snprintf(what, sizeof what, "%s %s (raw)", names[i], cases[c].query);
            resp r = post_file(s, path, "application/octet-stream", files[i]);
            CHECK_STATUS(r, 200, NULL);
            same_score(r.json, json_array_get(ref, (size_t)i), what);
            if (c == 0 && i == 0) {
                CHECK(!strcmp(jstr(r.json, "method"), "fixed") && !strcmp(jstr(r.json, "model"), "tiny-quickgelu"));
                CHECK(json_is_number(json_object_get(r.json, "elapsed_ms")));
            }
            if (c == 1 && i == 0) CHECK(jstr(r.json, "class") && !strcmp(jstr(r.json, "method"), "context"));
            resp_free(&r);
            /* the same as a multipart upload */
            snprintf(what, sizeof what, "%s %s (multipart)", names[i], cases[c].query);
            r = post_files(s, path, &files[i], NULL, 1, NULL);
            CHECK_STATUS(r, 200, NULL);
            same_score(r.json, json_array_get(ref, (size_t)i), what);
            CHECK(r.json && jstr(r.json, "file") && !strcmp(jstr(r.json, "file"), names[i]));
            resp_free(&r);
        }
        json_decref(ref);
    }
    /* parameters as form fields */
    json_t *ref = cli_scores((const char *const[]){"--method", "ensemble", "--positive", "good", NULL}, files, 1);
    const char *fields[] = {"method", "ensemble", "positive", "good", NULL};
    resp r = post_files(s, "/api/score", files, NULL, 1, fields);
    CHECK_STATUS(r, 200, NULL);
    same_score(r.json, json_array_get(ref, 0), "form fields");
    resp_free(&r);
    json_decref(ref);
    printf("scores vs aesthete score: max |diff| %.3g\n", max_diff);

    /* laion: this tiny model has no head of its own dimension */
    r = post_file(s, "/api/score?method=laion", "image/jpeg", files[0]);
    CHECK_STATUS(r, 400, "no LAION aesthetic head for this model");
    resp_free(&r);
    /* a head of another size: the message names the model, not the server's folder */
    r = post_file(s, "/api/score?method=laion&laion_head=vit-b-32", "image/jpeg", files[0]);
    CHECK_STATUS(r, 400, "the model tiny-quickgelu has 40");
    CHECK(r.body && !strstr(r.body, "/models/"));
    resp_free(&r);
}

static void test_embed_rank(const server *s)
{
    const char *boats = fixture("images/photo_boats.jpg");
    resp r = post_file(s, "/api/embed", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    json_t *e = r.json ? json_object_get(r.json, "embedding") : NULL;
    CHECK_EQ_INT(json_array_size(e), 40);
    CHECK_EQ_INT(jnum(r.json, "dim"), 40);
    run_result rr = RUN("embed", "--model", fixture("models/tiny-quickgelu"), boats);
    json_t *ref = jline(rr.out, 0);
    json_t *re = ref ? json_object_get(ref, "embedding") : NULL;
    double md = 0;
    for (size_t i = 0; i < 40 && re; i++) {
        double d = fabs(json_number_value(json_array_get(e, i)) - json_number_value(json_array_get(re, i)));
        if (d > md) md = d;
    }
    printf("embedding vs aesthete embed: max |diff| %.3g\n", md);
    CHECK(re && md <= 1e-6);
    json_decref(ref);
    run_free(&rr);
    resp_free(&r);

    /* rank: three images, a text file, a hostile file name */
    const char *files[] = {fixture("images/photo_rocket.jpg"), boats, fixture("images/photo_coffee.gif"),
                           AE_SOURCE_DIR "/CMakeLists.txt"};
    const char *names[] = {"../../x.jpg", NULL, NULL, "notes.jpg"};
    r = post_files(s, "/api/rank", files, names, 4, NULL);
    CHECK_STATUS(r, 200, NULL);
    json_t *res = r.json ? json_object_get(r.json, "results") : NULL, *err = r.json ? json_object_get(r.json, "errors") : NULL;
    CHECK_EQ_INT(json_array_size(res), 3);
    double prev = 1e30;
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *o = json_array_get(res, i);
        CHECK_EQ_INT(jnum(o, "rank"), (long long)i + 1);
        CHECK(jnum(o, "score") <= prev);
        prev = jnum(o, "score");
    }
    int saw_x = 0;
    for (size_t i = 0; i < json_array_size(res); i++) {
        const char *f = jstr(json_array_get(res, i), "file");
        saw_x += f && !strcmp(f, "x.jpg");
    }
    CHECK_MSG(saw_x == 1, "sanitised name x.jpg: %s", r.body);
    CHECK_EQ_INT(json_array_size(err), 1);
    json_t *e0 = json_array_get(err, 0);
    CHECK(e0 && !strcmp(jstr(e0, "file"), "notes.jpg") && jnum(e0, "status") == 415);
    CHECK_STR_CONTAINS(e0 ? jstr(e0, "error") : NULL, "not an image");
    /* scores in the ranking equal the single-image answers */
    json_t *ref2 = cli_scores(NULL, files, 3);
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *o = json_array_get(res, i);
        const char *f = jstr(o, "file");
        int k = !strcmp(f, "x.jpg") ? 0 : !strcmp(f, "photo_boats.jpg") ? 1 : 2;
        same_score(o, json_array_get(ref2, (size_t)k), f);
    }
    json_decref(ref2);
    resp_free(&r);
    CHECK_EQ_INT(access(AE_SOURCE_DIR "/../x.jpg", F_OK), -1);

    /* file names as hostile clients write them: Windows paths, escapes, dots, control bytes */
    {
        size_t gn;
        uint8_t *gif = read_file(fixture("images/photo_coffee.gif"), &gn);
        static const char *const fnames[] = {"C:\\photos\\..\\we\\\"ird.gif", "..", "a\x01b/../../c\x7f.gif"};
        static const char *const expect[] = {"weird.gif", "upload", "c.gif"};
        for (int i = 0; i < 3; i++) {
            size_t cap = gn + 512, len = 0;
            char *body = malloc(cap);
            len += (size_t)snprintf(body, cap, "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                                   "Content-Type: image/gif\r\n\r\n", fnames[i]);
            memcpy(body + len, gif, gn), len += gn;
            len += (size_t)snprintf(body + len, cap - len, "\r\n--B--\r\n");
            resp rr2 = post_raw(s, "/api/rank", "multipart/form-data; boundary=B", body, len);
            CHECK_STATUS(rr2, 200, NULL);
            const char *f = rr2.json ? jstr(json_array_get(json_object_get(rr2.json, "results"), 0), "file") : NULL;
            CHECK_MSG(f && !strcmp(f, expect[i]), "file name %s -> %s, expected %s", fnames[i], f ? f : "(none)", expect[i]);
            resp_free(&rr2);
            free(body);
        }
        free(gif);
    }

    r = post_file(s, "/api/rank", "image/jpeg", boats);
    CHECK_STATUS(r, 415, "multipart/form-data");
    resp_free(&r);
    r = post_files(s, "/api/rank", NULL, NULL, 0, (const char *const[]){"method", "fixed", NULL});
    CHECK_STATUS(r, 400, "no files");
    resp_free(&r);
}

static void test_bank(const server *s)
{
    const char *list = AE_SOURCE_DIR "/tests/data/classlists/rooms.tsv";
    const char *boats = fixture("images/photo_boats.jpg");
    resp r = post_files(s, "/api/bank", &list, NULL, 1, (const char *const[]){"method", "context", NULL});
    CHECK_STATUS(r, 200, NULL);
    const char *id = r.json ? jstr(r.json, "id") : NULL;
    CHECK(id && !strncmp(id, "b-", 2));
    /* the header row is found (a column of numbers, "floor", below it), as by the CLI */
    CHECK_EQ_INT(jnum(r.json, "n_classes"), 3);
    char path[256];
    snprintf(path, sizeof path, "/api/score?bank=%s", id ? id : "");
    resp_free(&r);
    resp sr = post_file(s, path, "image/jpeg", boats);
    CHECK_STATUS(sr, 200, NULL);
    json_t *ref = cli_scores((const char *const[]){"--method", "context", "--classes", list, NULL}, &boats, 1);
    same_score(sr.json, json_array_get(ref, 0), "uploaded class list");
    json_decref(ref);
    resp_free(&sr);
    /* the bank is listed; the same list again gives the same id */
    r = post_files(s, "/api/bank", &list, NULL, 1, NULL);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && !strcmp(jstr(r.json, "id"), path + strlen("/api/score?bank=")));
    resp_free(&r);
    r = get(s, "/api/info");
    CHECK_STR_CONTAINS(r.body, path + strlen("/api/score?bank="));
    resp_free(&r);

    r = post_file(s, "/api/score?bank=b-0000000000000000", "image/jpeg", boats);
    CHECK_STATUS(r, 400, "unknown bank");
    resp_free(&r);
    r = post_file(s, "/api/score?bank=fixed&method=context", "image/jpeg", boats);
    CHECK_STATUS(r, 400, "already fixes");
    resp_free(&r);
    r = post_files(s, "/api/bank", &list, NULL, 1, (const char *const[]){"method", "fixed", NULL});
    CHECK_STATUS(r, 400, "context or ensemble");
    resp_free(&r);
    const char *bad = AE_SOURCE_DIR "/tests/data/classlists/rooms.tsv";
    r = post_files(s, "/api/bank", &bad, (const char *const[]){"rooms.xls"}, 1, NULL);
    CHECK_MSG(r.status == 415 || r.status == 400, "legacy .xls name: %ld %s", r.status, r.body);
    resp_free(&r);
    r = post_files(s, "/api/bank", &list, NULL, 1, (const char *const[]){"header", "1", NULL});
    CHECK_STATUS(r, 200, NULL);
    CHECK_EQ_INT(r.json ? jnum(r.json, "n_classes") : 0, 3);
    json_t *c0 = r.json ? json_array_get(json_object_get(r.json, "classes"), 0) : NULL;
    CHECK(json_is_string(c0) && !strcmp(json_string_value(c0), "lobby"));
    resp_free(&r);
    r = post_files(s, "/api/bank", &list, NULL, 1, (const char *const[]){"column", "nope", NULL});
    CHECK_STATUS(r, 400, "nope");
    resp_free(&r);
    /* the shipped XLSX without a column: pandas' index is passed over, Col_Names read; two
       columns of text are refused with their names */
    const char *xlsx = AE_SOURCE_DIR "/examples/hotel_classes.xlsx";
    r = post_files(s, "/api/bank", &xlsx, NULL, 1, NULL);
    CHECK_STATUS(r, 200, NULL);
    CHECK_EQ_INT(r.json ? jnum(r.json, "n_classes") : 0, 103);
    c0 = r.json ? json_array_get(json_object_get(r.json, "classes"), 0) : NULL;
    CHECK(json_is_string(c0) && !strcmp(json_string_value(c0), "lobby"));
    resp_free(&r);
    const char *two = AE_SOURCE_DIR "/tests/data/classlists/quoted.csv";
    r = post_files(s, "/api/bank", &two, NULL, 1, NULL);
    CHECK_STATUS(r, 400, "quoted.csv: 2 columns could be the class names: 'Col_Names' (column B), "
                 "'kind' (column C); choose one with --column NAME");
    resp_free(&r);
}

/* POST /api/head: labelled embeddings (from /api/score?embedding=1) train a head that scores
 * with head=ID and downloads as a head file; bad bodies are refused with the cause. */
static void test_train_head(const server *s)
{
    const char *files[4] = {fixture("images/photo_boats.jpg"), fixture("images/photo_ladybird.jpg"),
                            fixture("images/photo_rocket.jpg"), fixture("images/photo_landscape.jpg")};
    json_t *emb = json_array(), *labels = json_array();
    for (int i = 0; i < 4; i++) {
        resp r = post_file(s, "/api/score?embedding=1", "image/jpeg", files[i]);
        CHECK_STATUS(r, 200, NULL);
        json_t *e = r.json ? json_object_get(r.json, "embedding") : NULL;
        CHECK(json_is_array(e) && json_array_size(e) > 0);
        json_array_append(emb, e ? e : json_array());
        json_array_append_new(labels, i < 2 ? json_string("good") : json_false());
        resp_free(&r);
    }
    json_t *req = json_pack("{s:s, s:O, s:O}", "name", "server taste", "embeddings", emb, "labels", labels);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    resp r = post_raw(s, "/api/head", "application/json", body, strlen(body));
    CHECK_STATUS(r, 200, NULL);
    const char *id = r.json ? jstr(r.json, "id") : NULL;
    CHECK(id && !strncmp(id, "h-", 2) && strlen(id) == 18);
    CHECK(r.json && !strcmp(jstr(r.json, "kind"), "logistic") && jnum(r.json, "images") == 4);
    CHECK(r.json && jnum(r.json, "good") == 2 && jnum(r.json, "bad") == 2);
    char hid[64] = "", path[256];
    snprintf(hid, sizeof hid, "%s", id ? id : "");
    resp_free(&r);
    /* the same labels again: the same head */
    r = post_raw(s, "/api/head", "application/json", body, strlen(body));
    CHECK(r.json && !strcmp(jstr(r.json, "id"), hid));
    resp_free(&r);
    free(body);

    /* it scores: probability = sigmoid(score), the name in "head", listed in /api/info */
    snprintf(path, sizeof path, "/api/score?head=%s", hid);
    r = post_file(s, path, "image/jpeg", files[0]);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && !strcmp(jstr(r.json, "head"), "server taste") && !strcmp(jstr(r.json, "method"), "head"));
    CHECK(r.json && fabs(jnum(r.json, "probability") - 1 / (1 + exp(-jnum(r.json, "score")))) < 1e-6);
    double score = r.json ? jnum(r.json, "score") : 0;
    resp_free(&r);
    r = get(s, "/api/info");
    CHECK_STR_CONTAINS(r.body, hid);
    resp_free(&r);

    /* the download is that head: loaded here, it scores the embedding as the server does */
    snprintf(path, sizeof path, "/api/head?id=%s", hid);
    r = get(s, path);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.headers, "attachment; filename=\"server-taste.head\"");
    const char *saved = test_tmp("server-taste.head");
    FILE *f = fopen(saved, "wb");
    if (f) fwrite(r.body, 1, r.len, f), fclose(f);
    resp_free(&r);
    ae_head *h = NULL;
    CHECK_EQ_INT(ae_head_load(saved, &h), AE_OK);
    json_t *e0 = json_array_get(emb, 0);
    size_t dim = json_array_size(e0);
    float v[1024];
    for (size_t k = 0; k < dim && k < 1024; k++) v[k] = (float)json_number_value(json_array_get(e0, k));
    ae_score sc;
    if (h && ae_head_score(h, v, 1, &sc) == AE_OK) CHECK_NEAR(sc.score, score, 1e-5);
    ae_head_free(h);

    /* refusals, each naming the cause */
    r = get(s, "/api/head?id=h-0000000000000000");
    CHECK_STATUS(r, 404, "unknown head");
    resp_free(&r);
    r = get(s, "/api/head");
    CHECK_STATUS(r, 400, "give id=");
    resp_free(&r);
    r = post_raw(s, "/api/head", "image/jpeg", "x", 1);
    CHECK_STATUS(r, 415, "application/json");
    resp_free(&r);
    r = post_raw(s, "/api/head", "application/json", "{\"embeddings\": [", 16);
    CHECK_STATUS(r, 400, "not JSON");
    resp_free(&r);
    const char *small = "{\"embeddings\": [[1,2]], \"labels\": [1]}";
    r = post_raw(s, "/api/head", "application/json", small, strlen(small));
    CHECK_STATUS(r, 400, "training takes 4 to");
    resp_free(&r);
    const char *mismatch = "{\"embeddings\": [[1]], \"labels\": [1, 0]}";
    r = post_raw(s, "/api/head", "application/json", mismatch, strlen(mismatch));
    CHECK_STATUS(r, 400, "as many \"labels\"");
    resp_free(&r);
    const char *narrow = "{\"embeddings\": [[1,2],[1,2],[1,2],[1,2]], \"labels\": [1,0,1,0]}";
    r = post_raw(s, "/api/head", "application/json", narrow, strlen(narrow));
    CHECK_STATUS(r, 400, "embeddings[0]: 2 numbers, the model's embeddings have");
    resp_free(&r);
    json_array_set_new(labels, 2, json_string("meh"));
    req = json_pack("{s:O, s:O}", "embeddings", emb, "labels", labels);
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    r = post_raw(s, "/api/head", "application/json", body, strlen(body));
    CHECK_STATUS(r, 400, "labels[2] is not good/bad");
    resp_free(&r);
    free(body);
    for (int i = 0; i < 4; i++) json_array_set_new(labels, (size_t)i, json_true());
    req = json_pack("{s:O, s:O}", "embeddings", emb, "labels", labels);
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    r = post_raw(s, "/api/head", "application/json", body, strlen(body));
    CHECK_STATUS(r, 400, "good");
    resp_free(&r);
    free(body);
    json_decref(emb), json_decref(labels);
}

static void test_bad_input(const server *s)
{
    const char *boats = fixture("images/photo_boats.jpg");
    resp r = post_raw(s, "/api/score", "text/plain", "hello", 5);
    CHECK_STATUS(r, 415, "Content-Type 'text/plain' is not accepted");
    resp_free(&r);
    r = post_raw(s, "/api/score", "image/jpeg", "hello, not a JPEG at all", 24);
    CHECK_STATUS(r, 415, "not an image");
    resp_free(&r);
    r = post_raw(s, "/api/score", "image/jpeg", NULL, 0);
    CHECK_STATUS(r, 400, "no image");
    resp_free(&r);
    r = post_file(s, "/api/score?method=bogus", "image/jpeg", boats);
    CHECK_STATUS(r, 400, "method 'bogus'");
    resp_free(&r);
    char big[1500];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char path[1700];
    snprintf(path, sizeof path, "/api/score?positive=%s", big);
    r = post_file(s, path, "image/jpeg", boats);
    CHECK_STATUS(r, 400, "longer than");
    resp_free(&r);
    r = post_file(s, "/api/score?positive=%ff%fe", "image/jpeg", boats);
    CHECK_STATUS(r, 400, "UTF-8");
    resp_free(&r);
    /* the probe's and fuzz_query's findings: %00 cut the value short ("a"), overlong forms
     * and surrogates passed as UTF-8 */
    static const char *const hostile[] = {"/api/score?positive=a%00b", "/api/score?negative=%C0%AE",
                                          "/api/score?positive=%ED%A0%80", "/api/score?template=%F4%90%80%80"};
    for (int i = 0; i < 4; i++) {
        r = post_file(s, hostile[i], "image/jpeg", boats);
        CHECK_STATUS(r, 400, "UTF-8");
        resp_free(&r);
    }
    r = post_raw(s, "/api/score?url=http://127.0.0.1:1/x.jpg", "", NULL, 0);
    CHECK_STATUS(r, 400, "--allow-urls");
    resp_free(&r);

    /* a truncated JPEG: a clean 400 or a decoded partial image, never 500 */
    size_t n;
    uint8_t *jpg = read_file(boats, &n);
    r = post_raw(s, "/api/score", "image/jpeg", jpg, 600);
    CHECK_MSG(r.status == 400 || r.status == 200, "truncated JPEG: %ld %s", r.status, r.body);
    resp_free(&r);

    /* decompression bomb: 50000 x 50000 in a 100-byte PNG */
    uint8_t png[512];
    size_t pn = bomb_png(png, 50000, 50000);
    double t0 = now();
    r = post_raw(s, "/api/score", "image/png", png, pn);
    CHECK_STATUS(r, 413, "2500000000 pixels exceeds the limit of 100000000");
    CHECK(now() - t0 < 5);
    resp_free(&r);
    pn = bomb_png(png, 100, 0);
    r = post_raw(s, "/api/score", "image/png", png, pn);
    CHECK_STATUS(r, 400, "invalid image size");
    resp_free(&r);

    /* over the upload cap, declared: 413 before the body (5 MB here, the cap is 4 MiB). Sent
     * on a raw socket, headers only: the answer must come without any of the body (a client
     * that keeps sending after it may see its connection reset, which says nothing) */
    uint8_t *five = calloc(5 << 20, 1);
    memcpy(five, jpg, n);
    for (int attempt = 0; attempt < 20; attempt++) {
        int fd = connect_port(s->port);
        CHECK(fd >= 0);
        if (fd < 0) break;
        const char *req = "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                          "Content-Length: 5242880\r\n\r\n";
        CHECK(send(fd, req, strlen(req), 0) == (ssize_t)strlen(req));
        char buf[4096];
        int closed;
        read_for(fd, buf, sizeof buf, 5, &closed);
        close(fd);
        if (strstr(buf, " 503 ") && attempt < 19) { /* busy for a moment: try again */
            usleep(100000);
            continue;
        }
        CHECK_MSG(!strncmp(buf, "HTTP/1.1 413", 12), "declared 5 MB body: %.60s", buf);
        CHECK_STR_CONTAINS(buf, "exceeds the limit of 4194304 bytes");
        break;
    }
    /* chunked bodies declare no length: 411 with the API's JSON error, before the body */
    {
        resp cr;
        CURL *h = easy(s, "/api/score", &cr);
        struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
        hd = curl_slist_append(hd, "Content-Type: image/jpeg");
        FILE *f = fmemopen(five, 5 << 20, "rb");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
        curl_easy_setopt(h, CURLOPT_READDATA, f);
        cr.cc = curl_easy_perform(h);
        finish(h, &cr);
        CHECK_MSG(cr.cc == CURLE_OK && cr.status == 411, "chunked body: curl %d status %ld", cr.cc, cr.status);
        CHECK_STR_CONTAINS(cr.json ? jstr(cr.json, "error") : NULL, "chunked request body is not accepted");
        resp_free(&cr);
        curl_slist_free_all(hd);
        fclose(f);
    }
    free(five);
    free(jpg);

    /* 1 GB declared on a raw socket: 413 at once, without sending a byte of body */
    int fd = connect_port(s->port);
    const char *hdr = "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                      "Content-Length: 1000000000\r\n\r\n";
    CHECK(send(fd, hdr, strlen(hdr), MSG_NOSIGNAL) == (ssize_t)strlen(hdr));
    char buf[4096];
    int closed;
    t0 = now();
    read_for(fd, buf, sizeof buf, 5, &closed);
    CHECK_STR_CONTAINS(buf, "HTTP/1.1 413");
    CHECK_STR_CONTAINS(buf, "1000000000 bytes exceeds the limit");
    CHECK(now() - t0 < 3);
    close(fd);

    /* the probe's finding: a chunk size of 2^64 - 1 followed by a few bytes got no answer
     * until the receive deadline; now 411 at once, and the connection closed */
    static const char *const chunk_sizes[] = {"FFFFFFFFFFFFFFFF", "FFFFFFFF", "10"};
    for (int i = 0; i < 3; i++) {
        fd = connect_port(s->port);
        char req[512];
        snprintf(req, sizeof req, "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n%s\r\nabc", chunk_sizes[i]);
        CHECK(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
        t0 = now();
        read_for(fd, buf, sizeof buf, 5, &closed);
        CHECK_MSG(!strncmp(buf, "HTTP/1.1 411", 12), "chunk size %s: %.60s", chunk_sizes[i], buf);
        CHECK_STR_CONTAINS(buf, "{\"error\":\"a chunked request body is not accepted: send Content-Length\"}");
        CHECK_MSG(closed && now() - t0 < 2, "chunk size %s: closed %d after %.1f s", chunk_sizes[i], closed, now() - t0);
        close(fd);
    }

    /* a request line or header over libmicrohttpd's 64 KiB of connection memory: its own
     * 414 / 431 (an HTML page, Connection: close; 0.9.75 has no hook for these answers) */
    {
        size_t big = 100000, cap = big + 256;
        char *req = malloc(cap), ans[4096];
        for (int i = 0; i < 2; i++) {
            int n = i == 0 ? snprintf(req, cap, "GET /") : snprintf(req, cap, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
            memset(req + n, 'a', big);
            snprintf(req + n + big, cap - n - big, i == 0 ? " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" : "\r\n\r\n");
            fd = connect_port(s->port);
            send(fd, req, strlen(req), MSG_NOSIGNAL); /* may be cut short by the answer */
            read_for(fd, ans, sizeof ans, 5, &closed);
            close(fd);
            CHECK_MSG(!strncmp(ans, i == 0 ? "HTTP/1.1 414" : "HTTP/1.1 431", 12), "100 kB %s: %.60s",
                      i == 0 ? "URI" : "header", ans);
            CHECK_STR_CONTAINS(ans, "Connection: close");
        }
        free(req);
    }
    /* keep-alive: three pipelined GETs answered on one connection (an answer queued from the
     * headers alone used to make libmicrohttpd close after the first) */
    {
        fd = connect_port(s->port);
        const char *one = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        char three[256];
        snprintf(three, sizeof three, "%s%s%s", one, one, one);
        CHECK(send(fd, three, strlen(three), MSG_NOSIGNAL) == (ssize_t)strlen(three));
        char ans[8192];
        read_for(fd, ans, sizeof ans, 2, &closed);
        close(fd);
        int answers = 0;
        for (const char *p = ans; (p = strstr(p, "{\"status\":\"ok\"}")); p++) answers++;
        CHECK_EQ_INT(answers, 3);
        CHECK_MSG(!closed && !strstr(ans, "Connection: close"), "keep-alive: closed %d", closed);
    }

    /* multipart: no boundary, malformed, too many parts, no file */
    r = post_raw(s, "/api/score", "multipart/form-data", "--x\r\n\r\nabc\r\n--x--", 17);
    CHECK_STATUS(r, 400, "boundary");
    resp_free(&r);
    const char *trunc = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\nabc";
    r = post_raw(s, "/api/score", "multipart/form-data; boundary=B", trunc, strlen(trunc));
    CHECK_STATUS(r, 400, "malformed multipart");
    resp_free(&r);
    const char *nodelim = "just some bytes";
    r = post_raw(s, "/api/rank", "multipart/form-data; boundary=B", nodelim, strlen(nodelim));
    CHECK_STATUS(r, 400, "boundary delimiter");
    resp_free(&r);
    size_t cap = 10000 * 64 + 64, len = 0;
    char *many = malloc(cap);
    for (int i = 0; i < 10000; i++)
        len += (size_t)snprintf(many + len, cap - len, "--B\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n", i);
    len += (size_t)snprintf(many + len, cap - len, "--B--\r\n");
    t0 = now();
    r = post_raw(s, "/api/rank", "multipart/form-data; boundary=\"B\"", many, len);
    CHECK_STATUS(r, 413, "too many parts: more than 256");
    CHECK(now() - t0 < 5);
    resp_free(&r);
    free(many);
    const char *fieldonly = "--B\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nfixed\r\n--B--\r\n";
    r = post_raw(s, "/api/score", "multipart/form-data; boundary=B", fieldonly, strlen(fieldonly));
    CHECK_STATUS(r, 400, "no image");
    resp_free(&r);

    /* still serving */
    r = post_file(s, "/api/score", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    resp_free(&r);
}

/* What the API refuses (issue 14 item 8): a parameter no endpoint takes, named, on every
 * endpoint (query string and form fields); a second image sent to /api/score or /api/embed
 * (pointing to /api/rank); a second class list; a PDF, an image or binary data uploaded as
 * a class list (415, as a non-image is to /api/score). */
/* A request with extra headers (NULL-terminated "Name: value" list) and a method */
static resp ask(const server *s, const char *method, const char *path, const char *const *hdrs, const char *file)
{
    resp r;
    CURL *h = easy(s, path, &r);
    struct curl_slist *hd = NULL;
    for (int i = 0; hdrs && hdrs[i]; i++) hd = curl_slist_append(hd, hdrs[i]);
    size_t n = 0;
    char *body = file ? read_file(file, &n) : NULL;
    if (body) {
        hd = curl_slist_append(hd, "Content-Type: image/jpeg");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    r.cc = curl_easy_perform(h);
    finish(h, &r);
    curl_slist_free_all(hd);
    free(body);
    return r;
}

/* Safe to expose: a token, TLS, the Host check (DNS rebinding) and other sites refused, CORS
 * only for the origin given. */
static void test_access(void)
{
    char tok[4200], cert[4200], key[4200];
    snprintf(tok, sizeof tok, "%s/token", test_tmpdir());
    snprintf(cert, sizeof cert, "%s/cert.pem", test_tmpdir());
    snprintf(key, sizeof key, "%s/key.pem", test_tmpdir());
    FILE *f = fopen(tok, "w");
    fputs("0123456789abcdef-token\n", f);
    fclose(f);
    int have_tls = run_sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 2 -subj /CN=localhost "
                          ">/dev/null 2>&1", key, cert) == 0;
    server s;
    const char *args[] = {"--auth-token", tok, "--cors", "https://app.example", "--quiet",
                          have_tls ? "--tls-cert" : NULL, cert, "--tls-key", key, NULL};
    if (server_start(&s, args) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(s.tls, have_tls);
    const char *boats = fixture("images/photo_boats.jpg");
    const char *good = "Authorization: Bearer 0123456789abcdef-token";
    resp r = ask(&s, "GET", "/api/info", NULL, NULL);
    CHECK_STATUS(r, 401, "this server needs a token");
    CHECK_STR_CONTAINS(r.headers, "WWW-Authenticate: Bearer");
    resp_free(&r);
    r = ask(&s, "GET", "/api/info", (const char *const[]){"Authorization: Bearer 0123456789abcdef-tokeN", NULL}, NULL);
    CHECK_STATUS(r, 401, "the token is not this server's");
    resp_free(&r);
    r = ask(&s, "POST", "/api/score", (const char *const[]){good, NULL}, boats);
    CHECK_STATUS(r, 200, NULL);
    resp_free(&r);
    r = ask(&s, "POST", "/api/score", NULL, boats); /* a body without the token: answered, not reset */
    CHECK_STATUS(r, 401, NULL);
    resp_free(&r);
    r = ask(&s, "GET", "/", NULL, NULL); /* the page and /healthz stay open: the page asks */
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    r = ask(&s, "GET", "/healthz", NULL, NULL);
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    /* another Host: a name that resolves to loopback (DNS rebinding) is not this server's */
    r = ask(&s, "GET", "/healthz", (const char *const[]){"Host: attacker.example:8080", NULL}, NULL);
    CHECK_STATUS(r, 403, "Host 'attacker.example:8080' is not this server's name; start it with --allowed-host attacker.example");
    resp_free(&r);
    r = ask(&s, "GET", "/healthz", (const char *const[]){"Host: localhost:1234", NULL}, NULL);
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    /* another site's page: refused, also a form POST (no preflight); the --cors origin: allowed */
    r = ask(&s, "POST", "/api/score", (const char *const[]){good, "Origin: https://evil.example", NULL}, boats);
    CHECK_STATUS(r, 403, "a request from another site (https://evil.example) is refused");
    CHECK(!strstr(r.headers, "Access-Control-Allow-Origin"));
    resp_free(&r);
    r = ask(&s, "GET", "/api/info", (const char *const[]){good, "Sec-Fetch-Site: cross-site", NULL}, NULL);
    CHECK_EQ_INT(r.status, 403);
    resp_free(&r);
    r = ask(&s, "OPTIONS", "/api/score", (const char *const[]){"Origin: https://app.example", NULL}, NULL);
    CHECK_EQ_INT(r.status, 204);
    CHECK_STR_CONTAINS(r.headers, "Access-Control-Allow-Origin: https://app.example");
    CHECK_STR_CONTAINS(r.headers, "Access-Control-Allow-Headers: Content-Type, Authorization");
    resp_free(&r);
    r = ask(&s, "POST", "/api/score", (const char *const[]){good, "Origin: https://app.example", NULL}, boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK_STR_CONTAINS(r.headers, "Access-Control-Allow-Origin: https://app.example");
    resp_free(&r);
    /* the page's own origin is not another site */
    char own[128];
    snprintf(own, sizeof own, "Origin: %s://127.0.0.1:%d", s.tls ? "https" : "http", s.port);
    r = ask(&s, "POST", "/api/score", (const char *const[]){good, own, NULL}, boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK(!strstr(r.headers, "Access-Control-Allow-Origin"));
    resp_free(&r);
    CHECK_EQ_INT(server_stop(&s), 0);

    /* bad token files; a public address without a token or TLS warns */
    f = fopen(tok, "w");
    fputs("short\n", f);
    fclose(f);
    run_result rr = RUN("serve", "-m", fixture("models/tiny-quickgelu"), "--auth-token", tok);
    CHECK_EQ_INT(rr.code, 2);
    CHECK_STR_CONTAINS(rr.err, "a token is one line of at least 16 characters");
    run_free(&rr);
    rr = RUN("serve", "-m", fixture("models/tiny-quickgelu"), "--tls-cert", cert);
    CHECK_EQ_INT(rr.code, 2);
    CHECK_STR_CONTAINS(rr.err, "--tls-cert and --tls-key go together");
    run_free(&rr);
    rr = RUN("serve", "-m", fixture("models/tiny-quickgelu"), "--cors", "app.example");
    CHECK_EQ_INT(rr.code, 2);
    CHECK_STR_CONTAINS(rr.err, "--cors: 'app.example' is not an origin");
    run_free(&rr);
    server w;
    const char *wargs[] = {"--host", "0.0.0.0", "--quiet", NULL};
    if (server_start(&w, wargs) == 0) {
        char *log = read_file(w.log, NULL);
        CHECK_STR_CONTAINS(log, "warning: serving on 0.0.0.0 without a token or TLS: anyone who can reach it may use it");
        free(log);
        server_stop(&w);
    } else {
        CHECK(0);
    }
}

static void test_refusals(const server *s)
{
    const char *boats = fixture("images/photo_boats.jpg"), *rocket = fixture("images/photo_rocket.jpg");
    const char *list = AE_SOURCE_DIR "/tests/data/classlists/rooms.tsv";
    resp r = post_file(s, "/api/score?methd=context", "image/jpeg", boats);
    CHECK_STATUS(r, 400, "unknown parameter 'methd': /api/score takes method, bank, head, positive");
    resp_free(&r);
    /* NUL (%00 would cut "a%00b" to "a"), overlong forms and surrogates: refused, not scored */
    const char *bad_values[] = {"a%00b", "%C0%AF", "%E0%80%AF", "%ED%A0%80", "%F4%90%80%80", "a%01b"};
    for (int i = 0; i < 6; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/score?positive=%s", bad_values[i]);
        r = post_file(s, path, "image/jpeg", boats);
        CHECK_MSG(r.status == 400, "%s: status %ld", bad_values[i], (long)r.status);
        resp_free(&r);
    }
    r = post_file(s, "/api/score?positive=%C3%A9l%C3%A9gant", "image/jpeg", boats); /* élégant */
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && jis(r.json, "positive", "\xc3\xa9l\xc3\xa9gant"));
    resp_free(&r);
    r = post_file(s, "/api/embed?method=fixed", "image/jpeg", boats);
    CHECK_STATUS(r, 400, "unknown parameter 'method': /api/embed takes url");
    resp_free(&r);
    r = post_files(s, "/api/rank", &boats, NULL, 1, (const char *const[]){"metod", "fixed", NULL});
    CHECK_STATUS(r, 400, "unknown parameter 'metod': /api/rank takes");
    resp_free(&r);
    r = post_files(s, "/api/cull?similr=0.9", &boats, NULL, 1, NULL);
    CHECK_STATUS(r, 400, "unknown parameter 'similr': /api/cull takes");
    CHECK_STR_CONTAINS(r.body, "keep_by");
    resp_free(&r);
    r = post_files(s, "/api/bank", &list, NULL, 1, (const char *const[]){"colum", "Name", NULL});
    CHECK_STATUS(r, 400, "unknown parameter 'colum': /api/bank takes");
    resp_free(&r);
    const char *hj = "{\"embeddings\": [], \"labels\": []}";
    r = post_raw(s, "/api/head?name=x", "application/json", hj, strlen(hj));
    CHECK_STATUS(r, 400, "unknown parameter 'name': /api/head takes no parameters");
    resp_free(&r);
    r = get(s, "/api/info?verbose=1");
    CHECK_STATUS(r, 400, "unknown parameter 'verbose': /api/info takes no parameters");
    resp_free(&r);
    r = get(s, "/healthz?x=1");
    CHECK_STATUS(r, 400, "unknown parameter 'x'");
    resp_free(&r);
    r = get(s, "/api/head?id=h-0&format=zip");
    CHECK_STATUS(r, 400, "unknown parameter 'format': /api/head takes id");
    resp_free(&r);
    r = get(s, "/?utm_source=x"); /* the page itself takes anything */
    CHECK_STATUS(r, 200, NULL);
    resp_free(&r);
    /* every known one passes the check (values are each endpoint's business) */
    r = post_file(s, "/api/score?method=fixed&positive=good&negative=bad&template=&laion_head=&normalize_prompts=0&embedding=0&bank=&head=&url=",
                  "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    resp_free(&r);

    const char *two[2] = {boats, rocket};
    r = post_files(s, "/api/score", two, NULL, 2, NULL);
    CHECK_STATUS(r, 400, "/api/score takes one image (2 files sent): send several to /api/rank");
    resp_free(&r);
    r = post_files(s, "/api/embed", two, NULL, 2, NULL);
    CHECK_STATUS(r, 400, "/api/embed takes one image (2 files sent)");
    resp_free(&r);
    const char *lists[2] = {list, list};
    r = post_files(s, "/api/bank", lists, NULL, 2, NULL);
    CHECK_STATUS(r, 400, "/api/bank takes one class list (2 files sent)");
    resp_free(&r);

    char pdf[4200];
    snprintf(pdf, sizeof pdf, "%s/classes.pdf", test_tmpdir());
    FILE *f = fopen(pdf, "wb");
    static const char doc[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                              "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    fwrite(doc, 1, sizeof doc - 1, f);
    fclose(f);
    const char *pdfp = pdf;
    r = post_files(s, "/api/bank", &pdfp, NULL, 1, NULL);
    CHECK_STATUS(r, 415, "classes.pdf: a PDF document, not a class list");
    resp_free(&r);
    r = post_files(s, "/api/bank", &boats, (const char *const[]){"rooms.txt"}, 1, NULL);
    CHECK_STATUS(r, 415, "rooms.txt: an image, not a class list");
    resp_free(&r);
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/classes.bin", test_tmpdir());
    f = fopen(bin, "wb");
    fwrite("lobby\0\1\2\3pool\n", 1, 15, f);
    fclose(f);
    const char *binp = bin;
    r = post_files(s, "/api/bank", &binp, (const char *const[]){"rooms.csv"}, 1, NULL);
    CHECK_STATUS(r, 415, "rooms.csv: binary data, not a class list");
    resp_free(&r);
}

/* /api/info's counters of banks encoded here and read from the kept folder. */
static void bank_counts(const server *s, long *built, long *read)
{
    resp r = get(s, "/api/info");
    json_t *st = r.json ? json_object_get(r.json, "stats") : NULL;
    *built = st ? (long)jnum(st, "banks_built") : -1;
    *read = st ? (long)jnum(st, "banks_read") : -1;
    resp_free(&r);
}

/* Waits until the banks the page offers are made (/api/info: nothing building, ensemble
 * listed); 0 when they are. */
static int wait_offered(const server *s)
{
    for (int i = 0; i < 600; i++) {
        resp r = get(s, "/api/info");
        int ready = 0;
        if (r.json && json_is_null(json_object_get(r.json, "building"))) {
            json_t *b;
            size_t k;
            json_array_foreach(json_object_get(r.json, "banks"), k, b) ready |= jstr(b, "name") && !strcmp(jstr(b, "name"), "ensemble");
        }
        resp_free(&r);
        if (ready) return 0;
        usleep(100000);
    }
    return -1;
}

static size_t count_banks(const char *dir)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -c '\\.bank$') -eq", dir);
    for (size_t n = 0; n < 64; n++) {
        char c[4500];
        snprintf(c, sizeof c, "%s %zu", cmd, n);
        if (run_sh("%s", c) == 0) return n;
    }
    return (size_t)-1;
}

/* Issue 14 item 5: the banks of fixed, context and ensemble are made once the server
 * listens (logged, with progress); banks built on request are kept in the folder the CLI
 * keeps its own in, so that a server started again with the same cache reads them instead
 * of encoding them: its banks_built counter stays 0. */
static void test_kept_banks(void)
{
    const char *boats = fixture("images/photo_boats.jpg");
    const char *list = AE_SOURCE_DIR "/tests/data/classlists/rooms.tsv";
    char cache[4200], banks[4200];
    snprintf(cache, sizeof cache, "%s/kept/embeddings.sqlite3", test_tmpdir());
    snprintf(banks, sizeof banks, "%s/kept/banks", test_tmpdir());
    /* --max-banks 1: the bank with "beautiful" is evicted by the class list's (under ASan the
     * exit status checks that an evicted bank is freed) */
    const char *args[] = {"--cache", cache, "--max-banks", "1", "--quiet", NULL};
    double scores[3] = {0};
    for (int run = 0; run < 2; run++) {
        server s;
        if (server_start(&s, args) != 0) {
            CHECK(0);
            return;
        }
        CHECK_MSG(wait_offered(&s) == 0, "run %d: the offered banks are made", run);
        long built, read;
        bank_counts(&s, &built, &read);
        /* the default (fixed) was made by the command before listening; the others here */
        CHECK_MSG(built == (run ? 0 : 2) && read == (run ? 2 : 0), "run %d at start: %ld built, %ld read", run, built, read);
        const char *queries[3] = {"/api/score?method=context", "/api/score?method=ensemble&positive=beautiful", "/api/score?method=fixed"};
        for (int q = 0; q < 3; q++) {
            resp r = post_file(&s, queries[q], "image/jpeg", boats);
            CHECK_STATUS(r, 200, NULL);
            double v = r.json ? jnum(r.json, "score") : NAN;
            if (run == 0) scores[q] = v;
            else CHECK_MSG(v == scores[q], "%s after a restart: %.9g, before %.9g", queries[q], v, scores[q]);
            resp_free(&r);
        }
        resp r = post_files(&s, "/api/bank", &list, NULL, 1, NULL);
        CHECK_STATUS(r, 200, NULL);
        CHECK(jis(r.json, "name", "rooms.tsv"));
        resp_free(&r);
        bank_counts(&s, &built, &read);
        CHECK_MSG(built == (run ? 0 : 4) && read == (run ? 4 : 0), "run %d after the requests: %ld built, %ld read", run, built, read);
        /* the default, context, ensemble, ensemble with "beautiful", the class list */
        CHECK_EQ_INT(count_banks(banks), 5);
        CHECK_EQ_INT(server_stop(&s), 0);
        char *log = read_file(s.log, NULL);
        if (run == 0) {
            CHECK_STR_CONTAINS(log, "aesthete serve: building bank context: 2000 prompts");
            CHECK_STR_CONTAINS(log, "aesthete serve: building bank ensemble: 1024 of 2000 prompts");
            CHECK_STR_CONTAINS(log, "aesthete serve: bank ensemble ready: 2000 prompts in");
            CHECK_STR_CONTAINS(log, "kept in ");
        } else {
            CHECK_STR_CONTAINS(log, "aesthete serve: bank context: read from ");
            CHECK_MSG(log && !strstr(log, "building bank"), "nothing built after the restart: %s", log ? log : "");
        }
        free(log);
    }
    /* the CLI reads what the server kept: the same key, the same file, the same score */
    run_result rr = RUN("score", "--model", fixture("models/tiny-quickgelu"), "--cache", cache, "--format", "jsonl",
                        "--method", "ensemble", "--positive", "beautiful", boats);
    json_t *j = jline(rr.out, 0);
    CHECK_MSG(rr.code == 0 && j && jnum(j, "score") == scores[1], "CLI with the kept bank: %s", rr.err);
    json_decref(j);
    run_free(&rr);
    CHECK_EQ_INT(count_banks(banks), 5);
}

/* /api/info's "building": the bank being made and its progress, from the server's list of
 * builds in progress (set here by hand: a build of the tiny model is over too fast to see). */
static void test_building_json(void)
{
    ae_server s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    json_t *j = banks_building_json(&s);
    CHECK(json_is_null(j));
    json_decref(j);
    bank_build queued = {.key = "k2", .name = "rooms.tsv", .method = AE_METHOD_CONTEXT, .n_classes = 4};
    bank_build running = {.key = "k1", .name = "ensemble", .method = AE_METHOD_ENSEMBLE, .n_classes = 1000,
                          .done = 512, .total = 2000, .next = &queued};
    s.builds = &running;
    j = banks_building_json(&s);
    char *txt = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    const char *want = "{\"bank\":\"ensemble\",\"done\":512,\"method\":\"ensemble\",\"n_classes\":1000,\"queued\":1,\"total\":2000}";
    CHECK_MSG(txt && !strcmp(txt, want), "building: %s", txt ? txt : "(null)");
    free(txt);
    json_decref(j);
    pthread_mutex_destroy(&s.mu);
}

/* Issue 14 item 2: on a server whose default is a saved bank (a class list), adjectives alone
 * change the adjectives of that bank, not the classes (it used to switch to the 1000
 * ImageNet classes without a word); every answer says what scored it: the bank's name,
 * where its classes come from and how many, the adjectives. */
static void test_default_bank_adjectives(void)
{
    const char *boats = fixture("images/photo_boats.jpg");
    const char *list = AE_SOURCE_DIR "/tests/data/classlists/rooms.tsv";
    char bank[4200];
    snprintf(bank, sizeof bank, "%s/rooms.bank", test_tmpdir());
    run_result br = RUN("bank", "build", "--model", fixture("models/tiny-quickgelu"), "--method", "context", "--classes",
                        list, "-o", bank);
    CHECK_EQ_INT(br.code, 0);
    run_free(&br);
    server s;
    const char *args[] = {"--bank", bank, "--quiet", NULL};
    if (server_start(&s, args) != 0) {
        CHECK(0);
        return;
    }
    resp r = post_file(&s, "/api/score", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && jis(r.json, "bank_name", "rooms") && jis(r.json, "classes", "rooms"));
    CHECK_EQ_INT(r.json ? jnum(r.json, "n_classes") : 0, 3); /* the header row is not a class */
    CHECK(r.json && jis(r.json, "positive", "outstanding") && jis(r.json, "negative", "horrible"));
    resp_free(&r);
    r = post_file(&s, "/api/score?positive=beautiful", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK_EQ_INT(r.json ? jnum(r.json, "n_classes") : 0, 3);
    CHECK(r.json && jis(r.json, "bank_name", "rooms") && jis(r.json, "method", "context"));
    CHECK(r.json && jis(r.json, "positive", "beautiful") && jis(r.json, "negative", "horrible"));
    json_t *ref = cli_scores((const char *const[]){"--method", "context", "--classes", list, "--positive", "beautiful", NULL}, &boats, 1);
    same_score(r.json, json_array_get(ref, 0), "default bank with another adjective");
    json_decref(ref);
    resp_free(&r);
    /* the built-in methods say where their classes come from */
    r = post_file(&s, "/api/score?method=ensemble", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && jis(r.json, "classes", "ImageNet") && jnum(r.json, "n_classes") == 1000);
    resp_free(&r);
    r = post_file(&s, "/api/score?method=fixed", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && json_is_null(json_object_get(r.json, "classes")) && jnum(r.json, "n_classes") == 0);
    resp_free(&r);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* Slowloris: headers (then a body) one byte a second; the server's --timeout is 2 s. */
static void test_slowloris(const server *s)
{
    const char *reqs[] = {"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
                          "POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n"
                          "\xff\xd8\xff\xe0 slow body bytes ........................................"};
    for (int k = 0; k < 2; k++) {
        int fd = connect_port(s->port);
        const char *p = reqs[k];
        size_t fast = k == 1 ? strlen("POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n") : 0;
        if (fast) send(fd, p, fast, MSG_NOSIGNAL);
        double t0 = now(), dropped = 0;
        char buf[512];
        int closed = 0;
        for (size_t i = fast; p[i] && now() - t0 < 10; i++) {
            if (send(fd, p + i, 1, MSG_NOSIGNAL) != 1) {
                dropped = now() - t0;
                break;
            }
            read_for(fd, buf, sizeof buf, 1.0, &closed);
            if (closed) {
                dropped = now() - t0;
                break;
            }
        }
        printf("slowloris %s: dropped after %.1f s\n", k ? "body" : "headers", dropped);
        CHECK_MSG(dropped > 1.5 && dropped < 6, "%s: connection dropped after %.1f s (timeout 2 s)",
                  k ? "slow body" : "slow headers", dropped);
        close(fd);
        resp r = get(s, "/healthz");
        CHECK_STATUS(r, 200, NULL);
        resp_free(&r);
    }
}

/* n concurrent uploads of file; counts statuses. */
static void flood(const server *s, const char *file, int n, int *ok, int *busy, int *other, int *retry_after)
{
    size_t len;
    void *data = read_file(file, &len);
    CURLM *m = curl_multi_init();
    CURL **h = calloc((size_t)n, sizeof *h);
    resp *rs = calloc((size_t)n, sizeof *rs);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: image/jpeg");
    hd = curl_slist_append(hd, "Expect:");
    for (int i = 0; i < n; i++) {
        h[i] = easy(s, "/api/score", &rs[i]);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    *ok = *busy = *other = *retry_after = 0;
    for (int i = 0; i < n; i++) {
        curl_multi_remove_handle(m, h[i]);
        finish(h[i], &rs[i]);
        if (rs[i].status == 200) (*ok)++;
        else if (rs[i].status == 503 || rs[i].status == 429) {
            (*busy)++;
            *retry_after += strstr(rs[i].headers, "Retry-After: ") != NULL;
            if (*busy == 1) CHECK_STR_CONTAINS(rs[i].json ? jstr(rs[i].json, "error") : NULL, "busy");
        } else (*other)++;
        resp_free(&rs[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hd);
    free(h), free(rs), free(data);
}

static void test_flood(const server *s)
{
    const char *big = fixture("images/photo_sunset_12mp_progressive.jpg");
    long rss0 = rss_kb(s->pid), rss1 = 0;
    int ok, busy, other, ra, total_busy = 0;
    for (int round = 0; round < 3; round++) {
        flood(s, big, 16, &ok, &busy, &other, &ra);
        printf("flood %d: 16 requests, max-inflight 2: %d ok, %d busy (%d with Retry-After), %d other; VmRSS %ld kB\n",
               round + 1, ok, busy, ra, other, rss_kb(s->pid));
        CHECK(ok >= 1);
        CHECK_EQ_INT(other, 0);
        CHECK_EQ_INT(ra, busy);
        total_busy += busy;
        if (round == 0) rss1 = rss_kb(s->pid);
    }
    CHECK_MSG(total_busy > 0, "no 503 seen in 3 floods of 16 beyond --max-inflight 2");
    resp r = post_file(s, "/api/score", "image/jpeg", fixture("images/photo_boats.jpg"));
    CHECK_STATUS(r, 200, NULL);
    resp_free(&r);
    long rss2 = rss_kb(s->pid);
#if defined(__SANITIZE_ADDRESS__)
    const long bound = 1500 * 1024; /* ASan's quarantine and shadow memory */
#else
    const long bound = 400 * 1024;
#endif
    printf("VmRSS: %ld kB at start, %ld kB after one flood, %ld kB after three\n", rss0, rss1, rss2);
    CHECK_MSG(rss2 > 0 && rss2 < bound, "VmRSS %ld kB over %ld kB", rss2, bound);
    CHECK_MSG(rss2 - rss1 < 64 * 1024, "VmRSS grew by %ld kB between floods", rss2 - rss1);
}

static void test_urls(void)
{
    static const struct { const char *addr; int blocked; } cases[] = {
        {"127.0.0.1", 1}, {"127.8.9.10", 1}, {"10.1.2.3", 1}, {"172.16.0.1", 1}, {"172.31.255.255", 1},
        {"192.168.1.1", 1}, {"169.254.169.254", 1}, {"100.100.100.200", 1}, {"0.0.0.0", 1}, {"224.0.0.1", 1},
        {"255.255.255.255", 1}, {"::1", 1}, {"::", 1}, {"fe80::1", 1}, {"fd00:ec2::254", 1}, {"fc00::1", 1},
        {"::ffff:127.0.0.1", 1}, {"::ffff:10.0.0.1", 1}, {"64:ff9b::a9fe:a9fe", 1}, {"2002:7f00:1::", 1},
        {"ff02::1", 1}, {"not-an-address", 1}, {"8.8.8.8", 0}, {"1.1.1.1", 0}, {"172.32.0.1", 0},
        {"100.128.0.1", 0}, {"2606:4700:4700::1111", 0}, {"::ffff:8.8.8.8", 0}, {"64:ff9b::808:808", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(ae_netguard_blocked_str(cases[i].addr) == cases[i].blocked, "%s: blocked %d, expected %d",
                  cases[i].addr, ae_netguard_blocked_str(cases[i].addr), cases[i].blocked);

    /* a server with --allow-urls refuses loopback, also behind a redirect */
    httpd *web = httpd_start();
    size_t n;
    void *jpg = read_file(fixture("images/photo_boats.jpg"), &n);
    httpd_add(web, "/boats.jpg", 200, "image/jpeg", jpg, n);
    /* this server also offers a saved bank (the default then) */
    char bankp[4200];
    snprintf(bankp, sizeof bankp, "%s/rooms.bank", test_tmpdir());
    run_result br = RUN("bank", "build", "--model", fixture("models/tiny-quickgelu"), "--method", "context", "--classes",
                        AE_SOURCE_DIR "/tests/data/classlists/rooms.tsv", "-o", bankp);
    CHECK_EQ_INT(br.code, 0);
    run_free(&br);
    server s;
    if (server_start(&s, (const char *const[]){"--allow-urls", "--quiet", "--bank", bankp, NULL}) != 0) {
        CHECK(0);
        httpd_stop(web);
        free(jpg);
        return;
    }
    char url[512], path[1200];
    httpd_url(web, "/boats.jpg", url, sizeof url);
    snprintf(path, sizeof path, "/api/score?url=%s", url);
    resp r = post_raw(&s, path, "", NULL, 0);
    CHECK_STATUS(r, 400, "address 127.0.0.1 is not public");
    resp_free(&r);
    snprintf(path, sizeof path, "/api/score?url=http://localhost:%d/boats.jpg", httpd_port(web));
    r = post_raw(&s, path, "", NULL, 0);
    CHECK_STATUS(r, 400, "is not public");
    resp_free(&r);
    r = post_raw(&s, "/api/score?url=file:///etc/passwd", "", NULL, 0);
    CHECK_STATUS(r, 400, "only http and https");
    resp_free(&r);
    r = post_file(&s, "/api/score?url=http://example.com/x.jpg", "image/jpeg", fixture("images/photo_boats.jpg"));
    CHECK_STATUS(r, 400, "not both");
    resp_free(&r);
    CHECK_EQ_INT(httpd_count(web, "GET /boats.jpg"), 0); /* never reached */
    r = get(&s, "/api/info");
    CHECK(r.json && json_is_true(json_object_get(r.json, "allow_urls")));
    json_t *b0 = r.json ? json_array_get(json_object_get(r.json, "banks"), 0) : NULL;
    CHECK(b0 && !strcmp(jstr(b0, "id"), "rooms") && json_is_true(json_object_get(b0, "default")) &&
          !strcmp(jstr(b0, "method"), "context"));
    resp_free(&r);
    const char *boats = fixture("images/photo_boats.jpg");
    json_t *ref = cli_scores((const char *const[]){"--bank", bankp, NULL}, &boats, 1);
    r = post_file(&s, "/api/score", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && !strcmp(jstr(r.json, "bank"), "rooms"));
    same_score(r.json, json_array_get(ref, 0), "saved bank (default)");
    resp_free(&r);
    r = post_file(&s, "/api/score?bank=rooms", "image/jpeg", boats);
    same_score(r.json, json_array_get(ref, 0), "saved bank by name");
    resp_free(&r);
    json_decref(ref);
    CHECK_EQ_INT(server_stop(&s), 0);
    httpd_stop(web);
    free(jpg);
}

/* The multipart parser on its own: exact parts of a valid body, then thousands of random
 * mutations and truncations of it (ASan watches every read), and the boundary rules. */
static void test_multipart_parser(void)
{
    const char *body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\ncontext\r\n"
                       "--XyZ\r\ncontent-disposition: form-data; name=file; filename=\"C:\\x\\a b.jpg\"\r\n"
                       "Content-Type: image/jpeg\r\n\r\n\xff\xd8--XyZx\xff\r\n--XyZ--\r\nepilogue";
    mp_part *parts;
    int np;
    char err[256];
    CHECK_EQ_INT(mp_parse((const uint8_t *)body, strlen(body), "XyZ", 256, &parts, &np, err, sizeof err), 0);
    CHECK_EQ_INT(np, 2);
    if (np == 2) {
        CHECK(!strcmp(parts[0].name, "method") && !parts[0].has_filename && parts[0].size == 7 &&
              !memcmp(parts[0].data, "context", 7));
        CHECK(!strcmp(parts[1].name, "file") && parts[1].has_filename && !strcmp(parts[1].filename, "a b.jpg"));
        CHECK(!strcmp(parts[1].content_type, "image/jpeg") && parts[1].size == 9 && !memcmp(parts[1].data, "\xff\xd8--XyZx\xff", 9));
    }
    free(parts);
    CHECK_EQ_INT(mp_parse((const uint8_t *)body, strlen(body), "XyZ", 1, &parts, &np, err, sizeof err), 413);
    char b[80];
    CHECK_EQ_INT(mp_boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"", b, sizeof b), 0);
    CHECK(!strcmp(b, "a b"));
    CHECK_EQ_INT(mp_boundary("multipart/form-data; boundary=", b, sizeof b), -1);
    CHECK_EQ_INT(mp_boundary("multipart/form-data", b, sizeof b), -1);
    CHECK_EQ_INT(mp_boundary("multipart/form-data; boundary=0123456789012345678901234567890123456789012345678901234567890123456789x", b, sizeof b), -1);
    /* found by fuzz_multipart: an overlong form (E0 9D 90) and a surrogate (ED A0 80) passed
     * into file names as they were; they are dropped like other invalid UTF-8 */
    char fn[64];
    mp_sanitize_filename("a\xe0\x9d\x90" "b\xed\xa0\x80" "c\xf0\x8f\xbf\xbf\xf4\x90\x80\x80\xc3\xa9.jpg", 23, fn, sizeof fn);
    CHECK_MSG(!strcmp(fn, "abc\xc3\xa9.jpg"), "sanitised to '%s'", fn);

    uint64_t x = 88172645463325252ull;
    size_t len = strlen(body);
    uint8_t *buf = malloc(len);
    int ok = 0, bad = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, body, len);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int muts = 1 + (int)(x % 4);
        for (int m = 0; m < muts; m++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % len] = (uint8_t)(x >> 32);
        }
        size_t cut = it % 3 ? len : (size_t)(x >> 40) % (len + 1);
        /* copy to an exact-size heap block so that ASan sees any read past the end */
        uint8_t *exact = malloc(cut ? cut : 1);
        memcpy(exact, buf, cut);
        int st = mp_parse(exact, cut, "XyZ", 256, &parts, &np, err, sizeof err);
        if (st == 0) {
            ok++;
            for (int i = 0; i < np; i++)
                bad += !(parts[i].data >= exact && parts[i].data + parts[i].size <= exact + cut);
            free(parts);
        } else {
            bad += !(st == 400 && err[0]);
        }
        free(exact);
    }
    printf("multipart: %d of 20000 mutated bodies still parse\n", ok);
    CHECK_EQ_INT(bad, 0);
    free(buf);
}

/* The request budget: with --request-timeout 1, 16 concurrent rankings of six 12 MP photos
 * need several seconds of decoding; the requests still waiting after 1 s get 503. */
static void test_budget(void)
{
    server s;
    if (server_start(&s, (const char *const[]){"--request-timeout", "1", "--quiet", NULL}) != 0) {
        CHECK(0);
        return;
    }
    const char *big = fixture("images/photo_sunset_12mp_progressive.jpg");
    enum { N = 16 };
    CURLM *m = curl_multi_init();
    CURL *h[N];
    curl_mime *mime[N];
    resp rs[N];
    for (int i = 0; i < N; i++) {
        h[i] = easy(&s, "/api/rank", &rs[i]);
        mime[i] = curl_mime_init(h[i]);
        for (int k = 0; k < 6; k++) {
            curl_mimepart *p = curl_mime_addpart(mime[i]);
            curl_mime_name(p, "file");
            curl_mime_filedata(p, big);
        }
        curl_easy_setopt(h[i], CURLOPT_MIMEPOST, mime[i]);
        curl_multi_add_handle(m, h[i]);
    }
    double t0 = now();
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int ok = 0, budget = 0, other = 0;
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(m, h[i]);
        finish(h[i], &rs[i]);
        const char *e = rs[i].json ? jstr(rs[i].json, "error") : NULL;
        if (rs[i].status == 200) ok++;
        else if (rs[i].status == 503 && e && strstr(e, "request budget of 1 s exhausted")) budget++;
        else {
            other++;
            fprintf(stderr, "budget: status %ld %s\n", rs[i].status, rs[i].body ? rs[i].body : "");
        }
        resp_free(&rs[i]);
        curl_mime_free(mime[i]);
    }
    curl_multi_cleanup(m);
    printf("budget 1 s: %d ranked, %d refused with 503 after their budget, in %.1f s\n", ok, budget, now() - t0);
    CHECK(budget >= 1);
    CHECK_EQ_INT(other, 0);
    resp r = post_file(&s, "/api/score", "image/jpeg", fixture("images/photo_boats.jpg"));
    CHECK_STATUS(r, 200, NULL);
    resp_free(&r);
    CHECK_EQ_INT(server_stop(&s), 0);
}

typedef struct inflight {
    const server *s;
    resp r;
    double done; /* when the answer arrived */
} inflight;

static void *rank_thread(void *arg)
{
    inflight *f = arg;
    const char *big = fixture("images/photo_sunset_12mp_progressive.jpg");
    const char *files[] = {big, big, big, fixture("images/photo_boats.jpg")};
    f->r = post_files(f->s, "/api/rank", files, NULL, 4, NULL);
    f->done = now();
    return NULL;
}

/* SIGTERM while a request is being served: it completes, then the server exits 0. */
static void test_sigterm(server *s)
{
    inflight f = {s, {0}, 0};
    pthread_t t;
    /* earlier requests (the floods) must be over first, or their count would be mistaken
       for this one's */
    for (int i = 0, busy = 1; i < 2000 && busy; i++) {
        resp r = get(s, "/api/info");
        busy = !r.json || jnum(json_object_get(r.json, "stats"), "inflight") != 0;
        resp_free(&r);
        if (busy) usleep(5000);
    }
    pthread_create(&t, NULL, rank_thread, &f);
    /* SIGTERM once the server has admitted the request (decoding three 12 MP JPEGs follows) */
    int admitted = 0;
    for (int i = 0; i < 500 && !admitted; i++) {
        resp r = get(s, "/api/info");
        admitted = r.json && jnum(json_object_get(r.json, "stats"), "inflight") >= 1;
        resp_free(&r);
        if (!admitted) usleep(5000);
    }
    CHECK(admitted);
    double sig = now();
    int code = server_stop(s);
    pthread_join(t, NULL);
    printf("SIGTERM: the request in flight was answered %.0f ms after the signal\n", (f.done - sig) * 1e3);
    CHECK(f.done > sig);
    CHECK_STATUS(f.r, 200, NULL);
    CHECK_EQ_INT(json_array_size(f.r.json ? json_object_get(f.r.json, "results") : NULL), 4);
    resp_free(&f.r);
    CHECK_EQ_INT(code, 0);
    char *log = read_file(s->log, NULL);
    CHECK_STR_CONTAINS(log, "SIGTERM: finishing requests in progress");
    CHECK_STR_CONTAINS(log, "stopped");
    free(log);
    /* and nothing listens any more */
    int fd = connect_port(s->port);
    CHECK_EQ_INT(fd, -1);
    if (fd >= 0) close(fd);
}

/* `serve --precision int8`: the image tower is loaded at int8, the text tower at fp32 (its
 * banks are fp32), /api/info and /api/embed say so, and the answers are those of
 * `score/embed --precision int8`; with --text-precision int8 the banks are int8 too, and the
 * scores those of `score --precision int8 --text-precision int8` */
static void test_precision(void)
{
    server s;
    const char *args[] = {"--precision", "int8", "--quiet", NULL};
    if (server_start(&s, args) != 0) {
        CHECK(0);
        return;
    }
    resp r = get(&s, "/api/info");
    CHECK_STATUS(r, 200, NULL);
    json_t *model = r.json ? json_object_get(r.json, "model") : NULL;
    CHECK(jstr(model, "precision") && !strcmp(jstr(model, "precision"), "int8"));
    CHECK(jstr(model, "text_precision") && !strcmp(jstr(model, "text_precision"), "fp32"));
    json_t *b0 = json_array_get(json_object_get(r.json, "banks"), 0);
    CHECK(jstr(b0, "precision") && !strcmp(jstr(b0, "precision"), "fp32"));
    resp_free(&r);

    const char *boats = fixture("images/photo_boats.jpg");
    r = post_file(&s, "/api/embed", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    CHECK(r.json && jstr(r.json, "precision") && !strcmp(jstr(r.json, "precision"), "int8"));
    json_t *e = r.json ? json_object_get(r.json, "embedding") : NULL;
    run_result r8 = RUN("embed", "--model", fixture("models/tiny-quickgelu"), "--precision", "int8", boats);
    run_result r32 = RUN("embed", "--model", fixture("models/tiny-quickgelu"), boats);
    json_t *l8 = jline(r8.out, 0), *l32 = jline(r32.out, 0);
    json_t *e8 = json_object_get(l8, "embedding"), *e32 = json_object_get(l32, "embedding");
    double md8 = 0, md32 = 0;
    for (size_t i = 0; i < 40; i++) {
        double v = json_number_value(json_array_get(e, i));
        md8 = fmax(md8, fabs(v - json_number_value(json_array_get(e8, i))));
        md32 = fmax(md32, fabs(v - json_number_value(json_array_get(e32, i))));
    }
    printf("int8 server embedding vs embed --precision int8: max |diff| %.3g (vs fp32: %.3g)\n", md8, md32);
    CHECK(json_array_size(e) == 40 && json_array_size(e8) == 40 && md8 <= 1e-5);
    CHECK(md32 > md8); /* it is the int8 model, not the fp32 one */
    json_decref(l8), json_decref(l32);
    run_free(&r8), run_free(&r32);
    resp_free(&r);

    json_t *ref = cli_scores((const char *const[]){"--precision", "int8", NULL}, &boats, 1);
    r = post_file(&s, "/api/score", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    same_score(r.json, json_array_get(ref, 0), "int8 server");
    resp_free(&r);
    CHECK_EQ_INT(server_stop(&s), 0);

    const char *args8[] = {"--precision", "int8", "--text-precision", "int8", "--quiet", NULL};
    if (server_start(&s, args8) != 0) {
        CHECK(0);
        json_decref(ref);
        return;
    }
    r = get(&s, "/api/info");
    CHECK_STATUS(r, 200, NULL);
    model = r.json ? json_object_get(r.json, "model") : NULL;
    CHECK(jstr(model, "precision") && !strcmp(jstr(model, "precision"), "int8"));
    CHECK(jstr(model, "text_precision") && !strcmp(jstr(model, "text_precision"), "int8"));
    b0 = json_array_get(json_object_get(r.json, "banks"), 0);
    CHECK(jstr(b0, "precision") && !strcmp(jstr(b0, "precision"), "int8"));
    resp_free(&r);
    json_t *ref8 = cli_scores((const char *const[]){"--precision", "int8", "--text-precision", "int8", NULL}, &boats, 1);
    r = post_file(&s, "/api/score", "image/jpeg", boats);
    CHECK_STATUS(r, 200, NULL);
    same_score(r.json, json_array_get(ref8, 0), "int8 server, int8 texts");
    double d = fabs(jnum(r.json, "score") - jnum(json_array_get(ref, 0), "score"));
    printf("int8 server: int8 texts move the score by %.4f\n", d);
    CHECK(d > 1e-4); /* the int8 banks, not the fp32 ones */
    resp_free(&r);
    json_decref(ref), json_decref(ref8);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* ---- /api/cull ---- */

/* the row of a cull answer (or of the CLI's JSON array, keyed by "input") for a file name */
static json_t *cull_row(json_t *rows, const char *key, const char *name)
{
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *o = json_array_get(rows, i);
        const char *f = jstr(o, key), *b = f ? strrchr(f, '/') : NULL;
        if (f && !strcmp(b ? b + 1 : f, name)) return o;
    }
    return NULL;
}

static const char *base_name(const char *p)
{
    const char *b = p ? strrchr(p, '/') : NULL;
    return b ? b + 1 : p;
}

/* one cull request with the query, checked for the status */
static resp cull_post(const server *s, const char *query, const char *const *files, int n, int status)
{
    char path[512];
    snprintf(path, sizeof path, "/api/cull%s", query);
    resp r = post_files(s, path, files, NULL, n, NULL);
    CHECK_STATUS(r, status, NULL);
    return r;
}

static long summary(const resp *r, const char *k)
{
    json_t *sm = r->json ? json_object_get(r->json, "summary") : NULL;
    return sm ? (long)json_integer_value(json_object_get(sm, k)) : -1;
}

static void test_cull(const server *s)
{
    /* the set: boats, a byte copy, a copy with other metadata (the same pixels), rocket, a
     * re-encode of boats in two versions: frames 1 s apart and 1 hour apart, a text file */
    const char *dir = test_tmpdir();
    const char *img = fixture("images");
    int rc = run_sh("cd '%s' && cp '%s/photo_boats.jpg' boats.jpg && cp boats.jpg boats_copy.jpg && "
                   "exiftool -q -q -Artist=someone -o boats_meta.jpg boats.jpg && cp '%s/photo_rocket.jpg' rocket.jpg && "
                   "convert boats.jpg -quality 70 frame2.jpg && cp boats.jpg frame1.jpg && cp frame2.jpg late2.jpg && "
                   "exiftool -q -q -overwrite_original -Model=Cam -DateTimeOriginal='2024:06:01 12:00:00' frame1.jpg && "
                   "exiftool -q -q -overwrite_original -Model=Cam -DateTimeOriginal='2024:06:01 12:00:01' frame2.jpg && "
                   "exiftool -q -q -overwrite_original -Model=Cam -DateTimeOriginal='2024:06:01 13:00:01' late2.jpg && "
                   "echo 'not a photo' > notes.jpg",
                   dir, img, img);
    CHECK_EQ_INT(rc, 0);
    if (rc) return;
    char p[9][4300];
    const char *names[9] = {"boats.jpg", "boats_copy.jpg", "boats_meta.jpg", "rocket.jpg", "frame1.jpg",
                            "frame2.jpg", "late2.jpg", "notes.jpg", NULL};
    const char *f[9];
    for (int i = 0; i < 8; i++) snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]), f[i] = p[i];

    /* exact: the same bytes, the same pixels; rocket alone; notes.jpg an error, the rest culled */
    resp r = cull_post(s, "?burst_gap=0", (const char *const[]){f[0], f[1], f[2], f[3], f[7]}, 5, 200);
    json_t *res = r.json ? json_object_get(r.json, "results") : NULL;
    CHECK_EQ_INT(json_array_size(res), 4);
    json_t *b0 = cull_row(res, "file", "boats.jpg"), *b1 = cull_row(res, "file", "boats_copy.jpg");
    json_t *b2 = cull_row(res, "file", "boats_meta.jpg"), *rk = cull_row(res, "file", "rocket.jpg");
    if (b0 && b1 && b2 && rk) {
        CHECK_EQ_INT(jnum(b0, "group"), 1);
        CHECK_EQ_INT(jnum(b1, "group"), 1);
        CHECK_EQ_INT(jnum(b2, "group"), 1);
        CHECK(!strcmp(jstr(b0, "kind"), "exact") && !strcmp(jstr(b1, "kind"), "exact") && !strcmp(jstr(b2, "kind"), "exact"));
        /* one keeper: boats or its byte copy (same score; the earlier input wins) */
        CHECK(!strcmp(jstr(b0, "role"), "keep"));
        CHECK(json_is_null(json_object_get(b0, "keeper")) && json_is_null(json_object_get(b0, "match")));
        CHECK(!strcmp(jstr(b1, "role"), "reject") && !strcmp(jstr(b1, "match"), "bytes"));
        CHECK(!strcmp(jstr(b1, "keeper"), "boats.jpg"));
        CHECK_STR_CONTAINS(jstr(b1, "reason"), "the same bytes as boats.jpg");
        CHECK(!strcmp(jstr(b2, "role"), "reject") && !strcmp(jstr(b2, "match"), "pixels"));
        CHECK_STR_CONTAINS(jstr(b2, "reason"), "the same pixels as boats.jpg");
        CHECK(!strcmp(jstr(rk, "role"), "single") && !strcmp(jstr(rk, "kind"), "single"));
        CHECK(json_is_null(json_object_get(rk, "group")) && json_is_null(json_object_get(rk, "similarity")));
        CHECK_EQ_INT(jnum(b0, "width"), 1280);
        CHECK(jnum(b0, "sharpness") > 0 && jnum(b0, "sharpness") == jnum(b1, "sharpness"));
        /* the keeper first, singles last */
        CHECK(json_array_get(res, 0) == b0 && json_array_get(res, 3) == rk);
    } else {
        CHECK_MSG(0, "cull rows missing: %s", r.body ? r.body : "");
    }
    CHECK_EQ_INT(summary(&r, "images"), 4);
    CHECK_EQ_INT(summary(&r, "groups"), 1);
    CHECK_EQ_INT(summary(&r, "exact"), 1);
    CHECK_EQ_INT(summary(&r, "rejects"), 2);
    CHECK_EQ_INT(summary(&r, "singles"), 1);
    json_t *errs = r.json ? json_object_get(r.json, "errors") : NULL;
    CHECK_EQ_INT(json_array_size(errs), 1);
    CHECK(errs && !strcmp(jstr(json_array_get(errs, 0), "file"), "notes.jpg"));
    CHECK_STR_CONTAINS(jstr(json_array_get(errs, 0), "error"), "notes.jpg");
    CHECK(r.json && !strcmp(jstr(json_object_get(r.json, "params"), "keep_by"), "score"));

    /* the same files through `aesthete cull`: the same groups, roles, keepers and scores */
    const char *args[16] = {"cull", "--model", fixture("models/tiny-quickgelu"), "--no-cache", "--burst-gap", "0",
                            "--format", "json", f[0], f[1], f[2], f[3], NULL};
    run_result c = run_cli(NULL, NULL, args);
    CHECK_EQ_INT(c.code, 0);
    json_t *cj = c.out ? json_loads(c.out, 0, NULL) : NULL;
    CHECK_EQ_INT(json_array_size(cj), 4);
    for (int i = 0; i < 4; i++) {
        json_t *a = cull_row(res, "file", names[i]), *b = cull_row(cj, "input", names[i]);
        if (!a || !b) {
            CHECK_MSG(0, "%s: missing from the server's or the CLI's cull", names[i]);
            continue;
        }
        CHECK_MSG(json_equal(json_object_get(a, "group"), json_object_get(b, "group")), "%s: group", names[i]);
        CHECK_MSG(!strcmp(jstr(a, "role"), jstr(b, "role")) && !strcmp(jstr(a, "kind"), jstr(b, "kind")), "%s: role %s/%s",
                  names[i], jstr(a, "role"), jstr(b, "role"));
        const char *ka = jstr(a, "keeper"), *kb = base_name(jstr(b, "keeper"));
        CHECK_MSG((!ka && !kb) || (ka && kb && !strcmp(ka, kb)), "%s: keeper %s vs %s", names[i], ka ? ka : "null",
                  kb ? kb : "null");
        CHECK_MSG(fabs(jnum(a, "score") - jnum(b, "score")) <= 1e-4, "%s: score %.9g vs CLI %.9g", names[i],
                  jnum(a, "score"), jnum(b, "score"));
        CHECK_MSG(jnum(a, "sharpness") == jnum(b, "sharpness"), "%s: sharpness", names[i]);
    }
    json_decref(cj);
    run_free(&c);
    resp_free(&r);

    /* a burst: one camera, 1 s apart, alike (a tiny burst_similar: the tiny model's cosines
     * mean nothing), not near (similar=1); an hour apart it is two singles */
    r = cull_post(s, "?similar=1&burst_similar=0.0001&burst_gap=2", (const char *const[]){f[4], f[5]}, 2, 200);
    res = r.json ? json_object_get(r.json, "results") : NULL;
    json_t *x = cull_row(res, "file", "frame1.jpg"), *y = cull_row(res, "file", "frame2.jpg");
    CHECK(x && y && !strcmp(jstr(x, "kind"), "burst") && !strcmp(jstr(y, "kind"), "burst"));
    CHECK(x && y && !strcmp(jstr(x, "camera"), "Cam") && !strcmp(jstr(x, "time"), "2024-06-01T12:00:00"));
    CHECK_EQ_INT(summary(&r, "burst"), 1);
    CHECK_EQ_INT(summary(&r, "rejects"), 1);
    resp_free(&r);
    r = cull_post(s, "?similar=1&burst_similar=0.0001&burst_gap=2", (const char *const[]){f[4], f[6]}, 2, 200);
    CHECK_EQ_INT(summary(&r, "groups"), 0);
    CHECK_EQ_INT(summary(&r, "singles"), 2);
    resp_free(&r);

    /* keep_by=newest: the later frame keeps, whatever the scores */
    r = cull_post(s, "?similar=1&burst_similar=0.0001&keep_by=newest", (const char *const[]){f[4], f[5]}, 2, 200);
    res = r.json ? json_object_get(r.json, "results") : NULL;
    y = cull_row(res, "file", "frame2.jpg");
    CHECK(y && !strcmp(jstr(y, "role"), "keep"));
    CHECK(r.json && !strcmp(jstr(json_object_get(r.json, "params"), "keep_by"), "newest"));
    resp_free(&r);

    /* distinct photos with similar=1 and no bursts: all singles */
    r = cull_post(s, "?similar=1&burst_gap=0", (const char *const[]){f[0], f[3], f[5]}, 3, 200);
    res = r.json ? json_object_get(r.json, "results") : NULL;
    int singles = 0;
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *o = json_array_get(res, i);
        singles += !strcmp(jstr(o, "role"), "single") && json_is_null(json_object_get(o, "group")) &&
                   json_is_null(json_object_get(o, "similarity"));
    }
    CHECK_EQ_INT(singles, 3);
    CHECK_EQ_INT(summary(&r, "groups"), 0);
    resp_free(&r);

    /* every cull and scoring parameter as a form field (a form sends them all, empty ones too) */
    const char *all_fields[] = {"similar", "0.95", "burst_similar", "0.85", "burst_gap", "0", "blur_ratio", "0.5",
                                "keep_by", "sharpness", "method", "fixed", "positive", "outstanding", "negative",
                                "horrible", "template", "a {adjective} picture", "laion_head", "", "normalize_prompts", "0", NULL};
    r = post_files(s, "/api/cull", (const char *const[]){f[0], f[1]}, NULL, 2, all_fields);
    CHECK_STATUS(r, 200, NULL);
    CHECK_EQ_INT(summary(&r, "exact"), 1);
    CHECK(r.json && !strcmp(jstr(json_object_get(r.json, "params"), "keep_by"), "sharpness"));
    resp_free(&r);

    /* bad parameters and no images: 400 naming the cause */
    struct {
        const char *query, *msg;
    } bad[] = {{"?similar=2", "similar: '2' is not a number in"},
               {"?keep_by=bogus", "keep_by: 'bogus' is not score, sharpness, size or newest"},
               {"?burst_gap=-1", "burst_gap: '-1' is not a number in"},
               {"?blur_ratio=x", "blur_ratio: 'x' is not a number"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/cull%s", bad[i].query);
        r = post_files(s, path, f, NULL, 1, NULL);
        CHECK_STATUS(r, 400, bad[i].msg);
        resp_free(&r);
    }
    r = post_files(s, "/api/cull", NULL, NULL, 0, (const char *const[]){"method", "fixed", NULL});
    CHECK_MSG(r.status == 400, "cull without images: status %ld", r.status);
    CHECK(r.json && jstr(r.json, "error"));
    resp_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    double t0 = now();
    server s;
    const char *args[] = {"--max-inflight", "2", "--timeout", "2", "--max-upload-mb", "4", "--request-timeout", "30",
                          "--quiet", NULL};
    if (server_start(&s, args) != 0) {
        CHECK(0);
        return test_summary();
    }
    test_multipart_parser();
    test_pages(&s);
    test_scores_match_cli(&s);
    test_embed_rank(&s);
    test_bank(&s);
    test_train_head(&s);
    test_cull(&s);
    test_bad_input(&s);
    test_refusals(&s);
    test_access();
    test_slowloris(&s);
    test_flood(&s);
    test_sigterm(&s);
    test_urls();
    test_building_json();
    test_kept_banks();
    test_default_bank_adjectives();
    test_budget();
    test_precision();
    printf("test_server: %.1f s\n", now() - t0);
    curl_global_cleanup();
    return test_summary();
}
