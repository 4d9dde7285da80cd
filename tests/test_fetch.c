/*
 * test_fetch.c — app/fetch.c against the local test server (tests/support/httpd.c): bodies,
 * HTTP errors, redirect limits and schemes, the byte cap, the low-speed abort, text/html,
 * unreachable hosts, bad URLs, and many URLs at once with mixed failures.
 */
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "fetch.h"
#include "support/httpd.h"
#include "test.h"

static httpd *srv;
static char url[512];

static const char *U(const char *path) { return httpd_url(srv, path, url, sizeof url); }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_ok(void)
{
    static uint8_t img[3000];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 31 + 1);
    httpd_add(srv, "/photo.jpg", 200, "image/jpeg", img, sizeof img);
    ae_buffer b = {0};
    CHECK_EQ_INT(ae_fetch_url(U("/photo.jpg"), NULL, &b), AE_OK);
    CHECK_EQ_INT(b.size, sizeof img);
    CHECK(b.data && memcmp(b.data, img, sizeof img) == 0);
    ae_buffer_free(&b);
    CHECK(b.data == NULL && b.size == 0);

    /* a large generated body, checked byte by byte */
    CHECK_EQ_INT(ae_fetch_url(U("/bytes/1000000"), NULL, &b), AE_OK);
    CHECK_EQ_INT(b.size, 1000000);
    int bad = 0;
    for (size_t i = 0; i < b.size; i++) bad += b.data[i] != (uint8_t)(i * 7 + 3);
    CHECK_EQ_INT(bad, 0);
    ae_buffer_free(&b);

    /* empty body is fine */
    CHECK_EQ_INT(ae_fetch_url(U("/bytes/0"), NULL, &b), AE_OK);
    CHECK_EQ_INT(b.size, 0);
    ae_buffer_free(&b);
}

static void test_status(void)
{
    ae_buffer b = {0};
    CHECK_EQ_INT(ae_fetch_url(U("/status/404"), NULL, &b), AE_ERR_NOT_FOUND);
    CHECK_STR_CONTAINS(ae_last_error(), url);
    CHECK_STR_CONTAINS(ae_last_error(), ": server answered HTTP 404 Not Found");
    CHECK(b.data == NULL);
    CHECK_EQ_INT(ae_fetch_url(U("/status/500"), NULL, &b), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "HTTP 500 Internal Server Error");
    CHECK_EQ_INT(ae_fetch_url(U("/nowhere"), NULL, &b), AE_ERR_NOT_FOUND);
}

static void test_redirects(void)
{
    ae_buffer b = {0};
    CHECK_EQ_INT(ae_fetch_url(U("/redirect/5"), NULL, &b), AE_OK);
    CHECK(b.size == 10 && memcmp(b.data, "redirected", 10) == 0);
    ae_buffer_free(&b);

    CHECK_EQ_INT(ae_fetch_url(U("/redirect/6"), NULL, &b), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "/redirect/6: ");
    CHECK_STR_CONTAINS(ae_last_error(), "Maximum (5) redirects followed");

    ae_fetch_params p = ae_fetch_default_params();
    p.max_redirects = 1;
    CHECK_EQ_INT(ae_fetch_url(U("/redirect/2"), &p, &b), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "Maximum (1) redirects followed");
    p.max_redirects = 0;
    CHECK_EQ_INT(ae_fetch_url(U("/redirect/1"), &p, &b), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "HTTP 302 redirect not followed");

    /* a redirect to another scheme is refused, and nothing of the target is read */
    CHECK_EQ_INT(ae_fetch_url(U("/goto?to=file:///etc/passwd"), NULL, &b), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "/goto?to=file:///etc/passwd: ");
    CHECK_STR_CONTAINS(ae_last_error(), "only http and https are fetched");
    CHECK(b.data == NULL);
    printf("file redirect: %s\n", ae_last_error());
    CHECK_EQ_INT(ae_fetch_url(U("/goto?to=ftp://127.0.0.1/x.jpg"), NULL, &b), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "only http and https are fetched");
}

static void test_schemes(void)
{
    ae_buffer b = {0};
    CHECK_EQ_INT(ae_fetch_url("ftp://127.0.0.1/x.jpg", NULL, &b), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(),
                       "ftp://127.0.0.1/x.jpg: scheme \"ftp\" is not supported (only http and https URLs)");
    CHECK_EQ_INT(ae_fetch_url("file:///etc/passwd", NULL, &b), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "scheme \"file\" is not supported");
    CHECK_EQ_INT(ae_fetch_url("photo.jpg", NULL, &b), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "photo.jpg: not a URL (expected http:// or https://)");
    CHECK_EQ_INT(ae_fetch_url("", NULL, &b), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_fetch_url("http://", NULL, &b), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "http://: ");
    printf("bad URL: %s\n", ae_last_error());
    CHECK_EQ_INT(ae_fetch_url("http://exa mple.com:99999999/", NULL, &b), AE_ERR_INVALID);
    CHECK(b.data == NULL);
}

