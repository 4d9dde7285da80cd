/*
 * cull.c — groups of copies and bursts among scored images, and a keeper per group
 * (ae_cull; the rules are documented in aesthete.h).
 *
 * 1. exact: items with the same bytes hash, then the same pixel hash, are joined outright.
 * 2. near: every pair with cosine >= similar is a link. The cosines are blocked matrix
 *    products through the library's GEMM (a column block of embeddings packed as the weights
 *    of a linear layer, the rows multiplied against it), only blocks on or above the diagonal;
 *    each block is scanned on the pool's threads for values over the threshold (a row whose
 *    maximum is below it costs one vectorised pass).
 *    Above AE_CULL_ALL_PAIRS_MAX images (or when asked) the pairs are searched in buckets
 *    instead, as SemDeDup does: spherical k-means (KMEANS_ITERS rounds on a strided sample of
 *    at most KMEANS_SAMPLE images, deterministic initial centroids) makes ceil(sqrt(n))
 *    buckets; each image goes into its AE_CULL_PROBES nearest; the blocked products above run
 *    inside each bucket, and a pair is kept only from the lowest bucket its two images share,
 *    so it is found once. ~4 n^1.5 d flops for evenly filled buckets.
 * 3. burst: items sorted by (camera, time); each is compared with the following frames of its
 *    camera within burst_gap seconds (at most MAX_WINDOW of them, so a folder whose files all
 *    carry one time stays linear), linked at cosine >= burst_similar.
 * Links are applied in decreasing similarity (near edges first, then burst edges) with a
 * disjoint-set forest whose sets also keep a member list: two sets merge only if every pair
 * across them has a cosine of at least the kind's floor, cos(2 acos T) = 2T^2 - 1 (the diameter
 * cap). Each successful merge checks each pair once, so a group of m costs at most m^2 / 2
 * dot products however it formed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aesthete.h"
#include "error.h"
#include "nn/nn.h"

#define ROW_BLOCK 512   /* rows of one product block */
#define COL_BLOCK 2048  /* columns (packed embeddings) of one product block */
#define MAX_WINDOW 256  /* frames after each one that a burst compares */
#define MAX_THREADS 64
#define KMEANS_SAMPLE 40000 /* images the bucket centroids are fitted on */
#define KMEANS_ITERS 10
#define BUCKET_COL_BLOCK 256 /* a bucket's ~2 n / sqrt(n) images: half the square in such blocks */

static const char *const keep_names[] = {"score", "sharpness", "size", "newest"};
static const char *const search_names[] = {"auto", "all", "buckets"};

/* the index of name among names[n], or -1 */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

const char *ae_keep_by_name(ae_keep_by k)
{
    return k >= AE_KEEP_BY_SCORE && k <= AE_KEEP_BY_NEWEST ? keep_names[k] : "";
}

int ae_keep_by_parse(const char *name, ae_keep_by *out)
{
    const int i = name_index(keep_names, 4, name);
    if (i < 0) return ae_fail(AE_ERR_INVALID, "'%s' is not score, sharpness, size or newest", name ? name : "");
    return *out = (ae_keep_by)i, AE_OK;
}

const char *ae_cull_search_name(ae_cull_search s)
{
    return s >= AE_CULL_SEARCH_AUTO && s <= AE_CULL_SEARCH_BUCKETS ? search_names[s] : "";
}

int ae_cull_search_parse(const char *name, ae_cull_search *out)
{
    const int i = name_index(search_names, 3, name);
    if (i < 0) return ae_fail(AE_ERR_INVALID, "'%s' is not a search: auto, all or buckets", name ? name : "");
    return *out = (ae_cull_search)i, AE_OK;
}

ae_cull_params ae_cull_default_params(void)
{
    ae_cull_params p;
    memset(&p, 0, sizeof p);
    p.similar = 0.95f;
    p.burst_similar = 0.85f;
    p.burst_gap = 2.0;
    p.keep_by = AE_KEEP_BY_SCORE;
    p.blur_ratio = 0.5f;
    return p;
}

const char *ae_cull_kind_name(ae_cull_kind k)
{
    switch (k) {
    case AE_CULL_EXACT: return "exact";
    case AE_CULL_NEAR: return "near";
    case AE_CULL_BURST: return "burst";
    default: return "single";
    }
}

