/*
 * scale.c — cluster runs: this task's part of the inputs, WebDataset shards, the run folder
 * of `--out DIR`, and `--stream`.
 *
 * The run folder, per output shard S (a tar's number among the tars given, or this task's
 * number when the inputs are images; zero padded as clip-retrieval pads them):
 *   DIR/scores/S.jsonl             one row per input in input order: the score of the head,
 *                                  or the input's error
 *   DIR/img_emb/img_emb_S.npy      float16 [rows, dim], L2-normalised: one row per input
 *                                  without an error, in the order of scores/S.jsonl
 *   DIR/metadata/metadata_S.jsonl  the same rows: image_path or __key__/__url__, kept fields
 *   DIR/manifest/S.json            written last: the inputs' fingerprint, the model's and
 *                                  head's ids, the options, the files' sizes
 * Each file is written under a temporary name and renamed when whole (ae_file_atomic_*); the
 * manifest comes last, so a shard is complete exactly when its manifest is there and agrees.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "hash.h"
#include "scale.h"
#include "shard.h"

const char shard_options_help[] =
    "  --shard I/N          take part I of N (0 <= I < N) of the inputs: contiguous runs of\n"
    "                       images or whole tar shards (default: from SLURM_ARRAY_TASK_ID or\n"
    "                       JOB_COMPLETION_INDEX when set; see README)\n"
    "  --shard-count N      the N of JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)\n";
const char scale_options_help[] =
    "  --out DIR            write per-shard outputs into DIR (img_emb/, metadata/, manifest/\n"
    "                       and scores/ or cull/); shards already complete are skipped;\n"
    "                       see README\n"
    "  --force              with --out, redo the shards that are complete\n"
    "  --keep F,F           WebDataset fields to carry into metadata (e.g. json,txt)\n";
const char stream_option_help[] =
    "  --stream             read paths or URLs one per line from stdin; one JSON line per\n"
    "                       input on stdout, in order, flushed per line\n";

void scale_opts_init(scale_opts *o) { memset(o, 0, sizeof *o); }

int scale_opt(scale_opts *o, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case OPT_SHARD: o->shard = arg; return 0;
    case OPT_SHARD_COUNT: o->shard_count = arg; return 0;
    case OPT_OUT: o->out_dir = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    case OPT_STREAM: o->stream = 1; return 0;
    case OPT_KEEP: {
        /* "json,txt": fields of at most 31 characters */
        char *buf = o->keep_buf;
        snprintf(buf, sizeof o->keep_buf, "%s", arg);
        o->n_keep = 0;
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (o->n_keep == 8 || strlen(t) > 31 || strchr(t, '/')) {
                cli_usage_error(cmd, "--keep: '%s' is not a list of up to 8 fields (json,txt)", arg);
                return -1;
            }
            o->keep[o->n_keep++] = t;
        }
        if (!o->n_keep) return cli_usage_error(cmd, "--keep: no field given"), -1;
        return 0;
    }
    default: return 1;
    }
}

static int resolve(const scale_opts *o, const char *cmd, ae_shard *sh)
{
    if (ae_shard_resolve(o->shard, o->shard_count, sh) == AE_OK) return 0;
    cli_error("%s: %s", cmd, ae_last_error());
    return EXIT_USAGE;
}

int scale_select_args(const scale_opts *o, int n, const char *cmd, int *first, int *count)
{
    ae_shard sh;
    if (resolve(o, cmd, &sh)) return EXIT_USAGE;
    int64_t lo, hi;
    ae_shard_range(&sh, n, &lo, &hi);
    *first = (int)lo, *count = (int)(hi - lo);
    return 0;
}

/* keeps items [lo, hi) of in */
static void keep_range(ae_inputs *in, int64_t lo, int64_t hi)
{
    for (int32_t i = 0; i < in->n; i++)
        if (i < lo || i >= hi) free(in->items[i]);
    memmove(in->items, in->items + lo, sizeof(char *) * (size_t)(hi - lo));
    in->n = (int32_t)(hi - lo);
}

