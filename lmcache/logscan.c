/* Log line classification (see logscan.h). Matching is on a lower-cased
 * copy without ANSI escapes; connector names are matched on the
 * original-case copy. */
#include "lmcache/logscan.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const cat_names[KVS_LMC_LOG__COUNT] = {
    "store", "retrieve", "prefetch_complete", "p2p_transfer", "p2p_peer",
    "p2p_transfer_failure", "p2p_transfer_speed", "pd_sender", "pd_receiver",
    "pd_role_mismatch", "pd_stall", "nixl_proxy", "nixl_request", "health_startup",
    "remote_backend_error", "zero_hit",
};

const char *kvs_lmc_log_cat_name(kvs_lmc_log_cat c)
{
    return (unsigned)c < KVS_LMC_LOG__COUNT ? cat_names[c] : "unknown";
}

static bool has(const char *l, const char *w) { return strstr(l, w) != NULL; }

static bool any(const char *l, const char *const *ws)
{
    for (; *ws; ws++)
        if (strstr(l, *ws))
            return true;
    return false;
}

static bool wordch(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* w occurs in l with no word character right before or after it. */
static bool has_word(const char *l, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(l, w); p; p = strstr(p + 1, w))
        if ((p == l || !wordch(p[-1])) && !wordch(p[n]))
            return true;
    return false;
}

static bool any_word(const char *l, const char *const *ws)
{
    for (; *ws; ws++)
        if (has_word(l, *ws))
            return true;
    return false;
}

/* Copies without ANSI CSI escapes; lower-cases into low. */
static size_t clean(const char *in, size_t n, char *orig, char *low)
{
    size_t o = 0;
    if (n > KVS_LMC_LOG_MAX_LINE)
        n = KVS_LMC_LOG_MAX_LINE;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == 0x1b && i + 1 < n && in[i + 1] == '[') {
            i += 2;
            while (i < n && !((in[i] >= '@' && in[i] <= '~')))
                i++;
            continue;
        }
        if (c == '\0')
            c = ' ';
        orig[o] = (char)c;
        low[o] = (char)tolower(c);
        o++;
    }
    orig[o] = low[o] = '\0';
    return o;
}

static const char *const connectors[] = {
    "LMCacheConnectorV1Dynamic", "LMCacheLayerwiseConnector", "LMCacheMPConnector",
    "LMCacheConnectorV1", "LMCacheConnector", NULL,
};

static const char *find_connector(const char *orig)
{
    for (const char *const *c = connectors; *c; c++)
        if (has_word(orig, *c))
            return *c;
    return NULL;
}

static const char *skip_sep(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '=' && *p != ':')
        return NULL;
    p++;
    while (*p == ' ' || *p == '\t' || *p == '"' || *p == '\'')
        p++;
    return p;
}

static void find_hashseed(const char *low, const char *orig, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(low, "pythonhashseed");
    if (!p)
        return;
    const char *v = skip_sep(p + strlen("pythonhashseed"));
    if (!v)
        return;
    v = orig + (v - low);
    size_t n = 0;
    while (n + 1 < cap && (isalnum((unsigned char)v[n]) || v[n] == '_' || v[n] == '.' || v[n] == '-'))
        n++;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* enable[_-]?<what> [=:] value */
static int find_bool_hint(const char *low, const char *what)
{
    int result = -1;
    for (const char *p = strstr(low, "enable"); p; p = strstr(p + 1, "enable")) {
        if (p > low && wordch(p[-1]))
            continue;
        const char *q = p + 6;
        if (*q == '_' || *q == '-')
            q++;
        size_t wn = strlen(what);
        if (strncmp(q, what, wn) != 0 || wordch(q[wn]))
            continue;
        const char *v = skip_sep(q + wn);
        if (!v)
            continue;
        static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no"};
        for (int i = 0; i < 3; i++) {
            size_t a = strlen(yes[i]), b = strlen(no[i]);
            if (strncmp(v, yes[i], a) == 0 && !wordch(v[a]))
                result = 1;
            else if (strncmp(v, no[i], b) == 0 && !wordch(v[b]))
                result = 0;
        }
    }
    return result;
}

/* number [ws] unit; fills out and returns true on the first match. */
static bool find_speed(const char *orig, kvs_lmc_logline *out)
{
    static const struct {
        const char *unit;
        double gbps;     /* factor to GB/s, 0 for token units */
    } units[] = {
        {"tokens/s", 0}, {"tok/s", 0}, {"gbytes/s", 1}, {"mbytes/s", 1e-3}, {"kbytes/s", 1e-6},
        {"bytes/s", 1e-9}, {"gib/s", 1.073741824}, {"mib/s", 1.048576e-3}, {"kib/s", 1.024e-6},
        {"gb/s", 1}, {"mb/s", 1e-3}, {"kb/s", 1e-6}, {"tb/s", 1e3}, {"b/s", 1e-9},
    };
    for (const char *p = orig; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > orig && (isalnum((unsigned char)p[-1]) || p[-1] == '.')))
            continue;
        char *end;
        double v = strtod(p, &end);
        const char *u = end;
        while (*u == ' ' || *u == '\t')
            u++;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
            size_t un = strlen(units[i].unit);
            if (strncasecmp(u, units[i].unit, un) != 0 || wordch(u[un]))
                continue;
            out->speed = v;
            size_t cn = un < sizeof out->speed_unit - 1 ? un : sizeof out->speed_unit - 1;
            memcpy(out->speed_unit, u, cn);
            out->speed_unit[cn] = '\0';
            if (units[i].gbps > 0)
                out->speed_gbps = v * units[i].gbps;
            else
                out->speed_tokens_s = v;
            return true;
        }
        p = end > p ? end - 1 : p;
    }
    return false;
}

