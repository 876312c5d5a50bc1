/* Tests for the `prometheus` exporter: the OTel -> Prometheus naming table
 * (dots, units, _total, _ratio, namespace, label names), rendering of
 * gauges, counters, histograms (re-accumulated buckets) and summaries,
 * target_info and job/instance, constant labels, resource_to_telemetry,
 * label collisions, send_timestamps, expiration with an injected clock,
 * delta -> cumulative for sums and histograms, out-of-order and staleness,
 * type conflicts; then the component over HTTP (promfile following the
 * LMCache fixture -> prometheus exporter on 127.0.0.1, fetched with
 * libcurl: plain and gzip, 404, 405). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/engine.h"
#include "exporters/prometheus_text.h"
#include "formats/otlp_json.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MIN (60 * KVS_SEC)

static kvs_metrics_req *decode(kvs_arena *a, const char *json)
{
    kvs_otlp_doc d = { 0 };
    kvs_json_error je;
    if (kvs_otlp_json_decode(json, strlen(json), a, &d, &je) != 0)
        fail_msg("bad test JSON at %zu: %s", je.offset, je.msg);
    assert_non_null(d.metrics);
    return d.metrics;
}

/* Adds one OTLP/JSON request to the store at `now`. */
static kvs_promx_stats add_json(kvs_promx_store *s, const char *json, uint64_t now)
{
    kvs_arena *a = kvs_arena_new();
    kvs_promx_stats st;
    kvs_promx_add(s, decode(a, json), now, &st);
    kvs_arena_free(a);
    return st;
}

/* The store's page (static buffer, NUL terminated). */
static const char *render(kvs_promx_store *s, uint64_t now)
{
    static kvs_buf b;
    kvs_buf_free(&b);
    assert_int_equal(kvs_promx_render(s, now, &b), 0);
    kvs_buf_putc(&b, 0);
    return b.data;
}

static void assert_has(const char *page, const char *line)
{
    if (!strstr(page, line))
        fail_msg("missing line\n  %s\nin page:\n%s", line, page);
}

static void assert_lacks(const char *page, const char *text)
{
    if (strstr(page, text))
        fail_msg("unexpected\n  %s\nin page:\n%s", text, page);
}

static kvs_promx_store *store(const kvs_promx_options *o)
{
    kvs_promx_options def = { .add_metric_suffixes = true, .expiration_ns = 5 * MIN };
    kvs_promx_store *s = kvs_promx_new(o ? o : &def);
    assert_non_null(s);
    return s;
}

/* A request: one resource (service svc, instance i-1), one scope, `metrics` the JSON of its metrics. */
static char *req(const char *metrics)
{
    static char b[8192];
    snprintf(b, sizeof b,
             "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
             "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
             "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":\"i-1\"}}]},"
             "\"scopeMetrics\":[{\"metrics\":[%s]}]}]}",
             metrics);
    return b;
}

/* ---- naming ---- */

