/* kvs_lmc_logscan: classifies one engine / LMCache log line into the
 * evidence categories the diagnosis uses.
 *
 * One classifier: the 14 categories of the peer tool's log lane (same
 * names, same order), the connector, mode candidates, config hints
 * (PYTHONHASHSEED, enable_p2p / enable_pd / enable_async_loading) and the
 * P2P speed hint all come from formats/log_classify (kvs_logc_classify),
 * the classifier the `filelog` receiver uses, so the diagnosis counts a
 * line exactly as the receiver's `kvscope.log.categories` say. This module
 * only adds what the diagnosis needs beyond it:
 *  - two kvscope categories, `remote_backend_error` (a remote backend
 *    failing) and `zero_hit` (an embedded "LMCache hit tokens: 0" or an MP
 *    "0/N prefix hits" line), with the hit / total token counts;
 *  - the speed in comparable units (GB/s for byte rates, tokens/s);
 *  - SGLang's `LMCacheLayerwiseConnector`, which the receiver does not name.
 *
 * Promises: pure (no allocation, no state); the same line always gives the
 * same result. ANSI escapes are stripped before matching (as the
 * receiver does). Lines longer than KVS_LMC_LOG_MAX_LINE bytes are
 * classified on their first KVS_LMC_LOG_MAX_LINE bytes. */
#ifndef KVS_LMC_LOGSCAN_H
#define KVS_LMC_LOGSCAN_H

#include "formats/log_classify.h"

#include <stddef.h>
#include <stdint.h>

#define KVS_LMC_LOG_MAX_LINE KVS_LOGC_MAX_SCAN

typedef enum kvs_lmc_log_cat {
    KVS_LMC_LOG_STORE = 0,
    KVS_LMC_LOG_RETRIEVE,
    KVS_LMC_LOG_PREFETCH_COMPLETE,
    KVS_LMC_LOG_P2P_TRANSFER,
    KVS_LMC_LOG_P2P_PEER,
    KVS_LMC_LOG_P2P_TRANSFER_FAILURE,
    KVS_LMC_LOG_P2P_TRANSFER_SPEED,
    KVS_LMC_LOG_PD_SENDER,
    KVS_LMC_LOG_PD_RECEIVER,
    KVS_LMC_LOG_PD_ROLE_MISMATCH,
    KVS_LMC_LOG_PD_STALL,
    KVS_LMC_LOG_NIXL_PROXY,
    KVS_LMC_LOG_NIXL_REQUEST,
    KVS_LMC_LOG_HEALTH_STARTUP,
    KVS_LMC_LOG_REMOTE_BACKEND_ERROR,
    KVS_LMC_LOG_ZERO_HIT,
    KVS_LMC_LOG__COUNT
} kvs_lmc_log_cat;

/* Mode candidates a line suggests (bits). */
enum {
    KVS_LMC_LOGMODE_MP = 1,
    KVS_LMC_LOGMODE_EMBEDDED = 2,
    KVS_LMC_LOGMODE_P2P = 4,
    KVS_LMC_LOGMODE_PD = 8,
};

typedef struct kvs_lmc_logline {
    uint32_t cats;              /* 1u << kvs_lmc_log_cat */
    uint32_t modes;             /* KVS_LMC_LOGMODE_* */
    const char *connector;      /* static class name (longest named), or NULL */
    char hashseed[48];          /* PYTHONHASHSEED value, "" when none */
    int enable_p2p, enable_pd, enable_async;   /* -1 not said, 0 false, 1 true */
    double speed;               /* the speed on a p2p line; NaN when none */
    char speed_unit[16];        /* as written, e.g. "GB/s" */
    double speed_gbps;          /* the speed in GB/s (bytes units); NaN otherwise */
    double speed_tokens_s;      /* the speed in tokens/s; NaN otherwise */
    long hit_tokens, total_tokens; /* from hit lines; -1 when none */
} kvs_lmc_logline;

const char *kvs_lmc_log_cat_name(kvs_lmc_log_cat c);
/* Classified without a file hint: the bare `LMCacheConnector` is SGLang's
 * own (an embedded candidate) only on a line SGLang's format or words
 * show; evidence_records.c takes the receiver's mode candidates, which
 * knew the file. */
void kvs_lmc_logscan(const char *line, size_t n, kvs_lmc_logline *out);

#endif
