/* lmcache_correlate in a replay, in process (otlpjsonfile ->
 * lmcache_correlate -> file), as `kvscope replay` runs it:
 *  - fixtures/otlp/lmcache_mp_traces.jsonl + vllm_engine_traces.jsonl give
 *    the totals fixtures/otlp/README.md documents;
 *  - 10,000 generated requests (fixtures/correlate/correlate_gen.h) come out
 *    with every annotation equal to the generator's ground truth (values
 *    compared exactly, absent fields absent), links where the engine span
 *    is in another trace, and as many spans out as in. */
#include "core/engine.h"
#include "core/service_config.h"
#include "fixtures/correlate/correlate_gen.h"
#include "formats/otlp_json.h"
#include "lmcache/request.h"
#include "processors/lmcache_correlate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "replay_harness.h"
#include "unit_helpers.h"

#define P "kvscope.lmcache."

static char tmpdir[256];
static void *corr;
static kvs_lmc_correlate_stats last;
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
    if (kind == KVS_PROCESSOR && len == strlen(wrapped.type) && memcmp(type, wrapped.type, len) == 0)
        return &wrapped;
    return kvs_component_find(kind, type, len);
}

/* After the replay: what lmcache_correlate counted, into *ctx. */
static void take_stats(kvs_engine *e, void *ctx)
{
    (void)e;
    kvs_lmc_correlate_stats *st = ctx;
    kvs_lmcache_correlate_stats(corr, st);
}

/* Replays the inputs (a YAML list's items) through lmcache_correlate into
 * the file out; `last` gets the processor's counters. */
static replay_sums replay(const char *inputs, const char *out)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  otlpjsonfile:\n    include: [%s]\n"
             "processors:\n  lmcache_correlate:\n"
             "exporters:\n  file:\n    path: \"%s\"\n"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [otlpjsonfile], processors: [lmcache_correlate], exporters: [file]}\n",
             inputs, out);
    wrapped = kvs_processor_lmcache_correlate;
    wrapped.create = corr_create;
    kvs_component_lookup lk = { find, NULL };
    return replay_run_with(yaml, &lk, take_stats, &last);
}

/* Calls fn for every span of every line of an OTLP/JSON lines file. */
typedef void (*span_fn)(void *ctx, const kvs_span *s, const kvs_resource_spans *rs);

static size_t each_span(const char *path, span_fn fn, void *ctx)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        kvs_arena *a = kvs_arena_new();
        kvs_otlp_doc d = { 0 };
        kvs_json_error je;
        if (kvs_otlp_json_decode(line, (size_t)len, a, &d, &je) != 0)
            fail_msg("%s: %s", path, je.msg);
        for (size_t i = 0; d.traces && i < d.traces->n_resource_spans; i++) {
            const kvs_resource_spans *rs = d.traces->resource_spans[i];
            for (size_t j = 0; j < rs->n_scope_spans; j++)
                for (size_t k = 0; k < rs->scope_spans[j]->n_spans; k++, n++)
                    fn(ctx, rs->scope_spans[j]->spans[k], rs);
        }
        kvs_arena_free(a);
    }
    free(line);
    fclose(f);
    return n;
}

static const char *str(const kvs_span *s, const char *k) { return kvs_lmc_attr_str(s->attributes, s->n_attributes, k); }

static size_t prefixed(const kvs_span *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_attributes; i++)
        n += strncmp(s->attributes[i]->key, P, strlen(P)) == 0;
    return n;
}

/* ---- the documented fixture totals ---- */

typedef struct totals {
    int64_t requested, hit;
    int roots, store_only, timeouts, same, cross, links, engine_same, engine_cross, orphans;
} totals;

