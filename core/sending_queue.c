/* The exporters' sending queue and retry loop (core/sending_queue.h): a
 * bounded ring of batch references under one mutex, num_consumers threads
 * that deliver with exponential backoff, a deadline-bounded drain, and the
 * OTLP response decoders the exporters share. */
#include "core/sending_queue.h"

#include "core/clock.h"
#include "core/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ---- */

static const char *const queue_keys[] = { "enabled", "num_consumers", "queue_size", "max_size_mib", NULL };
static const char *const retry_keys[] = { "enabled",      "initial_interval", "randomization_factor",
                                          "multiplier",   "max_interval",     "max_elapsed_time",
                                          NULL };

int kvs_sending_queue_parse(const kvs_cfg_node *c, kvs_sending_queue_cfg *o, kvs_error *err)
{
    memset(o, 0, sizeof *o);
    const kvs_cfg_node *sq = kvs_cfg_get(c, "sending_queue"), *rt = kvs_cfg_get(c, "retry_on_failure");
    int64_t mib;
    if (kvs_cfg_duration(c, "timeout", 5 * KVS_SEC, &o->timeout_ns, err) || kvs_cfg_expect_map(sq, err) ||
        kvs_cfg_check_keys(sq, queue_keys, err) || kvs_cfg_bool(sq, "enabled", 1, &o->queue_enabled, err) ||
        kvs_cfg_i64(sq, "num_consumers", 10, 1, 1024, &o->num_consumers, err) ||
        kvs_cfg_i64(sq, "queue_size", 1000, 1, 10000000, &o->queue_size, err) ||
        kvs_cfg_i64(sq, "max_size_mib", 0, 0, (int64_t)1 << 30, &mib, err) || kvs_cfg_expect_map(rt, err) ||
        kvs_cfg_check_keys(rt, retry_keys, err) || kvs_cfg_bool(rt, "enabled", 1, &o->retry_enabled, err) ||
        kvs_cfg_duration(rt, "initial_interval", 5 * KVS_SEC, &o->initial_interval_ns, err) ||
        kvs_cfg_f64(rt, "randomization_factor", 0.5, 0.0, 1.0, &o->randomization_factor, err) ||
        kvs_cfg_f64(rt, "multiplier", 1.5, 1.0, 1000.0, &o->multiplier, err) ||
        kvs_cfg_duration(rt, "max_interval", 30 * KVS_SEC, &o->max_interval_ns, err) ||
        kvs_cfg_duration(rt, "max_elapsed_time", 300 * KVS_SEC, &o->max_elapsed_ns, err))
        return KVS_E_INVALID;
    o->max_bytes = (uint64_t)mib << 20;
    if (o->retry_enabled && o->initial_interval_ns == 0)
        return kvs_cfg_errorf(err, kvs_cfg_get(rt, "initial_interval"), "initial_interval must be greater than 0");
    if (o->retry_enabled && o->max_interval_ns < o->initial_interval_ns)
        return kvs_cfg_errorf(err, kvs_cfg_get(rt, "max_interval") ? kvs_cfg_get(rt, "max_interval") : rt,
                              "max_interval must not be less than initial_interval");
    return 0;
}

/* ---- the queue ---- */

typedef struct entry {
    kvs_batch *b;
    uint64_t bytes;
} entry;

struct kvs_sending_queue {
    const char *id;
    kvs_sending_queue_cfg cfg;
    kvs_sending_queue_ops ops;
    kvs_telemetry *tel;

    pthread_mutex_t lock;
    pthread_cond_t nonempty;   /* consumers wait for work */
    pthread_cond_t wake;       /* retry waits; broadcast when shutdown begins */
    entry *ring;
    size_t head, count, cap;
    uint64_t bytes;
    size_t in_flight;
    int stopping;
    uint64_t deadline_ns;
    int full_logged;

    pthread_t *threads;
    size_t nthreads;
    void **pool;               /* idle worker slots of synchronous sends */
    size_t npool;
    atomic_uint_fast64_t seq;  /* jitter seed */
    atomic_uint_fast64_t stop_deadline; /* UINT64_MAX until shutdown */
};

