/* kvs_prom: a streaming parser for Prometheus text exposition 0.0.4 and
 * OpenMetrics 1.0 text.
 *
 * Promises:
 *  - Feed any chunking of the input (kvs_prom_feed, then kvs_prom_finish);
 *    the callbacks see the same families, samples and rejects whatever the
 *    chunk sizes.
 *  - Memory is bounded by the longest line (at most `max_line` bytes): the
 *    parser keeps one partial line, one scratch copy for unescaped strings,
 *    and the metadata of the current and previous family. No allocation per
 *    sample; kvs_prom_stats.mem_bytes reports what the parser holds.
 *  - Every line that is not accepted is reported (line number, 1-based byte
 *    column, reason) through `reject`, and parsing goes on with the next
 *    line. feed/finish fail only on out-of-memory or when a callback returns
 *    non-zero (that value is returned and parsing stops).
 *  - Modes: KVS_PROM_MODE_PROMETHEUS and KVS_PROM_MODE_AUTO are lenient
 *    (CRLF, trailing spaces, blank lines, missing/duplicate HELP, metadata
 *    after samples, trailing comma in labels, dotted and quoted names).
 *    KVS_PROM_MODE_OPENMETRICS is strict OpenMetrics 1.0 (`# EOF` required
 *    and last, `_total` on counters, no blank lines, no trailing whitespace,
 *    metadata before samples, ...). AUTO switches to OpenMetrics rules
 *    (timestamps in seconds) once it sees `# EOF`, `# UNIT`, an exemplar, an
 *    OpenMetrics-only type, a fractional timestamp, or is given the
 *    Content-Type application/openmetrics-text; a text/plain Content-Type
 *    pins Prometheus rules. Timestamps read before the switch are 0.0.4
 *    milliseconds.
 *  - Strict mode checks what one line and the current family can tell; it
 *    does not remember every family seen (that would not be bounded), so
 *    a family split into two non-adjacent groups is not reported.
 *
 * All pointers handed to callbacks are valid only during the callback. */
#ifndef KVS_PROM_TEXT_H
#define KVS_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum kvs_prom_mode {
    KVS_PROM_MODE_AUTO = 0,
    KVS_PROM_MODE_PROMETHEUS,
    KVS_PROM_MODE_OPENMETRICS,
} kvs_prom_mode;

typedef enum kvs_prom_type {
    KVS_PROM_UNTYPED = 0,     /* no # TYPE line, or 0.0.4 "untyped" */
    KVS_PROM_COUNTER,
    KVS_PROM_GAUGE,
    KVS_PROM_HISTOGRAM,
    KVS_PROM_SUMMARY,
    KVS_PROM_GAUGEHISTOGRAM,
    KVS_PROM_INFO,
    KVS_PROM_STATESET,
    KVS_PROM_UNKNOWN,         /* OpenMetrics "unknown" */
} kvs_prom_type;

/* The role a sample plays in its family, from its name's suffix. */
typedef enum kvs_prom_suffix {
    KVS_PROM_SFX_NONE = 0,    /* gauge, untyped, summary quantile, stateset, ... */
    KVS_PROM_SFX_TOTAL,
    KVS_PROM_SFX_BUCKET,
    KVS_PROM_SFX_COUNT,
    KVS_PROM_SFX_SUM,
    KVS_PROM_SFX_CREATED,
    KVS_PROM_SFX_GCOUNT,
    KVS_PROM_SFX_GSUM,
    KVS_PROM_SFX_INFO,
} kvs_prom_suffix;

typedef struct kvs_prom_str {
    const char *p;
    size_t n;
} kvs_prom_str;

typedef struct kvs_prom_label {
    kvs_prom_str name;
    kvs_prom_str value;       /* unescaped */
} kvs_prom_label;

typedef struct kvs_prom_family {
    kvs_prom_str name;        /* as declared; a 0.0.4 counter may keep `_total` */
    kvs_prom_type type;
    kvs_prom_str help;        /* unescaped; n == 0 when absent */
    kvs_prom_str unit;        /* from # UNIT; n == 0 when absent */
    unsigned long line;       /* line that opened the family */
    bool has_type, has_help, has_unit;
    bool openmetrics;         /* OpenMetrics rules were in force */
} kvs_prom_family;

