/*
 * hubdl.c — downloading a model from the Hugging Face hub into the local cache (hubdl.h).
 *
 * For each file, as huggingface_hub does:
 *   1. HEAD {endpoint}/{repo}/resolve/{revision}/{file} without following redirects to other
 *      hosts: the hub answers with X-Repo-Commit (the commit the revision points to), the ETag
 *      (for LFS files X-Linked-Etag: the file's sha256, and X-Linked-Size) and, for LFS files,
 *      a redirect to a CDN. The first file's commit becomes the revision of the others, so all
 *      files come from one commit even if the branch moves meanwhile.
 *   2. Unless blobs/<etag> exists: GET the same URL (following redirects, http/https only)
 *      into blobs/<etag>.incomplete, from its current size on ("Range: bytes=N-"; a 200 answer
 *      starts over), retrying interrupted transfers. A lock file under .locks/ keeps two
 *      processes from writing one blob.
 *   3. Check the sha256 (LFS) or the size, rename to blobs/<etag>, and point
 *      snapshots/<commit>/<file> at ../../blobs/<etag>.
 * Finally refs/<revision> receives the commit hash (written atomically). Etags and commits
 * come from the network and become file names, so they are checked to be plain
 * [A-Za-z0-9_-] / hex first.
 */
#define _GNU_SOURCE
#include "hubdl.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hub.h"
#include "fetch.h"
#include "fileio.h"
#include "hash.h"

#define PATH_CAP 4096

const char *const ae_hubdl_required_files[] = {
    "config.json", "preprocessor_config.json", "tokenizer_config.json", "vocab.json",
    "merges.txt", "model.safetensors", NULL};
const char *const ae_hubdl_optional_files[] = {"tokenizer.json", "special_tokens_map.json", NULL};

ae_hubdl_params ae_hubdl_default_params(void)
{
    ae_hubdl_params p = {
        .connect_timeout_ms = 15000,
        .low_speed_bytes = 1024,
        .low_speed_secs = 30,
        .retries = 3,
    };
    return p;
}

/* One download job: where things go and how to ask. */
struct job {
    const ae_hubdl_params *p;
    char endpoint[512];
    char repo_id[256];      /* org/name */
    char repo[PATH_CAP];    /* <cache>/models--org--name */
    char locks[PATH_CAP];   /* <cache>/.locks/models--org--name */
    char revision[128];     /* as asked */
    char commit[72];        /* learnt from the first file */
    struct curl_slist *headers;
};

/* What a HEAD told about one file. */
struct meta {
    long status;
    char commit[72], etag[160], linked_etag[160], error_code[64], location[8];
    int64_t linked_size, content_length;
};

static int fmt(char *out, size_t cap, const char *f, ...) AE_PRINTF(3, 4);
static int fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

int ae_hubdl_cache_dir(char *dir, size_t cap)
{
    const char *v;
    int ok;
    if ((v = getenv("HF_HUB_CACHE")) && *v) ok = fmt(dir, cap, "%s", v);
    else if ((v = getenv("HF_HOME")) && *v) ok = fmt(dir, cap, "%s/hub", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v) ok = fmt(dir, cap, "%s/huggingface/hub", v);
    else if ((v = getenv("HOME")) && *v) ok = fmt(dir, cap, "%s/.cache/huggingface/hub", v);
    else
        return ae_fail(AE_ERR_NOT_FOUND, "hub cache: none of HF_HUB_CACHE, HF_HOME, "
                                         "XDG_CACHE_HOME, HOME is set");
    if (!ok) return ae_fail(AE_ERR_INVALID, "hub cache: path too long");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0;
    return AE_OK;
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* An etag as a file name: W/ and quotes removed, then [A-Za-z0-9_-] only, 1..128 chars. */
static int clean_etag(const char *raw, char *out, size_t cap)
{
    const char *s = raw;
    if (strncmp(s, "W/", 2) == 0) s += 2;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') s++, n -= 2;
    if (n == 0 || n > 128 || n >= cap) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '-')) return 0;
    }
    memcpy(out, s, n);
    out[n] = 0;
    return 1;
}

