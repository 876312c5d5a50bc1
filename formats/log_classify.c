/* Log line classification (see log_classify.h). Terms are matched on a
 * lower-cased copy of the line that keeps the original's positions, so a
 * match can look at the original case around it (CamelCase heads). */
#include "formats/log_classify.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_names[KVS_LOGC_NCAT + 1] = {
    "store", "retrieve", "prefetch_complete", "p2p_transfer", "p2p_peer", "p2p_transfer_failure",
    "p2p_transfer_speed", "pd_sender", "pd_receiver", "pd_role_mismatch", "pd_stall", "nixl_proxy",
    "nixl_request", "health_startup", "other",
};

const char *kvs_logc_category_name(int cat)
{
    return cat >= 0 && cat <= KVS_LOGC_NCAT ? cat_names[cat] : "other";
}

const char *kvs_logc_source_name(kvs_logc_source s)
{
    static const char *const n[] = { "unknown", "lmcache", "vllm", "sglang" };
    return s <= KVS_LOGC_SRC_SGLANG ? n[s] : "unknown";
}

const char *kvs_logc_connector_name(unsigned bit)
{
    switch (bit) {
    case KVS_LOGC_CONN_MP: return "LMCacheMPConnector";
    case KVS_LOGC_CONN_V1: return "LMCacheConnectorV1";
    case KVS_LOGC_CONN_V1_DYNAMIC: return "LMCacheConnectorV1Dynamic";
    case KVS_LOGC_CONN_BARE: return "LMCacheConnector";
    default: return "";
    }
}

const char *kvs_logc_mode_name(unsigned bit)
{
    switch (bit) {
    case KVS_LOGC_MODE_MP: return "mp";
    case KVS_LOGC_MODE_EMBEDDED: return "embedded";
    case KVS_LOGC_MODE_P2P: return "p2p";
    case KVS_LOGC_MODE_DISAGG: return "disaggregated_prefill";
    default: return "";
    }
}

size_t kvs_logc_strip(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == 0x1b) {
            if (i + 1 < n && in[i + 1] == '[') {             /* CSI: params, final 0x40-0x7e */
                i += 2;
                while (i < n && !((unsigned char)in[i] >= 0x40 && (unsigned char)in[i] <= 0x7e))
                    i++;
            } else if (i + 1 < n && in[i + 1] == ']') {      /* OSC: to BEL or ESC \ */
                i += 2;
                while (i < n && in[i] != 0x07 && !(in[i] == 0x1b && i + 1 < n && in[i + 1] == '\\'))
                    i++;
                if (i < n && in[i] == 0x1b)
                    i++;
            } else if (i + 1 < n) {
                i++;                                          /* ESC + one byte */
            }
            continue;
        }
        if (c == 0x9b) {                                      /* 8-bit CSI */
            i++;
            while (i < n && !((unsigned char)in[i] >= 0x40 && (unsigned char)in[i] <= 0x7e))
                i++;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            continue;
        out[o++] = (char)c;
    }
    return o;
}

/* ---- term matching ---- */

typedef struct line {
    const char *s;      /* original (stripped) */
    char lc[KVS_LOGC_MAX_SCAN];
    size_t n;
} line;

static int alnum(char c) { return isalnum((unsigned char)c) != 0; }

/* Whether `term` occurs at lc[i] (a space in the term matches a run of
 * whitespace); *end receives the end position. */
static int match_at(const line *l, size_t i, const char *term, size_t *end)
{
    for (const char *t = term; *t; t++) {
        if (*t == ' ') {
            if (i >= l->n || (l->lc[i] != ' ' && l->lc[i] != '\t'))
                return 0;
            while (i < l->n && (l->lc[i] == ' ' || l->lc[i] == '\t'))
                i++;
        } else {
            if (i >= l->n || l->lc[i] != *t)
                return 0;
            i++;
        }
    }
    *end = i;
    return 1;
}

/* A whole-word occurrence of term. Keywords (camel = 0) are bounded as
 * regex \b does: no letter, digit or '_' on either side. Source names
 * (camel = 1) are identifier heads and tails too: '_' bounds them
 * (lmcache_mp, enable_p2p) and so does the start of the next CamelCase
 * part (LMCacheEngine, P2PBackend). */
