/* Tests for the `prometheus` receiver against an in-test libmicrohttpd
 * server on 127.0.0.1 (a thread per connection, so a hanging endpoint
 * holds only its own connection): the LMCache MP and vLLM fixtures, an
 * endpoint that hangs longer than scrape_timeout, a 500, garbage, a port
 * that refuses, a sample_limit, bearer token + headers + params. The
 * engine is built in-process from YAML with a file exporter; the test reads
 * the OTLP/JSON lines back. Checks: healthy samples arrive within one
 * interval while the hanging scrape is in flight; up / scrape_* series per
 * target; the failure reasons in the log; honor_labels and static labels;
 * the job_name naming the service whatever target_info says;
 * scrape_series_added over two scrapes; shutdown within a second with a
 * scrape in flight; configuration errors with their positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/engine.h"
#include "formats/otlp_json.h"
#include "unit_helpers.h"

#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_WANT "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

static char tmpdir[256];

/* ---- the test server ---- */

typedef struct server {
    struct MHD_Daemon *d;
    int port;
    atomic_int stop;
    char *lmcache, *vllm;
    size_t lmcache_n, vllm_n;
    char accept_seen[256];
    atomic_int lmcache_hits;
} server;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, size_t n)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    server *s = cls;
    if (strcmp(url, "/lmcache") == 0) {
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        snprintf(s->accept_seen, sizeof s->accept_seen, "%s", acc ? acc : "");
        atomic_fetch_add(&s->lmcache_hits, 1);
        return reply(c, 200, s->lmcache, s->lmcache_n);
    }
    if (strcmp(url, "/vllm") == 0)
        return reply(c, 200, s->vllm, s->vllm_n);
    if (strcmp(url, "/hang") == 0) {
        for (int i = 0; i < 150 && !atomic_load(&s->stop); i++) {   /* at most 3 s */
            struct timespec ts = { 0, 20 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        return reply(c, 200, "late 1\n", 7);
    }
    if (strcmp(url, "/503") == 0)
        return reply(c, 503, "", 0);
    if (strcmp(url, "/500") == 0)
        return reply(c, 500, "internal error: database locked\n", 32);
    if (strcmp(url, "/garbage") == 0) {
        const char *g = "<html><body>\nthis is not { a metrics page\n</body></html>\n";
        return reply(c, 200, g, strlen(g));
    }
    if (strcmp(url, "/tinfo") == 0) {   /* an OTel SDK's target_info, naming itself */
        const char *b = "# TYPE target_info gauge\n"
                        "target_info{job=\"lmcache-mp-server\",instance=\"x\",service_name=\"lmcache-mp-server\","
                        "service_instance_id=\"mp-0a1b2c3d\",version=\"0.3\"} 1\n"
                        "# TYPE hits_total counter\n"
                        "hits_total{tenant=\"a\"} 5\n";
        return reply(c, 200, b, strlen(b));
    }
    if (strcmp(url, "/labels") == 0) {
        const char *b = "# TYPE foo gauge\nfoo{job=\"exposed\",env=\"dev\"} 7\n";
        return reply(c, 200, b, strlen(b));
    }
    if (strcmp(url, "/auth") == 0) {
        const char *az = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *tn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Tenant");
        const char *mod = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "module");
        if (!az || strcmp(az, "Bearer s3cret") != 0)
            return reply(c, 401, "no\n", 3);
        if (!tn || strcmp(tn, "team-a") != 0 || !mod || strcmp(mod, "kv cache") != 0)
            return reply(c, 400, "bad request\n", 12);
        return reply(c, 200, "authed_metric 1\n", 16);
    }
    return reply(c, 404, "not found\n", 10);
}

static void server_start(server *s)
{
    memset(s, 0, sizeof *s);
    s->lmcache = slurp(src("fixtures/prom/lmcache_mp.prom"), &s->lmcache_n);
    s->vllm = slurp(src("fixtures/prom/vllm_embedded_lmcache.prom"), &s->vllm_n);
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, NULL,
                            NULL, handler, s, MHD_OPTION_SOCK_ADDR,
                            &(struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
                            MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di->port;
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, 1);
    MHD_stop_daemon(s->d);
    free(s->lmcache);
    free(s->vllm);
}

