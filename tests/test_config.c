/*
 * test_config.c — config.json (CLIPConfig) and preprocessor_config.json (CLIPImageProcessor):
 * the real openai/clip-vit-base-patch32 files of the fixtures, the tiny models, transformers'
 * defaults and legacy forms, and malformed or hostile input, each refused with a message that
 * names the file and the key.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "test.h"

static int parse_cfg(const char *json, clip_config *c)
{
    ae_clear_error();
    return clip_config_parse(json, strlen(json), "config.json", c);
}

static int parse_pre(const char *json, clip_preproc *p)
{
    ae_clear_error();
    return clip_preproc_parse(json, strlen(json), "preprocessor_config.json", p);
}

static void expect_cfg_fail(const char *json, int rc_want, const char *needle)
{
    clip_config c;
    int rc = parse_cfg(json, &c);
    CHECK_MSG(rc == rc_want, "rc %d, expected %d for %s (%s)", rc, rc_want, json, ae_last_error());
    CHECK_STR_CONTAINS(ae_last_error(), "config.json: ");
    CHECK_STR_CONTAINS(ae_last_error(), needle);
}

static void expect_pre_fail(const char *json, int rc_want, const char *needle)
{
    clip_preproc p;
    int rc = parse_pre(json, &p);
    CHECK_MSG(rc == rc_want, "rc %d, expected %d for %s (%s)", rc, rc_want, json, ae_last_error());
    CHECK_STR_CONTAINS(ae_last_error(), "preprocessor_config.json: ");
    CHECK_STR_CONTAINS(ae_last_error(), needle);
}

static void check_b32(const clip_config *c)
{
    CHECK_EQ_INT(c->proj_dim, 512);
    CHECK_EQ_INT(c->text.hidden, 512);
    CHECK_EQ_INT(c->text.intermediate, 2048);
    CHECK_EQ_INT(c->text.layers, 12);
    CHECK_EQ_INT(c->text.heads, 8);
    CHECK_EQ_INT(c->text.vocab, 49408);
    CHECK_EQ_INT(c->text.max_positions, 77);
    CHECK_EQ_INT(c->text.bos_id, 49406); /* the file says 0 */
    CHECK_EQ_INT(c->text.eos_id, 49407); /* the file says 2 */
    CHECK(c->text.act == AE_ACT_QUICK_GELU && c->vision.act == AE_ACT_QUICK_GELU);
    CHECK(c->text.eps == 1e-5f && c->vision.eps == 1e-5f);
    CHECK_EQ_INT(c->vision.hidden, 768);
    CHECK_EQ_INT(c->vision.intermediate, 3072);
    CHECK_EQ_INT(c->vision.layers, 12);
    CHECK_EQ_INT(c->vision.heads, 12);
    CHECK_EQ_INT(c->vision.image_size, 224);
    CHECK_EQ_INT(c->vision.patch_size, 32);
    CHECK_EQ_INT(c->vision.channels, 3);
    CHECK_EQ_INT(c->vision.max_positions, 50);
}

static void test_real_configs(void)
{
    clip_config c;
    CHECK_EQ_INT(clip_config_load(fixture("tokenizer/config.json"), &c), AE_OK);
    check_b32(&c);
    CHECK_EQ_INT(clip_config_load(fixture("models/b32-recipe/config.json"), &c), AE_OK);
    check_b32(&c);
    /* the defaults alone are ViT-B/32 too */
    CHECK_EQ_INT(parse_cfg("{}", &c), AE_OK);
    check_b32(&c);

    CHECK_EQ_INT(clip_config_load(fixture("models/tiny-quickgelu/config.json"), &c), AE_OK);
    CHECK_EQ_INT(c.proj_dim, 40);
    CHECK(c.text.hidden == 72 && c.text.heads == 6 && c.text.layers == 2 && c.text.intermediate == 200);
    CHECK(c.vision.hidden == 96 && c.vision.heads == 6 && c.vision.layers == 2 &&
          c.vision.intermediate == 152);
    CHECK(c.vision.image_size == 224 && c.vision.patch_size == 32 && c.vision.max_positions == 50);
    CHECK(c.text.act == AE_ACT_QUICK_GELU && c.vision.act == AE_ACT_QUICK_GELU);
    CHECK(c.text.bos_id == 49406 && c.text.eos_id == 49407);

    CHECK_EQ_INT(clip_config_load(fixture("models/tiny-gelu/config.json"), &c), AE_OK);
    CHECK_EQ_INT(c.proj_dim, 24);
    CHECK(c.text.hidden == 48 && c.text.heads == 4 && c.text.layers == 3 && c.text.intermediate == 112);
    CHECK(c.vision.hidden == 64 && c.vision.heads == 4 && c.vision.layers == 3 &&
          c.vision.intermediate == 136);
    CHECK(c.vision.image_size == 64 && c.vision.patch_size == 16 && c.vision.max_positions == 17);
    CHECK(c.text.act == AE_ACT_GELU && c.vision.act == AE_ACT_GELU);
    CHECK(strcmp(ae_act_name(AE_ACT_GELU), "gelu") == 0);
    CHECK(strcmp(ae_act_name(AE_ACT_QUICK_GELU), "quick_gelu") == 0);

    CHECK_EQ_INT(clip_config_load("/nonexistent/config.json", &c), AE_ERR_NOT_FOUND);
    CHECK_STR_CONTAINS(ae_last_error(), "/nonexistent/config.json: ");
    /* a FIFO named config.json with no writer reads as empty at once (alarm(): hang = failure) */
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/config.json", test_tmpdir());
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(20);
    CHECK_EQ_INT(clip_config_load(fifo, &c), AE_ERR_FORMAT);
    alarm(0);
    CHECK_STR_CONTAINS(ae_last_error(), "config.json: invalid JSON");
}

