/* Tests for lmcache/families.h: the registry (every surface and family of
 * the peer's compat and coverage registries), the status algorithm for
 * every family (populated / zero / missing / not_applicable), the
 * applicability gates, both surface roll-ups, the family statuses of
 * every scenario fixture, and the peer defects 4, 6, 8, 9 and 10
 * (peer-inferguard.md §12.2), which must not be reproduced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lmc_scenario.h"

static size_t count_surface(kvs_lmc_fsurface s, unsigned with, unsigned without)
{
    size_t n = 0;
    for (size_t i = 0; i < kvs_lmc_family_count(); i++) {
        const kvs_lmc_family_def *d = kvs_lmc_family_at(i);
        n += d->surface == s && (d->flags & with) == with && !(d->flags & without);
    }
    return n;
}

static void test_registry_shape(void **state)
{
    (void)state;
    /* the peer's compat rows: 20 embedded, 16 MP, 11 CacheBlend, 4 + 2 vLLM, 7 evidence = 60 */
    assert_int_equal(count_surface(KVS_LMC_FS_EMBEDDED, 0, KVS_LMC_FAM_ADDED), 20);
    assert_int_equal(count_surface(KVS_LMC_FS_MP, 0, KVS_LMC_FAM_ADDED), 16);
    assert_int_equal(count_surface(KVS_LMC_FS_CACHEBLEND, 0, KVS_LMC_FAM_ADDED), 11);
    assert_int_equal(count_surface(KVS_LMC_FS_VLLM_PREFIX_CACHE, 0, 0), 4);
    assert_int_equal(count_surface(KVS_LMC_FS_VLLM_SIMPLE_CPU_OFFLOAD, 0, 0), 2);
    size_t peer = 0, engine = 0, evidence = 0;
    for (size_t i = 0; i < kvs_lmc_family_count(); i++) {
        const kvs_lmc_family_def *d = kvs_lmc_family_at(i);
        if (d->flags & KVS_LMC_FAM_ENGINE)
            engine++;
        else if (!(d->flags & KVS_LMC_FAM_ADDED))
            peer++;
        evidence += (d->flags & KVS_LMC_FAM_EVIDENCE) != 0;
    }
    assert_int_equal(peer, 60);
    assert_int_equal(engine, 17); /* 10 vllm + 7 sglang */
    assert_int_equal(count_surface(KVS_LMC_FS_VLLM, 0, 0), 10);
    assert_int_equal(count_surface(KVS_LMC_FS_SGLANG, 0, 0), 7);
    assert_int_equal(evidence, 7);
    /* the peer's required_when values, and the two documented departures */
    assert_int_equal(kvs_lmc_family_find("lmcache_mp", "l0_lifecycle")->required_when, KVS_LMC_REQ_ALWAYS);
    assert_int_equal(kvs_lmc_family_find("lmcache_mp", "l1_lifecycle")->required_when, KVS_LMC_REQ_SAMPLED);
    assert_int_equal(kvs_lmc_family_find("lmcache_mp", "l2_counters")->required_when, KVS_LMC_REQ_L2_CONFIGURED);
    assert_int_equal(kvs_lmc_family_find("lmcache_cacheblend", "serde")->required_when,
                     KVS_LMC_REQ_CACHEBLEND_OBSERVED);
    assert_int_equal(kvs_lmc_family_find("vllm", "kv_transfer")->required_when, KVS_LMC_REQ_DISAGG);
    assert_int_equal(kvs_lmc_family_find("lmcache_mp", "storage_manager")->required_when, KVS_LMC_REQ_OPTIONAL);
    assert_int_equal(kvs_lmc_family_find("lmcache_embedded", "legacy_tier_usage")->required_when,
                     KVS_LMC_REQ_OPTIONAL);
    assert_null(kvs_lmc_family_find("lmcache_mp", "nope"));
    /* every (surface, family) is unique */
    for (size_t i = 0; i < kvs_lmc_family_count(); i++)
        for (size_t j = i + 1; j < kvs_lmc_family_count(); j++) {
            const kvs_lmc_family_def *a = kvs_lmc_family_at(i), *b = kvs_lmc_family_at(j);
            assert_false(a->surface == b->surface && strcmp(a->name, b->name) == 0);
        }
}