static int refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);   /* bound once, nothing listens now: connect is refused */
    return ntohs(a.sin_port);
}

/* ---- reading the exporter's output ---- */

typedef struct obs {
    char svc[96], inst[96], metric[128], attrs[256], res[512];   /* res: the resource's attributes */
    double v;
} obs;

typedef struct obs_list {
    obs *v;
    size_t n;
} obs_list;

static const char *kv_str(kvs_kv *const *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0 &&
            kv[i]->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return kv[i]->value->string_value;
    return "";
}

/* "k=v;" for every attribute, in order, into out. */
static void attrs_text(char *out, size_t cap, kvs_kv *const *a, size_t na)
{
    out[0] = 0;
    for (size_t i = 0; i < na; i++) {
        size_t k = strlen(out);
        snprintf(out + k, cap - k, "%s=%s;", a[i]->key,
                 a[i]->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
                     ? a[i]->value->string_value
                     : "?");
    }
}

static void push_obs(obs_list *l, const kvs_resource *r, const kvs_metric *m, kvs_kv *const *a, size_t na, double v)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    obs *o = &l->v[l->n++];
    snprintf(o->svc, sizeof o->svc, "%s", kv_str(r->attributes, r->n_attributes, "service.name"));
    snprintf(o->inst, sizeof o->inst, "%s", kv_str(r->attributes, r->n_attributes, "service.instance.id"));
    snprintf(o->metric, sizeof o->metric, "%s", m->name);
    attrs_text(o->attrs, sizeof o->attrs, a, na);
    attrs_text(o->res, sizeof o->res, r->attributes, r->n_attributes);
    o->v = v;
}

/* Every number point (and histogram count) of the file, in file order. */
static obs_list read_output(const char *path)
{
    obs_list l = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return l;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break;   /* a line still being written */
        kvs_arena *a = kvs_arena_new();
        kvs_otlp_doc d = { 0 };
        kvs_json_error je;
        if (kvs_otlp_json_decode(line, (size_t)n, a, &d, &je) == 0 && d.metrics) {
            for (size_t r = 0; r < d.metrics->n_resource_metrics; r++) {
                const kvs_resource_metrics *rm = d.metrics->resource_metrics[r];
                for (size_t s = 0; s < rm->n_scope_metrics; s++)
                    for (size_t m = 0; m < rm->scope_metrics[s]->n_metrics; m++) {
                        const kvs_metric *M = rm->scope_metrics[s]->metrics[m];
                        int is_gauge = M->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
                        if (is_gauge || M->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM) {
                            kvs_number_point **p = is_gauge ? M->gauge->data_points : M->sum->data_points;
                            size_t np = is_gauge ? M->gauge->n_data_points : M->sum->n_data_points;
                            for (size_t i = 0; i < np; i++) {
                                int as_int = p[i]->value_case ==
                                             OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
                                push_obs(&l, rm->resource, M, p[i]->attributes, p[i]->n_attributes,
                                         as_int ? (double)p[i]->as_int : p[i]->as_double);
                            }
                        } else if (M->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM) {
                            for (size_t i = 0; i < M->histogram->n_data_points; i++)
                                push_obs(&l, rm->resource, M, M->histogram->data_points[i]->attributes,
                                         M->histogram->data_points[i]->n_attributes,
                                         (double)M->histogram->data_points[i]->count);
                        }
                    }
            }
        }
        kvs_arena_free(a);
    }
    free(line);
    fclose(f);
    return l;
}

/* The last value of a metric of service `svc` whose attributes contain `attr` (may be NULL). */
static int last(const obs_list *l, const char *svc, const char *metric, const char *attr, double *v)
{
    int found = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].svc, svc) == 0 && strcmp(l->v[i].metric, metric) == 0 &&
            (!attr || strstr(l->v[i].attrs, attr))) {
            *v = l->v[i].v;
            found = 1;
        }
    return found;
}

static double must(const obs_list *l, const char *svc, const char *metric, const char *attr)
{
    double v = 0;
    if (!last(l, svc, metric, attr, &v))
        fail_msg("no %s for %s%s%s", metric, svc, attr ? " with " : "", attr ? attr : "");
    return v;
}

