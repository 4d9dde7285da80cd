/*
 * server_api.c — the JSON endpoints of `aesthete serve`, once a request's body is complete.
 *
 * Parameters come from the query string and, for multipart requests, from form fields of the
 * same names (the query wins); each endpoint takes those of its row of known_params and
 * refuses any other, naming it. An image is decoded
 * and preprocessed here, on the connection's thread, after its format was recognised from its
 * first bytes (415 otherwise) and its pixel count checked from its header (413 past
 * --max-pixels); only the pixel tensor goes to the inference thread. Status codes: 400 bad
 * image or parameters, 413 over a limit, 415 not an image, 503 busy or out of budget; nothing
 * a client sends gives 500.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "classlist.h"
#include "fileio.h"
#include "hash.h"
#include "image.h"
#include "model.h"
#include "netguard.h"
#include "utf8.h"
#include "ratings.h"
#include "recipe.h"
#include "server_internal.h"

#define MAX_PARAM 1024
/* form field values one request may look up: /api/cull reads its 5 (similar, burst_similar,
 * burst_gap, blur_ratio, keep_by) and resolve_bank's 8 (bank, method, head, positive,
 * negative, template, laion_head, normalize_prompts), each found one taking a slot */
#define MAX_FIELDS 16

typedef struct form {
    mp_part *parts;
    int n;
    char vals[MAX_FIELDS][MAX_PARAM + 1]; /* copies of form field values handed out by param() */
    int used;
} form;

/* UTF-8 text without control characters (a tab allowed), without NUL (%00 would cut it) */
static int valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t') return 0;
    return ae_utf8_valid(s, n);
}

int api_param_ok(const char *v, size_t n) { return n <= MAX_PARAM && valid_utf8(v, n); }

/* A parameter from the query or the form; NULL when absent. *bad set when it is too long or
 * not UTF-8 text. */
static const char *param(const api_request *r, form *f, const char *name, int *bad)
{
    /* with its length: MHD decodes %00 into the value, which strlen would cut short */
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, &n) == MHD_YES && v) {
        if (!api_param_ok(v, n)) *bad = 1;
        return v;
    }
    for (int i = 0; f && i < f->n; i++) {
        mp_part *p = &f->parts[i];
        if (p->has_filename || strcmp(p->name, name)) continue;
        if (!api_param_ok((const char *)p->data, p->size) || f->used == MAX_FIELDS) {
            *bad = 1;
            return "";
        }
        char *dst = f->vals[f->used++];
        memcpy(dst, p->data, p->size);
        dst[p->size] = 0;
        return dst;
    }
    return NULL;
}

/* ---- the parameters of each endpoint ---- */

/* What each endpoint takes, from the query string or as (non-file) form fields: one table,
 * so that a misspelt name ("methd=context") is refused naming it instead of silently giving
 * the default. The page's own paths (/, /app.js, /style.css) take anything (browsers and
 * proxies add query strings to pages). */
#define SCORING_PARAMS "method", "bank", "head", "positive", "negative", "template", "laion_head", "normalize_prompts"
static const struct {
    int route;
    const char *path;
    const char *names[20]; /* NULL-terminated */
} known_params[] = {
    {ROUTE_SCORE, "/api/score", {SCORING_PARAMS, "url", "embedding"}},
    {ROUTE_EMBED, "/api/embed", {"url"}},
    {ROUTE_RANK, "/api/rank", {SCORING_PARAMS}},
    {ROUTE_CULL, "/api/cull", {SCORING_PARAMS, "similar", "burst_similar", "burst_gap", "blur_ratio", "keep_by"}},
    {ROUTE_BANK, "/api/bank", {"method", "positive", "negative", "template", "column", "header", "normalize_prompts"}},
    {ROUTE_HEAD, "/api/head", {NULL}},
    {ROUTE_HEAD_FILE, "/api/head", {"id"}},
    {ROUTE_INFO, "/api/info", {NULL}},
    {ROUTE_HEALTH, "/healthz", {NULL}},
};

typedef struct param_check {
    int k;              /* the route's row of known_params */
    char unknown[80];   /* the first name not in it */
} param_check;

static int is_known(const param_check *pc, const char *name)
{
    for (const char *const *n = known_params[pc->k].names; *n; n++)
        if (!strcmp(*n, name)) return 1;
    return 0;
}

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind, (void)value;
    param_check *pc = cls;
    if (pc->unknown[0] || is_known(pc, key)) return MHD_YES;
    size_t k = 0; /* client bytes, shown safely: printable ASCII, the rest as '?' */
    for (const char *p = key; *p && k + 1 < sizeof pc->unknown; p++)
        pc->unknown[k++] = *p >= 0x20 && *p < 0x7f && *p != '\'' ? *p : '?';
    pc->unknown[k] = 0;
    if (!k) snprintf(pc->unknown, sizeof pc->unknown, "(empty name)");
    return MHD_NO;
}

json_t *api_unknown_param(int route, struct MHD_Connection *conn, const mp_part *parts, int n)
{
    param_check pc = {.k = -1};
    for (size_t i = 0; i < sizeof known_params / sizeof known_params[0]; i++)
        if (known_params[i].route == route) pc.k = (int)i;
    if (pc.k < 0) return NULL;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_one, &pc);
    int one_image = route == ROUTE_SCORE || route == ROUTE_EMBED;
    for (int i = 0; i < n && !pc.unknown[0]; i++) {
        const mp_part *p = &parts[i];
        /* files may have any field name; /api/score and /api/embed also take the image as a
         * plain field named file or image */
        if (p->has_filename || (one_image && (!strcmp(p->name, "file") || !strcmp(p->name, "image")))) continue;
        check_one(&pc, MHD_POSTDATA_KIND, p->name, NULL);
    }
    if (!pc.unknown[0]) return NULL;
    const char *const *names = known_params[pc.k].names;
    if (!names[0])
        return api_error("unknown parameter '%s': %s takes no parameters", pc.unknown, known_params[pc.k].path);
    char list[512];
    size_t len = 0;
    for (const char *const *nm = names; *nm && len < sizeof list; nm++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", nm == names ? "" : ", ", *nm);
    return api_error("unknown parameter '%s': %s takes %s", pc.unknown, known_params[pc.k].path, list);
}

