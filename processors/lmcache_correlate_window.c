/* The trace window of processor lmcache_correlate (see
 * processors/lmcache_correlate_window.h): the trace table, the age and
 * root lists, the join indexes, the rings of what already left, and the
 * release policy (what is due, what goes first when the window is full). */
#include "processors/lmcache_correlate_window.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>


static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * UINT64_C(0xBF58476D1CE4E5B9);
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * UINT64_C(0x94D049BB133111EB);
    return h ^ (h >> 32);
}

uint64_t lc_hash_str(const char *s) { return hash_bytes(s, strlen(s)); }

uint64_t lc_hash_id(const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ (b * UINT64_C(0x9E3779B97F4A7C15))) * UINT64_C(0xBF58476D1CE4E5B9);
    return h ^ (h >> 31);
}

const char *lc_session_of(const kvs_span *s) { return kvs_lmc_attr_str(s->attributes, s->n_attributes, "session_id"); }

const char *lc_request_id_of(const kvs_span *s)
{
    return kvs_lmc_attr_str(s->attributes, s->n_attributes, "gen_ai.request.id");
}

/* ---- string multimap ---- */

static int index_init(lc_index *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->nb = 1024;
    ix->buckets = malloc(ix->nb * sizeof *ix->buckets);
    if (!ix->buckets)
        return -1;
    memset(ix->buckets, 0xff, ix->nb * sizeof *ix->buckets);
    ix->free = -1;
    return 0;
}

static void index_free(lc_index *ix)
{
    free(ix->e);
    free(ix->buckets);
}

static int index_grow(lc_index *ix)
{
    size_t cap = ix->cap ? ix->cap * 2 : 1024;
    lc_ientry *e = realloc(ix->e, cap * sizeof *e);
    if (!e)
        return -1;
    ix->e = e;
    ix->cap = cap;
    if (cap > ix->nb) {
        int32_t *b = malloc(cap * sizeof *b);
        if (!b)
            return 0; /* keep the old buckets: longer chains, still correct */
        memset(b, 0xff, cap * sizeof *b);
        free(ix->buckets);
        ix->buckets = b;
        ix->nb = cap;
        /* Rehash the live entries (free ones have t == NULL). */
        for (size_t i = 0; i < ix->used; i++) {
            if (!ix->e[i].t)
                continue;
            size_t k = ix->e[i].hash & (ix->nb - 1);
            ix->e[i].next = ix->buckets[k];
            ix->buckets[k] = (int32_t)i;
        }
    }
    return 0;
}

void lc_index_put(lc_index *ix, const char *key, uint64_t h, lc_trace *t, uint32_t idx)
{
    int32_t i;
    if (ix->free >= 0) {
        i = ix->free;
        ix->free = ix->e[i].next;
    } else {
        if (ix->used == ix->cap && index_grow(ix) != 0)
            return; /* out of memory: that span joins nothing */
        i = (int32_t)ix->used++;
    }
    size_t k = h & (ix->nb - 1);
    ix->e[i] = (lc_ientry){ key, h, t, idx, ix->buckets[k] };
    ix->buckets[k] = i;
}

static void index_del(lc_index *ix, uint64_t h, lc_trace *t, uint32_t idx)
{
    int32_t *p = &ix->buckets[h & (ix->nb - 1)];
    while (*p >= 0) {
        lc_ientry *e = &ix->e[*p];
        if (e->t == t && e->idx == idx) {
            int32_t i = *p;
            *p = e->next;
            e->t = NULL;
            e->next = ix->free;
            ix->free = i;
            return;
        }
        p = &e->next;
    }
}

lc_ientry *lc_index_next(lc_index *ix, lc_ientry *e, const char *key, uint64_t h)
{
    for (int32_t i = e->next; i >= 0; i = ix->e[i].next)
        if (ix->e[i].hash == h && strcmp(ix->e[i].key, key) == 0)
            return &ix->e[i];
    return NULL;
}

lc_ientry *lc_index_find(lc_index *ix, const char *key, uint64_t h)
{
    for (int32_t i = ix->buckets[h & (ix->nb - 1)]; i >= 0; i = ix->e[i].next)
        if (ix->e[i].hash == h && strcmp(ix->e[i].key, key) == 0)
            return &ix->e[i];
    return NULL;
}

/* ---- rings ---- */

int lc_ring_init(lc_ring *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->cap = cap ? cap : 1;
    r->nb = 256; /* grows with the entries (ring_grow) */
    r->buckets = malloc(r->nb * sizeof *r->buckets);
    if (!r->buckets)
        return -1;
    memset(r->buckets, 0xff, r->nb * sizeof *r->buckets);
    return 0;
}

static const char *ring_key(const lc_ring_entry *e) { return e->klen < sizeof e->kbuf ? e->kbuf : e->key; }

