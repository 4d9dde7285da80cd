/*
 * plot.h — the PNG of `aesthete eval`: scores against human ratings, one small panel per head.
 *
 * Heads score on scales of their own (a prompt bank about -50..+50, LAION 3..8, a logistic
 * head's logit), so each series gets its own panel in a grid (small multiples): every panel has
 * its own y axis and the same x axis (the ratings), a title (a colour swatch, the head's name,
 * "n=N" points drawn on the right) and a note line under it (e.g. "acc 0.725  SRCC 0.61  PLCC
 * 0.60"). Points are discs (radius: the text scale) in the series' colour (Okabe & Ito's
 * colour-blind-safe palette, cycling), blended with an opacity a that falls as the points per
 * pixel of the panel rise (216/256 for a few points, down to 16/256; each channel becomes
 * (colour * a + old * (256 - a) + 128) / 256), so 25,000 points still show where they are
 * dense. An optional dashed vertical line marks the good/bad cut (x = 5 on
 * AVA).
 *
 *     ae_plot_series s[2] = {{"laion-v2", "SRCC 0.72", ratings, laion, n},
 *                            {"bank", "SRCC 0.61", ratings, bank, n}};
 *     ae_plot_params p = ae_plot_default_params();   // 480x360 per panel, cut at 5
 *     rc = ae_plot_scatter_png("eval.png", s, 2, &p); // "eval.png: cannot write: ..."
 *
 * Geometry. cols = n for n <= 3, else ceil(sqrt(n)); rows = ceil(n / cols); series i sits in
 * column i % cols of row i / cols. The image (default 480 * cols by 360 * rows, at most
 * AE_PLOT_MAX_SIDE a side) is cut into equal cells; a cell holds the titles above and the axes'
 * labels left of and below its frame, the rectangle the data is drawn in. All frames have one
 * size. Text is a 5x7 bitmap font with descenders, compiled in (printable ASCII; other bytes
 * and each UTF-8 sequence show as '?'), drawn at an integer scale of 1..4 (2 for the default
 * cell: min(cell width / 230, cell height / 170)); a name or note wider than its frame ends in
 * "...".
 *
 * Axes. A point is drawn when both its x and y are finite; the others are skipped and counted
 * (a line "10 skipped: NaN or infinite" under the note of each panel that has some, reserved
 * in all panels when any has). The x axis spans the finite points' x over all series and the
 * cut, the y axis of a panel its own points' y; each range is widened by 4% of its width on
 * both sides (a single value v by max(|v| / 10, 1) instead; no values at all: [0, 1]). A value
 * v maps to the pixel column
 *     frame.x + round((v - lo) / (hi - lo) * (frame.w - 1))
 * and to the row frame.y + frame.h - 1 - round((v - lo) / (hi - lo) * (frame.h - 1)). Ticks are
 * the multiples of a 1-2-5 step (1, 2, 5, 10, 20, ...) inside [lo, hi], the smallest step that
 * puts them 14 font pixels apart or more and whose labels keep clear of each other (a gap of
 * at least 2 font pixels; a label that would still touch its neighbour is left out). Labels
 * are written with the step's decimals ("%.*f"), or "%g" with the digits that tell them apart
 * when that would take more than 8 characters. A panel with no finite point keeps its frame
 * and x axis and says "no data".
 *
 * Output is deterministic: the same input gives the same pixels, and the same PNG bytes with
 * the same libpng and zlib. Nothing keeps state; all functions are thread-safe. Errors: a
 * negative AE_ERR_* with ae_last_error() set (AE_ERR_INVALID for bad arguments or more than
 * AE_PLOT_MAX_SERIES series, AE_ERR_TOO_LARGE for a side over AE_PLOT_MAX_SIDE, AE_ERR_IO
 * "PATH: cannot write: <cause>", AE_ERR_NOMEM).
 */
#ifndef AE_APP_PLOT_H
#define AE_APP_PLOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AE_PLOT_MAX_SERIES 16
#define AE_PLOT_MAX_SIDE 8192 /* pixels, either side of the image */

