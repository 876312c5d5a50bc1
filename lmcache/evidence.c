/* The evidence accumulator (see evidence.h): names resolved once through
 * the name bridge and cached, series in an open-addressing table keyed by
 * (canonical name, sorted labels), timelines thinned by halves when full. */
#include "lmcache/evidence.h"

#include "core/error.h"
#include "lmcache/evidence_int.h"
#include "lmcache/rates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 32
#define MAX_TIMES 4096

/* ---- names ---- */

static name_rec *name_find(kvs_lmc_evidence *ev, const char *s, size_t n, uint64_t h)
{
    if (!ev->nslots_names)
        return NULL;
    size_t mask = ev->nslots_names - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        name_rec *r = ev->name_slots[i];
        if (!r)
            return NULL;
        if (r->hash == h && strncmp(r->name, s, n) == 0 && r->name[n] == '\0')
            return r;
    }
}

static int name_slots_grow(kvs_lmc_evidence *ev)
{
    size_t nn = ev->nslots_names ? ev->nslots_names * 2 : 256;
    name_rec **ns = calloc(nn, sizeof *ns);
    if (!ns)
        return KVS_E_NOMEM;
    for (size_t i = 0; i < ev->nnames; i++) {
        name_rec *r = ev->names[i];
        size_t j = (size_t)r->hash & (nn - 1);
        while (ns[j])
            j = (j + 1) & (nn - 1);
        ns[j] = r;
    }
    free(ev->name_slots);
    ev->name_slots = ns;
    ev->nslots_names = nn;
    return 0;
}

