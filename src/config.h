/*
 * config.h — the Hugging Face CLIPConfig (config.json) and CLIPImageProcessor
 * (preprocessor_config.json) of a model directory.
 *
 * Missing keys take transformers' defaults (CLIPTextConfig / CLIPVisionConfig); both the
 * old feature-extractor form ("size": 224, "crop_size": 224) and the new one
 * ("size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}) are read.
 */
#ifndef AE_CONFIG_H
#define AE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { AE_ACT_QUICK_GELU, AE_ACT_GELU } ae_act;

typedef struct clip_tower_config {
    int32_t hidden, layers, heads, intermediate;
    ae_act act;
    float eps;
    /* text tower */
    int32_t vocab, max_positions, bos_id, eos_id;
    /* vision tower */
    int32_t image_size, patch_size, channels;
} clip_tower_config;

typedef struct clip_config {
    clip_tower_config text, vision;
    int32_t proj_dim;
    char name_or_path[128];   /* "_name_or_path" as transformers wrote it, "" if absent/longer */
} clip_config;

typedef struct clip_preproc {
    int32_t do_resize, do_center_crop, do_rescale, do_normalize, do_convert_rgb;
    int32_t shortest_edge;    /* resize: shortest side to this */
    int32_t crop_h, crop_w;
    int32_t resample;         /* PIL code; only 3 (bicubic) is supported */
    double rescale_factor;    /* 1/255 */
    float mean[3], std[3];
} clip_preproc;

/* Parse from memory; label names the file in messages. */
int clip_config_parse(const char *json, size_t len, const char *label, clip_config *c);
int clip_preproc_parse(const char *json, size_t len, const char *label, clip_preproc *p);
/* Read the file, then parse. */
int clip_config_load(const char *path, clip_config *c);
int clip_preproc_load(const char *path, clip_preproc *p);

const char *ae_act_name(ae_act a);

#endif
