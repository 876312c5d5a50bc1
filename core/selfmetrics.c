/* Self-telemetry over HTTP (see selfmetrics.h): the Prometheus text 0.0.4
 * exposition of every instance's counters, the exporters' queue gauges and
 * the process (RSS, CPU, uptime), and the libmicrohttpd server that serves
 * it and the health_check extension.
 *
 * Rendering collects samples per family first (several instances add to
 * one family) and then writes each family once with its HELP and TYPE. */
#include "core/selfmetrics.h"

#include "core/log.h"

#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the HTTP server ---- */

struct kvs_own_http {
    struct MHD_Daemon *d;
    kvs_own_http_fn fn;
    void *ctx;
    int port;
    char who[128];   /* names libmicrohttpd's messages in the log */
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)con_cls;
    kvs_own_http *s = cls;
    /* A request body (none is expected) is read and ignored. */
    if (*upload_size) {
        (void)upload;
        *upload_size = 0;
        return MHD_YES;
    }
    kvs_buf body = { 0 };
    const char *ctype = "text/plain; charset=utf-8";
    int status;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        kvs_buf_puts(&body, "method not allowed: use GET\n");
    } else {
        status = s->fn(s->ctx, url, &body, &ctype);
    }
    if (body.oom) {
        kvs_buf_free(&body);
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        ctype = "text/plain; charset=utf-8";
    }
    struct MHD_Response *r;
    if (body.len)
        r = MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        kvs_buf_free(&body);
        return MHD_NO;
    }
    if (!body.len)
        kvs_buf_free(&body);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

kvs_own_http *kvs_own_http_start(const char *who, const char *address, kvs_own_http_fn fn, void *ctx,
                                 kvs_error *err)
{
    kvs_own_http *s = calloc(1, sizeof *s);
    if (!s) {
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        return NULL;
    }
    s->fn = fn;
    s->ctx = ctx;
    snprintf(s->who, sizeof s->who, "%s", who);
    char host[256];
    int port;
    bool ipv6 = false;
    int fd = -1;
    if (kvs_hostport_parse(address, host, sizeof host, &port) != 0)
        kvs_errorf(err, KVS_E_INVALID, "%s: expected host:port, got \"%s\"", who, address);
    else if ((fd = kvs_net_listen(host, port, 64, &s->port, &ipv6, err)) < 0)
        kvs_error_prefix(err, "%s", who);
    if (fd < 0) {
        free(s);
        return NULL;
    }
    kvs_httpd_opts ho = { .log_id = s->who, .threads = 1, .max_connections = 64, .idle_timeout_s = 10 };
    s->d = kvs_httpd_start(fd, ipv6, &ho, on_request, s);
    if (!s->d) {
        free(s);
        kvs_errorf(err, KVS_E_IO, "%s: cannot start the HTTP server on %s", who, address);
        return NULL;
    }
    return s;
}

int kvs_own_http_port(const kvs_own_http *s) { return s ? s->port : 0; }

void kvs_own_http_stop(kvs_own_http *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);   /* closes the listening socket too */
    free(s);
}

/* ---- rendering ---- */

typedef struct family {
    char *name, *help;
    const char *type;
    kvs_buf samples;
} family;

typedef struct render {
    family *f;
    size_t n, cap;
    int oom;
} render;

static family *fam(render *r, const char *name, const char *type, const char *help)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].name, name) == 0)
            return &r->f[i];
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        family *g = realloc(r->f, cap * sizeof *g);
        if (!g) {
            r->oom = 1;
            return NULL;
        }
        r->f = g;
        r->cap = cap;
    }
    family *f = &r->f[r->n];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    f->help = strdup(help);
    f->type = type;
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        r->oom = 1;
        return NULL;
    }
    r->n++;
    return f;
}

