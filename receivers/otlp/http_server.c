/* Receiver `otlp`, HTTP transport (libmicrohttpd).
 *
 * Threading: MHD runs its own pool of HTTP_THREADS polling threads (epoll
 * where available) on a listening socket we bind ourselves (so a bind
 * error is reported clearly and port 0 works). A request is handled on the
 * thread of its connection: headers are checked on the first callback
 * (path 404, method 405, token 401, content type 415, encoding 400,
 * Content-Length over max_request_body_size 413) and an error is answered
 * at once (libmicrohttpd then closes the connection without reading the
 * body); otherwise the body is collected into a buffer bounded by
 * max_request_body_size (a chunked body that outgrows it is discarded to
 * its end and answered 413, or loses its connection past twice the cap,
 * since libmicrohttpd cannot answer in the middle of an upload), then
 * decompressed (bounded by the same size), decoded, sent down the pipeline
 * with kvs_next_consume, and answered in the request's content type: an Export*ServiceResponse, or a
 * google.rpc.Status with 400 / 413 / 503 (+ Retry-After). One request's
 * failure touches only its own connection.
 *
 * CORS follows the Collector's confighttp: an allowed Origin (exact, `*`,
 * or one `*` wildcard inside) gets Access-Control-Allow-Origin; a preflight
 * OPTIONS is answered 204 with the allowed method and headers.
 *
 * TLS: MHD with GnuTLS (cert_file/key_file). With client_ca_file, client
 * certificates are requested and each request is checked with GnuTLS's
 * gnutls_certificate_verify_peers2 (found at run time in the GnuTLS that
 * libmicrohttpd loads); a request without a trusted certificate gets 401.
 *
 * Shutdown: MHD_quiesce_daemon (stop accepting), wait until in-flight
 * requests are answered or the deadline, then MHD_stop_daemon (closes the
 * rest, joins the threads) and close the listening socket. */
#include "receivers/otlp/otlp_internal.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"

#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTP_THREADS 4
#define HTTP_MAX_CONNECTIONS 1000
#define HTTP_IDLE_TIMEOUT_S 60

/* gnutls_certificate_verify_peers2(gnutls_session_t, unsigned int *). */
typedef int (*verify_peers_fn)(void *session, unsigned int *status);

struct kvs_otlp_http {
    kvs_otlp_recv *r;
    struct MHD_Daemon *d;
    int fd;
    int quiesced;
    atomic_int inflight;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *cert, *key, *ca;
    verify_peers_fn verify;
};

typedef struct hreq {
    int sig;                 /* signal index of the path */
    kvs_otlp_ctype ct;
    int ct_known;            /* ct was parsed: errors are Status bodies in it */
    kvs_otlp_enc enc;
    const char *origin;      /* echoed in Access-Control-Allow-Origin, or NULL */
    int status;              /* an error decided before the body ended */
    int rpc;
    char msg[512];
    kvs_buf body;
    uint64_t discarded;
} hreq;

/* ---- CORS ---- */

static int origin_allowed(const kvs_otlp_http_cfg *c, const char *origin)
{
    if (!origin)
        return 0;
    for (size_t i = 0; i < c->ncors_origins; i++) {
        const char *o = c->cors_origins[i], *star = strchr(o, '*');
        if (!star) {
            if (strcasecmp(o, origin) == 0)
                return 1;
            continue;
        }
        size_t pre = (size_t)(star - o), suf = strlen(star + 1), n = strlen(origin);
        if (n >= pre + suf && strncasecmp(origin, o, pre) == 0 && strcasecmp(origin + n - suf, star + 1) == 0)
            return 1;
    }
    return 0;
}

static int header_allowed(const kvs_otlp_http_cfg *c, const char *h, size_t n)
{
    static const char *const always[] = { "accept", "content-type", "x-requested-with", "origin", NULL };
    for (size_t i = 0; always[i]; i++)
        if (strlen(always[i]) == n && strncasecmp(always[i], h, n) == 0)
            return 1;
    for (size_t i = 0; i < c->ncors_headers; i++)
        if (strcmp(c->cors_headers[i], "*") == 0 ||
            (strlen(c->cors_headers[i]) == n && strncasecmp(c->cors_headers[i], h, n) == 0))
            return 1;
    return 0;
}

/* Every header named in Access-Control-Request-Headers is allowed. */
static int request_headers_allowed(const kvs_otlp_http_cfg *c, const char *list)
{
    if (!list)
        return 1;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t n = 0;
        while (p[n] && p[n] != ',' && p[n] != ' ' && p[n] != '\t')
            n++;
        if (n && !header_allowed(c, p, n))
            return 0;
        p += n;
    }
    return 1;
}

