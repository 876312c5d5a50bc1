/* One LMCache request as kvscope sees it: the record computed from the
 * spans of an LMCache MP `request` (or CacheBlend `cb.request`) tree and,
 * when joined, from the engine's `llm_request` span (vLLM). Pure code: no
 * I/O, no threads, no clocks; everything it allocates is in the arena it
 * is given.
 *
 * LMCache copies its event metadata into child-span attributes with str():
 * numbers and booleans arrive as strings ("3", "0.25", "False"). Every
 * value is parsed here, typed or string alike; a value that does not parse
 * is never fatal: it is skipped and named in the record's parse errors.
 *
 * The record is a table of fields (KVS_LMC_FIELDS below). The processor
 * lmcache_correlate writes it on the request's root span as attributes
 * `<prefix><name>` (default prefix "kvscope.lmcache."); any component
 * downstream reads it back with kvs_lmc_request_read(). The names, types
 * and units are the contract documented in docs/correlation.md. */
#ifndef KVS_LMCACHE_REQUEST_H
#define KVS_LMCACHE_REQUEST_H

#include "core/arena.h"
#include "core/otlp.h"

#include <stddef.h>
#include <stdint.h>

#define KVS_LMC_DEFAULT_PREFIX "kvscope.lmcache."

/* ---- span roles ---- */

typedef enum kvs_lmc_role {
    KVS_LMC_NONE = 0,          /* neither LMCache's nor the engine's */
    KVS_LMC_ROOT_MP,           /* request */
    KVS_LMC_ROOT_CB,           /* cb.request */
    KVS_LMC_LOOKUP,            /* mp.lookup_prefetch */
    KVS_LMC_RETRIEVE,          /* mp.retrieve */
    KVS_LMC_STORE,             /* mp.store */
    KVS_LMC_KERNEL,            /* transfer.kernel_interval */
    KVS_LMC_STAGING,           /* transfer.staging */
    KVS_LMC_TIMEOUT,           /* timeout */
    KVS_LMC_CB_LOOKUP,         /* cb.lookup */
    KVS_LMC_CB_FP_MATCH,       /* cb.fingerprint_match */
    KVS_LMC_CB_PREFIX_LOOKUP,  /* cb.prefix_lookup */
    KVS_LMC_CB_COORD_MATCH,    /* cb.coordinator_match */
    KVS_LMC_CB_SPARSE,         /* cb.sparse_prefetch */
    KVS_LMC_CB_RETRIEVE,       /* cb.retrieve */
    KVS_LMC_CB_SCATTER,        /* cb.scatter */
    KVS_LMC_CB_STORE_PRE,      /* cb.store_pre_computed */
    KVS_LMC_CB_STORE_FINAL,    /* cb.store_final */
    KVS_LMC_CB_FP_REGISTERED,  /* cb.fingerprints.registered (point span) */
    KVS_LMC_CB_EVICTED,        /* cb.chunks.evicted (point span) */
    KVS_LMC_ENGINE,            /* the engine's request span (vLLM llm_request) */
    KVS_LMC_NROLES
} kvs_lmc_role;

/* What a span is. LMCache spans are known by name, and must come from an
 * `lmcache*` instrumentation scope or carry a `session_id` attribute (so a
 * foreign span called "request" is not taken). With `engine` set, a span
 * with a string `gen_ai.request.id` that is named `llm_request` or is of
 * kind SERVER is the engine's. `scope` may be NULL. */
kvs_lmc_role kvs_lmc_classify(const kvs_span *s, const kvs_scope *scope, int engine);
const char *kvs_lmc_role_name(kvs_lmc_role r);     /* the span name, "" for NONE */
static inline int kvs_lmc_is_root(kvs_lmc_role r) { return r == KVS_LMC_ROOT_MP || r == KVS_LMC_ROOT_CB; }
static inline int kvs_lmc_is_cb(kvs_lmc_role r)
{
    return r == KVS_LMC_ROOT_CB || (r >= KVS_LMC_CB_LOOKUP && r <= KVS_LMC_CB_EVICTED);
}
static inline int kvs_lmc_is_lmcache(kvs_lmc_role r) { return r != KVS_LMC_NONE && r != KVS_LMC_ENGINE; }

/* ---- parsing (typed values and strings alike) ---- */

/* 1 parsed, 0 absent (NULL, unset, "" or "None"), -1 garbage. Integers:
 * intValue, an integral doubleValue, or a decimal string (optional sign,
 * surrounding blanks allowed, "12.0" accepted). Doubles: doubleValue,
 * intValue or a string strtod reads completely ("nan"/"inf" refused).
 * Booleans: boolValue, intValue 0/1, "True"/"False", "true"/"false",
 * "1"/"0". */
