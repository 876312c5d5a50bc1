/* Receiver `lmcache_http`: the LMCache MP server's HTTP API as evidence.
 *
 * Every `interval` it GETs the read-only routes (/, health, status, conf,
 * version, lmc_version, commit_id, threads, periodic threads and their
 * health, quota; /env only with collect_env, /periodic-threads/{name} with
 * thread_name) from `endpoint`, trying the current paths first and the
 * older `/api/...` ones when a route answers 404 (api_paths: auto), and
 * turns each answer into an OTLP log record (event kvscope.lmcache.http)
 * whose attributes carry the facts of formats/lmcache_http, plus one
 * summary record per poll (kvscope.lmcache.http.summary) and gauges
 * (kvscope.lmcache.http.up, .healthy, L1 memory, objects, ...).
 *
 * It never calls a mutating route: requests are GET only, to paths from a
 * fixed table, each checked by kvs_lmc_route_is_safe before it is sent;
 * the routes it must not call are listed in every summary as skipped.
 * Unreachable, slow (bounded by `timeout`), unhealthy or garbage answers
 * are evidence, never an error of the receiver.
 *
 * With `include`, saved payloads are read instead (files named after the
 * endpoint: status.json, api_healthcheck.json, periodic-threads.txt, ...).
 * Replay (kvscope replay / diagnose): one poll (or one pass over the
 * files), then done. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/lmcache_http.h"
#include "receivers/evrx.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE "kvscope/lmcache_http"

typedef struct answer {
    int ok;                 /* an HTTP answer arrived */
    long status;
    char *body;
    size_t len, cap, max;
    int overflow;
    double ms;
    char err[CURL_ERROR_SIZE];
    int legacy;             /* answered on the /api/... path */
} answer;

typedef struct lmchttp {
    const char *id;
    kvs_evrx_sender out;
    const char *endpoint;
    uint64_t interval_ns, timeout_ns;
    int api_mode;           /* 0 auto, 1 current, 2 legacy */
    int collect_env;
    const char *thread_name;
    unsigned want;          /* endpoints to fetch (bits of kvs_lmc_ep) */
    size_t max_body;
    const char **include, **exclude;
    size_t ninclude, nexclude;
    const char **endpoints;
    size_t nendpoints;
    int replay;
    int legacy_known;       /* -1 unknown, 0 current paths answer, 1 legacy */
    CURL *curl;
    int curl_global;
    pthread_t thread;
    int running;
    uint64_t start_ns;
} lmchttp;

static const char *const keys[] = { "endpoint", "interval", "timeout", "api_paths", "collect_env", "thread_name",
                                    "endpoints", "max_body_size", "include", "exclude", NULL };
static const char *const api_modes[] = { "auto", "current", "legacy", NULL };

static void lh_free(lmchttp *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    if (h->curl_global)
        curl_global_cleanup();
    free(h->include);
    free(h->exclude);
    free(h->endpoints);
    free(h);
}

