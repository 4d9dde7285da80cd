/*
 * fuzz_xmp.c — libFuzzer target for XMP sidecars (app/xmp.c): the input becomes an existing
 * sidecar (a file in a private folder under $FUZZ_TMPDIR, else /dev/shm, else /tmp) that is
 * updated with fields picked from the input's size, first as a dry run, then for real. The
 * promises checked: a refusal is AE_ERR_FORMAT or AE_ERR_UNSUPPORTED with a message starting
 * with the path, the file byte for byte as it was, nothing reported; a dry run never changes
 * the file and says what the real run then does (same change, same summary); an accepted
 * sidecar comes out re-readable with exactly the fields set, and a second update of it changes
 * nothing and does not write; no temporary file is ever left behind. Built by -DAE_FUZZ=ON
 * (fuzz/run.sh):
 *
 *   build-fuzz/fuzz_xmp -max_len=8192 -timeout=10 -close_fd_mask=2 -dict=fuzz/xmp.dict fuzz/corpus/xmp/
 *
 * (-close_fd_mask=2: exempi prints the text of every XMP error it meets to stderr; libFuzzer's
 * own and the sanitizers' reports still come through. Seeds: an empty packet, darktable's and
 * Lightroom's sidecars, one with the <?xpacket?> wrapper, rdf:RDF as the root, one aesthete
 * wrote, a two-language title that is refused.)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aesthete.h"
#include "xmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[512], path[600];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    const char *t = getenv("FUZZ_TMPDIR");
    struct stat st;
    if (!t || !*t) t = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_xmp-XXXXXX", t);
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/IMG_0001.xmp", dir);
    atexit(cleanup);
}

static void put(const uint8_t *d, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (n && write(fd, d, n) != (ssize_t)n) || close(fd) != 0) abort();
}

/* The file's bytes (caller frees), *n set. */
static uint8_t *get(size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    size_t cap = 65536, len = 0;
    uint8_t *b = malloc(cap);
    for (size_t k; (k = fread(b + len, 1, cap - len, f)) > 0;) {
        len += k;
        if (len == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    *n = len;
    return b;
}

static int same_bytes(const uint8_t *d, size_t n)
{
    size_t m;
    uint8_t *now = get(&m);
    int same = m == n && (n == 0 || !memcmp(now, d, n));
    free(now);
    return same;
}

/* Only the sidecar in the folder: no temporary file left. */
static void check_alone(void)
{
    DIR *d = opendir(dir);
    if (!d) abort();
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    if (n != 1) abort();
}

static void check_fields(const ae_xmp_fields *f)
{
    ae_xmp_info in;
    if (ae_xmp_read(path, &in) != AE_OK) abort();
    if (!in.has_rating || in.rating != f->rating || !in.has_score) abort();
    char a[64], b[64];
    snprintf(a, sizeof a, "%.4f", f->score);
    snprintf(b, sizeof b, "%.4f", in.score);
    if (strcmp(a, b)) abort();
    if (strcmp(in.group, f->group ? f->group : "") || strcmp(in.kind, f->kind ? f->kind : "") ||
        strcmp(in.role, f->role ? f->role : "") || strcmp(in.method, f->method ? f->method : ""))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) setup();
    static const char *const kinds[] = {"exact", "near", "burst", "single", NULL};
    static const char *const roles[] = {"keep", "reject", "single", NULL};
    ae_xmp_fields f = {.rating = (int32_t)(size % 7) - 1,
                       .score = (float)(size % 1000) / 100.0f,
                       .group = size % 3 ? "g7" : NULL,
                       .kind = kinds[size % 5],
                       .role = roles[size % 4],
                       .method = size % 2 ? "ensemble" : ""};
    put(data, size);

    ae_xmp_change ch = AE_XMP_CREATED, ch2 = AE_XMP_CREATED;
    char sum[512], sum2[512];
    int rc = ae_xmp_update(path, &f, 1, &ch, sum, sizeof sum);
    if (!same_bytes(data, size)) abort(); /* a dry run never writes */
    check_alone();
    if (rc != AE_OK) {
        if (rc != AE_ERR_FORMAT && rc != AE_ERR_UNSUPPORTED && rc != AE_ERR_NOMEM) abort();
        if (strncmp(ae_last_error(), path, strlen(path)) || ch != AE_XMP_UNCHANGED || sum[0])
            abort();
    } else if (ch == AE_XMP_CREATED || !sum[0]) abort();

    int rc2 = ae_xmp_update(path, &f, 0, &ch2, sum2, sizeof sum2);
    check_alone();
    if (rc2 != rc && rc2 != AE_ERR_NOMEM) abort();
    if (rc2 != AE_OK) {
        if (!same_bytes(data, size)) abort(); /* refused: untouched */
        return 0;
    }
    if (ch2 != ch || strcmp(sum, sum2)) abort();
    if (ch2 == AE_XMP_UNCHANGED && !same_bytes(data, size)) abort();
    check_fields(&f);

    /* what was written reads back, and the same update again changes nothing */
    size_t n1;
    uint8_t *w = get(&n1);
    if (ae_xmp_update(path, &f, 0, &ch2, sum2, sizeof sum2) != AE_OK) abort();
    if (ch2 != AE_XMP_UNCHANGED || strcmp(sum2, "unchanged")) abort();
    if (!same_bytes(w, n1)) abort();
    free(w);
    check_alone();
    return 0;
}
