/* kvs_lmc_evidence: the input model of the LMCache diagnosis, an
 * accumulator of everything kvscope observed about one deployment.
 *
 * A connector feeds it incrementally, in any mix and order of signals:
 *  - metric samples (kvs_lmc_evidence_add; or a whole OTLP metrics request
 *    with kvs_lmc_evidence_add_metrics; or Prometheus text with
 *    kvs_lmc_evidence_add_prom_text), each resolved to its canonical key
 *    through lmcache/metric_names.h, so every spelling of a metric lands
 *    in the same series;
 *  - resource attributes / target_info, instrumentation scopes, spans
 *    (kvs_lmc_evidence_add_spans), correlated request records
 *    (kvs_lmc_evidence_add_request), log lines (kvs_lmc_evidence_add_log_line
 *    or kvs_lmc_evidence_add_logs), LMCache HTTP facts and evidence lanes;
 * and evaluates it whenever it wants (lmcache/diagnose.h).
 *
 * Promises:
 *  - Pure: no I/O, no threads, no globals. One evidence has one writer.
 *  - A series is (canonical key, sorted labels); the same series seen twice
 *    at the same time keeps the last value (two scrapes of one target do
 *    not double count). `otel_scope_name`/`otel_scope_version` labels are
 *    moved to the scope set, not kept on series.
 *  - Counters are stored reset-adjusted (never decreasing); gauges as
 *    given; histograms as count, sum and per-bucket counts, reset-adjusted.
 *  - A `_created` sample marks its series as existing and never makes it
 *    populated; NaN never populates either.
 *  - Memory is bounded: at most `max_series` series and as many distinct
 *    metric names (more are counted in flags.series_dropped), at most `max_points` points per series timeline
 *    (when full, every other point is dropped, the first and last kept, so
 *    the timeline still spans the whole observation at half resolution),
 *    string sets capped at `max_set` members (overflow counted), request
 *    records kept in a ring of `max_requests` (aggregates count them all).
 *  - Functions returning int give 0, KVS_E_INVALID (the observation is
 *    malformed; nothing stored) or KVS_E_NOMEM. */
#ifndef KVS_LMC_EVIDENCE_H
#define KVS_LMC_EVIDENCE_H

#include "core/otlp.h"
#include "lmcache/logscan.h"
#include "lmcache/metric_names.h"
#include "lmcache/strset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum kvs_lmc_kind {
    KVS_LMC_GAUGE = 0,
    KVS_LMC_COUNTER,
    KVS_LMC_HISTOGRAM,
} kvs_lmc_kind;

typedef struct kvs_lmc_label {
    const char *key;
    const char *value;
} kvs_lmc_label;

/* One observation. Strings are copied; nothing is kept from the caller. */
typedef struct kvs_lmc_obs {
    const char *name;            /* any spelling: OTel, Prometheus, embedded */
    size_t name_len;             /* 0: strlen(name) */
    const char *unit;            /* OTLP Metric.unit or NULL */
    kvs_lmc_kind kind;
    const kvs_lmc_label *labels;
    size_t nlabels;
    int64_t t_ms;                /* observation time, unix ms (0 when unknown) */
    double value;                /* counter / gauge value */
    bool created;                /* from a `_created` line: marks existence only */
    bool delta;                  /* counter value is an increment (OTLP delta) */
    /* histograms: nbounds finite upper bounds and nbounds+1 per-bucket
     * (non-cumulative) counts, the last one the +Inf bucket; nbounds 0 and
     * bucket_counts NULL for count/sum only (summaries, exponential). */
    const double *bounds;
    size_t nbounds;
    const double *bucket_counts;
    double count, sum;
} kvs_lmc_obs;

#define KVS_LMC_MAX_BUCKETS 64

/* A series, read-only for callers. */
typedef struct kvs_lmc_series {
    kvs_metric_key key;          /* KVS_METRIC_UNKNOWN when the bridge does not know it */
    const char *name;            /* canonical id, or the normalized unknown name */
    const char *spelling;        /* first raw spelling seen */
    kvs_lmc_kind kind;
    const kvs_lmc_label *labels; /* sorted by key; interned strings */
    size_t nlabels;
    size_t nbounds;
    const double *bounds;
    /* timeline, oldest first; value stride kvs_lmc_series_stride() */
    size_t npoints;
    int64_t *t_ms;
    double *values;
    bool nonzero;                /* a value sample was non-zero (not NaN, not _created) */
    bool has_value;              /* a value sample was seen (not only _created) */
    unsigned resets;
    double min, max;             /* of raw gauge values; NaN before the first */
    /* internal */
    size_t cap_points;
    double *track;               /* per component: last raw, offset */
    uint64_t hash;
} kvs_lmc_series;

static inline size_t kvs_lmc_series_stride(const kvs_lmc_series *s)
{
    return s->kind == KVS_LMC_HISTOGRAM ? 3 + s->nbounds : 1;
}

