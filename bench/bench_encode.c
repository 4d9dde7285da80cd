/*
 * bench_encode.c — end-to-end throughput of the encoders on a full-size ViT-B/32 (the
 * random-weight recipe of fixtures/models/b32-recipe: the same shapes and cost as
 * openai/clip-vit-base-patch32).
 *
 *   bench_encode [--threads N] [--reps N] [--only images|texts] [--cases LIST]
 *                [--batch LIST] [--texts N] [model_dir]
 *
 * --cases picks sections (comma separated): tensor, jpeg, strings, ids, bank (default all;
 * --only images = tensor,jpeg, --only texts = strings,ids,bank). --batch sets the tensor
 * batch sizes (default 1,32; at most 32). --texts N encodes the first N of the 2000 prompts
 * (the lines are then named ..._N). bench/peers.sh runs one case per process this way.
 * model_dir: a ViT-B/32 model folder; else $AE_B32_DIR (the recipe model is generated there
 * once); else the recipe model is generated into a temporary folder and deleted afterwards.
 * Measures, after a warm-up, the median of several repetitions of:
 *   - images/s from preprocessed tensors, batch 1 and batch 32;
 *   - images/s end to end from the JPEG fixture photos (read, decode, resize, crop,
 *     normalise, encode): batch 1 with ae_image_load + ae_preprocess, batch 32 with
 *     ae_load_images (decoding in parallel on the session's threads);
 *   - texts/s for the 2000 ImageNet aesthetic prompts ("a outstanding picture, of a #<class>",
 *     "a horrible picture, of a #<class>"), one call of 2000 strings: through
 *     ae_encode_texts (tokenizer included) and through ae_encode_tokens (ids given);
 *   - bank_build_s_imagenet_2000: seconds to encode the same prompts as a bank build does,
 *     the 1000 positives in one ae_encode_texts call, then the 1000 negatives in another
 *     (each call's prompts share their leading tokens, which the text encoder runs once).
 * Output lines are "name<TAB>value<TAB>unit" so bench_torch.py's can be set beside them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aesthete.h"
#include "nn/nn.h"
#include "support/b32_recipe.h"
#include "test.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* 1 if `name` is an item of the comma-separated list (NULL = every name). */
static int in_list(const char *list, const char *name)
{
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len + (e != NULL);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_encode [--threads N] [--reps N] [--only images|texts] [--cases LIST]\n"
               "                    [--batch LIST] [--texts N] [--precision P] [model_dir]\n"
               "  --threads N    session threads (default 2)\n"
               "  --precision P  fp32 (default), int8 or bf16\n"
               "  --reps N       timed repetitions (default 5; batch 1: 4x, texts: at most 3)\n"
               "  --only W       images (= --cases tensor,jpeg) or texts (= strings,ids,bank)\n"
               "  --cases LIST   tensor, jpeg, strings, ids, bank (default: all)\n"
               "  --batch LIST   tensor batch sizes, 1..32 (default: 1,32)\n"
               "  --texts N      the first N of the 2000 ImageNet prompts (default: 2000)\n"
               "  model_dir      default: $AE_B32_DIR, else a generated temporary recipe model\n");
}

static void die(const char *what)
{
    fprintf(stderr, "bench_encode: %s: %s\n", what, ae_last_error());
    exit(1);
}

/* The recipe model folder made in a temporary folder, removed at exit. */
static char tmp_model[4096];

static void remove_tmp_model(void)
{
    if (!tmp_model[0]) return;
    static const char *const files[] = {"model.safetensors", "config.json", "vocab.json",
                                        "merges.txt", "tokenizer_config.json",
                                        "preprocessor_config.json"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp_model, files[i]);
        unlink(p);
    }
    rmdir(tmp_model);
}

