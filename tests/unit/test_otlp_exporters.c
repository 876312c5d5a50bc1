/* exporters/otlphttp against a libmicrohttpd sink on 127.0.0.1 with
 * scripted answers (200, 503 + Retry-After, 400, partial success), and
 * exporters/otlp against a gRPC core server (UNAVAILABLE with RetryInfo,
 * RESOURCE_EXHAUSTED with grpc-retry-pushback-ms, INVALID_ARGUMENT, OK with
 * partial success). Bodies are decoded by the test servers (gzip, zstd,
 * protobuf, OTLP/JSON). Every server started here is stopped here; every
 * wait is bounded (5 s). */
#include "core/clock.h"
#include "core/component.h"
#include "core/sending_queue.h"
#include "formats/otlp_json.h"

#include <arpa/inet.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>

#include "unit_helpers.h"

extern const kvs_component_def kvs_exporter_otlp, kvs_exporter_otlphttp;

/* ---- shared helpers ---- */

/* Spans in a protobuf ExportTraceServiceRequest; -1 when it does not decode. */
static long proto_spans(const uint8_t *p, size_t n)
{
    kvs_traces_req *r = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, n, p);
    if (!r)
        return -1;
    long k = (long)kvs_count_items(KVS_SIG_TRACES, &r->base);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r, NULL);
    return k;
}

/* google.rpc.Status{code, message, details: [RetryInfo{retry_delay}]} (retry_ms 0: no detail). */
static size_t status_bytes(int code, const char *msg, unsigned retry_ms, uint8_t *out)
{
    static const char url[] = "type.googleapis.com/google.rpc.RetryInfo";
    size_t n = 0, ml = strlen(msg);
    out[n++] = 0x08, out[n++] = (uint8_t)code;
    out[n++] = 0x12, out[n++] = (uint8_t)ml;
    memcpy(out + n, msg, ml), n += ml;
    if (retry_ms) {
        uint8_t dur[8], dn = 0;
        uint32_t nanos = (retry_ms % 1000) * 1000000u;
        dur[dn++] = 0x08, dur[dn++] = (uint8_t)(retry_ms / 1000);
        dur[dn++] = 0x10;
        for (; nanos >= 0x80; nanos >>= 7)
            dur[dn++] = (uint8_t)(nanos | 0x80);
        dur[dn++] = (uint8_t)nanos;
        size_t ul = sizeof url - 1, any_len = 2 + ul + 2 + 2 + dn;
        out[n++] = 0x1a, out[n++] = (uint8_t)any_len;
        out[n++] = 0x0a, out[n++] = (uint8_t)ul;
        memcpy(out + n, url, ul), n += ul;
        out[n++] = 0x12, out[n++] = (uint8_t)(2 + dn);
        out[n++] = 0x0a, out[n++] = dn;
        memcpy(out + n, dur, dn), n += dn;
    }
    return n;
}

/* An ExportTraceServiceResponse, with a partial_success when rejected > 0. */
static size_t pack_response(int64_t rejected, const char *why, uint8_t *out)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    ps.rejected_spans = rejected;
    ps.error_message = (char *)why;
    resp.partial_success = rejected ? &ps : NULL;
    return protobuf_c_message_pack(&resp.base, out);
}

/* An exporter created from YAML, as the engine would. */
typedef struct exp_rig {
    const kvs_component_def *def;
    kvs_cfg_doc *doc;
    kvs_telemetry tel;
    void *state;
} exp_rig;

static unsigned rig_signals = KVS_SIG_ALL; /* the signals the next exporter is wired for */

