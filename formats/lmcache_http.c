/* LMCache MP HTTP payloads into health and facts (see lmcache_http.h);
 * the route table and secret detection are in lmcache_http_routes.c. */
#include "formats/lmcache_http.h"

#include "formats/json_tree.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define MAX_LIST 16          /* names kept per list fact */
#define MAX_CONF_KEYS 24     /* scalars kept per /conf section */
#define NEST_MAX 6           /* /status component walk depth */

/* ---- facts ---- */

static kvs_lmc_fact *add(kvs_lmc_payload *p, const char *key, kvs_lmc_fact_type t)
{
    if (p->nfacts == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 16;
        kvs_lmc_fact *g = realloc(p->facts, ncap * sizeof *g);
        if (!g)
            return NULL;
        p->facts = g;
        p->cap = ncap;
    }
    kvs_lmc_fact *f = &p->facts[p->nfacts++];
    memset(f, 0, sizeof *f);
    f->key = key;
    f->type = t;
    return f;
}

/* A printable copy, at most max characters (then "..."). */
static char *clean_copy(const char *s, size_t n, size_t max)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    int cut = n > max;
    if (cut)
        n = max - 3;
    char *c = malloc(n + 4);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        c[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    if (cut)
        memcpy(c + n, "...", 3), n += 3;
    c[n] = 0;
    return c;
}

static int f_bool(kvs_lmc_payload *p, const char *k, int v)
{
    kvs_lmc_fact *f = add(p, k, KVS_LMC_F_BOOL);
    return f ? (f->b = !!v, 0) : -1;
}

static int f_int(kvs_lmc_payload *p, const char *k, int64_t v)
{
    kvs_lmc_fact *f = add(p, k, KVS_LMC_F_INT);
    return f ? (f->i = v, 0) : -1;
}

static int f_dbl(kvs_lmc_payload *p, const char *k, double v)
{
    kvs_lmc_fact *f = add(p, k, KVS_LMC_F_DOUBLE);
    return f ? (f->d = v, 0) : -1;
}
static int f_str(kvs_lmc_payload *p, const char *k, const char *s, size_t n)
{
    kvs_lmc_fact *f = add(p, k, KVS_LMC_F_STR);
    return f && (f->s = clean_copy(s, n, KVS_LMC_SUMMARY_MAX)) ? 0 : -1;
}
static kvs_lmc_fact *f_list(kvs_lmc_payload *p, const char *k)
{
    for (size_t i = 0; i < p->nfacts; i++)
        if (p->facts[i].type == KVS_LMC_F_STRLIST && strcmp(p->facts[i].key, k) == 0)
            return &p->facts[i];
    return add(p, k, KVS_LMC_F_STRLIST);
}
static int list_push(kvs_lmc_fact *f, const char *s)
{
    if (!f)
        return -1;
    if (f->nlist >= MAX_LIST)
        return 0;
    char **g = realloc(f->list, (f->nlist + 1) * sizeof *g);
    if (!g)
        return -1;
    f->list = g;
    if (!(f->list[f->nlist] = clean_copy(s, strlen(s), 160)))
        return -1;
    f->nlist++;
    return 0;
}

const kvs_lmc_fact *kvs_lmc_fact_get(const kvs_lmc_payload *p, const char *key)
{
    for (size_t i = 0; i < p->nfacts; i++)
        if (strcmp(p->facts[i].key, key) == 0)
            return &p->facts[i];
    return NULL;
}

void kvs_lmc_payload_free(kvs_lmc_payload *p)
{
    for (size_t i = 0; i < p->nfacts; i++) {
        kvs_lmc_fact *f = &p->facts[i];
        free(f->s);
        for (size_t j = 0; j < f->nlist; j++)
            free(f->list[j]);
        free(f->list);
        if (f->key_owned)
            free((char *)f->key);
    }
    free(p->facts);
    free(p->reason);
    free(p->summary);
    memset(p, 0, sizeof *p);
}

/* ---- JSON helpers ---- */

int kvs_lmc_json_depth_ok(const char *p, size_t n, int max_depth)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

/* Copies a numeric field as an int fact (or a double one when fractional). */
static int num_fact(kvs_lmc_payload *p, yajl_val obj, const char *field, const char *key)
{
    yajl_val v = kvs_json_get(obj, field);
    double d;
    if (!v || kvs_json_num(v, &d) != 0)
        return 0;
    if (YAJL_IS_INTEGER(v))
        return f_int(p, key, v->u.number.i);
    if (d == floor(d) && fabs(d) < 9.0e15)
        return f_int(p, key, (int64_t)d);
    return f_dbl(p, key, d);
}