static int lh_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    lmchttp *h = calloc(1, sizeof *h);
    if (!h)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int64_t max_body;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_str(c, "endpoint", "http://localhost:8080", &h->endpoint, err) ||
        kvs_cfg_duration(c, "interval", 30 * KVS_SEC, &h->interval_ns, err) ||
        kvs_cfg_duration(c, "timeout", 5 * KVS_SEC, &h->timeout_ns, err) ||
        kvs_cfg_enum(c, "api_paths", api_modes, 0, &h->api_mode, err) ||
        kvs_cfg_bool(c, "collect_env", 0, &h->collect_env, err) ||
        kvs_cfg_str(c, "thread_name", NULL, &h->thread_name, err) ||
        kvs_cfg_strlist(c, "endpoints", &h->endpoints, &h->nendpoints, err) ||
        kvs_cfg_i64(c, "max_body_size", 4 << 20, 1024, 256LL << 20, &max_body, err) ||
        kvs_cfg_strlist(c, "include", &h->include, &h->ninclude, err) ||
        kvs_cfg_strlist(c, "exclude", &h->exclude, &h->nexclude, err)) {
        lh_free(h);
        return KVS_E_INVALID;
    }
    if (strncmp(h->endpoint, "http://", 7) != 0 && strncmp(h->endpoint, "https://", 8) != 0) {
        lh_free(h);
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "endpoint"), "%s: endpoint must be an http:// or https:// URL",
                              ctx->id);
    }
    if (h->interval_ns < 100 * KVS_MS || h->timeout_ns < KVS_MS) {
        lh_free(h);
        return kvs_cfg_errorf(err, c, "%s: interval must be at least 100ms and timeout at least 1ms", ctx->id);
    }
    if (h->thread_name && (!h->thread_name[0] || strpbrk(h->thread_name, "/?#"))) {
        lh_free(h);
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "thread_name"), "%s: thread_name must be a thread name",
                              ctx->id);
    }
    for (int e = 0; e < KVS_LMC_EP_COUNT; e++)
        if (e != KVS_LMC_EP_ENV && e != KVS_LMC_EP_PERIODIC_THREAD)
            h->want |= 1u << e;
    if (h->nendpoints) {
        h->want = 0;
        for (size_t i = 0; i < h->nendpoints; i++) {
            kvs_lmc_ep ep;
            if (kvs_lmc_ep_from_name(h->endpoints[i], strlen(h->endpoints[i]), &ep) != 0 || ep == KVS_LMC_EP_ENV ||
                ep == KVS_LMC_EP_PERIODIC_THREAD) {
                const kvs_cfg_node *at = kvs_cfg_get(c, "endpoints");
                if (at && at->type == KVS_CFG_SEQ && i < at->n)
                    at = at->items[i];
                int rc = kvs_cfg_errorf(err, at,
                                        "%s: unknown endpoint \"%s\" (root, health, status, conf, version, lmc_version,"
                                        " commit_id, threads, periodic_threads, periodic_threads_health, quota;"
                                        " /env is collect_env, one thread is thread_name)",
                                        ctx->id, h->endpoints[i]);
                lh_free(h);
                return rc;
            }
            h->want |= 1u << ep;
        }
    }
    if (h->collect_env)
        h->want |= 1u << KVS_LMC_EP_ENV;
    if (h->thread_name)
        h->want |= 1u << KVS_LMC_EP_PERIODIC_THREAD;
    h->max_body = (size_t)max_body;
    h->legacy_known = h->api_mode == 1 ? 0 : h->api_mode == 2 ? 1 : -1;
    h->id = ctx->id;
    kvs_evrx_sender_init(&h->out, ctx);
    h->replay = kvs_host_replay(ctx->host);
    if (h->replay)
        kvs_host_replay_join(ctx->host);
    *state = h;
    return 0;
}

/* ---- fetching ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    answer *a = ud;
    size_t len = sz * n;
    if (a->len + len > a->max) {
        a->overflow = 1;
        len = a->max - a->len;
    }
    if (a->len + len + 1 > a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 16384;
        while (ncap < a->len + len + 1)
            ncap *= 2;
        char *g = realloc(a->body, ncap);
        if (!g)
            return 0;
        a->body = g;
        a->cap = ncap;
    }
    memcpy(a->body + a->len, p, len);
    a->len += len;
    a->body[a->len] = 0;
    return sz * n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return kvs_host_stopping(ud) ? 1 : 0;
}

/* One GET of `path` (already checked safe). */
static void get(lmchttp *h, const char *path, answer *a)
{
    char url[2048];
    size_t el = strlen(h->endpoint);
    while (el && h->endpoint[el - 1] == '/')
        el--;
    snprintf(url, sizeof url, "%.*s%s", (int)el, h->endpoint, path);
    a->len = 0;
    a->overflow = 0;
    a->ok = 0;
    a->status = 0;
    a->err[0] = 0;
    a->max = h->max_body;
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(h->timeout_ns / KVS_MS));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->timeout_ns / KVS_MS));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kvscope/" KVS_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->err);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, h->out.host);
    uint64_t t0 = kvs_now_ns();
    CURLcode rc = curl_easy_perform(c);
    a->ms = (double)(kvs_now_ns() - t0) / 1e6;
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && a->overflow)) {
        a->ok = 1;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    } else if (!a->err[0]) {
        snprintf(a->err, sizeof a->err, "%s", curl_easy_strerror(rc));
    }
}

