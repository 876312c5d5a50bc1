/* Processor `batch`: groups requests into larger ones before they move on.
 * Sends when `send_batch_size` items are pending or the oldest pending item
 * waited `timeout`; with `send_batch_max_size` > 0 no sent request holds
 * more than that many items (requests are split at span / data point / log
 * record boundaries). Requests in wire form (core/batch.h) merge as their
 * concatenated bytes and are never decoded unless one alone exceeds
 * send_batch_max_size; decoded ones merge without copying: the merged
 * request points into the incoming ones and keeps them alive (parents). */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct batch_proc {
    const char *id;
    kvs_signal signal;
    kvs_next *next;
    kvs_telemetry *tel;
    uint64_t send_size, max_size, timeout_ns;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t timer;
    int timer_running, stop;
    kvs_batch **pending;
    size_t npending, cap;
    uint64_t pending_items;
    uint64_t oldest_ns;
    kvs_batch **stalled;           /* sent, refused downstream, to retry in order */
    size_t nstalled, stalled_cap;
    uint64_t retry_at, backoff_ns;
} batch_proc;

static const char *const keys[] = { "send_batch_size", "timeout", "send_batch_max_size", NULL };

static int batch_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    int64_t size, max;
    uint64_t timeout;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_i64(c, "send_batch_size", 8192, 0, INT32_MAX, &size, err) ||
        kvs_cfg_i64(c, "send_batch_max_size", 0, 0, INT32_MAX, &max, err) ||
        kvs_cfg_duration(c, "timeout", 200 * KVS_MS, &timeout, err))
        return KVS_E_INVALID;
    if (max > 0 && max < size)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "send_batch_max_size"),
                              "send_batch_max_size (%lld) must be 0 or >= send_batch_size (%lld)",
                              (long long)max, (long long)size);
    batch_proc *b = calloc(1, sizeof *b);
    if (!b)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    b->id = ctx->id;
    b->signal = (kvs_signal)ctx->signals;
    b->next = ctx->next[kvs_signal_index(b->signal)];
    b->tel = ctx->tel;
    b->send_size = (uint64_t)size;
    b->max_size = (uint64_t)max;
    b->timeout_ns = timeout;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    *state = b;
    return 0;
}

/* ---- merging and splitting ---- */

/* A cursor over the leaf items of a request, used to cut it into pieces of
 * at most `max` items. Each piece is a new request whose resource/scope
 * wrappers are shallow copies pointing at sub-ranges of the leaf arrays. */
typedef struct cut {
    size_t r, s, m, i;   /* resource, scope, metric (metrics only), item */
} cut;

static size_t metric_len(const kvs_metric *m, void ***pts)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        *pts = (void **)m->gauge->data_points;
        return m->gauge->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        *pts = (void **)m->sum->data_points;
        return m->sum->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        *pts = (void **)m->histogram->data_points;
        return m->histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        *pts = (void **)m->exponential_histogram->data_points;
        return m->exponential_histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        *pts = (void **)m->summary->data_points;
        return m->summary->n_data_points;
    default:
        *pts = NULL;
        return 0;
    }
}

/* A shallow copy of metric `m` limited to points [from, from+n). */
static kvs_metric *metric_slice(kvs_arena *a, const kvs_metric *m, size_t from, size_t n)
{
    kvs_metric *c = kvs_arena_alloc(a, sizeof *c);
    if (!c)
        return NULL;
    *c = *m;
    void *data;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        if (!(data = kvs_arena_alloc(a, sizeof *m->gauge)))
            return NULL;
        memcpy(data, m->gauge, sizeof *m->gauge);
        c->gauge = data, c->gauge->data_points += from, c->gauge->n_data_points = n;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (!(data = kvs_arena_alloc(a, sizeof *m->sum)))
            return NULL;
        memcpy(data, m->sum, sizeof *m->sum);
        c->sum = data, c->sum->data_points += from, c->sum->n_data_points = n;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (!(data = kvs_arena_alloc(a, sizeof *m->histogram)))
            return NULL;
        memcpy(data, m->histogram, sizeof *m->histogram);
        c->histogram = data, c->histogram->data_points += from, c->histogram->n_data_points = n;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        if (!(data = kvs_arena_alloc(a, sizeof *m->exponential_histogram)))
            return NULL;
        memcpy(data, m->exponential_histogram, sizeof *m->exponential_histogram);
        c->exponential_histogram = data;
        c->exponential_histogram->data_points += from, c->exponential_histogram->n_data_points = n;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        if (!(data = kvs_arena_alloc(a, sizeof *m->summary)))
            return NULL;
        memcpy(data, m->summary, sizeof *m->summary);
        c->summary = data, c->summary->data_points += from, c->summary->n_data_points = n;
        break;
    default:
        break;
    }
    return c;
}

