/* Exporter `debug`: prints what passes to stderr, for people.
 *   basic:    one line per request (counts)
 *   normal:   one line per span, metric or log record
 *   detailed: the whole request as OTLP/JSON */
#include "core/component.h"
#include "formats/otlp_json.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { BASIC, NORMAL, DETAILED };

typedef struct debug_exp {
    const char *id;
    int verbosity;
    kvs_telemetry *tel;
    pthread_mutex_t lock;
} debug_exp;

static const char *const keys[] = { "verbosity", NULL };
static const char *const levels[] = { "basic", "normal", "detailed", NULL };

static int debug_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    int v;
    if (kvs_cfg_expect_map(ctx->cfg, err) || kvs_cfg_check_keys(ctx->cfg, keys, err) ||
        kvs_cfg_enum(ctx->cfg, "verbosity", levels, BASIC, &v, err))
        return KVS_E_INVALID;
    debug_exp *d = calloc(1, sizeof *d);
    if (!d)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    d->id = ctx->id;
    d->verbosity = v;
    d->tel = ctx->tel;
    pthread_mutex_init(&d->lock, NULL);
    *state = d;
    return 0;
}

static void hex(kvs_buf *o, ProtobufCBinaryData id)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < id.len; i++) {
        kvs_buf_putc(o, digits[id.data[i] >> 4]);
        kvs_buf_putc(o, digits[id.data[i] & 15]);
    }
}

static void normal(kvs_buf *o, const kvs_batch *b)
{
    if (b->signal == KVS_SIG_TRACES) {
        const kvs_traces_req *r = b->traces;
        for (size_t i = 0; i < r->n_resource_spans; i++)
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
                const kvs_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
                for (size_t k = 0; k < ss->n_spans; k++) {
                    const kvs_span *s = ss->spans[k];
                    kvs_buf_printf(o, "span %s trace=", s->name ? s->name : "");
                    hex(o, s->trace_id);
                    kvs_buf_puts(o, " span=");
                    hex(o, s->span_id);
                    kvs_buf_printf(o, " duration=%.3fms attrs=%zu\n",
                                   (double)(s->end_time_unix_nano - s->start_time_unix_nano) / 1e6,
                                   s->n_attributes);
                }
            }
    } else if (b->signal == KVS_SIG_METRICS) {
        const kvs_metrics_req *r = b->metrics;
        for (size_t i = 0; i < r->n_resource_metrics; i++)
            for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
                const kvs_scope_metrics *sm = r->resource_metrics[i]->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++) {
                    const kvs_metric *m = sm->metrics[k];
                    static const char *kinds[] = { "none", "?", "?", "?", "?", "gauge", "?", "sum", "?", "histogram",
                                                   "exponential_histogram", "summary" };
                    kvs_buf_printf(o, "metric %s (%s) unit=%s points=%zu\n", m->name ? m->name : "",
                                   (size_t)m->data_case < 12 ? kinds[m->data_case] : "?", m->unit ? m->unit : "",
                                   kvs_metric_points(m));
                }
            }
    } else {
        const kvs_logs_req *r = b->logs;
        for (size_t i = 0; i < r->n_resource_logs; i++)
            for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++) {
                const kvs_scope_logs *sl = r->resource_logs[i]->scope_logs[j];
                for (size_t k = 0; k < sl->n_log_records; k++) {
                    const kvs_log_record *l = sl->log_records[k];
                    const char *body = l->body && l->body->value_case ==
                                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
                                       ? l->body->string_value : "";
                    kvs_buf_printf(o, "log severity=%d %s%s%s\n", (int)l->severity_number,
                                   l->event_name && *l->event_name ? l->event_name : "",
                                   l->event_name && *l->event_name ? ": " : "", body);
                }
            }
    }
}

static int debug_consume(void *state, kvs_batch *b, kvs_error *err)
{
    debug_exp *d = state;
    if (d->verbosity != BASIC) {
        int rc = kvs_batch_decode(b, err);
        if (rc != 0)
            return rc == KVS_E_NOMEM ? KVS_E_INVALID : rc;
    }
    kvs_buf o = { 0 };
    kvs_buf_printf(&o, "%s: %s request with %zu %s\n", d->id, kvs_signal_name(b->signal), b->items,
                   kvs_signal_unit(b->signal));
    if (d->verbosity == NORMAL)
        normal(&o, b);
    else if (d->verbosity == DETAILED) {
        kvs_otlp_json_encode(b->signal, b->msg, &o);
        kvs_buf_putc(&o, '\n');
    }
    pthread_mutex_lock(&d->lock);
    if (!o.oom)
        fwrite(o.data, 1, o.len, stderr);
    pthread_mutex_unlock(&d->lock);
    kvs_buf_free(&o);
    kvs_tel_add(&d->tel->exported, b->items);
    return 0;
}

static void debug_destroy(void *state)
{
    debug_exp *d = state;
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const kvs_component_def kvs_exporter_debug = {
    .type = "debug",
    .wire = 1,
    .kind = KVS_EXPORTER,
    .signals = KVS_SIG_ALL,
    .create = debug_create,
    .consume = debug_consume,
    .destroy = debug_destroy,
};
