/* Test helper for the evidence receivers: runs a pipeline through the real
 * engine (replay_harness.h: replay, or follow for a while), then reads the
 * `file` exporter's OTLP/JSON lines back and indexes the log records and
 * metrics so tests can assert on event names and attributes. Header-only;
 * include after cmocka.h. */
#ifndef KVS_TEST_EVIDENCE_HARNESS_H
#define KVS_TEST_EVIDENCE_HARNESS_H

#include "core/engine.h"
#include "formats/otlp_json.h"
#include "replay_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the output back ---- */

typedef struct ev_out {
    kvs_arena *arena;
    kvs_log_record **recs;
    size_t nrecs;
    kvs_metric **metrics;
    size_t nmetrics;
    char *text;               /* the whole output file */
} ev_out;

__attribute__((unused)) static char *ev_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len = 0;
        char *e = malloc(1);
        e[0] = 0;
        return e;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    *len = got;
    return b;
}

__attribute__((unused)) static ev_out ev_load(const char *path)
{
    ev_out o = { 0 };
    o.arena = kvs_arena_new();
    size_t len;
    o.text = ev_slurp(path, &len);
    char *s = o.text, *end = o.text + len;
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            break;          /* a line the exporter is still writing */
        size_t n = (size_t)(nl - s);
        kvs_otlp_doc d = { 0 };
        kvs_json_error je;
        if (n && kvs_otlp_json_decode(s, n, o.arena, &d, &je) != 0)
            fail_msg("output line does not decode: %s (at byte %zu of: %.*s)", je.msg, je.offset, (int)(n < 300 ? n : 300), s);
        if (d.logs)
            for (size_t i = 0; i < d.logs->n_resource_logs; i++)
                for (size_t j = 0; j < d.logs->resource_logs[i]->n_scope_logs; j++) {
                    kvs_scope_logs *sl = d.logs->resource_logs[i]->scope_logs[j];
                    for (size_t k = 0; k < sl->n_log_records; k++) {
                        o.recs = realloc(o.recs, (o.nrecs + 1) * sizeof *o.recs);
                        o.recs[o.nrecs++] = sl->log_records[k];
                    }
                }
        if (d.metrics)
            for (size_t i = 0; i < d.metrics->n_resource_metrics; i++)
                for (size_t j = 0; j < d.metrics->resource_metrics[i]->n_scope_metrics; j++) {
                    kvs_scope_metrics *sm = d.metrics->resource_metrics[i]->scope_metrics[j];
                    for (size_t k = 0; k < sm->n_metrics; k++) {
                        o.metrics = realloc(o.metrics, (o.nmetrics + 1) * sizeof *o.metrics);
                        o.metrics[o.nmetrics++] = sm->metrics[k];
                    }
                }
        s += n + 1;
    }
    return o;
}

__attribute__((unused)) static void ev_free(ev_out *o)
{
    kvs_arena_free(o->arena);
    free(o->recs);
    free(o->metrics);
    free(o->text);
    memset(o, 0, sizeof *o);
}

__attribute__((unused)) static const kvs_any *ev_attr(const kvs_log_record *r, const char *key)
{
    for (size_t i = 0; i < r->n_attributes; i++)
        if (strcmp(r->attributes[i]->key, key) == 0)
            return r->attributes[i]->value;
    return NULL;
}

__attribute__((unused)) static const char *ev_str(const kvs_log_record *r, const char *key)
{
    const kvs_any *v = ev_attr(r, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
        return NULL;
    return v->string_value;
}

__attribute__((unused)) static int64_t ev_int(const kvs_log_record *r, const char *key)
{
    const kvs_any *v = ev_attr(r, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
        fail_msg("no int attribute %s", key);
    return v->int_value;
}

__attribute__((unused)) static double ev_dbl(const kvs_log_record *r, const char *key)
{
    const kvs_any *v = ev_attr(r, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE)
        fail_msg("no double attribute %s", key);
    return v->double_value;
}

__attribute__((unused)) static int ev_bool(const kvs_log_record *r, const char *key)
{
    const kvs_any *v = ev_attr(r, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE)
        fail_msg("no bool attribute %s", key);
    return v->bool_value;
}

/* Whether an array attribute holds a string containing `item`. */
__attribute__((unused)) static int ev_list_has(const kvs_log_record *r, const char *key, const char *item)
{
    const kvs_any *v = ev_attr(r, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE)
        return 0;
    for (size_t i = 0; i < v->array_value->n_values; i++)
        if (v->array_value->values[i]->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
            strstr(v->array_value->values[i]->string_value, item))
            return 1;
    return 0;
}

/* An int entry of a map attribute; -1 when absent. */
__attribute__((unused)) static int64_t ev_map_int(const kvs_log_record *r, const char *key, const char *entry)
{
    const kvs_any *v = ev_attr(r, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE)
        return -1;
    for (size_t i = 0; i < v->kvlist_value->n_values; i++)
        if (strcmp(v->kvlist_value->values[i]->key, entry) == 0)
            return v->kvlist_value->values[i]->value->int_value;
    return -1;
}

__attribute__((unused)) static size_t ev_count_event(const ev_out *o, const char *event)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nrecs; i++)
        n += o->recs[i]->event_name && strcmp(o->recs[i]->event_name, event) == 0;
    return n;
}

/* The first record of `event` whose attribute `key` equals `val` (key NULL:
 * the first record of the event). */
__attribute__((unused)) static const kvs_log_record *ev_find(const ev_out *o, const char *event, const char *key, const char *val)
{
    for (size_t i = 0; i < o->nrecs; i++) {
        const kvs_log_record *r = o->recs[i];
        if (!r->event_name || strcmp(r->event_name, event) != 0)
            continue;
        if (!key)
            return r;
        const char *s = ev_str(r, key);
        if (s && strcmp(s, val) == 0)
            return r;
    }
    return NULL;
}

__attribute__((unused)) static const kvs_metric *ev_metric(const ev_out *o, const char *name)
{
    for (size_t i = 0; i < o->nmetrics; i++)
        if (strcmp(o->metrics[i]->name, name) == 0)
            return o->metrics[i];
    return NULL;
}

/* The first number point of a gauge or sum (last one with the attribute,
 * when key is given). */
__attribute__((unused)) static double ev_point(const ev_out *o, const char *name, const char *key, const char *val)
{
    double got = -1;
    int found = 0;
    for (size_t i = 0; i < o->nmetrics; i++) {
        const kvs_metric *m = o->metrics[i];
        if (strcmp(m->name, name) != 0)
            continue;
        size_t n = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE ? m->gauge->n_data_points
                   : m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM   ? m->sum->n_data_points
                                                                                          : 0;
        kvs_number_point **pts = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE
                                     ? m->gauge->data_points
                                     : m->sum ? m->sum->data_points : NULL;
        for (size_t p = 0; p < n; p++) {
            int match = !key;
            for (size_t a = 0; key && a < pts[p]->n_attributes; a++)
                match |= strcmp(pts[p]->attributes[a]->key, key) == 0 &&
                         strcmp(pts[p]->attributes[a]->value->string_value, val) == 0;
            if (match) {
                got = pts[p]->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
                          ? pts[p]->as_double
                          : (double)pts[p]->as_int;
                found = 1;
            }
        }
    }
    if (!found)
        fail_msg("no point of %s%s%s", name, key ? " with " : "", key ? val : "");
    return got;
}

#endif
