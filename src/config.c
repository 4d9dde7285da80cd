/*
 * config.c — reading a model's config.json (Hugging Face CLIPConfig) and
 * preprocessor_config.json (CLIPImageProcessor, or the older CLIPFeatureExtractor form).
 *
 * config.json holds "text_config" and "vision_config" objects and a top-level
 * "projection_dim". Keys that are missing or null take the defaults of transformers'
 * CLIPTextConfig / CLIPVisionConfig / CLIPConfig. Configs written by transformers 4.16-4.20
 * may also carry "text_config_dict" / "vision_config_dict"; as in transformers, their keys
 * override those of "text_config" / "vision_config". Extra keys (the many generation
 * defaults of old configs, a stray "projection_dim" inside vision_config) are ignored.
 *
 * Token ids: every CLIP checkpoint uses the tokenizer's <|startoftext|> 49406 and
 * <|endoftext|> 49407, and transformers pools text features at the first 49407. Configs
 * saved before transformers 4.31 say "bos_token_id": 0 and "eos_token_id": 2 (the
 * PretrainedConfig defaults, never used by CLIP); we store 49406 / 49407 for those values so
 * that the config always describes what the model really does.
 *
 * Everything is validated before use (positive sizes within sane bounds, hidden divisible by
 * heads, image divisible by patch); messages read "config.json: text_config.hidden_size 0 is
 * not in [1, 16384]".
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "fileio.h"

const char *ae_act_name(ae_act a)
{
    return a == AE_ACT_GELU ? "gelu" : "quick_gelu";
}

/* ---- typed lookups: a missing or null key keeps the default ---------------------------- */

/* A section of the config: up to two objects, the first one wins (for *_config_dict). */
typedef struct section {
    const char *label, *name; /* "config.json", "text_config" */
    const json_t *obj[2];
} section;

static const json_t *sec_get(const section *s, const char *key)
{
    for (int i = 0; i < 2; i++) {
        const json_t *v = s->obj[i] ? json_object_get(s->obj[i], key) : NULL;
        if (v && !json_is_null(v)) return v;
    }
    return NULL;
}

/* "text_config." or "" for the top level, for messages */
static const char *dot(const section *s) { return s->name[0] ? "." : ""; }

static int get_int(const section *s, const char *key, int64_t lo, int64_t hi, int32_t *out)
{
    const json_t *v = sec_get(s, key);
    if (!v) return AE_OK;
    double d;
    if (json_is_integer(v)) d = (double)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        d = json_real_value(v); /* 224.0 */
    else
        return ae_fail(AE_ERR_FORMAT, "%s: %s%s%s is not an integer", s->label, s->name, dot(s),
                       key);
    if (!(d >= (double)lo && d <= (double)hi))
        return ae_fail(AE_ERR_FORMAT, "%s: %s%s%s %.0f is not in [%lld, %lld]", s->label,
                       s->name, dot(s), key, d, (long long)lo, (long long)hi);
    *out = (int32_t)d;
    return AE_OK;
}

static int get_num(const section *s, const char *key, double *out)
{
    const json_t *v = sec_get(s, key);
    if (!v) return AE_OK;
    if (!json_is_number(v))
        return ae_fail(AE_ERR_FORMAT, "%s: %s%s%s is not a number", s->label, s->name, dot(s), key);
    *out = json_number_value(v);
    return AE_OK;
}

static int get_bool(const section *s, const char *key, int32_t *out)
{
    const json_t *v = sec_get(s, key);
    if (!v) return AE_OK;
    if (!json_is_boolean(v))
        return ae_fail(AE_ERR_FORMAT, "%s: %s%s%s is not true or false", s->label, s->name, dot(s),
                       key);
    *out = json_is_true(v);
    return AE_OK;
}

/* Parses text as a JSON object (duplicate keys refused); message with line and column. */
static int load_json(const char *text, size_t len, const char *label, json_t **out)
{
    json_error_t e;
    *out = NULL;
    if (!text) return ae_fail(AE_ERR_INVALID, "%s: no data", label);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!root)
        return ae_fail(AE_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", label, e.line,
                       e.column, e.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return ae_fail(AE_ERR_FORMAT, "%s: not a JSON object", label);
    }
    *out = root;
    return AE_OK;
}

