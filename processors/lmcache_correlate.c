/* Processor `lmcache_correlate` (traces): joins the spans of each LMCache
 * request (MP `request` and CacheBlend `cb.request` trees) and the engine's
 * request span (vLLM `llm_request`), computes the request record
 * (lmcache/request.h) and writes it as `kvscope.lmcache.*` attributes on
 * the root, typed values on the children, the LMCache outcome on the
 * engine span, and span links between the two when they are in separate
 * traces. docs/correlation.md is the reference.
 *
 * Spans that are neither LMCache's nor the engine's pass through in the
 * consume call that brought them. The others are held in a trace window
 * (processors/lmcache_correlate_window.c) until `wait` after their root
 * arrived, never longer than `max_wait` after first sight; when the window
 * holds max_traces traces or max_spans spans the oldest traces go out
 * first, annotated as far as they can be. Nothing is dropped: early
 * releases are counted by reason (kvs_lmc_correlate_stats). Releases
 * happen in consume, in a timer thread, and at shutdown (everything). */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "processors/lmcache_correlate.h"
#include "processors/lmcache_correlate_window.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Held spans of a received request are copied (and the request freed)
 * when fewer than half of its spans are held, or when keeping it would
 * cost more than this many bytes per held span. */
#define COPY_BYTES_PER_SPAN 8192
/* A copy segment is closed once its arena passes this size. */
#define COPY_SEG_MAX (4u << 20)

typedef struct lc_proc {
    const char *id;
    kvs_next *next;
    kvs_telemetry *tel;
    lc_window w;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t timer;
    int timer_running, stop;
    uint64_t (*clock)(void *arg);
    void *clock_arg;
    int manual;
    unsigned char *tmp;              /* pack buffer of the copy path (under lock) */
    size_t tmpcap;
    uint64_t spans_in, spans_out, spans_passed;   /* under lock */
} lc_proc;

static const char *const keys[] = { "wait", "max_wait", "max_traces", "max_spans", "engine_join",
                                    "attribute_prefix", NULL };

static uint64_t now_of(lc_proc *c) { return c->clock ? c->clock(c->clock_arg) : kvs_now_ns(); }

static int lc_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *cfg = ctx->cfg;
    uint64_t wait, max_wait;
    int64_t max_traces, max_spans;
    int engine_join;
    const char *prefix;
    if (kvs_cfg_expect_map(cfg, err) || kvs_cfg_check_keys(cfg, keys, err) ||
        kvs_cfg_duration(cfg, "wait", 5 * KVS_SEC, &wait, err) ||
        kvs_cfg_duration(cfg, "max_wait", 30 * KVS_SEC, &max_wait, err) ||
        kvs_cfg_i64(cfg, "max_traces", 100000, 1, (int64_t)1 << 30, &max_traces, err) ||
        kvs_cfg_i64(cfg, "max_spans", 1000000, 1, (int64_t)1 << 32, &max_spans, err) ||
        kvs_cfg_bool(cfg, "engine_join", 1, &engine_join, err) ||
        kvs_cfg_str(cfg, "attribute_prefix", KVS_LMC_DEFAULT_PREFIX, &prefix, err))
        return KVS_E_INVALID;
    if (max_wait > 24 * 3600 * KVS_SEC)
        return kvs_cfg_errorf(err, kvs_cfg_get(cfg, "max_wait"), "%s: max_wait must be at most 24h", ctx->id);
    if (wait > max_wait)
        return kvs_cfg_errorf(err, kvs_cfg_get(cfg, "wait"), "%s: wait must not be longer than max_wait",
                              ctx->id);
    if (!prefix || !*prefix)
        return kvs_cfg_errorf(err, kvs_cfg_get(cfg, "attribute_prefix"),
                              "%s: attribute_prefix must not be empty", ctx->id);
    lc_proc *c = calloc(1, sizeof *c);
    if (!c)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    c->id = ctx->id;
    c->next = ctx->next[kvs_signal_index(KVS_SIG_TRACES)];
    c->tel = ctx->tel;
    c->w.wait_ns = wait;
    c->w.max_wait_ns = max_wait;
    c->w.max_traces = (uint64_t)max_traces;
    c->w.max_spans = (uint64_t)max_spans;
    c->w.engine_join = engine_join;
    c->w.prefix = prefix;
    if (lc_window_init(&c->w) != 0) {
        lc_window_free(&c->w);
        free(c);
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    *state = c;
    return 0;
}

