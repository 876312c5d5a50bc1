/* Batches in wire form (core/batch.h): decoded once and only when needed,
 * by the engine for components that do not take wire form; the batch
 * processor merges them as concatenated bytes (and decodes only to split
 * one larger than send_batch_max_size); kvs_batch_writable drops the bytes
 * so a changed request is never sent as its stale original. */
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

static void decode_once_then_messages(void **st)
{
    (void)st;
    kvs_batch *b = make_traces_wire(5, "mp.store");
    assert_false(kvs_batch_decoded(b));
    assert_null(b->arena);
    assert_int_equal(kvs_batch_bytes(b), b->wire_len);
    kvs_error err;
    assert_int_equal(kvs_batch_decode(b, &err), 0);
    assert_true(kvs_batch_decoded(b));
    const kvs_traces_req *t = b->traces;
    assert_int_equal(kvs_count_items(KVS_SIG_TRACES, b->msg), 5);
    assert_int_equal(kvs_batch_decode(b, &err), 0);
    assert_ptr_equal(b->traces, t);              /* decoded once */
    assert_non_null(b->wire);                    /* the bytes still match */
    assert_true(kvs_batch_bytes(b) > b->wire_len);

    kvs_batch *c = kvs_batch_clone(b);           /* a clone of the bytes */
    assert_false(kvs_batch_decoded(c));
    assert_int_equal(c->wire_len, b->wire_len);
    assert_memory_equal(c->wire, b->wire, b->wire_len);
    assert_int_equal(c->items, 5);
    kvs_batch_unref(c);

    kvs_batch *w = kvs_batch_writable(b);        /* exclusive: the same batch, without bytes */
    assert_ptr_equal(w, b);
    assert_null(w->wire);
    assert_string_equal(w->traces->resource_spans[0]->scope_spans[0]->spans[4]->name, "mp.store");
    kvs_batch_unref(w);
}

static void shared_writable_copies(void **st)
{
    (void)st;
    kvs_batch *b = make_traces_wire(3, "request");
    kvs_batch *other = kvs_batch_ref(b);
    kvs_batch *w = kvs_batch_writable(b);        /* shared: a decoded private copy */
    assert_ptr_not_equal(w, other);
    assert_null(w->wire);
    assert_true(kvs_batch_decoded(w));
    assert_int_equal(w->items, 3);
    assert_non_null(other->wire);                /* the original keeps its bytes */
    kvs_batch_unref(w);
    kvs_batch_unref(other);
}

static void undecodable_bytes_are_an_error(void **st)
{
    (void)st;
    uint8_t *p = malloc(2);
    p[0] = 0x0a, p[1] = 0x05;                    /* a length past the end */
    kvs_batch *b = kvs_batch_adopt_wire(KVS_SIG_TRACES, p, 2, 1);
    kvs_error err;
    assert_int_equal(kvs_batch_decode(b, &err), KVS_E_INVALID);
    assert_non_null(strstr(err.msg, "cannot decode"));
    assert_false(kvs_batch_decoded(b));
    assert_null(kvs_batch_writable(b));
    kvs_batch_unref(b);
}

/* ---- through an engine ---- */

/* Records what reached it: requests, how many in wire form, their bytes. */
static atomic_uint_fast64_t seen_requests, seen_wire, seen_items;
static uint8_t seen_bytes[1 << 16];
static size_t seen_len;

static int rec_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    *state = &seen_requests;
    return 0;
}

static int rec_consume(void *state, kvs_batch *b, kvs_error *err)
{
    kvs_tel_add(&seen_requests, 1);
    kvs_tel_add(&seen_items, b->items);
    if (!kvs_batch_decoded(b)) {
        kvs_tel_add(&seen_wire, 1);
        if (seen_len + b->wire_len <= sizeof seen_bytes) {
            memcpy(seen_bytes + seen_len, b->wire, b->wire_len);
            seen_len += b->wire_len;
        }
    } else if (kvs_count_items(b->signal, b->msg) != b->items) {
        return kvs_errorf(err, KVS_E_INVALID, "items do not match the messages");
    }
    return 0;
}

static const kvs_component_def wire_rec = {
    .type = "wirerec", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL, .wire = 1,
    .create = rec_create, .consume = rec_consume, .destroy = fake_noop_destroy,
};

static const kvs_component_def *find(kvs_kind kind, const char *type, size_t len)
{
    const kvs_component_def *all[] = { &fake_recv, &fake_exp, &wire_rec, &kvs_processor_batch };
    for (size_t i = 0; i < 4; i++)
        if (all[i]->kind == kind && strlen(all[i]->type) == len && memcmp(all[i]->type, type, len) == 0)
            return all[i];
    return NULL;
}

static kvs_engine *start(const char *yaml, kvs_service_cfg **cfg)
{
    kvs_engine *e = fake_engine_start(yaml, find, cfg);
    atomic_store(&seen_requests, 0);
    atomic_store(&seen_wire, 0);
    atomic_store(&seen_items, 0);
    atomic_store(&delivered, 0);
    seen_len = 0;
    return e;
}

