/* The evidence receivers' OTLP log records as evidence (see evidence.h and
 * docs/evidence-records.md, "How diagnosis reads these records").
 *
 * A record is told by its event_name, or by `kvscope.evidence.kind` when a
 * backend dropped the event name:
 *  - kvscope.lmcache.http / .http.summary: HTTP facts (engine_type, health,
 *    L1 memory and objects, endpoints that answered), one failure per
 *    unhealthy endpoint, the HTTP lane;
 *  - kvscope.lmcache.trace / .trace.request: the trace-recording lane;
 *  - kvscope.lmcache.trace.replay: the trace-replay lane;
 *  - kvscope.lmcache.lookup_hash / .summary: the lookup-hash lane;
 *  - kvscope.lmcache.log: its body as a log line;
 *  - kvscope.finding / .finding.resolved / kvscope.report: the diagnosis'
 *    own output, not evidence: skipped;
 *  - anything else (engine logs over OTLP): a string body as a log line.
 *
 * Merging. Records arrive in any number of batches and polls, so each
 * input is tracked by name (a file, or an HTTP source and endpoint) in a
 * table: a summary record is a snapshot of its input (the last one wins),
 * row and request records are counted (they add), and a lane is the sum of
 * its inputs, kept up to date in O(1) per record by taking an input's old
 * contribution out before putting its new one in. A snapshot that follows
 * a final one (a lookup-hash file rotated away, a recording read to its
 * end) starts a new generation of that name, whose numbers add to the
 * earlier ones. HTTP gauges (engine_type, L1 memory and objects) keep the
 * last value; health is that of the latest answer of every endpoint (one
 * unhealthy makes it 0, else one healthy makes it 1); failures are kept
 * once per code, first message first. At most MAX_INPUTS inputs are told
 * apart; records of later ones add to their lane as counts. Everything
 * lives in the evidence's arena, so the evidence frees it. */
#include "core/error.h"
#include "formats/lmcache_http.h"
#include "lmcache/evidence_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 4096

typedef enum in_kind {
    IN_HTTP_SOURCE = 0, /* a polled URL or a saved payload file */
    IN_HTTP_ENDPOINT,   /* source + endpoint */
    IN_LCT,             /* a .lct recording */
    IN_REPLAY,          /* a trace info / replay output */
    IN_LOOKUP,          /* a lookup-hash JSONL file */
    IN_LOG,             /* a log file */
    IN__COUNT
} in_kind;

static const kvs_lmc_lane_id kind_lane[IN__COUNT] = {
    [IN_HTTP_SOURCE] = KVS_LMC_LANE_HTTP,
    [IN_HTTP_ENDPOINT] = KVS_LMC_LANE_HTTP,
    [IN_LCT] = KVS_LMC_LANE_TRACE_RECORDING,
    [IN_REPLAY] = KVS_LMC_LANE_TRACE_REPLAY,
    [IN_LOOKUP] = KVS_LMC_LANE_LOOKUP_HASH,
    [IN_LOG] = KVS_LMC_LANE_LOGS,
};

/* What one input holds: the current generation's snapshot and counted
 * records, plus the generations before it. */
typedef struct snap {
    unsigned long records, errors;
    bool present, measured;
} snap;

typedef struct input {
    const char *key;   /* kind byte + name, in the arena */
    uint64_t hash;
    in_kind kind;
    bool final;        /* the last snapshot was final */
    snap cur;          /* last snapshot */
    unsigned long counted; /* row / request records of this generation */
    snap base;         /* earlier generations */
    int health;        /* HTTP endpoint: kvs_lmc_health of the latest answer, -1 none */
    bool answered;     /* HTTP endpoint: answered at least once */
    bool readable;     /* HTTP endpoint: answered a payload once (a health verdict or JSON) */
} input;

typedef struct lane_sum {
    unsigned long records, errors, npresent, nmeasured, files;
} lane_sum;