static void test_naming_table(void **state)
{
    static const struct {
        const char *name, *unit;
        kvs_promx_type type;
        const char *ns;
        const char *want;
    } cases[] = {
        { "http.server.duration", "s", KVS_PROMX_HISTOGRAM, NULL, "http_server_duration_seconds" },
        { "lmcache_mp.l1_read", "chunks", KVS_PROMX_COUNTER, NULL, "lmcache_mp_l1_read_chunks_total" },
        { "lmcache_mp.l1_read", "{chunks}", KVS_PROMX_COUNTER, NULL, "lmcache_mp_l1_read_chunks_total" },
        { "lmcache_mp.l1_read_chunks", "chunks", KVS_PROMX_COUNTER, NULL, "lmcache_mp_l1_read_chunks_total" },
        { "lmcache_mp.l2_store_throughput", "GB/s", KVS_PROMX_HISTOGRAM, NULL,
          "lmcache_mp_l2_store_throughput_GB_per_second" },
        { "system.memory.usage", "By", KVS_PROMX_GAUGE, NULL, "system_memory_usage_bytes" },
        { "lmcache_mp.transfer_phase_bytes", "By", KVS_PROMX_COUNTER, NULL, "lmcache_mp_transfer_phase_bytes_total" },
        { "cpu.utilization", "1", KVS_PROMX_GAUGE, NULL, "cpu_utilization_ratio" },
        { "l1_usage_ratio", "1", KVS_PROMX_GAUGE, NULL, "l1_usage_ratio" },
        { "cpu.utilization", "1", KVS_PROMX_COUNTER, NULL, "cpu_utilization_total" },
        { "requests_total", "", KVS_PROMX_COUNTER, NULL, "requests_total" },
        { "foo.total.bar", NULL, KVS_PROMX_COUNTER, NULL, "foo_bar_total" },
        { "vllm:num_requests_running", "", KVS_PROMX_GAUGE, NULL, "vllm_num_requests_running" },
        { "e2e_latency_seconds", "s", KVS_PROMX_HISTOGRAM, NULL, "e2e_latency_seconds" },
        { "speed", "m/s", KVS_PROMX_GAUGE, NULL, "speed_meters_per_second" },
        { "rate", "{req}/s", KVS_PROMX_GAUGE, NULL, "rate_req_per_second" },
        { "size", "By{compressed}", KVS_PROMX_GAUGE, NULL, "size" },
        { "disk.io", "MiBy", KVS_PROMX_COUNTER, NULL, "disk_io_mebibytes_total" },
        { "temp", "Cel", KVS_PROMX_GAUGE, NULL, "temp_celsius" },
        { "usage", "%", KVS_PROMX_GAUGE, NULL, "usage_percent" },
        { "2xx.responses", "", KVS_PROMX_COUNTER, NULL, "_2xx_responses_total" },
        { "a..b__c", "ms", KVS_PROMX_SUMMARY, NULL, "a_b_c_milliseconds" },
        { "queue.depth", "", KVS_PROMX_GAUGE, "kvs", "kvs_queue_depth" },
        { "hits", "", KVS_PROMX_COUNTER, "kvs", "kvs_hits_total" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvs_buf b = { 0 };
        kvs_promx_metric_name(cases[i].name, cases[i].unit, cases[i].type, cases[i].ns, true, &b);
        kvs_buf_putc(&b, 0);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("%s [%s]: got %s, want %s", cases[i].name, cases[i].unit ? cases[i].unit : "(null)", b.data,
                     cases[i].want);
        kvs_buf_free(&b);
    }
    /* without suffixes only forbidden characters go */
    static const struct { const char *name, *ns, *want; } plain[] = {
        { "lmcache_mp.l1_read", NULL, "lmcache_mp_l1_read" },
        { "vllm:num_requests", NULL, "vllm:num_requests" },
        { "2xx", NULL, "_2xx" },
        { "q.depth", "kvs", "kvs_q_depth" },
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        kvs_buf b = { 0 };
        kvs_promx_metric_name(plain[i].name, "s", KVS_PROMX_COUNTER, plain[i].ns, false, &b);
        kvs_buf_putc(&b, 0);
        assert_string_equal(b.data, plain[i].want);
        kvs_buf_free(&b);
    }
    static const struct { const char *key, *want; } labels[] = {
        { "service.name", "service_name" }, { "0abc", "key_0abc" }, { "_foo", "key_foo" },
        { "__foo", "__foo" },               { "a-b/c", "a_b_c" },   { "caf\xc3\xa9", "caf_" },
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        kvs_buf b = { 0 };
        kvs_promx_label_name(labels[i].key, &b);
        kvs_buf_putc(&b, 0);
        assert_string_equal(b.data, labels[i].want);
        kvs_buf_free(&b);
    }
}

/* ---- rendering ---- */

static void test_gauge_counter_rendering(void **state)
{
    kvs_promx_store *s = store(NULL);
    kvs_promx_stats st = add_json(
        s,
        req("{\"name\":\"lmcache_mp.l1_read\",\"unit\":\"chunks\",\"description\":\"Chunks read\\nfrom L1\","
            "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":["
            "{\"attributes\":[{\"key\":\"cache_salt\",\"value\":{\"stringValue\":\"a\\\"b\"}}],\"asInt\":\"18432\","
            "\"timeUnixNano\":\"1748736000000000000\"}]}},"
            "{\"name\":\"lmcache_mp.l1_usage\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":0.457,"
            "\"timeUnixNano\":\"1748736000000000000\"}]}},"
            "{\"name\":\"queue\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":false,\"dataPoints\":["
            "{\"asDouble\":-3,\"timeUnixNano\":\"1748736000000000000\"}]}}"),
        0);
    assert_int_equal(st.stored, 3);
    const char *p = render(s, 0);
    assert_has(p, "# HELP lmcache_mp_l1_read_chunks_total Chunks read\\nfrom L1\n"
                  "# TYPE lmcache_mp_l1_read_chunks_total counter\n"
                  "lmcache_mp_l1_read_chunks_total{cache_salt=\"a\\\"b\",instance=\"i-1\",job=\"svc\"} 18432\n");
    assert_has(p, "# TYPE lmcache_mp_l1_usage_ratio gauge\n"
                  "lmcache_mp_l1_usage_ratio{instance=\"i-1\",job=\"svc\"} 0.457\n");
    assert_has(p, "# HELP queue queue\n# TYPE queue gauge\nqueue{instance=\"i-1\",job=\"svc\"} -3\n");
    /* no timestamps by default; no target_info without other resource attributes */
    assert_lacks(p, " 1748736000000");
    assert_lacks(p, "target_info");
    kvs_promx_free(s);
}

static void test_histogram_summary_rendering(void **state)
{
    kvs_promx_store *s = store(NULL);
    add_json(s,
             req("{\"name\":\"lmcache_mp.retrieve\",\"unit\":\"s\",\"histogram\":{\"aggregationTemporality\":2,"
                 "\"dataPoints\":[{\"attributes\":[{\"key\":\"model\",\"value\":{\"stringValue\":\"m\"}}],"
                 "\"count\":\"10\",\"sum\":2.5,\"bucketCounts\":[\"1\",\"4\",\"0\",\"5\"],"
                 "\"explicitBounds\":[0.01,0.1,1],\"timeUnixNano\":\"1748736000000000000\"}]}},"
                 "{\"name\":\"rpc.latency\",\"unit\":\"ms\",\"summary\":{\"dataPoints\":[{\"count\":\"7\",\"sum\":70,"
                 "\"quantileValues\":[{\"quantile\":0.5,\"value\":9},{\"quantile\":0.99,\"value\":30}],"
                 "\"timeUnixNano\":\"1748736000000000000\"}]}}"),
             0);
    const char *p = render(s, 0);
    assert_has(p, "# TYPE lmcache_mp_retrieve_seconds histogram\n"
                  "lmcache_mp_retrieve_seconds_bucket{instance=\"i-1\",job=\"svc\",model=\"m\",le=\"0.01\"} 1\n"
                  "lmcache_mp_retrieve_seconds_bucket{instance=\"i-1\",job=\"svc\",model=\"m\",le=\"0.1\"} 5\n"
                  "lmcache_mp_retrieve_seconds_bucket{instance=\"i-1\",job=\"svc\",model=\"m\",le=\"1\"} 5\n"
                  "lmcache_mp_retrieve_seconds_bucket{instance=\"i-1\",job=\"svc\",model=\"m\",le=\"+Inf\"} 10\n"
                  "lmcache_mp_retrieve_seconds_sum{instance=\"i-1\",job=\"svc\",model=\"m\"} 2.5\n"
                  "lmcache_mp_retrieve_seconds_count{instance=\"i-1\",job=\"svc\",model=\"m\"} 10\n");
    assert_has(p, "# TYPE rpc_latency_milliseconds summary\n"
                  "rpc_latency_milliseconds{instance=\"i-1\",job=\"svc\",quantile=\"0.5\"} 9\n"
                  "rpc_latency_milliseconds{instance=\"i-1\",job=\"svc\",quantile=\"0.99\"} 30\n"
                  "rpc_latency_milliseconds_sum{instance=\"i-1\",job=\"svc\"} 70\n"
                  "rpc_latency_milliseconds_count{instance=\"i-1\",job=\"svc\"} 7\n");
    /* a histogram whose buckets do not add up to its count is refused */
    kvs_promx_stats st = add_json(
        s,
        req("{\"name\":\"bad\",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[{\"count\":\"3\","
            "\"bucketCounts\":[\"1\",\"1\"],\"explicitBounds\":[1],\"timeUnixNano\":\"1748736000000000000\"}]}},"
            "{\"name\":\"exp\",\"exponentialHistogram\":{\"aggregationTemporality\":2,"
            "\"dataPoints\":[{\"count\":\"1\"}]}}"),
        0);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.unsupported, 1);
    assert_lacks(render(s, 0), "bad_bucket");
    kvs_promx_free(s);
}

static void test_target_info_and_labels(void **state)
{
    kvs_promx_label cl[] = { { "region", "eu" } };
    kvs_promx_options o = { .add_metric_suffixes = true, .const_labels = cl, .nconst_labels = 1,
                            .send_timestamps = true };
    kvs_promx_store *s = store(&o);
    const char *json =
        "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"lmcache-mp\"}},"
        "{\"key\":\"service.namespace\",\"value\":{\"stringValue\":\"kv\"}},"
        "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":\"mp-0\"}},"
        "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"gpu-1\"}},"
        "{\"key\":\"gpu.count\",\"value\":{\"intValue\":\"8\"}},"
        "{\"key\":\"tags\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"intValue\":\"2\"}]}}}]},"
        "\"scopeMetrics\":[{\"scope\":{\"name\":\"lmcache.l1\",\"version\":\"1.2\"},\"metrics\":["
        "{\"name\":\"hits\",\"gauge\":{\"dataPoints\":[{\"asInt\":\"5\",\"timeUnixNano\":\"1748736000123456789\","
        "\"attributes\":[{\"key\":\"a.b\",\"value\":{\"stringValue\":\"x\"}},"
        "{\"key\":\"a_b\",\"value\":{\"stringValue\":\"y\"}},"
        "{\"key\":\"ok\",\"value\":{\"boolValue\":true}}]}]}}]}]}]}";
    add_json(s, json, 0);
    const char *p = render(s, 0);
    assert_has(p, "# HELP target_info Target metadata\n# TYPE target_info gauge\n"
                  "target_info{gpu_count=\"8\",host_name=\"gpu-1\",instance=\"mp-0\",job=\"kv/lmcache-mp\","
                  "region=\"eu\",tags=\"[\\\"a\\\",2]\"} 1");
    /* colliding a.b / a_b join in key order; scope labels; constant label; timestamp in ms */
    assert_has(p, "hits{a_b=\"x;y\",instance=\"mp-0\",job=\"kv/lmcache-mp\",ok=\"true\",otel_scope_name=\"lmcache.l1\","
                  "otel_scope_version=\"1.2\",region=\"eu\"} 5 1748736000123\n");
    kvs_promx_free(s);

    /* resource_to_telemetry: every resource attribute on every series; a
     * point attribute wins over a resource attribute of the same name */
    kvs_promx_options o2 = { .add_metric_suffixes = true, .resource_to_telemetry = true };
    s = store(&o2);
    add_json(s,
             "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
             "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
             "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h\"}}]},"
             "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"asDouble\":1,"
             "\"timeUnixNano\":\"1\",\"attributes\":[{\"key\":\"host.name\","
             "\"value\":{\"stringValue\":\"p\"}}]}]}}]}]}]}",
             0);
    p = render(s, 0);
    assert_has(p, "g{host_name=\"p\",job=\"svc\",service_name=\"svc\"} 1\n");
    assert_has(p, "target_info{host_name=\"h\",job=\"svc\"} 1\n");
    kvs_promx_free(s);
}

static void test_expiration(void **state)
{
    kvs_promx_options o = { .add_metric_suffixes = true, .expiration_ns = 5 * MIN };
    kvs_promx_store *s = store(&o);
    const char *a = "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
                    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
                    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h\"}}]},"
                    "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"old\",\"gauge\":{\"dataPoints\":["
                    "{\"asDouble\":1,\"timeUnixNano\":\"1000\"}]}}]}]}]}";
    uint64_t t0 = 1000 * KVS_SEC;
    add_json(s, a, t0);
    assert_int_equal(kvs_promx_series_count(s), 2);   /* old + target_info */
    assert_has(render(s, t0 + 4 * MIN), "old{job=\"svc\"} 1\n");
    add_json(s, req("{\"name\":\"fresh\",\"gauge\":{\"dataPoints\":[{\"asDouble\":2,\"timeUnixNano\":\"2000\"}]}}"),
             t0 + 4 * MIN);
    const char *p = render(s, t0 + 6 * MIN);
    assert_lacks(p, "old{");
    assert_lacks(p, "target_info");
    assert_has(p, "fresh{instance=\"i-1\",job=\"svc\"} 2\n");
    /* an update keeps a series alive */
    add_json(s, req("{\"name\":\"fresh\",\"gauge\":{\"dataPoints\":[{\"asDouble\":3,\"timeUnixNano\":\"3000\"}]}}"),
             t0 + 8 * MIN);
    assert_has(render(s, t0 + 12 * MIN), "fresh{instance=\"i-1\",job=\"svc\"} 3\n");
    assert_string_equal(render(s, t0 + 14 * MIN), "");
    assert_int_equal(kvs_promx_series_count(s), 0);
    kvs_promx_free(s);
}

static void test_delta_to_cumulative(void **state)
{
    kvs_promx_store *s = store(NULL);
    char m[1024];
    /* contiguous deltas add up */
    static const struct { const char *start, *end, *v; } pts[] = {
        { "100", "200", "1" }, { "200", "300", "2" }, { "300", "400", "3" },
    };
    for (size_t i = 0; i < 3; i++) {
        snprintf(m, sizeof m,
                 "{\"name\":\"tokens\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,\"dataPoints\":["
                 "{\"asInt\":\"%s\",\"startTimeUnixNano\":\"%s\",\"timeUnixNano\":\"%s\"}]}}",
                 pts[i].v, pts[i].start, pts[i].end);
        add_json(s, req(m), 0);
    }
    assert_has(render(s, 0), "tokens_total{instance=\"i-1\",job=\"svc\"} 6\n");
    /* an older point is dropped */
    kvs_promx_stats st = add_json(
        s,
        req("{\"name\":\"tokens\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,\"dataPoints\":["
            "{\"asInt\":\"50\",\"startTimeUnixNano\":\"150\",\"timeUnixNano\":\"250\"}]}}"),
        0);
    assert_int_equal(st.out_of_order, 1);
    assert_has(render(s, 0), "tokens_total{instance=\"i-1\",job=\"svc\"} 6\n");
    /* a gap restarts the series from the new delta */
    add_json(s,
             req("{\"name\":\"tokens\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,\"dataPoints\":["
                 "{\"asDouble\":0.5,\"startTimeUnixNano\":\"900\",\"timeUnixNano\":\"1000\"}]}}"),
             0);
    assert_has(render(s, 0), "tokens_total{instance=\"i-1\",job=\"svc\"} 0.5\n");
    /* delta histograms add bucket by bucket */
    for (int i = 0; i < 2; i++) {
        snprintf(m, sizeof m,
                 "{\"name\":\"lat\",\"unit\":\"s\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":["
                 "{\"count\":\"3\",\"sum\":1.5,\"bucketCounts\":[\"1\",\"2\"],\"explicitBounds\":[0.5],"
                 "\"startTimeUnixNano\":\"%d\",\"timeUnixNano\":\"%d\"}]}}",
                 100 + 100 * i, 200 + 100 * i);
        add_json(s, req(m), 0);
    }
    const char *p = render(s, 0);
    assert_has(p, "lat_seconds_bucket{instance=\"i-1\",job=\"svc\",le=\"0.5\"} 2\n"
                  "lat_seconds_bucket{instance=\"i-1\",job=\"svc\",le=\"+Inf\"} 6\n"
                  "lat_seconds_sum{instance=\"i-1\",job=\"svc\"} 3\n"
                  "lat_seconds_count{instance=\"i-1\",job=\"svc\"} 6\n");
    /* cumulative counters keep the latest value */
    for (int i = 1; i <= 2; i++) {
        snprintf(m, sizeof m,
                 "{\"name\":\"c\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":["
                 "{\"asInt\":\"%d\",\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"%d\"}]}}",
                 10 * i, 100 * i);
        add_json(s, req(m), 0);
    }
    assert_has(render(s, 0), "c_total{instance=\"i-1\",job=\"svc\"} 20\n");
    kvs_promx_free(s);
}

static void test_stale_and_conflicts(void **state)
{
    kvs_promx_store *s = store(NULL);
    add_json(s, req("{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"asDouble\":1,\"timeUnixNano\":\"100\"}]}}"), 0);
    assert_has(render(s, 0), "g{instance=\"i-1\",job=\"svc\"} 1\n");
    /* the same Prometheus name as a counter conflicts while the gauge lives */
    kvs_promx_stats st = add_json(
        s,
        req("{\"name\":\"g_total\",\"unit\":\"\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":false,"
            "\"dataPoints\":[{\"asDouble\":1,\"timeUnixNano\":\"100\"}]}},"
            "{\"name\":\"g\",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[{\"count\":\"1\","
            "\"timeUnixNano\":\"100\"}]}}"),
        0);
    assert_int_equal(st.type_conflict, 1);
    assert_int_equal(st.stored, 1);
    /* a "no recorded value" point removes its series */
    st = add_json(s, req("{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"flags\":1,\"timeUnixNano\":\"200\"}]}}"), 0);
    assert_int_equal(st.stale, 1);
    assert_lacks(render(s, 0), "g{instance");
    kvs_promx_free(s);
}

/* ---- the component over HTTP ---- */

typedef struct page {
    kvs_buf b;
} page;

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    kvs_buf_append(&((page *)ud)->b, p, sz * n);
    return sz * n;
}

static long http_get(const char *url, const char *method, int gzip, kvs_buf *out, char *enc, size_t encn)
{
    CURL *c = curl_easy_init();
    page pg = { { 0 } };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &pg);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (gzip)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (enc) {
        struct curl_header *h = NULL;
        enc[0] = 0;
        if (curl_easy_header(c, "Content-Encoding", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            snprintf(enc, encn, "%s", h->value);
    }
    curl_easy_cleanup(c);
    kvs_buf_putc(&pg.b, 0);
    *out = pg.b;
    return code;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_http_endpoint(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *root = getenv("KVS_SOURCE_DIR");
    int port = free_port();
    char yaml[2048], url[128];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  promfile:\n    include: [\"%s/fixtures/prom/lmcache_mp.prom\"]\n    poll_interval: 50ms\n"
             "exporters:\n  prometheus:\n    endpoint: 127.0.0.1:%d\n    namespace: kvs\n"
             "    const_labels: {cluster: test}\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
             "    metrics: {receivers: [promfile], exporters: [prometheus]}\n",
             root ? root : ".", port);
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse("exp.yaml", yaml, strlen(yaml), NULL, NULL, &err);
    if (!cfg)
        fail_msg("config: %s", err.msg);
    kvs_engine_opts eo = { 0 };
    kvs_engine *e = kvs_engine_create(cfg, &eo, &err);
    if (!e)
        fail_msg("create: %s", err.msg);
    assert_int_equal(kvs_engine_start(e, &err), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    const char *want = "kvs_lmcache_mp_l1_read_chunks_total{cache_salt=\"tenant-a\",cluster=\"test\","
                       "instance=\"mp-0a1b2c3d\",job=\"lmcache-mp-server\",otel_scope_name=\"lmcache.l1\"} 2048\n";
    kvs_buf b = { 0 };
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) {   /* at most 5 s */
        kvs_buf_free(&b);
        if (http_get(url, NULL, 0, &b, NULL, 0) == 200 && b.data && strstr(b.data, want))
            found = 1;
        else {
            struct timespec ts = { 0, 50 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    if (!found)
        fail_msg("metric not served; last page:\n%s", b.data ? b.data : "(none)");
    assert_non_null(strstr(b.data, "# TYPE kvs_lmcache_mp_l1_usage_ratio gauge\n"));
    assert_non_null(strstr(b.data, "target_info{cluster=\"test\",instance=\"mp-0a1b2c3d\",job=\"lmcache-mp-server\","
                                   "telemetry_sdk_language=\"python\""));
    size_t plain = strlen(b.data);
    kvs_buf_free(&b);
    /* gzip when asked (libcurl inflates it back) */
    char enc[32];
    assert_int_equal(http_get(url, NULL, 1, &b, enc, sizeof enc), 200);
    assert_string_equal(enc, "gzip");
    assert_int_equal(strlen(b.data), plain);
    kvs_buf_free(&b);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    assert_int_equal(http_get(url, NULL, 0, &b, NULL, 0), 404);
    kvs_buf_free(&b);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    assert_int_equal(http_get(url, "POST", 0, &b, NULL, 0), 405);
    kvs_buf_free(&b);

    uint64_t t0 = kvs_now_ns();
    kvs_engine_request_stop(e);
    kvs_engine_shutdown(e);
    assert_true(kvs_now_ns() - t0 < 5 * KVS_SEC);
    const kvs_telemetry *const *tel;
    size_t n = kvs_engine_telemetry(e, &tel);
    uint64_t exported = 0, accepted = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tel[i]->kind, "exporter") == 0)
            exported += kvs_tel_get(&tel[i]->exported);
        if (strcmp(tel[i]->kind, "receiver") == 0)
            accepted += kvs_tel_get(&tel[i]->accepted);
        dropped += kvs_tel_get(&tel[i]->dropped);
    }
    assert_true(accepted > 0);
    assert_int_equal(exported, accepted);   /* every point of the scrape is served */
    assert_int_equal(dropped, 0);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    curl_global_cleanup();
}

static void test_config_errors(void **state)
{
    static const struct { const char *exp, *want; } bad[] = {
        { "    endpoint: nohost\n", "must be host:port" },
        { "    namespace: 1abc\n", "namespace" },
        { "    const_labels: {__x: y}\n", "not a Prometheus label name" },
        { "    metric_expiration: 5\n", "duration needs a unit" },
        { "    resource_to_telemetry_conversion: {enable: true}\n", "unknown key" },
        { "    sent_timestamps: true\n", "send_timestamps" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "receivers:\n  promfile:\n    include: [x]\n"
                 "exporters:\n  prometheus:\n%s"
                 "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
                 "    metrics: {receivers: [promfile], exporters: [prometheus]}\n",
                 bad[i].exp);
        kvs_error err = { 0 };
        kvs_service_cfg *cfg = kvs_service_cfg_parse("bad.yaml", yaml, strlen(yaml), NULL, NULL, &err);
        kvs_engine *e = NULL;
        if (cfg) {
            kvs_engine_opts eo = { 0 };
            e = kvs_engine_create(cfg, &eo, &err);
        }
        if (e)
            fail_msg("accepted: %s", bad[i].exp);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("%s: error \"%s\" does not say \"%s\"", bad[i].exp, err.msg, bad[i].want);
        if (!strstr(err.msg, "bad.yaml:"))
            fail_msg("error without a position: %s", err.msg);
        kvs_service_cfg_free(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naming_table),
        cmocka_unit_test(test_gauge_counter_rendering),
        cmocka_unit_test(test_histogram_summary_rendering),
        cmocka_unit_test(test_target_info_and_labels),
        cmocka_unit_test(test_expiration),
        cmocka_unit_test(test_delta_to_cumulative),
        cmocka_unit_test(test_stale_and_conflicts),
        cmocka_unit_test(test_http_endpoint),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
