/* Internal to receiver `prometheus` (receivers/prometheus*.c): the parsed
 * configuration — Prometheus scrape_configs as the Collector embeds them
 * under `config:` — shared by the config reader (prometheus_config.c) and
 * the scraper (prometheus.c). Not a public API. All strings point into the
 * configuration document (which outlives the component) unless marked
 * owned. */
#ifndef KVS_RECEIVER_PROMETHEUS_INT_H
#define KVS_RECEIVER_PROMETHEUS_INT_H

#include "core/config.h"
#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvs_promr_pair {
    const char *name, *value;
} kvs_promr_pair;

typedef struct kvs_promr_job {
    const char *name;                 /* job_name */
    const char *scheme;               /* "http" or "https" */
    const char *path;                 /* metrics_path */
    char *query;                      /* owned: "" or "?k=v&k=v" from params, percent-encoded */
    uint64_t interval_ns, timeout_ns;
    bool honor_labels, honor_timestamps;
    int64_t sample_limit;             /* 0: none */
    int64_t body_size_limit;          /* bytes, 0: none */
    /* authentication: at most one of bearer/bearer_file (authorization or
     * bearer_token*) and basic auth */
    const char *auth_type;            /* "Bearer" unless authorization.type says */
    const char *bearer, *bearer_file;
    const char *username, *password, *password_file;
    kvs_promr_pair *headers;          /* owned array */
    size_t nheaders;
    const char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
} kvs_promr_job;

typedef struct kvs_promr_target {
    size_t job;                       /* index in jobs */
    const char *address;              /* host:port as written */
    const char *job_label;            /* `job`: the job name, or a static `job` label */
    const char *instance;             /* `instance`: the address, or a static `instance` label */
    kvs_promr_pair *labels;           /* owned array: static labels but job/instance, sorted by name */
    size_t nlabels;
} kvs_promr_target;

typedef struct kvs_promr_cfg {
    kvs_promr_job *jobs;
    size_t njobs;
    kvs_promr_target *targets;
    size_t ntargets;
} kvs_promr_cfg;

/* Reads the receiver's section (`config: {global, scrape_configs}`);
 * every error names file:line:column. */
int kvs_promr_cfg_parse(const kvs_cfg_node *section, const char *id, kvs_promr_cfg *out, kvs_error *err);
void kvs_promr_cfg_free(kvs_promr_cfg *c);

#endif