static void test_config_forms(void)
{
    clip_config c;
    /* legacy *_config_dict overrides *_config, key by key */
    CHECK_EQ_INT(parse_cfg("{\"text_config\": {\"hidden_size\": 128, \"num_hidden_layers\": 3},"
                           " \"text_config_dict\": {\"hidden_size\": 256, \"num_attention_heads\": 4},"
                           " \"vision_config_dict\": {\"patch_size\": 16}, \"vision_config\": null}",
                           &c),
                 AE_OK);
    CHECK_EQ_INT(c.text.hidden, 256);
    CHECK_EQ_INT(c.text.heads, 4);
    CHECK_EQ_INT(c.text.layers, 3);
    CHECK_EQ_INT(c.vision.patch_size, 16);
    CHECK_EQ_INT(c.vision.max_positions, 197);
    /* nulls are defaults; integral reals are integers; unknown keys are ignored */
    CHECK_EQ_INT(parse_cfg("{\"projection_dim\": 768.0, \"text_config\": {\"hidden_size\": null,"
                           " \"eos_token_id\": 49407, \"bos_token_id\": 49406, \"x\": [1,{}]},"
                           " \"vision_config\": {\"image_size\": 336, \"patch_size\": 14,"
                           " \"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-6}}",
                           &c),
                 AE_OK);
    CHECK_EQ_INT(c.proj_dim, 768);
    CHECK_EQ_INT(c.text.hidden, 512);
    CHECK_EQ_INT(c.vision.max_positions, 577);
    CHECK(c.vision.act == AE_ACT_GELU && c.text.act == AE_ACT_QUICK_GELU);
    CHECK(c.vision.eps == 1e-6f);
    /* a custom eos inside the vocabulary is kept */
    CHECK_EQ_INT(parse_cfg("{\"text_config\": {\"eos_token_id\": 7}}", &c), AE_OK);
    CHECK_EQ_INT(c.text.eos_id, 7);
    /* length is respected (no NUL needed) */
    CHECK_EQ_INT(clip_config_parse("{}garbage", 2, "config.json", &c), AE_OK);
}

