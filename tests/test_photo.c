/*
 * test_photo.c — the photo facts of culling (src/photo.c, img_prepare_facts):
 *   - ae_image_quality against a plain double-precision reference written here (luma per
 *     pixel, the box average as real intervals, the measures in two passes) on odd sizes and
 *     every path of the box sums, against values worked out by hand (flat, checkerboard,
 *     white, black, Gaussian noise of known sigma, also after an exact 2x box), under the
 *     eight orientations, and on the fixture photos: a 2x smaller copy measures about the
 *     same, a blurred copy clearly less sharp;
 *   - ae_exif_capture on TIFF blocks assembled here byte by byte (both byte orders), on blocks
 *     exiftool writes into real JPEG, PNG and WebP files (and libheif into a HEIF file),
 *     absurd dates and offsets, random and truncated blocks;
 *   - img_pixel_hash across metadata edits, containers, re-encodes and orientations;
 *   - img_prepare_facts against img_prepare and the separate calls.
 * The external tools (exiftool) are optional: without them those checks are skipped.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>
#include <webp/encode.h>
#include <xxhash.h>

#include "aesthete.h"
#include "config.h"
#include "image.h"
#include "image_formats.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return rng_state;
}

static double uniform(void) { return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0; }

static double gauss(void) { return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()); }

static ae_image new_image(int w, int h)
{
    ae_image im = {w, h, malloc((size_t)w * h * 3 + 1)};
    if (!im.rgb) exit(2);
    return im;
}

/* Random bytes, or a smooth picture (sines) with a little noise: the two ends of what the
 * measures see. */
static ae_image synthetic(int w, int h, int smooth)
{
    ae_image im = new_image(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = im.rgb + ((size_t)y * w + x) * 3;
            if (!smooth) {
                uint64_t r = rnd();
                p[0] = (uint8_t)r, p[1] = (uint8_t)(r >> 8), p[2] = (uint8_t)(r >> 16);
                continue;
            }
            double s = sin(x * 0.013 + y * 0.021) * cos(y * 0.017 - x * 0.004);
            for (int c = 0; c < 3; c++) {
                double v = 128 + 90 * s * (1 - 0.3 * c) + (double)(rnd() % 5) - 2;
                p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
            }
        }
    return im;
}

static void free_image(ae_image *im)
{
    free(im->rgb);
    im->rgb = NULL;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0;
}

static int have_exiftool(void)
{
    static int have = -1;
    if (have < 0) {
        have = run("exiftool -ver >/dev/null 2>&1");
        if (!have) printf("  exiftool not found: the checks on files it writes are skipped\n");
    }
    return have;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    void *d = read_file(from, &n);
    if (!d) { perror(from); exit(2); }
    FILE *f = fopen(to, "wb");
    if (!f || fwrite(d, 1, n, f) != n) { perror(to); exit(2); }
    fclose(f);
    free(d);
}

static clip_preproc preproc(void)
{
    clip_preproc p;
    if (clip_preproc_load(fixture("tokenizer/preprocessor_config.json"), &p) != AE_OK) {
        fprintf(stderr, "%s\n", ae_last_error());
        exit(2);
    }
    return p;
}

/* ---- the reference ------------------------------------------------------------------------ */

typedef struct refq {
    double sharpness, highlights, shadows, noise;
    int w, h;
} refq;

static double ref_luma(const ae_image *im, long x, long y)
{
    const uint8_t *p = im->rgb + ((size_t)y * im->width + x) * 3;
    return (19595.0 * p[0] + 38470.0 * p[1] + 7471.0 * p[2]) / 65536.0;
}

/* The working image by the definition: shortest side brought to 512, the other in proportion
 * (rounded half up); each output pixel the mean over its real rectangle, pixels cut by its edges
 * weighted by the part inside. */
static double *ref_work(const ae_image *im, int *ow, int *oh)
{
    const int W = im->width, H = im->height, s = W < H ? W : H;
    if (s <= AE_QUALITY_SIDE) {
        *ow = W, *oh = H;
    } else {
        double f = (double)s / AE_QUALITY_SIDE;
        *ow = W == s ? AE_QUALITY_SIDE : (int)floor(W / f + 0.5);
        *oh = H == s ? AE_QUALITY_SIDE : (int)floor(H / f + 0.5);
    }
    double *y = malloc((size_t)*ow * *oh * sizeof *y);
    const double fx = (double)W / *ow, fy = (double)H / *oh;
    for (int j = 0; j < *oh; j++) {
        const double y0 = j * fy, y1 = (j + 1) * fy;
        for (int i = 0; i < *ow; i++) {
            const double x0 = i * fx, x1 = (i + 1) * fx;
            double sum = 0;
            for (long yy = (long)floor(y0); yy < (long)ceil(y1) && yy < H; yy++) {
                double wy = fmin(yy + 1, y1) - fmax(yy, y0);
                for (long xx = (long)floor(x0); xx < (long)ceil(x1) && xx < W; xx++)
                    sum += wy * (fmin(xx + 1, x1) - fmax(xx, x0)) * ref_luma(im, xx, yy);
            }
            y[(size_t)j * *ow + i] = sum / (fx * fy);
        }
    }
    return y;
}

static refq ref_quality(const ae_image *im)
{
    refq q = {0};
    double *y = ref_work(im, &q.w, &q.h);
    const int w = q.w, h = q.h;
    long nhi = 0, nlo = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) nhi += y[i] >= 250 - 1e-9, nlo += y[i] <= 5 + 1e-9;
    q.highlights = (double)nhi / ((double)w * h);
    q.shadows = (double)nlo / ((double)w * h);
    if (w >= 3 && h >= 3) {
#define Y(x, r) y[(size_t)(r) * w + (x)]
        double mean = 0, var = 0, ns = 0, n = (double)(w - 2) * (h - 2);
        for (int r = 1; r < h - 1; r++)
            for (int x = 1; x < w - 1; x++)
                mean += Y(x - 1, r) + Y(x + 1, r) + Y(x, r - 1) + Y(x, r + 1) - 4 * Y(x, r);
        mean /= n;
        for (int r = 1; r < h - 1; r++)
            for (int x = 1; x < w - 1; x++) {
                double l = Y(x - 1, r) + Y(x + 1, r) + Y(x, r - 1) + Y(x, r + 1) - 4 * Y(x, r);
                var += (l - mean) * (l - mean);
                static const int m[3][3] = {{1, -2, 1}, {-2, 4, -2}, {1, -2, 1}};
                double c = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) c += m[dy + 1][dx + 1] * Y(x + dx, r + dy);
                ns += fabs(c);
            }
#undef Y
        q.sharpness = var / n;
        q.noise = sqrt(M_PI / 2) / (6 * n) * ns;
    }
    free(y);
    return q;
}

/* ---- quality ------------------------------------------------------------------------------ */

static double max_rel_sharp, max_rel_noise;

/* Tolerances: the fast path's working luma is float (relative error 6e-8, 1.5e-5 levels at
 * 255) and its sums per row float: 1e-4 relative plus 1e-3 absolute on sharpness and noise;
 * highlight and shadow counts identical. */