int scale_select(const scale_opts *o, ae_inputs *in, const char *cmd)
{
    ae_shard sh;
    if (resolve(o, cmd, &sh)) return EXIT_USAGE;
    int64_t lo, hi;
    ae_shard_range(&sh, in->n, &lo, &hi);
    keep_range(in, lo, hi);
    return 0;
}

int scale_feed(const scale_opts *o, ae_inputs *in, int64_t max_bytes, ae_wds_feed **feed)
{
    *feed = NULL;
    int any = 0;
    for (int32_t i = 0; i < in->n; i++) any |= ae_wds_is_tar(in->items[i]);
    if (!any) return 0;
    ae_wds_feed *f;
    if (ae_wds_feed_new((const char *const *)in->items, in->n, o->keep, o->n_keep, max_bytes, &f) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    ae_inputs flat = {0};
    for (int32_t i = 0; i < ae_wds_feed_count(f); i++)
        if (ae_inputs_push(&flat, ae_wds_feed_inputs(f)[i]) != AE_OK) {
            cli_error("%s", ae_last_error());
            ae_inputs_free(&flat);
            ae_wds_feed_free(f);
            return EXIT_USAGE;
        }
    ae_inputs_free(in);
    *in = flat;
    *feed = f;
    return 0;
}

static int push_name(void *ctx, const char *name) { return ae_inputs_push(ctx, name); }

int scale_args(char **argv, int n, ae_inputs *in)
{
    struct stat st;
    for (int i = 0; i < n; i++) {
        int rc = strchr(argv[i], '{') && stat(argv[i], &st) != 0 ? ae_wds_expand(argv[i], push_name, in)
                                                                  : ae_inputs_push(in, argv[i]);
        if (rc != AE_OK) return cli_error("%s", ae_last_error()), EXIT_USAGE;
    }
    return 0;
}

void scale_source(ae_scorer_params *sp, ae_wds_feed *feed)
{
    sp->source = feed ? ae_wds_source : NULL;
    sp->source_ctx = feed;
}

/* ---- float16 ---- */

uint16_t scale_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, m = x & 0x7fffff;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0)); /* inf, nan */
    int32_t he = (int32_t)e - 127 + 15;
    if (he >= 31) return (uint16_t)(sign | 0x7c00);
    if (he <= 0) { /* subnormal or zero */
        if (he < -10) return (uint16_t)sign;
        m |= 0x800000;
        int shift = 14 - he;
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)he << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

/* A .npy header for float16 [rows, dim], padded to 64 bytes as numpy writes it. */
static void npy_header(FILE *f, int64_t rows, int32_t dim)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f2', 'fortran_order': False, 'shape': (%lld, %d), }", (long long)rows,
                     dim);
    int total = 10 + n + 1, pad = (64 - total % 64) % 64;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    uint16_t hl = (uint16_t)(n + pad + 1);
    fputc(hl & 0xff, f), fputc(hl >> 8, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
}

/* ---- the run folder ---- */

static void jstr(FILE *f, const char *s) { put_json_string(f, s, strlen(s)); }

/* the name fields of a row: image_path, or __key__ and __url__ of a sample (a row of a
 * shard itself has only __url__) */
static void name_fields(FILE *f, const char *input, const ae_wds_sample *ws, const char *shard_path)
{
    if (!ws) {
        fputs("\"image_path\": ", f), jstr(f, input);
        return;
    }
    if (ws->key) fputs("\"__key__\": ", f), jstr(f, ws->key), fputs(", ", f);
    fputs("\"__url__\": ", f), jstr(f, shard_path);
}

static void kept_fields(FILE *f, const ae_wds_sample *ws)
{
    for (int32_t k = 0; ws && k < ws->n_kept; k++) {
        const ae_wds_kept *m = &ws->kept[k];
        fputs(", ", f), jstr(f, m->field), fputs(": ", f);
        json_t *v = strcmp(m->field, "json") ? NULL : json_loadb(m->data, m->size, JSON_DECODE_ANY, NULL);
        char *dump = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (dump) fputs(dump, f);
        else {
            if (!strcmp(m->field, "json")) cli_error("warning: %s: %s.json is not valid JSON (kept as a string)", ws->input, ws->key);
            put_json_string(f, m->data, m->size);
        }
        free(dump);
        json_decref(v);
    }
}

