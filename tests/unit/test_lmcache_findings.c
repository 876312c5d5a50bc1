/* Tests for lmcache/findings.h and diagnose.h: every scenario fixture
 * gives exactly its expected findings, failure reasons and questions;
 * every finding code fires on a fixture and none fires on the healthy
 * ones; thresholds are overridable by name; the windowed hit-rate
 * detector reads rates between scrapes; the log scanner; the bottleneck
 * choice; and peer defects 5 and 11 (plus 13 and 19) of
 * peer-inferguard.md §12.2, which must not be reproduced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lmc_scenario.h"

#include <ctype.h>

static kvs_lmc_diagnosis *scenario(const char *name, lmc_scn *s, const kvs_lmc_config *override)
{
    assert_int_equal(lmc_scn_load(name, s, NULL), 0);
    kvs_lmc_diagnosis *d = lmc_diag(s->ev, override ? override : &s->cfg);
    assert_non_null(d);
    return d;
}

static void test_scenarios_expected(void **state)
{
    (void)state;
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        lmc_scn s;
        kvs_lmc_diagnosis *d = scenario(names[i], &s, NULL);
        char msg[8192];
        if (lmc_scn_check(&s, d, msg, sizeof msg))
            fail_msg("scenario %s:\n%s", names[i], msg);
        kvs_lmc_diagnosis_free(d);
        lmc_scn_free(&s);
    }
}

static const char *const healthy[] = {"mp_healthy_l1", "embedded_vllm", "embedded_sglang"};

static void test_every_code_fires_healthy_silent(void **state)
{
    (void)state;
    const kvs_lmc_catalog_entry *cat;
    size_t ncat = kvs_lmc_finding_catalog(&cat);
    assert_true(ncat >= 45);
    int *fired = calloc(ncat, sizeof *fired);
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    for (size_t i = 0; i < n; i++) {
        lmc_scn s;
        kvs_lmc_diagnosis *d = scenario(names[i], &s, NULL);
        bool is_healthy = false;
        for (size_t h = 0; h < sizeof healthy / sizeof *healthy; h++)
            is_healthy |= strcmp(names[i], healthy[h]) == 0;
        if (is_healthy && (d->nfindings || d->nfailures || d->nquestions))
            fail_msg("healthy scenario %s has %zu findings (first %s), %zu failures, %zu questions", names[i],
                     d->nfindings, d->nfindings ? d->findings[0].code : "-", d->nfailures, d->nquestions);
        for (size_t f = 0; f < d->nfindings; f++) {
            const kvs_lmc_catalog_entry *e = kvs_lmc_catalog_find(d->findings[f].code);
            if (!e)
                fail_msg("%s emitted %s, not in the catalog", names[i], d->findings[f].code);
            fired[e - cat]++;
        }
        kvs_lmc_diagnosis_free(d);
        lmc_scn_free(&s);
    }
    for (size_t c = 0; c < ncat; c++)
        if (!fired[c])
            fail_msg("finding %s fires on no scenario fixture", cat[c].code);
    free(fired);
    /* the healthy fixtures are really there */
    for (size_t h = 0; h < sizeof healthy / sizeof *healthy; h++) {
        lmc_scn s;
        kvs_lmc_diagnosis *d = scenario(healthy[h], &s, NULL);
        assert_true(d->total_series > 20);
        kvs_lmc_diagnosis_free(d);
        lmc_scn_free(&s);
    }
}

