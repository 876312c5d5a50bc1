/* The OTLP wire scanner (formats/otlp_wire.h).
 *
 * Tables: every message type reachable from the three Export requests gets
 * a row of field kinds indexed by field number, built once from the
 * protobuf-c descriptors (pthread_once), so the walk costs one array load
 * per field instead of protobuf-c's range search. Field numbers past the
 * row (none in OTLP today) are looked up in the descriptor.
 *
 * Acceptance mirrors protobuf-c 1.4's unpack, or is stricter: keys of at
 * most 5 bytes with a field number in 1..2^29-1, varints of at most 10
 * bytes, lengths below 2^31, no groups, the wire type protobuf-c demands
 * for each known field (bool takes any), packed arrays of whole elements
 * (bools 0 or 1), and, beyond protobuf-c, UTF-8 in strings. */
#include "formats/otlp_wire.h"

#include "formats/utf8.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { K_UNKNOWN, K_VARINT, K_I32, K_I64, K_BOOL, K_STRING, K_BYTES, K_MSG };
enum { M_PLAIN, M_SPAN, M_LOG, M_METRIC, M_POINTS };

#define WROW 32
#define WMAXD 64

typedef struct wfield {
    uint8_t kind, repeated, sub;
} wfield;

typedef struct wdesc {
    const ProtobufCMessageDescriptor *d;
    uint8_t role;
    wfield f[WROW];
} wdesc;

static wdesc g_desc[WMAXD];
static int g_nd;
static int g_root[KVS_NSIG];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint8_t kind_of(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_ENUM: return K_VARINT;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return K_I32;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return K_I64;
    case PROTOBUF_C_TYPE_BOOL: return K_BOOL;
    case PROTOBUF_C_TYPE_STRING: return K_STRING;
    case PROTOBUF_C_TYPE_BYTES: return K_BYTES;
    case PROTOBUF_C_TYPE_MESSAGE: return K_MSG;
    }
    return K_UNKNOWN;
}

static uint8_t role_of(const ProtobufCMessageDescriptor *d)
{
    if (d == &opentelemetry__proto__trace__v1__span__descriptor)
        return M_SPAN;
    if (d == &opentelemetry__proto__logs__v1__log_record__descriptor)
        return M_LOG;
    if (d == &opentelemetry__proto__metrics__v1__metric__descriptor)
        return M_METRIC;
    if (d == &opentelemetry__proto__metrics__v1__gauge__descriptor ||
        d == &opentelemetry__proto__metrics__v1__sum__descriptor ||
        d == &opentelemetry__proto__metrics__v1__histogram__descriptor ||
        d == &opentelemetry__proto__metrics__v1__exponential_histogram__descriptor ||
        d == &opentelemetry__proto__metrics__v1__summary__descriptor)
        return M_POINTS;
    return M_PLAIN;
}

/* The row of d, or -1. */
static int find_desc(const ProtobufCMessageDescriptor *d)
{
    for (int i = 0; i < g_nd; i++)
        if (g_desc[i].d == d)
            return i;
    return -1;
}

/* The row of d (added with its sub-messages when new); -1 past WMAXD. */
static int add_desc(const ProtobufCMessageDescriptor *d)
{
    int known = find_desc(d);
    if (known >= 0)
        return known;
    if (g_nd == WMAXD)
        return -1;
    int at = g_nd++;
    g_desc[at].d = d;
    g_desc[at].role = role_of(d);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        wfield w = { kind_of(f), f->label == PROTOBUF_C_LABEL_REPEATED, 0 };
        if (w.kind == K_MSG) {
            int sub = add_desc(f->descriptor);
            if (sub < 0)
                return -1;
            w.sub = (uint8_t)sub;
        }
        if (f->id < WROW)
            g_desc[at].f[f->id] = w;
    }
    return at;
}

static void init_tables(void)
{
    for (int i = 0; i < KVS_NSIG; i++)
        g_root[i] = add_desc(kvs_request_descriptor(kvs_signal_at(i)));
}

/* ---- the walk ---- */