struct kvs_lmc_recstate {
    input *inputs;
    size_t n, cap;
    uint32_t *slots;   /* index + 1, 0 empty */
    size_t nslots;
    input overflow[IN__COUNT];   /* inputs beyond MAX_INPUTS, every snapshot a new generation */
    lane_sum sums[KVS_LMC_LANE__COUNT];
    bool touched[KVS_LMC_LANE__COUNT];
    /* HTTP */
    unsigned long http_answers;  /* endpoint records with an answer */
    unsigned long n_healthy, n_unhealthy; /* endpoints whose latest answer is healthy / unhealthy */
    unsigned answered_eps;       /* bits of kvs_lmc_ep that ever answered */
    bool summary_seen, summary_reachable;
    int summary_health;          /* -1, 0, 1 from the last summary */
};

/* ---- attributes ---- */

static const kvs_any *attr(const kvs_log_record *lr, const char *key)
{
    for (size_t i = 0; i < lr->n_attributes; i++)
        if (lr->attributes[i] && lr->attributes[i]->key && strcmp(lr->attributes[i]->key, key) == 0)
            return lr->attributes[i]->value;
    return NULL;
}

static const char *attr_str(const kvs_log_record *lr, const char *key)
{
    const kvs_any *v = attr(lr, key);
    return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE && v->string_value
               ? v->string_value
               : NULL;
}

/* A number from an int, double or numeric string attribute. */
static bool attr_num(const kvs_log_record *lr, const char *key, double *out)
{
    const kvs_any *v = attr(lr, key);
    if (!v)
        return false;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        *out = (double)v->int_value;
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        *out = v->double_value;
        return !isnan(*out);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE: {
        if (!v->string_value || !*v->string_value)
            return false;
        char *end;
        *out = strtod(v->string_value, &end);
        return *end == '\0' && !isnan(*out);
    }
    default:
        return false;
    }
}

static unsigned long attr_count(const kvs_log_record *lr, const char *key)
{
    double d;
    return attr_num(lr, key, &d) && d > 0 && d < 1e18 ? (unsigned long)d : 0;
}

/* -1 absent, else 0 / 1 (bool, or "true"/"false"). */
static int attr_bool(const kvs_log_record *lr, const char *key)
{
    const kvs_any *v = attr(lr, key);
    if (!v)
        return -1;
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE)
        return v->bool_value ? 1 : 0;
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE && v->string_value)
        return strcmp(v->string_value, "true") == 0 ? 1 : strcmp(v->string_value, "false") == 0 ? 0 : -1;
    return -1;
}

/* A list attribute (array of strings); n 0 when absent. */
static const kvs_array *attr_list(const kvs_log_record *lr, const char *key)
{
    const kvs_any *v = attr(lr, key);
    return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE ? v->array_value
                                                                                              : NULL;
}

static const char *list_str(const kvs_array *a, size_t i)
{
    const kvs_any *v = a && i < a->n_values ? a->values[i] : NULL;
    return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE ? v->string_value
                                                                                               : NULL;
}

static bool map_nonempty(const kvs_log_record *lr, const char *key)
{
    const kvs_any *v = attr(lr, key);
    return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE && v->kvlist_value &&
           v->kvlist_value->n_values > 0;
}

/* ---- inputs ---- */

static struct kvs_lmc_recstate *state(kvs_lmc_evidence *ev)
{
    if (!ev->rec) {
        ev->rec = kvs_arena_zalloc(ev->arena, sizeof *ev->rec);
        if (ev->rec)
            for (int k = 0; k < IN__COUNT; k++) {
                ev->rec->overflow[k].kind = (in_kind)k;
                ev->rec->overflow[k].health = -1;
            }
    }
    return ev->rec;
}

static int slots_grow(kvs_lmc_evidence *ev, struct kvs_lmc_recstate *st)
{
    size_t nn = st->nslots ? st->nslots * 2 : 64;
    uint32_t *ns = kvs_arena_zalloc(ev->arena, nn * sizeof *ns);
    if (!ns)
        return KVS_E_NOMEM;
    for (size_t i = 0; i < st->n; i++) {
        size_t j = (size_t)st->inputs[i].hash & (nn - 1);
        while (ns[j])
            j = (j + 1) & (nn - 1);
        ns[j] = (uint32_t)(i + 1);
    }
    st->slots = ns;
    st->nslots = nn;
    return 0;
}

/* The input of (kind, name, sub), created on first sight; the overflow
 * input of the kind past MAX_INPUTS; NULL when out of memory. `sub` (may
 * be NULL) tells HTTP endpoints of one source apart. */