int kvs_lmc_parse_i64(const kvs_any *v, int64_t *out);
int kvs_lmc_parse_f64(const kvs_any *v, double *out);
int kvs_lmc_parse_bool(const kvs_any *v, int *out);
/* The value of attribute `key`, or NULL. */
const kvs_any *kvs_lmc_attr(kvs_kv *const *attrs, size_t n, const char *key);
/* A string attribute, or NULL when absent or not a string. */
const char *kvs_lmc_attr_str(kvs_kv *const *attrs, size_t n, const char *key);

/* ---- the record ---- */

typedef enum { KVS_LMC_INT, KVS_LMC_DOUBLE, KVS_LMC_STR, KVS_LMC_BOOL } kvs_lmc_type;

/* X(id, name, type, unit, on_engine): on_engine marks the LMCache outcome
 * fields that are also written on the engine span. */
#define KVS_LMC_FIELDS(X)                                                   \
    X(KIND, "kind", STR, "", 1)                                             \
    X(SESSION_ID, "session_id", STR, "", 0)                                 \
    X(MODEL, "model", STR, "", 0)                                           \
    X(CACHE_SALT, "cache_salt", STR, "", 1)                                 \
    X(REQUESTED_TOKENS, "requested_tokens", INT, "tokens", 1)               \
    X(HIT_TOKENS, "hit_tokens", INT, "tokens", 1)                           \
    X(HIT_RATE, "hit_rate", DOUBLE, "1", 1)                                 \
    X(TIER_L1, "tier_hits.l1", INT, "tokens", 1)                            \
    X(TIER_L2, "tier_hits.l2", INT, "tokens", 1)                            \
    X(TIER_L1_RATE, "tier_hit_rate.l1", DOUBLE, "1", 0)                     \
    X(TIER_L2_RATE, "tier_hit_rate.l2", DOUBLE, "1", 0)                     \
    X(EARLY_EXIT, "early_exit_reason", STR, "", 1)                          \
    X(STORE_ONLY, "store_only", BOOL, "", 1)                                \
    X(DURATION_MS, "duration_ms", DOUBLE, "ms", 0)                          \
    X(LOOKUP_MS, "lookup.duration_ms", DOUBLE, "ms", 0)                     \
    X(CHUNKS_FOUND, "chunks.found", INT, "chunks", 0)                       \
    X(CHUNKS_RETRIEVED, "chunks.retrieved", INT, "chunks", 0)               \
    X(CHUNKS_STORED, "chunks.stored", INT, "chunks", 0)                     \
    X(RETRIEVE_COUNT, "retrieve.count", INT, "spans", 0)                    \
    X(RETRIEVE_BYTES, "retrieve.bytes", INT, "By", 1)                       \
    X(RETRIEVE_TOKENS, "retrieve.tokens", INT, "tokens", 0)                 \
    X(RETRIEVE_MS, "retrieve.duration_ms", DOUBLE, "ms", 0)                 \
    X(RETRIEVE_GBPS, "retrieve.gbps", DOUBLE, "GB/s", 1)                    \
    X(STORE_COUNT, "store.count", INT, "spans", 0)                          \
    X(STORE_BYTES, "store.bytes", INT, "By", 0)                             \
    X(STORE_TOKENS, "store.tokens", INT, "tokens", 0)                       \
    X(STORE_MS, "store.duration_ms", DOUBLE, "ms", 0)                       \
    X(STORE_GBPS, "store.gbps", DOUBLE, "GB/s", 0)                          \
    X(KERNEL_COUNT, "transfer.kernel_interval.count", INT, "spans", 0)      \
    X(KERNEL_MS, "transfer.kernel_interval.elapsed_ms", DOUBLE, "ms", 0)    \
    X(KERNEL_BYTES, "transfer.kernel_interval.bytes", INT, "By", 0)         \
    X(KERNEL_GBPS, "transfer.kernel_interval.gbps", DOUBLE, "GB/s", 0)      \
    X(STAGING_COUNT, "transfer.staging.count", INT, "spans", 0)             \
    X(STAGING_MS, "transfer.staging.elapsed_ms", DOUBLE, "ms", 0)           \
    X(STAGING_BYTES, "transfer.staging.bytes", INT, "By", 0)                \
    X(STAGING_GBPS, "transfer.staging.gbps", DOUBLE, "GB/s", 0)             \
    X(TIMEOUTS, "timeouts", INT, "", 1)                                     \
    X(TIMEOUT_TYPE, "timeout.type", STR, "", 0)                             \
    X(SPANS, "spans", INT, "spans", 0)                                      \
    X(PARSE_ERROR_COUNT, "parse_error_count", INT, "", 0)                   \
    X(PARSE_ERRORS, "parse_errors", STR, "", 0)                             \
    X(CB_PREFIX_HITS, "cb.prefix_hits", INT, "chunks", 0)                   \
    X(CB_PREFIX_HIT_TOKENS, "cb.prefix_hit_tokens", INT, "tokens", 0)       \
    X(CB_SEG_PREFIX_HIT_TOKENS, "cb.segmented_prefix_hit_tokens", INT, "tokens", 0) \
    X(CB_NON_PREFIX_HIT_TOKENS, "cb.non_prefix_hit_tokens", INT, "tokens", 0) \
    X(CB_FINGERPRINT_HITS, "cb.fingerprint_hits", INT, "chunks", 0)         \
    X(CB_STORAGE_HITS, "cb.storage_hits", INT, "chunks", 0)                 \
    X(CB_STALE_CHUNKS, "cb.stale_chunks", INT, "chunks", 0)                 \
    X(CB_NO_GPU_CONTEXT, "cb.no_gpu_context", BOOL, "", 0)                  \
    X(CB_FP_MATCHES, "cb.fingerprint_matches", INT, "chunks", 0)            \
    X(CB_COORD_MATCHES, "cb.coordinator_matches", INT, "chunks", 0)         \
    X(CB_COORD_TIMED_OUT, "cb.coordinator_timed_out", BOOL, "", 0)          \
    X(CB_L2_KEYS, "cb.sparse_prefetch.l2_keys", INT, "keys", 0)             \
    X(CB_FOUND_KEYS, "cb.sparse_prefetch.found_keys", INT, "keys", 0)       \
    X(CB_SCATTER_TOKENS, "cb.scatter.tokens", INT, "tokens", 0)             \
    X(CB_SCATTER_PREFIX, "cb.scatter.prefix_chunks", INT, "chunks", 0)      \
    X(CB_SCATTER_SHIFTED, "cb.scatter.shifted_chunks", INT, "chunks", 0)    \
    X(CB_SCATTER_DROPPED, "cb.scatter.dropped_chunks", INT, "chunks", 0)    \
    X(CB_PRE_CHUNKS, "cb.store_pre_computed.chunks", INT, "chunks", 0)      \
    X(CB_FINAL_CHUNKS, "cb.store_final.chunks", INT, "chunks", 0)           \
    X(CB_FAILURES, "cb.failures", INT, "spans", 1)                          \
    X(CB_FAILED_PHASES, "cb.failed_phases", STR, "", 0)                     \
    X(CB_FP_REGISTERED, "cb.fingerprints_registered", INT, "chunks", 0)     \
    X(CB_CHUNKS_EVICTED, "cb.chunks_evicted", INT, "chunks", 0)             \
    X(ENGINE_TTFT_MS, "engine.ttft_ms", DOUBLE, "ms", 0)                    \
    X(ENGINE_QUEUE_MS, "engine.queue_ms", DOUBLE, "ms", 0)                  \
    X(ENGINE_E2E_MS, "engine.e2e_ms", DOUBLE, "ms", 0)                      \
    X(ENGINE_PROMPT_TOKENS, "engine.prompt_tokens", INT, "tokens", 0)       \
    X(ENGINE_COMPLETION_TOKENS, "engine.completion_tokens", INT, "tokens", 0) \
    X(ENGINE_MODEL, "engine.model", STR, "", 0)                             \
    X(JOIN, "join", STR, "", 1)                                             \
    X(LATE, "late", BOOL, "", 0)                                            \
    X(EARLY_RELEASE, "early_release", STR, "", 0)                           \
    X(ORPHAN, "orphan", BOOL, "", 0)                                        \
    X(GBPS, "gbps", DOUBLE, "GB/s", 0)

