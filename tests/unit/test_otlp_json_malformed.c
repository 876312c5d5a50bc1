/* OTLP/JSON codec (formats/otlp_json.h), malformed input: every kind of
 * bad document (truncated anywhere, wrong JSON types, bad ids, invalid
 * UTF-8, nesting past 64 levels, trailing garbage, random byte flips) fails
 * cleanly with the field path and an offset inside the input, and whatever
 * still decodes round-trips. Well-formed input: test_otlp_json_roundtrip.c. */
#include "formats/otlp_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "otlp_json_helpers.h"

/* ---- helpers ----------------------------------------------------------- */

/* Decoding fails; the message contains want (when given) and the offset is
 * inside the input. Returns the error. */
static kvs_json_error decode_err_n(const char *json, size_t len, const char *want)
{
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc doc;
    kvs_json_error err;
    int rc = kvs_otlp_json_decode(json, len, a, &doc, &err);
    if (rc != -1)
        fail_msg("decoding succeeded, wanted \"%s\": %.*s", want ? want : "", (int)(len > 200 ? 200 : len), json);
    assert_null(doc.traces);
    assert_null(doc.metrics);
    assert_null(doc.logs);
    assert_true(err.offset <= len);
    assert_true(err.msg[0] != 0);
    if (want && !strstr(err.msg, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
    kvs_arena_free(a);
    return err;
}

static kvs_json_error decode_err(const char *json, const char *want)
{
    return decode_err_n(json, strlen(json), want);
}

static size_t offset_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    assert_non_null(p);
    return (size_t)(p - hay);
}

/* ---- malformed input ---------------------------------------------------- */

static void truncated_everywhere(void **st)
{
    (void)st;
    const char *docs[] = {k_traces, k_metrics, k_logs};
    for (size_t d = 0; d < 3; d++) {
        size_t len = strlen(docs[d]);
        for (size_t n = 0; n < len; n++)
            decode_err_n(docs[d], n, NULL);
    }
    kvs_json_error e = decode_err_n("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"ab", 50, "premature EOF");
    assert_int_equal(e.offset, 50);
    assert_non_null(strstr(e.msg, "resourceSpans[0].scopeSpans[0].spans[0].name"));
    decode_err_n("", 0, NULL);
}

static void wrong_types(void **st)
{
    (void)st;
#define SPAN(x) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" x "}]}]}]}"
    decode_err("[]", "expected a JSON object");
    decode_err("\"x\"", "expected a JSON object");
    decode_err("12", "expected a JSON object");
    decode_err("null", "expected a JSON object");
    decode_err("true", "expected a JSON object");
    decode_err("{\"resourceSpans\":{}}", "resourceSpans: expected an array");
    decode_err("{\"resourceSpans\":\"x\"}", "resourceSpans: expected an array");
    decode_err("{\"resourceSpans\":[[]]}", "resourceSpans[0]: expected an object");
    decode_err("{\"resourceSpans\":[{\"resource\":\"x\"}]}", "resourceSpans[0].resource: expected an object");
    decode_err("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":\"x\"}]}]}",
               "resourceSpans[0].scopeSpans[0].spans: expected an array");
    decode_err(SPAN("\"name\":{}"), "spans[0].name: expected a string");
    decode_err(SPAN("\"name\":5"), "spans[0].name: expected a string");
    decode_err(SPAN("\"name\":[\"a\"]"), "spans[0].name: expected a string");
    decode_err(SPAN("\"kind\":true"), "spans[0].kind: expected an enum name or integer");
    decode_err(SPAN("\"kind\":\"SPAN_KIND_BOGUS\""), "spans[0].kind: unknown SpanKind value \"SPAN_KIND_BOGUS\"");
    decode_err(SPAN("\"attributes\":{}"), "spans[0].attributes: expected an array");
    decode_err(SPAN("\"attributes\":[1]"), "spans[0].attributes[0]: expected an object");
    decode_err(SPAN("\"attributes\":[{},null]"), "spans[0].attributes[1]: expected an object, got null");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"boolValue\":\"true\"}}]"),
               "attributes[0].value.boolValue: expected true or false");
    decode_err(SPAN("\"startTimeUnixNano\":\"12x\""), "spans[0].startTimeUnixNano: expected an integer");
    decode_err(SPAN("\"startTimeUnixNano\":\" 12\""), "startTimeUnixNano: expected an integer");
    decode_err(SPAN("\"startTimeUnixNano\":\"-1\""), "startTimeUnixNano: integer out of range");
    decode_err(SPAN("\"startTimeUnixNano\":18446744073709551616"), "startTimeUnixNano: integer out of range");
    decode_err(SPAN("\"startTimeUnixNano\":1.5"), "startTimeUnixNano: expected an integer, got a fraction");
    decode_err(SPAN("\"startTimeUnixNano\":true"), "startTimeUnixNano: expected an integer");
    decode_err(SPAN("\"droppedAttributesCount\":4294967296"), "droppedAttributesCount: integer out of range");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"intValue\":\"9223372036854775808\"}}]"),
               "value.intValue: integer out of range");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"doubleValue\":\"1.5x\"}}]"), "doubleValue: expected a number");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"doubleValue\":\"nan\"}}]"), "doubleValue: expected a number");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"doubleValue\":1e999}}]"), "doubleValue: number out of range");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"bytesValue\":\"ab*d\"}}]"), "bytesValue: invalid base64");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"bytesValue\":\"abcde\"}}]"), "bytesValue: invalid base64");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"bytesValue\":\"ab=c\"}}]"), "bytesValue: invalid base64");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"bytesValue\":\"abc==\"}}]"), "bytesValue: invalid base64");
    decode_err(SPAN("\"attributes\":[{\"value\":{\"arrayValue\":{\"values\":[[]]}}}]"),
               "arrayValue.values[0]: expected an object");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":{\"dataPoints\":"
               "[{\"bucketCounts\":[\"1\",{}]}]}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected an integer");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"aggregationTemporality\":"
               "\"CUMULATIVE\"}}]}]}]}", "sum.aggregationTemporality: unknown AggregationTemporality value");
    decode_err("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"severityNumber\":\"INFO\"}]}]}]}",
               "logRecords[0].severityNumber: unknown SeverityNumber value \"INFO\"");
    /* The offset points at the offending value. */
    const char *doc = SPAN("\"name\":\"ok\",\"kind\":{}");
    kvs_json_error e = decode_err(doc, "kind: expected an enum");
    assert_int_equal(e.offset, offset_of(doc, "{}"));
