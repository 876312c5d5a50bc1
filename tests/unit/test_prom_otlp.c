/* Tests for Prometheus -> OTLP conversion (formats/prom_otlp.h): the type
 * mapping table, histogram bucket de-accumulation, summary quantiles,
 * gauge histograms, info/stateset, target_info -> resource, job/instance
 * fallback, the scrape's job/instance naming the service
 * (identity_from_scrape), scopes from otel_scope_name, start times from _created and
 * from the series state (counter reset across scrapes), exemplars, and a
 * protobuf round trip of every fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/error.h"
#include "formats/prom_otlp.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 UINT64_C(1748000000000000000)

static kvs_metrics_req *conv(kvs_arena *a, const char *text, kvs_prom_mode mode, const kvs_prom_conv_options *o,
                             kvs_prom_conv_stats *cs)
{
    kvs_prom_options po = {.mode = mode};
    kvs_prom_conv_options def = {.scrape_time_ns = T0};
    kvs_metrics_req *req = NULL;
    kvs_error err = {0};
    kvs_prom_stats ps;
    int r = kvs_prom_to_otlp(text, strlen(text), &po, o ? o : &def, a, &req, NULL, NULL, &ps, cs, &err);
    if (r)
        fail_msg("conversion failed: %s", err.msg);
    assert_non_null(req);
    return req;
}

static const char *attr(kvs_kv *const *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0)
            return kv[i]->value->string_value;
    return NULL;
}

static kvs_metric *metric(const kvs_metrics_req *req, const char *name)
{
    for (size_t r = 0; r < req->n_resource_metrics; r++)
        for (size_t s = 0; s < req->resource_metrics[r]->n_scope_metrics; s++) {
            kvs_scope_metrics *sm = req->resource_metrics[r]->scope_metrics[s];
            for (size_t m = 0; m < sm->n_metrics; m++)
                if (strcmp(sm->metrics[m]->name, name) == 0)
                    return sm->metrics[m];
        }
    fail_msg("metric %s not found", name);
    return NULL;
}

static bool has_metric(const kvs_metrics_req *req, const char *name)
{
    for (size_t r = 0; r < req->n_resource_metrics; r++)
        for (size_t s = 0; s < req->resource_metrics[r]->n_scope_metrics; s++) {
            kvs_scope_metrics *sm = req->resource_metrics[r]->scope_metrics[s];
            for (size_t m = 0; m < sm->n_metrics; m++)
                if (strcmp(sm->metrics[m]->name, name) == 0)
                    return true;
        }
    return false;
}

static kvs_number_point *num_point(kvs_metric *m, const char *key, const char *val)
{
    size_t n = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM ? m->sum->n_data_points
                                                                                  : m->gauge->n_data_points;
    kvs_number_point **p = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM ? m->sum->data_points
                                                                                              : m->gauge->data_points;
    for (size_t i = 0; i < n; i++) {
        const char *v = key ? attr(p[i]->attributes, p[i]->n_attributes, key) : "";
        if (v && strcmp(v, val) == 0)
            return p[i];
    }
    fail_msg("no point %s=%s in %s", key, val, m->name);
    return NULL;
}

static const char *meta_type(const kvs_metric *m) { return attr(m->metadata, m->n_metadata, "prometheus.type"); }

/* ---- the mapping table ---- */

