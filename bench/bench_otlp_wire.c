/* bench_otlp_wire: the protobuf side of the drop-in path, single-threaded.
 *
 *   bench_otlp_wire FILE [--repeat N]
 *
 * FILE is OTLP/JSON lines (gen_lmcache_spans output, or any fixture); every
 * line is decoded and packed to protobuf once, untimed. Then, best of
 * --repeat passes (default 5) over all the protobuf bodies:
 *   scan     kvs_otlp_wire_scan: what the otlp receiver does with a body
 *            (framing at every depth, UTF-8, item and invalid-id counts)
 *   unpack   protobuf_c_message_unpack into an arena (reset per body):
 *            what the receiver did before it kept requests in wire form
 *   pack     protobuf_c_message_get_packed_size + pack: what the otlp
 *            exporter did before it could send the received bytes
 * and checks that scan and unpack count the same items.
 *
 * Output: one human line per figure, then
 *   bench_otlp_wire: bytes= bodies= items= scan_mb_s= scan_items_per_s=
 *   unpack_mb_s= pack_mb_s=
 * MB = 10^6 bytes of protobuf. No timing is asserted anywhere. */
#include "core/arena.h"
#include "core/batch.h"
#include "formats/otlp_json.h"
#include "formats/otlp_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct body {
    kvs_signal sig;
    uint8_t *p;
    size_t n;
    ProtobufCMessage *msg; /* decoded once, for the pack pass */
} body;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = p ? (size_t)sz : 0;
    return p;
}

/* Each line's requests, packed. */
static size_t load(char *text, size_t n, kvs_arena *keep, body **out)
{
    size_t nb = 0, cap = 0;
    body *b = NULL;
    for (char *line = text, *end = text + n; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        kvs_otlp_doc doc;
        kvs_json_error jerr;
        if (len && kvs_otlp_json_decode(line, len, keep, &doc, &jerr) == 0) {
            ProtobufCMessage *m[KVS_NSIG] = { (ProtobufCMessage *)doc.traces, (ProtobufCMessage *)doc.metrics,
                                              (ProtobufCMessage *)doc.logs };
            for (int s = 0; s < KVS_NSIG; s++) {
                if (!m[s])
                    continue;
                if (nb == cap) {
                    cap = cap ? cap * 2 : 256;
                    b = realloc(b, cap * sizeof *b);
                    if (!b)
                        exit(1);
                }
                size_t sz = protobuf_c_message_get_packed_size(m[s]);
                uint8_t *p = malloc(sz ? sz : 1);
                if (!p)
                    exit(1);
                protobuf_c_message_pack(m[s], p);
                b[nb++] = (body){ kvs_signal_at(s), p, sz, m[s] };
            }
        }
        line += len + 1;
    }
    *out = b;
    return nb;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: bench_otlp_wire FILE [--repeat N]\n");
            return 2;
        }
    }
    if (!path || repeat < 1) {
        fprintf(stderr, "usage: bench_otlp_wire FILE [--repeat N]\n");
        return 2;
    }
    size_t tn;
    char *text = slurp(path, &tn);
    if (!text) {
        fprintf(stderr, "bench_otlp_wire: cannot read %s\n", path);
        return 2;
    }
    kvs_arena *keep = kvs_arena_new();
    body *b;
    size_t nb = load(text, tn, keep, &b);
    size_t bytes = 0, items = 0;
    for (size_t i = 0; i < nb; i++)
        bytes += b[i].n, items += kvs_count_items(b[i].sig, b[i].msg);
    if (!nb || !bytes) {
        fprintf(stderr, "bench_otlp_wire: no OTLP/JSON requests in %s\n", path);
        return 2;
    }

    double best_scan = 1e30, best_unpack = 1e30, best_pack = 1e30;
    char msg[256];
    kvs_arena *a = kvs_arena_new();
    uint8_t *out = malloc(bytes);
    for (int r = 0; r < repeat; r++) {
        size_t seen = 0;
        double t0 = now_s();
        for (size_t i = 0; i < nb; i++) {
            kvs_otlp_wire_info wi;
            if (kvs_otlp_wire_scan(b[i].sig, b[i].p, b[i].n, &wi, msg, sizeof msg) != 0) {
                fprintf(stderr, "bench_otlp_wire: body %zu refused: %s\n", i, msg);
                return 1;
            }
            seen += wi.items;
        }
        double t1 = now_s();
        if (seen != items) {
            fprintf(stderr, "bench_otlp_wire: scan counted %zu items, protobuf-c %zu\n", seen, items);
            return 1;
        }
        for (size_t i = 0; i < nb; i++) {
            kvs_arena_reset(a);
            if (!protobuf_c_message_unpack(kvs_request_descriptor(b[i].sig), kvs_arena_allocator(a), b[i].n, b[i].p))
                return 1;
        }
        double t2 = now_s();
        uint8_t *o = out;
        for (size_t i = 0; i < nb; i++) {
            size_t sz = protobuf_c_message_get_packed_size(b[i].msg);
            o += protobuf_c_message_pack(b[i].msg, o);
            (void)sz;
        }
        double t3 = now_s();
        if (t1 - t0 < best_scan)
            best_scan = t1 - t0;
        if (t2 - t1 < best_unpack)
            best_unpack = t2 - t1;
        if (t3 - t2 < best_pack)
            best_pack = t3 - t2;
    }
    double mb = (double)bytes / 1e6;
    printf("scan:   %8.1f MB/s  %10.0f items/s\n", mb / best_scan, (double)items / best_scan);
    printf("unpack: %8.1f MB/s  %10.0f items/s\n", mb / best_unpack, (double)items / best_unpack);
    printf("pack:   %8.1f MB/s  %10.0f items/s\n", mb / best_pack, (double)items / best_pack);
    printf("bench_otlp_wire: bytes=%zu bodies=%zu items=%zu scan_mb_s=%.1f scan_items_per_s=%.0f "
           "unpack_mb_s=%.1f pack_mb_s=%.1f\n",
           bytes, nb, items, mb / best_scan, (double)items / best_scan, mb / best_unpack, mb / best_pack);
    for (size_t i = 0; i < nb; i++)
        free(b[i].p);
    free(b);
    free(out);
    free(text);
    kvs_arena_free(a);
    kvs_arena_free(keep);
    return 0;
}
