/* Prometheus samples -> OTLP metrics (see prom_otlp.h for the mapping):
 * grouping samples into metrics and points. prom_otlp_build.c turns the
 * groups into the request.
 * Samples are grouped into points by (metric, label set) with hash tables,
 * so the order of lines within a family does not matter (exporters put
 * `_sum` before or after the buckets, `_created` before or after values).
 * Everything that ends up in the request is allocated in the arena; the
 * grouping tables are the converter's own and go with kvs_prom_conv_free. */
#include "formats/prom_otlp.h"
#include "formats/prom_otlp_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef KVS_VERSION
#define KVS_VERSION "0"
#endif

/* ---- hashing (not cryptographic; 128 bits keep collisions negligible) ---- */

static kvs_prom_series_key hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t a = seed ^ K1 ^ n, b = rotl(seed, 17) ^ K2 ^ (n * K3);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a = rotl(a ^ (w * K2), 31) * K1;
        b = rotl(b ^ (w * K3), 27) * K2;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    a = rotl(a ^ (w * K2), 31) * K1;
    b = rotl(b ^ (w * K3), 27) * K2;
    return (kvs_prom_series_key){mix64(a ^ rotl(b, 32)), mix64(b + a * K3)};
}

/* Order-independent hash of a label pair set. */
static void key_add_pair(kvs_prom_series_key *k, kvs_prom_str name, kvs_prom_str val)
{
    kvs_prom_series_key hn = hash_bytes(name.p, name.n, 0x6C61626C);
    kvs_prom_series_key hv = hash_bytes(val.p, val.n, hn.lo);
    k->lo += mix64(hn.lo ^ rotl(hv.lo, 23));
    k->hi += mix64(hn.hi + hv.hi * K1);
}

/* ---- growth helpers ---- */

void *kvs_promconv__grow(void *p, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * el);
    if (!q)
        return p;
    *cap = n;
    return q;
}

static int table_grow(struct table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct slot *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->s[i].idx1)
            continue;
        size_t j = t->s[i].h & (cap - 1);
        while (s[j].idx1)
            j = (j + 1) & (cap - 1);
        s[j] = t->s[i];
    }
    free(t->s);
    t->s = s;
    t->cap = cap;
    return 0;
}

/* ---- arena builders ---- */

struct kv_any {
    kvs_kv kv;
    kvs_any any;
};

static kvs_kv *mk_kv(kvs_arena *a, const char *k, size_t kn, const char *v, size_t vn)
{
    struct kv_any *x = kvs_arena_alloc(a, sizeof *x);
    if (!x)
        return NULL;
    opentelemetry__proto__common__v1__key_value__init(&x->kv);
    opentelemetry__proto__common__v1__any_value__init(&x->any);
    x->kv.key = kvs_arena_strndup(a, k, kn);
    x->any.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    x->any.string_value = kvs_arena_strndup(a, v, vn);
    if (!x->kv.key || !x->any.string_value)
        return NULL;
    x->kv.value = &x->any;
    return &x->kv;
}

static const char *str_or_null(kvs_arena *a, kvs_prom_str s)
{
    return s.p ? kvs_arena_strndup(a, s.p, s.n) : NULL;
}

/* Labels the converter lifts out of point attributes. */
enum special { SP_NONE, SP_LE, SP_QUANTILE, SP_JOB, SP_INSTANCE, SP_SCOPE_NAME, SP_SCOPE_VERSION };

static enum special special_of(kvs_prom_str n)
{
    switch (n.n) {
    case 2: return memcmp(n.p, "le", 2) == 0 ? SP_LE : SP_NONE;
    case 3: return memcmp(n.p, "job", 3) == 0 ? SP_JOB : SP_NONE;
    case 8:
        if (memcmp(n.p, "quantile", 8) == 0) return SP_QUANTILE;
        return memcmp(n.p, "instance", 8) == 0 ? SP_INSTANCE : SP_NONE;
    case 15: return memcmp(n.p, "otel_scope_name", 15) == 0 ? SP_SCOPE_NAME : SP_NONE;
    case 18: return memcmp(n.p, "otel_scope_version", 18) == 0 ? SP_SCOPE_VERSION : SP_NONE;
    default: return SP_NONE;
    }
}

/* OTel resource keys as the Prometheus exporters sanitize them. The
 * service's identity comes first (SEMCONV_IDENTITY below). */
