/* Connector `lmcache_diagnose`: the exporter side of traces, metrics and
 * logs pipelines feeds everything into an LMCache evidence model
 * (lmcache/evidence.h); every `evaluation_interval` (and at shutdown) it
 * diagnoses (lmcache/diagnose.h) and emits, on its receiver side:
 *   logs:    one record per new or changed finding (event `kvscope.finding`,
 *            severity mapped, code/severity/evidence as attributes, the trace
 *            id of an example request when known), one per finding that went
 *            away (`kvscope.finding.resolved`), and one record per report
 *            document whose content changed (`kvscope.report`, attribute
 *            `kvscope.report.file`, the document as the body);
 *   metrics: derived gauges for dashboards (hit ratios by tier and by
 *            model/cache_salt, family statuses, finding counts, mode).
 * Under `kvscope replay` it evaluates once, at the end, so the output does
 * not depend on timing. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "lmcache/diagnose.h"
#include "lmcache/report.h"
#include "lmcache/summary.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 64   /* model x cache_salt hit-ratio series per evaluation */

typedef struct emitted {
    char *code;
    uint64_t hash;
    int seen;            /* in the current evaluation */
} emitted;

typedef struct diag {
    const char *id;
    kvs_telemetry *tel;
    kvs_next *logs_out, *metrics_out;
    kvs_lmc_config cfg;
    uint64_t interval_ns;
    int replay;

    pthread_mutex_t lock;          /* evidence, emitted state */
    pthread_cond_t cond;
    pthread_t thread;
    int running, stop;
    kvs_lmc_evidence *ev;
    uint64_t fed;                  /* batches fed since the last evaluation */
    emitted *last;
    size_t nlast;
    uint64_t report_hash[KVS_LMC_REPORT__COUNT + 2];
} diag;

enum { REPORT_SUMMARY = KVS_LMC_REPORT__COUNT, REPORT_MANIFEST = KVS_LMC_REPORT__COUNT + 1 };

static const char *const keys[] = { "expect_mode", "l2_configured", "tracing_enabled", "trace_recording_enabled",
                                    "metrics_disabled", "evaluation_interval", "warmup", "thresholds", NULL };
static const char *const modes[] = { "auto", "mp", "embedded", "mixed", NULL };

static void diag_free(diag *d)
{
    kvs_lmc_evidence_free(d->ev);
    for (size_t i = 0; i < d->nlast; i++)
        free(d->last[i].code);
    free(d->last);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}

static int parse_thresholds(const kvs_cfg_node *t, kvs_lmc_thresholds *th, kvs_error *err)
{
    if (!t || t->type == KVS_CFG_NULL)
        return 0;
    if (kvs_cfg_expect_map(t, err))
        return KVS_E_INVALID;
    for (size_t i = 0; i < t->n; i++) {
        double v;
        const char *name = t->keys[i]->scalar;
        if (kvs_cfg_f64(t, name, 0, -1e300, 1e300, &v, err))
            return KVS_E_INVALID;
        if (kvs_lmc_thresholds_set(th, name, v) != 0) {
            char known[1024] = "";
            for (int k = 0; k < KVS_LMC_TH__COUNT; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "",
                         kvs_lmc_threshold_defs[k].name);
            return kvs_cfg_errorf(err, t->keys[i], "unknown threshold \"%s\" (known: %s)", name, known);
        }
    }
    return 0;
}

