/* processors/lmcache_correlate inside a real engine graph (a fake receiver
 * -> lmcache_correlate -> a fake exporter that keeps what it gets), with a
 * fake clock: grouping, out-of-order arrival, late roots, orphans, garbage
 * values, CacheBlend, engine joins (same trace, cross trace both ways, and
 * after the partner left), pass-through without delay, the copy path,
 * the memory bound (nothing lost), shutdown, config validation. */
#include "core/clock.h"
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
#include <string.h>
#include <cmocka.h>

static kvs_next *recv_next;
static void *corr;
static kvs_batch **got;
static size_t ngot;
static uint64_t fake_now;

static int fake_recv_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    recv_next = ctx->next[kvs_signal_index(KVS_SIG_TRACES)];
    *state = &recv_next;
    return 0;
}
static void noop_destroy(void *state) {}
static int fake_exp_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    *state = &got;
    return 0;
}
static int fake_exp_consume(void *state, kvs_batch *b, kvs_error *err)
{
    got = realloc(got, (ngot + 1) * sizeof *got);
    got[ngot++] = kvs_batch_ref(b);
    return 0;
}
static const kvs_component_def fake_recv = {
    .type = "fakein", .kind = KVS_RECEIVER, .signals = KVS_SIG_ALL,
    .create = fake_recv_create, .destroy = noop_destroy,
};
static const kvs_component_def fake_exp = {
    .type = "fakeout", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL,
    .create = fake_exp_create, .consume = fake_exp_consume, .destroy = noop_destroy,
};
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
    const kvs_component_def *all[] = { &fake_recv, &fake_exp, &wrapped };
    for (size_t i = 0; i < 3; i++)
        if (all[i]->kind == kind && strlen(all[i]->type) == len && memcmp(all[i]->type, type, len) == 0)
            return all[i];
    return NULL;
}
static uint64_t clock_fn(void *arg) { return fake_now; }

typedef struct graph {
    kvs_service_cfg *cfg;
    kvs_engine *e;
} graph;

static int build(graph *g, const char *cfg, kvs_error *err)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  fakein:\nprocessors:\n  lmcache_correlate:\n%s"
             "exporters:\n  fakeout:\n"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [fakein], processors: [lmcache_correlate], exporters: [fakeout]}\n",
             cfg);
    wrapped = kvs_processor_lmcache_correlate;
    wrapped.create = corr_create;
    corr = NULL;
    kvs_component_lookup lk = { find, NULL };
    g->e = NULL;
    g->cfg = kvs_service_cfg_parse_with("test.yaml", yaml, strlen(yaml), &lk, NULL, NULL, err);
    if (!g->cfg)
        return -1;
    if (!(g->e = kvs_engine_create(g->cfg, NULL, err)))
        return -1;
    if (kvs_engine_start(g->e, err) != 0)
        return -1;
    fake_now = 1000 * KVS_SEC;
    kvs_lmcache_correlate_set_clock(corr, clock_fn, NULL);
    return 0;
}

static void up(graph *g, const char *cfg)
{
    kvs_error err = { 0 };
    if (build(g, cfg, &err) != 0)
        fail_msg("build: %s", err.msg);
}

static void down(graph *g)
{
    kvs_engine_shutdown(g->e);
    kvs_engine_destroy(g->e);
    kvs_service_cfg_free(g->cfg);
    for (size_t i = 0; i < ngot; i++)
        kvs_batch_unref(got[i]);
    free(got);
    got = NULL;
    ngot = 0;
}

static kvs_lmc_correlate_stats stats(void)
{
    kvs_lmc_correlate_stats s;
    kvs_lmcache_correlate_stats(corr, &s);
    return s;
}

/* ---- building input ---- */

#define S(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"
#define I(k, v) "{\"key\":\"" k "\",\"value\":{\"intValue\":\"" #v "\"}}"
#define D(k, v) "{\"key\":\"" k "\",\"value\":{\"doubleValue\":" #v "}}"

static char *tid(int n)
{
    static char b[8][33];
    static int k;
    char *p = b[k++ & 7];
    snprintf(p, 33, "%032x", n);
    return p;
}
static char *sid(int n)
{
    static char b[8][17];
    static int k;
    char *p = b[k++ & 7];
    snprintf(p, 17, "%016x", n);
    return p;
}

