/* Shared machinery of the evidence receivers (see evrx.h): OTLP
 * building in a batch arena, delivery with backoff, and a rotation-safe
 * line tailer. */
#include "receivers/evrx.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- building ---- */

/* A zero-initialised protobuf-c message of descriptor d in the arena. */
static void *msg_new(kvs_evrx_out *o, const ProtobufCMessageDescriptor *d)
{
    void *p = kvs_arena_alloc(o->a, d->sizeof_message);
    if (p)
        protobuf_c_message_init(d, p);
    else
        o->oom = 1;
    return p;
}
#define NEW(o, T, init) ((T *)msg_new((o), &init##_descriptor))

static int grow(kvs_evrx_out *o, void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *g = kvs_arena_grow(o->a, *arr, *cap * elem, ncap * elem);
    if (!g) {
        o->oom = 1;
        return -1;
    }
    *arr = g;
    *cap = ncap;
    return 0;
}

int kvs_evrx_begin(kvs_evrx_out *o, kvs_signal sig, const char *scope_name, const char *const *res, size_t nres)
{
    memset(o, 0, sizeof *o);
    o->sig = sig;
    o->b = kvs_batch_new(sig);
    if (!o->b)
        return KVS_E_NOMEM;
    o->a = o->b->arena;
    kvs_resource *r = NEW(o, kvs_resource, opentelemetry__proto__resource__v1__resource_);
    kvs_scope *sc = NEW(o, kvs_scope, opentelemetry__proto__common__v1__instrumentation_scope_);
    if (o->oom)
        goto oom;
    sc->name = kvs_arena_strdup(o->a, scope_name);
    sc->version = (char *)KVS_VERSION;
    if (sig == KVS_SIG_LOGS) {
        kvs_resource_logs *rl = NEW(o, kvs_resource_logs, opentelemetry__proto__logs__v1__resource_logs_);
        kvs_scope_logs *sl = NEW(o, kvs_scope_logs, opentelemetry__proto__logs__v1__scope_logs_);
        kvs_resource_logs **arr = kvs_arena_alloc(o->a, sizeof *arr);
        kvs_scope_logs **sarr = kvs_arena_alloc(o->a, sizeof *sarr);
        if (o->oom || !arr || !sarr)
            goto oom;
        rl->resource = r;
        rl->n_scope_logs = 1;
        rl->scope_logs = sarr;
        sarr[0] = sl;
        sl->scope = sc;
        arr[0] = rl;
        o->b->logs->n_resource_logs = 1;
        o->b->logs->resource_logs = arr;
        o->scope = sl;
    } else {
        kvs_resource_metrics *rm = NEW(o, kvs_resource_metrics, opentelemetry__proto__metrics__v1__resource_metrics_);
        kvs_scope_metrics *sm = NEW(o, kvs_scope_metrics, opentelemetry__proto__metrics__v1__scope_metrics_);
        kvs_resource_metrics **arr = kvs_arena_alloc(o->a, sizeof *arr);
        kvs_scope_metrics **sarr = kvs_arena_alloc(o->a, sizeof *sarr);
        if (o->oom || !arr || !sarr)
            goto oom;
        rm->resource = r;
        rm->n_scope_metrics = 1;
        rm->scope_metrics = sarr;
        sarr[0] = sm;
        sm->scope = sc;
        arr[0] = rm;
        o->b->metrics->n_resource_metrics = 1;
        o->b->metrics->resource_metrics = arr;
        o->scope = sm;
    }
    o->attrs = &r->attributes;
    o->nattrs = &r->n_attributes;
    o->attr_cap = 0;
    for (size_t i = 0; i + 1 < nres * 2; i += 2)
        kvs_evrx_str(o, res[i], res[i + 1]);
    if (o->oom)
        goto oom;
    return 0;
oom:
    kvs_evrx_discard(o);
    return KVS_E_NOMEM;
}

void kvs_evrx_discard(kvs_evrx_out *o)
{
    if (o->b)
        kvs_batch_unref(o->b);
    memset(o, 0, sizeof *o);
}

size_t kvs_evrx_count(const kvs_evrx_out *o)
{
    if (!o->b)
        return 0;
    return kvs_count_items(o->sig, o->b->msg);
}

kvs_batch *kvs_evrx_finish(kvs_evrx_out *o)
{
    kvs_batch *b = o->b;
    if (!b)
        return NULL;
    kvs_batch_recount(b);
    if (o->oom || b->items == 0) {
        if (o->oom)
            KVS_WARN("evidence", "out of memory building a request: it is dropped");
        kvs_batch_unref(b);
        b = NULL;
    }
    memset(o, 0, sizeof *o);
    return b;
}

