/*
 * test_pickle.c — the restricted unpickler: the real LAION .pth checkpoints against their
 * safetensors twins and the article's numpy pickles against their .f32 dumps (bit-exact);
 * small torch/numpy-made files of every storage type, layout and pickle protocol
 * (tests/data/pickle/, see its README); every prefix of real pickles and truncated zips; and
 * hostile pickles and zips made here, each refused with the right code and a message that
 * names the input and the cause.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <zip.h>

#include "error.h"
#include "pickle.h"
#include "safetensors.h"
#include "test.h"

#define DATA AE_SOURCE_DIR "/tests/data/pickle/"
#define LAION "real/laion-v2/"

/* ---- helpers ---- */

/* Every storage a fake: zeros, up to 4 KiB. */
static int zero_fetch(void *ctx, const char *key, uint64_t nbytes, const uint8_t **data)
{
    static const uint8_t zeros[4096];
    if (nbytes > sizeof zeros) return ae_fail(AE_ERR_TOO_LARGE, "zero_fetch: %s too big", key);
    *data = zeros;
    return AE_OK;
}

/* Checks the last call failed with rc_want and a message naming label and the cause. */
static void expect(int rc, int rc_want, const char *label, const char *needle)
{
    CHECK_MSG(rc == rc_want, "%s: rc %d, expected %d (%s)", label, rc, rc_want, ae_last_error());
    CHECK_STR_CONTAINS(ae_last_error(), label);
    CHECK_STR_CONTAINS(ae_last_error(), needle);
}

static void expect_dict(const void *p, size_t n, int rc_want, const char *needle)
{
    pk_tensors ts;
    ae_clear_error();
    int rc = pk_unpickle_state_dict_mem(p, n, "hostile.pkl", zero_fetch, NULL, &ts);
    expect(rc, rc_want, "hostile.pkl", needle);
    CHECK(ts.n == 0 && ts.t == NULL);
}

static void expect_numpy(const void *p, size_t n, int rc_want, const char *needle)
{
    pk_tensor t;
    ae_clear_error();
    int rc = pk_numpy_load_mem(p, n, "hostile-np.pkl", &t);
    expect(rc, rc_want, "hostile-np.pkl", needle);
    CHECK(t.data == NULL && t.name == NULL);
}

#define S(lit) lit, sizeof lit - 1 /* a byte string literal and its length */

/* Entry name of zip file path, read whole; NULL if absent. Caller frees. */
static uint8_t *zip_entry(const char *path, const char *name, size_t *size)
{
    zip_t *za = zip_open(path, ZIP_RDONLY, NULL);
    if (!za) return NULL;
    zip_stat_t st;
    uint8_t *buf = NULL;
    if (zip_stat(za, name, 0, &st) == 0 && (buf = malloc(st.size + 1))) {
        zip_file_t *zf = zip_fopen(za, name, 0);
        zip_int64_t r = zf ? zip_fread(zf, buf, st.size) : -1;
        if (zf) zip_fclose(zf);
        if (r != (zip_int64_t)st.size) {
            free(buf);
            buf = NULL;
        }
        *size = (size_t)st.size;
    }
    zip_discard(za);
    return buf;
}

typedef struct entry {
    const char *name;
    const void *data;
    size_t size;
} entry;

