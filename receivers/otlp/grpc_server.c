/* Receiver `otlp`, gRPC transport (gRPC core C API).
 *
 * Threading: one completion queue, polled by GRPC_THREADS threads of ours.
 * For each Export method of a signal wired to a pipeline, GRPC_PER_METHOD
 * calls are requested ahead (grpc_server_request_registered_call, the
 * request message read with the call); each completed request is re-armed
 * at once, then handled on the polling thread that got it: auth check,
 * protobuf decode into a batch arena, kvs_next_consume, then one batch
 * (initial metadata, response, status, close) whose completion frees the
 * call. Methods of unwired signals and unknown methods come through
 * grpc_server_request_call and are answered UNIMPLEMENTED, as the Collector
 * does for a service it did not register. gzip/deflate-compressed messages
 * are inflated here (codec.c), not by gRPC core (which would inflate a
 * whole compression bomb before checking its size): both the message as
 * sent and as inflated are held to max_recv_msg_size_mib.
 *
 * Shutdown: grpc_server_shutdown_and_notify (no new calls), wait for
 * in-flight calls until the deadline, then grpc_server_cancel_all_calls;
 * then the server is destroyed, the queue shut down and drained, the
 * threads joined. */
#include "receivers/otlp/otlp_internal.h"

#include "core/clock.h"
#include "core/log.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRPC_THREADS 4
#define GRPC_PER_METHOD 8
#define GRPC_GENERIC_AHEAD 2

typedef enum { ST_REQUESTED, ST_FINISHING } call_state;

typedef struct gcall {
    kvs_otlp_grpc *g;
    int sig;                     /* signal index, or -1 for any other method */
    call_state st;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details;   /* sig == -1 */
    grpc_byte_buffer *payload;
    grpc_byte_buffer *resp;
    grpc_slice status_msg;
    int has_status_msg;
    int cancelled;
} gcall;

struct kvs_otlp_grpc {
    kvs_otlp_recv *r;
    grpc_server *server;
    grpc_completion_queue *cq;
    void *methods[KVS_NSIG];
    pthread_t threads[GRPC_THREADS];
    int nthreads;
    atomic_int stopping;
    int quiesced;
    int shutdown_tag;            /* its address is the shutdown notification's tag */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int shutdown_done;
};

static const char *const method_path[KVS_NSIG] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

static void call_free(gcall *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md);
    if (c->sig < 0)
        grpc_call_details_destroy(&c->details);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->resp)
        grpc_byte_buffer_destroy(c->resp);
    if (c->has_status_msg)
        grpc_slice_unref(c->status_msg);
    free(c);
}

/* Asks for the next call of a method (sig >= 0) or of any other (-1). */
static void request_call(kvs_otlp_grpc *g, int sig)
{
    if (atomic_load(&g->stopping))
        return;
    gcall *c = calloc(1, sizeof *c);
    if (!c) {
        KVS_ERROR(g->r->id, "out of memory: cannot accept another gRPC call");
        return;
    }
    c->g = g;
    c->sig = sig;
    c->st = ST_REQUESTED;
    grpc_metadata_array_init(&c->md);
    grpc_call_error e;
    if (sig >= 0) {
        e = grpc_server_request_registered_call(g->server, g->methods[sig], &c->call, &c->deadline, &c->md,
                                                &c->payload, g->cq, g->cq, c);
    } else {
        grpc_call_details_init(&c->details);
        e = grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, c);
    }
    if (e != GRPC_CALL_OK) {
        if (!atomic_load(&g->stopping))
            KVS_ERROR(g->r->id, "gRPC: cannot request a call: %s", grpc_call_error_to_string(e));
        call_free(c);
    }
}

static int auth_ok(const gcall *c, const char *token)
{
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *m = &c->md.metadata[i];
        if (GRPC_SLICE_LENGTH(m->key) == 13 && memcmp(GRPC_SLICE_START_PTR(m->key), "authorization", 13) == 0)
            return kvs_otlp_bearer_ok((const char *)GRPC_SLICE_START_PTR(m->value), GRPC_SLICE_LENGTH(m->value),
                                      token);
    }
    return 0;
}

/* Takes the request message as it came (per-message decompression is off
 * in gRPC core, which would inflate without a bound): its slices into one
 * buffer, and the algorithm it was compressed with. */