const char *ae_cull_match_name(ae_cull_match m)
{
    switch (m) {
    case AE_MATCH_BYTES: return "bytes";
    case AE_MATCH_PIXELS: return "pixels";
    case AE_MATCH_NEAR: return "near";
    case AE_MATCH_BURST: return "burst";
    default: return "";
    }
}

/* ---- links (edges between images) ------------------------------------------------------ */

typedef struct edge {
    int32_t a, b;
    float sim;
} edge;

typedef struct edges {
    edge *v;
    size_t n, cap;
} edges;

static int edges_push(edges *l, int32_t a, int32_t b, float sim)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        edge *v = realloc(l->v, cap * sizeof *v);
        if (!v) return AE_ERR_NOMEM;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = (edge){a, b, sim};
    return AE_OK;
}

static int edges_append(edges *dst, const edges *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (edges_push(dst, src->v[i].a, src->v[i].b, src->v[i].sim) != AE_OK) return AE_ERR_NOMEM;
    return AE_OK;
}

/* decreasing similarity, then by index: one order on every machine */
static int by_sim_desc(const void *x, const void *y)
{
    const edge *a = x, *b = y;
    if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

/* ---- disjoint sets with member lists ----------------------------------------------------- */

typedef struct sets {
    int32_t *parent, *size, *next; /* next: circular list of a set's members */
    uint8_t *level;                /* at roots: the loosest kind of edge used */
} sets;

static int32_t find(sets *s, int32_t x)
{
    while (s->parent[x] != x) {
        s->parent[x] = s->parent[s->parent[x]];
        x = s->parent[x];
    }
    return x;
}

static void join(sets *s, int32_t a, int32_t b, uint8_t level)
{
    a = find(s, a), b = find(s, b);
    if (a == b) return;
    if (s->size[a] < s->size[b]) {
        int32_t t = a;
        a = b, b = t;
    }
    s->parent[b] = a;
    s->size[a] += s->size[b];
    int32_t t = s->next[a];
    s->next[a] = s->next[b];
    s->next[b] = t;
    uint8_t lv = s->level[a] > s->level[b] ? s->level[a] : s->level[b];
    s->level[a] = lv > level ? lv : level;
}

/* eight partial sums: vectorised without reassociation flags */
static float dot(const float *a, const float *b, int32_t d)
{
    float acc[8] = {0};
    int32_t k = 0;
    for (; k + 8 <= d; k += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; k < d; k++) s += a[k] * b[k];
    return s;
}

/* 1 if every pair across the sets of roots ra and rb has a cosine >= floor. */
static int within_diameter(const sets *s, const float *E, int32_t d, int32_t ra, int32_t rb,
                           float floor)
{
    int32_t x = ra;
    do {
        int32_t y = rb;
        do {
            if (dot(E + (size_t)x * d, E + (size_t)y * d, d) < floor) return 0;
            y = s->next[y];
        } while (y != rb);
        x = s->next[x];
    } while (x != ra);
    return 1;
}

static void apply_links(sets *s, const float *E, int32_t d, edges *l, float floor, uint8_t level)
{
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, by_sim_desc);
    for (size_t i = 0; i < l->n; i++) {
        int32_t ra = find(s, l->v[i].a), rb = find(s, l->v[i].b);
        /* already together through tighter edges: the group keeps its kind */
        if (ra != rb && within_diameter(s, E, d, ra, rb, floor)) join(s, ra, rb, level);
    }
}

/* ---- near edges: blocked products ------------------------------------------------------- */

typedef struct scan {
    const float *y;         /* [rows, cols] cosines of rows r0.. against columns c0.. */
    int32_t r0, rows, c0, cols;
    float threshold;
    edges part[MAX_THREADS]; /* each thread's edges */
    int failed;
} scan;