static int bool_fact(kvs_lmc_payload *p, yajl_val obj, const char *field, const char *key)
{
    yajl_val v = kvs_json_get(obj, field);
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        return f_bool(p, key, YAJL_IS_TRUE(v));
    return 0;
}

static int str_fact(kvs_lmc_payload *p, yajl_val obj, const char *field, const char *key)
{
    yajl_val v = kvs_json_get(obj, field);
    if (YAJL_IS_STRING(v))
        return f_str(p, key, v->u.string, strlen(v->u.string));
    return 0;
}

static int truthy(yajl_val v)
{
    if (!v || YAJL_IS_NULL(v) || YAJL_IS_FALSE(v))
        return 0;
    if (YAJL_IS_STRING(v))
        return v->u.string[0] != 0;
    if (YAJL_IS_NUMBER(v)) {
        double d;
        return kvs_json_num(v, &d) == 0 && d != 0;
    }
    if (YAJL_IS_OBJECT(v))
        return v->u.object.len != 0;
    if (YAJL_IS_ARRAY(v))
        return v->u.array.len != 0;
    return 1;
}

static int word_in(const char *s, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

static const char *const good_words[] = { "ok", "healthy", "ready", "running", "success", "true", NULL };
static const char *const bad_words[] = { "unhealthy", "failed", "error", "degraded", NULL };

static int set_reason(kvs_lmc_payload *p, const char *s)
{
    if (p->reason)
        return 0;
    p->reason = clean_copy(s, strlen(s), KVS_LMC_SUMMARY_MAX);
    return p->reason ? 0 : -1;
}

/* The verdict of a JSON object, by the rules in the header. */
static int classify(kvs_lmc_payload *p, yajl_val root)
{
    yajl_val h = kvs_json_get(root, "healthy");
    if (!YAJL_IS_TRUE(h) && !YAJL_IS_FALSE(h))
        h = kvs_json_get(root, "is_healthy");
    yajl_val st = kvs_json_get(root, "status");
    if (!YAJL_IS_STRING(st))
        st = kvs_json_get(root, "state");
    if (YAJL_IS_TRUE(h))
        p->health = KVS_LMC_HEALTHY;
    else if (YAJL_IS_FALSE(h))
        p->health = KVS_LMC_UNHEALTHY;
    else if (YAJL_IS_STRING(st) && word_in(st->u.string, good_words))
        p->health = KVS_LMC_HEALTHY;
    else if (YAJL_IS_STRING(st) && word_in(st->u.string, bad_words))
        p->health = KVS_LMC_UNHEALTHY;
    else if (truthy(kvs_json_get(root, "error")) || truthy(kvs_json_get(root, "failure_reason")))
        p->health = KVS_LMC_UNHEALTHY;
    if (p->health == KVS_LMC_UNHEALTHY) {
        static const char *const fields[] = { "failure_reason", "error", "reason", "detail", NULL };
        for (int i = 0; fields[i]; i++) {
            yajl_val v = kvs_json_get(root, fields[i]);
            if (YAJL_IS_STRING(v) && v->u.string[0])
                return set_reason(p, v->u.string);
        }
    }
    return 0;
}

/* Nested component health: every object under `v` that says it is not
 * healthy (is_healthy/healthy false, thread_alive false) is listed. */
static int walk_components(kvs_lmc_payload *p, yajl_val v, char *path, size_t plen, int depth, int *ncomp)
{
    if (!YAJL_IS_OBJECT(v) || depth > NEST_MAX)
        return 0;
    static const char *const flags[] = { "is_healthy", "healthy", "thread_alive", NULL };
    for (int i = 0; depth > 0 && flags[i]; i++) {
        yajl_val f = kvs_json_get(v, flags[i]);
        if (YAJL_IS_TRUE(f) || YAJL_IS_FALSE(f))
            (*ncomp)++;
        if (YAJL_IS_FALSE(f)) {
            char item[200];
            snprintf(item, sizeof item, "%s: %s=false", path, flags[i]);
            if (list_push(f_list(p, "unhealthy_components"), item) != 0)
                return -1;
            p->health = KVS_LMC_UNHEALTHY;
            char why[240];
            snprintf(why, sizeof why, "component %s reports %s=false", path, flags[i]);
            if (set_reason(p, why) != 0)
                return -1;
        }
    }
    for (size_t i = 0; i < v->u.object.len; i++) {
        if (!YAJL_IS_OBJECT(v->u.object.values[i]))
            continue;
        size_t kl = strlen(v->u.object.keys[i]);
        if (plen + kl + 2 >= 160)
            continue;
        size_t at = plen;
        if (plen)
            path[at++] = '.';
        memcpy(path + at, v->u.object.keys[i], kl + 1);
        if (walk_components(p, v->u.object.values[i], path, at + kl, depth + 1, ncomp) != 0)
            return -1;
        path[plen] = 0;
    }
    return 0;
}

/* ---- per endpoint ---- */

static int status_facts(kvs_lmc_payload *p, yajl_val r)
{
    int rc = bool_fact(p, r, "is_healthy", "is_healthy") | str_fact(p, r, "engine_type", "engine_type") |
             num_fact(p, r, "chunk_size", "chunk_size") | str_fact(p, r, "hash_algorithm", "hash_algorithm") |
             num_fact(p, r, "active_sessions", "active_sessions") |
             num_fact(p, r, "active_prefetch_jobs", "active_prefetch_jobs");
    yajl_val ids = kvs_json_get(r, "registered_gpu_ids");
    if (YAJL_IS_ARRAY(ids))
        rc |= f_int(p, "registered_gpu_ids.count", (int64_t)ids->u.array.len);
    yajl_val meta = kvs_json_get(r, "gpu_context_meta");
    if (YAJL_IS_OBJECT(meta)) {
        for (size_t i = 0; i < meta->u.object.len; i++) {
            yajl_val m = kvs_json_get(meta->u.object.values[i], "model_name");
            if (YAJL_IS_STRING(m))
                rc |= list_push(f_list(p, "model_names"), m->u.string);
            if (i == 0)
                rc |= num_fact(p, meta->u.object.values[i], "world_size", "world_size");
        }
    }
    yajl_val sm = kvs_json_get(r, "storage_manager");
    rc |= bool_fact(p, sm, "is_healthy", "storage_manager.is_healthy");
    yajl_val l1 = kvs_json_get(sm, "l1_manager");
    if (!l1)
        l1 = kvs_json_get(r, "l1_manager");
    if (l1) {
        rc |= bool_fact(p, l1, "is_healthy", "l1.is_healthy") |
              num_fact(p, l1, "memory_used_bytes", "l1.memory_used_bytes") |
              num_fact(p, l1, "memory_total_bytes", "l1.memory_total_bytes") |
              num_fact(p, l1, "memory_configured_bytes", "l1.memory_configured_bytes") |
              num_fact(p, l1, "memory_usage_ratio", "l1.memory_usage_ratio") |
              num_fact(p, l1, "total_object_count", "l1.object_count") |
              num_fact(p, l1, "read_locked_count", "l1.read_locked_count") |
              num_fact(p, l1, "write_locked_count", "l1.write_locked_count") |
              num_fact(p, l1, "staging_object_count", "l1.staging_object_count");
    } else {
        /* older builds: flat fields */
        rc |= num_fact(p, r, "l1_memory_usage_bytes", "l1.memory_used_bytes") |
              num_fact(p, r, "l1_size_bytes", "l1.memory_total_bytes");
    }
    rc |= num_fact(p, kvs_json_get(sm, "store_controller"), "in_flight_task_count",
                   "store_controller.in_flight_task_count");
    if (!kvs_lmc_fact_get(p, "l1.memory_usage_ratio")) {
        const kvs_lmc_fact *u = kvs_lmc_fact_get(p, "l1.memory_used_bytes");
        const kvs_lmc_fact *t = kvs_lmc_fact_get(p, "l1.memory_total_bytes");
        if (u && t && u->type == KVS_LMC_F_INT && t->type == KVS_LMC_F_INT && t->i > 0)
            rc |= f_dbl(p, "l1.memory_usage_ratio", (double)u->i / (double)t->i);
    }
    char path[160] = "";
    int ncomp = 0;
    rc |= walk_components(p, r, path, 0, 0, &ncomp);
    rc |= f_int(p, "components.with_health", ncomp);
    return rc ? -1 : 0;
}

/* `conf.<section>.<key>` for the scalar settings of one section. */
static int conf_section(kvs_lmc_payload *p, yajl_val sec, const char *name)
{
    int rc = 0, kept = 0;
    for (size_t i = 0; YAJL_IS_OBJECT(sec) && i < sec->u.object.len && kept < MAX_CONF_KEYS; i++) {
        const char *k = sec->u.object.keys[i];
        yajl_val v = sec->u.object.values[i];
        if (!(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v) || YAJL_IS_NUMBER(v) || YAJL_IS_STRING(v)))
            continue;
        if (YAJL_IS_STRING(v) && (strlen(v->u.string) > 120 || kvs_lmc_env_is_secret(k, v->u.string)))
            continue;
        size_t n = strlen(name) + strlen(k) + 7;
        char *key = malloc(n);
        if (!key)
            return -1;
        snprintf(key, n, "conf.%s.%s", name, k);
        kvs_lmc_fact *f = add(p, key, KVS_LMC_F_BOOL);
        if (!f) {
            free(key);
            return -1;
        }
        f->key_owned = 1;
        double d;
        if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
            f->b = YAJL_IS_TRUE(v);
        } else if (YAJL_IS_STRING(v)) {
            f->type = KVS_LMC_F_STR;
            rc |= (f->s = clean_copy(v->u.string, strlen(v->u.string), 120)) ? 0 : -1;
        } else if (YAJL_IS_INTEGER(v)) {
            f->type = KVS_LMC_F_INT, f->i = v->u.number.i;
        } else {
            f->type = KVS_LMC_F_DOUBLE, f->d = kvs_json_num(v, &d) == 0 ? d : 0;
        }
        kept++;
    }
    return rc;
}

