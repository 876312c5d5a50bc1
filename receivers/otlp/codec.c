/* Receiver `otlp`: the body path, independent of the transports.
 *
 * Promises: content types and encodings are parsed as the Collector does
 * (media type before any parameter, case-insensitive); gzip, deflate (zlib)
 * and zstd bodies are inflated incrementally into a buffer that grows on
 * demand and never past the cap (a compression bomb is refused once the cap
 * is crossed, having allocated at most cap+1 bytes); protobuf bodies are
 * checked for nesting depth before protobuf-c unpacks them, and the unpack
 * allocates from the batch arena under a budget proportional to the body,
 * so neither the stack nor the heap can be blown up by a small request;
 * JSON bodies go through formats/otlp_json.h and must hold the signal of
 * the path they were posted to. Responses are Export*ServiceResponse in the
 * request's encoding; errors are google.rpc.Status, hand-encoded in
 * protobuf (fields 1 code, 2 message) or written as {"code":..,"message":..}. */
#include "receivers/otlp/otlp_internal.h"

#include "formats/otlp_json.h"
#include "formats/otlp_wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

/* ---- content type and encoding ---- */

static int token_is(const char *v, const char *want)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = 0;
    while (v[n] && v[n] != ';' && v[n] != ' ' && v[n] != '\t' && v[n] != ',')
        n++;
    const char *rest = v + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest && *rest != ';')
        return 0;
    return strlen(want) == n && strncasecmp(v, want, n) == 0;
}

int kvs_otlp_parse_ctype(const char *value, kvs_otlp_ctype *out)
{
    if (!value)
        return -1;
    if (token_is(value, "application/x-protobuf")) {
        *out = KVS_OTLP_PROTOBUF;
        return 0;
    }
    if (token_is(value, "application/json")) {
        *out = KVS_OTLP_JSON;
        return 0;
    }
    return -1;
}

int kvs_otlp_parse_encoding(const char *value, kvs_otlp_enc *out)
{
    static const struct { const char *name; kvs_otlp_enc enc; } known[] = {
        { "identity", KVS_OTLP_IDENTITY }, { "gzip", KVS_OTLP_GZIP }, { "x-gzip", KVS_OTLP_GZIP },
        { "deflate", KVS_OTLP_DEFLATE },   { "zstd", KVS_OTLP_ZSTD },
    };
    const char *v = value ? value : "";
    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v) {
        *out = KVS_OTLP_IDENTITY;
        return 0;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (token_is(v, known[i].name) && !strchr(v, ';')) {
            *out = known[i].enc;
            return 0;
        }
    return -1;
}

/* ---- decompression ---- */

typedef struct outbuf {
    uint8_t *p;
    size_t len, cap, max;
} outbuf;

/* Makes room for more output; the buffer never exceeds max + 1 bytes (the
 * one extra byte is how "more than max" is noticed). */
static int out_grow(outbuf *o)
{
    size_t limit = o->max + 1;
    if (o->cap >= limit)
        return KVS_OTLP_E_TOO_LARGE;
    size_t ncap = o->cap ? o->cap * 2 : 64 * 1024;
    if (ncap > limit || ncap < o->cap)
        ncap = limit;
    uint8_t *g = realloc(o->p, ncap);
    if (!g)
        return KVS_OTLP_E_NOMEM;
    o->p = g;
    o->cap = ncap;
    return 0;
}

