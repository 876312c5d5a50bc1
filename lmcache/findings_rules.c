/* The peer tool's compat findings (its §4.2, in its emission order),
 * failure reasons (§2.7) and upstream questions (§4.3), evaluated on
 * canonical keys. Departures, each named in docs/reports.md: counters are
 * reset-adjusted sums of distinct series (no double counting of one
 * series scraped twice), histogram means resolve unit-suffixed spellings,
 * the lookup-evidence blocker needs real lookup evidence, the stale
 * connector check ignores SGLang's own LMCacheConnector, and an MP
 * question about the removed storage_manager counters asks about L1. */
#include "lmcache/findings_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <string.h>

#define K(x) KVS_METRIC_##x

static const kvs_lmc_family_row *row(const kvs_lmc_eval *e, kvs_lmc_fsurface s, const char *fam)
{
    return kvs_lmc_row_find(e->d->rows, e->d->nrows, s, fam);
}

static bool row_is(const kvs_lmc_eval *e, kvs_lmc_fsurface s, const char *fam, kvs_lmc_fstatus st)
{
    const kvs_lmc_family_row *r = row(e, s, fam);
    return r && r->status == st;
}

static bool mp_metrics(const kvs_lmc_eval *e) { return e->d->mode.observed_mp; }

static bool any_key_seen(const kvs_lmc_eval *e, const kvs_metric_key *keys)
{
    for (; *keys; keys++)
        if (kvs_lmc_evidence_key_seen(e->ev, *keys))
            return true;
    return false;
}

static const char *mode_of(const kvs_lmc_eval *e) { return kvs_lmc_mode_name(e->d->mode.mode); }

static bool low_hit_req(const kvs_lmc_req_rec *r, const void *arg)
{
    const kvs_lmc_eval *e = arg;
    return !r->store_only && r->requested_tokens > 0 && r->hit_tokens >= 0 &&
           (double)r->hit_tokens / (double)r->requested_tokens < e->th[KVS_LMC_TH_LOW_HIT_RATE];
}

static bool empty_salt_req(const kvs_lmc_req_rec *r, const void *arg)
{
    (void)arg;
    return r->salt_observed && !r->store_only && (!r->cache_salt || !*r->cache_salt);
}

static void peer_hit_and_salt(kvs_lmc_eval *e)
{
    /* 1: cumulative hit rate (the peer's rule) */
    double req = kvs_lmc__sum0(e, K(LMCACHE_MP_LOOKUP_REQUESTED)), hit = kvs_lmc__sum0(e, K(LMCACHE_MP_LOOKUP_HIT));
    if (req > 0 && hit / req < e->th[KVS_LMC_TH_LOW_HIT_RATE]) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_low_hit_rate", KVS_LMC_SEV_WARNING,
                                              "LMCache MP lookup hit rate %.3f is below %.3f (%.0f of %.0f tokens)",
                                              hit / req, e->th[KVS_LMC_TH_LOW_HIT_RATE], hit, req);
        kvs_lmc__num(f, "lmcache_mp_lookup_requested_tokens_total", req);
        kvs_lmc__num(f, "lmcache_mp_lookup_hit_tokens_total", hit);
        kvs_lmc__num(f, "hit_rate", hit / req);
        kvs_lmc__traces_where(e, f, low_hit_req, e);
    }
    /* 2 */
    if (kvs_lmc_evidence_flags(e->ev)->empty_salt_nonzero) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_empty_cache_salt", KVS_LMC_SEV_INFO,
                                              "LMCache MP lookups ran with an empty cache_salt");
        kvs_lmc__str(e, f, "cache_salt", "");
        kvs_lmc__traces_where(e, f, empty_salt_req, NULL);
    }
}

