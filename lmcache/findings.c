/* Thresholds, the finding catalog and the helpers rules use (see
 * findings.h, findings_int.h). */
#include "lmcache/findings.h"

#include "core/error.h"
#include "lmcache/findings_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kvs_lmc_severity_name(kvs_lmc_severity s)
{
    static const char *const n[] = {"info", "warning", "critical"};
    return (unsigned)s < 3 ? n[s] : "info";
}

const kvs_lmc_threshold_def kvs_lmc_threshold_defs[KVS_LMC_TH__COUNT] = {
#define KVS_LMC_TH_DEF_(id, name, dflt, doc) {name, dflt, doc},
    KVS_LMC_THRESHOLDS(KVS_LMC_TH_DEF_)
#undef KVS_LMC_TH_DEF_
};

void kvs_lmc_thresholds_default(kvs_lmc_thresholds *t)
{
    for (int i = 0; i < KVS_LMC_TH__COUNT; i++)
        t->v[i] = kvs_lmc_threshold_defs[i].dflt;
}

int kvs_lmc_thresholds_set(kvs_lmc_thresholds *t, const char *name, double value)
{
    if (!name || isnan(value))
        return KVS_E_INVALID;
    for (int i = 0; i < KVS_LMC_TH__COUNT; i++)
        if (strcmp(kvs_lmc_threshold_defs[i].name, name) == 0) {
            t->v[i] = value;
            return 0;
        }
    return KVS_E_INVALID;
}

/* ---- catalog ---- */

#define W KVS_LMC_SEV_WARNING
#define I KVS_LMC_SEV_INFO
#define C KVS_LMC_SEV_CRITICAL