/* Sets of distinct strings the evidence collects. */
typedef enum kvs_lmc_set_id {
    KVS_LMC_SET_CONNECTOR = 0,   /* connector, kv_connector, cache_connector, lmcache_connector, kv_connector_class labels */
    KVS_LMC_SET_CACHE,           /* cache_backend, cache_class, radix_cache, radix_cache_class, cache_type labels */
    KVS_LMC_SET_OFFLOAD,         /* kv_offloading_backend, kv_offload_backend, offloading_backend labels */
    KVS_LMC_SET_CACHE_SALT,      /* cache_salt on LMCache MP samples and requests ("" included) */
    KVS_LMC_SET_L2_NAME,
    KVS_LMC_SET_ADAPTER_INDEX,
    KVS_LMC_SET_SERVICE_INSTANCE,/* service.instance.id (resource, target_info) */
    KVS_LMC_SET_SERVICE_NAME,    /* service.name */
    KVS_LMC_SET_SCOPE,           /* instrumentation scopes (meters, tracers) */
    KVS_LMC_SET_MODEL,           /* model_name labels, request models */
    KVS_LMC_SET_KV_ROLE,         /* kv_role labels / attributes */
    KVS_LMC_SET_ENGINE_TYPE,     /* HTTP /status engine_type */
    KVS_LMC_SET_LOG_CONNECTOR,   /* connector classes named in logs */
    KVS_LMC_SET_HASHSEED,        /* PYTHONHASHSEED values (logs, resource attributes) */
    KVS_LMC_SET_SPAN_NAME,       /* span names seen */
    KVS_LMC_SET_EARLY_EXIT,      /* lookup early-exit reasons of request records */
    KVS_LMC_SET__COUNT
} kvs_lmc_set_id;

typedef struct kvs_lmc_flags {
    bool enable_lmcache_label;   /* SGLang enable label truthy, or sglang:lmcache_enabled seen */
    bool mp_mode_label;          /* an LMCache config/info series says mp_mode=true */
    bool empty_salt_nonzero;     /* an MP sample with cache_salt="" and a non-zero value */
    bool salt_missing_nonzero;   /* an MP lookup sample without cache_salt and a non-zero value */
    unsigned long obs;           /* observations stored */
    unsigned long obs_invalid;   /* observations refused */
    unsigned long series_dropped;
    unsigned long created_samples;
    int64_t t_min_ms, t_max_ms;  /* time span of observations; 0 when none */
} kvs_lmc_flags;

typedef struct kvs_lmc_span_stats {
    unsigned long spans, lmcache_spans, mp_spans, cacheblend_spans, request_spans;
    unsigned long error_spans, timeout_spans;
} kvs_lmc_span_stats;

/* A correlated request: the root-span annotations kvscope.lmcache.* that
 * lmcache_correlate writes (or the LMCache `request` root attributes). */
typedef struct kvs_lmc_reqobs {
    const char *trace_id;        /* 32 lowercase hex, or NULL */
    const char *model;           /* NULL: unknown */
    const char *cache_salt;      /* NULL: no salt (when salt_observed) or unknown */
    bool salt_observed;          /* the correlator looked for the salt of this request */
    int64_t requested_tokens, hit_tokens, l1_hit_tokens, l2_hit_tokens; /* -1: unknown */
    const char *early_exit_reason; /* NULL or "" when none */
    unsigned timeouts;
    bool store_only;
    double engine_ttft_s;        /* NaN: unknown */
    int64_t t_ms;
} kvs_lmc_reqobs;

typedef struct kvs_lmc_req_rec {
    char trace_id[33];
    const char *model;           /* interned or NULL */
    const char *cache_salt;      /* interned, NULL when absent or unknown */
    bool salt_observed;
    int64_t requested_tokens, hit_tokens, l1_hit_tokens, l2_hit_tokens;
    const char *early_exit_reason;
    unsigned timeouts;
    bool store_only;
    double engine_ttft_s;
    int64_t t_ms;
} kvs_lmc_req_rec;

typedef struct kvs_lmc_req_stats {
    unsigned long count, store_only, with_lookup, zero_hit, early_exit, timeouts;
    unsigned long salt_missing, salt_empty;
    double requested_tokens, hit_tokens, l1_hit_tokens, l2_hit_tokens;
    unsigned long with_ttft;
    double ttft_sum;
} kvs_lmc_req_stats;

typedef struct kvs_lmc_http_facts {
    const char *engine_type;     /* e.g. "MPCacheEngine"; NULL */
    int healthy;                 /* 1, 0, -1 unknown */
    double l1_memory_used_bytes; /* NaN unknown */
    double l1_total_object_count;/* NaN unknown */
    unsigned endpoints;          /* endpoints that answered */
    double l1_memory_total_bytes;/* NaN unknown */
} kvs_lmc_http_facts;