static void add(cg_list *l, int scope, const char *trace, const char *span, const char *parent, const char *name,
                int kind, uint64_t start_us, uint64_t end_us, const char *attrs)
{
    char pj[64] = "";
    if (parent)
        snprintf(pj, sizeof pj, "\"parentSpanId\":\"%s\",", parent);
    char *j = malloc(strlen(attrs) + 512);
    int n = sprintf(j,
                    "{\"traceId\":\"%s\",\"spanId\":\"%s\",%s\"name\":\"%s\",\"kind\":%d,\"startTimeUnixNano\":"
                    "\"%llu\",\"endTimeUnixNano\":\"%llu\",\"attributes\":[%s],\"status\":{}}",
                    trace, span, pj, name, kind, (unsigned long long)start_us * 1000,
                    (unsigned long long)end_us * 1000, attrs);
    cg_collect(l, cg_scope_res[scope], scope, 0, j, (size_t)n);
    free(j);
}

static kvs_batch *batch(cg_list *l)
{
    cg_buf b = { 0 };
    cg_line(&b, l->v, 0, l->n);
    kvs_arena *a = kvs_arena_new();
    kvs_otlp_doc d = { 0 };
    kvs_json_error je;
    if (kvs_otlp_json_decode(b.p, b.n, a, &d, &je) != 0)
        fail_msg("decode: %s in %s", je.msg, b.p);
    free(b.p);
    cg_list_free(l);
    return kvs_batch_wrap(KVS_SIG_TRACES, a, &d.traces->base);
}

static int send(cg_list *l)
{
    kvs_batch *b = batch(l);
    kvs_error err;
    int rc = kvs_next_consume(recv_next, b, &err);
    kvs_batch_unref(b);
    return rc;
}

/* An MP request: root n (trace n, span 1000+n) with lookup, retrieve, store. */
enum { ROOT = 1, KIDS = 2 };
static void mp(cg_list *l, int n, int what, const char *session, const char *root_parent, const char *trace)
{
    char attrs[1024];
    const char *tr = trace ? trace : tid(n);
    char root[17];
    snprintf(root, sizeof root, "%s", sid(1000 + n));
    if (what & KIDS) {
        snprintf(attrs, sizeof attrs,
                 "{\"key\":\"session_id\",\"value\":{\"stringValue\":\"%s\"}}," S("found_count", "4") ","
                 S("requested_tokens", "2048") "," S("hit_tokens", "1024") "," S("model_name", "m1") ","
                 S("cache_salt", "salt-1"), session);
        add(l, CG_SC_SERVER, tr, sid(2000 + n), root, "mp.lookup_prefetch", 1, 1000, 1500, attrs);
        snprintf(attrs, sizeof attrs,
                 "{\"key\":\"session_id\",\"value\":{\"stringValue\":\"%s\"}}," S("retrieved_count", "4") ","
                 S("total_bytes", "134217728") "," S("num_tokens", "1024"), session);
        add(l, CG_SC_SERVER, tr, sid(3000 + n), root, "mp.retrieve", 1, 2000, 12000, attrs);
        snprintf(attrs, sizeof attrs,
                 "{\"key\":\"session_id\",\"value\":{\"stringValue\":\"%s\"}}," S("stored_count", "4") ","
                 S("total_bytes", "134217728") "," S("num_tokens", "1024"), session);
        add(l, CG_SC_SERVER, tr, sid(4000 + n), root, "mp.store", 1, 13000, 21000, attrs);
    }
    if (what & ROOT) {
        snprintf(attrs, sizeof attrs,
                 "{\"key\":\"session_id\",\"value\":{\"stringValue\":\"%s\"}}," I("hit_tokens", 1024) ","
                 I("requested_tokens", 2048) "," D("hit_rate", 0.5) "," I("l1_hit_tokens", 768) ","
                 I("l2_hit_tokens", 256) "," S("early_exit_reason", ""), session);
        add(l, CG_SC_SERVER, tr, root, root_parent, "request", 1, 1000, 22000, attrs);
    }
}

