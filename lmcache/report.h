/* kvs_lmc report: the report documents of a diagnosis, as data and as
 * JSON text.
 *
 * Documents (file names as the peer tool writes them, plus kvscope's):
 *   lmcache_compat_report.json    schema_version inferguard-observability-compat/v1
 *   observability_coverage.json   schema_version inferguard-observability-coverage/v1
 *   bottleneck_diagnosis.json     schema_version inferguard-bottleneck-diagnosis/v1
 *   lmcache_findings.json         schema_version kvscope-lmcache-findings/v1
 * The first three keep every top-level key of the peer's schema with the
 * same meaning, so existing tooling reads them; kvscope only adds keys
 * (documented in docs/reports.md). Output is deterministic: sorted keys,
 * registry / rule order for lists, no wall-clock time -- the same
 * diagnosis always gives byte-identical text.
 *
 * Pure: builds into the caller's arena / buffer. */
#ifndef KVS_LMC_REPORT_H
#define KVS_LMC_REPORT_H

#include "core/arena.h"
#include "core/buf.h"
#include "lmcache/diagnose.h"
#include "lmcache/json_out.h"

typedef enum kvs_lmc_report_kind {
    KVS_LMC_REPORT_COMPAT = 0,
    KVS_LMC_REPORT_COVERAGE,
    KVS_LMC_REPORT_BOTTLENECK,
    KVS_LMC_REPORT_FINDINGS,
    KVS_LMC_REPORT__COUNT
} kvs_lmc_report_kind;

/* The file name of a document, e.g. "lmcache_compat_report.json". */
const char *kvs_lmc_report_file(kvs_lmc_report_kind kind);

/* The document as a JSON value in `a` (NULL on out-of-memory). */
kvs_lmc_json *kvs_lmc_report_build(const kvs_lmc_diagnosis *d, kvs_lmc_report_kind kind, kvs_arena *a);

/* Appends the document's text to out: 0, or KVS_E_NOMEM. */
int kvs_lmc_report_write(const kvs_lmc_diagnosis *d, kvs_lmc_report_kind kind, kvs_buf *out);

/* One finding as the reports write it (for connectors that emit findings
 * as log records with a JSON body). */
kvs_lmc_json *kvs_lmc_report_finding(const kvs_lmc_finding *f, kvs_arena *a);

#endif
