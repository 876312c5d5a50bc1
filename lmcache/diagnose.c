/* Evaluation of an evidence model into a diagnosis (see diagnose.h): mode,
 * families, roll-ups, summaries, then failure reasons, findings (peer
 * rules, timeline rules, kvscope rules), questions and the bottleneck
 * verdict, in that fixed order. */
#include "lmcache/diagnose.h"

#include "lmcache/findings_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define K(x) KVS_METRIC_##x

void kvs_lmc_config_default(kvs_lmc_config *c)
{
    memset(c, 0, sizeof *c);
    c->expect_mode = KVS_LMC_EXPECT_AUTO;
    kvs_lmc_thresholds_default(&c->thresholds);
}

void kvs_lmc_diagnosis_free(kvs_lmc_diagnosis *d)
{
    if (!d)
        return;
    kvs_arena_free(d->arena);
    free(d);
}

const kvs_lmc_finding *kvs_lmc_diagnosis_finding(const kvs_lmc_diagnosis *d, const char *code)
{
    for (size_t i = 0; i < d->nfindings; i++)
        if (strcmp(d->findings[i].code, code) == 0)
            return &d->findings[i];
    return NULL;
}

const kvs_lmc_family_row *kvs_lmc_diagnosis_row(const kvs_lmc_diagnosis *d, const char *surface, const char *family)
{
    const kvs_lmc_family_def *def = kvs_lmc_family_find(surface, family);
    return def ? kvs_lmc_row_find(d->rows, d->nrows, def->surface, family) : NULL;
}

/* Copies of n strings in the arena, as a kvs_lmc_strs. */
static kvs_lmc_strs arena_strs(kvs_lmc_eval *e, const char *const *v, size_t n)
{
    kvs_lmc_strs out = {NULL, 0};
    if (!n)
        return out;
    const char **c = kvs_arena_alloc(e->d->arena, n * sizeof *c);
    if (!c) {
        e->rc = KVS_E_NOMEM;
        return out;
    }
    for (size_t i = 0; i < n; i++)
        c[i] = kvs_lmc__strdup(e, v[i]);
    out.v = c;
    out.n = n;
    return out;
}

