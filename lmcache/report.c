/* Report documents (see report.h). */
#include "lmcache/report.h"

#include "core/error.h"
#include "lmcache/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef kvs_lmc_json J;

const char *kvs_lmc_report_file(kvs_lmc_report_kind kind)
{
    static const char *const n[] = {"lmcache_compat_report.json", "observability_coverage.json",
                                    "bottleneck_diagnosis.json", "lmcache_findings.json"};
    return (unsigned)kind < KVS_LMC_REPORT__COUNT ? n[kind] : "unknown.json";
}

J *kvs_lmc__strs_json(kvs_arena *a, kvs_lmc_strs s) { return kvs_lmc_json_strs(a, s.v, s.n); }

static J *window(kvs_arena *a, int64_t t0, int64_t t1)
{
    J *w = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(w, "start_ms", (double)t0);
    kvs_lmc_json_put_num(w, "end_ms", (double)t1);
    return w;
}

J *kvs_lmc_report_finding(const kvs_lmc_finding *f, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "code", f->code);
    kvs_lmc_json_put_str(o, "severity", kvs_lmc_severity_name(f->severity));
    kvs_lmc_json_put_str(o, "message", f->message);
    kvs_lmc_json_put_str(o, "recommendation", f->recommendation);
    kvs_lmc_json_put_str(o, "origin", f->origin);
    if (f->evidence_status)
        kvs_lmc_json_put_str(o, "evidence_status", f->evidence_status);
    J *m = kvs_lmc_json_object(a);
    for (size_t i = 0; i < f->nvalues; i++) {
        const kvs_lmc_value_item *v = &f->values[i];
        switch (v->type) {
        case KVS_LMC_V_NUM: kvs_lmc_json_put_num(m, v->key, v->num); break;
        case KVS_LMC_V_STR: kvs_lmc_json_put_str(m, v->key, v->str); break;
        case KVS_LMC_V_BOOL: kvs_lmc_json_put_bool(m, v->key, v->b); break;
        case KVS_LMC_V_STRS: kvs_lmc_json_put(m, v->key, kvs_lmc_json_strs(a, v->strs, v->nstrs)); break;
        }
    }
    if (f->category) {
        kvs_lmc_json_put_str(o, "category", f->category);
        kvs_lmc_json_put_str(m, "category", f->category);
        for (size_t i = 0; i < f->nvalues; i++)
            if (strcmp(f->values[i].key, "event_count") == 0)
                kvs_lmc_json_put_num(o, "event_count", f->values[i].num);
    }
    kvs_lmc_json_put(o, "metrics", m);
    kvs_lmc_json_put(o, "window", window(a, f->window_start_ms, f->window_end_ms));
    J *t = kvs_lmc_json_array(a);
    for (size_t i = 0; i < f->ntraces; i++)
        kvs_lmc_json_push(t, kvs_lmc_json_str(a, f->trace_ids[i]));
    kvs_lmc_json_put(o, "trace_ids", t);
    return o;
}

J *kvs_lmc__findings_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *arr = kvs_lmc_json_array(a);
    for (size_t i = 0; i < d->nfindings; i++)
        kvs_lmc_json_push(arr, kvs_lmc_report_finding(&d->findings[i], a));
    return arr;
}

J *kvs_lmc__failures_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *arr = kvs_lmc_json_array(a);
    for (size_t i = 0; i < d->nfailures; i++) {
        J *o = kvs_lmc_json_object(a);
        kvs_lmc_json_put_str(o, "code", d->failures[i].code);
        kvs_lmc_json_put_str(o, "message", d->failures[i].message);
        if (d->failures[i].family)
            kvs_lmc_json_put_str(o, "family", d->failures[i].family);
        kvs_lmc_json_push(arr, o);
    }
    return arr;
}

J *kvs_lmc__questions_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *arr = kvs_lmc_json_array(a);
    for (size_t i = 0; i < d->nquestions; i++) {
        J *o = kvs_lmc_json_object(a);
        kvs_lmc_json_put_str(o, "code", d->questions[i].code);
        kvs_lmc_json_put_str(o, "owner_question", d->questions[i].owner_question);
        kvs_lmc_json_push(arr, o);
    }
    return arr;
}

