/* Test helper (header-only, static): loads a scenario directory of
 * fixtures/scenarios/ into an evidence model the way a connector would
 * feed it, and checks a diagnosis against the scenario's expected.json.
 *
 * A scenario holds:
 *   scrape-<unix_ms>[-<source>].prom   Prometheus text scrapes (timeline)
 *   *.jsonl                            OTLP/JSON lines (spans, metrics, logs)
 *   *.log                              engine / LMCache log lines
 *   expected.json                      {"description", "config", "http",
 *                                       "lanes", "expect": {...}}
 * "expect" keys (all optional): detected_mode, mode_source, architecture,
 * architecture_claim, candidates {p2p, disaggregated_prefill,
 * controller_only}, families {"surface/family": status}, surfaces
 * {surface: status}, findings [codes, exact], failure_reasons ["code" or
 * "code:family", exact], questions [codes, exact], trace_ids {code:
 * [ids, exact]}, severities {code: severity}. */
#ifndef LMC_SCENARIO_H
#define LMC_SCENARIO_H

#include "core/arena.h"
#include "formats/otlp_json.h"
#include "lmcache/diagnose.h"
#include "lmcache/report.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

typedef struct lmc_scn {
    kvs_lmc_evidence *ev;
    kvs_lmc_config cfg;
    yajl_val expected;
    char dir[1024];
    unsigned long rejected;
    int files;
} lmc_scn;

static inline char *lmc_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = '\0';
    if (len)
        *len = got;
    return b;
}

static inline const char *lmc_src_dir(void)
{
    const char *s = getenv("KVS_SOURCE_DIR");
    return s ? s : ".";
}

static inline int lmc_cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static inline bool lmc_ends(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static inline yajl_val lmc_get(yajl_val v, const char *a, const char *b)
{
    const char *path[3] = {a, b, NULL};
    return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static inline void lmc_feed_jsonl(lmc_scn *s, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            kvs_arena *a = kvs_arena_new();
            kvs_otlp_doc doc;
            kvs_json_error je;
            if (kvs_otlp_json_decode(p, n, a, &doc, &je) == 0) {
                if (doc.traces)
                    kvs_lmc_evidence_add_spans(s->ev, doc.traces);
                if (doc.metrics)
                    kvs_lmc_evidence_add_metrics(s->ev, doc.metrics);
                if (doc.logs)
                    kvs_lmc_evidence_add_logs(s->ev, doc.logs);
            } else {
                s->rejected++;
            }
            kvs_arena_free(a);
        }
        p += n + (e ? 1 : 0);
    }
}

static inline void lmc_apply_config(lmc_scn *s)
{
    yajl_val c = lmc_get(s->expected, "config", NULL);
    kvs_lmc_config_default(&s->cfg);
    if (!c || !YAJL_IS_OBJECT(c))
        return;
    for (size_t i = 0; i < c->u.object.len; i++) {
        const char *k = c->u.object.keys[i];
        yajl_val v = c->u.object.values[i];
        bool t = YAJL_IS_TRUE(v);
        if (strcmp(k, "expect_mode") == 0)
            s->cfg.expect_mode = kvs_lmc_mode_parse(YAJL_GET_STRING(v));
        else if (strcmp(k, "expected_engine") == 0)
        {
            const char *e = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "auto";
            s->cfg.expected_engine = strcmp(e, "vllm") == 0 ? 1 : strcmp(e, "sglang") == 0 ? 2 : 0;
        }
        else if (strcmp(k, "l2_configured") == 0)
            s->cfg.l2_configured = t;
        else if (strcmp(k, "tracing_enabled") == 0)
            s->cfg.tracing_enabled = t;
        else if (strcmp(k, "trace_recording_enabled") == 0)
            s->cfg.trace_recording_enabled = t;
        else if (strcmp(k, "metrics_disabled") == 0)
            s->cfg.metrics_disabled = t;
        else if (strcmp(k, "observability_disabled") == 0)
            s->cfg.observability_disabled = t;
        else if (strcmp(k, "event_bus_queue_size") == 0) {
            s->cfg.has_event_bus_queue_size = true;
            s->cfg.event_bus_queue_size = (long)YAJL_GET_DOUBLE(v);
        } else if (strcmp(k, "thresholds") == 0 && YAJL_IS_OBJECT(v)) {
            for (size_t j = 0; j < v->u.object.len; j++)
                kvs_lmc_thresholds_set(&s->cfg.thresholds, v->u.object.keys[j], YAJL_GET_DOUBLE(v->u.object.values[j]));
        }
    }
}

