/* The evidence receivers' OTLP log records read by the evidence model
 * (lmcache/evidence_records.c through kvs_lmc_evidence_add_logs): requests
 * are built with the receivers' own builder (receivers/evrx.h) carrying the
 * event names and attributes of docs/evidence-records.md, and the tests
 * assert the HTTP facts, failures, lanes and log statistics, and how the
 * diagnosis changes (surfaces, mode from engine_type, the unhealthy-HTTP
 * finding). Also: facts and lanes merge across records, polls and batch
 * splits (the same records in one request or one per request give
 * byte-identical reports), HTTP payloads are never log lines, kvscope's own
 * findings are not evidence, and records without event_name are told by
 * `kvscope.evidence.kind`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/batch.h"
#include "core/buf.h"
#include "lmcache/diagnose.h"
#include "lmcache/evidence.h"
#include "lmcache/report.h"
#include "receivers/evrx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building requests as the receivers do ---- */

static void begin(kvs_evrx_out *o, const char *scope)
{
    assert_int_equal(kvs_evrx_begin(o, KVS_SIG_LOGS, scope, NULL, 0), 0);
}

static void feed(kvs_lmc_evidence *ev, kvs_evrx_out *o)
{
    assert_non_null(o->b);
    assert_int_equal(kvs_lmc_evidence_add_logs(ev, o->b->logs), 0);
    kvs_evrx_discard(o);
}

/* One kvscope.lmcache.http record (a saved payload when `src` is a file,
 * a polled answer when it is a URL); facts are added by the caller. */
static void http_rec(kvs_evrx_out *o, const char *src, const char *ep, const char *status, const char *reason)
{
    int polled = strncmp(src, "http", 4) == 0;
    int unavailable = strcmp(status, "unavailable") == 0;
    char line[256];
    if (unavailable)
        snprintf(line, sizeof line, "GET /%s: unavailable: Connection refused", ep);
    else
        snprintf(line, sizeof line, "GET /%s: %d %s%s%s", ep, polled ? 200 : 0, status, reason ? ": " : "",
                 reason ? reason : "");
    int bad = strcmp(status, "unhealthy") == 0 || unavailable;
    kvs_evrx_log(o, 0, "kvscope.lmcache.http", bad ? 13 : 9, bad ? "WARN" : "INFO", line, strlen(line));
    kvs_evrx_str(o, "kvscope.evidence.kind", "http");
    kvs_evrx_str(o, "kvscope.lmcache.http.endpoint", ep);
    kvs_evrx_str(o, "kvscope.lmcache.http.status", status);
    kvs_evrx_str(o, polled ? "url.full" : "log.file.path", src);
    kvs_evrx_str(o, "http.request.method", "GET");
    if (polled) {
        kvs_evrx_dbl(o, "kvscope.lmcache.http.duration_ms", 1.5);
        if (unavailable) {
            kvs_evrx_str(o, "error.type", "unavailable");
            kvs_evrx_str(o, "kvscope.lmcache.http.error", "Connection refused");
            return;
        }
        kvs_evrx_int(o, "http.response.status_code", 200);
        kvs_evrx_str(o, "kvscope.lmcache.http.api_layout", "current");
    }
    kvs_evrx_str(o, "kvscope.lmcache.http.content_type", "json");
    kvs_evrx_str(o, "kvscope.lmcache.http.json_type", "object");
    kvs_evrx_int(o, "kvscope.lmcache.http.raw_length", 120);
    if (reason)
        kvs_evrx_str(o, "kvscope.lmcache.http.reason", reason);
}

static void http_summary(kvs_evrx_out *o, const char *src, int reachable, int healthy, const char *const *eps,
                         size_t neps, const char *const *down, size_t ndown, const char *const *codes,
                         const char *const *msgs, size_t ncodes)
{
    const char *line = "LMCache HTTP summary";
    kvs_evrx_log(o, 0, "kvscope.lmcache.http.summary", healthy ? 9 : 13, healthy ? "INFO" : "WARN", line,
                 strlen(line));
    kvs_evrx_str(o, "kvscope.evidence.kind", "http");
    kvs_evrx_str(o, "url.full", src);
    kvs_evrx_bool(o, "kvscope.lmcache.http.reachable", reachable);
    kvs_evrx_bool(o, "kvscope.lmcache.http.is_healthy", healthy);
    kvs_evrx_strs(o, "kvscope.lmcache.http.endpoints", eps, neps);
    kvs_evrx_strs(o, "kvscope.lmcache.http.unavailable", down, ndown);
    kvs_evrx_strs(o, "kvscope.lmcache.http.failure_reasons", codes, ncodes);
    kvs_evrx_strs(o, "kvscope.lmcache.http.failure_messages", msgs, ncodes);
}

