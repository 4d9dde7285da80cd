/*
 * cmd_merge.c — `aesthete merge DIR`: the global ranking of a run folder written by
 * `score`/`rank --out DIR` (one task per shard), and a summary across the shards.
 *
 * Only complete shards count: those whose manifest is there and whose files have the sizes
 * it records (a task killed mid-shard leaves no manifest). Memory stays bounded whatever the
 * number of rows: with --top K a heap of the K best rows; for the whole ranking an external
 * merge — each shard's rows are sorted alone (one shard in memory at a time) into a run file
 * under DIR/.merge-PID/, then the runs are merged through a heap of one row per run. Ties
 * keep input order (shard order, then row order), as `rank` orders equal scores.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "scoring.h"
#include "shard.h"

static void help(void)
{
    printf("usage: aesthete merge [OPTIONS] DIR\n\n"
           "Ranks the rows of every complete shard of a run folder (written by `aesthete score\n"
           "--out DIR` or `rank --out DIR`, see README) best first, and prints a summary across\n"
           "the shards on stderr. Shards without a manifest (not finished) are left out and\n"
           "counted.\n\n"
           "  --top K        only the K best (a heap of K rows)\n"
           "  --format F     jsonl (default: the shard rows with \"rank\" first), csv or tsv\n"
           "                 (rank, score, probability, label, class, input)\n"
           "  --help         this text\n\n"
           "Exit status: 0 merged, 1 some shards incomplete or some rows failed, 2 usage or\n"
           "fatal error (unreadable shard, shards of different models or heads).\n");
}

typedef struct rec {
    double score;
    int64_t seq;  /* input order across shards */
    char *line;   /* the row as the shard holds it, without its newline */
} rec;

/* a before b in the ranking */
static int before(const rec *a, const rec *b) { return a->score > b->score || (a->score == b->score && a->seq < b->seq); }
static int cmp_rank(const void *a, const void *b) { return before(a, b) ? -1 : before(b, a) ? 1 : 0; }

/* A binary heap of recs; worst_first: the root is the row ranked last (top K), else first. */
typedef struct heap {
    rec *v;
    size_t n, cap;
    int worst_first;
    int32_t *src;  /* run of each entry (merge), parallel to v */
} heap;

static int above(const heap *h, size_t i, size_t j) { return h->worst_first ? before(&h->v[j], &h->v[i]) : before(&h->v[i], &h->v[j]); }
static void swap(heap *h, size_t i, size_t j)
{
    rec t = h->v[i];
    h->v[i] = h->v[j], h->v[j] = t;
    if (h->src) {
        int32_t s = h->src[i];
        h->src[i] = h->src[j], h->src[j] = s;
    }
}
static void sift_down(heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && above(h, l, m)) m = l;
        if (r < h->n && above(h, r, m)) m = r;
        if (m == i) return;
        swap(h, i, m), i = m;
    }
}
static void sift_up(heap *h, size_t i)
{
    while (i && above(h, i, (i - 1) / 2)) swap(h, i, (i - 1) / 2), i = (i - 1) / 2;
}

typedef struct summary {
    int64_t shards, incomplete, rows, ok, failed;
    double sum, min, max;
} summary;

typedef enum { OUT_JSONL, OUT_CSV, OUT_TSV } out_kind;