static void engine(cg_list *l, const char *trace, const char *span, const char *request_id)
{
    char attrs[1024];
    snprintf(attrs, sizeof attrs,
             "{\"key\":\"gen_ai.request.id\",\"value\":{\"stringValue\":\"%s\"}}," S("gen_ai.response.model", "m1") ","
             D("gen_ai.latency.time_to_first_token", 0.04) "," D("gen_ai.latency.time_in_queue", 0.002) ","
             D("gen_ai.latency.e2e", 0.9) "," I("gen_ai.usage.prompt_tokens", 2100) ","
             I("gen_ai.usage.completion_tokens", 50),
             request_id);
    add(l, CG_SC_VLLM, trace, span, NULL, "llm_request", 2, 500, 900000, attrs);
}

static void unrelated(cg_list *l, int n)
{
    add(l, CG_SC_ROUTER, tid(90000 + n), sid(90000 + n), NULL, "GET /health", 2, 0, 10,
        S("http.route", "/health") "," S("session_id", "x"));
}

/* ---- reading output ---- */

static size_t out_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < ngot; i++)
        n += kvs_count_items(KVS_SIG_TRACES, got[i]->msg);
    return n;
}

static kvs_span *out_find(const char *name, const char *span_hex)
{
    uint8_t id[8];
    for (int i = 0; i < 8; i++) {
        unsigned x;
        sscanf(span_hex + 2 * i, "%2x", &x);
        id[i] = (uint8_t)x;
    }
    for (size_t g = 0; g < ngot; g++) {
        const kvs_traces_req *r = got[g]->traces;
        for (size_t i = 0; i < r->n_resource_spans; i++)
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
                const kvs_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
                for (size_t k = 0; k < ss->n_spans; k++)
                    if (strcmp(ss->spans[k]->name, name) == 0 && ss->spans[k]->span_id.len == 8 &&
                        memcmp(ss->spans[k]->span_id.data, id, 8) == 0)
                        return ss->spans[k];
            }
    }
    return NULL;
}

static const kvs_any *at(const kvs_span *s, const char *key) { return kvs_lmc_attr(s->attributes, s->n_attributes, key); }
static int64_t ival(const kvs_span *s, const char *key)
{
    const kvs_any *v = at(s, key);
    if (!v)
        fail_msg("%s has no %s", s->name, key);
    return v->int_value;
}
static kvs_lmc_request rec(const kvs_span *s)
{
    kvs_lmc_request r;
    if (kvs_lmc_request_read(s, NULL, &r) == 0)
        fail_msg("%s is not annotated", s->name);
    return r;
}

/* ---- tests ---- */

static void groups_one_request(void **st)
{
    (void)st;
    graph g;
    up(&g, "    wait: 5s\n");
    cg_list l = { 0 };
    mp(&l, 1, ROOT | KIDS, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    assert_int_equal(out_count(), 0); /* held */
    fake_now += 4 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 0);
    fake_now += 2 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 4);
    kvs_span *root = out_find("request", sid(1001));
    assert_non_null(root);
    kvs_lmc_request r = rec(root);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_SPANS), 4);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_HIT_RATE) == 0.5);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_TIER_L1), 768);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_STORED), 4);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_RETRIEVE_GBPS) == kvs_lmc_gbps(134217728, 10000000));
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_MODEL), "m1");
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_JOIN));
    kvs_span *store = out_find("mp.store", sid(4001));
    assert_int_equal(ival(store, "kvscope.lmcache.stored_count"), 4);
    assert_true(at(store, "kvscope.lmcache.duration_ms")->double_value == 8.0);
    assert_null(at(store, "kvscope.lmcache.orphan"));
    kvs_lmc_correlate_stats s = stats();
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.traces_released[KVS_LMC_REL_WAIT], 1);
    assert_int_equal(s.held_spans, 0);
    assert_int_equal(s.held_bytes, 0);
    down(&g);
}

static void children_before_root(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    cg_list l = { 0 };
    mp(&l, 1, KIDS, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    fake_now += 10 * KVS_SEC; /* longer than wait: no root yet, so still held */
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 0);
    assert_int_equal(stats().held_spans, 3);
    mp(&l, 1, ROOT, "cmpl-1", NULL, NULL); /* the late root */
    assert_int_equal(send(&l), 0);
    fake_now += 5 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 4);
    kvs_lmc_request r = rec(out_find("request", sid(1001)));
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_SPANS), 4);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_FOUND), 4);
    assert_int_equal(stats().orphans, 0);
    down(&g);
}

