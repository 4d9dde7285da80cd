/*
 * model.c — loading a CLIP model directory into an ae_model.
 *
 * A model directory (a local folder, or a snapshot of the Hugging Face cache, see hub.c)
 * holds config.json, model.safetensors, preprocessor_config.json, vocab.json and merges.txt.
 * Loading reads the configs and the safetensors header (st_open_header validates it; the
 * file is never mapped), checks that every tensor the config implies for the towers asked
 * for is present with exactly the expected shape (names and shapes of transformers'
 * CLIPModel.state_dict(); tensors that are not needed, such as logit_scale or the
 * position_ids buffers of older files, are ignored), then reads each tensor once and
 * converts it to float32:
 *   - embeddings, LayerNorm parameters and the class embedding are read straight into one
 *     allocation per tower, `block`, and the tower structs point into it;
 *   - linear weights are read into a temporary buffer (the size of the largest layer, F16 /
 *     BF16 widened in place) and handed to nn_linear_init, which copies them into the layout
 *     of the kernels. q, k and v are stacked into one [3D, D] layer; the patch-embedding
 *     convolution [D, C, P, P] is the linear layer [D, C*P*P] over patches flattened in
 *     (c, y, x) order.
 * So the weights are held once, packed, and no page of the file stays resident: reading
 * with pread leaves the file in the page cache, not in this process.
 * The text tower's token embedding (ViT-B/32: 49408 x 512, 96.5 MiB as float32) is not held:
 * it is checked like the others, and the tower keeps a descriptor of the file (a dup of the
 * one loaded from, so a file renamed over model.safetensors later is never read), the
 * tensor's offset and dtype; each text batch reads the rows of its distinct ids
 * (clip_token_rows, converted by st_read_f32_at as at load), a few thousand rows for a whole
 * prompt bank. The same code walks a
 * tower's tensors twice: a checking pass (errors before any large allocation, and the size
 * of `block`), then the converting pass. Towers can be loaded and freed later
 * (ae_model_set_towers), from the same file, checked by device, inode, size and mtime.
 *
 * Without preprocessor_config.json the CLIPImageProcessor defaults are used with resize and
 * crop equal to vision_config.image_size (what a processor saved with the model would say).
 *
 * The fingerprint identifies the weights (it keys caches and prompt banks): a 64-bit hash of
 * the entire model.safetensors, so it changes when any byte changes. See fingerprint(). It
 * is computed over the file read in chunks, never mapped.
 */
#define _GNU_SOURCE
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hub.h"
#include "safetensors.h"

#define DIR_CAP 4096

ae_model_params ae_model_default_params(void)
{
    return (ae_model_params){.load_text = 1, .load_vision = 1};
}

int ae_model_resolve(const char *spec, char *dir, size_t cap)
{
    return hub_resolve(spec, dir, cap);
}

/* ---- fingerprint -------------------------------------------------------------------------- */

/* The hot loop of the fingerprint: four independent lanes so that the multiply latency
 * overlaps and the loop runs near memory speed. Each little-endian 64-bit word w of lane i
 * updates s = (s ^ w) * K; s ^= s >> 29 (a bijection of s for a fixed w, so changing one word
 * always changes its lane). The file is read in 32-byte blocks, words 0..3 to lanes 0..3; the
 * last partial block is zero-padded. Lanes start at (i + 1) * 0x9E3779B97F4A7C15 ^ size and
 * are folded with the murmur3 finaliser: h = size; for each lane h = fmix64(h ^ s[i]).
 * Printed as 16 lowercase hex digits. */
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

typedef struct fp_state {
    uint64_t s[4];
    uint64_t n; /* the file size */
} fp_state;

static void fp_init(fp_state *f, uint64_t n)
{
    for (int i = 0; i < 4; i++) f->s[i] = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull ^ n;
    f->n = n;
}