static inline void lmc_apply_http_lanes(lmc_scn *s)
{
    yajl_val h = lmc_get(s->expected, "http", NULL);
    if (h && YAJL_IS_OBJECT(h)) {
        kvs_lmc_http_facts f = {.healthy = -1, .l1_memory_used_bytes = NAN, .l1_total_object_count = NAN};
        yajl_val v;
        if ((v = lmc_get(h, "engine_type", NULL)) && YAJL_IS_STRING(v))
            f.engine_type = YAJL_GET_STRING(v);
        if ((v = lmc_get(h, "healthy", NULL)))
            f.healthy = YAJL_IS_TRUE(v) ? 1 : 0;
        if ((v = lmc_get(h, "endpoints", NULL)))
            f.endpoints = (unsigned)YAJL_GET_DOUBLE(v);
        if ((v = lmc_get(h, "l1_memory_used_bytes", NULL)))
            f.l1_memory_used_bytes = YAJL_GET_DOUBLE(v);
        if ((v = lmc_get(h, "l1_total_object_count", NULL)))
            f.l1_total_object_count = YAJL_GET_DOUBLE(v);
        kvs_lmc_evidence_set_http(s->ev, &f);
        yajl_val fl = lmc_get(h, "failures", NULL);
        for (size_t i = 0; fl && YAJL_IS_ARRAY(fl) && i < fl->u.array.len; i++)
            kvs_lmc_evidence_add_http_failure(s->ev, YAJL_GET_STRING(lmc_get(fl->u.array.values[i], "endpoint", NULL)),
                                              YAJL_GET_STRING(lmc_get(fl->u.array.values[i], "message", NULL)));
    }
    yajl_val l = lmc_get(s->expected, "lanes", NULL);
    static const char *const names[] = {"http", "logs", "trace_recording", "otel", "trace_replay", "lookup_hash",
                                        "cacheblend_boundary"};
    for (size_t i = 0; l && YAJL_IS_OBJECT(l) && i < l->u.object.len; i++)
        for (int id = 0; id < KVS_LMC_LANE__COUNT; id++) {
            if (strcmp(l->u.object.keys[i], names[id]) != 0)
                continue;
            yajl_val o = l->u.object.values[i];
            kvs_lmc_lane lane = {
                .provided = YAJL_IS_TRUE(lmc_get(o, "provided", NULL)),
                .present = YAJL_IS_TRUE(lmc_get(o, "present", NULL)),
                .measured = YAJL_IS_TRUE(lmc_get(o, "measured", NULL)),
                .records = lmc_get(o, "records", NULL) ? (unsigned long)YAJL_GET_DOUBLE(lmc_get(o, "records", NULL)) : 0,
                .parse_errors = lmc_get(o, "parse_errors", NULL)
                                    ? (unsigned long)YAJL_GET_DOUBLE(lmc_get(o, "parse_errors", NULL))
                                    : 0,
            };
            kvs_lmc_evidence_set_lane(s->ev, (kvs_lmc_lane_id)id, &lane);
        }
}

