/* The evidence receivers end to end through the engine (receiver -> file
 * exporter, OTLP/JSON read back): what a downstream diagnosis gets.
 *   - lmcache_trace: a recording written in LMCache's format (requests
 *     with hits and misses, a corrupt record, a truncated tail) and replay
 *     outputs (JSON tied by digest, CSV, JSONL, trace-info text): summary,
 *     per-request and replay records with their attributes, and metrics;
 *   - filelog: the log fixtures in replay (categories, sources, severity,
 *     connectors, hints, only_classified, line counts), and following a
 *     file across rotation and truncation;
 *   - lmcache_lookup_hash: rows and the per-file summary, no raw hash in
 *     the output;
 *   - lmcache_http over saved payloads (healthy and unhealthy folders);
 *   - config errors of each receiver. */
#include "lct_writer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "evidence_harness.h"
#include "unit_helpers.h"

static char tmpdir[256];

static const char *tmp(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static char yaml[8192];

/* receivers: <recv> ; logs (+ metrics) -> file */
static const char *pipeline(const char *recv_type, const char *recv_body, const char *out, int metrics)
{
    snprintf(yaml, sizeof yaml,
             "receivers:\n  %s:\n%s"
             "exporters:\n  file:\n    path: \"%s\"\n    flush_interval: 10ms\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n    logs: {receivers: [%s], exporters: [file]}\n%s",
             recv_type, recv_body, out, recv_type, "");
    if (metrics) {
        size_t n = strlen(yaml);
        snprintf(yaml + n, sizeof yaml - n, "    metrics: {receivers: [%s], exporters: [file]}\n", recv_type);
    }
    return yaml;
}

/* ---- lmcache_trace ---- */

static void write_recording(const char *path)
{
    lctw w;
    assert_int_equal(lctw_open(&w, path, 2), 0);
    lctw_header(&w, 2, "d1g35t");
    lctw_request(&w, 1.0, "req-a", 0, 8, 6);      /* 6 hits, 2 stored */
    lctw_request(&w, 2.0, "req-b", 100, 4, 0);    /* all misses */
    lctw_request(&w, 3.0, "req-c", 0, 8, 8);      /* all hits */
    unsigned char junk[] = { 0, 0, 0, 3, 0xc1, 0xc1, 0xc1 };
    lctw_raw(&w, junk, sizeof junk);
    lctw_reserve_write(&w, 4.0, 500, 2);          /* never finished */
    unsigned char partial[] = { 0, 0, 1, 0, 0x85 };
    lctw_raw(&w, partial, sizeof partial);
    lctw_close(&w);
}

static void test_trace_receiver(void **state)
{
    (void)state;
    write_recording(tmp("run.lct"));
    FILE *f = fopen(tmp("replay.json"), "w");
    fputs("{\"level\": \"storage\", \"sm_config_digest\": \"d1g35t\", \"total_records\": 17, \"duration_s\": 3.01,"
          " \"ops\": {\"lmcache.v1.distributed.storage_manager.StorageManager.reserve_write\":"
          " {\"count\": 3, \"errors\": 1, \"mean_ms\": 0.4, \"p99_ms\": 2.5}}}\n",
          f);
    fclose(f);
    f = fopen(tmp("trace_replay_ops.csv"), "w");
    fputs("qualname,count,errors,mean_ms,p99_ms,max_ms\nStorageManager.finish_write,5,0,0.2,0.9,1.1\n,3,0,,,\n", f);
    fclose(f);
    f = fopen(tmp("replay.jsonl"), "w");
    fputs("{\"qualname\": \"StorageManager.finish_write\", \"latency_ms\": 2}\nnot-json\n"
          "{\"qualname\": \"StorageManager.finish_write\", \"latency_ms\": 4, \"failed\": true}\n",
          f);
    fclose(f);
    f = fopen(tmp("info.txt"), "w");
    fputs("Level: storage\nFormat version: 1\nDuration: 128.222s\nsm_config_digest: other\n"
          "StorageManager.reserve_write: 11\n",
          f);
    fclose(f);
    char body[1024];
    snprintf(body, sizeof body,
             "    include: [\"%s\"]\n    replay_include: [\"%s\", \"%s\", \"%s\", \"%s\"]\n"
             "    request_idle_timeout: 100s\n",
             tmp("*.lct"), tmp("replay.json"), tmp("*.csv"), tmp("*.jsonl"), tmp("info.txt"));
    replay_sums s = replay_run(pipeline("lmcache_trace", body, tmp("trace.out"), 1));
    assert_true(s.accepted > 0);
    assert_int_equal(s.rejected, 0);
    ev_out o = ev_load(tmp("trace.out"));

    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.trace", NULL, NULL);
    assert_non_null(sum);
    assert_string_equal(ev_str(sum, "kvscope.evidence.kind"), "lct");
    assert_true(ev_bool(sum, "lmcache.trace.valid"));
    assert_int_equal(ev_int(sum, "lmcache.trace.schema_version"), 2);
    assert_true(ev_bool(sum, "lmcache.trace.replayable"));
    assert_string_equal(ev_str(sum, "lmcache.trace.sm_config_digest"), "d1g35t");
    assert_int_equal(ev_int(sum, "lmcache.trace.records"), 17);
    assert_int_equal(ev_int(sum, "lmcache.trace.skipped"), 1);
    assert_true(ev_list_has(sum, "lmcache.trace.skipped_records", "record 16"));
    assert_true(ev_bool(sum, "lmcache.trace.truncated"));
    assert_int_equal(ev_map_int(sum, "lmcache.trace.op_counts", "submit_prefetch_task"), 3);
    assert_int_equal(ev_map_int(sum, "lmcache.trace.op_counts", "reserve_write"), 3);
    assert_int_equal(ev_map_int(sum, "lmcache.trace.op_counts", "read_prefetched_results.__enter__"), 2);
    assert_int_equal(ev_map_int(sum, "lmcache.trace.op_keys", "submit_prefetch_task"), 20);
    assert_int_equal(ev_int(sum, "lmcache.trace.write.pairs"), 2);
    assert_true(ev_dbl(sum, "lmcache.trace.write.max_ms") > 4.9 && ev_dbl(sum, "lmcache.trace.write.max_ms") < 5.1);
    assert_int_equal(ev_int(sum, "lmcache.trace.write.unfinished_keys"), 2);
    assert_int_equal(ev_int(sum, "lmcache.trace.read.pairs"), 2);
    assert_int_equal(ev_int(sum, "lmcache.trace.prefetch_read.pairs"), 2);
    assert_int_equal(ev_int(sum, "lmcache.trace.prefetch.handles"), 3);
    assert_int_equal(ev_int(sum, "lmcache.trace.prefetch.l1_prefix_hits"), 14);
    assert_int_equal(ev_int(sum, "lmcache.trace.prefetch.total_requested_keys"), 20);
    assert_true(ev_dbl(sum, "lmcache.trace.prefetch.hit_ratio") == 0.7);
    assert_int_equal(ev_int(sum, "lmcache.trace.requests"), 3);
    assert_true(ev_list_has(sum, "lmcache.trace.models", "Qwen/Qwen3-8B"));
    assert_int_equal(sum->severity_number, 13);

    assert_int_equal(ev_count_event(&o, "kvscope.lmcache.trace.request"), 3);
    const kvs_log_record *ra = ev_find(&o, "kvscope.lmcache.trace.request", "lmcache.request.id", "req-a");
    assert_non_null(ra);
    assert_int_equal(ev_int(ra, "lmcache.request.keys_requested"), 8);
    assert_int_equal(ev_int(ra, "lmcache.request.l1_prefix_hits"), 6);
    assert_int_equal(ev_int(ra, "lmcache.request.read_keys"), 6);
    assert_int_equal(ev_int(ra, "lmcache.request.stored_keys"), 2);
    assert_string_equal(ev_str(ra, "lmcache.request.ops"), "submit,query_prefetch_status,enter,exit,read_done,reserve,write_done");
    assert_true(ev_dbl(ra, "lmcache.request.write_ms") > 4.9);
    assert_true(ra->time_unix_nano > 1767225600ull * 1000000000ull);
    const kvs_log_record *rb = ev_find(&o, "kvscope.lmcache.trace.request", "lmcache.request.id", "req-b");
    assert_int_equal(ev_int(rb, "lmcache.request.l1_prefix_hits"), 0);
    assert_int_equal(ev_int(rb, "lmcache.request.stored_keys"), 4);

    const kvs_log_record *rj = ev_find(&o, "kvscope.lmcache.trace.replay", "lmcache.replay.kind", "json");
    assert_non_null(rj);
    assert_true(ev_bool(rj, "lmcache.replay.digest_match"));
    assert_non_null(strstr(ev_str(rj, "lmcache.replay.recording"), "run.lct"));
    assert_true(ev_bool(rj, "lmcache.replay.records_match"));
    assert_int_equal(ev_int(rj, "lmcache.replay.failed_rows"), 1);
    const kvs_log_record *rc = ev_find(&o, "kvscope.lmcache.trace.replay", "lmcache.replay.kind", "ops_csv");
    assert_non_null(rc);
    assert_int_equal(ev_map_int(rc, "lmcache.replay.op_counts", "StorageManager.finish_write"), 5);
    assert_true(ev_list_has(rc, "lmcache.replay.parse_errors", "missing qualname"));
    const kvs_log_record *rl = ev_find(&o, "kvscope.lmcache.trace.replay", "lmcache.replay.kind", "jsonl");
    assert_int_equal(ev_int(rl, "lmcache.replay.failed_rows"), 1);
    assert_int_equal(ev_int(rl, "lmcache.replay.error_count"), 1);
    const kvs_log_record *ri = ev_find(&o, "kvscope.lmcache.trace.replay", "lmcache.replay.kind", "trace_info");
    assert_true(ev_dbl(ri, "lmcache.replay.duration_s") == 128.222);
    assert_false(ev_bool(ri, "lmcache.replay.digest_match"));

    assert_true(ev_point(&o, "kvscope.lmcache.trace.records", NULL, NULL) == 17);
    assert_true(ev_point(&o, "kvscope.lmcache.trace.ops", "lmcache.trace.op", "finish_write") == 2);
    assert_non_null(ev_metric(&o, "kvscope.lmcache.trace.pair.latency"));
    assert_true(ev_point(&o, "kvscope.lmcache.trace.truncated", NULL, NULL) == 1);
    ev_free(&o);
}

static void test_trace_bad_files(void **state)
{
    (void)state;
    FILE *f = fopen(tmp("bad.lct"), "w");
    fputs("this is not a trace\n", f);
    fclose(f);
    f = fopen(tmp("empty.lct"), "w");
    fclose(f);
    char body[512];
    snprintf(body, sizeof body, "    include: [\"%s\", \"%s\"]\n", tmp("bad.lct"), tmp("empty.lct"));
    replay_run(pipeline("lmcache_trace", body, tmp("bad.out"), 0));
    ev_out o = ev_load(tmp("bad.out"));
    assert_int_equal(ev_count_event(&o, "kvscope.lmcache.trace"), 2);
    for (size_t i = 0; i < o.nrecs; i++) {
        assert_false(ev_bool(o.recs[i], "lmcache.trace.valid"));
        assert_non_null(ev_str(o.recs[i], "lmcache.trace.error"));
        assert_int_equal(o.recs[i]->severity_number, 17);
    }
    ev_free(&o);
}

/* ---- filelog ---- */

static void test_filelog_replay(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body, "    include: [\"%s\"]\n", src("fixtures/evidence/logs/*.log"));
    replay_sums s = replay_run(pipeline("filelog", body, tmp("logs.out"), 1));
    assert_true(s.accepted > 41);   /* 41 lines + the line counts */
    ev_out o = ev_load(tmp("logs.out"));
    assert_int_equal(ev_count_event(&o, "kvscope.lmcache.log"), 41);
    int stored = 0, controller = 0;
    for (size_t i = 0; i < o.nrecs; i++) {
        const kvs_log_record *r = o.recs[i];
        const char *body_s = r->body->string_value;
        assert_null(strchr(body_s, 0x1b));                       /* ANSI stripped */
        assert_non_null(ev_str(r, "kvscope.log.category"));
        assert_non_null(ev_str(r, "log.file.path"));
        if (strstr(body_s, "Stored 256 out of total")) {
            stored = 1;
            assert_string_equal(ev_str(r, "kvscope.log.category"), "store");
            assert_string_equal(ev_str(r, "kvscope.log.source"), "lmcache");
            assert_int_equal(r->severity_number, 9);
            assert_string_equal(r->severity_text, "INFO");
        }
        if (strstr(body_s, "Starting StoreController")) {
            controller++;
            assert_string_equal(ev_str(r, "kvscope.log.category"), "health_startup");
            assert_false(ev_list_has(r, "kvscope.log.categories", "store"));
        }
        if (strstr(body_s, "12.5 GB/s")) {
            assert_true(ev_dbl(r, "kvscope.log.speed") == 12.5);
            assert_true(ev_list_has(r, "kvscope.log.categories", "p2p_transfer_speed"));
        }
        if (strstr(body_s, "LMCacheConnectorV1Dynamic and engine_id")) {
            assert_true(ev_list_has(r, "kvscope.lmcache.connectors", "LMCacheConnectorV1Dynamic"));
            assert_true(ev_list_has(r, "kvscope.lmcache.mode_candidates", "embedded"));
            assert_string_equal(ev_str(r, "kvscope.log.source"), "vllm");
        }
        if (strstr(body_s, "enable_p2p: true")) {
            assert_true(ev_bool(r, "kvscope.lmcache.enable_p2p"));
            assert_string_equal(ev_str(r, "kvscope.lmcache.pythonhashseed"), "42");
        }
        if (strstr(body_s, "LMCacheConnector initialized"))
            assert_null(ev_attr(r, "kvscope.lmcache.stale_connector"));
        if (strstr(body_s, "cache warming finished")) {
            assert_string_equal(ev_str(r, "kvscope.log.category"), "other");
            assert_string_equal(ev_str(r, "kvscope.log.source"), "unknown");
        }
        if (strstr(body_s, "fired up"))
            assert_string_equal(ev_str(r, "kvscope.log.source"), "sglang");
    }
    assert_true(stored);
    assert_int_equal(controller, 2);
    assert_true(ev_point(&o, "kvscope.lmcache.log.lines", "kvscope.log.category", "store") >= 1);
    ev_free(&o);

    /* only_classified drops the lines of no category */
    snprintf(body, sizeof body, "    include: [\"%s\"]\n    only_classified: true\n",
             src("fixtures/evidence/logs/false_positives.log"));
    replay_run(pipeline("filelog", body, tmp("logs2.out"), 0));
    o = ev_load(tmp("logs2.out"));
    assert_int_equal(o.nrecs, 1);
    assert_string_equal(ev_str(o.recs[0], "kvscope.log.category"), "health_startup");
    ev_free(&o);
}

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    fputs(text, f);
    fclose(f);
}

