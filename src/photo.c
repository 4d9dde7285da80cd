/*
 * photo.c — facts about a photo beside its aesthetic score, for culling: classic quality
 * measures of its decoded pixels (ae_image_quality), when and with what camera it was taken
 * (ae_exif_capture, from its EXIF block) and a hash of its decoded pixels (img_pixel_hash).
 *
 * Quality. Luma is BT.601 with Pillow's weights, Y = (19595 R + 38470 G + 7471 B) / 65536
 * (convert("L")'s fixed point), kept unrounded: the box average is taken on the RGB values,
 * and as luma is linear the luma of a box is the mean of its pixels' unrounded lumas. Photos
 * whose shortest side is over AE_QUALITY_SIDE are brought to it (the other side in
 * proportion, rounded) by an exact area average: every source pixel is a unit square, output
 * pixel (i, j) is the mean of the source over [i W/w, (i+1) W/w) x [j H/h, (j+1) H/h), pixels
 * cut by a box edge counting for the part inside. Measured in units of 1/w of a source
 * column (1/h of a row) all weights are integers, so the box sums are exact integers until
 * the one division that gives Y; a flip or quarter turn maps the grid onto itself, so the
 * measures of the stored pixels are those of the image as displayed (same Y values, only the
 * summation order of the measures changes). Smaller images are measured as they are.
 * On the working image (w x h floats):
 *   sharpness   variance of the 4-neighbour Laplacian over the interior pixels;
 *   highlights  fraction of pixels with Y >= 250, shadows: Y <= 5 (compared exactly, on the
 *               integer sums);
 *   noise       Immerkaer's estimate (1996), sqrt(pi/2) / (6 (w-2)(h-2)) sum |Y * M| over the
 *               interior, M = [1 -2 1; -2 4 -2; 1 -2 1].
 * Both need 3 x 3 neighbourhoods: an image under 3 pixels a side has sharpness and noise 0.
 *
 * Speed: the measures run on every decoded photo, so the one pass over the source (36 MB for
 * 12 MP) is the cost. For each output row one loop (vbox*) reads the rows its box holds whole
 * and the two its edges cut, and writes their weighted sums: bytes added in 16 bits, 16 x 16-bit
 * products, which SSE2 vectorises. The luma and the horizontal boxes are then done per output
 * row only, and the measures at the working size.
 *
 * Capture. libexif reads the block (it wants the "Exif\0\0" prefix: a bare TIFF block is
 * copied behind one). Only standard tags are read, in IFD0 then the Exif IFD (libexif is told
 * to keep tags it does not expect in an IFD, and not to "fix" the data, which would drop them
 * again, add missing mandatory tags and rewrite some values): DateTimeOriginal with
 * SubSecTimeOriginal and OffsetTimeOriginal, else DateTimeDigitized with SubSecTimeDigitized
 * and OffsetTimeDigitized; Make, Model, BodySerialNumber. No maker notes (Canon's serial
 * number and the like), no GPS time, no DateTime (0x0132, the time of the last edit). Dates
 * become seconds by civil-calendar arithmetic (days_from_civil), independent of the locale
 * and TZ.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libexif/exif-data.h>
#include <xxhash.h>

#include "error.h"
#include "image.h"

/* ---- quality ------------------------------------------------------------------------------ */

/* The working size: shortest side AE_QUALITY_SIDE when it is larger, the other side in
 * proportion, rounded half up (the same rule either way round, so a quarter turn swaps the
 * two). */
static void work_size(int64_t w, int64_t h, int32_t *ow, int32_t *oh)
{
    const int64_t side = AE_QUALITY_SIDE;
    if ((w < h ? w : h) <= side) {
        *ow = (int32_t)w, *oh = (int32_t)h;
    } else if (w <= h) {
        *ow = (int32_t)side, *oh = (int32_t)((2 * h * side + w) / (2 * w));
    } else {
        *oh = (int32_t)side, *ow = (int32_t)((2 * w * side + h) / (2 * h));
    }
}

