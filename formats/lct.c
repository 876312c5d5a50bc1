/* The `.lct` reader (see lct.h): frames are assembled in one buffer that
 * grows to the largest frame accepted (bounded by max_frame), checked
 * structurally (every declared container fits in the bytes that remain,
 * nesting bounded) before msgpack-c decodes them into a zone that is
 * cleared per frame, then converted into kvs_lct_value trees in an arena
 * that is reset per record. Nothing grows with the file. */
#include "formats/lct.h"

#include "core/arena.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64u << 10)

struct kvs_lct_reader {
    kvs_lct_read_fn read;
    void *ctx;
    size_t max_frame;
    unsigned char *buf;
    size_t cap, start, end;      /* valid bytes: buf[start..end) */
    uint64_t pos;                /* file offset of buf[start] */
    size_t consume;              /* bytes of the last frame still to drop */
    int eof, header_done;
    uint64_t frames;             /* frames read, header included */
    msgpack_zone zone;
    kvs_arena *arena;
    kvs_lct_value empty_args;
    kvs_lct_stats stats;
    /* kvs_lct_reader_fd / _mem */
    int fd;
    const unsigned char *mem;
    size_t mem_len, mem_off;
};

/* ---- input ---- */

static long read_fd(void *ctx, void *buf, size_t n)
{
    kvs_lct_reader *r = ctx;
    for (;;) {
        ssize_t k = read(r->fd, buf, n);
        if (k >= 0 || errno != EINTR)
            return (long)k;
    }
}

static long read_mem(void *ctx, void *buf, size_t n)
{
    kvs_lct_reader *r = ctx;
    size_t left = r->mem_len - r->mem_off;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, r->mem + r->mem_off, n);
    r->mem_off += n;
    return (long)n;
}

kvs_lct_reader *kvs_lct_reader_new(kvs_lct_read_fn read_fn, void *ctx, size_t max_frame)
{
    kvs_lct_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->read = read_fn;
    r->ctx = ctx;
    r->max_frame = max_frame ? max_frame : KVS_LCT_DEFAULT_MAX_FRAME;
    r->cap = READ_CHUNK * 2;
    r->buf = malloc(r->cap);
    r->arena = kvs_arena_new();
    if (!r->buf || !r->arena || !msgpack_zone_init(&r->zone, 16u << 10)) {
        free(r->buf);
        kvs_arena_free(r->arena);
        free(r);
        return NULL;
    }
    r->empty_args.type = KVS_LCT_MAP;
    r->fd = -1;
    return r;
}

kvs_lct_reader *kvs_lct_reader_fd(int fd, size_t max_frame)
{
    kvs_lct_reader *r = kvs_lct_reader_new(read_fd, NULL, max_frame);
    if (r) {
        r->ctx = r;
        r->fd = fd;
    }
    return r;
}

kvs_lct_reader *kvs_lct_reader_mem(const void *data, size_t len, size_t max_frame)
{
    kvs_lct_reader *r = kvs_lct_reader_new(read_mem, NULL, max_frame);
    if (r) {
        r->ctx = r;
        r->mem = data;
        r->mem_len = len;
    }
    return r;
}

void kvs_lct_reader_free(kvs_lct_reader *r)
{
    if (!r)
        return;
    msgpack_zone_destroy(&r->zone);
    kvs_arena_free(r->arena);
    free(r->buf);
    free(r);
}

const kvs_lct_stats *kvs_lct_get_stats(const kvs_lct_reader *r) { return &r->stats; }

static void drop(kvs_lct_reader *r, size_t n)
{
    r->start += n;
    r->pos += n;
    r->stats.bytes += n;
}

/* Makes at least `need` bytes available from start (fewer at end of input).
 * Returns the count available, or -1 on a read error / out of memory. */
