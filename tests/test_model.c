/*
 * test_model.c — loading model directories: the two tiny fixture models (info fields against
 * their configs, converted values against the raw tensors, linear layers through
 * nn_linear_forward), a generated micro model whose every parameter is checked, F32 / BF16 /
 * mixed files with I64 position_ids buffers, the token embedding read from the file by rows
 * (F32, F16, BF16: the text pass's input rows and text embeddings bit for bit those of the
 * values in memory), the fingerprint (recomputed here from its
 * documented algorithm, and changed by one flipped byte), and broken directories, each of
 * which must fail with the exact message.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clip_debug.h"
#include "config.h"
#include "error.h"
#include "model.h"
#include "nn/nn.h"
#include "safetensors.h"
#include "test.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Paths stay valid for the whole run (64 slots, fewer calls than that). */
static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(p, 1, n, f) == n);
    fclose(f);
}

static void copy_file(const char *src, const char *dst)
{
    size_t n;
    void *p = read_file(src, &n);
    CHECK_MSG(p != NULL, "cannot read %s", src);
    if (p) write_bytes(dst, p, n);
    free(p);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* A fresh folder tmp/<name> with the tokenizer files (and config.json if config != NULL). */
static const char *model_dir(const char *name, const char *config)
{
    const char *d = test_tmp(name);
    mkdir(d, 0755);
    char p[4200];
    snprintf(p, sizeof p, "%s/vocab.json", d);
    copy_file(fixture("tokenizer/vocab.json"), p);
    snprintf(p, sizeof p, "%s/merges.txt", d);
    copy_file(fixture("tokenizer/merges.txt"), p);
    if (config) {
        snprintf(p, sizeof p, "%s/config.json", d);
        write_text(p, config);
    }
    return d;
}

static const char *in_dir(const char *dir, const char *file)
{
    static char buf[4][4200];
    static int slot;
    char *b = buf[slot++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", dir, file);
    return b;
}

static int load(const char *dir, int text, int vision, ae_model **m)
{
    ae_model_params p = ae_model_default_params();
    p.load_text = text;
    p.load_vision = vision;
    ae_clear_error();
    return ae_model_load(dir, &p, m);
}

static void expect_load_fail(const char *dir, int text, int vision, int rc_want, const char *needle)
{
    ae_model *m = (ae_model *)1;
    int rc = load(dir, text, vision, &m);
    CHECK_MSG(rc == rc_want, "%s: rc %d, expected %d (%s)", dir, rc, rc_want, ae_last_error());
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(ae_last_error(), needle);
    if (rc == AE_OK) ae_model_free(m);
}

/* Checks y = x·Wᵀ + b of a loaded layer against raw tensors: W is the row-wise
 * concatenation of ws[0..n) (each [rows, n_in] after flattening), b of bs (or NULL). */
static double check_linear(const nn_linear *l, const st_file *st, int n, const char *const *ws,
                           const char *const *bs)
{
    int32_t n_out = l->n_out, n_in = l->n_in, m = 3;
    float *w = malloc(sizeof(float) * (size_t)n_out * (size_t)n_in);
    float *b = calloc((size_t)n_out, sizeof(float));
    float *x = malloc(sizeof(float) * (size_t)m * (size_t)n_in);
    float *y = malloc(sizeof(float) * (size_t)m * (size_t)n_out);
    float *r = malloc(sizeof(float) * (size_t)m * (size_t)n_out);
    int64_t row = 0;
    double md = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor *t = st_get(st, ws[i]);
        CHECK_MSG(t != NULL, "%s", ws[i]);
        if (!t) goto done;
        st_to_f32(t, w + row * n_in);
        if (bs) {
            const st_tensor *tb = st_get(st, bs[i]);
            CHECK_MSG(tb != NULL, "%s", bs[i]);
            if (!tb) goto done;
            st_to_f32(tb, b + row);
        }
        row += t->shape[0];
    }
    CHECK_EQ_INT(row, n_out);
    for (int64_t i = 0; i < (int64_t)m * n_in; i++) x[i] = (float)sin(0.37 * (double)i + 0.1);
    nn_linear_forward(l, x, m, y, NN_ACT_NONE, NULL, NULL);
    nn_gemm_ref(m, n_out, n_in, x, n_in, w, n_in, bs ? b : NULL, r, n_out);
    for (int64_t i = 0; i < (int64_t)m * n_out; i++) {
        double d = fabs((double)y[i] - (double)r[i]) / (1 + fabs((double)r[i]));
        if (d > md) md = d;
    }
done:
    free(w);
    free(b);
    free(x);
    free(y);
    free(r);
    return md;
}

/* The fingerprint as documented in model.c. */
static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static void ref_fingerprint(const uint8_t *p, size_t n, char out[17])
{
    uint64_t s[4];
    for (int i = 0; i < 4; i++) s[i] = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    size_t nb = (n + 31) / 32;
    for (size_t blk = 0; blk < nb; blk++)
        for (int l = 0; l < 4; l++) {
            uint64_t w = 0;
            for (int k = 7; k >= 0; k--) {
                size_t at = blk * 32 + (size_t)l * 8 + (size_t)k;
                w = w << 8 | (at < n ? p[at] : 0);
            }
            s[l] = (s[l] ^ w) * 0x9FB21C651E98DF25ull;
            s[l] ^= s[l] >> 29;
        }
    uint64_t h = n;
    for (int l = 0; l < 4; l++) h = fmix(h ^ s[l]);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void file_fingerprint(const char *path, char out[17])
{
    size_t n;
    uint8_t *p = read_file(path, &n);
    CHECK(p != NULL);
    if (p) ref_fingerprint(p, n, out);
    free(p);
}

/* ---- the tiny fixture models -------------------------------------------------------------- */

/* The whole token embedding [vocab, D] of a loaded text tower, read back from its file by
 * clip_token_rows (all ids: one run, one read); NULL after a failed CHECK. */
static float *token_table(const clip_tower *t)
{
    size_t V = (size_t)t->cfg.vocab, D = (size_t)t->cfg.hidden;
    int32_t *ids = malloc(V * sizeof *ids);
    float *rows = malloc(V * D * sizeof *rows);
    for (size_t i = 0; i < V; i++) ids[i] = (int32_t)i;
    int rc = clip_token_rows(t, ids, (int32_t)V, rows);
    CHECK_MSG(rc == AE_OK, "clip_token_rows: %s", ae_last_error());
    free(ids);
    if (rc == AE_OK) return rows;
    free(rows);
    return NULL;
}

/* Scattered ids (runs and single rows, the first and the last) read as the same rows of the
 * whole table. */
static void check_token_rows(const clip_tower *t, const float *table)
{
    const int32_t ids[] = {0, 1, 2, 7, 320, 321, 1125, 49405, 49406, 49407};
    enum { N = sizeof ids / sizeof ids[0] };
    size_t D = (size_t)t->cfg.hidden;
    float *rows = malloc(N * D * sizeof *rows);
    CHECK_EQ_INT(clip_token_rows(t, ids, N, rows), AE_OK);
    for (int i = 0; i < N && table; i++)
        CHECK_MSG(memcmp(rows + i * D, table + (size_t)ids[i] * D, D * sizeof *rows) == 0,
                  "token row %d differs", (int)ids[i]);
    free(rows);
}

static void check_plain(const float *got, const st_file *st, const char *name, size_t n)
{
    const st_tensor *t = st_get(st, name);
    CHECK_MSG(t && (size_t)t->numel == n, "%s", name);
    if (!t || (size_t)t->numel != n || !got) return;
    float *want = malloc(n * sizeof(float));
    st_to_f32(t, want);
    CHECK_MSG(memcmp(got, want, n * sizeof(float)) == 0, "%s differs", name);
    free(want);
}

static void test_tiny(const char *name, int f16)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s", name);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture(rel));
    ae_model *m = NULL;
    int rc = load(dir, 1, 1, &m);
    CHECK_MSG(rc == AE_OK, "%s: %s", name, ae_last_error());
    if (rc) return;

    ae_model_info info;
    ae_model_get_info(m, &info);
    CHECK(strcmp(info.dir, dir) == 0);
    CHECK_STR_CONTAINS(info.weights_dtype, f16 ? "F16" : "F32");
    CHECK_EQ_INT(info.n_params, f16 ? 2593673 : 4104873);
    CHECK_EQ_INT(info.file_size, f16 ? 5199722 : 16428372);
    CHECK_EQ_INT(info.embed_dim, f16 ? 24 : 40);
    CHECK_EQ_INT(ae_model_embed_dim(m), f16 ? 24 : 40);
    CHECK_EQ_INT(info.image_size, f16 ? 64 : 224);
    CHECK_EQ_INT(info.patch_size, f16 ? 16 : 32);
    CHECK_EQ_INT(info.context_length, 77);
    CHECK_EQ_INT(info.vocab_size, 49408);
    CHECK_EQ_INT(info.text.hidden_size, f16 ? 48 : 72);
    CHECK_EQ_INT(info.text.num_layers, f16 ? 3 : 2);
    CHECK_EQ_INT(info.text.num_heads, f16 ? 4 : 6);
    CHECK_EQ_INT(info.text.intermediate_size, f16 ? 112 : 200);
    CHECK_EQ_INT(info.vision.hidden_size, f16 ? 64 : 96);
    CHECK_EQ_INT(info.vision.num_layers, f16 ? 3 : 2);
    CHECK_EQ_INT(info.vision.num_heads, f16 ? 4 : 6);
    CHECK_EQ_INT(info.vision.intermediate_size, f16 ? 136 : 152);
    CHECK_STR_CONTAINS(info.text.hidden_act, f16 ? "gelu" : "quick_gelu");
    CHECK(strcmp(info.vision.hidden_act, f16 ? "gelu" : "quick_gelu") == 0);
    CHECK(info.text.layer_norm_eps == 1e-5f && info.vision.layer_norm_eps == 1e-5f);
    CHECK(info.text.loaded == 1 && info.vision.loaded == 1);
    CHECK_EQ_INT(info.resize_shortest_edge, f16 ? 64 : 224);
    CHECK_EQ_INT(info.crop_height, f16 ? 64 : 224);
    CHECK_EQ_INT(info.crop_width, f16 ? 64 : 224);
    CHECK_EQ_INT(ae_model_pixels_size(m), 3 * (f16 ? 64 * 64 : 224 * 224));
    CHECK(info.image_mean[0] == 0.48145466f && info.image_std[2] == 0.27577711f);
    CHECK_EQ_INT(strlen(info.fingerprint), 16);
    CHECK_EQ_INT(strspn(info.fingerprint, "0123456789abcdef"), 16);
    char fp[17];
    snprintf(rel, sizeof rel, "models/%s/model.safetensors", name);
    file_fingerprint(fixture(rel), fp);
    CHECK_MSG(strcmp(fp, info.fingerprint) == 0, "fingerprint %s, recomputed %s", info.fingerprint, fp);
    CHECK(m->tok != NULL);
    CHECK(m->cfg.text.act == (f16 ? AE_ACT_GELU : AE_ACT_QUICK_GELU));

    /* converted values, bit for bit */
    st_file st;
    CHECK_EQ_INT(st_open(&st, fixture(rel)), AE_OK);
    int32_t Dt = m->cfg.text.hidden, Dv = m->cfg.vision.hidden;
    /* the token embedding stays in the file: its rows read back bit for bit, in the dtype's
     * widening (F16 here for tiny-gelu) */
    float *table = token_table(&m->text);
    check_plain(table, &st, "text_model.embeddings.token_embedding.weight",
                (size_t)49408 * (size_t)Dt);
    check_token_rows(&m->text, table);
    CHECK(m->text.token_file.dtype == (f16 ? ST_F16 : ST_F32));
    check_plain(m->text.position_embedding, &st, "text_model.embeddings.position_embedding.weight",
                (size_t)77 * (size_t)Dt);
    check_plain(m->vision.class_embedding, &st, "vision_model.embeddings.class_embedding", (size_t)Dv);
    check_plain(m->vision.position_embedding, &st,
                "vision_model.embeddings.position_embedding.weight",
                (size_t)m->cfg.vision.max_positions * (size_t)Dv);
    check_plain(m->vision.pre_ln_b, &st, "vision_model.pre_layrnorm.bias", (size_t)Dv);
    check_plain(m->vision.final_ln_w, &st, "vision_model.post_layernorm.weight", (size_t)Dv);
    check_plain(m->text.final_ln_b, &st, "text_model.final_layer_norm.bias", (size_t)Dt);
    check_plain(m->text.layers[1].ln2_w, &st, "text_model.encoder.layers.1.layer_norm2.weight",
                (size_t)Dt);
    check_plain(m->vision.layers[0].ln1_b, &st, "vision_model.encoder.layers.0.layer_norm1.bias",
                (size_t)Dv);
    /* the first token embedding row and the class embedding by value too */
    const st_tensor *te = st_get(&st, "text_model.embeddings.token_embedding.weight");
    if (te) {
        float row0[128];
        st_tensor t0 = *te;
        t0.numel = Dt;
        st_to_f32(&t0, row0);
        CHECK(table && memcmp(table, row0, sizeof(float) * (size_t)Dt) == 0);
        CHECK(row0[0] != 0);
    }
    free(table);
    /* block pointers are 64-byte aligned */
    CHECK(((uintptr_t)m->vision.class_embedding & 63) == 0);
    CHECK(((uintptr_t)m->text.layers[0].ln1_w & 63) == 0);

    /* linear layers, through the kernels */
    const char *q[] = {"text_model.encoder.layers.1.self_attn.q_proj.weight",
                       "text_model.encoder.layers.1.self_attn.k_proj.weight",
                       "text_model.encoder.layers.1.self_attn.v_proj.weight"};
    const char *qb[] = {"text_model.encoder.layers.1.self_attn.q_proj.bias",
                        "text_model.encoder.layers.1.self_attn.k_proj.bias",
                        "text_model.encoder.layers.1.self_attn.v_proj.bias"};
    double d = check_linear(&m->text.layers[1].qkv, &st, 3, q, qb);
    printf("%s: text layer 1 qkv max rel diff %.3g\n", name, d);
    CHECK(d < 1e-5);
    const char *fc2[] = {"vision_model.encoder.layers.0.mlp.fc2.weight"},
               *fc2b[] = {"vision_model.encoder.layers.0.mlp.fc2.bias"};
    d = check_linear(&m->vision.layers[0].fc2, &st, 1, fc2, fc2b);
    printf("%s: vision layer 0 fc2 max rel diff %.3g\n", name, d);
    CHECK(d < 1e-5);
    const char *pe[] = {"vision_model.embeddings.patch_embedding.weight"};
    CHECK_EQ_INT(m->vision.patch.n_in, 3 * m->cfg.vision.patch_size * m->cfg.vision.patch_size);
    d = check_linear(&m->vision.patch, &st, 1, pe, NULL);
    printf("%s: patch embedding max rel diff %.3g\n", name, d);
    CHECK(d < 1e-5);
    CHECK(m->vision.patch.bias == NULL && m->text.proj.bias == NULL);
    const char *tp[] = {"text_projection.weight"}, *vp[] = {"visual_projection.weight"};
    CHECK(check_linear(&m->text.proj, &st, 1, tp, NULL) < 1e-5);
    CHECK(check_linear(&m->vision.proj, &st, 1, vp, NULL) < 1e-5);
    st_close(&st);

    /* a second load gives the same fingerprint */
    ae_model *m2 = NULL;
    CHECK_EQ_INT(load(dir, 0, 1, &m2), AE_OK);
    ae_model_info i2;
    ae_model_get_info(m2, &i2);
    CHECK(strcmp(i2.fingerprint, info.fingerprint) == 0);
    CHECK(i2.text.loaded == 0 && i2.vision.loaded == 1 && i2.text.hidden_size == info.text.hidden_size);
    CHECK(m2->tok == NULL && m2->text.layers == NULL && m2->text.token_file.path == NULL);
    ae_model_free(m2);
    ae_model_free(m);
}

/* ---- a generated micro model ------------------------------------------------------------ */

#define MICRO_CONFIG                                                                       \
    "{\"projection_dim\": 4,\n"                                                            \
    " \"text_config\": {\"hidden_size\": 8, \"intermediate_size\": 12, \"num_hidden_layers\": 1,\n" \
    "   \"num_attention_heads\": 2, \"max_position_embeddings\": 16, \"hidden_act\": \"gelu\"},\n" \
    " \"vision_config\": {\"hidden_size\": 8, \"intermediate_size\": 12, \"num_hidden_layers\": 2,\n" \
    "   \"num_attention_heads\": 2, \"image_size\": 32, \"patch_size\": 16}}\n"

#define MAX_T 64

typedef struct micro {
    st_out_tensor t[MAX_T];
    char names[MAX_T][96];
    float *data[MAX_T];
    int n;
} micro;

static void add(micro *mc, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int i = mc->n++;
    snprintf(mc->names[i], sizeof mc->names[i], "%s", name);
    st_out_tensor *t = &mc->t[i];
    t->name = mc->names[i];
    t->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    size_t n = 1;
    for (int k = 0; k < ndim; k++) n *= (size_t)(t->shape[k] = d[k]);
    mc->data[i] = malloc(n * sizeof(float) + 4);
    /* k/128 with |k| < 128: exact in F16 and BF16; distinct per tensor */
    uint32_t h = 2166136261u;
    for (const char *c = name; *c; c++) h = (h ^ (uint8_t)*c) * 16777619u;
    for (size_t k = 0; k < n; k++) {
        h = h * 1103515245u + 12345u;
        mc->data[i][k] = (float)((int)((h >> 16) % 255) - 127) / 128.0f;
    }
    t->data = mc->data[i];
}

static void add_layers(micro *mc, const char *tower, int layers, int64_t D, int64_t I)
{
    char nm[96];
    for (int l = 0; l < layers; l++) {
        const char *lin[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                             "self_attn.out_proj"};
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.%s.weight", tower, l, lin[k]);
            add(mc, nm, 2, D, D, 0, 0);
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.%s.bias", tower, l, lin[k]);
            add(mc, nm, 1, D, 0, 0, 0);
        }
        const char *ln[] = {"layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight",
                            "layer_norm2.bias"};
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.%s", tower, l, ln[k]);
            add(mc, nm, 1, D, 0, 0, 0);
        }
        snprintf(nm, sizeof nm, "%s.encoder.layers.%d.mlp.fc1.weight", tower, l);
        add(mc, nm, 2, I, D, 0, 0);
        snprintf(nm, sizeof nm, "%s.encoder.layers.%d.mlp.fc1.bias", tower, l);
        add(mc, nm, 1, I, 0, 0, 0);
        snprintf(nm, sizeof nm, "%s.encoder.layers.%d.mlp.fc2.weight", tower, l);
        add(mc, nm, 2, D, I, 0, 0);
        snprintf(nm, sizeof nm, "%s.encoder.layers.%d.mlp.fc2.bias", tower, l);
        add(mc, nm, 1, D, 0, 0, 0);
    }
}

