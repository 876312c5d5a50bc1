/* The per-request record (lmcache/request.h): span classification, value
 * parsing (LMCache's stringified metadata), and the computation of a
 * request from its spans. The attribute side (annotations and reading them
 * back) is in lmcache/request_attrs.c. */
#include "lmcache/request.h"
#include "lmcache/request_keys.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- roles ---- */

static const char *const role_names[KVS_LMC_NROLES] = {
    [KVS_LMC_NONE] = "",
    [KVS_LMC_ROOT_MP] = "request",
    [KVS_LMC_ROOT_CB] = "cb.request",
    [KVS_LMC_LOOKUP] = "mp.lookup_prefetch",
    [KVS_LMC_RETRIEVE] = "mp.retrieve",
    [KVS_LMC_STORE] = "mp.store",
    [KVS_LMC_KERNEL] = "transfer.kernel_interval",
    [KVS_LMC_STAGING] = "transfer.staging",
    [KVS_LMC_TIMEOUT] = "timeout",
    [KVS_LMC_CB_LOOKUP] = "cb.lookup",
    [KVS_LMC_CB_FP_MATCH] = "cb.fingerprint_match",
    [KVS_LMC_CB_PREFIX_LOOKUP] = "cb.prefix_lookup",
    [KVS_LMC_CB_COORD_MATCH] = "cb.coordinator_match",
    [KVS_LMC_CB_SPARSE] = "cb.sparse_prefetch",
    [KVS_LMC_CB_RETRIEVE] = "cb.retrieve",
    [KVS_LMC_CB_SCATTER] = "cb.scatter",
    [KVS_LMC_CB_STORE_PRE] = "cb.store_pre_computed",
    [KVS_LMC_CB_STORE_FINAL] = "cb.store_final",
    [KVS_LMC_CB_FP_REGISTERED] = "cb.fingerprints.registered",
    [KVS_LMC_CB_EVICTED] = "cb.chunks.evicted",
    [KVS_LMC_ENGINE] = "llm_request",
};

const char *kvs_lmc_role_name(kvs_lmc_role r)
{
    return r >= 0 && r < KVS_LMC_NROLES ? role_names[r] : "";
}

static kvs_lmc_role role_by_name(const char *n)
{
    if (!n)
        return KVS_LMC_NONE;
    int lo, hi;
    switch (n[0]) {
    case 'r': lo = hi = KVS_LMC_ROOT_MP; break;
    case 'm': lo = KVS_LMC_LOOKUP, hi = KVS_LMC_STORE; break;
    case 't': lo = KVS_LMC_KERNEL, hi = KVS_LMC_TIMEOUT; break;
    case 'c':
        if (kvs_lmc_streq(n, "cb.request"))
            return KVS_LMC_ROOT_CB;
        lo = KVS_LMC_CB_LOOKUP, hi = KVS_LMC_CB_EVICTED;
        break;
    default: return KVS_LMC_NONE;
    }
    for (int r = lo; r <= hi; r++)
        if (kvs_lmc_streq(n, role_names[r]))
            return (kvs_lmc_role)r;
    return KVS_LMC_NONE;
}

const kvs_any *kvs_lmc_attr(kvs_kv *const *attrs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (attrs[i] && attrs[i]->key && attrs[i]->key[0] == key[0] && kvs_lmc_streq(attrs[i]->key, key))
            return attrs[i]->value;
    return NULL;
}

/* The name after "gen_ai." of the engine attributes this file reads. */
enum { G_NONE, G_ID, G_TTFT, G_QUEUE, G_E2E, G_PROMPT, G_COMPLETION, G_RESPONSE_MODEL, G_REQUEST_MODEL };
static int gen_ai_key(const char *k)
{
    size_t n = strlen(k);
    static const struct { const char *name; size_t len; int id; } names[] = {
        { "request.id", 10, G_ID }, { "latency.time_to_first_token", 27, G_TTFT },
        { "latency.time_in_queue", 21, G_QUEUE }, { "latency.e2e", 11, G_E2E },
        { "usage.prompt_tokens", 19, G_PROMPT }, { "usage.completion_tokens", 23, G_COMPLETION },
        { "response.model", 14, G_RESPONSE_MODEL }, { "request.model", 13, G_REQUEST_MODEL },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].len == n && memcmp(names[i].name, k, n) == 0)
            return names[i].id;
    return G_NONE;
}

const char *kvs_lmc_attr_str(kvs_kv *const *attrs, size_t n, const char *key)
{
    const kvs_any *v = kvs_lmc_attr(attrs, n, key);
    return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE ? v->string_value
                                                                                                 : NULL;
}

kvs_lmc_role kvs_lmc_classify(const kvs_span *s, const kvs_scope *scope, int engine)
{
    kvs_lmc_role r = role_by_name(s->name);
    if (r != KVS_LMC_NONE) {
        if (scope && scope->name && kvs_lmc_prefix(scope->name, "lmcache"))
            return r;
        if (kvs_lmc_attr(s->attributes, s->n_attributes, "session_id"))
            return r;
    }
    if (engine && s->name &&
        (kvs_lmc_streq(s->name, "llm_request") ||
         s->kind == OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER) &&
        kvs_lmc_attr_str(s->attributes, s->n_attributes, "gen_ai.request.id"))
        return KVS_LMC_ENGINE;
    return KVS_LMC_NONE;
}