kvs_sending_queue *kvs_sending_queue_new(const char *id, const kvs_sending_queue_cfg *cfg,
                                         const kvs_sending_queue_ops *ops, kvs_telemetry *tel, kvs_error *err)
{
    kvs_sending_queue *q = calloc(1, sizeof *q);
    if (!q) {
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        return NULL;
    }
    q->id = id;
    q->cfg = *cfg;
    q->ops = *ops;
    q->tel = tel;
    if (cfg->queue_enabled) {
        q->cap = (size_t)cfg->queue_size;
        q->ring = calloc(q->cap, sizeof *q->ring);
        q->threads = calloc((size_t)cfg->num_consumers, sizeof *q->threads);
    } else {
        q->pool = calloc((size_t)cfg->num_consumers, sizeof *q->pool);
    }
    if ((cfg->queue_enabled && (!q->ring || !q->threads)) || (!cfg->queue_enabled && !q->pool)) {
        free(q->ring);
        free(q->threads);
        free(q->pool);
        free(q);
        kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->nonempty, &ca);
    pthread_cond_init(&q->wake, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&q->seq, kvs_now_ns());
    atomic_init(&q->stop_deadline, UINT64_MAX);
    return q;
}

/* A uniform double in [0, 1) from splitmix64 over a shared counter. */
static double jitter_unit(kvs_sending_queue *q)
{
    uint64_t z = atomic_fetch_add_explicit(&q->seq, 0x9e3779b97f4a7c15ULL, memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Waits until t; -1 when shutdown's deadline comes first. */
static int sleep_until(kvs_sending_queue *q, uint64_t t)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->stopping && t > q->deadline_ns) {
            rc = -1;
            break;
        }
        if (kvs_now_ns() >= t)
            break;
        struct timespec ts = kvs_timespec(t);
        pthread_cond_timedwait(&q->wake, &q->lock, &ts);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

/* Counts a batch that will not be delivered. `owned`: the queue had
 * accepted it (so it is a drop); else the caller hears of the failure. */
static void lose(kvs_sending_queue *q, const kvs_batch *b, const char *reason, int failed, int owned)
{
    if (failed)
        kvs_tel_add(&q->tel->failed, b->items);
    if (owned)
        kvs_tel_drop(q->tel, reason, b->items);
}

/* Delivers one batch: attempts and retries. */
static kvs_send_result deliver(kvs_sending_queue *q, void **worker, kvs_batch *b, int owned, kvs_error *out)
{
    const kvs_sending_queue_cfg *c = &q->cfg;
    const char *unit = kvs_signal_unit(b->signal);
    /* Synchronous sends hand the failure back to the caller: not a drop. */
    const char *verb = owned ? "dropping" : "failing";
    uint64_t start = kvs_now_ns(), interval = c->initial_interval_ns;
    kvs_error err;
    for (unsigned attempt = 1;; attempt++) {
        uint64_t now = kvs_now_ns();
        uint64_t dl = c->timeout_ns ? now + c->timeout_ns : UINT64_MAX;
        pthread_mutex_lock(&q->lock);
        int late = q->stopping && now >= q->deadline_ns;
        if (q->stopping && dl > q->deadline_ns)
            dl = q->deadline_ns;
        pthread_mutex_unlock(&q->lock);
        if (late) {
            KVS_ERROR(q->id, "%s %zu %s: shutdown deadline reached before attempt %u", verb, b->items, unit, attempt);
            lose(q, b, "shutdown_timeout", 0, owned);
            kvs_errorf(out, KVS_E_REFUSED, "%s: shutting down", q->id);
            return KVS_SEND_RETRYABLE;
        }
        kvs_send_info info = { 0, 0 };
        err.code = 0;
        err.msg[0] = '\0';
        kvs_send_result r = q->ops.send(q->ops.exporter, worker, b, dl, &info, &err);
        if (r == KVS_SEND_OK) {
            uint64_t rej = info.rejected > b->items ? b->items : info.rejected;
            kvs_tel_add(&q->tel->exported, b->items - rej);
            if (rej) {
                kvs_tel_add(&q->tel->failed, rej);
                kvs_tel_drop(q->tel, "rejected_by_backend", rej);
            }
            return KVS_SEND_OK;
        }
        if (r == KVS_SEND_PERMANENT) {
            KVS_ERROR(q->id, "%s %zu %s: permanent error: %s", verb, b->items, unit, err.msg);
            lose(q, b, "send_failed_permanent", 1, owned);
            kvs_errorf(out, KVS_E_INVALID, "%s", err.msg);
            return KVS_SEND_PERMANENT;
        }
        if (!c->retry_enabled) {
            KVS_ERROR(q->id, "%s %zu %s: %s (retry_on_failure disabled)", verb, b->items, unit, err.msg);
            lose(q, b, "retry_disabled", 1, owned);
            kvs_errorf(out, KVS_E_REFUSED, "%s", err.msg);
            return KVS_SEND_RETRYABLE;
        }
        double f = c->randomization_factor;
        uint64_t delay = (uint64_t)((double)interval * (1.0 - f + 2.0 * f * jitter_unit(q)));
        double next = (double)interval * c->multiplier;
        interval = next >= (double)c->max_interval_ns ? c->max_interval_ns : (uint64_t)next;
        if (info.retry_after_ns > delay)
            delay = info.retry_after_ns;
        now = kvs_now_ns();
        if (c->max_elapsed_ns && now + delay - start > c->max_elapsed_ns) {
            KVS_ERROR(q->id, "%s %zu %s after %u attempts in %.1fs: %s", verb, b->items, unit, attempt,
                      (double)(now - start) / 1e9, err.msg);
            lose(q, b, "retries_exhausted", 1, owned);
            kvs_errorf(out, KVS_E_REFUSED, "%s (no more retries left)", err.msg);
            return KVS_SEND_RETRYABLE;
        }
        KVS_WARN(q->id, "sending %zu %s failed (attempt %u): %s; retrying in %.3fs", b->items, unit, attempt,
                 err.msg, (double)delay / 1e9);
        if (sleep_until(q, now + delay) != 0) {
            KVS_ERROR(q->id, "%s %zu %s: shutdown deadline reached while retrying: %s", verb, b->items, unit,
                      err.msg);
            lose(q, b, "shutdown_timeout", 0, owned);
            kvs_errorf(out, KVS_E_REFUSED, "%s: shutting down", q->id);
            return KVS_SEND_RETRYABLE;
        }
    }
}

static void *consumer_main(void *arg)
{
    kvs_sending_queue *q = arg;
    void *worker = NULL;
    kvs_error err;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->count == 0 && !q->stopping)
            pthread_cond_wait(&q->nonempty, &q->lock);
        if (q->count == 0 || (q->stopping && kvs_now_ns() >= q->deadline_ns))
            break;
        entry e = q->ring[q->head];
        q->ring[q->head].b = NULL;
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->bytes -= e.bytes;
        q->in_flight++;
        pthread_mutex_unlock(&q->lock);
        deliver(q, &worker, e.b, 1, &err);
        kvs_batch_unref(e.b);
        pthread_mutex_lock(&q->lock);
        q->in_flight--;
    }
    pthread_mutex_unlock(&q->lock);
    if (worker && q->ops.worker_free)
        q->ops.worker_free(q->ops.exporter, worker);
    return NULL;
}

