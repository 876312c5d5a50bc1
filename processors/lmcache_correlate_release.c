/* Release of held traces for processor lmcache_correlate: pulls in partner
 * traces, computes the LMCache request records (lmcache/request.h), joins
 * them with engine spans (same trace, another held trace, or what the
 * recent ring remembers), writes the annotations on new span messages and
 * builds the requests to send, grouped by the spans' original resource and
 * scope. Received spans are never written to: an annotated span is a
 * shallow copy with new attribute and link arrays in the output batch's
 * arena, and the output keeps its sources alive as parents. */
#include "processors/lmcache_correlate_window.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

typedef struct rec {
    kvs_lmc_request r;
    lc_trace *t;
    uint32_t idx;                 /* the root span in t */
    int joined, same;
    uint8_t link_trace[16], link_span[8];
} rec;

typedef struct eng {
    kvs_lmc_engine e;
    kvs_lmc_outcome o;
    int has_o, same;
} eng;

typedef struct out_ent {
    kvs_span *span;
    kvs_resource_spans *rs;
    kvs_scope_spans *ss;
    lc_seg *seg;
} out_ent;

typedef struct rel_ctx {
    lc_window *w;
    rec *recs;
    size_t nrec;
    eng *engs;
    size_t neng;
    /* output being built */
    kvs_batch *out;
    kvs_lmc_attrs b;
    out_ent *ents;
    size_t nents;
    kvs_batch **outs;
    size_t nouts, capouts;
    uint64_t lost;
} rel_ctx;

/* ---- finding a child's root ---- */

/* Span ids of a trace, sorted, for traces too big to scan per lookup. */
typedef struct span_key {
    uint64_t id;
    uint32_t idx;
} span_key;