#undef SPAN
}

static void bad_ids(void **st)
{
    (void)st;
    char doc[2048];
    const char *bad[] = {
        "5b8efff798038103d269b633813fc60",     /* 31: odd */
        "5b8efff798038103d269b633813f",        /* 28: short */
        "5b8efff798038103d269b633813fc60c00",  /* 34: long */
        "5b8efff798038103d269b633813fzz0c",    /* not hex */
        "5b8efff798038103d269b633813f c0c",    /* space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(doc, sizeof doc,
                 "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"},"
                 "{\"name\":\"d\",\"traceId\":\"%s\"}]}]}]}", bad[i]);
        kvs_json_error e = decode_err(doc, NULL);
        assert_string_equal(e.msg, "resourceSpans[0].scopeSpans[0].spans[3].traceId: expected 32 hex characters");
        size_t at = offset_of(doc, bad[i]) - 1;   /* the opening quote */
        assert_true(e.offset >= at && e.offset < at + strlen(bad[i]) + 2);
    }
    decode_err("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"eee19b7ec3c1b17\"}]}]}]}",
               "spans[0].spanId: expected 16 hex characters");
    decode_err("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"parentSpanId\":\"5b8efff798038103d269b633813fc60c\"}]}]}]}",
               "spans[0].parentSpanId: expected 16 hex characters");
    decode_err("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"links\":[{},{\"traceId\":\"x\"}]}]}]}]}",
               "spans[0].links[1].traceId: expected 32 hex characters");
    decode_err("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":12}]}]}]}",
               "spans[0].traceId: expected 32 hex characters");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"exemplars\":"
               "[{\"spanId\":\"g102030405060708\"}]}]}}]}]}]}",
               "gauge.dataPoints[0].exemplars[0].spanId: expected 16 hex characters");
    decode_err("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"traceId\":\"abc\"}]}]}]}",
               "resourceLogs[0].scopeLogs[0].logRecords[0].traceId: expected 32 hex characters");
    decode_err("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"spanId\":\"eee19b7ec3c1b1745\"}]}]}]}",
               "logRecords[0].spanId: expected 16 hex characters");
}