/* the fingerprint of the inputs: names, and sizes and modification times of files */
static void inputs_fingerprint(char *const *items, int32_t n, char hex[65])
{
    ae_sha256 h;
    ae_sha256_init(&h);
    for (int32_t i = 0; i < n; i++) {
        char line[128];
        struct stat st;
        ae_sha256_update(&h, items[i], strlen(items[i]) + 1);
        if (!ae_is_url(items[i]) && stat(items[i], &st) == 0) {
            int k = snprintf(line, sizeof line, "%lld:%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                             st.st_mtim.tv_nsec);
            ae_sha256_update(&h, line, (size_t)k);
        }
    }
    uint8_t d[32];
    ae_sha256_final(&h, d);
    ae_sha256_tohex(d, hex);
}

/* the head's id: the SHA-256 of the head as saved */
static int head_id(const ae_head *head, const char *dir, char hex[65])
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/manifest/.head.%ld.tmp", dir, (long)getpid());
    if (ae_head_save(head, tmp) != AE_OK) return cli_error("%s", ae_last_error()), -1;
    size_t size;
    char *data;
    int rc = ae_file_read(tmp, (size_t)1 << 31, &data, &size);
    unlink(tmp);
    if (rc != AE_OK) return cli_error("%s", ae_last_error()), -1;
    ae_sha256_hex(data, size, hex);
    free(data);
    return 0;
}

typedef struct run_ids {
    char inputs[65], model[128], head[65], options[512];
    int64_t count; /* output shards of the whole run (all tasks) */
} run_ids;

static const char *const kind_names[] = {"score", "embed", "cull"};
/* the rows' folder of a kind (NULL: none) */
static const char *rows_dir(scale_kind k) { return k == SCALE_SCORE ? "scores" : k == SCALE_CULL ? "cull" : NULL; }

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/* 1 if the manifest of shard name says it is complete for ids and its files are whole, 0 if
 * not, -1 (printed) if it is a shard of another kind of command (a manifest before the
 * command was recorded is score's) */
static int complete(const char *dir, const char *name, const run_ids *ids, const scale_job *job)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest/%s.json", dir, name);
    json_t *m = json_load_file(path, 0, NULL);
    if (!m) return 0;
    const char *cmd = json_string_value(json_object_get(m, "command")) ?: "score";
    if (strcmp(cmd, kind_names[job->kind])) {
        cli_error("%s: %s: shard %s was written by `aesthete %s`: give `%s --out` a run folder of its own", job->cmd, path,
                  name, cmd, job->cmd);
        json_decref(m);
        return -1;
    }
    int ok = json_integer_value(json_object_get(m, "version")) == 1 &&
             !strcmp(json_string_value(json_object_get(m, "inputs")) ?: "", ids->inputs) &&
             !strcmp(json_string_value(json_object_get(m, "model")) ?: "", ids->model) &&
             !strcmp(json_string_value(json_object_get(m, "head")) ?: "", ids->head) &&
             !strcmp(json_string_value(json_object_get(m, "options")) ?: "", ids->options);
    const char *file;
    json_t *size;
    json_t *files = json_object_get(m, "files");
    if (!json_is_object(files) || json_object_size(files) != (rows_dir(job->kind) ? 3u : 2u)) ok = 0;
    json_object_foreach(files, file, size)
    {
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (file_size(path) != json_integer_value(size)) ok = 0;
    }
    json_decref(m);
    return ok;
}

typedef struct shard_out {
    const scale_job *job;
    const ae_head *bank;
    writer w;              /* for method and head names */
    ae_wds_feed *feed;
    int32_t dim;
    ae_atomic_file rows, emb, meta; /* rows: only when the kind has a rows' file */
    int64_t ok, failed;
    json_t *errors;        /* embed: the failed inputs' messages */
    const float *embeds;
    uint16_t *h16;         /* (dim) one row in float16 */
} shard_out;

