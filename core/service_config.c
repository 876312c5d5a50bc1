/* The validated service model (core/service_config.h). Checks run in a
 * fixed order and stop at the first error:
 *   1. top-level keys, each section a map;
 *   2. component ids `type[/name]` and known types per section;
 *   3. service keys, shutdown_timeout, telemetry, pipelines present;
 *   4. pipelines: ids `signal[/name]`, references, duplicates, signals,
 *      at least one receiver and one exporter;
 *   5. connectors used on both sides, no connector cycles;
 *   6. service.extensions defined;
 *   7. unused components: warnings, used = 0.
 * The model points into the document: ids are the key scalars. */
#include "core/service_config.h"

#include "core/net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKINDS 5

typedef struct builder {
    kvs_service_cfg *cfg;
    const kvs_component_lookup *lk;
    kvs_cfg_warn_fn warn;
    void *warn_ctx;
    kvs_error *err;
    const kvs_cfg_node *root, *service;
    const kvs_cfg_node **first_exp, **first_recv;   /* connectors: first reference on each side */
} builder;

static const kvs_kind kinds[NKINDS] = { KVS_RECEIVER, KVS_PROCESSOR, KVS_EXPORTER, KVS_CONNECTOR, KVS_EXTENSION };

/* file:line:col of `at`, with an explicit path. */
static int fail(kvs_error *err, const kvs_cfg_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(kvs_error *err, const kvs_cfg_node *at, const char *path, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kvs_cfg_node n = *at;
    n.path = path ? path : "";
    return kvs_cfg_errorf(err, &n, "%s", msg);
}

static const char *article(kvs_kind k) { return k == KVS_EXPORTER || k == KVS_EXTENSION ? "an" : "a"; }

static int nomem(kvs_error *err) { return kvs_errorf(err, KVS_E_NOMEM, "out of memory validating the configuration"); }

/* ---- ids ---- */

static int is_type_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

/* Checks "name" after the slash of an id; returns a reason or NULL. */
static const char *bad_name(const char *name)
{
    if (!*name)
        return "the name after \"/\" is empty";
    for (const char *p = name; *p; p++) {
        if (*p == '/')
            return "an id has at most one \"/\"";
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "the name cannot contain spaces or control characters";
    }
    return NULL;
}

/* Component id `type[/name]`: type [a-z0-9_]+. Returns a reason or NULL. */
static const char *bad_component_id(const char *id, size_t *type_len)
{
    size_t i = 0;
    while (id[i] && id[i] != '/') {
        if (!is_type_char(id[i]))
            return "the type may only contain a-z, 0-9 and _";
        i++;
    }
    *type_len = i;
    if (i == 0)
        return id[0] ? "the type before \"/\" is empty" : "the id is empty";
    return id[i] == '/' ? bad_name(id + i + 1) : NULL;
}

/* Known types of a kind, "a, b, c", into buf; and a suggestion for `type`. */
static void known_types(const builder *b, kvs_kind kind, const char *type, char *buf, size_t len,
                        const char **suggest)
{
    buf[0] = 0;
    *suggest = NULL;
    if (!b->lk->all)
        return;
    size_t n = 0, off = 0, k = 0;
    const kvs_component_def *const *all = b->lk->all(&n);
    const char **names = malloc((n + 1) * sizeof *names);
    for (size_t i = 0; i < n && all[i]; i++) {
        if (all[i]->kind != kind)
            continue;
        if (names)
            names[k++] = all[i]->type;
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", all[i]->type);
    }
    if (off >= len)
        buf[0] = 0;  /* too long to list */
    if (names) {
        names[k] = NULL;
        *suggest = kvs_cfg_suggest(type, names);
        free(names);
    }
}

static int unknown_type(builder *b, kvs_kind kind, const kvs_cfg_node *key, const char *section, size_t type_len)
{
    char type[128];
    snprintf(type, sizeof type, "%.*s", (int)(type_len < 100 ? type_len : 100), key->scalar);
    for (int i = 0; i < NKINDS; i++)
        if (kinds[i] != kind && b->lk->find(kinds[i], key->scalar, type_len))
            return fail(b->err, key, section, "unknown %s type \"%s\" (%s is %s %s: define it under %s)", section, type,
                        type, article(kinds[i]), kvs_kind_name(kinds[i]), kvs_kind_section(kinds[i]));
    char list[200], hint[320] = "";
    const char *sug;
    known_types(b, kind, type, list, sizeof list, &sug);
    if (sug && *list)
        snprintf(hint, sizeof hint, " (did you mean \"%s\"? known: %s)", sug, list);
    else if (sug)
        snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", sug);
    else if (*list)
        snprintf(hint, sizeof hint, " (known: %s)", list);
    else if (b->lk->all)
        snprintf(hint, sizeof hint, " (this build has no %s)", section);
    return fail(b->err, key, section, "unknown %s type \"%s\"%s", section, type, hint);
}

static kvs_comp_cfg *find_comp(const kvs_service_cfg *cfg, kvs_kind kind, const char *id)
{
    for (size_t i = 0; i < cfg->ncomps; i++)
        if (cfg->comps[i].kind == kind && strcmp(cfg->comps[i].id, id) == 0)
            return &cfg->comps[i];
    return NULL;
}

const kvs_comp_cfg *kvs_service_cfg_find(const kvs_service_cfg *cfg, kvs_kind kind, const char *id)
{
    return cfg ? find_comp(cfg, kind, id) : NULL;
}

/* ---- 1 and 2: sections and components ---- */

static int check_sections(builder *b)
{
    static const char *const top[] = { "receivers", "processors", "exporters", "connectors", "extensions", "service",
                                       NULL };
    const kvs_cfg_node *r = b->root;
    if (r->type == KVS_CFG_NULL)
        return fail(b->err, r, NULL,
                    "the configuration is empty (expected receivers, exporters and service.pipelines)");
    if (r->type != KVS_CFG_MAP)
        return fail(b->err, r, NULL, "the top level must be a map of sections (receivers, processors, exporters, "
                                     "connectors, extensions, service), got a %s",
                    r->type == KVS_CFG_SEQ ? "sequence" : "scalar");
    int rc = kvs_cfg_check_keys(r, top, b->err);
    for (size_t i = 0; i < r->n && rc == 0; i++)
        rc = kvs_cfg_expect_map(r->items[i], b->err);
    return rc;
}

static int collect_components(builder *b)
{
    kvs_service_cfg *cfg = b->cfg;
    size_t total = 0;
    for (int k = 0; k < NKINDS; k++) {
        const kvs_cfg_node *sec = kvs_cfg_get(b->root, kvs_kind_section(kinds[k]));
        total += sec && sec->type == KVS_CFG_MAP ? sec->n : 0;
    }
    cfg->comps = kvs_cfg_doc_alloc(cfg->doc, total * sizeof *cfg->comps);
    if (!cfg->comps)
        return nomem(b->err);
    for (int k = 0; k < NKINDS; k++) {
        const char *section = kvs_kind_section(kinds[k]);
        const kvs_cfg_node *sec = kvs_cfg_get(b->root, section);
        if (!sec || sec->type != KVS_CFG_MAP)
            continue;
        for (size_t i = 0; i < sec->n; i++) {
            const kvs_cfg_node *key = sec->keys[i];
            size_t type_len;
            const char *why = bad_component_id(key->scalar, &type_len);
            if (why)
                return fail(b->err, key, section, "invalid id \"%.100s\": %s (ids are type or type/name)",
                            key->scalar, why);
            const kvs_component_def *def = b->lk->find(kinds[k], key->scalar, type_len);
            if (!def)
                return unknown_type(b, kinds[k], key, section, type_len);
            kvs_comp_cfg *c = &cfg->comps[cfg->ncomps++];
            c->id = key->scalar;
            c->kind = kinds[k];
            c->def = def;
            c->cfg = sec->items[i];
            c->key = key;
        }
    }
    /* A connector id shared with a receiver or an exporter would make a
     * pipeline's list ambiguous (as the Collector, reject it). */
    for (size_t i = 0; i < cfg->ncomps; i++) {
        const kvs_comp_cfg *c = &cfg->comps[i];
        if (c->kind != KVS_CONNECTOR)
            continue;
        kvs_kind other = find_comp(cfg, KVS_RECEIVER, c->id) ? KVS_RECEIVER
                         : find_comp(cfg, KVS_EXPORTER, c->id) ? KVS_EXPORTER
                                                               : KVS_CONNECTOR;
        if (other != KVS_CONNECTOR)
            return fail(b->err, c->key, "connectors",
                        "id \"%s\" is also defined as %s %s: pipelines could not tell them apart (rename one)",
                        c->id, article(other), kvs_kind_name(other));
    }
    return 0;
}

/* ---- 3: service ---- */

static int valid_hostport(const char *s)
{
    char host[256];
    int port;
    return kvs_hostport_parse(s, host, sizeof host, &port) == 0;
}

static int check_telemetry(builder *b, const kvs_cfg_node *tel)
{
    static const char *const keys[] = { "logs", "metrics", NULL };
    static const char *const log_keys[] = { "level", NULL };
    static const char *const metric_keys[] = { "address", "level", NULL };
    static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
    static const char *const metric_levels[] = { "none", "basic", "normal", "detailed", NULL };
    kvs_service_cfg *cfg = b->cfg;
    cfg->telemetry = tel;
    cfg->log_level = "info";
    int rc = kvs_cfg_expect_map(tel, b->err);
    if (!rc)
        rc = kvs_cfg_check_keys(tel, keys, b->err);
    if (rc)
        return rc;
    const kvs_cfg_node *logs = kvs_cfg_get(tel, "logs"), *metrics = kvs_cfg_get(tel, "metrics");
    int idx;
    if ((rc = kvs_cfg_expect_map(logs, b->err)) || (rc = kvs_cfg_check_keys(logs, log_keys, b->err)) ||
        (rc = kvs_cfg_enum(logs, "level", log_levels, 1, &idx, b->err)))
        return rc;
    cfg->log_level = log_levels[idx];
    if ((rc = kvs_cfg_expect_map(metrics, b->err)) || (rc = kvs_cfg_check_keys(metrics, metric_keys, b->err)) ||
        (rc = kvs_cfg_enum(metrics, "level", metric_levels, 2, &idx, b->err)) ||
        (rc = kvs_cfg_str(metrics, "address", NULL, &cfg->metrics_address, b->err)))
        return rc;
    if (cfg->metrics_address && !valid_hostport(cfg->metrics_address))
        return kvs_cfg_errorf(b->err, kvs_cfg_get(metrics, "address"),
                              "expected host:port (e.g. localhost:8888), got \"%.100s\"", cfg->metrics_address);
    return 0;
}

static int check_service(builder *b)
{
    static const char *const keys[] = { "extensions", "pipelines", "telemetry", "shutdown_timeout", NULL };
    const kvs_cfg_node *skey = kvs_cfg_key(b->root, "service");
    const kvs_cfg_node *svc = kvs_cfg_get(b->root, "service");
    if (!skey)
        return fail(b->err, b->root, NULL,
                    "missing \"service\" section: service.pipelines is required (at least one pipeline)");
    b->service = svc;
    int rc = kvs_cfg_check_keys(svc, keys, b->err);
    if (!rc)
        rc = kvs_cfg_duration(svc, "shutdown_timeout", 10ull * 1000000000ull, &b->cfg->shutdown_timeout_ns, b->err);
    if (!rc)
        rc = check_telemetry(b, kvs_cfg_get(svc, "telemetry"));
    if (rc)
        return rc;
    const kvs_cfg_node *ext = kvs_cfg_get(svc, "extensions");
    if (ext && ext->type == KVS_CFG_MAP)
        return kvs_cfg_errorf(b->err, ext, "expected a list of extension ids, got a map");
    const kvs_cfg_node *pkey = kvs_cfg_key(svc, "pipelines"), *pipes = kvs_cfg_get(svc, "pipelines");
    if (!pkey)
        return fail(b->err, skey, "service", "missing \"pipelines\": service.pipelines is required (at least one "
                                             "pipeline)");
    if ((rc = kvs_cfg_expect_map(pipes, b->err)))
        return rc;
    if (pipes->type != KVS_CFG_MAP || pipes->n == 0)
        return fail(b->err, pkey, "service.pipelines", "no pipelines defined (at least one is required)");
    return 0;
}

/* ---- 4: pipelines ---- */

enum { LIST_RECV, LIST_PROC, LIST_EXP };

static const char *list_names[] = { "receivers", "processors", "exporters" };
static const char *role_names[] = { "receiver", "processor", "exporter" };

static void sigs_str(unsigned sigs, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < KVS_NSIG; i++)
        if (sigs & (unsigned)kvs_signal_at(i))
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", kvs_signal_name(kvs_signal_at(i)));
    if (!off)
        snprintf(buf, len, "nothing");
}

