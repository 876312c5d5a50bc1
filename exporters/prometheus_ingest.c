/* OTLP metrics into the kvs_promx store (exporters/prometheus_text.h):
 * each data point's label set (resource, point, job/instance, scope and
 * constant labels, the later source winning a name), its series, its
 * value (latest point; deltas added up while contiguous), and one
 * target_info series per resource. */
#include "exporters/prometheus_text_int.h"

#include "core/batch.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_RECORDED_VALUE 1u   /* DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK */
#define SWEEP_EVERY_NS KVS_SEC

/* -- labels -- */

static int push_lab(kvs_promx_lab **v, size_t *n, size_t *cap, kvs_promx_lab l)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        kvs_promx_lab *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = l;
    return 0;
}

/* A label kvscope adds itself: its key is its name. */
static kvs_promx_lab own_lab(const char *name, const char *value, int prio)
{
    return (kvs_promx_lab){ name, name, value, prio };
}

/* Adds attributes as candidates, their names sanitized and values as
 * strings, allocated in `a`. Empty names are skipped. */
static int add_attr_labs(kvs_promx_store *s, kvs_arena *a, kvs_promx_lab **v, size_t *n, size_t *cap,
                         kvs_kv *const *kv, size_t nkv, int prio, bool skip_service)
{
    for (size_t i = 0; i < nkv; i++) {
        const char *k = kv[i]->key;
        if (!k || !*k)
            continue;
        if (skip_service && (strcmp(k, "service.name") == 0 || strcmp(k, "service.namespace") == 0 ||
                             strcmp(k, "service.instance.id") == 0))
            continue;
        s->tmp.len = 0;
        kvs_promx_label_name(k, &s->tmp);
        char *name = kvs_arena_strndup(a, s->tmp.data ? s->tmp.data : "", s->tmp.len);
        s->tmp.len = 0;
        kvs_promx_any_string(&s->tmp, kv[i]->value);
        char *val = kvs_arena_strndup(a, s->tmp.data ? s->tmp.data : "", s->tmp.len);
        if (!name || !val || s->tmp.oom || push_lab(v, n, cap, (kvs_promx_lab){ name, k, val, prio }))
            return -1;
    }
    return 0;
}

static int cmp_lab(const void *x, const void *y)
{
    const kvs_promx_lab *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    if (a->prio != b->prio)
        return a->prio < b->prio ? -1 : 1;
    return strcmp(a->key, b->key);
}

/* Sorts the candidates and writes `a="x",b="y"` into s->text (NUL
 * terminated): per name, the highest-priority source wins; several keys of
 * that source sharing the name have their values joined with `;`. */
static int render_labels(kvs_promx_store *s, kvs_promx_lab *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_lab);
    s->text.len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(v[j].name, v[i].name) == 0)
            j++;
        int top = v[j - 1].prio;
        size_t first = i;
        while (v[first].prio != top)
            first++;
        if (s->text.len)
            kvs_buf_putc(&s->text, ',');
        kvs_buf_puts(&s->text, v[i].name);
        kvs_buf_puts(&s->text, "=\"");
        for (size_t k = first; k < j; k++) {
            if (k > first)
                kvs_buf_putc(&s->text, ';');
            kvs_promx_escape_label_value(&s->text, v[k].value);
        }
        kvs_buf_putc(&s->text, '"');
        i = j;
    }
    kvs_buf_putc(&s->text, 0);
    return s->text.oom ? -1 : 0;
}

static const char *attr_str(kvs_kv *const *kv, size_t n, const char *key, kvs_arena *a, kvs_buf *tmp)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0) {
            tmp->len = 0;
            kvs_promx_any_string(tmp, kv[i]->value);
            return kvs_arena_strndup(a, tmp->data ? tmp->data : "", tmp->len);
        }
    return NULL;
}

/* -- points -- */

static bool contiguous(const kvs_promx_series *sr, uint64_t start) { return start == 0 || start == sr->time_ns; }

