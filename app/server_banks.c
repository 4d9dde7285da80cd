/*
 * server_banks.c — the banks a server scores with: those given at start (permanent, by name),
 * those the page offers (fixed, context, ensemble with the default adjectives: made once
 * listening, by a thread of their own, and never evicted), and those built on request (a
 * method with other adjectives or template, an uploaded class list), kept in a small LRU
 * keyed by a hash of everything they were built from (ae_recipe). A bank not listed is read
 * from the folder of kept banks the CLI uses too (ae_recipe_load_kept), else built on the
 * inference thread and kept there, once however many requests ask for it at the same time;
 * /api/info shows the one being built. A bank is referenced by the requests using it;
 * evicting one that is in use only unlists it, and the last request frees it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classlist.h"
#include "recipe.h"
#include "server_internal.h"

static void unref_locked(ae_server *s, bank_ref *b)
{
    if (--b->refs == 0 && !b->cached) {
        ae_head_free(b->bank);
        free(b);
    }
}

/* Where a bank's classes come from: the built-in ImageNet list, else what it is called. */
static void describe(bank_ref *b)
{
    ae_head_info bi;
    ae_head_get_info(b->bank, &bi);
    b->classes[0] = 0;
    if (bi.kind != AE_HEAD_PROMPTS || bi.n_classes <= 0) return;
    int imagenet = bi.n_classes == 1000;
    ae_classlist in = {0};
    if (imagenet && ae_classlist_imagenet(&in) != AE_OK) imagenet = 0;
    for (int32_t i = 0; imagenet && i < 1000; i++) {
        const char *c = ae_head_class(b->bank, i);
        imagenet = c && i < in.n && !strcmp(c, in.names[i]);
    }
    ae_classlist_free(&in);
    snprintf(b->classes, sizeof b->classes, "%s", imagenet ? "ImageNet" : b->name);
}

int ae_server_add_bank(ae_server *s, const char *name, ae_head *bank, const char *key, int32_t is_default)
{
    bank_ref *b = calloc(1, sizeof *b);
    if (!b || !bank || !name) {
        free(b);
        ae_head_free(bank);
        return AE_ERR_INVALID;
    }
    snprintf(b->id, sizeof b->id, "%s", name);
    snprintf(b->name, sizeof b->name, "%s", name);
    if (key) snprintf(b->key, sizeof b->key, "%s", key);
    b->bank = bank;
    describe(b);
    b->cached = b->permanent = 1;
    b->refs = 1; /* the server's own reference */
    pthread_mutex_lock(&s->mu);
    bank_ref **pp = &s->banks;
    while (*pp) pp = &(*pp)->next;
    *pp = b;
    if (is_default || !s->default_bank) s->default_bank = b;
    pthread_mutex_unlock(&s->mu);
    return AE_OK;
}

void banks_free_all(ae_server *s)
{
    for (bank_ref *b = s->banks, *next; b; b = next) {
        next = b->next;
        ae_head_free(b->bank);
        free(b);
    }
    s->banks = NULL;
    s->default_bank = NULL;
}

bank_ref *banks_get_id(ae_server *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    bank_ref *b = s->banks;
    while (b && strcmp(b->id, id)) b = b->next;
    if (b) b->refs++, b->last_used = ++s->tick;
    pthread_mutex_unlock(&s->mu);
    return b;
}

bank_ref *banks_get_default(ae_server *s)
{
    pthread_mutex_lock(&s->mu);
    bank_ref *b = s->default_bank;
    if (b) b->refs++;
    pthread_mutex_unlock(&s->mu);
    return b;
}

void banks_release(ae_server *s, bank_ref *b)
{
    if (!b) return;
    pthread_mutex_lock(&s->mu);
    unref_locked(s, b);
    pthread_mutex_unlock(&s->mu);
}

