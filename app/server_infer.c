/*
 * server_infer.c — the inference thread: the only user of the server's session.
 *
 * Connection threads decode and preprocess their images themselves (in parallel) and queue a
 * job holding the pixel tensors; this thread takes every encode job waiting at the head of the
 * queue, up to the batch size in images, and runs them as one forward pass, then wakes their
 * owners. Nothing waits for a batch to fill: under load the queue fills while the previous
 * batch runs, so batching adds no latency when idle. Bank builds (text tower) run alone, and
 * only when no images wait (images queued after a bank build go first).
 * A job still queued when its request's budget runs out is withdrawn by its owner; a running
 * job always completes (a forward pass cannot be interrupted), which bounds the wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_internal.h"

static void set_err(job *j, int rc)
{
    j->rc = rc;
    const char *e = ae_last_error();
    snprintf(j->error, sizeof j->error, "%s", e && *e ? e : ae_strerror(rc));
}

static void *infer_main(void *arg)
{
    ae_server *s = arg;
    const int32_t B = s->p.batch > 0 ? s->p.batch : 1;
    float *pixels = malloc(sizeof(float) * s->psz * (size_t)B); /* the gathered batch */
    float *embeds = malloc(sizeof(float) * (size_t)s->dim * (size_t)B);
    job **batch = malloc(sizeof(job *) * (size_t)B);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->infer_stop) pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->head) break;
        /* images first: a bank build (seconds to half a minute) queued before them waits */
        job *j = s->head;
        while (j && j->kind == JOB_BANK) j = j->next;
        if (!j) {
            j = s->head;
            s->head = j->next;
            if (!s->head) s->tail = NULL;
            j->state = JOB_RUNNING;
            pthread_mutex_unlock(&s->mu);
            j->rc = ae_bank_build(s->session, j->bp, j->progress, j->progress_ctx, &j->bank);
            if (j->rc != AE_OK) set_err(j, j->rc);
            pthread_mutex_lock(&s->mu);
            j->state = JOB_DONE;
            pthread_cond_broadcast(&s->done_cv);
            continue;
        }
        /* hot path: gather the queued encode jobs into one batch, in queue order */
        int nb = 0, total = 0;
        job **pp = &s->head, *prev = NULL;
        while (*pp && nb < B) {
            job *k = *pp;
            if (k->kind != JOB_ENCODE) {
                prev = k, pp = &k->next;
                continue;
            }
            if (nb && total + k->n > B) break;
            *pp = k->next;
            if (s->tail == k) s->tail = prev;
            k->state = JOB_RUNNING;
            batch[nb++] = k;
            total += k->n;
        }
        pthread_mutex_unlock(&s->mu);
        if (nb == 1 || !pixels || !embeds) {
            for (int i = 0; i < nb; i++) {
                int rc = ae_encode_images(s->session, batch[i]->pixels, batch[i]->n, batch[i]->embeds);
                batch[i]->rc = rc;
                if (rc != AE_OK) set_err(batch[i], rc);
            }
        } else {
            size_t off = 0;
            for (int i = 0; i < nb; i++) {
                memcpy(pixels + off * s->psz, batch[i]->pixels, sizeof(float) * s->psz * (size_t)batch[i]->n);
                off += (size_t)batch[i]->n;
            }
            int rc = ae_encode_images(s->session, pixels, total, embeds);
            off = 0;
            for (int i = 0; i < nb; i++) {
                batch[i]->rc = rc;
                if (rc != AE_OK) set_err(batch[i], rc);
                else memcpy(batch[i]->embeds, embeds + off * (size_t)s->dim, sizeof(float) * (size_t)s->dim * (size_t)batch[i]->n);
                off += (size_t)batch[i]->n;
            }
        }
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < nb; i++) batch[i]->state = JOB_DONE;
        pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    free(pixels);
    free(embeds);
    free(batch);
    return NULL;
}

int infer_start(ae_server *s)
{
    s->infer_stop = 0;
    if (pthread_create(&s->infer_thread, NULL, infer_main, s) != 0) return -1;
    s->infer_running = 1;
    return 0;
}

void infer_stop(ae_server *s)
{
    if (!s->infer_running) return;
    pthread_mutex_lock(&s->mu);
    s->infer_stop = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->infer_thread, NULL);
    s->infer_running = 0;
}

static struct timespec abstime(double t)
{
    /* server_now() is CLOCK_MONOTONIC; the condition variables use it too (see server.c) */
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    return ts;
}

int infer_run(ae_server *s, job *j, double deadline)
{
    j->state = JOB_QUEUED;
    j->rc = AE_OK;
    j->error[0] = 0;
    j->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->work_cv);
    while (j->state != JOB_DONE) {
        if (j->state == JOB_QUEUED && server_now() >= deadline) {
            job **pp = &s->head, *prev = NULL;
            while (*pp && *pp != j) prev = *pp, pp = &(*pp)->next;
            if (*pp) {
                *pp = j->next;
                if (s->tail == j) s->tail = prev;
            }
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        if (j->state == JOB_QUEUED) {
            struct timespec ts = abstime(deadline);
            pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
        } else {
            pthread_cond_wait(&s->done_cv, &s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}
