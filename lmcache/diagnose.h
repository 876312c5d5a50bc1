/* kvs_lmc_diagnose: evaluates an evidence model into a diagnosis -- mode
 * and architecture, family statuses and surface roll-ups, failure
 * reasons, findings, upstream questions, summaries and a bottleneck
 * verdict -- that lmcache/report.h writes as JSON documents.
 *
 * How a connector uses it:
 *     kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
 *     ... kvs_lmc_evidence_add_metrics(ev, req) / _add_spans / _add_logs ...
 *     kvs_lmc_config cfg;
 *     kvs_lmc_config_default(&cfg);
 *     kvs_lmc_thresholds_set(&cfg.thresholds, "low_hit_rate", 0.4);
 *     kvs_lmc_diagnosis *d = kvs_lmc_diagnose(ev, &cfg, &err);  // any time
 *     ... d->findings[i] ..., kvs_lmc_report_write(d, KVS_LMC_REPORT_FINDINGS, &buf)
 *     kvs_lmc_diagnosis_free(d);
 * Evaluating does not change what the evidence holds, so a connector can
 * evaluate on an interval while it keeps feeding.
 *
 * Promises: pure and deterministic (the same evidence and config give the
 * same diagnosis, whatever the order series were first seen in); the
 * diagnosis owns all its memory (one arena) and does not point into the
 * evidence or the config, so either may be freed or changed after. */
#ifndef KVS_LMC_DIAGNOSE_H
#define KVS_LMC_DIAGNOSE_H

#include "core/arena.h"
#include "core/error.h"
#include "lmcache/evidence.h"
#include "lmcache/families.h"
#include "lmcache/findings.h"
#include "lmcache/mode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVS_LMC_EXPECT_AUTO (-1)

typedef struct kvs_lmc_config {
    int expect_mode;                /* KVS_LMC_EXPECT_AUTO or a kvs_lmc_mode */
    int expected_engine;            /* 0 auto, 1 vllm, 2 sglang */
    bool l2_configured;
    bool external_cache_configured, cpu_offload_configured, disaggregated_or_external_cache;
    /* LMCache MP observability settings (the peer's --mp-* flags) */
    bool observability_disabled, metrics_disabled, logging_disabled, tracing_enabled, trace_recording_enabled;
    int prometheus_port;            /* 0: 9090 */
    bool has_event_bus_queue_size;  /* false: 10000; true: as given, 0 included (0 = unbounded) */
    long event_bus_queue_size;
    double metrics_sample_rate;     /* 0: 0.01 */
    const char *service_instance_id;/* NULL: none */
    const char *engine_source, *lmcache_source;  /* echoed in reports; NULL: "" */
    const char *job_id;             /* bottleneck report; NULL: "kvscope" */
    kvs_lmc_thresholds thresholds;
} kvs_lmc_config;

void kvs_lmc_config_default(kvs_lmc_config *c);

typedef struct kvs_lmc_reason {
    const char *code;
    const char *message;
    const char *family;             /* NULL unless lmcache_mp_family_missing */
} kvs_lmc_reason;

typedef struct kvs_lmc_question {
    const char *code;
    const char *owner_question;
} kvs_lmc_question;

/* Numbers are NaN when unknown (written as null). */
typedef struct kvs_lmc_l2_summary {
    bool observed;
    double store_tasks, store_completed, store_failed_keys, prefetch_load_tasks, load_completed;
    double prefetch_loaded_keys, prefetch_load_keys, prefetch_failed_keys, prefetch_failures;
    double num_inflight_l2_stores, num_inflight_l2_loads, active_prefetch_jobs, inflight_load_memory_usage_bytes;
    bool store_backlog, load_backlog;
    double store_throughput_gbs, load_throughput_gbs;
} kvs_lmc_l2_summary;

typedef struct kvs_lmc_cb_summary {
    bool observed;
    double lookup_requests, lookup_fingerprint_hits, lookup_storage_hits;
    double lookup_fingerprint_hit_rate, lookup_storage_hit_rate;
    double lookup_stale_chunks, lookup_no_gpu_context_errors, retrieve_requests, retrieve_chunks;
    double store_pre_computed_requests, store_final_requests, failures, fingerprints_registered, chunks_evicted;
} kvs_lmc_cb_summary;

