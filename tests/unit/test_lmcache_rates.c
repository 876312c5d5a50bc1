/* Tests for lmcache/rates.h and the time side of lmcache/evidence.h:
 * counters as rates with reset handling, histogram quantiles from
 * buckets, slopes, timeline thinning, values at a time and windowed
 * histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lmcache/rates.h"
#include "lmc_scenario.h"

#include <math.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_counter_adjust_resets(void **state)
{
    (void)state;
    kvs_lmc_counter_track t = {0};
    NEAR(kvs_lmc_counter_adjust(&t, 10), 10);
    NEAR(kvs_lmc_counter_adjust(&t, 25), 25);
    NEAR(kvs_lmc_counter_adjust(&t, 5), 30); /* restart: 25 counted + 5 since */
    NEAR(kvs_lmc_counter_adjust(&t, NAN), 30);
    NEAR(kvs_lmc_counter_adjust(&t, 7), 32);
    assert_int_equal(t.resets, 1);
}

static void test_rate_increase_ratio(void **state)
{
    (void)state;
    NEAR(kvs_lmc_increase(10, 40), 30);
    NEAR(kvs_lmc_increase(40, 10), 0);
    NEAR(kvs_lmc_rate(0, 0, 10000, 50), 5);
    assert_true(isnan(kvs_lmc_rate(1000, 0, 1000, 5)));
    NEAR(kvs_lmc_ratio(3, 4), 0.75);
    assert_true(isnan(kvs_lmc_ratio(1, 0)));
    assert_true(isnan(kvs_lmc_ratio(NAN, 1)));
}

static void test_quantile_interpolation(void **state)
{
    (void)state;
    const double b[] = {1, 2, 4};
    const double c[] = {10, 10, 0, 0}; /* 10 in (0,1], 10 in (1,2] */
    NEAR(kvs_lmc_hist_quantile(b, c, 3, 0.5), 1.0);
    NEAR(kvs_lmc_hist_quantile(b, c, 3, 0.25), 0.5);
    NEAR(kvs_lmc_hist_quantile(b, c, 3, 0.75), 1.5);
    NEAR(kvs_lmc_hist_quantile(b, c, 3, 1.0), 2.0);
    const double inf[] = {0, 0, 0, 5}; /* all in +Inf: the highest finite bound */
    NEAR(kvs_lmc_hist_quantile(b, inf, 3, 0.99), 4.0);
    const double empty[] = {0, 0, 0, 0};
    assert_true(isnan(kvs_lmc_hist_quantile(b, empty, 3, 0.5)));
    assert_true(isnan(kvs_lmc_hist_quantile(b, c, 3, 1.5)));
    const double bad[] = {2, 1, 4};
    assert_true(isnan(kvs_lmc_hist_quantile(bad, c, 3, 0.5)));
    const double neg[] = {-1, 0};
    const double nc[] = {4, 0, 0};
    NEAR(kvs_lmc_hist_quantile(neg, nc, 2, 0.5), -1.0);
    NEAR(kvs_lmc_hist_mean(10, 4), 2.5);
    assert_true(isnan(kvs_lmc_hist_mean(10, 0)));
}

static void test_quantiles_p50_p95_p99_from_otel_buckets(void **state)
{
    (void)state;
    /* 100 observations 0.5 .. 50 over the OTel default bounds */
    const double b[] = {0, 5, 10, 25, 50, 75, 100};
    double vals[100];
    for (int i = 0; i < 100; i++)
        vals[i] = 0.5 * (i + 1);
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put_hist(ev, "lmcache_mp_l0_l1_store_throughput_GB_per_second", 1000, b, 7, vals, 100);
    kvs_lmc_hist h;
    assert_true(kvs_lmc_evidence_hist(ev, KVS_METRIC_LMCACHE_MP_L0_L1_STORE_THROUGHPUT, INT64_MIN, INT64_MAX, &h));
    NEAR(h.count, 100);
    double p50 = kvs_lmc_hist_quantile(h.bounds, h.counts, h.nbounds, 0.5);
    double p95 = kvs_lmc_hist_quantile(h.bounds, h.counts, h.nbounds, 0.95);
    double p99 = kvs_lmc_hist_quantile(h.bounds, h.counts, h.nbounds, 0.99);
    assert_true(p50 > 10 && p50 <= 25);
    assert_true(p95 > 25 && p95 <= 50);
    assert_true(p99 >= p95 && p99 <= 50);
    kvs_lmc_evidence_free(ev);
}