static int read_payload(grpc_byte_buffer *bb, uint64_t max, kvs_buf *out, kvs_otlp_enc *enc)
{
    if (bb->type != GRPC_BB_RAW)
        return -1;
    switch (bb->data.raw.compression) {
    case GRPC_COMPRESS_NONE: *enc = KVS_OTLP_IDENTITY; break;
    case GRPC_COMPRESS_DEFLATE: *enc = KVS_OTLP_DEFLATE; break;
    case GRPC_COMPRESS_GZIP: *enc = KVS_OTLP_GZIP; break;
    default: return -1;
    }
    const grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
    if (sb->length <= max && kvs_buf_reserve(out, sb->length) != 0)
        return -3;
    for (size_t i = 0; i < sb->count; i++) {
        size_t n = GRPC_SLICE_LENGTH(sb->slices[i]);
        if (out->len + n > max)
            return -2;
        if (n)
            kvs_buf_append(out, GRPC_SLICE_START_PTR(sb->slices[i]), n);
    }
    return out->oom ? -3 : 0;
}

/* The Export of one signal: fills res and, when OK, c->resp. */
static void handle_export(gcall *c, kvs_otlp_result *res)
{
    kvs_otlp_recv *r = c->g->r;
    const kvs_otlp_grpc_cfg *cfg = &r->grpc_cfg;
    kvs_signal sig = kvs_signal_at(c->sig);
    memset(res, 0, sizeof *res);
    if (cfg->bearer_token && !auth_ok(c, cfg->bearer_token)) {
        kvs_otlp_bad_request(r, res, 401, KVS_RPC_UNAUTHENTICATED, "missing or invalid bearer token");
        return;
    }
    if (!c->payload) {
        kvs_otlp_bad_request(r, res, 400, KVS_RPC_INVALID_ARGUMENT, "no request message");
        return;
    }
    kvs_buf in = { 0 };
    kvs_otlp_enc enc = KVS_OTLP_IDENTITY;
    uint8_t *raw = NULL;
    size_t rawn = 0;
    char msg[512];
    int rc = read_payload(c->payload, cfg->max_recv_bytes, &in, &enc);
    if (rc == 0 && enc != KVS_OTLP_IDENTITY) {
        rc = kvs_otlp_decompress(enc, (const uint8_t *)in.data, in.len, cfg->max_recv_bytes, &raw, &rawn, msg,
                                 sizeof msg);
        if (rc == KVS_OTLP_E_TOO_LARGE)
            rc = -2;
        else if (rc == KVS_OTLP_E_BAD)
            rc = -4;
        else if (rc != 0)
            rc = -3;
    }
    if (rc == -2)
        kvs_otlp_bad_request(r, res, 413, KVS_RPC_RESOURCE_EXHAUSTED,
                             "request message larger than max_recv_msg_size_mib (%llu bytes)%s",
                             (unsigned long long)cfg->max_recv_bytes, enc != KVS_OTLP_IDENTITY ? " once decompressed" : "");
    else if (rc == -1)
        kvs_otlp_bad_request(r, res, 400, KVS_RPC_INVALID_ARGUMENT, "unsupported message compression");
    else if (rc == -4)
        kvs_otlp_bad_request(r, res, 400, KVS_RPC_INVALID_ARGUMENT, "%s", msg);
    else if (rc != 0)
        snprintf(res->msg, sizeof res->msg, "out of memory"), res->rpc = KVS_RPC_UNAVAILABLE;
    else if (raw)
        kvs_otlp_handle(r, sig, KVS_OTLP_PROTOBUF, raw, rawn, res), raw = NULL;
    else
        kvs_otlp_handle(r, sig, KVS_OTLP_PROTOBUF, (uint8_t *)in.data, in.len, res), in = (kvs_buf){ 0 };
    free(raw);
    kvs_buf_free(&in);
    if (res->rpc != KVS_RPC_OK)
        return;
    kvs_buf out = { 0 };
    if (kvs_otlp_response(sig, KVS_OTLP_PROTOBUF, res->rejected, res->msg, &out) != 0) {
        kvs_buf_free(&out);
        return;
    }
    grpc_slice s = grpc_slice_from_copied_buffer(out.data ? out.data : "", out.len);
    c->resp = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    kvs_buf_free(&out);
}

