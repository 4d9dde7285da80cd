/*
 * tokenizer.c — CLIP's byte-level BPE tokenizer, exactly as Hugging Face's CLIPTokenizerFast
 * (the `tokenizers` pipeline described by tokenizer.json of openai/clip-vit-base-patch32),
 * built from vocab.json (a JSON object symbol -> id) and merges.txt ("#version" header, then
 * one merge "left right" per line; rank = index among the merge lines).
 *
 * The pipeline, for one text (fixtures/README.md section 1):
 *   1. the exact bytes "<|endoftext|>" anywhere in the raw text become 49407 (matched before
 *      normalisation, case-sensitive); the pieces between them are handled separately;
 *   2. each piece is normalised: NFC, every run of Unicode White_Space becomes one space,
 *      then each code point is lowercased with the Unicode default (full) mapping;
 *   3. "<|startoftext|>" inside a normalised piece becomes 49406;
 *   4. the rest is split with the regex
 *        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      keeping only the matches, then each match again with GPT-2's byte-level regex (which only
 *      changes anything for "<|endoftext|>" produced by lowercasing, e.g. "<|ENDOFTEXT|>");
 *   5. each word's UTF-8 bytes become byte symbols, "</w>" joins the last one, and merges are
 *      applied lowest (rank, position) first, as tokenizers' BPE `merge_all` does;
 *   6. BOS + ids + EOS.
 * The regexes are matched by hand over code points (utf8proc categories: L* letters, N* numbers;
 * \s is the White_Space property, a small fixed table below). The reference mixes Unicode
 * versions (NFC 9.0, regex categories 16.0, lowercase 17.0) where utf8proc 2.8 has 15.0; small
 * tables below make up the difference, checked against the reference over every code point.
 *
 * At run time the tokenizer needs only the 2 x 256 byte-symbol ids and a hash table of merges
 * keyed by the pair of symbol ids: every multi-byte symbol is the product of a merge. The
 * tokenizer is immutable after loading; all scratch memory belongs to one tok_encode call, so
 * any number of threads may share it.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "error.h"
#include "fileio.h"
#include "model.h"
#include "tokenizer.h"

/* ---- the loaded tokenizer ---------------------------------------------------------------- */

typedef struct merge_slot {
    uint64_t key;    /* (left id << 32) | right id; EMPTY_KEY if unused */
    int32_t rank;    /* line index among the merges */
    int32_t new_id;  /* id of left + right */
} merge_slot;

#define EMPTY_KEY UINT64_MAX

struct ae_tokenizer {
    int32_t byte_id[256];     /* symbol of each byte inside a word */
    int32_t byte_eow_id[256]; /* the same with "</w>": the last byte of a word */
    merge_slot *merges;       /* [merge_mask + 1], open addressing, linear probing */
    uint64_t merge_mask;
    int merge_bits;
    int32_t n_merges, n_vocab;
};

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static uint64_t slot_of(const ae_tokenizer *t, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> (64 - t->merge_bits);
}

/* The merge of symbols (a, b), or NULL. Hot: called for every candidate pair in BPE. */
static const merge_slot *merge_find(const ae_tokenizer *t, int32_t a, int32_t b)
{
    uint64_t key = pair_key(a, b);
    for (uint64_t i = slot_of(t, key);; i = (i + 1) & t->merge_mask) {
        const merge_slot *s = &t->merges[i];
        if (s->key == key) return s;
        if (s->key == EMPTY_KEY) return NULL;
    }
}

/* Later duplicates overwrite earlier ones, as tokenizers' HashMap::insert does. */
static void merge_put(ae_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t new_id)
{
    uint64_t key = pair_key(a, b);
    uint64_t i = slot_of(t, key);
    while (t->merges[i].key != EMPTY_KEY && t->merges[i].key != key) i = (i + 1) & t->merge_mask;
    t->merges[i].key = key;
    t->merges[i].rank = rank;
    t->merges[i].new_id = new_id;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. in byte order, so every byte has a visible symbol in vocab.json. */
static uint32_t byte_to_unicode(int b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return (uint32_t)b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)))
            n++;
    return 256u + (uint32_t)n;
}

