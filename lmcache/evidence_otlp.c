/* OTLP adapters of the evidence model (see evidence.h): metrics requests
 * become observations (but for the evidence receivers' own metrics, which
 * restate their records), spans give scopes, span counts and request
 * records, log records go to evidence_records.c, which reads the evidence
 * receivers' records as what they are (HTTP facts, lanes) and other
 * records as log lines. Attribute values become label strings (ints in
 * decimal, doubles in %.17g, bools true/false). */
#include "core/error.h"
#include "lmcache/evidence_int.h"
#include "lmcache/request.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTRS 32
#define POOL 8192

typedef struct attr_conv {
    kvs_lmc_label labels[MAX_ATTRS];
    size_t n;
    char pool[POOL];
    size_t used;
} attr_conv;

/* Scalar AnyValue as text in the pool; NULL for arrays, kvlists, bytes
 * or when the pool is full. */
static const char *any_text(attr_conv *c, const kvs_any *v)
{
    if (!v)
        return NULL;
    char *dst = c->pool + c->used;
    size_t room = POOL - c->used;
    int w;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        w = snprintf(dst, room, "%s", v->string_value ? v->string_value : "");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        w = snprintf(dst, room, "%s", v->bool_value ? "true" : "false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        w = snprintf(dst, room, "%" PRId64, v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        w = snprintf(dst, room, "%.17g", v->double_value);
        break;
    default:
        return NULL;
    }
    if (w < 0 || (size_t)w >= room)
        return NULL;
    c->used += (size_t)w + 1;
    return dst;
}

static void conv_attrs(attr_conv *c, kvs_kv *const *kv, size_t n)
{
    c->n = 0;
    c->used = 0;
    for (size_t i = 0; i < n && c->n < MAX_ATTRS; i++) {
        if (!kv[i] || !kv[i]->key)
            continue;
        const char *v = any_text(c, kv[i]->value);
        if (!v)
            continue;
        c->labels[c->n].key = kv[i]->key;
        c->labels[c->n].value = v;
        c->n++;
    }
}

static int add_resource(kvs_lmc_evidence *ev, const kvs_resource *r)
{
    if (!r)
        return 0;
    attr_conv c;
    conv_attrs(&c, r->attributes, r->n_attributes);
    for (size_t i = 0; i < c.n; i++) {
        int rc = kvs_lmc_evidence_add_resource_attr(ev, c.labels[i].key, c.labels[i].value);
        if (rc)
            return rc;
    }
    return 0;
}

static int64_t ns_to_ms(uint64_t ns) { return (int64_t)(ns / 1000000u); }

static double number_value(const kvs_number_point *p)
{
    if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
        return (double)p->as_int;
    if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
        return p->as_double;
    return NAN;
}

static int add_number_points(kvs_lmc_evidence *ev, const kvs_metric *m, kvs_number_point *const *pts, size_t n,
                             kvs_lmc_kind kind, bool delta)
{
    attr_conv c;
    for (size_t i = 0; i < n; i++) {
        const kvs_number_point *p = pts[i];
        if (!p)
            continue;
        conv_attrs(&c, p->attributes, p->n_attributes);
        kvs_lmc_obs o = {.name = m->name, .unit = m->unit, .kind = kind, .labels = c.labels, .nlabels = c.n,
                         .t_ms = ns_to_ms(p->time_unix_nano), .value = number_value(p), .delta = delta};
        int rc = kvs_lmc_evidence_add(ev, &o);
        if (rc == KVS_E_NOMEM)
            return rc;
    }
    return 0;
}

/* The evidence receivers' own metrics (kvscope.lmcache.http.*, .trace.*,
 * .log.*, .lookup_hash.*, in either spelling: docs/evidence-records.md)
 * restate what their log records say, and the diagnosis reads the records
 * (evidence_records.c). As series they would count as observed metrics of
 * the deployment and stamp the receivers' wall clock as observation time,
 * so the same evidence folder would not give the same reports twice. */
static bool evidence_receiver_metric(const char *name)
{
    static const char *const prefixes[] = {"kvscope.lmcache.http.", "kvscope.lmcache.trace.", "kvscope.lmcache.log.",
                                           "kvscope.lmcache.lookup_hash."};
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        const char *p = prefixes[k];
        size_t i = 0;
        while (p[i] && (name[i] == p[i] || (p[i] == '.' && name[i] == '_')))
            i++;
        if (!p[i])
            return true;
    }
    return false;
}

