/*
 * fuzz_wds.c — libFuzzer target for the WebDataset reader: arbitrary bytes as a tar shard,
 * indexed (ae_wds_index) and read through the feed (ae_wds_source) sample after sample.
 * Every row must have a name and either an error or an image member, the reads must fail
 * or give exactly the member's size, and nothing may crash or leak. Not part of the CMake
 * build; from the repository root (the seeds: any tars, e.g. those test_shard_wds.sh makes):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -Iinclude -Isrc -Iapp fuzz/fuzz_wds.c app/wds.c app/fetch.c src/error.c \
 *       $(pkg-config --cflags --libs libarchive libcurl) -lpthread -o fuzz_wds
 *   ./fuzz_wds -max_len=65536 fuzz/corpus/wds/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aesthete.h"
#include "wds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_wds.%ld.tar", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *keep[] = {"json", "txt"};
    const char *items[] = {path};
    ae_wds_feed *feed;
    if (ae_wds_feed_new(items, 1, keep, 2, 1 << 20, &feed) == AE_OK) {
        int32_t n = ae_wds_feed_count(feed);
        if (n < 1) abort(); /* an empty or unreadable shard is a row too */
        for (int32_t i = 0; i < n; i++) {
            const ae_wds_sample *s = ae_wds_feed_sample(feed, i);
            if (!s || !s->input || (!s->error && !s->image)) abort();
            ae_buffer body = {0};
            char err[512];
            int r = ae_wds_source(feed, i, s->input, &body, err, sizeof err);
            if (r == 1 && (int64_t)body.size != s->image_size) abort();
            if (r < 0 && !err[0]) abort();
            ae_buffer_free(&body);
        }
        ae_wds_feed_free(feed);
    }
    unlink(path);
    return 0;
}