static size_t utf8_put(uint32_t c, uint8_t *out)
{
    if (c < 0x80) { out[0] = (uint8_t)c; return 1; }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xC0 | (c >> 6));
        out[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (c >> 12));
        out[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (c >> 18));
    out[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* vocab.json (~1.6 MB for CLIP) and merges.txt (~0.5 MB), read whole through fileio.h's
 * bounded reader: 64 MiB is far above any tokenizer of the CLIP family. */
#define TOKENIZER_FILE_MAX ((size_t)64 << 20)

static char *read_all(const char *path, size_t *size, int *rc)
{
    char *buf;
    *rc = ae_file_read(path, TOKENIZER_FILE_MAX, &buf, size);
    return *rc == AE_OK ? buf : NULL;
}

/* vocab[key] as an id, or -1 if absent. Values were range-checked by load_vocab. */
static int32_t vocab_get(const json_t *vocab, const char *key, size_t len)
{
    json_t *v = json_object_getn(vocab, key, len);
    return v ? (int32_t)json_integer_value(v) : -1;
}

static int load_vocab(const char *path, json_t **out)
{
    size_t size;
    int rc;
    char *text = read_all(path, &size, &rc);
    if (!text) return rc;
    json_error_t err;
    json_t *vocab = json_loadb(text, size, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (!vocab)
        return ae_fail(AE_ERR_FORMAT, "%s: line %d column %d: %s", path, err.line, err.column,
                       err.text);
    if (!json_is_object(vocab)) {
        json_decref(vocab);
        return ae_fail(AE_ERR_FORMAT, "%s: expected a JSON object of symbol -> id", path);
    }
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) > INT32_MAX - 1) {
            json_decref(vocab);
            return ae_fail(AE_ERR_FORMAT, "%s: symbol \"%s\": id is not an integer in [0, 2^31)",
                           path, key);
        }
    }
    if (vocab_get(vocab, "<|startoftext|>", 15) != TOK_BOS ||
        vocab_get(vocab, "<|endoftext|>", 13) != TOK_EOS) {
        json_decref(vocab);
        return ae_fail(AE_ERR_FORMAT, "%s: expected <|startoftext|> = %d and <|endoftext|> = %d",
                       path, TOK_BOS, TOK_EOS);
    }
    *out = vocab;
    return AE_OK;
}

static int load_bytes(ae_tokenizer *t, const json_t *vocab, const char *path)
{
    for (int b = 0; b < 256; b++) {
        char sym[16];
        size_t n = utf8_put(byte_to_unicode(b), (uint8_t *)sym);
        memcpy(sym + n, "</w>", 4);
        t->byte_id[b] = vocab_get(vocab, sym, n);
        t->byte_eow_id[b] = vocab_get(vocab, sym, n + 4);
        if (t->byte_id[b] < 0 || t->byte_eow_id[b] < 0)
            return ae_fail(AE_ERR_FORMAT, "%s: the symbol of byte 0x%02x (\"%.*s\" or with </w>) "
                           "is missing", path, b, (int)n, sym);
    }
    return AE_OK;
}

/* merges.txt as tokenizers reads it: lines starting with "#version" are skipped, every other
 * line is exactly "left right", and left, right and left+right are vocabulary symbols. */
static int load_merges(ae_tokenizer *t, const json_t *vocab, const char *path)
{
    size_t size;
    int rc;
    char *text = read_all(path, &size, &rc);
    if (!text) return rc;
    size_t n_lines = 0;
    for (size_t i = 0; i < size; i++) n_lines += text[i] == '\n';
    n_lines++;
    if (n_lines > (size_t)INT32_MAX / 4) {
        free(text);
        return ae_fail(AE_ERR_TOO_LARGE, "%s: too many lines", path);
    }
    int bits = 4;
    while (((size_t)1 << bits) < 2 * n_lines) bits++;
    t->merge_bits = bits;
    t->merge_mask = ((uint64_t)1 << bits) - 1;
    t->merges = malloc(((size_t)1 << bits) * sizeof *t->merges);
    if (!t->merges) {
        free(text);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i <= t->merge_mask; i++) t->merges[i].key = EMPTY_KEY;

    int32_t rank = 0;
    size_t line_no = 0;
    char *p = text, *end = text + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        line_no++;
        if (line_end > p && line_end[-1] == '\r') line_end--; /* CR LF copies */
        size_t len = (size_t)(line_end - p);
        if (len >= 8 && memcmp(p, "#version", 8) == 0) {
            p = next;
            continue;
        }
        char *sp = memchr(p, ' ', len);
        if (!sp || memchr(sp + 1, ' ', (size_t)(line_end - sp - 1))) {
            free(text);
            return ae_fail(AE_ERR_FORMAT, "%s: line %zu: expected two symbols separated by one "
                           "space", path, line_no);
        }
        size_t la = (size_t)(sp - p), lb = (size_t)(line_end - sp - 1);
        int32_t a = vocab_get(vocab, p, la), b = vocab_get(vocab, sp + 1, lb), ab = -1;
        if (a >= 0 && b >= 0) {
            memmove(sp, sp + 1, lb); /* "left right" -> "leftright" in place */
            ab = vocab_get(vocab, p, la + lb);
        }
        if (ab < 0) {
            const char *sym = a < 0 ? p : b < 0 ? sp + 1 : p;
            int sym_len = a < 0 ? (int)la : b < 0 ? (int)lb : (int)(la + lb);
            rc = ae_fail(AE_ERR_FORMAT, "%s: line %zu: \"%.*s\" is not in the vocabulary",
                         path, line_no, sym_len, sym);
            free(text);
            return rc;
        }
        merge_put(t, a, b, rank++, ab);
        p = next;
    }
    free(text);
    t->n_merges = rank;
    return AE_OK;
}