static int diag_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    int mode, l2, tracing, recording, nometrics;
    uint64_t interval, warmup;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_enum(c, "expect_mode", modes, 0, &mode, err) || kvs_cfg_bool(c, "l2_configured", 0, &l2, err) ||
        kvs_cfg_bool(c, "tracing_enabled", 0, &tracing, err) ||
        kvs_cfg_bool(c, "trace_recording_enabled", 0, &recording, err) ||
        kvs_cfg_bool(c, "metrics_disabled", 0, &nometrics, err) ||
        kvs_cfg_duration(c, "evaluation_interval", 30 * KVS_SEC, &interval, err) ||
        kvs_cfg_duration(c, "warmup", 0, &warmup, err))
        return KVS_E_INVALID;
    if (interval == 0)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "evaluation_interval"), "evaluation_interval must be > 0");
    diag *d = calloc(1, sizeof *d);
    if (!d)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    kvs_lmc_config_default(&d->cfg);
    d->cfg.expect_mode = mode == 0 ? KVS_LMC_EXPECT_AUTO : kvs_lmc_mode_parse(modes[mode]);
    d->cfg.l2_configured = l2;
    d->cfg.tracing_enabled = tracing;
    d->cfg.trace_recording_enabled = recording;
    d->cfg.metrics_disabled = nometrics;
    if (warmup)
        kvs_lmc_thresholds_set(&d->cfg.thresholds, "warmup_seconds", (double)warmup / 1e9);
    if (parse_thresholds(kvs_cfg_get(c, "thresholds"), &d->cfg.thresholds, err) != 0) {
        diag_free(d);
        return KVS_E_INVALID;
    }
    d->ev = kvs_lmc_evidence_new(NULL);
    if (!d->ev) {
        diag_free(d);
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    }
    d->id = ctx->id;
    d->tel = ctx->tel;
    d->interval_ns = interval;
    d->logs_out = ctx->next[kvs_signal_index(KVS_SIG_LOGS)];
    d->metrics_out = ctx->next[kvs_signal_index(KVS_SIG_METRICS)];
    d->replay = kvs_host_replay(ctx->host);
    *state = d;
    return 0;
}

static int diag_consume(void *state, kvs_batch *b, kvs_error *err)
{
    diag *d = state;
    int rc;
    pthread_mutex_lock(&d->lock);
    if (b->signal == KVS_SIG_TRACES)
        rc = kvs_lmc_evidence_add_spans(d->ev, b->traces);
    else if (b->signal == KVS_SIG_METRICS)
        rc = kvs_lmc_evidence_add_metrics(d->ev, b->metrics);
    else
        rc = kvs_lmc_evidence_add_logs(d->ev, b->logs);
    d->fed++;
    pthread_mutex_unlock(&d->lock);
    if (rc == KVS_E_NOMEM)
        return kvs_errorf(err, KVS_E_REFUSED, "out of memory feeding the evidence model");
    kvs_tel_add(&d->tel->accepted, b->items);
    return 0;
}

/* ---- building OTLP output in an arena ---- */

static kvs_kv *kv(kvs_arena *a, const char *key, kvs_any *v)
{
    kvs_kv *k = kvs_arena_alloc(a, sizeof *k);
    if (!k)
        return NULL;
    opentelemetry__proto__common__v1__key_value__init(k);
    k->key = (char *)key;
    k->value = v;
    return k;
}

static kvs_any *any_str(kvs_arena *a, const char *s)
{
    kvs_any *v = kvs_arena_alloc(a, sizeof *v);
    if (!v)
        return NULL;
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = kvs_arena_strdup(a, s ? s : "");
    return v;
}

static kvs_any *any_num(kvs_arena *a, double x)
{
    kvs_any *v = kvs_arena_alloc(a, sizeof *v);
    if (!v)
        return NULL;
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = x;
    return v;
}

typedef struct kvlist {
    kvs_kv **v;
    size_t n;
} kvlist;

static void add_attr(kvs_arena *a, kvlist *l, const char *key, kvs_any *v)
{
    kvs_kv **g = kvs_arena_grow(a, l->v, l->n * sizeof *g, (l->n + 1) * sizeof *g);
    kvs_kv *k = v ? kv(a, key, v) : NULL;
    if (!g || !k)
        return;
    g[l->n++] = k;
    l->v = g;
}

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

typedef struct logs_out {
    kvs_arena *a;
    kvs_log_record **recs;
    size_t n;
    uint64_t now;
} logs_out;

