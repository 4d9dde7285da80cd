/*
 * fuzz_tokenizer.c — libFuzzer target for tok_encode: arbitrary bytes in, and either
 * AE_ERR_INVALID (exactly when the bytes are not valid UTF-8) or BOS ... EOS with every id in
 * the vocabulary. Built by -DAE_FUZZ=ON (fuzz/run.sh); the real CLIP vocabulary and merges
 * come from the fixtures ($AE_FIXTURES, else the folder CMake was given). Seeds: strings of
 * the golden token list (ASCII, accents, CJK, emoji, contractions, numbers), empty and
 * invalid text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aesthete.h"
#include "tokenizer.h"
#include "fuzz_util.h"

static ae_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok) {
        const char *root = getenv("AE_FIXTURES");
        if (!root || !*root) root = AE_FIXTURES_DEFAULT;
        char vocab[4096], merges[4096];
        snprintf(vocab, sizeof vocab, "%s/tokenizer/vocab.json", root);
        snprintf(merges, sizeof merges, "%s/tokenizer/merges.txt", root);
        if (tok_load(vocab, merges, &tok) != AE_OK) {
            fprintf(stderr, "fuzz_tokenizer: %s (set AE_FIXTURES)\n", ae_last_error());
            abort();
        }
    }
    int32_t *ids;
    size_t n;
    int rc = tok_encode(tok, (const char *)data, size, &ids, &n);
    if (rc != (fuzz_utf8(data, size) ? AE_OK : AE_ERR_INVALID)) abort();
    if (rc) return 0;
    if (n < 2 || ids[0] != TOK_BOS || ids[n - 1] != TOK_EOS) abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] > TOK_EOS) abort();
    free(ids);
    return 0;
}
