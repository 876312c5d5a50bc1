/* Samples of receiver `prometheus` (receivers/prometheus_int.h), apart
 * from the scraping: the series sets behind scrape_series_added (hashes of
 * a sample's name and labels, open addressing) and the label rewriting of
 * each sample (the target's static labels added, clashes with job,
 * instance and the static labels resolved by honor_labels). No I/O. */
#include "receivers/prometheus_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- series sets (scrape_series_added) ---- */

int kvs_promr_hset_add(kvs_promr_hset *s, uint64_t h)
{
    if (!h)
        h = 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i]) {
                size_t j = s->v[i] & (cap - 1);
                while (v[j])
                    j = (j + 1) & (cap - 1);
                v[j] = s->v[i];
            }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->v[j]) {
        if (s->v[j] == h)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j] = h;
    s->n++;
    return 1;
}

int kvs_promr_hset_has(const kvs_promr_hset *s, uint64_t h)
{
    if (!h)
        h = 1;
    if (!s->cap)
        return 0;
    for (size_t j = h & (s->cap - 1); s->v[j]; j = (j + 1) & (s->cap - 1))
        if (s->v[j] == h)
            return 1;
    return 0;
}

void kvs_promr_hset_clear(kvs_promr_hset *s)
{
    if (s->cap > 1024 && s->n * 8 < s->cap) {   /* shrink after a big scrape */
        free(s->v);
        s->v = NULL;
        s->cap = 0;
    } else if (s->v) {
        memset(s->v, 0, s->cap * sizeof *s->v);
    }
    s->n = 0;
}

void kvs_promr_hset_free(kvs_promr_hset *s)
{
    free(s->v);
    *s = (kvs_promr_hset){ 0 };
}

uint64_t kvs_promr_fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

uint64_t kvs_promr_series_hash(const kvs_prom_sample *s)
{
    uint64_t h = kvs_promr_fnv(KVS_PROMR_FNV_OFFSET, s->name.p, s->name.n);
    for (size_t i = 0; i < s->nlabels; i++) {
        h = kvs_promr_fnv(h, "\xff", 1);
        h = kvs_promr_fnv(h, s->labels[i].name.p, s->labels[i].name.n);
        h = kvs_promr_fnv(h, "=", 1);
        h = kvs_promr_fnv(h, s->labels[i].value.p, s->labels[i].value.n);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xFF51AFD7ED558CCD);
    return h ^ (h >> 33);
}

/* ---- labels ---- */

static int str_is(kvs_prom_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int is_target_label(const kvs_promr_target *tc, kvs_prom_str name)
{
    if (str_is(name, "job") || str_is(name, "instance"))
        return 1;
    for (size_t i = 0; i < tc->nlabels; i++)
        if (str_is(name, tc->labels[i].name))
            return 1;
    return 0;
}

static int reserve_labels(kvs_promr_labels *l, size_t need)
{
    if (need > l->lab_cap) {
        kvs_prom_label *v = realloc(l->lab, need * 2 * sizeof *v);
        if (!v)
            return KVS_E_NOMEM;
        l->lab = v;
        l->lab_cap = need * 2;
    }
    return 0;
}

static kvs_prom_label static_label(const kvs_promr_pair *p)
{
    return (kvs_prom_label){ { p->name, strlen(p->name) }, { p->value, strlen(p->value) } };
}

int kvs_promr_relabel(kvs_promr_labels *l, const kvs_promr_target *tc, bool honor, const kvs_prom_sample *s,
                      kvs_prom_sample *out)
{
    size_t clash_bytes = 0, nclash = 0;
    for (size_t i = 0; i < s->nlabels; i++)
        if (is_target_label(tc, s->labels[i].name)) {
            clash_bytes += s->labels[i].name.n + 9;
            nclash++;
        }
    if (!nclash && !tc->nlabels)
        return 0;
    if (reserve_labels(l, s->nlabels + tc->nlabels))
        return KVS_E_NOMEM;
    if (clash_bytes > l->names_cap) {
        char *n = realloc(l->names, clash_bytes * 2);
        if (!n)
            return KVS_E_NOMEM;
        l->names = n;
        l->names_cap = clash_bytes * 2;
    }
    size_t n = 0, used = 0;
    for (size_t i = 0; i < s->nlabels; i++) {
        const kvs_prom_label *e = &s->labels[i];
        if (honor || !is_target_label(tc, e->name)) {
            l->lab[n++] = *e;
            continue;
        }
        char *nm = l->names + used;
        memcpy(nm, "exported_", 9);
        memcpy(nm + 9, e->name.p, e->name.n);
        used += 9 + e->name.n;
        l->lab[n++] = (kvs_prom_label){ { nm, 9 + e->name.n }, e->value };
    }
    for (size_t i = 0; i < tc->nlabels; i++) {
        int exposed = 0;
        for (size_t k = 0; honor && k < s->nlabels; k++)
            exposed |= str_is(s->labels[k].name, tc->labels[i].name);
        if (!exposed)
            l->lab[n++] = static_label(&tc->labels[i]);
    }
    out->labels = l->lab;
    out->nlabels = n;
    return 0;
}

int kvs_promr_target_labels(kvs_promr_labels *l, const kvs_promr_target *tc, kvs_prom_sample *out)
{
    if (reserve_labels(l, tc->nlabels))
        return KVS_E_NOMEM;
    for (size_t i = 0; i < tc->nlabels; i++)
        l->lab[i] = static_label(&tc->labels[i]);
    out->labels = l->lab;
    out->nlabels = tc->nlabels;
    return 0;
}

void kvs_promr_labels_free(kvs_promr_labels *l)
{
    free(l->lab);
    free(l->names);
    *l = (kvs_promr_labels){ 0 };
}
