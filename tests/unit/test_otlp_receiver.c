/* The otlp receiver end to end, in process: an engine built from YAML with
 * the real receiver and a test exporter ("testsink") that counts what
 * arrives and answers what the test tells it to. Requests go over HTTP
 * (libcurl: protobuf and JSON, plain, gzip, zstd, deflate) and gRPC (a gRPC
 * core client), and every error path is checked for its status and body:
 * malformed bodies, wrong content type, compression bomb, oversized body,
 * bearer token, pipeline refusing or rejecting, unknown path, unwired
 * signal, wrong method, CORS. Also: partial success for spans with invalid
 * ids, concurrent clients, in-flight requests finishing across shutdown,
 * config errors, and the codec's depth and truncation guards. Every server
 * started here listens on a free 127.0.0.1 port and is stopped here. */
#include "core/engine.h"
#include "receivers/otlp/otlp_internal.h"

#include <curl/curl.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* ---- the test exporter ---- */

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t sink_items[KVS_NSIG];
static char sink_names[4096];
static atomic_int sink_rc;
static atomic_int sink_delay_ms;
static atomic_int sink_entered;     /* consume calls begun */

static int sink_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    (void)ctx, (void)err;
    *state = &sink_lock;
    return 0;
}

static int sink_consume(void *state, kvs_batch *b, kvs_error *err)
{
    (void)state;
    atomic_fetch_add(&sink_entered, 1);
    int delay = atomic_load(&sink_delay_ms);
    if (delay) {
        struct timespec ts = { delay / 1000, (delay % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    int rc = atomic_load(&sink_rc);
    if (rc)
        return kvs_errorf(err, rc, "the test sink says %s", rc == KVS_E_REFUSED ? "later" : "never");
    pthread_mutex_lock(&sink_lock);
    sink_items[kvs_signal_index(b->signal)] += b->items;
    if (b->signal == KVS_SIG_TRACES)
        for (size_t i = 0; i < b->traces->n_resource_spans; i++)
            for (size_t j = 0; j < b->traces->resource_spans[i]->n_scope_spans; j++) {
                kvs_scope_spans *ss = b->traces->resource_spans[i]->scope_spans[j];
                for (size_t k = 0; k < ss->n_spans; k++)
                    if (strlen(sink_names) + strlen(ss->spans[k]->name) + 2 < sizeof sink_names) {
                        strcat(sink_names, ss->spans[k]->name);
                        strcat(sink_names, ",");
                    }
            }
    pthread_mutex_unlock(&sink_lock);
    return 0;
}

static void sink_destroy(void *state) { (void)state; }

static const kvs_component_def testsink = {
    .type = "testsink", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL,
    .create = sink_create, .consume = sink_consume, .destroy = sink_destroy,
};

static const kvs_component_def *find_def(kvs_kind kind, const char *type, size_t n)
{
    if (kind == KVS_EXPORTER && n == 8 && memcmp(type, "testsink", 8) == 0)
        return &testsink;
    return kvs_component_find(kind, type, n);
}

static void sink_reset(void)
{
    pthread_mutex_lock(&sink_lock);
    memset(sink_items, 0, sizeof sink_items);
    sink_names[0] = 0;
    pthread_mutex_unlock(&sink_lock);
    atomic_store(&sink_rc, 0);
    atomic_store(&sink_delay_ms, 0);
    atomic_store(&sink_entered, 0);
}

static size_t sink_spans(void)
{
    pthread_mutex_lock(&sink_lock);
    size_t n = sink_items[0];
    pthread_mutex_unlock(&sink_lock);
    return n;
}

/* ---- a receiver in an engine ---- */

typedef struct server {
    kvs_service_cfg *cfg;
    kvs_engine *e;
    int grpc_port, http_port;
    char url[128], target[64];
} server;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void start_server(server *s, const char *grpc_extra, const char *http_extra)
{
    static const kvs_component_lookup lookup = { find_def, NULL };
    memset(s, 0, sizeof *s);
    s->grpc_port = free_port();
    s->http_port = free_port();
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  otlp:\n    protocols:\n"
             "      grpc:\n        endpoint: 127.0.0.1:%d\n%s"
             "      http:\n        endpoint: 127.0.0.1:%d\n%s"
             "exporters:\n  testsink:\n"
             "service:\n  shutdown_timeout: 5s\n  pipelines:\n"
             "    traces:\n      receivers: [otlp]\n      exporters: [testsink]\n"
             "    logs:\n      receivers: [otlp]\n      exporters: [testsink]\n",
             s->grpc_port, grpc_extra ? grpc_extra : "", s->http_port, http_extra ? http_extra : "");
    kvs_error err = { 0 };
    s->cfg = kvs_service_cfg_parse_with("otlp_test.yaml", yaml, strlen(yaml), &lookup, NULL, NULL, &err);
    if (!s->cfg)
        fail_msg("config: %s", err.msg);
    s->e = kvs_engine_create(s->cfg, NULL, &err);
    if (!s->e)
        fail_msg("create: %s", err.msg);
    if (kvs_engine_start(s->e, &err) != 0)
        fail_msg("start: %s", err.msg);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->http_port);
    snprintf(s->target, sizeof s->target, "127.0.0.1:%d", s->grpc_port);
    sink_reset();
}

static void stop_server(server *s)
{
    kvs_engine_shutdown(s->e);
    kvs_engine_destroy(s->e);
    kvs_service_cfg_free(s->cfg);
}

static const kvs_telemetry *receiver_tel(server *s)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(s->e, &t);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i]->id, "otlp") == 0)
            return t[i];
    fail_msg("no telemetry for otlp");
    return NULL;
}

