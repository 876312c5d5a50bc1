/* The lmcache_http receiver against a local HTTP server (libmicrohttpd on
 * 127.0.0.1, a free port, stopped by the test) that plays an LMCache MP
 * server: healthy (current paths), legacy (/api/... paths only),
 * unhealthy, slow (answers after the receiver's timeout), garbage bodies
 * (binary, HTML, oversized), and no server at all. Each run is one poll
 * (replay); the OTLP records and gauges are read back and checked.
 *
 * The destructive-routes test: the server records every request it gets
 * (method, path, query); after all runs no request may be anything but a
 * GET of a read-only route, no mutating path may ever have arrived, and
 * /env only when collect_env asked for it. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "evidence_harness.h"
#include "formats/lmcache_http.h"
#include "unit_helpers.h"

enum mode { HEALTHY, LEGACY, UNHEALTHY, SLOW, GARBAGE };

typedef struct server {
    struct MHD_Daemon *d;
    enum mode mode;
    int port;
} server;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *requests[4096];
static size_t nrequests;
static char tmpdir[256];
static char out_path[512];

static char *fixture(const char *rel, size_t *len)
{
    char path[1024];
    const char *root = getenv("KVS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fixtures/evidence/http/%s", root ? root : ".", rel);
    return ev_slurp(path, len);
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    char *q = cls;
    size_t n = strlen(q);
    snprintf(q + n, 512 - n, "%s%s=%s", n ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const void *body, size_t len,
                             const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The body for a route in the healthy/unhealthy modes; NULL: 404. */
static char *route_body(enum mode m, const char *url, size_t *len, unsigned *status, const char **type)
{
    static const struct { const char *path, *file; } routes[] = {
        { "/", "healthy/root.json" },
        { "/healthcheck", "healthy/health.json" },
        { "/status", "healthy/status.json" },
        { "/conf", "healthy/conf.json" },
        { "/version", "healthy/version.json" },
        { "/lmc_version", "healthy/lmc_version.txt" },
        { "/commit_id", "healthy/commit_id.json" },
        { "/threads", "healthy/threads.txt" },
        { "/periodic-threads", "healthy/periodic_threads.json" },
        { "/periodic-threads-health", "healthy/periodic_threads_health.json" },
        { "/quota", "healthy/quota.json" },
        { "/env", "healthy/env.json" },
    };
    *status = 200;
    *type = "application/json";
    const char *path = url;
    if (m == LEGACY) {
        /* an older server: health, status and quota only under /api */
        if (!strcmp(url, "/healthcheck") || !strcmp(url, "/status") || !strcmp(url, "/quota"))
            return NULL;
        if (!strncmp(url, "/api/", 5))
            path = url + 4;
    } else if (!strncmp(url, "/api/", 5)) {
        return NULL;
    }
    if (!strncmp(path, "/periodic-threads/", 18) && path[18]) {
        const char *b = "{\"name\": \"l1-eviction\", \"level\": \"critical\", \"is_running\": true}";
        *len = strlen(b);
        return strdup(b);
    }
    if (m == UNHEALTHY) {
        if (!strcmp(path, "/healthcheck")) {
            *status = 503;
            return fixture("unhealthy/health.json", len);
        }
        if (!strcmp(path, "/status"))
            return fixture("unhealthy/status.json", len);
        if (!strcmp(path, "/periodic-threads-health"))
            return fixture("unhealthy/periodic_threads_health.json", len);
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(path, routes[i].path)) {
            if (strstr(routes[i].file, ".txt"))
                *type = "text/plain";
            return fixture(routes[i].file, len);
        }
    return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version, (void)upload;
    server *s = cls;
    static int marker;
    if (!*state) {
        *state = &marker;
        char q[512] = "";
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, q);
        char line[1200];
        snprintf(line, sizeof line, "%s %s%s%s", method, url, q[0] ? "?" : "", q);
        pthread_mutex_lock(&log_lock);
        if (nrequests < sizeof requests / sizeof requests[0])
            requests[nrequests++] = strdup(line);
        pthread_mutex_unlock(&log_lock);
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0)
        return reply(c, 405, "{\"detail\":\"Method Not Allowed\"}", 31, "application/json");
    if (s->mode == SLOW) {
        usleep(1200 * 1000);
        return reply(c, 200, "{\"status\":\"healthy\"}", 20, "application/json");
    }
    if (s->mode == GARBAGE) {
        if (!strcmp(url, "/status")) {
            size_t n = 6 << 20;            /* over max_body_size */
            char *big = malloc(n);
            memset(big, '{', n);
            enum MHD_Result rc = reply(c, 200, big, n, "application/json");
            free(big);
            return rc;
        }
        if (!strcmp(url, "/healthcheck"))
            return reply(c, 200, "\x00\xff\xfe garbage \x01", 14, "application/json");
        if (!strcmp(url, "/quota"))
            return reply(c, 200, "{\"users\": {\"a\": {\"limit_gb\": \"x\"}}, ", 34, "application/json");
        return reply(c, 502, "<html><body>Bad Gateway</body></html>", 37, "text/html");
    }
    size_t len;
    unsigned status;
    const char *type;
    char *body = route_body(s->mode, url, &len, &status, &type);
    if (!body)
        return reply(c, 404, "{\"detail\":\"Not Found\"}", 22, "application/json");
    enum MHD_Result rc = reply(c, status, body, len, type);
    free(body);
    return rc;
}