static void ring_entry_free(lc_ring_entry *e)
{
    if (e->klen >= sizeof e->kbuf)
        free(e->key);
    free(e->payload);
}

void lc_ring_free(lc_ring *r)
{
    for (size_t i = 0; i < r->n; i++)
        ring_entry_free(&r->e[i]);
    free(r->e);
    free(r->buckets);
}

static void ring_unlink(lc_ring *r, int32_t i)
{
    int32_t *p = &r->buckets[r->e[i].hash & (r->nb - 1)];
    while (*p >= 0 && *p != i)
        p = &r->e[*p].next;
    if (*p == i)
        *p = r->e[i].next;
}

/* More entries (up to cap), and buckets as many as entries. */
static int ring_grow(lc_ring *r)
{
    size_t a = r->alloc ? r->alloc * 2 : 256;
    if (a > r->cap)
        a = r->cap;
    lc_ring_entry *e = realloc(r->e, a * sizeof *e);
    if (!e)
        return -1;
    r->e = e;
    r->alloc = a;
    if (a > r->nb) {
        size_t nb = r->nb;
        while (nb < a)
            nb *= 2;
        int32_t *b = malloc(nb * sizeof *b);
        if (!b)
            return 0; /* keep the old buckets: longer chains, still correct */
        memset(b, 0xff, nb * sizeof *b);
        for (size_t i = 0; i < r->n; i++) {
            size_t k = r->e[i].hash & (nb - 1);
            r->e[i].next = b[k];
            b[k] = (int32_t)i;
        }
        free(r->buckets);
        r->buckets = b;
        r->nb = nb;
    }
    return 0;
}

void lc_ring_put(lc_ring *r, const void *key, size_t klen, uint8_t kind, void *payload)
{
    char *heap = NULL;
    if (klen >= sizeof r->e->kbuf) {
        if (!(heap = malloc(klen + 1))) {
            free(payload);
            return;
        }
        memcpy(heap, key, klen);
        heap[klen] = 0;
    }
    int32_t i;
    if (r->n < r->cap) {
        if (r->n == r->alloc && ring_grow(r) != 0) {
            free(heap);
            free(payload);
            return;
        }
        i = (int32_t)r->n++;
    } else {
        i = (int32_t)r->head;
        r->head = (r->head + 1) % r->cap;
        ring_unlink(r, i);
        ring_entry_free(&r->e[i]);
    }
    uint64_t h = hash_bytes(key, klen) ^ kind;
    size_t b = h & (r->nb - 1);
    lc_ring_entry *e = &r->e[i];
    e->hash = h, e->key = heap, e->klen = klen, e->payload = payload, e->next = r->buckets[b], e->kind = kind;
    if (!heap) {
        memcpy(e->kbuf, key, klen);
        e->kbuf[klen] = 0;
    }
    r->buckets[b] = i;
}

static const lc_ring_entry *ring_lookup(const lc_ring *r, const void *key, size_t klen, uint8_t kind)
{
    uint64_t h = hash_bytes(key, klen) ^ kind;
    /* The newest entry for a key comes first in its chain. */
    for (int32_t i = r->buckets[h & (r->nb - 1)]; i >= 0; i = r->e[i].next)
        if (r->e[i].hash == h && r->e[i].kind == kind && r->e[i].klen == klen &&
            memcmp(ring_key(&r->e[i]), key, klen) == 0)
            return &r->e[i];
    return NULL;
}

void *lc_ring_find(const lc_ring *r, const void *key, size_t klen, uint8_t kind)
{
    const lc_ring_entry *e = ring_lookup(r, key, klen, kind);
    return e ? e->payload : NULL;
}

int lc_ring_has(const lc_ring *r, const void *key, size_t klen, uint8_t kind)
{
    return ring_lookup(r, key, klen, kind) != NULL;
}

/* ---- the window ---- */

int lc_window_init(lc_window *w)
{
    w->nbuckets = 1024;
    w->buckets = calloc(w->nbuckets, sizeof *w->buckets);
    size_t ring = w->max_traces < 1024 ? 1024 : (size_t)w->max_traces;
    if (!w->buckets || index_init(&w->by_session) || index_init(&w->by_request) ||
        lc_ring_init(&w->recent, ring) || lc_ring_init(&w->gone, ring))
        return -1;
    return 0;
}

void lc_seg_release(lc_window *w, lc_seg *s, uint64_t spans)
{
    s->held -= spans;
    /* A received request being held is open until all its spans went in;
     * the copy segment is freed as soon as nothing in it is held. */
    if (s->held == 0 && (!s->open || s == w->copy)) {
        if (s == w->copy)
            w->copy = NULL;
        w->held_bytes -= s->bytes;
        kvs_batch_unref(s->b);
        free(s);
    }
}

