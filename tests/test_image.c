/*
 * test_image.c — image decoding and CLIP preprocessing against the Pillow 9.4 / transformers
 * goldens of fixtures/images (index.json), bad-input handling, EXIF orientation, and the
 * crop-window resizer against a straightforward full-image Pillow resampler.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include <gif_lib.h>
#include <jansson.h>
#include <jpeglib.h>
#include <libheif/heif.h>
#include <png.h>
#include <webp/encode.h>

#include "aesthete.h"
#include "config.h"
#include "image.h"
#include "image_formats.h"
#include "hash.h"
#include "test.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static clip_preproc openai_preproc(int s, int crop)
{
    clip_preproc p;
    memset(&p, 0, sizeof p);
    p.do_resize = p.do_center_crop = p.do_rescale = p.do_normalize = p.do_convert_rgb = 1;
    p.shortest_edge = s;
    p.crop_h = p.crop_w = crop;
    p.resample = 3;
    p.rescale_factor = 1.0 / 255.0;
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memcpy(p.mean, mean, sizeof mean);
    memcpy(p.std, std, sizeof std);
    return p;
}

static const char *write_tmp(const char *fname, const void *data, size_t n)
{
    static char path[8][4096];
    static int slot;
    char *p = path[slot++ & 7];
    snprintf(p, sizeof path[0], "%s/%s", test_tmpdir(), fname);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(2); }
    if (n && fwrite(data, 1, n, f) != n) { perror(p); exit(2); }
    fclose(f);
    return p;
}

/* ---- goldens ----------------------------------------------------------------------------- */

static void check_preprocess(const ae_image *img, const char *file, const char *variant,
                             json_t *pre, int s)
{
    char key[8];
    snprintf(key, sizeof key, "%d", s);
    json_t *e = json_object_get(pre, key);
    const char *rgb_rel = json_string_value(json_object_get(e, "rgb"));
    const char *f32_rel = json_string_value(json_object_get(e, "f32"));
    CHECK_MSG(rgb_rel && f32_rel, "%s: no preprocess entry for %d", file, s);
    if (!rgb_rel || !f32_rel) return;
    char rel[1024];
    size_t nrgb = 0, nf32 = 0;
    snprintf(rel, sizeof rel, "images/%s", rgb_rel);
    uint8_t *want_rgb = read_file(fixture(rel), &nrgb);
    snprintf(rel, sizeof rel, "images/%s", f32_rel);
    float *want_f32 = read_file(fixture(rel), &nf32);
    const size_t n = (size_t)s * s;
    CHECK_MSG(want_rgb && nrgb == n * 3 && want_f32 && nf32 == n * 12, "%s: golden files", rel);
    if (want_rgb && nrgb == n * 3 && want_f32 && nf32 == n * 12) {
        clip_preproc p = openai_preproc(s, s);
        uint8_t *rgb = malloc(n * 3);
        float *pix = malloc(n * 12);
        double t0 = now();
        int rc = img_preprocess(&p, img, pix, rgb);
        double t1 = now();
        CHECK_EQ_INT(rc, AE_OK);
        size_t bad = 0;
        int maxd = 0;
        for (size_t i = 0; i < n * 3; i++) {
            int d = abs((int)rgb[i] - (int)want_rgb[i]);
            if (d) bad++;
            if (d > maxd) maxd = d;
        }
        double maxf = 0;
        for (size_t i = 0; i < n * 3; i++) {
            double d = fabs((double)pix[i] - (double)want_f32[i]);
            if (d > maxf) maxf = d;
        }
        int f32_exact = memcmp(pix, want_f32, n * 12) == 0;
        printf("  %-34s %-15s S=%-3d rgb %s (%zu bytes differ, max %d)  f32 max|diff| %.3g"
               "  (%.1f ms)\n", file, variant, s, bad ? "DIFF" : "exact", bad, maxd, maxf,
               (t1 - t0) * 1e3);
        CHECK_MSG(bad == 0, "%s %s S=%d: %zu crop bytes differ (max %d)", file, variant, s, bad,
                  maxd);
        CHECK_MSG(f32_exact, "%s %s S=%d: pixels differ, max %g", file, variant, s, maxf);
        free(rgb);
        free(pix);
    }
    free(want_rgb);
    free(want_f32);
}

static void test_goldens(void)
{
    size_t n = 0;
    char *txt = read_file(fixture("images/index.json"), &n);
    CHECK(txt != NULL);
    if (!txt) return;
    json_error_t jerr;
    json_t *root = json_loadb(txt, n, JSON_REJECT_DUPLICATES, &jerr);
    free(txt);
    CHECK_MSG(json_is_array(root), "index.json: %s", jerr.text);
    if (!json_is_array(root)) return;
    CHECK_EQ_INT(json_array_size(root), 29);
    size_t i;
    json_t *e;
    json_array_foreach(root, i, e) {
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *variant = json_string_value(json_object_get(e, "variant"));
        const char *sha = json_string_value(json_object_get(e, "decoded_rgb_sha256"));
        int w = (int)json_integer_value(json_object_get(e, "width"));
        int h = (int)json_integer_value(json_object_get(e, "height"));
        if (!file || !variant || !sha) { CHECK(0); continue; }
        const int transposed = strcmp(variant, "exif_transposed") == 0;
        ae_image_params ip = ae_image_default_params();
        ip.exif_rotate = transposed;
        char rel[512];
        snprintf(rel, sizeof rel, "images/%s", file);
        ae_image img;
        double t0 = now();
        int rc = ae_image_load(fixture(rel), &ip, &img);
        double t1 = now();
        CHECK_MSG(rc == AE_OK, "%s: %s", file, ae_last_error());
        if (rc != AE_OK) continue;
        /* width/height in the index are as stored; the transposed entry swaps them */
        if (transposed && img.width == h && img.height == w) { int t = w; w = h; h = t; }
        CHECK_MSG(img.width == w && img.height == h, "%s: %dx%d, expected %dx%d", file,
                  img.width, img.height, w, h);
        char hex[65];
        ae_sha256_hex(img.rgb, (size_t)img.width * img.height * 3, hex);
        CHECK_MSG(strcmp(hex, sha) == 0, "%s %s: decoded RGB sha256 %s, expected %s", file,
                  variant, hex, sha);
        printf("  %-34s decoded %dx%d in %.1f ms\n", file, img.width, img.height,
               (t1 - t0) * 1e3);
        json_t *pre = json_object_get(e, "preprocess");
        check_preprocess(&img, file, variant, pre, 224);
        check_preprocess(&img, file, variant, pre, 64);
        ae_image_free(&img);
        CHECK(img.rgb == NULL);
    }
    json_decref(root);
}

