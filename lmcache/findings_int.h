/* Internal to lmcache/findings*.c and diagnose.c: the evaluation context
 * and the helpers rules use to emit findings, failure reasons and
 * questions into a diagnosis. */
#ifndef KVS_LMC_FINDINGS_INT_H
#define KVS_LMC_FINDINGS_INT_H

#include "lmcache/diagnose.h"

typedef struct kvs_lmc_eval {
    kvs_lmc_evidence *ev;
    kvs_lmc_diagnosis *d;
    const double *th;               /* thresholds, indexed by kvs_lmc_th */
    size_t capf, capr, capq;
    int rc;                         /* sticky KVS_E_NOMEM */
} kvs_lmc_eval;

/* A new finding (message printf-style, copied into the arena), with the
 * catalog's recommendation and origin and the evidence's time window.
 * NULL only on out-of-memory (e->rc set). */
kvs_lmc_finding *kvs_lmc__finding(kvs_lmc_eval *e, const char *code, kvs_lmc_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kvs_lmc__num(kvs_lmc_finding *f, const char *key, double v);
void kvs_lmc__str(kvs_lmc_eval *e, kvs_lmc_finding *f, const char *key, const char *v);
void kvs_lmc__bool(kvs_lmc_finding *f, const char *key, bool v);
void kvs_lmc__strs(kvs_lmc_finding *f, const char *key, kvs_lmc_strs s);
void kvs_lmc__trace(kvs_lmc_finding *f, const char *trace_id);
void kvs_lmc__reason(kvs_lmc_eval *e, const char *code, const char *family, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kvs_lmc__question(kvs_lmc_eval *e, const char *code, const char *text);
const char *kvs_lmc__strdup(kvs_lmc_eval *e, const char *s);

/* Latest reset-adjusted sum over the series of a key; NaN when absent. */
double kvs_lmc__sum(const kvs_lmc_eval *e, kvs_metric_key k);
/* The same, 0 when absent. */
double kvs_lmc__sum0(const kvs_lmc_eval *e, kvs_metric_key k);
/* Mean of a histogram key over its whole life; NaN when none. */
double kvs_lmc__hist_mean(const kvs_lmc_eval *e, kvs_metric_key k);
/* Quantile of a histogram key over its whole life; NaN when none. */
double kvs_lmc__hist_q(const kvs_lmc_eval *e, kvs_metric_key k, double q);
/* Increase of a counter key from its first to its last observation
 * (the whole cumulative value when seen once); NaN when absent. */
double kvs_lmc__increase(const kvs_lmc_eval *e, kvs_metric_key k);

/* Example trace ids of request records matching pred (oldest first). */
void kvs_lmc__traces_where(const kvs_lmc_eval *e, kvs_lmc_finding *f,
                           bool (*pred)(const kvs_lmc_req_rec *r, const void *arg), const void *arg);

void kvs_lmc__rules_peer(kvs_lmc_eval *e);      /* findings_rules.c */
void kvs_lmc__rules_extra(kvs_lmc_eval *e);     /* findings_extra.c */
void kvs_lmc__rules_time(kvs_lmc_eval *e);      /* findings_time.c */
void kvs_lmc__failures(kvs_lmc_eval *e);        /* findings_rules.c */
void kvs_lmc__questions(kvs_lmc_eval *e);       /* findings_rules.c */
void kvs_lmc__bottleneck(kvs_lmc_eval *e);      /* bottleneck.c */

#endif
