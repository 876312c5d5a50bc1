/* The engine end to end, in process: otlpjsonfile -> [batch] -> file in
 * replay mode over the fixtures. Round trip: replaying a fixture and then
 * replaying the output gives the same OTLP messages (compared decoded, by
 * their protobuf encoding, not as text). Malformed lines are counted and the
 * good lines around them arrive. The batch processor keeps every item and
 * respects send_batch_max_size. */
#include "core/engine.h"
#include "formats/otlp_json.h"

#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "replay_harness.h"
#include "unit_helpers.h"

static char tmpdir[256];

static char *pipeline_yaml(const char *in, const char *out, const char *batch)
{
    static char y[4096];
    snprintf(y, sizeof y,
             "receivers:\n  otlpjsonfile:\n    include: [\"%s\"]\n"
             "processors:\n  batch:\n%s"
             "exporters:\n  file:\n    path: \"%s\"\n"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [otlpjsonfile], processors: [%s], exporters: [file]}\n"
             "    metrics: {receivers: [otlpjsonfile], processors: [%s], exporters: [file]}\n"
             "    logs: {receivers: [otlpjsonfile], processors: [%s], exporters: [file]}\n",
             in, batch ? batch : "    timeout: 1ms\n", out, batch ? "batch" : "", batch ? "batch" : "",
             batch ? "batch" : "");
    return y;
}

/* Decoded documents of a file, each signal's request packed to bytes. */
typedef struct packed {
    size_t n;
    struct { int sig; size_t len; unsigned char *data; } *v;
    size_t items;
} packed;

static void add_packed(packed *p, kvs_signal sig, const ProtobufCMessage *m)
{
    p->v = realloc(p->v, (p->n + 1) * sizeof *p->v);
    size_t len = protobuf_c_message_get_packed_size(m);
    p->v[p->n].sig = sig;
    p->v[p->n].len = len;
    p->v[p->n].data = malloc(len ? len : 1);
    protobuf_c_message_pack(m, p->v[p->n].data);
    p->items += kvs_count_items(sig, m);
    p->n++;
}

static void add_doc(packed *p, const char *text, size_t len)
{
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc d = { 0 };
    kvs_json_error je;
    if (kvs_otlp_json_decode(text, len, a, &d, &je) == 0) {
        if (d.traces)
            add_packed(p, KVS_SIG_TRACES, &d.traces->base);
        if (d.metrics)
            add_packed(p, KVS_SIG_METRICS, &d.metrics->base);
        if (d.logs)
            add_packed(p, KVS_SIG_LOGS, &d.logs->base);
    }
    kvs_arena_free(a);
}

static packed decode_file(const char *path, int whole)
{
    packed p = { 0 };
    size_t len;
    char *b = slurp(path, &len);
    if (whole) {
        add_doc(&p, b, len);
    } else {
        char *s = b, *end = b + len;
        while (s < end) {
            char *nl = memchr(s, '\n', (size_t)(end - s));
            size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
            if (n)
                add_doc(&p, s, n);
            s += n + 1;
        }
    }
    free(b);
    return p;
}

static void packed_free(packed *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].data);
    free(p->v);
}

static void assert_same(const packed *a, const packed *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].sig, b->v[i].sig);
        assert_int_equal(a->v[i].len, b->v[i].len);
        assert_memory_equal(a->v[i].data, b->v[i].data, a->v[i].len);
    }
}