/* 0, or -1 when the directory or its expected.json cannot be read. */
static inline int lmc_scn_load(const char *name, lmc_scn *s, const kvs_lmc_evidence_limits *lim)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s/fixtures/scenarios/%s", lmc_src_dir(), name);
    char path[1400];
    snprintf(path, sizeof path, "%s/expected.json", s->dir);
    char *text = lmc_slurp(path, NULL);
    if (!text)
        return -1;
    char ebuf[256];
    s->expected = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!s->expected)
        return -1;
    s->ev = kvs_lmc_evidence_new(lim);
    lmc_apply_config(s);
    DIR *d = opendir(s->dir);
    if (!d)
        return -1;
    char *names[512];
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 512;)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, lmc_cmp_names);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", s->dir, names[i]);
        size_t len = 0;
        if (strncmp(names[i], "scrape-", 7) == 0 && lmc_ends(names[i], ".prom")) {
            long long t = strtoll(names[i] + 7, NULL, 10);
            char *t2 = lmc_slurp(path, &len);
            unsigned long rej = 0;
            kvs_lmc_evidence_add_prom_text(s->ev, t2, len, (int64_t)t, &rej);
            s->rejected += rej;
            s->files++;
            free(t2);
        } else if (lmc_ends(names[i], ".jsonl")) {
            char *t2 = lmc_slurp(path, &len);
            lmc_feed_jsonl(s, t2);
            s->files++;
            free(t2);
        } else if (lmc_ends(names[i], ".log")) {
            char *t2 = lmc_slurp(path, &len);
            for (char *p = t2, *e; p && *p; p = e ? e + 1 : NULL) {
                e = strchr(p, '\n');
                kvs_lmc_evidence_add_log_line(s->ev, p, e ? (size_t)(e - p) : strlen(p));
            }
            s->files++;
            free(t2);
        }
        free(names[i]);
    }
    lmc_apply_http_lanes(s);
    return 0;
}

static inline void lmc_scn_free(lmc_scn *s)
{
    kvs_lmc_evidence_free(s->ev);
    yajl_tree_free(s->expected);
    s->ev = NULL;
    s->expected = NULL;
}

static inline int lmc_cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Compares an exact list of strings (order-insensitive); reports into msg. */
static inline int lmc_check_list(const char *what, yajl_val want, const char **got, size_t ngot, char *msg, size_t cap)
{
    if (!want || !YAJL_IS_ARRAY(want))
        return 0;
    size_t nw = want->u.array.len;
    const char **w = calloc(nw + 1, sizeof *w);
    for (size_t i = 0; i < nw; i++)
        w[i] = YAJL_GET_STRING(want->u.array.values[i]);
    qsort(w, nw, sizeof *w, lmc_cmp_cstr);
    qsort(got, ngot, sizeof *got, lmc_cmp_cstr);
    int bad = nw != ngot;
    for (size_t i = 0; !bad && i < nw; i++)
        bad = strcmp(w[i], got[i]) != 0;
    if (bad) {
        size_t o = strlen(msg);
        o += (size_t)snprintf(msg + o, cap > o ? cap - o : 0, "%s: want [", what);
        for (size_t i = 0; i < nw && o < cap; i++)
            o += (size_t)snprintf(msg + o, cap - o, "%s%s", i ? " " : "", w[i]);
        o += (size_t)snprintf(msg + o, cap > o ? cap - o : 0, "] got [");
        for (size_t i = 0; i < ngot && o < cap; i++)
            o += (size_t)snprintf(msg + o, cap - o, "%s%s", i ? " " : "", got[i]);
        snprintf(msg + o, cap > o ? cap - o : 0, "]\n");
    }
    free(w);
    return bad;
}

static inline int lmc_check_str(const char *what, yajl_val want, const char *got, char *msg, size_t cap)
{
    const char *w = want && YAJL_IS_STRING(want) ? YAJL_GET_STRING(want) : NULL;
    if (!w || strcmp(w, got) == 0)
        return 0;
    size_t o = strlen(msg);
    snprintf(msg + o, cap > o ? cap - o : 0, "%s: want %s got %s\n", what, w, got);
    return 1;
}

/* Number of mismatches between d and the scenario's "expect"; msg gets
 * one line per mismatch. */
