/* Streaming analysis of `.lct` records (see lct_analysis.h). */
#include "lmcache/lct_analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define RING 1024            /* evicted requests waiting to be taken */
#define MAX_KEYS_PER_CALL 8192

typedef struct kent {
    uint64_t fp;             /* 0: empty */
    uint64_t tick;           /* last use, for LRU within a set */
    double reserve_t, submit_t;   /* < 0: none pending */
    uint32_t req, gen;       /* owner request slot + 1, its generation */
} kent;

typedef struct rent {
    uint64_t fp, tick;
    double t;
    uint32_t req, gen;
} rent;

typedef struct rslot {
    kvs_lcta_request r;
    uint64_t tick;
    uint32_t gen;
    int used;
} rslot;

struct kvs_lcta {
    kvs_lcta_opts o;
    kvs_lcta_summary s;
    kent *keys;
    size_t nsets;
    rent *reads;
    size_t nrsets;
    rslot *slots;
    int32_t *index;          /* slot + 1; 0 empty; -1 removed */
    size_t index_cap, tombstones, used;
    kvs_lcta_request ring[RING];
    size_t ring_n;
    uint64_t tick, pending_writes, lost;
    double now_mono;
    uint64_t fps[MAX_KEYS_PER_CALL];
};

static const char *const pair_names[KVS_LCTA_NPAIRS] = { "write", "prefetch_read", "read" };
const char *kvs_lcta_pair_name(int pair) { return pair >= 0 && pair < KVS_LCTA_NPAIRS ? pair_names[pair] : ""; }

static size_t pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

kvs_lcta *kvs_lcta_new(const kvs_lcta_opts *o)
{
    kvs_lcta *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (o)
        a->o = *o;
    if (!a->o.key_slots)
        a->o.key_slots = 65536;
    if (!a->o.max_requests)
        a->o.max_requests = 4096;
    if (a->o.request_idle_s <= 0)
        a->o.request_idle_s = 30;
    a->nsets = pow2(a->o.key_slots / WAYS + 1);
    a->nrsets = 1024;
    a->index_cap = pow2(a->o.max_requests * 2);
    a->keys = calloc(a->nsets * WAYS, sizeof *a->keys);
    a->reads = calloc(a->nrsets * WAYS, sizeof *a->reads);
    a->slots = calloc(a->o.max_requests, sizeof *a->slots);
    a->index = calloc(a->index_cap, sizeof *a->index);
    if (!a->keys || !a->reads || !a->slots || !a->index) {
        kvs_lcta_free(a);
        return NULL;
    }
    return a;
}

void kvs_lcta_free(kvs_lcta *a)
{
    if (!a)
        return;
    free(a->keys);
    free(a->reads);
    free(a->slots);
    free(a->index);
    free(a);
}

/* ---- hashing ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static uint64_t fnv_value(uint64_t h, const kvs_lct_value *v)
{
    if (!v)
        return fnv(h, "-", 1);
    double d;
    if (v->type == KVS_LCT_STR || v->type == KVS_LCT_BIN)
        return fnv(fnv(h, &v->type, sizeof v->type), v->s.p, v->s.n);
    if (kvs_lct_number(v, &d) == 0)
        return fnv(h, &d, sizeof d);
    return fnv(h, "?", 1);
}

/* The fingerprint of an ObjectKey value (0 when it is not one). */
static uint64_t key_fp(const kvs_lct_value *k)
{
    if (!k || k->type != KVS_LCT_TAGGED || k->tagged.tag != KVS_LCT_TAG_OBJECT_KEY)
        return 0;
    const kvs_lct_value *m = k->tagged.v;
    static const char *const parts[] = { "chunk_hash", "model_name", "kv_rank", "object_group_id", "cache_salt" };
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = fnv_value(h, kvs_lct_map_get(m, parts[i]));
    return h ? h : 1;
}

/* ---- key cache ---- */

static kent *key_get(kvs_lcta *a, uint64_t fp, int create)
{
    kent *set = &a->keys[(fp & (a->nsets - 1)) * WAYS];
    kent *victim = NULL;
    for (int w = 0; w < WAYS; w++) {
        if (set[w].fp == fp) {
            set[w].tick = a->tick;
            return &set[w];
        }
        if (!victim || (victim->fp && (!set[w].fp || set[w].tick < victim->tick)))
            victim = &set[w];
    }
    if (!create)
        return NULL;
    if (victim->fp)
        a->s.keys_forgotten++;
    memset(victim, 0, sizeof *victim);
    victim->fp = fp;
    victim->tick = a->tick;
    victim->reserve_t = victim->submit_t = -1;
    return victim;
}

