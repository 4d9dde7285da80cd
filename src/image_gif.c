/*
 * image_gif.c — the first frame of a GIF with giflib, as Pillow 9.4 shows it.
 *
 * Pillow's frame 0 is a palette image of the logical screen size (grown to contain the
 * frame if the frame sticks out). Pixels outside the frame hold the transparent index when
 * a Graphic Control Extension before the frame declares one, else index 0. convert("RGB")
 * then looks every index up in the frame's palette (local colour table, else the global
 * one); indices past the table's end take Pillow's default palette, the gray ramp
 * (i, i, i); transparency is ignored. Only the records up to the first image are read,
 * so a long animation costs one frame.
 */
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "error.h"
#include "image_formats.h"

typedef struct reader {
    const uint8_t *data;
    size_t size, pos;
} reader;

static int on_read(GifFileType *gif, GifByteType *buf, int n)
{
    reader *r = gif->UserData;
    size_t left = r->size - r->pos;
    size_t k = n < 0 ? 0 : (size_t)n < left ? (size_t)n : left;
    memcpy(buf, r->data + r->pos, k);
    r->pos += k;
    return (int)k;
}

static int gif_fail(GifFileType *gif, const char *name, int err)
{
    int rc;
    if (err == D_GIF_ERR_READ_FAILED || err == D_GIF_ERR_EOF_TOO_SOON)
        rc = ae_fail(AE_ERR_FORMAT, "%s: truncated GIF data", name);
    else if (err == D_GIF_ERR_NOT_ENOUGH_MEM)
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
    else {
        const char *s = GifErrorString(err);
        rc = ae_fail(AE_ERR_FORMAT, "%s: corrupt GIF data: %s", name, s ? s : "unknown error");
    }
    if (gif) DGifCloseFile(gif, NULL);
    return rc;
}

int img_decode_gif(const uint8_t *data, size_t size, const char *name,
                   const ae_image_params *params, ae_image *out, img_exif *exif)
{
    (void)exif;
    reader rd = {data, size, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&rd, on_read, &err);
    if (!gif) return gif_fail(NULL, name, err);

    int transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) return gif_fail(gif, name, gif->Error);
        if (type == TERMINATE_RECORD_TYPE) {
            DGifCloseFile(gif, NULL);
            return ae_fail(AE_ERR_FORMAT, "%s: GIF file has no image", name);
        }
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR)
                return gif_fail(gif, name, gif->Error);
            /* as Pillow: the last GCE with the transparency flag set wins */
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1))
                transparent = ext[4];
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR)
                    return gif_fail(gif, name, gif->Error);
            }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) continue;
        break;
    }
    if (DGifGetImageDesc(gif) == GIF_ERROR) return gif_fail(gif, name, gif->Error);

    const GifImageDesc *fd = &gif->Image;
    if (fd->Left < 0 || fd->Top < 0 || fd->Width < 0 || fd->Height < 0)
        return gif_fail(gif, name, D_GIF_ERR_IMAGE_DEFECT);
    int64_t w = gif->SWidth, h = gif->SHeight;
    if ((int64_t)fd->Left + fd->Width > w) w = (int64_t)fd->Left + fd->Width;
    if ((int64_t)fd->Top + fd->Height > h) h = (int64_t)fd->Top + fd->Height;
    int rc = img_check_size(name, w, h, params);
    if (rc != AE_OK) {
        DGifCloseFile(gif, NULL);
        return rc;
    }

    uint8_t pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
    const ColorMapObject *cm = fd->ColorMap ? fd->ColorMap : gif->SColorMap;
    if (cm && cm->Colors) {
        for (int i = 0; i < cm->ColorCount && i < 256; i++) {
            pal[i][0] = cm->Colors[i].Red;
            pal[i][1] = cm->Colors[i].Green;
            pal[i][2] = cm->Colors[i].Blue;
        }
    }

    /* Indices of the whole canvas, then one palette lookup. */
    uint8_t *idx = malloc((size_t)w * (size_t)h);
    if (!idx) {
        DGifCloseFile(gif, NULL);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", name);
    }
    memset(idx, transparent >= 0 ? transparent : 0, (size_t)w * (size_t)h);
    if (fd->Width > 0 && fd->Height > 0) {
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        const int passes = fd->Interlace ? 4 : 1;
        for (int p = 0; p < passes; p++) {
            for (int y = fd->Interlace ? start[p] : 0; y < fd->Height;
                 y += fd->Interlace ? step[p] : 1) {
                uint8_t *row = idx + ((size_t)(fd->Top + y) * w + fd->Left);
                if (DGifGetLine(gif, row, fd->Width) == GIF_ERROR) {
                    free(idx);
                    return gif_fail(gif, name, gif->Error);
                }
            }
        }
    }
    DGifCloseFile(gif, NULL);

    rc = img_alloc(name, (int32_t)w, (int32_t)h, out);
    if (rc == AE_OK) {
        const size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++) memcpy(out->rgb + 3 * i, pal[idx[i]], 3);
    }
    free(idx);
    return rc;
}
