/*
 * cull_files.c — `aesthete cull --write-xmp / --move-rejects` (see cull_files.h).
 *
 * Moves never overwrite: renameat2(RENAME_NOREPLACE) where the file system has it, else
 * link() + unlink() (which fails on an existing name too); across file systems the file is
 * copied to a temporary name in the target folder, flushed, linked to its name (again
 * failing on an existing one) and only then removed from its old place. A reject's sidecars
 * go with it: IMG.jpg.xmp always, IMG.xmp unless another file of its folder shares the stem
 * IMG (a RAW + JPEG pair shares one sidecar; it stays).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cull_files.h"
#include "inputs.h"
#include "xmp.h"

void cull_files_opts_init(cull_files_opts *o)
{
    memset(o, 0, sizeof *o);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void cull_star_cuts(const cull_files_opts *o, const cull_photo *ph, int32_t n, double cuts[4])
{
    if (o->fixed_stars) {
        memcpy(cuts, o->stars, sizeof o->stars);
        return;
    }
    float *v = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    int32_t m = 0;
    for (int32_t i = 0; v && i < n; i++)
        if (ph[i].row->keep && isfinite(ph[i].score)) v[m++] = ph[i].score;
    if (v) qsort(v, (size_t)m, sizeof *v, cmp_float);
    for (int k = 0; k < 4; k++) cuts[k] = v && m ? v[(size_t)((int64_t)(k + 1) * m / 5)] : 0;
    free(v);
}

int cull_stars(const double cuts[4], float score)
{
    int stars = 1;
    for (int k = 0; k < 4; k++) stars += score >= cuts[k];
    return stars;
}

/* ---- paths ------------------------------------------------------------------------------- */

/* The absolute, symlink-free form of path, also when it does not exist yet (its deepest
 * existing ancestor resolved, the rest appended). 0 on success. */
static int resolve(const char *path, char *out)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    if (realpath(buf, out)) return 0;
    char *slash = strrchr(buf, '/');
    char parent[PATH_MAX], rest[PATH_MAX];
    if (!slash) {
        snprintf(rest, sizeof rest, "%s", buf);
        snprintf(parent, sizeof parent, ".");
    } else {
        snprintf(rest, sizeof rest, "%s", slash + 1);
        *slash = 0;
        snprintf(parent, sizeof parent, "%s", slash == buf ? "/" : buf);
    }
    char p[PATH_MAX];
    if (resolve(parent, p) != 0) return -1;
    return snprintf(out, PATH_MAX, "%s/%s", strcmp(p, "/") ? p : "", rest) >= PATH_MAX ? -1 : 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 if path lies below folder (both resolved) */
static int below(const char *path, const char *folder)
{
    size_t n = strlen(folder);
    if (strcmp(folder, "/") == 0) return path[0] == '/' && path[1];
    return strncmp(path, folder, n) == 0 && path[n] == '/';
}

int cull_check_move_target(const char *dir, const char *const *args, int nargs, int recursive)
{
    char t[PATH_MAX], a[PATH_MAX];
    struct stat st;
    if (!*dir) return cli_usage_error("cull", "--move-rejects: an empty folder name");
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return cli_usage_error("cull", "--move-rejects: %s exists and is not a folder", dir);
    if (resolve(dir, t) != 0) return cli_usage_error("cull", "--move-rejects: %s: cannot resolve the path", dir);
    for (int i = 0; i < nargs; i++) {
        if (ae_is_url(args[i]) || !is_dir(args[i]) || !realpath(args[i], a)) continue;
        if (strcmp(t, a) == 0)
            return cli_usage_error("cull", "--move-rejects: %s is the input folder %s itself", dir, args[i]);
        if (below(t, a) && recursive)
            return cli_usage_error("cull",
                                   "--move-rejects: %s is inside the input folder %s, which -r would scan again "
                                   "(choose a folder outside it)",
                                   dir, args[i]);
    }
    return 0;
}

/* The path a photo keeps below the target: relative to the input folder it was found in,
 * else its file name. */
static void relative_name(const char *path, const char *const *args, int nargs, char *out, size_t cap)
{
    char p[PATH_MAX], a[PATH_MAX];
    const char *base = strrchr(path, '/');
    snprintf(out, cap, "%s", base ? base + 1 : path);
    if (!realpath(path, p)) return;
    for (int i = 0; i < nargs; i++) {
        if (ae_is_url(args[i]) || !is_dir(args[i]) || !realpath(args[i], a)) continue;
        if (below(p, a)) {
            snprintf(out, cap, "%s", p + strlen(a) + (strcmp(a, "/") != 0));
            return;
        }
    }
}

/* moves src to dst without ever replacing dst; 0, or -1 with errno */
static int move_noreplace(const char *src, const char *dst)
{
    if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) return 0;
    if (errno == EINVAL || errno == ENOSYS) { /* no RENAME_NOREPLACE here */
        if (link(src, dst) == 0) return unlink(src) == 0 ? 0 : -1;
    }
    if (errno != EXDEV) return -1;
    if (cli_copy_noreplace(src, dst) != 0) return -1;
    return unlink(src);
}

