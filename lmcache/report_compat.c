/* The compat report (lmcache_compat_report.json) and the observability
 * coverage report (observability_coverage.json): the peer's keys with
 * their meanings, then kvscope's added keys. */
#include "lmcache/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef kvs_lmc_json J;

static const char *expect_name(int m) { return m == KVS_LMC_EXPECT_AUTO ? "auto" : kvs_lmc_mode_name((kvs_lmc_mode)m); }

static J *signals_json(const kvs_lmc_signals *g, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
#define S(name) kvs_lmc_json_put_bool(o, #name, g->name)
    S(vllm_metrics);
    S(sglang_metrics);
    S(lmcache_mp_metrics);
    S(lmcache_cacheblend_metrics);
    S(lmcache_embedded_metrics);
    S(lmcache_mp_connector_label);
    S(vllm_embedded_connector_label);
    S(vllm_lmcache_offload_backend_label);
    S(sglang_lmcache_connector_label);
    S(sglang_enable_lmcache_label);
    S(sglang_lmcradix_cache_label);
    S(sglang_hicache_metrics);
    S(stale_lmcache_connector_label);
    S(lmcache_mp_config_label);
    S(http_mp_engine_type);
    S(mp_server_span_scope);
    S(cacheblend_span_scope);
    S(mp_service_name);
    S(coordinator_metrics);
    S(coordinator_service_name);
    S(log_mp_connector);
    S(log_embedded_connector);
    S(log_stale_connector);
    S(p2p_metrics);
    S(p2p_logs);
    S(pd_metrics);
    S(pd_roles);
    S(pd_logs);
    S(engine_joined_requests);
#undef S
    return o;
}

static J *architecture(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "label", kvs_lmc_arch_name(d->mode.arch));
    kvs_lmc_json_put_str(o, "claim_status", kvs_lmc_claim_name(d->mode.arch_claim));
    kvs_lmc_json_put(o, "connector_labels", kvs_lmc__strs_json(a, d->connector_labels));
    kvs_lmc_json_put(o, "cache_labels", kvs_lmc__strs_json(a, d->cache_labels));
    kvs_lmc_json_put(o, "offload_backend_labels", kvs_lmc__strs_json(a, d->offload_backend_labels));
    kvs_lmc_json_put(o, "signals", signals_json(&d->mode.sig, a));
    kvs_lmc_json_put(o, "evidence", kvs_lmc_json_strs(a, d->mode.arch_signals, d->mode.narch_signals));
    return o;
}

static J *mp_observability(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_mp_obs *m = &d->mp_obs;
    const kvs_lmc_config *c = &d->cfg;
    J *o = kvs_lmc_json_object(a), *cfg = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(cfg, "observability_disabled", c->observability_disabled);
    kvs_lmc_json_put_bool(cfg, "metrics_disabled", c->metrics_disabled);
    kvs_lmc_json_put_bool(cfg, "logging_disabled", c->logging_disabled);
    kvs_lmc_json_put_bool(cfg, "tracing_enabled", c->tracing_enabled);
    kvs_lmc_json_put_bool(cfg, "trace_recording_enabled", c->trace_recording_enabled);
    kvs_lmc_json_put_num(cfg, "prometheus_port", m->prometheus_port);
    kvs_lmc_json_put_num(cfg, "event_bus_queue_size", (double)m->event_bus_queue_size);
    kvs_lmc_json_put_num(cfg, "metrics_sample_rate", m->metrics_sample_rate);
    kvs_lmc_json_put(o, "config", cfg);
    kvs_lmc_json_put(o, "service_instance_ids", kvs_lmc__strs_json(a, m->service_instance_ids));
    kvs_lmc_json_put_str(o, "service_instance_id_source", m->service_instance_id_source);
    kvs_lmc_json_put(o, "cache_salt_values", kvs_lmc__strs_json(a, m->cache_salt_values));
    kvs_lmc_json_put_num(o, "cache_salt_cardinality", (double)m->cache_salt_cardinality);
    kvs_lmc_json_put_bool(o, "cache_salt_cardinality_risk", m->cache_salt_cardinality_risk);
    kvs_lmc_json_put(o, "l2_names", kvs_lmc__strs_json(a, m->l2_names));
    kvs_lmc_json_put(o, "adapter_indices", kvs_lmc__strs_json(a, m->adapter_indices));
    kvs_lmc_json_put(o, "event_bus_metric_names", kvs_lmc__strs_json(a, m->event_bus_metric_names));
    kvs_lmc_json_put_bool(o, "event_bus_taildrop_risk", m->event_bus_taildrop_risk);
    kvs_lmc_json_put(o, "sampled_histogram_names", kvs_lmc__strs_json(a, m->sampled_histogram_names));
    kvs_lmc_json_put_bool(o, "sampled_histogram_sparse", m->sampled_histogram_sparse);
    return o;
}

