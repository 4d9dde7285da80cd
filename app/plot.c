/*
 * plot.c — the small-multiples scatter PNG of `aesthete eval` (plot.h): layout, axes, a 5x7
 * bitmap font, alpha-blended discs into an RGB buffer, and the PNG through libpng.
 *
 * Everything is integer pixel arithmetic on one RGB buffer, drawn in a fixed order (grid, cut
 * line, points, frame, ticks, text), so the output depends on nothing but the input. Sizes
 * below are in font pixels (FP), multiplied by the layout's scale.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "error.h"
#include "fileio.h"
#include "plot.h"

/* ---- sizes, colours, the font ---------------------------------------------------------- */

enum {
    GW = 5, GH = 7, DESC = 2, /* glyph width, height above the baseline, below it (FP) */
    ADV = 6,                 /* the glyph cell's width */
    LEAD = 4,                /* between lines of text: the descenders and 2 FP */
    PAD = 4,                 /* the cell's inner margin */
    TICK = 3,                /* tick length, outwards */
    GAP = 2,                 /* between a tick and its label; the least space between labels */
    TICK_SPACE = 14,         /* the least distance between ticks */
    MAX_LABEL = 8,           /* tick labels longer than this switch to %g */
    MAX_TEXT = 512,          /* characters of a name or note considered */
    MIN_FRAME = 32,          /* pixels, either side of a frame */
};

/* Printable ASCII 0x20..0x7e, 5 columns by 7 rows above the baseline and 2 below it for the
 * descenders (g j p q y , ;): one byte per row, top row first, bit 4 the left column. Drawn in
 * a cell 6 wide (one column of space after each glyph). Designed for this file. */
static const uint8_t font[95][GH + DESC] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00}, /* ! */
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00, 0x00}, /* # */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00, 0x00}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00}, /* % */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00, 0x00}, /* & */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00}, /* ) */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00}, /* / */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00}, /* 9 */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00}, /* : */
    {0x00, 0x0c, 0x0c, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00}, /* < */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00}, /* > */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00}, /* ? */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00, 0x00}, /* @ */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}, /* A */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00, 0x00}, /* B */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}, /* C */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00, 0x00}, /* D */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00, 0x00}, /* E */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}, /* F */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00, 0x00}, /* G */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}, /* H */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00, 0x00}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00, 0x00}, /* L */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00}, /* N */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}, /* P */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00, 0x00}, /* Q */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00, 0x00}, /* R */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00, 0x00}, /* S */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00, 0x00}, /* W */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00, 0x00}, /* X */
    {0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x00, 0x00}, /* Y */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00, 0x00}, /* Z */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00, 0x00}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00, 0x00}, /* backslash */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00, 0x00}, /* ] */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00}, /* _ */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00, 0x00}, /* b */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}, /* c */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00, 0x00}, /* d */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00}, /* e */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00}, /* f */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}, /* h */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00}, /* k */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* l */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11, 0x00, 0x00}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}, /* n */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* o */
    {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00}, /* r */
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00}, /* s */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00}, /* w */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00, 0x00}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00, 0x00}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00}, /* ~ */
};


/* Colours, 0xRRGGBB, on a white background. */
#define C_GRID 0xe6e6e6u
#define C_FRAME 0x9a9a9au
#define C_TICK 0x6e6e6eu
#define C_CUT 0x6e6e6eu
#define C_TEXT 0x1e1e1eu
#define C_SUBTLE 0x5a5a5au

/* Okabe & Ito (2008), "Color Universal Design": distinguishable under the common forms of
 * colour blindness. Yellow is hard to see on white, so it comes last. */
static const uint32_t palette[8] = {0x0072b2, 0xd55e00, 0x009e73, 0xcc79a7,
                                    0xe69f00, 0x56b4e9, 0x000000, 0xf0e442};

uint32_t ae_plot_color(int32_t i)
{
    return palette[(uint32_t)i % 8u];
}