/* ---- parsing ---- */

#define VC(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

static int blank(char c) { return c == ' ' || c == '\t'; }

/* True when only blanks remain. */
static int rest_blank(const char *s)
{
    while (blank(*s))
        s++;
    return *s == 0;
}

/* Skips leading blanks; NULL when the value is absent: "", blanks, "None". */
static const char *text(const char *s)
{
    if (!s)
        return NULL;
    while (blank(*s))
        s++;
    if (*s == 0 || (strncmp(s, "None", 4) == 0 && rest_blank(s + 4)))
        return NULL;
    return s;
}

int kvs_lmc_parse_f64(const kvs_any *v, double *out)
{
    if (!v)
        return 0;
    switch (v->value_case) {
    case VC(DOUBLE_VALUE):
        if (!isfinite(v->double_value))
            return -1;
        *out = v->double_value;
        return 1;
    case VC(INT_VALUE): *out = (double)v->int_value; return 1;
    case VC(STRING_VALUE): {
        const char *s = text(v->string_value);
        if (!s)
            return 0;
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || !rest_blank(end) || errno == ERANGE || !isfinite(d))
            return -1;
        *out = d;
        return 1;
    }
    case VC(_NOT_SET): return 0;
    default: return -1;
    }
}

int kvs_lmc_parse_i64(const kvs_any *v, int64_t *out)
{
    if (!v)
        return 0;
    switch (v->value_case) {
    case VC(INT_VALUE): *out = v->int_value; return 1;
    case VC(DOUBLE_VALUE): {
        double d = v->double_value;
        if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
            return -1;
        *out = (int64_t)d;
        return 1;
    }
    case VC(STRING_VALUE): {
        const char *s = text(v->string_value);
        if (!s)
            return 0;
        int neg = 0;
        if (*s == '-' || *s == '+')
            neg = *s++ == '-';
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t acc = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (acc > (UINT64_C(9223372036854775807) - (uint64_t)(*s - '0')) / 10)
                return -1;
            acc = acc * 10 + (uint64_t)(*s - '0');
        }
        if (*s == '.') /* "12.0": an integral decimal written as a float */
            for (s++; *s == '0'; s++)
                ;
        if (!rest_blank(s))
            return -1;
        *out = neg ? -(int64_t)acc : (int64_t)acc;
        return 1;
    }
    case VC(_NOT_SET): return 0;
    default: return -1;
    }
}

int kvs_lmc_parse_bool(const kvs_any *v, int *out)
{
    if (!v)
        return 0;
    switch (v->value_case) {
    case VC(BOOL_VALUE): *out = v->bool_value != 0; return 1;
    case VC(INT_VALUE):
        if (v->int_value != 0 && v->int_value != 1)
            return -1;
        *out = (int)v->int_value;
        return 1;
    case VC(STRING_VALUE): {
        const char *s = text(v->string_value);
        if (!s)
            return 0;
        size_t n = 0;
        while (s[n] && !blank(s[n]))
            n++;
        if (!rest_blank(s + n))
            return -1;
        if ((n == 4 && (memcmp(s, "True", 4) == 0 || memcmp(s, "true", 4) == 0)) || (n == 1 && s[0] == '1')) {
            *out = 1;
            return 1;
        }
        if ((n == 5 && (memcmp(s, "False", 5) == 0 || memcmp(s, "false", 5) == 0)) || (n == 1 && s[0] == '0')) {
            *out = 0;
            return 1;
        }
        return -1;
    }
    case VC(_NOT_SET): return 0;
    default: return -1;
    }
}

/* ---- keys LMCache puts on its spans ---- */

const kvs_lmc_key_def kvs_lmc_keys[K_NKEYS] = {
#define KVS_LMC_KEYDEF_(id, name, type) [K_##id] = { name, sizeof(name) - 1, KT_##type },
    KVS_LMC_KEYS(KVS_LMC_KEYDEF_)
#undef KVS_LMC_KEYDEF_
};