/* ---- responses ---- */

static enum MHD_Result send_bytes(struct MHD_Connection *conn, const hreq *q, int status, const char *ctype,
                                  const void *data, size_t n, int allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == 503) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", KVS_OTLP_RETRY_AFTER_S);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow > 1 ? "POST, OPTIONS" : "POST");
    if (q && q->origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", q->origin);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static const char *ctype_name(kvs_otlp_ctype ct)
{
    return ct == KVS_OTLP_JSON ? "application/json" : "application/x-protobuf";
}

/* An error: a google.rpc.Status in the request's content type, or plain
 * text when the content type is not one we speak. */
static enum MHD_Result send_error(struct MHD_Connection *conn, const hreq *q, int status, int rpc, const char *msg)
{
    if (!q->ct_known) {
        char text[600];
        int n = snprintf(text, sizeof text, "%s", msg);
        return send_bytes(conn, q, status, "text/plain; charset=utf-8", text, (size_t)n, status == 405);
    }
    kvs_buf b = { 0 };
    kvs_otlp_status_body(q->ct, rpc, msg, &b);
    enum MHD_Result rc = send_bytes(conn, q, status, ctype_name(q->ct), b.data ? b.data : "", b.len, 0);
    kvs_buf_free(&b);
    return rc;
}

/* ---- request handling ---- */

static int find_path(const kvs_otlp_recv *r, const char *url)
{
    for (int s = 0; s < KVS_NSIG; s++)
        if (r->next[s] && strcmp(r->http_cfg.paths[s], url) == 0)
            return s;
    return -1;
}

static int client_cert_ok(kvs_otlp_http *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned int status = 1;
    return ci && ci->tls_session && h->verify(ci->tls_session, &status) == 0 && status == 0;
}

static enum MHD_Result preflight(kvs_otlp_http *h, struct MHD_Connection *conn)
{
    const kvs_otlp_http_cfg *c = &h->r->http_cfg;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *method = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method");
    const char *hdrs = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Headers");
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (origin_allowed(c, origin) && method && strcasecmp(method, "POST") == 0 && request_headers_allowed(c, hdrs)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "POST");
        if (hdrs && *hdrs)
            MHD_add_response_header(resp, "Access-Control-Allow-Headers", hdrs);
        if (c->cors_max_age > 0) {
            char age[24];
            snprintf(age, sizeof age, "%lld", (long long)c->cors_max_age);
            MHD_add_response_header(resp, "Access-Control-Max-Age", age);
        }
    }
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_NO_CONTENT, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The headers: decides everything that does not need the body. */
static enum MHD_Result on_headers(kvs_otlp_http *h, struct MHD_Connection *conn, const char *url, const char *method,
                                  hreq *q)
{
    kvs_otlp_recv *r = h->r;
    const kvs_otlp_http_cfg *c = &r->http_cfg;
    kvs_otlp_result res;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (c->ncors_origins && origin_allowed(c, origin))
        q->origin = origin;
    q->sig = find_path(r, url);
    if (q->sig < 0)
        return send_error(conn, q, 404, KVS_RPC_UNIMPLEMENTED, "404 page not found");
    if (strcmp(method, "OPTIONS") == 0 && c->ncors_origins)
        return preflight(h, conn);
    if (strcmp(method, "POST") != 0)
        return send_error(conn, q, 405, KVS_RPC_UNIMPLEMENTED, "405 method not allowed, supported: [POST]");
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    q->ct_known = kvs_otlp_parse_ctype(ct, &q->ct) == 0;
    if (h->verify && !client_cert_ok(h, conn)) {
        kvs_otlp_bad_request(r, &res, 401, KVS_RPC_UNAUTHENTICATED, "client certificate missing or not trusted");
        return send_error(conn, q, 401, res.rpc, res.msg);
    }
    if (c->bearer_token) {
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!kvs_otlp_bearer_ok(a, a ? strlen(a) : 0, c->bearer_token)) {
            kvs_otlp_bad_request(r, &res, 401, KVS_RPC_UNAUTHENTICATED, "missing or invalid bearer token");
            return send_error(conn, q, 401, res.rpc, res.msg);
        }
    }
    if (!q->ct_known) {
        kvs_otlp_bad_request(r, &res, 415, KVS_RPC_INVALID_ARGUMENT,
                             "415 unsupported media type, supported: [application/json, application/x-protobuf]");
        return send_error(conn, q, 415, res.rpc, res.msg);
    }
    const char *ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (kvs_otlp_parse_encoding(ce, &q->enc) != 0) {
        kvs_otlp_bad_request(r, &res, 400, KVS_RPC_INVALID_ARGUMENT,
                             "unsupported Content-Encoding: %.60s (supported: gzip, zstd, deflate)", ce);
        return send_error(conn, q, 400, res.rpc, res.msg);
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > c->max_body) {
        kvs_otlp_bad_request(r, &res, 413, KVS_RPC_RESOURCE_EXHAUSTED,
                             "request body of %s bytes is larger than max_request_body_size (%llu bytes)", cl,
                             (unsigned long long)c->max_body);
        return send_error(conn, q, 413, res.rpc, res.msg);
    }
    if (cl) /* one allocation for the whole body (a failure shows when it is appended) */
        kvs_buf_reserve(&q->body, (size_t)strtoull(cl, NULL, 10));
    return MHD_YES; /* MHD sends 100 Continue when the client asked */
}

