/* LMCache MP HTTP payload parsing on fixtures/evidence/http: health words
 * and codes, nested component health of /status, L1 memory and object
 * facts, periodic threads and their health, quota, version strings kept,
 * /env redaction, garbage bodies, route names (old and new paths) and the
 * route safety guard that keeps mutating routes out of reach. */
#include "formats/lmcache_http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit_helpers.h"

static void parse_fixture(const char *rel, kvs_lmc_ep ep, int status, kvs_lmc_payload *p)
{
    char path[512];
    snprintf(path, sizeof path, "fixtures/evidence/http/%s", rel);
    size_t len;
    char *b = slurp(src(path), &len);
    assert_int_equal(kvs_lmc_parse(ep, status, b, len, p), 0);
    free(b);
}

static int64_t fint(const kvs_lmc_payload *p, const char *k)
{
    const kvs_lmc_fact *f = kvs_lmc_fact_get(p, k);
    if (!f || f->type != KVS_LMC_F_INT)
        fail_msg("no int fact %s", k);
    return f->i;
}

static const char *fstr(const kvs_lmc_payload *p, const char *k)
{
    const kvs_lmc_fact *f = kvs_lmc_fact_get(p, k);
    if (!f || f->type != KVS_LMC_F_STR)
        fail_msg("no string fact %s", k);
    return f->s;
}

static int list_has(const kvs_lmc_payload *p, const char *k, const char *item)
{
    const kvs_lmc_fact *f = kvs_lmc_fact_get(p, k);
    if (!f || f->type != KVS_LMC_F_STRLIST)
        return 0;
    for (size_t i = 0; i < f->nlist; i++)
        if (strstr(f->list[i], item))
            return 1;
    return 0;
}

static void test_healthy_status(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("healthy/status.json", KVS_LMC_EP_STATUS, 200, &p);
    assert_int_equal(p.health, KVS_LMC_HEALTHY);
    assert_true(p.is_json);
    assert_string_equal(p.json_type, "object");
    assert_string_equal(fstr(&p, "engine_type"), "MPCacheEngine");
    assert_int_equal(fint(&p, "chunk_size"), 256);
    assert_int_equal(fint(&p, "registered_gpu_ids.count"), 2);
    assert_int_equal(fint(&p, "active_sessions"), 3);
    assert_int_equal(fint(&p, "l1.memory_used_bytes"), 490733568);
    assert_int_equal(fint(&p, "l1.memory_total_bytes"), 8589934592LL);
    assert_int_equal(fint(&p, "l1.object_count"), 1917);
    assert_int_equal(fint(&p, "l1.read_locked_count"), 5);
    assert_int_equal(fint(&p, "store_controller.in_flight_task_count"), 0);
    assert_true(list_has(&p, "model_names", "Qwen/Qwen3-8B"));
    assert_null(kvs_lmc_fact_get(&p, "unhealthy_components"));
    assert_true(fint(&p, "components.with_health") >= 5);
    const kvs_lmc_fact *r = kvs_lmc_fact_get(&p, "l1.memory_usage_ratio");
    assert_non_null(r);
    assert_int_equal(r->type, KVS_LMC_F_DOUBLE);
    assert_null(p.reason);
    kvs_lmc_payload_free(&p);
}

/* Top-level is_healthy true, but a thread died and a controller is sick:
 * the payload is unhealthy and says which components. */
static void test_nested_component_health(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("unhealthy/status.json", KVS_LMC_EP_STATUS, 200, &p);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_true(list_has(&p, "unhealthy_components", "storage_manager.l1_eviction_controller: thread_alive=false"));
    assert_true(list_has(&p, "unhealthy_components", "storage_manager.prefetch_controller: is_healthy=false"));
    assert_non_null(strstr(p.reason, "l1_eviction_controller"));
    const kvs_lmc_fact *is = kvs_lmc_fact_get(&p, "is_healthy");
    assert_true(is && is->b == 1);   /* the server's own word is kept as a fact */
    kvs_lmc_payload_free(&p);
}

