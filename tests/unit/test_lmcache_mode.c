/* Tests for lmcache/mode.h: detected_mode from metrics and from signals,
 * every architecture label with its claim_status, the peer's 13 signals,
 * the P2P / PD / controller-only candidates, the OTLP adapters feeding
 * them, and peer defect 7 (§12.2: dotted lmcache_blend.* counted as
 * embedded; lmcache_config_info{mp_mode="true"} ignored). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lmc_scenario.h"

typedef struct {
    kvs_lmc_evidence *ev;
    kvs_lmc_mode_result m;
} fx;

static void detect(fx *f) { kvs_lmc_mode_detect(f->ev, &f->m); }

static bool has_signal(const kvs_lmc_mode_result *m, const char *s)
{
    for (size_t i = 0; i < m->narch_signals; i++)
        if (strcmp(m->arch_signals[i], s) == 0)
            return true;
    return false;
}

#define C(x) KVS_LMC_CLAIM_##x

static void test_modes_from_metrics(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_UNKNOWN);
    assert_string_equal(f.m.mode_source, "none");
    assert_int_equal(f.m.mode_claim, C(NOT_PROVEN));
    lmc_put(f.ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 1, 1000, NULL);
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MP);
    assert_string_equal(f.m.mode_source, "metrics");
    assert_int_equal(f.m.mode_claim, C(MEASURED));
    lmc_put(f.ev, "lmcache:num_hit_tokens_total", KVS_LMC_COUNTER, 1, 1000, NULL);
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MIXED);
    kvs_lmc_evidence_free(f.ev);
    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "lmcache_num_hit_tokens_total", KVS_LMC_COUNTER, 1, 1000, NULL); /* underscored embedded */
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_EMBEDDED);
    kvs_lmc_evidence_free(f.ev);
    /* a name the bridge does not know is still classified by its prefix */
    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "lmcache:tier_usage", KVS_LMC_GAUGE, 1, 1000, NULL);
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_EMBEDDED);
    kvs_lmc_evidence_free(f.ev);
    assert_int_equal(kvs_lmc_mode_parse("mixed"), KVS_LMC_MODE_MIXED);
    assert_int_equal(kvs_lmc_mode_parse("auto"), -1);
}

static void test_modes_from_signals(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    kvs_lmc_http_facts h = {.engine_type = "MPCacheEngine", .healthy = 1, .endpoints = 2,
                            .l1_memory_used_bytes = NAN, .l1_total_object_count = NAN};
    kvs_lmc_evidence_set_http(f.ev, &h);
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MP);
    assert_string_equal(f.m.mode_source, "signals");
    assert_int_equal(f.m.mode_claim, C(INFERRED));
    assert_true(f.m.sig.http_mp_engine_type);
    assert_int_equal(f.m.arch, KVS_LMC_ARCH_MP_SERVER);
    assert_int_equal(f.m.arch_claim, C(INFERRED));
    kvs_lmc_evidence_free(f.ev);

    f.ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_evidence_add_scope(f.ev, "lmcache_mp.server");
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MP);
    assert_true(f.m.sig.mp_server_span_scope);
    const char *line = "INFO vLLM KV transfer config: {\"kv_connector\":\"LMCacheConnectorV1\"}";
    kvs_lmc_evidence_add_log_line(f.ev, line, strlen(line));
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MIXED);
    assert_true(f.m.sig.log_embedded_connector);
    kvs_lmc_evidence_free(f.ev);

    /* the offload-backend flag alone does not make a mode (peer: unknown) */
    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "vllm:cache_config_info", KVS_LMC_GAUGE, 1, 1000, "kv_offloading_backend", "lmcache", NULL);
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_UNKNOWN);
    assert_int_equal(f.m.arch, KVS_LMC_ARCH_VLLM_EMBEDDED);
    assert_int_equal(f.m.arch_claim, C(INFERRED));
    assert_true(f.m.sig.vllm_lmcache_offload_backend_label);
    kvs_lmc_evidence_free(f.ev);
}

