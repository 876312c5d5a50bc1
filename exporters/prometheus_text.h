/* kvs_promx: the series store behind the `prometheus` exporter. OTLP
 * metrics go in (kvs_promx_add, from pipeline threads), Prometheus text
 * exposition 0.0.4 comes out (kvs_promx_render, from HTTP threads).
 *
 * Promises:
 *  - Naming follows the Collector's prometheus exporter (OTel "Prometheus
 *    and OpenMetrics compatibility"): the name is split on every character
 *    that is not an ASCII letter or digit and rejoined with `_`; the unit
 *    is appended (`s` -> `_seconds`, `By` -> `_bytes`, `GB/s` ->
 *    `_GB_per_second`, ...) unless its word is already in the name; `_total`
 *    ends monotonic sums; `_ratio` ends gauges of unit `1`. One deliberate
 *    difference: a unit that is only an annotation (`{chunks}`) gives its
 *    word (`_chunks`), the LMCache spelling, where the Collector drops it.
 *  - One series per (name, label set); it keeps the latest point
 *    (cumulative). Delta sums and delta histograms are added up into a
 *    cumulative series when each point starts where the previous ended;
 *    otherwise the series restarts from the new point. Points older than
 *    the stored one are dropped (counted). A point flagged "no recorded
 *    value" (a Prometheus staleness marker) removes its series.
 *  - A series not updated for `expiration_ns` disappears (checked against
 *    the caller's monotonic `now_ns`, so tests can inject a clock).
 *  - Labels: point attributes (names sanitized: invalid characters -> `_`,
 *    a leading digit gets `key_`, a single leading `_` gets `key`; values
 *    of attributes that sanitize to the same name are joined with `;` in
 *    key order), then `job` (service.namespace/service.name) and `instance`
 *    (service.instance.id), then `otel_scope_name`/`otel_scope_version`,
 *    then the constant labels; a later source wins over an earlier one.
 *    With resource_to_telemetry every resource attribute comes first.
 *  - `target_info{job,instance,...}` carries the other resource attributes
 *    of every resource that has service.name or service.instance.id.
 *  - Thread-safe: one mutex; render works on the store under it.
 *  - Output is deterministic: families by name, series by label text. */
#ifndef KVS_PROMETHEUS_TEXT_H
#define KVS_PROMETHEUS_TEXT_H

#include "core/buf.h"
#include "core/otlp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvs_promx_label {
    const char *name;
    const char *value;
} kvs_promx_label;

typedef struct kvs_promx_options {
    const char *ns;                        /* namespace prefix; NULL or "" for none */
    const kvs_promx_label *const_labels;   /* copied */
    size_t nconst_labels;
    bool resource_to_telemetry;            /* every resource attribute as a label */
    bool send_timestamps;                  /* append the point time (ms) to samples */
    bool add_metric_suffixes;              /* unit, _total and _ratio suffixes */
    uint64_t expiration_ns;                /* 0: series never expire */
} kvs_promx_options;

/* What one kvs_promx_add did, in data points. */
typedef struct kvs_promx_stats {
    size_t stored;           /* points now held by a series */
    size_t out_of_order;     /* older than the stored point: dropped */
    size_t unsupported;      /* exponential histograms, metrics without data */
    size_t type_conflict;    /* same Prometheus name as a family of another type */
    size_t invalid;          /* empty name, histogram counts that do not add up */
    size_t stale;            /* "no recorded value" points: series removed */
} kvs_promx_stats;

typedef enum kvs_promx_type {
    KVS_PROMX_GAUGE,
    KVS_PROMX_COUNTER,
    KVS_PROMX_HISTOGRAM,
    KVS_PROMX_SUMMARY,
} kvs_promx_type;

typedef struct kvs_promx_store kvs_promx_store;

/* NULL when out of memory. Options are copied. */
kvs_promx_store *kvs_promx_new(const kvs_promx_options *o);
void kvs_promx_free(kvs_promx_store *s);
/* Takes every data point of the request. `st` may be NULL. */
void kvs_promx_add(kvs_promx_store *s, const kvs_metrics_req *req, uint64_t now_ns, kvs_promx_stats *st);
/* Drops expired series, then appends the exposition to `out`.
 * 0, or KVS_E_NOMEM. */
int kvs_promx_render(kvs_promx_store *s, uint64_t now_ns, kvs_buf *out);
/* Series held (target_info series included). */
size_t kvs_promx_series_count(kvs_promx_store *s);

/* The Prometheus name of an OTLP metric; appended to `out`. */
void kvs_promx_metric_name(const char *name, const char *unit, kvs_promx_type type, const char *ns,
                           bool add_suffixes, kvs_buf *out);
/* The Prometheus label name of an attribute key; appended to `out`
 * (nothing for an empty key). */
void kvs_promx_label_name(const char *key, kvs_buf *out);

#endif
