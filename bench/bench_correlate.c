/* bench_correlate: spans per second through processor lmcache_correlate
 * alone, and its memory under the worst arrival order.
 *
 *   bench_correlate [--mode steady|burst|children-first] [--requests N]
 *                   [--max-spans N] [--rate SPANS_PER_S] [--per-batch N]
 *                   [--cpu N] [--seed N]
 *
 * The graph is built through the engine from a YAML string: a receiver
 * that only hands its `next` to this program -> lmcache_correlate -> an
 * exporter that counts spans. Input is made by the ground-truth generator
 * (fixtures/correlate/correlate_gen.h) and decoded before timing starts.
 *
 *  steady          the processor's clock is simulated: it advances by
 *                  batch spans / rate, so wait/max_wait behave as with a
 *                  live feed of `rate` spans/s (the window holds about
 *                  rate x wait spans); timed: consume of every batch and
 *                  the final release at shutdown. Input is decoded before
 *                  timing starts (cold in cache when consumed); with
 *                  --warm each batch is decoded right before its consume
 *                  call, as a receiver hands it over, and only the consume
 *                  calls and the final release are timed.
 *  burst           the real clock: everything arrives in a few seconds, so
 *                  nothing is due and the window runs full (max_spans) and
 *                  releases the oldest traces.
 *  children-first  every child span of every request first, then the roots
 *                  and engine spans: nothing can be completed until the
 *                  window is full, and the clock is frozen so only
 *                  max_spans makes room. Input is generated and decoded
 *                  batch by batch (not kept), so the peak RSS printed is
 *                  the processor's own plus one batch.
 *
 * Prints one line `key=value ...` (spans, seconds, spans_per_s, cpu_seconds
 * and spans_per_cpu_s: the same per CPU second of the process, the figure
 * to read on a shared machine; in children-first mode they include making
 * and decoding the input, peak_rss_mb, peak_held_spans, peak_held_mb,
 * released_max_spans, ...). */
#include "core/clock.h"
#include "core/engine.h"
#include "core/service_config.h"
#include "fixtures/correlate/correlate_gen.h"
#include "formats/otlp_json.h"
#include "processors/lmcache_correlate.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static kvs_next *recv_next;
static void *corr;
static atomic_uint_fast64_t delivered;
static uint64_t sim_now;

static int in_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    recv_next = ctx->next[kvs_signal_index(KVS_SIG_TRACES)];
    *state = &recv_next;
    return 0;
}
static void noop_destroy(void *state) { (void)state; }
static int out_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    *state = &delivered;
    return 0;
}
static int out_consume(void *state, kvs_batch *b, kvs_error *err)
{
    atomic_fetch_add_explicit(&delivered, b->items, memory_order_relaxed);
    return 0;
}
static const kvs_component_def bench_in = { .type = "benchin", .kind = KVS_RECEIVER, .signals = KVS_SIG_TRACES,
                                            .create = in_create, .destroy = noop_destroy };
static const kvs_component_def bench_out = { .type = "benchout", .kind = KVS_EXPORTER, .signals = KVS_SIG_TRACES,
                                             .create = out_create, .consume = out_consume, .destroy = noop_destroy };
static kvs_component_def wrapped;
static int corr_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    int rc = kvs_processor_lmcache_correlate.create(ctx, state, err);
    if (rc == 0)
        corr = *state;
    return rc;
}
static const kvs_component_def *find(kvs_kind kind, const char *type, size_t len)
{
    const kvs_component_def *all[] = { &bench_in, &bench_out, &wrapped };
    for (size_t i = 0; i < 3; i++)
        if (all[i]->kind == kind && strlen(all[i]->type) == len && memcmp(all[i]->type, type, len) == 0)
            return all[i];
    return NULL;
}
static uint64_t sim_clock(void *arg) { return sim_now; }

/* CPU seconds of the whole process (every thread). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB -> MiB */
}

typedef struct opts {
    const char *mode;
    uint64_t requests, max_spans, rate, per_batch, seed;
    int cpu, warm;
} opts;

/* Generated spans, cut into decoded batches as they fill. */
typedef struct feeder {
    cg_list l;
    size_t per_batch;
    int filter;                   /* 0 all, 1 children only, 2 roots and engine only */
    kvs_batch **keep;             /* batches kept (steady, burst) or NULL */
    size_t nkeep, capkeep;
    uint64_t spans;
    int (*sink)(struct feeder *f, kvs_batch *b);
} feeder;

static int is_root_or_engine(const char *json)
{
    return strstr(json, "\"name\":\"request\"") || strstr(json, "\"name\":\"cb.request\"") ||
           strstr(json, "\"name\":\"llm_request\"");
}

