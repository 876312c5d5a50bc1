/* Log line classification for the diagnosis (see logscan.h): the line is
 * stripped and classified by formats/log_classify, the one classifier of
 * kvscope; this file maps its result onto the evidence model's categories
 * and adds the kvscope-only ones (remote backend errors, zero-hit lines),
 * matched on a lower-cased copy of the stripped line. */
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

/* The classifier's categories, in the evidence model's order. */
static const struct {
    int logc;
    kvs_lmc_log_cat cat;
} shared_cats[] = {
    {KVS_LOGC_STORE, KVS_LMC_LOG_STORE},
    {KVS_LOGC_RETRIEVE, KVS_LMC_LOG_RETRIEVE},
    {KVS_LOGC_PREFETCH_COMPLETE, KVS_LMC_LOG_PREFETCH_COMPLETE},
    {KVS_LOGC_P2P_TRANSFER, KVS_LMC_LOG_P2P_TRANSFER},
    {KVS_LOGC_P2P_PEER, KVS_LMC_LOG_P2P_PEER},
    {KVS_LOGC_P2P_TRANSFER_FAILURE, KVS_LMC_LOG_P2P_TRANSFER_FAILURE},
    {KVS_LOGC_P2P_TRANSFER_SPEED, KVS_LMC_LOG_P2P_TRANSFER_SPEED},
    {KVS_LOGC_PD_SENDER, KVS_LMC_LOG_PD_SENDER},
    {KVS_LOGC_PD_RECEIVER, KVS_LMC_LOG_PD_RECEIVER},
    {KVS_LOGC_PD_ROLE_MISMATCH, KVS_LMC_LOG_PD_ROLE_MISMATCH},
    {KVS_LOGC_PD_STALL, KVS_LMC_LOG_PD_STALL},
    {KVS_LOGC_NIXL_PROXY, KVS_LMC_LOG_NIXL_PROXY},
    {KVS_LOGC_NIXL_REQUEST, KVS_LMC_LOG_NIXL_REQUEST},
    {KVS_LOGC_HEALTH_STARTUP, KVS_LMC_LOG_HEALTH_STARTUP},
};
_Static_assert(sizeof shared_cats / sizeof shared_cats[0] == KVS_LOGC_NCAT,
               "every category of formats/log_classify has an evidence category");

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

/* A case-sensitive identifier not inside a longer one. */
static bool has_ident(const char *l, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(l, w); p; p = strstr(p + 1, w))
        if ((p == l || !wordch(p[-1])) && !wordch(p[n]))
            return true;
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

/* The classifier's speed in comparable units: GB/s for byte rates
 * ("12.5 GB/s", "800 MiB/s"), tokens/s for token rates. */
static void convert_speed(kvs_lmc_logline *out)
{
    const char *u = out->speed_unit;
    if (strncasecmp(u, "tok", 3) == 0) {
        out->speed_tokens_s = out->speed;
        return;
    }
    static const struct {
        char prefix;
        double dec, bin; /* to GB/s: decimal prefix, binary (Xi) prefix */
    } scale[] = {{'k', 1e-6, 1.024e-6}, {'m', 1e-3, 1.048576e-3}, {'g', 1, 1.073741824}, {'t', 1e3, 1.099511627776e3}};
    double f = 1e-9; /* bytes/s */
    char p = (char)tolower((unsigned char)u[0]);
    for (size_t i = 0; i < sizeof scale / sizeof scale[0]; i++)
        if (p == scale[i].prefix)
            f = tolower((unsigned char)u[1]) == 'i' ? scale[i].bin : scale[i].dec;
    out->speed_gbps = out->speed * f;
}

void kvs_lmc_logscan(const char *line, size_t n, kvs_lmc_logline *out)
{
    char clean[KVS_LMC_LOG_MAX_LINE + 1], low[KVS_LMC_LOG_MAX_LINE + 1];
    memset(out, 0, sizeof *out);
    out->enable_p2p = out->enable_pd = out->enable_async = -1;
    out->speed = out->speed_gbps = out->speed_tokens_s = NAN;
    out->hit_tokens = out->total_tokens = -1;
    if (!line)
        return;
    if (n > KVS_LMC_LOG_MAX_LINE)
        n = KVS_LMC_LOG_MAX_LINE;
    size_t m = kvs_logc_strip(line, n, clean);
    for (size_t i = 0; i < m; i++) {
        if (clean[i] == '\0')
            clean[i] = ' ';
        low[i] = (char)tolower((unsigned char)clean[i]);
    }
    clean[m] = low[m] = '\0';

    kvs_logc_result r;
    kvs_logc_classify(clean, m, KVS_LOGC_SRC_UNKNOWN, &r);
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof shared_cats / sizeof shared_cats[0]; i++)
        if (r.categories & (1u << shared_cats[i].logc))
            c |= 1u << shared_cats[i].cat;

    /* kvscope's own categories */
    static const char *const remote_fail[] = {"error", "failed", "failure", "exception", "timeout", "timed out",
                                              "connection refused", "unreachable", NULL};
    if (has(low, "remote") && any(low, remote_fail))
        c |= 1u << KVS_LMC_LOG_REMOTE_BACKEND_ERROR;
    find_hits(low, out);
    if (out->hit_tokens == 0 && out->total_tokens > 0)
        c |= 1u << KVS_LMC_LOG_ZERO_HIT;
    out->cats = c;

    /* the longest connector name on the line */
    if (r.connectors & KVS_LOGC_CONN_V1_DYNAMIC)
        out->connector = kvs_logc_connector_name(KVS_LOGC_CONN_V1_DYNAMIC);
    else if (has_ident(clean, "LMCacheLayerwiseConnector"))
        out->connector = "LMCacheLayerwiseConnector";
    else if (r.connectors & KVS_LOGC_CONN_MP)
        out->connector = kvs_logc_connector_name(KVS_LOGC_CONN_MP);
    else if (r.connectors & KVS_LOGC_CONN_V1)
        out->connector = kvs_logc_connector_name(KVS_LOGC_CONN_V1);
    else if (r.connectors & KVS_LOGC_CONN_BARE)
        out->connector = kvs_logc_connector_name(KVS_LOGC_CONN_BARE);

    memcpy(out->hashseed, r.hashseed, sizeof out->hashseed);
    out->hashseed[sizeof out->hashseed - 1] = '\0';
    out->enable_p2p = r.enable_p2p;
    out->enable_pd = r.enable_pd;
    out->enable_async = r.enable_async_loading;
    if (r.has_speed) {
        out->speed = r.speed_value;
        memcpy(out->speed_unit, r.speed_unit, sizeof out->speed_unit);
        out->speed_unit[sizeof out->speed_unit - 1] = '\0';
        convert_speed(out);
    }

    uint32_t md = 0;
    if (r.modes & KVS_LOGC_MODE_MP)
        md |= KVS_LMC_LOGMODE_MP;
    if (r.modes & KVS_LOGC_MODE_EMBEDDED)
        md |= KVS_LMC_LOGMODE_EMBEDDED;
    if (r.modes & KVS_LOGC_MODE_P2P)
        md |= KVS_LMC_LOGMODE_P2P;
    if (r.modes & KVS_LOGC_MODE_DISAGG)
        md |= KVS_LMC_LOGMODE_PD;
    out->modes = md;
}
