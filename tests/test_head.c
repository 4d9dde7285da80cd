/*
 * test_head.c — heads: the shipped LAION V2 (its collapsed map against the real weights'
 * expected outputs, on 16 unit vectors and on the 10 real ViT-L/14 rating embeddings);
 * heads from layers (a linear stack collapsed exactly, an MLP with ReLU); logistic heads;
 * head files (round trips, hostile metadata); the check against a model naming both; the
 * model id a head records; ae_score_images; the recipe keys shared by the CLI and server.
 */
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "aesthete.h"
#include "head.h"
#include "recipe.h"
#include "safetensors.h"

#define V2 "real/laion-v2/"

static json_t *load_json(const char *rel)
{
    char *js = read_file(fixture(rel), NULL);
    json_t *j = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    CHECK(j != NULL);
    return j;
}

static double unit_dot(const float *x, const float *w, int d)
{
    double n = 0, s = 0;
    for (int k = 0; k < d; k++) n += (double)x[k] * x[k];
    n = sqrt(n);
    for (int k = 0; k < d; k++) s += x[k] / n * w[k];
    return s;
}

/* The layers of a LAION V2 safetensors file, as ae_head_layer (pointing into *owned). */
typedef struct v2_layers {
    ae_head_layer l[5];
    float *data[10];
} v2_layers;

static int read_v2(const char *file, v2_layers *v, int relu)
{
    memset(v, 0, sizeof *v);
    st_file f;
    if (st_open(&f, fixture(file)) != AE_OK) return -1;
    static const char *lin[] = {"layers.0", "layers.2", "layers.4", "layers.6", "layers.7"};
    static const char *rel[] = {"layers.0", "layers.3", "layers.6", "layers.9", "layers.11"};
    int ok = 1;
    for (int i = 0; i < 5 && ok; i++) {
        char wn[64], bn[64];
        snprintf(wn, sizeof wn, "%s.weight", relu ? rel[i] : lin[i]);
        snprintf(bn, sizeof bn, "%s.bias", relu ? rel[i] : lin[i]);
        const st_tensor *w = st_get(&f, wn), *b = st_get(&f, bn);
        ok = w && b && w->ndim == 2;
        if (!ok) break;
        v->data[2 * i] = malloc(sizeof(float) * (size_t)w->numel);
        v->data[2 * i + 1] = malloc(sizeof(float) * (size_t)b->numel);
        st_to_f32(w, v->data[2 * i]);
        st_to_f32(b, v->data[2 * i + 1]);
        v->l[i] = (ae_head_layer){(int32_t)w->shape[1], (int32_t)w->shape[0], v->data[2 * i], v->data[2 * i + 1],
                                  relu && i < 4};
    }
    st_close(&f);
    return ok ? 0 : -1;
}

static void free_v2(v2_layers *v)
{
    for (int i = 0; i < 10; i++) free(v->data[i]);
}

/* the MLP in double, as the reference: ReLU after the first four layers if relu */
static double mlp_ref(const v2_layers *v, const float *x, int relu)
{
    double a[1024], b[1024], n = 0;
    for (int k = 0; k < 768; k++) n += (double)x[k] * x[k];
    n = sqrt(n);
    for (int k = 0; k < 768; k++) a[k] = x[k] / n;
    for (int i = 0; i < 5; i++) {
        const ae_head_layer *L = &v->l[i];
        for (int o = 0; o < L->out; o++) {
            double s = L->bias[o];
            for (int k = 0; k < L->in; k++) s += a[k] * L->weight[(size_t)o * L->in + k];
            b[o] = relu && i < 4 && s < 0 ? 0 : s;
        }
        memcpy(a, b, sizeof(double) * (size_t)L->out);
    }
    return a[0];
}