static input *input_get(kvs_lmc_evidence *ev, in_kind kind, const char *name, const char *sub)
{
    struct kvs_lmc_recstate *st = ev->rec;
    char key[1100];
    size_t n = (size_t)snprintf(key, sizeof key, "%c%.900s%s%.64s", 'A' + (int)kind, name ? name : "",
                                sub ? "\x1f" : "", sub ? sub : "");
    if (n >= sizeof key)
        n = sizeof key - 1;
    uint64_t h = kvs_lmc_hash(key, n, 29);
    if (st->nslots) {
        size_t mask = st->nslots - 1;
        for (size_t i = (size_t)h & mask; st->slots[i]; i = (i + 1) & mask) {
            input *in = &st->inputs[st->slots[i] - 1];
            if (in->hash == h && strcmp(in->key, key) == 0)
                return in;
        }
    }
    if (st->n >= MAX_INPUTS) {
        input *ov = &st->overflow[kind];
        ov->final = true; /* every snapshot of an untracked input adds */
        return ov;
    }
    if ((st->n + 1) * 2 > st->nslots && slots_grow(ev, st) != 0)
        return NULL;
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 16;
        input *ni = kvs_arena_grow(ev->arena, st->inputs, st->cap * sizeof *ni, nc * sizeof *ni);
        if (!ni)
            return NULL;
        st->inputs = ni;
        st->cap = nc;
    }
    input *in = &st->inputs[st->n];
    memset(in, 0, sizeof *in);
    if (!(in->key = kvs_arena_strndup(ev->arena, key, n)))
        return NULL;
    in->hash = h;
    in->kind = kind;
    in->health = -1;
    size_t j = (size_t)h & (st->nslots - 1);
    while (st->slots[j])
        j = (j + 1) & (st->nslots - 1);
    st->slots[j] = (uint32_t)(st->n + 1);
    st->n++;
    if (kind != IN_HTTP_ENDPOINT)
        st->sums[kind_lane[kind]].files++;
    return in;
}

/* An input's share of its lane: the current generation plus the earlier
 * ones. Counted lookup-hash rows and the file's summary count the same
 * rows (whichever says more wins); counted requests of a recording show it
 * held records but are not recording records. */
static snap contribution(const input *in)
{
    snap s = in->cur;
    if (in->kind == IN_LOOKUP && in->counted > s.records)
        s.records = in->counted;
    if (in->counted) {
        s.present = true;
        s.measured = true;
    }
    s.records += in->base.records;
    s.errors += in->base.errors;
    s.present = s.present || in->base.present;
    s.measured = s.measured || in->base.measured;
    return s;
}

static void sum_apply(struct kvs_lmc_recstate *st, const input *in, int sign)
{
    if (in->kind == IN_HTTP_SOURCE || in->kind == IN_HTTP_ENDPOINT)
        return; /* the HTTP lane is counted per answer */
    lane_sum *l = &st->sums[kind_lane[in->kind]];
    snap s = contribution(in);
    if (sign > 0) {
        l->records += s.records;
        l->errors += s.errors;
        l->npresent += s.present;
        l->nmeasured += s.measured;
    } else {
        l->records -= s.records;
        l->errors -= s.errors;
        l->npresent -= s.present;
        l->nmeasured -= s.measured;
    }
}

/* Before changing an input: its old share out, and a new generation when
 * the last snapshot was final. */
static void input_begin(struct kvs_lmc_recstate *st, input *in)
{
    sum_apply(st, in, -1);
    if (in->final) {
        snap s = contribution(in);
        in->base = s;
        memset(&in->cur, 0, sizeof in->cur);
        in->counted = 0;
        in->final = false;
    }
}

static void input_end(struct kvs_lmc_recstate *st, input *in)
{
    sum_apply(st, in, +1);
    st->touched[kind_lane[in->kind]] = true;
}

static void lane_publish(kvs_lmc_evidence *ev, kvs_lmc_lane_id id)
{
    const lane_sum *s = &ev->rec->sums[id];
    kvs_lmc_lane *l = &ev->lanes[id];
    l->provided = true;
    l->present = s->npresent > 0;
    l->measured = s->nmeasured > 0;
    l->records = s->records;
    l->parse_errors = s->errors;
    l->files = s->files;
}

