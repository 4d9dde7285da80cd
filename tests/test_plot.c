/*
 * test_plot.c — app/plot.c: the grid, the axes, pixels where the mapping of plot.h puts them,
 * text, the PNG read back with libpng, determinism, and the errors.
 *
 * Expected pixels are computed here from plot.h's documented rules (the value-to-pixel
 * formula, the blend (c * a + bg * (256 - a) + 128) / 256 with a = 216 for a lone point), not
 * by calling the drawing code. AE_PLOT_KEEP=DIR keeps the example plots (3 heads of 2000
 * synthetic AVA-like ratings, 16 panels, 25,000 points) in DIR to look at. Last, the
 * temporary-file-and-rename helper of src/fileio.c that the PNG is written through.
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>

#include "aesthete.h"
#include "fileio.h"
#include "plot.h"
#include "stats.h"
#include "test.h"

#define WHITE 0xffffffu

static uint32_t pixel(const uint8_t *rgb, int32_t w, int32_t x, int32_t y)
{
    const uint8_t *q = rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
    return (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
}

/* plot.h's blend of colour c over background bg with opacity a (of 256) */
static uint32_t blended(uint32_t c, uint32_t bg, uint32_t a)
{
    uint32_t out = 0;
    for (int k = 16; k >= 0; k -= 8) {
        uint32_t v = ((c >> k & 0xff) * a + (bg >> k & 0xff) * (256 - a) + 128) >> 8;
        out |= v << k;
    }
    return out;
}

/* plot.h's mapping of v to a column (from the left of the frame) or a row (from the top) */
static int32_t col_of(const ae_plot_axis *a, const ae_plot_rect *f, double v)
{
    return f->x + (int32_t)lround((v - a->lo) / (a->hi - a->lo) * (f->w - 1));
}

static int32_t row_of(const ae_plot_axis *a, const ae_plot_rect *f, double v)
{
    return f->y + f->h - 1 - (int32_t)lround((v - a->lo) / (a->hi - a->lo) * (f->h - 1));
}

static int on_grid_col(const ae_plot_layout *L, const ae_plot_rect *f, int32_t x)
{
    for (int32_t k = 0; k < L->x.nticks; k++)
        if (col_of(&L->x, f, L->x.first + k * L->x.step) == x) return 1;
    return 0;
}

static int on_grid_row(const ae_plot_axis *y, const ae_plot_rect *f, int32_t r)
{
    for (int32_t k = 0; k < y->nticks; k++)
        if (row_of(y, f, y->first + k * y->step) == r) return 1;
    return 0;
}

static int overlap(const ae_plot_rect *a, const ae_plot_rect *b)
{
    return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

static int inside(const ae_plot_rect *in, const ae_plot_rect *out)
{
    return in->x >= out->x && in->y >= out->y && in->x + in->w <= out->x + out->w &&
           in->y + in->h <= out->y + out->h;
}

static void test_layout(void)
{
    static const int32_t n[8] = {1, 2, 3, 4, 5, 7, 10, 16};
    static const int32_t cols[8] = {1, 2, 3, 2, 3, 3, 4, 4}, rows[8] = {1, 1, 1, 2, 2, 3, 3, 4};
    ae_plot_series s[AE_PLOT_MAX_SERIES] = {{0}};
    ae_plot_params p = ae_plot_default_params();
    for (int t = 0; t < 8; t++) {
        ae_plot_layout L;
        CHECK_EQ_INT(ae_plot_layout_compute(s, n[t], &p, &L), AE_OK);
        CHECK_EQ_INT(L.cols, cols[t]);
        CHECK_EQ_INT(L.rows, rows[t]);
        CHECK_EQ_INT(L.width, 480 * cols[t]);
        CHECK_EQ_INT(L.height, 360 * rows[t]);
        CHECK_EQ_INT(L.scale, 2);
        ae_plot_rect img = {0, 0, L.width, L.height};
        int64_t area = 0;
        for (int32_t i = 0; i < n[t]; i++) {
            const ae_plot_panel *P = &L.panel[i];
            CHECK(inside(&P->cell, &img));
            CHECK(inside(&P->frame, &P->cell));
            CHECK_EQ_INT(P->frame.w, L.panel[0].frame.w); /* one frame size */
            CHECK_EQ_INT(P->frame.h, L.panel[0].frame.h);
            CHECK_EQ_INT(P->cell.x, (i % cols[t]) * 480); /* row-major order */
            CHECK_EQ_INT(P->cell.y, (i / cols[t]) * 360);
            area += (int64_t)P->cell.w * P->cell.h;
            for (int32_t j = 0; j < i; j++) CHECK(!overlap(&P->cell, &L.panel[j].cell));
        }
        /* a full grid tiles the image exactly */
        if (n[t] == cols[t] * rows[t]) CHECK_EQ_INT(area, (int64_t)L.width * L.height);
    }
    /* a given size is shared out, the remainder to the last column; text scale from the cell */
    p.width = 1000, p.height = 500;
    ae_plot_layout L;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 3, &p, &L), AE_OK);
    CHECK_EQ_INT(L.panel[0].cell.w, 333);
    CHECK_EQ_INT(L.panel[2].cell.x, 666);
    CHECK_EQ_INT(L.panel[2].cell.w, 334);
    CHECK_EQ_INT(L.scale, 1);
    p.width = 1920, p.height = 1440;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_OK);
    CHECK_EQ_INT(L.scale, 4);
}