typedef struct kvs_lmc_strs {
    const char *const *v;
    size_t n;
} kvs_lmc_strs;

typedef struct kvs_lmc_mp_obs {
    kvs_lmc_strs service_instance_ids;
    const char *service_instance_id_source;   /* "target_info_or_cli" or "missing" */
    kvs_lmc_strs cache_salt_values;
    size_t cache_salt_cardinality;
    bool cache_salt_cardinality_risk;
    kvs_lmc_strs l2_names, adapter_indices, event_bus_metric_names, sampled_histogram_names;
    bool event_bus_taildrop_risk, sampled_histogram_sparse;
    long event_bus_queue_size;
    int prometheus_port;
    double metrics_sample_rate;
} kvs_lmc_mp_obs;

typedef struct kvs_lmc_kv_offload {
    double gpu_to_cpu_bytes, cpu_to_gpu_bytes, gpu_to_cpu_seconds, cpu_to_gpu_seconds;
    const char *vllm_status;                 /* populated / zero / missing */
    double store_throughput_gbs, load_throughput_gbs;  /* LMCache MP L0<->L1 means */
    const char *lmcache_status;
} kvs_lmc_kv_offload;

typedef struct kvs_lmc_evidence_value {
    const char *metric;
    double value;                   /* NaN: null */
    const char *source;
} kvs_lmc_evidence_value;

typedef struct kvs_lmc_bottleneck {
    const char *verdict;            /* prefill_bound, ..., not_enough_evidence */
    double confidence;
    const char *claim_status;
    const char *rule_fired;
    const char *reasoning;
    const char *recommended_next_probe;
    const char *downgrade_claim_id, *downgrade_from, *downgrade_to, *downgrade_reason; /* NULL: none */
    kvs_lmc_evidence_value primary[6];
    size_t nprimary;
    const char *rules_evaluated[8];
    size_t nrules;
    kvs_lmc_strs supporting_trace_ids;
} kvs_lmc_bottleneck;

typedef struct kvs_lmc_diagnosis {
    kvs_arena *arena;
    kvs_lmc_config cfg;             /* strings copied into the arena */
    kvs_lmc_mode_result mode;
    kvs_lmc_family_ctx fctx;
    bool l2_configured_effective;
    const char *l2_configured_source;   /* "flag", "metrics" or "none" */
    kvs_lmc_family_row *rows;
    size_t nrows;
    kvs_lmc_surface_row surfaces[KVS_LMC_FS__COUNT];
    kvs_lmc_reason *failures;
    size_t nfailures;
    kvs_lmc_finding *findings;
    size_t nfindings;
    kvs_lmc_question *questions;
    size_t nquestions;
    kvs_lmc_mp_obs mp_obs;
    kvs_lmc_l2_summary l2;
    kvs_lmc_cb_summary cb;
    kvs_lmc_kv_offload offload;
    kvs_lmc_bottleneck bottleneck;
    /* what was observed */
    size_t total_series, populated_nonzero_series;
    kvs_lmc_strs connector_labels, cache_labels, offload_backend_labels, models;
    kvs_lmc_strs log_connectors, hashseeds, scopes, service_names;
    kvs_lmc_flags flags;
    kvs_lmc_span_stats spans;
    kvs_lmc_req_stats requests;
    kvs_lmc_log_stats logs;
    kvs_lmc_lane lanes[KVS_LMC_LANE__COUNT];
    bool has_http;
    kvs_lmc_http_facts http;        /* engine_type copied */
    int64_t t_min_ms, t_max_ms;
    size_t ntimes;
} kvs_lmc_diagnosis;

/* NULL with err set on out-of-memory. */
kvs_lmc_diagnosis *kvs_lmc_diagnose(kvs_lmc_evidence *ev, const kvs_lmc_config *cfg, kvs_error *err);
void kvs_lmc_diagnosis_free(kvs_lmc_diagnosis *d);

/* The first finding with this code, or NULL. */
const kvs_lmc_finding *kvs_lmc_diagnosis_finding(const kvs_lmc_diagnosis *d, const char *code);
const kvs_lmc_family_row *kvs_lmc_diagnosis_row(const kvs_lmc_diagnosis *d, const char *surface, const char *family);

#endif