/* ---- request bodies ---- */

/* A packed ExportTraceServiceRequest with spans named prefix0..N-1; the
 * span at index `bad` (if < n) has a 4-byte trace id. */
static uint8_t *traces_pb(size_t n, size_t bad, const char *prefix, size_t *len)
{
    kvs_traces_req req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    kvs_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    kvs_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    kvs_resource_spans *rsp = &rs;
    kvs_scope_spans *ssp = &ss;
    kvs_span *spans = calloc(n, sizeof *spans);
    kvs_span **sp = calloc(n, sizeof *sp);
    char (*names)[32] = calloc(n, 32);
    static uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    static uint8_t sid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    for (size_t i = 0; i < n; i++) {
        kvs_span x = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
        spans[i] = x;
        snprintf(names[i], 32, "%s%zu", prefix, i);
        spans[i].name = names[i];
        spans[i].trace_id = (ProtobufCBinaryData){ i == bad ? 4 : 16, tid };
        spans[i].span_id = (ProtobufCBinaryData){ 8, sid };
        spans[i].start_time_unix_nano = 1000 + i;
        spans[i].end_time_unix_nano = 2000 + i;
        sp[i] = &spans[i];
    }
    ss.n_spans = n;
    ss.spans = sp;
    rs.n_scope_spans = 1;
    rs.scope_spans = &ssp;
    req.n_resource_spans = 1;
    req.resource_spans = &rsp;
    *len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *out = malloc(*len + 1);
    protobuf_c_message_pack(&req.base, out);
    free(spans);
    free(sp);
    free(names);
    return out;
}

static char *traces_json(size_t n, const char *prefix)
{
    kvs_buf b = { 0 };
    kvs_buf_puts(&b, "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"spans\":[");
    for (size_t i = 0; i < n; i++)
        kvs_buf_printf(&b, "%s{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
                           "\"name\":\"%s%zu\",\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"2000\"}",
                       i ? "," : "", prefix, i);
    kvs_buf_puts(&b, "]}]}]}");
    kvs_buf_putc(&b, 0);
    return b.data;
}

static uint8_t *gzip_bytes(const void *p, size_t n, int zlib_only, size_t *outn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, zlib_only ? 15 : 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n);
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *outn = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static uint8_t *zstd_bytes(const void *p, size_t n, size_t *outn)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *out = malloc(cap);
    *outn = ZSTD_compress(out, cap, p, n, 3);
    assert_false(ZSTD_isError(*outn));
    return out;
}

/* ---- HTTP client ---- */

typedef struct reply {
    long status;
    kvs_buf body, headers;
} reply;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    kvs_buf_append(ud, p, sz * n);
    return sz * n;
}

typedef struct reader {
    const char *p;
    size_t left;
} reader;

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    reader *rd = ud;
    size_t k = sz * n < rd->left ? sz * n : rd->left;
    memcpy(buf, rd->p, k);
    rd->p += k;
    rd->left -= k;
    return k;
}

static void reply_free(reply *r)
{
    kvs_buf_free(&r->body);
    kvs_buf_free(&r->headers);
}

