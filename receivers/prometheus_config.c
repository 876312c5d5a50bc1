/* Receiver `prometheus`, configuration: reads Prometheus `scrape_configs`
 * (and `global`) under the receiver's `config:` key, as the Collector's
 * prometheus receiver embeds them, into kvs_promr_cfg. Defaults and checks
 * follow Prometheus: scrape_timeout defaults to the global one (10s, or the
 * interval when that is shorter) and may not exceed scrape_interval; job
 * names are unique; at most one authentication method per job. Every error
 * names file:line:column of the offending key or value. */
#include "receivers/prometheus_int.h"

#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEF_INTERVAL (15 * KVS_SEC)
#define DEF_TIMEOUT (10 * KVS_SEC)

static const char *const section_keys[] = { "config", NULL };
static const char *const config_keys[] = { "global", "scrape_configs", NULL };
static const char *const global_keys[] = { "scrape_interval", "scrape_timeout", NULL };
static const char *const job_keys[] = { "job_name", "static_configs", "metrics_path", "scheme", "scrape_interval",
                                        "scrape_timeout", "honor_labels", "honor_timestamps", "params",
                                        "authorization", "basic_auth", "bearer_token", "bearer_token_file",
                                        "headers", "tls_config", "sample_limit", "body_size_limit", NULL };
static const char *const static_keys[] = { "targets", "labels", NULL };
static const char *const authz_keys[] = { "type", "credentials", "credentials_file", NULL };
static const char *const basic_keys[] = { "username", "password", "password_file", NULL };
static const char *const tls_keys[] = { "ca_file", "cert_file", "key_file", "insecure_skip_verify", NULL };
static const char *const schemes[] = { "http", "https", NULL };
static const char *const reserved_headers[] = { "accept", "accept-encoding", "authorization", "user-agent",
                                                "x-prometheus-scrape-timeout-seconds", "content-length", "host",
                                                "connection", "transfer-encoding", NULL };

void kvs_promr_cfg_free(kvs_promr_cfg *c)
{
    for (size_t i = 0; i < c->njobs; i++) {
        free(c->jobs[i].query);
        free(c->jobs[i].headers);
    }
    for (size_t i = 0; i < c->ntargets; i++)
        free(c->targets[i].labels);
    free(c->jobs);
    free(c->targets);
    memset(c, 0, sizeof *c);
}

