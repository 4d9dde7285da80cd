/*
 * cmd_cache.c — `aesthete cache stats|clear`: the embedding cache.
 */
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "cli.h"

static void help(void)
{
    printf("usage: aesthete cache stats [--cache FILE]\n"
           "       aesthete cache clear [--cache FILE]\n\n"
           "stats  entries and size of the embedding cache\n"
           "clear  deletes every entry (and removes a corrupt database file)\n"
           "  --cache FILE   the database (default: $XDG_CACHE_HOME/aesthete/embeddings.sqlite3)\n");
}

/* 1 if path starts like an SQLite database: only such a file (or the default cache) is removed
 * when it cannot be opened, never a file that a mistyped --cache points at */
static int looks_like_sqlite(const char *path)
{
    char head[16] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    return n == sizeof head && !memcmp(head, "SQLite format 3", 16);
}

int cmd_cache(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        help();
        return argc < 2 ? EXIT_USAGE : EXIT_ALL_OK;
    }
    const char *path = NULL, *what = argv[1];
    if (argc == 4 && !strcmp(argv[2], "--cache")) path = argv[3];
    else if (argc != 2) return cli_usage_error("cache", "expected: cache stats|clear [--cache FILE]");
    if (strcmp(what, "stats") && strcmp(what, "clear"))
        return cli_usage_error("cache", "unknown subcommand '%s' (stats, clear)", what);
    ae_cache *c = NULL;
    if (ae_cache_open(path, &c) != AE_OK) {
        if (!strcmp(what, "clear") && path && !looks_like_sqlite(path)) {
            cli_error("%s: not an SQLite database; not removing a file that is not a cache", path);
            return EXIT_USAGE;
        }
        if (!strcmp(what, "clear") && ae_cache_remove_files(path) == AE_OK) {
            printf("removed the unreadable cache database\n");
            return EXIT_ALL_OK;
        }
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    int ret = EXIT_ALL_OK;
    ae_cache_stats st;
    if (!strcmp(what, "clear") && ae_cache_clear(c) != AE_OK) {
        cli_error("%s", ae_last_error());
        ret = EXIT_USAGE;
    } else if (ae_cache_stats_get(c, &st) != AE_OK) {
        cli_error("%s", ae_last_error());
        ret = EXIT_USAGE;
    } else {
        printf("cache      %s\nentries    %lld\nembeddings %lld bytes\nfile       %lld bytes\n", st.path,
               (long long)st.entries, (long long)st.vec_bytes, (long long)st.file_bytes);
    }
    ae_cache_close(c);
    return ret;
}