static void arch_case(const char *const *series, size_t n, const char *connector, kvs_lmc_arch want,
                      kvs_lmc_claim claim)
{
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    for (size_t i = 0; i < n; i++)
        lmc_put(f.ev, series[i], KVS_LMC_GAUGE, 1, 1000, NULL);
    if (connector)
        lmc_put(f.ev, "vllm:cache_config_info", KVS_LMC_GAUGE, 1, 1000, "kv_connector", connector, NULL);
    detect(&f);
    if (f.m.arch != want || f.m.arch_claim != claim)
        fail_msg("want %s/%s got %s/%s", kvs_lmc_arch_name(want), kvs_lmc_claim_name(claim), kvs_lmc_arch_name(f.m.arch),
                 kvs_lmc_claim_name(f.m.arch_claim));
    kvs_lmc_evidence_free(f.ev);
}

static void test_every_architecture_label(void **state)
{
    (void)state;
    const char *vllm_mp[] = {"vllm:num_requests_running", "lmcache_mp_l1_memory_usage_bytes"};
    arch_case(vllm_mp, 2, "LMCacheMPConnector", KVS_LMC_ARCH_VLLM_MP, C(MEASURED));
    arch_case(vllm_mp, 2, NULL, KVS_LMC_ARCH_VLLM_MP, C(INFERRED));
    const char *vllm_only[] = {"vllm:num_requests_running"};
    arch_case(vllm_only, 1, "LMCacheMPConnector", KVS_LMC_ARCH_VLLM_MP, C(INFERRED));
    const char *vllm_emb[] = {"vllm:num_requests_running", "lmcache:retrieve_hit_rate"};
    arch_case(vllm_emb, 2, "LMCacheConnectorV1Dynamic", KVS_LMC_ARCH_VLLM_EMBEDDED, C(MEASURED));
    arch_case(vllm_only, 1, "LMCacheConnectorV1", KVS_LMC_ARCH_VLLM_EMBEDDED, C(INFERRED));
    const char *sg_mp[] = {"sglang:num_running_reqs", "lmcache_mp_l1_memory_usage_bytes"};
    arch_case(sg_mp, 2, NULL, KVS_LMC_ARCH_SGLANG_MP_CANDIDATE, C(INFERRED));
    const char *sg_emb[] = {"sglang:num_running_reqs", "lmcache:retrieve_hit_rate"};
    arch_case(sg_emb, 2, NULL, KVS_LMC_ARCH_SGLANG_EMBEDDED, C(MEASURED));
    const char *sg_enable[] = {"sglang:num_running_reqs", "sglang:lmcache_enabled"};
    arch_case(sg_enable, 2, NULL, KVS_LMC_ARCH_SGLANG_EMBEDDED, C(INFERRED));
    const char *mp[] = {"lmcache_mp_l1_memory_usage_bytes"};
    arch_case(mp, 1, NULL, KVS_LMC_ARCH_MP_SERVER, C(MEASURED));
    const char *cb[] = {"lmcache_blend_lookup_requests_total"};
    arch_case(cb, 1, NULL, KVS_LMC_ARCH_MP_SERVER, C(MEASURED));
    const char *emb[] = {"lmcache:retrieve_hit_rate"};
    arch_case(emb, 1, NULL, KVS_LMC_ARCH_EMBEDDED_UNKNOWN, C(MEASURED));
    arch_case(NULL, 0, NULL, KVS_LMC_ARCH_UNKNOWN, C(NOT_PROVEN));
    /* vLLM wins when both engines are present */
    const char *both[] = {"vllm:num_requests_running", "sglang:num_running_reqs", "lmcache_mp_l1_memory_usage_bytes"};
    arch_case(both, 3, NULL, KVS_LMC_ARCH_VLLM_MP, C(INFERRED));
    for (int a = 0; a <= KVS_LMC_ARCH_UNKNOWN; a++)
        assert_string_not_equal(kvs_lmc_arch_name((kvs_lmc_arch)a), "");
}