static int cmp_sid(const void *a, const void *b)
{
    const span_key *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

#define SCAN_MAX 32

static int find_span(const lc_trace *t, const span_key *sorted, const ProtobufCBinaryData *id)
{
    if (id->len != 8)
        return -1;
    if (sorted) {
        span_key key;
        memcpy(&key.id, id->data, 8);
        const span_key *f = bsearch(&key, sorted, t->n, sizeof *sorted, cmp_sid);
        return f ? (int)f->idx : -1;
    }
    for (uint32_t k = 0; k < t->n; k++) {
        const ProtobufCBinaryData *s = &t->spans[k].span->span_id;
        if (s->len == 8 && memcmp(s->data, id->data, 8) == 0)
            return (int)k;
    }
    return -1;
}

/* The record of the root a child belongs to: up its parents within the
 * trace; when a parent is missing, the only root of the same family. */
static uint32_t resolve(const lc_trace *t, const span_key *sorted, uint32_t j, const size_t nroots[2],
                        const uint32_t only[2])
{
    int cb = kvs_lmc_is_cb((kvs_lmc_role)t->spans[j].role);
    const kvs_span *s = t->spans[j].span;
    for (int depth = 0; depth < 8; depth++) {
        int k = find_span(t, sorted, &s->parent_span_id);
        if (k < 0)
            break;
        kvs_lmc_role pr = (kvs_lmc_role)t->spans[k].role;
        if (kvs_lmc_is_root(pr))
            return kvs_lmc_is_cb(pr) == cb ? t->spans[k].aux : NONE;
        s = t->spans[k].span;
    }
    return nroots[cb] == 1 ? only[cb] : NONE;
}

/* ---- phases ---- */

static void pull_partners(lc_window *w)
{
    for (size_t i = 0; i < w->nchunk; i++) {
        lc_trace *t = w->chunk[i];
        for (uint32_t j = 0; j < t->n; j++) {
            kvs_lmc_role role = (kvs_lmc_role)t->spans[j].role;
            lc_index *ix;
            const char *key;
            if (kvs_lmc_is_root(role) && w->engine_join)
                ix = &w->by_request;
            else if (role == KVS_LMC_ENGINE)
                ix = &w->by_session;
            else
                continue;
            key = t->spans[j].key;
            if (!key || !*key)
                continue;
            uint64_t h = t->spans[j].khash;
            for (lc_ientry *e = lc_index_find(ix, key, h); e; e = lc_index_next(ix, e, key, h))
                if (e->t->state != LC_RELEASING)
                    lc_claim(w, e->t, KVS_LMC_REL_PARTNER);
        }
    }
}

static void emit_child(rel_ctx *x, lc_trace *t, lc_span *s);

/* Held spans are cold by the time they go out: ask for the span messages
 * two traces ahead and for their attribute arrays one trace ahead. */
static void prefetch_ahead(const lc_window *w, size_t i)
{
    if (i + 2 < w->nchunk) {
        const lc_trace *t = w->chunk[i + 2];
        for (uint32_t j = 0; j < t->n; j++)
            __builtin_prefetch(t->spans[j].span);
    }
    if (i + 1 < w->nchunk) {
        const lc_trace *t = w->chunk[i + 1];
        for (uint32_t j = 0; j < t->n; j++) {
            kvs_kv **a = t->spans[j].span->attributes;
            __builtin_prefetch(a);
            if (t->spans[j].span->n_attributes)
                __builtin_prefetch(a[0]);
        }
    }
}

static int compute_records(rel_ctx *x)
{
    lc_window *w = x->w;
    size_t nroots = 0, nengs = 0;
    for (size_t i = 0; i < w->nchunk; i++)
        for (uint32_t j = 0; j < w->chunk[i]->n; j++) {
            kvs_lmc_role role = (kvs_lmc_role)w->chunk[i]->spans[j].role;
            nroots += kvs_lmc_is_root(role);
            nengs += role == KVS_LMC_ENGINE;
        }
    if (nroots > w->caprecs) {
        size_t cap = nroots > 2 * w->caprecs ? nroots : 2 * w->caprecs;
        void *g = realloc(w->recs, cap * sizeof *x->recs);
        if (!g)
            return -1;
        w->recs = g, w->caprecs = cap;
    }
    if (nengs > w->capengs) {
        size_t cap = nengs > 2 * w->capengs ? nengs : 2 * w->capengs;
        void *g = realloc(w->engs, cap * sizeof *x->engs);
        if (!g)
            return -1;
        w->engs = g, w->capengs = cap;
    }
    x->recs = w->recs;
    x->engs = w->engs;
    for (size_t i = 0; i < w->nchunk; i++) {
        lc_trace *t = w->chunk[i];
        prefetch_ahead(w, i);
        size_t nroots_of[2] = { 0, 0 };
        uint32_t only[2] = { NONE, NONE };
        for (uint32_t j = 0; j < t->n; j++) {
            lc_span *s = &t->spans[j];
            s->aux = NONE;
            if (kvs_lmc_is_root((kvs_lmc_role)s->role)) {
                rec *r = &x->recs[x->nrec];
                kvs_lmc_request_init(&r->r);
                r->t = t, r->idx = j, r->joined = r->same = 0;
                kvs_lmc_request_add(&r->r, (kvs_lmc_role)s->role, s->span);
                s->aux = (uint32_t)x->nrec++;
                int cb = s->role == KVS_LMC_ROOT_CB;
                nroots_of[cb]++;
                only[cb] = s->aux;
            } else if (s->role == KVS_LMC_ENGINE) {
                eng *e = &x->engs[x->neng];
                kvs_lmc_engine_read(s->span, &e->e);
                e->has_o = e->same = 0;
                s->aux = (uint32_t)x->neng++;
            }
        }
        span_key *sorted = NULL;
        if (t->n > SCAN_MAX && (sorted = malloc(t->n * sizeof *sorted))) {
            for (uint32_t j = 0; j < t->n; j++) {
                const ProtobufCBinaryData *id = &t->spans[j].span->span_id;
                sorted[j].id = 0;
                if (id->len == 8)
                    memcpy(&sorted[j].id, id->data, 8);
                sorted[j].idx = j;
            }
            qsort(sorted, t->n, sizeof *sorted, cmp_sid);
        }
        for (uint32_t j = 0; j < t->n; j++) {
            lc_span *s = &t->spans[j];
            kvs_lmc_role role = (kvs_lmc_role)s->role;
            if (!kvs_lmc_is_lmcache(role) || kvs_lmc_is_root(role))
                continue;
            s->aux = resolve(t, sorted, j, nroots_of, only);
            emit_child(x, t, s);
        }
        free(sorted);
    }
    for (size_t i = 0; i < x->nrec; i++) {
        kvs_lmc_request *r = &x->recs[i].r;
        lc_trace *t = x->recs[i].t;
        kvs_lmc_request_finish(r);
        if (t->late)
            kvs_lmc_set_i(r, KVS_LMC_F_LATE, 1);
        if (t->reason == KVS_LMC_REL_MAX_SPANS || t->reason == KVS_LMC_REL_MAX_TRACES)
            kvs_lmc_set_s(r, KVS_LMC_F_EARLY_RELEASE,
                          t->reason == KVS_LMC_REL_MAX_SPANS ? "max_spans" : "max_traces");
        w->st.requests++;
        w->st.parse_errors += r->nerr;
        w->st.store_only += kvs_lmc_has(r, KVS_LMC_F_STORE_ONLY) && kvs_lmc_i(r, KVS_LMC_F_STORE_ONLY);
        w->st.timeouts += kvs_lmc_has(r, KVS_LMC_F_TIMEOUTS) ? (uint64_t)kvs_lmc_i(r, KVS_LMC_F_TIMEOUTS) : 0;
    }
    return 0;
}

static void set_link(rec *r, const uint8_t trace[16], const uint8_t span[8])
{
    memcpy(r->link_trace, trace, 16);
    memcpy(r->link_span, span, 8);
}

static void join_engines(rel_ctx *x)
{
    lc_window *w = x->w;
    if (!w->engine_join)
        return;
    for (size_t i = 0; i < w->nchunk; i++) {
        lc_trace *t = w->chunk[i];
        for (uint32_t j = 0; j < t->n; j++) {
            if (t->spans[j].role != KVS_LMC_ENGINE)
                continue;
            eng *e = &x->engs[t->spans[j].aux];
            const char *rid = e->e.request_id;
            if (!rid || !*rid)
                continue;
            uint64_t h = lc_hash_str(rid);
            for (lc_ientry *ie = lc_index_find(&w->by_session, rid, h); ie;
                 ie = lc_index_next(&w->by_session, ie, rid, h)) {
                if (ie->t->state != LC_RELEASING)
                    continue;
                rec *r = &x->recs[ie->t->spans[ie->idx].aux];
                int same = ie->t == t;
                if (!r->joined) {
                    kvs_lmc_request_set_engine(&r->r, &e->e, same);
                    r->joined = 1, r->same = same;
                    set_link(r, e->e.trace_id, e->e.span_id);
                }
                if (!e->has_o) {
                    kvs_lmc_outcome_from(&r->r, ie->t->spans[ie->idx].span, &e->o);
                    e->has_o = 1, e->same = same;
                }
            }
            if (!e->has_o) {
                const kvs_lmc_outcome *o = lc_ring_find(&w->recent, rid, strlen(rid), LC_RING_OUTCOME);
                if (o) {
                    e->o = *o;
                    e->has_o = 1;
                    e->same = memcmp(o->trace_id, t->id, 16) == 0;
                }
            }
            if (e->has_o)
                e->same ? w->st.joins_same_trace++ : w->st.joins_cross_trace++;
            else
                w->st.engine_unjoined++;
        }
    }
    /* LMCache requests whose engine span left earlier. */
    for (size_t i = 0; i < x->nrec; i++) {
        rec *r = &x->recs[i];
        if (r->joined || !kvs_lmc_has(&r->r, KVS_LMC_F_SESSION_ID))
            continue;
        const char *sid = kvs_lmc_s(&r->r, KVS_LMC_F_SESSION_ID);
        const kvs_lmc_engine *e = lc_ring_find(&w->recent, sid, strlen(sid), LC_RING_ENGINE);
        if (!e)
            continue;
        int same = memcmp(e->trace_id, r->t->id, 16) == 0;
        kvs_lmc_request_set_engine(&r->r, e, same);
        r->joined = 1, r->same = same;
        set_link(r, e->trace_id, e->span_id);
        same ? w->st.joins_same_trace++ : w->st.joins_cross_trace++;
    }
}

/* What a partner coming later needs: the outcome of LMCache requests and
 * the values of engine spans that were not joined, and the ids of the
 * traces that left (for late spans). */
static void remember(rel_ctx *x)
{
    lc_window *w = x->w;
    for (size_t i = 0; i < x->nrec; i++) {
        rec *r = &x->recs[i];
        if (r->joined || !kvs_lmc_has(&r->r, KVS_LMC_F_SESSION_ID))
            continue;
        kvs_lmc_outcome *o = malloc(sizeof *o);
        if (!o)
            continue;
        kvs_lmc_outcome_from(&r->r, r->t->spans[r->idx].span, o);
        const char *sid = kvs_lmc_s(&r->r, KVS_LMC_F_SESSION_ID);
        lc_ring_put(&w->recent, sid, strlen(sid), LC_RING_OUTCOME, o);
    }
    for (size_t i = 0; i < x->neng; i++) {
        const char *rid = x->engs[i].e.request_id;
        if (x->engs[i].has_o || !rid || !*rid)
            continue;
        kvs_lmc_engine *e = malloc(sizeof *e);
        if (!e)
            continue;
        *e = x->engs[i].e;
        e->request_id = NULL;
        lc_ring_put(&w->recent, rid, strlen(rid), LC_RING_ENGINE, e);
    }
    for (size_t i = 0; i < w->nchunk; i++)
        if (!w->chunk[i]->late)
            lc_ring_put(&w->gone, w->chunk[i]->id, 16, LC_RING_TRACE, NULL);
}

/* ---- output ---- */

/* The output groups spans by their (resource, scope): a group per scope
 * message (a scope message belongs to one resource message), found
 * through a table stamped with the output's serial (never cleared). */
typedef struct grp {
    kvs_resource_spans *rs;
    kvs_scope_spans *ss;
    size_t n, off, first;
} grp;

#define GTAB (2 * LC_OUT_MAX)

static int cmp_grp(const void *a, const void *b)
{
    const grp *x = a, *y = b;
    if (x->rs != y->rs)
        return (uintptr_t)x->rs < (uintptr_t)y->rs ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Gives the current output its resource/scope structure and parents. */
static int finish_out(rel_ctx *x)
{
    kvs_batch *out = x->out;
    x->out = NULL;
    if (!out)
        return 0;
    lc_window *w = x->w;
    size_t n = x->nents;
    x->nents = 0;
    kvs_arena *a = out->arena;
    uint64_t serial = ++w->out_serial;
    if (!w->gtab)
        w->gtab = calloc(GTAB, sizeof *w->gtab);
    if (!w->grps)
        w->grps = malloc(LC_OUT_MAX * sizeof(grp));
    grp *g = w->grps;
    kvs_span **spans = kvs_arena_alloc(a, (n ? n : 1) * sizeof *spans);
    uint32_t *gi = kvs_arena_alloc(a, (n ? n : 1) * sizeof *gi);
    int ok = w->gtab && g && spans && gi;
    size_t ng = 0;
    for (size_t i = 0; ok && i < n; i++) {
        kvs_scope_spans *ss = x->ents[i].ss;
        size_t h = ((uintptr_t)ss >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 40;
        for (;; h++) {
            lc_gslot *sl = &w->gtab[h & (GTAB - 1)];
            if (sl->stamp != serial) {
                *sl = (lc_gslot){ ss, serial, (uint32_t)ng };
                g[ng++] = (grp){ x->ents[i].rs, ss, 0, 0, i };
            }
            if (sl->ss == ss) {
                gi[i] = sl->idx;
                g[sl->idx].n++;
                break;
            }
        }
    }
    /* Groups in resource order, then the spans in group order. */
    uint32_t *order = ok ? kvs_arena_alloc(a, (ng ? ng : 1) * sizeof *order) : NULL;
    ok = ok && order;
    if (ok && ng > 1) {
        for (size_t i = 0; i < ng; i++)
            g[i].off = i; /* remember the index through the sort */
        qsort(g, ng, sizeof *g, cmp_grp);
        for (size_t i = 0; i < ng; i++)
            order[g[i].off] = (uint32_t)i;
    } else if (ok && ng == 1) {
        order[0] = 0;
    }
    size_t nrs = 0, off = 0;
    for (size_t i = 0; ok && i < ng; i++) {
        g[i].off = off, off += g[i].n, g[i].n = 0;
        nrs += i == 0 || g[i].rs != g[i - 1].rs;
    }
    for (size_t i = 0; ok && i < n; i++) {
        grp *k = &g[order[gi[i]]];
        spans[k->off + k->n++] = x->ents[i].span;
    }
    kvs_resource_spans **rsv = ok ? kvs_arena_alloc(a, (nrs ? nrs : 1) * sizeof *rsv) : NULL;
    kvs_scope_spans **ssv = ok ? kvs_arena_alloc(a, (ng ? ng : 1) * sizeof *ssv) : NULL;
    ok = ok && rsv && ssv;
    size_t r = 0;
    for (size_t i = 0; ok && i < ng; i++) {
        kvs_scope_spans *ss = kvs_arena_alloc(a, sizeof *ss);
        if (!ss) {
            ok = 0;
            break;
        }
        *ss = *g[i].ss;
        ss->spans = spans + g[i].off;
        ss->n_spans = g[i].n;
        ssv[i] = ss;
        if (i == 0 || g[i].rs != g[i - 1].rs) {
            kvs_resource_spans *rs = kvs_arena_alloc(a, sizeof *rs);
            if (!rs) {
                ok = 0;
                break;
            }
            *rs = *g[i].rs;
            rs->scope_spans = ssv + i;
            rs->n_scope_spans = 0;
            rsv[r++] = rs;
        }
        rsv[r - 1]->n_scope_spans++;
    }
    for (size_t i = 0; ok && i < n; i++) {
        lc_seg *sg = x->ents[i].seg;
        if (sg->stamp != serial) {
            sg->stamp = serial;
            ok = kvs_batch_add_parent(out, sg->b) == 0;
        }
    }
    if (ok && x->nouts == x->capouts) {
        size_t cap = x->capouts ? x->capouts * 2 : 8;
        kvs_batch **grown = realloc(x->outs, cap * sizeof *grown);
        ok = grown != NULL;
        if (ok)
            x->outs = grown, x->capouts = cap;
    }
    if (!ok) {
        x->lost += n;
        kvs_batch_unref(out);
        return -1;
    }
    out->traces->resource_spans = rsv;
    out->traces->n_resource_spans = r;
    kvs_batch_recount(out);
    x->outs[x->nouts++] = out;
    return 0;
}

static kvs_arena *cur_arena(rel_ctx *x)
{
    if (x->out && x->nents >= LC_OUT_MAX)
        finish_out(x);
    if (!x->out) {
        x->out = kvs_batch_new(KVS_SIG_TRACES);
        if (!x->out)
            return NULL;
        kvs_lmc_attrs_init(&x->b, x->out->arena, x->w->prefix);
    }
    return x->out->arena;
}

/* A shallow copy of s with the builder's attributes; NULL when out of memory. */
static kvs_span *annotated(rel_ctx *x, const kvs_span *s)
{
    if (x->b.oom)
        return NULL;
    kvs_span *c = kvs_arena_alloc(x->out->arena, sizeof *c);
    if (!c)
        return NULL;
    *c = *s;
    c->attributes = x->b.v;
    c->n_attributes = x->b.n;
    return c;
}

static void add_link(rel_ctx *x, kvs_span *c, const uint8_t trace[16], const uint8_t span[8])
{
    kvs_arena *a = x->out->arena;
    kvs_span_link *l = kvs_arena_alloc(a, sizeof *l);
    kvs_kv *kv = kvs_arena_alloc(a, sizeof *kv + sizeof(kvs_any));
    kvs_kv **attrs = kvs_arena_alloc(a, sizeof *attrs);
    uint8_t *ids = kvs_arena_alloc(a, 24);
    kvs_span_link **links = kvs_arena_alloc(a, (c->n_links + 1) * sizeof *links);
    if (!l || !kv || !attrs || !ids || !links)
        return;
    opentelemetry__proto__trace__v1__span__link__init(l);
    opentelemetry__proto__common__v1__key_value__init(kv);
    kvs_any *v = (kvs_any *)(kv + 1);
    opentelemetry__proto__common__v1__any_value__init(v);
    kv->key = (char *)"kvscope.link";
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = (char *)"lmcache_engine";
    kv->value = v;
    attrs[0] = kv;
    memcpy(ids, trace, 16);
    memcpy(ids + 16, span, 8);
    l->trace_id.data = ids, l->trace_id.len = 16;
    l->span_id.data = ids + 16, l->span_id.len = 8;
    l->attributes = attrs, l->n_attributes = 1;
    if (c->n_links)
        memcpy(links, c->links, c->n_links * sizeof *links);
    links[c->n_links] = l;
    c->links = links;
    c->n_links++;
}

/* A root or an engine span (children went out with emit_child). */
static void emit_span(rel_ctx *x, lc_span *s)
{
    kvs_lmc_role role = (kvs_lmc_role)s->role;
    if (!kvs_lmc_is_root(role) && role != KVS_LMC_ENGINE)
        return;
    if (!cur_arena(x)) {
        x->lost++;
        return;
    }
    const kvs_span *o = s->span;
    kvs_span *c = NULL;
    x->b.oom = 0;
    if (kvs_lmc_is_root(role)) {
        rec *r = &x->recs[s->aux];
        kvs_lmc_attrs_start(&x->b, o->attributes, o->n_attributes, KVS_LMC_NFIELDS);
        kvs_lmc_annotate_root(&r->r, &x->b);
        if ((c = annotated(x, o)) && r->joined && !r->same)
            add_link(x, c, r->link_trace, r->link_span);
    } else if (role == KVS_LMC_ENGINE) {
        eng *e = &x->engs[s->aux];
        if (e->has_o) {
            kvs_lmc_attrs_start(&x->b, o->attributes, o->n_attributes, KVS_LMC_OUTCOME_MAX + 1);
            kvs_lmc_annotate_engine(&e->o, e->same, &x->b);
            if ((c = annotated(x, o)) && !e->same)
                add_link(x, c, e->o.trace_id, e->o.span_id);
        }
    }
    x->ents[x->nents] = (out_ent){ c ? c : s->span, s->rs, s->ss, s->seg };
    x->nents++;
}

/* A child span: adds it to its record (when it has one) and writes its
 * own annotations, parsing it once. */
static void emit_child(rel_ctx *x, lc_trace *t, lc_span *s)
{
    lc_window *w = x->w;
    kvs_lmc_role role = (kvs_lmc_role)s->role;
    const kvs_span *o = s->span;
    kvs_lmc_request *r = s->aux != NONE ? &x->recs[s->aux].r : NULL;
    if (!cur_arena(x)) {
        if (r)
            kvs_lmc_request_add(r, role, o);
        x->lost++;
        return;
    }
    x->b.oom = 0;
    kvs_lmc_attrs_start(&x->b, o->attributes, o->n_attributes, 12);
    w->st.parse_errors += kvs_lmc_request_add_child(r, role, o, &x->b);
    if (!r) {
        w->st.orphans++;
        kvs_lmc_attrs_add_bool(&x->b, kvs_lmc_attrs_key(&x->b, KVS_LMC_F_ORPHAN), 1);
        if (t->reason == KVS_LMC_REL_MAX_SPANS || t->reason == KVS_LMC_REL_MAX_TRACES)
            kvs_lmc_attrs_add_str(&x->b, kvs_lmc_attrs_key(&x->b, KVS_LMC_F_EARLY_RELEASE),
                                  t->reason == KVS_LMC_REL_MAX_SPANS ? "max_spans" : "max_traces");
    }
    if (t->late) {
        w->st.late_spans++;
        kvs_lmc_attrs_add_bool(&x->b, kvs_lmc_attrs_key(&x->b, KVS_LMC_F_LATE), 1);
    }
    kvs_span *c = annotated(x, o);
    x->ents[x->nents] = (out_ent){ c ? c : s->span, s->rs, s->ss, s->seg };
    x->nents++;
}

int lc_release(lc_window *w, kvs_batch ***outs, size_t *nouts)
{
    *outs = NULL;
    *nouts = 0;
    w->nchunk = 0;
    while (w->relpos < w->nrel && w->nchunk < LC_CHUNK) {
        lc_trace *t = w->rel[w->relpos++];
        if (t)
            lc_claim(w, t, t->reason);
    }
    if (!w->nchunk) {
        if (w->relpos == w->nrel)
            w->relpos = w->nrel = 0;
        return 0;
    }
    rel_ctx x = { .w = w };
    pull_partners(w);
    if (!w->ents)
        w->ents = malloc(LC_OUT_MAX * sizeof *x.ents);
    x.ents = w->ents;
    if (!x.ents || compute_records(&x) != 0) {
        /* Out of memory: count the spans as lost, free the traces. */
        for (size_t i = 0; i < w->nchunk; i++)
            x.lost += w->chunk[i]->n;
    } else {
        join_engines(&x);
        for (size_t i = 0; i < w->nchunk; i++) {
            lc_trace *t = w->chunk[i];
            for (uint32_t j = 0; j < t->n; j++)
                emit_span(&x, &t->spans[j]);
        }
        finish_out(&x);
        remember(&x);
    }
    for (size_t i = 0; i < w->nchunk; i++) {
        lc_trace *t = w->chunk[i];
        w->st.traces_released[t->reason]++;
        w->st.spans_released[t->reason] += t->n;
        lc_trace_free(w, t);
    }
    w->nchunk = 0;
    if (w->relpos == w->nrel)
        w->relpos = w->nrel = 0;
    w->st.spans_lost += x.lost;
    *outs = x.outs;
    *nouts = x.nouts;
    return x.lost ? -1 : 0;
}