static const char *jstr_error(json_t *o)
{
    json_t *v = json_object_get(o, "error");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double elapsed_ms(const api_request *r) { return round((server_now() - r->t0) * 1e4) / 10; }

static int status_of(int rc)
{
    switch (rc) {
    case AE_ERR_TOO_LARGE: return 413;
    case AE_ERR_UNSUPPORTED: return 415;
    case AE_ERR_NOMEM: return 503;
    default: return 400;
    }
}

/* ---- banks ---- */

static bank_ref *resolve_bank(ae_server *s, const api_request *r, form *f, int *status, json_t **err)
{
    int bad = 0;
    const char *bank = param(r, f, "bank", &bad), *method = param(r, f, "method", &bad);
    if (!bank || !*bank) bank = param(r, f, "head", &bad); /* a trained head: the same list */
    const char *pos = param(r, f, "positive", &bad), *neg = param(r, f, "negative", &bad);
    const char *tmpl = param(r, f, "template", &bad), *head = param(r, f, "laion_head", &bad);
    const char *norm = param(r, f, "normalize_prompts", &bad);
    if (bad) {
        *status = 400, *err = api_error("a parameter is longer than %d bytes or not UTF-8 text", MAX_PARAM);
        return NULL;
    }
    /* empty values mean "not given" (forms send every field) */
    if (pos && !*pos) pos = NULL;
    if (neg && !*neg) neg = NULL;
    if (tmpl && !*tmpl) tmpl = NULL;
    if (head && !*head) head = NULL;
    if (method && !*method) method = NULL;
    if (bank && *bank) {
        if (method || pos || neg || tmpl) {
            *status = 400, *err = api_error("bank already fixes the method and prompts; drop method/positive/negative/template");
            return NULL;
        }
        bank_ref *b = banks_get_id(s, bank);
        if (!b) *status = 400, *err = api_error("unknown bank '%s' (see /api/info; built banks are forgotten after %d newer ones: upload the class list again)", bank, s->p.max_banks);
        return b;
    }
    if (!method && !pos && !neg && !tmpl && !head) {
        bank_ref *b = banks_get_default(s);
        if (!b) *status = 400, *err = api_error("no default bank: give method=");
        return b;
    }
    int m = AE_METHOD_FIXED;
    if (method && ((m = ae_method_parse(method)) < 0 || m == AE_METHOD_HEAD)) {
        *status = 400, *err = api_error("method '%s' is not fixed, context, ensemble, laion or laion-v2 (a head: bank=ID)", method);
        return NULL;
    }
    ae_bank_params bp = ae_bank_default_params();
    ae_classlist cl = {0};
    char name[128];
    snprintf(name, sizeof name, "%s", ae_method_name((ae_method)m));
    bank_ref *d = NULL; /* held until the end: the recipe points into its strings */
    if (!method && head) m = AE_METHOD_LAION; /* laion_head alone names a LAION head */
    else if (!method) { /* adjectives alone: the default bank with them, its classes and template kept */
        d = banks_get_default(s);
        ae_head_info bi;
        if (d) ae_head_get_info(d->bank, &bi);
        if (!d || bi.kind != AE_HEAD_PROMPTS) {
            *status = 400, *err = api_error("the server's default %s '%s' has no prompts to change: give method= with positive/negative/template",
                                            d ? "head" : "bank", d ? d->name : "(none)");
            banks_release(s, d);
            return NULL;
        }
        m = (int)bi.method;
        if (!tmpl && *bi.template_text) tmpl = bi.template_text;
        if (!pos && *bi.positive) pos = bi.positive;
        if (!neg && *bi.negative) neg = bi.negative;
        if (!norm) norm = bi.normalize_prompts ? "1" : "0";
        int rc = AE_OK;
        if (strcmp(d->classes, "ImageNet") && bi.n_classes > 0) { /* its own list, not the built-in one */
            const char **names = malloc(sizeof *names * (size_t)bi.n_classes);
            for (int32_t i = 0; names && i < bi.n_classes; i++) names[i] = ae_head_class(d->bank, i);
            ae_classlist_params cp = ae_classlist_default_params();
            cp.keep_duplicates = 1;
            cp.max_classes = bi.n_classes;
            rc = names ? ae_classlist_from_strings(names, bi.n_classes, d->name, &cp, &cl) : AE_ERR_NOMEM;
            free(names);
        }
        snprintf(name, sizeof name, "%s", d->name);
        if (rc != AE_OK) {
            *status = status_of(rc), *err = api_error("%s", ae_last_error());
            banks_release(s, d);
            return NULL;
        }
    }
    bp.method = (ae_method)m;
    bp.positive = pos, bp.negative = neg, bp.template_text = tmpl, bp.laion_head = head;
    bp.normalize_prompts = norm && (!strcmp(norm, "1") || !strcasecmp(norm, "true") || !strcasecmp(norm, "on"));
    ae_recipe rec;
    char msg[512];
    if (ae_recipe_init(&rec, &bp, &cl, s->model) != AE_OK) {
        *status = 400, *err = api_error("%s", ae_last_error());
        ae_recipe_free(&rec);
        banks_release(s, d);
        return NULL;
    }
    bank_ref *b = NULL;
    int rc = banks_get_or_build(s, rec.key, &rec.bp, name, r->deadline, &b, msg, sizeof msg);
    ae_recipe_free(&rec);
    banks_release(s, d);
    if (rc == 1) *status = 503, *err = api_error("request budget of %d s exhausted while waiting to build the bank", s->p.request_timeout_s);
    else if (rc != 0) *status = rc == AE_ERR_NOMEM ? 503 : 400, *err = api_error("%s", msg);
    return b;
}

/* What scored an answer, for people to read: the method, the bank's id (for bank=) and name,
 * where its classes come from and how many, and the prompts' adjectives and template. */
static json_t *bank_desc(const bank_ref *b)
{
    ae_head_info bi;
    ae_head_get_info(b->bank, &bi);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i}", "method", ae_method_name(bi.method), "bank", b->id, "head",
                          bi.name, "bank_name", b->name, "classes", b->classes[0] ? json_string(b->classes) : json_null(),
                          "n_classes", (int)bi.n_classes);
    if (bi.kind == AE_HEAD_PROMPTS) {
        json_object_set_new(o, "positive", json_string(bi.positive));
        json_object_set_new(o, "negative", json_string(bi.negative));
        json_object_set_new(o, "template", json_string(bi.template_text));
    }
    return o;
}

/* ---- images ---- */

