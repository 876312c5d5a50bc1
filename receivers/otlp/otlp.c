/* Receiver `otlp`: OTLP over gRPC (:4317) and HTTP (:4318), configured as
 * the OpenTelemetry Collector's otlp receiver so a Collector config drops
 * in. This file holds the config, the lifecycle and what both transports
 * share: decoding a request into a batch, sending it down the pipeline of
 * its signal, and turning the outcome into a status (the OTLP spec's
 * mapping: malformed → INVALID_ARGUMENT / 400, pipeline refused (retryable)
 * → UNAVAILABLE / 503, pipeline rejected (permanent) → INVALID_ARGUMENT /
 * 400, accepted → OK / 200 with partial_success when part was rejected).
 *
 * A protocol is enabled when its key is present under `protocols`.
 * create() only parses and validates; start() reads certificate files and
 * binds; shutdown() stops both transports accepting at once, then lets
 * in-flight requests finish before the deadline. */
#include "receivers/otlp/otlp_internal.h"

#include "core/log.h"
#include "core/net.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const top_keys[] = { "protocols", NULL };
static const char *const proto_keys[] = { "grpc", "http", NULL };
static const char *const grpc_keys[] = { "endpoint", "max_recv_msg_size_mib", "max_concurrent_streams", "tls", "auth",
                                         NULL };
static const char *const http_keys[] = { "endpoint",        "max_request_body_size", "traces_url_path",
                                         "metrics_url_path", "logs_url_path",         "cors",
                                         "tls",              "auth",                  NULL };
static const char *const tls_keys[] = { "cert_file", "key_file", "client_ca_file", NULL };
static const char *const auth_keys[] = { "bearer_token", NULL };
static const char *const cors_keys[] = { "allowed_origins", "allowed_headers", "max_age", NULL };

/* ---- config ---- */

static int parse_tls(const kvs_cfg_node *sect, kvs_otlp_tls *t, kvs_error *err)
{
    const kvs_cfg_node *tls = kvs_cfg_get(sect, "tls");
    if (!tls)
        return 0;
    if (kvs_cfg_expect_map(tls, err) || kvs_cfg_check_keys(tls, tls_keys, err) ||
        kvs_cfg_str(tls, "cert_file", NULL, &t->cert_file, err) ||
        kvs_cfg_str(tls, "key_file", NULL, &t->key_file, err) ||
        kvs_cfg_str(tls, "client_ca_file", NULL, &t->client_ca_file, err))
        return KVS_E_INVALID;
    if (tls->type == KVS_CFG_MAP && (!t->cert_file || !*t->cert_file || !t->key_file || !*t->key_file))
        return kvs_cfg_errorf(err, tls, "tls needs both cert_file and key_file");
    if (t->client_ca_file && !*t->client_ca_file)
        t->client_ca_file = NULL;
    return 0;
}

static int parse_auth(const kvs_cfg_node *sect, const char **token, kvs_error *err)
{
    const kvs_cfg_node *auth = kvs_cfg_get(sect, "auth");
    if (!auth)
        return 0;
    if (kvs_cfg_expect_map(auth, err) || kvs_cfg_check_keys(auth, auth_keys, err) ||
        kvs_cfg_str(auth, "bearer_token", NULL, token, err))
        return KVS_E_INVALID;
    if (auth->type == KVS_CFG_MAP && (!*token || !**token))
        return kvs_cfg_errorf(err, auth, "auth needs a non-empty bearer_token");
    return 0;
}

static int parse_grpc(const kvs_cfg_node *g, kvs_otlp_grpc_cfg *c, kvs_error *err)
{
    int64_t mib, streams;
    if (kvs_cfg_expect_map(g, err) || kvs_cfg_check_keys(g, grpc_keys, err) ||
        kvs_cfg_endpoint(g, "endpoint", "localhost:4317", c->host, sizeof c->host, &c->port, err) ||
        kvs_cfg_i64(g, "max_recv_msg_size_mib", 4, 1, 2047, &mib, err) ||
        kvs_cfg_i64(g, "max_concurrent_streams", 0, 0, UINT32_MAX, &streams, err) ||
        parse_tls(g, &c->tls, err) || parse_auth(g, &c->bearer_token, err))
        return KVS_E_INVALID;
    c->enabled = 1;
    c->max_recv_bytes = (uint64_t)mib << 20;
    c->max_concurrent_streams = streams;
    return 0;
}