/* ---- bad input --------------------------------------------------------------------------- */

static uint32_t crc32_(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* A PNG signature and an IHDR chunk (valid CRC) claiming w x h RGB, and nothing else. */
static size_t png_header(uint8_t *b, uint32_t w, uint32_t h)
{
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    be32(b + 16, w);
    be32(b + 20, h);
    b[24] = 8; b[25] = 2; b[26] = 0; b[27] = 0; b[28] = 0;
    be32(b + 29, crc32_(b + 12, 17));
    return 33;
}

static int load_code(const char *path, const ae_image_params *ip)
{
    ae_image img;
    int rc = ae_image_load(path, ip, &img);
    if (rc == AE_OK) ae_image_free(&img);
    else CHECK(img.rgb == NULL && img.width == 0);
    return rc;
}

static void expect_fail(const char *path, const ae_image_params *ip, int code, const char *msg)
{
    int rc = load_code(path, ip);
    CHECK_MSG(rc == code, "%s: rc %d (%s), expected %d", path, rc, ae_last_error(), code);
    CHECK_STR_CONTAINS(ae_last_error(), msg);
    const char *base = strrchr(path, '/');
    CHECK_STR_CONTAINS(ae_last_error(), base ? base + 1 : path);
}

/* The first half (or `keep` bytes) of a fixture, written to the temp folder. */
static const char *truncated(const char *file, size_t keep_num, size_t keep_den)
{
    char rel[512];
    snprintf(rel, sizeof rel, "images/%s", file);
    size_t n = 0;
    uint8_t *d = read_file(fixture(rel), &n);
    CHECK(d != NULL);
    char name[600];
    snprintf(name, sizeof name, "cut_%s", file);
    const char *p = write_tmp(name, d, d ? n * keep_num / keep_den : 0);
    free(d);
    return p;
}

static void test_bad_input(void)
{
    ae_image_params ip = ae_image_default_params();
    CHECK_EQ_INT(ip.exif_rotate, 1);
    CHECK(ip.max_pixels == 100000000);

    expect_fail(write_tmp("empty.jpg", "", 0), &ip, AE_ERR_FORMAT, "empty file");
    uint8_t junk[1000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) { x = x * 1103515245u + 12345u; junk[i] = x >> 24; }
    expect_fail(write_tmp("junk.png", junk, sizeof junk), &ip, AE_ERR_UNSUPPORTED,
                "unknown image format");
    expect_fail("/nonexistent/dir/photo.jpg", &ip, AE_ERR_IO, "cannot open");
    expect_fail(test_tmpdir(), &ip, AE_ERR_IO, "read error"); /* a folder */
    /* a FIFO nobody writes to reads as empty at once; alarm() turns a hang into a failure */
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/nowriter.jpg", test_tmpdir());
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(20);
    expect_fail(fifo, &ip, AE_ERR_FORMAT, "nowriter.jpg: empty file");
    alarm(0);
    ae_image img;
    CHECK_EQ_INT(ae_image_decode(junk, 0, NULL, &ip, &img), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "image: empty file");

    expect_fail(truncated("photo_rocket.jpg", 1, 2), &ip, AE_ERR_FORMAT, "truncated JPEG data");
    expect_fail(truncated("photo_rocket_progressive.jpg", 1, 2), &ip, AE_ERR_FORMAT,
                "truncated JPEG data");
    expect_fail(truncated("photo_rocket.jpg", 1, 100), &ip, AE_ERR_FORMAT, "truncated JPEG data");
    expect_fail(truncated("photo_astronaut.png", 1, 2), &ip, AE_ERR_FORMAT, "truncated PNG data");
    expect_fail(truncated("photo_garden_lossy.webp", 1, 2), &ip, AE_ERR_FORMAT,
                "truncated WebP data");
    expect_fail(truncated("photo_coffee.gif", 1, 2), &ip, AE_ERR_FORMAT, "truncated GIF data");
    expect_fail(truncated("photo_astronaut.bmp", 1, 2), &ip, AE_ERR_FORMAT, "truncated BMP data");

    /* A progressive JPEG whose smallest scan is repeated 1200 times: refused as a CPU bomb */
    size_t jn = 0;
    uint8_t *jp = read_file(fixture("images/photo_rocket_progressive.jpg"), &jn);
    CHECK(jp && jn > 4);
    size_t best = 0, best_len = SIZE_MAX, eoi = 0;
    for (size_t i = 2; jp && i + 2 <= jn;) {
        if (jp[i] != 0xFF) break;
        uint8_t mk = jp[i + 1];
        if (mk == 0xD9) { eoi = i; break; }
        if (i + 4 > jn) break;
        size_t len = (size_t)jp[i + 2] << 8 | jp[i + 3], end = i + 2 + len;
        if (mk == 0xDA) { /* entropy-coded data runs to the next non-RST marker */
            while (end + 1 < jn && !(jp[end] == 0xFF && jp[end + 1] != 0 &&
                                     (jp[end + 1] < 0xD0 || jp[end + 1] > 0xD7)))
                end++;
            if (end - i < best_len) { best = i; best_len = end - i; }
        }
        i = end;
    }
    CHECK(eoi > 0 && best_len < 100000);
    if (eoi > 0 && best_len < 100000) {
        size_t bn2 = eoi + 1200 * best_len + 2;
        uint8_t *bomb = malloc(bn2), *q = bomb;
        memcpy(q, jp, eoi), q += eoi;
        for (int k = 0; k < 1200; k++) memcpy(q, jp + best, best_len), q += best_len;
        q[0] = 0xFF, q[1] = 0xD9;
        expect_fail(write_tmp("scans.jpg", bomb, bn2), &ip, AE_ERR_TOO_LARGE, "more than 1000 scans");
        free(bomb);
    }
    free(jp);

    /* A header that claims 30000 x 30000: refused before any pixel buffer exists. */
    uint8_t png[64];
    size_t n = png_header(png, 30000, 30000);
    expect_fail(write_tmp("big.png", png, n), &ip, AE_ERR_TOO_LARGE,
                "30000 x 30000 = 900000000 pixels exceeds the limit of 100000000");
    n = png_header(png, 0, 10);
    expect_fail(write_tmp("zero.png", png, n), &ip, AE_ERR_FORMAT, "invalid image size 0 x 10");
    n = png_header(png, 100, 100); /* valid header, no image data */
    expect_fail(write_tmp("nodata.png", png, n), &ip, AE_ERR_FORMAT, "truncated PNG data");

    /* A small limit trips every format from its header. */
    ae_image_params small = ip;
    small.max_pixels = 1000;
    const char *files[] = {"photo_rocket.jpg", "photo_astronaut.png", "photo_garden_lossy.webp",
                           "photo_coffee.gif", "photo_astronaut.bmp"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s", files[i]);
        expect_fail(fixture(rel), &small, AE_ERR_TOO_LARGE, "exceeds the limit of 1000");
    }

    /* BMP headers that lie. */
    size_t bn = 0;
    uint8_t *bmp = read_file(fixture("images/photo_astronaut.bmp"), &bn);
    CHECK(bmp && bn > 54);
    if (bmp && bn > 54) {
        uint8_t *b = malloc(bn);
        struct { size_t off; uint32_t val; int w; int code; const char *msg; } cases[] = {
            {22, 100000, 4, AE_ERR_FORMAT, "truncated BMP data"},      /* height */
            {18, 0x7fffffff, 4, AE_ERR_TOO_LARGE, "exceeds the limit"}, /* width */
            {18, 0, 4, AE_ERR_FORMAT, "invalid image size"},
            {18, 0xfffffff0, 4, AE_ERR_FORMAT, "negative BMP width"},
            {10, (uint32_t)bn + 10, 4, AE_ERR_FORMAT, "truncated BMP data"}, /* data offset */
            {10, 3, 4, AE_ERR_FORMAT, "truncated BMP data"},
            {14, 99, 4, AE_ERR_UNSUPPORTED, "unsupported BMP header size 99"},
            {14, 0x10000028, 4, AE_ERR_UNSUPPORTED, "unsupported BMP header size"},
            {26, 2, 2, AE_ERR_FORMAT, "BMP planes 2"},
            {28, 7, 2, AE_ERR_FORMAT, "invalid BMP bit depth 7"},
            {30, 1, 4, AE_ERR_UNSUPPORTED, "RLE-compressed BMP"},
            {30, 3, 4, AE_ERR_FORMAT, "bit fields with 24 bits"},
            {30, 77, 4, AE_ERR_UNSUPPORTED, "BMP compression 77"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            memcpy(b, bmp, bn);
            for (int k = 0; k < cases[i].w; k++) b[cases[i].off + k] = cases[i].val >> (8 * k);
            char name[64];
            snprintf(name, sizeof name, "lying%zu.bmp", i);
            expect_fail(write_tmp(name, b, bn), &ip, cases[i].code, cases[i].msg);
        }
        /* 8-bit palette image claiming 1000 colours, and one with a cut palette */
        memcpy(b, bmp, bn);
        b[28] = 8;
        b[46] = 1000 & 255; b[47] = 1000 >> 8;
        expect_fail(write_tmp("pal1000.bmp", b, bn), &ip, AE_ERR_FORMAT, "palette of 1000");
        b[46] = b[47] = 0; /* 256 colours */
        expect_fail(write_tmp("pal_cut.bmp", b, 300), &ip, AE_ERR_FORMAT, "truncated BMP");
        expect_fail(write_tmp("hdr_cut.bmp", b, 20), &ip, AE_ERR_FORMAT, "truncated BMP header");
        free(b);
    }
    free(bmp);

    /* GIF: a logical screen and a trailer, no image. */
    const uint8_t gif0[] = {'G', 'I', 'F', '8', '9', 'a', 10, 0, 10, 0, 0, 0, 0, 0x3B};
    expect_fail(write_tmp("noframe.gif", gif0, sizeof gif0), &ip, AE_ERR_FORMAT,
                "GIF file has no image");
    const uint8_t gif1[] = {'G', 'I', 'F', '8', '9', 'a', 10, 0, 10, 0, 0, 0, 0};
    expect_fail(write_tmp("cut.gif", gif1, sizeof gif1), &ip, AE_ERR_FORMAT, "GIF");
    /* A lone WebP RIFF header, a JPEG SOI with garbage, an ftyp box that is not HEIF */
    expect_fail(write_tmp("riff.webp", "RIFF\x04\0\0\0WEBP", 12), &ip, AE_ERR_FORMAT, "WebP");
    expect_fail(write_tmp("soi.jpg", "\xff\xd8\xff\x01garbagegarbage", 18), &ip, AE_ERR_FORMAT,
                "JPEG");
    expect_fail(write_tmp("x.heic", "\0\0\0\x10" "ftypxxxx\0\0\0\0", 16), &ip, AE_ERR_UNSUPPORTED,
                "HEIF");
}

/* ---- EXIF orientation -------------------------------------------------------------------- */

/* TIFF block with IFD0 = {Orientation = v}. */
static size_t tiff_orient(uint8_t *b, int v, int le, int prefix)
{
    size_t o = 0;
    if (prefix) { memcpy(b, "Exif\0\0", 6); o = 6; }
    uint8_t *t = b + o;
    memset(t, 0, 38);
#define W16(p, x) (le ? ((p)[0] = (x) & 255, (p)[1] = (x) >> 8) : ((p)[0] = (x) >> 8, (p)[1] = (x) & 255))
    memcpy(t, le ? "II*\0" : "MM\0*", 4);
    t[le ? 4 : 7] = 8;             /* IFD0 at 8 */
    W16(t + 8, 2);                 /* 2 entries */
    W16(t + 10, 0x010F);           /* Make (ASCII, ignored) */
    W16(t + 12, 2);
    W16(t + 22, 0x0112);
    W16(t + 24, 3);
    t[le ? 26 : 29] = 1;           /* count 1 */
    W16(t + 30, v);
#undef W16
    return o + 34 + 4;
}

static void test_orientation(void)
{
    uint8_t b[64];
    for (int v = 1; v <= 8; v++) {
        CHECK_EQ_INT(img_exif_orientation(b, tiff_orient(b, v, 1, 1)), v);
        CHECK_EQ_INT(img_exif_orientation(b, tiff_orient(b, v, 0, 0)), v);
    }
    CHECK_EQ_INT(img_exif_orientation(b, tiff_orient(b, 9, 1, 0)), 1);
    size_t n = tiff_orient(b, 6, 1, 0);
    CHECK_EQ_INT(img_exif_orientation(b, 20), 1); /* cut inside the entries */
    CHECK_EQ_INT(img_exif_orientation(NULL, 0), 1);
    b[4] = 0xff; /* IFD offset past the end */
    CHECK_EQ_INT(img_exif_orientation(b, n), 1);

    /* 3 x 2 image whose pixel (x, y) is 10*y + x; expected layouts written out by hand from
     * Pillow's ImageOps.exif_transpose operations. */
    static const struct { int w, h; uint8_t v[6]; } want[9] = {
        {0, 0, {0}},
        {3, 2, {0, 1, 2, 10, 11, 12}},       /* 1: as is */
        {3, 2, {2, 1, 0, 12, 11, 10}},       /* 2: mirror */
        {3, 2, {12, 11, 10, 2, 1, 0}},       /* 3: rotate 180 */
        {3, 2, {10, 11, 12, 0, 1, 2}},       /* 4: flip */
        {2, 3, {0, 10, 1, 11, 2, 12}},       /* 5: transpose */
        {2, 3, {10, 0, 11, 1, 12, 2}},       /* 6: rotate 90 clockwise */
        {2, 3, {12, 2, 11, 1, 10, 0}},       /* 7: transverse */
        {2, 3, {2, 12, 1, 11, 0, 10}},       /* 8: rotate 90 counter-clockwise */
    };
    for (int o = 1; o <= 8; o++) {
        ae_image img = {3, 2, malloc(18)};
        for (int i = 0; i < 6; i++) img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] =
            (uint8_t)((i / 3) * 10 + i % 3);
        CHECK_EQ_INT(img_orient(&img, o, "t"), AE_OK);
        CHECK_MSG(img.width == want[o].w && img.height == want[o].h, "orientation %d: %dx%d", o,
                  img.width, img.height);
        int ok = 1;
        for (int i = 0; i < 6; i++)
            ok &= img.rgb[3 * i] == want[o].v[i] && img.rgb[3 * i + 2] == want[o].v[i];
        CHECK_MSG(ok, "orientation %d: wrong pixel order", o);
        ae_image_free(&img);
    }

    /* A real JPEG with an EXIF APP1 (orientation 8) written by libjpeg: decoded as stored
     * with exif_rotate 0, rotated with 1. Lossless check on the shape plus a gray level. */
    struct jpeg_compress_struct cj;
    struct jpeg_error_mgr jerr;
    cj.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cj);
    unsigned char *mem = NULL;
    unsigned long memn = 0;
    jpeg_mem_dest(&cj, &mem, &memn);
    cj.image_width = 32;
    cj.image_height = 16;
    cj.input_components = 3;
    cj.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cj);
    jpeg_set_quality(&cj, 95, TRUE);
    jpeg_start_compress(&cj, TRUE);
    size_t en = tiff_orient(b, 8, 0, 1);
    jpeg_write_marker(&cj, JPEG_APP0 + 1, b, (unsigned)en);
    uint8_t row[32 * 3];
    while (cj.next_scanline < 16) {
        for (int xx = 0; xx < 32; xx++) /* left half black, right half white */
            row[3 * xx] = row[3 * xx + 1] = row[3 * xx + 2] = xx < 16 ? 0 : 255;
        JSAMPROW rp = row;
        jpeg_write_scanlines(&cj, &rp, 1);
    }
    jpeg_finish_compress(&cj);
    jpeg_destroy_compress(&cj);
    ae_image_params ip = ae_image_default_params();
    ae_image img;
    ip.exif_rotate = 0;
    CHECK_EQ_INT(ae_image_decode(mem, memn, "o8.jpg", &ip, &img), AE_OK);
    CHECK(img.width == 32 && img.height == 16);
    ae_image_free(&img);
    ip.exif_rotate = 1;
    CHECK_EQ_INT(ae_image_decode(mem, memn, "o8.jpg", &ip, &img), AE_OK);
    CHECK(img.width == 16 && img.height == 32);
    /* rotate 90 counter-clockwise: the white right half ends up on top */
    if (img.rgb && img.width == 16) {
        CHECK(img.rgb[(2 * 16 + 8) * 3] > 200);
        CHECK(img.rgb[(29 * 16 + 8) * 3] < 50);
    }
    ae_image_free(&img);
    free(mem);
}

