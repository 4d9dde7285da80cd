/*
 * bank.h — the prompt bank object shared by bank.c (build, save, load) and score.c.
 */
#ifndef AE_BANK_H
#define AE_BANK_H

#include "aesthete.h"

/* The largest embedding width a bank may have (CLIP models use 512 to 1024). */
#define AE_MAX_BANK_DIM 65536

struct ae_bank {
    ae_method method;
    int32_t dim;
    int32_t rows;           /* rows of pos/neg: n_classes for context, else 1 */
    float *pos, *neg;       /* [rows, dim] text embeddings (centroids for ensemble), as built */
    float *pos_unit, *neg_unit; /* [rows, dim] the same, L2-normalised (cosines) */
    float *weight;          /* laion: [dim] */
    float bias;             /* laion */
    int32_t n_classes;
    char **classes;         /* [n_classes] */
    int32_t n_prompts;      /* prompts encoded to build the bank */
    int32_t normalize_prompts;
    char *template_text, *positive, *negative, *model_id, *fingerprint, *laion_head;
    char *precision;        /* of the text tower that built it ("fp32", ...), "" if none did */
};

/* Allocates an empty bank with all strings "" (NULL on out of memory). */
ae_bank *bank_alloc(void);
/* Allocates pos/neg for rows x dim and fills the unit copies from pos/neg later. */
int bank_alloc_rows(ae_bank *b, int32_t rows, int32_t dim);
/* Fills pos_unit / neg_unit from pos / neg; AE_ERR_FORMAT if a row has zero norm or is not
 * finite (label names the source). */
int bank_finish(ae_bank *b, const char *label);
/* strdup that reports AE_ERR_NOMEM through ae_fail; NULL on failure */
char *bank_strdup(const char *s);

#endif
