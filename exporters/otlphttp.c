/* Exporter `otlphttp`: OTLP/HTTP with libcurl. Each request is POSTed to
 * <endpoint>/v1/{traces,metrics,logs} (or a per-signal URL used as is),
 * encoded as protobuf or OTLP/JSON and compressed with gzip (default),
 * zstd or nothing. Every queue consumer keeps its own curl easy handle, so
 * connections stay alive between requests. Responses follow the OTLP/HTTP
 * spec: 2xx is success (a partial_success in the body is logged and its
 * rejected items counted), 429/502/503/504 and connection failures are
 * retried honouring Retry-After (seconds or an HTTP date), any other status
 * is permanent and its google.rpc.Status message is logged. */
#include "core/buf.h"
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "core/selfmetrics.h"
#include "core/sending_queue.h"
#include "formats/otlp_json.h"

#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>
#include <zstd.h>

enum { COMP_GZIP, COMP_ZSTD, COMP_NONE };
#define MAX_RESPONSE (1u << 20)

typedef struct http_exp {
    const char *id;
    kvs_telemetry *tel;
    char *url[KVS_NSIG];
    int json, comp, skip_verify;
    const char *ca_file, *cert_file, *key_file;
    const kvs_cfg_node *headers;
    struct curl_slist *hdrs;
    int curl_inited;
    kvs_sending_queue *q;
} http_exp;

static const char *const keys[] = { "endpoint",    "traces_endpoint", "metrics_endpoint", "logs_endpoint",
                                    "encoding",    "compression",     "headers",          "tls",
                                    KVS_SENDING_QUEUE_KEYS,           NULL };
static const char *const tls_keys[] = { "insecure_skip_verify", "ca_file", "cert_file", "key_file", NULL };
static const char *const encodings[] = { "proto", "json", NULL };
static const char *const compressions[] = { "gzip", "zstd", "none", NULL };
static const char *const sig_keys[KVS_NSIG] = { "traces_endpoint", "metrics_endpoint", "logs_endpoint" };
static const char *const sig_paths[KVS_NSIG] = { "/v1/traces", "/v1/metrics", "/v1/logs" };

static kvs_send_result http_send(void *exp, void **worker, kvs_batch *b, uint64_t deadline_ns,
                                 kvs_send_info *info, kvs_error *err);
static void http_worker_free(void *exp, void *worker);
static void http_destroy(void *state);

static int is_http_url(const char *u)
{
    return (strncasecmp(u, "http://", 7) == 0 && u[7]) || (strncasecmp(u, "https://", 8) == 0 && u[8]);
}

static int check_headers(const kvs_cfg_node *h, kvs_error *err)
{
    if (kvs_cfg_expect_map(h, err))
        return KVS_E_INVALID;
    for (size_t i = 0; h && h->type == KVS_CFG_MAP && i < h->n; i++) {
        const char *k = h->keys[i]->scalar, *v;
        if (kvs_cfg_str(h, k, "", &v, err))
            return KVS_E_INVALID;
        if (!*k)
            return kvs_cfg_errorf(err, h->keys[i], "empty header name");
        for (const char *p = k; *p; p++)
            if (!isgraph((unsigned char)*p) || *p == ':')
                return kvs_cfg_errorf(err, h->keys[i], "header name \"%s\" is not an HTTP token", k);
        if (strcasecmp(k, "content-type") == 0 || strcasecmp(k, "content-encoding") == 0 ||
            strcasecmp(k, "content-length") == 0)
            return kvs_cfg_errorf(err, h->keys[i], "header \"%s\" is set by the exporter (see encoding, compression)", k);
        for (const char *p = v; *p; p++)
            if (*p == '\r' || *p == '\n')
                return kvs_cfg_errorf(err, h->items[i], "header \"%s\": value has a line break", k);
    }
    return 0;
}