/* A sorted copy of a string set in the arena. */
static kvs_lmc_strs copy_set(kvs_lmc_eval *e, kvs_lmc_set_id id)
{
    size_t n;
    const char *const *v = kvs_lmc_strset_sorted(kvs_lmc_evidence_set(e->ev, id), &n);
    return arena_strs(e, v, n);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Spellings (with a value, or only non-zero ones) of a list of keys. */
static kvs_lmc_strs spellings(kvs_lmc_eval *e, const kvs_metric_key *keys, bool nonzero_only)
{
    const char *tmp[64];
    size_t n = 0;
    for (; *keys; keys++) {
        const char *const *sp;
        const bool *nz;
        size_t m = kvs_lmc_evidence_key_spellings(e->ev, *keys, &sp, &nz);
        for (size_t i = 0; i < m && n < 64; i++)
            if (!nonzero_only || nz[i])
                tmp[n++] = sp[i];
    }
    qsort(tmp, n, sizeof *tmp, cmp_str);
    return arena_strs(e, tmp, n);
}

static bool any_seen(kvs_lmc_evidence *ev, const kvs_metric_key *k)
{
    for (; *k; k++)
        if (kvs_lmc_evidence_key_seen(ev, *k))
            return true;
    return false;
}

static bool any_nonzero(kvs_lmc_evidence *ev, const kvs_metric_key *k)
{
    for (; *k; k++)
        if (kvs_lmc_evidence_key_nonzero(ev, *k))
            return true;
    return false;
}

static const kvs_metric_key l2_keys[] = {
    K(LMCACHE_MP_L2_STORE_SUBMITTED), K(LMCACHE_MP_L2_STORE_SUBMITTED_OBJECTS), K(LMCACHE_MP_L2_STORE_COMPLETED),
    K(LMCACHE_MP_L2_STORE_COMPLETED_OBJECTS), K(LMCACHE_MP_L2_PREFETCH_LOOKUP), K(LMCACHE_MP_L2_PREFETCH_LOAD_SUBMITTED),
    K(LMCACHE_MP_L2_PREFETCH_LOAD_COMPLETED), K(LMCACHE_MP_L2_LOAD_COMPLETED), K(LMCACHE_MP_L2_STORE_FAILED_KEYS),
    K(LMCACHE_MP_L2_PREFETCH_FAILED_KEYS), K(LMCACHE_MP_L2_PREFETCH_FAILURE), K(LMCACHE_MP_L2_STORE_THROUGHPUT),
    K(LMCACHE_MP_L2_LOAD_THROUGHPUT), K(LMCACHE_MP_NUM_INFLIGHT_L2_STORES), K(LMCACHE_MP_NUM_INFLIGHT_L2_LOADS),
    K(LMCACHE_MP_L2_USAGE_BYTES), 0};

static void mp_observability(kvs_lmc_eval *e)
{
    kvs_lmc_diagnosis *d = e->d;
    kvs_lmc_mp_obs *o = &d->mp_obs;
    const kvs_lmc_config *c = &d->cfg;
    o->prometheus_port = c->prometheus_port ? c->prometheus_port : 9090;
    o->event_bus_queue_size = c->has_event_bus_queue_size ? c->event_bus_queue_size : 10000;
    o->metrics_sample_rate = c->metrics_sample_rate > 0 ? c->metrics_sample_rate : 0.01;
    kvs_lmc_strset *ids = kvs_lmc_evidence_set(e->ev, KVS_LMC_SET_SERVICE_INSTANCE);
    size_t n;
    const char *const *v = kvs_lmc_strset_sorted(ids, &n);
    const char **all = kvs_arena_alloc(d->arena, (n + 1) * sizeof *all);
    if (!all) {
        e->rc = KVS_E_NOMEM;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        all[k++] = kvs_lmc__strdup(e, v[i]);
    if (c->service_instance_id && *c->service_instance_id && !kvs_lmc_strset_has(ids, c->service_instance_id))
        all[k++] = c->service_instance_id;
    qsort(all, k, sizeof *all, cmp_str);
    o->service_instance_ids.v = all;
    o->service_instance_ids.n = k;
    o->service_instance_id_source = k ? "target_info_or_cli" : "missing";
    o->cache_salt_values = copy_set(e, KVS_LMC_SET_CACHE_SALT);
    o->cache_salt_cardinality = kvs_lmc_strset_cardinality(kvs_lmc_evidence_set(e->ev, KVS_LMC_SET_CACHE_SALT));
    o->cache_salt_cardinality_risk = (double)o->cache_salt_cardinality > e->th[KVS_LMC_TH_CACHE_SALT_CARDINALITY_MAX];
    o->l2_names = copy_set(e, KVS_LMC_SET_L2_NAME);
    o->adapter_indices = copy_set(e, KVS_LMC_SET_ADAPTER_INDEX);
    static const kvs_metric_key eb[] = {K(LMCACHE_MP_EVENT_BUS_QUEUE_DEPTH), K(LMCACHE_MP_EVENT_BUS_DRAIN_LAG_SECONDS),
                                        K(LMCACHE_MP_EVENT_BUS_DROPPED_EVENTS_TOTAL),
                                        K(LMCACHE_MP_EVENT_BUS_SUBSCRIBER_EXCEPTIONS), 0};
    o->event_bus_metric_names = spellings(e, eb, false);
    o->event_bus_taildrop_risk = d->mode.observed_mp && o->event_bus_queue_size > 0 && !any_seen(e->ev, eb);
    static const kvs_metric_key sampled[] = {
        K(LMCACHE_MP_L1_CHUNK_LIFETIME), K(LMCACHE_MP_L1_CHUNK_IDLE_BEFORE_EVICT), K(LMCACHE_MP_L1_CHUNK_REUSE_GAP),
        K(LMCACHE_MP_L1_CHUNK_EVICT_REUSE_GAP), K(LMCACHE_MP_L0_BLOCK_LIFETIME), K(LMCACHE_MP_L0_BLOCK_IDLE_BEFORE_EVICT),
        K(LMCACHE_MP_L0_BLOCK_REUSE_GAP), K(LMCACHE_MP_L0_L1_STORE_THROUGHPUT), K(LMCACHE_MP_L0_L1_LOAD_THROUGHPUT),
        K(LMCACHE_MP_L2_STORE_THROUGHPUT), K(LMCACHE_MP_L2_LOAD_THROUGHPUT), K(LMCACHE_MP_REAL_REUSE_GAP),
        K(LMCACHE_MP_REAL_REUSE_GAP_OBJECTS), 0};
    o->sampled_histogram_names = spellings(e, sampled, true);
    bool counters = false;
    size_t ns = kvs_lmc_evidence_nseries(e->ev);
    for (size_t i = 0; i < ns && !counters; i++) {
        const kvs_lmc_series *s = kvs_lmc_evidence_series(e->ev, i);
        counters = s->key && s->kind == KVS_LMC_COUNTER && s->nonzero &&
                   kvs_metric_info_of(s->key)->surface == KVS_SURFACE_LMCACHE_MP;
    }
    o->sampled_histogram_sparse = d->mode.observed_mp && counters && !o->sampled_histogram_names.n &&
                                  o->metrics_sample_rate <= e->th[KVS_LMC_TH_METRICS_SAMPLE_RATE_SPARSE];
}

static void l2_summary(kvs_lmc_eval *e)
{
    kvs_lmc_l2_summary *l = &e->d->l2;
    l->observed = any_seen(e->ev, l2_keys) || kvs_lmc_evidence_key_seen(e->ev, K(LMCACHE_MP_ACTIVE_PREFETCH_JOBS)) ||
                  kvs_lmc_evidence_key_seen(e->ev, K(LMCACHE_MP_INFLIGHT_LOAD_MEMORY_USAGE_BYTES));
    l->store_tasks = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_STORE_SUBMITTED));
    l->store_completed = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_STORE_COMPLETED));
    l->store_failed_keys = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_STORE_FAILED_KEYS));
    l->prefetch_load_tasks = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_PREFETCH_LOAD_SUBMITTED));
    l->load_completed = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_LOAD_COMPLETED));
    l->prefetch_loaded_keys = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_PREFETCH_LOAD_COMPLETED));
    l->prefetch_load_keys = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_PREFETCH_LOAD_SUBMITTED_OBJECTS));
    l->prefetch_failed_keys = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_PREFETCH_FAILED_KEYS));
    l->prefetch_failures = kvs_lmc__sum0(e, K(LMCACHE_MP_L2_PREFETCH_FAILURE));
    l->num_inflight_l2_stores = kvs_lmc__sum0(e, K(LMCACHE_MP_NUM_INFLIGHT_L2_STORES));
    l->num_inflight_l2_loads = kvs_lmc__sum0(e, K(LMCACHE_MP_NUM_INFLIGHT_L2_LOADS));
    l->active_prefetch_jobs = kvs_lmc__sum0(e, K(LMCACHE_MP_ACTIVE_PREFETCH_JOBS));
    l->inflight_load_memory_usage_bytes = kvs_lmc__sum0(e, K(LMCACHE_MP_INFLIGHT_LOAD_MEMORY_USAGE_BYTES));
    l->store_backlog =
        l->num_inflight_l2_stores > 0 && (l->store_completed <= 0 || l->store_completed < l->store_tasks);
    l->load_backlog = (l->num_inflight_l2_loads > 0 || l->active_prefetch_jobs > 0) &&
                      (l->load_completed <= 0 || l->prefetch_loaded_keys < l->prefetch_load_keys);
    l->store_throughput_gbs = kvs_lmc__hist_mean(e, K(LMCACHE_MP_L2_STORE_THROUGHPUT));
    l->load_throughput_gbs = kvs_lmc__hist_mean(e, K(LMCACHE_MP_L2_LOAD_THROUGHPUT));
}