static void stop(kvs_engine *e, kvs_service_cfg *cfg)
{
    kvs_engine_shutdown(e);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
}

static int push(kvs_batch *b)
{
    kvs_error err;
    int rc = kvs_next_consume(recv_next, b, &err);
    kvs_batch_unref(b);
    return rc;
}

static void engine_decodes_for_message_consumers(void **st)
{
    (void)st;
    static const char yaml[] = "receivers: {fakein: {}}\nexporters: {fakeout: {}, wirerec: {}}\n"
                               "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
                               "    traces: {receivers: [fakein], exporters: [wirerec, fakeout]}\n";
    kvs_service_cfg *cfg;
    kvs_engine *e = start(yaml, &cfg);
    assert_int_equal(push(make_traces_wire(4, "request")), 0);
    /* wirerec saw the bytes; fakeout (no .wire) got the decoded request. */
    assert_int_equal(atomic_load(&seen_wire), 1);
    assert_int_equal(atomic_load(&delivered), 4);
    /* Bytes protobuf-c refuses: a permanent error for the sender. */
    uint8_t *bad = malloc(2);
    bad[0] = 0x0a, bad[1] = 0x05;
    kvs_error err;
    kvs_batch *b = kvs_batch_adopt_wire(KVS_SIG_TRACES, bad, 2, 1);
    assert_int_equal(kvs_next_consume(recv_next, b, &err), KVS_E_INVALID);
    assert_non_null(strstr(err.msg, "cannot decode"));
    kvs_batch_unref(b);
    stop(e, cfg);
}

static void batch_concatenates_wire_requests(void **st)
{
    (void)st;
    static const char yaml[] = "receivers: {fakein: {}}\n"
                               "processors: {batch: {send_batch_size: 10, timeout: 1s}}\n"
                               "exporters: {wirerec: {}}\n"
                               "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
                               "    traces: {receivers: [fakein], processors: [batch], exporters: [wirerec]}\n";
    kvs_service_cfg *cfg;
    kvs_engine *e = start(yaml, &cfg);
    uint8_t want[1 << 16];
    size_t wn = 0;
    for (int i = 0; i < 3; i++) {
        kvs_batch *b = make_traces_wire(4, i == 1 ? "mp.retrieve" : "mp.store");
        memcpy(want + wn, b->wire, b->wire_len);
        wn += b->wire_len;
        assert_int_equal(push(b), 0);
    }
    /* 12 >= 10: sent at once as one request, the three byte strings joined. */
    assert_int_equal(wait_counter(&seen_items, 12), 12);
    assert_int_equal(atomic_load(&seen_requests), 1);
    assert_int_equal(atomic_load(&seen_wire), 1);
    assert_int_equal(seen_len, wn);
    assert_memory_equal(seen_bytes, want, wn);
    kvs_arena *a = kvs_arena_new();
    ProtobufCMessage *m = protobuf_c_message_unpack(kvs_request_descriptor(KVS_SIG_TRACES), kvs_arena_allocator(a),
                                                    seen_len, seen_bytes);
    assert_non_null(m);
    assert_int_equal(kvs_count_items(KVS_SIG_TRACES, m), 12);
    assert_int_equal(((kvs_traces_req *)m)->n_resource_spans, 3);
    kvs_arena_free(a);
    stop(e, cfg);
}

static void batch_max_size_splits_wire_requests(void **st)
{
    (void)st;
    static const char yaml[] = "receivers: {fakein: {}}\n"
                               "processors: {batch: {send_batch_size: 10, send_batch_max_size: 10, timeout: 1s}}\n"
                               "exporters: {wirerec: {}}\n"
                               "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
                               "    traces: {receivers: [fakein], processors: [batch], exporters: [wirerec]}\n";
    kvs_service_cfg *cfg;
    kvs_engine *e = start(yaml, &cfg);
    /* 4 + 4 + 4: the first two travel together as bytes, the third alone. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(push(make_traces_wire(4, "mp.store")), 0);
    assert_int_equal(wait_counter(&seen_items, 12), 12);
    assert_int_equal(atomic_load(&seen_requests), 2);
    assert_int_equal(atomic_load(&seen_wire), 2);
    /* 25 alone is over the maximum: decoded and cut into 10 + 10 + 5. */
    assert_int_equal(push(make_traces_wire(25, "request")), 0);
    assert_int_equal(wait_counter(&seen_items, 37), 37);
    assert_int_equal(atomic_load(&seen_requests), 5);
    assert_int_equal(atomic_load(&seen_wire), 2);
    stop(e, cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_once_then_messages),
        cmocka_unit_test(shared_writable_copies),
        cmocka_unit_test(undecodable_bytes_are_an_error),
        cmocka_unit_test(engine_decodes_for_message_consumers),
        cmocka_unit_test(batch_concatenates_wire_requests),
        cmocka_unit_test(batch_max_size_splits_wire_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