static void test_counter_gauge_untyped(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_conv_stats cs;
    kvs_metrics_req *req = conv(a,
                                "# HELP req_total Requests served.\n"
                                "# TYPE req_total counter\n"
                                "req_total{code=\"200\"} 1027\n"
                                "req_total{code=\"500\"} 3 1747999999000\n"
                                "# TYPE temp gauge\n"
                                "temp{room=\"a\"} -2.5\n"
                                "plain_thing 7\n"
                                "# TYPE w counter\n"
                                "w 5\n",
                                KVS_PROM_MODE_PROMETHEUS, NULL, &cs);
    kvs_metric *m = metric(req, "req");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_true(m->sum->is_monotonic);
    assert_int_equal(m->sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    assert_string_equal(m->description, "Requests served.");
    assert_string_equal(meta_type(m), "counter");
    assert_int_equal(m->sum->n_data_points, 2);
    kvs_number_point *p = num_point(m, "code", "200");
    assert_true(p->as_double == 1027);
    assert_int_equal(p->time_unix_nano, T0);
    assert_int_equal(p->start_time_unix_nano, T0); /* no state, no _created: the point's time */
    p = num_point(m, "code", "500");
    assert_int_equal(p->time_unix_nano, UINT64_C(1747999999000) * 1000000);
    m = metric(req, "temp");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_true(num_point(m, "room", "a")->as_double == -2.5);
    assert_int_equal(num_point(m, "room", "a")->start_time_unix_nano, 0);
    m = metric(req, "plain_thing");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_string_equal(meta_type(m), "untyped");
    m = metric(req, "w"); /* a counter without _total keeps its name */
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_int_equal(cs.metrics, 4);
    assert_int_equal(cs.points, 5);
    kvs_arena_free(a);
}

static void test_histogram_deaccumulation(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_conv_stats cs;
    /* _sum first, buckets out of order, a repeated bound, two series interleaved */
    kvs_metrics_req *req = conv(a,
                                "# HELP lat Latency.\n"
                                "# TYPE lat histogram\n"
                                "lat_sum{m=\"a\"} 21.75\n"
                                "lat_bucket{m=\"a\",le=\"1.0\"} 4\n"
                                "lat_bucket{m=\"b\",le=\"+Inf\"} 2\n"
                                "lat_bucket{m=\"a\",le=\"0.5\"} 1\n"
                                "lat_bucket{m=\"a\",le=\"+Inf\"} 10\n"
                                "lat_bucket{m=\"a\",le=\"5\"} 9\n"
                                "lat_bucket{m=\"b\",le=\"1\"} 2\n"
                                "lat_count{m=\"a\"} 10\n"
                                "lat_count{m=\"b\"} 2\n"
                                /* no +Inf: the count closes it */
                                "# TYPE nb histogram\n"
                                "nb_bucket{le=\"1\"} 3\n"
                                "nb_bucket{le=\"2\"} 5\n"
                                "nb_count 6\n"
                                /* decreasing buckets: dropped, counted */
                                "# TYPE bad histogram\n"
                                "bad_bucket{le=\"1\"} 5\n"
                                "bad_bucket{le=\"2\"} 4\n"
                                "bad_bucket{le=\"+Inf\"} 6\n"
                                /* no buckets at all */
                                "# TYPE cs histogram\n"
                                "cs_count 4\n"
                                "cs_sum 2\n"
                                "# TYPE nole histogram\n"
                                "nole_bucket 3\n"
                                "nole_count 3\n",
                                KVS_PROM_MODE_PROMETHEUS, NULL, &cs);
    kvs_metric *m = metric(req, "lat");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    assert_int_equal(m->histogram->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    assert_int_equal(m->histogram->n_data_points, 2);
    kvs_histogram_point *p = m->histogram->data_points[0];
    assert_string_equal(attr(p->attributes, p->n_attributes, "m"), "a");
    assert_null(attr(p->attributes, p->n_attributes, "le"));
    assert_int_equal(p->n_explicit_bounds, 3);
    assert_true(p->explicit_bounds[0] == 0.5 && p->explicit_bounds[1] == 1.0 && p->explicit_bounds[2] == 5.0);
    assert_int_equal(p->n_bucket_counts, 4);
    assert_int_equal(p->bucket_counts[0], 1);
    assert_int_equal(p->bucket_counts[1], 3);
    assert_int_equal(p->bucket_counts[2], 5);
    assert_int_equal(p->bucket_counts[3], 1);
    assert_int_equal(p->count, 10);
    assert_int_equal(p->_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_true(p->sum == 21.75);
    p = m->histogram->data_points[1];
    assert_int_equal(p->count, 2);
    assert_int_equal(p->n_bucket_counts, 2);
    assert_int_equal(p->bucket_counts[0], 2);
    assert_int_equal(p->bucket_counts[1], 0);
    assert_int_equal(p->_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET);

    p = metric(req, "nb")->histogram->data_points[0];
    assert_int_equal(p->count, 6);
    assert_int_equal(p->n_bucket_counts, 3);
    assert_int_equal(p->bucket_counts[0], 3);
    assert_int_equal(p->bucket_counts[1], 2);
    assert_int_equal(p->bucket_counts[2], 1);

    assert_int_equal(metric(req, "bad")->histogram->n_data_points, 0);
    assert_int_equal(cs.bad_buckets, 1);

    p = metric(req, "cs")->histogram->data_points[0];
    assert_int_equal(p->count, 4);
    assert_int_equal(p->n_bucket_counts, 0);
    assert_true(p->sum == 2);

    /* the lenient parser passes a bucket without le on; the conversion skips it */
    assert_int_equal(cs.bad_le, 1);
    assert_int_equal(metric(req, "nole")->histogram->data_points[0]->count, 3);
    kvs_arena_free(a);
}

static void test_bucket_without_le_counted(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_conv_stats cs;
    kvs_metrics_req *req = conv(a, "# TYPE h histogram\nh_bucket 3\nh_bucket{le=\"x\"} 3\nh_count 3\n",
                                KVS_PROM_MODE_PROMETHEUS, NULL, &cs);
    assert_int_equal(cs.bad_le, 2);
    assert_int_equal(metric(req, "h")->histogram->data_points[0]->count, 3);
    kvs_arena_free(a);
}

static void test_summary_gaugehistogram_info_stateset(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_conv_stats cs;
    size_t n;
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/prom/openmetrics_sample.txt", getenv("KVS_SOURCE_DIR") ? getenv("KVS_SOURCE_DIR") : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    assert_true(n > 0);
    kvs_metrics_req *req = conv(a, text, KVS_PROM_MODE_OPENMETRICS, NULL, &cs);
    free(text);

    kvs_metric *m = metric(req, "lmcache_blend_lookup_duration_milliseconds");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    assert_string_equal(m->unit, "milliseconds");
    kvs_summary_point *sp = m->summary->data_points[0];
    assert_int_equal(sp->count, 300);
    assert_true(sp->sum == 610.5);
    assert_int_equal(sp->n_quantile_values, 2);
    assert_true(sp->quantile_values[0]->quantile == 0.5 && sp->quantile_values[0]->value == 1.5);
    assert_true(sp->quantile_values[1]->quantile == 0.99 && sp->quantile_values[1]->value == 12.0);
    assert_int_equal(sp->n_attributes, 0);
    assert_int_equal(sp->start_time_unix_nano, UINT64_C(1747900000) * 1000000000);

    m = metric(req, "lmcache_mp_inflight_chunks");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    assert_string_equal(meta_type(m), "gaugehistogram");
    kvs_histogram_point *hp = m->histogram->data_points[0];
    assert_int_equal(hp->count, 6);
    assert_true(hp->sum == 21.0);
    assert_int_equal(hp->start_time_unix_nano, 0);
    assert_int_equal(hp->bucket_counts[0], 3);
    assert_int_equal(hp->bucket_counts[1], 2);
    assert_int_equal(hp->bucket_counts[2], 1);

    m = metric(req, "lmcache_build_info");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_string_equal(meta_type(m), "info");
    assert_string_equal(m->description, "LMCache build information.");
    kvs_number_point *np = num_point(m, "version", "0.3.9");
    assert_true(np->as_double == 1);
    assert_string_equal(attr(np->attributes, np->n_attributes, "mode"), "mp");

    m = metric(req, "lmcache_l2_backend");
    assert_string_equal(meta_type(m), "stateset");
    assert_int_equal(m->gauge->n_data_points, 2);
    assert_true(num_point(m, "lmcache_l2_backend", "fs")->as_double == 1);
    assert_true(num_point(m, "lmcache_l2_backend", "redis")->as_double == 0);

    m = metric(req, "lmcache_mp_event_bus_queue_depth");
    assert_string_equal(meta_type(m), "unknown");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);

    /* counter with _created, unit, exemplar with trace and span ids */
    m = metric(req, "lmcache_mp_l1_read_chunks");
    assert_string_equal(m->unit, "chunks");
    np = num_point(m, "cache_salt", "tenant-a");
    assert_true(np->as_double == 2048);
    assert_int_equal(np->time_unix_nano, UINT64_C(1747900300250000000));
    assert_int_equal(np->start_time_unix_nano, UINT64_C(1747900000125000000));
    assert_int_equal(np->n_exemplars, 1);
    kvs_exemplar *ex = np->exemplars[0];
    assert_true(ex->as_double == 8.0);
    assert_int_equal(ex->time_unix_nano, UINT64_C(1747900299500000000));
    static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                    0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    assert_int_equal(ex->trace_id.len, 16);
    assert_memory_equal(ex->trace_id.data, tid, 16);
    assert_int_equal(ex->span_id.len, 8);
    assert_memory_equal(ex->span_id.data, sid, 8);
    assert_int_equal(ex->n_filtered_attributes, 0);

    /* histogram exemplar on a bucket, start time from _created */
    m = metric(req, "lmcache_mp_l2_load_throughput_GB_per_second");
    hp = m->histogram->data_points[0];
    assert_int_equal(hp->n_exemplars, 1);
    assert_int_equal(hp->exemplars[0]->trace_id.len, 16);
    assert_int_equal(hp->exemplars[0]->span_id.len, 0);
    assert_int_equal(hp->start_time_unix_nano, UINT64_C(1747900000500000000));
    assert_int_equal(cs.dropped_points, 0);
    kvs_arena_free(a);
}

static void test_exemplar_invalid_ids_kept_as_attributes(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_metrics_req *req = conv(a,
                                "# TYPE c counter\n"
                                "c_total 1 # {trace_id=\"KOO5S4vxi0o\",span_id=\"0000000000000000\",user=\"x\"} 1\n"
                                "# EOF\n",
                                KVS_PROM_MODE_OPENMETRICS, NULL, NULL);
    kvs_exemplar *ex = metric(req, "c")->sum->data_points[0]->exemplars[0];
    assert_int_equal(ex->trace_id.len, 0);
    assert_int_equal(ex->span_id.len, 0);
    assert_int_equal(ex->n_filtered_attributes, 3);
    assert_string_equal(attr(ex->filtered_attributes, 3, "trace_id"), "KOO5S4vxi0o");
    assert_int_equal(ex->time_unix_nano, T0);
    kvs_arena_free(a);
}

/* ---- resource and scope ---- */

static char *fixture(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", getenv("KVS_SOURCE_DIR") ? getenv("KVS_SOURCE_DIR") : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *t = calloc(1, 1 << 20);
    assert_non_null(t);
    size_t n = fread(t, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    return t;
}

static void test_target_info_resource_and_scopes(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    char *text = fixture("fixtures/prom/lmcache_mp.prom");
    kvs_prom_conv_options o = {.scrape_time_ns = T0, .job = "lmcache", .instance = "10.0.0.5:8080"};
    kvs_prom_conv_stats cs;
    kvs_metrics_req *req = conv(a, text, KVS_PROM_MODE_AUTO, &o, &cs);
    free(text);
    assert_int_equal(req->n_resource_metrics, 1);
    kvs_resource *r = req->resource_metrics[0]->resource;
    /* target_info wins: the MP server's own instance id, dotted again */
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "mp-0a1b2c3d");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "lmcache-mp-server");
    assert_string_equal(attr(r->attributes, r->n_attributes, "telemetry.sdk.language"), "python");
    assert_null(attr(r->attributes, r->n_attributes, "service_instance_id"));
    assert_false(has_metric(req, "target_info"));
    /* scopes from otel_scope_name, removed from the points */
    kvs_resource_metrics *rm = req->resource_metrics[0];
    bool l1 = false, perf = false;
    for (size_t i = 0; i < rm->n_scope_metrics; i++) {
        l1 |= strcmp(rm->scope_metrics[i]->scope->name, "lmcache.l1") == 0;
        perf |= strcmp(rm->scope_metrics[i]->scope->name, "lmcache_mp.perf") == 0;
    }
    assert_true(l1 && perf);
    kvs_metric *m = metric(req, "lmcache_mp_l1_read_chunks");
    kvs_number_point *p = num_point(m, "cache_salt", "tenant-a");
    assert_true(p->as_double == 2048);
    assert_int_equal(p->n_attributes, 1);
    assert_string_equal(m->description, "Number of chunks read from L1");
    /* the double-suffixed histogram keeps its Prometheus name */
    m = metric(req, "lmcache_mp_l0_l1_load_throughput_gbs_GB_per_second");
    kvs_histogram_point *hp = m->histogram->data_points[0];
    assert_int_equal(hp->count, 128);
    assert_int_equal(hp->n_explicit_bounds, 15);
    assert_int_equal(hp->bucket_counts[1], 40);
    assert_int_equal(hp->bucket_counts[2], 88);
    assert_int_equal(hp->n_attributes, 3);
    /* the gauge with _total in its OTel name is a counter here: Sum */
    m = metric(req, "lmcache_mp_event_bus_dropped_events");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    kvs_arena_free(a);
}

static void test_job_instance_fallback(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_conv_options o = {.scrape_time_ns = T0, .job = "vllm", .instance = "host:8000"};
    kvs_metrics_req *req = conv(a, "up 1\n", KVS_PROM_MODE_AUTO, &o, NULL);
    kvs_resource *r = req->resource_metrics[0]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "vllm");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "host:8000");
    /* job/instance labels on samples (federation) give one resource each */
    req = conv(a,
               "# TYPE x gauge\n"
               "x{job=\"a\",instance=\"h1:1\",k=\"v\"} 1\n"
               "x{job=\"b\",instance=\"h2:1\",k=\"v\"} 2\n"
               "target_info{job=\"b\",instance=\"h2:1\",service_instance_id=\"sid-b\"} 1\n",
               KVS_PROM_MODE_AUTO, NULL, NULL);
    assert_int_equal(req->n_resource_metrics, 2);
    r = req->resource_metrics[0]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "a");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "h1:1");
    kvs_number_point *p = req->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->data_points[0];
    assert_int_equal(p->n_attributes, 1); /* job and instance went to the resource */
    r = req->resource_metrics[1]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "b");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "sid-b");
    /* nothing at all: an empty resource, the default scope */
    req = conv(a, "up 1\n", KVS_PROM_MODE_AUTO, NULL, NULL);
    assert_int_equal(req->resource_metrics[0]->resource->n_attributes, 0);
    assert_string_equal(req->resource_metrics[0]->scope_metrics[0]->scope->name, "kvscope/prometheus");
    kvs_arena_free(a);
}