static void cb_summary(kvs_lmc_eval *e)
{
    kvs_lmc_cb_summary *c = &e->d->cb;
    c->observed = e->d->mode.observed_cacheblend;
    c->lookup_requests = kvs_lmc__sum0(e, K(LMCACHE_BLEND_LOOKUP_REQUESTS));
    c->lookup_fingerprint_hits = kvs_lmc__sum0(e, K(LMCACHE_BLEND_LOOKUP_FINGERPRINT_HITS));
    c->lookup_storage_hits = kvs_lmc__sum0(e, K(LMCACHE_BLEND_LOOKUP_STORAGE_HITS));
    c->lookup_fingerprint_hit_rate = kvs_lmc_ratio(c->lookup_fingerprint_hits, c->lookup_requests);
    c->lookup_storage_hit_rate = kvs_lmc_ratio(c->lookup_storage_hits, c->lookup_requests);
    c->lookup_stale_chunks = kvs_lmc__sum0(e, K(LMCACHE_BLEND_LOOKUP_STALE_CHUNKS));
    c->lookup_no_gpu_context_errors = kvs_lmc__sum0(e, K(LMCACHE_BLEND_LOOKUP_NO_GPU_CONTEXT_ERRORS));
    c->retrieve_requests = kvs_lmc__sum0(e, K(LMCACHE_BLEND_RETRIEVE_REQUESTS));
    c->retrieve_chunks = kvs_lmc__sum0(e, K(LMCACHE_BLEND_RETRIEVE_CHUNKS));
    c->store_pre_computed_requests = kvs_lmc__sum0(e, K(LMCACHE_BLEND_STORE_PRE_COMPUTED_REQUESTS));
    c->store_final_requests = kvs_lmc__sum0(e, K(LMCACHE_BLEND_STORE_FINAL_REQUESTS));
    c->failures = kvs_lmc__sum0(e, K(LMCACHE_BLEND_RETRIEVE_FAILURES)) +
                  kvs_lmc__sum0(e, K(LMCACHE_BLEND_STORE_PRE_COMPUTED_FAILURES)) +
                  kvs_lmc__sum0(e, K(LMCACHE_BLEND_STORE_FINAL_FAILURES));
    c->fingerprints_registered = kvs_lmc__sum0(e, K(LMCACHE_BLEND_FINGERPRINTS_REGISTERED));
    c->chunks_evicted = kvs_lmc__sum0(e, K(LMCACHE_BLEND_CHUNKS_EVICTED));
}

