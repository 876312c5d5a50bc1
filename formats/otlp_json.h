/* OTLP/JSON <-> protobuf-c, following the OTLP/JSON encoding rules:
 * trace/span ids as hex strings, 64-bit integers as decimal strings (JSON
 * numbers accepted on input), enums as integers (names accepted on input),
 * lowerCamelCase field names (snake_case accepted on input), unknown fields
 * ignored, bytes as base64, AnyValue of every kind.
 *
 * A codec: no pipeline knowledge. Decoding allocates everything in the
 * given arena (one free for the whole request). */
#ifndef KVS_OTLP_JSON_H
#define KVS_OTLP_JSON_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/otlp.h"

#include <stddef.h>

typedef struct kvs_json_error {
    size_t offset;        /* byte offset in the input where the problem is */
    char msg[256];        /* the reason, naming the field when known */
} kvs_json_error;

/* What one JSON document held. A document is an Export*ServiceRequest; its
 * signal is told by its top-level key (resourceSpans / resourceMetrics /
 * resourceLogs). Pointers are NULL for signals the document did not have. */
typedef struct kvs_otlp_doc {
    kvs_traces_req *traces;
    kvs_metrics_req *metrics;
    kvs_logs_req *logs;
} kvs_otlp_doc;

/* Decodes exactly one JSON document from buf[0..len) (trailing whitespace
 * allowed). Returns 0, or -1 with err filled. Nesting deeper than
 * KVS_OTLP_JSON_MAX_DEPTH is an error. On error the arena may hold partial
 * allocations (free or reset it). */
#define KVS_OTLP_JSON_MAX_DEPTH 64
int kvs_otlp_json_decode(const char *buf, size_t len, kvs_arena *arena, kvs_otlp_doc *out,
                         kvs_json_error *err);

/* Appends the request as one line of compact JSON, without a newline.
 * Returns 0, or -1 when out of memory. */
int kvs_otlp_json_encode_traces(const kvs_traces_req *r, kvs_buf *out);
int kvs_otlp_json_encode_metrics(const kvs_metrics_req *r, kvs_buf *out);
int kvs_otlp_json_encode_logs(const kvs_logs_req *r, kvs_buf *out);
/* Dispatches on the signal. */
int kvs_otlp_json_encode(kvs_signal sig, const ProtobufCMessage *msg, kvs_buf *out);

#endif
