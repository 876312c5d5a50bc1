/* processors/memory_limiter inside a real engine graph (a fake receiver ->
 * memory_limiter -> a fake exporter, resolved through a test component
 * lookup), with the RSS source replaced through the test seam: data passes
 * below the soft limit, is refused (and counted) above it or when what
 * was let through since the last sample would carry it there, passes
 * again once usage falls back; config validation. */
#include "core/clock.h"
#include "core/engine.h"
#include "core/service_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fake_pipeline.h"

/* The seam exported by processors/memory_limiter.c for tests. */
void kvs_memory_limiter_set_rss_source(void *state, uint64_t (*fn)(void *arg), void *arg);
extern const kvs_component_def kvs_processor_memory_limiter;

#define MIB ((uint64_t)1 << 20)

static void *limiter_state;       /* the memory_limiter instance */
static kvs_component_def limiter; /* memory_limiter, with create wrapped to catch its state */

static int limiter_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    int rc = kvs_processor_memory_limiter.create(ctx, state, err);
    if (rc == 0)
        limiter_state = *state;
    return rc;
}

static atomic_uint_fast64_t fake_rss;
static uint64_t rss_source(void *arg) { return kvs_tel_get(arg); }
static void set_rss(uint64_t v)
{
    atomic_store(&fake_rss, v);
    kvs_memory_limiter_set_rss_source(limiter_state, rss_source, &fake_rss); /* checks at once */
}

typedef struct graph {
    kvs_service_cfg *cfg;
    kvs_engine *e;
} graph;

static int build(graph *g, const char *limiter_cfg, kvs_error *err)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  fakein:\nprocessors:\n  memory_limiter:\n%s"
             "exporters:\n  fakeout:\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
             "    traces: {receivers: [fakein], processors: [memory_limiter], exporters: [fakeout]}\n",
             limiter_cfg);
    limiter = kvs_processor_memory_limiter;
    limiter.create = limiter_create;
    limiter_state = NULL;
    recv_next = NULL;
    fake_under_test = &limiter;
    kvs_component_lookup lk = { fake_find, NULL };
    g->e = NULL;
    g->cfg = kvs_service_cfg_parse_with("test.yaml", yaml, strlen(yaml), &lk, NULL, NULL, err);
    if (!g->cfg)
        return -1;
    g->e = kvs_engine_create(g->cfg, NULL, err);
    return g->e ? 0 : -1;
}

static void teardown_graph(graph *g)
{
    kvs_engine_destroy(g->e);
    kvs_service_cfg_free(g->cfg);
}

static const kvs_telemetry *limiter_tel(graph *g)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(g->e, &t);
    for (size_t i = 0; i < n; i++)
        if (strncmp(t[i]->id, "memory_limiter", 14) == 0)
            return t[i];
    fail_msg("no memory_limiter telemetry");
    return NULL;
}

static int send_batch(size_t items, kvs_error *err)
{
    kvs_batch *b = kvs_batch_new(KVS_SIG_TRACES);
    assert_non_null(b);
    b->items = items;
    int rc = kvs_next_consume(recv_next, b, err);
    kvs_batch_unref(b);
    return rc;
}

static void test_refuses_above_soft_limit(void **st)
{
    graph g;
    kvs_error err = { 0 };
    if (build(&g, "    check_interval: 1h\n    limit_mib: 100\n    spike_limit_mib: 20\n", &err) != 0)
        fail_msg("%s", err.msg);
    assert_non_null(limiter_state);
    assert_non_null(recv_next);
    atomic_store(&delivered, 0);
    atomic_store(&fake_rss, 0);
    kvs_memory_limiter_set_rss_source(limiter_state, rss_source, &fake_rss);
    assert_int_equal(kvs_engine_start(g.e, &err), 0);
    const kvs_telemetry *tel = limiter_tel(&g);

    set_rss(50 * MIB);
    assert_int_equal(send_batch(5, &err), 0);
    assert_int_equal(kvs_tel_get(&delivered), 5);

    set_rss(81 * MIB); /* soft limit is 100 - 20 = 80 MiB */
    assert_int_equal(send_batch(3, &err), KVS_E_REFUSED);
    assert_non_null(strstr(err.msg, "soft limit"));
    assert_int_equal(kvs_tel_get(&delivered), 5);
    assert_int_equal(kvs_tel_get(&tel->refused), 3);

    set_rss(150 * MIB); /* above the hard limit: trims, still refuses */
    assert_int_equal(send_batch(2, &err), KVS_E_REFUSED);
    assert_int_equal(kvs_tel_get(&tel->refused), 5);

    set_rss(79 * MIB);
    assert_int_equal(send_batch(4, &err), 0);
    assert_int_equal(kvs_tel_get(&delivered), 9);
    assert_int_equal(kvs_tel_get(&tel->dropped), 0);
    kvs_engine_shutdown(g.e);
    teardown_graph(&g);
}