ae_plot_params ae_plot_default_params(void)
{
    ae_plot_params p = {0};
    p.x_label = "rating";
    p.y_label = "score";
    p.x_cut = 5;
    p.has_x_cut = 1;
    return p;
}

/* Text as glyph indices into font: printable ASCII as is, every other byte and every UTF-8
 * sequence (a lead byte and its continuation bytes) as one '?'. At most cap glyphs. */
static int32_t glyphs(const char *s, char *out, int32_t cap)
{
    int32_t n = 0;
    if (!s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f) {
            out[n++] = (char)*p;
            continue;
        }
        out[n++] = '?';
        if (*p >= 0xc0)
            while ((p[1] & 0xc0) == 0x80) p++;
    }
    return n;
}

/* Width in pixels of n glyphs at scale s (no space after the last). */
static int32_t text_w(int32_t n, int32_t s)
{
    return n > 0 ? (n * ADV - 1) * s : 0;
}

/* Shortens g[0..n) to fit in max_px pixels, ending it in "..." when cut; returns the new n. */
static int32_t fit(char *g, int32_t n, int32_t max_px, int32_t s)
{
    if (text_w(n, s) <= max_px) return n;
    int32_t k = 0;
    while (text_w(k + 1 + 3, s) <= max_px) k++;
    if (text_w(k + 3, s) > max_px) return 0;
    memcpy(g + k, "...", 3);
    return k + 3;
}

/* ---- axes ----------------------------------------------------------------------------- */

/* The span drawn for values in [mn, mx] (has: any values at all); see plot.h. */
static void span(int has, double mn, double mx, double *lo, double *hi)
{
    if (!has) {
        *lo = 0, *hi = 1;
    } else if (mn == mx) {
        double h = fmax(fabs(mn) / 10, 1);
        *lo = mn - h, *hi = mx + h;
    } else {
        double pad = (mx / 2 - mn / 2) * 0.08; /* 4% of the width, halved: no overflow */
        *lo = fmax(mn - pad, -DBL_MAX), *hi = fmin(mx + pad, DBL_MAX);
    }
}