/* ---- sending ---- */

static void send_outs(lc_proc *c, kvs_batch **outs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kvs_batch *b = outs[i];
        size_t items = b->items;
        kvs_error e;
        if (kvs_next_consume(c->next, b, &e) != 0) {
            /* Accepted upstream already: the loss is counted. */
            kvs_tel_drop(c->tel, e.code == KVS_E_REFUSED ? "downstream_refused" : "downstream_rejected", items);
            KVS_WARN(c->id, "dropped %zu spans: %s", items, e.msg);
            pthread_mutex_lock(&c->lock);
            c->w.st.spans_lost += items;
            pthread_mutex_unlock(&c->lock);
        } else {
            pthread_mutex_lock(&c->lock);
            c->spans_out += items;
            pthread_mutex_unlock(&c->lock);
        }
        kvs_batch_unref(b);
    }
    free(outs);
}

/* Releases what is due (everything with all), a chunk at a time: the
 * chunk's requests are sent without the lock. Called and returns with the
 * lock held. */
static void release_locked(lc_proc *c, uint64_t now, int all)
{
    lc_collect_due(&c->w, now, all);
    while (lc_pending(&c->w)) {
        kvs_batch **outs;
        size_t n;
        if (lc_release(&c->w, &outs, &n) != 0)
            KVS_WARN(c->id, "out of memory: held spans could not be sent");
        pthread_mutex_unlock(&c->lock);
        send_outs(c, outs, n);
        pthread_mutex_lock(&c->lock);
    }
}

static uint64_t next_due(const lc_window *w)
{
    uint64_t due = UINT64_MAX;
    if (w->age_head)
        due = w->age_head->first_ns + w->max_wait_ns;
    if (w->root_head && w->root_head->root_ns + w->wait_ns < due)
        due = w->root_head->root_ns + w->wait_ns;
    return due;
}