/* ---- HTTP ---- */

static kvs_lmc_health health_of(const char *s)
{
    if (!s)
        return KVS_LMC_UNKNOWN;
    if (strcmp(s, "healthy") == 0)
        return KVS_LMC_HEALTHY;
    if (strcmp(s, "unhealthy") == 0)
        return KVS_LMC_UNHEALTHY;
    if (strcmp(s, "unavailable") == 0)
        return KVS_LMC_UNAVAILABLE;
    return KVS_LMC_UNKNOWN;
}

static bool has_failure(const kvs_lmc_evidence *ev, const char *endpoint)
{
    char code[160];
    snprintf(code, sizeof code, "lmcache_http_%s_unhealthy", endpoint);
    for (size_t i = 0; i < ev->nhfail; i++)
        if (strcmp(ev->hfail[i].code, code) == 0)
            return true;
    return false;
}

static int failure_once(kvs_lmc_evidence *ev, const char *endpoint, const char *message)
{
    if (!endpoint || !*endpoint || has_failure(ev, endpoint))
        return 0;
    return kvs_lmc_evidence_add_http_failure(ev, endpoint, message);
}

static const char *http_source(const kvs_log_record *lr)
{
    const char *s = attr_str(lr, "url.full");
    if (!s)
        s = attr_str(lr, "log.file.path");
    return s ? s : "";
}

/* The facts so far, the lane recomputed. */
static void http_publish(kvs_lmc_evidence *ev, const kvs_lmc_http_facts *f)
{
    struct kvs_lmc_recstate *st = ev->rec;
    kvs_lmc_http_facts h = *f;
    unsigned eps = st->answered_eps;
    h.endpoints = 0;
    for (; eps; eps &= eps - 1)
        h.endpoints++;
    if (st->n_unhealthy)
        h.healthy = 0;
    else if (st->n_healthy)
        h.healthy = 1;
    else
        h.healthy = st->summary_seen ? st->summary_health : -1;
    kvs_lmc_evidence_set_http(ev, &h);
    lane_sum *s = &st->sums[KVS_LMC_LANE_HTTP];
    kvs_lmc_lane *l = &ev->lanes[KVS_LMC_LANE_HTTP];
    l->provided = true;
    l->present = s->npresent > 0 || st->summary_reachable;
    l->measured = s->nmeasured > 0 || (st->summary_reachable && h.endpoints > 0);
    l->records = st->http_answers;
    l->parse_errors = 0;
    l->files = s->files;
}

static kvs_lmc_http_facts http_current(const kvs_lmc_evidence *ev)
{
    if (ev->has_http)
        return ev->http;
    kvs_lmc_http_facts h = {.healthy = -1, .l1_memory_used_bytes = NAN, .l1_total_object_count = NAN,
                            .l1_memory_total_bytes = NAN};
    return h;
}

static int http_endpoint(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    struct kvs_lmc_recstate *st = ev->rec;
    const char *src = http_source(lr), *ep = attr_str(lr, "kvscope.lmcache.http.endpoint");
    kvs_lmc_health hs = health_of(attr_str(lr, "kvscope.lmcache.http.status"));
    if (!input_get(ev, IN_HTTP_SOURCE, src, NULL))
        return KVS_E_NOMEM;
    input *in = input_get(ev, IN_HTTP_ENDPOINT, src, ep ? ep : "");
    if (!in)
        return KVS_E_NOMEM;
    lane_sum *s = &st->sums[KVS_LMC_LANE_HTTP];
    /* the endpoint's latest health replaces its previous one */
    if (in->health == KVS_LMC_HEALTHY)
        st->n_healthy--;
    else if (in->health == KVS_LMC_UNHEALTHY)
        st->n_unhealthy--;
    in->health = (int)hs;
    if (hs == KVS_LMC_HEALTHY)
        st->n_healthy++;
    else if (hs == KVS_LMC_UNHEALTHY)
        st->n_unhealthy++;

    kvs_lmc_http_facts f = http_current(ev);
    if (hs != KVS_LMC_UNAVAILABLE) {
        st->http_answers++;
        kvs_lmc_ep e;
        if (ep && kvs_lmc_ep_from_name(ep, strlen(ep), &e) == 0)
            st->answered_eps |= 1u << e;
        const char *ct = attr_str(lr, "kvscope.lmcache.http.content_type");
        double code = 0;
        bool ok_code = !attr_num(lr, "http.response.status_code", &code) || (code >= 200 && code < 300) ||
                       hs == KVS_LMC_UNHEALTHY;
        bool readable =
            ok_code && (hs == KVS_LMC_HEALTHY || hs == KVS_LMC_UNHEALTHY || (ct && strcmp(ct, "json") == 0));
        if (!in->answered) {
            in->answered = true;
            s->npresent++;
        }
        if (readable && !in->readable) {
            in->readable = true;
            s->nmeasured++;
        }
    }
    const char *et = attr_str(lr, "lmcache.engine_type");
    if (et && *et)
        f.engine_type = et;
    double v;
    if (attr_num(lr, "lmcache.l1.memory_used_bytes", &v))
        f.l1_memory_used_bytes = v;
    if (attr_num(lr, "lmcache.l1.memory_total_bytes", &v))
        f.l1_memory_total_bytes = v;
    if (attr_num(lr, "lmcache.l1.object_count", &v))
        f.l1_total_object_count = v;
    int rc = 0;
    if (hs == KVS_LMC_UNHEALTHY)
        rc = failure_once(ev, ep, attr_str(lr, "kvscope.lmcache.http.reason"));
    http_publish(ev, &f);
    return rc;
}