/* Waits for one of the decode slots until deadline; 0, or 1 on timeout. */
static int decode_slot_take(ae_server *s, double deadline)
{
    pthread_mutex_lock(&s->mu);
    while (s->decoding >= s->decode_slots) {
        double t = deadline < server_now() + 1 ? deadline : server_now() + 1;
        if (server_now() >= deadline) {
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
        pthread_cond_timedwait(&s->decode_cv, &s->mu, &ts);
    }
    s->decoding++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void decode_slot_give(ae_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->decoding--;
    pthread_cond_signal(&s->decode_cv);
    pthread_mutex_unlock(&s->mu);
}

/* Decodes and preprocesses one image into pixels; 0 or an HTTP status with *err. */
static int decode_image(ae_server *s, const api_request *r, const uint8_t *data, size_t size, const char *name,
                        float *pixels, img_facts *facts, json_t **err)
{
    if (size == 0) {
        *err = api_error("%s: empty: no image data", name);
        return 400;
    }
    if (!ae_image_format(data, size < 32 ? size : 32)) {
        *err = api_error("%s: not an image this server reads (JPEG, PNG, WebP, GIF, BMP, HEIC/AVIF)", name);
        return 415;
    }
    if (decode_slot_take(s, r->deadline)) {
        *err = api_error("request budget of %d s exhausted while waiting to decode; retry later", s->p.request_timeout_s);
        return 503;
    }
    /* the decode the CLI does (one path): pixels, and a photo's facts when asked */
    int rc = img_prepare_facts(&s->model->pre, data, size, name, &s->p.image, pixels, NULL, facts);
    decode_slot_give(s);
    if (rc != AE_OK) {
        *err = api_error("%s", ae_last_error()[0] ? ae_last_error() : ae_strerror(rc));
        return status_of(rc);
    }
    return 0;
}

/* Encodes n preprocessed images on the inference thread; 0 or an HTTP status with *err. */
static int encode(ae_server *s, const api_request *r, const float *pixels, int32_t n, float *embeds, json_t **err)
{
    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_ENCODE;
    j.n = n;
    j.pixels = pixels;
    j.embeds = embeds;
    if (infer_run(s, &j, r->deadline)) {
        *err = api_error("request budget of %d s exhausted while queued for inference; retry later", s->p.request_timeout_s);
        return 503;
    }
    if (j.rc != AE_OK) {
        *err = api_error("%s", j.error);
        return j.rc == AE_ERR_NOMEM ? 503 : 400;
    }
    return 0;
}

/* The one image of a score/embed request: raw body, the first file of a form, or ?url=. */
static int one_image(ae_server *s, const api_request *r, form *f, const uint8_t **data, size_t *size, char *name,
                     size_t cap, ae_buffer *fetched, json_t **err)
{
    int bad = 0;
    const char *url = param(r, f, "url", &bad);
    if (url && !*url) url = NULL;
    if (bad) {
        *err = api_error("url is longer than %d bytes or not UTF-8 text", MAX_PARAM);
        return 400;
    }
    *data = NULL, *size = 0;
    snprintf(name, cap, "body");
    if (f) {
        int nfiles = 0;
        for (int i = 0; i < f->n; i++)
            if (f->parts[i].has_filename || !strcmp(f->parts[i].name, "file") || !strcmp(f->parts[i].name, "image")) {
                if (nfiles++) continue;
                *data = f->parts[i].data, *size = f->parts[i].size;
                snprintf(name, cap, "%s", f->parts[i].has_filename ? f->parts[i].filename : f->parts[i].name);
            }
        if (nfiles > 1) { /* the others would be ignored without a word */
            *err = r->route == ROUTE_SCORE
                       ? api_error("/api/score takes one image (%d files sent): send several to /api/rank", nfiles)
                       : api_error("/api/embed takes one image (%d files sent)", nfiles);
            return 400;
        }
    } else if (r->size) {
        *data = r->body, *size = r->size;
    }
    if (url) {
        if (*data) {
            *err = api_error("give either an image or url=, not both");
            return 400;
        }
        if (!s->p.allow_urls) {
            *err = api_error("URL inputs are disabled on this server (start it with --allow-urls)");
            return 400;
        }
        ae_fetch_params fp = s->p.fetch;
        if (fp.max_bytes > s->p.max_upload_bytes) fp.max_bytes = s->p.max_upload_bytes;
        int rc = ae_fetch_url_public(url, &fp, fetched);
        if (rc != AE_OK) {
            *err = api_error("%s", ae_last_error());
            return rc == AE_ERR_TOO_LARGE ? 413 : 400;
        }
        *data = fetched->data, *size = fetched->size;
        snprintf(name, cap, "%s", url);
        return 0;
    }
    if (!*data) {
        *err = api_error("no image: send it as the request body, as a multipart file, or as url=");
        return 400;
    }
    return 0;
}

static json_t *score_json(const bank_ref *b, const ae_score *sc)
{
    const char *cls = sc->class_index >= 0 ? ae_head_class(b->bank, sc->class_index) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "score", json_real(sc->score));
    json_object_set_new(o, "probability", isnan(sc->probability) ? json_null() : json_real(sc->probability));
    json_object_set_new(o, "label", json_string(sc->good ? "good" : "bad"));
    json_t *c = cls ? json_string(cls) : NULL;
    json_object_set_new(o, "class", c ? c : json_null());
    return o;
}

static json_t *embedding_json(const ae_server *s, const float *emb)
{
    json_t *a = json_array();
    for (int32_t i = 0; i < s->dim; i++) json_array_append_new(a, json_real(emb[i]));
    return a;
}

static json_t *handle_image(ae_server *s, const api_request *r, form *f, int embed_only, int *status)
{
    json_t *err = NULL;
    bank_ref *b = NULL;
    if (!embed_only && !(b = resolve_bank(s, r, f, status, &err))) return err;
    const uint8_t *data;
    size_t size;
    char name[1100];
    ae_buffer fetched = {0};
    float *pixels = malloc(sizeof(float) * s->psz), *emb = malloc(sizeof(float) * (size_t)s->dim);
    json_t *out = NULL;
    int st = !pixels || !emb ? (err = api_error("out of memory"), 503) : 0;
    if (!st) st = one_image(s, r, f, &data, &size, name, sizeof name, &fetched, &err);
    if (!st) st = decode_image(s, r, data, size, name, pixels, NULL, &err);
    if (!st) st = encode(s, r, pixels, 1, emb, &err);
    ae_score sc;
    if (!st && !embed_only) {
        int rc = ae_head_score(b->bank, emb, 1, &sc);
        if (rc != AE_OK) st = 400, err = api_error("%s", ae_last_error());
    }
    if (st) {
        *status = st;
        out = err;
    } else if (embed_only) {
        /* the precision too: a client keeping its own index must not mix fp32 and int8 vectors */
        out = json_pack("{s:o, s:i, s:s, s:s, s:s, s:f}", "embedding", embedding_json(s, emb), "dim", (int)s->dim, "model", s->model_name,
                        "precision", ae_precision_name(s->info.precision), "file", name, "elapsed_ms", elapsed_ms(r));
    } else {
        out = score_json(b, &sc);
        int bad = 0;
        const char *want = param(r, f, "embedding", &bad);
        if (want && (!strcmp(want, "1") || !strcasecmp(want, "true"))) { /* for POST /api/head */
            json_object_set_new(out, "embedding", embedding_json(s, emb));
        }
        json_object_set_new(out, "file", json_string(name));
        json_object_set_new(out, "model", json_string(s->model_name));
        json_t *d = bank_desc(b);
        json_object_update(out, d);
        json_decref(d);
        json_object_set_new(out, "elapsed_ms", json_real(elapsed_ms(r)));
    }
    banks_release(s, b);
    ae_buffer_free(&fetched);
    free(pixels);
    free(emb);
    return out;
}

typedef struct ranked {
    int part;
    ae_score sc;
} ranked;

static int by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->sc.score != y->sc.score) return x->sc.score > y->sc.score ? -1 : 1;
    return x->part - y->part; /* upload order among equals */
}