static void test_laion_v2(void)
{
    float *x = fixture_f32(V2 "inputs.f32", 16 * 768);
    float *l14 = fixture_f32("real/laion-vit-l-14-rating-embeddings.f32", 10 * 768);
    json_t *ex = load_json(V2 "expected.json"), *ex14 = load_json("real/expected-l14-scores.json");
    if (!x || !l14 || !ex || !ex14) goto done;
    json_t *lin = json_object_get(json_object_get(ex, "variants"), "sac+logos+ava1-l14-linearMSE");
    json_t *relu = json_object_get(json_object_get(ex, "variants"), "ava+logos-l14-reluMSE");
    json_t *want_lin = json_object_get(lin, "expected_float64"), *want_relu = json_object_get(relu, "expected_float64");
    CHECK_EQ_INT(json_array_size(want_lin), 16);
    CHECK_EQ_INT(json_array_size(want_relu), 16);

    /* the shipped head */
    ae_head *h = NULL;
    CHECK_EQ_INT(ae_head_laion("v2-vit-l-14", NULL, &h), AE_OK);
    ae_score sc[16];
    CHECK_EQ_INT(ae_head_score(h, x, 16, sc), AE_OK);
    double worst = 0;
    for (int i = 0; i < 16; i++) {
        double d = fabs(sc[i].score - json_real_value(json_array_get(want_lin, (size_t)i)));
        worst = d > worst ? d : worst;
        CHECK(isnan(sc[i].probability) && isnan(sc[i].cos_pos) && sc[i].class_index == -1);
        CHECK_EQ_INT(sc[i].good, sc[i].score >= 5.0f);
    }
    CHECK_MSG(worst <= 1e-5, "shipped V2 vs expected.json: %g", worst);
    printf("laion v2 (shipped map) vs expected.json: max |diff| %.2e\n", worst);
    ae_head_info hi;
    ae_head_get_info(h, &hi);
    CHECK_EQ_INT(hi.kind, AE_HEAD_LINEAR);
    CHECK_EQ_INT(hi.method, AE_METHOD_LAION_V2);
    CHECK(!strcmp(hi.name, "laion-v2") && !strcmp(hi.laion_head, "v2-vit-l-14"));
    CHECK(!strcmp(hi.model_id, "openai/clip-vit-large-patch14") && !strcmp(hi.license, "Apache-2.0"));
    CHECK_STR_CONTAINS(hi.provenance, "improved-aesthetic-predictor@6934dd8");

    /* the 10 real L/14 rating embeddings: V1 L/14 and V2 both */
    ae_head *v1 = NULL;
    CHECK_EQ_INT(ae_head_laion("vit-l-14", NULL, &v1), AE_OK);
    ae_score s1[10], s2[10];
    CHECK_EQ_INT(ae_head_score(v1, l14, 10, s1), AE_OK);
    CHECK_EQ_INT(ae_head_score(h, l14, 10, s2), AE_OK);
    json_t *rows = json_object_get(ex14, "rows");
    CHECK_EQ_INT(json_array_size(rows), 10);
    double w1 = 0, w2 = 0;
    for (int i = 0; i < 10; i++) {
        json_t *r = json_array_get(rows, (size_t)i);
        w1 = fmax(w1, fabs(s1[i].score - json_real_value(json_object_get(r, "laion_v1_vit_l_14"))));
        w2 = fmax(w2, fabs(s2[i].score - json_real_value(json_object_get(r, "laion_v2_linearMSE"))));
        if (i) CHECK(s2[i].score > s2[i - 1].score); /* V2 rises with the rating bucket */
    }
    CHECK_MSG(w1 <= 1e-5 && w2 <= 1e-5, "L/14 rating vectors: V1 %g, V2 %g", w1, w2);
    printf("real L/14 rating vectors: V1 max |diff| %.2e, V2 %.2e\n", w1, w2);
    ae_head_free(v1);

    /* the same stack from its layers collapses into the same map, equal to the MLP */
    v2_layers v;
    CHECK_EQ_INT(read_v2(V2 "sac+logos+ava1-l14-linearMSE.safetensors", &v, 0), 0);
    ae_head *c = NULL;
    ae_head_params hp = ae_head_default_params();
    hp.method = AE_METHOD_LAION_V2;
    CHECK_EQ_INT(ae_head_from_layers(v.l, 5, &hp, &c), AE_OK);
    if (c) {
        CHECK_EQ_INT(c->kind, AE_HEAD_LINEAR);
        double dw = 0, dm = 0;
        for (int k = 0; k < 768; k++) dw = fmax(dw, fabs(c->weight[k] - h->weight[k]));
        CHECK_MSG(dw == 0 && c->bias == h->bias, "collapsed at load vs shipped: max |dw| %g", dw);
        for (int i = 0; i < 16; i++)
            dm = fmax(dm, fabs(unit_dot(x + i * 768, c->weight, 768) + c->bias - mlp_ref(&v, x + i * 768, 0)));
        CHECK_MSG(dm <= 1e-6, "collapsed map vs the MLP: %g", dm);
        printf("collapsed map vs the 5-layer MLP (double): max |diff| %.2e\n", dm);
    }
    ae_head_free(c);
    free_v2(&v);

    /* the ReLU variant stays an MLP */
    CHECK_EQ_INT(read_v2(V2 "ava+logos-l14-reluMSE.safetensors", &v, 1), 0);
    CHECK_EQ_INT(ae_head_from_layers(v.l, 5, &hp, &c), AE_OK);
    if (c) {
        CHECK_EQ_INT(c->kind, AE_HEAD_MLP);
        CHECK_EQ_INT(c->n_layers, 5);
        CHECK_EQ_INT(ae_head_score(c, x, 16, sc), AE_OK);
        double dr = 0, dref = 0;
        for (int i = 0; i < 16; i++) {
            dr = fmax(dr, fabs(sc[i].score - json_real_value(json_array_get(want_relu, (size_t)i))));
            dref = fmax(dref, fabs(sc[i].score - mlp_ref(&v, x + i * 768, 1)));
        }
        CHECK_MSG(dr <= 1e-5 && dref <= 1e-5, "reluMSE: vs expected %g, vs reference %g", dr, dref);
        printf("reluMSE MLP vs expected.json: max |diff| %.2e\n", dr);

        /* a file round trip keeps every score exactly */
        char *path = test_tmp("relu.head");
        CHECK_EQ_INT(ae_head_save(c, path), AE_OK);
        ae_head *back = NULL;
        CHECK_EQ_INT(ae_head_load(path, &back), AE_OK);
        ae_score sb[16];
        CHECK(back && ae_head_score(back, x, 16, sb) == AE_OK);
        int same = 1;
        for (int i = 0; back && i < 16; i++) same &= sb[i].score == sc[i].score;
        CHECK(same);
        if (back) CHECK(back->kind == AE_HEAD_MLP && back->layers[3].relu && !back->layers[4].relu);
        ae_head_free(back);
    }
    ae_head_free(c);
    free_v2(&v);
    ae_head_free(h);
done:
    free(x), free(l14);
    json_decref(ex), json_decref(ex14);
}