static J *l2_summary(const kvs_lmc_l2_summary *l, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(o, "observed", l->observed);
#define N(f) kvs_lmc_json_put_num(o, #f, l->f)
    N(store_tasks);
    N(store_completed);
    N(store_failed_keys);
    N(prefetch_load_tasks);
    N(load_completed);
    N(prefetch_loaded_keys);
    N(prefetch_failed_keys);
    N(prefetch_failures);
    N(num_inflight_l2_stores);
    N(num_inflight_l2_loads);
    N(active_prefetch_jobs);
    N(inflight_load_memory_usage_bytes);
    N(store_throughput_gbs);
    N(load_throughput_gbs);
    N(prefetch_load_keys);
#undef N
    kvs_lmc_json_put_bool(o, "store_backlog", l->store_backlog);
    kvs_lmc_json_put_bool(o, "load_backlog", l->load_backlog);
    return o;
}

static J *cb_summary(const kvs_lmc_cb_summary *c, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(o, "observed", c->observed);
#define N(f) kvs_lmc_json_put_num(o, #f, c->f)
    N(lookup_requests);
    N(lookup_fingerprint_hits);
    N(lookup_storage_hits);
    N(lookup_fingerprint_hit_rate);
    N(lookup_storage_hit_rate);
    N(lookup_stale_chunks);
    N(lookup_no_gpu_context_errors);
    N(retrieve_requests);
    N(retrieve_chunks);
    N(store_pre_computed_requests);
    N(store_final_requests);
    N(failures);
    N(fingerprints_registered);
    N(chunks_evicted);
#undef N
    return o;
}

static const char *lane_claim(const kvs_lmc_lane *l) { return l->measured ? "measured" : "not_proven"; }

static J *lane_json(const kvs_lmc_lane *l, kvs_arena *a)
{
    if (!l->provided)
        return kvs_lmc_json_null(a);
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(o, "present", l->present);
    kvs_lmc_json_put_str(o, "claim_status", lane_claim(l));
    kvs_lmc_json_put_num(o, "record_count", (double)l->records);
    kvs_lmc_json_put_num(o, "parse_error_count", (double)l->parse_errors);
    return o;
}

static J *http_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_lane *l = &d->lanes[KVS_LMC_LANE_HTTP];
    if (!l->provided)
        return kvs_lmc_json_null(a);
    J *o = lane_json(l, a), *b = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(b, "is_healthy", d->http.healthy == 1);
    kvs_lmc_json_put(o, "booleans", b);
    kvs_lmc_json_put_str(o, "engine_type", d->http.engine_type);
    kvs_lmc_json_put_num(o, "l1_memory_used_bytes", d->http.l1_memory_used_bytes);
    kvs_lmc_json_put_num(o, "l1_total_object_count", d->http.l1_total_object_count);
    J *fr = kvs_lmc_json_array(a);
    for (size_t i = 0; i < d->nfailures; i++)
        if (strncmp(d->failures[i].code, "lmcache_http_", 13) == 0) {
            J *x = kvs_lmc_json_object(a);
            kvs_lmc_json_put_str(x, "code", d->failures[i].code);
            kvs_lmc_json_put_str(x, "message", d->failures[i].message);
            kvs_lmc_json_push(fr, x);
        }
    kvs_lmc_json_put(o, "failure_reasons", fr);
    return o;
}