static rent *read_get(kvs_lcta *a, uint64_t fp, int create)
{
    rent *set = &a->reads[(fp & (a->nrsets - 1)) * WAYS];
    rent *victim = NULL;
    for (int w = 0; w < WAYS; w++) {
        if (set[w].fp == fp)
            return &set[w];
        if (!victim || (victim->fp && (!set[w].fp || set[w].tick < victim->tick)))
            victim = &set[w];
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof *victim);
    victim->fp = fp;
    victim->tick = a->tick;
    return victim;
}

/* ---- requests ---- */

static uint64_t str_hash(const char *s) { return fnv(14695981039346656037ull, s, strlen(s)); }

static void index_rebuild(kvs_lcta *a)
{
    memset(a->index, 0, a->index_cap * sizeof *a->index);
    a->tombstones = 0;
    for (size_t i = 0; i < a->o.max_requests; i++) {
        if (!a->slots[i].used)
            continue;
        size_t j = str_hash(a->slots[i].r.id) & (a->index_cap - 1);
        while (a->index[j] > 0)
            j = (j + 1) & (a->index_cap - 1);
        a->index[j] = (int32_t)i + 1;
    }
}

static void slot_release(kvs_lcta *a, size_t i, const char *why, int to_ring)
{
    rslot *s = &a->slots[i];
    s->r.why = why;
    if (to_ring) {
        if (a->ring_n < RING)
            a->ring[a->ring_n++] = s->r;
        else
            a->lost++;
    }
    size_t j = str_hash(s->r.id) & (a->index_cap - 1);
    while (a->index[j] != 0 && a->index[j] != (int32_t)i + 1)
        j = (j + 1) & (a->index_cap - 1);
    if (a->index[j] == (int32_t)i + 1) {
        a->index[j] = -1;
        a->tombstones++;
    }
    s->used = 0;
    s->gen++;
    a->used--;
    if (a->tombstones > a->index_cap / 4)
        index_rebuild(a);
}

static rslot *req_get(kvs_lcta *a, const char *id, size_t n, double t_mono, double t_wall)
{
    char key[96];
    if (n >= sizeof key)
        n = sizeof key - 1;
    memcpy(key, id, n);
    key[n] = 0;
    size_t j = str_hash(key) & (a->index_cap - 1);
    for (size_t probes = 0; probes < a->index_cap && a->index[j] != 0; probes++) {
        if (a->index[j] > 0 && strcmp(a->slots[a->index[j] - 1].r.id, key) == 0)
            return &a->slots[a->index[j] - 1];
        j = (j + 1) & (a->index_cap - 1);
    }
    size_t free_slot = a->o.max_requests;
    if (a->used == a->o.max_requests) {
        size_t lru = 0;
        for (size_t i = 1; i < a->o.max_requests; i++)
            if (a->slots[i].tick < a->slots[lru].tick)
                lru = i;
        slot_release(a, lru, "evicted", 1);
        free_slot = lru;
    } else {
        for (size_t i = 0; i < a->o.max_requests; i++)
            if (!a->slots[i].used) {
                free_slot = i;
                break;
            }
    }
    rslot *s = &a->slots[free_slot];
    uint32_t gen = s->gen;
    memset(s, 0, sizeof *s);
    s->gen = gen;
    s->used = 1;
    memcpy(s->r.id, key, n + 1);
    s->r.first_mono = s->r.last_mono = t_mono;
    s->r.first_wall = t_wall;
    s->r.prefetch_read_ms = s->r.write_ms = -1;
    a->used++;
    a->s.requests++;
    j = str_hash(key) & (a->index_cap - 1);
    while (a->index[j] > 0)
        j = (j + 1) & (a->index_cap - 1);
    if (a->index[j] < 0)
        a->tombstones--;
    a->index[j] = (int32_t)free_slot + 1;
    return s;
}