static int http_summary(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    struct kvs_lmc_recstate *st = ev->rec;
    if (!input_get(ev, IN_HTTP_SOURCE, http_source(lr), NULL))
        return KVS_E_NOMEM;
    int reachable = attr_bool(lr, "kvscope.lmcache.http.reachable");
    int healthy = attr_bool(lr, "kvscope.lmcache.http.is_healthy");
    const kvs_array *codes = attr_list(lr, "kvscope.lmcache.http.failure_reasons");
    const kvs_array *msgs = attr_list(lr, "kvscope.lmcache.http.failure_messages");
    const kvs_array *fetched = attr_list(lr, "kvscope.lmcache.http.endpoints");
    const kvs_array *unavail = attr_list(lr, "kvscope.lmcache.http.unavailable");
    st->summary_seen = true;
    st->summary_reachable = reachable == 1;
    st->summary_health = reachable == 1 && healthy == 1 ? 1 : codes && codes->n_values ? 0 : -1;
    for (size_t i = 0; fetched && i < fetched->n_values; i++) {
        const char *ep = list_str(fetched, i);
        bool down = false;
        for (size_t j = 0; ep && unavail && j < unavail->n_values && !down; j++)
            down = list_str(unavail, j) && strcmp(list_str(unavail, j), ep) == 0;
        kvs_lmc_ep e;
        if (ep && !down && kvs_lmc_ep_from_name(ep, strlen(ep), &e) == 0)
            st->answered_eps |= 1u << e;
    }
    int rc = 0;
    for (size_t i = 0; codes && i < codes->n_values && !rc; i++) {
        const char *code = list_str(codes, i);
        size_t n = code ? strlen(code) : 0;
        static const char pre[] = "lmcache_http_", post[] = "_unhealthy";
        if (n <= sizeof pre - 1 + sizeof post - 1 || strncmp(code, pre, sizeof pre - 1) != 0 ||
            strcmp(code + n - (sizeof post - 1), post) != 0)
            continue;
        char ep[128];
        size_t en = n - (sizeof pre - 1) - (sizeof post - 1);
        if (en >= sizeof ep)
            continue;
        memcpy(ep, code + sizeof pre - 1, en);
        ep[en] = '\0';
        rc = failure_once(ev, ep, list_str(msgs, i));
    }
    kvs_lmc_http_facts f = http_current(ev);
    http_publish(ev, &f);
    return rc;
}

/* ---- trace recordings, replay outputs, lookup hashes ---- */

static int trace_summary(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    input *in = input_get(ev, IN_LCT, attr_str(lr, "lmcache.trace.file"), NULL);
    if (!in)
        return KVS_E_NOMEM;
    input_begin(ev->rec, in);
    int valid = attr_bool(lr, "lmcache.trace.valid");
    snap s = {0};
    s.present = valid != 0;
    s.records = valid != 0 ? attr_count(lr, "lmcache.trace.records") : 0;
    s.errors = attr_count(lr, "lmcache.trace.skipped") + (valid == 0) + (attr_bool(lr, "lmcache.trace.truncated") == 1);
    s.measured = s.records > 0;
    in->cur = s;
    in->final = attr_bool(lr, "lmcache.trace.in_progress") != 1;
    input_end(ev->rec, in);
    return 0;
}