/* The tensors of MICRO_CONFIG (fixtures README section 3), in this order. */
static void micro_build(micro *mc)
{
    memset(mc, 0, sizeof *mc);
    add(mc, "logit_scale", 0, 0, 0, 0, 0);
    add(mc, "text_model.embeddings.token_embedding.weight", 2, 49408, 8, 0, 0);
    add(mc, "text_model.embeddings.position_embedding.weight", 2, 16, 8, 0, 0);
    add_layers(mc, "text_model", 1, 8, 12);
    add(mc, "text_model.final_layer_norm.weight", 1, 8, 0, 0, 0);
    add(mc, "text_model.final_layer_norm.bias", 1, 8, 0, 0, 0);
    add(mc, "vision_model.embeddings.class_embedding", 1, 8, 0, 0, 0);
    add(mc, "vision_model.embeddings.patch_embedding.weight", 4, 8, 3, 16, 16);
    add(mc, "vision_model.embeddings.position_embedding.weight", 2, 5, 8, 0, 0);
    add(mc, "vision_model.pre_layrnorm.weight", 1, 8, 0, 0, 0);
    add(mc, "vision_model.pre_layrnorm.bias", 1, 8, 0, 0, 0);
    add_layers(mc, "vision_model", 2, 8, 12);
    add(mc, "vision_model.post_layernorm.weight", 1, 8, 0, 0, 0);
    add(mc, "vision_model.post_layernorm.bias", 1, 8, 0, 0, 0);
    add(mc, "visual_projection.weight", 2, 4, 8, 0, 0);
    add(mc, "text_projection.weight", 2, 4, 8, 0, 0);
}