static bank_ref *find_key_locked(ae_server *s, const char *key)
{
    for (bank_ref *b = s->banks; b; b = b->next)
        if (b->key[0] && !strcmp(b->key, key)) return b;
    return NULL;
}

/* Lists b, evicting the least recently used unpinned bank past max_banks. */
static void insert_locked(ae_server *s, bank_ref *b)
{
    int max = s->p.max_banks > 0 ? s->p.max_banks : 1;
    while (s->n_lru >= max) {
        bank_ref **victim = NULL;
        for (bank_ref **pp = &s->banks; *pp; pp = &(*pp)->next)
            if (!(*pp)->permanent && (!victim || (*pp)->last_used < (*victim)->last_used)) victim = pp;
        if (!victim) break;
        bank_ref *v = *victim;
        *victim = v->next;
        v->cached = 0;
        s->n_lru--;
        unref_locked(s, v); /* the list's reference: freed unless a request still holds it */
    }
    b->cached = 1;
    b->next = s->banks;
    s->banks = b;
    s->n_lru++;
}

static bank_build *find_build_locked(ae_server *s, const char *key)
{
    for (bank_build *b = s->builds; b; b = b->next)
        if (!strcmp(b->key, key)) return b;
    return NULL;
}

static void build_unref_locked(bank_build *bb)
{
    if (--bb->users == 0) free(bb);
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aesthete serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

typedef struct progress_ctx {
    ae_server *s;
    bank_build *bb;
    int logged; /* quarters logged */
} progress_ctx;

/* On the inference thread, between batches of prompts. */
static void on_progress(void *ctx, int64_t done, int64_t total)
{
    progress_ctx *pc = ctx;
    pthread_mutex_lock(&pc->s->mu);
    pc->bb->done = done, pc->bb->total = total;
    pthread_mutex_unlock(&pc->s->mu);
    if (total >= 400 && done < total && done * 4 / total > pc->logged) { /* a line a quarter */
        pc->logged = (int)(done * 4 / total);
        log_line("building bank %s: %lld of %lld prompts", pc->bb->name, (long long)done, (long long)total);
    }
}

/* Reads the bank of key from the kept folder or builds it (the caller registered bb). */
static int load_or_build(ae_server *s, bank_build *bb, const char *key, const ae_bank_params *bp, double deadline,
                         ae_head **out, char *err, size_t errcap)
{
    const char *dir = s->p.bank_dir;
    if (dir && ae_recipe_load_kept(dir, key, s->model, out) == AE_OK) {
        log_line("bank %s: read from %s", bb->name, dir);
        pthread_mutex_lock(&s->mu);
        s->n_loaded++;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    int64_t prompts = bp->method <= AE_METHOD_ENSEMBLE ? 2 * (int64_t)(bp->n_classes ? bp->n_classes : 1) : 0;
    if (prompts) log_line("building bank %s: %lld prompts", bb->name, (long long)prompts);
    progress_ctx pc = {s, bb, 0};
    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_BANK;
    j.bp = bp;
    j.progress = on_progress;
    j.progress_ctx = &pc;
    double t0 = server_now();
    if (infer_run(s, &j, deadline)) return 1;
    if (j.rc == AE_OK && ae_head_check_model(j.bank, s->model) != AE_OK) {
        j.rc = AE_ERR_MODEL;
        snprintf(j.error, sizeof j.error, "%s", ae_last_error());
        ae_head_free(j.bank);
        j.bank = NULL;
    }
    if (j.rc != AE_OK) {
        snprintf(err, errcap, "%s", j.error);
        return j.rc;
    }
    pthread_mutex_lock(&s->mu);
    s->n_built++;
    pthread_mutex_unlock(&s->mu);
    int kept = prompts && dir && ae_recipe_keep(dir, key, j.bank) == AE_OK;
    if (prompts && dir && !kept) log_line("warning: bank %s not kept: %s", bb->name, ae_last_error());
    if (prompts)
        log_line("bank %s ready: %lld prompts in %.1f s%s%s", bb->name, (long long)prompts, server_now() - t0,
                 kept ? ", kept in " : "", kept ? dir : "");
    *out = j.bank;
    return 0;
}

int banks_get_or_build(ae_server *s, const char *key, const ae_bank_params *bp, const char *name, double deadline,
                       bank_ref **out, char *err, size_t errcap)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bank_ref *b = find_key_locked(s, key);
        if (b) {
            b->refs++, b->last_used = ++s->tick;
            pthread_mutex_unlock(&s->mu);
            *out = b;
            return 0;
        }
        bank_build *bb = find_build_locked(s, key);
        if (!bb) break;
        /* another request is making it: wait for that one */
        bb->users++;
        while (!bb->finished && server_now() < deadline) {
            double t = deadline < server_now() + 1 ? deadline : server_now() + 1;
            struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
            pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
        }
        int finished = bb->finished, rc = bb->rc;
        if (finished && rc) snprintf(err, errcap, "%s", bb->error);
        build_unref_locked(bb);
        if (!finished) {
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        if (rc) {
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
        /* made: listed now (or already evicted again: then made once more) */
    }
    bank_build *bb = calloc(1, sizeof *bb);
    if (!bb) {
        pthread_mutex_unlock(&s->mu);
        snprintf(err, errcap, "out of memory");
        return AE_ERR_NOMEM;
    }
    snprintf(bb->key, sizeof bb->key, "%s", key);
    snprintf(bb->name, sizeof bb->name, "%s", name);
    bb->method = (int)bp->method;
    bb->n_classes = bp->n_classes;
    bb->users = 1;
    bb->next = s->builds;
    s->builds = bb;
    pthread_mutex_unlock(&s->mu);

    ae_head *h = NULL;
    int rc = load_or_build(s, bb, key, bp, deadline, &h, err, errcap);
    char id[64];
    snprintf(id, sizeof id, "b-%.16s", key);
    if (rc == 0 && !(*out = banks_add(s, key, id, name, h))) {
        snprintf(err, errcap, "out of memory");
        rc = AE_ERR_NOMEM;
    }
    pthread_mutex_lock(&s->mu);
    for (bank_build **pp = &s->builds; *pp; pp = &(*pp)->next)
        if (*pp == bb) {
            *pp = bb->next;
            break;
        }
    bb->finished = 1;
    bb->rc = rc;
    snprintf(bb->error, sizeof bb->error, "%s", rc == 1 ? "request budget exhausted while the bank was queued" : err);
    build_unref_locked(bb);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

bank_ref *banks_add(ae_server *s, const char *key, const char *id, const char *name, ae_head *h)
{
    bank_ref *b = calloc(1, sizeof *b);
    if (!b) {
        ae_head_free(h);
        return NULL;
    }
    snprintf(b->key, sizeof b->key, "%s", key);
    snprintf(b->id, sizeof b->id, "%s", id);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->bank = h;
    describe(b);
    pthread_mutex_lock(&s->mu);
    bank_ref *other = find_key_locked(s, key); /* made meanwhile by another request */
    if (other) {
        ae_head_free(b->bank);
        free(b);
        b = other;
    } else {
        b->refs = 1; /* the list's reference */
        insert_locked(s, b);
    }
    b->refs++, b->last_used = ++s->tick;
    pthread_mutex_unlock(&s->mu);
    return b;
}

/* ---- the banks the page offers, made at start-up ---- */

static void *prebuild_main(void *arg)
{
    ae_server *s = arg;
    static const ae_method methods[] = {AE_METHOD_FIXED, AE_METHOD_CONTEXT, AE_METHOD_ENSEMBLE};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        pthread_mutex_lock(&s->mu);
        int stop = s->prebuild_stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        ae_bank_params bp = ae_bank_default_params();
        bp.method = methods[i];
        ae_recipe rec;
        if (ae_recipe_init(&rec, &bp, NULL, s->model) != AE_OK) {
            log_line("warning: bank %s: %s", ae_method_name(methods[i]), ae_last_error());
            ae_recipe_free(&rec);
            continue;
        }
        bank_ref *b = NULL;
        char err[512];
        if (banks_get_or_build(s, rec.key, &rec.bp, ae_method_name(methods[i]), server_now() + 1e9, &b, err, sizeof err) != 0) {
            log_line("warning: bank %s: %s", ae_method_name(methods[i]), err);
        } else {
            pthread_mutex_lock(&s->mu);
            if (b->cached && !b->permanent) b->permanent = b->offered = 1, s->n_lru--; /* offered by the page: never evicted */
            pthread_mutex_unlock(&s->mu);
            banks_release(s, b);
        }
        ae_recipe_free(&rec);
    }
    return NULL;
}

int banks_prebuild_start(ae_server *s)
{
    s->prebuild_stop = 0;
    if (pthread_create(&s->prebuild_thread, NULL, prebuild_main, s) != 0) return -1;
    s->prebuild_running = 1;
    return 0;
}

void banks_prebuild_stop(ae_server *s)
{
    if (!s->prebuild_running) return;
    pthread_mutex_lock(&s->mu);
    s->prebuild_stop = 1; /* a bank being built is finished first: a forward pass cannot be cut */
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->prebuild_thread, NULL);
    s->prebuild_running = 0;
}

json_t *banks_building_json(ae_server *s)
{
    pthread_mutex_lock(&s->mu);
    bank_build *encoding = NULL, *oldest = NULL; /* the list is newest first */
    int n = 0;
    for (bank_build *b = s->builds; b; b = b->next, n++) {
        if (b->total > 0) encoding = b;
        oldest = b;
    }
    bank_build *now = encoding ? encoding : oldest;
    json_t *o = now ? json_pack("{s:s, s:s, s:i, s:I, s:I, s:i}", "bank", now->name, "method",
                                ae_method_name((ae_method)now->method), "n_classes", now->n_classes, "done",
                                (json_int_t)now->done, "total", (json_int_t)now->total, "queued", n - 1)
                    : json_null();
    pthread_mutex_unlock(&s->mu);
    return o;
}

/* One bank of /api/info's list (s->mu held). */
static json_t *bank_entry(const ae_server *s, const bank_ref *b)
{
    ae_head_info bi;
    ae_head_get_info(b->bank, &bi);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:b}", "id", b->id, "name", b->name, "kind",
                          ae_head_kind_name(bi.kind), "method", ae_method_name(bi.method), "n_classes",
                          (int)bi.n_classes, "n_prompts", (int)bi.n_prompts, "loaded", b->permanent && !b->offered,
                          "default", b == s->default_bank);
    if (!o) return NULL;
    json_object_set_new(o, "head", json_string(bi.name));
    json_object_set_new(o, "classes", b->classes[0] ? json_string(b->classes) : json_null());
    if (bi.kind == AE_HEAD_PROMPTS) {
        json_object_set_new(o, "positive", json_string(bi.positive));
        json_object_set_new(o, "negative", json_string(bi.negative));
        json_object_set_new(o, "template", json_string(bi.template_text));
        if (bi.precision[0]) json_object_set_new(o, "precision", json_string(bi.precision));
    } else if (bi.laion_head[0]) {
        json_object_set_new(o, "laion_head", json_string(bi.laion_head));
    }
    return o;
}

json_t *banks_json(ae_server *s)
{
    json_t *a = json_array();
    pthread_mutex_lock(&s->mu);
    /* the default first, then the others, the latest made first */
    if (s->default_bank) json_array_append_new(a, bank_entry(s, s->default_bank));
    for (bank_ref *b = s->banks; b; b = b->next)
        if (b != s->default_bank) json_array_append_new(a, bank_entry(s, b));
    pthread_mutex_unlock(&s->mu);
    return a;
}