/* Defined ids of a kind, NULL-terminated (malloc'd), for "did you mean". */
static const char **ids_of(const kvs_service_cfg *cfg, kvs_kind kind)
{
    const char **ids = malloc((cfg->ncomps + 1) * sizeof *ids);
    size_t k = 0;
    if (!ids)
        return NULL;
    for (size_t i = 0; i < cfg->ncomps; i++)
        if (cfg->comps[i].kind == kind)
            ids[k++] = cfg->comps[i].id;
    ids[k] = NULL;
    return ids;
}

static int undefined(builder *b, int list, const kvs_cfg_node *item)
{
    const kvs_service_cfg *cfg = b->cfg;
    const char *id = item->scalar;
    static const kvs_kind primary[] = { KVS_RECEIVER, KVS_PROCESSOR, KVS_EXPORTER };
    char hint[300] = "";
    for (int k = 0; k < NKINDS; k++) {
        if (kinds[k] == primary[list] || (list != LIST_PROC && kinds[k] == KVS_CONNECTOR))
            continue;
        if (find_comp(cfg, kinds[k], id)) {
            const char *where = kinds[k] == KVS_RECEIVER ? ": list it under receivers"
                                : kinds[k] == KVS_PROCESSOR ? ": list it under processors"
                                : kinds[k] == KVS_EXPORTER  ? ": list it under exporters"
                                : kinds[k] == KVS_CONNECTOR ? ": a connector is listed under receivers or exporters"
                                                            : ": extensions go in service.extensions";
            snprintf(hint, sizeof hint, " (it is defined as %s %s%s)", article(kinds[k]), kvs_kind_name(kinds[k]),
                     where);
            break;
        }
    }
    if (!*hint) {
        const char **ids = ids_of(cfg, primary[list]);
        const char *s = ids ? kvs_cfg_suggest(id, ids) : NULL;
        if (s)
            snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", s);
        free(ids);
    }
    return kvs_cfg_errorf(b->err, item, "%s \"%.100s\" is not defined%s", role_names[list], id, hint);
}