J *kvs_lmc__row_json(const kvs_lmc_family_row *r, bool compat, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "surface", kvs_lmc_fsurface_name(r->def->surface));
    kvs_lmc_json_put_str(o, "family", r->def->name);
    J *p = kvs_lmc_json_array(a);
    for (const char *const *g = r->def->patterns; g && *g; g++)
        kvs_lmc_json_push(p, kvs_lmc_json_str(a, *g));
    kvs_lmc_json_put(o, "patterns", p);
    kvs_lmc_json_put_str(o, "required_when", kvs_lmc_required_name(r->def->required_when));
    kvs_lmc_json_put_bool(o, "applicable", r->applicable);
    kvs_lmc_json_put_str(o, "status", kvs_lmc_fstatus_name(r->status));
    if (compat)
        kvs_lmc_json_put_str(o, "support_level", kvs_lmc_support_level(r->status));
    kvs_lmc_json_put_num(o, "series_count", (double)r->series_count);
    kvs_lmc_json_put_num(o, "populated_series_count", (double)r->populated_series_count);
    kvs_lmc_json_put(o, "matched_metrics", kvs_lmc_json_strs(a, r->matched_metrics, r->nmatched));
    /* kvscope */
    kvs_lmc_json_put(o, "matched_keys", kvs_lmc_json_strs(a, r->matched_keys, r->nkeys));
    kvs_lmc_json_put_num(o, "created_series_count", (double)r->created_series_count);
    kvs_lmc_json_put_num(o, "label_series_count", (double)r->label_series);
    kvs_lmc_json_put_str(o, "applicability_reason", r->reason);
    kvs_lmc_json_put_bool(o, "kvscope_added", (r->def->flags & KVS_LMC_FAM_ADDED) != 0);
    kvs_lmc_json_put_bool(o, "zero_is_healthy", (r->def->flags & KVS_LMC_FAM_ZERO_OK) != 0);
    return o;
}

J *kvs_lmc__surface_json(const kvs_lmc_surface_row *s, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(o, "family_count", (double)s->family_count);
    kvs_lmc_json_put_num(o, "populated", (double)s->populated);
    kvs_lmc_json_put_num(o, "zero", (double)s->zero);
    kvs_lmc_json_put_num(o, "missing", (double)s->missing);
    kvs_lmc_json_put_num(o, "not_applicable", (double)s->not_applicable);
    kvs_lmc_json_put_num(o, "required_family_count", (double)s->required_family_count);
    kvs_lmc_json_put_num(o, "required_populated", (double)s->required_populated);
    kvs_lmc_json_put_num(o, "required_zero", (double)s->required_zero);
    kvs_lmc_json_put_num(o, "required_missing", (double)s->required_missing);
    kvs_lmc_json_put_str(o, "status", kvs_lmc_sstatus_name(s->status));
    return o;
}

J *kvs_lmc__candidate_json(const kvs_lmc_candidate *c, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_bool(o, "candidate", c->candidate);
    kvs_lmc_json_put_str(o, "claim_status", kvs_lmc_claim_name(c->claim));
    kvs_lmc_json_put(o, "signals", kvs_lmc_json_strs(a, c->signals, c->nsignals));
    return o;
}

J *kvs_lmc__time_json(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *w = window(a, d->t_min_ms, d->t_max_ms);
    kvs_lmc_json_put_num(w, "observation_times", (double)d->ntimes);
    return w;
}