static void flush(feeder *f)
{
    if (!f->l.n)
        return;
    cg_buf b = { 0 };
    cg_line(&b, f->l.v, 0, f->l.n);
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc d = { 0 };
    kvs_json_error je;
    if (kvs_otlp_json_decode(b.p, b.n, a, &d, &je) != 0) {
        fprintf(stderr, "bench_correlate: decode: %s\n", je.msg);
        exit(1);
    }
    free(b.p);
    kvs_batch *batch = kvs_batch_wrap(KVS_SIG_TRACES, a, &d.traces->base);
    f->spans += batch->items;
    cg_list_free(&f->l);
    if (f->sink(f, batch) != 0) {
        fprintf(stderr, "bench_correlate: consume failed\n");
        exit(1);
    }
}

static void collect(void *ctx, int res, int scope, uint64_t end, const char *json, size_t len)
{
    feeder *f = ctx;
    if (f->filter && (f->filter == 2) != !!is_root_or_engine(json))
        return;
    cg_collect(&f->l, res, scope, end, json, len);
    if (f->l.n >= f->per_batch)
        flush(f);
}

static int keep_batch(feeder *f, kvs_batch *b)
{
    if (f->nkeep == f->capkeep) {
        f->capkeep = f->capkeep ? f->capkeep * 2 : 1024;
        f->keep = realloc(f->keep, f->capkeep * sizeof *f->keep);
        if (!f->keep)
            return -1;
    }
    f->keep[f->nkeep++] = b;
    return 0;
}

/* CPU seconds of this thread (the one that consumes). */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t sim_rate;       /* steady: simulated spans per second */
static double in_consume_s, in_consume_cpu_s;

static int consume_now(feeder *f, kvs_batch *b)
{
    (void)f;
    kvs_error err;
    if (sim_rate)
        sim_now += b->items * KVS_SEC / sim_rate;
    double t = (double)kvs_now_ns() / 1e9, c = thread_cpu_s();
    int rc = kvs_next_consume(recv_next, b, &err);
    in_consume_s += (double)kvs_now_ns() / 1e9 - t;
    in_consume_cpu_s += thread_cpu_s() - c;
    kvs_batch_unref(b);
    return rc;
}

/* Requests in end-time order, the way exporters send them: generated
 * in chunks of 4096 requests (sorted within a chunk). */
static void generate(feeder *f, uint64_t seed, uint64_t from, uint64_t to)
{
    cg_truth t;
    cg_list chunk = { 0 };
    for (uint64_t i = from; i < to; i++) {
        cg_request(seed, i, &t, cg_collect, &chunk);
        if ((i + 1 - from) % 4096 == 0 || i + 1 == to) {
            qsort(chunk.v, chunk.n, sizeof *chunk.v, cg_cmp_end);
            for (size_t k = 0; k < chunk.n; k++)
                collect(f, chunk.v[k].res, chunk.v[k].scope, chunk.v[k].end, chunk.v[k].json, chunk.v[k].len);
            cg_list_free(&chunk);
        }
    }
    flush(f);
}

