/*
 * image_heif.c — HEIC and AVIF through libheif: the primary image as interleaved 8-bit RGB.
 *
 * libheif applies the container's transformations (irot rotation, imir mirroring, clap
 * crop) while decoding, so the image comes out upright whatever exif_rotate says; per the
 * HEIF rules the EXIF Orientation is then not applied a second time. The size checked
 * against the pixel limit is the transformed size libheif reports before decoding. Which
 * codecs work depends on the plugins libheif was built with (libde265 for HEIC, dav1d or
 * libaom for AVIF); a missing one is reported as unsupported. The primary image's Exif item
 * (a 32-bit big-endian offset to the TIFF header, then the block) is handed back for the
 * capture facts, marked upright so that its Orientation is not applied.
 */
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "error.h"
#include "image_formats.h"

static int heif_err(const char *name, struct heif_error e)
{
    int rc = AE_ERR_FORMAT;
    if (e.code == heif_error_Unsupported_filetype || e.code == heif_error_Unsupported_feature)
        rc = AE_ERR_UNSUPPORTED;
    else if (e.code == heif_error_Memory_allocation_error)
        rc = AE_ERR_NOMEM;
    return ae_fail(rc, "%s: HEIF: %s", name, e.message ? e.message : "decoding failed");
}

/* The first Exif item of the image, without its offset word (best effort: none on any
 * failure). */
static void find_exif(struct heif_image_handle *hd, img_exif *exif)
{
    heif_item_id id;
    if (heif_image_handle_get_list_of_metadata_block_IDs(hd, "Exif", &id, 1) != 1) return;
    size_t n = heif_image_handle_get_metadata_size(hd, id);
    if (n < 4 || n > (64u << 20)) return;
    uint8_t *b = malloc(n);
    if (!b) return;
    if (heif_image_handle_get_metadata(hd, id, b).code == heif_error_Ok) {
        uint32_t off = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (off <= n - 4) {
            exif->owned = b;
            exif->data = b + 4 + off;
            exif->len = n - 4 - off;
            exif->upright = 1;
            return;
        }
    }
    free(b);
}

int img_decode_heif(const uint8_t *data, size_t size, const char *name,
                    const ae_image_params *params, ae_image *out, img_exif *exif)
{
    /* An ftyp box is also how MP4/MOV/3GP files start: only HEIF brands go further. */
    if (heif_check_filetype(data, size > INT32_MAX ? INT32_MAX : (int)size) == heif_filetype_no)
        return ae_fail(AE_ERR_UNSUPPORTED,
                       "%s: unknown image format (an ISO media file, but not HEIF or AVIF)",
                       name);
    struct heif_context *ctx = heif_context_alloc();
    if (!ctx) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
    struct heif_image_handle *hd = NULL;
    struct heif_image *img = NULL;
    int rc;
    struct heif_error e = heif_context_read_from_memory_without_copy(ctx, data, size, NULL);
    if (e.code != heif_error_Ok) {
        rc = heif_err(name, e);
        goto done;
    }
    e = heif_context_get_primary_image_handle(ctx, &hd);
    if (e.code != heif_error_Ok) {
        rc = heif_err(name, e);
        goto done;
    }
    rc = img_check_size(name, heif_image_handle_get_width(hd), heif_image_handle_get_height(hd),
                        params);
    if (rc != AE_OK) goto done;
    if (exif) find_exif(hd, exif);
    e = heif_decode_image(hd, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGB, NULL);
    if (e.code != heif_error_Ok) {
        rc = heif_err(name, e);
        goto done;
    }
    int w = heif_image_get_width(img, heif_channel_interleaved);
    int h = heif_image_get_height(img, heif_channel_interleaved);
    int stride = 0;
    const uint8_t *p = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    rc = img_check_size(name, w, h, params);
    if (rc != AE_OK) goto done;
    if (!p || stride < w * 3) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: HEIF: no RGB plane after decoding", name);
        goto done;
    }
    rc = img_alloc(name, w, h, out);
    if (rc != AE_OK) goto done;
    for (int y = 0; y < h; y++)
        memcpy(out->rgb + (size_t)y * w * 3, p + (size_t)y * stride, (size_t)w * 3);
done:
    if (img) heif_image_release(img);
    if (hd) heif_image_handle_release(hd);
    heif_context_free(ctx);
    return rc;
}