static double sum_label(kvs_lmc_eval *e, kvs_metric_key k, const char *lval)
{
    double v = kvs_lmc_evidence_sum(e->ev, k, INT64_MAX, "transfer_type", lval);
    return isnan(v) ? 0.0 : v;
}

static void offload(kvs_lmc_eval *e)
{
    kvs_lmc_kv_offload *o = &e->d->offload;
    o->gpu_to_cpu_bytes = sum_label(e, K(VLLM_KV_OFFLOAD_TOTAL_BYTES), "GPU_to_CPU") +
                          kvs_lmc__sum0(e, K(VLLM_KV_OFFLOAD_STORE_BYTES));
    o->cpu_to_gpu_bytes = sum_label(e, K(VLLM_KV_OFFLOAD_TOTAL_BYTES), "CPU_to_GPU") +
                          kvs_lmc__sum0(e, K(VLLM_KV_OFFLOAD_LOAD_BYTES));
    o->gpu_to_cpu_seconds = sum_label(e, K(VLLM_KV_OFFLOAD_TOTAL_TIME), "GPU_to_CPU") +
                            kvs_lmc__sum0(e, K(VLLM_KV_OFFLOAD_STORE_TIME));
    o->cpu_to_gpu_seconds = sum_label(e, K(VLLM_KV_OFFLOAD_TOTAL_TIME), "CPU_to_GPU") +
                            kvs_lmc__sum0(e, K(VLLM_KV_OFFLOAD_LOAD_TIME));
    static const kvs_metric_key vk[] = {
        K(VLLM_KV_OFFLOAD_LOAD_BYTES), K(VLLM_KV_OFFLOAD_STORE_BYTES), K(VLLM_KV_OFFLOAD_TOTAL_BYTES),
        K(VLLM_KV_OFFLOAD_LOAD_TIME), K(VLLM_KV_OFFLOAD_STORE_TIME), K(VLLM_KV_OFFLOAD_TOTAL_TIME),
        K(VLLM_KV_OFFLOAD_LOAD_SIZE), K(VLLM_KV_OFFLOAD_STORE_SIZE), K(VLLM_KV_OFFLOAD_SIZE),
        K(VLLM_SIMPLE_KV_OFFLOAD_INFO), K(VLLM_SIMPLE_KV_OFFLOAD_USED_BLOCKS), 0};
    o->vllm_status = o->gpu_to_cpu_bytes > 0 || o->cpu_to_gpu_bytes > 0 ? "populated"
                     : any_seen(e->ev, vk)                               ? "zero"
                                                                         : "missing";
    o->store_throughput_gbs = kvs_lmc__hist_mean(e, K(LMCACHE_MP_L0_L1_STORE_THROUGHPUT));
    o->load_throughput_gbs = kvs_lmc__hist_mean(e, K(LMCACHE_MP_L0_L1_LOAD_THROUGHPUT));
    static const kvs_metric_key lk[] = {K(LMCACHE_MP_L0_L1_STORE_THROUGHPUT), K(LMCACHE_MP_L0_L1_LOAD_THROUGHPUT), 0};
    o->lmcache_status = (o->store_throughput_gbs > 0 || o->load_throughput_gbs > 0) ? "populated"
                        : any_seen(e->ev, lk)                                         ? "zero"
                                                                                      : "missing";
}