static void age_remove(lc_window *w, lc_trace *t)
{
    if (t->aprev)
        t->aprev->anext = t->anext;
    else
        w->age_head = t->anext;
    if (t->anext)
        t->anext->aprev = t->aprev;
    else
        w->age_tail = t->aprev;
    t->aprev = t->anext = NULL;
}

static void root_remove(lc_window *w, lc_trace *t)
{
    if (!t->in_root)
        return;
    if (t->rprev)
        t->rprev->rnext = t->rnext;
    else
        w->root_head = t->rnext;
    if (t->rnext)
        t->rnext->rprev = t->rprev;
    else
        w->root_tail = t->rprev;
    t->rprev = t->rnext = NULL;
    t->in_root = 0;
}

static void root_append(lc_window *w, lc_trace *t)
{
    root_remove(w, t);
    t->rprev = w->root_tail;
    if (w->root_tail)
        w->root_tail->rnext = t;
    else
        w->root_head = t;
    w->root_tail = t;
    t->in_root = 1;
}

void lc_trace_free(lc_window *w, lc_trace *t)
{
    /* Index entries first: their keys point into the segments. */
    for (uint32_t i = 0; i < t->n; i++) {
        lc_span *s = &t->spans[i];
        if (s->key)
            index_del(s->role == KVS_LMC_ENGINE ? &w->by_request : &w->by_session, s->khash, t, i);
    }
    for (uint32_t i = 0; i < t->n; i++)
        lc_seg_release(w, t->spans[i].seg, 1);
    if (t->spans != t->inl)
        free(t->spans);
    if (w->nspare < 4096) {
        t->hnext = w->spare;
        w->spare = t;
        w->nspare++;
    } else {
        free(t);
    }
}

void lc_window_free(lc_window *w)
{
    for (size_t i = w->relpos; i < w->nrel; i++)
        if (w->rel[i])
            lc_trace_free(w, w->rel[i]);
    for (size_t i = 0; i < w->nchunk; i++)
        lc_trace_free(w, w->chunk[i]);
    free(w->chunk);
    free(w->recs);
    free(w->engs);
    free(w->ents);
    free(w->gtab);
    free(w->grps);
    while (w->spare) {
        lc_trace *t = w->spare;
        w->spare = t->hnext;
        free(t);
    }
    while (w->age_head) {
        lc_trace *t = w->age_head;
        age_remove(w, t);
        lc_trace_free(w, t);
    }
    if (w->copy)
        lc_seg_release(w, w->copy, 0);
    free(w->rel);
    free(w->buckets);
    index_free(&w->by_session);
    index_free(&w->by_request);
    lc_ring_free(&w->recent);
    lc_ring_free(&w->gone);
}

lc_trace *lc_trace_find(lc_window *w, const uint8_t id[16], uint64_t h)
{
    for (lc_trace *t = w->buckets[h & (w->nbuckets - 1)]; t; t = t->hnext)
        if (t->hash == h && memcmp(t->id, id, 16) == 0)
            return t;
    return NULL;
}

static void table_grow(lc_window *w)
{
    size_t nb = w->nbuckets * 2;
    lc_trace **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains */
    for (size_t i = 0; i < w->nbuckets; i++)
        for (lc_trace *t = w->buckets[i], *next; t; t = next) {
            next = t->hnext;
            lc_trace **head = &b[t->hash & (nb - 1)];
            t->hnext = *head;
            if (*head)
                (*head)->hprev = &t->hnext;
            t->hprev = head;
            *head = t;
        }
    free(w->buckets);
    w->buckets = b;
    w->nbuckets = nb;
}

lc_trace *lc_trace_new(lc_window *w, const uint8_t id[16], uint64_t h, uint64_t now)
{
    lc_trace *t = w->spare;
    if (t)
        w->spare = t->hnext, w->nspare--;
    else if (!(t = malloc(sizeof *t)))
        return NULL;
    memset(t, 0, offsetof(lc_trace, inl));
    t->spans = t->inl;
    t->cap = LC_INLINE;
    memcpy(t->id, id, 16);
    t->hash = h;
    t->first_ns = now;
    if (w->ntraces >= w->nbuckets)
        table_grow(w);
    lc_trace **head = &w->buckets[h & (w->nbuckets - 1)];
    t->hnext = *head;
    if (*head)
        (*head)->hprev = &t->hnext;
    t->hprev = head;
    *head = t;
    t->aprev = w->age_tail;
    if (w->age_tail)
        w->age_tail->anext = t;
    else
        w->age_head = t;
    w->age_tail = t;
    w->ntraces++;
    if (w->ntraces > w->st.peak_traces)
        w->st.peak_traces = w->ntraces;
    return t;
}