static kvs_log_record *new_record(logs_out *o, const char *event, int sevnum, const char *sevtext, const char *body)
{
    kvs_log_record *r = kvs_arena_alloc(o->a, sizeof *r);
    kvs_log_record **g = kvs_arena_grow(o->a, o->recs, o->n * sizeof *g, (o->n + 1) * sizeof *g);
    if (!r || !g)
        return NULL;
    opentelemetry__proto__logs__v1__log_record__init(r);
    r->time_unix_nano = r->observed_time_unix_nano = o->now;
    r->event_name = (char *)event;
    r->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)sevnum;
    r->severity_text = (char *)sevtext;
    r->body = any_str(o->a, body);
    g[o->n++] = r;
    o->recs = g;
    return r;
}

static void finding_record(logs_out *o, const kvs_lmc_finding *f, const char *json)
{
    static const int sevnum[] = { 9, 13, 17 };
    static const char *sevtext[] = { "INFO", "WARN", "ERROR" };
    kvs_log_record *r = new_record(o, "kvscope.finding", sevnum[f->severity], sevtext[f->severity], f->message);
    if (!r)
        return;
    kvlist l = { 0 };
    add_attr(o->a, &l, "kvscope.finding.code", any_str(o->a, f->code));
    add_attr(o->a, &l, "kvscope.finding.severity", any_str(o->a, kvs_lmc_severity_name(f->severity)));
    add_attr(o->a, &l, "kvscope.finding.origin", any_str(o->a, f->origin));
    if (f->recommendation)
        add_attr(o->a, &l, "kvscope.finding.recommendation", any_str(o->a, f->recommendation));
    if (f->category)
        add_attr(o->a, &l, "kvscope.finding.category", any_str(o->a, f->category));
    for (size_t i = 0; i < f->nvalues; i++) {
        const kvs_lmc_value_item *v = &f->values[i];
        char key[160];
        snprintf(key, sizeof key, "kvscope.finding.evidence.%s", v->key);
        char *k = kvs_arena_strdup(o->a, key);
        if (v->type == KVS_LMC_V_NUM && !isnan(v->num))
            add_attr(o->a, &l, k, any_num(o->a, v->num));
        else if (v->type == KVS_LMC_V_STR && v->str)
            add_attr(o->a, &l, k, any_str(o->a, v->str));
        else if (v->type == KVS_LMC_V_BOOL)
            add_attr(o->a, &l, k, any_str(o->a, v->b ? "true" : "false"));
    }
    if (f->window_end_ms) {
        add_attr(o->a, &l, "kvscope.finding.window_start_ms", any_num(o->a, (double)f->window_start_ms));
        add_attr(o->a, &l, "kvscope.finding.window_end_ms", any_num(o->a, (double)f->window_end_ms));
    }
    add_attr(o->a, &l, "kvscope.finding.json", any_str(o->a, json));
    r->attributes = l.v;
    r->n_attributes = l.n;
    if (f->ntraces && strlen(f->trace_ids[0]) == 32) {
        uint8_t *id = kvs_arena_alloc(o->a, 16);
        int ok = id != NULL;
        for (int i = 0; ok && i < 16; i++) {
            int hi = hexval(f->trace_ids[0][2 * i]), lo = hexval(f->trace_ids[0][2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            if (ok)
                id[i] = (uint8_t)(hi << 4 | lo);
        }
        if (ok) {
            r->trace_id.data = id;
            r->trace_id.len = 16;
        }
    }
}

static void report_record(logs_out *o, const char *file, const char *text)
{
    kvs_log_record *r = new_record(o, "kvscope.report", 9, "INFO", text);
    if (!r)
        return;
    kvlist l = { 0 };
    add_attr(o->a, &l, "kvscope.report.file", any_str(o->a, file));
    r->attributes = l.v;
    r->n_attributes = l.n;
}

/* The packet manifest's diagnosis part; the evidence exporter adds the
 * files it wrote and the inputs. */
static void manifest(const kvs_lmc_diagnosis *dg, kvs_buf *out)
{
    kvs_arena *a = kvs_arena_new();
    if (!a)
        return;
    kvs_lmc_json *m = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(m, "schema_version", "inferguard-lmcache-packet/v1");
    kvs_lmc_json_put_str(m, "generator", "kvscope " KVS_VERSION);
    kvs_lmc_json_put_str(m, "claim_status", dg->total_series ? "measured" : "not_proven");
    kvs_lmc_json_put_str(m, "expect_mode",
                         dg->cfg.expect_mode == KVS_LMC_EXPECT_AUTO ? "auto" : kvs_lmc_mode_name(dg->cfg.expect_mode));
    kvs_lmc_json_put_str(m, "detected_mode", kvs_lmc_mode_name(dg->mode.mode));
    kvs_lmc_json_put_str(m, "architecture", kvs_lmc_arch_name(dg->mode.arch));
    kvs_lmc_json_put_bool(m, "l2_configured", dg->l2_configured_effective);
    if (dg->t_max_ms) {
        char ts[40];
        time_t t = (time_t)(dg->t_max_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        kvs_lmc_json_put_str(m, "generated_at", ts);
        kvs_lmc_json_put_str(m, "generated_at_source", "latest observation");
    }
    kvs_lmc_json_put_num(m, "findings", (double)dg->nfindings);
    kvs_lmc_json_write(m, out);
    kvs_arena_free(a);
}

/* Per model x cache_salt hit ratios from the request records. */
typedef struct group {
    const char *model, *salt;
    double req, hit;
} group;

static size_t request_groups(kvs_lmc_evidence *ev, group *g, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < kvs_lmc_evidence_nrequests(ev); i++) {
        const kvs_lmc_req_rec *r = kvs_lmc_evidence_request(ev, i);
        if (r->requested_tokens <= 0 || r->hit_tokens < 0)
            continue;
        const char *m = r->model ? r->model : "", *s = r->cache_salt ? r->cache_salt : "";
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(g[k].model, m) == 0 && strcmp(g[k].salt, s) == 0)
                break;
        if (k == n) {
            if (n == max)
                continue;
            g[n++] = (group){ m, s, 0, 0 };
        }
        g[k].req += (double)r->requested_tokens;
        g[k].hit += (double)r->hit_tokens;
    }
    return n;
}

typedef struct metrics_out {
    kvs_arena *a;
    kvs_metric **m;
    size_t n;
    uint64_t now;
} metrics_out;

static void gauge_point(metrics_out *o, const char *name, const char *unit, double value, const char *const *labels)
{
    kvs_metric *m = NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->m[i]->name, name) == 0)
            m = o->m[i];
    if (!m) {
        kvs_metric **g = kvs_arena_grow(o->a, o->m, o->n * sizeof *g, (o->n + 1) * sizeof *g);
        m = kvs_arena_alloc(o->a, sizeof *m);
        kvs_gauge *ga = kvs_arena_alloc(o->a, sizeof *ga);
        if (!g || !m || !ga)
            return;
        opentelemetry__proto__metrics__v1__metric__init(m);
        opentelemetry__proto__metrics__v1__gauge__init(ga);
        m->name = (char *)name;
        m->unit = (char *)unit;
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = ga;
        g[o->n++] = m;
        o->m = g;
    }
    kvs_number_point *p = kvs_arena_alloc(o->a, sizeof *p);
    kvs_number_point **pts = kvs_arena_grow(o->a, m->gauge->data_points, m->gauge->n_data_points * sizeof *pts,
                                            (m->gauge->n_data_points + 1) * sizeof *pts);
    if (!p || !pts)
        return;
    opentelemetry__proto__metrics__v1__number_data_point__init(p);
    p->time_unix_nano = o->now;
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = value;
    kvlist l = { 0 };
    for (size_t i = 0; labels && labels[i]; i += 2)
        add_attr(o->a, &l, labels[i], any_str(o->a, labels[i + 1]));
    p->attributes = l.v;
    p->n_attributes = l.n;
    pts[m->gauge->n_data_points++] = p;
    m->gauge->data_points = pts;
}