static void check_against_ref(const ae_image *im, const char *what)
{
    ae_quality q;
    int rc = ae_image_quality(im, &q);
    CHECK_MSG(rc == AE_OK, "%s: %s", what, ae_last_error());
    refq r = ref_quality(im);
    CHECK_MSG(q.width == r.w && q.height == r.h, "%s: working %dx%d, expected %dx%d", what,
              q.width, q.height, r.w, r.h);
    const double npx = (double)r.w * r.h;
    CHECK_MSG(fabs(q.highlights - r.highlights) * npx < 0.5 && fabs(q.shadows - r.shadows) * npx < 0.5,
              "%s: highlights %g / %g, shadows %g / %g", what, q.highlights, r.highlights,
              q.shadows, r.shadows);
    double ds = fabs(q.sharpness - r.sharpness), dn = fabs(q.noise - r.noise);
    CHECK_MSG(ds <= 1e-4 * r.sharpness + 1e-3, "%s: sharpness %.9g, reference %.9g", what,
              q.sharpness, r.sharpness);
    CHECK_MSG(dn <= 1e-4 * r.noise + 1e-3, "%s: noise %.9g, reference %.9g", what, q.noise,
              r.noise);
    if (r.sharpness > 0 && ds / r.sharpness > max_rel_sharp) max_rel_sharp = ds / r.sharpness;
    if (r.noise > 0 && dn / r.noise > max_rel_noise) max_rel_noise = dn / r.noise;
}

static void test_reference(void)
{
    /* every path: no downscale (short side <= 512), boxes of 1-2 rows (vbox2), 3-4 (vbox4),
     * 5-8 (vbox8), over 8 (16-bit sums), a working height over 65535 (32-bit weights);
     * integer and non-integer factors; 1 or 2 pixels a side */
    static const int sizes[][2] = {
        {1, 1},      {2, 7},     {7, 2},     {3, 3},     {4, 3},      {513, 1},   {1, 513},
        {600, 4},    {64, 48},   {512, 512}, {513, 513}, {600, 600},  {1023, 767}, {767, 1023},
        {1100, 513}, {1024, 1024}, {1537, 1025}, {2048, 1536}, {1600, 1203}, {3001, 2000},
        {2700, 3100}, {4700, 4650},
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int smooth = 0; smooth < 2; smooth++) {
            const int w = sizes[k][0], h = sizes[k][1];
            if (smooth && w * (double)h > 4e6) continue; /* one of each for the big ones */
            ae_image im = synthetic(w, h, smooth);
            char what[64];
            snprintf(what, sizeof what, "%dx%d %s", w, h, smooth ? "smooth" : "random");
            check_against_ref(&im, what);
            free_image(&im);
        }
    { /* 520 x 66600: working 512 x 65575, over 16-bit weights */
        ae_image im = synthetic(520, 66600, 0);
        check_against_ref(&im, "520x66600 random");
        free_image(&im);
    }
    printf("  quality vs reference: max relative difference sharpness %.2g, noise %.2g\n",
           max_rel_sharp, max_rel_noise);
}

static void fill(ae_image *im, uint8_t r, uint8_t g, uint8_t b)
{
    for (size_t i = 0; i < (size_t)im->width * im->height; i++)
        im->rgb[3 * i] = r, im->rgb[3 * i + 1] = g, im->rgb[3 * i + 2] = b;
}

static void test_by_hand(void)
{
    ae_quality q;
    /* flat gray, also downscaled: nothing to measure */
    static const int flat[][2] = {{200, 100}, {1500, 1100}, {3, 3}, {2, 2}, {1, 1}};
    for (int k = 0; k < 5; k++) {
        ae_image im = new_image(flat[k][0], flat[k][1]);
        fill(&im, 128, 128, 128);
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        CHECK(q.sharpness == 0 && q.noise == 0 && q.highlights == 0 && q.shadows == 0);
        free_image(&im);
    }
    /* white, black, and the thresholds exactly: 250 and 5 count, 249 and 6 do not (gray
     * levels give Y = level exactly: the weights sum to 65536) */
    ae_image im = new_image(700, 600);
    const uint8_t lv[6] = {255, 0, 250, 5, 249, 6};
    const float hi[6] = {1, 0, 1, 0, 0, 0}, lo[6] = {0, 1, 0, 1, 0, 0};
    for (int k = 0; k < 6; k++) {
        fill(&im, lv[k], lv[k], lv[k]);
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        CHECK_MSG(q.highlights == hi[k] && q.shadows == lo[k], "level %d: %g %g", lv[k],
                  q.highlights, q.shadows);
        CHECK(q.sharpness == 0 && q.noise == 0);
    }
    /* pure colours: Y = 255 x 19595 / 65536 = 76.2 for red, 149.7 green, 29.1 blue */
    fill(&im, 0, 255, 0);
    CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
    CHECK(q.highlights == 0 && q.shadows == 0);
    /* the left half white, the right half black: half of each */
    for (int y = 0; y < 600; y++)
        for (int x = 0; x < 700; x++) memset(im.rgb + ((size_t)y * 700 + x) * 3, x < 350 ? 255 : 0, 3);
    CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
    CHECK_EQ_INT(q.width, 597); /* 700 x 512 / 600 = 597.33 */
    CHECK_NEAR(q.highlights, 0.5, 1.0 / 597);
    CHECK_NEAR(q.shadows, 0.5, 1.0 / 597);
    free_image(&im);

    /* checkerboard 0 / 255, 65 x 49 (no downscale): the Laplacian is +1020 on a black pixel
     * (four white neighbours), -1020 on a white one; the 63 x 47 interior has 1481 of one
     * colour and 1480 of the other, so mean = 1020 / 2961 and variance = 1020^2 - mean^2.
     * Immerkaer's mask sums |1 + 2 + 1 + 2 + 4 + 2 + 1 + 2 + 1| x 127.5 = 2040 on every
     * interior pixel: noise = sqrt(pi / 2) / 6 x 2040. */
    im = new_image(65, 49);
    for (int y = 0; y < 49; y++)
        for (int x = 0; x < 65; x++) memset(im.rgb + ((size_t)y * 65 + x) * 3, (x + y) % 2 ? 0 : 255, 3);
    CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
    const double m = 1020.0 / 2961;
    CHECK_NEAR(q.sharpness, 1020.0 * 1020 - m * m, 1e-6 * 1020 * 1020);
    CHECK_NEAR(q.noise, sqrt(M_PI / 2) / 6 * 2040, 1e-4);
    CHECK_NEAR(q.highlights, (65 * 49 + 1) / 2 / (65.0 * 49), 1e-7);
    free_image(&im);

    /* Gaussian noise of sigma 10 on gray 128 (rounded to integers: sigma^2 + 1/12), at the
     * working size and after an exact 2 x 2 box (sigma / 2): Immerkaer within 10% */
    const double sigma = 10, s_eff = sqrt(sigma * sigma + 1.0 / 12);
    static const int nsz[][2] = {{400, 300}, {1024, 1100}};
    for (int k = 0; k < 2; k++) {
        im = new_image(nsz[k][0], nsz[k][1]);
        for (size_t i = 0; i < (size_t)im.width * im.height; i++) {
            double v = 128 + sigma * gauss();
            memset(im.rgb + 3 * i, (int)floor(v + 0.5), 3);
        }
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        double want = k == 0 ? s_eff : s_eff / 2;
        CHECK_MSG(fabs(q.noise - want) < 0.1 * want, "noise %dx%d: %g, expected %g", im.width,
                  im.height, q.noise, want);
        printf("  Gaussian noise sigma %g at %dx%d (working %dx%d): estimate %.3f, expected %.3f\n",
               sigma, im.width, im.height, q.width, q.height, q.noise, want);
        free_image(&im);
    }

    /* refusals */
    ae_image bad = {0, 5, (uint8_t *)"x"};
    CHECK_EQ_INT(ae_image_quality(&bad, &q), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_image_quality(NULL, &q), AE_ERR_INVALID);
    bad.width = 5;
    CHECK_EQ_INT(ae_image_quality(&bad, NULL), AE_ERR_INVALID);
    bad.rgb = NULL;
    CHECK_EQ_INT(ae_image_quality(&bad, &q), AE_ERR_INVALID);
}

