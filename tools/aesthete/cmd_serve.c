/*
 * cmd_serve.c — `aesthete serve`: the web page and the JSON API (app/server.c) for one
 * model, until SIGINT or SIGTERM; then admitted requests are finished and the exit status is 0.
 *
 * SIGINT and SIGTERM are blocked before any thread exists (the session's workers, the
 * server's threads inherit the mask) and taken with sigwait on the main thread, so no handler
 * runs inside library code.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileio.h"
#include "recipe.h"
#include "scoring.h"
#include "server.h"

#define MAX_BANKS 16

static void help(const ae_server_params *d)
{
    printf("usage: aesthete serve [OPTIONS]\n\n"
           "Serves the aesthetic scoring web page and JSON API over HTTP until SIGINT/SIGTERM.\n"
           "Endpoints: GET / (the page), GET /healthz, GET /api/info, POST /api/score,\n"
           "POST /api/rank, POST /api/embed, POST /api/bank (see the README).\n"
           "Requests choose method/bank/adjectives per request; the options below set the default.\n\n"
           "%s"
           "  (--bank may be given several times: each is offered by name, the file name\n"
           "  without extension; the first is the default.)\n\n"
           "  --host ADDR          address to listen on (default: %s; 0.0.0.0 or :: for all)\n"
           "  --port N             TCP port (default: %d; 0 = any free port)\n"
           "  --max-upload-mb N    request body cap in MiB (default: %lld)\n"
           "  --max-inflight K     requests decoded/scored at once; more get 503 (default: %d)\n"
           "  --batch N            images per forward pass across requests (default: %d)\n"
           "  --max-connections N  open connections (default: %d)\n"
           "  --max-per-ip N       open connections per client address (default: %d)\n"
           "  --timeout S          idle/receive/send limit: headers within S s, bodies at\n"
           "                       >= 16 KiB/s after S s (default: %d)\n"
           "  --request-timeout S  budget of one request; still queued after it: 503 (default: %d)\n"
           "  --max-parts N        multipart parts per request (default: %d)\n"
           "  --max-banks N        banks built on request kept in memory (LRU) (default: %d)\n"
           "  --max-classes N      names of an uploaded class list (default: %d)\n"
           "  --allow-urls         accept url= inputs, fetched only from public addresses\n"
           "  --auth-token FILE    API requests need 'Authorization: Bearer TOKEN', TOKEN the\n"
           "                       file's one line (at least 16 characters); the page asks for it\n"
           "  --tls-cert FILE      HTTPS with this PEM certificate (and --tls-key FILE, its key)\n"
           "  --allowed-host NAME  accept this Host name too (repeatable): a server on loopback\n"
           "                       answers only localhost, 127.0.0.1 and [::1] (DNS rebinding)\n"
           "  --cors ORIGIN        let pages of ORIGIN (https://host[:port]) call the API; other\n"
           "                       sites' requests are refused (403)\n"
           "  -q, --quiet          no request log on stderr\n"
           "  -h, --help           this text\n\n"
           "The server never writes uploads to disk: the embedding cache is not used for them.\n"
           "Banks (the default one, those built on request) are kept in the banks folder beside\n"
           "the cache, shared with the CLI (--cache FILE: beside FILE; --no-cache: not kept).\n"
           "Once listening, the banks of fixed, context and ensemble are made in the background\n"
           "(read from that folder when kept, else built: logged, and shown by /api/info).\n",
           serve_score_options_help, d->host, d->port, (long long)(d->max_upload_bytes >> 20), d->max_inflight, d->batch,
           d->max_connections, d->max_per_ip, d->timeout_s, d->request_timeout_s, d->max_parts, d->max_banks,
           d->max_classes);
}

/* path's bytes as a string into buf (cap bytes at most, with the NUL); 0, or -1 after the
 * one-line error */