int tok_load(const char *vocab_json_path, const char *merges_txt_path, ae_tokenizer **out)
{
    *out = NULL;
    ae_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return ae_fail(AE_ERR_NOMEM, "tokenizer: out of memory");
    json_t *vocab = NULL;
    int rc = load_vocab(vocab_json_path, &vocab);
    if (rc) goto fail;
    t->n_vocab = (int32_t)json_object_size(vocab);
    rc = load_bytes(t, vocab, vocab_json_path);
    if (rc) goto fail;
    rc = load_merges(t, vocab, merges_txt_path);
    if (rc) goto fail;
    /* CLIP's byte-level BPE: 2 x 256 byte symbols, one symbol per merge, 2 special tokens; an
     * empty merges.txt or files of two tokenizers would tokenize, wrongly */
    if (t->n_merges == 0) {
        rc = ae_fail(AE_ERR_FORMAT, "%s: no merges (empty or cut short): not CLIP's tokenizer", merges_txt_path);
        goto fail;
    }
    if (t->n_vocab != 512 + t->n_merges + 2) {
        rc = ae_fail(AE_ERR_FORMAT,
                     "%s has %d symbols but %s has %d merges (CLIP's tokenizer has 512 byte symbols, one per "
                     "merge and 2 special tokens: %d): the two files do not belong together",
                     vocab_json_path, t->n_vocab, merges_txt_path, t->n_merges, 512 + t->n_merges + 2);
        goto fail;
    }
    json_decref(vocab);
    *out = t;
    return AE_OK;
fail:
    json_decref(vocab);
    tok_free(t);
    return rc;
}

int32_t tok_vocab_size(const ae_tokenizer *t) { return t->n_vocab; }

void tok_free(ae_tokenizer *t)
{
    if (!t) return;
    free(t->merges);
    free(t);
}

/* ---- text: UTF-8, Unicode properties ------------------------------------------------------ */

/* Offset of the first byte of the first ill-formed sequence (Unicode Table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or len if the text is valid. */
static size_t utf8_invalid_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return i;
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += n;
    }
    return len;
}