static int resolve_list(builder *b, kvs_pipeline_cfg *p, int list, const kvs_cfg_node *pipe)
{
    kvs_service_cfg *cfg = b->cfg;
    const kvs_cfg_node *v = kvs_cfg_get(pipe, list_names[list]);
    size_t n = !v || v->type == KVS_CFG_NULL ? 0 : v->type == KVS_CFG_SCALAR ? 1 : v->n;
    if (v && v->type == KVS_CFG_MAP)
        return kvs_cfg_errorf(b->err, v, "expected a list of %s ids, got a map", role_names[list]);
    kvs_comp_cfg **arr = kvs_cfg_doc_alloc(cfg->doc, n * sizeof *arr);
    if (!arr)
        return nomem(b->err);
    for (size_t i = 0; i < n; i++) {
        const kvs_cfg_node *item = v->type == KVS_CFG_SCALAR ? v : v->items[i];
        if (item->type != KVS_CFG_SCALAR) {
            char what[40];
            snprintf(what, sizeof what, "a %s id", role_names[list]);
            return kvs_cfg_errorf(b->err, item, "expected %s, got %s", what,
                                  item->type == KVS_CFG_MAP ? "a map" : item->type == KVS_CFG_SEQ ? "a sequence" : "null");
        }
        kvs_comp_cfg *c = find_comp(cfg, list == LIST_RECV ? KVS_RECEIVER : list == LIST_PROC ? KVS_PROCESSOR
                                                                                             : KVS_EXPORTER,
                                    item->scalar);
        if (!c && list != LIST_PROC)
            c = find_comp(cfg, KVS_CONNECTOR, item->scalar);
        if (!c)
            return undefined(b, list, item);
        for (size_t j = 0; j < i; j++)
            if (arr[j] == c)
                return kvs_cfg_errorf(b->err, item, "\"%s\" is listed twice in %s", c->id, list_names[list]);
        char have[40];
        const char *sig = kvs_signal_name(p->signal);
        if (c->kind == KVS_CONNECTOR && list == LIST_RECV) {
            if (!(c->def->out_signals & p->signal)) {
                sigs_str(c->def->out_signals, have, sizeof have);
                return kvs_cfg_errorf(b->err, item, "connector \"%s\" does not emit %s (as a receiver it emits %s)",
                                      c->id, sig, have);
            }
            size_t ci = (size_t)(c - cfg->comps);
            if (!b->first_recv[ci])
                b->first_recv[ci] = item;
        } else if (c->kind == KVS_CONNECTOR) {
            if (!(c->def->signals & p->signal)) {
                sigs_str(c->def->signals, have, sizeof have);
                return kvs_cfg_errorf(b->err, item,
                                      "connector \"%s\" does not accept %s (as an exporter it accepts %s)", c->id,
                                      sig, have);
            }
            size_t ci = (size_t)(c - cfg->comps);
            if (!b->first_exp[ci])
                b->first_exp[ci] = item;
        } else if (!(c->def->signals & p->signal)) {
            sigs_str(c->def->signals, have, sizeof have);
            return kvs_cfg_errorf(b->err, item, "%s \"%s\" does not support %s (it supports %s)",
                                  kvs_kind_name(c->kind), c->id, sig, have);
        }
        c->used = 1;
        arr[i] = c;
    }
    if (list == LIST_RECV)
        p->recv = arr, p->nrecv = n;
    else if (list == LIST_PROC)
        p->proc = arr, p->nproc = n;
    else
        p->exp = arr, p->nexp = n;
    return 0;
}