static enum MHD_Result on_body_end(kvs_otlp_http *h, struct MHD_Connection *conn, hreq *q)
{
    kvs_otlp_recv *r = h->r;
    kvs_otlp_result res;
    if (q->status)
        return send_error(conn, q, q->status, q->rpc, q->msg);
    kvs_signal sig = kvs_signal_at(q->sig);
    uint8_t *p = (uint8_t *)q->body.data;
    size_t n = q->body.len;
    if (q->enc == KVS_OTLP_IDENTITY) {
        q->body = (kvs_buf){ 0 }; /* handed to kvs_otlp_handle */
    } else {
        uint8_t *raw;
        char msg[512];
        int rc = kvs_otlp_decompress(q->enc, p, n, r->http_cfg.max_body, &raw, &n, msg, sizeof msg);
        if (rc == KVS_OTLP_E_TOO_LARGE)
            kvs_otlp_bad_request(r, &res, 413, KVS_RPC_RESOURCE_EXHAUSTED, "%s", msg);
        else if (rc == KVS_OTLP_E_BAD)
            kvs_otlp_bad_request(r, &res, 400, KVS_RPC_INVALID_ARGUMENT, "%s", msg);
        else if (rc != 0)
            res.http = 503, res.rpc = KVS_RPC_UNAVAILABLE, snprintf(res.msg, sizeof res.msg, "%s", msg);
        if (rc != 0)
            return send_error(conn, q, res.http, res.rpc, res.msg);
        kvs_buf_free(&q->body);
        p = raw;
    }
    kvs_otlp_handle(r, sig, q->ct, p, n, &res);
    if (res.rpc != KVS_RPC_OK)
        return send_error(conn, q, res.http, res.rpc, res.msg);
    kvs_buf out = { 0 };
    enum MHD_Result rc;
    if (kvs_otlp_response(sig, q->ct, res.rejected, res.msg, &out) != 0)
        rc = send_error(conn, q, 503, KVS_RPC_UNAVAILABLE, "out of memory building the response");
    else
        rc = send_bytes(conn, q, 200, ctype_name(q->ct), out.data ? out.data : "", out.len, 0);
    kvs_buf_free(&out);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    kvs_otlp_http *h = cls;
    hreq *q = *con_cls;
    (void)version;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        atomic_fetch_add(&h->inflight, 1);
        return on_headers(h, conn, url, method, q);
    }
    if (*size == 0)
        return on_body_end(h, conn, q);
    size_t n = *size;
    *size = 0;
    if (q->status) {
        /* Discarding the rest of a refused body (libmicrohttpd answers only
         * once the body has ended); one that goes on past twice the cap
         * loses its connection instead. */
        q->discarded += n;
        return q->discarded > 2 * h->r->http_cfg.max_body + (1u << 20) ? MHD_NO : MHD_YES;
    }
    uint64_t max = h->r->http_cfg.max_body;
    if (q->body.len + n > max) {
        /* A body without Content-Length (chunked) that outgrew the cap. */
        kvs_otlp_result res;
        kvs_otlp_bad_request(h->r, &res, 413, KVS_RPC_RESOURCE_EXHAUSTED,
                             "request body larger than max_request_body_size (%llu bytes)", (unsigned long long)max);
        kvs_buf_free(&q->body);
        q->status = 413;
        q->rpc = res.rpc;
        snprintf(q->msg, sizeof q->msg, "%s", res.msg);
        return MHD_YES;
    }
    kvs_buf_append(&q->body, data, n);
    if (q->body.oom) {
        kvs_buf_free(&q->body);
        q->status = 503;
        q->rpc = KVS_RPC_UNAVAILABLE;
        snprintf(q->msg, sizeof q->msg, "out of memory reading the request body");
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    kvs_otlp_http *h = cls;
    hreq *q = *con_cls;
    (void)conn, (void)toe;
    if (!q)
        return;
    kvs_buf_free(&q->body);
    free(q);
    *con_cls = NULL;
    pthread_mutex_lock(&h->lock);
    if (atomic_fetch_sub(&h->inflight, 1) == 1)
        pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* ---- lifecycle ---- */

static void http_free(kvs_otlp_http *h)
{
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h->cert);
    free(h->key);
    free(h->ca);
    free(h);
}