static int label_name_ok(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int header_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

/* A size: an integer of bytes, or a number with B, KB, MB, GB (or KiB, MiB,
 * GiB; all powers of 1024 as in Prometheus). */
static int size_bytes(const kvs_cfg_node *map, const char *key, int64_t *out, kvs_error *err)
{
    const kvs_cfg_node *n = kvs_cfg_get(map, key);
    *out = 0;
    if (!n || n->type == KVS_CFG_NULL)
        return 0;
    if (n->type != KVS_CFG_SCALAR)
        return kvs_cfg_errorf(err, n, "expected a size (bytes, or e.g. 10MB)");
    char *end;
    double v = strtod(n->scalar, &end);
    double mul = 1;
    if (strcasecmp(end, "") == 0 || strcasecmp(end, "B") == 0)
        mul = 1;
    else if (strcasecmp(end, "KB") == 0 || strcasecmp(end, "KiB") == 0)
        mul = 1024.0;
    else if (strcasecmp(end, "MB") == 0 || strcasecmp(end, "MiB") == 0)
        mul = 1024.0 * 1024;
    else if (strcasecmp(end, "GB") == 0 || strcasecmp(end, "GiB") == 0)
        mul = 1024.0 * 1024 * 1024;
    else
        return kvs_cfg_errorf(err, n, "\"%s\" is not a size (bytes, or a number with B, KB, MB or GB)", n->scalar);
    if (end == n->scalar || !(v >= 0) || v * mul > 9.0e18)
        return kvs_cfg_errorf(err, n, "\"%s\" is not a size (bytes, or a number with B, KB, MB or GB)", n->scalar);
    *out = (int64_t)(v * mul);
    return 0;
}

static void pct_encode(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    *out = 0;
}

/* `params: {name: [v, ...]}` as a query string appended to the path. */
static int build_query(const kvs_cfg_node *params, kvs_promr_job *j, kvs_error *err)
{
    size_t cap = 1, len = 0;
    char *q = calloc(1, cap);
    if (!q)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    j->query = q;
    if (!params || params->type == KVS_CFG_NULL)
        return 0;
    if (params->type != KVS_CFG_MAP)
        return kvs_cfg_errorf(err, params, "params must be a map of name to a list of values");
    for (size_t i = 0; i < params->n; i++) {
        const char **vals;
        size_t nv;
        const char *name = params->keys[i]->scalar;
        if (kvs_cfg_strlist(params, name, &vals, &nv, err))
            return KVS_E_INVALID;
        for (size_t k = 0; k < nv; k++) {
            size_t need = len + 2 + 3 * (strlen(name) + strlen(vals[k])) + 1;
            if (need > cap) {
                char *g = realloc(q, need * 2);
                if (!g) {
                    free(vals);
                    return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
                }
                q = j->query = g;
                cap = need * 2;
            }
            char sep = len == 0 && !strchr(j->path, '?') ? '?' : '&';
            q[len++] = sep;
            pct_encode(q + len, name);
            len += strlen(q + len);
            q[len++] = '=';
            pct_encode(q + len, vals[k]);
            len += strlen(q + len);
        }
        free(vals);
    }
    return 0;
}

static int parse_headers(const kvs_cfg_node *h, kvs_promr_job *j, kvs_error *err)
{
    if (!h || h->type == KVS_CFG_NULL)
        return 0;
    if (h->type != KVS_CFG_MAP)
        return kvs_cfg_errorf(err, h, "headers must be a map of header name to value");
    j->headers = calloc(h->n + 1, sizeof *j->headers);
    if (!j->headers)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->keys[i]->scalar;
        if (!header_name_ok(name))
            return kvs_cfg_errorf(err, h->keys[i], "\"%s\" is not an HTTP header name", name);
        for (size_t r = 0; reserved_headers[r]; r++)
            if (strcasecmp(name, reserved_headers[r]) == 0)
                return kvs_cfg_errorf(err, h->keys[i], "header \"%s\" is set by the scraper%s", name,
                                      strcasecmp(name, "authorization") == 0 ? " (use `authorization`)" : "");
        if (h->items[i]->type != KVS_CFG_SCALAR)
            return kvs_cfg_errorf(err, h->items[i], "headers.%s: expected a string", name);
        const char *v = h->items[i]->scalar;
        if (strpbrk(v, "\r\n"))
            return kvs_cfg_errorf(err, h->items[i], "headers.%s: a value may not contain a line break", name);
        j->headers[j->nheaders++] = (kvs_promr_pair){ name, v };
    }
    return 0;
}

