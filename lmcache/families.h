/* kvs_lmc families: the metric-family registry of the LMCache diagnosis,
 * as data in one place, and the status algorithm over it.
 *
 * The registry holds every surface and family of the peer tool's compat
 * registry (lmcache_embedded, lmcache_mp, lmcache_cacheblend,
 * vllm_prefix_cache, vllm_simple_cpu_offload), of its coverage engine
 * registry (vllm, sglang) and its seven evidence surfaces, with the same
 * names, order and `required_when`, plus a few kvscope families (marked
 * `added`). A family lists canonical metric keys (lmcache/metric_names.h):
 * it matches every spelling of those metrics and nothing else. The peer's
 * glob patterns are kept as documentation (`patterns` in reports).
 *
 * Status of an applicable family: `populated` when a series of it carried
 * a non-zero value (a `_created` line or NaN never counts), `zero` when it
 * was seen but only with zeros, `missing` when not seen; not applicable
 * families are `not_applicable` with the reason why. Applicability:
 *  - lmcache_mp: mode mp or mixed, MP metrics not disabled, and LMCache MP
 *    server evidence present (MP metrics, or the mode came from MP signals)
 *    -- a CacheBlend-only scrape does not demand the MP families;
 *  - lmcache_cacheblend: CacheBlend metrics observed, metrics not disabled;
 *  - lmcache_embedded: mode embedded or mixed;
 *  - vllm_* surfaces and the vllm / sglang coverage surfaces: that engine
 *    was observed (or is the expected engine);
 *  - required_when l2_configured / cacheblend_observed /
 *    external_cache_configured / cpu_offload_configured /
 *    disaggregated_or_external_cache: that condition;
 *  - optional families (and sampled engine families) without a match are
 *    not applicable; a CacheBlend family without a match is not applicable.
 * Error-counter families (`zero_ok`: L1/L2/CacheBlend failures, stale,
 * no_gpu_context, embedded failures) at zero are healthy: surface roll-ups
 * count them as satisfied, not as missing data.
 *
 * Pure: tables are const; evaluation allocates its rows in the given
 * arena. */
#ifndef KVS_LMC_FAMILIES_H
#define KVS_LMC_FAMILIES_H

#include "core/arena.h"
#include "lmcache/evidence.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum kvs_lmc_required {
    KVS_LMC_REQ_ALWAYS = 0,
    KVS_LMC_REQ_OPTIONAL,
    KVS_LMC_REQ_SAMPLED,
    KVS_LMC_REQ_L2_CONFIGURED,
    KVS_LMC_REQ_CACHEBLEND_OBSERVED,
    KVS_LMC_REQ_EXTERNAL_CACHE,     /* external_cache_configured */
    KVS_LMC_REQ_CPU_OFFLOAD,        /* cpu_offload_configured */
    KVS_LMC_REQ_DISAGG,             /* disaggregated_or_external_cache */
} kvs_lmc_required;

typedef enum kvs_lmc_fsurface {
    KVS_LMC_FS_EMBEDDED = 0,
    KVS_LMC_FS_MP,
    KVS_LMC_FS_CACHEBLEND,
    KVS_LMC_FS_VLLM_PREFIX_CACHE,
    KVS_LMC_FS_VLLM_SIMPLE_CPU_OFFLOAD,
    KVS_LMC_FS_VLLM,                /* coverage engine registry */
    KVS_LMC_FS_SGLANG,
    KVS_LMC_FS_HTTP,                /* evidence surfaces */
    KVS_LMC_FS_LOGS,
    KVS_LMC_FS_TRACE_RECORDING,
    KVS_LMC_FS_OTEL,
    KVS_LMC_FS_TRACE_REPLAY,
    KVS_LMC_FS_LOOKUP_HASH,
    KVS_LMC_FS_CACHEBLEND_BOUNDARY,
    KVS_LMC_FS__COUNT
} kvs_lmc_fsurface;

enum {
    KVS_LMC_FAM_ZERO_OK = 1,        /* an error counter: zero is the healthy reading */
    KVS_LMC_FAM_ADDED = 2,          /* a kvscope family the peer does not have */
    KVS_LMC_FAM_ENGINE = 4,         /* coverage engine registry (vllm, sglang) */
    KVS_LMC_FAM_EVIDENCE = 8,       /* an evidence surface row */
};

