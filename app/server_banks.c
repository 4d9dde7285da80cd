/*
 * server_banks.c — the banks a server scores with: those given at start (permanent, by name)
 * and those built on request (a method with other adjectives or template, an uploaded class
 * list), kept in a small LRU keyed by a hash of everything they were built from. A bank is
 * referenced by the requests using it; evicting one that is in use only unlists it, and the
 * last request frees it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

static void unref_locked(ae_server *s, bank_ref *b)
{
    if (--b->refs == 0 && !b->cached) {
        ae_head_free(b->bank);
        free(b);
    }
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
    if (key) snprintf(b->key, sizeof b->key, "%s", key);
    b->bank = bank;
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
        v->refs++; /* unref_locked frees it unless a request still holds it */
        unref_locked(s, v);
    }
    b->cached = 1;
    b->next = s->banks;
    s->banks = b;
    s->n_lru++;
}

int banks_get_or_build(ae_server *s, const char *key, const ae_bank_params *bp, double deadline, bank_ref **out,
                       char *err, size_t errcap)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    bank_ref *b = find_key_locked(s, key);
    if (b) {
        b->refs++, b->last_used = ++s->tick;
        pthread_mutex_unlock(&s->mu);
        *out = b;
        return 0;
    }
    pthread_mutex_unlock(&s->mu);

    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_BANK;
    j.bp = bp;
    if (infer_run(s, &j, deadline)) return 1;
    if (j.rc != AE_OK) {
        snprintf(err, errcap, "%s", j.error);
        return j.rc;
    }
    int rc = ae_head_check_model(j.bank, s->model);
    if (rc != AE_OK) {
        snprintf(err, errcap, "%s", ae_last_error());
        ae_head_free(j.bank);
        return rc;
    }
    char id[64];
    snprintf(id, sizeof id, "b-%.16s", key);
    if (!(*out = banks_add(s, key, id, j.bank))) {
        snprintf(err, errcap, "out of memory");
        return AE_ERR_NOMEM;
    }
    return 0;
}

bank_ref *banks_add(ae_server *s, const char *key, const char *id, ae_head *h)
{
    bank_ref *b = calloc(1, sizeof *b);
    if (!b) {
        ae_head_free(h);
        return NULL;
    }
    snprintf(b->key, sizeof b->key, "%s", key);
    snprintf(b->id, sizeof b->id, "%s", id);
    b->bank = h;
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

json_t *banks_json(ae_server *s)
{
    json_t *a = json_array();
    pthread_mutex_lock(&s->mu);
    for (bank_ref *b = s->banks; b; b = b->next) {
        ae_head_info bi;
        ae_head_get_info(b->bank, &bi);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:b}", "id", b->id, "name", bi.name, "kind",
                              ae_head_kind_name(bi.kind), "method", ae_method_name(bi.method), "n_classes",
                              (int)bi.n_classes, "n_prompts", (int)bi.n_prompts, "loaded", b->permanent, "default",
                              b == s->default_bank);
        if (!o) continue;
        if (bi.kind == AE_HEAD_PROMPTS) {
            json_object_set_new(o, "positive", json_string(bi.positive));
            json_object_set_new(o, "negative", json_string(bi.negative));
            json_object_set_new(o, "template", json_string(bi.template_text));
            if (bi.precision[0]) json_object_set_new(o, "precision", json_string(bi.precision));
        } else if (bi.laion_head[0]) {
            json_object_set_new(o, "laion_head", json_string(bi.laion_head));
        }
        json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&s->mu);
    return a;
}
