/*
 * test_b32.c — the encoders at full size: the random ViT-B/32 of
 * fixtures/models/b32-recipe is generated (RECIPE.md; every tensor's sha256 checked), loaded,
 * and its image embeds (3 images), text embeds (20 strings) and debug activations compared
 * with the goldens: |a - b| <= 1e-4 + 1e-4 |b| and cosine > 0.99999.
 * Set AE_B32_DIR to keep the 605 MB model folder between runs.
 */
#include <jansson.h>
#include <stdint.h>

#include "aesthete.h"
#include "clip_debug.h"
#include "support/b32_recipe.h"
#include "test.h"

/* |a - b| <= atol + rtol |b| per element, and per row of E: cosine > 0.99999. */
static void compare(const char *what, const float *a, const float *b, size_t rows, size_t E,
                    double atol)
{
    double maxd = 0, maxb = 0, mincos = 1;
    size_t bad = 0;
    for (size_t r = 0; r < rows; r++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = r * E; i < (r + 1) * E; i++) {
            double d = fabs((double)a[i] - b[i]);
            bad += !(d <= atol + 1e-4 * fabs(b[i]));
            maxd = fmax(maxd, d);
            maxb = fmax(maxb, fabs(b[i]));
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        mincos = fmin(mincos, ab / sqrt(aa * bb));
    }
    printf("  %-28s max |diff| %.3g (max |ref| %.3g), 1 - min cosine %.3g\n", what, maxd, maxb,
           1 - mincos);
    CHECK_MSG(bad == 0, "%s: %zu of %zu values off", what, bad, rows * E);
    CHECK_MSG(mincos > 0.99999, "%s: cosine %.9f", what, mincos);
}

static void test_recipe_unit(void)
{
    CHECK(b32_fnv1a("") == 0xcbf29ce484222325ull);
    CHECK(b32_fnv1a("a") == 0xaf63dc4c8601ec8cull);
    CHECK(b32_fnv1a("text_model.embeddings.token_embedding.weight") == 0xb72fe613ce2fafc1ull);
    float v[3];
    uint32_t bits[3];
    CHECK_EQ_INT(b32_recipe_fill("text_model.embeddings.token_embedding.weight", v, 3), 0);
    memcpy(bits, v, sizeof bits);
    CHECK_EQ_INT(bits[0], 0xbd4fd11au);
    CHECK_EQ_INT(bits[1], 0xbca4454cu);
    CHECK_EQ_INT(bits[2], 0x3c9c3ffcu);
    CHECK_EQ_INT(b32_recipe_fill("logit_scale", v, 1), 0);
    memcpy(bits, v, 4);
    CHECK_EQ_INT(bits[0], 0x40935D8Eu);
}

typedef struct dbg_ctx {
    json_t *index;
    int32_t *seen;
} dbg_ctx;

static void hook(void *arg, const char *name, const float *data, int32_t rows, int32_t cols,
                 int32_t ld)
{
    dbg_ctx *d = arg;
    for (size_t i = 0; i < json_array_size(d->index); i++) {
        json_t *e = json_array_get(d->index, i);
        if (strcmp(json_string_value(json_object_get(e, "name")), name)) continue;
        d->seen[i]++;
        size_t numel = 1;
        json_t *shape = json_object_get(e, "shape");
        for (size_t k = 0; k < json_array_size(shape); k++)
            numel *= (size_t)json_integer_value(json_array_get(shape, k));
        CHECK_MSG((size_t)rows * cols == numel, "%s: %d x %d, expected %zu values", name,
                  (int)rows, (int)cols, numel);
        if ((size_t)rows * cols != numel) return;
        char rel[256];
        snprintf(rel, sizeof rel, "models/b32-recipe/%s",
                 json_string_value(json_object_get(e, "file")));
        float *ref = fixture_f32(rel, numel), *a = malloc(numel * sizeof *a);
        for (int32_t r = 0; r < rows; r++)
            memcpy(a + (size_t)r * cols, data + (size_t)r * ld, (size_t)cols * sizeof *a);
        if (ref) {
            double mag = 0;
            for (size_t k = 0; k < numel; k++) mag = fmax(mag, fabs(ref[k]));
            compare(name, a, ref, (size_t)rows, (size_t)cols, 1e-4 * fmax(1, mag));
        }
        free(a);
        free(ref);
        return;
    }
}

