/* Mode, architecture and candidate detection (see mode.h). */
#include "lmcache/mode.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *kvs_lmc_arch_name(kvs_lmc_arch a)
{
    static const char *const n[] = {"vllm_mp_lmcache", "vllm_embedded_lmcache", "sglang_mp_lmcache_candidate",
                                    "sglang_embedded_lmcache", "lmcache_mp_server", "lmcache_embedded_unknown_engine",
                                    "unknown"};
    return (unsigned)a < sizeof n / sizeof *n ? n[a] : "unknown";
}

const char *kvs_lmc_claim_name(kvs_lmc_claim c)
{
    static const char *const n[] = {"measured", "inferred", "not_proven"};
    return (unsigned)c < 3 ? n[c] : "not_proven";
}

int kvs_lmc_mode_parse(const char *s)
{
    for (int m = 0; m < 4; m++)
        if (s && strcmp(s, kvs_lmc_mode_name((kvs_lmc_mode)m)) == 0)
            return m;
    return -1;
}

static bool is_coordinator(kvs_metric_key k)
{
    return k >= KVS_METRIC_LMCACHE_COORDINATOR_KEY_DIRECTORY_PLACEMENTS &&
           k <= KVS_METRIC_LMCACHE_COORDINATOR_INGEST_SERVER_VIEW_INCOMPLETE;
}

static bool is_grpc(kvs_metric_key k)
{
    return k >= KVS_METRIC_GRPC_CLIENT_ATTEMPT_STARTED && k <= KVS_METRIC_GRPC_SERVER_CALL_RCVD_TOTAL_COMPRESSED_MESSAGE_SIZE;
}

static bool any_nonzero(kvs_lmc_evidence *ev, const kvs_metric_key *keys)
{
    for (; *keys; keys++)
        if (kvs_lmc_evidence_key_nonzero(ev, *keys))
            return true;
    return false;
}

static bool any_seen(kvs_lmc_evidence *ev, const kvs_metric_key *keys)
{
    for (; *keys; keys++)
        if (kvs_lmc_evidence_key_seen(ev, *keys))
            return true;
    return false;
}

