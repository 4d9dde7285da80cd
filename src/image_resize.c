/*
 * image_resize.c — CLIPImageProcessor's pixel pipeline, byte-exact with transformers on
 * Pillow 9.4: resize the shortest side to S (bicubic), centre crop, rescale, normalise.
 *
 * Size rule (transformers get_resize_output_image_size, default_to_square=False):
 * w <= h -> (S, int(S * h / w)), else (int(S * w / h), S), the quotient in float64.
 *
 * Pillow's resampler (libImaging/Resample.c) is separable: a horizontal pass into an 8-bit
 * intermediate, then a vertical pass; a pass is skipped when its dimension is unchanged.
 * Per output sample i of a pass with scale = in/out, fs = max(scale, 1), support = 2 * fs:
 *     center = (i + 0.5) * scale
 *     xmin = max((int)(center - support + 0.5), 0),  xmax = min((int)(center + support + 0.5), in)
 *     w_j = cubic((j - center + 0.5) / fs), j = xmin..xmax-1, normalised to sum 1   (Keys, a=-0.5)
 *     k_j = (int)(w_j * 2^22 +- 0.5)           rounded away from zero
 *     out = clamp((2^21 + sum k_j * in_j) >> 22, 0, 255)
 * Every output sample depends only on its own coefficients, so we compute only the crop
 * window: the horizontal pass for the crop's columns and only the input rows the vertical
 * pass needs for the crop's rows. A 3 x 500 image is resized to 224 x 37333 by transformers;
 * here that costs 224 x 224 outputs and no 37333-row intermediate.
 *
 * Centre crop (transformers center_crop): offset = floor((resized - crop) / 2) per axis;
 * when the resized image is smaller than the crop the missing pixels are zero (transformers
 * zero-pads), which the same floor formula handles.
 *
 * Normalisation: x = float32(float64(v) * rescale_factor), then (x - mean) / std in float32,
 * precomputed as a 256-entry table per channel; output CHW.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "image.h"

#define PRECISION_BITS 22 /* 32 - 8 - 2, as Pillow's 8-bit path */

/* Keys cubic with a = -0.5, written exactly as Pillow evaluates it (same rounding). */
static double bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Integer coefficients for outputs o0 .. o0+n-1 of a pass from `in` to `out` samples. */
typedef struct coeffs {
    int ksize;      /* stride of k */
    int32_t *start; /* (n) first input sample */
    int32_t *count; /* (n) number of taps */
    int32_t *k;     /* (n, ksize) fixed-point weights */
} coeffs;

static void coeffs_free(coeffs *c)
{
    free(c->start);
    free(c->count);
    free(c->k);
}

