/*
 * shard.h — which part of the input one task of a cluster job takes: `--shard I/N`, or the
 * scheduler's environment (a Slurm job array, a Kubernetes Indexed Job).
 *
 * The rule is the same on every machine: the expanded input (list and tar order as given,
 * folders by sorted path) is cut into N contiguous runs of units, run I = units
 * [floor(I*T/N), floor((I+1)*T/N)) of T. A unit is an image or a whole tar shard, so the
 * concatenation of the N parts in index order is the input in its order.
 */
#ifndef AE_APP_SHARD_H
#define AE_APP_SHARD_H

#include <stdint.h>

typedef struct ae_shard {
    int64_t index, count; /* 0 <= index < count; 0/1 when not sharded */
    int32_t active;       /* 1: given (flag or environment) */
    char source[40];      /* "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "" */
} ae_shard;

/* The part to take, from the flags and the environment. shard_flag: the argument of
 * --shard ("I/N") or NULL; count_flag: the argument of --shard-count or NULL. Explicit flags
 * win over the environment; without --shard, SLURM_ARRAY_TASK_ID (with
 * SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN and, when set, SLURM_ARRAY_TASK_STEP: index =
 * (ID - MIN) / STEP) or JOB_COMPLETION_INDEX (with --shard-count, Kubernetes has no count
 * variable) give it. A malformed value, an index not below its count, a --shard-count that
 * contradicts the count, a count variable without its index, or both schedulers' variables
 * at once: AE_ERR_INVALID with a one-line ae_last_error(). Neither flags nor variables: the
 * whole input (0/1, active 0). */
int ae_shard_resolve(const char *shard_flag, const char *count_flag, ae_shard *out);

/* Units [*lo, *hi) of total that the shard takes. */
void ae_shard_range(const ae_shard *s, int64_t total, int64_t *lo, int64_t *hi);

/* The digits of shard numbers among count outputs, as clip-retrieval pads them
 * (str(i).zfill(int(log10(count)) + 1)): 1 for count <= 9, 2 up to 99, ... */
int ae_shard_digits(int64_t count);

#endif