/* ---- engine helpers ---- */

typedef struct run {
    kvs_service_cfg *cfg;
    kvs_engine *e;
    uint64_t started;
} run;

static void run_start(run *r, const char *yaml)
{
    kvs_error err = { 0 };
    r->cfg = kvs_service_cfg_parse("recv.yaml", yaml, strlen(yaml), NULL, NULL, &err);
    if (!r->cfg)
        fail_msg("config: %s", err.msg);
    kvs_engine_opts o = { 0 };
    r->e = kvs_engine_create(r->cfg, &o, &err);
    if (!r->e)
        fail_msg("create: %s", err.msg);
    r->started = kvs_now_ns();
    if (kvs_engine_start(r->e, &err) != 0)
        fail_msg("start: %s", err.msg);
}

/* Shuts down; returns how long that took. */
static uint64_t run_stop(run *r)
{
    uint64_t t0 = kvs_now_ns();
    kvs_engine_request_stop(r->e);
    kvs_engine_shutdown(r->e);
    uint64_t took = kvs_now_ns() - t0;
    kvs_engine_destroy(r->e);
    kvs_service_cfg_free(r->cfg);
    return took;
}

/* stderr into a file while kvscope logs. */
static int saved_stderr = -1;

static void capture_stderr(const char *path)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static void restore_stderr(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
}

static size_t sample_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && p[0] != '#')
            n++;
        p += len + (e ? 1 : 0);
    }
    return n;
}

/* ---- tests ---- */

