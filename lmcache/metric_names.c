/* The name bridge (see metric_names.h): a table of canonical metrics in
 * key order, a sorted table of normalized spellings, and suffix stripping
 * tried from the least to the most stripped form, each looked up by binary
 * search. The spelling table holds each canonical id plus renamed-metric
 * aliases; tests/unit/test_metric_names.c checks it is sorted and that
 * every id and alias resolves to its key. */
#include "lmcache/metric_names_int.h"

#include <stdbool.h>
#include <string.h>


#define NSPELL kvs_metric_nspellings_
#define MAX_NAME 256

static kvs_metric_key lookup(const char *s, size_t n)
{
    size_t lo = 0, hi = NSPELL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *t = kvs_metric_spellings_[mid].name;
        int c = strncmp(t, s, n);
        if (c == 0)
            c = t[n] ? 1 : 0;
        if (c == 0)
            return kvs_metric_spellings_[mid].key;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return KVS_METRIC_UNKNOWN;
}

static bool ends(const char *s, size_t n, const char *suf, size_t *out)
{
    size_t m = strlen(suf);
    if (n <= m || memcmp(s + n - m, suf, m) != 0)
        return false;
    *out = n - m;
    return true;
}

/* Prometheus type suffixes. */
static const char *const type_sfx[] = {"_bucket", "_count", "_sum", "_created", "_gcount", "_gsum"};

/* Unit suffixes the exporters append, longest first within a family of
 * overlapping ones. */
static const char *const unit_sfx[] = {
    "_gb_per_second", "_bytes_per_second", "_milliseconds", "_seconds", "_requests", "_tokens",
    "_chunks", "_bytes", "_keys", "_gbs", "_gb_s", "_ratio", "_percent", "_ms", "_by", "_s",
};

/* The type-stripped forms of s, least stripped first. */
static size_t stems(const char *s, size_t n, size_t out[3])
{
    size_t k = 0, m;
    out[k++] = n;
    for (size_t i = 0; i < sizeof type_sfx / sizeof *type_sfx; i++)
        if (ends(s, n, type_sfx[i], &m)) {
            out[k++] = m;
            n = m;
            break;
        }
    if (ends(s, n, "_total", &m))
        out[k++] = m;
    return k;
}

static kvs_metric_key resolve_norm(const char *s, size_t n)
{
    size_t st[3], ns = stems(s, n, st);
    for (size_t i = 0; i < ns; i++) {
        kvs_metric_key k = lookup(s, st[i]);
        if (k)
            return k;
    }
    /* then unit suffixes, up to three deep (e.g. _gbs_gb_per_second) */
    for (size_t i = 0; i < ns; i++) {
        size_t len = st[i];
        for (int depth = 0; depth < 3; depth++) {
            size_t m = 0;
            bool cut = false;
            for (size_t u = 0; u < sizeof unit_sfx / sizeof *unit_sfx && !cut; u++)
                cut = ends(s, len, unit_sfx[u], &m);
            if (!cut)
                break;
            len = m;
            kvs_metric_key k = lookup(s, len);
            if (k)
                return k;
        }
    }
    return KVS_METRIC_UNKNOWN;
}

static size_t normalize(char *dst, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '_';
        dst[i] = (char)c;
    }
    return n;
}

/* OTel unit -> Prometheus suffix, as the exporters map it. */
static const char *unit_suffix(const char *unit)
{
    static const char *const map[][2] = {
        {"s", "seconds"}, {"ms", "milliseconds"}, {"By", "bytes"}, {"GB/s", "GB_per_second"},
        {"%", "percent"}, {"1", ""},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(unit, map[i][0]) == 0)
            return map[i][1];
    return unit;
}

kvs_metric_key kvs_metric_canonical(const char *name, size_t len, const char *unit)
{
    char buf[MAX_NAME];
    if (!name || len == 0 || len >= MAX_NAME)
        return KVS_METRIC_UNKNOWN;
    size_t n = normalize(buf, name, len);
    kvs_metric_key k = resolve_norm(buf, n);
    if (k || !unit || !*unit)
        return k;
    const char *us = unit_suffix(unit);
    if (*us == '{')
        return k;
    size_t un = strlen(us);
    if (!un || n + 1 + un >= MAX_NAME)
        return k;
    buf[n] = '_';
    normalize(buf + n + 1, us, un);
    return resolve_norm(buf, n + 1 + un);
}

const kvs_metric_info *kvs_metric_info_of(kvs_metric_key key)
{
    return key > KVS_METRIC_UNKNOWN && key < KVS_METRIC__COUNT ? &kvs_metric_infos_[key] : NULL;
}

const char *kvs_metric_id(kvs_metric_key key)
{
    return key > KVS_METRIC_UNKNOWN && key < KVS_METRIC__COUNT ? kvs_metric_infos_[key].id : "unknown";
}

kvs_metric_key kvs_metric_by_id(const char *id)
{
    char buf[MAX_NAME];
    size_t n = id ? strlen(id) : 0;
    if (!n || n >= MAX_NAME)
        return KVS_METRIC_UNKNOWN;
    kvs_metric_key k = lookup(buf, normalize(buf, id, n));
    return k && strcmp(kvs_metric_infos_[k].id, id) == 0 ? k : KVS_METRIC_UNKNOWN;
}

const char *kvs_metric_surface_name(kvs_metric_surface s)
{
    static const char *const n[] = {"unknown", "lmcache_mp", "lmcache_embedded", "lmcache_cacheblend", "vllm", "sglang"};
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "unknown";
}

const char *kvs_metric_kind_name(kvs_metric_kind k)
{
    static const char *const n[] = {"unknown", "counter", "gauge", "histogram"};
    return (unsigned)k < sizeof n / sizeof *n ? n[k] : "unknown";
}

const kvs_metric_spelling *kvs_metric_spellings(size_t *n)
{
    *n = NSPELL;
    return kvs_metric_spellings_;
}