/* ---- format details on synthetic files ---------------------------------------------------- */

typedef struct membuf { uint8_t *p; size_t n, cap; } membuf;

static void mb_put(membuf *m, const void *d, size_t n)
{
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 256;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, d, n);
    m->n += n;
}

static void png_wr(png_structp png, png_bytep d, size_t n) { mb_put(png_get_io_ptr(png), d, n); }
static void png_fl(png_structp png) { (void)png; }

static const uint8_t *png_exif; /* eXIf chunk for png_make, or NULL */
static size_t png_exif_len;

/* Encodes rows (already packed for bit depth/colour type) with libpng into m. */
static void png_make(membuf *m, int w, int h, int ctype, int depth, int interlace,
                     const uint8_t *data, size_t stride, const png_color *pal, int npal)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) { fprintf(stderr, "png_make failed\n"); exit(2); }
    png_set_write_fn(png, m, png_wr, png_fl);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (png_exif) png_set_eXIf_1(png, info, (png_uint_32)png_exif_len, (png_bytep)png_exif);
    png_write_info(png, info);
    const int passes = png_set_interlace_handling(png);
    for (int y = 0; y < passes; y++) /* png_write_row wants every row once per pass */
        for (int r = 0; r < h; r++) png_write_row(png, data + (size_t)r * stride);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
}