typedef struct scanner {
    const uint8_t *body;
    kvs_otlp_wire_info *info;
    char *msg;
    size_t msgn;
} scanner;

static inline int rd_varint(const uint8_t **pp, const uint8_t *end, unsigned maxlen, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned i = 0, shift = 0; i < maxlen && p < end; i++, shift += 7) {
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = r;
            return 0;
        }
    }
    return -1;
}

static int fail(scanner *s, const uint8_t *at, const wdesc *d, const char *what, uint32_t id)
{
    if (id)
        snprintf(s->msg, s->msgn, "protobuf: %s at byte %zu (%s field %u)", what, (size_t)(at - s->body),
                 d->d->short_name, id);
    else
        snprintf(s->msg, s->msgn, "protobuf: %s at byte %zu of %s", what, (size_t)(at - s->body), d->d->short_name);
    return -1;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* A packed array of a scalar kind: whole elements only. */
static int packed_ok(uint8_t kind, const uint8_t *p, const uint8_t *end)
{
    size_t n = (size_t)(end - p);
    switch (kind) {
    case K_I32: return n % 4 == 0;
    case K_I64: return n % 8 == 0;
    case K_BOOL:
        for (; p < end; p++)
            if (*p > 1)
                return 0;
        return 1;
    default: {
        uint64_t v;
        while (p < end)
            if (rd_varint(&p, end, 10, &v) != 0)
                return 0;
        return 1;
    }
    }
}

/* One message being walked: where it ends, its row, and what its role
 * collects (ids of a span / log record, points of a data holder, the
 * points of the metric's current data member). */
typedef struct frame {
    const uint8_t *end;
    const wdesc *d;
    const uint8_t *tid, *sid;
    size_t tidn, sidn, points, data_points;
    uint32_t field;          /* its field number in the enclosing message */
} frame;

/* A message is complete: count what its role counts, tell the enclosing
 * one (when there is one) what it needs to know. */
static void finish(scanner *s, frame *f, frame *outer)
{
    switch (f->d->role) {
    case M_SPAN:
        s->info->items++;
        if (f->tidn != 16 || f->sidn != 8 || all_zero(f->tid, 16) || all_zero(f->sid, 8))
            s->info->invalid++;
        break;
    case M_LOG:
        s->info->items++;
        if ((f->tidn != 0 && f->tidn != 16) || (f->sidn != 0 && f->sidn != 8))
            s->info->invalid++;
        break;
    case M_METRIC: s->info->items += f->data_points; break;
    case M_POINTS:
        if (outer && outer->d->role == M_METRIC)
            outer->data_points = f->points; /* oneof: the last member wins */
        break;
    default: break;
    }
    if (outer && outer->d->role == M_POINTS && f->field == 1)
        outer->points++;
}

/* Walks with an explicit stack of frames (no recursion: OTLP nests small
 * messages, KeyValue in AnyValue in KeyValue, and a call per message
 * costs more than the fields it holds). */
static int scan(scanner *s, int root, const uint8_t *p, const uint8_t *end)
{
    frame st[KVS_OTLP_WIRE_MAX_DEPTH + 1];
    int top = 0;
    memset(&st[0], 0, sizeof st[0]);
    st[0].end = end;
    st[0].d = &g_desc[root];
    frame *fr = &st[0];
    const wdesc *d = fr->d;
    const uint8_t *e = end;
    for (;;) {
        while (p < e) {
            const uint8_t *at = p;
            uint64_t key, v;
            if (*p < 0x80) /* one-byte keys: fields 1..15, the common case */
                key = *p++;
            else if (rd_varint(&p, e, 5, &key) != 0 || (key >> 3) > 0x1FFFFFFF)
                return fail(s, at, d, "malformed field key", 0);
            if ((key >> 3) == 0)
                return fail(s, at, d, "malformed field key", 0);
            uint32_t id = (uint32_t)(key >> 3);
            unsigned wt = (unsigned)(key & 7);
            wfield f = { K_UNKNOWN, 0, 0 };
            if (id < WROW) {
                f = d->f[id];
            } else {
                const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d->d, id);
                if (fd) {
                    f.kind = kind_of(fd);
                    f.repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
                    int sub = f.kind == K_MSG ? find_desc(fd->descriptor) : 0;
                    if (sub < 0)
                        return fail(s, at, d, "message type outside the OTLP schema", id);
                    f.sub = (uint8_t)sub;
                }
            }
            if (wt == 2) {
                if (p < e && *p < 0x80)
                    v = *p++;
                else if (rd_varint(&p, e, 5, &v) != 0 || v >= 0x80000000u)
                    return fail(s, at, d, "malformed or overlong length", id);
                if (v > (uint64_t)(e - p))
                    return fail(s, at, d, "malformed or overlong length", id);
                const uint8_t *val = p;
                p += v;
                switch (f.kind) {
                case K_UNKNOWN: break;
                case K_STRING: {
                    size_t bad = kvs_utf8_check(val, (size_t)v);
                    if (bad != v)
                        return fail(s, val + bad, d, "invalid UTF-8 in a string", id);
                    break;
                }
                case K_BYTES:
                    if (d->role == M_SPAN || d->role == M_LOG) {
                        if (id == (d->role == M_SPAN ? 1u : 9u))
                            fr->tid = val, fr->tidn = (size_t)v;
                        else if (id == (d->role == M_SPAN ? 2u : 10u))
                            fr->sid = val, fr->sidn = (size_t)v;
                    }
                    break;
                case K_MSG:
                    if (top == KVS_OTLP_WIRE_MAX_DEPTH) {
                        snprintf(s->msg, s->msgn, "protobuf: messages nested deeper than %d levels at byte %zu",
                                 KVS_OTLP_WIRE_MAX_DEPTH, (size_t)(val - s->body));
                        return -1;
                    }
                    /* Walk into it; its end is where the enclosing one resumes. */
                    fr = &st[++top];
                    memset(fr, 0, sizeof *fr);
                    fr->end = e = p;
                    fr->d = d = &g_desc[f.sub];
                    fr->field = id;
                    p = val;
                    break;
                default:
                    if (!f.repeated) {
                        if (f.kind != K_BOOL)
                            return fail(s, at, d, "wrong wire type (length-delimited)", id);
                    } else if (!packed_ok(f.kind, val, p)) {
                        return fail(s, at, d, "malformed packed array", id);
                    }
                }
            } else if (wt == 0) {
                if (rd_varint(&p, e, 10, &v) != 0)
                    return fail(s, at, d, "malformed varint", id);
                if (f.kind != K_UNKNOWN && f.kind != K_VARINT && f.kind != K_BOOL)
                    return fail(s, at, d, "wrong wire type (varint)", id);
            } else if (wt == 1 || wt == 5) {
                size_t w = wt == 1 ? 8 : 4;
                if ((size_t)(e - p) < w)
                    return fail(s, at, d, "truncated fixed-width value", id);
                p += w;
                if (f.kind != K_UNKNOWN && f.kind != K_BOOL && f.kind != (wt == 1 ? K_I64 : K_I32))
                    return fail(s, at, d, wt == 1 ? "wrong wire type (64-bit)" : "wrong wire type (32-bit)", id);
            } else {
                return fail(s, at, d, "unsupported wire type", id);
            }
        }
        finish(s, fr, top ? &st[top - 1] : NULL);
        if (top == 0)
            return 0;
        fr = &st[--top];
        d = fr->d;
        e = fr->end;
    }
}

int kvs_otlp_wire_scan(kvs_signal sig, const uint8_t *p, size_t n, kvs_otlp_wire_info *info, char *msg,
                       size_t msgn)
{
    pthread_once(&g_once, init_tables);
    memset(info, 0, sizeof *info);
    int root = g_root[kvs_signal_index(sig)];
    if (root < 0) {
        snprintf(msg, msgn, "protobuf: the OTLP schema has more message types than the scanner's table");
        return -1;
    }
    scanner s = { p, info, msg, msgn };
    static const uint8_t empty[1];
    return scan(&s, root, p ? p : empty, (p ? p : empty) + n);
}