static void test_config_hostile(void)
{
    expect_cfg_fail("{\"text_config\": {", AE_ERR_FORMAT, "invalid JSON at line 1, column");
    expect_cfg_fail("{\n\"a\": 1,\n\"b\": tru\n}", AE_ERR_FORMAT, "line 3");
    expect_cfg_fail("", AE_ERR_FORMAT, "invalid JSON");
    expect_cfg_fail("[1]", AE_ERR_FORMAT, "not a JSON object");
    expect_cfg_fail("{\"a\": 1, \"a\": 2}", AE_ERR_FORMAT, "duplicate");
    expect_cfg_fail("{\"text_config\": \"big\"}", AE_ERR_FORMAT, "text_config is not an object");
    expect_cfg_fail("{\"vision_config_dict\": 3}", AE_ERR_FORMAT, "vision_config_dict is not an object");
    expect_cfg_fail("{\"text_config\": {\"hidden_size\": 0}}", AE_ERR_FORMAT,
                    "text_config.hidden_size 0 is not in [1, 16384]");
    expect_cfg_fail("{\"text_config\": {\"hidden_size\": -512}}", AE_ERR_FORMAT,
                    "text_config.hidden_size -512 is not in");
    expect_cfg_fail("{\"vision_config\": {\"hidden_size\": 1000000000000}}", AE_ERR_FORMAT,
                    "vision_config.hidden_size 1000000000000 is not in");
    expect_cfg_fail("{\"text_config\": {\"hidden_size\": \"512\"}}", AE_ERR_FORMAT,
                    "text_config.hidden_size is not an integer");
    expect_cfg_fail("{\"text_config\": {\"hidden_size\": 512.5}}", AE_ERR_FORMAT,
                    "is not an integer");
    expect_cfg_fail("{\"text_config\": {\"hidden_size\": 100, \"num_attention_heads\": 7}}",
                    AE_ERR_FORMAT, "text_config.hidden_size 100 is not divisible by num_attention_heads 7");
    expect_cfg_fail("{\"vision_config\": {\"patch_size\": 30}}", AE_ERR_FORMAT,
                    "vision_config.image_size 224 is not divisible by patch_size 30");
    expect_cfg_fail("{\"vision_config\": {\"patch_size\": 0}}", AE_ERR_FORMAT, "patch_size 0");
    expect_cfg_fail("{\"vision_config\": {\"num_hidden_layers\": 1000}}", AE_ERR_FORMAT,
                    "vision_config.num_hidden_layers 1000 is not in [1, 256]");
    expect_cfg_fail("{\"text_config\": {\"hidden_act\": \"gelu_new\"}}", AE_ERR_UNSUPPORTED,
                    "text_config.hidden_act \"gelu_new\" is not supported");
    expect_cfg_fail("{\"vision_config\": {\"hidden_act\": \"relu\"}}", AE_ERR_UNSUPPORTED, "\"relu\"");
    expect_cfg_fail("{\"vision_config\": {\"hidden_act\": 5}}", AE_ERR_FORMAT,
                    "vision_config.hidden_act is not a string");
    expect_cfg_fail("{\"text_config\": {\"layer_norm_eps\": 0}}", AE_ERR_FORMAT,
                    "text_config.layer_norm_eps 0 is not in (0, 1)");
    /* found by fuzz_config: a value that is 0 as a float (fuzz/corpus/config/tiny-eps-config.json) */
    expect_cfg_fail("{\"vision_config\": {\"layer_norm_eps\": 1e-50}}", AE_ERR_FORMAT,
                    "vision_config.layer_norm_eps 1e-50 is not in (0, 1)");
    expect_cfg_fail("{\"text_config\": {\"layer_norm_eps\": \"tiny\"}}", AE_ERR_FORMAT,
                    "text_config.layer_norm_eps is not a number");
    expect_cfg_fail("{\"vision_config\": {\"num_channels\": 1}}", AE_ERR_UNSUPPORTED,
                    "vision_config.num_channels 1 is not supported");
    expect_cfg_fail("{\"text_config\": {\"vocab_size\": 1000}}", AE_ERR_FORMAT,
                    "text_config.vocab_size 1000 does not contain");
    expect_cfg_fail("{\"projection_dim\": 0}", AE_ERR_FORMAT, "config.json: projection_dim 0");
    expect_cfg_fail("{\"projection_dim\": true}", AE_ERR_FORMAT, "projection_dim is not an integer");
    /* nasty strings: long, escaped, non-ASCII, invalid UTF-8 */
    char big[3000];
    memset(big, 'x', sizeof big);
    const char *pre = "{\"text_config\": {\"hidden_act\": \"";
    memcpy(big, pre, strlen(pre));
    memcpy(big + sizeof big - 4, "\"}}", 4);
    expect_cfg_fail(big, AE_ERR_UNSUPPORTED, "hidden_act \"xxxxxxxx");
    CHECK(strlen(ae_last_error()) < 200);
    expect_cfg_fail("{\"text_config\": {\"hidden_act\": \"gelu\\u0000x\"}}", AE_ERR_FORMAT,
                    "invalid JSON");
    expect_cfg_fail("{\"text_config\": {\"hidden_act\": \"q\\u00fcick\\n\"}}", AE_ERR_UNSUPPORTED,
                    "is not supported");
    expect_cfg_fail("{\"text_config\": {\"hidden_act\": \"\xff\xfe\"}}", AE_ERR_FORMAT,
                    "invalid JSON");
    clip_config c;
    CHECK_EQ_INT(clip_config_parse(NULL, 0, NULL, &c), AE_ERR_INVALID);
}

static void check_openai_norm(const clip_preproc *p)
{
    CHECK(p->mean[0] == 0.48145466f && p->mean[1] == 0.4578275f && p->mean[2] == 0.40821073f);
    CHECK(p->std[0] == 0.26862954f && p->std[1] == 0.26130258f && p->std[2] == 0.27577711f);
}