/* small hand-made stacks: collapse, shape checks, logistic heads, file round trips */
static void test_layers(void)
{
    /* 3 -> 2 -> 1, no activation: w = [1 2] . [[1 0 1], [0 1 -1]] = [1 2 -1], b = 1*0.5 + 2*-1 + 3 */
    const float w0[] = {1, 0, 1, 0, 1, -1}, b0[] = {0.5f, -1}, w1[] = {1, 2}, b1[] = {3};
    ae_head_layer l[2] = {{3, 2, w0, b0, 0}, {2, 1, w1, b1, 0}};
    ae_head_params hp = ae_head_default_params();
    hp.normalize = 0;
    hp.name = "toy";
    hp.cut = 2.0f;
    hp.model_id = "acme/clip";
    hp.license = "CC0";
    ae_head *h = NULL;
    CHECK_EQ_INT(ae_head_from_layers(l, 2, &hp, &h), AE_OK);
    if (h) {
        CHECK_EQ_INT(h->kind, AE_HEAD_LINEAR);
        CHECK(h->weight[0] == 1 && h->weight[1] == 2 && h->weight[2] == -1 && h->bias == 1.5f);
        const float e[] = {1, 1, 1, 0, 0, 1};
        ae_score s[2];
        CHECK_EQ_INT(ae_head_score(h, e, 2, s), AE_OK);
        CHECK(s[0].score == 3.5f && s[0].good == 1 && isnan(s[0].probability));
        CHECK(s[1].score == 0.5f && s[1].good == 0);
        char *path = test_tmp("toy.head");
        CHECK_EQ_INT(ae_head_save(h, path), AE_OK);
        ae_head *b = NULL;
        CHECK_EQ_INT(ae_head_load(path, &b), AE_OK);
        if (b) {
            ae_head_info i;
            ae_head_get_info(b, &i);
            CHECK(i.kind == AE_HEAD_LINEAR && i.method == AE_METHOD_HEAD && i.n_layers == 1 && !i.normalize);
            CHECK(!strcmp(i.name, "toy") && !strcmp(i.model_id, "acme/clip") && !strcmp(i.license, "CC0"));
            CHECK(i.cut == 2.0f && !i.logistic && !strcmp(i.precision, ""));
            ae_score t[2];
            CHECK(ae_head_score(b, e, 2, t) == AE_OK && t[0].score == s[0].score && t[1].good == 0);
        }
        ae_head_free(b);
    }
    ae_head_free(h);

    /* logistic: probability = sigmoid(score), cut 0 */
    const float lw[] = {2, -2}, lb[] = {0.25f};
    ae_head_layer ll = {2, 1, lw, lb, 0};
    hp = ae_head_default_params();
    hp.logistic = 1;
    hp.cut = 0;
    CHECK_EQ_INT(ae_head_from_layers(&ll, 1, &hp, &h), AE_OK);
    if (h) {
        const float e[] = {3, 4};                      /* unit: 0.6, 0.8 -> 1.2 - 1.6 + 0.25 */
        ae_score s;
        CHECK_EQ_INT(ae_head_score(h, e, 1, &s), AE_OK);
        CHECK_NEAR(s.score, -0.15, 1e-6);
        CHECK_NEAR(s.probability, 1 / (1 + exp(0.15)), 1e-6);
        CHECK_EQ_INT(s.good, 0);
        ae_head_info i;
        ae_head_get_info(h, &i);
        CHECK(!strcmp(i.name, "head") && i.normalize && i.logistic);
    }
    ae_head_free(h);

    /* shapes and values that cannot make a score */
    ae_head_layer bad[2] = {{3, 2, w0, b0, 1}, {3, 1, w1, b1, 0}};
    CHECK_EQ_INT(ae_head_from_layers(bad, 2, NULL, &h), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "head layer 1 takes 3 inputs but layer 0 gives 2");
    CHECK(h == NULL);
    ae_head_layer two = {3, 2, w0, b0, 0};
    CHECK_EQ_INT(ae_head_from_layers(&two, 1, NULL, &h), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "the last head layer gives 2 outputs");
    const float nanw[] = {NAN, 1, 1};
    ae_head_layer nl = {3, 1, nanw, NULL, 0};
    CHECK_EQ_INT(ae_head_from_layers(&nl, 1, NULL, &h), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "non-finite weights");
    CHECK_EQ_INT(ae_head_from_layers(l, 0, NULL, &h), AE_ERR_FORMAT);
    hp = ae_head_default_params();
    hp.method = AE_METHOD_FIXED;
    CHECK_EQ_INT(ae_head_from_layers(l, 2, &hp, &h), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "laion, laion-v2 or head, not fixed");
}