static int exp_up(exp_rig *r, const kvs_component_def *def, const char *yaml, kvs_error *err)
{
    memset(r, 0, sizeof *r);
    r->def = def;
    kvs_telemetry_init(&r->tel, def->type, "exporter");
    r->doc = kvs_cfg_load_string("test.yaml", yaml, strlen(yaml), NULL, NULL, err);
    assert_non_null(r->doc);
    kvs_create_ctx ctx = { .id = def->type, .cfg = kvs_cfg_root(r->doc), .signals = rig_signals, .tel = &r->tel };
    int rc = def->create(&ctx, &r->state, err);
    if (rc == 0 && (rc = def->start(r->state, err)) != 0) {
        def->destroy(r->state);
        r->state = NULL;
    }
    if (rc != 0) {
        kvs_cfg_free(r->doc);
        kvs_telemetry_destroy(&r->tel);
    }
    return rc;
}

/* exp_up from a printf format; a failure fails the test. */
__attribute__((format(printf, 3, 4))) static void exp_upf(exp_rig *r, const kvs_component_def *def, const char *fmt, ...)
{
    char yaml[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof yaml, fmt, ap);
    va_end(ap);
    kvs_error err = { 0 };
    if (exp_up(r, def, yaml, &err) != 0)
        fail_msg("%s", err.msg);
}

static void exp_down(exp_rig *r)
{
    r->def->shutdown(r->state, kvs_now_ns() + 5 * KVS_SEC);
    r->def->destroy(r->state);
    kvs_cfg_free(r->doc);
    kvs_telemetry_destroy(&r->tel);
}

static void exp_send(exp_rig *r, kvs_batch *b)
{
    kvs_error err;
    assert_int_equal(r->def->consume(r->state, b, &err), 0);
    kvs_batch_unref(b);
}

#define FAST_RETRY                                                                                         \
    "timeout: 3s\nsending_queue: {num_consumers: 1, queue_size: 10}\n"                                   \
    "retry_on_failure: {initial_interval: 1ms, max_interval: 5ms, max_elapsed_time: 10s}\n"

/* ---- the HTTP sink ---- */

typedef struct http_req {
    char path[128], ctype[64], cenc[16], tenant[16];
    long spans;
    uint64_t at_ns;
} http_req;

typedef struct sink {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    int script[8], nscript;           /* statuses by request; 200 past the script */
    const char *ok_body, *ok_ctype;   /* body of 200 answers (NULL: empty) */
    size_t ok_len;
    http_req reqs[16];
    int nreqs;
} sink;

/* Spans in a request body as sent (gzip / zstd / none; protobuf or JSON); -1 when it does not decode. */
static long decode_http_body(const char *cenc, const char *ctype, const kvs_buf *in)
{
    size_t cap = 1 << 22, n = in->len;
    uint8_t *raw = malloc(cap);
    if (strcmp(cenc, "gzip") == 0) {
        uLongf out = cap;
        z_stream z = { .next_in = (Bytef *)in->data, .avail_in = (uInt)in->len, .next_out = raw, .avail_out = (uInt)out };
        int ok = inflateInit2(&z, 15 + 16) == Z_OK && inflate(&z, Z_FINISH) == Z_STREAM_END;
        n = ok ? z.total_out : (size_t)-1;
        inflateEnd(&z);
    } else if (strcmp(cenc, "zstd") == 0) {
        n = ZSTD_decompress(raw, cap, in->data, in->len);
        n = ZSTD_isError(n) ? (size_t)-1 : n;
    } else {
        memcpy(raw, in->data, n < cap ? n : cap);
    }
    long spans = -1;
    kvs_otlp_doc doc = { 0 };
    kvs_json_error je;
    kvs_arena *a = kvs_arena_new();
    if (n != (size_t)-1 && strcmp(ctype, "application/json") == 0)
        spans = kvs_otlp_json_decode((const char *)raw, n, a, &doc, &je) == 0 && doc.traces
                    ? (long)kvs_count_items(KVS_SIG_TRACES, &doc.traces->base) : -1;
    else if (n != (size_t)-1)
        spans = proto_spans(raw, n);
    kvs_arena_free(a);
    free(raw);
    return spans;
}

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    sink *s = cls;
    kvs_buf *u = *con_cls; /* the body so far */
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*size) {
        kvs_buf_append(u, data, *size);
        *size = 0;
        return MHD_YES;
    }
    http_req r = { .at_ns = kvs_now_ns() };
    snprintf(r.path, sizeof r.path, "%s", url);
    copy_header(c, "Content-Type", r.ctype, sizeof r.ctype);
    copy_header(c, "Content-Encoding", r.cenc, sizeof r.cenc);
    copy_header(c, "x-tenant", r.tenant, sizeof r.tenant);
    r.spans = decode_http_body(r.cenc, r.ctype, u);
    pthread_mutex_lock(&s->lock);
    int i = s->nreqs;
    if (s->nreqs < 16)
        s->reqs[s->nreqs++] = r;
    int status = i < s->nscript ? s->script[i] : 200;
    pthread_mutex_unlock(&s->lock);
    uint8_t err_body[128];
    size_t len = 0;
    const void *body = "";
    if (status == 200 && s->ok_body)
        body = s->ok_body, len = s->ok_len;
    else if (status != 200)
        body = err_body, len = status_bytes(status == 400 ? 3 : 14, "scripted failure", 0, err_body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (status == 503)
        MHD_add_response_header(resp, "Retry-After", "1");
    MHD_add_response_header(resp, "Content-Type",
                            status == 200 && s->ok_ctype ? s->ok_ctype : "application/x-protobuf");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    kvs_buf *u = *con_cls;
    if (u)
        kvs_buf_free(u);
    free(u);
    *con_cls = NULL;
}

