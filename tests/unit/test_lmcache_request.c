/* lmcache/request.h: span classification, parsing of LMCache's stringified
 * values (garbage included), the request record computed from MP and
 * CacheBlend spans (store-only, timeouts, transfer phases, tier split),
 * the engine side, annotations written and read back, and that every
 * annotation name is documented in docs/correlation.md. */
#include "lmcache/request.h"
#include "lmcache/request_keys.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static kvs_arena *A;

static kvs_any *any_str(const char *s)
{
    kvs_any *v = kvs_arena_alloc(A, sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = kvs_arena_strdup(A, s);
    return v;
}

static kvs_any *any_int(int64_t i)
{
    kvs_any *v = kvs_arena_alloc(A, sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = i;
    return v;
}

static kvs_any *any_dbl(double d)
{
    kvs_any *v = kvs_arena_alloc(A, sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = d;
    return v;
}

static kvs_any *any_bool(int b)
{
    kvs_any *v = kvs_arena_alloc(A, sizeof *v);
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = b;
    return v;
}

static void attr(kvs_span *s, const char *k, kvs_any *v)
{
    s->attributes = kvs_arena_grow(A, s->attributes, s->n_attributes * sizeof(kvs_kv *),
                                   (s->n_attributes + 1) * sizeof(kvs_kv *));
    kvs_kv *kv = kvs_arena_alloc(A, sizeof *kv);
    opentelemetry__proto__common__v1__key_value__init(kv);
    kv->key = kvs_arena_strdup(A, k);
    kv->value = v;
    s->attributes[s->n_attributes++] = kv;
}

static kvs_span *span(const char *name, uint64_t start_us, uint64_t end_us)
{
    kvs_span *s = kvs_arena_alloc(A, sizeof *s);
    opentelemetry__proto__trace__v1__span__init(s);
    s->name = kvs_arena_strdup(A, name);
    s->start_time_unix_nano = start_us * 1000;
    s->end_time_unix_nano = end_us * 1000;
    s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
    uint8_t *ids = kvs_arena_alloc(A, 24);
    for (int i = 0; i < 24; i++)
        ids[i] = (uint8_t)(i + 1);
    s->trace_id.data = ids, s->trace_id.len = 16;
    s->span_id.data = ids + 16, s->span_id.len = 8;
    return s;
}

static kvs_scope *scope(const char *name)
{
    kvs_scope *sc = kvs_arena_alloc(A, sizeof *sc);
    opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
    sc->name = kvs_arena_strdup(A, name);
    return sc;
}

static int setup(void **st)
{
    (void)st;
    A = kvs_arena_new();
    return A ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    kvs_arena_free(A);
    return 0;
}

/* ---- classification ---- */

static void classify(void **st)
{
    (void)st;
    kvs_scope *server = scope("lmcache_mp.server"), *other = scope("my.app");
    kvs_span *s = span("request", 0, 10);
    assert_int_equal(kvs_lmc_classify(s, server, 1), KVS_LMC_ROOT_MP);
    assert_int_equal(kvs_lmc_classify(s, other, 1), KVS_LMC_NONE); /* a foreign "request" */
    assert_int_equal(kvs_lmc_classify(s, NULL, 1), KVS_LMC_NONE);
    attr(s, "session_id", any_str("x"));
    assert_int_equal(kvs_lmc_classify(s, other, 1), KVS_LMC_ROOT_MP);
    static const struct { const char *name; kvs_lmc_role role; } names[] = {
        { "cb.request", KVS_LMC_ROOT_CB }, { "mp.lookup_prefetch", KVS_LMC_LOOKUP },
        { "mp.retrieve", KVS_LMC_RETRIEVE }, { "mp.store", KVS_LMC_STORE },
        { "transfer.kernel_interval", KVS_LMC_KERNEL }, { "transfer.staging", KVS_LMC_STAGING },
        { "timeout", KVS_LMC_TIMEOUT }, { "cb.lookup", KVS_LMC_CB_LOOKUP },
        { "cb.fingerprint_match", KVS_LMC_CB_FP_MATCH }, { "cb.prefix_lookup", KVS_LMC_CB_PREFIX_LOOKUP },
        { "cb.coordinator_match", KVS_LMC_CB_COORD_MATCH }, { "cb.sparse_prefetch", KVS_LMC_CB_SPARSE },
        { "cb.retrieve", KVS_LMC_CB_RETRIEVE }, { "cb.scatter", KVS_LMC_CB_SCATTER },
        { "cb.store_pre_computed", KVS_LMC_CB_STORE_PRE }, { "cb.store_final", KVS_LMC_CB_STORE_FINAL },
        { "cb.fingerprints.registered", KVS_LMC_CB_FP_REGISTERED }, { "cb.chunks.evicted", KVS_LMC_CB_EVICTED },
        { "mp.unknown", KVS_LMC_NONE }, { "cb.", KVS_LMC_NONE }, { "", KVS_LMC_NONE },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        kvs_span *c = span(names[i].name, 0, 1);
        assert_int_equal(kvs_lmc_classify(c, scope("lmcache_mp.blend"), 1), names[i].role);
        if (names[i].role)
            assert_string_equal(kvs_lmc_role_name(names[i].role), names[i].name);
    }
    /* Engine spans: llm_request or SERVER with gen_ai.request.id. */
    kvs_span *e = span("llm_request", 0, 10);
    assert_int_equal(kvs_lmc_classify(e, scope("vllm.llm_engine"), 1), KVS_LMC_NONE);
    attr(e, "gen_ai.request.id", any_str("cmpl-1"));
    assert_int_equal(kvs_lmc_classify(e, scope("vllm.llm_engine"), 1), KVS_LMC_ENGINE);
    assert_int_equal(kvs_lmc_classify(e, scope("vllm.llm_engine"), 0), KVS_LMC_NONE);
    kvs_span *srv = span("POST /generate", 0, 10);
    attr(srv, "gen_ai.request.id", any_str("r-1"));
    assert_int_equal(kvs_lmc_classify(srv, NULL, 1), KVS_LMC_NONE);
    srv->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    assert_int_equal(kvs_lmc_classify(srv, NULL, 1), KVS_LMC_ENGINE);
    kvs_span *num = span("llm_request", 0, 10);
    attr(num, "gen_ai.request.id", any_int(5)); /* not a string: not an id */
    assert_int_equal(kvs_lmc_classify(num, NULL, 1), KVS_LMC_NONE);
}

/* ---- parsing ---- */

static void parse_integers(void **st)
{
    (void)st;
    int64_t v = 0;
    assert_int_equal(kvs_lmc_parse_i64(any_str("17"), &v), 1), assert_int_equal(v, 17);
    assert_int_equal(kvs_lmc_parse_i64(any_str(" 42 "), &v), 1), assert_int_equal(v, 42);
    assert_int_equal(kvs_lmc_parse_i64(any_str("+5"), &v), 1), assert_int_equal(v, 5);
    assert_int_equal(kvs_lmc_parse_i64(any_str("-3"), &v), 1), assert_int_equal(v, -3);
    assert_int_equal(kvs_lmc_parse_i64(any_str("12.0"), &v), 1), assert_int_equal(v, 12);
    assert_int_equal(kvs_lmc_parse_i64(any_str("9223372036854775807"), &v), 1);
    assert_true(v == INT64_MAX);
    assert_int_equal(kvs_lmc_parse_i64(any_int(-9), &v), 1), assert_int_equal(v, -9);
    assert_int_equal(kvs_lmc_parse_i64(any_dbl(3.0), &v), 1), assert_int_equal(v, 3);
    v = 77;
    static const char *const garbage[] = { "abc", "12x", "1.5", "--1", "+", "0x10", "1e3", "9223372036854775808",
                                           "99999999999999999999", "12.5", "1 2", "\xff" };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        assert_int_equal(kvs_lmc_parse_i64(any_str(garbage[i]), &v), -1);
    assert_int_equal(v, 77); /* untouched on failure */
    assert_int_equal(kvs_lmc_parse_i64(any_dbl(2.5), &v), -1);
    assert_int_equal(kvs_lmc_parse_i64(any_dbl(NAN), &v), -1);
    assert_int_equal(kvs_lmc_parse_i64(any_bool(1), &v), -1);
    /* Absent: no value, unset, empty, Python's None. */
    assert_int_equal(kvs_lmc_parse_i64(NULL, &v), 0);
    kvs_any *unset = kvs_arena_alloc(A, sizeof *unset);
    opentelemetry__proto__common__v1__any_value__init(unset);
    assert_int_equal(kvs_lmc_parse_i64(unset, &v), 0);
    assert_int_equal(kvs_lmc_parse_i64(any_str(""), &v), 0);
    assert_int_equal(kvs_lmc_parse_i64(any_str("None"), &v), 0);
}

static void parse_doubles_and_bools(void **st)
{
    (void)st;
    double d = 0;
    assert_int_equal(kvs_lmc_parse_f64(any_str("0.25"), &d), 1), assert_true(d == 0.25);
    assert_int_equal(kvs_lmc_parse_f64(any_str("1e-05"), &d), 1), assert_true(d == 1e-05);
    assert_int_equal(kvs_lmc_parse_f64(any_str("15.7765"), &d), 1), assert_true(d == 15.7765);
    assert_int_equal(kvs_lmc_parse_f64(any_int(3), &d), 1), assert_true(d == 3.0);
    assert_int_equal(kvs_lmc_parse_f64(any_dbl(0.011303299), &d), 1), assert_true(d == 0.011303299);
    assert_int_equal(kvs_lmc_parse_f64(any_str("nan"), &d), -1);
    assert_int_equal(kvs_lmc_parse_f64(any_str("inf"), &d), -1);
    assert_int_equal(kvs_lmc_parse_f64(any_str("1e999"), &d), -1);
    assert_int_equal(kvs_lmc_parse_f64(any_str("0.5x"), &d), -1);
    assert_int_equal(kvs_lmc_parse_f64(any_dbl(INFINITY), &d), -1);
    assert_int_equal(kvs_lmc_parse_f64(any_str("None"), &d), 0);
    int b = -1;
    assert_int_equal(kvs_lmc_parse_bool(any_str("True"), &b), 1), assert_int_equal(b, 1);
    assert_int_equal(kvs_lmc_parse_bool(any_str("False"), &b), 1), assert_int_equal(b, 0);
    assert_int_equal(kvs_lmc_parse_bool(any_str("true"), &b), 1), assert_int_equal(b, 1);
    assert_int_equal(kvs_lmc_parse_bool(any_str("0"), &b), 1), assert_int_equal(b, 0);
    assert_int_equal(kvs_lmc_parse_bool(any_bool(1), &b), 1), assert_int_equal(b, 1);
    assert_int_equal(kvs_lmc_parse_bool(any_int(0), &b), 1), assert_int_equal(b, 0);
    assert_int_equal(kvs_lmc_parse_bool(any_str("yes"), &b), -1);
    assert_int_equal(kvs_lmc_parse_bool(any_str("TRUE"), &b), -1);
    assert_int_equal(kvs_lmc_parse_bool(any_int(2), &b), -1);
    assert_int_equal(kvs_lmc_parse_bool(any_str(""), &b), 0);
}

/* ---- MP records ---- */

static kvs_span *mp_root(int64_t requested, int64_t hit, int64_t l1, int64_t l2, const char *exit)
{
    kvs_span *r = span("request", 1000, 41000);
    attr(r, "session_id", any_str("cmpl-a-0"));
    attr(r, "hit_tokens", any_int(hit));
    attr(r, "requested_tokens", any_int(requested));
    attr(r, "hit_rate", any_dbl(requested ? (double)hit / (double)requested : 0));
    attr(r, "l1_hit_tokens", any_int(l1));
    attr(r, "l2_hit_tokens", any_int(l2));
    attr(r, "early_exit_reason", any_str(exit));
    return r;
}

static void add_mp_children(kvs_lmc_request *r, const char *stored_count)
{
    kvs_span *lk = span("mp.lookup_prefetch", 1000, 3280);
    attr(lk, "session_id", any_str("cmpl-a-0"));
    attr(lk, "found_count", any_str("17"));
    attr(lk, "requested_tokens", any_str("5120"));
    attr(lk, "hit_tokens", any_str("4352"));
    attr(lk, "model_name", any_str("meta-llama/Llama-3.1-8B-Instruct"));
    attr(lk, "cache_salt", any_str("tenant-a"));
    kvs_lmc_request_add(r, KVS_LMC_LOOKUP, lk);
    for (int i = 0; i < 2; i++) {
        kvs_span *rt = span("mp.retrieve", 4000 + 10000 * (uint64_t)i, 9000 + 10000 * (uint64_t)i);
        attr(rt, "retrieved_count", any_str(i ? "7" : "10"));
        attr(rt, "total_bytes", any_str(i ? "234881024" : "335544320"));
        attr(rt, "num_tokens", any_str(i ? "1792" : "2560"));
        attr(rt, "cache_salt", any_str("tenant-a"));
        kvs_lmc_request_add(r, KVS_LMC_RETRIEVE, rt);
    }
    kvs_span *stc = span("mp.store", 30000, 38340);
    attr(stc, "stored_count", any_str(stored_count));
    attr(stc, "total_bytes", any_str("100663296"));
    attr(stc, "num_tokens", any_str("768"));
    attr(stc, "model_name", any_str("other-model")); /* the first model seen wins */
    kvs_lmc_request_add(r, KVS_LMC_STORE, stc);
    kvs_span *k = span("transfer.kernel_interval", 30000, 30010);
    attr(k, "nbytes", any_int(102760448));
    attr(k, "elapsed_seconds", any_dbl(0.011303299));
    kvs_lmc_request_add(r, KVS_LMC_KERNEL, k);
    kvs_span *sg = span("transfer.staging", 30010, 30020);
    attr(sg, "nbytes", any_str("102760448")); /* strings are accepted on typed spans too */
    attr(sg, "elapsed_seconds", any_str("0.006513496"));
    attr(sg, "throughput_GB_per_second", any_dbl(15.7765));
    kvs_lmc_request_add(r, KVS_LMC_STAGING, sg);
    kvs_span *to = span("timeout", 40000, 40000);
    to->events = kvs_arena_alloc(A, sizeof *to->events);
    kvs_span_event *ev = kvs_arena_alloc(A, sizeof *ev);
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->name = (char *)"exception";
    kvs_span tmp;
    opentelemetry__proto__trace__v1__span__init(&tmp);
    attr(&tmp, "exception.type", any_str("TimeoutError"));
    ev->attributes = tmp.attributes, ev->n_attributes = tmp.n_attributes;
    to->events[0] = ev, to->n_events = 1;
    kvs_lmc_request_add(r, KVS_LMC_TIMEOUT, to);
}

static void mp_record(void **st)
{
    (void)st;
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    add_mp_children(&r, "3"); /* children first: the root's values must still win */
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_MP, mp_root(5120, 4352, 3584, 768, ""));
    kvs_lmc_request_finish(&r);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_KIND), "mp");
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_SESSION_ID), "cmpl-a-0");
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_MODEL), "meta-llama/Llama-3.1-8B-Instruct");
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_CACHE_SALT), "tenant-a");
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_REQUESTED_TOKENS), 5120);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_HIT_TOKENS), 4352);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_HIT_RATE) == 4352.0 / 5120.0);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_TIER_L1), 3584);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_TIER_L2), 768);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_TIER_L2_RATE) == 768.0 / 5120.0);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_EARLY_EXIT)); /* "" is no early exit */
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_STORE_ONLY), 0);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_DURATION_MS) == 40.0);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_LOOKUP_MS) == 2.28);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_FOUND), 17);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_RETRIEVE_COUNT), 2);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_RETRIEVE_BYTES), 570425344);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_RETRIEVE_TOKENS), 4352);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_RETRIEVED), 17);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_RETRIEVE_MS) == 10.0);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_RETRIEVE_GBPS) == 570425344.0 / 1e9 / (10000000.0 / 1e9));
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_STORE_COUNT), 1);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_STORED), 3);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_STORE_GBPS) == kvs_lmc_gbps(100663296, 8340000));
    assert_true(fabs(kvs_lmc_d(&r, KVS_LMC_F_STORE_GBPS) - 12.069939568345323) < 1e-9);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_KERNEL_COUNT), 1);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_KERNEL_MS) == 0.011303299 * 1e3);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_STAGING_GBPS) == 102760448.0 / 1e9 / 0.006513496);
    assert_true(fabs(kvs_lmc_d(&r, KVS_LMC_F_STAGING_GBPS) - 15.7765) < 1e-3);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_TIMEOUTS), 1);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_TIMEOUT_TYPE), "TimeoutError");
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_SPANS), 8);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_PARSE_ERRORS));
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_CB_FAILURES)); /* MP: no CacheBlend fields */
}

