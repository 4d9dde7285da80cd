/*
 * error.c — per-thread error detail and the static texts of the AE_ERR_* codes.
 */
#include <stdarg.h>
#include <string.h>

#include "error.h"

static _Thread_local char detail[1024];

int ae_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return rc;
}

int ae_fail_prefix(int rc, const char *fmt, ...)
{
    char prefix[512], old[sizeof detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, detail, sizeof old);
    snprintf(detail, sizeof detail, "%s%.*s", prefix, (int)(sizeof detail - 1 - strlen(prefix)), old);
    return rc;
}

void ae_clear_error(void) { detail[0] = 0; }

const char *ae_last_error(void) { return detail; }

const char *ae_strerror(int rc)
{
    switch (rc) {
    case AE_OK: return "success";
    case AE_ERR_INVALID: return "invalid argument";
    case AE_ERR_IO: return "input/output error";
    case AE_ERR_FORMAT: return "malformed data";
    case AE_ERR_UNSUPPORTED: return "unsupported";
    case AE_ERR_TOO_LARGE: return "over the limit";
    case AE_ERR_NOT_FOUND: return "not found";
    case AE_ERR_NOMEM: return "out of memory";
    case AE_ERR_MODEL: return "model files disagree";
    default: return "unknown error";
    }
}