static void peer_event_bus(kvs_lmc_eval *e)
{
    /* 3 */
    if (e->d->mp_obs.event_bus_taildrop_risk) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_eventbus_taildrop_unobservable", KVS_LMC_SEV_WARNING,
                                              "LMCache MP EventBus (queue size %ld) drops events silently: its "
                                              "self-metrics are absent",
                                              e->d->mp_obs.event_bus_queue_size);
        kvs_lmc__num(f, "event_bus_queue_size", (double)e->d->mp_obs.event_bus_queue_size);
        kvs_lmc__strs(f, "event_bus_metric_names", e->d->mp_obs.event_bus_metric_names);
    }
    /* 4 */
    double dropped = kvs_lmc__sum0(e, K(LMCACHE_MP_EVENT_BUS_DROPPED_EVENTS_TOTAL));
    double exc = kvs_lmc__sum0(e, K(LMCACHE_MP_EVENT_BUS_SUBSCRIBER_EXCEPTIONS));
    if (dropped > 0 || exc > 0) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_eventbus_loss",
                                              dropped > 0 ? KVS_LMC_SEV_CRITICAL : KVS_LMC_SEV_WARNING,
                                              "LMCache MP EventBus dropped %.0f events, %.0f subscriber exceptions",
                                              dropped, exc);
        kvs_lmc__num(f, "lmcache_mp_event_bus_dropped_events_total", dropped);
        kvs_lmc__num(f, "lmcache_mp_event_bus_subscriber_exceptions_total", exc);
    }
}

static void peer_l1(kvs_lmc_eval *e)
{
    /* 5 */
    double ev_ = kvs_lmc__sum0(e, K(LMCACHE_MP_L1_EVICTED)), wr = kvs_lmc__sum0(e, K(LMCACHE_MP_L1_WRITE));
    double ratio = ev_ / (wr > 1 ? wr : 1);
    if (ev_ > 0 && (wr <= 0 || ratio > e->th[KVS_LMC_TH_EVICTION_RATIO])) {
        kvs_lmc_finding *f =
            kvs_lmc__finding(e, "lmcache_mp_l1_eviction_pressure", KVS_LMC_SEV_WARNING,
                             "L1 evicted %.0f of %.0f written chunks (ratio %.3f, threshold %.3f)", ev_, wr, ratio,
                             e->th[KVS_LMC_TH_EVICTION_RATIO]);
        kvs_lmc__num(f, "lmcache_mp_l1_evicted_keys_total", ev_);
        kvs_lmc__num(f, "lmcache_mp_l1_write_keys_total", wr);
        kvs_lmc__num(f, "evicted_to_written_ratio", ratio);
    }
    /* 6 */
    double af = kvs_lmc__sum0(e, K(LMCACHE_MP_L1_ALLOCATION_FAILURE)), rf = kvs_lmc__sum0(e, K(LMCACHE_MP_L1_READ_FAILURE));
    if (af > 0 || rf > 0) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l1_failures", KVS_LMC_SEV_CRITICAL,
                                              "L1 allocation failures %.0f, read failures %.0f", af, rf);
        kvs_lmc__num(f, "lmcache_mp_l1_allocation_failure_total", af);
        kvs_lmc__num(f, "lmcache_mp_l1_read_failure_total", rf);
    }
    /* 7 */
    static const kvs_metric_key l0[] = {K(LMCACHE_MP_L0_BLOCK_LIFETIME), K(LMCACHE_MP_L0_BLOCK_IDLE_BEFORE_EVICT),
                                        K(LMCACHE_MP_L0_BLOCK_REUSE_GAP), K(LMCACHE_MP_L0_BLOCK_ALLOCATION_RECORDS),
                                        K(LMCACHE_MP_L0_BLOCK_ALLOCATED_BLOCKS), 0};
    if (mp_metrics(e) && !any_key_seen(e, l0)) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l0_lifecycle_missing", KVS_LMC_SEV_INFO,
                                              "LMCache MP metrics have no L0 block lifecycle series");
        kvs_lmc__num(f, "lmcache_mp_l0_block_lifetime_seconds", NAN);
        kvs_lmc__num(f, "lmcache_mp_l0_block_idle_before_evict_seconds", NAN);
        kvs_lmc__num(f, "lmcache_mp_l0_block_reuse_gap_seconds", NAN);
    }
    /* 8a / 8b */
    static const kvs_metric_key l0l1[] = {K(LMCACHE_MP_L0_L1_STORE_THROUGHPUT), K(LMCACHE_MP_L0_L1_LOAD_THROUGHPUT), 0};
    if (mp_metrics(e) && !any_key_seen(e, l0l1)) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l0_l1_throughput_missing", KVS_LMC_SEV_INFO,
                                              "LMCache MP metrics have no L0<->L1 throughput histograms");
        kvs_lmc__num(f, "lmcache_mp_l0_l1_store_throughput_gbs", NAN);
        kvs_lmc__num(f, "lmcache_mp_l0_l1_load_throughput_gbs", NAN);
    } else if (mp_metrics(e)) {
        double st = kvs_lmc__hist_mean(e, K(LMCACHE_MP_L0_L1_STORE_THROUGHPUT));
        double ld = kvs_lmc__hist_mean(e, K(LMCACHE_MP_L0_L1_LOAD_THROUGHPUT));
        double lim = e->th[KVS_LMC_TH_L0_L1_THROUGHPUT_LOW_GBPS];
        if ((!isnan(st) && st < lim) || (!isnan(ld) && ld < lim)) {
            kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l0_l1_throughput_low", KVS_LMC_SEV_WARNING,
                                                  "L0<->L1 mean throughput store %.3f / load %.3f GB/s is below %.3f",
                                                  st, ld, lim);
            kvs_lmc__num(f, "lmcache_mp_l0_l1_store_throughput_gbs", st);
            kvs_lmc__num(f, "lmcache_mp_l0_l1_load_throughput_gbs", ld);
        }
    }
}