/* The file parts of a multipart request: their number, or 0 with *status and *err set. */
static int count_files(const form *f, int *status, json_t **err)
{
    int nfiles = 0;
    if (!f) {
        *status = 415;
        *err = api_error("send the files as multipart/form-data");
        return 0;
    }
    for (int i = 0; i < f->n; i++) nfiles += f->parts[i].has_filename;
    if (!nfiles) {
        *status = 400;
        *err = api_error("no files: send the images as multipart file fields");
    }
    return nfiles;
}

/* Decodes the next file parts from part *i on into up to B slots of pixels (and facts, may be
 * NULL), their part numbers into chunk; a file that fails goes to errors with its status.
 * Returns how many were decoded; *fatal (with *err) when the whole request must fail (out of
 * budget or memory). */
static int decode_chunk(ae_server *s, const api_request *r, const form *f, int *i, int B, float *pixels,
                        img_facts *facts, int *chunk, json_t *errors, int *fatal, json_t **err)
{
    int k = 0;
    for (; *i < f->n && k < B; (*i)++) {
        const mp_part *p = &f->parts[*i];
        if (!p->has_filename) continue;
        json_t *e = NULL;
        int st = decode_image(s, r, p->data, p->size, p->filename, pixels + (size_t)k * s->psz,
                              facts ? &facts[k] : NULL, &e);
        if (st == 503) {
            *fatal = st, *err = e;
            return k;
        }
        if (st) {
            json_object_set_new(e, "file", json_string(p->filename));
            json_object_set_new(e, "status", json_integer(st));
            json_array_append_new(errors, e);
            continue;
        }
        chunk[k++] = *i;
    }
    return k;
}

static json_t *handle_rank(ae_server *s, const api_request *r, form *f, int *status)
{
    json_t *err = NULL;
    const int nfiles = count_files(f, status, &err);
    if (!nfiles) return err;
    bank_ref *b = resolve_bank(s, r, f, status, &err);
    if (!b) return err;
    const int32_t B = s->p.batch;
    float *pixels = malloc(sizeof(float) * s->psz * (size_t)B), *emb = malloc(sizeof(float) * (size_t)s->dim * (size_t)B);
    ranked *ok = malloc(sizeof(ranked) * (size_t)nfiles);
    int *chunk = malloc(sizeof(int) * (size_t)B);
    json_t *errors = json_array(), *out = NULL;
    int nok = 0, fatal = 0;
    if (!pixels || !emb || !ok || !chunk) fatal = 503, err = api_error("out of memory");
    /* decode a chunk of files, encode it as one job, score, next chunk: memory stays B images */
    for (int i = 0; !fatal && i < f->n;) {
        int k = decode_chunk(s, r, f, &i, B, pixels, NULL, chunk, errors, &fatal, &err);
        if (fatal) break; /* err holds the reason; nothing more is encoded */
        if (!k) continue;
        int st = encode(s, r, pixels, k, emb, &err);
        if (st) {
            fatal = st;
            break;
        }
        for (int j = 0; j < k; j++) {
            ok[nok].part = chunk[j];
            if (ae_head_score(b->bank, emb + (size_t)j * s->dim, 1, &ok[nok].sc) == AE_OK) nok++;
        }
    }
    if (fatal) {
        *status = fatal;
        out = err;
        json_decref(errors);
    } else {
        qsort(ok, (size_t)nok, sizeof *ok, by_score);
        json_t *res = json_array();
        for (int i = 0; i < nok; i++) {
            json_t *o = json_pack("{s:i, s:s}", "rank", i + 1, "file", f->parts[ok[i].part].filename);
            json_t *sj = score_json(b, &ok[i].sc);
            json_object_update(o, sj);
            json_decref(sj);
            json_array_append_new(res, o);
        }
        out = json_pack("{s:o, s:o, s:s}", "results", res, "errors", errors, "model", s->model_name);
        json_t *d = bank_desc(b);
        json_object_update(out, d);
        json_decref(d);
        json_object_set_new(out, "elapsed_ms", json_real(elapsed_ms(r)));
    }
    banks_release(s, b);
    free(pixels), free(emb), free(ok), free(chunk);
    return out;
}

/* cull parameters from the query or form fields; 0 or 400 with *err */
static int cull_params(const api_request *r, form *f, ae_cull_params *cp, json_t **err)
{
    static const struct { const char *name; double lo, hi; } num[] = {
        {"similar", 1e-6, 1}, {"burst_similar", 1e-6, 1}, {"burst_gap", 0, 86400}, {"blur_ratio", 0, 1}};
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        const char *v = param(r, f, num[i].name, &bad);
        if (!v) continue;
        char *end;
        double x = strtod(v, &end);
        if (bad || !*v || *end || !(x >= num[i].lo && x <= num[i].hi)) {
            *err = api_error("%s: '%s' is not a number in [%g, %g]", num[i].name, bad ? "" : v, num[i].lo, num[i].hi);
            return 400;
        }
        if (i == 0) cp->similar = (float)x;
        else if (i == 1) cp->burst_similar = (float)x;
        else if (i == 2) cp->burst_gap = x;
        else cp->blur_ratio = (float)x;
    }
    const char *k = param(r, f, "keep_by", &bad);
    if (k && (bad || ae_keep_by_parse(k, &cp->keep_by) != AE_OK)) {
        *err = api_error("keep_by: '%s' is not score, sharpness, size or newest", bad ? "" : k);
        return 400;
    }
    if (bad) {
        *err = api_error("a parameter is too long or not UTF-8");
        return 400;
    }
    return 0;
}

