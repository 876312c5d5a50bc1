/* OTLP/JSON decoder: yajl's event (SAX) parser drives a small explicit stack
 * of frames that builds the protobuf-c messages in place, table-driven from
 * the field tables of otlp_json_schema.c. No DOM, no recursion, no malloc per
 * field: every message, string, id and array lives in the caller's arena.
 *
 * Promises: exact 64-bit integers (decimal strings or JSON numbers), exact
 * doubles (correctly rounded; "NaN"/"Infinity"/"-Infinity" accepted), hex
 * ids (32/16 characters, any case, "" = absent), base64 bytes (padding
 * optional), enum names or integers, camelCase or snake_case keys, unknown
 * keys skipped whatever their value, null = absent. Errors carry the byte
 * offset and the field path; depth is capped at KVS_OTLP_JSON_MAX_DEPTH. */
#include "formats/otlp_json.h"
#include "formats/otlp_json_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

enum { FR_DOC, FR_MSG, FR_ARR };

typedef struct frame {
    uint8_t type;
    uint8_t elem;                 /* FR_MSG: entered as an array element */
    unsigned hint;                /* FR_MSG: index of the field expected next; FR_DOC: signal */
    const kvs_ojson_msg *m;       /* FR_MSG: schema of msg */
    char *msg;                    /* FR_MSG: the message; FR_ARR: the array's owner */
    const kvs_ojson_field *via;   /* FR_MSG: field entered through; FR_ARR: the array */
    const kvs_ojson_field *f;     /* FR_MSG, FR_DOC: field whose value comes next */
    char *arr;                    /* FR_ARR: elements so far */
    size_t n, cap;
} frame;

typedef struct dec {
    const char *buf;
    size_t len;
    kvs_arena *a;
    char *bp, *be;                    /* bump space for small objects, from the arena */
    size_t chunk;                     /* size of the next bump chunk */
    kvs_otlp_doc *out;
    kvs_json_error *err;
    yajl_handle h;
    const kvs_ojson_msg *roots[3];    /* traces, metrics, logs requests */
    const char *tok;                  /* text of the string/number being handled */
    uint8_t tok_quote;                /* 1 when tok is a string's text */
    uint8_t tok_back;                 /* else: length of the literal token just read */
    int failed;
    int finishing;                    /* inside yajl_complete_parse */
    unsigned top;                     /* frames in use */
    unsigned skip;                    /* open containers inside a skipped value */
    frame st[KVS_OTLP_JSON_MAX_DEPTH];
} dec;

/* The pending field of a key the schema does not know: its value is skipped. */
static const kvs_ojson_field k_unknown;

/* ---- errors ------------------------------------------------------------ */

static size_t path_add(char *p, size_t n, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t path_add(char *p, size_t n, size_t cap, const char *fmt, ...)
{
    if (n >= cap)
        return n;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p + n, cap - n, fmt, ap);
    va_end(ap);
    return k < 0 ? n : n + (size_t)k;
}

/* "resourceSpans[0].scopeSpans[0].spans[3].traceId" for the current state. */
static void build_path(const dec *d, char *p, size_t cap)
{
    size_t n = 0;
    p[0] = 0;
    for (unsigned i = 0; i < d->top; i++) {
        const frame *fr = &d->st[i];
        const char *dot = n ? "." : "";
        if (fr->type == FR_ARR) {
            size_t idx = i + 1 == d->top ? fr->n : fr->n - 1;
            n = path_add(p, n, cap, "%s%s[%zu]", dot, fr->via->camel, idx);
        } else if (fr->type == FR_MSG && fr->via && !fr->elem) {
            n = path_add(p, n, cap, "%s%s", dot, fr->via->camel);
        }
        if (i + 1 == d->top && fr->type != FR_ARR && fr->f && fr->f != &k_unknown)
            n = path_add(p, n, cap, "%s%s", n ? "." : "", fr->f->camel);
    }
    if (n >= cap && cap > 4)
        memcpy(p + cap - 4, "...", 4);
}

/* End of the token just read. */
static size_t here(const dec *d)
{
    return d->finishing ? d->len : yajl_get_bytes_consumed(d->h);
}

/* Offset of the current token's first byte plus delta (a position inside a
 * string's text counts from the opening quote). When the text is not in the
 * input (a string with escapes) the token's end is the best we know. */