/* config.json / preprocessor_config.json: a few kB; read whole through fileio.h's bounded
 * reader, capped at 64 MiB as before. */
static int read_text(const char *path, char **text, size_t *len)
{
    return ae_file_read(path, (size_t)64 << 20, text, len);
}

/* ---- config.json ------------------------------------------------------------------------- */

/* Finds "<name>" and "<name>_dict" at the top level; either may be absent or null. */
static int find_section(const json_t *root, const char *label, const char *name, section *s)
{
    char dict[64];
    snprintf(dict, sizeof dict, "%s_dict", name);
    s->label = label;
    s->name = name;
    const json_t *a = json_object_get(root, dict), *b = json_object_get(root, name);
    if (a && !json_is_null(a) && !json_is_object(a))
        return ae_fail(AE_ERR_FORMAT, "%s: %s is not an object", label, dict);
    if (b && !json_is_null(b) && !json_is_object(b))
        return ae_fail(AE_ERR_FORMAT, "%s: %s is not an object", label, name);
    s->obj[0] = json_is_object(a) ? a : NULL;
    s->obj[1] = json_is_object(b) ? b : NULL;
    return AE_OK;
}

#define MAX_HIDDEN 16384
#define MAX_LAYERS 256

static int tower_common(const section *s, clip_tower_config *t)
{
    int rc;
    if ((rc = get_int(s, "hidden_size", 1, MAX_HIDDEN, &t->hidden)) ||
        (rc = get_int(s, "intermediate_size", 1, 8 * MAX_HIDDEN, &t->intermediate)) ||
        (rc = get_int(s, "num_hidden_layers", 1, MAX_LAYERS, &t->layers)) ||
        (rc = get_int(s, "num_attention_heads", 1, MAX_HIDDEN, &t->heads)))
        return rc;
    if (t->hidden % t->heads != 0)
        return ae_fail(AE_ERR_FORMAT,
                       "%s: %s.hidden_size %d is not divisible by num_attention_heads %d",
                       s->label, s->name, t->hidden, t->heads);
    double eps = t->eps;
    if ((rc = get_num(s, "layer_norm_eps", &eps))) return rc;
    /* (as the float the encoders use: 1e-50 would be 0, a division by zero on a flat row) */
    if (!(eps > 0 && eps < 1 && (float)eps > 0))
        return ae_fail(AE_ERR_FORMAT, "%s: %s.layer_norm_eps %g is not in (0, 1)", s->label,
                       s->name, eps);
    t->eps = (float)eps;
    const json_t *act = sec_get(s, "hidden_act");
    if (act) {
        if (!json_is_string(act))
            return ae_fail(AE_ERR_FORMAT, "%s: %s.hidden_act is not a string", s->label, s->name);
        const char *a = json_string_value(act);
        if (strcmp(a, "quick_gelu") == 0) t->act = AE_ACT_QUICK_GELU;
        else if (strcmp(a, "gelu") == 0) t->act = AE_ACT_GELU;
        else
            return ae_fail(AE_ERR_UNSUPPORTED,
                           "%s: %s.hidden_act \"%.40s\" is not supported (quick_gelu or gelu)",
                           s->label, s->name, a);
    }
    return AE_OK;
}