/* The box grid maps onto itself under flips and quarter turns: the working luma is the same
 * (exactly), only the order of the measures' sums changes. */
static void test_orientations(void)
{
    ae_image base = synthetic(1023, 767, 1);
    ae_quality q0, q;
    CHECK_EQ_INT(ae_image_quality(&base, &q0), AE_OK);
    for (int o = 2; o <= 8; o++) {
        ae_image im = new_image(1023, 767);
        memcpy(im.rgb, base.rgb, (size_t)1023 * 767 * 3);
        CHECK_EQ_INT(img_orient(&im, o, "test"), AE_OK);
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        int swap = o >= 5;
        CHECK(q.width == (swap ? q0.height : q0.width) && q.height == (swap ? q0.width : q0.height));
        CHECK_MSG(fabs(q.sharpness - q0.sharpness) <= 1e-5 * q0.sharpness &&
                      fabs(q.noise - q0.noise) <= 1e-5 * q0.noise && q.highlights == q0.highlights &&
                      q.shadows == q0.shadows,
                  "orientation %d: sharpness %.9g / %.9g, noise %.9g / %.9g", o, q.sharpness,
                  q0.sharpness, q.noise, q0.noise);
        free_image(&im);
    }
    free_image(&base);
}

/* exact 2 x 2 box, rounded */
static ae_image half(const ae_image *im)
{
    ae_image h = new_image(im->width / 2, im->height / 2);
    for (int y = 0; y < h.height; y++)
        for (int x = 0; x < h.width; x++)
            for (int c = 0; c < 3; c++) {
                const uint8_t *p = im->rgb + ((size_t)(2 * y) * im->width + 2 * x) * 3 + c;
                const size_t st = (size_t)im->width * 3;
                h.rgb[((size_t)y * h.width + x) * 3 + c] = (uint8_t)((p[0] + p[3] + p[st] + p[st + 3] + 2) / 4);
            }
    return h;
}

/* separable Gaussian, sigma 3, radius 9, edges clamped (what convert -blur 0x3 does) */
static ae_image blur3(const ae_image *im)
{
    enum { R = 9 };
    float k[2 * R + 1];
    double ks = 0;
    for (int i = -R; i <= R; i++) ks += exp(-i * i / 18.0);
    for (int i = -R; i <= R; i++) k[i + R] = (float)(exp(-i * i / 18.0) / ks);
    const int w = im->width, h = im->height;
    const size_t n3 = (size_t)w * 3;
    float *t = malloc(n3 * h * sizeof *t), *pad = malloc((n3 + 6 * R) * sizeof *pad);
    for (int y = 0; y < h; y++) { /* rows, through a row padded with its edge pixels */
        const uint8_t *row = im->rgb + (size_t)y * n3;
        for (size_t j = 0; j < n3 + 6 * R; j++) {
            long x = (long)(j / 3) - R;
            x = x < 0 ? 0 : x >= w ? w - 1 : x;
            pad[j] = row[x * 3 + j % 3];
        }
        for (size_t j = 0; j < n3; j++) {
            float s = 0;
            for (int i = 0; i <= 2 * R; i++) s += k[i] * pad[j + 3 * i];
            t[(size_t)y * n3 + j] = s;
        }
    }
    ae_image b = new_image(w, h);
    float *col = malloc(n3 * sizeof *col);
    for (int y = 0; y < h; y++) { /* columns: whole rows at a time */
        for (size_t j = 0; j < n3; j++) col[j] = 0;
        for (int i = -R; i <= R; i++) {
            int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
            const float *r = t + (size_t)yy * n3;
            for (size_t j = 0; j < n3; j++) col[j] += k[i + R] * r[j];
        }
        for (size_t j = 0; j < n3; j++) b.rgb[(size_t)y * n3 + j] = (uint8_t)(col[j] + 0.5f);
    }
    free(t), free(pad), free(col);
    return b;
}

static const char *const photos[] = {
    "photo_sunset_12mp_progressive.jpg", "photo_portrait.jpg",   "photo_landscape.jpg",
    "photo_ladybird.jpg",  "photo_boats.jpg",      "photo_rocket.jpg",
    "photo_exif_orient6.jpg", "photo_chelsea_gray.jpg", "photo_coffee_cmyk.jpg",
    "photo_astronaut.png", "photo_camera_gray.png", "photo_chelsea_lossless.webp",
    "photo_garden_lossy.webp", "photo_coffee.gif", "photo_astronaut.bmp",
};
#define NPHOTOS (sizeof photos / sizeof photos[0])

static int load(const char *file, ae_image *im)
{
    char rel[256];
    snprintf(rel, sizeof rel, "images/%s", file);
    ae_image_params ip = ae_image_default_params();
    int rc = ae_image_load(fixture(rel), &ip, im);
    CHECK_MSG(rc == AE_OK, "%s: %s", file, ae_last_error());
    return rc == AE_OK;
}

static void test_photos(void)
{
    /* the same photo 2x smaller: both reach the same 768 x 512 working size */
    ae_image im, h;
    ae_quality q, qh;
    if (load(photos[0], &im)) {
        h = half(&im);
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        CHECK_EQ_INT(ae_image_quality(&h, &qh), AE_OK);
        CHECK(q.width == qh.width && q.height == qh.height);
        double r = qh.sharpness / q.sharpness, rn = qh.noise / q.noise;
        CHECK_MSG(r > 0.85 && r < 1.15, "sharpness at half size: ratio %g", r);
        printf("  %s (%dx%d) and a 2x box copy: sharpness %.3f / %.3f (ratio %.3f), noise %.3f "
               "/ %.3f (ratio %.3f)\n", photos[0], im.width, im.height, q.sharpness,
               qh.sharpness, r, q.noise, qh.noise, rn);
        free_image(&h);
        ae_image_free(&im);
    }
    /* a Gaussian blur (sigma 3 at full size) lowers the sharpness of every photo clearly */
    double worst = 0;
    for (size_t k = 0; k < NPHOTOS; k++) {
        if (!load(photos[k], &im)) continue;
        ae_image b = blur3(&im);
        ae_quality qb;
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        CHECK_EQ_INT(ae_image_quality(&b, &qb), AE_OK);
        double r = qb.sharpness / q.sharpness;
        CHECK_MSG(r < 0.5, "%s: blurred sharpness %g of %g (ratio %g)", photos[k], qb.sharpness,
                  q.sharpness, r);
        printf("  %-34s %4dx%-4d sharpness %9.2f, blurred %8.3f (ratio %.4f), noise %.3f "
               "highlights %.4f shadows %.4f\n", photos[k], im.width, im.height, q.sharpness,
               qb.sharpness, r, q.noise, q.highlights, q.shadows);
        if (r > worst) worst = r;
        free_image(&b);
        ae_image_free(&im);
    }
    printf("  blur sigma 3: largest sharpness ratio %.4f\n", worst);
}

