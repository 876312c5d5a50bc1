/* Internal to processors/lmcache_correlate*.c: the trace window.
 *
 * Held spans are grouped by trace id. Each trace is on the age list (first
 * sight order: max_wait and eviction) and, once a root-like span (an
 * LMCache request root, an engine span, or a span without parent) arrived,
 * on the root list (order of that arrival: wait). Two indexes join across
 * traces: LMCache roots by session_id, engine spans by gen_ai.request.id.
 * Two bounded rings remember what left: request outcomes and engine values
 * by id (joins with partners that come later) and trace ids (late spans).
 *
 * Spans are never modified in place: a held span lives in a segment, either
 * the received batch itself (referenced) or a copy segment (when most of a
 * received batch was not held, its held spans are copied so the rest can
 * be freed). Everything here runs under the processor's lock. */
#ifndef KVS_LMCACHE_CORRELATE_WINDOW_H
#define KVS_LMCACHE_CORRELATE_WINDOW_H

#include "core/batch.h"
#include "lmcache/request.h"
#include "processors/lmcache_correlate.h"

#include <stdint.h>

typedef struct lc_seg {
    kvs_batch *b;            /* a reference */
    uint64_t held;           /* its spans in the window */
    size_t bytes;            /* accounted in the window's held_bytes */
    int open;                /* the copy segment being filled */
    uint64_t stamp;          /* the last output batch that took it as a parent */
} lc_seg;

typedef struct lc_span {
    kvs_span *span;
    const char *key;         /* roots: session_id; engine spans: gen_ai.request.id */
    uint64_t khash;          /* lc_hash_str(key) */
    kvs_resource_spans *rs;  /* where it came from (output groups by these) */
    kvs_scope_spans *ss;
    lc_seg *seg;
    uint32_t aux;            /* release scratch */
    uint8_t role;            /* kvs_lmc_role */
} lc_span;

/* HELD: in the window; PENDING: detached, on the release list;
 * RELEASING: in the chunk lc_release is working on. */
enum { LC_HELD, LC_PENDING, LC_RELEASING };
#define LC_INLINE 6                      /* spans kept in the trace itself */

typedef struct lc_trace {
    uint8_t id[16];
    uint64_t hash;
    struct lc_trace *hnext, **hprev;     /* hash chain (hprev: the pointer to this one) */
    struct lc_trace *aprev, *anext;      /* age list */
    struct lc_trace *rprev, *rnext;      /* root list */
    uint64_t first_ns, root_ns;
    lc_span *spans;                      /* inl, or malloc'd past LC_INLINE spans */
    uint32_t n, cap;
    uint8_t state, in_root, reason, late;
    size_t relidx;                       /* PENDING: its place in the release list */
    lc_span inl[LC_INLINE];
} lc_trace;

/* A string-keyed multimap to (trace, span index). */
typedef struct lc_ientry {
    const char *key;         /* points into a held span */
    uint64_t hash;
    lc_trace *t;
    uint32_t idx;
    int32_t next;
} lc_ientry;

typedef struct lc_index {
    lc_ientry *e;
    size_t cap, used;
    int32_t free;            /* free list through next */
    int32_t *buckets;
    size_t nb;               /* power of two */
} lc_index;

/* A bounded ring of (key -> payload) that forgets the oldest first. */
enum { LC_RING_OUTCOME = 1, LC_RING_ENGINE = 2, LC_RING_TRACE = 3 };
typedef struct lc_ring_entry {
    uint64_t hash;
    char *key;               /* malloc'd when klen >= sizeof kbuf */
    char kbuf[40];           /* the key when shorter */
    size_t klen;
    void *payload;           /* malloc'd or NULL */
    int32_t next;
    uint8_t kind;
} lc_ring_entry;

typedef struct lc_ring {
    lc_ring_entry *e;
    size_t cap, n, alloc, head;   /* head: the oldest when full */
    int32_t *buckets;
    size_t nb;
} lc_ring;

typedef struct lc_gslot {
    void *ss;
    uint64_t stamp;
    uint32_t idx;
} lc_gslot;