static void peer_l2(kvs_lmc_eval *e)
{
    const kvs_lmc_l2_summary *l = &e->d->l2;
    /* 9 */
    double failed = (isnan(l->store_failed_keys) ? 0 : l->store_failed_keys) +
                    (isnan(l->prefetch_failed_keys) ? 0 : l->prefetch_failed_keys) +
                    (isnan(l->prefetch_failures) ? 0 : l->prefetch_failures);
    if (failed > 0) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l2_failures", KVS_LMC_SEV_CRITICAL,
                                              "L2 failed %.0f store/prefetch operations or keys", failed);
        kvs_lmc__num(f, "l2_failed_operations_or_keys", failed);
    }
    /* 10 */
    if (l->store_backlog) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l2_store_backlog", KVS_LMC_SEV_WARNING,
                                              "%.0f L2 stores in flight; %.0f of %.0f submitted completed",
                                              l->num_inflight_l2_stores, l->store_completed, l->store_tasks);
        kvs_lmc__num(f, "lmcache_mp_num_inflight_l2_stores", l->num_inflight_l2_stores);
        kvs_lmc__num(f, "lmcache_mp_l2_store_tasks_total", l->store_tasks);
        kvs_lmc__num(f, "lmcache_mp_l2_store_completed_total", l->store_completed);
    }
    /* 11 */
    if (l->load_backlog) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l2_load_backlog", KVS_LMC_SEV_WARNING,
                                              "%.0f L2 loads in flight, %.0f prefetch jobs active; %.0f of %.0f "
                                              "prefetched keys loaded",
                                              l->num_inflight_l2_loads, l->active_prefetch_jobs,
                                              l->prefetch_loaded_keys, l->prefetch_load_keys);
        kvs_lmc__num(f, "lmcache_mp_num_inflight_l2_loads", l->num_inflight_l2_loads);
        kvs_lmc__num(f, "lmcache_mp_active_prefetch_jobs", l->active_prefetch_jobs);
        kvs_lmc__num(f, "lmcache_mp_l2_prefetch_load_tasks_total", l->prefetch_load_tasks);
        kvs_lmc__num(f, "lmcache_mp_l2_load_completed_total", l->load_completed);
        kvs_lmc__num(f, "lmcache_mp_l2_prefetch_loaded_keys_total", l->prefetch_loaded_keys);
    }
    /* 12 */
    double lim = e->th[KVS_LMC_TH_L2_THROUGHPUT_LOW_GBPS];
    double ins = isnan(l->num_inflight_l2_stores) ? 0 : l->num_inflight_l2_stores;
    double inl = isnan(l->num_inflight_l2_loads) ? 0 : l->num_inflight_l2_loads;
    double act = isnan(l->active_prefetch_jobs) ? 0 : l->active_prefetch_jobs;
    if ((!isnan(l->store_throughput_gbs) && l->store_throughput_gbs < lim && ins > 0) ||
        (!isnan(l->load_throughput_gbs) && l->load_throughput_gbs < lim && (inl > 0 || act > 0))) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l2_throughput_low", KVS_LMC_SEV_WARNING,
                                              "L2 mean throughput store %.3f / load %.3f GB/s is below %.3f with "
                                              "work in flight",
                                              l->store_throughput_gbs, l->load_throughput_gbs, lim);
        kvs_lmc__num(f, "lmcache_mp_l2_store_throughput_gbs", l->store_throughput_gbs);
        kvs_lmc__num(f, "lmcache_mp_l2_load_throughput_gbs", l->load_throughput_gbs);
        kvs_lmc__num(f, "lmcache_mp_num_inflight_l2_stores", l->num_inflight_l2_stores);
        kvs_lmc__num(f, "lmcache_mp_num_inflight_l2_loads", l->num_inflight_l2_loads);
        kvs_lmc__num(f, "lmcache_mp_active_prefetch_jobs", l->active_prefetch_jobs);
    }
}

