/* bench_diagnose: how long the LMCache diagnosis takes over a large scrape
 * timeline.
 *
 *   bench_diagnose [--mb 50] [--interval-ms 15000] [--salts 8] [--repeat N]
 *
 * Generates in memory a timeline of Prometheus scrapes (an LMCache MP
 * server and the vLLM engine beside it, current exporter spellings with
 * `otel_scope_*` labels, `_created` companions, OTel default histogram
 * buckets) until at least MB x 10^6 bytes, then times, on one thread:
 *   ingest   every scrape through kvs_lmc_evidence_add_prom_text (parse,
 *            resolve names, store series and timelines)
 *   evaluate kvs_lmc_diagnose (mode, families, findings, questions,
 *            summaries, bottleneck)
 *   report   the four JSON documents
 * The workload degrades the hit rate in its last fifth, so the timeline
 * detectors have real work to do. Prints one summary line (parsed by
 * scripts) and exits 1 when the total is above 1 s (the target). */
#include "lmcache/diagnose.h"
#include "lmcache/report.h"

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

static const double otel_bounds[] = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};
#define NB (sizeof otel_bounds / sizeof *otel_bounds)

static void counter(kvs_buf *b, const char *name, const char *labels, double v)
{
    kvs_buf_printf(b, "%s_total{%s} %.1f\n", name, labels, v);
}

static void hist(kvs_buf *b, const char *name, const char *labels, double n, double mean)
{
    double cum = 0;
    for (size_t i = 0; i < NB; i++) {
        if (otel_bounds[i] >= mean)
            cum = n;
        kvs_buf_printf(b, "%s_bucket{%s,le=\"%.1f\"} %.1f\n", name, labels, otel_bounds[i], cum);
    }
    kvs_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %.1f\n%s_count{%s} %.1f\n%s_sum{%s} %.3f\n", name, labels, n, name,
                   labels, n, name, labels, n * mean);
}

/* One LMCache MP + vLLM scrape after `i` intervals. */
static void scrape(kvs_buf *b, long i, int salts, long total)
{
    b->len = 0;
    /* 200k tokens looked up per interval, 75 % hits, 5 % in the last fifth */
    long knee = total * 4 / 5;
    double req = 200000.0 * (double)i;
    double hit = 200000.0 * (i < knee ? 0.75 * (double)i : 0.75 * (double)knee + 0.05 * (double)(i - knee));
    kvs_buf_puts(b, "# HELP target_info Target metadata\n# TYPE target_info gauge\n"
                    "target_info{service_instance_id=\"mp-bench\",service_name=\"lmcache-mp-server\"} 1.0\n");
    static const char *const lookups[] = {"lmcache_mp_lookup_requested_tokens", "lmcache_mp_lookup_hit_tokens",
                                          "lmcache_mp_lookup_hit_l1_tokens"};
    char lab[256];
    for (int k = 0; k < 3; k++) {
        kvs_buf_printf(b, "# HELP %s_total lookups\n# TYPE %s_total counter\n", lookups[k], lookups[k]);
        for (int s = 0; s < salts; s++) {
            snprintf(lab, sizeof lab,
                     "cache_salt=\"tenant-%d\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\","
                     "otel_scope_name=\"lmcache.lookup\",otel_scope_version=\"\"",
                     s);
            counter(b, lookups[k], lab, (k ? hit : req) / salts);
        }
    }
    static const char *const l1[] = {"lmcache_mp_l1_read_chunks", "lmcache_mp_l1_write_chunks",
                                     "lmcache_mp_l1_evicted_chunks"};
    for (int k = 0; k < 3; k++) {
        kvs_buf_printf(b, "# HELP %s_total l1\n# TYPE %s_total counter\n", l1[k], l1[k]);
        for (int s = 0; s < salts; s++) {
            snprintf(lab, sizeof lab, "cache_salt=\"tenant-%d\",otel_scope_name=\"lmcache.l1\",otel_scope_version=\"\"",
                     s);
            counter(b, l1[k], lab, (k == 2 ? 0.05 : 1.0) * hit / 256 / salts);
        }
        kvs_buf_printf(b, "# HELP %s_created l1\n# TYPE %s_created gauge\n", l1[k], l1[k]);
        for (int s = 0; s < salts; s++)
            kvs_buf_printf(b, "%s_created{cache_salt=\"tenant-%d\",otel_scope_name=\"lmcache.l1\"} 1748735000.5\n",
                           l1[k], s);
    }
    kvs_buf_printf(b, "lmcache_mp_l1_memory_usage_bytes{otel_scope_name=\"lmcache.l1_manager\"} %.1f\n",
                   4.0e9 + (double)(i % 7) * 1e6);
    kvs_buf_printf(b, "lmcache_mp_l1_usage_ratio{otel_scope_name=\"lmcache.l1_manager\"} 0.5\n");
    kvs_buf_printf(b, "lmcache_mp_active_prefetch_jobs{otel_scope_name=\"lmcache.l2\"} 0\n");
    kvs_buf_printf(b, "lmcache_mp_event_bus_queue_depth{otel_scope_name=\"lmcache.event_bus\"} %ld\n", i % 5);
    kvs_buf_printf(b, "lmcache_mp_event_bus_dropped_events_total{otel_scope_name=\"lmcache.event_bus\"} 0\n");
    double n = 10.0 * (double)i;
    hist(b, "lmcache_mp_l1_chunk_lifetime_seconds", "otel_scope_name=\"lmcache.l1\"", n, 4);
    hist(b, "lmcache_mp_l0_block_lifetime_seconds", "instance_id=\"0\",otel_scope_name=\"lmcache.l0\"", n, 3);
    hist(b, "lmcache_mp_real_reuse_gap_seconds", "cache_salt=\"tenant-0\",otel_scope_name=\"lmcache.sm\"", n, 2);
    for (int dev = 0; dev < 4; dev++) {
        snprintf(lab, sizeof lab, "device=\"cuda:%d\",engine_id=\"%d\",otel_scope_name=\"lmcache_mp.perf\"", dev, dev);
        hist(b, "lmcache_mp_l0_l1_store_throughput_GB_per_second", lab, n, 21.8);
        hist(b, "lmcache_mp_l0_l1_load_throughput_GB_per_second", lab, n, 18.5);
    }
    /* the engine */
    const char *e = "engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"";
    kvs_buf_printf(b, "vllm:cache_config_info{engine=\"0\",kv_connector=\"LMCacheMPConnector\"} 1.0\n");
    kvs_buf_printf(b, "vllm:num_requests_running{%s} 4\nvllm:num_requests_waiting{%s} 0\n", e, e);
    kvs_buf_printf(b, "vllm:kv_cache_usage_perc{%s} 0.4\n", e);
    counter(b, "vllm:prefix_cache_queries", e, req * 2);
    counter(b, "vllm:prefix_cache_hits", e, hit * 0.25);
    counter(b, "vllm:external_prefix_cache_queries", e, req * 2 - hit * 0.25);
    counter(b, "vllm:external_prefix_cache_hits", e, hit * 0.75);
    counter(b, "vllm:prompt_tokens", e, req * 2);
    counter(b, "vllm:generation_tokens", e, req / 3);
    hist(b, "vllm:time_to_first_token_seconds", e, n, 0.06);
    hist(b, "vllm:e2e_request_latency_seconds", e, n, 1.8);
    hist(b, "vllm:request_prefill_time_seconds", e, n, 0.05);
    hist(b, "vllm:request_queue_time_seconds", e, n, 0.002);
}