static int http_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg, *tls = kvs_cfg_get(c, "tls");
    const char *endpoint, *per[KVS_NSIG];
    int enc, comp;
    kvs_sending_queue_cfg qc;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_str(c, "endpoint", NULL, &endpoint, err) || kvs_cfg_str(c, sig_keys[0], NULL, &per[0], err) ||
        kvs_cfg_str(c, sig_keys[1], NULL, &per[1], err) || kvs_cfg_str(c, sig_keys[2], NULL, &per[2], err) ||
        kvs_cfg_enum(c, "encoding", encodings, 0, &enc, err) ||
        kvs_cfg_enum(c, "compression", compressions, COMP_GZIP, &comp, err) || kvs_cfg_expect_map(tls, err) ||
        kvs_cfg_check_keys(tls, tls_keys, err) || check_headers(kvs_cfg_get(c, "headers"), err) ||
        kvs_sending_queue_parse(c, &qc, err))
        return KVS_E_INVALID;
    if (endpoint && *endpoint && !is_http_url(endpoint))
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "endpoint"), "%s: endpoint must be an http:// or https:// URL",
                              ctx->id);
    for (int i = 0; i < KVS_NSIG; i++)
        if (per[i] && *per[i] && !is_http_url(per[i]))
            return kvs_cfg_errorf(err, kvs_cfg_get(c, sig_keys[i]), "%s: %s must be an http:// or https:// URL",
                                  ctx->id, sig_keys[i]);
    http_exp *x = calloc(1, sizeof *x);
    if (!x)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    x->id = ctx->id;
    x->tel = ctx->tel;
    x->json = enc == 1;
    x->comp = comp;
    x->headers = kvs_cfg_get(c, "headers");
    if (kvs_cfg_bool(tls, "insecure_skip_verify", 0, &x->skip_verify, err) ||
        kvs_cfg_str(tls, "ca_file", NULL, &x->ca_file, err) || kvs_cfg_str(tls, "cert_file", NULL, &x->cert_file, err) ||
        kvs_cfg_str(tls, "key_file", NULL, &x->key_file, err))
        goto fail;
    if (!x->cert_file != !x->key_file) {
        kvs_cfg_errorf(err, tls, "%s: tls.cert_file and tls.key_file go together", ctx->id);
        goto fail;
    }
    for (int i = 0; i < KVS_NSIG; i++) {
        if (!(ctx->signals & kvs_signal_at(i)))
            continue;
        if (per[i] && *per[i]) {
            x->url[i] = strdup(per[i]);
        } else if (endpoint && *endpoint) {
            size_t n = strlen(endpoint);
            while (n && endpoint[n - 1] == '/')
                n--;
            if ((x->url[i] = malloc(n + strlen(sig_paths[i]) + 1)))
                sprintf(x->url[i], "%.*s%s", (int)n, endpoint, sig_paths[i]);
        } else {
            kvs_cfg_errorf(err, c, "%s: `endpoint` or `%s` is required", ctx->id, sig_keys[i]);
            goto fail;
        }
        if (!x->url[i]) {
            kvs_errorf(err, KVS_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    kvs_sending_queue_ops ops = { x, http_send, http_worker_free };
    if (!(x->q = kvs_sending_queue_new(ctx->id, &qc, &ops, ctx->tel, err)))
        goto fail;
    *state = x;
    return 0;
fail:
    http_destroy(x);
    return err->code ? err->code : KVS_E_INVALID;
}

static int add_header(struct curl_slist **l, const char *k, const char *v)
{
    size_t n = strlen(k) + strlen(v) + 3;
    char *line = malloc(n);
    if (!line)
        return -1;
    snprintf(line, n, *v ? "%s: %s" : "%s;", k, v);
    struct curl_slist *g = curl_slist_append(*l, line);
    free(line);
    if (!g)
        return -1;
    *l = g;
    return 0;
}

static int http_start(void *state, kvs_error *err)
{
    http_exp *x = state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kvs_errorf(err, KVS_E_IO, "%s: libcurl initialisation failed", x->id);
    x->curl_inited = 1;
    int bad = add_header(&x->hdrs, "Content-Type", x->json ? "application/json" : "application/x-protobuf") ||
              (x->comp != COMP_NONE && add_header(&x->hdrs, "Content-Encoding", x->comp == COMP_GZIP ? "gzip" : "zstd"));
    /* "Expect:" with no value stops curl from waiting for 100-continue. */
    struct curl_slist *g = bad ? NULL : curl_slist_append(x->hdrs, "Expect:");
    bad = bad || !g;
    if (g)
        x->hdrs = g;
    const kvs_cfg_node *h = x->headers;
    for (size_t i = 0; !bad && h && h->type == KVS_CFG_MAP && i < h->n; i++) {
        const char *v = "";
        kvs_cfg_str(h, h->keys[i]->scalar, "", &v, NULL);
        bad = add_header(&x->hdrs, h->keys[i]->scalar, v) != 0;
    }
    if (bad)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    for (int i = 0; i < KVS_NSIG; i++)
        if (x->url[i])
            KVS_INFO(x->id, "exporting %s as OTLP/HTTP %s to %s", kvs_signal_name(kvs_signal_at(i)),
                     x->json ? "json" : "proto", x->url[i]);
    return kvs_sending_queue_start(x->q, err);
}

static int http_consume(void *state, kvs_batch *b, kvs_error *err)
{
    http_exp *x = state;
    return kvs_sending_queue_consume(x->q, b, err);
}

/* ---- request body ---- */

static int gzip_into(const char *in, size_t n, kvs_buf *out)
{
    if (n > UINT_MAX / 2)
        return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)n);
    int rc = -1;
    if (kvs_buf_reserve(out, cap) == 0) {
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)n;
        z.next_out = (Bytef *)out->data;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
            out->len = z.total_out;
            rc = 0;
        }
    }
    deflateEnd(&z);
    return rc;
}

