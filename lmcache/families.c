/* Family status algorithm and surface roll-ups (see families.h). */
#include "lmcache/families.h"

#include "core/error.h"
#include "lmcache/families_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const surface_names[KVS_LMC_FS__COUNT] = {
    "lmcache_embedded", "lmcache_mp", "lmcache_cacheblend", "vllm_prefix_cache", "vllm_simple_cpu_offload",
    "vllm", "sglang", "lmcache_http", "lmcache_logs", "lmcache_trace_recording", "lmcache_otel",
    "lmcache_trace_replay", "lmcache_lookup_hash", "lmcache_cacheblend_boundary",
};

const char *kvs_lmc_fsurface_name(kvs_lmc_fsurface s)
{
    return (unsigned)s < KVS_LMC_FS__COUNT ? surface_names[s] : "unknown";
}

const char *kvs_lmc_required_name(kvs_lmc_required r)
{
    static const char *const n[] = {"always", "optional", "sampled", "l2_configured", "cacheblend_observed",
                                    "external_cache_configured", "cpu_offload_configured",
                                    "disaggregated_or_external_cache"};
    return (unsigned)r < sizeof n / sizeof *n ? n[r] : "optional";
}

const char *kvs_lmc_fstatus_name(kvs_lmc_fstatus s)
{
    static const char *const n[] = {"populated", "zero", "missing", "not_applicable"};
    return (unsigned)s < 4 ? n[s] : "missing";
}

const char *kvs_lmc_sstatus_name(kvs_lmc_sstatus s)
{
    static const char *const n[] = {"complete", "partial", "zero", "missing", "not_applicable"};
    return (unsigned)s < 5 ? n[s] : "missing";
}

const char *kvs_lmc_mode_name(kvs_lmc_mode m)
{
    static const char *const n[] = {"unknown", "mp", "embedded", "mixed"};
    return (unsigned)m < 4 ? n[m] : "unknown";
}

const char *kvs_lmc_support_level(kvs_lmc_fstatus s)
{
    static const char *const n[] = {"fixture_backed", "parser_only", "not_started", "not_applicable"};
    return (unsigned)s < 4 ? n[s] : "not_started";
}

size_t kvs_lmc_family_count(void) { return kvs_lmc__nfamilies; }

const kvs_lmc_family_def *kvs_lmc_family_at(size_t i) { return i < kvs_lmc__nfamilies ? &kvs_lmc__families[i] : NULL; }

const kvs_lmc_family_def *kvs_lmc_family_find(const char *surface, const char *family)
{
    for (size_t i = 0; i < kvs_lmc__nfamilies; i++) {
        const kvs_lmc_family_def *d = &kvs_lmc__families[i];
        if (strcmp(kvs_lmc_fsurface_name(d->surface), surface) == 0 && strcmp(d->name, family) == 0)
            return d;
    }
    return NULL;
}

/* ---- applicability ---- */

static const char *surface_gate(const kvs_lmc_family_def *d, const kvs_lmc_family_ctx *c)
{
    switch (d->surface) {
    case KVS_LMC_FS_MP:
        if (c->metrics_disabled)
            return "metrics_disabled";
        if (c->mode != KVS_LMC_MODE_MP && c->mode != KVS_LMC_MODE_MIXED)
            return "mode_not_mp";
        if (!c->mp_server_evidence)
            return "no_mp_server_evidence";
        return NULL;
    case KVS_LMC_FS_CACHEBLEND:
        if (c->metrics_disabled)
            return "metrics_disabled";
        return c->cacheblend_observed ? NULL : "cacheblend_not_observed";
    case KVS_LMC_FS_EMBEDDED:
        return c->mode == KVS_LMC_MODE_EMBEDDED || c->mode == KVS_LMC_MODE_MIXED ? NULL : "mode_not_embedded";
    case KVS_LMC_FS_VLLM_PREFIX_CACHE:
    case KVS_LMC_FS_VLLM_SIMPLE_CPU_OFFLOAD:
    case KVS_LMC_FS_VLLM:
        if (c->expected_engine == 2)
            return "engine_not_expected";
        return c->vllm_observed || c->expected_engine == 1 ? NULL : "engine_not_observed";
    case KVS_LMC_FS_SGLANG:
        if (c->expected_engine == 1)
            return "engine_not_expected";
        return c->sglang_observed || c->expected_engine == 2 ? NULL : "engine_not_observed";
    default:
        return NULL;
    }
}

