/* The otlp receiver end to end over HTTP (libcurl: protobuf and JSON,
 * plain, gzip, zstd, deflate): every error path is checked for its status
 * and body (malformed bodies, wrong content type, compression bomb,
 * oversized body, bearer token, pipeline refusing or rejecting, unknown
 * path, unwired signal, wrong method, CORS), partial success for spans with
 * invalid ids, config errors, and the codec's depth and truncation guards.
 * The harness: otlp_receiver_harness.h. */
#include "otlp_receiver_harness.h"

/* ---- tests: HTTP ---- */

static void http_good_bodies(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    size_t n, zn;
    uint8_t *pb = traces_pb(3, 99, "pb", &n);
    reply r = post(&s, "/v1/traces", "application/x-protobuf", NULL, pb, n);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: application/x-protobuf"));
    assert_int_equal(r.body.len, 0); /* an empty ExportTraceServiceResponse */
    reply_free(&r);
    uint8_t *z = zstd_bytes(pb, n, &zn);
    r = post(&s, "/v1/traces", "application/x-protobuf", "zstd", z, zn);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    free(z);
    z = gzip_bytes(pb, n, 1, &zn);
    r = post(&s, "/v1/traces", "application/x-protobuf", "deflate", z, zn);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    free(z);
    free(pb);

    char *js = traces_json(2, "js");
    r = post(&s, "/v1/traces", "application/json; charset=utf-8", NULL, js, strlen(js));
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_string_equal(r.body.data, "{}");
    reply_free(&r);
    z = gzip_bytes(js, strlen(js), 0, &zn);
    r = post(&s, "/v1/traces", "application/json", "gzip", z, zn);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    free(z);
    free(js);
    /* An empty request is fine and delivers nothing. */
    r = post(&s, "/v1/traces", "application/json", NULL, "{}", 2);
    assert_int_equal(r.status, 200);
    reply_free(&r);

    assert_int_equal(sink_spans(), 3 * 3 + 2 * 2);
    assert_string_equal(sink_names, "pb0,pb1,pb2,pb0,pb1,pb2,pb0,pb1,pb2,js0,js1,js0,js1,");
    assert_int_equal(kvs_tel_get(&receiver_tel(&s)->accepted), 13);
    assert_int_equal(kvs_tel_get(&receiver_tel(&s)->errors), 0);
    stop_server(&s);
}

static void http_partial_success(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    size_t n;
    uint8_t *pb = traces_pb(3, 1, "p", &n);
    reply r = post(&s, "/v1/traces", "application/x-protobuf", NULL, pb, n);
    assert_int_equal(r.status, 200);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *resp =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
            NULL, r.body.len, (const uint8_t *)r.body.data);
    assert_non_null(resp);
    assert_non_null(resp->partial_success);
    assert_int_equal(resp->partial_success->rejected_spans, 1);
    assert_non_null(strstr(resp->partial_success->error_message, "trace_id"));
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(resp, NULL);
    reply_free(&r);
    free(pb);
    assert_int_equal(sink_spans(), 2);
    assert_string_equal(sink_names, "p0,p2,");
    assert_int_equal(kvs_tel_get(&receiver_tel(&s)->rejected), 1);
    /* JSON: a span with an all-zero span id. */
    const char *js = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
                     "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0000000000000000\",\"name\":\"z\"},"
                     "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\",\"name\":\"ok\"}"
                     "]}]}]}";
    r = post(&s, "/v1/traces", "application/json", NULL, js, strlen(js));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"partialSuccess\":{\"rejectedSpans\":\"1\""));
    reply_free(&r);
    assert_int_equal(sink_spans(), 3);
    stop_server(&s);
}