/* Decodes one code point of valid UTF-8 at *p and advances. */
static int32_t utf8_next(const uint8_t **p)
{
    const uint8_t *s = *p;
    int32_t c = s[0];
    if (c < 0x80) { *p += 1; return c; }
    if (c < 0xE0) { *p += 2; return ((c & 0x1F) << 6) | (s[1] & 0x3F); }
    if (c < 0xF0) {
        *p += 3;
        return ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *p += 4;
    return ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* The White_Space property (PropList.txt, stable since Unicode 6.3): what \s matches in the
 * Oniguruma regexes of tokenizer.json. Not U+200B, U+FEFF or U+180E. */
static int is_space(int32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

enum { CLS_SPACE, CLS_LETTER, CLS_NUMBER, CLS_OTHER };

/*
 * Unicode versions. utf8proc 2.8 (Debian 12) has the tables of Unicode 15.0. The reference
 * (tokenizers 0.23.2) splits with Unicode 16.0 categories and lowercases with Rust's
 * char::to_lowercase, which is at Unicode 17.0. The two tables below are the difference that
 * reaches the tokenizer: letters and numbers assigned in Unicode 15.1 and 16.0 (utf8proc 2.8
 * calls them unassigned), and the lowercase mappings added in Unicode 16.0 and 17.0. Checked
 * against the reference over every code point (a letter, a number, a symbol or a space next
 * to it). Characters assigned in 17.0 stay unassigned here, as in the reference's regexes.
 * All these code points are unassigned (Cn) in utf8proc 2.8, so the tables are consulted only
 * for Cn; with a newer utf8proc they are simply never reached for code points up to 16.0.
 */
static const struct { int32_t lo, hi, cls; } new_categories[] = {
    {0x1C89, 0x1C8A, CLS_LETTER},   /* Cyrillic TJE (16.0) */
    {0xA7CB, 0xA7CD, CLS_LETTER},   /* Latin additions (16.0) */
    {0xA7DA, 0xA7DC, CLS_LETTER},
    {0x105C0, 0x105F3, CLS_LETTER}, /* Todhri */
    {0x10D40, 0x10D49, CLS_NUMBER}, /* Garay digits */
    {0x10D4A, 0x10D4F, CLS_LETTER}, /* Garay */
    {0x10D50, 0x10D65, CLS_LETTER},
    {0x10D6F, 0x10D85, CLS_LETTER},
    {0x10EC2, 0x10EC4, CLS_LETTER}, /* Arabic Extended-C */
    {0x11380, 0x11389, CLS_LETTER}, /* Tulu-Tigalari */
    {0x1138B, 0x1138B, CLS_LETTER},
    {0x1138E, 0x1138E, CLS_LETTER},
    {0x11390, 0x113B5, CLS_LETTER},
    {0x113B7, 0x113B7, CLS_LETTER},
    {0x113D1, 0x113D1, CLS_LETTER},
    {0x113D3, 0x113D3, CLS_LETTER},
    {0x116D0, 0x116E3, CLS_NUMBER}, /* Myanmar Extended-C digits */
    {0x11BC0, 0x11BE0, CLS_LETTER}, /* Sunuwar */
    {0x11BF0, 0x11BF9, CLS_NUMBER},
    {0x13460, 0x143FA, CLS_LETTER}, /* Egyptian Hieroglyphs Extended-A */
    {0x16100, 0x1611D, CLS_LETTER}, /* Gurung Khema */
    {0x16130, 0x16139, CLS_NUMBER},
    {0x16D40, 0x16D6C, CLS_LETTER}, /* Kirat Rai */
    {0x16D70, 0x16D79, CLS_NUMBER},
    {0x18CFF, 0x18CFF, CLS_LETTER}, /* Khitan */
    {0x1CCF0, 0x1CCF9, CLS_NUMBER}, /* outlined digits */
    {0x1E5D0, 0x1E5ED, CLS_LETTER}, /* Ol Onal */
    {0x1E5F0, 0x1E5F0, CLS_LETTER},
    {0x1E5F1, 0x1E5FA, CLS_NUMBER},
    {0x2EBF0, 0x2EE5D, CLS_LETTER}, /* CJK Unified Ideographs Extension I (15.1) */
};

/* Lowercase mappings newer than utf8proc 2.8: c in [lo, hi] -> c + delta. */
static const struct { int32_t lo, hi, delta; } new_lowercase[] = {
    {0x1C89, 0x1C89, 1},            /* 16.0 */
    {0xA7CB, 0xA7CB, 0x0264 - 0xA7CB},
    {0xA7CC, 0xA7CC, 1},
    {0xA7CE, 0xA7CE, 1},            /* 17.0 */
    {0xA7D2, 0xA7D2, 1},            /* 17.0 */
    {0xA7D4, 0xA7D4, 1},            /* 17.0 */
    {0xA7DA, 0xA7DA, 1},
    {0xA7DC, 0xA7DC, 0x019B - 0xA7DC},
    {0x10D50, 0x10D65, 0x20},       /* Garay */
    {0x16EA0, 0x16EB8, 0x1B},       /* Beria Erfe (17.0) */
};

/* Full lowercase of one code point other than U+0130 (the only one that maps to two). */
static int32_t lower(int32_t c)
{
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (utf8proc_category(c) != UTF8PROC_CATEGORY_CN) return utf8proc_tolower(c);
    for (size_t i = 0; i < sizeof new_lowercase / sizeof *new_lowercase; i++)
        if (c >= new_lowercase[i].lo && c <= new_lowercase[i].hi) return c + new_lowercase[i].delta;
    return c;
}

/* What the split regexes need to know of a code point: \s, \p{L}, \p{N}, or anything else. */
static int char_class(int32_t c)
{
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return CLS_LETTER;
        if (c >= '0' && c <= '9') return CLS_NUMBER;
        return is_space(c) ? CLS_SPACE : CLS_OTHER;
    }
    if (is_space(c)) return CLS_SPACE;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CN:
        for (size_t i = 0; i < sizeof new_categories / sizeof *new_categories; i++)
            if (c >= new_categories[i].lo && c <= new_categories[i].hi) return new_categories[i].cls;
        return CLS_OTHER;
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return CLS_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return CLS_NUMBER;
    default:
        return CLS_OTHER;
    }
}

/*
 * The reference's NFC (the unicode-normalization-alignments crate) has Unicode 9.0 tables:
 * to it, code points assigned later have no normalisation data. Two kinds matter with
 * utf8proc 2.8's Unicode 15.0 tables: combining marks assigned in 10.0-15.0 (below, found
 * by checking every mark with a combining class against the reference) are starters there,
 * so they are neither reordered nor composed across; and U+11938 (13.0), the one canonical
 * composite of that period, is neither decomposed nor composed from U+11935 U+11930.
 */
static const struct { int32_t lo, hi; } marks_after_9[] = {
    {0x07FD, 0x07FD}, {0x0898, 0x089F}, {0x08CA, 0x08D3}, {0x09FE, 0x09FE}, {0x0C3C, 0x0C3C},
    {0x0D3B, 0x0D3C}, {0x0EBA, 0x0EBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA},
    {0xA82C, 0xA82C}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B},
    {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x1193D, 0x1193E}, {0x11943, 0x11943},
    {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47}, {0x11A99, 0x11A99},
    {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42},
    {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE},
    {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};

static int is_mark_after_9(int32_t c)
{
    size_t lo = 0, hi = sizeof marks_after_9 / sizeof *marks_after_9;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < marks_after_9[mid].lo) hi = mid;
        else if (c > marks_after_9[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* Canonical combining class as the reference's normaliser sees it. */
static int ccc(int32_t c)
{
    if (c < 0x300) return 0;
    int k = utf8proc_get_property(c)->combining_class;
    return k && !is_mark_after_9(c) ? k : 0;
}

/* Composition never crosses these: U+11A7 (see nfc), U+11930 (second half of U+11938) and the
 * marks after 9.0, which are starters that compose with nothing for the reference. */
static int compose_barrier(int32_t c)
{
    return c == 0x11A7 || c == 0x11930 ||
           (c >= 0x300 && utf8proc_get_property(c)->combining_class && is_mark_after_9(c));
}

/* ---- one encoding: scratch buffers ------------------------------------------------------- */

typedef struct bpe_sym {
    int32_t id;          /* current symbol id */
    int32_t prev, next;  /* neighbours in the word, -1 at the ends */
    int32_t len;         /* bytes covered; 0 once merged into its left neighbour */
} bpe_sym;

typedef struct bpe_cand {
    int32_t rank, pos, new_id; /* merge of symbol pos with its right neighbour */
} bpe_cand;

typedef struct enc {
    const ae_tokenizer *t;
    int32_t *ids;      size_t n_ids, ids_cap;  /* the output */
    int32_t *cp;       size_t cp_cap;          /* a piece after NFC */
    int32_t *norm;     size_t norm_cap;        /* a piece after NFC, spaces, lowercase */
    uint8_t *bytes;    size_t bytes_cap;       /* UTF-8 of one word */
    bpe_sym *sym;      size_t sym_cap;
    bpe_cand *heap;    size_t heap_cap, heap_n;
} enc;

/* Makes *p hold at least `need` elements of `elem` bytes. */
static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    void **p = pp;
    if (need <= *cap) return AE_OK;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return ae_fail(AE_ERR_NOMEM, "text: too long");
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (!q) return ae_fail(AE_ERR_NOMEM, "text: out of memory");
    *p = q;
    *cap = n;
    return AE_OK;
}

static int emit(enc *e, int32_t id)
{
    if (e->n_ids == e->ids_cap) {
        int rc = grow(&e->ids, &e->ids_cap, e->n_ids + 1, sizeof *e->ids);
        if (rc) return rc;
    }
    e->ids[e->n_ids++] = id;
    return AE_OK;
}

/* ---- BPE ----------------------------------------------------------------------------------- */

static int cand_less(const bpe_cand *a, const bpe_cand *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(enc *e, bpe_cand c)
{
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!cand_less(&c, &e->heap[up])) break;
        e->heap[i] = e->heap[up];
        i = up;
    }
    e->heap[i] = c;
}

static bpe_cand heap_pop(enc *e)
{
    bpe_cand top = e->heap[0], last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const bpe_cand *best = &last;
        if (l < n && cand_less(&e->heap[l], best)) { m = l; best = &e->heap[l]; }
        if (l + 1 < n && cand_less(&e->heap[l + 1], best)) m = l + 1;
        if (m == i) break;
        e->heap[i] = e->heap[m];
        i = m;
    }
    if (n) e->heap[i] = last;
    return top;
}

