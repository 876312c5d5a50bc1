/* Tests for lmcache/report.h and lmcache/json_out.h: the four documents
 * are valid JSON with the peer's top-level keys (and row / surface /
 * architecture keys) plus kvscope's, keys sorted at every level, 2-space
 * indentation; output is deterministic (the same input twice, and the
 * same scrape with its families in another order, give byte-identical
 * text); the JSON writer's numbers and escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lmc_scenario.h"

static char *render(const kvs_lmc_diagnosis *d, kvs_lmc_report_kind k, size_t *len)
{
    kvs_buf b = {0};
    assert_int_equal(kvs_lmc_report_write(d, k, &b), 0);
    kvs_buf_putc(&b, '\0');
    if (len)
        *len = b.len - 1;
    return b.data;
}

static void render_all(const char *scn, char *out[KVS_LMC_REPORT__COUNT], size_t len[KVS_LMC_REPORT__COUNT])
{
    lmc_scn s;
    assert_int_equal(lmc_scn_load(scn, &s, NULL), 0);
    kvs_lmc_diagnosis *d = lmc_diag(s.ev, &s.cfg);
    for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++)
        out[k] = render(d, (kvs_lmc_report_kind)k, &len[k]);
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);
}

static void test_deterministic_twice(void **state)
{
    (void)state;
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    for (size_t i = 0; i < n; i++) {
        char *a[KVS_LMC_REPORT__COUNT], *b[KVS_LMC_REPORT__COUNT];
        size_t la[KVS_LMC_REPORT__COUNT], lb[KVS_LMC_REPORT__COUNT];
        render_all(names[i], a, la);
        render_all(names[i], b, lb);
        for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++) {
            if (la[k] != lb[k] || memcmp(a[k], b[k], la[k]) != 0)
                fail_msg("%s: %s differs between two runs", names[i], kvs_lmc_report_file((kvs_lmc_report_kind)k));
            free(a[k]);
            free(b[k]);
        }
    }
}

/* The same scrape with its families in reverse order. */
static char *reverse_families(const char *text)
{
    size_t n = strlen(text), nb = 0;
    const char *starts[1024];
    for (const char *p = text; p && *p && nb < 1024;) {
        starts[nb++] = p;
        const char *q = p;
        do { /* a block: one # HELP line and everything to the next one */
            q = strchr(q, '\n');
            q = q ? q + 1 : text + n;
        } while (*q && strncmp(q, "# HELP", 6) != 0);
        p = *q ? q : NULL;
    }
    char *out = malloc(n + 1);
    size_t o = 0;
    for (size_t i = nb; i-- > 0;) {
        const char *end = i + 1 < nb ? starts[i + 1] : text + n;
        memcpy(out + o, starts[i], (size_t)(end - starts[i]));
        o += (size_t)(end - starts[i]);
    }
    out[o] = '\0';
    return out;
}

static void test_order_independent(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/fixtures/scenarios/stale_connector/scrape-1748736000000.prom", lmc_src_dir());
    size_t n = 0;
    char *text = lmc_slurp(path, &n);
    assert_non_null(text);
    char *rev = reverse_families(text);
    assert_int_equal(strlen(rev), n);
    assert_string_not_equal(text, rev);
    kvs_lmc_evidence *e1 = kvs_lmc_evidence_new(NULL), *e2 = kvs_lmc_evidence_new(NULL);
    assert_int_equal(kvs_lmc_evidence_add_prom_text(e1, text, n, 1000, NULL), 0);
    assert_int_equal(kvs_lmc_evidence_add_prom_text(e2, rev, n, 1000, NULL), 0);
    kvs_lmc_diagnosis *d1 = lmc_diag(e1, NULL), *d2 = lmc_diag(e2, NULL);
    for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++) {
        char *a = render(d1, (kvs_lmc_report_kind)k, NULL), *b = render(d2, (kvs_lmc_report_kind)k, NULL);
        if (strcmp(a, b) != 0)
            fail_msg("%s depends on the order families were seen", kvs_lmc_report_file((kvs_lmc_report_kind)k));
        free(a);
        free(b);
    }
    kvs_lmc_diagnosis_free(d1);
    kvs_lmc_diagnosis_free(d2);
    kvs_lmc_evidence_free(e1);
    kvs_lmc_evidence_free(e2);
    free(text);
    free(rev);
}

static void require_keys(yajl_val o, const char *const *keys, const char *where)
{
    assert_true(YAJL_IS_OBJECT(o));
    for (const char *const *k = keys; *k; k++) {
        bool found = false;
        for (size_t i = 0; i < o->u.object.len && !found; i++)
            found = strcmp(o->u.object.keys[i], *k) == 0;
        if (!found)
            fail_msg("%s lacks key %s", where, *k);
    }
}