/* A zip of the entries, stored uncompressed as torch does; caller frees. */
static uint8_t *make_zip(const entry *e, int n, size_t *size)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    for (int i = 0; i < n; i++) {
        zip_source_t *fs = zip_source_buffer(za, e[i].data, e[i].size, 0);
        zip_int64_t idx = zip_file_add(za, e[i].name, fs, ZIP_FL_OVERWRITE);
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    zip_close(za);
    zip_source_open(src);
    zip_source_seek(src, 0, SEEK_END);
    *size = (size_t)zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    uint8_t *buf = malloc(*size);
    zip_source_read(src, buf, *size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    return buf;
}

/* A pickle being written, protocol 2 as torch.save writes it. */
typedef struct pbuf {
    uint8_t b[8192];
    size_t n;
} pbuf;

static void put(pbuf *p, const void *s, size_t n)
{
    memcpy(p->b + p->n, s, n);
    p->n += n;
}
static void put_op(pbuf *p, const char *s) { put(p, s, strlen(s)); }
static void put_str(pbuf *p, const char *s) /* BINUNICODE */
{
    uint32_t n = (uint32_t)strlen(s);
    uint8_t h[5] = {'X', (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    put(p, h, 5);
    put(p, s, n);
}
static void put_int(pbuf *p, int64_t v) /* LONG1 of 8 bytes: any int64 */
{
    uint8_t h[10] = {0x8a, 8};
    for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)v >> (8 * i));
    put(p, h, 10);
}
static void put_tuple(pbuf *p, int n, const int64_t *v)
{
    put_op(p, "(");
    for (int i = 0; i < n; i++) put_int(p, v[i]);
    put_op(p, "t");
}

/* One state dict entry name: _rebuild_tensor_v2(storage <type> <key> of numel, offset, size,
 * stride, False, OrderedDict()), inside an open SETITEMS. */
static void put_tensor(pbuf *p, const char *name, const char *type, const char *key,
                       int64_t numel, int64_t offset, int ndim, const int64_t *size,
                       const int64_t *stride)
{
    put_str(p, name);
    put_op(p, "ctorch._utils\n_rebuild_tensor_v2\n((");
    put_str(p, "storage");
    put_op(p, "ctorch\n");
    put_op(p, type);
    put_op(p, "\n");
    put_str(p, key);
    put_str(p, "cpu");
    put_int(p, numel);
    put_op(p, "tQ");
    put_int(p, offset);
    put_tuple(p, ndim, size);
    put_tuple(p, ndim, stride);
    put_op(p, "\x89" "ccollections\nOrderedDict\n)RtR");
}

static void begin_dict(pbuf *p) { p->n = 0; put_op(p, "\x80\x02" "ccollections\nOrderedDict\n)R("); }
static void end_dict(pbuf *p) { put_op(p, "u."); }

/* A torch.save-like zip of data.pkl, version and storages data/0 and data/1. */
static uint8_t *torch_zip(const pbuf *p, const void *s0, size_t n0, const void *s1, size_t n1,
                          size_t *size)
{
    entry e[] = {{"m/data.pkl", p->b, p->n}, {"m/version", "3\n", 2}, {"m/data/0", s0, n0},
                 {"m/data/1", s1, n1}};
    return make_zip(e, s1 ? 4 : s0 ? 3 : 2, size);
}

/* ---- the real files ---- */

static void test_laion(void)
{
    json_error_t jerr;
    json_t *ex = json_load_file(fixture(LAION "expected.json"), 0, &jerr);
    CHECK(ex != NULL);
    const char *variants[] = {"sac+logos+ava1-l14-linearMSE", "ava+logos-l14-reluMSE"};
    for (int v = 0; v < 2 && ex; v++) {
        char rel[256];
        snprintf(rel, sizeof rel, LAION "%s.pth", variants[v]);
        pk_tensors ts;
        int rc = pk_torch_load(fixture(rel), &ts);
        CHECK_MSG(rc == AE_OK, "%s: %s", rel, ae_last_error());
        CHECK_EQ_INT(ts.n, 10); /* five layers, weight and bias each */
        snprintf(rel, sizeof rel, LAION "%s.safetensors", variants[v]);
        st_file sf;
        CHECK_EQ_INT(st_open(&sf, fixture(rel)), AE_OK);
        CHECK_EQ_INT(sf.n_tensors, ts.n);
        /* the layers of expected.json: weight i is tensor 2i, its bias 2i + 1, in file order */
        json_t *layers = json_object_get(json_object_get(json_object_get(ex, "variants"),
                                                         variants[v]), "layers");
        CHECK_EQ_INT(json_array_size(layers), 5);
        for (size_t i = 0; i < json_array_size(layers) && 2 * i + 1 < (size_t)ts.n; i++) {
            json_t *l = json_array_get(layers, i);
            const char *wname = json_string_value(json_array_get(l, 0));
            int64_t rows = json_integer_value(json_array_get(json_array_get(l, 1), 0));
            int64_t cols = json_integer_value(json_array_get(json_array_get(l, 1), 1));
            const pk_tensor *w = &ts.t[2 * i], *b = &ts.t[2 * i + 1];
            CHECK_MSG(!strcmp(w->name, wname), "%s, expected %s", w->name, wname);
            CHECK(w->ndim == 2 && w->shape[0] == rows && w->shape[1] == cols);
            CHECK_EQ_INT(w->numel, rows * cols);
            char bname[128];
            snprintf(bname, sizeof bname, "%.*s.bias", (int)(strlen(wname) - 7), wname);
            CHECK_MSG(!strcmp(b->name, bname), "%s, expected %s", b->name, bname);
            CHECK(b->ndim == 1 && b->shape[0] == rows);
        }
        /* every tensor bit-exact against its safetensors twin */
        int exact = 0;
        for (int32_t i = 0; i < ts.n; i++) {
            const st_tensor *st = st_get(&sf, ts.t[i].name);
            if (!st || st->numel != ts.t[i].numel || st->ndim != ts.t[i].ndim) continue;
            float *ref = malloc((size_t)st->numel * sizeof(float));
            st_to_f32(st, ref);
            exact += !memcmp(ref, ts.t[i].data, (size_t)st->numel * sizeof(float)) &&
                     !memcmp(st->shape, ts.t[i].shape, (size_t)st->ndim * sizeof st->shape[0]);
            free(ref);
        }
        CHECK_EQ_INT(exact, 10);
        st_close(&sf);
        pk_tensors_free(&ts);
    }
    json_decref(ex);
}

static void test_hotel(void)
{
    const char *sides[] = {"positive", "negative"};
    for (int s = 0; s < 2; s++) {
        char rel[256];
        snprintf(rel, sizeof rel, "seed-hotel-bank/%s.f32", sides[s]);
        float *ref = fixture_f32(rel, 512);
        snprintf(rel, sizeof rel, "seed-hotel-bank/hotel_%s_prompt.pkl", sides[s]);
        pk_tensor t;
        int rc = pk_numpy_load(fixture(rel), &t);
        CHECK_MSG(rc == AE_OK, "%s: %s", rel, ae_last_error());
        CHECK(t.ndim == 1 && t.shape[0] == 512 && t.numel == 512 && t.name == NULL);
        CHECK(ref && t.data && !memcmp(ref, t.data, 512 * sizeof(float)));
        free(ref);
        pk_tensor_free(&t);
    }
    pk_tensor t;
    expect(pk_numpy_load("/nonexistent/x.pkl", &t), AE_ERR_NOT_FOUND, "/nonexistent/x.pkl",
           "No such file");
}

/* (i - 6) / 8 for i in 0..11: the values of every small generated file */
static float ramp(int i) { return (float)(i - 6) / 8; }

static int is_ramp(const pk_tensor *t, int64_t rows, int64_t cols, int transposed)
{
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols || t->numel != rows * cols)
        return 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            if (t->data[r * cols + c] != ramp((int)(transposed ? c * rows + r : r * cols + c)))
                return 0;
    return 1;
}