static void push_pair(enc *e, int32_t pos)
{
    int32_t next = e->sym[pos].next;
    if (next < 0) return;
    const merge_slot *m = merge_find(e->t, e->sym[pos].id, e->sym[next].id);
    if (m) heap_push(e, (bpe_cand){m->rank, pos, m->new_id});
}

/* BPE over one word's bytes, as tokenizers' Word::merge_all: candidates are popped lowest
 * (rank, position) first; a stale candidate (its symbols merged meanwhile) is skipped. The heap
 * makes a word of n bytes O(n log n), so one 1 MB "word" is fine. Hot loop of the tokenizer. */
static int bpe_word(enc *e, const uint8_t *w, size_t n)
{
    const ae_tokenizer *t = e->t;
    if (n == 1) return emit(e, t->byte_eow_id[w[0]]);
    if (n > (size_t)INT32_MAX / 4) return ae_fail(AE_ERR_TOO_LARGE, "text: word too long");
    int rc = grow(&e->sym, &e->sym_cap, n, sizeof *e->sym);
    if (!rc) rc = grow(&e->heap, &e->heap_cap, 3 * n, sizeof *e->heap); /* n-1 + 2 per merge */
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        e->sym[i] = (bpe_sym){i + 1 < n ? t->byte_id[w[i]] : t->byte_eow_id[w[i]],
                              (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1, 1};
    }
    e->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(e, (int32_t)i);
    while (e->heap_n) {
        bpe_cand c = heap_pop(e);
        bpe_sym *s = &e->sym[c.pos];
        if (s->len == 0 || s->next < 0) continue;
        bpe_sym *r = &e->sym[s->next];
        const merge_slot *m = merge_find(t, s->id, r->id);
        if (!m || m->new_id != c.new_id) continue;
        s->id = c.new_id;
        s->len += r->len;
        r->len = 0;
        s->next = r->next;
        if (s->next >= 0) e->sym[s->next].prev = c.pos;
        if (s->prev >= 0) push_pair(e, s->prev);
        push_pair(e, c.pos);
    }
    for (int32_t i = 0; i >= 0; i = e->sym[i].next) {
        rc = emit(e, e->sym[i].id);
        if (rc) return rc;
    }
    return AE_OK;
}