static bool prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void classify_unknown(kvs_lmc_evidence *ev, name_rec *r)
{
    char low[64];
    size_t n = strlen(r->name);
    if (n > sizeof low - 1)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++) {
        char c = r->name[i];
        low[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    low[n] = '\0';
    if (prefix(low, "lmcache_mp.") || prefix(low, "lmcache_mp_"))
        ev->unk.lmcache_mp = true, r->klass = KVS_SURFACE_LMCACHE_MP;
    else if (prefix(low, "lmcache_blend.") || prefix(low, "lmcache_blend_") || prefix(low, "lmcache_cacheblend"))
        ev->unk.lmcache_blend = true, r->klass = KVS_SURFACE_LMCACHE_CACHEBLEND;
    else if (prefix(low, "lmcache_coordinator"))
        ev->unk.lmcache_coordinator = true, r->klass = KVS_SURFACE_LMCACHE_MP;
    else if (strstr(low, "config_info") && prefix(low, "lmcache"))
        r->klass = KVS_SURFACE_UNKNOWN; /* configuration, not a metric of any mode */
    else if (prefix(low, "lmcache:") || prefix(low, "lmcache_"))
        ev->unk.lmcache_embedded = true, r->klass = KVS_SURFACE_LMCACHE_EMBEDDED;
    else if (prefix(low, "vllm:") || prefix(low, "vllm_"))
        ev->unk.vllm = true, r->klass = KVS_SURFACE_VLLM;
    else if (prefix(low, "sglang:") || prefix(low, "sglang_"))
        ev->unk.sglang = true, r->klass = KVS_SURFACE_SGLANG;
}

static name_rec *name_get(kvs_lmc_evidence *ev, const char *s, size_t n, const char *unit, bool *full)
{
    if (ev->last_name && strncmp(ev->last_name->name, s, n) == 0 && ev->last_name->name[n] == '\0')
        return ev->last_name;
    uint64_t h = kvs_lmc_hash(s, n, 7);
    name_rec *r = name_find(ev, s, n, h);
    if (r)
        return ev->last_name = r;
    if (ev->nnames >= ev->lim.max_series) { /* names are bounded like series */
        *full = true;
        return NULL;
    }
    if ((ev->nnames + 1) * 2 > ev->nslots_names && name_slots_grow(ev) != 0)
        return NULL;
    if (ev->nnames == ev->cap_names) {
        size_t nc = ev->cap_names ? ev->cap_names * 2 : 128;
        name_rec **nv = realloc(ev->names, nc * sizeof *nv);
        if (!nv)
            return NULL;
        ev->names = nv;
        ev->cap_names = nc;
    }
    r = kvs_arena_zalloc(ev->arena, sizeof *r);
    if (!r || !(r->name = kvs_arena_strndup(ev->arena, s, n)))
        return NULL;
    r->hash = h;
    r->key = kvs_metric_canonical(s, n, unit);
    r->canon = r->key ? kvs_metric_id(r->key) : r->name;
    if (r->key)
        r->klass = kvs_metric_info_of(r->key)->surface;
    else
        classify_unknown(ev, r);
    size_t j = (size_t)h & (ev->nslots_names - 1);
    while (ev->name_slots[j])
        j = (j + 1) & (ev->nslots_names - 1);
    ev->name_slots[j] = r;
    ev->names[ev->nnames++] = r;
    return ev->last_name = r;
}

/* ---- lifecycle ---- */

kvs_lmc_evidence *kvs_lmc_evidence_new(const kvs_lmc_evidence_limits *lim)
{
    kvs_lmc_evidence *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    if (lim)
        ev->lim = *lim;
    if (!ev->lim.max_series)
        ev->lim.max_series = 65536;
    if (!ev->lim.max_points)
        ev->lim.max_points = 512;
    if (ev->lim.max_points < 4)
        ev->lim.max_points = 4;
    if (!ev->lim.max_set)
        ev->lim.max_set = 10000;
    if (!ev->lim.max_requests)
        ev->lim.max_requests = 4096;
    ev->arena = kvs_arena_new();
    ev->reqs = calloc(ev->lim.max_requests, sizeof *ev->reqs);
    if (!ev->arena || !ev->reqs) {
        kvs_arena_free(ev->arena);
        free(ev->reqs);
        free(ev);
        return NULL;
    }
    kvs_lmc_strset_init(&ev->strings, ev->arena, 0);
    for (int i = 0; i < KVS_LMC_SET__COUNT; i++)
        kvs_lmc_strset_init(&ev->sets[i], ev->arena, ev->lim.max_set);
    ev->logs.enable_p2p = ev->logs.enable_pd = ev->logs.enable_async = -1;
    ev->logs.speed_gbps_min = ev->logs.speed_tokens_min = NAN;
    ev->http.healthy = -1;
    ev->http.l1_memory_used_bytes = ev->http.l1_total_object_count = ev->http.l1_memory_total_bytes = NAN;
    return ev;
}

void kvs_lmc_evidence_free(kvs_lmc_evidence *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->nseries; i++) {
        free(ev->series[i]->t_ms);
        free(ev->series[i]->values);
        free(ev->series[i]->track);
    }
    for (int k = 0; k < KVS_METRIC__COUNT; k++) {
        free(ev->keys[k].series);
        free(ev->keys[k].spell);
        free(ev->keys[k].spell_nz);
    }
    free(ev->series);
    free(ev->series_slots);
    free(ev->names);
    free(ev->name_slots);
    free(ev->times);
    free(ev->reqs);
    kvs_lmc_strset_free(&ev->strings);
    for (int i = 0; i < KVS_LMC_SET__COUNT; i++)
        kvs_lmc_strset_free(&ev->sets[i]);
    kvs_arena_free(ev->arena);
    free(ev);
}

/* ---- small helpers ---- */

const char *kvs_lmc_ev_intern(kvs_lmc_evidence *ev, const char *s)
{
    return s ? kvs_lmc_strset_add(&ev->strings, s, strlen(s)) : NULL;
}

int kvs_lmc_ev_set_add(kvs_lmc_evidence *ev, kvs_lmc_set_id id, const char *s)
{
    if (!s)
        return 0;
    kvs_lmc_strset *set = &ev->sets[id];
    size_t n = strlen(s);
    if (kvs_lmc_strset_add(set, s, n) || set->overflow)
        return 0;
    return KVS_E_NOMEM;
}

static bool truthy(const char *v)
{
    static const char *const t[] = {"1", "true", "yes", "on", "True", "TRUE", "Yes", "YES", "On", "ON"};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (strcmp(v, t[i]) == 0)
            return true;
    return false;
}

static bool in_list(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(s, *l) == 0)
            return true;
    return false;
}