static void mp_lookup_values_without_root(void **st)
{
    (void)st;
    /* No root (an orphan group): the lookup span's strings are the values. */
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    kvs_span *lk = span("mp.lookup_prefetch", 0, 10);
    attr(lk, "requested_tokens", any_str("512"));
    attr(lk, "hit_tokens", any_str("256"));
    attr(lk, "l1_hit_tokens", any_str("0"));
    attr(lk, "l2_hit_tokens", any_str("256"));
    attr(lk, "early_exit_reason", any_str("no_gpu_context"));
    kvs_lmc_request_add(&r, KVS_LMC_LOOKUP, lk);
    kvs_lmc_request_finish(&r);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_HIT_RATE) == 0.5);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_TIER_L2_RATE) == 0.5);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_EARLY_EXIT), "no_gpu_context");
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_STORE_ONLY)); /* unknown without a root */
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_DURATION_MS));
    /* requested 0: the rate is 0, not a division by zero. */
    kvs_lmc_request_init(&r);
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_MP, mp_root(0, 0, 0, 0, "empty_chunk_hashes"));
    kvs_lmc_request_finish(&r);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_HIT_RATE) == 0.0);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_EARLY_EXIT), "empty_chunk_hashes");
}

static void store_only(void **st)
{
    (void)st;
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    kvs_span *root = span("request", 100, 900);
    attr(root, "session_id", any_str("cmpl-s-0"));
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_MP, root);
    kvs_span *stc = span("mp.store", 100, 800);
    attr(stc, "stored_count", any_str("2"));
    attr(stc, "total_bytes", any_str("67108864"));
    attr(stc, "model_name", any_str("Qwen/Qwen2.5-7B-Instruct"));
    kvs_lmc_request_add(&r, KVS_LMC_STORE, stc);
    kvs_lmc_request_finish(&r);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_STORE_ONLY), 1);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_REQUESTED_TOKENS));
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_HIT_RATE));
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_LOOKUP_MS));
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_TIMEOUTS), 0);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_MODEL), "Qwen/Qwen2.5-7B-Instruct");
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_STORE_GBPS) == kvs_lmc_gbps(67108864, 700000));
}