static long fill(kvs_lct_reader *r, size_t need)
{
    while (r->end - r->start < need && !r->eof) {
        if (r->cap - r->start < need + READ_CHUNK || r->cap - r->end < READ_CHUNK) {
            size_t have = r->end - r->start;
            if (r->start) {
                memmove(r->buf, r->buf + r->start, have);
                r->start = 0;
                r->end = have;
            }
            if (r->cap < need + READ_CHUNK) {
                size_t ncap = need + READ_CHUNK;
                unsigned char *g = realloc(r->buf, ncap);
                if (!g) {
                    errno = ENOMEM;
                    return -1;
                }
                r->buf = g;
                r->cap = ncap;
            }
        }
        long k = r->read(r->ctx, r->buf + r->end, r->cap - r->end);
        if (k < 0)
            return -1;
        if (k == 0)
            r->eof = 1;
        r->end += (size_t)k;
    }
    size_t have = r->end - r->start;
    return (long)(have < need ? have : need);
}

/* Discards n bytes of input. Returns the count discarded (less at end of
 * input) or -1 on error. */
static long discard(kvs_lct_reader *r, uint64_t n)
{
    uint64_t done = 0;
    while (done < n) {
        if (r->end == r->start) {
            r->start = r->end = 0;
            if (r->eof)
                break;
            long k = r->read(r->ctx, r->buf, r->cap);
            if (k < 0)
                return -1;
            if (k == 0) {
                r->eof = 1;
                break;
            }
            r->end = (size_t)k;
        }
        size_t take = r->end - r->start;
        if (take > n - done)
            take = (size_t)(n - done);
        drop(r, take);
        done += take;
    }
    return (long)done;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum { FR_EOF, FR_OK, FR_TRUNCATED, FR_OVERSIZED, FR_IOERR };

/* The next frame: body at buf+start+4, *len bytes, at file offset *off. */
static int next_frame(kvs_lct_reader *r, uint32_t *len, uint64_t *off)
{
    if (r->consume) {
        drop(r, r->consume);
        r->consume = 0;
    }
    *off = r->pos;
    long have = fill(r, 4);
    if (have < 0)
        return FR_IOERR;
    if (have == 0)
        return FR_EOF;
    if (have < 4) {
        r->stats.truncated = 1;
        r->stats.truncated_offset = r->pos;
        r->stats.truncated_have = (uint64_t)have;
        r->stats.truncated_want = 0;
        drop(r, (size_t)have);
        return FR_TRUNCATED;
    }
    *len = be32(r->buf + r->start);
    r->frames++;
    if (*len > r->max_frame) {
        drop(r, 4);
        long got = discard(r, *len);
        if (got < 0)
            return FR_IOERR;
        if ((uint64_t)got < *len) {
            r->stats.truncated = 1;
            r->stats.truncated_offset = *off;
            r->stats.truncated_have = (uint64_t)got + 4;
            r->stats.truncated_want = (uint64_t)*len + 4;
            return FR_TRUNCATED;
        }
        return FR_OVERSIZED;
    }
    have = fill(r, (size_t)*len + 4);
    if (have < 0)
        return FR_IOERR;
    if ((size_t)have < (size_t)*len + 4) {
        r->stats.truncated = 1;
        r->stats.truncated_offset = *off;
        r->stats.truncated_have = (uint64_t)have;
        r->stats.truncated_want = (uint64_t)*len + 4;
        drop(r, (size_t)have);
        return FR_TRUNCATED;
    }
    r->consume = (size_t)*len + 4;
    return FR_OK;
}

/* ---- msgpack structure check (before msgpack-c sizes anything) ---- */

/* One msgpack object must fill p[0..n) exactly, every container's declared
 * element count must fit in the bytes left, nesting at most depth_max.
 * Returns NULL or the reason. */
static const char *mp_check(const unsigned char *p, size_t n, int depth_max)
{
    uint64_t pending[40];      /* elements still expected per open container */
    int depth = 0;
    uint64_t top = 1;          /* elements expected at the current level */
    size_t i = 0;
    if (depth_max > 39)
        depth_max = 39;
    for (;;) {
        while (top == 0) {
            if (depth == 0)
                return i == n ? NULL : "trailing bytes after the frame's object";
            top = pending[--depth];
        }
        if (i >= n)
            return "object cut short inside the frame";
        unsigned c = p[i++];
        top--;
        uint64_t skip = 0, elems = 0;
        int container = 0;
        size_t lenbytes = 0;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        } else if ((c & 0xf0) == 0x80) {
            container = 1, elems = (uint64_t)(c & 0x0f) * 2;
        } else if ((c & 0xf0) == 0x90) {
            container = 1, elems = c & 0x0f;
        } else if ((c & 0xe0) == 0xa0) {
            skip = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: case 0xd9: lenbytes = 1; break;              /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; break;              /* bin16, str16 */
            case 0xc6: case 0xdb: lenbytes = 4; break;              /* bin32, str32 */
            case 0xc7: lenbytes = 1, skip = 1; break;               /* ext8: +type */
            case 0xc8: lenbytes = 2, skip = 1; break;
            case 0xc9: lenbytes = 4, skip = 1; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                             /* fixext */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: container = 1, lenbytes = 2; break;          /* array16 */
            case 0xdd: container = 1, lenbytes = 4; break;
            case 0xde: container = 2, lenbytes = 2; break;          /* map16 */
            case 0xdf: container = 2, lenbytes = 4; break;
            default: return "invalid msgpack type byte";           /* 0xc1 */
            }
        }
        if (lenbytes) {
            if (n - i < lenbytes)
                return "object cut short inside the frame";
            uint64_t v = 0;
            for (size_t k = 0; k < lenbytes; k++)
                v = v << 8 | p[i + k];
            i += lenbytes;
            if (container)
                elems = container == 2 ? v * 2 : v;
            else
                skip += v;
        }
        if (skip > n - i)
            return "object cut short inside the frame";
        i += (size_t)skip;
        if (container && elems) {
            if (elems > n - i)
                return "a container declares more elements than the frame holds";
            if (depth >= depth_max)
                return "values nested too deeply";
            pending[depth++] = top;
            top = elems;
        }
    }
}