static void sink_start(sink *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &a,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    assert_non_null(s->d);
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    assert_true(s->port > 0);
}

static void sink_stop(sink *s)
{
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
}

static int sink_count(sink *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->nreqs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- otlphttp tests ---- */

static void test_http_encodings(void **st)
{
    static const struct { const char *enc, *comp, *ctype, *cenc; } cases[] = {
        { "proto", "gzip", "application/x-protobuf", "gzip" },
        { "json", "zstd", "application/json", "zstd" },
        { "proto", "none", "application/x-protobuf", "" },
        { "json", "gzip", "application/json", "gzip" },
    };
    sink s;
    sink_start(&s);
    /* Each case twice: a decoded request (packed or JSON-encoded), then one
     * in wire form (its received bytes sent as they are, or decoded for JSON). */
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t k = 0; k < 2 * ncases; k++) {
        size_t i = k % ncases;
        exp_rig r;
        exp_upf(&r, &kvs_exporter_otlphttp,
                "endpoint: http://127.0.0.1:%d/\nencoding: %s\ncompression: %s\nheaders: {x-tenant: t%zu}\n" FAST_RETRY,
                s.port, cases[i].enc, cases[i].comp, i);
        exp_send(&r, k < ncases ? make_traces(3, "lmcache.retrieve") : make_traces_wire(3, "lmcache.retrieve"));
        assert_int_equal(wait_counter(&r.tel.exported, 3), 3);
        exp_down(&r);
        assert_int_equal(sink_count(&s), (int)k + 1);
        http_req *q = &s.reqs[k];
        assert_string_equal(q->path, "/v1/traces");
        assert_string_equal(q->ctype, cases[i].ctype);
        assert_string_equal(q->cenc, cases[i].cenc);
        char tenant[8];
        snprintf(tenant, sizeof tenant, "t%zu", i);
        assert_string_equal(q->tenant, tenant);
        assert_int_equal(q->spans, 3);
    }
    sink_stop(&s);
}

/* 200, then 503 + Retry-After: 1 (retried no sooner), then 400 (not retried), then 200. */
static void test_http_retry_and_permanent(void **st)
{
    sink s;
    sink_start(&s);
    s.script[0] = 200, s.script[1] = 503, s.script[2] = 400, s.script[3] = 200;
    s.nscript = 4;
    exp_rig r;
    exp_upf(&r, &kvs_exporter_otlphttp, "endpoint: http://127.0.0.1:%d\n" FAST_RETRY, s.port);
    exp_send(&r, make_traces(3, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.exported, 3), 3);
    exp_send(&r, make_traces(2, "lmcache.retrieve")); /* 503, then 400 on its retry */
    assert_int_equal(wait_counter(&r.tel.failed, 2), 2);
    exp_send(&r, make_traces(4, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.exported, 7), 7);
    exp_down(&r);
    assert_int_equal(sink_count(&s), 4);
    assert_true(s.reqs[2].at_ns - s.reqs[1].at_ns >= KVS_SEC); /* Retry-After: 1 */
    assert_int_equal(s.reqs[1].spans, 2);
    assert_int_equal(s.reqs[2].spans, 2);
    assert_int_equal(reason_count(&r.tel, "send_failed_permanent"), 2);
    sink_stop(&s);
}

