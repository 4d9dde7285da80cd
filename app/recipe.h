/*
 * recipe.h — the one recipe of the heads that commands and requests ask for by options (a
 * prompt method with its template, adjectives and class list, or a shipped LAION head),
 * shared by the CLI and the server: every option resolved to its default first, so that two
 * ways of asking for the same head ("rank DIR" and "rank --method fixed DIR", a class list
 * saved as CSV or as TXT) share one key, and the key that names a kept or cached head.
 */
#ifndef AE_APP_RECIPE_H
#define AE_APP_RECIPE_H

#include <time.h>

#include "aesthete.h"
#include "classlist.h"

typedef struct ae_recipe {
    ae_bank_params bp;      /* resolved: method, template, positive and negative always set;
                               normalize_prompts 0 unless ensemble; laion_head the shipped
                               head's name; classes point into `classes` */
    ae_classlist classes;   /* context / ensemble: the class names (owned) */
    char laion_head[32];    /* bp.laion_head points here (a recipe is not copied) */
    char key[65];           /* sha256 hex over the resolved options, the class names, and the
                               model's fingerprint and text precision */
} ae_recipe;

/* Resolves `given` (its NULL fields are defaults, as for ae_bank_build) for the model m.
 * classes: the class list of a context or ensemble method, taken over (and emptied) by the
 * recipe, or NULL / empty for the built-in ImageNet classes; a class list given to another
 * method is AE_ERR_INVALID. LAION methods resolve their head by the model (refused
 * when the model has none). The recipe is freed with ae_recipe_free on every path. */
int ae_recipe_init(ae_recipe *r, const ae_bank_params *given, ae_classlist *classes, const ae_model *m);
void ae_recipe_free(ae_recipe *r);

/* The prompt methods (fixed, context, ensemble) have prompts to encode; LAION methods not. */
int ae_recipe_has_prompts(const ae_recipe *r);

/* ---- kept banks ----
 * A prompt method's head is kept once built, as <dir>/<first 32 hex of its key>.bank, where
 * dir is the folder `banks` beside the embedding cache database; the CLI and the server keep
 * them in the same folder, so that a bank built by either is encoded once. */

/* The folder of kept banks for the cache database cache_path (--cache; NULL: the default,
 * ae_cache_default_path), created when missing. AE_OK, or an error when no path is known.
 * ae_recipe_bank_dir_name: the same without creating anything. */
int ae_recipe_bank_dir(const char *cache_path, char *dir, size_t cap);
int ae_recipe_bank_dir_name(const char *cache_path, char *dir, size_t cap);
/* The kept bank of key in dir: AE_OK with *out (caller frees), checked against m; an error
 * (none kept, unreadable, made for another model) leaves *out NULL. */
int ae_recipe_load_kept(const char *dir, const char *key, const ae_model *m, ae_head **out);
/* Keeps h as the bank of key in dir (written atomically); then the folder is trimmed to at
 * most AE_KEPT_BANKS_MAX_BYTES, the banks used longest ago removed first (ae_recipe_load_kept
 * marks a bank used: its mtime), never the one just kept. */
int ae_recipe_keep(const char *dir, const char *key, const ae_head *h);

#define AE_KEPT_BANKS_MAX_BYTES ((int64_t)256 << 20)
typedef struct ae_kept_bank {
    char path[4352];
    int64_t bytes;
    time_t used; /* mtime: set when the bank is used */
} ae_kept_bank;
/* The *.bank files of dir (caller frees *out; none when dir does not exist) and their total
 * size; returns how many. */
int ae_recipe_kept_list(const char *dir, ae_kept_bank **out, int64_t *bytes);

#endif
