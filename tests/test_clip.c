/*
 * test_clip.c — the CLIP encoders against the goldens of the two tiny models
 * (fixtures/models/tiny-quickgelu, F32 weights; tiny-gelu, F16 weights):
 * image embeds of all 29 preprocessed test images, text embeds of all 2525 lines of
 * tokenizer/tokens.jsonl (from their ids, and from their text for a sample), the
 * intermediate activations of embeddings/<model>/debug through the clip_debug hook,
 * batching and thread-count consistency, and the encoders' argument errors; the shared
 * prefix of the text encoder: the ImageNet and hotel prompts (lines 0..2205) by template,
 * batches mixing prompts and other texts, single sequences, a prefix that is a whole
 * sequence but its EOS.
 */
#include <jansson.h>
#include <stdint.h>

#include "aesthete.h"
#include "clip_debug.h"
#include "model.h"
#include "test.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Checks |a - b| <= atol + rtol |b| per element; prints the max difference. */
static void compare(const char *what, const float *a, const float *b, size_t n, double atol,
                    double rtol)
{
    double maxd = 0, maxb = 0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= atol + rtol * fabs(b[i]))) {
            if (!bad) first = i;
            bad++;
        }
        if (d > maxd || d != d) maxd = d;
        if (fabs(b[i]) > maxb) maxb = fabs(b[i]);
    }
    printf("  %-44s max |diff| %.3g (max |ref| %.3g, %zu values)\n", what, maxd, maxb, n);
    CHECK_MSG(bad == 0, "%s: %zu of %zu values off, first at %zu: %.9g vs %.9g", what, bad, n,
              first, a[first], b[first]);
}

static ae_model *load_model(const char *name, int text, int vision)
{
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s", name);
    ae_model_params mp = ae_model_default_params();
    mp.load_text = text;
    mp.load_vision = vision;
    ae_model *m = NULL;
    int rc = ae_model_load(fixture(rel), &mp, &m);
    CHECK_MSG(rc == AE_OK, "load %s: %s", name, ae_last_error());
    return rc == AE_OK ? m : NULL;
}

static ae_session *new_session(const ae_model *m, int threads)
{
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = threads;
    ae_session *s = NULL;
    int rc = ae_session_new(m, &sp, &s);
    CHECK_MSG(rc == AE_OK, "ae_session_new: %s", ae_last_error());
    return rc == AE_OK ? s : NULL;
}

/* ---- tokens.jsonl ------------------------------------------------------------------------ */

typedef struct corpus {
    int32_t n;
    int32_t **ids;   /* truncated to ids[:76] + [49407] */
    int32_t *n_ids;
    int32_t *full_len;
    char **text;     /* decoded utf8_hex, NUL-terminated */
    int32_t *has_nul;
} corpus;

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static int corpus_load(corpus *c)
{
    memset(c, 0, sizeof *c);
    size_t size;
    char *data = read_file(fixture("tokenizer/tokens.jsonl"), &size);
    CHECK(data != NULL);
    if (!data) return -1;
    int32_t cap = 0;
    for (size_t i = 0; i < size; i++) cap += data[i] == '\n';
    c->ids = calloc((size_t)cap, sizeof *c->ids);
    c->n_ids = calloc((size_t)cap, sizeof *c->n_ids);
    c->full_len = calloc((size_t)cap, sizeof *c->full_len);
    c->text = calloc((size_t)cap, sizeof *c->text);
    c->has_nul = calloc((size_t)cap, sizeof *c->has_nul);
    char *line = data;
    while (c->n < cap) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        json_error_t err;
        json_t *j = json_loads(line, JSON_ALLOW_NUL, &err);
        CHECK_MSG(j != NULL, "tokens.jsonl line %d: %s", c->n, err.text);
        if (!j) break;
        json_t *ids = json_object_get(j, "ids");
        const char *hex = json_string_value(json_object_get(j, "utf8_hex"));
        size_t full = json_array_size(ids), k = full > 77 ? 77 : full;
        int32_t *v = malloc(k * sizeof *v);
        for (size_t i = 0; i < k; i++) v[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        if (full > 77) v[76] = 49407;
        size_t hl = hex ? strlen(hex) / 2 : 0;
        char *t = malloc(hl + 1);
        for (size_t i = 0; i < hl; i++) {
            t[i] = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
            if (!t[i]) c->has_nul[c->n] = 1;
        }
        t[hl] = 0;
        c->ids[c->n] = v;
        c->n_ids[c->n] = (int32_t)k;
        c->full_len[c->n] = (int32_t)full;
        c->text[c->n] = t;
        c->n++;
        json_decref(j);
        line = nl + 1;
    }
    free(data);
    CHECK_EQ_INT(c->n, 2525);
    return 0;
}

