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
} ae_inputs;

/* Called for every problem that does not stop the walk (an unreadable subfolder, a list line
 * that is too long): one line, naming the place. */
typedef void (*ae_inputs_warn)(void *ctx, const char *message);

/* 1 if s starts with http:// or https:// (case-insensitive scheme). */
int ae_is_url(const char *s);

/* Adds one argument: "-" reads a list from stdin; a URL is added as is; a folder adds its
 * images (sorted by path; with recursive, subfolders too, symlinked folders not followed);
 * a file whose content is an image is added; any other file is read as a list (blank lines
 * and lines starting with '#' skipped, CRLF accepted); a file named *.tar is added as a
 * WebDataset shard (wds.h) and a missing name with braces is a brace list of them
 * ("data/{00000..00099}.tar", expanded in order). Returns AE_OK or an AE_ERR_* with
 * ae_last_error() naming the argument (missing file, unreadable folder). */
int ae_inputs_add(ae_inputs *in, const char *arg, int recursive, ae_inputs_warn warn, void *ctx);

/* Adds s as it is (no expansion, no check). */
int ae_inputs_push(ae_inputs *in, const char *s);

void ae_inputs_free(ae_inputs *in);

#endif