/* ---- conversion ---- */

static const struct { const char *name; kvs_lct_tag tag; } tags[] = {
    { "tuple", KVS_LCT_TAG_TUPLE },
    { "ObjectKey", KVS_LCT_TAG_OBJECT_KEY },
    { "MemoryLayoutDesc", KVS_LCT_TAG_MEMORY_LAYOUT_DESC },
    { "PrefetchHandle", KVS_LCT_TAG_PREFETCH_HANDLE },
    { "torch.Size", KVS_LCT_TAG_TORCH_SIZE },
    { "torch.dtype", KVS_LCT_TAG_TORCH_DTYPE },
    { "TrimPolicy", KVS_LCT_TAG_TRIM_POLICY },
    { "PrefetchMode", KVS_LCT_TAG_PREFETCH_MODE },
    { "AttnWindowDesc", KVS_LCT_TAG_ATTN_WINDOW_DESC },
    { "PrefetchRequestSpec", KVS_LCT_TAG_PREFETCH_REQUEST_SPEC },
    { "set", KVS_LCT_TAG_SET },
};

const char *kvs_lct_tag_name(kvs_lct_tag tag)
{
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (tags[i].tag == tag)
            return tags[i].name;
    return "unknown";
}

static int str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (str_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static int mp_number(const msgpack_object *o, double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return 0;
    default: return -1;
    }
}

typedef struct conv {
    kvs_lct_reader *r;
    const char *fail;      /* why the record is undecodable */
    char why[96];
} conv;

static int convert(conv *c, const msgpack_object *o, kvs_lct_value *v, int depth);