static int coeffs_make(coeffs *c, int64_t in, int64_t out, int64_t o0, int64_t n)
{
    memset(c, 0, sizeof *c);
    const double scale = (double)in / (double)out;
    const double fs = scale < 1.0 ? 1.0 : scale;
    const double support = 2.0 * fs, ss = 1.0 / fs;
    /* Pillow's kernel size, but never more taps than there are input samples */
    const double ks = ceil(support) * 2 + 1;
    const int64_t ksize = ks < (double)in ? (int64_t)ks : in;
    if (ksize > INT32_MAX / 2 || (uint64_t)(n ? n : 1) * (uint64_t)ksize > SIZE_MAX / 8)
        return AE_ERR_NOMEM;
    c->ksize = (int)ksize;
    c->start = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    c->count = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    c->k = malloc(sizeof(int32_t) * (size_t)(n ? n : 1) * (size_t)c->ksize);
    double *w = malloc(sizeof(double) * (size_t)c->ksize);
    if (!c->start || !c->count || !c->k || !w) {
        free(w);
        coeffs_free(c);
        return AE_ERR_NOMEM;
    }
    for (int64_t t = 0; t < n; t++) {
        const double center = ((double)(o0 + t) + 0.5) * scale;
        int64_t xmin = (int64_t)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = (int64_t)(center + support + 0.5);
        if (xmax > in) xmax = in;
        int64_t cnt = xmax - xmin;
        if (cnt < 0) cnt = 0;
        if (cnt > c->ksize) cnt = c->ksize; /* cannot happen: cnt <= 2 * support + 1 */
        double ww = 0.0;
        for (int64_t x = 0; x < cnt; x++) {
            w[x] = bicubic(((double)(x + xmin) - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = c->k + (size_t)t * c->ksize;
        for (int64_t x = 0; x < cnt; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        c->start[t] = (int32_t)xmin;
        c->count[t] = (int32_t)cnt;
    }
    free(w);
    return AE_OK;
}

static inline uint8_t clip8(int32_t v)
{
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* Hot loop 1: the horizontal pass, 8 rows at a time. The rows are first transposed to int32
 * lanes, T[c][x][lane] = row[lane][x][c], so that every tap is one 8-wide multiply-add with
 * the same weight. Integer sums do not depend on the grouping, so every output is exactly
 * Pillow's clip8(2^21 + sum_j k_j * in_j). target_clones makes GCC emit an AVX2 copy next to
 * the baseline one and pick it at load time (the library is built for baseline x86-64). The
 * sums stay below 2^31: |sum| <= 255 * sum_j |k_j| < 255 * 1.3 * 2^22. */
typedef int32_t v8si __attribute__((vector_size(32), aligned(4))); /* GCC/Clang vectors */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define AE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AE_CLONES
#endif
AE_CLONES
static void hpass_rows8(const uint8_t *const *src, ptrdiff_t dx, int nr, const coeffs *c,
                        int64_t n, int64_t cmin, int64_t ncols, int32_t *T, uint8_t *const *dst)
{
    int32_t *t0 = T, *t1 = T + (size_t)ncols * 8, *t2 = T + (size_t)ncols * 16;
    const uint8_t *s[8];
    for (int l = 0; l < 8; l++) s[l] = src[l < nr ? l : 0] + cmin * dx; /* extra lanes: row 0 */
    if (dx == 3) { /* the common case, unrotated: constant stride */
        for (int64_t x = 0; x < ncols; x++) {
            for (int l = 0; l < 8; l++) {
                t0[x * 8 + l] = s[l][3 * x];
                t1[x * 8 + l] = s[l][3 * x + 1];
                t2[x * 8 + l] = s[l][3 * x + 2];
            }
        }
    } else {
        for (int64_t x = 0; x < ncols; x++) {
            for (int l = 0; l < 8; l++) {
                const uint8_t *q = s[l] + x * dx;
                t0[x * 8 + l] = q[0];
                t1[x * 8 + l] = q[1];
                t2[x * 8 + l] = q[2];
            }
        }
    }
    for (int64_t o = 0; o < n; o++) {
        const int32_t *k = c->k + (size_t)o * c->ksize;
        const int cnt = c->count[o];
        for (int ch = 0; ch < 3; ch++) {
            const int32_t *t = T + ((size_t)ch * ncols + (size_t)(c->start[o] - cmin)) * 8;
            v8si acc = {0};
            acc += 1 << (PRECISION_BITS - 1);
            for (int j = 0; j < cnt; j++, t += 8) acc += *(const v8si *)t * k[j];
            /* clip8 on all lanes at once: clamp(acc >> 22, 0, 255) is the same function */
            v8si v = acc >> PRECISION_BITS, lo = v < 0, hi = v > 255;
            v = (v & ~lo & ~hi) | (hi & 255);
            for (int l = 0; l < nr; l++) dst[l][o * 3 + ch] = (uint8_t)v[l];
        }
    }
}

/* Hot loop 2: vertical pass of one output row: rows[j] are the input rows (bytes = nb),
 * accumulated tap by tap into acc (nb ints), 8 samples per vector step, for sequential
 * memory access. */
typedef uint8_t v8qu __attribute__((vector_size(8), aligned(1)));
AE_CLONES
static void vpass_row(const uint8_t *const *rows, const int32_t *k, int cnt, int64_t nb,
                      int32_t *restrict acc, uint8_t *restrict dst)
{
    const int64_t nv = nb & ~(int64_t)7;
    for (int64_t x = 0; x < nb; x++) acc[x] = 1 << (PRECISION_BITS - 1);
    for (int j = 0; j < cnt; j++) {
        const uint8_t *restrict s = rows[j];
        const int32_t kj = k[j];
        for (int64_t x = 0; x < nv; x += 8)
            *(v8si *)(acc + x) += __builtin_convertvector(*(const v8qu *)(s + x), v8si) * kj;
        for (int64_t x = nv; x < nb; x++) acc[x] += s[x] * kj;
    }
    for (int64_t x = 0; x < nv; x += 8) { /* clip8, 8 at a time (see hpass_rows8) */
        v8si v = *(const v8si *)(acc + x) >> PRECISION_BITS, lo = v < 0, hi = v > 255;
        v = (v & ~lo & ~hi) | (hi & 255);
        *(v8qu *)(dst + x) = __builtin_convertvector(v, v8qu);
    }
    for (int64_t x = nv; x < nb; x++) dst[x] = clip8(acc[x]);
}

static int64_t floordiv2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* The image as its EXIF orientation shows it, over the stored pixels: oriented pixel (x, y)
 * is at o + x * dx + y * dy (bytes; dx, dy may be negative or a whole row). */
typedef struct view {
    const uint8_t *o;
    ptrdiff_t dx, dy;
    int64_t w, h; /* oriented size */
} view;

static view make_view(const ae_image *img, int orientation)
{
    const ptrdiff_t W = img->width, H = img->height, px = 3, row = W * 3;
    const uint8_t *b = img->rgb;
    view v = {b, px, row, W, H};
    switch (orientation) {
    case 2: v = (view){b + (W - 1) * px, -px, row, W, H}; break;
    case 3: v = (view){b + (H - 1) * row + (W - 1) * px, -px, -row, W, H}; break;
    case 4: v = (view){b + (H - 1) * row, px, -row, W, H}; break;
    case 5: v = (view){b, row, px, H, W}; break;
    case 6: v = (view){b + (H - 1) * row, -row, px, H, W}; break;
    case 7: v = (view){b + (H - 1) * row + (W - 1) * px, -row, -px, H, W}; break;
    case 8: v = (view){b + (W - 1) * px, row, -px, H, W}; break;
    default: break;
    }
    return v;
}

static inline const uint8_t *view_at(const view *v, int64_t x, int64_t y)
{
    return v->o + (ptrdiff_t)x * v->dx + (ptrdiff_t)y * v->dy;
}

/* Horizontal pass over oriented rows [r0, r1) into out rows (out + (r - r0) * ostride),
 * only the n outputs described by c. */
static int hpass_rows(const view *v, int64_t r0, int64_t r1, const coeffs *c, int64_t n,
                      uint8_t *out, size_t ostride)
{
    /* input columns the outputs read: [cmin, cmax) */
    int64_t cmin = c->start[0], cmax = 0;
    for (int64_t t = 0; t < n; t++) {
        if (c->start[t] < cmin) cmin = c->start[t];
        if (c->start[t] + c->count[t] > cmax) cmax = c->start[t] + c->count[t];
    }
    if (cmax <= cmin) cmax = cmin + 1;
    int32_t *T = malloc(sizeof(int32_t) * 8 * 3 * (size_t)(cmax - cmin));
    if (!T) return AE_ERR_NOMEM;
    for (int64_t r = r0; r < r1; r += 8) {
        const uint8_t *src[8];
        uint8_t *dst[8];
        const int nr = r1 - r < 8 ? (int)(r1 - r) : 8;
        for (int l = 0; l < nr; l++) {
            src[l] = view_at(v, 0, r + l);
            dst[l] = out + (size_t)(r + l - r0) * ostride;
        }
        hpass_rows8(src, v->dx, nr, c, n, cmin, cmax - cmin, T, dst);
    }
    free(T);
    return AE_OK;
}

/* Copies oriented columns [c0, c0 + nx) of rows [r0, r1) into out (nx * 3 bytes a row). */
static void copy_rows(const view *v, int64_t r0, int64_t r1, int64_t c0, int64_t nx, uint8_t *out,
                      size_t ostride)
{
    for (int64_t r = r0; r < r1; r++) {
        uint8_t *d = out + (size_t)(r - r0) * ostride;
        if (v->dx == 3) {
            memcpy(d, view_at(v, c0, r), (size_t)nx * 3);
            continue;
        }
        for (int64_t x = 0; x < nx; x++, d += 3) {
            const uint8_t *q = view_at(v, c0 + x, r);
            d[0] = q[0], d[1] = q[1], d[2] = q[2];
        }
    }
}

/* Resized, cropped window. The resized image is rw x rh; crop output pixel (x, y) is
 * resized pixel (x + ox, y + oy); only [x0, x1) x [y0, y1) of the crop lies inside the
 * resized image (the rest stays zero). dst is the cw-wide crop (zeroed by the caller). */
static int resample_window(const view *v, int64_t rw, int64_t rh, int64_t ox, int64_t oy,
                           int64_t x0, int64_t x1, int64_t y0, int64_t y1, int32_t cw,
                           uint8_t *dst)
{
    const int64_t w = v->w, h = v->h;
    const int need_h = rw != w, need_v = rh != h;
    const int64_t nx = x1 - x0, ny = y1 - y0;
    const size_t dstride = (size_t)cw * 3, nb = (size_t)nx * 3;
    uint8_t *drow0 = dst + (size_t)y0 * dstride + (size_t)x0 * 3;
    coeffs hc = {0}, vc = {0};
    uint8_t *tmp = NULL;
    const uint8_t **rows = NULL;
    int32_t *acc = NULL;
    int rc = AE_ERR_NOMEM;

    if (need_h && coeffs_make(&hc, w, rw, x0 + ox, nx) != AE_OK) goto done;
    if (need_v && coeffs_make(&vc, h, rh, y0 + oy, ny) != AE_OK) goto done;

    if (!need_v) { /* rows map one to one: resample (or copy) straight into the crop */
        if (need_h) rc = hpass_rows(v, y0 + oy, y1 + oy, &hc, nx, drow0, dstride);
        else copy_rows(v, y0 + oy, y1 + oy, x0 + ox, nx, drow0, dstride), rc = AE_OK;
        goto done;
    }

    /* Input rows the vertical pass needs: [r0, r1) (Pillow's bounds are monotonic). */
    int64_t r0 = vc.start[0], r1 = 0;
    for (int64_t t = 0; t < ny; t++) {
        if (vc.start[t] < r0) r0 = vc.start[t];
        if (vc.start[t] + vc.count[t] > r1) r1 = vc.start[t] + vc.count[t];
    }
    if (r1 < r0) r1 = r0;
    /* Intermediate: the horizontally resampled rows r0..r1-1, only the crop's columns. Without
     * a horizontal pass the vertical pass reads the input rows in place when they are
     * contiguous (unrotated), else a copy of the crop's columns of those rows. */
    const int in_place = !need_h && v->dx == 3;
    if (!in_place) {
        tmp = malloc(nb * (size_t)(r1 - r0 ? r1 - r0 : 1));
        if (!tmp) goto done;
        if (need_h) {
            if (hpass_rows(v, r0, r1, &hc, nx, tmp, nb) != AE_OK) goto done;
        } else {
            copy_rows(v, r0, r1, x0 + ox, nx, tmp, nb);
        }
    }
    rows = malloc(sizeof *rows * (size_t)vc.ksize);
    acc = malloc(sizeof *acc * nb);
    if (!rows || !acc) goto done;
    for (int64_t t = 0; t < ny; t++) {
        const int cnt = vc.count[t];
        for (int j = 0; j < cnt; j++) {
            int64_t r = vc.start[t] + j;
            rows[j] = in_place ? view_at(v, x0 + ox, r) : tmp + (size_t)(r - r0) * nb;
        }
        vpass_row(rows, vc.k + (size_t)t * vc.ksize, cnt, (int64_t)nb, acc,
                  drow0 + (size_t)t * dstride);
    }
    rc = AE_OK;
done:
    coeffs_free(&hc);
    coeffs_free(&vc);
    free(tmp);
    free(rows);
    free(acc);
    return rc;
}

int img_preprocess(const clip_preproc *p, const ae_image *img, float *pixels, uint8_t *crop_rgb)
{
    return img_preprocess_oriented(p, img, 1, pixels, crop_rgb);
}

int img_preprocess_oriented(const clip_preproc *p, const ae_image *img, int orientation,
                            float *pixels, uint8_t *crop_rgb)
{
    if (!p || !img || !img->rgb || img->width <= 0 || img->height <= 0)
        return ae_fail(AE_ERR_INVALID, "preprocess: empty image");
    const view v = make_view(img, orientation);
    const int32_t cw = p->crop_w, ch = p->crop_h;
    if (cw <= 0 || ch <= 0 || (int64_t)cw * ch > (1 << 26))
        return ae_fail(AE_ERR_INVALID, "preprocess: invalid crop size %d x %d", cw, ch);
    const int64_t w = v.w, h = v.h;
    int64_t rw = w, rh = h;
    if (p->do_resize) {
        if (p->resample != 3)
            return ae_fail(AE_ERR_UNSUPPORTED,
                           "preprocess: resample %d is not supported (only 3, bicubic)",
                           p->resample);
        const int64_t s = p->shortest_edge;
        if (s <= 0) return ae_fail(AE_ERR_INVALID, "preprocess: invalid shortest_edge %lld",
                                   (long long)s);
        if (w <= h) {
            rw = s;
            rh = (int64_t)((double)(s * h) / (double)w);
        } else {
            rh = s;
            rw = (int64_t)((double)(s * w) / (double)h);
        }
        if (rw <= 0 || rh <= 0)
            return ae_fail(AE_ERR_INVALID, "preprocess: %lld x %lld resizes to nothing",
                           (long long)w, (long long)h);
    }
    if (!p->do_center_crop && (rw != cw || rh != ch))
        return ae_fail(AE_ERR_UNSUPPORTED,
                       "preprocess: without centre crop the image (%lld x %lld) must already "
                       "be %d x %d", (long long)rw, (long long)rh, cw, ch);
    const int64_t ox = floordiv2(rw - cw), oy = floordiv2(rh - ch);
    /* Part of the crop covered by the resized image; the rest is zero padding. */
    const int64_t x0 = ox < 0 ? -ox : 0, y0 = oy < 0 ? -oy : 0;
    const int64_t x1 = rw - ox < cw ? rw - ox : cw, y1 = rh - oy < ch ? rh - oy : ch;

    const size_t n = (size_t)cw * ch;
    uint8_t *crop = crop_rgb ? crop_rgb : malloc(n * 3);
    if (!crop) return ae_fail(AE_ERR_NOMEM, "preprocess: out of memory");
    if (x0 > 0 || y0 > 0 || x1 < cw || y1 < ch) memset(crop, 0, n * 3);
    int rc = resample_window(&v, rw, rh, ox, oy, x0, x1, y0, y1, cw, crop);
    if (rc != AE_OK) {
        if (crop != crop_rgb) free(crop);
        return ae_fail(rc, "preprocess: out of memory resizing %lld x %lld", (long long)w,
                       (long long)h);
    }

    if (pixels) {
        float lut[3][256];
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) {
                float x = p->do_rescale ? (float)((double)v * p->rescale_factor) : (float)v;
                if (p->do_normalize) {
                    float d = x - p->mean[c];
                    x = d / p->std[c];
                }
                lut[c][v] = x;
            }
        }
        for (int c = 0; c < 3; c++) {
            float *o = pixels + (size_t)c * n;
            const uint8_t *s = crop + c;
            for (size_t i = 0; i < n; i++) o[i] = lut[c][s[3 * i]];
        }
    }
    if (crop != crop_rgb) free(crop);
    return AE_OK;
}
