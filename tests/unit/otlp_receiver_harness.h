/* Shared by the otlp receiver tests (test_otlp_receiver.c: HTTP, config,
 * codec guards; test_otlp_receiver_grpc.c: gRPC, TLS, concurrency,
 * shutdown): an engine built from YAML with the real receiver and a test
 * exporter ("testsink") that counts what arrives and answers what the test
 * tells it to; request bodies; an HTTP client (libcurl) and a gRPC core
 * client. Every server started listens on a free 127.0.0.1 port and is
 * stopped by its test. Each test program uses part of it. */
#ifndef KVS_TEST_OTLP_RECEIVER_HARNESS_H
#define KVS_TEST_OTLP_RECEIVER_HARNESS_H
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
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
             "service:\n  telemetry: {metrics: {level: none}}\n  shutdown_timeout: 5s\n  pipelines:\n"
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

#pragma GCC diagnostic pop
#endif