static int parse_http(const kvs_cfg_node *h, kvs_otlp_http_cfg *c, kvs_error *err)
{
    static const char *const path_keys[KVS_NSIG] = { "traces_url_path", "metrics_url_path", "logs_url_path" };
    static const char *const path_defs[KVS_NSIG] = { "/v1/traces", "/v1/metrics", "/v1/logs" };
    int64_t body;
    if (kvs_cfg_expect_map(h, err) || kvs_cfg_check_keys(h, http_keys, err) ||
        kvs_cfg_endpoint(h, "endpoint", "localhost:4318", c->host, sizeof c->host, &c->port, err) ||
        kvs_cfg_i64(h, "max_request_body_size", 20 << 20, 1, INT64_C(1) << 32, &body, err) ||
        parse_tls(h, &c->tls, err) || parse_auth(h, &c->bearer_token, err))
        return KVS_E_INVALID;
    for (int i = 0; i < KVS_NSIG; i++) {
        if (kvs_cfg_str(h, path_keys[i], path_defs[i], &c->paths[i], err) != 0)
            return KVS_E_INVALID;
        if (c->paths[i][0] != '/')
            return kvs_cfg_errorf(err, kvs_cfg_get(h, path_keys[i]), "a URL path must start with /");
        for (int j = 0; j < i; j++)
            if (strcmp(c->paths[i], c->paths[j]) == 0)
                return kvs_cfg_errorf(err, kvs_cfg_get(h, path_keys[i]), "%s is also the %s", c->paths[i],
                                      path_keys[j]);
    }
    const kvs_cfg_node *cors = kvs_cfg_get(h, "cors");
    if (cors && (kvs_cfg_expect_map(cors, err) || kvs_cfg_check_keys(cors, cors_keys, err) ||
                 kvs_cfg_strlist(cors, "allowed_origins", &c->cors_origins, &c->ncors_origins, err) ||
                 kvs_cfg_strlist(cors, "allowed_headers", &c->cors_headers, &c->ncors_headers, err) ||
                 kvs_cfg_i64(cors, "max_age", 0, 0, INT32_MAX, &c->cors_max_age, err)))
        return KVS_E_INVALID;
    for (size_t i = 0; i < c->ncors_origins; i++) {
        const char *o = c->cors_origins[i], *star = strchr(o, '*');
        if (star && strchr(star + 1, '*'))
            return kvs_cfg_errorf(err, kvs_cfg_get(cors, "allowed_origins"),
                                  "origin \"%s\": at most one * wildcard", o);
    }
    c->enabled = 1;
    c->max_body = (uint64_t)body;
    return 0;
}

static void recv_free(kvs_otlp_recv *r)
{
    free(r->http_cfg.cors_origins);
    free(r->http_cfg.cors_headers);
    free(r);
}

static int otlp_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    kvs_otlp_recv *r = calloc(1, sizeof *r);
    if (!r)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    r->id = ctx->id;
    r->tel = ctx->tel;
    memcpy(r->next, ctx->next, sizeof r->next);
    const kvs_cfg_node *protos = kvs_cfg_get(c, "protocols");
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, top_keys, err) || kvs_cfg_expect_map(protos, err) ||
        kvs_cfg_check_keys(protos, proto_keys, err))
        goto fail;
    if (kvs_cfg_key(protos, "grpc") && parse_grpc(kvs_cfg_get(protos, "grpc"), &r->grpc_cfg, err) != 0)
        goto fail;
    if (kvs_cfg_key(protos, "http") && parse_http(kvs_cfg_get(protos, "http"), &r->http_cfg, err) != 0)
        goto fail;
    if (!r->grpc_cfg.enabled && !r->http_cfg.enabled) {
        kvs_cfg_errorf(err, protos ? protos : c, "%s: enable at least one protocol: protocols: { grpc: , http: }",
                       ctx->id);
        goto fail;
    }
    if (r->grpc_cfg.enabled && r->http_cfg.enabled && r->grpc_cfg.port && r->grpc_cfg.port == r->http_cfg.port &&
        strcmp(r->grpc_cfg.host, r->http_cfg.host) == 0) {
        kvs_cfg_errorf(err, kvs_cfg_get(kvs_cfg_get(protos, "http"), "endpoint"),
                       "%s: grpc and http cannot share the endpoint %s:%d", ctx->id, r->http_cfg.host,
                       r->http_cfg.port);
        goto fail;
    }
    *state = r;
    return 0;
fail:
    recv_free(r);
    return KVS_E_INVALID;
}

/* ---- lifecycle ---- */

static int otlp_start(void *state, kvs_error *err)
{
    kvs_otlp_recv *r = state;
    if (r->grpc_cfg.enabled && kvs_otlp_grpc_start(r, err) != 0)
        return err ? err->code : KVS_E_IO;
    if (r->http_cfg.enabled && kvs_otlp_http_start(r, err) != 0) {
        kvs_otlp_grpc_stop(r, 0);
        return err ? err->code : KVS_E_IO;
    }
    return 0;
}

static void otlp_shutdown(void *state, uint64_t deadline_ns)
{
    kvs_otlp_recv *r = state;
    kvs_otlp_grpc_quiesce(r);
    kvs_otlp_http_quiesce(r);
    kvs_otlp_grpc_stop(r, deadline_ns);
    kvs_otlp_http_stop(r, deadline_ns);
}

static void otlp_destroy(void *state)
{
    kvs_otlp_recv *r = state;
    kvs_otlp_grpc_stop(r, 0);
    kvs_otlp_http_stop(r, 0);
    recv_free(r);
}

/* ---- what both transports share ---- */

/* Replaces what would not survive a UTF-8 check (status messages travel in
 * proto3 strings and headers). */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

