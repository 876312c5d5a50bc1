/* Detectors that read the timeline (rates between scrapes, never
 * cumulative totals): MP hit rate after warm-up (low, or collapsed from
 * its peak), L1 memory without a plateau, and embedded zero hits after
 * the cache was filled. With a single observation time they fall back to
 * what one snapshot can prove, or stay silent. */
#include "lmcache/findings_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define K(x) KVS_METRIC_##x

static double sum_at(const kvs_lmc_eval *e, kvs_metric_key k, int64_t t)
{
    return kvs_lmc_evidence_sum(e->ev, k, t, NULL, NULL);
}

/* The post-warm-up times at which key k has a value. */
static size_t post_warmup(const kvs_lmc_eval *e, kvs_metric_key k, const int64_t **times, size_t *first)
{
    size_t n = kvs_lmc_evidence_times(e->ev, times);
    if (!n)
        return 0;
    int64_t warm = (*times)[0] + (int64_t)(e->th[KVS_LMC_TH_WARMUP_SECONDS] * 1000.0);
    size_t i = 0;
    while (i < n && ((*times)[i] < warm || isnan(sum_at(e, k, (*times)[i]))))
        i++;
    *first = i;
    return n - i;
}

typedef struct window_rate {
    int64_t t0, t1;
    double req, hit, rate;
} window_rate;

static window_rate rate_over(const kvs_lmc_eval *e, int64_t t0, int64_t t1)
{
    window_rate w = {t0, t1, 0, 0, NAN};
    double r0 = sum_at(e, K(LMCACHE_MP_LOOKUP_REQUESTED), t0), r1 = sum_at(e, K(LMCACHE_MP_LOOKUP_REQUESTED), t1);
    double h0 = sum_at(e, K(LMCACHE_MP_LOOKUP_HIT), t0), h1 = sum_at(e, K(LMCACHE_MP_LOOKUP_HIT), t1);
    w.req = kvs_lmc_increase(isnan(r0) ? 0 : r0, r1);
    w.hit = kvs_lmc_increase(isnan(h0) ? 0 : h0, h1);
    if (w.req >= e->th[KVS_LMC_TH_MIN_WINDOW_LOOKUP_TOKENS])
        w.rate = w.hit / w.req;
    return w;
}

typedef struct req_window {
    int64_t t0, t1;
    double rate_limit;
} req_window;

static bool in_window_low(const kvs_lmc_req_rec *r, const void *arg)
{
    const req_window *w = arg;
    return r->t_ms >= w->t0 && r->t_ms <= w->t1 && !r->store_only && r->requested_tokens > 0 && r->hit_tokens >= 0 &&
           (double)r->hit_tokens / (double)r->requested_tokens < w->rate_limit;
}

static void hit_rate_after_warmup(kvs_lmc_eval *e)
{
    const int64_t *t;
    size_t first;
    size_t n = post_warmup(e, K(LMCACHE_MP_LOOKUP_REQUESTED), &t, &first);
    if (n < 2)
        return;
    int64_t win = (int64_t)(e->th[KVS_LMC_TH_HIT_RATE_WINDOW_SECONDS] * 1000.0);
    int64_t warm = t[first];
    window_rate peak = {0, 0, 0, 0, NAN}, recent = peak;
    for (size_t i = first + 1; i < first + n; i++) {
        int64_t t0 = t[i] - win < warm ? warm : t[i] - win;
        window_rate w = rate_over(e, t0, t[i]);
        if (isnan(w.rate))
            continue;
        if (isnan(peak.rate) || w.rate > peak.rate)
            peak = w;
        recent = w;
    }
    if (isnan(recent.rate) || recent.t1 != t[first + n - 1])
        return;
    double low = e->th[KVS_LMC_TH_LOW_HIT_RATE_AFTER_WARMUP], ratio = e->th[KVS_LMC_TH_HIT_RATE_COLLAPSE_RATIO];
    bool is_low = recent.rate < low;
    bool collapsed = peak.rate >= low && recent.rate < peak.rate * ratio;
    if (!is_low && !collapsed)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(
        e, "lmcache_mp_low_hit_rate_after_warmup", KVS_LMC_SEV_WARNING,
        collapsed ? "After warm-up the MP hit rate collapsed from %.3f to %.3f (%.0f of %.0f tokens in the last window)"
                  : "After warm-up the MP hit rate is %.3f (peak %.3f; %.0f of %.0f tokens in the last window)",
        collapsed ? peak.rate : recent.rate, collapsed ? recent.rate : peak.rate, recent.hit, recent.req);
    if (!f)
        return;
    f->window_start_ms = recent.t0;
    f->window_end_ms = recent.t1;
    kvs_lmc__num(f, "hit_rate_recent", recent.rate);
    kvs_lmc__num(f, "hit_rate_peak", peak.rate);
    kvs_lmc__num(f, "peak_window_end_ms", (double)peak.t1);
    kvs_lmc__num(f, "requested_tokens_window", recent.req);
    kvs_lmc__num(f, "hit_tokens_window", recent.hit);
    kvs_lmc__bool(f, "collapsed", collapsed);
    kvs_lmc__num(f, "warmup_seconds", e->th[KVS_LMC_TH_WARMUP_SECONDS]);
    req_window rw = {recent.t0, recent.t1, low};
    kvs_lmc__traces_where(e, f, in_window_low, &rw);
}