static void test_health_endpoints(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("healthy/health.json", KVS_LMC_EP_HEALTH, 200, &p);
    assert_int_equal(p.health, KVS_LMC_HEALTHY);
    kvs_lmc_payload_free(&p);
    parse_fixture("unhealthy/health.json", KVS_LMC_EP_HEALTH, 503, &p);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_string_equal(p.reason, "engine not initialized");
    kvs_lmc_payload_free(&p);
    parse_fixture("unhealthy/status_503.json", KVS_LMC_EP_STATUS, 503, &p);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_string_equal(p.reason, "engine not initialized");
    kvs_lmc_payload_free(&p);
    /* peer-pinned shape: healthy false + failure_reason */
    const char *b = "{\"healthy\": false, \"failure_reason\": \"periodic thread stalled\"}";
    assert_int_equal(kvs_lmc_parse(KVS_LMC_EP_HEALTH, 200, b, strlen(b), &p), 0);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_string_equal(p.reason, "periodic thread stalled");
    kvs_lmc_payload_free(&p);
    b = "{\"status\": \"degraded\"}";
    assert_int_equal(kvs_lmc_parse(KVS_LMC_EP_HEALTH, 200, b, strlen(b), &p), 0);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_non_null(strstr(p.reason, "endpoint health reported unhealthy"));
    kvs_lmc_payload_free(&p);
    b = "OK\n";
    assert_int_equal(kvs_lmc_parse(KVS_LMC_EP_HEALTH, 200, b, strlen(b), &p), 0);
    assert_int_equal(p.health, KVS_LMC_HEALTHY);
    assert_false(p.is_json);
    kvs_lmc_payload_free(&p);
}

static void test_periodic_threads(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("healthy/periodic_threads.json", KVS_LMC_EP_PERIODIC_THREADS, 200, &p);
    assert_int_equal(fint(&p, "periodic_threads.total"), 4);
    assert_int_equal(fint(&p, "periodic_threads.running"), 4);
    assert_int_equal(fint(&p, "periodic_threads.by_level.critical"), 1);
    assert_null(kvs_lmc_fact_get(&p, "periodic_threads.not_running"));
    kvs_lmc_payload_free(&p);
    parse_fixture("unhealthy/periodic_threads_health.json", KVS_LMC_EP_PERIODIC_THREADS_HEALTH, 200, &p);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_int_equal(fint(&p, "periodic_threads.unhealthy_count"), 1);
    assert_true(list_has(&p, "periodic_threads.unhealthy", "l1-eviction"));
    assert_non_null(strstr(p.reason, "l1-eviction"));
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/periodic_threads_health.json", KVS_LMC_EP_PERIODIC_THREADS_HEALTH, 200, &p);
    assert_int_equal(p.health, KVS_LMC_HEALTHY);
    kvs_lmc_payload_free(&p);
}

static void test_versions_conf_quota_threads(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("healthy/version.json", KVS_LMC_EP_VERSION, 200, &p);
    assert_string_equal(p.json_type, "string");
    assert_string_equal(fstr(&p, "version"), "0.4.2+g1a2b3c4");
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/lmc_version.txt", KVS_LMC_EP_LMC_VERSION, 200, &p);
    assert_string_equal(fstr(&p, "lmc_version"), "0.4.2");
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/commit_id.json", KVS_LMC_EP_COMMIT_ID, 200, &p);
    assert_string_equal(fstr(&p, "commit_id"), "1a2b3c4d5e6f");
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/conf.json", KVS_LMC_EP_CONF, 200, &p);
    assert_int_equal(fint(&p, "l2.adapters.count"), 1);
    assert_true(list_has(&p, "l2.adapter_types", "fs"));
    assert_true(list_has(&p, "conf.sections", "observability"));
    const kvs_lmc_fact *m = kvs_lmc_fact_get(&p, "conf.observability.enable_metrics");
    assert_true(m && m->type == KVS_LMC_F_BOOL && m->b);
    assert_int_equal(fint(&p, "conf.mp.chunk_size"), 256);
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/quota.json", KVS_LMC_EP_QUOTA, 200, &p);
    assert_int_equal(fint(&p, "quota.users"), 2);
    assert_int_equal(fint(&p, "quota.over_limit"), 1);
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/threads.txt", KVS_LMC_EP_THREADS, 200, &p);
    assert_int_equal(fint(&p, "threads.count"), 3);
    assert_int_equal(p.health, KVS_LMC_UNKNOWN);
    kvs_lmc_payload_free(&p);
    parse_fixture("healthy/root.json", KVS_LMC_EP_ROOT, 200, &p);
    assert_int_equal(p.health, KVS_LMC_HEALTHY);
    assert_string_equal(fstr(&p, "service"), "LMCache HTTP API");
    kvs_lmc_payload_free(&p);
}

