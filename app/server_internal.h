/*
 * server_internal.h — what the files of the server share: the server object, the inference
 * queue (server_infer.c), the bank LRU (server_banks.c), the multipart parser
 * (server_multipart.c) and the endpoint handlers (server_api.c). server.c owns the daemon,
 * the connections and the watchdog that enforces the receive deadlines.
 */
#ifndef AE_APP_SERVER_INTERNAL_H
#define AE_APP_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "aesthete.h"
#include "server.h"

/* ---- multipart/form-data (RFC 7578) ---- */

typedef struct mp_part {
    char name[128];         /* form field name ("" when absent) */
    char filename[256];     /* sanitised base name, "" when the part is no file */
    int has_filename;
    char content_type[128]; /* "" when absent */
    const uint8_t *data;    /* points into the request body */
    size_t size;
} mp_part;

/* The boundary parameter of a multipart/form-data Content-Type into out (cap >= 72).
 * Returns 0, or -1 when it is missing or invalid (1..70 characters, RFC 2046). */
int mp_boundary(const char *content_type, char *out, size_t cap);

/* Splits body into parts (*parts: caller frees). Returns 0, or an HTTP status (400 malformed,
 * 413 more than max_parts) with a message in err. */
int mp_parse(const uint8_t *body, size_t size, const char *boundary, int max_parts,
             mp_part **parts, int *n, char *err, size_t errcap);


/* A file name safe to show: the last path component, control characters and quotes
 * dropped, at most cap - 1 bytes of valid UTF-8; "upload" when nothing is left. */
void mp_sanitize_filename(const char *in, size_t n, char *out, size_t cap);

/* ---- parameters (server_api.c) ---- */

/* 1 if v[0..n), a query or form value as decoded, is one the endpoints take: at most 1024
 * bytes of UTF-8 (RFC 3629: no overlong forms, no surrogates) without NUL or another control
 * character but tab; otherwise the request is answered 400. */
int api_param_ok(const char *v, size_t n);

/* ---- banks ---- */

typedef struct bank_ref {
    char key[65];          /* ae_server_bank_key, "" for banks without one */
    char id[64];           /* public name: a loaded bank's name or "b-<16 hex>" */
    char name[128];        /* for people: a loaded file's base name, an uploaded list's file
                              name, a trained head's name, else the method */
    char classes[128];     /* where its classes come from: "ImageNet" or the list's name;
                              "" without classes */
    ae_head *bank;
    int refs;              /* requests using it */
    int cached;            /* 1: in the server's list */
    int permanent;         /* 1: added at start or offered by the page, never evicted */
    int offered;           /* 1: made at start-up for the page's methods (not given by a file) */
    uint64_t last_used;
    struct bank_ref *next;
} bank_ref;

/* ---- inference jobs ---- */

enum { JOB_ENCODE, JOB_BANK };
enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct job {
    int kind, state;
    int32_t n;                    /* encode: images */
    const float *pixels;          /* encode: n * pixels_size floats */
    float *embeds;                /* encode: n * dim floats out */
    const ae_bank_params *bp;     /* bank: what to build */
    void (*progress)(void *ctx, int64_t done, int64_t total); /* bank: may be NULL */
    void *progress_ctx;
    ae_head *bank;                /* bank: the result */
    int rc;
    char error[512];
    struct job *next;
} job;

/* A bank being loaded from the kept folder or built: requests asking for the same key wait
 * for it instead of building it again; /api/info shows its progress. */
typedef struct bank_build {
    char key[65];
    char name[128];
    int method, n_classes;
    int64_t done, total;   /* prompts encoded so far, of total (0 while loading or queued) */
    int finished, rc, users;
    char error[512];
    struct bank_build *next;
} bank_build;

/* ---- connections (for the watchdog) ---- */

enum { CONN_RECEIVING, CONN_BUSY };

typedef struct conn_track {
    int fd;
    int phase;
    double start;           /* when the current request (or idle wait) began */
    int64_t received;       /* body bytes of the current request */
    int killed;
    struct conn_track *prev, *next;
} conn_track;