/* Reads back a record written on a span: every field equal. */
static void assert_same_record(const kvs_lmc_request *a, const kvs_lmc_request *b)
{
    for (int f = 0; f < KVS_LMC_NFIELDS; f++) {
        if (f == KVS_LMC_F_PARSE_ERRORS || f == KVS_LMC_F_CB_FAILED_PHASES)
            continue; /* made when written; checked by value in the callers */
        if (!a->has[f] != !b->has[f])
            fail_msg("field %s: present %d vs %d", kvs_lmc_fields[f].name, a->has[f], b->has[f]);
        if (!a->has[f])
            continue;
        switch (kvs_lmc_fields[f].type) {
        case KVS_LMC_STR: assert_string_equal(a->v[f].s, b->v[f].s); break;
        case KVS_LMC_DOUBLE:
            if (a->v[f].d != b->v[f].d)
                fail_msg("field %s: %.17g vs %.17g", kvs_lmc_fields[f].name, a->v[f].d, b->v[f].d);
            break;
        default:
            if (a->v[f].i != b->v[f].i)
                fail_msg("field %s: %lld vs %lld", kvs_lmc_fields[f].name, (long long)a->v[f].i,
                         (long long)b->v[f].i);
        }
    }
}

static kvs_span *written(const kvs_lmc_request *r, const char *prefix)
{
    kvs_span *s = span("request", 0, 1);
    attr(s, "session_id", any_str("kept"));
    kvs_lmc_attrs b;
    kvs_lmc_attrs_init(&b, A, prefix);
    kvs_lmc_attrs_start(&b, s->attributes, s->n_attributes, 0);
    kvs_lmc_annotate_root(r, &b);
    assert_false(b.oom);
    s->attributes = b.v, s->n_attributes = b.n;
    return s;
}