#define L(...) { __VA_ARGS__, K_NKEYS }
static const uint8_t role_keys[KVS_LMC_NROLES][16] = {
    [KVS_LMC_NONE] = L(K_NKEYS),
    [KVS_LMC_ROOT_MP] = L(K_SESSION_ID, K_REQUESTED_TOKENS, K_HIT_TOKENS, K_L1_HIT_TOKENS, K_L2_HIT_TOKENS,
                          K_EARLY_EXIT_REASON, K_HIT_RATE, K_L1_HIT_RATE, K_L2_HIT_RATE),
    [KVS_LMC_ROOT_CB] = L(K_SESSION_ID, K_REQUESTED_TOKENS, K_HIT_TOKENS, K_PREFIX_HITS, K_PREFIX_HIT_TOKENS,
                          K_SEG_PREFIX_HIT_TOKENS, K_NON_PREFIX_HIT_TOKENS, K_HIT_RATE),
    [KVS_LMC_LOOKUP] = L(K_SESSION_ID, K_FOUND_COUNT, K_REQUESTED_TOKENS, K_HIT_TOKENS, K_L1_HIT_TOKENS,
                         K_L2_HIT_TOKENS, K_MODEL_NAME, K_CACHE_SALT, K_EARLY_EXIT_REASON),
    [KVS_LMC_RETRIEVE] = L(K_SESSION_ID, K_RETRIEVED_COUNT, K_TOTAL_BYTES, K_NUM_TOKENS, K_MODEL_NAME,
                           K_CACHE_SALT),
    [KVS_LMC_STORE] = L(K_SESSION_ID, K_STORED_COUNT, K_TOTAL_BYTES, K_NUM_TOKENS, K_MODEL_NAME, K_CACHE_SALT),
    [KVS_LMC_KERNEL] = L(K_SESSION_ID, K_DEVICE_INDEX, K_NUM_STEPS, K_NBYTES, K_ELAPSED_SECONDS,
                         K_FIRST_START_S, K_LAST_END_S),
    [KVS_LMC_STAGING] = L(K_SESSION_ID, K_DEVICE_INDEX, K_NUM_STEPS, K_NBYTES, K_ELAPSED_SECONDS,
                          K_FIRST_START_S, K_LAST_END_S, K_THROUGHPUT),
    [KVS_LMC_TIMEOUT] = L(K_SESSION_ID),
    [KVS_LMC_CB_LOOKUP] = L(K_SESSION_ID, K_NUM_TOKENS, K_REQUESTED_TOKENS, K_HIT_TOKENS, K_FINGERPRINT_HITS,
                            K_STORAGE_HITS, K_STALE_CHUNKS, K_NO_GPU_CONTEXT, K_PREFIX_HITS,
                            K_PREFIX_HIT_TOKENS, K_PREFIX_CHUNKS, K_SEG_PREFIX_HIT_TOKENS,
                            K_NON_PREFIX_HIT_TOKENS),
    [KVS_LMC_CB_FP_MATCH] = L(K_SESSION_ID, K_MATCHES),
    [KVS_LMC_CB_PREFIX_LOOKUP] = L(K_SESSION_ID, K_PREFIX_HITS, K_PREFIX_HIT_TOKENS),
    [KVS_LMC_CB_COORD_MATCH] = L(K_SESSION_ID, K_MATCHES, K_TIMED_OUT),
    [KVS_LMC_CB_SPARSE] = L(K_SESSION_ID, K_L2_KEYS, K_FOUND_KEYS),
    [KVS_LMC_CB_RETRIEVE] = L(K_SESSION_ID, K_NUM_CHUNKS, K_SUCCESS),
    [KVS_LMC_CB_SCATTER] = L(K_SESSION_ID, K_SCATTERED_TOKENS, K_N_PREFIX, K_N_SHIFTED, K_DROPPED),
    [KVS_LMC_CB_STORE_PRE] = L(K_SESSION_ID, K_NUM_TOKENS, K_STORED_CHUNKS, K_SUCCESS),
    [KVS_LMC_CB_STORE_FINAL] = L(K_SESSION_ID, K_NUM_TOKENS, K_STORED_CHUNKS, K_SUCCESS),
    [KVS_LMC_CB_FP_REGISTERED] = L(K_SESSION_ID, K_NUM_CHUNKS, K_NUM_TOKENS),
    [KVS_LMC_CB_EVICTED] = L(K_SESSION_ID, K_NUM_CHUNKS, K_NUM_TOKENS),
    [KVS_LMC_ENGINE] = L(K_NKEYS),
};
#undef L

void kvs_lmc_parse_span(kvs_lmc_role role, const kvs_span *s, kvs_lmc_pspan *p)
{
    p->has = p->was_str = 0;
    p->nerr = 0;
    if (role <= KVS_LMC_NONE || role >= KVS_LMC_NROLES)
        return;
    const uint8_t *keys = role_keys[role];
    for (size_t a = 0; a < s->n_attributes; a++) {
        const kvs_kv *kv = s->attributes[a];
        if (!kv || !kv->key || !kv->value)
            continue;
        const char *key = kv->key;
        size_t len = strlen(key);
        for (const uint8_t *k = keys; *k != K_NKEYS; k++) {
            const kvs_lmc_key_def *d = &kvs_lmc_keys[*k];
            if (d->len != len || d->name[0] != key[0] || memcmp(d->name, key, len) != 0)
                continue;
            uint64_t bit = UINT64_C(1) << *k;
            if (p->has & bit)
                break; /* a repeated key: the first one counts */
            int rc;
            switch (d->type) {
            case KT_I: rc = kvs_lmc_parse_i64(kv->value, &p->v[*k].i); break;
            case KT_D: rc = kvs_lmc_parse_f64(kv->value, &p->v[*k].d); break;
            case KT_B: {
                int b = 0;
                rc = kvs_lmc_parse_bool(kv->value, &b);
                p->v[*k].i = b;
                break;
            }
            default:
                rc = kv->value->value_case == VC(STRING_VALUE) ? 1 : 0;
                if (rc)
                    p->v[*k].s = kv->value->string_value;
                break;
            }
            if (rc > 0) {
                p->has |= bit;
                if (kv->value->value_case == VC(STRING_VALUE))
                    p->was_str |= bit;
            } else if (rc < 0 && p->nerr < KVS_LMC_MAX_ERRORS) {
                p->err[p->nerr++] = *k;
            }
            break;
        }
    }
}