static const char *const semconv[][2] = {
    {"service_name", "service.name"},
    {"service_instance_id", "service.instance.id"},
    {"service_namespace", "service.namespace"},
    {"service_version", "service.version"},
    {"telemetry_sdk_language", "telemetry.sdk.language"},
    {"telemetry_sdk_name", "telemetry.sdk.name"},
    {"telemetry_sdk_version", "telemetry.sdk.version"},
    {"telemetry_distro_name", "telemetry.distro.name"},
    {"telemetry_distro_version", "telemetry.distro.version"},
    {"host_name", "host.name"},
    {"host_id", "host.id"},
    {"host_arch", "host.arch"},
    {"os_type", "os.type"},
    {"process_pid", "process.pid"},
    {"process_executable_name", "process.executable.name"},
    {"process_runtime_name", "process.runtime.name"},
    {"process_runtime_version", "process.runtime.version"},
    {"container_id", "container.id"},
    {"k8s_pod_name", "k8s.pod.name"},
    {"k8s_namespace_name", "k8s.namespace.name"},
    {"k8s_node_name", "k8s.node.name"},
    {"k8s_container_name", "k8s.container.name"},
    {"deployment_environment", "deployment.environment"},
    {"deployment_environment_name", "deployment.environment.name"},
    {"cloud_provider", "cloud.provider"},
    {"cloud_region", "cloud.region"},
};

/* The first SEMCONV_IDENTITY entries name the service: a live scrape
 * (identity_from_scrape) takes that from its job/instance instead. */
#define SEMCONV_IDENTITY 3

static void semconv_key(kvs_prom_str *k, bool identity_from_scrape)
{
    for (size_t i = identity_from_scrape ? SEMCONV_IDENTITY : 0; i < sizeof semconv / sizeof *semconv; i++)
        if (strlen(semconv[i][0]) == k->n && memcmp(semconv[i][0], k->p, k->n) == 0) {
            *k = (kvs_prom_str){semconv[i][1], strlen(semconv[i][1])};
            return;
        }
}

bool kvs_promconv__has_attr(kvs_kv **attrs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(attrs[i]->key, key) == 0)
            return true;
    return false;
}

int kvs_promconv__add_attr(kvs_arena *a, kvs_kv ***attrs, size_t *n, const char *k, size_t kn, const char *v, size_t vn)
{
    kvs_kv **na = kvs_arena_grow(a, *attrs, *n * sizeof **attrs, (*n + 1) * sizeof **attrs);
    kvs_kv *kv = mk_kv(a, k, kn, v, vn);
    if (!na || !kv)
        return KVS_E_NOMEM;
    na[(*n)++] = kv;
    *attrs = na;
    return 0;
}

int kvs_promconv__put_attr(kvs_arena *a, kvs_kv ***attrs, size_t *n, const char *k, const char *v, bool replace)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*attrs)[i]->key, k) == 0) {
            if (!replace)
                return 0;
            kvs_kv *kv = mk_kv(a, k, strlen(k), v, strlen(v));
            if (!kv)
                return KVS_E_NOMEM;
            (*attrs)[i] = kv;
            return 0;
        }
    return kvs_promconv__add_attr(a, attrs, n, k, strlen(k), v, strlen(v));
}

/* ---- resources and scopes ---- */

static bool opt_eq(const char *a, kvs_prom_str b)
{
    if (!a || !b.p)
        return !a && !b.p;
    return strlen(a) == b.n && memcmp(a, b.p, b.n) == 0;
}

static kvs_prom_str cstr(const char *s) { return (kvs_prom_str){s, s ? strlen(s) : 0}; }

static int find_res(kvs_prom_conv *c, kvs_prom_str job, kvs_prom_str inst, size_t *out)
{
    if (!job.p)
        job = cstr(c->o.job);
    if (!inst.p)
        inst = cstr(c->o.instance);
    for (size_t i = c->nres; i-- > 0;)
        if (opt_eq(c->res[i].job, job) && opt_eq(c->res[i].instance, inst)) {
            *out = i;
            return 0;
        }
    if (GROW(c->res, c->res_cap, c->nres + 1))
        return KVS_E_NOMEM;
    struct res *r = &c->res[c->nres];
    *r = (struct res){.job = str_or_null(c->a, job), .instance = str_or_null(c->a, inst)};
    kvs_prom_series_key h = hash_bytes(job.p ? job.p : "", job.n, job.p ? 1 : 0);
    r->hash = mix64(h.lo ^ hash_bytes(inst.p ? inst.p : "", inst.n, inst.p ? 3 : 2).lo);
    *out = c->nres++;
    return 0;
}

