/*
 * image_webp.c — WebP decoding (lossy, lossless, extended, animated) with libwebp.
 *
 * Pillow 9.4 reads every WebP file through libwebp's WebPAnimDecoder in MODE_RGBA (also
 * still images), and convert("RGB") drops the alpha byte; we do the same, so the result is
 * the first frame rendered on the canvas: for a still image exactly the decoded pixels (alpha
 * dropped, colour of transparent pixels kept), for an animation the first frame on a
 * transparent-black canvas. The demuxer gives the canvas size before any pixel is decoded
 * (pixel limit) and the EXIF chunk (orientation).
 */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "error.h"
#include "image_formats.h"

int img_decode_webp(const uint8_t *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out, img_exif *exif)
{
    WebPData wd = {data, size};
    WebPDemuxState state;
    WebPDemuxer *demux = WebPDemuxPartial(&wd, &state);
    if (!demux) return ae_fail(AE_ERR_FORMAT, "%s: corrupt WebP data", name);
    if (state != WEBP_DEMUX_DONE) {
        WebPDemuxDelete(demux);
        return ae_fail(AE_ERR_FORMAT, "%s: truncated WebP data", name);
    }
    uint32_t w = WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
    uint32_t h = WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
    uint32_t frames = WebPDemuxGetI(demux, WEBP_FF_FRAME_COUNT);
    int rc = img_check_size(name, w, h, params);
    if (rc == AE_OK && frames == 0) rc = ae_fail(AE_ERR_FORMAT, "%s: WebP file has no frame", name);
    if (rc == AE_OK && exif) {
        WebPChunkIterator it;
        if (WebPDemuxGetChunk(demux, "EXIF", 1, &it)) {
            exif->owned = malloc(it.chunk.size ? it.chunk.size : 1);
            if (exif->owned) {
                memcpy(exif->owned, it.chunk.bytes, it.chunk.size);
                exif->data = exif->owned;
                exif->len = it.chunk.size;
            }
            WebPDemuxReleaseChunkIterator(&it);
        }
    }
    WebPDemuxDelete(demux);
    if (rc != AE_OK) return rc;

    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: libwebp version mismatch", name);
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opt);
    if (!dec) return ae_fail(AE_ERR_FORMAT, "%s: corrupt WebP data", name);
    uint8_t *rgba = NULL;
    int ts = 0;
    if (!WebPAnimDecoderGetNext(dec, &rgba, &ts) || !rgba) {
        WebPAnimDecoderDelete(dec);
        return ae_fail(AE_ERR_FORMAT, "%s: corrupt WebP image data", name);
    }
    rc = img_alloc(name, (int32_t)w, (int32_t)h, out);
    if (rc == AE_OK) {
        const size_t n = (size_t)w * h;
        uint8_t *d = out->rgb;
        for (size_t i = 0; i < n; i++, d += 3, rgba += 4) {
            d[0] = rgba[0];
            d[1] = rgba[1];
            d[2] = rgba[2];
        }
    }
    WebPAnimDecoderDelete(dec);
    return rc;
}