static void test_slope(void **state)
{
    (void)state;
    int64_t t[] = {0, 1000, 2000, 3000};
    double v[] = {10, 12, 14, 16};
    NEAR(kvs_lmc_slope(t, v, 4), 2.0);
    assert_true(isnan(kvs_lmc_slope(t, v, 1)));
}

static void test_evidence_counter_reset_and_values_at(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    const char *n = "lmcache_mp_l1_read_chunks_total";
    lmc_put(ev, n, KVS_LMC_COUNTER, 100, 1000, NULL);
    lmc_put(ev, n, KVS_LMC_COUNTER, 300, 2000, NULL);
    lmc_put(ev, n, KVS_LMC_COUNTER, 50, 3000, NULL); /* server restarted */
    lmc_put(ev, n, KVS_LMC_COUNTER, 150, 4000, NULL);
    kvs_metric_key k = KVS_METRIC_LMCACHE_MP_L1_READ;
    NEAR(kvs_lmc_evidence_sum(ev, k, 2000, NULL, NULL), 300);
    NEAR(kvs_lmc_evidence_sum(ev, k, 3500, NULL, NULL), 350);
    NEAR(kvs_lmc_evidence_sum(ev, k, INT64_MAX, NULL, NULL), 450);
    assert_true(isnan(kvs_lmc_evidence_sum(ev, k, 500, NULL, NULL)));
    /* rate between scrapes 2 and 4: 150 over 2 s */
    NEAR(kvs_lmc_rate(2000, kvs_lmc_evidence_sum(ev, k, 2000, NULL, NULL), 4000,
                      kvs_lmc_evidence_sum(ev, k, 4000, NULL, NULL)),
         75);
    const kvs_lmc_series *const *ss;
    assert_int_equal(kvs_lmc_evidence_key_series(ev, k, &ss), 1);
    assert_int_equal(ss[0]->resets, 1);
    kvs_lmc_evidence_free(ev);
}

static void test_evidence_delta_counters(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    for (int i = 0; i < 3; i++) {
        kvs_lmc_obs o = {.name = "lmcache_mp.lookup_hit", .unit = "tokens", .kind = KVS_LMC_COUNTER, .value = 10,
                         .t_ms = 1000 * (i + 1), .delta = true};
        assert_int_equal(kvs_lmc_evidence_add(ev, &o), 0);
    }
    NEAR(kvs_lmc_evidence_sum(ev, KVS_METRIC_LMCACHE_MP_LOOKUP_HIT, INT64_MAX, NULL, NULL), 30);
    kvs_lmc_evidence_free(ev);
}

static void test_same_series_twice_not_double_counted(void **state)
{
    (void)state;
    /* the peer double counts a metric present in both scrapes; one series here */
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "lmcache_mp_lookup_hit_tokens_total", KVS_LMC_COUNTER, 500, 1000, "cache_salt", "a", NULL);
    lmc_put(ev, "lmcache_mp.lookup_hit", KVS_LMC_COUNTER, 500, 1000, "cache_salt", "a", NULL);
    NEAR(kvs_lmc_evidence_sum(ev, KVS_METRIC_LMCACHE_MP_LOOKUP_HIT, INT64_MAX, NULL, NULL), 500);
    assert_int_equal(kvs_lmc_evidence_nseries(ev), 1);
    /* a lower value at the same time replaces, it is not a counter reset */
    lmc_put(ev, "lmcache_mp_lookup_hit_tokens_total", KVS_LMC_COUNTER, 480, 1000, "cache_salt", "a", NULL);
    NEAR(kvs_lmc_evidence_sum(ev, KVS_METRIC_LMCACHE_MP_LOOKUP_HIT, INT64_MAX, NULL, NULL), 480);
    assert_int_equal(kvs_lmc_evidence_series(ev, 0)->resets, 0);
    kvs_lmc_evidence_free(ev);
}