/* POSTs (or `method`s) a body; extra is a NULL-terminated header list. */
static reply http_req(const char *method, const char *url, const char *const *extra, const void *body, size_t n,
                      int chunked)
{
    reply r = { 0 };
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    for (size_t i = 0; extra && extra[i]; i++)
        h = curl_slist_append(h, extra[i]);
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    reader rd = { body, n };
    if (body && chunked) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    kvs_buf_putc(&r.body, 0);
    r.body.len--;
    kvs_buf_putc(&r.headers, 0);
    r.headers.len--;
    return r;
}

static reply post(server *s, const char *path, const char *ctype, const char *enc, const void *body, size_t n)
{
    char url[256], cth[128], ceh[128];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    snprintf(cth, sizeof cth, "Content-Type: %s", ctype);
    snprintf(ceh, sizeof ceh, "Content-Encoding: %s", enc ? enc : "");
    const char *hdrs[] = { cth, enc ? ceh : NULL, NULL };
    return http_req("POST", url, hdrs, body, n, 0);
}

static int has_header(const reply *r, const char *line)
{
    return strcasestr(r->headers.data, line) != NULL;
}

/* Code of a protobuf google.rpc.Status body (field 1). */
static int pb_status_code(const reply *r)
{
    const uint8_t *p = (const uint8_t *)r->body.data;
    return r->body.len >= 2 && p[0] == 0x08 ? p[1] : 0;
}

/* ---- gRPC client ---- */

typedef struct grpc_reply {
    grpc_status_code status;
    char details[512];
    kvs_buf msg;
} grpc_reply;

/* One Export call; tls_creds NULL means plaintext (the caller keeps
 * ownership of tls_creds). */
static grpc_reply grpc_export_with(const char *target, const char *method, const void *body, size_t n,
                                   const char *token, int gzip, grpc_channel_credentials *tls_creds,
                                   grpc_byte_buffer *prebuilt)
{
    grpc_reply out = { 0 };
    grpc_arg args_v[2];
    size_t nargs = 0;
    if (gzip)
        args_v[nargs++] = (grpc_arg){ .type = GRPC_ARG_INTEGER, .key = (char *)GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM,
                                      .value.integer = GRPC_COMPRESS_GZIP };
    if (tls_creds)
        args_v[nargs++] = (grpc_arg){ .type = GRPC_ARG_STRING, .key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                                      .value.string = (char *)"localhost" };
    grpc_channel_args args = { nargs, args_v };
    grpc_channel_credentials *creds = tls_creds ? tls_creds : grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    if (!tls_creds)
        grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(30, GPR_TIMESPAN));
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL, deadline, NULL);
    grpc_slice_unref(m);
    grpc_byte_buffer *bb = prebuilt;
    if (!bb) {
        grpc_slice payload = grpc_slice_from_copied_buffer(body, n);
        bb = grpc_raw_byte_buffer_create(&payload, 1);
        grpc_slice_unref(payload);
    }
    grpc_metadata md;
    char auth[128];
    snprintf(auth, sizeof auth, "Bearer %s", token ? token : "");
    md.key = grpc_slice_from_static_string("authorization");
    md.value = grpc_slice_from_copied_string(auth);
    grpc_metadata_array init_md, trail_md;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    grpc_byte_buffer *resp = NULL;
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = token ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &out.status;
    ops[5].data.recv_status_on_client.status_details = &details;
    assert_int_equal(grpc_call_start_batch(call, ops, 6, &out, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(cq, &out, deadline, NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    snprintf(out.details, sizeof out.details, "%.*s", (int)GRPC_SLICE_LENGTH(details),
             (const char *)GRPC_SLICE_START_PTR(details));
    if (resp) {
        grpc_byte_buffer_reader rd;
        grpc_byte_buffer_reader_init(&rd, resp);
        grpc_slice s;
        while (grpc_byte_buffer_reader_next(&rd, &s)) {
            kvs_buf_append(&out.msg, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
            grpc_slice_unref(s);
        }
        grpc_byte_buffer_reader_destroy(&rd);
        grpc_byte_buffer_destroy(resp);
    }
    grpc_slice_unref(details);
    grpc_slice_unref(md.value);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    if (!prebuilt)
        grpc_byte_buffer_destroy(bb);
    grpc_call_unref(call);
    grpc_channel_destroy(ch);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    return out;
}

static const char one_span_json[] = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
                                    "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\"}]}]}]}";

static grpc_reply grpc_export(const char *target, const char *method, const void *body, size_t n, const char *token,
                              int gzip)
{
    return grpc_export_with(target, method, body, n, token, gzip, NULL, NULL);
}

#define TRACE_EXPORT "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define METRICS_EXPORT "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

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
                 "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [testsink]\n",
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
             "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [testsink]\n",
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
