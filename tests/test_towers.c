/*
 * test_towers.c — loading only what a command needs, and holding the weights once:
 *   - memory: a model whose model.safetensors carries a 1 GiB tail (sparse, never written)
 *     next to a valid header: tokenizing reads no more of it than the header, describing it
 *     and loading the vision tower keep the process's peak RSS far below the file's size
 *     (getrusage; the file used to be mapped and every page touched by the fingerprint);
 *   - the fingerprint has the value it always had (constants computed by the mapped,
 *     whole-file implementation; it keys users' caches), whatever towers are loaded;
 *   - towers added and dropped later (ae_model_set_towers): a text tower added to a
 *     vision-only model, with a session made before, gives exactly the text embeddings of a
 *     full load; a dropped tower is refused with a clear error; a file changed since the
 *     load is refused;
 *   - the text tower holds no token embedding (resident memory of a load); it reads the rows
 *     from the file it was loaded from: a file truncated under it fails the encoding with one
 *     line naming the file, a file renamed over it is not read (the same embeddings), and
 *     its descriptor is closed when the tower is dropped or the model freed;
 *   - st_open_header / st_read_f32 read the same values as the mapped reader (F32, F16);
 *   - `aesthete tokenize` and `aesthete info` on the sparse model, and what info says it read.
 * The RSS checks come first: ru_maxrss is the peak of the whole process.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "run.h"
#include "safetensors.h"
#include "test.h"

#define TINY "models/tiny-quickgelu"
#define TINY_F16 "models/tiny-gelu"
/* what the original implementation (the whole file mapped and hashed) gives */
#define FP_TINY "86159f324fc55ac4"
#define FP_TINY_F16 "d843a8ae0c83c99e"

static void copy_file(const char *src, const char *dst)
{
    size_t n;
    void *p = read_file(src, &n);
    CHECK_MSG(p != NULL, "cannot read %s", src);
    FILE *f = p ? fopen(dst, "wb") : NULL;
    CHECK_MSG(f != NULL, "cannot write %s", dst);
    if (f) {
        CHECK(fwrite(p, 1, n, f) == n);
        fclose(f);
    }
    free(p);
}

/* A copy of fixture model `rel` in tmp/<name>; tail > 0 extends model.safetensors by that
 * many bytes of hole after the last tensor (valid: the data section may be longer than the
 * tensors). */
static const char *copy_model(const char *rel, const char *name, off_t tail)
{
    const char *d = test_tmp(name);
    mkdir(d, 0755);
    const char *files[] = {"config.json", "preprocessor_config.json", "vocab.json",
                           "merges.txt", "model.safetensors"};
    char src[4200], dst[4200];
    for (int i = 0; i < 5; i++) {
        snprintf(src, sizeof src, "%s/%s", fixture(rel), files[i]);
        snprintf(dst, sizeof dst, "%s/%s", d, files[i]);
        if (access(src, F_OK) == 0) copy_file(src, dst);
    }
    if (tail > 0) {
        struct stat sb;
        CHECK(stat(dst, &sb) == 0);
        CHECK(truncate(dst, sb.st_size + tail) == 0);
    }
    return d;
}

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Bytes this process has read with read/pread so far (/proc/self/io rchar), or -1. */
static long long rchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return -1;
    char line[128];
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "rchar: %lld", &v) == 1) break;
    fclose(f);
    return v;
}

static ae_model *load(const char *dir, int text, int vision, int tokenizer, int no_fp)
{
    ae_model_params p = ae_model_default_params();
    p.load_text = text;
    p.load_vision = vision;
    p.load_tokenizer = tokenizer;
    p.no_fingerprint = no_fp;
    ae_model *m = NULL;
    ae_clear_error();
    int rc = ae_model_load(dir, &p, &m);
    CHECK_MSG(rc == AE_OK, "%s (%d %d %d %d): %s", dir, text, vision, tokenizer, no_fp,
              ae_last_error());
    return m;
}