static const kvs_lmc_catalog_entry catalog[] = {
    {"lmcache_mp_low_hit_rate", "peer", W,
     "Check that requests share prefixes (same model, same cache_salt, chunk-aligned prompts) and that L1 is large "
     "enough to keep them; compare with lmcache_mp_low_hit_rate_after_warmup, which ignores the warm-up.",
     "low_hit_rate"},
    {"lmcache_mp_empty_cache_salt", "peer", I,
     "Requests without a cache_salt share one cache namespace; set a salt per tenant if isolation matters.", ""},
    {"lmcache_mp_eventbus_taildrop_unobservable", "peer", W,
     "Expose the EventBus self-metrics (lmcache_mp.event_bus.*) so tail drops of the bounded queue can be seen.", ""},
    {"lmcache_mp_eventbus_loss", "peer", C,
     "Events were dropped or a subscriber raised: metrics and spans are incomplete. Raise --event-bus-queue-size, "
     "check the subscriber exceptions in the LMCache log.", ""},
    {"lmcache_mp_l1_eviction_pressure", "peer", W,
     "L1 evicts a large share of what it writes: give L1 more memory or add an L2 tier.", "eviction_ratio"},
    {"lmcache_mp_l1_failures", "peer", C,
     "L1 allocations or reads failed: check L1 memory size and lock contention (during / reason labels).", ""},
    {"lmcache_mp_l0_lifecycle_missing", "peer", I,
     "No L0 (GPU block) lifecycle metrics: use an LMCache / vLLM version that emits lmcache_mp.l0_block_*.", ""},
    {"lmcache_mp_l0_l1_throughput_missing", "peer", I,
     "No L0<->L1 throughput histograms: enable the lmcache_mp.perf meter.", ""},
    {"lmcache_mp_l0_l1_throughput_low", "peer", W,
     "GPU<->CPU KV copies are slow: check pinned memory, PCIe placement and concurrent copies.",
     "l0_l1_throughput_low_gbps"},
    {"lmcache_mp_l2_failures", "peer", C,
     "L2 stores or prefetches failed: check the L2 backend (l2_name) health and capacity.", ""},
    {"lmcache_mp_l2_store_backlog", "peer", W,
     "L2 stores are queued faster than they complete: the L2 backend is too slow for the write rate.", ""},
    {"lmcache_mp_l2_load_backlog", "peer", W,
     "L2 prefetch loads lag behind: check L2 read bandwidth and the prefetch concurrency.", ""},
    {"lmcache_mp_l2_throughput_low", "peer", W, "L2 transfers run below the expected bandwidth while work is queued.",
     "l2_throughput_low_gbps"},
    {"lmcache_cacheblend_failures", "peer", C,
     "CacheBlend retrieve/store failed or lookups found stale chunks / no GPU context: check the blend server log.",
     ""},
    {"lmcache_stale_connector", "peer", W,
     "vLLM uses the old LMCacheConnector: switch to LMCacheConnectorV1 (embedded) or LMCacheMPConnector (MP).", ""},
    {"vllm_lmcache_offload_flag_without_metrics", "peer", I,
     "vLLM says kv_offloading_backend=lmcache but no LMCache metrics or connector label were seen: set "
     "PROMETHEUS_MULTIPROC_DIR or scrape LMCache's own endpoint.", ""},
    {"sglang_hicache_not_lmcache", "peer", I,
     "SGLang runs its HiCache, not LMCache: start it with --enable-lmcache if LMCache was intended.", ""},
    {"sglang_lmcache_with_hicache_metrics", "peer", I,
     "SGLang shows LMCache and HiCache metrics together: make sure only one hierarchical cache is active.", ""},
    {"lmcache_http_unhealthy", "peer", W,
     "An LMCache HTTP endpoint reported unhealthy (code lmcache_http_<endpoint>_unhealthy): read its "
     "failure_reason and the periodic-thread health.", ""},
    {"lmcache_log_p2p_transfer_failure", "peer", W, "P2P KV transfers fail in the logs: check peer connectivity.", ""},
    {"lmcache_log_p2p_transfer_speed_hint", "peer", I, "The logs report P2P transfer speeds; compare them with the link.",
     ""},
    {"lmcache_log_pd_role_mismatch", "peer", W, "Prefill/decode roles do not match: check kv_role on both sides.", ""},
    {"lmcache_log_pd_stall", "peer", W, "Disaggregated prefill stalls: check the NIXL / transfer path.", ""},
    {"lmcache_log_nixl_proxy_indicator", "peer", I, "A NIXL proxy appears in the logs (PD deployment).", ""},
    {"lmcache_log_nixl_request_indicator", "peer", I, "NIXL transfer requests appear in the logs (PD deployment).",
     ""},
    {"lmcache_mp_trace_enabled_but_no_trace_artifact", "peer", W,
     "Trace recording is enabled but no .lct recording was read: pass the --trace-output file.", ""},
    {"otel_tracing_enabled_but_no_spans", "peer", W,
     "Tracing is enabled but no LMCache span arrived: check --otlp-endpoint points at kvscope.", ""},
    {"lmcache_mp_lookup_tokens_prometheus_missing_with_live_lookup_evidence", "peer", C,
     "Lookups happen (logs / lookup hashes / spans) but the lookup counters are absent from Prometheus: upgrade "
     "LMCache or scrape the right endpoint; the other evidence does not replace them.", ""},
    {"lmcache_mp_l1_memory_prometheus_missing_with_http_memory_evidence", "peer", C,
     "/api/status reports L1 memory but the lmcache_mp.l1_memory_usage_bytes gauge is absent from Prometheus.", ""},
    {"lmcache_mp_l1_saturation", "peer", W, "L1 is nearly full: expect evictions; grow L1 or add L2.",
     "l1_saturation_ratio"},
    {"lmcache_mp_eventbus_pressure", "peer", W,
     "The EventBus queue is close to its cap: drops are near; raise --event-bus-queue-size.",
     "event_bus_pressure_ratio"},
    {"lmcache_production_metrics_missing", "peer", W,
     "LMCache is configured but none of its metrics were seen: embedded needs PROMETHEUS_MULTIPROC_DIR in vLLM; "
     "MP metrics come from the LMCache server (/metrics on its HTTP port), never from vLLM.", ""},
    {"lmcache_mp_low_hit_rate_after_warmup", "kvscope", W,
     "After warm-up the windowed hit rate is low or collapsed: look for evictions, a cache_salt or model change, or "
     "an LMCache restart at the time of the drop.",
     "warmup_seconds,hit_rate_window_seconds,low_hit_rate_after_warmup,hit_rate_collapse_ratio,min_window_lookup_tokens"},
    {"lmcache_mp_l1_memory_no_plateau", "kvscope", W,
     "L1 memory keeps growing instead of levelling off: check the L1 size limit and pinned / leaked objects.",
     "warmup_seconds,l1_plateau_min_points,l1_plateau_growth_fraction"},
    {"lmcache_mp_cache_salt_empty_or_missing", "kvscope", W,
     "Some traffic uses tenant salts and some none: unsalted requests share a namespace across tenants.", ""},
    {"lmcache_mp_cache_salt_cardinality_high", "kvscope", W,
     "Too many distinct cache_salt values: per-request salts defeat sharing and explode metric cardinality.",
     "cache_salt_cardinality_max"},
    {"lmcache_embedded_zero_hit_rate_after_replay", "kvscope", W,
     "LMCache stored KV but later lookups never hit: check PYTHONHASHSEED, chunk size and that the same model and "
     "prompts are replayed.",
     "warmup_seconds,min_window_lookup_tokens"},
    {"lmcache_embedded_hashseed_risk", "kvscope", W,
     "Set the same PYTHONHASHSEED on every vLLM/LMCache process that shares a cache (P2P, PD, remote backend).", ""},
    {"lmcache_embedded_remote_backend_errors", "kvscope", W,
     "The remote backend errors (ping errors, failed gets/puts): check its address, health and network.", ""},
    {"lmcache_embedded_p2p_transfer_slow", "kvscope", W, "P2P KV transfers are slow: check the transfer channel.",
     "p2p_min_tokens_per_second,p2p_max_transfer_p95_seconds,p2p_min_gbps"},
    {"vllm_external_hits_exceed_lmcache_hits", "kvscope", W,
     "vLLM counts more external prefix hits than LMCache served: another KV connector is active or the counters "
     "are not from the same instance.",
     "prefix_mismatch_tolerance,min_window_lookup_tokens"},
    {"lmcache_hits_not_reflected_in_vllm", "kvscope", W,
     "LMCache reports hits that vLLM did not use: loads may fail or be discarded (check retrieve errors, "
     "early exits, the connector's load path).",
     "prefix_mismatch_tolerance,min_window_lookup_tokens"},
    {"sglang_queue_pressure", "kvscope", W, "SGLang requests queue behind running ones: add capacity or lower load.",
     "sglang_queue_ratio,sglang_queue_time_p95_seconds"},
    {"sglang_kv_transfer_pressure", "kvscope", W,
     "SGLang KV transfer (PD) fails or is slow: check the transfer backend and bootstrap.",
     "sglang_kv_transfer_latency_p95_ms,sglang_kv_transfer_min_gbps,sglang_transfer_queue_max"},
    {"lmcache_mp_request_timeouts", "kvscope", W,
     "LMCache MP operations timed out: see the timeout spans of the example traces.", ""},
};