static void test_catalog(void **state)
{
    (void)state;
    const kvs_lmc_catalog_entry *cat;
    size_t n = kvs_lmc_finding_catalog(&cat);
    for (size_t i = 0; i < n; i++) {
        assert_true(strlen(cat[i].recommendation) > 10);
        assert_true(strcmp(cat[i].origin, "peer") == 0 || strcmp(cat[i].origin, "kvscope") == 0);
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(cat[i].code, cat[j].code);
        /* every threshold a finding names exists */
        char th[256];
        snprintf(th, sizeof th, "%s", cat[i].thresholds);
        for (char *t = strtok(th, ","); t; t = strtok(NULL, ",")) {
            kvs_lmc_thresholds x;
            kvs_lmc_thresholds_default(&x);
            if (kvs_lmc_thresholds_set(&x, t, 1.0) != 0)
                fail_msg("%s names unknown threshold %s", cat[i].code, t);
        }
    }
    assert_non_null(kvs_lmc_catalog_find("lmcache_http_status_unhealthy"));
    assert_null(kvs_lmc_catalog_find("no_such_code"));
}

static void test_finding_fields(void **state)
{
    (void)state;
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    for (size_t i = 0; i < n; i++) {
        lmc_scn s;
        kvs_lmc_diagnosis *d = scenario(names[i], &s, NULL);
        for (size_t k = 0; k < d->nfindings; k++) {
            const kvs_lmc_finding *f = &d->findings[k];
            assert_true(strlen(f->message) > 5);
            assert_true(strlen(f->recommendation) > 5);
            assert_true(f->window_end_ms >= f->window_start_ms);
            assert_true(f->window_end_ms > 0);
            for (size_t t = 0; t < f->ntraces; t++) {
                assert_int_equal(strlen(f->trace_ids[t]), 32);
                for (const char *c = f->trace_ids[t]; *c; c++)
                    assert_true(isxdigit((unsigned char)*c));
            }
        }
        kvs_lmc_diagnosis_free(d);
        lmc_scn_free(&s);
    }
}

static void test_thresholds_by_name(void **state)
{
    (void)state;
    kvs_lmc_thresholds t;
    kvs_lmc_thresholds_default(&t);
    assert_true(t.v[KVS_LMC_TH_LOW_HIT_RATE] == 0.3);
    assert_true(t.v[KVS_LMC_TH_EVICTION_RATIO] == 0.2);
    assert_true(t.v[KVS_LMC_TH_L0_L1_THROUGHPUT_LOW_GBPS] == 0.1);
    for (int i = 0; i < KVS_LMC_TH__COUNT; i++)
        assert_int_equal(kvs_lmc_thresholds_set(&t, kvs_lmc_threshold_defs[i].name, 42), 0);
    assert_int_equal(kvs_lmc_thresholds_set(&t, "no_such_threshold", 1), KVS_E_INVALID);
    assert_int_equal(kvs_lmc_thresholds_set(&t, "low_hit_rate", NAN), KVS_E_INVALID);

    lmc_scn s;
    kvs_lmc_diagnosis *d = scenario("mp_healthy_l1", &s, NULL);
    assert_false(lmc_has_finding(d, "lmcache_mp_low_hit_rate"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_config c = s.cfg;
    assert_int_equal(kvs_lmc_thresholds_set(&c.thresholds, "low_hit_rate", 0.9), 0);
    d = lmc_diag(s.ev, &c);
    assert_true(lmc_has_finding(d, "lmcache_mp_low_hit_rate"));
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);

    d = scenario("mp_cache_salt", &s, NULL);
    assert_true(lmc_has_finding(d, "lmcache_mp_cache_salt_cardinality_high"));
    kvs_lmc_diagnosis_free(d);
    c = s.cfg;
    kvs_lmc_thresholds_set(&c.thresholds, "cache_salt_cardinality_max", 500);
    d = lmc_diag(s.ev, &c);
    assert_false(lmc_has_finding(d, "lmcache_mp_cache_salt_cardinality_high"));
    assert_false(d->mp_obs.cache_salt_cardinality_risk);
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);

    d = scenario("warmup_collapse", &s, NULL);
    assert_true(lmc_has_finding(d, "lmcache_mp_low_hit_rate_after_warmup"));
    kvs_lmc_diagnosis_free(d);
    c = s.cfg;
    kvs_lmc_thresholds_set(&c.thresholds, "hit_rate_collapse_ratio", 0.2);
    kvs_lmc_thresholds_set(&c.thresholds, "low_hit_rate_after_warmup", 0.1);
    d = lmc_diag(s.ev, &c);
    assert_false(lmc_has_finding(d, "lmcache_mp_low_hit_rate_after_warmup"));
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);
}