/* Fetches endpoint ep, trying the other path layout when the first one
 * answers 404 and the layout is not fixed. */
static void fetch(lmchttp *h, kvs_lmc_ep ep, answer *a, char *path, size_t cap)
{
    int first = h->legacy_known == 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        int legacy = attempt ? !first : first;
        const char *p = kvs_lmc_ep_path(ep, legacy);
        if (ep == KVS_LMC_EP_PERIODIC_THREAD) {
            char *esc = curl_easy_escape(h->curl, h->thread_name, 0);
            snprintf(path, cap, "%s%s", p, esc ? esc : "");
            curl_free(esc);
        } else {
            snprintf(path, cap, "%s", p);
        }
        if (!kvs_lmc_route_is_safe("GET", path)) {
            /* unreachable by construction; the guard stays anyway */
            snprintf(a->err, sizeof a->err, "route %.200s refused by the safety guard", path);
            a->ok = 0;
            return;
        }
        get(h, path, a);
        a->legacy = legacy;
        int moved = strcmp(kvs_lmc_ep_path(ep, 0), kvs_lmc_ep_path(ep, 1)) != 0;
        if (!moved || h->api_mode != 0 || !a->ok || a->status != 404 || attempt == 1)
            break;
    }
    if (a->ok && a->status >= 200 && a->status < 300 &&
        strcmp(kvs_lmc_ep_path(ep, 0), kvs_lmc_ep_path(ep, 1)) != 0)
        h->legacy_known = a->legacy;
}

/* ---- evidence ---- */

typedef struct roll {
    int reachable, healthy_seen, unhealthy_seen;
    const char *codes[KVS_LMC_EP_COUNT], *unavailable[KVS_LMC_EP_COUNT], *fetched[KVS_LMC_EP_COUNT];
    char *messages[KVS_LMC_EP_COUNT];
    char codebuf[KVS_LMC_EP_COUNT][64];
    size_t ncodes, nunavail, nfetched;
    int up[KVS_LMC_EP_COUNT];
    double ms[KVS_LMC_EP_COUNT];
    kvs_lmc_payload status;     /* kept for the gauges */
    int have_status, pt_running_set, pt_unhealthy_set, quota_set;
    double pt_running, pt_unhealthy, quota_usage;
} roll;

static void add_facts(kvs_evrx_out *o, const kvs_lmc_payload *p)
{
    char key[160];
    for (size_t i = 0; i < p->nfacts; i++) {
        const kvs_lmc_fact *f = &p->facts[i];
        snprintf(key, sizeof key, "lmcache.%s", f->key);
        switch (f->type) {
        case KVS_LMC_F_BOOL: kvs_evrx_bool(o, key, f->b); break;
        case KVS_LMC_F_INT: kvs_evrx_int(o, key, f->i); break;
        case KVS_LMC_F_DOUBLE: kvs_evrx_dbl(o, key, f->d); break;
        case KVS_LMC_F_STR: kvs_evrx_str(o, key, f->s); break;
        case KVS_LMC_F_STRLIST: kvs_evrx_strs(o, key, (const char *const *)f->list, f->nlist); break;
        }
    }
}

static double fact_num(const kvs_lmc_payload *p, const char *k, int *found)
{
    const kvs_lmc_fact *f = kvs_lmc_fact_get(p, k);
    *found = f && (f->type == KVS_LMC_F_INT || f->type == KVS_LMC_F_DOUBLE || f->type == KVS_LMC_F_STRLIST);
    if (!*found)
        return 0;
    return f->type == KVS_LMC_F_INT ? (double)f->i : f->type == KVS_LMC_F_DOUBLE ? f->d : (double)f->nlist;
}