static void http_malformed(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    /* Bad protobuf: a field with wire type 7. */
    reply r = post(&s, "/v1/traces", "application/x-protobuf", NULL, "\x0f\x01\x02", 3);
    assert_int_equal(r.status, 400);
    assert_true(has_header(&r, "Content-Type: application/x-protobuf"));
    assert_int_equal(pb_status_code(&r), 3);
    reply_free(&r);
    /* Truncated length-delimited field. */
    r = post(&s, "/v1/traces", "application/x-protobuf", NULL, "\x0a\x10\x01", 3);
    assert_int_equal(r.status, 400);
    reply_free(&r);
    r = post(&s, "/v1/traces", "application/json", NULL, "{\"resourceSpans\":[", 18);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "{\"code\":3,\"message\":\"invalid OTLP/JSON"));
    reply_free(&r);
    /* JSON of another signal than the path's. */
    const char *logs = "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"x\"}}]}]}]}";
    r = post(&s, "/v1/traces", "application/json", NULL, logs, strlen(logs));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "resourceLogs"));
    reply_free(&r);
    /* ... which is fine on its own path. */
    r = post(&s, "/v1/logs", "application/json", NULL, logs, strlen(logs));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    /* Corrupt and truncated compressed bodies. */
    r = post(&s, "/v1/traces", "application/json", "gzip", "not gzip at all", 15);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "gzip"));
    reply_free(&r);
    size_t zn;
    uint8_t *z = zstd_bytes("{}", 2, &zn);
    r = post(&s, "/v1/traces", "application/json", "zstd", z, zn - 2);
    assert_int_equal(r.status, 400);
    reply_free(&r);
    free(z);
    r = post(&s, "/v1/traces", "application/json", "br", "{}", 2);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "Content-Encoding"));
    reply_free(&r);
    /* Wrong content type. */
    r = post(&s, "/v1/traces", "text/plain", NULL, "{}", 2);
    assert_int_equal(r.status, 415);
    reply_free(&r);
    assert_int_equal(sink_spans(), 0);
    assert_int_equal(kvs_tel_get(&receiver_tel(&s)->errors), 8);
    stop_server(&s);
}

static void http_paths_and_methods(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    reply r = post(&s, "/v1/nothing", "application/json", NULL, "{}", 2);
    assert_int_equal(r.status, 404);
    reply_free(&r);
    /* metrics is not wired to a pipeline: not served, as the Collector. */
    r = post(&s, "/v1/metrics", "application/json", NULL, "{}", 2);
    assert_int_equal(r.status, 404);
    reply_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/traces", s.url);
    r = http_req("GET", url, NULL, NULL, 0, 0);
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Allow: POST"));
    reply_free(&r);
    r = http_req("PUT", url, (const char *const[]){ "Content-Type: application/json", NULL }, "{}", 2, 0);
    assert_int_equal(r.status, 405);
    reply_free(&r);
    /* No CORS configured: OPTIONS is just another method. */
    r = http_req("OPTIONS", url, NULL, NULL, 0, 0);
    assert_int_equal(r.status, 405);
    reply_free(&r);
    stop_server(&s);
}

static void http_sizes_and_bomb(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, "        max_request_body_size: 1048576\n");
    /* Over the cap by Content-Length: refused before the body is read. */
    size_t big = 2u << 20;
    uint8_t *zeros = calloc(1, big);
    reply r = post(&s, "/v1/traces", "application/x-protobuf", NULL, zeros, big);
    assert_int_equal(r.status, 413);
    assert_int_equal(pb_status_code(&r), KVS_RPC_RESOURCE_EXHAUSTED);
    reply_free(&r);
    /* Over the cap without Content-Length (chunked). */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/traces", s.url);
    r = http_req("POST", url, (const char *const[]){ "Content-Type: application/json", NULL }, zeros, big, 1);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    /* Under the raw cap but over it once inflated. */
    size_t zn;
    uint8_t *z = gzip_bytes(zeros, big, 0, &zn);
    r = post(&s, "/v1/traces", "application/x-protobuf", "gzip", z, zn);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    free(z);
    /* A gzip bomb: ~1 GB of zeros in under 1 MiB (as many 1 MiB gzip
     * members as fit), refused without the process growing like it. */
    uint8_t *member = gzip_bytes(zeros, 1u << 20, 0, &zn);
    size_t members = ((1u << 20) - 1) / zn;
    assert_true(members >= 900);
    size_t bombn = zn * members;
    uint8_t *bomb = malloc(bombn);
    for (size_t i = 0; i < members; i++)
        memcpy(bomb + i * zn, member, zn);
    free(member);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    r = post(&s, "/v1/traces", "application/json", "gzip", bomb, bombn);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body.data, "once decompressed"));
    reply_free(&r);
    getrusage(RUSAGE_SELF, &after);
    assert_true(after.ru_maxrss - before.ru_maxrss < 200 * 1024); /* KiB */
    free(bomb);
    /* zstd the same way. */
    z = zstd_bytes(zeros, big, &zn);
    r = post(&s, "/v1/traces", "application/x-protobuf", "zstd", z, zn);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    free(z);
    free(zeros);
    assert_int_equal(sink_spans(), 0);
    stop_server(&s);
}

