/* kvs_logc: classifies one log line of an LMCache / vLLM / SGLang
 * deployment into the evidence categories (store, retrieve,
 * prefetch_complete, p2p_*, pd_*, nixl_*, health_startup), finds the
 * connector in use, mode candidates, config hints (PYTHONHASHSEED,
 * enable_p2p / enable_pd / enable_async_loading), a transfer-speed hint,
 * the line's source (lmcache, vllm, sglang) and its severity word.
 *
 * Matching is by whole words, case-insensitively, on the line with ANSI
 * escapes removed: a word matches only where regex \b would (no letter,
 * digit or '_' on either side), so "Starting StoreController" is not a
 * store, "restored" is not "stored", "kv_transfer_config" is not a
 * transfer and "prefilled" is not "prefill". Source names (LMCache, vLLM,
 * SGLang, P2P, NIXL) also match as identifier heads and tails (lmcache_mp,
 * enable_p2p, LMCacheEngine, P2PBackend). Phrases match across any run of
 * spaces. A PD role needs a PD word and a role word ("NIXL sender"); the
 * role noun alone ("decoder ring") is not one.
 * The source is told by the line's own format first (LMCache's
 * "[date] LMCache LEVEL:", vLLM's "LEVEL MM-DD hh:mm:ss", SGLang's
 * "[YYYY-MM-DD hh:mm:ss TP0]"), then by its words, then by the file.
 * Connectors are matched case-sensitively as whole identifiers, longest
 * first: LMCacheConnectorV1Dynamic and LMCacheConnectorV1 mean embedded
 * LMCache, LMCacheMPConnector the MP server; the bare LMCacheConnector is
 * vLLM's stale v0 connector, except in SGLang, whose LMCache integration
 * uses that name. A codec: pure, no allocation, thread-safe. */
#ifndef KVS_LOG_CLASSIFY_H
#define KVS_LOG_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

enum {
    KVS_LOGC_STORE,
    KVS_LOGC_RETRIEVE,
    KVS_LOGC_PREFETCH_COMPLETE,
    KVS_LOGC_P2P_TRANSFER,
    KVS_LOGC_P2P_PEER,
    KVS_LOGC_P2P_TRANSFER_FAILURE,
    KVS_LOGC_P2P_TRANSFER_SPEED,
    KVS_LOGC_PD_SENDER,
    KVS_LOGC_PD_RECEIVER,
    KVS_LOGC_PD_ROLE_MISMATCH,
    KVS_LOGC_PD_STALL,
    KVS_LOGC_NIXL_PROXY,
    KVS_LOGC_NIXL_REQUEST,
    KVS_LOGC_HEALTH_STARTUP,
    KVS_LOGC_NCAT
};
/* "store", ..., "health_startup"; "other" for KVS_LOGC_NCAT. */
const char *kvs_logc_category_name(int cat);

typedef enum kvs_logc_source {
    KVS_LOGC_SRC_UNKNOWN,
    KVS_LOGC_SRC_LMCACHE,
    KVS_LOGC_SRC_VLLM,
    KVS_LOGC_SRC_SGLANG,
} kvs_logc_source;
const char *kvs_logc_source_name(kvs_logc_source s);   /* "unknown", "lmcache", ... */
/* The source a file name suggests ("vllm-0.log" -> vllm), else unknown. */
kvs_logc_source kvs_logc_source_from_path(const char *path);

enum {
    KVS_LOGC_CONN_MP = 1,            /* LMCacheMPConnector */
    KVS_LOGC_CONN_V1 = 2,            /* LMCacheConnectorV1 */
    KVS_LOGC_CONN_V1_DYNAMIC = 4,    /* LMCacheConnectorV1Dynamic */
    KVS_LOGC_CONN_BARE = 8,          /* LMCacheConnector */
};
const char *kvs_logc_connector_name(unsigned bit);

enum {
    KVS_LOGC_MODE_MP = 1,
    KVS_LOGC_MODE_EMBEDDED = 2,
    KVS_LOGC_MODE_P2P = 4,
    KVS_LOGC_MODE_DISAGG = 8,        /* disaggregated_prefill */
};
const char *kvs_logc_mode_name(unsigned bit);   /* "mp", "embedded", "p2p", "disaggregated_prefill" */

typedef struct kvs_logc_result {
    uint32_t categories;           /* bit per KVS_LOGC_* category */
    kvs_logc_source source;        /* by content, else the hint */
    int severity_number;           /* OTLP SeverityNumber; 0 when no level word */
    const char *severity_text;     /* the level word as written, static; NULL when none */
    unsigned connectors;           /* KVS_LOGC_CONN_* */
    int stale_connector;           /* the bare LMCacheConnector outside SGLang */
    unsigned modes;                /* KVS_LOGC_MODE_* candidates */
    char hashseed[48];             /* PYTHONHASHSEED value, "" when none */
    signed char enable_p2p, enable_pd, enable_async_loading;   /* -1 not seen, 0, 1 */
    int has_speed;
    double speed_value;
    char speed_unit[16];           /* as written: "GB/s", "tokens/s" */
} kvs_logc_result;

/* Copies `in` without ANSI escape sequences (CSI, OSC, two-byte ESC) and
 * without other control characters but tab; `out` holds at least n bytes.
 * Returns the length written. */
size_t kvs_logc_strip(const char *in, size_t n, char *out);

/* Classifies one line (already stripped). `hint` is the source its file
 * suggests (KVS_LOGC_SRC_UNKNOWN when none). Looks at the first
 * KVS_LOGC_MAX_SCAN bytes. */
#define KVS_LOGC_MAX_SCAN 8192
void kvs_logc_classify(const char *line, size_t n, kvs_logc_source hint, kvs_logc_result *out);

#endif