static void check_sorted(yajl_val v, const char *where)
{
    if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 1; i < v->u.object.len; i++)
            if (strcmp(v->u.object.keys[i - 1], v->u.object.keys[i]) >= 0)
                fail_msg("%s: keys not sorted at %s", where, v->u.object.keys[i]);
        for (size_t i = 0; i < v->u.object.len; i++)
            check_sorted(v->u.object.values[i], where);
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            check_sorted(v->u.array.values[i], where);
    }
}

static yajl_val parse(const char *text, const char *where)
{
    char err[256];
    yajl_val v = yajl_tree_parse(text, err, sizeof err);
    if (!v)
        fail_msg("%s is not JSON: %s", where, err);
    return v;
}

static void test_peer_schema_keys(void **state)
{
    (void)state;
    static const char *const compat[] = {
        "schema_version", "engine_source", "lmcache_source", "expect_mode", "detected_mode", "detected_architecture",
        "l2_configured", "failure_reasons", "diagnostic_findings", "upstream_questions", "observed",
        "lmcache_mp_observability", "lmcache_l2_summary", "lmcache_cacheblend_summary", "lmcache_http_evidence",
        "lmcache_log_evidence", "lmcache_trace_evidence", "lmcache_otel_evidence", "lmcache_trace_replay_evidence",
        "lmcache_lookup_hash_evidence", "lmcache_cacheblend_boundary_evidence", "surfaces", "families",
        "locked_metrics", "kvscope_schema_version", "detected_mode_source", "candidates", "time_window", NULL};
    static const char *const arch[] = {"label", "claim_status", "connector_labels", "cache_labels",
                                       "offload_backend_labels", "signals", NULL};
    static const char *const signals[] = {
        "vllm_metrics", "sglang_metrics", "lmcache_mp_metrics", "lmcache_cacheblend_metrics", "lmcache_embedded_metrics",
        "lmcache_mp_connector_label", "vllm_embedded_connector_label", "vllm_lmcache_offload_backend_label",
        "sglang_lmcache_connector_label", "sglang_enable_lmcache_label", "sglang_lmcradix_cache_label",
        "sglang_hicache_metrics", "stale_lmcache_connector_label", NULL};
    static const char *const fam[] = {"surface", "family", "patterns", "required_when", "applicable", "status",
                                      "support_level", "series_count", "populated_series_count", "matched_metrics",
                                      NULL};
    static const char *const surf[] = {"family_count", "populated", "zero", "missing", "not_applicable",
                                       "required_family_count", "required_populated", "required_zero",
                                       "required_missing", "status", NULL};
    static const char *const obs[] = {"lmcache_mp", "lmcache_cacheblend", "lmcache_embedded", "vllm", "total_series",
                                      "populated_nonzero_series", NULL};
    static const char *const mpo[] = {"config", "service_instance_ids", "service_instance_id_source",
                                      "cache_salt_values", "cache_salt_cardinality", "cache_salt_cardinality_risk",
                                      "l2_names", "adapter_indices", "event_bus_metric_names",
                                      "event_bus_taildrop_risk", "sampled_histogram_names", "sampled_histogram_sparse",
                                      NULL};
    static const char *const finding[] = {"code", "severity", "message", "metrics", "recommendation", "window",
                                          "trace_ids", NULL};
    static const char *const cov[] = {"schema_version", "engine_source", "lmcache_source", "expected_engine",
                                      "detected_engines", "expect_lmcache_mode", "detected_lmcache_mode", "config",
                                      "observed", "kv_cache_offload", "surfaces", "families", "lmcache_compat",
                                      "coverage_gaps", NULL};
    static const char *const bot[] = {"schema_version", "job_id", "verdict", "confidence", "claim_status",
                                      "evidence_paths", "metric_values", "primary_evidence", "secondary_evidence",
                                      "supporting_request_rows", "rule_fired", "reasoning", "recommended_next_probe",
                                      "downgrades", NULL};
    static const char *const fdoc[] = {"schema_version", "findings", "failure_reasons", "upstream_questions",
                                       "thresholds", "time_window", "counts", NULL};
    char *t[KVS_LMC_REPORT__COUNT];
    size_t l[KVS_LMC_REPORT__COUNT];
    render_all("mp_evidence_lanes", t, l);
    yajl_val c = parse(t[KVS_LMC_REPORT_COMPAT], "compat");
    require_keys(c, compat, "compat");
    const char *p_arch[] = {"detected_architecture", NULL}, *p_sig[] = {"detected_architecture", "signals", NULL};
    require_keys(yajl_tree_get(c, p_arch, yajl_t_object), arch, "detected_architecture");
    require_keys(yajl_tree_get(c, p_sig, yajl_t_object), signals, "signals");
    const char *p_obs[] = {"observed", NULL}, *p_mpo[] = {"lmcache_mp_observability", NULL};
    require_keys(yajl_tree_get(c, p_obs, yajl_t_object), obs, "observed");
    require_keys(yajl_tree_get(c, p_mpo, yajl_t_object), mpo, "lmcache_mp_observability");
    const char *p_fam[] = {"families", NULL}, *p_surf[] = {"surfaces", "lmcache_mp", NULL};
    yajl_val rows = yajl_tree_get(c, p_fam, yajl_t_array);
    for (size_t i = 0; i < rows->u.array.len; i++)
        require_keys(rows->u.array.values[i], fam, "family row");
    assert_int_equal(rows->u.array.len, kvs_lmc_family_count() - 17); /* every row but the engine ones */
    require_keys(yajl_tree_get(c, p_surf, yajl_t_object), surf, "surface");
    const char *p_df[] = {"diagnostic_findings", NULL};
    yajl_val fs = yajl_tree_get(c, p_df, yajl_t_array);
    assert_true(fs->u.array.len > 5);
    for (size_t i = 0; i < fs->u.array.len; i++)
        require_keys(fs->u.array.values[i], finding, "finding");
    const char *p_sv[] = {"schema_version", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(c, p_sv, yajl_t_string)), "inferguard-observability-compat/v1");
    yajl_val cv = parse(t[KVS_LMC_REPORT_COVERAGE], "coverage");
    require_keys(cv, cov, "coverage");
    yajl_val bt = parse(t[KVS_LMC_REPORT_BOTTLENECK], "bottleneck");
    require_keys(bt, bot, "bottleneck");
    yajl_val fd = parse(t[KVS_LMC_REPORT_FINDINGS], "findings");
    require_keys(fd, fdoc, "findings");
    const char *p_th[] = {"thresholds", NULL};
    assert_int_equal(yajl_tree_get(fd, p_th, yajl_t_object)->u.object.len, KVS_LMC_TH__COUNT);
    yajl_val docs[] = {c, cv, bt, fd};
    for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++) {
        check_sorted(docs[k], kvs_lmc_report_file((kvs_lmc_report_kind)k));
        assert_true(l[k] > 2 && t[k][l[k] - 1] == '\n' && t[k][0] == '{');
        assert_non_null(strstr(t[k], "\n  \"schema_version\": \""));
        yajl_tree_free(docs[k]);
        free(t[k]);
    }
}