/* 1 if another entry of path's folder has the same stem (IMG_1.CR2 beside IMG_1.jpg) */
static int stem_shared(const char *path)
{
    char folder[PATH_MAX], stem[NAME_MAX + 1];
    const char *slash = strrchr(path, '/');
    snprintf(folder, sizeof folder, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash && slash == path) snprintf(folder, sizeof folder, "/");
    const char *name = slash ? slash + 1 : path;
    snprintf(stem, sizeof stem, "%s", name);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    size_t sl = strlen(stem);
    DIR *d = opendir(folder);
    if (!d) return 1; /* unknown: keep the sidecar where it is */
    int shared = 0;
    for (struct dirent *e; !shared && (e = readdir(d));) {
        size_t el = strlen(e->d_name);
        if (strcmp(e->d_name, name) == 0 || strncmp(e->d_name, stem, sl) != 0 || e->d_name[sl] != '.') continue;
        if (el >= 4 && strcasecmp(e->d_name + el - 4, ".xmp") == 0) continue; /* a sidecar */
        shared = 1;
    }
    closedir(d);
    return shared;
}

static int move_one(const cull_files_opts *o, const char *src, const char *rel)
{
    char dst[PATH_MAX];
    if (snprintf(dst, sizeof dst, "%s/%s", o->move_to, rel) >= (int)sizeof dst) {
        cli_error("%s: the target path is too long", src);
        return -1;
    }
    struct stat st;
    if (lstat(dst, &st) == 0) {
        cli_error("%s: not moved: %s exists (never overwritten)", src, dst);
        return -1;
    }
    if (o->dry_run) {
        fprintf(stderr, "move (dry run): %s -> %s\n", src, dst);
        return 0;
    }
    if (cli_mkdirs(dst) != 0 || move_noreplace(src, dst) != 0) {
        cli_error("%s: not moved to %s: %s", src, dst, strerror(errno));
        return -1;
    }
    fprintf(stderr, "moved: %s -> %s\n", src, dst);
    return 0;
}

static int move_reject(const cull_files_opts *o, const char *path, const char *const *args, int nargs)
{
    char rel[PATH_MAX], side_rel[2 * PATH_MAX];
    relative_name(path, args, nargs, rel, sizeof rel);
    /* the sidecars that belong to this photo alone, found before the photo moves */
    int have[2] = {0, 0};
    char sides[2][PATH_MAX];
    for (int k = 0; k < 2; k++) {
        struct stat st;
        if (ae_xmp_sidecar_path(path, k ? AE_XMP_NAME_EXT : AE_XMP_NAME_BASE, sides[k], sizeof sides[k]) == AE_OK &&
            stat(sides[k], &st) == 0 && S_ISREG(st.st_mode))
            have[k] = k == 1 || !stem_shared(path);
    }
    if (move_one(o, path, rel) != 0) return -1;
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        if (!have[k]) continue;
        const char *sn = strrchr(sides[k], '/');
        sn = sn ? sn + 1 : sides[k];
        char *rs = strrchr(rel, '/');
        if (snprintf(side_rel, sizeof side_rel, "%.*s%s", rs ? (int)(rs - rel + 1) : 0, rel, sn) >=
                (int)sizeof side_rel ||
            move_one(o, sides[k], side_rel) != 0)
            rc = -1;
    }
    return rc;
}

/* ---- the actions ------------------------------------------------------------------------- */

int32_t cull_files_apply(const cull_files_opts *o, const cull_photo *ph, int32_t n, const char *const *args,
                         int nargs)
{
    int32_t failures = 0;
    int32_t made = 0, updated = 0, same = 0, bad = 0, moved = 0, unmoved = 0;
    double cuts[4];
    cull_star_cuts(o, ph, n, cuts);
    for (int32_t i = 0; o->write_xmp && i < n; i++) {
        const ae_cull_row *r = ph[i].row;
        if (ae_is_url(ph[i].path)) continue; /* nowhere to put a sidecar */
        char side[PATH_MAX], group[16] = "", line[512];
        if (ae_xmp_sidecar_path(ph[i].path, o->xmp_ext ? AE_XMP_NAME_EXT : AE_XMP_NAME_BASE, side, sizeof side) != AE_OK) {
            cli_error("%s", ae_last_error());
            failures++, bad++;
            continue;
        }
        if (r->group >= 0) snprintf(group, sizeof group, "%d", r->group + 1);
        ae_xmp_fields f = {
            .rating = r->keep ? cull_stars(cuts, ph[i].score) : -1,
            .score = ph[i].score,
            .group = group,
            .kind = ae_cull_kind_name(r->kind),
            .role = r->group < 0 ? "single" : r->keep ? "keep" : "reject",
            .method = o->method,
        };
        ae_xmp_change ch;
        if (ae_xmp_update(side, &f, o->dry_run, &ch, line, sizeof line) != AE_OK) {
            cli_error("%s", ae_last_error());
            failures++, bad++;
            continue;
        }
        if (ch == AE_XMP_UNCHANGED) {
            same++;
            continue;
        }
        ch == AE_XMP_CREATED ? made++ : updated++;
        fprintf(stderr, "xmp%s: %s: %s\n", o->dry_run ? " (dry run)" : "", side, line);
    }
    if (o->write_xmp)
        cli_error("%sXMP sidecars: %d %s, %d %s, %d unchanged, %d failed", o->dry_run ? "dry run: " : "", made,
                  o->dry_run ? "to create" : "created", updated, o->dry_run ? "to update" : "updated", same, bad);
    for (int32_t i = 0; o->move_to && i < n; i++) {
        if (ph[i].row->keep || ae_is_url(ph[i].path)) continue;
        if (move_reject(o, ph[i].path, args, nargs) != 0) failures++, unmoved++;
        else moved++;
    }
    if (o->move_to)
        cli_error("%srejects: %d %s to %s, %d not moved", o->dry_run ? "dry run: " : "", moved,
                  o->dry_run ? "to move" : "moved", o->move_to, unmoved);
    return failures;
}