static void check_axis(const ae_plot_axis *a, const char *what)
{
    CHECK_MSG(a->lo < a->hi, "%s: [%g, %g]", what, a->lo, a->hi);
    CHECK_MSG(a->nticks >= 2, "%s: %d ticks", what, (int)a->nticks);
    double m = a->step / pow(10, floor(log10(a->step) + 1e-12));
    CHECK_MSG(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9,
              "%s: step %g is not 1, 2 or 5 times a power of ten", what, a->step);
    double last = a->first + (a->nticks - 1) * a->step;
    CHECK_MSG(a->first >= a->lo - 1e-9 * a->step && last <= a->hi + 1e-9 * a->step,
              "%s: ticks %g..%g outside [%g, %g]", what, a->first, last, a->lo, a->hi);
    CHECK_MSG(a->first - a->step < a->lo && last + a->step > a->hi, "%s: a tick is missing", what);
    double k = a->first / a->step;
    CHECK_MSG(fabs(k - round(k)) < 1e-6, "%s: first tick %g not a multiple of %g", what,
              a->first, a->step);
}

/* consecutive tick labels keep clear of each other (plot.h: a gap of 2 font pixels) */
static void check_labels_apart(const ae_plot_axis *a, const ae_plot_rect *f, int32_t s,
                               int horizontal, const char *what)
{
    char b0[40], b1[40];
    for (int32_t k = 0; k + 1 < a->nticks; k++) {
        int32_t n0 = ae_plot_tick_label(a, k, b0, sizeof b0);
        int32_t n1 = ae_plot_tick_label(a, k + 1, b1, sizeof b1);
        CHECK_MSG(strcmp(b0, b1) != 0, "%s: two ticks labelled %s", what, b0);
        if (horizontal) {
            int32_t d = col_of(a, f, a->first + (k + 1) * a->step) -
                        col_of(a, f, a->first + k * a->step);
            int32_t need = ((n0 * 6 - 1) * s + (n1 * 6 - 1) * s) / 2 + 2 * s;
            CHECK_MSG(d >= need, "%s: labels %s and %s %d px apart, need %d", what, b0, b1, (int)d,
                      (int)need);
        } else {
            int32_t d = row_of(a, f, a->first + k * a->step) -
                        row_of(a, f, a->first + (k + 1) * a->step);
            CHECK_MSG(d >= 9 * s, "%s: labels %s and %s %d px apart", what, b0, b1, (int)d);
        }
    }
}

static void test_axes(void)
{
    double x[10], y[10];
    for (int i = 0; i < 10; i++) x[i] = i + 1, y[i] = -50 + 100 * i / 9.0;
    ae_plot_series s = {"bank", NULL, x, y, 10};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L;
    CHECK_EQ_INT(ae_plot_layout_compute(&s, 1, &p, &L), AE_OK);
    /* ratings 1..10 widened by 4% of 9 on each side; ticks at every rating */
    CHECK_NEAR(L.x.lo, 1 - 0.36, 1e-12);
    CHECK_NEAR(L.x.hi, 10 + 0.36, 1e-12);
    CHECK_NEAR(L.x.step, 1, 0);
    CHECK_NEAR(L.x.first, 1, 0);
    CHECK_EQ_INT(L.x.nticks, 10);
    char b[40];
    CHECK_EQ_INT(ae_plot_tick_label(&L.x, 0, b, sizeof b), 1);
    CHECK(strcmp(b, "1") == 0);
    CHECK_EQ_INT(ae_plot_tick_label(&L.x, 9, b, sizeof b), 2);
    CHECK(strcmp(b, "10") == 0);
    CHECK_NEAR(L.panel[0].y.lo, -54, 1e-12);
    CHECK_NEAR(L.panel[0].y.hi, 54, 1e-12);
    CHECK_EQ_INT(L.panel[0].points, 10);
    CHECK_EQ_INT(L.panel[0].skipped, 0);
    check_axis(&L.x, "x 1..10");
    check_axis(&L.panel[0].y, "y -50..50");
    CHECK(fmod(L.panel[0].y.step, 10) == 0 || fmod(10, L.panel[0].y.step) == 0);

    /* decimals follow the step; zero is "0.0", never "-0.0" */
    for (int i = 0; i < 10; i++) y[i] = -0.3 + 0.6 * i / 9.0;
    CHECK_EQ_INT(ae_plot_layout_compute(&s, 1, &p, &L), AE_OK);
    check_axis(&L.panel[0].y, "y -0.3..0.3");
    CHECK_NEAR(L.panel[0].y.step, 0.1, 1e-15);
    int zero = 0;
    for (int32_t k = 0; k < L.panel[0].y.nticks; k++) {
        ae_plot_tick_label(&L.panel[0].y, k, b, sizeof b);
        CHECK_MSG(strcmp(b, "-0.0") != 0, "tick %d is %s", (int)k, b);
        zero += strcmp(b, "0.0") == 0;
    }
    CHECK_EQ_INT(zero, 1);

    /* ranges and sizes where labels crowd: never closer than the gap, always distinct */
    static const double ranges[][2] = {{-50, 50}, {3.1, 7.9},    {0, 1e6},     {-0.0031, 0.0022},
                                       {1e9, 2e9}, {-1e-7, 1e-7}, {123456, 123457}, {0.5, 0.5001}};
    static const int32_t sizes[][3] = {{1, 0, 0}, {3, 0, 0}, {16, 1000, 800}, {5, 700, 300}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            double xs[2] = {ranges[r][0], ranges[r][1]};
            ae_plot_series ss[16];
            for (int i = 0; i < 16; i++) ss[i] = (ae_plot_series){"h", NULL, xs, xs, 2};
            ae_plot_params q = ae_plot_default_params();
            q.has_x_cut = 0;
            q.width = sizes[z][1], q.height = sizes[z][2];
            char what[96];
            snprintf(what, sizeof what, "[%g, %g] in %d panels of %dx%d", xs[0], xs[1],
                     (int)sizes[z][0], (int)q.width, (int)q.height);
            CHECK_EQ_INT(ae_plot_layout_compute(ss, sizes[z][0], &q, &L), AE_OK);
            check_axis(&L.x, what);
            check_labels_apart(&L.x, &L.panel[0].frame, L.scale, 1, what);
            check_labels_apart(&L.panel[0].y, &L.panel[0].frame, L.scale, 0, what);
        }

    /* constant values: padded by max(|v| / 10, 1); none at all: [0, 1] */
    double c3[4] = {3, 3, 3, 3}, c0[4] = {0, 0, 0, 0}, big[4] = {200, 200, 200, 200};
    ae_plot_series cs[3] = {{"a", NULL, c3, c3, 4}, {"b", NULL, c3, c0, 4}, {"c", NULL, c3, big, 4}};
    p.has_x_cut = 0;
    CHECK_EQ_INT(ae_plot_layout_compute(cs, 3, &p, &L), AE_OK);
    CHECK_NEAR(L.x.lo, 2, 0);
    CHECK_NEAR(L.x.hi, 4, 0);
    CHECK_NEAR(L.panel[0].y.lo, 2, 0);
    CHECK_NEAR(L.panel[1].y.lo, -1, 0);
    CHECK_NEAR(L.panel[1].y.hi, 1, 0);
    CHECK_NEAR(L.panel[2].y.lo, 180, 0);
    CHECK_NEAR(L.panel[2].y.hi, 220, 0);
    for (int i = 0; i < 3; i++) check_axis(&L.panel[i].y, "constant y");
    ae_plot_series none = {"none", NULL, NULL, NULL, 0};
    CHECK_EQ_INT(ae_plot_layout_compute(&none, 1, &p, &L), AE_OK);
    CHECK_NEAR(L.x.lo, 0, 0);
    CHECK_NEAR(L.x.hi, 1, 0);
    CHECK_EQ_INT(L.panel[0].y.nticks, 0);
    /* the cut widens the x range */
    p.has_x_cut = 1, p.x_cut = 5;
    CHECK_EQ_INT(ae_plot_layout_compute(cs, 1, &p, &L), AE_OK);
    CHECK_NEAR(L.x.lo, 3 - 0.08, 1e-12);
    CHECK_NEAR(L.x.hi, 5 + 0.08, 1e-12);
}

