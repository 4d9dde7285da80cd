/*
 * pickle.c — a restricted unpickler: PyTorch state dicts (data.pkl of torch.save's zip) and
 * pickled numpy arrays, read without executing anything.
 *
 * A pickle is a program for a stack machine. Each opcode byte, with its inline arguments,
 * pushes a value (None, bools, ints, floats, str, bytes), builds a tuple, list or dict from the
 * values above the last MARK, appends or sets items, stores the top of the stack in a memo or
 * pushes a memo entry again (shared objects), names a global (module and name, GLOBAL or
 * STACK_GLOBAL), applies a callable to an argument tuple (REDUCE), sets an object's state
 * (BUILD) or asks the loader for a persistent object (BINPERSID); STOP returns the top of the
 * stack. Protocols 2 to 5 use binary opcodes (5 adds FRAME and in-band buffers), 0 and 1 text
 * ones. torch.save pickles a state dict as
 *   OrderedDict() SETITEMS(name: _rebuild_tensor_v2(BINPERSID(('storage', torch.FloatStorage,
 *       key, location, numel)), offset, size, stride, requires_grad, OrderedDict()), ...)
 *   BUILD({'_metadata': ...})
 * and pickle.dump of a numpy array gives
 *   _reconstruct(ndarray, (0,), b'b') BUILD((1, shape, dtype('f4', False, True)
 *       BUILD((3, '<', None, None, None, -1, -1, 0)), is_fortran, raw bytes))
 * or, at protocol 5, _frombuffer(bytearray(raw), dtype, shape, order); below protocol 3 the
 * raw bytes arrive as _codecs.encode(str, 'latin1').
 *
 * Here no callable is ever called. GLOBAL resolves only names on an allow-list (per kind of
 * file) to a token, anything else is refused naming module.name; REDUCE and BUILD interpret
 * those tokens on exactly the argument shapes the files above use. Every value is an object
 * owned by the machine (one list, freed together on every path); the stack, the MARK nesting,
 * the memo and the number of objects and container items are bounded, every inline length is
 * checked against the bytes left, and nothing recurses over the object graph except the
 * flattening of nested state dicts, which is depth-bounded and visits each dict once.
 * Tensors are checked against their storage (offset + extent inside it, no more elements
 * than it holds) and converted to C-contiguous float32 only after STOP, through the caller's
 * storage callback (torchfile.c reads the zip entries).
 */
#define _GNU_SOURCE
#include "pickle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fileio.h"
#include "safetensors.h"

#define MAX_STACK (1u << 20)
#define MAX_MARKS 256           /* MARK nesting: state dicts use 3 */
#define MAX_MEMO (1u << 20)     /* memo indexes */
#define MAX_OBJECTS (1u << 22)  /* objects plus container items */
#define MAX_DEPTH 16            /* nested dicts of a state dict */
#define MAX_NAME 1024           /* a flattened tensor name */
#define MAX_LINE 4096           /* a protocol-0 text argument */

enum { KIND_TORCH, KIND_NUMPY }; /* what the pickle must hold */

typedef enum {
    O_NONE, O_BOOL, O_INT, O_FLOAT, O_STR, O_BYTES, O_TUPLE, O_LIST, O_DICT,
    O_GLOBAL, O_STORAGE, O_TENSOR, O_ARRAY, O_DTYPE
} otype;

static const char *const type_names[] = {"None", "bool", "int", "float", "str", "bytes",
                                         "tuple", "list", "dict", "global", "storage",
                                         "tensor", "ndarray", "dtype"};

typedef struct obj obj;
struct obj {
    otype type;
    union {
        int64_t i;                            /* O_BOOL, O_INT */
        double f;                             /* O_FLOAT */
        struct { char *p; size_t n; } s;      /* O_STR (UTF-8), O_BYTES: n bytes + a NUL */
        struct {
            obj **v;                          /* O_DICT: key, value, key, value, ... */
            size_t n, cap;
            int odict, seen;                  /* made by OrderedDict(); reached by flattening */
        } c;                                  /* O_TUPLE, O_LIST, O_DICT */
        int g;                                /* O_GLOBAL: index in globals[] */
        struct { st_dtype dt; const char *key; int64_t numel; } st; /* key: an O_STR's text */
        struct {
            const obj *st;
            int64_t offset, numel;
            int32_t ndim;
            int64_t shape[PK_MAX_DIMS], stride[PK_MAX_DIMS]; /* in elements */
        } t;                                  /* O_TENSOR */
        struct { st_dtype dt; int big; } d;   /* O_DTYPE */
        struct {
            st_dtype dt;
            int big, fortran, built;
            int32_t ndim;
            int64_t shape[PK_MAX_DIMS], numel;
            const uint8_t *data;              /* an O_BYTES' bytes */
        } a;                                  /* O_ARRAY */
    } u;
};

/* ---- the allow-list ------------------------------------------------------------------------ */

typedef enum {
    F_ODICT, F_REBUILD_TENSOR, F_REBUILD_PARAM, F_STORAGE, F_RECONSTRUCT, F_NDARRAY, F_DTYPE,
    F_FROMBUFFER, F_ENCODE
} gfn;

#define TORCH (1u << KIND_TORCH)
#define NUMPY (1u << KIND_NUMPY)
#define NO_DTYPE (-1) /* a storage type known to torch that this reader refuses */

static const struct global {
    const char *module, *name;
    gfn fn;
    int dt;          /* F_STORAGE: its st_dtype or NO_DTYPE */
    unsigned kinds;  /* the files it may appear in */
} globals[] = {
    {"collections", "OrderedDict", F_ODICT, 0, TORCH},
    {"torch._utils", "_rebuild_tensor_v2", F_REBUILD_TENSOR, 0, TORCH},
    {"torch._utils", "_rebuild_parameter", F_REBUILD_PARAM, 0, TORCH},
    {"torch", "FloatStorage", F_STORAGE, ST_F32, TORCH},
    {"torch", "HalfStorage", F_STORAGE, ST_F16, TORCH},
    {"torch", "BFloat16Storage", F_STORAGE, ST_BF16, TORCH},
    {"torch", "DoubleStorage", F_STORAGE, ST_F64, TORCH},
    {"torch", "LongStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "IntStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "ShortStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "CharStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "ByteStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "BoolStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "ComplexFloatStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "ComplexDoubleStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "QInt8Storage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "QUInt8Storage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "QInt32Storage", F_STORAGE, NO_DTYPE, TORCH},
    {"torch", "UntypedStorage", F_STORAGE, NO_DTYPE, TORCH},
    {"numpy.core.multiarray", "_reconstruct", F_RECONSTRUCT, 0, NUMPY},
    {"numpy._core.multiarray", "_reconstruct", F_RECONSTRUCT, 0, NUMPY}, /* numpy >= 2 */
    {"numpy", "ndarray", F_NDARRAY, 0, NUMPY},
    {"numpy", "dtype", F_DTYPE, 0, NUMPY},
    {"numpy.core.numeric", "_frombuffer", F_FROMBUFFER, 0, NUMPY},      /* protocol 5 */
    {"numpy._core.numeric", "_frombuffer", F_FROMBUFFER, 0, NUMPY},
    {"_codecs", "encode", F_ENCODE, 0, TORCH | NUMPY}, /* bytes below protocol 3 */
};
#define N_GLOBALS ((int)(sizeof globals / sizeof globals[0]))

