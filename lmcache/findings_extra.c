/* kvscope's detectors beyond the peer's compat findings that need no
 * timeline: LMCache metrics missing while LMCache is configured,
 * cache_salt isolation and cardinality, embedded hash-seed risk, remote
 * backend errors and slow P2P, vLLM-vs-LMCache hit accounting (both
 * directions), SGLang queue and KV-transfer pressure, MP timeouts, L1
 * saturation and EventBus pressure. */
#include "lmcache/findings_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <string.h>

#define K(x) KVS_METRIC_##x

static double nz(double v) { return isnan(v) ? 0.0 : v; }

/* Largest gauge value ever seen over the series of k; NaN when none. */
static double gauge_max(const kvs_lmc_eval *e, kvs_metric_key k)
{
    const kvs_lmc_series *const *ss;
    size_t n = kvs_lmc_evidence_key_series(e->ev, k, &ss);
    double m = NAN;
    for (size_t i = 0; i < n; i++)
        if (!isnan(ss[i]->max) && (isnan(m) || ss[i]->max > m))
            m = ss[i]->max;
    return m;
}

static void metrics_missing(kvs_lmc_eval *e)
{
    const kvs_lmc_mode_result *m = &e->d->mode;
    if (strcmp(m->mode_source, "signals") != 0)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_production_metrics_missing", KVS_LMC_SEV_WARNING,
                                          "LMCache (%s) is configured but none of its metrics were seen",
                                          kvs_lmc_mode_name(m->mode));
    kvs_lmc__str(e, f, "detected_mode", kvs_lmc_mode_name(m->mode));
    kvs_lmc__str(e, f, "detected_architecture", kvs_lmc_arch_name(m->arch));
    kvs_lmc_strs sig = {m->arch_signals, m->narch_signals};
    kvs_lmc__strs(f, "signals", sig);
}

static bool empty_salt_req(const kvs_lmc_req_rec *r, const void *arg)
{
    (void)arg;
    return r->salt_observed && !r->store_only && (!r->cache_salt || !*r->cache_salt);
}

static void cache_salt(kvs_lmc_eval *e)
{
    const kvs_lmc_flags *fl = kvs_lmc_evidence_flags(e->ev);
    const kvs_lmc_req_stats *rs = &e->d->requests;
    const kvs_lmc_mp_obs *o = &e->d->mp_obs;
    size_t salted = 0;
    for (size_t i = 0; i < o->cache_salt_values.n; i++)
        salted += *o->cache_salt_values.v[i] != '\0';
    bool unsalted = fl->empty_salt_nonzero || fl->salt_missing_nonzero || rs->salt_missing || rs->salt_empty;
    if (unsalted && salted) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_cache_salt_empty_or_missing", KVS_LMC_SEV_WARNING,
                                              "%zu tenants use a cache_salt but other traffic has an empty or no salt "
                                              "(%lu requests without, %lu with an empty salt)",
                                              salted, rs->salt_missing, rs->salt_empty);
        kvs_lmc__num(f, "salted_tenants", (double)salted);
        kvs_lmc__bool(f, "empty_salt_series", fl->empty_salt_nonzero);
        kvs_lmc__bool(f, "missing_salt_series", fl->salt_missing_nonzero);
        kvs_lmc__num(f, "requests_without_salt", (double)rs->salt_missing);
        kvs_lmc__num(f, "requests_with_empty_salt", (double)rs->salt_empty);
        kvs_lmc__traces_where(e, f, empty_salt_req, NULL);
    }
    if (o->cache_salt_cardinality_risk) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_cache_salt_cardinality_high", KVS_LMC_SEV_WARNING,
                                              "%zu distinct cache_salt values exceed %.0f", o->cache_salt_cardinality,
                                              e->th[KVS_LMC_TH_CACHE_SALT_CARDINALITY_MAX]);
        kvs_lmc__num(f, "cache_salt_cardinality", (double)o->cache_salt_cardinality);
        kvs_lmc__num(f, "cache_salt_cardinality_max", e->th[KVS_LMC_TH_CACHE_SALT_CARDINALITY_MAX]);
    }
}