static void set_number(kvs_promx_series *sr, const kvs_number_point *p, bool delta, bool created, uint64_t t)
{
    bool is_int = p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    if (delta && !created && contiguous(sr, p->start_time_unix_nano)) {
        if (sr->is_int && is_int) {
            sr->i += p->as_int;
        } else {
            double cur = sr->is_int ? (double)sr->i : sr->d;
            sr->d = cur + (is_int ? (double)p->as_int : p->as_double);
            sr->is_int = false;
        }
    } else {
        sr->is_int = is_int;
        sr->i = is_int ? p->as_int : 0;
        sr->d = is_int ? 0 : p->as_double;
        sr->start_ns = p->start_time_unix_nano;
    }
    sr->time_ns = t;
}

static int set_histogram(kvs_promx_series *sr, const kvs_histogram_point *p, bool delta, bool created, uint64_t t)
{
    size_t nb = p->n_bucket_counts ? p->n_explicit_bounds : 0;
    bool same = sr->counts && sr->nb == nb &&
                (nb == 0 || memcmp(sr->bounds, p->explicit_bounds, nb * sizeof *sr->bounds) == 0);
    if (delta && !created && same && contiguous(sr, p->start_time_unix_nano)) {
        for (size_t i = 0; i <= nb && p->n_bucket_counts; i++)
            sr->counts[i] += p->bucket_counts[i];
        sr->count += p->count;
        sr->sum += p->_sum_case ? p->sum : 0;
    } else {
        double *b = nb ? malloc(nb * sizeof *b) : NULL;
        uint64_t *c = malloc((nb + 1) * sizeof *c);
        if ((nb && !b) || !c) {
            free(b);
            free(c);
            return -1;
        }
        if (nb)
            memcpy(b, p->explicit_bounds, nb * sizeof *b);
        if (p->n_bucket_counts)
            memcpy(c, p->bucket_counts, (nb + 1) * sizeof *c);
        else
            c[0] = p->count;
        free(sr->bounds);
        free(sr->counts);
        sr->bounds = b;
        sr->counts = c;
        sr->nb = nb;
        sr->count = p->count;
        sr->sum = p->_sum_case ? p->sum : 0;
        sr->start_ns = p->start_time_unix_nano;
    }
    sr->time_ns = t;
    return 0;
}

static int set_summary(kvs_promx_series *sr, const kvs_summary_point *p, uint64_t t)
{
    size_t n = p->n_quantile_values;
    double *q = n ? malloc(n * sizeof *q) : NULL, *v = n ? malloc(n * sizeof *v) : NULL;
    if (n && (!q || !v)) {
        free(q);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        q[i] = p->quantile_values[i]->quantile;
        v[i] = p->quantile_values[i]->value;
    }
    free(sr->bounds);
    free(sr->qvals);
    sr->bounds = q;
    sr->qvals = v;
    sr->nb = n;
    sr->count = p->count;
    sr->sum = p->sum;
    sr->start_ns = p->start_time_unix_nano;
    sr->time_ns = t;
    return 0;
}

/* Histogram bucket counts must fit the bounds and add up to the count. */
static bool histogram_ok(const kvs_histogram_point *p)
{
    if (!p->n_bucket_counts)
        return true;
    if (p->n_bucket_counts != p->n_explicit_bounds + 1)
        return false;
    uint64_t total = 0;
    for (size_t i = 0; i < p->n_bucket_counts; i++)
        total += p->bucket_counts[i];
    for (size_t i = 1; i < p->n_explicit_bounds; i++)
        if (!(p->explicit_bounds[i] > p->explicit_bounds[i - 1]))
            return false;
    return total == p->count;
}

typedef struct metric_ctx {
    kvs_promx_family *fam;
    kvs_promx_type type;
    bool delta;
    int data_case;
} metric_ctx;

