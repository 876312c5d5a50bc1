/* Prometheus -> OTLP, second half: turns the converter's grouped points
 * into OTLP data points (histogram buckets de-accumulated, quantiles
 * sorted, start times from _created or the series state) and assembles
 * the ExportMetricsServiceRequest: resources, their scopes, their metrics,
 * in order of first appearance. */
#include "formats/prom_otlp.h"
#include "formats/prom_otlp_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_bucket(const void *a, const void *b)
{
    const struct bucket *x = a, *y = b;
    if (x->pt != y->pt)
        return x->pt < y->pt ? -1 : 1;
    if (x->bound != y->bound)
        return x->bound < y->bound ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool to_u64(double v, uint64_t *out)
{
    if (!(v >= 0) || v >= 1.8e19)
        return false;
    *out = (uint64_t)llround(v);
    return true;
}

static uint64_t start_time(kvs_prom_conv *c, const struct pt *p, double v)
{
    uint64_t created = 0;
    if (p->has_created && p->created > 0 && p->created < 9.2e9) {
        /* float seconds: a double resolves ~0.24 us at today's epoch, so
         * whole seconds plus the fraction rounded to the microsecond gives
         * back the written decimal */
        double sec = floor(p->created);
        created = (uint64_t)sec * UINT64_C(1000000000) + (uint64_t)llround((p->created - sec) * 1e6) * 1000;
        if (p->time && created > p->time)
            created = p->time;
    }
    if (c->o.state) {
        const struct mb *m = &c->mbs[p->mb];
        const struct res *r = &c->res[c->scopes[m->scope].res];
        kvs_prom_series_key k = {mix64(p->key.lo ^ m->hash ^ rotl(r->hash, 13)),
                                 mix64(p->key.hi + m->hash * K3 + r->hash)};
        bool reset = false;
        uint64_t st = kvs_prom_series_state_observe(c->o.state, k, v, p->time, c->o.scrape_time_ns, created, &reset);
        c->st.resets += reset;
        if (st)
            return st;
    }
    return created ? created : p->time;
}

static kvs_number_point *number_point(kvs_prom_conv *c, struct pt *p, bool cumulative)
{
    kvs_number_point *d = kvs_arena_alloc(c->a, sizeof *d);
    if (!d)
        return NULL;
    opentelemetry__proto__metrics__v1__number_data_point__init(d);
    d->attributes = p->attrs;
    d->n_attributes = p->nattrs;
    d->time_unix_nano = p->time;
    d->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    d->as_double = p->value;
    d->exemplars = p->ex;
    d->n_exemplars = p->nex;
    if (cumulative)
        d->start_time_unix_nano = start_time(c, p, p->value);
    return d;
}

/* NULL with *bad set when the buckets are unusable. */
static kvs_histogram_point *histogram_point(kvs_prom_conv *c, struct pt *p, bool gauge, bool *bad)
{
    const struct bucket *b = p->bn ? c->bk + p->bfirst : NULL;
    size_t n = p->bn;
    /* drop repeated bounds (the last value of a bound wins) */
    double *bounds = kvs_arena_alloc(c->a, (n + 1) * sizeof *bounds);
    uint64_t *counts = kvs_arena_alloc(c->a, (n + 1) * sizeof *counts);
    kvs_histogram_point *d = kvs_arena_alloc(c->a, sizeof *d);
    if (!bounds || !counts || !d || GROW(c->cum, c->cum_cap, n + 1))
        return NULL;
    double *cum = c->cum;
    size_t nb = 0;
    bool has_inf = false;
    double inf_v = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && b[i + 1].bound == b[i].bound)
            continue;
        if (b[i].bound == INFINITY) {
            has_inf = true;
            inf_v = b[i].v;
        } else {
            bounds[nb] = b[i].bound;
            cum[nb++] = b[i].v;
        }
    }
    double total = has_inf ? inf_v : p->has_count ? p->count : nb ? cum[nb - 1] : 0;
    uint64_t prev = 0, tot;
    bool ok = to_u64(total, &tot);
    for (size_t i = 0; ok && i < nb; i++) {
        uint64_t v;
        ok = to_u64(cum[i], &v) && v >= prev && v <= tot;
        if (ok) {
            counts[i] = v - prev;
            prev = v;
        }
    }
    if (!ok) {
        *bad = true;
        return NULL;
    }
    opentelemetry__proto__metrics__v1__histogram_data_point__init(d);
    d->attributes = p->attrs;
    d->n_attributes = p->nattrs;
    d->time_unix_nano = p->time;
    d->count = tot;
    if (nb || has_inf) {
        counts[nb] = tot - prev;
        d->bucket_counts = counts;
        d->n_bucket_counts = nb + 1;
        d->explicit_bounds = bounds;
        d->n_explicit_bounds = nb;
    }
    if (p->has_sum) {
        d->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
        d->sum = p->sum;
    }
    d->exemplars = p->ex;
    d->n_exemplars = p->nex;
    if (!gauge)
        d->start_time_unix_nano = start_time(c, p, (double)tot);
    return d;
}