static int inflate_zlib(const uint8_t *in, size_t n, int gzip, outbuf *o, char *msg, size_t msgn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* gzip: gzip framing only; deflate: zlib framing (HTTP's "deflate"),
     * or gzip framing from lenient clients (15 + 32: detect). */
    if (inflateInit2(&z, gzip ? 31 : 47) != Z_OK) {
        snprintf(msg, msgn, "out of memory");
        return KVS_OTLP_E_NOMEM;
    }
    const char *what = gzip ? "gzip" : "deflate";
    size_t pos = 0;
    int rc = 0, ended = 0;
    while (rc == 0) {
        if (o->len == o->cap && (rc = out_grow(o)) != 0)
            break;
        size_t in_chunk = n - pos > (1u << 30) ? (1u << 30) : n - pos;
        size_t out_chunk = o->cap - o->len > (1u << 30) ? (1u << 30) : o->cap - o->len;
        z.next_in = (Bytef *)(uintptr_t)(in + pos);
        z.avail_in = (uInt)in_chunk;
        z.next_out = o->p + o->len;
        z.avail_out = (uInt)out_chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        pos += in_chunk - z.avail_in;
        o->len += out_chunk - z.avail_out;
        if (o->len > o->max) {
            rc = KVS_OTLP_E_TOO_LARGE;
            break;
        }
        if (zr == Z_STREAM_END) {
            ended = 1;
            if (pos == n)
                break;
            if (!gzip) {
                snprintf(msg, msgn, "deflate: %zu bytes after the end of the compressed stream", n - pos);
                rc = KVS_OTLP_E_BAD;
                break;
            }
            /* Another gzip member follows (concatenated gzip). */
            if (inflateReset(&z) != Z_OK) {
                rc = KVS_OTLP_E_BAD;
                snprintf(msg, msgn, "gzip: cannot restart for the next member");
            }
            ended = 0;
            continue;
        }
        if (zr == Z_BUF_ERROR && pos == n && z.avail_out > 0)
            break; /* input exhausted before the end of the stream */
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            snprintf(msg, msgn, "%s: corrupt compressed body: %s", what, z.msg ? z.msg : "error");
            rc = KVS_OTLP_E_BAD;
        }
    }
    inflateEnd(&z);
    if (rc == 0 && !ended) {
        snprintf(msg, msgn, "%s: compressed body is truncated", what);
        rc = KVS_OTLP_E_BAD;
    }
    return rc;
}

static int inflate_zstd(const uint8_t *in, size_t n, outbuf *o, char *msg, size_t msgn)
{
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!z) {
        snprintf(msg, msgn, "out of memory");
        return KVS_OTLP_E_NOMEM;
    }
    /* A window as large as the largest body we accept, at least 16 MiB
     * (what zstd's levels up to 19 and Go's encoders use), at most zstd's
     * default limit of 128 MiB. */
    int wlog = 24;
    while (wlog < 27 && ((uint64_t)1 << wlog) < o->max)
        wlog++;
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, wlog);
    ZSTD_inBuffer ib = { in, n, 0 };
    size_t last = 1;
    int rc = 0;
    while (rc == 0) {
        if (o->len == o->cap && (rc = out_grow(o)) != 0)
            break;
        ZSTD_outBuffer ob = { o->p, o->cap, o->len };
        last = ZSTD_decompressStream(z, &ob, &ib);
        o->len = ob.pos;
        if (ZSTD_isError(last)) {
            snprintf(msg, msgn, "zstd: corrupt compressed body: %s", ZSTD_getErrorName(last));
            rc = KVS_OTLP_E_BAD;
            break;
        }
        if (o->len > o->max) {
            rc = KVS_OTLP_E_TOO_LARGE;
            break;
        }
        /* Done when all input is consumed and the frame is complete, or
         * no progress is possible with room left in the output. */
        if (ib.pos == ib.size && (last == 0 || ob.pos < ob.size))
            break;
    }
    ZSTD_freeDCtx(z);
    if (rc == 0 && last != 0) {
        snprintf(msg, msgn, "zstd: compressed body is truncated");
        rc = KVS_OTLP_E_BAD;
    }
    return rc;
}

int kvs_otlp_decompress(kvs_otlp_enc enc, const uint8_t *in, size_t n, size_t max, uint8_t **out,
                        size_t *outn, char *msg, size_t msgn)
{
    *out = NULL;
    *outn = 0;
    if (n == 0)
        return 0;
    outbuf o = { .max = max };
    int rc;
    switch (enc) {
    case KVS_OTLP_GZIP: rc = inflate_zlib(in, n, 1, &o, msg, msgn); break;
    case KVS_OTLP_DEFLATE: rc = inflate_zlib(in, n, 0, &o, msg, msgn); break;
    case KVS_OTLP_ZSTD: rc = inflate_zstd(in, n, &o, msg, msgn); break;
    default:
        if (n > max) {
            rc = KVS_OTLP_E_TOO_LARGE;
            break;
        }
        o.p = malloc(n);
        if (!o.p) {
            rc = KVS_OTLP_E_NOMEM;
            break;
        }
        memcpy(o.p, in, n);
        o.len = n;
        rc = 0;
    }
    if (rc == KVS_OTLP_E_TOO_LARGE)
        snprintf(msg, msgn, "request body larger than max_request_body_size (%zu bytes) once decompressed", max);
    else if (rc == KVS_OTLP_E_NOMEM)
        snprintf(msg, msgn, "out of memory decompressing the request body");
    if (rc != 0) {
        free(o.p);
        return rc;
    }
    *out = o.p;
    *outn = o.len;
    return 0;
}