/* Waits (up to 20 s) until the output holds `want` log records. */
static size_t wait_records(const char *path, size_t want)
{
    size_t n = 0;
    for (int i = 0; i < 400; i++) {
        ev_out o = ev_load(path);
        n = o.nrecs;
        ev_free(&o);
        if (n >= want)
            break;
        usleep(50 * 1000);
    }
    return n;
}

static void test_filelog_follow_rotation(void **state)
{
    (void)state;
    char log[512];
    snprintf(log, sizeof log, "%s", tmp("follow/app.log"));
    mkdir(tmp("follow"), 0755);
    append(log, "old line before start\n");
    char body[512];
    snprintf(body, sizeof body, "    include: [\"%s\"]\n    poll_interval: 20ms\n", tmp("follow/app.log*"));
    const char *y = pipeline("filelog", body, tmp("follow.out"), 0);
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_parse("t.yaml", y, strlen(y), NULL, NULL, &err);
    assert_non_null(cfg);
    kvs_engine_opts opts = { 0 };
    kvs_engine *e = kvs_engine_create(cfg, &opts, &err);
    assert_non_null(e);
    assert_int_equal(kvs_engine_start(e, &err), 0);
    usleep(100 * 1000);
    append(log, "line 1\nline 2\npartial");
    assert_int_equal(wait_records(tmp("follow.out"), 2), 2);
    append(log, " line 3\n");                       /* completes the partial line */
    assert_int_equal(wait_records(tmp("follow.out"), 3), 3);
    /* rotate: rename (still matched) and a new file; the old one gets a last line */
    assert_int_equal(rename(log, tmp("follow/app.log.1")), 0);
    append(tmp("follow/app.log.1"), "line 4 after rename\n");
    append(log, "line 5 new file\n");
    assert_int_equal(wait_records(tmp("follow.out"), 5), 5);
    /* copytruncate */
    FILE *f = fopen(log, "w");
    fputs("line 6 after truncate\n", f);
    fclose(f);
    assert_int_equal(wait_records(tmp("follow.out"), 6), 6);
    /* removed: read to its end (a last line without newline too) */
    append(tmp("follow/app.log.1"), "line 7 last");
    unlink(tmp("follow/app.log.1"));
    assert_int_equal(wait_records(tmp("follow.out"), 7), 7);
    kvs_engine_request_stop(e);
    kvs_engine_shutdown(e);
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    ev_out o = ev_load(tmp("follow.out"));
    static const char *const want[] = { "line 1", "line 2", "partial line 3", "line 4 after rename",
                                        "line 5 new file", "line 6 after truncate", "line 7 last" };
    assert_int_equal(o.nrecs, 7);
    for (size_t i = 0; i < 7; i++) {
        int found = 0;
        for (size_t j = 0; j < o.nrecs; j++)
            found += strcmp(o.recs[j]->body->string_value, want[i]) == 0;
        if (found != 1)
            fail_msg("\"%s\" delivered %d times", want[i], found);
    }
    assert_null(strstr(o.text, "old line before start"));  /* start_at: end */
    ev_free(&o);
}