/* ---- the record ---- */

const kvs_lmc_field_def kvs_lmc_fields[KVS_LMC_NFIELDS] = {
#define KVS_LMC_DEF_(id, name, type, unit, eng) [KVS_LMC_F_##id] = { name, KVS_LMC_##type, unit, eng },
    KVS_LMC_FIELDS(KVS_LMC_DEF_)
#undef KVS_LMC_DEF_
};

void kvs_lmc_request_init(kvs_lmc_request *r) { memset(r, 0, sizeof *r); }

#define HAS(p, k) (((p)->has >> (k)) & 1)
#define PI(p, k) ((p)->v[k].i)
#define PD(p, k) ((p)->v[k].d)
#define PS(p, k) ((p)->v[k].s)

/* has[f]: 0 absent, 1 from a child span, 2 from the root (wins). */
static void put_i(kvs_lmc_request *r, kvs_lmc_field f, int64_t v, int from_root)
{
    if (from_root || r->has[f] < 2) {
        r->v[f].i = v;
        r->has[f] = from_root ? 2 : 1;
    }
}

static void put_s(kvs_lmc_request *r, kvs_lmc_field f, const char *v, int from_root)
{
    if (from_root || r->has[f] < 2) {
        r->v[f].s = v;
        r->has[f] = from_root ? 2 : 1;
    }
}

/* The first value seen wins (model, cache salt: the same on every span). */
static void first_s(kvs_lmc_request *r, kvs_lmc_field f, const char *v)
{
    if (!r->has[f] && v)
        kvs_lmc_set_s(r, f, v);
}

static void sum_i(kvs_lmc_request *r, kvs_lmc_field f, int64_t v)
{
    r->v[f].i = (r->has[f] ? r->v[f].i : 0) + v;
    r->has[f] = 1;
}

#define SUM_IF(r, p, k, f) do { if (HAS(p, k)) sum_i(r, f, PI(p, k)); } while (0)

static uint64_t span_ns(const kvs_span *s)
{
    return s->end_time_unix_nano > s->start_time_unix_nano ? s->end_time_unix_nano - s->start_time_unix_nano : 0;
}

static void note_errors(kvs_lmc_request *r, kvs_lmc_role role, const kvs_lmc_pspan *p)
{
    for (unsigned i = 0; i < p->nerr; i++) {
        if (r->nerr < KVS_LMC_MAX_ERRORS) {
            r->err[r->nerr].role = role;
            r->err[r->nerr].key = kvs_lmc_keys[p->err[i]].name;
        }
        r->nerr++;
    }
}

static void add_tokens(kvs_lmc_request *r, const kvs_lmc_pspan *p, int root)
{
    if (HAS(p, K_REQUESTED_TOKENS))
        put_i(r, KVS_LMC_F_REQUESTED_TOKENS, PI(p, K_REQUESTED_TOKENS), root);
    if (HAS(p, K_HIT_TOKENS))
        put_i(r, KVS_LMC_F_HIT_TOKENS, PI(p, K_HIT_TOKENS), root);
    if (HAS(p, K_L1_HIT_TOKENS))
        put_i(r, KVS_LMC_F_TIER_L1, PI(p, K_L1_HIT_TOKENS), root);
    if (HAS(p, K_L2_HIT_TOKENS))
        put_i(r, KVS_LMC_F_TIER_L2, PI(p, K_L2_HIT_TOKENS), root);
    if (HAS(p, K_EARLY_EXIT_REASON) && PS(p, K_EARLY_EXIT_REASON)[0])
        put_s(r, KVS_LMC_F_EARLY_EXIT, PS(p, K_EARLY_EXIT_REASON), root);
    if (HAS(p, K_PREFIX_HITS))
        put_i(r, KVS_LMC_F_CB_PREFIX_HITS, PI(p, K_PREFIX_HITS), root);
    if (HAS(p, K_PREFIX_HIT_TOKENS))
        put_i(r, KVS_LMC_F_CB_PREFIX_HIT_TOKENS, PI(p, K_PREFIX_HIT_TOKENS), root);
    if (HAS(p, K_SEG_PREFIX_HIT_TOKENS))
        put_i(r, KVS_LMC_F_CB_SEG_PREFIX_HIT_TOKENS, PI(p, K_SEG_PREFIX_HIT_TOKENS), root);
    if (HAS(p, K_NON_PREFIX_HIT_TOKENS))
        put_i(r, KVS_LMC_F_CB_NON_PREFIX_HIT_TOKENS, PI(p, K_NON_PREFIX_HIT_TOKENS), root);
    if (HAS(p, K_REQUESTED_TOKENS) || HAS(p, K_HIT_TOKENS))
        r->lookup_seen = 1;
}