static void test_env_redaction(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("healthy/env.json", KVS_LMC_EP_ENV, 200, &p);
    assert_int_equal(fint(&p, "env.count"), 9);
    assert_int_equal(fint(&p, "env.redacted_count"), 4);
    assert_true(list_has(&p, "env.vars", "LMCACHE_CHUNK_SIZE=256"));
    assert_true(list_has(&p, "env.vars", "LMCACHE_REMOTE_URL=<redacted>"));
    assert_true(list_has(&p, "env.vars", "LMCACHE_API_KEY=<redacted>"));
    assert_string_equal(fstr(&p, "env.pythonhashseed"), "0");
    /* No secret value anywhere in the facts. */
    for (size_t i = 0; i < p.nfacts; i++) {
        const kvs_lmc_fact *f = &p.facts[i];
        for (size_t j = 0; j < f->nlist; j++) {
            assert_null(strstr(f->list[j], "hunter2"));
            assert_null(strstr(f->list[j], "hf_abc"));
            assert_null(strstr(f->list[j], "not-so-secret"));
            assert_null(strstr(f->list[j], "wJalr"));
        }
        assert_true(!f->s || !strstr(f->s, "hunter2"));
    }
    kvs_lmc_payload_free(&p);
    assert_true(kvs_lmc_env_is_secret("GITHUB_TOKEN", "x"));
    assert_true(kvs_lmc_env_is_secret("db_password", ""));
    assert_true(kvs_lmc_env_is_secret("URL", "https://u:p@host/x"));
    assert_true(kvs_lmc_env_is_secret("X", "sk-abcdefghijklmnop"));
    assert_false(kvs_lmc_env_is_secret("PWD", "/home/user"));
    assert_false(kvs_lmc_env_is_secret("BYPASS_PROXY", "1"));
    assert_false(kvs_lmc_env_is_secret("URL", "https://host:8080/x"));
    assert_false(kvs_lmc_env_is_secret("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/cuda-12.4/bin"));
}

static void test_garbage(void **state)
{
    (void)state;
    kvs_lmc_payload p;
    parse_fixture("garbage.txt", KVS_LMC_EP_STATUS, 502, &p);
    assert_false(p.is_json);
    assert_int_equal(p.health, KVS_LMC_UNHEALTHY);
    assert_non_null(p.summary);
    for (const char *c = p.summary; *c; c++)
        assert_true((unsigned char)*c >= 0x20);
    kvs_lmc_payload_free(&p);
    /* Deep nesting is refused before the tree parser sees it. */
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    assert_int_equal(kvs_lmc_parse(KVS_LMC_EP_STATUS, 200, deep, sizeof deep, &p), 0);
    assert_false(p.is_json);
    kvs_lmc_payload_free(&p);
    assert_int_equal(kvs_lmc_parse(KVS_LMC_EP_STATUS, 200, NULL, 0, &p), 0);
    assert_int_equal(p.health, KVS_LMC_UNKNOWN);
    kvs_lmc_payload_free(&p);
    const char *b = "{\"is_healthy\": true}";
    assert_int_equal(kvs_lmc_parse(KVS_LMC_EP_STATUS, 404, b, strlen(b), &p), 0);
    assert_int_equal(p.health, KVS_LMC_UNKNOWN);
    kvs_lmc_payload_free(&p);
}