static const char *required_gate(const kvs_lmc_family_def *d, const kvs_lmc_family_ctx *c)
{
    switch (d->required_when) {
    case KVS_LMC_REQ_L2_CONFIGURED:
        return c->l2_configured ? NULL : "l2_not_configured";
    case KVS_LMC_REQ_CACHEBLEND_OBSERVED:
        return c->cacheblend_observed ? NULL : "cacheblend_not_observed";
    case KVS_LMC_REQ_EXTERNAL_CACHE:
        return c->external_cache_configured ? NULL : "external_cache_not_configured";
    case KVS_LMC_REQ_CPU_OFFLOAD:
        return c->cpu_offload_configured ? NULL : "cpu_offload_not_configured";
    case KVS_LMC_REQ_DISAGG:
        return c->disaggregated_or_external_cache ? NULL : "not_disaggregated";
    default:
        return NULL;
    }
}

/* ---- matching ---- */

typedef struct strlist {
    const char **v;
    size_t n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        const char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return KVS_E_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = s;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static const char **to_arena(kvs_arena *a, strlist *l)
{
    if (!l->n)
        return NULL;
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    const char **out = kvs_arena_alloc(a, l->n * sizeof *out);
    if (out)
        memcpy(out, l->v, l->n * sizeof *out);
    return out;
}

static int match_row(kvs_lmc_evidence *ev, kvs_lmc_family_row *r, kvs_arena *a, bool *seen, bool *populated)
{
    strlist names = {0}, keys = {0};
    int rc = 0;
    *seen = *populated = false;
    for (const kvs_metric_key *k = r->def->keys; *k != KVS_METRIC_UNKNOWN && !rc; k++) {
        const kvs_lmc_series *const *ss;
        size_t n = kvs_lmc_evidence_key_series(ev, *k, &ss);
        if (!n)
            continue;
        *seen = true;
        rc = strlist_add(&keys, kvs_metric_id(*k));
        for (size_t i = 0; i < n; i++) {
            r->label_series++;
            if (!ss[i]->has_value)
                r->created_series_count++;
            if (ss[i]->nonzero)
                *populated = true;
        }
        const char *const *sp;
        const bool *nz;
        size_t m = kvs_lmc_evidence_key_spellings(ev, *k, &sp, &nz);
        for (size_t i = 0; i < m && !rc; i++) {
            size_t before = names.n;
            rc = strlist_add(&names, sp[i]);
            if (names.n > before && nz[i])
                r->populated_series_count++;
        }
    }
    if (!rc) {
        r->series_count = names.n;
        r->nmatched = names.n;
        r->nkeys = keys.n;
        r->matched_metrics = to_arena(a, &names);
        r->matched_keys = to_arena(a, &keys);
        if ((names.n && !r->matched_metrics) || (keys.n && !r->matched_keys))
            rc = KVS_E_NOMEM;
    }
    free(names.v);
    free(keys.v);
    return rc;
}

static void eval_evidence_row(kvs_lmc_evidence *ev, kvs_lmc_family_row *r)
{
    const kvs_lmc_lane *l = kvs_lmc_evidence_lane(ev, r->def->lane);
    r->applicable = l->provided;
    if (!l->provided) {
        r->status = KVS_LMC_ST_MISSING;
        r->reason = "evidence_not_provided";
        return;
    }
    r->series_count = 1;
    if (l->measured) {
        r->status = KVS_LMC_ST_POPULATED;
        r->populated_series_count = 1;
    } else {
        r->status = l->present || l->records ? KVS_LMC_ST_ZERO : KVS_LMC_ST_MISSING;
    }
}

int kvs_lmc_families_eval(kvs_lmc_evidence *ev, const kvs_lmc_family_ctx *ctx, kvs_arena *a,
                          kvs_lmc_family_row **rows, size_t *nrows)
{
    kvs_lmc_family_row *out = kvs_arena_zalloc(a, kvs_lmc__nfamilies * sizeof *out);
    if (!out)
        return KVS_E_NOMEM;
    for (size_t i = 0; i < kvs_lmc__nfamilies; i++) {
        kvs_lmc_family_row *r = &out[i];
        const kvs_lmc_family_def *d = &kvs_lmc__families[i];
        r->def = d;
        r->reason = "";
        if (d->flags & KVS_LMC_FAM_EVIDENCE) {
            eval_evidence_row(ev, r);
            continue;
        }
        bool seen, populated;
        int rc = match_row(ev, r, a, &seen, &populated);
        if (rc)
            return rc;
        const char *why = surface_gate(d, ctx);
        if (!why)
            why = required_gate(d, ctx);
        if (!why && !seen && d->required_when == KVS_LMC_REQ_OPTIONAL)
            why = "optional_absent";
        if (!why && !seen && d->required_when == KVS_LMC_REQ_SAMPLED && (d->flags & KVS_LMC_FAM_ENGINE))
            why = "sampled_absent";
        if (!why && !seen && d->surface == KVS_LMC_FS_CACHEBLEND)
            why = "cacheblend_family_absent";
        r->applicable = why == NULL;
        r->reason = why ? why : "";
        if (why)
            r->status = KVS_LMC_ST_NOT_APPLICABLE;
        else
            r->status = populated ? KVS_LMC_ST_POPULATED : seen ? KVS_LMC_ST_ZERO : KVS_LMC_ST_MISSING;
    }
    *rows = out;
    *nrows = kvs_lmc__nfamilies;
    return 0;
}

const kvs_lmc_family_row *kvs_lmc_row_find(const kvs_lmc_family_row *rows, size_t n, kvs_lmc_fsurface s,
                                           const char *family)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].def->surface == s && strcmp(rows[i].def->name, family) == 0)
            return &rows[i];
    return NULL;
}