/* a head file with one metadata value replaced */
static void write_head(const char *path, const char *key, const char *val, int relu_layers)
{
    float w0[6] = {1, 0, 1, 0, 1, -1}, b0[2] = {0, 0}, w1[2] = {1, 1}, b1[1] = {0};
    st_out_tensor t[4] = {
        {.name = "layers.0.weight", .ndim = 2, .shape = {2, 3}, .data = w0},
        {.name = "layers.0.bias", .ndim = 1, .shape = {2}, .data = b0},
        {.name = "layers.1.weight", .ndim = 2, .shape = {1, 2}, .data = w1},
        {.name = "layers.1.bias", .ndim = 1, .shape = {1}, .data = b1},
    };
    const char *keys[] = {"format", "kind", "method", "name", "dim", "layers", "relu", "cut", "normalize"};
    const char *vals[] = {"aesthete-head/1", "mlp", "head", "x", "3", "2", "[1,0]", "5", "1"};
    for (int i = 0; i < 9; i++)
        if (!strcmp(keys[i], key)) vals[i] = val;
    CHECK_EQ_INT(st_write(path, t, relu_layers ? 4 : 3, keys, vals, 9), AE_OK);
}

static void test_hostile_files(void)
{
    char *path = test_tmp("hostile.head");
    ae_head *h = NULL;
    write_head(path, "", "", 1);
    CHECK_EQ_INT(ae_head_load(path, &h), AE_OK); /* the unmodified file is fine */
    CHECK(h && h->kind == AE_HEAD_MLP && h->layers[0].relu);
    ae_head_free(h);
    static const struct {
        const char *key, *val, *msg;
    } cases[] = {
        {"kind", "conv", "unknown head kind \"conv\""},
        {"relu", "[1]", "metadata \"relu\" is not an array of 2 flags"},
        {"relu", "yes", "metadata \"relu\" is not an array of 2 flags"},
        {"relu", "[\"a\",0]", "\"relu\" flag 0 is not 0 or 1"},
        {"cut", "nan", "metadata cut \"nan\" is not a number"},
        {"cut", "", "metadata cut \"\" is not a number"},
        {"layers", "99", "metadata layers \"99\" is not an integer in 1..16"},
        {"layers", "3", "metadata \"relu\" is not an array of 3 flags"},
        {"dim", "4", "tensor layers.0.weight has the wrong shape"},
        {"dim", "-1", "metadata dim \"-1\" is not an integer"},
        {"method", "context", "a linear or MLP head of prompt method context"},
        {"method", "magic", "unknown method \"magic\""},
        {"format", "aesthete-head/9", "not an aesthete head or prompt bank"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_head(path, cases[i].key, cases[i].val, 1);
        int rc = ae_head_load(path, &h);
        CHECK_MSG(rc == AE_ERR_FORMAT && h == NULL, "%s=%s: rc %d", cases[i].key, cases[i].val, rc);
        CHECK_STR_CONTAINS(ae_last_error(), cases[i].msg);
        CHECK_STR_CONTAINS(ae_last_error(), path);
    }
    write_head(path, "", "", 0); /* layers.1.bias missing */
    CHECK_EQ_INT(ae_head_load(path, &h), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "missing tensor layers.1.bias");
}

/* the model a head is for, and the id models give themselves */
static void test_models(void)
{
    char tiny[4200];
    snprintf(tiny, sizeof tiny, "%s", fixture("models/tiny-quickgelu"));
    ae_model_params mp = ae_model_default_params();
    mp.load_text = mp.load_vision = 0;
    ae_model *m = NULL, *r = NULL;
    CHECK_EQ_INT(ae_model_load(tiny, &mp, &m), AE_OK);
    if (!m) return;
    ae_model_info mi, ri;
    ae_model_get_info(m, &mi);
    CHECK(!strcmp(mi.id, "tiny-quickgelu")); /* a folder without a repo id: its name */

    /* config.json's _name_or_path when it is a repo id (a local path there is not) */
    static const char *files[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                                  "preprocessor_config.json"};
    char dir[4400], link[4600], target[4600], cmd[9000];
    snprintf(dir, sizeof dir, "%s/named", test_tmpdir());
    mkdir(dir, 0755);
    for (int i = 1; i < 5; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, files[i]);
        snprintf(target, sizeof target, "%s/%s", tiny, files[i]);
        CHECK(symlink(target, link) == 0);
    }
    const char *ids[][2] = {{"acme/tiny-clip", "acme/tiny-clip"}, {"/home/me/models/x", "named"}};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "sed 's#^{#{\"_name_or_path\": \"%s\",#' '%s/config.json' > '%s/config.json'",
                 ids[k][0], tiny, dir);
        CHECK(system(cmd) == 0);
        CHECK_EQ_INT(ae_model_load(dir, &mp, &r), AE_OK);
        ae_model_get_info(r, &ri);
        if (r) CHECK_MSG(!strcmp(ri.id, ids[k][1]), "id %s, expected %s", ri.id, ids[k][1]);
        ae_model_free(r);
        r = NULL;
    }

    /* a head for another model is refused naming both */
    ae_head *h = NULL;
    CHECK_EQ_INT(ae_head_laion("v2-vit-l-14", m, &h), AE_ERR_MODEL);
    CHECK_STR_CONTAINS(ae_last_error(), "made for openai/clip-vit-large-patch14 (768-dimensional embeddings)");
    CHECK_STR_CONTAINS(ae_last_error(), "the model tiny-quickgelu has 40");
    CHECK(h == NULL);
    CHECK_EQ_INT(ae_head_laion(NULL, m, &h), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "no LAION aesthetic head for this model (tiny-quickgelu: embed dim 40");
    /* the same dimension but another architecture */
    float w[40] = {1}, b = 0;
    ae_head_layer l = {40, 1, w, &b, 0};
    ae_head_params hp = ae_head_default_params();
    hp.name = "probe", hp.model_id = "acme/clip-b16", hp.patch_size = 16, hp.vision_width = 96;
    CHECK_EQ_INT(ae_head_from_layers(&l, 1, &hp, &h), AE_OK);
    CHECK_EQ_INT(ae_head_check_model(h, m), AE_ERR_MODEL);
    CHECK_STR_CONTAINS(ae_last_error(), "the head probe was made for acme/clip-b16 (patch 16, vision width 96), not "
                                        "for tiny-quickgelu (patch 32, vision width 96)");
    ae_head_free(h);
    hp.patch_size = 32, hp.fingerprint = "0123456789abcdef";
    CHECK_EQ_INT(ae_head_from_layers(&l, 1, &hp, &h), AE_OK);
    CHECK_EQ_INT(ae_head_check_model(h, m), AE_ERR_MODEL);
    CHECK_STR_CONTAINS(ae_last_error(), "made with model acme/clip-b16 (fingerprint 0123456789abcdef), not with "
                                        "tiny-quickgelu");
    CHECK_STR_CONTAINS(ae_last_error(), "train it again with this model");
    ae_head_free(h);
    hp.fingerprint = mi.fingerprint;
    CHECK_EQ_INT(ae_head_from_layers(&l, 1, &hp, &h), AE_OK);
    CHECK_EQ_INT(ae_head_check_model(h, m), AE_OK);
    ae_head_free(h);

    /* a Hugging Face cache snapshot: its repo, by name and by folder */
    char snap[4400];
    snprintf(snap, sizeof snap, "%s/hub/models--acme--clip-x/snapshots/0123abcd0123abcd0123abcd0123abcd0123abcd", test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", snap);
    CHECK(system(cmd) == 0);
    for (int i = 0; i < 5; i++) {
        snprintf(link, sizeof link, "%s/%s", snap, files[i]);
        snprintf(target, sizeof target, "%s/%s", tiny, files[i]);
        if (access(target, F_OK) == 0) CHECK(symlink(target, link) == 0);
    }
    snprintf(link, sizeof link, "%s/hub/models--acme--clip-x/refs", test_tmpdir());
    mkdir(link, 0755);
    snprintf(link, sizeof link, "%s/hub/models--acme--clip-x/refs/main", test_tmpdir());
    FILE *f = fopen(link, "w");
    if (f) fputs("0123abcd0123abcd0123abcd0123abcd0123abcd", f), fclose(f);
    snprintf(link, sizeof link, "%s/hub", test_tmpdir());
    setenv("HF_HUB_CACHE", link, 1);
    ae_model *c = NULL;
    CHECK_EQ_INT(ae_model_load("acme/clip-x@main", &mp, &c), AE_OK);
    ae_model_info ci;
    ae_model_get_info(c, &ci);
    if (c) CHECK_MSG(!strcmp(ci.id, "acme/clip-x") && strstr(ci.dir, "0123abcd"), "id %s", ci.id);
    ae_model_free(c);
    CHECK_EQ_INT(ae_model_load(snap, &mp, &c), AE_OK);
    ae_model_get_info(c, &ci);
    if (c) CHECK_MSG(!strcmp(ci.id, "acme/clip-x"), "id %s", ci.id);
    ae_model_free(c);
    unsetenv("HF_HUB_CACHE");
    ae_model_free(m);
}