static void http_bearer(void **st)
{
    (void)st;
    server s;
    start_server(&s, "        auth:\n          bearer_token: s3cret\n",
                 "        auth:\n          bearer_token: s3cret\n");
    char *js = traces_json(1, "a");
    char url[256];
    snprintf(url, sizeof url, "%s/v1/traces", s.url);
    reply r = http_req("POST", url, (const char *const[]){ "Content-Type: application/json", NULL }, js, strlen(js), 0);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.data, "\"code\":16"));
    reply_free(&r);
    r = http_req("POST", url, (const char *const[]){ "Content-Type: application/json", "Authorization: Bearer wrong", NULL },
                 js, strlen(js), 0);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = http_req("POST", url, (const char *const[]){ "Content-Type: application/json", "Authorization: Bearer s3cret", NULL },
                 js, strlen(js), 0);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    free(js);
    size_t n;
    uint8_t *pb = traces_pb(2, 99, "g", &n);
    grpc_reply g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_UNAUTHENTICATED);
    kvs_buf_free(&g.msg);
    g = grpc_export(s.target, TRACE_EXPORT, pb, n, "nope", 0);
    assert_int_equal(g.status, GRPC_STATUS_UNAUTHENTICATED);
    kvs_buf_free(&g.msg);
    g = grpc_export(s.target, TRACE_EXPORT, pb, n, "s3cret", 0);
    assert_int_equal(g.status, GRPC_STATUS_OK);
    kvs_buf_free(&g.msg);
    free(pb);
    assert_int_equal(sink_spans(), 3);
    stop_server(&s);
}

static void http_pipeline_says_no(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    size_t n;
    uint8_t *pb = traces_pb(4, 99, "r", &n);
    atomic_store(&sink_rc, KVS_E_REFUSED);
    reply r = post(&s, "/v1/traces", "application/x-protobuf", NULL, pb, n);
    assert_int_equal(r.status, 503);
    assert_true(has_header(&r, "Retry-After: "));
    assert_int_equal(pb_status_code(&r), KVS_RPC_UNAVAILABLE);
    reply_free(&r);
    grpc_reply g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_UNAVAILABLE);
    kvs_buf_free(&g.msg);
    assert_int_equal(kvs_tel_get(&receiver_tel(&s)->refused), 8);
    atomic_store(&sink_rc, KVS_E_INVALID);
    r = post(&s, "/v1/traces", "application/json", NULL, one_span_json, strlen(one_span_json));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "test sink says never"));
    reply_free(&r);
    g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_INVALID_ARGUMENT);
    kvs_buf_free(&g.msg);
    assert_int_equal(kvs_tel_get(&receiver_tel(&s)->rejected), 5);
    free(pb);
    stop_server(&s);
}