static void test_generated_torch(void)
{
    pk_tensors ts;
    int rc = pk_torch_load(DATA "mixed.pth", &ts);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
    const char *names[] = {"f32", "f16", "bf16", "f64", "t", "row", "scalar", "empty", "param"};
    CHECK_EQ_INT(ts.n, 9);
    for (int32_t i = 0; i < ts.n && i < 9; i++)
        CHECK_MSG(!strcmp(ts.t[i].name, names[i]), "tensor %d is %s, expected %s", i,
                  ts.t[i].name, names[i]);
    if (ts.n == 9) {
        for (int i = 0; i < 4; i++) CHECK_MSG(is_ramp(&ts.t[i], 3, 4, 0), "%s", names[i]);
        CHECK(is_ramp(&ts.t[4], 4, 3, 1)); /* the transpose, made contiguous */
        const pk_tensor *row = &ts.t[5];   /* f32[1]: offset 4 into f32's storage */
        CHECK(row->ndim == 1 && row->shape[0] == 4);
        for (int i = 0; i < 4; i++) CHECK(row->data[i] == ramp(4 + i));
        CHECK(ts.t[6].ndim == 0 && ts.t[6].numel == 1 && ts.t[6].data[0] == 2.5f);
        CHECK(ts.t[7].ndim == 2 && ts.t[7].shape[0] == 0 && ts.t[7].shape[1] == 3 &&
              ts.t[7].numel == 0 && ts.t[7].data != NULL);
        CHECK(ts.t[8].ndim == 1 && ts.t[8].numel == 2 && ts.t[8].data[0] == 1 &&
              ts.t[8].data[1] == 1);
    }
    pk_tensors_free(&ts);

    /* {"state_dict": {"enc": {"w": ...}}, "epoch": 7, "lr": 0.5, "name": "tiny"} */
    rc = pk_torch_load(DATA "nested.pth", &ts);
    CHECK_MSG(rc == AE_OK, "%s", ae_last_error());
    CHECK_EQ_INT(ts.n, 1);
    if (ts.n == 1) {
        CHECK(!strcmp(ts.t[0].name, "state_dict.enc.w") && is_ramp(&ts.t[0], 2, 4, 0));
    }
    pk_tensors_free(&ts);

    expect(pk_torch_load(DATA "long.pth", &ts), AE_ERR_UNSUPPORTED, "long.pth",
           "torch.LongStorage");
    CHECK(ts.n == 0 && ts.t == NULL);
    expect(pk_torch_load(DATA "legacy.pth", &ts), AE_ERR_FORMAT, "legacy.pth",
           "torch.save writes one since torch 1.6");
    expect(pk_torch_load("/nonexistent/m.pth", &ts), AE_ERR_IO, "/nonexistent/m.pth",
           "No such file");
}

static void test_generated_numpy(void)
{
    const char *files[] = {"np-f4-p0.pkl", "np-f4-p1.pkl", "np-f4-p2.pkl", "np-f4-p3.pkl",
                           "np-f4-p4.pkl", "np-f4-p5.pkl", "np-f2-p4.pkl", "np-f8be-p2.pkl",
                           "np-fortran-p2.pkl", "np-fortran-p5.pkl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, DATA "%s", files[i]);
        pk_tensor t;
        int rc = pk_numpy_load(path, &t);
        CHECK_MSG(rc == AE_OK, "%s: %s", files[i], ae_last_error());
        CHECK_MSG(rc == AE_OK && is_ramp(&t, 3, 4, 0), "%s: values", files[i]);
        pk_tensor_free(&t);
    }
    pk_tensor t;
    expect(pk_numpy_load(DATA "np-i8-p4.pkl", &t), AE_ERR_UNSUPPORTED, "np-i8-p4.pkl",
           "numpy dtype i8");
    pk_tensors ts; /* a numpy pickle is no state dict, and the other way round */
    uint8_t *p;
    size_t n;
    CHECK((p = read_file(DATA "np-f4-p2.pkl", &n)) != NULL);
    expect(pk_unpickle_state_dict_mem(p, n, "np.pkl", zero_fetch, NULL, &ts), AE_ERR_UNSUPPORTED,
           "np.pkl", "numpy.core.multiarray._reconstruct, which a state dict never needs");
    free(p);
    CHECK((p = zip_entry(DATA "mixed.pth", "mixed/data.pkl", &n)) != NULL);
    expect(pk_numpy_load_mem(p, n, "sd.pkl", &t), AE_ERR_UNSUPPORTED, "sd.pkl",
           "collections.OrderedDict, which a numpy array never needs");
    free(p);
}