/* ae_score_images = ae_encode_images + ae_head_score; banks record the model's id */
static void test_score_images(void)
{
    char tiny[4200];
    snprintf(tiny, sizeof tiny, "%s", fixture("models/tiny-quickgelu"));
    ae_model *m = NULL;
    ae_session *s = NULL;
    CHECK_EQ_INT(ae_model_load(tiny, NULL, &m), AE_OK);
    CHECK(m && ae_session_new(m, NULL, &s) == AE_OK);
    if (!s) return;
    ae_bank_params bp = ae_bank_default_params();
    ae_head *h = NULL;
    CHECK_EQ_INT(ae_bank_build(s, &bp, NULL, NULL, &h), AE_OK);
    ae_head_info hi;
    ae_head_get_info(h, &hi);
    CHECK(!strcmp(hi.model_id, "tiny-quickgelu") && !strcmp(hi.name, "fixed") && hi.kind == AE_HEAD_PROMPTS);
    CHECK(isnan(hi.cut) && hi.n_layers == 0);
    const char *photos[] = {"images/photo_rocket.jpg", "images/photo_boats.jpg", "images/photo_astronaut.png"};
    size_t px = ae_model_pixels_size(m);
    int32_t dim = ae_model_embed_dim(m);
    float *pix = malloc(sizeof(float) * px * 3), *e1 = malloc(sizeof(float) * (size_t)dim * 3),
          *e2 = malloc(sizeof(float) * (size_t)dim * 3);
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        ae_image img;
        ok &= ae_image_load(fixture(photos[i]), NULL, &img) == AE_OK;
        if (ok) ok &= ae_preprocess(m, &img, pix + px * i, NULL) == AE_OK, ae_image_free(&img);
    }
    CHECK(ok);
    ae_score a[3], b[3];
    CHECK_EQ_INT(ae_score_images(s, h, pix, 3, a, e1), AE_OK);
    CHECK_EQ_INT(ae_encode_images(s, pix, 3, e2), AE_OK);
    CHECK_EQ_INT(ae_head_score(h, e2, 3, b), AE_OK);
    int same = memcmp(e1, e2, sizeof(float) * (size_t)dim * 3) == 0;
    for (int i = 0; i < 3; i++) same &= a[i].score == b[i].score && a[i].good == b[i].good;
    CHECK(same);
    CHECK_EQ_INT(ae_score_images(s, h, pix, 3, a, NULL), AE_OK); /* no embeddings kept */
    CHECK(a[2].score == b[2].score);
    /* a head of another model is refused before any work */
    ae_head *v2 = NULL;
    CHECK_EQ_INT(ae_head_laion("v2-vit-l-14", NULL, &v2), AE_OK);
    CHECK_EQ_INT(ae_score_images(s, v2, pix, 3, a, NULL), AE_ERR_MODEL);
    CHECK_EQ_INT(ae_score_images(s, h, NULL, 3, a, NULL), AE_ERR_INVALID);
    ae_head_free(v2);
    free(pix), free(e1), free(e2);
    ae_head_free(h);
    ae_session_free(s);
    ae_model_free(m);
}