static int zstd_into(const char *in, size_t n, kvs_buf *out)
{
    size_t cap = ZSTD_compressBound(n);
    if (kvs_buf_reserve(out, cap) != 0)
        return -1;
    size_t r = ZSTD_compress(out->data, cap, in, n, 1);
    if (ZSTD_isError(r))
        return -1;
    out->len = r;
    return 0;
}

/* Encodes (and compresses) the request into *body. */
static int encode(http_exp *x, kvs_batch *b, kvs_buf *raw, kvs_buf *body)
{
    const uint8_t *in;
    size_t inlen;
    if (x->json) {
        kvs_error err;
        if (kvs_batch_decode(b, &err) != 0 || kvs_otlp_json_encode(b->signal, b->msg, raw) != 0 || raw->oom)
            return -1;
        in = (const uint8_t *)raw->data, inlen = raw->len;
    } else if (b->wire) {
        in = b->wire, inlen = b->wire_len; /* the bytes as received: nothing to encode */
    } else {
        size_t len = protobuf_c_message_get_packed_size(b->msg);
        if (kvs_buf_reserve(raw, len ? len : 1) != 0)
            return -1;
        raw->len = protobuf_c_message_pack(b->msg, (uint8_t *)raw->data);
        in = (const uint8_t *)raw->data, inlen = raw->len;
    }
    if (x->comp == COMP_GZIP)
        return gzip_into((const char *)in, inlen, body);
    if (x->comp == COMP_ZSTD)
        return zstd_into((const char *)in, inlen, body);
    if (in != (const uint8_t *)raw->data) {
        kvs_buf_append(body, in, inlen);
        return body->oom ? -1 : 0;
    }
    *body = *raw;
    memset(raw, 0, sizeof *raw);
    return 0;
}

/* ---- response ---- */

typedef struct response {
    kvs_buf body;
    char retry_after[64];
    int truncated;
} response;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n;
    if (r->body.len + len > MAX_RESPONSE)
        r->truncated = 1;
    else
        kvs_buf_append(&r->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        size_t i = 12, e = len;
        while (i < e && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (e > i && isspace((unsigned char)p[e - 1]))
            e--;
        size_t m = e - i < sizeof r->retry_after - 1 ? e - i : sizeof r->retry_after - 1;
        memcpy(r->retry_after, p + i, m);
        r->retry_after[m] = '\0';
    }
    return len;
}

/* Retry-After: delay-seconds or an HTTP date. 0 = none. */
static uint64_t parse_retry_after(const char *v)
{
    if (!*v)
        return 0;
    if (isdigit((unsigned char)*v)) {
        char *end;
        unsigned long long s = strtoull(v, &end, 10);
        if (*end || s > 86400ULL * 365)
            return 0;
        return s ? s * KVS_SEC : 1;
    }
    time_t t = curl_getdate(v, NULL), now = time(NULL);
    if (t == (time_t)-1)
        return 0;
    return t > now ? (uint64_t)(t - now) * KVS_SEC : 1;
}