static void test_every_scenario_renders_valid_json(void **state)
{
    (void)state;
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    for (size_t i = 0; i < n; i++) {
        char *t[KVS_LMC_REPORT__COUNT];
        size_t l[KVS_LMC_REPORT__COUNT];
        render_all(names[i], t, l);
        for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++) {
            yajl_val v = parse(t[k], names[i]);
            check_sorted(v, names[i]);
            yajl_tree_free(v);
            assert_null(strstr(t[k], "NaN"));
            assert_null(strstr(t[k], ": inf"));
            assert_null(strstr(t[k], "Infinity"));
            free(t[k]);
        }
    }
}

static void test_coverage_and_bottleneck_content(void **state)
{
    (void)state;
    char *t[KVS_LMC_REPORT__COUNT];
    size_t l[KVS_LMC_REPORT__COUNT];
    render_all("metrics_missing", t, l);
    yajl_val cv = parse(t[KVS_LMC_REPORT_COVERAGE], "coverage");
    const char *p_gaps[] = {"coverage_gaps", NULL};
    yajl_val gaps = yajl_tree_get(cv, p_gaps, yajl_t_array);
    assert_int_equal(gaps->u.array.len, 4); /* lookup_tokens, l1_counters, l1_memory, l0_lifecycle */
    const char *p_eng[] = {"detected_engines", NULL};
    yajl_val eng = yajl_tree_get(cv, p_eng, yajl_t_array);
    assert_int_equal(eng->u.array.len, 1);
    assert_string_equal(YAJL_GET_STRING(eng->u.array.values[0]), "vllm");
    yajl_val bt = parse(t[KVS_LMC_REPORT_BOTTLENECK], "bottleneck");
    const char *p_v[] = {"verdict", NULL}, *p_r[] = {"rule_fired", NULL}, *p_d[] = {"downgrades", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(bt, p_v, yajl_t_string)), "not_enough_evidence");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(bt, p_r, yajl_t_string)), "lmcache_mp_family_missing");
    assert_int_equal(yajl_tree_get(bt, p_d, yajl_t_array)->u.array.len, 1);
    yajl_tree_free(cv);
    yajl_tree_free(bt);
    for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++)
        free(t[k]);
    /* trace ids reach the findings document */
    render_all("mp_l1_pressure", t, l);
    assert_non_null(strstr(t[KVS_LMC_REPORT_FINDINGS], "\"dd41142490e23435b33d03480359a207\""));
    for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++)
        free(t[k]);
}

