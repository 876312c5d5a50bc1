/* LMCache MP HTTP API routes and secrets (see lmcache_http.h): which
 * routes exist under the current and the older `/api/...` layout, which
 * of them only read (the guard every request passes), the mutating ones
 * an evidence collector lists as skipped, and which environment variables
 * must not be shown. */
#include "formats/lmcache_http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int word_in(const char *s, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

/* ---- routes ---- */

static const struct { const char *key, *path, *legacy; } eps[KVS_LMC_EP_COUNT] = {
    [KVS_LMC_EP_ROOT] = { "root", "/", "/" },
    [KVS_LMC_EP_HEALTH] = { "health", "/healthcheck", "/api/healthcheck" },
    [KVS_LMC_EP_STATUS] = { "status", "/status", "/api/status" },
    [KVS_LMC_EP_CONF] = { "conf", "/conf", "/conf" },
    [KVS_LMC_EP_VERSION] = { "version", "/version", "/version" },
    [KVS_LMC_EP_LMC_VERSION] = { "lmc_version", "/lmc_version", "/lmc_version" },
    [KVS_LMC_EP_COMMIT_ID] = { "commit_id", "/commit_id", "/commit_id" },
    [KVS_LMC_EP_THREADS] = { "threads", "/threads", "/threads" },
    [KVS_LMC_EP_PERIODIC_THREADS] = { "periodic_threads", "/periodic-threads", "/periodic-threads" },
    [KVS_LMC_EP_PERIODIC_THREAD] = { "periodic_thread", "/periodic-threads/", "/periodic-threads/" },
    [KVS_LMC_EP_PERIODIC_THREADS_HEALTH] = { "periodic_threads_health", "/periodic-threads-health",
                                             "/periodic-threads-health" },
    [KVS_LMC_EP_QUOTA] = { "quota", "/quota", "/api/quota" },
    [KVS_LMC_EP_ENV] = { "env", "/env", "/env" },
};

const char *kvs_lmc_ep_key(kvs_lmc_ep ep) { return ep < KVS_LMC_EP_COUNT ? eps[ep].key : "unknown"; }

const char *kvs_lmc_ep_path(kvs_lmc_ep ep, int legacy)
{
    if (ep >= KVS_LMC_EP_COUNT)
        return "/";
    return legacy ? eps[ep].legacy : eps[ep].path;
}

int kvs_lmc_ep_from_name(const char *name, size_t n, kvs_lmc_ep *out)
{
    char k[64];
    if (n >= sizeof k)
        return -1;
    for (size_t i = 0; i < n; i++)
        k[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
    k[n] = 0;
    const char *s = k;
    if (strncmp(s, "lmcache_http_", 13) == 0)
        s += 13;
    if (strncmp(s, "api_", 4) == 0)
        s += 4;
    if (strcmp(s, "healthcheck") == 0)
        s = "health";
    for (int i = 0; i < KVS_LMC_EP_COUNT; i++)
        if (strcmp(s, eps[i].key) == 0) {
            *out = (kvs_lmc_ep)i;
            return 0;
        }
    return -1;
}

int kvs_lmc_route_is_safe(const char *method, const char *path)
{
    if (!method || !path || strcmp(method, "GET") != 0 || path[0] != '/' || strchr(path, '#'))
        return 0;
    size_t n = strcspn(path, "?");
    for (int i = 0; i < KVS_LMC_EP_COUNT; i++) {
        for (int legacy = 0; legacy < 2; legacy++) {
            const char *p = legacy ? eps[i].legacy : eps[i].path;
            size_t pn = strlen(p);
            if (i == KVS_LMC_EP_PERIODIC_THREAD) {
                /* /periodic-threads/{name}: one non-empty segment */
                if (n > pn && strncmp(path, p, pn) == 0 && !memchr(path + pn, '/', n - pn))
                    return 1;
            } else if (n == pn && strncmp(path, p, pn) == 0) {
                return 1;
            }
        }
    }
    return n == 8 && strncmp(path, "/metrics", 8) == 0;
}

static const kvs_lmc_skipped skipped[] = {
    { "GET /env", "sensitive_skipped",
      "environment may hold credentials; fetched only with collect_env: true, secrets redacted" },
    { "POST /clear-cache", "destructive_skipped", "drops the whole KV cache (also /api/clear-cache)" },
    { "POST /metrics/reset", "destructive_skipped", "resets the server's counters" },
    { "PUT /quota/{cache_salt}", "destructive_skipped", "changes a tenant quota (also /api/quota/...)" },
    { "DELETE /quota/{cache_salt}", "destructive_skipped", "removes a tenant quota (also /api/quota/...)" },
    { "GET /loglevel?level=", "destructive_skipped", "changes the server's log level" },
    { "POST /run_script", "destructive_skipped", "executes code on the server" },
    { "DELETE /l2", "destructive_skipped", "deletes L2 objects" },
    { "PATCH /config/policies", "destructive_skipped", "changes runtime policies" },
    { "POST /reconfigure/...", "destructive_skipped", "adds, removes or resizes cache tiers" },
};

const kvs_lmc_skipped *kvs_lmc_skipped_routes(size_t *n)
{
    *n = sizeof skipped / sizeof skipped[0];
    return skipped;
}

const char *kvs_lmc_health_name(kvs_lmc_health h)
{
    static const char *const names[] = { "unknown", "healthy", "unhealthy", "unavailable" };
    return h <= KVS_LMC_UNAVAILABLE ? names[h] : "unknown";
}

/* ---- secrets ---- */

static int secret_name(const char *key)
{
    static const char *const parts[] = { "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWD",
                                         "PASS", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS", "CREDS",
                                         "APIKEY", "KEY", "KEYS", "AUTH", "AUTHORIZATION", "COOKIE",
                                         "SESSION", "SIGNATURE", "PRIVATE", "DSN", "SALT", NULL };
    char part[48];
    size_t n = 0;
    for (const char *c = key;; c++) {
        if (*c && *c != '_' && *c != '-' && *c != '.') {
            if (n < sizeof part - 1)
                part[n++] = (char)toupper((unsigned char)*c);
            continue;
        }
        part[n] = 0;
        if (n && word_in(part, parts))
            return 1;
        n = 0;
        if (!*c)
            return 0;
    }
}

static int secret_value(const char *v)
{
    static const char *const prefixes[] = { "hf_", "sk-", "ghp_", "gho_", "ghs_", "github_pat_", "xoxb-",
                                            "xoxp-", "AKIA", "ASIA", "Bearer ", "Basic ", "eyJ", NULL };
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(v, prefixes[i], strlen(prefixes[i])) == 0 && strlen(v) > strlen(prefixes[i]) + 8)
            return 1;
    const char *scheme = strstr(v, "://");
    if (scheme) {
        const char *at = strchr(scheme + 3, '@');
        const char *slash = strchr(scheme + 3, '/');
        if (at && (!slash || at < slash) && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)))
            return 1;
    }
    size_t n = strlen(v);
    if (n >= 32) {
        int alpha = 0, digit = 0, other = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)v[i];
            if (isalpha(c))
                alpha = 1;
            else if (isdigit(c))
                digit = 1;
            else if (c != '+' && c != '=' && c != '_' && c != '-')
                other = 1;
        }
        if (alpha && digit && !other)
            return 1;
    }
    return 0;
}

int kvs_lmc_env_is_secret(const char *key, const char *value)
{
    return (key && secret_name(key)) || (value && secret_value(value));
}
