/*
 * b32_recipe.c — the generator of the full-size random ViT-B/32 model folder described in
 * fixtures/models/b32-recipe/RECIPE.md (see b32_recipe.h). The stream is written straight
 * into one output buffer, so 151M parameters take well under a second; the sha256 check
 * of 605 MB costs a few seconds more. The stress variant (massive activations, heavy-tailed
 * weights: b32_recipe.h) is the same stream with a few tensors changed after generation.
 */
#define _GNU_SOURCE
#include "b32_recipe.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aesthete.h"
#include "safetensors.h"
#include "hash.h"
#include "test.h"

uint64_t b32_fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* Is the dotted component before the final ".weight"/".bias" a LayerNorm module? */
static int is_layernorm(const char *name)
{
    static const char *const mods[] = {"layer_norm1", "layer_norm2", "pre_layrnorm",
                                       "post_layernorm", "final_layer_norm"};
    const char *last = strrchr(name, '.');
    if (!last) return 0;
    const char *p = last;
    while (p > name && p[-1] != '.') p--;
    size_t len = (size_t)(last - p);
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++)
        if (strlen(mods[i]) == len && !memcmp(p, mods[i], len)) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The rule table of RECIPE.md: mean and log2(scale), first match wins. */
static void rule(const char *name, double *mean, int *lg)
{
    *mean = 0;
    if (is_layernorm(name) && ends_with(name, ".weight")) { *mean = 1; *lg = -3; }
    else if (is_layernorm(name) && ends_with(name, ".bias")) *lg = -5;
    else if (ends_with(name, ".bias")) *lg = -6;
    else if (ends_with(name, ".mlp.fc2.weight")) *lg = -5;
    else if (!strcmp(name, "vision_model.embeddings.patch_embedding.weight")) *lg = -5;
    else if (!strcmp(name, "vision_model.embeddings.class_embedding")) *lg = -3;
    else if (!strcmp(name, "text_model.embeddings.position_embedding.weight")) *lg = -5;
    else *lg = -4;
}

/* The recipe's stream for tensor `name`. heavy != 0 (the stress variant): where the low 8 bits
 * of an output are 0 (1 element in 256), the value becomes sign(k) * f * std instead, with
 * std = scale / sqrt(3) the standard deviation of the uniform values and f = 10..30 from the
 * next 16 bits; the top 24 bits that make the recipe's value are not touched, so every other
 * element keeps its recipe value. */
static int fill(const char *name, float *out, size_t n, int heavy)
{
    if (!strcmp(name, "logit_scale")) {
        if (n != 1) return -1;
        uint32_t bits = 0x40935D8Eu;
        memcpy(out, &bits, 4);
        return 0;
    }
    double mean;
    int lg;
    rule(name, &mean, &lg);
    /* (k - 2^23) / 2^23 * 2^lg = (k - 2^23) * 2^(lg - 23): exact in double */
    double step = ldexp(1.0, lg - 23), std = ldexp(1.0, lg) / sqrt(3.0);
    uint64_t s = b32_fnv1a(name);
    for (size_t i = 0; i < n; i++) { /* hot loop: splitmix64 */
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        int64_t k = (int64_t)(z >> 40) - 8388608;
        if (heavy && (z & 0xff) == 0) {
            double f = B32_STRESS_TAIL_MIN +
                       (B32_STRESS_TAIL_MAX - B32_STRESS_TAIL_MIN) * (double)((z >> 8) & 0xffff) / 65535.0;
            out[i] = (float)((k < 0 ? -f : f) * std);
        } else {
            out[i] = (float)(mean + (double)k * step);
        }
    }
    return 0;
}

int b32_recipe_fill(const char *name, float *out, size_t n) { return fill(name, out, n, 0); }

/* ---- the recipe's tensor list ------------------------------------------------------------ */

typedef struct rtensor {
    const char *name;   /* points into the JSON */
    const char *sha;
    int32_t ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
} rtensor;

typedef struct recipe {
    json_t *root;
    rtensor *t;
    int32_t n;
    size_t total;
} recipe;

