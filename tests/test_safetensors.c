/*
 * test_safetensors.c — the safetensors reader and writer: a round trip through st_write,
 * exact F16/BF16 conversion (every F16 bit pattern against a formula), the real fixture
 * files, and hand-made hostile files, each of which must be refused with the right code and
 * a message that names the file and the cause.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "safetensors.h"
#include "test.h"

static char path_buf[4096];

static const char *tmp_path(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", test_tmpdir(), name);
    return path_buf;
}

/* Writes [8-byte length hlen][json][data_size zero bytes] to name; returns the path. */
static const char *write_raw(const char *name, uint64_t hlen, const char *json, size_t data_size)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hlen >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(json, 1, strlen(json), f);
    for (size_t i = 0; i < data_size; i++) fputc(0, f);
    fclose(f);
    return p;
}

/* A header whose length field is right. */
static const char *write_hdr(const char *name, const char *json, size_t data_size)
{
    return write_raw(name, strlen(json), json, data_size);
}

/* Opens path, expects rc and every needle in the message (plus the file name). */
static void expect_fail(const char *path, int rc_want, const char *needle)
{
    st_file f;
    ae_clear_error();
    int rc = st_open(&f, path);
    CHECK_MSG(rc == rc_want, "%s: rc %d, expected %d (%s)", path, rc, rc_want, ae_last_error());
    CHECK_STR_CONTAINS(ae_last_error(), needle);
    CHECK_STR_CONTAINS(ae_last_error(), path);
    CHECK(f.n_tensors == 0 && f.tensors == NULL && f.base == NULL);
    st_close(&f); /* safe after a failure */
}