static int decode_mem(membuf *m, ae_image *img)
{
    ae_image_params ip = ae_image_default_params();
    return ae_image_decode(m->p, m->n, "synthetic", &ip, img);
}

/* Every pixel gray v[i] (replicated)? */
static int is_gray(const ae_image *img, const uint8_t *v, int n)
{
    if (!img->rgb || img->width * img->height != n) return 0;
    for (int i = 0; i < n; i++)
        if (img->rgb[3 * i] != v[i] || img->rgb[3 * i + 1] != v[i] || img->rgb[3 * i + 2] != v[i])
            return 0;
    return 1;
}

static void test_png_details(void)
{
    ae_image img;
    membuf m = {0};
    /* 16-bit gray: Pillow opens it as mode I and convert("RGB") clamps to 0..255 */
    const uint16_t g16[5] = {0, 100, 255, 256, 65535};
    uint8_t row16[10];
    for (int i = 0; i < 5; i++) { row16[2 * i] = g16[i] >> 8; row16[2 * i + 1] = g16[i] & 255; }
    png_make(&m, 5, 1, PNG_COLOR_TYPE_GRAY, 16, 0, row16, 10, NULL, 0);
    CHECK_EQ_INT(decode_mem(&m, &img), AE_OK);
    CHECK(is_gray(&img, (const uint8_t[]){0, 100, 255, 255, 255}, 5));
    ae_image_free(&img);

    /* 1, 2 and 4-bit gray are scaled to 0..255 */
    const struct { int depth; uint8_t packed; uint8_t want[8]; int n; } low[] = {
        {1, 0xA5, {255, 0, 255, 0, 0, 255, 0, 255}, 8},
        {2, 0x1B, {0, 85, 170, 255}, 4},
        {4, 0x3C, {0x33, 0xCC}, 2},
    };
    for (size_t i = 0; i < 3; i++) {
        m.n = 0;
        png_make(&m, low[i].n, 1, PNG_COLOR_TYPE_GRAY, low[i].depth, 0, &low[i].packed, 1, NULL, 0);
        CHECK_EQ_INT(decode_mem(&m, &img), AE_OK);
        CHECK_MSG(is_gray(&img, low[i].want, low[i].n), "gray %d-bit", low[i].depth);
        ae_image_free(&img);
    }

    /* 4-bit palette with 3 entries: indices past the palette give the gray ramp */
    const png_color pal[3] = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}};
    const uint8_t prow[2] = {0x12, 0x9F}; /* indices 1, 2, 9, 15 */
    m.n = 0;
    png_make(&m, 4, 1, PNG_COLOR_TYPE_PALETTE, 4, 0, prow, 2, pal, 3);
    CHECK_EQ_INT(decode_mem(&m, &img), AE_OK);
    const uint8_t pwant[12] = {40, 50, 60, 70, 80, 90, 9, 9, 9, 15, 15, 15};
    CHECK(img.rgb && img.width == 4 && memcmp(img.rgb, pwant, 12) == 0);
    ae_image_free(&img);

    /* 16-bit RGBA keeps the high byte and drops alpha; interlaced = non-interlaced */
    enum { W = 13, H = 11 };
    uint8_t rgba16[H][W * 8], rgb[H][W * 3];
    uint32_t x = 99;
    for (int y = 0; y < H; y++)
        for (int i = 0; i < W * 8; i++) { x = x * 69069u + 1; rgba16[y][i] = x >> 24; }
    for (int y = 0; y < H; y++)
        for (int i = 0; i < W; i++)
            for (int c = 0; c < 3; c++) rgb[y][3 * i + c] = rgba16[y][8 * i + 2 * c];
    for (int il = 0; il <= 1; il++) {
        m.n = 0;
        png_make(&m, W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, il, &rgba16[0][0], W * 8, NULL, 0);
        CHECK_EQ_INT(decode_mem(&m, &img), AE_OK);
        CHECK_MSG(img.rgb && img.width == W && memcmp(img.rgb, rgb, sizeof rgb) == 0,
                  "RGBA16 interlace %d", il);
        ae_image_free(&img);
        m.n = 0;
        png_make(&m, W, H, PNG_COLOR_TYPE_RGB, 8, il, &rgb[0][0], W * 3, NULL, 0);
        CHECK_EQ_INT(decode_mem(&m, &img), AE_OK);
        CHECK_MSG(img.rgb && img.width == W && memcmp(img.rgb, rgb, sizeof rgb) == 0,
                  "RGB8 interlace %d", il);
        ae_image_free(&img);
    }
    free(m.p);
}