/* options resolved to their defaults before hashing: one key per head */
static void test_recipe_keys(void)
{
    char tiny[4200], gelu[4200];
    snprintf(tiny, sizeof tiny, "%s", fixture("models/tiny-quickgelu"));
    snprintf(gelu, sizeof gelu, "%s", fixture("models/tiny-gelu"));
    ae_model_params mp = ae_model_default_params();
    mp.load_text = mp.load_vision = 0;
    ae_model *m = NULL, *g = NULL;
    CHECK_EQ_INT(ae_model_load(tiny, &mp, &m), AE_OK);
    CHECK_EQ_INT(ae_model_load(gelu, &mp, &g), AE_OK);
    if (!m || !g) return;
    ae_recipe a, b;
    ae_bank_params bp = ae_bank_default_params();
    CHECK_EQ_INT(ae_recipe_init(&a, &bp, NULL, m), AE_OK);
    bp.template_text = AE_DEFAULT_TEMPLATE_FIXED, bp.positive = "outstanding", bp.negative = "horrible";
    bp.normalize_prompts = 1; /* ensemble only: ignored by fixed */
    CHECK_EQ_INT(ae_recipe_init(&b, &bp, NULL, m), AE_OK);
    CHECK(!strcmp(a.key, b.key) && strlen(a.key) == 64);
    CHECK(!strcmp(b.bp.template_text, AE_DEFAULT_TEMPLATE_FIXED) && b.bp.normalize_prompts == 0);
    ae_recipe_free(&b);
    bp.negative = "bad";
    CHECK_EQ_INT(ae_recipe_init(&b, &bp, NULL, m), AE_OK);
    CHECK(strcmp(a.key, b.key) != 0);
    ae_recipe_free(&b);
    CHECK_EQ_INT(ae_recipe_init(&b, NULL, NULL, g), AE_OK); /* another model, another key */
    CHECK(strcmp(a.key, b.key) != 0);
    ae_recipe_free(&b);
    ae_recipe_free(&a);

    /* a class list: its names decide, not its file's format; ImageNet by default */
    const char *names[] = {"lobby", "pool"};
    ae_classlist c1 = {0}, c2 = {0}, c3 = {0};
    CHECK_EQ_INT(ae_classlist_from_strings(names, 2, "list", NULL, &c1), AE_OK);
    CHECK_EQ_INT(ae_classlist_parse("name\nlobby\npool\n", 16, "rooms.csv", NULL, &c2), AE_OK);
    bp = ae_bank_default_params();
    bp.method = AE_METHOD_ENSEMBLE;
    CHECK_EQ_INT(ae_recipe_init(&a, &bp, &c1, m), AE_OK);
    CHECK(c1.n == 0 && a.bp.n_classes == 2 && !strcmp(a.bp.template_text, AE_DEFAULT_TEMPLATE_CLASS));
    ae_classlist_params cp = ae_classlist_default_params();
    cp.header = 1;
    ae_classlist_free(&c2);
    CHECK_EQ_INT(ae_classlist_parse("name\nlobby\npool\n", 16, "rooms.csv", &cp, &c2), AE_OK);
    CHECK_EQ_INT(ae_recipe_init(&b, &bp, &c2, m), AE_OK);
    CHECK(!strcmp(a.key, b.key));
    ae_recipe_free(&b);
    CHECK_EQ_INT(ae_recipe_init(&b, &bp, NULL, m), AE_OK);
    CHECK(b.bp.n_classes == 1000 && strcmp(a.key, b.key) != 0);
    ae_recipe_free(&b);
    ae_recipe_free(&a);
    /* a class list for fixed is refused; LAION on a model without a head names it */
    CHECK_EQ_INT(ae_classlist_from_strings(names, 2, "list", NULL, &c3), AE_OK);
    bp.method = AE_METHOD_FIXED;
    CHECK_EQ_INT(ae_recipe_init(&a, &bp, &c3, m), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "context and ensemble methods only");
    ae_recipe_free(&a);
    bp.method = AE_METHOD_LAION;
    CHECK_EQ_INT(ae_recipe_init(&a, &bp, NULL, m), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "no LAION aesthetic head for this model (tiny-quickgelu");
    ae_recipe_free(&a);
    ae_model_free(m);
    ae_model_free(g);
}