static int conf_facts(kvs_lmc_payload *p, yajl_val r)
{
    int rc = 0;
    kvs_lmc_fact *secs = NULL;
    for (size_t i = 0; YAJL_IS_OBJECT(r) && i < r->u.object.len; i++) {
        if (!secs)
            secs = f_list(p, "conf.sections");
        rc |= list_push(secs, r->u.object.keys[i]);
        if (YAJL_IS_OBJECT(r->u.object.values[i]) &&
            (strcmp(r->u.object.keys[i], "mp") == 0 || strcmp(r->u.object.keys[i], "observability") == 0))
            rc |= conf_section(p, r->u.object.values[i], r->u.object.keys[i]);
    }
    yajl_val ad = kvs_json_get(kvs_json_get(kvs_json_get(r, "storage_manager"), "l2_adapter_config"), "adapters");
    if (YAJL_IS_ARRAY(ad)) {
        rc |= f_int(p, "l2.adapters.count", (int64_t)ad->u.array.len);
        for (size_t i = 0; i < ad->u.array.len; i++) {
            yajl_val t = kvs_json_get(ad->u.array.values[i], "type");
            if (YAJL_IS_STRING(t))
                rc |= list_push(f_list(p, "l2.adapter_types"), t->u.string);
        }
    }
    return rc ? -1 : 0;
}

