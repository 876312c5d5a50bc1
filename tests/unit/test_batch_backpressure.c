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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fake_pipeline.h"
#include "unit_helpers.h"

extern const kvs_component_def kvs_processor_batch;

static const char yaml[] = "receivers: {fakein: {}}\n"
                           "processors: {batch: {send_batch_size: 10, timeout: 5ms}}\n"
                           "exporters: {fakeout: {}}\n"
                           "service:\n  telemetry: {metrics: {level: none}}\n  shutdown_timeout: 200ms\n  pipelines:\n"
                           "    traces: {receivers: [fakein], processors: [batch], exporters: [fakeout]}\n";

static kvs_engine *start(kvs_service_cfg **cfg)
{
    fake_under_test = &kvs_processor_batch;
    return fake_engine_start(yaml, fake_find, cfg);
}

static const kvs_telemetry *batch_tel(kvs_engine *e)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(e, &t);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i]->kind, "processor") == 0)
            return t[i];
    fail_msg("no processor");
    abort(); /* fail_msg does not return; tells the compiler so */
}

static int push(int n)
{
    kvs_batch *b = make_traces((size_t)n, "mp.store");
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