static void put_row(out_kind k, int64_t rank, const char *line)
{
    if (k == OUT_JSONL) {
        printf("{\"rank\": %lld, %s\n", (long long)rank, line + 1);
        return;
    }
    json_t *j = json_loads(line, 0, NULL);
    const char *path = json_string_value(json_object_get(j, "image_path"));
    const char *key = json_string_value(json_object_get(j, "__key__")), *url = json_string_value(json_object_get(j, "__url__"));
    char *input = NULL;
    if (path) input = strdup(path);
    else if (asprintf(&input, "%s#%s", url ? url : "", key ? key : "") < 0) input = NULL;
    json_t *p = json_object_get(j, "probability");
    const char *cls = json_string_value(json_object_get(j, "class")), *label = json_string_value(json_object_get(j, "label"));
    char sep = k == OUT_CSV ? ',' : '\t';
    printf("%lld%c%.6f%c", (long long)rank, sep, json_number_value(json_object_get(j, "score")), sep);
    if (json_is_number(p)) printf("%.6f", json_number_value(p));
    printf("%c%s%c", sep, label ? label : "", sep);
    if (k == OUT_CSV) csv_field(cls ? cls : ""), putchar(sep), csv_field(input ? input : "");
    else tsv_field(cls ? cls : ""), putchar(sep), tsv_field(input ? input : "");
    putchar('\n');
    free(input);
    json_decref(j);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names of the complete shards, sorted; counts the others into s->incomplete. Checks
 * that every manifest names the same model and head as the first. */
static int list_shards(const char *dir, char ***out, int32_t *n_out, summary *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/scores", dir);
    DIR *d = opendir(path);
    if (!d) return cli_error("%s: %s (not a run folder of `score --out`)", path, strerror(errno)), -1;
    char **names = NULL;
    int32_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 7 || strcmp(e->d_name + len - 6, ".jsonl")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, sizeof *p * (size_t)cap);
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
        }
        if (!(names[n] = strndup(e->d_name, len - 6))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (names) qsort(names, (size_t)n, sizeof *names, cmp_name);
    char model[200] = "", head[80] = "";
    const char *first = NULL;
    int32_t k = 0, i = 0;
    int64_t count = 0;
    for (; rc == 0 && i < n; i++) {
        snprintf(path, sizeof path, "%s/manifest/%s.json", dir, names[i]);
        json_t *m = json_load_file(path, 0, NULL);
        const char *file;
        json_t *size, *files = json_object_get(m, "files");
        int ok = m && json_is_object(files) && json_object_size(files) == 3;
        json_object_foreach(files, file, size)
        {
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, file);
            if (stat(path, &st) != 0 || st.st_size != json_integer_value(size)) ok = 0;
        }
        const char *mm = json_string_value(json_object_get(m, "model")), *hh = json_string_value(json_object_get(m, "head"));
        if (!ok) {
            cli_error("warning: %s: shard %s is incomplete (no manifest, or its files changed): left out", dir, names[i]);
            s->incomplete++;
            free(names[i]);
        } else if (!first) {
            first = names[i], names[k++] = names[i];
            count = json_integer_value(json_object_get(m, "count"));
            snprintf(model, sizeof model, "%s", mm ? mm : ""), snprintf(head, sizeof head, "%s", hh ? hh : "");
        } else if (strcmp(model, mm ? mm : "") || strcmp(head, hh ? hh : "")) {
            cli_error("%s: shard %s was scored with another model or head than shard %s: their scores do not rank together",
                      dir, names[i], first);
            names[k++] = names[i];
            rc = -1;
        } else {
            names[k++] = names[i];
        }
        json_decref(m);
    }
    for (; i < n; i++) free(names[i]); /* not reached after an error */
    /* the shards of the run never written (a task that has not run, or was killed before its
     * first rename): their numbers from the manifests' count */
    for (int64_t u = 0; rc == 0 && u < count; u++) {
        char name[32];
        snprintf(name, sizeof name, "%0*lld", ae_shard_digits(count), (long long)u);
        int seen = 0;
        for (int32_t j = 0; j < k && !seen; j++) seen = !strcmp(names[j], name);
        snprintf(path, sizeof path, "%s/scores/%s.jsonl", dir, name);
        if (!seen && access(path, F_OK) != 0) {
            cli_error("warning: %s: shard %s of %lld is missing (not written yet): left out", dir, name, (long long)count);
            s->incomplete++;
        }
    }
    *out = names, *n_out = k;
    return rc;
}

