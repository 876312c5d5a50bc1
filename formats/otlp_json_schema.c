/* The decoder's field tables (see otlp_json_internal.h), built once from the
 * protobuf-c descriptors of the three OTLP request messages and everything
 * they reach. Built under pthread_once; read-only afterwards. */
#include "formats/otlp_json_internal.h"

#include "core/otlp.h"

#include <pthread.h>
#include <string.h>

#define MAX_MSGS 64
#define MAX_FIELDS 512
#define NAME_POOL 8192
#define INIT_POOL 16384

static kvs_ojson_msg g_msgs[MAX_MSGS];
static kvs_ojson_field g_fields[MAX_FIELDS];
static char g_names[NAME_POOL];
static _Alignas(16) unsigned char g_inits[INIT_POOL];
static unsigned g_nmsgs, g_nfields, g_nnames, g_ninits;
static int g_broken;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *pool_add(const char *s, size_t n)
{
    if (g_nnames + n + 1 > NAME_POOL) {
        g_broken = 1;
        return "";
    }
    char *p = g_names + g_nnames;
    memcpy(p, s, n);
    p[n] = 0;
    g_nnames += (unsigned)n + 1;
    return p;
}

/* "start_time_unix_nano" -> "startTimeUnixNano" */
static const char *camel_of(const char *snake, size_t *len)
{
    char tmp[128];
    size_t n = 0;
    int up = 0;
    for (const char *s = snake; *s && n + 1 < sizeof tmp; s++) {
        if (*s == '_') {
            up = 1;
            continue;
        }
        tmp[n++] = (char)(up && *s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
        up = 0;
    }
    *len = n;
    return pool_add(tmp, n);
}

static int is_id_field(const char *name)
{
    return !strcmp(name, "trace_id") || !strcmp(name, "span_id") || !strcmp(name, "parent_span_id");
}

static const kvs_ojson_msg *build(const ProtobufCMessageDescriptor *d);

static int fill_field(kvs_ojson_field *jf, const ProtobufCFieldDescriptor *fd)
{
    size_t clen, slen = strlen(fd->name);
    jf->camel = camel_of(fd->name, &clen);
    jf->snake = pool_add(fd->name, slen);
    if (clen > 255 || slen > 255)
        return -1;
    jf->camel_len = (uint8_t)clen;
    jf->snake_len = (uint8_t)slen;
    jf->repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
    jf->oneof = (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
    jf->id = fd->id;
    jf->offset = fd->offset;
    jf->qoffset = fd->quantifier_offset;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        jf->kind = KVS_OJ_I32, jf->elem_size = 4;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        jf->kind = KVS_OJ_U32, jf->elem_size = 4;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        jf->kind = KVS_OJ_I64, jf->elem_size = 8;
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        jf->kind = KVS_OJ_U64, jf->elem_size = 8;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        jf->kind = KVS_OJ_DOUBLE, jf->elem_size = 8;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        jf->kind = KVS_OJ_BOOL, jf->elem_size = sizeof(protobuf_c_boolean);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        jf->kind = KVS_OJ_ENUM, jf->elem_size = sizeof(int);
        jf->ed = fd->descriptor;
        break;
    case PROTOBUF_C_TYPE_STRING:
        jf->kind = KVS_OJ_STRING, jf->elem_size = sizeof(char *);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        jf->elem_size = sizeof(ProtobufCBinaryData);
        if (is_id_field(fd->name)) {
            jf->kind = KVS_OJ_HEX;
            jf->hex_bytes = !strcmp(fd->name, "trace_id") ? 16 : 8;
        } else {
            jf->kind = KVS_OJ_BYTES;
        }
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        jf->kind = KVS_OJ_MSG, jf->elem_size = sizeof(void *);
        jf->sub = build(fd->descriptor);
        if (!jf->sub)
            return -1;
        break;
    default:
        return -1;
    }
    return 0;
}

static const kvs_ojson_msg *build(const ProtobufCMessageDescriptor *d)
{
    for (unsigned i = 0; i < g_nmsgs; i++)
        if (g_msgs[i].d == d)
            return &g_msgs[i];
    size_t isz = (d->sizeof_message + 15u) & ~(size_t)15u;
    if (g_nmsgs == MAX_MSGS || g_nfields + d->n_fields > MAX_FIELDS || g_ninits + isz > INIT_POOL)
        return NULL;
    /* Registered before its fields so recursive types (AnyValue) resolve. */
    kvs_ojson_msg *m = &g_msgs[g_nmsgs++];
    kvs_ojson_field *f = &g_fields[g_nfields];
    g_nfields += d->n_fields;
    m->d = d;
    m->n = d->n_fields;
    m->f = f;
    m->init = g_inits + g_ninits;
    protobuf_c_message_init(d, g_inits + g_ninits);
    g_ninits += (unsigned)isz;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (fill_field(&f[i], &d->fields[i]) != 0)
            return NULL;
    return m;
}

static void build_all(void)
{
    if (!build(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor) ||
        !build(&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor) ||
        !build(&opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor))
        g_broken = 1;
}

const kvs_ojson_field *kvs_ojson_lookup(const kvs_ojson_msg *m, const unsigned char *k, size_t n, unsigned *hint)
{
    /* From the hint on, so fields left out (defaults) cost a length compare. */
    unsigned start = *hint < m->n ? *hint : 0;
    for (unsigned j = 0; j < m->n; j++) {
        unsigned i = start + j < m->n ? start + j : start + j - m->n;
        if (m->f[i].camel_len == n && kvs_ojson_name_eq(m->f[i].camel, k, n)) {
            *hint = i + 1;
            return &m->f[i];
        }
    }
    for (unsigned i = 0; i < m->n; i++)
        if (m->f[i].snake_len == n && kvs_ojson_name_eq(m->f[i].snake, k, n)) {
            *hint = i + 1;
            return &m->f[i];
        }
    return NULL;
}

const char *kvs_ojson_expected(const kvs_ojson_field *f, int element)
{
    if (f->repeated && !element)
        return "expected an array";
    switch (f->kind) {
    case KVS_OJ_STRING: return "expected a string";
    case KVS_OJ_BYTES: return "expected a base64 string";
    case KVS_OJ_HEX: return f->hex_bytes == 16 ? "expected 32 hex characters" : "expected 16 hex characters";
    case KVS_OJ_BOOL: return "expected true or false";
    case KVS_OJ_ENUM: return "expected an enum name or integer";
    case KVS_OJ_I32: case KVS_OJ_U32: case KVS_OJ_I64: case KVS_OJ_U64:
        return "expected an integer";
    case KVS_OJ_DOUBLE: return "expected a number";
    default: return "expected an object";
    }
}

const kvs_ojson_msg *kvs_ojson_schema(const ProtobufCMessageDescriptor *root)
{
    pthread_once(&g_once, build_all);
    if (g_broken)
        return NULL;
    for (unsigned i = 0; i < g_nmsgs; i++)
        if (g_msgs[i].d == root)
            return &g_msgs[i];
    return NULL;
}