/* ---- EXIF blocks built here --------------------------------------------------------------- */

typedef struct tag {
    uint16_t id, type;
    uint32_t count;
    const void *data; /* count values of the type, in host order for SHORT/LONG */
} tag;

#define ASCII(id, s) {id, 2, (uint32_t)sizeof(s), s}

static void put16(uint8_t *p, unsigned v, int le)
{
    p[le ? 0 : 1] = (uint8_t)v, p[le ? 1 : 0] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v, int le)
{
    for (int i = 0; i < 4; i++) p[le ? i : 3 - i] = (uint8_t)(v >> (8 * i));
}

static size_t type_size(unsigned t) { return t == 3 ? 2 : t == 4 ? 4 : 1; }

/* Writes one IFD at *pos (entries given in ascending order), values over 4 bytes at *data. */
static void put_ifd(uint8_t *b, size_t *pos, size_t *data, const tag *t, int n, int le,
                    uint32_t exif_ifd)
{
    int total = n + (exif_ifd ? 1 : 0);
    put16(b + *pos, (unsigned)total, le);
    size_t e = *pos + 2;
    for (int i = 0; i < n; i++, e += 12) {
        put16(b + e, t[i].id, le);
        put16(b + e + 2, t[i].type, le);
        put32(b + e + 4, t[i].count, le);
        size_t sz = type_size(t[i].type) * t[i].count;
        uint8_t *dst = b + e + 8;
        if (sz > 4) {
            put32(b + e + 8, (uint32_t)*data, le);
            dst = b + *data;
            *data += (sz + 1) & ~(size_t)1;
        } else {
            memset(dst, 0, 4);
        }
        for (uint32_t k = 0; k < t[i].count; k++) {
            if (t[i].type == 3) put16(dst + 2 * k, ((const uint16_t *)t[i].data)[k], le);
            else if (t[i].type == 4) put32(dst + 4 * k, ((const uint32_t *)t[i].data)[k], le);
            else dst[k] = ((const uint8_t *)t[i].data)[k];
        }
    }
    if (exif_ifd) {
        put16(b + e, 0x8769, le), put16(b + e + 2, 4, le), put32(b + e + 4, 1, le);
        put32(b + e + 8, exif_ifd, le);
        e += 12;
    }
    put32(b + e, 0, le); /* no next IFD */
    *pos = e + 4;
}

/* A TIFF block: IFD0 with ifd0 (+ the Exif IFD pointer when there are exif tags), then the Exif
 * IFD, then the values. Returns its length (b has room for 4096 bytes). */
static size_t tiff(uint8_t *b, int le, const tag *ifd0, int n0, const tag *exif, int ne)
{
    memset(b, 0, 4096);
    memcpy(b, le ? "II*\0" : "MM\0*", 4);
    put32(b + 4, 8, le);
    size_t ifd0_len = 2 + 12 * (size_t)(n0 + (ne ? 1 : 0)) + 4, exif_len = ne ? 2 + 12 * (size_t)ne + 4 : 0;
    size_t pos = 8, data = 8 + ifd0_len + exif_len;
    put_ifd(b, &pos, &data, ifd0, n0, le, ne ? (uint32_t)(8 + ifd0_len) : 0);
    if (ne) put_ifd(b, &pos, &data, exif, ne, le, 0);
    return data;
}

static ae_capture capture_of(const void *b, size_t n)
{
    ae_capture c;
    memset(&c, 0x55, sizeof c);
    int rc = ae_exif_capture(b, n, &c);
    CHECK_EQ_INT(rc, AE_OK);
    return c;
}

/* One date (and optional sub-second and offset) as DateTimeOriginal in a block of either byte
 * order, also with the "Exif\0\0" prefix: all four must agree; returns the capture. */
static ae_capture when(const char *dt, const char *sub, const char *off)
{
    tag ex[3];
    int n = 0;
    ex[n++] = (tag){0x9003, 2, (uint32_t)strlen(dt) + 1, dt};
    if (off) ex[n++] = (tag){0x9011, 2, (uint32_t)strlen(off) + 1, off};
    if (sub) ex[n++] = (tag){0x9291, 2, (uint32_t)strlen(sub) + 1, sub};
    uint8_t b[4096 + 6];
    ae_capture c[4];
    for (int le = 0; le < 2; le++) {
        size_t len = tiff(b + 6, le, NULL, 0, ex, n);
        c[2 * le] = capture_of(b + 6, len);
        memcpy(b, "Exif\0\0", 6);
        c[2 * le + 1] = capture_of(b, len + 6);
    }
    for (int k = 1; k < 4; k++)
        CHECK_MSG(memcmp(&c[0], &c[k], sizeof c[0]) == 0, "\"%s\": block %d differs", dt, k);
    return c[0];
}

static void expect_time(const char *dt, const char *sub, const char *off, double t, int has_off,
                        int minutes)
{
    ae_capture c = when(dt, sub, off);
    CHECK_MSG(c.has_time == 1 && c.time == t && c.has_offset == has_off &&
                  (!has_off || c.offset_minutes == minutes) && c.camera[0] == 0,
              "\"%s\" \"%s\" \"%s\": has_time %d time %.6f has_offset %d offset %d camera \"%s\"",
              dt, sub ? sub : "", off ? off : "", c.has_time, c.time, c.has_offset,
              c.offset_minutes, c.camera);
}

static void expect_no_time(const char *dt)
{
    ae_capture c = when(dt, "25", "+02:00");
    CHECK_MSG(c.has_time == 0 && c.has_offset == 0 && c.time == 0, "\"%s\" was accepted: %.3f", dt,
              c.time);
}