/* Checks a known tag's payload shape, as LMCache's decoders need it. */
static const char *tag_shape(kvs_lct_tag tag, const kvs_lct_value *p)
{
    switch (tag) {
    case KVS_LCT_TAG_TUPLE:
    case KVS_LCT_TAG_SET:
    case KVS_LCT_TAG_TORCH_SIZE:
        return p->type == KVS_LCT_LIST ? NULL : "payload is not a list";
    case KVS_LCT_TAG_OBJECT_KEY:
    case KVS_LCT_TAG_MEMORY_LAYOUT_DESC:
    case KVS_LCT_TAG_PREFETCH_HANDLE:
    case KVS_LCT_TAG_PREFETCH_REQUEST_SPEC:
        return p->type == KVS_LCT_MAP ? NULL : "payload is not a map";
    case KVS_LCT_TAG_ATTN_WINDOW_DESC:
        return p->type == KVS_LCT_MAP || p->type == KVS_LCT_LIST ? NULL : "payload is not a map or list";
    case KVS_LCT_TAG_TORCH_DTYPE:
    case KVS_LCT_TAG_TRIM_POLICY:
    case KVS_LCT_TAG_PREFETCH_MODE:
        return p->type == KVS_LCT_STR ? NULL : "payload is not a string";
    case KVS_LCT_TAG_UNKNOWN:
        return NULL;
    }
    return NULL;
}

static int convert_map(conv *c, const msgpack_object *o, kvs_lct_value *v, int depth)
{
    const msgpack_object *t = mp_get(o, "__t__");
    if (t) {
        const msgpack_object *payload = mp_get(o, "v");
        if (t->type != MSGPACK_OBJECT_STR) {
            c->fail = "codec wrapper with a non-string __t__";
            return -1;
        }
        if (!payload) {
            c->fail = "codec wrapper without a value (\"v\")";
            return -1;
        }
        v->type = KVS_LCT_TAGGED;
        v->tagged.tag = KVS_LCT_TAG_UNKNOWN;
        v->tagged.name = t->via.str.ptr;
        v->tagged.name_len = t->via.str.size;
        for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
            if (str_is(t, tags[i].name))
                v->tagged.tag = tags[i].tag;
        if (v->tagged.tag == KVS_LCT_TAG_UNKNOWN)
            c->r->stats.unknown_tags++;
        v->tagged.v = kvs_arena_zalloc(c->r->arena, sizeof *v->tagged.v);
        if (!v->tagged.v) {
            c->fail = "out of memory";
            return -1;
        }
        if (convert(c, payload, v->tagged.v, depth + 1) != 0)
            return -1;
        const char *bad = tag_shape(v->tagged.tag, v->tagged.v);
        if (bad) {
            snprintf(c->why, sizeof c->why, "%s %s", kvs_lct_tag_name(v->tagged.tag), bad);
            c->fail = c->why;
            return -1;
        }
        return 0;
    }
    v->type = KVS_LCT_MAP;
    v->map.n = 0;
    v->map.kv = o->via.map.size ? kvs_arena_zalloc(c->r->arena, o->via.map.size * sizeof *v->map.kv) : NULL;
    if (o->via.map.size && !v->map.kv) {
        c->fail = "out of memory";
        return -1;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        kvs_lct_kv *kv = &v->map.kv[v->map.n];
        if (k->type == MSGPACK_OBJECT_STR) {
            kv->key = k->via.str.ptr;
            kv->key_len = k->via.str.size;
        } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER || k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            char num[24];
            int len = k->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                          ? snprintf(num, sizeof num, "%llu", (unsigned long long)k->via.u64)
                          : snprintf(num, sizeof num, "%lld", (long long)k->via.i64);
            kv->key = kvs_arena_strndup(c->r->arena, num, (size_t)len);
            kv->key_len = (size_t)len;
            if (!kv->key) {
                c->fail = "out of memory";
                return -1;
            }
        } else {
            continue;
        }
        if (convert(c, &o->via.map.ptr[i].val, &kv->val, depth + 1) != 0)
            return -1;
        v->map.n++;
    }
    return 0;
}

