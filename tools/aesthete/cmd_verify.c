/*
 * cmd_verify.c — `aesthete verify`: how much a reduced precision (int8, bf16) changes what a
 * model says about the user's own photos. The model is loaded twice, at float32 (the
 * reference) and with the image tower at the precision asked for (--precision) and the text
 * tower at fp32 or at --text-precision; the `fixed` and `ensemble` banks are built with the
 * same bank code as `score` (build_bank), once when the text tower is fp32 on both sides,
 * else by each side, and both sides embed the same decoded images, so the reduced side is
 * exactly what `score --precision P [--text-precision T]` computes. It prints the image-embedding
 * cosine to float32 (min, mean, the worst image), per method the Spearman rank correlation of
 * the images' scores and whether the top 3 are the same images, and a verdict against gates:
 *
 *   cosine min >= 0.999 PASS, >= 0.995 WARN, else FAIL;
 *   per method: Spearman >= 0.99 and the same top 3 (as a set) PASS, else FAIL;
 *   the verdict is the worst of the three. Exit status 0 PASS or WARN, 1 FAIL, 2 usage or
 *   fatal error (fewer than 2 readable images included: a rank correlation needs two).
 *
 * It also prints what the precision buys on this CPU: each side's images/s over the same
 * batches (a rough figure, the first batch's warm-up included; bench_encode gives a steady
 * one), and a note when the reduced side was not faster (bf16 on a CPU whose vdpbf16ps runs
 * at a fraction of its FMAs' rate, as on Xeons without AMX).
 *
 * Images that cannot be read are reported on stderr (one line each, as `score` does) and
 * left out; they do not change the exit status.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scoring.h"
#include "stats.h"

#define CHUNK 32 /* images decoded, then encoded by both models, per batch */

#define GATE_COS_PASS 0.999
#define GATE_COS_WARN 0.995
#define GATE_SPEARMAN 0.99
#define TOP 3

enum { PASS, WARN, FAIL };
static const char *const gate_name[] = {"PASS", "WARN", "FAIL"};

static void help(void)
{
    printf("usage: aesthete verify --precision int8|bf16 [--text-precision P] [OPTIONS] IMAGE...\n\n"
           "Checks a reduced precision on your own photos, once per model: loads the model at\n"
           "fp32 and with the image tower at the precision given, embeds the images with both\n"
           "and compares\n"
           "  - the image embeddings: cosine to fp32 (min, mean, the worst image);\n"
           "  - the fixed and ensemble scores: Spearman rank correlation of the images' scores\n"
           "    fp32 vs reduced, and whether the top %d are the same images.\n"
           "The text tower stays fp32, as 'score --precision P' runs it: both sides score with\n"
           "the same banks. With --text-precision int8|bf16 the reduced side encodes its own\n"
           "banks at it (the ensemble: 2 prompts per class), and the scores' figures include\n"
           "the text side.\n\n"
           "Gates: cosine min >= %g PASS, >= %g WARN, below FAIL; per method Spearman >= %g and\n"
           "the same top %d PASS, else FAIL. The verdict is the worst of the three.\n"
           "It also prints both sides' speed on these images (images/s, image tower only):\n"
           "a reduced precision that is not faster than fp32 on this CPU is worth nothing.\n\n"
           "  --precision P        the image tower's: int8 or bf16 (default: $AESTHETE_PRECISION\n"
           "                       when it is one of them, else required; bf16 needs a CPU with\n"
           "                       AVX512_BF16)\n"
           "  --text-precision P   the text tower's: fp32 (default), int8 or bf16\n"
           "  -m, --model M        model directory or Hugging Face repo id org/name[@revision]\n"
           "                       (default: $AESTHETE_MODEL or %s)\n"
           "  --classes FILE       class list of the ensemble: TXT, CSV, TSV or XLSX\n"
           "                       (default: the 1000 ImageNet classes)\n"
           "  --column NAME        the column of a CSV/TSV/XLSX class list, by its header\n"
           "                       (default: the one column of text besides an index)\n"
           "  --threads N          worker threads (default: 0 = all cores)\n"
           "  --no-exif-rotate     ignore EXIF orientation (bit-exact with transformers)\n"
           "  --max-pixels N       refuse images larger than N pixels (default: 100e6)\n"
           "  --json               one JSON object (with every image's figures) instead of text\n"
           "  -h, --help           this text\n\n"
           "At least 2 readable images are needed (the rank correlation compares orderings);\n"
           "use as many of your own photos as you can: with few, one swap of two close scores\n"
           "moves Spearman a lot (10 images: one swap of neighbours gives 0.988). Images that\n"
           "cannot be read are reported on stderr and left out.\n"
           "Exit status: 0 PASS or WARN, 1 FAIL, 2 usage or fatal error.\n",
           TOP, GATE_COS_PASS, GATE_COS_WARN, GATE_SPEARMAN, TOP, DEFAULT_MODEL);
}

