/* Evidence that is not a metric sample: resource attributes, scopes,
 * span names, request records, log lines, LMCache HTTP facts and the
 * evidence lanes (see evidence.h). */
#include "core/error.h"
#include "lmcache/evidence_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool contains_ci(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == w[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

int kvs_lmc_evidence_add_resource_attr(kvs_lmc_evidence *ev, const char *key, const char *value)
{
    if (!key || !value || !*value)
        return 0;
    /* service_name / service_instance_id: what a target exposed on
     * target_info, kept under its own label names when a live scrape
     * names the resource after its job and instance. */
    if (strcmp(key, "service.name") == 0 || strcmp(key, "service_name") == 0)
        return kvs_lmc_ev_set_add(ev, KVS_LMC_SET_SERVICE_NAME, value);
    if (strcmp(key, "service.instance.id") == 0 || strcmp(key, "service_instance_id") == 0)
        return kvs_lmc_ev_set_add(ev, KVS_LMC_SET_SERVICE_INSTANCE, value);
    if (contains_ci(key, "pythonhashseed"))
        return kvs_lmc_ev_set_add(ev, KVS_LMC_SET_HASHSEED, value);
    if (contains_ci(key, "kv_role"))
        return kvs_lmc_ev_set_add(ev, KVS_LMC_SET_KV_ROLE, value);
    if (contains_ci(key, "kv_connector") || strcmp(key, "connector") == 0)
        return kvs_lmc_ev_set_add(ev, KVS_LMC_SET_CONNECTOR, value);
    return 0;
}

int kvs_lmc_evidence_add_scope(kvs_lmc_evidence *ev, const char *scope)
{
    return scope && *scope ? kvs_lmc_ev_set_add(ev, KVS_LMC_SET_SCOPE, scope) : 0;
}

int kvs_lmc_evidence_add_span_name(kvs_lmc_evidence *ev, const char *name, bool is_error)
{
    kvs_lmc_span_stats *s = &ev->spans;
    kvs_lmc_lane *lane = &ev->lanes[KVS_LMC_LANE_OTEL];
    s->spans++;
    if (is_error)
        s->error_spans++;
    if (!name)
        name = "";
    bool lmc = true;
    if (strcmp(name, "mp.store") == 0 || strcmp(name, "mp.retrieve") == 0 || strcmp(name, "mp.lookup_prefetch") == 0)
        s->mp_spans++;
    else if (strncmp(name, "cb.", 3) == 0)
        s->cacheblend_spans++;
    else if (strcmp(name, "request") == 0)
        s->request_spans++;
    else if (strcmp(name, "timeout") == 0)
        s->timeout_spans++;
    else if (strncmp(name, "transfer.", 9) != 0)
        lmc = false;
    if (lmc)
        s->lmcache_spans++;
    lane->provided = lane->present = true;
    lane->records = s->spans;
    lane->measured = s->lmcache_spans > 0;
    return *name ? kvs_lmc_ev_set_add(ev, KVS_LMC_SET_SPAN_NAME, name) : 0;
}

static const char *intern_in(kvs_lmc_evidence *ev, kvs_lmc_set_id id, const char *s, bool *overflow)
{
    kvs_lmc_strset *set = &ev->sets[id];
    const char *p = kvs_lmc_strset_add(set, s, strlen(s));
    if (!p && set->overflow)
        *overflow = true;
    return p;
}