static char *write_doc(kvs_lmc_json *v)
{
    kvs_buf b = {0};
    kvs_lmc_json_write(v, &b);
    kvs_buf_putc(&b, '\0');
    return b.data;
}

static void test_json_writer(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_lmc_json *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(o, "b", 1);
    kvs_lmc_json_put_num(o, "a", 0.1);
    kvs_lmc_json_put_num(o, "c", NAN);
    kvs_lmc_json_put_num(o, "d", -0.0);
    kvs_lmc_json_put_num(o, "e", 1e20);
    kvs_lmc_json_put_num(o, "f", 1.5e-7);
    kvs_lmc_json_put_num(o, "g", INFINITY);
    kvs_lmc_json_put_num(o, "h", 9007199254740992.0);
    kvs_lmc_json_put_num(o, "b", 2); /* replaces */
    kvs_lmc_json_put_str(o, "s", "q\"\\\n\t\x01 \xc3\xa9 \xf0\x9f\x98\x80 \xff end");
    kvs_lmc_json_put(o, "z", kvs_lmc_json_array(a));
    kvs_lmc_json_put(o, "y", kvs_lmc_json_object(a));
    kvs_lmc_json_put_str(o, "n", NULL);
    char *s = write_doc(o);
    assert_string_equal(s, "{\n"
                           "  \"a\": 0.1,\n"
                           "  \"b\": 2,\n"
                           "  \"c\": null,\n"
                           "  \"d\": 0,\n"
                           "  \"e\": 1e+20,\n"
                           "  \"f\": 1.5e-07,\n"
                           "  \"g\": null,\n"
                           "  \"h\": 9007199254740992,\n"
                           "  \"n\": null,\n"
                           "  \"s\": \"q\\\"\\\\\\n\\t\\u0001 \\u00e9 \\ud83d\\ude00 \\ufffd end\",\n"
                           "  \"y\": {},\n"
                           "  \"z\": []\n"
                           "}\n");
    free(s);
    kvs_lmc_json *arr = kvs_lmc_json_array(a);
    kvs_lmc_json_push(arr, kvs_lmc_json_bool(a, true));
    kvs_lmc_json_push(arr, kvs_lmc_json_num(a, 1.0 / 3.0));
    s = write_doc(arr);
    assert_string_equal(s, "[\n  true,\n  0.3333333333333333\n]\n");
    free(s);
    /* a lost member is reported through the buffer */
    kvs_lmc_json *broken = kvs_lmc_json_object(a);
    kvs_lmc_json_put(broken, "x", NULL);
    kvs_buf b = {0};
    kvs_lmc_json_write(broken, &b);
    assert_true(b.oom);
    kvs_buf_free(&b);
    kvs_arena_free(a);
}

static void test_file_names(void **state)
{
    (void)state;
    assert_string_equal(kvs_lmc_report_file(KVS_LMC_REPORT_COMPAT), "lmcache_compat_report.json");
    assert_string_equal(kvs_lmc_report_file(KVS_LMC_REPORT_COVERAGE), "observability_coverage.json");
    assert_string_equal(kvs_lmc_report_file(KVS_LMC_REPORT_BOTTLENECK), "bottleneck_diagnosis.json");
    assert_string_equal(kvs_lmc_report_file(KVS_LMC_REPORT_FINDINGS), "lmcache_findings.json");
}

static void test_single_finding_json(void **state)
{
    (void)state;
    lmc_scn s;
    assert_int_equal(lmc_scn_load("embedded_p2p_remote", &s, NULL), 0);
    kvs_lmc_diagnosis *d = lmc_diag(s.ev, &s.cfg);
    const kvs_lmc_finding *f = kvs_lmc_diagnosis_finding(d, "lmcache_log_p2p_transfer_failure");
    assert_non_null(f);
    kvs_arena *a = kvs_arena_new();
    char *t = write_doc(kvs_lmc_report_finding(f, a));
    yajl_val v = parse(t, "finding");
    const char *p_es[] = {"evidence_status", NULL}, *p_cat[] = {"category", NULL}, *p_n[] = {"event_count", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_es, yajl_t_string)), "parser_only");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_cat, yajl_t_string)), "p2p_transfer_failure");
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, p_n, yajl_t_number)), 1);
    yajl_tree_free(v);
    free(t);
    kvs_arena_free(a);
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_twice),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_peer_schema_keys),
        cmocka_unit_test(test_every_scenario_renders_valid_json),
        cmocka_unit_test(test_coverage_and_bottleneck_content),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_file_names),
        cmocka_unit_test(test_single_finding_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