static void http_cors(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL,
                 "        cors:\n          allowed_origins: [\"https://*.example.com\", \"http://exact.test\"]\n"
                 "          allowed_headers: [X-Custom]\n          max_age: 600\n");
    char url[256];
    snprintf(url, sizeof url, "%s/v1/traces", s.url);
    reply r = http_req("OPTIONS", url,
                       (const char *const[]){ "Origin: https://app.example.com", "Access-Control-Request-Method: POST",
                                              "Access-Control-Request-Headers: content-type, x-custom", NULL },
                       NULL, 0, 0);
    assert_int_equal(r.status, 204);
    assert_true(has_header(&r, "Access-Control-Allow-Origin: https://app.example.com"));
    assert_true(has_header(&r, "Access-Control-Allow-Methods: POST"));
    assert_true(has_header(&r, "Access-Control-Max-Age: 600"));
    reply_free(&r);
    r = http_req("OPTIONS", url,
                 (const char *const[]){ "Origin: http://evil.test", "Access-Control-Request-Method: POST", NULL }, NULL, 0,
                 0);
    assert_false(has_header(&r, "Access-Control-Allow-Origin"));
    reply_free(&r);
    r = http_req("OPTIONS", url,
                 (const char *const[]){ "Origin: http://exact.test", "Access-Control-Request-Method: POST",
                                        "Access-Control-Request-Headers: x-other", NULL },
                 NULL, 0, 0);
    assert_false(has_header(&r, "Access-Control-Allow-Origin"));
    reply_free(&r);
    r = http_req("POST", url, (const char *const[]){ "Content-Type: application/json", "Origin: http://exact.test", NULL },
                 "{}", 2, 0);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Access-Control-Allow-Origin: http://exact.test"));
    reply_free(&r);
    stop_server(&s);
}

/* ---- config ---- */

static void config_errors(void **st)
{
    (void)st;
    static const kvs_component_lookup lookup = { find_def, NULL };
    static const struct { const char *recv, *want; } cases[] = {
        { "    protocols:\n      http:\n        endpiont: 127.0.0.1:1\n", "otlp_cfg.yaml:5:9" },
        { "    protocols: {}\n", "at least one protocol" },
        { "    protocols:\n      grpc:\n        endpoint: nowhere\n", "host:port" },
        { "    protocols:\n      grpc:\n        endpoint: 127.0.0.1:99999\n", "port" },
        { "    protocols:\n      http:\n        traces_url_path: v1/traces\n", "start with /" },
        { "    protocols:\n      http:\n        tls:\n          cert_file: a.pem\n", "key_file" },
        { "    protocols:\n      grpc:\n        auth:\n          bearer_token: \"\"\n", "bearer_token" },
        { "    protocols:\n      grpc:\n        max_recv_msg_size_mib: 0\n", "between" },
        { "    protcols:\n      grpc:\n", "unknown key" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "receivers:\n  otlp:\n%sexporters:\n  testsink:\n"
                 "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [testsink]\n",
                 cases[i].recv);
        kvs_error err = { 0 };
        kvs_service_cfg *cfg = kvs_service_cfg_parse_with("otlp_cfg.yaml", yaml, strlen(yaml), &lookup, NULL, NULL, &err);
        kvs_engine *e = cfg ? kvs_engine_create(cfg, NULL, &err) : NULL;
        assert_null(e);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: \"%s\" does not mention \"%s\"", i, err.msg, cases[i].want);
        kvs_service_cfg_free(cfg);
    }
}

/* Port already taken: start fails with a clear message. */
/* ---- codec guards ---- */

