/* Internals shared by the OTLP/JSON codec files (not a public header):
 * the decoder's field tables (otlp_json_schema.c) and the scalar text
 * conversions both directions use (otlp_json_scalar.c).
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
#include <string.h>

#include "formats/utf8.h"

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

/* ---- otlp_json_schema.c: field tables ----------------------------------- */

/* The table of a request message descriptor (ExportTraceServiceRequest,
 * ExportMetricsServiceRequest, ExportLogsServiceRequest), or NULL if the
 * tables could not be built (never with the OTLP protos). */
const kvs_ojson_msg *kvs_ojson_schema(const ProtobufCMessageDescriptor *root);

/* The field named k (camelCase or snake_case), or NULL; *hint is set to the
 * index after it (keys tend to come in field order). */
const kvs_ojson_field *kvs_ojson_lookup(const kvs_ojson_msg *m, const unsigned char *k, size_t n, unsigned *hint);

/* "expected 32 hex characters", "expected an array"...: what f's JSON value
 * (or one element of it, when element) must look like. */
const char *kvs_ojson_expected(const kvs_ojson_field *f, int element);

static inline uint64_t kvs_ojson_ld64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t kvs_ojson_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* a[0..n) == b[0..n) with a few overlapping word compares (keys are short). */
static inline int kvs_ojson_name_eq(const char *a, const unsigned char *b, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (kvs_ojson_ld64(a + i) != kvs_ojson_ld64(b + i))
                return 0;
        return kvs_ojson_ld64(a + n - 8) == kvs_ojson_ld64(b + n - 8);
    }
    if (n >= 4)
        return kvs_ojson_ld32(a) == kvs_ojson_ld32(b) && kvs_ojson_ld32(a + n - 4) == kvs_ojson_ld32(b + n - 4);
    return !n || (a[0] == (char)b[0] && a[n / 2] == (char)b[n / 2] && a[n - 1] == (char)b[n - 1]);
}

/* ---- otlp_json_scalar.c: scalar text ------------------------------------ */

enum {
    KVS_OJ_NUM_OK = 0,
    KVS_OJ_NUM_SYNTAX = -1,     /* not a JSON number */
    KVS_OJ_NUM_RANGE = -2,      /* does not fit */
    KVS_OJ_NUM_FRACTION = -3,   /* an integer was wanted */
};

/* An integral JSON number, exactly: sign and magnitude. A fraction or an
 * exponent is accepted when the value is still an integer (1.5e3). */
int kvs_ojson_parse_int(const char *s, size_t n, int *neg, uint64_t *mag);

/* A JSON number (strict RFC 8259 grammar, checked here) to the nearest
 * double: Clinger's exact fast path when the significand fits 53 bits and
 * the power of ten is exact, strtod otherwise. strtod here and snprintf in
 * kvs_ojson_format_double's rare fallback assume the C locale's '.' (the
 * process never calls setlocale(LC_NUMERIC)). Texts of KVS_OJ_NUM_INLINE
 * bytes or more need scratch of n + 1 bytes. Overflow to infinity is RANGE. */
#define KVS_OJ_NUM_INLINE 64
int kvs_ojson_parse_double(const char *s, size_t n, char *scratch, double *out);

/* Returned by the decoders below when all went well; else the index of the
 * first offending character. */
#define KVS_OJ_OK_POS ((size_t)-1)

/* 2 * nbytes hex characters (either case) into out[nbytes]. */
size_t kvs_ojson_hex_decode(const unsigned char *s, size_t nbytes, uint8_t *out);

/* Standard base64; "=" padding optional, but when present the text is whole
 * 4-character groups with at most two "=" at the end. out needs
 * n / 4 * 3 + 3 bytes. */
size_t kvs_ojson_b64_decode(const unsigned char *s, size_t n, uint8_t *out, size_t *out_len);

/* Longest text kvs_ojson_format_double writes. */
#define KVS_OJ_DOUBLE_MAX 40

/* Text that reads back as exactly v, as a JSON value: integers below 2^53
 * without a fraction, "NaN" / "Infinity" / "-Infinity" with their quotes,
 * else the shortest decimal (for subnormals: the first of 15, 16, 17
 * significant digits that reads back). Not NUL-terminated; returns the
 * length. */
size_t kvs_ojson_format_double(char *out, double v);

/* Standard base64 with padding, (n + 2) / 3 * 4 characters. */
size_t kvs_ojson_b64_encode(const uint8_t *p, size_t n, char *out);

#endif