/* The `unhealthy` fixture folder (fixtures/evidence/http/unhealthy) as
 * lmcache_http reads it: /health, /periodic-threads/health and /status
 * unhealthy, then the summary. */
static void unhealthy_folder(kvs_evrx_out *o)
{
    http_rec(o, "/e/http/health.json", "health", "unhealthy", "engine not initialized");
    http_rec(o, "/e/http/periodic_threads_health.json", "periodic_threads_health", "unhealthy",
             "periodic threads unhealthy: l1-eviction");
    kvs_evrx_bool(o, "lmcache.periodic_threads.healthy", 0);
    kvs_evrx_int(o, "lmcache.periodic_threads.unhealthy_count", 1);
    http_rec(o, "/e/http/status.json", "status", "unhealthy",
             "component storage_manager.l1_eviction_controller reports thread_alive=false");
    kvs_evrx_bool(o, "lmcache.is_healthy", 1);
    kvs_evrx_str(o, "lmcache.engine_type", "MPCacheEngine");
    kvs_evrx_int(o, "lmcache.chunk_size", 256);
    kvs_evrx_int(o, "lmcache.l1.memory_used_bytes", 8455716864);
    kvs_evrx_int(o, "lmcache.l1.memory_total_bytes", 8589934592);
    kvs_evrx_dbl(o, "lmcache.l1.memory_usage_ratio", 8455716864.0 / 8589934592.0);
    kvs_evrx_int(o, "lmcache.l1.object_count", 40);
    static const char *const eps[] = {"health", "status", "periodic_threads_health"};
    static const char *const codes[] = {"lmcache_http_health_unhealthy",
                                        "lmcache_http_periodic_threads_health_unhealthy",
                                        "lmcache_http_status_unhealthy"};
    static const char *const msgs[] = {"engine not initialized", "periodic threads unhealthy: l1-eviction",
                                       "component storage_manager.l1_eviction_controller reports thread_alive=false"};
    http_summary(o, "/e/http/health.json", 1, 0, eps, 3, NULL, 0, codes, msgs, 3);
}

static void lct_rec(kvs_evrx_out *o, const char *file, int valid, int64_t records, int64_t skipped, int truncated,
                    int in_progress)
{
    kvs_evrx_log(o, 0, "kvscope.lmcache.trace", valid ? 9 : 17, valid ? "INFO" : "ERROR", file, strlen(file));
    kvs_evrx_str(o, "kvscope.evidence.kind", "lct");
    kvs_evrx_str(o, "lmcache.trace.file", file);
    kvs_evrx_bool(o, "lmcache.trace.valid", valid);
    if (!valid) {
        kvs_evrx_str(o, "lmcache.trace.error", "bad magic at offset 0: not an LMCache trace (expected b\"LMCT\")");
        return;
    }
    kvs_evrx_int(o, "lmcache.trace.format_version", 1);
    kvs_evrx_int(o, "lmcache.trace.schema_version", 2);
    kvs_evrx_int(o, "lmcache.trace.records", records);
    kvs_evrx_int(o, "lmcache.trace.skipped", skipped);
    kvs_evrx_bool(o, "lmcache.trace.truncated", truncated);
    if (in_progress)
        kvs_evrx_bool(o, "lmcache.trace.in_progress", 1);
    static const char *const ops[] = {"reserve_write", "finish_write"};
    const int64_t n[] = {records / 2, records - records / 2};
    kvs_evrx_int_map(o, "lmcache.trace.op_counts", ops, n, 2);
}

static void lct_request(kvs_evrx_out *o, const char *file, const char *id)
{
    kvs_evrx_log(o, 0, "kvscope.lmcache.trace.request", 9, "INFO", id, strlen(id));
    kvs_evrx_str(o, "kvscope.evidence.kind", "lct_request");
    kvs_evrx_str(o, "lmcache.trace.file", file);
    kvs_evrx_str(o, "lmcache.request.id", id);
    kvs_evrx_int(o, "lmcache.request.calls", 4);
}