/* Along one axis of n source pixels and m <= n boxes: source pixel k is [k m, (k+1) m) and box
 * b is [b n, (b+1) n) in units of 1/m pixel; the pixels of box b are k0..k1 (k0 = floor(b n /
 * m), k1 = ceil((b+1) n / m) - 1), each weighted by its overlap (m for a whole pixel, at most
 * the first and the last less). */
static uint32_t overlap(int64_t k, int64_t b, int64_t n, int64_t m)
{
    int64_t lo = k * m > b * n ? k * m : b * n;
    int64_t hi = (k + 1) * m < (b + 1) * n ? (k + 1) * m : (b + 1) * n;
    return (uint32_t)(hi - lo);
}

/* Whole rows of a box summed in one pass. */
#define BATCH 8

/* The hot loop: one output row's vertical sums over the 3 W interleaved samples,
 * acc[j] = ws (f[0][j] + ... + f[NF-1][j]) + w0 r0[j] + w1 r1[j]: f the box's whole rows (the
 * missing ones a row of zeros), r0 and r1 the rows cut by its edges (or zeros). One pass over
 * what a box reads; a copy for boxes of up to 2, 4 and 8 whole rows (shortest sides under 3, 5
 * and 9 times AE_QUALITY_SIDE), so that few rows of zeros are read. The weights are 16-bit (a
 * working height up to 65535): 16 x 16 -> 32-bit products, which SSE2 has (pmullw, pmulhuw)
 * where a 32-bit product takes it five instructions (and gcc uses them only when the function
 * is not inlined into its caller, where the weights' types are lost). */
#if defined(__GNUC__)
#define AE_NOINLINE __attribute__((noinline))
#else
#define AE_NOINLINE
#endif
#define VBOX(NAME, NF)                                                                       \
    AE_NOINLINE static void NAME(uint32_t *restrict acc, const uint8_t *const *f, uint16_t ws, \
                                 const uint8_t *restrict r0, uint16_t w0,                      \
                                 const uint8_t *restrict r1, uint16_t w1, size_t n)            \
    {                                                                                         \
        const uint8_t *restrict f0 = f[0], *restrict f1 = f[1];                               \
        const uint8_t *restrict f2 = f[NF > 2 ? 2 : 0], *restrict f3 = f[NF > 2 ? 3 : 0];     \
        const uint8_t *restrict f4 = f[NF > 4 ? 4 : 0], *restrict f5 = f[NF > 4 ? 5 : 0];     \
        const uint8_t *restrict f6 = f[NF > 4 ? 6 : 0], *restrict f7 = f[NF > 4 ? 7 : 0];     \
        for (size_t j = 0; j < n; j++) {                                                      \
            uint16_t t = (uint16_t)(f0[j] + f1[j]);                                           \
            if (NF > 2) t = (uint16_t)(t + f2[j] + f3[j]);                                    \
            if (NF > 4) t = (uint16_t)(t + f4[j] + f5[j] + f6[j] + f7[j]);                    \
            acc[j] = (uint32_t)ws * t + (uint32_t)w0 * (uint16_t)r0[j] +                      \
                     (uint32_t)w1 * (uint16_t)r1[j];                                          \
        }                                                                                     \
    }
VBOX(vbox2, 2)
VBOX(vbox4, 4)
VBOX(vbox8, 8)

/* A box over 8 rows high (or a working height over 65535): s[j] = (first ? 0 : s[j]) + f[0][j]
 * + ... + f[7][j] into 16-bit sums, then acc[j] = ws s[j] + w0 r0[j] + w1 r1[j]. */
static void vsum(uint16_t *restrict s, int first, const uint8_t *const *f, size_t n)
{
    const uint8_t *restrict f0 = f[0], *restrict f1 = f[1], *restrict f2 = f[2];
    const uint8_t *restrict f3 = f[3], *restrict f4 = f[4], *restrict f5 = f[5];
    const uint8_t *restrict f6 = f[6], *restrict f7 = f[7];
    const uint16_t keep = first ? 0 : 0xffff;
    for (size_t j = 0; j < n; j++)
        s[j] = (uint16_t)((s[j] & keep) + f0[j] + f1[j] + f2[j] + f3[j] + f4[j] + f5[j] + f6[j] +
                          f7[j]);
}