/* ---- truncation ---- */

/* The storages zip_fetch read, for the length of one unpickling. */
static uint8_t *fetched[16];
static int n_fetched;

static void free_fetched(void)
{
    for (int i = 0; i < n_fetched; i++) free(fetched[i]);
    n_fetched = 0;
}

/* pk_storage_fn over the real .pth (ctx: its path), through libzip directly. */
static int zip_fetch(void *ctx, const char *key, uint64_t nbytes, const uint8_t **data)
{
    char name[128];
    snprintf(name, sizeof name, "archive/data/%s", key);
    size_t size = 0;
    if (n_fetched == 16) return ae_fail(AE_ERR_TOO_LARGE, "zip_fetch: too many storages");
    uint8_t *p = fetched[n_fetched++] = zip_entry(ctx, name, &size);
    if (!p || size != nbytes) return ae_fail(AE_ERR_FORMAT, "zip_fetch: %s", name);
    *data = p;
    return AE_OK;
}

static void test_truncated(void)
{
    const char *pth = fixture(LAION "sac+logos+ava1-l14-linearMSE.pth");
    size_t n = 0;
    uint8_t *pkl = zip_entry(pth, "archive/data.pkl", &n);
    CHECK(pkl != NULL && n == 1207);
    pk_tensors ts;
    int rc = pk_unpickle_state_dict_mem(pkl, n, "data.pkl", zip_fetch, (void *)pth, &ts);
    CHECK_MSG(rc == AE_OK && ts.n == 10, "%s", ae_last_error());
    CHECK(ts.n == 10 && ts.t[9].numel == 1 && !strcmp(ts.t[9].name, "layers.7.bias"));
    pk_tensors_free(&ts);
    free_fetched();
    /* every prefix fails cleanly, as truncation */
    int clean = 0;
    for (size_t k = 0; pkl && k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1); /* a copy of its own: reads past it are caught */
        memcpy(cut, pkl, k);
        rc = pk_unpickle_state_dict_mem(cut, k, "data.pkl", zip_fetch, (void *)pth, &ts);
        clean += rc == AE_ERR_FORMAT && strstr(ae_last_error(), "truncated") && ts.n == 0;
        free(cut);
    }
    CHECK_EQ_INT(clean, n);
    CHECK_EQ_INT(n_fetched, 0); /* no prefix reaches STOP, so none reads a storage */
    free(pkl);

    uint8_t *np = read_file(fixture("seed-hotel-bank/hotel_positive_prompt.pkl"), &n);
    CHECK(np != NULL && n == 2199);
    clean = 0;
    for (size_t k = 0; np && k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, np, k);
        pk_tensor t;
        rc = pk_numpy_load_mem(cut, k, "hotel.pkl", &t);
        clean += rc == AE_ERR_FORMAT && strstr(ae_last_error(), "truncated") && !t.data;
        free(cut);
    }
    CHECK_EQ_INT(clean, n);
    free(np);

    /* the whole .pth cut short: never a zip any more */
    uint8_t *z = read_file(pth, &n);
    CHECK(z != NULL);
    size_t cuts[] = {0, 1, 4, 22, 30, 100, 1000, 4096, n / 2, n - 1000, n - 100, n - 22, n - 1};
    for (size_t i = 0; z && i < sizeof cuts / sizeof cuts[0]; i++) {
        rc = pk_torch_load_mem(z, cuts[i], "cut.pth", &ts);
        CHECK_MSG(rc == AE_ERR_FORMAT, "cut at %zu: rc %d (%s)", cuts[i], rc, ae_last_error());
        CHECK_STR_CONTAINS(ae_last_error(), "cut.pth");
        CHECK(ts.n == 0);
    }
    /* one byte of storage data/0 flipped: the CRC catches it */
    z[300000] ^= 0x40;
    expect(pk_torch_load_mem(z, n, "flipped.pth", &ts), AE_ERR_FORMAT, "flipped.pth",
           "data/0: CRC error");
    free(z);
}

/* ---- hostile pickles ---- */

