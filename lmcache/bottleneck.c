/* The bottleneck verdict (the peer's diagnose-bottleneck, on what kvscope
 * observes): LMCache evidence problems first -- failure reasons, then
 * findings, then upstream questions, then log evidence -- each giving
 * verdict not_enough_evidence with the peer's claim and downgrade rules;
 * otherwise the engine metric rules kvscope can evaluate from scrapes
 * (kv_bound, queue_bound, prefill_bound) with the peer's default
 * thresholds. Departure: among findings the most severe wins before the
 * peer's positional priority list, so a critical finding is never hidden
 * behind an info one. */
#include "lmcache/findings_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define K(x) KVS_METRIC_##x

static const char *const priority[] = {
    "lmcache_mp_observability_disabled", "lmcache_mode_mismatch", "lmcache_http_health_unhealthy",
    "lmcache_http_unhealthy", "lmcache_remote_backend_unhealthy", "lmcache_stale_connector",
    "lmcache_connector_invalid_blocks", "lmcache_mp_l1_failures", "lmcache_mp_l2_failures",
    "lmcache_log_p2p_transfer_failure", "lmcache_log_pd_role_mismatch", "lmcache_log_pd_stall",
    "lmcache_mp_eventbus_loss", "lmcache_mp_l2_store_backlog", "lmcache_mp_l2_load_backlog",
    "lmcache_mp_l2_throughput_low", "lmcache_mp_l2_prefetch_memory_crowding", "lmcache_mp_l0_l1_throughput_low",
    "lmcache_mp_l0_lifecycle_missing", "lmcache_mp_l0_l1_throughput_missing", "lmcache_mp_l1_eviction_pressure",
    "lmcache_mp_l1_saturation", "lmcache_mp_l1_leak", "lmcache_mp_low_hit_rate", "lmcache_lookup_zero_hit",
    "lmcache_lookup_low_hit", "lmcache_mp_real_reuse_missing", "lmcache_mp_real_reuse_low",
    "lmcache_cache_salt_cross_hit", "lmcache_cache_salt_cardinality_risk", "lmcache_cache_salt_quota_risk",
    "lmcache_mp_eventbus_pressure", "lmcache_cacheblend_failures", "lmcache_cacheblend_retrieve_failures",
    "lmcache_log_p2p_transfer_speed_hint", "lmcache_log_nixl_proxy_indicator", "lmcache_log_nixl_request_indicator",
    "lmcache_production_metrics_missing", "lmcache_production_health_unhealthy", "lmcache_chunk_stats_disabled",
    "lmcache_chunk_stats_low_reuse", "otel_tracing_enabled_but_no_spans",
    "lmcache_mp_trace_enabled_but_no_trace_artifact", "lmcache_trace_file_parse_failure",
    "lmcache_trace_replay_failure", "lmcache_mp_eventbus_taildrop_unobservable", "lmcache_mp_empty_cache_salt",
    "lmcache_mp_family_missing", "lmcache_mp_lookup_counters_missing", "lmcache_eventbus_self_metrics_missing",
    "lmcache_mp_eventbus_taildrop_risk", "lmcache_mp_sampled_histogram_sparse", "vllm_external_prefix_no_hits",
    "vllm_l0_excluded_caveat", "vllm_lmcache_offload_flag_without_metrics", "sglang_hicache_not_lmcache",
    "sglang_lmcache_with_hicache_metrics",
};

static size_t rank(const char *code)
{
    for (size_t i = 0; i < sizeof priority / sizeof *priority; i++)
        if (strcmp(priority[i], code) == 0)
            return i;
    return sizeof priority / sizeof *priority;
}

/* Better candidate: more severe, then earlier in the priority list, then
 * alphabetical. */
static bool better(const char *code, int sev, const char *best, int best_sev)
{
    if (!best)
        return true;
    if (sev != best_sev)
        return sev > best_sev;
    size_t a = rank(code), b = rank(best);
    if (a != b)
        return a < b;
    return strcmp(code, best) < 0;
}

static void set_downgrade(kvs_lmc_bottleneck *b, const char *claim, const char *from, const char *to, const char *why)
{
    b->downgrade_claim_id = claim;
    b->downgrade_from = from;
    b->downgrade_to = to;
    b->downgrade_reason = why;
}

static void primary(kvs_lmc_bottleneck *b, const char *metric, double v, const char *source)
{
    if (b->nprimary < sizeof b->primary / sizeof *b->primary)
        b->primary[b->nprimary++] = (kvs_lmc_evidence_value){metric, v, source};
}