/* identity_from_scrape (set by the live `prometheus` receiver): the
 * scrape's job/instance name the service, as in the Collector; target_info
 * still gives every other resource attribute. Without it (saved scrapes)
 * target_info's service_name / service_instance_id win. */
static void test_identity_from_scrape(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    /* target_info as the receiver hands it over with honor_labels false: the
     * exposed job/instance renamed exported_*; a quoted dotted name too */
    const char *body = "# TYPE target_info gauge\n"
                       "target_info{exported_job=\"lmcache-mp-server\",exported_instance=\"x\","
                       "service_name=\"lmcache-mp-server\",service_instance_id=\"mp-0a1b2c3d\","
                       "service_namespace=\"kv\",telemetry_sdk_language=\"python\",version=\"0.3\","
                       "\"service.name\"=\"dotted\"} 1\n"
                       "# TYPE hits_total counter\n"
                       "hits_total{tenant=\"a\"} 5\n";
    kvs_prom_conv_options o = {.scrape_time_ns = T0, .job = "kvcache", .instance = "10.0.0.5:9090",
                               .identity_from_scrape = true};
    kvs_metrics_req *req = conv(a, body, KVS_PROM_MODE_AUTO, &o, NULL);
    assert_int_equal(req->n_resource_metrics, 1);
    kvs_resource *r = req->resource_metrics[0]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "kvcache");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "10.0.0.5:9090");
    assert_null(attr(r->attributes, r->n_attributes, "service.namespace"));
    /* the rest of target_info: its identity under the Prometheus names */
    assert_string_equal(attr(r->attributes, r->n_attributes, "service_name"), "lmcache-mp-server");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service_instance_id"), "mp-0a1b2c3d");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service_namespace"), "kv");
    assert_string_equal(attr(r->attributes, r->n_attributes, "exported_job"), "lmcache-mp-server");
    assert_string_equal(attr(r->attributes, r->n_attributes, "exported_instance"), "x");
    assert_string_equal(attr(r->attributes, r->n_attributes, "telemetry.sdk.language"), "python");
    assert_string_equal(attr(r->attributes, r->n_attributes, "version"), "0.3");
    size_t names = 0;
    for (size_t i = 0; i < r->n_attributes; i++)
        names += strcmp(r->attributes[i]->key, "service.name") == 0;
    assert_int_equal(names, 1);
    assert_true(num_point(metric(req, "hits"), "tenant", "a")->as_double == 5);
    assert_false(has_metric(req, "target_info"));

    /* the same body without the option: target_info names the service */
    o.identity_from_scrape = false;
    req = conv(a, body, KVS_PROM_MODE_AUTO, &o, NULL);
    assert_int_equal(req->n_resource_metrics, 1);
    r = req->resource_metrics[0]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "lmcache-mp-server");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "mp-0a1b2c3d");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.namespace"), "kv");
    assert_null(attr(r->attributes, r->n_attributes, "service_name"));
    assert_string_equal(attr(r->attributes, r->n_attributes, "version"), "0.3");

    /* job/instance labels the scraper left on target_info (honor_labels
     * true: the exposed ones win, as in Prometheus) select its resource as
     * for any sample, and name it: the job label, not service_name */
    body = "# TYPE target_info gauge\n"
           "target_info{job=\"lmcache-mp-server\",instance=\"x\",service_name=\"sdk-name\","
           "service_instance_id=\"sdk-id\",version=\"0.3\"} 1\n"
           "# TYPE hits_total counter\n"
           "hits_total{job=\"lmcache-mp-server\",instance=\"x\"} 5\n"
           "# TYPE up gauge\n"
           "up 1\n";
    o.identity_from_scrape = true;
    req = conv(a, body, KVS_PROM_MODE_AUTO, &o, NULL);
    assert_int_equal(req->n_resource_metrics, 2);
    r = req->resource_metrics[0]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "lmcache-mp-server");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "x");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service_name"), "sdk-name");
    assert_string_equal(attr(r->attributes, r->n_attributes, "version"), "0.3");
    assert_string_equal(req->resource_metrics[0]->scope_metrics[0]->metrics[0]->name, "hits");
    r = req->resource_metrics[1]->resource;
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.name"), "kvcache");
    assert_string_equal(attr(r->attributes, r->n_attributes, "service.instance.id"), "10.0.0.5:9090");
    assert_null(attr(r->attributes, r->n_attributes, "version"));
    assert_string_equal(req->resource_metrics[1]->scope_metrics[0]->metrics[0]->name, "up");
    kvs_arena_free(a);
}

