/*
 * test_cull.c — ae_cull's grouping rules on embeddings built to known cosines (the tiny test
 * models' embeddings carry no visual meaning, so the rules are proven here and the end-to-end
 * sets in test_cull_cli only check that real copies reach these rules intact).
 *
 * Vectors: a "scene" is a random unit vector; a copy of it is cos(a) * scene + sin(a) * u with
 * u a random unit vector orthogonal to the scene, so cos(copy, scene) = cos(a) exactly (to
 * float rounding). Scenes in 64+ dimensions are nearly orthogonal to each other.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "stats.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static void unit(float *x, int d)
{
    double s = 0;
    for (int k = 0; k < d; k++) x[k] = (float)gauss(), s += (double)x[k] * x[k];
    for (int k = 0; k < d; k++) x[k] = (float)(x[k] / sqrt(s));
}

static double cosine(const float *a, const float *b, int d)
{
    double s = 0, na = 0, nb = 0;
    for (int k = 0; k < d; k++) s += (double)a[k] * b[k], na += (double)a[k] * a[k], nb += (double)b[k] * b[k];
    return s / sqrt(na * nb);
}

/* out = cos(angle) * base + sin(angle) * (unit vector orthogonal to base), scaled by `norm`
 * (ae_cull must not care about the norm) */
static void rotate(const float *base, double angle, float norm, float *out, int d)
{
    float u[1024];
    unit(u, d);
    double p = 0;
    for (int k = 0; k < d; k++) p += (double)u[k] * base[k];
    double s = 0;
    for (int k = 0; k < d; k++) u[k] = (float)(u[k] - p * base[k]), s += (double)u[k] * u[k];
    for (int k = 0; k < d; k++)
        out[k] = norm * (float)(cos(angle) * base[k] + sin(angle) * u[k] / sqrt(s));
}

static void item_init(ae_cull_item *it, const float *e, float score)
{
    memset(it, 0, sizeof *it);
    it->embedding = e;
    it->score = score;
}

static int cull(const ae_cull_item *items, int n, int d, const ae_cull_params *p, ae_cull_row *out)
{
    int rc = ae_cull(items, n, d, p, out);
    CHECK_EQ_INT(rc, AE_OK);
    return rc;
}