static void corpus_free(corpus *c)
{
    for (int32_t i = 0; i < c->n; i++) {
        free(c->ids[i]);
        free(c->text[i]);
    }
    free(c->ids);
    free(c->n_ids);
    free(c->full_len);
    free(c->text);
    free(c->has_nul);
}

/* ---- golden embeds ----------------------------------------------------------------------- */

typedef struct images {
    int32_t n, S;
    float *pixels; /* [n, 3, S, S] */
} images;

static int images_load(images *im, const char *model, int S)
{
    char rel[256];
    snprintf(rel, sizeof rel, "embeddings/%s/image_embeds.%d.json", model, S);
    json_error_t err;
    json_t *j = json_load_file(fixture(rel), 0, &err);
    CHECK_MSG(j != NULL, "%s: %s", rel, err.text);
    if (!j) return -1;
    json_t *order = json_object_get(j, "order");
    im->n = (int32_t)json_array_size(order);
    im->S = S;
    size_t px = (size_t)3 * S * S;
    im->pixels = malloc((size_t)im->n * px * sizeof(float));
    for (int32_t i = 0; i < im->n; i++) {
        snprintf(rel, sizeof rel, "images/%s",
                 json_string_value(json_object_get(json_array_get(order, (size_t)i), "input")));
        float *p = fixture_f32(rel, px);
        if (p) memcpy(im->pixels + i * px, p, px * sizeof(float));
        else memset(im->pixels + i * px, 0, px * sizeof(float));
        free(p);
    }
    json_decref(j);
    return 0;
}

static void test_image_goldens(const char *name, ae_model *m, int S)
{
    printf("%s: image embeds (S = %d)\n", name, S);
    images im;
    if (images_load(&im, name, S)) return;
    CHECK_EQ_INT(im.n, 29);
    int32_t E = ae_model_embed_dim(m);
    CHECK_EQ_INT(ae_model_pixels_size(m), (size_t)3 * S * S);
    char rel[256];
    snprintf(rel, sizeof rel, "embeddings/%s/image_embeds.%d.f32", name, S);
    float *ref = fixture_f32(rel, (size_t)im.n * E);
    float *out = calloc((size_t)im.n * E, sizeof *out);
    ae_session *s = new_session(m, 2);
    if (ref && s) {
        CHECK_EQ_INT(ae_encode_images(s, im.pixels, im.n, out), AE_OK);
        compare("image_embeds (one batch of 29)", out, ref, (size_t)im.n * E, 1e-5, 1e-4);
        /* the same images in odd batches: 1, then 5, then the rest */
        memset(out, 0, (size_t)im.n * E * sizeof *out);
        size_t px = (size_t)3 * S * S;
        CHECK_EQ_INT(ae_encode_images(s, im.pixels, 1, out), AE_OK);
        CHECK_EQ_INT(ae_encode_images(s, im.pixels + px, 5, out + E), AE_OK);
        CHECK_EQ_INT(ae_encode_images(s, im.pixels + 6 * px, im.n - 6, out + 6 * E), AE_OK);
        compare("image_embeds (batches of 1, 5, 23)", out, ref, (size_t)im.n * E, 1e-5, 1e-4);
    }
    ae_session_free(s);
    free(ref);
    free(out);
    free(im.pixels);
}