static void test_engine_join_proves_vllm_mp(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    lmc_put(f.ev, "vllm:num_requests_running", KVS_LMC_GAUGE, 1, 1000, NULL);
    lmc_put(f.ev, "lmcache_mp_l1_memory_usage_bytes", KVS_LMC_GAUGE, 1, 1000, NULL);
    kvs_lmc_reqobs r = {.trace_id = "0af7651916cd43dd8448eb211c80319c", .requested_tokens = 512, .hit_tokens = 256,
                        .engine_ttft_s = 0.05, .salt_observed = true};
    kvs_lmc_evidence_add_request(f.ev, &r);
    detect(&f);
    assert_int_equal(f.m.arch, KVS_LMC_ARCH_VLLM_MP);
    assert_int_equal(f.m.arch_claim, C(MEASURED));
    assert_true(has_signal(&f.m, "engine_joined_requests"));
    kvs_lmc_evidence_free(f.ev);
}

static void test_sglang_signals(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    lmc_put(f.ev, "sglang:num_running_reqs", KVS_LMC_GAUGE, 1, 1000, "cache_class", "LMCRadixCache", "connector",
            "LMCacheLayerwiseConnector", "enable_lmcache", "True", NULL);
    lmc_put(f.ev, "lmcache:num_hit_tokens_total", KVS_LMC_COUNTER, 3, 1000, NULL);
    lmc_put(f.ev, "sglang:hicache_host_used_tokens", KVS_LMC_GAUGE, 3, 1000, NULL);
    detect(&f);
    const kvs_lmc_signals *g = &f.m.sig;
    assert_true(g->sglang_metrics && g->lmcache_embedded_metrics && g->sglang_lmcache_connector_label &&
                g->sglang_enable_lmcache_label && g->sglang_lmcradix_cache_label && g->sglang_hicache_metrics);
    assert_false(g->stale_lmcache_connector_label);
    assert_int_equal(f.m.arch, KVS_LMC_ARCH_SGLANG_EMBEDDED);
    assert_true(has_signal(&f.m, "sglang_lmcradix_cache_label"));
    kvs_lmc_evidence_free(f.ev);
    /* SGLang's own LMCacheConnector is not vLLM's stale adapter */
    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "sglang:num_running_reqs", KVS_LMC_GAUGE, 1, 1000, "connector", "LMCacheConnector", NULL);
    detect(&f);
    assert_true(f.m.sig.sglang_lmcache_connector_label);
    assert_false(f.m.sig.stale_lmcache_connector_label);
    kvs_lmc_evidence_free(f.ev);
    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "vllm:cache_config_info", KVS_LMC_GAUGE, 1, 1000, "kv_connector", "LMCacheConnector", NULL);
    detect(&f);
    assert_true(f.m.sig.stale_lmcache_connector_label);
    kvs_lmc_evidence_free(f.ev);
}