static void orphans_then_root_after_max_wait(void **st)
{
    (void)st;
    graph g;
    up(&g, "    max_wait: 30s\n");
    cg_list l = { 0 };
    mp(&l, 1, KIDS, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    fake_now += 30 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 3);
    kvs_span *lk = out_find("mp.lookup_prefetch", sid(2001));
    assert_non_null(at(lk, "kvscope.lmcache.orphan"));
    assert_true(at(lk, "kvscope.lmcache.orphan")->bool_value);
    assert_int_equal(ival(lk, "kvscope.lmcache.hit_tokens"), 1024);
    kvs_lmc_correlate_stats s = stats();
    assert_int_equal(s.orphans, 3);
    assert_int_equal(s.traces_released[KVS_LMC_REL_MAX_WAIT], 1);
    /* The root comes after its children left: it goes on at once, marked late. */
    fake_now += 10 * KVS_SEC;
    mp(&l, 1, ROOT, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    assert_int_equal(out_count(), 4);
    kvs_lmc_request r = rec(out_find("request", sid(1001)));
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_LATE), 1);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_HIT_TOKENS), 1024);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_SPANS), 1);
    assert_int_equal(stats().traces_released[KVS_LMC_REL_LATE], 1);
    /* A parentless point span of an unknown request: released after `wait`, orphan. */
    add(&l, CG_SC_BLEND, tid(7), sid(7), NULL, "cb.chunks.evicted", 1, 0, 0,
        S("session_id", "cmpl-x") "," S("num_chunks", "12"));
    assert_int_equal(send(&l), 0);
    fake_now += 5 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_span *ev = out_find("cb.chunks.evicted", sid(7));
    assert_non_null(ev);
    assert_true(at(ev, "kvscope.lmcache.orphan")->bool_value);
    assert_int_equal(ival(ev, "kvscope.lmcache.num_chunks"), 12);
    down(&g);
}

static void garbage_values(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    cg_list l = { 0 };
    mp(&l, 1, ROOT, "cmpl-1", NULL, NULL);
    add(&l, CG_SC_SERVER, tid(1), sid(5), sid(1001), "mp.store", 1, 0, 10,
        S("session_id", "cmpl-1") "," S("stored_count", "abc") "," S("total_bytes", "12 34") ","
        S("num_tokens", "-0"));
    assert_int_equal(send(&l), 0);
    fake_now += 6 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_lmc_request r = rec(out_find("request", sid(1001)));
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_PARSE_ERROR_COUNT), 2);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_PARSE_ERRORS), "mp.store.stored_count,mp.store.total_bytes");
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_STORE_TOKENS), 0);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_STORE_BYTES));
    kvs_span *store = out_find("mp.store", sid(5));
    assert_string_equal(kvs_lmc_attr_str(store->attributes, store->n_attributes, "kvscope.lmcache.parse_errors"),
                        "stored_count,total_bytes");
    assert_int_equal(stats().parse_errors, 4); /* 2 in the record, 2 on the span */
    down(&g);
}