typedef enum kvs_lmc_field {
#define KVS_LMC_ENUM_(id, name, type, unit, eng) KVS_LMC_F_##id,
    KVS_LMC_FIELDS(KVS_LMC_ENUM_)
#undef KVS_LMC_ENUM_
    KVS_LMC_NFIELDS
} kvs_lmc_field;

typedef struct kvs_lmc_field_def {
    const char *name;      /* without the prefix */
    kvs_lmc_type type;
    const char *unit;      /* UCUM-ish: tokens, chunks, By, ms, GB/s, 1, "" */
    int on_engine;
} kvs_lmc_field_def;

extern const kvs_lmc_field_def kvs_lmc_fields[KVS_LMC_NFIELDS];

typedef union kvs_lmc_value {
    int64_t i;             /* INT, BOOL (0/1) */
    double d;
    const char *s;         /* points into span memory or a static string */
} kvs_lmc_value;

#define KVS_LMC_MAX_ERRORS 8

typedef struct kvs_lmc_request {
    uint8_t has[KVS_LMC_NFIELDS];
    kvs_lmc_value v[KVS_LMC_NFIELDS];
    /* Working state; the fields above are the result. */
    int root_seen, cb_seen;        /* the root was added; a CacheBlend span was */
    int lookup_seen;               /* lookup attributes on the root or a lookup span */
    unsigned nlookup;              /* lookup spans */
    uint64_t root_start, root_end;
    uint64_t lookup_ns, retrieve_ns, store_ns;
    double kernel_s, staging_s;
    unsigned failed_phases;        /* CacheBlend: bit per role that reported success=False */
    unsigned nerr;                 /* parse errors recorded (named up to KVS_LMC_MAX_ERRORS) */
    struct { kvs_lmc_role role; const char *key; } err[KVS_LMC_MAX_ERRORS];
} kvs_lmc_request;