static J *logs_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_lane *l = &d->lanes[KVS_LMC_LANE_LOGS];
    if (!l->provided)
        return kvs_lmc_json_null(a);
    J *o = lane_json(l, a), *ec = kvs_lmc_json_object(a), *cfg = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(o, "line_count", (double)d->logs.lines);
    for (int c = 0; c < KVS_LMC_LOG__COUNT; c++)
        kvs_lmc_json_put_num(ec, kvs_lmc_log_cat_name((kvs_lmc_log_cat)c), (double)d->logs.cats[c]);
    kvs_lmc_json_put(o, "event_counts", ec);
    kvs_lmc_json_put(cfg, "connectors", kvs_lmc__strs_json(a, d->log_connectors));
    kvs_lmc_json_put(cfg, "pythonhashseed_values", kvs_lmc__strs_json(a, d->hashseeds));
    static const char *const tri[] = {"enable_p2p", "enable_pd", "enable_async_loading"};
    const int vals[] = {d->logs.enable_p2p, d->logs.enable_pd, d->logs.enable_async};
    for (int i = 0; i < 3; i++)
        kvs_lmc_json_put(cfg, tri[i], vals[i] < 0 ? kvs_lmc_json_null(a) : kvs_lmc_json_bool(a, vals[i] == 1));
    kvs_lmc_json_put(o, "config", cfg);
    J *mc = kvs_lmc_json_array(a);
    static const struct {
        uint32_t bit;
        const char *name;
    } modes[] = {{KVS_LMC_LOGMODE_PD, "disaggregated_prefill"}, {KVS_LMC_LOGMODE_EMBEDDED, "embedded"},
                 {KVS_LMC_LOGMODE_MP, "mp"}, {KVS_LMC_LOGMODE_P2P, "p2p"}};
    for (size_t i = 0; i < 4; i++)
        if (d->logs.modes & modes[i].bit)
            kvs_lmc_json_push(mc, kvs_lmc_json_str(a, modes[i].name));
    kvs_lmc_json_put(o, "mode_candidates", mc);
    return o;
}

static J *otel_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_lane *l = &d->lanes[KVS_LMC_LANE_OTEL];
    if (!l->provided)
        return kvs_lmc_json_null(a);
    J *o = lane_json(l, a);
    const kvs_lmc_span_stats *s = &d->spans;
    kvs_lmc_json_put_num(o, "span_count", (double)s->spans);
    kvs_lmc_json_put_num(o, "lmcache_span_count", (double)s->lmcache_spans);
    kvs_lmc_json_put_num(o, "mp_span_count", (double)s->mp_spans);
    kvs_lmc_json_put_num(o, "cacheblend_span_count", (double)s->cacheblend_spans);
    kvs_lmc_json_put_num(o, "request_span_count", (double)s->request_spans);
    kvs_lmc_json_put_num(o, "error_span_count", (double)s->error_spans);
    kvs_lmc_json_put_num(o, "timeout_span_count", (double)s->timeout_spans);
    kvs_lmc_json_put(o, "scopes", kvs_lmc__strs_json(a, d->scopes));
    return o;
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

static J *locked_metrics(kvs_arena *a)
{
    const char *v[KVS_METRIC__COUNT], *l[KVS_METRIC__COUNT];
    size_t nv = 0, nl = 0;
    for (int k = 1; k < KVS_METRIC__COUNT; k++) {
        const kvs_metric_info *in = kvs_metric_info_of((kvs_metric_key)k);
        if (in->surface == KVS_SURFACE_VLLM)
            v[nv++] = in->id;
        else if (in->surface == KVS_SURFACE_LMCACHE_MP || in->surface == KVS_SURFACE_LMCACHE_EMBEDDED ||
                 in->surface == KVS_SURFACE_LMCACHE_CACHEBLEND)
            l[nl++] = in->id;
    }
    qsort(v, nv, sizeof *v, cmp_str);
    qsort(l, nl, sizeof *l, cmp_str);
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put(o, "vllm", kvs_lmc_json_strs(a, v, nv));
    kvs_lmc_json_put(o, "lmcache", kvs_lmc_json_strs(a, l, nl));
    return o;
}

static bool compat_surface(kvs_lmc_fsurface s) { return s != KVS_LMC_FS_VLLM && s != KVS_LMC_FS_SGLANG; }

