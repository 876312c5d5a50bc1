/* kvs_lmc mode: which LMCache deployment the evidence shows.
 *
 * `detected_mode` (mp / embedded / mixed / unknown) comes from metrics
 * first, exactly as the peer tool decides it (MP-like = LMCache MP or
 * CacheBlend metrics; embedded = lmcache:* metrics), with two fixes:
 * every spelling is classified by its canonical key (a dotted
 * `lmcache_blend.*` name is CacheBlend, never embedded) and configuration
 * series (`lmcache_config_info`) are not metrics of any mode. When no
 * LMCache metric is seen at all, strong non-metric signals decide and the
 * mode is `inferred` (mode_source "signals"): connector class labels
 * (metrics, resource attributes, logs), the HTTP /status `engine_type`,
 * span scopes `lmcache_mp.server` / `lmcache_mp.blend`, service.name,
 * an `mp_mode=true` config label. This is what lets a deployment whose
 * LMCache metrics are absent be reported as missing them.
 *
 * The architecture label follows the peer's seven-branch table (vLLM
 * first, then SGLang, then LMCache alone) with its claim_status rules;
 * each label lists the signals behind it. kvscope adds three candidates
 * the peer only documented: P2P (embedded peer-to-peer sharing), PD
 * (disaggregated prefill) and controller-only (an LMCache coordinator with
 * no MP server or engine in the evidence).
 *
 * Pure: reads the evidence, writes the caller's struct. */
#ifndef KVS_LMC_MODE_H
#define KVS_LMC_MODE_H

#include "lmcache/evidence.h"
#include "lmcache/families.h"

#include <stdbool.h>

typedef enum kvs_lmc_claim {
    KVS_LMC_CLAIM_MEASURED = 0,
    KVS_LMC_CLAIM_INFERRED,
    KVS_LMC_CLAIM_NOT_PROVEN,
} kvs_lmc_claim;

typedef enum kvs_lmc_arch {
    KVS_LMC_ARCH_VLLM_MP = 0,           /* vllm_mp_lmcache */
    KVS_LMC_ARCH_VLLM_EMBEDDED,         /* vllm_embedded_lmcache */
    KVS_LMC_ARCH_SGLANG_MP_CANDIDATE,   /* sglang_mp_lmcache_candidate */
    KVS_LMC_ARCH_SGLANG_EMBEDDED,       /* sglang_embedded_lmcache */
    KVS_LMC_ARCH_MP_SERVER,             /* lmcache_mp_server */
    KVS_LMC_ARCH_EMBEDDED_UNKNOWN,      /* lmcache_embedded_unknown_engine */
    KVS_LMC_ARCH_UNKNOWN,               /* unknown */
} kvs_lmc_arch;

/* The peer's 13 signals, then kvscope's. */
typedef struct kvs_lmc_signals {
    bool vllm_metrics, sglang_metrics;
    bool lmcache_mp_metrics, lmcache_cacheblend_metrics, lmcache_embedded_metrics;
    bool lmcache_mp_connector_label, vllm_embedded_connector_label, vllm_lmcache_offload_backend_label;
    bool sglang_lmcache_connector_label, sglang_enable_lmcache_label, sglang_lmcradix_cache_label;
    bool sglang_hicache_metrics, stale_lmcache_connector_label;
    /* kvscope */
    bool lmcache_mp_config_label;       /* lmcache_config_info{mp_mode="true"} */
    bool http_mp_engine_type;           /* /status engine_type MPCacheEngine */
    bool mp_server_span_scope;          /* lmcache_mp.server */
    bool cacheblend_span_scope;         /* lmcache_mp.blend */
    bool mp_service_name;               /* service.name lmcache-mp-server */
    bool coordinator_metrics;           /* lmcache_coordinator.* */
    bool coordinator_service_name;      /* service.name lmcache-mp-coordinator */
    bool log_mp_connector, log_embedded_connector, log_stale_connector;
    bool p2p_metrics, p2p_logs;
    bool pd_metrics, pd_roles, pd_logs;
    bool engine_joined_requests;        /* request records joined to engine spans */
} kvs_lmc_signals;

#define KVS_LMC_MAX_SIGNALS 16

typedef struct kvs_lmc_candidate {
    bool candidate;
    kvs_lmc_claim claim;
    const char *signals[KVS_LMC_MAX_SIGNALS];   /* static names, sorted */
    size_t nsignals;
} kvs_lmc_candidate;

typedef struct kvs_lmc_mode_result {
    kvs_lmc_mode mode;
    const char *mode_source;            /* "metrics", "signals" or "none" */
    kvs_lmc_claim mode_claim;
    kvs_lmc_arch arch;
    kvs_lmc_claim arch_claim;
    const char *arch_signals[KVS_LMC_MAX_SIGNALS];
    size_t narch_signals;
    kvs_lmc_signals sig;
    kvs_lmc_candidate p2p, pd, controller_only;
    /* observed flags, as the peer's `observed` block */
    bool observed_mp, observed_cacheblend, observed_embedded, observed_vllm, observed_sglang;
    bool mp_server_evidence;            /* for family applicability */
} kvs_lmc_mode_result;

void kvs_lmc_mode_detect(kvs_lmc_evidence *ev, kvs_lmc_mode_result *out);

const char *kvs_lmc_arch_name(kvs_lmc_arch a);
const char *kvs_lmc_claim_name(kvs_lmc_claim c);
/* Parses "mp", "embedded", "mixed", "unknown"; -1 otherwise ("auto"
 * included). */
int kvs_lmc_mode_parse(const char *s);

#endif