/* ae_head_import: the published LAION V2 checkpoints as they are, .pth and .safetensors */
static void test_import(void)
{
    float *x = fixture_f32(V2 "inputs.f32", 16 * 768);
    json_t *ex = load_json(V2 "expected.json");
    if (!x || !ex) goto done;
    static const char *variants[] = {"sac+logos+ava1-l14-linearMSE", "ava+logos-l14-reluMSE"};
    static const char *exts[] = {".pth", ".safetensors"};
    for (int v = 0; v < 2; v++) {
        json_t *want = json_object_get(json_object_get(json_object_get(ex, "variants"), variants[v]), "expected_float64");
        for (int e = 0; e < 2; e++) {
            char rel[256];
            snprintf(rel, sizeof rel, V2 "%s%s", variants[v], exts[e]);
            ae_head *h = NULL;
            ae_head_params hp = ae_head_default_params();
            hp.model_id = "openai/clip-vit-large-patch14";
            CHECK_EQ_INT(ae_head_import(fixture(rel), &hp, &h), AE_OK);
            if (!h) continue;
            CHECK_EQ_INT(h->kind, v == 0 ? AE_HEAD_LINEAR : AE_HEAD_MLP); /* relu told by the key names */
            ae_score sc[16];
            CHECK_EQ_INT(ae_head_score(h, x, 16, sc), AE_OK);
            double worst = 0;
            for (int i = 0; i < 16; i++)
                worst = fmax(worst, fabs(sc[i].score - json_real_value(json_array_get(want, (size_t)i))));
            CHECK_MSG(worst <= 1e-5, "%s: %g", rel, worst);
            printf("head import %s%s: max |diff| to expected.json %.2e\n", variants[v], exts[e], worst);
            ae_head_info hi;
            ae_head_get_info(h, &hi);
            CHECK(!strcmp(hi.name, variants[v]) && !strcmp(hi.model_id, "openai/clip-vit-large-patch14"));
            if (e == 1) /* the converter's metadata is kept */
                CHECK(!strcmp(hi.license, "Apache-2.0") && strstr(hi.provenance, "improved-aesthetic-predictor"));
            else
                CHECK(!strcmp(hi.provenance, "sac+logos+ava1-l14-linearMSE.pth") || v == 1);
            ae_head_free(h);
        }
    }
    /* relu said explicitly overrides the key names; a stack of unknown layout must be told */
    ae_head *h = NULL;
    ae_head_params hp = ae_head_default_params();
    hp.relu = 1;
    CHECK_EQ_INT(ae_head_import(fixture(V2 "sac+logos+ava1-l14-linearMSE.pth"), &hp, &h), AE_OK);
    CHECK(h && h->kind == AE_HEAD_MLP);
    ae_head_free(h);

    float w0[6] = {1, 0, 1, 0, 1, -1}, b0[2] = {0, 0}, w1[2] = {1, 1}, b1[1] = {0};
    st_out_tensor t[5] = {
        {.name = "net.1.weight", .ndim = 2, .shape = {2, 3}, .data = w0},
        {.name = "net.1.bias", .ndim = 1, .shape = {2}, .data = b0},
        {.name = "net.4.weight", .ndim = 2, .shape = {1, 2}, .data = w1},
        {.name = "net.4.bias", .ndim = 1, .shape = {1}, .data = b1},
        {.name = "norm.running_mean", .ndim = 1, .shape = {2}, .data = b0},
    };
    char *path = test_tmp("stack.safetensors");
    CHECK_EQ_INT(st_write(path, t, 4, NULL, NULL, 0), AE_OK);
    CHECK_EQ_INT(ae_head_import(path, NULL, &h), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "2 layers (indices 1 4): whether a ReLU sits between them is not in the file");
    hp = ae_head_default_params();
    hp.relu = 0;
    hp.normalize = 0;
    CHECK_EQ_INT(ae_head_import(path, &hp, &h), AE_OK);
    if (h) {
        const float e[3] = {1, 2, 3};
        ae_score sc;
        CHECK(ae_head_score(h, e, 1, &sc) == AE_OK && sc.score == 3.0f && h->kind == AE_HEAD_LINEAR);
        CHECK(!strcmp(h->name, "stack"));
    }
    ae_head_free(h);
    CHECK_EQ_INT(st_write(path, t, 5, NULL, NULL, 0), AE_OK); /* a tensor of no linear layer */
    CHECK_EQ_INT(ae_head_import(path, &hp, &h), AE_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(ae_last_error(), "tensor norm.running_mean is not part of a stack of linear layers");
    t[2].name = "other.4.weight";
    CHECK_EQ_INT(st_write(path, t, 4, NULL, NULL, 0), AE_OK);
    CHECK_EQ_INT(ae_head_import(path, &hp, &h), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "is not a layer of one stack");
    CHECK_EQ_INT(ae_head_import(fixture("models/tiny-gelu/config.json"), NULL, &h), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "config.json");
    CHECK(h == NULL);
done:
    free(x);
    json_decref(ex);
}

int main(void)
{
    test_laion_v2();
    test_layers();
    test_hostile_files();
    test_import();
    test_models();
    test_score_images();
    test_recipe_keys();
    return test_summary();
}
