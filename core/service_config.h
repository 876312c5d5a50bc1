/* The validated model of a pipeline.yaml (Collector layout): components by
 * section, pipelines by signal, service settings. Loading checks everything
 * that can be checked without creating components: top-level and service
 * keys, component ids `type[/name]` and known types, pipeline ids
 * `signal[/name]`, references to undefined ids, components in a pipeline of
 * a signal they cannot handle, pipelines without receivers or exporters,
 * connectors used on one side only, connector cycles. Each error names
 * file:line:column and the offending key. Unused components are warnings. */
#ifndef KVS_SERVICE_CONFIG_H
#define KVS_SERVICE_CONFIG_H

#include "core/component.h"
#include "core/config.h"

typedef struct kvs_comp_cfg {
    const char *id;                  /* "otlp/in" */
    kvs_kind kind;
    const kvs_component_def *def;
    const kvs_cfg_node *cfg;         /* its section (may be a NULL node or NULL) */
    const kvs_cfg_node *key;         /* the id's key node (position) */
    int used;                        /* referenced by some pipeline */
} kvs_comp_cfg;

typedef struct kvs_pipeline_cfg {
    const char *id;                  /* "traces" or "traces/x" */
    kvs_signal signal;
    const kvs_cfg_node *key;
    size_t nrecv, nproc, nexp;
    kvs_comp_cfg **recv;             /* receivers or connectors */
    kvs_comp_cfg **proc;
    kvs_comp_cfg **exp;              /* exporters or connectors */
} kvs_pipeline_cfg;

typedef struct kvs_service_cfg {
    kvs_cfg_doc *doc;
    size_t ncomps;
    kvs_comp_cfg *comps;
    size_t npipes;
    kvs_pipeline_cfg *pipes;
    size_t nextensions;
    kvs_comp_cfg **extensions;       /* service.extensions, in order */
    uint64_t shutdown_timeout_ns;    /* service.shutdown_timeout, default 10s */
    const char *log_level;           /* service.telemetry.logs.level: debug|info|warn|error (default info) */
    const char *metrics_address;     /* service.telemetry.metrics.address or NULL */
    const kvs_cfg_node *telemetry;   /* service.telemetry section */
} kvs_service_cfg;

/* Loads and validates; on error returns NULL with err naming the place. */
kvs_service_cfg *kvs_service_cfg_load(const char *path, kvs_cfg_warn_fn warn, void *warn_ctx, kvs_error *err);
kvs_service_cfg *kvs_service_cfg_parse(const char *name, const char *text, size_t len, kvs_cfg_warn_fn warn,
                                       void *warn_ctx, kvs_error *err);
void kvs_service_cfg_free(kvs_service_cfg *cfg);

/* The component table to resolve types against: kvs_component_find and
 * kvs_component_all by default; tests pass their own. `all` may be NULL
 * (messages then do not list the known types). */
typedef struct kvs_component_lookup {
    const kvs_component_def *(*find)(kvs_kind kind, const char *type, size_t type_len);
    const kvs_component_def *const *(*all)(size_t *n);
} kvs_component_lookup;

/* Validates a loaded document; takes ownership of doc (freed on error).
 * lookup NULL means the real component table. */
kvs_service_cfg *kvs_service_cfg_from_doc(kvs_cfg_doc *doc, const kvs_component_lookup *lookup,
                                          kvs_cfg_warn_fn warn, void *warn_ctx, kvs_error *err);
kvs_service_cfg *kvs_service_cfg_parse_with(const char *name, const char *text, size_t len,
                                            const kvs_component_lookup *lookup, kvs_cfg_warn_fn warn,
                                            void *warn_ctx, kvs_error *err);

/* The component of that kind and id, or NULL. */
const kvs_comp_cfg *kvs_service_cfg_find(const kvs_service_cfg *cfg, kvs_kind kind, const char *id);

#endif