/* ---- start times across scrapes ---- */

static uint64_t counter_start(kvs_arena *a, const char *text, uint64_t t, kvs_prom_series_state *st, double *v,
                              size_t *resets)
{
    kvs_prom_conv_options o = {.scrape_time_ns = t, .state = st, .job = "j", .instance = "i"};
    kvs_prom_conv_stats cs;
    kvs_metrics_req *req = conv(a, text, KVS_PROM_MODE_AUTO, &o, &cs);
    kvs_number_point *p = num_point(metric(req, "c"), "k", "v");
    *v = p->as_double;
    *resets = cs.resets;
    assert_int_equal(p->time_unix_nano, t);
    return p->start_time_unix_nano;
}

static void test_counter_reset_across_scrapes(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_series_state *st = kvs_prom_series_state_new(3);
    const uint64_t s = UINT64_C(1000000000);
    double v;
    size_t resets;
    assert_int_equal(counter_start(a, "# TYPE c counter\nc_total{k=\"v\"} 100\n", T0, st, &v, &resets), T0);
    assert_int_equal(counter_start(a, "# TYPE c counter\nc_total{k=\"v\"} 150\n", T0 + 15 * s, st, &v, &resets), T0);
    assert_int_equal(resets, 0);
    /* decreased: a reset, the start moves to the previous observation */
    assert_int_equal(counter_start(a, "# TYPE c counter\nc_total{k=\"v\"} 20\n", T0 + 30 * s, st, &v, &resets),
                     T0 + 15 * s);
    assert_int_equal(resets, 1);
    assert_true(v == 20);
    assert_int_equal(counter_start(a, "# TYPE c counter\nc_total{k=\"v\"} 25\n", T0 + 45 * s, st, &v, &resets),
                     T0 + 15 * s);
    assert_int_equal(kvs_prom_series_state_count(st), 1);
    /* histogram counts reset too */
    kvs_prom_conv_options o = {.scrape_time_ns = T0, .state = st};
    kvs_metrics_req *req = conv(a, "# TYPE h histogram\nh_count 10\nh_sum 5\n", KVS_PROM_MODE_AUTO, &o, NULL);
    assert_int_equal(metric(req, "h")->histogram->data_points[0]->start_time_unix_nano, T0);
    o.scrape_time_ns = T0 + s;
    kvs_prom_conv_stats cs;
    req = conv(a, "# TYPE h histogram\nh_count 4\nh_sum 1\n", KVS_PROM_MODE_AUTO, &o, &cs);
    assert_int_equal(metric(req, "h")->histogram->data_points[0]->start_time_unix_nano, T0);
    assert_int_equal(cs.resets, 1);
    /* gone for more than 3 scrapes: forgotten, then first-seen again */
    for (int i = 0; i < 4; i++) {
        o.scrape_time_ns = T0 + (uint64_t)(10 + i) * s;
        conv(a, "other 1\n", KVS_PROM_MODE_AUTO, &o, NULL);
    }
    assert_int_equal(kvs_prom_series_state_count(st), 0);
    assert_int_equal(counter_start(a, "# TYPE c counter\nc_total{k=\"v\"} 30\n", T0 + 99 * s, st, &v, &resets),
                     T0 + 99 * s);
    kvs_prom_series_state_free(st);
    kvs_arena_free(a);
}