static void test_exact_and_near(void)
{
    enum { D = 64, N = 7 };
    float e[N][D];
    ae_cull_item it[N];
    ae_cull_row r[N];
    unit(e[0], D);
    memcpy(e[1], e[0], sizeof e[0]);   /* 1: the same bytes as 0 */
    memcpy(e[2], e[0], sizeof e[0]);   /* 2: the same pixels, other metadata */
    rotate(e[0], acos(0.97), 3.0f, e[3], D); /* 3: a re-encode, cos 0.97 */
    unit(e[4], D);                     /* 4: another photo */
    rotate(e[4], acos(0.96), 1.0f, e[5], D); /* 5: its resize, cos 0.96 */
    rotate(e[4], acos(0.90), 1.0f, e[6], D); /* 6: the same room, cos 0.90 (< 0.95) */
    float score[N] = {10, 10, 10, 25, 5, 7, 99};
    for (int i = 0; i < N; i++) item_init(&it[i], e[i], score[i]);
    for (int i = 0; i < 3; i++) {
        it[i].has_bytes_hash = 1, memset(it[i].bytes_hash, i == 2 ? 0x22 : 0x11, 32);
        it[i].has_pixel_hash = 1, it[i].pixel_hash[0] = 42, it[i].pixel_hash[1] = 7;
    }
    ae_cull_params p = ae_cull_default_params();
    p.burst_gap = 0;
    if (cull(it, N, D, &p, r)) return;
    /* 0..3 one near group (joined by exact links and a near link), keeper 3 (the best score) */
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(r[i].group, 0);
        CHECK_EQ_INT(r[i].kind, AE_CULL_NEAR);
        CHECK_EQ_INT(r[i].size, 4);
        CHECK_EQ_INT(r[i].keeper, 3);
    }
    CHECK_EQ_INT(r[3].keep, 1);
    CHECK_EQ_INT(r[3].match, AE_MATCH_NONE);
    CHECK_EQ_INT(r[0].keep, 0);
    CHECK_EQ_INT(r[0].match, AE_MATCH_NEAR);
    CHECK_NEAR(r[0].similarity, 0.97, 1e-4);
    /* 4 and 5 a near pair, keeper 5; 6 is only 0.90 alike: a single */
    CHECK_EQ_INT(r[4].group, 1);
    CHECK_EQ_INT(r[5].group, 1);
    CHECK_EQ_INT(r[5].keep, 1);
    CHECK_EQ_INT(r[4].keeper, 5);
    CHECK_EQ_INT(r[6].group, -1);
    CHECK_EQ_INT(r[6].kind, AE_CULL_SINGLE);
    CHECK_EQ_INT(r[6].keep, 1);
    CHECK_EQ_INT(r[6].size, 1);
    CHECK(isnan(r[6].rel_sharpness));

    /* the reasons name the keeper, and for 1 its exact twin */
    const char *names[N] = {"a.jpg", "a copy.jpg", "a.png", "a q60.jpg", "b.jpg", "b half.jpg", "room.jpg"};
    char why[256];
    CHECK_EQ_INT(ae_cull_reason(it, r, 1, p.keep_by, names, why, sizeof why), AE_OK);
    CHECK_EQ_INT(r[1].twin, 0);
    CHECK_EQ_INT(r[1].twin_match, AE_MATCH_BYTES);
    CHECK_EQ_INT(r[2].twin, 0);
    CHECK_EQ_INT(r[2].twin_match, AE_MATCH_PIXELS);
    CHECK_EQ_INT(r[0].twin, 1); /* 0's earliest twin is 1 */
    CHECK(!strcmp(why, "near-duplicate of a q60.jpg (the same bytes as a.jpg), 15 points lower"));
    CHECK_EQ_INT(ae_cull_reason(it, r, 4, p.keep_by, names, why, sizeof why), AE_OK);
    CHECK(!strcmp(why, "near-duplicate of b half.jpg, 2 points lower"));
    CHECK_EQ_INT(ae_cull_reason(it, r, 5, p.keep_by, names, why, sizeof why), AE_OK);
    CHECK(!strcmp(why, ""));
    CHECK_EQ_INT(r[5].twin, -1);
    /* cut short, never past cap */
    char small[12];
    CHECK_EQ_INT(ae_cull_reason(it, r, 1, p.keep_by, names, small, sizeof small), AE_OK);
    CHECK(!strcmp(small, "near-duplic"));

    /* without the re-encode, 0..2 are an exact group; 1 matches the keeper by bytes, 2 by pixels */
    for (int i = 0; i < 3; i++) it[i].score = (float)(3 - i); /* keeper 0 */
    if (cull(it, 3, D, &p, r)) return;
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(r[i].kind, AE_CULL_EXACT);
    CHECK_EQ_INT(r[0].keep, 1);
    CHECK_EQ_INT(r[1].match, AE_MATCH_BYTES);
    CHECK_EQ_INT(r[2].match, AE_MATCH_PIXELS);
    CHECK_STR_CONTAINS(ae_cull_match_name(r[2].match), "pixels");
    CHECK_STR_CONTAINS(ae_cull_kind_name(r[0].kind), "exact");
    CHECK_EQ_INT(ae_cull_reason(it, r, 2, p.keep_by, names, why, sizeof why), AE_OK);
    CHECK(!strcmp(why, "the same pixels as a.jpg (other metadata)"));
    CHECK_EQ_INT(r[2].twin, -1);

    /* exact copies group even when their embeddings differ (another decoder, say) */
    float far[D];
    unit(far, D);
    it[2].embedding = far;
    if (cull(it, 3, D, &p, r)) return;
    CHECK_EQ_INT(r[2].group, 0);
    CHECK_EQ_INT(r[2].kind, AE_CULL_EXACT);
}

