/* The attribute side of lmcache/request.h: writing a request record (and a
 * child span's parsed values, and an engine span's LMCache outcome) as
 * `<prefix>*` attributes in an arena, and reading them back. */
#include "lmcache/request.h"
#include "lmcache/request_keys.h"

#include <string.h>

#define VC(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

void kvs_lmc_attrs_init(kvs_lmc_attrs *b, kvs_arena *a, const char *prefix)
{
    memset(b, 0, sizeof *b);
    b->arena = a;
    b->prefix = prefix ? prefix : KVS_LMC_DEFAULT_PREFIX;
    b->plen = strlen(b->prefix);
}

void kvs_lmc_attrs_start(kvs_lmc_attrs *b, kvs_kv *const *attrs, size_t n, size_t extra)
{
    b->cap = n + (extra ? extra : 16);
    b->v = kvs_arena_alloc(b->arena, b->cap * sizeof *b->v);
    b->n = 0;
    if (!b->v) {
        b->oom = 1;
        b->cap = 0;
        return;
    }
    if (n)
        memcpy(b->v, attrs, n * sizeof *b->v);
    b->n = n;
}

static const char *cached_key(kvs_lmc_attrs *b, size_t slot, const char *name)
{
    if (b->names[slot])
        return b->names[slot];
    size_t l = strlen(name);
    char *k = kvs_arena_alloc(b->arena, b->plen + l + 1);
    if (!k) {
        b->oom = 1;
        return NULL;
    }
    memcpy(k, b->prefix, b->plen);
    memcpy(k + b->plen, name, l + 1);
    return b->names[slot] = k;
}

const char *kvs_lmc_attrs_key(kvs_lmc_attrs *b, kvs_lmc_field f)
{
    return cached_key(b, (size_t)f, kvs_lmc_fields[f].name);
}

/* An attribute and its value, allocated together. */
typedef struct kvpair {
    kvs_kv kv;
    kvs_any any;
} kvpair;

/* Allocates n attributes at once for the adds that follow. */
static void reserve(kvs_lmc_attrs *b, size_t n)
{
    if (b->oom || n <= b->pool_left)
        return;
    kvpair *p = kvs_arena_alloc(b->arena, n * sizeof *p);
    if (p)
        b->pool = p, b->pool_left = n;
}

static kvs_any *add(kvs_lmc_attrs *b, const char *key)
{
    if (!key || b->oom)
        return NULL;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        kvs_kv **g = kvs_arena_grow(b->arena, b->v, b->cap * sizeof *g, cap * sizeof *g);
        if (!g) {
            b->oom = 1;
            return NULL;
        }
        b->v = g;
        b->cap = cap;
    }
    kvpair *p;
    if (b->pool_left) {
        p = b->pool;
        b->pool = p + 1;
        b->pool_left--;
    } else if (!(p = kvs_arena_alloc(b->arena, sizeof *p))) {
        b->oom = 1;
        return NULL;
    }
    static const kvs_kv kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    static const kvs_any any_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    kvs_kv *kv = &p->kv;
    kvs_any *v = &p->any;
    *kv = kv_init;
    *v = any_init;
    kv->key = (char *)key;
    kv->value = v;
    b->v[b->n++] = kv;
    return v;
}

void kvs_lmc_attrs_add_int(kvs_lmc_attrs *b, const char *key, int64_t x)
{
    kvs_any *v = add(b, key);
    if (v)
        v->value_case = VC(INT_VALUE), v->int_value = x;
}

void kvs_lmc_attrs_add_double(kvs_lmc_attrs *b, const char *key, double x)
{
    kvs_any *v = add(b, key);
    if (v)
        v->value_case = VC(DOUBLE_VALUE), v->double_value = x;
}

void kvs_lmc_attrs_add_bool(kvs_lmc_attrs *b, const char *key, int x)
{
    kvs_any *v = add(b, key);
    if (v)
        v->value_case = VC(BOOL_VALUE), v->bool_value = x != 0;
}

void kvs_lmc_attrs_add_str(kvs_lmc_attrs *b, const char *key, const char *x)
{
    char *c = kvs_arena_strdup(b->arena, x ? x : "");
    if (!c) {
        b->oom = 1;
        return;
    }
    kvs_any *v = add(b, key);
    if (v)
        v->value_case = VC(STRING_VALUE), v->string_value = c;
}