typedef struct kvs_lmc_family_def {
    kvs_lmc_fsurface surface;
    const char *name;
    kvs_lmc_required required_when;
    unsigned flags;
    const char *const *patterns;    /* peer globs (documentation), NULL-terminated */
    const kvs_metric_key *keys;     /* KVS_METRIC_UNKNOWN-terminated */
    kvs_lmc_lane_id lane;           /* evidence rows */
} kvs_lmc_family_def;

typedef enum kvs_lmc_fstatus {
    KVS_LMC_ST_POPULATED = 0,
    KVS_LMC_ST_ZERO,
    KVS_LMC_ST_MISSING,
    KVS_LMC_ST_NOT_APPLICABLE,
} kvs_lmc_fstatus;

typedef enum kvs_lmc_sstatus {
    KVS_LMC_SS_COMPLETE = 0,
    KVS_LMC_SS_PARTIAL,
    KVS_LMC_SS_ZERO,
    KVS_LMC_SS_MISSING,
    KVS_LMC_SS_NOT_APPLICABLE,
} kvs_lmc_sstatus;

typedef enum kvs_lmc_mode {
    KVS_LMC_MODE_UNKNOWN = 0,
    KVS_LMC_MODE_MP,
    KVS_LMC_MODE_EMBEDDED,
    KVS_LMC_MODE_MIXED,
} kvs_lmc_mode;

/* What applicability depends on. */
typedef struct kvs_lmc_family_ctx {
    kvs_lmc_mode mode;
    bool mp_server_evidence;        /* MP metrics seen, or MP mode from MP signals */
    bool cacheblend_observed;
    bool l2_configured;             /* effective: flag or L2 evidence */
    bool metrics_disabled;          /* MP metrics disabled by configuration */
    bool vllm_observed, sglang_observed;
    int expected_engine;            /* 0 auto, 1 vllm, 2 sglang */
    bool external_cache_configured, cpu_offload_configured, disaggregated_or_external_cache;
} kvs_lmc_family_ctx;

typedef struct kvs_lmc_family_row {
    const kvs_lmc_family_def *def;
    bool applicable;
    kvs_lmc_fstatus status;
    const char *reason;             /* why not applicable; "" otherwise */
    size_t series_count;            /* distinct metric spellings with a value */
    size_t populated_series_count;  /* ... with a non-zero value */
    size_t created_series_count;    /* series known only from `_created` lines */
    size_t label_series;            /* distinct (metric, labels) series */
    const char **matched_metrics;   /* spellings, sorted */
    size_t nmatched;
    const char **matched_keys;      /* canonical ids, sorted */
    size_t nkeys;
} kvs_lmc_family_row;

typedef struct kvs_lmc_surface_row {
    kvs_lmc_fsurface surface;
    size_t family_count, populated, zero, missing, not_applicable;
    size_t required_family_count, required_populated, required_zero, required_missing;
    kvs_lmc_sstatus status;
} kvs_lmc_surface_row;

size_t kvs_lmc_family_count(void);
const kvs_lmc_family_def *kvs_lmc_family_at(size_t i);
/* NULL when unknown. */
const kvs_lmc_family_def *kvs_lmc_family_find(const char *surface, const char *family);

const char *kvs_lmc_fsurface_name(kvs_lmc_fsurface s);
const char *kvs_lmc_required_name(kvs_lmc_required r);
const char *kvs_lmc_fstatus_name(kvs_lmc_fstatus s);
const char *kvs_lmc_sstatus_name(kvs_lmc_sstatus s);
const char *kvs_lmc_mode_name(kvs_lmc_mode m);
/* `support_level` of the peer's compat rows. */
const char *kvs_lmc_support_level(kvs_lmc_fstatus s);

/* One row per registry family, in registry order. Returns 0 or
 * KVS_E_NOMEM; rows live in the arena. */
int kvs_lmc_families_eval(kvs_lmc_evidence *ev, const kvs_lmc_family_ctx *ctx, kvs_arena *a,
                          kvs_lmc_family_row **rows, size_t *nrows);

/* Roll-up of the rows of one surface. `coverage` selects the peer's
 * coverage algorithm (vllm, sglang), otherwise the compat algorithm;
 * evidence surfaces map populated/zero/missing to complete/zero/
 * not_applicable. */
void kvs_lmc_surface_rollup(const kvs_lmc_family_row *rows, size_t n, kvs_lmc_fsurface s, kvs_lmc_surface_row *out);

/* The row of (surface, family), or NULL. */
const kvs_lmc_family_row *kvs_lmc_row_find(const kvs_lmc_family_row *rows, size_t n, kvs_lmc_fsurface s,
                                           const char *family);

#endif