static int find_scope(kvs_prom_conv *c, size_t res, kvs_prom_str name, kvs_prom_str ver, size_t *out)
{
    if (!name.p) {
        name = cstr(c->o.scope_name ? c->o.scope_name : "kvscope/prometheus");
        if (!ver.p)
            ver = cstr(c->o.scope_version ? c->o.scope_version : KVS_VERSION);
    }
    if (!ver.p)
        ver = cstr("");
    for (size_t i = c->nscopes; i-- > 0;)
        if (c->scopes[i].res == res && opt_eq(c->scopes[i].name, name) && opt_eq(c->scopes[i].version, ver)) {
            *out = i;
            return 0;
        }
    if (GROW(c->scopes, c->scopes_cap, c->nscopes + 1))
        return KVS_E_NOMEM;
    c->scopes[c->nscopes] = (struct scope){.res = res, .name = str_or_null(c->a, name),
                                           .version = str_or_null(c->a, ver)};
    *out = c->nscopes++;
    return 0;
}

/* ---- metrics ---- */

static enum kind kind_of(kvs_prom_type t)
{
    switch (t) {
    case KVS_PROM_COUNTER: return K_SUM;
    case KVS_PROM_HISTOGRAM: case KVS_PROM_GAUGEHISTOGRAM: return K_HIST;
    case KVS_PROM_SUMMARY: return K_SUMMARY;
    default: return K_GAUGE;
    }
}

static int find_mb(kvs_prom_conv *c, size_t scope, const char *name, size_t n, enum kind kind, bool create,
                   const kvs_prom_family *f, uint32_t *out)
{
    uint64_t h = hash_bytes(name, n, scope * 4 + kind).lo;
    if (c->mbt.cap) {
        for (size_t j = h & (c->mbt.cap - 1); c->mbt.s[j].idx1; j = (j + 1) & (c->mbt.cap - 1)) {
            struct mb *m = &c->mbs[c->mbt.s[j].idx1 - 1];
            if (c->mbt.s[j].h == h && m->scope == scope && m->kind == kind && strlen(m->m->name) == n &&
                memcmp(m->m->name, name, n) == 0) {
                *out = c->mbt.s[j].idx1 - 1;
                return 0;
            }
        }
    }
    if (!create)
        return 1;
    if ((c->mbt.n + 1) * 2 > c->mbt.cap && table_grow(&c->mbt))
        return KVS_E_NOMEM;
    if (GROW(c->mbs, c->mbs_cap, c->nmbs + 1))
        return KVS_E_NOMEM;
    kvs_metric *m = kvs_arena_alloc(c->a, sizeof *m);
    if (!m)
        return KVS_E_NOMEM;
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = kvs_arena_strndup(c->a, name, n);
    if (f->help.n)
        m->description = kvs_arena_strndup(c->a, f->help.p, f->help.n);
    if (f->unit.n)
        m->unit = kvs_arena_strndup(c->a, f->unit.p, f->unit.n);
    const char *tn = kvs_prom_type_name(f->type);
    if (!m->name || !m->description || !m->unit ||
        kvs_promconv__add_attr(c->a, &m->metadata, &m->n_metadata, "prometheus.type", 15, tn, strlen(tn)))
        return KVS_E_NOMEM;
    c->mbs[c->nmbs] = (struct mb){.scope = scope, .m = m, .kind = kind, .ptype = f->type, .hash = h};
    size_t j = h & (c->mbt.cap - 1);
    while (c->mbt.s[j].idx1)
        j = (j + 1) & (c->mbt.cap - 1);
    c->mbt.s[j] = (struct slot){h, (uint32_t)(c->nmbs + 1)};
    c->mbt.n++;
    *out = (uint32_t)c->nmbs++;
    return 0;
}

/* The OTLP name: counters lose `_total`, info samples keep `_info`. */
static kvs_prom_str otlp_name(const kvs_prom_family *f, char *buf, size_t cap, bool *heap)
{
    kvs_prom_str n = f->name;
    *heap = false;
    if (f->type == KVS_PROM_COUNTER && n.n > 6 && memcmp(n.p + n.n - 6, "_total", 6) == 0)
        n.n -= 6;
    else if (f->type == KVS_PROM_INFO && !(n.n >= 5 && memcmp(n.p + n.n - 5, "_info", 5) == 0)) {
        if (n.n + 5 < cap) {
            memcpy(buf, n.p, n.n);
            memcpy(buf + n.n, "_info", 5);
            n = (kvs_prom_str){buf, n.n + 5};
        } else {
            *heap = true;
        }
    }
    return n;
}

