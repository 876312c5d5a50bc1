/* The batch processor under a refusing next stage: the refused request is
 * held and retried, new input is refused (backpressure reaches the
 * receiver), nothing is lost once the next stage accepts again, and what is
 * still refused at the shutdown deadline is counted as lost, not dropped
 * silently. */
#include "core/engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

extern const kvs_component_def kvs_processor_batch;

static kvs_next *recv_next;
static atomic_int refuse;
static atomic_uint_fast64_t delivered;

static int fake_recv_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    recv_next = ctx->next[kvs_signal_index(KVS_SIG_TRACES)];
    *state = &recv_next;
    return 0;
}
static void noop_destroy(void *state) {}
static int fake_exp_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    *state = &delivered;
    return 0;
}
static int fake_exp_consume(void *state, kvs_batch *b, kvs_error *err)
{
    if (atomic_load(&refuse))
        return kvs_errorf(err, KVS_E_REFUSED, "backend down");
    atomic_fetch_add(&delivered, b->items);
    return 0;
}

static const kvs_component_def fake_recv = {
    .type = "fakein", .kind = KVS_RECEIVER, .signals = KVS_SIG_ALL,
    .create = fake_recv_create, .destroy = noop_destroy,
};
static const kvs_component_def fake_exp = {
    .type = "fakeout", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL,
    .create = fake_exp_create, .consume = fake_exp_consume, .destroy = noop_destroy,
};

static const kvs_component_def *find(kvs_kind kind, const char *type, size_t len)
{
    const kvs_component_def *all[] = { &fake_recv, &fake_exp, &kvs_processor_batch };
    for (size_t i = 0; i < 3; i++)
        if (all[i]->kind == kind && strlen(all[i]->type) == len && memcmp(all[i]->type, type, len) == 0)
            return all[i];
    return NULL;
}

static kvs_batch *spans(int n)
{
    kvs_batch *b = kvs_batch_new(KVS_SIG_TRACES);
    kvs_arena *a = b->arena;
    kvs_resource_spans *rs = kvs_arena_alloc(a, sizeof *rs);
    kvs_scope_spans *ss = kvs_arena_alloc(a, sizeof *ss);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->spans = kvs_arena_alloc(a, sizeof *ss->spans * (size_t)n);
    for (int i = 0; i < n; i++) {
        ss->spans[i] = kvs_arena_alloc(a, sizeof(kvs_span));
        opentelemetry__proto__trace__v1__span__init(ss->spans[i]);
        ss->spans[i]->name = "mp.store";
    }
    ss->n_spans = (size_t)n;
    rs->scope_spans = kvs_arena_alloc(a, sizeof *rs->scope_spans);
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    b->traces->resource_spans = kvs_arena_alloc(a, sizeof *b->traces->resource_spans);
    b->traces->resource_spans[0] = rs;
    b->traces->n_resource_spans = 1;
    kvs_batch_recount(b);
    return b;
}

static const char yaml[] = "receivers: {fakein: {}}\n"
                           "processors: {batch: {send_batch_size: 10, timeout: 5ms}}\n"
                           "exporters: {fakeout: {}}\n"
                           "service:\n  shutdown_timeout: 200ms\n  pipelines:\n"
                           "    traces: {receivers: [fakein], processors: [batch], exporters: [fakeout]}\n";

static kvs_engine *start(kvs_service_cfg **cfg)
{
    kvs_error err;
    kvs_component_lookup lk = { .find = find };
    *cfg = kvs_service_cfg_parse_with("bp.yaml", yaml, strlen(yaml), &lk, NULL, NULL, &err);
    if (!*cfg)
        fail_msg("config: %s", err.msg);
    kvs_engine_opts o = { 0 };
    kvs_engine *e = kvs_engine_create(*cfg, &o, &err);
    assert_non_null(e);
    assert_int_equal(kvs_engine_start(e, &err), 0);
    return e;
}

static const kvs_telemetry *batch_tel(kvs_engine *e)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(e, &t);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i]->kind, "processor") == 0)
            return t[i];
    fail_msg("no processor");
    return NULL;
}

static int push(int n)
{
    kvs_batch *b = spans(n);
    kvs_error err;
    int rc = kvs_next_consume(recv_next, b, &err);
    kvs_batch_unref(b);
    return rc;
}

/* Waits (at most 5 s) for `delivered` to reach want. */
static void wait_delivered(uint64_t want)
{
    for (int i = 0; i < 500 && atomic_load(&delivered) < want; i++)
        nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    assert_int_equal(atomic_load(&delivered), want);
}

static void refused_then_recovers_without_loss(void **st)
{
    (void)st;
    atomic_store(&delivered, 0);
    atomic_store(&refuse, 1);
    kvs_service_cfg *cfg;
    kvs_engine *e = start(&cfg);
    assert_int_equal(push(10), 0);             /* accepted; sent at once; refused downstream: held */
    assert_int_equal(push(7), KVS_E_REFUSED);  /* backpressure reaches the sender */
    atomic_store(&refuse, 0);
    wait_delivered(10);                        /* the held request went through on retry */
    assert_int_equal(push(7), 0);              /* accepted again */
    kvs_engine_shutdown(e);
    assert_int_equal(atomic_load(&delivered), 17);
    const kvs_telemetry *t = batch_tel(e);
    assert_int_equal(kvs_tel_get(&t->refused), 7);
    assert_int_equal(kvs_tel_get(&t->dropped), 0);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
}

static void still_refused_at_deadline_is_counted(void **st)
{
    (void)st;
    atomic_store(&delivered, 0);
    atomic_store(&refuse, 1);
    kvs_service_cfg *cfg;
    kvs_engine *e = start(&cfg);
    assert_int_equal(push(10), 0);
    kvs_engine_shutdown(e);                     /* shutdown_timeout 200ms */
    const kvs_telemetry *t = batch_tel(e);
    assert_int_equal(kvs_tel_get(&t->dropped), 10);
    assert_string_equal(t->reasons[0].reason, "shutdown_timeout");
    assert_int_equal(atomic_load(&delivered), 0);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_then_recovers_without_loss),
        cmocka_unit_test(still_refused_at_deadline_is_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
