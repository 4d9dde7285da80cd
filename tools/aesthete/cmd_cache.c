/*
 * cmd_cache.c — `aesthete cache stats|clear`: the embedding cache.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "recipe.h"

static void help(void)
{
    printf("usage: aesthete cache stats [--cache FILE]\n"
           "       aesthete cache clear [--cache FILE]\n\n"
           "stats  entries and size of the embedding cache, and of the prompt banks kept beside it\n"
           "       (a cache that does not exist yet is reported as such, not created)\n"
           "clear  deletes every entry and every kept bank (and removes a corrupt database file)\n"
           "  --cache FILE   the database (default: $XDG_CACHE_HOME/aesthete/embeddings.sqlite3);\n"
           "                 the banks are in the folder banks/ beside it, at most %lld MiB, the\n"
           "                 ones used longest ago removed first\n"
           "  -h, --help     this text\n",
           (long long)(AE_KEPT_BANKS_MAX_BYTES >> 20));
}

/* The kept banks: printed (stats) or removed (clear); the number that could not be removed. */
static int banks(const char *cache_path, int clear)
{
    char dir[4200];
    if (ae_recipe_bank_dir_name(cache_path, dir, sizeof dir) != AE_OK) return 0;
    ae_kept_bank *k;
    int64_t bytes;
    int n = ae_recipe_kept_list(dir, &k, &bytes), left = 0;
    for (int i = 0; clear && i < n; i++)
        if (unlink(k[i].path) != 0) cli_error("%s: not removed: %s", k[i].path, strerror(errno)), left++;
    free(k);
    if (clear) printf("removed %d kept bank%s (%lld bytes) from %s\n", n - left, n - left == 1 ? "" : "s",
                      (long long)bytes, dir);
    else printf("banks      %d (%lld bytes, at most %lld) in %s\n", n, (long long)bytes,
                (long long)AE_KEPT_BANKS_MAX_BYTES, dir);
    return left;
}

/* clear: the damaged databases moved aside beside db (<db>.corrupt-*) go too */
static void remove_moved_aside(const char *db)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", db);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : db;
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s.corrupt-", base);
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        n += unlink(p) == 0;
    }
    if (d) closedir(d);
    if (n) printf("removed %d damaged cache%s moved aside earlier\n", n, n == 1 ? "" : "s");
}

int cmd_cache(int argc, char **argv)
{
    static const struct option opts[] = {{"cache", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') return help(), EXIT_ALL_OK;
        if (c == 'c') path = optarg;
        else return cli_bad_option("cache", c, argc, argv);
    }
    if (optind + 1 != argc) {
        if (optind == argc) help();
        return optind == argc ? EXIT_USAGE : cli_usage_error("cache", "expected: cache stats|clear [--cache FILE]");
    }
    const char *what = argv[optind];
    if (strcmp(what, "stats") && strcmp(what, "clear"))
        return cli_usage_error("cache", "unknown subcommand '%s' (stats, clear)", what);
    int clear = !strcmp(what, "clear");
    char db[4096];
    if (path) snprintf(db, sizeof db, "%s", path);
    else if (ae_cache_default_path(db, sizeof db) != AE_OK) {
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    struct stat st0;
    if (stat(db, &st0) != 0 && errno == ENOENT) { /* looking creates nothing */
        if (clear) printf("no cache database at %s\n", db);
        else printf("cache      %s (none yet)\nentries    0\n", db);
        return banks(path, clear) ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    }
    ae_cache *ch = NULL;
    if (ae_cache_open(path, &ch) != AE_OK) {
        if (clear && path && !ae_cache_is_sqlite(path)) {
            cli_error("%s: not an SQLite database; not removing a file that is not a cache", path);
            return EXIT_USAGE;
        }
        if (clear && ae_cache_remove_files(path) == AE_OK) {
            printf("removed the unreadable cache database\n");
            return banks(path, 1) ? EXIT_SOME_FAILED : EXIT_ALL_OK;
        }
        cli_error("%s", ae_last_error());
        return EXIT_USAGE;
    }
    int ret = EXIT_ALL_OK;
    ae_cache_stats st;
    if (clear && ae_cache_clear(ch) != AE_OK) {
        cli_error("%s", ae_last_error());
        ret = EXIT_USAGE;
    } else if (ae_cache_stats_get(ch, &st) != AE_OK) {
        cli_error("%s", ae_last_error());
        ret = EXIT_USAGE;
    } else {
        printf("cache      %s\nentries    %lld\nembeddings %lld bytes\nfile       %lld bytes\n", st.path,
               (long long)st.entries, (long long)st.vec_bytes, (long long)st.file_bytes);
    }
    const char *w = ae_cache_warning(ch);
    if (w) cli_error("warning: %s", w);
    ae_cache_close(ch);
    if (clear) remove_moved_aside(db);
    if (ret == EXIT_ALL_OK && banks(path, clear)) ret = EXIT_SOME_FAILED;
    return ret;
}
