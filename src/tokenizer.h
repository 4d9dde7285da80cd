/*
 * tokenizer.h — CLIP's byte-level BPE tokenizer, exactly as Hugging Face's CLIPTokenizerFast
 * (tokenizer.json of openai/clip-vit-base-patch32), built from vocab.json and merges.txt.
 */
#ifndef AE_TOKENIZER_H
#define AE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ae_tokenizer ae_tokenizer;

int tok_load(const char *vocab_json_path, const char *merges_txt_path, ae_tokenizer **out);
/* The number of symbols of vocab.json (49408 for CLIP). */
int32_t tok_vocab_size(const ae_tokenizer *t);
void tok_free(ae_tokenizer *t);

/* Full encoding, untruncated: BOS, ids, EOS. *ids is malloc'ed (caller frees).
 * AE_ERR_INVALID (message names the byte offset) for invalid UTF-8. */
int tok_encode(const ae_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n);

#define TOK_BOS 49406
#define TOK_EOS 49407

#endif