/* ---- protobuf ---- */

static uint64_t drop_invalid(kvs_signal sig, ProtobufCMessage *m);

/* Checks the bytes and keeps them as they came (wire form, the batch takes
 * the malloc'd buffer p); only a request with spans / log records to drop
 * is decoded here. p is freed on failure. */
static int decode_protobuf(kvs_signal sig, uint8_t *p, size_t n, kvs_batch **out, uint64_t *rejected, char *msg,
                           size_t msgn)
{
    kvs_otlp_wire_info wi;
    static const uint8_t empty[1];
    if (kvs_otlp_wire_scan(sig, p ? p : empty, n, &wi, msg, msgn) != 0) {
        free(p);
        return KVS_OTLP_E_BAD;
    }
    kvs_batch *b = kvs_batch_adopt_wire(sig, p, n, wi.items);
    if (!b) {
        free(p);
        snprintf(msg, msgn, "out of memory");
        return KVS_OTLP_E_NOMEM;
    }
    if (wi.invalid) {
        /* Exclusively owned: writable decodes in place and drops the bytes. */
        kvs_error err;
        int rc = kvs_batch_decode(b, &err);
        if (rc != 0 || !kvs_batch_writable(b)) {
            snprintf(msg, msgn, "%s", rc ? err.msg : "out of memory");
            kvs_batch_unref(b);
            return rc == KVS_E_INVALID ? KVS_OTLP_E_BAD : rc ? KVS_OTLP_E_TOO_LARGE : KVS_OTLP_E_NOMEM;
        }
        *rejected = drop_invalid(sig, b->msg);
        kvs_batch_recount(b);
    }
    *out = b;
    return 0;
}

/* ---- JSON ---- */

static int decode_json(kvs_signal sig, const uint8_t *p, size_t n, kvs_arena *a, ProtobufCMessage **out,
                       char *msg, size_t msgn)
{
    kvs_otlp_doc doc;
    kvs_json_error jerr;
    if (kvs_otlp_json_decode((const char *)p, n, a, &doc, &jerr) != 0) {
        snprintf(msg, msgn, "invalid OTLP/JSON at byte %zu: %s", jerr.offset, jerr.msg);
        return KVS_OTLP_E_BAD;
    }
    ProtobufCMessage *m[KVS_NSIG] = { (ProtobufCMessage *)doc.traces, (ProtobufCMessage *)doc.metrics,
                                      (ProtobufCMessage *)doc.logs };
    static const char *const keys[KVS_NSIG] = { "resourceSpans", "resourceMetrics", "resourceLogs" };
    int want = kvs_signal_index(sig);
    for (int i = 0; i < KVS_NSIG; i++)
        if (i != want && m[i]) {
            snprintf(msg, msgn, "the body holds %s but this path takes %s (%s)", keys[i], kvs_signal_name(sig),
                     keys[want]);
            return KVS_OTLP_E_BAD;
        }
    *out = m[want];
    if (!*out) {
        /* "{}": an empty request of the path's signal. */
        const ProtobufCMessageDescriptor *d = kvs_request_descriptor(sig);
        *out = kvs_arena_alloc(a, d->sizeof_message);
        if (!*out) {
            snprintf(msg, msgn, "out of memory");
            return KVS_OTLP_E_NOMEM;
        }
        d->message_init(*out);
    }
    return 0;
}

/* ---- invalid items ---- */

static int all_zero(const ProtobufCBinaryData *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i])
            return 0;
    return 1;
}

