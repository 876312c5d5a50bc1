/* kvs_lctr: outputs of `lmcache trace info` / `lmcache trace replay`, the
 * companions of an `.lct` recording:
 *   - trace_info: "key: value" text (level, format_version,
 *     trace_schema_version, duration[_s], sm_config_digest, total_records,
 *     and per-qualname counts);
 *   - json: an object with those fields and `ops`/`operations` (a map
 *     qualname -> count or -> stats object, or a list of op objects), or a
 *     list of op objects;
 *   - jsonl: one op row per line (qualname|name, failed, latency_ms);
 *   - ops_csv: a header then rows (qualname, count, errors, mean_ms,
 *     p50_ms, p90_ms, p99_ms, min_ms, max_ms).
 * The kind comes from the file name (.csv, .jsonl, .json) or the text
 * (starts with '{' or '['), else trace_info. Per-op latency keeps the
 * statistics as given (mean, p50, p90, p99, min, max); JSONL samples are
 * summarised over the samples themselves. The sm_config_digest ties the
 * output to the recording whose header carries the same digest.
 * A codec: pure; malformed parts become errors, never a failure. */
#ifndef KVS_LCT_REPLAY_H
#define KVS_LCT_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define KVS_LCTR_MAX_OPS 64
#define KVS_LCTR_MAX_ERRORS 8

typedef enum kvs_lctr_kind {
    KVS_LCTR_TRACE_INFO,
    KVS_LCTR_JSON,
    KVS_LCTR_JSONL,
    KVS_LCTR_OPS_CSV,
} kvs_lctr_kind;
const char *kvs_lctr_kind_name(kvs_lctr_kind k);   /* "trace_info", "json", "jsonl", "ops_csv" */

/* Statistic indexes of kvs_lctr_op.stat (NaN when absent). */
enum { KVS_LCTR_MEAN, KVS_LCTR_P50, KVS_LCTR_P90, KVS_LCTR_P99, KVS_LCTR_MIN, KVS_LCTR_MAX, KVS_LCTR_NSTATS };
const char *kvs_lctr_stat_name(int stat);   /* "mean_ms", "p50_ms", ... */

typedef struct kvs_lctr_op {
    char qualname[160];
    uint64_t count, errors;
    double stat[KVS_LCTR_NSTATS];
    uint64_t samples;             /* jsonl latency samples */
    double sample_sum;
} kvs_lctr_op;

typedef struct kvs_lctr {
    kvs_lctr_kind kind;
    char level[32];
    int64_t format_version, trace_schema_version, total_records;   /* -1 when absent */
    char sm_config_digest[80];
    double duration_s;            /* NaN when absent */
    kvs_lctr_op ops[KVS_LCTR_MAX_OPS];
    size_t nops;
    uint64_t more_ops;            /* distinct qualnames beyond KVS_LCTR_MAX_OPS */
    uint64_t rows_seen, failed_rows;
    char errors[KVS_LCTR_MAX_ERRORS][160];
    size_t nerrors;
    uint64_t error_count;
} kvs_lctr;

/* `name` is the file's name (its suffix picks the kind). Returns -1 only
 * when out of memory. */
int kvs_lctr_parse(const char *name, const char *text, size_t len, kvs_lctr *out);

#endif