static kvs_summary_point *summary_point(kvs_prom_conv *c, struct pt *p, bool *bad)
{
    const struct bucket *b = p->bn ? c->bk + p->bfirst : NULL;
    kvs_summary_point *d = kvs_arena_alloc(c->a, sizeof *d);
    kvs_quantile **qs = kvs_arena_alloc(c->a, (p->bn + 1) * sizeof *qs);
    if (!d || !qs)
        return NULL;
    opentelemetry__proto__metrics__v1__summary_data_point__init(d);
    size_t nq = 0;
    for (size_t i = 0; i < p->bn; i++) {
        if (i + 1 < p->bn && b[i + 1].bound == b[i].bound)
            continue;
        kvs_quantile *q = kvs_arena_alloc(c->a, sizeof *q);
        if (!q)
            return NULL;
        opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(q);
        q->quantile = b[i].bound;
        q->value = b[i].v;
        qs[nq++] = q;
    }
    uint64_t cnt = 0;
    if (p->has_count && !to_u64(p->count, &cnt)) {
        *bad = true;
        return NULL;
    }
    d->attributes = p->attrs;
    d->n_attributes = p->nattrs;
    d->time_unix_nano = p->time;
    d->count = cnt;
    d->sum = p->has_sum ? p->sum : 0;
    d->quantile_values = qs;
    d->n_quantile_values = nq;
    d->start_time_unix_nano = start_time(c, p, (double)cnt);
    return d;
}

/* Builds the data of one metric from its points (given in arrival order). */
static int build_metric(kvs_prom_conv *c, struct mb *m, const uint32_t *idx)
{
    kvs_metric *M = m->m;
    void **pts = kvs_arena_alloc(c->a, (m->npts ? m->npts : 1) * sizeof *pts);
    if (!pts)
        return KVS_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->npts; i++) {
        struct pt *p = &c->pts[idx[i]];
        if (!p->has_value) {
            c->st.no_value++;
            c->st.dropped_points++;
            continue;
        }
        bool bad = false;
        void *d = NULL;
        switch (m->kind) {
        case K_GAUGE: d = number_point(c, p, false); break;
        case K_SUM: d = number_point(c, p, true); break;
        case K_HIST: d = histogram_point(c, p, m->ptype == KVS_PROM_GAUGEHISTOGRAM, &bad); break;
        case K_SUMMARY: d = summary_point(c, p, &bad); break;
        }
        if (bad) {
            c->st.bad_buckets++;
            c->st.dropped_points++;
            continue;
        }
        if (!d)
            return KVS_E_NOMEM;
        pts[n++] = d;
    }
    c->st.points += n;
    switch (m->kind) {
    case K_GAUGE: {
        kvs_gauge *g = kvs_arena_alloc(c->a, sizeof *g);
        if (!g)
            return KVS_E_NOMEM;
        opentelemetry__proto__metrics__v1__gauge__init(g);
        g->data_points = (kvs_number_point **)pts;
        g->n_data_points = n;
        M->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        M->gauge = g;
        break;
    }
    case K_SUM: {
        kvs_sum *s = kvs_arena_alloc(c->a, sizeof *s);
        if (!s)
            return KVS_E_NOMEM;
        opentelemetry__proto__metrics__v1__sum__init(s);
        s->data_points = (kvs_number_point **)pts;
        s->n_data_points = n;
        s->aggregation_temporality = OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        s->is_monotonic = 1;
        M->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        M->sum = s;
        break;
    }
    case K_HIST: {
        /* A gauge histogram is a snapshot, not an accumulation: OTLP has no
         * such kind, so it is a cumulative Histogram without start time and
         * with prometheus.type=gaugehistogram in the metadata; its counts
         * may go down between scrapes. */
        kvs_histogram *h = kvs_arena_alloc(c->a, sizeof *h);
        if (!h)
            return KVS_E_NOMEM;
        opentelemetry__proto__metrics__v1__histogram__init(h);
        h->data_points = (kvs_histogram_point **)pts;
        h->n_data_points = n;
        h->aggregation_temporality = OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        M->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        M->histogram = h;
        break;
    }
    case K_SUMMARY: {
        kvs_summary *s = kvs_arena_alloc(c->a, sizeof *s);
        if (!s)
            return KVS_E_NOMEM;
        opentelemetry__proto__metrics__v1__summary__init(s);
        s->data_points = (kvs_summary_point **)pts;
        s->n_data_points = n;
        M->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
        M->summary = s;
        break;
    }
    }
    return 0;
}

/* Stable counting sort: out[] lists 0..n-1 grouped by key[i] < nkeys;
 * start[k] is where group k begins (start has nkeys + 1 entries). */