/* Reads shard `name`'s rows: calls fn for each ok row (the line is the caller's to keep). */
static int read_shard(const char *dir, const char *name, int64_t *seq, summary *s, int (*fn)(void *, rec *), void *ctx)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/scores/%s.jsonl", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return cli_error("%s: %s", path, strerror(errno)), -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t no = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        no++;
        if (line[len - 1] == '\n') line[--len] = 0;
        json_t *j = json_loadb(line, (size_t)len, 0, NULL);
        json_t *score = json_object_get(j, "score");
        s->rows++;
        if (json_object_get(j, "error")) {
            s->failed++;
        } else if (!json_is_number(score) || line[0] != '{') {
            cli_error("%s: line %lld: not a row of scores", path, (long long)no);
            rc = -1;
        } else {
            rec r = {json_number_value(score), (*seq)++, NULL};
            s->ok++, s->sum += r.score;
            if (s->ok == 1 || r.score < s->min) s->min = r.score;
            if (s->ok == 1 || r.score > s->max) s->max = r.score;
            if (!(r.line = strndup(line, (size_t)len))) rc = -1;
            else rc = fn(ctx, &r);
        }
        json_decref(j);
    }
    if (ferror(f)) rc = (cli_error("%s: read error", path), -1);
    free(line);
    fclose(f);
    return rc;
}

static int push_top(void *ctx, rec *r)
{
    heap *h = ctx;
    if (h->n < h->cap) {
        h->v[h->n++] = *r;
        sift_up(h, h->n - 1);
    } else if (before(r, &h->v[0])) {
        free(h->v[0].line);
        h->v[0] = *r;
        sift_down(h, 0);
    } else {
        free(r->line);
    }
    return 0;
}

typedef struct vec {
    rec *v;
    size_t n, cap;
} vec;

static int push_all(void *ctx, rec *r)
{
    vec *a = ctx;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        rec *p = realloc(a->v, sizeof *p * cap);
        if (!p) return free(r->line), cli_error("out of memory"), -1;
        a->v = p, a->cap = cap;
    }
    a->v[a->n++] = *r;
    return 0;
}

/* the next record of a run file ("score \t seq \t line"), 0 at its end */
static int next_run(FILE *f, rec *r)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    if (len <= 0) return free(line), 0;
    if (line[len - 1] == '\n') line[--len] = 0;
    char *end, *t;
    r->score = strtod(line, &end);
    r->seq = strtoll(end + 1, &t, 10);
    memmove(line, t + 1, strlen(t + 1) + 1);
    r->line = line;
    return 1;
}

static void remove_tree(const char *tmp, char **names, int32_t n)
{
    char path[4400];
    for (int32_t i = 0; i < n; i++) snprintf(path, sizeof path, "%s/%s.run", tmp, names[i]), unlink(path);
    rmdir(tmp);
}