static void l1_no_plateau(kvs_lmc_eval *e)
{
    const int64_t *t;
    size_t first;
    size_t n = post_warmup(e, K(LMCACHE_MP_L1_MEMORY_USAGE_BYTES), &t, &first);
    if (n < 2 || (double)n < e->th[KVS_LMC_TH_L1_PLATEAU_MIN_POINTS])
        return;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = sum_at(e, K(LMCACHE_MP_L1_MEMORY_USAGE_BYTES), t[first + i]);
    size_t third = n - n / 3 - 1; /* start of the last third (at least 2 points) */
    double start = v[third], last = v[n - 1], slope = kvs_lmc_slope(t + first, v, n);
    double growth = start > 0 ? (last - start) / start : (last > 0 ? INFINITY : 0);
    size_t ups = 0;
    for (size_t i = 1; i < n; i++)
        ups += v[i] > v[i - 1];
    bool climbing = ups * 4 >= (n - 1) * 3; /* most intervals go up */
    if (growth > e->th[KVS_LMC_TH_L1_PLATEAU_GROWTH_FRACTION] && slope > 0 && climbing) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l1_memory_no_plateau", KVS_LMC_SEV_WARNING,
                                              "L1 memory grew from %.0f to %.0f bytes after warm-up and still grows "
                                              "%.1f%% over the last third of the timeline",
                                              v[0], last, growth * 100.0);
        if (f) {
            f->window_start_ms = t[first];
            f->window_end_ms = t[first + n - 1];
        }
        kvs_lmc__num(f, "l1_memory_usage_bytes_first", v[0]);
        kvs_lmc__num(f, "l1_memory_usage_bytes_last", last);
        kvs_lmc__num(f, "growth_fraction_last_third", growth);
        kvs_lmc__num(f, "slope_bytes_per_second", slope);
        kvs_lmc__num(f, "points", (double)n);
    }
    free(v);
}

static bool zero_hit_req(const kvs_lmc_req_rec *r, const void *arg)
{
    (void)arg;
    return !r->store_only && r->requested_tokens > 0 && r->hit_tokens == 0;
}

/* Embedded: something was stored, lookups kept coming, nothing hit. */
static void embedded_zero_hit(kvs_lmc_eval *e)
{
    if (!e->d->mode.observed_embedded)
        return;
    const int64_t *t;
    size_t first;
    size_t n = post_warmup(e, K(LMCACHE_NUM_REQUESTED_TOKENS), &t, &first);
    double req, hit, stored;
    int64_t w0, w1;
    if (n >= 2) { /* rates after warm-up */
        w0 = t[first];
        w1 = t[first + n - 1];
        req = kvs_lmc_increase(sum_at(e, K(LMCACHE_NUM_REQUESTED_TOKENS), w0),
                               sum_at(e, K(LMCACHE_NUM_REQUESTED_TOKENS), w1));
        double h0 = sum_at(e, K(LMCACHE_NUM_HIT_TOKENS), w0), h1 = sum_at(e, K(LMCACHE_NUM_HIT_TOKENS), w1);
        hit = isnan(h1) ? 0 : kvs_lmc_increase(isnan(h0) ? 0 : h0, h1);
    } else { /* one snapshot: cumulative */
        w0 = e->d->t_min_ms;
        w1 = e->d->t_max_ms;
        req = kvs_lmc__sum0(e, K(LMCACHE_NUM_REQUESTED_TOKENS));
        hit = kvs_lmc__sum0(e, K(LMCACHE_NUM_HIT_TOKENS));
    }
    stored = kvs_lmc__sum0(e, K(LMCACHE_NUM_STORED_TOKENS)) + kvs_lmc__sum0(e, K(LMCACHE_NUM_STORE_REQUESTS));
    unsigned long log_zero = e->d->logs.cats[KVS_LMC_LOG_ZERO_HIT];
    bool metric_case = stored > 0 && req >= e->th[KVS_LMC_TH_MIN_WINDOW_LOOKUP_TOKENS] && hit == 0;
    bool log_case = log_zero > 0 && kvs_lmc__sum0(e, K(LMCACHE_NUM_HIT_TOKENS)) == 0 && stored > 0;
    if (!metric_case && !log_case)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_embedded_zero_hit_rate_after_replay", KVS_LMC_SEV_WARNING,
                                          "Embedded LMCache stored KV but %.0f looked-up tokens got no hit "
                                          "after warm-up",
                                          req);
    if (!f)
        return;
    f->window_start_ms = w0;
    f->window_end_ms = w1;
    kvs_lmc__num(f, "requested_tokens", req);
    kvs_lmc__num(f, "hit_tokens", hit);
    kvs_lmc__num(f, "stored_tokens_or_requests", stored);
    kvs_lmc__num(f, "zero_hit_log_lines", (double)log_zero);
    kvs_lmc__traces_where(e, f, zero_hit_req, NULL);
}

void kvs_lmc__rules_time(kvs_lmc_eval *e)
{
    hit_rate_after_warmup(e);
    l1_no_plateau(e);
    embedded_zero_hit(e);
}