static int is_json(CURL *h)
{
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    return ct && strncasecmp(ct, "application/json", 16) == 0;
}

/* partial_success (or, for errors, the Status message) from a JSON body. */
static void json_response(kvs_signal sig, const kvs_buf *body, int64_t *rejected, char *msg, size_t cap)
{
    static const char *const rej_keys[KVS_NSIG][2] = {
        { "rejectedSpans", "rejected_spans" },
        { "rejectedDataPoints", "rejected_data_points" },
        { "rejectedLogRecords", "rejected_log_records" },
    };
    char *text = malloc(body->len + 1);
    if (!text)
        return;
    memcpy(text, body->data, body->len);
    text[body->len] = '\0';
    yajl_val root = yajl_tree_parse(text, NULL, 0);
    free(text);
    if (!root)
        return;
    const char *ps_path[2][2] = { { "partialSuccess", NULL }, { "partial_success", NULL } };
    yajl_val ps = yajl_tree_get(root, ps_path[0], yajl_t_object);
    if (!ps)
        ps = yajl_tree_get(root, ps_path[1], yajl_t_object);
    yajl_val from = ps ? ps : root;
    for (int k = 0; ps && k < 2; k++) {
        const char *path[2] = { rej_keys[kvs_signal_index(sig)][k], NULL };
        yajl_val v = yajl_tree_get(ps, path, yajl_t_any);
        if (YAJL_IS_INTEGER(v))
            *rejected = YAJL_GET_INTEGER(v);
        else if (YAJL_IS_STRING(v) && v->u.string)
            *rejected = strtoll(v->u.string, NULL, 10);
    }
    const char *mk[3][2] = { { "errorMessage", NULL }, { "error_message", NULL }, { "message", NULL } };
    for (int k = 0; k < 3 && !msg[0]; k++) {
        yajl_val v = yajl_tree_get(from, mk[k], yajl_t_string);
        if (v && v->u.string)
            snprintf(msg, cap, "%s", v->u.string);
    }
    yajl_tree_free(root);
}

/* The reason an error response gives: its Status message, else its text. */
static void error_text(CURL *h, const kvs_buf *body, char *msg, size_t cap)
{
    msg[0] = '\0';
    if (!body->len)
        return;
    if (is_json(h)) {
        int64_t rej = 0;
        json_response(KVS_SIG_TRACES, body, &rej, msg, cap);
    } else {
        int code;
        uint64_t d;
        if (kvs_rpc_status_decode((const uint8_t *)body->data, body->len, &code, msg, cap, &d) != 0)
            msg[0] = '\0';
    }
    if (!msg[0]) {
        size_t n = body->len < cap - 1 ? body->len : cap - 1;
        for (size_t i = 0; i < n; i++)
            msg[i] = isprint((unsigned char)body->data[i]) ? body->data[i] : ' ';
        msg[n] = '\0';
    }
}

/* Aborts a transfer once the sending queue's shutdown deadline passed. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const http_exp *x = arg;
    return kvs_now_ns() >= kvs_sending_queue_deadline(x->q);
}

/* curl failures that no retry can fix (configuration problems). */
static int curl_permanent(CURLcode c)
{
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
        return 1;
    default:
        return 0;
    }
}

