/* Internal to lmcache/families*.c: the registry table. */
#ifndef KVS_LMC_FAMILIES_INT_H
#define KVS_LMC_FAMILIES_INT_H

#include "lmcache/families.h"

extern const kvs_lmc_family_def kvs_lmc__families[];
extern const size_t kvs_lmc__nfamilies;

#endif