int main(int argc, char **argv)
{
    opts o = { "steady", 150000, 1000000, 100000, 512, 1, -1, 0 };
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc && strcmp(argv[i], "--warm") != 0) {
            fprintf(stderr, "bench_correlate: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--warm") == 0) {
            o.warm = 1;
            continue;
        }
        const char *k = argv[i], *v = argv[++i];
        if (strcmp(k, "--mode") == 0)
            o.mode = v;
        else if (strcmp(k, "--requests") == 0)
            o.requests = strtoull(v, NULL, 10);
        else if (strcmp(k, "--max-spans") == 0)
            o.max_spans = strtoull(v, NULL, 10);
        else if (strcmp(k, "--rate") == 0)
            o.rate = strtoull(v, NULL, 10);
        else if (strcmp(k, "--per-batch") == 0)
            o.per_batch = strtoull(v, NULL, 10);
        else if (strcmp(k, "--seed") == 0)
            o.seed = strtoull(v, NULL, 10);
        else if (strcmp(k, "--cpu") == 0)
            o.cpu = atoi(v);
        else {
            fprintf(stderr, "usage: bench_correlate [--mode steady|burst|children-first] [--requests N] "
                            "[--max-spans N] [--rate N] [--per-batch N] [--cpu N] [--seed N] [--warm]\n");
            return 2;
        }
    }
    int steady = strcmp(o.mode, "steady") == 0, burst = strcmp(o.mode, "burst") == 0,
        children = strcmp(o.mode, "children-first") == 0;
    if (!steady && !burst && !children) {
        fprintf(stderr, "bench_correlate: unknown mode %s\n", o.mode);
        return 2;
    }
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            perror("sched_setaffinity");
    }
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  benchin:\nprocessors:\n  lmcache_correlate:\n    max_spans: %llu\n"
             "    max_traces: %llu\nexporters:\n  benchout:\n"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [benchin], processors: [lmcache_correlate], exporters: [benchout]}\n",
             (unsigned long long)o.max_spans, (unsigned long long)o.max_spans);
    wrapped = kvs_processor_lmcache_correlate;
    wrapped.create = corr_create;
    kvs_component_lookup lk = { find, NULL };
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse_with("bench.yaml", yaml, strlen(yaml), &lk, NULL, NULL, &err);
    kvs_engine *e = cfg ? kvs_engine_create(cfg, NULL, &err) : NULL;
    if (!e || kvs_engine_start(e, &err) != 0) {
        fprintf(stderr, "bench_correlate: %s\n", err.msg);
        return 1;
    }
    if (steady || children) {
        /* steady: advanced per batch below; children-first: frozen, so
         * only the bound (max_spans) can make room, however slow the
         * input is made. */
        sim_now = KVS_SEC;
        kvs_lmcache_correlate_set_clock(corr, sim_clock, NULL);
    }
    feeder f = { .per_batch = o.per_batch };
    double base_rss = rss_mb(), t0, t1, t2, c0 = 0;
    uint64_t spans;
    if (steady && o.warm) {
        /* Each batch decoded right before it is consumed, as a receiver
         * hands it over; only the consume calls and the final release
         * are timed. */
        sim_rate = o.rate;
        f.sink = consume_now;
        generate(&f, o.seed, 0, o.requests);
        spans = f.spans;
        t0 = 0, t1 = in_consume_s;
        c0 = cpu_s();
        double r0 = (double)kvs_now_ns() / 1e9;
        kvs_engine_shutdown(e);
        t2 = t1 + (double)kvs_now_ns() / 1e9 - r0;
        in_consume_cpu_s += cpu_s() - c0;
    } else if (!children) {
        f.sink = keep_batch;
        generate(&f, o.seed, 0, o.requests);
        spans = f.spans;
        base_rss = rss_mb();
        if (getenv("BENCH_PAUSE")) { /* lets a profiler attach to the timed part only */
            fprintf(stderr, "bench_correlate: input ready, pid %d\n", (int)getpid());
            sleep(2);
        }
        t0 = (double)kvs_now_ns() / 1e9;
        c0 = cpu_s();
        for (size_t i = 0; i < f.nkeep; i++) {
            kvs_batch *b = f.keep[i];
            if (steady)
                sim_now += b->items * KVS_SEC / o.rate;
            if (kvs_next_consume(recv_next, b, &err) != 0) {
                fprintf(stderr, "bench_correlate: consume: %s\n", err.msg);
                return 1;
            }
            kvs_batch_unref(b);
        }
        t1 = (double)kvs_now_ns() / 1e9;
        free(f.keep);
    } else {
        f.sink = consume_now;
        t0 = (double)kvs_now_ns() / 1e9;
        c0 = cpu_s();
        f.filter = 1;
        generate(&f, o.seed, 0, o.requests);
        f.filter = 2;
        generate(&f, o.seed, 0, o.requests);
        spans = f.spans;
        t1 = (double)kvs_now_ns() / 1e9;
    }
    double cpu;
    if (steady && o.warm) {
        cpu = in_consume_cpu_s;
    } else {
        kvs_engine_shutdown(e); /* releases what is still held */
        t2 = (double)kvs_now_ns() / 1e9;
        cpu = cpu_s() - c0;
    }
    kvs_lmc_correlate_stats s;
    kvs_lmcache_correlate_stats(corr, &s);
    uint64_t out = atomic_load(&delivered);
    printf("mode=%s%s requests=%llu spans=%llu delivered=%llu max_spans=%llu seconds=%.3f spans_per_s=%.0f "
           "cpu_seconds=%.3f spans_per_cpu_s=%.0f consume_seconds=%.3f final_release_seconds=%.3f peak_rss_mb=%.1f input_rss_mb=%.1f "
           "peak_held_spans=%llu peak_held_traces=%llu peak_held_mb=%.1f copied_spans=%llu "
           "released_wait=%llu released_max_wait=%llu released_partner=%llu released_max_spans=%llu "
           "released_max_traces=%llu released_shutdown=%llu orphans=%llu late_spans=%llu joins=%llu lost=%llu\n",
           o.mode, steady && o.warm ? "/warm" : "", (unsigned long long)o.requests, (unsigned long long)spans, (unsigned long long)out,
           (unsigned long long)o.max_spans, t2 - t0, (double)spans / (t2 - t0), cpu, (double)spans / cpu, t1 - t0,
           t2 - t1, rss_mb(),
           children ? 0.0 : base_rss, (unsigned long long)s.peak_spans, (unsigned long long)s.peak_traces,
           (double)s.peak_bytes / 1048576.0, (unsigned long long)s.copied_spans,
           (unsigned long long)s.traces_released[KVS_LMC_REL_WAIT],
           (unsigned long long)s.traces_released[KVS_LMC_REL_MAX_WAIT],
           (unsigned long long)s.traces_released[KVS_LMC_REL_PARTNER],
           (unsigned long long)s.traces_released[KVS_LMC_REL_MAX_SPANS],
           (unsigned long long)s.traces_released[KVS_LMC_REL_MAX_TRACES],
           (unsigned long long)s.traces_released[KVS_LMC_REL_SHUTDOWN], (unsigned long long)s.orphans,
           (unsigned long long)s.late_spans, (unsigned long long)(s.joins_same_trace + s.joins_cross_trace),
           (unsigned long long)s.spans_lost);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    return out == spans ? 0 : 1;
}