static void copy_config(kvs_lmc_eval *e, const kvs_lmc_config *cfg)
{
    kvs_lmc_config *c = &e->d->cfg;
    *c = *cfg;
    c->service_instance_id = kvs_lmc__strdup(e, cfg->service_instance_id);
    c->engine_source = kvs_lmc__strdup(e, cfg->engine_source ? cfg->engine_source : "");
    c->lmcache_source = kvs_lmc__strdup(e, cfg->lmcache_source ? cfg->lmcache_source : "");
    c->job_id = kvs_lmc__strdup(e, cfg->job_id ? cfg->job_id : "kvscope");
}

static void context(kvs_lmc_eval *e)
{
    kvs_lmc_diagnosis *d = e->d;
    const kvs_lmc_config *c = &d->cfg;
    bool l2_evidence = any_nonzero(e->ev, l2_keys) || kvs_lmc_evidence_set(e->ev, KVS_LMC_SET_L2_NAME)->n > 0;
    d->l2_configured_effective = c->l2_configured || l2_evidence;
    d->l2_configured_source = c->l2_configured ? "flag" : l2_evidence ? "metrics" : "none";
    kvs_lmc_family_ctx *f = &d->fctx;
    f->mode = d->mode.mode;
    f->mp_server_evidence = d->mode.mp_server_evidence;
    f->cacheblend_observed = d->mode.observed_cacheblend;
    f->l2_configured = d->l2_configured_effective;
    f->metrics_disabled = c->metrics_disabled || c->observability_disabled;
    f->vllm_observed = d->mode.observed_vllm;
    f->sglang_observed = d->mode.observed_sglang;
    f->expected_engine = c->expected_engine;
    f->external_cache_configured = c->external_cache_configured || d->mode.arch == KVS_LMC_ARCH_VLLM_MP ||
                                   d->mode.arch == KVS_LMC_ARCH_VLLM_EMBEDDED;
    f->cpu_offload_configured = c->cpu_offload_configured;
    /* PD seen in kv-transfer metrics (not only logs or labels) demands the kv_transfer families */
    f->disaggregated_or_external_cache =
        c->disaggregated_or_external_cache || (d->mode.pd.candidate && d->mode.pd.claim == KVS_LMC_CLAIM_MEASURED);
}