static void garbage_is_reported(void **st)
{
    (void)st;
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_MP, mp_root(5120, 4352, 4352, 0, ""));
    add_mp_children(&r, "abc");
    kvs_span *bad = span("mp.retrieve", 0, 0);
    attr(bad, "total_bytes", any_str("1.5e"));
    attr(bad, "retrieved_count", any_str("x"));
    kvs_lmc_request_add(&r, KVS_LMC_RETRIEVE, bad);
    kvs_lmc_request_finish(&r);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_PARSE_ERROR_COUNT), 3);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_CHUNKS_STORED)); /* its only value did not parse */
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_RETRIEVE_BYTES), 570425344); /* the good ones count */
    kvs_span *s = written(&r, NULL);
    kvs_lmc_request back;
    assert_true(kvs_lmc_request_read(s, NULL, &back) > 20);
    assert_same_record(&r, &back);
    assert_string_equal(kvs_lmc_s(&back, KVS_LMC_F_PARSE_ERRORS),
                        "mp.store.stored_count,mp.retrieve.total_bytes,mp.retrieve.retrieved_count");
    assert_string_equal(kvs_lmc_attr_str(s->attributes, s->n_attributes, "session_id"), "kept");
    /* Child annotation: typed values, duration, GB/s, and the keys that failed. */
    kvs_span *stc = span("mp.store", 30000, 38340);
    attr(stc, "stored_count", any_str("abc"));
    attr(stc, "total_bytes", any_str("100663296"));
    attr(stc, "num_tokens", any_str("768"));
    attr(stc, "device", any_str("cuda:0"));
    kvs_lmc_attrs b;
    kvs_lmc_attrs_init(&b, A, NULL);
    kvs_lmc_attrs_start(&b, stc->attributes, stc->n_attributes, 0);
    assert_int_equal(kvs_lmc_annotate_child(KVS_LMC_STORE, stc, &b), 1);
    stc->attributes = b.v, stc->n_attributes = b.n;
    kvs_kv *const *a = stc->attributes;
    size_t n = stc->n_attributes;
    assert_int_equal(n, 4 + 5);
    const kvs_any *v = kvs_lmc_attr(a, n, "kvscope.lmcache.total_bytes");
    assert_non_null(v);
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    assert_int_equal(v->int_value, 100663296);
    assert_int_equal(kvs_lmc_attr(a, n, "kvscope.lmcache.num_tokens")->int_value, 768);
    assert_null(kvs_lmc_attr(a, n, "kvscope.lmcache.stored_count"));
    assert_null(kvs_lmc_attr(a, n, "kvscope.lmcache.device"));
    assert_true(kvs_lmc_attr(a, n, "kvscope.lmcache.duration_ms")->double_value == 8.34);
    assert_true(kvs_lmc_attr(a, n, "kvscope.lmcache.gbps")->double_value == kvs_lmc_gbps(100663296, 8340000));
    assert_string_equal(kvs_lmc_attr_str(a, n, "kvscope.lmcache.parse_errors"), "stored_count");
}

