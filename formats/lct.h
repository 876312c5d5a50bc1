/* kvs_lct: a streaming reader of LMCache `.lct` trace recordings.
 *
 * A recording is a sequence of frames, each a 4-byte big-endian length and
 * that many bytes of msgpack. Frame 0 is the header (a map with `type:
 * "header"`, `magic` b"LMCT", `format_version` 1, `level`, and either
 * `trace_schema_version` (1 or 2) or, in older builds, `lmcache_version`;
 * `t_mono_start`, `t_wall_start`, `sm_config_json`, `sm_config_digest`).
 * Every later frame is a record (`type: "record"`, `t_mono`, `t_wall`,
 * `qualname`, `args`). Argument values keep LMCache's codec wrapping
 * `{"__t__": tag, "v": payload}`, resolved here into tagged values.
 *
 * Promises:
 *   - constant memory whatever the file size: one frame is held at a time
 *     and frames over `max_frame` bytes are skipped without being buffered;
 *   - the header is validated (magic, format_version, schema version);
 *   - a truncated tail ends the stream with `truncated` set and the byte
 *     offset of the partial frame; every record before it is delivered;
 *   - an undecodable record is skipped and reported with its index and
 *     offset; reading goes on with the next frame;
 *   - an unknown codec tag does not make a record undecodable (LMCache's
 *     own reader keeps such records too): the value is returned as tagged
 *     with KVS_LCT_TAG_UNKNOWN and counted.
 * A codec: no pipeline knowledge. Not thread-safe (one reader, one thread). */
#ifndef KVS_LCT_H
#define KVS_LCT_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

#define KVS_LCT_MAGIC "LMCT"
#define KVS_LCT_FORMAT_VERSION 1
#define KVS_LCT_MAX_DEPTH 24             /* nesting of args values */
#define KVS_LCT_DEFAULT_MAX_FRAME (16u << 20)

typedef enum kvs_lct_type {
    KVS_LCT_NIL,
    KVS_LCT_BOOL,
    KVS_LCT_INT,      /* fits int64 */
    KVS_LCT_UINT,     /* above INT64_MAX */
    KVS_LCT_FLOAT,
    KVS_LCT_STR,
    KVS_LCT_BIN,
    KVS_LCT_LIST,
    KVS_LCT_MAP,
    KVS_LCT_TAGGED,   /* a codec-wrapped value: tag + payload */
} kvs_lct_type;

typedef enum kvs_lct_tag {
    KVS_LCT_TAG_UNKNOWN,
    KVS_LCT_TAG_TUPLE,
    KVS_LCT_TAG_OBJECT_KEY,
    KVS_LCT_TAG_MEMORY_LAYOUT_DESC,
    KVS_LCT_TAG_PREFETCH_HANDLE,
    KVS_LCT_TAG_TORCH_SIZE,
    KVS_LCT_TAG_TORCH_DTYPE,
    KVS_LCT_TAG_TRIM_POLICY,
    KVS_LCT_TAG_PREFETCH_MODE,
    KVS_LCT_TAG_ATTN_WINDOW_DESC,
    KVS_LCT_TAG_PREFETCH_REQUEST_SPEC,
    KVS_LCT_TAG_SET,
} kvs_lct_tag;

typedef struct kvs_lct_value kvs_lct_value;
typedef struct kvs_lct_kv kvs_lct_kv;

struct kvs_lct_value {
    kvs_lct_type type;
    union {
        int b;
        int64_t i;
        uint64_t u;
        double f;
        struct { const char *p; size_t n; } s;        /* STR, BIN: not NUL-terminated */
        struct { kvs_lct_value *v; size_t n; } list;
        struct { kvs_lct_kv *kv; size_t n; } map;
        struct {
            kvs_lct_tag tag;
            const char *name; size_t name_len;       /* the tag as written */
            kvs_lct_value *v;                         /* the payload */
        } tagged;
    };
};

struct kvs_lct_kv {
    const char *key;     /* map keys that are not strings are skipped */
    size_t key_len;
    kvs_lct_value val;
};

typedef struct kvs_lct_header {
    int format_version;
    int trace_schema_version;    /* 0 when the header has none (older builds) */
    char level[32];
    char lmcache_version[64];    /* "" when absent */
    double t_mono_start, t_wall_start;
    char sm_config_digest[80];   /* hex, "" when absent */
    size_t sm_config_json_len;
} kvs_lct_header;

