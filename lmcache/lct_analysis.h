/* kvs_lcta: what an LMCache `.lct` recording says, computed as records
 * stream by (pure: no I/O, bounded memory whatever the recording's size).
 *
 *  - op mix: calls and keys per operation (the qualname's last part,
 *    `read_prefetched_results.__enter__` kept whole);
 *  - time span of the recording (t_mono and t_wall of first and last);
 *  - call-pair latencies, matched by ObjectKey (chunk hash, model, rank,
 *    group, cache_salt): reserve_write -> finish_write ("write"),
 *    submit_prefetch_task -> finish_read_prefetched ("prefetch_read"), and
 *    read_prefetched_results.__enter__ -> __exit__ ("read", matched by the
 *    key list); keys reserved and never finished are counted;
 *  - prefetch: submits and keys asked for; PrefetchHandle values seen in
 *    arguments (l1_prefix_hit_count over total_requested_keys); keys read;
 *  - per-request reconstruction by `external_request_id`: the request's
 *    keys are remembered, so later calls on the same keys (reads, writes)
 *    are attributed to it. A request is handed out when it has been idle
 *    for `request_idle_s` of recording time, when the table is full (the
 *    least recently active one), or at the end.
 * Key-level state lives in a fixed-size set-associative cache: when it is
 * full, the least recently used key of a set is forgotten and counted. */
#ifndef KVS_LCT_ANALYSIS_H
#define KVS_LCT_ANALYSIS_H

#include "formats/lct.h"

#include <stddef.h>
#include <stdint.h>

#define KVS_LCTA_MAX_OPS 32
#define KVS_LCTA_MAX_MODELS 4
#define KVS_LCTA_BUCKETS 40

enum { KVS_LCTA_PAIR_WRITE, KVS_LCTA_PAIR_PREFETCH_READ, KVS_LCTA_PAIR_READ, KVS_LCTA_NPAIRS };
const char *kvs_lcta_pair_name(int pair);   /* "write", "prefetch_read", "read" */

typedef struct kvs_lcta_latency {
    uint64_t count;
    double sum_ms, min_ms, max_ms;
    uint32_t buckets[KVS_LCTA_BUCKETS];   /* log2 buckets of microseconds */
} kvs_lcta_latency;
/* Estimated quantile (0..1) in ms; 0 when empty. */
double kvs_lcta_quantile(const kvs_lcta_latency *l, double q);

typedef struct kvs_lcta_op {
    char name[64];
    uint64_t calls, keys;
} kvs_lcta_op;

typedef struct kvs_lcta_summary {
    uint64_t records, skipped;
    double first_mono, last_mono, first_wall, last_wall;
    kvs_lcta_op ops[KVS_LCTA_MAX_OPS];
    size_t nops;
    uint64_t other_calls;                    /* ops beyond KVS_LCTA_MAX_OPS */
    kvs_lcta_latency pairs[KVS_LCTA_NPAIRS];
    uint64_t unmatched[KVS_LCTA_NPAIRS];     /* second halves without a first */
    uint64_t write_unfinished_keys;          /* reserved, never finished (so far) */
    uint64_t prefetch_submits, prefetch_keys, prefetch_read_keys;
    uint64_t handles, handle_hits, handle_total_keys;
    uint64_t requests;                       /* distinct external_request_id */
    uint64_t requests_lost;                  /* evicted faster than they were taken */
    uint64_t keys_forgotten;                 /* key state dropped (cache full) */
    uint64_t salted_keys;                    /* ObjectKeys with a non-empty cache_salt */
    char models[KVS_LCTA_MAX_MODELS][96];
    size_t nmodels;
} kvs_lcta_summary;

typedef struct kvs_lcta_request {
    char id[96];
    double first_mono, last_mono, first_wall;
    uint64_t calls;
    char ops[200];                           /* compact sequence: "submit,handle,enter,exit,read_done,..." */
    uint64_t keys_requested;                 /* by submit_prefetch_task */
    int has_handle;
    uint64_t l1_prefix_hits, total_requested_keys;
    uint64_t read_keys;                      /* finish_read_prefetched */
    uint64_t reserved_keys, stored_keys;     /* reserve_write, finish_write */
    double prefetch_read_ms;                 /* submit -> read done; -1 unknown */
    double write_ms;                         /* longest reserve -> finish; -1 unknown */
    const char *why;                         /* "idle", "evicted", "end" */
} kvs_lcta_request;

typedef struct kvs_lcta_opts {
    size_t key_slots;        /* key cache entries (0: 65536) */
    size_t max_requests;     /* requests tracked at once (0: 4096) */
    double request_idle_s;   /* hand out after this much recording time idle (0: 30) */
} kvs_lcta_opts;

typedef struct kvs_lcta kvs_lcta;

kvs_lcta *kvs_lcta_new(const kvs_lcta_opts *o);
void kvs_lcta_free(kvs_lcta *a);
void kvs_lcta_add(kvs_lcta *a, const kvs_lct_record *r);
void kvs_lcta_skipped(kvs_lcta *a);
/* Requests ready to hand out (idle, evicted; all of them when `end`), up
 * to max; returns the count. */
size_t kvs_lcta_take(kvs_lcta *a, kvs_lcta_request *out, size_t max, int end);
/* The summary so far (write_unfinished_keys counts keys still pending). */
const kvs_lcta_summary *kvs_lcta_get(kvs_lcta *a);

#endif