/* ---- lookup hash ---- */

static void test_lookup_hash_receiver(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body, "    include: [\"%s\"]\n", src("fixtures/evidence/lookup_hash/lookup_hashes_*.jsonl"));
    replay_sums s = replay_run(pipeline("lmcache_lookup_hash", body, tmp("lh.out"), 1));
    assert_int_equal(s.errors, 2);
    ev_out o = ev_load(tmp("lh.out"));
    assert_int_equal(ev_count_event(&o, "kvscope.lmcache.lookup_hash"), 4);
    const kvs_log_record *r = ev_find(&o, "kvscope.lmcache.lookup_hash", "lmcache.request.id", "cmpl-1");
    assert_non_null(r);
    assert_int_equal(ev_int(r, "lmcache.lookup_hash.chunk_hash_count"), 2);
    assert_true(ev_bool(r, "lmcache.lookup_hash.chunk_hashes_redacted"));
    assert_int_equal(ev_int(r, "lmcache.lookup_hash.seq_len"), 512);
    assert_string_equal(ev_str(r, "lmcache.model_name"), "Qwen/Qwen3-8B");
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.lookup_hash.summary", NULL, NULL);
    assert_non_null(sum);
    assert_int_equal(ev_int(sum, "lmcache.lookup_hash.rows"), 4);
    assert_int_equal(ev_int(sum, "lmcache.lookup_hash.malformed_rows"), 2);
    assert_int_equal(ev_int(sum, "lmcache.lookup_hash.seq_len.max"), 1024);
    assert_true(ev_list_has(sum, "lmcache.lookup_hash.chunk_sizes", "256"));
    assert_true(ev_bool(sum, "lmcache.lookup_hash.rotation_configured"));
    assert_string_equal(ev_str(sum, "lmcache.lookup_hash.config.max_files"), "5");
    assert_true(ev_point(&o, "kvscope.lmcache.lookup_hash.rows", NULL, NULL) == 4);
    /* never a raw hash anywhere in the output */
    assert_null(strstr(o.text, "9f86d081884c7d65"));
    assert_null(strstr(o.text, "60303ae22b998861"));
    assert_null(strstr(o.text, "fd61a03af4f77d87"));
    ev_free(&o);
}