#undef W
#undef I
#undef C

size_t kvs_lmc_finding_catalog(const kvs_lmc_catalog_entry **out)
{
    *out = catalog;
    return sizeof catalog / sizeof *catalog;
}

const kvs_lmc_catalog_entry *kvs_lmc_catalog_find(const char *code)
{
    for (size_t i = 0; i < sizeof catalog / sizeof *catalog; i++)
        if (strcmp(catalog[i].code, code) == 0)
            return &catalog[i];
    if (strncmp(code, "lmcache_http_", 13) == 0)
        return kvs_lmc_catalog_find("lmcache_http_unhealthy");
    return NULL;
}

/* ---- helpers ---- */

const char *kvs_lmc__strdup(kvs_lmc_eval *e, const char *s)
{
    if (!s)
        return NULL;
    const char *c = kvs_arena_strdup(e->d->arena, s);
    if (!c)
        e->rc = KVS_E_NOMEM;
    return c;
}

static bool grow(kvs_lmc_eval *e, void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *nv = kvs_arena_grow(e->d->arena, *v, *cap * size, nc * size);
    if (!nv) {
        e->rc = KVS_E_NOMEM;
        return false;
    }
    *v = nv;
    *cap = nc;
    return true;
}

kvs_lmc_finding *kvs_lmc__finding(kvs_lmc_eval *e, const char *code, kvs_lmc_severity sev, const char *fmt, ...)
{
    kvs_lmc_diagnosis *d = e->d;
    if (!grow(e, (void **)&d->findings, &e->capf, d->nfindings, sizeof *d->findings))
        return NULL;
    kvs_lmc_finding *f = &d->findings[d->nfindings];
    memset(f, 0, sizeof *f);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const kvs_lmc_catalog_entry *c = kvs_lmc_catalog_find(code);
    f->code = kvs_lmc__strdup(e, code);
    f->message = kvs_lmc__strdup(e, msg);
    f->severity = sev;
    f->recommendation = c ? c->recommendation : "";
    f->origin = c ? c->origin : "kvscope";
    f->window_start_ms = d->t_min_ms;
    f->window_end_ms = d->t_max_ms;
    if (e->rc)
        return NULL;
    d->nfindings++;
    return f;
}

static kvs_lmc_value_item *value(kvs_lmc_finding *f, const char *key)
{
    if (!f || f->nvalues == KVS_LMC_MAX_VALUES)
        return NULL;
    kvs_lmc_value_item *v = &f->values[f->nvalues++];
    memset(v, 0, sizeof *v);
    v->key = key;
    return v;
}

void kvs_lmc__num(kvs_lmc_finding *f, const char *key, double x)
{
    kvs_lmc_value_item *v = value(f, key);
    if (v) {
        v->type = KVS_LMC_V_NUM;
        v->num = x;
    }
}