int clip_config_parse(const char *json, size_t len, const char *label, clip_config *c)
{
    if (!label) label = "config.json";
    memset(c, 0, sizeof *c);
    /* transformers' defaults */
    c->text = (clip_tower_config){.hidden = 512, .layers = 12, .heads = 8, .intermediate = 2048,
                                  .act = AE_ACT_QUICK_GELU, .eps = 1e-5f, .vocab = 49408,
                                  .max_positions = 77, .bos_id = 49406, .eos_id = 49407};
    c->vision = (clip_tower_config){.hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072,
                                    .act = AE_ACT_QUICK_GELU, .eps = 1e-5f, .image_size = 224,
                                    .patch_size = 32, .channels = 3};
    c->proj_dim = 512;

    json_t *root;
    int rc = load_json(json, len, label, &root);
    if (rc) return rc;
    section top = {label, "", {root, NULL}}, ts, vs;
    if ((rc = find_section(root, label, "text_config", &ts)) ||
        (rc = find_section(root, label, "vision_config", &vs)))
        goto done;

    if ((rc = get_int(&top, "projection_dim", 1, MAX_HIDDEN, &c->proj_dim))) goto done;
    const char *nop = json_string_value(json_object_get(root, "_name_or_path"));
    if (nop && strlen(nop) < sizeof c->name_or_path) snprintf(c->name_or_path, sizeof c->name_or_path, "%s", nop);

    clip_tower_config *t = &c->text;
    if ((rc = tower_common(&ts, t)) ||
        (rc = get_int(&ts, "vocab_size", 1, 1 << 24, &t->vocab)) ||
        (rc = get_int(&ts, "max_position_embeddings", 2, 16384, &t->max_positions)) ||
        (rc = get_int(&ts, "bos_token_id", 0, INT32_MAX, &t->bos_id)) ||
        (rc = get_int(&ts, "eos_token_id", 0, INT32_MAX, &t->eos_id)))
        goto done;
    /* legacy PretrainedConfig defaults, see the top of the file */
    if (t->bos_id == 0) t->bos_id = 49406;
    if (t->eos_id == 2) t->eos_id = 49407;
    if (t->bos_id >= t->vocab || t->eos_id >= t->vocab) {
        rc = ae_fail(AE_ERR_FORMAT,
                     "%s: text_config.vocab_size %d does not contain bos_token_id %d and "
                     "eos_token_id %d",
                     label, t->vocab, t->bos_id, t->eos_id);
        goto done;
    }

    clip_tower_config *v = &c->vision;
    if ((rc = tower_common(&vs, v)) ||
        (rc = get_int(&vs, "image_size", 1, 8192, &v->image_size)) ||
        (rc = get_int(&vs, "patch_size", 1, 8192, &v->patch_size)) ||
        (rc = get_int(&vs, "num_channels", 1, 64, &v->channels)))
        goto done;
    if (v->image_size % v->patch_size != 0) {
        rc = ae_fail(AE_ERR_FORMAT,
                     "%s: vision_config.image_size %d is not divisible by patch_size %d", label,
                     v->image_size, v->patch_size);
        goto done;
    }
    if (v->channels != 3) {
        rc = ae_fail(AE_ERR_UNSUPPORTED,
                     "%s: vision_config.num_channels %d is not supported (RGB, 3, only)", label,
                     v->channels);
        goto done;
    }
    v->max_positions = (v->image_size / v->patch_size) * (v->image_size / v->patch_size) + 1;
done:
    json_decref(root);
    return rc;
}

int clip_config_load(const char *path, clip_config *c)
{
    char *text;
    size_t len;
    int rc = read_text(path, &text, &len);
    if (rc) return rc;
    rc = clip_config_parse(text, len, path, c);
    free(text);
    return rc;
}

/* ---- preprocessor_config.json ------------------------------------------------------------ */

static int get_triple(const section *s, const char *key, float *out)
{
    const json_t *v = sec_get(s, key);
    if (!v) return AE_OK;
    double d[3];
    if (json_is_number(v)) {
        d[0] = d[1] = d[2] = json_number_value(v);
    } else if (json_is_array(v) && json_array_size(v) == 3) {
        for (int i = 0; i < 3; i++) {
            const json_t *x = json_array_get(v, (size_t)i);
            if (!json_is_number(x)) goto bad;
            d[i] = json_number_value(x);
        }
    } else {
        goto bad;
    }
    for (int i = 0; i < 3; i++) {
        if (!isfinite(d[i]) || fabs(d[i]) > 1e6) goto bad;
        out[i] = (float)d[i];
    }
    return AE_OK;
bad:
    return ae_fail(AE_ERR_FORMAT, "%s: %s is not a number or a list of 3 numbers", s->label, key);
}

#define MAX_SIDE 16384

