/* Internal to receiver `prometheus` (receivers/prometheus*.c): the parsed
 * configuration — Prometheus scrape_configs as the Collector embeds them
 * under `config:` — shared by the config reader (prometheus_config.c) and
 * the scraper (prometheus.c), and the sample helpers the scraper uses
 * (prometheus_samples.c: series sets, label rewriting). Not a public API.
 * All strings point into the configuration document (which outlives the
 * component) unless marked owned. */
#ifndef KVS_RECEIVER_PROMETHEUS_INT_H
#define KVS_RECEIVER_PROMETHEUS_INT_H

#include "core/config.h"
#include "core/error.h"
#include "formats/prom_text.h"

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

/* ---- samples (prometheus_samples.c) ---- */

/* A set of 64-bit series hashes (open addressing; 0 marks an empty slot). */
typedef struct kvs_promr_hset {
    uint64_t *v;
    size_t cap, n;
} kvs_promr_hset;

/* 1 when h is new, 0 when it was there, -1 when out of memory. */
int kvs_promr_hset_add(kvs_promr_hset *s, uint64_t h);
int kvs_promr_hset_has(const kvs_promr_hset *s, uint64_t h);
/* Empties the set (and gives the memory back after a big scrape). */
void kvs_promr_hset_clear(kvs_promr_hset *s);
void kvs_promr_hset_free(kvs_promr_hset *s);

#define KVS_PROMR_FNV_OFFSET UINT64_C(1469598103934665603)
/* FNV-1a of [p, p+n) continuing from h (start with KVS_PROMR_FNV_OFFSET). */
uint64_t kvs_promr_fnv(uint64_t h, const char *p, size_t n);
/* A sample's series: its name and labels, hashed. */
uint64_t kvs_promr_series_hash(const kvs_prom_sample *s);

/* Label scratch of one target, reused from sample to sample. */
typedef struct kvs_promr_labels {
    kvs_prom_label *lab;
    size_t lab_cap;
    char *names;                      /* names of renamed labels */
    size_t names_cap;
} kvs_promr_labels;

/* Exposed labels of s plus the target's static labels, into out->labels
 * (pointing into l, valid until the next call): an exposed label that
 * clashes with job, instance or a static label wins with honor_labels,
 * and is renamed exported_<name> without. out is left alone when there is
 * nothing to change. 0 or KVS_E_NOMEM. */
int kvs_promr_relabel(kvs_promr_labels *l, const kvs_promr_target *tc, bool honor_labels, const kvs_prom_sample *s,
                      kvs_prom_sample *out);
/* The target's static labels alone into out->labels (the series kvscope
 * adds: up, scrape_*). 0 or KVS_E_NOMEM. */
int kvs_promr_target_labels(kvs_promr_labels *l, const kvs_promr_target *tc, kvs_prom_sample *out);
void kvs_promr_labels_free(kvs_promr_labels *l);

#endif