static int parse_auth(const kvs_cfg_node *jn, kvs_promr_job *j, kvs_error *err)
{
    const kvs_cfg_node *az = kvs_cfg_get(jn, "authorization"), *ba = kvs_cfg_get(jn, "basic_auth");
    const kvs_cfg_node *bt = kvs_cfg_get(jn, "bearer_token"), *bf = kvs_cfg_get(jn, "bearer_token_file");
    int methods = (az && az->type != KVS_CFG_NULL) + (ba && ba->type != KVS_CFG_NULL) +
                  ((bt && bt->type != KVS_CFG_NULL) || (bf && bf->type != KVS_CFG_NULL));
    if (methods > 1)
        return kvs_cfg_errorf(err, az ? az : ba,
                              "at most one of authorization, basic_auth and bearer_token may be set");
    if (kvs_cfg_str(jn, "bearer_token", NULL, &j->bearer, err) ||
        kvs_cfg_str(jn, "bearer_token_file", NULL, &j->bearer_file, err))
        return KVS_E_INVALID;
    if (j->bearer && j->bearer_file)
        return kvs_cfg_errorf(err, bf, "bearer_token and bearer_token_file are exclusive");
    j->auth_type = "Bearer";
    if (az && az->type != KVS_CFG_NULL) {
        const char *cred, *file;
        if (kvs_cfg_expect_map(az, err) || kvs_cfg_check_keys(az, authz_keys, err) ||
            kvs_cfg_str(az, "type", "Bearer", &j->auth_type, err) || kvs_cfg_str(az, "credentials", NULL, &cred, err) ||
            kvs_cfg_str(az, "credentials_file", NULL, &file, err))
            return KVS_E_INVALID;
        if (cred && file)
            return kvs_cfg_errorf(err, az, "authorization: credentials and credentials_file are exclusive");
        if (!*j->auth_type || strchr(j->auth_type, ' ') || strpbrk(j->auth_type, "\r\n"))
            return kvs_cfg_errorf(err, kvs_cfg_get(az, "type"), "authorization.type must be one word (e.g. Bearer)");
        if (strcasecmp(j->auth_type, "basic") == 0)
            return kvs_cfg_errorf(err, kvs_cfg_get(az, "type"), "authorization.type Basic: use basic_auth instead");
        j->bearer = cred;
        j->bearer_file = file;
        if (!cred && !file)
            return kvs_cfg_errorf(err, az, "authorization needs credentials or credentials_file");
    }
    if (j->bearer && strpbrk(j->bearer, "\r\n"))
        return kvs_cfg_errorf(err, az ? az : bt, "credentials may not contain a line break");
    if (ba && ba->type != KVS_CFG_NULL) {
        if (kvs_cfg_expect_map(ba, err) || kvs_cfg_check_keys(ba, basic_keys, err) ||
            kvs_cfg_str(ba, "username", NULL, &j->username, err) ||
            kvs_cfg_str(ba, "password", NULL, &j->password, err) ||
            kvs_cfg_str(ba, "password_file", NULL, &j->password_file, err))
            return KVS_E_INVALID;
        if (!j->username)
            return kvs_cfg_errorf(err, ba, "basic_auth needs a username");
        if (j->password && j->password_file)
            return kvs_cfg_errorf(err, ba, "basic_auth: password and password_file are exclusive");
    }
    return 0;
}

static int parse_tls(const kvs_cfg_node *jn, kvs_promr_job *j, kvs_error *err)
{
    const kvs_cfg_node *t = kvs_cfg_get(jn, "tls_config");
    int insecure = 0;
    if (!t)
        return 0;
    if (kvs_cfg_expect_map(t, err) || kvs_cfg_check_keys(t, tls_keys, err) ||
        kvs_cfg_str(t, "ca_file", NULL, &j->ca_file, err) || kvs_cfg_str(t, "cert_file", NULL, &j->cert_file, err) ||
        kvs_cfg_str(t, "key_file", NULL, &j->key_file, err) ||
        kvs_cfg_bool(t, "insecure_skip_verify", 0, &insecure, err))
        return KVS_E_INVALID;
    j->insecure_skip_verify = insecure;
    if (!j->cert_file != !j->key_file)
        return kvs_cfg_errorf(err, t, "tls_config: cert_file and key_file go together");
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const kvs_promr_pair *)a)->name, ((const kvs_promr_pair *)b)->name);
}

