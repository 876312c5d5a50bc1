/* formats/otlp_wire.h: the wire scanner accepts what protobuf-c accepts
 * (never more), counts items as kvs_count_items does on the decoded
 * request, counts the invalid ids the receiver drops, and names the byte
 * offset and field of what it refuses. */
#include "core/batch.h"
#include "formats/otlp_json.h"
#include "formats/otlp_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit_helpers.h"

/* ---- a tiny protobuf writer for hand-made (and broken) bodies ---- */

typedef struct pbw {
    uint8_t b[4096];
    size_t n;
} pbw;

static void w_varint(pbw *w, uint64_t v)
{
    while (v >= 0x80) {
        w->b[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->b[w->n++] = (uint8_t)v;
}

static void w_key(pbw *w, uint32_t field, unsigned wt) { w_varint(w, (uint64_t)field << 3 | wt); }

static void w_bytes(pbw *w, uint32_t field, const void *p, size_t n)
{
    w_key(w, field, 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* Wraps what w holds as field `field` of a new message (w becomes it). */
static void w_wrap(pbw *w, uint32_t field)
{
    pbw t = { .n = 0 };
    w_bytes(&t, field, w->b, w->n);
    *w = t;
}

static const uint8_t TID[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t SID[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* A Span with the given ids (NULL: field absent) and name. */
static void w_span(pbw *out, const uint8_t *tid, size_t tn, const uint8_t *sid, size_t sn, const char *name)
{
    pbw s = { .n = 0 };
    if (tid)
        w_bytes(&s, 1, tid, tn);
    if (sid)
        w_bytes(&s, 2, sid, sn);
    w_bytes(&s, 5, name, strlen(name));
    w_bytes(out, 2, s.b, s.n); /* ScopeSpans.spans */
}

/* ScopeSpans bytes in ss -> a whole ExportTraceServiceRequest. */
static void w_request(pbw *ss)
{
    w_wrap(ss, 2); /* ResourceSpans.scope_spans */
    w_wrap(ss, 1); /* ExportTraceServiceRequest.resource_spans */
}

static int scan(kvs_signal sig, const pbw *w, kvs_otlp_wire_info *wi, char *msg, size_t msgn)
{
    return kvs_otlp_wire_scan(sig, w->b, w->n, wi, msg, msgn);
}

/* What protobuf-c says of the same bytes: -1 when it refuses them, else
 * the item count. */
static long pbc_items(kvs_signal sig, const uint8_t *p, size_t n)
{
    kvs_arena *a = kvs_arena_new();
    ProtobufCMessage *m = protobuf_c_message_unpack(kvs_request_descriptor(sig), kvs_arena_allocator(a), n, p);
    long r = m ? (long)kvs_count_items(sig, m) : -1;
    kvs_arena_free(a);
    return r;
}

/* The scanner may refuse more than protobuf-c, never less, and counts the
 * same items. */
static void agree(kvs_signal sig, const uint8_t *p, size_t n)
{
    kvs_otlp_wire_info wi;
    char msg[256];
    if (kvs_otlp_wire_scan(sig, p, n, &wi, msg, sizeof msg) != 0) {
        assert_true(strncmp(msg, "protobuf: ", 10) == 0);
        return;
    }
    long want = pbc_items(sig, p, n);
    if (want < 0)
        fail_msg("scanner accepted %zu bytes protobuf-c refuses", n);
    assert_int_equal(wi.items, (size_t)want);
}

/* ---- tests ---- */

static void fixtures_agree_with_protobuf_c(void **st)
{
    (void)st;
    static const char *const files[] = { "fixtures/otlp/lmcache_mp_traces.jsonl", "fixtures/otlp/lmcache_mp_metrics.jsonl",
                                         "fixtures/otlp/logs.jsonl", "fixtures/otlp/cacheblend_traces.jsonl",
                                         "fixtures/otlp/vllm_engine_traces.jsonl" };
    size_t checked = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *text = slurp(src(files[f]), &len);
        kvs_arena *a = kvs_arena_new();
        for (char *line = text, *end = text + len; line < end;) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
            kvs_otlp_doc doc;
            kvs_json_error jerr;
            if (ln && kvs_otlp_json_decode(line, ln, a, &doc, &jerr) == 0) {
                ProtobufCMessage *m[KVS_NSIG] = { (ProtobufCMessage *)doc.traces, (ProtobufCMessage *)doc.metrics,
                                                  (ProtobufCMessage *)doc.logs };
                for (int s = 0; s < KVS_NSIG; s++) {
                    if (!m[s])
                        continue;
                    size_t n = protobuf_c_message_get_packed_size(m[s]);
                    uint8_t *p = malloc(n ? n : 1);
                    protobuf_c_message_pack(m[s], p);
                    kvs_otlp_wire_info wi;
                    char msg[256];
                    assert_int_equal(kvs_otlp_wire_scan(kvs_signal_at(s), p, n, &wi, msg, sizeof msg), 0);
                    assert_int_equal(wi.items, kvs_count_items(kvs_signal_at(s), m[s]));
                    /* Every prefix: the scanner never accepts what protobuf-c refuses. */
                    for (size_t cut = 0; cut < n; cut += 1 + n / 97)
                        agree(kvs_signal_at(s), p, cut);
                    free(p);
                    checked++;
                }
            }
            line += ln + 1;
        }
        kvs_arena_free(a);
        free(text);
    }
    assert_true(checked >= sizeof files / sizeof files[0]);
}

static void span_ids_counted(void **st)
{
    (void)st;
    static const uint8_t zero16[16], zero8[8];
    pbw w = { .n = 0 };
    w_span(&w, TID, 16, SID, 8, "good");
    w_span(&w, TID, 15, SID, 8, "short trace id");
    w_span(&w, TID, 16, zero8, 8, "zero span id");
    w_span(&w, zero16, 16, SID, 8, "zero trace id");
    w_span(&w, NULL, 0, SID, 8, "no trace id");
    w_span(&w, TID, 16, SID, 8, "good too");
    w_request(&w);
    kvs_otlp_wire_info wi;
    char msg[256];
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), 0);
    assert_int_equal(wi.items, 6);
    assert_int_equal(wi.invalid, 4);
    agree(KVS_SIG_TRACES, w.b, w.n);
}

static void span_id_last_one_wins(void **st)
{
    (void)st;
    pbw s = { .n = 0 };
    w_bytes(&s, 1, TID, 3);  /* a bad trace_id ... */
    w_bytes(&s, 2, SID, 8);
    w_bytes(&s, 1, TID, 16); /* ... replaced by a good one, as protobuf-c does */
    pbw w = { .n = 0 };
    w_bytes(&w, 2, s.b, s.n);
    w_request(&w);
    kvs_otlp_wire_info wi;
    char msg[256];
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), 0);
    assert_int_equal(wi.items, 1);
    assert_int_equal(wi.invalid, 0);
}