static void test_refused_globals(void)
{
    /* what pickle.dumps of an object whose __reduce__ returns (os.system, ('id',)) looks like,
     * at protocols 0 and 4, and the other classics */
    expect_dict(S("cposix\nsystem\n(Vid\ntR."), AE_ERR_UNSUPPORTED,
                "pickle calls posix.system, which a state dict never needs: refused");
    expect_dict(S("cos\nsystem\n(Vid\ntR."), AE_ERR_UNSUPPORTED, "os.system");
    expect_dict(S("\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system"
                  "\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."),
                AE_ERR_UNSUPPORTED, "posix.system");
    expect_dict(S("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x01" "1\x85R."),
                AE_ERR_UNSUPPORTED, "builtins.eval, which a state dict never needs");
    expect_dict(S("cbuiltins\nexec\n."), AE_ERR_UNSUPPORTED, "builtins.exec");
    expect_dict(S("cbuiltins\ngetattr\n."), AE_ERR_UNSUPPORTED, "builtins.getattr");
    expect_dict(S("c__builtin__\napply\n."), AE_ERR_UNSUPPORTED, "__builtin__.apply");
    expect_dict(S("csubprocess\nPopen\n."), AE_ERR_UNSUPPORTED, "subprocess.Popen");
    expect_dict(S("c__main__\nEvil\n)R."), AE_ERR_UNSUPPORTED, "__main__.Evil");
    expect_dict(S("ctorch\nload\n."), AE_ERR_UNSUPPORTED, "torch.load");
    /* a newline in a STACK_GLOBAL name stays out of the one-line message */
    expect_dict(S("\x8c\x03o\ns\x8c\x06system\x93."), AE_ERR_UNSUPPORTED, "o?s.system");
    expect_numpy(S("cnumpy\nload\n."), AE_ERR_UNSUPPORTED,
                 "numpy.load, which a numpy array never needs");
    expect_numpy(S("cnumpy\ntestfoo\n."), AE_ERR_UNSUPPORTED, "numpy.testfoo");
    /* allowed names on the wrong arguments, or not callable here */
    expect_dict(S("K\x01)R."), AE_ERR_FORMAT, "REDUCE calls a int, which is not callable");
    expect_dict(S("ccollections\nOrderedDict\nK\x01R."), AE_ERR_FORMAT,
                "REDUCE with arguments in a int");
    expect_dict(S("ccollections\nOrderedDict\nK\x01\x85R."), AE_ERR_FORMAT,
                "OrderedDict called with arguments");
    expect_dict(S("ctorch\nFloatStorage\n)R."), AE_ERR_UNSUPPORTED,
                "REDUCE calls torch.FloatStorage, which this reader never calls");
    expect_dict(S("ctorch._utils\n_rebuild_tensor_v2\nK\x01\x85R."), AE_ERR_FORMAT,
                "_rebuild_tensor_v2(int): expected (storage");
    expect_dict(S("ctorch._utils\n_rebuild_parameter\nK\x01\x88}\x87R."), AE_ERR_FORMAT,
                "_rebuild_parameter(int, bool, dict): expected (tensor, bool, dict)");
    expect_numpy(S("c_codecs\nencode\nVab\nVutf-8\n\x86R."), AE_ERR_FORMAT,
                 "_codecs.encode(str, str): expected (str, 'latin1')");
    expect_numpy(S("c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacVlatin1\n\x86R."),
                 AE_ERR_FORMAT, "not Latin-1");
    expect_numpy(S("cnumpy\ndtype\nVO8\n\x89\x88\x87R."), AE_ERR_UNSUPPORTED, "numpy dtype O8");
    expect_numpy(S("cnumpy\ndtype\nVf4\n\x89\x88\x87R(K\x03V<\nNVnames\nNJ\xff\xff\xff\xff"
                   "J\xff\xff\xff\xffK\x00tb."),
                 AE_ERR_UNSUPPORTED, "structured or subarray numpy dtype");
    /* classes are never instantiated; set, ext and out-of-band opcodes are refused */
    expect_dict(S("\x80\x02" "ccollections\nOrderedDict\n)\x81" "."), AE_ERR_UNSUPPORTED,
                "creates an instance of a class");
    expect_dict(S("(ios\nsystem\n."), AE_ERR_UNSUPPORTED, "creates an instance of a class");
    expect_dict(S("\x80\x05\x97."), AE_ERR_UNSUPPORTED, "opcode 0x97 is not supported");
    expect_dict(S("\x80\x02\x82\x01."), AE_ERR_UNSUPPORTED, "opcode 0x82 is not supported");
    expect_dict(S("S'x'\n."), AE_ERR_UNSUPPORTED, "opcode 0x53 is not supported");
    expect_dict(S("\x80\x06."), AE_ERR_UNSUPPORTED, "pickle protocol 6");
    expect_dict(S("\xff"), AE_ERR_FORMAT, "pickle byte 0: unknown opcode 0xff");
}