/* ---- HEAD ---- */

static size_t on_header(char *buf, size_t size, size_t nitems, void *user)
{
    struct meta *m = user;
    size_t n = size * nitems;
    char line[512];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, buf, k);
    line[k] = 0;
    while (k && (line[k - 1] == '\r' || line[k - 1] == '\n' || line[k - 1] == ' ')) line[--k] = 0;
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new response: forget the previous one */
        memset(m, 0, sizeof *m);
        m->linked_size = m->content_length = -1;
        return n;
    }
    char *colon = strchr(line, ':');
    if (!colon) return n;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (strcasecmp(line, "X-Repo-Commit") == 0) snprintf(m->commit, sizeof m->commit, "%s", v);
    else if (strcasecmp(line, "ETag") == 0) snprintf(m->etag, sizeof m->etag, "%s", v);
    else if (strcasecmp(line, "X-Linked-Etag") == 0)
        snprintf(m->linked_etag, sizeof m->linked_etag, "%s", v);
    else if (strcasecmp(line, "Location") == 0)
        snprintf(m->location, sizeof m->location, "%s", v); /* only its start matters */
    else if (strcasecmp(line, "X-Error-Code") == 0)
        snprintf(m->error_code, sizeof m->error_code, "%s", v);
    else if (strcasecmp(line, "X-Linked-Size") == 0) m->linked_size = strtoll(v, NULL, 10);
    else if (strcasecmp(line, "Content-Length") == 0) m->content_length = strtoll(v, NULL, 10);
    return n;
}

static void common_opts(struct job *j, CURL *h, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, ae_user_agent());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)j->p->connect_timeout_ms);
    if (j->p->low_speed_bytes > 0 && j->p->low_speed_secs > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)j->p->low_speed_bytes);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)j->p->low_speed_secs);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    errbuf[0] = 0;
}

static int unreachable(struct job *j, CURLcode cc)
{
    return ae_fail(AE_ERR_IO,
                   "could not reach %s: %s — check the network, or copy the model directory "
                   "and pass --model DIR",
                   j->endpoint, curl_easy_strerror(cc));
}

/* HEAD of one file. Returns AE_OK with m filled (status 2xx/3xx, commit and etag checked),
 * AE_ERR_NOT_FOUND (m->status 404 etc., message set) or another error. */
static int head(struct job *j, const char *file, struct meta *m)
{
    char url[2048];
    const char *rev = j->commit[0] ? j->commit : j->revision;
    if (!fmt(url, sizeof url, "%s/%s/resolve/%s/%s", j->endpoint, j->repo_id, rev, file))
        return ae_fail(AE_ERR_INVALID, "%s: URL too long", file);
    CURL *h = curl_easy_init();
    if (!h) return ae_fail(AE_ERR_NOMEM, "%s: libcurl could not create a handle", file);
    char errbuf[CURL_ERROR_SIZE];
    int rc = AE_OK;
    /* relative redirects (a renamed repository, the hub's resolve cache) are followed as
     * huggingface_hub does; a redirect to another host (LFS -> CDN) is the answer itself */
    for (int hop = 0; hop < 5; hop++) {
        common_opts(j, h, errbuf);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)j->p->connect_timeout_ms * 4);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, m);
        memset(m, 0, sizeof *m);
        m->linked_size = m->content_length = -1;
        CURLcode cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
            rc = unreachable(j, cc);
            goto done;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &m->status);
        char *next = NULL;
        if (m->status >= 300 && m->status < 400 && m->location[0] == '/' &&
            m->location[1] != '/' &&
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next) == CURLE_OK && next) {
            snprintf(url, sizeof url, "%s", next);
            continue;
        }
        break;
    }
    long st = m->status;
    if (st == 401 || st == 403 || (st == 404 && strcmp(m->error_code, "RepositoryNotFound") == 0))
        rc = ae_fail(AE_ERR_NOT_FOUND,
                     "%s: repository not found on %s, or private or gated (HTTP %ld); check the "
                     "name, or set HF_TOKEN to a token with access",
                     j->repo_id, j->endpoint, st);
    else if (st == 404 && strcmp(m->error_code, "RevisionNotFound") == 0)
        rc = ae_fail(AE_ERR_NOT_FOUND, "%s: revision \"%s\" not found", j->repo_id, j->revision);
    else if (st == 404)
        rc = ae_fail(AE_ERR_NOT_FOUND, "%s: %s not found in the repository (revision %s)%s",
                     j->repo_id, file, rev,
                     strcmp(file, "model.safetensors") == 0
                         ? "; only safetensors weights are read, not pytorch_model.bin"
                         : "");
    else if (st >= 400 || st < 200)
        rc = ae_fail(AE_ERR_IO, "%s: %s: the hub answered HTTP %ld", j->repo_id, file, st);
    else if (!m->commit[0] || !(is_hex(m->commit, 40) || is_hex(m->commit, 64)))
        rc = ae_fail(AE_ERR_IO, "%s: %s: the answer of %s has no valid X-Repo-Commit header "
                                "(is it a Hugging Face hub?)",
                     j->repo_id, file, j->endpoint);
    else {
        char e[160];
        const char *raw = m->linked_etag[0] ? m->linked_etag : m->etag;
        if (!clean_etag(raw, e, sizeof e))
            rc = ae_fail(AE_ERR_IO, "%s: %s: unusable ETag \"%.80s\"", j->repo_id, file, raw);
        else
            snprintf(m->etag, sizeof m->etag, "%s", e);
    }