static void test_http_partial_success(void **st)
{
    uint8_t pb[64];
    size_t pblen = pack_response(1, "span too old", pb);
    static const char json[] = "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"span too old\"}}";
    for (int j = 0; j < 2; j++) {
        sink s;
        sink_start(&s);
        s.ok_body = j ? json : (const char *)pb;
        s.ok_len = j ? sizeof json - 1 : pblen;
        s.ok_ctype = j ? "application/json" : "application/x-protobuf";
        exp_rig r;
        exp_upf(&r, &kvs_exporter_otlphttp, "endpoint: http://127.0.0.1:%d\nencoding: %s\n" FAST_RETRY, s.port,
                j ? "json" : "proto");
        exp_send(&r, make_traces(5, "lmcache.retrieve"));
        uint64_t rejected = j ? 2 : 1;
        assert_int_equal(wait_counter(&r.tel.exported, 5 - rejected), 5 - rejected);
        assert_int_equal(wait_counter(&r.tel.failed, rejected), rejected);
        assert_int_equal(reason_count(&r.tel, "rejected_by_backend"), rejected);
        exp_down(&r);
        assert_int_equal(sink_count(&s), 1);
        sink_stop(&s);
    }
}

static void test_http_per_signal_endpoint(void **st)
{
    sink s;
    sink_start(&s);
    exp_rig r;
    rig_signals = KVS_SIG_TRACES; /* no metrics or logs: their URLs are not needed */
    exp_upf(&r, &kvs_exporter_otlphttp, "traces_endpoint: http://127.0.0.1:%d/custom/traces\n" FAST_RETRY, s.port);
    rig_signals = KVS_SIG_ALL;
    exp_send(&r, make_traces(1, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.exported, 1), 1);
    exp_down(&r);
    assert_string_equal(s.reqs[0].path, "/custom/traces");
    sink_stop(&s);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Nobody listens: both exporters retry until max_elapsed_time, then count. */
static void test_unreachable_is_retried(void **st)
{
    for (int grpc = 0; grpc < 2; grpc++) {
        exp_rig r;
        exp_upf(&r, grpc ? &kvs_exporter_otlp : &kvs_exporter_otlphttp,
                "endpoint: %s127.0.0.1:%d\ntimeout: 1s\nsending_queue: {num_consumers: 1}\n"
                "retry_on_failure: {initial_interval: 5ms, max_interval: 10ms, max_elapsed_time: 100ms}\n",
                "http://", closed_port());
        exp_send(&r, make_traces(2, "lmcache.retrieve"));
        assert_int_equal(wait_counter(&r.tel.failed, 2), 2);
        assert_int_equal(reason_count(&r.tel, "retries_exhausted"), 2);
        exp_down(&r);
    }
}

/* ---- the gRPC server ---- */

typedef struct grpc_reply {
    grpc_status_code status;
    const char *md_key;          /* one trailing metadata entry, or NULL */
    uint8_t md_val[128];
    size_t md_len;
    int partial;                 /* OK answers carry rejected_spans = partial */
} grpc_reply;

typedef struct gsrv {
    grpc_server *srv;
    grpc_completion_queue *cq;
    atomic_int stopping;          /* set before the server shuts down */
    pthread_t thread;
    int port;
    pthread_mutex_t lock;
    grpc_reply script[8];
    int nscript;
    int ncalls;
    char method[8][96];
    char tenant[8][16];
    long spans[8];
    uint64_t at_ns[8];
} gsrv;

enum { TAG_NEW = 1, TAG_RECV, TAG_DONE, TAG_SHUTDOWN };

static void md_copy(const grpc_metadata_array *md, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0)
            snprintf(out, cap, "%.*s", (int)GRPC_SLICE_LENGTH(md->metadata[i].value),
                     (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value));
}

