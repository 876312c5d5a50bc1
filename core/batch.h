/* kvs_batch: one Export*ServiceRequest plus the arena its memory lives in.
 *
 * Ownership: a batch is reference counted. `consume` borrows the batch it is
 * given; a component that keeps it beyond the call takes a reference
 * (kvs_batch_ref) and drops it later (kvs_batch_unref). Fan-out shares one
 * batch read-only; a consumer that changes a batch first calls
 * kvs_batch_writable(), which hands back the same batch when nobody else
 * holds it, or a private deep copy.
 *
 * A batch may borrow messages from other batches (the batch processor
 * concatenates without copying): it then holds references to those
 * "parents" and releases them when it is freed.
 *
 * Wire form: a request received as protobuf travels as its original bytes
 * (`wire`, checked by formats/otlp_wire.h) and is decoded into `msg` only
 * when a component needs the messages (kvs_batch_decode; the engine does it
 * for every component that does not declare `wire` in its definition).
 * While both are set they hold the same request; kvs_batch_writable drops
 * the bytes, so whoever changes `msg` must have called it. */
#ifndef KVS_BATCH_H
#define KVS_BATCH_H

#include "core/arena.h"
#include "core/error.h"
#include "core/otlp.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvs_batch {
    kvs_signal signal;
    kvs_arena *arena;
    atomic_int refs;
    union {
        kvs_traces_req *traces;
        kvs_metrics_req *metrics;
        kvs_logs_req *logs;
        ProtobufCMessage *msg;
    };
    size_t items;                 /* spans, metric data points or log records */
    uint64_t received_ns;         /* CLOCK_MONOTONIC when it entered kvscope */
    struct kvs_batch **parents;   /* borrowed-from batches (allocated in arena) */
    size_t nparents;
    const uint8_t *wire;          /* the request as protobuf bytes, or NULL */
    size_t wire_len;
    void *wire_own;               /* a malloc'd wire buffer the batch frees */
    atomic_int decoded;           /* msg is set (1) or only wire is (0) */
} kvs_batch;

/* A new empty request of the signal with its own arena (refs = 1). */
kvs_batch *kvs_batch_new(kvs_signal sig);
/* Wraps an already decoded request living in `arena` (takes the arena). */
kvs_batch *kvs_batch_wrap(kvs_signal sig, kvs_arena *arena, ProtobufCMessage *msg);
/* A request in wire form: `wire`, a malloc'd buffer of len bytes already
 * checked to hold `items` items, becomes the batch's (freed with it). The
 * arena is created when the batch is first decoded or given parents. */
kvs_batch *kvs_batch_adopt_wire(kvs_signal sig, uint8_t *wire, size_t len, size_t items);
/* Bytes a batch keeps alive: its arena, its wire buffer, its parents'. */
size_t kvs_batch_bytes(const kvs_batch *b);
/* Whether b->msg can be read. */
static inline int kvs_batch_decoded(const kvs_batch *b)
{
    return atomic_load_explicit(&((kvs_batch *)b)->decoded, memory_order_acquire);
}
/* Makes b->msg readable, decoding the wire bytes once (thread-safe; the
 * memory comes from b's arena under a budget proportional to the bytes).
 * 0, KVS_E_INVALID (protobuf-c refuses the bytes) or KVS_E_NOMEM (the
 * budget or the system ran out), with err set. */
int kvs_batch_decode(kvs_batch *b, kvs_error *err);
kvs_batch *kvs_batch_ref(kvs_batch *b);
void kvs_batch_unref(kvs_batch *b);
/* Declares that b points into p's memory: b keeps p alive. */
int kvs_batch_add_parent(kvs_batch *b, kvs_batch *p);
/* Same batch when exclusively owned, else a deep copy (the caller's
 * reference to the original is released in that case); decoded, without
 * wire bytes. NULL on OOM or when the bytes do not decode. */
kvs_batch *kvs_batch_writable(kvs_batch *b);
/* A deep copy in a new arena. */
kvs_batch *kvs_batch_clone(const kvs_batch *b);
/* Counts spans / data points / log records of a request. */
size_t kvs_count_items(kvs_signal sig, const ProtobufCMessage *msg);
/* Data points of one metric, whatever its type. */
size_t kvs_metric_points(const kvs_metric *m);
/* Refreshes b->items from the message (when decoded). */
void kvs_batch_recount(kvs_batch *b);

#endif