static void scan_task(void *arg, int ith, int nth)
{
    scan *sc = arg;
    for (int32_t r = ith; r < sc->rows; r += nth) {
        const int32_t i = sc->r0 + r;
        /* only pairs i < j: columns after i */
        int32_t from = i + 1 - sc->c0;
        if (from < 0) from = 0;
        if (from >= sc->cols) continue;
        const float *row = sc->y + (size_t)r * sc->cols;
        float mx = -2.0f;
        for (int32_t c = from; c < sc->cols; c++) mx = row[c] > mx ? row[c] : mx;
        if (mx < sc->threshold) continue;
        for (int32_t c = from; c < sc->cols; c++)
            if (row[c] >= sc->threshold && edges_push(&sc->part[ith], i, sc->c0 + c, row[c]) != AE_OK)
                sc->failed = 1;
    }
}

/* the product block and the threads' edge lists of near_links, reused across buckets */
typedef struct pair_scan {
    float *y; /* ROW_BLOCK x COL_BLOCK */
    scan sc;
} pair_scan;

static pair_scan *pair_scan_new(void)
{
    pair_scan *ps = calloc(1, sizeof *ps);
    if (ps && !(ps->y = malloc(sizeof(float) * ROW_BLOCK * COL_BLOCK))) free(ps), ps = NULL;
    return ps;
}

static void pair_scan_free(pair_scan *ps)
{
    if (!ps) return;
    for (int t = 0; t < MAX_THREADS; t++) free(ps->sc.part[t].v);
    free(ps->y);
    free(ps);
}

/* every pair i < j of E's n rows with cosine >= threshold, appended to out; col_block <=
 * COL_BLOCK columns per product (smaller blocks compute less below the diagonal) */
static int near_links(const float *E, int32_t n, int32_t d, float threshold, int32_t col_block, nn_pool *pool,
                      pair_scan *ps, edges *out)
{
    scan *sc = &ps->sc;
    int rc = AE_OK;
    for (int32_t c0 = 0; rc == AE_OK && c0 < n; c0 += col_block) {
        const int32_t cols = n - c0 < col_block ? n - c0 : col_block;
        nn_linear l;
        if ((rc = nn_linear_init(&l, cols, d, E + (size_t)c0 * d, NULL)) != AE_OK) break;
        /* rows before the block's last column: on or above the diagonal */
        for (int32_t r0 = 0; rc == AE_OK && r0 < c0 + cols - 1; r0 += ROW_BLOCK) {
            const int32_t rows = c0 + cols - 1 - r0 < ROW_BLOCK ? c0 + cols - 1 - r0 : ROW_BLOCK;
            nn_linear_forward(&l, E + (size_t)r0 * d, rows, ps->y, NN_ACT_NONE, NULL, pool);
            sc->y = ps->y, sc->r0 = r0, sc->rows = rows, sc->c0 = c0, sc->cols = cols;
            sc->threshold = threshold;
            sc->failed = 0;
            nn_pool_run(pool, scan_task, sc);
            if (sc->failed) rc = AE_ERR_NOMEM;
            for (int t = 0; t < MAX_THREADS && rc == AE_OK; t++) {
                rc = edges_append(out, &sc->part[t]);
                sc->part[t].n = 0;
            }
        }
        nn_linear_free(&l);
    }
    return rc;
}

/* ---- near edges for millions: k-means buckets, all pairs inside each -------------------- */

typedef struct assign {
    const float *y; /* [rows, k] cosines of rows r0.. to the centroids */
    int32_t r0, rows, k, probes;
    int32_t *best;  /* [n, probes]: the nearest centroids, nearest first; -1 past k */
} assign;

static void assign_task(void *arg, int ith, int nth)
{
    const assign *a = arg;
    for (int32_t r = ith; r < a->rows; r += nth) {
        const float *row = a->y + (size_t)r * a->k;
        int32_t *b = a->best + (size_t)(a->r0 + r) * a->probes;
        float top[AE_CULL_PROBES];
        for (int p = 0; p < a->probes; p++) b[p] = -1, top[p] = -INFINITY;
        for (int32_t c = 0; c < a->k; c++) {
            const float v = row[c];
            if (!(v > top[a->probes - 1])) continue;
            int p = a->probes - 1;
            for (; p > 0 && v > top[p - 1]; p--) top[p] = top[p - 1], b[p] = b[p - 1];
            top[p] = v, b[p] = c;
        }
        if (b[0] < 0) b[0] = 0; /* no finite cosine (a zero embedding): the first bucket */
    }
}