static void hashseed(kvs_lmc_eval *e)
{
    const kvs_lmc_mode_result *m = &e->d->mode;
    if (m->mode != KVS_LMC_MODE_EMBEDDED && m->mode != KVS_LMC_MODE_MIXED)
        return;
    kvs_lmc_strset *set = kvs_lmc_evidence_set(e->ev, KVS_LMC_SET_HASHSEED);
    size_t n;
    const char *const *v = kvs_lmc_strset_sorted(set, &n);
    bool remote = kvs_lmc_evidence_key_nonzero(e->ev, K(LMCACHE_NUM_REMOTE_READ_REQUESTS)) ||
                  kvs_lmc_evidence_key_nonzero(e->ev, K(LMCACHE_NUM_REMOTE_WRITE_REQUESTS));
    size_t instances = kvs_lmc_strset_cardinality(kvs_lmc_evidence_set(e->ev, KVS_LMC_SET_SERVICE_INSTANCE));
    bool shared = m->p2p.candidate || m->pd.candidate || remote || instances > 1;
    bool zero_hit = kvs_lmc_diagnosis_finding(e->d, "lmcache_embedded_zero_hit_rate_after_replay") != NULL;
    const char *why = NULL;
    kvs_lmc_severity sev = KVS_LMC_SEV_WARNING;
    if (n > 1)
        why = "processes run with different PYTHONHASHSEED values";
    else if (n == 1 && strcmp(v[0], "random") == 0 && (shared || zero_hit))
        why = "PYTHONHASHSEED is random while the cache is shared";
    else if (n == 0 && (shared || zero_hit)) {
        why = "PYTHONHASHSEED is not visible while the cache is shared between processes";
        if (!e->d->lanes[KVS_LMC_LANE_LOGS].provided)
            sev = KVS_LMC_SEV_INFO;
    }
    if (!why)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_embedded_hashseed_risk", sev, "%s", why);
    kvs_lmc_strs seeds = {v, n};
    kvs_lmc__strs(f, "pythonhashseed_values", seeds);
    kvs_lmc__bool(f, "p2p_candidate", m->p2p.candidate);
    kvs_lmc__bool(f, "pd_candidate", m->pd.candidate);
    kvs_lmc__bool(f, "remote_backend", remote);
    kvs_lmc__num(f, "service_instances", (double)instances);
    kvs_lmc__bool(f, "zero_hit_after_replay", zero_hit);
}

static void remote_backend(kvs_lmc_eval *e)
{
    double ping_err = nz(kvs_lmc__increase(e, K(LMCACHE_REMOTE_PING_ERRORS)));
    double ping_ok = nz(kvs_lmc__increase(e, K(LMCACHE_REMOTE_PING_SUCCESSES)));
    double code = nz(gauge_max(e, K(LMCACHE_REMOTE_PING_ERROR_CODE)));
    double get_fail = nz(gauge_max(e, K(LMCACHE_GET_BLOCKING_FAILED_COUNT)));
    double put_fail = nz(gauge_max(e, K(LMCACHE_PUT_FAILED_COUNT)));
    unsigned long log_err = e->d->logs.cats[KVS_LMC_LOG_REMOTE_BACKEND_ERROR];
    if (ping_err <= 0 && code == 0 && get_fail <= 0 && put_fail <= 0 && !log_err)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_embedded_remote_backend_errors",
                                          ping_err > 0 && ping_ok == 0 ? KVS_LMC_SEV_CRITICAL : KVS_LMC_SEV_WARNING,
                                          "Remote backend errors: %.0f ping errors (%.0f successes), error code %.0f, "
                                          "%.0f failed gets, %.0f failed puts, %lu log lines",
                                          ping_err, ping_ok, code, get_fail, put_fail, log_err);
    kvs_lmc__num(f, "remote_ping_errors", ping_err);
    kvs_lmc__num(f, "remote_ping_successes", ping_ok);
    kvs_lmc__num(f, "remote_ping_error_code", code);
    kvs_lmc__num(f, "get_blocking_failed_count", get_fail);
    kvs_lmc__num(f, "put_failed_count", put_fail);
    kvs_lmc__num(f, "remote_backend_error_log_lines", (double)log_err);
}

