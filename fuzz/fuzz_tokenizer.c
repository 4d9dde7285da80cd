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

static ae_tokenizer *tok;

static int valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i], need, min, cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC0 && c < 0xE0) { need = 1; min = 0x80; cp = c & 0x1F; }
        else if (c >= 0xE0 && c < 0xF0) { need = 2; min = 0x800; cp = c & 0x0F; }
        else if (c >= 0xF0 && c < 0xF8) { need = 3; min = 0x10000; cp = c & 0x07; }
        else return 0;
        if (n - i <= need) return 0;
        for (uint32_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

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
    if (rc != (valid_utf8(data, size) ? AE_OK : AE_ERR_INVALID)) abort();
    if (rc) return 0;
    if (n < 2 || ids[0] != TOK_BOS || ids[n - 1] != TOK_EOS) abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] > TOK_EOS) abort();
    free(ids);
    return 0;
}