/* best[n * probes]: each of X's n rows' nearest of the k centroids C, by cosine */
static int nearest_centroids(const float *X, int32_t n, int32_t d, const float *C, int32_t k, int probes,
                             nn_pool *pool, int32_t *best)
{
    nn_linear l;
    int rc = nn_linear_init(&l, k, d, C, NULL);
    if (rc != AE_OK) return rc;
    float *y = malloc(sizeof(float) * ROW_BLOCK * (size_t)k);
    assign a = {y, 0, 0, k, probes, best};
    for (int32_t r0 = 0; y && r0 < n; r0 += ROW_BLOCK) {
        a.r0 = r0, a.rows = n - r0 < ROW_BLOCK ? n - r0 : ROW_BLOCK;
        nn_linear_forward(&l, X + (size_t)r0 * d, a.rows, y, NN_ACT_NONE, NULL, pool);
        nn_pool_run(pool, assign_task, &a);
    }
    nn_linear_free(&l);
    free(y);
    return y ? AE_OK : AE_ERR_NOMEM;
}

/* C[k, d]: spherical k-means centroids of a strided sample of E (the same on every run) */
static int kmeans(const float *E, int32_t n, int32_t d, int32_t k, nn_pool *pool, float *C)
{
    const int32_t m = n < KMEANS_SAMPLE ? n : KMEANS_SAMPLE;
    float *S = malloc(sizeof(float) * (size_t)m * d);
    int32_t *best = malloc(sizeof(int32_t) * (size_t)m), *count = malloc(sizeof(int32_t) * (size_t)k);
    double *sum = malloc(sizeof(double) * (size_t)k * d);
    int rc = S && best && count && sum ? AE_OK : AE_ERR_NOMEM;
    for (int32_t i = 0; rc == AE_OK && i < m; i++)
        memcpy(S + (size_t)i * d, E + (size_t)((int64_t)i * n / m) * d, sizeof(float) * d);
    for (int32_t c = 0; rc == AE_OK && c < k; c++)
        memcpy(C + (size_t)c * d, S + (size_t)((int64_t)c * m / k) * d, sizeof(float) * d);
    for (int it = 0; rc == AE_OK && it < KMEANS_ITERS; it++) {
        if ((rc = nearest_centroids(S, m, d, C, k, 1, pool, best)) != AE_OK) break;
        memset(sum, 0, sizeof(double) * (size_t)k * d);
        memset(count, 0, sizeof(int32_t) * (size_t)k);
        for (int32_t i = 0; i < m; i++) {
            double *acc = sum + (size_t)best[i] * d;
            const float *x = S + (size_t)i * d;
            count[best[i]]++;
            for (int32_t j = 0; j < d; j++) acc[j] += x[j];
        }
        for (int32_t c = 0; c < k; c++) {
            const double *acc = sum + (size_t)c * d;
            double ss = 0;
            for (int32_t j = 0; j < d; j++) ss += acc[j] * acc[j];
            if (!count[c] || !(ss > 0) || !isfinite(ss)) continue; /* an empty bucket stays put */
            const double inv = 1.0 / sqrt(ss);
            for (int32_t j = 0; j < d; j++) C[(size_t)c * d + j] = (float)(acc[j] * inv);
        }
    }
    free(S), free(best), free(count), free(sum);
    return rc;
}

/* the lowest bucket two images share (each lists AE_CULL_PROBES, -1 for none) */
static int32_t first_common(const int32_t *a, const int32_t *b)
{
    int32_t lo = -1;
    for (int p = 0; p < AE_CULL_PROBES; p++)
        for (int q = 0; q < AE_CULL_PROBES; q++)
            if (a[p] >= 0 && a[p] == b[q] && (lo < 0 || a[p] < lo)) lo = a[p];
    return lo;
}