static int merge_all(const char *dir, char **names, int32_t n, out_kind k, summary *s)
{
    char tmp[4200], path[4400];
    snprintf(tmp, sizeof tmp, "%s/.merge-%ld", dir, (long)getpid());
    if (mkdir(tmp, 0755) != 0) return cli_error("%s: %s", tmp, strerror(errno)), -1;
    /* one open run per shard: as many descriptors as the hard limit allows */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)n + 16 > rl.rlim_cur) {
        rmdir(tmp);
        return cli_error("%s: %d shards need more open files than the limit of %llu: use --top K", dir, n,
                         (unsigned long long)rl.rlim_cur),
               -1;
    }
    int64_t seq = 0;
    int rc = 0;
    FILE **runs = calloc((size_t)(n ? n : 1), sizeof *runs);
    if (!runs) return rmdir(tmp), cli_error("out of memory"), -1;
    for (int32_t i = 0; rc == 0 && i < n; i++) {
        vec a = {0};
        rc = read_shard(dir, names[i], &seq, s, push_all, &a);
        if (rc == 0 && a.n) qsort(a.v, a.n, sizeof *a.v, cmp_rank);
        snprintf(path, sizeof path, "%s/%s.run", tmp, names[i]);
        FILE *f = rc == 0 ? fopen(path, "w+") : NULL;
        if (rc == 0 && !f) rc = (cli_error("%s: %s", path, strerror(errno)), -1);
        for (size_t j = 0; j < a.n; j++) {
            if (f) fprintf(f, "%.17g\t%lld\t%s\n", a.v[j].score, (long long)a.v[j].seq, a.v[j].line);
            free(a.v[j].line);
        }
        free(a.v);
        if (f && (fflush(f) || ferror(f))) rc = (cli_error("%s: cannot write: %s", path, strerror(errno)), -1);
        if (f) rewind(f);
        runs[i] = f;
    }
    heap h = {calloc((size_t)(n ? n : 1), sizeof(rec)), 0, (size_t)n, 0, calloc((size_t)(n ? n : 1), sizeof(int32_t))};
    if (!h.v || !h.src) rc = -1;
    for (int32_t i = 0; rc == 0 && i < n; i++) {
        rec r;
        if (next_run(runs[i], &r)) h.v[h.n] = r, h.src[h.n] = i, h.n++, sift_up(&h, h.n - 1);
    }
    for (int64_t rank = 1; rc == 0 && h.n; rank++) {
        put_row(k, rank, h.v[0].line);
        free(h.v[0].line);
        rec r;
        if (next_run(runs[h.src[0]], &r)) h.v[0] = r;
        else h.v[0] = h.v[--h.n], h.src[0] = h.src[h.n];
        sift_down(&h, 0);
    }
    for (size_t i = 0; i < h.n; i++) free(h.v[i].line);
    free(h.v), free(h.src);
    for (int32_t i = 0; i < n; i++)
        if (runs[i]) fclose(runs[i]);
    free(runs);
    remove_tree(tmp, names, n);
    return rc;
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"top", required_argument, 0, 'k'}, {"format", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long top = 0;
    out_kind k = OUT_JSONL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_ALL_OK;
        case 'k':
            if (cli_parse_int("merge", "--top", optarg, 1, 1L << 30, &top)) return EXIT_USAGE;
            break;
        case 'f':
            if (!strcmp(optarg, "jsonl")) k = OUT_JSONL;
            else if (!strcmp(optarg, "csv")) k = OUT_CSV;
            else if (!strcmp(optarg, "tsv")) k = OUT_TSV;
            else return cli_usage_error("merge", "--format: '%s' is not jsonl, csv or tsv", optarg);
            break;
        default: return cli_usage_error("merge", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return cli_usage_error("merge", "give one run folder DIR");
    const char *dir = argv[optind];
    summary s = {0};
    char **names = NULL;
    int32_t n = 0;
    int rc = list_shards(dir, &names, &n, &s);
    if (rc == 0 && k != OUT_JSONL) printf(k == OUT_CSV ? "rank,score,probability,label,class,input\n" : "rank\tscore\tprobability\tlabel\tclass\tinput\n");
    if (rc == 0 && top) {
        heap h = {calloc((size_t)top, sizeof(rec)), 0, (size_t)top, 1, NULL};
        int64_t seq = 0;
        if (!h.v) rc = (cli_error("out of memory"), -1);
        for (int32_t i = 0; rc == 0 && i < n; i++) rc = read_shard(dir, names[i], &seq, &s, push_top, &h);
        if (rc == 0) qsort(h.v, h.n, sizeof *h.v, cmp_rank);
        for (size_t i = 0; i < h.n; i++) {
            if (rc == 0) put_row(k, (int64_t)i + 1, h.v[i].line);
            free(h.v[i].line);
        }
        free(h.v);
    } else if (rc == 0) {
        rc = merge_all(dir, names, n, k, &s);
    }
    fflush(stdout);
    for (int32_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc) return EXIT_USAGE;
    if (s.ok)
        cli_error("%lld shards (%lld incomplete or missing, left out): %lld rows, %lld scored, %lld failed; score min %.4f, mean %.4f, max %.4f",
                  (long long)n, (long long)s.incomplete, (long long)s.rows, (long long)s.ok, (long long)s.failed, s.min,
                  s.sum / (double)s.ok, s.max);
    else
        cli_error("%lld shards (%lld incomplete or missing, left out): %lld rows, %lld scored, %lld failed", (long long)n,
                  (long long)s.incomplete, (long long)s.rows, (long long)s.ok, (long long)s.failed);
    return s.incomplete || s.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