static int add_metric(kvs_lmc_evidence *ev, const kvs_metric *m)
{
    if (!m || !m->name || evidence_receiver_metric(m->name))
        return 0;
    attr_conv c;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return m->gauge ? add_number_points(ev, m, m->gauge->data_points, m->gauge->n_data_points, KVS_LMC_GAUGE, false)
                        : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: {
        const kvs_sum *s = m->sum;
        if (!s)
            return 0;
        bool delta = s->aggregation_temporality ==
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        return add_number_points(ev, m, s->data_points, s->n_data_points,
                                 s->is_monotonic ? KVS_LMC_COUNTER : KVS_LMC_GAUGE, s->is_monotonic && delta);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: {
        const kvs_histogram *h = m->histogram;
        if (!h)
            return 0;
        bool delta = h->aggregation_temporality ==
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        for (size_t i = 0; i < h->n_data_points; i++) {
            const kvs_histogram_point *p = h->data_points[i];
            if (!p)
                continue;
            size_t nb = p->n_explicit_bounds;
            if (nb > KVS_LMC_MAX_BUCKETS || (p->n_bucket_counts && p->n_bucket_counts != nb + 1)) {
                ev->flags.obs_invalid++;
                continue;
            }
            double counts[KVS_LMC_MAX_BUCKETS + 1];
            for (size_t b = 0; b <= nb; b++)
                counts[b] = p->n_bucket_counts ? (double)p->bucket_counts[b] : 0;
            if (!p->n_bucket_counts)
                nb = 0;
            conv_attrs(&c, p->attributes, p->n_attributes);
            kvs_lmc_obs o = {.name = m->name, .unit = m->unit, .kind = KVS_LMC_HISTOGRAM, .labels = c.labels,
                             .nlabels = c.n, .t_ms = ns_to_ms(p->time_unix_nano), .delta = delta,
                             .bounds = p->explicit_bounds, .nbounds = nb, .bucket_counts = nb ? counts : NULL,
                             .count = (double)p->count,
                             .sum = p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM
                                        ? p->sum
                                        : NAN};
            if (kvs_lmc_evidence_add(ev, &o) == KVS_E_NOMEM)
                return KVS_E_NOMEM;
        }
        return 0;
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: {
        const kvs_exp_histogram *h = m->exponential_histogram;
        for (size_t i = 0; h && i < h->n_data_points; i++) {
            const kvs_exp_histogram_point *p = h->data_points[i];
            if (!p)
                continue;
            conv_attrs(&c, p->attributes, p->n_attributes);
            kvs_lmc_obs o = {.name = m->name, .unit = m->unit, .kind = KVS_LMC_HISTOGRAM, .labels = c.labels,
                             .nlabels = c.n, .t_ms = ns_to_ms(p->time_unix_nano), .count = (double)p->count,
                             .sum = p->_sum_case ? p->sum : NAN,
                             .delta = h->aggregation_temporality ==
                                      OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA};
            if (kvs_lmc_evidence_add(ev, &o) == KVS_E_NOMEM)
                return KVS_E_NOMEM;
        }
        return 0;
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: {
        const kvs_summary *s = m->summary;
        for (size_t i = 0; s && i < s->n_data_points; i++) {
            const kvs_summary_point *p = s->data_points[i];
            if (!p)
                continue;
            conv_attrs(&c, p->attributes, p->n_attributes);
            kvs_lmc_obs o = {.name = m->name, .unit = m->unit, .kind = KVS_LMC_HISTOGRAM, .labels = c.labels,
                             .nlabels = c.n, .t_ms = ns_to_ms(p->time_unix_nano), .count = (double)p->count,
                             .sum = p->sum};
            if (kvs_lmc_evidence_add(ev, &o) == KVS_E_NOMEM)
                return KVS_E_NOMEM;
        }
        return 0;
    }
    default:
        return 0;
    }
}

int kvs_lmc_evidence_add_metrics(kvs_lmc_evidence *ev, const kvs_metrics_req *req)
{
    if (!req)
        return KVS_E_INVALID;
    for (size_t r = 0; r < req->n_resource_metrics; r++) {
        const kvs_resource_metrics *rm = req->resource_metrics[r];
        if (!rm)
            continue;
        int rc = add_resource(ev, rm->resource);
        for (size_t s = 0; !rc && s < rm->n_scope_metrics; s++) {
            const kvs_scope_metrics *sm = rm->scope_metrics[s];
            if (!sm)
                continue;
            if (sm->scope && sm->scope->name)
                rc = kvs_lmc_evidence_add_scope(ev, sm->scope->name);
            for (size_t i = 0; !rc && i < sm->n_metrics; i++)
                rc = add_metric(ev, sm->metrics[i]);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- spans ---- */

static void hex(const ProtobufCBinaryData *b, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    size_t n = b->len > 16 ? 16 : b->len;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b->data[i] >> 4];
        out[2 * i + 1] = digits[b->data[i] & 15];
    }
    out[2 * n] = '\0';
}

static int64_t field_i(const kvs_lmc_request *r, kvs_lmc_field f, int64_t dflt)
{
    return kvs_lmc_has(r, f) ? kvs_lmc_i(r, f) : dflt;
}

static int64_t raw_i(const kvs_span *sp, const char *key)
{
    int64_t v;
    return kvs_lmc_parse_i64(kvs_lmc_attr(sp->attributes, sp->n_attributes, key), &v) == 1 ? v : -1;
}

/* A request record from the annotations lmcache_correlate wrote on a root
 * span (the contract of lmcache/request.h), or, for a root nobody
 * annotated, from LMCache's own `request` attributes. */
static int add_request_from_span(kvs_lmc_evidence *ev, const kvs_span *sp, kvs_lmc_role role)
{
    /* Only roots carry a request's outcome (the engine span repeats it). */
    if (role != KVS_LMC_ROOT_MP && role != KVS_LMC_ROOT_CB)
        return 0;
    char tid[33];
    hex(&sp->trace_id, tid);
    kvs_lmc_reqobs o = {.trace_id = tid[0] ? tid : NULL, .t_ms = ns_to_ms(sp->end_time_unix_nano),
                        .engine_ttft_s = NAN};
    kvs_lmc_request r;
    kvs_lmc_request_init(&r);
    if (kvs_lmc_request_read(sp, KVS_LMC_DEFAULT_PREFIX, &r) > 0) {
        o.model = kvs_lmc_has(&r, KVS_LMC_F_MODEL) ? kvs_lmc_s(&r, KVS_LMC_F_MODEL) : NULL;
        o.cache_salt = kvs_lmc_has(&r, KVS_LMC_F_CACHE_SALT) ? kvs_lmc_s(&r, KVS_LMC_F_CACHE_SALT) : NULL;
        o.salt_observed = true;
        o.requested_tokens = field_i(&r, KVS_LMC_F_REQUESTED_TOKENS, -1);
        o.hit_tokens = field_i(&r, KVS_LMC_F_HIT_TOKENS, -1);
        o.l1_hit_tokens = field_i(&r, KVS_LMC_F_TIER_L1, -1);
        o.l2_hit_tokens = field_i(&r, KVS_LMC_F_TIER_L2, -1);
        o.early_exit_reason = kvs_lmc_has(&r, KVS_LMC_F_EARLY_EXIT) ? kvs_lmc_s(&r, KVS_LMC_F_EARLY_EXIT) : NULL;
        o.timeouts = (unsigned)field_i(&r, KVS_LMC_F_TIMEOUTS, 0);
        o.store_only = field_i(&r, KVS_LMC_F_STORE_ONLY, 0) != 0;
        if (kvs_lmc_has(&r, KVS_LMC_F_ENGINE_TTFT_MS))
            o.engine_ttft_s = kvs_lmc_d(&r, KVS_LMC_F_ENGINE_TTFT_MS) / 1000.0;
    } else if (role == KVS_LMC_ROOT_MP) {
        o.requested_tokens = raw_i(sp, "requested_tokens");
        o.hit_tokens = raw_i(sp, "hit_tokens");
        o.l1_hit_tokens = raw_i(sp, "l1_hit_tokens");
        o.l2_hit_tokens = raw_i(sp, "l2_hit_tokens");
        o.early_exit_reason = kvs_lmc_attr_str(sp->attributes, sp->n_attributes, "early_exit_reason");
        o.store_only = o.requested_tokens < 0;
    } else {
        return 0;
    }
    return kvs_lmc_evidence_add_request(ev, &o);
}

int kvs_lmc_evidence_add_spans(kvs_lmc_evidence *ev, const kvs_traces_req *req)
{
    if (!req)
        return KVS_E_INVALID;
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        const kvs_resource_spans *rs = req->resource_spans[r];
        if (!rs)
            continue;
        int rc = add_resource(ev, rs->resource);
        for (size_t s = 0; !rc && s < rs->n_scope_spans; s++) {
            const kvs_scope_spans *ss = rs->scope_spans[s];
            if (!ss)
                continue;
            const char *scope = ss->scope && ss->scope->name ? ss->scope->name : "";
            rc = kvs_lmc_evidence_add_scope(ev, scope);
            for (size_t i = 0; !rc && i < ss->n_spans; i++) {
                const kvs_span *sp = ss->spans[i];
                if (!sp)
                    continue;
                bool err = sp->status &&
                           sp->status->code == OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
                rc = kvs_lmc_evidence_add_span_name(ev, sp->name, err);
                if (!rc)
                    rc = add_request_from_span(ev, sp, kvs_lmc_classify(sp, ss->scope, 1));
            }
        }
        if (rc)
            return rc;
    }
    return 0;
}

int kvs_lmc_evidence_add_logs(kvs_lmc_evidence *ev, const kvs_logs_req *req)
{
    if (!req)
        return KVS_E_INVALID;
    for (size_t r = 0; r < req->n_resource_logs; r++) {
        const kvs_resource_logs *rl = req->resource_logs[r];
        if (!rl)
            continue;
        int rc = add_resource(ev, rl->resource);
        for (size_t s = 0; !rc && s < rl->n_scope_logs; s++) {
            const kvs_scope_logs *sl = rl->scope_logs[s];
            for (size_t i = 0; !rc && sl && i < sl->n_log_records; i++)
                rc = kvs_lmc_ev_add_log_record(ev, sl->log_records[i]);
        }
        if (rc)
            return rc;
    }
    return 0;
}