/* One endpoint's answer (or saved payload) as a record; rolled up in r. */
static void record(lmchttp *h, kvs_evrx_out *o, roll *r, kvs_lmc_ep ep, const char *source, const char *path,
                   const answer *a, const char *body, size_t len, long status, int fetched)
{
    kvs_lmc_payload p;
    int parsed = 0;
    if (!fetched || a->ok) {
        if (kvs_lmc_parse(ep, (int)status, body, len, &p) != 0) {
            kvs_lmc_payload_free(&p);
            return;
        }
        parsed = 1;
    } else {
        memset(&p, 0, sizeof p);
        p.ep = ep;
        p.health = KVS_LMC_UNAVAILABLE;
    }
    const char *key = kvs_lmc_ep_key(ep);
    char line[512];
    if (p.health == KVS_LMC_UNAVAILABLE)
        snprintf(line, sizeof line, "GET %s: unavailable: %s", path, a->err);
    else
        snprintf(line, sizeof line, "GET %s: %ld %s%s%s", path, status, kvs_lmc_health_name(p.health),
                 p.reason ? ": " : "", p.reason ? p.reason : "");
    int bad = p.health == KVS_LMC_UNHEALTHY || p.health == KVS_LMC_UNAVAILABLE;
    kvs_evrx_log(o, kvs_wall_ns(), "kvscope.lmcache.http", bad ? 13 : 9, bad ? "WARN" : "INFO", line, strlen(line));
    kvs_evrx_str(o, "kvscope.evidence.kind", "http");
    kvs_evrx_str(o, "kvscope.lmcache.http.endpoint", key);
    kvs_evrx_str(o, "kvscope.lmcache.http.status", kvs_lmc_health_name(p.health));
    kvs_evrx_str(o, fetched ? "url.full" : "log.file.path", source);
    kvs_evrx_str(o, "url.path", path);
    kvs_evrx_str(o, "http.request.method", "GET");
    if (fetched) {
        kvs_evrx_dbl(o, "kvscope.lmcache.http.duration_ms", a->ms);
        if (a->ok) {
            kvs_evrx_int(o, "http.response.status_code", status);
            kvs_evrx_str(o, "kvscope.lmcache.http.api_layout", a->legacy ? "legacy" : "current");
        } else {
            kvs_evrx_str(o, "error.type", "unavailable");
            kvs_evrx_str(o, "kvscope.lmcache.http.error", a->err);
        }
        if (a->overflow)
            kvs_evrx_bool(o, "kvscope.lmcache.http.body_truncated", 1);
    }
    if (parsed) {
        kvs_evrx_str(o, "kvscope.lmcache.http.content_type", p.is_json ? "json" : "text");
        if (p.is_json)
            kvs_evrx_str(o, "kvscope.lmcache.http.json_type", p.json_type);
        kvs_evrx_int(o, "kvscope.lmcache.http.raw_length", (int64_t)p.raw_length);
        if (p.reason)
            kvs_evrx_str(o, "kvscope.lmcache.http.reason", p.reason);
        if (p.summary && p.summary[0])
            kvs_evrx_str(o, "kvscope.lmcache.http.summary", p.summary);
        add_facts(o, &p);
    }
    if (r->nfetched < KVS_LMC_EP_COUNT)
        r->fetched[r->nfetched++] = key;
    if (p.health == KVS_LMC_UNAVAILABLE) {
        if (r->nunavail < KVS_LMC_EP_COUNT)
            r->unavailable[r->nunavail++] = key;
    } else {
        r->reachable = 1;
        r->up[ep] = status == 0 || (status >= 200 && status < 300);
    }
    r->ms[ep] = fetched ? a->ms : 0;
    if (p.health == KVS_LMC_HEALTHY)
        r->healthy_seen = 1;
    if (p.health == KVS_LMC_UNHEALTHY)
        r->unhealthy_seen = 1;
    if (p.health == KVS_LMC_UNHEALTHY && r->ncodes < KVS_LMC_EP_COUNT) {
        r->unhealthy_seen = 1;
        snprintf(r->codebuf[ep], sizeof r->codebuf[ep], "lmcache_http_%s_unhealthy", key);
        r->codes[r->ncodes] = r->codebuf[ep];
        r->messages[r->ncodes++] = strdup(p.reason ? p.reason : "");
    }
    int found;
    double v;
    if (ep == KVS_LMC_EP_PERIODIC_THREADS && (v = fact_num(&p, "periodic_threads.running", &found), found))
        r->pt_running = v, r->pt_running_set = 1;
    if (ep == KVS_LMC_EP_PERIODIC_THREADS_HEALTH &&
        (v = fact_num(&p, "periodic_threads.unhealthy_count", &found), found))
        r->pt_unhealthy = v, r->pt_unhealthy_set = 1;
    if (ep == KVS_LMC_EP_QUOTA && (v = fact_num(&p, "quota.usage_gb", &found), found))
        r->quota_usage = v, r->quota_set = 1;
    if (ep == KVS_LMC_EP_STATUS && parsed && !r->have_status) {
        r->status = p;
        r->have_status = 1;
        return;
    }
    kvs_lmc_payload_free(&p);
}