static void failure(kvs_lmc_request *r, kvs_lmc_role role, const kvs_lmc_pspan *p)
{
    if (HAS(p, K_SUCCESS) && !PI(p, K_SUCCESS)) {
        sum_i(r, KVS_LMC_F_CB_FAILURES, 1);
        r->failed_phases |= 1u << role;
    }
}

static const char *exception_type(const kvs_span *s)
{
    for (size_t i = 0; i < s->n_events; i++) {
        const kvs_span_event *e = s->events[i];
        if (e && e->name && strcmp(e->name, "exception") == 0) {
            const char *t = kvs_lmc_attr_str(e->attributes, e->n_attributes, "exception.type");
            if (t)
                return t;
        }
    }
    return NULL;
}

void kvs_lmc_request_add(kvs_lmc_request *r, kvs_lmc_role role, const kvs_span *s)
{
    if (!kvs_lmc_is_lmcache(role))
        return;
    kvs_lmc_pspan p;
    kvs_lmc_parse_span(role, s, &p);
    kvs_lmc_request_add_parsed(r, role, s, &p);
}

void kvs_lmc_request_add_parsed(kvs_lmc_request *r, kvs_lmc_role role, const kvs_span *s, const kvs_lmc_pspan *p)
{
    note_errors(r, role, p);
    sum_i(r, KVS_LMC_F_SPANS, 1);
    if (HAS(p, K_SESSION_ID))
        put_s(r, KVS_LMC_F_SESSION_ID, PS(p, K_SESSION_ID), kvs_lmc_is_root(role));
    if (HAS(p, K_MODEL_NAME))
        first_s(r, KVS_LMC_F_MODEL, PS(p, K_MODEL_NAME));
    if (HAS(p, K_CACHE_SALT))
        first_s(r, KVS_LMC_F_CACHE_SALT, PS(p, K_CACHE_SALT));
    uint64_t ns = span_ns(s);
    switch (role) {
    case KVS_LMC_ROOT_MP:
    case KVS_LMC_ROOT_CB:
        kvs_lmc_set_s(r, KVS_LMC_F_KIND, role == KVS_LMC_ROOT_MP ? "mp" : "cacheblend");
        r->root_start = s->start_time_unix_nano;
        r->root_end = s->end_time_unix_nano;
        r->root_seen = 1;
        add_tokens(r, p, 1);
        break;
    case KVS_LMC_LOOKUP:
        r->nlookup++;
        r->lookup_ns += ns;
        r->lookup_seen = 1;
        add_tokens(r, p, 0);
        SUM_IF(r, p, K_FOUND_COUNT, KVS_LMC_F_CHUNKS_FOUND);
        break;
    case KVS_LMC_RETRIEVE:
    case KVS_LMC_CB_RETRIEVE:
        sum_i(r, KVS_LMC_F_RETRIEVE_COUNT, 1);
        r->retrieve_ns += ns;
        SUM_IF(r, p, K_TOTAL_BYTES, KVS_LMC_F_RETRIEVE_BYTES);
        SUM_IF(r, p, K_NUM_TOKENS, KVS_LMC_F_RETRIEVE_TOKENS);
        SUM_IF(r, p, K_RETRIEVED_COUNT, KVS_LMC_F_CHUNKS_RETRIEVED);
        SUM_IF(r, p, K_NUM_CHUNKS, KVS_LMC_F_CHUNKS_RETRIEVED);
        failure(r, role, p);
        break;
    case KVS_LMC_STORE:
    case KVS_LMC_CB_STORE_PRE:
    case KVS_LMC_CB_STORE_FINAL:
        sum_i(r, KVS_LMC_F_STORE_COUNT, 1);
        r->store_ns += ns;
        SUM_IF(r, p, K_TOTAL_BYTES, KVS_LMC_F_STORE_BYTES);
        SUM_IF(r, p, K_NUM_TOKENS, KVS_LMC_F_STORE_TOKENS);
        SUM_IF(r, p, K_STORED_COUNT, KVS_LMC_F_CHUNKS_STORED);
        SUM_IF(r, p, K_STORED_CHUNKS, KVS_LMC_F_CHUNKS_STORED);
        SUM_IF(r, p, K_STORED_CHUNKS,
               role == KVS_LMC_CB_STORE_PRE ? KVS_LMC_F_CB_PRE_CHUNKS : KVS_LMC_F_CB_FINAL_CHUNKS);
        failure(r, role, p);
        break;
    case KVS_LMC_KERNEL:
    case KVS_LMC_STAGING: {
        int k = role == KVS_LMC_KERNEL;
        sum_i(r, k ? KVS_LMC_F_KERNEL_COUNT : KVS_LMC_F_STAGING_COUNT, 1);
        SUM_IF(r, p, K_NBYTES, k ? KVS_LMC_F_KERNEL_BYTES : KVS_LMC_F_STAGING_BYTES);
        if (HAS(p, K_ELAPSED_SECONDS))
            *(k ? &r->kernel_s : &r->staging_s) += PD(p, K_ELAPSED_SECONDS);
        break;
    }
    case KVS_LMC_TIMEOUT:
        sum_i(r, KVS_LMC_F_TIMEOUTS, 1);
        first_s(r, KVS_LMC_F_TIMEOUT_TYPE, exception_type(s));
        break;
    case KVS_LMC_CB_LOOKUP:
        r->nlookup++;
        r->lookup_ns += ns;
        r->lookup_seen = 1;
        add_tokens(r, p, 0);
        SUM_IF(r, p, K_FINGERPRINT_HITS, KVS_LMC_F_CB_FINGERPRINT_HITS);
        SUM_IF(r, p, K_STORAGE_HITS, KVS_LMC_F_CB_STORAGE_HITS);
        SUM_IF(r, p, K_STALE_CHUNKS, KVS_LMC_F_CB_STALE_CHUNKS);
        if (HAS(p, K_NO_GPU_CONTEXT)) {
            int prev = r->has[KVS_LMC_F_CB_NO_GPU_CONTEXT] && r->v[KVS_LMC_F_CB_NO_GPU_CONTEXT].i;
            kvs_lmc_set_i(r, KVS_LMC_F_CB_NO_GPU_CONTEXT, prev || PI(p, K_NO_GPU_CONTEXT));
            if (PI(p, K_NO_GPU_CONTEXT))
                put_s(r, KVS_LMC_F_EARLY_EXIT, "no_gpu_context", 0);
        }
        break;
    case KVS_LMC_CB_PREFIX_LOOKUP: add_tokens(r, p, 0); break;
    case KVS_LMC_CB_FP_MATCH: SUM_IF(r, p, K_MATCHES, KVS_LMC_F_CB_FP_MATCHES); break;
    case KVS_LMC_CB_COORD_MATCH:
        SUM_IF(r, p, K_MATCHES, KVS_LMC_F_CB_COORD_MATCHES);
        if (HAS(p, K_TIMED_OUT)) {
            int prev = r->has[KVS_LMC_F_CB_COORD_TIMED_OUT] && r->v[KVS_LMC_F_CB_COORD_TIMED_OUT].i;
            kvs_lmc_set_i(r, KVS_LMC_F_CB_COORD_TIMED_OUT, prev || PI(p, K_TIMED_OUT));
        }
        break;
    case KVS_LMC_CB_SPARSE:
        SUM_IF(r, p, K_L2_KEYS, KVS_LMC_F_CB_L2_KEYS);
        SUM_IF(r, p, K_FOUND_KEYS, KVS_LMC_F_CB_FOUND_KEYS);
        break;
    case KVS_LMC_CB_SCATTER:
        SUM_IF(r, p, K_SCATTERED_TOKENS, KVS_LMC_F_CB_SCATTER_TOKENS);
        SUM_IF(r, p, K_N_PREFIX, KVS_LMC_F_CB_SCATTER_PREFIX);
        SUM_IF(r, p, K_N_SHIFTED, KVS_LMC_F_CB_SCATTER_SHIFTED);
        SUM_IF(r, p, K_DROPPED, KVS_LMC_F_CB_SCATTER_DROPPED);
        break;
    case KVS_LMC_CB_FP_REGISTERED: SUM_IF(r, p, K_NUM_CHUNKS, KVS_LMC_F_CB_FP_REGISTERED); break;
    case KVS_LMC_CB_EVICTED: SUM_IF(r, p, K_NUM_CHUNKS, KVS_LMC_F_CB_CHUNKS_EVICTED); break;
    default: break;
    }
    if (kvs_lmc_is_cb(role))
        r->cb_seen = 1;
}