static void cacheblend_fixture(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    char path[1024];
    const char *root = getenv("KVS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fixtures/otlp/cacheblend_traces.jsonl", root ? root : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        kvs_arena *a = kvs_arena_new();
        kvs_otlp_doc d = { 0 };
        kvs_json_error je;
        assert_int_equal(kvs_otlp_json_decode(line, (size_t)n, a, &d, &je), 0);
        kvs_batch *b = kvs_batch_wrap(KVS_SIG_TRACES, a, &d.traces->base);
        kvs_error err;
        assert_int_equal(kvs_next_consume(recv_next, b, &err), 0);
        kvs_batch_unref(b);
    }
    free(line);
    fclose(f);
    kvs_engine_shutdown(g.e); /* releases everything */
    assert_int_equal(out_count(), 97);
    int roots = 0, failures = 0, orphans = 0;
    for (size_t i = 0; i < ngot; i++) {
        const kvs_traces_req *r = got[i]->traces;
        for (size_t a = 0; a < r->n_resource_spans; a++)
            for (size_t b = 0; b < r->resource_spans[a]->n_scope_spans; b++) {
                const kvs_scope_spans *ss = r->resource_spans[a]->scope_spans[b];
                for (size_t k = 0; k < ss->n_spans; k++) {
                    const kvs_span *s = ss->spans[k];
                    orphans += at(s, "kvscope.lmcache.orphan") != NULL;
                    if (strcmp(s->name, "cb.request") != 0)
                        continue;
                    kvs_lmc_request x = rec(s);
                    roots++;
                    assert_string_equal(kvs_lmc_s(&x, KVS_LMC_F_KIND), "cacheblend");
                    assert_true(kvs_lmc_has(&x, KVS_LMC_F_CB_FINGERPRINT_HITS));
                    assert_true(kvs_lmc_has(&x, KVS_LMC_F_CB_NON_PREFIX_HIT_TOKENS));
                    assert_true(kvs_lmc_i(&x, KVS_LMC_F_SPANS) >= 8);
                    failures += (int)kvs_lmc_i(&x, KVS_LMC_F_CB_FAILURES);
                    if (kvs_lmc_i(&x, KVS_LMC_F_CB_FAILURES)) {
                        const char *sess = kvs_lmc_s(&x, KVS_LMC_F_SESSION_ID), *ph = kvs_lmc_s(&x, KVS_LMC_F_CB_FAILED_PHASES);
                        assert_true((strcmp(sess, "cmpl-16f3db25bf36718aea1b4c653919a9ed-0") == 0 &&
                                     strcmp(ph, "cb.store_pre_computed") == 0) ||
                                    (strcmp(sess, "cmpl-665dd9cb5525ee03f55282655e043ca5-0") == 0 &&
                                     strcmp(ph, "cb.retrieve") == 0) ||
                                    (strcmp(sess, "cmpl-af008020f6f3fd761a3c9fa769f3ec5e-0") == 0 &&
                                     strcmp(ph, "cb.store_final") == 0));
                    }
                }
            }
    }
    assert_int_equal(roots, 10);
    assert_int_equal(failures, 3);
    assert_int_equal(orphans, 1); /* the parentless cb.chunks.evicted */
    assert_int_equal(stats().traces_released[KVS_LMC_REL_SHUTDOWN], 11);
    down(&g);
}

static void link_points_to(const kvs_span *s, const kvs_span *to)
{
    assert_int_equal(s->n_links, 1);
    const kvs_span_link *k = s->links[0];
    assert_memory_equal(k->trace_id.data, to->trace_id.data, 16);
    assert_memory_equal(k->span_id.data, to->span_id.data, 8);
    assert_string_equal(kvs_lmc_attr_str(k->attributes, k->n_attributes, "kvscope.link"), "lmcache_engine");
}

static void cross_trace_engine_first(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    cg_list l = { 0 };
    engine(&l, tid(500), sid(500), "cmpl-1");
    assert_int_equal(send(&l), 0);
    fake_now += 1 * KVS_SEC;
    mp(&l, 1, ROOT | KIDS, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    fake_now += 4 * KVS_SEC + 1; /* the engine span is due: its partner goes with it */
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 5);
    kvs_span *e = out_find("llm_request", sid(500)), *root = out_find("request", sid(1001));
    kvs_lmc_request er = rec(e), rr = rec(root);
    assert_int_equal(kvs_lmc_i(&er, KVS_LMC_F_HIT_TOKENS), 1024);
    assert_true(kvs_lmc_d(&er, KVS_LMC_F_RETRIEVE_GBPS) == kvs_lmc_gbps(134217728, 10000000));
    assert_int_equal(kvs_lmc_i(&er, KVS_LMC_F_TIMEOUTS), 0);
    assert_string_equal(kvs_lmc_s(&er, KVS_LMC_F_JOIN), "cross_trace");
    assert_false(kvs_lmc_has(&er, KVS_LMC_F_SPANS)); /* only the outcome */
    assert_true(kvs_lmc_d(&rr, KVS_LMC_F_ENGINE_TTFT_MS) == 0.04 * 1e3);
    assert_int_equal(kvs_lmc_i(&rr, KVS_LMC_F_ENGINE_PROMPT_TOKENS), 2100);
    assert_string_equal(kvs_lmc_s(&rr, KVS_LMC_F_JOIN), "cross_trace");
    link_points_to(root, e);
    link_points_to(e, root);
    kvs_lmc_correlate_stats s = stats();
    assert_int_equal(s.joins_cross_trace, 1);
    assert_int_equal(s.traces_released[KVS_LMC_REL_PARTNER], 1);
    down(&g);
}

