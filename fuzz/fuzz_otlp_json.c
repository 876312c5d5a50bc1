/* libFuzzer target for the OTLP/JSON codec. Any input: decoding either fails
 * cleanly (offset inside the input, a message) or succeeds; then every
 * signal it held is encoded, the encoding must decode, both decodes must
 * pack to identical protobuf bytes, and encoding the second decode must
 * reproduce the first encoding byte for byte. Any difference aborts. */
#include "formats/otlp_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *pack(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*n + 1);
    if (!p || protobuf_c_message_pack(m, p) != *n)
        abort();
    return p;
}

static void check_signal(kvs_signal sig, const ProtobufCMessage *first)
{
    kvs_buf enc1 = {0}, enc2 = {0};
    if (kvs_otlp_json_encode(sig, first, &enc1) != 0)
        abort();
    kvs_arena *a = kvs_arena_new();
    if (!a)
        abort();
    kvs_otlp_doc again;
    kvs_json_error err;
    if (kvs_otlp_json_decode(enc1.data, enc1.len, a, &again, &err) != 0) {
        fprintf(stderr, "re-decode failed at %zu: %s\n%.*s\n", err.offset, err.msg, (int)enc1.len, enc1.data);
        abort();
    }
    const ProtobufCMessage *second = sig == KVS_SIG_TRACES ? (const ProtobufCMessage *)again.traces
                                   : sig == KVS_SIG_METRICS ? (const ProtobufCMessage *)again.metrics
                                   : (const ProtobufCMessage *)again.logs;
    if (!second)
        abort();
    size_t n1, n2;
    uint8_t *p1 = pack(first, &n1), *p2 = pack(second, &n2);
    if (n1 != n2 || memcmp(p1, p2, n1) != 0) {
        fprintf(stderr, "packed bytes differ after a round trip\n%.*s\n", (int)enc1.len, enc1.data);
        abort();
    }
    if (kvs_otlp_json_encode(sig, second, &enc2) != 0 || enc1.len != enc2.len ||
        memcmp(enc1.data, enc2.data, enc1.len) != 0) {
        fprintf(stderr, "encoding is not stable\n%.*s\n%.*s\n", (int)enc1.len, enc1.data, (int)enc2.len, enc2.data);
        abort();
    }
    free(p1);
    free(p2);
    kvs_arena_free(a);
    kvs_buf_free(&enc1);
    kvs_buf_free(&enc2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvs_arena *a = kvs_arena_new();
    if (!a)
        abort();
    kvs_otlp_doc doc;
    kvs_json_error err;
    if (kvs_otlp_json_decode((const char *)data, size, a, &doc, &err) != 0) {
        if (err.offset > size || !err.msg[0] || doc.traces || doc.metrics || doc.logs)
            abort();
    } else {
        if (doc.traces)
            check_signal(KVS_SIG_TRACES, &doc.traces->base);
        if (doc.metrics)
            check_signal(KVS_SIG_METRICS, &doc.metrics->base);
        if (doc.logs)
            check_signal(KVS_SIG_LOGS, &doc.logs->base);
    }
    kvs_arena_free(a);
    return 0;
}
