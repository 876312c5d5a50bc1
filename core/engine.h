/* The engine: builds the component graph from a validated service model,
 * starts it (exporters first, receivers last), waits, and shuts it down
 * (receivers first, then processors and connectors in data-flow order, then
 * exporters), each step bounded by service.shutdown_timeout.
 *
 * Instances follow the Collector: one receiver, exporter or connector
 * instance per id however many pipelines use it; one processor instance per
 * pipeline it appears in. */
#ifndef KVS_ENGINE_H
#define KVS_ENGINE_H

#include "core/service_config.h"
#include "core/telemetry.h"

typedef struct kvs_engine kvs_engine;

typedef struct kvs_engine_opts {
    int replay;                      /* finite input: stop when receivers are done */
    const char *const *files;        /* replay files from the command line */
    size_t nfiles;
} kvs_engine_opts;

/* Creates every used component (each validates its config). Nothing is
 * started. The engine keeps cfg; free cfg after kvs_engine_destroy. */
kvs_engine *kvs_engine_create(const kvs_service_cfg *cfg, const kvs_engine_opts *opts, kvs_error *err);
/* Starts the self-metrics endpoint (service.telemetry.metrics; see
 * core/selfmetrics.h), then every component (extensions first, exporters
 * next, receivers last). */
int kvs_engine_start(kvs_engine *e, kvs_error *err);
/* Blocks until kvs_engine_request_stop or, in replay mode, until every
 * replaying receiver is done. Returns early every `tick_ns` (0 = never)
 * with 1 so the caller can print progress; 0 when it is time to stop. */
int kvs_engine_wait(kvs_engine *e, uint64_t tick_ns);
void kvs_engine_request_stop(kvs_engine *e);
/* Ordered shutdown within the configured timeout; the self-metrics
 * endpoint stops after the last component. */
void kvs_engine_shutdown(kvs_engine *e);
void kvs_engine_destroy(kvs_engine *e);

/* Self-telemetry of every instance, in graph order. */
size_t kvs_engine_telemetry(const kvs_engine *e, const kvs_telemetry *const **out);
/* One component instance, for the self-metrics endpoint. Valid from
 * kvs_engine_create to kvs_engine_destroy. */
typedef struct kvs_instance_info {
    const char *id;                  /* component id, "type" or "type/name" */
    kvs_kind kind;
    const char *pipeline;            /* processors: the pipeline it serves; else NULL */
    unsigned signals;                /* signals it is wired for */
    unsigned out_signals;            /* signals it sends down a pipeline (receivers, processors,
                                        connectors) */
    const kvs_telemetry *tel;
    const kvs_component_def *def;
    void *state;                     /* for def->gauges */
    /* Items it sent down each signal's pipelines (kvs_signal_index), by
     * outcome: accepted, refused (retryable), rejected (permanent). */
    uint64_t sent_ok[KVS_NSIG], sent_refused[KVS_NSIG], sent_invalid[KVS_NSIG];
} kvs_instance_info;
/* Fills *out for instance i (graph order); 0, or -1 past the last one. */
int kvs_engine_instance(const kvs_engine *e, size_t i, kvs_instance_info *out);

/* Replay progress: bytes read, files finished. */
void kvs_engine_progress(const kvs_engine *e, uint64_t *bytes, uint64_t *files);

#endif
