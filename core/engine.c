/* The engine (see engine.h): graph construction, topological order,
 * lifecycle, the host API components call, and the self-metrics endpoint
 * (started before the components, stopped after them). */
#include "core/engine.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/selfmetrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct instance instance;

struct kvs_next {
    size_t n;
    instance **to;
    /* Items sent through this hop by outcome, so a receiver wired for
     * several signals has per-signal counts in self-metrics. */
    atomic_uint_fast64_t ok, refused, invalid;
};

struct kvs_host {
    int replay;
    const char *const *files;
    size_t nfiles;
    atomic_int pending;           /* replaying receivers not done yet */
    atomic_int joined;
    atomic_int stopping;
    atomic_int state;             /* kvs_host_state */
    const struct kvs_engine *engine;
    atomic_uint_fast64_t bytes;
    atomic_uint_fast64_t files_done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

struct instance {
    const kvs_comp_cfg *cc;
    const kvs_component_def *def;
    const kvs_pipeline_cfg *pipe; /* processors: the pipeline it serves */
    char *id;                     /* processors: "batch in traces/x" */
    void *state;
    kvs_telemetry tel;
    kvs_create_ctx ctx;
    kvs_next next[KVS_NSIG];
    int created, started;
    int order;                    /* topological position */
};

struct kvs_engine {
    const kvs_service_cfg *cfg;
    struct kvs_host host;
    size_t n;
    instance **inst;              /* topological order: receivers .. exporters */
    const kvs_telemetry **tels;
    int started;
    kvs_selfmetrics *selfmetrics; /* NULL when not served */
};

int kvs_next_consume(kvs_next *next, kvs_batch *b, kvs_error *err)
{
    int rc = 0;
    size_t items = b->items;   /* a consumer may change the batch */
    for (size_t i = 0; i < next->n; i++) {
        instance *t = next->to[i];
        kvs_error e;
        int r = !t->def->wire && !kvs_batch_decoded(b) ? kvs_batch_decode(b, &e) : 0;
        if (r == KVS_E_NOMEM)
            r = KVS_E_INVALID; /* the same bytes would exceed the budget again */
        if (r == 0)
            r = t->def->consume(t->state, b, &e);
        if (r != 0) {
            /* Keep the most serious: permanent beats retryable. */
            if (rc == 0 || r == KVS_E_INVALID) {
                rc = r;
                if (err) {
                    *err = e;
                    kvs_error_prefix(err, "%s", t->id);
                }
            }
        }
    }
    kvs_tel_add(rc == 0 ? &next->ok : rc == KVS_E_INVALID ? &next->invalid : &next->refused, items);
    return rc;
}

int kvs_host_replay(const kvs_host *h) { return h->replay; }

const char *const *kvs_host_replay_files(const kvs_host *h, size_t *n)
{
    *n = h->nfiles;
    return h->files;
}

void kvs_host_replay_join(kvs_host *h)
{
    atomic_fetch_add(&h->joined, 1);
    atomic_fetch_add(&h->pending, 1);
}

void kvs_host_receiver_done(kvs_host *h)
{
    pthread_mutex_lock(&h->lock);
    atomic_fetch_sub(&h->pending, 1);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

void kvs_host_progress(kvs_host *h, uint64_t bytes, int file_done)
{
    atomic_fetch_add_explicit(&h->bytes, bytes, memory_order_relaxed);
    if (file_done)
        atomic_fetch_add_explicit(&h->files_done, 1, memory_order_relaxed);
}

int kvs_host_stopping(const kvs_host *h) { return atomic_load(&h->stopping); }

kvs_host_state kvs_host_get_state(const kvs_host *h) { return (kvs_host_state)atomic_load(&h->state); }

size_t kvs_host_telemetry(const kvs_host *h, const kvs_telemetry *const **out)
{
    return kvs_engine_telemetry(h->engine, out);
}

/* ---- graph construction ---- */

static instance *find_inst(kvs_engine *e, const kvs_comp_cfg *cc, const kvs_pipeline_cfg *p)
{
    for (size_t i = 0; i < e->n; i++) {
        instance *in = e->inst[i];
        if (in->cc != cc)
            continue;
        if (cc->kind != KVS_PROCESSOR || in->pipe == p)
            return in;
    }
    return NULL;
}

static instance *add_inst(kvs_engine *e, const kvs_comp_cfg *cc, const kvs_pipeline_cfg *p)
{
    instance *in = calloc(1, sizeof *in);
    instance **grown = realloc(e->inst, (e->n + 1) * sizeof *grown);
    if (!in || !grown) {
        free(in);
        if (grown)
            e->inst = grown;
        return NULL;
    }
    e->inst = grown;
    in->cc = cc;
    in->def = cc->def;
    if (cc->kind == KVS_PROCESSOR) {
        in->pipe = p;
        size_t len = strlen(cc->id) + strlen(p->id) + 5;
        in->id = malloc(len);
        if (in->id)
            snprintf(in->id, len, "%s in %s", cc->id, p->id);
        in->ctx.signals = p->signal;
    } else {
        in->id = strdup(cc->id);
    }
    if (!in->id) {
        free(in);
        return NULL;
    }
    kvs_telemetry_init(&in->tel, in->id, kvs_kind_name(cc->kind));
    e->inst[e->n++] = in;
    return in;
}

static int next_add(kvs_next *nx, instance *to)
{
    for (size_t i = 0; i < nx->n; i++)
        if (nx->to[i] == to)
            return 0;
    instance **g = realloc(nx->to, (nx->n + 1) * sizeof *g);
    if (!g)
        return KVS_E_NOMEM;
    g[nx->n++] = to;
    nx->to = g;
    return 0;
}

/* Wires `from`'s output for the pipeline's signal to the pipeline's first hop. */
static int wire_into(kvs_engine *e, instance *from, const kvs_pipeline_cfg *p)
{
    kvs_next *nx = &from->next[kvs_signal_index(p->signal)];
    if (p->nproc)
        return next_add(nx, find_inst(e, p->proc[0], p));
    for (size_t k = 0; k < p->nexp; k++)
        if (next_add(nx, find_inst(e, p->exp[k], p)) != 0)
            return KVS_E_NOMEM;
    return 0;
}

static int build(kvs_engine *e, kvs_error *err)
{
    const kvs_service_cfg *c = e->cfg;
    /* Instances. */
    for (size_t i = 0; i < c->npipes; i++) {
        const kvs_pipeline_cfg *p = &c->pipes[i];
        const kvs_comp_cfg **lists[3] = { (const kvs_comp_cfg **)p->recv, (const kvs_comp_cfg **)p->proc,
                                          (const kvs_comp_cfg **)p->exp };
        size_t counts[3] = { p->nrecv, p->nproc, p->nexp };
        for (int l = 0; l < 3; l++)
            for (size_t k = 0; k < counts[l]; k++) {
                instance *in = find_inst(e, lists[l][k], p);
                if (!in && !(in = add_inst(e, lists[l][k], p)))
                    return kvs_errorf(err, KVS_E_NOMEM, "out of memory building the pipeline graph");
                if (lists[l][k]->kind != KVS_PROCESSOR)
                    in->ctx.signals |= p->signal;
            }
    }
    /* Edges. */
    for (size_t i = 0; i < c->npipes; i++) {
        const kvs_pipeline_cfg *p = &c->pipes[i];
        for (size_t k = 0; k < p->nrecv; k++)
            if (wire_into(e, find_inst(e, p->recv[k], p), p) != 0)
                return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        for (size_t k = 0; k < p->nproc; k++) {
            instance *in = find_inst(e, p->proc[k], p);
            int rc;
            if (k + 1 < p->nproc)
                rc = next_add(&in->next[kvs_signal_index(p->signal)], find_inst(e, p->proc[k + 1], p));
            else {
                kvs_pipeline_cfg tail = *p;
                tail.nproc = 0;
                rc = wire_into(e, in, &tail);
            }
            if (rc != 0)
                return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        }
    }
    /* Extensions are instances with no edges. */
    for (size_t i = 0; i < c->nextensions; i++)
        if (!add_inst(e, c->extensions[i], NULL))
            return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    return 0;
}

/* Orders instances so that every instance comes before the ones it sends to
 * (the graph is acyclic: the config loader rejects connector cycles). */
static void topo_sort(kvs_engine *e)
{
    size_t n = e->n;
    int *indeg = calloc(n ? n : 1, sizeof *indeg);
    instance **out = calloc(n ? n : 1, sizeof *out);
    if (!indeg || !out) {
        free(indeg);
        free(out);
        return; /* keep construction order: receivers were added first */
    }
    for (size_t i = 0; i < n; i++)
        e->inst[i]->order = (int)i;
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < KVS_NSIG; s++)
            for (size_t k = 0; k < e->inst[i]->next[s].n; k++)
                indeg[e->inst[i]->next[s].to[k]->order]++;
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0 && e->inst[i]->cc->kind != KVS_EXTENSION)
            out[tail++] = e->inst[i];
    while (head < tail) {
        instance *in = out[head++];
        for (int s = 0; s < KVS_NSIG; s++)
            for (size_t k = 0; k < in->next[s].n; k++) {
                instance *t = in->next[s].to[k];
                if (--indeg[t->order] == 0)
                    out[tail++] = t;
            }
    }
    /* Extensions last in the list: started first, stopped last. */
    for (size_t i = 0; i < n; i++)
        if (e->inst[i]->cc->kind == KVS_EXTENSION)
            out[tail++] = e->inst[i];
    if (tail == n)
        memcpy(e->inst, out, n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        e->inst[i]->order = (int)i;
    free(indeg);
    free(out);
}

kvs_engine *kvs_engine_create(const kvs_service_cfg *cfg, const kvs_engine_opts *opts, kvs_error *err)
{
    kvs_engine *e = calloc(1, sizeof *e);
    if (!e) {
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->host.engine = e;
    e->host.replay = opts ? opts->replay : 0;
    e->host.files = opts ? opts->files : NULL;
    e->host.nfiles = opts ? opts->nfiles : 0;
    pthread_mutex_init(&e->host.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->host.cond, &ca);
    pthread_condattr_destroy(&ca);
    if (build(e, err) != 0) {
        kvs_engine_destroy(e);
        return NULL;
    }
    topo_sort(e);
    e->tels = calloc(e->n ? e->n : 1, sizeof *e->tels);
    if (!e->tels) {
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        kvs_engine_destroy(e);
        return NULL;
    }
    for (size_t i = 0; i < e->n; i++) {
        instance *in = e->inst[i];
        e->tels[i] = &in->tel;
        in->ctx.id = in->cc->id;
        in->ctx.cfg = in->cc->cfg;
        in->ctx.tel = &in->tel;
        in->ctx.host = &e->host;
        for (int s = 0; s < KVS_NSIG; s++)
            in->ctx.next[s] = in->next[s].n ? &in->next[s] : NULL;
        if (in->def->create(&in->ctx, &in->state, err) != 0) {
            kvs_engine_destroy(e);
            return NULL;
        }
        in->created = 1;
    }
    if (e->host.replay && atomic_load(&e->host.joined) == 0) {
        kvs_errorf(err, KVS_E_INVALID, "replay: no pipeline has a receiver that reads files "
                                       "(otlpjsonfile, promfile, ...)");
        kvs_engine_destroy(e);
        return NULL;
    }
    return e;
}

int kvs_engine_start(kvs_engine *e, kvs_error *err)
{
    if (!e->selfmetrics) {
        int rc = kvs_selfmetrics_start(e, e->cfg, e->host.replay, &e->selfmetrics, err);
        if (rc != 0)
            return rc;
    }
    /* Extensions (listed last) first, then exporters back to receivers. */
    for (size_t i = e->n; i-- > 0;) {
        instance *in = e->inst[i];
        if (in->def->start && in->def->start(in->state, err) != 0) {
            kvs_error_prefix(err, "%s %s: start", kvs_kind_name(in->cc->kind), in->id);
            return err ? err->code : KVS_E_INVALID;
        }
        in->started = 1;
        KVS_DEBUG("engine", "started %s %s", kvs_kind_name(in->cc->kind), in->id);
    }
    e->started = 1;
    atomic_store(&e->host.state, KVS_HOST_RUNNING);
    return 0;
}

int kvs_engine_wait(kvs_engine *e, uint64_t tick_ns)
{
    struct kvs_host *h = &e->host;
    uint64_t until = tick_ns ? kvs_now_ns() + tick_ns : 0;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        if (atomic_load(&h->stopping) || (h->replay && atomic_load(&h->pending) == 0)) {
            pthread_mutex_unlock(&h->lock);
            return 0;
        }
        if (!until) {
            pthread_cond_wait(&h->cond, &h->lock);
            continue;
        }
        struct timespec ts = kvs_timespec(until);
        if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) != 0 && kvs_now_ns() >= until) {
            pthread_mutex_unlock(&h->lock);
            return 1;
        }
    }
}

