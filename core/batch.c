#include "core/batch.h"
#include "core/clock.h"
#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *kvs_signal_name(kvs_signal s)
{
    switch (s) {
    case KVS_SIG_TRACES: return "traces";
    case KVS_SIG_METRICS: return "metrics";
    case KVS_SIG_LOGS: return "logs";
    }
    return "?";
}

const char *kvs_signal_unit(kvs_signal s)
{
    switch (s) {
    case KVS_SIG_TRACES: return "spans";
    case KVS_SIG_METRICS: return "metric_points";
    case KVS_SIG_LOGS: return "log_records";
    }
    return "items";
}

int kvs_signal_parse(const char *s, size_t n, kvs_signal *out)
{
    for (int i = 0; i < KVS_NSIG; i++) {
        const char *name = kvs_signal_name(kvs_signal_at(i));
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            *out = kvs_signal_at(i);
            return 0;
        }
    }
    return -1;
}

size_t kvs_metric_points(const kvs_metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: return m->gauge ? m->gauge->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: return m->sum ? m->sum->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: return m->histogram ? m->histogram->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return m->exponential_histogram ? m->exponential_histogram->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: return m->summary ? m->summary->n_data_points : 0;
    default: return 0;
    }
}

size_t kvs_count_items(kvs_signal sig, const ProtobufCMessage *msg)
{
    size_t n = 0;
    if (!msg)
        return 0;
    if (sig == KVS_SIG_TRACES) {
        const kvs_traces_req *r = (const kvs_traces_req *)msg;
        for (size_t i = 0; i < r->n_resource_spans; i++)
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
                n += r->resource_spans[i]->scope_spans[j]->n_spans;
    } else if (sig == KVS_SIG_METRICS) {
        const kvs_metrics_req *r = (const kvs_metrics_req *)msg;
        for (size_t i = 0; i < r->n_resource_metrics; i++)
            for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
                const kvs_scope_metrics *sm = r->resource_metrics[i]->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++)
                    n += kvs_metric_points(sm->metrics[k]);
            }
    } else {
        const kvs_logs_req *r = (const kvs_logs_req *)msg;
        for (size_t i = 0; i < r->n_resource_logs; i++)
            for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++)
                n += r->resource_logs[i]->scope_logs[j]->n_log_records;
    }
    return n;
}

void kvs_batch_recount(kvs_batch *b)
{
    if (kvs_batch_decoded(b))
        b->items = kvs_count_items(b->signal, b->msg);
}

kvs_batch *kvs_batch_wrap(kvs_signal sig, kvs_arena *arena, ProtobufCMessage *msg)
{
    kvs_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->signal = sig;
    b->arena = arena;
    atomic_init(&b->refs, 1);
    b->msg = msg;
    b->items = kvs_count_items(sig, msg);
    b->received_ns = kvs_now_ns();
    atomic_init(&b->decoded, 1);
    return b;
}

kvs_batch *kvs_batch_adopt_wire(kvs_signal sig, uint8_t *wire, size_t len, size_t items)
{
    kvs_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->signal = sig;
    atomic_init(&b->refs, 1);
    atomic_init(&b->decoded, 0);
    b->wire = b->wire_own = wire;
    b->wire_len = len;
    b->items = items;
    b->received_ns = kvs_now_ns();
    return b;
}

static size_t bytes_at(const kvs_batch *b, int depth)
{
    /* The arena of a batch in wire form is being filled while another
     * thread decodes it: read only once the decode is published. */
    size_t n = (b->wire_own ? b->wire_len : 0) +
               (kvs_batch_decoded(b) && b->arena ? kvs_arena_footprint(b->arena) : 0);
    if (depth < 4)
        for (size_t i = 0; i < b->nparents; i++)
            n += bytes_at(b->parents[i], depth + 1);
    return n;
}

size_t kvs_batch_bytes(const kvs_batch *b) { return bytes_at(b, 0); }

/* protobuf-c allocations from the arena, within a budget. */
typedef struct budget_alloc {
    ProtobufCAllocator pb;
    kvs_arena *a;
    size_t budget;
    int exceeded;
} budget_alloc;

static void *budget_alloc_fn(void *data, size_t n)
{
    budget_alloc *b = data;
    if (kvs_arena_footprint(b->a) + n > b->budget) {
        b->exceeded = 1;
        return NULL;
    }
    return kvs_arena_alloc(b->a, n);
}

static void budget_free_fn(void *data, void *p) { (void)data, (void)p; }

/* Decoding is rare and short: a few striped locks serialize it per batch. */
static pthread_mutex_t decode_locks[16] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};

