/* The otlp receiver end to end over gRPC (a gRPC core client), TLS on both
 * protocols, concurrent clients, in-flight requests finishing across
 * shutdown, and a port already in use. The harness:
 * otlp_receiver_harness.h. */
#include "otlp_receiver_harness.h"

/* ---- tests: gRPC ---- */

static void grpc_exports(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    size_t n;
    uint8_t *pb = traces_pb(5, 99, "g", &n);
    grpc_reply g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_OK);
    assert_int_equal(g.msg.len, 0);
    kvs_buf_free(&g.msg);
    g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 1);
    assert_int_equal(g.status, GRPC_STATUS_OK);
    kvs_buf_free(&g.msg);
    free(pb);
    pb = traces_pb(3, 0, "h", &n);
    g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_OK);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *resp =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
            NULL, g.msg.len, (const uint8_t *)g.msg.data);
    assert_non_null(resp);
    assert_non_null(resp->partial_success);
    assert_int_equal(resp->partial_success->rejected_spans, 1);
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(resp, NULL);
    kvs_buf_free(&g.msg);
    free(pb);
    assert_int_equal(sink_spans(), 12);
    assert_string_equal(sink_names, "g0,g1,g2,g3,g4,g0,g1,g2,g3,g4,h1,h2,");
    /* Malformed message. */
    g = grpc_export(s.target, TRACE_EXPORT, "\x0a\x10\x01", 3, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(g.details, "protobuf"));
    kvs_buf_free(&g.msg);
    /* Metrics is not wired; an unknown method either. */
    g = grpc_export(s.target, METRICS_EXPORT, "", 0, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(g.details, "MetricsService"));
    kvs_buf_free(&g.msg);
    g = grpc_export(s.target, "/opentelemetry.proto.collector.trace.v1.TraceService/Nope", "", 0, NULL, 0);
    assert_int_equal(g.status, GRPC_STATUS_UNIMPLEMENTED);
    kvs_buf_free(&g.msg);
    /* A gzip bomb over gRPC: 256 MiB of zeros, a few hundred KB on the
     * wire; refused against max_recv_msg_size_mib (4) once inflated,
     * without the receiver ever holding the inflated message (the
     * client's copy is resident before the measure starts). */
    grpc_slice zs = grpc_slice_malloc(256u << 20);
    memset(GRPC_SLICE_START_PTR(zs), 0, GRPC_SLICE_LENGTH(zs));
    grpc_byte_buffer *bomb = grpc_raw_byte_buffer_create(&zs, 1);
    grpc_slice_unref(zs);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    g = grpc_export_with(s.target, TRACE_EXPORT, NULL, 0, NULL, 1, NULL, bomb);
    getrusage(RUSAGE_SELF, &after);
    grpc_byte_buffer_destroy(bomb);
    assert_int_equal(g.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(g.details, "once decompressed"));
    assert_true(after.ru_maxrss - before.ru_maxrss < 100 * 1024); /* KiB */
    kvs_buf_free(&g.msg);
    /* A gzip-compressed message that is fine is inflated and delivered. */
    size_t before_spans = sink_spans();
    pb = traces_pb(2, 99, "z", &n);
    g = grpc_export(s.target, TRACE_EXPORT, pb, n, NULL, 1);
    assert_int_equal(g.status, GRPC_STATUS_OK);
    kvs_buf_free(&g.msg);
    free(pb);
    assert_int_equal(sink_spans(), before_spans + 2);
    stop_server(&s);
}

/* ---- TLS (needs the openssl command to make certificates) ---- */