static int convert(conv *c, const msgpack_object *o, kvs_lct_value *v, int depth)
{
    if (depth > KVS_LCT_MAX_DEPTH) {
        c->fail = "values nested too deeply";
        return -1;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: v->type = KVS_LCT_NIL; return 0;
    case MSGPACK_OBJECT_BOOLEAN: v->type = KVS_LCT_BOOL, v->b = o->via.boolean; return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            v->type = KVS_LCT_UINT, v->u = o->via.u64;
        else
            v->type = KVS_LCT_INT, v->i = (int64_t)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: v->type = KVS_LCT_INT, v->i = o->via.i64; return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: v->type = KVS_LCT_FLOAT, v->f = o->via.f64; return 0;
    case MSGPACK_OBJECT_STR: v->type = KVS_LCT_STR, v->s.p = o->via.str.ptr, v->s.n = o->via.str.size; return 0;
    case MSGPACK_OBJECT_BIN: v->type = KVS_LCT_BIN, v->s.p = o->via.bin.ptr, v->s.n = o->via.bin.size; return 0;
    case MSGPACK_OBJECT_ARRAY:
        v->type = KVS_LCT_LIST;
        v->list.n = o->via.array.size;
        v->list.v = v->list.n ? kvs_arena_zalloc(c->r->arena, v->list.n * sizeof *v->list.v) : NULL;
        if (v->list.n && !v->list.v) {
            c->fail = "out of memory";
            return -1;
        }
        for (size_t i = 0; i < v->list.n; i++)
            if (convert(c, &o->via.array.ptr[i], &v->list.v[i], depth + 1) != 0)
                return -1;
        return 0;
    case MSGPACK_OBJECT_MAP: return convert_map(c, o, v, depth);
    default:
        c->fail = "an extension value (not written by LMCache's codecs)";
        return -1;
    }
}

/* Decodes the frame body into *out (msgpack zone). NULL or the reason. */
static const char *decode(kvs_lct_reader *r, uint32_t len, msgpack_object *out)
{
    const unsigned char *body = r->buf + r->start + 4;
    if (len == 0)
        return "empty frame";
    const char *bad = mp_check(body, len, KVS_LCT_MAX_DEPTH + 4);
    if (bad)
        return bad;
    msgpack_zone_clear(&r->zone);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack((const char *)body, len, &off, &r->zone, out);
    if (rc != MSGPACK_UNPACK_SUCCESS)
        return rc == MSGPACK_UNPACK_NOMEM_ERROR ? "values nested too deeply or out of memory"
                                                : "not a msgpack object";
    if (out->type != MSGPACK_OBJECT_MAP)
        return "frame is not a map";
    return NULL;
}

/* ---- header ---- */

