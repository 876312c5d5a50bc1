/* Exporter `otlp`: OTLP over gRPC with the gRPC core C API. One channel per
 * exporter, shared by the sending queue's consumers (each has its own
 * completion queue, so calls run in parallel). A request in wire form goes
 * out as the bytes it arrived as (lent to gRPC, no copy); a decoded one is
 * packed with protobuf-c. It is sent to /opentelemetry.proto.collector.<signal>.v1.
 * <Signal>Service/Export with the configured headers as metadata and gzip
 * compression by default. Status codes follow the OTLP spec: UNAVAILABLE,
 * CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and DATA_LOSS are
 * retried, RESOURCE_EXHAUSTED only when the server says when to come back
 * (google.rpc.RetryInfo or grpc-retry-pushback-ms); every other code is
 * permanent. A partial_success in the response is logged and its rejected
 * items are counted. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "core/selfmetrics.h"
#include "core/sending_queue.h"

#include <ctype.h>
#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct header {
    char *key;          /* lowercased copy */
    const char *value;  /* in the config document */
} header;

typedef struct otlp_exp {
    const char *id;
    kvs_telemetry *tel;
    char *target;
    int insecure, skip_verify, gzip;
    const char *ca_file, *cert_file, *key_file;
    header *headers;
    size_t nheaders;
    kvs_sending_queue *q;

    int grpc_inited;
    grpc_channel *ch;
    grpc_metadata *md;
} otlp_exp;

static const char *const keys[] = { "endpoint", "tls", "headers", "compression", KVS_SENDING_QUEUE_KEYS, NULL };
static const char *const tls_keys[] = { "insecure", "insecure_skip_verify", "ca_file", "cert_file", "key_file", NULL };
static const char *const compressions[] = { "gzip", "none", NULL };

static const char *const methods[KVS_NSIG] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

static kvs_send_result otlp_send(void *exp, void **worker, kvs_batch *b, uint64_t deadline_ns,
                                 kvs_send_info *info, kvs_error *err);
static void otlp_worker_free(void *exp, void *worker);
static void otlp_destroy(void *state);

