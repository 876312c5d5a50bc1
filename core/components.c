/* The component table: every component kvscope has, one line each.
 * Adding a component is adding its file and a line here. */
#include "core/component.h"

#include <string.h>

extern const kvs_component_def kvs_receiver_otlpjsonfile;
extern const kvs_component_def kvs_receiver_promfile;
extern const kvs_component_def kvs_receiver_otlp;
extern const kvs_component_def kvs_receiver_prometheus;
extern const kvs_component_def kvs_receiver_lmcache_http;
extern const kvs_component_def kvs_receiver_lmcache_trace;
extern const kvs_component_def kvs_receiver_filelog;
extern const kvs_component_def kvs_receiver_lmcache_lookup_hash;
extern const kvs_component_def kvs_processor_batch;
extern const kvs_component_def kvs_processor_memory_limiter;
extern const kvs_component_def kvs_processor_lmcache_correlate;
extern const kvs_component_def kvs_exporter_file;
extern const kvs_component_def kvs_exporter_debug;
extern const kvs_component_def kvs_exporter_otlp;
extern const kvs_component_def kvs_exporter_otlphttp;
extern const kvs_component_def kvs_exporter_prometheus;
extern const kvs_component_def kvs_connector_forward;
extern const kvs_component_def kvs_connector_lmcache_diagnose;
extern const kvs_component_def kvs_exporter_evidence;
extern const kvs_component_def kvs_extension_health_check;

static const kvs_component_def *const table[] = {
    &kvs_receiver_otlpjsonfile,
    &kvs_receiver_promfile,
    &kvs_receiver_otlp,
    &kvs_receiver_prometheus,
    &kvs_receiver_lmcache_http,
    &kvs_receiver_lmcache_trace,
    &kvs_receiver_filelog,
    &kvs_receiver_lmcache_lookup_hash,
    &kvs_processor_batch,
    &kvs_processor_memory_limiter,
    &kvs_processor_lmcache_correlate,
    &kvs_exporter_file,
    &kvs_exporter_debug,
    &kvs_exporter_otlp,
    &kvs_exporter_otlphttp,
    &kvs_exporter_prometheus,
    &kvs_connector_forward,
    &kvs_connector_lmcache_diagnose,
    &kvs_exporter_evidence,
    &kvs_extension_health_check,
    NULL,
};

const kvs_component_def *const *kvs_component_all(size_t *n)
{
    *n = sizeof table / sizeof table[0] - 1;
    return table;
}

const kvs_component_def *kvs_component_find(kvs_kind kind, const char *type, size_t type_len)
{
    for (size_t i = 0; table[i]; i++)
        if (table[i]->kind == kind && strlen(table[i]->type) == type_len &&
            memcmp(table[i]->type, type, type_len) == 0)
            return table[i];
    return NULL;
}

const char *kvs_kind_name(kvs_kind k)
{
    static const char *n[] = { "receiver", "processor", "exporter", "connector", "extension" };
    return n[k];
}

const char *kvs_kind_section(kvs_kind k)
{
    static const char *n[] = { "receivers", "processors", "exporters", "connectors", "extensions" };
    return n[k];
}