static int bpe_codepoints(enc *e, const int32_t *w, size_t n)
{
    if (n > SIZE_MAX / 4) return ae_fail(AE_ERR_TOO_LARGE, "text: too long");
    int rc = grow(&e->bytes, &e->bytes_cap, 4 * n, 1);
    if (rc) return rc;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) nb += utf8_put((uint32_t)w[i], e->bytes + nb);
    return bpe_word(e, e->bytes, nb);
}

/* ---- the split regexes --------------------------------------------------------------------- */

static int starts_with(const int32_t *s, size_t n, const char *ascii)
{
    size_t k = strlen(ascii);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (s[i] != (unsigned char)ascii[i]) return 0;
    return 1;
}

/* Length of the contraction 's 't 're 've 'm 'll 'd at s (s[0] == '\''), or 0. */
static size_t contraction(const int32_t *s, size_t n)
{
    if (n < 2) return 0;
    int32_t c = s[1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
    if (n >= 3 && ((c == 'r' && s[2] == 'e') || (c == 'v' && s[2] == 'e') ||
                   (c == 'l' && s[2] == 'l')))
        return 3;
    return 0;
}

/* End of the run of code points of class cls starting at i (i < n, w[i] of that class). */
static size_t run_end(const int32_t *w, size_t i, size_t n, int cls)
{
    do i++; while (i < n && char_class(w[i]) == cls);
    return i;
}

/* GPT-2's byte-level regex 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * on one match of the CLIP regex. Such a match holds no white space, which leaves
 * contractions, letter runs, number runs and runs of the rest. */
static int byte_level_split(enc *e, const int32_t *w, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = w[i] == '\'' ? contraction(w + i, n - i) : 0;
        size_t j = k ? i + k : run_end(w, i, n, char_class(w[i]));
        int rc = bpe_codepoints(e, w + i, j - i);
        if (rc) return rc;
        i = j;
    }
    return AE_OK;
}