static void test_blur_and_keep_by(void)
{
    enum { D = 48, N = 4 };
    float e[N][D];
    ae_cull_item it[N];
    ae_cull_row r[N];
    unit(e[0], D);
    for (int i = 1; i < N; i++) rotate(e[0], acos(0.985), 1.0f, e[i], D);
    /* 0: sharp, score 50; 1: blurred (sharpness 30% of 0's) but score 80; 2: sharp-ish,
     * score 60, the largest; 3: newest, score 10 */
    float score[N] = {50, 80, 60, 10}, sharp[N] = {1000, 300, 900, 800};
    int64_t pixels[N] = {100, 100, 400, 100};
    double t[N] = {1, 2, 3, 4};
    for (int i = 0; i < N; i++) {
        item_init(&it[i], e[i], score[i]);
        it[i].has_quality = 1, it[i].quality.sharpness = sharp[i];
        it[i].pixels = pixels[i];
        it[i].has_time = 1, it[i].time = t[i] * 1000; /* far apart: no burst */
    }
    ae_cull_params p = ae_cull_default_params();
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].keeper, 2); /* 1 scores best but is clearly blurrier */
    CHECK_EQ_INT(r[1].blurrier, 1);
    CHECK_NEAR(r[1].rel_sharpness, 0.3, 1e-6);
    CHECK_EQ_INT(r[2].blurrier, 0);
    CHECK_NEAR(r[2].rel_sharpness, 0.9, 1e-6);
    CHECK_NEAR(r[0].rel_sharpness, 1.0, 1e-6);
    p.blur_ratio = 0.2f; /* 30% is not "clearly" blurrier any more */
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].keeper, 1);
    p.blur_ratio = 0.5f;
    p.keep_by = AE_KEEP_BY_SHARPNESS;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[3].keeper, 0);
    p.keep_by = AE_KEEP_BY_SIZE;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[3].keeper, 2);
    p.keep_by = AE_KEEP_BY_NEWEST;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].keeper, 3);
    /* ties: equal scores go to more pixels, then the earlier input; NaN scores lose */
    p.keep_by = AE_KEEP_BY_SCORE;
    for (int i = 0; i < N; i++) it[i].score = 5, it[i].quality.sharpness = 100, it[i].pixels = 10;
    it[3].pixels = 11;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].keeper, 3);
    it[3].pixels = 10;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].keeper, 0);
    it[0].score = NAN;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].keeper, 1);
}