static void derived_metrics(metrics_out *o, const kvs_lmc_diagnosis *dg, const group *g, size_t ng)
{
    const kvs_lmc_req_stats *rq = &dg->requests;
    if (rq->requested_tokens > 0) {
        gauge_point(o, "kvscope.lmcache.hit_ratio", "1", rq->hit_tokens / rq->requested_tokens,
                    (const char *const[]){ "tier", "all", NULL });
        gauge_point(o, "kvscope.lmcache.hit_ratio", "1", rq->l1_hit_tokens / rq->requested_tokens,
                    (const char *const[]){ "tier", "l1", NULL });
        gauge_point(o, "kvscope.lmcache.hit_ratio", "1", rq->l2_hit_tokens / rq->requested_tokens,
                    (const char *const[]){ "tier", "l2", NULL });
    }
    for (size_t i = 0; i < ng; i++)
        gauge_point(o, "kvscope.lmcache.hit_ratio", "1", g[i].hit / g[i].req,
                    (const char *const[]){ "tier", "all", "model", g[i].model, "cache_salt", g[i].salt, NULL });
    for (size_t i = 0; i < dg->nrows; i++) {
        const kvs_lmc_family_row *r = &dg->rows[i];
        gauge_point(o, "kvscope.lmcache.family.status", "1", 1,
                    (const char *const[]){ "surface", kvs_lmc_fsurface_name(r->def->surface), "family", r->def->name,
                                           "status", kvs_lmc_fstatus_name(r->status), NULL });
    }
    double sev[3] = { 0 };
    for (size_t i = 0; i < dg->nfindings; i++)
        sev[dg->findings[i].severity]++;
    for (int s = 0; s < 3; s++)
        gauge_point(o, "kvscope.lmcache.findings", "{findings}", sev[s],
                    (const char *const[]){ "severity", kvs_lmc_severity_name((kvs_lmc_severity)s), NULL });
    gauge_point(o, "kvscope.lmcache.mode", "1", 1,
                (const char *const[]){ "mode", kvs_lmc_mode_name(dg->mode.mode), "architecture",
                                       kvs_lmc_arch_name(dg->mode.arch), "claim_status",
                                       kvs_lmc_claim_name(dg->mode.arch_claim), NULL });
}