static int bucket_links(const float *E, int32_t n, int32_t d, float threshold, nn_pool *pool, edges *out)
{
    const int P = AE_CULL_PROBES;
    const int32_t k = (int32_t)ceil(sqrt((double)n));
    float *C = malloc(sizeof(float) * (size_t)k * d), *G = NULL;
    int32_t *best = malloc(sizeof(int32_t) * (size_t)n * P), *start = calloc((size_t)k + 1, sizeof(int32_t));
    int32_t *members = malloc(sizeof(int32_t) * (size_t)n * P);
    edges local = {0};
    pair_scan *ps = pair_scan_new();
    int rc = C && best && start && members && ps ? AE_OK : AE_ERR_NOMEM;
    if (rc == AE_OK) rc = kmeans(E, n, d, k, pool, C);
    if (rc == AE_OK) rc = nearest_centroids(E, n, d, C, k, P, pool, best);
    if (rc == AE_OK) {
        /* members of each bucket in input order (a counting sort), so that a < b holds */
        int32_t largest = 0;
        for (size_t i = 0; i < (size_t)n * P; i++)
            if (best[i] >= 0) start[best[i] + 1]++;
        for (int32_t c = 0; c < k; c++) {
            largest = start[c + 1] > largest ? start[c + 1] : largest;
            start[c + 1] += start[c];
        }
        for (int32_t i = 0; i < n; i++)
            for (int p = 0; p < P; p++) {
                const int32_t c = best[(size_t)i * P + p];
                if (c >= 0) members[start[c]++] = i;
            }
        for (int32_t c = k; c > 0; c--) start[c] = start[c - 1];
        start[0] = 0;
        if (!(G = malloc(sizeof(float) * (size_t)largest * d))) rc = AE_ERR_NOMEM;
    }
    for (int32_t c = 0; rc == AE_OK && c < k; c++) {
        const int32_t *mem = members + start[c], m = start[c + 1] - start[c];
        if (m < 2) continue;
        for (int32_t j = 0; j < m; j++) memcpy(G + (size_t)j * d, E + (size_t)mem[j] * d, sizeof(float) * d);
        local.n = 0;
        if ((rc = near_links(G, m, d, threshold, BUCKET_COL_BLOCK, pool, ps, &local)) != AE_OK) break;
        for (size_t e = 0; rc == AE_OK && e < local.n; e++) {
            const int32_t a = mem[local.v[e].a], b = mem[local.v[e].b];
            if (first_common(best + (size_t)a * P, best + (size_t)b * P) == c)
                rc = edges_push(out, a, b, local.v[e].sim);
        }
    }
    free(C), free(G), free(best), free(start), free(members), free(local.v);
    pair_scan_free(ps);
    return rc;
}

/* ---- burst edges ------------------------------------------------------------------------- */

typedef struct timed {
    const char *camera;
    double time;
    int32_t i;
} timed;