/* Generic views of the three request shapes, so one splitter serves all. */
typedef struct shape {
    size_t nres;
    void **res;
} shape;

static size_t res_scopes(kvs_signal sig, void *res, void ***scopes)
{
    if (sig == KVS_SIG_TRACES) {
        kvs_resource_spans *r = res;
        *scopes = (void **)r->scope_spans;
        return r->n_scope_spans;
    }
    if (sig == KVS_SIG_METRICS) {
        kvs_resource_metrics *r = res;
        *scopes = (void **)r->scope_metrics;
        return r->n_scope_metrics;
    }
    kvs_resource_logs *r = res;
    *scopes = (void **)r->scope_logs;
    return r->n_scope_logs;
}

static size_t scope_leaves(kvs_signal sig, void *scope, void ***leaves)
{
    if (sig == KVS_SIG_TRACES) {
        kvs_scope_spans *s = scope;
        *leaves = (void **)s->spans;
        return s->n_spans;
    }
    if (sig == KVS_SIG_METRICS) {
        kvs_scope_metrics *s = scope;
        *leaves = (void **)s->metrics;
        return s->n_metrics;
    }
    kvs_scope_logs *s = scope;
    *leaves = (void **)s->log_records;
    return s->n_log_records;
}

/* Sizes of the wrapper structs per signal. */
static size_t res_size(kvs_signal s)
{
    return s == KVS_SIG_TRACES ? sizeof(kvs_resource_spans)
           : s == KVS_SIG_METRICS ? sizeof(kvs_resource_metrics) : sizeof(kvs_resource_logs);
}
static size_t scope_size(kvs_signal s)
{
    return s == KVS_SIG_TRACES ? sizeof(kvs_scope_spans)
           : s == KVS_SIG_METRICS ? sizeof(kvs_scope_metrics) : sizeof(kvs_scope_logs);
}

static void set_res_scopes(kvs_signal sig, void *res, void **scopes, size_t n)
{
    if (sig == KVS_SIG_TRACES)
        ((kvs_resource_spans *)res)->scope_spans = (kvs_scope_spans **)scopes, ((kvs_resource_spans *)res)->n_scope_spans = n;
    else if (sig == KVS_SIG_METRICS)
        ((kvs_resource_metrics *)res)->scope_metrics = (kvs_scope_metrics **)scopes, ((kvs_resource_metrics *)res)->n_scope_metrics = n;
    else
        ((kvs_resource_logs *)res)->scope_logs = (kvs_scope_logs **)scopes, ((kvs_resource_logs *)res)->n_scope_logs = n;
}

static void set_scope_leaves(kvs_signal sig, void *scope, void **leaves, size_t n)
{
    if (sig == KVS_SIG_TRACES)
        ((kvs_scope_spans *)scope)->spans = (kvs_span **)leaves, ((kvs_scope_spans *)scope)->n_spans = n;
    else if (sig == KVS_SIG_METRICS)
        ((kvs_scope_metrics *)scope)->metrics = (kvs_metric **)leaves, ((kvs_scope_metrics *)scope)->n_metrics = n;
    else
        ((kvs_scope_logs *)scope)->log_records = (kvs_log_record **)leaves, ((kvs_scope_logs *)scope)->n_log_records = n;
}