static void score_fields(FILE *f, const shard_out *so, const ae_score *s)
{
    const char *cls = score_class(so->bank, s);
    fprintf(f, ", \"score\": %.9g, \"probability\": ", (double)s->score);
    if (isnan(s->probability)) fputs("null", f);
    else fprintf(f, "%.9g", (double)s->probability);
    fprintf(f, ", \"label\": \"%s\", \"class\": ", s->good ? "good" : "bad");
    if (cls) jstr(f, cls);
    else fputs("null", f);
    fprintf(f, ", \"method\": \"%s\", \"head\": ", so->w.method);
    jstr(f, so->w.head);
}

/* rows [first, first + n) of a finished batch into the temporary files: score rows (score),
 * and for every input embedded its metadata row and its float16 embedding */
static void write_rows(shard_out *so, const ae_scored *rows, int32_t first, int32_t n)
{
    for (int32_t i = first; i < first + n; i++) {
        const ae_wds_sample *ws = so->feed ? ae_wds_feed_sample(so->feed, i) : NULL;
        const ae_wds_shard *sh = so->feed ? ae_wds_feed_shard(so->feed, i) : NULL;
        const char *spath = sh ? sh->path : NULL;
        FILE *f = so->job->kind == SCALE_SCORE ? so->rows.fp : NULL;
        if (f) fputc('{', f), name_fields(f, rows[i].input, ws, spath);
        if (rows[i].rc != AE_OK) {
            if (f) fputs(", \"error\": ", f), jstr(f, rows[i].error), fputs("}\n", f);
            if (so->errors) json_array_append_new(so->errors, json_string(rows[i].error));
            cli_error("%s", rows[i].error);
            so->failed++;
            continue;
        }
        if (f) score_fields(f, so, &rows[i].score), fputs("}\n", f);
        fputc('{', so->meta.fp);
        name_fields(so->meta.fp, rows[i].input, ws, spath);
        kept_fields(so->meta.fp, ws);
        fputs("}\n", so->meta.fp);
        /* the row, L2-normalised, as float16 */
        const float *e = so->embeds + (size_t)i * so->dim;
        double ss = 0;
        for (int32_t k = 0; k < so->dim; k++) ss += (double)e[k] * e[k];
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.f;
        for (int32_t k = 0; k < so->dim; k++) so->h16[k] = scale_f16(e[k] * inv);
        fwrite(so->h16, 2, (size_t)so->dim, so->emb.fp);
        so->ok++;
    }
}

static void on_shard_batch(void *ctx, const ae_scored *rows, int32_t first, int32_t n) { write_rows(ctx, rows, first, n); }

static int open_out(const char *dir, const char *sub, const char *fmt, const char *name, ae_atomic_file *af)
{
    char path[4200], file[256];
    snprintf(file, sizeof file, fmt, name);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, file);
    if (ae_file_atomic_open(path, af) != AE_OK) return cli_error("%s", ae_last_error()), -1;
    return 0;
}

static void abort_all(shard_out *out)
{
    if (out->rows.fp) ae_file_atomic_abort(&out->rows);
    if (out->emb.fp) ae_file_atomic_abort(&out->emb);
    if (out->meta.fp) ae_file_atomic_abort(&out->meta);
}

/* Embeds (and scores or culls) items[n] (images, or one tar) into shard `name` of dir.
 * Returns the failed rows, or -1 on a fatal error (printed). */