static bool lmcache_downgrade(kvs_lmc_eval *e)
{
    kvs_lmc_diagnosis *d = e->d;
    kvs_lmc_bottleneck *b = &d->bottleneck;
    if (d->nfailures) {
        const kvs_lmc_reason *best = NULL;
        for (size_t i = 0; i < d->nfailures; i++)
            if (better(d->failures[i].code, 0, best ? best->code : NULL, 0))
                best = &d->failures[i];
        b->rule_fired = best->code;
        b->claim_status = "not_proven";
        b->reasoning = best->message;
        set_downgrade(b, "lmcache_compatibility", "measured", "not_proven", best->code);
        primary(b, "lmcache_compat.failure_reasons", (double)d->nfailures, "lmcache_compat_report.json");
        return true;
    }
    if (d->nfindings) {
        const kvs_lmc_finding *best = NULL;
        for (size_t i = 0; i < d->nfindings; i++) {
            const kvs_lmc_finding *f = &d->findings[i];
            if (better(f->code, (int)f->severity, best ? best->code : NULL, best ? (int)best->severity : 0))
                best = f;
        }
        b->rule_fired = best->code;
        b->reasoning = best->message;
        if (best->severity == KVS_LMC_SEV_INFO) {
            b->claim_status = "inferred";
            set_downgrade(b, "lmcache_mp_diagnostics", "measured", "inferred", best->code);
        } else {
            b->claim_status = "measured";
        }
        primary(b, "lmcache_compat.diagnostic_findings", (double)d->nfindings, "lmcache_findings.json");
        const char **ids = kvs_arena_alloc(d->arena, KVS_LMC_MAX_TRACES * sizeof *ids);
        if (ids) {
            for (size_t i = 0; i < best->ntraces; i++)
                ids[i] = best->trace_ids[i];
            b->supporting_trace_ids.v = ids;
            b->supporting_trace_ids.n = best->ntraces;
        }
        return true;
    }
    if (d->nquestions) {
        const kvs_lmc_question *best = NULL;
        for (size_t i = 0; i < d->nquestions; i++)
            if (better(d->questions[i].code, 0, best ? best->code : NULL, 0))
                best = &d->questions[i];
        b->rule_fired = best->code;
        b->claim_status = "inferred";
        b->reasoning = best->owner_question;
        set_downgrade(b, "lmcache_mp_compatibility", "measured", "inferred", best->code);
        primary(b, "lmcache_compat.upstream_questions", (double)d->nquestions, "lmcache_compat_report.json");
        return true;
    }
    const unsigned long *c = d->logs.cats;
    const char *code = NULL;
    if (c[KVS_LMC_LOG_PD_ROLE_MISMATCH] || c[KVS_LMC_LOG_PD_STALL])
        code = "lmcache_log_pd_attention_needed";
    else if (c[KVS_LMC_LOG_P2P_TRANSFER_FAILURE] || c[KVS_LMC_LOG_P2P_TRANSFER_SPEED])
        code = "lmcache_log_p2p_attention_needed";
    else if (c[KVS_LMC_LOG_PD_SENDER] || c[KVS_LMC_LOG_PD_RECEIVER])
        code = "lmcache_log_pd_evidence_present";
    else if (c[KVS_LMC_LOG_P2P_PEER] || c[KVS_LMC_LOG_P2P_TRANSFER])
        code = "lmcache_log_p2p_evidence_present";
    else if (c[KVS_LMC_LOG_STORE] || c[KVS_LMC_LOG_RETRIEVE])
        code = "lmcache_log_lifecycle_evidence_present";
    if (!code)
        return false;
    b->rule_fired = code;
    b->claim_status = "inferred";
    b->reasoning = "LMCache log evidence needs a look before a performance verdict";
    set_downgrade(b, "lmcache_log_evidence", "measured", "inferred", code);
    primary(b, "lmcache_log.lines", (double)d->logs.lines, "lmcache_log_evidence");
    return true;
}

/* p-quantile of a gauge key's values over the timeline (summed per time). */
static double gauge_q(const kvs_lmc_eval *e, kvs_metric_key k, double q)
{
    const int64_t *t;
    size_t n = kvs_lmc_evidence_times(e->ev, &t), m = 0;
    if (!n)
        return NAN;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        double x = kvs_lmc_evidence_sum(e->ev, k, t[i], NULL, NULL);
        if (!isnan(x))
            v[m++] = x;
    }
    double r = NAN;
    if (m) {
        for (size_t i = 1; i < m; i++) /* insertion sort: timelines are short */
            for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
                double x = v[j];
                v[j] = v[j - 1];
                v[j - 1] = x;
            }
        r = v[(size_t)floor(q * (double)(m - 1) + 0.5)];
    }
    free(v);
    return r;
}