/* One call at a time: request -> receive message -> answer -> next. */
static void *gsrv_main(void *arg)
{
    gsrv *g = arg;
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array req_md;
    grpc_byte_buffer *msg = NULL, *rb = NULL; /* rb: the answer, kept until its batch is done */
    int cancelled = 0;
    grpc_call_details_init(&details);
    grpc_metadata_array_init(&req_md);
    assert_int_equal(grpc_server_request_call(g->srv, &call, &details, &req_md, g->cq, g->cq, (void *)TAG_NEW),
                     GRPC_CALL_OK);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        intptr_t tag = (intptr_t)ev.tag;
        if (tag == TAG_SHUTDOWN) {
            grpc_completion_queue_shutdown(g->cq); /* pending events still arrive */
        } else if (tag == TAG_NEW && ev.success) {
            grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
            op.data.recv_message.recv_message = &msg;
            grpc_call_start_batch(call, &op, 1, (void *)TAG_RECV, NULL);
        } else if (tag == TAG_RECV) {
            pthread_mutex_lock(&g->lock);
            int i = g->ncalls < 8 ? g->ncalls++ : 7;
            grpc_reply rep = i < g->nscript ? g->script[i] : (grpc_reply){ .status = GRPC_STATUS_OK };
            snprintf(g->method[i], sizeof g->method[i], "%.*s", (int)GRPC_SLICE_LENGTH(details.method),
                     (const char *)GRPC_SLICE_START_PTR(details.method));
            md_copy(&req_md, "x-tenant", g->tenant[i], sizeof g->tenant[i]);
            g->at_ns[i] = kvs_now_ns();
            g->spans[i] = -1;
            if (msg) {
                grpc_byte_buffer_reader rd;
                grpc_byte_buffer_reader_init(&rd, msg);
                grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
                grpc_byte_buffer_reader_destroy(&rd);
                g->spans[i] = proto_spans(GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
                grpc_slice_unref(s);
                grpc_byte_buffer_destroy(msg);
                msg = NULL;
            }
            pthread_mutex_unlock(&g->lock);
            uint8_t out[64];
            grpc_slice body = grpc_slice_from_copied_buffer((const char *)out, pack_response(rep.partial, "", out));
            rb = grpc_raw_byte_buffer_create(&body, 1);
            grpc_slice_unref(body);
            grpc_metadata tmd[1];
            memset(tmd, 0, sizeof tmd);
            if (rep.md_key) {
                tmd[0].key = grpc_slice_from_static_string(rep.md_key);
                tmd[0].value = grpc_slice_from_copied_buffer((const char *)rep.md_val, rep.md_len);
            }
            grpc_slice det = grpc_slice_from_static_string("scripted");
            grpc_op ops[4] = { { 0 } };
            size_t n = 0;
            ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
            if (rep.status == GRPC_STATUS_OK) {
                ops[n].op = GRPC_OP_SEND_MESSAGE;
                ops[n++].data.send_message.send_message = rb;
            }
            ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
            ops[n].data.send_status_from_server.status = rep.status;
            ops[n].data.send_status_from_server.status_details = &det;
            ops[n].data.send_status_from_server.trailing_metadata_count = rep.md_key ? 1 : 0;
            ops[n++].data.send_status_from_server.trailing_metadata = tmd;
            ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
            ops[n++].data.recv_close_on_server.cancelled = &cancelled;
            grpc_call_start_batch(call, ops, n, (void *)TAG_DONE, NULL);
            if (rep.md_key) {
                grpc_slice_unref(tmd[0].key);
                grpc_slice_unref(tmd[0].value);
            }
        } else if (tag == TAG_DONE || (tag == TAG_NEW && !ev.success)) {
            if (call)
                grpc_call_unref(call);
            call = NULL;
            if (rb)
                grpc_byte_buffer_destroy(rb);
            rb = NULL;
            grpc_call_details_destroy(&details);
            grpc_metadata_array_destroy(&req_md);
            grpc_call_details_init(&details);
            grpc_metadata_array_init(&req_md);
            if (tag == TAG_DONE && !atomic_load(&g->stopping))
                grpc_server_request_call(g->srv, &call, &details, &req_md, g->cq, g->cq, (void *)TAG_NEW);
        }
    }
    if (msg)
        grpc_byte_buffer_destroy(msg);
    if (rb)
        grpc_byte_buffer_destroy(rb);
    grpc_call_details_destroy(&details);
    grpc_metadata_array_destroy(&req_md);
    return NULL;
}

