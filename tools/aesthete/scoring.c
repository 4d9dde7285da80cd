/*
 * scoring.c — options, setup and output shared by `aesthete score` and `aesthete rank`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classlist.h"
#include "cli.h"
#include "recipe.h"
#include "scoring.h"

#define SCORE_OPTIONS_HELP                                                                     \
    "  -m, --model M        model directory or Hugging Face repo id org/name[@revision]\n"     \
    "                       (default: $AESTHETE_MODEL or " DEFAULT_MODEL ")\n"                 \
    "  --method M           fixed (default), context, ensemble, laion or laion-v2 (ViT-L/14)\n" \
    "  --head FILE          a head file instead of --method: a prompt bank ('aesthete bank\n"  \
    "                       build'), a trained ('aesthete train') or imported ('aesthete head\n" \
    "                       import') head; --bank FILE is the same option\n"                   \
    "  --positive ADJ       positive adjective (default: " AE_DEFAULT_POSITIVE ")\n"           \
    "  --negative ADJ       negative adjective (default: " AE_DEFAULT_NEGATIVE ")\n"           \
    "  --template T         prompt template with {adjective} (and {class} for context and\n"   \
    "                       ensemble); default \"" AE_DEFAULT_TEMPLATE_FIXED "\" or\n"         \
    "                       \"" AE_DEFAULT_TEMPLATE_CLASS "\"\n"                               \
    "  --classes FILE       class list for context/ensemble: TXT, CSV, TSV or XLSX\n"          \
    "                       (default: the 1000 ImageNet classes)\n"                            \
    "  --column NAME        the column of a CSV/TSV/XLSX class list, by its header\n"          \
    "                       (default: the one column of text besides an index)\n"              \
    "  --normalize-prompts  ensemble: average L2-normalised prompt embeddings\n"               \
    "  --laion-head H       laion: vit-b-32, vit-b-16 or vit-l-14 (default: by model)\n"       \
    "  --precision P        the image encoder's arithmetic: fp32, int8 or bf16 (bf16 needs\n"  \
    "                       a CPU with AVX512_BF16); faster, embeddings differ slightly: see\n" \
    "                       README (default: $AESTHETE_PRECISION or fp32)\n"                   \
    "  --text-precision P   the text encoder's, for the prompts of the banks built: fp32,\n"   \
    "                       int8 or bf16 (default: fp32 whatever --precision is: banks are\n"  \
    "                       encoded once, and int8 prompts reorder close scores; see README)\n" \
    "  --threads N          worker threads (default: 0 = all cores)\n"                         \
    "  --no-exif-rotate     ignore EXIF orientation (bit-exact with transformers)\n"           \
    "  --max-pixels N       refuse images larger than N pixels (default: 100e6)\n"             \
    "  --no-cache           neither read nor write the embedding cache\n"                      \
    "  --cache FILE         the cache database (default: $XDG_CACHE_HOME/aesthete/embeddings.sqlite3)\n"

/* every command but serve, whose url= inputs are public addresses only */
const char score_options_help[] = SCORE_OPTIONS_HELP
    "  --allow-private-urls fetch URLs of loopback, private and link-local addresses too (by\n"
    "                       default only public ones: a list from elsewhere cannot reach\n"
    "                       local services)\n"
    ;
const char serve_score_options_help[] = SCORE_OPTIONS_HELP;

const char output_options_help[] =
    "  -f, --format F       table, csv, tsv, jsonl or json (default: table on a terminal, else jsonl)\n"
    "  --verbose            a summary on stderr: images encoded, taken from the cache, failed, skipped\n"
    "  -q, --quiet          no progress bar and no warnings (failed inputs are still reported)\n";

void score_opts_init(score_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = -1;
    o->precision = -1;
    o->text_precision = -1;
    o->format = FMT_AUTO;
    o->image = ae_image_default_params();
}