int main(void)
{
    test_recipe_unit();
    char dir[4096];
    printf("generating the B/32 recipe model\n");
    int rc = b32_recipe_dir(dir, sizeof dir, 1);
    CHECK_MSG(rc == 0, "b32 recipe: generation or sha256 check failed (see above)");
    if (rc) return test_summary();

    ae_model *m = NULL;
    ae_model_params mp = ae_model_default_params();
    rc = ae_model_load(dir, &mp, &m);
    CHECK_MSG(rc == AE_OK, "load: %s", ae_last_error());
    json_error_t err;
    json_t *g = json_load_file(fixture("models/b32-recipe/goldens.json"), 0, &err);
    CHECK_MSG(g != NULL, "goldens.json: %s", err.text);
    ae_session *s = NULL;
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = 2;
    if (m) CHECK_EQ_INT(ae_session_new(m, &sp, &s), AE_OK);
    if (!m || !g || !s) goto done;

    ae_model_info info;
    ae_model_get_info(m, &info);
    CHECK_EQ_INT(info.n_params, 151277313);
    CHECK_EQ_INT(info.embed_dim, 512);
    size_t E = 512, px = ae_model_pixels_size(m);
    CHECK_EQ_INT(px, (size_t)3 * 224 * 224);

    /* images, one batch */
    json_t *order = json_object_get(json_object_get(g, "image_embeds"), "order");
    size_t ni = json_array_size(order);
    CHECK_EQ_INT(ni, 3);
    float *pix = calloc(ni * px, sizeof *pix), *out = calloc(20 * E, sizeof *out);
    for (size_t i = 0; i < ni; i++) {
        float *p = fixture_f32(json_string_value(json_object_get(json_array_get(order, i), "input")), px);
        if (p) memcpy(pix + i * px, p, px * sizeof *p);
        free(p);
    }
    float *ref = fixture_f32("models/b32-recipe/image_embeds.224.f32", ni * E);
    CHECK_EQ_INT(ae_encode_images(s, pix, (int32_t)ni, out), AE_OK);
    if (ref) compare("image_embeds [3, 512]", out, ref, ni, E, 1e-4);
    free(ref);

    /* texts, one batch of 20 sequences of different lengths */
    json_t *torder = json_object_get(json_object_get(g, "text_embeds"), "order");
    int32_t nt = (int32_t)json_array_size(torder), n_ids[20], idbuf[20][77];
    const int32_t *ids[20];
    CHECK_EQ_INT(nt, 20);
    if (nt > 20) nt = 20;
    for (int32_t i = 0; i < nt; i++) {
        json_t *a = json_object_get(json_array_get(torder, (size_t)i), "ids");
        n_ids[i] = (int32_t)json_array_size(a);
        if (n_ids[i] > 77) n_ids[i] = 77;
        for (int32_t k = 0; k < n_ids[i]; k++)
            idbuf[i][k] = (int32_t)json_integer_value(json_array_get(a, (size_t)k));
        ids[i] = idbuf[i];
    }
    ref = fixture_f32("models/b32-recipe/text_embeds.f32", (size_t)nt * E);
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, nt, out), AE_OK);
    if (ref) compare("text_embeds [20, 512]", out, ref, (size_t)nt, E, 1e-4);
    free(ref);

    /* debug activations of photo_rocket.jpg (image 0) and line 0 (text 0) */
    dbg_ctx d = {.index = json_object_get(json_object_get(g, "debug"), "tensors")};
    d.seen = calloc(json_array_size(d.index) + 1, sizeof *d.seen);
    clip_debug_ctx = &d;
    clip_debug_fn = hook;
    CHECK_EQ_INT(ae_encode_images(s, pix, 1, out), AE_OK);
    CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 1, out), AE_OK);
    clip_debug_fn = NULL;
    clip_debug_ctx = NULL;
    for (size_t i = 0; i < json_array_size(d.index); i++)
        CHECK_MSG(d.seen[i] == 1, "debug tensor %s checked %d times",
                  json_string_value(json_object_get(json_array_get(d.index, i), "name")),
                  (int)d.seen[i]);
    free(d.seen);
    free(pix);
    free(out);
done:
    ae_session_free(s);
    ae_model_free(m);
    json_decref(g);
    return test_summary();
}