static double ratio(int64_t num, int64_t den) { return den > 0 ? (double)num / (double)den : 0.0; }

void kvs_lmc_request_finish(kvs_lmc_request *r)
{
    int cb = (r->has[KVS_LMC_F_KIND] && strcmp(r->v[KVS_LMC_F_KIND].s, "cacheblend") == 0) ||
             (!r->has[KVS_LMC_F_KIND] && r->cb_seen);
    if (!r->has[KVS_LMC_F_KIND])
        kvs_lmc_set_s(r, KVS_LMC_F_KIND, cb ? "cacheblend" : "mp");
    int64_t req = r->v[KVS_LMC_F_REQUESTED_TOKENS].i;
    if (r->has[KVS_LMC_F_REQUESTED_TOKENS] && r->has[KVS_LMC_F_HIT_TOKENS])
        kvs_lmc_set_d(r, KVS_LMC_F_HIT_RATE, ratio(r->v[KVS_LMC_F_HIT_TOKENS].i, req));
    if (r->has[KVS_LMC_F_REQUESTED_TOKENS] && r->has[KVS_LMC_F_TIER_L1])
        kvs_lmc_set_d(r, KVS_LMC_F_TIER_L1_RATE, ratio(r->v[KVS_LMC_F_TIER_L1].i, req));
    if (r->has[KVS_LMC_F_REQUESTED_TOKENS] && r->has[KVS_LMC_F_TIER_L2])
        kvs_lmc_set_d(r, KVS_LMC_F_TIER_L2_RATE, ratio(r->v[KVS_LMC_F_TIER_L2].i, req));
    if (r->root_seen) {
        kvs_lmc_set_d(r, KVS_LMC_F_DURATION_MS,
                      kvs_lmc_ms(r->root_end > r->root_start ? r->root_end - r->root_start : 0));
        if (!cb)
            kvs_lmc_set_i(r, KVS_LMC_F_STORE_ONLY, !r->lookup_seen);
    }
    if (r->nlookup)
        kvs_lmc_set_d(r, KVS_LMC_F_LOOKUP_MS, kvs_lmc_ms(r->lookup_ns));
    if (r->has[KVS_LMC_F_RETRIEVE_COUNT]) {
        kvs_lmc_set_d(r, KVS_LMC_F_RETRIEVE_MS, kvs_lmc_ms(r->retrieve_ns));
        if (r->has[KVS_LMC_F_RETRIEVE_BYTES] && r->retrieve_ns)
            kvs_lmc_set_d(r, KVS_LMC_F_RETRIEVE_GBPS, kvs_lmc_gbps(r->v[KVS_LMC_F_RETRIEVE_BYTES].i, r->retrieve_ns));
    }
    if (r->has[KVS_LMC_F_STORE_COUNT]) {
        kvs_lmc_set_d(r, KVS_LMC_F_STORE_MS, kvs_lmc_ms(r->store_ns));
        if (r->has[KVS_LMC_F_STORE_BYTES] && r->store_ns)
            kvs_lmc_set_d(r, KVS_LMC_F_STORE_GBPS, kvs_lmc_gbps(r->v[KVS_LMC_F_STORE_BYTES].i, r->store_ns));
    }
    if (r->has[KVS_LMC_F_KERNEL_COUNT]) {
        kvs_lmc_set_d(r, KVS_LMC_F_KERNEL_MS, r->kernel_s * 1e3);
        if (r->has[KVS_LMC_F_KERNEL_BYTES] && r->kernel_s > 0)
            kvs_lmc_set_d(r, KVS_LMC_F_KERNEL_GBPS, (double)r->v[KVS_LMC_F_KERNEL_BYTES].i / 1e9 / r->kernel_s);
    }
    if (r->has[KVS_LMC_F_STAGING_COUNT]) {
        kvs_lmc_set_d(r, KVS_LMC_F_STAGING_MS, r->staging_s * 1e3);
        if (r->has[KVS_LMC_F_STAGING_BYTES] && r->staging_s > 0)
            kvs_lmc_set_d(r, KVS_LMC_F_STAGING_GBPS, (double)r->v[KVS_LMC_F_STAGING_BYTES].i / 1e9 / r->staging_s);
    }
    if (cb) {
        if (!r->has[KVS_LMC_F_CB_FAILURES])
            kvs_lmc_set_i(r, KVS_LMC_F_CB_FAILURES, 0);
    } else if (!r->has[KVS_LMC_F_TIMEOUTS]) {
        kvs_lmc_set_i(r, KVS_LMC_F_TIMEOUTS, 0);
    }
    if (r->nerr) {
        kvs_lmc_set_i(r, KVS_LMC_F_PARSE_ERROR_COUNT, (int64_t)r->nerr);
        r->has[KVS_LMC_F_PARSE_ERRORS] = 1; /* the text is made when annotating */
    }
    if (r->failed_phases)
        r->has[KVS_LMC_F_CB_FAILED_PHASES] = 1;
}

