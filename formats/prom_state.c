/* kvs_prom_series_state: per-target memory across scrapes, keyed by a
 * 128-bit series hash (open addressing, rebuilt when it grows or when stale
 * series are swept at the end of a scrape). Promises: start time of a
 * cumulative series is stable across scrapes, moves on a counter reset,
 * and memory follows the number of live series. */
#include "formats/prom_otlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    kvs_prom_series_key key;
    uint64_t start_ns;
    uint64_t last_time_ns;
    double last_value;
    unsigned long gen;     /* scrape generation last seen; 0 = empty slot */
};

struct kvs_prom_series_state {
    struct entry *tab;
    size_t cap, n;
    unsigned long gen;     /* current scrape, starts at 1 */
    unsigned stale;
};

static size_t slot_of(kvs_prom_series_key k, size_t cap) { return (size_t)(k.lo ^ (k.hi >> 7)) & (cap - 1); }

static int rehash(kvs_prom_series_state *st, size_t cap, unsigned long min_gen)
{
    struct entry *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < st->cap; i++) {
        struct entry *e = &st->tab[i];
        if (!e->gen || e->gen < min_gen)
            continue;
        size_t j = slot_of(e->key, cap);
        while (t[j].gen)
            j = (j + 1) & (cap - 1);
        t[j] = *e;
        n++;
    }
    free(st->tab);
    st->tab = t;
    st->cap = cap;
    st->n = n;
    return 0;
}

kvs_prom_series_state *kvs_prom_series_state_new(unsigned stale_scrapes)
{
    kvs_prom_series_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->gen = 1;
    st->stale = stale_scrapes ? stale_scrapes : 5;
    if (rehash(st, 64, 1)) {
        free(st);
        return NULL;
    }
    return st;
}

void kvs_prom_series_state_free(kvs_prom_series_state *st)
{
    if (!st)
        return;
    free(st->tab);
    free(st);
}

size_t kvs_prom_series_state_count(const kvs_prom_series_state *st) { return st->n; }

uint64_t kvs_prom_series_state_observe(kvs_prom_series_state *st, kvs_prom_series_key key, double value,
                                       uint64_t time_ns, uint64_t first_seen_ns, uint64_t created_ns,
                                       bool *reset)
{
    if (reset)
        *reset = false;
    if ((st->n + 1) * 2 > st->cap && rehash(st, st->cap * 2, 1))
        return 0;
    size_t j = slot_of(key, st->cap);
    while (st->tab[j].gen && (st->tab[j].key.lo != key.lo || st->tab[j].key.hi != key.hi))
        j = (j + 1) & (st->cap - 1);
    struct entry *e = &st->tab[j];
    if (!e->gen) {
        *e = (struct entry){.key = key, .start_ns = created_ns ? created_ns : first_seen_ns,
                            .last_time_ns = time_ns, .last_value = value, .gen = st->gen};
        st->n++;
        return e->start_ns;
    }
    if (created_ns) {
        /* the series says when it started; a new creation time is a restart */
        if (reset)
            *reset = created_ns > e->start_ns;
        e->start_ns = created_ns;
    } else if (!isnan(value) && !isnan(e->last_value) && value < e->last_value) {
        e->start_ns = e->last_time_ns;
        if (reset)
            *reset = true;
    }
    if (!isnan(value))
        e->last_value = value;
    e->last_time_ns = time_ns;
    e->gen = st->gen;
    return e->start_ns;
}

void kvs_prom_series_state_end_scrape(kvs_prom_series_state *st)
{
    st->gen++;
    if (st->gen > st->stale) {
        unsigned long min_gen = st->gen - st->stale;
        size_t live = 0;
        for (size_t i = 0; i < st->cap; i++)
            live += st->tab[i].gen >= min_gen;
        if (live != st->n) {
            size_t cap = 64;
            while (cap < live * 2 + 2)
                cap *= 2;
            rehash(st, cap, min_gen); /* on failure the stale entries simply stay */
        }
    }
}