static void test_dates(void)
{
    expect_time("2024:02:29 23:59:59", NULL, NULL, 1709251199, 0, 0);
    expect_time("2024:03:01 00:00:00", NULL, NULL, 1709251200, 0, 0);
    expect_time("1970:01:01 00:00:00", NULL, NULL, 0, 0, 0);
    expect_time("1900:01:01 00:00:00", NULL, NULL, -2208988800.0, 0, 0);
    expect_time("2200:12:31 23:59:59", NULL, NULL, 7289654399.0, 0, 0);
    expect_time("2200:12:31 23:59:60", NULL, NULL, 7289654400.0, 0, 0); /* a leap second */
    expect_time("2000:02:29 00:00:00", NULL, NULL, 951782400, 0, 0);    /* 400-year leap */
    expect_time("2023:12:31 23:59:59", NULL, NULL, 1704067199, 0, 0);
    expect_time("2024-02-29T23:59:59", NULL, NULL, 1709251199, 0, 0);   /* lenient separators */
    expect_time(" 2024:02:29 23:59:59  ", NULL, NULL, 1709251199, 0, 0);
    /* sub-seconds from the digit string */
    expect_time("2024:06:01 12:00:05", "25", NULL, 1717243205.25, 0, 0);
    expect_time("2024:06:01 12:00:05", "5", NULL, 1717243205.5, 0, 0);
    expect_time("2024:06:01 12:00:05", "050", NULL, 1717243205.05, 0, 0);
    expect_time("2024:06:01 12:00:05", " 25 ", NULL, 1717243205.25, 0, 0);
    expect_time("2024:06:01 12:00:05", "abc", NULL, 1717243205, 0, 0);
    expect_time("2024:06:01 12:00:05", "2a", NULL, 1717243205, 0, 0);
    expect_time("2024:06:01 12:00:05", "", NULL, 1717243205, 0, 0);
    expect_time("2024:06:01 12:00:05", "999", NULL, 1717243205.999, 0, 0);
    /* offsets: UTC = local - offset */
    expect_time("2024:06:01 12:00:05", "25", "+02:00", 1717243205.25 - 7200, 1, 120);
    expect_time("2024:06:01 12:00:05", NULL, "-05:30", 1717243205.0 + 19800, 1, -330);
    expect_time("2024:06:01 12:00:05", NULL, "+14:00", 1717243205.0 - 50400, 1, 840);
    expect_time("2024:06:01 12:00:05", NULL, "-14:00", 1717243205.0 + 50400, 1, -840);
    expect_time("2024:06:01 12:00:05", NULL, "-00:00", 1717243205, 1, 0);
    static const char *const bad_off[] = {"+99:00", "+14:01", "-14:30", "+05:60", "05:30",
                                          "+5:30",  "   :  ", "",       "+02:00:00", "Z",
                                          "+0a:00", "UTC"};
    for (size_t k = 0; k < sizeof bad_off / sizeof bad_off[0]; k++)
        expect_time("2024:06:01 12:00:05", NULL, bad_off[k], 1717243205, 0, 0);
    static const char *const bad[] = {
        "0000:00:00 00:00:00", "9999:12:31 23:59:59", "1899:12:31 23:59:59", "2201:01:01 00:00:00",
        "2024:13:01 00:00:00", "2024:00:10 00:00:00", "2024:02:30 12:00:00", "2023:02:29 12:00:00",
        "2100:02:29 12:00:00", "1900:02:29 12:00:00", "2024:04:31 12:00:00", "2024:06:00 12:00:00",
        "2024:06:01 25:00:00", "2024:06:01 24:00:00", "2024:06:01 12:60:00", "2024:06:01 12:00:61",
        "2024:06:01", "", "    :  :     :  :  ", "2024:06:01 12:00:0x", "2024:06:01 12:00",
        "2024:06:01  12:00:05", "2024:06-01 12:00:05", "+024:06:01 12:00:0", "2024:06:01 12:00:05Z",
        "-024:06:01 12:00:05", "2024:6:1 12:0:5   ",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) expect_no_time(bad[k]);
}

static void test_tags(void)
{
    uint8_t b[4096];
    for (int le = 0; le < 2; le++) {
        /* the brief's example, with Make and Model in IFD0 */
        tag i0[] = {ASCII(0x010f, "Canon"), ASCII(0x0110, "Canon EOS R5")};
        tag ex[] = {ASCII(0x9003, "2024:06:01 12:00:05"), ASCII(0x9011, "+02:00"),
                    ASCII(0x9291, "25"), ASCII(0xa431, "123")};
        ae_capture c = capture_of(b, tiff(b, le, i0, 2, ex, 4));
        CHECK(c.has_time && c.time == 1717243205.25 - 7200 && c.has_offset && c.offset_minutes == 120);
        CHECK_MSG(strcmp(c.camera, "Canon EOS R5 #123") == 0, "camera \"%s\"", c.camera);

        /* the make kept when the model does not start with it (as a word, any case) */
        static const char *const cam[][3] = {
            {"NIKON CORPORATION", "NIKON D850", "NIKON CORPORATION NIKON D850"},
            {"Apple", "iPhone 15 Pro", "Apple iPhone 15 Pro"},
            {"Canon", "CANON EOS 5D", "CANON EOS 5D"},
            {"Can", "Canon EOS", "Can Canon EOS"},
            {"SONY", "", "SONY"},
            {"", "ILCE-7M3", "ILCE-7M3"},
            {"  FUJIFILM   ", " X-T4  ", "FUJIFILM X-T4"},
            {"OLYMPUS IMAGING CORP.  ", "E-M1MarkII", "OLYMPUS IMAGING CORP. E-M1MarkII"},
            {"Ca\001n\377on\t", "E\x7fOS  R5", "Canon EOS R5"},
            {"Canon", "Canon", "Canon"},
        };
        for (size_t k = 0; k < sizeof cam / sizeof cam[0]; k++) {
            tag t0[2] = {{0x010f, 2, (uint32_t)strlen(cam[k][0]) + 1, cam[k][0]},
                         {0x0110, 2, (uint32_t)strlen(cam[k][1]) + 1, cam[k][1]}};
            c = capture_of(b, tiff(b, le, t0, 2, NULL, 0));
            CHECK_MSG(strcmp(c.camera, cam[k][2]) == 0 && !c.has_time, "\"%s\" + \"%s\": \"%s\"",
                      cam[k][0], cam[k][1], c.camera);
        }
        /* padding: the count covers NULs and spaces after the text */
        tag pad[] = {{0x010f, 2, 16, "Canon\0\0\0\0\0\0\0\0\0\0"}, {0x0110, 2, 20, "EOS R6   \0\0\0\0\0\0\0\0\0\0"}};
        c = capture_of(b, tiff(b, le, pad, 2, NULL, 0));
        CHECK_MSG(strcmp(c.camera, "Canon EOS R6") == 0, "padded: \"%s\"", c.camera);
        /* serial only; a long one is cut to the buffer, still terminated and printable */
        tag ser[] = {ASCII(0xa431, " 0042 ")};
        c = capture_of(b, tiff(b, le, NULL, 0, ser, 1));
        CHECK_MSG(strcmp(c.camera, "#0042") == 0, "serial: \"%s\"", c.camera);
        char lm[120], lmo[120];
        memset(lm, 'M', 119), lm[119] = 0;
        memset(lmo, 'X', 119), lmo[119] = 0;
        tag lng[] = {{0x010f, 2, 120, lm}, {0x0110, 2, 120, lmo}};
        c = capture_of(b, tiff(b, le, lng, 2, NULL, 0));
        CHECK(strlen(c.camera) == sizeof c.camera - 1 && c.camera[0] == 'M');

        /* DateTimeDigitized when DateTimeOriginal is absent or invalid, with its own
         * sub-seconds and offset */
        tag dig[] = {ASCII(0x9003, "2024:13:01 00:00:00"), ASCII(0x9004, "2023:12:31 23:59:59"),
                     ASCII(0x9011, "+01:00"), ASCII(0x9012, "-05:30"), ASCII(0x9291, "5"),
                     ASCII(0x9292, "999")};
        c = capture_of(b, tiff(b, le, NULL, 0, dig, 6));
        CHECK_MSG(c.has_time && c.time == 1704067199.999 + 19800 && c.has_offset &&
                      c.offset_minutes == -330, "digitized: %d %.4f %d %d", c.has_time, c.time,
                  c.has_offset, c.offset_minutes);
        c = capture_of(b, tiff(b, le, NULL, 0, dig + 1, 5));
        CHECK(c.has_time && c.time == 1704067199.999 + 19800);
        /* DateTimeOriginal where it does not belong (IFD0) is still read */
        tag in0[] = {ASCII(0x9003, "2024:02:29 23:59:59")};
        c = capture_of(b, tiff(b, le, in0, 1, NULL, 0));
        CHECK(c.has_time && c.time == 1709251199);
        /* the wrong type (a SHORT) is no date */
        const uint16_t sh[2] = {2024, 6};
        tag wt[] = {{0x9003, 3, 2, sh}};
        c = capture_of(b, tiff(b, le, NULL, 0, wt, 1));
        CHECK(!c.has_time);
        /* DateTime (0x0132, the last edit) is not the capture time */
        tag dt[] = {ASCII(0x0132, "2024:02:29 23:59:59")};
        c = capture_of(b, tiff(b, le, dt, 1, NULL, 0));
        CHECK(!c.has_time && c.camera[0] == 0);
    }
    /* no block, bad calls */
    ae_capture c;
    CHECK_EQ_INT(ae_exif_capture(NULL, 0, &c), AE_OK);
    CHECK(!c.has_time && !c.has_offset && c.camera[0] == 0);
    CHECK_EQ_INT(ae_exif_capture(NULL, 10, &c), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_exif_capture(b, 10, NULL), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_exif_capture("Exif\0\0", 6, &c), AE_OK);
    CHECK(!c.has_time);
}