struct ae_server {
    ae_server_params p;
    const ae_model *model;
    ae_session *session;
    ae_model_info info;
    size_t psz;                     /* floats per preprocessed image */
    int32_t dim;
    char model_name[256];
    struct MHD_Daemon *daemon;
    int32_t port;
    int started, stopped;

    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t work_cv;         /* inference thread: a job arrived / stop */
    pthread_cond_t done_cv;         /* waiters: a job finished */
    pthread_cond_t idle_cv;         /* shutdown: a request completed */
    pthread_cond_t tick_cv;         /* watchdog sleep */
    job *head, *tail;
    int infer_stop, watchdog_stop;
    pthread_t infer_thread, watchdog_thread;
    int infer_running, watchdog_running;
    pthread_cond_t decode_cv;       /* a decode slot was freed */
    int decoding, decode_slots;     /* images being decoded at once, and the most allowed */
    int inflight;                   /* admitted requests */
    int active;                     /* requests MHD has not completed yet */
    bank_ref *banks;
    bank_ref *default_bank;
    bank_build *builds;             /* in progress */
    int64_t n_built, n_loaded;      /* banks encoded here / read from the kept folder */
    int prebuild_stop;
    pthread_t prebuild_thread;
    int prebuild_running;
    int n_lru;                      /* non-permanent banks in the list */
    uint64_t tick;
    conn_track *conns;
    int64_t n_requests, n_rejected;
};

/* server_infer.c */
int infer_start(ae_server *s);
void infer_stop(ae_server *s);
/* Queues j and waits until it is done. A job still queued at `deadline` (monotonic seconds)
 * is withdrawn: returns 1 (timed out). Otherwise 0 and j->rc / j->error hold the result. */
int infer_run(ae_server *s, job *j, double deadline);

/* server_banks.c */
void banks_free_all(ae_server *s);
/* A bank by public id (loaded name or built id), referenced; NULL if unknown. */
bank_ref *banks_get_id(ae_server *s, const char *id);
bank_ref *banks_get_default(ae_server *s);
/* A bank by key: listed, else read from the kept folder (p.bank_dir), else built with bp on
 * the inference thread (and kept); one build per key however many requests ask. name: what
 * people call it (bank_ref.name). Returns 0 with *out referenced, 1 on timeout, or an AE_ERR_*
 * with err set. */
int banks_get_or_build(ae_server *s, const char *key, const ae_bank_params *bp, const char *name, double deadline,
                       bank_ref **out, char *err, size_t errcap);
/* Starts / stops the thread that makes the banks the page offers (fixed, context, ensemble
 * with the default adjectives) at start-up, logging each. */
int banks_prebuild_start(ae_server *s);
void banks_prebuild_stop(ae_server *s);
/* The bank being made now ({"bank", "method", "n_classes", "done", "total", "queued"}), or
 * JSON null. */
json_t *banks_building_json(ae_server *s);
void banks_release(ae_server *s, bank_ref *b);
/* Lists a head made on the server (trained: POST /api/head) under key and id, taking it over;
 * the one already listed under key, if any, wins. Returns it referenced, or NULL (out of
 * memory: h freed). */
bank_ref *banks_add(ae_server *s, const char *key, const char *id, const char *name, ae_head *h);
/* The list for /api/info. */
json_t *banks_json(ae_server *s);

/* server_api.c: the endpoint handlers, called once the whole request is in. */
typedef struct api_request {
    struct MHD_Connection *conn;
    int route;
    const char *content_type;
    const uint8_t *body;
    size_t size;
    double t0, deadline;
} api_request;

enum { ROUTE_NONE, ROUTE_PAGE, ROUTE_JS, ROUTE_CSS, ROUTE_HEALTH, ROUTE_INFO, ROUTE_HEAD_FILE,
       ROUTE_SCORE, ROUTE_RANK, ROUTE_CULL, ROUTE_EMBED, ROUTE_BANK, ROUTE_HEAD };

/* Builds the answer: sets *status, returns the JSON body (caller frees). */
json_t *api_handle(ae_server *s, const api_request *r, int *status);
json_t *api_info(ae_server *s);
/* 400 naming the first query parameter or form field (parts: the request's, n may be 0) that
 * the route does not take, with the list of those it takes; NULL when all are known. */
json_t *api_unknown_param(int route, struct MHD_Connection *conn, const mp_part *parts, int n);
/* GET /api/head?id=ID: the bytes of a head trained here (*data, caller frees) and its file
 * name; NULL on success, else the error with *status. */
json_t *api_head_file(ae_server *s, const char *id, uint8_t **data, size_t *len, char *fname, size_t cap,
                      int *status);
json_t *api_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* server.c */
double server_now(void);

#endif