static J *bottleneck(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    const kvs_lmc_bottleneck *b = &d->bottleneck;
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "schema_version", "inferguard-bottleneck-diagnosis/v1");
    kvs_lmc_json_put_str(o, "kvscope_schema_version", "kvscope-bottleneck-diagnosis/v1");
    kvs_lmc_json_put_str(o, "job_id", d->cfg.job_id);
    kvs_lmc_json_put_str(o, "verdict", b->verdict);
    kvs_lmc_json_put_num(o, "confidence", b->confidence);
    kvs_lmc_json_put_str(o, "claim_status", b->claim_status);
    kvs_lmc_json_put_str(o, "rule_fired", b->rule_fired);
    kvs_lmc_json_put_str(o, "reasoning", b->reasoning);
    kvs_lmc_json_put_str(o, "recommended_next_probe", b->recommended_next_probe);
    J *paths = kvs_lmc_json_array(a);
    if (d->cfg.engine_source && *d->cfg.engine_source)
        kvs_lmc_json_push(paths, kvs_lmc_json_str(a, d->cfg.engine_source));
    if (d->cfg.lmcache_source && *d->cfg.lmcache_source)
        kvs_lmc_json_push(paths, kvs_lmc_json_str(a, d->cfg.lmcache_source));
    kvs_lmc_json_put(o, "evidence_paths", paths);
    J *mv = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(mv, "lmcache_compat.detected_mode", kvs_lmc_mode_name(d->mode.mode));
    kvs_lmc_json_put_str(mv, "lmcache_compat.detected_architecture", kvs_lmc_arch_name(d->mode.arch));
    J *fc = kvs_lmc_json_array(a), *dc = kvs_lmc_json_array(a);
    for (size_t i = 0; i < d->nfailures; i++)
        kvs_lmc_json_push(fc, kvs_lmc_json_str(a, d->failures[i].code));
    for (size_t i = 0; i < d->nfindings; i++)
        kvs_lmc_json_push(dc, kvs_lmc_json_str(a, d->findings[i].code));
    kvs_lmc_json_put(mv, "lmcache_compat.failure_reasons", fc);
    kvs_lmc_json_put(mv, "lmcache_compat.diagnostic_findings", dc);
    kvs_lmc_json_put(mv, "rules_evaluated", kvs_lmc_json_strs(a, b->rules_evaluated, b->nrules));
    kvs_lmc_json_put(o, "metric_values", mv);
    J *pe = kvs_lmc_json_array(a);
    for (size_t i = 0; i < b->nprimary; i++) {
        J *x = kvs_lmc_json_object(a);
        kvs_lmc_json_put_str(x, "metric", b->primary[i].metric);
        kvs_lmc_json_put_num(x, "value", b->primary[i].value);
        kvs_lmc_json_put_str(x, "source", b->primary[i].source);
        kvs_lmc_json_put_str(x, "claim_status", b->claim_status);
        kvs_lmc_json_push(pe, x);
    }
    kvs_lmc_json_put(o, "primary_evidence", pe);
    kvs_lmc_json_put(o, "secondary_evidence", kvs_lmc_json_array(a));
    kvs_lmc_json_put(o, "supporting_request_rows", kvs_lmc__strs_json(a, b->supporting_trace_ids));
    J *dg = kvs_lmc_json_array(a);
    if (b->downgrade_claim_id) {
        J *x = kvs_lmc_json_object(a);
        kvs_lmc_json_put_str(x, "claim_id", b->downgrade_claim_id);
        kvs_lmc_json_put_str(x, "from", b->downgrade_from);
        kvs_lmc_json_put_str(x, "to", b->downgrade_to);
        kvs_lmc_json_put_str(x, "reason", b->downgrade_reason);
        kvs_lmc_json_push(dg, x);
    }
    kvs_lmc_json_put(o, "downgrades", dg);
    return o;
}

static J *findings_doc(const kvs_lmc_diagnosis *d, kvs_arena *a)
{
    J *o = kvs_lmc_json_object(a);
    kvs_lmc_json_put_str(o, "schema_version", "kvscope-lmcache-findings/v1");
    kvs_lmc_json_put_str(o, "detected_mode", kvs_lmc_mode_name(d->mode.mode));
    kvs_lmc_json_put_str(o, "detected_architecture", kvs_lmc_arch_name(d->mode.arch));
    kvs_lmc_json_put(o, "time_window", kvs_lmc__time_json(d, a));
    kvs_lmc_json_put(o, "findings", kvs_lmc__findings_json(d, a));
    kvs_lmc_json_put(o, "failure_reasons", kvs_lmc__failures_json(d, a));
    kvs_lmc_json_put(o, "upstream_questions", kvs_lmc__questions_json(d, a));
    J *th = kvs_lmc_json_object(a);
    for (int i = 0; i < KVS_LMC_TH__COUNT; i++)
        kvs_lmc_json_put_num(th, kvs_lmc_threshold_defs[i].name, d->cfg.thresholds.v[i]);
    kvs_lmc_json_put(o, "thresholds", th);
    double n[3] = {0, 0, 0};
    for (size_t i = 0; i < d->nfindings; i++)
        n[d->findings[i].severity]++;
    J *c = kvs_lmc_json_object(a);
    kvs_lmc_json_put_num(c, "info", n[0]);
    kvs_lmc_json_put_num(c, "warning", n[1]);
    kvs_lmc_json_put_num(c, "critical", n[2]);
    kvs_lmc_json_put(o, "counts", c);
    return o;
}

J *kvs_lmc_report_build(const kvs_lmc_diagnosis *d, kvs_lmc_report_kind kind, kvs_arena *a)
{
    switch (kind) {
    case KVS_LMC_REPORT_COMPAT: return kvs_lmc__compat_json(d, a);
    case KVS_LMC_REPORT_COVERAGE: return kvs_lmc__coverage_json(d, a);
    case KVS_LMC_REPORT_BOTTLENECK: return bottleneck(d, a);
    case KVS_LMC_REPORT_FINDINGS: return findings_doc(d, a);
    default: return NULL;
    }
}

int kvs_lmc_report_write(const kvs_lmc_diagnosis *d, kvs_lmc_report_kind kind, kvs_buf *out)
{
    kvs_arena *a = kvs_arena_new();
    if (!a)
        return KVS_E_NOMEM;
    J *doc = kvs_lmc_report_build(d, kind, a);
    if (doc)
        kvs_lmc_json_write(doc, out);
    kvs_arena_free(a);
    return doc && !out->oom ? 0 : KVS_E_NOMEM;
}
