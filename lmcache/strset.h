/* kvs_lmc_strset: a set of strings interned in an arena, with a cap.
 *
 * Promises: insertion is O(1) on average; every string is copied once into
 * the arena and the same pointer is returned for equal strings, so callers
 * may compare interned strings by pointer. The set never grows past its
 * cap: further distinct strings are counted in `overflow` and not kept.
 * kvs_lmc_strset_sorted returns the members in strcmp order (stable and
 * deterministic whatever the insertion order). Not thread-safe. */
#ifndef KVS_LMC_STRSET_H
#define KVS_LMC_STRSET_H

#include "core/arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvs_lmc_strset {
    const char **slots;     /* open addressing, NULL = empty */
    size_t nslots;
    const char **items;     /* insertion order, or sorted after _sorted() */
    size_t n, cap_items;
    size_t limit;           /* 0: unbounded */
    unsigned long overflow; /* distinct strings refused by the limit */
    bool sorted;
    kvs_arena *arena;
} kvs_lmc_strset;

uint64_t kvs_lmc_hash(const void *p, size_t n, uint64_t seed);

void kvs_lmc_strset_init(kvs_lmc_strset *s, kvs_arena *arena, size_t limit);
void kvs_lmc_strset_free(kvs_lmc_strset *s);
/* The interned copy, or NULL when the set is full (overflow counted) or
 * out of memory. */
const char *kvs_lmc_strset_add(kvs_lmc_strset *s, const char *str, size_t n);
/* The interned copy when present, else NULL. */
const char *kvs_lmc_strset_get(const kvs_lmc_strset *s, const char *str, size_t n);
bool kvs_lmc_strset_has(const kvs_lmc_strset *s, const char *str);
/* Members sorted by strcmp; *n receives the count. */
const char *const *kvs_lmc_strset_sorted(kvs_lmc_strset *s, size_t *n);
/* Distinct members seen, including those the limit refused. */
static inline size_t kvs_lmc_strset_cardinality(const kvs_lmc_strset *s) { return s->n + s->overflow; }

#endif