static void log_ids_counted(void **st)
{
    (void)st;
    pbw recs = { .n = 0 };
    static const struct { size_t tn, sn; } ids[] = { { 16, 8 }, { 0, 0 }, { 16, 0 }, { 10, 8 }, { 16, 7 } };
    for (size_t i = 0; i < 5; i++) {
        pbw l = { .n = 0 };
        w_key(&l, 2, 0), w_varint(&l, 9); /* severity_number */
        if (ids[i].tn)
            w_bytes(&l, 9, TID, ids[i].tn);
        if (ids[i].sn)
            w_bytes(&l, 10, SID, ids[i].sn);
        w_bytes(&recs, 2, l.b, l.n); /* ScopeLogs.log_records */
    }
    w_wrap(&recs, 2);               /* ResourceLogs.scope_logs */
    w_wrap(&recs, 1);               /* ExportLogsServiceRequest.resource_logs */
    kvs_otlp_wire_info wi;
    char msg[256];
    assert_int_equal(scan(KVS_SIG_LOGS, &recs, &wi, msg, sizeof msg), 0);
    assert_int_equal(wi.items, 5);
    assert_int_equal(wi.invalid, 2);
    agree(KVS_SIG_LOGS, recs.b, recs.n);
}

/* NumberDataPoints (as_int = 6) wrapped in a Gauge/Sum field of a Metric. */
static void w_points(pbw *metric, uint32_t data_field, int n)
{
    pbw g = { .n = 0 };
    for (int i = 0; i < n; i++) {
        pbw p = { .n = 0 };
        w_key(&p, 6, 1);
        memset(p.b + p.n, 0, 8), p.n += 8; /* as_int, sfixed64 */
        w_bytes(&g, 1, p.b, p.n);
    }
    w_bytes(metric, data_field, g.b, g.n);
}

static void metric_points_follow_the_oneof(void **st)
{
    (void)st;
    pbw m = { .n = 0 };
    w_bytes(&m, 1, "m", 1);
    w_points(&m, 5, 2);   /* gauge with 2 points ... */
    w_points(&m, 7, 3);   /* ... then a sum with 3: the oneof keeps the sum */
    pbw m2 = { .n = 0 };
    w_points(&m2, 5, 4);  /* gauge with 4 ... */
    w_points(&m2, 5, 1);  /* ... and a gauge again: the last one replaces it */
    pbw req = { .n = 0 };
    w_bytes(&req, 2, m.b, m.n);  /* ScopeMetrics.metrics */
    w_bytes(&req, 2, m2.b, m2.n);
    w_wrap(&req, 2);             /* ResourceMetrics.scope_metrics */
    w_wrap(&req, 1);
    kvs_otlp_wire_info wi;
    char msg[256];
    assert_int_equal(scan(KVS_SIG_METRICS, &req, &wi, msg, sizeof msg), 0);
    assert_int_equal(wi.items, 4);
    assert_int_equal(pbc_items(KVS_SIG_METRICS, req.b, req.n), 4);
}