static void test_round_trip(void)
{
    float a[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 65504};
    float s[1] = {4.6051702f};
    float big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (float)i * 0.25f - 7;
    st_out_tensor ts[4] = {
        {.name = "zeta.weight", .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "logit_scale", .ndim = 0, .data = s},
        {.name = "alpha.ünïcode \"quoted\"", .ndim = 3, .shape = {10, 10, 10}, .data = big},
        {.name = "empty", .ndim = 2, .shape = {0, 5}, .data = NULL},
    };
    const char *mk[] = {"format", "note"}, *mv[] = {"pt", "a \"tricky\"\nvalue"};
    const char *p = tmp_path("rt.safetensors");
    CHECK_EQ_INT(st_write(p, ts, 4, mk, mv, 2), AE_OK);

    /* layout: header length multiple of 8, padded with spaces, data in the given order */
    size_t size;
    uint8_t *raw = read_file(p, &size);
    CHECK(raw != NULL);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    CHECK_EQ_INT(hlen % 8, 0);
    CHECK_EQ_INT(size, 8 + hlen + (6 + 1 + 1000) * 4);
    CHECK(raw[8] == '{');
    CHECK(memcmp(raw + 8 + hlen, a, sizeof a) == 0);
    CHECK(memcmp(raw + 8 + hlen + sizeof a, s, 4) == 0);
    CHECK(strstr((char *)raw + 8, "\"__metadata__\"") == (char *)raw + 9); /* first key */
    free(raw);

    st_file f;
    CHECK_EQ_INT(st_open(&f, p), AE_OK);
    CHECK_EQ_INT(f.n_tensors, 4);
    CHECK(f.owned == 1);
    /* a copy cut to nothing while open: its tensors stay readable (st_open holds the bytes,
     * where a mapping would fault with SIGBUS here) */
    {
        char q[4096];
        snprintf(q, sizeof q, "%s.cut", p);
        raw = read_file(p, &size);
        FILE *w = fopen(q, "wb");
        if (w) fwrite(raw, 1, size, w), fclose(w);
        free(raw);
        st_file g;
        CHECK_EQ_INT(st_open(&g, q), AE_OK);
        CHECK_EQ_INT(truncate(q, 0), 0);
        const st_tensor *z = st_get(&g, "zeta.weight");
        CHECK(z && z->nbytes == sizeof a && memcmp(z->data, a, sizeof a) == 0);
        st_close(&g);
    }
    /* sorted by name */
    for (int i = 1; i < f.n_tensors; i++)
        CHECK(strcmp(f.tensors[i - 1].name, f.tensors[i].name) < 0);
    const st_tensor *t = st_get(&f, "zeta.weight");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(t && t->numel == 6 && t->nbytes == 24);
    float out[1000];
    if (t) {
        st_to_f32(t, out);
        CHECK(memcmp(out, a, sizeof a) == 0);
    }
    t = st_get(&f, "logit_scale");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    if (t) {
        st_to_f32(t, out);
        CHECK(out[0] == s[0]);
    }
    t = st_get(&f, "alpha.ünïcode \"quoted\"");
    CHECK(t && t->ndim == 3 && t->numel == 1000);
    if (t) {
        st_to_f32(t, out);
        CHECK(memcmp(out, big, sizeof big) == 0);
    }
    t = st_get(&f, "empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0 && t->shape[0] == 0 && t->shape[1] == 5);
    CHECK(st_get(&f, "missing") == NULL);
    CHECK(st_get(&f, "") == NULL);
    CHECK(st_get(&f, "zzzz") == NULL);
    CHECK_STR_CONTAINS(st_meta(&f, "format"), "pt");
    CHECK(st_meta(&f, "note") && strcmp(st_meta(&f, "note"), mv[1]) == 0);
    CHECK(st_meta(&f, "nope") == NULL);
    CHECK_EQ_INT(f.n_meta, 2);
    st_close(&f);
    st_close(&f); /* idempotent */

    /* st_parse over a caller's buffer (not mapped) */
    raw = read_file(p, &size);
    CHECK_EQ_INT(st_parse(&f, raw, size, "buffer"), AE_OK);
    CHECK(f.owned == 0 && f.n_tensors == 4 && strcmp(f.label, "buffer") == 0);
    st_close(&f);
    free(raw);

    /* no tensors, no metadata: a valid file with header "{}" padded */
    p = tmp_path("empty.safetensors");
    CHECK_EQ_INT(st_write(p, NULL, 0, NULL, NULL, 0), AE_OK);
    CHECK_EQ_INT(st_open(&f, p), AE_OK);
    CHECK_EQ_INT(f.n_tensors, 0);
    CHECK(st_get(&f, "x") == NULL);
    st_close(&f);

    /* writer errors */
    st_out_tensor dup[2] = {{.name = "x", .ndim = 1, .shape = {1}, .data = a},
                            {.name = "x", .ndim = 1, .shape = {1}, .data = a}};
    CHECK_EQ_INT(st_write(tmp_path("dup.safetensors"), dup, 2, NULL, NULL, 0), AE_ERR_INVALID);
    CHECK_STR_CONTAINS(ae_last_error(), "duplicate");
    CHECK(access(tmp_path("dup.safetensors"), F_OK) != 0);
    st_out_tensor neg = {.name = "x", .ndim = 1, .shape = {-1}, .data = a};
    CHECK_EQ_INT(st_write(tmp_path("neg.safetensors"), &neg, 1, NULL, NULL, 0), AE_ERR_INVALID);
    CHECK_EQ_INT(st_write(tmp_path("no/such/dir/x.safetensors"), ts, 1, NULL, NULL, 0), AE_ERR_IO);
    CHECK_STR_CONTAINS(ae_last_error(), "no/such/dir/x.safetensors");

    /* overwrite in place is atomic: the old file is replaced, no temporaries left */
    p = tmp_path("rt.safetensors");
    CHECK_EQ_INT(st_write(p, ts, 1, NULL, NULL, 0), AE_OK);
    CHECK_EQ_INT(st_open(&f, p), AE_OK);
    CHECK_EQ_INT(f.n_tensors, 1);
    CHECK_EQ_INT(f.n_meta, 0);
    st_close(&f);
}

/* The value of an F16 bit pattern by the formula of IEEE 754. */
static double f16_ref(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void test_conversion(void)
{
    /* every F16 bit pattern */
    static uint8_t raw[65536 * 2];
    static float out[65536];
    for (int i = 0; i < 65536; i++) {
        raw[2 * i] = (uint8_t)i;
        raw[2 * i + 1] = (uint8_t)(i >> 8);
    }
    st_tensor t = {.name = "h", .dtype = ST_F16, .ndim = 1, .shape = {65536}, .numel = 65536,
                   .data = raw, .nbytes = sizeof raw};
    st_to_f32(&t, out);
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        int e = (i >> 10) & 31, m = i & 1023;
        float v = out[i];
        if (e == 31) {
            bad += m ? !isnan(v) : !(isinf(v) && (signbit(v) != 0) == (i >> 15));
        } else {
            bad += (double)v != f16_ref((uint16_t)i) || (signbit(v) != 0) != (i >> 15);
        }
    }
    CHECK_MSG(bad == 0, "%d F16 patterns converted wrongly", bad);
    CHECK(out[0x3c00] == 1.0f && out[0xc000] == -2.0f && out[0x7bff] == 65504.0f);
    CHECK(out[0x0001] == ldexpf(1, -24));              /* smallest subnormal */
    CHECK(out[0x03ff] == ldexpf(1023, -24));           /* largest subnormal */
    CHECK(out[0x0400] == ldexpf(1, -14));              /* smallest normal */
    CHECK(out[0x8000] == 0 && signbit(out[0x8000]));   /* -0 */
    CHECK(isinf(out[0x7c00]) && out[0x7c00] > 0 && isinf(out[0xfc00]) && out[0xfc00] < 0);
    CHECK(isnan(out[0x7e00]) && isnan(out[0x7c01]));
    CHECK(out[0x3555] == 0.333251953125f);

    /* BF16 is the top half of an F32 */
    uint16_t b[] = {0x3f80, 0x4049, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8000, 0x7f7f, 0xbf80};
    uint8_t braw[sizeof b];
    for (size_t i = 0; i < sizeof b / 2; i++) {
        braw[2 * i] = (uint8_t)b[i];
        braw[2 * i + 1] = (uint8_t)(b[i] >> 8);
    }
    st_tensor tb = {.name = "b", .dtype = ST_BF16, .ndim = 1, .shape = {9}, .numel = 9,
                    .data = braw, .nbytes = sizeof braw};
    float bo[9];
    st_to_f32(&tb, bo);
    CHECK(bo[0] == 1.0f && bo[1] == 3.140625f && bo[8] == -1.0f);
    CHECK(isinf(bo[2]) && bo[2] > 0 && isinf(bo[3]) && bo[3] < 0 && isnan(bo[4]));
    CHECK(bo[5] == ldexpf(1, -133)); /* subnormal */
    CHECK(bo[6] == 0 && signbit(bo[6]));
    CHECK(bo[7] == ldexpf(255, 127 - 7)); /* largest finite BF16 */
    for (int i = 0; i < 9; i++) {
        uint32_t u;
        memcpy(&u, &bo[i], 4);
        CHECK_EQ_INT(u, (uint32_t)b[i] << 16);
    }
    CHECK(strcmp(st_dtype_name(ST_F32), "F32") == 0 && strcmp(st_dtype_name(ST_BF16), "BF16") == 0);
}

static void test_fixtures(void)
{
    st_file f;
    const char *p = fixture("models/tiny-gelu/model.safetensors");
    CHECK_EQ_INT(st_open(&f, p), AE_OK);
    CHECK_EQ_INT(f.n_tensors, 110);
    CHECK_STR_CONTAINS(st_meta(&f, "format"), "pt");
    const st_tensor *t = st_get(&f, "vision_model.embeddings.patch_embedding.weight");
    CHECK(t && t->dtype == ST_F16 && t->ndim == 4 && t->shape[0] == 64 && t->shape[1] == 3 &&
          t->shape[2] == 16 && t->shape[3] == 16);
    t = st_get(&f, "logit_scale");
    if (t) {
        float v;
        st_to_f32(t, &v);
        CHECK_NEAR(v, 4.6051702, 2e-3); /* ln 100 rounded to F16 */
    }
    int64_t n = 0;
    for (int i = 0; i < f.n_tensors; i++) n += f.tensors[i].numel;
    CHECK_EQ_INT(n, 2593673);
    CHECK_EQ_INT(f.size, 5199722);
    st_close(&f);

    CHECK_EQ_INT(st_open(&f, fixture("models/tiny-quickgelu/model.safetensors")), AE_OK);
    CHECK_EQ_INT(f.n_tensors, 78);
    t = st_get(&f, "text_model.embeddings.token_embedding.weight");
    CHECK(t && t->dtype == ST_F32 && t->shape[0] == 49408 && t->shape[1] == 72);
    st_close(&f);
}

static void test_hostile(void)
{
    const char *p;
    /* sizes and the length field */
    p = tmp_path("zero.safetensors");
    fclose(fopen(p, "wb"));
    expect_fail(p, AE_ERR_FORMAT, "file is 0 bytes");
    /* a FIFO is refused at once, not waited on (alarm() turns a hang into a failure) */
    p = tmp_path("fifo.safetensors");
    CHECK(mkfifo(p, 0600) == 0);
    alarm(20);
    expect_fail(p, AE_ERR_IO, "fifo.safetensors: not a regular file");
    alarm(0);
    p = tmp_path("seven.safetensors");
    FILE *fp = fopen(p, "wb");
    fwrite("\x02\0\0\0\0\0\0", 1, 7, fp);
    fclose(fp);
    expect_fail(p, AE_ERR_FORMAT, "file is 7 bytes");
    p = write_raw("long.safetensors", 99999999, "{}", 0);
    expect_fail(p, AE_ERR_FORMAT, "header length 99999999 exceeds file size 10");
    p = write_raw("huge.safetensors", UINT64_MAX, "{}", 0);
    expect_fail(p, AE_ERR_FORMAT, "header length 18446744073709551615 exceeds file size 10");
    p = write_raw("huge2.safetensors", (uint64_t)1 << 63, "{}", 0);
    expect_fail(p, AE_ERR_FORMAT, "exceeds file size");
    /* over ST_MAX_HEADER but inside the file: a sparse file costs no disk */
    p = tmp_path("bighdr.safetensors");
    {
        uint64_t h = (uint64_t)ST_MAX_HEADER + 8;
        uint8_t b[8];
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)(h >> (8 * i));
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0 && write(fd, b, 8) == 8 && ftruncate(fd, (off_t)h + 16) == 0);
        close(fd);
    }
    expect_fail(p, AE_ERR_TOO_LARGE, "exceeds the limit");
    p = write_raw("zerohdr.safetensors", 0, "", 0);
    expect_fail(p, AE_ERR_FORMAT, "invalid JSON");

    /* JSON */
    p = write_hdr("badjson.safetensors", "{\"a\": {\"dtype\": \"F32\",", 0);
    expect_fail(p, AE_ERR_FORMAT, "invalid JSON header");
    p = write_hdr("array.safetensors", "[1, 2]", 0);
    expect_fail(p, AE_ERR_FORMAT, "header is not a JSON object");
    p = write_hdr("dup.safetensors",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  8);
    expect_fail(p, AE_ERR_FORMAT, "duplicate");
    p = write_hdr("nul.safetensors", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],"
                                     "\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_FORMAT, "invalid JSON");

    /* entries */
    p = write_hdr("notobj.safetensors", "{\"a\": 5}", 0);
    expect_fail(p, AE_ERR_FORMAT, "tensor a: entry is not an object");
    p = write_hdr("f8.safetensors",
                  "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_UNSUPPORTED, "tensor w: dtype F8_E4M3 is not supported");
    p = write_hdr("q4.safetensors", "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_UNSUPPORTED, "dtype Q4_K");
    p = write_hdr("lower.safetensors", "{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_UNSUPPORTED, "dtype f32");
    p = write_hdr("f64.safetensors", "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_fail(p, AE_ERR_FORMAT, "span 8 bytes, shape [2] F64 needs 16");
    p = write_hdr("nodtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_FORMAT, "tensor w: missing or non-string dtype");
    p = write_hdr("mismatch.safetensors",
                  "{\"text_model.x\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[0,12]}}", 12);
    expect_fail(p, AE_ERR_FORMAT,
                "tensor text_model.x: data_offsets [0, 12] span 12 bytes, shape [4, 4] F32 needs 64");
    p = write_hdr("f16size.safetensors",
                  "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12);
    expect_fail(p, AE_ERR_FORMAT, "span 12 bytes, shape [3] F16 needs 6");
    p = write_hdr("outside.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16);
    expect_fail(p, AE_ERR_FORMAT, "tensor w: data_offsets [8, 24] outside the data (16 bytes)");
    p = write_hdr("reversed.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 16);
    expect_fail(p, AE_ERR_FORMAT, "data_offsets [8, 4] outside");
    p = write_hdr("negoff.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 16);
    expect_fail(p, AE_ERR_FORMAT, "data_offsets must be two non-negative integers");
    p = write_hdr("threeoff.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 16);
    expect_fail(p, AE_ERR_FORMAT, "data_offsets must be two");
    p = write_hdr("overlap.safetensors",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                  16);
    expect_fail(p, AE_ERR_FORMAT, "tensors a [0, 16] and b [8, 16] overlap");
    p = write_hdr("same.safetensors",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                  16);
    expect_fail(p, AE_ERR_FORMAT, "overlap");
    p = write_hdr("negdim.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,0]}}", 0);
    expect_fail(p, AE_ERR_FORMAT, "tensor w: shape entry 0 is not a non-negative integer");
    p = write_hdr("realdim.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}}", 16);
    expect_fail(p, AE_ERR_FORMAT, "shape entry 0");
    p = write_hdr("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_FORMAT, "tensor w: missing or non-array shape");
    p = write_hdr("overflow.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                  "\"data_offsets\":[0,0]}}",
                  0);
    expect_fail(p, AE_ERR_FORMAT, "tensor w: shape [1099511627776, 1099511627776] overflows");
    /* fits in int64 elements but not in bytes */
    p = write_hdr("overflow2.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                  "\"data_offsets\":[0,0]}}",
                  0);
    expect_fail(p, AE_ERR_FORMAT, "overflows");
    p = write_hdr("ndim9.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_UNSUPPORTED, "shape has 9 dimensions");
    p = write_hdr("bigint.safetensors",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4);
    expect_fail(p, AE_ERR_FORMAT, "invalid JSON");

    /* metadata */
    p = write_hdr("metanum.safetensors", "{\"__metadata__\":{\"format\":1}}", 0);
    expect_fail(p, AE_ERR_FORMAT, "__metadata__ value of \"format\" is not a string");
    p = write_hdr("metaarr.safetensors", "{\"__metadata__\":[\"pt\"]}", 0);
    expect_fail(p, AE_ERR_FORMAT, "__metadata__ is not an object");

    /* a directory and a missing file */
    expect_fail(test_tmpdir(), AE_ERR_IO, "not a regular file");
    expect_fail(tmp_path("missing.safetensors"), AE_ERR_NOT_FOUND, "No such file");

    /* tolerated: zero-size tensors anywhere, gaps, trailing spaces, extra entry keys */
    p = write_hdr("ok.safetensors",
                  "{\"e\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[4,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1},"
                  "\"b\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[12,14]}}   ",
                  16);
    st_file f;
    CHECK_EQ_INT(st_open(&f, p), AE_OK);
    CHECK_EQ_INT(f.n_tensors, 3);
    CHECK(strcmp(f.tensors[0].name, "a") == 0 && strcmp(f.tensors[2].name, "e") == 0);
    st_close(&f);
}

/* Older CLIP files carry I64 position_ids buffers: integer and F64 tensors are read and
 * convert by value. */
static void test_other_dtypes(void)
{
    const char *hdr = "{\"text_model.embeddings.position_ids\":{\"dtype\":\"I64\",\"shape\":[1,3],"
                      "\"data_offsets\":[0,24]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[24,40]},"
                      "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[40,42]},"
                      "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[42,44]},"
                      "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[44,48]},"
                      "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[48,49]},"
                      "\"b\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[49,50]},"
                      "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[50,52]},"
                      "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[52,56]},"
                      "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[56,64]}}";
    size_t hl = strlen(hdr), size = 8 + hl + 64;
    uint8_t *buf = calloc(1, size), *d = buf + 8 + hl;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    int64_t ids[3] = {0, 76, -5};
    memcpy(d, ids, 24);
    double dv[2] = {0.1, -1e300};
    memcpy(d + 24, dv, 16);
    d[40] = 0x80; /* -128 */
    d[41] = 0x7f;
    d[42] = 0x00; d[43] = 0x80; /* -32768 */
    d[44] = 0xff; d[45] = 0xff; d[46] = 0xff; d[47] = 0xff; /* -1 */
    d[48] = 200;
    d[49] = 1;
    d[50] = 0xff; d[51] = 0xff;
    d[52] = 0; d[53] = 0; d[54] = 0; d[55] = 0x80;
    d[63] = 0x80;
    st_file f;
    CHECK_EQ_INT(st_parse(&f, buf, size, "mixed"), AE_OK);
    float out[3];
    const st_tensor *t = st_get(&f, "text_model.embeddings.position_ids");
    CHECK(t && t->dtype == ST_I64 && strcmp(st_dtype_name(t->dtype), "I64") == 0);
    if (t) {
        st_to_f32(t, out);
        CHECK(out[0] == 0 && out[1] == 76 && out[2] == -5);
    }
    struct { const char *name; float want0; } cases[] = {
        {"d", 0.1f}, {"i8", -128}, {"i16", -32768}, {"i32", -1}, {"u8", 200}, {"b", 1},
        {"u16", 65535}, {"u32", 2147483648.0f}, {"u64", 9223372036854775808.0f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t = st_get(&f, cases[i].name);
        CHECK_MSG(t != NULL, "%s", cases[i].name);
        if (!t) continue;
        st_to_f32(t, out);
        CHECK_MSG(out[0] == cases[i].want0, "%s: %g expected %g", cases[i].name, out[0],
                  cases[i].want0);
    }
    t = st_get(&f, "d");
    if (t) {
        st_to_f32(t, out);
        CHECK(isinf(out[1]) && out[1] < 0);
    }
    t = st_get(&f, "i8");
    if (t) {
        st_to_f32(t, out);
        CHECK(out[1] == 127);
    }
    st_close(&f);
    free(buf);
}

int main(void)
{
    test_other_dtypes();
    test_round_trip();
    test_conversion();
    test_fixtures();
    test_hostile();
    return test_summary();
}