kvs_lmc_diagnosis *kvs_lmc_diagnose(kvs_lmc_evidence *ev, const kvs_lmc_config *cfg, kvs_error *err)
{
    kvs_lmc_config dflt;
    if (!cfg) {
        kvs_lmc_config_default(&dflt);
        cfg = &dflt;
    }
    kvs_lmc_diagnosis *d = calloc(1, sizeof *d);
    if (!d || !(d->arena = kvs_arena_new())) {
        free(d);
        kvs_errorf(err, KVS_E_NOMEM, "lmcache diagnosis: out of memory");
        return NULL;
    }
    kvs_lmc_eval e = {.ev = ev, .d = d, .th = cfg->thresholds.v};
    copy_config(&e, cfg);
    e.th = d->cfg.thresholds.v;
    d->flags = *kvs_lmc_evidence_flags(ev);
    d->t_min_ms = d->flags.t_min_ms;
    d->t_max_ms = d->flags.t_max_ms;
    const int64_t *times;
    d->ntimes = kvs_lmc_evidence_times(ev, &times);
    d->spans = *kvs_lmc_evidence_spans(ev);
    d->requests = *kvs_lmc_evidence_req_stats(ev);
    d->logs = *kvs_lmc_evidence_logs(ev);
    for (int i = 0; i < KVS_LMC_LANE__COUNT; i++)
        d->lanes[i] = *kvs_lmc_evidence_lane(ev, (kvs_lmc_lane_id)i);
    const kvs_lmc_http_facts *h = kvs_lmc_evidence_http(ev);
    if (h) {
        d->has_http = true;
        d->http = *h;
        d->http.engine_type = kvs_lmc__strdup(&e, h->engine_type);
    }
    kvs_lmc_mode_detect(ev, &d->mode);
    context(&e);
    if (!e.rc)
        e.rc = kvs_lmc_families_eval(ev, &d->fctx, d->arena, &d->rows, &d->nrows);
    if (!e.rc) {
        for (int s = 0; s < KVS_LMC_FS__COUNT; s++)
            kvs_lmc_surface_rollup(d->rows, d->nrows, (kvs_lmc_fsurface)s, &d->surfaces[s]);
        kvs_lmc_evidence_name_counts(ev, &d->total_series, &d->populated_nonzero_series);
        d->connector_labels = copy_set(&e, KVS_LMC_SET_CONNECTOR);
        d->cache_labels = copy_set(&e, KVS_LMC_SET_CACHE);
        d->offload_backend_labels = copy_set(&e, KVS_LMC_SET_OFFLOAD);
        d->models = copy_set(&e, KVS_LMC_SET_MODEL);
        d->log_connectors = copy_set(&e, KVS_LMC_SET_LOG_CONNECTOR);
        d->hashseeds = copy_set(&e, KVS_LMC_SET_HASHSEED);
        d->scopes = copy_set(&e, KVS_LMC_SET_SCOPE);
        d->service_names = copy_set(&e, KVS_LMC_SET_SERVICE_NAME);
        mp_observability(&e);
        l2_summary(&e);
        cb_summary(&e);
        offload(&e);
        kvs_lmc__failures(&e);
        kvs_lmc__rules_peer(&e);
        kvs_lmc__rules_time(&e);
        kvs_lmc__rules_extra(&e);
        kvs_lmc__questions(&e);
        kvs_lmc__bottleneck(&e);
    }
    if (e.rc) {
        kvs_lmc_diagnosis_free(d);
        kvs_errorf(err, KVS_E_NOMEM, "lmcache diagnosis: out of memory");
        return NULL;
    }
    return d;
}
