/*
 * test_xmp.c — XMP sidecars (app/xmp.c): sidecar names in both conventions; a new sidecar
 * read back by the real tools (exiv2, exiftool: the test fails if they are missing,
 * scripts/setup.sh installs them); a darktable + Lightroom sidecar with foreign namespaces,
 * structs, arrays and language alternatives updated with every foreign property intact (exiv2's
 * listing and exempi's own iteration compared before and after); damaged sidecars left alone
 * byte for byte; dry runs; updates that change nothing write nothing; permission bits kept; a
 * writer killed with SIGKILL at random moments leaving only whole sidecars; argument bounds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <exempi/xmp.h>
#include <exempi/xmpconsts.h>

#include "aesthete.h"
#include "test.h"
#include "xmp.h"

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        CHECK_MSG(a_ && !strcmp(a_, b_), "%s = \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_); \
    } while (0)

#define CHECK_RC(expr, code)                                                               \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        CHECK_MSG(rc_ == (code), "%s = %d (%s), expected %d", #expr, rc_, rc_ ? ae_last_error() : "", code); \
    } while (0)

static void write_bytes(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static const ae_xmp_fields FIELDS = {.rating = -1, .score = 4.21f, .group = "g12",
                                     .kind = "burst", .role = "reject", .method = "ensemble"};

/* Runs argv (PATH searched), returns its stdout (NUL-terminated, caller frees) and the exit
 * status in *status: 127 when the program could not be started. */
static char *run_tool(const char *const *argv, int *status)
{
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(2); }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 2); /* exiv2's conversion warnings; a failure shows in the status */
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0, cap = 4096;
    char *out = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) out = realloc(out, cap *= 2);
        ssize_t r = read(p[0], out + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    out[n] = 0;
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return out;
}

static int have_exiv2, have_exiftool;

/* The real readers must be there: a sidecar nobody can read is worthless, so their absence
 * is a failure, not a skip. */
static void test_tools_present(void)
{
    int st;
    free(run_tool((const char *const[]){"exiv2", "--version", NULL}, &st));
    have_exiv2 = st == 0;
    CHECK_MSG(have_exiv2, "exiv2 cannot be run (exit %d); scripts/setup.sh installs it (Debian "
              "package exiv2): the sidecars are checked with it", st);
    free(run_tool((const char *const[]){"exiftool", "-ver", NULL}, &st));
    have_exiftool = st == 0;
    CHECK_MSG(have_exiftool, "exiftool cannot be run (exit %d); scripts/setup.sh installs it "
              "(Debian package libimage-exiftool-perl): the sidecars are checked with it", st);
}

/* exiv2 -px: one "key type count value" line per property. */
static char *exiv2_px(const char *path)
{
    int st;
    char *out = run_tool((const char *const[]){"exiv2", "-px", path, NULL}, &st);
    CHECK_MSG(st == 0, "exiv2 -px %s: exit %d", path, st);
    return out;
}

/* The value exiv2 prints for key ("Xmp.xmp.Rating"), or "" (static buffer). */
static const char *exiv2_value(const char *listing, const char *key)
{
    static char v[512];
    v[0] = 0;
    size_t k = strlen(key);
    for (const char *l = listing; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n > k && !strncmp(l, key, k) && l[k] == ' ') {
            /* key, type, count, value: the value starts after the third run of spaces */
            const char *p = l + k, *end = l + n;
            for (int field = 0; field < 3 && p < end; field++) {
                while (p < end && *p == ' ') p++;
                if (field < 2)
                    while (p < end && *p != ' ') p++;
            }
            snprintf(v, sizeof v, "%.*s", (int)(end - p), p);
            return v;
        }
        l += n + (e != NULL);
    }
    return v;
}

/* listing without the lines of the properties aesthete writes (caller frees). */
static char *drop_ours(const char *listing)
{
    char *out = malloc(strlen(listing) + 1), *o = out;
    for (const char *l = listing; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l + 1) : strlen(l);
        if (strncmp(l, "Xmp.xmp.Rating ", 15) && strncmp(l, "Xmp.aesthete.", 13)) {
            memcpy(o, l, n);
            o += n;
        }
        l += n;
    }
    *o = 0;
    return out;
}

/* Every node of a sidecar as exempi iterates it ("schema path value options" a line), less
 * xmp:Rating and the aesthete namespace (caller frees; NULL if it does not parse). */
static char *exempi_dump(const char *path)
{
    size_t n;
    char *data = read_file(path, &n);
    if (!data) return NULL;
    XmpPtr x = xmp_new(data, n);
    free(data);
    if (!x) return NULL;
    XmpIteratorPtr it = xmp_iterator_new(x, NULL, NULL, XMP_ITER_PROPERTIES);
    XmpStringPtr s = xmp_string_new(), p = xmp_string_new(), v = xmp_string_new();
    size_t len = 0, cap = 65536;
    char *out = malloc(cap);
    out[0] = 0;
    uint32_t opt;
    while (it && xmp_iterator_next(it, s, p, v, &opt)) {
        const char *ss = xmp_string_cstr(s), *ps = xmp_string_cstr(p), *vs = xmp_string_cstr(v);
        if (!strcmp(ss, AE_XMP_NS) || (!strcmp(ss, NS_XAP) && !strcmp(ps, "xmp:Rating"))) continue;
        size_t need = strlen(ss) + strlen(ps) + strlen(vs) + 32;
        if (len + need >= cap) out = realloc(out, cap = 2 * (len + need));
        len += (size_t)sprintf(out + len, "%s %s %s %#x\n", ss, ps, vs, opt);
    }
    if (it) xmp_iterator_free(it);
    xmp_string_free(s);
    xmp_string_free(p);
    xmp_string_free(v);
    xmp_free(x);
    return out;
}