/* kvscope's own resource and scope, for what the connector emits. */
static int own_identity(kvs_arena *a, kvs_resource **res, kvs_scope **sc)
{
    *res = kvs_arena_alloc(a, sizeof **res);
    *sc = kvs_arena_alloc(a, sizeof **sc);
    if (!*res || !*sc)
        return -1;
    opentelemetry__proto__resource__v1__resource__init(*res);
    opentelemetry__proto__common__v1__instrumentation_scope__init(*sc);
    kvlist l = { 0 };
    add_attr(a, &l, "service.name", any_str(a, "kvscope"));
    (*res)->attributes = l.v;
    (*res)->n_attributes = l.n;
    (*sc)->name = "kvscope.lmcache_diagnose";
    (*sc)->version = KVS_VERSION;
    return 0;
}

/* A one-resource, one-scope request of the signal holding `items`. */
static kvs_batch *wrap(kvs_arena *a, kvs_signal sig, void **items, size_t n)
{
    kvs_resource *res;
    kvs_scope *sc;
    kvs_batch *b = NULL;
    if (own_identity(a, &res, &sc) != 0)
        return NULL;
    if (sig == KVS_SIG_LOGS) {
        kvs_logs_req *req = kvs_arena_alloc(a, sizeof *req);
        kvs_resource_logs *rl = kvs_arena_alloc(a, sizeof *rl);
        kvs_scope_logs *sl = kvs_arena_alloc(a, sizeof *sl);
        void **rls = kvs_arena_alloc(a, sizeof *rls), **sls = kvs_arena_alloc(a, sizeof *sls);
        if (!req || !rl || !sl || !rls || !sls)
            return NULL;
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
        opentelemetry__proto__logs__v1__resource_logs__init(rl);
        opentelemetry__proto__logs__v1__scope_logs__init(sl);
        sl->scope = sc, sl->log_records = (kvs_log_record **)items, sl->n_log_records = n;
        sls[0] = sl;
        rl->resource = res, rl->scope_logs = (kvs_scope_logs **)sls, rl->n_scope_logs = 1;
        rls[0] = rl;
        req->resource_logs = (kvs_resource_logs **)rls, req->n_resource_logs = 1;
        b = kvs_batch_wrap(sig, a, &req->base);
    } else {
        kvs_metrics_req *req = kvs_arena_alloc(a, sizeof *req);
        kvs_resource_metrics *rm = kvs_arena_alloc(a, sizeof *rm);
        kvs_scope_metrics *sm = kvs_arena_alloc(a, sizeof *sm);
        void **rms = kvs_arena_alloc(a, sizeof *rms), **sms = kvs_arena_alloc(a, sizeof *sms);
        if (!req || !rm || !sm || !rms || !sms)
            return NULL;
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
        opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
        opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
        sm->scope = sc, sm->metrics = (kvs_metric **)items, sm->n_metrics = n;
        sms[0] = sm;
        rm->resource = res, rm->scope_metrics = (kvs_scope_metrics **)sms, rm->n_scope_metrics = 1;
        rms[0] = rm;
        req->resource_metrics = (kvs_resource_metrics **)rms, req->n_resource_metrics = 1;
        b = kvs_batch_wrap(sig, a, &req->base);
    }
    return b;
}

