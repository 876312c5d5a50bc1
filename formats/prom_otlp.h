/* kvs_prom_conv: turns the samples of one Prometheus / OpenMetrics scrape
 * (from kvs_prom_parser) into an OTLP ExportMetricsServiceRequest whose
 * memory lives in a kvs_arena. kvs_prom_series_state carries what a
 * scraper must remember between scrapes of one target (start times,
 * counter resets).
 *
 * Mapping (as the OpenTelemetry Collector's Prometheus receiver does):
 *   counter        -> Sum, monotonic, cumulative; name without `_total`
 *   gauge, untyped, unknown -> Gauge
 *   histogram      -> Histogram (cumulative): explicit bounds from `le`,
 *                     bucket counts de-accumulated, +Inf last, count/sum
 *                     from `_count`/`_sum`
 *   gaugehistogram -> Histogram from `_bucket`/`_gcount`/`_gsum`; OTLP has no
 *                     gauge histogram, so it is marked in Metric.metadata
 *                     (prometheus.type=gaugehistogram) and has no start time
 *   summary        -> Summary with quantiles
 *   info           -> Gauge, value as given (1), labels as attributes
 *   stateset       -> Gauge, one point per state
 * Every metric carries Metric.metadata prometheus.type, its HELP as the
 * description and its `# UNIT` as the unit. `_created` samples are never
 * points: they give the start time of their series.
 *
 * Resource: a sample's job/instance (its `job`/`instance` labels, which
 * are then removed from point attributes, else the options') select its
 * ResourceMetrics, target_info's included: samples with different
 * job/instance labels go to different ResourceMetrics. `target_info`
 * labels other than job/instance become resource attributes (OTel's
 * sanitized names such as telemetry_sdk_language are mapped back to their
 * dotted semantic-convention names, other keys are kept). Who names the
 * service depends on identity_from_scrape:
 *   false (saved scrapes): target_info's service_name /
 *     service_instance_id win; job/instance fill service.name and
 *     service.instance.id only when target_info does not give them.
 *   true (a live scrape, as the Collector's prometheus receiver):
 *     service.name = job and service.instance.id = instance, always;
 *     target_info's service_name, service_instance_id and
 *     service_namespace stay attributes under those Prometheus names.
 * Scope: `otel_scope_name`/`otel_scope_version` labels (removed from the
 * points), else the configured scope; `otel_scope_info` gives scope
 * attributes.
 *
 * Times: a sample's own timestamp, else the scrape time. Start time of a
 * cumulative point: its `_created` when present; else, with a series
 * state, the time the series was first seen (moved on a reset); else the
 * point's time. */
#ifndef KVS_PROM_OTLP_H
#define KVS_PROM_OTLP_H

#include "core/arena.h"
#include "core/error.h"
#include "core/otlp.h"
#include "formats/prom_text.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- per-target series state across scrapes ---- */

typedef struct kvs_prom_series_key {
    uint64_t lo, hi;   /* 128-bit hash of resource, metric name, kind and labels */
} kvs_prom_series_key;

typedef struct kvs_prom_series_state kvs_prom_series_state;

/* One state per scrape target; not thread-safe. A series not seen for
 * `stale_scrapes` scrapes (0: 5) is forgotten. NULL on out-of-memory. */
kvs_prom_series_state *kvs_prom_series_state_new(unsigned stale_scrapes);
void kvs_prom_series_state_free(kvs_prom_series_state *st);
/* Start time of a cumulative series observed now. `value` is the counter
 * value (histogram/summary: the count). created_ns != 0 is the series' own
 * `_created` and wins. Otherwise the first sighting starts at
 * first_seen_ns, and a value below the previous one is a reset: the start
 * moves to the previous observation's time (the reset happened after it).
 * *reset (may be NULL) tells whether a reset was detected.
 * Returns 0 only when out of memory (the caller then uses its own time). */
uint64_t kvs_prom_series_state_observe(kvs_prom_series_state *st, kvs_prom_series_key key, double value,
                                       uint64_t time_ns, uint64_t first_seen_ns, uint64_t created_ns,
                                       bool *reset);
/* Ends a scrape: ages every series and forgets the stale ones.
 * kvs_prom_conv_finish calls it when given a state. */
void kvs_prom_series_state_end_scrape(kvs_prom_series_state *st);
size_t kvs_prom_series_state_count(const kvs_prom_series_state *st);

/* ---- conversion of one scrape ---- */

typedef struct kvs_prom_conv_options {
    uint64_t scrape_time_ns;          /* time of samples without one; first-seen time */
    kvs_prom_series_state *state;     /* NULL: no memory across scrapes */
    const char *job;                  /* -> service.name (NULL: none) */
    const char *instance;             /* -> service.instance.id (NULL: none) */
    const char *scope_name;           /* NULL: "kvscope/prometheus" */
    const char *scope_version;        /* NULL: kvscope's version */
    /* The job/instance are the scraper's (a scrape config's job_name and
     * target, after honor_labels): service.name / service.instance.id are
     * always a resource's job / instance, and target_info's service_name,
     * service_instance_id and service_namespace labels (and a literal
     * `service.name` / `service.instance.id` label) never replace them;
     * the three are kept as attributes under their Prometheus names, as
     * the Collector's prometheus receiver keeps every target_info label.
     * false: target_info names the service (saved scrapes, where `job` is
     * only a fallback). See the Resource paragraph above. */
    bool identity_from_scrape;
} kvs_prom_conv_options;

typedef struct kvs_prom_conv_stats {
    size_t samples;           /* samples handed in */
    size_t metrics;           /* OTLP metrics produced */
    size_t points;            /* OTLP data points produced */
    size_t resets;            /* counter resets detected through the state */
    size_t dropped_points;    /* points dropped (each also counted below) */
    size_t bad_buckets;       /* histograms with non-monotonic or invalid buckets */
    size_t bad_le;            /* buckets without a valid `le` (bucket skipped) */
    size_t bad_quantile;      /* quantile samples without a valid `quantile` (skipped) */
    size_t no_value;          /* series with only a `_created` sample */
    size_t orphan_created;    /* `_created` samples whose series was not found */
    size_t duplicates;        /* the same series twice (the last value wins) */
} kvs_prom_conv_stats;

typedef struct kvs_prom_conv kvs_prom_conv;

/* The request and everything in it are allocated in `arena`. */
kvs_prom_conv *kvs_prom_conv_new(kvs_arena *arena, const kvs_prom_conv_options *opts);
void kvs_prom_conv_free(kvs_prom_conv *c);
/* A parser handler whose sample callback feeds this converter. */
kvs_prom_handler kvs_prom_conv_handler(kvs_prom_conv *c);
int kvs_prom_conv_sample(kvs_prom_conv *c, const kvs_prom_sample *s);
/* Builds the request (*out lives in the arena). 0, KVS_E_NOMEM. */
int kvs_prom_conv_finish(kvs_prom_conv *c, kvs_metrics_req **out, kvs_error *err);
const kvs_prom_conv_stats *kvs_prom_conv_get_stats(const kvs_prom_conv *c);

/* Parse + convert in one call. `reject` (may be NULL) sees rejected lines;
 * pstats/cstats (may be NULL) receive the statistics. */
int kvs_prom_to_otlp(const void *text, size_t len, const kvs_prom_options *popts,
                     const kvs_prom_conv_options *copts, kvs_arena *arena, kvs_metrics_req **out,
                     int (*reject)(void *ctx, const kvs_prom_reject *r), void *reject_ctx,
                     kvs_prom_stats *pstats, kvs_prom_conv_stats *cstats, kvs_error *err);

#endif
