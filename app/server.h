/*
 * server.h — `aesthete serve`: the web page and the JSON API over HTTP (libmicrohttpd).
 *
 * One process holds one model and one session. Connection threads (one per connection,
 * capped in number, per client address and in time) receive a request, decode and preprocess
 * its images themselves, and hand the pixel tensors to a single inference thread that owns the
 * session; waiting requests are gathered into one batch per forward pass. Banks (the text side
 * of a scoring method) are built on the same thread and kept in a small LRU keyed by what they
 * were built from. Every limit is explicit (see ae_server_params); every error is a JSON
 * object {"error": "..."} with a 4xx/503 status, never 500 for bad input.
 *
 * Endpoints (documented with curl examples in the README):
 *   GET  /, /app.js, /style.css   the page (embedded in the binary)
 *   GET  /healthz                 {"status": "ok"}
 *   GET  /api/info                model, methods, banks, limits, version
 *   POST /api/score               one image (raw body or multipart) -> score
 *   POST /api/rank                multipart, many images -> ranked list + per-file errors
 *   POST /api/embed               one image -> its embedding
 *   POST /api/bank                multipart class list -> a bank id for ?bank=
 */
#ifndef AE_APP_SERVER_H
#define AE_APP_SERVER_H

#include <stdint.h>

#include "aesthete.h"
#include "fetch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ae_server_params {
    const char *host;           /* address to bind (default "127.0.0.1"; IPv4 or IPv6 literal) */
    int32_t port;               /* TCP port (default 8080; 0 = any free port) */
    int32_t max_connections;    /* open connections at most (default 64) */
    int32_t max_per_ip;         /* open connections per client address (default 32) */
    int32_t timeout_s;          /* idle connections are closed after this; request headers must
                                   arrive within it, a body at >= 16 KiB/s after it (default 30) */
    int32_t request_timeout_s;  /* budget of one request from its headers to its answer; work
                                   still queued after it gets 503 (default 60) */
    int64_t max_upload_bytes;   /* request body cap, from Content-Length and while receiving
                                   (default 20 MiB) */
    int32_t max_inflight;       /* requests admitted to decoding/inference at once; more get 503
                                   with Retry-After (default 16) */
    int32_t max_parts;          /* multipart parts per request (default 256) */
    int32_t batch;              /* images per forward pass at most (default 8) */
    int32_t max_banks;          /* banks built on request kept in the LRU (default 16) */
    int32_t max_classes;        /* class names of an uploaded list (default 2000) */
    int32_t allow_urls;         /* 1: ?url= inputs are fetched (public addresses only) */
    ae_image_params image;      /* EXIF rotation, pixel cap (checked from the header) */
    ae_fetch_params fetch;      /* limits of URL fetching */
    const char *model_name;     /* shown in answers (default: ae_model_info.id, the repo id
                                   of a hub model, never a path) */
    int32_t quiet;              /* 1: no request log on stderr */
    const char *bank_dir;       /* the folder of kept banks (ae_recipe_bank_dir): banks built
                                   on request are read from and kept in it; NULL: none */
    const char *auth_token;     /* non-NULL: every /api/ request needs "Authorization: Bearer
                                   <token>" (compared in constant time); 401 otherwise. The
                                   page and /healthz stay open (the page asks for the token) */
    const char *allowed_hosts;  /* comma-separated Host names accepted besides this server's
                                   own address; a server bound to loopback answers only Host
                                   localhost / 127.0.0.1 / [::1] otherwise (DNS rebinding) */
    const char *cors_origin;    /* an origin ("https://app.example") whose pages may call the
                                   API: CORS headers and preflights for it; without it a
                                   request from another origin (Origin or Sec-Fetch-Site:
                                   cross-site) is refused with 403 */
    const char *tls_cert, *tls_key; /* PEM contents (not paths): HTTPS instead of HTTP */
    int32_t prebuild;           /* 1: once listening, make the banks the page offers (fixed,
                                   context, ensemble with the default adjectives) in the
                                   background, logging each, so that first requests find them */
} ae_server_params;

ae_server_params ae_server_default_params(void);

typedef struct ae_server ae_server;

/* A server for model + session (both must outlive it; the session is used only by the
 * server's inference thread while it runs). Not listening yet. */
int ae_server_new(const ae_model *model, ae_session *session, const ae_server_params *params,
                  ae_server **out);

/* Offers a bank under `name` (ownership passes to the server, also on failure). key (may be
 * NULL) is the ae_recipe key of what it was built from, so that requests asking for the
 * same method and prompts reuse it. is_default: requests without method/bank use it (the
 * first bank added is the default until another is marked). */
int ae_server_add_bank(ae_server *s, const char *name, ae_head *bank, const char *key,
                       int32_t is_default);

/* Binds and starts serving. AE_ERR_IO (address in use, ...) with the reason. */
int ae_server_start(ae_server *s);
/* The bound port (useful with port 0). */
int32_t ae_server_port(const ae_server *s);

/* Graceful stop: stops accepting, lets admitted requests finish (at most grace_s seconds),
 * closes the rest and stops the threads. Safe to call once after ae_server_start. */
void ae_server_stop(ae_server *s, int32_t grace_s);
void ae_server_free(ae_server *s);

#ifdef __cplusplus
}
#endif
#endif