static void vtall(uint32_t *restrict acc, const uint16_t *restrict s, uint32_t ws,
                  const uint8_t *restrict r0, uint32_t w0, const uint8_t *restrict r1,
                  uint32_t w1, size_t n)
{
    for (size_t j = 0; j < n; j++) acc[j] = ws * s[j] + w0 * r0[j] + w1 * r1[j];
}

/* The 16-bit sums of a box take 257 rows of 255: boxes are at most 256 rows high (a shortest
 * side up to 131,072 pixels; larger photos are refused). */
#define MAX_BOX_ROWS 256

/* Scratch of one call: the vertical sums of the current output row and the horizontal boxes. */
typedef struct qscratch {
    uint16_t *s16;   /* 3 W: the current box's whole rows, summed (tall boxes only) */
    uint32_t *acc;   /* 3 W: the box's weighted vertical sums */
    uint8_t *zero8;  /* 3 W zeros: the missing rows */
    int32_t *cx;     /* ow: the first column of each horizontal box */
    double *cw;      /* ow x taps: the weights of its columns (integers; 0 past its last) */
    double *lum;     /* W + taps: the luma of the vertical sums, 65536 Y per unit (integers) */
    float *y;        /* ow x oh: the working luma */
} qscratch;

static void qscratch_free(qscratch *s)
{
    free(s->s16), free(s->acc), free(s->zero8);
    free(s->cx), free(s->cw), free(s->lum), free(s->y);
}

/* The measures' sums go to LANES independent accumulators, so that the loop vectorises
 * without reassociating floating-point additions (no -ffast-math). */
#define LANES 8

/* Interior sums of the working image: Laplacian (sum, sum of squares) and |Y * M|. */
static void measure(const float *y, int32_t w, int32_t h, ae_quality *q)
{
    q->sharpness = q->noise = 0;
    if (w < 3 || h < 3) return;
    double ls = 0, ls2 = 0, ns = 0;
    for (int32_t r = 1; r < h - 1; r++) {
        const float *a = y + (size_t)(r - 1) * w, *b = a + w, *c = b + w;
        /* per row in float (exact enough over one row), then in double */
        float s[LANES] = {0}, s2[LANES] = {0}, n[LANES] = {0};
        int32_t x = 1;
        for (; x + LANES <= w - 1; x += LANES)
            for (int k = 0; k < LANES; k++) {
                const int32_t i = x + k;
                float l = b[i - 1] + b[i + 1] + a[i] + c[i] - 4 * b[i];
                float m = (a[i - 1] - 2 * a[i] + a[i + 1]) - 2 * (b[i - 1] - 2 * b[i] + b[i + 1]) +
                          (c[i - 1] - 2 * c[i] + c[i + 1]);
                s[k] += l, s2[k] += l * l, n[k] += fabsf(m);
            }
        for (; x < w - 1; x++) {
            float l = b[x - 1] + b[x + 1] + a[x] + c[x] - 4 * b[x];
            float m = (a[x - 1] - 2 * a[x] + a[x + 1]) - 2 * (b[x - 1] - 2 * b[x] + b[x + 1]) +
                      (c[x - 1] - 2 * c[x] + c[x + 1]);
            s[0] += l, s2[0] += l * l, n[0] += fabsf(m);
        }
        for (int k = 0; k < LANES; k++) ls += s[k], ls2 += s2[k], ns += n[k];
    }
    const double cnt = (double)(w - 2) * (double)(h - 2), mean = ls / cnt;
    double var = ls2 / cnt - mean * mean;
    q->sharpness = (float)(var > 0 ? var : 0);
    q->noise = (float)(1.2533141373155003 / (6 * cnt) * ns); /* sqrt(pi / 2) */
}

