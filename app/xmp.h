/*
 * xmp.h — XMP sidecars for `aesthete cull`: the rating and the cull's verdict written beside an
 * image where photo tools (Lightroom, darktable, digiKam, exiv2, exiftool) read them, every
 * other property of an existing sidecar kept.
 *
 *     char side[4096];
 *     ae_xmp_change ch;
 *     char what[256];
 *     ae_xmp_fields f = {.rating = -1, .score = 4.21f, .group = "g12", .kind = "burst",
 *                        .role = "reject", .method = "ensemble"};
 *     if (ae_xmp_sidecar_path("shoot/IMG_0012.jpg", AE_XMP_NAME_BASE, side, sizeof side) ||
 *         ae_xmp_update(side, &f, dry_run, &ch, what, sizeof what))
 *         return fail(ae_last_error()); // "shoot/IMG_0012.xmp: not XMP: line 3: ..."
 *     printf("%s: %s\n", side, what);
 *     // "shoot/IMG_0012.xmp: rating 3 -> -1, aesthete:Role keep -> reject"
 *
 * What is written (one rdf:Description, as exempi serialises it):
 *   - xmp:Rating (the XMP basic schema, http://ns.adobe.com/xap/1.0/): -1 (rejected) or 0..5,
 *     as an integer ("3"), which is what Lightroom, darktable and digiKam write and read.
 *   - in the namespace http://ns.aesthete.dev/1.0/, prefix "aesthete": Score (the score as
 *     "%.4f", "4.2100"), Group, Kind, Role, Method (text). A field given as NULL (or "" for
 *     group and method) is removed from the sidecar, so a sidecar never keeps a stale verdict
 *     of an earlier run beside a new one.
 * Only the properties whose value changes are touched; everything else (other namespaces,
 * structs, arrays, language alternatives, qualifiers) is carried over by exempi's parser and
 * serialiser. What XMP does not model is not kept: comments, the layout, several
 * rdf:Descriptions (merged into one), the packet wrapper; and Adobe's toolkit in exempi makes
 * its touch-ups of old XMP on reading, as Lightroom's does (the x-default item first in a
 * language alternative, exif:UserComment made one, xmpDM:copyright moved into dc:rights). The file is written without the
 * <?xpacket?> wrapper: a wrapper and its padding exist for rewriting XMP inside a media file
 * in place; sidecars as Lightroom and exiv2 write them have none, and every reader takes both.
 *
 * Reading an existing sidecar: it must be a regular file (a symbolic link is refused rather
 * than replaced by a file) of at most AE_XMP_MAX_BYTES, well-formed XML (checked first with
 * libxml2, without network or DTD: a DOCTYPE is refused, as Adobe's toolkit does) whose root
 * element is x:xmpmeta (or x:xapmeta) holding rdf:RDF, or rdf:RDF itself, and exempi must
 * accept its RDF. Anything else is AE_ERR_FORMAT and the file is left as it is, byte for byte:
 * "IMG_0012.xmp: not XMP: line 4: Premature end of data in tag rdf:Description line 3". The
 * check first matters because exempi itself writes the text of every error it meets to stderr
 * ("XML parsing failure"); a sidecar that passes libxml2 but has bad RDF still makes it print
 * that one line, which this module cannot stop. One well-formed kind is refused too, with
 * AE_ERR_UNSUPPORTED: a language alternative (dc:title, dc:description, ...) of exactly two
 * items, x-default and one language, with different texts. Adobe's toolkit in exempi gives
 * the second item the x-default text whenever it reads or writes XMP, so rewriting the sidecar
 * would lose that text ("IMG_0012.xmp: dc:title: its x-default and de-DE texts differ, and
 * exempi would overwrite the de-DE one with x-default's; left as it is"). Three or more items,
 * or two with the same text, are kept as they are.
 *
 * Exempi's serialisation is read back (libxml2, then exempi) before anything is written: its
 * serialiser writes some parsed values unescaped (an rdf:about holding '"'), and a sidecar
 * that would not read back is AE_ERR_UNSUPPORTED "IMG_0012.xmp: exempi's rewrite of it would
 * not read back (not XMP: line 3: attributes construct error); left as it is".
 *
 * Writing: through ae_file_atomic_* (fileio.h): a temporary "<sidecar>.tmp.XXXXXX" in the
 * same folder, fsync, rename; a process killed at any moment leaves the old sidecar or the new
 * one, never a part of one. The temporary name does not end in .xmp, so a tool scanning the
 * folder never takes a stale one (left by a kill -9) for a sidecar. An existing sidecar keeps
 * its permission bits; a new one is 0644. If the sidecar changed (inode, size or mtime) or
 * appeared between the reading and the rename, nothing is written: AE_ERR_IO "...: changed by
 * another program while being updated; not written". An update that changes nothing does not
 * write at all (AE_XMP_UNCHANGED: mtime and inode stay).
 *
 * Sidecar names (ae_xmp_sidecar_path): AE_XMP_NAME_BASE replaces the last extension of the
 * file name by ".xmp" (IMG_0012.CR2 -> IMG_0012.xmp), which Lightroom, digiKam (default) and
 * exiftool's convention use; note that IMG_0012.CR2 and IMG_0012.JPG then share one sidecar,
 * as in Lightroom. AE_XMP_NAME_EXT appends ".xmp" (IMG_0012.CR2 -> IMG_0012.CR2.xmp), as
 * darktable does, one sidecar per file. A leading dot is not an extension (".hidden" ->
 * ".hidden.xmp"); dots in folder names never are.
 *
 * Errors: AE_ERR_INVALID (bad arguments: a NULL, a rating outside -1..5, a score that is not
 * finite, a kind or role that is not one of the words below, a group or method that is not
 * UTF-8 text without control characters or longer than AE_XMP_MAX_TEXT - 1 bytes),
 * AE_ERR_FORMAT (the sidecar, as above), AE_ERR_IO (reading or writing), AE_ERR_NOMEM,
 * AE_ERR_UNSUPPORTED (the language alternative or a rewrite that would not read back, both
 * above; exempi could not be initialised). ae_last_error() is one line starting with the
 * sidecar's path. Thread-safe: exempi is initialised once (pthread_once; never terminated,
 * since other code in the process may use it), its state is per call; exempi's table of
 * namespaces is global and keeps every namespace URI a sidecar declared. Number formatting and
 * parsing (Score) follow the C locale, as the rest of the program does.
 */