static void test_text_goldens(const char *name, ae_model *m, const corpus *c)
{
    printf("%s: text embeds\n", name);
    int32_t E = ae_model_embed_dim(m);
    char rel[256];
    snprintf(rel, sizeof rel, "embeddings/%s/text_embeds.f32", name);
    float *ref = fixture_f32(rel, (size_t)c->n * E);
    float *out = calloc((size_t)c->n * E, sizeof *out);
    ae_session *s = new_session(m, 2);
    if (ref && s) {
        int rc = ae_encode_tokens(s, (const int32_t *const *)c->ids, c->n_ids, c->n, out);
        CHECK_MSG(rc == AE_OK, "ae_encode_tokens: %s", ae_last_error());
        compare("text_embeds (2525 lines, ids)", out, ref, (size_t)c->n * E, 1e-5, 1e-4);

        /* through the tokenizer: every 5th line, the truncated ones, none with a NUL byte */
        const char **texts = malloc((size_t)c->n * sizeof *texts);
        int32_t *rows = malloc((size_t)c->n * sizeof *rows);
        int32_t k = 0;
        for (int32_t i = 0; i < c->n; i++)
            if (!c->has_nul[i] && (i % 5 == 0 || c->full_len[i] > 77 || i >= 2440)) {
                texts[k] = c->text[i];
                rows[k++] = i;
            }
        float *t = calloc((size_t)k * E, sizeof *t), *r = calloc((size_t)k * E, sizeof *r);
        rc = ae_encode_texts(s, texts, k, t);
        CHECK_MSG(rc == AE_OK, "ae_encode_texts: %s", ae_last_error());
        for (int32_t i = 0; i < k; i++)
            memcpy(r + (size_t)i * E, ref + (size_t)rows[i] * E, (size_t)E * sizeof *r);
        char what[64];
        snprintf(what, sizeof what, "text_embeds (%d strings, tokenized)", (int)k);
        compare(what, t, r, (size_t)k * E, 1e-5, 1e-4);
        free(texts);
        free(rows);
        free(t);
        free(r);
    }
    ae_session_free(s);
    free(ref);
    free(out);
}

/* ---- debug activations ------------------------------------------------------------------- */

typedef struct dbg_ctx {
    const char *model;
    json_t *index;       /* debug/index.json "tensors" */
    int32_t *seen;       /* per index entry */
    int32_t unknown;     /* names the hook sent that the index lacks */
} dbg_ctx;

static void hook(void *arg, const char *name, const float *data, int32_t rows, int32_t cols,
                 int32_t ld)
{
    dbg_ctx *d = arg;
    for (size_t i = 0; i < json_array_size(d->index); i++) {
        json_t *e = json_array_get(d->index, i);
        if (strcmp(json_string_value(json_object_get(e, "name")), name)) continue;
        d->seen[i]++;
        json_t *val = json_object_get(e, "value");
        if (val) {
            CHECK_MSG(rows == 1 && cols == 1 && data[0] == (float)json_number_value(val),
                      "%s: %g, expected %g", name, data[0], json_number_value(val));
            return;
        }
        json_t *shape = json_object_get(e, "shape");
        size_t numel = 1;
        for (size_t k = 0; k < json_array_size(shape); k++)
            numel *= (size_t)json_integer_value(json_array_get(shape, k));
        CHECK_MSG((size_t)rows * cols == numel, "%s: %d x %d values, expected %zu", name,
                  (int)rows, (int)cols, numel);
        if ((size_t)rows * cols != numel) return;
        char rel[256];
        snprintf(rel, sizeof rel, "embeddings/%s/%s", d->model,
                 json_string_value(json_object_get(e, "file")));
        float *ref = fixture_f32(rel, numel);
        float *a = malloc(numel * sizeof *a);
        for (int32_t r = 0; r < rows; r++)
            memcpy(a + (size_t)r * cols, data + (size_t)r * ld, (size_t)cols * sizeof *a);
        if (ref) {
            double mag = 0;
            for (size_t k = 0; k < numel; k++) mag = fmax(mag, fabs(ref[k]));
            compare(name, a, ref, numel, 1e-5 * fmax(1, mag), 1e-4);
        }
        free(a);
        free(ref);
        return;
    }
    d->unknown++;
}

