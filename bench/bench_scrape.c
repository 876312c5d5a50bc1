/* Benchmark: scrape-to-export latency of the `prometheus` receiver.
 *
 * N in-process libmicrohttpd servers on 127.0.0.1 each serve a generated
 * exposition of S series (LMCache MP / vLLM shaped: counters, gauges and
 * histograms with 3-4 labels). An engine built in-process scrapes them
 * (one job, N targets, scrape_interval I) into the file exporter, which
 * writes OTLP/JSON lines into a FIFO the benchmark reads. For each scrape:
 *   latency  = the request reaching the server -> its line arriving on the
 *              FIFO (fetch, parse, OTLP conversion, pipeline, JSON encoding
 *              and write of the whole batch);
 *   duration = the scrape_duration_seconds the receiver reports (fetch +
 *              parse + conversion, as Prometheus measures it).
 * The first scrape of each target is a warm-up and not counted.
 *
 * Usage: bench_scrape [--targets N] [--series S] [--rounds R] [--interval-ms I]
 * Defaults: 3 targets, 5000 series, 10 rounds, 1000 ms. */
#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "formats/otlp_json.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TARGETS 64

typedef struct target {
    struct MHD_Daemon *d;
    int port;
    char *body;
    size_t len;
    atomic_uint_fast64_t req_ns;    /* when the latest request arrived */
    char needle[64];                /* "127.0.0.1:PORT" as it appears in the JSON */
    int seen;                       /* lines read for this target */
} target;

typedef struct bench {
    target t[MAX_TARGETS];
    int ntargets;
    int rounds;
    int fifo;
    double *lat, *dur;              /* ms */
    size_t nlat, ndur;
    atomic_int done;
} bench;