typedef struct kvs_lmc_http_failure {
    const char *code;            /* lmcache_http_<endpoint>_unhealthy */
    const char *message;
} kvs_lmc_http_failure;

typedef enum kvs_lmc_lane_id {
    KVS_LMC_LANE_HTTP = 0,
    KVS_LMC_LANE_LOGS,
    KVS_LMC_LANE_TRACE_RECORDING,  /* .lct */
    KVS_LMC_LANE_OTEL,             /* spans */
    KVS_LMC_LANE_TRACE_REPLAY,
    KVS_LMC_LANE_LOOKUP_HASH,
    KVS_LMC_LANE_CACHEBLEND_BOUNDARY,
    KVS_LMC_LANE__COUNT
} kvs_lmc_lane_id;

typedef struct kvs_lmc_lane {
    bool provided;               /* the input was given */
    bool present;                /* it could be read */
    bool measured;               /* it held real records */
    unsigned long records;
    unsigned long parse_errors;
    unsigned long files;         /* distinct inputs behind the records (files, HTTP sources); 0 unknown */
} kvs_lmc_lane;

typedef struct kvs_lmc_log_stats {
    unsigned long lines;
    unsigned long cats[KVS_LMC_LOG__COUNT];
    int enable_p2p, enable_pd, enable_async;  /* last said; -1 never */
    unsigned long speed_hints;
    double speed_gbps_min, speed_tokens_min;  /* NaN when none */
    uint32_t modes;                           /* KVS_LMC_LOGMODE_* seen */
} kvs_lmc_log_stats;

typedef struct kvs_lmc_evidence_limits {
    size_t max_series;           /* 0: 65536 */
    size_t max_points;           /* 0: 512 */
    size_t max_set;              /* 0: 10000 */
    size_t max_requests;         /* 0: 4096 */
} kvs_lmc_evidence_limits;

typedef struct kvs_lmc_evidence kvs_lmc_evidence;

/* lim may be NULL. NULL on out-of-memory. */
kvs_lmc_evidence *kvs_lmc_evidence_new(const kvs_lmc_evidence_limits *lim);
void kvs_lmc_evidence_free(kvs_lmc_evidence *ev);

/* ---- feeding ---- */
int kvs_lmc_evidence_add(kvs_lmc_evidence *ev, const kvs_lmc_obs *o);
int kvs_lmc_evidence_add_resource_attr(kvs_lmc_evidence *ev, const char *key, const char *value);
int kvs_lmc_evidence_add_scope(kvs_lmc_evidence *ev, const char *scope);
int kvs_lmc_evidence_add_request(kvs_lmc_evidence *ev, const kvs_lmc_reqobs *r);
int kvs_lmc_evidence_add_log_line(kvs_lmc_evidence *ev, const char *line, size_t n);
/* Counts a span by name (after its scope was added); is_error: status ERROR. */
int kvs_lmc_evidence_add_span_name(kvs_lmc_evidence *ev, const char *name, bool is_error);
void kvs_lmc_evidence_set_http(kvs_lmc_evidence *ev, const kvs_lmc_http_facts *h);
/* endpoint e.g. "health"; the code becomes lmcache_http_<endpoint>_unhealthy. */
int kvs_lmc_evidence_add_http_failure(kvs_lmc_evidence *ev, const char *endpoint, const char *message);
void kvs_lmc_evidence_set_lane(kvs_lmc_evidence *ev, kvs_lmc_lane_id id, const kvs_lmc_lane *l);

/* OTLP adapters (evidence_otlp.c): every data point, span and log record
 * of the request. t_ms of points comes from timeUnixNano. Log records are
 * read by their event_name (or `kvscope.evidence.kind`) as the evidence
 * receivers emit them (docs/evidence-records.md, evidence_records.c):
 * LMCache HTTP answers become HTTP facts, failures and the HTTP lane;
 * trace recordings, replay outputs and lookup-hash files their lanes;
 * filelog lines and any other record's string body log lines; kvscope's
 * own findings and reports are not evidence and are skipped, and so are the
 * evidence receivers' own metrics (kvscope.lmcache.http.*, .trace.*,
 * .log.*, .lookup_hash.*), which restate their records. */
int kvs_lmc_evidence_add_metrics(kvs_lmc_evidence *ev, const kvs_metrics_req *req);
int kvs_lmc_evidence_add_spans(kvs_lmc_evidence *ev, const kvs_traces_req *req);
int kvs_lmc_evidence_add_logs(kvs_lmc_evidence *ev, const kvs_logs_req *req);
/* Prometheus text adapter (evidence_prom.c): one scrape taken at t_ms.
 * `_created` lines are kept as existence marks; histograms are assembled
 * from their `_bucket`/`_sum`/`_count` lines; target_info labels become
 * resource attributes. Rejected lines are counted in *rejected (may be
 * NULL). */