static kvs_metric_surface bridge_surface(kvs_lmc_fsurface s)
{
    switch (s) {
    case KVS_LMC_FS_EMBEDDED: return KVS_SURFACE_LMCACHE_EMBEDDED;
    case KVS_LMC_FS_MP: return KVS_SURFACE_LMCACHE_MP;
    case KVS_LMC_FS_CACHEBLEND: return KVS_SURFACE_LMCACHE_CACHEBLEND;
    case KVS_LMC_FS_SGLANG: return KVS_SURFACE_SGLANG;
    default: return KVS_SURFACE_VLLM;
    }
}

static void test_every_family_matches_by_canonical_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < kvs_lmc_family_count(); i++) {
        const kvs_lmc_family_def *d = kvs_lmc_family_at(i);
        for (const kvs_metric_key *k = d->keys; *k; k++) {
            const kvs_metric_info *in = kvs_metric_info_of(*k);
            assert_non_null(in);
            if (in->surface != bridge_surface(d->surface))
                fail_msg("%s/%s lists %s of surface %s", kvs_lmc_fsurface_name(d->surface), d->name, in->id,
                         kvs_metric_surface_name(in->surface));
            assert_int_equal(kvs_metric_canonical(in->id, strlen(in->id), NULL), *k);
        }
    }
}

/* A context where every family is applicable. */
static kvs_lmc_family_ctx all_on(void)
{
    kvs_lmc_family_ctx c = {.mode = KVS_LMC_MODE_MIXED, .mp_server_evidence = true, .cacheblend_observed = true,
                            .l2_configured = true, .vllm_observed = true, .sglang_observed = true,
                            .external_cache_configured = true, .cpu_offload_configured = true,
                            .disaggregated_or_external_cache = true};
    return c;
}

static void put_key(kvs_lmc_evidence *ev, kvs_metric_key k, double v)
{
    const kvs_metric_info *in = kvs_metric_info_of(k);
    if (in->kind == KVS_MKIND_HISTOGRAM) {
        const double b[] = {1, 10};
        const double c[] = {v, 0, 0};
        kvs_lmc_obs o = {.name = in->id, .unit = in->unit, .kind = KVS_LMC_HISTOGRAM, .t_ms = 1000, .bounds = b,
                         .nbounds = 2, .bucket_counts = c, .count = v, .sum = v * 0.5};
        assert_int_equal(kvs_lmc_evidence_add(ev, &o), 0);
    } else {
        kvs_lmc_obs o = {.name = in->id,
                         .unit = in->unit,
                         .kind = in->kind == KVS_MKIND_COUNTER ? KVS_LMC_COUNTER : KVS_LMC_GAUGE,
                         .t_ms = 1000,
                         .value = v};
        assert_int_equal(kvs_lmc_evidence_add(ev, &o), 0);
    }
}

static kvs_lmc_fstatus eval_one(kvs_lmc_evidence *ev, const kvs_lmc_family_def *d, const kvs_lmc_family_ctx *c,
                                const char **reason)
{
    kvs_arena *a = kvs_arena_new();
    kvs_lmc_family_row *rows;
    size_t n;
    assert_int_equal(kvs_lmc_families_eval(ev, c, a, &rows, &n), 0);
    kvs_lmc_fstatus st = KVS_LMC_ST_MISSING;
    static char why[64];
    for (size_t i = 0; i < n; i++)
        if (rows[i].def == d) {
            st = rows[i].status;
            snprintf(why, sizeof why, "%s", rows[i].reason);
        }
    if (reason)
        *reason = why;
    kvs_arena_free(a);
    return st;
}

static void test_every_family_status(void **state)
{
    (void)state;
    kvs_lmc_family_ctx c = all_on();
    for (size_t i = 0; i < kvs_lmc_family_count(); i++) {
        const kvs_lmc_family_def *d = kvs_lmc_family_at(i);
        if (d->flags & KVS_LMC_FAM_EVIDENCE)
            continue;
        const char *fam = d->name, *surf = kvs_lmc_fsurface_name(d->surface);
        /* absent */
        kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
        kvs_lmc_fstatus st = eval_one(ev, d, &c, NULL);
        bool na_when_absent = d->required_when == KVS_LMC_REQ_OPTIONAL || d->surface == KVS_LMC_FS_CACHEBLEND ||
                              (d->required_when == KVS_LMC_REQ_SAMPLED && (d->flags & KVS_LMC_FAM_ENGINE));
        if (st != (na_when_absent ? KVS_LMC_ST_NOT_APPLICABLE : KVS_LMC_ST_MISSING))
            fail_msg("%s/%s absent: %s", surf, fam, kvs_lmc_fstatus_name(st));
        kvs_lmc_evidence_free(ev);
        if (!d->keys[0])
            continue; /* legacy_tier_usage: no LMCache version emits it */
        /* every key of the family populates it, and only with a non-zero value */
        for (const kvs_metric_key *k = d->keys; *k; k++) {
            ev = kvs_lmc_evidence_new(NULL);
            put_key(ev, *k, 0);
            if ((st = eval_one(ev, d, &c, NULL)) != KVS_LMC_ST_ZERO)
                fail_msg("%s/%s zero via %s: %s", surf, fam, kvs_metric_id(*k), kvs_lmc_fstatus_name(st));
            put_key(ev, *k, 3);
            if ((st = eval_one(ev, d, &c, NULL)) != KVS_LMC_ST_POPULATED)
                fail_msg("%s/%s populated via %s: %s", surf, fam, kvs_metric_id(*k), kvs_lmc_fstatus_name(st));
            kvs_lmc_evidence_free(ev);
        }
    }
}