static void test_malformed(void)
{
    /* the machine's bounds */
    char marks[300];
    memset(marks, '(', sizeof marks);
    expect_dict(marks, sizeof marks, AE_ERR_TOO_LARGE, "MARKs nested deeper than 256");
    expect_dict(S(""), AE_ERR_FORMAT, "pickle byte 0: truncated");
    expect_dict(S("."), AE_ERR_FORMAT, "stack underflow");
    expect_dict(S("t."), AE_ERR_FORMAT, "no MARK to close");
    expect_dict(S("(K\x01\x86."), AE_ERR_FORMAT, "stack underflow"); /* a MARK hides values */
    expect_dict(S("K\x01(s."), AE_ERR_FORMAT, "stack underflow");
    expect_dict(S("K\x01K\x02K\x03s."), AE_ERR_FORMAT, "SETITEM on a int");
    expect_dict(S("](K\x01u."), AE_ERR_FORMAT, "SETITEMS on a list");
    expect_dict(S("K\x01K\x02" "a."), AE_ERR_FORMAT, "APPEND to a int");
    expect_dict(S("(K\x01" "d."), AE_ERR_FORMAT, "DICT of an odd number");
    expect_dict(S("K\x01" "b."), AE_ERR_FORMAT, "stack underflow");
    expect_dict(S("}K\x01" "b."), AE_ERR_FORMAT, "BUILD on a dict"); /* only OrderedDict() */
    expect_dict(S("X\xff\xff\xff\xff"), AE_ERR_FORMAT, "truncated (4294967295 more bytes");
    expect_dict(S("\x8e\xff\xff\xff\xff\xff\xff\xff\x7f"), AE_ERR_FORMAT, "truncated");
    expect_dict(S("T\xff\xff\xff\xff" "abc"), AE_ERR_FORMAT, "a negative length");
    expect_dict(S("\x8b\xe8\x03\x00\x00"), AE_ERR_UNSUPPORTED, "does not fit 64 bits");
    expect_dict(S("I99999999999999999999\n."), AE_ERR_UNSUPPORTED, "does not fit 64 bits");
    expect_dict(S("I12x\n."), AE_ERR_FORMAT, "a malformed integer");
    expect_dict(S("F1.5e\n."), AE_ERR_FORMAT, "a malformed float");
    expect_dict(S("V\\u12\n."), AE_ERR_FORMAT, "malformed \\u escape");
    expect_dict(S("V\\ud800\n."), AE_ERR_FORMAT, "no Unicode character");
    expect_dict(S("\x95\x10\x00\x00\x00\x00\x00\x00\x00N."), AE_ERR_FORMAT,
                "truncated (a frame of 16 bytes, 2 left)");
    expect_dict(S("h\x05."), AE_ERR_FORMAT, "memo entry 5 is not set");
    expect_dict(S("N\x94h\x01."), AE_ERR_FORMAT, "memo entry 1 is not set");
    expect_dict(S("Nr\x00\x00\x00\x80."), AE_ERR_TOO_LARGE, "memo index 2147483648");
    expect_dict(S("Np-1\n."), AE_ERR_FORMAT, "a negative memo index");
    expect_dict(S("\x8c\x01" "aK\x01\x93."), AE_ERR_FORMAT, "STACK_GLOBAL of a str and a int");
    char line[5000];
    memset(line, 'x', sizeof line);
    line[0] = 'V';
    expect_dict(line, sizeof line, AE_ERR_TOO_LARGE, "longer than 4096 bytes");
    expect_dict(S("K\x01."), AE_ERR_FORMAT, "the pickle holds a int, not a state dict");
    expect_numpy(S("}."), AE_ERR_FORMAT, "the pickle holds a dict, not a numpy array");
    expect_numpy(S("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01"
                   "b\x87R."),
                 AE_ERR_FORMAT, "numpy array without data");
    expect_numpy(S("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
                   "C\x01" "b\x87R(K\x01K\x03\x85" "cnumpy\ndtype\nVf4\n\x89\x88\x87R"
                   "(K\x03V<\nNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" "C\x08"
                   "abcdefghtb."),
                 AE_ERR_FORMAT, "a numpy array of shape [3] and F32 holding 8 bytes");
    expect_dict(S("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\n."), AE_ERR_UNSUPPORTED,
                "never needs");
    /* a persistent id in a numpy pickle, a malformed one in a state dict */
    expect_numpy(S("K\x01Q."), AE_ERR_UNSUPPORTED, "a persistent id, which a numpy array");
    expect_dict(S("K\x01Q."), AE_ERR_FORMAT, "a persistent id that is not ('storage'");
    /* a storage key that could be a path */
    pbuf p;
    begin_dict(&p);
    int64_t one = 1;
    put_tensor(&p, "w", "FloatStorage", "../x", 1, 0, 1, &one, &one);
    end_dict(&p);
    expect_dict(p.b, p.n, AE_ERR_FORMAT, "a storage key that is not a short plain name");

    /* state dict structure: a dict reached twice (shared or a cycle), deep nesting, keys */
    expect_dict(S("}q\x00X\x01\x00\x00\x00" "a}q\x01sX\x01\x00\x00\x00" "bh\x01s."),
                AE_ERR_FORMAT, "a dict that appears twice");
    expect_dict(S("}q\x00X\x01\x00\x00\x00" "ah\x00s."), AE_ERR_FORMAT, "appears twice");
    p.n = 0;
    put_op(&p, "}");
    for (int i = 0; i < 20; i++) put_str(&p, "a"), put_op(&p, "}");
    for (int i = 0; i < 20; i++) put_op(&p, "s");
    put_op(&p, ".");
    expect_dict(p.b, p.n, AE_ERR_TOO_LARGE, "nested deeper than 16 dicts");
    expect_dict(S("}K\x01}s."), AE_ERR_FORMAT, "a state dict key that is int");
    expect_dict(S("}X\x03\x00\x00\x00" "a\x00" "b}s."), AE_ERR_FORMAT, "text with a NUL byte");
    /* two names that flatten alike: {"a.b": t, "a": {"b": t}} */
    begin_dict(&p);
    put_tensor(&p, "a.b", "FloatStorage", "0", 4, 0, 1, (int64_t[]){4}, &one);
    put_str(&p, "a");
    put_op(&p, "}");
    put_tensor(&p, "b", "FloatStorage", "0", 4, 0, 1, (int64_t[]){4}, &one);
    put_op(&p, "s");
    end_dict(&p);
    expect_dict(p.b, p.n, AE_ERR_FORMAT, "two tensors named a.b");
    /* non-tensor values are skipped; no source for a storage */
    begin_dict(&p);
    put_str(&p, "epoch");
    put_int(&p, 3);
    put_tensor(&p, "w", "FloatStorage", "0", 4, 0, 1, (int64_t[]){4}, &one);
    end_dict(&p);
    pk_tensors ts;
    int rc = pk_unpickle_state_dict_mem(p.b, p.n, "ok.pkl", zero_fetch, NULL, &ts);
    CHECK_MSG(rc == AE_OK && ts.n == 1 && !strcmp(ts.t[0].name, "w") && ts.t[0].numel == 4 &&
                  ts.t[0].data[3] == 0,
              "%s", ae_last_error());
    pk_tensors_free(&ts);
    expect(pk_unpickle_state_dict_mem(p.b, p.n, "nosrc.pkl", NULL, NULL, &ts), AE_ERR_NOT_FOUND,
           "nosrc.pkl", "no source for storage 0");
}