static void micro_free(micro *mc)
{
    for (int i = 0; i < mc->n; i++) free(mc->data[i]);
}

static int micro_find(const micro *mc, const char *name)
{
    for (int i = 0; i < mc->n; i++)
        if (strcmp(mc->names[i], name) == 0) return i;
    return -1;
}

static void micro_write(const micro *mc, const char *dir)
{
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    int rc = st_write(in_dir(dir, "model.safetensors"), mc->t, mc->n, mk, mv, 1);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
}

/* The same tensors written by hand with another dtype (BF16 or F16 for names containing
 * `which`, F32 otherwise) plus an I64 position_ids buffer, as older files have. misalign:
 * pad the header so that the data starts 2 bytes off a 4-byte boundary. */
static void micro_write_raw(const micro *mc, const char *dir, const char *dt16, const char *which,
                            int misalign)
{
    size_t cap = 1 << 16, hl = 0, off = 0;
    char *h = malloc(cap);
    hl += (size_t)snprintf(h + hl, cap - hl, "{\"__metadata__\":{\"format\":\"pt\"},"
                                              "\"text_model.embeddings.position_ids\":{\"dtype\":"
                                              "\"I64\",\"shape\":[1,16],\"data_offsets\":[0,128]}");
    off = 128;
    for (int i = 0; i < mc->n; i++) {
        const st_out_tensor *t = &mc->t[i];
        int half = strstr(t->name, which) != NULL;
        size_t n = 1;
        hl += (size_t)snprintf(h + hl, cap - hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
                               half ? dt16 : "F32");
        for (int k = 0; k < t->ndim; k++) {
            hl += (size_t)snprintf(h + hl, cap - hl, "%s%lld", k ? "," : "", (long long)t->shape[k]);
            n *= (size_t)t->shape[k];
        }
        size_t nb = n * (half ? 2 : 4);
        hl += (size_t)snprintf(h + hl, cap - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    hl += (size_t)snprintf(h + hl, cap - hl, "}");
    CHECK(hl < cap - 8);
    while (hl % 8 != (misalign ? 2u : 0u)) h[hl++] = ' ';
    uint8_t *buf = malloc(8 + hl + off), *d = buf + 8 + hl;
    for (int k = 0; k < 8; k++) buf[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(buf + 8, h, hl);
    for (int64_t k = 0; k < 16; k++) memcpy(d + 8 * k, &k, 8);
    d += 128;
    for (int i = 0; i < mc->n; i++) {
        const st_out_tensor *t = &mc->t[i];
        int half = strstr(t->name, which) != NULL;
        size_t n = 1;
        for (int k = 0; k < t->ndim; k++) n *= (size_t)t->shape[k];
        for (size_t k = 0; k < n; k++) {
            uint32_t u;
            memcpy(&u, &t->data[k], 4);
            if (!half) {
                memcpy(d, &u, 4);
                d += 4;
            } else if (strcmp(dt16, "BF16") == 0) {
                uint16_t b = (uint16_t)(u >> 16); /* exact: the values have 8 significant bits */
                memcpy(d, &b, 2);
                d += 2;
            } else { /* F16 of k/128: normal numbers only, |x| >= 2^-7 or 0 */
                uint16_t b = (uint16_t)((u >> 16) & 0x8000);
                int e = (int)((u >> 23) & 0xff);
                if (e) b |= (uint16_t)((e - 112) << 10 | (u & 0x7fffff) >> 13);
                memcpy(d, &b, 2);
                d += 2;
            }
        }
    }
    write_bytes(in_dir(dir, "model.safetensors"), buf, 8 + hl + off);
    free(buf);
    free(h);
}

/* Every parameter of a loaded micro model against the generator. */
static void micro_check_all(const ae_model *m, const micro *mc, const char *dir)
{
    float *table = token_table(&m->text);
    check_token_rows(&m->text, table);
    struct { const char *name; const float *got; } plain[] = {
        {"text_model.embeddings.token_embedding.weight", table},
        {"text_model.embeddings.position_embedding.weight", m->text.position_embedding},
        {"text_model.final_layer_norm.weight", m->text.final_ln_w},
        {"text_model.final_layer_norm.bias", m->text.final_ln_b},
        {"text_model.encoder.layers.0.layer_norm1.weight", m->text.layers[0].ln1_w},
        {"text_model.encoder.layers.0.layer_norm1.bias", m->text.layers[0].ln1_b},
        {"text_model.encoder.layers.0.layer_norm2.weight", m->text.layers[0].ln2_w},
        {"text_model.encoder.layers.0.layer_norm2.bias", m->text.layers[0].ln2_b},
        {"vision_model.embeddings.class_embedding", m->vision.class_embedding},
        {"vision_model.embeddings.position_embedding.weight", m->vision.position_embedding},
        {"vision_model.pre_layrnorm.weight", m->vision.pre_ln_w},
        {"vision_model.pre_layrnorm.bias", m->vision.pre_ln_b},
        {"vision_model.post_layernorm.weight", m->vision.final_ln_w},
        {"vision_model.post_layernorm.bias", m->vision.final_ln_b},
        {"vision_model.encoder.layers.1.layer_norm1.weight", m->vision.layers[1].ln1_w},
        {"vision_model.encoder.layers.1.layer_norm2.bias", m->vision.layers[1].ln2_b},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        int k = micro_find(mc, plain[i].name);
        size_t n = 1;
        for (int d = 0; d < mc->t[k].ndim; d++) n *= (size_t)mc->t[k].shape[d];
        CHECK_MSG(plain[i].got && memcmp(plain[i].got, mc->data[k], n * sizeof(float)) == 0,
                  "%s differs", plain[i].name);
    }
    st_file st;
    CHECK_EQ_INT(st_open(&st, in_dir(dir, "model.safetensors")), AE_OK);
    double md = 0, d;
    const char *towers[] = {"text_model", "vision_model"};
    for (int tw = 0; tw < 2; tw++) {
        const clip_tower *T = tw ? &m->vision : &m->text;
        for (int l = 0; l < T->cfg.layers; l++) {
            char w[4][128], b[4][128];
            const char *parts[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
            for (int k = 0; k < 3; k++) {
                snprintf(w[k], sizeof w[k], "%s.encoder.layers.%d.%s.weight", towers[tw], l, parts[k]);
                snprintf(b[k], sizeof b[k], "%s.encoder.layers.%d.%s.bias", towers[tw], l, parts[k]);
            }
            const char *ws[] = {w[0], w[1], w[2]}, *bs[] = {b[0], b[1], b[2]};
            if ((d = check_linear(&T->layers[l].qkv, &st, 3, ws, bs)) > md) md = d;
            const char *one[] = {"self_attn.out_proj", "mlp.fc1", "mlp.fc2"};
            const nn_linear *lins[] = {&T->layers[l].out, &T->layers[l].fc1, &T->layers[l].fc2};
            for (int k = 0; k < 3; k++) {
                snprintf(w[0], sizeof w[0], "%s.encoder.layers.%d.%s.weight", towers[tw], l, one[k]);
                snprintf(b[0], sizeof b[0], "%s.encoder.layers.%d.%s.bias", towers[tw], l, one[k]);
                const char *w1[] = {w[0]}, *b1[] = {b[0]};
                if ((d = check_linear(lins[k], &st, 1, w1, b1)) > md) md = d;
            }
        }
    }
    const char *pe[] = {"vision_model.embeddings.patch_embedding.weight"},
               *tp[] = {"text_projection.weight"}, *vp[] = {"visual_projection.weight"};
    if ((d = check_linear(&m->vision.patch, &st, 1, pe, NULL)) > md) md = d;
    if ((d = check_linear(&m->text.proj, &st, 1, tp, NULL)) > md) md = d;
    if ((d = check_linear(&m->vision.proj, &st, 1, vp, NULL)) > md) md = d;
    printf("micro model: every linear layer, max rel diff %.3g\n", md);
    CHECK(md < 1e-5);
    st_close(&st);
    free(table);
}

/* The text pass's input rows (token + position embedding) as the debug hook sees them. */
typedef struct seen_rows {
    float v[16 * 8];
    int32_t rows;
} seen_rows;

static void embeddings_hook(void *arg, const char *name, const float *data, int32_t rows,
                            int32_t cols, int32_t ld)
{
    seen_rows *s = arg;
    if (strcmp(name, "text.embeddings") != 0) return;
    CHECK(cols == 8 && rows <= 16);
    if (cols != 8 || rows > 16) return;
    for (int32_t r = 0; r < rows; r++) memcpy(s->v + r * 8, data + (size_t)r * ld, 8 * sizeof(float));
    s->rows = rows;
}

/* The micro model's text tower from each of dirs (the same values stored as F32, F16 or
 * BF16): every input row of the text pass is the generator's token row + position row, bit
 * for bit, and the text embeddings (a batch with a shared prefix, one without) are the same
 * in every file. Ids repeat, adjoin (one read) and lie at both ends of the vocabulary. */
static void check_micro_text(const micro *mc, const char *const *dirs, const st_dtype *dts,
                             int n_dirs)
{
    static const int32_t a[] = {49406, 320, 321, 5, 49407}, b[] = {49406, 320, 321, 0, 0, 49407},
                         c[] = {49406, 7, 49405, 49407, 49407};
    const int32_t *ids[] = {a, b, c}, n_ids[] = {5, 6, 5};
    const float *tok = mc->data[micro_find(mc, "text_model.embeddings.token_embedding.weight")];
    const float *pos = mc->data[micro_find(mc, "text_model.embeddings.position_embedding.weight")];
    float ref[2][3 * 4], got[2][3 * 4];
    for (int k = 0; k < n_dirs; k++) {
        ae_model *m = NULL;
        ae_session *s = NULL;
        ae_session_params sp = ae_session_default_params();
        sp.n_threads = 1;
        CHECK_MSG(load(dirs[k], 1, 0, &m) == AE_OK, "%s: %s", dirs[k], ae_last_error());
        if (!m || ae_session_new(m, &sp, &s) != AE_OK) {
            CHECK(0);
            ae_model_free(m);
            continue;
        }
        CHECK(m->text.token_file.dtype == dts[k]);
        for (int i = 0; i < 3; i++) { /* one sequence at a time, as the hook wants */
            seen_rows sr = {.rows = 0};
            clip_debug_ctx = &sr;
            clip_debug_fn = embeddings_hook;
            CHECK_EQ_INT(ae_encode_tokens(s, &ids[i], &n_ids[i], 1, got[0]), AE_OK);
            clip_debug_fn = NULL;
            clip_debug_ctx = NULL;
            CHECK_EQ_INT(sr.rows, n_ids[i]);
            for (int32_t j = 0; j < sr.rows; j++)
                for (int d = 0; d < 8; d++) {
                    float want = tok[(size_t)ids[i][j] * 8 + d] + pos[j * 8 + d];
                    CHECK_MSG(memcmp(&sr.v[j * 8 + d], &want, sizeof want) == 0,
                              "%s: sequence %d, row %d, column %d: %.9g, expected %.9g", dirs[k],
                              i, (int)j, d, sr.v[j * 8 + d], want);
                }
        }
        CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 2, got[0]), AE_OK); /* prefix shared */
        CHECK_EQ_INT(ae_encode_tokens(s, ids + 2, n_ids + 2, 1, got[0] + 8), AE_OK);
        CHECK_EQ_INT(ae_encode_tokens(s, ids, n_ids, 3, got[1]), AE_OK);
        if (k == 0) memcpy(ref, got, sizeof ref);
        CHECK_MSG(memcmp(got, ref, sizeof ref) == 0, "%s: text embeddings differ from %s's",
                  dirs[k], dirs[0]);
        CHECK(got[0][0] != 0 && memcmp(got[0], got[0] + 4, 4 * sizeof(float)) != 0);
        ae_session_free(s);
        ae_model_free(m);
    }
}

static void test_micro(void)
{
    micro mc;
    micro_build(&mc);
    const char *dir = model_dir("micro", MICRO_CONFIG);
    micro_write(&mc, dir);
    ae_model *m = NULL;
    int rc = load(dir, 1, 1, &m);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
    if (m) {
        micro_check_all(m, &mc, dir);
        ae_model_info info;
        ae_model_get_info(m, &info);
        CHECK(strcmp(info.weights_dtype, "F32") == 0);
        /* no preprocessor_config.json: defaults at the vision image size */
        CHECK(info.resize_shortest_edge == 32 && info.crop_height == 32 && info.crop_width == 32);
        CHECK_EQ_INT(ae_model_pixels_size(m), 3 * 32 * 32);
        CHECK(m->pre.resample == 3 && m->pre.do_center_crop && m->pre.mean[1] == 0.4578275f);
        int64_t n = 0;
        for (int i = 0; i < mc.n; i++) {
            int64_t k = 1;
            for (int d = 0; d < mc.t[i].ndim; d++) k *= mc.t[i].shape[d];
            n += k;
        }
        CHECK_EQ_INT(info.n_params, n);
        CHECK(strcmp(info.text.hidden_act, "gelu") == 0);
        ae_model_free(m);
    }

    /* the public resolver passes directories through */
    char out[4096];
    CHECK_EQ_INT(ae_model_resolve(dir, out, sizeof out), AE_OK);
    CHECK(strcmp(out, dir) == 0);

    /* BF16 weights with an I64 position_ids buffer: loads, values exact, buffer ignored */
    const char *bdir = model_dir("micro-bf16", MICRO_CONFIG);
    micro_write_raw(&mc, bdir, "BF16", "", 0);
    m = NULL;
    rc = load(bdir, 1, 1, &m);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
    if (m) {
        ae_model_info info;
        ae_model_get_info(m, &info);
        CHECK(strcmp(info.weights_dtype, "BF16") == 0);
        micro_check_all(m, &mc, bdir);
        ae_model_info i32;
        ae_model *m32 = NULL;
        CHECK_EQ_INT(load(dir, 0, 1, &m32), AE_OK);
        ae_model_get_info(m32, &i32);
        CHECK_EQ_INT(info.n_params, i32.n_params); /* the I64 buffer is not a parameter */
        CHECK(strcmp(info.fingerprint, i32.fingerprint) != 0);
        ae_model_free(m32);
        ae_model_free(m);
    }
    /* F16 for the layer norms only: "mixed"; F32 data off 4-byte alignment */
    const char *mdir = model_dir("micro-mixed", MICRO_CONFIG);
    micro_write_raw(&mc, mdir, "F16", "layer_norm", 1);
    m = NULL;
    rc = load(mdir, 1, 1, &m);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
    if (m) {
        ae_model_info info;
        ae_model_get_info(m, &info);
        CHECK(strcmp(info.weights_dtype, "mixed") == 0);
        micro_check_all(m, &mc, mdir);
        ae_model_free(m);
    }
    /* the token embedding read by rows from F32, F16 (it alone) and BF16 (all) files */
    const char *hdir = model_dir("micro-f16-tokens", MICRO_CONFIG);
    micro_write_raw(&mc, hdir, "F16", "token_embedding", 0);
    check_micro_text(&mc, (const char *const[]){dir, hdir, bdir},
                     (const st_dtype[]){ST_F32, ST_F16, ST_BF16}, 3);

    /* one flipped byte in the weights changes the fingerprint */
    char fa[17], fb[17];
    {
        ae_model *a = NULL, *b = NULL;
        const char *fdir = model_dir("micro-flip", MICRO_CONFIG);
        micro_write(&mc, fdir);
        CHECK_EQ_INT(load(fdir, 0, 1, &a), AE_OK);
        size_t n;
        uint8_t *p = read_file(in_dir(fdir, "model.safetensors"), &n);
        p[n - 1] ^= 1; /* last byte of text_projection: not even a loaded tensor */
        write_bytes(in_dir(fdir, "model.safetensors"), p, n);
        free(p);
        CHECK_EQ_INT(load(fdir, 0, 1, &b), AE_OK);
        if (a && b) {
            ae_model_info ia, ib;
            ae_model_get_info(a, &ia);
            ae_model_get_info(b, &ib);
            memcpy(fa, ia.fingerprint, 17);
            memcpy(fb, ib.fingerprint, 17);
            CHECK_MSG(strcmp(fa, fb) != 0, "%s == %s", fa, fb);
        }
        ae_model_free(a);
        ae_model_free(b);
    }

    /* ---- broken directories ---- */
    /* a missing tensor */
    micro bad;
    micro_build(&bad);
    int k = micro_find(&bad, "text_projection.weight");
    bad.t[k] = bad.t[bad.n - 1];
    bad.n--;
    const char *d1 = model_dir("no-textproj", MICRO_CONFIG);
    micro_write(&bad, d1);
    expect_load_fail(d1, 1, 1, AE_ERR_NOT_FOUND, "model.safetensors: missing tensor text_projection.weight");
    CHECK_STR_CONTAINS(ae_last_error(), d1);
    /* ... which is not needed for the vision tower alone */
    m = NULL;
    CHECK_EQ_INT(load(d1, 0, 1, &m), AE_OK);
    ae_model_free(m);
    bad.n++;
    micro_free(&bad);

    /* a wrong shape, and a wrong rank */
    micro_build(&bad);
    k = micro_find(&bad, "vision_model.post_layernorm.weight");
    bad.t[k].shape[0] = 6;
    const char *d2 = model_dir("bad-shape", MICRO_CONFIG);
    micro_write(&bad, d2);
    expect_load_fail(d2, 0, 1, AE_ERR_MODEL,
                     "model.safetensors: tensor vision_model.post_layernorm.weight: shape [6] expected [8]");
    bad.t[k].shape[0] = 8;
    k = micro_find(&bad, "vision_model.embeddings.patch_embedding.weight");
    bad.t[k].ndim = 2;
    bad.t[k].shape[1] = 768;
    micro_write(&bad, d2);
    expect_load_fail(d2, 0, 1, AE_ERR_MODEL,
                     "tensor vision_model.embeddings.patch_embedding.weight: shape [8, 768] expected "
                     "[8, 3, 16, 16]");
    micro_free(&bad);

    /* the config says more layers than the file has */
    const char *d3 = model_dir("more-layers", "{\"projection_dim\": 4, \"vision_config\": {"
                                              "\"hidden_size\": 8, \"intermediate_size\": 12,"
                                              "\"num_hidden_layers\": 3, \"num_attention_heads\": 2,"
                                              "\"image_size\": 32, \"patch_size\": 16}}");
    micro_write(&mc, d3);
    expect_load_fail(d3, 0, 1, AE_ERR_NOT_FOUND,
                     "model.safetensors: missing tensor vision_model.encoder.layers.2.layer_norm1.weight");
    /* and the text tower of that config is the default 512-wide one */
    expect_load_fail(d3, 1, 0, AE_ERR_MODEL,
                     "tensor text_model.embeddings.token_embedding.weight: shape [49408, 8] expected "
                     "[49408, 512]");

    /* malformed config.json */
    const char *d4 = model_dir("bad-config", "{\n  \"projection_dim\": 4,\n  \"text_config\": {\n}");
    micro_write(&mc, d4);
    expect_load_fail(d4, 1, 1, AE_ERR_FORMAT, "config.json: invalid JSON at line 4");
    write_text(in_dir(d4, "config.json"), "{\"text_config\": {\"hidden_act\": \"gelu_new\"}}");
    expect_load_fail(d4, 1, 1, AE_ERR_UNSUPPORTED, "config.json: text_config.hidden_act \"gelu_new\"");
    unlink(in_dir(d4, "config.json"));
    expect_load_fail(d4, 1, 1, AE_ERR_NOT_FOUND, "config.json: No such file");

    /* truncated weights: inside the data, inside the header */
    const char *d5 = model_dir("truncated", MICRO_CONFIG);
    size_t n;
    uint8_t *raw = read_file(in_dir(dir, "model.safetensors"), &n);
    write_bytes(in_dir(d5, "model.safetensors"), raw, n / 2);
    expect_load_fail(d5, 1, 1, AE_ERR_FORMAT, "outside the data");
    CHECK_STR_CONTAINS(ae_last_error(), "model.safetensors: tensor ");
    write_bytes(in_dir(d5, "model.safetensors"), raw, 100);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    char want[128];
    snprintf(want, sizeof want, "model.safetensors: header length %llu exceeds file size 100",
             (unsigned long long)hl);
    expect_load_fail(d5, 1, 1, AE_ERR_FORMAT, want);
    write_bytes(in_dir(d5, "model.safetensors"), raw, 0);
    expect_load_fail(d5, 0, 1, AE_ERR_FORMAT, "model.safetensors: file is 0 bytes");
    free(raw);

    /* no weights at all; a pytorch_model.bin is named */
    const char *d6 = model_dir("no-weights", MICRO_CONFIG);
    expect_load_fail(d6, 1, 1, AE_ERR_NOT_FOUND, "model.safetensors: missing");
    write_text(in_dir(d6, "pytorch_model.bin"), "PK");
    expect_load_fail(d6, 1, 1, AE_ERR_NOT_FOUND, "pytorch_model.bin is there, but only safetensors");

    /* tokenizer files are needed for the text tower only */
    const char *d7 = model_dir("no-vocab", MICRO_CONFIG);
    micro_write(&mc, d7);
    unlink(in_dir(d7, "vocab.json"));
    m = NULL;
    CHECK_EQ_INT(load(d7, 0, 1, &m), AE_OK);
    ae_model_free(m);
    m = (ae_model *)1;
    CHECK(load(d7, 1, 0, &m) != AE_OK && m == NULL);
    CHECK_STR_CONTAINS(ae_last_error(), "vocab.json");

    /* preprocessor configs that disagree with the model */
    const char *d8 = model_dir("bad-preproc", MICRO_CONFIG);
    micro_write(&mc, d8);
    write_text(in_dir(d8, "preprocessor_config.json"), "{\"size\": 224, \"crop_size\": 224}");
    expect_load_fail(d8, 0, 1, AE_ERR_MODEL,
                     "preprocessor_config.json: crop_size 224x224 does not match vision_config.image_size 32");
    m = NULL;
    CHECK_EQ_INT(load(d8, 1, 0, &m), AE_OK); /* text only: the crop does not matter */
    ae_model_free(m);
    write_text(in_dir(d8, "preprocessor_config.json"), "{\"size\": 32, \"crop_size\": 32, \"resample\": 2}");
    expect_load_fail(d8, 0, 1, AE_ERR_UNSUPPORTED, "resample 2 (bilinear) is not supported");
    write_text(in_dir(d8, "preprocessor_config.json"), "{\"size\": 32, \"crop_size\": 32, \"do_center_crop\": false}");
    expect_load_fail(d8, 0, 1, AE_ERR_UNSUPPORTED, "do_center_crop false is not supported");
    write_text(in_dir(d8, "preprocessor_config.json"), "{\"size\": {\"shortest_edge\": 40}, \"crop_size\": {\"height\": 32, \"width\": 32}}");
    m = NULL;
    CHECK_EQ_INT(load(d8, 0, 1, &m), AE_OK);
    if (m) CHECK(m->pre.shortest_edge == 40 && m->pre.crop_h == 32);
    ae_model_free(m);

    /* a vocabulary smaller than the tokenizer's ids */
    const char *d9 = model_dir("small-vocab", "{\"text_config\": {\"vocab_size\": 1000, "
                                              "\"eos_token_id\": 7, \"bos_token_id\": 6}}");
    micro_write(&mc, d9);
    expect_load_fail(d9, 1, 0, AE_ERR_MODEL,
                     "config.json: text_config.vocab_size 1000 is smaller than the CLIP tokenizer's 49408");

    /* a vocabulary of another size than the tokenizer's: not the model's tokenizer */
    const char *d10 = model_dir("other-vocab", "{\"text_config\": {\"vocab_size\": 50000}}");
    micro_write(&mc, d10);
    expect_load_fail(d10, 1, 0, AE_ERR_MODEL,
                     "vocab.json has 49408 symbols but config.json's text_config.vocab_size is 50000");

    /* not a directory, not a model name */
    expect_load_fail(test_tmp("nowhere/at/all"), 1, 1, AE_ERR_INVALID, "not a directory");
    expect_load_fail("someone/not-downloaded-model-xyz", 1, 1, AE_ERR_NOT_FOUND,
                     "download it with: aesthete fetch-model someone/not-downloaded-model-xyz");
    CHECK_EQ_INT(ae_model_load(dir, NULL, NULL), AE_ERR_INVALID);
    ae_model_free(NULL);
    micro_free(&mc);
}

int main(void)
{
    test_tiny("tiny-quickgelu", 0);
    test_tiny("tiny-gelu", 1);
    test_micro();
    return test_summary();
}