static void add_field(kvs_lmc_attrs *b, kvs_lmc_field f, kvs_lmc_value v)
{
    const char *key = kvs_lmc_attrs_key(b, f);
    switch (kvs_lmc_fields[f].type) {
    case KVS_LMC_INT: kvs_lmc_attrs_add_int(b, key, v.i); break;
    case KVS_LMC_DOUBLE: kvs_lmc_attrs_add_double(b, key, v.d); break;
    case KVS_LMC_BOOL: kvs_lmc_attrs_add_bool(b, key, (int)v.i); break;
    case KVS_LMC_STR: kvs_lmc_attrs_add_str(b, key, v.s); break;
    }
}

/* Joins up to 64 names with commas into an arena string. */
static const char *join(kvs_lmc_attrs *b, const char *const *parts, const char *const *parts2, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + (parts2 ? strlen(parts2[i]) + 1 : 0) + 1;
    char *s = kvs_arena_alloc(b->arena, len), *p = s;
    if (!s) {
        b->oom = 1;
        return "";
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        size_t l = strlen(parts[i]);
        memcpy(p, parts[i], l);
        p += l;
        if (parts2) {
            *p++ = '.';
            l = strlen(parts2[i]);
            memcpy(p, parts2[i], l);
            p += l;
        }
    }
    *p = 0;
    return s;
}

void kvs_lmc_annotate_root(const kvs_lmc_request *r, kvs_lmc_attrs *b)
{
    size_t n = 0;
    for (int f = 0; f < KVS_LMC_NFIELDS; f++)
        n += r->has[f] != 0;
    reserve(b, n);
    for (int f = 0; f < KVS_LMC_NFIELDS; f++) {
        if (!r->has[f])
            continue;
        if (f == KVS_LMC_F_PARSE_ERRORS) {
            const char *roles[KVS_LMC_MAX_ERRORS], *keys[KVS_LMC_MAX_ERRORS];
            size_t ne = r->nerr < KVS_LMC_MAX_ERRORS ? r->nerr : KVS_LMC_MAX_ERRORS;
            for (size_t i = 0; i < ne; i++)
                roles[i] = kvs_lmc_role_name(r->err[i].role), keys[i] = r->err[i].key;
            kvs_lmc_attrs_add_str(b, kvs_lmc_attrs_key(b, KVS_LMC_F_PARSE_ERRORS), join(b, roles, keys, ne));
        } else if (f == KVS_LMC_F_CB_FAILED_PHASES) {
            const char *names[KVS_LMC_NROLES];
            size_t nn = 0;
            for (int role = 0; role < KVS_LMC_NROLES; role++)
                if (r->failed_phases & (1u << role))
                    names[nn++] = kvs_lmc_role_name((kvs_lmc_role)role);
            kvs_lmc_attrs_add_str(b, kvs_lmc_attrs_key(b, KVS_LMC_F_CB_FAILED_PHASES), join(b, names, NULL, nn));
        } else {
            add_field(b, (kvs_lmc_field)f, r->v[f]);
        }
    }
}

void kvs_lmc_annotate_engine(const kvs_lmc_outcome *o, int same_trace, kvs_lmc_attrs *b)
{
    if (!o || !o->present)
        return;
    reserve(b, o->n + 1u);
    for (unsigned i = 0; i < o->n; i++) {
        kvs_lmc_value v = o->v[i];
        if (o->field[i] == KVS_LMC_F_EARLY_EXIT)
            v.s = o->early_exit;
        else if (o->field[i] == KVS_LMC_F_CACHE_SALT)
            v.s = o->cache_salt;
        add_field(b, (kvs_lmc_field)o->field[i], v);
    }
    kvs_lmc_attrs_add_str(b, kvs_lmc_attrs_key(b, KVS_LMC_F_JOIN), same_trace ? "same_trace" : "cross_trace");
}