static bool engine_rules(kvs_lmc_eval *e)
{
    kvs_lmc_bottleneck *b = &e->d->bottleneck;
    bool vllm = e->d->mode.observed_vllm;
    double usage = gauge_q(e, K(VLLM_KV_CACHE_USAGE_PERC), 0.95);
    if (!isnan(usage) && usage > 0.85) {
        b->verdict = "kv_bound";
        b->rule_fired = "kv_bound";
        b->confidence = 0.9;
        b->reasoning = "KV cache usage p95 is above 0.85";
        primary(b, "kv_cache.usage_fraction_p95", usage, "vllm:kv_cache_usage_perc");
        return true;
    }
    kvs_metric_key wait = vllm ? K(VLLM_NUM_REQUESTS_WAITING) : K(SGLANG_NUM_QUEUE_REQS);
    kvs_metric_key run = vllm ? K(VLLM_NUM_REQUESTS_RUNNING) : K(SGLANG_NUM_RUNNING_REQS);
    kvs_metric_key e2e = vllm ? K(VLLM_E2E_REQUEST_LATENCY_SECONDS) : K(SGLANG_E2E_REQUEST_LATENCY_SECONDS);
    kvs_metric_key ttft = vllm ? K(VLLM_TIME_TO_FIRST_TOKEN_SECONDS) : K(SGLANG_TIME_TO_FIRST_TOKEN_SECONDS);
    double w = kvs_lmc__sum(e, wait), r = kvs_lmc__sum(e, run);
    double e50 = kvs_lmc__hist_q(e, e2e, 0.5), e95 = kvs_lmc__hist_q(e, e2e, 0.95), e99 = kvs_lmc__hist_q(e, e2e, 0.99);
    double ratio = isnan(w) ? NAN : w / (isnan(r) || r < 1 ? 1 : r);
    if (!isnan(ratio) && ratio > 1.0 && !isnan(e99) && !isnan(e50) && e99 > 1.5 * e50) {
        b->verdict = "queue_bound";
        b->rule_fired = "queue_bound";
        b->confidence = 0.87;
        b->reasoning = "waiting/running above 1.0 and e2e p99 above 1.5x p50";
        primary(b, "queue.waiting_to_running", ratio, kvs_metric_id(wait));
        primary(b, "e2e.p99_seconds", e99, kvs_metric_id(e2e));
        return true;
    }
    double t95 = kvs_lmc__hist_q(e, ttft, 0.95);
    double p95 = vllm ? kvs_lmc__hist_q(e, K(VLLM_REQUEST_PREFILL_TIME_SECONDS), 0.95) : t95;
    double run95 = gauge_q(e, run, 0.95);
    if (!isnan(t95) && !isnan(e95) && e95 > 0 && t95 / e95 > 0.6 && !isnan(p95) && p95 / e95 > 0.5 &&
        (isnan(run95) || run95 <= 2)) {
        b->verdict = "prefill_bound";
        b->rule_fired = "prefill_bound";
        b->confidence = 0.9;
        b->reasoning = "TTFT p95 is most of e2e p95 with few running requests";
        primary(b, "ttft.p95_seconds", t95, kvs_metric_id(ttft));
        primary(b, "e2e.p95_seconds", e95, kvs_metric_id(e2e));
        return true;
    }
    return false;
}

void kvs_lmc__bottleneck(kvs_lmc_eval *e)
{
    kvs_lmc_bottleneck *b = &e->d->bottleneck;
    static const char *const rules[] = {"lmcache_evidence", "kv_bound", "queue_bound", "prefill_bound"};
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        b->rules_evaluated[b->nrules++] = rules[i];
    b->verdict = "not_enough_evidence";
    b->confidence = 0;
    b->claim_status = "not_proven";
    if (lmcache_downgrade(e)) {
        b->recommended_next_probe = "kvscope diagnose <evidence dir> and read lmcache_findings.json";
        return;
    }
    if (engine_rules(e)) {
        b->claim_status = "measured";
        b->recommended_next_probe = "compare with a request profile (spans) over the same window";
        return;
    }
    b->rule_fired = "no_rule_fired";
    b->reasoning = "no rule fired on the evidence";
    b->recommended_next_probe = "collect engine and LMCache scrapes over a loaded window";
}