static void test_scrape_targets(void **state)
{
    server s;
    server_start(&s);
    int dead = refused_port();
    char out[512], logp[512], yaml[8192];
    snprintf(out, sizeof out, "%s/targets.jsonl", tmpdir);
    snprintf(logp, sizeof logp, "%s/targets.log", tmpdir);
    snprintf(yaml, sizeof yaml,
             "receivers:\n  prometheus:\n    config:\n"
             "      global: {scrape_interval: 1s, scrape_timeout: 300ms}\n"
             "      scrape_configs:\n"
             "        - {job_name: lmcache, metrics_path: /lmcache, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: vllm, metrics_path: /vllm, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: hang, metrics_path: /hang, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: err, metrics_path: /500, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: unavail, metrics_path: /503, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: garbage, metrics_path: /garbage, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: refused, static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - {job_name: limited, metrics_path: /lmcache, sample_limit: 5,\n"
             "           static_configs: [{targets: [\"127.0.0.1:%d\"]}]}\n"
             "        - job_name: auth\n"
             "          metrics_path: /auth\n"
             "          params: {module: [\"kv cache\"]}\n"
             "          authorization: {credentials: s3cret}\n"
             "          headers: {X-Tenant: team-a}\n"
             "          static_configs: [{targets: [\"127.0.0.1:%d\"]}]\n"
             "exporters:\n  file:\n    path: \"%s\"\n    flush_interval: 0s\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
             "    metrics: {receivers: [prometheus], exporters: [file]}\n",
             s.port, s.port, s.port, s.port, s.port, s.port, dead, s.port, s.port, out);
    capture_stderr(logp);
    run r;
    run_start(&r, yaml);
    /* the LMCache fixture's target_info says service_name="lmcache-mp-server":
     * the job_name still names the service (identity_from_scrape) */
    static const char *const jobs[] = { "lmcache", "vllm", "hang", "err", "unavail", "garbage", "refused", "limited",
                                        "auth" };
    uint64_t healthy_at = 0;
    obs_list l = { 0 };
    int all = 0;
    for (int i = 0; i < 150 && !all; i++) {   /* at most 3 s */
        sleep_ms(20);
        free(l.v);
        l = read_output(out);
        double v;
        if (!healthy_at && last(&l, "lmcache", "lmcache_mp_l1_read_chunks", NULL, &v) &&
            last(&l, "vllm", "vllm:num_requests_running", NULL, &v))
            healthy_at = kvs_now_ns();
        all = 1;
        for (size_t j = 0; j < sizeof jobs / sizeof jobs[0]; j++)
            all &= last(&l, jobs[j], "up", NULL, &v);
    }
    uint64_t took = run_stop(&r);
    restore_stderr();
    size_t lm_lines = sample_lines(s.lmcache), vl_lines = sample_lines(s.vllm);
    char accept_seen[256];
    snprintf(accept_seen, sizeof accept_seen, "%s", s.accept_seen);
    server_stop(&s);
    assert_true(all);
    /* both healthy targets within one interval of the start, hang or not */
    assert_true(healthy_at > 0);
    assert_true(healthy_at - r.started < 1200 * KVS_MS);
    assert_true(took < KVS_SEC);

    assert_true(must(&l, "lmcache", "up", NULL) == 1);
    assert_true(must(&l, "vllm", "up", NULL) == 1);
    assert_true(must(&l, "auth", "up", NULL) == 1);
    assert_true(must(&l, "auth", "authed_metric", NULL) == 1);
    assert_true(must(&l, "hang", "up", NULL) == 0);
    assert_true(must(&l, "err", "up", NULL) == 0);
    assert_true(must(&l, "unavail", "up", NULL) == 0);
    assert_true(must(&l, "garbage", "up", NULL) == 0);
    assert_true(must(&l, "refused", "up", NULL) == 0);
    assert_true(must(&l, "limited", "up", NULL) == 0);
    double hd = must(&l, "hang", "scrape_duration_seconds", NULL);
    assert_true(hd >= 0.25 && hd < 1.0);
    assert_true(must(&l, "lmcache", "lmcache_mp_l1_read_chunks", "cache_salt=tenant-a") == 2048);
    assert_true(must(&l, "lmcache", "scrape_samples_scraped", NULL) == (double)lm_lines);
    /* every series is new in the first scrape, none in the next ones */
    int nth = 0;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].svc, "lmcache") == 0 && strcmp(l.v[i].metric, "scrape_series_added") == 0)
            assert_true(l.v[i].v == (nth++ == 0 ? (double)lm_lines : 0));
    assert_true(nth >= 1);
    assert_true(must(&l, "vllm", "scrape_samples_post_metric_relabeling", NULL) == (double)vl_lines);
    assert_true(must(&l, "vllm", "scrape_duration_seconds", NULL) < 0.3);
    double v = 0;
    assert_false(last(&l, "garbage", "this", NULL, &v));       /* a failed scrape keeps no samples */
    assert_false(last(&l, "limited", "lmcache_mp_l1_read_chunks", NULL, &v));
    char inst[64];
    snprintf(inst, sizeof inst, "127.0.0.1:%d", s.port);
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].svc, "vllm") == 0)
            assert_string_equal(l.v[i].inst, inst);
    assert_string_equal(accept_seen, ACCEPT_WANT);
    free(l.v);

    size_t n;
    char *log = slurp(logp, &n);
    static const char *const reasons[] = { "job hang) failed: timeout after 0.3s",
                                           "job err) failed: HTTP 500: internal error: database locked",
                                           "job unavail) failed: HTTP 503\n",
                                           "job refused) failed: connection refused",
                                           "lines rejected (first: line 1 column 1: ",
                                           "job limited) failed: sample_limit 5 exceeded" };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strstr(log, reasons[i]))
            fail_msg("log lacks \"%s\":\n%s", reasons[i], log);
    free(log);
}