static int count_lines_of(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Entries of dir whose name contains sub. */
static int count_entries(const char *dir, const char *sub)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, sub) != NULL;
    closedir(d);
    return n;
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_names(void)
{
    char out[64];
    static const struct {
        const char *image, *base, *ext;
    } t[] = {
        {"IMG_0012.jpg", "IMG_0012.xmp", "IMG_0012.jpg.xmp"},
        {"shoot/IMG_0012.CR2", "shoot/IMG_0012.xmp", "shoot/IMG_0012.CR2.xmp"},
        {"/abs/a.b.c/IMG.tar.gz", "/abs/a.b.c/IMG.tar.xmp", "/abs/a.b.c/IMG.tar.gz.xmp"},
        {"IMG_0012", "IMG_0012.xmp", "IMG_0012.xmp"},
        {"dots.in.folder/IMG", "dots.in.folder/IMG.xmp", "dots.in.folder/IMG.xmp"},
        {"./x/.hidden", "./x/.hidden.xmp", "./x/.hidden.xmp"},
        {"x/.hidden.jpg", "x/.hidden.xmp", "x/.hidden.jpg.xmp"},
        {"trailing.", "trailing.xmp", "trailing..xmp"},
        {"a", "a.xmp", "a.xmp"},
        {"a.xmp", "a.xmp", "a.xmp.xmp"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        CHECK_RC(ae_xmp_sidecar_path(t[i].image, AE_XMP_NAME_BASE, out, sizeof out), AE_OK);
        CHECK_STR(out, t[i].base);
        CHECK_RC(ae_xmp_sidecar_path(t[i].image, AE_XMP_NAME_EXT, out, sizeof out), AE_OK);
        CHECK_STR(out, t[i].ext);
    }
    /* no file name */
    const char *bad[] = {"", "photos/", ".", "..", "a/.", "a/.."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(out, "junk");
        CHECK_RC(ae_xmp_sidecar_path(bad[i], AE_XMP_NAME_BASE, out, sizeof out), AE_ERR_INVALID);
        CHECK_STR(out, "");
    }
    CHECK_STR_CONTAINS(ae_last_error(), "a/..: not a file name");
    /* exactly fitting, and one byte short */
    char small[13];
    CHECK_RC(ae_xmp_sidecar_path("IMG_0012.jpg", AE_XMP_NAME_BASE, small, 13), AE_OK);
    CHECK_STR(small, "IMG_0012.xmp");
    CHECK_RC(ae_xmp_sidecar_path("IMG_0012.jpg", AE_XMP_NAME_BASE, small, 12), AE_ERR_INVALID);
    CHECK_STR(small, "");
    CHECK_STR(ae_last_error(), "IMG_0012.jpg: the sidecar path is longer than 11 bytes");
    CHECK_RC(ae_xmp_sidecar_path("IMG_0012.jpg", AE_XMP_NAME_EXT, small, 13), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_sidecar_path("IMG_0012.jpg", AE_XMP_NAME_BASE, small, 1), AE_ERR_INVALID);
    char longname[5000];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    char big[4096];
    CHECK_RC(ae_xmp_sidecar_path(longname, AE_XMP_NAME_EXT, big, sizeof big), AE_ERR_INVALID);
    /* arguments */
    CHECK_RC(ae_xmp_sidecar_path(NULL, AE_XMP_NAME_BASE, out, sizeof out), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_sidecar_path("a.jpg", AE_XMP_NAME_BASE, NULL, 10), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_sidecar_path("a.jpg", AE_XMP_NAME_BASE, out, 0), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_sidecar_path("a.jpg", (ae_xmp_naming)7, out, sizeof out), AE_ERR_INVALID);
}

/* ---- a new sidecar, read by the real tools ------------------------------------------------ */

static void test_create_and_tools(void)
{
    const char *p = test_tmp("IMG_0001.xmp");
    ae_xmp_change ch = AE_XMP_UPDATED;
    char sum[256];
    ae_xmp_fields f = FIELDS;
    f.rating = 4;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_CREATED);
    CHECK_STR(sum, "new sidecar, rating 4");
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644);

    ae_xmp_info in;
    CHECK_RC(ae_xmp_read(p, &in), AE_OK);
    CHECK(in.has_rating && in.rating == 4);
    CHECK(in.has_score && in.score == 4.21f);
    CHECK_STR(in.group, "g12");
    CHECK_STR(in.kind, "burst");
    CHECK_STR(in.role, "reject");
    CHECK_STR(in.method, "ensemble");

    size_t n;
    char *raw = read_file(p, &n);
    CHECK(raw && !strstr(raw, "<?xpacket")); /* written without the packet wrapper */
    CHECK(raw && strstr(raw, "xmlns:aesthete=\"" AE_XMP_NS "\""));
    free(raw);

    if (have_exiv2) {
        char *px = exiv2_px(p);
        CHECK_STR(exiv2_value(px, "Xmp.xmp.Rating"), "4");
        CHECK_STR(exiv2_value(px, "Xmp.aesthete.Score"), "4.2100");
        CHECK_STR(exiv2_value(px, "Xmp.aesthete.Group"), "g12");
        CHECK_STR(exiv2_value(px, "Xmp.aesthete.Kind"), "burst");
        CHECK_STR(exiv2_value(px, "Xmp.aesthete.Role"), "reject");
        CHECK_STR(exiv2_value(px, "Xmp.aesthete.Method"), "ensemble");
        CHECK_EQ_INT(count_lines_of(px), 6);
        free(px);
        int s;
        char *pa = run_tool((const char *const[]){"exiv2", "-pa", p, NULL}, &s);
        CHECK_EQ_INT(s, 0);
        CHECK_STR(exiv2_value(pa, "Xmp.xmp.Rating"), "4");
        CHECK_STR(exiv2_value(pa, "Xmp.aesthete.Role"), "reject");
        free(pa);
    }
    if (have_exiftool) {
        int s;
        char *r = run_tool((const char *const[]){"exiftool", "-s3", "-XMP:Rating", p, NULL}, &s);
        CHECK_EQ_INT(s, 0);
        CHECK_STR(r, "4\n");
        free(r);
        char *x = run_tool((const char *const[]){"exiftool", "-X", p, NULL}, &s);
        CHECK_EQ_INT(s, 0);
        CHECK_STR_CONTAINS(x, "<XMP-xmp:Rating>4</XMP-xmp:Rating>");
        CHECK_STR_CONTAINS(x, "<XMP-aesthete:Score>4.2100</XMP-aesthete:Score>");
        CHECK_STR_CONTAINS(x, "<XMP-aesthete:Group>g12</XMP-aesthete:Group>");
        CHECK_STR_CONTAINS(x, "<XMP-aesthete:Kind>burst</XMP-aesthete:Kind>");
        CHECK_STR_CONTAINS(x, "<XMP-aesthete:Role>reject</XMP-aesthete:Role>");
        CHECK_STR_CONTAINS(x, "<XMP-aesthete:Method>ensemble</XMP-aesthete:Method>");
        free(x);
    }

    /* rejected (-1) reads back through the tools too; group and method removed */
    f.rating = -1;
    f.group = NULL;
    f.method = "";
    f.kind = "single";
    f.role = "single";
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UPDATED);
    CHECK_STR(sum, "rating 4 -> -1, aesthete:Role reject -> single, aesthete:Kind burst -> "
                   "single, aesthete:Group g12 -> none, aesthete:Method ensemble -> none");
    CHECK_RC(ae_xmp_read(p, &in), AE_OK);
    CHECK(in.has_rating && in.rating == -1);
    CHECK_STR(in.group, "");
    CHECK_STR(in.method, "");
    if (have_exiv2) {
        char *px = exiv2_px(p);
        CHECK_STR(exiv2_value(px, "Xmp.xmp.Rating"), "-1");
        CHECK(!strstr(px, "Xmp.aesthete.Group") && !strstr(px, "Xmp.aesthete.Method"));
        CHECK_EQ_INT(count_lines_of(px), 4);
        free(px);
    }
    if (have_exiftool) {
        int s;
        char *r = run_tool((const char *const[]){"exiftool", "-s3", "-XMP:Rating", p, NULL}, &s);
        CHECK_STR(r, "-1\n");
        free(r);
    }
    /* a new sidecar beside an image named with the darktable convention, in a folder with dots */
    char side[4096];
    mkdir(test_tmp("roll.2024.05"), 0755);
    CHECK_RC(ae_xmp_sidecar_path(test_tmp("roll.2024.05/DSC_1.NEF"), AE_XMP_NAME_EXT, side,
                                 sizeof side), AE_OK);
    f = FIELDS;
    CHECK_RC(ae_xmp_update(side, &f, 0, &ch, NULL, 0), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_CREATED);
    CHECK(exists(test_tmp("roll.2024.05/DSC_1.NEF.xmp")));
}