static int find_from(const line *l, const char *term, int camel, size_t from, size_t *at)
{
    size_t tl = strlen(term);
    if (!tl || tl > l->n)
        return 0;
    int check_before = alnum(term[0]), check_after = alnum(term[tl - 1]);
    for (size_t i = from; i + 1 <= l->n;) {
        const char *p = memchr(l->lc + i, term[0], l->n - i);
        if (!p)
            return 0;
        i = (size_t)(p - l->lc);
        size_t end;
        if ((!check_before || i == 0 || !(alnum(l->lc[i - 1]) || (!camel && l->lc[i - 1] == '_'))) &&
            match_at(l, i, term, &end)) {
            if (!check_after || end == l->n || !(alnum(l->lc[end]) || (!camel && l->lc[end] == '_')) ||
                (camel && isupper((unsigned char)l->s[end]))) {
                *at = i;
                return 1;
            }
        }
        i++;
    }
    return 0;
}

static int has(const line *l, const char *term)
{
    size_t at;
    return find_from(l, term, 0, 0, &at);
}

static int has_camel(const line *l, const char *term)
{
    size_t at;
    return find_from(l, term, 1, 0, &at);
}

/* Any of the NULL-terminated terms. */
static int any(const line *l, const char *const *terms)
{
    for (int i = 0; terms[i]; i++)
        if (has(l, terms[i]))
            return 1;
    return 0;
}

/* ---- word lists (peer vocabulary, in whole-word forms) ---- */

static const char *const w_store[] = { "store", "stores", "storing", "stored", "save", "saves", "saving", "saved",
                                       NULL };
static const char *const w_retrieve[] = { "retrieve", "retrieves", "retrieving", "retrieved", "lookup hit",
                                          "lookup hits", "cache hit", "cache hits", "loaded", NULL };
static const char *const w_prefetch[] = { "prefetch", "prefetched", "prefetching", "prefetches", NULL };
static const char *const w_complete[] = { "complete", "completed", "completes", "done", "finish", "finished",
                                          "finishes", "loaded", "succeed", "succeeded", "success",
                                          "successful", "successfully", NULL };
static const char *const w_transfer[] = { "transfer", "transferred", "transferring", "transfers", "send", "sent",
                                          "sending", "recv", "receive", "received", "receiving", "tokens", NULL };
static const char *const w_peer[] = { "peer", "peers", "connect", "connected", "connecting", "controller",
                                      "lookup", NULL };
static const char *const w_failure[] = { "fail", "failed", "fails", "failure", "failures", "error", "errors",
                                         "exception", "timeout", "timed out", "disconnect", "disconnected",
                                         "connection refused", "unreachable", "retry", "retrying", NULL };
static const char *const w_speed[] = { "throughput", "bandwidth", "transfer rate", "speed", NULL };
/* A PD role needs two different words: a PD context and a role ("NIXL
 * sender", "prefill ... kv_producer", "prefiller ... producer"); the role
 * noun alone ("decoder ring") is not enough. */
static const char *const w_pd_send_anchor[] = { "nixl", "disaggregated", "prefill", "prefilling", NULL };
static const char *const w_sender[] = { "sender", "producer", "kv_producer", "kv_both", "prefiller", NULL };
static const char *const w_sender_role[] = { "sender", "producer", "kv_producer", "kv_both", NULL };
static const char *const w_pd_recv_anchor[] = { "nixl", "disaggregated", "decode", "decoding", NULL };
static const char *const w_receiver[] = { "receiver", "consumer", "kv_consumer", "kv_both", "decoder", NULL };
static const char *const w_receiver_role[] = { "receiver", "consumer", "kv_consumer", "kv_both", NULL };
static const char *const w_pd_any[] = { "nixl", "disaggregated", "prefill", "decode", "kv_role", "pd", NULL };
static const char *const w_mismatch[] = { "role mismatch", "role_mismatch", "wrong role", "unexpected role", NULL };
static const char *const w_exp_prefill[] = { "expected prefill", "prefill role", NULL };
static const char *const w_got_decode[] = { "got decode", "decode role", "kv_consumer", NULL };
static const char *const w_exp_decode[] = { "expected decode", "decode role", NULL };
static const char *const w_got_prefill[] = { "got prefill", "prefill role", "kv_producer", NULL };
static const char *const w_stall[] = { "stall", "stalled", "stalls", "stuck", "timeout", "timed out", "deadlock",
                                       "waiting for", "no request", "no response", "no kv", NULL };
