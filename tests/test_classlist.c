/*
 * test_classlist.c — class lists (app/classlist*.c): the built-in ImageNet list, the hotel
 * examples, TXT/CSV/TSV fixtures in tests/data/classlists, XLSX workbooks built here with
 * libzip (rich text, inline strings, numbers, formulas, broken indexes, DTDs), a zip bomb
 * written byte by byte with zlib whose header lies, and every limit. Names and messages are
 * compared exactly.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zip.h>
#include <zlib.h>

#include "classlist.h"
#include "csv.h"
#include "hash.h"
#include "run.h"
#include "test.h"

/* <repo>/<rel>, from this file's path (CMake compiles it by absolute path). */
static const char *repo(const char *rel)
{
    static char buf[4][4096];
    static int slot;
    char *b = buf[slot++ & 3];
    const char *f = __FILE__, *s = strstr(f, "tests/test_classlist.c");
    snprintf(b, sizeof buf[0], "%.*s%s", (int)(s ? s - f : 0), f, rel);
    return b;
}

static void write_bytes(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

/* Checks that the list holds exactly the n names in want. */
static void check_names(const ae_classlist *cl, const char *const *want, int n, int line)
{
    CHECK_MSG(cl->n == n, "line %d: %d names, expected %d", line, cl->n, n);
    for (int i = 0; i < n && i < cl->n; i++)
        CHECK_MSG(!strcmp(cl->names[i], want[i]), "line %d: name %d = \"%s\", expected \"%s\"",
                  line, i, cl->names[i], want[i]);
}
#define CHECK_NAMES(cl, ...)                                                               \
    do {                                                                                   \
        static const char *const w_[] = {__VA_ARGS__};                                     \
        check_names(cl, w_, (int)(sizeof w_ / sizeof *w_), __LINE__);                      \
    } while (0)

#define CHECK_ERR(expr, code, msg)                                                         \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        CHECK_MSG(rc_ == (code), "%s = %d (%s), expected %d", #expr, rc_, ae_last_error(), code); \
        CHECK_MSG(!strcmp(ae_last_error(), msg), "message \"%s\"\n      expected \"%s\"",      \
                  ae_last_error(), msg);                                                   \
    } while (0)

static int parse_str(const char *s, const char *name, const ae_classlist_params *p,
                     ae_classlist *cl)
{
    return ae_classlist_parse(s, strlen(s), name, p, cl);
}

/* ---- built-in and examples --------------------------------------------------------------- */

static void test_imagenet(void)
{
    ae_classlist cl;
    CHECK_EQ_INT(ae_classlist_imagenet(&cl), AE_OK);
    CHECK_EQ_INT(cl.n, 1000);
    CHECK(!strcmp(cl.names[0], "tench"));
    CHECK(!strcmp(cl.names[1], "goldfish"));
    CHECK(!strcmp(cl.names[2], "great white shark"));
    CHECK(!strcmp(cl.names[381], "Geoffroy's spider monkey"));
    CHECK(!strcmp(cl.names[657], "missile") && !strcmp(cl.names[744], "missile"));
    CHECK(!strcmp(cl.names[836], "sunglasses") && !strcmp(cl.names[837], "sunglasses"));
    CHECK(!strcmp(cl.names[999], "toilet paper"));
    /* byte for byte the list of the hand-kept array (app/imagenet_classes.c) that the
     * embedded data/imagenet_classes.txt replaced: its names, one per line, hashed before the
     * change */
    ae_sha256 h;
    ae_sha256_init(&h);
    for (int i = 0; i < cl.n; i++) {
        ae_sha256_update(&h, cl.names[i], strlen(cl.names[i]));
        ae_sha256_update(&h, "\n", 1);
    }
    uint8_t dig[32];
    char hex[65];
    ae_sha256_final(&h, dig);
    ae_sha256_tohex(dig, hex);
    CHECK_MSG(!strcmp(hex, "8800e39242cbed4c6889376e20a49cfdaf4f84a773a6686d15c3b39972ef94c4"),
              "sha256 of the list %s", hex);
    /* the embedded list equals both the shipped data file and the golden fixture */
    const char *files[] = {repo("data/imagenet_classes.txt"), fixture("tokenizer/imagenet_classes.txt")};
    for (int f = 0; f < 2; f++) {
        size_t n;
        char *txt = read_file(files[f], &n);
        CHECK_MSG(txt != NULL, "cannot read %s", files[f]);
        if (!txt) continue;
        int i = 0, bad = 0;
        for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n"), i++)
            bad += i >= 1000 || strcmp(line, cl.names[i]) != 0;
        CHECK_EQ_INT(i, 1000);
        CHECK_EQ_INT(bad, 0);
        free(txt);
    }
    ae_classlist_free(&cl);
    CHECK(cl.n == 0 && cl.names == NULL);
    ae_classlist_free(&cl); /* twice is fine */

    /* the same file loaded as a user list is de-duplicated ... */
    CHECK_EQ_INT(ae_classlist_load(repo("data/imagenet_classes.txt"), NULL, &cl), AE_OK);
    CHECK_EQ_INT(cl.n, 998);
    CHECK(cl.n == 998 && !strcmp(cl.names[997], "toilet paper") && !strcmp(cl.names[744], "projector"));
    ae_classlist_free(&cl);
    /* ... unless asked to keep duplicates */
    ae_classlist_params p = ae_classlist_default_params();
    p.keep_duplicates = 1;
    CHECK_EQ_INT(ae_classlist_load(repo("data/imagenet_classes.txt"), &p, &cl), AE_OK);
    CHECK_EQ_INT(cl.n, 1000);
    CHECK(cl.n == 1000 && !strcmp(cl.names[744], "missile"));
    ae_classlist_free(&cl);
}

static void test_hotel_examples(void)
{
    ae_classlist txt, csv, xlsx, xa;
    CHECK_EQ_INT(ae_classlist_load(repo("examples/hotel_classes.txt"), NULL, &txt), AE_OK);
    CHECK_EQ_INT(txt.n, 103);
    CHECK(txt.n == 103 && !strcmp(txt.names[0], "lobby") && !strcmp(txt.names[2], "king bed suite") &&
          !strcmp(txt.names[101], "King-Size Bed") &&
          !strcmp(txt.names[102], "Deluxe Double Room (Sea View)"));
    ae_classlist_params p = ae_classlist_default_params();
    p.column = "Col_Names";
    CHECK_EQ_INT(ae_classlist_load(repo("examples/hotel_classes.csv"), &p, &csv), AE_OK);
    CHECK_EQ_INT(ae_classlist_load(repo("examples/hotel_classes.xlsx"), &p, &xlsx), AE_OK);
    int same_csv = csv.n == txt.n, same_xlsx = xlsx.n == txt.n;
    for (int i = 0; i < txt.n && same_csv; i++) same_csv = !strcmp(csv.names[i], txt.names[i]);
    for (int i = 0; i < txt.n && same_xlsx; i++) same_xlsx = !strcmp(xlsx.names[i], txt.names[i]);
    CHECK(same_csv);
    CHECK(same_xlsx);
    CHECK(!strcmp(csv.column, "Col_Names") && !strcmp(xlsx.column, "Col_Names") && !txt.column[0]);
    ae_classlist_free(&csv);
    ae_classlist_free(&xlsx);
    /* without a column: the same names. The XLSX has pandas' index first (an empty header
       cell above 0..102), the CSV an "id" column (1..103) under a header row: both are seen
       as a header row and an index column, and Col_Names is the one column of text left */
    const char *shipped[] = {"examples/hotel_classes.xlsx", "examples/hotel_classes.csv"};
    for (int f = 0; f < 2; f++) {
        CHECK_EQ_INT(ae_classlist_load(repo(shipped[f]), NULL, &xa), AE_OK);
        int same = xa.n == txt.n;
        for (int i = 0; i < txt.n && same; i++) same = !strcmp(xa.names[i], txt.names[i]);
        CHECK_MSG(same, "%s without --column: %d names, the first \"%s\"", shipped[f], xa.n,
                  xa.n ? xa.names[0] : "");
        CHECK_MSG(!strcmp(xa.column, "Col_Names"), "%s: column '%s'", shipped[f], xa.column);
        ae_classlist_free(&xa);
    }
    ae_classlist_free(&txt);
}