int ae_image_quality(const ae_image *img, ae_quality *q)
{
    if (!img || !q || !img->rgb || img->width <= 0 || img->height <= 0)
        return ae_fail(AE_ERR_INVALID, "ae_image_quality: invalid arguments");
    memset(q, 0, sizeof *q);
    const int64_t W = img->width, H = img->height;
    /* the 32-bit vertical sums hold 255 H units (H of them per row), the 16-bit sums of a box
     * its rows (MAX_BOX_ROWS, the height of a box in rows less one, times AE_QUALITY_SIDE) */
    if (W > (1 << 24) || H > (1 << 24) ||
        (W < H ? W : H) > (int64_t)MAX_BOX_ROWS * AE_QUALITY_SIDE)
        return ae_fail(AE_ERR_TOO_LARGE, "quality measures: %lld x %lld pixels is too large",
                       (long long)W, (long long)H);
    int32_t ow, oh;
    work_size(W, H, &ow, &oh);
    /* the horizontal boxes all get as many taps as the widest (W / ow + 1 at most) */
    int32_t taps = (int32_t)((W + ow - 1) / ow) + 1;
    const size_t n3 = (size_t)W * 3;
    qscratch s = {0};
    s.s16 = malloc(n3 * sizeof *s.s16);
    s.acc = malloc(n3 * sizeof *s.acc);
    s.zero8 = calloc(n3, 1);
    s.cx = malloc((size_t)ow * sizeof *s.cx);
    s.cw = calloc((size_t)ow * (size_t)taps, sizeof *s.cw);
    s.lum = calloc((size_t)W + (size_t)taps, sizeof *s.lum);
    s.y = malloc((size_t)ow * (size_t)oh * sizeof *s.y);
    if (!s.s16 || !s.acc || !s.zero8 || !s.cx || !s.cw || !s.lum || !s.y) {
        qscratch_free(&s);
        return ae_fail(AE_ERR_NOMEM, "quality measures: out of memory for %lld x %lld pixels",
                       (long long)W, (long long)H);
    }
    for (int64_t i = 0; i < ow; i++) {
        int64_t k0 = i * W / ow, k1 = ((i + 1) * W + ow - 1) / ow - 1;
        AE_ASSERT(k1 - k0 < taps);
        s.cx[i] = (int32_t)k0;
        for (int64_t k = k0; k <= k1; k++) s.cw[i * taps + (k - k0)] = overlap(k, i, W, ow);
    }

    /* a box of Y sums to 65536 (luma) x W x H (units) times its mean; the sums are integers,
     * exact in doubles below 2^53 (photos under 536 MP), so the thresholds are exact */
    const double denom = 65536.0 * (double)W * (double)H;
    const double hi = 250 * denom, lo = 5 * denom, inv = 1 / denom;
    uint64_t nhi = 0, nlo = 0;
    for (int64_t b = 0; b < oh; b++) {
        /* the hot loops: the vertical sums of output row b */
        int64_t y0 = b * H / oh, y1 = ((b + 1) * H + oh - 1) / oh - 1;
        const uint8_t *part[2] = {s.zero8, s.zero8}, *full[BATCH];
        uint32_t pw[2] = {0, 0};
        int npart = 0, nfull = 0, summed = 0;
        for (int64_t r = y0; r <= y1; r++) {
            const uint8_t *row = img->rgb + (size_t)r * n3;
            uint32_t w = overlap(r, b, H, oh);
            if (w != (uint32_t)oh) { /* cut by an edge of the box: the first or the last */
                AE_ASSERT(npart < 2);
                part[npart] = row, pw[npart] = w;
                npart++;
                continue;
            }
            if (nfull == BATCH) { /* a tall box: 8 more whole rows into the 16-bit sums */
                vsum(s.s16, summed == 0, full, n3);
                summed += BATCH, nfull = 0;
            }
            full[nfull++] = row;
        }
        AE_ASSERT(summed + nfull <= MAX_BOX_ROWS);
        for (int k = nfull; k < BATCH; k++) full[k] = s.zero8;
        if (summed || oh > 0xffff) { /* the last whole rows into the sums too */
            vsum(s.s16, summed == 0, full, n3);
            vtall(s.acc, s.s16, (uint32_t)oh, part[0], pw[0], part[1], pw[1], n3);
        } else {
            void (*box)(uint32_t *, const uint8_t *const *, uint16_t, const uint8_t *, uint16_t,
                        const uint8_t *, uint16_t, size_t) =
                nfull <= 2 ? vbox2 : nfull <= 4 ? vbox4 : vbox8;
            box(s.acc, full, (uint16_t)oh, part[0], (uint16_t)pw[0], part[1], (uint16_t)pw[1], n3);
        }
        /* its luma per column (exact: each term is below 2^53), then the horizontal boxes */
        for (int64_t x = 0; x < W; x++) {
            const uint32_t *a = s.acc + 3 * x;
            s.lum[x] = 19595.0 * a[0] + 38470.0 * a[1] + 7471.0 * a[2];
        }
        float *out = s.y + (size_t)b * (size_t)ow;
        int32_t i = 0;
        for (; i + 4 <= ow; i += 4) { /* four boxes at a time: independent additions */
            const double *l0 = s.lum + s.cx[i], *l1 = s.lum + s.cx[i + 1];
            const double *l2 = s.lum + s.cx[i + 2], *l3 = s.lum + s.cx[i + 3];
            const double *w = s.cw + (size_t)i * taps;
            double v0 = 0, v1 = 0, v2 = 0, v3 = 0;
            for (int32_t t = 0; t < taps; t++) {
                v0 += w[t] * l0[t], v1 += w[taps + t] * l1[t];
                v2 += w[2 * taps + t] * l2[t], v3 += w[3 * taps + t] * l3[t];
            }
            const double v[4] = {v0, v1, v2, v3};
            for (int k = 0; k < 4; k++) {
                nhi += v[k] >= hi, nlo += v[k] <= lo;
                out[i + k] = (float)(v[k] * inv);
            }
        }
        for (; i < ow; i++) {
            const double *l = s.lum + s.cx[i], *w = s.cw + (size_t)i * taps;
            double v = 0;
            for (int32_t t = 0; t < taps; t++) v += w[t] * l[t];
            nhi += v >= hi, nlo += v <= lo;
            out[i] = (float)(v * inv);
        }
    }
    const double npx = (double)ow * (double)oh;
    q->width = ow, q->height = oh;
    q->highlights = (float)((double)nhi / npx);
    q->shadows = (float)((double)nlo / npx);
    measure(s.y, ow, oh, q);
    qscratch_free(&s);
    return AE_OK;
}

