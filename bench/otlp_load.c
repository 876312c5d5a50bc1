/* otlp_load: an OTLP load generator for kvscope's otlp receiver, over
 * OTLP/HTTP (libcurl) or OTLP/gRPC (gRPC core's C API).
 *
 * Builds a few ExportTraceServiceRequest bodies (protobuf) of LMCache-shaped
 * spans once (a `request` root with typed attributes session_id,
 * hit_tokens, requested_tokens, hit_rate, and the children
 * mp.lookup_prefetch, mp.retrieve, mp.store with string attributes), then
 * sends them for a bounded time, optionally paced to an offered rate, with
 * N requests in flight: POSTs over N keep-alive HTTP/1.1 connections of
 * one libcurl multi handle (--url), or N concurrent TraceService/Export
 * calls on one gRPC channel (--grpc). Measures per-request latency (send
 * to answer) and counts answers: accepted (200 / OK), refused (503 or 429
 * / UNAVAILABLE or RESOURCE_EXHAUSTED: retry later), anything else.
 *
 *   otlp_load (--url http://127.0.0.1:4318/v1/traces | --grpc 127.0.0.1:4317)
 *             [--connections 8] [--duration 10] [--rate SPANS_PER_S]
 *             [--requests-per-body 50] [--max-requests N]
 *   otlp_load --dump DIR [--requests-per-body N]
 *
 * --dump writes the bodies to DIR/body-<i>.pb and sends nothing (the test
 * script seeds the OTLP body fuzz target with them).
 *
 * Prints one summary line of key=value pairs (for scripts):
 *   requests= ok= refused= errors= spans_offered= spans_ok= seconds=
 *   spans_per_s= p50_ms= p99_ms= max_ms= body_bytes=
 * Exit status 0 when the run completed (whatever the answers), 2 on usage
 * or setup errors. */
#include "core/otlp.h"

#include <curl/curl.h>
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NBODIES 8
#define MAX_LAT 20000000u   /* latencies kept (one uint32 of µs each) */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the request bodies ---- */

typedef struct kv_store {
    kvs_kv kv[8];
    kvs_kv *ptr[8];
    kvs_any val[8];
    char str[8][96];
    size_t n;
} kv_store;