static void test_state_created_wins_and_many_series(void **state)
{
    (void)state;
    kvs_prom_series_state *st = kvs_prom_series_state_new(0);
    bool reset;
    kvs_prom_series_key k = {1, 2};
    assert_int_equal(kvs_prom_series_state_observe(st, k, 5, 100, 100, 0, &reset), 100);
    assert_int_equal(kvs_prom_series_state_observe(st, k, 6, 200, 200, 50, &reset), 50);
    assert_false(reset);
    /* a later creation time is a restart even if the value went up */
    assert_int_equal(kvs_prom_series_state_observe(st, k, 9, 300, 300, 250, &reset), 250);
    assert_true(reset);
    /* NaN never resets */
    assert_int_equal(kvs_prom_series_state_observe(st, k, NAN, 400, 400, 0, &reset), 250);
    assert_false(reset);
    for (uint64_t i = 0; i < 100000; i++) {
        kvs_prom_series_key ki = {i * 0x9E3779B97F4A7C15u, i};
        assert_int_equal(kvs_prom_series_state_observe(st, ki, 1, 10, 10, 0, NULL), 10);
    }
    assert_int_equal(kvs_prom_series_state_count(st), 100001);
    for (uint64_t i = 0; i < 100000; i += 7) {
        kvs_prom_series_key ki = {i * 0x9E3779B97F4A7C15u, i};
        assert_int_equal(kvs_prom_series_state_observe(st, ki, 2, 20, 20, 0, NULL), 10);
    }
    kvs_prom_series_state_free(st);
}

