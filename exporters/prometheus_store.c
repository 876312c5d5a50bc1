/* The kvs_promx store (exporters/prometheus_text.h): chained hash maps of
 * families (by Prometheus name) and series (by family and label text),
 * their creation and removal, expiration, and the store's life. The maps
 * grow by doubling; a family lives while it holds series (or a caller
 * holds it while adding points). */
#include "exporters/prometheus_text_int.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(uint64_t h, const char *s)
{
    if (!h)
        h = UINT64_C(1469598103934665603);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xFF51AFD7ED558CCD);
    x ^= x >> 33;
    return x;
}

kvs_promx_store *kvs_promx_new(const kvs_promx_options *o)
{
    kvs_promx_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->r2t = o->resource_to_telemetry;
    s->send_ts = o->send_timestamps;
    s->suffixes = o->add_metric_suffixes;
    s->expiration_ns = o->expiration_ns;
    s->fcap = 64;
    s->scap = 1024;
    s->fb = calloc(s->fcap, sizeof *s->fb);
    s->sb = calloc(s->scap, sizeof *s->sb);
    s->res_a = kvs_arena_new();
    s->pt_a = kvs_arena_new();
    s->ns = o->ns && *o->ns ? strdup(o->ns) : NULL;
    s->consts = calloc(o->nconst_labels + 1, sizeof *s->consts);
    s->const_strs = calloc(o->nconst_labels * 3 + 1, sizeof *s->const_strs);
    if (!s->fb || !s->sb || !s->res_a || !s->pt_a || (o->ns && *o->ns && !s->ns) || !s->consts || !s->const_strs) {
        kvs_promx_free(s);
        return NULL;
    }
    for (size_t i = 0; i < o->nconst_labels; i++) {
        kvs_buf n = { 0 };
        kvs_promx_label_name(o->const_labels[i].name, &n);
        kvs_buf_putc(&n, 0);
        char *key = strdup(o->const_labels[i].name), *val = strdup(o->const_labels[i].value);
        s->const_strs[3 * i] = n.data;
        s->const_strs[3 * i + 1] = key;
        s->const_strs[3 * i + 2] = val;
        if (n.oom || !key || !val) {
            s->nconsts = i + 1;
            kvs_promx_free(s);
            return NULL;
        }
        s->consts[i] = (kvs_promx_lab){ n.data, key, val, KVS_PROMX_P_CONST };
    }
    s->nconsts = o->nconst_labels;
    return s;
}

static void series_free(kvs_promx_series *sr)
{
    free(sr->labels);
    free(sr->bounds);
    free(sr->counts);
    free(sr->qvals);
    free(sr);
}

void kvs_promx_free(kvs_promx_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->sb && i < s->scap; i++)
        for (kvs_promx_series *sr = s->sb[i], *nx; sr; sr = nx) {
            nx = sr->next;
            series_free(sr);
        }
    for (size_t i = 0; s->fb && i < s->fcap; i++)
        for (kvs_promx_family *f = s->fb[i], *nx; f; f = nx) {
            nx = f->next;
            free(f->name);
            free(f->help);
            free(f);
        }
    for (size_t i = 0; s->const_strs && i < s->nconsts * 3; i++)
        free(s->const_strs[i]);
    free(s->const_strs);
    free(s->consts);
    free(s->fb);
    free(s->sb);
    free(s->ns);
    free(s->rlabs);
    free(s->labs);
    kvs_arena_free(s->res_a);
    kvs_arena_free(s->pt_a);
    kvs_buf_free(&s->name);
    kvs_buf_free(&s->text);
    kvs_buf_free(&s->tmp);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* -- families -- */