static void round_trip_custom_prefix(void **st)
{
    (void)st;
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_MP, mp_root(5120, 4352, 3584, 768, "no_group_layout_descs"));
    add_mp_children(&r, "3");
    kvs_lmc_request_finish(&r);
    kvs_span *s = written(&r, "x.");
    kvs_lmc_request back;
    int n = kvs_lmc_request_read(s, "x.", &back);
    int expect = 0;
    for (int f = 0; f < KVS_LMC_NFIELDS; f++)
        expect += r.has[f] != 0;
    assert_int_equal(n, expect);
    assert_same_record(&r, &back);
    assert_int_equal(kvs_lmc_request_read(s, NULL, &back), 0); /* other prefix: nothing */
}

/* ---- CacheBlend ---- */

static void cacheblend_record(void **st)
{
    (void)st;
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    kvs_span *root = span("cb.request", 0, 100000);
    attr(root, "session_id", any_str("cmpl-cb-0"));
    attr(root, "hit_tokens", any_int(1280));
    attr(root, "requested_tokens", any_int(2560));
    attr(root, "prefix_hits", any_int(4));
    attr(root, "prefix_hit_tokens", any_int(1024));
    attr(root, "segmented_prefix_hit_tokens", any_int(0));
    attr(root, "non_prefix_hit_tokens", any_int(256));
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_CB, root);
    kvs_span *lk = span("cb.lookup", 0, 16132);
    attr(lk, "requested_tokens", any_str("2560"));
    attr(lk, "hit_tokens", any_str("1"));   /* the root's typed value wins */
    attr(lk, "fingerprint_hits", any_str("2"));
    attr(lk, "storage_hits", any_str("4"));
    attr(lk, "stale_chunks", any_str("1"));
    attr(lk, "no_gpu_context", any_str("False"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_LOOKUP, lk);
    kvs_span *cm = span("cb.coordinator_match", 0, 1);
    attr(cm, "matches", any_str("3"));
    attr(cm, "timed_out", any_str("True"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_COORD_MATCH, cm);
    kvs_span *pre = span("cb.store_pre_computed", 20000, 29000);
    attr(pre, "num_tokens", any_str("1280"));
    attr(pre, "stored_chunks", any_str("5"));
    attr(pre, "success", any_str("False"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_STORE_PRE, pre);
    kvs_span *rt = span("cb.retrieve", 30000, 52000);
    attr(rt, "num_chunks", any_str("5"));
    attr(rt, "success", any_str("False"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_RETRIEVE, rt);
    kvs_span *sc = span("cb.scatter", 40000, 51000);
    attr(sc, "scattered_tokens", any_str("1280"));
    attr(sc, "n_prefix", any_str("4"));
    attr(sc, "n_shifted", any_str("1"));
    attr(sc, "dropped", any_str("0"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_SCATTER, sc);
    kvs_span *fin = span("cb.store_final", 60000, 75000);
    attr(fin, "num_tokens", any_str("2560"));
    attr(fin, "stored_chunks", any_str("10"));
    attr(fin, "success", any_str("True"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_STORE_FINAL, fin);
    kvs_span *ev = span("cb.chunks.evicted", 80000, 80000);
    attr(ev, "num_chunks", any_str("12"));
    kvs_lmc_request_add(&r, KVS_LMC_CB_EVICTED, ev);
    kvs_lmc_request_finish(&r);
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_KIND), "cacheblend");
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_HIT_TOKENS), 1280);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_HIT_RATE) == 0.5);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_PREFIX_HIT_TOKENS), 1024);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_NON_PREFIX_HIT_TOKENS), 256);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_FINGERPRINT_HITS), 2);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_STALE_CHUNKS), 1);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_NO_GPU_CONTEXT), 0);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_COORD_MATCHES), 3);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_COORD_TIMED_OUT), 1);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_STORED), 15);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_PRE_CHUNKS), 5);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_FINAL_CHUNKS), 10);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_STORE_TOKENS), 3840);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_STORE_MS) == 24.0);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CHUNKS_RETRIEVED), 5);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_RETRIEVE_MS) == 22.0);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_RETRIEVE_GBPS)); /* CacheBlend spans carry no bytes */
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_SCATTER_SHIFTED), 1);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_FAILURES), 2);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_CB_CHUNKS_EVICTED), 12);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_STORE_ONLY));
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_TIMEOUTS));
    kvs_span *s = written(&r, NULL);
    kvs_lmc_request back;
    kvs_lmc_request_read(s, NULL, &back);
    assert_same_record(&r, &back);
    assert_string_equal(kvs_lmc_s(&back, KVS_LMC_F_CB_FAILED_PHASES), "cb.retrieve,cb.store_pre_computed");
}