int kvs_lmc_evidence_add_request(kvs_lmc_evidence *ev, const kvs_lmc_reqobs *r)
{
    if (!r)
        return KVS_E_INVALID;
    kvs_lmc_req_rec rec;
    memset(&rec, 0, sizeof rec);
    bool of = false;
    if (r->trace_id) {
        size_t n = strlen(r->trace_id);
        if (n > 32)
            n = 32;
        memcpy(rec.trace_id, r->trace_id, n);
    }
    if (r->model && *r->model && !(rec.model = intern_in(ev, KVS_LMC_SET_MODEL, r->model, &of)) && !of)
        return KVS_E_NOMEM;
    of = false;
    if (r->cache_salt) {
        rec.cache_salt = intern_in(ev, KVS_LMC_SET_CACHE_SALT, r->cache_salt, &of);
        if (!rec.cache_salt) {
            if (!of)
                return KVS_E_NOMEM;
            rec.cache_salt = "(beyond the salt cap)";
        }
    }
    of = false;
    if (r->early_exit_reason && *r->early_exit_reason &&
        !(rec.early_exit_reason = intern_in(ev, KVS_LMC_SET_EARLY_EXIT, r->early_exit_reason, &of))) {
        if (!of)
            return KVS_E_NOMEM;
        rec.early_exit_reason = "(beyond the reason cap)";
    }
    rec.salt_observed = r->salt_observed;
    rec.requested_tokens = r->requested_tokens;
    rec.hit_tokens = r->hit_tokens;
    rec.l1_hit_tokens = r->l1_hit_tokens;
    rec.l2_hit_tokens = r->l2_hit_tokens;
    rec.timeouts = r->timeouts;
    rec.store_only = r->store_only;
    rec.engine_ttft_s = r->engine_ttft_s;
    rec.t_ms = r->t_ms;

    kvs_lmc_req_stats *st = &ev->rstats;
    st->count++;
    st->store_only += r->store_only;
    st->timeouts += r->timeouts;
    if (r->requested_tokens >= 0 && !r->store_only) {
        st->with_lookup++;
        st->requested_tokens += (double)r->requested_tokens;
        if (r->hit_tokens >= 0)
            st->hit_tokens += (double)r->hit_tokens;
        if (r->l1_hit_tokens >= 0)
            st->l1_hit_tokens += (double)r->l1_hit_tokens;
        if (r->l2_hit_tokens >= 0)
            st->l2_hit_tokens += (double)r->l2_hit_tokens;
        if (r->requested_tokens > 0 && r->hit_tokens == 0)
            st->zero_hit++;
    }
    if (rec.early_exit_reason)
        st->early_exit++;
    if (!r->store_only && r->salt_observed) {
        if (!r->cache_salt)
            st->salt_missing++;
        else if (!*r->cache_salt)
            st->salt_empty++;
    }
    if (!isnan(r->engine_ttft_s)) {
        st->with_ttft++;
        st->ttft_sum += r->engine_ttft_s;
    }
    size_t cap = ev->lim.max_requests;
    ev->reqs[(ev->req_head + ev->nreq) % cap] = rec;
    if (ev->nreq < cap)
        ev->nreq++;
    else
        ev->req_head = (ev->req_head + 1) % cap;
    return 0;
}

int kvs_lmc_evidence_add_log_line(kvs_lmc_evidence *ev, const char *line, size_t n)
{
    if (!line)
        return KVS_E_INVALID;
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++)
        blank = isspace((unsigned char)line[i]) != 0;
    kvs_lmc_lane *lane = &ev->lanes[KVS_LMC_LANE_LOGS];
    lane->provided = lane->present = true;
    if (blank)
        return 0;
    kvs_lmc_logline l;
    kvs_lmc_logscan(line, n, &l);
    kvs_lmc_log_stats *ls = &ev->logs;
    ls->lines++;
    for (int c = 0; c < KVS_LMC_LOG__COUNT; c++)
        if (l.cats & (1u << c)) {
            ls->cats[c]++;
            lane->measured = true;
        }
    lane->records = ls->lines;
    ls->modes |= l.modes;
    if (l.enable_p2p >= 0)
        ls->enable_p2p = l.enable_p2p;
    if (l.enable_pd >= 0)
        ls->enable_pd = l.enable_pd;
    if (l.enable_async >= 0)
        ls->enable_async = l.enable_async;
    if (!isnan(l.speed)) {
        ls->speed_hints++;
        if (!isnan(l.speed_gbps) && (isnan(ls->speed_gbps_min) || l.speed_gbps < ls->speed_gbps_min))
            ls->speed_gbps_min = l.speed_gbps;
        if (!isnan(l.speed_tokens_s) && (isnan(ls->speed_tokens_min) || l.speed_tokens_s < ls->speed_tokens_min))
            ls->speed_tokens_min = l.speed_tokens_s;
    }
    int rc = 0;
    if (l.connector)
        rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_LOG_CONNECTOR, l.connector);
    if (!rc && l.hashseed[0])
        rc = kvs_lmc_ev_set_add(ev, KVS_LMC_SET_HASHSEED, l.hashseed);
    return rc;
}