/* ---- lmcache_http over saved payloads ---- */

static void test_http_saved_payloads(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body, "    include: [\"%s\"]\n", src("fixtures/evidence/http/healthy/*"));
    replay_run(pipeline("lmcache_http", body, tmp("http.out"), 1));
    ev_out o = ev_load(tmp("http.out"));
    const kvs_log_record *sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_non_null(sum);
    assert_true(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.skipped_endpoints", "POST /clear-cache"));
    const kvs_log_record *st = ev_find(&o, "kvscope.lmcache.http", "kvscope.lmcache.http.endpoint", "status");
    assert_non_null(st);
    assert_int_equal(ev_int(st, "lmcache.l1.memory_used_bytes"), 490733568);
    assert_int_equal(ev_int(st, "lmcache.l1.object_count"), 1917);
    assert_string_equal(ev_str(st, "lmcache.engine_type"), "MPCacheEngine");
    const kvs_log_record *env = ev_find(&o, "kvscope.lmcache.http", "kvscope.lmcache.http.endpoint", "env");
    assert_non_null(env);
    assert_null(strstr(o.text, "hunter2"));
    assert_null(strstr(o.text, "hf_abcdefghij"));
    assert_true(ev_point(&o, "kvscope.lmcache.http.l1.memory_used", NULL, NULL) == 490733568);
    ev_free(&o);

    snprintf(body, sizeof body, "    include: [\"%s\"]\n", src("fixtures/evidence/http/unhealthy/*.json"));
    replay_run(pipeline("lmcache_http", body, tmp("http2.out"), 0));
    o = ev_load(tmp("http2.out"));
    sum = ev_find(&o, "kvscope.lmcache.http.summary", NULL, NULL);
    assert_false(ev_bool(sum, "kvscope.lmcache.http.is_healthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.failure_reasons", "lmcache_http_health_unhealthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.failure_reasons", "lmcache_http_status_unhealthy"));
    assert_true(ev_list_has(sum, "kvscope.lmcache.http.failure_reasons", "lmcache_http_periodic_threads_health_unhealthy"));
    st = ev_find(&o, "kvscope.lmcache.http", "kvscope.lmcache.http.endpoint", "status");
    assert_true(ev_list_has(st, "lmcache.unhealthy_components", "l1_eviction_controller: thread_alive=false"));
    ev_free(&o);
}