static void request_view(const kvs_batch *b, shape *v)
{
    if (b->signal == KVS_SIG_TRACES)
        v->res = (void **)b->traces->resource_spans, v->nres = b->traces->n_resource_spans;
    else if (b->signal == KVS_SIG_METRICS)
        v->res = (void **)b->metrics->resource_metrics, v->nres = b->metrics->n_resource_metrics;
    else
        v->res = (void **)b->logs->resource_logs, v->nres = b->logs->n_resource_logs;
}

/* Appends resource-level pointers to dst's top-level array (no copies). */
static int append_res(kvs_batch *dst, void **from, size_t add)
{
    shape v;
    request_view(dst, &v);
    if (!add)
        return 0;
    void **g = kvs_arena_grow(dst->arena, v.res, v.nres * sizeof *g, (v.nres + add) * sizeof *g);
    if (!g)
        return KVS_E_NOMEM;
    memcpy(g + v.nres, from, add * sizeof *g);
    if (dst->signal == KVS_SIG_TRACES)
        dst->traces->resource_spans = (kvs_resource_spans **)g, dst->traces->n_resource_spans = v.nres + add;
    else if (dst->signal == KVS_SIG_METRICS)
        dst->metrics->resource_metrics = (kvs_resource_metrics **)g, dst->metrics->n_resource_metrics = v.nres + add;
    else
        dst->logs->resource_logs = (kvs_resource_logs **)g, dst->logs->n_resource_logs = v.nres + add;
    return 0;
}

static int append_request(kvs_batch *dst, const kvs_batch *src)
{
    shape v;
    request_view(src, &v);
    return append_res(dst, v.res, v.nres);
}

/* Adds to `out` (an empty request) the next items of `src` from cursor `c`,
 * at most `max`. Returns the number of items taken, or -1 on OOM. */
static long take(kvs_batch *out, const kvs_batch *src, cut *c, size_t max)
{
    kvs_signal sig = out->signal;
    kvs_arena *a = out->arena;
    shape v;
    request_view(src, &v);
    size_t taken = 0;
    while (c->r < v.nres && taken < max) {
        void **scopes;
        size_t nscopes = res_scopes(sig, v.res[c->r], &scopes);
        void *res = kvs_arena_alloc(a, res_size(sig));
        void **nsc = kvs_arena_alloc(a, (nscopes ? nscopes : 1) * sizeof *nsc);
        if (!res || !nsc)
            return -1;
        memcpy(res, v.res[c->r], res_size(sig));
        size_t used = 0;
        while (c->s < nscopes && taken < max) {
            void **leaves;
            size_t nleaves = scope_leaves(sig, scopes[c->s], &leaves);
            void *sc = kvs_arena_alloc(a, scope_size(sig));
            if (!sc)
                return -1;
            memcpy(sc, scopes[c->s], scope_size(sig));
            if (sig != KVS_SIG_METRICS) {
                size_t n = nleaves - c->i;
                if (n > max - taken)
                    n = max - taken;
                set_scope_leaves(sig, sc, leaves + c->i, n);
                c->i += n;
                taken += n;
                if (c->i >= nleaves)
                    c->s++, c->i = 0;
            } else {
                void **ms = kvs_arena_alloc(a, (nleaves ? nleaves : 1) * sizeof *ms);
                size_t nm = 0;
                if (!ms)
                    return -1;
                while (c->m < nleaves && taken < max) {
                    kvs_metric *m = leaves[c->m];
                    void **pts;
                    size_t np = metric_len(m, &pts);
                    size_t n = np - c->i;
                    if (n > max - taken)
                        n = max - taken;
                    if (c->i == 0 && n == np)
                        ms[nm++] = m;
                    else if (!(ms[nm++] = metric_slice(a, m, c->i, n)))
                        return -1;
                    c->i += n;
                    taken += n;
                    if (c->i >= np)
                        c->m++, c->i = 0;
                }
                set_scope_leaves(sig, sc, ms, nm);
                if (c->m >= nleaves)
                    c->s++, c->m = 0, c->i = 0;
            }
            nsc[used++] = sc;
        }
        set_res_scopes(sig, res, nsc, used);
        if (c->s >= nscopes)
            c->r++, c->s = 0;
        if (append_res(out, &res, 1) != 0)
            return -1;
    }
    return (long)taken;
}