static void summary(lmchttp *h, kvs_evrx_out *o, roll *r, const char *source)
{
    int healthy = r->healthy_seen && !r->unhealthy_seen;
    char line[256];
    snprintf(line, sizeof line, "LMCache HTTP %s: %s, %zu endpoints, %zu unavailable, %zu unhealthy", source,
             !r->reachable ? "unreachable" : healthy ? "healthy" : r->unhealthy_seen ? "unhealthy" : "health unknown",
             r->nfetched, r->nunavail, r->ncodes);
    kvs_evrx_log(o, kvs_wall_ns(), "kvscope.lmcache.http.summary", healthy ? 9 : 13, healthy ? "INFO" : "WARN", line,
               strlen(line));
    kvs_evrx_str(o, "kvscope.evidence.kind", "http");
    kvs_evrx_str(o, "url.full", source);
    kvs_evrx_bool(o, "kvscope.lmcache.http.reachable", r->reachable);
    kvs_evrx_bool(o, "kvscope.lmcache.http.is_healthy", healthy);
    kvs_evrx_strs(o, "kvscope.lmcache.http.endpoints", r->fetched, r->nfetched);
    kvs_evrx_strs(o, "kvscope.lmcache.http.unavailable", r->unavailable, r->nunavail);
    kvs_evrx_strs(o, "kvscope.lmcache.http.failure_reasons", r->codes, r->ncodes);
    kvs_evrx_strs(o, "kvscope.lmcache.http.failure_messages", (const char *const *)r->messages, r->ncodes);
    if (h->legacy_known >= 0)
        kvs_evrx_str(o, "kvscope.lmcache.http.api_layout", h->legacy_known ? "legacy" : "current");
    size_t n;
    const kvs_lmc_skipped *sk = kvs_lmc_skipped_routes(&n);
    const char *items[16];
    char buf[16][200];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 16; i++) {
        if (h->collect_env && strcmp(sk[i].status, "sensitive_skipped") == 0)
            continue;
        snprintf(buf[k], sizeof buf[k], "%s (%s: %s)", sk[i].endpoint, sk[i].status, sk[i].reason);
        items[k] = buf[k];
        k++;
    }
    kvs_evrx_strs(o, "kvscope.lmcache.http.skipped_endpoints", items, k);
}