static void cross_trace_lmcache_first(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    cg_list l = { 0 };
    /* No engine span seen yet: the LMCache request leaves after `wait`... */
    mp(&l, 1, ROOT | KIDS, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    fake_now += 6 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 4);
    /* ...and its engine span, coming later, still gets the outcome and a link. */
    engine(&l, tid(500), sid(500), "cmpl-1");
    assert_int_equal(send(&l), 0);
    fake_now += 6 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_span *e = out_find("llm_request", sid(500));
    kvs_lmc_request er = rec(e);
    assert_int_equal(kvs_lmc_i(&er, KVS_LMC_F_REQUESTED_TOKENS), 2048);
    assert_string_equal(kvs_lmc_s(&er, KVS_LMC_F_JOIN), "cross_trace");
    link_points_to(e, out_find("request", sid(1001)));
    /* Now the engine is known to be traced: the next LMCache request waits
     * for its engine span beyond `wait` (up to max_wait). */
    mp(&l, 2, ROOT | KIDS, "cmpl-2", NULL, NULL);
    assert_int_equal(send(&l), 0);
    fake_now += 10 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_null(out_find("request", sid(1002)));
    engine(&l, tid(501), sid(501), "cmpl-2");
    assert_int_equal(send(&l), 0);
    fake_now += 5 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_span *root2 = out_find("request", sid(1002)), *e2 = out_find("llm_request", sid(501));
    kvs_lmc_request r2 = rec(root2);
    assert_true(kvs_lmc_d(&r2, KVS_LMC_F_ENGINE_E2E_MS) == 0.9 * 1e3);
    link_points_to(root2, e2);
    link_points_to(e2, root2);
    /* An engine request with no LMCache request is released unchanged. */
    engine(&l, tid(502), sid(502), "cmpl-none");
    assert_int_equal(send(&l), 0);
    fake_now += 6 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_span *lone = out_find("llm_request", sid(502));
    assert_int_equal(lone->n_attributes, 7);
    assert_int_equal(lone->n_links, 0);
    kvs_lmc_correlate_stats s = stats();
    assert_int_equal(s.joins_cross_trace, 2);
    assert_int_equal(s.engine_unjoined, 1);
    assert_int_equal(s.spans_in, s.spans_out);
    down(&g);
}

static void same_trace_join(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    cg_list l = { 0 };
    engine(&l, tid(99), sid(500), "warm-up"); /* the engine is traced */
    mp(&l, 1, ROOT | KIDS, "cmpl-1", sid(600), NULL);
    assert_int_equal(send(&l), 0);
    fake_now += 8 * KVS_SEC; /* its engine span is not there yet: it waits */
    kvs_lmcache_correlate_tick(corr);
    assert_null(out_find("request", sid(1001)));
    engine(&l, tid(1), sid(600), "cmpl-1");
    assert_int_equal(send(&l), 0);
    fake_now += 5 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_span *root = out_find("request", sid(1001)), *e = out_find("llm_request", sid(600));
    assert_non_null(root);
    kvs_lmc_request rr = rec(root), er = rec(e);
    assert_string_equal(kvs_lmc_s(&rr, KVS_LMC_F_JOIN), "same_trace");
    assert_string_equal(kvs_lmc_s(&er, KVS_LMC_F_JOIN), "same_trace");
    assert_int_equal(kvs_lmc_i(&er, KVS_LMC_F_HIT_TOKENS), 1024);
    assert_int_equal(kvs_lmc_i(&rr, KVS_LMC_F_ENGINE_COMPLETION_TOKENS), 50);
    assert_int_equal(root->n_links, 0);
    assert_int_equal(e->n_links, 0);
    assert_int_equal(stats().joins_same_trace, 1);
    down(&g);
}

