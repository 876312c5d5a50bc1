/* Internal to the Prometheus -> OTLP conversion (formats/prom_otlp*.c):
 * the converter's grouping state, shared by the sample side
 * (prom_otlp.c) and the request builder (prom_otlp_build.c). Not a public
 * API. */
#ifndef KVS_PROM_OTLP_INT_H
#define KVS_PROM_OTLP_INT_H

#include "formats/prom_otlp.h"

#include <stdbool.h>
#include <stdint.h>

enum kind { K_GAUGE, K_SUM, K_HIST, K_SUMMARY };

struct res {
    const char *job, *instance;        /* arena strings or NULL */
    uint64_t hash;
    kvs_kv **attrs;
    size_t nattrs;
    bool used;                         /* has metrics or target_info */
};

struct scope {
    size_t res;
    const char *name, *version;
    kvs_kv **attrs;
    size_t nattrs;
};

struct mb {                            /* one OTLP metric being built */
    size_t scope;
    kvs_metric *m;
    enum kind kind;
    kvs_prom_type ptype;
    uint64_t hash;
    size_t npts;
};

struct pt {                            /* one data point being built */
    uint32_t mb;
    kvs_prom_series_key key;
    kvs_kv **attrs;
    size_t nattrs;
    kvs_exemplar **ex;
    size_t nex;
    uint64_t time;
    double value, count, sum, created;
    bool has_value, has_count, has_sum, has_created;
    uint32_t bfirst, bn;               /* range in the sorted bucket vector */
};

struct bucket {                        /* a histogram bucket or a summary quantile */
    uint32_t pt, seq;
    double bound, v;
};

struct slot {
    uint64_t h;
    uint32_t idx1;                     /* index + 1; 0 = empty */
};

struct table {
    struct slot *s;
    size_t cap, n;
};

struct kvs_prom_conv {
    kvs_arena *a;
    kvs_prom_conv_options o;
    kvs_prom_conv_stats st;
    struct res *res;
    size_t nres, res_cap;
    struct scope *scopes;
    size_t nscopes, scopes_cap;
    struct mb *mbs;
    size_t nmbs, mbs_cap;
    struct pt *pts;
    size_t npts, pts_cap;
    struct bucket *bk;
    size_t nbk, bk_cap;
    struct table mbt, ptt;
    double *cum;                       /* scratch for one histogram */
    size_t cum_cap;
    uint32_t *order;                   /* points grouped by metric, metrics by scope */
    size_t *first;
    /* cache: last family (by opening line and type) -> metric */
    unsigned long last_line;
    kvs_prom_type last_type;
    size_t last_scope;
    uint32_t last_mb;
    bool last_valid;
    int err;
};

#define K1 UINT64_C(0x9E3779B97F4A7C15)
#define K2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define K3 UINT64_C(0x165667B19E3779F9)

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xFF51AFD7ED558CCD);
    x ^= x >> 33;
    x *= UINT64_C(0xC4CEB9FE1A85EC53);
    x ^= x >> 33;
    return x;
}

/* Returns p grown to hold `need` elements of size `el` (updating *cap),
 * or p unchanged with *cap < need when out of memory. */
void *kvs_promconv__grow(void *p, size_t *cap, size_t need, size_t el);
/* 0, or -1 (out of memory) with arr untouched. */
#define GROW(arr, cap, need)                                                           \
    ((need) <= (cap) ? 0                                                               \
                     : ((arr) = kvs_promconv__grow((arr), &(cap), (need), sizeof *(arr)), \
                        (cap) >= (need) ? 0 : -1))
bool kvs_promconv__has_attr(kvs_kv **attrs, size_t n, const char *key);
int kvs_promconv__add_attr(kvs_arena *a, kvs_kv ***attrs, size_t *n, const char *k, size_t kn, const char *v,
                           size_t vn);
/* Sets key k to v: adds it when absent; when present, replaces its value
 * if `replace`, else leaves it. 0 or KVS_E_NOMEM. */
int kvs_promconv__put_attr(kvs_arena *a, kvs_kv ***attrs, size_t *n, const char *k, const char *v, bool replace);
/* Builds the request from the groups (all in the arena). */
int kvs_promconv__assemble(kvs_prom_conv *c, kvs_metrics_req **out);

#endif