static void start(server *s, enum mode m)
{
    s->mode = m;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle,
                            s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s->port = info->port;
    assert_true(s->port > 0);
}

static void stop(server *s)
{
    MHD_stop_daemon(s->d);
    s->d = NULL;
}

static ev_out poll_once(int port, const char *extra)
{
    char y[2048];
    snprintf(y, sizeof y,
             "receivers:\n  lmcache_http:\n    endpoint: \"http://127.0.0.1:%d\"\n    timeout: 300ms\n%s"
             "exporters:\n  file:\n    path: \"%s\"\n"
             "service:\n  pipelines:\n"
             "    logs: {receivers: [lmcache_http], exporters: [file]}\n"
             "    metrics: {receivers: [lmcache_http], exporters: [file]}\n",
             port, extra ? extra : "", out_path);
    unlink(out_path);
    replay_sums s = replay_run(y);
    assert_int_equal(s.rejected, 0);
    assert_true(s.accepted > 0);
    return ev_load(out_path);
}

static const kvs_log_record *endpoint(const ev_out *o, const char *key)
{
    const kvs_log_record *r = ev_find(o, "kvscope.lmcache.http", "kvscope.lmcache.http.endpoint", key);
    if (!r)
        fail_msg("no record for endpoint %s", key);
    return r;
}

static void test_healthy(void **state)
{
    (void)state;
    server s;
    start(&s, HEALTHY);
    ev_out o = poll_once(s.port, NULL);
    stop(&s);
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_non_null(sum);
    assert_true(ev_bool(sum, "kvscope.lmcache.http.reachable"));
    assert_true(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    assert_string_equal(ev_str(sum, "kvscope.lmcache.http.api_layout"), "current");
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.skipped_endpoints", "POST /metrics/reset"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.skipped_endpoints", "GET /env (sensitive_skipped"));
    assert_int_equal(ev_count_event(&o, "kvscope.lmcache.http"), 11);
    const kvs_log_record *st = endpoint(&o, "status");
    assert_int_equal(ev_int(st, "http.response.status_code"), 200);
    assert_string_equal(ev_str(st, "kvscope.lmcache.http.status"), "healthy");
    assert_string_equal(ev_str(st, "url.path"), "/status");
    assert_int_equal(ev_int(st, "lmcache.l1.memory_total_bytes"), 8589934592LL);
    assert_int_equal(ev_int(st, "lmcache.active_prefetch_jobs"), 1);
    assert_string_equal(ev_str(endpoint(&o, "version"), "lmcache.version"), "0.4.2+g1a2b3c4");
    assert_int_equal(ev_int(endpoint(&o, "threads"), "lmcache.threads.count"), 3);
    assert_true(ev_point(&o, "kvscope.lmcache.http.up", NULL, NULL) == 1);
    assert_true(ev_point(&o, "kvscope.lmcache.http.healthy", NULL, NULL) == 1);
    assert_true(ev_point(&o, "kvscope.lmcache.http.l1.objects", NULL, NULL) == 1917);
    assert_true(ev_point(&o, "kvscope.lmcache.http.endpoint.up", "kvscope.lmcache.http.endpoint", "quota") == 1);
    ev_free(&o);
}

