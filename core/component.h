/* The component contract (DESIGN.md "Component contract").
 *
 * Every component exports one `const struct kvs_component_def`. The engine
 * calls create (parse and validate config; no side effects: no sockets,
 * threads or files opened), then start, then consume from any thread, then
 * shutdown (flush and drain before the deadline), then destroy.
 *
 * Data moves only through consume. A receiver, processor or connector sends
 * with kvs_next_consume(ctx->next[sig], batch, err): the batch is borrowed by
 * the callee (see core/batch.h). Return values of consume: 0 accepted,
 * KVS_E_REFUSED (retryable: backpressure; the sender should retry later),
 * KVS_E_INVALID (permanent: the data is bad). */
#ifndef KVS_COMPONENT_H
#define KVS_COMPONENT_H

#include "core/batch.h"
#include "core/config.h"
#include "core/error.h"
#include "core/telemetry.h"

typedef enum kvs_kind {
    KVS_RECEIVER,
    KVS_PROCESSOR,
    KVS_EXPORTER,
    KVS_CONNECTOR,
    KVS_EXTENSION,
} kvs_kind;

const char *kvs_kind_name(kvs_kind k);   /* "receiver", ... */
const char *kvs_kind_section(kvs_kind k);/* "receivers", ... */

/* The next hop(s) of a pipeline: a fan-out to one or more consumers. */
typedef struct kvs_next kvs_next;
int kvs_next_consume(kvs_next *next, kvs_batch *b, kvs_error *err);

typedef struct kvs_host kvs_host;

/* Replay mode (kvscope replay / diagnose): when true, file receivers read
 * their input once and report done; the engine shuts down when all have. */
int kvs_host_replay(const kvs_host *h);
/* Files given on the command line (replay): they replace `include` of
 * every otlpjsonfile receiver. n = 0 when none. */
const char *const *kvs_host_replay_files(const kvs_host *h, size_t *n);
/* A receiver that reads finite input joins the replay in create (when
 * kvs_host_replay is true) and says done, once, when its input is
 * exhausted; the replay ends when every joined receiver is done. */
void kvs_host_replay_join(kvs_host *h);
void kvs_host_receiver_done(kvs_host *h);
/* Progress accounting for the replay progress line. */
void kvs_host_progress(kvs_host *h, uint64_t bytes, int file_done);
/* Set when the process is draining (SIGTERM): long loops should stop. */
int kvs_host_stopping(const kvs_host *h);
/* Lifecycle, for health checks: starting until every component started,
 * then running, then draining once shutdown began. */
typedef enum { KVS_HOST_STARTING, KVS_HOST_RUNNING, KVS_HOST_DRAINING } kvs_host_state;
kvs_host_state kvs_host_get_state(const kvs_host *h);
/* Self-telemetry of every component instance of this engine (for the
 * self-metrics endpoint). */
size_t kvs_host_telemetry(const kvs_host *h, const kvs_telemetry *const **out);

typedef struct kvs_create_ctx {
    const char *id;                  /* "type" or "type/name" */
    const kvs_cfg_node *cfg;         /* its config section (may be NULL) */
    unsigned signals;                /* signals it is wired for in this graph */
    kvs_next *next[KVS_NSIG];        /* receivers/processors/connectors: where to send, by
                                        kvs_signal_index; NULL when that signal is not wired */
    kvs_telemetry *tel;              /* its self-counters */
    kvs_host *host;
} kvs_create_ctx;

/* A connector route: data of signal `in` becomes data of signal `out`. */
#define KVS_SIG_IDX(s) ((s) == KVS_SIG_TRACES ? 0 : (s) == KVS_SIG_METRICS ? 1 : 2)
#define KVS_ROUTE(in, out) (1u << (KVS_SIG_IDX(in) * KVS_NSIG + KVS_SIG_IDX(out)))
static inline int kvs_connector_routes(unsigned routes, kvs_signal in, kvs_signal out)
{
    return routes == 0 || (routes & KVS_ROUTE(in, out)) != 0;
}

/* Values a component reports for the self-metrics endpoint: called with a
 * name relative to the component's kind ("queue_size" of an exporter is
 * served as kvscope_exporter_queue_size{exporter="<id>"}), one line of
 * help, the current value and flags: KVS_SM_COUNTER for a monotonic total
 * (its name ends in _total), KVS_SM_DETAILED for a value served only at
 * service.telemetry.metrics.level `detailed`. */
enum { KVS_SM_GAUGE = 0, KVS_SM_COUNTER = 1, KVS_SM_DETAILED = 2 };
typedef void (*kvs_gauge_fn)(void *ctx, const char *name, const char *help, double value, unsigned flags);

typedef struct kvs_component_def {
    const char *type;
    kvs_kind kind;
    unsigned signals;       /* receiver: it can emit; processor/exporter: it accepts;
                               connector: it accepts on its exporter side */
    unsigned out_signals;   /* connector: it emits on its receiver side */
    unsigned routes;        /* connector: the (in, out) signal pairs it joins, as
                               KVS_ROUTE bits; 0 = every pair of signals x out_signals */
    int wire;               /* consume takes batches still in wire form (core/batch.h)
                               and decodes them itself if it reads the messages; when
                               0 the engine decodes before calling consume */
    int (*create)(const kvs_create_ctx *ctx, void **state, kvs_error *err);
    int (*start)(void *state, kvs_error *err);                         /* may be NULL */
    int (*consume)(void *state, kvs_batch *b, kvs_error *err);         /* NULL for receivers */
    void (*shutdown)(void *state, uint64_t deadline_ns);               /* may be NULL */
    void (*destroy)(void *state);
    /* Optional: reports the component's own values (exporters with a
     * sending queue: its size and capacity; lmcache_correlate: its window
     * and joins) by calling emit once per value. Called
     * from the self-metrics server's thread at any time between create and
     * destroy, so it must only read what is safe to read concurrently. */
    void (*gauges)(void *state, kvs_gauge_fn emit, void *ctx);
} kvs_component_def;

/* The component table (core/components.c). */
const kvs_component_def *kvs_component_find(kvs_kind kind, const char *type, size_t type_len);
const kvs_component_def *const *kvs_component_all(size_t *n);

#endif