/* One side of the comparison: a model (vision tower after the banks are built), its session
 * and its two banks (another side's when shared). */
typedef struct side {
    ae_model *model;
    ae_session *session;
    ae_head *bank[2]; /* fixed, ensemble */
    int shared;       /* the banks belong to another side */
} side;

static const ae_method methods[2] = {AE_METHOD_FIXED, AE_METHOD_ENSEMBLE};

static void side_free(side *s)
{
    for (int i = 0; i < 2 && !s->shared; i++) ae_head_free(s->bank[i]);
    ae_session_free(s->session);
    ae_model_free(s->model);
    memset(s, 0, sizeof *s);
}

static int new_session(side *s, long threads)
{
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = (int32_t)threads;
    if (ae_session_new(s->model, &sp, &s->session) == AE_OK) return 0;
    cli_error("%s", ae_last_error());
    return EXIT_USAGE;
}

/* Loads the text tower at tp, builds both banks with build_bank (score's code), then swaps
 * the text tower for the vision tower at p (never both held at once). With `banks` (a side
 * whose text tower ran at tp too), its banks are taken instead: the same numbers, and 2000
 * ensemble prompts not encoded again. */
static int side_open(side *s, const char *model, ae_precision p, ae_precision tp,
                     const score_opts *base, const side *banks)
{
    memset(s, 0, sizeof *s);
    ae_model_params mp = ae_model_default_params();
    mp.load_text = !banks;
    mp.load_vision = !!banks;
    mp.precision = p;
    mp.text_precision = tp;
    int rc;
    if (!(s->model = cli_load_model_params(model, &mp))) return EXIT_USAGE;
    if (banks) {
        s->bank[0] = banks->bank[0], s->bank[1] = banks->bank[1];
        s->shared = 1;
        return new_session(s, base->threads);
    }
    if ((rc = new_session(s, base->threads))) return rc;
    scorer sc = {.model = s->model, .session = s->session};
    for (int i = 0; i < 2; i++) {
        score_opts o = *base;
        o.method = (int)methods[i];
        if (methods[i] == AE_METHOD_FIXED) o.classes_path = NULL, o.column = NULL;
        if ((rc = build_bank(&sc, &o, &s->bank[i], 0))) return rc;
    }
    ae_session_free(s->session); /* its scratch was sized for the text tower */
    s->session = NULL;
    if (ae_model_set_towers(s->model, 0, 1) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    return new_session(s, base->threads);
}

/* ---- statistics ---- */

static double cosine(const float *a, const float *b, int32_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int32_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1 : 0);
}

/* The indices of v sorted by value, best (largest) first, ties by input order. */
static int order_of(const double *v, int32_t n, int32_t *order)
{
    double *neg = malloc((size_t)n * sizeof *neg);
    if (!neg) return -1;
    for (int32_t i = 0; i < n; i++) neg[i] = -v[i];
    int rc = stats_order(neg, n, order);
    free(neg);
    return rc != AE_OK ? -1 : 0;
}

static int constant(const double *v, int32_t n)
{
    for (int32_t i = 1; i < n; i++)
        if (v[i] != v[0]) return 0;
    return 1;
}