/* The fuzz target's promises, on one result. */
static int sane(const ae_capture *c)
{
    if (c->has_time != 0 && c->has_time != 1) return 0;
    if (c->has_time) {
        const double lo = -2208988800.0 - 14 * 3600, hi = 7289654400.0 + 1 + 14 * 3600;
        if (!isfinite(c->time) || c->time < lo || c->time >= hi) return 0;
    } else if (c->time != 0 || c->has_offset) {
        return 0;
    }
    if (c->has_offset && (c->offset_minutes < -840 || c->offset_minutes > 840)) return 0;
    size_t n = strnlen(c->camera, sizeof c->camera);
    if (n == sizeof c->camera) return 0;
    for (size_t i = 0; i < n; i++)
        if (c->camera[i] < 0x20 || c->camera[i] > 0x7e) return 0;
    return 1;
}

static void test_garbage(void)
{
    uint8_t b[4096 + 6], m[4096 + 6];
    /* random bytes, with and without a TIFF header in front */
    int ok = 1, times = 0;
    for (int k = 0; k < 3000; k++) {
        size_t n = rnd() % 600;
        for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rnd();
        if (k % 3 == 1 && n >= 8) memcpy(b, k % 2 ? "II*\0\x08\0\0\0" : "MM\0*\0\0\0\x08", 8);
        if (k % 3 == 2 && n >= 6) memcpy(b, "Exif\0\0", 6);
        ae_capture c;
        ok &= ae_exif_capture(b, n, &c) == AE_OK && sane(&c);
        times += c.has_time;
    }
    CHECK(ok);
    CHECK_EQ_INT(times, 0);
    /* a good block cut at every length, and with bytes flipped at random */
    tag i0[] = {ASCII(0x010f, "Canon"), ASCII(0x0110, "Canon EOS R5")};
    tag ex[] = {ASCII(0x9003, "2024:06:01 12:00:05"), ASCII(0x9011, "+02:00"), ASCII(0x9291, "25"),
                ASCII(0xa431, "123")};
    for (int le = 0; le < 2; le++) {
        size_t n = tiff(b, le, i0, 2, ex, 4);
        ok = 1;
        for (size_t cut = 0; cut <= n; cut++) {
            ae_capture c;
            uint8_t *t = malloc(cut ? cut : 1);
            memcpy(t, b, cut);
            ok &= ae_exif_capture(t, cut, &c) == AE_OK && sane(&c) &&
                  (!c.has_time || c.time == 1717243205.25 - 7200 || c.time == 1717243205.25 ||
                   c.time == 1717243205);
            free(t); /* a copy of exactly cut bytes: ASan sees any read past it */
        }
        CHECK_MSG(ok, "truncated blocks (%s)", le ? "II" : "MM");
        ok = 1;
        for (int k = 0; k < 3000; k++) {
            memcpy(m, b, n);
            for (int f = 0; f < 1 + (int)(rnd() % 8); f++) m[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
            ae_capture c;
            ok &= ae_exif_capture(m, n, &c) == AE_OK && sane(&c);
        }
        CHECK_MSG(ok, "flipped blocks (%s)", le ? "II" : "MM");
    }
    /* the seeds of the fuzz corpus */
    static const char *const seeds[] = {"exiftool-le.exif", "exiftool-be.exif",
                                        "exiftool-be-prefixed.exif", "orient6.exif"};
    for (int k = 0; k < 4; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/fuzz/corpus/exif/%s", AE_SOURCE_DIR, seeds[k]);
        size_t n;
        void *d = read_file(path, &n);
        CHECK_MSG(d != NULL, "%s", path);
        if (!d) continue;
        ae_capture c = capture_of(d, n);
        CHECK(sane(&c));
        if (k == 0) CHECK(c.has_time && strcmp(c.camera, "Canon EOS R5 #123") == 0);
        if (k >= 1 && k <= 2)
            CHECK_MSG(c.has_time && c.time == 1704067199.999 + 19800 &&
                          strcmp(c.camera, "NIKON CORPORATION NIKON D850 #6012345") == 0,
                      "%s: %.3f \"%s\"", seeds[k], c.time, c.camera);
        if (k == 3) CHECK(!c.has_time && c.camera[0] == 0);
        free(d);
    }
}

/* ---- real files ------------------------------------------------------------------------- */

static int facts_of_file(const char *path, img_facts *f, int exif_rotate)
{
    ae_image_params ip = ae_image_default_params();
    ip.exif_rotate = exif_rotate;
    int rc = img_prepare_facts(NULL, NULL, 0, path, &ip, NULL, NULL, f);
    CHECK_MSG(rc == AE_OK, "%s: %s", path, ae_last_error());
    return rc == AE_OK;
}

static void test_exiftool_files(void)
{
    if (!have_exiftool()) return;
    /* the brief's tags into a JPEG, a PNG (eXIf) and a lossy WebP (EXIF chunk) */
    static const char *const src[] = {"photo_rocket.jpg", "photo_astronaut.png",
                                      "photo_garden_lossy.webp"};
    static const char *const dst[] = {"tags.jpg", "tags.png", "tags.webp"};
    char cmd[8192], rel[256];
    int n = snprintf(cmd, sizeof cmd,
                     "exiftool -q -overwrite_original -DateTimeOriginal='2024:06:01 12:00:05' "
                     "-SubSecTimeOriginal=25 -OffsetTimeOriginal=+02:00 -Make=Canon "
                     "-Model='Canon EOS R5' -SerialNumber=123");
    for (int k = 0; k < 3; k++) {
        snprintf(rel, sizeof rel, "images/%s", src[k]);
        copy_file(fixture(rel), test_tmp(dst[k]));
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", test_tmp(dst[k]));
    }
    CHECK_MSG(run(cmd), "%s", cmd);
    for (int k = 0; k < 3; k++) {
        img_facts f;
        for (int rot = 0; rot < 2; rot++) { /* found whatever exif_rotate says */
            if (!facts_of_file(test_tmp(dst[k]), &f, rot)) continue;
            CHECK_MSG(f.capture.has_time && f.capture.time == 1717243205.25 - 7200 &&
                          f.capture.has_offset && f.capture.offset_minutes == 120 &&
                          strcmp(f.capture.camera, "Canon EOS R5 #123") == 0,
                      "%s: has_time %d time %.3f offset %d camera \"%s\"", dst[k],
                      f.capture.has_time, f.capture.time, f.capture.offset_minutes,
                      f.capture.camera);
        }
    }
    /* Digitized only, big-endian, a Nikon (the make kept) */
    const char *path = test_tmp("nikon.jpg");
    copy_file(fixture("images/photo_boats.jpg"), path);
    snprintf(cmd, sizeof cmd,
             "exiftool -q -overwrite_original -ExifByteOrder#=MM "
             "-CreateDate='2023:12:31 23:59:59' -SubSecTimeDigitized=999 "
             "-OffsetTimeDigitized=-05:30 -Make='NIKON CORPORATION' -Model='NIKON D850' '%s'", path);
    CHECK(run(cmd));
    img_facts f;
    if (facts_of_file(path, &f, 1))
        CHECK_MSG(f.capture.has_time && f.capture.time == 1704067199.999 + 19800 &&
                      strcmp(f.capture.camera, "NIKON CORPORATION NIKON D850") == 0,
                  "nikon: %.3f \"%s\"", f.capture.time, f.capture.camera);
    /* absurd values written into a file */
    snprintf(cmd, sizeof cmd,
             "exiftool -q -overwrite_original -DateTimeOriginal='2024:02:30 12:00:00' "
             "-OffsetTimeOriginal=+99:00 -CreateDate= '%s'", path);
    CHECK(run(cmd));
    if (facts_of_file(path, &f, 1)) CHECK(!f.capture.has_time && !f.capture.has_offset);
    /* a photo without EXIF */
    if (facts_of_file(fixture("images/photo_boats.jpg"), &f, 1))
        CHECK(!f.capture.has_time && f.capture.camera[0] == 0);
}

/* x265 (libheif's HEVC encoder, used only to make a HEIC file here) leaks one allocation at
 * exit; not ours, so LeakSanitizer is told to ignore it (as in test_image.c). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }

static struct heif_error heif_wr(struct heif_context *ctx, const void *d, size_t n, void *u)
{
    (void)ctx;
    FILE *f = u;
    struct heif_error e = {heif_error_Ok, heif_suberror_Unspecified, "ok"};
    if (fwrite(d, 1, n, f) != n) e.code = heif_error_Encoding_error;
    return e;
}

/* libheif's Exif item: the capture is read, its Orientation is not applied (libheif did) */
static void test_heif(void)
{
    if (!heif_have_encoder_for_format(heif_compression_HEVC) ||
        !heif_have_decoder_for_format(heif_compression_HEVC)) {
        printf("  no HEVC encoder/decoder in libheif: HEIF Exif skipped\n");
        return;
    }
    const int w = 64, h = 48;
    struct heif_context *ctx = heif_context_alloc();
    struct heif_encoder *enc = NULL;
    struct heif_image *im = NULL;
    struct heif_image_handle *hd = NULL;
    heif_context_get_encoder_for_format(ctx, heif_compression_HEVC, &enc);
    heif_encoder_set_lossy_quality(enc, 90);
    heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &im);
    heif_image_add_plane(im, heif_channel_interleaved, w, h, 8);
    int stride;
    uint8_t *px = heif_image_get_plane(im, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; y++) memset(px + (size_t)y * stride, y * 5, (size_t)w * 3);
    heif_context_encode_image(ctx, im, enc, NULL, NULL);
    heif_context_get_primary_image_handle(ctx, &hd);
    uint8_t b[4096];
    const uint16_t six = 6;
    tag i0[] = {ASCII(0x010f, "Apple"), ASCII(0x0110, "iPhone 15 Pro"), {0x0112, 3, 1, &six}};
    tag ex[] = {ASCII(0x9003, "2024:06:01 12:00:05"), ASCII(0x9011, "+02:00"),
                ASCII(0x9291, "25")};
    size_t n = tiff(b, 0, i0, 3, ex, 3);
    struct heif_error e = heif_context_add_exif_metadata(ctx, hd, b, (int)n);
    CHECK_MSG(e.code == heif_error_Ok, "add exif: %s", e.message);
    const char *path = test_tmp("exif.heic");
    FILE *f = fopen(path, "wb");
    struct heif_writer wr = {1, heif_wr};
    heif_context_write(ctx, &wr, f);
    fclose(f);
    heif_image_handle_release(hd);
    heif_encoder_release(enc);
    heif_image_release(im);
    heif_context_free(ctx);
    img_facts fa;
    if (facts_of_file(path, &fa, 1)) {
        CHECK_MSG(fa.capture.has_time && fa.capture.time == 1717243205.25 - 7200 &&
                      strcmp(fa.capture.camera, "Apple iPhone 15 Pro") == 0,
                  "heic: %d %.3f \"%s\"", fa.capture.has_time, fa.capture.time, fa.capture.camera);
        CHECK(fa.width == w && fa.height == h); /* orientation 6 not applied */
    }
}