static void *timer_main(void *arg)
{
    lc_proc *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        uint64_t due = c->manual ? UINT64_MAX : next_due(&c->w);
        if (due == UINT64_MAX) {
            pthread_cond_wait(&c->cond, &c->lock);
            continue;
        }
        uint64_t now = now_of(c);
        if (now < due) {
            struct timespec ts = kvs_timespec(due);
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
            continue;
        }
        release_locked(c, now, 0);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static int lc_start(void *state, kvs_error *err)
{
    lc_proc *c = state;
    if (pthread_create(&c->timer, NULL, timer_main, c) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the timer thread", c->id);
    c->timer_running = 1;
    return 0;
}

/* ---- consume ---- */

/* A request with only the spans whose role is NONE (shallow wrappers; the
 * received request is its parent). */
static kvs_batch *passthrough(kvs_batch *in, const uint8_t *roles, size_t keep)
{
    kvs_batch *out = kvs_batch_new(KVS_SIG_TRACES);
    if (!out || kvs_batch_add_parent(out, in) != 0) {
        kvs_batch_unref(out);
        return NULL;
    }
    kvs_arena *a = out->arena;
    const kvs_traces_req *rq = in->traces;
    kvs_resource_spans **rsv = kvs_arena_alloc(a, rq->n_resource_spans * sizeof *rsv);
    kvs_span **pool = kvs_arena_alloc(a, keep * sizeof *pool);
    if (!rsv || !pool) {
        kvs_batch_unref(out);
        return NULL;
    }
    size_t k = 0, nrs = 0;
    for (size_t r = 0; r < rq->n_resource_spans; r++) {
        const kvs_resource_spans *rs = rq->resource_spans[r];
        kvs_scope_spans **ssv = NULL;
        size_t nss = 0;
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const kvs_scope_spans *ss = rs->scope_spans[s];
            kvs_span **first = pool;
            for (size_t i = 0; i < ss->n_spans; i++, k++)
                if (roles[k] == KVS_LMC_NONE)
                    *pool++ = ss->spans[i];
            if (pool == first)
                continue;
            if (!ssv && !(ssv = kvs_arena_alloc(a, rs->n_scope_spans * sizeof *ssv)))
                break;
            kvs_scope_spans *c = kvs_arena_alloc(a, sizeof *c);
            if (!c)
                break;
            *c = *ss;
            c->spans = first;
            c->n_spans = (size_t)(pool - first);
            ssv[nss++] = c;
        }
        if (!nss)
            continue;
        kvs_resource_spans *c = kvs_arena_alloc(a, sizeof *c);
        if (!c)
            break;
        *c = *rs;
        c->scope_spans = ssv;
        c->n_scope_spans = nss;
        rsv[nrs++] = c;
    }
    out->traces->resource_spans = rsv;
    out->traces->n_resource_spans = nrs;
    kvs_batch_recount(out);
    if (out->items != keep) {
        kvs_batch_unref(out);
        return NULL;
    }
    return out;
}

static void account(lc_window *w, lc_seg *s, size_t bytes)
{
    w->held_bytes += bytes - s->bytes;
    s->bytes = bytes;
    if (w->held_bytes > w->st.peak_bytes)
        w->st.peak_bytes = w->held_bytes;
}

/* A deep copy of a message into arena a (pack, then unpack in a). */
static void *copy_msg(lc_proc *c, kvs_arena *a, const ProtobufCMessage *m)
{
    if (!m)
        return NULL;
    size_t len = protobuf_c_message_get_packed_size(m);
    if (len > c->tmpcap) {
        unsigned char *g = realloc(c->tmp, len);
        if (!g)
            return NULL;
        c->tmp = g;
        c->tmpcap = len;
    }
    protobuf_c_message_pack(m, c->tmp);
    return protobuf_c_message_unpack(m->descriptor, kvs_arena_allocator(a), len, c->tmp);
}

static lc_seg *copy_seg(lc_proc *c)
{
    lc_window *w = &c->w;
    if (w->copy && kvs_arena_footprint(w->copy->b->arena) > COPY_SEG_MAX) {
        lc_seg *old = w->copy;
        w->copy = NULL;
        old->open = 0;
        lc_seg_release(w, old, 0);
    }
    if (!w->copy) {
        lc_seg *s = calloc(1, sizeof *s);
        if (!s || !(s->b = kvs_batch_new(KVS_SIG_TRACES))) {
            free(s);
            return NULL;
        }
        s->open = 1;
        account(w, s, kvs_arena_footprint(s->b->arena));
        w->copy = s;
    }
    return w->copy;
}

/* Puts one span in the window (making room first). */
static void hold(lc_proc *c, const lc_span *s, uint64_t now, lc_trace ***late, size_t *nlate, size_t *caplate)
{
    lc_window *w = &c->w;
    uint8_t id[16] = { 0 };
    const ProtobufCBinaryData *tid = &s->span->trace_id;
    memcpy(id, tid->data, tid->len < 16 ? tid->len : 16);
    uint64_t h = lc_hash_id(id);
    lc_trace *t = lc_trace_find(w, id, h);
    lc_make_room(w, 1, t == NULL);
    if (t && t->state != LC_HELD)
        t = NULL; /* it was the oldest and went out to make room */
    if (!t) {
        lc_make_room(w, 1, 1);
        if (!(t = lc_trace_new(w, id, h, now)))
            return;
        if (lc_ring_has(&w->gone, id, 16, LC_RING_TRACE) && *nlate < *caplate) {
            t->late = 1;
            (*late)[(*nlate)++] = t;
        }
    }
    if (lc_trace_add(w, t, s, now) != 0)
        KVS_WARN(c->id, "out of memory: a span of a held trace is lost");
}

/* The trace table is cold: ask for a span's bucket (stage 0), then for
 * the trace it points at (stage 1), a few spans ahead. */
static void prefetch_trace(const lc_window *w, const kvs_span *s, int stage)
{
    uint8_t id[16] = { 0 };
    memcpy(id, s->trace_id.data, s->trace_id.len < 16 ? s->trace_id.len : 16);
    lc_trace *const *b = &w->buckets[lc_hash_id(id) & (w->nbuckets - 1)];
    if (stage == 0)
        __builtin_prefetch(b);
    else if (*b)
        __builtin_prefetch(*b);
}

/* Holds the spans of `in` whose role is not NONE (lock held). */
static void hold_all(lc_proc *c, kvs_batch *in, const uint8_t *roles, size_t total, size_t held, uint64_t now)
{
    lc_window *w = &c->w;
    int copy = held * 2 < total || kvs_batch_bytes(in) / held > COPY_BYTES_PER_SPAN;
    lc_seg *seg = NULL;
    if (copy) {
        seg = copy_seg(c);
    } else if ((seg = calloc(1, sizeof *seg))) {
        seg->b = kvs_batch_ref(in);
        seg->open = 1; /* not freed while its spans go in */
        account(w, seg, kvs_batch_bytes(in));
    }
    size_t caplate = held, nlate = 0;
    lc_trace **late = malloc(caplate * sizeof *late);
    if (!seg || !late)
        caplate = 0;
    const kvs_traces_req *rq = in->traces;
    size_t k = 0;
    for (size_t r = 0; r < rq->n_resource_spans; r++) {
        kvs_resource_spans *rs = rq->resource_spans[r], *crs = NULL;
        for (size_t si = 0; si < rs->n_scope_spans; si++) {
            kvs_scope_spans *ss = rs->scope_spans[si], *css = NULL;
            for (size_t i = 0; i < ss->n_spans; i++, k++) {
                if (i + 8 < ss->n_spans)
                    prefetch_trace(w, ss->spans[i + 8], 0);
                if (i + 4 < ss->n_spans)
                    prefetch_trace(w, ss->spans[i + 4], 1);
                if (roles[k] == KVS_LMC_NONE || !seg)
                    continue;
                lc_span s = { .span = ss->spans[i], .rs = rs, .ss = ss, .seg = seg, .role = roles[k] };
                if (copy) {
                    kvs_arena *a = seg->b->arena;
                    if (!crs && (crs = kvs_arena_alloc(a, sizeof *crs))) {
                        *crs = *rs;
                        crs->resource = rs->resource ? copy_msg(c, a, &rs->resource->base) : NULL;
                        crs->schema_url = kvs_arena_strdup(a, rs->schema_url ? rs->schema_url : "");
                    }
                    if (!css && (css = kvs_arena_alloc(a, sizeof *css))) {
                        *css = *ss;
                        css->scope = ss->scope ? copy_msg(c, a, &ss->scope->base) : NULL;
                        css->schema_url = kvs_arena_strdup(a, ss->schema_url ? ss->schema_url : "");
                    }
                    s.span = copy_msg(c, a, &ss->spans[i]->base);
                    if (!crs || !css || !s.span || (rs->resource && !crs->resource) ||
                        (ss->scope && !css->scope) || !crs->schema_url || !css->schema_url) {
                        KVS_WARN(c->id, "out of memory: a span of a held trace is lost");
                        w->st.spans_lost++;
                        continue;
                    }
                    s.rs = crs, s.ss = css;
                    w->st.copied_spans++;
                }
                hold(c, &s, now, &late, &nlate, &caplate);
            }
        }
    }
    if (copy && seg) {
        account(w, seg, kvs_arena_footprint(seg->b->arena));
        if (!seg->held)
            lc_seg_release(w, seg, 0); /* nothing could be copied */
    }
    if (!copy && seg) {
        seg->open = 0;
        lc_seg_release(w, seg, 0); /* frees it when nothing of it was kept */
    }
    for (size_t i = 0; i < nlate; i++)
        lc_detach(w, late[i], KVS_LMC_REL_LATE);
    free(late);
}

static int lc_consume(void *state, kvs_batch *in, kvs_error *err)
{
    lc_proc *c = state;
    const kvs_traces_req *rq = in->traces;
    size_t total = 0;
    for (size_t r = 0; rq && r < rq->n_resource_spans; r++)
        for (size_t s = 0; s < rq->resource_spans[r]->n_scope_spans; s++)
            total += rq->resource_spans[r]->scope_spans[s]->n_spans;
    if (!total)
        return kvs_next_consume(c->next, in, err);
    uint8_t small[512];
    uint8_t *roles = total <= sizeof small ? small : malloc(total);
    if (!roles)
        return kvs_errorf(err, KVS_E_REFUSED, "%s: out of memory", c->id);
    size_t k = 0, held = 0;
    for (size_t r = 0; r < rq->n_resource_spans; r++) {
        const kvs_resource_spans *rs = rq->resource_spans[r];
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const kvs_scope_spans *ss = rs->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++) {
                if (i + 4 < ss->n_spans)
                    __builtin_prefetch(ss->spans[i + 4]);
                roles[k] = (uint8_t)kvs_lmc_classify(ss->spans[i], ss->scope, c->w.engine_join);
                held += roles[k++] != KVS_LMC_NONE;
            }
        }
    }
    int rc = 0;
    if (held < total) {
        /* Pass-through first: when the next hop refuses, nothing is held
         * and the sender's retry brings the whole request again. */
        kvs_batch *pt = held ? passthrough(in, roles, total - held) : kvs_batch_ref(in);
        rc = pt ? kvs_next_consume(c->next, pt, err) : kvs_errorf(err, KVS_E_REFUSED, "%s: out of memory", c->id);
        kvs_batch_unref(pt);
    }
    pthread_mutex_lock(&c->lock);
    if (rc == 0) {
        c->spans_in += total;
        c->spans_passed += total - held;
        c->spans_out += total - held;
        if (held) {
            uint64_t now = now_of(c), before = next_due(&c->w);
            hold_all(c, in, roles, total, held, now);
            release_locked(c, now, 0);
            if (next_due(&c->w) < before)
                pthread_cond_signal(&c->cond);
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (roles != small)
        free(roles);
    if (rc != 0)
        return rc;
    kvs_tel_add(&c->tel->accepted, total);
    return 0;
}

/* ---- seams, shutdown ---- */

void kvs_lmcache_correlate_stats(void *state, kvs_lmc_correlate_stats *out)
{
    lc_proc *c = state;
    pthread_mutex_lock(&c->lock);
    *out = c->w.st;
    out->spans_in = c->spans_in;
    out->spans_out = c->spans_out;
    out->spans_passed = c->spans_passed;
    out->held_spans = c->w.held_spans;
    out->held_traces = c->w.ntraces;
    out->held_bytes = c->w.held_bytes;
    pthread_mutex_unlock(&c->lock);
}

void kvs_lmcache_correlate_set_clock(void *state, uint64_t (*now)(void *arg), void *arg)
{
    lc_proc *c = state;
    pthread_mutex_lock(&c->lock);
    c->clock = now;
    c->clock_arg = arg;
    c->manual = now != NULL;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void release_now(lc_proc *c, int all)
{
    pthread_mutex_lock(&c->lock);
    release_locked(c, now_of(c), all);
    pthread_mutex_unlock(&c->lock);
}

void kvs_lmcache_correlate_tick(void *state) { release_now(state, 0); }

static void lc_shutdown(void *state, uint64_t deadline_ns)
{
    lc_proc *c = state;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->timer_running) {
        pthread_join(c->timer, NULL);
        c->timer_running = 0;
    }
    release_now(c, 1);
    if (kvs_now_ns() > deadline_ns)
        KVS_WARN(c->id, "releasing the held traces took longer than the shutdown timeout");
    kvs_lmc_correlate_stats s;
    kvs_lmcache_correlate_stats(c, &s);
    KVS_INFO(c->id,
             "spans in %llu out %llu (passed through %llu, lost %llu); requests %llu, joins same-trace %llu "
             "cross-trace %llu, orphans %llu, late %llu, parse errors %llu; traces released early: "
             "max_spans %llu, max_traces %llu, max_wait %llu",
             (unsigned long long)s.spans_in, (unsigned long long)s.spans_out, (unsigned long long)s.spans_passed,
             (unsigned long long)s.spans_lost, (unsigned long long)s.requests,
             (unsigned long long)s.joins_same_trace, (unsigned long long)s.joins_cross_trace,
             (unsigned long long)s.orphans, (unsigned long long)s.late_spans, (unsigned long long)s.parse_errors,
             (unsigned long long)s.traces_released[KVS_LMC_REL_MAX_SPANS],
             (unsigned long long)s.traces_released[KVS_LMC_REL_MAX_TRACES],
             (unsigned long long)s.traces_released[KVS_LMC_REL_MAX_WAIT]);
}

static void lc_destroy(void *state)
{
    lc_proc *c = state;
    if (c->timer_running) {
        pthread_mutex_lock(&c->lock);
        c->stop = 1;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->timer, NULL);
    }
    lc_window_free(&c->w);
    free(c->tmp);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

/* Self-metrics: the window now, early releases, and how requests joined. */
static void lc_gauges(void *state, kvs_gauge_fn emit, void *ctx)
{
    kvs_lmc_correlate_stats s;
    kvs_lmcache_correlate_stats(state, &s);
    emit(ctx, "correlate_held_spans", "Spans held in the correlation window now.", (double)s.held_spans, KVS_SM_GAUGE);
    emit(ctx, "correlate_held_traces", "Traces held in the correlation window now.", (double)s.held_traces, KVS_SM_GAUGE);
    emit(ctx, "correlate_held_bytes", "Bytes of memory the correlation window holds now.", (double)s.held_bytes,
         KVS_SM_GAUGE);
    static const struct { kvs_lmc_release_reason r; const char *name, *help; } early[] = {
        { KVS_LMC_REL_MAX_SPANS, "correlate_released_early_max_spans_traces_total",
          "Traces released before they were complete because the window held max_spans." },
        { KVS_LMC_REL_MAX_TRACES, "correlate_released_early_max_traces_traces_total",
          "Traces released before they were complete because the window held max_traces." },
        { KVS_LMC_REL_MAX_WAIT, "correlate_released_early_max_wait_traces_total",
          "Traces released when max_wait passed, whether complete or not." },
    };
    for (size_t i = 0; i < sizeof early / sizeof early[0]; i++)
        emit(ctx, early[i].name, early[i].help, (double)s.traces_released[early[i].r], KVS_SM_COUNTER);
    emit(ctx, "correlate_requests_total", "LMCache requests correlated (request records computed).", (double)s.requests,
         KVS_SM_COUNTER);
    emit(ctx, "correlate_joins_same_trace_total", "Engine requests joined to their LMCache request within one trace.",
         (double)s.joins_same_trace, KVS_SM_COUNTER);
    emit(ctx, "correlate_joins_cross_trace_total", "Engine requests joined to an LMCache request of another trace.",
         (double)s.joins_cross_trace, KVS_SM_COUNTER);
    emit(ctx, "correlate_orphan_spans_total", "LMCache spans released without their request root.", (double)s.orphans,
         KVS_SM_COUNTER);
    emit(ctx, "correlate_late_spans_total", "LMCache spans that arrived after their trace had left.", (double)s.late_spans,
         KVS_SM_COUNTER);
    emit(ctx, "correlate_parse_errors_total", "Attribute values that did not parse.", (double)s.parse_errors,
         KVS_SM_COUNTER);
}

const kvs_component_def kvs_processor_lmcache_correlate = {
    .type = "lmcache_correlate",
    .kind = KVS_PROCESSOR,
    .signals = KVS_SIG_TRACES,
    .create = lc_create,
    .start = lc_start,
    .consume = lc_consume,
    .shutdown = lc_shutdown,
    .destroy = lc_destroy,
    .gauges = lc_gauges,
};
