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
 * "parents" and releases them when it is freed. */
#ifndef KVS_BATCH_H
#define KVS_BATCH_H

#include "core/arena.h"
#include "core/otlp.h"

#include <stdatomic.h>
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
} kvs_batch;

/* A new empty request of the signal with its own arena (refs = 1). */
kvs_batch *kvs_batch_new(kvs_signal sig);
/* Wraps an already decoded request living in `arena` (takes the arena). */
kvs_batch *kvs_batch_wrap(kvs_signal sig, kvs_arena *arena, ProtobufCMessage *msg);
kvs_batch *kvs_batch_ref(kvs_batch *b);
void kvs_batch_unref(kvs_batch *b);
/* Declares that b points into p's memory: b keeps p alive. */
int kvs_batch_add_parent(kvs_batch *b, kvs_batch *p);
/* Same batch when exclusively owned, else a deep copy (the caller's
 * reference to the original is released in that case). NULL on OOM. */
kvs_batch *kvs_batch_writable(kvs_batch *b);
/* A deep copy in a new arena. */
kvs_batch *kvs_batch_clone(const kvs_batch *b);
/* Counts spans / data points / log records of a request. */
size_t kvs_count_items(kvs_signal sig, const ProtobufCMessage *msg);
/* Data points of one metric, whatever its type. */
size_t kvs_metric_points(const kvs_metric *m);
/* Refreshes b->items from the message. */
void kvs_batch_recount(kvs_batch *b);
/* The descriptor of the Export*ServiceRequest of a signal. */
const ProtobufCMessageDescriptor *kvs_request_descriptor(kvs_signal sig);

#endif