static void test_every_evidence_surface(void **state)
{
    (void)state;
    kvs_lmc_family_ctx c = all_on();
    for (size_t i = 0; i < kvs_lmc_family_count(); i++) {
        const kvs_lmc_family_def *d = kvs_lmc_family_at(i);
        if (!(d->flags & KVS_LMC_FAM_EVIDENCE))
            continue;
        kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
        const char *why;
        assert_int_equal(eval_one(ev, d, &c, &why), KVS_LMC_ST_MISSING);
        assert_string_equal(why, "evidence_not_provided");
        kvs_lmc_lane l = {.provided = true, .present = true};
        kvs_lmc_evidence_set_lane(ev, d->lane, &l);
        assert_int_equal(eval_one(ev, d, &c, NULL), KVS_LMC_ST_ZERO);
        l.measured = true;
        l.records = 3;
        kvs_lmc_evidence_set_lane(ev, d->lane, &l);
        assert_int_equal(eval_one(ev, d, &c, NULL), KVS_LMC_ST_POPULATED);
        kvs_lmc_evidence_free(ev);
    }
    /* lanes fed by the adapters */
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_evidence_add_log_line(ev, "nothing to see", 14);
    const kvs_lmc_family_def *logs = kvs_lmc_family_find("lmcache_logs", "lifecycle_logs");
    assert_int_equal(eval_one(ev, logs, &c, NULL), KVS_LMC_ST_ZERO);
    const char *line = "LMCache stored 256 tokens";
    kvs_lmc_evidence_add_log_line(ev, line, strlen(line));
    assert_int_equal(eval_one(ev, logs, &c, NULL), KVS_LMC_ST_POPULATED);
    kvs_lmc_evidence_add_span_name(ev, "mp.store", false);
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("lmcache_otel", "mp_spans"), &c, NULL), KVS_LMC_ST_POPULATED);
    kvs_lmc_evidence_free(ev);
}

static void test_applicability_gates(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    kvs_lmc_family_ctx c = all_on();
    const char *why;
    const kvs_lmc_family_def *l1 = kvs_lmc_family_find("lmcache_mp", "l1_counters");
    c.mode = KVS_LMC_MODE_EMBEDDED;
    assert_int_equal(eval_one(ev, l1, &c, &why), KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "mode_not_mp");
    c = all_on();
    c.metrics_disabled = true;
    assert_int_equal(eval_one(ev, l1, &c, &why), KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "metrics_disabled");
    c = all_on();
    c.l2_configured = false;
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("lmcache_mp", "l2_counters"), &c, &why),
                     KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "l2_not_configured");
    c = all_on();
    c.mode = KVS_LMC_MODE_MP;
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("lmcache_embedded", "production_tokens"), &c, &why),
                     KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "mode_not_embedded");
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("lmcache_mp", "event_bus"), &c, &why),
                     KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "optional_absent");
    /* sampled compat families without samples stay missing (peer), engine ones are N/A */
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("lmcache_mp", "l1_lifecycle"), &c, NULL), KVS_LMC_ST_MISSING);
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("vllm", "kv_block_lifecycle"), &c, &why),
                     KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "sampled_absent");
    c.external_cache_configured = false;
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("vllm", "external_prefix_cache"), &c, &why),
                     KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "external_cache_not_configured");
    c.expected_engine = 2;
    assert_int_equal(eval_one(ev, kvs_lmc_family_find("vllm", "request_latency"), &c, &why),
                     KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(why, "engine_not_expected");
    kvs_lmc_evidence_free(ev);
}