static size_t tok_offset(const dec *d, size_t delta)
{
    size_t h = here(d);
    if (d->tok) {
        uintptr_t c = (uintptr_t)d->tok, b = (uintptr_t)d->buf;
        if (!d->finishing && c >= b + d->tok_quote && c <= b + d->len)
            return (size_t)(c - b) - d->tok_quote + delta;
        return h;
    }
    return h >= d->tok_back ? h - d->tok_back : 0;
}

static void set_error(dec *d, size_t off, const char *what)
{
    char path[150];
    if (d->failed)
        return;
    d->failed = 1;
    d->err->offset = off > d->len ? d->len : off;
    build_path(d, path, sizeof path);
    snprintf(d->err->msg, sizeof d->err->msg, "%s%s%.100s", path, path[0] ? ": " : "", what);
}

/* Reports an error at the current token (+delta) and returns 0, which makes
 * yajl stop. */
static int fail(dec *d, size_t delta, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(dec *d, size_t delta, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    set_error(d, tok_offset(d, delta), what);
    return 0;
}

static int not_object(dec *d)
{
    return fail(d, 0, "expected a JSON object (an OTLP export request)");
}

static int too_deep(dec *d)
{
    return fail(d, 0, "nesting deeper than %d levels", KVS_OTLP_JSON_MAX_DEPTH);
}

/* ---- memory ------------------------------------------------------------ */

/* Small objects (messages, strings, ids) are carved from chunks the arena
 * hands out, so each costs a pointer bump rather than an arena call and
 * strings need no 16-byte rounding. Chunks grow from 1 KB (small documents
 * stay small) to 8 KB, well under the size the arena treats as a large
 * object (a block of its own). */
static void *bump_refill(dec *d, size_t n)
{
    if (n > 1024)
        return kvs_arena_alloc(d->a, n);
    char *c = kvs_arena_alloc(d->a, d->chunk);
    if (!c)
        return NULL;
    d->bp = c + n;
    d->be = c + d->chunk;
    if (d->chunk < 8192)
        d->chunk *= 2;
    return c;
}

static inline void *bump(dec *d, size_t n, size_t align)
{
    uintptr_t p = ((uintptr_t)d->bp + (align - 1)) & ~(uintptr_t)(align - 1);
    if (!d->bp || n > (uintptr_t)d->be - p || p > (uintptr_t)d->be)
        return bump_refill(d, n);
    d->bp = (char *)(p + n);
    return (void *)p;
}

static inline void *new_msg(dec *d, const kvs_ojson_msg *m)
{
    size_t n = m->d->sizeof_message;
    void *p = bump(d, n, 8);
    if (p)
        memcpy(p, m->init, n);
    return p;
}

/* ---- scalars ----------------------------------------------------------- */

static int store_hex(dec *d, const kvs_ojson_field *f, ProtobufCBinaryData *dst, const unsigned char *s,
                     size_t n)
{
    if (n == 0) {
        dst->len = 0, dst->data = NULL;
        return 1;
    }
    if (n != 2u * f->hex_bytes)
        return fail(d, 0, "%s", kvs_ojson_expected(f, 1));
    uint8_t *p = bump(d, f->hex_bytes, 1);
    if (!p)
        return fail(d, 0, "out of memory");
    size_t bad = kvs_ojson_hex_decode(s, f->hex_bytes, p);
    if (bad != KVS_OJ_OK_POS)
        return fail(d, 1 + bad, "%s", kvs_ojson_expected(f, 1));
    dst->len = f->hex_bytes, dst->data = p;
    return 1;
}

static int store_b64(dec *d, ProtobufCBinaryData *dst, const unsigned char *s, size_t n)
{
    uint8_t *p = bump(d, n / 4 * 3 + 3, 1);
    if (!p)
        return fail(d, 0, "out of memory");
    size_t len, bad = kvs_ojson_b64_decode(s, n, p, &len);
    if (bad != KVS_OJ_OK_POS)
        return fail(d, 1 + bad, "invalid base64");
    dst->len = len, dst->data = len ? p : NULL;
    return 1;
}

static int store_int(dec *d, const kvs_ojson_field *f, void *dst, const char *s, size_t n)
{
    int neg;
    uint64_t m;
    int r = kvs_ojson_parse_int(s, n, &neg, &m);
    if (r == KVS_OJ_NUM_SYNTAX || r == KVS_OJ_NUM_FRACTION)
        return fail(d, 0, "%s", r == KVS_OJ_NUM_SYNTAX ? kvs_ojson_expected(f, 1) : "expected an integer, got a fraction");
    if (r == KVS_OJ_NUM_OK) {
        switch (f->kind) {
        case KVS_OJ_U64:
            if (!neg || !m) {
                *(uint64_t *)dst = m;
                return 1;
            }
            break;
        case KVS_OJ_I64:
            if (m <= (uint64_t)INT64_MAX + neg) {
                *(int64_t *)dst = neg ? (int64_t)(0 - m) : (int64_t)m;
                return 1;
            }
            break;
        case KVS_OJ_U32:
            if ((!neg || !m) && m <= UINT32_MAX) {
                *(uint32_t *)dst = (uint32_t)m;
                return 1;
            }
            break;
        default: /* I32, ENUM */
            if (m <= (uint64_t)INT32_MAX + neg) {
                *(int32_t *)dst = neg ? (int32_t)(0 - (uint32_t)m) : (int32_t)m;
                return 1;
            }
            break;
        }
    }
    return fail(d, 0, "integer out of range");
}

static int store_real(dec *d, const kvs_ojson_field *f, void *dst, const char *s, size_t n, int quoted)
{
    double v;
    if (quoted && n == 3 && !memcmp(s, "NaN", 3))
        v = NAN;
    else if (quoted && n == 8 && !memcmp(s, "Infinity", 8))
        v = INFINITY;
    else if (quoted && n == 9 && !memcmp(s, "-Infinity", 9))
        v = -INFINITY;
    else {
        char *scratch = NULL;
        if (n >= KVS_OJ_NUM_INLINE && !(scratch = bump(d, n + 1, 1)))
            return fail(d, 0, "out of memory");
        int r = kvs_ojson_parse_double(s, n, scratch, &v);
        if (r != KVS_OJ_NUM_OK)
            return fail(d, 0, "%s", r == KVS_OJ_NUM_SYNTAX ? kvs_ojson_expected(f, 1) : "number out of range");
    }
    *(double *)dst = v;
    return 1;
}

static int store_enum_name(dec *d, const kvs_ojson_field *f, void *dst, const unsigned char *s, size_t n)
{
    char name[96];
    const ProtobufCEnumValue *ev = NULL;
    if (n < sizeof name) {
        memcpy(name, s, n);
        name[n] = 0;
        ev = protobuf_c_enum_descriptor_get_value_by_name(f->ed, name);
    }
    if (!ev) {
        size_t k = n < 48 ? n : 48;
        for (size_t i = 0; i < k; i++)
            name[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? (char)s[i] : '?';
        name[k] = 0;
        return fail(d, 0, "unknown %s value \"%s%s\"", f->ed->short_name, name, n > k ? "..." : "");
    }
    *(int *)dst = ev->value;
    return 1;
}

static inline int store_str(dec *d, char **dst, const unsigned char *s, size_t n)
{
    /* yajl checks only the shape of UTF-8 sequences; string fields must be
     * well formed since protobuf consumers reject them. */
    size_t bad = kvs_utf8_check(s, n);
    if (bad != n)
        return fail(d, 1 + bad, "invalid UTF-8 in string");
    char *c = bump(d, n + 1, 1);
    if (!c)
        return fail(d, 0, "out of memory");
    memcpy(c, s, n);
    c[n] = 0;
    *dst = c;
    return 1;
}

/* A JSON string for field f into dst (a member or an array element). */
static int store_string(dec *d, const kvs_ojson_field *f, void *dst, const unsigned char *s, size_t n)
{
    switch (f->kind) {
    case KVS_OJ_STRING:
        return store_str(d, dst, s, n);
    case KVS_OJ_HEX:
        return store_hex(d, f, dst, s, n);
    case KVS_OJ_BYTES:
        return store_b64(d, dst, s, n);
    case KVS_OJ_ENUM:
        if (n && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
            return store_int(d, f, dst, (const char *)s, n);
        return store_enum_name(d, f, dst, s, n);
    case KVS_OJ_I32: case KVS_OJ_U32: case KVS_OJ_I64: case KVS_OJ_U64:
        return store_int(d, f, dst, (const char *)s, n);
    case KVS_OJ_DOUBLE:
        return store_real(d, f, dst, (const char *)s, n, 1);
    default:
        return fail(d, 0, "%s", kvs_ojson_expected(f, 1));
    }
}

static int store_number(dec *d, const kvs_ojson_field *f, void *dst, const char *s, size_t n)
{
    switch (f->kind) {
    case KVS_OJ_ENUM: case KVS_OJ_I32: case KVS_OJ_U32: case KVS_OJ_I64: case KVS_OJ_U64:
        return store_int(d, f, dst, s, n);
    case KVS_OJ_DOUBLE:
        return store_real(d, f, dst, s, n, 0);
    default:
        return fail(d, 0, "%s", kvs_ojson_expected(f, 1));
    }
}

/* ---- structure --------------------------------------------------------- */

/* Room for one more element of the array frame fr. */
static void *arr_push(dec *d, frame *fr)
{
    size_t es = fr->via->elem_size;
    if (fr->n == fr->cap) {
        size_t nc = fr->cap ? fr->cap * 2 : 4;
        char *na = kvs_arena_grow(d->a, fr->arr, fr->cap * es, nc * es);
        if (!na)
            return NULL;
        fr->arr = na, fr->cap = nc;
    }
    return fr->arr + es * fr->n++;
}

/* Scalar element types of repeated fields, stored through a temporary so a
 * failed element does not count. */
typedef union scalar_tmp {
    char *s;
    ProtobufCBinaryData b;
    uint64_t u64;
    double dbl;
    int i;
} scalar_tmp;

static int arr_store(dec *d, frame *fr, const scalar_tmp *tmp)
{
    void *e = arr_push(d, fr);
    if (!e)
        return fail(d, 0, "out of memory");
    memcpy(e, tmp, fr->via->elem_size);
    return 1;
}

/* After a scalar member was stored. */
static inline int member_done(frame *fr, const kvs_ojson_field *f)
{
    if (f->oneof)
        *(uint32_t *)(fr->msg + f->qoffset) = f->id;
    fr->f = NULL;
    return 1;
}

/* A scalar where no member takes it directly: the root, the document level,
 * an unknown key, a repeated or message field. Returns -1 to go on with an
 * array element, else the callback's result. */
static int scalar_elsewhere(dec *d, frame *fr, const kvs_ojson_field *f)
{
    if (!d->top)
        return not_object(d);
    if (fr->type == FR_ARR)
        return -1;
    if (f == &k_unknown) {
        fr->f = NULL;
        return 1;
    }
    return fail(d, 0, "%s", fr->type == FR_DOC ? "expected an array" : kvs_ojson_expected(f, 0));
}

static int cb_null(void *ctx)
{
    dec *d = ctx;
    if (d->skip)
        return 1;
    d->tok = NULL, d->tok_back = 4;
    if (!d->top)
        return not_object(d);
    frame *fr = &d->st[d->top - 1];
    if (fr->type == FR_ARR)
        return fail(d, 0, "%s, got null", kvs_ojson_expected(fr->via, 1));
    fr->f = NULL;
    return 1;
}

static int cb_bool(void *ctx, int b)
{
    dec *d = ctx;
    if (d->skip)
        return 1;
    d->tok = NULL, d->tok_back = b ? 4 : 5;
    frame *fr = &d->st[d->top ? d->top - 1 : 0];
    const kvs_ojson_field *f = fr->f;
    if (!d->top || fr->type != FR_MSG || f == &k_unknown || f->repeated) {
        int r = scalar_elsewhere(d, fr, f);
        if (r >= 0)
            return r;
        f = fr->via;
    }
    if (f->kind != KVS_OJ_BOOL)
        return fail(d, 0, "%s", kvs_ojson_expected(f, 1));
    if (fr->type == FR_ARR) {
        scalar_tmp tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.i = b != 0;
        return arr_store(d, fr, &tmp);
    }
    *(protobuf_c_boolean *)(fr->msg + f->offset) = b != 0;
    return member_done(fr, f);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    dec *d = ctx;
    if (d->skip)
        return 1;
    d->tok = s, d->tok_quote = 0;
    frame *fr = &d->st[d->top ? d->top - 1 : 0];
    const kvs_ojson_field *f = fr->f;
    if (!d->top || fr->type != FR_MSG || f == &k_unknown || f->repeated) {
        int r = scalar_elsewhere(d, fr, f);
        if (r >= 0)
            return r;
        scalar_tmp tmp;
        return store_number(d, fr->via, &tmp, s, n) && arr_store(d, fr, &tmp);
    }
    return store_number(d, f, fr->msg + f->offset, s, n) && member_done(fr, f);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    dec *d = ctx;
    if (d->skip)
        return 1;
    d->tok = (const char *)s, d->tok_quote = 1;
    frame *fr = &d->st[d->top ? d->top - 1 : 0];
    const kvs_ojson_field *f = fr->f;
    if (!d->top || fr->type != FR_MSG || f == &k_unknown || f->repeated) {
        int r = scalar_elsewhere(d, fr, f);
        if (r >= 0)
            return r;
        scalar_tmp tmp;
        return store_string(d, fr->via, &tmp, s, n) && arr_store(d, fr, &tmp);
    }
    if (f->kind == KVS_OJ_STRING)
        return store_str(d, (char **)(fr->msg + f->offset), s, n) && member_done(fr, f);
    return store_string(d, f, fr->msg + f->offset, s, n) && member_done(fr, f);
}

static int doc_key(dec *d, frame *fr, const unsigned char *k, size_t n)
{
    fr->f = &k_unknown;
    for (unsigned i = 0; i < 3; i++) {
        const kvs_ojson_field *f = &d->roots[i]->f[0];
        if ((f->camel_len == n && kvs_ojson_name_eq(f->camel, k, n)) || (f->snake_len == n && kvs_ojson_name_eq(f->snake, k, n))) {
            fr->f = f;
            fr->hint = i;
        }
    }
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
    dec *d = ctx;
    if (d->skip)
        return 1;
    frame *fr = &d->st[d->top - 1];
    if (fr->type != FR_MSG)
        return doc_key(d, fr, k, n);
    /* Keys usually come in field order: try the one after the last match. */
    const kvs_ojson_msg *m = fr->m;
    unsigned h = fr->hint;
    if (h < m->n && m->f[h].camel_len == n && kvs_ojson_name_eq(m->f[h].camel, k, n)) {
        fr->hint = h + 1;
        fr->f = &m->f[h];
        return 1;
    }
    fr->f = kvs_ojson_lookup(m, k, n, &fr->hint);
    if (!fr->f)
        fr->f = &k_unknown;
    return 1;
}

static int begin_skip(dec *d, frame *fr)
{
    fr->f = NULL;
    if (d->top + d->skip >= KVS_OTLP_JSON_MAX_DEPTH)
        return too_deep(d);
    d->skip = 1;
    return 1;
}

static int cb_start_map(void *ctx)
{
    dec *d = ctx;
    if (d->skip) {
        if (d->top + d->skip >= KVS_OTLP_JSON_MAX_DEPTH) {
            d->tok = NULL, d->tok_back = 1;
            return too_deep(d);
        }
        d->skip++;
        return 1;
    }
    if (d->top >= KVS_OTLP_JSON_MAX_DEPTH) {
        d->tok = NULL, d->tok_back = 1;
        return too_deep(d);
    }
    if (!d->top) {
        frame *c = &d->st[d->top++];
        memset(c, 0, sizeof *c);
        c->type = FR_DOC;
        return 1;
    }
    frame *fr = &d->st[d->top - 1];
    const kvs_ojson_field *f;
    void **slot;
    if (fr->type == FR_ARR) {
        f = fr->via;
        if (f->kind != KVS_OJ_MSG)
            goto bad;
        if (!(slot = arr_push(d, fr)))
            goto oom;
    } else {
        f = fr->f;
        if (f == &k_unknown)
            return begin_skip(d, fr);
        if (fr->type == FR_DOC || f->kind != KVS_OJ_MSG || f->repeated)
            goto bad;
        slot = (void **)(fr->msg + f->offset);
        if (f->oneof)
            *(uint32_t *)(fr->msg + f->qoffset) = f->id;
        fr->f = NULL;
    }
    void *m = new_msg(d, f->sub);
    if (!m)
        goto oom;
    *slot = m;
    frame *c = &d->st[d->top++];
    c->type = FR_MSG;
    c->elem = fr->type == FR_ARR;
    c->hint = 0;
    c->m = f->sub;
    c->msg = m;
    c->via = f;
    c->f = NULL;
    return 1;
bad:
    d->tok = NULL, d->tok_back = 1;
    return fail(d, 0, "%s", fr->type == FR_DOC ? "expected an array" : kvs_ojson_expected(f, fr->type == FR_ARR));
oom:
    d->tok = NULL, d->tok_back = 1;
    return fail(d, 0, "out of memory");
}

static int cb_end_map(void *ctx)
{
    dec *d = ctx;
    if (d->skip)
        d->skip--;
    else
        d->top--;
    return 1;
}

static int cb_start_array(void *ctx)
{
    dec *d = ctx;
    d->tok = NULL, d->tok_back = 1;
    if (d->skip) {
        if (d->top + d->skip >= KVS_OTLP_JSON_MAX_DEPTH)
            return too_deep(d);
        d->skip++;
        return 1;
    }
    if (!d->top)
        return not_object(d);
    frame *fr = &d->st[d->top - 1];
    if (fr->type == FR_ARR)
        return fail(d, 0, "%s", kvs_ojson_expected(fr->via, 1));
    const kvs_ojson_field *f = fr->f;
    if (f == &k_unknown)
        return begin_skip(d, fr);
    if (!f->repeated)
        return fail(d, 0, "%s", kvs_ojson_expected(f, 0));
    if (d->top >= KVS_OTLP_JSON_MAX_DEPTH)
        return too_deep(d);
    char *owner = fr->msg;
    if (fr->type == FR_DOC) {
        void **req = fr->hint == 0 ? (void **)&d->out->traces
                   : fr->hint == 1 ? (void **)&d->out->metrics : (void **)&d->out->logs;
        if (!*req && !(*req = new_msg(d, d->roots[fr->hint])))
            return fail(d, 0, "out of memory");
        owner = *req;
    }
    fr->f = NULL;
    frame *c = &d->st[d->top++];
    memset(c, 0, sizeof *c);
    c->type = FR_ARR;
    c->msg = owner;
    c->via = f;
    return 1;
}

static int cb_end_array(void *ctx)
{
    dec *d = ctx;
    if (d->skip) {
        d->skip--;
        return 1;
    }
    frame *fr = &d->st[--d->top];
    *(size_t *)(fr->msg + fr->via->qoffset) = fr->n;
    *(void **)(fr->msg + fr->via->offset) = fr->n ? fr->arr : NULL;
    return 1;
}

static const yajl_callbacks k_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_bool,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

static void yajl_failed(dec *d)
{
    char what[160];
    unsigned char *m = yajl_get_error(d->h, 0, NULL, 0);
    size_t n = m ? strlen((char *)m) : 0;
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(what, sizeof what, "%.*s", (int)n, m ? (const char *)m : "invalid JSON");
    if (m)
        yajl_free_error(d->h, m);
    set_error(d, here(d), what);
}

int kvs_otlp_json_decode(const char *buf, size_t len, kvs_arena *arena, kvs_otlp_doc *out,
                         kvs_json_error *err)
{
    kvs_json_error dummy;
    dec d;
    if (!err)
        err = &dummy;
    memset(out, 0, sizeof *out);
    err->offset = 0;
    err->msg[0] = 0;
    d.buf = buf;
    d.len = len;
    d.a = arena;
    d.bp = d.be = NULL;
    d.chunk = 1024;
    d.out = out;
    d.err = err;
    d.tok = NULL;
    d.tok_quote = d.tok_back = 0;
    d.top = d.skip = 0;
    d.failed = d.finishing = 0;
    memset(&d.st[0], 0, sizeof d.st[0]);   /* read (not used) by a scalar at the root */
    d.roots[0] = kvs_ojson_schema(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor);
    d.roots[1] = kvs_ojson_schema(&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor);
    d.roots[2] = kvs_ojson_schema(&opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor);
    if (!d.roots[0] || !d.roots[1] || !d.roots[2]) {
        snprintf(err->msg, sizeof err->msg, "OTLP/JSON field tables unavailable");
        return -1;
    }
    d.h = yajl_alloc(&k_callbacks, NULL, &d);
    if (!d.h) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    yajl_status st = yajl_parse(d.h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok) {
        d.finishing = 1;
        st = yajl_complete_parse(d.h);
    }
    if (st != yajl_status_ok && !d.failed)
        yajl_failed(&d);
    yajl_free(d.h);
    if (d.failed) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}