int kvs_sending_queue_start(kvs_sending_queue *q, kvs_error *err)
{
    if (!q->cfg.queue_enabled)
        return 0;
    for (int64_t i = 0; i < q->cfg.num_consumers; i++) {
        if (pthread_create(&q->threads[q->nthreads], NULL, consumer_main, q) != 0)
            return kvs_errorf(err, KVS_E_IO, "%s: cannot start sending queue consumer %lld", q->id, (long long)i);
        q->nthreads++;
    }
    return 0;
}

/* Synchronous sends reuse idle worker slots (keep-alive connections). */
static void *pool_get(kvs_sending_queue *q)
{
    void *w = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->npool)
        w = q->pool[--q->npool];
    pthread_mutex_unlock(&q->lock);
    return w;
}

static void pool_put(kvs_sending_queue *q, void *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&q->lock);
    if (q->npool < (size_t)q->cfg.num_consumers) {
        q->pool[q->npool++] = w;
        w = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    if (w && q->ops.worker_free)
        q->ops.worker_free(q->ops.exporter, w);
}

static int consume_sync(kvs_sending_queue *q, kvs_batch *b, kvs_error *err)
{
    void *w = pool_get(q);
    kvs_error e;
    kvs_send_result r = deliver(q, &w, b, 0, &e);
    pool_put(q, w);
    if (r == KVS_SEND_OK)
        return 0;
    return kvs_errorf(err, r == KVS_SEND_PERMANENT ? KVS_E_INVALID : KVS_E_REFUSED, "%s", e.msg);
}

