/*
 * torchfile.c — the container of torch.save (PyTorch >= 1.6): a zip archive, its entries
 * stored uncompressed, all under one root folder (torch names it after the file, or
 * "archive"):
 *   <root>/data.pkl             the pickled object, here a state dict (pickle.c reads it)
 *   <root>/data/<key>           the raw little-endian bytes of each storage data.pkl names
 *   <root>/version              the format version, a decimal line ("3"); ".data/version"
 *                               in format 6 and later
 *   <root>/byteorder            "little" or "big" (torch >= 2.1; absent: little)
 *   <root>/.data/serialization_id and others that a reader does not need
 * The root is whatever folder holds data.pkl. Each storage is read once when the first
 * tensor viewing it is converted (tied weights share one) and kept until the load ends; its
 * size must be exactly what data.pkl declares, and libzip checks each entry's CRC when it is
 * read to the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "error.h"
#include "fileio.h"
#include "pickle.h"

typedef struct storage {
    char *key;
    uint8_t *data;
    uint64_t size;
} storage;

typedef struct torchfile {
    zip_t *za;
    const char *label;
    char *root;               /* "archive/": the folder of data.pkl, with its slash */
    storage *s;               /* storages read so far */
    size_t n, cap;
} torchfile;

/* Finds entry <root><rel>: AE_OK with its index and size, or AE_ERR_FORMAT (when required)
 * or AE_ERR_NOT_FOUND (silently) if it is missing. */
static int locate(torchfile *f, const char *rel, int required, zip_uint64_t *idx, uint64_t *size)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", f->root, rel);
    zip_int64_t i = zip_name_locate(f->za, name, 0);
    if (i < 0)
        return required ? ae_fail(AE_ERR_FORMAT, "%s: %s is missing", f->label, name)
                        : AE_ERR_NOT_FOUND;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(f->za, (zip_uint64_t)i, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return ae_fail(AE_ERR_FORMAT, "%s: %s: %s", f->label, name, zip_strerror(f->za));
    /* a small file cannot ask for a huge buffer: deflate expands at most ~1032:1, and
     * torch.save stores its entries uncompressed anyway */
    if ((st.valid & ZIP_STAT_COMP_SIZE) && st.size > 1032 * (uint64_t)st.comp_size + 4096)
        return ae_fail(AE_ERR_FORMAT, "%s: %s claims %llu bytes from %llu compressed, more than deflate can give",
                       f->label, name, (unsigned long long)st.size, (unsigned long long)st.comp_size);
    *idx = (zip_uint64_t)i;
    *size = st.size;
    return AE_OK;
}

/* Reads entry idx (size bytes, checked against max first) into a new buffer *out. Reading
 * one byte past the end makes libzip check the CRC and catches an entry longer than its
 * stated size. */
static int read_entry(torchfile *f, const char *rel, zip_uint64_t idx, uint64_t size,
                      uint64_t max, uint8_t **out)
{
    if (size > max)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: %s%s of %llu bytes (at most %llu)", f->label,
                       f->root, rel, (unsigned long long)size, (unsigned long long)max);
    uint8_t *buf = malloc(size + 1);
    if (!buf) return ae_fail(AE_ERR_NOMEM, "%s: out of memory for %s%s", f->label, f->root, rel);
    zip_file_t *zf = zip_fopen_index(f->za, idx, 0);
    if (!zf) {
        free(buf);
        return ae_fail(AE_ERR_FORMAT, "%s: %s%s: %s", f->label, f->root, rel, zip_strerror(f->za));
    }
    uint64_t got = 0;
    zip_int64_t r = 1;
    while (got <= size && r > 0) {
        r = zip_fread(zf, buf + got, size + 1 - got);
        if (r > 0) got += (uint64_t)r;
    }
    int rc = AE_OK;
    if (r < 0)
        rc = ae_fail(AE_ERR_FORMAT, "%s: %s%s: %s", f->label, f->root, rel, zip_file_strerror(zf));
    else if (got != size)
        rc = ae_fail(AE_ERR_FORMAT, "%s: %s%s holds %llu bytes, its header says %llu", f->label,
                     f->root, rel, (unsigned long long)got, (unsigned long long)size);
    zip_fclose(zf);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[size] = 0; /* text entries read as C strings */
    *out = buf;
    return AE_OK;
}

/* pk_storage_fn over the zip: storage <root>/data/<key>, read once. */
static int fetch(void *ctx, const char *key, uint64_t nbytes, const uint8_t **data)
{
    torchfile *f = ctx;
    char rel[80];
    snprintf(rel, sizeof rel, "data/%s", key);
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->s[i].key, key)) {
            if (f->s[i].size != nbytes) break;
            *data = f->s[i].data;
            return AE_OK;
        }
    zip_uint64_t idx;
    uint64_t size;
    int rc = locate(f, rel, 1, &idx, &size);
    if (rc) return rc;
    if (size != nbytes)
        return ae_fail(AE_ERR_FORMAT, "%s: %s%s holds %llu bytes, data.pkl declares %llu",
                       f->label, f->root, rel, (unsigned long long)size,
                       (unsigned long long)nbytes);
    if (f->n == f->cap) {
        size_t nc = f->cap ? 2 * f->cap : 16;
        storage *s = realloc(f->s, nc * sizeof *s);
        if (!s) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", f->label);
        f->s = s;
        f->cap = nc;
    }
    storage *s = &f->s[f->n];
    if (!(s->key = strdup(key))) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", f->label);
    rc = read_entry(f, rel, idx, size, PK_MAX_STORAGE, &s->data);
    if (rc) {
        free(s->key);
        return rc;
    }
    s->size = size;
    f->n++;
    *data = s->data;
    return AE_OK;
}