typedef struct culled {
    int part;
    ae_score sc;
    img_facts facts;
    uint8_t bytes_hash[32];
} culled;

/* the order of the answer: by group, the keeper first, then by score; singles last */
typedef struct cull_key {
    int group, keep;
    float score;
    int i;
} cull_key;

static int by_group(const void *a, const void *b)
{
    const cull_key *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->keep != y->keep) return x->keep ? -1 : 1;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->i - y->i;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *handle_cull(ae_server *s, const api_request *r, form *f, int *status)
{
    json_t *err = NULL;
    const int nfiles = count_files(f, status, &err);
    if (!nfiles) return err;
    ae_cull_params cp = ae_cull_default_params();
    cp.n_threads = 1; /* a few hundred images: the request's own thread */
    if ((*status = cull_params(r, f, &cp, &err)) != 0) return err;
    *status = 200;
    bank_ref *b = resolve_bank(s, r, f, status, &err);
    if (!b) return err;
    const int32_t B = s->p.batch, dim = s->dim;
    float *pixels = malloc(sizeof(float) * s->psz * (size_t)B);
    float *emb = malloc(sizeof(float) * (size_t)dim * (size_t)nfiles);
    culled *ok = calloc((size_t)nfiles, sizeof *ok);
    int *chunk = malloc(sizeof(int) * (size_t)B);
    cull_key *order = malloc(sizeof *order * (size_t)nfiles);
    ae_cull_item *items = calloc((size_t)nfiles, sizeof *items);
    ae_cull_row *rows = calloc((size_t)nfiles, sizeof *rows);
    const char **names = calloc((size_t)nfiles, sizeof *names);
    img_facts *cf = malloc(sizeof *cf * (size_t)B);
    json_t *errors = json_array(), *out = NULL;
    int nok = 0, fatal = 0;
    if (!pixels || !emb || !ok || !chunk || !order || !items || !rows || !names || !cf)
        fatal = 503, err = api_error("out of memory");
    /* as /api/rank: decode a chunk (with the facts), encode it as one job, next chunk */
    for (int i = 0; !fatal && i < f->n;) {
        int k = decode_chunk(s, r, f, &i, B, pixels, cf, chunk, errors, &fatal, &err);
        if (fatal || !k) continue;
        const int base = nok;
        int st = encode(s, r, pixels, k, emb + (size_t)base * dim, &err);
        if (st) {
            fatal = st;
            break;
        }
        for (int j = 0; j < k; j++) {
            culled *c = &ok[nok];
            c->part = chunk[j];
            c->facts = cf[j];
            if (ae_head_score(b->bank, emb + (size_t)(base + j) * dim, 1, &c->sc) != AE_OK) continue;
            if (nok != base + j) memmove(emb + (size_t)nok * dim, emb + (size_t)(base + j) * dim, sizeof(float) * dim);
            ae_sha256 h;
            ae_sha256_init(&h);
            ae_sha256_update(&h, f->parts[c->part].data, f->parts[c->part].size);
            ae_sha256_final(&h, c->bytes_hash);
            nok++;
        }
    }
    for (int i = 0; !fatal && i < nok; i++) {
        ae_cull_item *it = &items[i];
        const culled *c = &ok[i];
        it->embedding = emb + (size_t)i * dim;
        it->score = c->sc.score;
        it->has_bytes_hash = it->has_pixel_hash = it->has_quality = 1;
        memcpy(it->bytes_hash, c->bytes_hash, 32);
        memcpy(it->pixel_hash, c->facts.pixel_hash, sizeof it->pixel_hash);
        it->quality = c->facts.quality;
        it->has_time = c->facts.capture.has_time;
        it->time = c->facts.capture.time;
        it->camera = c->facts.capture.camera;
        it->pixels = (int64_t)c->facts.width * c->facts.height;
        it->file_bytes = (int64_t)f->parts[c->part].size;
        names[i] = f->parts[c->part].filename;
    }
    if (!fatal && ae_cull(items, nok, dim, &cp, rows) != AE_OK) fatal = 500, err = api_error("%s", ae_last_error());
    if (fatal) {
        *status = fatal;
        out = err;
        json_decref(errors);
    } else {
        for (int i = 0; i < nok; i++)
            order[i] = (cull_key){rows[i].group < 0 ? 1 << 30 : rows[i].group, rows[i].keep, ok[i].sc.score, i};
        qsort(order, (size_t)nok, sizeof *order, by_group);
        json_t *res = json_array();
        int counts[4] = {0}, rejects = 0, singles = 0;
        for (int k = 0; k < nok; k++) {
            const int i = order[k].i;
            const ae_cull_row *w = &rows[i];
            const img_facts *x = &ok[i].facts;
            char why[600], when[64];
            ae_cull_reason(items, rows, i, cp.keep_by, names, why, sizeof why);
            ae_capture_iso(&x->capture, when, sizeof when);
            json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "file", names[i], "group",
                                  w->group >= 0 ? json_integer(w->group + 1) : json_null(), "kind",
                                  ae_cull_kind_name(w->kind), "role",
                                  w->group < 0 ? "single" : w->keep ? "keep" : "reject");
            json_object_set_new(o, "match", w->match ? json_string(ae_cull_match_name(w->match)) : json_null());
            json_t *sj = score_json(b, &ok[i].sc);
            json_object_update(o, sj);
            json_decref(sj);
            json_object_set_new(o, "similarity", w->group >= 0 ? json_real(w->similarity) : json_null());
            json_object_set_new(o, "sharpness", json_real(x->quality.sharpness));
            json_object_set_new(o, "rel_sharpness", w->group >= 0 ? num_or_null(w->rel_sharpness) : json_null());
            json_object_set_new(o, "highlights", json_real(x->quality.highlights));
            json_object_set_new(o, "shadows", json_real(x->quality.shadows));
            json_object_set_new(o, "noise", json_real(x->quality.noise));
            json_object_set_new(o, "width", json_integer(x->width));
            json_object_set_new(o, "height", json_integer(x->height));
            json_object_set_new(o, "time", *when ? json_string(when) : json_null());
            json_object_set_new(o, "camera", x->capture.camera[0] ? json_string(x->capture.camera) : json_null());
            json_object_set_new(o, "keeper", w->keep ? json_null() : json_string(names[w->keeper]));
            json_object_set_new(o, "reason", *why ? json_string(why) : json_null());
            json_array_append_new(res, o);
            if (w->group < 0) singles++;
            else if (!w->keep) rejects++;
            else counts[w->kind]++;
        }
        json_t *summary = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "images", nok, "groups",
                                    counts[1] + counts[2] + counts[3], "exact", counts[AE_CULL_EXACT], "near",
                                    counts[AE_CULL_NEAR], "burst", counts[AE_CULL_BURST], "rejects", rejects,
                                    "singles", singles);
        json_t *params = json_pack("{s:f, s:f, s:f, s:f, s:s}", "similar", cp.similar, "burst_similar",
                                   cp.burst_similar, "burst_gap", cp.burst_gap, "blur_ratio", cp.blur_ratio,
                                   "keep_by", ae_keep_by_name(cp.keep_by));
        out = json_pack("{s:o, s:o, s:o, s:o, s:s}", "results", res, "summary", summary, "params", params,
                        "errors", errors, "model", s->model_name);
        json_t *d = bank_desc(b);
        json_object_update(out, d);
        json_decref(d);
        json_object_set_new(out, "elapsed_ms", json_real(elapsed_ms(r)));
    }
    banks_release(s, b);
    free(pixels), free(emb), free(ok), free(chunk), free(order), free(items), free(rows), free(names), free(cf);
    return out;
}