/* Holds a refused request for retry (takes the reference). */
static void stall(batch_proc *b, kvs_batch *out)
{
    pthread_mutex_lock(&b->lock);
    if (b->nstalled == b->stalled_cap) {
        size_t cap = b->stalled_cap ? b->stalled_cap * 2 : 4;
        kvs_batch **g = realloc(b->stalled, cap * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&b->lock);
            kvs_tel_drop(b->tel, "out_of_memory", out->items);
            kvs_batch_unref(out);
            return;
        }
        b->stalled = g;
        b->stalled_cap = cap;
    }
    if (b->nstalled == 0) {
        b->backoff_ns = 5 * KVS_MS;
        b->retry_at = kvs_now_ns() + b->backoff_ns;
        KVS_WARN(b->id, "the next stage refuses: holding %zu %s and refusing new input until it accepts",
                 out->items, kvs_signal_unit(b->signal));
    }
    b->stalled[b->nstalled++] = out;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static void send_one(batch_proc *b, kvs_batch *out)
{
    kvs_batch_recount(out);
    if (out->items == 0) {
        kvs_batch_unref(out);
        return;
    }
    kvs_error err;
    int rc = kvs_next_consume(b->next, out, &err);
    if (rc == KVS_E_REFUSED) {
        stall(b, out);
        return;
    }
    if (rc != 0) {
        kvs_tel_drop(b->tel, "downstream_rejected", out->items);
        KVS_WARN(b->id, "dropped %zu %s rejected by the next stage: %s", out->items, kvs_signal_unit(b->signal),
                 err.msg);
    }
    kvs_batch_unref(out);
}

/* Retries held requests in order until one is refused again (timer thread
 * and shutdown only). Returns 1 when none is left. */
static int retry_stalled(batch_proc *b)
{
    for (;;) {
        pthread_mutex_lock(&b->lock);
        if (b->nstalled == 0) {
            pthread_mutex_unlock(&b->lock);
            return 1;
        }
        kvs_batch *first = b->stalled[0];
        pthread_mutex_unlock(&b->lock);
        kvs_error err;
        int rc = kvs_next_consume(b->next, first, &err);
        pthread_mutex_lock(&b->lock);
        if (rc == KVS_E_REFUSED) {
            if (b->backoff_ns < 500 * KVS_MS)
                b->backoff_ns *= 2;
            b->retry_at = kvs_now_ns() + b->backoff_ns;
            pthread_mutex_unlock(&b->lock);
            return 0;
        }
        memmove(b->stalled, b->stalled + 1, (b->nstalled - 1) * sizeof *b->stalled);
        b->nstalled--;
        pthread_mutex_unlock(&b->lock);
        if (rc != 0)
            kvs_tel_drop(b->tel, "downstream_rejected", first->items);
        kvs_batch_unref(first);
    }
}

/* Sends batches in wire form as one request: their bytes concatenated. An
 * Export request is one repeated field, so the concatenation of requests
 * is the request holding all their resources. */
static void send_wire(batch_proc *b, kvs_batch **in, size_t n)
{
    if (n == 1) {
        send_one(b, kvs_batch_ref(in[0]));
        return;
    }
    size_t len = 0, items = 0;
    for (size_t i = 0; i < n; i++)
        len += in[i]->wire_len, items += in[i]->items;
    uint8_t *w = malloc(len ? len : 1);
    kvs_batch *out = w ? kvs_batch_adopt_wire(b->signal, w, len, items) : NULL;
    if (!out) {
        free(w);
        kvs_tel_drop(b->tel, "out_of_memory", items);
        return;
    }
    for (size_t i = 0; i < n; w += in[i]->wire_len, i++)
        memcpy(w, in[i]->wire, in[i]->wire_len);
    send_one(b, out);
}