static J *request_summary(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_req_stats *r = &d->requests;
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(o, "requests", (double)r->count);
    kvs_lmc_json_put_num(o, "store_only", (double)r->store_only);
    kvs_lmc_json_put_num(o, "with_lookup", (double)r->with_lookup);
    kvs_lmc_json_put_num(o, "zero_hit", (double)r->zero_hit);
    kvs_lmc_json_put_num(o, "early_exit", (double)r->early_exit);
    kvs_lmc_json_put_num(o, "timeouts", (double)r->timeouts);
    kvs_lmc_json_put_num(o, "without_cache_salt", (double)r->salt_missing);
    kvs_lmc_json_put_num(o, "empty_cache_salt", (double)r->salt_empty);
    kvs_lmc_json_put_num(o, "requested_tokens", r->requested_tokens);
    kvs_lmc_json_put_num(o, "hit_tokens", r->hit_tokens);
    kvs_lmc_json_put_num(o, "hit_rate", r->requested_tokens > 0 ? r->hit_tokens / r->requested_tokens : NAN);
    kvs_lmc_json_put_num(o, "engine_ttft_mean_seconds", r->with_ttft ? r->ttft_sum / (double)r->with_ttft : NAN);
    return o;
}

J *kvs_lmc__compat_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "schema_version", "inferguard-observability-compat/v1");
    kvs_lmc_json_put_str(o, "engine_source", d->cfg.engine_source);
    kvs_lmc_json_put_str(o, "lmcache_source", d->cfg.lmcache_source);
    kvs_lmc_json_put_str(o, "expect_mode", expect_name(d->cfg.expect_mode));
    kvs_lmc_json_put_str(o, "detected_mode", kvs_lmc_mode_name(d->mode.mode));
    kvs_lmc_json_put(o, "detected_architecture", architecture(d, a));
    kvs_lmc_json_put_bool(o, "l2_configured", d->cfg.l2_configured);
    kvs_lmc_json_put(o, "failure_reasons", kvs_lmc__failures_json(d, a));
    kvs_lmc_json_put(o, "diagnostic_findings", kvs_lmc__findings_json(d, a));
    kvs_lmc_json_put(o, "upstream_questions", kvs_lmc__questions_json(d, a));
    J *obs = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(obs, "lmcache_mp", d->mode.observed_mp);
    kvs_lmc_json_put_bool(obs, "lmcache_cacheblend", d->mode.observed_cacheblend);
    kvs_lmc_json_put_bool(obs, "lmcache_embedded", d->mode.observed_embedded);
    kvs_lmc_json_put_bool(obs, "vllm", d->mode.observed_vllm);
    kvs_lmc_json_put_bool(obs, "sglang", d->mode.observed_sglang);
    kvs_lmc_json_put_num(obs, "total_series", (double)d->total_series);
    kvs_lmc_json_put_num(obs, "populated_nonzero_series", (double)d->populated_nonzero_series);
    kvs_lmc_json_put_num(obs, "created_samples", (double)d->flags.created_samples);
    kvs_lmc_json_put(o, "observed", obs);
    kvs_lmc_json_put(o, "lmcache_mp_observability", mp_observability(d, a));
    kvs_lmc_json_put(o, "lmcache_l2_summary", l2_summary(&d->l2, a));
    kvs_lmc_json_put(o, "lmcache_cacheblend_summary", cb_summary(&d->cb, a));
    kvs_lmc_json_put(o, "lmcache_http_evidence", http_json(d, a));
    kvs_lmc_json_put(o, "lmcache_log_evidence", logs_json(d, a));
    kvs_lmc_json_put(o, "lmcache_trace_evidence", lane_json(&d->lanes[KVS_LMC_LANE_TRACE_RECORDING], a));
    kvs_lmc_json_put(o, "lmcache_otel_evidence", otel_json(d, a));
    kvs_lmc_json_put(o, "lmcache_trace_replay_evidence", lane_json(&d->lanes[KVS_LMC_LANE_TRACE_REPLAY], a));
    kvs_lmc_json_put(o, "lmcache_lookup_hash_evidence", lane_json(&d->lanes[KVS_LMC_LANE_LOOKUP_HASH], a));
    kvs_lmc_json_put(o, "lmcache_cacheblend_boundary_evidence",
                     lane_json(&d->lanes[KVS_LMC_LANE_CACHEBLEND_BOUNDARY], a));
    J *surf = kvs_lmc_json_object(a);
    for (int s = 0; s < KVS_LMC_FS__COUNT; s++)
        if (compat_surface((kvs_lmc_fsurface)s))
            kvs_lmc_json_put(surf, kvs_lmc_fsurface_name((kvs_lmc_fsurface)s), kvs_lmc__surface_json(&d->surfaces[s], a));
    kvs_lmc_json_put(o, "surfaces", surf);
    J *fam = kvs_lmc_json_array(a);
    for (size_t i = 0; i < d->nrows; i++)
        if (!(d->rows[i].def->flags & KVS_LMC_FAM_ENGINE))
            kvs_lmc_json_push(fam, kvs_lmc__row_json(&d->rows[i], true, a));
    kvs_lmc_json_put(o, "families", fam);
    kvs_lmc_json_put(o, "locked_metrics", locked_metrics(a));
    /* kvscope additions */
    kvs_lmc_json_put_str(o, "kvscope_schema_version", "kvscope-lmcache-compat/v1");
    kvs_lmc_json_put_str(o, "detected_mode_source", d->mode.mode_source);
    kvs_lmc_json_put_str(o, "detected_mode_claim_status", kvs_lmc_claim_name(d->mode.mode_claim));
    J *cand = kvs_lmc_json_object(a);
    kvs_lmc_json_put(cand, "p2p", kvs_lmc__candidate_json(&d->mode.p2p, a));
    kvs_lmc_json_put(cand, "disaggregated_prefill", kvs_lmc__candidate_json(&d->mode.pd, a));
    kvs_lmc_json_put(cand, "controller_only", kvs_lmc__candidate_json(&d->mode.controller_only, a));
    kvs_lmc_json_put(o, "candidates", cand);
    kvs_lmc_json_put_bool(o, "l2_configured_effective", d->l2_configured_effective);
    kvs_lmc_json_put_str(o, "l2_configured_source", d->l2_configured_source);
    kvs_lmc_json_put(o, "time_window", kvs_lmc__time_json(d, a));
    kvs_lmc_json_put(o, "request_summary", request_summary(d, a));
    kvs_lmc_json_put(o, "models", kvs_lmc__strs_json(a, d->models));
    kvs_lmc_json_put(o, "service_names", kvs_lmc__strs_json(a, d->service_names));
    return o;
}