int kvs_sending_queue_consume(kvs_sending_queue *q, kvs_batch *b, kvs_error *err)
{
    if (b->items == 0)
        return 0;
    pthread_mutex_lock(&q->lock);
    int stopping = q->stopping;
    pthread_mutex_unlock(&q->lock);
    if (stopping) {
        kvs_tel_add(&q->tel->refused, b->items);
        return kvs_errorf(err, KVS_E_REFUSED, "%s: shutting down", q->id);
    }
    if (!q->cfg.queue_enabled)
        return consume_sync(q, b, err);
    uint64_t bytes = q->cfg.max_bytes ? kvs_batch_bytes(b) : 0;
    pthread_mutex_lock(&q->lock);
    int full = q->count == q->cap;
    /* The byte bound admits one batch into an empty queue whatever its size. */
    int too_big = q->cfg.max_bytes && q->count > 0 && q->bytes + bytes > q->cfg.max_bytes;
    if (full || too_big) {
        int log = !q->full_logged;
        q->full_logged = 1;
        size_t count = q->count;
        uint64_t qbytes = q->bytes;
        pthread_mutex_unlock(&q->lock);
        kvs_tel_add(&q->tel->refused, b->items);
        if (log)
            KVS_WARN(q->id, "sending queue is full (%zu batches, %llu bytes): refusing data upstream", count,
                     (unsigned long long)qbytes);
        return kvs_errorf(err, KVS_E_REFUSED, "%s: sending queue is full", q->id);
    }
    q->ring[(q->head + q->count) % q->cap] = (entry){ kvs_batch_ref(b), bytes };
    q->count++;
    q->bytes += bytes;
    q->full_logged = 0;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

static void join_all(kvs_sending_queue *q)
{
    for (size_t i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    q->nthreads = 0;
}

/* Releases what is still queued, counted as shutdown_timeout. */
static void drop_rest(kvs_sending_queue *q)
{
    uint64_t items = 0;
    size_t n = 0;
    pthread_mutex_lock(&q->lock);
    while (q->count) {
        entry e = q->ring[q->head];
        q->ring[q->head].b = NULL;
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->bytes -= e.bytes;
        items += e.b->items;
        n++;
        kvs_tel_drop(q->tel, "shutdown_timeout", e.b->items);
        kvs_batch_unref(e.b);
    }
    pthread_mutex_unlock(&q->lock);
    if (n)
        KVS_ERROR(q->id, "shutdown deadline reached: dropped %zu queued batches (%llu items)", n,
                  (unsigned long long)items);
}

void kvs_sending_queue_shutdown(kvs_sending_queue *q, uint64_t deadline_ns)
{
    pthread_mutex_lock(&q->lock);
    if (!q->stopping || deadline_ns < q->deadline_ns)
        q->deadline_ns = deadline_ns;
    q->stopping = 1;
    atomic_store(&q->stop_deadline, q->deadline_ns);
    pthread_cond_broadcast(&q->nonempty);
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->lock);
    join_all(q);
    if (q->cfg.queue_enabled)
        drop_rest(q);
}

void kvs_sending_queue_free(kvs_sending_queue *q)
{
    if (!q)
        return;
    if (q->nthreads || (q->cfg.queue_enabled && q->count))
        kvs_sending_queue_shutdown(q, kvs_now_ns());
    for (size_t i = 0; i < q->npool; i++)
        if (q->ops.worker_free)
            q->ops.worker_free(q->ops.exporter, q->pool[i]);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->wake);
    free(q->ring);
    free(q->threads);
    free(q->pool);
    free(q);
}

uint64_t kvs_sending_queue_deadline(const kvs_sending_queue *q)
{
    return atomic_load_explicit(&((kvs_sending_queue *)q)->stop_deadline, memory_order_relaxed);
}

void kvs_sending_queue_stats(kvs_sending_queue *q, kvs_queue_stats *out)
{
    pthread_mutex_lock(&q->lock);
    out->size = q->count;
    out->capacity = q->cfg.queue_enabled ? q->cap : 0;
    out->bytes = q->bytes;
    out->bytes_capacity = q->cfg.max_bytes;
    out->in_flight = q->in_flight;
    pthread_mutex_unlock(&q->lock);
}

/* ---- OTLP response helpers ---- */