static void peer_labels(kvs_lmc_eval *e)
{
    const kvs_lmc_cb_summary *cb = &e->d->cb;
    /* 13 */
    double fails = isnan(cb->failures) ? 0 : cb->failures;
    double stale = isnan(cb->lookup_stale_chunks) ? 0 : cb->lookup_stale_chunks;
    double nogpu = isnan(cb->lookup_no_gpu_context_errors) ? 0 : cb->lookup_no_gpu_context_errors;
    if (fails > 0 || stale > 0 || nogpu > 0) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_cacheblend_failures",
                                              fails > 0 || nogpu > 0 ? KVS_LMC_SEV_CRITICAL : KVS_LMC_SEV_WARNING,
                                              "CacheBlend failures %.0f, stale chunks %.0f, no-GPU-context lookups %.0f",
                                              fails, stale, nogpu);
        kvs_lmc__num(f, "lmcache_blend_failures_total", fails);
        kvs_lmc__num(f, "lmcache_blend_lookup_stale_chunks_total", stale);
        kvs_lmc__num(f, "lmcache_blend_lookup_no_gpu_context_errors_total", nogpu);
    }
    const kvs_lmc_signals *g = &e->d->mode.sig;
    /* 14 */
    if (g->stale_lmcache_connector_label || g->log_stale_connector) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_stale_connector", KVS_LMC_SEV_WARNING,
                                              "vLLM is configured with the stale LMCacheConnector");
        kvs_lmc__strs(f, "connector_labels", e->d->connector_labels);
    }
    /* 15 */
    if (g->vllm_lmcache_offload_backend_label && !g->vllm_embedded_connector_label && !e->d->mode.observed_embedded) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "vllm_lmcache_offload_flag_without_metrics", KVS_LMC_SEV_INFO,
                                              "vLLM's KV offloading backend is lmcache but no LMCache connector "
                                              "label or metric is visible");
        kvs_lmc__strs(f, "offload_backend_labels", e->d->offload_backend_labels);
    }
    /* 16 */
    if (g->sglang_hicache_metrics && !g->sglang_lmcache_connector_label && !g->sglang_enable_lmcache_label &&
        !e->d->mode.observed_embedded && !e->d->mode.observed_mp) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "sglang_hicache_not_lmcache", KVS_LMC_SEV_INFO,
                                              "SGLang exposes HiCache metrics and no LMCache evidence");
        kvs_lmc__strs(f, "cache_labels", e->d->cache_labels);
    }
    /* 17 */
    if (e->d->mode.arch == KVS_LMC_ARCH_SGLANG_EMBEDDED && g->sglang_hicache_metrics) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "sglang_lmcache_with_hicache_metrics", KVS_LMC_SEV_INFO,
                                              "SGLang runs LMCache and exposes HiCache metrics too");
        kvs_lmc__strs(f, "connector_labels", e->d->connector_labels);
        kvs_lmc__strs(f, "cache_labels", e->d->cache_labels);
    }
}