static int read_secret(const char *path, char *buf, size_t cap)
{
    char *d = NULL;
    size_t n = 0;
    if (ae_file_read(path, cap - 1, &d, &n) != AE_OK) return cli_error("%s", ae_last_error()), -1;
    if (memchr(d, 0, n)) {
        free(d);
        return cli_error("%s: holds a NUL byte: not a PEM file or a token", path), -1;
    }
    memcpy(buf, d, n + 1);
    free(d);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    enum { O_HOST = OPT_COMMAND, O_PORT, O_UPLOAD, O_INFLIGHT, O_BATCH, O_CONNS, O_PERIP, O_TIMEOUT, O_REQTIMEOUT,
           O_PARTS, O_BANKS, O_CLASSES, O_URLS, O_TOKEN, O_ALLOWED_HOST, O_CORS, O_TLS_CERT, O_TLS_KEY };
    static const struct option opts[] = {SCORE_OPTIONS,
                                         {"host", required_argument, 0, O_HOST},
                                         {"port", required_argument, 0, O_PORT},
                                         {"max-upload-mb", required_argument, 0, O_UPLOAD},
                                         {"max-inflight", required_argument, 0, O_INFLIGHT},
                                         {"batch", required_argument, 0, O_BATCH},
                                         {"max-connections", required_argument, 0, O_CONNS},
                                         {"max-per-ip", required_argument, 0, O_PERIP},
                                         {"timeout", required_argument, 0, O_TIMEOUT},
                                         {"request-timeout", required_argument, 0, O_REQTIMEOUT},
                                         {"max-parts", required_argument, 0, O_PARTS},
                                         {"max-banks", required_argument, 0, O_BANKS},
                                         {"max-classes", required_argument, 0, O_CLASSES},
                                         {"allow-urls", no_argument, 0, O_URLS},
                                         {"auth-token", required_argument, 0, O_TOKEN},
                                         {"allowed-host", required_argument, 0, O_ALLOWED_HOST},
                                         {"cors", required_argument, 0, O_CORS},
                                         {"tls-cert", required_argument, 0, O_TLS_CERT},
                                         {"tls-key", required_argument, 0, O_TLS_KEY},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ae_server_params sp = ae_server_default_params();
    score_opts o;
    score_opts_init(&o);
    const char *banks[MAX_BANKS];
    const char *token_file = NULL, *cert_file = NULL, *key_file = NULL;
    char allowed[2048] = "";
    int nbanks = 0, c, r;
    long v;
    optind = 1;
    opterr = 0;
    int li;
    while ((li = -1, c = getopt_long(argc, argv, ":m:qh", opts, &li)) != -1) {
        switch (c) {
        case 'h': return help(&sp), EXIT_ALL_OK;
        case '?':
        case ':': return cli_bad_option("serve", c, argc, argv);
        case OPT_FORMAT:
        case OPT_VERBOSE:
            return cli_usage_error("serve", "--%s does not apply: the server answers in JSON, each request logged",
                                   li >= 0 ? opts[li].name : "format");
        case OPT_ALLOW_PRIVATE_URLS:
            return cli_usage_error("serve", "--allow-private-urls does not apply: the server fetches url= inputs from public addresses only");
        case OPT_HEAD:
            if (nbanks == MAX_BANKS) return cli_usage_error("serve", "at most %d --bank files", MAX_BANKS);
            banks[nbanks++] = optarg;
            continue;
        case O_HOST: sp.host = optarg; continue;
        case O_URLS: sp.allow_urls = 1; continue;
        case O_TOKEN: token_file = optarg; continue;
        case O_TLS_CERT: cert_file = optarg; continue;
        case O_TLS_KEY: key_file = optarg; continue;
        case O_CORS:
            if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
                return cli_usage_error("serve", "--cors: '%s' is not an origin (https://host[:port])", optarg);
            sp.cors_origin = optarg;
            continue;
        case O_ALLOWED_HOST:
            if (!*optarg || strchr(optarg, ',') || strlen(allowed) + strlen(optarg) + 2 > sizeof allowed)
                return cli_usage_error("serve", "--allowed-host: '%s' is not one host name (give it once per name)", optarg);
            snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", allowed[0] ? "," : "", optarg);
            sp.allowed_hosts = allowed;
            continue;
        case OPT_QUIET: sp.quiet = 1; continue;
        default: break;
        }
        if (c >= O_PORT && c <= O_CLASSES) {
            static const struct { int code; long lo, hi; } lim[] = {
                {O_PORT, 0, 65535}, {O_UPLOAD, 1, 4096}, {O_INFLIGHT, 1, 4096}, {O_BATCH, 1, 256},
                {O_CONNS, 1, 65536}, {O_PERIP, 1, 65536}, {O_TIMEOUT, 1, 86400}, {O_REQTIMEOUT, 1, 86400},
                {O_PARTS, 1, 100000}, {O_BANKS, 1, 1024}, {O_CLASSES, 1, 100000}};
            char opt[64];
            snprintf(opt, sizeof opt, "--%s", li >= 0 ? opts[li].name : "?");
            if (cli_parse_int("serve", opt, optarg, lim[c - O_PORT].lo, lim[c - O_PORT].hi, &v)) return EXIT_USAGE;
            switch (c) {
            case O_PORT: sp.port = (int32_t)v; break;
            case O_UPLOAD: sp.max_upload_bytes = (int64_t)v << 20; break;
            case O_INFLIGHT: sp.max_inflight = (int32_t)v; break;
            case O_BATCH: sp.batch = (int32_t)v; break;
            case O_CONNS: sp.max_connections = (int32_t)v; break;
            case O_PERIP: sp.max_per_ip = (int32_t)v; break;
            case O_TIMEOUT: sp.timeout_s = (int32_t)v; break;
            case O_REQTIMEOUT: sp.request_timeout_s = (int32_t)v; break;
            case O_PARTS: sp.max_parts = (int32_t)v; break;
            case O_BANKS: sp.max_banks = (int32_t)v; break;
            case O_CLASSES: sp.max_classes = (int32_t)v; break;
            }
            continue;
        }
        if ((r = score_opt(&o, c, optarg, "serve")) < 0) return EXIT_USAGE;
        if (r > 0) return cli_bad_option("serve", '?', argc, argv);
    }
    if (optind != argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    /* secrets from files (never on the command line, where ps shows them), kept in static
     * buffers for the life of the process */
    static char token[4097], cert[(1 << 20) + 1], tls_key[(1 << 20) + 1];
    if (token_file) {
        if (read_secret(token_file, token, sizeof token)) return EXIT_USAGE;
        size_t n = strlen(token);
        while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ')) token[--n] = 0;
        if (n < 16 || strpbrk(token, " \t\r\n"))
            return cli_error("%s: a token is one line of at least 16 characters without spaces", token_file), EXIT_USAGE;
        sp.auth_token = token;
    }
    if (!cert_file != !key_file) return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    if (cert_file) {
        if (read_secret(cert_file, cert, sizeof cert) || read_secret(key_file, tls_key, sizeof tls_key)) return EXIT_USAGE;
        sp.tls_cert = cert, sp.tls_key = tls_key;
    }
    if (strcmp(sp.host, "127.0.0.1") && strcmp(sp.host, "localhost") && strcmp(sp.host, "::1") &&
        (!sp.auth_token || !sp.tls_cert))
        cli_error("warning: serving on %s %s: anyone who can reach it may use it%s (see --auth-token, --tls-cert)",
                  sp.host, !sp.auth_token && !sp.tls_cert ? "without a token or TLS" : !sp.auth_token ? "without a token" : "without TLS",
                  !sp.auth_token ? "" : ", and the token travels in clear text");
    if (nbanks) o.bank_path = banks[0];
    sp.image = o.image;

    /* before any thread exists, so that every thread inherits the mask */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    scorer sc;
    memset(&sc, 0, sizeof sc);
    char default_name[256] = "", key[65] = "";
    if (o.bank_path) {
        /* the text tower is loaded anyway: requests may ask for other methods */
        if (o.method >= 0 || o.classes_path || o.template_text || o.positive || o.negative)
            return cli_usage_error("serve", "--head (--bank) already fixes the method and prompts; drop --method/--classes/--template/--positive/--negative");
        if (!(sc.model = cli_load_model(o.model, 1, 1, o.precision, o.text_precision))) return EXIT_USAGE;
        ae_session_params ssp = ae_session_default_params();
        ssp.n_threads = (int32_t)o.threads;
        if (ae_session_new(sc.model, &ssp, &sc.session) != AE_OK) {
            cli_error("%s", ae_last_error());
            scorer_close(&sc);
            return EXIT_USAGE;
        }
    } else {
        if ((r = scorer_open(&sc, &o, "serve", 1))) {
            scorer_close(&sc);
            return r;
        }
        ae_cache_close(sc.cache); /* uploads are not cached; the cache served the bank only */
        sc.cache = NULL;
        /* listed under its recipe's key, so requests asking for the same head share it */
        snprintf(key, sizeof key, "%s", sc.key);
        snprintf(default_name, sizeof default_name, "%s", ae_method_name(o.method < 0 ? AE_METHOD_FIXED : (ae_method)o.method));
    }

    /* banks built on request are kept where the CLI keeps its own (not with --no-cache) */
    char bank_dir[4200];
    if (!o.no_cache && ae_recipe_bank_dir(o.cache_path, bank_dir, sizeof bank_dir) == AE_OK) sp.bank_dir = bank_dir;
    sp.prebuild = 1;
    ae_server *srv = NULL;
    if (ae_server_new(sc.model, sc.session, &sp, &srv) != AE_OK) {
        cli_error("%s", ae_last_error());
        scorer_close(&sc);
        return EXIT_USAGE;
    }
    int rc = 0;
    if (sc.bank) {
        ae_server_add_bank(srv, default_name, sc.bank, key[0] ? key : NULL, 1);
        sc.bank = NULL; /* the server owns it now */
    }
    for (int i = 0; i < nbanks && !rc; i++) {
        ae_head *b = NULL;
        char name[256];
        if (ae_head_load(banks[i], &b) != AE_OK || ae_head_check_model(b, sc.model) != AE_OK) {
            cli_error("%s: %s", banks[i], ae_last_error());
            ae_head_free(b);
            rc = EXIT_USAGE;
            break;
        }
        ae_server_add_bank(srv, cli_base_name(banks[i], name, sizeof name), b, NULL, i == 0);
    }
    if (!rc && ae_server_start(srv) != AE_OK) {
        cli_error("%s", ae_last_error());
        rc = EXIT_USAGE;
    }
    if (!rc) {
        int v6 = strchr(sp.host, ':') != NULL;
        fprintf(stderr, "aesthete serve: listening on %s://%s%s%s:%d\n", sp.tls_cert ? "https" : "http", v6 ? "[" : "", sp.host, v6 ? "]" : "",
                ae_server_port(srv));
        fflush(stderr);
        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "aesthete serve: %s: finishing requests in progress\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        ae_server_stop(srv, sp.request_timeout_s + 5);
        fprintf(stderr, "aesthete serve: stopped\n");
    }
    ae_server_free(srv);
    scorer_close(&sc);
    return rc;
}
