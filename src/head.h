/*
 * head.h — the head object (an image embedding -> a score) shared by head.c (linear and MLP
 * heads, files, checks), bank.c (prompt banks built from a method) and score.c (scoring,
 * the shipped LAION heads).
 */
#ifndef AE_HEAD_H
#define AE_HEAD_H

#include "aesthete.h"

/* The largest embedding width a head may have (CLIP models use 512 to 1024). */
#define AE_MAX_BANK_DIM 65536
/* The most layers and the widest layer of an MLP head (LAION V2: 5 layers, 1024 wide). */
#define AE_MAX_HEAD_LAYERS 16
#define AE_MAX_HEAD_WIDTH 65536

typedef struct head_layer {
    int32_t in, out;
    float *w;               /* [out, in] */
    float *b;               /* [out] */
    int32_t relu;           /* 1: ReLU after this layer */
} head_layer;

struct ae_head {
    ae_head_kind kind;
    ae_method method;
    int32_t dim;
    /* prompts */
    int32_t rows;           /* rows of pos/neg: n_classes for context, else 1 */
    float *pos, *neg;       /* [rows, dim] text embeddings (centroids for ensemble), as built */
    float *pos_unit, *neg_unit; /* [rows, dim] the same, L2-normalised (cosines) */
    int32_t n_classes;
    char **classes;         /* [n_classes] */
    int32_t n_prompts;      /* prompts encoded to build the bank */
    int32_t normalize_prompts;
    char *template_text, *positive, *negative;
    char *precision;        /* of the text tower that built it ("fp32", ...), "" if none did */
    /* linear: score = weight . x + bias */
    float *weight;          /* [dim] */
    float bias;
    /* mlp */
    int32_t n_layers;
    head_layer *layers;     /* [n_layers], layers[0].in == dim, last out == 1 */
    /* linear and mlp */
    int32_t normalize;      /* 1: x is the L2-normalised embedding */
    int32_t logistic;       /* 1: probability = sigmoid(score) */
    float cut;              /* label: good iff score >= cut */
    int32_t patch_size, vision_width; /* of the CLIP model it was made for; 0 = unknown */
    /* all kinds */
    char *name, *model_id, *fingerprint, *laion_head, *provenance, *license;
};

/* Allocates an empty head with all strings "" (NULL on out of memory). */
ae_head *head_alloc(void);
/* Allocates pos/neg for rows x dim and fills the unit copies from pos/neg later. */
int head_alloc_rows(ae_head *b, int32_t rows, int32_t dim);
/* Fills pos_unit / neg_unit from pos / neg; AE_ERR_FORMAT if a row has zero norm or is not
 * finite (label names the source). */
int head_finish(ae_head *b, const char *label);
/* strdup that reports AE_ERR_NOMEM through ae_fail; NULL on failure */
char *head_strdup(const char *s);
/* Replaces *dst by a copy of s ("" for NULL). */
int head_set_str(char **dst, const char *s);

#endif
