/*
 * pool.c — the thread pool: persistent workers that run one task at a time in lock step.
 *
 * nn_pool_run publishes (fn, arg) by bumping a generation counter; each worker claims its part
 * ith of that generation (a compare-and-swap on claim[ith]), runs fn(arg, ith, nth) and
 * decrements `pending`; the caller runs ith 0 itself, then runs every part that no worker has
 * claimed yet (a worker asleep or descheduled on a shared machine would otherwise stall every
 * call; with the linear layers' shared work counter such a part is nearly free), and then
 * waits for pending to reach 0. A forward pass makes ~100 such calls of a fraction of a millisecond
 * each, so both sides first spin (with a pause) for a short while and only then sleep on a
 * condition variable: back-to-back calls never pay a futex wake-up, an idle pool costs no CPU.
 * Each thread also owns a scratch buffer (nn_pool_scratch), and the pool one shared by all
 * (nn_pool_shared), that kernels reuse from call to call, so the forward pass does not
 * allocate once it has run once.
 * This is the only file in the library that knows about pthreads.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "nn/nn_internal.h"

#define SPIN_NS 200000 /* how long a waiting thread spins before it sleeps */

struct nn_pool {
    int n;                   /* threads including the caller */
    pthread_t *threads;      /* [n - 1] workers */
    struct worker_arg *args; /* [n - 1] */
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers sleep here for a new generation */
    pthread_cond_t done_cv;  /* the caller sleeps here for pending == 0 */
    nn_task fn;
    void *arg;
    atomic_uint gen;         /* bumped once per run (under mu) */
    atomic_int pending;      /* workers still running the current task */
    atomic_int quit;
    atomic_uint *claim;      /* [n] the last generation whose part ith was claimed */
    float **scratch;         /* [n] per-thread scratch (nn_pool_scratch), grown on demand */
    size_t *scratch_n;       /* [n] floats in each */
    void *shared;            /* nn_pool_shared's buffer */
    size_t shared_n;         /* its bytes */
};

struct worker_arg {
    nn_pool *pool;
    int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *gen differs from seen or the spin budget is spent; returns the last value. */
static unsigned spin_gen(nn_pool *p, unsigned seen)
{
    unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
    if (g != seen) return g;
    int64_t t0 = now_ns();
    for (int i = 1;; i++) {
        cpu_relax();
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        if ((i & 63) == 0 && now_ns() - t0 > SPIN_NS) return g;
    }
}

static int claim(nn_pool *p, int ith, unsigned g);
static void run_part(nn_pool *p, int ith);

static void *worker_main(void *v)
{
    struct worker_arg *wa = v;
    nn_pool *p = wa->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = spin_gen(p, seen);
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->work_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->quit, memory_order_acquire)) break;
        if (claim(p, wa->ith, g)) run_part(p, wa->ith);
    }
    return NULL;
}

/* Claims part ith of generation g: 1 if this thread is to run it. */
static int claim(nn_pool *p, int ith, unsigned g)
{
    unsigned expected = g - 1;
    return atomic_compare_exchange_strong_explicit(&p->claim[ith], &expected, g,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* Runs a claimed part and counts it done (waking the caller after the last). */
static void run_part(nn_pool *p, int ith)
{
    p->fn(p->arg, ith, p->n);
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Publishes a new generation to the workers (fn/arg/pending must be set before). */
static unsigned publish(nn_pool *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned g = atomic_fetch_add_explicit(&p->gen, 1, memory_order_release) + 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    return g;
}

nn_pool *nn_pool_new(int n_threads)
{
    if (n_threads < 1) return NULL;
    nn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    if (pthread_mutex_init(&p->mu, NULL)) goto fail_mu;
    if (pthread_cond_init(&p->work_cv, NULL)) goto fail_cv1;
    if (pthread_cond_init(&p->done_cv, NULL)) goto fail_cv2;
    p->claim = calloc((size_t)n_threads, sizeof *p->claim);
    if (!p->claim) goto fail;
    for (int i = 0; i < n_threads; i++) atomic_init(&p->claim[i], 0);
    p->scratch = calloc((size_t)n_threads, sizeof *p->scratch);
    p->scratch_n = calloc((size_t)n_threads, sizeof *p->scratch_n);
    if (!p->scratch || !p->scratch_n) goto fail;
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->args = calloc((size_t)n_threads - 1, sizeof *p->args);
        if (!p->threads || !p->args) goto fail;
        for (int i = 0; i < n_threads - 1; i++) {
            p->args[i].pool = p;
            p->args[i].ith = i + 1;
            if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i])) goto fail;
            p->n_started++;
        }
    }
    return p;
fail:
    nn_pool_free(p);
    return NULL;
fail_cv2:
    pthread_cond_destroy(&p->work_cv);
fail_cv1:
    pthread_mutex_destroy(&p->mu);
fail_mu:
    free(p);
    return NULL;
}

void nn_pool_free(nn_pool *p)
{
    if (!p) return;
    if (p->n_started > 0) {
        atomic_store_explicit(&p->quit, 1, memory_order_release);
        publish(p);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    for (int i = 0; p->scratch && i < p->n; i++) free(p->scratch[i]);
    free(p->scratch);
    free(p->scratch_n);
    free(p->shared);
    free(p->claim);
    free(p->threads);
    free(p->args);
    free(p);
}

float *nn_pool_scratch(nn_pool *p, int ith, size_t n_floats)
{
    if (!p || ith < 0 || ith >= p->n) return NULL;
    if (p->scratch_n[ith] < n_floats) {
        free(p->scratch[ith]);
        size_t bytes = (n_floats * sizeof(float) + 63) & ~(size_t)63;
        p->scratch[ith] = aligned_alloc(64, bytes);
        p->scratch_n[ith] = p->scratch[ith] ? n_floats : 0;
    }
    return p->scratch[ith];
}

void *nn_pool_shared(nn_pool *p, size_t bytes)
{
    if (!p) return NULL;
    if (p->shared_n < bytes) {
        free(p->shared);
        size_t n = (bytes + 63) & ~(size_t)63;
        p->shared = aligned_alloc(64, n);
        p->shared_n = p->shared ? n : 0;
    }
    return p->shared;
}

int nn_pool_size(const nn_pool *p)
{
    return p ? p->n : 1;
}

void nn_pool_run(nn_pool *p, nn_task fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    unsigned g = publish(p);
    fn(arg, 0, p->n);
    /* parts no worker has started yet (asleep, or descheduled on a busy machine) are run
     * here rather than waited for */
    for (int i = 1; i < p->n; i++)
        if (claim(p, i, g)) run_part(p, i);
    if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    int64_t t0 = now_ns();
    for (int i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; i++) {
        cpu_relax();
        if ((i & 63) == 0 && now_ns() - t0 > SPIN_NS) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
                pthread_cond_wait(&p->done_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
}