static inline int lmc_scn_check(const lmc_scn *s, const kvs_lmc_diagnosis *d, char *msg, size_t cap)
{
    msg[0] = '\0';
    yajl_val x = lmc_get(s->expected, "expect", NULL);
    if (!x)
        return 0;
    int bad = 0;
    bad += lmc_check_str("detected_mode", lmc_get(x, "detected_mode", NULL), kvs_lmc_mode_name(d->mode.mode), msg, cap);
    bad += lmc_check_str("mode_source", lmc_get(x, "mode_source", NULL), d->mode.mode_source, msg, cap);
    bad += lmc_check_str("architecture", lmc_get(x, "architecture", NULL), kvs_lmc_arch_name(d->mode.arch), msg, cap);
    bad += lmc_check_str("architecture_claim", lmc_get(x, "architecture_claim", NULL),
                         kvs_lmc_claim_name(d->mode.arch_claim), msg, cap);
    yajl_val c = lmc_get(x, "candidates", NULL);
    const kvs_lmc_candidate *cands[3] = {&d->mode.p2p, &d->mode.pd, &d->mode.controller_only};
    static const char *const cn[3] = {"p2p", "disaggregated_prefill", "controller_only"};
    for (int i = 0; c && i < 3; i++) {
        yajl_val v = lmc_get(c, cn[i], NULL);
        if (v && (YAJL_IS_TRUE(v) != cands[i]->candidate)) {
            size_t o = strlen(msg);
            snprintf(msg + o, cap > o ? cap - o : 0, "candidate %s: want %d\n", cn[i], YAJL_IS_TRUE(v));
            bad++;
        }
    }
    yajl_val fam = lmc_get(x, "families", NULL);
    for (size_t i = 0; fam && YAJL_IS_OBJECT(fam) && i < fam->u.object.len; i++) {
        char sf[128];
        snprintf(sf, sizeof sf, "%s", fam->u.object.keys[i]);
        char *slash = strchr(sf, '/');
        if (!slash)
            continue;
        *slash = '\0';
        const kvs_lmc_family_row *r = kvs_lmc_diagnosis_row(d, sf, slash + 1);
        char what[160];
        snprintf(what, sizeof what, "family %s", fam->u.object.keys[i]);
        bad += lmc_check_str(what, fam->u.object.values[i], r ? kvs_lmc_fstatus_name(r->status) : "(none)", msg, cap);
    }
    yajl_val su = lmc_get(x, "surfaces", NULL);
    for (size_t i = 0; su && YAJL_IS_OBJECT(su) && i < su->u.object.len; i++)
        for (int k = 0; k < KVS_LMC_FS__COUNT; k++)
            if (strcmp(kvs_lmc_fsurface_name((kvs_lmc_fsurface)k), su->u.object.keys[i]) == 0) {
                char what[160];
                snprintf(what, sizeof what, "surface %s", su->u.object.keys[i]);
                bad += lmc_check_str(what, su->u.object.values[i], kvs_lmc_sstatus_name(d->surfaces[k].status), msg, cap);
            }
    const char **got = calloc(d->nfindings + d->nfailures + d->nquestions + 1, sizeof *got);
    char (*fbuf)[160] = calloc(d->nfailures + 1, sizeof *fbuf);
    for (size_t i = 0; i < d->nfindings; i++)
        got[i] = d->findings[i].code;
    bad += lmc_check_list("findings", lmc_get(x, "findings", NULL), got, d->nfindings, msg, cap);
    for (size_t i = 0; i < d->nfailures; i++) {
        if (d->failures[i].family)
            snprintf(fbuf[i], sizeof fbuf[i], "%s:%s", d->failures[i].code, d->failures[i].family);
        else
            snprintf(fbuf[i], sizeof fbuf[i], "%s", d->failures[i].code);
        got[i] = fbuf[i];
    }
    bad += lmc_check_list("failure_reasons", lmc_get(x, "failure_reasons", NULL), got, d->nfailures, msg, cap);
    for (size_t i = 0; i < d->nquestions; i++)
        got[i] = d->questions[i].code;
    bad += lmc_check_list("questions", lmc_get(x, "questions", NULL), got, d->nquestions, msg, cap);
    yajl_val tr = lmc_get(x, "trace_ids", NULL);
    for (size_t i = 0; tr && YAJL_IS_OBJECT(tr) && i < tr->u.object.len; i++) {
        const kvs_lmc_finding *f = kvs_lmc_diagnosis_finding(d, tr->u.object.keys[i]);
        const char *ids[KVS_LMC_MAX_TRACES];
        size_t n = 0;
        for (size_t k = 0; f && k < f->ntraces; k++)
            ids[n++] = f->trace_ids[k];
        char what[160];
        snprintf(what, sizeof what, "trace_ids %s", tr->u.object.keys[i]);
        bad += lmc_check_list(what, tr->u.object.values[i], ids, n, msg, cap);
    }
    yajl_val sv = lmc_get(x, "severities", NULL);
    for (size_t i = 0; sv && YAJL_IS_OBJECT(sv) && i < sv->u.object.len; i++) {
        const kvs_lmc_finding *f = kvs_lmc_diagnosis_finding(d, sv->u.object.keys[i]);
        char what[160];
        snprintf(what, sizeof what, "severity %s", sv->u.object.keys[i]);
        bad += lmc_check_str(what, sv->u.object.values[i], f ? kvs_lmc_severity_name(f->severity) : "(none)", msg, cap);
    }
    free(fbuf);
    free(got);
    return bad;
}