void kvs_engine_request_stop(kvs_engine *e)
{
    pthread_mutex_lock(&e->host.lock);
    atomic_store(&e->host.stopping, 1);
    pthread_cond_broadcast(&e->host.cond);
    pthread_mutex_unlock(&e->host.lock);
}

void kvs_engine_shutdown(kvs_engine *e)
{
    atomic_store(&e->host.stopping, 1);
    atomic_store(&e->host.state, KVS_HOST_DRAINING);
    uint64_t deadline = kvs_now_ns() + e->cfg->shutdown_timeout_ns;
    for (size_t i = 0; i < e->n; i++) {
        instance *in = e->inst[i];
        if (!in->started)
            continue;
        if (in->def->shutdown)
            in->def->shutdown(in->state, deadline);
        in->started = 0;
        KVS_DEBUG("engine", "stopped %s %s", kvs_kind_name(in->cc->kind), in->id);
    }
    if (kvs_now_ns() > deadline)
        KVS_WARN("engine", "shutdown took longer than service.shutdown_timeout");
    kvs_selfmetrics_stop(e->selfmetrics);
    e->selfmetrics = NULL;
}

void kvs_engine_destroy(kvs_engine *e)
{
    if (!e)
        return;
    if (e->started)
        kvs_engine_shutdown(e);
    kvs_selfmetrics_stop(e->selfmetrics);   /* a start that failed half way */
    for (size_t i = 0; i < e->n; i++) {
        instance *in = e->inst[i];
        if (in->created && in->def->destroy)
            in->def->destroy(in->state);
        for (int s = 0; s < KVS_NSIG; s++)
            free(in->next[s].to);
        kvs_telemetry_destroy(&in->tel);
        free(in->id);
        free(in);
    }
    free(e->inst);
    free(e->tels);
    pthread_mutex_destroy(&e->host.lock);
    pthread_cond_destroy(&e->host.cond);
    free(e);
}

size_t kvs_engine_telemetry(const kvs_engine *e, const kvs_telemetry *const **out)
{
    *out = e->tels;
    return e->n;
}

int kvs_engine_instance(const kvs_engine *e, size_t i, kvs_instance_info *out)
{
    if (i >= e->n)
        return -1;
    const instance *in = e->inst[i];
    out->id = in->cc->id;
    out->kind = in->cc->kind;
    out->pipeline = in->pipe ? in->pipe->id : NULL;
    out->signals = in->ctx.signals;
    out->tel = &in->tel;
    out->def = in->def;
    out->state = in->state;
    out->out_signals = 0;
    for (int s = 0; s < KVS_NSIG; s++) {
        if (in->next[s].n)
            out->out_signals |= (unsigned)kvs_signal_at(s);
        out->sent_ok[s] = kvs_tel_get(&in->next[s].ok);
        out->sent_refused[s] = kvs_tel_get(&in->next[s].refused);
        out->sent_invalid[s] = kvs_tel_get(&in->next[s].invalid);
    }
    return 0;
}

void kvs_engine_progress(const kvs_engine *e, uint64_t *bytes, uint64_t *files)
{
    *bytes = atomic_load(&e->host.bytes);
    *files = atomic_load(&e->host.files_done);
}