/* ---- pixel hash --------------------------------------------------------------------------- */

void img_pixel_hash(const ae_image *img, int orientation, uint64_t out[2])
{
    /* the header (width, height, orientation as little-endian 32-bit) seeds the hash of the
     * pixels: no streaming state to allocate */
    uint8_t hd[12];
    const uint32_t v[3] = {(uint32_t)img->width, (uint32_t)img->height, (uint32_t)orientation};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) hd[4 * i + k] = (uint8_t)(v[i] >> (8 * k));
    XXH64_hash_t seed = XXH3_64bits(hd, sizeof hd);
    size_t n = img->rgb ? (size_t)img->width * (size_t)img->height * 3 : 0;
    XXH128_hash_t h = XXH3_128bits_withSeed(img->rgb, n, seed);
    out[0] = h.low64, out[1] = h.high64;
}

/* ---- capture ------------------------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : n[m - 1];
}

/* An entry's text (ASCII or UNDEFINED), up to its first NUL, into buf (cap > 0): NULL when
 * absent. */
static const char *entry_text(ExifData *d, ExifTag tag, char *buf, size_t cap)
{
    ExifEntry *e = exif_content_get_entry(d->ifd[EXIF_IFD_0], tag);
    if (!e) e = exif_content_get_entry(d->ifd[EXIF_IFD_EXIF], tag);
    if (!e || !e->data || (e->format != EXIF_FORMAT_ASCII && e->format != EXIF_FORMAT_UNDEFINED))
        return NULL;
    size_t n = 0;
    while (n < e->size && n + 1 < cap && e->data[n]) {
        buf[n] = (char)e->data[n];
        n++;
    }
    buf[n] = 0;
    return buf;
}