static void test_labels_and_series_added(void **state)
{
    server s;
    server_start(&s);
    char out[512], yaml[4096];
    snprintf(out, sizeof out, "%s/labels.jsonl", tmpdir);
    snprintf(yaml, sizeof yaml,
             "receivers:\n  prometheus:\n    config:\n"
             "      scrape_configs:\n"
             "        - job_name: plain\n"
             "          scrape_interval: 200ms\n"
             "          metrics_path: /labels\n"
             "          static_configs: [{targets: [\"127.0.0.1:%d\"], labels: {env: prod, team: kv}}]\n"
             "        - job_name: honor\n"
             "          scrape_interval: 200ms\n"
             "          honor_labels: true\n"
             "          metrics_path: /labels\n"
             "          static_configs: [{targets: [\"127.0.0.1:%d\"], labels: {env: prod, team: kv, instance: "
             "web-1}}]\n"
             "exporters:\n  file:\n    path: \"%s\"\n    flush_interval: 0s\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
             "    metrics: {receivers: [prometheus], exporters: [file]}\n",
             s.port, s.port, out);
    run r;
    run_start(&r, yaml);
    obs_list l = { 0 };
    int ups_plain = 0, ups_honor = 0;
    for (int i = 0; i < 100 && (ups_plain < 3 || ups_honor < 3); i++) {   /* at most 2 s */
        sleep_ms(20);
        free(l.v);
        l = read_output(out);
        ups_plain = ups_honor = 0;
        for (size_t k = 0; k < l.n; k++) {
            ups_plain += strcmp(l.v[k].svc, "plain") == 0 && strcmp(l.v[k].metric, "up") == 0;
            ups_honor += strcmp(l.v[k].svc, "honor") == 0 && strcmp(l.v[k].metric, "up") == 0;
        }
    }
    run_stop(&r);
    server_stop(&s);
    assert_true(ups_plain >= 3 && ups_honor >= 3);
    /* honor_labels false: exposed clashing labels renamed, target labels added */
    assert_true(must(&l, "plain", "foo", "exported_job=exposed;exported_env=dev;env=prod;team=kv;") == 7);
    assert_true(must(&l, "plain", "up", "env=prod;team=kv;") == 1);
    /* honor_labels true: the exposed job and env win */
    assert_true(must(&l, "exposed", "foo", "env=dev;team=kv;") == 7);
    for (size_t k = 0; k < l.n; k++)
        if (strcmp(l.v[k].svc, "honor") == 0)
            assert_string_equal(l.v[k].inst, "web-1");   /* a static instance label replaces the address */
    /* scrape_series_added: the first scrape adds foo, the next ones nothing */
    int first = 1;
    for (size_t k = 0; k < l.n; k++)
        if (strcmp(l.v[k].svc, "plain") == 0 && strcmp(l.v[k].metric, "scrape_series_added") == 0) {
            assert_true(l.v[k].v == (first ? 1 : 0));
            first = 0;
        }
    free(l.v);
}

/* A target whose target_info names itself (job, instance, service_name,
 * service_instance_id, as an OTel SDK or the LMCache MP server exposes):
 * as in the Collector, `up` and the scraped series carry the configured
 * job_name and the target address; target_info's other labels (the
 * exposed job/instance renamed exported_*, honor_labels being false) are
 * resource attributes. */
static void test_target_info_keeps_job_name(void **state)
{
    server s;
    server_start(&s);
    char out[512], yaml[4096];
    snprintf(out, sizeof out, "%s/tinfo.jsonl", tmpdir);
    snprintf(yaml, sizeof yaml,
             "receivers:\n  prometheus:\n    config:\n"
             "      scrape_configs:\n"
             "        - job_name: kvcache\n"
             "          scrape_interval: 200ms\n"
             "          metrics_path: /tinfo\n"
             "          static_configs: [{targets: [\"127.0.0.1:%d\"]}]\n"
             "exporters:\n  file:\n    path: \"%s\"\n    flush_interval: 0s\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
             "    metrics: {receivers: [prometheus], exporters: [file]}\n",
             s.port, out);
    run r;
    run_start(&r, yaml);
    obs_list l = { 0 };
    double v;
    for (int i = 0; i < 100; i++) {   /* at most 2 s */
        sleep_ms(20);
        free(l.v);
        l = read_output(out);
        if (last(&l, "kvcache", "up", NULL, &v) && last(&l, "kvcache", "hits", NULL, &v))
            break;
    }
    run_stop(&r);
    server_stop(&s);
    char inst[64];
    snprintf(inst, sizeof inst, "127.0.0.1:%d", s.port);
    assert_true(must(&l, "kvcache", "up", NULL) == 1);
    assert_true(must(&l, "kvcache", "hits", "tenant=a;") == 5);
    assert_true(must(&l, "kvcache", "scrape_samples_scraped", NULL) == 2);
    assert_true(l.n > 0);
    for (size_t k = 0; k < l.n; k++) {
        assert_string_equal(l.v[k].svc, "kvcache");
        assert_string_equal(l.v[k].inst, inst);
        static const char *const want[] = { "exported_job=lmcache-mp-server;", "exported_instance=x;",
                                            "service_name=lmcache-mp-server;", "service_instance_id=mp-0a1b2c3d;",
                                            "version=0.3;" };
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
            if (!strstr(l.v[k].res, want[w]))
                fail_msg("%s: resource lacks %s: %s", l.v[k].metric, want[w], l.v[k].res);
    }
    free(l.v);
}