/* Spearman (stats.c, as scipy); where it is undefined two constant lists agree (1) and a
 * constant and a varying one do not (0). */
static double spearman(const double *a, const double *b, int32_t n)
{
    double r = stats_spearman(a, b, n);
    if (isnan(r)) r = constant(a, n) == constant(b, n);
    return r;
}

typedef struct method_result {
    double spearman, max_change;
    int32_t top_ref[TOP], top_red[TOP], k; /* k = min(TOP, n) */
    int top_same, gate;
} method_result;

static int compare_method(const double *ref, const double *red, int32_t n, method_result *r)
{
    int32_t *oa = malloc((size_t)n * sizeof *oa), *ob = malloc((size_t)n * sizeof *ob);
    int rc = -1;
    if (!oa || !ob || order_of(ref, n, oa) || order_of(red, n, ob)) goto done;
    r->spearman = spearman(ref, red, n);
    r->max_change = 0;
    for (int32_t i = 0; i < n; i++) r->max_change = fmax(r->max_change, fabs(ref[i] - red[i]));
    r->k = n < TOP ? n : TOP;
    r->top_same = 1;
    for (int32_t j = 0; j < r->k; j++) {
        r->top_ref[j] = oa[j];
        r->top_red[j] = ob[j];
    }
    for (int32_t j = 0; j < r->k; j++) { /* the same images, in any order */
        int found = 0;
        for (int32_t l = 0; l < r->k; l++) found |= r->top_red[l] == r->top_ref[j];
        r->top_same &= found;
    }
    r->gate = r->spearman >= GATE_SPEARMAN && r->top_same ? PASS : FAIL;
    rc = 0;
done:
    free(oa), free(ob);
    return rc;
}

/* ---- output ---- */

static void put_str(const char *s) { put_json_string(stdout, s, strlen(s)); }

static void put_top(const char *key, const int32_t *top, int32_t k, const char *const *names)
{
    printf("\"%s\": [", key);
    for (int32_t j = 0; j < k; j++) {
        if (j) printf(", ");
        put_str(names[top[j]]);
    }
    printf("]");
}

static void text_top(const int32_t *top, int32_t k, const char *const *names)
{
    for (int32_t j = 0; j < k; j++) printf("%s%s", j ? ", " : "", names[top[j]]);
}

