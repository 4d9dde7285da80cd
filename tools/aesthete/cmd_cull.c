/*
 * cmd_cull.c — `aesthete cull`: every image of the arguments scored (embedding cache, banks
 * and heads as `rank` has them) with its photo facts from the same decode, grouped by
 * ae_cull into exact copies, near duplicates and bursts, a keeper per group; printed group by
 * group; optionally ratings written to XMP sidecars and rejects moved (cull_files.c).
 * Nothing is deleted or moved unless asked.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cull_files.h"
#include "inputs.h"
#include "scale.h"
#include "scoring.h"

static void help(void)
{
    const ae_cull_params d = ae_cull_default_params(); /* the defaults live in the library */
    printf("usage: aesthete cull [OPTIONS] DIR|LIST|-...\n\n"
           "Groups the images of the arguments into exact copies (the same bytes, or the same\n"
           "pixels with other metadata), near duplicates (visually the same picture) and bursts\n"
           "(frames of one camera seconds apart), keeps the best of each group and lists the\n"
           "others as rejects, with the reason. Arguments as for `aesthete rank` (WebDataset\n"
           "shards too: their samples, named SHARD#KEY). Nothing is changed on disk unless\n"
           "--write-xmp or --move-rejects is given. With --out DIR, each shard is culled on its\n"
           "own into DIR/cull/ (copies in two shards are not grouped: see README).\n\n"
           "%s%s%s%s"
           "  -r, --recursive      descend into subfolders\n"
           "  --hidden             walk hidden files and folders too (names starting with '.')\n"
           "  --exclude GLOB       leave out files and folders matching GLOB (repeatable; see rank)\n"
           "  --similar T          near duplicates: cosine of the embeddings >= T (default %.2f)\n"
           "  --burst-gap S        bursts: frames at most S seconds apart (default %g; 0: none)\n"
           "  --burst-similar T    bursts: cosine >= T as well (default %.2f)\n"
           "  --time-from F        exif (default: DateTimeOriginal + SubSecTimeOriginal) or\n"
           "                       mtime (the files' modification times)\n"
           "  --keep-by K          score (default; clearly blurrier frames lose), sharpness,\n"
           "                       size or newest\n"
           "  --blur-ratio R       clearly blurrier: sharpness < R x the group's sharpest\n"
           "                       (default %.2f)\n"
           "  --near-search S      near duplicates among all pairs (exact, n^2 cosines) or in\n"
           "                       k-means buckets (sub-quadratic, for millions; may miss a rare\n"
           "                       pair): all, buckets or auto (default: all up to %d images)\n"
           "  --rejects            print only the rejects\n"
           "  --summary            print only the counts of groups, rejects and singles\n"
           "  --write-xmp          write xmp:Rating (keepers and singles 1-5 stars, rejects -1)\n"
           "                       and aesthete:Score/Group/Kind/Role to each image's sidecar,\n"
           "                       updating existing ones in place\n"
           "  --xmp-name N         base (IMG_1.jpg -> IMG_1.xmp, default) or ext (IMG_1.jpg.xmp)\n"
           "  --stars A,B,C,D      scores below A get 1 star, below B 2, C 3, D 4, else 5\n"
           "                       (default: the quintiles of this run's kept scores)\n"
           "  --move-rejects DIR   move rejects (and their sidecars) into DIR, keeping their\n"
           "                       paths below the input folder; never overwrites\n"
           "  --dry-run            with --write-xmp / --move-rejects: say what would change\n"
           "  --fast-decode        decode JPEGs by DCT scaling (faster; see `aesthete rank`)\n"
           "  -h, --help           this text\n\n"
           "Columns: group, kind (exact, near, burst, single), role (keep, reject, single),\n"
           "score, sharpness (variance of the Laplacian at %d px) and relative to the group's\n"
           "sharpest, clipped highlights and shadows, cosine to the keeper, input, reason.\n"
           "Failed inputs are reported on stderr and left out of the groups.\n"
           "Exit status: 0 every input culled, 1 some failed (or a sidecar or move failed),\n"
           "2 usage or fatal error.\n",
           score_options_help, output_options_help, shard_options_help, scale_options_help, (double)d.similar, d.burst_gap, (double)d.burst_similar, (double)d.blur_ratio,
           AE_CULL_ALL_PAIRS_MAX, AE_QUALITY_SIDE);
}