static const char *const w_request[] = { "request", "requests", "request_id", "req_id", "req=",
                                         "transfer request", NULL };
static const char *const w_startup[] = { "started", "starting", "startup complete", "running on", "ready",
                                         "healthy", "health check", "server listening", "server started", NULL };

/* <number>[ ]<unit>, unit one of [kmgt]?i?b/s, [kmgt]?i?bytes/s, tokens/s,
 * tok/s (case-insensitive). */
static int speed(const line *l, double *value, char *unit, size_t ucap)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!isdigit((unsigned char)l->lc[i]) || (i && (isdigit((unsigned char)l->lc[i - 1]) || l->lc[i - 1] == '.')))
            continue;
        size_t j = i;
        while (j < l->n && isdigit((unsigned char)l->lc[j]))
            j++;
        if (j + 1 < l->n && l->lc[j] == '.' && isdigit((unsigned char)l->lc[j + 1])) {
            j++;
            while (j < l->n && isdigit((unsigned char)l->lc[j]))
                j++;
        }
        size_t num_end = j;
        while (j < l->n && (l->lc[j] == ' ' || l->lc[j] == '\t'))
            j++;
        size_t u = j, end;
        static const char *const units[] = { "tokens/s", "tok/s", NULL };
        int ok = 0;
        for (int k = 0; units[k] && !ok; k++)
            if (match_at(l, u, units[k], &end))
                ok = 1;
        if (!ok) {
            size_t p = u;
            if (p < l->n && l->lc[p] && strchr("kmgt", l->lc[p]))
                p++;
            if (p < l->n && l->lc[p] == 'i')
                p++;
            if (match_at(l, p, "b/s", &end) || match_at(l, p, "bytes/s", &end))
                ok = 1;
        }
        if (!ok)
            continue;
        char num[40];
        size_t nl = num_end - i < sizeof num - 1 ? num_end - i : sizeof num - 1;
        memcpy(num, l->s + i, nl);
        num[nl] = 0;
        *value = strtod(num, NULL);
        size_t ul = end - u < ucap - 1 ? end - u : ucap - 1;
        memcpy(unit, l->s + u, ul);
        unit[ul] = 0;
        return 1;
    }
    return 0;
}

/* ---- config hints ---- */

/* After a key at `end`: optional closing quote, spaces, '=' or ':',
 * spaces, optional quote. Returns the value start or (size_t)-1. */
static size_t value_start(const line *l, size_t end)
{
    size_t i = end;
    if (i < l->n && (l->lc[i] == '"' || l->lc[i] == '\''))
        i++;
    while (i < l->n && (l->lc[i] == ' ' || l->lc[i] == '\t'))
        i++;
    if (i >= l->n || (l->lc[i] != '=' && l->lc[i] != ':'))
        return (size_t)-1;
    i++;
    while (i < l->n && (l->lc[i] == ' ' || l->lc[i] == '\t'))
        i++;
    if (i < l->n && (l->lc[i] == '"' || l->lc[i] == '\''))
        i++;
    return i;
}

static void bool_hint(const line *l, const char *const *spellings, signed char *out)
{
    static const struct { const char *w; int v; } vals[] = {
        { "true", 1 }, { "false", 0 }, { "yes", 1 }, { "no", 0 }, { "1", 1 }, { "0", 0 },
    };
    for (int s = 0; spellings[s]; s++) {
        size_t at = 0, from = 0;
        while (find_from(l, spellings[s], 0, from, &at)) {
            from = at + 1;
            size_t end = at + strlen(spellings[s]);
            size_t v = value_start(l, end);
            if (v == (size_t)-1)
                continue;
            for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
                size_t vl = strlen(vals[k].w);
                if (v + vl <= l->n && memcmp(l->lc + v, vals[k].w, vl) == 0 &&
                    (v + vl == l->n || !alnum(l->lc[v + vl])))
                    *out = (signed char)vals[k].v;   /* last occurrence wins */
            }
        }
    }
}

