/* kvs_lmc_http: the LMCache MP HTTP API as evidence. Knows the routes (the
 * older `/api/...` paths and the newer top-level ones), which of them are
 * safe to read and which mutate state, and turns each payload into a
 * health verdict plus a list of typed facts ("l1.memory_used_bytes",
 * "periodic_threads.unhealthy", ...).
 *
 * Health of a payload: an explicit `healthy` / `is_healthy` false, a
 * `status` word such as "unhealthy"/"error"/"degraded", an `error` or
 * `failure_reason`, a 503 answer, or a nested component of /status that
 * reports `is_healthy: false` / `thread_alive: false` makes it unhealthy
 * (the component paths are listed in the fact "unhealthy_components");
 * explicit true / "ok"-like words make it healthy; otherwise unknown.
 * JSON-string payloads (/version) keep their value. /env values are never
 * copied unless known not to be secret (see kvs_lmc_env_is_secret).
 *
 * Small payloads are parsed with yajl's tree API after a nesting check.
 * A codec: no pipeline knowledge; every result is heap memory owned by the
 * payload (kvs_lmc_payload_free). */
#ifndef KVS_LMCACHE_HTTP_H
#define KVS_LMCACHE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define KVS_LMC_MAX_JSON_DEPTH 64
#define KVS_LMC_SUMMARY_MAX 240

typedef enum kvs_lmc_ep {
    KVS_LMC_EP_ROOT,
    KVS_LMC_EP_HEALTH,
    KVS_LMC_EP_STATUS,
    KVS_LMC_EP_CONF,
    KVS_LMC_EP_VERSION,
    KVS_LMC_EP_LMC_VERSION,
    KVS_LMC_EP_COMMIT_ID,
    KVS_LMC_EP_THREADS,
    KVS_LMC_EP_PERIODIC_THREADS,
    KVS_LMC_EP_PERIODIC_THREAD,        /* /periodic-threads/{name} */
    KVS_LMC_EP_PERIODIC_THREADS_HEALTH,
    KVS_LMC_EP_QUOTA,
    KVS_LMC_EP_ENV,                    /* sensitive: only on request */
    KVS_LMC_EP_COUNT
} kvs_lmc_ep;

/* The endpoint's evidence key ("health", "periodic_threads_health", ...). */
const char *kvs_lmc_ep_key(kvs_lmc_ep ep);
/* Its GET path in the newer layout (legacy = 0) or the older `/api/...`
 * one (legacy = 1; the same path where the route did not move). */
const char *kvs_lmc_ep_path(kvs_lmc_ep ep, int legacy);
/* The endpoint named by a key or a saved payload's file stem
 * ("status", "api_status", "lmcache_http_status", "periodic-threads"). */
int kvs_lmc_ep_from_name(const char *name, size_t n, kvs_lmc_ep *out);

/* 1 when `method path` only reads (a GET of a known read-only route,
 * query string included); 0 for every mutating route (POST/PUT/DELETE/
 * PATCH, /clear-cache, /metrics/reset, quota writes, /loglevel?level=,
 * /run_script, /reconfigure..., /l2 deletes) and anything unknown. */
int kvs_lmc_route_is_safe(const char *method, const char *path);

/* The routes an evidence collector must not call, as evidence rows. */
typedef struct kvs_lmc_skipped {
    const char *endpoint;   /* "POST /clear-cache" */
    const char *status;     /* "destructive_skipped" | "sensitive_skipped" */
    const char *reason;
} kvs_lmc_skipped;
const kvs_lmc_skipped *kvs_lmc_skipped_routes(size_t *n);

typedef enum kvs_lmc_health {
    KVS_LMC_UNKNOWN,
    KVS_LMC_HEALTHY,
    KVS_LMC_UNHEALTHY,
    KVS_LMC_UNAVAILABLE,    /* set by the caller when the fetch failed */
} kvs_lmc_health;
const char *kvs_lmc_health_name(kvs_lmc_health h);   /* "healthy", ... */

typedef enum kvs_lmc_fact_type {
    KVS_LMC_F_BOOL,
    KVS_LMC_F_INT,
    KVS_LMC_F_DOUBLE,
    KVS_LMC_F_STR,
    KVS_LMC_F_STRLIST,
} kvs_lmc_fact_type;

typedef struct kvs_lmc_fact {
    const char *key;        /* static ("l1.memory_used_bytes") or owned when dynamic */
    int key_owned;
    kvs_lmc_fact_type type;
    int b;
    int64_t i;
    double d;
    char *s;                /* STR */
    char **list;            /* STRLIST */
    size_t nlist;
} kvs_lmc_fact;

typedef struct kvs_lmc_payload {
    kvs_lmc_ep ep;
    int http_status;
    int is_json;
    const char *json_type;  /* "object", "array", "string", "number", "bool", "null"; "" for text */
    kvs_lmc_health health;
    char *reason;           /* why unhealthy (NULL otherwise) */
    char *summary;          /* text or JSON-string payloads, trimmed, <= 240 chars */
    size_t raw_length;
    kvs_lmc_fact *facts;
    size_t nfacts, cap;
} kvs_lmc_payload;

/* Parses one answer of endpoint `ep` (http_status 0 when unknown, e.g. a
 * saved file). Never fails on bad input (it is evidence: a garbage body is
 * text with health unknown); returns -1 only when out of memory. */
int kvs_lmc_parse(kvs_lmc_ep ep, int http_status, const char *body, size_t len, kvs_lmc_payload *out);
void kvs_lmc_payload_free(kvs_lmc_payload *p);
const kvs_lmc_fact *kvs_lmc_fact_get(const kvs_lmc_payload *p, const char *key);

/* 1 when an environment variable must not be shown: its name says it
 * holds a credential (TOKEN, SECRET, PASSWORD, API_KEY, ...), or its value
 * looks like one (a URL with a password, a bearer/"hf_"/"sk-" token, a
 * long high-entropy string). */
int kvs_lmc_env_is_secret(const char *key, const char *value);

/* 1 when the text's JSON nesting stays within max_depth (strings skipped). */
int kvs_lmc_json_depth_ok(const char *p, size_t n, int max_depth);

#endif