static bool set_has(kvs_lmc_evidence *ev, kvs_lmc_set_id id, const char *s)
{
    return kvs_lmc_strset_has(kvs_lmc_evidence_set(ev, id), s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void push(const char **v, size_t *n, bool on, const char *name)
{
    if (on && *n < KVS_LMC_MAX_SIGNALS)
        v[(*n)++] = name;
}

static void observe(kvs_lmc_evidence *ev, kvs_lmc_mode_result *r)
{
    size_t n = kvs_lmc_evidence_nseries(ev);
    for (size_t i = 0; i < n; i++) {
        const kvs_lmc_series *s = kvs_lmc_evidence_series(ev, i);
        if (!s->key)
            continue;
        switch (kvs_metric_info_of(s->key)->surface) {
        case KVS_SURFACE_LMCACHE_MP:
            if (is_coordinator(s->key))
                r->sig.coordinator_metrics = true;
            else if (!is_grpc(s->key))
                r->observed_mp = true;
            break;
        case KVS_SURFACE_LMCACHE_CACHEBLEND: r->observed_cacheblend = true; break;
        case KVS_SURFACE_LMCACHE_EMBEDDED: r->observed_embedded = true; break;
        case KVS_SURFACE_VLLM: r->observed_vllm = true; break;
        case KVS_SURFACE_SGLANG: r->observed_sglang = true; break;
        default: break;
        }
    }
    const kvs_lmc_unknown_prefixes *u = kvs_lmc_evidence_unknown_prefixes(ev);
    r->observed_mp |= u->lmcache_mp;
    r->observed_cacheblend |= u->lmcache_blend;
    r->observed_embedded |= u->lmcache_embedded;
    r->observed_vllm |= u->vllm;
    r->observed_sglang |= u->sglang;
    r->sig.coordinator_metrics |= u->lmcache_coordinator;
}

static void signals(kvs_lmc_evidence *ev, kvs_lmc_mode_result *r)
{
    kvs_lmc_signals *g = &r->sig;
    g->vllm_metrics = r->observed_vllm;
    g->sglang_metrics = r->observed_sglang;
    g->lmcache_mp_metrics = r->observed_mp;
    g->lmcache_cacheblend_metrics = r->observed_cacheblend;
    g->lmcache_embedded_metrics = r->observed_embedded;
    g->lmcache_mp_connector_label = set_has(ev, KVS_LMC_SET_CONNECTOR, "LMCacheMPConnector");
    g->vllm_embedded_connector_label = set_has(ev, KVS_LMC_SET_CONNECTOR, "LMCacheConnectorV1") ||
                                       set_has(ev, KVS_LMC_SET_CONNECTOR, "LMCacheConnectorV1Dynamic");
    kvs_lmc_strset *off = kvs_lmc_evidence_set(ev, KVS_LMC_SET_OFFLOAD);
    size_t no;
    const char *const *ov = kvs_lmc_strset_sorted(off, &no);
    for (size_t i = 0; i < no; i++)
        if (strcasecmp(ov[i], "lmcache") == 0)
            g->vllm_lmcache_offload_backend_label = true;
    g->sglang_lmcache_connector_label = set_has(ev, KVS_LMC_SET_CONNECTOR, "LMCacheLayerwiseConnector") ||
                                        set_has(ev, KVS_LMC_SET_CONNECTOR, "LMCacheConnector");
    g->sglang_enable_lmcache_label = kvs_lmc_evidence_flags(ev)->enable_lmcache_label;
    g->sglang_lmcradix_cache_label = set_has(ev, KVS_LMC_SET_CACHE, "LMCRadixCache");
    static const kvs_metric_key hicache[] = {
        KVS_METRIC_SGLANG_HICACHE_HOST_USED_TOKENS, KVS_METRIC_SGLANG_HICACHE_HOST_TOTAL_TOKENS,
        KVS_METRIC_SGLANG_HICACHE_STORAGE_FAULT_STATE, KVS_METRIC_SGLANG_HICACHE_STORAGE_FAULT_EVENTS,
        KVS_METRIC_SGLANG_HICACHE_DROPPED_TOKENS, KVS_METRIC_SGLANG_HICACHE_L1_HIT_RATE,
        KVS_METRIC_SGLANG_HICACHE_L2_HIT_RATE, 0};
    g->sglang_hicache_metrics = any_seen(ev, hicache);
    /* LMCacheConnector is vLLM's stale adapter but SGLang's current one */
    g->stale_lmcache_connector_label = set_has(ev, KVS_LMC_SET_CONNECTOR, "LMCacheConnector") && !r->observed_sglang;

    g->lmcache_mp_config_label = kvs_lmc_evidence_flags(ev)->mp_mode_label;
    kvs_lmc_strset *et = kvs_lmc_evidence_set(ev, KVS_LMC_SET_ENGINE_TYPE);
    size_t ne;
    const char *const *ev_et = kvs_lmc_strset_sorted(et, &ne);
    for (size_t i = 0; i < ne; i++)
        if (strstr(ev_et[i], "MPCacheEngine") || strstr(ev_et[i], "MultiProcess"))
            g->http_mp_engine_type = true;
    g->mp_server_span_scope = set_has(ev, KVS_LMC_SET_SCOPE, "lmcache_mp.server");
    g->cacheblend_span_scope = set_has(ev, KVS_LMC_SET_SCOPE, "lmcache_mp.blend");
    g->mp_service_name = set_has(ev, KVS_LMC_SET_SERVICE_NAME, "lmcache-mp-server");
    g->coordinator_service_name = set_has(ev, KVS_LMC_SET_SERVICE_NAME, "lmcache-mp-coordinator");
    g->log_mp_connector = set_has(ev, KVS_LMC_SET_LOG_CONNECTOR, "LMCacheMPConnector");
    g->log_embedded_connector = set_has(ev, KVS_LMC_SET_LOG_CONNECTOR, "LMCacheConnectorV1") ||
                                set_has(ev, KVS_LMC_SET_LOG_CONNECTOR, "LMCacheConnectorV1Dynamic");
    g->log_stale_connector = set_has(ev, KVS_LMC_SET_LOG_CONNECTOR, "LMCacheConnector") && !r->observed_sglang;

    static const kvs_metric_key p2p[] = {KVS_METRIC_LMCACHE_NUM_P2P_REQUESTS, KVS_METRIC_LMCACHE_NUM_P2P_TRANSFERRED_TOKENS,
                                         KVS_METRIC_LMCACHE_P2P_TIME_TO_TRANSFER, KVS_METRIC_LMCACHE_P2P_TRANSFER_SPEED, 0};
    g->p2p_metrics = any_nonzero(ev, p2p);
    const kvs_lmc_log_stats *ls = kvs_lmc_evidence_logs(ev);
    g->p2p_logs = (ls->modes & KVS_LMC_LOGMODE_P2P) != 0;
    static const kvs_metric_key pd[] = {
        KVS_METRIC_VLLM_KV_TRANSFER_SENT_BYTES, KVS_METRIC_VLLM_KV_TRANSFER_RECV_BYTES,
        KVS_METRIC_SGLANG_KV_TRANSFER_SENT_BYTES, KVS_METRIC_SGLANG_KV_TRANSFER_RECV_BYTES,
        KVS_METRIC_SGLANG_KV_TRANSFER_SPEED_GB_S, KVS_METRIC_SGLANG_KV_TRANSFER_LATENCY_MS,
        KVS_METRIC_SGLANG_NUM_PREFILL_BOOTSTRAP_QUEUE_REQS, KVS_METRIC_SGLANG_NUM_PREFILL_INFLIGHT_QUEUE_REQS,
        KVS_METRIC_SGLANG_NUM_DECODE_PREALLOC_QUEUE_REQS, KVS_METRIC_SGLANG_NUM_DECODE_TRANSFER_QUEUE_REQS, 0};
    g->pd_metrics = any_nonzero(ev, pd);
    g->pd_roles = set_has(ev, KVS_LMC_SET_KV_ROLE, "kv_producer") || set_has(ev, KVS_LMC_SET_KV_ROLE, "kv_consumer") ||
                  set_has(ev, KVS_LMC_SET_KV_ROLE, "kv_both");
    g->pd_logs = (ls->modes & KVS_LMC_LOGMODE_PD) != 0;
    g->engine_joined_requests = kvs_lmc_evidence_req_stats(ev)->with_ttft > 0;
}

static void decide_mode(kvs_lmc_mode_result *r)
{
    const kvs_lmc_signals *g = &r->sig;
    bool mp_like = r->observed_mp || r->observed_cacheblend;
    bool emb = r->observed_embedded;
    if (mp_like || emb) {
        r->mode = mp_like && emb ? KVS_LMC_MODE_MIXED : mp_like ? KVS_LMC_MODE_MP : KVS_LMC_MODE_EMBEDDED;
        r->mode_source = "metrics";
        r->mode_claim = KVS_LMC_CLAIM_MEASURED;
        r->mp_server_evidence = r->observed_mp;
        return;
    }
    bool mp_sig = g->lmcache_mp_connector_label || g->log_mp_connector || g->http_mp_engine_type ||
                  g->mp_server_span_scope || g->cacheblend_span_scope || g->mp_service_name ||
                  g->lmcache_mp_config_label;
    bool emb_sig = g->vllm_embedded_connector_label || g->log_embedded_connector ||
                   (r->observed_sglang && (g->sglang_lmcache_connector_label || g->sglang_enable_lmcache_label ||
                                           g->sglang_lmcradix_cache_label));
    if (mp_sig || emb_sig) {
        r->mode = mp_sig && emb_sig ? KVS_LMC_MODE_MIXED : mp_sig ? KVS_LMC_MODE_MP : KVS_LMC_MODE_EMBEDDED;
        r->mode_source = "signals";
        r->mode_claim = KVS_LMC_CLAIM_INFERRED;
        r->mp_server_evidence = mp_sig;
        return;
    }
    r->mode = KVS_LMC_MODE_UNKNOWN;
    r->mode_source = "none";
    r->mode_claim = KVS_LMC_CLAIM_NOT_PROVEN;
}

static void decide_arch(kvs_lmc_mode_result *r)
{
    const kvs_lmc_signals *g = &r->sig;
    bool mp_like = r->observed_mp || r->observed_cacheblend;
    bool mp_conn = g->lmcache_mp_connector_label || g->log_mp_connector;
    bool mp_sig = g->http_mp_engine_type || g->mp_server_span_scope || g->cacheblend_span_scope || g->mp_service_name ||
                  g->lmcache_mp_config_label;
    const char **v = r->arch_signals;
    size_t *n = &r->narch_signals;
    if (g->vllm_metrics && (mp_like || mp_conn)) {
        r->arch = KVS_LMC_ARCH_VLLM_MP;
        r->arch_claim = mp_like && (mp_conn || g->engine_joined_requests) ? KVS_LMC_CLAIM_MEASURED : KVS_LMC_CLAIM_INFERRED;
        push(v, n, true, "vllm_metrics");
        push(v, n, r->observed_mp, "lmcache_mp_metrics");
        push(v, n, r->observed_cacheblend, "lmcache_cacheblend_metrics");
        push(v, n, g->lmcache_mp_connector_label, "lmcache_mp_connector_label");
        push(v, n, g->log_mp_connector, "log_mp_connector");
        push(v, n, g->engine_joined_requests, "engine_joined_requests");
    } else if (g->vllm_metrics && (r->observed_embedded || g->vllm_embedded_connector_label ||
                                   g->vllm_lmcache_offload_backend_label || g->log_embedded_connector)) {
        r->arch = KVS_LMC_ARCH_VLLM_EMBEDDED;
        r->arch_claim = r->observed_embedded ? KVS_LMC_CLAIM_MEASURED : KVS_LMC_CLAIM_INFERRED;
        push(v, n, true, "vllm_metrics");
        push(v, n, r->observed_embedded, "lmcache_embedded_metrics");
        push(v, n, g->vllm_embedded_connector_label, "vllm_embedded_connector_label");
        push(v, n, g->vllm_lmcache_offload_backend_label, "vllm_lmcache_offload_backend_label");
        push(v, n, g->log_embedded_connector, "log_embedded_connector");
        push(v, n, g->stale_lmcache_connector_label, "stale_lmcache_connector_label");
    } else if (g->sglang_metrics && mp_like) {
        r->arch = KVS_LMC_ARCH_SGLANG_MP_CANDIDATE;
        r->arch_claim = KVS_LMC_CLAIM_INFERRED;
        push(v, n, true, "sglang_metrics");
        push(v, n, r->observed_mp, "lmcache_mp_metrics");
        push(v, n, r->observed_cacheblend, "lmcache_cacheblend_metrics");
    } else if (g->sglang_metrics && (r->observed_embedded || g->sglang_lmcache_connector_label ||
                                     g->sglang_enable_lmcache_label || g->sglang_lmcradix_cache_label)) {
        r->arch = KVS_LMC_ARCH_SGLANG_EMBEDDED;
        r->arch_claim = r->observed_embedded ? KVS_LMC_CLAIM_MEASURED : KVS_LMC_CLAIM_INFERRED;
        push(v, n, true, "sglang_metrics");
        push(v, n, r->observed_embedded, "lmcache_embedded_metrics");
        push(v, n, g->sglang_lmcache_connector_label, "sglang_lmcache_connector_label");
        push(v, n, g->sglang_enable_lmcache_label, "sglang_enable_lmcache_label");
        push(v, n, g->sglang_lmcradix_cache_label, "sglang_lmcradix_cache_label");
    } else if (mp_like || mp_sig) {
        r->arch = KVS_LMC_ARCH_MP_SERVER;
        r->arch_claim = mp_like ? KVS_LMC_CLAIM_MEASURED : KVS_LMC_CLAIM_INFERRED;
        push(v, n, r->observed_mp, "lmcache_mp_metrics");
        push(v, n, r->observed_cacheblend, "lmcache_cacheblend_metrics");
        push(v, n, g->http_mp_engine_type, "http_mp_engine_type");
        push(v, n, g->mp_server_span_scope, "mp_server_span_scope");
        push(v, n, g->cacheblend_span_scope, "cacheblend_span_scope");
        push(v, n, g->mp_service_name, "mp_service_name");
        push(v, n, g->lmcache_mp_config_label, "lmcache_mp_config_label");
    } else if (r->observed_embedded) {
        r->arch = KVS_LMC_ARCH_EMBEDDED_UNKNOWN;
        r->arch_claim = KVS_LMC_CLAIM_MEASURED;
        push(v, n, true, "lmcache_embedded_metrics");
    } else {
        r->arch = KVS_LMC_ARCH_UNKNOWN;
        r->arch_claim = KVS_LMC_CLAIM_NOT_PROVEN;
    }
    qsort(v, *n, sizeof *v, cmp_str);
}

static void finish_candidate(kvs_lmc_candidate *c, bool measured)
{
    c->candidate = c->nsignals > 0;
    c->claim = !c->candidate ? KVS_LMC_CLAIM_NOT_PROVEN : measured ? KVS_LMC_CLAIM_MEASURED : KVS_LMC_CLAIM_INFERRED;
    qsort(c->signals, c->nsignals, sizeof *c->signals, cmp_str);
}

static void candidates(kvs_lmc_evidence *ev, kvs_lmc_mode_result *r)
{
    const kvs_lmc_signals *g = &r->sig;
    const kvs_lmc_log_stats *ls = kvs_lmc_evidence_logs(ev);
    kvs_lmc_candidate *c = &r->p2p;
    push(c->signals, &c->nsignals, g->p2p_metrics, "p2p_metrics");
    push(c->signals, &c->nsignals, g->p2p_logs, "p2p_logs");
    push(c->signals, &c->nsignals, ls->enable_p2p == 1, "enable_p2p_config");
    finish_candidate(c, g->p2p_metrics);

    c = &r->pd;
    push(c->signals, &c->nsignals, g->pd_metrics, "kv_transfer_metrics");
    push(c->signals, &c->nsignals, g->pd_roles, "kv_role_labels");
    push(c->signals, &c->nsignals, g->pd_logs, "pd_logs");
    push(c->signals, &c->nsignals, ls->enable_pd == 1, "enable_pd_config");
    finish_candidate(c, g->pd_metrics);

    c = &r->controller_only;
    bool alone = !r->observed_mp && !r->observed_cacheblend && !r->observed_embedded && !r->observed_vllm &&
                 !r->observed_sglang;
    if (alone) {
        push(c->signals, &c->nsignals, g->coordinator_metrics, "coordinator_metrics");
        push(c->signals, &c->nsignals, g->coordinator_service_name, "coordinator_service_name");
    }
    finish_candidate(c, g->coordinator_metrics);
}

void kvs_lmc_mode_detect(kvs_lmc_evidence *ev, kvs_lmc_mode_result *out)
{
    memset(out, 0, sizeof *out);
    observe(ev, out);
    signals(ev, out);
    decide_mode(out);
    decide_arch(out);
    candidates(ev, out);
}