static int by_camera_time(const void *x, const void *y)
{
    const timed *a = x, *b = y;
    int c = strcmp(a->camera, b->camera);
    if (c) return c;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int burst_links(const ae_cull_item *items, int32_t n, const float *E, int32_t d,
                       const ae_cull_params *p, edges *out)
{
    timed *t = malloc(sizeof *t * (size_t)(n > 0 ? n : 1));
    if (!t) return AE_ERR_NOMEM;
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (items[i].has_time && isfinite(items[i].time))
            t[m++] = (timed){items[i].camera ? items[i].camera : "", items[i].time, i};
    qsort(t, (size_t)m, sizeof *t, by_camera_time);
    int rc = AE_OK;
    for (int32_t a = 0; a < m && rc == AE_OK; a++)
        for (int32_t b = a + 1; b < m && b - a <= MAX_WINDOW && rc == AE_OK; b++) {
            if (strcmp(t[a].camera, t[b].camera) != 0 || t[b].time - t[a].time > p->burst_gap) break;
            float s = dot(E + (size_t)t[a].i * d, E + (size_t)t[b].i * d, d);
            if (s >= p->burst_similar) {
                int32_t x = t[a].i < t[b].i ? t[a].i : t[b].i, y = t[a].i < t[b].i ? t[b].i : t[a].i;
                rc = edges_push(out, x, y, s);
            }
        }
    free(t);
    return rc;
}

/* ---- exact groups ------------------------------------------------------------------------ */

typedef struct hashed {
    uint8_t h[32];
    int32_t i;
} hashed;

static int by_hash(const void *x, const void *y)
{
    const hashed *a = x, *b = y;
    int c = memcmp(a->h, b->h, sizeof a->h);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

static int same_bytes(const ae_cull_item *a, const ae_cull_item *b)
{
    return a->has_bytes_hash && b->has_bytes_hash && memcmp(a->bytes_hash, b->bytes_hash, 32) == 0;
}

static int same_pixels(const ae_cull_item *a, const ae_cull_item *b)
{
    return a->has_pixel_hash && b->has_pixel_hash && memcmp(a->pixel_hash, b->pixel_hash, 16) == 0;
}

/* Joins runs of equal bytes hashes, then of equal pixel hashes. */
static int exact_groups(const ae_cull_item *items, int32_t n, sets *s)
{
    hashed *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
    if (!v) return AE_ERR_NOMEM;
    for (int pass = 0; pass < 2; pass++) {
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++) {
            if (pass == 0 && items[i].has_bytes_hash) memcpy(v[m].h, items[i].bytes_hash, 32);
            else if (pass == 1 && items[i].has_pixel_hash) {
                memset(v[m].h, 0, 32);
                memcpy(v[m].h, items[i].pixel_hash, 16);
            } else continue;
            v[m++].i = i;
        }
        qsort(v, (size_t)m, sizeof *v, by_hash);
        for (int32_t k = 1; k < m; k++)
            if (memcmp(v[k - 1].h, v[k].h, 32) == 0) join(s, v[k - 1].i, v[k].i, AE_CULL_EXACT);
    }
    free(v);
    return AE_OK;
}

/* ---- keepers ----------------------------------------------------------------------------- */

static int score_beats(float a, float b)
{
    if (isnan(b)) return !isnan(a);
    return !isnan(a) && a > b;
}

/* 1 if item a is a better keeper than b by rule k (b < a in input order is the last tie) */
static int better(const ae_cull_item *items, const ae_cull_row *rows, ae_keep_by k, int32_t a, int32_t b)
{
    const ae_cull_item *x = &items[a], *y = &items[b];
    switch (k) {
    case AE_KEEP_BY_SCORE:
        if (rows[a].blurrier != rows[b].blurrier) return rows[b].blurrier;
        break;
    case AE_KEEP_BY_SHARPNESS: {
        float sa = x->has_quality ? x->quality.sharpness : -1, sb = y->has_quality ? y->quality.sharpness : -1;
        if (sa != sb) return sa > sb;
        break;
    }
    case AE_KEEP_BY_SIZE:
        if (x->pixels != y->pixels) return x->pixels > y->pixels;
        if (x->file_bytes != y->file_bytes) return x->file_bytes > y->file_bytes;
        break;
    case AE_KEEP_BY_NEWEST:
        if (x->has_time != y->has_time) return x->has_time;
        if (x->has_time && x->time != y->time) return x->time > y->time;
        break;
    }
    if (score_beats(x->score, y->score)) return 1;
    if (score_beats(y->score, x->score)) return 0;
    if (x->pixels != y->pixels) return x->pixels > y->pixels;
    return a < b;
}

int ae_cull(const ae_cull_item *items, int32_t n, int32_t dim, const ae_cull_params *params,
            ae_cull_row *out)
{
    ae_cull_params p = params ? *params : ae_cull_default_params();
    if (n < 0 || (n > 0 && (!items || !out)) || dim <= 0)
        return ae_fail(AE_ERR_INVALID, "ae_cull: invalid arguments");
    if (!(p.similar > 0 && p.similar <= 1) || !(p.burst_similar > 0 && p.burst_similar <= 1))
        return ae_fail(AE_ERR_INVALID, "cull: similarity thresholds must be in (0, 1], got %g and %g",
                       p.similar, p.burst_similar);
    if (!(p.blur_ratio >= 0 && p.blur_ratio <= 1))
        return ae_fail(AE_ERR_INVALID, "cull: the blur ratio must be in [0, 1], got %g", p.blur_ratio);
    if (isnan(p.burst_gap)) return ae_fail(AE_ERR_INVALID, "cull: the burst gap is not a number");
    if (!*ae_cull_search_name(p.search)) return ae_fail(AE_ERR_INVALID, "cull: unknown search %d", (int)p.search);
    for (int32_t i = 0; i < n; i++)
        if (!items[i].embedding) return ae_fail(AE_ERR_INVALID, "cull: image %d has no embedding", i);
    if (n == 0) return AE_OK;

    float *E = malloc(sizeof(float) * (size_t)n * (size_t)dim);
    sets s = {malloc(sizeof(int32_t) * (size_t)n), malloc(sizeof(int32_t) * (size_t)n),
              malloc(sizeof(int32_t) * (size_t)n), calloc((size_t)n, 1)};
    edges near = {0}, burst = {0};
    int32_t *first = NULL;
    nn_pool *pool = NULL;
    int rc = E && s.parent && s.size && s.next && s.level ? AE_OK : AE_ERR_NOMEM;
    if (rc == AE_OK) {
        int th = p.n_threads > 0 ? p.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        th = th < 1 ? 1 : th > MAX_THREADS ? MAX_THREADS : th;
        if (!(pool = nn_pool_new(th))) rc = AE_ERR_NOMEM;
    }
    if (rc != AE_OK) goto done;
    for (int32_t i = 0; i < n; i++) {
        const float *e = items[i].embedding;
        double ss = 0;
        for (int32_t k = 0; k < dim; k++) ss += (double)e[k] * e[k];
        float inv = ss > 0 && isfinite(ss) ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int32_t k = 0; k < dim; k++) E[(size_t)i * dim + k] = e[k] * inv;
        s.parent[i] = i, s.size[i] = 1, s.next[i] = i;
    }
    if ((rc = exact_groups(items, n, &s)) != AE_OK) goto done;
    const int buckets = p.search == AE_CULL_SEARCH_BUCKETS ||
                        (p.search == AE_CULL_SEARCH_AUTO && n > AE_CULL_ALL_PAIRS_MAX);
    if (buckets) {
        rc = bucket_links(E, n, dim, p.similar, pool, &near);
    } else {
        pair_scan *ps = pair_scan_new();
        rc = ps ? near_links(E, n, dim, p.similar, COL_BLOCK, pool, ps, &near) : AE_ERR_NOMEM;
        pair_scan_free(ps);
    }
    if (rc != AE_OK) goto done;
    apply_links(&s, E, dim, &near, 2 * p.similar * p.similar - 1, AE_CULL_NEAR);
    if (p.burst_gap > 0) {
        if ((rc = burst_links(items, n, E, dim, &p, &burst)) != AE_OK) goto done;
        apply_links(&s, E, dim, &burst, 2 * p.burst_similar * p.burst_similar - 1, AE_CULL_BURST);
    }

    /* groups numbered by their first input; sharpness relative to each group's sharpest */
    if (!(first = malloc(sizeof(int32_t) * (size_t)n))) {
        rc = AE_ERR_NOMEM;
        goto done;
    }
    for (int32_t i = 0; i < n; i++) first[i] = -1;
    int32_t groups = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t r = find(&s, i);
        ae_cull_row *o = &out[i];
        memset(o, 0, sizeof *o);
        o->size = s.size[r];
        o->keep = 1, o->keeper = i, o->similarity = 1.0f, o->twin = -1;
        o->rel_sharpness = items[i].has_quality ? 1.0f : NAN;
        if (s.size[r] == 1) {
            o->group = -1, o->kind = AE_CULL_SINGLE;
            continue;
        }
        if (first[r] < 0) first[r] = groups++;
        o->group = first[r];
        o->kind = s.level[r] ? (ae_cull_kind)s.level[r] : AE_CULL_EXACT;
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t r = find(&s, i);
        if (s.size[r] == 1 || first[r] < 0 || i != r) continue;
        /* one pass per group from its root: sharpest, then the keeper */
        float sharpest = 0;
        int32_t x = r;
        do {
            if (items[x].has_quality && items[x].quality.sharpness > sharpest) sharpest = items[x].quality.sharpness;
            x = s.next[x];
        } while (x != r);
        x = r;
        do {
            if (items[x].has_quality) {
                float rel = sharpest > 0 ? items[x].quality.sharpness / sharpest : 1.0f;
                out[x].rel_sharpness = rel;
                out[x].blurrier = rel < p.blur_ratio;
            }
            x = s.next[x];
        } while (x != r);
        int32_t keeper = r;
        x = s.next[r];
        while (x != r) {
            if (better(items, out, p.keep_by, x, keeper)) keeper = x;
            x = s.next[x];
        }
        x = r;
        do {
            ae_cull_row *o = &out[x];
            o->keeper = keeper;
            o->keep = x == keeper;
            o->twin = -1;
            if (x != keeper) {
                o->similarity = dot(E + (size_t)x * dim, E + (size_t)keeper * dim, dim);
                if (same_bytes(&items[x], &items[keeper])) o->match = AE_MATCH_BYTES;
                else if (same_pixels(&items[x], &items[keeper])) o->match = AE_MATCH_PIXELS;
                else if (o->similarity >= p.similar || o->kind != AE_CULL_BURST) o->match = AE_MATCH_NEAR;
                else o->match = AE_MATCH_BURST;
                /* an exact copy of another member than the keeper: the earliest such member */
                if (o->match == AE_MATCH_NEAR || o->match == AE_MATCH_BURST) {
                    int32_t y = r;
                    do {
                        if (y != x && (o->twin < 0 || y < o->twin) &&
                            (same_bytes(&items[x], &items[y]) || same_pixels(&items[x], &items[y])))
                            o->twin = y;
                        y = s.next[y];
                    } while (y != r);
                    if (o->twin >= 0)
                        o->twin_match = same_bytes(&items[x], &items[o->twin]) ? AE_MATCH_BYTES : AE_MATCH_PIXELS;
                }
            }
            x = s.next[x];
        } while (x != r);
    }