static kvs_lmc_family_row row(const char *surface, const char *fam, kvs_lmc_fstatus st)
{
    kvs_lmc_family_row r = {.def = kvs_lmc_family_find(surface, fam), .status = st, .applicable = true, .reason = ""};
    if (st == KVS_LMC_ST_NOT_APPLICABLE)
        r.applicable = false;
    return r;
}

static kvs_lmc_sstatus rollup(const kvs_lmc_family_row *rows, size_t n, kvs_lmc_fsurface s)
{
    kvs_lmc_surface_row o;
    kvs_lmc_surface_rollup(rows, n, s, &o);
    return o.status;
}

static void test_rollups(void **state)
{
    (void)state;
    const kvs_lmc_fstatus P = KVS_LMC_ST_POPULATED, Z = KVS_LMC_ST_ZERO, M = KVS_LMC_ST_MISSING,
                          N = KVS_LMC_ST_NOT_APPLICABLE;
    kvs_lmc_family_row r[3];
    r[0] = row("lmcache_mp", "lookup_tokens", P);
    r[1] = row("lmcache_mp", "l1_counters", P);
    r[2] = row("lmcache_mp", "event_bus", Z); /* optional zero does not spoil */
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_MP), KVS_LMC_SS_COMPLETE);
    r[1].status = M;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_MP), KVS_LMC_SS_PARTIAL);
    r[0].status = Z;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_MP), KVS_LMC_SS_ZERO); /* compat: zero + missing, none populated */
    r[0].status = M;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_MP), KVS_LMC_SS_MISSING);
    r[0].status = N;
    r[1].status = N;
    r[2].status = N;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_MP), KVS_LMC_SS_NOT_APPLICABLE);
    /* coverage algorithm on engine surfaces */
    r[0] = row("vllm", "request_latency", Z);
    r[1] = row("vllm", "kv_cache", M);
    r[2] = row("vllm", "prefix_cache", P);
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_VLLM), KVS_LMC_SS_PARTIAL);
    r[2].status = M;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_VLLM), KVS_LMC_SS_PARTIAL); /* compat would say zero */
    r[0].status = M;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_VLLM), KVS_LMC_SS_MISSING);
    r[0].status = r[1].status = r[2].status = P;
    assert_int_equal(rollup(r, 3, KVS_LMC_FS_VLLM), KVS_LMC_SS_COMPLETE);
    /* evidence surfaces */
    r[0] = row("lmcache_logs", "lifecycle_logs", P);
    assert_int_equal(rollup(r, 1, KVS_LMC_FS_LOGS), KVS_LMC_SS_COMPLETE);
    r[0].status = Z;
    assert_int_equal(rollup(r, 1, KVS_LMC_FS_LOGS), KVS_LMC_SS_ZERO);
    r[0].status = M;
    assert_int_equal(rollup(r, 1, KVS_LMC_FS_LOGS), KVS_LMC_SS_NOT_APPLICABLE);
}

static void test_scenario_family_statuses(void **state)
{
    (void)state;
    char names[64][64];
    size_t n = lmc_scenarios(names, 64);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        lmc_scn s;
        assert_int_equal(lmc_scn_load(names[i], &s, NULL), 0);
        kvs_lmc_diagnosis *d = lmc_diag(s.ev, &s.cfg);
        assert_non_null(d);
        assert_int_equal(s.rejected, 0);
        char msg[8192];
        if (lmc_scn_check(&s, d, msg, sizeof msg))
            fail_msg("scenario %s:\n%s", names[i], msg);
        kvs_lmc_diagnosis_free(d);
        lmc_scn_free(&s);
    }
}

/* §12.2 item 4: `_created` series inflate series_count and make all-zero
 * families populated. */