int score_opt(score_opts *o, int c, const char *arg, const char *cmd)
{
    long v;
    switch (c) {
    case OPT_MODEL: o->model = arg; return 0;
    case OPT_METHOD:
        if ((o->method = ae_method_parse(arg)) < 0 || o->method == AE_METHOD_HEAD) {
            cli_usage_error(cmd, "--method: '%s' is not fixed, context, ensemble, laion or laion-v2", arg);
            return -1;
        }
        return 0;
    case OPT_HEAD: o->bank_path = arg; return 0;
    case OPT_POSITIVE: o->positive = arg; return 0;
    case OPT_NEGATIVE: o->negative = arg; return 0;
    case OPT_TEMPLATE: o->template_text = arg; return 0;
    case OPT_CLASSES: o->classes_path = arg; return 0;
    case OPT_COLUMN: o->column = arg; return 0;
    case OPT_NORMALIZE_PROMPTS: o->normalize_prompts = 1; return 0;
    case OPT_LAION_HEAD: o->laion_head = arg; return 0;
    case OPT_THREADS:
        if (cli_parse_int(cmd, "--threads", arg, 0, 1024, &o->threads)) return -1;
        return 0;
    case OPT_NO_EXIF_ROTATE: o->image.exif_rotate = 0; return 0;
    case OPT_MAX_PIXELS:
        if (cli_parse_int(cmd, "--max-pixels", arg, 1, 1L << 40, &v)) return -1;
        o->image.max_pixels = (uint64_t)v;
        return 0;
    case OPT_NO_CACHE: o->no_cache = 1; return 0;
    case OPT_CACHE: o->cache_path = arg; return 0;
    case OPT_VERBOSE: o->verbose = 1; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_ALLOW_PRIVATE_URLS: o->allow_private_urls = 1; return 0;
    case OPT_PRECISION: return (o->precision = cli_parse_precision(cmd, "--precision", arg)) < 0 ? -1 : 0;
    case OPT_TEXT_PRECISION: return (o->text_precision = cli_parse_precision(cmd, "--text-precision", arg)) < 0 ? -1 : 0;
    case OPT_FORMAT: {
        static const char *names[] = {"table", "csv", "tsv", "jsonl", "json"};
        for (int i = 0; i < 5; i++)
            if (!strcmp(arg, names[i])) {
                o->format = (out_format)i;
                return 0;
            }
        cli_usage_error(cmd, "--format: '%s' is not table, csv, tsv, jsonl or json", arg);
        return -1;
    }
    default: return 1;
    }
}

/* ---- banks ---- */

static void bank_progress(void *ctx, int64_t done, int64_t total)
{
    progress_update(ctx, done);
}

/* The recipe of the options (the class list of --classes read here), printing the error. */
static int options_recipe(const score_opts *o, const ae_model *m, ae_recipe *r)
{
    ae_bank_params bp = ae_bank_default_params();
    bp.method = o->method < 0 ? AE_METHOD_FIXED : (ae_method)o->method;
    bp.template_text = o->template_text;
    bp.positive = o->positive;
    bp.negative = o->negative;
    bp.normalize_prompts = o->normalize_prompts;
    bp.laion_head = o->laion_head;
    ae_classlist cl = {0};
    if (o->classes_path) {
        if (bp.method != AE_METHOD_CONTEXT && bp.method != AE_METHOD_ENSEMBLE) {
            cli_error("--classes is used by the context and ensemble methods only");
            return EXIT_USAGE;
        }
        ae_classlist_params cp = ae_classlist_default_params();
        cp.column = o->column;
        if (ae_classlist_load(o->classes_path, &cp, &cl) != AE_OK) {
            cli_error("%s", ae_last_error());
            return EXIT_USAGE;
        }
    }
    if (ae_recipe_init(r, &bp, &cl, m) != AE_OK) {
        cli_error("%s", ae_last_error());
        ae_recipe_free(r);
        return EXIT_USAGE;
    }
    return 0;
}

