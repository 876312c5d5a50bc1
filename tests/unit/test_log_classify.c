/* Log classification on fixtures/evidence/logs (LMCache MP server with
 * ANSI colours, vLLM with embedded LMCache, SGLang with LMCache, P2P/PD
 * excerpts, and a file of lines that substring matching would misfile):
 * categories by whole words, the peer's false positives absent, connectors
 * (LMCacheConnectorV1Dynamic recognised, the bare LMCacheConnector stale in
 * vLLM but not in SGLang), mode candidates, config hints, speed hints,
 * severity and source. */
#include "formats/log_classify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct filesum {
    size_t lines;
    size_t counts[KVS_LOGC_NCAT];
    unsigned connectors, modes;
    int stale;
    char hashseed[48];
    signed char p2p, pd, async;
    double speed;
    char unit[16];
    kvs_logc_result first, by_line[16];
} filesum;

static filesum classify_file(const char *name)
{
    char path[1024];
    const char *root = getenv("KVS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fixtures/evidence/logs/%s", root ? root : ".", name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    filesum s;
    memset(&s, 0, sizeof s);
    s.p2p = s.pd = s.async = -1;
    char line[4096], clean[4096];
    kvs_logc_source hint = kvs_logc_source_from_path(path);
    while (fgets(line, sizeof line, f)) {
        size_t n = kvs_logc_strip(line, strlen(line), clean);
        if (n == 0)
            continue;
        kvs_logc_result r;
        kvs_logc_classify(clean, n, hint, &r);
        if (s.lines < 16)
            s.by_line[s.lines] = r;
        s.lines++;
        for (int c = 0; c < KVS_LOGC_NCAT; c++)
            if (r.categories & (1u << c))
                s.counts[c]++;
        s.connectors |= r.connectors;
        s.modes |= r.modes;
        s.stale |= r.stale_connector;
        if (r.hashseed[0])
            memcpy(s.hashseed, r.hashseed, sizeof s.hashseed);
        if (r.enable_p2p >= 0)
            s.p2p = r.enable_p2p;
        if (r.enable_pd >= 0)
            s.pd = r.enable_pd;
        if (r.enable_async_loading >= 0)
            s.async = r.enable_async_loading;
        if (r.has_speed) {
            s.speed = r.speed_value;
            memcpy(s.unit, r.speed_unit, sizeof s.unit);
        }
    }
    fclose(f);
    return s;
}

static void test_mp_server_with_ansi(void **state)
{
    (void)state;
    filesum s = classify_file("lmcache_mp_server.log");
    assert_int_equal(s.lines, 8);
    assert_int_equal(s.counts[KVS_LOGC_STORE], 1);            /* not "StoreController", not "restored" */
    assert_int_equal(s.counts[KVS_LOGC_RETRIEVE], 1);
    assert_int_equal(s.counts[KVS_LOGC_PREFETCH_COMPLETE], 1);
    assert_int_equal(s.counts[KVS_LOGC_HEALTH_STARTUP], 2);
    assert_int_equal(s.modes, KVS_LOGC_MODE_MP);
    assert_int_equal(s.by_line[0].source, KVS_LOGC_SRC_LMCACHE);
    assert_int_equal(s.by_line[6].severity_number, 13);
    assert_string_equal(s.by_line[6].severity_text, "WARNING");
    assert_int_equal(s.by_line[7].severity_number, 17);
    assert_int_equal(s.by_line[3].categories, 1u << KVS_LOGC_STORE);
}

static void test_vllm_embedded(void **state)
{
    (void)state;
    filesum s = classify_file("vllm_embedded.log");
    assert_int_equal(s.counts[KVS_LOGC_STORE], 1);
    assert_int_equal(s.counts[KVS_LOGC_RETRIEVE], 1);
    assert_int_equal(s.counts[KVS_LOGC_HEALTH_STARTUP], 1);
    assert_int_equal(s.counts[KVS_LOGC_P2P_TRANSFER_SPEED], 0);   /* throughput without p2p */
    assert_true(s.connectors & KVS_LOGC_CONN_V1_DYNAMIC);
    assert_true(s.connectors & KVS_LOGC_CONN_V1);
    assert_true(s.connectors & KVS_LOGC_CONN_BARE);
    assert_true(s.stale);                                        /* the bare name in vLLM */
    assert_true(s.modes & KVS_LOGC_MODE_EMBEDDED);
    assert_false(s.modes & KVS_LOGC_MODE_MP);
    assert_string_equal(s.hashseed, "0");
    assert_int_equal(s.p2p, 0);
    assert_int_equal(s.pd, 0);
    assert_int_equal(s.async, 1);
    assert_int_equal(s.by_line[0].source, KVS_LOGC_SRC_VLLM);
    assert_int_equal(s.by_line[3].source, KVS_LOGC_SRC_LMCACHE);
    assert_int_equal(s.by_line[5].source, KVS_LOGC_SRC_VLLM);      /* "(APIServer pid=N) INFO ..." */
    /* only the V1Dynamic connector on its line, not V1 nor the bare name */
    assert_int_equal(s.by_line[2].connectors, KVS_LOGC_CONN_V1_DYNAMIC);
}

static void test_sglang(void **state)
{
    (void)state;
    filesum s = classify_file("sglang_lmcache.log");
    assert_int_equal(s.counts[KVS_LOGC_STORE], 1);
    assert_int_equal(s.counts[KVS_LOGC_RETRIEVE], 1);
    assert_int_equal(s.counts[KVS_LOGC_PD_SENDER], 0);          /* "Prefill batch" is not PD */
    assert_int_equal(s.counts[KVS_LOGC_HEALTH_STARTUP], 1);
    assert_true(s.connectors & KVS_LOGC_CONN_BARE);
    assert_false(s.stale);                                       /* SGLang's LMCacheConnector */
    assert_true(s.modes & KVS_LOGC_MODE_EMBEDDED);
    for (size_t i = 0; i < s.lines; i++)
        assert_int_equal(s.by_line[i].source, KVS_LOGC_SRC_SGLANG);
}

static void test_p2p_pd(void **state)
{
    (void)state;
    filesum s = classify_file("p2p_pd.log");
    assert_int_equal(s.counts[KVS_LOGC_P2P_TRANSFER], 2);
    assert_int_equal(s.counts[KVS_LOGC_P2P_PEER], 1);
    assert_int_equal(s.counts[KVS_LOGC_P2P_TRANSFER_FAILURE], 1);
    assert_int_equal(s.counts[KVS_LOGC_P2P_TRANSFER_SPEED], 1);
    assert_true(s.speed == 12.5);
    assert_string_equal(s.unit, "GB/s");
    assert_int_equal(s.counts[KVS_LOGC_PD_SENDER], 1);
    assert_int_equal(s.counts[KVS_LOGC_PD_RECEIVER], 1);
    assert_int_equal(s.counts[KVS_LOGC_PD_ROLE_MISMATCH], 1);
    assert_int_equal(s.counts[KVS_LOGC_PD_STALL], 2);
    assert_int_equal(s.counts[KVS_LOGC_NIXL_PROXY], 1);
    assert_int_equal(s.counts[KVS_LOGC_NIXL_REQUEST], 1);
    assert_int_equal(s.modes, KVS_LOGC_MODE_P2P | KVS_LOGC_MODE_DISAGG);
    assert_int_equal(s.p2p, 1);
    assert_int_equal(s.pd, 1);
    assert_int_equal(s.async, 0);
    assert_string_equal(s.hashseed, "42");
}

/* The peer's substring false positives and their relatives: none of these
 * lines is a store, retrieve, PD or P2P event. */
static void test_no_false_positives(void **state)
{
    (void)state;
    filesum s = classify_file("false_positives.log");
    for (int c = 0; c < KVS_LOGC_NCAT; c++)
        if (c != KVS_LOGC_HEALTH_STARTUP && s.counts[c])
            fail_msg("category %s matched %zu lines", kvs_logc_category_name(c), s.counts[c]);
    assert_int_equal(s.counts[KVS_LOGC_HEALTH_STARTUP], 1);      /* "Starting StoreController" is a startup */
    assert_int_equal(s.connectors, KVS_LOGC_CONN_V1_DYNAMIC);
    assert_false(s.stale);
    assert_int_equal(s.modes, KVS_LOGC_MODE_EMBEDDED);
}

static void check(const char *line, uint32_t want)
{
    kvs_logc_result r;
    kvs_logc_classify(line, strlen(line), KVS_LOGC_SRC_UNKNOWN, &r);
    if (r.categories != want)
        fail_msg("\"%s\": categories 0x%x, want 0x%x", line, r.categories, want);
}

static void test_word_boundaries(void **state)
{
    (void)state;
    check("LMCache stored 5 chunks", 1u << KVS_LOGC_STORE);
    check("LMCache: stores=5", 1u << KVS_LOGC_STORE);
    check("LMCache StoreController ok", 0);
    check("LMCacheEngine saved 3 chunks", 1u << KVS_LOGC_STORE);  /* CamelCase head */
    check("MyLMCacheThing saved", 0);
    check("lmcache_mp retrieved 3", 1u << KVS_LOGC_RETRIEVE);
    check("LMCache   lookup    hit for req", 1u << KVS_LOGC_RETRIEVE);
    check("LMCache lookuphit", 0);
    check("prefetching done", 1u << KVS_LOGC_PREFETCH_COMPLETE);
    check("prefetcher done", 0);
    check("p2p_backend sent 10 tokens", 1u << KVS_LOGC_P2P_TRANSFER);
    check("NIXL req=5 sent", 1u << KVS_LOGC_NIXL_REQUEST);
    check("nixlproxy up", 0);
    kvs_logc_result r;
    const char *s = "P2P peer link speed 800 MiB/s";
    kvs_logc_classify(s, strlen(s), KVS_LOGC_SRC_UNKNOWN, &r);
    assert_true(r.has_speed);
    assert_true(r.speed_value == 800);
    assert_string_equal(r.speed_unit, "MiB/s");
    s = "p2p throughput 1200 tok/s";
    kvs_logc_classify(s, strlen(s), KVS_LOGC_SRC_UNKNOWN, &r);
    assert_string_equal(r.speed_unit, "tok/s");
    assert_true(r.categories & (1u << KVS_LOGC_P2P_TRANSFER_SPEED));
}

static void test_strip_and_names(void **state)
{
    (void)state;
    const char in[] = "\x1b[1;31mERROR\x1b[0m \x1b]0;title\x07x\ty\r";
    char out[64];
    size_t n = kvs_logc_strip(in, sizeof in - 1, out);
    out[n] = 0;
    assert_string_equal(out, "ERROR x\ty");
    assert_string_equal(kvs_logc_category_name(KVS_LOGC_NCAT), "other");
    assert_string_equal(kvs_logc_category_name(KVS_LOGC_PD_ROLE_MISMATCH), "pd_role_mismatch");
    assert_string_equal(kvs_logc_mode_name(KVS_LOGC_MODE_DISAGG), "disaggregated_prefill");
    assert_string_equal(kvs_logc_connector_name(KVS_LOGC_CONN_V1_DYNAMIC), "LMCacheConnectorV1Dynamic");
    assert_int_equal(kvs_logc_source_from_path("/var/log/sglang-0.log"), KVS_LOGC_SRC_SGLANG);
    assert_int_equal(kvs_logc_source_from_path("/x/vllm/out.log"), KVS_LOGC_SRC_UNKNOWN);
    assert_int_equal(kvs_logc_source_from_path("vllm_server.log"), KVS_LOGC_SRC_VLLM);
    kvs_logc_result r;
    kvs_logc_classify("plain text", 10, KVS_LOGC_SRC_SGLANG, &r);
    assert_int_equal(r.source, KVS_LOGC_SRC_SGLANG);
    assert_int_equal(r.severity_number, 0);
    assert_null(r.severity_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_server_with_ansi),
        cmocka_unit_test(test_vllm_embedded),
        cmocka_unit_test(test_sglang),
        cmocka_unit_test(test_p2p_pd),
        cmocka_unit_test(test_no_false_positives),
        cmocka_unit_test(test_word_boundaries),
        cmocka_unit_test(test_strip_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