/* ---- roll-ups ---- */

void kvs_lmc_surface_rollup(const kvs_lmc_family_row *rows, size_t n, kvs_lmc_fsurface s, kvs_lmc_surface_row *o)
{
    memset(o, 0, sizeof *o);
    o->surface = s;
    bool any_pop = false, any_zero = false;
    const kvs_lmc_family_row *only = NULL;
    for (size_t i = 0; i < n; i++) {
        const kvs_lmc_family_row *r = &rows[i];
        if (r->def->surface != s)
            continue;
        only = r;
        o->family_count++;
        switch (r->status) {
        case KVS_LMC_ST_POPULATED: o->populated++; break;
        case KVS_LMC_ST_ZERO: o->zero++; break;
        case KVS_LMC_ST_MISSING: o->missing++; break;
        default: o->not_applicable++; break;
        }
        /* an error counter at zero is the healthy reading */
        kvs_lmc_fstatus eff = r->status;
        if (eff == KVS_LMC_ST_ZERO && (r->def->flags & KVS_LMC_FAM_ZERO_OK))
            eff = KVS_LMC_ST_POPULATED;
        any_pop |= eff == KVS_LMC_ST_POPULATED;
        any_zero |= eff == KVS_LMC_ST_ZERO;
        if (!r->applicable || r->def->required_when == KVS_LMC_REQ_OPTIONAL || r->status == KVS_LMC_ST_NOT_APPLICABLE)
            continue;
        o->required_family_count++;
        o->required_populated += eff == KVS_LMC_ST_POPULATED;
        o->required_zero += eff == KVS_LMC_ST_ZERO;
        o->required_missing += eff == KVS_LMC_ST_MISSING;
    }
    if (s >= KVS_LMC_FS_HTTP) { /* evidence surfaces: one row each */
        kvs_lmc_fstatus st = only ? only->status : KVS_LMC_ST_NOT_APPLICABLE;
        o->status = st == KVS_LMC_ST_POPULATED ? KVS_LMC_SS_COMPLETE
                    : st == KVS_LMC_ST_ZERO    ? KVS_LMC_SS_ZERO
                                               : KVS_LMC_SS_NOT_APPLICABLE;
        return;
    }
    if (o->required_family_count == 0) {
        o->status = any_pop ? KVS_LMC_SS_COMPLETE : any_zero ? KVS_LMC_SS_ZERO : KVS_LMC_SS_NOT_APPLICABLE;
        return;
    }
    size_t rp = o->required_populated, rz = o->required_zero, rm = o->required_missing;
    if (s == KVS_LMC_FS_VLLM || s == KVS_LMC_FS_SGLANG) { /* coverage algorithm */
        if (rp == o->required_family_count)
            o->status = KVS_LMC_SS_COMPLETE;
        else if (rm)
            o->status = rp || rz ? KVS_LMC_SS_PARTIAL : KVS_LMC_SS_MISSING;
        else
            o->status = rp ? KVS_LMC_SS_PARTIAL : KVS_LMC_SS_ZERO;
        return;
    }
    if (rp)
        o->status = rm || rz ? KVS_LMC_SS_PARTIAL : KVS_LMC_SS_COMPLETE;
    else
        o->status = rz ? KVS_LMC_SS_ZERO : KVS_LMC_SS_MISSING;
}