/* ---- the machine --------------------------------------------------------------------------- */

typedef struct vm {
    const uint8_t *base, *p, *end;
    size_t op;                 /* offset of the opcode being run, for messages */
    const char *label;
    int kind;
    obj **stack;
    size_t sp, stack_cap;
    size_t marks[MAX_MARKS];   /* stack heights at each open MARK */
    int n_marks;
    obj **memo;
    size_t memo_cap, memo_count;
    obj **all;                 /* every object, freed by vm_free */
    size_t n_all, all_cap;
    size_t budget;             /* objects plus container items still allowed */
    pk_storage_fn fetch;
    void *ctx;
} vm;

static int fail(vm *m, int rc, const char *fmt, ...) AE_PRINTF(3, 4);
static int fail(vm *m, int rc, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ae_fail(rc, "%s: pickle byte %zu: %s", m->label, m->op, msg);
}

static int nomem(vm *m)
{
    return ae_fail(AE_ERR_NOMEM, "%s: out of memory reading the pickle", m->label);
}

/* Copies n bytes of s for a message, bytes outside printable ASCII as '?', at most 80. */
static const char *printable(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (; k < n && k < 80 && k + 1 < cap; k++)
        dst[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
    dst[k] = 0;
    return dst;
}

/* Vector p with room for need (>= 1) elements of elsize bytes, its capacity in *cap: p itself,
 * moved, or NULL if out of memory (p is then unchanged). */
static void *grow(void *p, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap) return p;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(p, nc * elsize);
    if (q) *cap = nc;
    return q;
}

static int spend(vm *m, size_t n)
{
    if (n > m->budget)
        return fail(m, AE_ERR_TOO_LARGE, "more than %u objects and items", MAX_OBJECTS);
    m->budget -= n;
    return AE_OK;
}

static int new_obj(vm *m, otype type, obj **out)
{
    int rc = spend(m, 1);
    if (rc) return rc;
    obj **all = grow(m->all, &m->all_cap, m->n_all + 1, sizeof *all);
    if (!all) return nomem(m);
    m->all = all;
    obj *o = calloc(1, sizeof *o);
    if (!o) return nomem(m);
    o->type = type;
    m->all[m->n_all++] = o;
    *out = o;
    return AE_OK;
}

static int push(vm *m, obj *o)
{
    if (m->sp >= MAX_STACK) return fail(m, AE_ERR_TOO_LARGE, "stack deeper than %u", MAX_STACK);
    obj **st = grow(m->stack, &m->stack_cap, m->sp + 1, sizeof *st);
    if (!st) return nomem(m);
    m->stack = st;
    m->stack[m->sp++] = o;
    return AE_OK;
}

static int push_new(vm *m, otype type, obj **out)
{
    obj *o = NULL;
    int rc = new_obj(m, type, &o);
    if (!rc) rc = push(m, o);
    if (!rc && out) *out = o;
    return rc;
}

static int push_int(vm *m, otype type, int64_t v)
{
    obj *o = NULL;
    int rc = push_new(m, type, &o);
    if (!rc) o->u.i = v;
    return rc;
}

/* The stack height at the last MARK: values below it belong to an outer frame. */
static size_t frame_base(const vm *m)
{
    return m->n_marks ? m->marks[m->n_marks - 1] : 0;
}

static int pop(vm *m, obj **out)
{
    if (m->sp <= frame_base(m)) return fail(m, AE_ERR_FORMAT, "stack underflow");
    *out = m->stack[--m->sp];
    return AE_OK;
}

static int top(vm *m, obj **out)
{
    if (m->sp <= frame_base(m)) return fail(m, AE_ERR_FORMAT, "stack underflow");
    *out = m->stack[m->sp - 1];
    return AE_OK;
}

static int pop_mark(vm *m, size_t *base)
{
    if (!m->n_marks) return fail(m, AE_ERR_FORMAT, "no MARK to close");
    *base = m->marks[--m->n_marks];
    return AE_OK;
}

/* Appends n values to container c. */
static int add_items(vm *m, obj *c, obj *const *v, size_t n)
{
    if (!n) return AE_OK;
    int rc = spend(m, n);
    if (rc) return rc;
    obj **items = grow(c->u.c.v, &c->u.c.cap, c->u.c.n + n, sizeof *items);
    if (!items) return nomem(m);
    c->u.c.v = items;
    memcpy(c->u.c.v + c->u.c.n, v, n * sizeof *v);
    c->u.c.n += n;
    return AE_OK;
}

/* Replaces the values from stack height base up by one container holding them. */
static int make_container(vm *m, otype type, size_t base)
{
    obj *c = NULL;
    int rc = new_obj(m, type, &c);
    if (!rc && m->sp > base) rc = add_items(m, c, m->stack + base, m->sp - base); /* (stack may be NULL) */
    if (rc) return rc;
    m->sp = base;
    return push(m, c);
}

/* ---- inline arguments ---------------------------------------------------------------------- */

static int take(vm *m, uint64_t n, const uint8_t **p)
{
    size_t left = (size_t)(m->end - m->p);
    if (n > left)
        return fail(m, AE_ERR_FORMAT, "truncated (%llu more bytes needed, %zu left)",
                    (unsigned long long)n, left);
    *p = m->p;
    m->p += n;
    return AE_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A little-endian length of n bytes. */
static int take_len(vm *m, int n, uint64_t *len)
{
    const uint8_t *p = NULL;
    int rc = take(m, (uint64_t)n, &p);
    if (!rc) *len = le(p, n);
    return rc;
}

/* A protocol-0 argument: the bytes up to the next newline (not included). */
static int take_line(vm *m, const char **s, size_t *n)
{
    size_t left = (size_t)(m->end - m->p);
    size_t look = left < MAX_LINE + 1 ? left : MAX_LINE + 1;
    const uint8_t *nl = memchr(m->p, '\n', look);
    if (!nl) {
        if (look == left) return fail(m, AE_ERR_FORMAT, "truncated (a line without its newline)");
        return fail(m, AE_ERR_TOO_LARGE, "a text argument longer than %u bytes", MAX_LINE);
    }
    *s = (const char *)m->p;
    *n = (size_t)(nl - m->p);
    m->p = nl + 1;
    return AE_OK;
}

/* A decimal integer of a protocol-0 line: optional sign, digits, and for LONG an 'L'. */
static int parse_int(vm *m, const char *s, size_t n, int64_t *v)
{
    if (n && s[n - 1] == 'L') n--;
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return fail(m, AE_ERR_FORMAT, "an integer without digits");
    uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return fail(m, AE_ERR_FORMAT, "a malformed integer");
        unsigned d = (unsigned)(s[i] - '0');
        if (u > (lim - d) / 10)
            return fail(m, AE_ERR_UNSUPPORTED, "an integer that does not fit 64 bits");
        u = u * 10 + d;
    }
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return AE_OK;
}