static void test_bursts(void)
{
    enum { D = 64, N = 9 };
    float e[N][D];
    ae_cull_item it[N];
    ae_cull_row r[N];
    unit(e[0], D);
    for (int i = 1; i < N; i++) rotate(e[0], acos(0.9), 1.0f, e[i], D); /* 0.81 to each other */
    const char *cam[N] = {"Canon EOS R5 #1", "Canon EOS R5 #1", "Canon EOS R5 #1", "Canon EOS R5 #2",
                          "Canon EOS R5 #1", "Canon EOS R5 #1", "Canon EOS R5 #1", NULL, NULL};
    double t[N] = {100.0, 101.5, 103.0, 101.0, /* 4: 3.5 s after 2: a new burst */ 106.5, 107.0,
                   /* 6: in the gap but another picture */ 107.5, 500.0, 501.0};
    for (int i = 0; i < N; i++) {
        item_init(&it[i], e[i], (float)i);
        it[i].has_time = 1, it[i].time = t[i], it[i].camera = cam[i];
    }
    unit(e[6], D); /* a different picture, within the gap */
    ae_cull_params p = ae_cull_default_params();
    p.burst_similar = 0.75f; /* members are 0.81 +- 0.03 alike */
    if (cull(it, N, D, &p, r)) return;
    /* 0, 1, 2: chained by gaps of 1.5 s; camera #2 at 101.0 stays out */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(r[i].kind, AE_CULL_BURST);
        CHECK_EQ_INT(r[i].group, 0);
        CHECK_EQ_INT(r[i].size, 3);
    }
    CHECK_EQ_INT(r[2].keep, 1);
    CHECK_EQ_INT(r[0].match, AE_MATCH_BURST);
    CHECK_EQ_INT(r[3].group, -1);
    /* 4, 5 a second burst; 6 is close in time but not alike */
    CHECK_EQ_INT(r[4].group, 1);
    CHECK_EQ_INT(r[5].group, 1);
    CHECK_EQ_INT(r[6].group, -1);
    /* unknown cameras are one camera */
    CHECK_EQ_INT(r[7].group, 2);
    CHECK_EQ_INT(r[8].kind, AE_CULL_BURST);
    /* the gap is inclusive: 1.5 s apart with a gap of 1.5 joins, 1.4 does not */
    p.burst_gap = 1.5;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[1].group, r[0].group);
    CHECK(r[0].group >= 0);
    p.burst_gap = 1.4;
    if (cull(it, N, D, &p, r)) return;
    CHECK_EQ_INT(r[0].group, -1);
    CHECK_EQ_INT(r[4].group, r[5].group); /* 0.5 s apart */
    /* similar but without times: never a burst */
    for (int i = 0; i < N; i++) it[i].has_time = 0;
    p.burst_gap = 2;
    if (cull(it, N, D, &p, r)) return;
    for (int i = 0; i < N; i++) CHECK_EQ_INT(r[i].group, -1);
    /* no bursts at all with gap 0 */
    for (int i = 0; i < N; i++) it[i].has_time = 1;
    p.burst_gap = 0;
    if (cull(it, N, D, &p, r)) return;
    for (int i = 0; i < N; i++) CHECK_EQ_INT(r[i].group, -1);
}

/* A slow pan: frame k at angle k * 14 degrees in one plane, neighbours 0.970 alike. Without
 * the diameter cap all 12 would chain into one group; with it no group spans more than
 * 2 acos(0.95) = 36.4 degrees. */
static void test_diameter_cap(void)
{
    enum { D = 64, N = 12 };
    float a[D], b[D], e[N][D];
    ae_cull_item it[N];
    ae_cull_row r[N];
    unit(a, D);
    rotate(a, M_PI / 2, 1.0f, b, D); /* orthogonal to a */
    for (int i = 0; i < N; i++) {
        double ang = i * 14.0 * M_PI / 180;
        for (int k = 0; k < D; k++) e[i][k] = (float)(cos(ang) * a[k] + sin(ang) * b[k]);
        item_init(&it[i], e[i], 0);
    }
    ae_cull_params p = ae_cull_default_params();
    p.burst_gap = 0;
    if (cull(it, N, D, &p, r)) return;
    double floor = 2 * 0.95 * 0.95 - 1;
    int biggest = 0, grouped = 0;
    for (int i = 0; i < N; i++) {
        biggest = r[i].size > biggest ? r[i].size : biggest;
        grouped += r[i].group >= 0;
        for (int j = 0; j < N; j++)
            if (i != j && r[i].group >= 0 && r[i].group == r[j].group)
                CHECK_MSG(cosine(e[i], e[j], D) >= floor - 1e-5, "frames %d and %d: cos %.4f in one group", i,
                          j, cosine(e[i], e[j], D));
    }
    CHECK(biggest >= 2 && biggest <= 3); /* 28 degrees fit, 42 do not */
    CHECK_EQ_INT(grouped, N);            /* every frame still has a neighbour group */
}

/* n images across several product blocks (the block edges at 512 rows and 2048 columns),
 * planted pairs at known places, odd dimension: exactly the planted pairs group, whatever the
 * thread count. */