static void annotate_child(kvs_lmc_role role, const kvs_span *s, const kvs_lmc_pspan *p, kvs_lmc_attrs *b)
{
    uint64_t typed = p->has & p->was_str;
    reserve(b, (size_t)__builtin_popcountll(typed) + 3u);
    for (int k = 0; typed && k < K_NKEYS; k++) {
        if (!((typed >> k) & 1))
            continue;
        const char *key = cached_key(b, KVS_LMC_NFIELDS + (size_t)k, kvs_lmc_keys[k].name);
        switch (kvs_lmc_keys[k].type) {
        case KT_I: kvs_lmc_attrs_add_int(b, key, p->v[k].i); break;
        case KT_D: kvs_lmc_attrs_add_double(b, key, p->v[k].d); break;
        case KT_B: kvs_lmc_attrs_add_bool(b, key, (int)p->v[k].i); break;
        default: break;
        }
    }
    uint64_t ns = s->end_time_unix_nano > s->start_time_unix_nano ? s->end_time_unix_nano - s->start_time_unix_nano
                                                                    : 0;
    kvs_lmc_attrs_add_double(b, kvs_lmc_attrs_key(b, KVS_LMC_F_DURATION_MS), kvs_lmc_ms(ns));
    if ((role == KVS_LMC_RETRIEVE || role == KVS_LMC_STORE) && ((p->has >> K_TOTAL_BYTES) & 1) && ns)
        kvs_lmc_attrs_add_double(b, kvs_lmc_attrs_key(b, KVS_LMC_F_GBPS), kvs_lmc_gbps(p->v[K_TOTAL_BYTES].i, ns));
    if ((role == KVS_LMC_KERNEL || role == KVS_LMC_STAGING) && ((p->has >> K_NBYTES) & 1) &&
        ((p->has >> K_ELAPSED_SECONDS) & 1) && p->v[K_ELAPSED_SECONDS].d > 0)
        kvs_lmc_attrs_add_double(b, kvs_lmc_attrs_key(b, KVS_LMC_F_GBPS),
                                 (double)p->v[K_NBYTES].i / 1e9 / p->v[K_ELAPSED_SECONDS].d);
    if (p->nerr) {
        const char *keys[KVS_LMC_MAX_ERRORS];
        for (unsigned i = 0; i < p->nerr; i++)
            keys[i] = kvs_lmc_keys[p->err[i]].name;
        kvs_lmc_attrs_add_str(b, kvs_lmc_attrs_key(b, KVS_LMC_F_PARSE_ERRORS), join(b, keys, NULL, p->nerr));
    }
}

unsigned kvs_lmc_annotate_child(kvs_lmc_role role, const kvs_span *s, kvs_lmc_attrs *b)
{
    return kvs_lmc_request_add_child(NULL, role, s, b);
}

unsigned kvs_lmc_request_add_child(kvs_lmc_request *r, kvs_lmc_role role, const kvs_span *s, kvs_lmc_attrs *b)
{
    if (!kvs_lmc_is_lmcache(role))
        return 0;
    kvs_lmc_pspan p;
    kvs_lmc_parse_span(role, s, &p);
    if (r)
        kvs_lmc_request_add_parsed(r, role, s, &p);
    if (b)
        annotate_child(role, s, &p, b);
    return p.nerr;
}

int kvs_lmc_request_read(const kvs_span *s, const char *prefix, kvs_lmc_request *r)
{
    kvs_lmc_request_init(r);
    if (!prefix)
        prefix = KVS_LMC_DEFAULT_PREFIX;
    size_t plen = strlen(prefix);
    int found = 0;
    for (size_t a = 0; a < s->n_attributes; a++) {
        const kvs_kv *kv = s->attributes[a];
        if (!kv || !kv->key || !kv->value || strncmp(kv->key, prefix, plen) != 0)
            continue;
        const char *name = kv->key + plen;
        for (int f = 0; f < KVS_LMC_NFIELDS; f++) {
            const char *fn = kvs_lmc_fields[f].name;
            if (fn[0] != name[0] || !kvs_lmc_streq(fn, name))
                continue;
            if (r->has[f])
                break; /* a repeated key: the first one counts */
            int ok = 0, x = 0;
            kvs_lmc_value val = { 0 };
            switch (kvs_lmc_fields[f].type) {
            case KVS_LMC_INT: ok = kvs_lmc_parse_i64(kv->value, &val.i) > 0; break;
            case KVS_LMC_DOUBLE: ok = kvs_lmc_parse_f64(kv->value, &val.d) > 0; break;
            case KVS_LMC_BOOL:
                ok = kvs_lmc_parse_bool(kv->value, &x) > 0;
                val.i = x;
                break;
            case KVS_LMC_STR:
                ok = kv->value->value_case == VC(STRING_VALUE);
                if (ok)
                    val.s = kv->value->string_value;
                break;
            }
            if (ok) {
                r->v[f] = val;
                r->has[f] = 2;
                found++;
            }
            break;
        }
    }
    return found;
}