static void tls_both(void **st)
{
    (void)st;
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        skip();
    char dir[] = "/tmp/kvs_otlp_tls.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && { openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=kvs-ca"
             " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost"
             " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext"
             " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2"
             " -extfile san.ext"
             " && openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client"
             " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2;"
             " } >/dev/null 2>&1",
             dir);
    assert_int_equal(system(cmd), 0);
    char tls[1024];
    snprintf(tls, sizeof tls,
             "        tls:\n          cert_file: %s/server.pem\n          key_file: %s/server.key\n"
             "          client_ca_file: %s/ca.pem\n",
             dir, dir, dir);
    server s;
    start_server(&s, tls, tls);
    char url[256], ca[300], cert[300], key[300];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/traces", s.http_port);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    /* HTTPS with and without a client certificate. */
    for (int with_cert = 1; with_cert >= 0; with_cert--) {
        CURL *c = curl_easy_init();
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        kvs_buf body = { 0 };
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, one_span_json);
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        if (with_cert) {
            curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
            curl_easy_setopt(c, CURLOPT_SSLKEY, key);
        }
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        kvs_buf_free(&body);
        if (rc != CURLE_OK)
            fail_msg("https: %s", curl_easy_strerror(rc));
        assert_int_equal(status, with_cert ? 200 : 401);
    }
    /* gRPC over TLS with a client certificate, and without one. */
    kvs_error err;
    char *ca_pem = kvs_otlp_read_file(ca, "ca", &err), *cert_pem = kvs_otlp_read_file(cert, "cert", &err),
         *key_pem = kvs_otlp_read_file(key, "key", &err);
    assert_true(ca_pem && cert_pem && key_pem);
    grpc_ssl_pem_key_cert_pair pair = { key_pem, cert_pem };
    grpc_channel_credentials *mtls = grpc_ssl_credentials_create(ca_pem, &pair, NULL, NULL);
    grpc_channel_credentials *no_cert = grpc_ssl_credentials_create(ca_pem, NULL, NULL, NULL);
    size_t n;
    uint8_t *pb = traces_pb(2, 99, "t", &n);
    grpc_reply g = grpc_export_with(s.target, TRACE_EXPORT, pb, n, NULL, 0, mtls, NULL);
    assert_int_equal(g.status, GRPC_STATUS_OK);
    kvs_buf_free(&g.msg);
    g = grpc_export_with(s.target, TRACE_EXPORT, pb, n, NULL, 0, no_cert, NULL);
    assert_int_equal(g.status, GRPC_STATUS_UNAVAILABLE);
    kvs_buf_free(&g.msg);
    grpc_channel_credentials_release(mtls);
    grpc_channel_credentials_release(no_cert);
    free(pb);
    free(ca_pem);
    free(cert_pem);
    free(key_pem);
    assert_int_equal(sink_spans(), 1 + 2);
    stop_server(&s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- concurrency and shutdown ---- */

typedef struct worker {
    server *s;
    int id, grpc;
    int failures;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "w%d_", w->id);
    size_t n;
    uint8_t *pb = traces_pb(10, 99, prefix, &n);
    for (int i = 0; i < 20; i++) {
        if (w->grpc) {
            grpc_reply g = grpc_export(w->s->target, TRACE_EXPORT, pb, n, NULL, i & 1);
            w->failures += g.status != GRPC_STATUS_OK;
            kvs_buf_free(&g.msg);
        } else {
            reply r = post(w->s, "/v1/traces", "application/x-protobuf", NULL, pb, n);
            w->failures += r.status != 200;
            reply_free(&r);
        }
    }
    free(pb);
    return NULL;
}

static void concurrent_clients(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    enum { NW = 8 };
    worker w[NW];
    pthread_t t[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = (worker){ &s, i, i & 1, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NW; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(sink_spans(), NW * 20 * 10);
    stop_server(&s);
}

typedef struct slow_post {
    server *s;
    long status;
    grpc_status_code gstatus;
} slow_post;

static void *slow_http(void *arg)
{
    slow_post *p = arg;
    reply r = post(p->s, "/v1/traces", "application/json", NULL, one_span_json, strlen(one_span_json));
    p->status = r.status;
    reply_free(&r);
    return NULL;
}

static void *slow_grpc(void *arg)
{
    slow_post *p = arg;
    size_t n;
    uint8_t *pb = traces_pb(1, 99, "s", &n);
    grpc_reply g = grpc_export(p->s->target, TRACE_EXPORT, pb, n, NULL, 0);
    p->gstatus = g.status;
    kvs_buf_free(&g.msg);
    free(pb);
    return NULL;
}

/* Requests being handled when shutdown starts are answered, not dropped. */
static void shutdown_lets_inflight_finish(void **st)
{
    (void)st;
    server s;
    start_server(&s, NULL, NULL);
    atomic_store(&sink_delay_ms, 500);
    slow_post hp = { &s, 0, GRPC_STATUS_UNKNOWN }, gp = { &s, 0, GRPC_STATUS_UNKNOWN };
    pthread_t th, tg;
    pthread_create(&th, NULL, slow_http, &hp);
    pthread_create(&tg, NULL, slow_grpc, &gp);
    /* Both are inside the pipeline when shutdown begins. */
    for (int i = 0; i < 1000 && atomic_load(&sink_entered) < 2; i++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&sink_entered), 2);
    stop_server(&s);
    pthread_join(th, NULL);
    pthread_join(tg, NULL);
    assert_int_equal(hp.status, 200);
    assert_int_equal(gp.gstatus, GRPC_STATUS_OK);
    assert_int_equal(sink_spans(), 2);
}

static void port_in_use(void **st)
{
    (void)st;
    server a;
    start_server(&a, NULL, NULL);
    static const kvs_component_lookup lookup = { find_def, NULL };
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:%d\n"
             "exporters:\n  testsink:\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [testsink]\n",
             a.http_port);
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse_with("t.yaml", yaml, strlen(yaml), &lookup, NULL, NULL, &err);
    assert_non_null(cfg);
    kvs_engine *e = kvs_engine_create(cfg, NULL, &err);
    assert_non_null(e);
    assert_int_not_equal(kvs_engine_start(e, &err), 0);
    assert_non_null(strstr(err.msg, "in use"));
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    stop_server(&a);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    grpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grpc_exports),
        cmocka_unit_test(tls_both),
        cmocka_unit_test(concurrent_clients),
        cmocka_unit_test(shutdown_lets_inflight_finish),
        cmocka_unit_test(port_in_use),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    grpc_shutdown_blocking();
    curl_global_cleanup();
    return rc;
}