static void test_limits(void)
{
    ae_buffer b = {0};
    ae_fetch_params p = ae_fetch_default_params();
    p.max_bytes = 100000;
    double t0 = now();
    CHECK_EQ_INT(ae_fetch_url(U("/endless"), &p, &b), AE_ERR_TOO_LARGE);
    CHECK_STR_CONTAINS(ae_last_error(), "/endless: body exceeds the limit of 100000 bytes");
    CHECK(b.data == NULL);
    /* with a Content-Length over the cap, curl refuses before reading the body */
    CHECK_EQ_INT(ae_fetch_url(U("/bytes/100001"), &p, &b), AE_ERR_TOO_LARGE);
    CHECK_STR_CONTAINS(ae_last_error(), "body exceeds the limit of 100000 bytes");
    CHECK_EQ_INT(ae_fetch_url(U("/bytes/100000"), &p, &b), AE_OK);
    CHECK_EQ_INT(b.size, 100000);
    ae_buffer_free(&b);
    printf("cap checks: %.2f s\n", now() - t0);

    /* a byte every 100 ms against a 1000 bytes/s floor over 1 s */
    p.low_speed_bytes = 1000;
    p.low_speed_secs = 1;
    t0 = now();
    CHECK_EQ_INT(ae_fetch_url(U("/drip?ms=100&n=100"), &p, &b), AE_ERR_IO);
    double dt = now() - t0;
    CHECK_STR_CONTAINS(ae_last_error(), "/drip?ms=100&n=100: Operation too slow");
    CHECK_MSG(dt < 4.0, "drip took %.2f s", dt);
    printf("slow drip stopped after %.2f s\n", dt);

    /* the total timeout */
    p = ae_fetch_default_params();
    p.timeout_ms = 500;
    t0 = now();
    CHECK_EQ_INT(ae_fetch_url(U("/drip?ms=50&n=100"), &p, &b), AE_ERR_IO);
    dt = now() - t0;
    CHECK_STR_CONTAINS(ae_last_error(), "timed out");
    CHECK_MSG(dt < 2.0, "timeout took %.2f s", dt);
}

static void test_html(void)
{
    ae_buffer b = {0};
    CHECK_EQ_INT(ae_fetch_url(U("/html"), NULL, &b), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "/html: server sent text/html, not an image");
    ae_fetch_params p = ae_fetch_default_params();
    p.reject_html = 0;
    CHECK_EQ_INT(ae_fetch_url(U("/html"), &p, &b), AE_OK);
    CHECK(b.size > 0 && memcmp(b.data, "<!doctype", 9) == 0);
    ae_buffer_free(&b);
}

static void test_unreachable(void)
{
    int port = httpd_closed_port();
    CHECK(port > 0);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x.jpg", port);
    ae_buffer b = {0};
    CHECK_EQ_INT(ae_fetch_url(u, NULL, &b), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), u);
    CHECK_STR_CONTAINS(ae_last_error(), "onnect"); /* "Failed to connect ..." */
    printf("unreachable: %s\n", ae_last_error());
}

static void test_many(void)
{
    static char urls[10][256];
    const char *paths[10] = {"/bytes/1000", "/status/404", "/drip?ms=20&n=20", "/html",
                             "/redirect/2", "ftp://x/y", "/bytes/5000", "/status/500",
                             "/endless", "/bytes/7"};
    const char *list[10];
    for (int i = 0; i < 10; i++) {
        if (paths[i][0] == '/') httpd_url(srv, paths[i], urls[i], sizeof urls[i]);
        else snprintf(urls[i], sizeof urls[i], "%s", paths[i]);
        list[i] = urls[i];
    }
    ae_fetch_params p = ae_fetch_default_params();
    p.max_parallel = 3;
    p.max_bytes = 200000;
    ae_fetch_result r[10];
    double t0 = now();
    int32_t failed = ae_fetch_many(list, 10, &p, r);
    printf("fetch_many of 10: %.2f s\n", now() - t0);
    CHECK_EQ_INT(failed, 5);
    int32_t want[10] = {AE_OK, AE_ERR_NOT_FOUND, AE_OK, AE_ERR_FORMAT, AE_OK,
                        AE_ERR_UNSUPPORTED, AE_OK, AE_ERR_IO, AE_ERR_TOO_LARGE, AE_OK};
    size_t sizes[10] = {1000, 0, 20, 0, 10, 0, 5000, 0, 0, 7};
    for (int i = 0; i < 10; i++) {
        CHECK_MSG(r[i].rc == want[i], "url %d rc %d want %d (%s)", i, r[i].rc, want[i], r[i].error);
        if (want[i] == AE_OK) {
            CHECK_EQ_INT(r[i].body.size, sizes[i]);
            CHECK_EQ_INT(r[i].http_status, 200);
            CHECK(r[i].error[0] == 0);
        } else {
            CHECK(r[i].body.data == NULL);
            CHECK_STR_CONTAINS(r[i].error, urls[i]);
        }
    }
    CHECK(memcmp(r[4].body.data, "redirected", 10) == 0);
    CHECK(r[6].body.data[4999] == (uint8_t)(4999 * 7 + 3));
    CHECK_EQ_INT(r[1].http_status, 404);
    CHECK_STR_CONTAINS(r[7].error, "HTTP 500");
    CHECK_STR_CONTAINS(r[8].error, "exceeds the limit of 200000 bytes");
    ae_fetch_results_free(r, 10);
    CHECK_EQ_INT(ae_fetch_many(list, 0, &p, r), 0);
    CHECK_EQ_INT(ae_fetch_many(NULL, 2, &p, r), AE_ERR_INVALID);
}

int main(void)
{
    srv = httpd_start();
    CHECK(srv != NULL);
    if (!srv) return test_summary();
    test_ok();
    test_status();
    test_redirects();
    test_schemes();
    test_limits();
    test_html();
    test_unreachable();
    test_many();
    httpd_stop(srv);
    return test_summary();
}