int main(int argc, char **argv)
{
    double mb = 50;
    long interval = 15000;
    int salts = 8, repeat = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--mb") == 0)
            mb = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--interval-ms") == 0)
            interval = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--salts") == 0)
            salts = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_diagnose [--mb 50] [--interval-ms 15000] [--salts 8] [--repeat N]\n");
            return 2;
        }
    }
    /* size one scrape to plan the timeline, then generate until MB */
    kvs_buf one = {0};
    scrape(&one, 1000, salts, 2000);
    long plan = (long)(mb * 1e6 / (double)one.len) + 1, cap = plan * 2, nscrapes = 0;
    kvs_buf_free(&one);
    kvs_buf *all = calloc((size_t)cap, sizeof *all);
    if (!all)
        return 1;
    size_t bytes = 0;
    while (bytes < (size_t)(mb * 1e6) && nscrapes < cap) {
        scrape(&all[nscrapes], nscrapes + 1, salts, plan);
        if (all[nscrapes].oom)
            return 1;
        bytes += all[nscrapes++].len;
    }
    double best_ingest = 1e9, best_eval = 1e9, best_report = 1e9;
    size_t series = 0, findings = 0, out_bytes = 0;
    char codes[512] = "";
    unsigned long rejected = 0;
    for (int r = 0; r < repeat; r++) {
        kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
        double t0 = now();
        for (long i = 0; i < nscrapes; i++) {
            unsigned long rej = 0;
            if (kvs_lmc_evidence_add_prom_text(ev, all[i].data, all[i].len, 1748736000000 + i * interval, &rej))
                return 1;
            rejected += rej;
        }
        double t1 = now();
        kvs_lmc_config cfg;
        kvs_lmc_config_default(&cfg);
        kvs_error err;
        kvs_lmc_diagnosis *d = kvs_lmc_diagnose(ev, &cfg, &err);
        if (!d)
            return 1;
        double t2 = now();
        kvs_buf out = {0};
        for (int k = 0; k < KVS_LMC_REPORT__COUNT; k++)
            if (kvs_lmc_report_write(d, (kvs_lmc_report_kind)k, &out))
                return 1;
        double t3 = now();
        series = kvs_lmc_evidence_nseries(ev);
        findings = d->nfindings;
        codes[0] = '\0';
        for (size_t f = 0; f < d->nfindings; f++) {
            size_t o = strlen(codes);
            snprintf(codes + o, sizeof codes - o, "%s%s", f ? "," : "", d->findings[f].code);
        }
        out_bytes = out.len;
        kvs_buf_free(&out);
        kvs_lmc_diagnosis_free(d);
        kvs_lmc_evidence_free(ev);
        if (t1 - t0 < best_ingest)
            best_ingest = t1 - t0;
        if (t2 - t1 < best_eval)
            best_eval = t2 - t1;
        if (t3 - t2 < best_report)
            best_report = t3 - t2;
    }
    for (long i = 0; i < nscrapes; i++)
        kvs_buf_free(&all[i]);
    free(all);
    double total = best_ingest + best_eval + best_report;
    printf("bench_diagnose: bytes=%zu scrapes=%ld series=%zu findings=%zu report_bytes=%zu rejected=%lu "
           "ingest_s=%.3f evaluate_s=%.3f report_s=%.3f total_s=%.3f mb_per_s=%.0f codes=%s\n",
           bytes, nscrapes, series, findings, out_bytes, rejected, best_ingest, best_eval, best_report, total,
           (double)bytes / 1e6 / total, codes[0] ? codes : "-");
    return total < 1.0 ? 0 : 1;
}