/* The CLIP pre-tokenizer regex on a normalised segment, leftmost-first alternation:
 * <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * White space matches no alternative and is dropped. */
static int clip_split(enc *e, const int32_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int32_t c = s[i];
        size_t j = 0;
        if (c == '<' && starts_with(s + i, n - i, "<|startoftext|>")) j = i + 15;
        else if (c == '<' && starts_with(s + i, n - i, "<|endoftext|>")) j = i + 13;
        else if (c == '\'' && contraction(s + i, n - i)) j = i + contraction(s + i, n - i);
        if (!j) {
            int cls = char_class(c);
            if (cls == CLS_SPACE) { i++; continue; }
            j = cls == CLS_NUMBER ? i + 1 : run_end(s, i, n, cls);
        }
        int rc = byte_level_split(e, s + i, j - i);
        if (rc) return rc;
        i = j;
    }
    return AE_OK;
}

/* ---- normalisation --------------------------------------------------------------------------- */

/* Stable sort of a run of non-starters by canonical combining class (canonical ordering). Runs
 * are short in real text; long ones (adversarial input) get a counting sort, so the whole
 * normalisation stays linear where utf8proc_decompose's bubble sort would be quadratic. */
static void sort_marks(int32_t *run, size_t n, int32_t *tmp)
{
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            int32_t c = run[i];
            int k = ccc(c);
            size_t j = i;
            while (j > 0 && ccc(run[j - 1]) > k) { run[j] = run[j - 1]; j--; }
            run[j] = c;
        }
        return;
    }
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++) count[ccc(run[i]) + 1]++;
    for (int k = 1; k < 257; k++) count[k] += count[k - 1];
    for (size_t i = 0; i < n; i++) tmp[count[ccc(run[i])]++] = run[i];
    memcpy(run, tmp, n * sizeof *run);
}

/* NFC of valid UTF-8 into e->cp, as the reference computes it; the number of code points in
 * *n. Decomposition and composition are utf8proc's; canonical ordering is ours (ccc above).
 * Composition runs in segments that each start at a compose_barrier: utf8proc 2.8 composes an
 * LV syllable with U+11A7 (T index 0, which is not a trailing consonant) and drops it; the
 * others are the Unicode 9.0 view of the reference. Each barrier is, for the reference, a
 * starter that composes with nothing, so cutting there changes nothing else. */
static int nfc(enc *e, const uint8_t *s, size_t len, size_t *n)
{
    size_t m = 0;
    int ascii = 1, rc;
    const uint8_t *p = s, *end = s + len;
    while (p < end) {
        if (e->cp_cap - m < 32) {
            rc = grow(&e->cp, &e->cp_cap, m + 32, sizeof *e->cp);
            if (rc) return rc;
        }
        int32_t c = utf8_next(&p);
        if (c < 0x80 || c == 0x11938) {
            e->cp[m++] = c;
            ascii &= c < 0x80;
            continue;
        }
        ascii = 0;
        int boundclass = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(c, e->cp + m, 32, UTF8PROC_STABLE |
                                                     UTF8PROC_COMPOSE, &boundclass);
        if (k < 0 || k > 32) /* a valid code point's decomposition always fits (at most 18) */
            return ae_fail(AE_ERR_INVALID, "text: cannot normalise U+%04X", (unsigned)c);
        m += (size_t)k;
    }
    *n = m;
    if (ascii) return AE_OK;

    rc = grow(&e->norm, &e->norm_cap, m, sizeof *e->norm); /* temp of the counting sort */
    if (rc) return rc;
    for (size_t i = 0; i < m;) {
        if (!ccc(e->cp[i])) { i++; continue; }
        size_t j = i + 1;
        while (j < m && ccc(e->cp[j])) j++;
        if (j - i > 1) sort_marks(e->cp + i, j - i, e->norm);
        i = j;
    }

    size_t w = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && !compose_barrier(e->cp[j])) j++;
        utf8proc_ssize_t k = utf8proc_normalize_utf32(e->cp + i, (utf8proc_ssize_t)(j - i),
                                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (k < 0) return ae_fail(AE_ERR_INVALID, "text: cannot normalise");
        memmove(e->cp + w, e->cp + i, (size_t)k * sizeof *e->cp);
        w += (size_t)k;
        i = j;
    }
    *n = w;
    return AE_OK;
}

