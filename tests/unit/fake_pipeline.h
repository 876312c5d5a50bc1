/* A fake receiver and a fake exporter around one component under test, for
 * tests that build a real engine graph (kvs_service_cfg_parse_with and the
 * lookup `fake_find`):
 *  - `fakein` (a receiver of every signal) keeps the traces pipeline it
 *    feeds in recv_next, so the test sends with kvs_next_consume;
 *  - `fakeout` (an exporter of every signal) adds the items it takes to
 *    `delivered`, and refuses them (KVS_E_REFUSED) while `refuse` is set;
 *  - fake_find finds those two and *fake_under_test (set it first).
 * Header-only; include after cmocka.h. */
#ifndef KVS_TEST_FAKE_PIPELINE_H
#define KVS_TEST_FAKE_PIPELINE_H

#include "core/component.h"
#include "core/engine.h"

#include <stdatomic.h>
#include <string.h>

static kvs_next *recv_next;
static atomic_int refuse;
static atomic_uint_fast64_t delivered;
static const kvs_component_def *fake_under_test;

static int fake_recv_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    recv_next = ctx->next[kvs_signal_index(KVS_SIG_TRACES)];
    *state = &recv_next;
    return 0;
}

static void fake_noop_destroy(void *state) {}

static int fake_exp_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    *state = &delivered;
    return 0;
}

static int fake_exp_consume(void *state, kvs_batch *b, kvs_error *err)
{
    if (atomic_load(&refuse))
        return kvs_errorf(err, KVS_E_REFUSED, "backend down");
    kvs_tel_add(&delivered, b->items);
    return 0;
}

static const kvs_component_def fake_recv = {
    .type = "fakein", .kind = KVS_RECEIVER, .signals = KVS_SIG_ALL,
    .create = fake_recv_create, .destroy = fake_noop_destroy,
};
static const kvs_component_def fake_exp = {
    .type = "fakeout", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL,
    .create = fake_exp_create, .consume = fake_exp_consume, .destroy = fake_noop_destroy,
};

__attribute__((unused)) static const kvs_component_def *fake_find(kvs_kind kind, const char *type, size_t len)
{
    const kvs_component_def *all[] = { &fake_recv, &fake_exp, fake_under_test };
    for (size_t i = 0; i < 3; i++)
        if (all[i] && all[i]->kind == kind && strlen(all[i]->type) == len && memcmp(all[i]->type, type, len) == 0)
            return all[i];
    return NULL;
}

/* Parses yaml with the component lookup `find` and starts an engine on it;
 * the test fails on any error. Stop with kvs_engine_shutdown, then
 * kvs_engine_destroy and kvs_service_cfg_free(*cfg). */
__attribute__((unused)) static kvs_engine *
fake_engine_start(const char *yaml, const kvs_component_def *(*find)(kvs_kind, const char *, size_t),
                  kvs_service_cfg **cfg)
{
    kvs_error err;
    kvs_component_lookup lk = { .find = find };
    *cfg = kvs_service_cfg_parse_with("test.yaml", yaml, strlen(yaml), &lk, NULL, NULL, &err);
    if (!*cfg)
        fail_msg("config: %s", err.msg);
    kvs_engine_opts o = { 0 };
    kvs_engine *e = kvs_engine_create(*cfg, &o, &err);
    if (!e)
        fail_msg("engine: %s", err.msg);
    if (kvs_engine_start(e, &err) != 0)
        fail_msg("start: %s", err.msg);
    return e;
}

#endif