static int check_pipelines(builder *b)
{
    static const char *const keys[] = { "receivers", "processors", "exporters", NULL };
    kvs_service_cfg *cfg = b->cfg;
    const kvs_cfg_node *pipes = kvs_cfg_get(b->service, "pipelines");
    cfg->pipes = kvs_cfg_doc_alloc(cfg->doc, pipes->n * sizeof *cfg->pipes);
    if (!cfg->pipes)
        return nomem(b->err);
    for (size_t i = 0; i < pipes->n; i++) {
        const kvs_cfg_node *key = pipes->keys[i], *val = pipes->items[i];
        const char *id = key->scalar, *slash = strchr(id, '/');
        size_t slen = slash ? (size_t)(slash - id) : strlen(id);
        kvs_pipeline_cfg *p = &cfg->pipes[cfg->npipes];
        if (kvs_signal_parse(id, slen, &p->signal) != 0)
            return fail(b->err, key, "service.pipelines",
                        "unknown signal \"%.*s\" in pipeline id \"%.100s\" (expected traces, metrics or logs, "
                        "optionally followed by /name)",
                        (int)(slen < 100 ? slen : 100), id, id);
        const char *why = slash ? bad_name(slash + 1) : NULL;
        if (why)
            return fail(b->err, key, "service.pipelines", "invalid pipeline id \"%.100s\": %s", id, why);
        p->id = id;
        p->key = key;
        cfg->npipes++;
        int rc = kvs_cfg_expect_map(val, b->err);
        if (!rc)
            rc = kvs_cfg_check_keys(val, keys, b->err);
        for (int l = LIST_RECV; l <= LIST_EXP && rc == 0; l++)
            rc = resolve_list(b, p, l, val);
        if (rc)
            return rc;
        if (!p->nrecv)
            return kvs_cfg_errorf(b->err, key, "pipeline has no receivers (at least one is required)");
        if (!p->nexp)
            return kvs_cfg_errorf(b->err, key, "pipeline has no exporters (at least one is required)");
    }
    return 0;
}