/* s without the spaces at either end, as [*b, *b + return) */
static size_t trimmed(const char *s, const char **b)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') n--;
    while (n && *s == ' ') s++, n--;
    *b = s;
    return n;
}

static int num(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* "YYYY:MM:DD HH:MM:SS" (also '-' between the date's fields and 'T' before the time) to seconds
 * since 1970 of that wall clock; 0 when malformed or out of range. */
static int parse_datetime(const char *text, double *t)
{
    const char *s;
    if (trimmed(text, &s) != 19) return 0;
    int y, mo, d, h, mi, se;
    if (!(s[4] == ':' || s[4] == '-') || s[7] != s[4] || !(s[10] == ' ' || s[10] == 'T') ||
        s[13] != ':' || s[16] != ':')
        return 0;
    if (!num(s, 4, &y) || !num(s + 5, 2, &mo) || !num(s + 8, 2, &d) || !num(s + 11, 2, &h) ||
        !num(s + 14, 2, &mi) || !num(s + 17, 2, &se))
        return 0;
    if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
        h > 23 || mi > 59 || se > 60)
        return 0;
    *t = (double)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se);
    return 1;
}

/* The fraction of a second of a SubSecTime ("5" = 0.5, "050" = 0.05): 0 unless all digits. */
static double parse_subsec(const char *text)
{
    const char *s;
    size_t n = trimmed(text, &s);
    double f = 0, p = 0.1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    for (size_t i = 0; i < n && i < 9; i++, p /= 10) f += (s[i] - '0') * p;
    return f;
}

/* "+HH:MM" / "-HH:MM" within -14:00..+14:00 to minutes east of UTC; 0 when not one. */
static int parse_offset(const char *text, int32_t *minutes)
{
    const char *s;
    int h, m;
    if (trimmed(text, &s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
        !num(s + 1, 2, &h) || !num(s + 4, 2, &m) || m > 59 || h * 60 + m > 14 * 60)
        return 0;
    *minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    return 1;
}

/* text made printable: bytes outside ' '..'~' dropped, runs of spaces made one, trimmed */
static void clean(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c < 0x20 || c > 0x7e || (c == ' ' && (n == 0 || out[n - 1] == ' '))) continue;
        out[n++] = (char)c;
    }
    while (n && out[n - 1] == ' ') n--;
    out[n] = 0;
}

/* the model names the maker already ("Canon" + "Canon EOS R5"), whatever the case */
static int starts_with_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    if (!n || strncasecmp(s, w, n) != 0) return 0;
    return s[n] == 0 || s[n] == ' ';
}