static int64_t run_shard(const scale_opts *so, const score_opts *o, const scale_job *job, scorer *s, const run_ids *ids,
                         const char *name, char *const *items, int32_t n)
{
    const char *dir = so->out_dir, *rdir = rows_dir(job->kind);
    shard_out out;
    memset(&out, 0, sizeof out);
    out.job = job, out.bank = s->bank;
    ae_model_info mi;
    ae_model_get_info(s->model, &mi);
    out.dim = mi.embed_dim;
    ae_inputs in = {0};
    for (int32_t i = 0; i < n; i++)
        if (ae_inputs_push(&in, items[i]) != AE_OK) return cli_error("%s", ae_last_error()), ae_inputs_free(&in), -1;
    ae_scorer_params sp = scorer_params(o, s);
    if (scale_feed(so, &in, sp.max_file_bytes, &out.feed)) return ae_inputs_free(&in), -1;
    scale_source(&sp, out.feed);
    size_t rn = (size_t)(in.n ? in.n : 1);
    ae_scored *rows = calloc(rn, sizeof *rows);
    float *embeds = malloc(sizeof(float) * (size_t)out.dim * rn);
    ae_photo_facts *facts = job->kind == SCALE_CULL ? calloc(rn, sizeof *facts) : NULL;
    int64_t rc = -1;
    out.h16 = malloc(sizeof(uint16_t) * (size_t)out.dim);
    out.errors = job->kind == SCALE_EMBED ? json_array() : NULL;
    if (!rows || !embeds || !out.h16 || (job->kind == SCALE_CULL && !facts) || (job->kind == SCALE_EMBED && !out.errors)) {
        cli_error("out of memory");
        goto done;
    }
    sp.facts = facts;
    if (facts) sp.image.fast_decode_side = scale_facts_side(&sp, &mi);
    out.embeds = embeds;
    if (s->bank) writer_begin(&out.w, FMT_JSONL, 0, s->bank); /* prints nothing in JSONL: names only */
    if ((rdir && open_out(dir, rdir, "%s.jsonl", name, &out.rows)) || open_out(dir, "img_emb", "img_emb_%s.npy", name, &out.emb) ||
        open_out(dir, "metadata", "metadata_%s.jsonl", name, &out.meta)) {
        abort_all(&out);
        goto done;
    }
    /* the header's row count is known at the end: room for it now, written over then */
    npy_header(out.emb.fp, 0, out.dim);
    long header_len = ftell(out.emb.fp);
    int32_t failed = ae_score_inputs(s->session, s->bank, (const char *const *)in.items, in.n, &sp, rows, embeds,
                                     on_shard_batch, &out);
    if (failed < 0) {
        cli_error("%s", ae_last_error());
        abort_all(&out);
        goto done;
    }
    if (job->kind == SCALE_CULL && job->finish(job->ctx, out.rows.fp, s, rows, embeds, facts, in.n)) {
        abort_all(&out);
        goto done;
    }
    fseek(out.emb.fp, 0, SEEK_SET);
    npy_header(out.emb.fp, out.ok, out.dim);
    if (ftell(out.emb.fp) != header_len) { /* a longer row count: numpy reads either */
        cli_error("%s: the .npy header grew", name);
        abort_all(&out);
        goto done;
    }
    fseek(out.emb.fp, 0, SEEK_END);
    /* A redone shard's old manifest goes first, so that from here until the new one is
     * written the shard is never complete, whatever mix of old and new files a failure
     * leaves; then the files one at a time, the rest dropped after a failure (a full disk) */
    char rel[3][300], path[4200];
    snprintf(path, sizeof path, "%s/manifest/%s.json", dir, name);
    if (unlink(path) != 0 && errno != ENOENT) {
        cli_error("%s: cannot remove: %s", path, strerror(errno));
        abort_all(&out);
        goto done;
    }
    ae_atomic_file *files[3] = {rdir ? &out.rows : NULL, &out.emb, &out.meta};
    for (int k = 0; k < 3; k++)
        if (files[k] && ae_file_atomic_commit(files[k]) != AE_OK) {
            cli_error("%s", ae_last_error());
            abort_all(&out);
            goto done;
        }
    /* the manifest, last */
    int nrel = 0;
    if (rdir) snprintf(rel[nrel++], sizeof rel[0], "%s/%s.jsonl", rdir, name);
    snprintf(rel[nrel++], sizeof rel[0], "img_emb/img_emb_%s.npy", name);
    snprintf(rel[nrel++], sizeof rel[0], "metadata/metadata_%s.jsonl", name);
    json_t *m = json_pack("{s:i, s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:{}}", "version", 1, "command",
                          kind_names[job->kind], "shard", name, "count", (json_int_t)ids->count, "inputs", ids->inputs,
                          "n_inputs", (json_int_t)n, "model", ids->model, "head", ids->head, "options", ids->options,
                          "rows", (json_int_t)in.n, "ok", (json_int_t)out.ok, "failed", (json_int_t)out.failed, "files");
    for (int k = 0; m && k < nrel; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, rel[k]);
        json_object_set_new(json_object_get(m, "files"), rel[k], json_integer(file_size(path)));
    }
    if (m && out.errors) json_object_set(m, "errors", out.errors);
    char *text = m ? json_dumps(m, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    ae_atomic_file af;
    snprintf(path, sizeof path, "%s/manifest/%s.json", dir, name);
    if (!text || ae_file_atomic_open(path, &af) != AE_OK) {
        cli_error("%s", text ? ae_last_error() : "out of memory");
        free(text);
        goto done;
    }
    fputs(text, af.fp), fputc('\n', af.fp);
    free(text);
    if (ae_file_atomic_commit(&af) != AE_OK) {
        cli_error("%s", ae_last_error());
        goto done;
    }
    rc = out.failed;
done:
    free(rows), free(embeds), free(facts), free(out.h16);
    json_decref(out.errors);
    ae_wds_feed_free(out.feed);
    ae_inputs_free(&in);
    return rc;
}