static void test_colors(void)
{
    static const uint32_t okabe_ito[8] = {0xe69f00, 0x56b4e9, 0x009e73, 0xf0e442,
                                          0x0072b2, 0xd55e00, 0xcc79a7, 0x000000};
    for (int32_t i = 0; i < 8; i++) {
        int in = 0;
        for (int k = 0; k < 8; k++) in |= ae_plot_color(i) == okabe_ito[k];
        CHECK_MSG(in, "colour %d = %06x", (int)i, (unsigned)ae_plot_color(i));
        for (int32_t j = 0; j < i; j++) CHECK(ae_plot_color(i) != ae_plot_color(j));
        CHECK_EQ_INT(ae_plot_color(i + 8), ae_plot_color(i));
    }
    CHECK_EQ_INT(ae_plot_color(0), 0x0072b2);
    CHECK_EQ_INT(ae_plot_color(7), 0xf0e442); /* the palest last */
}

/* One point, then the cut line: where the mapping says, in the colour the blend says. */
static void test_point_and_cut(void)
{
    double x[1] = {3.37}, y[1] = {7.13};
    ae_plot_series s = {"one", "a note", x, y, 1};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L;
    uint8_t *rgb;
    int32_t w, h;
    CHECK_EQ_INT(ae_plot_layout_compute(&s, 1, &p, &L), AE_OK);
    CHECK_EQ_INT(ae_plot_render_rgb(&s, 1, &p, &rgb, &w, &h), AE_OK);
    if (!rgb) return;
    CHECK_EQ_INT(w, L.width);
    CHECK_EQ_INT(h, L.height);
    const ae_plot_rect *f = &L.panel[0].frame;
    const int32_t px = col_of(&L.x, f, 3.37), py = row_of(&L.panel[0].y, f, 7.13), r = L.scale;
    const uint32_t want = blended(ae_plot_color(0), WHITE, 216);
    CHECK(!on_grid_col(&L, f, px) && !on_grid_row(&L.panel[0].y, f, py));
    CHECK_MSG(pixel(rgb, w, px, py) == want, "centre %06x, expected %06x",
              (unsigned)pixel(rgb, w, px, py), (unsigned)want);
    /* the disc: radius = scale */
    CHECK_EQ_INT(pixel(rgb, w, px + r, py), want);
    CHECK_EQ_INT(pixel(rgb, w, px, py - r), want);
    /* and background elsewhere: a ring just outside it, and the frame's corners */
    int32_t ring = 0, clean = 0;
    for (int32_t dy = -r - 2; dy <= r + 2; dy++)
        for (int32_t dx = -r - 2; dx <= r + 2; dx++) {
            if (dx * dx + dy * dy <= (r + 1) * (r + 1)) continue;
            if (on_grid_col(&L, f, px + dx) || on_grid_row(&L.panel[0].y, f, py + dy)) continue;
            ring++;
            clean += pixel(rgb, w, px + dx, py + dy) == WHITE;
        }
    CHECK(ring > 8);
    CHECK_EQ_INT(clean, ring);
    int32_t whites = 0, corners = 0;
    const int32_t cx[2] = {f->x + 1, f->x + f->w - 2}, cy[2] = {f->y + 1, f->y + f->h - 2};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            if (on_grid_col(&L, f, cx[i]) || on_grid_row(&L.panel[0].y, f, cy[j])) continue;
            corners++;
            whites += pixel(rgb, w, cx[i], cy[j]) == WHITE;
        }
    CHECK(corners >= 1);
    CHECK_EQ_INT(whites, corners);

    /* the cut at x = 5: a dashed dark gray column, the columns beside it clear of it */
    const int32_t cut = col_of(&L.x, f, 5.0);
    int32_t dark = 0, beside = 0;
    for (int32_t yy = f->y; yy < f->y + f->h; yy++) {
        uint32_t v = pixel(rgb, w, cut, yy), u = pixel(rgb, w, cut + 1, yy);
        dark += (v >> 16) == (v & 0xff) && (v >> 16) < 0xa0;
        beside += (u >> 16) < 0xa0;
    }
    CHECK_MSG(dark >= f->h / 2 && dark < f->h, "cut column: %d of %d dark", (int)dark, (int)f->h);
    CHECK_EQ_INT(beside, 0);
    CHECK(((pixel(rgb, w, cut, f->y) >> 16) & 0xff) < 0xa0); /* a dash starts at the top */
    free(rgb);

    /* no cut, no line */
    p.has_x_cut = 0;
    CHECK_EQ_INT(ae_plot_layout_compute(&s, 1, &p, &L), AE_OK);
    CHECK_EQ_INT(ae_plot_render_rgb(&s, 1, &p, &rgb, &w, &h), AE_OK);
    if (!rgb) return;
    int32_t any = 0;
    for (int32_t xx = f->x; xx < f->x + f->w; xx++)
        for (int32_t yy = f->y; yy < f->y + f->h; yy++) {
            uint32_t v = pixel(rgb, w, xx, yy);
            any += (v >> 16) == (v & 0xff) && (v >> 16) < 0xa0;
        }
    CHECK_EQ_INT(any, 0);
    free(rgb);
}