/* ---- _created never a point; fixtures round trip ---- */

static void test_vllm_created_and_names(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    char *text = fixture("fixtures/prom/vllm_embedded_lmcache.prom");
    kvs_prom_conv_stats cs;
    kvs_metrics_req *req = conv(a, text, KVS_PROM_MODE_AUTO, NULL, &cs);
    free(text);
    assert_false(has_metric(req, "vllm:prefix_cache_hits_created"));
    assert_false(has_metric(req, "vllm:prefix_cache_hits_total"));
    kvs_metric *m = metric(req, "vllm:prefix_cache_hits");
    kvs_number_point *p = m->sum->data_points[0];
    assert_true(p->as_double == 131072);
    assert_int_equal(p->start_time_unix_nano, UINT64_C(1747900000123000000));
    m = metric(req, "vllm:prompt_tokens_by_source");
    assert_int_equal(m->sum->n_data_points, 3);
    m = metric(req, "lmcache:time_to_retrieve");
    assert_int_equal(m->histogram->data_points[0]->start_time_unix_nano, UINT64_C(1747900000123000000));
    assert_int_equal(m->histogram->data_points[0]->count, 128);
    m = metric(req, "vllm:cache_config_info");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_int_equal(cs.orphan_created, 0);
    assert_int_equal(cs.no_value, 0);
    kvs_arena_free(a);
}