static void group_by(const uint32_t *key, size_t n, size_t nkeys, uint32_t *out, size_t *start)
{
    memset(start, 0, (nkeys + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[key[i] + 1]++;
    for (size_t k = 0; k < nkeys; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++)
        out[start[key[i]]++] = (uint32_t)i;
    for (size_t k = nkeys; k > 0; k--)
        start[k] = start[k - 1];
    start[0] = 0;
}

int kvs_promconv__assemble(kvs_prom_conv *c, kvs_metrics_req **out)
{
    kvs_arena *a = c->a;
    /* buckets: sort by (point, bound, arrival) and hand each point its range */
    if (c->nbk)
        qsort(c->bk, c->nbk, sizeof *c->bk, cmp_bucket);
    for (size_t i = 0; i < c->nbk;) {
        size_t j = i;
        while (j < c->nbk && c->bk[j].pt == c->bk[i].pt)
            j++;
        c->pts[c->bk[i].pt].bfirst = (uint32_t)i;
        c->pts[c->bk[i].pt].bn = (uint32_t)(j - i);
        i = j;
    }
    size_t nk = c->npts > c->nmbs ? c->npts : c->nmbs;
    size_t ns = c->nmbs > c->nscopes ? c->nmbs : c->nscopes;
    c->order = malloc((nk + 1) * 2 * sizeof *c->order);
    c->first = malloc((ns + 2) * sizeof *c->first);
    if (!c->order || !c->first)
        return KVS_E_NOMEM;
    uint32_t *key = c->order + nk + 1;

    /* points grouped by metric, in arrival order */
    for (size_t i = 0; i < c->npts; i++)
        key[i] = c->pts[i].mb;
    group_by(key, c->npts, c->nmbs, c->order, c->first);
    for (size_t i = 0; i < c->nmbs; i++)
        if (build_metric(c, &c->mbs[i], c->order + c->first[i]))
            return KVS_E_NOMEM;

    /* metrics grouped by scope, in order of appearance */
    for (size_t i = 0; i < c->nmbs; i++)
        key[i] = (uint32_t)c->mbs[i].scope;
    group_by(key, c->nmbs, c->nscopes, c->order, c->first);

    kvs_metrics_req *req = kvs_arena_alloc(a, sizeof *req);
    if (!req)
        return KVS_E_NOMEM;
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    req->resource_metrics = kvs_arena_alloc(a, (c->nres ? c->nres : 1) * sizeof *req->resource_metrics);
    if (!req->resource_metrics)
        return KVS_E_NOMEM;
    for (size_t ri = 0; ri < c->nres; ri++) {
        struct res *R = &c->res[ri];
        if (!R->used)
            continue;
        /* job/instance name the service unless target_info did; for a live
         * scrape (identity_from_scrape) they always do */
        bool scrape = c->o.identity_from_scrape;
        if (R->job && kvs_promconv__put_attr(a, &R->attrs, &R->nattrs, "service.name", R->job, scrape))
            return KVS_E_NOMEM;
        if (R->instance && kvs_promconv__put_attr(a, &R->attrs, &R->nattrs, "service.instance.id", R->instance, scrape))
            return KVS_E_NOMEM;
        kvs_resource_metrics *rm = kvs_arena_alloc(a, sizeof *rm);
        kvs_resource *rs = kvs_arena_alloc(a, sizeof *rs);
        if (!rm || !rs)
            return KVS_E_NOMEM;
        opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
        opentelemetry__proto__resource__v1__resource__init(rs);
        rs->attributes = R->attrs;
        rs->n_attributes = R->nattrs;
        rm->resource = rs;
        size_t nsc = 0;
        for (size_t si = 0; si < c->nscopes; si++)
            nsc += c->scopes[si].res == ri;
        rm->scope_metrics = kvs_arena_alloc(a, (nsc ? nsc : 1) * sizeof *rm->scope_metrics);
        if (!rm->scope_metrics)
            return KVS_E_NOMEM;
        for (size_t si = 0; si < c->nscopes; si++) {
            struct scope *S = &c->scopes[si];
            size_t nm = c->first[si + 1] - c->first[si];
            if (S->res != ri || (!nm && !S->nattrs))
                continue;
            kvs_scope_metrics *sm = kvs_arena_alloc(a, sizeof *sm);
            kvs_scope *sc = kvs_arena_alloc(a, sizeof *sc);
            kvs_metric **ms = kvs_arena_alloc(a, (nm ? nm : 1) * sizeof *ms);
            if (!sm || !sc || !ms)
                return KVS_E_NOMEM;
            opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
            opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
            sc->name = (char *)S->name;
            sc->version = (char *)S->version;
            sc->attributes = S->attrs;
            sc->n_attributes = S->nattrs;
            sm->scope = sc;
            for (size_t k = 0; k < nm; k++)
                ms[k] = c->mbs[c->order[c->first[si] + k]].m;
            sm->metrics = ms;
            sm->n_metrics = nm;
            rm->scope_metrics[rm->n_scope_metrics++] = sm;
        }
        req->resource_metrics[req->n_resource_metrics++] = rm;
    }
    c->st.metrics = c->nmbs;
    *out = req;
    return 0;
}