/* Any method we do not serve: "/package.Service/Method". */
static void handle_other(gcall *c, kvs_otlp_result *res)
{
    memset(res, 0, sizeof *res);
    res->rpc = KVS_RPC_UNIMPLEMENTED;
    char m[256];
    size_t n = GRPC_SLICE_LENGTH(c->details.method);
    if (n >= sizeof m)
        n = sizeof m - 1;
    memcpy(m, GRPC_SLICE_START_PTR(c->details.method), n);
    m[n] = 0;
    for (char *p = m; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    char *slash = m[0] == '/' ? strchr(m + 1, '/') : NULL;
    if (!slash) {
        snprintf(res->msg, sizeof res->msg, "unknown method %s", m);
        return;
    }
    *slash = 0;
    const char *service = m + 1, *method = slash + 1;
    for (int s = 0; s < KVS_NSIG; s++)
        if (strcmp(service, kvs_otlp_service_name(kvs_signal_at(s))) == 0 && strcmp(method, "Export") != 0) {
            snprintf(res->msg, sizeof res->msg, "unknown method %s for service %s", method, service);
            return;
        }
    snprintf(res->msg, sizeof res->msg, "unknown service %s", service);
}

static void answer(gcall *c)
{
    kvs_otlp_result res;
    if (c->sig >= 0)
        handle_export(c, &res);
    else
        handle_other(c, &res);
    if (res.rpc != KVS_RPC_OK && res.msg[0]) {
        c->status_msg = grpc_slice_from_copied_string(res.msg);
        c->has_status_msg = 1;
    }
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n++].data.send_initial_metadata.count = 0;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    if (res.rpc == KVS_RPC_OK && c->resp) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp;
    } else if (res.rpc == KVS_RPC_OK) {
        res.rpc = KVS_RPC_UNAVAILABLE; /* could not build the response */
        c->status_msg = grpc_slice_from_copied_string("out of memory building the response");
        c->has_status_msg = 1;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    ops[n].data.send_status_from_server.status = (grpc_status_code)res.rpc;
    ops[n++].data.send_status_from_server.status_details = c->has_status_msg ? &c->status_msg : NULL;
    c->st = ST_FINISHING;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
    if (e != GRPC_CALL_OK) {
        KVS_WARN(c->g->r->id, "gRPC: cannot answer a call: %s", grpc_call_error_to_string(e));
        call_free(c);
    }
}

static void on_event(kvs_otlp_grpc *g, gcall *c, int ok)
{
    if (c->st == ST_FINISHING || !ok) {
        /* The answer went out (or the call died), or a requested call was
         * given back at shutdown. */
        call_free(c);
        return;
    }
    request_call(g, c->sig);
    answer(c);
}

static void *poll_main(void *arg)
{
    kvs_otlp_grpc *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &g->shutdown_tag) {
            pthread_mutex_lock(&g->lock);
            g->shutdown_done = 1;
            pthread_cond_broadcast(&g->cond);
            pthread_mutex_unlock(&g->lock);
            continue;
        }
        on_event(g, ev.tag, ev.success);
    }
    return NULL;
}

static grpc_server_credentials *make_creds(kvs_otlp_recv *r, kvs_error *err)
{
    const kvs_otlp_tls *t = &r->grpc_cfg.tls;
    if (!t->cert_file)
        return grpc_insecure_server_credentials_create();
    char *cert = kvs_otlp_read_file(t->cert_file, "grpc tls cert_file", err);
    char *key = cert ? kvs_otlp_read_file(t->key_file, "grpc tls key_file", err) : NULL;
    char *ca = key && t->client_ca_file ? kvs_otlp_read_file(t->client_ca_file, "grpc tls client_ca_file", err) : NULL;
    grpc_server_credentials *creds = NULL;
    if (cert && key && (ca || !t->client_ca_file)) {
        grpc_ssl_pem_key_cert_pair pair = { key, cert };
        creds = grpc_ssl_server_credentials_create_ex(
            ca, &pair, 1, ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        if (!creds)
            kvs_errorf(err, KVS_E_INVALID, "grpc tls: cannot use %s / %s", t->cert_file, t->key_file);
    }
    free(cert);
    free(key);
    free(ca);
    return creds;
}

/* Tears down a server that has no polling threads (never started, or no
 * thread could be created): polls the queue itself. */
static void destroy_unstarted(kvs_otlp_grpc *g)
{
    if (g->server) {
        grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_OP_COMPLETE && ev.tag == &g->shutdown_tag)
                break;
            if (ev.type == GRPC_OP_COMPLETE)
                call_free(ev.tag);
        }
        grpc_server_destroy(g->server);
    }
    grpc_completion_queue_shutdown(g->cq);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag != &g->shutdown_tag)
            call_free(ev.tag);
    }
    grpc_completion_queue_destroy(g->cq);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
    grpc_shutdown();
}