static int periodic_facts(kvs_lmc_payload *p, yajl_val r)
{
    yajl_val s = kvs_json_get(r, "summary");
    int rc = num_fact(p, s, "total_count", "periodic_threads.total") |
             num_fact(p, s, "running_count", "periodic_threads.running") |
             num_fact(p, s, "active_count", "periodic_threads.active");
    yajl_val by = kvs_json_get(s, "by_level");
    static const char *const levels[] = { "critical", "high", "medium", "low", NULL };
    static const char *const keys[] = { "periodic_threads.by_level.critical", "periodic_threads.by_level.high",
                                        "periodic_threads.by_level.medium", "periodic_threads.by_level.low" };
    for (int i = 0; levels[i]; i++)
        rc |= num_fact(p, by, levels[i], keys[i]);
    yajl_val th = kvs_json_get(r, "threads");
    for (size_t i = 0; YAJL_IS_ARRAY(th) && i < th->u.array.len; i++) {
        yajl_val t = th->u.array.values[i], name = kvs_json_get(t, "name");
        if (YAJL_IS_FALSE(kvs_json_get(t, "is_running")) && YAJL_IS_STRING(name))
            rc |= list_push(f_list(p, "periodic_threads.not_running"), name->u.string);
    }
    return rc ? -1 : 0;
}