static const char *fp_of(const ae_model *m)
{
    static ae_model_info info;
    ae_model_get_info(m, &info);
    return info.fingerprint;
}

/* ---- memory --------------------------------------------------------------------------- */

static void test_memory(void)
{
    const off_t GIB = (off_t)1 << 30;
    const char *dir = copy_model(TINY, "sparse", GIB);
    long base = peak_kib();

    /* tokenizing: the configs, the tokenizer files and the safetensors header only */
    long long r0 = rchar();
    ae_model *m = load(dir, 0, 0, 1, 1);
    long long r1 = rchar();
    if (m) {
        CHECK(fp_of(m)[0] == 0);
        int32_t ids[16];
        size_t n = 0;
        CHECK_EQ_INT(ae_tokenize(m, "a outstanding picture", 21, 1, ids, 16, &n), AE_OK);
        CHECK(n == 5 && ids[0] == 49406 && ids[1] == 320 && ids[2] == 6387 && ids[4] == 49407);
        ae_model_info i;
        ae_model_get_info(m, &i);
        CHECK_EQ_INT(i.n_params, 4104873);
        CHECK_EQ_INT(i.file_size, 16428372 + GIB);
        CHECK(i.text.loaded == 0 && i.vision.loaded == 0);
        CHECK(i.text.n_params > 0 && i.vision.n_params > 0 && i.text.n_params + i.vision.n_params < i.n_params + 1);
        ae_model_free(m);
    }
    if (r0 >= 0 && r1 >= 0) {
        printf("tokenizer-only load read %lld bytes (model.safetensors is %lld)\n", r1 - r0,
               (long long)(16428372 + GIB));
        CHECK_MSG(r1 - r0 < (8 << 20), "read %lld bytes", r1 - r0); /* vocab + merges: 1.4 MB */
    }

    /* describing it: the whole file is read for the fingerprint, but never held */
    m = load(dir, 0, 0, 0, 0);
    if (m) {
        CHECK_EQ_INT(strlen(fp_of(m)), 16);
        CHECK(strcmp(fp_of(m), FP_TINY) != 0); /* the tail is part of the file */
        ae_model_free(m);
    }
    long after_info = peak_kib();
    printf("peak RSS %ld KiB before, %ld KiB after hashing a 1 GiB file\n", base, after_info);
    CHECK_MSG(after_info - base < 64 * 1024, "peak RSS grew by %ld KiB", after_info - base);

    /* the vision tower of it: only the tensors it needs are read, and nothing is kept */
    m = load(dir, 0, 1, 0, 0);
    long after_vision = peak_kib();
    printf("peak RSS %ld KiB after loading the vision tower\n", after_vision);
    CHECK_MSG(after_vision - base < 128 * 1024, "peak RSS grew by %ld KiB", after_vision - base);
    ae_model_free(m);

    /* the command line: tokenize and info work on it, info says what it read */
    run_result r = RUN("tokenize", "--model", dir, "a outstanding picture");
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "\"ids\": [49406, 320, 6387, 1674, 49407]");
    run_free(&r);
    r = RUN("info", "--model", dir);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "not mapped); no weights loaded");
    CHECK_STR_CONTAINS(r.out, "4104873 parameters");
    run_free(&r);
}