/* One piece between "<|endoftext|>" tokens: normalise, cut at "<|startoftext|>", split, BPE. */
static int encode_piece(enc *e, const uint8_t *s, size_t len)
{
    size_t n = 0;
    int rc = nfc(e, s, len, &n);
    if (rc) return rc;
    if (n > SIZE_MAX / 8) return ae_fail(AE_ERR_TOO_LARGE, "text: too long");
    rc = grow(&e->norm, &e->norm_cap, 2 * n, sizeof *e->norm);
    if (rc) return rc;
    /* white space runs -> " ", then the full lowercase mapping: utf8proc_tolower is the simple
     * one; U+0130 is the only code point whose unconditional lowercase has two code points
     * (SpecialCasing.txt). Σ -> σ always: no final-sigma context, as Rust's char::to_lowercase */
    size_t m = 0;
    int in_space = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = e->cp[i];
        if (is_space(c)) {
            if (!in_space) e->norm[m++] = ' ';
            in_space = 1;
            continue;
        }
        in_space = 0;
        if (c == 0x130) { e->norm[m++] = 'i'; e->norm[m++] = 0x307; }
        else e->norm[m++] = lower(c);
    }
    if (!m) return AE_OK; /* nothing to split (and e->norm may still be NULL) */
    size_t seg = 0;
    for (size_t i = 0; i < m; i++) {
        if (e->norm[i] == '<' && starts_with(e->norm + i, m - i, "<|startoftext|>")) {
            rc = clip_split(e, e->norm + seg, i - seg);
            if (!rc) rc = emit(e, TOK_BOS);
            if (rc) return rc;
            seg = i + 15;
            i = seg - 1;
        }
    }
    return m > seg ? clip_split(e, e->norm + seg, m - seg) : AE_OK; /* (norm is NULL for "") */
}

int tok_encode(const ae_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!text && len) return ae_fail(AE_ERR_INVALID, "text: NULL with length %zu", len);
    const uint8_t *s = text ? (const uint8_t *)text : (const uint8_t *)""; /* NULL, 0: empty */
    size_t bad = len ? utf8_invalid_at(s, len) : 0;
    if (bad < len)
        return ae_fail(AE_ERR_INVALID, "text: invalid UTF-8 at byte %zu (0x%02x)", bad, s[bad]);
    enc e = {.t = t};
    int rc = emit(&e, TOK_BOS);
    size_t start = 0;
    static const char eot[] = "<|endoftext|>";
    for (size_t i = 0; !rc && i + 13 <= len; i++) {
        if (s[i] == '<' && memcmp(s + i, eot, 13) == 0) {
            rc = encode_piece(&e, s + start, i - start);
            if (!rc) rc = emit(&e, TOK_EOS);
            start = i + 13;
            i = start - 1;
        }
    }
    if (!rc) rc = encode_piece(&e, s + start, len - start);
    if (!rc) rc = emit(&e, TOK_EOS);
    free(e.cp);
    free(e.norm);
    free(e.bytes);
    free(e.sym);
    free(e.heap);
    if (rc) {
        free(e.ids);
        return rc;
    }
    *ids = e.ids;
    *n = e.n_ids;
    return AE_OK;
}

/* ---- public entry point ------------------------------------------------------------------- */

int ae_tokenize(const ae_model *model, const char *text, size_t len, int32_t truncate,
                int32_t *ids, size_t cap, size_t *n_ids)
{
    if (n_ids) *n_ids = 0;
    if (!model || !n_ids || (cap && !ids))
        return ae_fail(AE_ERR_INVALID, "ae_tokenize: model, n_ids and ids (when cap > 0) must "
                       "not be NULL");
    if (!model->tok) return ae_fail(AE_ERR_INVALID, "tokenize: model loaded without the text tower");
    int32_t *all;
    size_t n;
    int rc = tok_encode(model->tok, text, len, &all, &n);
    if (rc) return rc;
    if (truncate) {
        int32_t ctx = model->cfg.text.max_positions;
        if (ctx < 2) {
            free(all);
            return ae_fail(AE_ERR_MODEL, "tokenize: context length %d is too short", (int)ctx);
        }
        if (n > (size_t)ctx) { /* Hugging Face truncation keeps EOS last */
            n = (size_t)ctx;
            all[n - 1] = TOK_EOS;
        }
    }
    if (cap) memcpy(ids, all, (n < cap ? n : cap) * sizeof *all);
    *n_ids = n;
    free(all);
    return AE_OK;
}
