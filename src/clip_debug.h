/*
 * clip_debug.h — a hook into the CLIP forward passes for tests: when clip_debug_fn is set,
 * clip.c calls it with every named intermediate activation of the golden debug dumps
 * (fixtures/embeddings/<model>/debug/index.json): "vision.embeddings", "vision.pre_layrnorm",
 * "<tower>.layer_<i>_output", "<tower>.layer_0_detail.<step>" (layer_norm1, q_proj, k_proj,
 * v_proj, attn_context, out_proj, residual1, layer_norm2, fc1, act, fc2, output),
 * "vision.last_hidden_state", "text.final_layer_norm", "<tower>.pooler_output",
 * "vision.image_embeds", "text.text_embeds", and "text.pooled_position" (rows = cols = 1,
 * data = the position as a float).
 *
 * data is rows x cols floats with a row stride of ld floats (the q/k/v slices of the fused
 * qkv buffer have ld = 3D). The names describe one input: set the hook only around calls
 * with a single image or text. While the hook is set the forward pass takes a slower path
 * that materialises the values fused kernels never store (fc1 before the activation,
 * out_proj and fc2 before the residual). NULL (the default) costs one branch per layer.
 *
 * The pointer is per thread, so a test's hook never fires in another thread's session.
 */
#ifndef AE_CLIP_DEBUG_H
#define AE_CLIP_DEBUG_H

#include <stdint.h>

typedef void (*clip_debug_hook)(void *ctx, const char *name, const float *data, int32_t rows,
                                int32_t cols, int32_t ld);

extern _Thread_local clip_debug_hook clip_debug_fn;
extern _Thread_local void *clip_debug_ctx;

#endif
