/*
 * test_shard.c — the shard parser: --shard I/N, --shard-count, Slurm array and Kubernetes
 * Indexed Job variables, their contradictions and garbling, and the contiguous split.
 */
#include <stdlib.h>

#include "aesthete.h"
#include "shard.h"
#include "wds.h"
#include "test.h"

static const char *VARS[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                             "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++) unsetenv(VARS[i]);
}

/* resolves and expects success at index/count from source */
static void ok(const char *flag, const char *count, long long index, long long n, const char *source)
{
    ae_shard s;
    int rc = ae_shard_resolve(flag, count, &s);
    CHECK_MSG(rc == AE_OK, "%s %s: %s", flag ? flag : "-", count ? count : "-", ae_last_error());
    CHECK_EQ_INT(s.index, index);
    CHECK_EQ_INT(s.count, n);
    CHECK_EQ_INT(s.active, *source != 0);
    CHECK_MSG(!strcmp(s.source, source), "source %s, expected %s", s.source, source);
}

static void bad(const char *flag, const char *count, const char *message)
{
    ae_shard s;
    int rc = ae_shard_resolve(flag, count, &s);
    CHECK_EQ_INT(rc, AE_ERR_INVALID);
    CHECK_MSG(!strcmp(ae_last_error(), message), "message \"%s\", expected \"%s\"", ae_last_error(), message);
    CHECK(!strchr(ae_last_error(), '\n'));
}

static void test_flags(void)
{
    clear_env();
    ok(NULL, NULL, 0, 1, "");
    ok("0/1", NULL, 0, 1, "--shard");
    ok("3/4", NULL, 3, 4, "--shard");
    ok("3/4", "4", 3, 4, "--shard");
    bad("5/4", NULL, "--shard: index 5 is not below the count 4 (indices are 0 to 3)");
    bad("4/4", NULL, "--shard: index 4 is not below the count 4 (indices are 0 to 3)");
    bad("0/0", NULL, "--shard: '0/0' is not I/N (task I of N, 0 <= I < N)");
    bad("-1/4", NULL, "--shard: '-1/4' is not I/N (task I of N, 0 <= I < N)");
    bad("1", NULL, "--shard: '1' is not I/N (task I of N, 0 <= I < N)");
    bad("1/4x", NULL, "--shard: '1/4x' is not I/N (task I of N, 0 <= I < N)");
    bad("a/b", NULL, "--shard: 'a/b' is not I/N (task I of N, 0 <= I < N)");
    bad("/4", NULL, "--shard: '/4' is not I/N (task I of N, 0 <= I < N)");
    bad("1/4", "5", "--shard 1/4 contradicts --shard-count 5");
    bad(NULL, "x", "--shard-count: 'x' is not a whole number from 1 to 100000000");
    bad(NULL, "4", "--shard-count 4 needs JOB_COMPLETION_INDEX in the environment, or --shard I/N");
}

