/* Internal to lmcache/metric_names*.c: the name bridge's data tables
 * (metric_names_table.c) and the code that searches them (metric_names.c). */
#ifndef KVS_METRIC_NAMES_INT_H
#define KVS_METRIC_NAMES_INT_H

#include "lmcache/metric_names.h"

#include <stddef.h>

/* Canonical metrics in key order. */
extern const kvs_metric_info kvs_metric_infos_[KVS_METRIC__COUNT];
/* Normalized spellings (canonical ids and renamed-metric aliases), sorted by strcmp. */
extern const kvs_metric_spelling kvs_metric_spellings_[];
extern const size_t kvs_metric_nspellings_;

#endif