/* Sends decoded batches as merged requests (respecting max_size); the ones
 * still in wire form are decoded first; one that does not decode is
 * counted as dropped and moved behind the others (send_all releases all). */
static void send_decoded(batch_proc *b, kvs_batch **in, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        kvs_error err;
        if (kvs_batch_decode(in[i], &err) == 0) {
            kvs_batch *t = in[k];
            in[k++] = in[i];
            in[i] = t;
            continue;
        }
        kvs_tel_drop(b->tel, "undecodable", in[i]->items);
        KVS_WARN(b->id, "dropped %zu %s: %s", in[i]->items, kvs_signal_unit(b->signal), err.msg);
    }
    n = k; /* the decoded ones first, in order; the rest stay for send_all to release */
    if (n == 0)
        return;
    if (!b->max_size) {
        kvs_batch *out = n == 1 ? kvs_batch_ref(in[0]) : kvs_batch_new(b->signal);
        int good = out != NULL;
        for (size_t i = 0; good && n > 1 && i < n; i++)
            good = append_request(out, in[i]) == 0 && kvs_batch_add_parent(out, in[i]) == 0;
        if (!good) {
            uint64_t items = 0;
            for (size_t i = 0; i < n; i++)
                items += in[i]->items;
            kvs_tel_drop(b->tel, "out_of_memory", items);
            kvs_batch_unref(out);
        } else {
            send_one(b, out);
        }
        return;
    }
    kvs_batch *out = NULL;
    size_t room = 0;
    for (size_t i = 0; i < n; i++) {
        cut c = { 0 };
        for (;;) {
            if (!out) {
                out = kvs_batch_new(b->signal);
                room = b->max_size;
                if (!out)
                    break;
            }
            long t = take(out, in[i], &c, room);
            if (t < 0 || kvs_batch_add_parent(out, in[i]) != 0) {
                kvs_tel_drop(b->tel, "out_of_memory", in[i]->items);
                break;
            }
            room -= (size_t)t;
            if (room == 0) {
                send_one(b, out);
                out = NULL;
            } else {
                break; /* this input is exhausted */
            }
        }
    }
    if (out)
        send_one(b, out);
}

/* Whether a batch joins others by its bytes: in wire form and, under
 * send_batch_max_size, small enough not to need splitting. */
static int by_wire(const batch_proc *b, const kvs_batch *x)
{
    return x->wire && (!b->max_size || x->items <= b->max_size);
}

/* Sends the given batches as merged requests, in order: runs of batches in
 * wire form as concatenated bytes (each run within max_size), the others
 * merged and split as messages. Takes ownership of the references in `in`. */
static void send_all(batch_proc *b, kvs_batch **in, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        if (by_wire(b, in[i])) {
            uint64_t items = 0;
            while (j < n && by_wire(b, in[j]) && (!b->max_size || items + in[j]->items <= b->max_size))
                items += in[j++]->items;
            send_wire(b, in + i, j - i);
        } else {
            while (j < n && !by_wire(b, in[j]))
                j++;
            send_decoded(b, in + i, j - i);
        }
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        kvs_batch_unref(in[i]);
}

/* Takes everything pending (lock held); returns the array to send. */
static kvs_batch **grab(batch_proc *b, size_t *n)
{
    kvs_batch **out = b->pending;
    *n = b->npending;
    b->pending = NULL;
    b->npending = b->cap = 0;
    b->pending_items = 0;
    return out;
}