/* One static_configs entry: its targets, each with the entry's labels. */
static int parse_static(const kvs_cfg_node *sc, size_t ji, kvs_promr_cfg *out, kvs_error *err)
{
    if (sc->type != KVS_CFG_MAP)
        return kvs_cfg_errorf(err, sc, "expected a map with targets and labels");
    if (kvs_cfg_check_keys(sc, static_keys, err))
        return KVS_E_INVALID;
    const kvs_cfg_node *lab = kvs_cfg_get(sc, "labels");
    if (lab && lab->type != KVS_CFG_NULL && lab->type != KVS_CFG_MAP)
        return kvs_cfg_errorf(err, lab, "labels must be a map of label name to value");
    size_t nl = lab && lab->type == KVS_CFG_MAP ? lab->n : 0;
    const char *job = out->jobs[ji].name, *instance = NULL;
    for (size_t i = 0; i < nl; i++) {
        const char *k = lab->keys[i]->scalar;
        if (!label_name_ok(k))
            return kvs_cfg_errorf(err, lab->keys[i], "\"%s\" is not a Prometheus label name", k);
        if (strncmp(k, "__", 2) == 0)
            return kvs_cfg_errorf(err, lab->keys[i],
                                  "labels starting with __ belong to Prometheus relabeling, which is not supported");
        if (lab->items[i]->type != KVS_CFG_SCALAR)
            return kvs_cfg_errorf(err, lab->items[i], "labels.%s: expected a string", k);
        if (strcmp(k, "job") == 0)
            job = lab->items[i]->scalar;
        if (strcmp(k, "instance") == 0)
            instance = lab->items[i]->scalar;
    }
    const char **tg;
    size_t nt;
    if (kvs_cfg_strlist(sc, "targets", &tg, &nt, err))
        return KVS_E_INVALID;
    const kvs_cfg_node *tn = kvs_cfg_get(sc, "targets");
    for (size_t t = 0; t < nt; t++) {
        const kvs_cfg_node *at = tn && tn->type == KVS_CFG_SEQ ? tn->items[t] : tn;
        const char *a = tg[t];
        if (!*a || strstr(a, "://") || strchr(a, '/') || strpbrk(a, " \t\r\n?#@")) {
            free(tg);
            return kvs_cfg_errorf(err, at, "target \"%s\" must be host:port (scheme and path are set per job)", a);
        }
        for (size_t k = 0; k < out->ntargets; k++)
            if (out->targets[k].job == ji && strcmp(out->targets[k].address, a) == 0) {
                free(tg);
                return kvs_cfg_errorf(err, at, "target \"%s\" is listed twice in job \"%s\"", a,
                                      out->jobs[ji].name);
            }
        kvs_promr_target *g = realloc(out->targets, (out->ntargets + 1) * sizeof *g);
        if (!g) {
            free(tg);
            return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        }
        out->targets = g;
        kvs_promr_target *T = &g[out->ntargets++];
        memset(T, 0, sizeof *T);
        T->job = ji;
        T->address = a;
        T->job_label = job;
        T->instance = instance ? instance : a;
        T->labels = calloc(nl + 1, sizeof *T->labels);
        if (!T->labels) {
            free(tg);
            return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < nl; i++) {
            const char *k = lab->keys[i]->scalar;
            if (strcmp(k, "job") != 0 && strcmp(k, "instance") != 0)
                T->labels[T->nlabels++] = (kvs_promr_pair){ k, lab->items[i]->scalar };
        }
        qsort(T->labels, T->nlabels, sizeof *T->labels, cmp_pair);
    }
    free(tg);
    return 0;
}

static int parse_job(const kvs_cfg_node *jn, uint64_t g_int, uint64_t g_to, kvs_promr_cfg *out, kvs_error *err)
{
    if (jn->type != KVS_CFG_MAP)
        return kvs_cfg_errorf(err, jn, "a scrape config must be a map (job_name, static_configs, ...)");
    if (kvs_cfg_check_keys(jn, job_keys, err))
        return KVS_E_INVALID;
    kvs_promr_job *g = realloc(out->jobs, (out->njobs + 1) * sizeof *g);
    if (!g)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    out->jobs = g;
    size_t ji = out->njobs++;
    kvs_promr_job *j = &g[ji];
    memset(j, 0, sizeof *j);
    int scheme, honor_labels, honor_ts;
    uint64_t to;
    if (kvs_cfg_str(jn, "job_name", NULL, &j->name, err) ||
        kvs_cfg_str(jn, "metrics_path", "/metrics", &j->path, err) ||
        kvs_cfg_enum(jn, "scheme", schemes, 0, &scheme, err) ||
        kvs_cfg_duration(jn, "scrape_interval", g_int, &j->interval_ns, err) ||
        kvs_cfg_duration(jn, "scrape_timeout", 0, &to, err) ||
        kvs_cfg_bool(jn, "honor_labels", 0, &honor_labels, err) ||
        kvs_cfg_bool(jn, "honor_timestamps", 1, &honor_ts, err) ||
        kvs_cfg_i64(jn, "sample_limit", 0, 0, INT64_MAX, &j->sample_limit, err) ||
        size_bytes(jn, "body_size_limit", &j->body_size_limit, err))
        return KVS_E_INVALID;
    if (!j->name || !*j->name)
        return kvs_cfg_errorf(err, jn, "job_name is required");
    for (size_t i = 0; i < ji; i++)
        if (strcmp(out->jobs[i].name, j->name) == 0)
            return kvs_cfg_errorf(err, kvs_cfg_get(jn, "job_name"), "job_name \"%s\" is used twice", j->name);
    if (j->path[0] != '/')
        return kvs_cfg_errorf(err, kvs_cfg_get(jn, "metrics_path"), "metrics_path must start with /");
    if (!j->interval_ns)
        return kvs_cfg_errorf(err, kvs_cfg_get(jn, "scrape_interval"), "scrape_interval must be greater than 0");
    if (to == 0)
        to = g_to > j->interval_ns ? j->interval_ns : g_to;
    else if (to > j->interval_ns)
        return kvs_cfg_errorf(err, kvs_cfg_get(jn, "scrape_timeout"),
                              "scrape_timeout is greater than scrape_interval for job \"%s\"", j->name);
    j->timeout_ns = to;
    j->scheme = schemes[scheme];
    j->honor_labels = honor_labels;
    j->honor_timestamps = honor_ts;
    if (build_query(kvs_cfg_get(jn, "params"), j, err) || parse_headers(kvs_cfg_get(jn, "headers"), j, err) ||
        parse_auth(jn, j, err) || parse_tls(jn, j, err))
        return KVS_E_INVALID;
    const kvs_cfg_node *sc = kvs_cfg_get(jn, "static_configs");
    if (!sc || sc->type == KVS_CFG_NULL)
        return kvs_cfg_errorf(err, jn, "job \"%s\": static_configs is required (service discovery is not supported)",
                              j->name);
    if (sc->type != KVS_CFG_SEQ)
        return kvs_cfg_errorf(err, sc, "static_configs must be a list of {targets, labels}");
    size_t before = out->ntargets;
    for (size_t i = 0; i < sc->n; i++)
        if (parse_static(sc->items[i], ji, out, err))
            return KVS_E_INVALID;
    if (out->ntargets == before)
        return kvs_cfg_errorf(err, sc, "job \"%s\" has no targets", j->name);
    return 0;
}