static int32_t count_color(const uint8_t *rgb, int32_t w, const ae_plot_rect *f, uint32_t c)
{
    int32_t n = 0;
    for (int32_t y = f->y; y < f->y + f->h; y++)
        for (int32_t x = f->x; x < f->x + f->w; x++) n += pixel(rgb, w, x, y) == c;
    return n;
}

static void test_two_panels(void)
{
    double xa[3] = {2.3, 4.6, 7.7}, ya[3] = {1.1, 2.9, 5.3};
    double xb[3] = {3.1, 6.2, 8.6}, yb[3] = {-37.3, 3.3, 42.6};
    ae_plot_series s[2] = {{"a", NULL, xa, ya, 3}, {"b", NULL, xb, yb, 3}};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L;
    uint8_t *rgb;
    int32_t w, h;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 2, &p, &L), AE_OK);
    CHECK_EQ_INT(ae_plot_render_rgb(s, 2, &p, &rgb, &w, &h), AE_OK);
    if (!rgb) return;
    const uint32_t a = blended(ae_plot_color(0), WHITE, 216);
    const uint32_t b = blended(ae_plot_color(1), WHITE, 216);
    CHECK(count_color(rgb, w, &L.panel[0].frame, a) >= 3 * 9);
    CHECK_EQ_INT(count_color(rgb, w, &L.panel[0].frame, b), 0);
    CHECK(count_color(rgb, w, &L.panel[1].frame, b) >= 3 * 9);
    CHECK_EQ_INT(count_color(rgb, w, &L.panel[1].frame, a), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(pixel(rgb, w, col_of(&L.x, &L.panel[0].frame, xa[i]),
                           row_of(&L.panel[0].y, &L.panel[0].frame, ya[i])), a);
        CHECK_EQ_INT(pixel(rgb, w, col_of(&L.x, &L.panel[1].frame, xb[i]),
                           row_of(&L.panel[1].y, &L.panel[1].frame, yb[i])), b);
    }
    /* the title swatch in the series' colour, unblended */
    for (int i = 0; i < 2; i++) {
        const ae_plot_panel *P = &L.panel[i];
        CHECK_EQ_INT(pixel(rgb, w, P->frame.x + 2 * L.scale, P->cell.y + 4 * L.scale + 3 * L.scale),
                     ae_plot_color(i));
    }
    free(rgb);
}

/* darker than the light grays of grid and frame: text, ticks */
static int dark(uint32_t v)
{
    return ((v >> 16) & 0xff) < 0x80 && ((v >> 8) & 0xff) < 0x80 && (v & 0xff) < 0x80;
}

static int32_t dark_pixels(const uint8_t *rgb, int32_t w, ae_plot_rect r)
{
    int32_t n = 0;
    for (int32_t y = r.y; y < r.y + r.h; y++)
        for (int32_t x = r.x; x < r.x + r.w; x++) n += dark(pixel(rgb, w, x, y));
    return n;
}

