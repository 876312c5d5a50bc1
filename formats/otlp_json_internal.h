/* Internals shared by the OTLP/JSON decoder files (not a public header).
 *
 * The decoder is table driven: for every message reachable from the three
 * Export*ServiceRequest messages, a kvs_ojson_msg lists its fields with both
 * JSON names (lowerCamelCase and the proto snake_case), how a JSON value
 * maps onto the field (kind), and where it lives in the protobuf-c struct.
 * The tables are built once from the protobuf-c descriptors and are
 * read-only afterwards (safe to share between threads). */
#ifndef KVS_OTLP_JSON_INTERNAL_H
#define KVS_OTLP_JSON_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

enum kvs_ojson_kind {
    KVS_OJ_STRING,   /* JSON string */
    KVS_OJ_BYTES,    /* base64 string */
    KVS_OJ_HEX,      /* trace/span id: hex string of hex_bytes bytes, "" = absent */
    KVS_OJ_BOOL,
    KVS_OJ_ENUM,     /* integer or value name */
    KVS_OJ_I32,      /* int32, sint32, sfixed32 */
    KVS_OJ_U32,      /* uint32, fixed32 */
    KVS_OJ_I64,      /* int64, sint64, sfixed64: decimal string or number */
    KVS_OJ_U64,      /* uint64, fixed64: decimal string or number */
    KVS_OJ_DOUBLE,
    KVS_OJ_FLOAT,
    KVS_OJ_MSG,
};

typedef struct kvs_ojson_msg kvs_ojson_msg;

typedef struct kvs_ojson_field {
    const char *camel;           /* lowerCamelCase JSON name */
    const char *snake;           /* proto name */
    uint8_t camel_len, snake_len;
    uint8_t kind;                /* enum kvs_ojson_kind */
    uint8_t repeated;
    uint8_t oneof;               /* member of a oneof: qoffset is the case */
    uint8_t hex_bytes;           /* KVS_OJ_HEX: 16 or 8 */
    uint8_t elem_size;           /* bytes per element of a repeated field */
    uint32_t id;                 /* proto field number (the oneof case value) */
    uint32_t offset;             /* member offset */
    uint32_t qoffset;            /* n_ count (repeated) or case (oneof) */
    const kvs_ojson_msg *sub;    /* KVS_OJ_MSG */
    const ProtobufCEnumDescriptor *ed;  /* KVS_OJ_ENUM */
} kvs_ojson_field;

struct kvs_ojson_msg {
    const ProtobufCMessageDescriptor *d;
    unsigned n;
    const kvs_ojson_field *f;
    const void *init;            /* an initialized message to copy (d->sizeof_message bytes) */
};

/* The table of a request message descriptor (ExportTraceServiceRequest,
 * ExportMetricsServiceRequest, ExportLogsServiceRequest), or NULL if the
 * tables could not be built (never with the OTLP protos). */
const kvs_ojson_msg *kvs_ojson_schema(const ProtobufCMessageDescriptor *root);

/* Length of the well-formed UTF-8 sequence at s[0..n) whose first byte is
 * >= 0x80 (2, 3 or 4), or 0 when it is not well formed (stray continuation,
 * overlong form, surrogate, beyond U+10FFFF, truncated). Shared so that the
 * decoder accepts exactly what the encoder passes through. */
static inline size_t kvs_ojson_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

#endif