int kvs_promr_cfg_parse(const kvs_cfg_node *section, const char *id, kvs_promr_cfg *out, kvs_error *err)
{
    memset(out, 0, sizeof *out);
    if (kvs_cfg_expect_map(section, err) || kvs_cfg_check_keys(section, section_keys, err))
        return KVS_E_INVALID;
    const kvs_cfg_node *cfg = kvs_cfg_get(section, "config");
    if (!cfg || cfg->type == KVS_CFG_NULL)
        return kvs_cfg_errorf(err, section, "%s: `config` with `scrape_configs` is required", id);
    if (kvs_cfg_expect_map(cfg, err) || kvs_cfg_check_keys(cfg, config_keys, err))
        return KVS_E_INVALID;
    const kvs_cfg_node *gl = kvs_cfg_get(cfg, "global");
    uint64_t g_int, g_to;
    if (kvs_cfg_expect_map(gl, err) || kvs_cfg_check_keys(gl, global_keys, err) ||
        kvs_cfg_duration(gl, "scrape_interval", DEF_INTERVAL, &g_int, err) ||
        kvs_cfg_duration(gl, "scrape_timeout", 0, &g_to, err))
        return KVS_E_INVALID;
    if (!g_int)
        return kvs_cfg_errorf(err, kvs_cfg_get(gl, "scrape_interval"), "scrape_interval must be greater than 0");
    if (g_to > g_int)
        return kvs_cfg_errorf(err, kvs_cfg_get(gl, "scrape_timeout"),
                              "global scrape_timeout is greater than scrape_interval");
    if (!g_to)
        g_to = DEF_TIMEOUT > g_int ? g_int : DEF_TIMEOUT;
    const kvs_cfg_node *sc = kvs_cfg_get(cfg, "scrape_configs");
    if (!sc || sc->type == KVS_CFG_NULL || (sc->type == KVS_CFG_SEQ && sc->n == 0))
        return kvs_cfg_errorf(err, sc ? sc : cfg, "%s: scrape_configs needs at least one job", id);
    if (sc->type != KVS_CFG_SEQ)
        return kvs_cfg_errorf(err, sc, "scrape_configs must be a list of scrape configs");
    for (size_t i = 0; i < sc->n; i++)
        if (parse_job(sc->items[i], g_int, g_to, out, err)) {
            kvs_promr_cfg_free(out);
            return KVS_E_INVALID;
        }
    return 0;
}
