/*
 * recipe.c — options to a head, resolved to their defaults and keyed (see recipe.h).
 *
 * The key is sha256 over length-prefixed fields: "recipe/2", the model's fingerprint, the
 * method's name, then per method the template, the two adjectives, normalize_prompts and
 * the class names in order (context / ensemble), or the LAION head's name, and last the text
 * tower's precision (prompt methods). Class names, not file bytes, identify a class list,
 * so the same list in two formats (or read from a pipe) is the same head.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "fileio.h"
#include "hash.h"
#include "recipe.h"

static void field(ae_sha256 *h, const char *s)
{
    char len[24];
    snprintf(len, sizeof len, "%zu:", strlen(s));
    ae_sha256_update(h, len, strlen(len));
    ae_sha256_update(h, s, strlen(s));
}

int ae_recipe_has_prompts(const ae_recipe *r)
{
    return r->bp.method == AE_METHOD_FIXED || r->bp.method == AE_METHOD_CONTEXT || r->bp.method == AE_METHOD_ENSEMBLE;
}

void ae_recipe_free(ae_recipe *r)
{
    ae_classlist_free(&r->classes);
    memset(r, 0, sizeof *r);
}

int ae_recipe_init(ae_recipe *r, const ae_bank_params *given, ae_classlist *classes, const ae_model *m)
{
    memset(r, 0, sizeof *r);
    ae_bank_params bp = given ? *given : ae_bank_default_params();
    int with_classes = bp.method == AE_METHOD_CONTEXT || bp.method == AE_METHOD_ENSEMBLE;
    int has_list = classes && classes->n > 0;
    if (has_list && !with_classes) {
        ae_classlist_free(classes);
        return ae_fail(AE_ERR_INVALID, "a class list is used by the context and ensemble methods only");
    }
    ae_model_info info;
    ae_model_get_info(m, &info);
    r->bp.method = bp.method;
    if (bp.method == AE_METHOD_LAION || bp.method == AE_METHOD_LAION_V2) {
        ae_head *h = NULL;
        int rc = ae_head_laion(bp.method == AE_METHOD_LAION_V2 ? "v2-vit-l-14" : bp.laion_head, m, &h);
        if (rc != AE_OK) return rc;
        ae_head_info hi;
        ae_head_get_info(h, &hi);
        snprintf(r->laion_head, sizeof r->laion_head, "%s", hi.laion_head);
        r->bp.laion_head = r->laion_head;
        ae_head_free(h);
    } else if (bp.method <= AE_METHOD_ENSEMBLE) {
        r->bp.template_text = bp.template_text ? bp.template_text
                              : with_classes   ? AE_DEFAULT_TEMPLATE_CLASS
                                               : AE_DEFAULT_TEMPLATE_FIXED;
        r->bp.positive = bp.positive ? bp.positive : AE_DEFAULT_POSITIVE;
        r->bp.negative = bp.negative ? bp.negative : AE_DEFAULT_NEGATIVE;
        r->bp.normalize_prompts = bp.method == AE_METHOD_ENSEMBLE && bp.normalize_prompts;
        if (with_classes) {
            int rc = AE_OK;
            if (has_list) {
                r->classes = *classes;
                memset(classes, 0, sizeof *classes);
            } else if ((rc = ae_classlist_imagenet(&r->classes)) != AE_OK) {
                return rc;
            }
            r->bp.classes = (const char *const *)r->classes.names;
            r->bp.n_classes = r->classes.n;
        }
    } else {
        return ae_fail(AE_ERR_INVALID, "method %s is not made from options: give the head's file",
                           ae_method_name(bp.method));
    }

    ae_sha256 h;
    ae_sha256_init(&h);
    field(&h, "recipe/2");
    field(&h, info.fingerprint);
    field(&h, ae_method_name(r->bp.method));
    if (ae_recipe_has_prompts(r)) {
        field(&h, r->bp.template_text);
        field(&h, r->bp.positive);
        field(&h, r->bp.negative);
        field(&h, r->bp.normalize_prompts ? "1" : "0");
        char n[24];
        snprintf(n, sizeof n, "%d", r->bp.n_classes);
        field(&h, n);
        for (int32_t i = 0; i < r->bp.n_classes; i++) field(&h, r->bp.classes[i]);
        field(&h, ae_precision_name(info.text_precision));
    } else {
        field(&h, r->bp.laion_head);
    }
    uint8_t d[32];
    ae_sha256_final(&h, d);
    ae_sha256_tohex(d, r->key);
    return AE_OK;
}

static int bank_dir(const char *cache_path, char *dir, size_t cap, int create)
{
    char db[4096];
    if (cache_path) snprintf(db, sizeof db, "%s", cache_path);
    else if (ae_cache_default_path(db, sizeof db) != AE_OK) return AE_ERR_NOT_FOUND;
    char *slash = strrchr(db, '/');
    if (slash) *slash = 0;
    else snprintf(db, sizeof db, "."); /* --cache NAME: the banks go beside it, here */
    if ((size_t)snprintf(dir, cap, "%s/banks", db) >= cap) return ae_fail(AE_ERR_INVALID, "%s/banks: path too long", db);
    return create ? ae_mkdirs(dir) : AE_OK; /* the cache folder may not exist yet */
}