/* The hot loop: len is a multiple of 32 except for the last call of a file. */
static void fp_update(fp_state *f, const uint8_t *p, size_t len)
{
    const uint64_t K = 0x9FB21C651E98DF25ull;
    uint64_t s0 = f->s[0], s1 = f->s[1], s2 = f->s[2], s3 = f->s[3];
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        s0 = (s0 ^ rd64(p + i)) * K, s0 ^= s0 >> 29;
        s1 = (s1 ^ rd64(p + i + 8)) * K, s1 ^= s1 >> 29;
        s2 = (s2 ^ rd64(p + i + 16)) * K, s2 ^= s2 >> 29;
        s3 = (s3 ^ rd64(p + i + 24)) * K, s3 ^= s3 >> 29;
    }
    f->s[0] = s0, f->s[1] = s1, f->s[2] = s2, f->s[3] = s3;
    if (i < len) { /* the file's last partial block, zero-padded */
        uint8_t tail[32] = {0};
        memcpy(tail, p + i, len - i);
        fp_update(f, tail, 32);
    }
}

static void fp_final(const fp_state *f, char out[17])
{
    uint64_t h = f->n;
    for (int l = 0; l < 4; l++) h = fmix64(h ^ f->s[l]);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The fingerprint of the open file fd (size bytes), read sequentially in 1 MiB chunks:
 * the file passes through the page cache, never through this process's memory. */
static int fingerprint(int fd, uint64_t size, const char *label, char out[17])
{
    enum { CHUNK = 1 << 20 }; /* a multiple of 32 */
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return ae_fail(AE_ERR_NOMEM, "%s: out of memory", label);
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    fp_state f;
    fp_init(&f, size);
    uint64_t off = 0;
    while (off < size) {
        size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK, got = 0;
        while (got < want) {
            ssize_t r = pread(fd, buf + got, want - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                int e = errno;
                free(buf);
                return ae_fail(AE_ERR_IO, "%s: reading for the fingerprint: %s", label,
                               r < 0 ? strerror(e) : "unexpected end of file (did it change?)");
            }
            got += (size_t)r;
        }
        fp_update(&f, buf, want);
        off += want;
    }
    free(buf);
    fp_final(&f, out);
    return AE_OK;
}

/* ---- the two-pass tensor walk ------------------------------------------------------------- */

typedef struct loader {
    const st_file *st;
    const char *label;   /* path of model.safetensors */
    int convert;         /* 0: checking pass, 1: converting pass */
    float *block;
    size_t block_floats; /* floats used so far (pass 0: the size to allocate) */
    float *tmp;          /* linear weights + biases before nn_linear_init */
    size_t tmp_floats;   /* pass 0: the size to allocate */
    nn_precision prec;   /* of the encoder layers' linear layers */
} loader;

static int is_float(st_dtype dt) { return dt == ST_F32 || dt == ST_F16 || dt == ST_BF16; }

/* The tensor `name` with exactly the shape (ndim, d...), or an error. */
static int need(loader *L, const char *name, int32_t ndim, const int64_t *shape,
                const st_tensor **out)
{
    const st_tensor *t = st_get(L->st, name);
    if (!t) return ae_fail(AE_ERR_NOT_FOUND, "%s: missing tensor %s", L->label, name);
    if (!is_float(t->dtype))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s is not supported for weights "
                       "(F32, F16, BF16)", L->label, name, st_dtype_name(t->dtype));
    int ok = t->ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char a[128], b[128];
        return ae_fail(AE_ERR_MODEL, "%s: tensor %s: shape %s expected %s", L->label, name,
                       st_shape_str(a, sizeof a, t->ndim, t->shape), st_shape_str(b, sizeof b, ndim, shape));
    }
    *out = t;
    return AE_OK;
}

/* Rounds to 16 floats so every tensor in the block starts 64-byte aligned. */
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* A tensor kept as is in `block`: 1-D [d0] (d1 == 0) or 2-D [d0, d1], read straight into
 * it. */
static int plain(loader *L, const char *name, int64_t d0, int64_t d1, const float **dst)
{
    int64_t shape[2] = {d0, d1};
    const st_tensor *t;
    int rc = need(L, name, d1 ? 2 : 1, shape, &t);
    if (rc) return rc;
    if (L->convert) {
        float *p = L->block + L->block_floats;
        if ((rc = st_read_f32(L->st, t, p))) return rc;
        *dst = p;
    }
    L->block_floats += round16((size_t)t->numel);
    return AE_OK;
}

/* The token embedding [d0, d1], checked and left in the file: the tower keeps where it is
 * (clip_token_rows reads its rows) and a descriptor of its own of the file. */
