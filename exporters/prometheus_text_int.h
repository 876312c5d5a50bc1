/* Internal to the kvs_promx store (exporters/prometheus_*.c): the store's
 * families and series and the helpers its files share. Not a public API;
 * exporters/prometheus_text.h says what the store promises.
 *
 *   prometheus_names.c   metric and label names (units, suffixes)
 *   prometheus_store.c   the store: hash maps of families and series,
 *                        creation, removal, expiration
 *   prometheus_ingest.c  OTLP in: label sets, points, target_info
 *   prometheus_text.c    text out: values, escaping, the 0.0.4 exposition
 *
 * Every function here expects the store's lock held. */
#ifndef KVS_PROMETHEUS_TEXT_INT_H
#define KVS_PROMETHEUS_TEXT_INT_H

#include "core/arena.h"
#include "core/otlp.h"
#include "exporters/prometheus_text.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvs_promx_family {
    struct kvs_promx_family *next;
    uint64_t hash;
    char *name;
    char *help;
    kvs_promx_type type;
    size_t nseries;
} kvs_promx_family;

typedef struct kvs_promx_series {
    struct kvs_promx_series *next;
    uint64_t hash;
    kvs_promx_family *fam;
    char *labels;            /* `a="x",b="y"`, sorted by name; "" when none */
    uint64_t updated_ns;     /* caller's monotonic clock */
    uint64_t time_ns, start_ns;
    bool is_int;
    int64_t i;
    double d;
    uint64_t count;          /* histogram, summary */
    double sum;
    size_t nb;               /* histogram: explicit bounds; summary: quantiles */
    double *bounds;          /* histogram bounds or summary quantiles */
    uint64_t *counts;        /* histogram: nb + 1 bucket counts (not cumulative) */
    double *qvals;           /* summary: values of the quantiles */
} kvs_promx_series;

/* A label candidate: its sanitized name, the key it came from, its value,
 * and the priority of its source (a higher one wins a name). */
typedef struct kvs_promx_lab {
    const char *name, *key, *value;
    int prio;
} kvs_promx_lab;

enum { KVS_PROMX_P_RESOURCE, KVS_PROMX_P_POINT, KVS_PROMX_P_JOBINST, KVS_PROMX_P_SCOPE, KVS_PROMX_P_CONST };

struct kvs_promx_store {
    pthread_mutex_t lock;
    char *ns;
    bool r2t, send_ts, suffixes;
    uint64_t expiration_ns;
    kvs_promx_lab *consts;
    size_t nconsts;
    char **const_strs;

    kvs_promx_family **fb;
    size_t fcap, fn;
    kvs_promx_series **sb;
    size_t scap, sn;
    uint64_t last_sweep;

    kvs_arena *res_a, *pt_a;          /* scratch: per resource, per point */
    kvs_promx_lab *rlabs, *labs;      /* resource-level candidates; one point's */
    size_t nrlabs, rlabs_cap, labs_cap;
    kvs_buf name, text, tmp;
};

/* ---- the store (prometheus_store.c) ---- */

/* The family of that name, created when missing (help defaults to the
 * name). NULL when out of memory, or with *conflict set when a family of
 * another type holds series. */
kvs_promx_family *kvs_promx_family_get(kvs_promx_store *s, const char *name, const char *help, kvs_promx_type type,
                                       bool *conflict);
/* Drops one hold (a series or a caller); frees the family at zero. */
void kvs_promx_family_release(kvs_promx_store *s, kvs_promx_family *f);

uint64_t kvs_promx_series_hash(const kvs_promx_family *f, const char *labels);
/* The series (hash h) of f with that label text; *at (when not NULL) gets
 * the link that points at it, for kvs_promx_series_remove. */
kvs_promx_series *kvs_promx_series_find(kvs_promx_store *s, kvs_promx_family *f, const char *labels, uint64_t h,
                                        kvs_promx_series ***at);
/* Finds or creates; *created says which. NULL when out of memory. */
kvs_promx_series *kvs_promx_series_get(kvs_promx_store *s, kvs_promx_family *f, const char *labels, bool *created);
void kvs_promx_series_remove(kvs_promx_store *s, kvs_promx_series **at);
/* Removes the series not updated for expiration_ns before now. */
void kvs_promx_sweep(kvs_promx_store *s, uint64_t now);

/* ---- values as text (prometheus_text.c) ---- */

/* Shortest text that reads back as v; NaN, +Inf, -Inf. */
void kvs_promx_put_double(kvs_buf *b, double v);
/* AnyValue as a string, as the Collector's pcommon Value.AsString
 * (arrays and maps as JSON). */
void kvs_promx_any_string(kvs_buf *b, const kvs_any *v);
/* A label value escaped for the exposition (`\\`, `\"`, `\n`). */
void kvs_promx_escape_label_value(kvs_buf *b, const char *s);

#endif