static void set_result(kvs_otlp_result *res, int rpc, int http, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void set_result(kvs_otlp_result *res, int rpc, int http, const char *fmt, va_list ap)
{
    res->rpc = rpc;
    res->http = http;
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    sanitize(res->msg);
}

static void result(kvs_otlp_result *res, int rpc, int http, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void result(kvs_otlp_result *res, int rpc, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_result(res, rpc, http, fmt, ap);
    va_end(ap);
}

void kvs_otlp_bad_request(kvs_otlp_recv *r, kvs_otlp_result *res, int http, int rpc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_result(res, rpc, http, fmt, ap);
    va_end(ap);
    res->rejected = 0;
    kvs_tel_add(&r->tel->errors, 1);
    /* The first few are logged, then one in a thousand. */
    uint64_t n = atomic_fetch_add_explicit(&r->bad_logged, 1, memory_order_relaxed);
    if (n < 20 || n % 1000 == 0)
        KVS_WARN(r->id, "request refused (%d): %s%s", http, res->msg,
                 n == 19 ? " (further ones are logged one in a thousand)" : "");
}

void kvs_otlp_handle(kvs_otlp_recv *r, kvs_signal sig, kvs_otlp_ctype ct, uint8_t *p, size_t n,
                     kvs_otlp_result *res)
{
    memset(res, 0, sizeof *res);
    if (!r->next[kvs_signal_index(sig)]) {
        free(p);
        result(res, KVS_RPC_UNIMPLEMENTED, 404, "no %s pipeline uses this receiver", kvs_signal_name(sig));
        return;
    }
    kvs_batch *b;
    uint64_t rejected;
    char msg[512];
    int rc = kvs_otlp_decode_own(sig, ct, p, n, &b, &rejected, msg, sizeof msg);
    if (rc == KVS_OTLP_E_NOMEM) {
        result(res, KVS_RPC_UNAVAILABLE, 503, "%s", msg);
        return;
    }
    if (rc == KVS_OTLP_E_TOO_LARGE) {
        kvs_otlp_bad_request(r, res, 413, KVS_RPC_RESOURCE_EXHAUSTED, "%s", msg);
        return;
    }
    if (rc != 0) {
        kvs_otlp_bad_request(r, res, 400, KVS_RPC_INVALID_ARGUMENT, "%s", msg);
        return;
    }
    result(res, KVS_RPC_OK, 200, "%s", rejected ? msg : "");
    res->rejected = rejected;
    if (rejected) {
        kvs_tel_add(&r->tel->rejected, rejected);
        uint64_t nlog = atomic_fetch_add_explicit(&r->bad_logged, 1, memory_order_relaxed);
        if (nlog < 20 || nlog % 1000 == 0)
            KVS_WARN(r->id, "%s", msg);
    }
    if (b->items == 0) {
        kvs_batch_unref(b);
        return;
    }
    kvs_error err = { 0 };
    size_t items = b->items;
    rc = kvs_next_consume(r->next[kvs_signal_index(sig)], b, &err);
    kvs_batch_unref(b);
    if (rc == 0) {
        kvs_tel_add(&r->tel->accepted, items);
    } else if (rc == KVS_E_INVALID) {
        kvs_tel_add(&r->tel->rejected, items);
        result(res, KVS_RPC_INVALID_ARGUMENT, 400, "the pipeline rejected %zu %s: %s", items, kvs_signal_unit(sig),
               err.msg);
        res->rejected = 0;
    } else {
        kvs_tel_add(&r->tel->refused, items);
        result(res, KVS_RPC_UNAVAILABLE, 503, "the pipeline refused %zu %s, retry later: %s", items,
               kvs_signal_unit(sig), err.msg);
        res->rejected = 0;
    }
}

int kvs_otlp_bearer_ok(const char *header, size_t len, const char *token)
{
    if (!header || len < 7 || strncasecmp(header, "Bearer ", 7) != 0)
        return 0;
    const char *v = header + 7;
    size_t vn = len - 7;
    while (vn && *v == ' ')
        v++, vn--;
    size_t tn = strlen(token);
    /* Constant time in the token's length. */
    unsigned diff = vn != tn;
    for (size_t i = 0; i < tn; i++)
        diff |= (unsigned)(unsigned char)token[i] ^ (unsigned)(unsigned char)(i < vn ? v[i] : 0);
    return diff == 0;
}

char *kvs_otlp_read_file(const char *path, const char *what, kvs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        kvs_errorf(err, KVS_E_IO, "%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    kvs_buf b = { 0 };
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (16u << 20))
        kvs_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    kvs_buf_putc(&b, 0);
    if (bad || b.oom) {
        kvs_buf_free(&b);
        kvs_errorf(err, KVS_E_IO, "%s %s: cannot read it", what, path);
        return NULL;
    }
    return b.data;
}

const kvs_component_def kvs_receiver_otlp = {
    .type = "otlp",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_ALL,
    .create = otlp_create,
    .start = otlp_start,
    .shutdown = otlp_shutdown,
    .destroy = otlp_destroy,
};