static rslot *owner(kvs_lcta *a, const kent *e)
{
    if (!e || !e->req)
        return NULL;
    rslot *s = &a->slots[e->req - 1];
    return s->used && s->gen == e->gen ? s : NULL;
}

static void own(kvs_lcta *a, kent *e, rslot *s)
{
    if (s) {
        e->req = (uint32_t)(s - a->slots) + 1;
        e->gen = s->gen;
    }
}

static void seq_add(kvs_lcta_request *r, const char *code)
{
    size_t n = strlen(r->ops), c = strlen(code);
    if (n && n + 4 >= sizeof r->ops)
        return;
    if (n + c + 5 >= sizeof r->ops) {
        memcpy(r->ops + n, n ? ",..." : "...", n ? 5 : 4);
        return;
    }
    if (n)
        r->ops[n++] = ',';
    memcpy(r->ops + n, code, c + 1);
}

/* ---- latency ---- */

static void lat_add(kvs_lcta_latency *l, double ms)
{
    if (ms < 0)
        ms = 0;
    if (l->count == 0 || ms < l->min_ms)
        l->min_ms = ms;
    if (ms > l->max_ms)
        l->max_ms = ms;
    l->count++;
    l->sum_ms += ms;
    double us = ms * 1000.0;
    int b = us < 1 ? 0 : (int)floor(log2(us));
    if (b >= KVS_LCTA_BUCKETS)
        b = KVS_LCTA_BUCKETS - 1;
    l->buckets[b]++;
}

double kvs_lcta_quantile(const kvs_lcta_latency *l, double q)
{
    if (!l->count)
        return 0;
    double want = q * (double)l->count;
    uint64_t acc = 0;
    for (int b = 0; b < KVS_LCTA_BUCKETS; b++) {
        acc += l->buckets[b];
        if ((double)acc >= want && l->buckets[b]) {
            double mid = (b == 0 ? 0.5 : ldexp(1.5, b)) / 1000.0;
            return mid < l->min_ms ? l->min_ms : mid > l->max_ms ? l->max_ms : mid;
        }
    }
    return l->max_ms;
}

/* ---- records ---- */

static kvs_lcta_op *op_get(kvs_lcta *a, const char *name, size_t n)
{
    for (size_t i = 0; i < a->s.nops; i++)
        if (strlen(a->s.ops[i].name) == n && memcmp(a->s.ops[i].name, name, n) == 0)
            return &a->s.ops[i];
    if (a->s.nops == KVS_LCTA_MAX_OPS || n >= sizeof a->s.ops[0].name)
        return NULL;
    kvs_lcta_op *op = &a->s.ops[a->s.nops++];
    memcpy(op->name, name, n);
    op->name[n] = 0;
    return op;
}

static void note_key(kvs_lcta *a, const kvs_lct_value *k)
{
    const kvs_lct_value *m = kvs_lct_map_get(k->tagged.v, "model_name");
    if (m && m->type == KVS_LCT_STR && m->s.n && m->s.n < sizeof a->s.models[0]) {
        size_t i = 0;
        while (i < a->s.nmodels && !(strlen(a->s.models[i]) == m->s.n && !memcmp(a->s.models[i], m->s.p, m->s.n)))
            i++;
        if (i == a->s.nmodels && i < KVS_LCTA_MAX_MODELS) {
            memcpy(a->s.models[i], m->s.p, m->s.n);
            a->s.models[i][m->s.n] = 0;
            a->s.nmodels++;
        }
    }
    const kvs_lct_value *salt = kvs_lct_map_get(k->tagged.v, "cache_salt");
    if (salt && salt->type == KVS_LCT_STR && salt->s.n)
        a->s.salted_keys++;
}

/* The keys argument (or a PrefetchRequestSpec's keys) as fingerprints. */
static size_t collect_keys(kvs_lcta *a, const kvs_lct_value *args, uint64_t *total)
{
    const kvs_lct_value *keys = kvs_lct_map_get(args, "keys");
    if (!keys)
        for (size_t i = 0; i < args->map.n && !keys; i++) {
            const kvs_lct_value *v = &args->map.kv[i].val;
            if (v->type == KVS_LCT_TAGGED && v->tagged.tag == KVS_LCT_TAG_PREFETCH_REQUEST_SPEC)
                keys = kvs_lct_map_get(v->tagged.v, "keys");
        }
    if (keys && keys->type == KVS_LCT_TAGGED && keys->tagged.v->type == KVS_LCT_LIST)
        keys = keys->tagged.v;       /* a tuple or set of keys */
    *total = 0;
    if (!keys || keys->type != KVS_LCT_LIST)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < keys->list.n; i++) {
        uint64_t fp = key_fp(&keys->list.v[i]);
        if (!fp)
            continue;
        (*total)++;
        note_key(a, &keys->list.v[i]);
        if (n < MAX_KEYS_PER_CALL)
            a->fps[n++] = fp;
    }
    return n;
}

