/* kvs_lh: LMCache lookup-hash logs (`lookup_hashes_*.jsonl`, written by
 * `lmcache server --lookup-hash-log-dir DIR`, rotated by
 * `--lookup-hash-log-rotation-interval`, `--lookup-hash-log-rotation-max-size`
 * and `--lookup-hash-log-max-files`).
 *
 * One JSON object per line: model_name, chunk_size, seq_len, dtypes,
 * shapes, chunk_hashes, a timestamp and request id, and possibly the
 * logger's configuration (on the row or in a nested `config` object).
 * The chunk hashes are never kept: a row carries only their count, so no
 * raw hash can reach any output built from these structures.
 *
 * Coercions follow the evidence convention: seq_len and chunk_size accept
 * integers, floats (truncated) and decimal-integer strings ("512"; not
 * "512.0"); booleans are ignored. A codec: pure, no pipeline knowledge. */
#ifndef KVS_LOOKUP_HASH_H
#define KVS_LOOKUP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KVS_LH_MAX_SET 8        /* distinct models / chunk sizes kept */

typedef struct kvs_lh_config {
    char log_dir[256];
    char rotation_interval[48];
    char rotation_max_size[48];
    char max_files[48];
} kvs_lh_config;

typedef struct kvs_lh_row {
    int has_time;
    double time_s;                 /* numeric timestamp (epoch seconds) */
    char timestamp[48];            /* the timestamp as written (string or number) */
    char request_id[128];
    char model_name[128];
    int has_chunk_size, has_seq_len, has_chunk_hashes;
    int64_t chunk_size, seq_len;
    int64_t chunk_hash_count;      /* how many hashes the row held; never the hashes */
    char dtypes[160];              /* compact JSON, truncated */
    char shapes[160];
    kvs_lh_config config;          /* fields set on this row, "" otherwise */
} kvs_lh_row;

/* Parses one line. 0: a row; 1: a blank line (nothing); -1: malformed,
 * `err` says why ("expected object", "invalid JSON ..."). */
int kvs_lh_parse_line(const char *line, size_t n, kvs_lh_row *row, char *err, size_t errcap);

typedef struct kvs_lh_int_summary {
    uint64_t count;
    int64_t min, max, total;
} kvs_lh_int_summary;

typedef struct kvs_lh_summary {
    uint64_t rows, malformed;
    char models[KVS_LH_MAX_SET][128];
    size_t nmodels;
    uint64_t more_models;          /* distinct models beyond the ones kept */
    int64_t chunk_sizes[KVS_LH_MAX_SET];   /* sorted */
    size_t nchunk_sizes;
    kvs_lh_int_summary seq_len, chunk_hash_count;
    kvs_lh_config config;          /* later rows override */
    double first_time, last_time;  /* numeric timestamps seen (0 when none) */
} kvs_lh_summary;

void kvs_lh_summary_init(kvs_lh_summary *s);
void kvs_lh_summary_add(kvs_lh_summary *s, const kvs_lh_row *row);

#endif