/* Starts the server and its thread, answering by `script` (OK past it). */
static void gsrv_start(gsrv *g, const grpc_reply *script, int n)
{
    memset(g, 0, sizeof *g);
    memcpy(g->script, script, (size_t)n * sizeof *script);
    g->nscript = n;
    pthread_mutex_init(&g->lock, NULL);
    grpc_init();
    g->srv = grpc_server_create(NULL, NULL);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(g->srv, g->cq, NULL);
    grpc_server_credentials *sc = grpc_insecure_server_credentials_create();
    g->port = grpc_server_add_http2_port(g->srv, "127.0.0.1:0", sc);
    grpc_server_credentials_release(sc);
    assert_true(g->port > 0);
    grpc_server_start(g->srv);
    assert_int_equal(pthread_create(&g->thread, NULL, gsrv_main, g), 0);
}

static void gsrv_stop(gsrv *g)
{
    atomic_store(&g->stopping, 1);
    grpc_server_shutdown_and_notify(g->srv, g->cq, (void *)TAG_SHUTDOWN);
    grpc_server_cancel_all_calls(g->srv);
    /* The serving thread shuts the queue down on TAG_SHUTDOWN and leaves
     * once it is drained. */
    pthread_join(g->thread, NULL);
    grpc_server_destroy(g->srv);
    grpc_completion_queue_destroy(g->cq);
    grpc_shutdown();
    pthread_mutex_destroy(&g->lock);
}

static int gsrv_calls(gsrv *g)
{
    pthread_mutex_lock(&g->lock);
    int n = g->ncalls;
    pthread_mutex_unlock(&g->lock);
    return n;
}

static void grpc_exporter(gsrv *g, exp_rig *r)
{
    exp_upf(r, &kvs_exporter_otlp, "endpoint: 127.0.0.1:%d\ntls: {insecure: true}\nheaders: {X-Tenant: t1}\n" FAST_RETRY,
            g->port);
}

/* ---- otlp (gRPC) tests ---- */