/* One data point: its labels, its series, its value. */
static void add_point(kvs_promx_store *s, const metric_ctx *mc, kvs_kv *const *attrs, size_t nattrs, uint32_t flags,
                      uint64_t time, const void *pt, uint64_t now, kvs_promx_stats *st)
{
    kvs_arena_reset(s->pt_a);
    size_t n = 0;
    for (size_t i = 0; i < s->nrlabs; i++)
        if (push_lab(&s->labs, &n, &s->labs_cap, s->rlabs[i]))
            goto nomem;
    if (add_attr_labs(s, s->pt_a, &s->labs, &n, &s->labs_cap, attrs, nattrs, KVS_PROMX_P_POINT, false))
        goto nomem;
    if (render_labels(s, s->labs, n))
        goto nomem;
    if (flags & NO_RECORDED_VALUE) {
        kvs_promx_series **at;
        uint64_t h = kvs_promx_series_hash(mc->fam, s->text.data);
        if (kvs_promx_series_find(s, mc->fam, s->text.data, h, &at))
            kvs_promx_series_remove(s, at);
        st->stale++;
        return;
    }
    bool created;
    kvs_promx_series *sr = kvs_promx_series_get(s, mc->fam, s->text.data, &created);
    if (!sr)
        goto nomem;
    if (!time)
        time = kvs_wall_ns();
    if (!created && time < sr->time_ns) {
        st->out_of_order++;
        return;
    }
    int r = 0;
    switch (mc->type) {
    case KVS_PROMX_GAUGE: case KVS_PROMX_COUNTER: set_number(sr, pt, mc->delta, created, time); break;
    case KVS_PROMX_HISTOGRAM: r = set_histogram(sr, pt, mc->delta, created, time); break;
    case KVS_PROMX_SUMMARY: r = set_summary(sr, pt, time); break;
    }
    if (r) {
        if (created) {
            kvs_promx_series **at;
            if (kvs_promx_series_find(s, mc->fam, sr->labels, sr->hash, &at))
                kvs_promx_series_remove(s, at);
        }
        goto nomem;
    }
    sr->updated_ns = now;
    st->stored++;
    return;
nomem:
    st->invalid++;
}