int ae_recipe_bank_dir(const char *cache_path, char *dir, size_t cap) { return bank_dir(cache_path, dir, cap, 1); }
int ae_recipe_bank_dir_name(const char *cache_path, char *dir, size_t cap) { return bank_dir(cache_path, dir, cap, 0); }

int ae_recipe_kept_list(const char *dir, ae_kept_bank **out, int64_t *bytes)
{
    *out = NULL;
    *bytes = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".bank")) continue;
        if (n == cap) {
            ae_kept_bank *p = realloc(*out, sizeof *p * (size_t)(cap = cap ? 2 * cap : 16));
            if (!p) break;
            *out = p;
        }
        ae_kept_bank *k = &(*out)[n];
        snprintf(k->path, sizeof k->path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(k->path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        k->bytes = st.st_size;
        k->used = st.st_mtime;
        *bytes += st.st_size;
        n++;
    }
    closedir(d);
    return n;
}

static int by_use(const void *a, const void *b)
{
    time_t x = ((const ae_kept_bank *)a)->used, y = ((const ae_kept_bank *)b)->used;
    return x < y ? -1 : x > y;
}

static void trim(const char *dir, const char *keep)
{
    ae_kept_bank *k;
    int64_t bytes;
    int n = ae_recipe_kept_list(dir, &k, &bytes);
    if (n > 1) qsort(k, (size_t)n, sizeof *k, by_use);
    for (int i = 0; i < n && bytes > AE_KEPT_BANKS_MAX_BYTES; i++)
        if (strcmp(k[i].path, keep) && unlink(k[i].path) == 0) bytes -= k[i].bytes;
    free(k);
}

static void kept_path(const char *dir, const char *key, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%.32s.bank", dir, key);
}

int ae_recipe_load_kept(const char *dir, const char *key, const ae_model *m, ae_head **out)
{
    char path[4200];
    kept_path(dir, key, path, sizeof path);
    *out = NULL;
    int rc = ae_head_load(path, out);
    if (rc == AE_OK) rc = ae_head_check_model(*out, m);
    if (rc != AE_OK) {
        ae_head_free(*out);
        *out = NULL;
    } else {
        utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to be trimmed */
    }
    return rc;
}

int ae_recipe_keep(const char *dir, const char *key, const ae_head *h)
{
    char path[4200];
    kept_path(dir, key, path, sizeof path);
    int rc = ae_head_save(h, path);
    if (rc == AE_OK) trim(dir, path);
    return rc;
}