static void peer_evidence(kvs_lmc_eval *e)
{
    /* 18 */
    const kvs_lmc_http_failure *hf;
    size_t nh = kvs_lmc_evidence_http_failures(e->ev, &hf);
    for (size_t i = 0; i < nh; i++)
        kvs_lmc__finding(e, hf[i].code, KVS_LMC_SEV_WARNING, "%s", hf[i].message);
    /* 19: the log lane's six findings */
    static const struct {
        kvs_lmc_log_cat cat;
        const char *code;
        kvs_lmc_severity sev;
    } logf[] = {
        {KVS_LMC_LOG_P2P_TRANSFER_FAILURE, "lmcache_log_p2p_transfer_failure", KVS_LMC_SEV_WARNING},
        {KVS_LMC_LOG_P2P_TRANSFER_SPEED, "lmcache_log_p2p_transfer_speed_hint", KVS_LMC_SEV_INFO},
        {KVS_LMC_LOG_PD_ROLE_MISMATCH, "lmcache_log_pd_role_mismatch", KVS_LMC_SEV_WARNING},
        {KVS_LMC_LOG_PD_STALL, "lmcache_log_pd_stall", KVS_LMC_SEV_WARNING},
        {KVS_LMC_LOG_NIXL_PROXY, "lmcache_log_nixl_proxy_indicator", KVS_LMC_SEV_INFO},
        {KVS_LMC_LOG_NIXL_REQUEST, "lmcache_log_nixl_request_indicator", KVS_LMC_SEV_INFO},
    };
    const kvs_lmc_log_stats *ls = &e->d->logs;
    for (size_t i = 0; i < sizeof logf / sizeof *logf; i++) {
        unsigned long n = ls->cats[logf[i].cat];
        if (!n)
            continue;
        kvs_lmc_finding *f = kvs_lmc__finding(e, logf[i].code, logf[i].sev, "%lu log lines in category %s", n,
                                              kvs_lmc_log_cat_name(logf[i].cat));
        if (!f)
            continue;
        f->category = kvs_lmc_log_cat_name(logf[i].cat);
        f->evidence_status = "parser_only";
        kvs_lmc__num(f, "event_count", (double)n);
        if (logf[i].cat == KVS_LMC_LOG_P2P_TRANSFER_SPEED) {
            kvs_lmc__num(f, "min_speed_gbps", ls->speed_gbps_min);
            kvs_lmc__num(f, "min_speed_tokens_per_second", ls->speed_tokens_min);
        }
    }
    /* 20, 21 */
    const kvs_lmc_config *c = &e->d->cfg;
    if (c->trace_recording_enabled && !e->d->lanes[KVS_LMC_LANE_TRACE_RECORDING].measured)
        kvs_lmc__finding(e, "lmcache_mp_trace_enabled_but_no_trace_artifact", KVS_LMC_SEV_WARNING,
                         "LMCache MP trace recording is enabled but no measured trace recording was read");
    if (c->tracing_enabled && !e->d->lanes[KVS_LMC_LANE_OTEL].measured)
        kvs_lmc__finding(e, "otel_tracing_enabled_but_no_spans", KVS_LMC_SEV_WARNING,
                         "OpenTelemetry tracing is enabled but no LMCache span was received");
    /* 22: real lookup evidence only (logs that saw prefetches, lookup hashes, spans) */
    unsigned long prefetch = ls->cats[KVS_LMC_LOG_PREFETCH_COMPLETE];
    unsigned long hashes = e->d->lanes[KVS_LMC_LANE_LOOKUP_HASH].records;
    unsigned long span_lookups = e->d->requests.with_lookup;
    if (row_is(e, KVS_LMC_FS_MP, "lookup_tokens", KVS_LMC_ST_MISSING) && (prefetch || hashes || span_lookups)) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_lookup_tokens_prometheus_missing_with_live_lookup_evidence",
                                              KVS_LMC_SEV_CRITICAL,
                                              "Lookups are evident (%lu prefetch log lines, %lu lookup-hash rows, %lu "
                                              "traced lookups) but the lookup token counters are missing",
                                              prefetch, hashes, span_lookups);
        if (f)
            f->evidence_status = "live_alternate_not_scoreable";
        kvs_lmc__num(f, "prefetch_complete_events", (double)prefetch);
        kvs_lmc__num(f, "lookup_hash_rows", (double)hashes);
        kvs_lmc__num(f, "traced_lookups", (double)span_lookups);
    }
    /* 23 */
    const kvs_lmc_http_facts *h = e->d->has_http ? &e->d->http : NULL;
    if (h && row_is(e, KVS_LMC_FS_MP, "l1_memory", KVS_LMC_ST_MISSING) &&
        ((!isnan(h->l1_memory_used_bytes) && h->l1_memory_used_bytes > 0) ||
         (!isnan(h->l1_total_object_count) && h->l1_total_object_count > 0))) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l1_memory_prometheus_missing_with_http_memory_evidence",
                                              KVS_LMC_SEV_CRITICAL,
                                              "/api/status reports L1 memory but the L1 memory gauge is missing");
        if (f)
            f->evidence_status = "live_alternate_not_scoreable";
        kvs_lmc__num(f, "http_status_l1_memory_used_bytes", h->l1_memory_used_bytes);
        kvs_lmc__num(f, "http_status_l1_object_count", h->l1_total_object_count);
    }
}