static void note_time(kvs_lmc_evidence *ev, int64_t t)
{
    kvs_lmc_flags *f = &ev->flags;
    if (!f->obs || t < f->t_min_ms)
        f->t_min_ms = t;
    if (!f->obs || t > f->t_max_ms)
        f->t_max_ms = t;
    size_t n = ev->ntimes;
    if (n && ev->times[n - 1] == t)
        return;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ev->times[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && ev->times[lo] == t)
        return;
    if (n == MAX_TIMES) { /* thin: keep every other time, first and last */
        size_t k = 0;
        for (size_t i = 0; i < n; i += 2)
            ev->times[k++] = ev->times[i];
        if (ev->times[k - 1] != ev->times[n - 1])
            ev->times[k++] = ev->times[n - 1];
        ev->ntimes = n = k;
        lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ev->times[mid] < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && ev->times[lo] == t)
            return;
    }
    if (n == ev->cap_times) {
        size_t nc = ev->cap_times ? ev->cap_times * 2 : 64;
        int64_t *nt = realloc(ev->times, nc * sizeof *nt);
        if (!nt)
            return;
        ev->times = nt;
        ev->cap_times = nc;
    }
    memmove(ev->times + lo + 1, ev->times + lo, (n - lo) * sizeof *ev->times);
    ev->times[lo] = t;
    ev->ntimes = n + 1;
}

/* ---- label signals (once per series) ---- */

static const char *const connector_keys[] = {"connector", "kv_connector", "cache_connector", "lmcache_connector",
                                             "kv_connector_class", NULL};
static const char *const cache_keys[] = {"cache_backend", "cache_class", "radix_cache", "radix_cache_class",
                                         "cache_type", NULL};
static const char *const offload_keys[] = {"kv_offloading_backend", "kv_offload_backend", "offloading_backend", NULL};
static const char *const enable_keys[] = {"enable_lmcache", "lmcache_enabled", "sglang_enable_lmcache", NULL};

static bool salted_key(kvs_metric_key k)
{
    switch (k) {
    case KVS_METRIC_LMCACHE_MP_LOOKUP_REQUESTED:
    case KVS_METRIC_LMCACHE_MP_LOOKUP_HIT:
    case KVS_METRIC_LMCACHE_MP_LOOKUP_HIT_L1:
    case KVS_METRIC_LMCACHE_MP_LOOKUP_HIT_L2:
        return true;
    default:
        return false;
    }
}

static int series_signals(kvs_lmc_evidence *ev, const kvs_lmc_series *s, const name_rec *nr)
{
    int rc = 0;
    bool mp = nr->klass == KVS_SURFACE_LMCACHE_MP;
    for (size_t i = 0; i < s->nlabels && !rc; i++) {
        const char *k = s->labels[i].key, *v = s->labels[i].value;
        if (in_list(k, connector_keys) && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_CONNECTOR, v);
        else if (in_list(k, cache_keys) && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_CACHE, v);
        else if (in_list(k, offload_keys) && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_OFFLOAD, v);
        else if (in_list(k, enable_keys) && truthy(v))
            ev->flags.enable_lmcache_label = true;
        else if (strcmp(k, "kv_role") == 0 && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_KV_ROLE, v);
        else if (strcmp(k, "model_name") == 0 && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_MODEL, v);
        else if (strcmp(k, "mp_mode") == 0 && truthy(v) && prefix(nr->name, "lmcache"))
            ev->flags.mp_mode_label = true;
        else if (mp && strcmp(k, "cache_salt") == 0)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_CACHE_SALT, v);
        else if (mp && strcmp(k, "l2_name") == 0 && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_L2_NAME, v);
        else if (mp && strcmp(k, "adapter_index") == 0 && *v)
            rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_ADAPTER_INDEX, v);
    }
    if (s->key == KVS_METRIC_SGLANG_LMCACHE_ENABLED)
        ev->flags.enable_lmcache_label = true;
    return rc;
}

/* When a series first carries a non-zero value. */
static void series_nonzero(kvs_lmc_evidence *ev, const kvs_lmc_series *s, const name_rec *nr)
{
    if (nr->klass != KVS_SURFACE_LMCACHE_MP)
        return;
    bool has_salt = false;
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].key, "cache_salt") == 0) {
            has_salt = true;
            if (!*s->labels[i].value)
                ev->flags.empty_salt_nonzero = true;
        }
    if (!has_salt && salted_key(s->key))
        ev->flags.salt_missing_nonzero = true;
}

/* ---- series ---- */

static uint64_t series_hash(const char *canon, const kvs_lmc_label *l, size_t n)
{
    uint64_t h = kvs_lmc_hash(canon, strlen(canon), 11);
    for (size_t i = 0; i < n; i++) {
        h = kvs_lmc_hash(l[i].key, strlen(l[i].key), h);
        h = kvs_lmc_hash(l[i].value, strlen(l[i].value) + 1, h);
    }
    return h;
}

