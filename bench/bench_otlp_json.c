/* bench_otlp_json: throughput of the OTLP/JSON codec (formats/otlp_json.h),
 * single-threaded, over an OTLP/JSON-lines file or LMCache-shaped traces it
 * generates in memory.
 *
 *   bench_otlp_json FILE [--repeat N] [--verify]
 *   bench_otlp_json [--generate MB] [--requests-per-line N] [--seed N] [--repeat N] [--verify]
 *
 * Each pass decodes every line into an arena (reset per line) and encodes
 * the result back into one buffer, timing the two separately; the best of
 * --repeat passes (default 3) is reported. Also measured, for context: a
 * pass of yajl alone with empty callbacks over the same bytes (the floor
 * under any yajl-based decoder). --verify (untimed) decodes every encoding
 * again and checks both decodes pack to the same protobuf bytes.
 *
 * Output: one human line per figure, then one `key=value` summary line:
 *   bench_otlp_json: bytes= lines= items= decode_mb_s= encode_mb_s=
 *   roundtrip_mb_s= items_per_s= yajl_only_mb_s= arena_per_input=
 * items are spans, metric data points or log records; MB = 10^6 bytes;
 * encode MB/s counts the bytes written, the others the bytes read;
 * arena_per_input is the arena footprint after decoding a line over the
 * line's size (summed over lines). No timing is asserted anywhere. */
#include "formats/otlp_json.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>

/* ---- growable text ----------------------------------------------------- */

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void t_need(text *t, size_t k)
{
    if (t->cap - t->n >= k)
        return;
    size_t cap = t->cap ? t->cap : 1 << 20;
    while (cap - t->n < k)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        fprintf(stderr, "bench_otlp_json: out of memory\n");
        exit(1);
    }
    t->p = p;
    t->cap = cap;
}

static void t_put(text *t, const char *s, size_t k)
{
    t_need(t, k);
    memcpy(t->p + t->n, s, k);
    t->n += k;
}

#define T_LIT(t, s) t_put((t), (s), sizeof(s) - 1)

static void t_str(text *t, const char *s) { t_put(t, s, strlen(s)); }

static void t_u64(text *t, uint64_t v)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    t_put(t, tmp, (size_t)k);
}

static void t_hex(text *t, uint64_t v)
{
    static const char hx[] = "0123456789abcdef";
    char tmp[16];
    for (int i = 15; i >= 0; i--, v >>= 4)
        tmp[i] = hx[v & 15];
    t_put(t, tmp, 16);
}

/* ---- LMCache-shaped traces --------------------------------------------- */

static uint64_t g_rng = 1;

static uint64_t rnd(void)   /* splitmix64 */
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void attr_s(text *t, const char *key, const char *v)
{
    T_LIT(t, "{\"key\":\"");
    t_str(t, key);
    T_LIT(t, "\",\"value\":{\"stringValue\":\"");
    t_str(t, v);
    T_LIT(t, "\"}},");
}

static void attr_su(text *t, const char *key, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    attr_s(t, key, tmp);
}

static void attr_i(text *t, const char *key, uint64_t v)
{
    T_LIT(t, "{\"key\":\"");
    t_str(t, key);
    T_LIT(t, "\",\"value\":{\"intValue\":\"");
    t_u64(t, v);
    T_LIT(t, "\"}},");
}

static void attr_d(text *t, const char *key, double v)
{
    char tmp[40];
    int k = snprintf(tmp, sizeof tmp, "%.17g", v);
    T_LIT(t, "{\"key\":\"");
    t_str(t, key);
    T_LIT(t, "\",\"value\":{\"doubleValue\":");
    t_put(t, tmp, (size_t)k);
    T_LIT(t, "}},");
}

static void span_open(text *t, uint64_t th, uint64_t tl, uint64_t sid, uint64_t parent, const char *name,
                      int kind, uint64_t t0, uint64_t t1)
{
    T_LIT(t, "{\"traceId\":\"");
    t_hex(t, th);
    t_hex(t, tl);
    T_LIT(t, "\",\"spanId\":\"");
    t_hex(t, sid);
    if (parent) {
        T_LIT(t, "\",\"parentSpanId\":\"");
        t_hex(t, parent);
    }
    T_LIT(t, "\",\"flags\":256,\"name\":\"");
    t_str(t, name);
    T_LIT(t, "\",\"kind\":");
    t_u64(t, (uint64_t)kind);
    T_LIT(t, ",\"startTimeUnixNano\":\"");
    t_u64(t, t0);
    T_LIT(t, "\",\"endTimeUnixNano\":\"");
    t_u64(t, t1);
    T_LIT(t, "\",\"attributes\":[");
}