static void test_created_orphans_and_alone(void **state)
{
    (void)state;
    kvs_arena *a = kvs_arena_new();
    kvs_prom_conv_stats cs;
    kvs_metrics_req *req = conv(a,
                                "# TYPE c counter\n"
                                "c_created{k=\"lonely\"} 1.7e9\n" /* a series with only _created */
                                "c_total{k=\"v\"} 3\n"
                                "zzz_created 1.7e9\n",            /* nothing to date */
                                KVS_PROM_MODE_AUTO, NULL, &cs);
    kvs_metric *m = metric(req, "c");
    assert_int_equal(m->sum->n_data_points, 1);
    assert_int_equal(cs.no_value, 1);
    assert_int_equal(cs.orphan_created, 1);
    assert_false(has_metric(req, "zzz_created"));
    kvs_arena_free(a);
}

static void test_fixtures_pack_roundtrip(void **state)
{
    (void)state;
    static const char *const fx[] = {"fixtures/prom/lmcache_mp.prom", "fixtures/prom/vllm_embedded_lmcache.prom",
                                     "fixtures/prom/sglang.prom", "fixtures/prom/openmetrics_sample.txt"};
    for (size_t i = 0; i < 4; i++) {
        kvs_arena *a = kvs_arena_new();
        char *text = fixture(fx[i]);
        kvs_prom_conv_stats cs;
        kvs_metrics_req *req = conv(a, text, KVS_PROM_MODE_AUTO, NULL, &cs);
        free(text);
        assert_true(cs.points > 0);
        assert_int_equal(cs.dropped_points, 0);
        size_t n = protobuf_c_message_get_packed_size(&req->base);
        uint8_t *buf = malloc(n);
        assert_int_equal(protobuf_c_message_pack(&req->base, buf), n);
        kvs_metrics_req *back = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, n, buf);
        assert_non_null(back);
        assert_int_equal(back->n_resource_metrics, req->n_resource_metrics);
        protobuf_c_message_free_unpacked(&back->base, NULL);
        free(buf);
        kvs_arena_free(a);
    }
    /* the sglang histogram with _sum first */
    kvs_arena *a = kvs_arena_new();
    char *text = fixture("fixtures/prom/sglang.prom");
    kvs_metrics_req *req = conv(a, text, KVS_PROM_MODE_AUTO, NULL, NULL);
    free(text);
    kvs_histogram_point *hp = metric(req, "sglang:time_to_first_token_seconds")->histogram->data_points[0];
    assert_int_equal(hp->count, 11008);
    assert_int_equal(hp->n_bucket_counts, 8);
    assert_int_equal(hp->bucket_counts[6], 2513 - 1330);
    assert_int_equal(hp->bucket_counts[7], 11008 - 2513);
    assert_int_equal(metric(req, "sglang:cached_tokens")->sum->n_data_points, 3);
    kvs_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_untyped),
        cmocka_unit_test(test_histogram_deaccumulation),
        cmocka_unit_test(test_bucket_without_le_counted),
        cmocka_unit_test(test_summary_gaugehistogram_info_stateset),
        cmocka_unit_test(test_exemplar_invalid_ids_kept_as_attributes),
        cmocka_unit_test(test_target_info_resource_and_scopes),
        cmocka_unit_test(test_job_instance_fallback),
        cmocka_unit_test(test_identity_from_scrape),
        cmocka_unit_test(test_counter_reset_across_scrapes),
        cmocka_unit_test(test_state_created_wins_and_many_series),
        cmocka_unit_test(test_vllm_created_and_names),
        cmocka_unit_test(test_created_orphans_and_alone),
        cmocka_unit_test(test_fixtures_pack_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