static kvs_promx_family *family_find(kvs_promx_store *s, const char *name, uint64_t h)
{
    for (kvs_promx_family *f = s->fb[h & (s->fcap - 1)]; f; f = f->next)
        if (f->hash == h && strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static void grow_families(kvs_promx_store *s)
{
    size_t cap = s->fcap * 2;
    kvs_promx_family **nb = calloc(cap, sizeof *nb);
    if (!nb)
        return;   /* longer chains, still correct */
    for (size_t i = 0; i < s->fcap; i++)
        for (kvs_promx_family *f = s->fb[i], *nx; f; f = nx) {
            nx = f->next;
            f->next = nb[f->hash & (cap - 1)];
            nb[f->hash & (cap - 1)] = f;
        }
    free(s->fb);
    s->fb = nb;
    s->fcap = cap;
}

kvs_promx_family *kvs_promx_family_get(kvs_promx_store *s, const char *name, const char *help, kvs_promx_type type,
                                       bool *conflict)
{
    *conflict = false;
    uint64_t h = mix(hash_str(0, name));
    kvs_promx_family *f = family_find(s, name, h);
    if (f && f->type != type) {
        if (f->nseries) {
            *conflict = true;
            return NULL;
        }
        f->type = type;
    }
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f || !(f->name = strdup(name))) {
            free(f);
            return NULL;
        }
        f->hash = h;
        f->type = type;
        if (s->fn + 1 > s->fcap)
            grow_families(s);
        f->next = s->fb[h & (s->fcap - 1)];
        s->fb[h & (s->fcap - 1)] = f;
        s->fn++;
    }
    if (!help || !*help)
        help = name;
    if (!f->help || strcmp(f->help, help) != 0) {
        char *nh = strdup(help);
        if (nh) {
            free(f->help);
            f->help = nh;
        }
    }
    return f;
}

void kvs_promx_family_release(kvs_promx_store *s, kvs_promx_family *f)
{
    if (--f->nseries)
        return;
    kvs_promx_family **pp = &s->fb[f->hash & (s->fcap - 1)];
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    s->fn--;
    free(f->name);
    free(f->help);
    free(f);
}

/* -- series -- */

static void grow_series(kvs_promx_store *s)
{
    size_t cap = s->scap * 2;
    kvs_promx_series **nb = calloc(cap, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < s->scap; i++)
        for (kvs_promx_series *sr = s->sb[i], *nx; sr; sr = nx) {
            nx = sr->next;
            sr->next = nb[sr->hash & (cap - 1)];
            nb[sr->hash & (cap - 1)] = sr;
        }
    free(s->sb);
    s->sb = nb;
    s->scap = cap;
}

uint64_t kvs_promx_series_hash(const kvs_promx_family *f, const char *labels)
{
    return mix(hash_str(f->hash, labels));
}

kvs_promx_series *kvs_promx_series_find(kvs_promx_store *s, kvs_promx_family *f, const char *labels, uint64_t h,
                                        kvs_promx_series ***at)
{
    kvs_promx_series **pp = &s->sb[h & (s->scap - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->fam == f && strcmp((*pp)->labels, labels) == 0) {
            if (at)
                *at = pp;
            return *pp;
        }
    return NULL;
}

kvs_promx_series *kvs_promx_series_get(kvs_promx_store *s, kvs_promx_family *f, const char *labels, bool *created)
{
    uint64_t h = kvs_promx_series_hash(f, labels);
    kvs_promx_series *sr = kvs_promx_series_find(s, f, labels, h, NULL);
    *created = false;
    if (sr)
        return sr;
    sr = calloc(1, sizeof *sr);
    if (!sr || !(sr->labels = strdup(labels))) {
        free(sr);
        return NULL;
    }
    sr->hash = h;
    sr->fam = f;
    if (s->sn + 1 > s->scap)
        grow_series(s);
    sr->next = s->sb[h & (s->scap - 1)];
    s->sb[h & (s->scap - 1)] = sr;
    s->sn++;
    f->nseries++;
    *created = true;
    return sr;
}

void kvs_promx_series_remove(kvs_promx_store *s, kvs_promx_series **at)
{
    kvs_promx_series *sr = *at;
    *at = sr->next;
    s->sn--;
    kvs_promx_family_release(s, sr->fam);
    series_free(sr);
}

void kvs_promx_sweep(kvs_promx_store *s, uint64_t now)
{
    s->last_sweep = now;
    if (!s->expiration_ns)
        return;
    for (size_t i = 0; i < s->scap; i++) {
        kvs_promx_series **pp = &s->sb[i];
        while (*pp) {
            if (now > (*pp)->updated_ns && now - (*pp)->updated_ns > s->expiration_ns)
                kvs_promx_series_remove(s, pp);
            else
                pp = &(*pp)->next;
        }
    }
}

size_t kvs_promx_series_count(kvs_promx_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->sn;
    pthread_mutex_unlock(&s->lock);
    return n;
}