static void copy_str(char *dst, size_t cap, const msgpack_object *o)
{
    size_t n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
    memcpy(dst, o->via.str.ptr, n);
    dst[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
            dst[i] = '?';
}

static int int_field(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -1;
}

static int header_from(const msgpack_object *m, kvs_lct_header *h, kvs_error *err)
{
    const msgpack_object *o;
    memset(h, 0, sizeof *h);
    if ((o = mp_get(m, "type")) && !str_is(o, "header"))
        return kvs_errorf(err, KVS_E_INVALID, "first frame (offset 0) is not a header (type is not \"header\")");
    o = mp_get(m, "magic");
    if (!o || (o->type != MSGPACK_OBJECT_BIN && o->type != MSGPACK_OBJECT_STR) ||
        o->via.bin.size != 4 || memcmp(o->via.bin.ptr, KVS_LCT_MAGIC, 4) != 0)
        return kvs_errorf(err, KVS_E_INVALID, "bad magic at offset 0: not an LMCache trace (expected b\"LMCT\")");
    int64_t v;
    o = mp_get(m, "format_version");
    if (!o || int_field(o, &v) != 0)
        return kvs_errorf(err, KVS_E_INVALID, "header has no integer format_version");
    if (v != KVS_LCT_FORMAT_VERSION)
        return kvs_errorf(err, KVS_E_INVALID, "unsupported format_version %lld (this build reads %d)",
                          (long long)v, KVS_LCT_FORMAT_VERSION);
    h->format_version = (int)v;
    if ((o = mp_get(m, "trace_schema_version"))) {
        if (int_field(o, &v) != 0)
            return kvs_errorf(err, KVS_E_INVALID, "header trace_schema_version is not an integer");
        if (v != 1 && v != 2)
            return kvs_errorf(err, KVS_E_INVALID, "unsupported trace_schema_version %lld (this build reads 1, 2)",
                              (long long)v);
        h->trace_schema_version = (int)v;
    }
    if ((o = mp_get(m, "lmcache_version")) && o->type == MSGPACK_OBJECT_STR)
        copy_str(h->lmcache_version, sizeof h->lmcache_version, o);
    if (!h->trace_schema_version && !h->lmcache_version[0])
        return kvs_errorf(err, KVS_E_INVALID, "header has neither trace_schema_version nor lmcache_version");
    if ((o = mp_get(m, "level"))) {
        if (o->type != MSGPACK_OBJECT_STR)
            return kvs_errorf(err, KVS_E_INVALID, "header level is not a string");
        copy_str(h->level, sizeof h->level, o);
    }
    if ((o = mp_get(m, "t_mono_start")))
        mp_number(o, &h->t_mono_start);
    if ((o = mp_get(m, "t_wall_start")))
        mp_number(o, &h->t_wall_start);
    if ((o = mp_get(m, "sm_config_json")) && o->type == MSGPACK_OBJECT_STR)
        h->sm_config_json_len = o->via.str.size;
    if ((o = mp_get(m, "sm_config_digest")) && o->type == MSGPACK_OBJECT_STR)
        copy_str(h->sm_config_digest, sizeof h->sm_config_digest, o);
    return 0;
}

int kvs_lct_read_header(kvs_lct_reader *r, kvs_lct_header *out, kvs_error *err)
{
    uint32_t len = 0;
    uint64_t off;
    int fr = next_frame(r, &len, &off);
    r->header_done = 1;
    switch (fr) {
    case FR_IOERR: return kvs_errorf(err, KVS_E_IO, "read: %s", strerror(errno));
    case FR_EOF: return kvs_errorf(err, KVS_E_INVALID, "empty trace file");
    case FR_TRUNCATED: return kvs_errorf(err, KVS_E_INVALID, "truncated header frame at offset 0");
    case FR_OVERSIZED:
        return kvs_errorf(err, KVS_E_INVALID, "header frame of %u bytes exceeds max_frame (%zu): not a trace",
                          len, r->max_frame);
    default: break;
    }
    msgpack_object m;
    const char *bad = decode(r, len, &m);
    if (bad)
        return kvs_errorf(err, KVS_E_INVALID, "header frame at offset 0: %s", bad);
    return header_from(&m, out, err);
}

/* ---- records ---- */

void kvs_lct_reader_resume(kvs_lct_reader *r, uint64_t offset, uint64_t next_index)
{
    r->header_done = 1;
    r->pos = offset;
    r->frames = next_index + 1;
}

static void issue_set(kvs_lct_issue *is, uint64_t index, uint64_t off, const char *reason)
{
    if (!is)
        return;
    is->index = index;
    is->offset = off;
    snprintf(is->reason, sizeof is->reason, "%s", reason);
}

int kvs_lct_next(kvs_lct_reader *r, kvs_lct_record *rec, kvs_lct_issue *issue, kvs_error *err)
{
    if (!r->header_done) {
        kvs_lct_header h;
        int rc = kvs_lct_read_header(r, &h, err);
        if (rc != 0)
            return rc;
    }
    uint32_t len = 0;
    uint64_t off;
    int fr = next_frame(r, &len, &off);
    uint64_t index = r->frames ? r->frames - 2 : 0;
    switch (fr) {
    case FR_IOERR: return kvs_errorf(err, KVS_E_IO, "read: %s", strerror(errno));
    case FR_EOF:
    case FR_TRUNCATED: return KVS_LCT_END;
    case FR_OVERSIZED:
        r->stats.skipped++;
        if (issue) {
            issue->index = index;
            issue->offset = off;
            snprintf(issue->reason, sizeof issue->reason, "frame of %u bytes exceeds max_frame (%zu)", len,
                     r->max_frame);
        }
        return KVS_LCT_SKIPPED;
    default: break;
    }
    kvs_arena_reset(r->arena);
    msgpack_object m;
    const char *bad = decode(r, len, &m);
    const msgpack_object *o;
    if (!bad && (o = mp_get(&m, "type")) && !str_is(o, "record"))
        bad = "frame type is not \"record\"";
    const msgpack_object *q = bad ? NULL : mp_get(&m, "qualname");
    if (!bad && (!q || q->type != MSGPACK_OBJECT_STR))
        bad = "record without a string qualname";
    if (!bad && (!(o = mp_get(&m, "t_mono")) || mp_number(o, &rec->t_mono) != 0))
        bad = "record without a numeric t_mono";
    if (!bad && (!(o = mp_get(&m, "t_wall")) || mp_number(o, &rec->t_wall) != 0))
        bad = "record without a numeric t_wall";
    rec->args = &r->empty_args;
    conv c = { .r = r };
    if (!bad && (o = mp_get(&m, "args")) && o->type != MSGPACK_OBJECT_NIL) {
        kvs_lct_value *args = kvs_arena_zalloc(r->arena, sizeof *args);
        if (o->type != MSGPACK_OBJECT_MAP)
            bad = "record args is not a map";
        else if (!args)
            bad = "out of memory";
        else if (convert(&c, o, args, 0) != 0)
            bad = c.fail;
        else if (args->type != KVS_LCT_MAP)
            bad = "record args is a codec-wrapped value, not a map";
        else
            rec->args = args;
    }
    if (!bad && !(rec->qualname = kvs_arena_strndup(r->arena, q->via.str.ptr, q->via.str.size)))
        bad = "out of memory";
    if (bad) {
        r->stats.skipped++;
        issue_set(issue, index, off, bad);
        return KVS_LCT_SKIPPED;
    }
    rec->qualname_len = q->via.str.size;
    rec->index = index;
    rec->offset = off;
    r->stats.records++;
    return KVS_LCT_RECORD;
}

/* ---- helpers ---- */

const kvs_lct_value *kvs_lct_map_get(const kvs_lct_value *map, const char *key)
{
    if (!map || map->type != KVS_LCT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < map->map.n; i++)
        if (map->map.kv[i].key_len == n && memcmp(map->map.kv[i].key, key, n) == 0)
            return &map->map.kv[i].val;
    return NULL;
}

int kvs_lct_number(const kvs_lct_value *v, double *out)
{
    if (!v)
        return -1;
    switch (v->type) {
    case KVS_LCT_INT: *out = (double)v->i; return 0;
    case KVS_LCT_UINT: *out = (double)v->u; return 0;
    case KVS_LCT_FLOAT: *out = v->f; return 0;
    case KVS_LCT_BOOL: *out = v->b ? 1 : 0; return 0;
    default: return -1;
    }
}

void kvs_lct_op_name(const char *q, size_t len, const char **op, size_t *op_len)
{
    size_t end = len, i = len;
    while (i > 0 && q[i - 1] != '.')
        i--;
    if (i > 1 && (len - i == 9 || len - i == 8) &&
        (memcmp(q + i, "__enter__", len - i) == 0 || memcmp(q + i, "__exit__", len - i) == 0)) {
        i--;
        while (i > 0 && q[i - 1] != '.')
            i--;
    }
    *op = q + i;
    *op_len = end - i;
}
