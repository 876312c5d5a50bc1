/* Self-telemetry over HTTP: kvscope's own metrics in the Prometheus text
 * format 0.0.4 (service.telemetry.metrics), and the small HTTP server that
 * kvscope's own endpoints (self-metrics, the health_check extension) share.
 *
 * Promises:
 * - kvs_selfmetrics_render writes every family once, with its # HELP and
 *   # TYPE lines and all its samples together, names in the Collector's
 *   style with a kvscope_ prefix (kvscope_receiver_accepted_spans_total,
 *   kvscope_exporter_queue_size, kvscope_process_cpu_seconds_total, ...).
 *   Counters are in the unit of the signals the instance is wired for:
 *   spans, metric_points or log_records, and "items" for an instance wired
 *   for more than one signal (its counters are not kept per signal).
 * - The endpoint reads counters with relaxed atomics and queue gauges with
 *   each component's `gauges` hook: it never blocks the pipeline.
 * - The servers bind only what they are told (addresses as core/net.h
 *   reads them: `localhost` means 127.0.0.1) and answer GET and HEAD only. */
#ifndef KVS_SELFMETRICS_H
#define KVS_SELFMETRICS_H

#include "core/buf.h"
#include "core/component.h"
#include "core/engine.h"
#include "core/error.h"
#include "core/net.h"
#include "core/sending_queue.h"

#include <stddef.h>

/* ---- kvscope's own small HTTP servers ---- */

/* Answers one GET/HEAD of `path` (without the query string): fills body
 * and *ctype (a static string) and returns the HTTP status. Runs on the
 * server's thread. */
typedef int (*kvs_own_http_fn)(void *ctx, const char *path, kvs_buf *body, const char **ctype);

typedef struct kvs_own_http kvs_own_http;

/* Binds `address` (host:port; port 0 picks a free one) and serves with one
 * libmicrohttpd thread. `who` names the server in errors and logs. */
kvs_own_http *kvs_own_http_start(const char *who, const char *address, kvs_own_http_fn fn, void *ctx,
                                 kvs_error *err);
/* The port bound (useful with port 0). */
int kvs_own_http_port(const kvs_own_http *s);
/* Stops accepting, finishes the answers in progress, frees. NULL is fine. */
void kvs_own_http_stop(kvs_own_http *s);

/* ---- the self-metrics endpoint ---- */

typedef enum kvs_selfmetrics_level {
    KVS_SELFMETRICS_NONE,      /* no endpoint */
    KVS_SELFMETRICS_BASIC,     /* item counters, process metrics, build info */
    KVS_SELFMETRICS_NORMAL,    /* + error counters, exporter queue size and capacity */
    KVS_SELFMETRICS_DETAILED,  /* + every gauge components report (bytes, in flight) */
} kvs_selfmetrics_level;

#define KVS_SELFMETRICS_DEFAULT_ADDRESS "localhost:8888"
#define KVS_SELFMETRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The exposition of every instance of e and of the process. 0, or -1 when
 * out of memory. */
int kvs_selfmetrics_render(const kvs_engine *e, kvs_selfmetrics_level level, kvs_buf *out);

typedef struct kvs_selfmetrics kvs_selfmetrics;

/* Reads service.telemetry.metrics (level, address) and serves /metrics.
 * Without an address: localhost:8888 when running, nothing in replay; a
 * default address that is taken is a warning (kvscope runs on without
 * self-metrics) while an address set in the config that cannot be bound
 * is an error. *out is NULL when nothing is served. */
int kvs_selfmetrics_start(const kvs_engine *e, const kvs_service_cfg *cfg, int replay, kvs_selfmetrics **out,
                          kvs_error *err);
void kvs_selfmetrics_stop(kvs_selfmetrics *m);

/* For exporters' `gauges` hook: reports a sending queue's gauges
 * (queue_size, queue_capacity, queue_size_bytes, queue_capacity_bytes,
 * in_flight_requests). */
void kvs_queue_stats_emit(const kvs_queue_stats *s, kvs_gauge_fn emit, void *ctx);

#endif