int kvs_otlp_grpc_start(kvs_otlp_recv *r, kvs_error *err)
{
    const kvs_otlp_grpc_cfg *cfg = &r->grpc_cfg;
    kvs_otlp_grpc *g = calloc(1, sizeof *g);
    if (!g)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    g->r = r;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    grpc_init();
    g->cq = grpc_completion_queue_create_for_next(NULL);

    grpc_arg args[4];
    size_t nargs = 0;
    memset(args, 0, sizeof args);
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[nargs++].value.integer = (int)cfg->max_recv_bytes;
    /* One process per port: fail to bind rather than share it silently. */
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
    args[nargs++].value.integer = 0;
    /* Compressed messages come to us as they are and are inflated under
     * the receive limit (gRPC core would inflate them whole first). */
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION;
    args[nargs++].value.integer = 0;
    if (cfg->max_concurrent_streams > 0) {
        args[nargs].type = GRPC_ARG_INTEGER;
        args[nargs].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
        args[nargs++].value.integer = (int)(cfg->max_concurrent_streams > INT32_MAX ? INT32_MAX : cfg->max_concurrent_streams);
    }
    grpc_channel_args chargs = { nargs, args };
    g->server = grpc_server_create(&chargs, NULL);
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    for (int s = 0; s < KVS_NSIG; s++)
        if (r->next[s])
            g->methods[s] = grpc_server_register_method(g->server, method_path[s], NULL,
                                                        GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    grpc_server_credentials *creds = make_creds(r, err);
    if (!creds) {
        destroy_unstarted(g);
        return KVS_E_INVALID;
    }
    char addr[300];
    snprintf(addr, sizeof addr, strchr(cfg->host, ':') ? "[%s]:%d" : "%s:%d", cfg->host, cfg->port);
    int port = grpc_server_add_http2_port(g->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        destroy_unstarted(g);
        return kvs_errorf(err, KVS_E_IO, "%s: cannot listen for OTLP/gRPC on %s (address in use or not local?)",
                          r->id, addr);
    }
    grpc_server_start(g->server);
    for (int s = 0; s < KVS_NSIG; s++)
        for (int k = 0; g->methods[s] && k < GRPC_PER_METHOD; k++)
            request_call(g, s);
    for (int k = 0; k < GRPC_GENERIC_AHEAD; k++)
        request_call(g, -1);
    for (int i = 0; i < GRPC_THREADS; i++) {
        if (pthread_create(&g->threads[i], NULL, poll_main, g) != 0)
            break;
        g->nthreads++;
    }
    if (g->nthreads == 0) {
        atomic_store(&g->stopping, 1);
        destroy_unstarted(g);
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the gRPC threads", r->id);
    }
    r->grpc = g;
    KVS_INFO(r->id, "OTLP/gRPC listening on %s:%d%s%s", cfg->host, port, cfg->tls.cert_file ? " (TLS)" : "",
             cfg->bearer_token ? " (bearer token)" : "");
    return 0;
}

void kvs_otlp_grpc_quiesce(kvs_otlp_recv *r)
{
    kvs_otlp_grpc *g = r->grpc;
    if (!g || g->quiesced)
        return;
    atomic_store(&g->stopping, 1);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
    g->quiesced = 1;
}

void kvs_otlp_grpc_stop(kvs_otlp_recv *r, uint64_t deadline_ns)
{
    kvs_otlp_grpc *g = r->grpc;
    if (!g)
        return;
    kvs_otlp_grpc_quiesce(r);
    pthread_mutex_lock(&g->lock);
    struct timespec ts = kvs_timespec(deadline_ns);
    while (!g->shutdown_done && deadline_ns && kvs_now_ns() < deadline_ns)
        pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    int done = g->shutdown_done;
    pthread_mutex_unlock(&g->lock);
    if (!done) {
        if (deadline_ns)
            KVS_WARN(r->id, "gRPC calls still in flight at the shutdown deadline: cancelling them");
        grpc_server_cancel_all_calls(g->server);
        pthread_mutex_lock(&g->lock);
        while (!g->shutdown_done)
            pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
    }
    grpc_server_destroy(g->server);
    grpc_completion_queue_shutdown(g->cq);
    for (int i = 0; i < g->nthreads; i++)
        pthread_join(g->threads[i], NULL);
    grpc_completion_queue_destroy(g->cq);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
    r->grpc = NULL;
    grpc_shutdown();
}