static void test_candidates(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    detect(&f);
    assert_false(f.m.p2p.candidate || f.m.pd.candidate || f.m.controller_only.candidate);
    lmc_put(f.ev, "lmcache:num_p2p_requests_total", KVS_LMC_COUNTER, 4, 1000, NULL);
    detect(&f);
    assert_true(f.m.p2p.candidate);
    assert_int_equal(f.m.p2p.claim, C(MEASURED));
    kvs_lmc_evidence_free(f.ev);

    f.ev = kvs_lmc_evidence_new(NULL);
    const char *l = "LMCache config: enable_p2p=true";
    kvs_lmc_evidence_add_log_line(f.ev, l, strlen(l));
    detect(&f);
    assert_true(f.m.p2p.candidate);
    assert_int_equal(f.m.p2p.claim, C(INFERRED));
    kvs_lmc_evidence_free(f.ev);

    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "vllm:cache_config_info", KVS_LMC_GAUGE, 1, 1000, "kv_role", "kv_producer", NULL);
    detect(&f);
    assert_true(f.m.pd.candidate);
    assert_int_equal(f.m.pd.claim, C(INFERRED));
    lmc_put(f.ev, "vllm:kv_transfer_sent_bytes_total", KVS_LMC_COUNTER, 4096, 1000, NULL);
    detect(&f);
    assert_int_equal(f.m.pd.claim, C(MEASURED));
    assert_int_equal(f.m.pd.nsignals, 2);
    kvs_lmc_evidence_free(f.ev);

    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "lmcache_coordinator.key_directory.placements", KVS_LMC_GAUGE, 10, 1000, "tier", "l1", NULL);
    detect(&f);
    assert_true(f.m.controller_only.candidate);
    assert_int_equal(f.m.controller_only.claim, C(MEASURED));
    assert_int_equal(f.m.mode, KVS_LMC_MODE_UNKNOWN);
    lmc_put(f.ev, "lmcache_mp_l1_memory_usage_bytes", KVS_LMC_GAUGE, 1, 1000, NULL);
    detect(&f);
    assert_false(f.m.controller_only.candidate);
    kvs_lmc_evidence_free(f.ev);

    f.ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_evidence_add_resource_attr(f.ev, "service.name", "lmcache-mp-coordinator");
    detect(&f);
    assert_true(f.m.controller_only.candidate);
    assert_int_equal(f.m.controller_only.claim, C(INFERRED));
    kvs_lmc_evidence_free(f.ev);

    /* A live scrape names the resource after its job; the target's own
     * name stays in target_info's service_name label. */
    f.ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_evidence_add_resource_attr(f.ev, "service.name", "lmcache");
    kvs_lmc_evidence_add_resource_attr(f.ev, "service_name", "lmcache-mp-coordinator");
    detect(&f);
    assert_true(f.m.controller_only.candidate);
    kvs_lmc_evidence_free(f.ev);
}

/* §12.2 item 7: dotted lmcache_blend.* counted as embedded;
 * lmcache_config_info{mp_mode="true"} does not imply MP. */
static void test_defect_07_dotted_blend_and_config_info(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    kvs_lmc_obs o = {.name = "lmcache_blend.lookup_requests", .kind = KVS_LMC_COUNTER, .value = 7, .t_ms = 1000};
    kvs_lmc_evidence_add(f.ev, &o);
    detect(&f);
    assert_true(f.m.observed_cacheblend);
    assert_false(f.m.observed_embedded);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MP);
    assert_int_equal(f.m.arch, KVS_LMC_ARCH_MP_SERVER);
    kvs_lmc_diagnosis *d = lmc_diag(f.ev, NULL);
    assert_string_equal(lmc_status(d, "lmcache_cacheblend", "lookup"), "populated");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(f.ev);

    f.ev = kvs_lmc_evidence_new(NULL);
    lmc_put(f.ev, "lmcache_config_info", KVS_LMC_GAUGE, 1, 1000, "mp_mode", "true", NULL);
    detect(&f);
    assert_false(f.m.observed_embedded); /* configuration, not an embedded metric */
    assert_true(f.m.sig.lmcache_mp_config_label);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MP);
    assert_string_equal(f.m.mode_source, "signals");
    assert_int_equal(f.m.mode_claim, C(INFERRED));
    kvs_lmc_evidence_free(f.ev);
}

static void test_target_info_is_resource(void **state)
{
    (void)state;
    const char *text = "target_info{service_instance_id=\"mp-1\",service_name=\"lmcache-mp-server\"} 1\n"
                       "lmcache_mp_l1_memory_usage_bytes{otel_scope_name=\"lmcache.l1_manager\"} 5\n";
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    assert_int_equal(kvs_lmc_evidence_add_prom_text(f.ev, text, strlen(text), 1000, NULL), 0);
    assert_int_equal(kvs_lmc_evidence_nseries(f.ev), 1);
    assert_true(kvs_lmc_strset_has(kvs_lmc_evidence_set(f.ev, KVS_LMC_SET_SERVICE_INSTANCE), "mp-1"));
    assert_true(kvs_lmc_strset_has(kvs_lmc_evidence_set(f.ev, KVS_LMC_SET_SCOPE), "lmcache.l1_manager"));
    assert_int_equal(kvs_lmc_evidence_series(f.ev, 0)->nlabels, 0); /* scope labels moved off the series */
    detect(&f);
    assert_true(f.m.sig.mp_service_name);
    kvs_lmc_evidence_free(f.ev);
}

