/*
 * hubdl.h — `aesthete fetch-model`: downloading a CLIP model from the Hugging Face hub into
 * the local cache, in the layout huggingface_hub writes and src/hub.c reads:
 *
 *   <cache>/models--<org>--<name>/blobs/<etag>                 the file contents
 *   <cache>/models--<org>--<name>/snapshots/<commit>/<file>    -> ../../blobs/<etag>
 *   <cache>/models--<org>--<name>/refs/<revision>              the commit hash
 *
 * <cache> is the first of $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
 * ~/.cache/huggingface/hub. Files come from {endpoint}/{org}/{name}/resolve/{revision}/{file}
 * (endpoint $HF_ENDPOINT or https://huggingface.co; $HF_TOKEN sent as a bearer token).
 * Downloads go to blobs/<etag>.incomplete and resume from there with a Range request; LFS
 * files are checked against their sha256 ETag, others against their size. Blobs already
 * present are not downloaded again.
 */
#ifndef AE_APP_HUBDL_H
#define AE_APP_HUBDL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Progress of one file: done of total bytes (total -1 while unknown). Called with done == 0
 * when a file starts and done == total when it is complete (also for files already cached). */
typedef void (*ae_hubdl_progress_fn)(void *user, const char *file, int64_t done, int64_t total);

typedef struct ae_hubdl_params {
    const char *endpoint;      /* NULL: $HF_ENDPOINT, else "https://huggingface.co" */
    const char *cache_dir;     /* NULL: the first hub cache of the list above */
    const char *token;         /* NULL: $HF_TOKEN (empty: none) */
    ae_hubdl_progress_fn progress; /* may be NULL */
    void *progress_user;
    int32_t connect_timeout_ms; /* default 15000 */
    int32_t low_speed_bytes;   /* abort a file below this many bytes/s ... (default 1024) */
    int32_t low_speed_secs;    /* ... for this long (default 30) */
    int32_t retries;           /* resume an interrupted file this many times (default 3) */
} ae_hubdl_params;

ae_hubdl_params ae_hubdl_default_params(void);

/* The files fetched: required ones fail the download when missing, optional ones are
 * skipped on 404. */
extern const char *const ae_hubdl_required_files[]; /* NULL-terminated */
extern const char *const ae_hubdl_optional_files[]; /* NULL-terminated */

/* Downloads the model `spec` ("org/name" or "org/name@revision"; revision default "main")
 * and writes its snapshot folder (what ae_model_resolve(spec) then finds) into
 * snapshot_dir (cap bytes; may be NULL). params may be NULL for the defaults.
 * Errors (ae_last_error()):
 *   AE_ERR_INVALID    a malformed spec
 *   AE_ERR_IO         the endpoint cannot be reached ("could not reach https://huggingface.co:
 *                     ... — check the network, or copy the model directory and pass
 *                     --model DIR"), a transfer failed, a file could not be written
 *   AE_ERR_NOT_FOUND  the repository, the revision or a required file does not exist
 *                     (401/403: private or gated; set HF_TOKEN)
 *   AE_ERR_FORMAT     a file's sha256 or size does not match what the hub announced (the
 *                     partial file is removed) */
int ae_hub_download(const char *spec, const ae_hubdl_params *params, char *snapshot_dir,
                    size_t cap);

/* The hub cache folder writes go to (see above) into dir. AE_ERR_NOT_FOUND if no variable
 * and no HOME. */
int ae_hubdl_cache_dir(char *dir, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