static void hashseed(const line *l, char *out, size_t cap)
{
    size_t at = 0, from = 0;
    while (find_from(l, "pythonhashseed", 0, from, &at)) {
        from = at + 1;
        size_t v = value_start(l, at + 14);
        if (v == (size_t)-1)
            continue;
        size_t e = v;
        while (e < l->n && (alnum(l->s[e]) || l->s[e] == '_' || l->s[e] == '.' || l->s[e] == '-'))
            e++;
        if (e > v) {
            size_t len = e - v < cap - 1 ? e - v : cap - 1;
            memcpy(out, l->s + v, len);
            out[len] = 0;
        }
    }
}

/* A connector identifier, case-sensitive, not inside a longer identifier. */
static int ident(const line *l, const char *name)
{
    size_t nl = strlen(name);
    const char *s = l->s;
    for (size_t i = 0; i + nl <= l->n; i++) {
        const char *p = memchr(s + i, name[0], l->n - i);
        if (!p)
            return 0;
        i = (size_t)(p - s);
        if (i + nl > l->n)
            return 0;
        if (memcmp(s + i, name, nl) == 0 && (i == 0 || !(alnum(s[i - 1]) || s[i - 1] == '_')) &&
            (i + nl == l->n || !(alnum(s[i + nl]) || s[i + nl] == '_')))
            return 1;
    }
    return 0;
}

static void severity(const line *l, kvs_logc_result *r)
{
    static const struct { const char *w; int n; } lv[] = {
        { "TRACE", 1 }, { "DEBUG", 5 }, { "INFO", 9 }, { "WARNING", 13 }, { "WARN", 13 },
        { "ERROR", 17 }, { "CRITICAL", 21 }, { "FATAL", 21 },
    };
    size_t lim = l->n < 96 ? l->n : 96;
    for (size_t i = 0; i < lim; i++) {
        if (!isupper((unsigned char)l->s[i]) || (i && alnum(l->s[i - 1])))
            continue;
        for (size_t k = 0; k < sizeof lv / sizeof lv[0]; k++) {
            size_t wl = strlen(lv[k].w);
            if (i + wl <= l->n && memcmp(l->s + i, lv[k].w, wl) == 0 && (i + wl == l->n || !alnum(l->s[i + wl]))) {
                r->severity_number = lv[k].n;
                r->severity_text = lv[k].w;
                return;
            }
        }
    }
}

static int digits(const char *s, size_t n, size_t at, size_t k)
{
    if (at + k > n)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (!isdigit((unsigned char)s[at + i]))
            return 0;
    return 1;
}

static int level_word_at(const char *s, size_t n, size_t at, size_t *end)
{
    static const char *const w[] = { "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", NULL };
    for (int i = 0; w[i]; i++) {
        size_t wl = strlen(w[i]);
        if (at + wl <= n && memcmp(s + at, w[i], wl) == 0) {
            *end = at + wl;
            return 1;
        }
    }
    return 0;
}

/* The source told by the line's own format: LMCache's "[date] LMCache
 * LEVEL:", vLLM's "[(Proc pid=N) ]LEVEL MM-DD hh:mm:ss", SGLang's
 * "[YYYY-MM-DD hh:mm:ss( TP0)]". */
static kvs_logc_source format_source(const char *s, size_t n)
{
    size_t lim = n < 80 ? n : 80, e;
    for (size_t i = 0; i + 8 < lim; i++)
        if (memcmp(s + i, "LMCache ", 8) == 0 && (i == 0 || !alnum(s[i - 1])) &&
            level_word_at(s, n, i + 8, &e) && e < n && s[e] == ':')
            return KVS_LOGC_SRC_LMCACHE;
    size_t at = 0;
    if (n && s[0] == '(') {
        const char *close = memchr(s, ')', lim);
        if (close && (size_t)(close - s) + 1 < n && close[1] == ' ')
            at = (size_t)(close - s) + 2;
    }
    if (level_word_at(s, n, at, &e) && e < n && s[e] == ' ' && digits(s, n, e + 1, 2) && e + 3 < n &&
        s[e + 3] == '-' && digits(s, n, e + 4, 2))
        return KVS_LOGC_SRC_VLLM;
    if (n > 20 && s[0] == '[' && digits(s, n, 1, 4) && s[5] == '-' && digits(s, n, 6, 2) && s[8] == '-' &&
        digits(s, n, 9, 2) && s[11] == ' ' && digits(s, n, 12, 2) && s[14] == ':' && digits(s, n, 15, 2) &&
        s[17] == ':' && digits(s, n, 18, 2) && (s[20] == ']' || s[20] == ' '))
        return KVS_LOGC_SRC_SGLANG;
    return KVS_LOGC_SRC_UNKNOWN;
}

