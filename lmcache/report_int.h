/* Internal to lmcache/report*.c: pieces shared by the documents. */
#ifndef KVS_LMC_REPORT_INT_H
#define KVS_LMC_REPORT_INT_H

#include "lmcache/report.h"

kvs_lmc_json *kvs_lmc__strs_json(kvs_arena *a, kvs_lmc_strs s);
kvs_lmc_json *kvs_lmc__findings_json(const kvs_lmc_diagnosis *d, kvs_arena *a);
kvs_lmc_json *kvs_lmc__failures_json(const kvs_lmc_diagnosis *d, kvs_arena *a);
kvs_lmc_json *kvs_lmc__questions_json(const kvs_lmc_diagnosis *d, kvs_arena *a);
kvs_lmc_json *kvs_lmc__row_json(const kvs_lmc_family_row *r, bool compat, kvs_arena *a);
kvs_lmc_json *kvs_lmc__surface_json(const kvs_lmc_surface_row *s, kvs_arena *a);
kvs_lmc_json *kvs_lmc__candidate_json(const kvs_lmc_candidate *c, kvs_arena *a);
kvs_lmc_json *kvs_lmc__time_json(const kvs_lmc_diagnosis *d, kvs_arena *a);
kvs_lmc_json *kvs_lmc__compat_json(const kvs_lmc_diagnosis *d, kvs_arena *a);   /* report_compat.c */
kvs_lmc_json *kvs_lmc__coverage_json(const kvs_lmc_diagnosis *d, kvs_arena *a); /* report_compat.c */

#endif
