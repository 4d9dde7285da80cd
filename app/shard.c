/*
 * shard.c — the one parser of `--shard I/N`, `--shard-count N` and the schedulers'
 * variables (SLURM_ARRAY_TASK_*, JOB_COMPLETION_INDEX), and the contiguous split.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "error.h"
#include "shard.h"

#define MAX_COUNT 100000000LL /* far beyond any cluster: keeps I*T/N in 64 bits */

/* A decimal integer in [lo, hi] filling s exactly; 0 or -1. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || !*s || *s == '+' || *s == ' ') return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* $name as an integer in [lo, hi]; 1 unset, 0 set and read, -1 garbled (error set). */
static int env_int(const char *name, long long lo, long long hi, long long *out)
{
    const char *v = getenv(name);
    if (!v) return 1;
    if (parse_int(v, lo, hi, out) == 0) return 0;
    ae_fail(AE_ERR_INVALID, "%s='%.40s' is not a whole number%s", name, v, lo > 0 ? " above 0" : " (0 or more)");
    return -1;
}

static int set(ae_shard *out, long long index, long long count, const char *source)
{
    if (index >= count)
        return ae_fail(AE_ERR_INVALID, "%s: index %lld is not below the count %lld (indices are 0 to %lld)", source,
                       index, count, count - 1);
    out->index = index, out->count = count, out->active = 1;
    snprintf(out->source, sizeof out->source, "%s", source);
    return AE_OK;
}

static int from_slurm(const char *count_flag, long long flag_count, ae_shard *out)
{
    long long id, count, min, step = 1;
    int r;
    if ((r = env_int("SLURM_ARRAY_TASK_ID", 0, MAX_COUNT * 1000, &id)) < 0) return AE_ERR_INVALID;
    if ((r = env_int("SLURM_ARRAY_TASK_COUNT", 1, MAX_COUNT, &count)) < 0) return AE_ERR_INVALID;
    if (r) return ae_fail(AE_ERR_INVALID, "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (give --shard I/N)");
    if ((r = env_int("SLURM_ARRAY_TASK_MIN", 0, MAX_COUNT * 1000, &min)) < 0) return AE_ERR_INVALID;
    if (r) return ae_fail(AE_ERR_INVALID, "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not (give --shard I/N)");
    if ((r = env_int("SLURM_ARRAY_TASK_STEP", 1, MAX_COUNT * 1000, &step)) < 0) return AE_ERR_INVALID;
    if (id < min)
        return ae_fail(AE_ERR_INVALID, "SLURM_ARRAY_TASK_ID=%lld is below SLURM_ARRAY_TASK_MIN=%lld", id, min);
    if ((id - min) % step)
        return ae_fail(AE_ERR_INVALID, "SLURM_ARRAY_TASK_ID=%lld is not on the array's step (MIN=%lld, STEP=%lld): give --shard I/N",
                       id, min, step);
    if (count_flag && flag_count != count)
        return ae_fail(AE_ERR_INVALID, "--shard-count %lld contradicts SLURM_ARRAY_TASK_COUNT=%lld", flag_count, count);
    long long index = (id - min) / step;
    if (index >= count)
        return ae_fail(AE_ERR_INVALID, "SLURM_ARRAY_TASK_ID=%lld: task %lld of the array is not below SLURM_ARRAY_TASK_COUNT=%lld",
                       id, index, count);
    return set(out, index, count, "SLURM_ARRAY_TASK_ID");
}

int ae_shard_resolve(const char *shard_flag, const char *count_flag, ae_shard *out)
{
    memset(out, 0, sizeof *out);
    out->count = 1;
    long long flag_count = 0;
    if (count_flag && parse_int(count_flag, 1, MAX_COUNT, &flag_count))
        return ae_fail(AE_ERR_INVALID, "--shard-count: '%.40s' is not a whole number from 1 to %lld", count_flag, MAX_COUNT);
    if (shard_flag) { /* explicit: the environment is not read */
        const char *slash = strchr(shard_flag, '/');
        char head[32];
        long long i, n;
        size_t len = slash ? (size_t)(slash - shard_flag) : 0;
        if (!slash || len >= sizeof head) goto bad;
        memcpy(head, shard_flag, len), head[len] = 0;
        if (parse_int(head, 0, MAX_COUNT, &i) || parse_int(slash + 1, 1, MAX_COUNT, &n)) goto bad;
        if (count_flag && flag_count != n)
            return ae_fail(AE_ERR_INVALID, "--shard %s contradicts --shard-count %lld", shard_flag, flag_count);
        return set(out, i, n, "--shard");
    bad:
        return ae_fail(AE_ERR_INVALID, "--shard: '%.40s' is not I/N (task I of N, 0 <= I < N)", shard_flag);
    }
    int slurm = getenv("SLURM_ARRAY_TASK_ID") != NULL, k8s = getenv("JOB_COMPLETION_INDEX") != NULL;
    if (slurm && k8s)
        return ae_fail(AE_ERR_INVALID, "both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set: give --shard I/N");
    if (slurm) return from_slurm(count_flag, flag_count, out);
    if (k8s) {
        long long index;
        if (env_int("JOB_COMPLETION_INDEX", 0, MAX_COUNT, &index) < 0) return AE_ERR_INVALID;
        if (!count_flag)
            return ae_fail(AE_ERR_INVALID, "JOB_COMPLETION_INDEX=%lld needs --shard-count N (the Job's completions)", index);
        return set(out, index, flag_count, "JOB_COMPLETION_INDEX");
    }
    if (getenv("SLURM_ARRAY_TASK_COUNT"))
        return ae_fail(AE_ERR_INVALID, "SLURM_ARRAY_TASK_COUNT is set but SLURM_ARRAY_TASK_ID is not (give --shard I/N)");
    if (count_flag)
        return ae_fail(AE_ERR_INVALID, "--shard-count %lld needs JOB_COMPLETION_INDEX in the environment, or --shard I/N",
                       flag_count);
    return AE_OK;
}

void ae_shard_range(const ae_shard *s, int64_t total, int64_t *lo, int64_t *hi)
{
    /* total <= 2^31 inputs and count <= 1e8: the products fit in 64 bits */
    *lo = total * s->index / s->count;
    *hi = total * (s->index + 1) / s->count;
}

int ae_shard_digits(int64_t count)
{
    int d = 1;
    for (int64_t c = count; c >= 10; c /= 10) d++;
    return d;
}