static void on_batch(void *ctx, const ae_scored *rows, int32_t first, int32_t n)
{
    progress_update(ctx, first + n);
}

/* ---- printing ---------------------------------------------------------------------------- */

typedef struct run {
    const ae_scored *scored;
    const ae_photo_facts *facts;
    const ae_cull_item *items; /* by photo */
    const ae_cull_row *rows;  /* by photo */
    const char *const *names; /* by photo: file names, for the reasons */
    const int32_t *input;     /* photo -> input index */
    int32_t n;                /* photos culled */
    ae_keep_by keep_by;
    const char *method, *head;
} run;

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *role_name(const ae_cull_row *r)
{
    return r->group < 0 ? "single" : r->keep ? "keep" : "reject";
}

static void put_num(FILE *f, double v, const char *fmt)
{
    if (isfinite(v)) fprintf(f, fmt, v);
}

static void put_json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

static void put_json_str(FILE *f, const char *s)
{
    put_json_string(f, s, strlen(s));
}

static void header(FILE *f, out_format fmt)
{
    static const char *const cols[] = {"group",      "kind",     "role",       "match", "score",
                                       "similarity", "sharpness", "rel_sharpness", "highlights",
                                       "shadows",    "noise",    "width",      "height", "time",
                                       "camera",     "keeper",   "reason",     "input"};
    const int nc = (int)(sizeof cols / sizeof cols[0]);
    if (fmt == FMT_TABLE)
        fprintf(f, "%5s  %-6s  %-6s  %9s  %8s  %5s  %6s  %6s  %6s  %s\n", "group", "kind", "role", "score", "sharp",
               "rel", "hi%", "lo%", "sim", "input  reason");
    else if (fmt == FMT_CSV || fmt == FMT_TSV)
        for (int c = 0; c < nc; c++) fprintf(f, "%s%c", cols[c], c + 1 < nc ? (fmt == FMT_CSV ? ',' : '\t') : '\n');
    else if (fmt == FMT_JSON)
        fprintf(f, "[");
}

/* table and CSV/TSV fields go to stdout (csv_field, table_field): f is stdout for them; a run
 * folder's rows are JSON Lines */