typedef struct kvs_prom_exemplar {
    const kvs_prom_label *labels;
    size_t nlabels;
    double value;
    bool has_timestamp;
    int64_t timestamp_ns;     /* exemplar timestamps are always seconds in the text */
} kvs_prom_exemplar;

typedef struct kvs_prom_sample {
    const kvs_prom_family *family;
    kvs_prom_str name;        /* full sample name, e.g. foo_bucket */
    kvs_prom_suffix suffix;
    const kvs_prom_label *labels;
    size_t nlabels;
    double value;             /* NaN and +-Inf as parsed */
    bool has_timestamp;
    int64_t timestamp_ns;     /* 0.0.4: ms * 1e6; OpenMetrics: seconds * 1e9 */
    const kvs_prom_exemplar *exemplar;  /* NULL when none */
    /* A `_created` series: value is the creation time (seconds since the
     * epoch) of the series it names. Never a populated sample. */
    bool created;
    unsigned long line;
} kvs_prom_sample;

typedef struct kvs_prom_reject {
    unsigned long line;       /* 1-based */
    unsigned long column;     /* 1-based byte column where the problem is */
    const char *reason;       /* static text */
    kvs_prom_str text;        /* the line without its end of line (at most max_line bytes) */
} kvs_prom_reject;

/* Any callback may be NULL. A non-zero return stops parsing; feed/finish
 * return that value. `family` is called once per family before its first
 * sample (or when it closes, if it had none); in lenient modes it is called
 * again for the same family when metadata arrives after its samples. */
typedef struct kvs_prom_handler {
    int (*family)(void *ctx, const kvs_prom_family *f);
    int (*sample)(void *ctx, const kvs_prom_sample *s);
    int (*reject)(void *ctx, const kvs_prom_reject *r);
    void *ctx;
} kvs_prom_handler;

typedef struct kvs_prom_options {
    kvs_prom_mode mode;
    const char *content_type; /* HTTP Content-Type, or NULL */
    size_t max_line;          /* 0: 1 MiB. Longer lines are rejected. */
} kvs_prom_options;

typedef struct kvs_prom_stats {
    unsigned long lines;
    unsigned long samples;
    unsigned long rejected;
    unsigned long families;   /* family callbacks made */
    unsigned long long bytes;
    bool openmetrics;         /* OpenMetrics rules in force (explicit or sniffed) */
    bool eof_seen;            /* the input ended with `# EOF` */
    size_t mem_bytes;         /* bytes the parser holds now */
    size_t mem_peak;
} kvs_prom_stats;

typedef struct kvs_prom_parser kvs_prom_parser;

/* opts may be NULL (auto mode). NULL on out-of-memory. */
kvs_prom_parser *kvs_prom_new(const kvs_prom_options *opts, const kvs_prom_handler *h);
void kvs_prom_free(kvs_prom_parser *p);
/* Ready for another exposition with the same options and handler; keeps
 * the buffers it has grown. */
void kvs_prom_reset(kvs_prom_parser *p);
/* 0, KVS_E_NOMEM, or a callback's non-zero return. */
int kvs_prom_feed(kvs_prom_parser *p, const void *data, size_t len);
/* Parses the last line (without end of line) and runs the end checks
 * (strict: missing `# EOF`). Same returns as kvs_prom_feed. */
int kvs_prom_finish(kvs_prom_parser *p);
const kvs_prom_stats *kvs_prom_get_stats(const kvs_prom_parser *p);

/* One call: new, feed, finish, free. */
int kvs_prom_parse(const void *data, size_t len, const kvs_prom_options *opts,
                   const kvs_prom_handler *h, kvs_prom_stats *stats_out);

const char *kvs_prom_type_name(kvs_prom_type t);     /* "counter", ..., "untyped" */
const char *kvs_prom_suffix_name(kvs_prom_suffix s); /* "", "_total", "_bucket", ... */

/* Parses a Prometheus float ("1.5", "1e3", "+Inf", "NaN", ...); 0 or -1. */
int kvs_prom_parse_float(const char *s, size_t n, double *out);

#endif
