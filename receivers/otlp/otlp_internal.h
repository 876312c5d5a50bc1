/* Receiver `otlp`, internal interface shared by its files (otlp.c: config
 * and lifecycle; codec.c: decompression, decoding, responses; grpc_server.c
 * and http_server.c: the two transports). Nothing here is used outside
 * receivers/otlp/ except by its unit test and fuzz target.
 *
 * Promises: a request body becomes one kvs_batch whose memory lives in one
 * arena: a protobuf body in wire form once formats/otlp_wire.h has checked
 * it (framing at every depth, nesting, UTF-8, item count), decoded only
 * when it carries spans / log records with invalid ids that must be
 * dropped; decompression never produces more than the configured maximum
 * (it stops and reports "too large" without allocating more). */
#ifndef KVS_RECEIVERS_OTLP_INTERNAL_H
#define KVS_RECEIVERS_OTLP_INTERNAL_H

#include "core/batch.h"
#include "core/buf.h"
#include "core/component.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* google.rpc.Code values (the same numbers gRPC uses). */
enum {
    KVS_RPC_OK = 0,
    KVS_RPC_INVALID_ARGUMENT = 3,
    KVS_RPC_RESOURCE_EXHAUSTED = 8,
    KVS_RPC_UNIMPLEMENTED = 12,
    KVS_RPC_INTERNAL = 13,
    KVS_RPC_UNAVAILABLE = 14,
    KVS_RPC_UNAUTHENTICATED = 16,
};

#define KVS_OTLP_RETRY_AFTER_S 1    /* Retry-After on 503 */

typedef enum { KVS_OTLP_PROTOBUF, KVS_OTLP_JSON } kvs_otlp_ctype;
typedef enum { KVS_OTLP_IDENTITY, KVS_OTLP_GZIP, KVS_OTLP_DEFLATE, KVS_OTLP_ZSTD } kvs_otlp_enc;

/* Outcome codes of decoding (codec.c). */
enum {
    KVS_OTLP_E_BAD = -1,          /* malformed: 400 / INVALID_ARGUMENT */
    KVS_OTLP_E_TOO_LARGE = -2,    /* over the size cap: 413 / RESOURCE_EXHAUSTED */
    KVS_OTLP_E_NOMEM = -3,        /* out of memory: 503 / UNAVAILABLE */
};

typedef struct kvs_otlp_tls {
    const char *cert_file, *key_file, *client_ca_file;   /* NULL when absent */
} kvs_otlp_tls;

typedef struct kvs_otlp_grpc_cfg {
    int enabled;
    char host[256];
    int port;
    uint64_t max_recv_bytes;
    int64_t max_concurrent_streams;   /* 0 = gRPC's default (unlimited) */
    kvs_otlp_tls tls;
    const char *bearer_token;         /* NULL = no auth */
} kvs_otlp_grpc_cfg;

typedef struct kvs_otlp_http_cfg {
    int enabled;
    char host[256];
    int port;
    uint64_t max_body;                /* raw and decompressed */
    const char *paths[KVS_NSIG];      /* by kvs_signal_index */
    const char **cors_origins, **cors_headers;   /* malloc'd arrays */
    size_t ncors_origins, ncors_headers;
    int64_t cors_max_age;             /* seconds; 0 = no header */
    kvs_otlp_tls tls;
    const char *bearer_token;
} kvs_otlp_http_cfg;

typedef struct kvs_otlp_grpc kvs_otlp_grpc;
typedef struct kvs_otlp_http kvs_otlp_http;

typedef struct kvs_otlp_recv {
    const char *id;
    kvs_telemetry *tel;
    kvs_next *next[KVS_NSIG];
    kvs_otlp_grpc_cfg grpc_cfg;
    kvs_otlp_http_cfg http_cfg;
    kvs_otlp_grpc *grpc;
    kvs_otlp_http *http;
    atomic_uint_fast64_t bad_logged;  /* malformed requests logged (rate limit) */
} kvs_otlp_recv;

/* What a request came to, for either transport. */
typedef struct kvs_otlp_result {
    int rpc;                 /* KVS_RPC_* */
    int http;                /* HTTP status */
    uint64_t rejected;       /* items rejected in an accepted request (partial success) */
    char msg[512];
} kvs_otlp_result;

/* ---- otlp.c ---- */

