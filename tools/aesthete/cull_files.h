/*
 * cull_files.h — what `aesthete cull` changes on disk when asked: ratings in XMP sidecars
 * (app/xmp.c) and rejects moved aside. Every action is reported on stderr, one line each;
 * with dry_run nothing changes and the lines say what would.
 */
#ifndef AE_CLI_CULL_FILES_H
#define AE_CLI_CULL_FILES_H

#include <stdint.h>

#include "aesthete.h"

typedef struct cull_files_opts {
    int write_xmp;       /* --write-xmp */
    int xmp_ext;         /* --xmp-name ext: IMG.jpg.xmp; else IMG.xmp */
    int fixed_stars;     /* --stars given: stars[] are the cut points */
    double stars[4];     /* below stars[0] 1 star, ..., at or above stars[3] 5 */
    const char *move_to; /* --move-rejects DIR, or NULL */
    int dry_run;
    const char *method;  /* aesthete:Method in the sidecars */
} cull_files_opts;

void cull_files_opts_init(cull_files_opts *o);

typedef struct cull_photo {
    const char *path;
    float score;
    const ae_cull_row *row;
} cull_photo;

/* 1..5 stars for a kept photo's score: o->stars when fixed, else the quintiles of the kept
 * photos' scores (cuts[4] filled by cull_star_cuts). */
void cull_star_cuts(const cull_files_opts *o, const cull_photo *ph, int32_t n, double cuts[4]);
int cull_stars(const double cuts[4], float score);

/* Refuses (printing why, returning non-zero) a --move-rejects DIR that is an input folder, or
 * inside one that -r scans, or an existing file. */
int cull_check_move_target(const char *dir, const char *const *args, int nargs, int recursive);

/* Writes the sidecars and moves the rejects (in that order, so a moved reject takes its
 * sidecar along). args: the command's arguments (folders give the paths kept below DIR).
 * Returns the number of photos whose sidecar or move failed. */
int32_t cull_files_apply(const cull_files_opts *o, const cull_photo *ph, int32_t n, const char *const *args,
                         int nargs);

#endif