static bool series_eq(const kvs_lmc_series *s, const char *canon, const kvs_lmc_label *l, size_t n)
{
    if (s->name != canon || s->nlabels != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->labels[i].key, l[i].key) || strcmp(s->labels[i].value, l[i].value))
            return false;
    return true;
}

static int series_slots_grow(kvs_lmc_evidence *ev)
{
    size_t nn = ev->nslots_series ? ev->nslots_series * 2 : 256;
    kvs_lmc_series **ns = calloc(nn, sizeof *ns);
    if (!ns)
        return KVS_E_NOMEM;
    for (size_t i = 0; i < ev->nseries; i++) {
        size_t j = (size_t)ev->series[i]->hash & (nn - 1);
        while (ns[j])
            j = (j + 1) & (nn - 1);
        ns[j] = ev->series[i];
    }
    free(ev->series_slots);
    ev->series_slots = ns;
    ev->nslots_series = nn;
    return 0;
}

static int key_index_add(kvs_lmc_evidence *ev, kvs_lmc_series *s)
{
    key_index *ki = &ev->keys[s->key];
    if (ki->n == ki->cap) {
        size_t nc = ki->cap ? ki->cap * 2 : 4;
        kvs_lmc_series **nv = realloc(ki->series, nc * sizeof *nv);
        if (!nv)
            return KVS_E_NOMEM;
        ki->series = nv;
        ki->cap = nc;
    }
    ki->series[ki->n++] = s;
    return 0;
}

static kvs_lmc_series *series_get(kvs_lmc_evidence *ev, name_rec *nr, kvs_lmc_kind kind, const kvs_lmc_label *l,
                                  size_t n, const kvs_lmc_obs *o, int *rc)
{
    uint64_t h = series_hash(nr->canon, l, n);
    if (ev->nslots_series) {
        size_t mask = ev->nslots_series - 1;
        for (size_t i = (size_t)h & mask; ev->series_slots[i]; i = (i + 1) & mask) {
            kvs_lmc_series *s = ev->series_slots[i];
            if (s->hash == h && series_eq(s, nr->canon, l, n))
                return s;
        }
    }
    if (ev->nseries >= ev->lim.max_series) {
        ev->flags.series_dropped++;
        return NULL;
    }
    if ((ev->nseries + 1) * 2 > ev->nslots_series && series_slots_grow(ev) != 0)
        goto nomem;
    if (ev->nseries == ev->cap_series) {
        size_t nc = ev->cap_series ? ev->cap_series * 2 : 256;
        kvs_lmc_series **nv = realloc(ev->series, nc * sizeof *nv);
        if (!nv)
            goto nomem;
        ev->series = nv;
        ev->cap_series = nc;
    }
    kvs_lmc_series *s = kvs_arena_zalloc(ev->arena, sizeof *s);
    kvs_lmc_label *ls = n ? kvs_arena_alloc(ev->arena, n * sizeof *ls) : NULL;
    if (!s || (n && !ls))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        ls[i].key = kvs_lmc_ev_intern(ev, l[i].key);
        ls[i].value = kvs_lmc_ev_intern(ev, l[i].value);
        if (!ls[i].key || !ls[i].value)
            goto nomem;
    }
    s->key = nr->key;
    s->name = nr->canon;
    s->spelling = nr->name;
    s->kind = kind;
    s->labels = ls;
    s->nlabels = n;
    s->hash = h;
    s->min = s->max = NAN;
    if (kind == KVS_LMC_HISTOGRAM && o->nbounds) {
        double *b = kvs_arena_alloc(ev->arena, o->nbounds * sizeof *b);
        if (!b)
            goto nomem;
        memcpy(b, o->bounds, o->nbounds * sizeof *b);
        s->bounds = b;
        s->nbounds = o->nbounds;
    }
    s->track = calloc(2 * kvs_lmc_series_stride(s), sizeof *s->track);
    if (!s->track)
        goto nomem;
    if (series_signals(ev, s, nr) != 0 || key_index_add(ev, s) != 0) {
        free(s->track);
        goto nomem;
    }
    size_t j = (size_t)h & (ev->nslots_series - 1);
    while (ev->series_slots[j])
        j = (j + 1) & (ev->nslots_series - 1);
    ev->series_slots[j] = s;
    ev->series[ev->nseries++] = s;
    return s;