int kvs_batch_decode(kvs_batch *b, kvs_error *err)
{
    if (kvs_batch_decoded(b))
        return 0;
    pthread_mutex_t *l = &decode_locks[((uintptr_t)b >> 6) % 16];
    pthread_mutex_lock(l);
    int rc = 0;
    if (!kvs_batch_decoded(b) && !b->arena && !(b->arena = kvs_arena_new()))
        rc = kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    if (!rc && !kvs_batch_decoded(b)) {
        const ProtobufCMessageDescriptor *d = kvs_request_descriptor(b->signal);
        budget_alloc ba = { { budget_alloc_fn, budget_free_fn, NULL }, b->arena,
                            kvs_arena_footprint(b->arena) + 64u * b->wire_len + (8u << 20), 0 };
        ba.pb.allocator_data = &ba;
        ProtobufCMessage *m = protobuf_c_message_unpack(d, &ba.pb, b->wire_len, b->wire);
        if (m) {
            b->msg = m;
            atomic_store_explicit(&b->decoded, 1, memory_order_release);
        } else if (ba.exceeded) {
            rc = kvs_errorf(err, KVS_E_NOMEM, "protobuf: %s of %zu bytes expands beyond %zu bytes in memory",
                            d->short_name, b->wire_len, ba.budget);
        } else {
            rc = kvs_errorf(err, KVS_E_INVALID, "protobuf: cannot decode %s (%zu bytes)", d->short_name,
                            b->wire_len);
        }
    }
    pthread_mutex_unlock(l);
    return rc;
}

kvs_batch *kvs_batch_new(kvs_signal sig)
{
    kvs_arena *a = kvs_arena_new();
    if (!a)
        return NULL;
    const ProtobufCMessageDescriptor *d = kvs_request_descriptor(sig);
    ProtobufCMessage *m = kvs_arena_alloc(a, d->sizeof_message);
    if (!m) {
        kvs_arena_free(a);
        return NULL;
    }
    d->message_init(m);
    kvs_batch *b = kvs_batch_wrap(sig, a, m);
    if (!b)
        kvs_arena_free(a);
    return b;
}

kvs_batch *kvs_batch_ref(kvs_batch *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void kvs_batch_unref(kvs_batch *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < b->nparents; i++)
        kvs_batch_unref(b->parents[i]);
    kvs_arena_free(b->arena);
    free(b->wire_own);
    free(b);
}

int kvs_batch_add_parent(kvs_batch *b, kvs_batch *p)
{
    if (!b->arena && !(b->arena = kvs_arena_new()))
        return KVS_E_NOMEM;
    kvs_batch **np = kvs_arena_grow(b->arena, b->parents, b->nparents * sizeof *np,
                                    (b->nparents + 1) * sizeof *np);
    if (!np)
        return KVS_E_NOMEM;
    np[b->nparents++] = kvs_batch_ref(p);
    b->parents = np;
    return 0;
}

kvs_batch *kvs_batch_clone(const kvs_batch *b)
{
    if (b->wire) {
        uint8_t *w = malloc(b->wire_len ? b->wire_len : 1);
        kvs_batch *c = w ? kvs_batch_adopt_wire(b->signal, w, b->wire_len, b->items) : NULL;
        if (!c) {
            free(w);
            return NULL;
        }
        memcpy(w, b->wire, b->wire_len);
        c->received_ns = b->received_ns;
        return c;
    }
    size_t len = protobuf_c_message_get_packed_size(b->msg);
    unsigned char *tmp = malloc(len ? len : 1);
    if (!tmp)
        return NULL;
    protobuf_c_message_pack(b->msg, tmp);
    kvs_arena *a = kvs_arena_new();
    ProtobufCMessage *m = a ? protobuf_c_message_unpack(kvs_request_descriptor(b->signal),
                                                        kvs_arena_allocator(a), len, tmp)
                            : NULL;
    free(tmp);
    if (!m) {
        kvs_arena_free(a);
        return NULL;
    }
    kvs_batch *c = kvs_batch_wrap(b->signal, a, m);
    if (!c) {
        kvs_arena_free(a);
        return NULL;
    }
    c->received_ns = b->received_ns;
    return c;
}

/* The messages no longer match the bytes (protobuf-c copied what it
 * needed, so the buffer can go). */
static void drop_wire(kvs_batch *b)
{
    free(b->wire_own);
    b->wire_own = NULL;
    b->wire = NULL;
    b->wire_len = 0;
}

kvs_batch *kvs_batch_writable(kvs_batch *b)
{
    kvs_error err;
    if (atomic_load(&b->refs) == 1 && b->nparents == 0) {
        if (kvs_batch_decode(b, &err) != 0)
            return NULL;
        drop_wire(b);
        return b;
    }
    kvs_batch *c = kvs_batch_clone(b);
    if (!c)
        return NULL;
    if (kvs_batch_decode(c, &err) != 0) {
        kvs_batch_unref(c);
        return NULL;
    }
    drop_wire(c);
    kvs_batch_unref(b);
    return c;
}