static void test_blocks(void)
{
    enum { D = 37, N = 4700 };
    float *e = malloc(sizeof(float) * N * D);
    ae_cull_item *it = malloc(sizeof *it * N);
    ae_cull_row *r1 = malloc(sizeof *r1 * N), *r2 = malloc(sizeof *r2 * N);
    int32_t *partner = malloc(sizeof(int32_t) * N);
    if (!e || !it || !r1 || !r2 || !partner) {
        CHECK(0);
        goto out;
    }
    /* 37 dimensions: random scenes are at |cos| < 0.85 almost surely; make sure of it */
    for (int i = 0; i < N; i++) partner[i] = -1;
    const int32_t pairs[][2] = {{0, 1}, {511, 512}, {2047, 2048}, {3, 4600}, {1000, 4699}, {2100, 4095}, {4096, 4097}};
    const int npairs = sizeof pairs / sizeof pairs[0];
    for (int i = 0; i < N; i++) unit(e + (size_t)i * D, D);
    for (int k = 0; k < npairs; k++) {
        rotate(e + (size_t)pairs[k][0] * D, acos(0.96), 2.0f, e + (size_t)pairs[k][1] * D, D);
        partner[pairs[k][0]] = pairs[k][1], partner[pairs[k][1]] = pairs[k][0];
    }
    /* any accidental pair over 0.95 between random scenes would blur the check: count them */
    int accidental = 0;
    for (int i = 0; i < N; i++) item_init(&it[i], e + (size_t)i * D, (float)(i % 97));
    ae_cull_params p = ae_cull_default_params();
    p.burst_gap = 0;
    p.n_threads = 1;
    if (cull(it, N, D, &p, r1)) goto out;
    p.n_threads = 2;
    if (cull(it, N, D, &p, r2)) goto out;
    int same = 1, found = 0;
    for (int i = 0; i < N; i++) {
        same &= r1[i].group == r2[i].group && r1[i].keeper == r2[i].keeper;
        if (partner[i] >= 0) {
            found += r1[i].group >= 0 && r1[i].group == r1[partner[i]].group && r1[i].size == 2;
        } else if (r1[i].group >= 0) {
            accidental++;
        }
    }
    CHECK_EQ_INT(found, 2 * npairs);
    CHECK_EQ_INT(accidental, 0);
    CHECK(same);
    /* groups numbered in input order of their first member */
    CHECK_EQ_INT(r1[0].group, 0);
    CHECK_EQ_INT(r1[3].group, 1);
    CHECK_EQ_INT(r1[511].group, 2);
out:
    free(e), free(it), free(r1), free(r2), free(partner);
}

/* the bucket search finds the same groups as all pairs on clustered embeddings (as real
 * photos' are): 12 topics, scenes at cos 0.7 to their topic (~0.5 to each other), a copy at
 * cos 0.97 of every tenth scene, a second copy of every fiftieth, exact twins by bytes */