/* ---- the engine side ---- */

void kvs_lmc_engine_read(const kvs_span *s, kvs_lmc_engine *e)
{
    e->present = 1;
    e->request_id = NULL;
    e->has = 0;
    e->model[0] = 0;
    e->ttft_s = e->queue_s = e->e2e_s = 0;
    e->prompt_tokens = e->completion_tokens = 0;
    const char *response_model = NULL, *request_model = NULL;
    /* One pass over the attributes: vLLM's names all start "gen_ai.". */
    for (size_t i = 0; i < s->n_attributes; i++) {
        const kvs_kv *kv = s->attributes[i];
        if (!kv || !kv->key || !kv->value || !kvs_lmc_prefix(kv->key, "gen_ai."))
            continue;
        const kvs_any *v = kv->value;
        int str = v->value_case == VC(STRING_VALUE);
        switch (gen_ai_key(kv->key + 7)) {
        case G_ID:
            if (str && !e->request_id)
                e->request_id = v->string_value;
            break;
        case G_TTFT:
            if (kvs_lmc_parse_f64(v, &e->ttft_s) > 0)
                e->has |= KVS_LMC_ENG_TTFT;
            break;
        case G_QUEUE:
            if (kvs_lmc_parse_f64(v, &e->queue_s) > 0)
                e->has |= KVS_LMC_ENG_QUEUE;
            break;
        case G_E2E:
            if (kvs_lmc_parse_f64(v, &e->e2e_s) > 0)
                e->has |= KVS_LMC_ENG_E2E;
            break;
        case G_PROMPT:
            if (kvs_lmc_parse_i64(v, &e->prompt_tokens) > 0)
                e->has |= KVS_LMC_ENG_PROMPT;
            break;
        case G_COMPLETION:
            if (kvs_lmc_parse_i64(v, &e->completion_tokens) > 0)
                e->has |= KVS_LMC_ENG_COMPLETION;
            break;
        case G_RESPONSE_MODEL:
            if (str)
                response_model = v->string_value;
            break;
        case G_REQUEST_MODEL:
            if (str)
                request_model = v->string_value;
            break;
        default: break;
        }
    }
    const char *m = response_model && *response_model ? response_model : request_model;
    if (m) {
        size_t l = strlen(m);
        if (l >= sizeof e->model)
            l = sizeof e->model - 1;
        memcpy(e->model, m, l);
        e->model[l] = 0;
    }
    memset(e->trace_id, 0, sizeof e->trace_id);
    memset(e->span_id, 0, sizeof e->span_id);
    if (s->trace_id.len == 16)
        memcpy(e->trace_id, s->trace_id.data, 16);
    if (s->span_id.len == 8)
        memcpy(e->span_id, s->span_id.data, 8);
}