int kvs_lmc_evidence_add_prom_text(kvs_lmc_evidence *ev, const char *text, size_t len, int64_t t_ms,
                                   unsigned long *rejected);

/* ---- reading ---- */
size_t kvs_lmc_evidence_nseries(const kvs_lmc_evidence *ev);
const kvs_lmc_series *kvs_lmc_evidence_series(const kvs_lmc_evidence *ev, size_t i);
/* The series of one key, in creation order. */
size_t kvs_lmc_evidence_key_series(const kvs_lmc_evidence *ev, kvs_metric_key k, const kvs_lmc_series *const **out);
bool kvs_lmc_evidence_key_seen(const kvs_lmc_evidence *ev, kvs_metric_key k);
bool kvs_lmc_evidence_key_nonzero(const kvs_lmc_evidence *ev, kvs_metric_key k);
/* Raw spellings seen for a key (sorted); nonzero[i] tells whether that
 * spelling carried a non-zero value. */
size_t kvs_lmc_evidence_key_spellings(kvs_lmc_evidence *ev, kvs_metric_key k, const char *const **names,
                                      const bool **nonzero);
/* Value of a series at time t (the last point at or before t; INT64_MAX:
 * latest). Counters: reset-adjusted cumulative; histograms: the count.
 * NaN before the first point. */
double kvs_lmc_series_value_at(const kvs_lmc_series *s, int64_t t_ms);
/* Sum over the series of key whose label `lkey` equals `lval` (lkey NULL:
 * all series) at time t. NaN when the key has no series with a value. */
double kvs_lmc_evidence_sum(const kvs_lmc_evidence *ev, kvs_metric_key k, int64_t t_ms, const char *lkey,
                            const char *lval);
/* Largest latest value over the series of a key; NaN when none. */
double kvs_lmc_evidence_max(const kvs_lmc_evidence *ev, kvs_metric_key k);

/* A histogram merged over the series of a key with the same bounds as the
 * first one, between t0 (exclusive; INT64_MIN: from the start) and t1. */
typedef struct kvs_lmc_hist {
    size_t nbounds;
    double bounds[KVS_LMC_MAX_BUCKETS];
    double counts[KVS_LMC_MAX_BUCKETS + 1];
    double count, sum;
    size_t series, skipped;      /* merged / left out (other bounds) */
} kvs_lmc_hist;
bool kvs_lmc_evidence_hist(const kvs_lmc_evidence *ev, kvs_metric_key k, int64_t t0_ms, int64_t t1_ms,
                           kvs_lmc_hist *out);

/* Distinct observation times, ascending (thinned like series timelines). */
size_t kvs_lmc_evidence_times(const kvs_lmc_evidence *ev, const int64_t **t_ms);

kvs_lmc_strset *kvs_lmc_evidence_set(kvs_lmc_evidence *ev, kvs_lmc_set_id id);
const kvs_lmc_flags *kvs_lmc_evidence_flags(const kvs_lmc_evidence *ev);
const kvs_lmc_span_stats *kvs_lmc_evidence_spans(const kvs_lmc_evidence *ev);
const kvs_lmc_req_stats *kvs_lmc_evidence_req_stats(const kvs_lmc_evidence *ev);
/* The kept request records, i = 0 the oldest (at most max_requests). */
size_t kvs_lmc_evidence_nrequests(const kvs_lmc_evidence *ev);
const kvs_lmc_req_rec *kvs_lmc_evidence_request(const kvs_lmc_evidence *ev, size_t i);
/* NULL when no HTTP facts were given. */
const kvs_lmc_http_facts *kvs_lmc_evidence_http(const kvs_lmc_evidence *ev);
size_t kvs_lmc_evidence_http_failures(const kvs_lmc_evidence *ev, const kvs_lmc_http_failure **out);
const kvs_lmc_lane *kvs_lmc_evidence_lane(const kvs_lmc_evidence *ev, kvs_lmc_lane_id id);
const kvs_lmc_log_stats *kvs_lmc_evidence_logs(const kvs_lmc_evidence *ev);
/* Raw name prefix classes of unknown names seen (for mode detection). */
typedef struct kvs_lmc_unknown_prefixes {
    bool lmcache_mp, lmcache_blend, lmcache_embedded, lmcache_coordinator, vllm, sglang;
} kvs_lmc_unknown_prefixes;
const kvs_lmc_unknown_prefixes *kvs_lmc_evidence_unknown_prefixes(const kvs_lmc_evidence *ev);
/* Distinct metric names seen (canonical ids and unknown names), and those
 * with a non-zero value; `_created`-only names are not counted. */
void kvs_lmc_evidence_name_counts(kvs_lmc_evidence *ev, size_t *total, size_t *populated);

#endif
