/* Test helper: runs a pipeline through the real engine in process, in
 * replay mode, to its end, and sums the instances' telemetry; or checks
 * that a pipeline is refused with a given message. Shared by the engine,
 * the evidence receiver and the lmcache_correlate replay tests.
 * Header-only; include after cmocka.h. */
#ifndef KVS_TEST_REPLAY_HARNESS_H
#define KVS_TEST_REPLAY_HARNESS_H

#include "core/engine.h"
#include "core/service_config.h"

#include <stdint.h>
#include <string.h>

/* Items counted by the receivers (accepted, rejected, errors), the
 * exporters (exported) and every instance (dropped; all_errors: the
 * errors of receivers, processors and exporters alike). */
typedef struct replay_sums {
    uint64_t accepted, rejected, errors, exported, dropped, all_errors;
} replay_sums;

__attribute__((unused)) static replay_sums replay_collect(kvs_engine *e)
{
    replay_sums s = { 0 };
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(e, &t);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i]->kind, "receiver") == 0) {
            s.accepted += kvs_tel_get(&t[i]->accepted);
            s.rejected += kvs_tel_get(&t[i]->rejected);
            s.errors += kvs_tel_get(&t[i]->errors);
        }
        if (strcmp(t[i]->kind, "exporter") == 0)
            s.exported += kvs_tel_get(&t[i]->exported);
        s.dropped += kvs_tel_get(&t[i]->dropped);
        s.all_errors += kvs_tel_get(&t[i]->errors);
    }
    return s;
}

/* Called once the replayed engine has shut down, before it is destroyed
 * (to read a component's state, say). */
typedef void (*replay_hook)(kvs_engine *e, void *ctx);

/* Replays the pipeline (YAML text) to its end, resolving component types
 * with lookup (NULL: the real component table) and calling after(e, ctx)
 * when given; the test fails when the config is refused. */
__attribute__((unused)) static replay_sums replay_run_with(const char *yaml, const kvs_component_lookup *lookup,
                                                           replay_hook after, void *ctx)
{
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse_with("test.yaml", yaml, strlen(yaml), lookup, NULL, NULL, &err);
    if (!cfg)
        fail_msg("config: %s", err.msg);
    kvs_engine_opts o = { .replay = 1 };
    kvs_engine *e = kvs_engine_create(cfg, &o, &err);
    if (!e)
        fail_msg("create: %s", err.msg);
    assert_int_equal(kvs_engine_start(e, &err), 0);
    while (kvs_engine_wait(e, 0))
        ;
    kvs_engine_shutdown(e);
    if (after)
        after(e, ctx);
    replay_sums s = replay_collect(e);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    return s;
}

/* Replays the pipeline (YAML text) to its end with the real components. */
__attribute__((unused)) static replay_sums replay_run(const char *yaml)
{
    return replay_run_with(yaml, NULL, NULL, NULL);
}

/* Creation must fail with a message containing `want`. */
__attribute__((unused)) static void replay_expect_invalid(const char *yaml, const char *want)
{
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse("test.yaml", yaml, strlen(yaml), NULL, NULL, &err);
    kvs_engine *e = NULL;
    if (cfg) {
        kvs_engine_opts o = { .replay = 1 };
        e = kvs_engine_create(cfg, &o, &err);
    }
    if (e)
        fail_msg("config accepted, wanted an error with \"%s\"", want);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
}

#endif