/* Label values escape \, " and newline (text format 0.0.4). */
static void label(kvs_buf *b, const char *key, const char *value, int first)
{
    if (!first)
        kvs_buf_putc(b, ',');
    kvs_buf_puts(b, key);
    kvs_buf_puts(b, "=\"");
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            kvs_buf_putc(b, '\\'), kvs_buf_putc(b, *p);
        else if (*p == '\n')
            kvs_buf_puts(b, "\\n");
        else
            kvs_buf_putc(b, *p);
    }
    kvs_buf_putc(b, '"');
}

typedef struct labels {
    const char *k[3], *v[3];
    int n;
} labels;

static void sample(render *r, const char *name, const char *type, const char *help, const labels *l,
                   const char *extra_key, const char *extra_value, const char *value)
{
    family *f = fam(r, name, type, help);
    if (!f)
        return;
    kvs_buf *b = &f->samples;
    kvs_buf_puts(b, name);
    int n = 0;
    if ((l && l->n) || extra_key) {
        kvs_buf_putc(b, '{');
        for (int i = 0; l && i < l->n; i++)
            label(b, l->k[i], l->v[i], n++ == 0);
        if (extra_key)
            label(b, extra_key, extra_value, n++ == 0);
        kvs_buf_putc(b, '}');
    }
    kvs_buf_putc(b, ' ');
    kvs_buf_puts(b, value);
    kvs_buf_putc(b, '\n');
    if (b->oom)
        r->oom = 1;
}

static void counter(render *r, const char *name, const char *help, const labels *l, uint64_t v)
{
    char val[32];
    snprintf(val, sizeof val, "%" PRIu64, v);
    sample(r, name, "counter", help, l, NULL, NULL, val);
}