/* Decodes (already decompressed) body bytes of the signal and sends them
 * down the pipeline; fills res. Counts telemetry. Takes p (malloc'd, or
 * NULL when n is 0). */
void kvs_otlp_handle(kvs_otlp_recv *r, kvs_signal sig, kvs_otlp_ctype ct, uint8_t *p, size_t n,
                     kvs_otlp_result *res);
/* Fills res for a malformed request (counts an error, logs a few). */
void kvs_otlp_bad_request(kvs_otlp_recv *r, kvs_otlp_result *res, int http, int rpc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Constant-time check of an Authorization value "Bearer <token>". */
int kvs_otlp_bearer_ok(const char *header, size_t len, const char *token);
/* Reads a whole (small) file, NUL-terminated; NULL with err on failure. */
char *kvs_otlp_read_file(const char *path, const char *what, kvs_error *err);

/* ---- codec.c ---- */

int kvs_otlp_parse_ctype(const char *value, kvs_otlp_ctype *out);   /* -1: unsupported */
int kvs_otlp_parse_encoding(const char *value, kvs_otlp_enc *out);  /* -1: unsupported */
/* Decompresses in[0..n) into *out (malloc'd, caller frees; NULL when n is
 * 0). At most max bytes are produced: more is KVS_OTLP_E_TOO_LARGE. */
int kvs_otlp_decompress(kvs_otlp_enc enc, const uint8_t *in, size_t n, size_t max, uint8_t **out,
                        size_t *outn, char *msg, size_t msgn);
/* Decodes a request of the signal (protobuf or OTLP/JSON) into a new batch
 * (*out; protobuf stays in wire form). Spans and log records with ids of
 * the wrong length (or all-zero trace/span ids on spans) are removed and
 * counted in *rejected, with a reason in msg. Returns 0 or a KVS_OTLP_E_*
 * code with msg. Takes p (malloc'd, or NULL when n is 0): it becomes the
 * batch's wire buffer or is freed. */
int kvs_otlp_decode_own(kvs_signal sig, kvs_otlp_ctype ct, uint8_t *p, size_t n, kvs_batch **out,
                        uint64_t *rejected, char *msg, size_t msgn);
/* The same on borrowed bytes (copied). */
int kvs_otlp_decode(kvs_signal sig, kvs_otlp_ctype ct, const uint8_t *p, size_t n, kvs_batch **out,
                    uint64_t *rejected, char *msg, size_t msgn);
/* Decompresses and decodes: what the HTTP path does with a body. */
int kvs_otlp_decode_body(kvs_signal sig, kvs_otlp_ctype ct, kvs_otlp_enc enc, const uint8_t *p, size_t n,
                         size_t max, kvs_batch **out, uint64_t *rejected, char *msg, size_t msgn);
/* Export*ServiceResponse (partial_success when rejected > 0) in protobuf or
 * OTLP/JSON. Returns 0 or -1 when out of memory. */
int kvs_otlp_response(kvs_signal sig, kvs_otlp_ctype ct, uint64_t rejected, const char *msg, kvs_buf *out);
/* A google.rpc.Status {code, message} in protobuf or JSON. */
int kvs_otlp_status_body(kvs_otlp_ctype ct, int code, const char *msg, kvs_buf *out);
/* "opentelemetry.proto.collector.trace.v1.TraceService" etc. */
const char *kvs_otlp_service_name(kvs_signal sig);

/* ---- grpc_server.c / http_server.c ---- */

/* start binds and starts the threads; quiesce stops accepting new
 * connections and calls; stop lets in-flight requests finish until the
 * deadline (CLOCK_MONOTONIC ns; 0 = cancel them now), joins the threads and
 * frees everything. All are no-ops when the transport is not running. */
int kvs_otlp_grpc_start(kvs_otlp_recv *r, kvs_error *err);
void kvs_otlp_grpc_quiesce(kvs_otlp_recv *r);
void kvs_otlp_grpc_stop(kvs_otlp_recv *r, uint64_t deadline_ns);
int kvs_otlp_http_start(kvs_otlp_recv *r, kvs_error *err);
void kvs_otlp_http_quiesce(kvs_otlp_recv *r);
void kvs_otlp_http_stop(kvs_otlp_recv *r, uint64_t deadline_ns);

#endif