static void span_close(text *t, int error)
{
    t->n--; /* the last attribute's ',' */
    if (error)
        T_LIT(t, "],\"status\":{\"message\":\"early exit\",\"code\":2}},");
    else
        T_LIT(t, "],\"status\":{}},");
}

static const char *const k_models[] = {
    "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3",
};
static const char *const k_salts[] = {"", "tenant-a", "tenant-b", "tenant-c"};

/* One request: the root `request` with typed attributes and its children
 * mp.lookup_prefetch, mp.retrieve, mp.store with 8 string attributes each. */
static void gen_request(text *t, uint64_t *clock)
{
    uint64_t th = rnd(), tl = rnd(), root = rnd() | 1, r = rnd();
    const char *model = k_models[r & 3], *salt = k_salts[(r >> 2) & 3];
    char sess[48], device[8], engine[16];
    snprintf(sess, sizeof sess, "cmpl-%016" PRIx64 "%016" PRIx64 "-0", rnd(), rnd());
    snprintf(device, sizeof device, "cuda:%u", (unsigned)((r >> 4) & 7));
    snprintf(engine, sizeof engine, "vllm-%u", (unsigned)((r >> 4) & 7));
    uint64_t chunks = 1 + rnd() % 64, requested = chunks * 256, hit = (rnd() % (chunks + 1)) * 256;
    uint64_t l2 = (r >> 40) & 1 ? hit / 2 : 0, l1 = hit - l2, bpt = 131072;
    int early = ((r >> 8) & 63) == 0;
    uint64_t t0 = (*clock += 200000 + rnd() % 20000000), t1 = t0 + 1000000 + rnd() % 80000000;

    span_open(t, th, tl, rnd() | 1, root, "mp.lookup_prefetch", 1, t0 + 50000, t0 + 900000);
    attr_s(t, "session_id", sess);
    attr_su(t, "found_count", hit / 256);
    attr_su(t, "requested_tokens", requested);
    attr_su(t, "hit_tokens", hit);
    attr_s(t, "model_name", model);
    attr_s(t, "cache_salt", salt);
    attr_s(t, "device", device);
    attr_s(t, "engine_id", engine);
    span_close(t, 0);

    span_open(t, th, tl, rnd() | 1, root, "mp.retrieve", 1, t0 + 1000000, t0 + 9000000);
    attr_s(t, "session_id", sess);
    attr_s(t, "model_name", model);
    attr_s(t, "cache_salt", salt);
    attr_s(t, "device", device);
    attr_s(t, "engine_id", engine);
    attr_su(t, "found_count", hit / 256);
    attr_su(t, "total_bytes", hit * bpt);
    attr_su(t, "num_tokens", hit);
    span_close(t, 0);

    span_open(t, th, tl, rnd() | 1, root, "mp.store", 1, t0 + 9500000, t1 - 100000);
    attr_s(t, "session_id", sess);
    attr_s(t, "model_name", model);
    attr_s(t, "cache_salt", salt);
    attr_s(t, "device", device);
    attr_s(t, "engine_id", engine);
    attr_su(t, "requested_tokens", requested - hit);
    attr_su(t, "total_bytes", (requested - hit) * bpt);
    attr_su(t, "num_tokens", requested - hit);
    span_close(t, 0);

    span_open(t, th, tl, root, 0, "request", 2, t0, t1);
    attr_s(t, "session_id", sess);
    attr_i(t, "hit_tokens", hit);
    attr_i(t, "requested_tokens", requested);
    attr_d(t, "hit_rate", (double)hit / (double)requested);
    attr_i(t, "l1_hit_tokens", l1);
    attr_i(t, "l2_hit_tokens", l2);
    attr_d(t, "l1_hit_rate", (double)l1 / (double)requested);
    attr_d(t, "l2_hit_rate", (double)l2 / (double)requested);
    attr_s(t, "early_exit_reason", early ? "no_gpu_context" : "");
    span_close(t, early);
}