/* The process's resident memory now (not the peak), in KiB. */
static long rss_kib(void)
{
    long pages = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    if (f) fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The text tower without its token embedding: loading it holds what loading the tokenizer
 * alone holds and the tower's other weights (0.3 MB), not the table's 14 MB (49408 x 72
 * floats), which it used to copy. Resident memory after each load, with what was freed given
 * back (the loads' transient buffers, memory freed earlier in the process). */
static void test_text_resident(void)
{
    malloc_trim(0);
    long r0 = rss_kib();
    ae_model *tok = load(fixture(TINY), 0, 0, 1, 0);
    malloc_trim(0);
    long r1 = rss_kib();
    ae_model *text = load(fixture(TINY), 1, 0, 0, 0);
    malloc_trim(0);
    long r2 = rss_kib();
    long table = 49408L * 72 * 4 / 1024;
    printf("resident: tokenizer alone +%ld KiB, text tower +%ld KiB (its token table: %ld KiB)\n",
           r1 - r0, r2 - r1, table);
    CHECK(r0 > 0 && tok && text);
    CHECK_MSG((r2 - r1) - (r1 - r0) < table / 4, "the text tower holds %ld KiB more than the "
              "tokenizer", (r2 - r1) - (r1 - r0));
    ae_model_free(text);
    ae_model_free(tok);
}

/* ---- the fingerprint ------------------------------------------------------------------- */

static void test_fingerprint(void)
{
    const char *rels[] = {TINY, TINY_F16}, *want[] = {FP_TINY, FP_TINY_F16};
    for (int k = 0; k < 2; k++) {
        const int towers[][2] = {{1, 1}, {0, 1}, {1, 0}, {0, 0}};
        for (int t = 0; t < 4; t++) {
            ae_model *m = load(fixture(rels[k]), towers[t][0], towers[t][1], 0, 0);
            if (!m) continue;
            CHECK_MSG(strcmp(fp_of(m), want[k]) == 0, "%s (%d, %d): fingerprint %s, expected %s",
                      rels[k], towers[t][0], towers[t][1], fp_of(m), want[k]);
            ae_model_free(m);
        }
        /* computed when a tower is added to a model loaded without it */
        ae_model *m = load(fixture(rels[k]), 0, 0, 1, 1);
        if (m) {
            CHECK(fp_of(m)[0] == 0);
            CHECK_EQ_INT(ae_model_set_towers(m, 0, 1), AE_OK);
            CHECK(strcmp(fp_of(m), want[k]) == 0);
            ae_model_free(m);
        }
    }
    /* no_fingerprint is for models without towers */
    ae_model_params p = ae_model_default_params();
    p.no_fingerprint = 1;
    ae_model *m = (ae_model *)1;
    CHECK_EQ_INT(ae_model_load(fixture(TINY), &p, &m), AE_ERR_INVALID);
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(ae_last_error(), "no_fingerprint");
}

/* ---- towers added and dropped ------------------------------------------------------------ */

static const char *const prompts[] = {
    "a outstanding picture", "a horrible picture", "a outstanding picture, of a #lobby",
    "a horrible picture, of a #lobby", "a outstanding picture, of a #infinity pool", "", "x"};
enum { NP = sizeof prompts / sizeof *prompts };

static void test_lazy(const char *rel)
{
    ae_model *full = load(fixture(rel), 1, 1, 0, 0), *m = load(fixture(rel), 0, 1, 0, 0);
    if (!full || !m) {
        ae_model_free(full);
        ae_model_free(m);
        return;
    }
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = 2;
    ae_session *sf = NULL, *s = NULL;
    CHECK_EQ_INT(ae_session_new(full, &sp, &sf), AE_OK);
    CHECK_EQ_INT(ae_session_new(m, &sp, &s), AE_OK);
    int32_t E = ae_model_embed_dim(full);
    float *want = malloc(sizeof(float) * NP * E), *got = malloc(sizeof(float) * NP * E);
    CHECK_EQ_INT(ae_encode_texts(sf, prompts, NP, want), AE_OK);

    /* vision only: text refused */
    CHECK_EQ_INT(ae_encode_texts(s, prompts, NP, got), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "ae_encode_texts: the text tower was not loaded");
    size_t n = 0;
    CHECK_EQ_INT(ae_tokenize(m, "x", 1, 1, NULL, 0, &n), AE_ERR_INVALID);

    /* the text tower added later, the session made before: the same embeddings, exactly */
    CHECK_EQ_INT(ae_model_set_towers(m, 1, 1), AE_OK);
    CHECK(m->has_text && m->has_vision);
    CHECK_EQ_INT(ae_encode_texts(s, prompts, NP, got), AE_OK);
    CHECK_MSG(memcmp(got, want, sizeof(float) * NP * E) == 0, "%s: lazy text embeddings differ", rel);
    /* images are unaffected */
    size_t px = ae_model_pixels_size(m);
    float *pix = malloc(sizeof(float) * px), *ie = malloc(sizeof(float) * E),
          *ie2 = malloc(sizeof(float) * E);
    for (size_t i = 0; i < px; i++) pix[i] = (float)((int)(i * 7919 % 255) - 127) / 64.0f;
    CHECK_EQ_INT(ae_encode_images(sf, pix, 1, ie), AE_OK);
    CHECK_EQ_INT(ae_encode_images(s, pix, 1, ie2), AE_OK);
    CHECK(memcmp(ie, ie2, sizeof(float) * E) == 0);

    /* the vision tower dropped: images refused, texts still exact */
    CHECK_EQ_INT(ae_model_set_towers(m, 1, 0), AE_OK);
    CHECK_EQ_INT(ae_encode_images(s, pix, 1, ie2), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "ae_encode_images: the vision tower was not loaded");
    memset(got, 0, sizeof(float) * NP * E);
    CHECK_EQ_INT(ae_encode_texts(s, prompts, NP, got), AE_OK);
    CHECK(memcmp(got, want, sizeof(float) * NP * E) == 0);
    ae_model_info info;
    ae_model_get_info(m, &info);
    CHECK(info.text.loaded == 1 && info.vision.loaded == 0 && info.vision.hidden_size > 0);

    /* both dropped, then the vision tower back: the same image embedding */
    CHECK_EQ_INT(ae_model_set_towers(m, 0, 0), AE_OK);
    CHECK_EQ_INT(ae_encode_tokens(s, (const int32_t *const[]){(const int32_t[]){49406, 49407}},
                                  (const int32_t[]){2}, 1, got),
                 AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "text tower was not loaded");
    CHECK_EQ_INT(ae_model_set_towers(m, 0, 1), AE_OK);
    CHECK_EQ_INT(ae_encode_images(s, pix, 1, ie2), AE_OK);
    CHECK(memcmp(ie, ie2, sizeof(float) * E) == 0);
    CHECK_EQ_INT(ae_model_set_towers(NULL, 1, 1), AE_ERR_INVALID);

    free(pix), free(ie), free(ie2), free(want), free(got);
    ae_session_free(s);
    ae_session_free(sf);
    ae_model_free(m);
    ae_model_free(full);
}

/* A tower is loaded from the file the model was loaded from, or not at all. */
static void test_changed_file(void)
{
    const char *dir = copy_model(TINY, "changing", 0);
    ae_model *m = load(dir, 0, 1, 0, 0);
    if (!m) return;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000000, .tv_nsec = 0}};
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0); /* same bytes, another mtime */
    CHECK_EQ_INT(ae_model_set_towers(m, 1, 1), AE_ERR_MODEL);
    CHECK_STR_CONTAINS(ae_last_error(), "changed since the model was loaded");
    CHECK_STR_CONTAINS(ae_last_error(), FP_TINY);
    CHECK(!m->has_text && m->has_vision);
    /* dropping needs no file */
    CHECK_EQ_INT(ae_model_set_towers(m, 0, 0), AE_OK);
    ae_model_free(m);
    /* a missing file */
    m = load(dir, 0, 0, 0, 0);
    if (!m) return;
    unlink(path);
    CHECK_EQ_INT(ae_model_set_towers(m, 1, 0), AE_ERR_NOT_FOUND);
    CHECK_STR_CONTAINS(ae_last_error(), "model.safetensors: missing");
    ae_model_free(m);
}