static int periodic_health_facts(kvs_lmc_payload *p, yajl_val r)
{
    int rc = bool_fact(p, r, "healthy", "periodic_threads.healthy") |
             num_fact(p, r, "unhealthy_count", "periodic_threads.unhealthy_count");
    yajl_val th = kvs_json_get(r, "unhealthy_threads");
    char why[240] = "periodic threads unhealthy:";
    for (size_t i = 0; YAJL_IS_ARRAY(th) && i < th->u.array.len; i++) {
        yajl_val name = kvs_json_get(th->u.array.values[i], "name");
        if (!YAJL_IS_STRING(name))
            continue;
        rc |= list_push(f_list(p, "periodic_threads.unhealthy"), name->u.string);
        size_t at = strlen(why);
        snprintf(why + at, sizeof why - at, "%s %s", i ? "," : "", name->u.string);
    }
    if (p->health == KVS_LMC_UNHEALTHY && YAJL_IS_ARRAY(th) && th->u.array.len)
        rc |= set_reason(p, why);
    return rc ? -1 : 0;
}

static int quota_facts(kvs_lmc_payload *p, yajl_val r)
{
    yajl_val users = kvs_json_get(r, "users");
    if (!YAJL_IS_OBJECT(users))
        return 0;
    double usage = 0, limit = 0, d;
    int64_t over = 0;
    for (size_t i = 0; i < users->u.object.len; i++) {
        yajl_val u = users->u.object.values[i];
        double uu = 0, ll = 0;
        if (kvs_json_num(kvs_json_get(u, "current_usage_gb"), &d) == 0)
            uu = d, usage += d;
        if (kvs_json_num(kvs_json_get(u, "limit_gb"), &d) == 0)
            ll = d, limit += d;
        if (ll > 0 && uu > ll)
            over++;
    }
    return f_int(p, "quota.users", (int64_t)users->u.object.len) | f_dbl(p, "quota.usage_gb", usage) |
                   f_dbl(p, "quota.limit_gb", limit) | f_int(p, "quota.over_limit", over)
               ? -1
               : 0;
}

static int relevant_env(const char *k)
{
    static const char *const pre[] = { "LMCACHE_", "VLLM_", "SGLANG_", "OTEL_", NULL };
    static const char *const exact[] = { "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES", "PROMETHEUS_MULTIPROC_DIR",
                                         NULL };
    for (int i = 0; pre[i]; i++)
        if (strncmp(k, pre[i], strlen(pre[i])) == 0)
            return 1;
    return word_in(k, exact);
}

static int env_facts(kvs_lmc_payload *p, yajl_val r)
{
    if (!YAJL_IS_OBJECT(r))
        return 0;
    int rc = 0;
    int64_t secrets = 0;
    for (size_t i = 0; i < r->u.object.len; i++) {
        const char *k = r->u.object.keys[i];
        yajl_val v = r->u.object.values[i];
        const char *val = YAJL_IS_STRING(v) ? v->u.string : "";
        int secret = kvs_lmc_env_is_secret(k, val);
        secrets += secret;
        if (!relevant_env(k))
            continue;
        char item[200];
        snprintf(item, sizeof item, "%s=%s", k, secret ? "<redacted>" : val);
        rc |= list_push(f_list(p, "env.vars"), item);
        if (strcmp(k, "PYTHONHASHSEED") == 0 && !secret)
            rc |= f_str(p, "env.pythonhashseed", val, strlen(val));
    }
    rc |= f_int(p, "env.count", (int64_t)r->u.object.len) | f_int(p, "env.redacted_count", secrets);
    return rc ? -1 : 0;
}

static int64_t count_thread_lines(const char *s, size_t n)
{
    int64_t c = 0;
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t b = i;
        while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '-' || s[b] == '#'))
            b++;
        if (e - b >= 6 && strncasecmp(s + b, "thread", 6) == 0)
            c++;
        i = e + 1;
    }
    return c;
}

static const char *json_type(yajl_val v)
{
    return YAJL_IS_OBJECT(v)   ? "object"
           : YAJL_IS_ARRAY(v)  ? "array"
           : YAJL_IS_STRING(v) ? "string"
           : YAJL_IS_NUMBER(v) ? "number"
           : YAJL_IS_NULL(v)   ? "null"
                               : "bool";
}