static kvs_send_result http_send(void *exp, void **worker, kvs_batch *b, uint64_t deadline_ns,
                                 kvs_send_info *info, kvs_error *err)
{
    http_exp *x = exp;
    int si = kvs_signal_index(b->signal);
    if (!x->url[si]) {
        kvs_errorf(err, KVS_E_INVALID, "no endpoint for %s", kvs_signal_name(b->signal));
        return KVS_SEND_PERMANENT;
    }
    CURL *h = *worker;
    if (!h && !(h = *worker = curl_easy_init())) {
        kvs_errorf(err, KVS_E_NOMEM, "cannot create a curl handle");
        return KVS_SEND_RETRYABLE;
    }
    kvs_buf raw = { 0 }, body = { 0 };
    response resp;
    memset(&resp, 0, sizeof resp);
    kvs_send_result r;
    if (encode(x, b, &raw, &body) != 0) {
        kvs_errorf(err, KVS_E_NOMEM, "out of memory encoding %zu %s", b->items, kvs_signal_unit(b->signal));
        r = KVS_SEND_RETRYABLE;
        goto out;
    }
    uint64_t now = kvs_now_ns();
    long timeout_ms = 0;
    if (deadline_ns != UINT64_MAX) {
        uint64_t left = deadline_ns > now ? (deadline_ns - now) / KVS_MS : 0;
        timeout_ms = left < 1 ? 1 : left > LONG_MAX ? LONG_MAX : (long)left;
    }
    curl_easy_setopt(h, CURLOPT_URL, x->url[si]);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data ? body.data : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kvscope/" KVS_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, x->skip_verify ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, x->skip_verify ? 0L : 2L);
    if (x->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, x->ca_file);
    if (x->cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, x->cert_file);
        curl_easy_setopt(h, CURLOPT_SSLKEY, x->key_file);
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        kvs_errorf(err, KVS_E_IO, "POST %s: %s", x->url[si], curl_easy_strerror(cc));
        r = curl_permanent(cc) ? KVS_SEND_PERMANENT : KVS_SEND_RETRYABLE;
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        int64_t rejected = 0;
        char msg[256] = "";
        if (resp.body.len && !resp.truncated) {
            if (is_json(h))
                json_response(b->signal, &resp.body, &rejected, msg, sizeof msg);
            else if (kvs_otlp_partial_success(b->signal, (const uint8_t *)resp.body.data, resp.body.len, &rejected,
                                              msg, sizeof msg) != 0)
                KVS_WARN(x->id, "cannot decode the response of POST %s (%zu bytes)", x->url[si], resp.body.len);
        }
        if (rejected > 0 || msg[0])
            KVS_WARN(x->id, "partial success: the server rejected %lld of %zu %s: %s", (long long)rejected, b->items,
                     kvs_signal_unit(b->signal), msg[0] ? msg : "(no message)");
        info->rejected = rejected > 0 ? (uint64_t)rejected : 0;
        r = KVS_SEND_OK;
        goto out;
    }
    char msg[300];
    error_text(h, &resp.body, msg, sizeof msg);
    kvs_errorf(err, KVS_E_IO, "POST %s: HTTP %ld%s%s", x->url[si], status, msg[0] ? ": " : "", msg);
    if (status == 429 || status == 502 || status == 503 || status == 504) {
        info->retry_after_ns = parse_retry_after(resp.retry_after);
        r = KVS_SEND_RETRYABLE;
    } else {
        r = KVS_SEND_PERMANENT;
    }
out:
    kvs_buf_free(&raw);
    kvs_buf_free(&body);
    kvs_buf_free(&resp.body);
    return r;
}

static void http_worker_free(void *exp, void *worker) { curl_easy_cleanup(worker); }

static void http_shutdown(void *state, uint64_t deadline_ns)
{
    http_exp *x = state;
    kvs_sending_queue_shutdown(x->q, deadline_ns);
}

static void http_destroy(void *state)
{
    http_exp *x = state;
    if (!x)
        return;
    kvs_sending_queue_free(x->q);
    curl_slist_free_all(x->hdrs);
    if (x->curl_inited)
        curl_global_cleanup();
    for (int i = 0; i < KVS_NSIG; i++)
        free(x->url[i]);
    free(x);
}

/* Self-metrics: the sending queue's gauges. */
static void http_gauges(void *state, kvs_gauge_fn emit, void *ctx)
{
    http_exp *x = state;
    kvs_queue_stats st;
    kvs_sending_queue_stats(x->q, &st);
    kvs_queue_stats_emit(&st, emit, ctx);
}

const kvs_component_def kvs_exporter_otlphttp = {
    .type = "otlphttp",
    .kind = KVS_EXPORTER,
    .signals = KVS_SIG_ALL,
    .wire = 1,
    .create = http_create,
    .start = http_start,
    .consume = http_consume,
    .shutdown = http_shutdown,
    .destroy = http_destroy,
    .gauges = http_gauges,
};