static void test_slurm(void)
{
    clear_env();
    setenv("SLURM_ARRAY_TASK_ID", "2", 1), setenv("SLURM_ARRAY_TASK_COUNT", "4", 1), setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
    ok(NULL, NULL, 2, 4, "SLURM_ARRAY_TASK_ID");
    ok(NULL, "4", 2, 4, "SLURM_ARRAY_TASK_ID");
    ok("1/3", NULL, 1, 3, "--shard"); /* explicit flags win */
    bad(NULL, "8", "--shard-count 8 contradicts SLURM_ARRAY_TASK_COUNT=4");
    /* --array=10-13: MIN 10 */
    setenv("SLURM_ARRAY_TASK_ID", "13", 1), setenv("SLURM_ARRAY_TASK_MIN", "10", 1);
    ok(NULL, NULL, 3, 4, "SLURM_ARRAY_TASK_ID");
    /* --array=0-15:4: tasks 0 4 8 12, COUNT 4, STEP 4 */
    setenv("SLURM_ARRAY_TASK_ID", "8", 1), setenv("SLURM_ARRAY_TASK_MIN", "0", 1), setenv("SLURM_ARRAY_TASK_STEP", "4", 1);
    ok(NULL, NULL, 2, 4, "SLURM_ARRAY_TASK_ID");
    setenv("SLURM_ARRAY_TASK_ID", "6", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID=6 is not on the array's step (MIN=0, STEP=4): give --shard I/N");
    setenv("SLURM_ARRAY_TASK_ID", "16", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID=16: task 4 of the array is not below SLURM_ARRAY_TASK_COUNT=4");
    unsetenv("SLURM_ARRAY_TASK_STEP");
    setenv("SLURM_ARRAY_TASK_ID", "x1", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID='x1' is not a whole number (0 or more)");
    setenv("SLURM_ARRAY_TASK_ID", "", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID='' is not a whole number (0 or more)");
    setenv("SLURM_ARRAY_TASK_ID", "1", 1), setenv("SLURM_ARRAY_TASK_COUNT", "0", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_COUNT='0' is not a whole number above 0");
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1), setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID=1 is below SLURM_ARRAY_TASK_MIN=5");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not (give --shard I/N)");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    bad(NULL, NULL, "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (give --shard I/N)");
    unsetenv("SLURM_ARRAY_TASK_ID"), setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    bad(NULL, NULL, "SLURM_ARRAY_TASK_COUNT is set but SLURM_ARRAY_TASK_ID is not (give --shard I/N)");
    clear_env();
}

static void test_k8s(void)
{
    clear_env();
    setenv("JOB_COMPLETION_INDEX", "3", 1);
    ok(NULL, "5", 3, 5, "JOB_COMPLETION_INDEX");
    ok("0/2", NULL, 0, 2, "--shard");
    bad(NULL, NULL, "JOB_COMPLETION_INDEX=3 needs --shard-count N (the Job's completions)");
    bad(NULL, "3", "JOB_COMPLETION_INDEX: index 3 is not below the count 3 (indices are 0 to 2)");
    setenv("JOB_COMPLETION_INDEX", "three", 1);
    bad(NULL, "5", "JOB_COMPLETION_INDEX='three' is not a whole number (0 or more)");
    setenv("JOB_COMPLETION_INDEX", "1", 1), setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    bad(NULL, "5", "both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set: give --shard I/N");
    clear_env();
}

static void test_range(void)
{
    /* 10 units in 4 parts: 0-1, 2-4, 5-6, 7-9; disjoint, covering, in order */
    int64_t want[5] = {0, 2, 5, 7, 10}, next = 0;
    for (int i = 0; i < 4; i++) {
        ae_shard s = {i, 4, 1, "--shard"};
        int64_t lo, hi;
        ae_shard_range(&s, 10, &lo, &hi);
        CHECK_EQ_INT(lo, want[i]);
        CHECK_EQ_INT(hi, want[i + 1]);
        CHECK_EQ_INT(lo, next);
        next = hi;
    }
    /* more parts than units: some parts are empty, none overlaps */
    int64_t total = 0;
    for (int i = 0; i < 7; i++) {
        ae_shard s = {i, 7, 1, ""};
        int64_t lo, hi;
        ae_shard_range(&s, 3, &lo, &hi);
        total += hi - lo;
    }
    CHECK_EQ_INT(total, 3);
    CHECK_EQ_INT(ae_shard_digits(1), 1);
    CHECK_EQ_INT(ae_shard_digits(9), 1);
    CHECK_EQ_INT(ae_shard_digits(10), 2);
    CHECK_EQ_INT(ae_shard_digits(100), 3);
    CHECK_EQ_INT(ae_shard_digits(1000), 4);
}

static int collect(void *ctx, const char *name)
{
    char *buf = ctx;
    strcat(buf, name), strcat(buf, " ");
    return 0;
}

static void expands(const char *pattern, const char *want)
{
    char buf[4096] = "";
    int rc = ae_wds_expand(pattern, collect, buf);
    CHECK_MSG(rc == AE_OK, "%s: %s", pattern, ae_last_error());
    CHECK_MSG(!strcmp(buf, want), "%s -> \"%s\", expected \"%s\"", pattern, buf, want);
}

static void test_braces(void)
{
    expands("data/{00000..00003}.tar", "data/00000.tar data/00001.tar data/00002.tar data/00003.tar ");
    expands("d/{8..11}.tar", "d/8.tar d/9.tar d/10.tar d/11.tar ");
    expands("{a,b}-{1..2}.tar", "a-1.tar a-2.tar b-1.tar b-2.tar ");
    expands("{x,{y,z}}.tar", "x.tar y.tar z.tar ");
    expands("{3..1}", "3 2 1 ");
    expands("plain.tar", "plain.tar ");
    char buf[64] = "";
    CHECK_EQ_INT(ae_wds_expand("data/{0..3.tar", collect, buf), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "data/{0..3.tar: a '{' without its '}'");
    CHECK_EQ_INT(ae_wds_expand("data/0..3}.tar", collect, buf), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "a '}' without its '{'");
    CHECK_EQ_INT(ae_wds_expand("{0..99999999}", collect, buf), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "expands to more than 10000000 names");
    CHECK_EQ_INT(ae_wds_expand("a{b}c", collect, buf), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "'{b}' is neither a range {A..B} nor a list {a,b}");
    CHECK(ae_wds_is_tar("x/00001.tar") && ae_wds_is_tar("A.TAR") && !ae_wds_is_tar(".tar") && !ae_wds_is_tar("a.tar.gz"));
}

int main(void)
{
    test_braces();
    test_flags();
    test_slurm();
    test_k8s();
    test_range();
    return test_summary();
}