kvs_logc_source kvs_logc_source_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char lc[256];
    size_t n = strlen(base) < sizeof lc - 1 ? strlen(base) : sizeof lc - 1;
    for (size_t i = 0; i < n; i++)
        lc[i] = (char)tolower((unsigned char)base[i]);
    lc[n] = 0;
    if (strstr(lc, "lmcache"))
        return KVS_LOGC_SRC_LMCACHE;
    if (strstr(lc, "sglang"))
        return KVS_LOGC_SRC_SGLANG;
    if (strstr(lc, "vllm"))
        return KVS_LOGC_SRC_VLLM;
    return KVS_LOGC_SRC_UNKNOWN;
}

void kvs_logc_classify(const char *text, size_t n, kvs_logc_source hint, kvs_logc_result *r)
{
    line l;
    memset(r, 0, sizeof *r);
    r->enable_p2p = r->enable_pd = r->enable_async_loading = -1;
    l.s = text;
    l.n = n < KVS_LOGC_MAX_SCAN ? n : KVS_LOGC_MAX_SCAN;
    for (size_t i = 0; i < l.n; i++)
        l.lc[i] = (char)tolower((unsigned char)text[i]);

    int lmc = has_camel(&l, "lmcache"), p2p = has_camel(&l, "p2p"), nixl = has_camel(&l, "nixl");
    int vllm = has_camel(&l, "vllm"), sglang = has_camel(&l, "sglang");
    kvs_logc_source fmt = format_source(text, l.n);
    if (fmt == KVS_LOGC_SRC_SGLANG)
        sglang = 1;
    uint32_t c = 0;
#define SET(cat) (c |= 1u << (cat))
    if (lmc && any(&l, w_store))
        SET(KVS_LOGC_STORE);
    if (lmc && any(&l, w_retrieve))
        SET(KVS_LOGC_RETRIEVE);
    if (any(&l, w_prefetch) && any(&l, w_complete))
        SET(KVS_LOGC_PREFETCH_COMPLETE);
    int sp = 0;
    if (p2p) {
        if (any(&l, w_transfer))
            SET(KVS_LOGC_P2P_TRANSFER);
        else if (any(&l, w_peer))
            SET(KVS_LOGC_P2P_PEER);
        if (any(&l, w_failure))
            SET(KVS_LOGC_P2P_TRANSFER_FAILURE);
        sp = speed(&l, &r->speed_value, r->speed_unit, sizeof r->speed_unit);
        if (sp || any(&l, w_speed))
            SET(KVS_LOGC_P2P_TRANSFER_SPEED);
        r->has_speed = sp;
    }
    if ((nixl || any(&l, w_pd_send_anchor)) && any(&l, w_sender))
        SET(KVS_LOGC_PD_SENDER);
    else if (has(&l, "prefiller") && any(&l, w_sender_role))
        SET(KVS_LOGC_PD_SENDER);
    if ((nixl || any(&l, w_pd_recv_anchor)) && any(&l, w_receiver))
        SET(KVS_LOGC_PD_RECEIVER);
    else if (has(&l, "decoder") && any(&l, w_receiver_role))
        SET(KVS_LOGC_PD_RECEIVER);
    int pd_any = nixl || any(&l, w_pd_any);
    if (pd_any && (any(&l, w_mismatch) || (any(&l, w_exp_prefill) && any(&l, w_got_decode)) ||
                   (any(&l, w_exp_decode) && any(&l, w_got_prefill))))
        SET(KVS_LOGC_PD_ROLE_MISMATCH);
    if (pd_any && any(&l, w_stall))
        SET(KVS_LOGC_PD_STALL);
    if (nixl && has(&l, "proxy"))
        SET(KVS_LOGC_NIXL_PROXY);
    if (nixl && any(&l, w_request))
        SET(KVS_LOGC_NIXL_REQUEST);
    if ((lmc || vllm || sglang || fmt != KVS_LOGC_SRC_UNKNOWN || has_camel(&l, "uvicorn") || has(&l, "api server")) &&
        any(&l, w_startup))
        SET(KVS_LOGC_HEALTH_STARTUP);
#undef SET
    r->categories = c;

    /* source: the line's format, then its words, then the file's hint */
    r->source = fmt != KVS_LOGC_SRC_UNKNOWN ? fmt
                : lmc                       ? KVS_LOGC_SRC_LMCACHE
                : sglang                    ? KVS_LOGC_SRC_SGLANG
                : vllm                      ? KVS_LOGC_SRC_VLLM
                                            : hint;

    /* connectors and modes */
    if (ident(&l, "LMCacheMPConnector"))
        r->connectors |= KVS_LOGC_CONN_MP, r->modes |= KVS_LOGC_MODE_MP;
    if (ident(&l, "LMCacheConnectorV1Dynamic"))
        r->connectors |= KVS_LOGC_CONN_V1_DYNAMIC, r->modes |= KVS_LOGC_MODE_EMBEDDED;
    if (ident(&l, "LMCacheConnectorV1"))
        r->connectors |= KVS_LOGC_CONN_V1, r->modes |= KVS_LOGC_MODE_EMBEDDED;
    if (ident(&l, "LMCacheConnector")) {
        r->connectors |= KVS_LOGC_CONN_BARE;
        if (sglang || hint == KVS_LOGC_SRC_SGLANG)
            r->modes |= KVS_LOGC_MODE_EMBEDDED;
        else
            r->stale_connector = 1;
    }
    if (c & (1u << KVS_LOGC_P2P_TRANSFER | 1u << KVS_LOGC_P2P_PEER | 1u << KVS_LOGC_P2P_TRANSFER_FAILURE |
             1u << KVS_LOGC_P2P_TRANSFER_SPEED))
        r->modes |= KVS_LOGC_MODE_P2P;
    if (c & (1u << KVS_LOGC_PD_SENDER | 1u << KVS_LOGC_PD_RECEIVER | 1u << KVS_LOGC_PD_ROLE_MISMATCH |
             1u << KVS_LOGC_PD_STALL | 1u << KVS_LOGC_NIXL_PROXY | 1u << KVS_LOGC_NIXL_REQUEST))
        r->modes |= KVS_LOGC_MODE_DISAGG;
    if (has(&l, "lmcache server") || has_camel(&l, "lmcache_mp") || has(&l, "lmcache mp"))
        r->modes |= KVS_LOGC_MODE_MP;
    if (has(&l, "lmcache:"))
        r->modes |= KVS_LOGC_MODE_EMBEDDED;
    if (nixl && (has(&l, "prefill") || has(&l, "decode") || has(&l, "sender") || has(&l, "receiver")))
        r->modes |= KVS_LOGC_MODE_DISAGG;

    /* config hints */
    static const char *const p2p_keys[] = { "enable_p2p", "enable-p2p", "enablep2p", NULL };
    static const char *const pd_keys[] = { "enable_pd", "enable-pd", "enablepd", NULL };
    static const char *const async_keys[] = { "enable_async_loading", "enable-async-loading", "enable_async-loading",
                                              "enable-async_loading", "enableasyncloading", NULL };
    bool_hint(&l, p2p_keys, &r->enable_p2p);
    bool_hint(&l, pd_keys, &r->enable_pd);
    bool_hint(&l, async_keys, &r->enable_async_loading);
    if (r->enable_p2p == 1)
        r->modes |= KVS_LOGC_MODE_P2P;
    if (r->enable_pd == 1)
        r->modes |= KVS_LOGC_MODE_DISAGG;
    hashseed(&l, r->hashseed, sizeof r->hashseed);
    severity(&l, r);
}