static void test_debug(const char *name, ae_model *m)
{
    printf("%s: debug activations\n", name);
    char rel[256];
    snprintf(rel, sizeof rel, "embeddings/%s/debug/index.json", name);
    json_error_t err;
    json_t *j = json_load_file(fixture(rel), 0, &err);
    CHECK_MSG(j != NULL, "%s: %s", rel, err.text);
    if (!j) return;
    dbg_ctx d = {.model = name, .index = json_object_get(j, "tensors")};
    d.seen = calloc(json_array_size(d.index), sizeof *d.seen);

    ae_model_info info;
    ae_model_get_info(m, &info);
    int S = info.image_size;
    snprintf(rel, sizeof rel, "images/%s",
             json_string_value(json_object_get(json_object_get(j, "image"), "input")));
    float *px = fixture_f32(rel, (size_t)3 * S * S);
    json_t *jids = json_object_get(json_object_get(j, "text"), "ids");
    int32_t n_ids = (int32_t)json_array_size(jids), ids[77];
    for (int32_t i = 0; i < n_ids && i < 77; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(jids, (size_t)i));
    const int32_t *idp = ids;
    float emb[1024];
    ae_session *s = new_session(m, 2);
    if (px && s) {
        clip_debug_ctx = &d;
        clip_debug_fn = hook;
        CHECK_EQ_INT(ae_encode_images(s, px, 1, emb), AE_OK);
        CHECK_EQ_INT(ae_encode_tokens(s, &idp, &n_ids, 1, emb), AE_OK);
        clip_debug_fn = NULL;
        clip_debug_ctx = NULL;
    }
    /* every tensor of the dump was checked once, except attn_probs (never materialised:
     * attention is fused; attn_context covers it) */
    int32_t checked = 0;
    for (size_t i = 0; i < json_array_size(d.index); i++) {
        const char *n = json_string_value(json_object_get(json_array_get(d.index, i), "name"));
        if (strstr(n, "attn_probs")) continue;
        CHECK_MSG(d.seen[i] == 1, "debug tensor %s checked %d times", n, (int)d.seen[i]);
        checked += d.seen[i] == 1;
    }
    printf("  %d debug tensors checked (%d hook names not in the dump)\n", (int)checked,
           (int)d.unknown);
    CHECK(checked >= 30);
    ae_session_free(s);
    free(px);
    free(d.seen);
    json_decref(j);
}

/* ---- consistency: batches vs single calls, thread counts --------------------------------- */

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_consistency(const char *name, ae_model *m, const corpus *c)
{
    printf("%s: batching and threads\n", name);
    ae_model_info info;
    ae_model_get_info(m, &info);
    int S = info.image_size;
    int32_t E = ae_model_embed_dim(m);
    images im;
    if (images_load(&im, name, S)) return;
    size_t px = (size_t)3 * S * S;
    enum { NI = 6, NT = 40 };
    /* texts: lines of many lengths, including the truncated ones */
    static const int32_t lines[NT] = {0,    1,    2,    3,    2000, 2001, 2206, 2207, 2208, 2209,
                                      2210, 2300, 2301, 2350, 2400, 2471, 2476, 2521, 2522, 2523,
                                      2524, 10,   11,   500,  501,  2420, 2430, 2440, 2460, 2461,
                                      2462, 2463, 2464, 2465, 2466, 2467, 2468, 2469, 2470, 2472};
    const int32_t *ids[NT];
    int32_t n_ids[NT];
    for (int i = 0; i < NT; i++) {
        ids[i] = c->ids[lines[i]];
        n_ids[i] = c->n_ids[lines[i]];
    }
    float ib[3][NI * 1024], tb[3][NT * 1024], single[NT * 1024];
    for (int t = 1; t <= 3; t++) {
        ae_session *s = new_session(m, t);
        if (!s) break;
        CHECK_EQ_INT(ae_encode_images(s, im.pixels, NI, ib[t - 1]), AE_OK);
        CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, NT, tb[t - 1]), AE_OK);
        if (t == 2) {
            for (int i = 0; i < NI; i++)
                CHECK_EQ_INT(ae_encode_images(s, im.pixels + i * px, 1, single + i * E), AE_OK);
            double d = max_diff(single, ib[1], (size_t)NI * E);
            printf("  images: %d singles vs one batch: max |diff| %.3g\n", NI, d);
            CHECK(d <= 1e-6);
            for (int i = 0; i < NT; i++)
                CHECK_EQ_INT(ae_encode_tokens(s, &ids[i], &n_ids[i], 1, single + i * E), AE_OK);
            d = max_diff(single, tb[1], (size_t)NT * E);
            printf("  texts: %d singles vs one batch: max |diff| %.3g\n", NT, d);
            CHECK(d <= 1e-6);
        }
        ae_session_free(s);
    }
    for (int t = 2; t <= 3; t++) {
        double di = max_diff(ib[t - 1], ib[0], (size_t)NI * E);
        double dt = max_diff(tb[t - 1], tb[0], (size_t)NT * E);
        printf("  %d threads vs 1: images max |diff| %.3g, texts %.3g\n", t, di, dt);
        CHECK(di <= 1e-6);
        CHECK(dt <= 1e-6);
    }
    free(im.pixels);
}