static void invalid_utf8(void **st)
{
    (void)st;
#define BODY(x) "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"" x "\"}}]}]}]}"
    kvs_json_error e = decode_err(BODY("ok \xff\xfe\xc3\x28"), "logRecords[0].body.stringValue:");
    assert_true(e.offset <= strlen(BODY("ok \xff\xfe\xc3\x28")));
    /* Shapes yajl lets through but that are not UTF-8: overlong, surrogate,
     * past U+10FFFF; the offset is the bad byte. */
    e = decode_err(BODY("ab\xc0\xaf"), "body.stringValue: invalid UTF-8 in string");
    assert_int_equal(e.offset, offset_of(BODY("ab\xc0\xaf"), "\xc0"));
    decode_err(BODY("\xed\xa0\x80"), "invalid UTF-8");
    decode_err(BODY("\xf4\x90\x80\x80"), "invalid UTF-8");
    decode_err(BODY("\\udc00"), "invalid UTF-8");
    /* In keys and in skipped values too. */
    decode_err("{\"resourceLogs\":[],\"\xff\":1}", NULL);
    decode_err("{\"resourceLogs\":[],\"x\":\"\xc3\"}", NULL);
    /* Well-formed multi-byte text goes through untouched. */
    assert_canonical(BODY("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));
    assert_same_doc(BODY("\\u00e9\\ud83d\\ude00"), BODY("\xc3\xa9\xf0\x9f\x98\x80"));
#undef BODY
}

static char *nested(const char *open, const char *close, int levels, const char *pre, const char *post)
{
    size_t n = strlen(pre) + strlen(post) + (size_t)levels * (strlen(open) + strlen(close)) + 16;
    char *s = malloc(n);
    assert_non_null(s);
    strcpy(s, pre);
    for (int i = 0; i < levels; i++)
        strcat(s, open);
    strcat(s, "{}");
    for (int i = 0; i < levels; i++)
        strcat(s, close);
    strcat(s, post);
    return s;
}

static void deep_nesting(void **st)
{
    (void)st;
    const char *pre = "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":";
    const char *post = "}]}]}]}";
    char *kv = nested("{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":", "}]}}", 100, pre, post);
    decode_err(kv, "nesting deeper than 64 levels");
    free(kv);
    char *arr = nested("{\"arrayValue\":{\"values\":[", "]}}", 100, pre, post);
    kvs_json_error e = decode_err(arr, "nesting deeper than 64 levels");
    assert_non_null(strstr(e.msg, "resourceLogs[0].scopeLogs[0].logRecords[0].body.arrayValue.values[0]"));
    free(arr);
    /* Inside a value that is skipped, too. */
    char *skip = nested("[", "]", 100, "{\"unknown\":", "}");
    decode_err(skip, "nesting deeper than 64 levels");
    free(skip);
    char *skip2 = nested("{\"a\":", "}", 100, "{\"resourceSpans\":[{\"x\":", "}]}");
    decode_err(skip2, "nesting deeper than 64 levels");
    free(skip2);
    /* The limit is 64 levels in all: {"u": + 62 arrays + {} = 64 is fine. */
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc doc;
    char *ok = nested("[", "]", 62, "{\"u\":", "}");
    decode_ok(ok, strlen(ok), a, &doc);
    free(ok);
    char *over = nested("[", "]", 63, "{\"u\":", "}");
    decode_err(over, "nesting deeper than 64 levels");
    free(over);
    /* Deep but allowed AnyValue nesting round-trips: 7 levels to the body,
     * 3 per arrayValue, the innermost {}: 7 + 54 + 1 = 62. */
    char *deep = nested("{\"arrayValue\":{\"values\":[", "]}}", 18, pre, post);
    kvs_buf out = {0};
    round_trip(deep, a, &doc, &out);
    free(deep);
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

static void trailing_garbage(void **st)
{
    (void)st;
    kvs_json_error e = decode_err("{\"resourceSpans\":[]} x", "trailing garbage");
    assert_true(e.offset >= 20 && e.offset <= 22);
    decode_err("{\"resourceSpans\":[]}{}", NULL);
    decode_err("{\"resourceSpans\":[]}]", NULL);
    decode_err("{\"resourceSpans\":[]},", NULL);
    decode_err("{\"resourceSpans\":[]} // c", NULL);
    decode_err("{\"resourceSpans\":[],}", NULL);
    decode_err("{\"resourceSpans\":[1 2]}", NULL);
    decode_err("{'resourceSpans':[]}", NULL);
    decode_err("\xef\xbb\xbf{}", NULL);
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc doc;
    decode_ok("{\"resourceSpans\":[]} \r\n\t ", 25, a, &doc);
    assert_non_null(doc.traces);
    kvs_arena_free(a);
}

/* Byte flips of the full documents: never a crash or leak; whatever still
 * decodes round-trips (a small deterministic cousin of the fuzz target). */
static void mutations(void **st)
{
    (void)st;
    const char *docs[] = {k_traces, k_metrics, k_logs};
    static const char subst[] = "{}[]\",:0-9eE.\\ntfu\x80\xff";
    uint64_t r = 0x9e3779b97f4a7c15u;
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    for (int it = 0; it < 3000; it++) {
        const char *src = docs[it % 3];
        size_t len = strlen(src);
        char *m = malloc(len + 1);
        assert_non_null(m);
        memcpy(m, src, len + 1);
        for (int k = 0; k < 1 + it % 3; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            m[r % len] = subst[(r >> 32) % (sizeof subst - 1)];
        }
        kvs_otlp_doc doc;
        kvs_json_error err;
        if (kvs_otlp_json_decode(m, len, a, &doc, &err) == 0 && strlen(m) == len) {
            kvs_arena_reset(a);
            round_trip(m, a, &doc, &out);
        } else {
            assert_true(err.offset <= len || strlen(m) != len);
        }
        kvs_arena_reset(a);
        free(m);
    }
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(truncated_everywhere),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(bad_ids),
        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(trailing_garbage),
        cmocka_unit_test(mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