static void test_defect_04_created_never_populates(void **state)
{
    (void)state;
    const char *text = "# TYPE vllm:external_prefix_cache_hits_total counter\n"
                       "vllm:external_prefix_cache_hits_total{engine=\"0\"} 0.0\n"
                       "# TYPE vllm:external_prefix_cache_hits_created gauge\n"
                       "vllm:external_prefix_cache_hits_created{engine=\"0\"} 1747900000.123\n"
                       "# TYPE vllm:external_prefix_cache_queries_total counter\n"
                       "vllm:external_prefix_cache_queries_total{engine=\"0\"} 0.0\n"
                       "vllm:external_prefix_cache_queries_created{engine=\"0\"} 1747900000.123\n"
                       "vllm:prompt_tokens_cached_created{engine=\"0\"} 1747900000.123\n"
                       "vllm:num_requests_running{engine=\"0\"} 1\n";
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    assert_int_equal(kvs_lmc_evidence_add_prom_text(ev, text, strlen(text), 1000, NULL), 0);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_string_equal(lmc_status(d, "vllm_prefix_cache", "external_prefix"), "zero");
    const kvs_lmc_family_row *r = kvs_lmc_diagnosis_row(d, "vllm_prefix_cache", "external_prefix");
    assert_int_equal(r->series_count, 2);          /* the two _total names; no _created */
    assert_int_equal(r->populated_series_count, 0);
    for (size_t i = 0; i < r->nmatched; i++)
        assert_null(strstr(r->matched_metrics[i], "_created"));
    /* a family known only from its _created line exists but is not populated */
    assert_string_equal(lmc_status(d, "vllm_prefix_cache", "prompt_tokens_cached"), "zero");
    assert_int_equal(kvs_lmc_diagnosis_row(d, "vllm_prefix_cache", "prompt_tokens_cached")->created_series_count, 1);
    assert_int_equal(d->flags.created_samples, 3);
    assert_int_equal(d->populated_nonzero_series, 1); /* only num_requests_running */
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 6: embedded globs capture MP / CacheBlend names in mixed mode. */
static void test_defect_06_embedded_families_do_not_capture_mp(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    const double b[] = {5, 10};
    const double v[] = {1, 2, 7};
    lmc_put_hist(ev, "lmcache_mp_l1_chunk_reuse_gap_seconds", 1000, b, 2, v, 3);
    lmc_put(ev, "lmcache_blend_retrieve_chunks_total", KVS_LMC_COUNTER, 12, 1000, NULL);
    lmc_put(ev, "lmcache_mp_lookup_hit_tokens_total", KVS_LMC_COUNTER, 100, 1000, NULL);
    lmc_put(ev, "lmcache:num_hit_tokens_total", KVS_LMC_COUNTER, 5, 1000, NULL);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_MIXED);
    /* lmcache_*chunk*, lmcache_*hit_rate*, lmcache_num_*tokens* no longer reach MP/blend names */
    assert_string_equal(lmc_status(d, "lmcache_embedded", "chunk_stats"), "not_applicable");
    const kvs_lmc_family_row *t = kvs_lmc_diagnosis_row(d, "lmcache_embedded", "production_tokens");
    assert_int_equal(t->nmatched, 1);
    assert_string_equal(t->matched_metrics[0], "lmcache:num_hit_tokens_total");
    assert_string_equal(lmc_status(d, "lmcache_mp", "l1_lifecycle"), "populated");
    assert_string_equal(lmc_status(d, "lmcache_cacheblend", "retrieve"), "populated");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 8: a CacheBlend-only scrape is `mp` and raises five
 * lmcache_mp_family_missing failures. */
static void test_defect_08_cacheblend_only_no_mp_failures(void **state)
{
    (void)state;
    lmc_scn s;
    assert_int_equal(lmc_scn_load("cacheblend_failures", &s, NULL), 0);
    kvs_lmc_diagnosis *d = lmc_diag(s.ev, &s.cfg);
    assert_int_equal(d->mode.mode, KVS_LMC_MODE_MP);
    assert_int_equal(d->mode.arch, KVS_LMC_ARCH_MP_SERVER);
    assert_int_equal(lmc_count_failures(d, "lmcache_mp_family_missing"), 0);
    const kvs_lmc_family_row *r = kvs_lmc_diagnosis_row(d, "lmcache_mp", "lookup_tokens");
    assert_int_equal(r->status, KVS_LMC_ST_NOT_APPLICABLE);
    assert_string_equal(r->reason, "no_mp_server_evidence");
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_MP), "not_applicable");
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_CACHEBLEND), "complete");
    kvs_lmc_diagnosis_free(d);
    lmc_scn_free(&s);
    /* MP core metrics next to CacheBlend still demand the MP families */
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "lmcache_blend_lookup_requests_total", KVS_LMC_COUNTER, 5, 1000, NULL);
    lmc_put(ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 5, 1000, NULL);
    d = lmc_diag(ev, NULL);
    assert_true(lmc_count_failures(d, "lmcache_mp_family_missing") > 0);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 9: healthy CacheBlend (zero failure/stale/no_gpu counters)
 * yields surface partial. */