static void test_buckets(void)
{
    enum { D = 48, T = 12, N = 3000 };
    float *e = malloc(sizeof(float) * N * D), *topic = malloc(sizeof(float) * T * D);
    ae_cull_item *it = malloc(sizeof *it * N);
    ae_cull_row *all = malloc(sizeof *all * N), *b1 = malloc(sizeof *b1 * N), *b2 = malloc(sizeof *b2 * N);
    if (!e || !topic || !it || !all || !b1 || !b2) {
        CHECK(0);
        goto out;
    }
    for (int k = 0; k < T; k++) unit(topic + k * D, D);
    for (int i = 0; i < N; i++) {
        float *x = e + (size_t)i * D;
        if (i % 10 == 1) rotate(x - D, acos(0.97), 1.0f, x, D);
        else if (i % 50 == 2) rotate(x - 2 * D, acos(0.97), 1.0f, x, D);
        else rotate(topic + (int)(uniform() * T) * D, acos(0.7), 1.0f, x, D);
        item_init(&it[i], x, (float)((i * 37) % 101));
    }
    for (int i = 7; i < N; i += 100) { /* the same bytes as the next image, whatever the vectors */
        it[i].has_bytes_hash = it[i + 1].has_bytes_hash = 1;
        memset(it[i].bytes_hash, i & 0xff, 32), memset(it[i + 1].bytes_hash, i & 0xff, 32);
        it[i].bytes_hash[0] = it[i + 1].bytes_hash[0] = (uint8_t)(i >> 8);
    }
    ae_cull_params p = ae_cull_default_params();
    p.burst_gap = 0;
    p.n_threads = 2;
    p.search = AE_CULL_SEARCH_ALL;
    if (cull(it, N, D, &p, all)) goto out;
    p.search = AE_CULL_SEARCH_BUCKETS;
    if (cull(it, N, D, &p, b1)) goto out;
    p.n_threads = 1;
    if (cull(it, N, D, &p, b2)) goto out;
    int same = 1, deterministic = 1, grouped = 0, near = 0, exact = 0;
    for (int i = 0; i < N; i++) {
        same &= b1[i].group == all[i].group && b1[i].keeper == all[i].keeper && b1[i].kind == all[i].kind &&
                b1[i].similarity == all[i].similarity;
        deterministic &= b2[i].group == b1[i].group && b2[i].keeper == b1[i].keeper;
        grouped += all[i].group >= 0;
        near += all[i].kind == AE_CULL_NEAR && !all[i].keep;
        exact += all[i].kind == AE_CULL_EXACT && !all[i].keep;
    }
    CHECK(same);
    CHECK(deterministic);
    /* the planted groups, and nothing else: 300 pairs, 60 of them triples, 30 byte twins */
    CHECK_EQ_INT(near, 300 + 60);
    CHECK_EQ_INT(exact, 30);
    CHECK_EQ_INT(grouped, 2 * 300 + 60 + 2 * 30);
    CHECK_EQ_INT(all[11].keeper, all[10].keep ? 10 : 11);
    CHECK_EQ_INT(all[2].size, 3);
    /* few images: one bucket per image or so, still every pair */
    float two[2 * D];
    memcpy(two, e, sizeof(float) * D), memcpy(two + D, e, sizeof(float) * D);
    ae_cull_item ti[2];
    item_init(&ti[0], two, 1), item_init(&ti[1], two + D, 2);
    if (cull(ti, 2, D, &p, b1)) goto out;
    CHECK_EQ_INT(b1[0].group, 0);
    CHECK_EQ_INT(b1[0].keeper, 1);
    if (cull(ti, 1, D, &p, b1)) goto out;
    CHECK_EQ_INT(b1[0].group, -1);
out:
    free(e), free(topic), free(it), free(all), free(b1), free(b2);
}