done:
    if (rc == AE_ERR_NOMEM) ae_fail(rc, "cull: out of memory for %d images", n);
    nn_pool_free(pool);
    free(near.v), free(burst.v), free(first);
    free(E), free(s.parent), free(s.size), free(s.next), free(s.level);
    return rc;
}

int ae_cull_reason(const ae_cull_item *items, const ae_cull_row *rows, int32_t i, ae_keep_by keep_by,
                   const char *const *names, char *buf, size_t cap)
{
    if (!buf || cap == 0) return AE_ERR_INVALID;
    buf[0] = 0;
    if (!items || !rows || i < 0) return AE_ERR_INVALID;
    const ae_cull_row *r = &rows[i];
    if (r->keep) return AE_OK;
    const ae_cull_item *x = &items[i], *k = &items[r->keeper];
    const char *what = r->match == AE_MATCH_BYTES    ? "the same bytes as"
                       : r->match == AE_MATCH_PIXELS ? "the same pixels as"
                       : r->match == AE_MATCH_BURST  ? "burst frame of"
                                                     : "near-duplicate of";
    const char *keeper_name = names && names[r->keeper] ? names[r->keeper] : "the keeper";
    size_t n = (size_t)snprintf(buf, cap, "%s %s", what, keeper_name);
#define ADD(...) (n < cap ? (void)(n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__)) : (void)0)
    if (r->match == AE_MATCH_PIXELS) ADD(" (other metadata)");
    if (r->match == AE_MATCH_BYTES || r->match == AE_MATCH_PIXELS) return AE_OK;
    if (r->twin >= 0)
        ADD(" (%s %s)", r->twin_match == AE_MATCH_BYTES ? "the same bytes as" : "the same pixels as",
            names && names[r->twin] ? names[r->twin] : "another member");
    float d = k->score - x->score;
    if (d > 0) ADD(", %.3g points lower", (double)d);
    else if (d < 0) ADD(", %.3g points higher", (double)-d);
    if (r->blurrier) ADD(", blurrier");
    if (keep_by == AE_KEEP_BY_SIZE && x->pixels < k->pixels) ADD(", fewer pixels");
    if (keep_by == AE_KEEP_BY_NEWEST && x->has_time && k->has_time && x->time < k->time) ADD(", older");
    if (keep_by == AE_KEEP_BY_SHARPNESS && !r->blurrier && r->rel_sharpness < 1) ADD(", less sharp");
#undef ADD
    return AE_OK;
}