#ifndef AE_APP_XMP_H
#define AE_APP_XMP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AE_XMP_NS "http://ns.aesthete.dev/1.0/"
#define AE_XMP_PREFIX "aesthete"
/* The largest sidecar read (Lightroom's with a long develop history are ~100 KB). */
#define AE_XMP_MAX_BYTES ((size_t)16 << 20)
/* Text fields (group, method), NUL included. */
#define AE_XMP_MAX_TEXT 256

typedef enum ae_xmp_naming {
    AE_XMP_NAME_BASE = 0, /* IMG_0012.jpg -> IMG_0012.xmp (Lightroom, digiKam's default) */
    AE_XMP_NAME_EXT = 1   /* IMG_0012.jpg -> IMG_0012.jpg.xmp (darktable) */
} ae_xmp_naming;

/* The sidecar path of image into out (cap bytes, NUL included). Returns AE_OK, or
 * AE_ERR_INVALID for a NULL, an unknown naming, an image path without a file name ("",
 * "photos/", ".", "..") or a result that does not fit in cap (out is then ""). */
int ae_xmp_sidecar_path(const char *image, ae_xmp_naming naming, char *out, size_t cap);

typedef struct ae_xmp_fields {
    int32_t rating;     /* xmp:Rating: -1 (rejected) or 0..5 */
    float score;        /* aesthete:Score, finite */
    const char *group;  /* aesthete:Group (a group's id); NULL or "": none (a single) */
    const char *kind;   /* aesthete:Kind: "exact", "near", "burst" or "single"; NULL: none */
    const char *role;   /* aesthete:Role: "keep", "reject" or "single"; NULL: none */
    const char *method; /* aesthete:Method: what scored it ("ensemble", a head's name); NULL
                           or "": none */
} ae_xmp_fields;

typedef enum ae_xmp_change {
    AE_XMP_UNCHANGED = 0, /* the sidecar already held these values; not written */
    AE_XMP_CREATED = 1,   /* there was no sidecar; one was (or, dry, would be) written */
    AE_XMP_UPDATED = 2    /* an existing sidecar was (or would be) rewritten */
} ae_xmp_change;

/* Creates or updates the sidecar at path sidecar with f, as described above; with dry_run
 * nothing is written (the sidecar is still read and checked). change (may be NULL) says what
 * happened or would happen. summary (may be NULL; cap bytes, always NUL-terminated, cut if
 * short) gets one line: "new sidecar, rating 4", "rating 3 -> -1, aesthete:Role keep ->
 * reject" (the changed fields in the order rating, Role, Kind, Group, Score, Method; "none"
 * for a field absent before or after), or "unchanged". On an error *change is
 * AE_XMP_UNCHANGED, the summary "" and the sidecar untouched. */
int ae_xmp_update(const char *sidecar, const ae_xmp_fields *f, int dry_run,
                  ae_xmp_change *change, char *summary, size_t cap);

/* What a sidecar says (ae_xmp_read). Text longer than the buffers is cut at a character
 * boundary; absent text is "". */
typedef struct ae_xmp_info {
    int32_t has_rating;  /* xmp:Rating present and a whole number in -1..5 */
    int32_t rating;
    int32_t has_score;   /* aesthete:Score present and a finite number */
    float score;
    char group[AE_XMP_MAX_TEXT];
    char kind[32];
    char role[32];
    char method[AE_XMP_MAX_TEXT];
} ae_xmp_info;

/* Reads the rating and the aesthete fields of the sidecar at path sidecar into *out (zeroed
 * first). Returns AE_OK, AE_ERR_NOT_FOUND (no such file), or the errors of reading in
 * ae_xmp_update (AE_ERR_FORMAT, AE_ERR_IO, ...; a language alternative that an update would
 * refuse reads fine). */
int ae_xmp_read(const char *sidecar, ae_xmp_info *out);

#ifdef __cplusplus
}
#endif

#endif
