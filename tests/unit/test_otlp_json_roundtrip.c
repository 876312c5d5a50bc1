/* OTLP/JSON codec (formats/otlp_json.h), well-formed input: every field of
 * traces, metrics and logs round-trips (decode -> encode -> decode packs to
 * the same protobuf bytes, and canonical input encodes back byte for byte),
 * documents carrying several signals, input variants (numbers vs strings,
 * enum names, snake_case, unknown fields, null), doubles, the encoder's
 * escapes, and the fixtures under fixtures/otlp. Malformed input:
 * test_otlp_json_malformed.c. */
#include "formats/otlp_json.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "otlp_json_helpers.h"

/* ---- round trips ------------------------------------------------------- */

static void traces_round_trip(void **st)
{
    (void)st;
    assert_canonical(k_traces);
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    kvs_otlp_doc doc;
    round_trip(k_traces, a, &doc, &out);
    assert_non_null(doc.traces);
    assert_null(doc.metrics);
    assert_null(doc.logs);
    const kvs_resource_spans *rs = doc.traces->resource_spans[0];
    const kvs_resource *res = rs->resource;
    assert_int_equal(res->n_attributes, 13);
    assert_string_equal(res->attributes[0]->value->string_value, "h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x98\x80");
    assert_true(res->attributes[1]->value->bool_value);
    assert_int_equal(res->attributes[2]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
    assert_false(res->attributes[2]->value->bool_value);
    assert_true(res->attributes[3]->value->int_value == INT64_MIN);
    assert_int_equal(res->attributes[4]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    assert_true(isnan(res->attributes[5]->value->double_value));
    assert_true(isinf(res->attributes[6]->value->double_value) && res->attributes[6]->value->double_value < 0);
    assert_int_equal(res->attributes[8]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    const ProtobufCBinaryData *bytes = &res->attributes[9]->value->bytes_value;
    assert_int_equal(bytes->len, 4);
    assert_memory_equal(bytes->data, "\x00\x01\x02\xff", 4);
    assert_int_equal(res->attributes[10]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    const kvs_array *arr = res->attributes[11]->value->array_value;
    assert_int_equal(arr->n_values, 4);
    assert_int_equal(arr->values[2]->array_value->n_values, 0);
    assert_int_equal(arr->values[3]->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    const kvs_kvlist *kv = res->attributes[12]->value->kvlist_value;
    assert_true(kv->values[0]->value->kvlist_value->values[0]->value->double_value == 0.1);
    assert_null(kv->values[1]->value);
    assert_int_equal(res->dropped_attributes_count, 3);
    assert_int_equal(res->n_entity_refs, 1);
    assert_int_equal(res->entity_refs[0]->n_id_keys, 2);
    assert_string_equal(res->entity_refs[0]->id_keys[1], "service.instance.id");
    assert_string_equal(res->entity_refs[0]->description_keys[0], "host.name");
    assert_string_equal(rs->schema_url, "https://resource");

    const kvs_scope_spans *ss = rs->scope_spans[0];
    assert_string_equal(ss->scope->version, "0.3.9");
    assert_int_equal(ss->scope->dropped_attributes_count, 1);
    assert_int_equal(ss->n_spans, 3);
    const kvs_span *s = ss->spans[0];
    assert_int_equal(s->trace_id.len, 16);
    assert_memory_equal(s->trace_id.data, "\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16);
    assert_int_equal(s->span_id.len, 8);
    assert_memory_equal(s->parent_span_id.data, "\xee\xe1\x9b\x7e\xc3\xc1\xb1\x73", 8);
    assert_string_equal(s->trace_state, "k=v");
    assert_int_equal(s->flags, 768);
    assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
    assert_true(s->start_time_unix_nano == 9223372036854775807ull);
    assert_true(s->end_time_unix_nano == UINT64_MAX);
    assert_true(s->attributes[1]->value->double_value == 5.0 / 7.0);
    assert_int_equal(s->n_events, 2);
    assert_true(s->events[0]->time_unix_nano == 1700000000000000001ull);
    assert_int_equal(s->events[0]->dropped_attributes_count, 4);
    assert_int_equal(s->dropped_events_count, 5);
    assert_int_equal(s->links[0]->flags, 257);
    assert_int_equal(s->links[0]->trace_id.data[15], 1);
    assert_int_equal(s->dropped_links_count, 7);
    assert_string_equal(s->status->message, "boom");
    assert_int_equal(s->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    assert_non_null(ss->spans[1]->status);
    assert_int_equal(ss->spans[1]->parent_span_id.len, 0);
    assert_null(ss->spans[2]->status);
    assert_string_equal(ss->spans[2]->name, "");
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

static void metrics_round_trip(void **st)
{
    (void)st;
    assert_canonical(k_metrics);
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    kvs_otlp_doc doc;
    round_trip(k_metrics, a, &doc, &out);
    assert_non_null(doc.metrics);
    const kvs_scope_metrics *sm = doc.metrics->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(sm->n_metrics, 7);
    const kvs_metric *g = sm->metrics[0];
    assert_string_equal(g->description, "a gauge");
    assert_int_equal(g->n_metadata, 1);
    const kvs_number_point *p0 = g->gauge->data_points[0], *p1 = g->gauge->data_points[1];
    assert_int_equal(p0->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    assert_int_equal(p0->flags, 1);
    assert_true(p1->as_int == -42);
    const kvs_exemplar *ex = p1->exemplars[0];
    assert_int_equal(ex->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT);
    assert_int_equal(ex->span_id.len, 8);
    assert_int_equal(ex->trace_id.data[15], 0x10);
    assert_int_equal(ex->n_filtered_attributes, 1);
    const kvs_sum *sum = sm->metrics[1]->sum;
    assert_true(sum->is_monotonic);
    assert_int_equal(sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    assert_true(sum->data_points[0]->as_int == INT64_MAX);
    const kvs_histogram_point *h0 = sm->metrics[2]->histogram->data_points[0];
    const kvs_histogram_point *h1 = sm->metrics[2]->histogram->data_points[1];
    assert_int_equal(h0->_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_true(h0->sum == 0);
    assert_int_equal(h1->_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_int_equal(h1->_min_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN__NOT_SET);
    assert_true(h0->min == -1 && h0->max == 1e-300);
    assert_int_equal(h0->n_bucket_counts, 3);
    assert_true(h0->bucket_counts[2] == UINT64_MAX);
    assert_true(h0->explicit_bounds[1] == 1e300 && h0->explicit_bounds[2] == -2.25);
    assert_true(isinf(h0->exemplars[0]->as_double));
    const kvs_exp_histogram_point *e0 = sm->metrics[3]->exponential_histogram->data_points[0];
    assert_int_equal(e0->scale, -3);
    assert_int_equal(e0->positive->offset, -5);
    assert_non_null(e0->negative);
    assert_int_equal(e0->negative->n_bucket_counts, 0);
    assert_int_equal(e0->_min_case, OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN);
    assert_true(e0->zero_threshold == 1e-9);
    const kvs_summary_point *q = sm->metrics[4]->summary->data_points[0];
    assert_int_equal(q->n_quantile_values, 3);
    assert_true(q->quantile_values[1]->quantile == 0.99 && q->quantile_values[1]->value == 5.25);
    assert_int_equal(sm->metrics[5]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_non_null(sm->metrics[5]->gauge);
    assert_int_equal(sm->metrics[6]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA__NOT_SET);
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

static void logs_round_trip(void **st)
{
    (void)st;
    assert_canonical(k_logs);
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    kvs_otlp_doc doc;
    round_trip(k_logs, a, &doc, &out);
    const kvs_scope_logs *sl = doc.logs->resource_logs[0]->scope_logs[0];
    assert_non_null(doc.logs->resource_logs[0]->resource);
    assert_int_equal(sl->n_log_records, 3);
    const kvs_log_record *l = sl->log_records[0];
    assert_true(l->observed_time_unix_nano == 1748736000000000001ull);
    assert_int_equal(l->severity_number, OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_ERROR);
    assert_string_equal(l->body->kvlist_value->values[0]->value->string_value, "line1\nline2\t\"q\" \\ \x01");
    const kvs_any *b64 = l->body->kvlist_value->values[1]->value->array_value->values[1];
    assert_int_equal(b64->bytes_value.len, 4);
    assert_memory_equal(b64->bytes_value.data, "\xde\xad\xbe\xef", 4);
    assert_int_equal(l->flags, 1);
    assert_int_equal(l->trace_id.len, 16);
    assert_int_equal(l->span_id.data[7], 0x74);
    assert_string_equal(l->event_name, "lmcache.finding");
    assert_int_equal(sl->log_records[1]->body->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    assert_null(sl->log_records[2]->body);
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

static void documents_and_signals(void **st)
{
    (void)st;
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc doc;
    kvs_buf out = {0};
    decode_ok("{}", 2, a, &doc);
    assert_null(doc.traces);
    assert_null(doc.metrics);
    assert_null(doc.logs);
    decode_ok(" {\"resourceSpans\":null} \n\t\r ", 28, a, &doc);
    assert_null(doc.traces);
    /* An empty request still names its signal. */
    assert_canonical("{\"resourceSpans\":[]}");
    assert_canonical("{\"resourceMetrics\":[]}");
    assert_canonical("{\"resourceLogs\":[]}");
    /* One document may carry several signals. */
    round_trip("{\"resourceLogs\":[{}],\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"a\"}]}]}],"
               "\"resourceMetrics\":[{\"resource\":{}}]}", a, &doc, &out);
    assert_non_null(doc.traces);
    assert_non_null(doc.metrics);
    assert_non_null(doc.logs);
    /* Encoders: NULL request = empty, dispatch, out-of-memory buffer. */
    out.len = 0;
    assert_int_equal(kvs_otlp_json_encode(KVS_SIG_TRACES, NULL, &out), 0);
    kvs_buf_putc(&out, 0);
    assert_string_equal(out.data, "{\"resourceSpans\":[]}");
    out.oom = 1;
    assert_int_equal(kvs_otlp_json_encode_logs(doc.logs, &out), -1);
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

/* ---- input variants ----------------------------------------------------- */

static void variants_traces(void **st)
{
    (void)st;
    const char *canonical =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
        "\"spanId\":\"eee19b7ec3c1b174\",\"flags\":256,\"name\":\"x\",\"kind\":2,"
        "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"18446744073709551615\","
        "\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":\"-42\"}},{\"key\":\"d\",\"value\":"
        "{\"doubleValue\":2.5}},{\"key\":\"e\",\"value\":{\"doubleValue\":100}},{\"key\":\"b\",\"value\":"
        "{\"bytesValue\":\"AAEC/w==\"}},{\"key\":\"b2\",\"value\":{\"bytesValue\":\"AAE=\"}},"
        "{\"key\":\"i\",\"value\":{\"intValue\":\"1500\"}},{\"key\":\"inf\",\"value\":{\"doubleValue\":\"Infinity\"}}],"
        "\"droppedAttributesCount\":3,\"events\":[{\"timeUnixNano\":\"5\"}],"
        "\"status\":{\"code\":2}}]}]}]}";
    const char *variant =
        "{\"unknownFirst\":{\"resourceSpans\":[1,2]},"
        "\"resource_spans\":[{\"schema_url\":null,\"scope_spans\":[{\"spans\":[{"
        "\"trace_id\":\"5B8EFFF798038103D269B633813FC60C\",\"span_id\":\"EEE19b7ec3c1b174\","
        "\"parent_span_id\":\"\",\"flags\":\"256\",\"name\":\"x\",\"kind\":\"SPAN_KIND_SERVER\","
        "\"start_time_unix_nano\":1700000000000000000,\"endTimeUnixNano\":18446744073709551615,"
        "\"attributes\":[{\"key\":\"n\",\"value\":{\"int_value\":-42}},{\"key\":\"d\",\"value\":"
        "{\"double_value\":\"2.5\"}},{\"key\":\"e\",\"value\":{\"doubleValue\":1E2}},{\"key\":\"b\",\"value\":"
        "{\"bytes_value\":\"AAEC/w\"}},{\"key\":\"b2\",\"value\":{\"bytesValue\":\"AAE\"}},"
        "{\"key\":\"i\",\"value\":{\"intValue\":1.5e3}},{\"key\":\"inf\",\"value\":{\"doubleValue\":\"Infinity\"}}],"
        "\"dropped_attributes_count\":\"3\",\"events\":[{\"time_unix_nano\":\"5\",\"name\":null}],"
        "\"links\":null,\"traceState\":null,\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":null},"
        "\"unknownScalar\":1.5e10,\"unknownString\":\"\\u0041\",\"unknownBool\":false,\"unknownNull\":null,"
        "\"unknownObj\":{\"a\":{\"b\":[1,{\"c\":null}]},\"traceId\":\"zz\"},"
        "\"unknownArr\":[[],[{}],\"x\",true,null,[[[[]]]]]}]}]}],"
        "\"unknownLast\":[{\"resourceSpans\":{}}]}";
    assert_same_doc(canonical, variant);
    assert_canonical(canonical);
    /* Integers as JSON numbers or strings, exactly, at the edges. */
    assert_same_doc("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":9223372036854775808,"
                    "\"attributes\":[{\"value\":{\"intValue\":-9223372036854775808}}],\"kind\":-1}]}]}]}",
                    "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"9223372036854775808\","
                    "\"attributes\":[{\"value\":{\"intValue\":\"-9223372036854775808\"}}],\"kind\":\"-1\"}]}]}]}");
}

static void variants_metrics_logs(void **st)
{
    (void)st;
    assert_same_doc(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"dataPoints\":[{\"asDouble\":\"NaN\","
        "\"exemplars\":[{\"spanId\":\"0102030405060708\"}]}],\"aggregationTemporality\":2,\"isMonotonic\":true}},"
        "{\"histogram\":{\"dataPoints\":[{\"count\":\"7\",\"bucketCounts\":[\"1\",\"6\"],\"explicitBounds\":[1.5],"
        "\"sum\":3}],\"aggregationTemporality\":1}},{\"exponentialHistogram\":{\"dataPoints\":[{\"scale\":-2,"
        "\"positive\":{\"offset\":3,\"bucketCounts\":[\"4\"]}}]}}]}]}]}",
        "{\"resource_metrics\":[{\"scope_metrics\":[{\"metrics\":[{\"sum\":{\"data_points\":[{\"as_double\":\"NaN\","
        "\"exemplars\":[{\"span_id\":\"0102030405060708\",\"trace_id\":\"\"}]}],"
        "\"aggregation_temporality\":\"AGGREGATION_TEMPORALITY_CUMULATIVE\",\"is_monotonic\":true}},"
        "{\"histogram\":{\"data_points\":[{\"count\":7,\"bucket_counts\":[1,\"6\"],\"explicit_bounds\":[\"1.5\"],"
        "\"sum\":\"3\",\"min\":null}],\"aggregation_temporality\":\"AGGREGATION_TEMPORALITY_DELTA\"}},"
        "{\"exponential_histogram\":{\"data_points\":[{\"scale\":\"-2\",\"positive\":{\"offset\":\"3\","
        "\"bucket_counts\":[4]}}]}}]}]}]}");
    assert_same_doc(
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"1\",\"severityNumber\":9,"
        "\"body\":{\"stringValue\":\"x\"},\"flags\":1,\"traceId\":\"5b8efff798038103d269b633813fc60c\","
        "\"eventName\":\"e\"}]}]}]}",
        "{\"resource_logs\":[{\"scope_logs\":[{\"log_records\":[{\"time_unix_nano\":1,"
        "\"severity_number\":\"SEVERITY_NUMBER_INFO\",\"body\":{\"string_value\":\"x\"},\"flags\":\"1\","
        "\"trace_id\":\"5b8efff798038103d269b633813fc60c\",\"span_id\":\"\",\"event_name\":\"e\","
        "\"observed_time_unix_nano\":null}]}]}]}");
    /* Later duplicates win. */
    assert_same_doc("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"intValue\":\"2\"}}]}]}]}",
                    "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"a\","
                    "\"intValue\":\"2\"}}]}]}]}");
}

static void doubles_exact(void **st)
{
    (void)st;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"0.1", "0.1"}, {"-0.0", "-0"}, {"0", "0"}, {"1.5", "1.5"}, {"100", "100"}, {"1E2", "100"},
        {"49.54350870919409", "49.54350870919409"}, {"0.7142857142857143", "0.7142857142857143"},
        {"123456.789", "123456.789"}, {"0.000001", "0.000001"}, {"1e-7", "1e-07"}, {"1e21", "1e+21"},
        {"9007199254740993", "9007199254740992"}, {"1.7976931348623157e308", "1.7976931348623157e+308"},
        {"5e-324", "4.94065645841247e-324"}, {"2.2250738585072014e-308", "2.2250738585072014e-308"},
        {"0.30000000000000004", "0.30000000000000004"}, {"123456789012345.67", "123456789012345.67"},
        {"\"1e3\"", "1000"}, {"\"-Infinity\"", "\"-Infinity\""}, {"\"NaN\"", "\"NaN\""},
        {"3.141592653589793238462643383279502884197169399375105820974944592307816406286", "3.141592653589793"},
    };
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    char json[512], want[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(json, sizeof json, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"doubleValue\":%s}}]}]}]}",
                 cases[i].in);
        snprintf(want, sizeof want, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"doubleValue\":%s}}]}]}]}",
                 cases[i].out);
        kvs_otlp_doc doc;
        round_trip(json, a, &doc, &out);
        kvs_buf_putc(&out, 0);
        assert_string_equal(out.data, want);
        double v = doc.logs->resource_logs[0]->scope_logs[0]->log_records[0]->body->double_value;
        if (cases[i].in[0] != '"') {
            double ref = strtod(cases[i].in, NULL);
            assert_memory_equal(&v, &ref, sizeof v);
        }
        kvs_arena_reset(a);
    }
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

/* Strings the encoder must escape or repair, from a hand-built message. */
static void encode_escapes(void **st)
{
    (void)st;
    kvs_any v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = "q\"b\\n\n\r\t\x01\x1f\x7f \xc3\xa9 bad:\xff\xc0\xaf\xed\xa0\x80 cut:\xe4\xb8";
    kvs_log_record lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT, *plr = &lr;
    lr.body = &v;
    lr.severity_text = "\xf0\x9f\x98\x80";
    kvs_scope_logs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT, *psl = &sl;
    sl.n_log_records = 1;
    sl.log_records = &plr;
    kvs_resource_logs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT, *prl = &rl;
    rl.n_scope_logs = 1;
    rl.scope_logs = &psl;
    kvs_logs_req req = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    req.n_resource_logs = 1;
    req.resource_logs = &prl;
    kvs_buf out = {0};
    kvs_buf_puts(&out, "prefix,");
    assert_int_equal(kvs_otlp_json_encode_logs(&req, &out), 0);
    kvs_buf_putc(&out, 0);
    assert_string_equal(out.data,
                        "prefix,{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"severityText\":\"\xf0\x9f\x98\x80\","
                        "\"body\":{\"stringValue\":\"q\\\"b\\\\n\\n\\r\\t\\u0001\\u001f\x7f \xc3\xa9 bad:"
                        "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd cut:\\ufffd\\ufffd\"}}]}]}]}");
    /* What it wrote decodes. */
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc doc;
    decode_ok(out.data + 7, out.len - 8, a, &doc);
    assert_string_equal(doc.logs->resource_logs[0]->scope_logs[0]->log_records[0]->severity_text, "\xf0\x9f\x98\x80");
    kvs_arena_free(a);
    kvs_buf_free(&out);
}

/* ---- fixtures --------------------------------------------------------- */

/* Optional: fixtures another suite maintains. Lines that decode must
 * round-trip; nothing is required to be there. */
static void fixtures_round_trip(void **st)
{
    (void)st;
    const char *src = getenv("KVS_SOURCE_DIR");
    char dir[1024];
    if (!src || snprintf(dir, sizeof dir, "%s/fixtures/otlp", src) >= (int)sizeof dir)
        skip();
    DIR *dh = opendir(dir);
    if (!dh)
        skip();
    kvs_arena *a = kvs_arena_new();
    kvs_buf out = {0};
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 6, ".jsonl"))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            kvs_otlp_doc doc;
            kvs_json_error err;
            if (len && (size_t)len == strlen(line) && kvs_otlp_json_decode(line, (size_t)len, a, &doc, &err) == 0) {
                kvs_arena_reset(a);
                round_trip(line, a, &doc, &out);
            }
            kvs_arena_reset(a);
        }
        free(line);
        fclose(f);
    }
    closedir(dh);
    kvs_buf_free(&out);
    kvs_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traces_round_trip),
        cmocka_unit_test(metrics_round_trip),
        cmocka_unit_test(logs_round_trip),
        cmocka_unit_test(documents_and_signals),
        cmocka_unit_test(variants_traces),
        cmocka_unit_test(variants_metrics_logs),
        cmocka_unit_test(doubles_exact),
        cmocka_unit_test(encode_escapes),
        cmocka_unit_test(fixtures_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