static void test_hit_rate_uses_rates_between_scrapes(void **state)
{
    (void)state;
    lmc_scn s;
    kvs_lmc_diagnosis *d = scenario("warmup_collapse", &s, NULL);
    /* the cumulative rate still looks fine: the peer's rule stays silent */
    double req = kvs_lmc_evidence_sum(s.ev, KVS_METRIC_LMCACHE_MP_LOOKUP_REQUESTED, INT64_MAX, NULL, NULL);
    double hit = kvs_lmc_evidence_sum(s.ev, KVS_METRIC_LMCACHE_MP_LOOKUP_HIT, INT64_MAX, NULL, NULL);
    assert_true(hit / req > 0.3);
    assert_false(lmc_has_finding(d, "lmcache_mp_low_hit_rate"));
    const kvs_lmc_finding *f = kvs_lmc_diagnosis_finding(d, "lmcache_mp_low_hit_rate_after_warmup");
    assert_non_null(f);
    double recent = NAN, peak = NAN;
    bool collapsed = false;
    for (size_t i = 0; i < f->nvalues; i++) {
        if (strcmp(f->values[i].key, "hit_rate_recent") == 0)
            recent = f->values[i].num;
        if (strcmp(f->values[i].key, "hit_rate_peak") == 0)
            peak = f->values[i].num;
        if (strcmp(f->values[i].key, "collapsed") == 0)
            collapsed = f->values[i].b;
    }
    assert_true(fabs(peak - 0.8) < 0.01);
    assert_true(recent < 0.4);
    assert_true(collapsed);
    assert_int_equal(f->window_end_ms - f->window_start_ms, 300000); /* the rate window */
    assert_true(f->ntraces > 0);
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);
    /* one snapshot: no rate, no windowed finding */
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "lmcache_mp_lookup_requested_tokens_total", KVS_LMC_COUNTER, 1e6, 1000, NULL);
    lmc_put(ev, "lmcache_mp_lookup_hit_tokens_total", KVS_LMC_COUNTER, 1e4, 1000, NULL);
    d = lmc_diag(ev, NULL);
    assert_false(lmc_has_finding(d, "lmcache_mp_low_hit_rate_after_warmup"));
    assert_true(lmc_has_finding(d, "lmcache_mp_low_hit_rate"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 5: unit-suffixed exporter names defeat histogram averages. */
static void test_defect_05_unit_suffixed_histograms(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    const double b[] = {0, 5, 10, 25, 50};
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = 21.8;
    /* the live packet_a spelling: two unit suffixes */
    lmc_put_hist(ev, "lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second", 1000, b, 5, v, 10);
    lmc_put_hist(ev, "lmcache_mp_l0_l1_load_throughput_GB_per_second", 1000, b, 5, v, 10);
    lmc_put(ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 10, 1000, NULL);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_string_equal(d->offload.lmcache_status, "populated");
    assert_true(fabs(d->offload.store_throughput_gbs - 21.8) < 1e-9);
    assert_string_equal(lmc_status(d, "lmcache_mp", "l0_l1_throughput"), "populated");
    assert_false(lmc_has_finding(d, "lmcache_mp_l0_l1_throughput_missing"));
    assert_false(lmc_has_finding(d, "lmcache_mp_l0_l1_throughput_low"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
    /* and the low-throughput rule can now fire on that spelling */
    ev = kvs_lmc_evidence_new(NULL);
    for (int i = 0; i < 10; i++)
        v[i] = 0.04;
    lmc_put_hist(ev, "lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second", 1000, b, 5, v, 10);
    lmc_put(ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 10, 1000, NULL);
    d = lmc_diag(ev, NULL);
    assert_true(lmc_has_finding(d, "lmcache_mp_l0_l1_throughput_low"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 11: the EventBus self-metrics question is unreachable, the
 * cache_salt cardinality risk never becomes a finding, and an event bus
 * queue size of 0 is taken as 10000. */
static void test_defect_11_eventbus_question_cardinality_queue_size(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 10, 1000, NULL);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_true(lmc_has_question(d, "lmcache_eventbus_self_metrics_missing"));
    assert_true(lmc_has_finding(d, "lmcache_mp_eventbus_taildrop_unobservable"));
    assert_true(d->mp_obs.event_bus_queue_size == 10000);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_config c;
    kvs_lmc_config_default(&c);
    c.has_event_bus_queue_size = true;
    c.event_bus_queue_size = 0; /* unbounded: nothing can be tail-dropped */
    d = lmc_diag(ev, &c);
    assert_true(d->mp_obs.event_bus_queue_size == 0);
    assert_false(d->mp_obs.event_bus_taildrop_risk);
    assert_false(lmc_has_finding(d, "lmcache_mp_eventbus_taildrop_unobservable"));
    assert_false(lmc_has_question(d, "lmcache_mp_eventbus_taildrop_risk"));
    kvs_lmc_diagnosis_free(d);
    char salt[32];
    for (int i = 0; i < 120; i++) {
        snprintf(salt, sizeof salt, "user-%d", i);
        lmc_put(ev, "lmcache_mp_lookup_requested_tokens_total", KVS_LMC_COUNTER, 10, 1000, "cache_salt", salt, NULL);
    }
    d = lmc_diag(ev, NULL);
    assert_true(d->mp_obs.cache_salt_cardinality_risk);
    assert_true(lmc_has_finding(d, "lmcache_mp_cache_salt_cardinality_high"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 13: the lookup blocker fired for any log evidence. */
static void test_defect_13_lookup_blocker_needs_lookup_evidence(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 10, 1000, NULL);
    const char *l = "INFO lmcache server started, running on 0.0.0.0:8080";
    kvs_lmc_evidence_add_log_line(ev, l, strlen(l));
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    const char *code = "lmcache_mp_lookup_tokens_prometheus_missing_with_live_lookup_evidence";
    assert_false(lmc_has_finding(d, code));
    kvs_lmc_diagnosis_free(d);
    l = "Prefetch request completed (L1+L2): 8/8 prefix hits (8 L1, 0 L2) in 1.0 ms";
    kvs_lmc_evidence_add_log_line(ev, l, strlen(l));
    d = lmc_diag(ev, NULL);
    assert_true(lmc_has_finding(d, code));
    assert_string_equal(kvs_lmc_diagnosis_finding(d, code)->evidence_status, "live_alternate_not_scoreable");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 19: a critical finding outside the priority list lost to an
 * info finding in it. */
static void test_defect_19_bottleneck_severity_first(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "sglang:hicache_host_used_tokens", KVS_LMC_GAUGE, 10, 1000, NULL);
    lmc_put(ev, "sglang:num_transfer_failed_reqs_total", KVS_LMC_COUNTER, 0, 1000, NULL);
    lmc_put(ev, "sglang:num_transfer_failed_reqs_total", KVS_LMC_COUNTER, 5, 61000, NULL);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_true(lmc_has_finding(d, "sglang_hicache_not_lmcache"));   /* info, in the peer's list */
    assert_true(lmc_has_finding(d, "sglang_kv_transfer_pressure")); /* critical, not in it */
    assert_string_equal(d->bottleneck.rule_fired, "sglang_kv_transfer_pressure");
    assert_string_equal(d->bottleneck.claim_status, "measured");
    assert_string_equal(d->bottleneck.verdict, "not_enough_evidence");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_bottleneck_engine_rules(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    for (int i = 0; i < 4; i++)
        lmc_put(ev, "vllm:kv_cache_usage_perc", KVS_LMC_GAUGE, 0.9 + 0.02 * i, 1000 * (i + 1), NULL);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_int_equal(d->nfindings, 0);
    assert_string_equal(d->bottleneck.verdict, "kv_bound");
    assert_string_equal(d->bottleneck.claim_status, "measured");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
    ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "vllm:num_requests_waiting", KVS_LMC_GAUGE, 30, 1000, NULL);
    lmc_put(ev, "vllm:num_requests_running", KVS_LMC_GAUGE, 4, 1000, NULL);
    const double b[] = {1, 2, 5, 10, 30};
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i < 90 ? 1.5 : 25;
    lmc_put_hist(ev, "vllm:e2e_request_latency_seconds", 1000, b, 5, v, 100);
    d = lmc_diag(ev, NULL);
    assert_string_equal(d->bottleneck.verdict, "queue_bound");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_logscan(void **state)
{
    (void)state;
    kvs_lmc_logline l;
    const char *s = "INFO Starting StoreController thread";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_false(l.cats & (1u << KVS_LMC_LOG_STORE)); /* the peer's false positive */
    s = "\x1b[32mINFO\x1b[0m LMCache stored 512 tokens";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_true(l.cats & (1u << KVS_LMC_LOG_STORE));
    s = "kv_connector=LMCacheConnectorV1Dynamic PYTHONHASHSEED='42'";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_string_equal(l.connector, "LMCacheConnectorV1Dynamic");
    assert_string_equal(l.hashseed, "42");
    assert_true(l.modes & KVS_LMC_LOGMODE_EMBEDDED);
    s = "P2P transfer done at 12.5 GB/s";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_true(l.cats & (1u << KVS_LMC_LOG_P2P_TRANSFER_SPEED));
    assert_true(fabs(l.speed_gbps - 12.5) < 1e-9);
    assert_string_equal(l.speed_unit, "GB/s");
    s = "enable_p2p: true, enable-pd=false";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_int_equal(l.enable_p2p, 1);
    assert_int_equal(l.enable_pd, 0);
    assert_true(l.modes & KVS_LMC_LOGMODE_P2P);
    s = "Reqid: cmpl-1, Total tokens 1024, LMCache hit tokens: 0, need to load: 0";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_true(l.cats & (1u << KVS_LMC_LOG_ZERO_HIT));
    s = "Prefetch request completed (L1+L2): 0/8 prefix hits (0 L1, 0 L2) in 1.0 ms";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_true(l.cats & (1u << KVS_LMC_LOG_ZERO_HIT));
    assert_true(l.cats & (1u << KVS_LMC_LOG_PREFETCH_COMPLETE));
    s = "remote backend redis://10.0.0.3 connection refused";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_true(l.cats & (1u << KVS_LMC_LOG_REMOTE_BACKEND_ERROR));
    s = "application request stored profile data; peer disconnected from unrelated service";
    kvs_lmc_logscan(s, strlen(s), &l);
    assert_int_equal(l.cats, 0);
    assert_int_equal(l.modes, 0);
    for (int c = 0; c < KVS_LMC_LOG__COUNT; c++)
        assert_string_not_equal(kvs_lmc_log_cat_name((kvs_lmc_log_cat)c), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios_expected),
        cmocka_unit_test(test_every_code_fires_healthy_silent),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_finding_fields),
        cmocka_unit_test(test_thresholds_by_name),
        cmocka_unit_test(test_hit_rate_uses_rates_between_scrapes),
        cmocka_unit_test(test_defect_05_unit_suffixed_histograms),
        cmocka_unit_test(test_defect_11_eventbus_question_cardinality_queue_size),
        cmocka_unit_test(test_defect_13_lookup_blocker_needs_lookup_evidence),
        cmocka_unit_test(test_defect_19_bottleneck_severity_first),
        cmocka_unit_test(test_bottleneck_engine_rules),
        cmocka_unit_test(test_logscan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