static void row(FILE *f, const run *R, int32_t i, out_format fmt, int *count)
{
    const ae_cull_row *r = &R->rows[i];
    const ae_scored *s = &R->scored[R->input[i]];
    const ae_photo_facts *ft = &R->facts[R->input[i]];
    const int have_q = ft->ok;
    char why[600], when[64], group[16] = "";
    ae_cull_reason(R->items, R->rows, i, R->keep_by, R->names, why, sizeof why);
    ae_capture_iso(&ft->capture, when, sizeof when);
    if (r->group >= 0) snprintf(group, sizeof group, "%d", r->group + 1);
    const char *keeper = r->keep ? "" : R->scored[R->input[r->keeper]].input;
    double sharp = have_q ? ft->quality.sharpness : NAN, hi = have_q ? ft->quality.highlights : NAN,
           lo = have_q ? ft->quality.shadows : NAN, noise = have_q ? ft->quality.noise : NAN;
    switch (fmt) {
    case FMT_TABLE:
        fprintf(f, "%5s  %-6s  %-6s  %9.3f  ", r->group >= 0 ? group : "-", ae_cull_kind_name(r->kind), role_name(r),
               (double)s->score.score);
        if (have_q) fprintf(f, "%8.1f  ", sharp);
        else fprintf(f, "%8s  ", "-");
        if (r->group >= 0 && isfinite(r->rel_sharpness)) fprintf(f, "%5.2f  ", (double)r->rel_sharpness);
        else fprintf(f, "%5s  ", "-");
        if (have_q) fprintf(f, "%6.2f  %6.2f  ", 100 * hi, 100 * lo);
        else fprintf(f, "%6s  %6s  ", "-", "-");
        if (r->group >= 0) fprintf(f, "%6.3f  ", (double)r->similarity);
        else fprintf(f, "%6s  ", "-");
        table_field(s->input);
        if (*why) fprintf(f, "  "), table_field(why);
        fputc('\n', f);
        break;
    case FMT_CSV:
    case FMT_TSV: {
        const char sep = fmt == FMT_CSV ? ',' : '\t';
        void (*field)(const char *) = fmt == FMT_CSV ? csv_field : tsv_field;
        fprintf(f, "%s%c%s%c%s%c%s%c%.6f%c", group, sep, ae_cull_kind_name(r->kind), sep, role_name(r), sep,
               ae_cull_match_name(r->match), sep, (double)s->score.score, sep);
        if (r->group >= 0) fprintf(f, "%.6f", (double)r->similarity);
        fputc(sep, f);
        put_num(f, sharp, "%.3f"), fputc(sep, f);
        if (r->group >= 0) put_num(f, r->rel_sharpness, "%.4f");
        fputc(sep, f);
        put_num(f, hi, "%.6f"), fputc(sep, f), put_num(f, lo, "%.6f"), fputc(sep, f), put_num(f, noise, "%.4f"), fputc(sep, f);
        if (ft->ok) fprintf(f, "%d%c%d%c", ft->width, sep, ft->height, sep);
        else fprintf(f, "%c%c", sep, sep);
        field(when), fputc(sep, f), field(ft->capture.camera), fputc(sep, f), field(keeper), fputc(sep, f);
        field(why), fputc(sep, f), field(s->input), fputc('\n', f);
        break;
    }
    default:
        if (fmt == FMT_JSON) fprintf(f, *count ? ",\n " : "\n ");
        fprintf(f, "{\"input\": ");
        put_json_str(f, s->input);
        fprintf(f, ", \"group\": ");
        if (r->group >= 0) fprintf(f, "%d", r->group + 1);
        else fprintf(f, "null");
        fprintf(f, ", \"kind\": \"%s\", \"role\": \"%s\", \"match\": ", ae_cull_kind_name(r->kind), role_name(r));
        if (r->match) fprintf(f, "\"%s\"", ae_cull_match_name(r->match));
        else fprintf(f, "null");
        fprintf(f, ", \"score\": ");
        put_json_num(f, s->score.score);
        fprintf(f, ", \"similarity\": ");
        put_json_num(f, r->group >= 0 ? r->similarity : NAN);
        fprintf(f, ", \"sharpness\": ");
        put_json_num(f, sharp);
        fprintf(f, ", \"rel_sharpness\": ");
        put_json_num(f, r->group >= 0 ? r->rel_sharpness : NAN);
        fprintf(f, ", \"highlights\": ");
        put_json_num(f, hi);
        fprintf(f, ", \"shadows\": ");
        put_json_num(f, lo);
        fprintf(f, ", \"noise\": ");
        put_json_num(f, noise);
        if (ft->ok) fprintf(f, ", \"width\": %d, \"height\": %d", ft->width, ft->height);
        else fprintf(f, ", \"width\": null, \"height\": null");
        fprintf(f, ", \"time\": ");
        if (*when) put_json_str(f, when);
        else fprintf(f, "null");
        fprintf(f, ", \"camera\": ");
        if (ft->capture.camera[0]) put_json_str(f, ft->capture.camera);
        else fprintf(f, "null");
        fprintf(f, ", \"keeper\": ");
        if (*keeper) put_json_str(f, keeper);
        else fprintf(f, "null");
        fprintf(f, ", \"reason\": ");
        if (*why) put_json_str(f, why);
        else fprintf(f, "null");
        fprintf(f, ", \"method\": \"%s\", \"head\": ", R->method);
        put_json_str(f, R->head);
        fprintf(f, fmt == FMT_JSONL ? "}\n" : "}");
    }
    (*count)++;
}