static void kv_str(kv_store *s, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kv_str(kv_store *s, const char *key, const char *fmt, ...)
{
    size_t i = s->n++;
    opentelemetry__proto__common__v1__key_value__init(&s->kv[i]);
    opentelemetry__proto__common__v1__any_value__init(&s->val[i]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->str[i], sizeof s->str[i], fmt, ap);
    va_end(ap);
    s->kv[i].key = (char *)key;
    s->val[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    s->val[i].string_value = s->str[i];
    s->kv[i].value = &s->val[i];
    s->ptr[i] = &s->kv[i];
}

static void kv_int(kv_store *s, const char *key, int64_t v)
{
    size_t i = s->n++;
    opentelemetry__proto__common__v1__key_value__init(&s->kv[i]);
    opentelemetry__proto__common__v1__any_value__init(&s->val[i]);
    s->kv[i].key = (char *)key;
    s->val[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    s->val[i].int_value = v;
    s->kv[i].value = &s->val[i];
    s->ptr[i] = &s->kv[i];
}

static void kv_double(kv_store *s, const char *key, double v)
{
    size_t i = s->n++;
    opentelemetry__proto__common__v1__key_value__init(&s->kv[i]);
    opentelemetry__proto__common__v1__any_value__init(&s->val[i]);
    s->kv[i].key = (char *)key;
    s->val[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    s->val[i].double_value = v;
    s->kv[i].value = &s->val[i];
    s->ptr[i] = &s->kv[i];
}

typedef struct span_store {
    kvs_span span;
    kv_store attrs;
    uint8_t trace_id[16], span_id[8], parent[8];
} span_store;

static const char *const models[] = { "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct" };

static void ids(uint8_t *out, size_t n, uint64_t a, uint64_t b)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((i < 8 ? a >> (8 * i) : b >> (8 * (i - 8))) ^ (0x5a + i));
}

static void span_init(span_store *s, const char *name, uint64_t t0, int parent)
{
    opentelemetry__proto__trace__v1__span__init(&s->span);
    s->span.name = (char *)name;
    s->span.trace_id.data = s->trace_id;
    s->span.trace_id.len = 16;
    s->span.span_id.data = s->span_id;
    s->span.span_id.len = 8;
    if (parent) {
        s->span.parent_span_id.data = s->parent;
        s->span.parent_span_id.len = 8;
    }
    s->span.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
    s->span.start_time_unix_nano = t0;
    s->span.end_time_unix_nano = t0 + 1500000;
}

/* One ExportTraceServiceRequest of `nreq` LMCache requests (4 spans each),
 * packed into a malloc'd buffer. */
static uint8_t *build_body(unsigned variant, size_t nreq, size_t *len)
{
    size_t nspans = nreq * 4;
    span_store *ss = calloc(nspans, sizeof *ss);
    kvs_span **sp = calloc(nspans, sizeof *sp);
    if (!ss || !sp) {
        free(ss);
        free(sp);
        return NULL;
    }
    uint64_t t0 = (uint64_t)time(NULL) * 1000000000u;
    for (size_t r = 0; r < nreq; r++) {
        uint64_t n = (uint64_t)variant * 1000003u + r;
        span_store *root = &ss[r * 4];
        span_init(root, "request", t0, 0);
        ids(root->trace_id, 16, n * 2654435761u + 1, n + 7);
        ids(root->span_id, 8, n * 4 + 1, 0);
        long requested = 256 * (long)(4 + n % 13), hit = 256 * (long)(n % 5);
        kv_str(&root->attrs, "session_id", "session-%" PRIu64, n);
        kv_int(&root->attrs, "hit_tokens", hit);
        kv_int(&root->attrs, "requested_tokens", requested);
        kv_double(&root->attrs, "hit_rate", ((double)hit + 0.5) / (double)(requested + 1));
        static const char *const child[] = { "mp.lookup_prefetch", "mp.retrieve", "mp.store" };
        for (int c = 0; c < 3; c++) {
            span_store *s = &ss[r * 4 + 1 + (size_t)c];
            span_init(s, child[c], t0 + 100000 * (uint64_t)(c + 1), 1);
            memcpy(s->trace_id, root->trace_id, 16);
            memcpy(s->parent, root->span_id, 8);
            ids(s->span_id, 8, n * 4 + 2 + (uint64_t)c, 0);
            kv_str(&s->attrs, "model_name", "%s", models[n % 2]);
            if (c == 0)
                kv_str(&s->attrs, "cache_salt", "salt-%lu", (unsigned long)(n % 4));
            else if (c == 1)
                kv_str(&s->attrs, "location", "%s", n % 2 ? "LocalCPUBackend" : "LocalDiskBackend");
            else
                kv_str(&s->attrs, "kv_bytes", "%lu", (unsigned long)(131072 * (1 + n % 7)));
            kv_str(&s->attrs, "chunk_size", "%d", 256);
        }
    }
    for (size_t i = 0; i < nspans; i++) {
        ss[i].span.n_attributes = ss[i].attrs.n;
        ss[i].span.attributes = ss[i].attrs.ptr;
        sp[i] = &ss[i].span;
    }
    kvs_scope scope;
    opentelemetry__proto__common__v1__instrumentation_scope__init(&scope);
    scope.name = "lmcache_mp.server";
    scope.version = "0.1.0";
    kvs_scope_spans sc;
    opentelemetry__proto__trace__v1__scope_spans__init(&sc);
    sc.scope = &scope;
    sc.n_spans = nspans;
    sc.spans = sp;
    kvs_scope_spans *scp = &sc;
    kv_store rattrs = { 0 };
    kv_str(&rattrs, "service.name", "%s", "lmcache-mp-server");
    kv_str(&rattrs, "service.instance.id", "bench-%u", variant);
    kvs_resource res;
    opentelemetry__proto__resource__v1__resource__init(&res);
    res.n_attributes = rattrs.n;
    res.attributes = rattrs.ptr;
    kvs_resource_spans rs;
    opentelemetry__proto__trace__v1__resource_spans__init(&rs);
    rs.resource = &res;
    rs.n_scope_spans = 1;
    rs.scope_spans = &scp;
    kvs_resource_spans *rsp = &rs;
    kvs_traces_req req;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
    req.n_resource_spans = 1;
    req.resource_spans = &rsp;
    *len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
    free(ss);
    free(sp);
    return buf;
}

/* ---- the load ---- */

/* ---- transports: start a request in a slot, collect finished ones ---- */

enum { DONE_OK, DONE_REFUSED, DONE_ERROR };
typedef void (*done_fn)(void *arg, int slot, int outcome);

typedef struct transport {
    void (*start)(void *t, int slot, const uint8_t *body, size_t len);
    /* Waits at most wait_ms for progress; reports each finished request. */
    void (*poll)(void *t, long wait_ms, done_fn done, void *arg);
    void (*close)(void *t);
} transport;

/* OTLP/HTTP: one keep-alive connection per slot. */
typedef struct http_t {
    transport ops;
    CURLM *m;
    CURL **h;
    struct curl_slist *hdr;
    int n;
} http_t;

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void http_start(void *tp, int slot, const uint8_t *body, size_t len)
{
    http_t *t = tp;
    curl_easy_setopt(t->h[slot], CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(t->h[slot], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_multi_add_handle(t->m, t->h[slot]);
}

static void http_poll(void *tp, long wait_ms, done_fn done, void *arg)
{
    http_t *t = tp;
    int running;
    curl_multi_perform(t->m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *slot;
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &slot);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        int outcome = msg->data.result != CURLE_OK ? DONE_ERROR
                      : code == 200               ? DONE_OK
                      : code == 503 || code == 429 ? DONE_REFUSED
                                                   : DONE_ERROR;
        curl_multi_remove_handle(t->m, msg->easy_handle);
        done(arg, (int)(intptr_t)slot, outcome);
    }
    curl_multi_poll(t->m, NULL, 0, (int)wait_ms, NULL);
}

static void http_close(void *tp)
{
    http_t *t = tp;
    for (int i = 0; i < t->n; i++)
        curl_easy_cleanup(t->h[i]);
    curl_multi_cleanup(t->m);
    curl_slist_free_all(t->hdr);
    curl_global_cleanup();
    free(t->h);
    free(t);
}

static transport *http_open(const char *url, int n)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    http_t *t = calloc(1, sizeof *t);
    if (!t || !(t->h = calloc((size_t)n, sizeof *t->h)) || !(t->m = curl_multi_init()))
        return NULL;
    t->ops = (transport){ http_start, http_poll, http_close };
    t->n = n;
    t->hdr = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
    t->hdr = curl_slist_append(t->hdr, "Expect:");
    curl_multi_setopt(t->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
    for (int i = 0; i < n; i++) {
        if (!(t->h[i] = curl_easy_init()))
            return NULL;
        curl_easy_setopt(t->h[i], CURLOPT_URL, url);
        curl_easy_setopt(t->h[i], CURLOPT_HTTPHEADER, t->hdr);
        curl_easy_setopt(t->h[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(t->h[i], CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(t->h[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->h[i], CURLOPT_PRIVATE, (char *)(intptr_t)i);
        curl_easy_setopt(t->h[i], CURLOPT_TCP_NODELAY, 1L);
    }
    return &t->ops;
}

/* OTLP/gRPC: one call in flight per slot on one channel (HTTP/2 streams). */
typedef struct gcall {
    grpc_call *call;
    grpc_byte_buffer *req, *resp;
    grpc_metadata_array initial, trailing;
    grpc_status_code status;
    grpc_slice details;
} gcall;

typedef struct grpc_t {
    transport ops;
    grpc_channel *ch;
    grpc_completion_queue *cq;
    gcall *c;
    int n;
} grpc_t;

static void grpc_start(void *tp, int slot, const uint8_t *body, size_t len)
{
    grpc_t *t = tp;
    gcall *c = &t->c[slot];
    memset(c, 0, sizeof *c);
    grpc_slice s = grpc_slice_from_static_buffer(body, len);
    c->req = grpc_raw_byte_buffer_create(&s, 1);
    grpc_metadata_array_init(&c->initial);
    grpc_metadata_array_init(&c->trailing);
    c->details = grpc_empty_slice();
    c->call = grpc_channel_create_call(t->ch, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                       grpc_slice_from_static_string(
                                           "/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
                                       NULL, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                          gpr_time_from_seconds(30, GPR_TIMESPAN)),
                                       NULL);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->trailing;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    if (!c->call || grpc_call_start_batch(c->call, ops, 6, (void *)(intptr_t)(slot + 1), NULL) != GRPC_CALL_OK)
        c->status = GRPC_STATUS_INTERNAL; /* reported by the next poll */
}

static void grpc_finish(gcall *c)
{
    grpc_byte_buffer_destroy(c->req);
    if (c->resp)
        grpc_byte_buffer_destroy(c->resp);
    grpc_metadata_array_destroy(&c->initial);
    grpc_metadata_array_destroy(&c->trailing);
    grpc_slice_unref(c->details);
    if (c->call)
        grpc_call_unref(c->call);
}

static void grpc_poll(void *tp, long wait_ms, done_fn done, void *arg)
{
    grpc_t *t = tp;
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(wait_ms, GPR_TIMESPAN));
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(t->cq, dl, NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            return;
        int slot = (int)(intptr_t)ev.tag - 1;
        gcall *c = &t->c[slot];
        int outcome = !ev.success ? DONE_ERROR
                      : c->status == GRPC_STATUS_OK ? DONE_OK
                      : c->status == GRPC_STATUS_UNAVAILABLE || c->status == GRPC_STATUS_RESOURCE_EXHAUSTED
                          ? DONE_REFUSED
                          : DONE_ERROR;
        grpc_finish(c);
        done(arg, slot, outcome);
        dl = gpr_now(GPR_CLOCK_MONOTONIC); /* drain what else is ready, then return */
    }
}

static void grpc_close(void *tp)
{
    grpc_t *t = tp;
    grpc_channel_destroy(t->ch);
    grpc_completion_queue_shutdown(t->cq);
    while (grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(t->cq);
    free(t->c);
    free(t);
    grpc_shutdown();
}

static transport *grpc_open(const char *target, int n)
{
    grpc_init();
    grpc_t *t = calloc(1, sizeof *t);
    if (!t || !(t->c = calloc((size_t)n, sizeof *t->c)))
        return NULL;
    t->ops = (transport){ grpc_start, grpc_poll, grpc_close };
    t->n = n;
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    t->ch = grpc_channel_create(target, cr, NULL);
    grpc_channel_credentials_release(cr);
    t->cq = grpc_completion_queue_create_for_next(NULL);
    return t->ch && t->cq ? &t->ops : NULL;
}

/* ---- the run ---- */

typedef struct opts {
    const char *url, *grpc, *dump;
    int connections;
    double duration, rate;
    size_t per_body;
    uint64_t max_requests;
} opts;

typedef struct run_state {
    uint64_t *started_at;   /* per slot; 0 = idle */
    uint32_t *lat;
    uint64_t nlat, max_lat, requests, ok, refused, errors;
} run_state;

static void on_done(void *arg, int slot, int outcome)
{
    run_state *r = arg;
    uint64_t us = (now_ns() - r->started_at[slot]) / 1000;
    if (r->nlat < MAX_LAT)
        r->lat[r->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (us > r->max_lat)
        r->max_lat = us;
    r->requests++;
    if (outcome == DONE_OK)
        r->ok++;
    else if (outcome == DONE_REFUSED)
        r->refused++;
    else
        r->errors++;
    r->started_at[slot] = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int usage(void)
{
    fprintf(stderr, "usage: otlp_load (--url URL | --grpc HOST:PORT) [--connections N] [--duration S]\n"
                    "                 [--rate SPANS_PER_S] [--requests-per-body N] [--max-requests N]\n"
                    "       otlp_load --dump DIR [--requests-per-body N]\n");
    return 2;
}

/* Writes the bodies as DIR/body-<i>.pb; 0, or 2 on an I/O error. */
static int dump(const char *dir, uint8_t *const *body, const size_t *blen)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "otlp_load: cannot create %s: %s\n", dir, strerror(errno));
        return 2;
    }
    for (unsigned b = 0; b < NBODIES; b++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/body-%u.pb", dir, b);
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(body[b], 1, blen[b], f) == blen[b];
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok) {
            fprintf(stderr, "otlp_load: cannot write %s\n", path);
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o = { NULL, NULL, NULL, 8, 10, 0, 50, 0 };
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (strcmp(a, "--url") == 0)
            o.url = v;
        else if (strcmp(a, "--grpc") == 0)
            o.grpc = v;
        else if (strcmp(a, "--dump") == 0)
            o.dump = v;
        else if (strcmp(a, "--connections") == 0)
            o.connections = atoi(v);
        else if (strcmp(a, "--duration") == 0)
            o.duration = atof(v);
        else if (strcmp(a, "--rate") == 0)
            o.rate = atof(v);
        else if (strcmp(a, "--requests-per-body") == 0)
            o.per_body = (size_t)atol(v);
        else if (strcmp(a, "--max-requests") == 0)
            o.max_requests = (uint64_t)atoll(v);
        else
            return usage();
    }
    if ((o.dump ? !!o.url + !!o.grpc != 0 : !o.url == !o.grpc) || o.connections < 1 || o.connections > 1024 || o.duration <= 0 || o.duration > 3600 ||
        o.per_body < 1 || o.per_body > 100000 || o.rate < 0)
        return usage();
    uint8_t *body[NBODIES];
    size_t blen[NBODIES];
    for (unsigned b = 0; b < NBODIES; b++)
        if (!(body[b] = build_body(b, o.per_body, &blen[b]))) {
            fprintf(stderr, "otlp_load: out of memory\n");
            return 2;
        }
    if (o.dump)
        return dump(o.dump, body, blen);
    uint64_t spans_per_body = o.per_body * 4;
    transport *t = o.url ? http_open(o.url, o.connections) : grpc_open(o.grpc, o.connections);
    run_state r = { calloc((size_t)o.connections, sizeof(uint64_t)), malloc(MAX_LAT * sizeof(uint32_t)), 0, 0, 0,
                    0, 0, 0 };
    if (!t || !r.started_at || !r.lat) {
        fprintf(stderr, "otlp_load: setup failed\n");
        return 2;
    }
    uint64_t started = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o.duration * 1e9);
    double interval_ns = o.rate > 0 ? 1e9 * (double)spans_per_body / o.rate : 0;
    double next_at = (double)t0;
    for (;;) {
        uint64_t now = now_ns();
        int stop = now >= end || (o.max_requests && started >= o.max_requests);
        /* Start idle slots (paced when a rate is set). */
        for (int i = 0; i < o.connections && !stop; i++) {
            if (r.started_at[i])
                continue;
            if (interval_ns > 0 && (double)now < next_at)
                break;
            unsigned b = (unsigned)(started % NBODIES);
            r.started_at[i] = now;
            t->start(t, i, body[b], blen[b]);
            started++;
            if (interval_ns > 0) {
                next_at += interval_ns;
                if (next_at < (double)now - 1e9)   /* fell behind by > 1 s: do not burst */
                    next_at = (double)now - 1e9;
            }
            if (o.max_requests && started >= o.max_requests)
                break;
        }
        int busy = 0;
        for (int i = 0; i < o.connections; i++)
            busy += r.started_at[i] != 0;
        if (stop && busy == 0)
            break;
        long wait_ms = 5;
        if (interval_ns > 0 && !stop) {
            double d = (next_at - (double)now_ns()) / 1e6;
            wait_ms = d < 0 ? 0 : d > 5 ? 5 : (long)d;
        }
        t->poll(t, wait_ms, on_done, &r);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(r.lat, r.nlat, sizeof *r.lat, cmp_u32);
    double p50 = r.nlat ? r.lat[r.nlat / 2] / 1000.0 : 0, p99 = r.nlat ? r.lat[(r.nlat * 99) / 100] / 1000.0 : 0;
    printf("requests=%" PRIu64 " ok=%" PRIu64 " refused=%" PRIu64 " errors=%" PRIu64 " spans_offered=%" PRIu64
           " spans_ok=%" PRIu64 " seconds=%.2f spans_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f body_bytes=%zu\n",
           r.requests, r.ok, r.refused, r.errors, r.requests * spans_per_body, r.ok * spans_per_body, secs,
           secs > 0 ? (double)(r.ok * spans_per_body) / secs : 0, p50, p99, (double)r.max_lat / 1000.0, blen[0]);
    t->close(t);
    for (unsigned b = 0; b < NBODIES; b++)
        free(body[b]);
    free(r.started_at);
    free(r.lat);
    return 0;
}