static void recipe_free(recipe *r)
{
    free(r->t);
    json_decref(r->root);
}

static int recipe_load(recipe *r)
{
    memset(r, 0, sizeof *r);
    const char *path = fixture("models/b32-recipe/tensors.sha256.json");
    json_error_t err;
    r->root = json_load_file(path, 0, &err);
    if (!r->root) {
        fprintf(stderr, "%s: %s (line %d)\n", path, err.text, err.line);
        return -1;
    }
    json_t *ts = json_object_get(r->root, "tensors");
    json_t *tot = json_object_get(r->root, "total_parameters");
    if (!json_is_object(ts) || !json_is_integer(tot)) {
        fprintf(stderr, "%s: no \"tensors\" / \"total_parameters\"\n", path);
        return -1;
    }
    r->t = calloc(json_object_size(ts), sizeof *r->t);
    if (!r->t) return -1;
    const char *name;
    json_t *v;
    json_object_foreach(ts, name, v) {
        rtensor *t = &r->t[r->n++];
        json_t *shape = json_object_get(v, "shape"), *sha = json_object_get(v, "sha256");
        if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS || !json_is_string(sha)) {
            fprintf(stderr, "%s: tensor %s: bad entry\n", path, name);
            return -1;
        }
        t->name = name;
        t->sha = json_string_value(sha);
        t->ndim = (int32_t)json_array_size(shape);
        t->numel = 1;
        for (int32_t d = 0; d < t->ndim; d++) {
            t->shape[d] = json_integer_value(json_array_get(shape, (size_t)d));
            t->numel *= (size_t)t->shape[d];
        }
        r->total += t->numel;
    }
    if ((long long)r->total != (long long)json_integer_value(tot)) {
        fprintf(stderr, "%s: shapes add up to %zu parameters, total_parameters says %lld\n", path,
                r->total, (long long)json_integer_value(tot));
        return -1;
    }
    return 0;
}

