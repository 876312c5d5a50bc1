/* The OTLP protobuf wire format, checked without decoding.
 *
 * kvs_otlp_wire_scan walks an Export*ServiceRequest as it came off the
 * network, with tables built once from the protobuf-c descriptors, and
 * settles everything the receiver must know before it answers:
 *   - the framing is sound at every depth (varints, lengths, wire types of
 *     known fields, packed arrays), messages nest at most
 *     KVS_OTLP_WIRE_MAX_DEPTH levels, and every string field is well-formed
 *     UTF-8 (what Go and Java consumers, the Collector among them, demand:
 *     a bad string would make the backend refuse a whole merged batch);
 *   - how many items it holds (spans, metric data points as protobuf-c
 *     would count them, including oneof "last one wins" and repeated
 *     message merges, log records);
 *   - how many of them carry ids that cannot be valid (spans: trace_id not
 *     16 bytes or all zero, span_id not 8 bytes or all zero; log records:
 *     trace_id neither empty nor 16 bytes, span_id neither empty nor 8).
 * Whatever it accepts, protobuf_c_message_unpack accepts too (the
 * differential fuzz target checks that, and that the counts agree), so a
 * request can travel through kvscope as its original bytes and be decoded
 * only if a component needs the messages. */
#ifndef KVS_OTLP_WIRE_H
#define KVS_OTLP_WIRE_H

#include "core/otlp.h"

#include <stddef.h>
#include <stdint.h>

#define KVS_OTLP_WIRE_MAX_DEPTH 128

typedef struct kvs_otlp_wire_info {
    size_t items;     /* spans, data points or log records */
    size_t invalid;   /* of those, how many have ids that cannot be valid */
} kvs_otlp_wire_info;

/* 0 and *info filled, or -1 with msg naming the byte offset, message and
 * field at fault. */
int kvs_otlp_wire_scan(kvs_signal sig, const uint8_t *p, size_t n, kvs_otlp_wire_info *info, char *msg,
                       size_t msgn);

#endif