static void test_grpc_unavailable_then_ok(void **st)
{
    gsrv g;
    grpc_reply busy = { .status = GRPC_STATUS_UNAVAILABLE, .md_key = "grpc-status-details-bin" };
    busy.md_len = status_bytes(14, "busy", 300, busy.md_val); /* RetryInfo: 300 ms */
    gsrv_start(&g, &busy, 1);
    exp_rig r;
    grpc_exporter(&g, &r);
    /* In wire form: the same received bytes are lent to gRPC on both attempts. */
    exp_send(&r, make_traces_wire(3, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.exported, 3), 3);
    exp_down(&r);
    assert_int_equal(gsrv_calls(&g), 2);
    assert_string_equal(g.method[0], "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    assert_string_equal(g.tenant[0], "t1");
    assert_int_equal(g.spans[0], 3);
    assert_int_equal(g.spans[1], 3);
    assert_true(g.at_ns[1] - g.at_ns[0] >= 300 * KVS_MS); /* RetryInfo honoured */
    gsrv_stop(&g);
}

static void test_grpc_pushback_and_permanent(void **st)
{
    gsrv g;
    grpc_reply script[5] = {
        { .status = GRPC_STATUS_RESOURCE_EXHAUSTED, .md_key = "grpc-retry-pushback-ms", .md_val = "200", .md_len = 3 },
        { .status = GRPC_STATUS_OK },
        { .status = GRPC_STATUS_INVALID_ARGUMENT },
        { .status = GRPC_STATUS_RESOURCE_EXHAUSTED }, /* no delay given: permanent */
        { .status = GRPC_STATUS_OK, .partial = 1 },
    };
    gsrv_start(&g, script, 5);
    exp_rig r;
    grpc_exporter(&g, &r);
    exp_send(&r, make_traces(2, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.exported, 2), 2);
    exp_send(&r, make_traces(3, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.failed, 3), 3);
    exp_send(&r, make_traces(4, "lmcache.retrieve"));
    assert_int_equal(wait_counter(&r.tel.failed, 7), 7);
    exp_send(&r, make_traces(5, "lmcache.retrieve")); /* partial success: 1 rejected */
    assert_int_equal(wait_counter(&r.tel.exported, 6), 6);
    assert_int_equal(wait_counter(&r.tel.failed, 8), 8);
    kvs_batch *logs = kvs_batch_new(KVS_SIG_LOGS);
    logs->items = 1; /* an empty request, counted as one: checks the method */
    exp_send(&r, logs);
    assert_int_equal(wait_counter(&r.tel.exported, 7), 7);
    exp_down(&r);
    assert_int_equal(gsrv_calls(&g), 6);
    assert_true(g.at_ns[1] - g.at_ns[0] >= 200 * KVS_MS);
    assert_int_equal(reason_count(&r.tel, "send_failed_permanent"), 7);
    assert_int_equal(reason_count(&r.tel, "rejected_by_backend"), 1);
    assert_string_equal(g.method[5], "/opentelemetry.proto.collector.logs.v1.LogsService/Export");
    gsrv_stop(&g);
}

static void test_config_errors(void **st)
{
    static const struct { int grpc; const char *yaml, *needle; } cases[] = {
        { 0, "encoding: proto\n", "endpoint" },
        { 0, "endpoint: ftp://x\n", "http://" },
        { 0, "endpoint: http://x\ncompresion: gzip\n", "compresion" },
        { 0, "endpoint: http://x\ncompression: brotli\n", "compression" },
        { 0, "endpoint: http://x\nheaders: {Content-Type: x}\n", "Content-Type" },
        { 0, "endpoint: http://x\ntls: {cert_file: a}\n", "key_file" },
        { 1, "compression: gzip\n", "endpoint" },
        { 1, "endpoint: https://x:4317\ntls: {insecure: true}\n", "insecure" },
        { 1, "endpoint: x:4317\ntls: {key_file: k}\n", "cert_file" },
        { 1, "endpoint: x:4317\nheaders: {grpc-timeout: 1}\n", "grpc-timeout" },
        { 1, "endpoint: x:4317\ncompression: zstd\n", "compression" },
        { 1, "endpoint: x:4317\nbalancer_name: rr\n", "balancer_name" },
        { 1, "endpoint: x:4317\ntls: {insecure: false, ca_file: /nonexistent}\n", "/nonexistent" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exp_rig r;
        kvs_error err = { 0 };
        assert_int_not_equal(exp_up(&r, cases[i].grpc ? &kvs_exporter_otlp : &kvs_exporter_otlphttp, cases[i].yaml, &err), 0);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("%s: expected \"%s\" in: %s", cases[i].yaml, cases[i].needle, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_encodings),
        cmocka_unit_test(test_http_retry_and_permanent),
        cmocka_unit_test(test_http_partial_success),
        cmocka_unit_test(test_http_per_signal_endpoint),
        cmocka_unit_test(test_unreachable_is_retried),
        cmocka_unit_test(test_grpc_unavailable_then_ok),
        cmocka_unit_test(test_grpc_pushback_and_permanent),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