kvs_log_record *kvs_evrx_log(kvs_evrx_out *o, uint64_t time_ns, const char *event_name, int severity,
                           const char *severity_text, const char *body, size_t body_len)
{
    if (!o->b || o->sig != KVS_SIG_LOGS)
        return NULL;
    kvs_scope_logs *sl = o->scope;
    if (grow(o, (void **)&sl->log_records, sl->n_log_records, &o->cap, sizeof *sl->log_records) != 0)
        return NULL;
    kvs_log_record *r = NEW(o, kvs_log_record, opentelemetry__proto__logs__v1__log_record_);
    if (!r)
        return NULL;
    r->time_unix_nano = time_ns;
    r->observed_time_unix_nano = kvs_wall_ns();
    r->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)severity;
    if (severity_text)
        r->severity_text = kvs_arena_strdup(o->a, severity_text);
    if (event_name)
        r->event_name = kvs_arena_strdup(o->a, event_name);
    if (body) {
        kvs_any *v = NEW(o, kvs_any, opentelemetry__proto__common__v1__any_value_);
        if (v) {
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            v->string_value = kvs_arena_strndup(o->a, body, body_len);
            r->body = v;
        }
    }
    sl->log_records[sl->n_log_records++] = r;
    o->attrs = &r->attributes;
    o->nattrs = &r->n_attributes;
    o->attr_cap = 0;
    return r;
}

static kvs_metric *metric(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, int data_case)
{
    if (!o->b || o->sig != KVS_SIG_METRICS)
        return NULL;
    kvs_scope_metrics *sm = o->scope;
    for (size_t i = 0; i < sm->n_metrics; i++)
        if (strcmp(sm->metrics[i]->name, name) == 0)
            return (int)sm->metrics[i]->data_case == data_case ? sm->metrics[i] : NULL;
    if (grow(o, (void **)&sm->metrics, sm->n_metrics, &o->cap, sizeof *sm->metrics) != 0)
        return NULL;
    kvs_metric *m = NEW(o, kvs_metric, opentelemetry__proto__metrics__v1__metric_);
    if (!m)
        return NULL;
    m->name = kvs_arena_strdup(o->a, name);
    m->unit = kvs_arena_strdup(o->a, unit ? unit : "");
    m->description = kvs_arena_strdup(o->a, desc ? desc : "");
    m->data_case = (Opentelemetry__Proto__Metrics__V1__Metric__DataCase)data_case;
    if (data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE) {
        m->gauge = NEW(o, kvs_gauge, opentelemetry__proto__metrics__v1__gauge_);
    } else if (data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM) {
        m->sum = NEW(o, kvs_sum, opentelemetry__proto__metrics__v1__sum_);
        if (m->sum) {
            m->sum->aggregation_temporality =
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
            m->sum->is_monotonic = 1;
        }
    } else {
        m->summary = NEW(o, kvs_summary, opentelemetry__proto__metrics__v1__summary_);
    }
    if (o->oom)
        return NULL;
    sm->metrics[sm->n_metrics++] = m;
    o->metric = m;
    o->point_cap = 0;
    return m;
}

/* Points are appended to the metric's own array; the capacity is tracked
 * only for the metric last touched, so switching metrics re-derives it. */
static int point_slot(kvs_evrx_out *o, kvs_metric *m, void ***arr, size_t n)
{
    if (o->metric != m) {
        o->metric = m;
        o->point_cap = n;     /* exact: the next append grows */
    }
    return grow(o, (void **)arr, n, &o->point_cap, sizeof(void *));
}

static kvs_number_point *number_point(kvs_evrx_out *o, kvs_metric *m, void ***arr, size_t *n)
{
    if (!m || point_slot(o, m, arr, *n) != 0)
        return NULL;
    kvs_number_point *p = NEW(o, kvs_number_point, opentelemetry__proto__metrics__v1__number_data_point_);
    if (!p)
        return NULL;
    (*arr)[(*n)++] = p;
    o->attrs = &p->attributes;
    o->nattrs = &p->n_attributes;
    o->attr_cap = 0;
    return p;
}

