/* Self-telemetry: per-component counters, updated with relaxed atomics from
 * any thread. Counted in the signal's unit (spans, metric points, log
 * records). Every drop has a reason. */
#ifndef KVS_TELEMETRY_H
#define KVS_TELEMETRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define KVS_TEL_MAX_REASONS 8

typedef struct kvs_telemetry {
    const char *id;           /* component id */
    const char *kind;         /* "receiver", ... */
    atomic_uint_fast64_t accepted;   /* receivers: items taken in and passed on */
    atomic_uint_fast64_t refused;    /* receivers/processors: items refused upstream (retryable) */
    atomic_uint_fast64_t rejected;   /* items rejected as malformed (permanent) */
    atomic_uint_fast64_t exported;   /* exporters: items sent / written */
    atomic_uint_fast64_t failed;     /* exporters: items that failed to send */
    atomic_uint_fast64_t dropped;    /* sum of dropped[] */
    pthread_mutex_t lock;
    struct { const char *reason; uint64_t count; } reasons[KVS_TEL_MAX_REASONS];
    int nreasons;
    atomic_uint_fast64_t errors;     /* input errors reported (malformed lines, ...) */
} kvs_telemetry;

void kvs_telemetry_init(kvs_telemetry *t, const char *id, const char *kind);
void kvs_telemetry_destroy(kvs_telemetry *t);
static inline void kvs_tel_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
static inline uint64_t kvs_tel_get(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}
/* Counts n items dropped for a reason (a string literal). */
void kvs_tel_drop(kvs_telemetry *t, const char *reason, uint64_t n);

/* The process's resident set size in bytes, from /proc/self/statm (0 when
 * it cannot be read): self-metrics and memory_limiter read it. */
uint64_t kvs_proc_rss_bytes(void);

#endif
