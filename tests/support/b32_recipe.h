/*
 * b32_recipe.h — builds the full-size random ViT-B/32 CLIP of
 * fixtures/models/b32-recipe/RECIPE.md (151,277,313 float32 parameters, 605 MB) as a
 * Hugging Face model directory, for the golden tests and the benchmark.
 *
 * Weights: per tensor, seed = FNV-1a-64 of its name, a splitmix64 stream, the top 24 bits
 * of each output mapped to mean + scale * (k - 2^23) / 2^23 by the recipe's rule table,
 * rounded to float32. Names and shapes come from tensors.sha256.json, whose sha256s are
 * checked against what was generated (or, for a cached folder, read back).
 */
#ifndef AE_TEST_B32_RECIPE_H
#define AE_TEST_B32_RECIPE_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a-64 of a NUL-terminated string, and the recipe's value of element 0.. of a tensor
 * (exposed for unit tests of the recipe itself). */
uint64_t b32_fnv1a(const char *s);
/* Fills out[0..n) for tensor `name`. Returns 0, or -1 for the scalar logit_scale when n != 1. */
int b32_recipe_fill(const char *name, float *out, size_t n);

/* Writes model.safetensors (generated), config.json (the recipe's), vocab.json, merges.txt,
 * tokenizer_config.json and preprocessor_config.json (the tokenizer fixtures) into dir,
 * which must exist. Every tensor's sha256 is checked before writing; mismatches are printed
 * to stderr by name. Returns 0 if all is well, the number of mismatching tensors, or -1 on
 * an error (printed). */
int b32_recipe_write(const char *dir);

/* Checks the model.safetensors of dir against tensors.sha256.json (names, shapes, sha256,
 * total parameters). Returns 0, the number of bad tensors (printed), or -1 on error. */
int b32_recipe_check(const char *dir);

/* ---- the stress variant: the recipe with real CLIP's pathologies for reduced precision ----
 *
 * b32_recipe_write_stress writes the same architecture and files, with the recipe's weights
 * changed in two ways real CLIP checkpoints show and that make int8 hard:
 *
 *  - massive activations: a few residual-stream channels (b32_stress_vision: 5 of 768,
 *    b32_stress_text: 4 of 512) 20-100x larger than the rest (the ratio of each entry, of the
 *    channel's peak |value| to the median channel's). The position embeddings carry an offset
 *    of +-ratio * B32_STRESS_EMB_* on those channels at every position (signs alternate by
 *    entry), each encoder layer's fc2 bias a push of +-ratio * B32_STRESS_FC2_* (the
 *    out_proj/fc2 outputs that feed fixed dims in real CLIP), tuned so that they keep their
 *    size through all 12 layers (measured on 3 photos: vision 13-98x, text 9-101x the median
 *    channel at every layer's input and output, no other channel above 4.5x); LayerNorm passes
 *    them on to the q/k/v and fc1 inputs. What reads them is divided by the ratio at those
 *    channels, as a trained model's weights are in effect: the q/k/v and fc1 weight columns
 *    and the final LayerNorm weight (post_layernorm, final_layer_norm), so the embeddings
 *    still depend on the image and text (without it the photos' embeddings all agree to
 *    cosine 0.9993).
 *  - heavy-tailed weights: in every q/k/v/out_proj, fc1 and fc2 weight of both towers
 *    (b32_stress_heavy), 1 element in 256 (from the low bits of its splitmix64 output; about 3
 *    per row of 768, 12 per row of 3072) becomes +-f * std, f uniform in
 *    [B32_STRESS_TAIL_MIN, B32_STRESS_TAIL_MAX] (std = the uniform values' standard
 *    deviation), so the per-channel maximum that sets an int8 scale is 10-30x the typical
 *    weight (measured: 91% of rows >= 10 std, median 14.6) where the recipe's is 1.73x; the
 *    other elements keep their recipe values.
 *
 * Deterministic (the recipe's streams), nothing copied from a fixture but the configs and
 * tokenizer files; the tensors it leaves unchanged are checked against the recipe's sha256s.
 */
#define B32_STRESS_VERSION "b32-stress-1"
#define B32_STRESS_N_VISION 5
#define B32_STRESS_N_TEXT 4
#define B32_STRESS_EMB_VISION 2.3   /* the typical channel's peak |value| in the embeddings */
#define B32_STRESS_EMB_TEXT 0.075
#define B32_STRESS_FC2_VISION0 0.35 /* layer 0's fc2 bias push (the stream's first step) */
#define B32_STRESS_FC2_TEXT0 0.43
#define B32_STRESS_FC2_VISION 0.15 /* every later layer's: what each adds to the typical peak */
#define B32_STRESS_FC2_TEXT 0.067
#define B32_STRESS_TAIL_MIN 10.0
#define B32_STRESS_TAIL_MAX 30.0

typedef struct b32_massive {
    int32_t channel; /* residual-stream channel */
    float ratio;     /* its size over the typical channel's */
} b32_massive;

extern const b32_massive b32_stress_vision[B32_STRESS_N_VISION];
extern const b32_massive b32_stress_text[B32_STRESS_N_TEXT];

/* 1 if tensor `name` gets heavy tails in the stress variant. */
int b32_stress_heavy(const char *name);

/* Writes the stress variant into dir (as b32_recipe_write). Returns 0, the number of
 * unchanged tensors whose sha256 differs from the recipe's, or -1 on an error (printed). */
int b32_recipe_write_stress(const char *dir);

/* The stress model's folder: $AE_B32_STRESS_DIR if set (written there once, rewritten when
 * its stamp names another B32_STRESS_VERSION), else a fresh test_tmpdir()/b32-stress.
 * Returns 0 or non-zero on failure. */
int b32_recipe_stress_dir(char *buf, size_t cap);

/* The model folder to use: $AE_B32_DIR if set (generated there once, then reused and,
 * when verify != 0, checked), else a fresh test_tmpdir()/b32 (generated, deleted with the
 * test's temporary folder). Writes the path into buf. Returns 0 or non-zero on failure. */
int b32_recipe_dir(char *buf, size_t cap, int verify);

#endif