void kvs_evrx_gauge(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, uint64_t time_ns, double v)
{
    kvs_metric *m = metric(o, name, unit, desc, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    kvs_number_point *p = m ? number_point(o, m, (void ***)&m->gauge->data_points, &m->gauge->n_data_points) : NULL;
    if (!p)
        return;
    p->time_unix_nano = time_ns;
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
}

void kvs_evrx_sum(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, uint64_t start_ns,
                uint64_t time_ns, double v)
{
    kvs_metric *m = metric(o, name, unit, desc, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    kvs_number_point *p = m ? number_point(o, m, (void ***)&m->sum->data_points, &m->sum->n_data_points) : NULL;
    if (!p)
        return;
    p->start_time_unix_nano = start_ns;
    p->time_unix_nano = time_ns;
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
}

void kvs_evrx_summary(kvs_evrx_out *o, const char *name, const char *unit, const char *desc, uint64_t start_ns,
                    uint64_t time_ns, uint64_t count, double sum, const double *q, const double *qv, size_t nq)
{
    kvs_metric *m = metric(o, name, unit, desc, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    if (!m || point_slot(o, m, (void ***)&m->summary->data_points, m->summary->n_data_points) != 0)
        return;
    kvs_summary_point *p = NEW(o, kvs_summary_point, opentelemetry__proto__metrics__v1__summary_data_point_);
    kvs_quantile **qs = nq ? kvs_arena_alloc(o->a, nq * sizeof *qs) : NULL;
    if (!p || (nq && !qs)) {
        o->oom = 1;
        return;
    }
    for (size_t i = 0; i < nq; i++) {
        qs[i] = NEW(o, kvs_quantile, opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile_);
        if (!qs[i])
            return;
        qs[i]->quantile = q[i];
        qs[i]->value = qv[i];
    }
    p->start_time_unix_nano = start_ns;
    p->time_unix_nano = time_ns;
    p->count = count;
    p->sum = sum;
    p->n_quantile_values = nq;
    p->quantile_values = qs;
    m->summary->data_points[m->summary->n_data_points++] = p;
    o->attrs = &p->attributes;
    o->nattrs = &p->n_attributes;
    o->attr_cap = 0;
}

static kvs_any *attr(kvs_evrx_out *o, const char *key)
{
    if (!o->b || !o->attrs)
        return NULL;
    if (o->attr_cap < *o->nattrs)
        o->attr_cap = *o->nattrs;
    if (grow(o, (void **)o->attrs, *o->nattrs, &o->attr_cap, sizeof **o->attrs) != 0)
        return NULL;
    kvs_kv *kv = NEW(o, kvs_kv, opentelemetry__proto__common__v1__key_value_);
    kvs_any *v = NEW(o, kvs_any, opentelemetry__proto__common__v1__any_value_);
    if (!kv || !v)
        return NULL;
    kv->key = kvs_arena_strdup(o->a, key);
    kv->value = v;
    (*o->attrs)[(*o->nattrs)++] = kv;
    return v;
}

void kvs_evrx_strn(kvs_evrx_out *o, const char *key, const char *s, size_t n)
{
    kvs_any *v = attr(o, key);
    if (!v)
        return;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    if (!(v->string_value = kvs_arena_strndup(o->a, s ? s : "", s ? n : 0)))
        o->oom = 1;
}

void kvs_evrx_str(kvs_evrx_out *o, const char *key, const char *s) { kvs_evrx_strn(o, key, s, s ? strlen(s) : 0); }

void kvs_evrx_int(kvs_evrx_out *o, const char *key, int64_t x)
{
    kvs_any *v = attr(o, key);
    if (v)
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE, v->int_value = x;
}

void kvs_evrx_dbl(kvs_evrx_out *o, const char *key, double x)
{
    kvs_any *v = attr(o, key);
    if (v)
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE, v->double_value = x;
}

void kvs_evrx_bool(kvs_evrx_out *o, const char *key, int x)
{
    kvs_any *v = attr(o, key);
    if (v)
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE, v->bool_value = !!x;
}

void kvs_evrx_strs(kvs_evrx_out *o, const char *key, const char *const *s, size_t n)
{
    kvs_any *v = attr(o, key);
    if (!v)
        return;
    kvs_array *arr = NEW(o, kvs_array, opentelemetry__proto__common__v1__array_value_);
    kvs_any **vals = n ? kvs_arena_alloc(o->a, n * sizeof *vals) : NULL;
    if (!arr || (n && !vals)) {
        o->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        vals[i] = NEW(o, kvs_any, opentelemetry__proto__common__v1__any_value_);
        if (!vals[i])
            return;
        vals[i]->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        vals[i]->string_value = kvs_arena_strdup(o->a, s[i] ? s[i] : "");
    }
    arr->n_values = n;
    arr->values = vals;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    v->array_value = arr;
}

static void num_map(kvs_evrx_out *o, const char *key, const char *const *keys, const int64_t *iv, const double *dv,
                    size_t n)
{
    kvs_any *v = attr(o, key);
    if (!v)
        return;
    kvs_kvlist *l = NEW(o, kvs_kvlist, opentelemetry__proto__common__v1__key_value_list_);
    kvs_kv **kvs = n ? kvs_arena_alloc(o->a, n * sizeof *kvs) : NULL;
    if (!l || (n && !kvs)) {
        o->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        kvs[i] = NEW(o, kvs_kv, opentelemetry__proto__common__v1__key_value_);
        kvs_any *x = NEW(o, kvs_any, opentelemetry__proto__common__v1__any_value_);
        if (!kvs[i] || !x)
            return;
        kvs[i]->key = kvs_arena_strdup(o->a, keys[i]);
        kvs[i]->value = x;
        if (iv)
            x->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE, x->int_value = iv[i];
        else
            x->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE, x->double_value = dv[i];
    }
    l->n_values = n;
    l->values = kvs;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    v->kvlist_value = l;
}

void kvs_evrx_int_map(kvs_evrx_out *o, const char *key, const char *const *keys, const int64_t *vals, size_t n)
{
    num_map(o, key, keys, vals, NULL, n);
}

void kvs_evrx_dbl_map(kvs_evrx_out *o, const char *key, const char *const *keys, const double *vals, size_t n)
{
    num_map(o, key, keys, NULL, vals, n);
}

/* ---- delivery ---- */

void kvs_evrx_sender_init(kvs_evrx_sender *s, const kvs_create_ctx *ctx)
{
    memset(s, 0, sizeof *s);
    s->id = ctx->id;
    s->host = ctx->host;
    s->tel = ctx->tel;
    memcpy(s->next, ctx->next, sizeof s->next);
}

int kvs_evrx_wired(const kvs_evrx_sender *s, kvs_signal sig) { return s->next[kvs_signal_index(sig)] != NULL; }

void kvs_evrx_send(kvs_evrx_sender *s, kvs_batch *b)
{
    if (!b)
        return;
    kvs_next *nx = s->next[kvs_signal_index(b->signal)];
    if (!nx) {
        kvs_tel_drop(s->tel, "signal_not_in_pipeline", b->items);
        if (!(s->warned & b->signal)) {
            s->warned |= b->signal;
            KVS_WARN(s->id, "produces %s but no %s pipeline uses this receiver: they are dropped",
                     kvs_signal_name(b->signal), kvs_signal_name(b->signal));
        }
        kvs_batch_unref(b);
        return;
    }
    uint64_t backoff = KVS_MS;
    for (;;) {
        kvs_error err = { 0 };
        int rc = kvs_next_consume(nx, b, &err);
        if (rc == 0) {
            kvs_tel_add(&s->tel->accepted, b->items);
            break;
        }
        if (rc != KVS_E_REFUSED) {
            kvs_tel_add(&s->tel->rejected, b->items);
            KVS_WARN(s->id, "pipeline rejected %zu %s: %s", b->items, kvs_signal_unit(b->signal), err.msg);
            break;
        }
        if (kvs_host_stopping(s->host)) {
            kvs_tel_add(&s->tel->refused, b->items);
            KVS_WARN(s->id, "shutting down while the pipeline refuses: %zu %s not delivered", b->items,
                     kvs_signal_unit(b->signal));
            break;
        }
        struct timespec ts = { 0, (long)backoff };
        nanosleep(&ts, NULL);
        if (backoff < 100 * KVS_MS)
            backoff *= 2;
    }
    kvs_batch_unref(b);
}

void kvs_evrx_flush(kvs_evrx_sender *s, kvs_evrx_out *o) { kvs_evrx_send(s, kvs_evrx_finish(o)); }

/* ---- misc ---- */

void kvs_evrx_sleep(kvs_host *host, uint64_t ns)
{
    uint64_t end = kvs_now_ns() + ns;
    while (!kvs_host_stopping(host)) {
        uint64_t now = kvs_now_ns();
        if (now >= end)
            return;
        uint64_t step = end - now < 50 * KVS_MS ? end - now : 50 * KVS_MS;
        struct timespec ts = { (time_t)(step / KVS_SEC), (long)(step % KVS_SEC) };
        nanosleep(&ts, NULL);
    }
}

static int excluded(const char *const *exclude, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(exclude[i], path, FNM_PATHNAME) == 0)
            return 1;
    return 0;
}

size_t kvs_evrx_glob(const char *const *include, size_t ninclude, const char *const *exclude, size_t nexclude,
                   char ***out)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < ninclude; i++)
        glob(include[i], i ? GLOB_APPEND : 0, NULL, &g);
    char **v = calloc(g.gl_pathc + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v && i < g.gl_pathc; i++) {
        struct stat st;
        const char *p = g.gl_pathv[i];
        if (excluded(exclude, nexclude, p) || stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        int dup = 0;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(v[j], p) == 0;
        if (!dup && (v[n] = strdup(p)))
            n++;
    }
    globfree(&g);
    *out = v;
    return n;
}

void kvs_evrx_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}