static void test_bad_arguments(void)
{
    float e[4] = {1, 0, 0, 0};
    ae_cull_item it;
    ae_cull_row r;
    item_init(&it, e, 0);
    ae_cull_params p = ae_cull_default_params();
    CHECK_EQ_INT(ae_cull(&it, 1, 4, &p, &r), AE_OK);
    CHECK_EQ_INT(r.group, -1);
    CHECK_EQ_INT(ae_cull(&it, 0, 4, &p, NULL), AE_OK);
    CHECK_EQ_INT(ae_cull(NULL, 1, 4, &p, &r), AE_ERR_INVALID);
    CHECK_EQ_INT(ae_cull(&it, 1, 0, &p, &r), AE_ERR_INVALID);
    p.similar = 1.5f;
    CHECK_EQ_INT(ae_cull(&it, 1, 4, &p, &r), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "thresholds must be in (0, 1]");
    p = ae_cull_default_params();
    p.blur_ratio = NAN;
    CHECK_EQ_INT(ae_cull(&it, 1, 4, &p, &r), AE_ERR_INVALID);
    p = ae_cull_default_params();
    it.embedding = NULL;
    CHECK_EQ_INT(ae_cull(&it, 1, 4, &p, &r), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "image 0 has no embedding");
    it.embedding = e;
    p.search = (ae_cull_search)3;
    CHECK_EQ_INT(ae_cull(&it, 1, 4, &p, &r), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "unknown search 3");
    ae_cull_search sr = AE_CULL_SEARCH_ALL;
    CHECK_EQ_INT(ae_cull_search_parse("buckets", &sr), AE_OK);
    CHECK_EQ_INT(sr, AE_CULL_SEARCH_BUCKETS);
    CHECK_EQ_INT(ae_cull_search_parse("kmeans", &sr), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "'kmeans' is not a search: auto, all or buckets");
    CHECK(!strcmp(ae_cull_search_name(AE_CULL_SEARCH_AUTO), "auto"));
    ae_keep_by kb = AE_KEEP_BY_SCORE;
    CHECK_EQ_INT(ae_keep_by_parse("newest", &kb), AE_OK);
    CHECK_EQ_INT(kb, AE_KEEP_BY_NEWEST);
    CHECK_EQ_INT(ae_keep_by_parse("largest", &kb), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "'largest' is not score, sharpness, size or newest");
    CHECK(!strcmp(ae_keep_by_name(AE_KEEP_BY_SHARPNESS), "sharpness") && !strcmp(ae_keep_by_name((ae_keep_by)9), ""));
    p = ae_cull_default_params();
    CHECK_EQ_INT(p.search, AE_CULL_SEARCH_AUTO);
    /* a zero vector groups with nothing (cosine 0), NaN-free; by buckets too */
    float z[4] = {0};
    ae_cull_item two[2];
    ae_cull_row rr[2];
    item_init(&two[0], z, 1), item_init(&two[1], z, 2);
    CHECK_EQ_INT(ae_cull(two, 2, 4, &p, rr), AE_OK);
    CHECK_EQ_INT(rr[0].group, -1);
    CHECK_EQ_INT(rr[1].group, -1);
    p.search = AE_CULL_SEARCH_BUCKETS;
    CHECK_EQ_INT(ae_cull(two, 2, 4, &p, rr), AE_OK);
    CHECK_EQ_INT(rr[0].group, -1);
}

static void test_capture_iso(void)
{
    ae_capture c;
    memset(&c, 0, sizeof c);
    char buf[64];
    CHECK_EQ_INT(ae_capture_iso(&c, buf, sizeof buf), AE_OK);
    CHECK(!strcmp(buf, ""));
    c.has_time = 1, c.time = 1709251199; /* 2024-02-29 23:59:59 */
    ae_capture_iso(&c, buf, sizeof buf);
    CHECK(!strcmp(buf, "2024-02-29T23:59:59"));
    c.time = 1709251199.25;
    ae_capture_iso(&c, buf, sizeof buf);
    CHECK(!strcmp(buf, "2024-02-29T23:59:59.250"));
    c.time = 1709251199.9996; /* rounds into the next second, and the next month */
    ae_capture_iso(&c, buf, sizeof buf);
    CHECK(!strcmp(buf, "2024-03-01T00:00:00"));
    /* UTC with an offset: shown on the camera's clock, with the offset */
    c.time = 1717243205, c.has_offset = 1, c.offset_minutes = 120; /* 2024-06-01 12:00:05 UTC */
    ae_capture_iso(&c, buf, sizeof buf);
    CHECK(!strcmp(buf, "2024-06-01T14:00:05+02:00"));
    c.offset_minutes = -570;
    ae_capture_iso(&c, buf, sizeof buf);
    CHECK(!strcmp(buf, "2024-06-01T02:30:05-09:30"));
    c.has_offset = 0, c.time = -2208988800.0; /* 1900-01-01 */
    ae_capture_iso(&c, buf, sizeof buf);
    CHECK(!strcmp(buf, "1900-01-01T00:00:00"));
    char small[8];
    ae_capture_iso(&c, small, sizeof small);
    CHECK(!strcmp(small, "1900-01"));
    CHECK_EQ_INT(ae_capture_iso(&c, NULL, 0), AE_ERR_INVALID);
}

int main(void)
{
    test_capture_iso();
    test_exact_and_near();
    test_blur_and_keep_by();
    test_bursts();
    test_diameter_cap();
    test_blocks();
    test_buckets();
    test_bad_arguments();
    return test_summary();
}