static void test_nonfinite(void)
{
    double x[6] = {3.3, NAN, 4.4, INFINITY, 5.5, 6.6}, y[6] = {1.0, 2.0, NAN, 3.0, -INFINITY, 2.2};
    double fx[2] = {3.3, 6.6}, fy[2] = {1.0, 2.2}, ox[2] = {NAN, 4}, oy[2] = {0, 1};
    /* a second panel with a skipped point of its own, so that both images have the line
     * "N skipped: NaN or infinite" over their frames and frames of one size */
    ae_plot_series s[2] = {{"mixed", NULL, x, y, 6}, {"other", NULL, ox, oy, 2}};
    ae_plot_series f[2] = {{"mixed", NULL, fx, fy, 2}, {"other", NULL, ox, oy, 2}};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L, LF;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 2, &p, &L), AE_OK);
    CHECK_EQ_INT(L.panel[0].points, 2);
    CHECK_EQ_INT(L.panel[0].skipped, 4);
    CHECK_EQ_INT(L.panel[1].skipped, 1);
    CHECK_EQ_INT(ae_plot_layout_compute(f, 2, &p, &LF), AE_OK);
    CHECK(memcmp(&L.x, &LF.x, sizeof L.x) == 0);
    CHECK(memcmp(&L.panel[0].y, &LF.panel[0].y, sizeof L.x) == 0);
    CHECK(memcmp(&L.panel[0].frame, &LF.panel[0].frame, sizeof L.panel[0].frame) == 0);
    /* the frame (the data) is the same as without the non-finite points; the header is not */
    uint8_t *a, *b;
    int32_t w, h, w2, h2;
    CHECK_EQ_INT(ae_plot_render_rgb(s, 2, &p, &a, &w, &h), AE_OK);
    CHECK_EQ_INT(ae_plot_render_rgb(f, 2, &p, &b, &w2, &h2), AE_OK);
    if (a && b) {
        const ae_plot_rect *fr = &L.panel[0].frame;
        int32_t diff = 0;
        for (int32_t yy = fr->y; yy < fr->y + fr->h; yy++)
            diff += memcmp(a + ((size_t)yy * w + fr->x) * 3, b + ((size_t)yy * w + fr->x) * 3,
                           (size_t)fr->w * 3) != 0;
        CHECK_EQ_INT(diff, 0);
        CHECK(memcmp(a, b, (size_t)w * h * 3) != 0);
        /* "4 skipped: ..." on the second line over the frame (no notes), nothing there in b */
        ae_plot_rect line = {fr->x, L.panel[0].cell.y + (4 + 11) * L.scale, fr->w, 7 * L.scale};
        CHECK(dark_pixels(a, w, line) > 50);
        CHECK_EQ_INT(dark_pixels(b, w, line), 0);
    }
    free(a);
    free(b);

    /* only non-finite points: a panel of its own, saying "no data" in its middle */
    double nx[3] = {NAN, NAN, 1}, ny[3] = {1, 2, NAN};
    double gx[2] = {2.5, 7.5}, gy[2] = {0.25, 0.75};
    ae_plot_series two[2] = {{"good", NULL, gx, gy, 2}, {"bad", NULL, nx, ny, 3}};
    p.has_x_cut = 0; /* its dashes would cross the middle */
    CHECK_EQ_INT(ae_plot_layout_compute(two, 2, &p, &L), AE_OK);
    CHECK_EQ_INT(L.panel[1].points, 0);
    CHECK_EQ_INT(L.panel[1].skipped, 3);
    CHECK_EQ_INT(L.panel[1].y.nticks, 0);
    CHECK(L.panel[0].y.nticks >= 2);
    CHECK_EQ_INT(ae_plot_render_rgb(two, 2, &p, &a, &w, &h), AE_OK);
    if (a) {
        const ae_plot_rect *fr = &L.panel[1].frame;
        ae_plot_rect mid = {fr->x + fr->w / 4, fr->y + fr->h / 2 - 7 * L.scale, fr->w / 2,
                            14 * L.scale};
        int32_t text = 0;
        for (int32_t yy = mid.y; yy < mid.y + mid.h; yy++)
            for (int32_t xx = mid.x; xx < mid.x + mid.w; xx++) {
                uint32_t v = pixel(a, w, xx, yy);
                text += (v >> 16) == (v & 0xff) && (v >> 16) < 0x80;
            }
        CHECK(text > 20);
        CHECK_EQ_INT(count_color(a, w, fr, blended(ae_plot_color(1), WHITE, 216)), 0);
    }
    free(a);
}

static void test_constant(void)
{
    double x[50], y[50];
    for (int i = 0; i < 50; i++) x[i] = 5, y[i] = 0;
    ae_plot_series s = {"flat", NULL, x, y, 50};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L;
    uint8_t *rgb;
    int32_t w, h;
    CHECK_EQ_INT(ae_plot_layout_compute(&s, 1, &p, &L), AE_OK);
    CHECK_NEAR(L.x.lo, 4, 0);
    CHECK_NEAR(L.x.hi, 6, 0);
    CHECK_EQ_INT(ae_plot_render_rgb(&s, 1, &p, &rgb, &w, &h), AE_OK);
    if (!rgb) return;
    /* all 50 at the centre of the frame, blended over each other into the colour itself */
    const ae_plot_rect *f = &L.panel[0].frame;
    CHECK_EQ_INT(col_of(&L.x, f, 5), f->x + (f->w - 1 + 1) / 2);
    uint32_t c = pixel(rgb, w, col_of(&L.x, f, 5), row_of(&L.panel[0].y, f, 0));
    uint32_t col = ae_plot_color(0);
    for (int k = 0; k <= 16; k += 8)
        CHECK_MSG(abs((int)(c >> k & 0xff) - (int)(col >> k & 0xff)) <= 2, "centre %06x, colour %06x",
                  (unsigned)c, (unsigned)col);
    free(rgb);
}

/* Values at the ends of double's range draw without overflow (UBSan would see a bad
 * conversion) and with finite axes. */
static void test_extremes(void)
{
    double x[4] = {-DBL_MAX, DBL_MAX, 0, 1e-310}, y[4] = {DBL_MAX, -DBL_MAX, 5e-324, 1};
    double nx[3] = {1e300, 1e300 * (1 + 4e-16), 1e300}, ny[3] = {1e-300, 2e-300, 3e-300};
    double tx[2] = {1, 1 + 1e-15}, ty[2] = {1e15, 1e15 + 1};
    ae_plot_series s[3] = {
        {"max", NULL, x, y, 4}, {"close", NULL, nx, ny, 3}, {"eps", NULL, tx, ty, 2}};
    ae_plot_params p = ae_plot_default_params();
    for (int i = 0; i < 3; i++) {
        ae_plot_layout L;
        CHECK_EQ_INT(ae_plot_layout_compute(&s[i], 1, &p, &L), AE_OK);
        CHECK(isfinite(L.x.lo) && isfinite(L.x.hi) && L.x.lo < L.x.hi);
        const ae_plot_axis *ya = &L.panel[0].y;
        CHECK(isfinite(ya->lo) && isfinite(ya->hi) && ya->lo < ya->hi);
        CHECK_EQ_INT(L.panel[0].points, s[i].n);
        uint8_t *rgb = NULL;
        int32_t w, h;
        CHECK_EQ_INT(ae_plot_render_rgb(&s[i], 1, &p, &rgb, &w, &h), AE_OK);
        free(rgb);
    }
}