static void add_metric(kvs_promx_store *s, const kvs_metric *m, uint64_t now, kvs_promx_stats *st)
{
    metric_ctx mc = { .data_case = m->data_case };
    size_t npts = kvs_metric_points(m);
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        mc.type = KVS_PROMX_GAUGE;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        mc.type = m->sum->is_monotonic ? KVS_PROMX_COUNTER : KVS_PROMX_GAUGE;
        mc.delta = m->sum->aggregation_temporality ==
                   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        mc.type = KVS_PROMX_HISTOGRAM;
        mc.delta = m->histogram->aggregation_temporality ==
                   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        mc.type = KVS_PROMX_SUMMARY;
        break;
    default:
        st->unsupported += npts ? npts : 1;
        return;
    }
    s->name.len = 0;
    kvs_promx_metric_name(m->name, m->unit, mc.type, s->ns, s->suffixes, &s->name);
    kvs_buf_putc(&s->name, 0);
    if (s->name.oom || !s->name.data[0]) {
        st->invalid += npts;
        return;
    }
    bool conflict;
    mc.fam = kvs_promx_family_get(s, s->name.data, m->description, mc.type, &conflict);
    if (!mc.fam) {
        if (conflict)
            st->type_conflict += npts;
        else
            st->invalid += npts;
        return;
    }
    mc.fam->nseries++;   /* hold the family while its points are added */
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: {
        bool gauge = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        size_t n = gauge ? m->gauge->n_data_points : m->sum->n_data_points;
        kvs_number_point *const *pts = gauge ? m->gauge->data_points : m->sum->data_points;
        for (size_t i = 0; i < n; i++) {
            const kvs_number_point *p = pts[i];
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        for (size_t i = 0; i < m->histogram->n_data_points; i++) {
            const kvs_histogram_point *p = m->histogram->data_points[i];
            if (!(p->flags & NO_RECORDED_VALUE) && !histogram_ok(p)) {
                st->invalid++;
                continue;
            }
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        for (size_t i = 0; i < m->summary->n_data_points; i++) {
            const kvs_summary_point *p = m->summary->data_points[i];
            add_point(s, &mc, p->attributes, p->n_attributes, p->flags, p->time_unix_nano, p, now, st);
        }
        break;
    default:
        break;
    }
    kvs_promx_family_release(s, mc.fam);
}

/* target_info for one resource: its attributes but the service identity,
 * with job, instance and the constant labels. */
static void add_target_info(kvs_promx_store *s, const kvs_resource *r, const char *job, const char *inst,
                            uint64_t now, kvs_promx_stats *st)
{
    kvs_arena_reset(s->pt_a);
    size_t n = 0;
    if (add_attr_labs(s, s->pt_a, &s->labs, &n, &s->labs_cap, r->attributes, r->n_attributes, KVS_PROMX_P_RESOURCE,
                      true))
        return;
    if (n == 0)
        return;   /* nothing beyond job and instance */
    if ((job && push_lab(&s->labs, &n, &s->labs_cap, own_lab("job", job, KVS_PROMX_P_JOBINST))) ||
        (inst && push_lab(&s->labs, &n, &s->labs_cap, own_lab("instance", inst, KVS_PROMX_P_JOBINST))))
        return;
    for (size_t i = 0; i < s->nconsts; i++)
        if (push_lab(&s->labs, &n, &s->labs_cap, s->consts[i]))
            return;
    if (render_labels(s, s->labs, n))
        return;
    bool conflict, created;
    kvs_promx_family *f = kvs_promx_family_get(s, "target_info", "Target metadata", KVS_PROMX_GAUGE, &conflict);
    if (!f) {
        st->type_conflict += conflict;
        return;
    }
    f->nseries++;
    kvs_promx_series *sr = kvs_promx_series_get(s, f, s->text.data, &created);
    if (sr) {
        sr->is_int = true;
        sr->i = 1;
        sr->time_ns = kvs_wall_ns();
        sr->updated_ns = now;
    }
    kvs_promx_family_release(s, f);
}

void kvs_promx_add(kvs_promx_store *s, const kvs_metrics_req *req, uint64_t now, kvs_promx_stats *st)
{
    kvs_promx_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&s->lock);
    if (s->expiration_ns && now - s->last_sweep >= SWEEP_EVERY_NS)
        kvs_promx_sweep(s, now);
    for (size_t ri = 0; ri < req->n_resource_metrics; ri++) {
        const kvs_resource_metrics *rm = req->resource_metrics[ri];
        const kvs_resource *res = rm->resource;
        kvs_kv *const *rattrs = res ? res->attributes : NULL;
        size_t nr = res ? res->n_attributes : 0;
        kvs_arena_reset(s->res_a);
        const char *svc = attr_str(rattrs, nr, "service.name", s->res_a, &s->tmp);
        const char *svns = attr_str(rattrs, nr, "service.namespace", s->res_a, &s->tmp);
        const char *inst = attr_str(rattrs, nr, "service.instance.id", s->res_a, &s->tmp);
        const char *job = svc;
        if (svc && svns) {
            size_t l = strlen(svns) + 1 + strlen(svc) + 1;
            char *j = kvs_arena_alloc(s->res_a, l);
            if (j)
                snprintf(j, l, "%s/%s", svns, svc);
            job = j;
        }
        if (res && (job || inst))
            add_target_info(s, res, job, inst, now, st);
        for (size_t si = 0; si < rm->n_scope_metrics; si++) {
            const kvs_scope_metrics *sm = rm->scope_metrics[si];
            /* resource-level candidates: resource attributes, job/instance,
             * scope, constant labels */
            s->nrlabs = 0;
            if (s->r2t && add_attr_labs(s, s->res_a, &s->rlabs, &s->nrlabs, &s->rlabs_cap, rattrs, nr,
                                        KVS_PROMX_P_RESOURCE, false))
                continue;
            if (job)
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap, own_lab("job", job, KVS_PROMX_P_JOBINST));
            if (inst)
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap, own_lab("instance", inst, KVS_PROMX_P_JOBINST));
            if (sm->scope && sm->scope->name && *sm->scope->name) {
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap,
                         own_lab("otel_scope_name", sm->scope->name, KVS_PROMX_P_SCOPE));
                if (sm->scope->version && *sm->scope->version)
                    push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap,
                             own_lab("otel_scope_version", sm->scope->version, KVS_PROMX_P_SCOPE));
            }
            for (size_t i = 0; i < s->nconsts; i++)
                push_lab(&s->rlabs, &s->nrlabs, &s->rlabs_cap, s->consts[i]);
            for (size_t mi = 0; mi < sm->n_metrics; mi++)
                add_metric(s, sm->metrics[mi], now, st);
        }
    }
    pthread_mutex_unlock(&s->lock);
}
