/* Reading the evidence model (see evidence.h): per-key series, spellings,
 * values at a time, sums, merged histograms and the observation times. */
#include "core/error.h"
#include "lmcache/evidence_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---- */

size_t kvs_lmc_evidence_nseries(const kvs_lmc_evidence *ev) { return ev->nseries; }

const kvs_lmc_series *kvs_lmc_evidence_series(const kvs_lmc_evidence *ev, size_t i)
{
    return i < ev->nseries ? ev->series[i] : NULL;
}

size_t kvs_lmc_evidence_key_series(const kvs_lmc_evidence *ev, kvs_metric_key k, const kvs_lmc_series *const **out)
{
    if ((unsigned)k >= KVS_METRIC__COUNT || k == KVS_METRIC_UNKNOWN) {
        *out = NULL;
        return 0;
    }
    *out = (const kvs_lmc_series *const *)ev->keys[k].series;
    return ev->keys[k].n;
}

bool kvs_lmc_evidence_key_seen(const kvs_lmc_evidence *ev, kvs_metric_key k)
{
    return k > KVS_METRIC_UNKNOWN && k < KVS_METRIC__COUNT && ev->keys[k].n > 0;
}

bool kvs_lmc_evidence_key_nonzero(const kvs_lmc_evidence *ev, kvs_metric_key k)
{
    if (!kvs_lmc_evidence_key_seen(ev, k))
        return false;
    for (size_t i = 0; i < ev->keys[k].n; i++)
        if (ev->keys[k].series[i]->nonzero)
            return true;
    return false;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(name_rec *const *)a)->name, (*(name_rec *const *)b)->name);
}

size_t kvs_lmc_evidence_key_spellings(kvs_lmc_evidence *ev, kvs_metric_key k, const char *const **names,
                                      const bool **nonzero)
{
    *names = NULL;
    *nonzero = NULL;
    if (!kvs_lmc_evidence_key_seen(ev, k))
        return 0;
    key_index *ki = &ev->keys[k];
    /* rebuild the list from the name table: names are few */
    size_t cnt = 0;
    for (size_t i = 0; i < ev->nnames; i++)
        if (ev->names[i]->key == k && ev->names[i]->has_value)
            cnt++;
    if (cnt > ki->capspell) {
        const char **ns = realloc(ki->spell, cnt * sizeof *ns);
        if (!ns)
            return 0;
        ki->spell = ns;
        bool *nz = realloc(ki->spell_nz, cnt * sizeof *nz);
        if (!nz)
            return 0;
        ki->spell_nz = nz;
        ki->capspell = cnt;
    }
    name_rec *recs[64];
    size_t m = 0;
    for (size_t i = 0; i < ev->nnames && m < 64; i++)
        if (ev->names[i]->key == k && ev->names[i]->has_value)
            recs[m++] = ev->names[i];
    qsort(recs, m, sizeof *recs, cmp_name);
    for (size_t i = 0; i < m; i++) {
        ki->spell[i] = recs[i]->name;
        ki->spell_nz[i] = recs[i]->nonzero;
    }
    *names = ki->spell;
    *nonzero = ki->spell_nz;
    return m;
}

double kvs_lmc_series_value_at(const kvs_lmc_series *s, int64_t t)
{
    size_t n = s->npoints;
    if (!n || s->t_ms[0] > t)
        return NAN;
    size_t m = kvs_lmc_series_stride(s);
    if (s->t_ms[n - 1] <= t)
        return s->values[(n - 1) * m];
    size_t lo = 0, hi = n; /* last index with t_ms <= t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->t_ms[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return s->values[lo * m];
}

static const double *point_at(const kvs_lmc_series *s, int64_t t)
{
    size_t n = s->npoints;
    if (!n || s->t_ms[0] > t)
        return NULL;
    size_t m = kvs_lmc_series_stride(s);
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->t_ms[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return s->values + lo * m;
}

static const char *label_of(const kvs_lmc_series *s, const char *key)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].key, key) == 0)
            return s->labels[i].value;
    return NULL;
}

double kvs_lmc_evidence_sum(const kvs_lmc_evidence *ev, kvs_metric_key k, int64_t t, const char *lkey, const char *lval)
{
    const kvs_lmc_series *const *ss;
    size_t n = kvs_lmc_evidence_key_series(ev, k, &ss);
    double sum = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (lkey) {
            const char *v = label_of(ss[i], lkey);
            if (!v || strcmp(v, lval) != 0)
                continue;
        }
        double v = kvs_lmc_series_value_at(ss[i], t);
        if (!isnan(v)) {
            sum += v;
            any = true;
        }
    }
    return any ? sum : NAN;
}

double kvs_lmc_evidence_max(const kvs_lmc_evidence *ev, kvs_metric_key k)
{
    const kvs_lmc_series *const *ss;
    size_t n = kvs_lmc_evidence_key_series(ev, k, &ss);
    double mx = NAN;
    for (size_t i = 0; i < n; i++) {
        double v = kvs_lmc_series_value_at(ss[i], INT64_MAX);
        if (!isnan(v) && (isnan(mx) || v > mx))
            mx = v;
    }
    return mx;
}

bool kvs_lmc_evidence_hist(const kvs_lmc_evidence *ev, kvs_metric_key k, int64_t t0, int64_t t1, kvs_lmc_hist *out)
{
    memset(out, 0, sizeof *out);
    const kvs_lmc_series *const *ss;
    size_t n = kvs_lmc_evidence_key_series(ev, k, &ss);
    const kvs_lmc_series *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const kvs_lmc_series *s = ss[i];
        if (s->kind != KVS_LMC_HISTOGRAM || !s->npoints)
            continue;
        if (!first) {
            first = s;
            out->nbounds = s->nbounds;
            if (s->nbounds)
                memcpy(out->bounds, s->bounds, s->nbounds * sizeof *s->bounds);
        } else if (s->nbounds != first->nbounds ||
                   (s->nbounds && memcmp(s->bounds, first->bounds, s->nbounds * sizeof *s->bounds) != 0)) {
            out->skipped++;
            continue;
        }
        const double *p1 = point_at(s, t1);
        if (!p1)
            continue;
        const double *p0 = t0 == INT64_MIN ? NULL : point_at(s, t0);
        size_t m = kvs_lmc_series_stride(s);
        out->count += p1[0] - (p0 ? p0[0] : 0);
        out->sum += p1[1] - (p0 ? p0[1] : 0);
        for (size_t b = 0; b + 2 < m; b++) {
            double d = p1[2 + b] - (p0 ? p0[2 + b] : 0);
            out->counts[b] += d > 0 ? d : 0;
        }
        out->series++;
    }
    return out->series > 0;
}

size_t kvs_lmc_evidence_times(const kvs_lmc_evidence *ev, const int64_t **t)
{
    *t = ev->times;
    return ev->ntimes;
}

void kvs_lmc_evidence_name_counts(kvs_lmc_evidence *ev, size_t *total, size_t *populated)
{
    size_t t = 0, p = 0;
    for (size_t i = 0; i < ev->nnames; i++) {
        if (!ev->names[i]->has_value)
            continue;
        t++;
        p += ev->names[i]->nonzero;
    }
    *total = t;
    *populated = p;
}