static void feed_otlp_file(kvs_lmc_evidence *ev, const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", lmc_src_dir(), rel);
    size_t n;
    char *text = lmc_slurp(path, &n);
    assert_non_null(text);
    lmc_scn s = {.ev = ev};
    lmc_feed_jsonl(&s, text);
    assert_int_equal(s.rejected, 0);
    free(text);
}

static void test_otlp_adapters(void **state)
{
    (void)state;
    fx f = {.ev = kvs_lmc_evidence_new(NULL)};
    feed_otlp_file(f.ev, "fixtures/otlp/lmcache_mp_traces.jsonl");
    const kvs_lmc_span_stats *sp = kvs_lmc_evidence_spans(f.ev);
    assert_int_equal(sp->spans, 196);
    assert_int_equal(sp->request_spans, 50);
    assert_int_equal(sp->timeout_spans, 2);
    assert_int_equal(sp->error_spans, 2);
    const kvs_lmc_req_stats *rs = kvs_lmc_evidence_req_stats(f.ev);
    assert_int_equal(rs->count, 50);      /* one record per request root */
    assert_int_equal(rs->store_only, 4);
    assert_int_equal(rs->with_lookup, 46);
    assert_int_equal((long)rs->requested_tokens, 352000);
    assert_int_equal((long)rs->hit_tokens, 112128);
    detect(&f);
    assert_int_equal(f.m.mode, KVS_LMC_MODE_MP); /* from the span scope */
    assert_string_equal(f.m.mode_source, "signals");
    feed_otlp_file(f.ev, "fixtures/otlp/lmcache_mp_metrics.jsonl");
    detect(&f);
    assert_string_equal(f.m.mode_source, "metrics");
    assert_true(kvs_lmc_evidence_key_nonzero(f.ev, KVS_METRIC_LMCACHE_MP_L1_READ));
    const int64_t *t;
    assert_int_equal(kvs_lmc_evidence_times(f.ev, &t), 3 + 0); /* three snapshots 15 s apart */
    feed_otlp_file(f.ev, "fixtures/otlp/logs.jsonl");
    assert_true(kvs_lmc_evidence_logs(f.ev)->lines > 0);
    kvs_lmc_evidence_free(f.ev);
}

static void test_scenario_modes(void **state)
{
    (void)state;
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    for (size_t i = 0; i < n; i++) {
        lmc_scn s;
        assert_int_equal(lmc_scn_load(names[i], &s, NULL), 0);
        kvs_lmc_mode_result m;
        kvs_lmc_mode_detect(s.ev, &m);
        yajl_val x = lmc_get(s.expected, "expect", NULL);
        const char *want = YAJL_GET_STRING(lmc_get(x, "architecture", NULL));
        const char *wmode = YAJL_GET_STRING(lmc_get(x, "detected_mode", NULL));
        assert_non_null(want);
        if (strcmp(want, kvs_lmc_arch_name(m.arch)) || strcmp(wmode, kvs_lmc_mode_name(m.mode)))
            fail_msg("%s: want %s/%s got %s/%s", names[i], wmode, want, kvs_lmc_mode_name(m.mode),
                     kvs_lmc_arch_name(m.arch));
        lmc_scn_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_from_metrics),
        cmocka_unit_test(test_modes_from_signals),
        cmocka_unit_test(test_every_architecture_label),
        cmocka_unit_test(test_engine_join_proves_vllm_mp),
        cmocka_unit_test(test_sglang_signals),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_defect_07_dotted_blend_and_config_info),
        cmocka_unit_test(test_target_info_is_resource),
        cmocka_unit_test(test_otlp_adapters),
        cmocka_unit_test(test_scenario_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
