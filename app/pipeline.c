/*
 * pipeline.c — the scoring pipeline behind `aesthete score`, `aesthete rank` and the server.
 *
 * Per batch of inputs: bytes (file read or concurrent download), cache keys (SHA-256 of the
 * bytes + model fingerprint + preprocessing options), cache lookups, parallel decode and
 * preprocess of the misses (ae_decode_images), one batched vision forward pass, one cache
 * transaction for the new embeddings (so a kill -9 loses at most the batch in flight), then
 * the scores. Reading a folder again with another bank or method costs no vision work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "inputs.h"
#include "pipeline.h"
#include "session.h"

ae_scorer_params ae_scorer_default_params(void)
{
    ae_scorer_params p;
    memset(&p, 0, sizeof p);
    p.image = ae_image_default_params();
    p.fetch = ae_fetch_default_params();
    p.batch = 32;
    p.max_file_bytes = (int64_t)1 << 30;
    return p;
}

static int read_whole(const char *path, int64_t cap, ae_buffer *b)
{
    if (!*path) return ae_fail(AE_ERR_IO, "\"\": an empty file name");
    /* a FIFO among the inputs is refused below instead of blocking the batch */
    int fd = ae_file_open(path);
    if (fd < 0) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = AE_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) rc = ae_fail(AE_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size > cap)
        rc = ae_fail(AE_ERR_TOO_LARGE, "%s: %lld bytes exceeds the limit of %lld", path, (long long)st.st_size,
                     (long long)cap);
    else if (!(b->data = malloc((size_t)st.st_size + 1))) rc = ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    else {
        size_t got = 0, want = (size_t)st.st_size;
        while (got < want) {
            ssize_t k = read(fd, (char *)b->data + got, want - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            got += (size_t)k;
        }
        if (got != want) rc = ae_fail(AE_ERR_IO, "%s: read error (the file shrank or is unreadable)", path);
        else b->size = b->cap = want;
    }
    close(fd);
    if (rc != AE_OK) ae_buffer_free(b);
    return rc;
}

static void set_error(ae_scored *r, int rc, const char *msg)
{
    r->rc = rc;
    snprintf(r->error, sizeof r->error, "%s", msg && *msg ? msg : ae_strerror(rc));
}