static void add_totals(void *ctx, const kvs_span *s, const kvs_resource_spans *rs)
{
    totals *t = ctx;
    t->links += (int)s->n_links;
    t->orphans += kvs_lmc_attr(s->attributes, s->n_attributes, P "orphan") != NULL;
    kvs_lmc_request r;
    if (kvs_lmc_request_read(s, NULL, &r) == 0)
        return;
    const char *join = kvs_lmc_has(&r, KVS_LMC_F_JOIN) ? kvs_lmc_s(&r, KVS_LMC_F_JOIN) : "";
    if (strcmp(s->name, "llm_request") == 0) {
        t->engine_same += strcmp(join, "same_trace") == 0;
        t->engine_cross += strcmp(join, "cross_trace") == 0;
        return;
    }
    if (strcmp(s->name, "request") != 0)
        return;
    t->roots++;
    t->requested += kvs_lmc_has(&r, KVS_LMC_F_REQUESTED_TOKENS) ? kvs_lmc_i(&r, KVS_LMC_F_REQUESTED_TOKENS) : 0;
    t->hit += kvs_lmc_has(&r, KVS_LMC_F_HIT_TOKENS) ? kvs_lmc_i(&r, KVS_LMC_F_HIT_TOKENS) : 0;
    t->store_only += (int)kvs_lmc_i(&r, KVS_LMC_F_STORE_ONLY);
    t->timeouts += (int)kvs_lmc_i(&r, KVS_LMC_F_TIMEOUTS);
    t->same += strcmp(join, "same_trace") == 0;
    t->cross += strcmp(join, "cross_trace") == 0;
    if (kvs_lmc_i(&r, KVS_LMC_F_TIMEOUTS)) {
        const char *sess = kvs_lmc_s(&r, KVS_LMC_F_SESSION_ID);
        assert_true(strcmp(sess, "cmpl-3be494961315d49a355b44a3e9b1352b-0") == 0 ||
                    strcmp(sess, "cmpl-05910eeb0f9fab1fd670e2ccb8d57c91-0") == 0);
        assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_TIMEOUT_TYPE), "TimeoutError");
    }
    if (kvs_lmc_i(&r, KVS_LMC_F_STORE_ONLY))
        assert_false(kvs_lmc_has(&r, KVS_LMC_F_HIT_RATE));
    (void)rs;
}

static void fixture_totals(void **st)
{
    (void)st;
    char in[2048], out[512];
    snprintf(in, sizeof in, "\"%s\", ", src("fixtures/otlp/lmcache_mp_traces.jsonl"));
    snprintf(in + strlen(in), sizeof in - strlen(in), "\"%s\"", src("fixtures/otlp/vllm_engine_traces.jsonl"));
    snprintf(out, sizeof out, "%s/fixture_out.jsonl", tmpdir);
    replay_sums s = replay(in, out);
    assert_int_equal(s.accepted, 196 + 50);
    assert_int_equal(s.exported, 196 + 50);
    assert_int_equal(s.dropped + s.all_errors, 0);
    totals t = { 0 };
    assert_int_equal(each_span(out, add_totals, &t), 246);
    assert_int_equal(t.roots, 50);
    assert_int_equal(t.requested, 352000);
    assert_int_equal(t.hit, 112128);
    assert_int_equal(t.store_only, 4);
    assert_int_equal(t.timeouts, 2);
    assert_int_equal(t.same, 25);
    assert_int_equal(t.cross, 25);
    assert_int_equal(t.engine_same, 25);
    assert_int_equal(t.engine_cross, 25);
    assert_int_equal(t.links, 50);    /* both ends of the 25 cross-trace joins */
    assert_int_equal(t.orphans, 0);
    assert_int_equal(last.requests, 50);
    assert_int_equal(last.joins_same_trace, 25);
    assert_int_equal(last.joins_cross_trace, 25);
    assert_int_equal(last.spans_in, 246);
    assert_int_equal(last.spans_out, 246);
}

/* ---- 10,000 requests against the ground truth ---- */

#define NREQ 10000
#define SEED 7

typedef struct truth_check {
    cg_truth *t;
    size_t spans, roots, engines, children, unrelated, links;
} truth_check;