static void replay_rec(kvs_evrx_out *o, const char *file, int64_t rows, int64_t errors)
{
    kvs_evrx_log(o, 0, "kvscope.lmcache.trace.replay", errors ? 13 : 9, errors ? "WARN" : "INFO", file, strlen(file));
    kvs_evrx_str(o, "kvscope.evidence.kind", "lct_replay");
    kvs_evrx_str(o, "lmcache.replay.file", file);
    kvs_evrx_str(o, "lmcache.replay.kind", "ops_csv");
    kvs_evrx_int(o, "lmcache.replay.rows", rows);
    kvs_evrx_int(o, "lmcache.replay.failed_rows", 0);
    if (rows) {
        static const char *const ops[] = {"StorageManager.reserve_write"};
        const int64_t n[] = {rows};
        kvs_evrx_int_map(o, "lmcache.replay.op_counts", ops, n, 1);
    }
    kvs_evrx_int(o, "lmcache.replay.error_count", errors);
    kvs_evrx_bool(o, "lmcache.replay.digest_match", 0);
}

static void lookup_row(kvs_evrx_out *o, const char *file, int line)
{
    kvs_evrx_log(o, 0, "kvscope.lmcache.lookup_hash", 9, "INFO", "lookup", 6);
    kvs_evrx_str(o, "kvscope.evidence.kind", "lookup_hash");
    kvs_evrx_str(o, "lmcache.lookup_hash.file", file);
    kvs_evrx_int(o, "lmcache.lookup_hash.line", line);
    kvs_evrx_int(o, "lmcache.lookup_hash.chunk_hash_count", 4);
    kvs_evrx_bool(o, "lmcache.lookup_hash.chunk_hashes_redacted", 1);
}

static void lookup_summary(kvs_evrx_out *o, const char *file, int64_t rows, int64_t malformed, int final)
{
    kvs_evrx_log(o, 0, "kvscope.lmcache.lookup_hash.summary", malformed ? 13 : 9, malformed ? "WARN" : "INFO", file,
                 strlen(file));
    kvs_evrx_str(o, "kvscope.evidence.kind", "lookup_hash");
    kvs_evrx_str(o, "lmcache.lookup_hash.file", file);
    kvs_evrx_bool(o, "lmcache.lookup_hash.final", final);
    kvs_evrx_int(o, "lmcache.lookup_hash.rows", rows);
    kvs_evrx_int(o, "lmcache.lookup_hash.malformed_rows", malformed);
    kvs_evrx_int(o, "lmcache.lookup_hash.files_seen", 1);
}

/* A filelog line with the receiver's classification attributes. */
static void log_rec(kvs_evrx_out *o, const char *file, const char *line, const char *const *modes, size_t nmodes)
{
    kvs_evrx_log(o, 0, "kvscope.lmcache.log", 9, "INFO", line, strlen(line));
    kvs_evrx_str(o, "kvscope.evidence.kind", "log");
    kvs_evrx_str(o, "kvscope.log.category", "other");
    kvs_evrx_str(o, "log.file.path", file);
    if (nmodes)
        kvs_evrx_strs(o, "kvscope.lmcache.mode_candidates", modes, nmodes);
}

/* ---- reading ---- */

static kvs_lmc_diagnosis *diag(kvs_lmc_evidence *ev)
{
    kvs_lmc_config c;
    kvs_lmc_config_default(&c);
    kvs_error err = {0};
    kvs_lmc_diagnosis *d = kvs_lmc_diagnose(ev, &c, &err);
    assert_non_null(d);
    return d;
}

static kvs_lmc_fstatus row_status(const kvs_lmc_diagnosis *d, const char *surface, const char *family)
{
    const kvs_lmc_family_row *r = kvs_lmc_diagnosis_row(d, surface, family);
    assert_non_null(r);
    return r->status;
}

static bool has_failure(const kvs_lmc_evidence *ev, const char *code)
{
    const kvs_lmc_http_failure *f;
    size_t n = kvs_lmc_evidence_http_failures(ev, &f);
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].code, code) == 0)
            return true;
    return false;
}

static void assert_lane(const kvs_lmc_evidence *ev, kvs_lmc_lane_id id, bool present, bool measured,
                        unsigned long records, unsigned long errors, unsigned long files)
{
    const kvs_lmc_lane *l = kvs_lmc_evidence_lane(ev, id);
    assert_true(l->provided);
    assert_int_equal(l->present, present);
    assert_int_equal(l->measured, measured);
    assert_int_equal(l->records, records);
    assert_int_equal(l->parse_errors, errors);
    assert_int_equal(l->files, files);
}

/* ---- tests ---- */

