/* Internal to lmcache/request*.c: the attribute keys LMCache puts on its
 * spans, their types, and one span's values parsed (strings included). */
#ifndef KVS_LMCACHE_REQUEST_KEYS_H
#define KVS_LMCACHE_REQUEST_KEYS_H

#include "lmcache/request.h"

/* Equality and prefix tests of short strings, inline (attribute keys and
 * span names are compared millions of times a second). */
static inline int kvs_lmc_streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}
static inline int kvs_lmc_prefix(const char *s, const char *p)
{
    while (*p && *s == *p)
        s++, p++;
    return *p == 0;
}

/* X(id, key, type): I integer, D double, B boolean, S string. */
#define KVS_LMC_KEYS(X)                                        \
    X(SESSION_ID, "session_id", S)                             \
    X(FOUND_COUNT, "found_count", I)                           \
    X(REQUESTED_TOKENS, "requested_tokens", I)                 \
    X(HIT_TOKENS, "hit_tokens", I)                             \
    X(L1_HIT_TOKENS, "l1_hit_tokens", I)                       \
    X(L2_HIT_TOKENS, "l2_hit_tokens", I)                       \
    X(HIT_RATE, "hit_rate", D)                                 \
    X(L1_HIT_RATE, "l1_hit_rate", D)                           \
    X(L2_HIT_RATE, "l2_hit_rate", D)                           \
    X(MODEL_NAME, "model_name", S)                             \
    X(CACHE_SALT, "cache_salt", S)                             \
    X(EARLY_EXIT_REASON, "early_exit_reason", S)               \
    X(RETRIEVED_COUNT, "retrieved_count", I)                   \
    X(STORED_COUNT, "stored_count", I)                         \
    X(TOTAL_BYTES, "total_bytes", I)                           \
    X(NUM_TOKENS, "num_tokens", I)                             \
    X(DEVICE_INDEX, "device_index", I)                         \
    X(NUM_STEPS, "num_steps", I)                               \
    X(NBYTES, "nbytes", I)                                     \
    X(ELAPSED_SECONDS, "elapsed_seconds", D)                   \
    X(FIRST_START_S, "first_start_s", D)                       \
    X(LAST_END_S, "last_end_s", D)                             \
    X(THROUGHPUT, "throughput_GB_per_second", D)               \
    X(FINGERPRINT_HITS, "fingerprint_hits", I)                 \
    X(STORAGE_HITS, "storage_hits", I)                         \
    X(STALE_CHUNKS, "stale_chunks", I)                         \
    X(NO_GPU_CONTEXT, "no_gpu_context", B)                     \
    X(PREFIX_HITS, "prefix_hits", I)                           \
    X(PREFIX_HIT_TOKENS, "prefix_hit_tokens", I)               \
    X(PREFIX_CHUNKS, "prefix_chunks", I)                       \
    X(SEG_PREFIX_HIT_TOKENS, "segmented_prefix_hit_tokens", I) \
    X(NON_PREFIX_HIT_TOKENS, "non_prefix_hit_tokens", I)       \
    X(MATCHES, "matches", I)                                   \
    X(TIMED_OUT, "timed_out", B)                               \
    X(L2_KEYS, "l2_keys", I)                                   \
    X(FOUND_KEYS, "found_keys", I)                             \
    X(NUM_CHUNKS, "num_chunks", I)                             \
    X(SUCCESS, "success", B)                                   \
    X(SCATTERED_TOKENS, "scattered_tokens", I)                 \
    X(N_PREFIX, "n_prefix", I)                                 \
    X(N_SHIFTED, "n_shifted", I)                               \
    X(DROPPED, "dropped", I)                                   \
    X(STORED_CHUNKS, "stored_chunks", I)

enum {
#define KVS_LMC_KEYENUM_(id, name, type) K_##id,
    KVS_LMC_KEYS(KVS_LMC_KEYENUM_)
#undef KVS_LMC_KEYENUM_
    K_NKEYS
};
_Static_assert(K_NKEYS <= 64, "keys are a 64-bit mask");

enum { KT_I, KT_D, KT_B, KT_S };

typedef struct kvs_lmc_key_def {
    const char *name;
    size_t len;
    int type;
} kvs_lmc_key_def;

extern const kvs_lmc_key_def kvs_lmc_keys[K_NKEYS];

/* One span's known keys, parsed. */
typedef struct kvs_lmc_pspan {
    uint64_t has;                       /* bit per key: a value */
    uint64_t was_str;                   /* bit per key: it came as a string */
    kvs_lmc_value v[K_NKEYS];
    unsigned nerr;
    uint8_t err[KVS_LMC_MAX_ERRORS];    /* keys that did not parse */
} kvs_lmc_pspan;

void kvs_lmc_parse_span(kvs_lmc_role role, const kvs_span *s, kvs_lmc_pspan *p);
/* The fields of kvs_lmc_outcome, ending with KVS_LMC_NFIELDS. */
extern const uint8_t kvs_lmc_outcome_fields[];
/* kvs_lmc_request_add with the span already parsed. */
void kvs_lmc_request_add_parsed(kvs_lmc_request *r, kvs_lmc_role role, const kvs_span *s, const kvs_lmc_pspan *p);

#endif