void kvs_lmc_evidence_set_http(kvs_lmc_evidence *ev, const kvs_lmc_http_facts *h)
{
    if (!h)
        return;
    ev->has_http = true;
    ev->http = *h;
    ev->http.engine_type = NULL;
    if (h->engine_type && *h->engine_type) {
        kvs_lmc_ev_set_add(ev, KVS_LMC_SET_ENGINE_TYPE, h->engine_type);
        ev->http.engine_type = kvs_lmc_strset_get(&ev->sets[KVS_LMC_SET_ENGINE_TYPE], h->engine_type,
                                                  strlen(h->engine_type));
    }
    kvs_lmc_lane *lane = &ev->lanes[KVS_LMC_LANE_HTTP];
    lane->provided = true;
    lane->present = h->endpoints > 0;
    lane->records = h->endpoints;
    lane->measured = h->healthy == 1;
}

int kvs_lmc_evidence_add_http_failure(kvs_lmc_evidence *ev, const char *endpoint, const char *message)
{
    if (!endpoint || !*endpoint)
        return KVS_E_INVALID;
    if (ev->nhfail == ev->cap_hfail) {
        if (ev->cap_hfail >= 64)
            return 0; /* a handful is enough to report */
        size_t nc = ev->cap_hfail ? ev->cap_hfail * 2 : 4;
        kvs_lmc_http_failure *nf = kvs_arena_grow(ev->arena, ev->hfail, ev->cap_hfail * sizeof *nf, nc * sizeof *nf);
        if (!nf)
            return KVS_E_NOMEM;
        ev->hfail = nf;
        ev->cap_hfail = nc;
    }
    char code[160];
    snprintf(code, sizeof code, "lmcache_http_%s_unhealthy", endpoint);
    char msg[320];
    if (message && *message)
        snprintf(msg, sizeof msg, "%s", message);
    else
        snprintf(msg, sizeof msg, "LMCache HTTP endpoint %s reported unhealthy", endpoint);
    kvs_lmc_http_failure *f = &ev->hfail[ev->nhfail];
    f->code = kvs_lmc_ev_intern(ev, code);
    f->message = kvs_lmc_ev_intern(ev, msg);
    if (!f->code || !f->message)
        return KVS_E_NOMEM;
    ev->nhfail++;
    ev->has_http = true;
    ev->lanes[KVS_LMC_LANE_HTTP].provided = true;
    return 0;
}

void kvs_lmc_evidence_set_lane(kvs_lmc_evidence *ev, kvs_lmc_lane_id id, const kvs_lmc_lane *l)
{
    if ((unsigned)id < KVS_LMC_LANE__COUNT && l)
        ev->lanes[id] = *l;
}

/* ---- getters ---- */

kvs_lmc_strset *kvs_lmc_evidence_set(kvs_lmc_evidence *ev, kvs_lmc_set_id id)
{
    return (unsigned)id < KVS_LMC_SET__COUNT ? &ev->sets[id] : NULL;
}
const kvs_lmc_flags *kvs_lmc_evidence_flags(const kvs_lmc_evidence *ev) { return &ev->flags; }
const kvs_lmc_span_stats *kvs_lmc_evidence_spans(const kvs_lmc_evidence *ev) { return &ev->spans; }
const kvs_lmc_req_stats *kvs_lmc_evidence_req_stats(const kvs_lmc_evidence *ev) { return &ev->rstats; }
size_t kvs_lmc_evidence_nrequests(const kvs_lmc_evidence *ev) { return ev->nreq; }

const kvs_lmc_req_rec *kvs_lmc_evidence_request(const kvs_lmc_evidence *ev, size_t i)
{
    return i < ev->nreq ? &ev->reqs[(ev->req_head + i) % ev->lim.max_requests] : NULL;
}

const kvs_lmc_http_facts *kvs_lmc_evidence_http(const kvs_lmc_evidence *ev) { return ev->has_http ? &ev->http : NULL; }

size_t kvs_lmc_evidence_http_failures(const kvs_lmc_evidence *ev, const kvs_lmc_http_failure **out)
{
    *out = ev->hfail;
    return ev->nhfail;
}

const kvs_lmc_lane *kvs_lmc_evidence_lane(const kvs_lmc_evidence *ev, kvs_lmc_lane_id id)
{
    return (unsigned)id < KVS_LMC_LANE__COUNT ? &ev->lanes[id] : NULL;
}
const kvs_lmc_log_stats *kvs_lmc_evidence_logs(const kvs_lmc_evidence *ev) { return &ev->logs; }
const kvs_lmc_unknown_prefixes *kvs_lmc_evidence_unknown_prefixes(const kvs_lmc_evidence *ev) { return &ev->unk; }