/* ---- points ---- */

static int find_pt(kvs_prom_conv *c, uint32_t mb, kvs_prom_series_key k, const kvs_prom_sample *s, uint32_t *out)
{
    uint64_t h = k.lo ^ mix64(mb + 1);
    if (c->ptt.cap) {
        for (size_t j = h & (c->ptt.cap - 1); c->ptt.s[j].idx1; j = (j + 1) & (c->ptt.cap - 1)) {
            struct pt *p = &c->pts[c->ptt.s[j].idx1 - 1];
            if (c->ptt.s[j].h == h && p->mb == mb && p->key.hi == k.hi) {
                *out = c->ptt.s[j].idx1 - 1;
                return 0;
            }
        }
    }
    if ((c->ptt.n + 1) * 2 > c->ptt.cap && table_grow(&c->ptt))
        return KVS_E_NOMEM;
    if (GROW(c->pts, c->pts_cap, c->npts + 1))
        return KVS_E_NOMEM;
    struct pt *p = &c->pts[c->npts];
    *p = (struct pt){.mb = mb, .key = k};
    size_t na = 0;
    for (size_t i = 0; i < s->nlabels; i++)
        na += special_of(s->labels[i].name) == SP_NONE ||
              (special_of(s->labels[i].name) == SP_LE && s->suffix != KVS_PROM_SFX_BUCKET) ||
              (special_of(s->labels[i].name) == SP_QUANTILE && c->mbs[mb].kind != K_SUMMARY);
    if (na) {
        p->attrs = kvs_arena_alloc(c->a, na * sizeof *p->attrs);
        if (!p->attrs)
            return KVS_E_NOMEM;
        for (size_t i = 0; i < s->nlabels; i++) {
            const kvs_prom_label *l = &s->labels[i];
            enum special sp = special_of(l->name);
            if (sp == SP_NONE || (sp == SP_LE && s->suffix != KVS_PROM_SFX_BUCKET) ||
                (sp == SP_QUANTILE && c->mbs[mb].kind != K_SUMMARY)) {
                kvs_kv *kv = mk_kv(c->a, l->name.p, l->name.n, l->value.p, l->value.n);
                if (!kv)
                    return KVS_E_NOMEM;
                p->attrs[p->nattrs++] = kv;
            }
        }
    }
    size_t j = h & (c->ptt.cap - 1);
    while (c->ptt.s[j].idx1)
        j = (j + 1) & (c->ptt.cap - 1);
    c->ptt.s[j] = (struct slot){h, (uint32_t)(c->npts + 1)};
    c->ptt.n++;
    c->mbs[mb].npts++;
    *out = (uint32_t)c->npts++;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes `want` bytes of hex; false unless valid and not all zero. */
static bool unhex(kvs_prom_str v, uint8_t *out, size_t want)
{
    if (v.n != want * 2)
        return false;
    uint8_t any = 0;
    for (size_t i = 0; i < want; i++) {
        int h = hexval(v.p[2 * i]), l = hexval(v.p[2 * i + 1]);
        if (h < 0 || l < 0)
            return false;
        out[i] = (uint8_t)(h << 4 | l);
        any |= out[i];
    }
    return any != 0;
}

static int add_exemplar(kvs_prom_conv *c, struct pt *p, const kvs_prom_exemplar *e, uint64_t time)
{
    kvs_exemplar *x = kvs_arena_alloc(c->a, sizeof *x);
    if (!x)
        return KVS_E_NOMEM;
    opentelemetry__proto__metrics__v1__exemplar__init(x);
    x->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    x->as_double = e->value;
    x->time_unix_nano = e->has_timestamp && e->timestamp_ns > 0 ? (uint64_t)e->timestamp_ns : time;
    uint8_t id[16];
    for (size_t i = 0; i < e->nlabels; i++) {
        const kvs_prom_label *l = &e->labels[i];
        if (l->name.n == 8 && memcmp(l->name.p, "trace_id", 8) == 0 && !x->trace_id.len && unhex(l->value, id, 16)) {
            x->trace_id.data = kvs_arena_alloc(c->a, 16);
            if (!x->trace_id.data)
                return KVS_E_NOMEM;
            memcpy(x->trace_id.data, id, 16);
            x->trace_id.len = 16;
        } else if (l->name.n == 7 && memcmp(l->name.p, "span_id", 7) == 0 && !x->span_id.len &&
                   unhex(l->value, id, 8)) {
            x->span_id.data = kvs_arena_alloc(c->a, 8);
            if (!x->span_id.data)
                return KVS_E_NOMEM;
            memcpy(x->span_id.data, id, 8);
            x->span_id.len = 8;
        } else if (kvs_promconv__add_attr(c->a, &x->filtered_attributes, &x->n_filtered_attributes, l->name.p, l->name.n,
                            l->value.p, l->value.n)) {
            return KVS_E_NOMEM;
        }
    }
    kvs_exemplar **ne = kvs_arena_grow(c->a, p->ex, p->nex * sizeof *ne, (p->nex + 1) * sizeof *ne);
    if (!ne)
        return KVS_E_NOMEM;
    ne[p->nex++] = x;
    p->ex = ne;
    return 0;
}

static int push_bucket(kvs_prom_conv *c, uint32_t pt, double bound, double v)
{
    if (GROW(c->bk, c->bk_cap, c->nbk + 1))
        return KVS_E_NOMEM;
    c->bk[c->nbk] = (struct bucket){pt, (uint32_t)c->nbk, bound, v};
    c->nbk++;
    return 0;
}

/* ---- samples ---- */

static int target_info(kvs_prom_conv *c, const kvs_prom_sample *s)
{
    kvs_prom_str job = {0}, inst = {0};
    for (size_t i = 0; i < s->nlabels; i++) {
        enum special sp = special_of(s->labels[i].name);
        if (sp == SP_JOB) job = s->labels[i].value;
        if (sp == SP_INSTANCE) inst = s->labels[i].value;
    }
    size_t r;
    if (find_res(c, job, inst, &r))
        return KVS_E_NOMEM;
    struct res *R = &c->res[r];
    R->used = true;
    for (size_t i = 0; i < s->nlabels; i++) {
        enum special sp = special_of(s->labels[i].name);
        if (sp == SP_JOB || sp == SP_INSTANCE)
            continue;
        kvs_prom_str k = s->labels[i].name;
        semconv_key(&k, c->o.identity_from_scrape);
        char key[256];
        if (k.n < sizeof key) {
            memcpy(key, k.p, k.n);
            key[k.n] = 0;
            if (kvs_promconv__has_attr(R->attrs, R->nattrs, key))
                continue;
        }
        if (kvs_promconv__add_attr(c->a, &R->attrs, &R->nattrs, k.p, k.n, s->labels[i].value.p, s->labels[i].value.n))
            return KVS_E_NOMEM;
    }
    return 0;
}

static int scope_info(kvs_prom_conv *c, const kvs_prom_sample *s)
{
    kvs_prom_str job = {0}, inst = {0}, sn = {0}, sv = {0};
    for (size_t i = 0; i < s->nlabels; i++) {
        switch (special_of(s->labels[i].name)) {
        case SP_JOB: job = s->labels[i].value; break;
        case SP_INSTANCE: inst = s->labels[i].value; break;
        case SP_SCOPE_NAME: sn = s->labels[i].value; break;
        case SP_SCOPE_VERSION: sv = s->labels[i].value; break;
        default: break;
        }
    }
    size_t r, sc;
    if (find_res(c, job, inst, &r) || find_scope(c, r, sn, sv, &sc))
        return KVS_E_NOMEM;
    struct scope *S = &c->scopes[sc];
    for (size_t i = 0; i < s->nlabels; i++) {
        if (special_of(s->labels[i].name) != SP_NONE)
            continue;
        const kvs_prom_label *l = &s->labels[i];
        if (kvs_promconv__add_attr(c->a, &S->attrs, &S->nattrs, l->name.p, l->name.n, l->value.p, l->value.n))
            return KVS_E_NOMEM;
    }
    return 0;
}

static bool name_is(kvs_prom_str n, const char *lit)
{
    size_t m = strlen(lit);
    return n.n == m && memcmp(n.p, lit, m) == 0;
}

int kvs_prom_conv_sample(kvs_prom_conv *c, const kvs_prom_sample *s)
{
    if (c->err)
        return c->err;
    c->st.samples++;
    const kvs_prom_family *f = s->family;
    if (name_is(s->name, "target_info"))
        return c->err = target_info(c, s);
    if (name_is(s->name, "otel_scope_info"))
        return c->err = scope_info(c, s);

    kvs_prom_str job = {0}, inst = {0}, sn = {0}, sv = {0}, le = {0}, q = {0};
    kvs_prom_series_key k = {0, 0};
    for (size_t i = 0; i < s->nlabels; i++) {
        const kvs_prom_label *l = &s->labels[i];
        switch (special_of(l->name)) {
        case SP_JOB: job = l->value; continue;
        case SP_INSTANCE: inst = l->value; continue;
        case SP_SCOPE_NAME: sn = l->value; continue;
        case SP_SCOPE_VERSION: sv = l->value; continue;
        case SP_LE:
            if (s->suffix == KVS_PROM_SFX_BUCKET) {
                le = l->value;
                continue;
            }
            break;
        case SP_QUANTILE:
            if (kind_of(f->type) == K_SUMMARY) {
                q = l->value;
                continue;
            }
            break;
        default:
            break;
        }
        key_add_pair(&k, l->name, l->value);
    }
    size_t res, scope;
    if (find_res(c, job, inst, &res) || find_scope(c, res, sn, sv, &scope))
        return c->err = KVS_E_NOMEM;
    c->res[res].used = true;

    enum kind kind = kind_of(f->type);
    uint32_t mb;
    int r;
    if (s->created && kind == K_GAUGE) {
        /* a `_created` that did not come with its family: find the metric by
         * its base name among the cumulative ones seen so far */
        size_t bn = s->name.n - 8;
        r = 1;
        for (enum kind kk = K_SUM; r == 1 && kk <= K_SUMMARY; kk++)
            r = find_mb(c, scope, s->name.p, bn, kk, false, f, &mb);
        if (r == 1) {
            c->st.orphan_created++;
            return 0;
        }
        if (r)
            return c->err = r;
    } else if (c->last_valid && c->last_line == f->line && c->last_type == f->type && c->last_scope == scope) {
        mb = c->last_mb;
    } else {
        char buf[512];
        bool heap;
        kvs_prom_str n = otlp_name(f, buf, sizeof buf, &heap);
        char *hn = NULL;
        if (heap) {
            hn = malloc(n.n + 6);
            if (!hn)
                return c->err = KVS_E_NOMEM;
            memcpy(hn, n.p, n.n);
            memcpy(hn + n.n, "_info", 5);
            n = (kvs_prom_str){hn, n.n + 5};
        }
        r = find_mb(c, scope, n.p, n.n, kind, true, f, &mb);
        free(hn);
        if (r)
            return c->err = r;
        c->last_valid = true;
        c->last_line = f->line;
        c->last_type = f->type;
        c->last_scope = scope;
        c->last_mb = mb;
    }
    uint32_t pi;
    if ((r = find_pt(c, mb, k, s, &pi)))
        return c->err = r;
    struct pt *p = &c->pts[pi];
    uint64_t t = s->has_timestamp ? (s->timestamp_ns > 0 ? (uint64_t)s->timestamp_ns : 0) : c->o.scrape_time_ns;
    if (s->suffix != KVS_PROM_SFX_CREATED && t > p->time)
        p->time = t;
    if (s->suffix == KVS_PROM_SFX_CREATED || s->created) {
        p->created = s->value;
        p->has_created = true;
        return 0;
    }
    kind = c->mbs[mb].kind;
    switch (kind) {
    case K_GAUGE: case K_SUM:
        if (p->has_value)
            c->st.duplicates++;
        p->value = s->value;
        p->has_value = true;
        break;
    case K_HIST:
        if (s->suffix == KVS_PROM_SFX_BUCKET) {
            double b;
            if (!le.p || kvs_prom_parse_float(le.p, le.n, &b) || isnan(b) || b == -INFINITY) {
                c->st.bad_le++;
                return 0;
            }
            if ((r = push_bucket(c, pi, b, s->value)))
                return c->err = r;
            p->has_value = true;
        } else if (s->suffix == KVS_PROM_SFX_COUNT || s->suffix == KVS_PROM_SFX_GCOUNT) {
            p->count = s->value;
            p->has_count = p->has_value = true;
        } else if (s->suffix == KVS_PROM_SFX_SUM || s->suffix == KVS_PROM_SFX_GSUM) {
            p->sum = s->value;
            p->has_sum = p->has_value = true;
        }
        break;
    case K_SUMMARY:
        if (s->suffix == KVS_PROM_SFX_NONE) {
            double b;
            if (!q.p || kvs_prom_parse_float(q.p, q.n, &b) || isnan(b) || b < 0 || b > 1) {
                c->st.bad_quantile++;
                return 0;
            }
            if ((r = push_bucket(c, pi, b, s->value)))
                return c->err = r;
            p->has_value = true;
        } else if (s->suffix == KVS_PROM_SFX_COUNT) {
            p->count = s->value;
            p->has_count = p->has_value = true;
        } else if (s->suffix == KVS_PROM_SFX_SUM) {
            p->sum = s->value;
            p->has_sum = p->has_value = true;
        }
        break;
    }
    if (s->exemplar && (r = add_exemplar(c, p, s->exemplar, t)))
        return c->err = r;
    return 0;
}

static int conv_sample_cb(void *ctx, const kvs_prom_sample *s) { return kvs_prom_conv_sample(ctx, s); }

kvs_prom_handler kvs_prom_conv_handler(kvs_prom_conv *c)
{
    return (kvs_prom_handler){.sample = conv_sample_cb, .ctx = c};
}

int kvs_prom_conv_finish(kvs_prom_conv *c, kvs_metrics_req **out, kvs_error *err)
{
    *out = NULL;
    if (c->err)
        return kvs_errorf(err, c->err, "prometheus conversion: out of memory");
    int r = kvs_promconv__assemble(c, out);
    if (c->o.state)
        kvs_prom_series_state_end_scrape(c->o.state);
    if (r) {
        *out = NULL;
        return kvs_errorf(err, r, "prometheus conversion: out of memory");
    }
    return 0;
}

kvs_prom_conv *kvs_prom_conv_new(kvs_arena *arena, const kvs_prom_conv_options *opts)
{
    kvs_prom_conv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->a = arena;
    if (opts)
        c->o = *opts;
    return c;
}

void kvs_prom_conv_free(kvs_prom_conv *c)
{
    if (!c)
        return;
    free(c->res);
    free(c->scopes);
    free(c->mbs);
    free(c->pts);
    free(c->bk);
    free(c->mbt.s);
    free(c->ptt.s);
    free(c->cum);
    free(c->order);
    free(c->first);
    free(c);
}

const kvs_prom_conv_stats *kvs_prom_conv_get_stats(const kvs_prom_conv *c) { return &c->st; }

struct both {
    kvs_prom_conv *c;
    int (*reject)(void *, const kvs_prom_reject *);
    void *rctx;
};

static int both_reject(void *ctx, const kvs_prom_reject *r)
{
    struct both *b = ctx;
    return b->reject ? b->reject(b->rctx, r) : 0;
}

static int both_sample(void *ctx, const kvs_prom_sample *s)
{
    struct both *b = ctx;
    return kvs_prom_conv_sample(b->c, s);
}

int kvs_prom_to_otlp(const void *text, size_t len, const kvs_prom_options *popts,
                     const kvs_prom_conv_options *copts, kvs_arena *arena, kvs_metrics_req **out,
                     int (*reject)(void *ctx, const kvs_prom_reject *r), void *reject_ctx,
                     kvs_prom_stats *pstats, kvs_prom_conv_stats *cstats, kvs_error *err)
{
    *out = NULL;
    kvs_prom_conv *c = kvs_prom_conv_new(arena, copts);
    if (!c)
        return kvs_errorf(err, KVS_E_NOMEM, "prometheus conversion: out of memory");
    struct both b = {c, reject, reject_ctx};
    kvs_prom_handler h = {.sample = both_sample, .reject = both_reject, .ctx = &b};
    int r = kvs_prom_parse(text, len, popts, &h, pstats);
    if (r == KVS_E_NOMEM || c->err) {
        kvs_prom_conv_free(c);
        return kvs_errorf(err, KVS_E_NOMEM, "prometheus conversion: out of memory");
    }
    if (r) {
        kvs_prom_conv_free(c);
        return kvs_errorf(err, r, "prometheus parse stopped by a callback (%d)", r);
    }
    r = kvs_prom_conv_finish(c, out, err);
    if (cstats)
        *cstats = c->st;
    kvs_prom_conv_free(c);
    return r;
}