static void expect_record(const cg_truth *t, kvs_lmc_request *e)
{
    kvs_lmc_request_init(e);
    kvs_lmc_set_s(e, KVS_LMC_F_KIND, t->cb ? "cacheblend" : "mp");
    kvs_lmc_set_s(e, KVS_LMC_F_SESSION_ID, t->session);
    kvs_lmc_set_d(e, KVS_LMC_F_DURATION_MS, (double)t->root_ns / 1e6);
    kvs_lmc_set_i(e, KVS_LMC_F_SPANS, t->nspans);
    if (!t->store_only) {
        kvs_lmc_set_i(e, KVS_LMC_F_REQUESTED_TOKENS, t->requested);
        kvs_lmc_set_i(e, KVS_LMC_F_HIT_TOKENS, t->hit);
        kvs_lmc_set_d(e, KVS_LMC_F_HIT_RATE, t->requested ? (double)t->hit / (double)t->requested : 0.0);
        kvs_lmc_set_d(e, KVS_LMC_F_LOOKUP_MS, (double)t->lookup_ns / 1e6);
    }
    if (t->nretrieve) {
        kvs_lmc_set_i(e, KVS_LMC_F_RETRIEVE_COUNT, t->nretrieve);
        kvs_lmc_set_i(e, KVS_LMC_F_CHUNKS_RETRIEVED, t->retrieved_chunks);
        kvs_lmc_set_d(e, KVS_LMC_F_RETRIEVE_MS, (double)t->retrieve_ns / 1e6);
    }
    if (t->nstore) {
        kvs_lmc_set_i(e, KVS_LMC_F_STORE_COUNT, t->nstore);
        kvs_lmc_set_i(e, KVS_LMC_F_STORE_TOKENS, t->store_tokens);
        kvs_lmc_set_d(e, KVS_LMC_F_STORE_MS, (double)t->store_ns / 1e6);
        if (t->garbage != 1)
            kvs_lmc_set_i(e, KVS_LMC_F_CHUNKS_STORED, t->stored_chunks);
    }
    if (!t->cb) {
        kvs_lmc_set_s(e, KVS_LMC_F_MODEL, cg_models[t->model]);
        kvs_lmc_set_i(e, KVS_LMC_F_STORE_ONLY, t->store_only);
        kvs_lmc_set_i(e, KVS_LMC_F_TIMEOUTS, t->timeouts);
        if (t->timeouts)
            kvs_lmc_set_s(e, KVS_LMC_F_TIMEOUT_TYPE, "TimeoutError");
        if (t->exit_reason)
            kvs_lmc_set_s(e, KVS_LMC_F_EARLY_EXIT, cg_exits[t->exit_reason]);
        if (!t->store_only) {
            kvs_lmc_set_s(e, KVS_LMC_F_CACHE_SALT, cg_salts[t->salt]);
            kvs_lmc_set_i(e, KVS_LMC_F_TIER_L1, t->l1);
            kvs_lmc_set_i(e, KVS_LMC_F_TIER_L2, t->l2);
            kvs_lmc_set_d(e, KVS_LMC_F_TIER_L1_RATE, t->requested ? (double)t->l1 / (double)t->requested : 0.0);
            kvs_lmc_set_d(e, KVS_LMC_F_TIER_L2_RATE, t->requested ? (double)t->l2 / (double)t->requested : 0.0);
            kvs_lmc_set_i(e, KVS_LMC_F_CHUNKS_FOUND, t->found);
        }
        if (t->nretrieve && !(t->garbage == 2 && t->nretrieve == 1)) {
            kvs_lmc_set_i(e, KVS_LMC_F_RETRIEVE_BYTES, t->retrieve_bytes);
            kvs_lmc_set_d(e, KVS_LMC_F_RETRIEVE_GBPS, (double)t->retrieve_bytes / 1e9 / ((double)t->retrieve_ns / 1e9));
        }
        if (t->nretrieve)
            kvs_lmc_set_i(e, KVS_LMC_F_RETRIEVE_TOKENS, t->retrieve_tokens);
        if (t->nstore) {
            kvs_lmc_set_i(e, KVS_LMC_F_STORE_BYTES, t->store_bytes);
            kvs_lmc_set_d(e, KVS_LMC_F_STORE_GBPS, (double)t->store_bytes / 1e9 / ((double)t->store_ns / 1e9));
        }
        if (t->nkernel) {
            kvs_lmc_set_i(e, KVS_LMC_F_KERNEL_COUNT, t->nkernel);
            kvs_lmc_set_d(e, KVS_LMC_F_KERNEL_MS, t->kernel_s * 1e3);
            kvs_lmc_set_i(e, KVS_LMC_F_KERNEL_BYTES, t->kernel_bytes);
            kvs_lmc_set_d(e, KVS_LMC_F_KERNEL_GBPS, (double)t->kernel_bytes / 1e9 / t->kernel_s);
            kvs_lmc_set_i(e, KVS_LMC_F_STAGING_COUNT, t->nstaging);
            kvs_lmc_set_d(e, KVS_LMC_F_STAGING_MS, t->staging_s * 1e3);
            kvs_lmc_set_i(e, KVS_LMC_F_STAGING_BYTES, t->staging_bytes);
            kvs_lmc_set_d(e, KVS_LMC_F_STAGING_GBPS, (double)t->staging_bytes / 1e9 / t->staging_s);
        }
        if (t->garbage) {
            kvs_lmc_set_i(e, KVS_LMC_F_PARSE_ERROR_COUNT, 1);
            kvs_lmc_set_s(e, KVS_LMC_F_PARSE_ERRORS, t->garbage == 1 ? "mp.store.stored_count" : "mp.retrieve.total_bytes");
        }
    } else {
        kvs_lmc_set_i(e, KVS_LMC_F_CB_PREFIX_HITS, t->prefix_hits);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_PREFIX_HIT_TOKENS, t->prefix_hit_tokens);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_SEG_PREFIX_HIT_TOKENS, t->seg_prefix_tokens);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_NON_PREFIX_HIT_TOKENS, t->non_prefix_tokens);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_FINGERPRINT_HITS, t->fp_hits);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_STORAGE_HITS, t->storage_hits);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_STALE_CHUNKS, t->stale);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_NO_GPU_CONTEXT, t->no_gpu);
        if (t->no_gpu)
            kvs_lmc_set_s(e, KVS_LMC_F_EARLY_EXIT, "no_gpu_context");
        kvs_lmc_set_i(e, KVS_LMC_F_CB_FP_MATCHES, t->fp_matches);
        if (t->coord) {
            kvs_lmc_set_i(e, KVS_LMC_F_CB_COORD_MATCHES, t->coord_matches);
            kvs_lmc_set_i(e, KVS_LMC_F_CB_COORD_TIMED_OUT, t->coord_timed_out);
        }
        if (t->sparse) {
            kvs_lmc_set_i(e, KVS_LMC_F_CB_L2_KEYS, t->l2_keys);
            kvs_lmc_set_i(e, KVS_LMC_F_CB_FOUND_KEYS, t->found_keys);
        }
        kvs_lmc_set_i(e, KVS_LMC_F_CB_SCATTER_TOKENS, t->scatter_tokens);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_SCATTER_PREFIX, t->n_prefix);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_SCATTER_SHIFTED, t->n_shifted);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_SCATTER_DROPPED, t->dropped);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_PRE_CHUNKS, t->pre_chunks);
        kvs_lmc_set_i(e, KVS_LMC_F_CB_FINAL_CHUNKS, t->final_chunks);
        int fails = t->failed_retrieve + t->failed_pre + t->failed_final;
        kvs_lmc_set_i(e, KVS_LMC_F_CB_FAILURES, fails);
        if (fails) {
            static char ph[96];
            snprintf(ph, sizeof ph, "%s%s%s%s%s", t->failed_retrieve ? "cb.retrieve" : "",
                     t->failed_retrieve && (t->failed_pre || t->failed_final) ? "," : "",
                     t->failed_pre ? "cb.store_pre_computed" : "", t->failed_pre && t->failed_final ? "," : "",
                     t->failed_final ? "cb.store_final" : "");
            kvs_lmc_set_s(e, KVS_LMC_F_CB_FAILED_PHASES, ph);
        }
        if (t->fp_registered_present)
            kvs_lmc_set_i(e, KVS_LMC_F_CB_FP_REGISTERED, t->fp_registered);
    }
    if (t->engine != CG_ENGINE_NONE) {
        kvs_lmc_set_d(e, KVS_LMC_F_ENGINE_TTFT_MS, t->ttft * 1e3);
        kvs_lmc_set_d(e, KVS_LMC_F_ENGINE_QUEUE_MS, t->queue * 1e3);
        kvs_lmc_set_d(e, KVS_LMC_F_ENGINE_E2E_MS, t->e2e * 1e3);
        kvs_lmc_set_i(e, KVS_LMC_F_ENGINE_PROMPT_TOKENS, t->prompt);
        kvs_lmc_set_i(e, KVS_LMC_F_ENGINE_COMPLETION_TOKENS, t->completion);
        kvs_lmc_set_s(e, KVS_LMC_F_ENGINE_MODEL, cg_models[t->model]);
        if (!kvs_lmc_has(e, KVS_LMC_F_MODEL))
            kvs_lmc_set_s(e, KVS_LMC_F_MODEL, cg_models[t->model]);
        kvs_lmc_set_s(e, KVS_LMC_F_JOIN, t->engine == CG_ENGINE_SAME ? "same_trace" : "cross_trace");
    }
}