static int gif_wr(GifFileType *g, const GifByteType *d, int n)
{
    mb_put(g->UserData, d, (size_t)n);
    return n;
}

static void test_gif_details(void)
{
    /* Screen 4 x 3 with a 4-colour global palette; a GCE with transparent index 2; a 2 x 1
     * frame at (1, 1) with pixels {1, 3}, and one more frame that must be ignored. Pixels
     * outside the frame are the transparent index, whose colour is used (no alpha). */
    membuf m = {0};
    int err = 0;
    GifFileType *g = EGifOpen(&m, gif_wr, &err);
    CHECK(g != NULL);
    if (!g) return;
    GifColorType cols[4] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}};
    ColorMapObject *cm = GifMakeMapObject(4, cols);
    EGifSetGifVersion(g, true);
    EGifPutScreenDesc(g, 4, 3, 2, 0, cm);
    const GifByteType gce[4] = {1, 0, 0, 2};
    EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, gce);
    EGifPutImageDesc(g, 1, 1, 2, 1, false, NULL);
    GifPixelType line[4] = {1, 3};
    EGifPutLine(g, line, 2);
    EGifPutImageDesc(g, 0, 0, 4, 3, false, NULL);
    GifPixelType full[4] = {0, 0, 0, 0};
    for (int y = 0; y < 3; y++) EGifPutLine(g, full, 4);
    EGifCloseFile(g, &err);
    GifFreeMapObject(cm);

    ae_image img;
    CHECK_EQ_INT(decode_mem(&m, &img), AE_OK);
    CHECK(img.width == 4 && img.height == 3);
    const uint8_t idx[12] = {2, 2, 2, 2, 2, 1, 3, 2, 2, 2, 2, 2};
    int ok = img.rgb != NULL;
    for (int i = 0; ok && i < 12; i++)
        ok &= memcmp(img.rgb + 3 * i, &cols[idx[i]], 3) == 0;
    CHECK_MSG(ok, "GIF first frame layout");
    ae_image_free(&img);

    /* cut inside the LZW data of the first frame */
    ae_image_params ip = ae_image_default_params();
    size_t cut = m.n - 30;
    CHECK_EQ_INT(ae_image_decode(m.p, cut, "cut.gif", &ip, &img), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "cut.gif: truncated GIF data");
    free(m.p);
}

/* BMP writer: header for w x h, `bits`, optional palette and masks, rows given top-down. */
static size_t bmp_make(uint8_t *b, int w, int h, int bits, int topdown, uint32_t comp,
                       const uint32_t *masks, const uint8_t *pal, int npal, const uint8_t *rows)
{
    const size_t stride = (((size_t)w * bits + 31) / 32) * 4;
    const size_t hdr = 14 + 40 + (masks ? 12 : 0) + (size_t)npal * 4;
    memset(b, 0, hdr);
    b[0] = 'B'; b[1] = 'M';
#define P32(o, v) (b[o] = (uint8_t)(v), b[o + 1] = (uint8_t)((v) >> 8), b[o + 2] = (uint8_t)((v) >> 16), b[o + 3] = (uint8_t)((uint32_t)(v) >> 24))
    P32(2, hdr + stride * h);
    P32(10, hdr);
    P32(14, 40);
    P32(18, w);
    P32(22, topdown ? -h : h);
    b[26] = 1;
    b[28] = (uint8_t)bits;
    P32(30, comp);
    P32(46, npal);
    if (masks) { P32(54, masks[0]); P32(58, masks[1]); P32(62, masks[2]); }
    if (npal) memcpy(b + 14 + 40 + (masks ? 12 : 0), pal, (size_t)npal * 4);
#undef P32
    for (int y = 0; y < h; y++)
        memcpy(b + hdr + stride * (size_t)(topdown ? y : h - 1 - y), rows + stride * y, stride);
    return hdr + stride * h;
}

