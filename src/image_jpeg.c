/*
 * image_jpeg.c — JPEG decoding with libjpeg(-turbo), byte-identical to Pillow 9.4.
 *
 * Pillow decodes at full size with libjpeg's default settings (islow IDCT, fancy
 * upsampling, no DCT scaling), so we do too, unless params->fast_decode asks for
 * libjpeg-turbo's DCT scaling (M/8, the smallest output whose shortest side is still >=
 * fast_decode_side; img_jpeg_scale), the idea of Pillow's draft() with turbo's finer steps: 1 component -> L (replicated to RGB),
 * 3 components -> RGB (libjpeg's own YCbCr/RGB detection), 4 components -> CMYK read as
 * Adobe-inverted ("CMYK;I", whether or not an Adobe marker is present, as Pillow assumes)
 * and converted with Pillow's integer formula:
 *     nk = 255 - K,  t = C * nk + 128,  R = nk - ((t + (t >> 8)) >> 8)   (C, K inverted)
 *
 * libjpeg reports fatal errors through error_exit, which we turn into a longjmp back here
 * and a one-line message. A file that ends early only makes libjpeg warn (JWRN_JPEG_EOF)
 * and fill the rest with gray; Pillow raises "image file is truncated" instead, so that
 * warning is an error here (AE_ERR_FORMAT, "truncated JPEG data"). Other warnings (corrupt
 * entropy data that libjpeg can resynchronise past) are ignored, as in Pillow.
 * The first APP1 "Exif\0\0" segment is handed back (orientation, capture time and camera).
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "error.h"
#include "image.h"
#include "image_formats.h"

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    int truncated;
} jerr;

static void on_error(j_common_ptr cinfo)
{
    jerr *e = (jerr *)cinfo->err;
    longjmp(e->jmp, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    jerr *e = (jerr *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
}

static void no_output(j_common_ptr cinfo) { (void)cinfo; }

/* A progressive file can hold thousands of tiny scans that each cost a pass over the whole
 * coefficient buffer (a CPU bomb in a small file); real encoders write about ten. */
#define MAX_SCANS 1000

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        cinfo->err->msg_code = JMSG_LASTMSGCODE; /* ours, see the message below */
        longjmp(((jerr *)cinfo->err)->jmp, 1);
    }
}

int img_jpeg_scale(int64_t w, int64_t h, int64_t side)
{
    if (side <= 0 || w <= 0 || h <= 0) return 8;
    for (int m = 1; m < 8; m++) { /* libjpeg's output size: jdiv_round_up(w * m, 8) */
        int64_t ow = (w * m + 7) / 8, oh = (h * m + 7) / 8;
        if ((ow < oh ? ow : oh) >= side) return m;
    }
    return 8;
}

/* First APP1 segment starting with "Exif\0\0", scanned from the markers libjpeg saved. */
static void find_exif(struct jpeg_decompress_struct *ci, img_exif *exif)
{
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0) {
            exif->owned = malloc(m->data_length);
            if (!exif->owned) return; /* the EXIF facts are best effort */
            memcpy(exif->owned, m->data, m->data_length);
            exif->data = exif->owned;
            exif->len = m->data_length;
            return;
        }
    }
}

/* One CMYK;I sample pair to an RGB value (Pillow's cmyk2rgb on inverted input). */
static inline uint8_t cmyk_channel(unsigned c_raw, unsigned k_raw)
{
    unsigned c = 255 - c_raw, nk = k_raw; /* nk = 255 - K where K = 255 - k_raw */
    unsigned t = c * nk + 128;
    return (uint8_t)(nk - ((t + (t >> 8)) >> 8));
}