/* ---- building evidence by hand ---- */

#include <stdarg.h>

/* Labels as key, value pairs ending with NULL. */
static inline void lmc_put(kvs_lmc_evidence *ev, const char *name, kvs_lmc_kind kind, double v, int64_t t, ...)
{
    kvs_lmc_label l[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, t);
    for (const char *k; n < 16 && (k = va_arg(ap, const char *));) {
        l[n].key = k;
        l[n].value = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    kvs_lmc_obs o = {.name = name, .kind = kind, .value = v, .t_ms = t, .labels = l, .nlabels = n};
    kvs_lmc_evidence_add(ev, &o);
}

static inline void lmc_put_created(kvs_lmc_evidence *ev, const char *name, int64_t t)
{
    kvs_lmc_obs o = {.name = name, .kind = KVS_LMC_COUNTER, .value = 1748735000.5, .t_ms = t, .created = true};
    kvs_lmc_evidence_add(ev, &o);
}

/* A histogram of observations `vals` over `bounds` (per-bucket counts computed). */
static inline void lmc_put_hist(kvs_lmc_evidence *ev, const char *name, int64_t t, const double *bounds, size_t nb,
                         const double *vals, size_t nv)
{
    double counts[KVS_LMC_MAX_BUCKETS + 1] = {0}, sum = 0;
    for (size_t i = 0; i < nv; i++) {
        size_t b = 0;
        while (b < nb && vals[i] > bounds[b])
            b++;
        counts[b]++;
        sum += vals[i];
    }
    kvs_lmc_obs o = {.name = name, .kind = KVS_LMC_HISTOGRAM, .t_ms = t, .bounds = bounds, .nbounds = nb,
                     .bucket_counts = counts, .count = (double)nv, .sum = sum};
    kvs_lmc_evidence_add(ev, &o);
}

static inline kvs_lmc_diagnosis *lmc_diag(kvs_lmc_evidence *ev, const kvs_lmc_config *cfg)
{
    kvs_lmc_config c;
    if (!cfg) {
        kvs_lmc_config_default(&c);
        cfg = &c;
    }
    kvs_error err;
    return kvs_lmc_diagnose(ev, cfg, &err);
}

static inline bool lmc_has_finding(const kvs_lmc_diagnosis *d, const char *code)
{
    return kvs_lmc_diagnosis_finding(d, code) != NULL;
}

static inline bool lmc_has_question(const kvs_lmc_diagnosis *d, const char *code)
{
    for (size_t i = 0; i < d->nquestions; i++)
        if (strcmp(d->questions[i].code, code) == 0)
            return true;
    return false;
}

static inline size_t lmc_count_failures(const kvs_lmc_diagnosis *d, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nfailures; i++)
        n += strcmp(d->failures[i].code, code) == 0;
    return n;
}

static inline const char *lmc_status(const kvs_lmc_diagnosis *d, const char *surface, const char *family)
{
    const kvs_lmc_family_row *r = kvs_lmc_diagnosis_row(d, surface, family);
    return r ? kvs_lmc_fstatus_name(r->status) : "(none)";
}

static inline const char *lmc_surface(const kvs_lmc_diagnosis *d, kvs_lmc_fsurface s)
{
    return kvs_lmc_sstatus_name(d->surfaces[s].status);
}

/* Every scenario directory name, sorted; returns the count. */
static inline size_t lmc_scenarios(char names[][64], size_t cap)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/fixtures/scenarios", lmc_src_dir());
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d)) && n < cap;) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len >= 64)
            continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s/expected.json", dir, de->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        fclose(f);
        memcpy(names[n++], de->d_name, len + 1);
    }
    closedir(d);
    qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

#endif