/* ---- engine ---- */

static void engine_join_values(void **st)
{
    (void)st;
    kvs_span *e = span("llm_request", 0, 700000);
    e->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    attr(e, "gen_ai.request.id", any_str("cmpl-a-0"));
    attr(e, "gen_ai.request.model", any_str("req-model"));
    attr(e, "gen_ai.response.model", any_str("meta-llama/Llama-3.1-8B-Instruct"));
    attr(e, "gen_ai.latency.time_to_first_token", any_dbl(0.040817));
    attr(e, "gen_ai.latency.time_in_queue", any_str("0.001244")); /* strings parse too */
    attr(e, "gen_ai.latency.e2e", any_dbl(0.707817));
    attr(e, "gen_ai.usage.prompt_tokens", any_int(5242));
    attr(e, "gen_ai.usage.completion_tokens", any_str("oops"));
    kvs_lmc_engine eng;
    kvs_lmc_engine_read(e, &eng);
    assert_string_equal(eng.request_id, "cmpl-a-0");
    assert_string_equal(eng.model, "meta-llama/Llama-3.1-8B-Instruct");
    assert_int_equal(eng.has, KVS_LMC_ENG_TTFT | KVS_LMC_ENG_QUEUE | KVS_LMC_ENG_E2E | KVS_LMC_ENG_PROMPT);
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    kvs_lmc_request_add(&r, KVS_LMC_ROOT_CB, span("cb.request", 0, 10)); /* no model of its own */
    kvs_lmc_request_finish(&r);
    kvs_lmc_request_set_engine(&r, &eng, 0);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_ENGINE_TTFT_MS) == 0.040817 * 1e3);
    assert_true(kvs_lmc_d(&r, KVS_LMC_F_ENGINE_QUEUE_MS) == 0.001244 * 1e3);
    assert_int_equal(kvs_lmc_i(&r, KVS_LMC_F_ENGINE_PROMPT_TOKENS), 5242);
    assert_false(kvs_lmc_has(&r, KVS_LMC_F_ENGINE_COMPLETION_TOKENS));
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_JOIN), "cross_trace");
    assert_string_equal(kvs_lmc_s(&r, KVS_LMC_F_MODEL), "meta-llama/Llama-3.1-8B-Instruct");
    /* The outcome the engine span gets, copied so it outlives the spans. */
    kvs_lmc_request m;
    kvs_lmc_request_init(&m);
    kvs_lmc_request_add(&m, KVS_LMC_ROOT_MP, mp_root(5120, 4352, 3584, 768, "no_gpu_context"));
    add_mp_children(&m, "3");
    kvs_lmc_request_finish(&m);
    kvs_lmc_outcome o;
    kvs_lmc_outcome_from(&m, e, &o);
    kvs_lmc_outcome copy = o;
    memset(&o, 0xee, sizeof o);
    kvs_lmc_attrs b;
    kvs_lmc_attrs_init(&b, A, NULL);
    kvs_lmc_attrs_start(&b, e->attributes, e->n_attributes, 0);
    kvs_lmc_annotate_engine(&copy, 1, &b);
    e->attributes = b.v, e->n_attributes = b.n;
    kvs_lmc_request back;
    int n = kvs_lmc_request_read(e, NULL, &back);
    int expect = 1; /* join */
    for (int f = 0; f < KVS_LMC_NFIELDS; f++) {
        if (!kvs_lmc_fields[f].on_engine || f == KVS_LMC_F_JOIN)
            continue;
        expect += m.has[f] != 0;
        assert_int_equal(!back.has[f], !m.has[f]);
    }
    assert_int_equal(n, expect);
    assert_int_equal(kvs_lmc_i(&back, KVS_LMC_F_HIT_TOKENS), 4352);
    assert_true(kvs_lmc_d(&back, KVS_LMC_F_RETRIEVE_GBPS) == kvs_lmc_d(&m, KVS_LMC_F_RETRIEVE_GBPS));
    assert_int_equal(kvs_lmc_i(&back, KVS_LMC_F_TIMEOUTS), 1);
    assert_string_equal(kvs_lmc_s(&back, KVS_LMC_F_EARLY_EXIT), "no_gpu_context");
    assert_string_equal(kvs_lmc_s(&back, KVS_LMC_F_CACHE_SALT), "tenant-a");
    assert_string_equal(kvs_lmc_s(&back, KVS_LMC_F_JOIN), "same_trace");
    assert_memory_equal(copy.span_id, e->span_id.data, 8);
}