/* ---- 5: connectors ---- */

/* Signals of the pipelines that list connector c on one side. */
static unsigned connector_side_signals(const kvs_service_cfg *cfg, const kvs_comp_cfg *c, int as_exporter)
{
    unsigned sigs = 0;
    for (size_t i = 0; i < cfg->npipes; i++) {
        const kvs_pipeline_cfg *p = &cfg->pipes[i];
        kvs_comp_cfg **list = as_exporter ? p->exp : p->recv;
        size_t n = as_exporter ? p->nexp : p->nrecv;
        for (size_t k = 0; k < n; k++)
            if (list[k] == c)
                sigs |= p->signal;
    }
    return sigs;
}

/* Every pipeline a connector exports from must reach, through a route the
 * connector supports, some pipeline it is a receiver of, and vice versa
 * (e.g. `forward` joins traces to traces only). */
static int check_connector_routes(builder *b, const kvs_comp_cfg *c)
{
    const kvs_service_cfg *cfg = b->cfg;
    unsigned in = connector_side_signals(cfg, c, 1), out = connector_side_signals(cfg, c, 0);
    for (size_t i = 0; i < cfg->npipes; i++) {
        const kvs_pipeline_cfg *p = &cfg->pipes[i];
        for (int side = 0; side < 2; side++) {
            kvs_comp_cfg **list = side ? p->recv : p->exp;
            size_t n = side ? p->nrecv : p->nexp;
            for (size_t k = 0; k < n; k++) {
                if (list[k] != c)
                    continue;
                int ok = 0;
                for (int s = 0; s < KVS_NSIG; s++) {
                    kvs_signal other = kvs_signal_at(s);
                    if (!((side ? in : out) & other))
                        continue;
                    if (side ? kvs_connector_routes(c->def->routes, other, p->signal)
                             : kvs_connector_routes(c->def->routes, p->signal, other))
                        ok = 1;
                }
                if (!ok) {
                    char routes[128] = "";
                    for (int a = 0; a < KVS_NSIG; a++)
                        for (int z = 0; z < KVS_NSIG; z++)
                            if (kvs_connector_routes(c->def->routes, kvs_signal_at(a), kvs_signal_at(z)) &&
                                (c->def->signals & kvs_signal_at(a)) && (c->def->out_signals & kvs_signal_at(z)))
                                snprintf(routes + strlen(routes), sizeof routes - strlen(routes), "%s%s->%s",
                                         routes[0] ? ", " : "", kvs_signal_name(kvs_signal_at(a)),
                                         kvs_signal_name(kvs_signal_at(z)));
                    return kvs_cfg_errorf(b->err, p->key,
                                          side ? "connector \"%s\" feeds this %s pipeline but no pipeline it "
                                                 "is an exporter of can reach it (its routes: %s)"
                                               : "connector \"%s\" takes %s here but no pipeline it is a "
                                                 "receiver of can take them (its routes: %s)",
                                          c->id, kvs_signal_name(p->signal), routes);
                }
            }
        }
    }
    return 0;
}