int main(int argc, char **argv)
{
    int threads = 2, reps = 5, ntext = 2000, precision = AE_PRECISION_FP32;
    const char *dir = NULL, *cases = NULL, *batches = "1,32";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            cases = !strcmp(argv[i], "images") ? "tensor,jpeg"
                  : !strcmp(argv[i], "texts")  ? "strings,ids,bank" : "";
        } else if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batches = argv[++i];
        else if (!strcmp(argv[i], "--texts") && i + 1 < argc) ntext = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if ((precision = ae_precision_parse(argv[++i])) < 0) {
                fprintf(stderr, "bench_encode: --precision: fp32, int8 or bf16, not %s\n", argv[i]);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        } else dir = argv[i];
    }
    if (reps < 1) reps = 1;
    if (ntext < 2 || ntext > 2000) ntext = 2000;
    ntext &= ~1; /* whole pairs */
    int bsizes[16], nb = 0;
    for (const char *p = batches; *p && nb < 16;) {
        int b = atoi(p);
        if (b < 1 || b > 32) {
            fprintf(stderr, "bench_encode: --batch: sizes are 1..32\n");
            return 2;
        }
        bsizes[nb++] = b;
        const char *e = strchr(p, ',');
        if (!e) break;
        p = e + 1;
    }
    char buf[4096];
    if (!dir) {
        const char *env = getenv("AE_B32_DIR");
        if (env && *env) {
            if (b32_recipe_dir(buf, sizeof buf, 0)) return 1;
        } else {
            const char *t = getenv("TMPDIR");
            snprintf(tmp_model, sizeof tmp_model, "%s/bench-b32-XXXXXX", t && *t ? t : "/tmp");
            if (!mkdtemp(tmp_model)) { perror("mkdtemp"); return 1; }
            atexit(remove_tmp_model);
            fprintf(stderr, "generating the B/32 recipe model in %s\n", tmp_model);
            if (b32_recipe_write(tmp_model) != 0) return 1;
            snprintf(buf, sizeof buf, "%s", tmp_model);
        }
        dir = buf;
    }

    ae_model *m;
    ae_model_params mp = ae_model_default_params();
    mp.precision = mp.text_precision = (ae_precision)precision; /* both encoders are timed */
    if (ae_model_load(dir, &mp, &m)) die(dir);
    ae_session *s;
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = threads;
    if (ae_session_new(m, &sp, &s)) die("session");
    ae_model_info info;
    ae_model_get_info(m, &info);
    printf("# aesthete %s, model %s (%lld params), kernels %s, precision %s, %d threads, median of "
           "%d\n", AE_VERSION, dir, (long long)info.n_params, nn_kernel_name(),
           ae_precision_name((ae_precision)precision), threads, reps);

    /* inputs: preprocessed tensors (from the JPEG photos), the photos' paths */
    enum { B = 32, NTEXT = 2000 };
    static const char *const photos[] = {
        "photo_boats.jpg",     "photo_chelsea_gray.jpg",    "photo_coffee_cmyk.jpg",
        "photo_exif_orient6.jpg", "photo_ladybird.jpg",     "photo_landscape.jpg",
        "photo_portrait.jpg",  "photo_rocket.jpg",          "photo_rocket_progressive.jpg"};
    enum { NP = sizeof photos / sizeof *photos };
    const char *paths[B];
    char pathbuf[B][4096];
    for (int i = 0; i < B; i++) {
        snprintf(pathbuf[i], sizeof pathbuf[i], "%s", fixture("images"));
        snprintf(pathbuf[i] + strlen(pathbuf[i]), sizeof pathbuf[i] - strlen(pathbuf[i]), "/%s",
                 photos[i % NP]);
        paths[i] = pathbuf[i];
    }
    size_t px = ae_model_pixels_size(m), E = (size_t)ae_model_embed_dim(m);
    float *pix = malloc(B * px * sizeof *pix), *emb = malloc(NTEXT * E * sizeof *emb);
    int32_t status[B];
    if ((in_list(cases, "tensor") || in_list(cases, "jpeg")) &&
        ae_load_images(s, paths, B, NULL, pix, status, NULL, 0) != 0)
        die("load images");

    double t[64];
    if (reps > 64) reps = 64;

    /* images from tensors */
    for (int k = 0; k < nb && in_list(cases, "tensor"); k++) {
        int b = bsizes[k];
        ae_encode_images(s, pix, b, emb); /* warm-up */
        int r = b == 1 ? reps * 4 : reps;
        if (r > 64) r = 64;
        for (int i = 0; i < r; i++) {
            double t0 = now();
            if (ae_encode_images(s, pix, b, emb)) die("encode images");
            t[i] = now() - t0;
        }
        printf("images_per_s_tensor_batch%d\t%.2f\timg/s\n", b, b / median(t, r));
    }

    /* images end to end from JPEG files */
    if (in_list(cases, "jpeg")) {
        ae_image_params ip = ae_image_default_params();
        for (int w = 0; w <= reps * 2; w++) { /* one warm-up, then timed, cycling photos */
            double t0 = now();
            ae_image img;
            if (ae_image_load(paths[w % NP], &ip, &img)) die(paths[w % NP]);
            if (ae_preprocess(m, &img, pix, NULL)) die("preprocess");
            ae_image_free(&img);
            if (ae_encode_images(s, pix, 1, emb)) die("encode");
            if (w) t[w - 1] = now() - t0;
        }
        printf("images_per_s_jpeg_batch1\t%.2f\timg/s\n", 1 / median(t, reps * 2));
        for (int w = 0; w <= reps; w++) {
            double t0 = now();
            if (ae_load_images(s, paths, B, NULL, pix, status, NULL, 0) != 0) die("load images");
            if (ae_encode_images(s, pix, B, emb)) die("encode");
            if (w) t[w - 1] = now() - t0;
        }
        printf("images_per_s_jpeg_batch%d\t%.2f\timg/s\n", B, B / median(t, reps));
    }

    /* the 2000 prompts */
    if (in_list(cases, "strings") || in_list(cases, "ids") || in_list(cases, "bank")) {
        size_t size;
        char *classes = read_file(fixture("tokenizer/imagenet_classes.txt"), &size);
        if (!classes) die("imagenet_classes.txt");
        char **texts = malloc(NTEXT * sizeof *texts);
        int32_t **ids = malloc(NTEXT * sizeof *ids), *n_ids = malloc(NTEXT * sizeof *n_ids);
        char *line = classes;
        for (int c = 0; c < NTEXT / 2; c++) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            if (asprintf(&texts[2 * c], "a outstanding picture, of a #%s", line) < 0 ||
                asprintf(&texts[2 * c + 1], "a horrible picture, of a #%s", line) < 0)
                die("asprintf");
            line = nl ? nl + 1 : line + strlen(line);
        }
        size_t tokens = 0;
        for (int i = 0; i < ntext; i++) {
            ids[i] = malloc(77 * sizeof **ids);
            size_t n;
            if (ae_tokenize(m, texts[i], strlen(texts[i]), 1, ids[i], 77, &n)) die("tokenize");
            n_ids[i] = (int32_t)(n > 77 ? 77 : n);
            tokens += (size_t)n_ids[i];
        }
        printf("# %d prompts, %.1f tokens on average\n", ntext, (double)tokens / ntext);
        int r = reps < 3 ? reps : 3;
        for (int w = 0; w <= r && in_list(cases, "strings"); w++) {
            double t0 = now();
            if (ae_encode_texts(s, (const char *const *)texts, ntext, emb)) die("encode texts");
            if (w) t[w - 1] = now() - t0;
        }
        if (in_list(cases, "strings"))
            printf("texts_per_s_strings_%d\t%.1f\ttexts/s\n", ntext, ntext / median(t, r));
        for (int w = 0; w <= r && in_list(cases, "ids"); w++) {
            double t0 = now();
            if (ae_encode_tokens(s, (const int32_t *const *)ids, n_ids, ntext, emb))
                die("encode tokens");
            if (w) t[w - 1] = now() - t0;
        }
        if (in_list(cases, "ids"))
            printf("texts_per_s_ids_%d\t%.1f\ttexts/s\n", ntext, ntext / median(t, r));
        const char **pn = malloc(ntext * sizeof *pn); /* positives, then negatives */
        for (int c = 0; c < ntext / 2; c++) {
            pn[c] = texts[2 * c];
            pn[ntext / 2 + c] = texts[2 * c + 1];
        }
        for (int w = 0; w <= r && in_list(cases, "bank"); w++) {
            double t0 = now();
            if (ae_encode_texts(s, pn, ntext / 2, emb) ||
                ae_encode_texts(s, pn + ntext / 2, ntext / 2, emb + (size_t)ntext / 2 * E))
                die("encode bank texts");
            if (w) t[w - 1] = now() - t0;
        }
        if (in_list(cases, "bank"))
            printf("bank_build_s_imagenet_%d\t%.3f\ts\n", ntext, median(t, r));
        free(pn);
        for (int i = 0; i < NTEXT; i++) {
            free(texts[i]);
            if (i < ntext) free(ids[i]);
        }
        free(texts);
        free(ids);
        free(n_ids);
        free(classes);
    }
    free(pix);
    free(emb);
    ae_session_free(s);
    ae_model_free(m);
    return 0;
}
