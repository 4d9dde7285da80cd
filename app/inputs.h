/*
 * inputs.h — turning what a user names on the command line into a list of images: folders
 * (optionally recursive; images recognised by their content, not only their extension),
 * list files and stdin (one path or URL per line), single files and URLs.
 */
#ifndef AE_APP_INPUTS_H
#define AE_APP_INPUTS_H

#include <stdint.h>

typedef struct ae_inputs {
    int32_t n, cap;
    char **items; /* paths and http(s) URLs, owned */
    /* How folders are walked; set before adding (a zeroed ae_inputs skips hidden names and
     * excludes nothing). */
    int hidden;      /* 1: names starting with '.' (files and folders) are walked too */
    const char *const *exclude; /* n_exclude globs (fnmatch), not copied: a file or folder
                                   whose name, or whose path below the folder named, matches
                                   is left out */
    int32_t n_exclude;
    /* What the walks left out, for a summary: */
    int64_t not_images; /* regular files whose content is no image format */
    int64_t hidden_skipped, excluded; /* names skipped by the two rules above */
} ae_inputs;

/* Called for every problem that does not stop the walk (an unreadable subfolder, a list line
 * that is too long): one line, naming the place. */
typedef void (*ae_inputs_warn)(void *ctx, const char *message);

/* 1 if s starts with http:// or https:// (case-insensitive scheme). */
int ae_is_url(const char *s);

/* Adds one argument: "-" reads a list from stdin; a URL is added as is; a folder adds its
 * images (sorted by path; with recursive, subfolders too, symlinked folders not followed;
 * hidden and excluded names left out as set above); a pipe is read as a list, and so is a
 * file named *.txt or *.lst, or any other file that is not an image but UTF-8 text without
 * control characters (blank lines and lines starting with '#' skipped, CRLF accepted). Any
 * other file named (an empty one, a PDF, a truncated image) is added as it is, so that
 * scoring reports it. A file named *.tar is added as a WebDataset shard (wds.h) and a missing
 * name with braces is a brace list of them ("data/{00000..00099}.tar", expanded in order).
 * Returns AE_OK or an AE_ERR_* with ae_last_error() naming the argument
 * (missing file, unreadable folder): the caller reports it and may go on with the next. */
int ae_inputs_add(ae_inputs *in, const char *arg, int recursive, ae_inputs_warn warn, void *ctx);

/* Adds s as it is (no expansion, no check). */
int ae_inputs_push(ae_inputs *in, const char *s);

void ae_inputs_free(ae_inputs *in);

#endif