int img_decode_jpeg(const uint8_t *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out, img_exif *exif)
{
    struct jpeg_decompress_struct ci;
    jerr err;
    /* volatile: modified between setjmp and a possible longjmp */
    uint8_t *volatile row = NULL;
    volatile int created = 0;

    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    err.pub.output_message = no_output;
    err.truncated = 0;
    if (setjmp(err.jmp)) {
        char msg[JMSG_LENGTH_MAX];
        err.pub.format_message((j_common_ptr)&ci, msg);
        int rc;
        if (err.truncated || err.pub.msg_code == JERR_INPUT_EMPTY ||
            err.pub.msg_code == JERR_INPUT_EOF)
            rc = ae_fail(AE_ERR_FORMAT, "%s: truncated JPEG data", name);
        else if (err.pub.msg_code == JMSG_LASTMSGCODE)
            rc = ae_fail(AE_ERR_TOO_LARGE, "%s: JPEG has more than %d scans", name, MAX_SCANS);
        else
            rc = ae_fail(AE_ERR_FORMAT, "%s: corrupt JPEG data: %s", name, msg);
        if (created) jpeg_destroy_decompress(&ci);
        free(row);
        ae_image_free(out);
        return rc;
    }
    jpeg_create_decompress(&ci);
    created = 1;
    struct jpeg_progress_mgr progress = {on_progress, 0, 0, 0, 0};
    ci.progress = &progress;
    /* jpeg_mem_src takes unsigned long; a file over 4 GiB on a 32-bit long is refused. */
    if ((unsigned long)size != size) longjmp(err.jmp, 1);
    jpeg_mem_src(&ci, data, (unsigned long)size);
    jpeg_save_markers(&ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&ci, TRUE);
    if (err.truncated) longjmp(err.jmp, 1);

    int rc = img_check_size(name, ci.image_width, ci.image_height, params);
    if (rc != AE_OK) {
        jpeg_destroy_decompress(&ci);
        return rc;
    }
    int nc = ci.num_components;
    if (nc == 1) ci.out_color_space = JCS_GRAYSCALE;
    else if (nc == 3) ci.out_color_space = JCS_RGB;
    else if (nc == 4) ci.out_color_space = JCS_CMYK;
    else {
        jpeg_destroy_decompress(&ci);
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: JPEG with %d components is not supported", name,
                       nc);
    }
    if (exif) find_exif(&ci, exif);
    if (params->fast_decode && params->fast_decode_side > 0) {
        /* DCT scaling (--fast-decode): the IDCT itself produces the reduced image */
        int m = img_jpeg_scale(ci.image_width, ci.image_height, params->fast_decode_side);
        if (m < 8) {
            ci.scale_num = (unsigned)m;
            ci.scale_denom = 8;
        }
    }

    jpeg_start_decompress(&ci);
    if (err.truncated) longjmp(err.jmp, 1);
    rc = img_alloc(name, (int32_t)ci.output_width, (int32_t)ci.output_height, out);
    if (rc != AE_OK) {
        jpeg_destroy_decompress(&ci);
        return rc;
    }
    const int32_t w = out->width;
    if (nc != 3) {
        row = malloc((size_t)w * ci.output_components);
        if (!row) {
            jpeg_destroy_decompress(&ci);
            ae_image_free(out);
            return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
        }
    }
    while (ci.output_scanline < ci.output_height) {
        uint8_t *dst = out->rgb + (size_t)ci.output_scanline * w * 3;
        if (nc == 3) { /* RGB straight into the image, several rows per call */
            JSAMPROW rp[16];
            JDIMENSION want = ci.output_height - ci.output_scanline;
            if (want > 16) want = 16;
            for (JDIMENSION i = 0; i < want; i++) rp[i] = dst + (size_t)i * w * 3;
            if (jpeg_read_scanlines(&ci, rp, want) == 0 || err.truncated) longjmp(err.jmp, 1);
            continue;
        }
        JSAMPROW rp = row;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1 || err.truncated) longjmp(err.jmp, 1);
        if (nc == 1) {
            for (int32_t x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
        } else if (nc == 4) {
            for (int32_t x = 0; x < w; x++) {
                const uint8_t *s = row + 4 * x;
                dst[3 * x + 0] = cmyk_channel(s[0], s[3]);
                dst[3 * x + 1] = cmyk_channel(s[1], s[3]);
                dst[3 * x + 2] = cmyk_channel(s[2], s[3]);
            }
        }
    }
    /* Not jpeg_finish_decompress: Pillow does not look past the last scanline either. */
    jpeg_destroy_decompress(&ci);
    free(row);
    return AE_OK;
}