static void send(diag *d, kvs_next *next, kvs_batch *b)
{
    if (!b)
        return;
    kvs_error err;
    if (b->items && kvs_next_consume(next, b, &err) != 0) {
        kvs_tel_drop(d->tel, "downstream_refused", b->items);
        KVS_WARN(d->id, "diagnosis output not delivered: %s", err.msg);
    } else {
        kvs_tel_add(&d->tel->exported, b->items);
    }
    kvs_batch_unref(b);
}

/* ---- evaluation ---- */

static emitted *last_find(diag *d, const char *code)
{
    for (size_t i = 0; i < d->nlast; i++)
        if (strcmp(d->last[i].code, code) == 0)
            return &d->last[i];
    return NULL;
}

static void evaluate(diag *d, int force)
{
    pthread_mutex_lock(&d->lock);
    if (!d->fed && !force) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    d->fed = 0;
    kvs_error err;
    kvs_lmc_diagnosis *dg = kvs_lmc_diagnose(d->ev, &d->cfg, &err);
    group groups[MAX_GROUPS];
    size_t ngroups = dg ? request_groups(d->ev, groups, MAX_GROUPS) : 0;
    kvs_arena *ma = d->metrics_out && dg ? kvs_arena_new() : NULL;
    metrics_out mo = { .a = ma, .now = kvs_wall_ns() };
    /* Group strings point into the evidence: build the metrics under the lock. */
    if (ma)
        derived_metrics(&mo, dg, groups, ngroups);
    pthread_mutex_unlock(&d->lock);
    if (!dg) {
        KVS_ERROR(d->id, "diagnosis failed: %s", err.msg);
        kvs_arena_free(ma);
        return;
    }
    if (d->logs_out) {
        kvs_arena *a = kvs_arena_new();
        logs_out o = { .a = a, .now = kvs_wall_ns() };
        kvs_buf text = { 0 };
        for (size_t i = 0; a && i < d->nlast; i++)
            d->last[i].seen = 0;
        for (size_t i = 0; a && i < dg->nfindings; i++) {
            const kvs_lmc_finding *f = &dg->findings[i];
            kvs_arena *ja = kvs_arena_new();
            text.len = 0;
            if (ja)
                kvs_lmc_json_write(kvs_lmc_report_finding(f, ja), &text);
            kvs_buf_putc(&text, 0);
            uint64_t h = fnv(text.data, text.len);
            emitted *e = last_find(d, f->code);
            if (!e) {
                emitted *g = realloc(d->last, (d->nlast + 1) * sizeof *g);
                if (g) {
                    d->last = g;
                    e = &g[d->nlast++];
                    e->code = strdup(f->code);
                    e->hash = h + 1;
                }
            }
            if (e && e->hash != h) {
                finding_record(&o, f, text.data);
                e->hash = h;
            }
            if (e)
                e->seen = 1;
            kvs_arena_free(ja);
        }
        for (size_t i = 0; a && i < d->nlast;) {
            if (!d->last[i].seen) {
                kvs_log_record *r = new_record(&o, "kvscope.finding.resolved", 9, "INFO", "finding no longer observed");
                if (r) {
                    kvlist l = { 0 };
                    add_attr(a, &l, "kvscope.finding.code", any_str(a, d->last[i].code));
                    r->attributes = l.v;
                    r->n_attributes = l.n;
                }
                free(d->last[i].code);
                d->last[i] = d->last[--d->nlast];
            } else {
                i++;
            }
        }
        for (int k = 0; a && k < KVS_LMC_REPORT__COUNT + 2; k++) {
            text.len = 0;
            const char *file;
            if (k == REPORT_SUMMARY) {
                kvs_lmc_summary_write(dg, &text);
                file = "summary.txt";
            } else if (k == REPORT_MANIFEST) {
                manifest(dg, &text);
                file = "packet_manifest.json";
            } else {
                kvs_lmc_report_write(dg, (kvs_lmc_report_kind)k, &text);
                file = kvs_lmc_report_file((kvs_lmc_report_kind)k);
            }
            kvs_buf_putc(&text, 0);
            uint64_t h = fnv(text.data, text.len);
            if (text.oom || h == d->report_hash[k])
                continue;
            d->report_hash[k] = h;
            report_record(&o, file, text.data);
        }
        kvs_buf_free(&text);
        if (a && o.n)
            send(d, d->logs_out, wrap(a, KVS_SIG_LOGS, (void **)o.recs, o.n));
        else
            kvs_arena_free(a);
    }
    if (ma)
        send(d, d->metrics_out, wrap(ma, KVS_SIG_METRICS, (void **)mo.m, mo.n));
    kvs_lmc_diagnosis_free(dg);
}