static void test_bmp_details(void)
{
    uint8_t b[512];
    ae_image img;
    ae_image_params ip = ae_image_default_params();
    /* palette entries are B, G, R, 0 */
    const uint8_t pal[8] = {30, 20, 10, 0, 60, 50, 40, 0};
    /* 1-bit 3 x 2: rows 101 / 010 */
    const uint8_t r1[8] = {0xA0, 0, 0, 0, 0x40, 0, 0, 0};
    const uint8_t c0[3] = {10, 20, 30}, c1[3] = {40, 50, 60};
    for (int td = 0; td <= 1; td++) {
        size_t n = bmp_make(b, 3, 2, 1, td, 0, NULL, pal, 2, r1);
        CHECK_EQ_INT(ae_image_decode(b, n, "p1.bmp", &ip, &img), AE_OK);
        int ok = img.rgb && img.width == 3 && img.height == 2;
        const uint8_t bits[6] = {1, 0, 1, 0, 1, 0};
        for (int i = 0; ok && i < 6; i++) ok &= memcmp(img.rgb + 3 * i, bits[i] ? c1 : c0, 3) == 0;
        CHECK_MSG(ok, "1-bit BMP, top-down %d", td);
        ae_image_free(&img);
    }
    /* 4-bit and 8-bit: index 7 / 200 is past the 2-entry palette -> gray ramp */
    const uint8_t r4[4] = {0x17, 0, 0, 0}, r8[4] = {1, 200, 0, 0};
    size_t n = bmp_make(b, 2, 1, 4, 0, 0, NULL, pal, 2, r4);
    CHECK_EQ_INT(ae_image_decode(b, n, "p4.bmp", &ip, &img), AE_OK);
    CHECK(img.rgb && memcmp(img.rgb, c1, 3) == 0 && is_gray(&(ae_image){1, 1, img.rgb + 3},
                                                            (const uint8_t[]){7}, 1));
    ae_image_free(&img);
    n = bmp_make(b, 2, 1, 8, 0, 0, NULL, pal, 2, r8);
    CHECK_EQ_INT(ae_image_decode(b, n, "p8.bmp", &ip, &img), AE_OK);
    CHECK(img.rgb && memcmp(img.rgb, c1, 3) == 0 && img.rgb[3] == 200 && img.rgb[5] == 200);
    ae_image_free(&img);
    /* 32-bit BGRX and 16-bit 5-6-5 bit fields */
    const uint8_t r32[8] = {3, 2, 1, 99, 6, 5, 4, 0};
    n = bmp_make(b, 2, 1, 32, 0, 0, NULL, NULL, 0, r32);
    CHECK_EQ_INT(ae_image_decode(b, n, "x.bmp", &ip, &img), AE_OK);
    CHECK(img.rgb && memcmp(img.rgb, (const uint8_t[]){1, 2, 3, 4, 5, 6}, 6) == 0);
    ae_image_free(&img);
    const uint32_t m565[3] = {0xF800, 0x07E0, 0x001F};
    const uint8_t r16[4] = {0xFF, 0xFF, 0x1F, 0x00}; /* white; pure blue */
    n = bmp_make(b, 2, 1, 16, 0, 3, m565, NULL, 0, r16);
    CHECK_EQ_INT(ae_image_decode(b, n, "565.bmp", &ip, &img), AE_OK);
    CHECK(img.rgb && memcmp(img.rgb, (const uint8_t[]){255, 255, 255, 0, 0, 255}, 6) == 0);
    ae_image_free(&img);
}

/* x265 (libheif's HEVC encoder, used only by this test to make a HEIC file) leaks one
 * allocation at exit; not ours, so LeakSanitizer is told to ignore it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }

static struct heif_error heif_wr(struct heif_context *ctx, const void *d, size_t n, void *user)
{
    (void)ctx;
    mb_put(user, d, n);
    struct heif_error ok = {heif_error_Ok, heif_suberror_Unspecified, "ok"};
    return ok;
}

/* HEIC and AVIF: encoded here with libheif (when an encoder plugin is installed), decoded
 * through ae_image_decode. Lossy, so colours are checked roughly: left half red, right blue. */
static void test_heif(void)
{
    const enum heif_compression_format fmts[2] = {heif_compression_HEVC, heif_compression_AV1};
    const char *names[2] = {"synthetic.heic", "synthetic.avif"};
    for (int f = 0; f < 2; f++) {
        if (!heif_have_encoder_for_format(fmts[f]) || !heif_have_decoder_for_format(fmts[f])) {
            printf("  %s: no libheif encoder/decoder plugin, skipped\n", names[f]);
            continue;
        }
        const int w = 64, h = 48;
        struct heif_context *ctx = heif_context_alloc();
        struct heif_encoder *enc = NULL;
        struct heif_image *im = NULL;
        heif_context_get_encoder_for_format(ctx, fmts[f], &enc);
        heif_encoder_set_lossy_quality(enc, 90);
        heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &im);
        heif_image_add_plane(im, heif_channel_interleaved, w, h, 8);
        int stride = 0;
        uint8_t *px = heif_image_get_plane(im, heif_channel_interleaved, &stride);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *q = px + (size_t)y * stride + 3 * x;
                q[0] = x < w / 2 ? 220 : 20;
                q[1] = 30;
                q[2] = x < w / 2 ? 20 : 220;
            }
        struct heif_error e = heif_context_encode_image(ctx, im, enc, NULL, NULL);
        CHECK_MSG(e.code == heif_error_Ok, "%s: encode: %s", names[f], e.message);
        membuf m = {0};
        struct heif_writer wr = {1, heif_wr};
        heif_context_write(ctx, &wr, &m);
        heif_encoder_release(enc);
        heif_image_release(im);
        heif_context_free(ctx);

        ae_image img;
        ae_image_params ip = ae_image_default_params();
        int rc = ae_image_decode(m.p, m.n, names[f], &ip, &img);
        CHECK_MSG(rc == AE_OK, "%s: %s", names[f], ae_last_error());
        if (rc == AE_OK) {
            CHECK(img.width == w && img.height == h);
            const uint8_t *l = img.rgb + ((size_t)(h / 2) * w + 8) * 3;
            const uint8_t *r = img.rgb + ((size_t)(h / 2) * w + w - 8) * 3;
            CHECK_MSG(l[0] > 180 && l[2] < 60 && r[0] < 60 && r[2] > 180,
                      "%s: colours %d,%d,%d / %d,%d,%d", names[f], l[0], l[1], l[2], r[0], r[1], r[2]);
            ae_image_free(&img);
        }
        ip.max_pixels = 100;
        CHECK_EQ_INT(ae_image_decode(m.p, m.n, names[f], &ip, &img), AE_ERR_TOO_LARGE);
        CHECK_STR_CONTAINS(ae_last_error(), "64 x 48 = 3072 pixels exceeds the limit of 100");
        ip.max_pixels = 1000000;
        rc = ae_image_decode(m.p, m.n * 3 / 4, names[f], &ip, &img);
        CHECK_MSG(rc == AE_ERR_FORMAT, "%s cut: rc %d: %s", names[f], rc, ae_last_error());
        CHECK_STR_CONTAINS(ae_last_error(), "HEIF");
        free(m.p);
    }
}