/* Builds the head of a recipe with the scorer's session (text tower for prompts). */
static int build_recipe(scorer *s, const ae_recipe *r, ae_head **out, int quiet)
{
    progress pr;
    int64_t prompts = ae_recipe_has_prompts(r) ? 2 * (int64_t)(r->bp.n_classes ? r->bp.n_classes : 1) : 0;
    progress_begin(&pr, quiet ? 0 : prompts, "prompts");
    int rc = ae_bank_build(s->session, &r->bp, bank_progress, &pr, out);
    progress_end(&pr);
    if (rc != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    return 0;
}

/* "aesthete: 103 classes from FILE (column C): lobby, pool, ..." on stderr, for a bank with
 * classes (context, ensemble). */
static void print_classes(const score_opts *o, const ae_recipe *r)
{
    if (!r->classes.n) return;
    char line[600];
    ae_classlist_describe(&r->classes, o->classes_path, line, sizeof line);
    fprintf(stderr, "aesthete: %s\n", line);
}

int build_bank(scorer *s, const score_opts *o, ae_head **out, int quiet)
{
    ae_recipe r = {0}; /* options_recipe leaves it untouched when the class list is refused */
    int rc = options_recipe(o, s->model, &r);
    if (!rc && !quiet) print_classes(o, &r);
    if (!rc) rc = build_recipe(s, &r, out, quiet);
    ae_recipe_free(&r);
    return rc;
}

/* Sets the towers of the scorer's model, printing the error. */
static int towers(scorer *s, int text, int vision)
{
    if (ae_model_set_towers(s->model, text, vision) == AE_OK) return 0;
    cli_error("%s", ae_last_error());
    return EXIT_USAGE;
}

static int new_session(scorer *s, const score_opts *o, ae_session **out)
{
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = (int32_t)o->threads;
    if (ae_session_new(s->model, &sp, out) == AE_OK) return 0;
    cli_error("%s", ae_last_error());
    return EXIT_USAGE;
}

/* The head the options choose (no --head), built with the text tower or taken from the
 * banks kept in the cache folder; leaves the model with its vision tower (and the text tower
 * too when serving) and the scorer's session, if any, usable for images. */
static int options_head(scorer *s, const score_opts *o, int serve, ae_head **out, char key[65])
{
    int rc;
    ae_recipe r;
    if ((rc = options_recipe(o, s->model, &r))) return rc;
    if (key) snprintf(key, 65, "%s", r.key);
    if (!ae_recipe_has_prompts(&r)) { /* a shipped head: nothing to encode */
        rc = ae_head_laion(r.bp.laion_head, s->model, out) == AE_OK ? 0 : EXIT_USAGE;
        if (rc) cli_error("%s", ae_last_error());
        ae_recipe_free(&r);
        return rc;
    }
    /* banks are kept beside the embedding cache (not with --no-cache: nothing is read from
     * or written to the cache folder then) */
    char dir[4200];
    int cached = s->cache && ae_recipe_bank_dir(o->cache_path, dir, sizeof dir) == AE_OK;
    if (!cached || ae_recipe_load_kept(dir, r.key, s->model, out) != AE_OK) {
        if (!serve) { /* a session's scratch is sized for the towers it was made with */
            ae_session_free(s->session);
            s->session = NULL;
        }
        if ((rc = towers(s, 1, serve)) || (!s->session && (rc = new_session(s, o, &s->session)))) {
            ae_recipe_free(&r);
            return rc;
        }
        if (o->verbose) print_classes(o, &r);
        rc = build_recipe(s, &r, out, 0);
        if (!serve) { /* its scratch was sized for the text tower */
            ae_session_free(s->session);
            s->session = NULL;
        }
        if (rc) {
            ae_recipe_free(&r);
            return rc;
        }
        if (cached && ae_recipe_keep(dir, r.key, *out) != AE_OK)
            cli_error("warning: could not keep the bank: %s", ae_last_error());
    }
    ae_recipe_free(&r);
    if ((rc = towers(s, serve, 1))) return rc;
#ifdef __GLIBC__
    malloc_trim(0); /* the tokenizer's and the text tower's freed heap, before the images */
#endif
    return 0;
}

int scorer_open(scorer *s, const score_opts *o, const char *cmd, int with_model)
{
    memset(s, 0, sizeof *s);
    s->quiet = o->quiet;
    if (o->bank_path && (o->method >= 0 || o->classes_path || o->template_text || o->positive || o->negative)) {
        cli_usage_error(cmd, "--head (--bank) already fixes the method and prompts; drop --method/--classes/--template/--positive/--negative");
        return EXIT_USAGE;
    }
    if (o->bank_path && ae_head_load(o->bank_path, &s->bank) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    if (!with_model) { /* a head file, or a shipped LAION head (scorer_add_head picks it) */
        if (s->bank) return 0;
        if (o->method != AE_METHOD_LAION && o->method != AE_METHOD_LAION_V2) {
            cli_usage_error(cmd, "--embeddings needs --head FILE or --method laion or laion-v2");
            return EXIT_USAGE;
        }
        return scorer_add_head(s, o, cmd, &s->bank);
    }
    /* Only the towers needed are loaded: the vision tower for the images; the text tower
     * only to build a bank that is not kept yet, and then alone (the model is loaded without
     * towers, the bank looked up by its fingerprint, the text tower loaded, the bank built
     * and the text tower freed before the vision tower is loaded), so the two are never held
     * at once. The server builds banks on request: it keeps both. */
    int prompts = !s->bank && o->method != AE_METHOD_LAION && o->method != AE_METHOD_LAION_V2;
    int serve = !strcmp(cmd, "serve");
    int rc;
    if (!(s->model = cli_load_model(o->model, serve, serve || !prompts, o->precision, o->text_precision))) return EXIT_USAGE;
    if (!o->no_cache && ae_cache_open(o->cache_path, &s->cache) != AE_OK) {
        /* a broken cache never stops scoring: warn and go on without it */
        cli_error("warning: %s (continuing without the cache)", ae_last_error());
        s->cache = NULL;
    }
    if (!s->bank && (rc = options_head(s, o, serve, &s->bank, s->key))) return rc;
    if (!s->session && (rc = new_session(s, o, &s->session))) return rc;
    if (ae_head_check_model(s->bank, s->model) != AE_OK) {
        cli_error("%s: %s", o->bank_path ? o->bank_path : "bank", ae_last_error());
        return EXIT_USAGE;
    }
    return 0;
}

int scorer_add_head(scorer *s, const score_opts *o, const char *cmd, ae_head **out)
{
    *out = NULL;
    int rc;
    if (o->bank_path) {
        if (ae_head_load(o->bank_path, out) != AE_OK) {
            cli_error("%s", ae_last_error());
            return EXIT_USAGE;
        }
    } else if (!s->model) {
        const char *shipped = o->method == AE_METHOD_LAION_V2 ? "v2-vit-l-14" : o->laion_head ? o->laion_head : "vit-b-32";
        if (o->method != AE_METHOD_LAION && o->method != AE_METHOD_LAION_V2)
            return cli_usage_error(cmd, "--embeddings: --method %s needs the model's text tower; give --head FILE or laion",
                                   ae_method_name(o->method < 0 ? AE_METHOD_FIXED : (ae_method)o->method));
        if (ae_head_laion(shipped, NULL, out) != AE_OK) {
            cli_error("%s", ae_last_error());
            return EXIT_USAGE;
        }
    } else if ((rc = options_head(s, o, 0, out, NULL))) {
        return rc;
    }
    if (s->model && !s->session && (rc = new_session(s, o, &s->session))) return rc;
    if (s->model && ae_head_check_model(*out, s->model) != AE_OK) {
        cli_error("%s: %s", o->bank_path ? o->bank_path : "head", ae_last_error());
        ae_head_free(*out);
        *out = NULL;
        return EXIT_USAGE;
    }
    return 0;
}

ae_scorer_params scorer_params(const score_opts *o, const scorer *s)
{
    ae_scorer_params sp = ae_scorer_default_params();
    sp.image = o->image;
    sp.cache = s->cache;
    sp.fetch.public_only = !o->allow_private_urls;
    return sp;
}

void scorer_close(scorer *s)
{
    const char *w = ae_cache_warning(s->cache);
    if (w && !s->quiet) cli_error("warning: %s", w);
    ae_cache_close(s->cache);
    ae_head_free(s->bank);
    ae_session_free(s->session);
    ae_model_free(s->model);
    memset(s, 0, sizeof *s);
}

void print_summary(const score_opts *o, const ae_scored *rows, int32_t n, const ae_inputs *in)
{
    if (!o->verbose) return;
    int32_t cached = 0, failed = 0;
    for (int32_t i = 0; i < n; i++) cached += rows[i].rc == AE_OK && rows[i].cached, failed += rows[i].rc != AE_OK;
    char left[160] = "";
    if (in && (in->not_images || in->hidden_skipped || in->excluded))
        snprintf(left, sizeof left, "; %lld skipped (%lld not images, %lld hidden, %lld excluded)",
                 (long long)(in->not_images + in->hidden_skipped + in->excluded), (long long)in->not_images,
                 (long long)in->hidden_skipped, (long long)in->excluded);
    cli_error("%d input%s: %d encoded, %d from the cache, %d failed%s", n, n == 1 ? "" : "s", n - cached - failed,
              cached, failed, left);
}

/* ---- output ---- */

const char *score_class(const ae_head *b, const ae_score *s)
{
    return s->class_index >= 0 ? ae_head_class(b, s->class_index) : NULL;
}

void writer_begin(writer *w, out_format fmt, int with_rank, const ae_head *head)
{
    ae_head_info hi;
    ae_head_get_info(head, &hi);
    const char *method = ae_method_name(hi.method);
    if (fmt == FMT_AUTO) fmt = isatty(STDOUT_FILENO) ? FMT_TABLE : FMT_JSONL;
    w->fmt = fmt;
    w->with_rank = with_rank;
    w->method = method;
    w->head = hi.name;
    w->n = 0;
    const char *rank = with_rank ? "rank" : "";
    switch (fmt) {
    case FMT_TABLE:
        if (with_rank) printf("%5s  ", rank);
        printf("%9s  %11s  %-5s  %-24s  %s\n", "score", "probability", "label", "class", "input");
        break;
    case FMT_CSV: printf("%s%sscore,probability,label,class,input\n", rank, with_rank ? "," : ""); break;
    case FMT_TSV: printf("%s%sscore\tprobability\tlabel\tclass\tinput\n", rank, with_rank ? "\t" : ""); break;
    case FMT_JSON: printf("["); break;
    default: break;
    }
}

void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* TSV has no quoting: a tab, newline, carriage return or backslash is escaped as \t, \n,
 * \r, \\ (the "linear TSV" convention), so every field reads back exactly. */
void tsv_field(const char *s)
{
    for (; *s; s++) {
        if (*s == '\t') fputs("\\t", stdout);
        else if (*s == '\n') fputs("\\n", stdout);
        else if (*s == '\r') fputs("\\r", stdout);
        else if (*s == '\\') fputs("\\\\", stdout);
        else putchar(*s);
    }
}

/* a table is read on a terminal: control characters (escapes, newlines) shown as '?' */
void table_field(const char *s)
{
    for (; *s; s++) putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void num(double v, const char *fmt)
{
    if (isnan(v)) fputs("", stdout);
    else printf(fmt, v);
}

void writer_row(writer *w, const out_row *r)
{
    if (r->error) {
        cli_error("%s", r->error);
        if (w->fmt == FMT_JSONL || w->fmt == FMT_JSON) {
            if (w->fmt == FMT_JSON) printf(w->n ? ",\n " : "\n ");
            printf("{\"input\": ");
            put_json_string(stdout, r->input, strlen(r->input));
            printf(", \"error\": ");
            put_json_string(stdout, r->error, strlen(r->error));
            printf(w->fmt == FMT_JSONL ? "}\n" : "}");
            w->n++;
        }
        return;
    }
    const ae_score *s = r->score;
    const char *label = s->good ? "good" : "bad", *cls = r->class_name ? r->class_name : "";
    switch (w->fmt) {
    case FMT_TABLE:
        if (w->with_rank) printf("%5lld  ", (long long)r->rank);
        printf("%9.3f  ", (double)s->score);
        if (isnan(s->probability)) printf("%11s  ", "-");
        else printf("%11.4f  ", (double)s->probability);
        printf("%-5s  %-24.24s  ", label, cls);
        table_field(r->input);
        putchar('\n');
        break;
    case FMT_CSV:
    case FMT_TSV: {
        char sep = w->fmt == FMT_CSV ? ',' : '\t';
        if (w->with_rank) printf("%lld%c", (long long)r->rank, sep);
        printf("%.6f%c", (double)s->score, sep);
        num(s->probability, "%.6f");
        printf("%c%s%c", sep, label, sep);
        if (w->fmt == FMT_CSV) csv_field(cls), putchar(sep), csv_field(r->input);
        else tsv_field(cls), putchar(sep), tsv_field(r->input);
        putchar('\n');
        break;
    }
    case FMT_JSONL:
    case FMT_JSON:
        if (w->fmt == FMT_JSON) printf(w->n ? ",\n " : "\n ");
        printf("{");
        if (w->with_rank) printf("\"rank\": %lld, ", (long long)r->rank);
        printf("\"input\": ");
        put_json_string(stdout, r->input, strlen(r->input));
        printf(", \"score\": %.9g, \"probability\": ", (double)s->score);
        if (isnan(s->probability)) printf("null");
        else printf("%.9g", (double)s->probability);
        printf(", \"label\": \"%s\", \"class\": ", label);
        if (r->class_name) put_json_string(stdout, r->class_name, strlen(r->class_name));
        else printf("null");
        printf(", \"method\": \"%s\", \"head\": ", w->method);
        put_json_string(stdout, w->head, strlen(w->head));
        putchar('}');
        if (w->fmt == FMT_JSONL) putchar('\n');
        break;
    default: break;
    }
    w->n++;
    cli_note_stdout();
}

void write_scored_rows(void *ctx, const ae_scored *rows, int32_t first, int32_t n)
{
    row_stream *c = ctx;
    for (int32_t i = first; i < first + n; i++) {
        out_row r = {0, rows[i].input, &rows[i].score, score_class(c->bank, &rows[i].score),
                     rows[i].rc == AE_OK ? NULL : rows[i].error};
        writer_row(c->w, &r);
    }
    fflush(stdout);
}

void writer_end(writer *w)
{
    if (w->fmt == FMT_JSON) printf(w->n ? "\n]\n" : "]\n");
    fflush(stdout);
    cli_note_stdout();
}

/* ---- progress bar ---- */

static volatile sig_atomic_t bar_shown; /* a bar is on the terminal: wipe it on a signal */

static void wipe_and_die(int sig)
{
    if (bar_shown) (void)!write(STDERR_FILENO, "\r\033[K", 4);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Draws the bar (p->mu held): at most 10 times a second unless forced. */
static void draw(progress *p, int force)
{
    double t = cli_now();
    if (!force && t - p->drawn < 0.1) return;
    p->drawn = t;
    int64_t read = atomic_load(&p->read), done = p->done;
    if (read < done) read = done;
    int width = 30, fill = (int)(width * done / p->total), ahead = (int)(width * read / p->total) - fill;
    double dt = t - p->t0, rate = dt > 0 ? done / dt : 0;
    char eta[32] = "";
    if (done > 0 && done < p->total) {
        long s = (long)((p->total - done) / rate + 0.5);
        snprintf(eta, sizeof eta, "  %ld:%02ld left", s / 60, s % 60);
    }
    fprintf(stderr, "\r[%.*s%.*s%*s] %lld/%lld %s", fill, "==============================", ahead,
            "------------------------------", width - fill - ahead, "", (long long)done, (long long)p->total, p->what);
    if (read > done) fprintf(stderr, " (%lld read)", (long long)read);
    if (done) fprintf(stderr, "  %.1f/s%s", rate, eta);
    fputs("\033[K", stderr);
    fflush(stderr);
}

void progress_begin(progress *p, int64_t total, const char *what)
{
    p->active = total > 0 && isatty(STDERR_FILENO);
    p->total = total;
    p->done = 0;
    atomic_store(&p->read, 0);
    p->t0 = cli_now();
    p->drawn = 0;
    p->what = what;
    pthread_mutex_init(&p->mu, NULL);
    if (!p->active) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wipe_and_die;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bar_shown = 1;
    draw(p, 1); /* at once: "0/200 images", before the first image is read */
}

void progress_read(void *ctx)
{
    progress *p = ctx;
    if (!p->active) return;
    atomic_fetch_add(&p->read, 1);
    if (pthread_mutex_trylock(&p->mu) != 0) return; /* another thread is drawing */
    draw(p, 0);
    pthread_mutex_unlock(&p->mu);
}

void progress_update(progress *p, int64_t done)
{
    if (!p->active) return;
    pthread_mutex_lock(&p->mu);
    p->done = done;
    draw(p, 1);
    pthread_mutex_unlock(&p->mu);
}

void progress_end(progress *p)
{
    if (p->active) {
        pthread_mutex_lock(&p->mu);
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        bar_shown = 0;
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        pthread_mutex_unlock(&p->mu);
    }
    p->active = 0;
    pthread_mutex_destroy(&p->mu);
}
