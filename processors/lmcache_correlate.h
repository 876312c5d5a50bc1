/* Processor `lmcache_correlate` (processors/lmcache_correlate.c): what it
 * exposes besides its component definition, for tests and benchmarks.
 *
 * The state pointer is the one its create() returned. The counters are the
 * processor's own (the engine's kvs_telemetry only has loss counters):
 * every span that went out early is counted here with its reason; the
 * window, early releases and joins are served on the self-metrics endpoint
 * (kvscope_processor_*{processor="<id>"}) and the totals logged at
 * shutdown. */
#ifndef KVS_LMCACHE_CORRELATE_H
#define KVS_LMCACHE_CORRELATE_H

#include "core/component.h"

#include <stdint.h>

extern const kvs_component_def kvs_processor_lmcache_correlate;

/* Why held traces went out (counted in traces). */
typedef enum kvs_lmc_release_reason {
    KVS_LMC_REL_WAIT,        /* `wait` after the last root-like span arrived */
    KVS_LMC_REL_MAX_WAIT,    /* `max_wait` after first sight */
    KVS_LMC_REL_PARTNER,     /* together with a partner trace that was due */
    KVS_LMC_REL_MAX_SPANS,   /* the window was full (max_spans): oldest first */
    KVS_LMC_REL_MAX_TRACES,  /* the window was full (max_traces): oldest first */
    KVS_LMC_REL_LATE,        /* spans of a trace already released: at once */
    KVS_LMC_REL_SHUTDOWN,    /* shutdown released everything */
    KVS_LMC_NREL
} kvs_lmc_release_reason;

typedef struct kvs_lmc_correlate_stats {
    uint64_t spans_in;            /* spans accepted */
    uint64_t spans_out;           /* spans sent on (pass-through + released) */
    uint64_t spans_passed;        /* unrelated spans passed through at once */
    uint64_t spans_lost;          /* released spans the next hop refused */
    uint64_t held_spans, held_traces, held_bytes;   /* now */
    uint64_t peak_spans, peak_traces, peak_bytes;
    uint64_t copied_spans;        /* held by copy (their request was mostly not ours) */
    uint64_t traces_released[KVS_LMC_NREL];
    uint64_t spans_released[KVS_LMC_NREL];
    uint64_t requests;            /* LMCache request records computed */
    uint64_t store_only, timeouts;
    uint64_t joins_same_trace, joins_cross_trace;
    uint64_t engine_unjoined;     /* engine spans released without an LMCache request */
    uint64_t orphans;             /* LMCache spans released without their root */
    uint64_t late_spans;          /* LMCache spans that came after their trace left */
    uint64_t parse_errors;        /* attribute values that did not parse */
} kvs_lmc_correlate_stats;

void kvs_lmcache_correlate_stats(void *state, kvs_lmc_correlate_stats *out);
/* Replaces the clock (CLOCK_MONOTONIC ns) and stops the timer thread from
 * releasing: releases then happen only in consume, tick and shutdown, at
 * the times the given clock tells. For deterministic tests. */
void kvs_lmcache_correlate_set_clock(void *state, uint64_t (*now)(void *arg), void *arg);
/* Releases what is due now (what the timer thread does). */
void kvs_lmcache_correlate_tick(void *state);

#endif