int clip_preproc_parse(const char *json, size_t len, const char *label, clip_preproc *p)
{
    if (!label) label = "preprocessor_config.json";
    /* CLIPImageProcessor's defaults (the OpenAI mean and std) */
    *p = (clip_preproc){.do_resize = 1, .do_center_crop = 1, .do_rescale = 1, .do_normalize = 1,
                        .do_convert_rgb = 1, .shortest_edge = 224, .crop_h = 224, .crop_w = 224,
                        .resample = 3, .rescale_factor = 1.0 / 255.0,
                        .mean = {0.48145466f, 0.4578275f, 0.40821073f},
                        .std = {0.26862954f, 0.26130258f, 0.27577711f}};
    json_t *root;
    int rc = load_json(json, len, label, &root);
    if (rc) return rc;
    section s = {label, "", {root, NULL}};

    if ((rc = get_bool(&s, "do_resize", &p->do_resize)) ||
        (rc = get_bool(&s, "do_center_crop", &p->do_center_crop)) ||
        (rc = get_bool(&s, "do_rescale", &p->do_rescale)) ||
        (rc = get_bool(&s, "do_normalize", &p->do_normalize)) ||
        (rc = get_bool(&s, "do_convert_rgb", &p->do_convert_rgb)) ||
        (rc = get_int(&s, "resample", 0, 5, &p->resample)) ||
        (rc = get_num(&s, "rescale_factor", &p->rescale_factor)) ||
        (rc = get_triple(&s, "image_mean", p->mean)) || (rc = get_triple(&s, "image_std", p->std)))
        goto done;
    if (p->resample != 3) {
        static const char *names[] = {"nearest", "lanczos", "bilinear", "bicubic", "box",
                                      "hamming"};
        rc = ae_fail(AE_ERR_UNSUPPORTED,
                     "%s: resample %d (%s) is not supported; only 3 (bicubic)", label, p->resample,
                     names[p->resample]);
        goto done;
    }
    if (!(isfinite(p->rescale_factor) && p->rescale_factor > 0 && p->rescale_factor <= 1)) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: rescale_factor %g is not in (0, 1]", label,
                     p->rescale_factor);
        goto done;
    }
    for (int i = 0; i < 3; i++)
        if (!(fabsf(p->std[i]) > 1e-12f)) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: image_std has a zero entry", label);
            goto done;
        }

    /* size: 224 (old) or {"shortest_edge": 224} (new); {"height", "width"} is a fixed-shape
     * resize that CLIP checkpoints do not use */
    const json_t *size = sec_get(&s, "size");
    if (size && json_is_object(size)) {
        section ss = {label, "size", {size, NULL}};
        if (sec_get(&ss, "shortest_edge")) {
            if ((rc = get_int(&ss, "shortest_edge", 1, MAX_SIDE, &p->shortest_edge))) goto done;
        } else if (sec_get(&ss, "height") || sec_get(&ss, "width")) {
            rc = ae_fail(AE_ERR_UNSUPPORTED,
                         "%s: size {height, width} (resize to a fixed shape) is not supported; "
                         "only {\"shortest_edge\": N} or a number",
                         label);
            goto done;
        } else {
            rc = ae_fail(AE_ERR_FORMAT, "%s: size has no shortest_edge", label);
            goto done;
        }
    } else if (size && (rc = get_int(&s, "size", 1, MAX_SIDE, &p->shortest_edge))) {
        goto done;
    }

    const json_t *crop = sec_get(&s, "crop_size");
    if (crop && json_is_object(crop)) {
        section cs = {label, "crop_size", {crop, NULL}};
        if (!sec_get(&cs, "height") || !sec_get(&cs, "width")) {
            rc = ae_fail(AE_ERR_FORMAT, "%s: crop_size needs height and width", label);
            goto done;
        }
        if ((rc = get_int(&cs, "height", 1, MAX_SIDE, &p->crop_h)) ||
            (rc = get_int(&cs, "width", 1, MAX_SIDE, &p->crop_w)))
            goto done;
    } else if (crop) {
        if ((rc = get_int(&s, "crop_size", 1, MAX_SIDE, &p->crop_h))) goto done;
        p->crop_w = p->crop_h;
    }
done:
    json_decref(root);
    return rc;
}

int clip_preproc_load(const char *path, clip_preproc *p)
{
    char *text;
    size_t len;
    int rc = read_text(path, &text, &len);
    if (rc) return rc;
    rc = clip_preproc_parse(text, len, path, p);
    free(text);
    return rc;
}
