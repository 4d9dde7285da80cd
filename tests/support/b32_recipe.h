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

/* The model folder to use: $AE_B32_DIR if set (generated there once, then reused and,
 * when verify != 0, checked), else a fresh test_tmpdir()/b32 (generated, deleted with the
 * test's temporary folder). Writes the path into buf. Returns 0 or non-zero on failure. */
int b32_recipe_dir(char *buf, size_t cap, int verify);

#endif