/* What an uploaded class list plainly is when it is no text and no workbook: a PDF, an
 * image, or binary data (a NUL byte in its first 4 KiB without a UTF-16 byte order mark);
 * NULL when the class list reader is to judge it (its errors name the line or cell, and it
 * recognises legacy .xls itself). */
static const char *not_a_list(const uint8_t *d, size_t n)
{
    static const uint8_t zip[4] = {'P', 'K', 3, 4}, ole2[4] = {0xd0, 0xcf, 0x11, 0xe0};
    if (n >= 4 && (!memcmp(d, zip, 4) || !memcmp(d, ole2, 4))) return NULL;
    if (n >= 2 && ((d[0] == 0xff && d[1] == 0xfe) || (d[0] == 0xfe && d[1] == 0xff))) return NULL;
    if (n >= 5 && !memcmp(d, "%PDF-", 5)) return "a PDF document";
    if (ae_image_format(d, n < 32 ? n : 32)) return "an image";
    if (memchr(d, 0, n < 4096 ? n : 4096)) return "binary data";
    return NULL;
}

static json_t *handle_bank(ae_server *s, const api_request *r, form *f, int *status)
{
    int bad = 0;
    const char *method = param(r, f, "method", &bad), *pos = param(r, f, "positive", &bad);
    const char *neg = param(r, f, "negative", &bad), *tmpl = param(r, f, "template", &bad);
    const char *column = param(r, f, "column", &bad), *norm = param(r, f, "normalize_prompts", &bad);
    const char *header = param(r, f, "header", &bad);
    if (bad) {
        *status = 400;
        return api_error("a parameter is longer than %d bytes or not UTF-8 text", MAX_PARAM);
    }
    mp_part *file = NULL;
    int nfiles = 0;
    for (int i = 0; f && i < f->n; i++)
        if (f->parts[i].has_filename && !nfiles++) file = &f->parts[i];
    if (!file) {
        *status = 400;
        return api_error("no class list: send a TXT, CSV, TSV or XLSX file as a multipart file field");
    }
    if (nfiles > 1) {
        *status = 400;
        return api_error("/api/bank takes one class list (%d files sent)", nfiles);
    }
    const char *what = not_a_list(file->data, file->size);
    if (what) { /* refused as a non-image is by /api/score, not read as lines of text */
        *status = 415;
        return api_error("%s: %s, not a class list: send a TXT, CSV or TSV file (UTF-8 text) or an XLSX workbook",
                         file->filename, what);
    }
    int m = AE_METHOD_CONTEXT;
    if (method && *method && (m = ae_method_parse(method)) != AE_METHOD_CONTEXT && m != AE_METHOD_ENSEMBLE) {
        *status = 400;
        return api_error("method '%s': a class list is used by context or ensemble", method);
    }
    ae_classlist_params cp = ae_classlist_default_params();
    cp.column = column && *column ? column : NULL;
    cp.header = header && (!strcmp(header, "1") || !strcasecmp(header, "true") || !strcasecmp(header, "on"));
    cp.max_classes = s->p.max_classes;
    cp.max_bytes = (size_t)s->p.max_upload_bytes;
    ae_classlist cl = {0};
    int rc = ae_classlist_parse(file->data, file->size, file->filename, &cp, &cl);
    if (rc != AE_OK) {
        *status = status_of(rc);
        return api_error("%s", ae_last_error());
    }
    ae_bank_params bp = ae_bank_default_params();
    bp.method = (ae_method)m;
    bp.positive = pos && *pos ? pos : NULL;
    bp.negative = neg && *neg ? neg : NULL;
    bp.template_text = tmpl && *tmpl ? tmpl : NULL;
    bp.normalize_prompts = norm && (!strcmp(norm, "1") || !strcasecmp(norm, "true") || !strcasecmp(norm, "on"));
    /* the list is identified by its names (not its bytes: the same list saved as CSV or TXT
       is the same bank); the recipe takes it over */
    ae_recipe rec;
    char msg[512];
    bank_ref *b = NULL;
    rc = ae_recipe_init(&rec, &bp, &cl, s->model);
    if (rc == AE_OK) rc = banks_get_or_build(s, rec.key, &rec.bp, file->filename, r->deadline, &b, msg, sizeof msg);
    else snprintf(msg, sizeof msg, "%s", ae_last_error());
    json_t *out;
    if (rc == 1) {
        *status = 503;
        out = api_error("request budget of %d s exhausted while waiting to build the bank", s->p.request_timeout_s);
    } else if (rc != 0) {
        *status = rc == AE_ERR_NOMEM ? 503 : 400;
        out = api_error("%s", msg);
    } else {
        ae_head_info bi;
        ae_head_get_info(b->bank, &bi);
        json_t *names = json_array();
        for (int32_t i = 0; i < rec.classes.n && i < 50; i++) json_array_append_new(names, json_string(rec.classes.names[i]));
        out = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:o, s:s}", "id", b->id, "method",
                        ae_method_name(bi.method), "n_classes", (int)bi.n_classes, "n_prompts", (int)bi.n_prompts,
                        "positive", bi.positive, "negative", bi.negative, "template", bi.template_text, "classes",
                        names, "file", file->filename);
        json_object_set_new(out, "name", json_string(b->name));
        json_object_set_new(out, "elapsed_ms", json_real(elapsed_ms(r)));
    }
    banks_release(s, b);
    ae_recipe_free(&rec);
    return out;
}