nomem:
    *rc = KVS_E_NOMEM;
    return NULL;
}

/* Reset-adjusted components (track: last raw, offset per component;
 * component 0 decides resets). A value for the time of the last point
 * replaces it: it is never read as a reset. */
static void adjust(kvs_lmc_series *s, const double *raw, double *out, size_t m, bool delta, bool same_time)
{
    double *tr = s->track;
    bool started = s->npoints > 0 || s->has_value;
    if (delta) {
        for (size_t i = 0; i < m; i++) {
            double r = isnan(raw[i]) ? 0 : raw[i];
            tr[2 * i] = (started ? tr[2 * i] : 0) + r;
            out[i] = tr[2 * i];
        }
        return;
    }
    bool reset = started && !same_time && raw[0] < tr[0];
    if (reset)
        s->resets++;
    for (size_t i = 0; i < m; i++) {
        double r = raw[i];
        if (isnan(r))
            r = started ? tr[2 * i] : 0;
        if (reset)
            tr[2 * i + 1] += tr[2 * i];
        tr[2 * i] = r;
        out[i] = r + tr[2 * i + 1];
    }
}

static int put_point(kvs_lmc_series *s, int64_t t, const double *v, size_t lim)
{
    size_t m = kvs_lmc_series_stride(s);
    if (s->npoints && t <= s->t_ms[s->npoints - 1]) {
        memcpy(s->values + (s->npoints - 1) * m, v, m * sizeof *v);
        return 0;
    }
    if (s->npoints == lim) { /* thin by halves, keep first and last */
        size_t k = 0;
        for (size_t i = 0; i < s->npoints; i += 2, k++) {
            s->t_ms[k] = s->t_ms[i];
            memmove(s->values + k * m, s->values + i * m, m * sizeof *v);
        }
        if (s->t_ms[k - 1] != s->t_ms[s->npoints - 1]) {
            s->t_ms[k] = s->t_ms[s->npoints - 1];
            memmove(s->values + k * m, s->values + (s->npoints - 1) * m, m * sizeof *v);
            k++;
        }
        s->npoints = k;
    }
    if (s->npoints == s->cap_points) {
        size_t nc = s->cap_points ? s->cap_points * 2 : 4;
        if (nc > lim)
            nc = lim;
        int64_t *nt = realloc(s->t_ms, nc * sizeof *nt);
        if (!nt)
            return KVS_E_NOMEM;
        s->t_ms = nt;
        double *nv = realloc(s->values, nc * m * sizeof *nv);
        if (!nv)
            return KVS_E_NOMEM;
        s->values = nv;
        s->cap_points = nc;
    }
    s->t_ms[s->npoints] = t;
    memcpy(s->values + s->npoints * m, v, m * sizeof *v);
    s->npoints++;
    return 0;
}

/* A series known only from `_created` takes the shape of its first value. */
static int reshape(kvs_lmc_evidence *ev, kvs_lmc_series *s, const kvs_lmc_obs *o)
{
    s->kind = o->kind;
    s->nbounds = 0;
    s->bounds = NULL;
    if (o->kind == KVS_LMC_HISTOGRAM && o->nbounds) {
        double *b = kvs_arena_alloc(ev->arena, o->nbounds * sizeof *b);
        if (!b)
            return KVS_E_NOMEM;
        memcpy(b, o->bounds, o->nbounds * sizeof *b);
        s->bounds = b;
        s->nbounds = o->nbounds;
    }
    double *tr = calloc(2 * kvs_lmc_series_stride(s), sizeof *tr);
    if (!tr)
        return KVS_E_NOMEM;
    free(s->track);
    s->track = tr;
    free(s->t_ms);
    free(s->values);
    s->t_ms = NULL;
    s->values = NULL;
    s->npoints = s->cap_points = 0;
    return 0;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const kvs_lmc_label *)a)->key, ((const kvs_lmc_label *)b)->key);
}

static int add_target_info(kvs_lmc_evidence *ev, const kvs_lmc_obs *o)
{
    for (size_t i = 0; i < o->nlabels; i++) {
        const char *k = o->labels[i].key;
        if (strcmp(k, "service_instance_id") == 0)
            k = "service.instance.id";
        else if (strcmp(k, "service_name") == 0)
            k = "service.name";
        int rc = kvs_lmc_evidence_add_resource_attr(ev, k, o->labels[i].value);
        if (rc)
            return rc;
    }
    return 0;
}