static void test_legacy_paths(void **state)
{
    (void)state;
    server s;
    start(&s, LEGACY);
    ev_out o = poll_once(s.port, NULL);
    stop(&s);
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_true(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    assert_string_equal(ev_str(sum, "kvscope.lmcache.http.api_layout"), "legacy");
    const kvs_log_record *h = endpoint(&o, "health");
    assert_string_equal(ev_str(h, "url.path"), "/api/healthcheck");
    assert_string_equal(ev_str(h, "kvscope.lmcache.http.api_layout"), "legacy");
    assert_string_equal(ev_str(endpoint(&o, "status"), "url.path"), "/api/status");
    assert_string_equal(ev_str(endpoint(&o, "quota"), "url.path"), "/api/quota");
    ev_free(&o);
}

static void test_unhealthy(void **state)
{
    (void)state;
    server s;
    start(&s, UNHEALTHY);
    ev_out o = poll_once(s.port, "    thread_name: l1-eviction\n");
    stop(&s);
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_true(ev_bool(sum, "kvscope.lmcache.http.reachable"));
    assert_false(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.failure_reasons", "lmcache_http_health_unhealthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.failure_reasons", "lmcache_http_status_unhealthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.failure_messages", "engine not initialized"));
    const kvs_log_record *h = endpoint(&o, "health");
    assert_int_equal(ev_int(h, "http.response.status_code"), 503);
    assert_string_equal(ev_str(h, "kvscope.lmcache.http.reason"), "engine not initialized");
    assert_int_equal(h->severity_number, 13);
    const kvs_log_record *st = endpoint(&o, "status");
    assert_true(ev_list_has(st, "lmcache.unhealthy_components", "prefetch_controller: is_healthy=false"));
    assert_true(ev_list_has(endpoint(&o, "periodic_threads_health"), "lmcache.periodic_threads.unhealthy",
                            "l1-eviction"));
    assert_true(ev_bool(endpoint(&o, "periodic_thread"), "lmcache.periodic_thread.is_running"));
    assert_true(ev_point(&o, "kvscope.lmcache.http.healthy", NULL, NULL) == 0);
    assert_true(ev_point(&o, "kvscope.lmcache.http.unhealthy_components", NULL, NULL) == 2);
    assert_true(ev_point(&o, "kvscope.lmcache.http.periodic_threads.unhealthy", NULL, NULL) == 1);
    ev_free(&o);
}

static void test_slow(void **state)
{
    (void)state;
    server s;
    start(&s, SLOW);
    ev_out o = poll_once(s.port, "    endpoints: [health, status, quota]\n");
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_false(ev_bool(sum, "kvscope.lmcache.http.reachable"));
    assert_false(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.unavailable", "status"));
    const kvs_log_record *st = endpoint(&o, "status");
    assert_string_equal(ev_str(st, "kvscope.lmcache.http.status"), "unavailable");
    assert_string_equal(ev_str(st, "error.type"), "unavailable");
    const char *why = ev_str(st, "kvscope.lmcache.http.error");
    if (!why || !strstr(why, "timed out"))
        fail_msg("error is \"%s\"", why ? why : "(none)");
    assert_true(ev_point(&o, "kvscope.lmcache.http.up", NULL, NULL) == 0);
    assert_int_equal(ev_count_event(&o, "kvscope.lmcache.http"), 3);
    ev_free(&o);
    stop(&s);
}

static void test_garbage(void **state)
{
    (void)state;
    server s;
    start(&s, GARBAGE);
    ev_out o = poll_once(s.port, NULL);
    stop(&s);
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_true(ev_bool(sum, "kvscope.lmcache.http.reachable"));
    assert_false(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    const kvs_log_record *st = endpoint(&o, "status");
    assert_true(ev_bool(st, "kvscope.lmcache.http.body_truncated"));
    assert_string_equal(ev_str(st, "kvscope.lmcache.http.content_type"), "text");
    const kvs_log_record *h = endpoint(&o, "health");
    assert_string_equal(ev_str(h, "kvscope.lmcache.http.status"), "unknown");
    const kvs_log_record *conf = endpoint(&o, "conf");
    assert_int_equal(ev_int(conf, "http.response.status_code"), 502);
    assert_string_equal(ev_str(conf, "kvscope.lmcache.http.status"), "unhealthy");
    ev_free(&o);
}

static void test_no_server(void **state)
{
    (void)state;
    /* a port that was free a moment ago */
    server s;
    start(&s, HEALTHY);
    int port = s.port;
    stop(&s);
    ev_out o = poll_once(port, "    endpoints: [health, status]\n");
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_false(ev_bool(sum, "kvscope.lmcache.http.reachable"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.unavailable", "health"));
    assert_true(ev_point(&o, "kvscope.lmcache.http.up", NULL, NULL) == 0);
    ev_free(&o);
}

static void test_collect_env(void **state)
{
    (void)state;
    server s;
    start(&s, HEALTHY);
    ev_out o = poll_once(s.port, "    collect_env: true\n    endpoints: [health]\n");
    stop(&s);
    const kvs_log_record *env = endpoint(&o, "env");
    assert_true(ev_list_has(env, "lmcache.env.vars", "LMCACHE_REMOTE_URL=<redacted>"));
    assert_int_equal(ev_int(env, "lmcache.env.redacted_count"), 4);
    assert_null(strstr(o.text, "hunter2"));
    assert_null(strstr(o.text, "not-so-secret"));
    assert_null(strstr(o.text, "wJalrXUtn"));
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_false(ev_list_has(sum, "kvscope.lmcache.http.skipped_endpoints", "GET /env"));
    ev_free(&o);
}

/* Every request any server received, across all the runs above. */
static void test_no_mutating_request(void **state)
{
    (void)state;
    static const char *const forbidden[] = { "clear-cache", "clear_cache", "/metrics/reset", "/loglevel",
                                             "/run_script", "/l2", "/config/policies", "/reconfigure",
                                             "/api/kv", "/coordinator", NULL };
    size_t env = 0, gets = 0;
    pthread_mutex_lock(&log_lock);
    assert_true(nrequests > 40);
    for (size_t i = 0; i < nrequests; i++) {
        const char *r = requests[i];
        if (strncmp(r, "GET /", 5) != 0)
            fail_msg("a non-GET request arrived: %s", r);
        gets++;
        for (int k = 0; forbidden[k]; k++)
            if (strstr(r, forbidden[k]))
                fail_msg("a mutating route was requested: %s", r);
        if (!strncmp(r, "GET /quota/", 11) || !strncmp(r, "GET /api/quota/", 15))
            fail_msg("a per-tenant quota route was requested: %s", r);
        if (!kvs_lmc_route_is_safe("GET", r + 4))
            fail_msg("a route outside the safe list was requested: %s", r);
        env += strcmp(r, "GET /env") == 0;
    }
    pthread_mutex_unlock(&log_lock);
    assert_int_equal(env, 1);      /* only the collect_env run */
    print_message("%zu requests recorded, all read-only GETs\n", gets);
}

static int setup(void **state)
{
    (void)state;
    if (tmpdir_make(tmpdir, sizeof tmpdir, "kvs_httprx"))
        return -1;
    snprintf(out_path, sizeof out_path, "%s/out.jsonl", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < nrequests; i++)
        free(requests[i]);
    return tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy),         cmocka_unit_test(test_legacy_paths),
        cmocka_unit_test(test_unhealthy),       cmocka_unit_test(test_slow),
        cmocka_unit_test(test_garbage),         cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_collect_env),     cmocka_unit_test(test_no_mutating_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