/* Header keys become gRPC metadata keys: lowercase [0-9a-z-_.]. */
static int parse_headers(otlp_exp *x, const kvs_cfg_node *h, kvs_error *err)
{
    if (kvs_cfg_expect_map(h, err))
        return KVS_E_INVALID;
    if (!h || h->type != KVS_CFG_MAP || h->n == 0)
        return 0;
    x->headers = calloc(h->n, sizeof *x->headers);
    if (!x->headers)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    for (size_t i = 0; i < h->n; i++) {
        const char *k = h->keys[i]->scalar, *v;
        if (kvs_cfg_str(h, k, "", &v, err))
            return KVS_E_INVALID;
        size_t n = strlen(k);
        if (n == 0 || strncasecmp(k, "grpc-", 5) == 0)
            return kvs_cfg_errorf(err, h->keys[i], "header name \"%s\" is not allowed as gRPC metadata", k);
        char *lk = malloc(n + 1);
        if (!lk)
            return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        for (size_t j = 0; j <= n; j++)
            lk[j] = (char)tolower((unsigned char)k[j]);
        x->headers[x->nheaders++] = (header){ lk, v };
        for (size_t j = 0; j < n; j++)
            if (!isalnum((unsigned char)lk[j]) && lk[j] != '-' && lk[j] != '_' && lk[j] != '.')
                return kvs_cfg_errorf(err, h->keys[i], "header name \"%s\" has characters gRPC metadata cannot carry", k);
        int bin = n > 4 && strcmp(lk + n - 4, "-bin") == 0;
        for (const char *p = v; !bin && *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                return kvs_cfg_errorf(err, h->items[i], "header \"%s\": value must be printable ASCII", k);
    }
    return 0;
}

static int otlp_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg, *tls = kvs_cfg_get(c, "tls");
    const char *endpoint;
    int comp;
    kvs_sending_queue_cfg qc;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_str(c, "endpoint", NULL, &endpoint, err) || kvs_cfg_enum(c, "compression", compressions, 0, &comp, err) ||
        kvs_cfg_expect_map(tls, err) || kvs_cfg_check_keys(tls, tls_keys, err) ||
        kvs_sending_queue_parse(c, &qc, err))
        return KVS_E_INVALID;
    if (!endpoint || !*endpoint)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "endpoint") ? kvs_cfg_get(c, "endpoint") : c,
                              "%s: `endpoint` (host:port) is required", ctx->id);
    otlp_exp *x = calloc(1, sizeof *x);
    if (!x)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    x->id = ctx->id;
    x->tel = ctx->tel;
    x->gzip = comp == 0;
    int scheme_plain = strncmp(endpoint, "http://", 7) == 0, scheme_tls = strncmp(endpoint, "https://", 8) == 0;
    if (kvs_cfg_bool(tls, "insecure", scheme_plain, &x->insecure, err) ||
        kvs_cfg_bool(tls, "insecure_skip_verify", 0, &x->skip_verify, err) ||
        kvs_cfg_str(tls, "ca_file", NULL, &x->ca_file, err) || kvs_cfg_str(tls, "cert_file", NULL, &x->cert_file, err) ||
        kvs_cfg_str(tls, "key_file", NULL, &x->key_file, err) || parse_headers(x, kvs_cfg_get(c, "headers"), err))
        goto fail;
    if (scheme_tls && x->insecure) {
        kvs_cfg_errorf(err, kvs_cfg_get(tls, "insecure"), "%s: tls.insecure contradicts the https:// endpoint", ctx->id);
        goto fail;
    }
    if (!x->cert_file != !x->key_file) {
        kvs_cfg_errorf(err, tls, "%s: tls.cert_file and tls.key_file go together", ctx->id);
        goto fail;
    }
    const char *host = endpoint + (scheme_plain ? 7 : scheme_tls ? 8 : 0);
    size_t hl = strlen(host);
    while (hl && host[hl - 1] == '/')
        hl--;
    int resolver = strncmp(host, "dns:", 4) == 0 || strncmp(host, "unix:", 5) == 0 ||
                   strncmp(host, "ipv4:", 5) == 0 || strncmp(host, "ipv6:", 5) == 0;
    for (size_t i = 0; i < hl; i++)
        if (isspace((unsigned char)host[i]) || (host[i] == '/' && !resolver)) {
            kvs_cfg_errorf(err, kvs_cfg_get(c, "endpoint"), "%s: endpoint must be host:port, got \"%s\"", ctx->id,
                           endpoint);
            goto fail;
        }
    if (hl == 0 || !(x->target = strndup(host, hl))) {
        if (hl == 0)
            kvs_cfg_errorf(err, kvs_cfg_get(c, "endpoint"), "%s: endpoint has no host", ctx->id);
        else
            kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        goto fail;
    }
    kvs_sending_queue_ops ops = { x, otlp_send, otlp_worker_free };
    if (!(x->q = kvs_sending_queue_new(ctx->id, &qc, &ops, ctx->tel, err)))
        goto fail;
    *state = x;
    return 0;
fail:
    otlp_destroy(x);
    return err->code ? err->code : KVS_E_INVALID;
}

