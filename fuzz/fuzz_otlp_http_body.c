/* libFuzzer target for the otlp receiver's body path (receivers/otlp/
 * codec.c): content type × encoding × signal × bytes, exactly what the HTTP
 * transport does with a request body: decompress under a cap, check
 * (protobuf: the wire scanner) or decode (OTLP/JSON), drop
 * spans / log records with invalid ids, then build the response and a
 * Status body in the request's encoding.
 *
 * The first byte chooses: bit 0 content type (protobuf / JSON), bits 1-2
 * the encoding (identity, gzip, deflate, zstd), bits 3-4 the signal, bit 5
 * whether the rest is compressed here first (so the decoders also see
 * well-formed compressed streams of fuzzed content) or handed over raw
 * (so the decompressors see fuzzed streams). Also checks invariants: a
 * protobuf body the wire scanner (formats/otlp_wire.h) accepted decodes
 * with protobuf-c to exactly the items the scanner counted (differential),
 * and decompression never exceeds its cap. */
#include "receivers/otlp/otlp_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define FUZZ_CAP (1u << 20)

static uint8_t *compress_with(kvs_otlp_enc enc, const uint8_t *p, size_t n, size_t *outn)
{
    if (enc == KVS_OTLP_ZSTD) {
        size_t cap = ZSTD_compressBound(n);
        uint8_t *out = malloc(cap ? cap : 1);
        size_t r = out ? ZSTD_compress(out, cap, p, n, 1) : 0;
        if (!out || ZSTD_isError(r)) {
            free(out);
            return NULL;
        }
        *outn = r;
        return out;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, enc == KVS_OTLP_GZIP ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n);
    uint8_t *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outn = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (4u << 20))
        return 0;
    uint8_t sel = data[0];
    kvs_otlp_ctype ct = (sel & 1) ? KVS_OTLP_JSON : KVS_OTLP_PROTOBUF;
    kvs_otlp_enc enc = (kvs_otlp_enc)((sel >> 1) & 3);
    kvs_signal sig = kvs_signal_at(((sel >> 3) & 3) % KVS_NSIG);
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    uint8_t *packed = NULL;
    if ((sel & 0x20) && enc != KVS_OTLP_IDENTITY) {
        size_t pn;
        packed = compress_with(enc, body, n, &pn);
        if (!packed)
            return 0;
        body = packed;
        n = pn;
    }

    /* Decompression alone: never more than the cap. */
    if (enc != KVS_OTLP_IDENTITY) {
        uint8_t *raw;
        size_t rawn;
        char msg[512];
        if (kvs_otlp_decompress(enc, body, n, FUZZ_CAP, &raw, &rawn, msg, sizeof msg) == 0) {
            if (rawn > FUZZ_CAP)
                abort();
            free(raw);
        }
    }

    kvs_batch *b = NULL;
    uint64_t rejected = 0;
    char msg[512];
    int rc = kvs_otlp_decode_body(sig, ct, enc, body, n, FUZZ_CAP, &b, &rejected, msg, sizeof msg);
    kvs_buf out = { 0 };
    if (rc == 0) {
        /* Differential: what the wire scanner accepted, protobuf-c decodes,
         * to the same number of items. */
        kvs_error err;
        int drc = b ? kvs_batch_decode(b, &err) : KVS_E_INVALID;
        if (!b || b->signal != sig || drc == KVS_E_INVALID || (drc == 0 && b->items != kvs_count_items(sig, b->msg)))
            abort();
        kvs_otlp_response(sig, ct, rejected, rejected ? msg : "", &out);
        kvs_batch_unref(b);
    } else {
        if (b)
            abort();
        kvs_otlp_status_body(ct, KVS_RPC_INVALID_ARGUMENT, msg, &out);
    }
    kvs_buf_free(&out);
    free(packed);
    return 0;
}