int32_t ae_score_inputs(ae_session *s, const ae_bank *bank, const char *const *inputs, int32_t n,
                        const ae_scorer_params *params, ae_scored *out, float *embeds_out,
                        ae_scored_fn fn, void *ctx)
{
    ae_scorer_params defaults = ae_scorer_default_params();
    const ae_scorer_params *p = params ? params : &defaults;
    if (!s || !bank || n < 0 || (n > 0 && (!inputs || !out)))
        return ae_fail(AE_ERR_INVALID, "ae_score_inputs: invalid arguments");
    const ae_model *m = session_model(s);
    int rc = ae_bank_check_model(bank, m);
    if (rc != AE_OK) return rc;
    ae_model_info info;
    ae_model_get_info(m, &info);
    const int32_t B = p->batch > 0 ? p->batch : 32, dim = info.embed_dim;
    const size_t psz = ae_model_pixels_size(m);
    char opts[96];
    snprintf(opts, sizeof opts, "exif=%d,edge=%d,crop=%dx%d", p->image.exif_rotate ? 1 : 0,
             info.resize_shortest_edge, info.crop_width, info.crop_height);

    ae_buffer *bufs = calloc((size_t)B, sizeof *bufs);
    ae_fetch_result *fetched = calloc((size_t)B, sizeof *fetched);
    const char **urls = calloc((size_t)B, sizeof *urls);
    int32_t *url_of = calloc((size_t)B, sizeof *url_of), *miss = calloc((size_t)B, sizeof *miss);
    int32_t *status = calloc((size_t)B, sizeof *status);
    char (*keys)[65] = calloc((size_t)B, 65);
    const char **keyp = calloc((size_t)B, sizeof *keyp);
    const void **mbufs = calloc((size_t)B, sizeof *mbufs);
    size_t *msizes = calloc((size_t)B, sizeof *msizes);
    const char **mnames = calloc((size_t)B, sizeof *mnames);
    float *pixels = malloc(sizeof(float) * psz * (size_t)B);
    float *emb = malloc(sizeof(float) * (size_t)dim * (size_t)B);
    float *memb = malloc(sizeof(float) * (size_t)dim * (size_t)B);
    char *msgs = malloc((size_t)B * 512);
    int32_t failed = 0;
    if (!bufs || !fetched || !urls || !url_of || !miss || !status || !keys || !keyp || !mbufs || !msizes ||
        !mnames || !pixels || !emb || !memb || !msgs) {
        failed = ae_fail(AE_ERR_NOMEM, "out of memory");
        goto done;
    }

    for (int32_t base = 0; base < n; base += B) {
        int32_t k = n - base < B ? n - base : B, nurl = 0, nmiss = 0;
        ae_scored *r = out + base;
        for (int32_t i = 0; i < k; i++) {
            memset(&r[i], 0, sizeof r[i]);
            r[i].input = inputs[base + i];
            r[i].score.class_index = -1;
            if (!r[i].input) {
                r[i].input = "";
                set_error(&r[i], AE_ERR_INVALID, "input is NULL");
            } else if (ae_is_url(r[i].input)) urls[nurl] = r[i].input, url_of[nurl++] = i;
            else if ((rc = read_whole(r[i].input, p->max_file_bytes, &bufs[i])) != AE_OK)
                set_error(&r[i], rc, ae_last_error());
        }
        if (nurl) {
            ae_fetch_many(urls, nurl, &p->fetch, fetched);
            for (int32_t u = 0; u < nurl; u++) {
                int32_t i = url_of[u];
                if (fetched[u].rc != AE_OK) set_error(&r[i], fetched[u].rc, fetched[u].error);
                else bufs[i] = fetched[u].body, memset(&fetched[u].body, 0, sizeof fetched[u].body);
            }
            ae_fetch_results_free(fetched, nurl);
        }
        /* cache lookups; misses are decoded below */
        for (int32_t i = 0; i < k; i++) {
            if (r[i].rc != AE_OK) continue;
            ae_cache_key(bufs[i].data, bufs[i].size, info.fingerprint, opts, keys[i]);
            int hit = p->cache ? ae_cache_get(p->cache, keys[i], emb + (size_t)i * dim, dim) : 0;
            if (hit == 1) {
                r[i].cached = 1;
                continue;
            }
            /* a cache that fails to read is not fatal: the image is computed instead */
            mbufs[nmiss] = bufs[i].data, msizes[nmiss] = bufs[i].size, mnames[nmiss] = r[i].input;
            miss[nmiss++] = i;
        }
        if (nmiss) {
            ae_decode_images(s, mbufs, msizes, mnames, nmiss, &p->image, pixels, status, msgs, 512);
            int32_t ok = 0;
            for (int32_t j = 0; j < nmiss; j++) {
                if (status[j] != AE_OK) {
                    set_error(&r[miss[j]], status[j], msgs + (size_t)j * 512);
                    continue;
                }
                if (ok != j) memcpy(pixels + (size_t)ok * psz, pixels + (size_t)j * psz, sizeof(float) * psz);
                miss[ok++] = miss[j];
            }
            rc = ok ? ae_encode_images(s, pixels, ok, memb) : AE_OK;
            for (int32_t j = 0; j < ok; j++) {
                if (rc != AE_OK) {
                    set_error(&r[miss[j]], rc, ae_last_error());
                    continue;
                }
                memcpy(emb + (size_t)miss[j] * dim, memb + (size_t)j * dim, sizeof(float) * (size_t)dim);
                keyp[j] = keys[miss[j]];
            }
            if (rc == AE_OK && ok && p->cache) ae_cache_put_many(p->cache, keyp, memb, ok, dim);
        }
        for (int32_t i = 0; i < k; i++) {
            ae_buffer_free(&bufs[i]);
            if (r[i].rc != AE_OK) {
                failed++;
                continue;
            }
            if ((rc = ae_bank_score(bank, emb + (size_t)i * dim, 1, &r[i].score)) != AE_OK) {
                set_error(&r[i], rc, ae_last_error());
                failed++;
                continue;
            }
            if (embeds_out) memcpy(embeds_out + (size_t)(base + i) * dim, emb + (size_t)i * dim, sizeof(float) * (size_t)dim);
        }
        if (fn) fn(ctx, out, base, k);
    }
done:
    free(bufs), free(fetched), free(urls), free(url_of), free(miss), free(status), free(keys), free(keyp);
    free(mbufs), free(msizes), free(mnames), free(pixels), free(emb), free(memb), free(msgs);
    return failed;
}