/* (v - lo) / (hi - lo) in [0, 1], without overflow for any finite lo < hi. */
static double unit(double lo, double hi, double v)
{
    double t = (v / 2 - lo / 2) / (hi / 2 - lo / 2);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static int32_t to_px(double t, int32_t len)
{
    return (int32_t)floor(t * (len - 1) + 0.5);
}

static double tick_value(const ae_plot_axis *a, int32_t k)
{
    double v = (round(a->first / a->step) + k) * a->step;
    return v == 0 ? 0 : v; /* no "-0" */
}

/* The label format of a's ticks (ae_plot_axis.digits): the step's decimals for "%.*f" when
 * every label then fits in MAX_LABEL characters, else -(significant digits) for "%.*g", the
 * fewest that tell consecutive ticks apart. */
static int32_t label_digits(const ae_plot_axis *a)
{
    int32_t dec = (int32_t)fmax(0, -floor(log10(a->step) + 1e-9));
    char b[400];
    int ok = dec <= 12;
    for (int32_t k = 0; ok && k < a->nticks; k++)
        ok = snprintf(b, sizeof b, "%.*f", (int)dec, tick_value(a, k)) <= MAX_LABEL;
    if (ok) return dec;
    int32_t g = 1;
    for (; g < 17; g++) {
        char prev[40] = "", cur[40];
        int distinct = 1;
        for (int32_t k = 0; distinct && k < a->nticks; k++) {
            snprintf(cur, sizeof cur, "%.*g", (int)g, tick_value(a, k));
            distinct = k == 0 || strcmp(cur, prev) != 0;
            memcpy(prev, cur, sizeof prev);
        }
        if (distinct) break;
    }
    return -g;
}

int32_t ae_plot_tick_label(const ae_plot_axis *a, int32_t k, char *buf, size_t cap)
{
    int32_t d = a->digits;
    double v = tick_value(a, k);
    char b[400];
    if (d >= 0) snprintf(b, sizeof b, "%.*f", (int)d, v);
    else snprintf(b, sizeof b, "%.*g", (int)-d, v);
    if (cap) snprintf(buf, cap, "%s", b);
    return (int32_t)strlen(b);
}

/* The widest tick label of a, in characters. */
static int32_t widest_label(const ae_plot_axis *a)
{
    char b[40];
    int32_t w = 0;
    for (int32_t k = 0; k < a->nticks; k++) {
        int32_t n = ae_plot_tick_label(a, k, b, sizeof b);
        if (n > w) w = n;
    }
    return w;
}

/* Ticks for a over len pixels at scale s: the smallest 1-2-5 step at least TICK_SPACE apart
 * whose labels (horizontal: side by side; else stacked) leave GAP between them. No ticks when
 * the values are too close for doubles to tell the multiples of the step apart. */
static void ticks(ae_plot_axis *a, int32_t len, int32_t s, int horizontal)
{
    a->nticks = a->digits = 0;
    a->first = a->lo;
    a->step = 1;
    const double hw = a->hi / 2 - a->lo / 2;  /* half the width: finite for any finite lo, hi */
    const double px_per2 = (len - 1) / hw;     /* pixels per two units */
    double raw = fmin(hw / (len - 1) * 2 * TICK_SPACE * s, DBL_MAX / 100);
    if (!(raw > 0) || !isfinite(px_per2)) return;
    double e = floor(log10(raw));
    static const double mant[3] = {1, 2, 5};
    for (int32_t tries = 0; tries < 40; tries++) {
        double step = 0;
        int32_t m = 0;
        for (; m < 3; m++)
            if ((step = mant[m] * pow(10, e)) >= raw * (1 - 1e-9)) break;
        if (m == 3) {
            e += 1;
            continue;
        }
        if (!isfinite(step) || step <= 0) break;
        double k0 = ceil(a->lo / step), k1 = floor(a->hi / step);
        if (k0 + 1 == k0 || k1 - k0 > 1000) break; /* precision lost */
        a->first = k0 * step;
        a->step = step;
        a->nticks = k1 >= k0 ? (int32_t)(k1 - k0) + 1 : 0;
        a->digits = label_digits(a);
        const double dist = step / 2 * px_per2;
        int fits = 1;
        char b[40];
        for (int32_t k = 0; fits && k + 1 < a->nticks; k++) {
            if (horizontal) {
                int32_t w0 = text_w(ae_plot_tick_label(a, k, b, sizeof b), s);
                int32_t w1 = text_w(ae_plot_tick_label(a, k + 1, b, sizeof b), s);
                fits = dist >= (w0 + w1) / 2.0 + (GAP + 1) * s;
            } else {
                fits = dist >= (GH + GAP) * s + 1;
            }
        }
        if (fits) return;
        raw = step * 1.01; /* the next step up */
        e = floor(log10(raw));
    }
    a->nticks = 0;
}

/* ---- layout --------------------------------------------------------------------------- */

static int nonempty(const char *s) { return s && *s; }

/* The lines over each frame: the title, then the note line when any series has a note, then
 * the count of skipped points when any series has some. Each index is -1 when absent. */
static int32_t header_lines(const ae_plot_series *s, int32_t ns, const ae_plot_layout *L,
                            int32_t *note_line, int32_t *skip_line)
{
    int any_note = 0, any_skip = 0;
    for (int32_t i = 0; i < ns; i++) {
        any_note |= nonempty(s[i].note);
        any_skip |= L->panel[i].skipped > 0;
    }
    int32_t n = 1;
    *note_line = any_note ? n++ : -1;
    *skip_line = any_skip ? n++ : -1;
    return n;
}

int ae_plot_layout_compute(const ae_plot_series *s, int32_t ns, const ae_plot_params *pp,
                           ae_plot_layout *L)
{
    ae_plot_params p = pp ? *pp : ae_plot_default_params();
    if (!L) return ae_fail(AE_ERR_INVALID, "plot: no layout to fill");
    memset(L, 0, sizeof *L);
    if (ns < 1 || !s) return ae_fail(AE_ERR_INVALID, "plot: no series to draw");
    if (ns > AE_PLOT_MAX_SERIES)
        return ae_fail(AE_ERR_INVALID, "plot: %d series, at most %d fit in one image", (int)ns,
                       AE_PLOT_MAX_SERIES);
    for (int32_t i = 0; i < ns; i++)
        if (s[i].n < 0 || (s[i].n > 0 && (!s[i].x || !s[i].y)))
            return ae_fail(AE_ERR_INVALID, "plot: series %d (%s): %s", (int)i,
                           s[i].name ? s[i].name : "",
                           s[i].n < 0 ? "negative count" : "no data arrays");
    if (p.has_x_cut && !isfinite(p.x_cut))
        return ae_fail(AE_ERR_INVALID, "plot: the cut x = %g is not a finite number", p.x_cut);
    if (p.width < 0 || p.height < 0)
        return ae_fail(AE_ERR_INVALID, "plot: negative image size %dx%d", (int)p.width,
                       (int)p.height);

    L->n = ns;
    L->cols = ns <= 3 ? ns : (int32_t)ceil(sqrt((double)ns));
    L->rows = (ns + L->cols - 1) / L->cols;
    L->width = p.width ? p.width : 480 * L->cols;
    L->height = p.height ? p.height : 360 * L->rows;
    if (L->width > AE_PLOT_MAX_SIDE || L->height > AE_PLOT_MAX_SIDE)
        return ae_fail(AE_ERR_TOO_LARGE, "plot: %dx%d pixels, at most %d a side", (int)L->width,
                       (int)L->height, AE_PLOT_MAX_SIDE);
    const int32_t cw = L->width / L->cols, ch = L->height / L->rows; /* the smallest cell */
    int32_t sc = cw / 230 < ch / 170 ? cw / 230 : ch / 170;
    sc = sc < 1 ? 1 : sc > 4 ? 4 : sc;
    L->scale = sc;

    /* the ranges: x over all finite points and the cut, y per series */
    int hasx = p.has_x_cut;
    double xmn = p.x_cut, xmx = p.x_cut;
    for (int32_t i = 0; i < ns; i++) {
        ae_plot_panel *P = &L->panel[i];
        double ymn = 0, ymx = 0;
        for (int32_t j = 0; j < s[i].n; j++) {
            double x = s[i].x[j], y = s[i].y[j];
            if (!isfinite(x) || !isfinite(y)) {
                P->skipped++;
                continue;
            }
            if (!hasx) xmn = xmx = x, hasx = 1;
            if (!P->points) ymn = ymx = y;
            xmn = fmin(xmn, x), xmx = fmax(xmx, x);
            ymn = fmin(ymn, y), ymx = fmax(ymx, y);
            P->points++;
        }
        span(P->points > 0, ymn, ymx, &P->y.lo, &P->y.hi);
    }
    span(hasx, xmn, xmx, &L->x.lo, &L->x.hi);

    /* the frame: the cell less the titles above, the tick labels and axis labels around */
    const int xl = nonempty(p.x_label), yl = nonempty(p.y_label);
    int32_t note_line, skip_line, lines = header_lines(s, ns, L, &note_line, &skip_line);
    const int32_t top = (PAD + lines * (GH + LEAD) + 3) * sc;
    const int32_t bottom = (TICK + GAP + GH + (xl ? LEAD + GH + DESC : 0) + PAD) * sc;
    const int32_t fh = ch - top - bottom;
    int32_t widest = 1;
    for (int32_t i = 0; i < ns && fh >= MIN_FRAME; i++) {
        if (!L->panel[i].points) continue;
        ticks(&L->panel[i].y, fh, sc, 0);
        int32_t w = widest_label(&L->panel[i].y);
        if (w > widest) widest = w;
    }
    const int32_t left = (PAD + (yl ? GH + DESC + 3 : 0) + TICK + GAP) * sc + text_w(widest, sc);
    /* the right margin holds what of the last x label passes the frame's right edge: its
     * width depends on the ticks, which depend on the frame's width, so up to three passes,
     * the ticks always made for the final width (the drawing keeps labels inside the cell) */
    int32_t right = (PAD + 4) * sc, fw = cw - left - right;
    for (int pass = 0; pass < 3 && fw >= MIN_FRAME; pass++) {
        ticks(&L->x, fw, sc, 1);
        int32_t over = 0;
        if (L->x.nticks) {
            char b[40];
            int32_t k = L->x.nticks - 1;
            int32_t at = to_px(unit(L->x.lo, L->x.hi, tick_value(&L->x, k)), fw);
            over = text_w(ae_plot_tick_label(&L->x, k, b, sizeof b), sc) / 2 - (fw - 1 - at);
        }
        int32_t need = PAD * sc + (over > 0 ? over : 0);
        if (need <= right || pass == 2) break;
        right = need;
        fw = cw - left - right;
    }
    if (fw < MIN_FRAME || fh < MIN_FRAME)
        return ae_fail(AE_ERR_INVALID,
                       "plot: %dx%d pixels leave %dx%d per panel for %d panels, too small for "
                       "the axes (a frame of at least %dx%d)",
                       (int)L->width, (int)L->height, (int)cw, (int)ch, (int)ns, MIN_FRAME,
                       MIN_FRAME);
    for (int32_t i = 0; i < ns; i++) {
        ae_plot_panel *P = &L->panel[i];
        int32_t c = i % L->cols, r = i / L->cols;
        P->cell.x = c * L->width / L->cols;
        P->cell.w = (c + 1) * L->width / L->cols - P->cell.x;
        P->cell.y = r * L->height / L->rows;
        P->cell.h = (r + 1) * L->height / L->rows - P->cell.y;
        P->frame = (ae_plot_rect){P->cell.x + left, P->cell.y + top, fw, fh};
    }
    return AE_OK;
}

/* ---- drawing -------------------------------------------------------------------------- */

typedef struct canvas {
    uint8_t *px;     /* (h, w, 3) */
    int32_t w, h;
    ae_plot_rect clip; /* drawing outside it is dropped */
} canvas;

static void put(canvas *c, int32_t x, int32_t y, uint32_t rgb)
{
    if (x < c->clip.x || y < c->clip.y || x >= c->clip.x + c->clip.w || y >= c->clip.y + c->clip.h)
        return;
    uint8_t *q = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    q[0] = (uint8_t)(rgb >> 16), q[1] = (uint8_t)(rgb >> 8), q[2] = (uint8_t)rgb;
}

/* q = (rgb * a + q * (256 - a) + 128) / 256 per channel, a in 0..256 */
static void blend(canvas *c, int32_t x, int32_t y, uint32_t rgb, uint32_t a)
{
    if (x < c->clip.x || y < c->clip.y || x >= c->clip.x + c->clip.w || y >= c->clip.y + c->clip.h)
        return;
    uint8_t *q = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    for (int k = 0; k < 3; k++) {
        uint32_t v = (rgb >> (16 - 8 * k)) & 0xff;
        q[k] = (uint8_t)((v * a + q[k] * (256 - a) + 128) >> 8);
    }
}

static void fill(canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t rgb)
{
    for (int32_t j = y; j < y + h; j++)
        for (int32_t i = x; i < x + w; i++) put(c, i, j, rgb);
}

/* g[0..n) with its top-left corner at (x, y); up: rotated a quarter turn anticlockwise, read
 * bottom to top, (x, y) then the bottom-left corner. bold: drawn twice, one pixel apart. */
static void text(canvas *c, int32_t x, int32_t y, int32_t s, const char *g, int32_t n,
                 uint32_t rgb, int up, int bold)
{
    for (int32_t i = 0; i < n; i++) {
        const uint8_t *gl = font[(unsigned char)g[i] - 0x20];
        for (int32_t r = 0; r < GH + DESC; r++)
            for (int32_t col = 0; col < GW; col++) {
                if (!(gl[r] >> (GW - 1 - col) & 1)) continue;
                int32_t u = (i * ADV + col) * s, v = r * s; /* along, across the line */
                for (int32_t b = 0; b <= bold; b++) {
                    if (up) fill(c, x + v, y - u - s + 1 - b, s, s, rgb);
                    else fill(c, x + u + b, y + v, s, s, rgb);
                }
            }
    }
}

static void text_str(canvas *c, int32_t x, int32_t y, int32_t s, const char *str, uint32_t rgb)
{
    char g[64];
    text(c, x, y, s, g, glyphs(str, g, 64), rgb, 0, 0);
}

/* Opacity (of 256) of each disc: a quarter of the frame's ink if the points were spread out
 * evenly, so that dense regions saturate and sparse ones stay visible; at most 216 (a lone
 * point stays a little see-through), at least 16 (a point in 16 still shows). */
static uint32_t opacity(int64_t points, int64_t disc, int64_t area)
{
    if (points <= 0) return 216;
    double a = 64.0 * (double)area / ((double)points * (double)disc);
    return a > 216 ? 216 : a < 16 ? 16 : (uint32_t)a;
}

static void draw_panel(canvas *c, const ae_plot_layout *L, const ae_plot_params *p,
                       const ae_plot_series *se, int32_t i, int32_t note_line, int32_t skip_line)
{
    const ae_plot_panel *P = &L->panel[i];
    const ae_plot_rect f = P->frame;
    const int32_t s = L->scale, fx1 = f.x + f.w - 1, fy1 = f.y + f.h - 1;
    const uint32_t col = ae_plot_color(i);
    char b[40], g[MAX_TEXT];

    /* the data area: grid, cut, points; nothing drawn there leaves it */
    c->clip = f;
    for (int32_t k = 0; k < L->x.nticks; k++) {
        int32_t x = f.x + to_px(unit(L->x.lo, L->x.hi, tick_value(&L->x, k)), f.w);
        fill(c, x, f.y, 1, f.h, C_GRID);
    }
    for (int32_t k = 0; k < P->y.nticks; k++) {
        int32_t y = fy1 - to_px(unit(P->y.lo, P->y.hi, tick_value(&P->y, k)), f.h);
        fill(c, f.x, y, f.w, 1, C_GRID);
    }
    if (p->has_x_cut) {
        int32_t x = f.x + to_px(unit(L->x.lo, L->x.hi, p->x_cut), f.w);
        for (int32_t y = f.y; y <= fy1; y += 5 * s) fill(c, x, y, 1, 3 * s, C_CUT); /* dashed */
    }
    const int32_t r = s, rr = r * r + r; /* the disc: dx^2 + dy^2 <= r^2 + r */
    int64_t disc = 0;
    for (int32_t dy = -r; dy <= r; dy++)
        for (int32_t dx = -r; dx <= r; dx++) disc += dx * dx + dy * dy <= rr;
    const uint32_t a = opacity(P->points, disc, (int64_t)f.w * f.h);
    for (int32_t j = 0; j < se->n; j++) { /* the hot loop: up to millions of points */
        double x = se->x[j], y = se->y[j];
        if (!isfinite(x) || !isfinite(y)) continue;
        int32_t px = f.x + to_px(unit(L->x.lo, L->x.hi, x), f.w);
        int32_t py = fy1 - to_px(unit(P->y.lo, P->y.hi, y), f.h);
        for (int32_t dy = -r; dy <= r; dy++)
            for (int32_t dx = -r; dx <= r; dx++)
                if (dx * dx + dy * dy <= rr) blend(c, px + dx, py + dy, col, a);
    }
    if (!P->points) {
        const char *msg = "no data";
        int32_t n = glyphs(msg, g, MAX_TEXT);
        text(c, f.x + (f.w - text_w(n, s)) / 2, f.y + (f.h - GH * s) / 2, s, g, n, C_SUBTLE, 0, 0);
    }

    /* the frame, ticks and labels, anywhere in the cell */
    c->clip = P->cell;
    fill(c, f.x - 1, f.y - 1, f.w + 2, 1, C_FRAME);
    fill(c, f.x - 1, fy1 + 1, f.w + 2, 1, C_FRAME);
    fill(c, f.x - 1, f.y, 1, f.h, C_FRAME);
    fill(c, fx1 + 1, f.y, 1, f.h, C_FRAME);
    const int32_t cx1 = P->cell.x + P->cell.w, ly = fy1 + 2 + (TICK + GAP) * s;
    int32_t last = P->cell.x; /* right end of the last x label drawn */
    for (int32_t k = 0; k < L->x.nticks; k++) {
        int32_t x = f.x + to_px(unit(L->x.lo, L->x.hi, tick_value(&L->x, k)), f.w);
        fill(c, x, fy1 + 2, 1, TICK * s, C_TICK);
        int32_t n = ae_plot_tick_label(&L->x, k, b, sizeof b), w = text_w(n, s);
        int32_t lx = x - w / 2;
        if (lx + w > cx1 - s) lx = cx1 - s - w;
        if (lx < last + GAP * s) continue; /* never over its neighbour */
        text_str(c, lx, ly, s, b, C_TEXT);
        last = lx + w;
    }
    int32_t above = P->cell.y + P->cell.h; /* top of the last y label drawn */
    for (int32_t k = 0; k < P->y.nticks; k++) {
        int32_t y = fy1 - to_px(unit(P->y.lo, P->y.hi, tick_value(&P->y, k)), f.h);
        fill(c, f.x - 1 - TICK * s, y, TICK * s, 1, C_TICK);
        int32_t n = ae_plot_tick_label(&P->y, k, b, sizeof b), ty = y - GH * s / 2;
        if (ty + GH * s > above - GAP * s) continue;
        text_str(c, f.x - 1 - (TICK + GAP) * s - text_w(n, s), ty, s, b, C_TEXT);
        above = ty;
    }
    if (nonempty(p->x_label)) {
        int32_t n = fit(g, glyphs(p->x_label, g, MAX_TEXT), f.w, s);
        text(c, f.x + (f.w - text_w(n, s)) / 2, ly + (GH + LEAD) * s, s, g, n, C_TEXT, 0, 0);
    }
    if (nonempty(p->y_label)) {
        int32_t n = fit(g, glyphs(p->y_label, g, MAX_TEXT), f.h, s);
        text(c, P->cell.x + PAD * s, f.y + (f.h + text_w(n, s)) / 2 - 1, s, g, n, C_TEXT, 1, 0);
    }

    /* titles over the frame: swatch, name (bold), "n=N" at the right; the note and the count
     * of skipped points under them */
    const int32_t ty = P->cell.y + PAD * s, pitch = (GH + LEAD) * s;
    char cnt[64];
    snprintf(cnt, sizeof cnt, "n=%d", (int)P->points);
    int32_t nc = glyphs(cnt, g, MAX_TEXT), wc = text_w(nc, s);
    if (wc > f.w / 2) nc = 0, wc = 0; /* a narrow panel keeps the name */
    text(c, fx1 + 1 - wc, ty, s, g, nc, C_SUBTLE, 0, 0);
    fill(c, f.x, ty + s, 5 * s, 5 * s, col);
    int32_t room = f.w - 8 * s - (wc ? wc + 3 * ADV * s : 0) - 1;
    int32_t nn = fit(g, glyphs(se->name, g, MAX_TEXT), room, s);
    text(c, f.x + 8 * s, ty, s, g, nn, C_TEXT, 0, 1);
    if (note_line >= 0 && nonempty(se->note)) {
        int32_t n = fit(g, glyphs(se->note, g, MAX_TEXT), f.w, s);
        text(c, f.x, ty + note_line * pitch, s, g, n, C_SUBTLE, 0, 0);
    }
    if (skip_line >= 0 && P->skipped) {
        snprintf(cnt, sizeof cnt, "%d skipped: NaN or infinite", (int)P->skipped);
        int32_t n = fit(g, glyphs(cnt, g, MAX_TEXT), f.w, s);
        text(c, f.x, ty + skip_line * pitch, s, g, n, C_SUBTLE, 0, 0);
    }
}

int ae_plot_render_rgb(const ae_plot_series *s, int32_t ns, const ae_plot_params *pp,
                       uint8_t **rgb, int32_t *w, int32_t *h)
{
    if (!rgb || !w || !h) return ae_fail(AE_ERR_INVALID, "plot: nowhere to put the image");
    *rgb = NULL, *w = *h = 0;
    ae_plot_params p = pp ? *pp : ae_plot_default_params();
    ae_plot_layout L;
    int rc = ae_plot_layout_compute(s, ns, &p, &L);
    if (rc != AE_OK) return rc;
    size_t bytes = (size_t)L.width * (size_t)L.height * 3;
    canvas c = {malloc(bytes), L.width, L.height, {0, 0, L.width, L.height}};
    if (!c.px) return ae_fail(AE_ERR_NOMEM, "plot: out of memory for %dx%d pixels", (int)L.width,
                              (int)L.height);
    memset(c.px, 0xff, bytes); /* white */
    int32_t note_line, skip_line;
    header_lines(s, ns, &L, &note_line, &skip_line);
    for (int32_t i = 0; i < ns; i++) draw_panel(&c, &L, &p, &s[i], i, note_line, skip_line);
    *rgb = c.px, *w = L.width, *h = L.height;
    return AE_OK;
}

/* ---- PNG ------------------------------------------------------------------------------ */

typedef struct writer {
    FILE *fp;
    int err;       /* errno of a failed write */
    char msg[160]; /* libpng's message */
} writer;

static void on_write(png_structp png, png_bytep data, size_t n)
{
    writer *wr = png_get_io_ptr(png);
    if (fwrite(data, 1, n, wr->fp) != n) {
        wr->err = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void on_flush(png_structp png) { (void)png; }

static void on_error(png_structp png, png_const_charp msg)
{
    writer *wr = png_get_error_ptr(png);
    snprintf(wr->msg, sizeof wr->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int ae_plot_scatter_png(const char *path, const ae_plot_series *s, int32_t ns,
                        const ae_plot_params *p)
{
    if (!path || !*path) return ae_fail(AE_ERR_INVALID, "plot: no output path");
    uint8_t *rgb = NULL;
    int32_t w, h;
    int rc = ae_plot_render_rgb(s, ns, p, &rgb, &w, &h);
    if (rc != AE_OK) return rc;
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    if (!rows) {
        free(rgb);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int32_t y = 0; y < h; y++) rows[y] = rgb + (size_t)y * (size_t)w * 3;

    ae_atomic_file af;
    if ((rc = ae_file_atomic_open(path, &af)) != AE_OK) {
        free(rows);
        free(rgb);
        return rc;
    }
    writer wr = {af.fp, 0, ""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &wr, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        ae_file_atomic_abort(&af);
        free(rows);
        free(rgb);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        ae_file_atomic_abort(&af);
        free(rows);
        free(rgb);
        if (wr.err) return ae_fail(AE_ERR_IO, "%s: cannot write: %s", path, strerror(wr.err));
        return ae_fail(AE_ERR_IO, "%s: cannot write: libpng: %s", path, wr.msg);
    }
    png_set_write_fn(png, &wr, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(rgb);
    return ae_file_atomic_commit(&af);
}
