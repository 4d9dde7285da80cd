/*
 * image_sniff.c — recognising an image format from its first bytes (magic numbers), so that
 * files are taken by content, whatever their name. HEIF/AVIF are ISO media files: "ftyp" at
 * offset 4 followed by a major brand of the image family (an MP4 video has "ftyp" too).
 */
#include <string.h>

#include "aesthete.h"

static int heif_brand(const unsigned char *b)
{
    static const char brands[][5] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                     "mif1", "msf1", "avif", "avis", "mif2"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (!memcmp(b, brands[i], 4)) return 1;
    return 0;
}

const char *ae_image_format(const void *head, size_t n)
{
    const unsigned char *d = head;
    if (!d) return NULL;
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "jpeg";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return "webp";
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return "gif";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "bmp";
    if (n >= 12 && !memcmp(d + 4, "ftyp", 4)) {
        if (heif_brand(d + 8)) return "heif";
        /* the major brand may be generic; look through the compatible brands */
        size_t box = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
        for (size_t off = 16; off + 4 <= n && off + 4 <= box; off += 4)
            if (heif_brand(d + off)) return "heif";
    }
    return NULL;
}