static int trace_request(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    input *in = input_get(ev, IN_LCT, attr_str(lr, "lmcache.trace.file"), NULL);
    if (!in)
        return KVS_E_NOMEM;
    input_begin(ev->rec, in); /* requests come before their recording's summary */
    in->counted++;
    input_end(ev->rec, in);
    return 0;
}

static int trace_replay(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    input *in = input_get(ev, IN_REPLAY, attr_str(lr, "lmcache.replay.file"), NULL);
    if (!in)
        return KVS_E_NOMEM;
    input_begin(ev->rec, in);
    double total = -1;
    attr_num(lr, "lmcache.replay.total_records", &total);
    bool ops = map_nonempty(lr, "lmcache.replay.op_counts");
    snap s = {0};
    s.records = attr_count(lr, "lmcache.replay.rows");
    s.errors = attr_count(lr, "lmcache.replay.error_count");
    s.measured = s.records > 0 || total > 0 || ops;
    s.present = s.measured || total >= 0 || s.errors == 0;
    in->cur = s;
    input_end(ev->rec, in);
    return 0;
}

static int lookup_row(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    input *in = input_get(ev, IN_LOOKUP, attr_str(lr, "lmcache.lookup_hash.file"), NULL);
    if (!in)
        return KVS_E_NOMEM;
    input_begin(ev->rec, in);
    in->counted++;
    input_end(ev->rec, in);
    return 0;
}

static int lookup_summary(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    input *in = input_get(ev, IN_LOOKUP, attr_str(lr, "lmcache.lookup_hash.file"), NULL);
    if (!in)
        return KVS_E_NOMEM;
    input_begin(ev->rec, in);
    snap s = {0};
    s.records = attr_count(lr, "lmcache.lookup_hash.rows");
    s.errors = attr_count(lr, "lmcache.lookup_hash.malformed_rows");
    s.present = true;
    s.measured = s.records > 0;
    in->cur = s;
    in->final = attr_bool(lr, "lmcache.lookup_hash.final") == 1;
    input_end(ev->rec, in);
    return 0;
}

/* ---- log lines ---- */

static const char *string_body(const kvs_log_record *lr)
{
    return lr->body && lr->body->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
               ? lr->body->string_value
               : NULL;
}

/* A log line's file (`log.file.path`, as filelog and the Collector's
 * filelog receiver name it) counted in the logs lane. */
static int log_file(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    const char *path = attr_str(lr, "log.file.path");
    if (!path)
        return 0;
    if (!state(ev) || !input_get(ev, IN_LOG, path, NULL))
        return KVS_E_NOMEM;
    ev->lanes[KVS_LMC_LANE_LOGS].files = ev->rec->sums[KVS_LMC_LANE_LOGS].files;
    return 0;
}

/* A filelog line. Its attributes carry the classification of
 * formats/log_classify, which logscan runs again on the body (so the two
 * agree) to add kvscope's categories (remote_backend_error, zero_hit) and
 * the hit and speed values the record does not carry. The one thing the
 * body alone cannot tell is the receiver's source hint (an SGLang file
 * makes the bare LMCacheConnector SGLang's own, an embedded candidate):
 * the record's mode candidates are taken as the receiver found them. */
static int filelog_line(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    const char *body = string_body(lr);
    if (!body)
        return 0;
    int rc = kvs_lmc_evidence_add_log_line(ev, body, strlen(body));
    if (rc)
        return rc;
    static const struct {
        const char *name;
        uint32_t bit;
    } modes[] = {{"mp", KVS_LMC_LOGMODE_MP},
                 {"embedded", KVS_LMC_LOGMODE_EMBEDDED},
                 {"p2p", KVS_LMC_LOGMODE_P2P},
                 {"disaggregated_prefill", KVS_LMC_LOGMODE_PD}};
    const kvs_array *mc = attr_list(lr, "kvscope.lmcache.mode_candidates");
    for (size_t i = 0; mc && i < mc->n_values; i++)
        for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++)
            if (list_str(mc, i) && strcmp(list_str(mc, i), modes[k].name) == 0)
                ev->logs.modes |= modes[k].bit;
    return log_file(ev, lr);
}

