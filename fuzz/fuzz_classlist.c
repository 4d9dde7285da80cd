/*
 * fuzz_classlist.c — libFuzzer target for class lists (app/classlist*.c through its public
 * entry, ae_classlist_parse): the first byte picks the name the upload has (so the format:
 * .txt, .csv, .tsv, .xlsx, or a name without an extension that is sniffed), whether a column
 * or a header is asked for, duplicates kept, and smaller limits; the rest is the file. What is
 * accepted must keep the promises of classlist.h: 1..max_classes names, each non-empty, at
 * most max_name_bytes, UTF-8 without control characters, no white space but single inner
 * spaces, distinct unless kept; a refusal leaves the list {0, NULL} with a message naming
 * the file. Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: the class lists of tests/data, small
 * workbooks written by tests/data/classlists/make_hotel_xlsx.py, UTF-16 and hostile lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classlist.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the decoded character at s (length *k), or -1 */
static int32_t decode(const uint8_t *s, size_t n, size_t *k)
{
    uint32_t c = s[0];
    *k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (*k > n) return -1;
    if (*k == 1) return (int32_t)c;
    uint32_t cp = c & (0x7F >> *k);
    for (size_t i = 1; i < *k; i++) cp = cp << 6 | (s[i] & 0x3F);
    return (int32_t)cp;
}

/* Unicode White_Space and the C0/C1 controls, as classlist.h defines them */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static void check_name(const char *s, size_t max_bytes)
{
    size_t n = strlen(s);
    if (!n || n > max_bytes || !fuzz_utf8((const uint8_t *)s, n)) abort();
    if (s[0] == ' ' || s[n - 1] == ' ') abort();
    for (size_t i = 0, k; i < n; i += k) {
        int32_t c = decode((const uint8_t *)s + i, n - i, &k);
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xFEFF) abort();
        if (is_space((uint32_t)c) && (c != ' ' || s[i + 1] == ' ')) abort();
    }
}

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"rooms.txt", "rooms.csv", "rooms.tsv", "rooms.xlsx",
                                        "rooms", "rooms.list", "Rooms.CSV", "rooms.xlsm"};
    if (size < 1) return 0;
    const uint8_t sel = data[0];
    data++, size--;
    ae_classlist_params p = ae_classlist_default_params();
    const char *name = names[sel & 7];
    if (sel & 8) p.column = sel & 16 ? "Col_Names" : "b";
    else p.header = (sel & 16) != 0;
    p.keep_duplicates = (sel & 32) != 0;
    if (sel & 64) p.max_classes = 16, p.max_name_bytes = 12, p.max_bytes = 2048;
    else p.max_classes = 5000, p.max_bytes = (size_t)1 << 20;
    const size_t max_name = p.max_name_bytes ? p.max_name_bytes : AE_CLASSLIST_MAX_NAME_BYTES;

    /* a private copy so that reads past the end are caught exactly */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    ae_classlist cl = {-1, (char **)buf};
    if (ae_classlist_parse(buf, size, name, &p, &cl) == AE_OK) {
        if (cl.n < 1 || cl.n > p.max_classes || !cl.names) abort();
        for (int32_t i = 0; i < cl.n; i++) check_name(cl.names[i], max_name);
        if (!p.keep_duplicates) {
            char **sorted = malloc(sizeof *sorted * (size_t)cl.n);
            if (!sorted) abort();
            memcpy(sorted, cl.names, sizeof *sorted * (size_t)cl.n);
            qsort(sorted, (size_t)cl.n, sizeof *sorted, by_text);
            for (int32_t i = 1; i < cl.n; i++)
                if (!strcmp(sorted[i - 1], sorted[i])) abort();
            free(sorted);
        }
    } else if (cl.n || cl.names || !fuzz_names(ae_last_error(), name)) {
        abort();
    }
    ae_classlist_free(&cl);
    free(buf);
    return 0;
}