static void test_preproc(void)
{
    clip_preproc p;
    /* old feature-extractor form */
    CHECK_EQ_INT(clip_preproc_load(fixture("tokenizer/preprocessor_config.json"), &p), AE_OK);
    CHECK(p.shortest_edge == 224 && p.crop_h == 224 && p.crop_w == 224 && p.resample == 3);
    CHECK(p.do_resize && p.do_center_crop && p.do_rescale && p.do_normalize && p.do_convert_rgb);
    CHECK(p.rescale_factor == 1.0 / 255.0);
    check_openai_norm(&p);
    /* new image-processor form */
    CHECK_EQ_INT(clip_preproc_load(fixture("models/tiny-gelu/preprocessor_config.json"), &p), AE_OK);
    CHECK(p.shortest_edge == 64 && p.crop_h == 64 && p.crop_w == 64);
    CHECK_NEAR(p.rescale_factor, 1.0 / 255.0, 1e-18);
    check_openai_norm(&p);
    CHECK_EQ_INT(clip_preproc_load(fixture("models/tiny-quickgelu/preprocessor_config.json"), &p),
                 AE_OK);
    CHECK(p.shortest_edge == 224 && p.crop_h == 224 && p.crop_w == 224);
    /* defaults */
    CHECK_EQ_INT(parse_pre("{}", &p), AE_OK);
    CHECK(p.shortest_edge == 224 && p.crop_h == 224 && p.crop_w == 224 && p.resample == 3);
    CHECK(p.do_resize && p.do_center_crop && p.do_rescale && p.do_normalize && p.do_convert_rgb);
    check_openai_norm(&p);
    /* other accepted forms */
    CHECK_EQ_INT(parse_pre("{\"size\": {\"shortest_edge\": 336}, \"crop_size\": {\"height\": 300,"
                           " \"width\": 320}, \"do_normalize\": false, \"image_mean\": 0.5,"
                           " \"image_std\": [0.5, 0.25, 1], \"do_convert_rgb\": null}",
                           &p),
                 AE_OK);
    CHECK(p.shortest_edge == 336 && p.crop_h == 300 && p.crop_w == 320 && !p.do_normalize);
    CHECK(p.mean[0] == 0.5f && p.mean[2] == 0.5f && p.std[1] == 0.25f && p.do_convert_rgb);

    expect_pre_fail("{\"size\": {\"height\": 224, \"width\": 224}}", AE_ERR_UNSUPPORTED,
                    "size {height, width} (resize to a fixed shape) is not supported");
    expect_pre_fail("{\"size\": {}}", AE_ERR_FORMAT, "size has no shortest_edge");
    expect_pre_fail("{\"size\": 0}", AE_ERR_FORMAT, "size 0 is not in [1, 16384]");
    expect_pre_fail("{\"size\": \"224\"}", AE_ERR_FORMAT, "size is not an integer");
    expect_pre_fail("{\"size\": {\"shortest_edge\": -1}}", AE_ERR_FORMAT,
                    "size.shortest_edge -1 is not in");
    expect_pre_fail("{\"resample\": 2}", AE_ERR_UNSUPPORTED,
                    "resample 2 (bilinear) is not supported; only 3 (bicubic)");
    expect_pre_fail("{\"resample\": 1}", AE_ERR_UNSUPPORTED, "resample 1 (lanczos)");
    expect_pre_fail("{\"resample\": 9}", AE_ERR_FORMAT, "resample 9 is not in [0, 5]");
    expect_pre_fail("{\"crop_size\": {\"height\": 10}}", AE_ERR_FORMAT,
                    "crop_size needs height and width");
    expect_pre_fail("{\"crop_size\": {\"height\": 10, \"width\": 0}}", AE_ERR_FORMAT,
                    "crop_size.width 0 is not in");
    expect_pre_fail("{\"crop_size\": 100000}", AE_ERR_FORMAT, "crop_size 100000");
    expect_pre_fail("{\"image_std\": [0, 1, 1]}", AE_ERR_FORMAT, "image_std has a zero entry");
    expect_pre_fail("{\"image_mean\": [1, 2]}", AE_ERR_FORMAT,
                    "image_mean is not a number or a list of 3 numbers");
    expect_pre_fail("{\"image_mean\": [1, 2, \"3\"]}", AE_ERR_FORMAT, "image_mean");
    expect_pre_fail("{\"do_resize\": \"yes\"}", AE_ERR_FORMAT, "do_resize is not true or false");
    expect_pre_fail("{\"rescale_factor\": -1}", AE_ERR_FORMAT, "rescale_factor -1 is not in");
    expect_pre_fail("{\"size\": 224,", AE_ERR_FORMAT, "invalid JSON at line 1");
    expect_pre_fail("{\"size\": 224, \"size\": 225}", AE_ERR_FORMAT, "duplicate");

    CHECK_EQ_INT(clip_preproc_load("/nonexistent/preprocessor_config.json", &p), AE_ERR_NOT_FOUND);
}

int main(void)
{
    test_real_configs();
    test_config_forms();
    test_config_hostile();
    test_preproc();
    return test_summary();
}