void kvs_lmc_request_set_engine(kvs_lmc_request *r, const kvs_lmc_engine *e, int same_trace)
{
    if (!e || !e->present)
        return;
    if (e->has & KVS_LMC_ENG_TTFT)
        kvs_lmc_set_d(r, KVS_LMC_F_ENGINE_TTFT_MS, e->ttft_s * 1e3);
    if (e->has & KVS_LMC_ENG_QUEUE)
        kvs_lmc_set_d(r, KVS_LMC_F_ENGINE_QUEUE_MS, e->queue_s * 1e3);
    if (e->has & KVS_LMC_ENG_E2E)
        kvs_lmc_set_d(r, KVS_LMC_F_ENGINE_E2E_MS, e->e2e_s * 1e3);
    if (e->has & KVS_LMC_ENG_PROMPT)
        kvs_lmc_set_i(r, KVS_LMC_F_ENGINE_PROMPT_TOKENS, e->prompt_tokens);
    if (e->has & KVS_LMC_ENG_COMPLETION)
        kvs_lmc_set_i(r, KVS_LMC_F_ENGINE_COMPLETION_TOKENS, e->completion_tokens);
    if (e->model[0]) {
        kvs_lmc_set_s(r, KVS_LMC_F_ENGINE_MODEL, e->model);
        first_s(r, KVS_LMC_F_MODEL, e->model);
    }
    kvs_lmc_set_s(r, KVS_LMC_F_JOIN, same_trace ? "same_trace" : "cross_trace");
}

static void copy_text(char *dst, size_t cap, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (l >= cap)
        l = cap - 1;
    if (l)
        memcpy(dst, s, l);
    dst[l] = 0;
}

/* The on_engine fields but `join` (test_lmcache_request checks the list
 * against the table). */
const uint8_t kvs_lmc_outcome_fields[] = {
    KVS_LMC_F_KIND,         KVS_LMC_F_CACHE_SALT,     KVS_LMC_F_REQUESTED_TOKENS, KVS_LMC_F_HIT_TOKENS,
    KVS_LMC_F_HIT_RATE,     KVS_LMC_F_TIER_L1,        KVS_LMC_F_TIER_L2,          KVS_LMC_F_EARLY_EXIT,
    KVS_LMC_F_STORE_ONLY,   KVS_LMC_F_RETRIEVE_BYTES, KVS_LMC_F_RETRIEVE_GBPS,    KVS_LMC_F_TIMEOUTS,
    KVS_LMC_F_CB_FAILURES,  KVS_LMC_NFIELDS,
};

void kvs_lmc_outcome_from(const kvs_lmc_request *r, const kvs_span *root, kvs_lmc_outcome *o)
{
    o->present = 1;
    o->n = 0;
    o->early_exit[0] = o->cache_salt[0] = 0;
    memset(o->trace_id, 0, sizeof o->trace_id);
    memset(o->span_id, 0, sizeof o->span_id);
    for (const uint8_t *fp = kvs_lmc_outcome_fields; *fp != KVS_LMC_NFIELDS && o->n < KVS_LMC_OUTCOME_MAX; fp++) {
        int f = *fp;
        if (!r->has[f])
            continue;
        kvs_lmc_value v = r->v[f];
        if (f == KVS_LMC_F_EARLY_EXIT) {
            copy_text(o->early_exit, sizeof o->early_exit, v.s);
            v.s = NULL;
        } else if (f == KVS_LMC_F_CACHE_SALT) {
            copy_text(o->cache_salt, sizeof o->cache_salt, v.s);
            v.s = NULL;
        } else if (f == KVS_LMC_F_KIND) {
            v.s = strcmp(v.s, "cacheblend") == 0 ? "cacheblend" : "mp";
        }
        o->field[o->n] = (uint8_t)f;
        o->v[o->n++] = v;
    }
    if (root && root->trace_id.len == 16)
        memcpy(o->trace_id, root->trace_id.data, 16);
    if (root && root->span_id.len == 8)
        memcpy(o->span_id, root->span_id.data, 8);
}