int lc_trace_add(lc_window *w, lc_trace *t, const lc_span *s, uint64_t now)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap * 2;
        lc_span *g = t->spans == t->inl ? malloc(cap * sizeof *g) : realloc(t->spans, cap * sizeof *g);
        if (!g)
            return -1;
        if (t->spans == t->inl)
            memcpy(g, t->inl, sizeof t->inl);
        t->spans = g;
        t->cap = cap;
    }
    uint32_t i = t->n++;
    lc_span *h = &t->spans[i];
    *h = *s;
    h->seg->held++;
    w->held_spans++;
    if (w->held_spans > w->st.peak_spans)
        w->st.peak_spans = w->held_spans;
    kvs_lmc_role role = (kvs_lmc_role)s->role;
    h->key = NULL;
    if (kvs_lmc_is_root(role))
        h->key = lc_session_of(s->span);
    else if (role == KVS_LMC_ENGINE)
        h->key = lc_request_id_of(s->span), w->engines_seen = 1;
    if (h->key) {
        h->khash = lc_hash_str(h->key);
        lc_index_put(role == KVS_LMC_ENGINE ? &w->by_request : &w->by_session, h->key, h->khash, t, i);
    }
    if (kvs_lmc_is_root(role) || role == KVS_LMC_ENGINE || s->span->parent_span_id.len == 0) {
        t->root_ns = now;
        root_append(w, t);
    }
    return 0;
}

static int push(lc_trace ***v, size_t *n, size_t *cap, lc_trace *t)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        lc_trace **g = realloc(*v, c * sizeof *g);
        if (!g)
            return -1;
        *v = g;
        *cap = c;
    }
    (*v)[(*n)++] = t;
    return 0;
}

int lc_detach(lc_window *w, lc_trace *t, int reason)
{
    if (t->state != LC_HELD)
        return 0;
    if (push(&w->rel, &w->nrel, &w->caprel, t) != 0)
        return -1;
    *t->hprev = t->hnext;
    if (t->hnext)
        t->hnext->hprev = t->hprev;
    age_remove(w, t);
    root_remove(w, t);
    t->state = LC_PENDING;
    t->reason = (uint8_t)reason;
    t->relidx = w->nrel - 1;
    w->ntraces--;
    w->held_spans -= t->n;
    return 0;
}

int lc_claim(lc_window *w, lc_trace *t, int reason)
{
    if (t->state == LC_RELEASING)
        return 0;
    if (t->state == LC_HELD && lc_detach(w, t, reason) != 0)
        return -1;
    if (push(&w->chunk, &w->nchunk, &w->capchunk, t) != 0)
        return -1;
    w->rel[t->relidx] = NULL;
    t->state = LC_RELEASING;
    return 0;
}

/* An LMCache root of t whose engine request has not been seen anywhere
 * yet (only once the engine is known to be traced into this pipeline). */
static int waiting_for_engine(lc_window *w, lc_trace *t)
{
    if (!w->engine_join || !w->engines_seen)
        return 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (!kvs_lmc_is_root((kvs_lmc_role)t->spans[i].role))
            continue;
        const char *sid = t->spans[i].key;
        if (!sid || !*sid)
            continue;
        int found = 0;
        for (uint32_t j = 0; j < t->n && !found; j++)
            found = t->spans[j].role == KVS_LMC_ENGINE && t->spans[j].key && strcmp(t->spans[j].key, sid) == 0;
        if (!found)
            found = lc_index_find(&w->by_request, sid, t->spans[i].khash) != NULL ||
                    lc_ring_has(&w->recent, sid, strlen(sid), LC_RING_ENGINE);
        if (!found)
            return 1;
    }
    return 0;
}

void lc_collect_due(lc_window *w, uint64_t now, int all)
{
    while (all && w->age_head)
        if (lc_detach(w, w->age_head, KVS_LMC_REL_SHUTDOWN) != 0)
            return;
    while (w->age_head && w->age_head->first_ns + w->max_wait_ns <= now)
        if (lc_detach(w, w->age_head, KVS_LMC_REL_MAX_WAIT) != 0)
            return;
    while (w->root_head && w->root_head->root_ns + w->wait_ns <= now) {
        lc_trace *t = w->root_head;
        root_remove(w, t);
        if (!waiting_for_engine(w, t) && lc_detach(w, t, KVS_LMC_REL_WAIT) != 0)
            return;
    }
}

void lc_make_room(lc_window *w, uint64_t spans, int new_trace)
{
    while (w->age_head) {
        int reason;
        if (w->held_spans + spans > w->max_spans)
            reason = KVS_LMC_REL_MAX_SPANS;
        else if (new_trace && w->ntraces + 1 > w->max_traces)
            reason = KVS_LMC_REL_MAX_TRACES;
        else
            return;
        if (lc_detach(w, w->age_head, reason) != 0)
            return;
    }
}