static void test_config_errors(void **state)
{
    (void)state;
    replay_expect_invalid(pipeline("lmcache_trace", "    includes: [x]\n", "/dev/null", 0), "unknown key \"includes\"");
    replay_expect_invalid(pipeline("lmcache_trace", "    exclude: [x]\n", "/dev/null", 0), "include");
    replay_expect_invalid(pipeline("filelog", "    include: [x]\n    start_at: middle\n", "/dev/null", 0), "start_at");
    replay_expect_invalid(pipeline("filelog", "    poll_interval: 5s\n", "/dev/null", 0), "`include` is required");
    replay_expect_invalid(pipeline("lmcache_lookup_hash", "    emit_rows: maybe\n", "/dev/null", 0), "emit_rows");
    replay_expect_invalid(pipeline("lmcache_http", "    endpoint: localhost:8080\n", "/dev/null", 0), "http://");
    replay_expect_invalid(pipeline("lmcache_http", "    endpoints: [status, clear_cache]\n", "/dev/null", 0),
                      "unknown endpoint \"clear_cache\"");
    replay_expect_invalid(pipeline("lmcache_http", "    thread_name: a/b\n", "/dev/null", 0), "thread_name");
    replay_expect_invalid(pipeline("lmcache_http", "    api_paths: newest\n", "/dev/null", 0), "api_paths");
}

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(tmpdir, sizeof tmpdir, "kvs_evrx");
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_receiver),
        cmocka_unit_test(test_trace_bad_files),
        cmocka_unit_test(test_filelog_replay),
        cmocka_unit_test(test_filelog_follow_rotation),
        cmocka_unit_test(test_lookup_hash_receiver),
        cmocka_unit_test(test_http_saved_payloads),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