static void gauges(lmchttp *h, kvs_evrx_out *m, roll *r, const char *source)
{
    uint64_t now = kvs_wall_ns();
    (void)h;
#define G(name, unit, desc, val)                                                                             \
    do {                                                                                                     \
        kvs_evrx_gauge(m, name, unit, desc, now, val);                                                         \
        kvs_evrx_str(m, "url.full", source);                                                                   \
    } while (0)
    G("kvscope.lmcache.http.up", "1", "1 when the LMCache HTTP API answered", r->reachable);
    G("kvscope.lmcache.http.healthy", "1", "1 when healthy (a healthy answer and no unhealthy one)",
      r->healthy_seen && !r->unhealthy_seen);
    for (int e = 0; e < KVS_LMC_EP_COUNT; e++) {
        int fetched = 0;
        for (size_t i = 0; i < r->nfetched; i++)
            fetched |= strcmp(r->fetched[i], kvs_lmc_ep_key((kvs_lmc_ep)e)) == 0;
        if (!fetched)
            continue;
        G("kvscope.lmcache.http.endpoint.up", "1", "1 when the endpoint answered 2xx", r->up[e]);
        kvs_evrx_str(m, "kvscope.lmcache.http.endpoint", kvs_lmc_ep_key((kvs_lmc_ep)e));
        G("kvscope.lmcache.http.request.duration", "ms", "time to answer", r->ms[e]);
        kvs_evrx_str(m, "kvscope.lmcache.http.endpoint", kvs_lmc_ep_key((kvs_lmc_ep)e));
    }
    static const struct { const char *fact, *name, *unit, *desc; } st[] = {
        { "l1.memory_used_bytes", "kvscope.lmcache.http.l1.memory_used", "By", "L1 bytes in use (/status)" },
        { "l1.memory_total_bytes", "kvscope.lmcache.http.l1.memory_total", "By", "L1 bytes backed (/status)" },
        { "l1.memory_usage_ratio", "kvscope.lmcache.http.l1.memory_usage_ratio", "1", "L1 used / total" },
        { "l1.object_count", "kvscope.lmcache.http.l1.objects", "{object}", "objects in L1" },
        { "l1.read_locked_count", "kvscope.lmcache.http.l1.read_locked", "{object}", "read-locked L1 objects" },
        { "active_sessions", "kvscope.lmcache.http.active_sessions", "{session}", "open sessions" },
        { "active_prefetch_jobs", "kvscope.lmcache.http.active_prefetch_jobs", "{job}", "prefetch jobs in flight" },
        { "unhealthy_components", "kvscope.lmcache.http.unhealthy_components", "{component}",
          "nested components reporting unhealthy" },
    };
    if (r->have_status) {
        for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
            int found;
            double v = fact_num(&r->status, st[i].fact, &found);
            if (found || strcmp(st[i].fact, "unhealthy_components") == 0)
                G(st[i].name, st[i].unit, st[i].desc, v);
        }
    }
    if (r->pt_running_set)
        G("kvscope.lmcache.http.periodic_threads.running", "{thread}", "periodic threads running", r->pt_running);
    if (r->pt_unhealthy_set)
        G("kvscope.lmcache.http.periodic_threads.unhealthy", "{thread}", "periodic threads unhealthy",
          r->pt_unhealthy);
    if (r->quota_set)
        G("kvscope.lmcache.http.quota.usage", "GBy", "bytes used by all cache_salt tenants", r->quota_usage);
#undef G
}

static void emit(lmchttp *h, kvs_evrx_out *o, roll *r, const char *source)
{
    summary(h, o, r, source);
    kvs_evrx_flush(&h->out, o);
    if (kvs_evrx_wired(&h->out, KVS_SIG_METRICS)) {
        kvs_evrx_out m;
        if (kvs_evrx_begin(&m, KVS_SIG_METRICS, SCOPE, NULL, 0) == 0) {
            gauges(h, &m, r, source);
            kvs_evrx_flush(&h->out, &m);
        }
    }
    for (size_t i = 0; i < r->ncodes; i++)
        free(r->messages[i]);
    if (r->have_status)
        kvs_lmc_payload_free(&r->status);
}