typedef struct lc_window {
    uint64_t wait_ns, max_wait_ns, max_traces, max_spans;
    int engine_join;
    const char *prefix;           /* attribute_prefix */
    uint64_t out_serial;

    lc_trace **buckets;
    size_t nbuckets;
    uint64_t ntraces, held_spans, held_bytes;
    lc_trace *age_head, *age_tail, *root_head, *root_tail;
    lc_index by_session, by_request;
    lc_ring recent, gone;
    int engines_seen;
    lc_seg *copy;                 /* the open copy segment */
    lc_trace **rel;               /* detached traces (PENDING), NULL once taken */
    size_t nrel, caprel, relpos;
    lc_trace **chunk;             /* the traces being released (RELEASING) */
    size_t nchunk, capchunk;
    void *recs, *engs, *ents;     /* lc_release's scratch, kept between calls */
    size_t caprecs, capengs;
    struct lc_gslot *gtab;        /* output grouping table (stamped, never cleared) */
    void *grps;
    lc_trace *spare;              /* freed traces kept for reuse */
    size_t nspare;
    kvs_lmc_correlate_stats st;
} lc_window;

uint64_t lc_hash_str(const char *s);
uint64_t lc_hash_id(const uint8_t id[16]);

int lc_window_init(lc_window *w);
void lc_window_free(lc_window *w);

lc_trace *lc_trace_find(lc_window *w, const uint8_t id[16], uint64_t h);
lc_trace *lc_trace_new(lc_window *w, const uint8_t id[16], uint64_t h, uint64_t now);
/* Appends a span (indexes it, moves the trace on the root list when it is
 * root-like). -1 when out of memory. */
int lc_trace_add(lc_window *w, lc_trace *t, const lc_span *s, uint64_t now);
/* Takes a held trace out of the window onto the release list. */
int lc_detach(lc_window *w, lc_trace *t, int reason);
/* Detaches what is due at `now` (everything when all is set). */
void lc_collect_due(lc_window *w, uint64_t now, int all);
/* Detaches the oldest traces until one more trace and `spans` more spans fit. */
void lc_make_room(lc_window *w, uint64_t spans, int new_trace);
/* Frees a released trace: drops its index entries and segment holds. */
void lc_trace_free(lc_window *w, lc_trace *t);
void lc_seg_release(lc_window *w, lc_seg *s, uint64_t spans);

/* Takes up to LC_CHUNK traces from the release list (and the traces
 * joined with them), computes, joins and annotates them, builds the
 * requests to send (at most LC_OUT_MAX spans each) and frees the traces.
 * Call while lc_pending(); *outs is malloc'd (free it), the batches are the
 * caller's to send (without the lock: a chunk at a time bounds memory). */
#define LC_OUT_MAX 8192
#define LC_CHUNK 1024
int lc_release(lc_window *w, kvs_batch ***outs, size_t *nouts);
static inline int lc_pending(const lc_window *w) { return w->relpos < w->nrel; }
/* Moves a HELD or PENDING trace into the chunk being released. */
int lc_claim(lc_window *w, lc_trace *t, int reason);

/* The session id of a span (NULL when it has none). */
const char *lc_session_of(const kvs_span *s);
const char *lc_request_id_of(const kvs_span *s);

void lc_index_put(lc_index *ix, const char *key, uint64_t h, lc_trace *t, uint32_t idx);
/* The first entry for key (then lc_index_next), or NULL. */
lc_ientry *lc_index_find(lc_index *ix, const char *key, uint64_t h);
lc_ientry *lc_index_next(lc_index *ix, lc_ientry *e, const char *key, uint64_t h);

int lc_ring_init(lc_ring *r, size_t cap);
void lc_ring_free(lc_ring *r);
/* Stores a copy of key; takes payload (malloc'd, may be NULL). */
void lc_ring_put(lc_ring *r, const void *key, size_t klen, uint8_t kind, void *payload);
void *lc_ring_find(const lc_ring *r, const void *key, size_t klen, uint8_t kind);
int lc_ring_has(const lc_ring *r, const void *key, size_t klen, uint8_t kind);

#endif