static void test_defect_09_healthy_cacheblend_complete(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    static const char *const names[] = {
        "lmcache_blend_lookup_requests_total", "lmcache_blend_retrieve_requests_total",
        "lmcache_blend_store_pre_computed_requests_total", "lmcache_blend_store_final_requests_total",
        "lmcache_blend_fingerprints_registered_total", "lmcache_blend_chunks_evicted_total"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        lmc_put(ev, names[i], KVS_LMC_COUNTER, 10, 1000, NULL);
    static const char *const zero[] = {"lmcache_blend_retrieve_failures_total", "lmcache_blend_lookup_stale_chunks_total",
                                       "lmcache_blend_lookup_no_gpu_context_errors_total"};
    for (size_t i = 0; i < 3; i++)
        lmc_put(ev, zero[i], KVS_LMC_COUNTER, 0, 1000, NULL);
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_string_equal(lmc_status(d, "lmcache_cacheblend", "failure"), "zero");
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_CACHEBLEND), "complete");
    assert_int_equal(d->surfaces[KVS_LMC_FS_CACHEBLEND].required_zero, 0);
    assert_false(lmc_has_finding(d, "lmcache_cacheblend_failures"));
    kvs_buf b = {0};
    assert_int_equal(kvs_lmc_report_write(d, KVS_LMC_REPORT_COVERAGE, &b), 0);
    kvs_buf_putc(&b, '\0');
    assert_null(strstr(b.data, "\"family\": \"failure\",\n      \"required_when\""));
    yajl_val doc = yajl_tree_parse(b.data, NULL, 0);
    const char *gp[] = {"coverage_gaps", NULL};
    yajl_val gaps = yajl_tree_get(doc, gp, yajl_t_array);
    assert_non_null(gaps);
    assert_int_equal(gaps->u.array.len, 0);
    yajl_tree_free(doc);
    kvs_buf_free(&b);
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

/* §12.2 item 10: vllm_prefix_cache always required; both engines
 * required in coverage auto mode. */
static void test_defect_10_engine_gating(void **state)
{
    (void)state;
    kvs_lmc_evidence *ev = kvs_lmc_evidence_new(NULL);
    lmc_put(ev, "lmcache_mp_l1_read_chunks_total", KVS_LMC_COUNTER, 5, 1000, NULL); /* LMCache only */
    kvs_lmc_diagnosis *d = lmc_diag(ev, NULL);
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_VLLM_PREFIX_CACHE), "not_applicable");
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_VLLM), "not_applicable");
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_SGLANG), "not_applicable");
    assert_string_equal(kvs_lmc_diagnosis_row(d, "vllm_prefix_cache", "local_prefix")->reason, "engine_not_observed");
    kvs_lmc_diagnosis_free(d);
    /* vLLM only: SGLang families are not gaps */
    lmc_put(ev, "vllm:num_requests_running", KVS_LMC_GAUGE, 2, 1000, NULL);
    d = lmc_diag(ev, NULL);
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_SGLANG), "not_applicable");
    assert_string_equal(lmc_status(d, "vllm", "prefill_decode_queue"), "populated");
    assert_string_equal(lmc_status(d, "vllm", "request_latency"), "missing");
    kvs_lmc_diagnosis_free(d);
    /* an expected engine is required even when absent */
    kvs_lmc_config c;
    kvs_lmc_config_default(&c);
    c.expected_engine = 2;
    d = lmc_diag(ev, &c);
    assert_string_equal(lmc_status(d, "sglang", "queue"), "missing");
    assert_string_equal(lmc_surface(d, KVS_LMC_FS_VLLM), "not_applicable");
    kvs_lmc_diagnosis_free(d);
    kvs_lmc_evidence_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_shape),
        cmocka_unit_test(test_every_family_matches_by_canonical_key),
        cmocka_unit_test(test_every_family_status),
        cmocka_unit_test(test_every_evidence_surface),
        cmocka_unit_test(test_applicability_gates),
        cmocka_unit_test(test_rollups),
        cmocka_unit_test(test_scenario_family_statuses),
        cmocka_unit_test(test_defect_04_created_never_populates),
        cmocka_unit_test(test_defect_06_embedded_families_do_not_capture_mp),
        cmocka_unit_test(test_defect_08_cacheblend_only_no_mp_failures),
        cmocka_unit_test(test_defect_09_healthy_cacheblend_complete),
        cmocka_unit_test(test_defect_10_engine_gating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