static void test_timeline_thinning_keeps_span(void **state)
{
    (void)state;
    kvs_lmc_evidence_limits lim = {.max_points = 8};
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(&lim);
    for (int i = 0; i < 100; i++)
        lmc_put(ev, "lmcache_mp_l1_memory_usage_bytes", KVS_LMC_GAUGE, i, 1000 * i, NULL);
    const kvs_lmc_series *s = kvs_lmc_evidence_series(ev, 0);
    assert_true(s->npoints <= 8 && s->npoints >= 4);
    assert_int_equal(s->t_ms[0], 0);
    assert_int_equal(s->t_ms[s->npoints - 1], 99000);
    NEAR(kvs_lmc_series_value_at(s, INT64_MAX), 99);
    NEAR(s->min, 0);
    NEAR(s->max, 99);
    for (size_t i = 1; i < s->npoints; i++)
        assert_true(s->t_ms[i] > s->t_ms[i - 1]);
    kvs_lmc_evidence_free(ev);
}

static void test_windowed_histogram(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    const double b[] = {1, 10};
    const double first[] = {0.5, 0.5}, later[] = {0.5, 0.5, 5, 5, 5, 5};
    lmc_put_hist(ev, "vllm:time_to_first_token_seconds", 1000, b, 2, first, 2);
    lmc_put_hist(ev, "vllm:time_to_first_token_seconds", 2000, b, 2, later, 6);
    kvs_lmc_hist h;
    assert_true(kvs_lmc_evidence_hist(ev, KVS_METRIC_VLLM_TIME_TO_FIRST_TOKEN_SECONDS, 1000, 2000, &h));
    NEAR(h.count, 4); /* only what happened in the window */
    NEAR(h.counts[0], 0);
    NEAR(h.counts[1], 4);
    double p50 = kvs_lmc_hist_quantile(h.bounds, h.counts, h.nbounds, 0.5);
    assert_true(p50 > 1 && p50 <= 10);
    assert_true(kvs_lmc_evidence_hist(ev, KVS_METRIC_VLLM_TIME_TO_FIRST_TOKEN_SECONDS, INT64_MIN, 2000, &h));
    NEAR(h.count, 6);
    kvs_lmc_evidence_free(ev);
}

static void test_histogram_reset(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    const double b[] = {1};
    const double v4[] = {0.5, 0.5, 2, 2}, v1[] = {0.5};
    lmc_put_hist(ev, "lmcache:time_to_retrieve", 1000, b, 1, v4, 4);
    lmc_put_hist(ev, "lmcache:time_to_retrieve", 2000, b, 1, v1, 1);
    kvs_lmc_hist h;
    assert_true(kvs_lmc_evidence_hist(ev, KVS_METRIC_LMCACHE_TIME_TO_RETRIEVE, INT64_MIN, INT64_MAX, &h));
    NEAR(h.count, 5);
    NEAR(h.counts[0], 3);
    kvs_lmc_evidence_free(ev);
}