int kvs_otlp_partial_success(kvs_signal sig, const uint8_t *data, size_t len, int64_t *rejected, char *msg,
                             size_t msgcap)
{
    const ProtobufCMessageDescriptor *d =
        sig == KVS_SIG_TRACES    ? &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor
        : sig == KVS_SIG_METRICS ? &opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor
                                 : &opentelemetry__proto__collector__logs__v1__export_logs_service_response__descriptor;
    *rejected = 0;
    if (msg && msgcap)
        msg[0] = '\0';
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
    if (!m)
        return -1;
    const char *em = NULL;
    if (sig == KVS_SIG_TRACES) {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r = (void *)m;
        if (r->partial_success)
            *rejected = r->partial_success->rejected_spans, em = r->partial_success->error_message;
    } else if (sig == KVS_SIG_METRICS) {
        Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r = (void *)m;
        if (r->partial_success)
            *rejected = r->partial_success->rejected_data_points, em = r->partial_success->error_message;
    } else {
        Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *r = (void *)m;
        if (r->partial_success)
            *rejected = r->partial_success->rejected_log_records, em = r->partial_success->error_message;
    }
    if (msg && msgcap && em)
        snprintf(msg, msgcap, "%s", em);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

/* Minimal protobuf wire reading for google.rpc.Status and RetryInfo. */
typedef struct pb {
    const uint8_t *p, *end;
} pb;

static int pb_varint(pb *r, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t byte = *r->p++;
        *v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return 0;
    }
    return -1;
}

/* Next field: its number, wire type, varint value or bytes. -1 at a
 * malformed field; 1 at the end. */
static int pb_next(pb *r, uint32_t *num, uint64_t *val, pb *sub)
{
    if (r->p >= r->end)
        return 1;
    uint64_t key;
    if (pb_varint(r, &key) != 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    *num = (uint32_t)(key >> 3);
    sub->p = sub->end = NULL;
    switch (key & 7) {
    case 0:
        return pb_varint(r, val);
    case 1:
    case 5: {
        size_t n = (key & 7) == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return -1;
        r->p += n;
        return 0;
    }
    case 2:
        if (pb_varint(r, val) != 0 || *val > (uint64_t)(r->end - r->p))
            return -1;
        sub->p = r->p;
        sub->end = r->p + *val;
        r->p += *val;
        return 0;
    default:
        return -1;
    }
}

static uint64_t retry_info_delay(pb any)
{
    static const char want[] = "google.rpc.RetryInfo";
    uint32_t num;
    uint64_t v;
    pb f, value = { NULL, NULL };
    int is_retry = 0, rc;
    while ((rc = pb_next(&any, &num, &v, &f)) == 0) {
        if (num == 1 && f.p) {
            size_t n = (size_t)(f.end - f.p), w = sizeof want - 1;
            is_retry = n >= w && memcmp(f.end - w, want, w) == 0;
        } else if (num == 2 && f.p) {
            value = f;
        }
    }
    if (rc < 0 || !is_retry || !value.p)
        return 0;
    pb dur = { NULL, NULL };
    while ((rc = pb_next(&value, &num, &v, &f)) == 0)
        if (num == 1 && f.p)
            dur = f;
    if (rc < 0 || !dur.p)
        return 0;
    uint64_t secs = 0, nanos = 0;
    while ((rc = pb_next(&dur, &num, &v, &f)) == 0) {
        if (num == 1 && !f.p)
            secs = v;
        else if (num == 2 && !f.p)
            nanos = v;
    }
    if (rc < 0 || (int64_t)secs < 0 || secs > 86400 * 365 || nanos >= KVS_SEC)
        return 0;
    uint64_t ns = secs * KVS_SEC + nanos;
    return ns ? ns : 1;
}

int kvs_rpc_status_decode(const uint8_t *data, size_t len, int *code, char *msg, size_t msgcap, uint64_t *retry_ns)
{
    pb r = { data, data + len }, f;
    uint32_t num;
    uint64_t v;
    int rc;
    *code = 0;
    *retry_ns = 0;
    if (msg && msgcap)
        msg[0] = '\0';
    while ((rc = pb_next(&r, &num, &v, &f)) == 0) {
        if (num == 1 && !f.p) {
            *code = (int)(int32_t)v;
        } else if (num == 2 && f.p && msg && msgcap) {
            size_t n = (size_t)(f.end - f.p);
            if (n >= msgcap)
                n = msgcap - 1;
            memcpy(msg, f.p, n);
            msg[n] = '\0';
        } else if (num == 3 && f.p) {
            uint64_t d = retry_info_delay(f);
            if (d)
                *retry_ns = d;
        }
    }
    return rc < 0 ? -1 : 0;
}