/* One tensor "w" over a float32 storage of numel elements, checked against the storage. */
static int one_tensor(const char *type, int64_t numel, int64_t offset, int ndim,
                      const int64_t *size, const int64_t *stride)
{
    pbuf p;
    begin_dict(&p);
    put_tensor(&p, "w", type, "0", numel, offset, ndim, size, stride);
    end_dict(&p);
    pk_tensors ts;
    ae_clear_error();
    int rc = pk_unpickle_state_dict_mem(p.b, p.n, "hostile.pkl", zero_fetch, NULL, &ts);
    CHECK(rc == AE_OK || ts.n == 0);
    pk_tensors_free(&ts);
    return rc;
}

static void expect_geom(int rc, int rc_want, const char *needle)
{
    expect(rc, rc_want, "hostile.pkl", needle);
}

static void test_tensor_geometry(void)
{
    int64_t one = 1, two[2] = {2, 3}, st[2] = {3, 1};
    CHECK_EQ_INT(one_tensor("FloatStorage", 6, 0, 2, two, st), AE_OK);
    expect_geom(one_tensor("FloatStorage", 4, 4, 1, &one, &one), AE_ERR_FORMAT,
           "a tensor at offset 4 reaching past its storage 0 of 4 elements");
    expect_geom(one_tensor("FloatStorage", 5, 0, 2, two, st), AE_ERR_FORMAT, "reaching past");
    expect_geom(one_tensor("FloatStorage", 6, 1, 2, two, st), AE_ERR_FORMAT, "reaching past");
    int64_t big[2] = {(int64_t)1 << 40, 2}, bst[2] = {(int64_t)1 << 40, 1}; /* extent 2^80 */
    expect_geom(one_tensor("FloatStorage", 6, 0, 2, big, bst), AE_ERR_FORMAT, "reaching past");
    int64_t huge[3] = {INT64_MAX / 2, INT64_MAX / 2, 4}, hst[3] = {0, 0, 0};
    expect_geom(one_tensor("FloatStorage", 6, 0, 3, huge, hst), AE_ERR_TOO_LARGE, "2^63 elements");
    int64_t eight = 8, zero = 0; /* stride 0: an expanded view */
    expect_geom(one_tensor("FloatStorage", 4, 0, 1, &eight, &zero), AE_ERR_UNSUPPORTED,
           "overlapping strides");
    int64_t neg = -1;
    expect_geom(one_tensor("FloatStorage", 4, 0, 1, &one, &neg), AE_ERR_FORMAT,
           "size and stride are not two tuples of non-negative ints");
    expect_geom(one_tensor("FloatStorage", 4, -1, 1, &one, &one), AE_ERR_FORMAT,
           "_rebuild_tensor_v2(storage, int, tuple, tuple, bool, dict): expected");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    expect_geom(one_tensor("FloatStorage", 4, 0, 9, nine, nine), AE_ERR_UNSUPPORTED,
           "a tensor of 9 dimensions");
    expect_geom(one_tensor("FloatStorage", (int64_t)1 << 62, 0, 1, &one, &one), AE_ERR_TOO_LARGE,
           "storage 0 of 4611686018427387904 elements");
    expect_geom(one_tensor("IntStorage", 4, 0, 1, &one, &one), AE_ERR_UNSUPPORTED,
           "torch.IntStorage: only FloatStorage");
    int64_t empty = 0; /* an empty tensor may sit anywhere */
    CHECK_EQ_INT(one_tensor("FloatStorage", 0, 5, 1, &empty, &one), AE_OK);
}

/* Hand-made zips: storages of each type and layout read through the container, and every
 * missing or inconsistent entry refused. */