static void test_observation_times(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "vllm:num_requests_running", KVS_LMC_GAUGE, 1, 3000, NULL);
    lmc_put(ev, "vllm:num_requests_running", KVS_LMC_GAUGE, 1, 1000, NULL);
    lmc_put(ev, "vllm:num_requests_waiting", KVS_LMC_GAUGE, 1, 2000, NULL);
    lmc_put(ev, "vllm:num_requests_waiting", KVS_LMC_GAUGE, 1, 2000, NULL);
    const int64_t *t;
    assert_int_equal(kvs_lmc_evidence_times(ev, &t), 3);
    assert_int_equal(t[0], 1000);
    assert_int_equal(t[1], 2000);
    assert_int_equal(t[2], 3000);
    assert_int_equal(kvs_lmc_evidence_flags(ev)->t_min_ms, 1000);
    assert_int_equal(kvs_lmc_evidence_flags(ev)->t_max_ms, 3000);
    kvs_lmc_evidence_free(ev);
}

static void test_bounded_memory(void **state)
{
    (void)state;
    kvs_lmc_evidence_limits lim = {.max_series = 10, .max_set = 5, .max_requests = 4};
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(&lim);
    char v[32];
    for (int i = 0; i < 50; i++) {
        snprintf(v, sizeof v, "salt-%d", i);
        lmc_put(ev, "lmcache_mp_lookup_hit_tokens_total", KVS_LMC_COUNTER, 1, 1000, "cache_salt", v, NULL);
    }
    assert_int_equal(kvs_lmc_evidence_nseries(ev), 10);
    assert_int_equal(kvs_lmc_evidence_flags(ev)->series_dropped, 40);
    kvs_lmc_strset *salts = kvs_lmc_evidence_set(ev, KVS_LMC_SET_CACHE_SALT);
    assert_int_equal(salts->n, 5);
    assert_int_equal(kvs_lmc_strset_cardinality(salts), 10);
    for (int i = 0; i < 9; i++) {
        kvs_lmc_reqobs r = {.requested_tokens = 10, .hit_tokens = i, .engine_ttft_s = NAN, .t_ms = i};
        kvs_lmc_evidence_add_request(ev, &r);
    }
    assert_int_equal(kvs_lmc_evidence_nrequests(ev), 4);
    assert_int_equal(kvs_lmc_evidence_request(ev, 0)->hit_tokens, 5); /* oldest kept */
    assert_int_equal(kvs_lmc_evidence_req_stats(ev)->count, 9);
    kvs_lmc_evidence_free(ev);
}

static void test_invalid_observations(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_obs o = {.name = NULL};
    assert_int_equal(kvs_lmc_evidence_add(ev, &o), KVS_E_INVALID);
    const double b[] = {1};
    const double c[] = {1, 0};
    kvs_lmc_obs h = {.name = "lmcache:time_to_store", .kind = KVS_LMC_HISTOGRAM, .bounds = b, .nbounds = 1,
                     .bucket_counts = c, .count = 1, .sum = 0.5};
    assert_int_equal(kvs_lmc_evidence_add(ev, &h), 0);
    const double b2[] = {1, 2};
    const double c2[] = {1, 0, 0};
    kvs_lmc_obs h2 = h;
    h2.bounds = b2;
    h2.nbounds = 2;
    h2.bucket_counts = c2;
    assert_int_equal(kvs_lmc_evidence_add(ev, &h2), KVS_E_INVALID); /* bounds changed */
    assert_true(kvs_lmc_evidence_flags(ev)->obs_invalid >= 2);
    kvs_lmc_evidence_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_adjust_resets),
        cmocka_unit_test(test_rate_increase_ratio),
        cmocka_unit_test(test_quantile_interpolation),
        cmocka_unit_test(test_quantiles_p50_p95_p99_from_otel_buckets),
        cmocka_unit_test(test_slope),
        cmocka_unit_test(test_evidence_counter_reset_and_values_at),
        cmocka_unit_test(test_evidence_delta_counters),
        cmocka_unit_test(test_same_series_twice_not_double_counted),
        cmocka_unit_test(test_timeline_thinning_keeps_span),
        cmocka_unit_test(test_windowed_histogram),
        cmocka_unit_test(test_histogram_reset),
        cmocka_unit_test(test_observation_times),
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_invalid_observations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