static void codec_guards(void **st)
{
    (void)st;
    /* AnyValue{array_value{values[AnyValue{...}]}} nested 2000 deep in a
     * log body: refused by its depth before protobuf-c recurses into it. */
    size_t depth = 2000;
    uint8_t *inner = NULL;
    size_t innern = 0;
    /* Built inside out: value = 0x2a len ArrayValue; ArrayValue = 0x0a len AnyValue. */
    for (size_t i = 0; i < depth; i++) {
        kvs_buf x = { 0 };
        uint8_t hdr[12];
        size_t h = 0;
        hdr[h++] = 0x0a; /* ArrayValue.values */
        size_t v = innern;
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        kvs_buf_append(&x, hdr, h);
        if (innern)
            kvs_buf_append(&x, inner, innern);
        /* AnyValue.array_value = 5 */
        h = 0;
        hdr[h++] = 0x2a;
        v = x.len;
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        kvs_buf y = { 0 };
        kvs_buf_append(&y, hdr, h);
        kvs_buf_append(&y, x.data, x.len);
        kvs_buf_free(&x);
        free(inner);
        inner = (uint8_t *)y.data;
        innern = y.len;
    }
    /* Wrap: Logs request → ResourceLogs(1) → ScopeLogs(2) → LogRecord(2) → body(5). */
    static const uint8_t tags[] = { 0x2a, 0x12, 0x12, 0x0a };
    for (size_t t = 0; t < sizeof tags; t++) {
        kvs_buf y = { 0 };
        uint8_t hdr[12];
        size_t h = 0, v = innern;
        hdr[h++] = tags[t];
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        kvs_buf_append(&y, hdr, h);
        kvs_buf_append(&y, inner, innern);
        free(inner);
        inner = (uint8_t *)y.data;
        innern = y.len;
    }
    kvs_batch *out;
    uint64_t rej;
    char msg[512];
    assert_int_equal(kvs_otlp_decode(KVS_SIG_LOGS, KVS_OTLP_PROTOBUF, inner, innern, &out, &rej, msg, sizeof msg),
                     KVS_OTLP_E_BAD);
    assert_non_null(strstr(msg, "nested deeper"));
    free(inner);
    /* Content types and encodings. */
    kvs_otlp_ctype ct;
    kvs_otlp_enc enc;
    assert_int_equal(kvs_otlp_parse_ctype("Application/JSON ; charset=utf-8", &ct), 0);
    assert_int_equal(ct, KVS_OTLP_JSON);
    assert_int_equal(kvs_otlp_parse_ctype("application/x-protobuf", &ct), 0);
    assert_int_equal(ct, KVS_OTLP_PROTOBUF);
    assert_int_equal(kvs_otlp_parse_ctype("application/jsonx", &ct), -1);
    assert_int_equal(kvs_otlp_parse_encoding(NULL, &enc), 0);
    assert_int_equal(enc, KVS_OTLP_IDENTITY);
    assert_int_equal(kvs_otlp_parse_encoding("GZIP", &enc), 0);
    assert_int_equal(enc, KVS_OTLP_GZIP);
    assert_int_equal(kvs_otlp_parse_encoding("gzip, zstd", &enc), -1);
    /* Bearer parsing. */
    assert_true(kvs_otlp_bearer_ok("Bearer abc", 10, "abc"));
    assert_true(kvs_otlp_bearer_ok("bearer abc", 10, "abc"));
    assert_false(kvs_otlp_bearer_ok("Bearer abcd", 11, "abc"));
    assert_false(kvs_otlp_bearer_ok("Basic abc", 9, "abc"));
    /* Status bodies. */
    kvs_buf s = { 0 };
    kvs_otlp_status_body(KVS_OTLP_JSON, 3, "bad \"x\"\n", &s);
    kvs_buf_putc(&s, 0);
    assert_string_equal(s.data, "{\"code\":3,\"message\":\"bad \\\"x\\\"\\u000a\"}");
    kvs_buf_free(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    grpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_guards),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(http_good_bodies),
        cmocka_unit_test(http_partial_success),
        cmocka_unit_test(http_malformed),
        cmocka_unit_test(http_paths_and_methods),
        cmocka_unit_test(http_sizes_and_bomb),
        cmocka_unit_test(http_bearer),
        cmocka_unit_test(http_pipeline_says_no),
        cmocka_unit_test(http_cors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    grpc_shutdown_blocking();
    curl_global_cleanup();
    return rc;
}