static void test_text(void)
{
    double x[2] = {2, 8}, y[2] = {1, 2};
    char longname[300];
    memset(longname, 'W', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ae_plot_series s[4] = {{"", NULL, x, y, 2}, {"Head", NULL, x, y, 2}, {longname, NULL, x, y, 2},
                           {"caf\xc3\xa9", NULL, x, y, 2}};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L;
    uint8_t *rgb;
    int32_t w, h;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 4, &p, &L), AE_OK);
    CHECK_EQ_INT(ae_plot_render_rgb(s, 4, &p, &rgb, &w, &h), AE_OK);
    if (!rgb) return;
    const int32_t sc = L.scale;
    for (int i = 0; i < 4; i++) {
        const ae_plot_panel *P = &L.panel[i];
        /* the name: right of the swatch, on the title line, left of "n=2" */
        const int32_t wc = (3 * 6 - 1) * sc, nx1 = P->frame.x + P->frame.w - wc;
        ae_plot_rect name = {P->frame.x + 8 * sc, P->cell.y + 4 * sc, 0, 7 * sc};
        name.w = nx1 - name.x;
        int32_t d = dark_pixels(rgb, w, name);
        if (i == 0) CHECK_EQ_INT(d, 0);
        else CHECK_MSG(d > 20, "panel %d: %d dark pixels in the name", i, (int)d);
        /* "n=2" is there, and a truncated name stops a few characters before it */
        ae_plot_rect cnt = {nx1, name.y, wc + 1, name.h};
        ae_plot_rect gap = {nx1 - 12 * sc, name.y, 12 * sc, name.h};
        CHECK(dark_pixels(rgb, w, cnt) > 10);
        CHECK_EQ_INT(dark_pixels(rgb, w, gap), 0);
        /* the tick labels under the frame */
        ae_plot_rect under = {P->frame.x, P->frame.y + P->frame.h + 1, P->frame.w, 12 * sc};
        CHECK(dark_pixels(rgb, w, under) > 50);
    }
    /* the long name ends in "...": its last three glyphs have pixels in rows 5 and 6 only */
    const ae_plot_panel *P = &L.panel[2];
    const int32_t ty = P->cell.y + 4 * sc;
    int32_t xr = -1; /* the name's last column: left of "n=2" */
    for (int32_t xx = P->frame.x + 8 * sc; xx < P->frame.x + P->frame.w - (3 * 6 - 1) * sc; xx++)
        for (int32_t yy = ty; yy < ty + 7 * sc; yy++)
            if (dark(pixel(rgb, w, xx, yy))) xr = xx;
    CHECK(xr > P->frame.x + P->frame.w / 2);
    CHECK_EQ_INT(dark_pixels(rgb, w, (ae_plot_rect){xr - 15 * sc, ty, 15 * sc + 1, 5 * sc}), 0);
    /* row 5 (a dot is rows 5 and 6, columns 1 and 2; '_' would be row 6 only) */
    CHECK(dark_pixels(rgb, w, (ae_plot_rect){xr - 15 * sc, ty + 5 * sc, 15 * sc + 1, sc}) >=
          3 * 2 * sc * sc);
    free(rgb);

    /* without axis labels or notes the frame grows */
    ae_plot_layout L2;
    ae_plot_params q = p;
    q.x_label = NULL, q.y_label = "";
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &q, &L2), AE_OK);
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_OK);
    CHECK(L2.panel[0].frame.w > L.panel[0].frame.w);
    CHECK(L2.panel[0].frame.h > L.panel[0].frame.h);
    ae_plot_series noted = s[1];
    noted.note = "acc 0.725  SRCC 0.61  PLCC 0.60";
    ae_plot_layout L3;
    CHECK_EQ_INT(ae_plot_layout_compute(&noted, 1, &p, &L3), AE_OK);
    CHECK(L3.panel[0].frame.y > L.panel[0].frame.y);
}

/* ---- PNG ---------------------------------------------------------------------------- */

typedef struct png_read {
    int32_t w, h, ctype, depth;
    uint8_t *rgb;
} png_read;

static void quiet(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static int read_png(const char *path, png_read *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, quiet);
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(out->rgb);
        out->rgb = NULL;
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w, h;
    png_get_IHDR(png, info, &w, &h, &out->depth, &out->ctype, NULL, NULL, NULL);
    out->w = (int32_t)w, out->h = (int32_t)h;
    size_t rb = png_get_rowbytes(png, info);
    out->rgb = malloc(rb * h);
    rows = malloc(h * sizeof *rows);
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out->rgb + y * rb;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    fclose(f);
    return (size_t)rb == (size_t)w * 3 ? 0 : -1;
}

static int has_tmp_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp.");
    closedir(d);
    return n;
}

/* AVA-like ratings (mean 5.4, sd 0.8, in [1, 10]) and three heads on different scales */
static void synth(int32_t n, uint64_t seed, double *r, double *bank, double *laion, double *logit)
{
    stats_rng g;
    stats_rng_seed(&g, seed);
    for (int32_t i = 0; i < n; i++) {
        double z[4];
        for (int k = 0; k < 4; k++) { /* Box-Muller */
            double u1 = stats_rng_uniform(&g), u2 = stats_rng_uniform(&g);
            z[k] = sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2);
        }
        r[i] = fmin(10, fmax(1, 5.4 + 0.8 * z[0]));
        bank[i] = 9 * (r[i] - 5.4) + 14 * z[1];
        laion[i] = 5.6 + 0.45 * (r[i] - 5.4) + 0.35 * z[2];
        logit[i] = 1.6 * (r[i] - 5.0) + 1.1 * z[3];
    }
}

static char *note(char *buf, size_t cap, const double *pred, double thr, const double *r, int32_t n)
{
    snprintf(buf, cap, "acc %.3f  SRCC %.2f  PLCC %.2f", stats_accuracy(pred, r, n, thr, 5),
             stats_spearman(pred, r, n), stats_pearson(pred, r, n));
    return buf;
}