static void test_routes(void **state)
{
    (void)state;
    assert_string_equal(kvs_lmc_ep_path(KVS_LMC_EP_STATUS, 0), "/status");
    assert_string_equal(kvs_lmc_ep_path(KVS_LMC_EP_STATUS, 1), "/api/status");
    assert_string_equal(kvs_lmc_ep_path(KVS_LMC_EP_HEALTH, 1), "/api/healthcheck");
    assert_string_equal(kvs_lmc_ep_path(KVS_LMC_EP_QUOTA, 1), "/api/quota");
    for (int e = 0; e < KVS_LMC_EP_COUNT; e++) {
        if (e == KVS_LMC_EP_PERIODIC_THREAD)
            continue;
        assert_true(kvs_lmc_route_is_safe("GET", kvs_lmc_ep_path((kvs_lmc_ep)e, 0)));
        assert_true(kvs_lmc_route_is_safe("GET", kvs_lmc_ep_path((kvs_lmc_ep)e, 1)));
        assert_false(kvs_lmc_route_is_safe("POST", kvs_lmc_ep_path((kvs_lmc_ep)e, 0)));
    }
    assert_true(kvs_lmc_route_is_safe("GET", "/periodic-threads/l1-eviction"));
    assert_true(kvs_lmc_route_is_safe("GET", "/periodic-threads?running_only=true"));
    assert_false(kvs_lmc_route_is_safe("GET", "/periodic-threads/a/b"));
    assert_false(kvs_lmc_route_is_safe("GET", "/periodic-threads/"));
    static const char *const bad[][2] = {
        { "POST", "/clear-cache" }, { "POST", "/api/clear-cache" }, { "POST", "/metrics/reset" },
        { "PUT", "/quota/tenant-a" }, { "DELETE", "/api/quota/tenant-a" }, { "GET", "/loglevel?level=DEBUG" },
        { "GET", "/loglevel" }, { "POST", "/run_script" }, { "DELETE", "/l2" }, { "PATCH", "/config/policies" },
        { "POST", "/reconfigure/l2/fs/add" }, { "GET", "/quota/tenant-a" }, { "GET", "status" },
        { "get", "/status" }, { "GET", "/api/kv/retrieve" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kvs_lmc_route_is_safe(bad[i][0], bad[i][1]))
            fail_msg("%s %s must not be safe", bad[i][0], bad[i][1]);
    size_t n;
    const kvs_lmc_skipped *s = kvs_lmc_skipped_routes(&n);
    assert_true(n >= 6);
    int saw_clear = 0, saw_env = 0;
    for (size_t i = 0; i < n; i++) {
        saw_clear |= strstr(s[i].endpoint, "clear-cache") != NULL;
        saw_env |= strcmp(s[i].status, "sensitive_skipped") == 0;
    }
    assert_true(saw_clear && saw_env);
    kvs_lmc_ep ep;
    assert_int_equal(kvs_lmc_ep_from_name("api_status", 10, &ep), 0);
    assert_int_equal(ep, KVS_LMC_EP_STATUS);
    assert_int_equal(kvs_lmc_ep_from_name("healthcheck", 11, &ep), 0);
    assert_int_equal(ep, KVS_LMC_EP_HEALTH);
    assert_int_equal(kvs_lmc_ep_from_name("periodic-threads-health", 23, &ep), 0);
    assert_int_equal(ep, KVS_LMC_EP_PERIODIC_THREADS_HEALTH);
    assert_int_equal(kvs_lmc_ep_from_name("lmcache_http_quota", 18, &ep), 0);
    assert_int_equal(ep, KVS_LMC_EP_QUOTA);
    assert_int_equal(kvs_lmc_ep_from_name("status_503", 10, &ep), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_status),
        cmocka_unit_test(test_nested_component_health),
        cmocka_unit_test(test_health_endpoints),
        cmocka_unit_test(test_periodic_threads),
        cmocka_unit_test(test_versions_conf_quota_threads),
        cmocka_unit_test(test_env_redaction),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