static void *diag_main(void *arg)
{
    diag *d = arg;
    pthread_mutex_lock(&d->lock);
    uint64_t due = kvs_now_ns() + d->interval_ns;
    while (!d->stop) {
        struct timespec ts = kvs_timespec(due);
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        if (d->stop || kvs_now_ns() < due)
            continue;
        pthread_mutex_unlock(&d->lock);
        evaluate(d, 0);
        pthread_mutex_lock(&d->lock);
        due = kvs_now_ns() + d->interval_ns;
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static int diag_start(void *state, kvs_error *err)
{
    diag *d = state;
    if (d->replay)
        return 0; /* one evaluation at the end: output independent of timing */
    if (pthread_create(&d->thread, NULL, diag_main, d) != 0)
        return kvs_errorf(err, KVS_E_IO, "cannot start the evaluation thread");
    d->running = 1;
    return 0;
}

static void diag_shutdown(void *state, uint64_t deadline_ns)
{
    diag *d = state;
    if (d->running) {
        pthread_mutex_lock(&d->lock);
        d->stop = 1;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
        d->running = 0;
    }
    evaluate(d, 1);
}

static void diag_destroy(void *state) { diag_free(state); }

const kvs_component_def kvs_connector_lmcache_diagnose = {
    .type = "lmcache_diagnose",
    .kind = KVS_CONNECTOR,
    .signals = KVS_SIG_ALL,
    .out_signals = KVS_SIG_LOGS | KVS_SIG_METRICS,
    .create = diag_create,
    .start = diag_start,
    .consume = diag_consume,
    .shutdown = diag_shutdown,
    .destroy = diag_destroy,
};
