/* Internal layout of kvs_lmc_evidence, shared by evidence*.c only. */
#ifndef KVS_LMC_EVIDENCE_INT_H
#define KVS_LMC_EVIDENCE_INT_H

#include "lmcache/evidence.h"

typedef struct name_rec {
    const char *name;          /* raw spelling, interned */
    const char *canon;         /* canonical id, or name for unknown keys */
    kvs_metric_key key;
    kvs_metric_surface klass;  /* surface of the key, or of the unknown prefix */
    uint64_t hash;
    bool has_value, nonzero;
} name_rec;

typedef struct key_index {
    kvs_lmc_series **series;
    size_t n, cap;
    const char **spell;
    bool *spell_nz;
    size_t capspell;
} key_index;

struct kvs_lmc_evidence {
    kvs_lmc_evidence_limits lim;
    kvs_arena *arena;
    kvs_lmc_strset strings;              /* label keys and values of stored series */
    kvs_lmc_strset sets[KVS_LMC_SET__COUNT];

    name_rec **name_slots;
    size_t nslots_names;
    name_rec **names;
    size_t nnames, cap_names;
    name_rec *last_name;

    kvs_lmc_series **series;
    size_t nseries, cap_series;
    kvs_lmc_series **series_slots;
    size_t nslots_series;
    key_index keys[KVS_METRIC__COUNT];  /* [0]: series of unknown names */

    int64_t *times;
    size_t ntimes, cap_times;

    kvs_lmc_flags flags;
    kvs_lmc_span_stats spans;
    kvs_lmc_req_rec *reqs;               /* ring of lim.max_requests */
    size_t req_head, nreq;
    kvs_lmc_req_stats rstats;
    bool has_http;
    kvs_lmc_http_facts http;
    kvs_lmc_http_failure *hfail;
    size_t nhfail, cap_hfail;
    kvs_lmc_lane lanes[KVS_LMC_LANE__COUNT];
    kvs_lmc_log_stats logs;
    kvs_lmc_unknown_prefixes unk;
    struct kvs_lmc_recstate *rec;        /* evidence_records.c, in the arena; NULL until a record came */
};

/* Interned copy of s in the evidence's string table. */
const char *kvs_lmc_ev_intern(kvs_lmc_evidence *ev, const char *s);
/* Adds s to a capped set; 0 (also when the cap refused it) or KVS_E_NOMEM. */
int kvs_lmc_ev_set_add(kvs_lmc_evidence *ev, kvs_lmc_set_id id, const char *s);

/* One OTLP log record of any kind (evidence_records.c): evidence records
 * by event_name, other records' string bodies as log lines. 0 or
 * KVS_E_NOMEM. */
int kvs_lmc_ev_add_log_record(kvs_lmc_evidence *ev, const kvs_log_record *lr);

#endif
