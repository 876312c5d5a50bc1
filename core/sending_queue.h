/* kvs_sending_queue: the exporter helper the network exporters share, in the
 * shape of the Collector's exporterhelper (sending_queue, retry_on_failure,
 * timeout).
 *
 * Promises:
 * - consume() takes a reference to the batch and queues it (returns 0), or
 *   returns KVS_E_REFUSED when the queue is full (by count or by bytes) and
 *   counts the items in tel->refused: backpressure, never a silent drop.
 *   With the queue disabled it sends in the caller's thread (retrying as
 *   configured) and maps the outcome: 0, KVS_E_REFUSED or KVS_E_INVALID.
 * - num_consumers threads pop batches and call ops->send once per attempt;
 *   retryable failures are retried with exponential backoff and jitter; a
 *   server's delay (Retry-After, RetryInfo, grpc-retry-pushback-ms) wins
 *   over a shorter backoff; max_elapsed_time bounds the retries of one
 *   batch (0 = retry forever). Permanent failures are not retried.
 * - Accounting (in the signal's unit): delivered items in tel->exported;
 *   items that could not be delivered in tel->failed, and, for an item that
 *   was accepted and is lost, a kvs_tel_drop with the reason
 *   ("send_failed_permanent", "retries_exhausted", "retry_disabled",
 *   "rejected_by_backend" for partial success, "shutdown_timeout").
 * - shutdown(deadline) stops accepting, drains until the deadline (each
 *   attempt's timeout and each retry wait is cut at the deadline), then
 *   counts what is left as dropped with reason "shutdown_timeout".
 * - Memory is bounded: at most queue_size batches, and at most
 *   max_size_mib of batch arenas when that is set.
 *
 * Also here: the small OTLP response decoders both exporters need
 * (partial_success, google.rpc.Status, RetryInfo). */
#ifndef KVS_SENDING_QUEUE_H
#define KVS_SENDING_QUEUE_H

#include "core/batch.h"
#include "core/config.h"
#include "core/error.h"
#include "core/telemetry.h"

#include <stddef.h>
#include <stdint.h>

/* The keys the helper parses; an exporter adds them to its allowed keys. */
#define KVS_SENDING_QUEUE_KEYS "timeout", "sending_queue", "retry_on_failure"

typedef struct kvs_sending_queue_cfg {
    uint64_t timeout_ns;            /* per attempt; default 5s */
    int queue_enabled;              /* default 1 */
    int64_t num_consumers;          /* default 10 */
    int64_t queue_size;             /* batches; default 1000 */
    uint64_t max_bytes;             /* arena bytes queued; 0 = no byte bound */
    int retry_enabled;              /* default 1 */
    uint64_t initial_interval_ns;   /* default 5s */
    double randomization_factor;    /* default 0.5 */
    double multiplier;              /* default 1.5 */
    uint64_t max_interval_ns;       /* default 30s */
    uint64_t max_elapsed_ns;        /* default 300s; 0 = retry forever */
} kvs_sending_queue_cfg;

/* Reads `timeout`, `sending_queue` and `retry_on_failure` from an
 * exporter's section (absent keys get the defaults above). */
int kvs_sending_queue_parse(const kvs_cfg_node *section, kvs_sending_queue_cfg *out, kvs_error *err);

typedef enum kvs_send_result {
    KVS_SEND_OK = 0,
    KVS_SEND_RETRYABLE,
    KVS_SEND_PERMANENT,
} kvs_send_result;

/* What one attempt learnt beyond its result. */
typedef struct kvs_send_info {
    uint64_t retry_after_ns;   /* RETRYABLE: the server's requested delay (0 = none) */
    uint64_t rejected;         /* OK: items the server rejected (partial success) */
} kvs_send_info;

typedef struct kvs_sending_queue_ops {
    void *exporter;
    /* One attempt, finished by `deadline_ns` (CLOCK_MONOTONIC). `worker`
     * is a slot private to the calling consumer (NULL at first): the
     * exporter keeps per-thread state there (a curl handle, a completion
     * queue). err explains a failure for the log. */
    kvs_send_result (*send)(void *exporter, void **worker, kvs_batch *b, uint64_t deadline_ns,
                            kvs_send_info *info, kvs_error *err);
    /* Frees what send left in a worker slot; may be NULL. */
    void (*worker_free)(void *exporter, void *worker);
} kvs_sending_queue_ops;

typedef struct kvs_sending_queue kvs_sending_queue;

/* No threads are started here (create has no side effects). id and tel
 * must outlive the queue. */
kvs_sending_queue *kvs_sending_queue_new(const char *id, const kvs_sending_queue_cfg *cfg,
                                         const kvs_sending_queue_ops *ops, kvs_telemetry *tel,
                                         kvs_error *err);
/* Starts the consumers (nothing to do when the queue is disabled). */
int kvs_sending_queue_start(kvs_sending_queue *q, kvs_error *err);
int kvs_sending_queue_consume(kvs_sending_queue *q, kvs_batch *b, kvs_error *err);
/* Drains until deadline_ns (CLOCK_MONOTONIC), then drops what is left. */
void kvs_sending_queue_shutdown(kvs_sending_queue *q, uint64_t deadline_ns);
/* Joins, releases every batch still held (counted as shutdown_timeout)
 * and frees. NULL is fine. */
void kvs_sending_queue_free(kvs_sending_queue *q);

/* UINT64_MAX until shutdown begins, then its deadline (CLOCK_MONOTONIC).
 * A send that blocks polls it so an attempt started before shutdown still
 * ends by the deadline. Lock-free. */
uint64_t kvs_sending_queue_deadline(const kvs_sending_queue *q);

typedef struct kvs_queue_stats {
    uint64_t size;           /* batches waiting */
    uint64_t capacity;       /* queue_size (0 when the queue is disabled) */
    uint64_t bytes;          /* arena bytes of the waiting batches */
    uint64_t bytes_capacity; /* max_bytes (0 = unbounded) */
    uint64_t in_flight;      /* batches being sent or waiting for a retry */
} kvs_queue_stats;

/* A snapshot of the gauges, for self-metrics; safe from any thread. */
void kvs_sending_queue_stats(kvs_sending_queue *q, kvs_queue_stats *out);

/* ---- OTLP response helpers shared by the exporters ---- */

/* Decodes an Export*ServiceResponse (protobuf) of the signal: *rejected
 * and the error message of its partial_success (msg may be NULL). 0, or -1
 * when the bytes do not decode. */
int kvs_otlp_partial_success(kvs_signal sig, const uint8_t *data, size_t len, int64_t *rejected,
                             char *msg, size_t msgcap);

/* Decodes a google.rpc.Status (protobuf): its code, message (into msg,
 * truncated) and the retry_delay of a google.rpc.RetryInfo detail
 * (*retry_ns = 0 when there is none). 0, or -1 when it does not decode. */
int kvs_rpc_status_decode(const uint8_t *data, size_t len, int *code, char *msg, size_t msgcap,
                          uint64_t *retry_ns);

#endif