static void poll_once(lmchttp *h)
{
    kvs_evrx_out o;
    if (kvs_evrx_begin(&o, KVS_SIG_LOGS, SCOPE, NULL, 0) != 0)
        return;
    roll r;
    memset(&r, 0, sizeof r);
    answer a = { 0 };
    char path[512];
    for (int e = 0; e < KVS_LMC_EP_COUNT && !kvs_host_stopping(h->out.host); e++) {
        if (!(h->want & (1u << e)))
            continue;
        fetch(h, (kvs_lmc_ep)e, &a, path, sizeof path);
        record(h, &o, &r, (kvs_lmc_ep)e, h->endpoint, path, &a, a.body, a.len, a.status, 1);
    }
    free(a.body);
    emit(h, &o, &r, h->endpoint);
}

/* Saved payloads: each file is one endpoint's answer, named after it. */
static void read_files(lmchttp *h)
{
    char **paths;
    size_t n = kvs_evrx_glob((const char *const *)h->include, h->ninclude, (const char *const *)h->exclude,
                           h->nexclude, &paths);
    if (n == 0)
        KVS_WARN(h->id, "no file matches include");
    kvs_evrx_out o;
    if (kvs_evrx_begin(&o, KVS_SIG_LOGS, SCOPE, NULL, 0) != 0) {
        kvs_evrx_paths_free(paths, n);
        return;
    }
    roll r;
    memset(&r, 0, sizeof r);
    answer a = { 0 };
    a.ok = 1;
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(paths[i], '/');
        base = base ? base + 1 : paths[i];
        size_t stem = strcspn(base, ".");
        kvs_lmc_ep ep;
        if (kvs_lmc_ep_from_name(base, stem, &ep) != 0) {
            KVS_WARN(h->id, "%s: not named after an LMCache HTTP endpoint (e.g. status.json); skipped", paths[i]);
            kvs_tel_add(&h->out.tel->errors, 1);
            continue;
        }
        FILE *f = fopen(paths[i], "rb");
        size_t len = 0;
        char *body = malloc(h->max_body + 1);
        if (f && body)
            len = fread(body, 1, h->max_body, f);
        if (f)
            fclose(f);
        if (!f || !body) {
            KVS_WARN(h->id, "cannot read %s", paths[i]);
            kvs_tel_add(&h->out.tel->errors, 1);
            free(body);
            continue;
        }
        kvs_host_progress(h->out.host, len, 1);
        record(h, &o, &r, ep, paths[i], kvs_lmc_ep_path(ep, 0), &a, body, len, 0, 0);
        free(body);
    }
    emit(h, &o, &r, n ? paths[0] : "(no files)");
    kvs_evrx_paths_free(paths, n);
}

static void *lh_main(void *arg)
{
    lmchttp *h = arg;
    h->start_ns = kvs_now_ns();
    if (h->ninclude) {
        read_files(h);
    } else {
        for (;;) {
            poll_once(h);
            if (h->replay || kvs_host_stopping(h->out.host))
                break;
            kvs_evrx_sleep(h->out.host, h->interval_ns);
            if (kvs_host_stopping(h->out.host))
                break;
        }
    }
    if (h->replay)
        kvs_host_receiver_done(h->out.host);
    return NULL;
}

static int lh_start(void *state, kvs_error *err)
{
    lmchttp *h = state;
    if (!h->ninclude) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return kvs_errorf(err, KVS_E_IO, "%s: cannot initialise libcurl", h->id);
        h->curl_global = 1;
        if (!(h->curl = curl_easy_init()))
            return kvs_errorf(err, KVS_E_IO, "%s: cannot initialise libcurl", h->id);
    }
    if (pthread_create(&h->thread, NULL, lh_main, h) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the polling thread", h->id);
    h->running = 1;
    return 0;
}

static void lh_shutdown(void *state, uint64_t deadline_ns)
{
    lmchttp *h = state;
    (void)deadline_ns;
    if (h->running) {
        pthread_join(h->thread, NULL);
        h->running = 0;
    }
}

static void lh_destroy(void *state) { lh_free(state); }

const kvs_component_def kvs_receiver_lmcache_http = {
    .type = "lmcache_http",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_LOGS | KVS_SIG_METRICS,
    .create = lh_create,
    .start = lh_start,
    .shutdown = lh_shutdown,
    .destroy = lh_destroy,
};