static void passthrough_is_immediate(void **st)
{
    (void)st;
    graph g;
    up(&g, "    engine_join: false\n");
    cg_list l = { 0 };
    /* Only unrelated spans: the very request goes on, in the same call. */
    unrelated(&l, 1);
    engine(&l, tid(500), sid(500), "cmpl-1"); /* engine_join off: not ours */
    kvs_batch *b = batch(&l);
    kvs_error err;
    assert_int_equal(kvs_next_consume(recv_next, b, &err), 0);
    assert_int_equal(ngot, 1);
    assert_ptr_equal(got[0], b);
    kvs_batch_unref(b);
    /* Mixed: the unrelated spans go on at once, the LMCache ones are held. */
    unrelated(&l, 2);
    unrelated(&l, 3);
    mp(&l, 1, ROOT | KIDS, "cmpl-1", NULL, NULL);
    b = batch(&l);
    const kvs_span *health = NULL;
    for (size_t i = 0; i < b->traces->n_resource_spans; i++)
        if (b->traces->resource_spans[i]->scope_spans[0]->spans[0]->name[0] == 'G')
            health = b->traces->resource_spans[i]->scope_spans[0]->spans[0];
    assert_int_equal(kvs_next_consume(recv_next, b, &err), 0);
    assert_int_equal(out_count(), 4);
    assert_ptr_equal(out_find("GET /health", sid(90002)), health); /* not copied, not changed */
    assert_null(out_find("request", sid(1001)));
    kvs_batch_unref(b);
    fake_now += 6 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    assert_int_equal(out_count(), 8);
    assert_int_equal(stats().spans_passed, 4);
    down(&g);
}

static void copies_when_mostly_foreign(void **st)
{
    (void)st;
    graph g;
    up(&g, "");
    cg_list l = { 0 };
    for (int i = 0; i < 9; i++)
        unrelated(&l, i);
    mp(&l, 1, ROOT, "cmpl-1", NULL, NULL);
    kvs_batch *b = batch(&l);
    kvs_error err;
    assert_int_equal(kvs_next_consume(recv_next, b, &err), 0);
    assert_int_equal(atomic_load(&b->refs), 2); /* the pass-through request holds it, not the window */
    for (size_t i = 0; i < ngot; i++)
        kvs_batch_unref(got[i]);
    ngot = 0;
    assert_int_equal(atomic_load(&b->refs), 1);
    kvs_batch_unref(b); /* freed now: the held span is a copy */
    kvs_lmc_correlate_stats s = stats();
    assert_int_equal(s.copied_spans, 1);
    assert_true(s.held_bytes > 0);
    fake_now += 6 * KVS_SEC;
    kvs_lmcache_correlate_tick(corr);
    kvs_span *root = out_find("request", sid(1001));
    assert_non_null(root);
    assert_int_equal(kvs_lmc_i((kvs_lmc_request[]){ rec(root) }, KVS_LMC_F_HIT_TOKENS), 1024);
    /* The copy keeps its resource and scope. */
    const kvs_traces_req *r = got[0]->traces;
    assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->name, "lmcache_mp.server");
    assert_string_equal(kvs_lmc_attr_str(r->resource_spans[0]->resource->attributes,
                                         r->resource_spans[0]->resource->n_attributes, "service.name"),
                        "lmcache-mp-server");
    down(&g);
}

static void bounded_by_max_spans(void **st)
{
    (void)st;
    graph g;
    up(&g, "    max_spans: 10\n    max_traces: 1000\n");
    cg_list l = { 0 };
    for (int i = 1; i <= 20; i++) { /* children of 20 requests first (60 spans)... */
        mp(&l, i, KIDS, "cmpl-k", NULL, NULL);
        assert_int_equal(send(&l), 0);
        assert_true(stats().held_spans <= 10);
    }
    for (int i = 1; i <= 20; i++) { /* ...then their roots */
        mp(&l, i, ROOT, "cmpl-k", NULL, NULL);
        assert_int_equal(send(&l), 0);
    }
    kvs_lmc_correlate_stats s = stats();
    assert_true(s.peak_spans <= 10);
    assert_true(s.traces_released[KVS_LMC_REL_MAX_SPANS] > 0);
    assert_int_equal(s.spans_in, 80);
    kvs_engine_shutdown(g.e);
    s = stats();
    assert_int_equal(s.spans_out, 80); /* nothing lost */
    assert_int_equal(out_count(), 80);
    assert_int_equal(s.held_spans, 0);
    uint64_t released = 0;
    for (int i = 0; i < KVS_LMC_NREL; i++)
        released += s.spans_released[i];
    assert_int_equal(released, 80);
    /* Early releases are marked on what went out. */
    kvs_span *lk = out_find("mp.lookup_prefetch", sid(2001));
    assert_string_equal(kvs_lmc_attr_str(lk->attributes, lk->n_attributes, "kvscope.lmcache.early_release"),
                        "max_spans");
    down(&g);

    up(&g, "    max_traces: 3\n");
    for (int i = 1; i <= 10; i++)
        mp(&l, i, ROOT | KIDS, "cmpl-t", NULL, NULL);
    assert_int_equal(send(&l), 0);
    s = stats();
    assert_int_equal(s.held_traces, 3);
    assert_int_equal(s.traces_released[KVS_LMC_REL_MAX_TRACES], 7);
    kvs_lmc_request r = rec(out_find("request", sid(1001)));
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_EARLY_RELEASE), "max_traces");
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_SPANS), 4); /* complete when it left */
    down(&g);
}