static void test_http_payloads_become_facts(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_diagnosis *d = diag(ev);
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_UNKNOWN);
    assert_int_equal(row_status(d, "lmcache_http", "mp_http_api"), KVS_LMC_ST_MISSING);
    assert_false(d->lanes[KVS_LMC_LANE_HTTP].provided);
    kvs_lmc_diagnosis_free(d);

    kvs_evrx_out o;
    begin(&o, "kvscope/lmcache_http");
    unhealthy_folder(&o);
    feed(ev, &o);

    const kvs_lmc_http_facts *h = kvs_lmc_evidence_http(ev);
    assert_non_null(h);
    assert_string_equal(h->engine_type, "MPCacheEngine");
    assert_int_equal(h->healthy, 0);
    assert_true(h->l1_memory_used_bytes == 8455716864.0);
    assert_true(h->l1_memory_total_bytes == 8589934592.0);
    assert_true(h->l1_total_object_count == 40.0);
    assert_int_equal(h->endpoints, 3);
    /* one failure per unhealthy endpoint, not repeated by the summary */
    const kvs_lmc_http_failure *f;
    assert_int_equal(kvs_lmc_evidence_http_failures(ev, &f), 3);
    assert_string_equal(f[0].code, "lmcache_http_health_unhealthy");
    assert_string_equal(f[0].message, "engine not initialized");
    assert_true(has_failure(ev, "lmcache_http_periodic_threads_health_unhealthy"));
    assert_true(has_failure(ev, "lmcache_http_status_unhealthy"));
    /* three saved payloads: three records from three files */
    assert_lane(ev, KVS_LMC_LANE_HTTP, true, true, 3, 0, 3);
    /* the JSON is not a log line */
    assert_false(kvs_lmc_evidence_lane(ev, KVS_LMC_LANE_LOGS)->provided);
    assert_int_equal(kvs_lmc_evidence_logs(ev)->lines, 0);

    d = diag(ev);
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_MP);
    assert_string_equal(d->mode.mode_source, "signals");
    assert_true(d->mode.sig.http_mp_engine_type);
    assert_int_equal(d->mode.arch, KVS_LMC_ARCH_MP_SERVER);
    assert_int_equal(row_status(d, "lmcache_http", "mp_http_api"), KVS_LMC_ST_POPULATED);
    assert_int_equal(d->surfaces[KVS_LMC_FS_HTTP].status, KVS_LMC_SS_COMPLETE);
    assert_int_equal(row_status(d, "lmcache_logs", "lifecycle_logs"), KVS_LMC_ST_MISSING);
    const kvs_lmc_finding *fd = kvs_lmc_diagnosis_finding(d, "lmcache_http_health_unhealthy");
    assert_non_null(fd);
    assert_int_equal(fd->severity, KVS_LMC_SEV_WARNING);
    assert_non_null(kvs_lmc_diagnosis_finding(d, "lmcache_http_status_unhealthy"));
    /* /status reports L1 memory that Prometheus does not */
    assert_non_null(kvs_lmc_diagnosis_finding(d, "lmcache_mp_l1_memory_prometheus_missing_with_http_memory_evidence"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_http_polls_merge(void **state)
{
    (void)state;
    const char *url = "http://lmcache:8080";
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o;
    static const char *const eps[] = {"health", "status"};

    /* poll 1: healthy */
    begin(&o, "kvscope/lmcache_http");
    http_rec(&o, url, "health", "healthy", NULL);
    http_rec(&o, url, "status", "healthy", NULL);
    kvs_evrx_str(&o, "lmcache.engine_type", "MPCacheEngine");
    kvs_evrx_int(&o, "lmcache.l1.memory_used_bytes", 100);
    kvs_evrx_int(&o, "lmcache.l1.object_count", 5);
    http_summary(&o, url, 1, 1, eps, 2, NULL, 0, NULL, NULL, 0);
    feed(ev, &o);
    assert_int_equal(kvs_lmc_evidence_http(ev)->healthy, 1);
    assert_int_equal(kvs_lmc_evidence_http_failures(ev, &(const kvs_lmc_http_failure *){NULL}), 0);

    /* polls 2 and 3: /health unhealthy twice, /status answers without memory */
    for (int p = 0; p < 2; p++) {
        begin(&o, "kvscope/lmcache_http");
        http_rec(&o, url, "health", "unhealthy", "engine not initialized");
        http_rec(&o, url, "status", "healthy", NULL);
        kvs_evrx_int(&o, "lmcache.l1.object_count", 7 + p);
        static const char *const c[] = {"lmcache_http_health_unhealthy"}, *const m[] = {"engine not initialized"};
        http_summary(&o, url, 1, 0, eps, 2, NULL, 0, c, m, 1);
        feed(ev, &o);
    }
    const kvs_lmc_http_facts *h = kvs_lmc_evidence_http(ev);
    assert_int_equal(h->healthy, 0);
    assert_string_equal(h->engine_type, "MPCacheEngine");   /* kept: not said again */
    assert_true(h->l1_memory_used_bytes == 100.0);           /* kept */
    assert_true(h->l1_total_object_count == 8.0);            /* last value wins */
    assert_int_equal(h->endpoints, 2);                       /* distinct endpoints */
    const kvs_lmc_http_failure *f;
    assert_int_equal(kvs_lmc_evidence_http_failures(ev, &f), 1);
    assert_lane(ev, KVS_LMC_LANE_HTTP, true, true, 6, 0, 1); /* answers add; one source */

    /* poll 4: /health recovered, /status unreachable this time */
    begin(&o, "kvscope/lmcache_http");
    http_rec(&o, url, "health", "healthy", NULL);
    http_rec(&o, url, "status", "unavailable", NULL);
    static const char *const down[] = {"status"};
    http_summary(&o, url, 1, 1, eps, 2, down, 1, NULL, NULL, 0);
    feed(ev, &o);
    h = kvs_lmc_evidence_http(ev);
    assert_int_equal(h->healthy, 1);                         /* the latest answer of every endpoint */
    assert_int_equal(h->endpoints, 2);
    assert_int_equal(kvs_lmc_evidence_http_failures(ev, &f), 1); /* it was unhealthy during the observation */
    assert_lane(ev, KVS_LMC_LANE_HTTP, true, true, 7, 0, 1);
    kvs_lmc_diagnosis *d = diag(ev);
    assert_non_null(kvs_lmc_diagnosis_finding(d, "lmcache_http_health_unhealthy"));
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_MP);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_http_unreachable(void **state)
{
    (void)state;
    const char *url = "http://127.0.0.1:9";
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o;
    begin(&o, "kvscope/lmcache_http");
    http_rec(&o, url, "health", "unavailable", NULL);
    http_rec(&o, url, "status", "unavailable", NULL);
    static const char *const eps[] = {"health", "status"};
    http_summary(&o, url, 0, 0, eps, 2, eps, 2, NULL, NULL, 0);
    feed(ev, &o);
    const kvs_lmc_http_facts *h = kvs_lmc_evidence_http(ev);
    assert_non_null(h);
    assert_int_equal(h->healthy, -1);
    assert_int_equal(h->endpoints, 0);
    assert_null(h->engine_type);
    assert_true(isnan(h->l1_memory_used_bytes));
    assert_lane(ev, KVS_LMC_LANE_HTTP, false, false, 0, 0, 1);
    kvs_lmc_diagnosis *d = diag(ev);
    /* given but unreadable */
    assert_int_equal(row_status(d, "lmcache_http", "mp_http_api"), KVS_LMC_ST_MISSING);
    assert_true(d->lanes[KVS_LMC_LANE_HTTP].provided);
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_UNKNOWN);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_trace_recording_and_replay_lanes(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o;
    /* a recording followed while it grows, then read to its end */
    begin(&o, "kvscope/lmcache_trace");
    lct_request(&o, "/t/a.lct", "req-1");
    lct_rec(&o, "/t/a.lct", 1, 10, 0, 0, 1);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_TRACE_RECORDING, true, true, 10, 0, 1);
    begin(&o, "kvscope/lmcache_trace");
    lct_request(&o, "/t/a.lct", "req-2");
    lct_rec(&o, "/t/a.lct", 1, 25, 1, 1, 0);
    /* and a file that is not a trace */
    lct_rec(&o, "/t/b.lct", 0, 0, 0, 0, 0);
    feed(ev, &o);
    /* the last summary of a.lct wins (25, not 35); skipped + truncated + the bad file */
    assert_lane(ev, KVS_LMC_LANE_TRACE_RECORDING, true, true, 25, 3, 2);
    /* the same path recorded again (a new file after the first was read to its end) adds */
    begin(&o, "kvscope/lmcache_trace");
    lct_rec(&o, "/t/a.lct", 1, 4, 0, 0, 0);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_TRACE_RECORDING, true, true, 29, 3, 2);
    assert_false(kvs_lmc_evidence_lane(ev, KVS_LMC_LANE_TRACE_REPLAY)->provided);

    begin(&o, "kvscope/lmcache_trace");
    replay_rec(&o, "/t/replay.csv", 12, 2);
    replay_rec(&o, "/t/garbage.json", 0, 1);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_TRACE_REPLAY, true, true, 12, 3, 2);
    /* the replay output read again after it changed: last wins */
    begin(&o, "kvscope/lmcache_trace");
    replay_rec(&o, "/t/replay.csv", 14, 0);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_TRACE_REPLAY, true, true, 14, 1, 2);
    assert_false(kvs_lmc_evidence_lane(ev, KVS_LMC_LANE_LOGS)->provided);

    kvs_lmc_diagnosis *d = diag(ev);
    assert_int_equal(row_status(d, "lmcache_trace_recording", "storage_lct"), KVS_LMC_ST_POPULATED);
    assert_int_equal(row_status(d, "lmcache_trace_replay", "replay_outputs"), KVS_LMC_ST_POPULATED);
    assert_int_equal(d->surfaces[KVS_LMC_FS_TRACE_RECORDING].status, KVS_LMC_SS_COMPLETE);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);

    /* only an unreadable recording: given, not present */
    ev = kvs_lmc_evidence_new(NULL);
    begin(&o, "kvscope/lmcache_trace");
    lct_rec(&o, "/t/b.lct", 0, 0, 0, 0, 0);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_TRACE_RECORDING, false, false, 0, 1, 1);
    kvs_lmc_config c;
    kvs_lmc_config_default(&c);
    c.trace_recording_enabled = true;
    kvs_error err = {0};
    d = kvs_lmc_diagnose(ev, &c, &err);
    assert_non_null(d);
    assert_int_equal(row_status(d, "lmcache_trace_recording", "storage_lct"), KVS_LMC_ST_MISSING);
    assert_non_null(kvs_lmc_diagnosis_finding(d, "lmcache_mp_trace_enabled_but_no_trace_artifact"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_lookup_hash_lane(void **state)
{
    (void)state;
    const char *a = "/l/lookup_hashes_1.jsonl", *b = "/l/lookup_hashes_2.jsonl";
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o;
    begin(&o, "kvscope/lmcache_lookup_hash");
    for (int i = 1; i <= 3; i++)
        lookup_row(&o, a, i);
    lookup_summary(&o, a, 3, 2, 0);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_LOOKUP_HASH, true, true, 3, 2, 1);
    begin(&o, "kvscope/lmcache_lookup_hash");
    lookup_row(&o, a, 6);
    lookup_summary(&o, a, 4, 2, 1); /* rotated away */
    lookup_summary(&o, b, 2, 0, 0); /* rows not emitted for this one */
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_LOOKUP_HASH, true, true, 6, 2, 2);
    /* a new file under the rotated name: its rows add */
    begin(&o, "kvscope/lmcache_lookup_hash");
    lookup_row(&o, a, 1);
    feed(ev, &o);
    assert_lane(ev, KVS_LMC_LANE_LOOKUP_HASH, true, true, 7, 2, 2);
    assert_false(kvs_lmc_evidence_lane(ev, KVS_LMC_LANE_LOGS)->provided);
    kvs_lmc_diagnosis *d = diag(ev);
    assert_int_equal(row_status(d, "lmcache_lookup_hash", "lookup_hash_jsonl"), KVS_LMC_ST_POPULATED);
    assert_int_equal(d->surfaces[KVS_LMC_FS_LOOKUP_HASH].status, KVS_LMC_SS_COMPLETE);
    assert_int_equal(row_status(d, "lmcache_logs", "lifecycle_logs"), KVS_LMC_ST_MISSING);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

static void test_log_records(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o;
    begin(&o, "kvscope/filelog");
    log_rec(&o, "/logs/vllm.log",
            "INFO 01-15 10:00:01 [factory.py:50] Creating v1 connector with name: LMCacheConnectorV1", NULL, 0);
    log_rec(&o, "/logs/vllm.log", "INFO 01-15 10:00:02 LMCache stored 512 tokens", NULL, 0);
    /* the receiver placed this line in SGLang (its file): an embedded candidate */
    static const char *const emb[] = {"embedded"};
    log_rec(&o, "/logs/sglang.log", "LMCacheConnector initialized", emb, 1);
    feed(ev, &o);
    const kvs_lmc_log_stats *ls = kvs_lmc_evidence_logs(ev);
    assert_int_equal(ls->lines, 3);
    assert_int_equal(ls->cats[KVS_LMC_LOG_STORE], 1);
    assert_true(ls->modes & KVS_LMC_LOGMODE_EMBEDDED);
    assert_true(kvs_lmc_strset_has(kvs_lmc_evidence_set(ev, KVS_LMC_SET_LOG_CONNECTOR), "LMCacheConnectorV1"));
    assert_lane(ev, KVS_LMC_LANE_LOGS, true, true, 3, 0, 2);

    /* an engine log over OTLP (no event name), a finding kvscope wrote,
     * a non-string body */
    begin(&o, "vllm");
    const char *engine = "WARNING 01-15 10:00:05 LMCache P2P transfer to peer 10.0.0.2 failed: connection refused";
    kvs_evrx_log(&o, 0, NULL, 13, "WARN", engine, strlen(engine));
    const char *finding = "12 log lines in category p2p_transfer_failure";
    kvs_evrx_log(&o, 0, "kvscope.finding", 13, "WARN", finding, strlen(finding));
    kvs_evrx_str(&o, "kvscope.finding.code", "lmcache_log_p2p_transfer_failure");
    kvs_evrx_log(&o, 0, NULL, 9, "INFO", NULL, 0);
    feed(ev, &o);
    assert_int_equal(ls->lines, 4);
    assert_int_equal(ls->cats[KVS_LMC_LOG_P2P_TRANSFER_FAILURE], 1);
    assert_int_equal(kvs_lmc_evidence_lane(ev, KVS_LMC_LANE_LOGS)->files, 2);

    kvs_lmc_diagnosis *d = diag(ev);
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_EMBEDDED);
    assert_string_equal(d->mode.mode_source, "signals");
    assert_int_equal(row_status(d, "lmcache_logs", "lifecycle_logs"), KVS_LMC_ST_POPULATED);
    assert_int_equal(row_status(d, "lmcache_http", "mp_http_api"), KVS_LMC_ST_MISSING);
    assert_non_null(kvs_lmc_diagnosis_finding(d, "lmcache_log_p2p_transfer_failure"));
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* A backend that dropped event_name: `kvscope.evidence.kind` tells. */
static void test_kind_without_event_name(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o;
    begin(&o, "kvscope/lmcache_http");
    const char *line = "GET /status: 200 healthy";
    kvs_evrx_log(&o, 0, NULL, 9, "INFO", line, strlen(line));
    kvs_evrx_str(&o, "kvscope.evidence.kind", "http");
    kvs_evrx_str(&o, "kvscope.lmcache.http.endpoint", "status");
    kvs_evrx_str(&o, "kvscope.lmcache.http.status", "healthy");
    kvs_evrx_str(&o, "url.full", "http://lmcache:8080");
    kvs_evrx_str(&o, "kvscope.lmcache.http.content_type", "json");
    kvs_evrx_str(&o, "lmcache.engine_type", "MPCacheEngine");
    kvs_evrx_log(&o, 0, NULL, 9, "INFO", "rows", 4);
    kvs_evrx_str(&o, "kvscope.evidence.kind", "lookup_hash");
    kvs_evrx_str(&o, "lmcache.lookup_hash.file", "/l/x.jsonl");
    kvs_evrx_int(&o, "lmcache.lookup_hash.rows", 9);
    kvs_evrx_int(&o, "lmcache.lookup_hash.malformed_rows", 0);
    kvs_evrx_log(&o, 0, NULL, 9, "INFO", "x.lct", 5);
    kvs_evrx_str(&o, "kvscope.evidence.kind", "lct");
    kvs_evrx_str(&o, "lmcache.trace.file", "/t/x.lct");
    kvs_evrx_bool(&o, "lmcache.trace.valid", 1);
    kvs_evrx_int(&o, "lmcache.trace.records", 2);
    feed(ev, &o);
    assert_int_equal(kvs_lmc_evidence_logs(ev)->lines, 0);
    assert_string_equal(kvs_lmc_evidence_http(ev)->engine_type, "MPCacheEngine");
    assert_int_equal(kvs_lmc_evidence_http(ev)->healthy, 1);
    assert_lane(ev, KVS_LMC_LANE_HTTP, true, true, 1, 0, 1);
    assert_lane(ev, KVS_LMC_LANE_LOOKUP_HASH, true, true, 9, 0, 1);
    assert_lane(ev, KVS_LMC_LANE_TRACE_RECORDING, true, true, 2, 0, 1);
    kvs_lmc_evidence_free(ev);
}

/* The same records in one request, or one request per record, in the
 * order the receivers send them: the same evidence, byte-identical
 * reports. */
static void all_kinds(kvs_evrx_out *o, int per_record, kvs_lmc_evidence *ev)
{
#define STEP(code)                                                                                                     \
    do {                                                                                                               \
        if (per_record || !o->b)                                                                                       \
            begin(o, "kvscope/test");                                                                                  \
        code;                                                                                                          \
        if (per_record)                                                                                                \
            feed(ev, o);                                                                                               \
    } while (0)
    STEP(http_rec(o, "/e/http/health.json", "health", "unhealthy", "engine not initialized"));
    STEP((http_rec(o, "/e/http/status.json", "status", "healthy", NULL),
          kvs_evrx_str(o, "lmcache.engine_type", "MPCacheEngine"), kvs_evrx_int(o, "lmcache.l1.object_count", 3)));
    STEP(lct_request(o, "/t/a.lct", "r1"));
    STEP(lct_rec(o, "/t/a.lct", 1, 6, 1, 0, 0));
    STEP(replay_rec(o, "/t/r.csv", 5, 0));
    STEP(lookup_row(o, "/l/a.jsonl", 1));
    STEP(lookup_row(o, "/l/a.jsonl", 2));
    STEP(lookup_summary(o, "/l/a.jsonl", 2, 1, 1));
    STEP(log_rec(o, "/logs/lmcache.log", "[2026-01-15 10:00:00,000] LMCache INFO: LMCache server started", NULL, 0));
    STEP(log_rec(o, "/logs/lmcache.log", "Prefetch request completed (L1+L2): 0/8 prefix hits (0 L1, 0 L2)", NULL, 0));
#undef STEP
    if (!per_record)
        feed(ev, o);
}

static char *compat_text(kvs_lmc_evidence *ev)
{
    kvs_lmc_diagnosis *d = diag(ev);
    kvs_buf b = {0};
    assert_int_equal(kvs_lmc_report_write(d, KVS_LMC_REPORT_COMPAT, &b), 0);
    kvs_buf_append(&b, "", 1);
    kvs_lmc_diagnosis_free(d);
    return b.data;
}

static void test_batch_split_is_deterministic(void **state)
{
    (void)state;
    kvs_lmc_evidence *one = kvs_lmc_evidence_new(NULL), *many = kvs_lmc_evidence_new(NULL);
    kvs_evrx_out o = {0};
    all_kinds(&o, 0, one);
    all_kinds(&o, 1, many);
    for (int id = 0; id < KVS_LMC_LANE__COUNT; id++) {
        const kvs_lmc_lane *x = kvs_lmc_evidence_lane(one, (kvs_lmc_lane_id)id);
        const kvs_lmc_lane *y = kvs_lmc_evidence_lane(many, (kvs_lmc_lane_id)id);
        assert_int_equal(x->provided, y->provided);
        assert_int_equal(x->present, y->present);
        assert_int_equal(x->measured, y->measured);
        assert_int_equal(x->records, y->records);
        assert_int_equal(x->parse_errors, y->parse_errors);
        assert_int_equal(x->files, y->files);
    }
    const kvs_lmc_http_facts *a = kvs_lmc_evidence_http(one), *b = kvs_lmc_evidence_http(many);
    assert_string_equal(a->engine_type, b->engine_type);
    assert_int_equal(a->healthy, 0);
    assert_int_equal(b->healthy, 0);
    assert_int_equal(a->endpoints, b->endpoints);
    assert_int_equal(kvs_lmc_evidence_logs(one)->lines, 2);
    assert_int_equal(kvs_lmc_evidence_logs(many)->cats[KVS_LMC_LOG_ZERO_HIT], 1);
    assert_lane(one, KVS_LMC_LANE_LOOKUP_HASH, true, true, 2, 1, 1);
    char *ta = compat_text(one), *tb = compat_text(many);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    kvs_lmc_evidence_free(one);
    kvs_lmc_evidence_free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_payloads_become_facts),
        cmocka_unit_test(test_http_polls_merge),
        cmocka_unit_test(test_http_unreachable),
        cmocka_unit_test(test_trace_recording_and_replay_lanes),
        cmocka_unit_test(test_lookup_hash_lane),
        cmocka_unit_test(test_log_records),
        cmocka_unit_test(test_kind_without_event_name),
        cmocka_unit_test(test_batch_split_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