static int object_facts(kvs_lmc_payload *p, yajl_val r)
{
    switch (p->ep) {
    case KVS_LMC_EP_ROOT: return str_fact(p, r, "service", "service");
    case KVS_LMC_EP_STATUS: return status_facts(p, r);
    case KVS_LMC_EP_CONF: return conf_facts(p, r);
    case KVS_LMC_EP_VERSION: return str_fact(p, r, "version", "version");
    case KVS_LMC_EP_COMMIT_ID: return str_fact(p, r, "commit_id", "commit_id");
    case KVS_LMC_EP_THREADS: {
        yajl_val th = kvs_json_get(r, "threads");
        if (kvs_json_get(r, "total_count"))
            return num_fact(p, r, "total_count", "threads.count");
        if (kvs_json_get(r, "total"))
            return num_fact(p, r, "total", "threads.count");
        return YAJL_IS_ARRAY(th) ? f_int(p, "threads.count", (int64_t)th->u.array.len) : 0;
    }
    case KVS_LMC_EP_PERIODIC_THREADS: return periodic_facts(p, r);
    case KVS_LMC_EP_PERIODIC_THREAD:
        return str_fact(p, r, "name", "periodic_thread.name") | str_fact(p, r, "level", "periodic_thread.level") |
               bool_fact(p, r, "is_running", "periodic_thread.is_running") |
               bool_fact(p, r, "is_active", "periodic_thread.is_active");
    case KVS_LMC_EP_PERIODIC_THREADS_HEALTH: return periodic_health_facts(p, r);
    case KVS_LMC_EP_QUOTA: return quota_facts(p, r);
    case KVS_LMC_EP_ENV: return env_facts(p, r);
    default: return 0;
    }
}

static const char *const scalar_keys[KVS_LMC_EP_COUNT] = {
    [KVS_LMC_EP_VERSION] = "version",
    [KVS_LMC_EP_LMC_VERSION] = "lmc_version",
    [KVS_LMC_EP_COMMIT_ID] = "commit_id",
};

int kvs_lmc_parse(kvs_lmc_ep ep, int http_status, const char *body, size_t len, kvs_lmc_payload *out)
{
    memset(out, 0, sizeof *out);
    out->ep = ep;
    out->http_status = http_status;
    out->raw_length = len;
    out->json_type = "";
    if (!body)
        body = "", len = 0;
    yajl_val root = NULL;
    if (len && kvs_lmc_json_depth_ok(body, len, KVS_LMC_MAX_JSON_DEPTH) && !memchr(body, 0, len)) {
        char *z = malloc(len + 1);
        if (!z)
            return -1;
        memcpy(z, body, len);
        z[len] = 0;
        root = yajl_tree_parse(z, NULL, 0);
        free(z);
    }
    int rc = 0;
    if (root) {
        out->is_json = 1;
        out->json_type = json_type(root);
        if (YAJL_IS_OBJECT(root)) {
            rc |= classify(out, root);
            rc |= object_facts(out, root);
        } else if (YAJL_IS_STRING(root)) {
            if (!(out->summary = clean_copy(root->u.string, strlen(root->u.string), KVS_LMC_SUMMARY_MAX)))
                rc = -1;
            else if (ep < KVS_LMC_EP_COUNT && scalar_keys[ep] && out->summary[0])
                rc |= f_str(out, scalar_keys[ep], out->summary, strlen(out->summary));
        } else if (YAJL_IS_ARRAY(root) && ep == KVS_LMC_EP_THREADS) {
            rc |= f_int(out, "threads.count", (int64_t)root->u.array.len);
        }
        yajl_tree_free(root);
    } else if (len) {
        if (!(out->summary = clean_copy(body, len, KVS_LMC_SUMMARY_MAX)))
            return -1;
        if (word_in(out->summary, good_words))
            out->health = KVS_LMC_HEALTHY;
        if (ep < KVS_LMC_EP_COUNT && scalar_keys[ep] && out->summary[0] && len < 200)
            rc |= f_str(out, scalar_keys[ep], out->summary, strlen(out->summary));
        if (ep == KVS_LMC_EP_THREADS)
            rc |= f_int(out, "threads.count", count_thread_lines(body, len));
    }
    if (http_status >= 500 && out->health != KVS_LMC_UNHEALTHY) {
        out->health = KVS_LMC_UNHEALTHY;
        char why[64];
        snprintf(why, sizeof why, "HTTP %d", http_status);
        rc |= set_reason(out, out->summary && out->summary[0] ? out->summary : why);
    } else if (http_status >= 400 && out->health == KVS_LMC_HEALTHY) {
        out->health = KVS_LMC_UNKNOWN;
    }
    if (out->health == KVS_LMC_UNHEALTHY && !out->reason) {
        char why[96];
        snprintf(why, sizeof why, "LMCache HTTP endpoint %s reported unhealthy", kvs_lmc_ep_key(ep));
        rc |= set_reason(out, why);
    }
    return rc ? -1 : 0;
}