static long number_after(const char *low, const char *key)
{
    const char *p = strstr(low, key);
    if (!p)
        return -1;
    p += strlen(key);
    while (*p == ' ' || *p == ':' || *p == '=')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    return strtol(p, NULL, 10);
}

static void find_hits(const char *low, kvs_lmc_logline *out)
{
    /* embedded: "Total tokens 1024, LMCache hit tokens: 0" */
    long hit = number_after(low, "lmcache hit tokens");
    if (hit >= 0) {
        out->hit_tokens = hit;
        out->total_tokens = number_after(low, "total tokens");
        return;
    }
    /* MP: "Prefetch request completed (L1+L2): 0/8 prefix hits" */
    const char *p = strstr(low, " prefix hits");
    if (!p)
        return;
    const char *s = p;
    while (s > low && (isdigit((unsigned char)s[-1]) || s[-1] == '/'))
        s--;
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/')
        return;
    long b = strtol(end + 1, &end, 10);
    if (end != p)
        return;
    out->hit_tokens = a;
    out->total_tokens = b;
}

void kvs_lmc_logscan(const char *line, size_t n, kvs_lmc_logline *out)
{
    char orig[KVS_LMC_LOG_MAX_LINE + 1], low[KVS_LMC_LOG_MAX_LINE + 1];
    memset(out, 0, sizeof *out);
    out->enable_p2p = out->enable_pd = out->enable_async = -1;
    out->speed = out->speed_gbps = out->speed_tokens_s = NAN;
    out->hit_tokens = out->total_tokens = -1;
    if (!line)
        return;
    clean(line, n, orig, low);

    static const char *const store_w[] = {"store", "stores", "storing", "stored", "save", "saving", "saved", NULL};
    static const char *const retr_w[] = {"retrieve", "retrieving", "retrieved", "loaded", NULL};
    static const char *const done_w[] = {"complete", "completed", "done", "finish", "finished", "loaded", "succeed", "success", NULL};
    static const char *const xfer_w[] = {"transfer", "transferred", "send", "sent", "recv", "receive", "received", "tokens", NULL};
    static const char *const peer_w[] = {"peer", "connect", "connected", "controller", "lookup", NULL};
    static const char *const fail_w[] = {"fail", "failed", "failure", "error", "exception", "timeout", "timed out", "disconnect", "connection refused", "unreachable", "retry", NULL};
    static const char *const spd_w[] = {"throughput", "bandwidth", "transfer rate", "speed", NULL};
    static const char *const pd_any[] = {"nixl", "disaggregated", "prefill", "decode", "kv_role", NULL};
    static const char *const snd_ctx[] = {"nixl", "disaggregated", "prefill", "prefiller", NULL};
    static const char *const snd_w[] = {"sender", "producer", "kv_producer", "kv_both", "prefiller", NULL};
    static const char *const rcv_ctx[] = {"nixl", "disaggregated", "decode", "decoder", NULL};
    static const char *const rcv_w[] = {"receiver", "consumer", "kv_consumer", "kv_both", "decoder", NULL};
    static const char *const mm_w[] = {"role mismatch", "role_mismatch", "wrong role", "unexpected role", NULL};
    static const char *const stall_ctx[] = {"nixl", "disaggregated", "prefill", "decode", "pd ", NULL};
    static const char *const stall_w[] = {"stall", "stalled", "stuck", "timeout", "timed out", "deadlock", "waiting for", "no request", "no response", "no kv", NULL};
    static const char *const req_w[] = {"request", "request_id", "req_id", "req=", "transfer request", NULL};
    static const char *const hs_ctx[] = {"lmcache", "vllm", "uvicorn", "api server", NULL};
    static const char *const hs_w[] = {"started", "starting", "startup complete", "running on", "ready", "healthy", "health check", "server listening", "server started", NULL};
    static const char *const remote_fail[] = {"error", "failed", "failure", "exception", "timeout", "timed out", "connection refused", "unreachable", NULL};

    uint32_t c = 0;
    bool lmc = has(low, "lmcache");
    if (lmc && any_word(low, store_w))
        c |= 1u << KVS_LMC_LOG_STORE;
    if (lmc && (any_word(low, retr_w) || has(low, "lookup hit") || has(low, "cache hit")))
        c |= 1u << KVS_LMC_LOG_RETRIEVE;
    if (has(low, "prefetch") && any(low, done_w))
        c |= 1u << KVS_LMC_LOG_PREFETCH_COMPLETE;
    bool p2p = has(low, "p2p");
    if (p2p && any(low, xfer_w))
        c |= 1u << KVS_LMC_LOG_P2P_TRANSFER;
    if (p2p && !(c & (1u << KVS_LMC_LOG_P2P_TRANSFER)) && any(low, peer_w))
        c |= 1u << KVS_LMC_LOG_P2P_PEER;
    if (p2p && any(low, fail_w))
        c |= 1u << KVS_LMC_LOG_P2P_TRANSFER_FAILURE;
    bool speed = find_speed(orig, out);
    if (p2p && (speed || any(low, spd_w)))
        c |= 1u << KVS_LMC_LOG_P2P_TRANSFER_SPEED;
    if (!p2p) { /* speeds are only reported for p2p lines */
        out->speed = out->speed_gbps = out->speed_tokens_s = NAN;
        out->speed_unit[0] = '\0';
    }
    if (any(low, snd_ctx) && any(low, snd_w))
        c |= 1u << KVS_LMC_LOG_PD_SENDER;
    if (any(low, rcv_ctx) && any(low, rcv_w))
        c |= 1u << KVS_LMC_LOG_PD_RECEIVER;
    if (any(low, pd_any) &&
        (any(low, mm_w) ||
         ((has(low, "expected prefill") || has(low, "prefill role")) &&
          (has(low, "got decode") || has(low, "decode role") || has(low, "kv_consumer"))) ||
         ((has(low, "expected decode") || has(low, "decode role")) &&
          (has(low, "got prefill") || has(low, "prefill role") || has(low, "kv_producer")))))
        c |= 1u << KVS_LMC_LOG_PD_ROLE_MISMATCH;
    if (any(low, stall_ctx) && any(low, stall_w))
        c |= 1u << KVS_LMC_LOG_PD_STALL;
    bool nixl = has(low, "nixl");
    if (nixl && has(low, "proxy"))
        c |= 1u << KVS_LMC_LOG_NIXL_PROXY;
    if (nixl && any(low, req_w))
        c |= 1u << KVS_LMC_LOG_NIXL_REQUEST;
    if (any(low, hs_ctx) && any(low, hs_w))
        c |= 1u << KVS_LMC_LOG_HEALTH_STARTUP;
    if (has(low, "remote") && any(low, remote_fail))
        c |= 1u << KVS_LMC_LOG_REMOTE_BACKEND_ERROR;
    find_hits(low, out);
    if (out->hit_tokens == 0 && out->total_tokens > 0)
        c |= 1u << KVS_LMC_LOG_ZERO_HIT;
    out->cats = c;

    out->connector = find_connector(orig);
    find_hashseed(low, orig, out->hashseed, sizeof out->hashseed);
    out->enable_p2p = find_bool_hint(low, "p2p");
    out->enable_pd = find_bool_hint(low, "pd");
    out->enable_async = find_bool_hint(low, "async_loading");
    if (out->enable_async < 0)
        out->enable_async = find_bool_hint(low, "async-loading");

    uint32_t m = 0;
    if (out->connector && strcmp(out->connector, "LMCacheMPConnector") == 0)
        m |= KVS_LMC_LOGMODE_MP;
    if (out->connector && strncmp(out->connector, "LMCacheConnectorV1", 18) == 0)
        m |= KVS_LMC_LOGMODE_EMBEDDED;
    if (out->enable_p2p == 1 || (c & ((1u << KVS_LMC_LOG_P2P_TRANSFER) | (1u << KVS_LMC_LOG_P2P_PEER) |
                                      (1u << KVS_LMC_LOG_P2P_TRANSFER_FAILURE) | (1u << KVS_LMC_LOG_P2P_TRANSFER_SPEED))))
        m |= KVS_LMC_LOGMODE_P2P;
    if (out->enable_pd == 1 ||
        (c & ((1u << KVS_LMC_LOG_PD_SENDER) | (1u << KVS_LMC_LOG_PD_RECEIVER) | (1u << KVS_LMC_LOG_PD_ROLE_MISMATCH) |
              (1u << KVS_LMC_LOG_PD_STALL) | (1u << KVS_LMC_LOG_NIXL_PROXY) | (1u << KVS_LMC_LOG_NIXL_REQUEST))))
        m |= KVS_LMC_LOGMODE_PD;
    if (has(low, "lmcache server") || has(low, "lmcache_mp"))
        m |= KVS_LMC_LOGMODE_MP;
    if (has(low, "lmcache:") || has(low, "lmcacheconnectorv1"))
        m |= KVS_LMC_LOGMODE_EMBEDDED;
    out->modes = m;
}