done:
    curl_easy_cleanup(h);
    return rc;
}

/* ---- GET into blobs/<etag>.incomplete ---- */

struct dl {
    struct job *j;
    CURL *h;
    const char *file;
    int fd;
    int64_t start;    /* bytes in the file when this transfer began */
    int64_t total;    /* expected size, -1 unknown */
    int checked;
    int fail_rc;
    char fail[300];
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct dl *d = user;
    size_t n = size * nmemb;
    if (!d->checked) { /* the final response's first bytes: status known */
        d->checked = 1;
        long st = 0;
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &st);
        if (st == 200 && d->start > 0) { /* the range was ignored: start over */
            if (ftruncate(d->fd, 0) != 0) {
                d->fail_rc = AE_ERR_IO;
                snprintf(d->fail, sizeof d->fail, "cannot truncate: %s", strerror(errno));
                return 0;
            }
            d->start = 0;
        } else if (st != 200 && st != 206) {
            d->fail_rc = st == 404 ? AE_ERR_NOT_FOUND : AE_ERR_IO;
            snprintf(d->fail, sizeof d->fail, "the server answered HTTP %ld", st);
            return 0;
        }
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(d->fd, ptr + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            d->fail_rc = AE_ERR_IO;
            snprintf(d->fail, sizeof d->fail, "cannot write: %s", strerror(errno));
            return 0;
        }
        off += (size_t)w;
    }
    return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal; (void)ultotal; (void)ulnow;
    struct dl *d = user;
    if (d->j->p->progress)
        d->j->p->progress(d->j->p->progress_user, d->file, d->start + (int64_t)dlnow, d->total);
    return 0;
}