static int take_index(vm *m, int text, int width, uint64_t *idx)
{
    if (!text) return take_len(m, width, idx);
    const char *s = NULL;
    size_t n;
    int64_t v = 0;
    int rc = take_line(m, &s, &n);
    if (!rc) rc = parse_int(m, s, n, &v);
    if (!rc && v < 0) rc = fail(m, AE_ERR_FORMAT, "a negative memo index");
    if (!rc) *idx = (uint64_t)v;
    return rc;
}

/* Pushes n bytes as an O_STR or O_BYTES. */
static int push_bytes(vm *m, otype type, const void *p, size_t n)
{
    obj *o = NULL;
    int rc = push_new(m, type, &o);
    if (rc) return rc;
    o->u.s.p = malloc(n + 1);
    if (!o->u.s.p) return nomem(m);
    if (n) memcpy(o->u.s.p, p, n);
    o->u.s.p[n] = 0;
    o->u.s.n = n;
    return AE_OK;
}

/* An opcode with a width-byte length (signed for BINSTRING), then that many bytes. */
static int op_bytes(vm *m, otype type, int width, int is_signed)
{
    uint64_t n = 0;
    const uint8_t *p = NULL;
    int rc = take_len(m, width, &n);
    if (!rc && is_signed && n > INT32_MAX) rc = fail(m, AE_ERR_FORMAT, "a negative length");
    if (!rc) rc = take(m, n, &p);
    if (!rc) rc = push_bytes(m, type, p, (size_t)n);
    return rc;
}