static void p2p_slow(kvs_lmc_eval *e)
{
    double p50 = kvs_lmc__hist_q(e, K(LMCACHE_P2P_TRANSFER_SPEED), 0.5);
    double p95 = kvs_lmc__hist_q(e, K(LMCACHE_P2P_TIME_TO_TRANSFER), 0.95);
    double gbps = e->d->logs.speed_gbps_min;
    bool slow_speed = !isnan(p50) && p50 < e->th[KVS_LMC_TH_P2P_MIN_TOKENS_PER_SECOND];
    bool slow_time = !isnan(p95) && p95 > e->th[KVS_LMC_TH_P2P_MAX_TRANSFER_P95_SECONDS];
    bool slow_log = !isnan(gbps) && gbps < e->th[KVS_LMC_TH_P2P_MIN_GBPS];
    if (!slow_speed && !slow_time && !slow_log)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_embedded_p2p_transfer_slow", KVS_LMC_SEV_WARNING,
                                          "P2P transfers are slow: speed p50 %.0f tokens/s, time p95 %.3f s, "
                                          "slowest logged %.3f GB/s",
                                          p50, p95, gbps);
    kvs_lmc__num(f, "p2p_transfer_speed_p50_tokens_per_second", p50);
    kvs_lmc__num(f, "p2p_time_to_transfer_p95_seconds", p95);
    kvs_lmc__num(f, "log_min_speed_gbps", gbps);
}

static void prefix_mismatch(kvs_lmc_eval *e)
{
    double vext = kvs_lmc__increase(e, K(VLLM_EXTERNAL_PREFIX_CACHE_HITS));
    double vloc = nz(kvs_lmc__increase(e, K(VLLM_PREFIX_CACHE_HITS)));
    double lmc = kvs_lmc__increase(e, K(LMCACHE_MP_LOOKUP_HIT));
    const char *src = "lmcache_mp.lookup_hit";
    if (isnan(lmc)) {
        lmc = kvs_lmc__increase(e, K(LMCACHE_NUM_HIT_TOKENS));
        src = "lmcache:num_hit_tokens";
    }
    if (isnan(vext) || isnan(lmc))
        return;
    double tol = e->th[KVS_LMC_TH_PREFIX_MISMATCH_TOLERANCE], min = e->th[KVS_LMC_TH_MIN_WINDOW_LOOKUP_TOKENS];
    const char *code = NULL;
    if (vext >= min && vext > lmc * (1 + tol))
        code = "vllm_external_hits_exceed_lmcache_hits";
    else if (lmc >= min && lmc > (vext + vloc) * (1 + tol))
        code = "lmcache_hits_not_reflected_in_vllm";
    if (!code)
        return;
    kvs_lmc_finding *f = kvs_lmc__finding(e, code, KVS_LMC_SEV_WARNING,
                                          "vLLM external prefix hits %.0f tokens (local %.0f) vs LMCache hits %.0f "
                                          "tokens (%s)",
                                          vext, vloc, lmc, src);
    kvs_lmc__num(f, "vllm_external_prefix_cache_hits", vext);
    kvs_lmc__num(f, "vllm_prefix_cache_hits", vloc);
    kvs_lmc__num(f, "lmcache_hit_tokens", lmc);
    kvs_lmc__str(e, f, "lmcache_source_metric", src);
}