static void error_row(FILE *f, const ae_scored *s, out_format fmt, int *count)
{
    if (fmt != FMT_JSONL && fmt != FMT_JSON) return;
    if (fmt == FMT_JSON) fprintf(f, *count ? ",\n " : "\n ");
    fprintf(f, "{\"input\": ");
    put_json_str(f, s->input);
    fprintf(f, ", \"error\": ");
    put_json_str(f, s->error);
    fprintf(f, fmt == FMT_JSONL ? "}\n" : "}");
    (*count)++;
}

/* group order: by group, the keeper first, then rejects by score; singles after, in input
 * order */
static const run *sort_run;
static int by_group(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    const ae_cull_row *x = &sort_run->rows[i], *y = &sort_run->rows[j];
    int gx = x->group < 0 ? 1 << 30 : x->group, gy = y->group < 0 ? 1 << 30 : y->group;
    if (gx != gy) return gx < gy ? -1 : 1;
    if (x->group >= 0) {
        if (x->keep != y->keep) return x->keep ? -1 : 1;
        float sx = sort_run->scored[sort_run->input[i]].score.score, sy = sort_run->scored[sort_run->input[j]].score.score;
        if (sx != sy) return sx > sy ? -1 : 1;
    }
    return (i > j) - (i < j);
}

typedef struct counts {
    int32_t groups[4], rejects, singles, keepers;
} counts;

static counts count_rows(const run *R)
{
    counts c;
    memset(&c, 0, sizeof c);
    for (int32_t i = 0; i < R->n; i++) {
        const ae_cull_row *r = &R->rows[i];
        if (r->group < 0) c.singles++;
        else if (!r->keep) c.rejects++;
        else c.keepers++, c.groups[r->kind]++;
    }
    return c;
}

static void summary(FILE *f, const run *R, int32_t failed, out_format fmt)
{
    counts c = count_rows(R);
    int32_t g = c.groups[AE_CULL_EXACT] + c.groups[AE_CULL_NEAR] + c.groups[AE_CULL_BURST];
    if (fmt == FMT_JSON || fmt == FMT_JSONL)
        fprintf(f, "{\"images\": %d, \"groups\": %d, \"exact\": %d, \"near\": %d, \"burst\": %d, \"keepers\": %d, "
               "\"rejects\": %d, \"singles\": %d, \"failed\": %d}\n",
               R->n, g, c.groups[AE_CULL_EXACT], c.groups[AE_CULL_NEAR], c.groups[AE_CULL_BURST], c.keepers,
               c.rejects, c.singles, failed);
    else
        fprintf(f, "%d images: %d groups (%d exact, %d near, %d burst), %d keepers, %d rejects, %d singles, "
               "%d failed\n",
               R->n, g, c.groups[AE_CULL_EXACT], c.groups[AE_CULL_NEAR], c.groups[AE_CULL_BURST], c.keepers,
               c.rejects, c.singles, failed);
}

/* ---- the command ------------------------------------------------------------------------- */

static int parse_stars(const char *s, double cut[4])
{
    char *end;
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        cut[i] = strtod(p, &end);
        if (end == p || !isfinite(cut[i]) || (i < 3 ? *end != ',' : *end != 0) || (i && cut[i] < cut[i - 1]))
            return cli_usage_error("cull", "--stars: '%s' is not four increasing numbers A,B,C,D", s), -1;
        p = end + 1;
    }
    return 0;
}