int kvs_lmc_evidence_add(kvs_lmc_evidence *ev, const kvs_lmc_obs *o)
{
    if (!o || !o->name) {
        ev->flags.obs_invalid++;
        return KVS_E_INVALID;
    }
    size_t nlen = o->name_len ? o->name_len : strlen(o->name);
    if (nlen == 11 && memcmp(o->name, "target_info", 11) == 0)
        return add_target_info(ev, o);
    if (o->kind == KVS_LMC_HISTOGRAM &&
        (o->nbounds > KVS_LMC_MAX_BUCKETS || (o->nbounds && !o->bucket_counts) || (o->nbounds && !o->bounds))) {
        ev->flags.obs_invalid++;
        return KVS_E_INVALID;
    }
    kvs_lmc_label tmp[MAX_LABELS];
    size_t n = 0;
    for (size_t i = 0; i < o->nlabels; i++) {
        const kvs_lmc_label *l = &o->labels[i];
        if (!l->key || !l->value) {
            ev->flags.obs_invalid++;
            return KVS_E_INVALID;
        }
        if (strcmp(l->key, "otel_scope_name") == 0) {
            if (*l->value && kvs_lmc_evidence_add_scope(ev, l->value) != 0)
                return KVS_E_NOMEM;
            continue;
        }
        if (strcmp(l->key, "otel_scope_version") == 0)
            continue;
        if (n == MAX_LABELS) {
            ev->flags.obs_invalid++;
            return KVS_E_INVALID;
        }
        tmp[n++] = *l;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: label sets are small */
        for (size_t j = i; j > 0 && label_cmp(&tmp[j - 1], &tmp[j]) > 0; j--) {
            kvs_lmc_label t = tmp[j];
            tmp[j] = tmp[j - 1];
            tmp[j - 1] = t;
        }
    bool full = false;
    name_rec *nr = name_get(ev, o->name, nlen, o->unit, &full);
    if (!nr && full) {
        ev->flags.series_dropped++;
        return 0;
    }
    if (!nr)
        return KVS_E_NOMEM;
    int rc = 0;
    kvs_lmc_series *s = series_get(ev, nr, o->kind, tmp, n, o, &rc);
    if (!s)
        return rc;
    note_time(ev, o->t_ms);
    ev->flags.obs++;
    if (o->created) {
        ev->flags.created_samples++;
        return 0;
    }
    if (!s->has_value && (s->kind != o->kind || (o->kind == KVS_LMC_HISTOGRAM && o->nbounds != s->nbounds)) &&
        (rc = reshape(ev, s, o)) != 0)
        return rc;
    if (s->kind != o->kind || (o->kind == KVS_LMC_HISTOGRAM && o->nbounds != s->nbounds)) {
        ev->flags.obs_invalid++;
        ev->flags.obs--;
        return KVS_E_INVALID;
    }
    double raw[KVS_LMC_MAX_BUCKETS + 3], adj[KVS_LMC_MAX_BUCKETS + 3];
    size_t m = kvs_lmc_series_stride(s);
    bool nonzero;
    if (o->kind == KVS_LMC_HISTOGRAM) {
        raw[0] = o->count;
        raw[1] = o->sum;
        for (size_t i = 0; i + 2 < m; i++)
            raw[2 + i] = o->bucket_counts ? o->bucket_counts[i] : 0;
        nonzero = (o->count != 0 && !isnan(o->count)) || (o->sum != 0 && !isnan(o->sum));
    } else {
        raw[0] = o->value;
        nonzero = o->value != 0 && !isnan(o->value);
    }
    if (o->kind == KVS_LMC_GAUGE) {
        memcpy(adj, raw, sizeof *raw);
        if (!isnan(raw[0])) {
            if (isnan(s->min) || raw[0] < s->min)
                s->min = raw[0];
            if (isnan(s->max) || raw[0] > s->max)
                s->max = raw[0];
        }
    } else {
        adjust(s, raw, adj, m, o->delta, s->npoints && o->t_ms <= s->t_ms[s->npoints - 1]);
    }
    if ((rc = put_point(s, o->t_ms, adj, ev->lim.max_points)) != 0)
        return rc;
    s->has_value = true;
    nr->has_value = true;
    if (nonzero) {
        if (!s->nonzero)
            series_nonzero(ev, s, nr);
        s->nonzero = true;
        nr->nonzero = true;
    }
    return 0;
}