static int64_t fd_size(int fd)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* Fills the open file fd (O_APPEND) with the file from its current size on. */
static int get_file(struct job *j, const char *file, int fd, int64_t total)
{
    char url[2048];
    fmt(url, sizeof url, "%s/%s/resolve/%s/%s", j->endpoint, j->repo_id, j->commit, file);
    CURL *h = curl_easy_init();
    if (!h) return ae_fail(AE_ERR_NOMEM, "%s: libcurl could not create a handle", file);
    char errbuf[CURL_ERROR_SIZE];
    int rc = AE_OK;
    for (int attempt = 0;; attempt++) {
        struct dl d = {j, h, file, fd, fd_size(fd), total, 0, 0, ""};
        if (d.start < 0) {
            rc = ae_fail(AE_ERR_IO, "%s: cannot stat the partial download", file);
            break;
        }
        if (total >= 0 && d.start >= total) { /* complete (or too long: verification says) */
            if (d.start > total && ftruncate(fd, 0) == 0) d.start = 0;
            else break;
        }
        char range[48];
        snprintf(range, sizeof range, "%lld-", (long long)d.start);
        curl_easy_reset(h);
        common_opts(j, h, errbuf);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        if (d.start > 0) curl_easy_setopt(h, CURLOPT_RANGE, range);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &d);
        CURLcode cc = curl_easy_perform(h);
        long st = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        if (cc == CURLE_OK && !d.fail_rc && (st == 200 || st == 206)) break;
        if (cc == CURLE_OK && !d.fail_rc && st == 416 && total >= 0 && d.start == total)
            break; /* nothing left to fetch */
        if (d.fail_rc) {
            rc = ae_fail(d.fail_rc, "%s: %s", file, d.fail);
            break;
        }
        if (cc == CURLE_OK) {
            rc = ae_fail(st == 404 ? AE_ERR_NOT_FOUND : AE_ERR_IO,
                         "%s: the server answered HTTP %ld", file, st);
            break;
        }
        /* a transfer error: resume from what arrived, a few times */
        if (attempt >= j->p->retries) {
            rc = ae_fail(AE_ERR_IO,
                         "%s: download interrupted after %lld bytes: %s; run the command again "
                         "to resume",
                         file, (long long)fd_size(fd), errbuf[0] ? errbuf : curl_easy_strerror(cc));
            break;
        }
    }
    curl_easy_cleanup(h);
    return rc;
}

/* sha256 of a file in hex. */
static int hash_file(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(errno));
    ae_sha256 c;
    ae_sha256_init(&c);
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return ae_fail(AE_ERR_NOMEM, "%s: out of memory", path);
    }
    ssize_t r;
    while ((r = read(fd, buf, CHUNK)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) ae_sha256_update(&c, buf, (size_t)r);
    int err = r < 0 ? errno : 0;
    free(buf);
    close(fd);
    if (err) return ae_fail(AE_ERR_IO, "%s: %s", path, strerror(err));
    uint8_t d[32];
    ae_sha256_final(&c, d);
    ae_sha256_tohex(d, hex);
    return AE_OK;
}

static int path_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Makes sure blobs/<etag> holds the file, downloading under the blob's lock. */
static int fetch_blob(struct job *j, const char *file, const struct meta *m, int64_t total)
{
    char blob[PATH_CAP], inc[PATH_CAP + 16], lock[PATH_CAP];
    if (!fmt(blob, sizeof blob, "%s/blobs/%s", j->repo, m->etag) ||
        !fmt(inc, sizeof inc, "%s.incomplete", blob) ||
        !fmt(lock, sizeof lock, "%s/%s.lock", j->locks, m->etag))
        return ae_fail(AE_ERR_INVALID, "%s: cache path too long", file);
    if (path_exists(blob)) return AE_OK;

    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) return ae_fail(AE_ERR_IO, "%s: %s", lock, strerror(errno));
    while (flock(lfd, LOCK_EX) != 0 && errno == EINTR) {
    }
    int rc = AE_OK;
    if (path_exists(blob)) goto unlock; /* another process finished it while we waited */
    int fd = open(inc, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = ae_fail(AE_ERR_IO, "%s: %s", inc, strerror(errno));
        goto unlock;
    }
    rc = get_file(j, file, fd, total);
    if (close(fd) != 0 && !rc) rc = ae_fail(AE_ERR_IO, "%s: %s", inc, strerror(errno));
    if (rc) goto unlock; /* the partial file stays for resuming */

    /* verify: the sha256 for LFS files (their etag), else the announced size */
    if (is_hex(m->etag, 64)) {
        char got[65];
        if ((rc = hash_file(inc, got))) goto unlock;
        if (strcasecmp(got, m->etag) != 0) {
            unlink(inc);
            rc = ae_fail(AE_ERR_FORMAT,
                         "%s: sha256 mismatch: the hub announced %s, the download has %s; the "
                         "download was removed, run the command again",
                         file, m->etag, got);
            goto unlock;
        }
    }
    struct stat sb;
    if (stat(inc, &sb) != 0) {
        rc = ae_fail(AE_ERR_IO, "%s: %s", inc, strerror(errno));
        goto unlock;
    }
    if (total >= 0 && (int64_t)sb.st_size != total) {
        unlink(inc);
        rc = ae_fail(AE_ERR_FORMAT,
                     "%s: size mismatch: the hub announced %lld bytes, the download has %lld; "
                     "the download was removed, run the command again",
                     file, (long long)total, (long long)sb.st_size);
        goto unlock;
    }
    if (rename(inc, blob) != 0) rc = ae_fail(AE_ERR_IO, "%s: %s", blob, strerror(errno));