/* ---- pixel hash and img_prepare_facts ----------------------------------------------------- */

static int hash_eq(const uint64_t a[2], const uint64_t b[2]) { return a[0] == b[0] && a[1] == b[1]; }

static uint64_t file_hash(const char *path)
{
    size_t n;
    void *d = read_file(path, &n);
    uint64_t h = d ? XXH3_64bits(d, n) : 0;
    free(d);
    return h;
}

static void test_pixel_hash(void)
{
    img_facts a, b;
    const char *orig = fixture("images/photo_landscape.jpg");
    if (!facts_of_file(orig, &a, 1)) return;
    /* the same pixels in a lossless WebP (another container, no metadata): same hash; lossy: not */
    ae_image im;
    ae_image_params ip = ae_image_default_params();
    CHECK_EQ_INT(ae_image_load(orig, &ip, &im), AE_OK);
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGB(im.rgb, im.width, im.height, im.width * 3, &out);
    CHECK(n > 0);
    FILE *f = fopen(test_tmp("same.webp"), "wb");
    fwrite(out, 1, n, f);
    fclose(f);
    WebPFree(out);
    if (facts_of_file(test_tmp("same.webp"), &b, 1)) {
        CHECK(hash_eq(a.pixel_hash, b.pixel_hash));
        CHECK(memcmp(&a.quality, &b.quality, sizeof a.quality) == 0);
    }
    n = WebPEncodeRGB(im.rgb, im.width, im.height, im.width * 3, 95, &out);
    f = fopen(test_tmp("lossy.webp"), "wb");
    fwrite(out, 1, n, f);
    fclose(f);
    WebPFree(out);
    if (facts_of_file(test_tmp("lossy.webp"), &b, 1)) CHECK(!hash_eq(a.pixel_hash, b.pixel_hash));
    /* one pixel changed */
    uint64_t h1[2], h2[2];
    img_pixel_hash(&im, 1, h1);
    im.rgb[12345] ^= 1;
    img_pixel_hash(&im, 1, h2);
    CHECK(!hash_eq(h1, h2));
    im.rgb[12345] ^= 1;
    /* the orientation and the size are hashed: a 2 x 3 and a 3 x 2 image of the same bytes */
    img_pixel_hash(&im, 6, h2);
    CHECK(!hash_eq(h1, h2));
    ae_image s23 = {2, 3, im.rgb}, s32 = {3, 2, im.rgb};
    img_pixel_hash(&s23, 1, h1);
    img_pixel_hash(&s32, 1, h2);
    CHECK(!hash_eq(h1, h2));
    ae_image_free(&im);

    if (!have_exiftool()) return;
    /* metadata added or removed: other bytes, the same pixels */
    const char *meta = test_tmp("meta.jpg"), *bare = test_tmp("bare.jpg"), *rot = test_tmp("rot.jpg");
    copy_file(orig, meta);
    copy_file(orig, bare);
    copy_file(orig, rot);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "exiftool -Comment='a comment' -Make=Canon '%s' -execute -all= '%s' -execute "
             "-Orientation#=6 '%s' -common_args -q -overwrite_original", meta, bare, rot);
    CHECK_MSG(run(cmd), "%s", cmd);
    const char *same[2] = {meta, bare};
    for (int k = 0; k < 2; k++)
        if (facts_of_file(same[k], &b, 1)) {
            CHECK(file_hash(same[k]) != file_hash(orig));
            CHECK_MSG(hash_eq(a.pixel_hash, b.pixel_hash), "%s: pixel hash differs", same[k]);
        }
    /* the same pixels shown turned: another hash (and the size as displayed) */
    if (facts_of_file(rot, &b, 1)) {
        CHECK(!hash_eq(a.pixel_hash, b.pixel_hash));
        CHECK(b.width == a.height && b.height == a.width);
        CHECK(b.quality.width == a.quality.height && b.quality.height == a.quality.width);
    }
    if (facts_of_file(rot, &b, 0)) CHECK(hash_eq(a.pixel_hash, b.pixel_hash)); /* not applied */
}