static void sglang_pressure(kvs_lmc_eval *e)
{
    if (!e->d->mode.observed_sglang)
        return;
    const int64_t *t;
    size_t n = kvs_lmc_evidence_times(e->ev, &t);
    double sum = 0, last_q = NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double q = kvs_lmc_evidence_sum(e->ev, K(SGLANG_NUM_QUEUE_REQS), t[i], NULL, NULL);
        double r = kvs_lmc_evidence_sum(e->ev, K(SGLANG_NUM_RUNNING_REQS), t[i], NULL, NULL);
        if (isnan(q))
            continue;
        sum += q / (isnan(r) || r < 1 ? 1 : r);
        last_q = q;
        k++;
    }
    double ratio = k ? sum / (double)k : NAN;
    double qt = kvs_lmc__hist_q(e, K(SGLANG_QUEUE_TIME_SECONDS), 0.95);
    if ((!isnan(ratio) && ratio > e->th[KVS_LMC_TH_SGLANG_QUEUE_RATIO] && last_q > 0) ||
        (!isnan(qt) && qt > e->th[KVS_LMC_TH_SGLANG_QUEUE_TIME_P95_SECONDS])) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "sglang_queue_pressure", KVS_LMC_SEV_WARNING,
                                              "SGLang queued/running ratio %.2f over %zu scrapes, queue time p95 "
                                              "%.2f s",
                                              ratio, k, qt);
        kvs_lmc__num(f, "queued_to_running_ratio", ratio);
        kvs_lmc__num(f, "num_queue_reqs_last", last_q);
        kvs_lmc__num(f, "queue_time_p95_seconds", qt);
    }
    double failed = nz(kvs_lmc__increase(e, K(SGLANG_NUM_TRANSFER_FAILED_REQS))) +
                    nz(kvs_lmc__increase(e, K(SGLANG_NUM_BOOTSTRAP_FAILED_REQS))) +
                    nz(kvs_lmc__increase(e, K(SGLANG_KV_TRANSFER_ERRORS)));
    double lat = kvs_lmc__hist_q(e, K(SGLANG_KV_TRANSFER_LATENCY_MS), 0.95);
    double spd = kvs_lmc__hist_q(e, K(SGLANG_KV_TRANSFER_SPEED_GB_S), 0.5);
    double tq = gauge_max(e, K(SGLANG_NUM_DECODE_TRANSFER_QUEUE_REQS));
    bool slow = (!isnan(lat) && lat > e->th[KVS_LMC_TH_SGLANG_KV_TRANSFER_LATENCY_P95_MS]) ||
                (!isnan(spd) && spd < e->th[KVS_LMC_TH_SGLANG_KV_TRANSFER_MIN_GBPS]) ||
                (!isnan(tq) && tq > e->th[KVS_LMC_TH_SGLANG_TRANSFER_QUEUE_MAX]);
    if (failed > 0 || slow) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "sglang_kv_transfer_pressure",
                                              failed > 0 ? KVS_LMC_SEV_CRITICAL : KVS_LMC_SEV_WARNING,
                                              "SGLang KV transfer: %.0f failed requests, latency p95 %.1f ms, speed p50 "
                                              "%.2f GB/s, decode transfer queue up to %.0f",
                                              failed, lat, spd, tq);
        kvs_lmc__num(f, "failed_transfers", failed);
        kvs_lmc__num(f, "kv_transfer_latency_p95_ms", lat);
        kvs_lmc__num(f, "kv_transfer_speed_p50_gbps", spd);
        kvs_lmc__num(f, "decode_transfer_queue_max", tq);
    }
}

static bool timeout_req(const kvs_lmc_req_rec *r, const void *arg)
{
    (void)arg;
    return r->timeouts > 0;
}

static void mp_health(kvs_lmc_eval *e)
{
    double tmo = nz(kvs_lmc__sum(e, K(LMCACHE_MP_TIMEOUTS)));
    unsigned long spans = e->d->spans.timeout_spans, reqs = e->d->requests.timeouts;
    if (tmo > 0 || spans || reqs) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_request_timeouts", KVS_LMC_SEV_WARNING,
                                              "LMCache MP timeouts: %.0f counted, %lu timeout spans, %lu in requests",
                                              tmo, spans, reqs);
        kvs_lmc__num(f, "lmcache_mp_timeouts_total", tmo);
        kvs_lmc__num(f, "timeout_spans", (double)spans);
        kvs_lmc__num(f, "request_timeouts", (double)reqs);
        kvs_lmc__traces_where(e, f, timeout_req, NULL);
    }
    double usage = gauge_max(e, K(LMCACHE_MP_L1_USAGE_RATIO));
    if (!isnan(usage) && usage >= e->th[KVS_LMC_TH_L1_SATURATION_RATIO]) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_l1_saturation", KVS_LMC_SEV_WARNING,
                                              "L1 usage ratio reached %.3f", usage);
        kvs_lmc__num(f, "lmcache_mp_l1_usage_ratio_max", usage);
    }
    double depth = gauge_max(e, K(LMCACHE_MP_EVENT_BUS_QUEUE_DEPTH));
    long qs = e->d->mp_obs.event_bus_queue_size;
    if (!isnan(depth) && qs > 0 && depth >= e->th[KVS_LMC_TH_EVENT_BUS_PRESSURE_RATIO] * (double)qs) {
        kvs_lmc_finding *f = kvs_lmc__finding(e, "lmcache_mp_eventbus_pressure", KVS_LMC_SEV_WARNING,
                                              "EventBus queue depth reached %.0f of %ld", depth, qs);
        kvs_lmc__num(f, "lmcache_mp_event_bus_queue_depth_max", depth);
        kvs_lmc__num(f, "event_bus_queue_size", (double)qs);
    }
}

void kvs_lmc__rules_extra(kvs_lmc_eval *e)
{
    metrics_missing(e);
    cache_salt(e);
    remote_backend(e);
    p2p_slow(e);
    prefix_mismatch(e);
    sglang_pressure(e);
    mp_health(e);
    hashseed(e); /* after the time rules: it reads the zero-hit finding */
}