static J *offload_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_kv_offload *k = &d->offload;
    J *o = kvs_lmc_json_object(a), *v = kvs_lmc_json_object(a), *l = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "schema_version", "inferguard-kv-cache-offload/v1");
    kvs_lmc_json_put_str(o, "purpose", "KV cache movement between GPU and CPU: vLLM native offload and LMCache MP L0<->L1");
    kvs_lmc_json_put_num(v, "gpu_to_cpu_bytes", k->gpu_to_cpu_bytes);
    kvs_lmc_json_put_num(v, "cpu_to_gpu_bytes", k->cpu_to_gpu_bytes);
    kvs_lmc_json_put_num(v, "gpu_to_cpu_seconds", k->gpu_to_cpu_seconds);
    kvs_lmc_json_put_num(v, "cpu_to_gpu_seconds", k->cpu_to_gpu_seconds);
    kvs_lmc_json_put_str(v, "status", k->vllm_status);
    kvs_lmc_json_put_str(v, "metric_source", "vllm /metrics");
    kvs_lmc_json_put(o, "vllm_native_cpu_offload", v);
    kvs_lmc_json_put_num(l, "gpu_to_cpu_store_throughput_gbs", k->store_throughput_gbs);
    kvs_lmc_json_put_num(l, "cpu_to_gpu_load_throughput_gbs", k->load_throughput_gbs);
    kvs_lmc_json_put_str(l, "status", k->lmcache_status);
    kvs_lmc_json_put_str(l, "metric_source", "lmcache_mp.l0_l1_{store,load}_throughput (any spelling)");
    kvs_lmc_json_put(o, "lmcache_mp_l0_l1_kv_transfer", l);
    return o;
}