static void test_png(void)
{
    enum { N = 2000 };
    double *r = malloc(4 * N * sizeof *r);
    if (!r) return;
    double *bank = r + N, *laion = r + 2 * N, *logit = r + 3 * N;
    synth(N, 42, r, bank, laion, logit);
    char n0[64], n1[64], n2[64];
    ae_plot_series s[3] = {{"prompt-bank", note(n0, 64, bank, 0, r, N), r, bank, N},
                           {"laion-v2-vit-l-14", note(n1, 64, laion, 5, r, N), r, laion, N},
                           {"logistic", note(n2, 64, logit, 0, r, N), r, logit, N}};
    ae_plot_params p = ae_plot_default_params();
    const char *path = test_tmp("eval.png"), *again = test_tmp("eval2.png");
    CHECK_EQ_INT(ae_plot_scatter_png(path, s, 3, &p), AE_OK);
    CHECK_EQ_INT(ae_plot_scatter_png(again, s, 3, &p), AE_OK);
    uint8_t *rgb = NULL;
    int32_t w = 0, h = 0;
    CHECK_EQ_INT(ae_plot_render_rgb(s, 3, &p, &rgb, &w, &h), AE_OK);
    png_read pr;
    CHECK_EQ_INT(read_png(path, &pr), 0);
    CHECK_EQ_INT(pr.w, 1440);
    CHECK_EQ_INT(pr.h, 360);
    CHECK_EQ_INT(pr.ctype, PNG_COLOR_TYPE_RGB);
    CHECK_EQ_INT(pr.depth, 8);
    if (pr.rgb && rgb && pr.w == w && pr.h == h) {
        CHECK(memcmp(pr.rgb, rgb, (size_t)w * h * 3) == 0);
        /* a few pixels by name: the corner, a swatch, a point */
        ae_plot_layout L;
        CHECK_EQ_INT(ae_plot_layout_compute(s, 3, &p, &L), AE_OK);
        CHECK_EQ_INT(pixel(pr.rgb, w, 0, 0), WHITE);
        const ae_plot_panel *P = &L.panel[1];
        CHECK_EQ_INT(pixel(pr.rgb, w, P->frame.x + 2 * L.scale, P->cell.y + 7 * L.scale),
                     ae_plot_color(1));
        uint32_t v = pixel(pr.rgb, w, col_of(&L.x, &L.panel[2].frame, r[0]),
                           row_of(&L.panel[2].y, &L.panel[2].frame, logit[0]));
        CHECK(v != WHITE && (v & 0xff) > ((v >> 16) & 0xff)); /* bluish green, tinted */
    }
    free(pr.rgb);
    /* deterministic: the same bytes twice, and the same pixels twice */
    size_t na = 0, nb = 0;
    char *a = read_file(path, &na), *b = read_file(again, &nb);
    CHECK(a && b && na == nb && na > 1000 && memcmp(a, b, na) == 0);
    CHECK(a && memcmp(a, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(a);
    free(b);
    uint8_t *rgb2 = NULL;
    CHECK_EQ_INT(ae_plot_render_rgb(s, 3, &p, &rgb2, &w, &h), AE_OK);
    CHECK(rgb && rgb2 && memcmp(rgb, rgb2, (size_t)w * h * 3) == 0);
    free(rgb);
    free(rgb2);
    CHECK_EQ_INT(has_tmp_files(test_tmpdir(), "eval"), 0);

    /* an existing file is replaced whole */
    FILE *f = fopen(test_tmp("old.png"), "wb");
    if (f) {
        fputs("not a png", f);
        fclose(f);
    }
    CHECK_EQ_INT(ae_plot_scatter_png(test_tmp("old.png"), s, 1, &p), AE_OK);
    CHECK_EQ_INT(read_png(test_tmp("old.png"), &pr), 0);
    CHECK_EQ_INT(pr.w, 480);
    free(pr.rgb);
    struct stat st;
    CHECK(stat(test_tmp("old.png"), &st) == 0 && (st.st_mode & 0777) == 0644);

    /* the examples to look at */
    const char *keep = getenv("AE_PLOT_KEEP");
    char out[4200];
    snprintf(out, sizeof out, "%s/plot-3-heads.png", keep && *keep ? keep : test_tmpdir());
    CHECK_EQ_INT(ae_plot_scatter_png(out, s, 3, &p), AE_OK);
    if (keep && *keep) printf("example: %s\n", out);
    free(r);
}

static void test_examples(void)
{
    enum { N = 25000 };
    double *r = malloc(4 * N * sizeof *r);
    if (!r) return;
    double *bank = r + N, *laion = r + 2 * N, *logit = r + 3 * N;
    synth(N, 7, r, bank, laion, logit);
    for (int i = 0; i < N; i += 97) laion[i] = NAN; /* a head that failed on some images */
    ae_plot_series s[AE_PLOT_MAX_SERIES];
    static char names[AE_PLOT_MAX_SERIES][64], notes[AE_PLOT_MAX_SERIES][64];
    for (int i = 0; i < AE_PLOT_MAX_SERIES; i++) {
        const double *y = i % 3 == 0 ? bank : i % 3 == 1 ? laion : logit;
        if (i == 5) snprintf(names[i], 64, "a head with a name much too long for its panel");
        else snprintf(names[i], 64, "head-%d", i);
        note(notes[i], 64, y, i % 3 == 1 ? 5 : 0, r, 2000);
        s[i] = (ae_plot_series){names[i], notes[i], r, y, i == 15 ? 0 : 2000};
    }
    ae_plot_params p = ae_plot_default_params();
    const char *keep = getenv("AE_PLOT_KEEP");
    const char *dir = keep && *keep ? keep : test_tmpdir();
    char out[4200];
    snprintf(out, sizeof out, "%s/plot-16-heads.png", dir);
    CHECK_EQ_INT(ae_plot_scatter_png(out, s, 16, &p), AE_OK);
    /* 25,000 points: density through opacity */
    char nb[64], nl[64];
    ae_plot_series big[2] = {{"prompt-bank", note(nb, 64, bank, 0, r, N), r, bank, N},
                             {"laion-v2 (1 in 97 NaN)", note(nl, 64, laion, 5, r, N), r, laion, N}};
    snprintf(out, sizeof out, "%s/plot-25000.png", dir);
    CHECK_EQ_INT(ae_plot_scatter_png(out, big, 2, &p), AE_OK);
    ae_plot_layout L;
    CHECK_EQ_INT(ae_plot_layout_compute(big, 2, &p, &L), AE_OK);
    CHECK_EQ_INT(L.panel[1].skipped, (N + 96) / 97);
    CHECK_EQ_INT(L.panel[1].points, N - (N + 96) / 97);
    free(r);
}

static void test_errors(void)
{
    double x[2] = {1, 2}, y[2] = {3, 4};
    ae_plot_series s[AE_PLOT_MAX_SERIES + 1];
    for (int i = 0; i <= AE_PLOT_MAX_SERIES; i++) s[i] = (ae_plot_series){"h", NULL, x, y, 2};
    ae_plot_params p = ae_plot_default_params();
    ae_plot_layout L;

    /* a missing folder: AE_ERR_IO naming the path and the cause, nothing written */
    const char *missing = test_tmp("no/such/dir/plot.png");
    CHECK_EQ_INT(ae_plot_scatter_png(missing, s, 1, &p), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), missing);
    CHECK_STR_CONTAINS(ae_last_error(), "cannot write: No such file or directory");
    /* a target that cannot be replaced (a folder): the temporary file is removed again */
    const char *dir = test_tmp("adir");
    CHECK(mkdir(dir, 0755) == 0);
    CHECK_EQ_INT(ae_plot_scatter_png(dir, s, 1, &p), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), dir);
    CHECK_STR_CONTAINS(ae_last_error(), ": cannot write: ");
    CHECK_EQ_INT(has_tmp_files(test_tmpdir(), "adir"), 0);

    /* 17 series */
    const char *path = test_tmp("err.png");
    CHECK_EQ_INT(ae_plot_scatter_png(path, s, AE_PLOT_MAX_SERIES + 1, &p), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "17 series, at most 16");
    struct stat st;
    CHECK(stat(path, &st) != 0 && errno == ENOENT);
    CHECK_EQ_INT(ae_plot_layout_compute(s, AE_PLOT_MAX_SERIES, &p, &L), AE_OK);
    CHECK_EQ_INT(ae_plot_layout_compute(s, 0, &p, &L), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_plot_layout_compute(NULL, 1, &p, &L), AE_ERR_INVALID);
    /* sizes */
    p.width = 8193;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_ERR_TOO_LARGE);
    CHECK_STR_CONTAINS(ae_last_error(), "at most 8192");
    p.width = 8192, p.height = 8192;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_OK);
    CHECK_EQ_INT(L.scale, 4);
    p.width = 300, p.height = 200;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 16, &p, &L), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "too small");
    p.width = -1;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_ERR_INVALID);
    p = ae_plot_default_params();
    p.x_cut = NAN;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_ERR_INVALID);
    p.has_x_cut = 0; /* ignored when off */
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, &p, &L), AE_OK);
    /* bad series */
    s[1].n = -1;
    CHECK_EQ_INT(ae_plot_layout_compute(s, 2, &p, &L), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "series 1");
    s[1] = (ae_plot_series){"h", NULL, NULL, y, 2};
    CHECK_EQ_INT(ae_plot_layout_compute(s, 2, &p, &L), AE_ERR_INVALID);
    uint8_t *rgb = (uint8_t *)1;
    int32_t w, h;
    CHECK_EQ_INT(ae_plot_render_rgb(s, 2, &p, &rgb, &w, &h), AE_ERR_INVALID);
    CHECK(rgb == NULL);
    CHECK_EQ_INT(ae_plot_scatter_png("", s, 1, &p), AE_ERR_INVALID);
    /* NULL params: the defaults */
    CHECK_EQ_INT(ae_plot_layout_compute(s, 1, NULL, &L), AE_OK);
    CHECK_EQ_INT(L.width, 480);
}

