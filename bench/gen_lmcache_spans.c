/* gen_lmcache_spans: writes a large OTLP/JSON-lines file of LMCache MP-shaped
 * traces for benchmarks (kvscope replay, the OTLP/JSON decoder).
 *
 *   gen_lmcache_spans --mb 500 --out FILE [--seed N] [--requests-per-line N]
 *
 * Each line is one ExportTraceServiceRequest (the Collector `file` exporter's
 * shape: lowerCamelCase, hex ids, 64-bit ints as decimal strings, enums as
 * integers) with one resource (service.name lmcache-mp-server,
 * service.instance.id) and one scope (lmcache_mp.server) holding N requests.
 * A request is a `request` root with typed attributes and three children
 * `mp.lookup_prefetch`, `mp.retrieve`, `mp.store` whose attributes are all
 * strings, as LMCache's MP server emits them (see
 * shared/reference/lmcache-signals.md §2.1). Output is deterministic for a
 * seed; lines are written until at least MB * 1,000,000 bytes are out.
 * At the end it prints bytes, lines, spans (stdout; stderr if --out -).
 *
 * Only libc: no kvscope headers, so it builds anywhere with `cc -O2`. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK_TOKENS 256u
#define OUT_CAP (8u << 20)          /* output buffer */
#define REQ_MAX_BYTES (16u << 10)   /* generous bound on one request's JSON */

/* ------------------------------------------------------------------ output */

static char out_buf[OUT_CAP];
static size_t out_len;
static FILE *out_fp;
static uint64_t out_total;
static int out_failed;

static void out_flush(void)
{
    if (out_len == 0 || out_failed)
        return;
    if (fwrite(out_buf, 1, out_len, out_fp) != out_len)
        out_failed = errno ? errno : EIO;
    out_total += out_len;
    out_len = 0;
}

/* Appends a string literal (length known at compile time). */
#define PUT(lit) (memcpy(out_buf + out_len, (lit), sizeof(lit) - 1), out_len += sizeof(lit) - 1)