static void generate(text *t, size_t bytes, unsigned per_line)
{
    uint64_t clock = 1700000000000000000ull;
    while (t->n < bytes) {
        T_LIT(t, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                 "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"lmcache-mp-server\"}},"
                 "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":\"node-1:6555\"}},"
                 "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"gpu-node-1\"}}]},"
                 "\"scopeSpans\":[{\"scope\":{\"name\":\"lmcache_mp.server\",\"version\":\"0.3.9\"},"
                 "\"spans\":[");
        for (unsigned i = 0; i < per_line; i++)
            gen_request(t, &clock);
        t->n--;
        T_LIT(t, "]}]}]}\n");
    }
}

/* ---- measuring ---------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t count_items(const kvs_otlp_doc *d)
{
    size_t n = 0;
    if (d->traces)
        for (size_t i = 0; i < d->traces->n_resource_spans; i++)
            for (size_t j = 0; j < d->traces->resource_spans[i]->n_scope_spans; j++)
                n += d->traces->resource_spans[i]->scope_spans[j]->n_spans;
    if (d->logs)
        for (size_t i = 0; i < d->logs->n_resource_logs; i++)
            for (size_t j = 0; j < d->logs->resource_logs[i]->n_scope_logs; j++)
                n += d->logs->resource_logs[i]->scope_logs[j]->n_log_records;
    if (d->metrics)
        for (size_t i = 0; i < d->metrics->n_resource_metrics; i++)
            for (size_t j = 0; j < d->metrics->resource_metrics[i]->n_scope_metrics; j++) {
                const kvs_scope_metrics *sm = d->metrics->resource_metrics[i]->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++) {
                    const kvs_metric *m = sm->metrics[k];
                    n += m->gauge ? m->gauge->n_data_points
                       : m->sum ? m->sum->n_data_points
                       : m->histogram ? m->histogram->n_data_points
                       : m->exponential_histogram ? m->exponential_histogram->n_data_points
                       : m->summary ? m->summary->n_data_points : 0;
                }
            }
    return n;
}

static int encode_doc(const kvs_otlp_doc *d, kvs_buf *out)
{
    int r = 0;
    if (d->traces)
        r |= kvs_otlp_json_encode_traces(d->traces, out);
    if (d->metrics)
        r |= kvs_otlp_json_encode_metrics(d->metrics, out);
    if (d->logs)
        r |= kvs_otlp_json_encode_logs(d->logs, out);
    return r;
}

static int same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (!a || !b)
        return a == b;
    size_t na = protobuf_c_message_get_packed_size(a), nb = protobuf_c_message_get_packed_size(b);
    if (na != nb)
        return 0;
    uint8_t *x = malloc(na + 1), *y = malloc(nb + 1);
    int eq = x && y && protobuf_c_message_pack(a, x) == na && protobuf_c_message_pack(b, y) == nb &&
             memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return eq;
}

static int y_ok(void *c) { (void)c; return 1; }
static int y_bool(void *c, int b) { (void)c; (void)b; return 1; }
static int y_num(void *c, const char *s, size_t n) { (void)c; (void)s; (void)n; return 1; }
static int y_str(void *c, const unsigned char *s, size_t n) { (void)c; (void)s; (void)n; return 1; }

static double yajl_only(const char *p, const char *end)
{
    static const yajl_callbacks cb = {
        .yajl_null = y_ok, .yajl_boolean = y_bool, .yajl_number = y_num, .yajl_string = y_str,
        .yajl_start_map = y_ok, .yajl_map_key = y_str, .yajl_end_map = y_ok,
        .yajl_start_array = y_ok, .yajl_end_array = y_ok,
    };
    double t0 = now();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        yajl_handle h = yajl_alloc(&cb, NULL, NULL);
        if (h) {
            yajl_parse(h, (const unsigned char *)p, (size_t)(nl - p));
            yajl_complete_parse(h);
            yajl_free(h);
        }
        p = nl + 1;
    }
    return now() - t0;
}

static int load(const char *path, text *t)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    char chunk[1 << 16];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        t_put(t, chunk, k);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        perror(path);
    return bad ? -1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_otlp_json FILE [--repeat N] [--verify]\n"
                    "       bench_otlp_json [--generate MB] [--requests-per-line N] [--seed N] [--repeat N] [--verify]\n");
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    double gen_mb = 50;
    unsigned per_line = 50, repeat = 3;
    int verify = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--generate") && more)
            gen_mb = atof(argv[++i]);
        else if (!strcmp(a, "--requests-per-line") && more)
            per_line = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--seed") && more)
            g_rng = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--repeat") && more)
            repeat = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--verify"))
            verify = 1;
        else if (a[0] != '-' && !file)
            file = a;
        else {
            usage();
            return 2;
        }
    }
    if (!repeat || !per_line || gen_mb <= 0) {
        usage();
        return 2;
    }

    text in = {0};
    if (file) {
        if (load(file, &in) != 0)
            return 1;
    } else {
        generate(&in, (size_t)(gen_mb * 1e6), per_line);
    }

    kvs_arena *arena = kvs_arena_new(), *arena2 = kvs_arena_new();
    kvs_buf out = {0};
    if (!arena || !arena2) {
        fprintf(stderr, "bench_otlp_json: out of memory\n");
        return 1;
    }
    double best_dec = 1e300, best_enc = 1e300, best_rt = 1e300;
    size_t lines = 0, items = 0, out_bytes = 0, arena_bytes = 0;
    const char *end = in.p + in.n;
    for (unsigned pass = 0; pass < repeat; pass++) {
        double td = 0, te = 0;
        lines = items = out_bytes = arena_bytes = 0;
        for (const char *p = in.p; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            size_t len = (size_t)(nl - p);
            while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
                len--;
            if (len) {
                kvs_otlp_doc doc;
                kvs_json_error err;
                double t0 = now();
                int rc = kvs_otlp_json_decode(p, len, arena, &doc, &err);
                double t1 = now();
                if (rc != 0) {
                    fprintf(stderr, "bench_otlp_json: line %zu: byte %zu: %s\n", lines + 1, err.offset, err.msg);
                    return 1;
                }
                out.len = 0;
                double t2 = now();
                rc = encode_doc(&doc, &out);
                double t3 = now();
                if (rc != 0) {
                    fprintf(stderr, "bench_otlp_json: encode: out of memory\n");
                    return 1;
                }
                td += t1 - t0;
                te += t3 - t2;
                arena_bytes += kvs_arena_footprint(arena);
                out_bytes += out.len;
                items += count_items(&doc);
                if (verify && pass == 0) {
                    kvs_otlp_doc again;
                    if (kvs_otlp_json_decode(out.data, out.len, arena2, &again, &err) != 0 ||
                        !same_packed(&doc.traces->base, &again.traces->base) ||
                        !same_packed(&doc.metrics->base, &again.metrics->base) ||
                        !same_packed(&doc.logs->base, &again.logs->base)) {
                        fprintf(stderr, "bench_otlp_json: line %zu does not round-trip (%s)\n", lines + 1, err.msg);
                        return 1;
                    }
                    kvs_arena_reset(arena2);
                }
                kvs_arena_reset(arena);
                lines++;
            }
            p = nl + 1;
        }
        if (td < best_dec)
            best_dec = td;
        if (te < best_enc)
            best_enc = te;
        if (td + te < best_rt)
            best_rt = td + te;
    }
    double best_yajl = 1e300;
    for (unsigned pass = 0; pass < repeat; pass++) {
        double t = yajl_only(in.p, end);
        if (t < best_yajl)
            best_yajl = t;
    }

    double mb = (double)in.n / 1e6;
    printf("input     %.1f MB, %zu lines, %zu items (%s)%s\n", mb, lines, items,
           file ? file : "generated LMCache traces", verify ? ", round trip verified" : "");
    printf("decode    %8.1f MB/s\n", mb / best_dec);
    printf("encode    %8.1f MB/s (%.1f MB written)\n", (double)out_bytes / 1e6 / best_enc, (double)out_bytes / 1e6);
    printf("both      %8.1f MB/s of input, %.0f items/s\n", mb / best_rt, (double)items / best_rt);
    printf("yajl only %8.1f MB/s (empty callbacks, for reference)\n", mb / best_yajl);
    printf("arena     %8.2f bytes per input byte\n", (double)arena_bytes / (double)in.n);
    printf("bench_otlp_json: bytes=%zu lines=%zu items=%zu decode_mb_s=%.1f encode_mb_s=%.1f "
           "roundtrip_mb_s=%.1f items_per_s=%.0f yajl_only_mb_s=%.1f arena_per_input=%.2f\n",
           in.n, lines, items, mb / best_dec, (double)out_bytes / 1e6 / best_enc, mb / best_rt,
           (double)items / best_rt, mb / best_yajl, (double)arena_bytes / (double)in.n);
    kvs_buf_free(&out);
    kvs_arena_free(arena);
    kvs_arena_free(arena2);
    free(in.p);
    return 0;
}
