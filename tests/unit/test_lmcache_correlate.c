/* processors/lmcache_correlate, the trace window (harness:
 * correlate_harness.h, fake clock): grouping, out-of-order arrival, late
 * roots, orphans, garbage values, pass-through without delay, the copy
 * path, the memory bound (nothing lost), shutdown, config validation. */
#include "correlate_harness.h"

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

/* What the processor reports to the self-metrics endpoint. */
typedef struct sm_vals {
    char name[24][64];
    double value[24];
    unsigned flags[24];
    int n;
} sm_vals;

static void sm_collect(void *ctx, const char *name, const char *help, double value, unsigned flags)
{
    sm_vals *v = ctx;
    assert_true(v->n < 24);
    assert_true(help && *help);
    snprintf(v->name[v->n], sizeof v->name[0], "%s", name);
    v->value[v->n] = value;
    v->flags[v->n++] = flags;
}

static double sm_get(const sm_vals *v, const char *name, unsigned flags)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->name[i], name) == 0) {
            assert_int_equal(v->flags[i], flags);
            return v->value[i];
        }
    fail_msg("%s not reported", name);
    return 0;
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
    /* The same numbers on the self-metrics endpoint. */
    sm_vals v = { 0 };
    kvs_processor_lmcache_correlate.gauges(corr, sm_collect, &v);
    assert_int_equal((uint64_t)sm_get(&v, "correlate_held_spans", KVS_SM_GAUGE), s.held_spans);
    assert_int_equal((uint64_t)sm_get(&v, "correlate_released_early_max_spans_traces_total", KVS_SM_COUNTER),
                     s.traces_released[KVS_LMC_REL_MAX_SPANS]);
    assert_int_equal((uint64_t)sm_get(&v, "correlate_requests_total", KVS_SM_COUNTER), s.requests);
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
        cmocka_unit_test(passthrough_is_immediate),
        cmocka_unit_test(copies_when_mostly_foreign),
        cmocka_unit_test(bounded_by_max_spans),
        cmocka_unit_test(shutdown_releases_everything),
        cmocka_unit_test(prefix_and_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