/* The span's annotations equal e's fields (only_engine: the engine's subset). */
static void assert_fields(const kvs_span *s, const kvs_lmc_request *e, int only_engine, const char *who)
{
    kvs_lmc_request got;
    int n = kvs_lmc_request_read(s, NULL, &got), want = 0;
    for (int f = 0; f < KVS_LMC_NFIELDS; f++) {
        int has = e->has[f] && (!only_engine || kvs_lmc_fields[f].on_engine);
        want += has;
        if (has != !!got.has[f])
            fail_msg("%s %s: field %s present %d, expected %d", who, s->name, kvs_lmc_fields[f].name, !!got.has[f],
                     has);
        if (!has)
            continue;
        int same;
        switch (kvs_lmc_fields[f].type) {
        case KVS_LMC_STR: same = strcmp(got.v[f].s, e->v[f].s) == 0; break;
        case KVS_LMC_DOUBLE: same = got.v[f].d == e->v[f].d; break;
        default: same = got.v[f].i == e->v[f].i; break;
        }
        if (!same)
            fail_msg("%s %s: field %s: got %s/%lld/%.17g, expected %s/%lld/%.17g", who, s->name,
                     kvs_lmc_fields[f].name, kvs_lmc_fields[f].type == KVS_LMC_STR ? got.v[f].s : "",
                     (long long)got.v[f].i, got.v[f].d, kvs_lmc_fields[f].type == KVS_LMC_STR ? e->v[f].s : "",
                     (long long)e->v[f].i, e->v[f].d);
    }
    assert_int_equal(n, want);
    assert_int_equal(prefixed(s), (size_t)want); /* nothing else under the prefix */
}