J *kvs_lmc__coverage_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "schema_version", "inferguard-observability-coverage/v1");
    kvs_lmc_json_put_str(o, "engine_source", d->cfg.engine_source);
    kvs_lmc_json_put_str(o, "lmcache_source", d->cfg.lmcache_source);
    static const char *const eng[] = {"auto", "vllm", "sglang"};
    kvs_lmc_json_put_str(o, "expected_engine", eng[d->cfg.expected_engine >= 0 && d->cfg.expected_engine <= 2
                                                        ? d->cfg.expected_engine
                                                        : 0]);
    J *de = kvs_lmc_json_array(a);
    if (d->mode.observed_vllm)
        kvs_lmc_json_push(de, kvs_lmc_json_str(a, "vllm"));
    if (d->mode.observed_sglang)
        kvs_lmc_json_push(de, kvs_lmc_json_str(a, "sglang"));
    kvs_lmc_json_put(o, "detected_engines", de);
    kvs_lmc_json_put_str(o, "expect_lmcache_mode", expect_name(d->cfg.expect_mode));
    kvs_lmc_json_put_str(o, "detected_lmcache_mode", kvs_lmc_mode_name(d->mode.mode));
    J *cfg = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(cfg, "external_cache_configured", d->cfg.external_cache_configured);
    kvs_lmc_json_put_bool(cfg, "cpu_offload_configured", d->cfg.cpu_offload_configured);
    kvs_lmc_json_put_bool(cfg, "l2_configured", d->cfg.l2_configured);
    kvs_lmc_json_put_bool(cfg, "disaggregated_or_external_cache", d->cfg.disaggregated_or_external_cache);
    kvs_lmc_json_put_bool(cfg, "external_cache_configured_effective", d->fctx.external_cache_configured);
    kvs_lmc_json_put_bool(cfg, "l2_configured_effective", d->fctx.l2_configured);
    kvs_lmc_json_put_bool(cfg, "disaggregated_or_external_cache_effective", d->fctx.disaggregated_or_external_cache);
    kvs_lmc_json_put(o, "config", cfg);
    J *obs = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(obs, "total_series", (double)d->total_series);
    kvs_lmc_json_put_num(obs, "populated_nonzero_series", (double)d->populated_nonzero_series);
    kvs_lmc_json_put(o, "observed", obs);
    kvs_lmc_json_put(o, "kv_cache_offload", offload_json(d, a));
    J *surf = kvs_lmc_json_object(a);
    for (int s = 0; s < KVS_LMC_FS__COUNT; s++)
        kvs_lmc_json_put(surf, kvs_lmc_fsurface_name((kvs_lmc_fsurface)s), kvs_lmc__surface_json(&d->surfaces[s], a));
    kvs_lmc_json_put(o, "surfaces", surf);
    J *fam = kvs_lmc_json_array(a), *gaps = kvs_lmc_json_array(a);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < d->nrows; i++) {
            const kvs_lmc_family_row *r = &d->rows[i];
            bool engine = (r->def->flags & KVS_LMC_FAM_ENGINE) != 0;
            if (engine != (pass == 0))
                continue;
            if (engine)
                kvs_lmc_json_push(fam, kvs_lmc__row_json(r, false, a));
            if (!r->applicable || r->def->required_when == KVS_LMC_REQ_OPTIONAL ||
                r->def->required_when == KVS_LMC_REQ_SAMPLED ||
                (r->status != KVS_LMC_ST_MISSING && r->status != KVS_LMC_ST_ZERO))
                continue;
            if (r->status == KVS_LMC_ST_ZERO && (r->def->flags & KVS_LMC_FAM_ZERO_OK))
                continue;
            if (r->def->surface == KVS_LMC_FS_MP && strcmp(r->def->name, "lookup_tokens") == 0 &&
                d->mode.observed_cacheblend)
                continue;
            J *g = kvs_lmc_json_object(a);
            kvs_lmc_json_put_str(g, "surface", kvs_lmc_fsurface_name(r->def->surface));
            kvs_lmc_json_put_str(g, "family", r->def->name);
            kvs_lmc_json_put_str(g, "status", kvs_lmc_fstatus_name(r->status));
            kvs_lmc_json_put_str(g, "required_when", kvs_lmc_required_name(r->def->required_when));
            kvs_lmc_json_push(gaps, g);
        }
    kvs_lmc_json_put(o, "families", fam);
    kvs_lmc_json_put(o, "coverage_gaps", gaps);
    kvs_lmc_json_put(o, "lmcache_compat", kvs_lmc__compat_json(d, a));
    kvs_lmc_json_put_str(o, "kvscope_schema_version", "kvscope-observability-coverage/v1");
    return o;
}