int scale_facts_side(const ae_scorer_params *sp, const ae_model_info *mi)
{
    if (!sp->image.fast_decode) return sp->image.fast_decode_side;
    return mi->resize_shortest_edge > AE_QUALITY_SIDE ? mi->resize_shortest_edge : AE_QUALITY_SIDE;
}

int scale_open_embedder(scorer *s, const score_opts *o)
{
    memset(s, 0, sizeof *s);
    s->quiet = o->quiet;
    if (!(s->model = cli_load_model(o->model, 0, 1, o->precision, -1))) return EXIT_USAGE;
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = (int32_t)o->threads;
    if (ae_session_new(s->model, &sp, &s->session) != AE_OK) return cli_error("%s", ae_last_error()), EXIT_USAGE;
    return 0;
}

int scale_run(const scale_opts *so, const score_opts *o, ae_inputs *in, const scale_job *job)
{
    const char *cmd = job->cmd;
    ae_shard sh;
    if (resolve(so, cmd, &sh)) return EXIT_USAGE;
    int32_t tars = 0;
    for (int32_t i = 0; i < in->n; i++) tars += ae_wds_is_tar(in->items[i]);
    if (tars && tars != in->n)
        return cli_usage_error(cmd, "--out: give tar shards or images, not both (%d of the %d inputs are tars)", tars, in->n);
    const char *dir = so->out_dir;
    const char *subs[] = {"img_emb", "metadata", "manifest", rows_dir(job->kind)};
    char path[4096];
    for (int k = 0; k < 4 && subs[k]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, subs[k]);
        if (ae_mkdirs(path) != AE_OK) return cli_error("%s", ae_last_error()), EXIT_USAGE;
    }
    scorer s;
    int r = job->kind == SCALE_EMBED ? scale_open_embedder(&s, o) : scorer_open(&s, o, cmd, 1);
    if (r) {
        scorer_close(&s);
        return r;
    }
    run_ids ids;
    ae_model_info mi;
    ae_model_get_info(s.model, &mi);
    snprintf(ids.model, sizeof ids.model, "%s", mi.fingerprint);
    snprintf(ids.options, sizeof ids.options, "exif=%d,max_pixels=%llu,fast=%d,precision=%s,keep=", o->image.exif_rotate,
             (unsigned long long)o->image.max_pixels, o->image.fast_decode, ae_precision_name(mi.precision));
    for (int32_t k = 0; k < so->n_keep; k++)
        snprintf(ids.options + strlen(ids.options), sizeof ids.options - strlen(ids.options), "%s%s", k ? "," : "",
                 so->keep[k]);
    if (job->options)
        snprintf(ids.options + strlen(ids.options), sizeof ids.options - strlen(ids.options), ",%s", job->options);
    if (!s.bank) snprintf(ids.head, sizeof ids.head, "none");
    else if (head_id(s.bank, dir, ids.head)) {
        scorer_close(&s);
        return EXIT_USAGE;
    }
    int64_t lo, hi, failed = 0, done = 0, skipped = 0;
    ae_shard_range(&sh, in->n, &lo, &hi);
    /* tars: one output per tar, numbered among all the tars; images: one for this task */
    int64_t first = tars ? lo : sh.index, last = tars ? hi : sh.index + 1;
    ids.count = tars ? tars : sh.count;
    int digits = ae_shard_digits(ids.count);
    int fatal = 0;
    for (int64_t u = first; u < last && !fatal; u++) {
        char name[32];
        snprintf(name, sizeof name, "%0*lld", digits, (long long)u);
        char *const *items = tars ? in->items + u : in->items + lo;
        int32_t n = tars ? 1 : (int32_t)(hi - lo);
        inputs_fingerprint(items, n, ids.inputs);
        int c = complete(dir, name, &ids, job);
        if (c < 0) {
            fatal = 1;
            break;
        }
        if (!so->force && c) {
            if (o->verbose) cli_error("shard %s is complete (skipped; --force redoes it)", name);
            skipped++;
            continue;
        }
        int64_t f = run_shard(so, o, job, &s, &ids, name, items, n);
        if (f < 0) fatal = 1;
        else failed += f, done++;
    }
    if (o->verbose) cli_error("%lld shards written, %lld complete already, %lld failed inputs", (long long)done,
                              (long long)skipped, (long long)failed);
    scorer_close(&s);
    return fatal ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

