/* processors/lmcache_correlate, joins (harness: correlate_harness.h):
 * CacheBlend trees from the fixture, engine joins across traces in both
 * orders and after the partner left, in the same trace, and several
 * receiver threads with the timer thread releasing at the same time. */
#include "correlate_harness.h"

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

/* Receivers on several threads and the timer thread releasing at the same
 * time (real clock, a small window): every span comes out once, every
 * root makes one record, every engine span with a root is joined. */
static atomic_int send_failures;
static void *feed(void *arg)
{
    int base = *(const int *)arg;
    for (int i = 0; i < 150; i++) {
        cg_list l = { 0 };
        char sess[32];
        snprintf(sess, sizeof sess, "cmpl-%d", base + i);
        mp(&l, base + i, i % 5 ? ROOT | KIDS : KIDS, sess, NULL, NULL);
        if (i % 3 == 0)
            engine(&l, tid(50000 + base + i), sid(50000 + base + i), sess);
        if (i % 4 == 0)
            unrelated(&l, base + i);
        if (send(&l) != 0)
            atomic_fetch_add(&send_failures, 1);
        if (i % 16 == 0)
            nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
    }
    return NULL;
}

static void concurrent_feed_and_timer(void **st)
{
    (void)st;
    graph g;
    kvs_error err = { 0 };
    if (build_clock(&g, "    wait: 5ms\n    max_wait: 40ms\n    max_spans: 300\n", 0, &err) != 0)
        fail_msg("build: %s", err.msg);
    pthread_t th[4];
    int base[4] = { 0, 1000, 2000, 3000 };
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, feed, &base[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&send_failures), 0);
    nanosleep(&(struct timespec){ 0, 100000000 }, NULL); /* the timer releases the rest */
    kvs_lmc_correlate_stats s = stats();
    size_t expect = 4 * (150 * 4 - 30 + 50 + 38);
    assert_int_equal(s.spans_in, expect);
    kvs_engine_shutdown(g.e);
    s = stats();
    assert_int_equal(s.spans_out, expect);
    assert_int_equal(out_count(), expect);
    assert_int_equal(s.requests, 4 * 120);          /* every root, once */
    assert_int_equal(s.joins_cross_trace, 4 * 40);  /* engine spans with a root */
    assert_int_equal(s.engine_unjoined, 4 * 10);
    assert_true(s.orphans >= 4 * 30 * 3);           /* children without root, at least */
    assert_true(s.peak_spans <= 300);
    assert_true(s.traces_released[KVS_LMC_REL_WAIT] + s.traces_released[KVS_LMC_REL_MAX_WAIT] > 0);
    down(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cacheblend_fixture),
        cmocka_unit_test(cross_trace_engine_first),
        cmocka_unit_test(cross_trace_lmcache_first),
        cmocka_unit_test(same_trace_join),
        cmocka_unit_test(concurrent_feed_and_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
