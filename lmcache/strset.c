/* Interned string sets (see strset.h). */
#include "lmcache/strset.h"

#include <stdlib.h>
#include <string.h>

uint64_t kvs_lmc_hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

void kvs_lmc_strset_init(kvs_lmc_strset *s, kvs_arena *arena, size_t limit)
{
    memset(s, 0, sizeof *s);
    s->arena = arena;
    s->limit = limit;
    s->sorted = true;
}

void kvs_lmc_strset_free(kvs_lmc_strset *s)
{
    free(s->slots);
    free(s->items);
    s->slots = NULL;
    s->items = NULL;
    s->n = s->nslots = s->cap_items = 0;
}

static size_t find_slot(const kvs_lmc_strset *s, const char *str, size_t n, bool *found)
{
    size_t mask = s->nslots - 1;
    size_t i = (size_t)kvs_lmc_hash(str, n, 0) & mask;
    for (;;) {
        const char *c = s->slots[i];
        if (!c) {
            *found = false;
            return i;
        }
        if (strncmp(c, str, n) == 0 && c[n] == '\0') {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int rehash(kvs_lmc_strset *s)
{
    size_t nn = s->nslots ? s->nslots * 2 : 16;
    const char **ns = calloc(nn, sizeof *ns);
    if (!ns)
        return -1;
    const char **old = s->slots;
    size_t on = s->nslots;
    s->slots = ns;
    s->nslots = nn;
    for (size_t i = 0; i < on; i++)
        if (old[i]) {
            bool f;
            size_t j = find_slot(s, old[i], strlen(old[i]), &f);
            ns[j] = old[i];
        }
    free(old);
    return 0;
}

const char *kvs_lmc_strset_get(const kvs_lmc_strset *s, const char *str, size_t n)
{
    if (!s->nslots)
        return NULL;
    bool f;
    size_t i = find_slot(s, str, n, &f);
    return f ? s->slots[i] : NULL;
}

bool kvs_lmc_strset_has(const kvs_lmc_strset *s, const char *str)
{
    return kvs_lmc_strset_get(s, str, strlen(str)) != NULL;
}

const char *kvs_lmc_strset_add(kvs_lmc_strset *s, const char *str, size_t n)
{
    if ((s->n + 1) * 2 > s->nslots && rehash(s) != 0)
        return NULL;
    bool f;
    size_t i = find_slot(s, str, n, &f);
    if (f)
        return s->slots[i];
    if (s->limit && s->n >= s->limit) {
        s->overflow++;
        return NULL;
    }
    if (s->n == s->cap_items) {
        size_t nc = s->cap_items ? s->cap_items * 2 : 16;
        const char **ni = realloc(s->items, nc * sizeof *ni);
        if (!ni)
            return NULL;
        s->items = ni;
        s->cap_items = nc;
    }
    char *copy = kvs_arena_strndup(s->arena, str, n);
    if (!copy)
        return NULL;
    s->slots[i] = copy;
    s->items[s->n++] = copy;
    s->sorted = s->n < 2;
    return copy;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *const *kvs_lmc_strset_sorted(kvs_lmc_strset *s, size_t *n)
{
    if (!s->sorted && s->n > 1)
        qsort(s->items, s->n, sizeof *s->items, cmp_str);
    s->sorted = true;
    *n = s->n;
    return s->items;
}