/* ---- --stream ---- */

typedef struct lines {
    char *buf;
    size_t len, cap;
    int eof;
} lines;

/* reads what stdin has: waits when block, else only what is there; 0 when nothing came */
static int fill(lines *L, int block)
{
    if (L->eof) return 0;
    struct pollfd p = {0, POLLIN, 0};
    if (!block && poll(&p, 1, 0) <= 0) return 0;
    if (L->cap - L->len < 65536) {
        size_t cap = L->cap ? L->cap * 2 : 1 << 17;
        char *b = realloc(L->buf, cap);
        if (!b) return L->eof = 1, 0;
        L->buf = b, L->cap = cap;
    }
    ssize_t k;
    do k = read(0, L->buf + L->len, L->cap - L->len);
    while (k < 0 && errno == EINTR);
    if (k <= 0) return L->eof = 1, 0;
    L->len += (size_t)k;
    return 1;
}

/* the next whole line (a last one without its newline at the end of input), or NULL */
static char *take(lines *L)
{
    char *nl = L->len ? memchr(L->buf, '\n', L->len) : NULL;
    size_t n = nl ? (size_t)(nl - L->buf) : L->eof ? L->len : 0;
    if (!nl && (!L->eof || !L->len)) return NULL;
    char *s = strndup(L->buf, n);
    size_t used = nl ? n + 1 : n;
    memmove(L->buf, L->buf + used, L->len - used);
    L->len -= used;
    if (s && n && s[n - 1] == '\r') s[n - 1] = 0;
    return s;
}

int scale_stream(const score_opts *o, const char *cmd)
{
    scorer s;
    int r;
    if ((r = scorer_open(&s, o, cmd, 1))) {
        scorer_close(&s);
        return r;
    }
    enum { B = 16 };
    lines L = {0};
    writer w;
    writer_begin(&w, FMT_JSONL, 0, s.bank);
    row_stream ctx = {&w, s.bank};
    ae_scorer_params sp = ae_scorer_default_params();
    sp.image = o->image;
    sp.cache = s.cache;
    sp.batch = B;
    ae_scored rows[B];
    int64_t failed = 0;
    for (;;) {
        char *batch[B];
        int n = 0;
        /* a batch of what is there: waits for the first line only, so a line is answered
         * when it comes, and a fast writer still gets batched work */
        while (n < B) {
            char *line = take(&L);
            if (line) {
                batch[n++] = line;
                continue;
            }
            if (L.eof || !fill(&L, n == 0)) {
                if (L.eof && (line = take(&L))) batch[n++] = line;
                if (n || L.eof) break;
            }
        }
        if (!n) break;
        int32_t f = ae_score_inputs(s.session, s.bank, (const char *const *)batch, n, &sp, rows, NULL, write_scored_rows, &ctx);
        for (int i = 0; i < n; i++) free(batch[i]);
        if (f < 0) {
            cli_error("%s", ae_last_error());
            failed = -1;
            break;
        }
        failed += f;
    }
    free(L.buf);
    writer_end(&w);
    scorer_close(&s);
    return failed < 0 ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
