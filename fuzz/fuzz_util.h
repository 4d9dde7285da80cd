/*
 * fuzz_util.h — what the fuzz targets that read files share: a private folder (under
 * $FUZZ_TMPDIR, else /dev/shm, else /tmp; removed at exit) into which the input is written
 * under the name the parser is to see, and a UTF-8 check of their own to hold the parsers'
 * promises against. Static inline functions: each target includes it once.
 */
#ifndef AE_FUZZ_UTIL_H
#define AE_FUZZ_UTIL_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 8

static char fuzz_dir_[512];
static char fuzz_files_[FUZZ_MAX_FILES][640];
static int fuzz_nfiles_;

static inline void fuzz_cleanup_(void)
{
    for (int i = 0; i < fuzz_nfiles_; i++) unlink(fuzz_files_[i]);
    rmdir(fuzz_dir_);
}

/* The path of file `name` in the private folder (made on first use); at most
 * FUZZ_MAX_FILES distinct names per target, all removed at exit. */
static inline const char *fuzz_path(const char *name)
{
    if (!fuzz_dir_[0]) {
        const char *t = getenv("FUZZ_TMPDIR");
        struct stat st;
        if (!t || !*t) t = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/aesthete-fuzz-XXXXXX", t);
        if (!mkdtemp(fuzz_dir_)) abort();
        atexit(fuzz_cleanup_);
    }
    char p[640];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir_, name);
    for (int i = 0; i < fuzz_nfiles_; i++)
        if (!strcmp(fuzz_files_[i], p)) return fuzz_files_[i];
    if (fuzz_nfiles_ == FUZZ_MAX_FILES) abort();
    snprintf(fuzz_files_[fuzz_nfiles_], sizeof fuzz_files_[0], "%s", p);
    return fuzz_files_[fuzz_nfiles_++];
}

/* Writes data[size] to path (replacing it). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    for (size_t off = 0; off < size;) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) abort();
        off += (size_t)k;
    }
    if (close(fd) != 0) abort();
}

/* 1 if s[0..n) is UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static inline int fuzz_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i], need, min, cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC0 && c < 0xE0) { need = 1; min = 0x80; cp = c & 0x1F; }
        else if (c >= 0xE0 && c < 0xF0) { need = 2; min = 0x800; cp = c & 0x0F; }
        else if (c >= 0xF0 && c < 0xF8) { need = 3; min = 0x10000; cp = c & 0x07; }
        else return 0;
        if (n - i <= need) return 0;
        for (uint32_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

/* 1 if the last error message starts with `name` followed by ':' */
static inline int fuzz_names(const char *msg, const char *name)
{
    size_t n = strlen(name);
    return msg && !strncmp(msg, name, n) && msg[n] == ':';
}

#endif