int cmd_verify(int argc, char **argv)
{
    enum { OPT_JSON = OPT_COMMAND };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},     {"precision", required_argument, 0, OPT_PRECISION},
        {"text-precision", required_argument, 0, OPT_TEXT_PRECISION},
        {"threads", required_argument, 0, OPT_THREADS},   {"classes", required_argument, 0, OPT_CLASSES},
        {"column", required_argument, 0, OPT_COLUMN},    {"no-exif-rotate", no_argument, 0, OPT_NO_EXIF_ROTATE},
        {"max-pixels", required_argument, 0, OPT_MAX_PIXELS}, {"json", no_argument, 0, OPT_JSON},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    int json = 0, prec = -1, tprec = AE_PRECISION_FP32, c; /* tprec: no variable, as elsewhere */
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case OPT_PRECISION:
            prec = ae_precision_parse(optarg);
            if (prec == AE_PRECISION_FP32)
                return cli_usage_error("verify", "--precision: fp32 is the reference; give int8 or bf16");
            if (prec < 0) return cli_usage_error("verify", "--precision: '%s' is not int8 or bf16", optarg);
            break;
        case OPT_TEXT_PRECISION:
            if ((tprec = cli_parse_precision("verify", "--text-precision", optarg)) < 0) return EXIT_USAGE;
            break;
        case OPT_THREADS: if (cli_parse_int("verify", "--threads", optarg, 0, 1024, &o.threads)) return EXIT_USAGE; break;
        case OPT_CLASSES: o.classes_path = optarg; break;
        case OPT_COLUMN: o.column = optarg; break;
        case OPT_NO_EXIF_ROTATE: o.image.exif_rotate = 0; break;
        case OPT_MAX_PIXELS:
            if (cli_parse_int("verify", "--max-pixels", optarg, 1, 1L << 40, &v)) return EXIT_USAGE;
            o.image.max_pixels = (uint64_t)v;
            break;
        case OPT_JSON: json = 1; break;
        case 'h': help(); return EXIT_ALL_OK;
        default: return cli_bad_option("verify", c, argc, argv);
        }
    }
    if (prec < 0 && (prec = cli_precision(-1)) < 0) return EXIT_USAGE; /* $AESTHETE_PRECISION */
    if (prec == AE_PRECISION_FP32)
        return cli_usage_error("verify", "--precision int8|bf16 is required (or $AESTHETE_PRECISION "
                                         "set to one of them)");
    int n = argc - optind;
    if (n == 0) return cli_usage_error("verify", "no IMAGE given");
    if (n < 2)
        return cli_usage_error("verify", "needs at least 2 images: the Spearman rank correlation "
                                         "compares the order of their scores (1 given)");
    if (ae_precision_check((ae_precision)prec) != AE_OK || ae_precision_check((ae_precision)tprec) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    char **paths = argv + optind;

    side ref = {0}, red = {0};
    int rc = EXIT_USAGE;
    float *pix = NULL, *emb[2] = {NULL, NULL};
    double *score[2][2] = {{NULL, NULL}, {NULL, NULL}}, *cos = NULL; /* [method][side] */
    int32_t *ok_idx = NULL, n_ok = 0, status[CHUNK];
    double secs[2] = {0, 0}; /* encoding time of each side */
    char **err = calloc((size_t)n, sizeof *err);
    enum { MSG = 512 };
    char *msgs = malloc((size_t)CHUNK * MSG);
    if (!err || !msgs) goto oom;
    if ((rc = side_open(&ref, o.model, AE_PRECISION_FP32, AE_PRECISION_FP32, &o, NULL)) ||
        (rc = side_open(&red, o.model, (ae_precision)prec, (ae_precision)tprec, &o,
                        tprec == AE_PRECISION_FP32 ? &ref : NULL)))
        goto done;
    rc = EXIT_USAGE;

    const int32_t E = ae_model_embed_dim(ref.model);
    const size_t px = ae_model_pixels_size(ref.model);
    pix = malloc(sizeof(float) * px * CHUNK);
    emb[0] = malloc(sizeof(float) * (size_t)E * (size_t)n);
    emb[1] = malloc(sizeof(float) * (size_t)E * (size_t)n);
    ok_idx = malloc(sizeof(int32_t) * (size_t)n);
    if (!pix || !emb[0] || !emb[1] || !ok_idx) goto oom;

    /* decode each batch once, encode it with both models */
    for (int base = 0; base < n; base += CHUNK) {
        int cn = n - base < CHUNK ? n - base : CHUNK, k = 0;
        ae_load_images(ref.session, (const char *const *)paths + base, cn, &o.image, pix, status,
                       msgs, MSG);
        for (int i = 0; i < cn; i++) {
            if (status[i] != AE_OK) {
                cli_error("%s", msgs + (size_t)i * MSG);
                err[base + i] = strdup(msgs + (size_t)i * MSG);
                continue;
            }
            if (k != i) memcpy(pix + (size_t)k * px, pix + (size_t)i * px, sizeof(float) * px);
            ok_idx[n_ok + k++] = base + i;
        }
        if (!k) continue;
        for (int s = 0; s < 2; s++) {
            const double t0 = cli_now();
            if (ae_encode_images(s ? red.session : ref.session, pix, k, emb[s] + (size_t)n_ok * E) != AE_OK) {
                cli_error("%s", ae_last_error());
                goto done;
            }
            secs[s] += cli_now() - t0;
        }
        n_ok += k;
    }
    if (n_ok < 2) {
        cli_error("only %d of %d images could be read; the Spearman rank correlation needs at "
                  "least 2", (int)n_ok, n);
        goto done;
    }

    /* scores, each side with its own banks */
    cos = malloc(sizeof(double) * (size_t)n_ok);
    ae_score *sc = malloc(sizeof(ae_score) * (size_t)n_ok);
    if (!cos || !sc) {
        free(sc);
        goto oom;
    }
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 2; s++) {
            side *sd = s ? &red : &ref;
            if (!(score[m][s] = malloc(sizeof(double) * (size_t)n_ok)) ||
                ae_head_score(sd->bank[m], emb[s], n_ok, sc) != AE_OK) {
                cli_error("%s", score[m][s] ? ae_last_error() : "out of memory");
                free(sc);
                goto done;
            }
            for (int32_t i = 0; i < n_ok; i++) score[m][s][i] = sc[i].score;
        }
    free(sc);

    double cmin = 2, cmean = 0;
    int32_t worst = 0;
    for (int32_t i = 0; i < n_ok; i++) {
        cos[i] = cosine(emb[0] + (size_t)i * E, emb[1] + (size_t)i * E, E);
        cmean += cos[i] / n_ok;
        if (cos[i] < cmin) cmin = cos[i], worst = i;
    }
    int cgate = cmin >= GATE_COS_PASS ? PASS : cmin >= GATE_COS_WARN ? WARN : FAIL;
    method_result mr[2];
    for (int m = 0; m < 2; m++)
        if (compare_method(score[m][0], score[m][1], n_ok, &mr[m])) goto oom;
    int verdict = cgate;
    for (int m = 0; m < 2; m++) verdict = mr[m].gate > verdict ? mr[m].gate : verdict;

    const char **names = malloc(sizeof(char *) * (size_t)n_ok);
    if (!names) goto oom;
    for (int32_t i = 0; i < n_ok; i++) names[i] = paths[ok_idx[i]];
    ae_model_info info;
    ae_model_get_info(ref.model, &info);
    ae_head_info bi;
    ae_head_get_info(ref.bank[1], &bi);
    const char *pname = ae_precision_name((ae_precision)prec), *tname = ae_precision_name((ae_precision)tprec);
    double rate[2]; /* images/s; a clock that did not move counts as infinitely fast */
    for (int s = 0; s < 2; s++) rate[s] = secs[s] > 0 ? n_ok / secs[s] : INFINITY;
    const double speedup = secs[1] > 0 ? secs[0] / secs[1] : 1;
    /* what was reduced, in the words of the report: "int8", "int8 images and texts",
     * "int8 images, bf16 texts" */
    char what[64];
    if (tprec == AE_PRECISION_FP32) snprintf(what, sizeof what, "%s", pname);
    else if (tprec == prec) snprintf(what, sizeof what, "%s images and texts", pname);
    else snprintf(what, sizeof what, "%s images, %s texts", pname, tname);
    if (json) {
        printf("{\"model\": ");
        put_str(info.dir);
        printf(", \"precision\": \"%s\", \"text_precision\": \"%s\", \"reference\": \"fp32\", "
               "\"kernels\": \"%s\", \"images\": %d, \"skipped\": [", pname, tname, ae_kernels(), (int)n_ok);
        for (int i = 0, k = 0; i < n; i++) {
            if (!err[i]) continue;
            printf("%s{\"input\": ", k++ ? ", " : "");
            put_str(paths[i]);
            printf(", \"error\": ");
            put_str(err[i]);
            printf("}");
        }
        printf("], \"cosine\": {\"min\": %.9g, \"mean\": %.9g, \"worst\": ", cmin, cmean);
        put_str(names[worst]);
        printf(", \"gate\": \"%s\"}", gate_name[cgate]);
        for (int m = 0; m < 2; m++) {
            printf(", \"%s\": {\"spearman\": %.9g, \"top%d_same\": %s, ", ae_method_name(methods[m]),
                   mr[m].spearman, TOP, mr[m].top_same ? "true" : "false");
            put_top("top_fp32", mr[m].top_ref, mr[m].k, names);
            printf(", ");
            put_top("top_reduced", mr[m].top_red, mr[m].k, names);
            printf(", \"max_score_change\": %.9g, ", mr[m].max_change);
            if (methods[m] == AE_METHOD_ENSEMBLE) printf("\"classes\": %d, ", (int)bi.n_classes);
            printf("\"gate\": \"%s\"}", gate_name[mr[m].gate]);
        }
        printf(", \"speed\": {\"fp32_images_per_s\": %.6g, \"reduced_images_per_s\": %.6g, \"speedup\": %.6g}",
               rate[0], rate[1], speedup);
        printf(", \"per_image\": [");
        for (int32_t i = 0; i < n_ok; i++) {
            printf(i ? ",\n  {\"input\": " : "\n  {\"input\": ");
            put_str(names[i]);
            printf(", \"cosine\": %.9g, \"fixed\": [%.9g, %.9g], \"ensemble\": [%.9g, %.9g]}",
                   cos[i], score[0][0][i], score[0][1][i], score[1][0][i], score[1][1][i]);
        }
        printf("],\n \"verdict\": \"%s\"}\n", gate_name[verdict]);
    } else {
        printf("%s against fp32: model %s, kernels %s, %d images", what, info.dir, ae_kernels(),
               (int)n_ok);
        if (n_ok < n) printf(" (%d could not be read)", n - (int)n_ok);
        if (tprec == AE_PRECISION_FP32)
            printf("\nreduced: the image tower (%s); the text tower stays fp32, both sides score with "
                   "the same banks (as 'score --precision %s')", pname, pname);
        else
            printf("\nreduced: the image tower (%s) and the text tower (%s): the reduced side scores with "
                   "banks it encoded at %s (as 'score --precision %s --text-precision %s')", pname, tname, tname,
                   pname, tname);
        printf("\n\nimage embeddings: cosine to fp32 min %.6f (%s), mean %.6f  %s (PASS >= %g, "
               "WARN >= %g)\n",
               cmin, names[worst], cmean, gate_name[cgate], GATE_COS_PASS, GATE_COS_WARN);
        for (int m = 0; m < 2; m++) {
            printf("%s", ae_method_name(methods[m]));
            if (methods[m] == AE_METHOD_ENSEMBLE) printf(" (%d classes)", (int)bi.n_classes);
            printf(": Spearman %.4f, top %d %s, scores change by at most %.3f  %s (PASS: "
                   "Spearman >= %g and the same top %d)\n",
                   mr[m].spearman, mr[m].k, mr[m].top_same ? "the same" : "differ", mr[m].max_change,
                   gate_name[mr[m].gate], GATE_SPEARMAN, TOP);
            printf("  top %d fp32: ", mr[m].k);
            text_top(mr[m].top_ref, mr[m].k, names);
            printf("\n  top %d %s: ", mr[m].k, what);
            text_top(mr[m].top_red, mr[m].k, names);
            printf("\n");
        }
        printf("\nspeed (the image tower on these images, batches of up to %d, warm-up included): fp32 %.1f "
               "images/s, %s %.1f images/s: %.2fx fp32\n", CHUNK, rate[0], pname, rate[1], speedup);
        if (speedup < 0.995) /* as printed: below 1.00 */
            printf("note: %s ran slower than fp32 on this CPU (kernels %s): fp32 is faster here, and exact\n",
                   pname, ae_kernels());
        printf("\nverdict: %s", gate_name[verdict]);
        if (verdict == PASS) printf(" (%s keeps these images' embeddings and rankings)\n", what);
        else if (verdict == WARN) printf(" (rankings kept, embeddings moved: check the scores you rely on)\n");
        else printf(" (%s changes what this model says about these images: use fp32)\n", what);
    }
    free(names);
    rc = verdict == FAIL ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    goto done;
oom:
    cli_error("out of memory");
    rc = EXIT_USAGE;
done:
    for (int m = 0; m < 2; m++) free(score[m][0]), free(score[m][1]);
    for (int i = 0; err && i < n; i++) free(err[i]);
    free(err), free(msgs), free(pix), free(emb[0]), free(emb[1]), free(ok_idx), free(cos);
    side_free(&red);
    side_free(&ref);
    return rc;
}