/* One target's exposition: S series in families of 100. */
static char *gen(int tn, int series, size_t *len)
{
    size_t cap = (size_t)series * 220 + 4096, n = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
#define P(...) (n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__))
    int left = series, fam = 0;
    while (left > 0) {
        int kind = fam % 4;   /* counter, gauge, counter, histogram */
        if (kind == 3 && left >= 13) {
            /* one histogram per 13 series: 10 buckets + +Inf, _sum, _count */
            P("# HELP lmcache_mp_bench_latency_%d_seconds Latency\n"
              "# TYPE lmcache_mp_bench_latency_%d_seconds histogram\n",
              fam, fam);
            int h = 0;
            while (left >= 13 && h < 8) {
                static const char *const le[] = { "0.001", "0.005", "0.01", "0.05", "0.1",
                                                  "0.5",   "1",     "5",    "10",   "50" };
                char labels[160];
                snprintf(labels, sizeof labels,
                         "pod=\"p%d\",device=\"cuda:%d\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"", tn, h);
                unsigned long c = 0;
                for (int k = 0; k < 10; k++) {
                    c += (unsigned long)(k + h + tn);
                    P("lmcache_mp_bench_latency_%d_seconds_bucket{%s,le=\"%s\"} %lu\n", fam, labels, le[k], c);
                }
                P("lmcache_mp_bench_latency_%d_seconds_bucket{%s,le=\"+Inf\"} %lu\n", fam, labels, c);
                P("lmcache_mp_bench_latency_%d_seconds_sum{%s} %lu.25\n", fam, labels, c * 3);
                P("lmcache_mp_bench_latency_%d_seconds_count{%s} %lu\n", fam, labels, c);
                left -= 13;
                h++;
            }
        } else {
            const char *type = kind == 1 ? "gauge" : "counter";
            const char *suffix = kind == 1 ? "" : "_total";
            P("# HELP lmcache_mp_bench_%d%s Bench family %d\n# TYPE lmcache_mp_bench_%d%s %s\n", fam, suffix, fam, fam,
              suffix, type);
            for (int i = 0; i < 100 && left > 0; i++, left--)
                P("lmcache_mp_bench_%d%s{pod=\"p%d\",cache_salt=\"tenant-%d\",worker_id=\"%d\","
                  "otel_scope_name=\"lmcache.l1\"} %d.0\n",
                  fam, suffix, tn, i % 8, i, fam * 1000 + i);
        }
        fam++;
    }
#undef P
    *len = n;
    return b;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    target *t = cls;
    atomic_store(&t->req_ns, kvs_now_ns());
    struct MHD_Response *r = MHD_create_response_from_buffer(t->len, t->body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* scrape_duration_seconds of one decoded line, or -1. */
static double scrape_duration(const char *line, size_t n)
{
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc d = { 0 };
    kvs_json_error je;
    double v = -1;
    if (a && kvs_otlp_json_decode(line, n, a, &d, &je) == 0 && d.metrics)
        for (size_t r = 0; r < d.metrics->n_resource_metrics; r++)
            for (size_t s = 0; s < d.metrics->resource_metrics[r]->n_scope_metrics; s++) {
                const kvs_scope_metrics *sm = d.metrics->resource_metrics[r]->scope_metrics[s];
                for (size_t m = 0; m < sm->n_metrics; m++)
                    if (strcmp(sm->metrics[m]->name, "scrape_duration_seconds") == 0 && sm->metrics[m]->gauge &&
                        sm->metrics[m]->gauge->n_data_points)
                        v = sm->metrics[m]->gauge->data_points[0]->as_double;
            }
    kvs_arena_free(a);
    return v;
}

static void on_line(bench *b, const char *line, size_t n, uint64_t at)
{
    for (int i = 0; i < b->ntargets; i++) {
        target *t = &b->t[i];
        if (!memmem(line, n, t->needle, strlen(t->needle)))
            continue;
        if (t->seen++ == 0)
            return;   /* warm-up */
        if (t->seen > b->rounds + 1)
            return;
        b->lat[b->nlat++] = (double)(at - atomic_load(&t->req_ns)) / 1e6;
        double d = scrape_duration(line, n);
        if (d >= 0)
            b->dur[b->ndur++] = d * 1e3;
        int all = 1;
        for (int k = 0; k < b->ntargets; k++)
            all &= b->t[k].seen > b->rounds;
        if (all)
            atomic_store(&b->done, 1);
        return;
    }
}

static void *reader(void *arg)
{
    bench *b = arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len == cap) {
            char *g = realloc(buf, cap * 2);
            if (!g)
                break;
            buf = g;
            cap *= 2;
        }
        ssize_t r = read(b->fifo, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        uint64_t at = kvs_now_ns();
        size_t old = len;
        len += (size_t)r;
        char *start = buf, *nl;
        char *scan = buf + old;
        while ((nl = memchr(scan, '\n', (size_t)(buf + len - scan)))) {
            on_line(b, start, (size_t)(nl - start), at);
            start = scan = nl + 1;
        }
        len = (size_t)(buf + len - start);
        memmove(buf, start, len);
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    int targets = 3, series = 5000, rounds = 10, interval_ms = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--targets") == 0)
            targets = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--series") == 0)
            series = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--interval-ms") == 0)
            interval_ms = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_scrape [--targets N] [--series S] [--rounds R] [--interval-ms I]\n");
            return 2;
        }
    }
    if (targets < 1 || targets > MAX_TARGETS || series < 1 || rounds < 1 || interval_ms < 10) {
        fprintf(stderr, "bench_scrape: targets 1-%d, series >= 1, rounds >= 1, interval >= 10 ms\n", MAX_TARGETS);
        return 2;
    }
    kvs_log_set_level(KVS_LOG_WARN);
    static bench b;
    b.ntargets = targets;
    b.rounds = rounds;
    b.lat = calloc((size_t)(targets * rounds), sizeof *b.lat);
    b.dur = calloc((size_t)(targets * rounds), sizeof *b.dur);
    size_t body_bytes = 0;
    for (int i = 0; i < targets; i++) {
        target *t = &b.t[i];
        t->body = gen(i, series, &t->len);
        if (!t->body) {
            fprintf(stderr, "bench_scrape: out of memory\n");
            return 1;
        }
        body_bytes += t->len;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        t->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, serve, t,
                                MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
        if (!t->d) {
            fprintf(stderr, "bench_scrape: cannot start a test server\n");
            return 1;
        }
        t->port = MHD_get_daemon_info(t->d, MHD_DAEMON_INFO_BIND_PORT)->port;
        snprintf(t->needle, sizeof t->needle, "\"127.0.0.1:%d\"", t->port);
    }

    char dir[] = "/tmp/bench_scrape.XXXXXX", fifo[64];
    if (!mkdtemp(dir)) {
        perror("bench_scrape: mkdtemp");
        return 1;
    }
    snprintf(fifo, sizeof fifo, "%s/out.fifo", dir);
    if (mkfifo(fifo, 0600) != 0) {
        perror("bench_scrape: mkfifo");
        return 1;
    }
    /* the read end first (non-blocking open), then a write end of our own so
     * the reader sees no end of file before the exporter opens the FIFO */
    b.fifo = open(fifo, O_RDONLY | O_NONBLOCK);
    int keep = b.fifo >= 0 ? open(fifo, O_WRONLY) : -1;
    if (b.fifo < 0 || keep < 0) {
        perror("bench_scrape: fifo");
        return 1;
    }
    fcntl(b.fifo, F_SETFL, fcntl(b.fifo, F_GETFL) & ~O_NONBLOCK);
    pthread_t rd;
    pthread_create(&rd, NULL, reader, &b);

    size_t ylen = 4096 + (size_t)targets * 32;
    char *yaml = malloc(ylen);
    size_t n = (size_t)snprintf(yaml, ylen,
                                "receivers:\n  prometheus:\n    config:\n      scrape_configs:\n"
                                "        - job_name: bench\n          scrape_interval: %dms\n"
                                "          static_configs:\n            - targets: [",
                                interval_ms);
    for (int i = 0; i < targets; i++)
        n += (size_t)snprintf(yaml + n, ylen - n, "%s\"127.0.0.1:%d\"", i ? ", " : "", b.t[i].port);
    snprintf(yaml + n, ylen - n,
             "]\nexporters:\n  file:\n    path: \"%s\"\n    flush_interval: 0s\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
             "    metrics: {receivers: [prometheus], exporters: [file]}\n",
             fifo);
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse("bench.yaml", yaml, strlen(yaml), NULL, NULL, &err);
    kvs_engine_opts eo = { 0 };
    kvs_engine *e = cfg ? kvs_engine_create(cfg, &eo, &err) : NULL;
    if (!e || kvs_engine_start(e, &err) != 0) {
        fprintf(stderr, "bench_scrape: %s\n", err.msg);
        return 1;
    }
    uint64_t deadline = kvs_now_ns() + (uint64_t)(rounds + 2) * (uint64_t)interval_ms * KVS_MS + 20 * KVS_SEC;
    while (!atomic_load(&b.done) && kvs_now_ns() < deadline) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kvs_engine_request_stop(e);
    kvs_engine_shutdown(e);   /* the exporter closes the FIFO; with ours closed the reader sees its end */
    close(keep);
    pthread_join(rd, NULL);
    const kvs_telemetry *const *tel;
    size_t nt = kvs_engine_telemetry(e, &tel);
    uint64_t points = 0;
    for (size_t i = 0; i < nt; i++)
        if (strcmp(tel[i]->kind, "receiver") == 0)
            points += kvs_tel_get(&tel[i]->accepted);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    for (int i = 0; i < targets; i++) {
        MHD_stop_daemon(b.t[i].d);
        free(b.t[i].body);
    }
    close(b.fifo);
    unlink(fifo);
    rmdir(dir);
    free(yaml);

    size_t nl = b.nlat, nd = b.ndur;
    double lat50 = pct(b.lat, nl, 0.5), lat90 = pct(b.lat, nl, 0.9), latmax = nl ? b.lat[nl - 1] : 0;
    double d50 = pct(b.dur, nd, 0.5), dmax = nd ? b.dur[nd - 1] : 0;
    printf("bench_scrape: targets=%d series=%d rounds=%d interval_ms=%d exposition_bytes=%zu scrapes=%zu "
           "points_delivered=%llu latency_ms_p50=%.2f latency_ms_p90=%.2f latency_ms_max=%.2f "
           "scrape_duration_ms_p50=%.2f scrape_duration_ms_max=%.2f\n",
           targets, series, rounds, interval_ms, body_bytes / (size_t)targets, nl, (unsigned long long)points,
           lat50, lat90, latmax, d50, dmax);
    free(b.lat);
    free(b.dur);
    return nl == (size_t)(targets * rounds) ? 0 : 1;
}