/* ---- heads trained here ---- */

#define MAX_TRAIN 20000 /* labelled embeddings in one POST /api/head */

/* A label: true/false, a label word of rating files (ratings.h: good/bad, yes/no, ...), or a
 * number. */
static int label_value(json_t *v, double *out)
{
    if (json_is_boolean(v)) return *out = json_is_true(v), 0;
    if (json_is_number(v)) return *out = json_number_value(v), isfinite(*out) ? 0 : -1;
    if (!json_is_string(v)) return -1;
    int w = ae_ratings_label_word(json_string_value(v), json_string_length(v));
    return w < 0 ? -1 : (*out = w, 0);
}

static json_t *handle_head(ae_server *s, const api_request *r, int *status)
{
    json_error_t je;
    json_t *in = json_loadb((const char *)r->body, r->size, JSON_REJECT_DUPLICATES, &je);
    *status = 400;
    if (!json_is_object(in)) {
        json_decref(in);
        return in ? api_error("the body is not a JSON object") : api_error("the body is not JSON: %s at line %d", je.text, je.line);
    }
    json_t *E = json_object_get(in, "embeddings"), *L = json_object_get(in, "labels"), *N = json_object_get(in, "name");
    size_t n = json_array_size(E);
    json_t *err = NULL;
    const char *name = json_is_string(N) ? json_string_value(N) : "my taste";
    if (!json_is_array(E) || !json_is_array(L) || json_array_size(L) != n)
        err = api_error("give \"embeddings\" (an array of %d-number arrays, from /api/score?embedding=1) and as many \"labels\" (good/bad, 1/0, or ratings)", (int)s->dim);
    else if (n < 4 || n > MAX_TRAIN)
        err = api_error("%zu labelled images: training takes 4 to %d", n, MAX_TRAIN);
    else if (N && (!json_is_string(N) || !*name || strlen(name) > 64 || !valid_utf8(name, strlen(name))))
        err = api_error("name: a text of 1 to 64 bytes");
    float *x = err ? NULL : malloc(sizeof(float) * n * (size_t)s->dim);
    double *y = err ? NULL : malloc(sizeof(double) * n);
    if (!err && (!x || !y)) *status = 503, err = api_error("out of memory");
    for (size_t i = 0; !err && i < n; i++) {
        json_t *row = json_array_get(E, i);
        if (json_array_size(row) != (size_t)s->dim) {
            err = api_error("embeddings[%zu]: %zu numbers, the model's embeddings have %d", i, json_array_size(row), (int)s->dim);
            break;
        }
        for (int32_t k = 0; k < s->dim; k++) {
            json_t *v = json_array_get(row, (size_t)k);
            double d = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(d) || fabs(d) > 1e30) {
                err = api_error("embeddings[%zu][%d] is not a finite number", i, (int)k);
                break;
            }
            x[i * (size_t)s->dim + (size_t)k] = (float)d;
        }
        if (!err && label_value(json_array_get(L, i), &y[i]))
            err = api_error("labels[%zu] is not good/bad, true/false or a number", i);
    }
    ae_head *h = NULL;
    ae_train_report rep = {0};
    if (!err) {
        ae_head_params hp = ae_head_default_params();
        hp.name = name;
        hp.model_id = s->info.id;
        hp.fingerprint = s->info.fingerprint;
        hp.patch_size = s->info.patch_size;
        hp.vision_width = s->info.vision.hidden_size;
        int rc = ae_head_train(x, (int32_t)n, s->dim, y, NULL, NULL, &hp, &h, &rep);
        if (rc != AE_OK) *status = status_of(rc), err = api_error("%s", ae_last_error());
    }
    json_t *out = err;
    if (!err) {
        /* the id: what it was trained from, so the same labels give the same head */
        ae_sha256 c;
        uint8_t d[32];
        char key[65], id[64];
        ae_sha256_init(&c);
        ae_sha256_update(&c, name, strlen(name) + 1);
        ae_sha256_update(&c, x, sizeof(float) * n * (size_t)s->dim);
        ae_sha256_update(&c, y, sizeof(double) * n);
        ae_sha256_final(&c, d);
        ae_sha256_tohex(d, key);
        snprintf(id, sizeof id, "h-%.16s", key);
        bank_ref *b = banks_add(s, key, id, name, h);
        if (!b) {
            *status = 503, out = api_error("out of memory");
        } else {
            int logistic = rep.kind == AE_TRAIN_LOGISTIC;
            int good = 0;
            for (size_t i = 0; i < n; i++) good += y[i] > 0.5;
            char url[96];
            snprintf(url, sizeof url, "/api/head?id=%s", b->id);
            out = json_pack("{s:s, s:s, s:s, s:i, s:f, s:i, s:i, s:s}", "id", b->id, "name", name, "kind",
                            logistic ? "logistic" : "ridge", "images", (int)n, "lambda", rep.lambda, "folds",
                            (int)rep.folds, "copies", (int)rep.copies, "download", url);
            json_object_set_new(out, logistic ? "accuracy" : "srcc", json_real(rep.cv_metric));
            if (logistic) {
                json_object_set_new(out, "good", json_integer(good));
                json_object_set_new(out, "bad", json_integer((json_int_t)n - good));
            }
            json_object_set_new(out, "elapsed_ms", json_real(elapsed_ms(r)));
            *status = 200;
            banks_release(s, b);
        }
    }
    free(x), free(y);
    json_decref(in);
    return out;
}