static void refusals_name_offset_and_field(void **st)
{
    (void)st;
    kvs_otlp_wire_info wi;
    char msg[256];

    /* Invalid UTF-8 in Span.name (field 5). */
    pbw w = { .n = 0 };
    w_span(&w, TID, 16, SID, 8, "ok\xc3\x28");
    w_request(&w);
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "invalid UTF-8"));
    assert_non_null(strstr(msg, "Span field 5"));
    assert_non_null(strstr(msg, "at byte"));

    /* Span.name sent as a varint. */
    pbw s = { .n = 0 };
    w_key(&s, 5, 0), w_varint(&s, 7);
    w = (pbw){ .n = 0 };
    w_bytes(&w, 2, s.b, s.n);
    w_request(&w);
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "wrong wire type (varint)"));
    assert_int_equal(pbc_items(KVS_SIG_TRACES, w.b, w.n), -1);

    /* A group (wire type 3) and field number 0. */
    w = (pbw){ .n = 0 };
    w_key(&w, 9, 3);
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "unsupported wire type at byte 0"));
    w = (pbw){ .n = 0 };
    w_key(&w, 0, 0), w_varint(&w, 1);
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "malformed field key at byte 0"));

    /* A length past the end, at byte 3 of the body. */
    w = (pbw){ .n = 0 };
    w_bytes(&w, 1, "", 0);
    w_key(&w, 1, 2), w_varint(&w, 50);
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "malformed or overlong length at byte 2"));

    /* A packed fixed64 array (HistogramDataPoint.bucket_counts = 6) of 7 bytes. */
    pbw hp = { .n = 0 };
    w_bytes(&hp, 6, "1234567", 7);
    pbw h = { .n = 0 };
    w_bytes(&h, 1, hp.b, hp.n);     /* Histogram.data_points */
    pbw m = { .n = 0 };
    w_bytes(&m, 9, h.b, h.n);       /* Metric.histogram */
    w_wrap(&m, 2);
    w_wrap(&m, 2);
    w_wrap(&m, 1);
    assert_int_equal(scan(KVS_SIG_METRICS, &m, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "malformed packed array"));
    assert_int_equal(pbc_items(KVS_SIG_METRICS, m.b, m.n), -1);
}

static void unknown_fields_pass(void **st)
{
    (void)st;
    pbw w = { .n = 0 };
    w_span(&w, TID, 16, SID, 8, "s");
    w_key(&w, 100, 0), w_varint(&w, 5);        /* unknown varint in ScopeSpans */
    w_bytes(&w, 2000, "\xff\xfe", 2);          /* unknown bytes (not UTF-8: not a string) */
    w_key(&w, 77, 5), memset(w.b + w.n, 0, 4), w.n += 4;
    w_request(&w);
    kvs_otlp_wire_info wi;
    char msg[256];
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), 0);
    assert_int_equal(wi.items, 1);
    agree(KVS_SIG_TRACES, w.b, w.n);
}

static void nesting_is_bounded(void **st)
{
    (void)st;
    /* AnyValue.kvlist_value (6) -> KeyValueList.values (1) -> KeyValue.value (2) -> AnyValue ... */
    pbw w = { .n = 0 };
    w_bytes(&w, 1, "x", 1); /* AnyValue.string_value */
    for (int i = 0; i < 60; i++) {
        w_wrap(&w, 2);
        w_wrap(&w, 1);
        w_wrap(&w, 6);
    }
    w_wrap(&w, 2);  /* KeyValue.value */
    w_wrap(&w, 9);  /* Span.attributes */
    w_wrap(&w, 2);  /* ScopeSpans.spans */
    w_request(&w);
    kvs_otlp_wire_info wi;
    char msg[256];
    assert_int_equal(scan(KVS_SIG_TRACES, &w, &wi, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "nested deeper than 128 levels"));
}

static void byte_flips_never_accept_more(void **st)
{
    (void)st;
    pbw w = { .n = 0 };
    w_span(&w, TID, 16, SID, 8, "request");
    w_span(&w, TID, 16, SID, 8, "mp.store");
    w_request(&w);
    static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x05, 0x0a, 0x7f, 0x80, 0xc3, 0xff };
    for (size_t i = 0; i < w.n; i++)
        for (size_t v = 0; v < sizeof vals; v++) {
            pbw m = w;
            m.b[i] = vals[v];
            agree(KVS_SIG_TRACES, m.b, m.n);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_agree_with_protobuf_c),
        cmocka_unit_test(span_ids_counted),
        cmocka_unit_test(span_id_last_one_wins),
        cmocka_unit_test(log_ids_counted),
        cmocka_unit_test(metric_points_follow_the_oneof),
        cmocka_unit_test(refusals_name_offset_and_field),
        cmocka_unit_test(unknown_fields_pass),
        cmocka_unit_test(nesting_is_bounded),
        cmocka_unit_test(byte_flips_never_accept_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