static void test_zip(void)
{
    uint16_t half[6], bf[6];
    double dbl[6];
    for (int i = 0; i < 6; i++) {
        float f = ramp(i);
        uint32_t b;
        memcpy(&b, &f, 4);
        bf[i] = (uint16_t)(b >> 16);
        dbl[i] = f;
        /* (i - 6) / 8 in IEEE half: exact, via the float's exponent and top mantissa bits */
        half[i] = f == 0 ? 0 : (uint16_t)((b >> 16 & 0x8000) | (((b >> 23 & 0xff) - 112) << 10) |
                                          (b >> 13 & 0x3ff));
    }
    int64_t sz[2] = {3, 2}, stt[2] = {1, 3}, six = 6, one = 1;
    const char *types[] = {"HalfStorage", "BFloat16Storage", "DoubleStorage"};
    const void *stores[] = {half, bf, dbl};
    size_t bytes[] = {sizeof half, sizeof bf, sizeof dbl};
    for (int k = 0; k < 3; k++) {
        pbuf p;
        begin_dict(&p);
        put_tensor(&p, "flat", types[k], "0", 6, 0, 1, &six, &one);
        put_tensor(&p, "t", types[k], "0", 6, 0, 2, sz, stt); /* the transpose of [2, 3] */
        end_dict(&p);
        size_t n;
        uint8_t *z = torch_zip(&p, stores[k], bytes[k], NULL, 0, &n);
        pk_tensors ts;
        int rc = pk_torch_load_mem(z, n, "typed.pth", &ts);
        CHECK_MSG(rc == AE_OK && ts.n == 2, "%s: %s", types[k], ae_last_error());
        if (rc == AE_OK && ts.n == 2) {
            int ok = 1;
            for (int i = 0; i < 6; i++) ok &= ts.t[0].data[i] == ramp(i);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 2; c++) ok &= ts.t[1].data[r * 2 + c] == ramp(c * 3 + r);
            CHECK_MSG(ok, "%s values", types[k]);
        }
        pk_tensors_free(&ts);
        free(z);
    }

    /* inconsistent or missing entries */
    float f4[4] = {1, 2, 3, 4};
    pbuf p;
    begin_dict(&p);
    int64_t four = 4;
    put_tensor(&p, "w", "FloatStorage", "0", 4, 0, 1, &four, &one);
    end_dict(&p);
    pk_tensors ts;
    size_t n;
    uint8_t *z = torch_zip(&p, f4, 12, NULL, 0, &n);
    expect(pk_torch_load_mem(z, n, "short.pth", &ts), AE_ERR_FORMAT, "short.pth",
           "m/data/0 holds 12 bytes, data.pkl declares 16");
    free(z);
    z = torch_zip(&p, NULL, 0, NULL, 0, &n);
    expect(pk_torch_load_mem(z, n, "nostore.pth", &ts), AE_ERR_FORMAT, "nostore.pth",
           "m/data/0 is missing");
    free(z);
    entry nover[] = {{"m/data.pkl", p.b, p.n}, {"m/data/0", f4, 16}};
    z = make_zip(nover, 2, &n);
    expect(pk_torch_load_mem(z, n, "nover.pth", &ts), AE_ERR_FORMAT, "nover.pth",
           "m/version is missing");
    free(z);
    entry badver[] = {{"m/data.pkl", p.b, p.n}, {"m/version", "x3\n", 3}, {"m/data/0", f4, 16}};
    z = make_zip(badver, 3, &n);
    expect(pk_torch_load_mem(z, n, "badver.pth", &ts), AE_ERR_FORMAT, "badver.pth",
           "m/version is not a version number");
    free(z);
    entry big[] = {{"m/data.pkl", p.b, p.n}, {"m/.data/version", "6\n", 2},
                   {"m/byteorder", "big", 3}, {"m/data/0", f4, 16}};
    z = make_zip(big, 4, &n);
    expect(pk_torch_load_mem(z, n, "big.pth", &ts), AE_ERR_UNSUPPORTED, "big.pth",
           "big-endian checkpoint");
    free(z);
    big[2].data = "little"; /* .data/version and an explicit byte order are fine */
    big[2].size = 6;
    z = make_zip(big, 4, &n);
    CHECK_EQ_INT(pk_torch_load_mem(z, n, "little.pth", &ts), AE_OK);
    CHECK(ts.n == 1 && ts.t[0].numel == 4 && ts.t[0].data[3] == 4);
    pk_tensors_free(&ts);
    free(z);
    entry nopkl[] = {{"m/version", "3\n", 2}, {"data.pkl", p.b, p.n}};
    z = make_zip(nopkl, 2, &n);
    expect(pk_torch_load_mem(z, n, "nopkl.pth", &ts), AE_ERR_FORMAT, "nopkl.pth",
           "no <folder>/data.pkl");
    free(z);
    expect(pk_torch_load_mem("PK", 2, "tiny.pth", &ts), AE_ERR_FORMAT, "tiny.pth", "zip");
    /* the pickle's own refusal comes through with the file's name */
    pbuf evil = {.n = 0};
    put_op(&evil, "cos\nsystem\n(Vrm -rf /\ntR.");
    z = torch_zip(&evil, NULL, 0, NULL, 0, &n);
    expect(pk_torch_load_mem(z, n, "evil.pth", &ts), AE_ERR_UNSUPPORTED, "evil.pth",
           "pickle calls os.system, which a state dict never needs: refused");
    free(z);
}

int main(void)
{
    test_laion();
    test_hotel();
    test_generated_torch();
    test_generated_numpy();
    test_truncated();
    test_refused_globals();
    test_malformed();
    test_tensor_geometry();
    test_zip();
    return test_summary();
}