static int str_arg(const kvs_lct_value *v, const char **p, size_t *n)
{
    if (!v || v->type != KVS_LCT_STR || v->s.n == 0)
        return 0;
    *p = v->s.p;
    *n = v->s.n;
    return 1;
}

static void handles(kvs_lcta *a, const kvs_lct_record *r, rslot **req)
{
    const kvs_lct_value *args = r->args;
    for (size_t i = 0; i < args->map.n; i++) {
        const kvs_lct_value *v = &args->map.kv[i].val;
        if (v->type != KVS_LCT_TAGGED || v->tagged.tag != KVS_LCT_TAG_PREFETCH_HANDLE)
            continue;
        const kvs_lct_value *h = v->tagged.v;
        double hits = 0, total = 0;
        if (kvs_lct_number(kvs_lct_map_get(h, "l1_prefix_hit_count"), &hits) != 0) {
            const kvs_lct_value *idx = kvs_lct_map_get(h, "l1_found_indices");
            if (idx && idx->type == KVS_LCT_TAGGED)
                idx = idx->tagged.v;
            hits = idx && idx->type == KVS_LCT_LIST ? (double)idx->list.n : 0;
        }
        kvs_lct_number(kvs_lct_map_get(h, "total_requested_keys"), &total);
        if (!(hits >= 0 && hits < 1e15 && total >= 0 && total < 1e15))
            continue;
        a->s.handles++;
        a->s.handle_hits += (uint64_t)hits;
        a->s.handle_total_keys += (uint64_t)total;
        const char *id;
        size_t n;
        if (str_arg(kvs_lct_map_get(h, "external_request_id"), &id, &n))
            *req = req_get(a, id, n, r->t_mono, r->t_wall);
        if (*req) {
            (*req)->r.has_handle = 1;
            (*req)->r.l1_prefix_hits = (uint64_t)hits;
            (*req)->r.total_requested_keys = (uint64_t)total;
        }
    }
}

void kvs_lcta_skipped(kvs_lcta *a) { a->s.skipped++; }