static int copy_file(const char *from, const char *dir, const char *name)
{
    size_t n;
    void *data = read_file(from, &n);
    if (!data) {
        fprintf(stderr, "b32 recipe: cannot read %s\n", from);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    free(data);
    if (!ok) fprintf(stderr, "b32 recipe: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static int copy_side_files(const char *dir)
{
    static const char *const tok[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                                      "preprocessor_config.json"};
    if (copy_file(fixture("models/b32-recipe/config.json"), dir, "config.json")) return -1;
    for (size_t i = 0; i < sizeof tok / sizeof *tok; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tokenizer/%s", tok[i]);
        if (copy_file(fixture(rel), dir, tok[i])) return -1;
    }
    return 0;
}

/* ---- the stress variant ------------------------------------------------------------------ */

const b32_massive b32_stress_vision[B32_STRESS_N_VISION] = {
    {83, 20}, {219, 30}, {402, 45}, {561, 70}, {736, 100}};
const b32_massive b32_stress_text[B32_STRESS_N_TEXT] = {{45, 20}, {190, 40}, {333, 60}, {470, 100}};

int b32_stress_heavy(const char *name)
{
    if (!strstr(name, ".encoder.layers.")) return 0;
    static const char *const kinds[] = {".q_proj.weight", ".k_proj.weight", ".v_proj.weight",
                                        ".out_proj.weight", ".fc1.weight", ".fc2.weight"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (ends_with(name, kinds[i])) return 1;
    return 0;
}

/* The massive channels: offsets on the position embeddings (every position, so the class
 * token and every patch or token carries them from the start) and pushes on each layer's fc2
 * bias (so they keep their size against the stream the layers add). What reads them is
 * divided by the ratio at those channels, as a trained model's weights are in effect: the
 * q/k/v and fc1 weight columns (whose inputs, LayerNorm's outputs, keep the channels
 * massive), so each adds an ordinary-sized per-token constant instead of drowning the image,
 * and the final LayerNorm weight, so the embeddings still come from the image or text.
 * Without that the random model's embeddings of all photos agree to cosine 0.9993.
 * Returns 1 if tensor t was changed. */
static int stress_channels(const rtensor *t, float *p)
{
    int text = !strncmp(t->name, "text_model.", 11);
    if (!text && strncmp(t->name, "vision_model.", 13)) return 0;
    const b32_massive *mc = text ? b32_stress_text : b32_stress_vision;
    int nm = text ? B32_STRESS_N_TEXT : B32_STRESS_N_VISION;
    double emb = text ? B32_STRESS_EMB_TEXT : B32_STRESS_EMB_VISION;
    /* layer 0's push also covers the step from the embeddings to the stream of the layers
     * (the text tower's embeddings are 13x smaller than its residual stream after layer 0) */
    const char *lp = strstr(t->name, ".layers.");
    int first = lp && !strncmp(lp, ".layers.0.", 10);
    double push = text ? (first ? B32_STRESS_FC2_TEXT0 : B32_STRESS_FC2_TEXT)
                       : (first ? B32_STRESS_FC2_VISION0 : B32_STRESS_FC2_VISION);
    int changed = 0;
    for (int j = 0; j < nm; j++) {
        double sign = j % 2 ? -1 : 1, a = mc[j].ratio;
        int32_t c = mc[j].channel;
        if (ends_with(t->name, ".embeddings.position_embedding.weight")) {
            for (int64_t r = 0; r < t->shape[0]; r++)
                p[r * t->shape[1] + c] += (float)(sign * a * emb);
            changed = 1;
        } else if (ends_with(t->name, ".mlp.fc2.bias")) {
            p[c] += (float)(sign * a * push);
            changed = 1;
        } else if (ends_with(t->name, ".q_proj.weight") || ends_with(t->name, ".k_proj.weight") ||
                   ends_with(t->name, ".v_proj.weight") || ends_with(t->name, ".fc1.weight")) {
            for (int64_t r = 0; r < t->shape[0]; r++)
                p[r * t->shape[1] + c] = (float)(p[r * t->shape[1] + c] / a);
            changed = 1;
        } else if (ends_with(t->name, "post_layernorm.weight") ||
                   ends_with(t->name, "final_layer_norm.weight")) {
            p[c] = (float)(p[c] / a);
            changed = 1;
        }
    }
    return changed;
}

/* Writes the recipe (stress 0: every tensor's sha256 checked) or its stress variant (only the
 * tensors it leaves unchanged are checked). */
static int write_model(const char *dir, int stress)
{
    recipe r;
    int rc = -1, bad = 0;
    float *buf = NULL;
    st_out_tensor *out = NULL;
    if (recipe_load(&r)) goto done;
    buf = malloc(r.total * sizeof *buf);
    out = calloc((size_t)r.n, sizeof *out);
    if (!buf || !out) {
        fprintf(stderr, "b32 recipe: out of memory (%zu MB)\n", r.total * 4 >> 20);
        goto done;
    }
    size_t off = 0;
    for (int32_t i = 0; i < r.n; i++) {
        rtensor *t = &r.t[i];
        float *p = buf + off;
        int heavy = stress && b32_stress_heavy(t->name);
        if (fill(t->name, p, t->numel, heavy)) {
            fprintf(stderr, "b32 recipe: tensor %s: bad shape for a scalar\n", t->name);
            goto done;
        }
        int changed = heavy;
        if (stress) changed |= stress_channels(t, p);
        char hex[65];
        ae_sha256_hex(p, t->numel * sizeof *p, hex); /* float32 LE: this is a little-endian host */
        if (!changed && strcmp(hex, t->sha)) {
            fprintf(stderr, "b32 recipe: tensor %s: sha256 %s, expected %s\n", t->name, hex, t->sha);
            bad++;
        }
        out[i].name = t->name;
        out[i].ndim = t->ndim;
        memcpy(out[i].shape, t->shape, sizeof t->shape);
        out[i].data = p;
        off += t->numel;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    if (st_write(path, out, r.n, mk, mv, 1) != AE_OK) {
        fprintf(stderr, "b32 recipe: %s\n", ae_last_error());
        goto done;
    }
    if (copy_side_files(dir)) goto done;
    rc = bad;
done:
    free(out);
    free(buf);
    recipe_free(&r);
    return rc;
}

int b32_recipe_write(const char *dir) { return write_model(dir, 0); }
int b32_recipe_write_stress(const char *dir) { return write_model(dir, 1); }

int b32_recipe_check(const char *dir)
{
    recipe r;
    st_file f = {0};
    int rc = -1, bad = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (recipe_load(&r)) goto done;
    if (st_open(&f, path) != AE_OK) {
        fprintf(stderr, "b32 recipe: %s\n", ae_last_error());
        goto done;
    }
    if (f.n_tensors != r.n) {
        fprintf(stderr, "b32 recipe: %s has %d tensors, expected %d\n", path, f.n_tensors, r.n);
        bad++;
    }
    for (int32_t i = 0; i < r.n; i++) {
        rtensor *t = &r.t[i];
        const st_tensor *s = st_get(&f, t->name);
        if (!s || s->dtype != ST_F32 || s->ndim != t->ndim ||
            memcmp(s->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim)) {
            fprintf(stderr, "b32 recipe: tensor %s: missing, not F32 or wrong shape\n", t->name);
            bad++;
            continue;
        }
        char hex[65];
        ae_sha256_hex(s->data, s->nbytes, hex);
        if (strcmp(hex, t->sha)) {
            fprintf(stderr, "b32 recipe: tensor %s: sha256 %s, expected %s\n", t->name, hex, t->sha);
            bad++;
        }
    }
    rc = bad;
done:
    st_close(&f);
    recipe_free(&r);
    return rc;
}

int b32_recipe_dir(char *buf, size_t cap, int verify)
{
    const char *env = getenv("AE_B32_DIR");
    if (env && *env) {
        char stamp[4096];
        snprintf(buf, cap, "%s", env);
        snprintf(stamp, sizeof stamp, "%s/.b32-recipe-complete", env);
        struct stat st;
        if (stat(stamp, &st) == 0) return verify ? b32_recipe_check(buf) != 0 : 0;
        mkdir(env, 0755);
        if (b32_recipe_write(buf) != 0) return 1;
        FILE *f = fopen(stamp, "w");
        if (f) fclose(f);
        return 0;
    }
    snprintf(buf, cap, "%s/b32", test_tmpdir());
    if (mkdir(buf, 0755) != 0 && !(stat(buf, &(struct stat){0}) == 0)) {
        fprintf(stderr, "b32 recipe: cannot create %s\n", buf);
        return 1;
    }
    return b32_recipe_write(buf) != 0;
}

int b32_recipe_stress_dir(char *buf, size_t cap)
{
    const char *env = getenv("AE_B32_STRESS_DIR");
    if (env && *env) {
        /* the stamp names the variant's version: a folder of an older variant is rewritten */
        char stamp[4096], have[64] = "";
        snprintf(buf, cap, "%s", env);
        snprintf(stamp, sizeof stamp, "%s/.b32-stress-complete", env);
        FILE *f = fopen(stamp, "r");
        if (f) {
            if (!fgets(have, sizeof have, f)) have[0] = 0;
            fclose(f);
        }
        if (!strcmp(have, B32_STRESS_VERSION "\n")) return 0;
        mkdir(env, 0755);
        remove(stamp);
        if (b32_recipe_write_stress(buf) != 0) return 1;
        if ((f = fopen(stamp, "w"))) {
            fputs(B32_STRESS_VERSION "\n", f);
            fclose(f);
        }
        return 0;
    }
    snprintf(buf, cap, "%s/b32-stress", test_tmpdir());
    if (mkdir(buf, 0755) != 0 && !(stat(buf, &(struct stat){0}) == 0)) {
        fprintf(stderr, "b32 recipe: cannot create %s\n", buf);
        return 1;
    }
    return b32_recipe_write_stress(buf) != 0;
}