/* EXIF orientation 6 in a PNG eXIf chunk and in a WebP EXIF chunk (extended format, VP8X
 * header written here around a lossless VP8L bitstream from libwebp). */
static void test_exif_containers(void)
{
    uint8_t tiff[64];
    size_t tn = tiff_orient(tiff, 6, 0, 0);
    uint8_t rgb[2][9];
    for (int i = 0; i < 18; i++) rgb[i / 9][i % 9] = (uint8_t)(i * 10);
    ae_image img;
    ae_image_params ip = ae_image_default_params();

    membuf m = {0};
    png_exif = tiff;
    png_exif_len = tn;
    png_make(&m, 3, 2, PNG_COLOR_TYPE_RGB, 8, 0, &rgb[0][0], 9, NULL, 0);
    png_exif = NULL;
    CHECK_EQ_INT(ae_image_decode(m.p, m.n, "exif.png", &ip, &img), AE_OK);
    CHECK(img.width == 2 && img.height == 3);
    /* rotate 90 clockwise: top row = first column bottom to top = pixel (0,1), pixel (0,0) */
    CHECK(img.rgb && img.rgb[0] == 90 && img.rgb[3] == 0);
    ae_image_free(&img);
    ip.exif_rotate = 0;
    CHECK_EQ_INT(ae_image_decode(m.p, m.n, "exif.png", &ip, &img), AE_OK);
    CHECK(img.width == 3 && img.height == 2 && img.rgb && memcmp(img.rgb, rgb, 18) == 0);
    ae_image_free(&img);
    free(m.p);

    uint8_t *simple = NULL;
    size_t sn = WebPEncodeLosslessRGB(&rgb[0][0], 3, 2, 9, &simple);
    CHECK(sn > 20 && simple && memcmp(simple + 12, "VP8L", 4) == 0);
    if (sn > 20 && simple) {
        const size_t vp8l = sn - 12; /* the VP8L chunk: header + payload (+ pad) */
        const size_t en = tn + (tn & 1);
        const size_t total = 12 + 18 + vp8l + 8 + en;
        uint8_t *w = calloc(total, 1);
        memcpy(w, "RIFF", 4);
        uint32_t riff = (uint32_t)(total - 8);
        for (int k = 0; k < 4; k++) w[4 + k] = (uint8_t)(riff >> (8 * k));
        memcpy(w + 8, "WEBPVP8X", 8);
        w[16] = 10;
        w[20] = 0x08;                /* EXIF present */
        w[24] = 3 - 1;               /* canvas width - 1, 24 bits */
        w[27] = 2 - 1;               /* canvas height - 1 */
        memcpy(w + 30, simple + 12, vp8l);
        uint8_t *e = w + 30 + vp8l;
        memcpy(e, "EXIF", 4);
        e[4] = (uint8_t)tn;
        memcpy(e + 8, tiff, tn);
        ip.exif_rotate = 1;
        int rc = ae_image_decode(w, total, "exif.webp", &ip, &img);
        CHECK_MSG(rc == AE_OK, "exif.webp: %s", ae_last_error());
        CHECK(img.width == 2 && img.height == 3);
        CHECK(img.rgb && img.rgb[0] == 90 && img.rgb[3] == 0);
        ae_image_free(&img);
        ip.exif_rotate = 0;
        CHECK_EQ_INT(ae_image_decode(w, total, "exif.webp", &ip, &img), AE_OK);
        CHECK(img.width == 3 && img.height == 2 && img.rgb && memcmp(img.rgb, rgb, 18) == 0);
        ae_image_free(&img);
        free(w);
    }
    WebPFree(simple);
}

/* ---- crop window vs. full resize --------------------------------------------------------- */

/* Pillow's ImagingResample on the whole image, written plainly (double weights, fixed-point),
 * then transformers' centre crop with zero padding. */
static void ref_pass(const uint8_t *in, int iw, int ih, int ow, int horiz, uint8_t *out)
{
    const int isz = horiz ? iw : ih;
    const double scale = (double)isz / ow, fs = scale < 1 ? 1 : scale, sup = 2 * fs;
    const int lines = horiz ? ih : iw;
    for (int o = 0; o < ow; o++) {
        double c = (o + 0.5) * scale, w[4096], ww = 0;
        int xmin = (int)(c - sup + 0.5), xmax = (int)(c + sup + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > isz) xmax = isz;
        for (int j = xmin; j < xmax; j++) {
            double x = fabs((j - c + 0.5) * (1.0 / fs)); /* Pillow's evaluation order */
            w[j - xmin] = x < 1 ? (1.5 * x - 2.5) * x * x + 1
                        : x < 2 ? (((x - 5) * x + 8) * x - 4) * -0.5 : 0;
            ww += w[j - xmin];
        }
        int k[4096];
        for (int j = 0; j < xmax - xmin; j++) {
            double v = w[j] / ww * 4194304.0;
            k[j] = (int)(v < 0 ? v - 0.5 : v + 0.5);
        }
        for (int l = 0; l < lines; l++) {
            for (int ch = 0; ch < 3; ch++) {
                long long s = 1 << 21;
                for (int j = xmin; j < xmax; j++)
                    s += (long long)k[j - xmin] *
                         in[(horiz ? (size_t)l * iw + j : (size_t)j * iw + l) * 3 + ch];
                s >>= 22;
                uint8_t v = s < 0 ? 0 : s > 255 ? 255 : (uint8_t)s;
                out[(horiz ? (size_t)l * ow + o : (size_t)o * iw + l) * 3 + ch] = v;
            }
        }
    }
}