static int bad_span(const kvs_span *s)
{
    return s->trace_id.len != 16 || s->span_id.len != 8 || all_zero(&s->trace_id) || all_zero(&s->span_id);
}

static int bad_log(const kvs_log_record *l)
{
    return (l->trace_id.len != 0 && l->trace_id.len != 16) || (l->span_id.len != 0 && l->span_id.len != 8);
}

/* Removes spans / log records whose ids cannot be valid; returns how many. */
static uint64_t drop_invalid(kvs_signal sig, ProtobufCMessage *m)
{
    uint64_t dropped = 0;
    if (sig == KVS_SIG_TRACES) {
        kvs_traces_req *r = (kvs_traces_req *)m;
        for (size_t i = 0; i < r->n_resource_spans; i++)
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
                kvs_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
                size_t k = 0;
                for (size_t s = 0; s < ss->n_spans; s++)
                    if (bad_span(ss->spans[s]))
                        dropped++;
                    else
                        ss->spans[k++] = ss->spans[s];
                ss->n_spans = k;
            }
    } else if (sig == KVS_SIG_LOGS) {
        kvs_logs_req *r = (kvs_logs_req *)m;
        for (size_t i = 0; i < r->n_resource_logs; i++)
            for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++) {
                kvs_scope_logs *sl = r->resource_logs[i]->scope_logs[j];
                size_t k = 0;
                for (size_t s = 0; s < sl->n_log_records; s++)
                    if (bad_log(sl->log_records[s]))
                        dropped++;
                    else
                        sl->log_records[k++] = sl->log_records[s];
                sl->n_log_records = k;
            }
    }
    return dropped;
}

int kvs_otlp_decode_own(kvs_signal sig, kvs_otlp_ctype ct, uint8_t *p, size_t n, kvs_batch **out,
                        uint64_t *rejected, char *msg, size_t msgn)
{
    *out = NULL;
    *rejected = 0;
    int rc;
    if (ct == KVS_OTLP_JSON) {
        ProtobufCMessage *m = NULL;
        kvs_arena *a = kvs_arena_new();
        if (!a) {
            snprintf(msg, msgn, "out of memory");
            rc = KVS_OTLP_E_NOMEM;
        } else if ((rc = decode_json(sig, p ? p : (const uint8_t *)"", n, a, &m, msg, msgn)) == 0) {
            *rejected = drop_invalid(sig, m);
            if (!(*out = kvs_batch_wrap(sig, a, m))) {
                snprintf(msg, msgn, "out of memory");
                rc = KVS_OTLP_E_NOMEM;
            }
        }
        if (rc != 0)
            kvs_arena_free(a);
        free(p); /* the decoder copied what it keeps */
    } else {
        rc = decode_protobuf(sig, p, n, out, rejected, msg, msgn);
    }
    if (rc == 0 && *rejected)
        snprintf(msg, msgn, "%llu %s rejected: %s", (unsigned long long)*rejected, kvs_signal_unit(sig),
                 sig == KVS_SIG_TRACES ? "trace_id must be 16 and span_id 8 bytes, not all zero"
                                       : "trace_id must be empty or 16 bytes, span_id empty or 8 bytes");
    return rc;
}

int kvs_otlp_decode(kvs_signal sig, kvs_otlp_ctype ct, const uint8_t *p, size_t n, kvs_batch **out,
                    uint64_t *rejected, char *msg, size_t msgn)
{
    uint8_t *c = malloc(n ? n : 1);
    if (!c) {
        *out = NULL;
        *rejected = 0;
        snprintf(msg, msgn, "out of memory");
        return KVS_OTLP_E_NOMEM;
    }
    if (n)
        memcpy(c, p, n);
    return kvs_otlp_decode_own(sig, ct, c, n, out, rejected, msg, msgn);
}