static int in_file(loader *L, const char *name, int64_t d0, int64_t d1, clip_tower *tw)
{
    int64_t shape[2] = {d0, d1};
    const st_tensor *t;
    int rc = need(L, name, 2, shape, &t);
    if (rc || !L->convert) return rc;
    int fd = fcntl(L->st->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return ae_fail(AE_ERR_IO, "%s: %s", L->label, strerror(errno));
    if (!(tw->token_file.path = strdup(L->label))) {
        close(fd);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", L->label);
    }
    tw->token_file.fd = fd;
    tw->token_file.dtype = t->dtype;
    tw->token_file.offset = t->offset;
    return AE_OK;
}

int clip_token_rows(const clip_tower *t, const int32_t *ids, int32_t n, float *rows)
{
    size_t D = (size_t)t->cfg.hidden, esz = st_dtype_size(t->token_file.dtype);
    AE_ASSERT(t->token_file.path);
    for (int32_t i = 0, j; i < n; i = j) {
        AE_ASSERT(ids[i] >= 0 && ids[i] < t->cfg.vocab && (i == 0 || ids[i] > ids[i - 1]));
        j = i + 1;
        while (j < n && ids[j] == ids[j - 1] + 1) j++; /* a run of ids: one read */
        int rc = st_read_f32_at(t->token_file.fd, t->token_file.path, t->token_file.dtype,
                                t->token_file.offset + (uint64_t)ids[i] * D * esz,
                                (size_t)(j - i) * D, rows + (size_t)i * D,
                                "tensor text_model.embeddings.token_embedding.weight");
        if (rc) return rc;
    }
    return AE_OK;
}

/* A linear layer made of n_parts weights [n_out, n_in] stacked along n_out (q, k, v), each
 * with its bias [n_out] if has_bias. names[i] is the weight's prefix ("...q_proj"); the
 * weight tensor is "<prefix>.weight" with the shape given by w_ndim/w_shape (the patch
 * convolution is 4-D), the bias "<prefix>.bias". The parts are read into L->tmp (the one
 * float32 copy, as large as the largest layer), then packed by nn_linear_init. */
static int linear(loader *L, nn_linear *lin, nn_precision prec, int n_parts,
                  const char *const *names, int has_bias, int32_t w_ndim, const int64_t *w_shape,
                  int64_t n_out, int64_t n_in)
{
    const st_tensor *w[3], *b[3] = {NULL, NULL, NULL};
    char nm[256];
    int rc;
    for (int i = 0; i < n_parts; i++) {
        snprintf(nm, sizeof nm, "%s.weight", names[i]);
        if ((rc = need(L, nm, w_ndim, w_shape, &w[i]))) return rc;
        if (has_bias) {
            snprintf(nm, sizeof nm, "%s.bias", names[i]);
            if ((rc = need(L, nm, 1, &n_out, &b[i]))) return rc;
        }
    }
    size_t nw = (size_t)(n_parts * n_out * n_in), nb = (size_t)(n_parts * n_out);
    if (!L->convert) {
        if (nw + nb > L->tmp_floats) L->tmp_floats = nw + nb;
        return AE_OK;
    }
    float *tw = L->tmp, *tb = L->tmp + nw;
    for (int i = 0; i < n_parts; i++) {
        if ((rc = st_read_f32(L->st, w[i], tw + (size_t)i * (size_t)(n_out * n_in)))) return rc;
        if (has_bias && (rc = st_read_f32(L->st, b[i], tb + (size_t)i * (size_t)n_out))) return rc;
    }
    rc = nn_linear_init_prec(lin, (int32_t)(n_parts * n_out), (int32_t)n_in, tw,
                             has_bias ? tb : NULL, prec);
    if (rc) return ae_fail_prefix(rc, "%s: %s: ", L->label, names[0]);
    return AE_OK;
}

/* One encoder layer: prefix "text_model.encoder.layers.3". */
static int layer(loader *L, clip_layer *ly, const char *prefix, int64_t D, int64_t I)
{
    char n[6][128];
    int rc;
    const char *parts[] = {"layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight",
                           "layer_norm2.bias"};
    const float **dst[] = {&ly->ln1_w, &ly->ln1_b, &ly->ln2_w, &ly->ln2_b};
    for (int i = 0; i < 4; i++) {
        snprintf(n[0], sizeof n[0], "%s.%s", prefix, parts[i]);
        if ((rc = plain(L, n[0], D, 0, dst[i]))) return rc;
    }
    snprintf(n[0], sizeof n[0], "%s.self_attn.q_proj", prefix);
    snprintf(n[1], sizeof n[1], "%s.self_attn.k_proj", prefix);
    snprintf(n[2], sizeof n[2], "%s.self_attn.v_proj", prefix);
    snprintf(n[3], sizeof n[3], "%s.self_attn.out_proj", prefix);
    snprintf(n[4], sizeof n[4], "%s.mlp.fc1", prefix);
    snprintf(n[5], sizeof n[5], "%s.mlp.fc2", prefix);
    const char *qkv[] = {n[0], n[1], n[2]}, *out[] = {n[3]}, *fc1[] = {n[4]}, *fc2[] = {n[5]};
    int64_t dd[2] = {D, D}, id[2] = {I, D}, di[2] = {D, I};
    if ((rc = linear(L, &ly->qkv, L->prec, 3, qkv, 1, 2, dd, D, D)) ||
        (rc = linear(L, &ly->out, L->prec, 1, out, 1, 2, dd, D, D)) ||
        (rc = linear(L, &ly->fc1, L->prec, 1, fc1, 1, 2, id, I, D)) ||
        (rc = linear(L, &ly->fc2, L->prec, 1, fc2, 1, 2, di, D, I)))
        return rc;
    return AE_OK;
}

static int tower(loader *L, clip_tower *tw, int text, int64_t proj)
{
    const clip_tower_config *c = &tw->cfg;
    const char *pre = text ? "text_model" : "vision_model";
    int64_t D = c->hidden;
    char nm[192];
    int rc;
    if (text) {
        if ((rc = in_file(L, "text_model.embeddings.token_embedding.weight", c->vocab, D, tw)))
            return rc;
    } else {
        int64_t P = c->patch_size, ws[4] = {D, c->channels, P, P};
        const char *pn[] = {"vision_model.embeddings.patch_embedding"};
        if ((rc = plain(L, "vision_model.embeddings.class_embedding", D, 0,
                        &tw->class_embedding)) ||
            (rc = linear(L, &tw->patch, L->prec, 1, pn, 0, 4, ws, D, c->channels * P * P)) ||
            (rc = plain(L, "vision_model.pre_layrnorm.weight", D, 0, &tw->pre_ln_w)) ||
            (rc = plain(L, "vision_model.pre_layrnorm.bias", D, 0, &tw->pre_ln_b)))
            return rc;
    }
    snprintf(nm, sizeof nm, "%s.embeddings.position_embedding.weight", pre);
    if ((rc = plain(L, nm, c->max_positions, D, &tw->position_embedding))) return rc;
    for (int32_t i = 0; i < c->layers; i++) {
        char lp[48];
        snprintf(lp, sizeof lp, "%s.encoder.layers.%d", pre, i);
        if ((rc = layer(L, &tw->layers[i], lp, D, c->intermediate))) return rc;
    }
    const char *fln = text ? "text_model.final_layer_norm" : "vision_model.post_layernorm";
    snprintf(nm, sizeof nm, "%s.weight", fln);
    if ((rc = plain(L, nm, D, 0, &tw->final_ln_w))) return rc;
    snprintf(nm, sizeof nm, "%s.bias", fln);
    if ((rc = plain(L, nm, D, 0, &tw->final_ln_b))) return rc;
    const char *pj[] = {text ? "text_projection" : "visual_projection"};
    int64_t ps[2] = {proj, D};
    return linear(L, &tw->proj, NN_F32, 1, pj, 0, 2, ps, proj, D);
}

/* ---- load / free -------------------------------------------------------------------------- */

/* nn_linear_free on a layer that init never reached (a failed load) is skipped. */
static void lin_free(nn_linear *l)
{
    if (l->w || l->bias) nn_linear_free(l);
}

static void tower_free(clip_tower *tw)
{
    clip_tower_config cfg = tw->cfg;
    if (tw->layers) {
        for (int32_t i = 0; i < tw->cfg.layers; i++) {
            lin_free(&tw->layers[i].qkv);
            lin_free(&tw->layers[i].out);
            lin_free(&tw->layers[i].fc1);
            lin_free(&tw->layers[i].fc2);
        }
        free(tw->layers);
    }
    lin_free(&tw->proj);
    lin_free(&tw->patch);
    free(tw->block);
    if (tw->token_file.path) {
        close(tw->token_file.fd);
        free(tw->token_file.path);
    }
    memset(tw, 0, sizeof *tw);
    tw->cfg = cfg; /* still described by ae_model_get_info */
}

void ae_model_free(ae_model *m)
{
    if (!m) return;
    tower_free(&m->text);
    tower_free(&m->vision);
    if (m->tok) tok_free(m->tok);
    free(m->dir);
    free(m->id);
    free(m);
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* dir + "/" + name into out, or AE_ERR_INVALID if it does not fit. */
static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return ae_fail(AE_ERR_INVALID, "%s: path too long", dir);
    return AE_OK;
}

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* Loads one tower from st: checking pass, allocations, converting pass. On failure the tower
 * is left absent. */
static int load_tower(ae_model *m, const st_file *st, int text)
{
    clip_tower *tw = text ? &m->text : &m->vision;
    loader L = {.st = st, .label = st->label,
                .prec = (nn_precision)(text ? m->text_precision : m->precision)};
    int rc;
    if (!(tw->layers = calloc((size_t)tw->cfg.layers, sizeof(clip_layer)))) goto nomem;
    for (int pass = 0; pass < 2; pass++) {
        L.convert = pass;
        L.block_floats = 0;
        if ((rc = tower(&L, tw, text, m->cfg.proj_dim))) goto fail;
        if (pass == 0) {
            if (posix_memalign((void **)&tw->block, 64,
                               (L.block_floats ? L.block_floats : 1) * sizeof(float)) != 0) {
                tw->block = NULL;
                goto nomem;
            }
            if (!(L.tmp = malloc((L.tmp_floats ? L.tmp_floats : 1) * sizeof(float)))) goto nomem;
            L.block = tw->block;
        }
    }
    free(L.tmp);
    if (text) m->has_text = 1;
    else m->has_vision = 1;
    return AE_OK;
nomem:
    rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", m->dir);
fail:
    free(L.tmp);
    tower_free(tw);
    return rc;
}

/* What the vision tower needs of preprocessor_config.json (path, for messages). */
static int check_vision_preproc(const ae_model *m, const char *path)
{
    if (!m->pre.do_center_crop)
        return ae_fail(AE_ERR_UNSUPPORTED,
                       "%s: do_center_crop false is not supported (the vision tower needs %dx%d "
                       "input)",
                       path, m->cfg.vision.image_size, m->cfg.vision.image_size);
    if (m->pre.crop_h != m->cfg.vision.image_size || m->pre.crop_w != m->cfg.vision.image_size)
        return ae_fail(AE_ERR_MODEL,
                       "%s: crop_size %dx%d does not match vision_config.image_size %d", path,
                       m->pre.crop_w, m->pre.crop_h, m->cfg.vision.image_size);
    return AE_OK;
}

/* The tokenizer, for the text tower (check_vocab: its ids must fit the embedding table) or
 * for tokenizing alone. */
static int load_tokenizer(ae_model *m, int check_vocab)
{
    char path[DIR_CAP + 64], path2[DIR_CAP + 64];
    int rc;
    if (check_vocab && m->cfg.text.vocab <= TOK_EOS)
        return ae_fail(AE_ERR_MODEL,
                       "%s/config.json: text_config.vocab_size %d is smaller than the CLIP "
                       "tokenizer's %d",
                       m->dir, m->cfg.text.vocab, TOK_EOS + 1);
    if (!m->tok && ((rc = join(path, sizeof path, m->dir, "vocab.json")) ||
                    (rc = join(path2, sizeof path2, m->dir, "merges.txt")) || (rc = tok_load(path, path2, &m->tok))))
        return rc;
    if (check_vocab && tok_vocab_size(m->tok) != m->cfg.text.vocab)
        return ae_fail(AE_ERR_MODEL, "%s: vocab.json has %d symbols but config.json's text_config.vocab_size is %d: the tokenizer is not the model's",
                       m->dir, tok_vocab_size(m->tok), m->cfg.text.vocab);
    return AE_OK;
}

/* Loads the towers asked for that m lacks, from model.safetensors opened (header only) as
 * st; the fingerprint first if it is not known yet. */
static int add_towers(ae_model *m, const st_file *st, int text, int vision)
{
    char path[DIR_CAP + 64];
    int rc;
    if ((text && !m->has_text) || (vision && !m->has_vision)) {
        if (!m->fingerprint[0] && (rc = fingerprint(st->fd, st->size, st->label, m->fingerprint)))
            return rc;
    }
    if (text && !m->has_text) {
        if ((rc = load_tokenizer(m, 1)) || (rc = load_tower(m, st, 1))) return rc;
    }
    if (vision && !m->has_vision) {
        if ((rc = join(path, sizeof path, m->dir, "preprocessor_config.json")) ||
            (rc = check_vision_preproc(m, path)) || (rc = load_tower(m, st, 0)))
            return rc;
    }
    return AE_OK;
}

/* Opens the header of dir/model.safetensors into *st (a missing file is named, with a
 * pytorch_model.bin beside it). */
static int open_weights(const char *dir, st_file *st)
{
    char path[DIR_CAP + 64], path2[DIR_CAP + 64];
    int rc;
    if ((rc = join(path, sizeof path, dir, "model.safetensors"))) return rc;
    if (!file_exists(path)) {
        if ((rc = join(path2, sizeof path2, dir, "pytorch_model.bin"))) return rc;
        return ae_fail(AE_ERR_NOT_FOUND, "%s: missing%s", path,
                       file_exists(path2) ? " (pytorch_model.bin is there, but only safetensors "
                                            "weights are supported)"
                                          : "");
    }
    return st_open_header(st, path);
}

int ae_model_set_towers(ae_model *m, int32_t load_text, int32_t load_vision)
{
    if (!m) return ae_fail(AE_ERR_INVALID, "ae_model_set_towers: model is NULL");
    /* free first: a tower swapped for the other is never held together with it */
    if (!load_text && m->has_text) {
        tower_free(&m->text);
        m->has_text = 0;
    }
    if (!load_vision && m->has_vision) {
        tower_free(&m->vision);
        m->has_vision = 0;
    }
    if ((!load_text || m->has_text) && (!load_vision || m->has_vision)) return AE_OK;
    st_file st;
    int rc = open_weights(m->dir, &st);
    if (rc) return rc;
    struct stat sb;
    if (fstat(st.fd, &sb) != 0) {
        rc = ae_fail(AE_ERR_IO, "%s: %s", st.label, strerror(errno));
    } else if (sb.st_dev != m->st_dev || sb.st_ino != m->st_ino ||
               (int64_t)sb.st_size != m->file_size || mtime_ns(&sb) != m->st_mtime_ns) {
        rc = ae_fail(AE_ERR_MODEL,
                     "%s: changed since the model was loaded (fingerprint %s): load the model "
                     "again",
                     st.label, m->fingerprint[0] ? m->fingerprint : "not computed");
    } else {
        rc = add_towers(m, &st, load_text != 0, load_vision != 0);
    }
    st_close(&st);
    return rc;
}

/* a repo id "org/name": what hub_split_spec accepts, without a revision */
static int is_repo_id(const char *s)
{
    char org[HUB_PART_CAP], name[HUB_PART_CAP], rev[HUB_PART_CAP];
    return !strchr(s, '@') && hub_split_spec(s, org, name, rev);
}

/* ae_model_info.id: how users name the model, never a local path (see aesthete.h) */
static char *model_id(const char *spec, const char *dir, const clip_config *cfg)
{
    char org[HUB_PART_CAP], name[HUB_PART_CAP], rev[HUB_PART_CAP], buf[2 * HUB_PART_CAP + 1];
    struct stat st;
    if (stat(spec, &st) != 0 && hub_split_spec(spec, org, name, rev)) { /* a hub spec */
        snprintf(buf, sizeof buf, "%s/%s", org, name);
        return strdup(buf);
    }
    /* .../models--org--name/snapshots/<commit>: the repo of a Hugging Face cache snapshot */
    const char *snap = strstr(dir, "/snapshots/"), *models = NULL;
    for (const char *p = dir; snap && (p = strstr(p, "models--")) && p < snap; p++) models = p;
    if (models) {
        const char *o = models + 8, *sep = strstr(o, "--");
        if (sep && sep < snap) {
            snprintf(buf, sizeof buf, "%.*s/%.*s", (int)(sep - o) < HUB_PART_CAP ? (int)(sep - o) : HUB_PART_CAP,
                     o, (int)(snap - sep - 2) < HUB_PART_CAP ? (int)(snap - sep - 2) : HUB_PART_CAP, sep + 2);
            if (is_repo_id(buf)) return strdup(buf);
        }
    }
    if (cfg->name_or_path[0] && is_repo_id(cfg->name_or_path)) return strdup(cfg->name_or_path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *base = dir + n;
    while (base > dir && base[-1] != '/') base--;
    return strndup(base, (size_t)(dir + n - base));
}

int ae_model_load(const char *spec, const ae_model_params *params, ae_model **out)
{
    int rc0;
    if (!out) return ae_fail(AE_ERR_INVALID, "ae_model_load: out is NULL");
    *out = NULL;
    ae_model_params p = params ? *params : ae_model_default_params();
    if (p.no_fingerprint && (p.load_text || p.load_vision))
        return ae_fail(AE_ERR_INVALID, "ae_model_load: no_fingerprint is for a model without "
                       "towers (caches and banks are keyed by the fingerprint)");
    if ((rc0 = ae_precision_check(p.precision)) || (rc0 = ae_precision_check(p.text_precision)))
        return rc0;
    char dir[DIR_CAP], path[DIR_CAP + 64];
    st_file st;
    memset(&st, 0, sizeof st);
    ae_model *m = NULL;
    int rc = ae_model_resolve(spec, dir, sizeof dir);
    if (rc) return rc;

    m = calloc(1, sizeof *m);
    if (!m || !(m->dir = strdup(dir))) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", dir);
        goto fail;
    }
    m->precision = p.precision;
    m->text_precision = p.text_precision;

    /* configs */
    if ((rc = join(path, sizeof path, dir, "config.json")) ||
        (rc = clip_config_load(path, &m->cfg)))
        goto fail;
    if (!(m->id = model_id(spec, dir, &m->cfg))) {
        rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", dir);
        goto fail;
    }
    if ((rc = join(path, sizeof path, dir, "preprocessor_config.json"))) goto fail;
    if (file_exists(path)) {
        if ((rc = clip_preproc_load(path, &m->pre))) goto fail;
    } else {
        clip_preproc_parse("{}", 2, path, &m->pre);
        m->pre.shortest_edge = m->pre.crop_h = m->pre.crop_w = m->cfg.vision.image_size;
    }
    if (p.load_vision && (rc = check_vision_preproc(m, path))) goto fail;
    m->text.cfg = m->cfg.text;
    m->vision.cfg = m->cfg.vision;

    /* tokenizer; its ids go up to <|endoftext|>, so the embedding table must hold them */
    if ((p.load_text || p.load_tokenizer) && (rc = load_tokenizer(m, p.load_text != 0))) goto fail;

    /* the weights' header: sizes, dtypes, and the file's identity for later tower loads */
    if ((rc = open_weights(dir, &st))) goto fail;
    struct stat sb;
    if (fstat(st.fd, &sb) != 0) {
        rc = ae_fail(AE_ERR_IO, "%s: %s", st.label, strerror(errno));
        goto fail;
    }
    m->st_dev = sb.st_dev;
    m->st_ino = sb.st_ino;
    m->st_mtime_ns = mtime_ns(&sb);
    m->file_size = (int64_t)st.size;
    m->header_size = (int64_t)st.header_size;
    /* parameters: the floating-point tensors (integer position_ids buffers are not) */
    for (int32_t i = 0; i < st.n_tensors; i++) {
        const st_tensor *t = &st.tensors[i];
        if (!is_float(t->dtype)) continue;
        const char *dn = st_dtype_name(t->dtype);
        m->n_params += t->numel;
        if (!strncmp(t->name, "text_model.", 11) || !strncmp(t->name, "text_projection.", 16))
            m->n_params_text += t->numel;
        if (!strncmp(t->name, "vision_model.", 13) || !strncmp(t->name, "visual_projection.", 18))
            m->n_params_vision += t->numel;
        if (!m->dtype[0]) snprintf(m->dtype, sizeof m->dtype, "%s", dn);
        else if (strcmp(m->dtype, dn) != 0) snprintf(m->dtype, sizeof m->dtype, "mixed");
    }
    if (!m->dtype[0]) snprintf(m->dtype, sizeof m->dtype, "F32");

    if (!p.no_fingerprint && (rc = fingerprint(st.fd, st.size, st.label, m->fingerprint)))
        goto fail;
    if ((rc = add_towers(m, &st, p.load_text != 0, p.load_vision != 0))) goto fail;
    st_close(&st);
    *out = m;
    return AE_OK;

fail:
    st_close(&st);
    ae_model_free(m);
    return rc;
}

/* ---- queries ------------------------------------------------------------------------------ */

static void tower_info(const clip_tower_config *c, int loaded, int64_t n_params,
                       ae_tower_info *t)
{
    t->n_params = n_params;
    t->hidden_size = c->hidden;
    t->num_layers = c->layers;
    t->num_heads = c->heads;
    t->intermediate_size = c->intermediate;
    t->hidden_act = ae_act_name(c->act);
    t->layer_norm_eps = c->eps;
    t->loaded = loaded;
}

void ae_model_get_info(const ae_model *m, ae_model_info *info)
{
    memset(info, 0, sizeof *info);
    if (!m) return;
    info->dir = m->dir;
    info->id = m->id;
    info->weights_dtype = m->dtype;
    info->n_params = m->n_params;
    info->file_size = m->file_size;
    info->header_size = m->header_size;
    info->embed_dim = m->cfg.proj_dim;
    info->image_size = m->cfg.vision.image_size;
    info->patch_size = m->cfg.vision.patch_size;
    info->context_length = m->cfg.text.max_positions;
    info->vocab_size = m->cfg.text.vocab;
    tower_info(&m->cfg.text, m->has_text, m->n_params_text, &info->text);
    tower_info(&m->cfg.vision, m->has_vision, m->n_params_vision, &info->vision);
    info->resize_shortest_edge = m->pre.shortest_edge;
    info->crop_height = m->pre.crop_h;
    info->crop_width = m->pre.crop_w;
    memcpy(info->image_mean, m->pre.mean, sizeof info->image_mean);
    memcpy(info->image_std, m->pre.std, sizeof info->image_std);
    memcpy(info->fingerprint, m->fingerprint, sizeof info->fingerprint);
    info->precision = m->precision;
    info->text_precision = m->text_precision;
}

const char *ae_precision_name(ae_precision p)
{
    return p == AE_PRECISION_FP32 ? "fp32" : p == AE_PRECISION_INT8 ? "int8"
         : p == AE_PRECISION_BF16 ? "bf16" : "";
}

int ae_precision_parse(const char *name)
{
    if (!name) return -1;
    for (int p = AE_PRECISION_FP32; p <= AE_PRECISION_BF16; p++)
        if (!strcmp(name, ae_precision_name((ae_precision)p))) return p;
    return -1;
}

int ae_precision_check(ae_precision p)
{
    if (!ae_precision_name(p)[0])
        return ae_fail(AE_ERR_INVALID, "precision %d is none of fp32, int8, bf16", (int)p);
    if (!nn_precision_supported((nn_precision)p))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s needs a CPU with AVX512_BF16 (Cooper Lake, "
                       "Sapphire Rapids, Zen 4 or later); this one has %s kernels: use fp32 or int8",
                       ae_precision_name(p), nn_kernel_name());
    return AE_OK;
}

int32_t ae_model_embed_dim(const ae_model *m) { return m ? m->cfg.proj_dim : 0; }

size_t ae_model_pixels_size(const ae_model *m)
{
    return m ? 3 * (size_t)m->pre.crop_h * (size_t)m->pre.crop_w : 0;
}