static void shutdown_releases_everything(void **st)
{
    (void)st;
    graph g;
    up(&g, "    wait: 1m\n    max_wait: 1h\n");
    cg_list l = { 0 };
    for (int i = 1; i <= 50; i++) {
        mp(&l, i, i % 5 ? ROOT | KIDS : KIDS, "cmpl-s", NULL, NULL);
        if (i % 7 == 0)
            assert_int_equal(send(&l), 0);
    }
    assert_int_equal(send(&l), 0);
    assert_int_equal(out_count(), 0);
    kvs_engine_shutdown(g.e);
    assert_int_equal(out_count(), 50 * 4 - 10);
    kvs_lmc_correlate_stats s = stats();
    assert_int_equal(s.traces_released[KVS_LMC_REL_SHUTDOWN], 50);
    assert_int_equal(s.orphans, 30); /* 10 requests without root */
    assert_int_equal(s.requests, 40);
    assert_int_equal(s.held_spans, 0);
    assert_int_equal(s.held_bytes, 0);
    down(&g);
}

static void prefix_and_config_errors(void **st)
{
    (void)st;
    graph g;
    up(&g, "    attribute_prefix: \"acme.\"\n");
    cg_list l = { 0 };
    mp(&l, 1, ROOT, "cmpl-1", NULL, NULL);
    assert_int_equal(send(&l), 0);
    kvs_engine_shutdown(g.e);
    kvs_span *root = out_find("request", sid(1001));
    kvs_lmc_request r;
    assert_int_equal(kvs_lmc_request_read(root, NULL, &r), 0);
    assert_true(kvs_lmc_request_read(root, "acme.", &r) > 5);
    down(&g);
    static const struct { const char *cfg, *msg; } bad[] = {
        { "    wiat: 5s\n", "wiat" },
        { "    wait: 1m\n    max_wait: 30s\n", "wait must not be longer than max_wait" },
        { "    attribute_prefix: \"\"\n", "attribute_prefix must not be empty" },
        { "    max_spans: 0\n", "max_spans" },
        { "    max_traces: -1\n", "max_traces" },
        { "    engine_join: maybe\n", "engine_join" },
        { "    wait: 5\n", "unit" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvs_error err = { 0 };
        assert_int_not_equal(build(&g, bad[i].cfg, &err), 0);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("config %zu: \"%s\" does not mention %s", i, err.msg, bad[i].msg);
        kvs_engine_destroy(g.e);
        kvs_service_cfg_free(g.cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups_one_request),
        cmocka_unit_test(children_before_root),
        cmocka_unit_test(orphans_then_root_after_max_wait),
        cmocka_unit_test(garbage_values),
        cmocka_unit_test(cacheblend_fixture),
        cmocka_unit_test(cross_trace_engine_first),
        cmocka_unit_test(cross_trace_lmcache_first),
        cmocka_unit_test(same_trace_join),
        cmocka_unit_test(passthrough_is_immediate),
        cmocka_unit_test(copies_when_mostly_foreign),
        cmocka_unit_test(bounded_by_max_spans),
        cmocka_unit_test(shutdown_releases_everything),
        cmocka_unit_test(prefix_and_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