void kvs_lcta_add(kvs_lcta *a, const kvs_lct_record *r)
{
    kvs_lcta_summary *s = &a->s;
    a->tick++;
    if (s->records == 0)
        s->first_mono = r->t_mono, s->first_wall = r->t_wall;
    s->records++;
    s->last_mono = r->t_mono, s->last_wall = r->t_wall;
    if (r->t_mono > a->now_mono)
        a->now_mono = r->t_mono;
    const char *op;
    size_t opn;
    kvs_lct_op_name(r->qualname, r->qualname_len, &op, &opn);
    uint64_t nkeys_total;
    size_t nk = collect_keys(a, r->args, &nkeys_total);
    kvs_lcta_op *o = op_get(a, op, opn);
    if (o) {
        o->calls++;
        o->keys += nkeys_total;
    } else {
        s->other_calls++;
    }
#define IS(lit) (opn == sizeof(lit) - 1 && memcmp(op, lit, opn) == 0)
    rslot *req = NULL;
    const char *id;
    size_t idn;
    if (str_arg(kvs_lct_map_get(r->args, "external_request_id"), &id, &idn))
        req = req_get(a, id, idn, r->t_mono, r->t_wall);
    handles(a, r, &req);
    for (size_t i = 0; i < nk && !req; i++)
        req = owner(a, key_get(a, a->fps[i], 0));
    const char *code = op;
    char buf[32];
    if (IS("submit_prefetch_task")) {
        code = "submit";
        s->prefetch_submits++;
        s->prefetch_keys += nkeys_total;
        if (req)
            req->r.keys_requested += nkeys_total;
        for (size_t i = 0; i < nk; i++) {
            kent *e = key_get(a, a->fps[i], 1);
            e->submit_t = r->t_mono;
            own(a, e, req);
        }
    } else if (IS("finish_read_prefetched")) {
        code = "read_done";
        s->prefetch_read_keys += nkeys_total;
        double first = -1;
        for (size_t i = 0; i < nk; i++) {
            kent *e = key_get(a, a->fps[i], 0);
            if (e && e->submit_t >= 0) {
                if (first < 0 || e->submit_t < first)
                    first = e->submit_t;
                e->submit_t = -1;
            }
        }
        if (first >= 0) {
            lat_add(&s->pairs[KVS_LCTA_PAIR_PREFETCH_READ], (r->t_mono - first) * 1000.0);
            if (req)
                req->r.prefetch_read_ms = (r->t_mono - first) * 1000.0;
        } else {
            s->unmatched[KVS_LCTA_PAIR_PREFETCH_READ]++;
        }
        if (req)
            req->r.read_keys += nkeys_total;
    } else if (IS("reserve_write")) {
        code = "reserve";
        for (size_t i = 0; i < nk; i++) {
            kent *e = key_get(a, a->fps[i], 1);
            if (e->reserve_t < 0)
                a->pending_writes++;
            e->reserve_t = r->t_mono;
            own(a, e, req);
        }
        if (req)
            req->r.reserved_keys += nkeys_total;
    } else if (IS("finish_write")) {
        code = "write_done";
        double first = -1;
        for (size_t i = 0; i < nk; i++) {
            kent *e = key_get(a, a->fps[i], 0);
            if (e && e->reserve_t >= 0) {
                if (first < 0 || e->reserve_t < first)
                    first = e->reserve_t;
                e->reserve_t = -1;
                a->pending_writes--;
            }
        }
        if (first >= 0) {
            double ms = (r->t_mono - first) * 1000.0;
            lat_add(&s->pairs[KVS_LCTA_PAIR_WRITE], ms);
            if (req && ms > req->r.write_ms)
                req->r.write_ms = ms;
        } else {
            s->unmatched[KVS_LCTA_PAIR_WRITE]++;
        }
        if (req)
            req->r.stored_keys += nkeys_total;
    } else if (IS("read_prefetched_results.__enter__") || IS("read_prefetched_results.__exit__")) {
        int enter = op[opn - 3] == 'r';   /* __enter__ vs __exit__ */
        code = enter ? "enter" : "exit";
        uint64_t lf = fnv(14695981039346656037ull, a->fps, nk * sizeof a->fps[0]);
        lf = lf ? lf : 1;
        if (enter) {
            rent *e = read_get(a, lf, 1);
            e->t = r->t_mono;
        } else {
            rent *e = read_get(a, lf, 0);
            if (e) {
                lat_add(&s->pairs[KVS_LCTA_PAIR_READ], (r->t_mono - e->t) * 1000.0);
                e->fp = 0;
            } else {
                s->unmatched[KVS_LCTA_PAIR_READ]++;
            }
        }
    } else {
        snprintf(buf, sizeof buf, "%.*s", (int)(opn < 24 ? opn : 24), op);
        code = buf;
    }
#undef IS
    if (req) {
        req->tick = a->tick;
        req->r.calls++;
        if (r->t_mono > req->r.last_mono)
            req->r.last_mono = r->t_mono;
        seq_add(&req->r, code);
    }
}

size_t kvs_lcta_take(kvs_lcta *a, kvs_lcta_request *out, size_t max, int end)
{
    size_t n = 0;
    while (n < max && a->ring_n) {
        out[n++] = a->ring[0];
        memmove(a->ring, a->ring + 1, (a->ring_n - 1) * sizeof a->ring[0]);
        a->ring_n--;
    }
    for (size_t i = 0; i < a->o.max_requests && n < max && a->used; i++) {
        rslot *s = &a->slots[i];
        if (!s->used)
            continue;
        int idle = a->now_mono - s->r.last_mono > a->o.request_idle_s;
        if (end || idle) {
            slot_release(a, i, end ? "end" : "idle", 0);
            out[n++] = s->r;
        }
    }
    return n;
}

const kvs_lcta_summary *kvs_lcta_get(kvs_lcta *a)
{
    a->s.write_unfinished_keys = a->pending_writes;
    a->s.requests_lost = a->lost;
    return &a->s;
}