static void assert_link(const kvs_span *s, const uint8_t trace[16], const uint8_t span[8])
{
    assert_int_equal(s->n_links, 1);
    assert_memory_equal(s->links[0]->trace_id.data, trace, 16);
    assert_memory_equal(s->links[0]->span_id.data, span, 8);
}

static void check_span(void *ctx, const kvs_span *s, const kvs_resource_spans *rs)
{
    truth_check *c = ctx;
    c->spans++;
    const char *sess = str(s, "session_id");
    if (strcmp(s->name, "llm_request") == 0)
        sess = str(s, "gen_ai.request.id");
    if (strcmp(s->name, "POST /v1/completions") == 0) {
        c->unrelated++;
        assert_int_equal(s->n_attributes, 3);
        assert_int_equal(prefixed(s), 0);
        return;
    }
    unsigned long long seed, i;
    if (!sess || sscanf(sess, "cmpl-gt%llu-%llu", &seed, &i) != 2 || seed != SEED || i >= NREQ)
        fail_msg("span %s without a known session", s->name);
    const cg_truth *t = &c->t[i];
    kvs_lmc_request e;
    expect_record(t, &e);
    if (strcmp(s->name, "request") == 0 || strcmp(s->name, "cb.request") == 0) {
        c->roots++;
        assert_fields(s, &e, 0, sess);
        if (t->engine == CG_ENGINE_CROSS)
            assert_link(s, t->engine_trace, t->engine_span), c->links++;
        else
            assert_int_equal(s->n_links, 0);
    } else if (strcmp(s->name, "llm_request") == 0) {
        c->engines++;
        assert_fields(s, &e, 1, sess);
        if (t->engine == CG_ENGINE_CROSS)
            assert_link(s, t->trace, t->root_span), c->links++;
        else
            assert_int_equal(s->n_links, 0);
    } else {
        c->children++;
        const kvs_any *d = kvs_lmc_attr(s->attributes, s->n_attributes, P "duration_ms");
        assert_non_null(d);
        assert_true(d->double_value == (double)(s->end_time_unix_nano - s->start_time_unix_nano) / 1e6);
        assert_null(kvs_lmc_attr(s->attributes, s->n_attributes, P "orphan"));
        assert_null(kvs_lmc_attr(s->attributes, s->n_attributes, P "late"));
        if (strcmp(s->name, "mp.retrieve") == 0 && !kvs_lmc_attr(s->attributes, s->n_attributes, P "parse_errors")) {
            const kvs_any *b = kvs_lmc_attr(s->attributes, s->n_attributes, P "total_bytes");
            assert_non_null(b);
            assert_true(kvs_lmc_attr(s->attributes, s->n_attributes, P "gbps")->double_value ==
                        kvs_lmc_gbps(b->int_value, s->end_time_unix_nano - s->start_time_unix_nano));
        }
    }
    (void)rs;
}

