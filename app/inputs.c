/*
 * inputs.c — collecting image paths and URLs from folders, list files and stdin.
 *
 * Folders are read with opendir/readdir and sorted, so a ranking never depends on the file
 * system's order. A file counts as an image when its first bytes are those of a format the
 * decoder knows (ae_image_format), whatever its name: cameras and scrapers produce
 * "IMG_0001", "photo.jpeg.1" and ".JPG" alike. Symlinked folders are not followed, so a link
 * loop cannot make the walk endless. Hidden names (".thumbnails/", "._IMG_0001.JPG" from
 * macOS) are left out unless asked for, as ls and most photo tools do.
 *
 * A file named on the command line that is no image is a list of paths only when it says so
 * (*.txt, *.lst) or reads as text: a PDF or a binary named by mistake is reported as the
 * input it is, never read line by line into a flood of "no such file" errors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aesthete.h"
#include "error.h"
#include "fetch.h"
#include "fileio.h"
#include "inputs.h"
#include "utf8.h"
#include "wds.h"

#define MAX_LINE 65536

int ae_is_url(const char *s)
{
    return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

static int push(ae_inputs *in, const char *s)
{
    if (in->n == in->cap) {
        int32_t cap = in->cap ? in->cap * 2 : 64;
        char **p = realloc(in->items, sizeof(char *) * (size_t)cap);
        if (!p) return ae_fail(AE_ERR_NOMEM, "out of memory");
        in->items = p;
        in->cap = cap;
    }
    if (!(in->items[in->n] = strdup(s))) return ae_fail(AE_ERR_NOMEM, "out of memory");
    in->n++;
    return AE_OK;
}

int ae_inputs_push(ae_inputs *in, const char *s) { return push(in, s); }

void ae_inputs_free(ae_inputs *in)
{
    for (int32_t i = 0; i < in->n; i++) free(in->items[i]);
    free(in->items);
    memset(in, 0, sizeof *in);
}

/* 1 if the file starts like an image; 0 if not or unreadable */
static int looks_like_image(const char *path)
{
    unsigned char head[32];
    /* a regular file only: never waits on a FIFO, never eats a pipe's bytes */
    int fd = ae_file_open(path);
    if (fd < 0) return 0;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, head, sizeof head) : -1;
    close(fd);
    return n > 0 && ae_image_format(head, (size_t)n) != NULL;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

/* 1 if a regular file that is no image is a list of paths: named *.txt or *.lst, or (not
 * empty) its first 64 KiB are UTF-8 text without control characters other than tab, CR, LF
 * (a sequence cut at the end of the sample does not count against it). */