static size_t utf8_put(char *d, uint32_t c)
{
    if (c < 0x80) { d[0] = (char)c; return 1; }
    if (c < 0x800) { d[0] = (char)(0xc0 | c >> 6); d[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) {
        d[0] = (char)(0xe0 | c >> 12);
        d[1] = (char)(0x80 | (c >> 6 & 63));
        d[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    d[0] = (char)(0xf0 | c >> 18);
    d[1] = (char)(0x80 | (c >> 12 & 63));
    d[2] = (char)(0x80 | (c >> 6 & 63));
    d[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* UNICODE: a line in Python's raw-unicode-escape (bytes are code points 0..255; \uXXXX and
 * \UXXXXXXXX after an odd run of backslashes are escapes), pushed as UTF-8. */
static int op_unicode(vm *m)
{
    const char *s = NULL;
    size_t n;
    int rc = take_line(m, &s, &n);
    if (rc) return rc;
    char *d = malloc(2 * n + 1); /* a byte grows to at most 2, an escape shrinks */
    if (!d) return nomem(m);
    size_t k = 0, i = 0;
    while (i < n) {
        if (s[i] != '\\') {
            k += utf8_put(d + k, (uint8_t)s[i++]);
            continue;
        }
        size_t run = 0;
        while (i < n && s[i] == '\\') d[k++] = s[i++], run++;
        if (!(run & 1) || i == n || (s[i] != 'u' && s[i] != 'U')) continue;
        k--; /* the escaping backslash */
        size_t digits = s[i] == 'u' ? 4 : 8;
        uint32_t c = 0;
        i++;
        for (size_t j = 0; j < digits; j++, i++) {
            int h = i < n ? s[i] : 0;
            int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (v < 0 || c > 0x10ffff) {
                free(d);
                return fail(m, AE_ERR_FORMAT, "a malformed \\u escape in a string");
            }
            c = c << 4 | (uint32_t)v;
        }
        if (c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) {
            free(d);
            return fail(m, AE_ERR_FORMAT, "a string escape that is no Unicode character");
        }
        k += utf8_put(d + k, c);
    }
    rc = push_bytes(m, O_STR, d, k);
    free(d);
    return rc;
}

/* ---- globals, persistent ids --------------------------------------------------------------- */

static int push_global(vm *m, const char *mod, size_t mn, const char *name, size_t nn)
{
    int g = -1;
    for (int i = 0; i < N_GLOBALS && g < 0; i++)
        if (strlen(globals[i].module) == mn && !memcmp(globals[i].module, mod, mn) &&
            strlen(globals[i].name) == nn && !memcmp(globals[i].name, name, nn))
            g = i;
    char a[96], b[96];
    printable(a, sizeof a, mod, mn);
    printable(b, sizeof b, name, nn);
    if (g < 0 || !(globals[g].kinds & (1u << m->kind)))
        return ae_fail(AE_ERR_UNSUPPORTED, "%s: pickle calls %s.%s, which %s never needs: refused",
                       m->label, a, b, m->kind == KIND_TORCH ? "a state dict" : "a numpy array");
    if (globals[g].fn == F_STORAGE && globals[g].dt == NO_DTYPE)
        return ae_fail(AE_ERR_UNSUPPORTED,
                       "%s: a tensor stored as %s.%s: only FloatStorage, HalfStorage, "
                       "BFloat16Storage and DoubleStorage are read",
                       m->label, a, b);
    obj *o = NULL;
    int rc = push_new(m, O_GLOBAL, &o);
    if (!rc) o->u.g = g;
    return rc;
}

static int is_str(const obj *o, const char *s)
{
    return o->type == O_STR && o->u.s.n == strlen(s) && !memcmp(o->u.s.p, s, o->u.s.n);
}

static int is_fn(const obj *o, gfn fn)
{
    return o->type == O_GLOBAL && globals[o->u.g].fn == fn;
}

static size_t dtype_size(st_dtype dt)
{
    return dt == ST_F64 ? 8 : dt == ST_F32 ? 4 : 2;
}

/* BINPERSID: torch's ('storage', storage type, key, location, numel), a storage to be read
 * as <root>/data/<key>. */
static int op_persid(vm *m)
{
    obj *pid = NULL;
    int rc = pop(m, &pid);
    if (rc) return rc;
    if (m->kind != KIND_TORCH)
        return fail(m, AE_ERR_UNSUPPORTED, "a persistent id, which a numpy array never needs");
    obj *const *a = pid->u.c.v;
    if (pid->type != O_TUPLE || pid->u.c.n != 5 || !is_str(a[0], "storage") ||
        !is_fn(a[1], F_STORAGE) || a[2]->type != O_STR || a[3]->type != O_STR ||
        a[4]->type != O_INT || a[4]->u.i < 0)
        return fail(m, AE_ERR_FORMAT, "a persistent id that is not ('storage', storage type, "
                                      "key, location, numel)");
    const obj *key = a[2];
    int ok = key->u.s.n > 0 && key->u.s.n <= 64;
    for (size_t i = 0; i < key->u.s.n; i++) {
        char c = key->u.s.p[i];
        ok &= (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    if (!ok) return fail(m, AE_ERR_FORMAT, "a storage key that is not a short plain name");
    st_dtype dt = (st_dtype)globals[a[1]->u.g].dt;
    if ((uint64_t)a[4]->u.i > PK_MAX_STORAGE / dtype_size(dt))
        return fail(m, AE_ERR_TOO_LARGE, "storage %s of %lld elements (at most %llu bytes)",
                    key->u.s.p, (long long)a[4]->u.i, (unsigned long long)PK_MAX_STORAGE);
    obj *s = NULL;
    rc = push_new(m, O_STORAGE, &s);
    if (rc) return rc;
    s->u.st.dt = dt;
    s->u.st.key = key->u.s.p;
    s->u.st.numel = a[4]->u.i;
    return AE_OK;
}

/* ---- REDUCE and BUILD ---------------------------------------------------------------------- */

/* "(storage, int, tuple)" for messages. */
static const char *arg_types(char *buf, size_t cap, obj *const *a, size_t n)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (size_t i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", type_names[a[i]->type]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

static int is_int(const obj *o)
{
    return o->type == O_INT || o->type == O_BOOL;
}

/* A tuple of n <= PK_MAX_DIMS non-negative ints into v; its numel (0 if it overflows). */
static int int_tuple(const obj *o, int64_t *v, int32_t *n)
{
    if (o->type != O_TUPLE || o->u.c.n > PK_MAX_DIMS) return 0;
    for (size_t i = 0; i < o->u.c.n; i++) {
        if (!is_int(o->u.c.v[i]) || o->u.c.v[i]->u.i < 0) return 0;
        v[i] = o->u.c.v[i]->u.i;
    }
    *n = (int32_t)o->u.c.n;
    return 1;
}

/* Product of n sizes, or -1 if it overflows int64. */
static int64_t count(const int64_t *shape, int32_t n)
{
    int64_t p = 1;
    for (int32_t i = 0; i < n; i++)
        if (shape[i] == 0) return 0;
    for (int32_t i = 0; i < n; i++)
        if (__builtin_mul_overflow(p, shape[i], &p)) return -1;
    return p;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
 */
static int rebuild_tensor(vm *m, obj *const *a, size_t n)
{
    char buf[160];
    obj *t = NULL;
    int32_t nd, ns;
    if ((n != 6 && n != 7) || a[0]->type != O_STORAGE || a[1]->type != O_INT ||
        a[1]->u.i < 0 || a[2]->type != O_TUPLE || a[3]->type != O_TUPLE || !is_int(a[4]) ||
        a[5]->type != O_DICT)
        return fail(m, AE_ERR_FORMAT,
                    "torch._utils._rebuild_tensor_v2%s: expected (storage, offset, size, "
                    "stride, requires_grad, backward_hooks[, metadata])",
                    arg_types(buf, sizeof buf, a, n));
    int rc = new_obj(m, O_TENSOR, &t);
    if (rc) return rc;
    const obj *st = a[0];
    t->u.t.st = st;
    t->u.t.offset = a[1]->u.i;
    if (a[2]->u.c.n > PK_MAX_DIMS)
        return fail(m, AE_ERR_UNSUPPORTED, "a tensor of %zu dimensions (at most %d)",
                    a[2]->u.c.n, PK_MAX_DIMS);
    if (!int_tuple(a[2], t->u.t.shape, &nd) || !int_tuple(a[3], t->u.t.stride, &ns) || nd != ns)
        return fail(m, AE_ERR_FORMAT, "a tensor whose size and stride are not two tuples of "
                                      "non-negative ints of one length");
    t->u.t.ndim = nd;
    t->u.t.numel = count(t->u.t.shape, nd);
    if (t->u.t.numel < 0) return fail(m, AE_ERR_TOO_LARGE, "a tensor of more than 2^63 elements");
    if (t->u.t.numel > 0) {
        /* the last element it views: offset + sum (size - 1) * stride, overflow-checked */
        int64_t last = t->u.t.offset, step;
        int over = 0;
        for (int32_t i = 0; i < nd; i++)
            over |= __builtin_mul_overflow(t->u.t.shape[i] - 1, t->u.t.stride[i], &step) ||
                    __builtin_add_overflow(last, step, &last);
        if (over || last >= st->u.st.numel)
            return fail(m, AE_ERR_FORMAT,
                        "a tensor at offset %lld reaching past its storage %s of %lld elements",
                        (long long)t->u.t.offset, st->u.st.key, (long long)st->u.st.numel);
        if (t->u.t.numel > st->u.st.numel)
            return fail(m, AE_ERR_UNSUPPORTED,
                        "a tensor of %lld elements over storage %s of %lld (overlapping strides)",
                        (long long)t->u.t.numel, st->u.st.key, (long long)st->u.st.numel);
    }
    return push(m, t);
}

/* Checks shape, dtype and raw bytes of a numpy array and fills arr. */
static int set_array(vm *m, obj *arr, const obj *shape, const obj *dtype, int fortran,
                     const obj *raw)
{
    int32_t nd;
    if (shape->type == O_TUPLE && shape->u.c.n > PK_MAX_DIMS)
        return fail(m, AE_ERR_UNSUPPORTED, "a numpy array of %zu dimensions (at most %d)",
                    shape->u.c.n, PK_MAX_DIMS);
    if (!int_tuple(shape, arr->u.a.shape, &nd))
        return fail(m, AE_ERR_FORMAT, "a numpy shape that is not a tuple of non-negative ints");
    if (dtype->type != O_DTYPE) return fail(m, AE_ERR_FORMAT, "a numpy array without a dtype");
    if (raw->type != O_BYTES)
        return fail(m, AE_ERR_UNSUPPORTED, "a numpy array whose data is a %s, not bytes",
                    type_names[raw->type]);
    int64_t numel = count(arr->u.a.shape, nd);
    size_t es = dtype_size(dtype->u.d.dt);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / es || (size_t)numel * es != raw->u.s.n) {
        char sb[200];
        return fail(m, AE_ERR_FORMAT, "a numpy array of shape %s and %s holding %zu bytes",
                    st_shape_str(sb, sizeof sb, nd, arr->u.a.shape),
                    st_dtype_name(dtype->u.d.dt), raw->u.s.n);
    }
    arr->u.a.ndim = nd;
    arr->u.a.numel = numel;
    arr->u.a.dt = dtype->u.d.dt;
    arr->u.a.big = dtype->u.d.big;
    arr->u.a.fortran = fortran;
    arr->u.a.data = (const uint8_t *)raw->u.s.p;
    arr->u.a.built = 1;
    return AE_OK;
}

/* numpy.dtype(name, align, copy): the float types only. */
static int new_dtype(vm *m, obj *const *a, size_t n)
{
    char buf[160];
    if (n != 3 || a[0]->type != O_STR || !is_int(a[1]) || !is_int(a[2]))
        return fail(m, AE_ERR_FORMAT, "numpy.dtype%s: expected (str, bool, bool)",
                    arg_types(buf, sizeof buf, a, n));
    st_dtype dt;
    if (is_str(a[0], "f2")) dt = ST_F16;
    else if (is_str(a[0], "f4")) dt = ST_F32;
    else if (is_str(a[0], "f8")) dt = ST_F64;
    else
        return fail(m, AE_ERR_UNSUPPORTED, "numpy dtype %s: only float16, float32 and float64 "
                                           "arrays are read",
                    printable(buf, sizeof buf, a[0]->u.s.p, a[0]->u.s.n));
    obj *d = NULL;
    int rc = push_new(m, O_DTYPE, &d);
    if (!rc) d->u.d.dt = dt;
    return rc;
}

/* A dtype's BUILD state (3 or 4, byte order, subarray, names, fields, elsize, alignment,
 * flags[, metadata]). */
static int dtype_state(vm *m, obj *d, const obj *s)
{
    obj *const *a = s->u.c.v;
    if (s->type != O_TUPLE || s->u.c.n < 8 || s->u.c.n > 9 || !is_int(a[0]) ||
        a[1]->type != O_STR)
        return fail(m, AE_ERR_FORMAT, "a numpy dtype state that is not (version, byte order, ...)");
    if (a[0]->u.i != 3 && a[0]->u.i != 4)
        return fail(m, AE_ERR_UNSUPPORTED, "numpy dtype state version %lld (3 and 4 are read)",
                    (long long)a[0]->u.i);
    if (a[2]->type != O_NONE || a[3]->type != O_NONE || a[4]->type != O_NONE)
        return fail(m, AE_ERR_UNSUPPORTED, "a structured or subarray numpy dtype");
    if (is_str(a[1], "<") || is_str(a[1], "|") || is_str(a[1], "=")) d->u.d.big = 0;
    else if (is_str(a[1], ">")) d->u.d.big = 1;
    else return fail(m, AE_ERR_FORMAT, "a numpy byte order that is none of < > | =");
    return AE_OK;
}

static int op_reduce(vm *m)
{
    obj *args = NULL, *f = NULL;
    int rc = pop(m, &args);
    if (!rc) rc = pop(m, &f);
    if (rc) return rc;
    if (f->type != O_GLOBAL)
        return fail(m, AE_ERR_FORMAT, "REDUCE calls a %s, which is not callable",
                    type_names[f->type]);
    if (args->type != O_TUPLE)
        return fail(m, AE_ERR_FORMAT, "REDUCE with arguments in a %s, not a tuple",
                    type_names[args->type]);
    const struct global *g = &globals[f->u.g];
    obj *const *a = args->u.c.v;
    size_t n = args->u.c.n;
    char buf[160];
    obj *o = NULL;
    switch (g->fn) {
    case F_ODICT:
        if (n) return fail(m, AE_ERR_FORMAT, "collections.OrderedDict called with arguments");
        rc = push_new(m, O_DICT, &o);
        if (!rc) o->u.c.odict = 1;
        return rc;
    case F_REBUILD_TENSOR:
        return rebuild_tensor(m, a, n);
    case F_REBUILD_PARAM: /* (tensor, requires_grad, backward_hooks): the tensor itself */
        if (n != 3 || a[0]->type != O_TENSOR || !is_int(a[1]) || a[2]->type != O_DICT)
            return fail(m, AE_ERR_FORMAT,
                        "torch._utils._rebuild_parameter%s: expected (tensor, bool, dict)",
                        arg_types(buf, sizeof buf, a, n));
        return push(m, a[0]);
    case F_RECONSTRUCT: /* (ndarray, shape, dtype): an empty array that BUILD fills */
        if (n != 3 || !is_fn(a[0], F_NDARRAY) || a[1]->type != O_TUPLE ||
            (a[2]->type != O_BYTES && a[2]->type != O_STR))
            return fail(m, AE_ERR_FORMAT, "numpy _reconstruct%s: expected (numpy.ndarray, "
                                          "tuple, bytes)",
                        arg_types(buf, sizeof buf, a, n));
        return push_new(m, O_ARRAY, NULL);
    case F_DTYPE:
        return new_dtype(m, a, n);
    case F_FROMBUFFER: /* (buffer, dtype, shape, order) */
        if (n != 4 || a[0]->type != O_BYTES || a[1]->type != O_DTYPE ||
            (!is_str(a[3], "C") && !is_str(a[3], "F")))
            return fail(m, AE_ERR_FORMAT, "numpy _frombuffer%s: expected (bytes, dtype, tuple, "
                                          "'C' or 'F')",
                        arg_types(buf, sizeof buf, a, n));
        rc = new_obj(m, O_ARRAY, &o);
        if (!rc) rc = set_array(m, o, a[2], a[1], is_str(a[3], "F"), a[0]);
        return rc ? rc : push(m, o);
    case F_ENCODE: { /* (str, 'latin1'): the code points 0..255 of the text as bytes */
        if (n != 2 || a[0]->type != O_STR || (!is_str(a[1], "latin1") && !is_str(a[1], "latin-1")))
            return fail(m, AE_ERR_FORMAT, "_codecs.encode%s: expected (str, 'latin1')",
                        arg_types(buf, sizeof buf, a, n));
        const uint8_t *s = (const uint8_t *)a[0]->u.s.p;
        size_t len = a[0]->u.s.n, k = 0;
        char *d = malloc(len + 1);
        if (!d) return nomem(m);
        for (size_t i = 0; i < len; k++) {
            if (s[i] < 0x80) d[k] = (char)s[i++];
            else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len && (s[i + 1] & 0xc0) == 0x80)
                d[k] = (char)((s[i] & 3) << 6 | (s[i + 1] & 63)), i += 2;
            else {
                free(d);
                return fail(m, AE_ERR_FORMAT, "_codecs.encode of text that is not Latin-1");
            }
        }
        rc = push_bytes(m, O_BYTES, d, k);
        free(d);
        return rc;
    }
    case F_STORAGE: case F_NDARRAY:
        break;
    }
    return fail(m, AE_ERR_UNSUPPORTED, "REDUCE calls %s.%s, which this reader never calls",
                g->module, g->name);
}

static int op_build(vm *m)
{
    obj *s = NULL, *o = NULL;
    int rc = pop(m, &s);
    if (!rc) rc = top(m, &o);
    if (rc) return rc;
    if (o->type == O_DICT && o->u.c.odict) return AE_OK; /* torch's _metadata: not needed */
    if (o->type == O_DTYPE) return dtype_state(m, o, s);
    if (o->type == O_ARRAY) { /* ([1,] shape, dtype, is_fortran, raw) */
        obj *const *a = s->u.c.v;
        size_t n = s->type == O_TUPLE ? s->u.c.n : 0;
        if (n == 5 && is_int(a[0]) && a[0]->u.i == 1) a++, n--;
        if (n != 4 || !is_int(a[2]))
            return fail(m, AE_ERR_FORMAT, "a numpy array state that is not (version, shape, "
                                          "dtype, is_fortran, data)");
        return set_array(m, o, a[0], a[1], a[2]->u.i != 0, a[3]);
    }
    return fail(m, AE_ERR_FORMAT, "BUILD on a %s", type_names[o->type]);
}

/* ---- the opcode loop ----------------------------------------------------------------------- */

static int op_memo_put(vm *m, uint64_t idx)
{
    obj *o = NULL;
    int rc = top(m, &o);
    if (rc) return rc;
    if (idx >= MAX_MEMO) return fail(m, AE_ERR_TOO_LARGE, "memo index %llu (at most %u)",
                                     (unsigned long long)idx, MAX_MEMO - 1);
    size_t old = m->memo_cap;
    obj **memo = grow(m->memo, &m->memo_cap, (size_t)idx + 1, sizeof *memo);
    if (!memo) return nomem(m);
    m->memo = memo;
    memset(m->memo + old, 0, (m->memo_cap - old) * sizeof *m->memo);
    if (!m->memo[idx]) m->memo_count++;
    m->memo[idx] = o;
    return AE_OK;
}

static int op_memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return fail(m, AE_ERR_FORMAT, "memo entry %llu is not set", (unsigned long long)idx);
    return push(m, m->memo[idx]);
}

/* Runs the pickle up to STOP; *result is the value it returns. */
static int run(vm *m, obj **result)
{
    for (;;) {
        const uint8_t *a = NULL;
        const char *s = NULL, *s2 = NULL;
        size_t n = 0, n2 = 0, base = 0;
        uint64_t u = 0;
        int64_t v = 0;
        obj *x = NULL, *y = NULL;
        m->op = (size_t)(m->p - m->base);
        int rc = take(m, 1, &a);
        if (rc) return rc;
        uint8_t op = a[0];
        switch (op) {
        case 0x80: /* PROTO */
            rc = take(m, 1, &a);
            if (!rc && a[0] > 5) rc = fail(m, AE_ERR_UNSUPPORTED, "pickle protocol %d (0 to 5 are read)", a[0]);
            break;
        case 0x95: /* FRAME: a length prefix for buffering, nothing to do */
            rc = take_len(m, 8, &u);
            if (!rc && u > (uint64_t)(m->end - m->p))
                rc = fail(m, AE_ERR_FORMAT, "truncated (a frame of %llu bytes, %zu left)",
                          (unsigned long long)u, (size_t)(m->end - m->p));
            break;
        case '.': /* STOP */
            return pop(m, result);
        case '(': /* MARK */
            if (m->n_marks == MAX_MARKS)
                return fail(m, AE_ERR_TOO_LARGE, "MARKs nested deeper than %d", MAX_MARKS);
            m->marks[m->n_marks++] = m->sp;
            break;
        case '0': /* POP: the top, or an empty frame's MARK */
            if (m->sp > frame_base(m)) m->sp--;
            else rc = pop_mark(m, &base);
            break;
        case '1': /* POP_MARK */
            rc = pop_mark(m, &base);
            if (!rc) m->sp = base;
            break;
        case '2': /* DUP */
            rc = top(m, &x);
            if (!rc) rc = push(m, x);
            break;
        case 'N': rc = push_new(m, O_NONE, NULL); break;
        case 0x88: rc = push_int(m, O_BOOL, 1); break; /* NEWTRUE */
        case 0x89: rc = push_int(m, O_BOOL, 0); break; /* NEWFALSE */
        case 'I': /* INT: a decimal line; protocol 0 writes True and False as 01 and 00 */
            rc = take_line(m, &s, &n);
            if (!rc && n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1'))
                rc = push_int(m, O_BOOL, s[1] == '1');
            else if (!rc && !(rc = parse_int(m, s, n, &v))) rc = push_int(m, O_INT, v);
            break;
        case 'L': /* LONG: a decimal line ending in L */
            rc = take_line(m, &s, &n);
            if (!rc) rc = parse_int(m, s, n, &v);
            if (!rc) rc = push_int(m, O_INT, v);
            break;
        case 'J': rc = take_len(m, 4, &u); if (!rc) rc = push_int(m, O_INT, (int32_t)(uint32_t)u); break;
        case 'K': rc = take_len(m, 1, &u); if (!rc) rc = push_int(m, O_INT, (int64_t)u); break;
        case 'M': rc = take_len(m, 2, &u); if (!rc) rc = push_int(m, O_INT, (int64_t)u); break;
        case 0x8a: /* LONG1, */
        case 0x8b: /* LONG4: n bytes of two's complement */
            rc = take_len(m, op == 0x8a ? 1 : 4, &u);
            if (!rc && u > 8) rc = fail(m, AE_ERR_UNSUPPORTED, "an integer that does not fit 64 bits");
            if (!rc) rc = take(m, u, &a);
            if (!rc) {
                uint64_t w = le(a, (int)u);
                if (u && u < 8 && (a[u - 1] & 0x80)) w |= ~0ull << (8 * u); /* sign-extend */
                rc = push_int(m, O_INT, (int64_t)w);
            }
            break;
        case 'F': { /* FLOAT: repr() of a float on a line */
            char buf[64], *e;
            rc = take_line(m, &s, &n);
            if (rc) break;
            if (n == 0 || n >= sizeof buf) { rc = fail(m, AE_ERR_FORMAT, "a malformed float"); break; }
            memcpy(buf, s, n);
            buf[n] = 0;
            double d = strtod(buf, &e);
            if (e != buf + n) { rc = fail(m, AE_ERR_FORMAT, "a malformed float"); break; }
            if (!(rc = push_new(m, O_FLOAT, &x))) x->u.f = d;
            break;
        }
        case 'G': /* BINFLOAT: big-endian IEEE double */
            rc = take(m, 8, &a);
            if (!rc && !(rc = push_new(m, O_FLOAT, &x))) {
                uint64_t b = 0;
                for (int i = 0; i < 8; i++) b = b << 8 | a[i];
                memcpy(&x->u.f, &b, 8);
            }
            break;
        case 'X': rc = op_bytes(m, O_STR, 4, 0); break;     /* BINUNICODE */
        case 0x8c: rc = op_bytes(m, O_STR, 1, 0); break;    /* SHORT_BINUNICODE */
        case 0x8d: rc = op_bytes(m, O_STR, 8, 0); break;    /* BINUNICODE8 */
        case 'V': rc = op_unicode(m); break;             /* UNICODE */
        case 'B': rc = op_bytes(m, O_BYTES, 4, 0); break;   /* BINBYTES */
        case 'C': rc = op_bytes(m, O_BYTES, 1, 0); break;   /* SHORT_BINBYTES */
        case 0x8e: rc = op_bytes(m, O_BYTES, 8, 0); break;  /* BINBYTES8 */
        case 0x96: rc = op_bytes(m, O_BYTES, 8, 0); break;  /* BYTEARRAY8 */
        case 'T': rc = op_bytes(m, O_BYTES, 4, 1); break;    /* BINSTRING (Python 2 str) */
        case 'U': rc = op_bytes(m, O_BYTES, 1, 0); break;   /* SHORT_BINSTRING */
        case ')': rc = make_container(m, O_TUPLE, m->sp); break; /* EMPTY_TUPLE */
        case 0x85: case 0x86: case 0x87: /* TUPLE1, TUPLE2, TUPLE3 */
            n = (size_t)(op - 0x84);
            if (m->sp - frame_base(m) < n) rc = fail(m, AE_ERR_FORMAT, "stack underflow");
            else rc = make_container(m, O_TUPLE, m->sp - n);
            break;
        case 't': case 'l': case 'd': /* TUPLE, LIST, DICT of the values above MARK */
            rc = pop_mark(m, &base);
            if (!rc && op == 'd' && (m->sp - base) % 2)
                rc = fail(m, AE_ERR_FORMAT, "DICT of an odd number of values");
            if (!rc) rc = make_container(m, op == 't' ? O_TUPLE : op == 'l' ? O_LIST : O_DICT, base);
            break;
        case ']': rc = make_container(m, O_LIST, m->sp); break; /* EMPTY_LIST */
        case '}': rc = make_container(m, O_DICT, m->sp); break; /* EMPTY_DICT */
        case 'a': /* APPEND */
            rc = pop(m, &y);
            if (!rc) rc = top(m, &x);
            if (!rc && x->type != O_LIST) rc = fail(m, AE_ERR_FORMAT, "APPEND to a %s", type_names[x->type]);
            if (!rc) rc = add_items(m, x, &y, 1);
            break;
        case 's': /* SETITEM */
            if (m->sp - frame_base(m) < 3) { rc = fail(m, AE_ERR_FORMAT, "stack underflow"); break; }
            x = m->stack[m->sp - 3];
            if (x->type != O_DICT) { rc = fail(m, AE_ERR_FORMAT, "SETITEM on a %s", type_names[x->type]); break; }
            rc = add_items(m, x, m->stack + m->sp - 2, 2);
            m->sp -= 2;
            break;
        case 'e': case 'u': /* APPENDS, SETITEMS: the values above MARK into the container below it */
            rc = pop_mark(m, &base);
            if (rc) break;
            if (base <= frame_base(m)) { rc = fail(m, AE_ERR_FORMAT, "stack underflow"); break; }
            x = m->stack[base - 1];
            if (x->type != (op == 'e' ? O_LIST : O_DICT) || (op == 'u' && (m->sp - base) % 2)) {
                rc = fail(m, AE_ERR_FORMAT, "%s on a %s", op == 'e' ? "APPENDS" : "SETITEMS",
                          type_names[x->type]);
                break;
            }
            rc = add_items(m, x, m->stack + base, m->sp - base);
            m->sp = base;
            break;
        case 'p': case 'q': case 'r': /* PUT, BINPUT, LONG_BINPUT */
            rc = take_index(m, op == 'p', op == 'q' ? 1 : 4, &u);
            if (!rc) rc = op_memo_put(m, u);
            break;
        case 0x94: rc = op_memo_put(m, m->memo_count); break; /* MEMOIZE */
        case 'g': case 'h': case 'j': /* GET, BINGET, LONG_BINGET */
            rc = take_index(m, op == 'g', op == 'h' ? 1 : 4, &u);
            if (!rc) rc = op_memo_get(m, u);
            break;
        case 'c': /* GLOBAL: module and name lines */
            rc = take_line(m, &s, &n);
            if (!rc) rc = take_line(m, &s2, &n2);
            if (!rc) rc = push_global(m, s, n, s2, n2);
            break;
        case 0x93: /* STACK_GLOBAL */
            rc = pop(m, &y);
            if (!rc) rc = pop(m, &x);
            if (!rc && (x->type != O_STR || y->type != O_STR))
                rc = fail(m, AE_ERR_FORMAT, "STACK_GLOBAL of a %s and a %s", type_names[x->type],
                          type_names[y->type]);
            if (!rc) rc = push_global(m, x->u.s.p, x->u.s.n, y->u.s.p, y->u.s.n);
            break;
        case 'R': rc = op_reduce(m); break;
        case 'b': rc = op_build(m); break;
        case 'Q': rc = op_persid(m); break; /* BINPERSID */
        case 'i': case 'o': case 0x81: case 0x92: /* INST, OBJ, NEWOBJ, NEWOBJ_EX */
            return fail(m, AE_ERR_UNSUPPORTED, "opcode 0x%02x creates an instance of a class, "
                                               "which this reader never does", op);
        case 'P': case 'S': case 0x82: case 0x83: case 0x84: case 0x8f: case 0x90: case 0x91:
        case 0x97: case 0x98:
            /* PERSID, STRING, EXT1/2/4, EMPTY_SET, ADDITEMS, FROZENSET, NEXT_BUFFER,
             * READONLY_BUFFER: valid, but never in the files this reads */
            return fail(m, AE_ERR_UNSUPPORTED, "opcode 0x%02x is not supported", op);
        default:
            return fail(m, AE_ERR_FORMAT, "unknown opcode 0x%02x", op);
        }
        if (rc) return rc;
    }
}

static void vm_init(vm *m, const void *data, size_t size, const char *label, int kind)
{
    memset(m, 0, sizeof *m);
    m->base = m->p = data;
    m->end = size ? m->base + size : m->base; /* (data may be NULL when size is 0) */
    m->label = label;
    m->kind = kind;
    m->budget = MAX_OBJECTS;
}

static void vm_free(vm *m)
{
    for (size_t i = 0; i < m->n_all; i++) {
        obj *o = m->all[i];
        if (o->type == O_STR || o->type == O_BYTES) free(o->u.s.p);
        if (o->type == O_TUPLE || o->type == O_LIST || o->type == O_DICT) free(o->u.c.v);
        free(o);
    }
    free(m->all);
    free(m->stack);
    free(m->memo);
}

/* ---- results ------------------------------------------------------------------------------- */

/* Converts the numel elements of a strided view (offset, strides in elements) of
 * little-endian values of type dt at base into C-order float32. */
static void to_f32(st_dtype dt, const uint8_t *base, int64_t offset, int32_t ndim,
                   const int64_t *shape, const int64_t *stride, int64_t numel, float *dst)
{
    if (numel == 0) return;
    size_t es = dtype_size(dt);
    st_tensor src = {.dtype = dt};
    int64_t expect = 1;
    int contiguous = 1;
    for (int32_t d = ndim - 1; d >= 0; d--) {
        if (shape[d] != 1 && stride[d] != expect) contiguous = 0;
        expect *= shape[d];
    }
    if (contiguous) {
        src.data = base + (size_t)offset * es;
        src.numel = numel;
        st_to_f32(&src, dst);
        return;
    }
    /* a view: one element at a time, the index advanced like an odometer */
    int64_t idx[PK_MAX_DIMS] = {0}, pos = offset;
    src.numel = 1;
    for (int64_t k = 0; k < numel; k++) {
        src.data = base + (size_t)pos * es;
        st_to_f32(&src, dst + k);
        for (int32_t d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                pos += stride[d];
                break;
            }
            pos -= (shape[d] - 1) * stride[d];
            idx[d] = 0;
        }
    }
}

static int tensor_f32(vm *m, const char *name, const obj *t, pk_tensor *out)
{
    const obj *st = t->u.t.st;
    if (!m->fetch)
        return ae_fail(AE_ERR_NOT_FOUND, "%s: no source for storage %s", m->label, st->u.st.key);
    const uint8_t *bytes;
    int rc = m->fetch(m->ctx, st->u.st.key, (uint64_t)st->u.st.numel * dtype_size(st->u.st.dt),
                      &bytes);
    if (rc) return rc;
    out->name = strdup(name);
    out->data = malloc((t->u.t.numel ? (size_t)t->u.t.numel : 1) * sizeof(float));
    if (!out->name || !out->data) return nomem(m);
    out->ndim = t->u.t.ndim;
    memcpy(out->shape, t->u.t.shape, sizeof out->shape);
    out->numel = t->u.t.numel;
    to_f32(st->u.st.dt, bytes, t->u.t.offset, t->u.t.ndim, t->u.t.shape, t->u.t.stride,
           t->u.t.numel, out->data);
    return AE_OK;
}

/* Appends the tensors of dict d to out, their names prefixed by name[0..len). */
static int flatten(vm *m, obj *d, char *name, size_t len, int depth, pk_tensors *out,
                   size_t *cap)
{
    if (depth > MAX_DEPTH)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: state dict nested deeper than %d dicts", m->label,
                       MAX_DEPTH);
    if (d->u.c.seen)
        return ae_fail(AE_ERR_FORMAT, "%s: a dict that appears twice in the state dict",
                       m->label);
    d->u.c.seen = 1;
    for (size_t i = 0; i + 1 < d->u.c.n; i += 2) {
        const obj *k = d->u.c.v[i];
        obj *v = d->u.c.v[i + 1];
        if (v->type != O_TENSOR && v->type != O_DICT) continue; /* _metadata-like extras */
        char pb[96];
        if (k->type != O_STR || strlen(k->u.s.p) != k->u.s.n)
            return ae_fail(AE_ERR_FORMAT, "%s: a state dict key that is %s", m->label,
                           k->type == O_STR ? "text with a NUL byte" : type_names[k->type]);
        if (len + k->u.s.n + 1 > MAX_NAME)
            return ae_fail(AE_ERR_TOO_LARGE, "%s: tensor name %s... longer than %d bytes",
                           m->label, printable(pb, sizeof pb, name, len), MAX_NAME);
        memcpy(name + len, k->u.s.p, k->u.s.n + 1);
        int rc;
        pk_tensor *ts;
        if (v->type == O_DICT) {
            name[len + k->u.s.n] = '.';
            rc = flatten(m, v, name, len + k->u.s.n + 1, depth + 1, out, cap);
        } else if (!(ts = grow(out->t, cap, (size_t)out->n + 1, sizeof *ts))) {
            rc = nomem(m);
        } else {
            out->t = ts;
            memset(&out->t[out->n], 0, sizeof *out->t);
            rc = tensor_f32(m, name, v, &out->t[out->n++]);
        }
        if (rc) return rc;
    }
    return AE_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuses two tensors of one name (Python would keep the last; no state dict has two). */
static int unique_names(vm *m, const pk_tensors *ts)
{
    if (ts->n < 2) return AE_OK;
    const char **names = malloc((size_t)ts->n * sizeof *names);
    if (!names) return nomem(m);
    for (int32_t i = 0; i < ts->n; i++) names[i] = ts->t[i].name;
    qsort(names, (size_t)ts->n, sizeof *names, cmp_names);
    int rc = AE_OK;
    char pb[96];
    for (int32_t i = 1; i < ts->n && !rc; i++)
        if (!strcmp(names[i - 1], names[i]))
            rc = ae_fail(AE_ERR_FORMAT, "%s: two tensors named %s", m->label,
                         printable(pb, sizeof pb, names[i], strlen(names[i])));
    free(names);
    return rc;
}

int pk_unpickle_state_dict_mem(const void *pkl, size_t size, const char *label,
                               pk_storage_fn fn, void *ctx, pk_tensors *out)
{
    memset(out, 0, sizeof *out);
    if (size > PK_MAX_PICKLE)
        return ae_fail(AE_ERR_TOO_LARGE, "%s: data.pkl of %zu bytes (at most %u)", label, size,
                       PK_MAX_PICKLE);
    vm m;
    vm_init(&m, pkl, size, label, KIND_TORCH);
    m.fetch = fn;
    m.ctx = ctx;
    obj *root;
    size_t cap = 0;
    char *name = malloc(MAX_NAME + 1);
    int rc = name ? run(&m, &root) : nomem(&m);
    if (!rc && root->type != O_DICT)
        rc = ae_fail(AE_ERR_FORMAT, "%s: the pickle holds a %s, not a state dict", label,
                     type_names[root->type]);
    if (!rc) rc = flatten(&m, root, name, 0, 0, out, &cap);
    if (!rc) rc = unique_names(&m, out);
    free(name);
    vm_free(&m);
    if (rc) pk_tensors_free(out);
    return rc;
}

/* ---- numpy --------------------------------------------------------------------------------- */

/* The float32 C-order copy of a filled numpy array. */
static int array_f32(vm *m, const obj *arr, pk_tensor *out)
{
    size_t es = dtype_size(arr->u.a.dt), nbytes = (size_t)arr->u.a.numel * es;
    const uint8_t *raw = arr->u.a.data;
    uint8_t *swapped = NULL;
    if (arr->u.a.big && nbytes) { /* big-endian: each element's bytes reversed into a copy */
        if (!(swapped = malloc(nbytes))) return nomem(m);
        for (size_t i = 0; i < nbytes; i++) swapped[i] = raw[i - i % es + es - 1 - i % es];
        raw = swapped;
    }
    int64_t stride[PK_MAX_DIMS], step = 1;
    for (int32_t i = 0; i < arr->u.a.ndim; i++) { /* the strides of its memory order */
        int32_t d = arr->u.a.fortran ? i : arr->u.a.ndim - 1 - i;
        stride[d] = step;
        step *= arr->u.a.shape[d];
    }
    out->data = malloc((arr->u.a.numel ? (size_t)arr->u.a.numel : 1) * sizeof(float));
    if (!out->data) {
        free(swapped);
        return nomem(m);
    }
    out->ndim = arr->u.a.ndim;
    memcpy(out->shape, arr->u.a.shape, sizeof out->shape);
    out->numel = arr->u.a.numel;
    to_f32(arr->u.a.dt, raw, 0, out->ndim, out->shape, stride, out->numel, out->data);
    free(swapped);
    return AE_OK;
}

int pk_numpy_load_mem(const void *data, size_t size, const char *label, pk_tensor *out)
{
    memset(out, 0, sizeof *out);
    vm m;
    vm_init(&m, data, size, label, KIND_NUMPY);
    obj *root;
    int rc = run(&m, &root);
    if (!rc && (root->type != O_ARRAY || !root->u.a.built))
        rc = ae_fail(AE_ERR_FORMAT, "%s: the pickle holds a %s, not a numpy array", label,
                     root->type == O_ARRAY ? "numpy array without data" : type_names[root->type]);
    if (!rc) rc = array_f32(&m, root, out);
    vm_free(&m);
    if (rc) pk_tensor_free(out);
    return rc;
}

int pk_numpy_load(const char *path, pk_tensor *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t n;
    int rc = ae_file_read(path, PK_MAX_NUMPY, &buf, &n);
    if (rc != AE_OK) return rc;
    rc = pk_numpy_load_mem((const uint8_t *)buf, n, path, out);
    free(buf);
    return rc;
}

void pk_tensor_free(pk_tensor *t)
{
    if (!t) return;
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

void pk_tensors_free(pk_tensors *t)
{
    if (!t) return;
    for (int32_t i = 0; i < t->n; i++) pk_tensor_free(&t->t[i]);
    free(t->t);
    memset(t, 0, sizeof *t);
}