json_t *api_head_file(ae_server *s, const char *id, uint8_t **data, size_t *len, char *fname, size_t cap, int *status)
{
    *data = NULL, *len = 0;
    *status = 400;
    if (!id || !*id || strlen(id) > 63) return api_error("give id=, the id POST /api/head answered");
    bank_ref *b = banks_get_id(s, id);
    if (!b) {
        *status = 404;
        return api_error("unknown head '%s' (trained heads are forgotten after %d newer ones: train again)", id, s->p.max_banks);
    }
    ae_head_info hi;
    ae_head_get_info(b->bank, &hi);
    /* a file name from the head's name: letters, digits, '-', '_' kept */
    size_t k = 0;
    for (const char *p = hi.name; *p && k + 6 < cap; p++)
        fname[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ? *p : '-';
    snprintf(fname + k, cap - k, "%s.head", k ? "" : "head");
    const char *dir = getenv("TMPDIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/aesthete-head-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    json_t *err = NULL;
    if (fd < 0) {
        *status = 503, err = api_error("cannot make a temporary file for the head");
    } else {
        close(fd);
        char *bytes = NULL;
        if (ae_head_save(b->bank, path) != AE_OK || ae_file_read(path, (size_t)1 << 30, &bytes, len) != AE_OK)
            *status = 503, err = api_error("%s", ae_last_error());
        else *data = (uint8_t *)bytes;
        unlink(path);
    }
    banks_release(s, b);
    return err;
}

json_t *api_info(ae_server *s)
{
    const ae_model_info *mi = &s->info;
    json_t *model = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:I}", "name", s->model_name, "id", mi->id, "fingerprint",
                              mi->fingerprint, "embed_dim", (int)mi->embed_dim, "image_size", (int)mi->image_size,
                              "patch_size", (int)mi->patch_size, "dtype", mi->weights_dtype, "params",
                              (json_int_t)mi->n_params);
    /* of the image tower (the embeddings, /api/embed) and of the text tower (banks built on
     * request; each bank reports its own) */
    json_object_set_new(model, "precision", json_string(ae_precision_name(mi->precision)));
    json_object_set_new(model, "text_precision", json_string(ae_precision_name(mi->text_precision)));
    json_t *limits = json_pack(
        "{s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "max_upload_bytes", (json_int_t)s->p.max_upload_bytes,
        "max_pixels", (json_int_t)s->p.image.max_pixels, "max_inflight", s->p.max_inflight, "max_parts",
        s->p.max_parts, "max_connections", s->p.max_connections, "max_per_ip", s->p.max_per_ip, "timeout_s",
        s->p.timeout_s, "request_timeout_s", s->p.request_timeout_s, "batch", s->p.batch, "max_banks",
        s->p.max_banks, "max_classes", s->p.max_classes);
    json_object_set_new(limits, "decode_slots", json_integer(s->decode_slots));
    pthread_mutex_lock(&s->mu);
    json_t *stats = json_pack("{s:i, s:I, s:I, s:I, s:I}", "inflight", s->inflight, "requests", (json_int_t)s->n_requests,
                              "rejected_busy", (json_int_t)s->n_rejected, "banks_built", (json_int_t)s->n_built,
                              "banks_read", (json_int_t)s->n_loaded);
    pthread_mutex_unlock(&s->mu);
    /* the methods this model can score with: LAION heads only where one fits it */
    json_t *methods = json_pack("[sss]", "fixed", "context", "ensemble");
    const char *laion[2][2] = {{"laion", NULL}, {"laion-v2", "v2-vit-l-14"}};
    for (int i = 0; i < 2; i++) {
        ae_head *h = NULL;
        if (ae_head_laion(laion[i][1], s->model, &h) == AE_OK) json_array_append_new(methods, json_string(laion[i][0]));
        ae_head_free(h);
    }
    json_object_set_new(limits, "max_train", json_integer(MAX_TRAIN));
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:s, s:s}, s:[sss], s:o, s:b, s:o}", "version", AE_VERSION,
                     "model", model, "methods", methods, "banks", banks_json(s), "building", banks_building_json(s),
                     "defaults", "positive", AE_DEFAULT_POSITIVE, "negative", AE_DEFAULT_NEGATIVE, "laion_heads",
                     "vit-b-32", "vit-b-16", "vit-l-14", "limits", limits, "allow_urls", s->p.allow_urls != 0,
                     "stats", stats);
}

/* Library messages name the model by its folder; clients see the model's name instead of a
 * path of the server's file system. */
static void scrub_paths(ae_server *s, json_t *o)
{
    const char *e = jstr_error(o), *dir = s->info.dir;
    size_t dl = dir ? strlen(dir) : 0;
    if (!e || dl < 2 || !strstr(e, dir)) return;
    char out[2048];
    size_t n = 0;
    for (const char *p = e; *p && n + 1 < sizeof out;) {
        if (!strncmp(p, dir, dl)) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s", s->model_name);
            if (n >= sizeof out) n = sizeof out - 1;
            p += dl;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    json_t *v = json_string(out);
    if (v) json_object_set_new(o, "error", v);
}

json_t *api_handle(ae_server *s, const api_request *r, int *status)
{
    *status = 200;
    form f = {0};
    form *fp = NULL;
    if (!strncasecmp(r->content_type, "multipart/form-data", 19)) {
        char boundary[80], msg[256];
        if (mp_boundary(r->content_type, boundary, sizeof boundary) != 0) {
            *status = 400;
            return api_error("multipart/form-data without a valid boundary parameter");
        }
        int st = mp_parse(r->body, r->size, boundary, s->p.max_parts, &f.parts, &f.n, msg, sizeof msg);
        if (st) {
            *status = st;
            return api_error("%s", msg);
        }
        fp = &f;
    }
    json_t *out = api_unknown_param(r->route, r->conn, f.parts, f.n);
    if (out) {
        *status = 400;
        free(f.parts);
        return out;
    }
    switch (r->route) {
    case ROUTE_SCORE: out = handle_image(s, r, fp, 0, status); break;
    case ROUTE_EMBED: out = handle_image(s, r, fp, 1, status); break;
    case ROUTE_RANK: out = handle_rank(s, r, fp, status); break;
    case ROUTE_CULL: out = handle_cull(s, r, fp, status); break;
    case ROUTE_BANK: out = handle_bank(s, r, fp, status); break;
    case ROUTE_HEAD: out = handle_head(s, r, status); break;
    default: *status = 404, out = api_error("no such endpoint");
    }
    free(f.parts);
    if (*status >= 400 && out) scrub_paths(s, out);
    return out;
}
