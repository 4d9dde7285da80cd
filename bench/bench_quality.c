/*
 * bench_quality.c — what the photo facts of culling (photo.c) cost beside the decode they come
 * from. Per fixture photo, the median of the runs of:
 *   decode       ae_image_decode of the file in memory (img_decode_oriented: no rotation)
 *   prepare      img_prepare: decode + the CLIP preprocessing (openai/clip-vit-base-patch32's
 *                224 px config), what the scoring pipeline does per photo
 *   quality      ae_image_quality of the decoded image
 *   hash         img_pixel_hash of it
 *   exif         ae_exif_capture of an EXIF block written by exiftool (fuzz/corpus/exif/)
 *   facts        quality + hash + exif, and facts / prepare
 *   prepare_facts  img_prepare_facts (both in one decode), and its excess over prepare
 *
 *   bench_quality [runs] [photo ...]     (default 15 runs; the three photos named below)
 *
 * Output lines are "photo<TAB>name<TAB>value<TAB>unit". The CLIP encode that follows
 * `prepare` in a cold rank is not timed here (bench_encode: 20-40 ms a photo for ViT-B/32 on
 * 2 cores), so facts / prepare overstates the share of a whole rank.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aesthete.h"
#include "config.h"
#include "image.h"
#include "test.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_RUNS 101

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 15;
    if (runs < 1 || runs > MAX_RUNS) runs = 15;
    const char *def[] = {"photo_sunset_12mp_progressive.jpg", "photo_landscape.jpg",
                         "photo_boats.jpg"};
    const char *const *photos = argc > 2 ? (const char *const *)argv + 2 : def;
    int nphotos = argc > 2 ? argc - 2 : 3;

    clip_preproc pre;
    if (clip_preproc_load(fixture("tokenizer/preprocessor_config.json"), &pre) != AE_OK) {
        fprintf(stderr, "bench_quality: %s\n", ae_last_error());
        return 1;
    }
    size_t exif_len = 0;
    void *exif = read_file(AE_SOURCE_DIR "/fuzz/corpus/exif/exiftool-le.exif", &exif_len);
    if (!exif) {
        fprintf(stderr, "bench_quality: no fuzz/corpus/exif/exiftool-le.exif\n");
        return 1;
    }
    float *pix = malloc((size_t)3 * pre.crop_h * pre.crop_w * sizeof *pix);
    ae_image_params ip = ae_image_default_params();
    for (int f = 0; f < nphotos; f++) {
        char rel[512];
        snprintf(rel, sizeof rel, "images/%s", photos[f]);
        size_t n = 0;
        void *data = read_file(fixture(rel), &n);
        if (!data) {
            fprintf(stderr, "bench_quality: cannot read %s\n", fixture(rel));
            return 1;
        }
        double td[MAX_RUNS], tp[MAX_RUNS], tq[MAX_RUNS], th[MAX_RUNS], te[MAX_RUNS],
            tf[MAX_RUNS], tpf[MAX_RUNS];
        ae_quality q = {0};
        uint64_t hash[2];
        ae_capture cap;
        img_facts facts;
        int w = 0, h = 0;
        for (int r = -1; r < runs; r++) { /* run -1 warms up */
            ae_image img;
            int o;
            double t0 = now();
            if (img_decode_oriented(data, n, photos[f], &ip, &img, &o) != AE_OK) {
                fprintf(stderr, "bench_quality: %s\n", ae_last_error());
                return 1;
            }
            double t1 = now();
            ae_image_quality(&img, &q);
            double t2 = now();
            img_pixel_hash(&img, o, hash);
            double t3 = now();
            ae_exif_capture(exif, exif_len, &cap);
            double t4 = now();
            w = img.width, h = img.height;
            ae_image_free(&img);
            double t5 = now();
            if (img_prepare(&pre, data, n, photos[f], &ip, pix, NULL) != AE_OK) return 1;
            double t6 = now();
            if (img_prepare_facts(&pre, data, n, photos[f], &ip, pix, NULL, &facts) != AE_OK)
                return 1;
            double t7 = now();
            if (r < 0) continue;
            td[r] = t1 - t0, tq[r] = t2 - t1, th[r] = t3 - t2, te[r] = t4 - t3;
            tf[r] = t4 - t1, tp[r] = t6 - t5, tpf[r] = t7 - t6;
        }
        double md = median(td, runs), mp = median(tp, runs), mq = median(tq, runs),
               mh = median(th, runs), me = median(te, runs), mf = median(tf, runs),
               mpf = median(tpf, runs);
        const char *p = photos[f];
        printf("%s\tpixels\t%dx%d\t(working %dx%d)\n", p, w, h, q.width, q.height);
        printf("%s\tdecode\t%.2f\tms\n", p, md * 1e3);
        printf("%s\tprepare\t%.2f\tms\n", p, mp * 1e3);
        printf("%s\tquality\t%.3f\tms\n", p, mq * 1e3);
        printf("%s\thash\t%.3f\tms\n", p, mh * 1e3);
        printf("%s\texif\t%.4f\tms\n", p, me * 1e3);
        printf("%s\tfacts\t%.3f\tms\n", p, mf * 1e3);
        printf("%s\tfacts_over_prepare\t%.2f\t%%\n", p, 100 * mf / mp);
        printf("%s\tprepare_facts\t%.2f\tms\n", p, mpf * 1e3);
        printf("%s\tprepare_facts_excess\t%.2f\t%%\n", p, 100 * (mpf - mp) / mp);
        free(data);
    }
    free(pix);
    free(exif);
    return 0;
}