static int check_connector_sides(builder *b)
{
    const kvs_service_cfg *cfg = b->cfg;
    for (size_t i = 0; i < cfg->ncomps; i++) {
        const kvs_comp_cfg *c = &cfg->comps[i];
        if (c->kind != KVS_CONNECTOR || !c->used)
            continue;
        if (!b->first_recv[i])
            return kvs_cfg_errorf(b->err, b->first_exp[i],
                                  "connector \"%s\" is used as an exporter here but as a receiver in no pipeline "
                                  "(a connector joins two pipelines: list it under receivers of another)",
                                  c->id);
        if (!b->first_exp[i])
            return kvs_cfg_errorf(b->err, b->first_recv[i],
                                  "connector \"%s\" is used as a receiver here but as an exporter in no pipeline "
                                  "(a connector joins two pipelines: list it under exporters of another)",
                                  c->id);
        if (check_connector_routes(b, c) != 0)
            return KVS_E_INVALID;
    }
    return 0;
}

static int report_cycle(builder *b, const size_t *stack, size_t depth, size_t from, const size_t *via)
{
    const kvs_service_cfg *cfg = b->cfg;
    char chain[400], conns[200];
    size_t off = 0, coff = 0;
    chain[0] = conns[0] = 0;
    for (size_t i = from; i < depth && off < sizeof chain; i++)
        off += (size_t)snprintf(chain + off, sizeof chain - off, "%s -> ", cfg->pipes[stack[i]].id);
    if (off < sizeof chain)
        snprintf(chain + off, sizeof chain - off, "%s", cfg->pipes[stack[from]].id);
    for (size_t i = from; i < depth && coff < sizeof conns; i++) {
        const char *cid = cfg->comps[via[i]].id;
        int seen = 0;
        for (size_t j = from; j < i; j++)
            seen |= via[j] == via[i];
        if (!seen)
            coff += (size_t)snprintf(conns + coff, sizeof conns - coff, "%s%s", coff ? ", " : "", cid);
    }
    const kvs_pipeline_cfg *p = &cfg->pipes[stack[from]];
    char path[300];
    snprintf(path, sizeof path, "service.pipelines.%s", p->id);
    return fail(b->err, p->key, path, "connector cycle: %s (through %s)", chain, conns);
}

