/* Shared by the lmcache_correlate unit tests: a real engine graph (a fake
 * receiver -> lmcache_correlate -> a fake exporter that keeps what it
 * gets) with a fake clock, builders of LMCache / vLLM / unrelated spans as
 * OTLP/JSON, and readers of what came out. Each test program includes it
 * once. */
#ifndef KVS_TEST_CORRELATE_HARNESS_H
#define KVS_TEST_CORRELATE_HARNESS_H

#include "core/clock.h"
#include "core/engine.h"
#include "core/service_config.h"
#include "fixtures/correlate/correlate_gen.h"
#include "formats/otlp_json.h"
#include "lmcache/request.h"
#include "processors/lmcache_correlate.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

static kvs_next *recv_next;
static void *corr;
static kvs_batch **got;
static size_t ngot;
static uint64_t fake_now;

static inline int fake_recv_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    recv_next = ctx->next[kvs_signal_index(KVS_SIG_TRACES)];
    *state = &recv_next;
    return 0;
}
static inline void noop_destroy(void *state) {}
static inline int fake_exp_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    *state = &got;
    return 0;
}
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static inline int fake_exp_consume(void *state, kvs_batch *b, kvs_error *err)
{
    pthread_mutex_lock(&got_lock);
    got = realloc(got, (ngot + 1) * sizeof *got);
    got[ngot++] = kvs_batch_ref(b);
    pthread_mutex_unlock(&got_lock);
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
static inline int corr_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    int rc = kvs_processor_lmcache_correlate.create(ctx, state, err);
    if (rc == 0)
        corr = *state;
    return rc;
}
static inline const kvs_component_def *find(kvs_kind kind, const char *type, size_t len)
{
    const kvs_component_def *all[] = { &fake_recv, &fake_exp, &wrapped };
    for (size_t i = 0; i < 3; i++)
        if (all[i]->kind == kind && strlen(all[i]->type) == len && memcmp(all[i]->type, type, len) == 0)
            return all[i];
    return NULL;
}
static inline uint64_t clock_fn(void *arg) { return fake_now; }

typedef struct graph {
    kvs_service_cfg *cfg;
    kvs_engine *e;
} graph;

static inline int build_clock(graph *g, const char *cfg, int fake_clock, kvs_error *err)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  fakein:\nprocessors:\n  lmcache_correlate:\n%s"
             "exporters:\n  fakeout:\n"
             "service:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n"
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
    if (fake_clock)
        kvs_lmcache_correlate_set_clock(corr, clock_fn, NULL);
    return 0;
}
static inline int build(graph *g, const char *cfg, kvs_error *err) { return build_clock(g, cfg, 1, err); }

static inline void up(graph *g, const char *cfg)
{
    kvs_error err = { 0 };
    if (build(g, cfg, &err) != 0)
        fail_msg("build: %s", err.msg);
}

static inline void down(graph *g)
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

static inline kvs_lmc_correlate_stats stats(void)
{
    kvs_lmc_correlate_stats s;
    kvs_lmcache_correlate_stats(corr, &s);
    return s;
}

/* ---- building input ---- */

#define S(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"
#define I(k, v) "{\"key\":\"" k "\",\"value\":{\"intValue\":\"" #v "\"}}"
#define D(k, v) "{\"key\":\"" k "\",\"value\":{\"doubleValue\":" #v "}}"

static inline char *tid(int n)
{
    static _Thread_local char b[8][33];
    static _Thread_local int k;
    char *p = b[k++ & 7];
    snprintf(p, 33, "%032x", n);
    return p;
}
static inline char *sid(int n)
{
    static _Thread_local char b[8][17];
    static _Thread_local int k;
    char *p = b[k++ & 7];
    snprintf(p, 17, "%016x", n);
    return p;
}

static inline void add(cg_list *l, int scope, const char *trace, const char *span, const char *parent, const char *name,
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

static inline kvs_batch *batch(cg_list *l)
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

static inline int send(cg_list *l)
{
    kvs_batch *b = batch(l);
    kvs_error err;
    int rc = kvs_next_consume(recv_next, b, &err);
    kvs_batch_unref(b);
    return rc;
}

/* An MP request: root n (trace n, span 1000+n) with lookup, retrieve, store. */
enum { ROOT = 1, KIDS = 2 };
static inline void mp(cg_list *l, int n, int what, const char *session, const char *root_parent, const char *trace)
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

static inline void engine(cg_list *l, const char *trace, const char *span, const char *request_id)
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

static inline void unrelated(cg_list *l, int n)
{
    add(l, CG_SC_ROUTER, tid(90000 + n), sid(90000 + n), NULL, "GET /health", 2, 0, 10,
        S("http.route", "/health") "," S("session_id", "x"));
}

/* ---- reading output ---- */

static inline size_t out_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < ngot; i++)
        n += kvs_count_items(KVS_SIG_TRACES, got[i]->msg);
    return n;
}

static inline kvs_span *out_find(const char *name, const char *span_hex)
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

static inline const kvs_any *at(const kvs_span *s, const char *key) { return kvs_lmc_attr(s->attributes, s->n_attributes, key); }
static inline int64_t ival(const kvs_span *s, const char *key)
{
    const kvs_any *v = at(s, key);
    if (!v)
        fail_msg("%s has no %s", s->name, key);
    return v->int_value;
}
static inline kvs_lmc_request rec(const kvs_span *s)
{
    kvs_lmc_request r;
    if (kvs_lmc_request_read(s, NULL, &r) == 0)
        fail_msg("%s is not annotated", s->name);
    return r;
}

static inline void link_points_to(const kvs_span *s, const kvs_span *to)
{
    assert_int_equal(s->n_links, 1);
    const kvs_span_link *k = s->links[0];
    assert_memory_equal(k->trace_id.data, to->trace_id.data, 16);
    assert_memory_equal(k->span_id.data, to->span_id.data, 8);
    assert_string_equal(kvs_lmc_attr_str(k->attributes, k->n_attributes, "kvscope.link"), "lmcache_engine");
}

#endif