static void put_mem(const char *s, size_t n)
{
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

static void put_str(const char *s) { put_mem(s, strlen(s)); }

static void put_u64(uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_mem(tmp + sizeof tmp - n, n);
}

static const char hexdig[] = "0123456789abcdef";

static void put_hex64(uint64_t v)
{
    char *p = out_buf + out_len;
    for (int i = 15; i >= 0; i--) {
        p[i] = hexdig[v & 15];
        v >>= 4;
    }
    out_len += 16;
}

/* num/den as a JSON number with up to 6 decimals ("0.0" when den is 0). */
static void put_ratio(uint64_t num, uint64_t den)
{
    if (den == 0) {
        PUT("0.0");
        return;
    }
    uint64_t scaled = (num * 1000000u + den / 2) / den;
    put_u64(scaled / 1000000u);
    out_buf[out_len++] = '.';
    uint64_t frac = scaled % 1000000u;
    char d[6];
    for (int i = 5; i >= 0; i--) {
        d[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    int n = 6;
    while (n > 1 && d[n - 1] == '0')
        n--;
    put_mem(d, (size_t)n);
}

/* ------------------------------------------------------------------ random */

static uint64_t rng_state;

static uint64_t rng_next(void)   /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Integer in [lo, hi] (modulo bias is negligible for these small ranges). */
static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    return lo + rng_next() % (hi - lo + 1);
}

/* ------------------------------------------------------------------ domain */

typedef struct model {
    const char *name;
    uint64_t bytes_per_token;   /* layers * 2 (K,V) * kv_heads * head_dim * 2 (bf16) */
} model;

static const model models[] = {
    {"meta-llama/Llama-3.1-8B-Instruct", 32u * 2 * 8 * 128 * 2},
    {"meta-llama/Llama-3.1-70B-Instruct", 80u * 2 * 8 * 128 * 2},
    {"Qwen/Qwen2.5-7B-Instruct", 28u * 2 * 4 * 128 * 2},
    {"mistralai/Mistral-7B-Instruct-v0.3", 32u * 2 * 8 * 128 * 2},
};
static const char *const salts[] = {"", "tenant-a", "tenant-b", "tenant-c"};
static const char *const exit_reasons[] = {"no_gpu_context", "empty_chunk_hashes",
                                           "no_group_layout_descs"};

/* One attribute with a string value; the value is emitted by the caller
 * between ATTR_S_OPEN and ATTR_S_CLOSE. */
#define ATTR_S_OPEN(key) PUT("{\"key\":\"" key "\",\"value\":{\"stringValue\":\"")
#define ATTR_S_CLOSE() PUT("\"}}")

static void attr_s_str(const char *keylit_open, size_t kl, const char *v)
{
    put_mem(keylit_open, kl);
    put_str(v);
    ATTR_S_CLOSE();
}
#define ATTR_S_STR(key, v) attr_s_str("{\"key\":\"" key "\",\"value\":{\"stringValue\":\"", \
                                      sizeof("{\"key\":\"" key "\",\"value\":{\"stringValue\":\"") - 1, (v))
#define ATTR_S_U64(key, v) (ATTR_S_OPEN(key), put_u64(v), ATTR_S_CLOSE())
#define ATTR_I(key, v) (PUT("{\"key\":\"" key "\",\"value\":{\"intValue\":\""), put_u64(v), PUT("\"}}"))
#define ATTR_D_RATIO(key, n, d) \
    (PUT("{\"key\":\"" key "\",\"value\":{\"doubleValue\":"), put_ratio((n), (d)), PUT("}}"))

static void span_head(uint64_t tid_hi, uint64_t tid_lo, uint64_t sid, uint64_t parent,
                      const char *name_json, size_t name_len, uint64_t start, uint64_t end)
{
    PUT("{\"traceId\":\"");
    put_hex64(tid_hi);
    put_hex64(tid_lo);
    PUT("\",\"spanId\":\"");
    put_hex64(sid);
    if (parent) {
        PUT("\",\"parentSpanId\":\"");
        put_hex64(parent);
    }
    PUT("\",\"flags\":256,\"name\":\"");
    put_mem(name_json, name_len);
    PUT("\",\"kind\":1,\"startTimeUnixNano\":\"");
    put_u64(start);
    PUT("\",\"endTimeUnixNano\":\"");
    put_u64(end);
    PUT("\",\"attributes\":[");
}
#define SPAN_HEAD(th, tl, s, p, name, t0, t1) span_head((th), (tl), (s), (p), name, sizeof(name) - 1, (t0), (t1))
#define SPAN_TAIL() PUT("],\"status\":{}}")

static uint64_t clock_ns;   /* the simulated wall clock */

/* Writes one request: 3 children then the root (the order a batch span
 * processor exports them: by end time). Returns the number of spans. */
static unsigned put_request(int first)
{
    uint64_t tid_hi = rng_next(), tid_lo = rng_next();
    uint64_t root = rng_next() | 1, lp = rng_next() | 1, rt = rng_next() | 1, st = rng_next() | 1;
    uint64_t sess_hi = rng_next(), sess_lo = rng_next();
    uint64_t r = rng_next();
    const model *m = &models[r & 3];
    const char *salt = salts[(r >> 2) & 3];
    unsigned dev = (unsigned)((r >> 4) & 7);
    const char *reason = "";
    if (((r >> 8) & 63) == 0)
        reason = exit_reasons[((r >> 14) & 0xffff) % 3];

    uint64_t chunks = rng_range(1, 64);
    /* empty_chunk_hashes: the prompt was shorter than one chunk */
    uint64_t requested = reason == exit_reasons[1] ? 0 : chunks * CHUNK_TOKENS;
    uint64_t hit_chunks = 0;
    if (!*reason) {
        uint64_t k = rng_range(0, 9);
        hit_chunks = k < 3 ? 0 : k == 9 ? chunks : rng_range(1, chunks);
    }
    uint64_t hit = hit_chunks * CHUNK_TOKENS;
    uint64_t l2 = (r >> 40) & 1 ? rng_range(0, hit_chunks) * CHUNK_TOKENS : 0;
    uint64_t l1 = hit - l2;
    uint64_t stored = requested - hit;

    clock_ns += rng_range(200000, 20000000);
    uint64_t t0 = clock_ns;
    uint64_t lp0 = t0 + rng_range(50000, 400000), lp1 = lp0 + rng_range(300000, 4000000);
    uint64_t rt0 = lp1 + rng_range(100000, 2000000), rt1 = rt0 + rng_range(1000000, 30000000);
    uint64_t st0 = rt1 + rng_range(200000, 3000000), st1 = st0 + rng_range(2000000, 40000000);
    uint64_t t1 = st1 + rng_range(100000, 1500000);

    char sess[64];
    {   /* "cmpl-<32 hex>-0", the vLLM request id */
        char *p = sess;
        memcpy(p, "cmpl-", 5);
        p += 5;
        for (int i = 15; i >= 0; i--)
            p[i] = hexdig[(sess_hi >> (4 * (15 - i))) & 15];
        for (int i = 15; i >= 0; i--)
            p[16 + i] = hexdig[(sess_lo >> (4 * (15 - i))) & 15];
        p += 32;
        memcpy(p, "-0", 3);
    }
    char device[8] = "cuda:0";
    device[5] = (char)('0' + dev);
    char engine[2] = {(char)('0' + dev), 0};

    if (!first)
        out_buf[out_len++] = ',';

    /* mp.lookup_prefetch */
    SPAN_HEAD(tid_hi, tid_lo, lp, root, "mp.lookup_prefetch", lp0, lp1);
    ATTR_S_STR("session_id", sess);
    PUT(",");
    ATTR_S_U64("found_count", hit_chunks);
    PUT(",");
    ATTR_S_U64("requested_tokens", requested);
    PUT(",");
    ATTR_S_U64("hit_tokens", hit);
    PUT(",");
    ATTR_S_STR("model_name", m->name);
    PUT(",");
    ATTR_S_STR("cache_salt", salt);
    PUT(",");
    ATTR_S_U64("l1_hit_tokens", l1);
    PUT(",");
    ATTR_S_U64("l2_hit_tokens", l2);
    PUT(",");
    ATTR_S_STR("early_exit_reason", reason);
    SPAN_TAIL();

    /* mp.retrieve */
    PUT(",");
    SPAN_HEAD(tid_hi, tid_lo, rt, root, "mp.retrieve", rt0, rt1);
    ATTR_S_STR("session_id", sess);
    PUT(",");
    ATTR_S_STR("device", device);
    PUT(",");
    ATTR_S_STR("engine_id", engine);
    PUT(",");
    ATTR_S_STR("model_name", m->name);
    PUT(",");
    ATTR_S_U64("retrieved_count", hit_chunks);
    PUT(",");
    ATTR_S_STR("cache_salt", salt);
    PUT(",");
    ATTR_S_U64("total_bytes", hit * m->bytes_per_token);
    PUT(",");
    ATTR_S_U64("num_tokens", hit);
    SPAN_TAIL();

    /* mp.store */
    PUT(",");
    SPAN_HEAD(tid_hi, tid_lo, st, root, "mp.store", st0, st1);
    ATTR_S_STR("session_id", sess);
    PUT(",");
    ATTR_S_STR("device", device);
    PUT(",");
    ATTR_S_STR("engine_id", engine);
    PUT(",");
    ATTR_S_STR("model_name", m->name);
    PUT(",");
    ATTR_S_U64("stored_count", stored / CHUNK_TOKENS);
    PUT(",");
    ATTR_S_U64("total_bytes", stored * m->bytes_per_token);
    PUT(",");
    ATTR_S_U64("num_tokens", stored);
    SPAN_TAIL();

    /* request (root, typed attributes) */
    PUT(",");
    SPAN_HEAD(tid_hi, tid_lo, root, 0, "request", t0, t1);
    ATTR_S_STR("session_id", sess);
    PUT(",");
    ATTR_I("hit_tokens", hit);
    PUT(",");
    ATTR_I("requested_tokens", requested);
    PUT(",");
    ATTR_D_RATIO("hit_rate", hit, requested);
    PUT(",");
    ATTR_I("l1_hit_tokens", l1);
    PUT(",");
    ATTR_I("l2_hit_tokens", l2);
    PUT(",");
    ATTR_D_RATIO("l1_hit_rate", l1, requested);
    PUT(",");
    ATTR_D_RATIO("l2_hit_rate", l2, requested);
    PUT(",");
    ATTR_S_STR("early_exit_reason", reason);
    SPAN_TAIL();
    return 4;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f, "usage: gen_lmcache_spans --mb MB --out FILE|- [--seed N] [--requests-per-line N]\n"
               "  --mb MB                 write at least MB * 1,000,000 bytes (default 500)\n"
               "  --out FILE              output path ('-' for stdout)\n"
               "  --seed N                deterministic seed (default 1)\n"
               "  --requests-per-line N   LMCache requests per line, 4 spans each (default 50)\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *v = (uint64_t)x;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double mb = 500;
    const char *out = NULL;
    uint64_t seed = 1, per_line = 50;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--mb") && strcmp(a, "--out") && strcmp(a, "--seed") &&
            strcmp(a, "--requests-per-line")) {
            fprintf(stderr, "gen_lmcache_spans: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "gen_lmcache_spans: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--mb")) {
            char *end;
            mb = strtod(v, &end);
            if (end == v || *end || !(mb > 0) || mb > 1e7) {
                fprintf(stderr, "gen_lmcache_spans: bad --mb '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(v, &seed)) {
                fprintf(stderr, "gen_lmcache_spans: bad --seed '%s'\n", v);
                return 2;
            }
        } else {   /* --requests-per-line */
            if (parse_u64(v, &per_line) || per_line == 0 || per_line > 100000) {
                fprintf(stderr, "gen_lmcache_spans: bad --requests-per-line '%s'\n", v);
                return 2;
            }
        }
    }
    if (!out) {
        fprintf(stderr, "gen_lmcache_spans: --out is required\n");
        usage(stderr);
        return 2;
    }
    int to_stdout = !strcmp(out, "-");
    out_fp = to_stdout ? stdout : fopen(out, "wb");
    if (!out_fp) {
        fprintf(stderr, "gen_lmcache_spans: %s: %s\n", out, strerror(errno));
        return 1;
    }
    setvbuf(out_fp, NULL, _IONBF, 0);   /* we buffer ourselves */

    uint64_t target = (uint64_t)(mb * 1e6);
    rng_state = seed * 0x2545f4914f6cdd1du + 0x1234567u;
    clock_ns = 1748736000000000000u + rng_range(0, 1000000000u);   /* 2025-06-01 UTC */

    /* service.instance.id: a UUID v4 derived from the seed */
    char inst[37];
    {
        uint64_t a = rng_next(), b = rng_next();
        char h[32];
        for (int i = 0; i < 16; i++) {
            h[i] = hexdig[(a >> (60 - 4 * i)) & 15];
            h[16 + i] = hexdig[(b >> (60 - 4 * i)) & 15];
        }
        h[12] = '4';
        h[16] = hexdig[8 + (b >> 62)];
        snprintf(inst, sizeof inst, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    }

    double t_start = now_s();
    uint64_t lines = 0, spans = 0, requests = 0;
    while (out_total + out_len < target && !out_failed) {
        PUT("{\"resourceSpans\":[{\"resource\":{\"attributes\":["
            "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"lmcache-mp-server\"}},"
            "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":\"");
        put_mem(inst, 36);
        PUT("\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"lmcache_mp.server\"},\"spans\":[");
        for (uint64_t k = 0; k < per_line; k++) {
            if (out_len + REQ_MAX_BYTES > OUT_CAP) {
                out_flush();
                if (out_failed)
                    break;
            }
            spans += put_request(k == 0);
            requests++;
        }
        PUT("]}]}]}\n");
        lines++;
        if (out_len + REQ_MAX_BYTES > OUT_CAP)
            out_flush();
    }
    out_flush();
    if (!out_failed && !to_stdout && fclose(out_fp) != 0)
        out_failed = errno ? errno : EIO;
    if (out_failed) {
        fprintf(stderr, "gen_lmcache_spans: writing %s: %s\n", out, strerror(out_failed));
        return 1;
    }
    double dt = now_s() - t_start;
    FILE *rep = to_stdout ? stderr : stdout;
    fprintf(rep,
            "gen_lmcache_spans: bytes=%" PRIu64 " lines=%" PRIu64 " spans=%" PRIu64 " requests=%" PRIu64
            " seconds=%.3f mb_per_s=%.1f seed=%" PRIu64 " out=%s\n",
            out_total, lines, spans, requests, dt, dt > 0 ? (double)out_total / 1e6 / dt : 0.0, seed,
            out);
    return 0;
}