/* Pipeline A -> B when a connector is an exporter of A and a receiver of B;
 * an iterative depth-first search finds any cycle. */
static int check_cycles(builder *b)
{
    const kvs_service_cfg *cfg = b->cfg;
    size_t np = cfg->npipes, nc = cfg->ncomps;
    /* For each connector, the pipelines it is a receiver of (CSR). */
    size_t *start = calloc(nc + 1, sizeof *start);
    size_t total = 0;
    for (size_t i = 0; i < np; i++)
        total += cfg->pipes[i].nrecv;
    size_t *recv_of = malloc((total ? total : 1) * sizeof *recv_of);
    size_t *fill = calloc(nc + 1, sizeof *fill);
    /* Per pipeline: color, iterator over exporters and over their receivers. */
    unsigned char *color = calloc(np, 1);
    size_t *it_k = calloc(np, sizeof *it_k), *it_m = calloc(np, sizeof *it_m);
    size_t *stack = malloc(np * sizeof *stack), *via = malloc(np * sizeof *via);
    int rc = 0;
    if (!start || !recv_of || !fill || !color || !it_k || !it_m || !stack || !via) {
        rc = nomem(b->err);
        goto out;
    }
    for (size_t i = 0; i < np; i++)
        for (size_t k = 0; k < cfg->pipes[i].nrecv; k++)
            start[cfg->pipes[i].recv[k] - cfg->comps + 1]++;
    for (size_t c = 0; c < nc; c++)
        start[c + 1] += start[c];
    for (size_t i = 0; i < np; i++)
        for (size_t k = 0; k < cfg->pipes[i].nrecv; k++) {
            size_t c = (size_t)(cfg->pipes[i].recv[k] - cfg->comps);
            recv_of[start[c] + fill[c]++] = i;
        }
    for (size_t s = 0; s < np && rc == 0; s++) {
        if (color[s])
            continue;
        size_t depth = 0;
        stack[depth++] = s;
        color[s] = 1;
        while (depth && rc == 0) {
            size_t u = stack[depth - 1];
            const kvs_pipeline_cfg *p = &cfg->pipes[u];
            int pushed = 0;
            while (!pushed && it_k[u] < p->nexp) {
                const kvs_comp_cfg *c = p->exp[it_k[u]];
                size_t ci = (size_t)(c - cfg->comps);
                size_t cnt = c->kind == KVS_CONNECTOR ? start[ci + 1] - start[ci] : 0;
                if (it_m[u] >= cnt) {
                    it_k[u]++;
                    it_m[u] = 0;
                    continue;
                }
                size_t v = recv_of[start[ci] + it_m[u]++];
                via[depth - 1] = ci;
                if (color[v] == 1) {
                    size_t from = 0;
                    while (stack[from] != v)
                        from++;
                    rc = report_cycle(b, stack, depth, from, via);
                    break;
                }
                if (color[v] == 0) {
                    color[v] = 1;
                    stack[depth++] = v;
                    pushed = 1;
                }
            }
            if (!pushed && rc == 0) {
                color[u] = 2;
                depth--;
            }
        }
    }
out:
    free(start);
    free(recv_of);
    free(fill);
    free(color);
    free(it_k);
    free(it_m);
    free(stack);
    free(via);
    return rc;
}

/* ---- 6: extensions ---- */

static int check_extensions(builder *b)
{
    kvs_service_cfg *cfg = b->cfg;
    const kvs_cfg_node *v = kvs_cfg_get(b->service, "extensions");
    size_t n = !v || v->type == KVS_CFG_NULL ? 0 : v->type == KVS_CFG_SCALAR ? 1 : v->n;
    cfg->extensions = kvs_cfg_doc_alloc(cfg->doc, n * sizeof *cfg->extensions);
    if (!cfg->extensions)
        return nomem(b->err);
    for (size_t i = 0; i < n; i++) {
        const kvs_cfg_node *item = v->type == KVS_CFG_SCALAR ? v : v->items[i];
        if (item->type != KVS_CFG_SCALAR)
            return kvs_cfg_errorf(b->err, item, "expected an extension id, got %s",
                                  item->type == KVS_CFG_MAP ? "a map" : item->type == KVS_CFG_SEQ ? "a sequence" : "null");
        kvs_comp_cfg *c = find_comp(cfg, KVS_EXTENSION, item->scalar);
        if (!c)
            return kvs_cfg_errorf(b->err, item, "extension \"%.100s\" is not defined (define it under extensions)",
                                  item->scalar);
        if (c->used)
            return kvs_cfg_errorf(b->err, item, "\"%s\" is listed twice in service.extensions", c->id);
        c->used = 1;
        cfg->extensions[cfg->nextensions++] = c;
    }
    return 0;
}