/* ---- a sidecar of other tools ------------------------------------------------------------- */

/* darktable 4.x writes this (trimmed), Lightroom's keywords and a studio's own namespace added */
static const char FOREIGN[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"XMP Core 4.4.0-Exiv2\">\n"
    " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
    "  <rdf:Description rdf:about=\"\"\n"
    "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
    "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
    "    xmlns:xmpMM=\"http://ns.adobe.com/xap/1.0/mm/\"\n"
    "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
    "    xmlns:lr=\"http://ns.adobe.com/lightroom/1.0/\"\n"
    "    xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\"\n"
    "    xmlns:darktable=\"http://darktable.sf.net/\"\n"
    "    xmlns:acme=\"http://ns.acme.example/studio/1.0/\"\n"
    "   exif:DateTimeOriginal=\"2024-05-01T10:11:12.34\"\n"
    "   xmp:Rating=\"3\"\n"
    "   xmp:Label=\"Red\"\n"
    "   xmpMM:DerivedFrom=\"IMG_0012.CR2\"\n"
    "   photoshop:DateCreated=\"2024-05-01T10:11:12.34+02:00\"\n"
    "   darktable:import_timestamp=\"63850000000000000\"\n"
    "   darktable:change_timestamp=\"63850000000000001\"\n"
    "   darktable:xmp_version=\"5\"\n"
    "   darktable:raw_params=\"0\"\n"
    "   darktable:auto_presets_applied=\"1\"\n"
    "   darktable:history_end=\"2\"\n"
    "   darktable:iop_order_version=\"4\">\n"
    "   <dc:title>\n"
    "    <rdf:Alt>\n"
    "     <rdf:li xml:lang=\"x-default\">Harbour at dawn</rdf:li>\n"
    "     <rdf:li xml:lang=\"en-GB\">Harbour at dawn</rdf:li>\n"
    "     <rdf:li xml:lang=\"de-DE\">Hafen im Morgengrauen</rdf:li>\n"
    "    </rdf:Alt>\n"
    "   </dc:title>\n"
    "   <dc:description>\n"
    "    <rdf:Alt>\n"
    "     <rdf:li xml:lang=\"x-default\">Boats &lt;3 &amp; nets</rdf:li>\n"
    "     <rdf:li xml:lang=\"fr-FR\">Boats &lt;3 &amp; nets</rdf:li>\n"
    "    </rdf:Alt>\n"
    "   </dc:description>\n"
    "   <dc:subject>\n"
    "    <rdf:Bag>\n"
    "     <rdf:li>harbour</rdf:li>\n"
    "     <rdf:li>dawn</rdf:li>\n"
    "     <rdf:li>boats &amp; nets</rdf:li>\n"
    "    </rdf:Bag>\n"
    "   </dc:subject>\n"
    "   <lr:hierarchicalSubject>\n"
    "    <rdf:Bag>\n"
    "     <rdf:li>places|harbour</rdf:li>\n"
    "     <rdf:li>time|dawn</rdf:li>\n"
    "    </rdf:Bag>\n"
    "   </lr:hierarchicalSubject>\n"
    "   <darktable:masks_history>\n"
    "    <rdf:Seq/>\n"
    "   </darktable:masks_history>\n"
    "   <darktable:history>\n"
    "    <rdf:Seq>\n"
    "     <rdf:li\n"
    "      darktable:num=\"0\"\n"
    "      darktable:operation=\"rawprepare\"\n"
    "      darktable:enabled=\"1\"\n"
    "      darktable:modversion=\"1\"\n"
    "      darktable:params=\"00000000000000000000000000000000ff3f0000ff3f0000\"\n"
    "      darktable:multi_name=\"\"\n"
    "      darktable:multi_priority=\"0\"\n"
    "      darktable:blendop_version=\"11\"\n"
    "      darktable:blendop_params=\"gz08eJxjYGBgYAFiCQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQQ=\"/>\n"
    "     <rdf:li\n"
    "      darktable:num=\"1\"\n"
    "      darktable:operation=\"exposure\"\n"
    "      darktable:enabled=\"1\"\n"
    "      darktable:modversion=\"6\"\n"
    "      darktable:params=\"0000000000000000000000000000803f\"\n"
    "      darktable:multi_name=\"\xc3\xa9t\xc3\xa9 1\"\n"
    "      darktable:multi_priority=\"0\"\n"
    "      darktable:blendop_version=\"11\"\n"
    "      darktable:blendop_params=\"gz08eJxjYGBgYAFiCQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQQ=\"/>\n"
    "    </rdf:Seq>\n"
    "   </darktable:history>\n"
    "   <acme:Session rdf:parseType=\"Resource\">\n"
    "    <acme:Client>Harbour Board</acme:Client>\n"
    "    <acme:Lights>\n"
    "     <rdf:Seq>\n"
    "      <rdf:li rdf:parseType=\"Resource\">\n"
    "       <acme:Model>Profoto B10</acme:Model>\n"
    "       <acme:Power>5.5</acme:Power>\n"
    "      </rdf:li>\n"
    "     </rdf:Seq>\n"
    "    </acme:Lights>\n"
    "   </acme:Session>\n"
    "  </rdf:Description>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n";

static void test_foreign(void)
{
    const char *p = test_tmp("IMG_0012.xmp");
    write_text(p, FOREIGN);
    char *px0 = have_exiv2 ? exiv2_px(p) : NULL, *dump0 = exempi_dump(p);
    CHECK(dump0 != NULL);
    if (px0) {
        CHECK_STR(exiv2_value(px0, "Xmp.xmp.Rating"), "3");
        CHECK_STR(exiv2_value(px0, "Xmp.darktable.history[2]/darktable:operation"), "exposure");
    }

    ae_xmp_change ch;
    char sum[512];
    CHECK_RC(ae_xmp_update(p, &FIELDS, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UPDATED);
    CHECK_STR(sum, "rating 3 -> -1, aesthete:Role none -> reject, aesthete:Kind none -> burst, "
                   "aesthete:Group none -> g12, aesthete:Score none -> 4.2100, aesthete:Method "
                   "none -> ensemble");

    /* every foreign property, exactly as exempi iterates it (schema, path, value, flags) */
    char *dump1 = exempi_dump(p);
    CHECK(dump1 != NULL);
    if (dump0 && dump1) {
        CHECK_MSG(!strcmp(dump0, dump1), "exempi's properties changed:\n--- before\n%s--- after\n%s",
                  dump0, dump1);
        CHECK(count_lines_of(dump0) > 60); /* the iteration saw the structs and arrays */
        CHECK_STR_CONTAINS(dump1, "dc:title[3] Hafen im Morgengrauen");
        CHECK_STR_CONTAINS(dump1, "dc:description[2] Boats <3 & nets");
        CHECK_STR_CONTAINS(dump1, "acme:Session/acme:Lights[1]/acme:Power 5.5");
    }
    /* and as exiv2 lists them: identical but for the rating and our lines */
    if (px0) {
        char *px1 = exiv2_px(p);
        CHECK_STR(exiv2_value(px1, "Xmp.xmp.Rating"), "-1");
        CHECK_STR(exiv2_value(px1, "Xmp.aesthete.Role"), "reject");
        CHECK_STR(exiv2_value(px1, "Xmp.dc.title"), "lang=\"x-default\" Harbour at dawn, "
                  "lang=\"en-GB\" Harbour at dawn, lang=\"de-DE\" Hafen im Morgengrauen");
        CHECK_STR(exiv2_value(px1, "Xmp.darktable.history[2]/darktable:multi_name"), "\xc3\xa9t\xc3\xa9 1");
        char *a = drop_ours(px0), *b = drop_ours(px1);
        CHECK_MSG(!strcmp(a, b), "exiv2 -px differs:\n--- before\n%s--- after\n%s", a, b);
        CHECK(count_lines_of(a) >= 40);
        free(a);
        free(b);
        free(px1);
    }
    if (have_exiftool) {
        int s;
        char *r = run_tool((const char *const[]){"exiftool", "-s3", "-XMP:Rating", "-XMP:Label",
                                                 "-XMP-lr:HierarchicalSubject", p, NULL}, &s);
        CHECK_STR(r, "-1\nRed\nplaces|harbour, time|dawn\n");
        free(r);
    }
    /* the same values again: nothing to do */
    CHECK_RC(ae_xmp_update(p, &FIELDS, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    CHECK_STR(sum, "unchanged");
    free(px0);
    free(dump0);
    free(dump1);

    /* another namespace already uses the prefix "aesthete": both survive, each by its URI */
    const char *q = test_tmp("clash.xmp");
    write_text(q, "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                  "1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:aesthete="
                  "\"http://other.example/aesthete/\" aesthete:Role=\"theirs\"/></rdf:RDF>"
                  "</x:xmpmeta>");
    CHECK_RC(ae_xmp_update(q, &FIELDS, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_STR(sum, "rating none -> -1, aesthete:Role none -> reject, aesthete:Kind none -> burst, "
                   "aesthete:Group none -> g12, aesthete:Score none -> 4.2100, aesthete:Method "
                   "none -> ensemble");
    ae_xmp_info in;
    CHECK_RC(ae_xmp_read(q, &in), AE_OK);
    CHECK_STR(in.role, "reject");
    char *d = exempi_dump(q);
    CHECK_STR_CONTAINS(d, "http://other.example/aesthete/ ");
    CHECK_STR_CONTAINS(d, ":Role theirs");
    free(d);

    /* a struct under one of our names (not ours to keep): replaced by the text */
    const char *r = test_tmp("struct.xmp");
    write_text(r, "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                  "1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:aesthete=\""
                  AE_XMP_NS "\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:Rating=\"3.0\" "
                  "aesthete:Score=\"4.21\"><aesthete:Group rdf:parseType=\"Resource\"><aesthete:Id>7"
                  "</aesthete:Id></aesthete:Group></rdf:Description></rdf:RDF></x:xmpmeta>");
    ae_xmp_fields f = FIELDS;
    f.rating = 3;
    CHECK_RC(ae_xmp_update(r, &f, 0, &ch, sum, sizeof sum), AE_OK);
    /* "3.0" is rating 3 and "4.21" score 4.2100: left as they are */
    CHECK_STR(sum, "aesthete:Role none -> reject, aesthete:Kind none -> burst, aesthete:Group "
                   "(not text) -> g12, aesthete:Method none -> ensemble");
    CHECK_RC(ae_xmp_read(r, &in), AE_OK);
    CHECK_STR(in.group, "g12");
    CHECK(in.has_rating && in.rating == 3 && in.has_score && in.score == 4.21f);
    if (have_exiv2) {
        char *px = exiv2_px(r);
        CHECK_STR(exiv2_value(px, "Xmp.xmp.Rating"), "3.0");
        CHECK_STR(exiv2_value(px, "Xmp.aesthete.Group"), "g12");
        free(px);
    }
}

/* ---- damaged sidecars -------------------------------------------------------------------- */

static void check_refused(const char *name, const void *bytes, size_t n, int code,
                          const char *cause)
{
    const char *p = test_tmp(name);
    write_bytes(p, bytes, n);
    struct stat st0, st1;
    stat(p, &st0);
    ae_xmp_change ch = AE_XMP_UPDATED;
    char sum[128] = "junk";
    for (int dry = 0; dry < 2; dry++) {
        CHECK_RC(ae_xmp_update(p, &FIELDS, dry, &ch, sum, sizeof sum), code);
        CHECK_MSG(!strncmp(ae_last_error(), p, strlen(p)), "%s: message \"%s\" does not start "
                  "with the file", name, ae_last_error());
        CHECK_STR_CONTAINS(ae_last_error(), cause);
        CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
        CHECK_STR(sum, "");
    }
    ae_xmp_info in;
    if (code == AE_ERR_FORMAT) CHECK_RC(ae_xmp_read(p, &in), AE_ERR_FORMAT);
    size_t m;
    char *now = read_file(p, &m);
    CHECK_MSG(now && m == n && !memcmp(now, bytes, n), "%s was modified", name);
    free(now);
    stat(p, &st1);
    CHECK(st1.st_ino == st0.st_ino && st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec &&
          st1.st_mtim.tv_sec == st0.st_mtim.tv_sec);
}

static void check_untouched(const char *name, const void *bytes, size_t n, const char *cause)
{
    check_refused(name, bytes, n, AE_ERR_FORMAT, cause);
}

static void test_corrupt(void)
{
    unsigned char rnd[3000];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)((s = s * 1103515245 + 12345) >> 24);
    check_untouched("random.xmp", rnd, sizeof rnd, ": not XMP: line 1: ");
    check_untouched("truncated.xmp", FOREIGN, sizeof FOREIGN / 2, "not XMP: line");
    check_untouched("truncated-tail.xmp", FOREIGN, sizeof FOREIGN - 8, "not XMP: line");
    const char *html = "<html><body><p>not a sidecar</p></body></html>\n";
    check_untouched("html.xmp", html, strlen(html), "not XMP: the root element is <html>");
    const char *deep = "<html><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/></html>";
    check_untouched("deep.xmp", deep, strlen(deep), "the root element is <html>");
    const char *json = "{\"rating\": 3}\n";
    check_untouched("json.xmp", json, strlen(json), "not XMP: line 1: ");
    check_untouched("empty.xmp", "", 0, "not XMP: an empty file");
    check_untouched("blank.xmp", "\n\n  \n", 5, "not XMP: line");
    const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x:xmpmeta xmlns:x="
                      "\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-"
                      "syntax-ns#\"/></x:xmpmeta>";
    check_untouched("dtd.xmp", dtd, strlen(dtd), "a DTD (<!DOCTYPE>) is not allowed");
    const char *nons = "<x:xmpmeta><rdf:RDF/></x:xmpmeta>";
    check_untouched("nons.xmp", nons, strlen(nons), "not XMP: line 1: ");
    /* well-formed XML, bad RDF: exempi refuses it (and prints its own line to stderr) */
    const char *badrdf = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                         "1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\"><foo>bar</foo>"
                         "</rdf:Description></rdf:RDF></x:xmpmeta>";
    fprintf(stderr, "(exempi prints the next line itself)\n");
    check_untouched("badrdf.xmp", badrdf, strlen(badrdf), ": not XMP: malformed RDF (exempi error 202)");
    /* Latin-1 bytes where UTF-8 is declared */
    const char *latin = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                        "1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http"
                        "://purl.org/dc/elements/1.1/\" dc:format=\"caf\xe9\"/></rdf:RDF></x:xmpmeta>";
    check_untouched("latin1.xmp", latin, strlen(latin), "not XMP: line 1: ");

    /* valid, but exempi would write its rdf:about unescaped (found by fuzz/fuzz_xmp.c) */
    const char *about = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                        "1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about='a\"b' xmlns:xmp="
                        "\"http://ns.adobe.com/xap/1.0/\" xmp:Rating=\"3\"/></rdf:RDF></x:xmpmeta>";
    check_refused("about.xmp", about, strlen(about), AE_ERR_UNSUPPORTED,
                  "about.xmp: exempi's rewrite of it would not read back (not XMP: line 3: "
                  "attributes construct error); left as it is");
    ae_xmp_info ai;
    CHECK_RC(ae_xmp_read(test_tmp("about.xmp"), &ai), AE_OK);
    CHECK(ai.has_rating && ai.rating == 3);

    /* not a regular file */
    const char *dir = test_tmp("folder.xmp");
    mkdir(dir, 0755);
    ae_xmp_change ch = AE_XMP_UPDATED;
    CHECK_RC(ae_xmp_update(dir, &FIELDS, 0, &ch, NULL, 0), AE_ERR_FORMAT);
    char want[4300];
    snprintf(want, sizeof want, "%s: not a regular file (a folder)", dir);
    CHECK_STR(ae_last_error(), want);
    CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    const char *fifo = test_tmp("fifo.xmp");
    CHECK(mkfifo(fifo, 0644) == 0);
    CHECK_RC(ae_xmp_update(fifo, &FIELDS, 0, &ch, NULL, 0), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "not a regular file (a device, pipe or socket)");
    /* a symbolic link is not replaced by a file */
    const char *target = test_tmp("target.xmp"), *link = test_tmp("link.xmp");
    CHECK_RC(ae_xmp_update(target, &FIELDS, 0, &ch, NULL, 0), AE_OK);
    CHECK(symlink(target, link) == 0);
    CHECK_RC(ae_xmp_update(link, &FIELDS, 0, &ch, NULL, 0), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "link.xmp: a symbolic link, not a sidecar file");
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    /* too large: refused from its size (a sparse file, nothing read) */
    const char *big = test_tmp("big.xmp");
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)AE_XMP_MAX_BYTES + 1) == 0);
    close(fd);
    CHECK_RC(ae_xmp_update(big, &FIELDS, 0, &ch, NULL, 0), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "big.xmp: 16777217 bytes, larger than the limit of "
                                        "16777216 bytes for a sidecar");
    CHECK(stat(big, &st) == 0 && st.st_size == (off_t)AE_XMP_MAX_BYTES + 1);
    /* unreadable (not as root, which reads anyway) */
    const char *locked = test_tmp("locked.xmp");
    CHECK_RC(ae_xmp_update(locked, &FIELDS, 0, &ch, NULL, 0), AE_OK);
    chmod(locked, 0);
    if (geteuid() != 0) {
        CHECK_RC(ae_xmp_update(locked, &FIELDS, 0, &ch, NULL, 0), AE_ERR_IO);
        CHECK_STR_CONTAINS(ae_last_error(), "locked.xmp: Permission denied");
    }
    chmod(locked, 0644);
    /* a missing folder: nothing to read, and writing fails with the cause */
    const char *nowhere = test_tmp("no/such/folder/a.xmp");
    CHECK_RC(ae_xmp_update(nowhere, &FIELDS, 0, &ch, NULL, 0), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "a.xmp: cannot write: No such file or directory");
    CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    ae_xmp_info in;
    CHECK_RC(ae_xmp_read(test_tmp("absent.xmp"), &in), AE_ERR_NOT_FOUND);
    /* no temporary file left behind by any of it */
    CHECK_EQ_INT(count_entries(test_tmpdir(), ".tmp."), 0);
}

/* A language alternative of x-default and one language with different texts: exempi would
 * give both the x-default text, so the sidecar is refused; with equal texts, or a third item,
 * nothing is lost and it is updated. */
static void test_lang_alt(void)
{
    static const char head[] =
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/"
        "22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/"
        "elements/1.1/\"><dc:title><rdf:Alt>";
    static const char tail[] = "</rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>";
    static const struct {
        const char *items;
        int rc;
    } t[] = {
        {"<rdf:li xml:lang=\"x-default\">Harbour</rdf:li><rdf:li xml:lang=\"de-DE\">Hafen</rdf:li>",
         AE_ERR_UNSUPPORTED},
        {"<rdf:li xml:lang=\"de-DE\">Hafen</rdf:li><rdf:li xml:lang=\"X-Default\">Harbour</rdf:li>",
         AE_ERR_UNSUPPORTED},
        {"<rdf:li xml:lang=\"x-default\">Harbour</rdf:li><rdf:li xml:lang=\"de-DE\"/>",
         AE_ERR_UNSUPPORTED},
        {"<rdf:li xml:lang=\"x-default\">Harbour</rdf:li><rdf:li xml:lang=\"en-GB\">Harbour</rdf:li>",
         AE_OK},
        {"<rdf:li xml:lang=\"x-default\">Harbour</rdf:li><rdf:li xml:lang=\"en-GB\">Harbour</rdf:li>"
         "<rdf:li xml:lang=\"de-DE\">Hafen</rdf:li>", AE_OK},
        {"<rdf:li xml:lang=\"en-GB\">Harbour</rdf:li><rdf:li xml:lang=\"de-DE\">Hafen</rdf:li>",
         AE_OK},
        {"<rdf:li xml:lang=\"x-default\">Harbour</rdf:li>", AE_OK},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char name[32], doc[1024];
        snprintf(name, sizeof name, "alt%zu.xmp", i);
        snprintf(doc, sizeof doc, "%s%s%s", head, t[i].items, tail);
        const char *p = test_tmp(name);
        write_text(p, doc);
        ae_xmp_change ch;
        CHECK_RC(ae_xmp_update(p, &FIELDS, 0, &ch, NULL, 0), t[i].rc);
        size_t n;
        char *now = read_file(p, &n);
        if (t[i].rc) {
            CHECK(now && !strcmp(now, doc));
            CHECK_STR_CONTAINS(ae_last_error(), "dc:title: its x-default and de-DE texts differ, "
                               "and exempi would overwrite the de-DE one with x-default's; left "
                               "as it is");
            ae_xmp_info in;
            CHECK_RC(ae_xmp_read(p, &in), AE_OK); /* reading is harmless */
        } else if (have_exiv2) {
            char *before = malloc(strlen(doc) + 1);
            strcpy(before, doc);
            const char *q = test_tmp("alt-before.xmp");
            write_text(q, before);
            char *a = exiv2_px(q), *b = exiv2_px(p);
            CHECK_STR(exiv2_value(b, "Xmp.dc.title"), exiv2_value(a, "Xmp.dc.title"));
            free(a);
            free(b);
            free(before);
        }
        free(now);
    }
}

/* ---- dry runs and updates that change nothing --------------------------------------------- */

static void test_dry_run(void)
{
    const char *p = test_tmp("dry.xmp");
    ae_xmp_change ch;
    char sum[256];
    CHECK_RC(ae_xmp_update(p, &FIELDS, 1, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_CREATED);
    CHECK_STR(sum, "new sidecar, rating -1");
    CHECK(!exists(p));

    write_text(p, FOREIGN);
    struct stat st0, st1;
    stat(p, &st0);
    ae_xmp_fields f = FIELDS;
    f.rating = 5;
    CHECK_RC(ae_xmp_update(p, &f, 1, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UPDATED);
    CHECK_STR_CONTAINS(sum, "rating 3 -> 5, aesthete:Role none -> reject");
    size_t n;
    char *now = read_file(p, &n);
    CHECK(now && n == strlen(FOREIGN) && !memcmp(now, FOREIGN, n));
    free(now);
    stat(p, &st1);
    CHECK(st1.st_ino == st0.st_ino && st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec);

    /* the real run says the same, then a dry one finds nothing to do */
    char sum2[256];
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum2, sizeof sum2), AE_OK);
    CHECK_STR(sum2, sum);
    CHECK_RC(ae_xmp_update(p, &f, 1, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    CHECK_STR(sum, "unchanged");
    CHECK_EQ_INT(count_entries(test_tmpdir(), ".tmp."), 0);
}

static void test_unchanged(void)
{
    const char *p = test_tmp("same.xmp");
    ae_xmp_change ch;
    char sum[64];
    CHECK_RC(ae_xmp_update(p, &FIELDS, 0, &ch, sum, sizeof sum), AE_OK);
    struct stat st0, st1;
    stat(p, &st0);
    struct timespec pause = {0, 20 * 1000 * 1000}; /* past the file system's time granularity */
    nanosleep(&pause, NULL);
    CHECK_RC(ae_xmp_update(p, &FIELDS, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    CHECK_STR(sum, "unchanged");
    stat(p, &st1);
    CHECK(st1.st_ino == st0.st_ino);
    CHECK(st1.st_mtim.tv_sec == st0.st_mtim.tv_sec && st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec);
    /* a score that formats alike is the same score */
    ae_xmp_fields f = FIELDS;
    f.score = 4.21001f;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    /* a change rewrites it (a new inode: the rename) */
    f.score = 4.3f;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UPDATED);
    CHECK_STR(sum, "aesthete:Score 4.2100 -> 4.3000");
    stat(p, &st1);
    CHECK(st1.st_ino != st0.st_ino);
    /* the summary is cut to its buffer, at a character boundary */
    char tiny[8];
    f.score = 1;
    CHECK_RC(ae_xmp_update(p, &f, 1, &ch, tiny, sizeof tiny), AE_OK);
    CHECK_STR(tiny, "aesthet");
    const char *q = test_tmp("utf.xmp");
    write_text(q, "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                  "1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:xmp=\"http:"
                  "//ns.adobe.com/xap/1.0/\" xmp:Rating=\"\xc3\xa9\xc3\xa9\"/></rdf:RDF></x:xmpmeta>");
    char cut[11]; /* "rating éé": 'rating ' 7 bytes, then 2 + 2 */
    CHECK_RC(ae_xmp_update(q, &FIELDS, 1, &ch, cut, sizeof cut), AE_OK);
    CHECK_STR(cut, "rating \xc3\xa9");
}

/* An existing sidecar keeps its permission bits. */
static void test_mode(void)
{
    const char *p = test_tmp("mode.xmp");
    write_text(p, FOREIGN);
    chmod(p, 0600);
    ae_xmp_change ch;
    CHECK_RC(ae_xmp_update(p, &FIELDS, 0, &ch, NULL, 0), AE_OK);
    CHECK_EQ_INT(ch, AE_XMP_UPDATED);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
    chmod(p, 0664);
    ae_xmp_fields f = FIELDS;
    f.rating = 2;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, NULL, 0), AE_OK);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0664);
}

/* ---- kill -9 ----------------------------------------------------------------------------- */

#define KILL_FILES 6
#define KILL_ROUNDS 12

static void test_kill(void)
{
    char dir[4200], path[KILL_FILES][4300];
    snprintf(dir, sizeof dir, "%s/killed", test_tmpdir());
    mkdir(dir, 0755);
    ae_xmp_fields f = FIELDS;
    f.rating = 1;
    for (int i = 0; i < KILL_FILES; i++) {
        snprintf(path[i], sizeof path[i], "%s/IMG_%04d.xmp", dir, i);
        if (i == 0) write_text(path[i], FOREIGN); /* one with foreign content, rating 3 */
        CHECK_RC(ae_xmp_update(path[i], &f, 0, NULL, NULL, 0), AE_OK);
    }
    char *dump0 = exempi_dump(path[0]);
    srand(20240501);
    int stale = 0, bad = 0;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            ae_xmp_fields g = FIELDS;
            for (int it = 1;; it++)
                for (int i = 0; i < KILL_FILES; i++) {
                    g.rating = it % 2 ? 2 : 1;
                    g.score = (float)(it % 7);
                    if (ae_xmp_update(path[i], &g, 0, NULL, NULL, 0) != AE_OK) _exit(1);
                }
        }
        struct timespec t = {0, (long)(2000 + rand() % 40000) * 1000};
        nanosleep(&t, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "round %d: the writer ended by "
                  "itself (status %#x)", round, st);
        for (int i = 0; i < KILL_FILES; i++) {
            ae_xmp_info in;
            int rc = ae_xmp_read(path[i], &in);
            if (rc != AE_OK || !in.has_rating || (in.rating != 1 && in.rating != 2) ||
                strcmp(in.role, "reject")) {
                bad++;
                CHECK_MSG(0, "round %d: %s: rc %d (%s), rating %d", round, path[i], rc,
                          rc ? ae_last_error() : "", in.rating);
            }
        }
        /* only the sidecars end in .xmp; anything else is a clearly named temporary file */
        DIR *d = opendir(dir);
        int odd = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            size_t n = strlen(e->d_name);
            int side = n == 12 && !strncmp(e->d_name, "IMG_", 4) && !strcmp(e->d_name + 8, ".xmp");
            int tmp = strstr(e->d_name, ".xmp.tmp.") && strcmp(e->d_name + n - 4, ".xmp");
            if (!side && !tmp) {
                odd++;
                fprintf(stderr, "round %d: unexpected file %s\n", round, e->d_name);
            }
            if (round == KILL_ROUNDS - 1) stale += tmp;
        }
        if (d) closedir(d);
        CHECK_EQ_INT(odd, 0);
    }
    CHECK_EQ_INT(bad, 0);
    /* the foreign properties came through every rewrite and kill */
    char *dump1 = exempi_dump(path[0]);
    CHECK(dump0 && dump1 && !strcmp(dump0, dump1));
    free(dump0);
    free(dump1);
    if (have_exiv2)
        for (int i = 0; i < KILL_FILES; i++) {
            char *px = exiv2_px(path[i]);
            const char *r = exiv2_value(px, "Xmp.xmp.Rating");
            CHECK_MSG(!strcmp(r, "1") || !strcmp(r, "2"), "%s: exiv2 reads rating \"%s\"", path[i], r);
            free(px);
        }
    printf("kill -9: %d rounds, %d stale temporary files left by killed writers\n", KILL_ROUNDS,
           stale);
}