/* The outcome's field list is the table's on_engine fields but `join`. */
static void outcome_fields_match_table(void **st)
{
    (void)st;
    int listed[KVS_LMC_NFIELDS] = { 0 };
    for (const uint8_t *f = kvs_lmc_outcome_fields; *f != KVS_LMC_NFIELDS; f++)
        listed[*f] = 1;
    for (int f = 0; f < KVS_LMC_NFIELDS; f++)
        if (listed[f] != (kvs_lmc_fields[f].on_engine && f != KVS_LMC_F_JOIN))
            fail_msg("field %s: listed %d, on_engine %d", kvs_lmc_fields[f].name, listed[f],
                     kvs_lmc_fields[f].on_engine);
    /* Every key LMCache writes is in the key table once. */
    for (int k = 0; k < K_NKEYS; k++) {
        assert_int_equal(kvs_lmc_keys[k].len, strlen(kvs_lmc_keys[k].name));
        for (int j = 0; j < k; j++)
            assert_string_not_equal(kvs_lmc_keys[k].name, kvs_lmc_keys[j].name);
    }
}

/* ---- the documentation names every annotation ---- */

static void every_field_documented(void **st)
{
    (void)st;
    const char *root = getenv("KVS_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/correlation.md", root ? root : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *doc = malloc((size_t)len + 1);
    assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
    doc[len] = 0;
    fclose(f);
    for (int i = 0; i < KVS_LMC_NFIELDS; i++) {
        char name[128];
        snprintf(name, sizeof name, "`kvscope.lmcache.%s`", kvs_lmc_fields[i].name);
        if (!strstr(doc, name))
            fail_msg("docs/correlation.md does not document %s", name);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify),
        cmocka_unit_test(parse_integers),
        cmocka_unit_test(parse_doubles_and_bools),
        cmocka_unit_test(mp_record),
        cmocka_unit_test(mp_lookup_values_without_root),
        cmocka_unit_test(store_only),
        cmocka_unit_test(garbage_is_reported),
        cmocka_unit_test(round_trip_custom_prefix),
        cmocka_unit_test(cacheblend_record),
        cmocka_unit_test(engine_join_values),
        cmocka_unit_test(outcome_fields_match_table),
        cmocka_unit_test(every_field_documented),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