void kvs_lmc__str(kvs_lmc_eval *e, kvs_lmc_finding *f, const char *key, const char *s)
{
    kvs_lmc_value_item *v = value(f, key);
    if (v) {
        v->type = KVS_LMC_V_STR;
        v->str = kvs_lmc__strdup(e, s ? s : "");
    }
}

void kvs_lmc__bool(kvs_lmc_finding *f, const char *key, bool b)
{
    kvs_lmc_value_item *v = value(f, key);
    if (v) {
        v->type = KVS_LMC_V_BOOL;
        v->b = b;
    }
}

void kvs_lmc__strs(kvs_lmc_finding *f, const char *key, kvs_lmc_strs s)
{
    kvs_lmc_value_item *v = value(f, key);
    if (v) {
        v->type = KVS_LMC_V_STRS;
        v->strs = s.v;
        v->nstrs = s.n;
    }
}

void kvs_lmc__trace(kvs_lmc_finding *f, const char *tid)
{
    if (!f || !tid || !*tid || f->ntraces == KVS_LMC_MAX_TRACES)
        return;
    for (size_t i = 0; i < f->ntraces; i++)
        if (strcmp(f->trace_ids[i], tid) == 0)
            return;
    snprintf(f->trace_ids[f->ntraces++], sizeof f->trace_ids[0], "%s", tid);
}

void kvs_lmc__traces_where(const kvs_lmc_eval *e, kvs_lmc_finding *f,
                           bool (*pred)(const kvs_lmc_req_rec *r, const void *arg), const void *arg)
{
    size_t n = kvs_lmc_evidence_nrequests(e->ev);
    for (size_t i = 0; i < n && f && f->ntraces < KVS_LMC_MAX_TRACES; i++) {
        const kvs_lmc_req_rec *r = kvs_lmc_evidence_request(e->ev, i);
        if (pred(r, arg))
            kvs_lmc__trace(f, r->trace_id);
    }
}

void kvs_lmc__reason(kvs_lmc_eval *e, const char *code, const char *family, const char *fmt, ...)
{
    kvs_lmc_diagnosis *d = e->d;
    if (!grow(e, (void **)&d->failures, &e->capr, d->nfailures, sizeof *d->failures))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kvs_lmc_reason *r = &d->failures[d->nfailures];
    r->code = kvs_lmc__strdup(e, code);
    r->message = kvs_lmc__strdup(e, msg);
    r->family = family ? kvs_lmc__strdup(e, family) : NULL;
    if (!e->rc)
        d->nfailures++;
}

void kvs_lmc__question(kvs_lmc_eval *e, const char *code, const char *text)
{
    kvs_lmc_diagnosis *d = e->d;
    if (!grow(e, (void **)&d->questions, &e->capq, d->nquestions, sizeof *d->questions))
        return;
    kvs_lmc_question *q = &d->questions[d->nquestions];
    q->code = code;
    q->owner_question = text;
    d->nquestions++;
}

double kvs_lmc__sum(const kvs_lmc_eval *e, kvs_metric_key k)
{
    return kvs_lmc_evidence_sum(e->ev, k, INT64_MAX, NULL, NULL);
}

double kvs_lmc__sum0(const kvs_lmc_eval *e, kvs_metric_key k)
{
    double v = kvs_lmc__sum(e, k);
    return isnan(v) ? 0.0 : v;
}

double kvs_lmc__hist_mean(const kvs_lmc_eval *e, kvs_metric_key k)
{
    kvs_lmc_hist h;
    if (!kvs_lmc_evidence_hist(e->ev, k, INT64_MIN, INT64_MAX, &h))
        return NAN;
    return kvs_lmc_hist_mean(h.sum, h.count);
}

double kvs_lmc__hist_q(const kvs_lmc_eval *e, kvs_metric_key k, double q)
{
    kvs_lmc_hist h;
    if (!kvs_lmc_evidence_hist(e->ev, k, INT64_MIN, INT64_MAX, &h) || !h.nbounds)
        return NAN;
    return kvs_lmc_hist_quantile(h.bounds, h.counts, h.nbounds, q);
}

double kvs_lmc__increase(const kvs_lmc_eval *e, kvs_metric_key k)
{
    const kvs_lmc_series *const *ss;
    size_t n = kvs_lmc_evidence_key_series(e->ev, k, &ss);
    double total = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const kvs_lmc_series *s = ss[i];
        if (!s->npoints)
            continue;
        size_t m = kvs_lmc_series_stride(s);
        double first = s->values[0], last = s->values[(s->npoints - 1) * m];
        total += s->npoints == 1 ? last : kvs_lmc_increase(first, last);
        any = true;
    }
    return any ? total : NAN;
}