/* ---- dispatch ---- */

typedef enum rec_kind {
    R_OTHER,
    R_OWN,
    R_HTTP,
    R_HTTP_SUMMARY,
    R_TRACE,
    R_TRACE_REQUEST,
    R_TRACE_REPLAY,
    R_LOOKUP,
    R_LOOKUP_SUMMARY,
    R_LOG,
} rec_kind;

static rec_kind kind_of(const kvs_log_record *lr)
{
    static const struct {
        const char *name;
        rec_kind k;
    } events[] = {
        {"kvscope.lmcache.http", R_HTTP},
        {"kvscope.lmcache.http.summary", R_HTTP_SUMMARY},
        {"kvscope.lmcache.trace", R_TRACE},
        {"kvscope.lmcache.trace.request", R_TRACE_REQUEST},
        {"kvscope.lmcache.trace.replay", R_TRACE_REPLAY},
        {"kvscope.lmcache.lookup_hash", R_LOOKUP},
        {"kvscope.lmcache.lookup_hash.summary", R_LOOKUP_SUMMARY},
        {"kvscope.lmcache.log", R_LOG},
        {"kvscope.finding", R_OWN},
        {"kvscope.finding.resolved", R_OWN},
        {"kvscope.report", R_OWN},
    };
    const char *ev = lr->event_name;
    if (ev && *ev) {
        for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
            if (strcmp(ev, events[i].name) == 0)
                return events[i].k;
        return R_OTHER;
    }
    const char *kind = attr_str(lr, "kvscope.evidence.kind");
    if (!kind)
        return R_OTHER;
    if (strcmp(kind, "http") == 0)
        return attr(lr, "kvscope.lmcache.http.endpoint") ? R_HTTP : R_HTTP_SUMMARY;
    if (strcmp(kind, "lct") == 0)
        return R_TRACE;
    if (strcmp(kind, "lct_request") == 0)
        return R_TRACE_REQUEST;
    if (strcmp(kind, "lct_replay") == 0)
        return R_TRACE_REPLAY;
    if (strcmp(kind, "lookup_hash") == 0)
        return attr(lr, "lmcache.lookup_hash.rows") ? R_LOOKUP_SUMMARY : R_LOOKUP;
    if (strcmp(kind, "log") == 0)
        return R_LOG;
    return R_OTHER;
}

int kvs_lmc_ev_add_log_record(kvs_lmc_evidence *ev, const kvs_log_record *lr)
{
    if (!lr)
        return 0;
    rec_kind k = kind_of(lr);
    if (k == R_OWN)
        return 0;
    if (k == R_OTHER) {
        const char *body = string_body(lr);
        if (!body)
            return 0;
        int rc = kvs_lmc_evidence_add_log_line(ev, body, strlen(body));
        return rc ? rc : log_file(ev, lr);
    }
    struct kvs_lmc_recstate *st = state(ev);
    if (!st)
        return KVS_E_NOMEM;
    int rc = 0;
    switch (k) {
    case R_HTTP: rc = http_endpoint(ev, lr); break;
    case R_HTTP_SUMMARY: rc = http_summary(ev, lr); break;
    case R_TRACE: rc = trace_summary(ev, lr); break;
    case R_TRACE_REQUEST: rc = trace_request(ev, lr); break;
    case R_TRACE_REPLAY: rc = trace_replay(ev, lr); break;
    case R_LOOKUP: rc = lookup_row(ev, lr); break;
    case R_LOOKUP_SUMMARY: rc = lookup_summary(ev, lr); break;
    case R_LOG: rc = filelog_line(ev, lr); break;
    default: break;
    }
    for (int id = 0; id < KVS_LMC_LANE__COUNT; id++)
        if (st->touched[id] && id != KVS_LMC_LANE_HTTP && id != KVS_LMC_LANE_LOGS) {
            lane_publish(ev, (kvs_lmc_lane_id)id);
            st->touched[id] = false;
        }
    return rc;
}