/* ---- 7: unused ---- */

static void warn_unused(builder *b)
{
    const kvs_service_cfg *cfg = b->cfg;
    for (size_t i = 0; i < cfg->ncomps && b->warn; i++) {
        const kvs_comp_cfg *c = &cfg->comps[i];
        if (c->used)
            continue;
        char msg[600];
        snprintf(msg, sizeof msg, "%s:%d:%d: %s: %s", c->key->file, c->key->line, c->key->col, c->key->path,
                 c->kind == KVS_EXTENSION ? "defined but not enabled in service.extensions"
                                          : "defined but not used in any pipeline");
        b->warn(b->warn_ctx, msg);
    }
}

/* ---- public ---- */

static const kvs_component_lookup real_table = { kvs_component_find, kvs_component_all };

kvs_service_cfg *kvs_service_cfg_from_doc(kvs_cfg_doc *doc, const kvs_component_lookup *lookup, kvs_cfg_warn_fn warn,
                                          void *warn_ctx, kvs_error *err)
{
    if (!doc)
        return NULL;
    kvs_service_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        kvs_cfg_free(doc);
        nomem(err);
        return NULL;
    }
    cfg->doc = doc;
    cfg->shutdown_timeout_ns = 10ull * 1000000000ull;
    cfg->log_level = "info";
    builder b = { .cfg = cfg, .lk = lookup ? lookup : &real_table, .warn = warn, .warn_ctx = warn_ctx, .err = err,
                  .root = kvs_cfg_root(doc) };
    int rc = check_sections(&b);
    if (!rc)
        rc = collect_components(&b);
    if (!rc) {
        b.first_exp = calloc(cfg->ncomps + 1, sizeof *b.first_exp);
        b.first_recv = calloc(cfg->ncomps + 1, sizeof *b.first_recv);
        if (!b.first_exp || !b.first_recv)
            rc = nomem(err);
    }
    if (!rc)
        rc = check_service(&b);
    if (!rc)
        rc = check_pipelines(&b);
    if (!rc)
        rc = check_connector_sides(&b);
    if (!rc)
        rc = check_cycles(&b);
    if (!rc)
        rc = check_extensions(&b);
    free(b.first_exp);
    free(b.first_recv);
    if (rc) {
        kvs_service_cfg_free(cfg);
        return NULL;
    }
    warn_unused(&b);
    return cfg;
}

kvs_service_cfg *kvs_service_cfg_parse_with(const char *name, const char *text, size_t len,
                                            const kvs_component_lookup *lookup, kvs_cfg_warn_fn warn, void *warn_ctx,
                                            kvs_error *err)
{
    kvs_cfg_doc *doc = kvs_cfg_load_string(name, text, len, warn, warn_ctx, err);
    return doc ? kvs_service_cfg_from_doc(doc, lookup, warn, warn_ctx, err) : NULL;
}

kvs_service_cfg *kvs_service_cfg_parse(const char *name, const char *text, size_t len, kvs_cfg_warn_fn warn,
                                       void *warn_ctx, kvs_error *err)
{
    return kvs_service_cfg_parse_with(name, text, len, NULL, warn, warn_ctx, err);
}

kvs_service_cfg *kvs_service_cfg_load(const char *path, kvs_cfg_warn_fn warn, void *warn_ctx, kvs_error *err)
{
    kvs_cfg_doc *doc = kvs_cfg_load_file(path, warn, warn_ctx, err);
    return doc ? kvs_service_cfg_from_doc(doc, NULL, warn, warn_ctx, err) : NULL;
}

void kvs_service_cfg_free(kvs_service_cfg *cfg)
{
    if (!cfg)
        return;
    kvs_cfg_free(cfg->doc);
    free(cfg);
}