typedef struct ae_plot_series {
    const char *name; /* the panel's title; NULL = "" */
    const char *note; /* the line under it, e.g. the metrics; NULL or "" = none */
    const double *x;  /* (n) ratings */
    const double *y;  /* (n) scores */
    int32_t n;
} ae_plot_series;

typedef struct ae_plot_params {
    int32_t width, height; /* of the whole image; 0 = 480 per column, 360 per row */
    const char *x_label;   /* under each panel's x axis; NULL or "" = none */
    const char *y_label;   /* along each panel's y axis, upwards; NULL or "" = none */
    double x_cut;          /* the vertical line, when has_x_cut */
    int32_t has_x_cut;
} ae_plot_params;

/* width = height = 0, x_label "rating", y_label "score", a cut at x = 5 (AVA's good/bad). */
ae_plot_params ae_plot_default_params(void);

typedef struct ae_plot_rect {
    int32_t x, y, w, h; /* pixels; x, y: the top-left corner */
} ae_plot_rect;

typedef struct ae_plot_axis {
    double lo, hi;       /* the span drawn, lo < hi (see Axes above) */
    double first, step;  /* ticks at first + k * step, k = 0 .. nticks - 1 */
    int32_t nticks;      /* 0 for the y axis of a panel without data */
    int32_t digits;      /* labels: >= 0 "%.*f" with these decimals, < 0 "%.*g" with -digits */
} ae_plot_axis;

typedef struct ae_plot_panel {
    ae_plot_rect cell;   /* the panel's share of the image */
    ae_plot_rect frame;  /* where its data is drawn, inside cell */
    ae_plot_axis y;
    int32_t points;      /* finite points drawn */
    int32_t skipped;     /* points with a NaN or infinite coordinate */
} ae_plot_panel;

typedef struct ae_plot_layout {
    int32_t width, height; /* the image */
    int32_t cols, rows;
    int32_t scale;         /* pixels per font pixel: a glyph is 5 * scale by 7 * scale */
    int32_t n;             /* series = panels */
    ae_plot_axis x;        /* shared by all panels */
    ae_plot_panel panel[AE_PLOT_MAX_SERIES];
} ae_plot_layout;

/* Everything but the pixels: the grid, every cell and frame, the axes and the point counts of
 * ns series (1 .. AE_PLOT_MAX_SERIES) under params p (NULL = defaults). Returns AE_OK,
 * AE_ERR_INVALID (ns out of range, a series with n < 0 or NULL arrays, a NaN or infinite cut,
 * a negative size, cells too small for their frames) or AE_ERR_TOO_LARGE. */
int ae_plot_layout_compute(const ae_plot_series *s, int32_t ns, const ae_plot_params *p,
                           ae_plot_layout *out);

/* The colour of series i as 0xRRGGBB: Okabe & Ito's palette in the order blue, vermillion,
 * bluish green, reddish purple, orange, sky blue, black, yellow (the palest last), repeating. */
uint32_t ae_plot_color(int32_t i);

/* Tick k of axis a as drawn (NUL-terminated in buf, cap bytes; cap >= 32 always fits).
 * Returns its length in characters. */
int32_t ae_plot_tick_label(const ae_plot_axis *a, int32_t k, char *buf, size_t cap);

/* Draws the plot: *rgb (malloc'd, caller frees with free()) gets *w by *h pixels, 3 bytes
 * each (R, G, B), rows top to bottom, no padding. Errors as ae_plot_layout_compute, and
 * AE_ERR_NOMEM; *rgb is NULL then. */
int ae_plot_render_rgb(const ae_plot_series *s, int32_t ns, const ae_plot_params *p,
                       uint8_t **rgb, int32_t *w, int32_t *h);

/* Draws the plot and writes it to path as an 8-bit RGB PNG through a temporary file and a
 * rename (ae_file_atomic_*): path is replaced whole or not at all, and a failure leaves no
 * temporary file. */
int ae_plot_scatter_png(const char *path, const ae_plot_series *s, int32_t ns,
                        const ae_plot_params *p);

#ifdef __cplusplus
}
#endif
#endif