static void test_window(void)
{
    uint32_t seed = 7;
    int cases = 0, failures = 0;
    const int dims[][4] = {/* w, h, S, crop */
        {301, 227, 224, 224}, {3, 500, 32, 32},   {500, 3, 24, 24}, {1, 1, 64, 64},
        {37, 80, 64, 64},     {640, 480, 64, 64}, {100, 75, 224, 224}, {50, 40, 32, 48},
        {40, 50, 32, 33},     {9, 300, 16, 20},   {224, 224, 224, 224}, {224, 100, 224, 224},
        {100, 224, 224, 224}, {333, 64, 64, 64},  {64, 333, 64, 64},   {1000, 7, 48, 48},
    };
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        const int w = dims[di][0], h = dims[di][1], S = dims[di][2], C = dims[di][3];
        ae_image img = {w, h, malloc((size_t)w * h * 3)};
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            seed = seed * 1664525u + 1013904223u;
            img.rgb[i] = (uint8_t)(((i / 3) % 7 * 40) ^ (seed >> 28)); /* edges + noise */
        }
        int rw, rh;
        if (w <= h) { rw = S; rh = (int)((double)S * h / w); }
        else { rh = S; rw = (int)((double)S * w / h); }
        uint8_t *t1 = malloc((size_t)rw * h * 3), *t2 = malloc((size_t)rw * rh * 3);
        if (rw != w) ref_pass(img.rgb, w, h, rw, 1, t1);
        else memcpy(t1, img.rgb, (size_t)w * h * 3);
        if (rh != h) ref_pass(t1, rw, h, rh, 0, t2);
        else memcpy(t2, t1, (size_t)rw * h * 3);
        uint8_t *want = calloc((size_t)C * C * 3, 1), *got = malloc((size_t)C * C * 3);
        int oy = rh >= C ? (rh - C) / 2 : -((C - rh + 1) / 2);
        int ox = rw >= C ? (rw - C) / 2 : -((C - rw + 1) / 2);
        for (int y = 0; y < C; y++)
            for (int x = 0; x < C; x++)
                if (y + oy >= 0 && y + oy < rh && x + ox >= 0 && x + ox < rw)
                    memcpy(want + ((size_t)y * C + x) * 3, t2 + ((size_t)(y + oy) * rw + x + ox) * 3, 3);
        clip_preproc p = openai_preproc(S, C);
        memset(got, 0xAB, (size_t)C * C * 3);
        int rc = img_preprocess(&p, &img, NULL, got);
        cases++;
        if (rc != AE_OK || memcmp(got, want, (size_t)C * C * 3)) {
            failures++;
            fprintf(stderr, "window %dx%d S=%d crop=%d: rc %d, differs\n", w, h, S, C, rc);
        }
        free(t1); free(t2); free(want); free(got);
        ae_image_free(&img);
    }
    printf("  crop window vs full resize: %d cases, %d differ\n", cases, failures);
    CHECK_EQ_INT(failures, 0);

    /* 100000 x 10 would be resized to 2240000 x 224 by transformers: only the crop is made. */
    ae_image wide = {100000, 10, malloc(100000 * 10 * 3)};
    memset(wide.rgb, 200, 100000 * 10 * 3);
    clip_preproc p = openai_preproc(224, 224);
    uint8_t *crop = malloc(224 * 224 * 3);
    float *pix = malloc(224 * 224 * 12);
    double t0 = now();
    CHECK_EQ_INT(img_preprocess(&p, &wide, pix, crop), AE_OK);
    double t1 = now();
    int flat = 1;
    for (int i = 0; i < 224 * 224 * 3; i++) flat &= crop[i] == 200;
    CHECK(flat);
    CHECK(t1 - t0 < 1.0);
    CHECK_NEAR(pix[0], ((float)(200.0 / 255.0) - 0.48145466f) / 0.26862954f, 0);
    ae_image_free(&wide);

    /* Zero padding: S=64 on exact_224.png with a 100 x 100 crop = golden 64 x 64 in the
     * middle (offset 18), zeros around. */
    ae_image img;
    ae_image_params ip = ae_image_default_params();
    size_t gn = 0;
    uint8_t *g = read_file(fixture("images/expected/exact_224.png.64.rgb"), &gn);
    if (ae_image_load(fixture("images/exact_224.png"), &ip, &img) == AE_OK && g && gn == 64 * 64 * 3) {
        clip_preproc q = openai_preproc(64, 100);
        uint8_t *c = malloc(100 * 100 * 3);
        float *f = malloc(100 * 100 * 12);
        CHECK_EQ_INT(img_preprocess(&q, &img, f, c), AE_OK);
        int ok = 1;
        for (int y = 0; y < 100; y++)
            for (int x = 0; x < 100; x++)
                for (int k = 0; k < 3; k++) {
                    int in = y >= 18 && y < 82 && x >= 18 && x < 82;
                    uint8_t v = c[(y * 100 + x) * 3 + k];
                    ok &= in ? v == g[((y - 18) * 64 + x - 18) * 3 + k] : v == 0;
                }
        CHECK(ok);
        CHECK_NEAR(f[0], (0.0f - 0.48145466f) / 0.26862954f, 0);
        free(c);
        free(f);
        ae_image_free(&img);
    } else {
        CHECK(0);
    }
    free(g);
    free(crop);
    free(pix);

    /* Bad preprocessing parameters. */
    ae_image one = {1, 1, (uint8_t[]){1, 2, 3}};
    clip_preproc q = openai_preproc(224, 224);
    q.resample = 2;
    CHECK_EQ_INT(img_preprocess(&q, &one, NULL, NULL), AE_ERR_UNSUPPORTED);
    q = openai_preproc(224, 0);
    CHECK_EQ_INT(img_preprocess(&q, &one, NULL, NULL), AE_ERR_INVALID);
    ae_image none = {0, 0, NULL};
    q = openai_preproc(224, 224);
    CHECK_EQ_INT(img_preprocess(&q, &none, NULL, NULL), AE_ERR_INVALID);
}

int main(void)
{
    test_goldens();
    test_bad_input();
    test_orientation();
    test_png_details();
    test_gif_details();
    test_bmp_details();
    test_heif();
    test_exif_containers();
    test_window();
    return test_summary();
}