/* What a cull run groups and writes with, for stdout or for each shard of a run folder. */
typedef struct cull_job {
    ae_cull_params cp;
    int use_mtime, only_rejects, only_summary, report; /* report: failed inputs on stderr */
    out_format fmt;
    int32_t failed_args;
    cull_files_opts *fo;         /* NULL, or the sidecars and moves to make */
    const char *const *args;     /* the arguments, for the moves' relative paths */
    int nargs;
    int32_t file_failures;       /* out: sidecars or moves that failed */
} cull_job;

/* Groups the n scored inputs (scored, facts, emb: one each) and writes the rows (or the
 * summary) to f; then makes the sidecars and moves asked. A scale_job's finish. 0, or -1
 * after the error (printed). */
static int cull_write(void *ctx, FILE *f, const scorer *s, const ae_scored *scored, const float *emb,
                      const ae_photo_facts *facts, int32_t n)
{
    cull_job *j = ctx;
    ae_model_info mi;
    ae_model_get_info(s->model, &mi);
    const int32_t dim = mi.embed_dim;
    size_t cap = (size_t)(n ? n : 1);
    ae_cull_item *items = calloc(cap, sizeof *items);
    ae_cull_row *rows = calloc(cap, sizeof *rows);
    int32_t *input = calloc(cap, sizeof *input), *order = calloc(cap, sizeof *order);
    const char **names = calloc(cap, sizeof *names);
    int rc = -1;
    if (!items || !rows || !input || !order || !names) {
        cli_error("out of memory for %d images", n);
        goto out;
    }
    /* the photos that scored, as cull items */
    int32_t m = 0, failed = 0;
    for (int32_t i = 0; i < n; i++) {
        if (scored[i].rc != AE_OK) {
            failed++;
            continue;
        }
        ae_cull_item *it = &items[m];
        const ae_photo_facts *ft = &facts[i];
        it->embedding = emb + (size_t)i * dim;
        it->score = scored[i].score.score;
        it->has_bytes_hash = 1;
        memcpy(it->bytes_hash, ft->bytes_hash, 32);
        it->file_bytes = ft->file_bytes;
        if (ft->ok) {
            it->has_pixel_hash = 1;
            memcpy(it->pixel_hash, ft->pixel_hash, sizeof it->pixel_hash);
            it->has_quality = 1;
            it->quality = ft->quality;
            it->pixels = (int64_t)ft->width * ft->height;
            it->camera = ft->capture.camera;
            it->has_time = ft->capture.has_time;
            it->time = ft->capture.time;
        }
        if (j->use_mtime) {
            struct stat st;
            it->has_time = !ae_is_url(scored[i].input) && stat(scored[i].input, &st) == 0;
            it->time = it->has_time ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9 : 0;
        }
        input[m++] = i;
    }
    if (ae_cull(items, m, dim, &j->cp, rows) != AE_OK) {
        cli_error("%s", ae_last_error());
        goto out;
    }
    ae_head_info hi;
    ae_head_get_info(s->bank, &hi);
    for (int32_t i = 0; i < m; i++) names[i] = base_name(scored[input[i]].input);
    run R = {scored, facts, items, rows, names, input, m, j->cp.keep_by, ae_method_name(hi.method), hi.name};
    out_format fmt = j->fmt;
    int count = 0;
    if (j->only_summary) {
        summary(f, &R, failed + j->failed_args, fmt);
    } else {
        for (int32_t i = 0; i < m; i++) order[i] = i;
        sort_run = &R;
        qsort(order, (size_t)m, sizeof *order, by_group);
        header(f, fmt);
        int32_t last_group = -1;
        for (int32_t k = 0; k < m; k++) {
            const ae_cull_row *x = &rows[order[k]];
            if (j->only_rejects && x->keep) continue;
            /* a table reads group by group: a blank line between groups, and before singles */
            if (fmt == FMT_TABLE && k && x->group != last_group && (x->group >= 0 || last_group >= 0) && !j->only_rejects)
                fputc('\n', f);
            last_group = x->group;
            row(f, &R, order[k], fmt, &count);
        }
        for (int32_t i = 0; i < n; i++)
            if (scored[i].rc != AE_OK) {
                if (j->report) cli_error("%s", scored[i].error);
                error_row(f, &scored[i], fmt, &count);
            }
        if (fmt == FMT_JSON) fprintf(f, count ? "\n]\n" : "]\n");
    }
    fflush(f);
    if (j->fo && (j->fo->write_xmp || j->fo->move_to)) {
        cull_photo *ph = calloc((size_t)(m ? m : 1), sizeof *ph);
        if (!ph) {
            cli_error("out of memory");
            goto out;
        }
        for (int32_t i = 0; i < m; i++) {
            ph[i].path = scored[input[i]].input;
            ph[i].score = scored[input[i]].score.score;
            ph[i].row = &rows[i];
        }
        j->fo->method = hi.name;
        j->file_failures = cull_files_apply(j->fo, ph, m, j->args, j->nargs);
        free(ph);
    }
    rc = 0;
out:
    free(items), free(rows), free(input), free(order), free(names);
    return rc;
}