void kvs_lmc_request_init(kvs_lmc_request *r);
/* Adds one LMCache span of the request (the root or a descendant). */
void kvs_lmc_request_add(kvs_lmc_request *r, kvs_lmc_role role, const kvs_span *s);
/* Derives what needs every span: rates, GB/s, durations, store_only,
 * parse_errors. Call once after the last add. */
void kvs_lmc_request_finish(kvs_lmc_request *r);

static inline int kvs_lmc_has(const kvs_lmc_request *r, kvs_lmc_field f) { return r->has[f]; }
static inline int64_t kvs_lmc_i(const kvs_lmc_request *r, kvs_lmc_field f) { return r->v[f].i; }
static inline double kvs_lmc_d(const kvs_lmc_request *r, kvs_lmc_field f) { return r->v[f].d; }
static inline const char *kvs_lmc_s(const kvs_lmc_request *r, kvs_lmc_field f) { return r->v[f].s; }
static inline void kvs_lmc_set_i(kvs_lmc_request *r, kvs_lmc_field f, int64_t v) { r->v[f].i = v, r->has[f] = 1; }
static inline void kvs_lmc_set_d(kvs_lmc_request *r, kvs_lmc_field f, double v) { r->v[f].d = v, r->has[f] = 1; }
static inline void kvs_lmc_set_s(kvs_lmc_request *r, kvs_lmc_field f, const char *v) { r->v[f].s = v, r->has[f] = 1; }

/* GB/s as every kvscope annotation computes it: bytes / 1e9 / seconds,
 * seconds = ns / 1e9. 0 when ns is 0. */
static inline double kvs_lmc_gbps(int64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes / 1e9 / ((double)ns / 1e9) : 0.0;
}
/* Milliseconds from nanoseconds: ns / 1e6. */
static inline double kvs_lmc_ms(uint64_t ns) { return (double)ns / 1e6; }

/* ---- the engine side ---- */

#define KVS_LMC_MODEL_MAX 128

enum { KVS_LMC_ENG_TTFT = 1, KVS_LMC_ENG_QUEUE = 2, KVS_LMC_ENG_E2E = 4, KVS_LMC_ENG_PROMPT = 8,
       KVS_LMC_ENG_COMPLETION = 16 };

typedef struct kvs_lmc_engine {
    int present;
    const char *request_id;        /* points into the span (not kept by copies) */
    unsigned has;                  /* KVS_LMC_ENG_* bits */
    double ttft_s, queue_s, e2e_s;
    int64_t prompt_tokens, completion_tokens;
    char model[KVS_LMC_MODEL_MAX]; /* gen_ai.response.model, else gen_ai.request.model ("" if none) */
    uint8_t trace_id[16], span_id[8];
} kvs_lmc_engine;

/* Reads vLLM's SpanAttributes (vllm/tracing.py): gen_ai.request.id,
 * gen_ai.latency.time_to_first_token / time_in_queue / e2e (seconds),
 * gen_ai.usage.prompt_tokens / completion_tokens, the model. */
