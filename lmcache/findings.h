/* kvs_lmc findings: what is wrong, as data.
 *
 * Every finding code of the peer tool's compat report (its §4.2, with the
 * same codes, severities, conditions and thresholds) plus the detectors
 * the peer never built: low hit rate after warm-up computed on rates
 * between scrapes, L1 memory growing without a plateau, cache_salt empty /
 * missing / high cardinality, embedded zero-hit after replay, hash-seed
 * risk, embedded remote-backend errors, slow P2P transfer, vLLM external
 * prefix hits vs LMCache lookup hits (both directions), SGLang queue and
 * KV-transfer pressure, LMCache metrics missing while LMCache is
 * configured, MP request timeouts, L1 saturation and EventBus pressure.
 *
 * Each finding carries its code, severity, message, recommendation, the
 * evidence values it used (names as in the peer's `metrics` object), the
 * time window it looked at and, when request records are available,
 * example trace ids. Every threshold has a default (the peer's where it
 * has one) and can be overridden by name.
 *
 * The catalog (kvs_lmc_finding_catalog) lists every code this module can
 * emit, so docs and tests can check they are all covered. Pure. */
#ifndef KVS_LMC_FINDINGS_H
#define KVS_LMC_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum kvs_lmc_severity {
    KVS_LMC_SEV_INFO = 0,
    KVS_LMC_SEV_WARNING,
    KVS_LMC_SEV_CRITICAL,
} kvs_lmc_severity;

const char *kvs_lmc_severity_name(kvs_lmc_severity s);

/* ---- thresholds ---- */

#define KVS_LMC_THRESHOLDS(X)                                                                     \
    X(LOW_HIT_RATE, "low_hit_rate", 0.3, "lookup hit/requested below this (peer)")                \
    X(EVICTION_RATIO, "eviction_ratio", 0.2, "L1 evicted/written above this (peer)")              \
    X(L0_L1_THROUGHPUT_LOW_GBPS, "l0_l1_throughput_low_gbps", 0.1, "L0-L1 mean GB/s below (peer)") \
    X(L2_THROUGHPUT_LOW_GBPS, "l2_throughput_low_gbps", 0.1, "L1-L2 mean GB/s below (peer)")      \
    X(CACHE_SALT_CARDINALITY_MAX, "cache_salt_cardinality_max", 100, "distinct salts above (peer risk flag)") \
    X(WARMUP_SECONDS, "warmup_seconds", 120, "timeline start excluded from warm-up detectors")    \
    X(HIT_RATE_WINDOW_SECONDS, "hit_rate_window_seconds", 300, "recent window for rates")         \
    X(LOW_HIT_RATE_AFTER_WARMUP, "low_hit_rate_after_warmup", 0.3, "windowed hit rate below")     \
    X(HIT_RATE_COLLAPSE_RATIO, "hit_rate_collapse_ratio", 0.5, "recent/peak windowed hit rate below") \
    X(MIN_WINDOW_LOOKUP_TOKENS, "min_window_lookup_tokens", 1024, "tokens looked up for a rate to count") \
    X(L1_PLATEAU_MIN_POINTS, "l1_plateau_min_points", 6, "timeline points needed after warm-up")  \
    X(L1_PLATEAU_GROWTH_FRACTION, "l1_plateau_growth_fraction", 0.05, "growth over the last third above") \
    X(L1_SATURATION_RATIO, "l1_saturation_ratio", 0.95, "L1 usage ratio at or above")             \
    X(EVENT_BUS_PRESSURE_RATIO, "event_bus_pressure_ratio", 0.8, "queue depth / queue size at or above") \
    X(PREFIX_MISMATCH_TOLERANCE, "prefix_mismatch_tolerance", 0.5, "vLLM vs LMCache hit tokens relative gap") \
    X(P2P_MIN_TOKENS_PER_SECOND, "p2p_min_tokens_per_second", 8192, "P2P transfer speed p50 below")  \
    X(P2P_MAX_TRANSFER_P95_SECONDS, "p2p_max_transfer_p95_seconds", 0.5, "P2P time to transfer p95 above") \
    X(P2P_MIN_GBPS, "p2p_min_gbps", 1.0, "P2P speed from logs below (GB/s)")                       \
    X(SGLANG_QUEUE_RATIO, "sglang_queue_ratio", 1.0, "queued/running above (peer queue rule)")     \
    X(SGLANG_QUEUE_TIME_P95_SECONDS, "sglang_queue_time_p95_seconds", 5.0, "queue time p95 above") \
    X(SGLANG_KV_TRANSFER_LATENCY_P95_MS, "sglang_kv_transfer_latency_p95_ms", 1000, "KV transfer latency p95 above") \
    X(SGLANG_KV_TRANSFER_MIN_GBPS, "sglang_kv_transfer_min_gbps", 1.0, "KV transfer speed p50 below") \
    X(SGLANG_TRANSFER_QUEUE_MAX, "sglang_transfer_queue_max", 8, "decode transfer queue above")    \
    X(METRICS_SAMPLE_RATE_SPARSE, "metrics_sample_rate_sparse", 0.01, "sample rate at or below is sparse (peer)")