static void roundtrip_every_fixture(void **st)
{
    (void)st;
    glob_t g;
    assert_int_equal(glob(src("fixtures/otlp/*.json*"), 0, NULL, &g), 0);
    int checked = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *f = g.gl_pathv[i];
        if (strstr(f, "malformed"))
            continue;
        int whole = strstr(f, ".jsonl") == NULL;
        char out1[512], out2[512];
        snprintf(out1, sizeof out1, "%s/rt1.jsonl", tmpdir);
        snprintf(out2, sizeof out2, "%s/rt2.jsonl", tmpdir);
        replay_sums s1 = replay_run(pipeline_yaml(f, out1, NULL));
        replay_sums s2 = replay_run(pipeline_yaml(out1, out2, NULL));
        packed orig = decode_file(f, whole), p1 = decode_file(out1, 0), p2 = decode_file(out2, 0);
        print_message("  %s: %zu requests, %zu items\n", strrchr(f, '/') + 1, orig.n, orig.items);
        assert_true(orig.n > 0);
        assert_int_equal(s1.errors + s1.rejected + s1.dropped, 0);
        assert_int_equal(s1.accepted, orig.items);
        assert_int_equal(s1.exported, orig.items);
        assert_int_equal(s2.accepted, orig.items);
        assert_same(&orig, &p1);
        assert_same(&p1, &p2);
        packed_free(&orig);
        packed_free(&p1);
        packed_free(&p2);
        checked++;
    }
    globfree(&g);
    assert_true(checked >= 6);
}

static void malformed_lines_counted_good_ones_delivered(void **st)
{
    (void)st;
    char out[512];
    snprintf(out, sizeof out, "%s/malformed_out.jsonl", tmpdir);
    replay_sums s = replay_run(pipeline_yaml(src("fixtures/otlp/malformed.jsonl"), out, NULL));
    /* fixtures/otlp/README.md: valid lines 1, 3, 8, 13 with 21 spans; 8 rejected lines. */
    assert_int_equal(s.accepted, 21);
    assert_int_equal(s.exported, 21);
    assert_int_equal(s.errors, 8);
    packed p = decode_file(out, 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.items, 21);
    packed_free(&p);
}

/* With batching, requests merge: the multiset of items must be unchanged
 * and no request may exceed send_batch_max_size. */
static void batch_keeps_items_and_caps_size(void **st)
{
    (void)st;
    char out[512];
    snprintf(out, sizeof out, "%s/batched.jsonl", tmpdir);
    replay_sums s = replay_run(pipeline_yaml(src("fixtures/otlp/lmcache_mp_traces.jsonl"), out,
                                      "    send_batch_size: 30\n    send_batch_max_size: 30\n    timeout: 10ms\n"));
    assert_int_equal(s.accepted, 196);
    assert_int_equal(s.exported, 196);
    assert_int_equal(s.dropped, 0);
    packed p = decode_file(out, 0);
    assert_int_equal(p.items, 196);
    size_t total = 0;
    for (size_t i = 0; i < p.n; i++) {
        kvs_arena *a = kvs_arena_new();
        ProtobufCMessage *m = protobuf_c_message_unpack(kvs_request_descriptor(KVS_SIG_TRACES),
                                                        kvs_arena_allocator(a), p.v[i].len, p.v[i].data);
        size_t items = kvs_count_items(KVS_SIG_TRACES, m);
        assert_true(items <= 30);
        total += items;
        kvs_arena_free(a);
    }
    assert_int_equal(total, 196);
    assert_true(p.n >= 7);
    packed_free(&p);

    /* Metrics are split inside a metric's data points too. */
    snprintf(out, sizeof out, "%s/batched_metrics.jsonl", tmpdir);
    s = replay_run(pipeline_yaml(src("fixtures/otlp/lmcache_mp_metrics.jsonl"), out,
                                 "    send_batch_size: 7\n    send_batch_max_size: 7\n    timeout: 10ms\n"));
    assert_int_equal(s.accepted, 135);
    assert_int_equal(s.exported, 135);
    p = decode_file(out, 0);
    assert_int_equal(p.items, 135);
    packed_free(&p);
}

static int setup(void **st)
{
    (void)st;
    return tmpdir_make(tmpdir, sizeof tmpdir, "kvs_engine");
}

static int teardown(void **st)
{
    (void)st;
    return tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_every_fixture),
        cmocka_unit_test(malformed_lines_counted_good_ones_delivered),
        cmocka_unit_test(batch_keeps_items_and_caps_size),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