/* ---- arguments --------------------------------------------------------------------------- */

static void test_bounds(void)
{
    const char *p = test_tmp("bounds.xmp");
    ae_xmp_change ch;
    char sum[64];
    for (int r = -1; r <= 5; r++) {
        ae_xmp_fields f = FIELDS;
        f.rating = r;
        CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_OK);
        ae_xmp_info in;
        CHECK_RC(ae_xmp_read(p, &in), AE_OK);
        CHECK(in.has_rating && in.rating == r);
    }
    struct {
        ae_xmp_fields f;
        const char *msg;
    } bad[] = {
        {{.rating = -2, .kind = "near", .role = "keep"}, "bounds.xmp: rating -2 is outside -1..5"},
        {{.rating = 6}, "rating 6 is outside -1..5"},
        {{.rating = INT32_MIN}, "is outside -1..5"},
        {{.rating = 1, .score = NAN}, "the score is not a finite number"},
        {{.rating = 1, .score = INFINITY}, "the score is not a finite number"},
        {{.rating = 1, .kind = "maybe"}, "kind must be exact, near, burst or single"},
        {{.rating = 1, .kind = ""}, "kind must be"},
        {{.rating = 1, .role = "Keep"}, "role must be keep, reject or single"},
        {{.rating = 1, .group = "g\n1"}, "the group is not UTF-8 text without control characters"},
        {{.rating = 1, .method = "caf\xe9"}, "the method is not UTF-8 text"},
        {{.rating = 1, .method = "\xc0\xaf"}, "the method is not UTF-8 text"}, /* overlong '/' */
        {{.rating = 1, .group = "\xed\xa0\x80"}, "the group is not UTF-8 text"}, /* a surrogate */
    };
    size_t n;
    char *before = read_file(p, &n);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ch = AE_XMP_UPDATED;
        CHECK_RC(ae_xmp_update(p, &bad[i].f, 0, &ch, sum, sizeof sum), AE_ERR_INVALID);
        CHECK_STR_CONTAINS(ae_last_error(), bad[i].msg);
        CHECK_EQ_INT(ch, AE_XMP_UNCHANGED);
    }
    char longer[AE_XMP_MAX_TEXT + 1];
    memset(longer, 'g', AE_XMP_MAX_TEXT);
    longer[AE_XMP_MAX_TEXT] = 0;
    ae_xmp_fields f = FIELDS;
    f.group = longer;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "the group is longer than 255 bytes");
    longer[AE_XMP_MAX_TEXT - 1] = 0; /* 255 bytes: fits, and reads back whole */
    f.method = "\xe6\x97\xa5\xe6\x9c\xac head"; /* UTF-8 is fine */
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, sum, sizeof sum), AE_OK);
    ae_xmp_info in;
    CHECK_RC(ae_xmp_read(p, &in), AE_OK);
    CHECK_STR(in.group, longer);
    CHECK_STR(in.method, f.method);
    f = FIELDS;
    f.rating = 5;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, NULL, 0), AE_OK); /* back to where it was */
    char *after = read_file(p, &n);
    CHECK(before && after && !strcmp(before, after));
    free(before);
    free(after);
    /* NULLs */
    CHECK_RC(ae_xmp_update(NULL, &FIELDS, 0, &ch, sum, sizeof sum), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_update("", &FIELDS, 0, &ch, sum, sizeof sum), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_update(p, NULL, 0, &ch, sum, sizeof sum), AE_ERR_INVALID);
    CHECK_STR(ae_last_error(), "ae_xmp_update: NULL argument");
    CHECK_RC(ae_xmp_read(NULL, &in), AE_ERR_INVALID);
    CHECK_RC(ae_xmp_read(p, NULL), AE_ERR_INVALID);
    /* change and summary may be NULL; a kind and role of NULL are removed */
    f.kind = NULL;
    f.role = NULL;
    CHECK_RC(ae_xmp_update(p, &f, 0, NULL, NULL, 0), AE_OK);
    CHECK_RC(ae_xmp_read(p, &in), AE_OK);
    CHECK_STR(in.kind, "");
    CHECK_STR(in.role, "");
    CHECK_STR(in.group, "g12");
    /* a summary buffer of 0 bytes is not touched */
    char one = 'x';
    f.rating = 0;
    CHECK_RC(ae_xmp_update(p, &f, 0, &ch, &one, 0), AE_OK);
    CHECK(one == 'x');
}

int main(void)
{
    test_tools_present();
    test_names();
    test_create_and_tools();
    test_foreign();
    test_corrupt();
    test_lang_alt();
    test_dry_run();
    test_unchanged();
    test_mode();
    test_bounds();
    test_kill();
    return test_summary();
}