static char *read_pem(const char *id, const char *what, const char *path, kvs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        kvs_errorf(err, KVS_E_IO, "%s: cannot open tls.%s %s: %s", id, what, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc((1 << 20) + 1);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (!buf || bad || n == 0) {
        free(buf);
        kvs_errorf(err, KVS_E_IO, "%s: cannot read tls.%s %s (empty, unreadable or over 1 MiB)", id, what, path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static grpc_channel_credentials *make_creds(otlp_exp *x, kvs_error *err)
{
    if (x->insecure)
        return grpc_insecure_credentials_create();
    char *ca = NULL, *cert = NULL, *key = NULL;
    grpc_channel_credentials *cr = NULL;
    if ((x->ca_file && !(ca = read_pem(x->id, "ca_file", x->ca_file, err))) ||
        (x->cert_file && !(cert = read_pem(x->id, "cert_file", x->cert_file, err))) ||
        (x->key_file && !(key = read_pem(x->id, "key_file", x->key_file, err))))
        goto out;
    if (x->skip_verify) {
        grpc_tls_credentials_options *o = grpc_tls_credentials_options_create();
        grpc_tls_identity_pairs *pairs = NULL;
        if (cert) {
            pairs = grpc_tls_identity_pairs_create();
            grpc_tls_identity_pairs_add_pair(pairs, key, cert);
        }
        if (ca || pairs) {
            grpc_tls_certificate_provider *p = grpc_tls_certificate_provider_static_data_create(ca, pairs);
            grpc_tls_credentials_options_set_certificate_provider(o, p);
            grpc_tls_certificate_provider_release(p);
            if (ca)
                grpc_tls_credentials_options_watch_root_certs(o);
            if (pairs)
                grpc_tls_credentials_options_watch_identity_key_cert_pairs(o);
        }
        grpc_tls_certificate_verifier *v = grpc_tls_certificate_verifier_no_op_create();
        grpc_tls_credentials_options_set_certificate_verifier(o, v);
        grpc_tls_certificate_verifier_release(v);
        grpc_tls_credentials_options_set_verify_server_cert(o, 0);
        grpc_tls_credentials_options_set_check_call_host(o, 0);
        cr = grpc_tls_credentials_create(o);
    } else {
        grpc_ssl_pem_key_cert_pair pair = { key, cert };
        cr = grpc_ssl_credentials_create_ex(ca, cert ? &pair : NULL, NULL, NULL);
    }
    if (!cr)
        kvs_errorf(err, KVS_E_INVALID, "%s: cannot set up TLS credentials", x->id);
out:
    free(ca);
    free(cert);
    free(key);
    return cr;
}

static int otlp_start(void *state, kvs_error *err)
{
    otlp_exp *x = state;
    grpc_init();
    x->grpc_inited = 1;
    grpc_channel_credentials *creds = make_creds(x, err);
    if (!creds)
        return err->code;
    grpc_arg args[6];
    size_t n = 0;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_ENABLE_RETRIES; /* the sending queue retries */
    args[n++].value.integer = 0;
    /* While the channel waits to reconnect, every call fails at once; gRPC's
     * default backoff grows to 120 s, so a backend back after a 30 s outage
     * would stay unused for tens of seconds while the queue refuses data.
     * The sending queue paces retries itself: reconnect within a second. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[n++].value.integer = 100;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[n++].value.integer = 1000;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS;
    args[n++].value.integer = 500;
    args[n].type = GRPC_ARG_STRING;
    args[n].key = (char *)GRPC_ARG_PRIMARY_USER_AGENT_STRING;
    args[n++].value.string = (char *)"kvscope/" KVS_VERSION;
    if (x->gzip) {
        args[n].type = GRPC_ARG_INTEGER;
        args[n].key = (char *)GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
        args[n++].value.integer = GRPC_COMPRESS_GZIP;
    }
    grpc_channel_args ca = { n, args };
    x->ch = grpc_channel_create(x->target, creds, &ca);
    grpc_channel_credentials_release(creds);
    if (!x->ch)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot create a gRPC channel to %s", x->id, x->target);
    if (x->nheaders) {
        x->md = calloc(x->nheaders, sizeof *x->md);
        if (!x->md)
            return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        for (size_t i = 0; i < x->nheaders; i++) {
            x->md[i].key = grpc_slice_from_copied_string(x->headers[i].key);
            x->md[i].value = grpc_slice_from_copied_string(x->headers[i].value);
        }
    }
    KVS_INFO(x->id, "exporting OTLP/gRPC to %s (%s%s)", x->target, x->insecure ? "plaintext" : "TLS",
             x->gzip ? ", gzip" : "");
    return kvs_sending_queue_start(x->q, err);
}

static int otlp_consume(void *state, kvs_batch *b, kvs_error *err)
{
    otlp_exp *x = state;
    return kvs_sending_queue_consume(x->q, b, err);
}

static const char *status_name(grpc_status_code s)
{
    static const char *const names[] = { "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
                                         "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
                                         "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
                                         "Internal", "Unavailable", "DataLoss", "Unauthenticated" };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "Unknown";
}

static int slice_eq(grpc_slice s, const char *str)
{
    size_t n = strlen(str);
    return GRPC_SLICE_LENGTH(s) == n && memcmp(GRPC_SLICE_START_PTR(s), str, n) == 0;
}

/* The server's retry delay from trailing metadata: RetryInfo in
 * grpc-status-details-bin, else grpc-retry-pushback-ms. 0 = none. */
static uint64_t server_delay(const grpc_metadata_array *md)
{
    uint64_t info = 0, pushback = 0;
    for (size_t i = 0; i < md->count; i++) {
        grpc_slice k = md->metadata[i].key, v = md->metadata[i].value;
        if (slice_eq(k, "grpc-status-details-bin")) {
            int code;
            uint64_t d;
            if (kvs_rpc_status_decode(GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v), &code, NULL, 0, &d) == 0)
                info = d;
        } else if (slice_eq(k, "grpc-retry-pushback-ms")) {
            char buf[24];
            size_t n = GRPC_SLICE_LENGTH(v);
            if (n > 0 && n < sizeof buf) {
                memcpy(buf, GRPC_SLICE_START_PTR(v), n);
                buf[n] = '\0';
                char *end;
                errno = 0;
                unsigned long long ms = strtoull(buf, &end, 10);
                if (!*end && !errno && ms > 0 && ms < 86400000ULL * 365)
                    pushback = ms * KVS_MS;
            }
        }
    }
    return info ? info : pushback;
}

static int retryable(grpc_status_code s, uint64_t delay)
{
    switch (s) {
    case GRPC_STATUS_CANCELLED:
    case GRPC_STATUS_DEADLINE_EXCEEDED:
    case GRPC_STATUS_ABORTED:
    case GRPC_STATUS_OUT_OF_RANGE:
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_DATA_LOSS:
        return 1;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return delay != 0;
    default:
        return 0;
    }
}

/* Reads the Export response's partial_success. */
static void read_response(otlp_exp *x, kvs_batch *b, grpc_byte_buffer *resp, kvs_send_info *info)
{
    grpc_byte_buffer_reader rd;
    if (!resp || !grpc_byte_buffer_reader_init(&rd, resp))
        return;
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    int64_t rejected;
    char msg[256];
    if (kvs_otlp_partial_success(b->signal, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), &rejected, msg,
                                 sizeof msg) != 0)
        KVS_WARN(x->id, "cannot decode the Export response (%zu bytes)", GRPC_SLICE_LENGTH(s));
    else if (rejected > 0 || msg[0])
        KVS_WARN(x->id, "partial success: the server rejected %lld of %zu %s: %s", (long long)rejected, b->items,
                 kvs_signal_unit(b->signal), msg[0] ? msg : "(no message)");
    else
        rejected = 0;
    grpc_slice_unref(s);
    info->rejected = rejected > 0 ? (uint64_t)rejected : 0;
}

static void release_batch(void *b) { kvs_batch_unref(b); }

static kvs_send_result otlp_send(void *exp, void **worker, kvs_batch *b, uint64_t deadline_ns,
                                 kvs_send_info *info, kvs_error *err)
{
    otlp_exp *x = exp;
    if (!x->ch) {
        kvs_errorf(err, KVS_E_IO, "exporter not started");
        return KVS_SEND_RETRYABLE;
    }
    grpc_completion_queue *cq = *worker;
    if (!cq && !(cq = *worker = grpc_completion_queue_create_for_pluck(NULL))) {
        kvs_errorf(err, KVS_E_NOMEM, "cannot create a completion queue");
        return KVS_SEND_RETRYABLE;
    }
    grpc_slice body;
    if (b->wire) {
        /* The bytes as received, lent to gRPC: the slice keeps the batch alive. */
        body = grpc_slice_new_with_user_data((void *)(uintptr_t)b->wire, b->wire_len, release_batch,
                                             kvs_batch_ref(b));
    } else {
        size_t len = protobuf_c_message_get_packed_size(b->msg);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) {
            kvs_errorf(err, KVS_E_NOMEM, "out of memory encoding %zu bytes", len);
            return KVS_SEND_RETRYABLE;
        }
        protobuf_c_message_pack(b->msg, buf);
        body = grpc_slice_new(buf, len, free);
    }
    grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);

    uint64_t now = kvs_now_ns();
    gpr_timespec dl = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    if (deadline_ns != UINT64_MAX)
        dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                          gpr_time_from_nanos(deadline_ns > now ? (int64_t)(deadline_ns - now) : 0, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(x->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(methods[kvs_signal_index(b->signal)]),
                                               NULL, dl, NULL);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *resp = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    const char *error_string = NULL;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = x->nheaders;
    ops[0].data.send_initial_metadata.metadata = x->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.error_string = &error_string;
    kvs_send_result r;
    grpc_call_error ce = call ? grpc_call_start_batch(call, ops, 6, (void *)call, NULL) : GRPC_CALL_ERROR;
    if (ce != GRPC_CALL_OK) {
        kvs_errorf(err, KVS_E_IO, "cannot start the gRPC call (error %d)", (int)ce);
        r = KVS_SEND_RETRYABLE;
        goto done;
    }
    /* The call ends by its own deadline; polling in short slices also ends
     * it when the sending queue's shutdown deadline passes first (and
     * guards against a stuck transport). A cancelled call always completes. */
    for (int cancelled = 0;;) {
        gpr_timespec slice = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(50, GPR_TIMESPAN));
        if (grpc_completion_queue_pluck(cq, (void *)call, slice, NULL).type == GRPC_OP_COMPLETE)
            break;
        uint64_t t = kvs_now_ns();
        if (!cancelled && (t >= kvs_sending_queue_deadline(x->q) ||
                           (deadline_ns != UINT64_MAX && t >= deadline_ns + 5 * KVS_SEC))) {
            grpc_call_cancel(call, NULL);
            cancelled = 1;
        }
    }
    if (status == GRPC_STATUS_OK) {
        read_response(x, b, resp, info);
        r = KVS_SEND_OK;
    } else {
        uint64_t delay = server_delay(&trailing);
        size_t dn = GRPC_SLICE_LENGTH(details);
        kvs_errorf(err, KVS_E_IO, "rpc error: code = %s desc = %.*s", status_name(status), (int)(dn > 300 ? 300 : dn),
                   (const char *)GRPC_SLICE_START_PTR(details));
        if (retryable(status, delay)) {
            info->retry_after_ns = delay;
            r = KVS_SEND_RETRYABLE;
        } else {
            r = KVS_SEND_PERMANENT;
        }
    }
done:
    if (call)
        grpc_call_unref(call);
    grpc_byte_buffer_destroy(req);
    if (resp)
        grpc_byte_buffer_destroy(resp);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    return r;
}

static void otlp_worker_free(void *exp, void *worker)
{
    grpc_completion_queue *cq = worker;
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static void otlp_shutdown(void *state, uint64_t deadline_ns)
{
    otlp_exp *x = state;
    kvs_sending_queue_shutdown(x->q, deadline_ns);
}

static void otlp_destroy(void *state)
{
    otlp_exp *x = state;
    if (!x)
        return;
    kvs_sending_queue_free(x->q);
    if (x->md) {
        for (size_t i = 0; i < x->nheaders; i++) {
            grpc_slice_unref(x->md[i].key);
            grpc_slice_unref(x->md[i].value);
        }
        free(x->md);
    }
    if (x->ch)
        grpc_channel_destroy(x->ch);
    if (x->grpc_inited)
        grpc_shutdown();
    for (size_t i = 0; i < x->nheaders; i++)
        free(x->headers[i].key);
    free(x->headers);
    free(x->target);
    free(x);
}

/* Self-metrics: the sending queue's gauges. */
static void otlp_gauges(void *state, kvs_gauge_fn emit, void *ctx)
{
    otlp_exp *x = state;
    kvs_queue_stats st;
    kvs_sending_queue_stats(x->q, &st);
    kvs_queue_stats_emit(&st, emit, ctx);
}

const kvs_component_def kvs_exporter_otlp = {
    .type = "otlp",
    .kind = KVS_EXPORTER,
    .signals = KVS_SIG_ALL,
    .wire = 1,
    .create = otlp_create,
    .start = otlp_start,
    .consume = otlp_consume,
    .shutdown = otlp_shutdown,
    .destroy = otlp_destroy,
    .gauges = otlp_gauges,
};