int kvs_otlp_http_start(kvs_otlp_recv *r, kvs_error *err)
{
    const kvs_otlp_http_cfg *c = &r->http_cfg;
    kvs_otlp_http *h = calloc(1, sizeof *h);
    if (!h)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    h->r = r;
    h->fd = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    kvs_httpd_opts ho = { .log_id = r->id,
                          .threads = HTTP_THREADS,
                          .max_connections = HTTP_MAX_CONNECTIONS,
                          .idle_timeout_s = HTTP_IDLE_TIMEOUT_S,
                          .connection_memory = 64 * 1024,
                          .completed = on_completed,
                          .completed_cls = h };
    if (c->tls.cert_file) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            http_free(h);
            return kvs_errorf(err, KVS_E_INVALID, "%s: http tls: libmicrohttpd was built without TLS", r->id);
        }
        if (!(h->cert = kvs_otlp_read_file(c->tls.cert_file, "http tls cert_file", err)) ||
            !(h->key = kvs_otlp_read_file(c->tls.key_file, "http tls key_file", err)) ||
            (c->tls.client_ca_file &&
             !(h->ca = kvs_otlp_read_file(c->tls.client_ca_file, "http tls client_ca_file", err)))) {
            http_free(h);
            return KVS_E_IO;
        }
        if (h->ca) {
            h->verify = (verify_peers_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "gnutls_certificate_verify_peers2");
            if (!h->verify) {
                http_free(h);
                return kvs_errorf(err, KVS_E_INVALID,
                                  "%s: http tls client_ca_file: GnuTLS client verification is unavailable", r->id);
            }
        }
        ho.flags |= MHD_USE_TLS;
    }
    int port = c->port;
    bool v6 = false;
    h->fd = kvs_net_listen(c->host, c->port, 256, &port, &v6, err);
    if (h->fd < 0) {
        kvs_error_prefix(err, "%s: OTLP/HTTP", r->id);
        http_free(h);
        return KVS_E_IO;
    }
    struct MHD_OptionItem tls_opts[4];
    size_t nt = 0;
    memset(tls_opts, 0, sizeof tls_opts);
    if (h->cert) {
        tls_opts[nt++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert };
        tls_opts[nt++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->key };
        if (h->ca)
            tls_opts[nt++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, h->ca };
    }
    tls_opts[nt] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    ho.more = tls_opts;
    h->d = kvs_httpd_start(h->fd, v6, &ho, on_request, h);
    if (!h->d) {
        http_free(h);
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the OTLP/HTTP server on %s:%d%s", r->id, c->host, port,
                          c->tls.cert_file ? " (check the TLS certificate and key)" : "");
    }
    r->http = h;
    KVS_INFO(r->id, "OTLP/HTTP listening on %s:%d%s%s", c->host, port, c->tls.cert_file ? " (TLS)" : "",
             c->bearer_token ? " (bearer token)" : "");
    return 0;
}

void kvs_otlp_http_quiesce(kvs_otlp_recv *r)
{
    kvs_otlp_http *h = r->http;
    if (!h || h->quiesced)
        return;
    MHD_quiesce_daemon(h->d);
    h->quiesced = 1;
}

void kvs_otlp_http_stop(kvs_otlp_recv *r, uint64_t deadline_ns)
{
    kvs_otlp_http *h = r->http;
    if (!h)
        return;
    kvs_otlp_http_quiesce(r);
    pthread_mutex_lock(&h->lock);
    struct timespec ts = kvs_timespec(deadline_ns);
    while (atomic_load(&h->inflight) > 0 && deadline_ns && kvs_now_ns() < deadline_ns)
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    int left = atomic_load(&h->inflight);
    pthread_mutex_unlock(&h->lock);
    if (left > 0 && deadline_ns)
        KVS_WARN(r->id, "%d HTTP requests still in flight at the shutdown deadline: closing them", left);
    MHD_stop_daemon(h->d);
    close(h->fd);
    r->http = NULL;
    http_free(h);
}