/* A batch holding about `kib` KiB of memory. */
static int send_sized(size_t kib, kvs_error *err)
{
    kvs_batch *b = kvs_batch_new(KVS_SIG_TRACES);
    assert_non_null(kvs_arena_alloc(b->arena, kib << 10));
    b->items = 1;
    int rc = kvs_next_consume(recv_next, b, err);
    kvs_batch_unref(b);
    return rc;
}

static void test_admitted_bytes_count_between_checks(void **st)
{
    graph g;
    kvs_error err = { 0 };
    if (build(&g, "    check_interval: 1h\n    limit_mib: 100\n    spike_limit_mib: 20\n", &err) != 0)
        fail_msg("%s", err.msg);
    atomic_store(&delivered, 0);
    atomic_store(&fake_rss, 79 * MIB); /* 1 MiB under the soft limit */
    kvs_memory_limiter_set_rss_source(limiter_state, rss_source, &fake_rss);
    assert_int_equal(kvs_engine_start(g.e, &err), 0);
    /* No check runs in between (1h): the fourth batch of ~314 KiB (250 KiB
     * and a 64 KiB arena block) would carry usage past 80 MiB, so it is
     * refused on the bytes let through. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(send_sized(250, &err), 0);
    assert_int_equal(send_sized(250, &err), KVS_E_REFUSED);
    assert_non_null(strstr(err.msg, "let through since it was measured"));
    assert_int_equal(kvs_tel_get(&delivered), 3);
    set_rss(79 * MIB); /* a new sample includes them: the count starts over */
    assert_int_equal(send_sized(250, &err), 0);
    assert_int_equal(kvs_tel_get(&delivered), 4);
    kvs_engine_shutdown(g.e);
    teardown_graph(&g);
}

static void test_default_spike_and_checker_thread(void **st)
{
    graph g;
    kvs_error err = { 0 };
    if (build(&g, "    check_interval: 1ms\n    limit_mib: 100\n", &err) != 0)
        fail_msg("%s", err.msg);
    atomic_store(&delivered, 0);
    atomic_store(&fake_rss, 81 * MIB); /* default spike 20% -> soft limit 80 MiB */
    kvs_memory_limiter_set_rss_source(limiter_state, rss_source, &fake_rss);
    assert_int_equal(kvs_engine_start(g.e, &err), 0);
    assert_int_equal(send_batch(1, &err), KVS_E_REFUSED);
    /* The checker thread notices the drop by itself (bounded wait). */
    atomic_store(&fake_rss, 10 * MIB);
    uint64_t end = kvs_now_ns() + 5 * KVS_SEC;
    int rc;
    while ((rc = send_batch(1, &err)) != 0 && kvs_now_ns() < end) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(kvs_tel_get(&delivered), 1);
    kvs_engine_shutdown(g.e);
    teardown_graph(&g);
}

static void test_percentage_limits(void **st)
{
    graph g;
    kvs_error err = { 0 };
    if (build(&g, "    limit_percentage: 50\n    spike_limit_percentage: 10\n", &err) != 0)
        fail_msg("%s", err.msg);
    atomic_store(&delivered, 0);
    atomic_store(&fake_rss, 0);
    kvs_memory_limiter_set_rss_source(limiter_state, rss_source, &fake_rss);
    assert_int_equal(kvs_engine_start(g.e, &err), 0);
    assert_int_equal(send_batch(1, &err), 0);
    set_rss(UINT64_MAX / 2); /* more than half of any machine */
    assert_int_equal(send_batch(1, &err), KVS_E_REFUSED);
    kvs_engine_shutdown(g.e);
    teardown_graph(&g);
}

static void expect_invalid(const char *cfg, const char *needle)
{
    graph g;
    kvs_error err = { 0 };
    assert_int_not_equal(build(&g, cfg, &err), 0);
    if (!strstr(err.msg, needle))
        fail_msg("expected \"%s\" in: %s", needle, err.msg);
    if (g.cfg)
        kvs_service_cfg_free(g.cfg);
}

static void test_config_errors(void **st)
{
    expect_invalid("    check_interval: 1s\n", "limit_mib or limit_percentage");
    expect_invalid("    check_interval: 0s\n    limit_mib: 10\n", "check_interval");
    expect_invalid("    limit_mib: 10\n    spike_limit_mib: 10\n", "smaller than limit_mib");
    expect_invalid("    limit_mib: 10\n    limit_percentage: 10\n", "not both");
    expect_invalid("    limit_percentage: 50\n    spike_limit_mib: 10\n", "spike_limit_percentage");
    expect_invalid("    limit_percentage: 120\n", "limit_percentage");
    expect_invalid("    limit_mib: 10\n    limit_mb: 10\n", "limit_mb");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_above_soft_limit),
        cmocka_unit_test(test_admitted_bytes_count_between_checks),
        cmocka_unit_test(test_default_spike_and_checker_thread),
        cmocka_unit_test(test_percentage_limits),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