/* The folder of the first entry named <folder>/data.pkl, with its slash. */
static int find_root(torchfile *f)
{
    zip_int64_t n = zip_get_num_entries(f->za, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(f->za, (zip_uint64_t)i, 0);
        const char *slash = name ? strchr(name, '/') : NULL;
        if (!slash || slash == name || strcmp(slash + 1, "data.pkl")) continue;
        f->root = strndup(name, (size_t)(slash + 1 - name));
        return f->root ? AE_OK : ae_fail(AE_ERR_NOMEM, "%s: out of memory", f->label);
    }
    return ae_fail(AE_ERR_FORMAT, "%s: no <folder>/data.pkl: not a checkpoint of torch.save",
                   f->label);
}

/* <root>/version (or .data/version) must be a positive decimal number; <root>/byteorder, if
 * there, "little". */
static int check_headers(torchfile *f)
{
    zip_uint64_t idx;
    uint64_t size;
    uint8_t *text = NULL;
    const char *rel = "version";
    int rc = locate(f, rel, 0, &idx, &size);
    if (rc == AE_ERR_NOT_FOUND) rc = locate(f, rel = ".data/version", 0, &idx, &size);
    if (rc == AE_ERR_NOT_FOUND)
        return ae_fail(AE_ERR_FORMAT, "%s: %sversion is missing", f->label, f->root);
    if (!rc) rc = read_entry(f, rel, idx, size, 64, &text);
    if (rc) return rc;
    char *end;
    errno = 0;
    long v = strtol((char *)text, &end, 10);
    int ok = end != (char *)text && v > 0 && !errno && (*end == 0 || !strcmp(end, "\n"));
    free(text);
    if (!ok) return ae_fail(AE_ERR_FORMAT, "%s: %s%s is not a version number", f->label, f->root, rel);

    rc = locate(f, "byteorder", 0, &idx, &size);
    if (rc == AE_ERR_NOT_FOUND) return AE_OK;
    if (!rc) rc = read_entry(f, "byteorder", idx, size, 64, &text);
    if (rc) return rc;
    int little = !strcmp((char *)text, "little"), big = !strcmp((char *)text, "big");
    free(text);
    if (big) return ae_fail(AE_ERR_UNSUPPORTED, "%s: a big-endian checkpoint", f->label);
    if (!little) return ae_fail(AE_ERR_FORMAT, "%s: %sbyteorder is neither little nor big",
                                f->label, f->root);
    return AE_OK;
}

static int load_zip(zip_t *za, const char *label, pk_tensors *out)
{
    torchfile f = {.za = za, .label = label};
    uint8_t *pkl = NULL;
    zip_uint64_t idx;
    uint64_t size;
    int rc = find_root(&f);
    if (!rc) rc = check_headers(&f);
    if (!rc) rc = locate(&f, "data.pkl", 1, &idx, &size);
    if (!rc) rc = read_entry(&f, "data.pkl", idx, size, PK_MAX_PICKLE, &pkl);
    if (!rc) rc = pk_unpickle_state_dict_mem(pkl, (size_t)size, label, fetch, &f, out);
    free(pkl);
    for (size_t i = 0; i < f.n; i++) {
        free(f.s[i].key);
        free(f.s[i].data);
    }
    free(f.s);
    free(f.root);
    return rc;
}

/* Opens src as a zip (src is freed either way) and loads it. */
static int load_source(zip_source_t *src, const char *label, pk_tensors *out)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!za) {
        int code = zip_error_code_zip(&ze);
        int rc = ae_fail(code == ZIP_ER_READ || code == ZIP_ER_OPEN ? AE_ERR_IO : AE_ERR_FORMAT,
                         "%s: %s%s", label, zip_error_strerror(&ze),
                         code == ZIP_ER_NOZIP ? " (torch.save writes one since torch 1.6)" : "");
        zip_error_fini(&ze);
        zip_source_free(src);
        return rc;
    }
    zip_error_fini(&ze);
    int rc = load_zip(za, label, out);
    zip_discard(za);
    return rc;
}

int pk_torch_load(const char *path, pk_tensors *out)
{
    memset(out, 0, sizeof *out);
    FILE *fp = ae_file_fopen(path);
    if (!fp) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_filep_create(fp, 0, -1, &ze); /* owns fp from here */
    if (!src) {
        int rc = ae_fail(AE_ERR_IO, "%s: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        fclose(fp);
        return rc;
    }
    zip_error_fini(&ze);
    return load_source(src, path, out);
}

int pk_torch_load_mem(const void *data, size_t size, const char *label, pk_tensors *out)
{
    memset(out, 0, sizeof *out);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
    if (!src) {
        int rc = ae_fail(AE_ERR_NOMEM, "%s: %s", label, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    zip_error_fini(&ze);
    return load_source(src, label, out);
}