/* A record; its memory (strings, args) is valid until the next call on the
 * reader. */
typedef struct kvs_lct_record {
    uint64_t index;              /* 0-based among records (frame index - 1) */
    uint64_t offset;             /* byte offset of its frame in the file */
    double t_mono, t_wall;
    const char *qualname;        /* NUL-terminated */
    size_t qualname_len;
    const kvs_lct_value *args;   /* a MAP (empty when the record has none) */
} kvs_lct_record;

/* A skipped record. */
typedef struct kvs_lct_issue {
    uint64_t index;
    uint64_t offset;
    char reason[160];
} kvs_lct_issue;

typedef struct kvs_lct_stats {
    uint64_t records;            /* delivered */
    uint64_t skipped;            /* undecodable or oversized frames */
    uint64_t unknown_tags;       /* values with a tag this build does not know */
    uint64_t bytes;              /* consumed so far */
    int truncated;               /* the stream ended inside a frame */
    uint64_t truncated_offset;   /* where that partial frame starts */
    uint64_t truncated_have;     /* bytes of it present */
    uint64_t truncated_want;     /* bytes it declared (0 when the prefix itself is cut) */
} kvs_lct_stats;

/* Reads up to n bytes; returns the count, 0 at end of input, -1 on error
 * (errno set). */
typedef long (*kvs_lct_read_fn)(void *ctx, void *buf, size_t n);

typedef struct kvs_lct_reader kvs_lct_reader;

/* max_frame 0 = KVS_LCT_DEFAULT_MAX_FRAME. NULL when out of memory. */
kvs_lct_reader *kvs_lct_reader_new(kvs_lct_read_fn read, void *ctx, size_t max_frame);
/* A reader over a file descriptor (not closed by the reader). */
kvs_lct_reader *kvs_lct_reader_fd(int fd, size_t max_frame);
/* A reader over memory (kept by the caller while reading). */
kvs_lct_reader *kvs_lct_reader_mem(const void *data, size_t len, size_t max_frame);
void kvs_lct_reader_free(kvs_lct_reader *r);

/* Continues a recording whose header an earlier reader validated: the
 * input (already positioned) starts at file offset `offset` on a frame
 * boundary, and its first record has index `next_index`. Offsets reported
 * are then file offsets. Instead of kvs_lct_read_header. */
void kvs_lct_reader_resume(kvs_lct_reader *r, uint64_t offset, uint64_t next_index);

/* Reads and validates the header frame. 0, or KVS_E_INVALID (not a trace,
 * bad magic or version: the message says which, with the byte offset) or
 * KVS_E_IO. Must be called once, before kvs_lct_next. */
int kvs_lct_read_header(kvs_lct_reader *r, kvs_lct_header *out, kvs_error *err);

enum {
    KVS_LCT_END = 0,       /* clean end, or a truncated tail (see stats) */
    KVS_LCT_RECORD = 1,    /* *rec filled */
    KVS_LCT_SKIPPED = 2,   /* *issue filled; call again for the next one */
};
/* The next record. Returns KVS_LCT_END, KVS_LCT_RECORD, KVS_LCT_SKIPPED, or
 * KVS_E_IO (err filled). */
int kvs_lct_next(kvs_lct_reader *r, kvs_lct_record *rec, kvs_lct_issue *issue, kvs_error *err);
const kvs_lct_stats *kvs_lct_get_stats(const kvs_lct_reader *r);

/* Helpers over decoded values. */
const kvs_lct_value *kvs_lct_map_get(const kvs_lct_value *map, const char *key);
/* The tag's name as LMCache writes it ("ObjectKey", ...). */
const char *kvs_lct_tag_name(kvs_lct_tag tag);
/* Numeric value of INT/UINT/FLOAT/BOOL into *out; 0 ok, -1 not a number. */
int kvs_lct_number(const kvs_lct_value *v, double *out);
/* The short operation name of a qualname: the text after the last '.',
 * except that `__enter__`/`__exit__` keep the method before them
 * ("read_prefetched_results.__enter__"). */
void kvs_lct_op_name(const char *qualname, size_t len, const char **op, size_t *op_len);

#endif