static void *timer_main(void *arg)
{
    batch_proc *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        uint64_t now = kvs_now_ns();
        if (b->nstalled && now >= b->retry_at) {
            pthread_mutex_unlock(&b->lock);
            retry_stalled(b);
            pthread_mutex_lock(&b->lock);
            continue;
        }
        uint64_t due = b->npending ? b->oldest_ns + b->timeout_ns : UINT64_MAX;
        if (b->nstalled && b->retry_at < due)
            due = b->retry_at;
        if (due == UINT64_MAX) {
            pthread_cond_wait(&b->cond, &b->lock);
            continue;
        }
        if (now < due) {
            struct timespec ts = kvs_timespec(due);
            pthread_cond_timedwait(&b->cond, &b->lock, &ts);
            continue;
        }
        if (!b->npending || now < b->oldest_ns + b->timeout_ns)
            continue;
        size_t n;
        kvs_batch **all = grab(b, &n);
        pthread_mutex_unlock(&b->lock);
        send_all(b, all, n);
        free(all);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static int batch_start(void *state, kvs_error *err)
{
    batch_proc *b = state;
    if (pthread_create(&b->timer, NULL, timer_main, b) != 0)
        return kvs_errorf(err, KVS_E_IO, "cannot start the batch timer thread");
    b->timer_running = 1;
    return 0;
}

static int batch_consume(void *state, kvs_batch *in, kvs_error *err)
{
    batch_proc *b = state;
    if (in->items == 0)
        return 0;
    pthread_mutex_lock(&b->lock);
    if (b->nstalled) {
        pthread_mutex_unlock(&b->lock);
        kvs_tel_add(&b->tel->refused, in->items);
        return kvs_errorf(err, KVS_E_REFUSED, "%s: the next stage refuses; retry later", b->id);
    }
    if (b->npending == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        kvs_batch **g = realloc(b->pending, cap * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&b->lock);
            return kvs_errorf(err, KVS_E_REFUSED, "out of memory");
        }
        b->pending = g;
        b->cap = cap;
    }
    if (b->npending == 0) {
        b->oldest_ns = kvs_now_ns();
        pthread_cond_signal(&b->cond);
    }
    b->pending[b->npending++] = kvs_batch_ref(in);
    b->pending_items += in->items;
    kvs_tel_add(&b->tel->accepted, in->items);
    if (b->pending_items < b->send_size || !b->send_size) {
        int immediate = b->send_size == 0 || b->timeout_ns == 0;
        if (!immediate) {
            pthread_mutex_unlock(&b->lock);
            return 0;
        }
    }
    size_t n;
    kvs_batch **all = grab(b, &n);
    pthread_mutex_unlock(&b->lock);
    send_all(b, all, n);
    free(all);
    return 0;
}

static void batch_shutdown(void *state, uint64_t deadline_ns)
{
    batch_proc *b = state;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_broadcast(&b->cond);
    size_t n;
    kvs_batch **all = grab(b, &n);
    pthread_mutex_unlock(&b->lock);
    if (b->timer_running) {
        pthread_join(b->timer, NULL);
        b->timer_running = 0;
    }
    send_all(b, all, n);
    free(all);
    /* Held requests get until the deadline, then are counted as lost. */
    while (!retry_stalled(b) && kvs_now_ns() < deadline_ns) {
        struct timespec ts = kvs_timespec(10 * KVS_MS);
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < b->nstalled; i++) {
        kvs_tel_drop(b->tel, "shutdown_timeout", b->stalled[i]->items);
        KVS_ERROR(b->id, "shutdown deadline: %zu %s still refused downstream are lost", b->stalled[i]->items,
                  kvs_signal_unit(b->signal));
        kvs_batch_unref(b->stalled[i]);
    }
    b->nstalled = 0;
}

static void batch_destroy(void *state)
{
    batch_proc *b = state;
    for (size_t i = 0; i < b->nstalled; i++)
        kvs_batch_unref(b->stalled[i]);
    free(b->stalled);
    for (size_t i = 0; i < b->npending; i++)
        kvs_batch_unref(b->pending[i]);
    free(b->pending);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    free(b);
}

const kvs_component_def kvs_processor_batch = {
    .type = "batch",
    .kind = KVS_PROCESSOR,
    .signals = KVS_SIG_ALL,
    .wire = 1,
    .create = batch_create,
    .start = batch_start,
    .consume = batch_consume,
    .shutdown = batch_shutdown,
    .destroy = batch_destroy,
};