/* ---- the token embedding, read from the file loaded ---------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* opendir's own */
}

static void test_token_file(void)
{
    int32_t E = 40;
    float want[NP * 40], got[NP * 40];
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = 2;
    char path[4200];

    /* truncated under the loaded model: the rows past the end cannot be read */
    const char *dir = copy_model(TINY, "tokens-truncated", 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ae_model *m = load(dir, 1, 0, 0, 0);
    ae_session *s = NULL;
    if (!m || ae_session_new(m, &sp, &s) != AE_OK) {
        CHECK(0);
        ae_model_free(m);
        return;
    }
    CHECK_EQ_INT(ae_model_embed_dim(m), E);
    CHECK_EQ_INT(ae_encode_texts(s, prompts, NP, want), AE_OK);
    st_file st;
    CHECK_EQ_INT(st_open_header(&st, path), AE_OK);
    const st_tensor *t = st_get(&st, "text_model.embeddings.token_embedding.weight");
    CHECK(t != NULL && t->dtype == ST_F32);
    off_t cut = t ? (off_t)t->offset + 1000 * 72 * 4 : 0; /* rows 0..999 stay */
    st_close(&st);
    CHECK(truncate(path, cut) == 0);
    char msg[4400];
    snprintf(msg, sizeof msg, "%s: tensor text_model.embeddings.token_embedding.weight: "
             "unexpected end of file (did it change?)", path);
    ae_clear_error();
    CHECK_EQ_INT(ae_encode_texts(s, prompts, NP, got), AE_ERR_IO);
    CHECK_MSG(strcmp(ae_last_error(), msg) == 0, "ae_encode_texts: %s", ae_last_error());
    const int32_t ids[] = {49406, 320, 49407}, n_ids = 3, low[] = {0, 5, 999}; /* 49406: past it */
    const int32_t *idp = ids, *lowp = low;
    ae_clear_error();
    CHECK_EQ_INT(ae_encode_tokens(s, &idp, &n_ids, 1, got), AE_ERR_IO);
    CHECK_MSG(strcmp(ae_last_error(), msg) == 0, "ae_encode_tokens: %s", ae_last_error());
    CHECK(strchr(ae_last_error(), '\n') == NULL);
    CHECK_EQ_INT(ae_encode_tokens(s, &lowp, &n_ids, 1, got), AE_OK); /* rows still there */
    ae_session_free(s);
    ae_model_free(m);

    /* another model renamed over the file: the loaded model reads the file it was loaded from */
    dir = copy_model(TINY, "tokens-renamed", 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    m = load(dir, 1, 0, 0, 0);
    s = NULL;
    if (!m || ae_session_new(m, &sp, &s) != AE_OK) {
        CHECK(0);
        ae_model_free(m);
        return;
    }
    size_t n;
    uint8_t *raw = read_file(path, &n);
    CHECK_EQ_INT(st_open_header(&st, path), AE_OK);
    t = st_get(&st, "text_model.embeddings.token_embedding.weight");
    if (raw && t)
        for (size_t k = 3; k < t->nbytes; k += 4) raw[t->offset + k] ^= 0x80; /* rows negated */
    st_close(&st);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "wb");
    CHECK(f && raw && fwrite(raw, 1, n, f) == n);
    if (f) fclose(f);
    free(raw);
    CHECK(rename(tmp, path) == 0);
    CHECK_EQ_INT(ae_encode_texts(s, prompts, NP, got), AE_OK);
    CHECK_MSG(memcmp(got, want, sizeof got) == 0, "embeddings changed with the renamed file");
    ae_model *m2 = load(dir, 1, 0, 0, 0); /* the new file does give other embeddings */
    ae_session *s2 = NULL;
    if (m2 && ae_session_new(m2, &sp, &s2) == AE_OK) {
        CHECK_EQ_INT(ae_encode_texts(s2, prompts, NP, got), AE_OK);
        CHECK(memcmp(got, want, sizeof got) != 0);
    }
    ae_session_free(s2);
    ae_model_free(m2);
    ae_session_free(s);
    ae_model_free(m);

    /* the descriptor: held by the text tower, closed when it is dropped or the model freed */
    int n0 = count_fds();
    m = load(fixture(TINY), 1, 1, 0, 0);
    CHECK_EQ_INT(count_fds(), n0 + 1);
    CHECK_EQ_INT(ae_model_set_towers(m, 1, 0), AE_OK);
    CHECK_EQ_INT(count_fds(), n0 + 1);
    CHECK_EQ_INT(ae_model_set_towers(m, 0, 1), AE_OK);
    CHECK_EQ_INT(count_fds(), n0);
    CHECK_EQ_INT(ae_model_set_towers(m, 1, 1), AE_OK);
    CHECK_EQ_INT(count_fds(), n0 + 1);
    ae_model_free(m);
    CHECK_EQ_INT(count_fds(), n0);
    m = load(fixture(TINY), 0, 1, 0, 0);
    CHECK_EQ_INT(count_fds(), n0);
    ae_model_free(m);
}

/* ---- the header reader -------------------------------------------------------------------- */

static void test_header_reader(const char *rel, const char *cut_name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", fixture(rel));
    st_file a, b;
    CHECK_EQ_INT(st_open(&a, path), AE_OK);
    CHECK_EQ_INT(st_open_header(&b, path), AE_OK);
    CHECK_EQ_INT(a.n_tensors, b.n_tensors);
    CHECK(a.header_size == b.header_size && a.size == b.size && b.has_fd && !b.owned);
    size_t checked = 0;
    for (int32_t i = 0; i < a.n_tensors && i < b.n_tensors; i++) {
        const st_tensor *ta = &a.tensors[i], *tb = &b.tensors[i];
        CHECK(strcmp(ta->name, tb->name) == 0 && ta->dtype == tb->dtype && ta->numel == tb->numel);
        CHECK(tb->data == NULL && ta->data == a.base + ta->offset && ta->offset == tb->offset);
        if (ta->dtype != ST_F32 && ta->dtype != ST_F16 && ta->dtype != ST_BF16) continue;
        size_t n = (size_t)ta->numel;
        float *x = malloc(n * sizeof(float) + 4), *y = malloc(n * sizeof(float) + 4);
        st_to_f32(ta, x);
        CHECK_EQ_INT(st_read_f32(&b, tb, y), AE_OK);
        CHECK_MSG(memcmp(x, y, n * sizeof(float)) == 0, "%s: %s differs", rel, ta->name);
        checked++;
        free(x), free(y);
    }
    CHECK(checked > 10);
    st_close(&a);
    st_close(&b);
    /* the same validation: a truncated header, a truncated data section */
    const char *cut = test_tmp(cut_name);
    size_t n;
    uint8_t *raw = read_file(path, &n);
    FILE *f = fopen(cut, "wb");
    if (raw && f) {
        fwrite(raw, 1, n / 2, f);
        fclose(f);
        CHECK_EQ_INT(st_open_header(&b, cut), AE_ERR_FORMAT);
        CHECK_STR_CONTAINS(ae_last_error(), "outside the data");
        f = fopen(cut, "wb");
        fwrite(raw, 1, 100, f);
        fclose(f);
        CHECK_EQ_INT(st_open_header(&b, cut), AE_ERR_FORMAT);
        CHECK_STR_CONTAINS(ae_last_error(), "exceeds file size 100");
        f = fopen(cut, "wb");
        fwrite(raw, 1, 5, f);
        fclose(f);
        CHECK_EQ_INT(st_open_header(&b, cut), AE_ERR_FORMAT);
        CHECK_STR_CONTAINS(ae_last_error(), "file is 5 bytes");
    } else if (f) {
        fclose(f);
    }
    free(raw);
    CHECK_EQ_INT(st_open_header(&b, test_tmp("no/such.safetensors")), AE_ERR_NOT_FOUND);
    st_close(&b); /* safe on an empty struct */
}

int main(void)
{
    test_memory(); /* first: the peak RSS of the process */
    test_fingerprint();
    test_lazy(TINY);
    test_lazy(TINY_F16);
    test_changed_file();
    test_text_resident();
    test_token_file();
    test_header_reader(TINY, "cut.safetensors");
    test_header_reader(TINY_F16, "cut-f16.safetensors");
    return test_summary();
}