static void ground_truth_10k(void **st)
{
    (void)st;
    char in[512], out[512], quoted[600];
    snprintf(in, sizeof in, "%s/truth.jsonl", tmpdir);
    snprintf(out, sizeof out, "%s/truth_out.jsonl", tmpdir);
    truth_check c = { 0 };
    c.t = calloc(NREQ, sizeof *c.t);
    cg_list l = { 0 };
    size_t same = 0, cross = 0, unrelated = 0, store_only = 0, garbage = 0, cb = 0, timeouts = 0;
    for (size_t i = 0; i < NREQ; i++) {
        cg_request(SEED, i, &c.t[i], cg_collect, &l);
        same += c.t[i].engine == CG_ENGINE_SAME, cross += c.t[i].engine == CG_ENGINE_CROSS;
        unrelated += (size_t)c.t[i].unrelated, store_only += (size_t)c.t[i].store_only;
        garbage += c.t[i].garbage != 0, cb += (size_t)c.t[i].cb, timeouts += (size_t)c.t[i].timeouts;
    }
    size_t total = l.n;
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    size_t lines = cg_write_lines(&l, 200, f);
    fclose(f);
    cg_list_free(&l);
    print_message("  %zu requests, %zu spans in %zu lines: %zu CacheBlend, %zu store-only, %zu with garbage, "
                  "%zu timeouts, engine same-trace %zu cross-trace %zu, %zu unrelated spans\n",
                  (size_t)NREQ, total, lines, cb, store_only, garbage, timeouts, same, cross, unrelated);
    assert_true(cb > 500 && store_only > 100 && garbage > 100 && same > 1000 && cross > 1000 && timeouts > 100);
    snprintf(quoted, sizeof quoted, "\"%s\"", in);
    replay_sums s = replay(quoted, out);
    assert_int_equal(s.accepted, total);
    assert_int_equal(s.exported, total);
    assert_int_equal(s.dropped + s.all_errors, 0);
    assert_int_equal(each_span(out, check_span, &c), total);
    assert_int_equal(c.roots, NREQ);
    assert_int_equal(c.engines, same + cross);
    assert_int_equal(c.unrelated, unrelated);
    assert_int_equal(c.links, 2 * cross);
    assert_int_equal(c.roots + c.engines + c.children + c.unrelated, total);
    assert_int_equal(last.requests, NREQ);
    assert_int_equal(last.joins_same_trace, same);
    assert_int_equal(last.joins_cross_trace, cross);
    assert_int_equal(last.orphans, 0);
    assert_int_equal(last.spans_lost, 0);
    assert_int_equal(last.spans_passed, unrelated);
    assert_int_equal(last.copied_spans, 0); /* the lines are mostly LMCache's: referenced, not copied */
    assert_int_equal(last.store_only, store_only);
    assert_int_equal(last.timeouts, timeouts);
    free(c.t);
}

/* The committed sample is what the generator makes (it cannot drift). */
static void committed_sample_is_current(void **st)
{
    (void)st;
    char path[512];
    snprintf(path, sizeof path, "%s/sample.jsonl", tmpdir);
    FILE *f = fopen(path, "w");
    cg_list l = { 0 };
    cg_truth t;
    for (size_t i = 0; i < 40; i++)
        cg_request(1, i, &t, cg_collect, &l);
    cg_write_lines(&l, 50, f);
    fclose(f);
    cg_list_free(&l);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", path, src("fixtures/correlate/sample_40.jsonl"));
    assert_int_equal(system(cmd), 0);
}

static int setup(void **st)
{
    (void)st;
    return tmpdir_make(tmpdir, sizeof tmpdir, "kvs_correlate");
}

static int teardown(void **st)
{
    (void)st;
    return tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_totals),
        cmocka_unit_test(ground_truth_10k),
        cmocka_unit_test(committed_sample_is_current),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
