/* Shared by the OTLP/JSON codec tests (test_otlp_json_roundtrip.c,
 * test_otlp_json_malformed.c): decode / encode / round-trip assertions and
 * the three canonical documents that carry every field of traces, metrics
 * and logs. Header-only; include after cmocka.h. */
#ifndef KVS_TEST_OTLP_JSON_HELPERS_H
#define KVS_TEST_OTLP_JSON_HELPERS_H

#include "formats/otlp_json.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

__attribute__((unused)) static uint8_t *pack(const ProtobufCMessage *m, size_t *n)
{
    *n = m ? protobuf_c_message_get_packed_size(m) : 0;
    uint8_t *p = malloc(*n + 1);
    assert_non_null(p);
    if (m)
        assert_int_equal(protobuf_c_message_pack(m, p), *n);
    return p;
}

__attribute__((unused)) static void assert_same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na, nb;
    uint8_t *x = pack(a, &na), *y = pack(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

__attribute__((unused)) static void decode_ok(const char *json, size_t len, kvs_arena *a, kvs_otlp_doc *doc)
{
    kvs_json_error err;
    int rc = kvs_otlp_json_decode(json, len, a, doc, &err);
    if (rc != 0)
        fail_msg("decode failed at %zu: %s", err.offset, err.msg);
}

/* Encodes every signal of doc into out, one document after another. */
__attribute__((unused)) static void encode_all(const kvs_otlp_doc *doc, kvs_buf *out, size_t ends[3])
{
    if (doc->traces)
        assert_int_equal(kvs_otlp_json_encode_traces(doc->traces, out), 0);
    ends[0] = out->len;
    if (doc->metrics)
        assert_int_equal(kvs_otlp_json_encode(KVS_SIG_METRICS, &doc->metrics->base, out), 0);
    ends[1] = out->len;
    if (doc->logs)
        assert_int_equal(kvs_otlp_json_encode_logs(doc->logs, out), 0);
    ends[2] = out->len;
}

/* decode -> encode -> decode; both decodes must pack identically. Leaves the
 * first decode in *doc (arena a) and the encoding in *out. */
__attribute__((unused)) static void round_trip(const char *json, kvs_arena *a, kvs_otlp_doc *doc, kvs_buf *out)
{
    size_t ends[3];
    decode_ok(json, strlen(json), a, doc);
    out->len = 0;
    encode_all(doc, out, ends);
    kvs_arena *a2 = kvs_arena_new();
    kvs_otlp_doc again;
    size_t start = 0;
    const ProtobufCMessage *first[3] = {
        doc->traces ? &doc->traces->base : NULL,
        doc->metrics ? &doc->metrics->base : NULL,
        doc->logs ? &doc->logs->base : NULL,
    };
    for (int s = 0; s < 3; s++) {
        if (ends[s] == start)
            continue;
        decode_ok(out->data + start, ends[s] - start, a2, &again);
        const ProtobufCMessage *second = s == 0 ? &again.traces->base
                                       : s == 1 ? &again.metrics->base : &again.logs->base;
        assert_same_packed(first[s], second);
        start = ends[s];
    }
    kvs_arena_free(a2);
}

/* Canonical input: the encoding is the input itself, byte for byte. */
__attribute__((unused)) static void assert_canonical(const char *json)
{
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    kvs_otlp_doc doc;
    round_trip(json, a, &doc, &out);
    kvs_buf_putc(&out, 0);
    assert_string_equal(out.data, json);
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

/* Two spellings of one request decode to the same protobuf. */
__attribute__((unused)) static void assert_same_doc(const char *x, const char *y)
{
    kvs_arena *a = kvs_arena_new(), *b = kvs_arena_new();
    kvs_otlp_doc dx, dy;
    decode_ok(x, strlen(x), a, &dx);
    decode_ok(y, strlen(y), b, &dy);
    assert_true(!dx.traces == !dy.traces && !dx.metrics == !dy.metrics && !dx.logs == !dy.logs);
    if (dx.traces)
        assert_same_packed(&dx.traces->base, &dy.traces->base);
    if (dx.metrics)
        assert_same_packed(&dx.metrics->base, &dy.metrics->base);
    if (dx.logs)
        assert_same_packed(&dx.logs->base, &dy.logs->base);
    kvs_arena_free(a);
    kvs_arena_free(b);
}

/* ---- documents --------------------------------------------------------- */

/* Every trace field, in the encoder's canonical form. */
__attribute__((unused)) static const char k_traces[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"s\",\"value\":{\"stringValue\":\"h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x98\x80\"}},"
    "{\"key\":\"t\",\"value\":{\"boolValue\":true}},"
    "{\"key\":\"f\",\"value\":{\"boolValue\":false}},"
    "{\"key\":\"min\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
    "{\"key\":\"zero\",\"value\":{\"intValue\":\"0\"}},"
    "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
    "{\"key\":\"ninf\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
    "{\"key\":\"dzero\",\"value\":{\"doubleValue\":0}},"
    "{\"key\":\"empty\",\"value\":{\"stringValue\":\"\"}},"
    "{\"key\":\"bytes\",\"value\":{\"bytesValue\":\"AAEC/w==\"}},"
    "{\"key\":\"nobytes\",\"value\":{\"bytesValue\":\"\"}},"
    "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},{\"stringValue\":\"x\"},"
    "{\"arrayValue\":{}},{}]}}},"
    "{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"inner\",\"value\":{\"kvlistValue\":"
    "{\"values\":[{\"key\":\"deep\",\"value\":{\"doubleValue\":0.1}}]}}},{\"key\":\"novalue\"}]}}}"
    "],\"droppedAttributesCount\":3,"
    "\"entityRefs\":[{\"schemaUrl\":\"https://s\",\"type\":\"service\",\"idKeys\":[\"service.name\","
    "\"service.instance.id\"],\"descriptionKeys\":[\"host.name\"]}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"lmcache_mp.server\",\"version\":\"0.3.9\",\"attributes\":"
    "[{\"key\":\"a\",\"value\":{\"intValue\":\"7\"}}],\"droppedAttributesCount\":1},"
    "\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
    "\"traceState\":\"k=v\",\"parentSpanId\":\"eee19b7ec3c1b173\",\"flags\":768,\"name\":\"mp.retrieve\","
    "\"kind\":3,\"startTimeUnixNano\":\"9223372036854775807\",\"endTimeUnixNano\":\"18446744073709551615\","
    "\"attributes\":[{\"key\":\"num_tokens\",\"value\":{\"intValue\":\"256\"}},"
    "{\"key\":\"rate\",\"value\":{\"doubleValue\":0.7142857142857143}}],\"droppedAttributesCount\":2,"
    "\"events\":[{\"timeUnixNano\":\"1700000000000000001\",\"name\":\"ev\",\"attributes\":[{\"key\":\"k\","
    "\"value\":{\"stringValue\":\"v\"}}],\"droppedAttributesCount\":4},{}],\"droppedEventsCount\":5,"
    "\"links\":[{\"traceId\":\"00000000000000000000000000000001\",\"spanId\":\"0000000000000002\","
    "\"traceState\":\"a=b\",\"attributes\":[{\"key\":\"l\",\"value\":{\"boolValue\":true}}],"
    "\"droppedAttributesCount\":6,\"flags\":257}],\"droppedLinksCount\":7,"
    "\"status\":{\"message\":\"boom\",\"code\":2}},"
    "{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"0000000000000003\","
    "\"name\":\"empty-status\",\"status\":{}},{}],"
    "\"schemaUrl\":\"https://scope\"}],\"schemaUrl\":\"https://resource\"}]}";

/* Every metric field, canonical. */
__attribute__((unused)) static const char k_metrics[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"m\"}}]},\"scopeMetrics\":[{\"scope\":{\"name\":\"sc\"},\"metrics\":["
    "{\"name\":\"g\",\"description\":\"a gauge\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":["
    "{\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"b\"}}],\"startTimeUnixNano\":\"1\","
    "\"timeUnixNano\":\"2\",\"asDouble\":0,\"flags\":1},"
    "{\"timeUnixNano\":\"3\",\"asInt\":\"-42\",\"exemplars\":[{\"filteredAttributes\":[{\"key\":\"x\","
    "\"value\":{\"intValue\":\"1\"}}],\"timeUnixNano\":\"4\",\"asInt\":\"0\",\"spanId\":\"0102030405060708\","
    "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\"},{\"asDouble\":1.5}]}]},"
    "\"metadata\":[{\"key\":\"md\",\"value\":{\"stringValue\":\"v\"}}]},"
    "{\"name\":\"s\",\"sum\":{\"dataPoints\":[{\"asInt\":\"9223372036854775807\"}],"
    "\"aggregationTemporality\":2,\"isMonotonic\":true}},"
    "{\"name\":\"h\",\"histogram\":{\"dataPoints\":[{\"count\":\"10\",\"sum\":0,\"bucketCounts\":[\"1\",\"0\","
    "\"18446744073709551615\"],\"explicitBounds\":[0.5,1e+300,-2.25],\"exemplars\":[{\"asDouble\":"
    "\"Infinity\"}],\"min\":-1,\"max\":1e-300},{\"count\":\"1\"}],\"aggregationTemporality\":1}},"
    "{\"name\":\"eh\",\"exponentialHistogram\":{\"dataPoints\":[{\"count\":\"5\",\"sum\":12.5,\"scale\":-3,"
    "\"zeroCount\":\"2\",\"positive\":{\"offset\":-5,\"bucketCounts\":[\"1\",\"2\"]},\"negative\":{},"
    "\"flags\":1,\"min\":0,\"max\":3,\"zeroThreshold\":1e-09}],\"aggregationTemporality\":2}},"
    "{\"name\":\"su\",\"summary\":{\"dataPoints\":[{\"count\":\"3\",\"sum\":6.5,\"quantileValues\":["
    "{\"value\":1},{\"quantile\":0.99,\"value\":5.25},{}]}]}},"
    "{\"name\":\"empty-gauge\",\"gauge\":{}},{\"name\":\"no-data\"}"
    "],\"schemaUrl\":\"u\"}],\"schemaUrl\":\"v\"}]}";

/* Every log field, canonical. */
__attribute__((unused)) static const char k_logs[] =
    "{\"resourceLogs\":[{\"resource\":{},\"scopeLogs\":[{\"scope\":{\"name\":\"l\"},\"logRecords\":["
    "{\"timeUnixNano\":\"1748736000000000000\",\"observedTimeUnixNano\":\"1748736000000000001\","
    "\"severityNumber\":17,\"severityText\":\"ERROR\",\"body\":{\"kvlistValue\":{\"values\":["
    "{\"key\":\"msg\",\"value\":{\"stringValue\":\"line1\\nline2\\t\\\"q\\\" \\\\ \\u0001\"}},"
    "{\"key\":\"n\",\"value\":{\"arrayValue\":{\"values\":[{\"doubleValue\":2.5},{\"bytesValue\":\"3q2+7w==\"}]}}}"
    "]}},\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}],\"droppedAttributesCount\":1,"
    "\"flags\":1,\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\","
    "\"eventName\":\"lmcache.finding\"},{\"body\":{\"stringValue\":\"\"}},{}],\"schemaUrl\":\"s\"}]}]}";

#endif