static void test_config_errors(void **state)
{
    static const struct { const char *recv, *want; } bad[] = {
        { "    foo: 1\n", "unknown key" },
        { "    config:\n", "`config` with `scrape_configs` is required" },
        { "    config: {scrape_configs: []}\n", "needs at least one job" },
        { "    config: {scrape_configs: [{job_name: a, scrape_intervall: 1s, static_configs: [{targets: [h:1]}]}]}\n",
          "scrape_interval" },
        { "    config: {scrape_configs: [{job_name: a, scrape_interval: 1s, scrape_timeout: 2s, "
          "static_configs: [{targets: [h:1]}]}]}\n",
          "scrape_timeout is greater than scrape_interval" },
        { "    config: {global: {scrape_interval: 1s, scrape_timeout: 5s}, scrape_configs: [{job_name: a, "
          "static_configs: [{targets: [h:1]}]}]}\n",
          "global scrape_timeout is greater" },
        { "    config: {scrape_configs: [{job_name: a, static_configs: [{targets: [\"http://h:1/metrics\"]}]}]}\n",
          "must be host:port" },
        { "    config: {scrape_configs: [{job_name: a, static_configs: [{targets: [h:1]}]}, {job_name: a, "
          "static_configs: [{targets: [h:2]}]}]}\n",
          "used twice" },
        { "    config: {scrape_configs: [{job_name: a, bearer_token: x, basic_auth: {username: u}, "
          "static_configs: [{targets: [h:1]}]}]}\n",
          "at most one of" },
        { "    config: {scrape_configs: [{job_name: a, headers: {Authorization: x}, static_configs: [{targets: "
          "[h:1]}]}]}\n",
          "set by the scraper" },
        { "    config: {scrape_configs: [{job_name: a}]}\n", "static_configs is required" },
        { "    config: {scrape_configs: [{job_name: a, scheme: ftp, static_configs: [{targets: [h:1]}]}]}\n",
          "scheme" },
        { "    config: {scrape_configs: [{job_name: a, static_configs: [{targets: [h:1], labels: {__x: y}}]}]}\n",
          "relabeling" },
        { "    config: {scrape_configs: [{job_name: a, body_size_limit: 10XB, static_configs: [{targets: "
          "[h:1]}]}]}\n",
          "is not a size" },
        { "    config: {scrape_configs: [{job_name: a, metrics_path: metrics, static_configs: [{targets: "
          "[h:1]}]}]}\n",
          "must start with /" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml,
                 "receivers:\n  prometheus:\n%s"
                 "exporters:\n  debug:\n"
                 "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
                 "    metrics: {receivers: [prometheus], exporters: [debug]}\n",
                 bad[i].recv);
        kvs_error err = { 0 };
        kvs_service_cfg *cfg = kvs_service_cfg_parse("bad.yaml", yaml, strlen(yaml), NULL, NULL, &err);
        kvs_engine *e = NULL;
        if (cfg) {
            kvs_engine_opts o = { 0 };
            e = kvs_engine_create(cfg, &o, &err);
        }
        if (e)
            fail_msg("accepted: %s", bad[i].recv);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("%s: error \"%s\" does not say \"%s\"", bad[i].recv, err.msg, bad[i].want);
        if (!strstr(err.msg, "bad.yaml:"))
            fail_msg("error without a position: %s", err.msg);
        kvs_service_cfg_free(cfg);
    }
}

static int setup(void **state) { return tmpdir_make(tmpdir, sizeof tmpdir, "kvs_promrecv"); }

static int teardown(void **state) { return tmpdir_remove(tmpdir); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_targets),
        cmocka_unit_test(test_labels_and_series_added),
        cmocka_unit_test(test_target_info_keeps_job_name),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