/* img_prepare_facts: the pixels of img_prepare, the facts of the separate calls */
static void test_prepare_facts(void)
{
    clip_preproc p = preproc();
    const size_t npix = (size_t)3 * p.crop_h * p.crop_w;
    float *pa = malloc(npix * sizeof *pa), *pb = malloc(npix * sizeof *pb);
    uint8_t *ca = malloc(npix), *cb = malloc(npix);
    ae_image_params ip = ae_image_default_params();
    for (size_t k = 0; k < NPHOTOS; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s", photos[k]);
        const char *path = fixture(rel);
        size_t n;
        void *data = read_file(path, &n);
        if (!data) { CHECK_MSG(0, "%s", path); continue; }
        img_facts f, g;
        CHECK_EQ_INT(img_prepare(&p, data, n, photos[k], &ip, pa, ca), AE_OK);
        CHECK_EQ_INT(img_prepare_facts(&p, data, n, photos[k], &ip, pb, cb, &f), AE_OK);
        CHECK_MSG(memcmp(pa, pb, npix * sizeof *pa) == 0 && memcmp(ca, cb, npix) == 0,
                  "%s: pixels differ from img_prepare's", photos[k]);
        /* from the file, facts only */
        CHECK_EQ_INT(img_prepare_facts(NULL, NULL, 0, path, &ip, NULL, NULL, &g), AE_OK);
        CHECK_MSG(memcmp(&f, &g, sizeof f) == 0, "%s: facts only differ", photos[k]);
        /* the separate calls */
        ae_image im, st;
        int o;
        CHECK_EQ_INT(ae_image_decode(data, n, photos[k], &ip, &im), AE_OK);
        CHECK_EQ_INT(img_decode_oriented(data, n, photos[k], &ip, &st, &o), AE_OK);
        ae_quality q;
        CHECK_EQ_INT(ae_image_quality(&im, &q), AE_OK);
        uint64_t h[2];
        img_pixel_hash(&st, o, h);
        CHECK(hash_eq(h, f.pixel_hash));
        CHECK(f.width == im.width && f.height == im.height);
        if (o == 1) {
            CHECK_MSG(memcmp(&q, &f.quality, sizeof q) == 0, "%s: quality differs", photos[k]);
        } else { /* measured on the stored pixels: the same up to the order of the sums */
            CHECK(q.width == f.quality.width && q.height == f.quality.height &&
                  q.highlights == f.quality.highlights && q.shadows == f.quality.shadows);
            CHECK_MSG(fabs(q.sharpness - f.quality.sharpness) <= 1e-5 * q.sharpness &&
                          fabs(q.noise - f.quality.noise) <= 1e-5 * q.noise,
                      "%s: %.9g / %.9g, %.9g / %.9g", photos[k], q.sharpness,
                      f.quality.sharpness, q.noise, f.quality.noise);
            CHECK_EQ_INT(f.width, 1200); /* photo_exif_orient6.jpg: 900 x 1200 stored */
        }
        ae_capture c;
        CHECK_EQ_INT(ae_exif_capture(NULL, 0, &c), AE_OK);
        CHECK(memcmp(&c, &f.capture, sizeof c) == 0); /* no fixture has a date or camera */
        ae_image_free(&im);
        ae_image_free(&st);
        free(data);
    }
    /* fast decode: the facts of the DCT-scaled image */
    ip.fast_decode = 1;
    size_t n;
    void *data = read_file(fixture("images/photo_sunset_12mp_progressive.jpg"), &n);
    img_facts f;
    CHECK_EQ_INT(img_prepare_facts(&p, data, n, "sunset", &ip, pa, NULL, &f), AE_OK);
    CHECK(f.width == 534 && f.height == 356 && f.quality.width == 534); /* 1/8: 356 >= 224 */
    free(data);
    /* errors name the input; a preprocessor is needed for pixels */
    ip = ae_image_default_params();
    CHECK(img_prepare_facts(&p, "garbage", 7, "bad.jpg", &ip, pa, NULL, &f) != AE_OK);
    CHECK_STR_CONTAINS(ae_last_error(), "bad.jpg");
    CHECK_EQ_INT(img_prepare_facts(NULL, "garbage", 7, "nop.jpg", &ip, pa, NULL, &f), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "nop.jpg");
    CHECK(img_prepare_facts(&p, NULL, 0, "/nonexistent/x.jpg", &ip, NULL, NULL, &f) == AE_ERR_IO);
    free(pa), free(pb), free(ca), free(cb);
}

int main(void)
{
    printf("test_photo\n");
    test_by_hand();
    test_orientations();
    test_reference();
    test_photos();
    test_dates();
    test_tags();
    test_garbage();
    test_exiftool_files();
    test_heif();
    test_pixel_hash();
    test_prepare_facts();
    return test_summary();
}