/* the temporary-file-and-rename helper under ae_plot_scatter_png, on its own */
static void test_atomic(void)
{
    const char *path = test_tmp("atomic.txt");
    ae_atomic_file af;
    CHECK_EQ_INT(ae_file_atomic_open(path, &af), AE_OK);
    CHECK(af.fp && fputs("first", af.fp) >= 0);
    CHECK_EQ_INT(has_tmp_files(test_tmpdir(), "atomic.txt"), 1);
    struct stat st;
    CHECK(stat(path, &st) != 0); /* nothing at the target until the commit */
    CHECK_EQ_INT(ae_file_atomic_commit(&af), AE_OK);
    CHECK(af.fp == NULL && af.tmp == NULL);
    char *got = read_file(path, NULL);
    CHECK(got && strcmp(got, "first") == 0);
    free(got);
    /* an abort leaves the old file as it was and no temporary file */
    CHECK_EQ_INT(ae_file_atomic_open(path, &af), AE_OK);
    CHECK(fputs("second", af.fp) >= 0);
    ae_file_atomic_abort(&af);
    got = read_file(path, NULL);
    CHECK(got && strcmp(got, "first") == 0);
    free(got);
    CHECK_EQ_INT(has_tmp_files(test_tmpdir(), "atomic.txt"), 0);
    CHECK_EQ_INT(ae_file_atomic_open("", &af), AE_ERR_INVALID);
}

int main(void)
{
    test_layout();
    test_axes();
    test_colors();
    test_point_and_cut();
    test_two_panels();
    test_nonfinite();
    test_constant();
    test_extremes();
    test_text();
    test_png();
    test_examples();
    test_errors();
    test_atomic();
    return test_summary();
}