void kvs_lmc__rules_peer(kvs_lmc_eval *e)
{
    peer_hit_and_salt(e);
    peer_event_bus(e);
    peer_l1(e);
    peer_l2(e);
    peer_labels(e);
    peer_evidence(e);
}

/* ---- failure reasons ---- */

void kvs_lmc__failures(kvs_lmc_eval *e)
{
    const kvs_lmc_config *c = &e->d->cfg;
    if (c->observability_disabled || c->metrics_disabled)
        kvs_lmc__reason(e, "lmcache_mp_observability_disabled", NULL,
                        "LMCache MP observability or metrics are disabled");
    if (c->expect_mode != KVS_LMC_EXPECT_AUTO && c->expect_mode != (int)e->d->mode.mode)
        kvs_lmc__reason(e, "lmcache_mode_mismatch", NULL, "expected LMCache mode '%s', detected '%s'",
                        kvs_lmc_mode_name((kvs_lmc_mode)c->expect_mode), mode_of(e));
    for (size_t i = 0; i < e->d->nrows; i++) {
        const kvs_lmc_family_row *r = &e->d->rows[i];
        if (r->def->surface != KVS_LMC_FS_MP || !r->applicable || r->status != KVS_LMC_ST_MISSING ||
            r->def->required_when == KVS_LMC_REQ_OPTIONAL || r->def->required_when == KVS_LMC_REQ_SAMPLED)
            continue;
        kvs_lmc__reason(e, "lmcache_mp_family_missing", r->def->name, "expected LMCache MP family '%s' was missing",
                        r->def->name);
    }
    const kvs_lmc_http_failure *hf;
    size_t nh = kvs_lmc_evidence_http_failures(e->ev, &hf);
    for (size_t i = 0; i < nh; i++)
        kvs_lmc__reason(e, hf[i].code, NULL, "%s", hf[i].message);
    if (c->trace_recording_enabled && !e->d->lanes[KVS_LMC_LANE_TRACE_RECORDING].measured)
        kvs_lmc__reason(e, "lmcache_mp_trace_enabled_but_no_trace_artifact", NULL,
                        "trace recording is enabled but no measured trace artifact was provided");
    if (c->tracing_enabled && !e->d->lanes[KVS_LMC_LANE_OTEL].measured)
        kvs_lmc__reason(e, "otel_tracing_enabled_but_no_spans", NULL,
                        "tracing is enabled but no measured LMCache spans were provided");
}