int kvs_otlp_decode_body(kvs_signal sig, kvs_otlp_ctype ct, kvs_otlp_enc enc, const uint8_t *p, size_t n,
                         size_t max, kvs_batch **out, uint64_t *rejected, char *msg, size_t msgn)
{
    *out = NULL;
    *rejected = 0;
    if (enc == KVS_OTLP_IDENTITY) {
        if (n > max) {
            snprintf(msg, msgn, "request body larger than max_request_body_size (%zu bytes)", max);
            return KVS_OTLP_E_TOO_LARGE;
        }
        return kvs_otlp_decode(sig, ct, p, n, out, rejected, msg, msgn);
    }
    uint8_t *raw;
    size_t rawn;
    int rc = kvs_otlp_decompress(enc, p, n, max, &raw, &rawn, msg, msgn);
    if (rc != 0)
        return rc;
    return kvs_otlp_decode_own(sig, ct, raw, rawn, out, rejected, msg, msgn);
}

/* ---- responses ---- */

static void json_str(kvs_buf *b, const char *s)
{
    kvs_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            kvs_buf_putc(b, '\\');
            kvs_buf_putc(b, (char)c);
        } else if (c < 0x20 || c >= 0x7f) {
            kvs_buf_printf(b, "\\u%04x", c);
        } else {
            kvs_buf_putc(b, (char)c);
        }
    }
    kvs_buf_putc(b, '"');
}

const char *kvs_otlp_service_name(kvs_signal sig)
{
    switch (sig) {
    case KVS_SIG_TRACES: return "opentelemetry.proto.collector.trace.v1.TraceService";
    case KVS_SIG_METRICS: return "opentelemetry.proto.collector.metrics.v1.MetricsService";
    case KVS_SIG_LOGS: return "opentelemetry.proto.collector.logs.v1.LogsService";
    }
    return "?";
}

static int pack_to(kvs_buf *out, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (kvs_buf_reserve(out, n + 1) != 0)
        return -1;
    out->len += protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    return 0;
}

int kvs_otlp_response(kvs_signal sig, kvs_otlp_ctype ct, uint64_t rejected, const char *msg, kvs_buf *out)
{
    char *em = (char *)(msg ? msg : "");
    if (ct == KVS_OTLP_JSON) {
        static const char *const field[KVS_NSIG] = { "rejectedSpans", "rejectedDataPoints", "rejectedLogRecords" };
        if (!rejected) {
            kvs_buf_puts(out, "{}");
        } else {
            kvs_buf_printf(out, "{\"partialSuccess\":{\"%s\":\"%llu\",\"errorMessage\":", field[kvs_signal_index(sig)],
                           (unsigned long long)rejected);
            json_str(out, em);
            kvs_buf_puts(out, "}}");
        }
        return out->oom ? -1 : 0;
    }
    int64_t rj = rejected > INT64_MAX ? INT64_MAX : (int64_t)rejected;
    switch (sig) {
    case KVS_SIG_TRACES: {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
            OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
        Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
            OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
        ps.rejected_spans = rj;
        ps.error_message = em;
        r.partial_success = rejected ? &ps : NULL;
        return pack_to(out, &r.base);
    }
    case KVS_SIG_METRICS: {
        Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r =
            OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
        Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
            OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
        ps.rejected_data_points = rj;
        ps.error_message = em;
        r.partial_success = rejected ? &ps : NULL;
        return pack_to(out, &r.base);
    }
    case KVS_SIG_LOGS: {
        Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse r =
            OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
        Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess ps =
            OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
        ps.rejected_log_records = rj;
        ps.error_message = em;
        r.partial_success = rejected ? &ps : NULL;
        return pack_to(out, &r.base);
    }
    }
    return -1;
}

static void put_varint(kvs_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        kvs_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    kvs_buf_putc(b, (char)v);
}

int kvs_otlp_status_body(kvs_otlp_ctype ct, int code, const char *msg, kvs_buf *out)
{
    if (ct == KVS_OTLP_JSON) {
        kvs_buf_printf(out, "{\"code\":%d,\"message\":", code);
        json_str(out, msg ? msg : "");
        kvs_buf_putc(out, '}');
        return out->oom ? -1 : 0;
    }
    /* google.rpc.Status: int32 code = 1; string message = 2. */
    if (code) {
        kvs_buf_putc(out, 0x08);
        put_varint(out, (uint64_t)(int64_t)code);
    }
    size_t n = msg ? strlen(msg) : 0;
    if (n) {
        kvs_buf_putc(out, 0x12);
        put_varint(out, n);
        kvs_buf_append(out, msg, n);
    }
    return out->oom ? -1 : 0;
}