int cmd_cull(int argc, char **argv)
{
    enum { O_SIMILAR = OPT_COMMAND, O_GAP, O_BURST_SIM, O_TIME_FROM, O_KEEP_BY, O_BLUR, O_REJECTS, O_SUMMARY,
           O_XMP, O_XMP_NAME, O_STARS, O_MOVE, O_DRY, O_SEARCH, O_HIDDEN, O_EXCLUDE };
    static const struct option opts[] = {SCORE_OPTIONS, SCALE_OPTIONS,
                                         {"recursive", no_argument, 0, 'r'},
                                         {"similar", required_argument, 0, O_SIMILAR},
                                         {"burst-gap", required_argument, 0, O_GAP},
                                         {"burst-similar", required_argument, 0, O_BURST_SIM},
                                         {"time-from", required_argument, 0, O_TIME_FROM},
                                         {"keep-by", required_argument, 0, O_KEEP_BY},
                                         {"blur-ratio", required_argument, 0, O_BLUR},
                                         {"near-search", required_argument, 0, O_SEARCH},
                                         {"rejects", no_argument, 0, O_REJECTS},
                                         {"summary", no_argument, 0, O_SUMMARY},
                                         {"write-xmp", no_argument, 0, O_XMP},
                                         {"xmp-name", required_argument, 0, O_XMP_NAME},
                                         {"stars", required_argument, 0, O_STARS},
                                         {"move-rejects", required_argument, 0, O_MOVE},
                                         {"dry-run", no_argument, 0, O_DRY},
                                         {"hidden", no_argument, 0, O_HIDDEN},
                                         {"exclude", required_argument, 0, O_EXCLUDE},
                                         {"fast-decode", no_argument, 0, OPT_FAST_DECODE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    score_opts o;
    score_opts_init(&o);
    scale_opts so;
    scale_opts_init(&so);
    ae_cull_params cp = ae_cull_default_params();
    cull_files_opts fo;
    cull_files_opts_init(&fo);
    int c, r, recursive = 0, only_rejects = 0, only_summary = 0, use_mtime = 0;
    double v;
    optind = 1;
    opterr = 0;
    const char *excluded[MAX_EXCLUDE];
    ae_inputs in = {.exclude = excluded};
    while ((c = getopt_long(argc, argv, ":" SCORE_SHORT "rh", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_ALL_OK;
        case 'r': recursive = 1; continue;
        case OPT_FAST_DECODE: o.image.fast_decode = 1; continue;
        case O_HIDDEN: in.hidden = 1; continue;
        case O_EXCLUDE:
            if (in.n_exclude == MAX_EXCLUDE) return cli_usage_error("cull", "at most %d --exclude", MAX_EXCLUDE);
            excluded[in.n_exclude++] = optarg;
            continue;
        case '?':
        case ':': return cli_bad_option("cull", c, argc, argv);
        case O_SIMILAR:
        case O_BURST_SIM:
            if (cli_parse_number("cull", argv[optind - 1], optarg, &v)) return EXIT_USAGE;
            if (!(v > 0 && v <= 1))
                return cli_usage_error("cull", "%s: %s is not a cosine in (0, 1]", c == O_SIMILAR ? "--similar" : "--burst-similar", optarg);
            *(c == O_SIMILAR ? &cp.similar : &cp.burst_similar) = (float)v;
            continue;
        case O_GAP:
            if (cli_parse_number("cull", "--burst-gap", optarg, &v)) return EXIT_USAGE;
            if (v < 0 || v > 86400) return cli_usage_error("cull", "--burst-gap: %s is not 0 to 86400 seconds", optarg);
            cp.burst_gap = v;
            continue;
        case O_TIME_FROM:
            if (strcmp(optarg, "exif") && strcmp(optarg, "mtime"))
                return cli_usage_error("cull", "--time-from: '%s' is not exif or mtime", optarg);
            use_mtime = strcmp(optarg, "mtime") == 0;
            continue;
        case O_KEEP_BY:
            if (ae_keep_by_parse(optarg, &cp.keep_by) != AE_OK)
                return cli_usage_error("cull", "--keep-by: '%s' is not score, sharpness, size or newest", optarg);
            continue;
        case O_BLUR:
            if (cli_parse_number("cull", "--blur-ratio", optarg, &v)) return EXIT_USAGE;
            if (v < 0 || v > 1) return cli_usage_error("cull", "--blur-ratio: %s is not in [0, 1]", optarg);
            cp.blur_ratio = (float)v;
            continue;
        case O_SEARCH:
            if (ae_cull_search_parse(optarg, &cp.search) != AE_OK)
                return cli_usage_error("cull", "--near-search: '%s' is not auto, all or buckets", optarg);
            continue;
        case O_REJECTS: only_rejects = 1; continue;
        case O_SUMMARY: only_summary = 1; continue;
        case O_XMP: fo.write_xmp = 1; continue;
        case O_XMP_NAME:
            if (strcmp(optarg, "base") && strcmp(optarg, "ext"))
                return cli_usage_error("cull", "--xmp-name: '%s' is not base or ext", optarg);
            fo.xmp_ext = strcmp(optarg, "ext") == 0;
            continue;
        case O_STARS:
            if (parse_stars(optarg, fo.stars)) return EXIT_USAGE;
            fo.fixed_stars = 1;
            continue;
        case O_MOVE: fo.move_to = optarg; continue;
        case O_DRY: fo.dry_run = 1; continue;
        }
        if ((r = scale_opt(&so, c, optarg, "cull")) <= 0) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        if ((r = score_opt(&o, c, optarg, "cull")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("cull", '?', argc, argv);
    }
    if (optind == argc) return cli_usage_error("cull", "no DIR, LIST or - given");
    if (only_rejects && only_summary) return cli_usage_error("cull", "--rejects and --summary exclude each other");
    if (fo.dry_run && !fo.write_xmp && !fo.move_to)
        return cli_usage_error("cull", "--dry-run: nothing to try (give --write-xmp or --move-rejects)");
    if (so.out_dir && (fo.write_xmp || fo.move_to || only_rejects || only_summary || o.format != FMT_AUTO))
        return cli_usage_error("cull", "--out writes every shard's rows as JSON Lines into DIR/cull/: drop --write-xmp, "
                                       "--move-rejects, --rejects, --summary and --format");
    if (fo.move_to && cull_check_move_target(fo.move_to, (const char *const *)argv + optind, argc - optind, recursive))
        return EXIT_USAGE;

    int32_t failed_args = 0;
    for (int i = optind; i < argc; i++)
        if (ae_inputs_add(&in, argv[i], recursive, cli_warn, NULL) != AE_OK) {
            cli_error("%s", ae_last_error()); /* reported; the other arguments still go */
            failed_args++;
        }
    if (in.n == 0) {
        if (!failed_args) cli_error("no images found in %s%s", argv[optind], argc - optind > 1 ? " ..." : "");
        ae_inputs_free(&in);
        return EXIT_SOME_FAILED;
    }
    for (int32_t i = 0; (fo.write_xmp || fo.move_to) && i < in.n; i++)
        if (ae_wds_is_tar(in.items[i])) {
            cli_usage_error("cull", "%s: the samples of a WebDataset shard have no sidecars to write nor files to move: "
                                    "drop --write-xmp and --move-rejects",
                            in.items[i]);
            ae_inputs_free(&in);
            return EXIT_USAGE;
        }
    cp.n_threads = (int32_t)o.threads;
    cull_job job = {cp, use_mtime, only_rejects, only_summary, 1, FMT_JSONL, failed_args, &fo,
                    (const char *const *)argv + optind, argc - optind, 0};
    if (so.out_dir) {
        /* the groups of each shard: what changes them is part of its manifest */
        char opts[256];
        snprintf(opts, sizeof opts, "similar=%.9g,burst_gap=%.9g,burst_similar=%.9g,time=%s,keep_by=%d,blur=%.9g,search=%d",
                 (double)cp.similar, cp.burst_gap, (double)cp.burst_similar, use_mtime ? "mtime" : "exif", (int)cp.keep_by,
                 (double)cp.blur_ratio, (int)cp.search);
        job.report = 0, job.fo = NULL; /* the run folder reports failed inputs as they come */
        r = scale_run(&so, &o, &in, &(scale_job){SCALE_CULL, "cull", opts, cull_write, &job});
        ae_inputs_free(&in);
        return r ? r : failed_args ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    }
    ae_wds_feed *feed = NULL; /* the samples of tar shards */
    if ((r = scale_select(&so, &in, "cull")) || (r = scale_feed(&so, &in, ae_scorer_default_params().max_file_bytes, &feed))) {
        ae_inputs_free(&in);
        return r;
    }
    scorer s;
    if ((r = scorer_open(&s, &o, "cull", 1))) {
        scorer_close(&s);
        ae_inputs_free(&in);
        ae_wds_feed_free(feed);
        return r;
    }
    ae_model_info mi;
    ae_model_get_info(s.model, &mi);
    const int32_t n = in.n, dim = mi.embed_dim;
    ae_scored *scored = calloc((size_t)n, sizeof *scored);
    ae_photo_facts *facts = calloc((size_t)n, sizeof *facts);
    float *emb = malloc(sizeof(float) * (size_t)n * (size_t)dim);
    int rc = EXIT_USAGE;
    if (!scored || !facts || !emb) {
        cli_error("out of memory for %d images", n);
        goto out;
    }
    ae_scorer_params sp = scorer_params(&o, &s);
    sp.facts = facts;
    sp.image.fast_decode_side = scale_facts_side(&sp, &mi);
    scale_source(&sp, feed);
    progress pr;
    progress_begin(&pr, o.quiet ? 0 : n, "images");
    sp.on_read = progress_read;
    sp.on_read_ctx = &pr;
    int32_t failed = ae_score_inputs(s.session, s.bank, (const char *const *)in.items, n, &sp, scored, emb,
                                     on_batch, &pr);
    progress_end(&pr);
    if (failed < 0) {
        cli_error("%s", ae_last_error());
        goto out;
    }
    job.fmt = o.format == FMT_AUTO ? (isatty(1) ? FMT_TABLE : FMT_JSONL) : o.format;
    if (cull_write(&job, stdout, &s, scored, emb, facts, n)) goto out;
    rc = failed || failed_args || job.file_failures ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    if (o.verbose) print_summary(&o, scored, n, &in);
out:
    free(scored), free(facts), free(emb);
    scorer_close(&s);
    ae_inputs_free(&in);
    ae_wds_feed_free(feed);
    return rc;
}