/* ---- text formats -------------------------------------------------------------------------- */

static void test_txt(void)
{
    ae_classlist cl;
    /* BOM, CRLF, a lone CR, blank and NBSP-only lines, inner runs of spaces and tabs, a
     * duplicate, an ideographic space, and "Lobby" (case differs: kept) without a final EOL */
    CHECK_EQ_INT(ae_classlist_load(repo("tests/data/classlists/bom_crlf.txt"), NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby", "infinity pool", "king bed suite", "caf\xc3\xa9 terrace", "sauna",
                "\xe6\x9d\xb1\xe4\xba\xac tower view", "Lobby");
    ae_classlist_free(&cl);

    /* commas and quotes in a .txt are literal */
    CHECK_EQ_INT(parse_str("hot dog, hotdog, red hot\n\"quoted\"\n", "a.txt", NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "hot dog, hotdog, red hot", "\"quoted\"");
    ae_classlist_free(&cl);

    /* an unknown extension without tabs is a text list too */
    CHECK_EQ_INT(parse_str("a,b\nc\n", "upload", NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "a,b", "c");
    ae_classlist_free(&cl);

    /* NULL name: "classes" */
    CHECK_ERR(parse_str(" \n\t\r\n", NULL, NULL, &cl), AE_ERR_INVALID,
              "classes: no class names (only blank lines)");
    CHECK(cl.n == 0 && cl.names == NULL);
    CHECK_ERR(ae_classlist_parse("", 0, "classes.txt", NULL, &cl), AE_ERR_INVALID,
              "classes.txt: no class names (the file is empty)");

    ae_classlist_params p = ae_classlist_default_params();
    p.column = "name";
    CHECK_ERR(parse_str("a\n", "classes.txt", &p, &cl), AE_ERR_INVALID,
              "classes.txt: a text list has one class per line and no columns or header; use a "
              ".csv, .tsv or .xlsx file to pick a column");

    /* from_strings: the same rules */
    const char *arr[] = {"  Lobby ", NULL, "", "Lobby", "spa\tarea"};
    CHECK_EQ_INT(ae_classlist_from_strings(arr, 5, "--class", NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "Lobby", "spa area");
    ae_classlist_free(&cl);
    const char *bad[] = {"ok", "caf\xe9"};
    CHECK_ERR(ae_classlist_from_strings(bad, 2, "--class", NULL, &cl), AE_ERR_FORMAT,
              "--class: entry 2: invalid UTF-8 (byte 0xe9 after \"caf\"); save the file as UTF-8");
}

static void test_csv(void)
{
    ae_classlist cl;
    ae_classlist_params p = ae_classlist_default_params();
    p.column = "col_names"; /* matches "Col_Names" ignoring case */
    CHECK_EQ_INT(ae_classlist_load(repo("tests/data/classlists/quoted.csv"), &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "pool, outdoor", "king bed suite", "the \"best\" view", "lobby", "spa");
    CHECK_MSG(!strcmp(cl.column, "Col_Names"), "column '%s'", cl.column); /* as in the file */
    ae_classlist_free(&cl);

    /* no column: "id" (1..7) is an index, and two columns of text are left: refused, with
       header = 1 too (the header row is known then, the column is still chosen) */
    char two[4200];
    snprintf(two, sizeof two, "%s: 2 columns could be the class names: 'Col_Names' (column B), "
             "'kind' (column C); choose one with --column NAME", repo("tests/data/classlists/quoted.csv"));
    CHECK_ERR(ae_classlist_load(repo("tests/data/classlists/quoted.csv"), NULL, &cl), AE_ERR_INVALID, two);
    CHECK(cl.n == 0 && cl.names == NULL && !cl.column[0]);
    ae_classlist_params h = ae_classlist_default_params();
    h.header = 1;
    CHECK_ERR(ae_classlist_load(repo("tests/data/classlists/quoted.csv"), &h, &cl), AE_ERR_INVALID, two);

    /* the third column; an exact match wins over an earlier case-insensitive one */
    p.column = "kind";
    CHECK_EQ_INT(parse_str("KIND,kind\nx,room\ny,room\nz,view\n", "k.csv", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "room", "view");
    ae_classlist_free(&cl);

    /* TSV with a quoted tab; the header is named */
    p.column = "name";
    CHECK_EQ_INT(ae_classlist_load(repo("tests/data/classlists/rooms.tsv"), &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby", "bar lounge", "rooftop terrace");
    ae_classlist_free(&cl);
    /* an unknown extension with a tab on the first line is TSV */
    CHECK_EQ_INT(parse_str("\nname\tfloor\nspa\t-1\n", "upload", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "spa");
    ae_classlist_free(&cl);

    /* European Excel: ';' sniffed, ',' inside a value */
    p.column = "Col_Names";
    CHECK_EQ_INT(ae_classlist_load(repo("tests/data/classlists/semicolon.csv"), &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "Zimmer; Meerblick", "Sauna");
    ae_classlist_free(&cl);
    p.column = "Preis";
    CHECK_EQ_INT(ae_classlist_load(repo("tests/data/classlists/semicolon.csv"), &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "120,50", "0");
    ae_classlist_free(&cl);

    /* text after a closing quote is kept; a short row has no value; a lone CR ends a record;
     * the header is the first non-blank row */
    p.column = "n";
    CHECK_EQ_INT(parse_str(",\n\nid,n\n1,\"a\"b\n2\r3,c\n4,\"\"\n", "x.csv", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "ab", "c");
    ae_classlist_free(&cl);

    /* Excel's "CSV UTF-8": a BOM right before the header */
    p.column = "Col_Names";
    CHECK_EQ_INT(parse_str("\xef\xbb\xbf" "Col_Names,x\r\nlobby,1\r\n", "excel.csv", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby");
    ae_classlist_free(&cl);

    CHECK_ERR(parse_str("name,kind\nlobby,room\n", "classes.csv", &p, &cl), AE_ERR_NOT_FOUND,
              "classes.csv: column 'Col_Names' not found (columns: name, kind)");
    CHECK_ERR(parse_str("\n\nCol_Names,x\n,1\n  ,2\n", "classes.csv", &p, &cl), AE_ERR_INVALID,
              "classes.csv: no class names (column 'Col_Names' is empty)");
    CHECK_ERR(parse_str(",,\n\n", "classes.csv", &p, &cl), AE_ERR_INVALID,
              "classes.csv: no class names (no header row)");
    CHECK_ERR(parse_str("Col_Names\nlobby\n\"spa\nsauna\n", "classes.csv", &p, &cl), AE_ERR_FORMAT,
              "classes.csv: line 3: unterminated quoted field");
    /* a line number after a quoted line break */
    CHECK_ERR(parse_str("Col_Names\n\"a\nb\"\nc\x01\n", "classes.csv", &p, &cl), AE_ERR_FORMAT,
              "classes.csv: line 4: control character U+0001 after \"c\"");
    char want[4096];
    snprintf(want, sizeof want, "%s: line 3: invalid UTF-8 (byte 0xe9 after \"caf\"); save the "
             "file as UTF-8", repo("tests/data/classlists/latin1.csv"));
    CHECK_ERR(ae_classlist_load(repo("tests/data/classlists/latin1.csv"), &p, &cl), AE_ERR_FORMAT,
              want);
}

static void test_binary_and_encodings(void)
{
    ae_classlist cl;
    CHECK_ERR(ae_classlist_parse("lobby\nspa\0\x01\x02", 12, "classes.bin", NULL, &cl),
              AE_ERR_FORMAT, "classes.bin: not a text file (NUL byte at offset 9)");
    /* UTF-16 LE with a BOM (Excel's "Unicode Text"): tab-separated */
    static const char u16[] = "\xff\xfe" "N\0a\0m\0e\0\t\0k\0\n\0" "S\0p\0a\0\t\0x\0\n\0"
                              "\x3d\xd8\x08\xde\t\0y\0\n\0"; /* U+1F608 */
    ae_classlist_params p = ae_classlist_default_params();
    p.column = "name";
    CHECK_EQ_INT(ae_classlist_parse(u16, sizeof u16 - 1, "rooms.txt.tsv", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "Spa", "\xf0\x9f\x98\x88");
    ae_classlist_free(&cl);
    CHECK_ERR(ae_classlist_parse("\xff\xfe" "a\0\x00\xdc", 6, "u.txt", NULL, &cl), AE_ERR_FORMAT,
              "u.txt: invalid UTF-16 (unpaired surrogate at byte 4)");
    CHECK_ERR(ae_classlist_parse("a\0b\0", 4, "u.txt", NULL, &cl), AE_ERR_FORMAT,
              "u.txt: not a text file (NUL byte at offset 1; UTF-16 text needs a byte order mark)");
    /* overlong, surrogate, and a truncated sequence at the end of a line */
    CHECK_ERR(parse_str("ok\n\xc0\xaf\n", "c.txt", NULL, &cl), AE_ERR_FORMAT,
              "c.txt: line 2: invalid UTF-8 (byte 0xc0 after \"\"); save the file as UTF-8");
    CHECK_ERR(parse_str("abc \xed\xa0\x80", "c.txt", NULL, &cl), AE_ERR_FORMAT,
              "c.txt: line 1: invalid UTF-8 (byte 0xed after \"abc \"); save the file as UTF-8");
    CHECK_ERR(parse_str("a\tb\n\n\xe2\x82\n", "c.txt", NULL, &cl), AE_ERR_FORMAT,
              "c.txt: line 3: invalid UTF-8 (byte 0xe2 after \"\"); save the file as UTF-8");
    CHECK_ERR(parse_str("esc\x1b[0m\n", "c.txt", NULL, &cl), AE_ERR_FORMAT,
              "c.txt: line 1: control character U+001B after \"esc\"");
    CHECK_ERR(parse_str("a\n", "rooms.xlsx", NULL, &cl), AE_ERR_FORMAT,
              "rooms.xlsx: not an XLSX file (no zip signature)");
    CHECK_ERR(ae_classlist_parse("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0", 10, "rooms.xls", NULL, &cl),
              AE_ERR_UNSUPPORTED, "rooms.xls: legacy Excel .xls or password-protected workbook "
              "(an OLE2 file) is not supported; save it as .xlsx or .csv");
}

static void test_limits(void)
{
    ae_classlist cl;
    ae_classlist_params p = ae_classlist_default_params();
    /* a one-megabyte line */
    size_t big = 1 << 20;
    char *s = malloc(big + 16);
    memcpy(s, "lobby\nspa\n", 10);
    memset(s + 10, 'x', big);
    memcpy(s + 10 + big, "\nbar\n", 6);
    CHECK_ERR(ae_classlist_parse(s, big + 15, "classes.txt", NULL, &cl), AE_ERR_TOO_LARGE,
              "classes.txt: line 3: class name of 1048576 bytes, longer than the limit of 4096 bytes");
    free(s);
    p.max_name_bytes = 5;
    CHECK_EQ_INT(parse_str("  abcde  \n", "c.txt", &p, &cl), AE_OK); /* trimmed: 5 bytes */
    ae_classlist_free(&cl);
    CHECK_ERR(parse_str("abcde\nab  cdef\n", "c.txt", &p, &cl), AE_ERR_TOO_LARGE,
              "c.txt: line 2: class name of 7 bytes, longer than the limit of 5 bytes");

    /* more names than max_classes; duplicates do not count */
    p = ae_classlist_default_params();
    p.max_classes = 3;
    CHECK_EQ_INT(parse_str("a\nb\na\nb\nc\nc\n", "c.txt", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "a", "b", "c");
    ae_classlist_free(&cl);
    CHECK_ERR(parse_str("a\nb\na\nb\nc\nc\nd\n", "c.txt", &p, &cl), AE_ERR_TOO_LARGE,
              "c.txt: line 7: more than 3 class names (the limit)");
    /* the default: 100000 */
    size_t cap = 100001 * 8, n = 0;
    s = malloc(cap);
    for (int i = 0; i <= 100000; i++) n += (size_t)snprintf(s + n, cap - n, "c%d\n", i);
    CHECK_ERR(ae_classlist_parse(s, n, "many.txt", NULL, &cl), AE_ERR_TOO_LARGE,
              "many.txt: line 100001: more than 100000 class names (the limit)");
    CHECK_EQ_INT(ae_classlist_parse(s, n - 8, "many.txt", NULL, &cl), AE_OK); /* drop "c100000\n" */
    CHECK_EQ_INT(cl.n, 100000);
    CHECK(cl.n == 100000 && !strcmp(cl.names[99999], "c99999"));
    ae_classlist_free(&cl);
    free(s);

    /* input size: in memory and from a file (checked from fstat, nothing read) */
    p = ae_classlist_default_params();
    p.max_bytes = 8;
    CHECK_ERR(parse_str("abc\ndefgh\n", "c.txt", &p, &cl), AE_ERR_TOO_LARGE,
              "c.txt: 10 bytes, larger than the limit of 8 bytes");
    const char *path = test_tmp("ten.txt");
    write_bytes(path, "abc\ndefgh\n", 10);
    char want[4200];
    snprintf(want, sizeof want, "%s: 10 bytes, larger than the limit of 8 bytes", path);
    CHECK_ERR(ae_classlist_load(path, &p, &cl), AE_ERR_TOO_LARGE, want);
    /* total name bytes: "abc" + NUL, "defgh" + NUL = 10 from 9 input bytes */
    p.max_bytes = 9;
    CHECK_ERR(parse_str("abc\ndefgh", "c.txt", &p, &cl), AE_ERR_TOO_LARGE,
              "c.txt: line 2: the class names total more than 9 bytes (the limit)");

    snprintf(want, sizeof want, "%s: No such file or directory", test_tmp("missing.csv"));
    CHECK_ERR(ae_classlist_load(test_tmp("missing.csv"), NULL, &cl), AE_ERR_NOT_FOUND, want);
    snprintf(want, sizeof want, "%s: Is a directory", test_tmpdir());
    CHECK_ERR(ae_classlist_load(test_tmpdir(), NULL, &cl), AE_ERR_IO, want);
    CHECK_ERR(ae_classlist_parse(NULL, 3, "x.txt", NULL, &cl), AE_ERR_INVALID, "x.txt: data is NULL");
}

/* ---- XLSX ---------------------------------------------------------------------------------- */

#define NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" " \
           "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""
#define RELS_NS "http://schemas.openxmlformats.org/package/2006/relationships"
#define REL_T "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

static const char *WORKBOOK =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<workbook " NS "><sheets><sheet name=\"Rooms\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
static const char *WB_RELS =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<Relationships xmlns=\"" RELS_NS "\">"
    "<Relationship Id=\"rId1\" Type=\"" REL_T "worksheet\" Target=\"worksheets/sheet1.xml\"/>"
    "<Relationship Id=\"rId2\" Type=\"" REL_T "sharedStrings\" Target=\"sharedStrings.xml\"/>"
    "</Relationships>";

static int store_entries; /* 1: make_zip stores instead of deflating */

/* Writes a zip of (name, text) pairs, NULL-terminated; a NULL text skips the entry. */
static const char *make_zip(const char *file, const char *const *entries)
{
    const char *path = test_tmp(file);
    int err;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) { fprintf(stderr, "zip_open %s: %d\n", path, err); exit(2); }
    for (int i = 0; entries[i]; i += 2) {
        if (!entries[i + 1]) continue;
        zip_source_t *s = zip_source_buffer(z, entries[i + 1], strlen(entries[i + 1]), 0);
        zip_int64_t idx = s ? zip_file_add(z, entries[i], s, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0 || (store_entries && zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0) < 0)) {
            fprintf(stderr, "zip_file_add: %s\n", zip_strerror(z));
            exit(2);
        }
    }
    if (zip_close(z) < 0) { fprintf(stderr, "zip_close: %s\n", zip_strerror(z)); exit(2); }
    return path;
}

/* A workbook with the standard parts and the given sheet and shared strings. */
static const char *make_xlsx(const char *file, const char *sheet, const char *sst)
{
    char sh[8192], ss[8192];
    snprintf(sh, sizeof sh, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<worksheet " NS
             "><sheetData>%s</sheetData></worksheet>", sheet);
    if (sst) snprintf(ss, sizeof ss, "<?xml version=\"1.0\"?>\n<sst " NS ">%s</sst>", sst);
    const char *e[] = {"[Content_Types].xml", "<Types/>", "xl/workbook.xml", WORKBOOK,
                       "xl/_rels/workbook.xml.rels", WB_RELS, "xl/worksheets/sheet1.xml", sh,
                       "xl/sharedStrings.xml", sst ? ss : NULL, NULL};
    return make_zip(file, e);
}

static void check_err_path(int rc, int code, const char *path, const char *rest, int line)
{
    char want[4400];
    snprintf(want, sizeof want, "%s: %s", path, rest);
    CHECK_MSG(rc == code, "line %d: rc %d (%s), expected %d", line, rc, ae_last_error(), code);
    CHECK_MSG(!strcmp(ae_last_error(), want), "line %d: message \"%s\"\n      expected \"%s\"",
              line, ae_last_error(), want);
}
#define CHECK_LOAD_ERR(path, p, code, rest)                                                \
    do {                                                                                   \
        ae_classlist c_;                                                                   \
        check_err_path(ae_classlist_load(path, p, &c_), code, path, rest, __LINE__);        \
        CHECK(c_.n == 0 && c_.names == NULL);                                              \
    } while (0)

    /* rich text (runs joined, phonetic run skipped), entities, CDATA, _x000D_/_x005F_
     * escapes, an empty item, and xml:space text */
static const char *CELLS_SST =
    "<si><t>Col_Names</t></si>"                                                 /* 0 */
    "<si><r><rPr><b/></rPr><t>king </t></r><r><t xml:space=\"preserve\">bed  suite</t></r></si>" /* 1 */
    "<si><t>\xe6\x9d\xb1\xe4\xba\xac</t><rPh sb=\"0\" eb=\"2\"><t>\xe3\x83\x88\xe3\x82\xa6</t></rPh></si>" /* 2 */
    "<si><t>bar &amp; lounge</t></si>"                                          /* 3 */
    "<si><t><![CDATA[<spa>]]></t></si>"                                         /* 4 */
    "<si><t>line_x000D_\nbreak_x005F_x0041_</t></si>"                           /* 5 */
    "<si/>"                                                                     /* 6 */
    "<si><t>kind</t></si>";                                                     /* 7 */
    /* row 1 empty; header in row 2 with Col_Names in column B; cells without r; numbers,
     * booleans, inline strings (rich), a cached formula string, an error cell, a formula
     * with an empty cached value, a prefixed element name */
static const char *CELLS_SHEET =
    "<row r=\"1\"/>"
    "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>7</v></c><c r=\"B2\" t=\"s\"><v>0</v></c></row>"
    "<row r=\"3\"><c r=\"A3\"><v>1</v></c><c r=\"B3\" t=\"s\"><v>1</v></c></row>"
    "<row r=\"4\"><c><v>2</v></c><c t=\"s\"><v> 2 </v></c></row>"
    "<row r=\"5\"><c r=\"B5\" t=\"s\"><v>3</v></c></row>"
    "<row r=\"6\"><c r=\"B6\" t=\"s\"><v>4</v></c></row>"
    "<row r=\"7\"><c r=\"B7\" t=\"s\"><v>5</v></c><c r=\"C7\" t=\"s\"><v>999</v></c></row>"
    "<row r=\"8\"><c r=\"B8\" t=\"s\"><v>6</v></c></row>"
    "<row r=\"9\"><c r=\"B9\"><v>3.25</v></c></row>"
    "<row r=\"10\"><c r=\"B10\" t=\"b\"><v>1</v></c></row>"
    "<row r=\"11\"><c r=\"B11\" t=\"inlineStr\"><is><r><t>ocean</t></r><r><t> view</t></r></is></c></row>"
    "<row r=\"12\"><c r=\"B12\" t=\"str\"><f>A3&amp;\" suite\"</f><v>1 suite</v></c></row>"
    "<row r=\"13\"><c r=\"B13\" t=\"e\"><f>1/0</f><v>#DIV/0!</v></c></row>"
    "<row r=\"14\"><c r=\"B14\" t=\"str\"><f>\"\"</f><v></v></c></row>"
    "<row r=\"15\"><c r=\"B15\" t=\"inlineStr\"><is><t>sauna</t></is></c></row>"
    "<row r=\"16\"><c r=\"B16\" t=\"s\"><v>1</v></c><c r=\"A16\"/></row>"
    "<row r=\"17\"><c r=\"B17\"/><c r=\"B18\" t=\"inlineStr\"><is><t>spa_x0009_bath</t></is></c></row>";

static void test_xlsx_cells(void)
{
    ae_classlist cl;
    const char *path = make_xlsx("cells.xlsx", CELLS_SHEET, CELLS_SST);
    ae_classlist_params p = ae_classlist_default_params();
    p.column = "Col_Names";
    CHECK_EQ_INT(ae_classlist_load(path, &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "king bed suite", "\xe6\x9d\xb1\xe4\xba\xac", "bar & lounge", "<spa>",
                "line break_x0041_", "3.25", "TRUE", "ocean view", "1 suite", "sauna", "spa bath");
    ae_classlist_free(&cl);
    /* no column, and header = 1 without a column: row 2 is a header ("kind" above the
       numbers 1 and 2 of column A), B is the one column of text (C7's broken shared-string
       index does not count: an error only when column C is read, below) */
    ae_classlist_params h = ae_classlist_default_params();
    h.header = 1;
    const ae_classlist_params *choose[] = {NULL, &h};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(ae_classlist_load(path, choose[k], &cl), AE_OK);
        CHECK_NAMES(&cl, "king bed suite", "\xe6\x9d\xb1\xe4\xba\xac", "bar & lounge", "<spa>",
                    "line break_x0041_", "3.25", "TRUE", "ocean view", "1 suite", "sauna", "spa bath");
        CHECK(!strcmp(cl.column, "Col_Names"));
        ae_classlist_free(&cl);
    }

    p.column = "Names";
    CHECK_LOAD_ERR(path, &p, AE_ERR_NOT_FOUND,
                   "sheet 'Rooms': column 'Names' not found (columns: kind, Col_Names)");
    /* C7 holds a broken index: an error once column C is read */
    const char *sheet2 =
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"C1\" t=\"inlineStr\"><is><t>x</t></is></c></row>"
        "<row r=\"5\"><c r=\"A5\" t=\"s\"><v>1</v></c><c r=\"C5\" t=\"s\"><v>99</v></c></row>";
    path = make_xlsx("badindex.xlsx", sheet2, "<si><t>Col_Names</t></si><si><t>lobby</t></si>");
    p.column = "x";
    CHECK_LOAD_ERR(path, &p, AE_ERR_FORMAT,
                   "sheet 'Rooms' cell C5: shared string index 99 out of range (2 strings)");
    p.column = "Col_Names";
    CHECK_EQ_INT(ae_classlist_load(path, &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby");
    ae_classlist_free(&cl);

    path = make_xlsx("nan.xlsx", "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>one</v></c></row>",
                     "<si><t>a</t></si>");
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT,
                   "sheet 'Rooms' cell A1: shared string index 'one' is not a number");
    path = make_xlsx("formula.xlsx",
                     "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Col_Names</t></is></c></row>"
                     "<row r=\"2\"><c r=\"A2\"><v>1</v></c></row>"
                     "<row r=\"3\"><c r=\"A3\" t=\"str\"><f>CONCAT(\"king\",\" bed\")</f></c></row>",
                     NULL);
    CHECK_LOAD_ERR(path, &p, AE_ERR_FORMAT,
                   "sheet 'Rooms' cell A3: formula '=CONCAT(\"king\",\" bed\")' has no cached value; "
                   "open and save the file in a spreadsheet program to compute it");
    path = make_xlsx("empty.xlsx", "<row r=\"1\"><c r=\"A1\"/></row>", NULL);
    CHECK_LOAD_ERR(path, &p, AE_ERR_INVALID, "sheet 'Rooms': no class names (the sheet is empty)");
    CHECK_LOAD_ERR(path, NULL, AE_ERR_INVALID, "sheet 'Rooms': no class names in column A");
    path = make_xlsx("headeronly.xlsx",
                     "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Col_Names</t></is></c></row>", NULL);
    CHECK_LOAD_ERR(path, &p, AE_ERR_INVALID, "sheet 'Rooms': no class names in column A");
    path = make_xlsx("badref.xlsx", "<row r=\"1\"><c r=\"1A\"><v>1</v></c></row>", NULL);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT, "sheet 'Rooms': bad cell reference '1A'");
    path = make_xlsx("ctl.xlsx", "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>a_x001B_b</t></is></c></row>", NULL);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT, "sheet 'Rooms' cell A1: control character U+001B after \"a\"");
}

static void test_xlsx_structure(void)
{
    ae_classlist cl;
    /* no workbook.xml, prefixed elements (x:), sheet1.xml found by its standard path */
    const char *sheet_x =
        "<?xml version=\"1.0\"?><!-- a comment, then the root --><x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        "<x:sheetData><x:row><x:c t=\"inlineStr\"><x:is><x:t>lobby</x:t></x:is></x:c></x:row>"
        "<x:row><x:c t=\"inlineStr\"><x:is><x:t>spa</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>";
    const char *e1[] = {"xl/worksheets/sheet1.xml", sheet_x, NULL};
    const char *path = make_zip("noworkbook.xlsx", e1);
    CHECK_EQ_INT(ae_classlist_load(path, NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby", "spa");
    ae_classlist_free(&cl);

    /* the first sheet in workbook order ("Data", stored as data.xml via an absolute target),
     * shared strings at a non-standard path, sheet1.xml is a decoy */
    const char *wb = "<workbook " NS "><sheets><sheet name=\"Data\" sheetId=\"2\" r:id=\"rId7\"/>"
                     "<sheet name=\"Other\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
    const char *rels = "<Relationships xmlns=\"" RELS_NS "\">"
                       "<Relationship Id=\"rId1\" Type=\"" REL_T "worksheet\" Target=\"worksheets/sheet1.xml\"/>"
                       "<Relationship Id=\"rId7\" Type=\"" REL_T "worksheet\" Target=\"/xl/worksheets/../data.xml\"/>"
                       "<Relationship Id=\"rId8\" Type=\"" REL_T "sharedStrings\" Target=\"strings/ss.xml\"/>"
                       "</Relationships>";
    const char *data = "<worksheet " NS "><sheetData><row><c t=\"s\"><v>1</v></c></row></sheetData></worksheet>";
    const char *decoy = "<worksheet " NS "><sheetData><row><c t=\"s\"><v>0</v></c></row></sheetData></worksheet>";
    const char *ss = "<sst " NS "><si><t>decoy</t></si><si><t>data sheet</t></si></sst>";
    const char *e2[] = {"xl/workbook.xml", wb, "xl/_rels/workbook.xml.rels", rels, "xl/data.xml", data,
                        "xl/worksheets/sheet1.xml", decoy, "xl/strings/ss.xml", ss, NULL};
    path = make_zip("order.xlsx", e2);
    CHECK_EQ_INT(ae_classlist_load(path, NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "data sheet");
    ae_classlist_free(&cl);

    const char *wb3 = "<workbook " NS "><sheets><sheet name=\"Gone\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
    const char *rels3 = "<Relationships xmlns=\"" RELS_NS "\"><Relationship Id=\"rId1\" Type=\"" REL_T
                        "worksheet\" Target=\"worksheets/gone.xml\"/></Relationships>";
    const char *e3[] = {"xl/workbook.xml", wb3, "xl/_rels/workbook.xml.rels", rels3, NULL};
    path = make_zip("gone.xlsx", e3);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_NOT_FOUND, "no worksheet (xl/worksheets/gone.xml is missing)");

    const char *e4[] = {"mimetype", "application/vnd.oasis.opendocument.spreadsheet", "content.xml",
                        "<office:document-content/>", NULL};
    path = make_zip("sheet.ods", e4);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_UNSUPPORTED,
                   "OpenDocument spreadsheets (.ods) are not supported; save it as .xlsx or .csv");
    const char *e5[] = {"readme.txt", "hello", NULL};
    path = make_zip("plain.zip", e5);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT, "a zip archive but not an XLSX workbook (no xl/workbook.xml)");
    const char *e6[] = {"xl/workbook.bin", "x", NULL};
    path = make_zip("book.xlsb", e6);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_UNSUPPORTED,
                   "binary Excel workbooks (.xlsb) are not supported; save it as .xlsx or .csv");

    /* truncated: the valid example cut in half */
    size_t n;
    char *x = read_file(repo("examples/hotel_classes.xlsx"), &n);
    CHECK(x != NULL);
    if (x) {
        CHECK_ERR(ae_classlist_parse(x, n / 2, "cut.xlsx", NULL, &cl), AE_ERR_FORMAT,
                  "cut.xlsx: not a readable zip archive (Not a zip archive); the XLSX file is "
                  "truncated or damaged");
        /* a flipped byte inside the deflated sheet: inflate or CRC error, never a crash */
        char *y = malloc(n);
        memcpy(y, x, n);
        int found = 0;
        for (size_t i = 0; i + 30 < n && !found; i++)
            if (!memcmp(y + i, "PK\x03\x04", 4) && !memcmp(y + i + 30, "xl/worksheets/sheet1.xml", 24)) {
                y[i + 30 + 24 + 40] ^= 0x55;
                found = 1;
            }
        CHECK(found);
        ae_classlist_params p = ae_classlist_default_params();
        p.column = "Col_Names";
        CHECK_EQ_INT(ae_classlist_parse(y, n, "flip.xlsx", &p, &cl), AE_ERR_FORMAT);
        CHECK_STR_CONTAINS(ae_last_error(), "flip.xlsx: xl/worksheets/sheet1.xml: ");
        free(y);
        free(x);
    }
}

static void test_xlsx_xml_attacks(void)
{
    ae_classlist cl;
    const char *laughs =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE sst [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
        "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
        "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\"><!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">]>"
        "<sst " NS "><si><t>&i;</t></si></sst>";
    const char *sheet = "<worksheet " NS "><sheetData><row><c t=\"s\"><v>0</v></c></row></sheetData></worksheet>";
    const char *e1[] = {"xl/worksheets/sheet1.xml", sheet, "xl/sharedStrings.xml", laughs, NULL};
    const char *path = make_zip("laughs.xlsx", e1);
    clock_t t0 = clock();
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT,
                   "xl/sharedStrings.xml: a DTD (<!DOCTYPE>) is not allowed in an XLSX part");
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("billion laughs refused in %.3f s\n", secs);
    CHECK(secs < 1.0);

    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE sst [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<sst " NS "><si><t>&x;</t></si></sst>";
    const char *e2[] = {"xl/worksheets/sheet1.xml", sheet, "xl/sharedStrings.xml", xxe, NULL};
    path = make_zip("xxe.xlsx", e2);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT,
                   "xl/sharedStrings.xml: a DTD (<!DOCTYPE>) is not allowed in an XLSX part");

    const char *broken = "<worksheet " NS "><sheetData><row><c t=\"s\"><v>0</v></row></sheetData></worksheet>";
    const char *e3[] = {"xl/worksheets/sheet1.xml", broken, NULL};
    path = make_zip("broken.xlsx", e3);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_FORMAT, "xl/worksheets/sheet1.xml: line 1: "
                   "Opening and ending tag mismatch: c line 1 and row");
    const char *cut = "<worksheet " NS "><sheetData><row><c t=\"inlineStr\"><is><t>a";
    const char *e4[] = {"xl/worksheets/sheet1.xml", cut, NULL};
    path = make_zip("cutxml.xlsx", e4);
    ae_classlist_params p = ae_classlist_default_params();
    CHECK_EQ_INT(ae_classlist_load(path, &p, &cl), AE_ERR_FORMAT);
    CHECK_STR_CONTAINS(ae_last_error(), "cutxml.xlsx: xl/worksheets/sheet1.xml: line 1: ");
}

/* ---- the column and the header row when no column is named ------------------------------ */

/* Parses s as NAME without a column: the names and the column read, or the message. */
#define CHECK_CHOICE(s, name, want_col, ...)                                                 \
    do {                                                                                   \
        ae_classlist c_;                                                                   \
        CHECK_MSG(parse_str(s, name, NULL, &c_) == AE_OK, "%s: %s", name, ae_last_error()); \
        CHECK_NAMES(&c_, __VA_ARGS__);                                                     \
        CHECK_MSG(!strcmp(c_.column, want_col), "%s: column '%s', expected '%s'", name,    \
                  c_.column, want_col);                                                    \
        ae_classlist_free(&c_);                                                            \
    } while (0)

static void test_column_choice(void)
{
    ae_classlist cl;
    /* a header row (text above a column of numbers) and an index 1..n */
    CHECK_CHOICE("id,name\n1,lobby\n2,pool\n", "a.csv", "name", "lobby", "pool");
    /* pandas' to_csv: an empty header cell above the index 0..n-1 */
    CHECK_CHOICE(",Col_Names\n0,lobby\n1,pool\n2,spa\n", "b.csv", "Col_Names", "lobby", "pool", "spa");
    /* no header row: an index 0..n-1, or 1..n, in the first row too */
    CHECK_CHOICE("0,lobby\n1,pool\n2,spa\n", "c.csv", "B", "lobby", "pool", "spa");
    CHECK_CHOICE("1;lobby\n2;pool\n", "d.csv", "B", "lobby", "pool");
    /* the index may be any column; blank lines are no rows */
    CHECK_CHOICE("lobby,1\n\npool,2\nspa,3\n", "e.csv", "A", "lobby", "pool", "spa");
    /* one column of text: every row is a name. A header there cannot be told from a class
       (documented: name it with --column) */
    CHECK_CHOICE("lobby\npool\n", "f.csv", "A", "lobby", "pool");
    CHECK_CHOICE("Col_Names\nlobby\n", "g.csv", "A", "Col_Names", "lobby");
    /* numbers as class names: the column left beside the index is taken */
    CHECK_CHOICE("id,year\n1,1984\n2,2001\n3,1999\n", "h.csv", "year", "1984", "2001", "1999");
    /* a column of numbers that is not an index (floors) beside text: the text; "-1", "3.5"
       and the European "120,50" are numbers */
    CHECK_CHOICE("name\tfloor\nlobby\t0\nbar\t-1\nspa\t3.5\n", "rooms.tsv", "name", "lobby", "bar", "spa");
    CHECK_CHOICE("Zimmer;Preis\nSauna;\"120,50\"\nSpa;0\n", "i.csv", "Zimmer", "Sauna", "Spa");
    /* a gap or a jump is no index: two number columns then, and the text is still the one */
    CHECK_CHOICE("id,name\n1,lobby\n,pool\n3,spa\n", "j.csv", "name", "lobby", "pool", "spa");
    /* a lone column of integers 1..n is taken as the names (there is nothing else) */
    CHECK_CHOICE("1\n2\n3\n", "k.csv", "A", "1", "2", "3");
    CHECK_CHOICE("n\n0\n1\n", "l.csv", "n", "0", "1");
    /* an unknown extension with a tab is TSV: the same choice */
    CHECK_CHOICE("\nname\tfloor\nspa\t-1\n", "upload", "name", "spa");
    /* cells of white space are empty: the third column is no column */
    CHECK_CHOICE("id,name, \n1,lobby,\t\n2,pool,\n", "m.csv", "name", "lobby", "pool");

    /* refused, naming the columns and what to pass */
    CHECK_ERR(parse_str("id,name,kind\n1,lobby,room\n2,pool,amenity\n", "n.csv", NULL, &cl),
              AE_ERR_INVALID, "n.csv: 2 columns could be the class names: 'name' (column B), "
              "'kind' (column C); choose one with --column NAME");
    CHECK_ERR(parse_str("lobby,room\npool,amenity\n", "o.csv", NULL, &cl), AE_ERR_INVALID,
              "o.csv: 2 columns could be the class names: column A (starts 'lobby'), column B "
              "(starts 'room'); choose one with --column NAME, NAME being its first row's text "
              "(add a header row if the file has none)");
    CHECK_ERR(parse_str("a,b\n1,2\n3,4\n", "p.csv", NULL, &cl), AE_ERR_INVALID,
              "p.csv: 2 columns could be the class names: 'a' (column A), 'b' (column B); "
              "choose one with --column NAME");
    CHECK_ERR(parse_str("0,1\n1,2\n2,3\n", "q.csv", NULL, &cl), AE_ERR_INVALID,
              "q.csv: 2 columns could be the class names: column A (starts '0'), column B "
              "(starts '1'); choose one with --column NAME, NAME being its first row's text "
              "(add a header row if the file has none)");
    /* an empty header cell: the column goes by its letter */
    CHECK_CHOICE(",x,\n1,,\n2,,z\n", "r.csv", "C", "z");
    CHECK_ERR(parse_str(",x,\n1,a,\n2,,z\n", "r.csv", NULL, &cl), AE_ERR_INVALID,
              "r.csv: 2 columns could be the class names: 'x' (column B), column C (no header); "
              "choose one with --column NAME");
    CHECK(cl.n == 0 && cl.names == NULL);
    /* nine columns of text: the first eight are listed */
    CHECK_ERR(parse_str("a,b,c,d,e,f,g,h,i\nA,B,C,D,E,F,G,H,I\n", "s.csv", NULL, &cl), AE_ERR_INVALID,
              "s.csv: 9 columns could be the class names: column A (starts 'a'), column B (starts "
              "'b'), column C (starts 'c'), column D (starts 'd'), column E (starts 'e'), column F "
              "(starts 'f'), column G (starts 'g'), column H (starts 'h'), ...; choose one with "
              "--column NAME, NAME being its first row's text (add a header row if the file has none)");
    /* --column still reads the named column, header row implied */
    ae_classlist_params p = ae_classlist_default_params();
    p.column = "kind";
    CHECK_EQ_INT(parse_str("id,name,kind\n1,lobby,room\n2,pool,amenity\n", "n.csv", &p, &cl), AE_OK);
    CHECK_NAMES(&cl, "room", "amenity");
    CHECK(!strcmp(cl.column, "kind"));
    ae_classlist_free(&cl);
    /* a text list and strings have no column */
    CHECK_EQ_INT(parse_str("1\n2\n", "t.txt", NULL, &cl), AE_OK);
    CHECK(cl.n == 2 && !cl.column[0]);
    ae_classlist_free(&cl);
}

/* The same choice in a sheet; messages name the sheet. */
static void test_xlsx_column_choice(void)
{
    ae_classlist cl;
    /* what pandas' to_excel writes: B1 the header, A2.. the index 0..n-1 as numbers */
    const char *path = make_xlsx("pandas.xlsx",
        "<row r=\"1\"><c r=\"B1\" t=\"inlineStr\"><is><t>Col_Names</t></is></c></row>"
        "<row r=\"2\"><c r=\"A2\"><v>0</v></c><c r=\"B2\" t=\"inlineStr\"><is><t>lobby</t></is></c></row>"
        "<row r=\"3\"><c r=\"A3\"><v>1</v></c><c r=\"B3\" t=\"inlineStr\"><is><t>pool</t></is></c></row>", NULL);
    CHECK_EQ_INT(ae_classlist_load(path, NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby", "pool");
    CHECK(!strcmp(cl.column, "Col_Names"));
    ae_classlist_free(&cl);
    /* without the header row: the index starts the first row */
    path = make_xlsx("noheader.xlsx",
        "<row r=\"1\"><c r=\"A1\"><v>1</v></c><c r=\"B1\" t=\"inlineStr\"><is><t>lobby</t></is></c></row>"
        "<row r=\"2\"><c r=\"A2\"><v>2</v></c><c r=\"B2\" t=\"inlineStr\"><is><t>pool</t></is></c></row>", NULL);
    CHECK_EQ_INT(ae_classlist_load(path, NULL, &cl), AE_OK);
    CHECK_NAMES(&cl, "lobby", "pool");
    CHECK(!strcmp(cl.column, "B"));
    ae_classlist_free(&cl);
    path = make_xlsx("twotext.xlsx",
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c><c r=\"C1\" t=\"s\"><v>2</v></c></row>"
        "<row r=\"2\"><c r=\"A2\"><v>1</v></c><c r=\"B2\" t=\"s\"><v>3</v></c><c r=\"C2\" t=\"s\"><v>4</v></c></row>",
        "<si><t>id</t></si><si><t>name</t></si><si><t>kind</t></si><si><t>lobby</t></si><si><t>room</t></si>");
    CHECK_LOAD_ERR(path, NULL, AE_ERR_INVALID, "sheet 'Rooms': 2 columns could be the class names: "
                   "'name' (column B), 'kind' (column C); choose one with --column NAME");
}

/* `bank build` names the list, its column and its first classes on stderr, for every list
 * of the shipped examples without --column; an ambiguous list is a usage error. */
static void test_cli_bank_classes(void)
{
    const char *model = fixture("models/tiny-quickgelu");
    const char *bank = test_tmp("classes.bank");
    const char *files[] = {"examples/hotel_classes.xlsx", "examples/hotel_classes.csv",
                           "examples/hotel_classes.txt"};
    const char *cols[] = {" (column Col_Names)", " (column Col_Names)", ""};
    for (int f = 0; f < 3; f++) {
        run_result r = RUN("bank", "build", "--model", model, "--method", "context", "--classes",
                           repo(files[f]), "-o", bank);
        char want[4600];
        snprintf(want, sizeof want, "aesthete: 103 classes from %s%s: lobby, infinity pool, king bed "
                 "suite, queen room, twin room, double room, ...\n", repo(files[f]), cols[f]);
        CHECK_EQ_INT(r.code, 0);
        CHECK_MSG(!strcmp(r.err, want), "stderr \"%s\"\n      expected \"%s\"", r.err, want);
        CHECK_STR_CONTAINS(r.out, "context bank, 206 prompts, 103 classes");
        run_free(&r);
    }
    run_result r = RUN("bank", "build", "--model", model, "--method", "ensemble", "-o", bank);
    CHECK_EQ_INT(r.code, 0);
    CHECK_MSG(!strcmp(r.err, "aesthete: 1000 classes (the built-in ImageNet list): tench, goldfish, "
                      "great white shark, tiger shark, hammerhead shark, electric ray, ...\n"),
              "stderr \"%s\"", r.err);
    run_free(&r);
    r = RUN("bank", "build", "--model", model, "--method", "context", "--classes",
            repo("tests/data/classlists/quoted.csv"), "-o", bank);
    char want[4600];
    snprintf(want, sizeof want, "aesthete: %s: 2 columns could be the class names: 'Col_Names' "
             "(column B), 'kind' (column C); choose one with --column NAME\n",
             repo("tests/data/classlists/quoted.csv"));
    CHECK_EQ_INT(r.code, 2);
    CHECK_MSG(!strcmp(r.err, want), "stderr \"%s\"", r.err);
    run_free(&r);
    r = RUN("bank", "build", "--model", model, "--method", "context", "--classes",
            repo("tests/data/classlists/quoted.csv"), "--column", "kind", "-o", bank);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.err, "quoted.csv (column kind): amenity, room, view, empty, space, dup\n");
    run_free(&r);
    /* score builds its bank on the fly: the line with --verbose only */
    const char *img = fixture("images/photo_boats.jpg");
    r = RUN("score", "--model", model, "--no-cache", "--method", "context", "--classes",
            repo("examples/hotel_classes.xlsx"), img);
    CHECK_EQ_INT(r.code, 0);
    CHECK_MSG(!strstr(r.err, "classes from"), "stderr \"%s\"", r.err);
    run_free(&r);
    r = RUN("score", "--model", model, "--no-cache", "--verbose", "--method", "context", "--classes",
            repo("examples/hotel_classes.xlsx"), img);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.err, "aesthete: 103 classes from ");
    CHECK_STR_CONTAINS(r.err, "hotel_classes.xlsx (column Col_Names): lobby, infinity pool,");
    run_free(&r);
}

/* ---- zip bombs ----------------------------------------------------------------------------- */

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xFFFF); put16(p + 2, v >> 16); }

/* A one-entry zip "xl/worksheets/sheet1.xml" whose deflate stream inflates to `blocks` MiB
 * of spaces after a small XML prefix, declaring `declared` uncompressed bytes. The stream is
 * one full-flush block of 1 MiB of spaces repeated (blocks are byte-aligned and independent
 * after a full flush), so building it costs one 1 MiB deflate. */
static const char *make_bomb(const char *file, int blocks, uint32_t declared)
{
    const char *name = "xl/worksheets/sheet1.xml";
    size_t nl = strlen(name);
    static unsigned char chunk[1 << 20];
    memset(chunk, ' ', sizeof chunk);
    const char *prefix = "<worksheet><sheetData>";
    memcpy(chunk, prefix, strlen(prefix));
    unsigned char *first = malloc(compressBound(sizeof chunk)), *rep = malloc(compressBound(sizeof chunk));
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    zs.next_in = chunk;
    zs.avail_in = sizeof chunk;
    zs.next_out = first;
    zs.avail_out = (uInt)compressBound(sizeof chunk);
    deflate(&zs, Z_FULL_FLUSH);
    size_t nfirst = (size_t)(zs.next_out - first);
    memset(chunk, ' ', strlen(prefix));
    zs.next_in = chunk;
    zs.avail_in = sizeof chunk;
    zs.next_out = rep;
    zs.avail_out = (uInt)compressBound(sizeof chunk);
    deflate(&zs, Z_FULL_FLUSH);
    size_t nrep = (size_t)(zs.next_out - rep);
    deflateEnd(&zs);
    static const unsigned char final_block[] = {0x03, 0x00}; /* an empty final fixed block */
    size_t comp = nfirst + (size_t)(blocks - 1) * nrep + 2;
    FILE *f = fopen(test_tmp(file), "wb");
    unsigned char h[46];
    memset(h, 0, sizeof h);
    put32(h, 0x04034b50);
    put16(h + 4, 20);
    put16(h + 8, 8);
    put32(h + 14, 0x12345678); /* crc: never reached */
    put32(h + 18, (uint32_t)comp);
    put32(h + 22, declared);
    put16(h + 26, (unsigned)nl);
    fwrite(h, 1, 30, f);
    fwrite(name, 1, nl, f);
    fwrite(first, 1, nfirst, f);
    for (int i = 1; i < blocks; i++) fwrite(rep, 1, nrep, f);
    fwrite(final_block, 1, 2, f);
    long cd = ftell(f);
    memset(h, 0, sizeof h);
    put32(h, 0x02014b50);
    put16(h + 4, 20);
    put16(h + 6, 20);
    put16(h + 10, 8);
    put32(h + 16, 0x12345678);
    put32(h + 20, (uint32_t)comp);
    put32(h + 24, declared);
    put16(h + 28, (unsigned)nl);
    fwrite(h, 1, 46, f);
    fwrite(name, 1, nl, f);
    long end = ftell(f);
    memset(h, 0, 22);
    put32(h, 0x06054b50);
    put16(h + 8, 1);
    put16(h + 10, 1);
    put32(h + 12, (uint32_t)(end - cd));
    put32(h + 16, (uint32_t)cd);
    fwrite(h, 1, 22, f);
    fclose(f);
    free(first);
    free(rep);
    return test_tmp(file);
}

static void test_zip_bomb(void)
{
    /* 1100 MiB of inflated data declared as 4 KiB: stopped right after 4 KiB */
    const char *path = make_bomb("bomb.xlsx", 1100, 4096);
    struct stat st;
    stat(path, &st);
    printf("zip bomb: %lld bytes on disk, inflates to 1100 MiB\n", (long long)st.st_size);
    clock_t t0 = clock();
    CHECK_LOAD_ERR(path, NULL, AE_ERR_TOO_LARGE,
                   "xl/worksheets/sheet1.xml: inflates past its declared size of 4096 bytes (a zip bomb?)");
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("lying zip bomb stopped in %.3f s\n", secs);
    CHECK(secs < 1.0);
    /* declared honestly: refused from the header */
    path = make_bomb("bomb2.xlsx", 1100, 1100u << 20);
    CHECK_LOAD_ERR(path, NULL, AE_ERR_TOO_LARGE, "xl/worksheets/sheet1.xml: uncompressed size "
                   "1153433600 bytes, over the limit of 67108864 bytes");
    /* declared under a small cap but inflating past it: the cap stops it */
    ae_classlist_params p = ae_classlist_default_params();
    p.max_bytes = 2u << 20;
    path = make_bomb("bomb3.xlsx", 3, 3u << 20);
    CHECK_LOAD_ERR(path, &p, AE_ERR_TOO_LARGE, "xl/worksheets/sheet1.xml: uncompressed size "
                   "3145728 bytes, over the limit of 2097152 bytes");
}

/* ---- mutations: damaged inputs fail cleanly ---------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_rand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

/* Flips 1-4 bytes of the input per try (more tries with AE_CLASSLIST_MUTATIONS); every
 * result is either a list or an error whose message names the input. */
static void mutate(const char *path, const char *name, const ae_classlist_params *p)
{
    size_t n;
    char *orig = read_file(path, &n);
    CHECK(orig != NULL);
    if (!orig) return;
    const char *env = getenv("AE_CLASSLIST_MUTATIONS");
    int tries = env ? atoi(env) : 300, ok = 0, bad = 0, named = 0;
    char *buf = malloc(n);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", name);
    for (int t = 0; t < tries; t++) {
        memcpy(buf, orig, n);
        int k = 1 + (int)(next_rand() % 4);
        for (int i = 0; i < k; i++) buf[next_rand() % n] ^= (char)(1u << (next_rand() % 8));
        size_t len = next_rand() % 8 ? n : next_rand() % n; /* sometimes truncated too */
        ae_classlist cl;
        int rc = ae_classlist_parse(buf, len, name, p, &cl);
        if (rc == AE_OK) {
            ok++;
            bad += cl.n < 1 || !cl.names;
            ae_classlist_free(&cl);
        } else {
            int good = !strncmp(ae_last_error(), prefix, strlen(prefix)) && !strchr(ae_last_error(), '\n');
            if (!good && named + 3 > t) fprintf(stderr, "%s: rc %d, message \"%s\"\n", name, rc, ae_last_error());
            named += good;
            bad += rc > 0 || cl.n != 0 || cl.names != NULL;
        }
    }
    printf("%s: %d mutations, %d parsed, %d failed cleanly\n", name, tries, ok, named);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ok + named, tries);
    free(buf);
    free(orig);
}

static void test_mutations(void)
{
    ae_classlist_params p = ae_classlist_default_params();
    p.column = "Col_Names";
    mutate(repo("examples/hotel_classes.xlsx"), "m.xlsx", &p);
    /* stored (not deflated) parts: the damage reaches the XML reader */
    store_entries = 1;
    mutate(make_xlsx("stored.xlsx", CELLS_SHEET, CELLS_SST), "s.xlsx", &p);
    store_entries = 0;
    mutate(repo("tests/data/classlists/quoted.csv"), "m.csv", &p);
    mutate(repo("tests/data/classlists/bom_crlf.txt"), "m.txt", NULL);
    /* without a column: the column is chosen from the damaged table */
    mutate(repo("examples/hotel_classes.xlsx"), "a.xlsx", NULL);
    mutate(repo("examples/hotel_classes.csv"), "a.csv", NULL);
}

/* The tokenizer's buffer exists for a record of empty fields (fuzz_ratings found buf + 0 with
 * buf NULL on "\r\xed", undefined behaviour that clang's UBSan reports), and the classlist
 * parser survives that input. */
static void test_csv_empty_record(void)
{
    csv c;
    int64_t line = 0;
    csv_init(&c, "\r\xed", 2, ',');
    CHECK_EQ_INT(csv_next(&c, "x.csv", &line), 1);
    CHECK(c.buf != NULL);
    CHECK_EQ_INT(c.nf, 1);
    CHECK_EQ_INT(c.fl[0], 0);
    CHECK_EQ_INT(csv_next(&c, "x.csv", &line), 1);
    CHECK(c.nf == 1 && c.fl[0] == 1 && (unsigned char)c.buf[c.fo[0]] == 0xed);
    CHECK_EQ_INT(csv_next(&c, "x.csv", &line), 0);
    csv_free(&c);
    ae_classlist cl = {0};
    ae_classlist_params cp = ae_classlist_default_params();
    CHECK(ae_classlist_parse((const uint8_t *)",\r\n,\r\n", 6, "empty.csv", &cp, &cl) != AE_OK);
    CHECK_STR_CONTAINS(ae_last_error(), "empty.csv");
    ae_classlist_free(&cl);
}

int main(void)
{
    test_csv_empty_record();
    test_imagenet();
    test_hotel_examples();
    test_txt();
    test_csv();
    test_binary_and_encodings();
    test_limits();
    test_xlsx_cells();
    test_xlsx_structure();
    test_xlsx_xml_attacks();
    test_column_choice();
    test_xlsx_column_choice();
    test_cli_bank_classes();
    test_zip_bomb();
    test_mutations();
    return test_summary();
}