static int is_list_file(const char *path, off_t size)
{
    if (has_suffix(path, ".txt") || has_suffix(path, ".lst")) return 1;
    if (size == 0) return 0;
    unsigned char buf[65536];
    int fd = ae_file_open(path);
    if (fd < 0) return 1; /* read as a list: the error then names the file */
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0) return n == 0;
    for (ssize_t i = 0; i < n;) {
        uint32_t c;
        size_t k = ae_utf8_decode(buf + i, (size_t)(n - i), &c);
        if (!k) return n == (ssize_t)sizeof buf && n - i < 4; /* cut by the sample */
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return 0;
        i += (ssize_t)k;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void warnf(ae_inputs_warn warn, void *ctx, const char *fmt, const char *a, const char *b)
{
    char msg[4600];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (warn) warn(ctx, msg);
}

/* 1 if the entry (name, and path below the folder named: rel) is left out of a walk */
static int left_out(ae_inputs *in, const char *name, const char *rel)
{
    if (name[0] == '.' && !in->hidden) {
        in->hidden_skipped++;
        return 1;
    }
    for (int32_t i = 0; i < in->n_exclude; i++)
        if (!fnmatch(in->exclude[i], name, 0) || !fnmatch(in->exclude[i], rel, FNM_PATHNAME)) {
            in->excluded++;
            return 1;
        }
    return 0;
}

/* root: the length of the folder named by the user in dir's path ("photos/" of
 * "photos/2024/x.jpg"), for the relative paths --exclude matches */
static int walk(ae_inputs *in, const char *dir, size_t root, int recursive, int top, ae_inputs_warn warn, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (top) return ae_fail(AE_ERR_IO, "%s: %s", dir, strerror(errno));
        warnf(warn, ctx, "%s: %s (skipped)", dir, strerror(errno));
        return AE_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = AE_OK;
    struct dirent *e;
    while (rc == AE_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t dl = strlen(dir);
        char rel[4352];
        snprintf(rel, sizeof rel, "%s%s%s", dl > root ? dir + root + (dir[root] == '/') : "",
                 dl > root ? "/" : "", e->d_name);
        if (left_out(in, e->d_name, rel)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, sizeof(char *) * cap);
            if (!p) { rc = ae_fail(AE_ERR_NOMEM, "out of memory"); break; }
            names = p;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) { rc = ae_fail(AE_ERR_NOMEM, "out of memory"); break; }
        snprintf(names[n], len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        n++;
    }
    closedir(d);
    if (names) qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; rc == AE_OK && i < n; i++) {
        struct stat st;
        if (lstat(names[i], &st) != 0) {
            warnf(warn, ctx, "%s: %s (skipped)", names[i], strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (recursive) rc = walk(in, names[i], root, recursive, 0, warn, ctx);
            continue;
        }
        if (S_ISLNK(st.st_mode) && (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))) continue;
        if (!S_ISREG(st.st_mode)) continue;
        if (looks_like_image(names[i])) rc = push(in, names[i]);
        else in->not_images++;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

static int read_list(ae_inputs *in, FILE *f, const char *label, ae_inputs_warn warn, void *ctx)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = AE_OK;
    while (rc == AE_OK && (len = getline(&line, &cap, f)) >= 0) {
        no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        int has_nul = memchr(line, 0, (size_t)len) != NULL; /* before trimming writes NULs */
        char *s = line;
        if (no == 1 && !strncmp(s, "\xef\xbb\xbf", 3)) s += 3; /* BOM */
        while (*s == ' ' || *s == '\t') s++;
        size_t l = strlen(s);
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = 0;
        if (!*s || *s == '#') continue;
        if (has_nul) {
            char where[64];
            snprintf(where, sizeof where, "%ld", no);
            warnf(warn, ctx, "%s: line %s: NUL byte in the line (skipped)", label, where);
            continue;
        }
        if (l > MAX_LINE) {
            char where[64];
            snprintf(where, sizeof where, "%ld", no);
            warnf(warn, ctx, "%s: line %s: longer than 65536 bytes (skipped)", label, where);
            continue;
        }
        rc = push(in, s);
    }
    free(line);
    return rc;
}

typedef struct braces {
    ae_inputs *in;
    int recursive;
    ae_inputs_warn warn;
    void *ctx;
} braces;
static int add_expanded(void *c, const char *name)
{
    braces *b = c;
    return ae_inputs_add(b->in, name, b->recursive, b->warn, b->ctx);
}

int ae_inputs_add(ae_inputs *in, const char *arg, int recursive, ae_inputs_warn warn, void *ctx)
{
    if (!strcmp(arg, "-")) return read_list(in, stdin, "stdin", warn, ctx);
    if (ae_is_url(arg)) return push(in, arg);
    struct stat st;
    if (strchr(arg, '{') && stat(arg, &st) != 0) /* a brace list: data/{00000..00099}.tar */
        return ae_wds_expand(arg, add_expanded, &(braces){in, recursive, warn, ctx});
    if (stat(arg, &st) != 0 && errno == ENOENT && ae_url_scheme_len(arg))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: unsupported URL scheme \"%.*s\" (only http and https)", arg,
                       (int)ae_url_scheme_len(arg), arg);
    if (stat(arg, &st) != 0) return ae_fail(AE_ERR_IO, "%s: %s", arg, strerror(errno));
    if (S_ISDIR(st.st_mode)) return walk(in, arg, strlen(arg), recursive, 1, warn, ctx);
    if (S_ISREG(st.st_mode) && ae_wds_is_tar(arg)) return push(in, arg); /* a WebDataset shard */
    /* a pipe (`<(find ...)`) is a list: it is not sniffed, which would consume its first bytes */
    if (S_ISREG(st.st_mode) && (looks_like_image(arg) || !is_list_file(arg, st.st_size))) return push(in, arg);
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
        return ae_fail(AE_ERR_IO, "%s: not a file, folder or pipe", arg);
    FILE *f = fopen(arg, "r");
    if (!f) return ae_fail(AE_ERR_IO, "%s: %s", arg, strerror(errno));
    int rc = read_list(in, f, arg, warn, ctx);
    fclose(f);
    return rc;
}