void kvs_lmc_engine_read(const kvs_span *s, kvs_lmc_engine *e);
/* Copies the engine's values into the record's engine.* fields, sets
 * `join` ("same_trace" or "cross_trace") and `model` when LMCache did not
 * name one. */
void kvs_lmc_request_set_engine(kvs_lmc_request *r, const kvs_lmc_engine *e, int same_trace);

/* The LMCache outcome an engine span receives: the on_engine fields of a
 * record as (field, value) pairs, self-contained (strings copied, no
 * pointers into spans), so it can outlive the spans it came from. */
#define KVS_LMC_TEXT_MAX 48
#define KVS_LMC_OUTCOME_MAX 16
typedef struct kvs_lmc_outcome {
    int present;
    uint8_t n;
    uint8_t field[KVS_LMC_OUTCOME_MAX];
    kvs_lmc_value v[KVS_LMC_OUTCOME_MAX];      /* strings: NULL for the two below */
    char early_exit[KVS_LMC_TEXT_MAX], cache_salt[KVS_LMC_TEXT_MAX];
    uint8_t trace_id[16], span_id[8];          /* the LMCache root */
} kvs_lmc_outcome;

void kvs_lmc_outcome_from(const kvs_lmc_request *r, const kvs_span *root, kvs_lmc_outcome *o);

/* ---- annotations ---- */

/* Builds a span's new attribute array in an arena: the span's own
 * attributes first, then the annotations. Key strings `<prefix><name>` are
 * made once per builder (cached). oom is set when the arena failed; the
 * array is then the original one plus what fitted. */
#define KVS_LMC_KEY_CACHE (KVS_LMC_NFIELDS + 64)
typedef struct kvs_lmc_attrs {
    kvs_arena *arena;
    const char *prefix;
    size_t plen;
    kvs_kv **v;
    size_t n, cap;
    int oom;
    void *pool;                             /* attributes allocated ahead */
    size_t pool_left;
    const char *names[KVS_LMC_KEY_CACHE];   /* fields, then LMCache's keys */
} kvs_lmc_attrs;

void kvs_lmc_attrs_init(kvs_lmc_attrs *b, kvs_arena *a, const char *prefix);
/* Starts a new array holding the n existing attributes, with room for
 * `extra` more (it grows past that; 0: a default). Keeps the key cache. */
void kvs_lmc_attrs_start(kvs_lmc_attrs *b, kvs_kv *const *attrs, size_t n, size_t extra);
void kvs_lmc_attrs_add_int(kvs_lmc_attrs *b, const char *key, int64_t v);
void kvs_lmc_attrs_add_double(kvs_lmc_attrs *b, const char *key, double v);
void kvs_lmc_attrs_add_str(kvs_lmc_attrs *b, const char *key, const char *v);
void kvs_lmc_attrs_add_bool(kvs_lmc_attrs *b, const char *key, int v);
/* `<prefix><name>` in the arena (cached for fields). */
const char *kvs_lmc_attrs_key(kvs_lmc_attrs *b, kvs_lmc_field f);

/* Every field the record has, on the root span of the request. */
void kvs_lmc_annotate_root(const kvs_lmc_request *r, kvs_lmc_attrs *b);
/* The LMCache outcome on the engine span, with `join`. */
void kvs_lmc_annotate_engine(const kvs_lmc_outcome *o, int same_trace, kvs_lmc_attrs *b);
/* A child span on its own: its string numbers and booleans as typed
 * `<prefix><key>` attributes, `<prefix>duration_ms`, `<prefix>gbps` where
 * it moved bytes, `<prefix>parse_errors` naming keys that did not parse.
 * Returns the number of parse errors. */
unsigned kvs_lmc_annotate_child(kvs_lmc_role role, const kvs_span *s, kvs_lmc_attrs *b);
/* Both at once, parsing the span once: adds a descendant span to r (when r
 * is not NULL, as kvs_lmc_request_add) and writes its own annotations with
 * b (when b is not NULL, as kvs_lmc_annotate_child). Returns the span's
 * parse errors. */
unsigned kvs_lmc_request_add_child(kvs_lmc_request *r, kvs_lmc_role role, const kvs_span *s, kvs_lmc_attrs *b);

/* ---- reading annotations back (for components downstream) ---- */

/* Fills r from the `<prefix>*` attributes of an annotated span (root or
 * engine span). Strings point into the span. Returns the number of fields
 * found (0: not annotated). */
int kvs_lmc_request_read(const kvs_span *s, const char *prefix, kvs_lmc_request *r);

#endif