unlock:
    flock(lfd, LOCK_UN);
    close(lfd);
    return rc;
}

/* snapshots/<commit>/<file> -> ../../blobs/<etag> */
static int link_file(struct job *j, const char *file, const char *etag)
{
    char dir[PATH_CAP], dst[PATH_CAP], target[PATH_CAP], tmp[PATH_CAP + 32];
    if (!fmt(dir, sizeof dir, "%s/snapshots/%s", j->repo, j->commit) ||
        !fmt(dst, sizeof dst, "%s/%s", dir, file) ||
        !fmt(target, sizeof target, "../../blobs/%s", etag) ||
        !fmt(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid()))
        return ae_fail(AE_ERR_INVALID, "%s: cache path too long", file);
    int rc = ae_mkdirs(dir);
    if (rc) return rc;
    /* a fresh link renamed over the old one: readers never see the name missing */
    unlink(tmp);
    if (symlink(target, tmp) != 0)
        return ae_fail(AE_ERR_IO, "%s: cannot create a symbolic link: %s", dst, strerror(errno));
    if (rename(tmp, dst) != 0) {
        rc = ae_fail(AE_ERR_IO, "%s: %s", dst, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static int write_ref(struct job *j)
{
    char dir[PATH_CAP], ref[PATH_CAP], tmp[PATH_CAP + 32];
    if (!fmt(dir, sizeof dir, "%s/refs", j->repo) ||
        !fmt(ref, sizeof ref, "%s/%s", dir, j->revision) ||
        !fmt(tmp, sizeof tmp, "%s.tmp%ld", ref, (long)getpid()))
        return ae_fail(AE_ERR_INVALID, "refs: cache path too long");
    int rc = ae_mkdirs(dir);
    if (rc) return rc;
    FILE *f = fopen(tmp, "wb");
    if (!f) return ae_fail(AE_ERR_IO, "%s: %s", tmp, strerror(errno));
    int ok = fputs(j->commit, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, ref) != 0) {
        rc = ae_fail(AE_ERR_IO, "%s: %s", ref, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static void progress(struct job *j, const char *file, int64_t done, int64_t total)
{
    if (j->p->progress) j->p->progress(j->p->progress_user, file, done, total);
}

/* One file: HEAD, blob, link. Optional files missing are skipped (returns 1). */
static int one_file(struct job *j, const char *file, int optional)
{
    struct meta m;
    int rc = head(j, file, &m);
    if (rc == AE_ERR_NOT_FOUND && optional && m.status == 404 &&
        strcmp(m.error_code, "RepositoryNotFound") != 0 &&
        strcmp(m.error_code, "RevisionNotFound") != 0) {
        ae_clear_error();
        return 1;
    }
    if (rc) return rc;
    if (!j->commit[0]) snprintf(j->commit, sizeof j->commit, "%s", m.commit);
    int64_t total = m.linked_size >= 0 ? m.linked_size : m.content_length;
    progress(j, file, 0, total);
    if ((rc = fetch_blob(j, file, &m, total))) return rc;
    if ((rc = link_file(j, file, m.etag))) return rc;
    progress(j, file, total, total);
    return AE_OK;
}

int ae_hub_download(const char *spec, const ae_hubdl_params *params, char *snapshot_dir,
                    size_t cap)
{
    ae_hubdl_params def = ae_hubdl_default_params();
    const ae_hubdl_params *p = params ? params : &def;
    if (!spec || !*spec) return ae_fail(AE_ERR_INVALID, "fetch-model: empty model name");
    char org[HUB_PART_CAP], name[HUB_PART_CAP], rev[HUB_PART_CAP];
    if (!hub_split_spec(spec, org, name, rev))
        return ae_fail(AE_ERR_INVALID,
                       "%s: not a model name of the form org/name[@revision] "
                       "(letters, digits, '.', '_', '-')",
                       spec);
    int rc = ae_curl_init();
    if (rc) return rc;

    struct job j;
    memset(&j, 0, sizeof j);
    j.p = p;
    const char *ep = p->endpoint ? p->endpoint : getenv("HF_ENDPOINT");
    if (!ep || !*ep) ep = "https://huggingface.co";
    if (!fmt(j.endpoint, sizeof j.endpoint, "%s", ep))
        return ae_fail(AE_ERR_INVALID, "HF_ENDPOINT: too long");
    for (size_t n = strlen(j.endpoint); n > 0 && j.endpoint[n - 1] == '/';) j.endpoint[--n] = 0;
    snprintf(j.repo_id, sizeof j.repo_id, "%s/%s", org, name);
    snprintf(j.revision, sizeof j.revision, "%s", rev);
    if (is_hex(rev, 40)) snprintf(j.commit, sizeof j.commit, "%.40s", rev);

    char cache[PATH_CAP];
    if (p->cache_dir) {
        if (!fmt(cache, sizeof cache, "%s", p->cache_dir))
            return ae_fail(AE_ERR_INVALID, "cache folder: path too long");
    } else if ((rc = ae_hubdl_cache_dir(cache, sizeof cache))) {
        return rc;
    }
    if (!fmt(j.repo, sizeof j.repo, "%s/models--%s--%s", cache, org, name) ||
        !fmt(j.locks, sizeof j.locks, "%s/.locks/models--%s--%s", cache, org, name))
        return ae_fail(AE_ERR_INVALID, "%s: cache path too long", cache);
    char blobs[PATH_CAP + 8];
    fmt(blobs, sizeof blobs, "%s/blobs", j.repo);
    if ((rc = ae_mkdirs(blobs)) || (rc = ae_mkdirs(j.locks))) return rc;

    const char *token = p->token ? p->token : getenv("HF_TOKEN");
    char auth[1024];
    if (token && *token) {
        if (!fmt(auth, sizeof auth, "Authorization: Bearer %s", token) || strpbrk(token, "\r\n"))
            return ae_fail(AE_ERR_INVALID, "HF_TOKEN: not a usable token");
        j.headers = curl_slist_append(j.headers, auth);
    }
    j.headers = curl_slist_append(j.headers, "Accept-Encoding: identity");
    if (!j.headers) return ae_fail(AE_ERR_NOMEM, "fetch-model: out of memory");

    for (int i = 0; !rc && ae_hubdl_required_files[i]; i++)
        rc = one_file(&j, ae_hubdl_required_files[i], 0);
    for (int i = 0; !rc && ae_hubdl_optional_files[i]; i++) {
        int r = one_file(&j, ae_hubdl_optional_files[i], 1);
        if (r < 0) rc = r;
    }
    /* refs/<rev> only once everything is there, so that a failed download is never found */
    if (!rc && strcmp(j.revision, j.commit) != 0) rc = write_ref(&j);
    curl_slist_free_all(j.headers);
    if (rc) {
        /* leave no empty folders that look like a download (a partial blob stays, to resume) */
        int e = errno;
        rmdir(blobs), rmdir(j.repo), rmdir(j.locks);
        errno = e;
        return rc;
    }
    if (snapshot_dir && cap) {
        if (!fmt(snapshot_dir, cap, "%s/snapshots/%s", j.repo, j.commit))
            return ae_fail(AE_ERR_INVALID, "%s: snapshot path longer than %zu bytes", spec, cap);
    }
    return AE_OK;
}