static void fmt_double(char *val, size_t n, double v)
{
    if (isnan(v))
        snprintf(val, n, "NaN");
    else if (isinf(v))
        snprintf(val, n, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(val, n, "%.0f", v);
    else
        snprintf(val, n, "%.15g", v);
}

static void gauge(render *r, const char *name, const char *help, const labels *l, double v)
{
    char val[48];
    fmt_double(val, sizeof val, v);
    sample(r, name, "gauge", help, l, NULL, NULL, val);
}

static const char *unit_of(unsigned sigs)
{
    switch (sigs) {
    case KVS_SIG_TRACES: return "spans";
    case KVS_SIG_METRICS: return "metric_points";
    case KVS_SIG_LOGS: return "log_records";
    default: return "items";
    }
}

/* "kvscope_<kind>_<stem>_<unit>_total" and its help. */
static void item_counter(render *r, const char *kind, const char *stem, const char *unit, const char *what,
                         const labels *l, uint64_t v)
{
    char name[160], help[300];
    snprintf(name, sizeof name, "kvscope_%s_%s_%s_total", kind, stem, unit);
    snprintf(help, sizeof help, "%s (%s).", what, unit);
    counter(r, name, help, l, v);
}

/* Drops by reason: kvscope_<kind>_dropped_<unit>_total{..., reason}. What
 * was added to `dropped` without a reason is reported as "other". */
static void drops(render *r, const char *kind, const char *unit, const labels *l, const kvs_telemetry *t)
{
    char name[160], help[300], val[32];
    snprintf(name, sizeof name, "kvscope_%s_dropped_%s_total", kind, unit);
    snprintf(help, sizeof help, "Items (%s) the %s had accepted and then lost, by reason.", unit, kind);
    uint64_t total = kvs_tel_get(&t->dropped), sum = 0;
    pthread_mutex_t *lock = (pthread_mutex_t *)&t->lock;
    pthread_mutex_lock(lock);
    for (int i = 0; i < t->nreasons; i++) {
        snprintf(val, sizeof val, "%" PRIu64, t->reasons[i].count);
        sum += t->reasons[i].count;
        sample(r, name, "counter", help, l, "reason", t->reasons[i].reason, val);
    }
    pthread_mutex_unlock(lock);
    if (total > sum) {
        snprintf(val, sizeof val, "%" PRIu64, total - sum);
        sample(r, name, "counter", help, l, "reason", "other", val);
    }
}

typedef struct gauge_ctx {
    render *r;
    const char *kind;
    const labels *l;
    kvs_selfmetrics_level level;
} gauge_ctx;

static void on_gauge(void *ctx, const char *name, const char *help, double value, unsigned flags)
{
    gauge_ctx *g = ctx;
    if ((flags & KVS_SM_DETAILED) && g->level < KVS_SELFMETRICS_DETAILED)
        return;
    char full[160];
    snprintf(full, sizeof full, "kvscope_%s_%s", g->kind, name);
    if (flags & KVS_SM_COUNTER)
        counter(g->r, full, help, g->l, value < 0 ? 0 : (uint64_t)value);
    else
        gauge(g->r, full, help, g->l, value);
}

#define HELP_ACCEPTED "Items the %s accepted and passed into the pipeline"
static const char *const help_refused = "Items the pipeline refused (retryable: the sender was told to retry later)";
static const char *const help_rejected =
    "Items rejected as malformed or invalid (permanent: invalid ids, or the pipeline said the data is bad)";

/* Receivers and connectors: what they passed down their pipelines. With
 * one signal the component's own counters, in that signal's unit; with
 * several, the engine's per-signal counts of what went down each signal's
 * pipelines, plus the rejections no signal can be told for (ids refused
 * inside a partly accepted request) as rejected_items. */
static void source_counters(render *r, const char *kind, const labels *l, const kvs_instance_info *in)
{
    const kvs_telemetry *t = in->tel;
    char what[120];
    snprintf(what, sizeof what, HELP_ACCEPTED, kind);
    unsigned out = in->out_signals ? in->out_signals : in->signals;
    if (__builtin_popcount(out) <= 1) {
        const char *unit = unit_of(out);
        item_counter(r, kind, "accepted", unit, what, l, kvs_tel_get(&t->accepted));
        item_counter(r, kind, "refused", unit, help_refused, l, kvs_tel_get(&t->refused));
        item_counter(r, kind, "rejected", unit, help_rejected, l, kvs_tel_get(&t->rejected));
        return;
    }
    uint64_t invalid = 0;
    for (int i = 0; i < KVS_NSIG; i++) {
        unsigned sig = (unsigned)kvs_signal_at(i);
        if (!(out & sig))
            continue;
        const char *unit = unit_of(sig);
        item_counter(r, kind, "accepted", unit, what, l, in->sent_ok[i]);
        item_counter(r, kind, "refused", unit, help_refused, l, in->sent_refused[i]);
        item_counter(r, kind, "rejected", unit, help_rejected, l, in->sent_invalid[i]);
        invalid += in->sent_invalid[i];
    }
    uint64_t rejected = kvs_tel_get(&t->rejected);
    item_counter(r, kind, "rejected", "items",
                 "Items rejected that no single signal can be told for (ids refused inside a partly accepted "
                 "request of a receiver wired for several signals)",
                 l, rejected > invalid ? rejected - invalid : 0);
}

static void instance_metrics(render *r, const kvs_instance_info *in, kvs_selfmetrics_level level)
{
    const kvs_telemetry *t = in->tel;
    const char *unit = unit_of(in->signals);
    const char *kind = kvs_kind_name(in->kind);
    labels l = { .n = 1 };
    l.k[0] = kind;
    l.v[0] = in->id;
    if (in->pipeline) {
        l.k[1] = "pipeline";
        l.v[1] = in->pipeline;
        l.n = 2;
    }
    switch (in->kind) {
    case KVS_RECEIVER:
    case KVS_CONNECTOR:
        source_counters(r, kind, &l, in);
        break;
    case KVS_PROCESSOR:
        item_counter(r, kind, "refused", unit, "Items the processor refused (retryable, e.g. memory_limiter)", &l,
                     kvs_tel_get(&t->refused));
        break;
    case KVS_EXPORTER:
        item_counter(r, kind, "sent", unit, "Items the exporter delivered", &l, kvs_tel_get(&t->exported));
        item_counter(r, kind, "send_failed", unit,
                     "Items the exporter failed to deliver (refused by the backend or out of retries)", &l,
                     kvs_tel_get(&t->failed));
        item_counter(r, kind, "enqueue_failed", unit,
                     "Items the exporter refused upstream because its sending queue was full", &l,
                     kvs_tel_get(&t->refused));
        break;
    case KVS_EXTENSION:
        return;
    }
    drops(r, kind, unit, &l, t);
    if (level >= KVS_SELFMETRICS_NORMAL && in->kind == KVS_RECEIVER) {
        char name[96], help[200];
        snprintf(name, sizeof name, "kvscope_%s_errors_total", kind);
        snprintf(help, sizeof help,
                 "Requests or input records the %s refused before counting items (malformed, too large, wrong "
                 "type, unauthenticated).",
                 kind);
        counter(r, name, help, &l, kvs_tel_get(&t->errors));
    }
    if (level >= KVS_SELFMETRICS_NORMAL && in->def->gauges) {
        gauge_ctx g = { r, kind, &l, level };
        in->def->gauges(in->state, on_gauge, &g);
    }
}

/* ---- the process ---- */

/* CPU seconds (user + system) and uptime from /proc/self/stat. */
static void proc_times(double *cpu, double *uptime)
{
    *cpu = 0;
    *uptime = 0;
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    if (!p)
        return;
    /* After "pid (comm)": field 3 is the state; utime is 14, stime 15,
     * starttime 22 (clock ticks since boot). */
    unsigned long long v[20] = { 0 };
    int k = 0;
    for (p++; *p && k < 20;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        v[k++] = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    long tck = sysconf(_SC_CLK_TCK);
    if (k < 20 || tck <= 0)
        return;
    *cpu = (double)(v[11] + v[12]) / (double)tck;   /* fields 14, 15 */
    double since_boot = 0;
    FILE *u = fopen("/proc/uptime", "r");
    if (u) {
        if (fscanf(u, "%lf", &since_boot) != 1)
            since_boot = 0;
        fclose(u);
    }
    double start = (double)v[19] / (double)tck;      /* field 22 */
    *uptime = since_boot > start ? since_boot - start : 0;
}

int kvs_selfmetrics_render(const kvs_engine *e, kvs_selfmetrics_level level, kvs_buf *out)
{
    render r = { 0 };
    kvs_instance_info in;
    for (size_t i = 0; kvs_engine_instance(e, i, &in) == 0; i++)
        instance_metrics(&r, &in, level);
    double cpu, up;
    proc_times(&cpu, &up);
    gauge(&r, "kvscope_process_resident_memory_bytes", "Resident set size of the kvscope process, in bytes.", NULL,
          (double)kvs_proc_rss_bytes());
    char val[48];
    fmt_double(val, sizeof val, round(cpu * 100) / 100);
    sample(&r, "kvscope_process_cpu_seconds_total", "counter",
           "User and system CPU time of the kvscope process, in seconds.", NULL, NULL, NULL, val);
    gauge(&r, "kvscope_process_uptime_seconds", "Seconds since the kvscope process started.", NULL,
          round(up * 100) / 100);
    sample(&r, "kvscope_build_info", "gauge", "The kvscope build: always 1, its version in the label.", NULL,
           "version", KVS_VERSION, "1");
    for (size_t i = 0; i < r.n; i++) {
        family *f = &r.f[i];
        kvs_buf_printf(out, "# HELP %s ", f->name);
        for (const char *p = f->help; *p; p++) {
            if (*p == '\\')
                kvs_buf_puts(out, "\\\\");
            else if (*p == '\n')
                kvs_buf_puts(out, "\\n");
            else
                kvs_buf_putc(out, *p);
        }
        kvs_buf_printf(out, "\n# TYPE %s %s\n", f->name, f->type);
        kvs_buf_append(out, f->samples.data, f->samples.len);
        free(f->name);
        free(f->help);
        kvs_buf_free(&f->samples);
    }
    free(r.f);
    return r.oom || out->oom ? -1 : 0;
}

/* ---- the endpoint ---- */

struct kvs_selfmetrics {
    const kvs_engine *engine;
    kvs_selfmetrics_level level;
    kvs_own_http *http;
};

static int serve(void *ctx, const char *path, kvs_buf *body, const char **ctype)
{
    kvs_selfmetrics *m = ctx;
    if (strcmp(path, "/metrics") != 0) {
        kvs_buf_puts(body, "not found: kvscope serves its metrics at /metrics\n");
        return MHD_HTTP_NOT_FOUND;
    }
    if (kvs_selfmetrics_render(m->engine, m->level, body) != 0)
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    *ctype = KVS_SELFMETRICS_CONTENT_TYPE;
    return MHD_HTTP_OK;
}

int kvs_selfmetrics_start(const kvs_engine *e, const kvs_service_cfg *cfg, int replay, kvs_selfmetrics **out,
                          kvs_error *err)
{
    static const char *const levels[] = { "none", "basic", "normal", "detailed", NULL };
    *out = NULL;
    int idx = KVS_SELFMETRICS_NORMAL;
    const kvs_cfg_node *metrics = cfg->telemetry ? kvs_cfg_get(cfg->telemetry, "metrics") : NULL;
    if (metrics && kvs_cfg_enum(metrics, "level", levels, KVS_SELFMETRICS_NORMAL, &idx, err) != 0)
        return KVS_E_INVALID;
    if (idx == KVS_SELFMETRICS_NONE)
        return 0;
    const char *address = cfg->metrics_address;
    int explicit = address != NULL;
    if (!explicit) {
        if (replay)
            return 0;
        address = KVS_SELFMETRICS_DEFAULT_ADDRESS;
    }
    kvs_selfmetrics *m = calloc(1, sizeof *m);
    if (!m)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    m->engine = e;
    m->level = (kvs_selfmetrics_level)idx;
    kvs_error e2 = { 0 };
    m->http = kvs_own_http_start("service.telemetry.metrics", address, serve, m, &e2);
    if (!m->http) {
        free(m);
        if (explicit) {
            if (err)
                *err = e2;
            return e2.code ? e2.code : KVS_E_IO;
        }
        KVS_WARN("telemetry",
                 "%s; running without self-metrics (set service.telemetry.metrics.address, or level: none)",
                 e2.msg);
        return 0;
    }
    KVS_INFO("telemetry", "self-metrics at http://%s/metrics (port %d)", address, kvs_own_http_port(m->http));
    *out = m;
    return 0;
}

void kvs_selfmetrics_stop(kvs_selfmetrics *m)
{
    if (!m)
        return;
    kvs_own_http_stop(m->http);
    free(m);
}

void kvs_queue_stats_emit(const kvs_queue_stats *s, kvs_gauge_fn emit, void *ctx)
{
    emit(ctx, "queue_size", "Requests (batches) waiting in the exporter's sending queue.", (double)s->size,
         KVS_SM_GAUGE);
    emit(ctx, "queue_capacity", "Requests (batches) the exporter's sending queue holds (0: queue disabled).",
         (double)s->capacity, KVS_SM_GAUGE);
    emit(ctx, "queue_size_bytes", "Bytes of memory the requests waiting in the sending queue hold.",
         (double)s->bytes, KVS_SM_DETAILED);
    emit(ctx, "queue_capacity_bytes", "Bound on queue_size_bytes (sending_queue.max_size_mib; 0: none).",
         (double)s->bytes_capacity, KVS_SM_DETAILED);
    emit(ctx, "in_flight_requests", "Requests being sent or waiting for a retry.", (double)s->in_flight,
         KVS_SM_DETAILED);
}