/* ---- pooling: the first EOS, else the last position ------------------------------------ */

static void pos_hook(void *arg, const char *name, const float *data, int32_t rows, int32_t cols,
                     int32_t ld)
{
    if (!strcmp(name, "text.pooled_position")) *(float *)arg = data[0];
}

static void test_pooling(ae_model *m)
{
    printf("pooling\n");
    ae_session *s = new_session(m, 2);
    if (!s) return;
    int32_t E = ae_model_embed_dim(m);
    int32_t a[6] = {49406, 320, 49407, 1000, 49407, 2000}, b[3] = {49406, 320, 49407};
    int32_t c[4] = {49406, 320, 1000, 2000};
    const int32_t *ids[3] = {a, b, c};
    int32_t n_ids[3] = {6, 3, 4};
    float out[3 * 1024], pos = -1;
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 3, out), AE_OK);
    /* causal mask: what follows the first EOS changes nothing */
    CHECK(max_diff(out, out + E, (size_t)E) <= 1e-6);
    clip_debug_ctx = &pos;
    clip_debug_fn = pos_hook;
    CHECK_EQ_INT(ae_encode_tokens(s, &ids[0], &n_ids[0], 1, out), AE_OK);
    CHECK_EQ_INT(pos, 2);
    CHECK_EQ_INT(ae_encode_tokens(s, &ids[2], &n_ids[2], 1, out + E), AE_OK);
    CHECK_EQ_INT(pos, 3); /* no EOS: the last position */
    clip_debug_fn = NULL;
    clip_debug_ctx = NULL;
    /* the debug path and the fast path agree */
    CHECK_EQ_INT(ae_encode_tokens(s, &ids[2], &n_ids[2], 1, out), AE_OK);
    CHECK(max_diff(out, out + E, (size_t)E) <= 1e-6);
    ae_session_free(s);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_errors(ae_model *m)
{
    printf("errors\n");
    ae_session *s = new_session(m, 1);
    if (!s) return;
    int32_t E = ae_model_embed_dim(m);
    float out[4 * 1024];
    int32_t ok[3] = {49406, 320, 49407}, longer[80], bad[3] = {49406, 49408, 49407};
    for (int i = 0; i < 80; i++) longer[i] = i == 0 ? 49406 : i == 79 ? 49407 : 320;
    const int32_t *ids[2] = {ok, longer};
    int32_t n_ids[2] = {3, 80};
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 2, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "text 1: 80 tokens exceeds the context length 77");
    ids[1] = bad;
    n_ids[1] = 3;
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 2, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "text 1: token 1 is id 49408, outside the vocabulary");
    bad[1] = -1;
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 2, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "is id -1");
    n_ids[1] = 0;
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 2, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "text 1: 0 tokens");
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 0, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "n = 0");
    CHECK_EQ_INT(ae_encode_images(s, out, 0, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "ae_encode_images: n = 0");
    CHECK_EQ_INT(ae_encode_images(s, out, -3, out), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_encode_images(s, NULL, 1, out), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_encode_images(NULL, out, 1, out), AE_ERR_INVALID);
    const char *texts[2] = {"a dog", NULL};
    CHECK_EQ_INT(ae_encode_texts(s, texts, 2, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "text 1");
    texts[1] = "bad \xff utf-8";
    CHECK_EQ_INT(ae_encode_texts(s, texts, 2, out), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "text 1: ");
    CHECK_EQ_INT(ae_encode_texts(s, texts, 0, out), AE_ERR_INVALID);
    /* the valid text alone still works after the errors, with a long text truncated */
    static char big[4000];
    for (int i = 0; i < 999; i++) memcpy(big + 4 * i, "cat ", 4);
    texts[1] = big;
    CHECK_EQ_INT(ae_encode_texts(s, texts, 2, out), AE_OK);
    int32_t cat[77];
    cat[0] = 49406;
    size_t n = 0;
    CHECK_EQ_INT(ae_tokenize(m, "cat", 3, 0, cat + 1, 3, &n), AE_OK);
    CHECK_EQ_INT(n, 3);
    for (int i = 1; i < 76; i++) cat[i] = cat[2];
    cat[76] = 49407;
    const int32_t *cp = cat;
    int32_t cn = 77;
    CHECK_EQ_INT(ae_encode_tokens(s, &cp, &cn, 1, out + 2 * E), AE_OK);
    CHECK(max_diff(out + E, out + 2 * E, (size_t)E) <= 1e-6);
    ae_session_free(s);

    ae_session_params sp = ae_session_default_params();
    sp.n_threads = -1;
    s = (ae_session *)1;
    CHECK_EQ_INT(ae_session_new(m, &sp, &s), AE_ERR_INVALID);
    CHECK(s == NULL);
    CHECK_EQ_INT(ae_session_new(NULL, NULL, &s), AE_ERR_INVALID);
    ae_session_free(NULL);

    /* a tower that was not loaded */
    ae_model *mt = load_model("tiny-quickgelu", 1, 0), *mv = load_model("tiny-quickgelu", 0, 1);
    if (mt && mv) {
        ae_session *st = new_session(mt, 1), *sv = new_session(mv, 1);
        if (st && sv) {
            CHECK_EQ_INT(ae_encode_images(st, out, 1, out), AE_ERR_INVALID);
            CHECK_STR_CONTAINS(ae_last_error(), "vision tower was not loaded");
            CHECK_EQ_INT(ae_encode_tokens(sv, ids, n_ids, 1, out), AE_ERR_INVALID);
            CHECK_STR_CONTAINS(ae_last_error(), "text tower was not loaded");
            CHECK_EQ_INT(ae_encode_texts(sv, texts, 1, out), AE_ERR_INVALID);
            CHECK_STR_CONTAINS(ae_last_error(), "text tower was not loaded");
            CHECK_EQ_INT(ae_encode_tokens(st, ids, n_ids, 1, out), AE_OK);
        }
        ae_session_free(st);
        ae_session_free(sv);
    }
    ae_model_free(mt);
    ae_model_free(mv);
}

/* ---- shared prefix ------------------------------------------------------------------------ */

/* clip_text_forward itself (no session: no reordering or splitting of the batch) on the
 * given lines, against their goldens. */
static void forward_lines(const char *what, const ae_model *m, const corpus *c, const float *ref,
                          const int32_t *lines, int32_t n)
{
    int32_t E = ae_model_embed_dim(m);
    nn_pool *pool = nn_pool_new(2);
    size_t floats = clip_text_scratch_floats(m, n, pool); /* n * context tokens */
    float *scratch = aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
    const int32_t **ids = malloc((size_t)n * sizeof *ids);
    int32_t *n_ids = malloc((size_t)n * sizeof *n_ids);
    float *out = malloc((size_t)n * E * sizeof *out), *r = malloc((size_t)n * E * sizeof *r);
    CHECK(pool && scratch && ids && n_ids && out && r);
    if (pool && scratch && ids && n_ids && out && r) {
        for (int32_t i = 0; i < n; i++) {
            ids[i] = c->ids[lines[i]];
            n_ids[i] = c->n_ids[lines[i]];
            memcpy(r + (size_t)i * E, ref + (size_t)lines[i] * E, (size_t)E * sizeof *r);
        }
        CHECK_EQ_INT(clip_text_forward(m, ids, n_ids, n, out, scratch, pool), AE_OK);
        compare(what, out, r, (size_t)n * E, 1e-5, 1e-4);
    }
    nn_pool_free(pool);
    free(scratch);
    free(ids);
    free(n_ids);
    free(out);
    free(r);
}

static void test_prefix(const char *name, ae_model *m, const corpus *c)
{
    printf("%s: shared prefix\n", name);
    int32_t E = ae_model_embed_dim(m);
    char rel[256];
    snprintf(rel, sizeof rel, "embeddings/%s/text_embeds.f32", name);
    float *ref = fixture_f32(rel, (size_t)c->n * E);
    if (!ref) return;
    enum { NB = 2206 }; /* lines 0..2205: 1103 classes x ("a outstanding ...", "a horrible ...") */
    int32_t *lines = malloc(NB * sizeof *lines);

    /* each template in one call: "<BOS> a outstanding picture , of a #" is shared */
    for (int pol = 0; pol < 2; pol++) {
        for (int32_t i = 0; i < NB / 2; i++) lines[i] = 2 * i + pol;
        /* the common prefix (8 tokens) */
        int32_t lp = c->n_ids[lines[0]];
        for (int32_t i = 1; i < NB / 2; i++) {
            int32_t j = 0;
            while (j < lp && c->ids[lines[i]][j] == c->ids[lines[0]][j]) j++;
            lp = j;
        }
        CHECK_EQ_INT(lp, 8);
        char what[80];
        snprintf(what, sizeof what, "%s prompts (1103, ids, one call)", pol ? "horrible" : "outstanding");
        forward_lines(what, m, c, ref, lines, NB / 2);
    }

    /* all 2206 through a session, in file order (it groups them by template) */
    float *out = malloc((size_t)NB * E * sizeof *out);
    ae_session *s = new_session(m, 2);
    if (s && out) {
        const int32_t *ids[NB];
        for (int32_t i = 0; i < NB; i++) ids[i] = c->ids[i];
        CHECK_EQ_INT(ae_encode_tokens(s, ids, c->n_ids, NB, out), AE_OK);
        compare("ImageNet + hotel prompts (2206, session)", out, ref, (size_t)NB * E, 1e-5, 1e-4);
        /* the same prompts as strings, one call per template, as a bank build does */
        const char **texts = malloc(NB / 2 * sizeof *texts);
        float *r = malloc((size_t)NB / 2 * E * sizeof *r);
        for (int pol = 0; pol < 2 && texts && r; pol++) {
            for (int32_t i = 0; i < NB / 2; i++) {
                texts[i] = c->text[2 * i + pol];
                memcpy(r + (size_t)i * E, ref + (size_t)(2 * i + pol) * E, (size_t)E * sizeof *r);
            }
            CHECK_EQ_INT(ae_encode_texts(s, texts, NB / 2, out), AE_OK);
            compare(pol ? "horrible prompts (1103 strings)" : "outstanding prompts (1103 strings)",
                    out, r, (size_t)NB / 2 * E, 1e-5, 1e-4);
        }
        free(texts);
        free(r);
    }
    ae_session_free(s);
    free(out);

    /* prompts with and without their common prefix in one batch: empty text (BOS EOS),
     * whitespace, long and truncated lines among the prompts */
    static const int32_t mixed[] = {0, 2, 4, 2206, 6, 2300, 8, 2521, 10, 2471, 1, 3, 2207, 12};
    forward_lines("mixed batch (14)", m, c, ref, mixed, 14);
    /* single sequences: the prefix is the sequence but its EOS */
    static const int32_t singles[] = {0, 1, 2205, 2206, 2300, 2521};
    for (int i = 0; i < 6; i++) {
        char what[64];
        snprintf(what, sizeof what, "single sequence (line %d)", (int)singles[i]);
        forward_lines(what, m, c, ref, &singles[i], 1);
    }
    /* a prefix that is a whole sequence but its EOS: line 16 ("...#great white shark")
     * begins line 1992; line 584 begins lines 6, 564 and 600 */
    for (int i = 0; i < 2; i++) {
        static const int32_t pre[2][4] = {{16, 1992, 16, 1992}, {584, 6, 564, 600}};
        int32_t a = pre[i][0];
        CHECK(c->n_ids[pre[i][1]] > c->n_ids[a] &&
              !memcmp(c->ids[pre[i][1]], c->ids[a], (size_t)(c->n_ids[a] - 1) * sizeof(int32_t)));
        forward_lines(i ? "prefix = line 584 minus EOS (4)" : "prefix = line 16 minus EOS (4)",
                      m, c, ref, pre[i], 4);
    }
    free(lines);
    free(ref);
}

/* int8 passes hold as many images as keep their activations in the threads' L3 share (1 MiB
 * a core here, set in main: 1 image of this model a pass on one thread, 3 on two, 4 on
 * three): 30 distinct images in one call come out with the same bits as one at a time, in
 * their places, whatever the passes. */
static void test_int8_passes(const char *name)
{
    printf("%s: int8 images in passes\n", name);
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s", name);
    ae_model_params mp = ae_model_default_params();
    mp.load_text = 0;
    mp.precision = AE_PRECISION_INT8;
    ae_model *m = NULL;
    CHECK_MSG(ae_model_load(fixture(rel), &mp, &m) == AE_OK, "load %s int8: %s", name, ae_last_error());
    images im;
    if (!m || images_load(&im, name, 224)) {
        ae_model_free(m);
        return;
    }
    enum { N = 30 };
    const size_t px = (size_t)3 * 224 * 224;
    const int32_t E = ae_model_embed_dim(m);
    float *pix = malloc(N * px * sizeof *pix), *batch = malloc((size_t)N * E * sizeof *batch);
    float *one = malloc((size_t)E * sizeof *one);
    for (int j = 0; j < N; j++) /* image j: fixture j % n, brightened by j / 100 */
        for (size_t i = 0; i < px; i++) pix[j * px + i] = im.pixels[(j % im.n) * px + i] + 0.01f * j;
    for (int t = 1; t <= 3; t++) {
        ae_session *s = new_session(m, t);
        if (!s) break;
        CHECK_EQ_INT(ae_encode_images(s, pix, N, batch), AE_OK);
        int same = 0;
        for (int j = 0; j < N; j++) {
            CHECK_EQ_INT(ae_encode_images(s, pix + j * px, 1, one), AE_OK);
            same += !memcmp(one, batch + (size_t)j * E, (size_t)E * sizeof *one);
        }
        printf("  %d threads: %d of %d images the same bits alone as in one call\n", t, same, N);
        CHECK_EQ_INT(same, N);
        CHECK(memcmp(batch, batch + E, (size_t)E * sizeof *one) != 0);
        ae_session_free(s);
    }
    free(pix);
    free(batch);
    free(one);
    free(im.pixels);
    ae_model_free(m);
}

int main(void)
{
    /* caches as a small CPU's (before anything reads them): several int8 passes a call */
    setenv("AE_CACHES", "48K,2M,1M", 1);
    test_int8_passes("tiny-quickgelu");
    corpus c;
    if (corpus_load(&c) == 0) {
        static const struct { const char *name; int S; } models[] = {{"tiny-quickgelu", 224},
                                                                     {"tiny-gelu", 64}};
        for (int i = 0; i < 2; i++) {
            ae_model *m = load_model(models[i].name, 1, 1);
            if (!m) continue;
            test_image_goldens(models[i].name, m, models[i].S);
            test_text_goldens(models[i].name, m, &c);
            test_debug(models[i].name, m);
            test_consistency(models[i].name, m, &c);
            test_prefix(models[i].name, m, &c);
            if (i == 0) {
                test_pooling(m);
                test_errors(m);
            }
            ae_model_free(m);
        }
    }
    corpus_free(&c);
    return test_summary();
}