/* ---- upstream questions ---- */

void kvs_lmc__questions(kvs_lmc_eval *e)
{
    bool core = row_is(e, KVS_LMC_FS_MP, "l1_counters", KVS_LMC_ST_POPULATED) ||
                row_is(e, KVS_LMC_FS_MP, "storage_manager", KVS_LMC_ST_POPULATED);
    if (core && row_is(e, KVS_LMC_FS_MP, "lookup_tokens", KVS_LMC_ST_MISSING))
        kvs_lmc__question(e, "lmcache_mp_lookup_counters_missing",
                          "L1 counters are exported but lookup token counters are not: which LMCache build drops them?");
    if (core && row_is(e, KVS_LMC_FS_MP, "l1_memory", KVS_LMC_ST_MISSING))
        kvs_lmc__question(e, "lmcache_mp_l1_memory_gauge_missing",
                          "L1 counters are exported but the L1 memory gauge is not: is the l1_manager meter enabled?");
    const kvs_lmc_family_row *eb = row(e, KVS_LMC_FS_MP, "event_bus");
    if (core && eb && eb->status != KVS_LMC_ST_POPULATED && eb->status != KVS_LMC_ST_ZERO)
        kvs_lmc__question(e, "lmcache_eventbus_self_metrics_missing",
                          "Why are the EventBus self-metrics (queue depth, drops) not exported by this build?");
    if (e->d->mp_obs.event_bus_taildrop_risk)
        kvs_lmc__question(e, "lmcache_mp_eventbus_taildrop_risk",
                          "The EventBus queue is bounded and tail-drops; can drops be observed in this deployment?");
    if (e->d->mp_obs.sampled_histogram_sparse)
        kvs_lmc__question(e, "lmcache_mp_sampled_histogram_sparse",
                          "Counters move but no sampled lifecycle histogram has data at this sample rate: raise "
                          "--metrics-sample-rate?");
    const kvs_lmc_family_row *l0 = row(e, KVS_LMC_FS_MP, "l0_lifecycle");
    if (core && l0 && (l0->status == KVS_LMC_ST_MISSING || l0->status == KVS_LMC_ST_ZERO))
        kvs_lmc__question(e, "lmcache_mp_l0_lifecycle_missing",
                          "Does this LMCache / vLLM pair emit the L0 block lifecycle metrics?");
    if (kvs_lmc_evidence_flags(e->ev)->empty_salt_nonzero)
        kvs_lmc__question(e, "lmcache_mp_empty_cache_salt",
                          "Lookups ran with an empty cache_salt: is tenant isolation expected?");
    double q = kvs_lmc__sum0(e, K(VLLM_EXTERNAL_PREFIX_CACHE_QUERIES));
    double h = kvs_lmc__sum0(e, K(VLLM_EXTERNAL_PREFIX_CACHE_HITS));
    double x = kvs_lmc_evidence_sum(e->ev, K(VLLM_PROMPT_TOKENS_BY_SOURCE), INT64_MAX, "source", "external_kv_transfer");
    if (q > 0 && h == 0 && (isnan(x) || x == 0))
        kvs_lmc__question(e, "vllm_external_prefix_no_hits",
                          "vLLM queried the external (LMCache) prefix cache but never hit: is the connector loading?");
}
