/* Benchmark: parses a generated LMCache MP / vLLM-shaped exposition held in
 * memory (default 100 MB) and reports parse MB/s and samples/s, then the
 * conversion rate to OTLP (samples/s) on a scrape-sized slice.
 * Usage: bench_prom_text [MB] [repeats] */
#include "core/arena.h"
#include "formats/prom_otlp.h"
#include "formats/prom_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One "target": LMCache MP counters and histograms, vLLM and embedded
 * lmcache:* series, as the exporters print them. */
static size_t gen(char *buf, size_t cap, unsigned long target)
{
    static const double bounds[] = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};
    size_t n = 0;
#define P(...) (n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__))
    P("# HELP lmcache_mp_l1_read_chunks_total Number of chunks read from L1\n"
      "# TYPE lmcache_mp_l1_read_chunks_total counter\n");
    for (int s = 0; s < 16; s++)
        P("lmcache_mp_l1_read_chunks_total{pod=\"p%lu\",cache_salt=\"tenant-%d\",otel_scope_name=\"lmcache.l1\",otel_scope_version=\"\"} %lu.0\n",
          target, s, target * 131 + (unsigned long)s * 7);
    P("# HELP lmcache_mp_l0_l1_store_throughput_GB_per_second GPU to L1 store throughput\n"
      "# TYPE lmcache_mp_l0_l1_store_throughput_GB_per_second histogram\n");
    for (int d = 0; d < 4; d++) {
        unsigned long c = 0;
        for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
            c += (unsigned long)(b * 3 + d);
            P("lmcache_mp_l0_l1_store_throughput_GB_per_second_bucket{pod=\"p%lu\",device=\"cuda:%d\",engine_id=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\",le=\"%.1f\"} %lu.0\n",
              target, d, bounds[b], c);
        }
        P("lmcache_mp_l0_l1_store_throughput_GB_per_second_bucket{pod=\"p%lu\",device=\"cuda:%d\",engine_id=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\",le=\"+Inf\"} %lu.0\n", target, d, c);
        P("lmcache_mp_l0_l1_store_throughput_GB_per_second_count{pod=\"p%lu\",device=\"cuda:%d\",engine_id=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} %lu.0\n", target, d, c);
        P("lmcache_mp_l0_l1_store_throughput_GB_per_second_sum{pod=\"p%lu\",device=\"cuda:%d\",engine_id=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} %lu.125\n", target, d, c * 21);
    }
    P("# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.\n"
      "# TYPE vllm:prefix_cache_hits_total counter\n");
    for (int e = 0; e < 8; e++)
        P("vllm:prefix_cache_hits_total{pod=\"p%lu\",engine=\"%d\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} %lu.0\n", target, e, target * 4096 + (unsigned long)e);
    P("# HELP vllm:prefix_cache_hits_created Prefix cache hits, in terms of number of cached tokens.\n"
      "# TYPE vllm:prefix_cache_hits_created gauge\n");
    for (int e = 0; e < 8; e++)
        P("vllm:prefix_cache_hits_created{pod=\"p%lu\",engine=\"%d\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 1.7479000001234567e+09\n", target, e);
    P("# HELP lmcache:retrieve_hit_rate The hit rate for retrieve requests.\n# TYPE lmcache:retrieve_hit_rate gauge\n");
    for (int w = 0; w < 8; w++)
        P("lmcache:retrieve_hit_rate{pod=\"p%lu\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\",role=\"worker\",served_model_name=\"llama\",worker_id=\"%d\"} 0.%03lu\n",
          target, w, (target + (unsigned long)w) % 1000);
#undef P
    return n;
}

static int count(void *ctx, const kvs_prom_sample *s)
{
    (void)s;
    (*(unsigned long *)ctx)++;
    return 0;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 100;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    size_t cap = mb << 20;
    char *text = malloc(cap + 65536);
    char *one = malloc(1 << 20);
    if (!text || !one)
        return 1;
    size_t len = 0, one_len = gen(one, 1 << 20, 0);
    for (unsigned long t = 0; len + one_len < cap; t++)
        len += gen(text + len, 65536 + cap - len, t);

    double best = 1e9;
    unsigned long samples = 0;
    size_t peak = 0;
    for (int r = 0; r < reps; r++) {
        samples = 0;
        kvs_prom_handler h = {.sample = count, .ctx = &samples};
        kvs_prom_parser *p = kvs_prom_new(NULL, &h);
        double t0 = now();
        for (size_t i = 0; i < len; i += 65536)
            kvs_prom_feed(p, text + i, len - i < 65536 ? len - i : 65536);
        kvs_prom_finish(p);
        double dt = now() - t0;
        peak = kvs_prom_get_stats(p)->mem_peak;
        kvs_prom_free(p);
        if (dt < best)
            best = dt;
    }
    printf("parse:   %.1f MB in %.3f s = %.0f MB/s, %.2f M samples/s (%lu samples, parser peak %zu bytes)\n",
           (double)len / 1e6, best, (double)len / 1e6 / best, (double)samples / 1e6 / best, samples, peak);

    /* conversion: one scrape of ~5000 series (many targets' worth), repeated */
    size_t slice = 0;
    while (slice < len && slice < (1u << 20)) {
        const char *nl = memchr(text + slice, '\n', len - slice);
        slice = nl ? (size_t)(nl - text) + 1 : len;
    }
    kvs_prom_series_state *st = kvs_prom_series_state_new(0);
    double t0 = now();
    unsigned long conv_samples = 0, points = 0;
    int scrapes = 0;
    for (; now() - t0 < 2.0; scrapes++) {
        kvs_arena *a = kvs_arena_new();
        kvs_prom_conv_options co = {.scrape_time_ns = (uint64_t)scrapes * 15000000000u + 1, .state = st,
                                    .job = "lmcache", .instance = "host:8080"};
        kvs_metrics_req *req;
        kvs_prom_conv_stats cs;
        kvs_error err;
        if (kvs_prom_to_otlp(text, slice, NULL, &co, a, &req, NULL, NULL, NULL, &cs, &err))
            return 1;
        conv_samples += cs.samples;
        points += cs.points;
        kvs_arena_free(a);
    }
    double dt = now() - t0;
    printf("convert: %d scrapes of %.2f MB: %.2f M samples/s parsed+converted, %.2f M points/s (%.0f MB/s)\n",
           scrapes, (double)slice / 1e6, (double)conv_samples / 1e6 / dt, (double)points / 1e6 / dt,
           (double)slice * scrapes / 1e6 / dt);
    kvs_prom_series_state_free(st);
    free(text);
    free(one);
    return 0;
}