typedef enum kvs_lmc_th {
#define KVS_LMC_TH_ENUM_(id, name, dflt, doc) KVS_LMC_TH_##id,
    KVS_LMC_THRESHOLDS(KVS_LMC_TH_ENUM_)
#undef KVS_LMC_TH_ENUM_
    KVS_LMC_TH__COUNT
} kvs_lmc_th;

typedef struct kvs_lmc_thresholds {
    double v[KVS_LMC_TH__COUNT];
} kvs_lmc_thresholds;

typedef struct kvs_lmc_threshold_def {
    const char *name;
    double dflt;
    const char *doc;
} kvs_lmc_threshold_def;

extern const kvs_lmc_threshold_def kvs_lmc_threshold_defs[KVS_LMC_TH__COUNT];

void kvs_lmc_thresholds_default(kvs_lmc_thresholds *t);
/* 0, or KVS_E_INVALID for an unknown name or a NaN value. */
int kvs_lmc_thresholds_set(kvs_lmc_thresholds *t, const char *name, double value);

/* ---- findings ---- */

#define KVS_LMC_MAX_VALUES 12
#define KVS_LMC_MAX_TRACES 5

typedef enum kvs_lmc_vtype { KVS_LMC_V_NUM = 0, KVS_LMC_V_STR, KVS_LMC_V_BOOL, KVS_LMC_V_STRS } kvs_lmc_vtype;

typedef struct kvs_lmc_value_item {
    const char *key;
    kvs_lmc_vtype type;
    double num;                     /* NaN is written as null */
    const char *str;
    bool b;
    const char *const *strs;        /* KVS_LMC_V_STRS */
    size_t nstrs;
} kvs_lmc_value_item;

typedef struct kvs_lmc_finding {
    const char *code;
    kvs_lmc_severity severity;
    const char *message;
    const char *recommendation;
    const char *origin;             /* "peer" or "kvscope" */
    const char *evidence_status;    /* NULL, "parser_only", "live_alternate_not_scoreable" */
    const char *category;           /* log findings: the log category */
    kvs_lmc_value_item values[KVS_LMC_MAX_VALUES];
    size_t nvalues;
    int64_t window_start_ms, window_end_ms;
    char trace_ids[KVS_LMC_MAX_TRACES][33];
    size_t ntraces;
} kvs_lmc_finding;

typedef struct kvs_lmc_catalog_entry {
    const char *code;
    const char *origin;
    kvs_lmc_severity severity;      /* default (some findings escalate) */
    const char *recommendation;
    const char *thresholds;         /* comma-separated threshold names, "" for none */
} kvs_lmc_catalog_entry;

size_t kvs_lmc_finding_catalog(const kvs_lmc_catalog_entry **out);
const kvs_lmc_catalog_entry *kvs_lmc_catalog_find(const char *code);

#endif