static void read_capture(ExifData *d, ae_capture *out)
{
    char raw[128], make[64], model[64], serial[64], sub[64], off[64];
    static const ExifTag when[2][3] = {
        {EXIF_TAG_DATE_TIME_ORIGINAL, EXIF_TAG_SUB_SEC_TIME_ORIGINAL,
         EXIF_TAG_OFFSET_TIME_ORIGINAL},
        {EXIF_TAG_DATE_TIME_DIGITIZED, EXIF_TAG_SUB_SEC_TIME_DIGITIZED,
         EXIF_TAG_OFFSET_TIME_DIGITIZED},
    };
    for (int k = 0; k < 2 && !out->has_time; k++) {
        const char *t = entry_text(d, when[k][0], raw, sizeof raw);
        double secs;
        if (!t || !parse_datetime(t, &secs)) continue;
        const char *ss = entry_text(d, when[k][1], sub, sizeof sub);
        if (ss) secs += parse_subsec(ss);
        const char *o = entry_text(d, when[k][2], off, sizeof off);
        if (o && parse_offset(o, &out->offset_minutes)) {
            out->has_offset = 1;
            secs -= 60.0 * out->offset_minutes;
        }
        out->has_time = 1;
        out->time = secs;
    }
    make[0] = model[0] = serial[0] = 0;
    if (entry_text(d, EXIF_TAG_MAKE, raw, sizeof raw)) clean(raw, make, sizeof make);
    if (entry_text(d, EXIF_TAG_MODEL, raw, sizeof raw)) clean(raw, model, sizeof model);
    if (entry_text(d, EXIF_TAG_BODY_SERIAL_NUMBER, raw, sizeof raw))
        clean(raw, serial, sizeof serial);
    if (model[0] && starts_with_word(model, make)) make[0] = 0;
    size_t n = 0, cap = sizeof out->camera;
    const char *parts[3] = {make, model, serial};
    for (int i = 0; i < 3; i++) {
        if (!parts[i][0]) continue;
        int r = snprintf(out->camera + n, cap - n, "%s%s%s", n ? " " : "", i == 2 ? "#" : "",
                         parts[i]);
        if (r < 0 || (size_t)r >= cap - n) { /* truncated: keep what fitted */
            n = strlen(out->camera);
            break;
        }
        n += (size_t)r;
    }
    while (n && out->camera[n - 1] == ' ') out->camera[--n] = 0;
}

int ae_exif_capture(const void *exif, size_t len, ae_capture *out)
{
    if (!out || (!exif && len))
        return ae_fail(AE_ERR_INVALID, "ae_exif_capture: invalid arguments");
    memset(out, 0, sizeof *out);
    const uint8_t *p = exif;
    /* libexif takes an unsigned int length and wants the prefix; at least the TIFF header */
    if (len < 8 || len > 0x7fffffff) return AE_OK;
    uint8_t *copy = NULL;
    if (memcmp(p, "Exif\0\0", 6) != 0) {
        if (!(copy = malloc(len + 6)))
            return ae_fail(AE_ERR_NOMEM, "ae_exif_capture: out of memory for %zu bytes", len);
        memcpy(copy, "Exif\0\0", 6);
        memcpy(copy + 6, p, len);
        p = copy;
        len += 6;
    }
    ExifData *d = exif_data_new();
    if (!d) {
        free(copy);
        return ae_fail(AE_ERR_NOMEM, "ae_exif_capture: out of memory");
    }
    exif_data_unset_option(d, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
    exif_data_unset_option(d, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(d, p, (unsigned int)len);
    read_capture(d, out);
    exif_data_unref(d);
    free(copy);
    return AE_OK;
}

int ae_capture_iso(const ae_capture *c, char *buf, size_t cap)
{
    if (!buf || cap == 0) return AE_ERR_INVALID;
    buf[0] = 0;
    if (!c || !c->has_time || !isfinite(c->time)) return AE_OK;
    /* back to the camera's clock when the offset is known; days from civil, inverted */
    double t = c->time + (c->has_offset ? c->offset_minutes * 60.0 : 0);
    double whole = floor(t);
    int ms = (int)floor((t - whole) * 1000 + 0.5);
    if (ms >= 1000) whole += 1, ms -= 1000;
    int64_t secs = (int64_t)whole, days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    size_t n = (size_t)snprintf(buf, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", (long long)y, (long long)m,
                                (long long)d, (long long)(sod / 3600), (long long)(sod / 60 % 60),
                                (long long)(sod % 60));
    if (ms && n < cap) n += (size_t)snprintf(buf + n, cap - n, ".%03d", ms);
    if (c->has_offset && n < cap) {
        int o = c->offset_minutes < 0 ? -c->offset_minutes : c->offset_minutes;
        snprintf(buf + n, cap - n, "%c%02d:%02d", c->offset_minutes < 0 ? '-' : '+', o / 60, o % 60);
    }
    return AE_OK;
}
