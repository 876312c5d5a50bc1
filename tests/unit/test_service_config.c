/* Unit tests of the validated service model (core/service_config.c): every
 * validation rule against a fake component table, the model's contents,
 * unused-component warnings, and the broken-config corpus
 * tests/configs/bad_*.yaml (each names the error it must produce). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/service_config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_helpers.h"

/* ---- the fake component table: mirrors the real types' names and signals ---- */

/* Validates like the real batch processor does (keys and types only). */
static int fake_batch_create(const kvs_create_ctx *ctx, void **st, kvs_error *err)
{
    static const char *const keys[] = { "send_batch_size", "send_batch_max_size", "timeout", NULL };
    int64_t size, max;
    uint64_t timeout;
    *st = NULL;
    return kvs_cfg_expect_map(ctx->cfg, err) || kvs_cfg_check_keys(ctx->cfg, keys, err) ||
                   kvs_cfg_i64(ctx->cfg, "send_batch_size", 8192, 0, INT32_MAX, &size, err) ||
                   kvs_cfg_i64(ctx->cfg, "send_batch_max_size", 0, 0, INT32_MAX, &max, err) ||
                   kvs_cfg_duration(ctx->cfg, "timeout", 200000000, &timeout, err)
               ? KVS_E_INVALID
               : 0;
}

#define DEF(name, t, k, s, o) static const kvs_component_def name = { .type = t, .kind = k, .signals = s, .out_signals = o };
DEF(r_otlpjsonfile, "otlpjsonfile", KVS_RECEIVER, KVS_SIG_ALL, 0)
DEF(r_otlp, "otlp", KVS_RECEIVER, KVS_SIG_ALL, 0)
DEF(r_prometheus, "prometheus", KVS_RECEIVER, KVS_SIG_METRICS, 0)
DEF(r_filelog, "filelog", KVS_RECEIVER, KVS_SIG_LOGS, 0)
static const kvs_component_def p_batch = { .type = "batch", .kind = KVS_PROCESSOR, .signals = KVS_SIG_ALL,
                                           .create = fake_batch_create };
DEF(p_memory_limiter, "memory_limiter", KVS_PROCESSOR, KVS_SIG_ALL, 0)
DEF(p_lmcache_correlate, "lmcache_correlate", KVS_PROCESSOR, KVS_SIG_TRACES | KVS_SIG_METRICS, 0)
DEF(e_file, "file", KVS_EXPORTER, KVS_SIG_ALL, 0)
DEF(e_debug, "debug", KVS_EXPORTER, KVS_SIG_ALL, 0)
DEF(e_otlp, "otlp", KVS_EXPORTER, KVS_SIG_ALL, 0)
DEF(e_prometheus, "prometheus", KVS_EXPORTER, KVS_SIG_METRICS, 0)
DEF(c_lmcache_diagnose, "lmcache_diagnose", KVS_CONNECTOR, KVS_SIG_TRACES | KVS_SIG_METRICS, KVS_SIG_LOGS)
static const kvs_component_def c_forward = {
    .type = "forward", .kind = KVS_CONNECTOR, .signals = KVS_SIG_ALL, .out_signals = KVS_SIG_ALL,
    .routes = KVS_ROUTE(KVS_SIG_TRACES, KVS_SIG_TRACES) | KVS_ROUTE(KVS_SIG_METRICS, KVS_SIG_METRICS) |
              KVS_ROUTE(KVS_SIG_LOGS, KVS_SIG_LOGS),
    };
DEF(c_count, "count", KVS_CONNECTOR, KVS_SIG_TRACES | KVS_SIG_LOGS, KVS_SIG_METRICS)
DEF(c_routing, "routing", KVS_CONNECTOR, KVS_SIG_ALL, KVS_SIG_ALL)
DEF(r_routing, "routing", KVS_RECEIVER, KVS_SIG_ALL, 0)
DEF(x_health_check, "health_check", KVS_EXTENSION, 0, 0)

static const kvs_component_def *const fake_table[] = {
    &r_otlpjsonfile, &r_otlp, &r_prometheus, &r_filelog, &p_batch, &p_memory_limiter, &p_lmcache_correlate, &e_file,
    &e_debug, &e_otlp, &e_prometheus, &c_lmcache_diagnose, &c_forward, &c_count, &c_routing, &r_routing, &x_health_check, NULL,
};

static const kvs_component_def *fake_find(kvs_kind kind, const char *type, size_t len)
{
    for (size_t i = 0; fake_table[i]; i++)
        if (fake_table[i]->kind == kind && strlen(fake_table[i]->type) == len && !memcmp(fake_table[i]->type, type, len))
            return fake_table[i];
    return NULL;
}

static const kvs_component_def *const *fake_all(size_t *n)
{
    *n = sizeof fake_table / sizeof fake_table[0] - 1;
    return fake_table;
}

static const kvs_component_lookup fake = { fake_find, fake_all };
static const kvs_component_lookup fake_nolist = { fake_find, NULL };

/* ---- helpers ---- */

typedef struct warns {
    int n;
    char all[4096];
} warns;

static void on_warn(void *ctx, const char *msg)
{
    warns *w = ctx;
    size_t off = strlen(w->all);
    snprintf(w->all + off, sizeof w->all - off, "%s\n", msg);
    w->n++;
}

static kvs_service_cfg *parse_ok(const char *y, warns *w)
{
    kvs_error err = { 0 };
    kvs_service_cfg *c = kvs_service_cfg_parse_with("p.yaml", y, strlen(y), &fake, w ? on_warn : NULL, w, &err);
    if (!c) {
        print_error("unexpected error: %s\n", err.msg);
        fail();
    }
    return c;
}

static void parse_fails(const char *y, const char *msg)
{
    kvs_error err = { 0 };
    kvs_service_cfg *c = kvs_service_cfg_parse_with("p.yaml", y, strlen(y), &fake, NULL, NULL, &err);
    if (c) {
        kvs_service_cfg_free(c);
        print_error("expected an error containing \"%s\"\n", msg);
        fail();
    }
    assert_contains(err.msg, msg);
}

/* A valid head: components most tests reuse, then the given service. */
#define HEAD                                                                                                   \
    "receivers:\n"           /* 1 */                                                                           \
    "  otlp:\n"              /* 2 */                                                                           \
    "  prometheus/node:\n"   /* 3 */                                                                           \
    "processors:\n"          /* 4 */                                                                           \
    "  batch:\n"             /* 5 */                                                                           \
    "  lmcache_correlate:\n" /* 6 */                                                                           \
    "exporters:\n"           /* 7 */                                                                           \
    "  file/out:\n"          /* 8 */                                                                           \
    "    path: x\n"          /* 9 */                                                                           \
    "  debug:\n"             /* 10 */                                                                          \
    "connectors:\n"          /* 11 */                                                                          \
    "  lmcache_diagnose:\n"  /* 12 */                                                                          \
    "  forward:\n"           /* 13 */                                                                          \
    "extensions:\n"          /* 14 */                                                                          \
    "  health_check:\n"      /* 15 */

/* ---- the model ---- */

static void test_full_model(void **state)
{
    (void)state;
    const char *y = HEAD "service:\n"                                            /* 16 */
                         "  extensions: [health_check]\n"                        /* 17 */
                         "  shutdown_timeout: 3s\n"                              /* 18 */
                         "  telemetry:\n"                                        /* 19 */
                         "    logs: {level: debug}\n"                            /* 20 */
                         "    metrics: {address: 'localhost:8888', level: basic}\n" /* 21 */
                         "  pipelines:\n"                                        /* 22 */
                         "    traces:\n"                                         /* 23 */
                         "      receivers: [otlp]\n"                             /* 24 */
                         "      processors: [batch, lmcache_correlate]\n"        /* 25 */
                         "      exporters: [file/out, lmcache_diagnose]\n"       /* 26 */
                         "    metrics/node:\n"                                   /* 27 */
                         "      receivers: [prometheus/node]\n"                  /* 28 */
                         "      processors: [batch]\n"                           /* 29 */
                         "      exporters: [lmcache_diagnose]\n"                 /* 30 */
                         "    logs/findings:\n"                                  /* 31 */
                         "      receivers: [lmcache_diagnose]\n"                 /* 32 */
                         "      exporters: [file/out]\n";                        /* 33 */
    warns w = { 0 };
    kvs_service_cfg *c = parse_ok(y, &w);
    assert_non_null(c->doc);
    assert_int_equal(c->ncomps, 9);
    assert_string_equal(c->comps[0].id, "otlp");
    assert_int_equal(c->comps[0].kind, KVS_RECEIVER);
    assert_ptr_equal(c->comps[0].def, &r_otlp);
    assert_string_equal(c->comps[1].id, "prometheus/node");
    assert_ptr_equal(c->comps[1].def, &r_prometheus);
    assert_int_equal(c->comps[1].key->line, 3);
    assert_int_equal(c->comps[1].key->col, 3);
    assert_int_equal(c->comps[2].kind, KVS_PROCESSOR);
    assert_string_equal(c->comps[4].id, "file/out");
    assert_int_equal(c->comps[4].kind, KVS_EXPORTER);
    assert_ptr_equal(c->comps[4].def, &e_file);
    assert_int_equal(c->comps[4].cfg->type, KVS_CFG_MAP);
    assert_string_equal(kvs_cfg_get(c->comps[4].cfg, "path")->scalar, "x");
    assert_int_equal(c->comps[5].cfg->type, KVS_CFG_NULL);
    assert_int_equal(c->comps[6].kind, KVS_CONNECTOR);
    assert_int_equal(c->comps[8].kind, KVS_EXTENSION);

    assert_true(c->comps[0].used && c->comps[1].used && c->comps[2].used && c->comps[3].used);
    assert_true(c->comps[4].used && c->comps[6].used && c->comps[8].used);
    assert_false(c->comps[5].used);  /* debug */
    assert_false(c->comps[7].used);  /* forward */
    assert_int_equal(w.n, 2);
    assert_string_equal(w.all, "p.yaml:10:3: exporters.debug: defined but not used in any pipeline\n"
                               "p.yaml:13:3: connectors.forward: defined but not used in any pipeline\n");

    assert_int_equal(c->npipes, 3);
    const kvs_pipeline_cfg *t = &c->pipes[0], *m = &c->pipes[1], *l = &c->pipes[2];
    assert_string_equal(t->id, "traces");
    assert_int_equal(t->signal, KVS_SIG_TRACES);
    assert_int_equal(t->key->line, 23);
    assert_int_equal(t->nrecv, 1);
    assert_ptr_equal(t->recv[0], &c->comps[0]);
    assert_int_equal(t->nproc, 2);
    assert_ptr_equal(t->proc[0], &c->comps[2]);
    assert_ptr_equal(t->proc[1], &c->comps[3]);
    assert_int_equal(t->nexp, 2);
    assert_ptr_equal(t->exp[0], &c->comps[4]);
    assert_ptr_equal(t->exp[1], &c->comps[6]);
    assert_string_equal(m->id, "metrics/node");
    assert_int_equal(m->signal, KVS_SIG_METRICS);
    assert_ptr_equal(m->proc[0], &c->comps[2]);
    assert_string_equal(l->id, "logs/findings");
    assert_int_equal(l->signal, KVS_SIG_LOGS);
    assert_int_equal(l->nproc, 0);
    assert_ptr_equal(l->recv[0], &c->comps[6]);

    assert_int_equal(c->nextensions, 1);
    assert_ptr_equal(c->extensions[0], &c->comps[8]);
    assert_true(c->shutdown_timeout_ns == 3000000000ull);
    assert_string_equal(c->log_level, "debug");
    assert_string_equal(c->metrics_address, "localhost:8888");
    assert_non_null(c->telemetry);
    assert_int_equal(c->telemetry->type, KVS_CFG_MAP);

    assert_ptr_equal(kvs_service_cfg_find(c, KVS_EXPORTER, "file/out"), &c->comps[4]);
    assert_null(kvs_service_cfg_find(c, KVS_RECEIVER, "file/out"));
    assert_null(kvs_service_cfg_find(NULL, KVS_RECEIVER, "otlp"));
    kvs_service_cfg_free(c);
    kvs_service_cfg_free(NULL);
}

static void test_defaults_and_forms(void **state)
{
    (void)state;
    /* Minimal: defaults; a single id as a scalar; a receiver and an exporter
     * of the same id are distinct. */
    const char *y = "receivers:\n  otlp:\nexporters:\n  otlp:\n"
                    "service:\n  pipelines:\n    logs:\n      receivers: otlp\n      exporters: [otlp]\n";
    warns w = { 0 };
    kvs_service_cfg *c = parse_ok(y, &w);
    assert_int_equal(w.n, 0);
    assert_true(c->shutdown_timeout_ns == 10000000000ull);
    assert_string_equal(c->log_level, "info");
    assert_null(c->metrics_address);
    assert_null(c->telemetry);
    assert_int_equal(c->nextensions, 0);
    assert_int_equal(c->pipes[0].nrecv, 1);
    assert_int_equal(c->pipes[0].recv[0]->kind, KVS_RECEIVER);
    assert_int_equal(c->pipes[0].exp[0]->kind, KVS_EXPORTER);
    kvs_service_cfg_free(c);

    /* Empty sections and explicit nulls are fine; an unused extension warns. */
    y = "receivers:\n  otlp:\nprocessors:\nconnectors: {}\nexporters:\n  debug: ~\nextensions:\n  health_check:\n"
        "service:\n  extensions: []\n  telemetry:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
        "      processors:\n      exporters: [debug]\n";
    memset(&w, 0, sizeof w);
    c = parse_ok(y, &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.all, "p.yaml:8:3: extensions.health_check: defined but not enabled in service.extensions\n");
    assert_int_equal(c->pipes[0].nproc, 0);
    kvs_service_cfg_free(c);

    /* No warn callback: no crash. */
    y = "receivers:\n  otlp:\nexporters:\n  debug:\n  file:\n"
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n";
    c = parse_ok(y, NULL);
    kvs_service_cfg_free(c);

    /* Telemetry address forms. */
    static const char *const good[] = { "localhost:8888", ":8888", "0.0.0.0:9090", "'[::1]:8888'", "'[::]:0'", NULL };
    for (int i = 0; good[i]; i++) {
        char buf[400];
        snprintf(buf, sizeof buf,
                 "receivers:\n  otlp:\nexporters:\n  debug:\nservice:\n  telemetry:\n    metrics:\n      address: %s\n"
                 "  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
                 good[i]);
        c = parse_ok(buf, NULL);
        kvs_service_cfg_free(c);
    }
}

static void test_load_from_file(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    assert_null(kvs_service_cfg_load("/nonexistent/p.yaml", NULL, NULL, &err));
    assert_int_equal(err.code, KVS_E_IO);
    assert_contains(err.msg, "/nonexistent/p.yaml: cannot open");
    const char *src = getenv("KVS_SOURCE_DIR");
    if (!src)
        skip();
    /* The shipped example validates against the real component table. */
    char path[1024];
    snprintf(path, sizeof path, "%s/pipeline.yaml.example", src);
    FILE *f = fopen(path, "r");
    if (!f)
        skip();
    fclose(f);
    kvs_service_cfg *c = kvs_service_cfg_load(path, NULL, NULL, &err);
    if (!c) {
        print_error("%s\n", err.msg);
        fail();
    }
    assert_true(c->npipes > 0);
    kvs_service_cfg_free(c);
}

/* ---- rule 1: top level ---- */

static void test_top_level(void **state)
{
    (void)state;
    parse_fails("", "p.yaml:1:1: the configuration is empty");
    parse_fails("# nothing\n", "p.yaml:1:1: the configuration is empty");
    parse_fails("- a\n- b\n", "p.yaml:1:1: the top level must be a map of sections");
    parse_fails("hello\n", "p.yaml:1:1: the top level must be a map of sections (receivers, processors, exporters, "
                           "connectors, extensions, service), got a scalar");
    parse_fails("receivers: {}\nexporter: {}\n", "p.yaml:2:1: unknown key \"exporter\" (did you mean \"exporters\"?)");
    parse_fails("receivers: {}\nfoo: {}\n", "p.yaml:2:1: unknown key \"foo\" (expected one of: receivers, processors, "
                                            "exporters, connectors, extensions, service)");
    parse_fails("receivers: [otlp]\n", "p.yaml:1:12: receivers: expected a map, got a sequence");
    parse_fails("receivers: {}\nservice: pipelines\n", "p.yaml:2:10: service: expected a map, got \"pipelines\"");
    /* YAML errors come through with their position. */
    parse_fails("receivers:\n  otlp: [\n", "p.yaml:3:1: YAML syntax error");
    parse_fails("receivers:\n  otlp:\n  otlp:\n", "p.yaml:3:3: receivers: duplicate key \"otlp\"");
}

/* ---- rule 2: component ids and types ---- */

static void test_component_ids(void **state)
{
    (void)state;
    parse_fails("exporters:\n  file/:\n", "p.yaml:2:3: exporters: invalid id \"file/\": the name after \"/\" is empty");
    parse_fails("exporters:\n  File:\n", "p.yaml:2:3: exporters: invalid id \"File\": the type may only contain a-z, "
                                         "0-9 and _");
    parse_fails("exporters:\n  file-x:\n", "invalid id \"file-x\": the type may only contain");
    parse_fails("exporters:\n  /x:\n", "invalid id \"/x\": the type before \"/\" is empty");
    parse_fails("exporters:\n  file/a/b:\n", "invalid id \"file/a/b\": an id has at most one \"/\"");
    parse_fails("exporters:\n  \"file/a b\":\n", "invalid id \"file/a b\": the name cannot contain spaces");
    parse_fails("exporters:\n  \"file/a\\tb\":\n", "the name cannot contain spaces or control characters");
    /* Names may hold any other character. */
    kvs_service_cfg *c = parse_ok("receivers:\n  otlp/in-1.x:\nexporters:\n  file/Out_2:\nservice:\n  pipelines:\n"
                                  "    traces:\n      receivers: [otlp/in-1.x]\n      exporters: [file/Out_2]\n",
                                  NULL);
    kvs_service_cfg_free(c);

    parse_fails("receivers:\n  otlpp:\n", "p.yaml:2:3: receivers: unknown receivers type \"otlpp\" (did you mean "
                                          "\"otlp\"? known: otlpjsonfile, otlp, prometheus, filelog, routing)");
    parse_fails("receivers:\n  zipkin/a:\n", "p.yaml:2:3: receivers: unknown receivers type \"zipkin\" (known: "
                                             "otlpjsonfile, otlp, prometheus, filelog, routing)");
    parse_fails("exporters:\n  batch:\n", "p.yaml:2:3: exporters: unknown exporters type \"batch\" (batch is a "
                                          "processor: define it under processors)");
    parse_fails("receivers:\n  lmcache_diagnose:\n", "unknown receivers type \"lmcache_diagnose\" (lmcache_diagnose "
                                                     "is a connector: define it under connectors)");
    parse_fails("extensions:\n  pprof:\n", "p.yaml:2:3: extensions: unknown extensions type \"pprof\" (known: "
                                           "health_check)");
    /* Without a list of all types: just the name. */
    const char *y = "receivers:\n  otlpp:\n";
    kvs_error err = { 0 };
    assert_null(kvs_service_cfg_parse_with("p.yaml", y, strlen(y), &fake_nolist, NULL, NULL, &err));
    assert_string_equal(err.msg, "p.yaml:2:3: receivers: unknown receivers type \"otlpp\"");
    /* A connector id equal to a receiver's is ambiguous. */
    parse_fails("receivers:\n  routing:\nconnectors:\n  routing:\n",
                "p.yaml:4:3: connectors: id \"routing\" is also defined as a receiver: pipelines could not tell them "
                "apart (rename one)");
    c = parse_ok("receivers:\n  routing/a:\n  otlp:\nconnectors:\n  routing/b:\nexporters:\n  debug:\n"
                 "service:\n  pipelines:\n    traces:\n      receivers: [routing/a, otlp]\n      exporters: [routing/b]\n"
                 "    logs:\n      receivers: [routing/b]\n      exporters: [debug]\n",
                 NULL);
    assert_int_equal(c->pipes[0].recv[0]->kind, KVS_RECEIVER);
    assert_int_equal(c->pipes[0].exp[0]->kind, KVS_CONNECTOR);
    kvs_service_cfg_free(c);
}

/* ---- rule 3: service ---- */

#define MIN_COMPONENTS "receivers:\n  otlp:\nexporters:\n  debug:\n"
#define MIN_PIPE "  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"

static void test_service_section(void **state)
{
    (void)state;
    parse_fails(MIN_COMPONENTS, "p.yaml:1:1: missing \"service\" section: service.pipelines is required");
    parse_fails(MIN_COMPONENTS "service:\n", "p.yaml:5:1: service: missing \"pipelines\"");
    parse_fails(MIN_COMPONENTS "service:\n  shutdown_timeout: 5s\n", "p.yaml:5:1: service: missing \"pipelines\"");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n", "p.yaml:6:3: service.pipelines: no pipelines defined");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines: {}\n", "p.yaml:6:3: service.pipelines: no pipelines defined");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines: [traces]\n",
                "p.yaml:6:14: service.pipelines: expected a map, got a sequence");
    parse_fails(MIN_COMPONENTS "service:\n  pipeline: {}\n",
                "p.yaml:6:3: service: unknown key \"pipeline\" (did you mean \"pipelines\"?)");
    parse_fails(MIN_COMPONENTS "service:\n  shutdown_timeout: 10\n" MIN_PIPE,
                "p.yaml:6:21: service.shutdown_timeout: duration needs a unit (e.g. 5s)");
    parse_fails(MIN_COMPONENTS "service:\n  shutdown_timeout: soon\n" MIN_PIPE,
                "p.yaml:6:21: service.shutdown_timeout: invalid duration \"soon\"");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry: on\n" MIN_PIPE,
                "p.yaml:6:14: service.telemetry: expected a map, got \"on\"");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry:\n    traces: {}\n" MIN_PIPE,
                "p.yaml:7:5: service.telemetry: unknown key \"traces\" (expected one of: logs, metrics)");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry:\n    logs: {level: verbose}\n" MIN_PIPE,
                "p.yaml:7:19: service.telemetry.logs.level: must be one of debug, info, warn, error; got \"verbose\"");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry:\n    logs: {encoding: json}\n" MIN_PIPE,
                "p.yaml:7:12: service.telemetry.logs: unknown key \"encoding\"");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry:\n    logs: debug\n" MIN_PIPE,
                "p.yaml:7:11: service.telemetry.logs: expected a map, got \"debug\"");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry:\n    metrics: {level: full}\n" MIN_PIPE,
                "service.telemetry.metrics.level: must be one of none, basic, normal, detailed; got \"full\"");
    parse_fails(MIN_COMPONENTS "service:\n  telemetry:\n    metrics: {readers: []}\n" MIN_PIPE,
                "service.telemetry.metrics: unknown key \"readers\"");
    static const char *const bad_addr[] = { "8888", "'localhost:'", "host:99999", "a:b:c", "host:8o", "'a b:1'",
                                            "'[::1:8888'", NULL };
    for (int i = 0; bad_addr[i]; i++) {
        char y[600];
        snprintf(y, sizeof y, MIN_COMPONENTS "service:\n  telemetry:\n    metrics:\n      address: %s\n" MIN_PIPE,
                 bad_addr[i]);
        parse_fails(y, "p.yaml:8:16: service.telemetry.metrics.address: expected host:port (e.g. localhost:8888)");
    }
    parse_fails(MIN_COMPONENTS "service:\n  extensions: {a: 1}\n" MIN_PIPE,
                "p.yaml:6:15: service.extensions: expected a list of extension ids, got a map");
}

/* ---- rule 4: pipelines ---- */

static void test_pipeline_ids(void **state)
{
    (void)state;
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    trace:\n      receivers: [otlp]\n",
                "p.yaml:7:5: service.pipelines: unknown signal \"trace\" in pipeline id \"trace\" (expected traces, "
                "metrics or logs, optionally followed by /name)");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    profiles/x:\n", "unknown signal \"profiles\"");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces/:\n",
                "p.yaml:7:5: service.pipelines: invalid pipeline id \"traces/\": the name after \"/\" is empty");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces/a/b:\n", "invalid pipeline id \"traces/a/b\"");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces: [otlp]\n",
                "p.yaml:7:13: service.pipelines.traces: expected a map, got a sequence");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces:\n      receiver: [otlp]\n",
                "p.yaml:8:7: service.pipelines.traces: unknown key \"receiver\" (did you mean \"receivers\"?)");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces:\n      receivers: {otlp: 1}\n",
                "p.yaml:8:18: service.pipelines.traces.receivers: expected a list of receiver ids, got a map");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces:\n      receivers: [[otlp]]\n",
                "p.yaml:8:19: service.pipelines.traces.receivers[0]: expected a receiver id, got a sequence");
    parse_fails(MIN_COMPONENTS "service:\n  pipelines:\n    traces:\n      receivers: [otlp, ~]\n",
                "p.yaml:8:25: service.pipelines.traces.receivers[1]: expected a receiver id, got null");
}

static void test_pipeline_references(void **state)
{
    (void)state;
    /* Undefined, per list. */
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp/x]\n",
                "p.yaml:19:19: service.pipelines.traces.receivers[0]: receiver \"otlp/x\" is not defined");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch/2]\n",
                "p.yaml:20:20: service.pipelines.traces.processors[0]: processor \"batch/2\" is not defined");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                     "      exporters: [file/out, file/missing]\n",
                "p.yaml:20:29: service.pipelines.traces.exporters[1]: exporter \"file/missing\" is not defined");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file/outt]\n",
                "exporter \"file/outt\" is not defined (did you mean \"file/out\"?)");
    /* Defined in another section. */
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [batch]\n",
                "p.yaml:19:19: service.pipelines.traces.receivers[0]: receiver \"batch\" is not defined (it is "
                "defined as a processor: list it under processors)");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [debug]\n",
                "processor \"debug\" is not defined (it is defined as an exporter: list it under exporters)");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [forward]\n",
                "processor \"forward\" is not defined (it is defined as a connector: a connector is listed under "
                "receivers or exporters)");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n",
                "exporter \"otlp\" is not defined (it is defined as a receiver: list it under receivers)");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [health_check]\n",
                "receiver \"health_check\" is not defined (it is defined as an extension: extensions go in "
                "service.extensions)");
    /* Duplicates within a list; the same id in two lists of different pipelines is fine. */
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp, otlp]\n",
                "p.yaml:19:25: service.pipelines.traces.receivers[1]: \"otlp\" is listed twice in receivers");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                     "      processors: [batch, lmcache_correlate, batch]\n",
                "service.pipelines.traces.processors[2]: \"batch\" is listed twice in processors");
    /* No receivers / no exporters: at the pipeline key. */
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      exporters: [debug]\n",
                "p.yaml:18:5: service.pipelines.traces: pipeline has no receivers (at least one is required)");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n",
                "p.yaml:18:5: service.pipelines.traces: pipeline has no receivers");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: []\n      exporters: [debug]\n",
                "pipeline has no receivers");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n",
                "p.yaml:18:5: service.pipelines.traces: pipeline has no exporters (at least one is required)");
}

static void test_pipeline_signals(void **state)
{
    (void)state;
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [prometheus/node]\n",
                "p.yaml:19:19: service.pipelines.traces.receivers[0]: receiver \"prometheus/node\" does not support "
                "traces (it supports metrics)");
    parse_fails(HEAD "service:\n  pipelines:\n    logs:\n      receivers: [otlp]\n"
                     "      processors: [batch, lmcache_correlate]\n",
                "p.yaml:20:27: service.pipelines.logs.processors[1]: processor \"lmcache_correlate\" does not support "
                "logs (it supports traces, metrics)");
    parse_fails("receivers:\n  otlp:\nexporters:\n  prometheus:\n"
                "service:\n  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [prometheus]\n",
                "p.yaml:9:19: service.pipelines.logs.exporters[0]: exporter \"prometheus\" does not support logs (it "
                "supports metrics)");
    /* A connector: `signals` on its exporter side, `out_signals` on its receiver side. */
    parse_fails(HEAD "service:\n  pipelines:\n    logs:\n      receivers: [otlp]\n"
                     "      exporters: [lmcache_diagnose]\n",
                "p.yaml:20:19: service.pipelines.logs.exporters[0]: connector \"lmcache_diagnose\" does not accept logs "
                "(as an exporter it accepts traces, metrics)");
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                     "      exporters: [lmcache_diagnose]\n"
                     "    metrics:\n      receivers: [lmcache_diagnose]\n      exporters: [debug]\n",
                "p.yaml:22:19: service.pipelines.metrics.receivers[0]: connector \"lmcache_diagnose\" does not emit "
                "metrics (as a receiver it emits logs)");
    /* An extension's signals are never checked. */
    parse_fails("receivers:\n  otlp:\nexporters:\n  debug:\nconnectors:\n  count:\n"
                "service:\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [count]\n",
                "connector \"count\" does not accept metrics (as an exporter it accepts traces, logs)");
}

/* ---- rule 5: connectors ---- */

static void test_connector_sides(void **state)
{
    (void)state;
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                     "      exporters: [debug, lmcache_diagnose]\n",
                "p.yaml:20:26: service.pipelines.traces.exporters[1]: connector \"lmcache_diagnose\" is used as an "
                "exporter here but as a receiver in no pipeline");
    parse_fails(HEAD "service:\n  pipelines:\n    logs:\n      receivers: [otlp, lmcache_diagnose]\n"
                     "      exporters: [debug]\n",
                "p.yaml:19:25: service.pipelines.logs.receivers[1]: connector \"lmcache_diagnose\" is used as a "
                "receiver here but as an exporter in no pipeline");
    /* Fan-out through a connector to two pipelines; no cycle in a diamond. */
    const char *y = HEAD "service:\n  pipelines:\n"
                         "    traces/in:\n      receivers: [otlp]\n      exporters: [forward]\n"
                         "    traces/a:\n      receivers: [forward]\n      exporters: [lmcache_diagnose]\n"
                         "    traces/b:\n      receivers: [forward]\n      exporters: [lmcache_diagnose]\n"
                         "    logs:\n      receivers: [lmcache_diagnose]\n      exporters: [debug]\n";
    kvs_service_cfg *c = parse_ok(y, NULL);
    assert_int_equal(c->npipes, 4);
    kvs_service_cfg_free(c);
}

static void test_connector_cycles(void **state)
{
    (void)state;
    /* A pipeline feeding itself. */
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp, forward]\n"
                     "      exporters: [forward]\n",
                "p.yaml:18:5: service.pipelines.traces: connector cycle: traces -> traces (through forward)");
    /* Two pipelines. */
    parse_fails("receivers:\n  otlp:\nexporters:\n  debug:\nconnectors:\n  forward/a:\n  forward/b:\n"
                "service:\n  pipelines:\n"
                "    traces:\n      receivers: [otlp, forward/b]\n      exporters: [forward/a]\n"
                "    traces/copy:\n      receivers: [forward/a]\n      exporters: [debug, forward/b]\n",
                "p.yaml:10:5: service.pipelines.traces: connector cycle: traces -> traces/copy -> traces (through "
                "forward/a, forward/b)");
    /* Three pipelines across signals, entered from an acyclic head. */
    parse_fails("receivers:\n  otlp:\nexporters:\n  debug:\n"
                "connectors:\n  count:\n  lmcache_diagnose:\n  forward/m:\n  forward/l:\n"
                "service:\n  pipelines:\n"
                "    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"            /* 12 */
                "    logs/diag:\n      receivers: [lmcache_diagnose, otlp]\n"               /* 15 */
                "      exporters: [forward/l]\n"
                "    logs/back:\n      receivers: [forward/l]\n      exporters: [count]\n" /* 18 */
                "    metrics:\n      receivers: [count]\n      exporters: [forward/m]\n"     /* 21 */
                "    metrics/x:\n      receivers: [forward/m]\n      exporters: [lmcache_diagnose]\n",
                "p.yaml:15:5: service.pipelines.logs/diag: connector cycle: logs/diag -> logs/back -> metrics -> "
                "metrics/x -> logs/diag (through forward/l, count, forward/m, lmcache_diagnose)");
}

/* ---- rule 6: extensions ---- */

static void test_extensions(void **state)
{
    (void)state;
    parse_fails(MIN_COMPONENTS "service:\n  extensions: [health_check]\n" MIN_PIPE,
                "p.yaml:6:16: service.extensions[0]: extension \"health_check\" is not defined (define it under "
                "extensions)");
    parse_fails(MIN_COMPONENTS "extensions:\n  health_check:\nservice:\n  extensions: [health_check, health_check]\n"
                MIN_PIPE,
                "p.yaml:8:30: service.extensions[1]: \"health_check\" is listed twice in service.extensions");
    parse_fails(MIN_COMPONENTS "extensions:\n  health_check:\nservice:\n  extensions: [{a: 1}]\n" MIN_PIPE,
                "p.yaml:8:16: service.extensions[0]: expected an extension id, got a map");
    /* A scalar is one id. */
    kvs_service_cfg *c = parse_ok(MIN_COMPONENTS "extensions:\n  health_check/a:\n  health_check/b:\n"
                                                 "service:\n  extensions: health_check/b\n" MIN_PIPE,
                                  NULL);
    assert_int_equal(c->nextensions, 1);
    assert_string_equal(c->extensions[0]->id, "health_check/b");
    assert_int_equal(c->extensions[0]->used, 1);
    assert_int_equal(kvs_service_cfg_find(c, KVS_EXTENSION, "health_check/a")->used, 0);
    kvs_service_cfg_free(c);
}

/* ---- order of checks: the first error wins ---- */

static void test_check_order(void **state)
{
    (void)state;
    /* An unknown type (rule 2) before a service error (rule 3). */
    parse_fails("receivers:\n  nope:\nservice:\n  bad_key: 1\n", "unknown receivers type \"nope\"");
    /* A service error (3) before a pipeline error (4). */
    parse_fails(MIN_COMPONENTS "service:\n  shutdown_timeout: x\n  pipelines:\n    trace:\n", "invalid duration");
    /* A pipeline error (4) before a one-sided connector (5). */
    parse_fails(HEAD "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                     "      exporters: [lmcache_diagnose]\n    logs:\n      receivers: [nope]\n",
                "receiver \"nope\" is not defined");
    /* A one-sided connector (5) before an undefined extension (6). */
    parse_fails(HEAD "service:\n  extensions: [nope]\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                     "      exporters: [lmcache_diagnose]\n",
                "is used as an exporter here but as a receiver in no pipeline");
}

/* ---- the broken-config corpus ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Creates every used component with its fake create, returns the first error. */
static int create_all(const kvs_service_cfg *c, kvs_error *err)
{
    for (size_t i = 0; i < c->ncomps; i++) {
        const kvs_comp_cfg *cc = &c->comps[i];
        if (!cc->used || !cc->def->create)
            continue;
        kvs_create_ctx ctx = { .id = cc->id, .cfg = cc->cfg };
        void *st = NULL;
        if (cc->def->create(&ctx, &st, err) != 0)
            return KVS_E_INVALID;
    }
    return 0;
}

static void test_bad_config_corpus(void **state)
{
    (void)state;
    const char *src = getenv("KVS_SOURCE_DIR");
    if (!src) {
        print_message("KVS_SOURCE_DIR not set: corpus skipped\n");
        skip();
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/configs", src);
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "bad_", 4) == 0 && len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    assert_true(n >= 20);
    int failures = 0, at_create = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1400], line1[600] = "", line2[200] = "";
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        if (!fgets(line1, sizeof line1, f))
            line1[0] = 0;
        if (!fgets(line2, sizeof line2, f))
            line2[0] = 0;
        fclose(f);
        line1[strcspn(line1, "\n")] = 0;
        if (strncmp(line1, "# expect: ", 10) != 0) {
            print_error("%s: the first line must be \"# expect: <text>\"\n", names[i]);
            failures++;
            continue;
        }
        const char *want = line1 + 10;
        int create = strncmp(line2, "# expect-at: create", 19) == 0;
        kvs_error err = { 0 };
        kvs_cfg_doc *doc = kvs_cfg_load_file(path, NULL, NULL, &err);
        kvs_service_cfg *c = doc ? kvs_service_cfg_from_doc(doc, &fake, NULL, NULL, &err) : NULL;
        if (create && c) {
            /* Only a component's create can see it: run the fake creates. */
            at_create++;
            if (create_all(c, &err) == 0)
                snprintf(err.msg, sizeof err.msg, "(no error from create)");
        } else if (create) {
            print_error("%s: marked expect-at: create but the model rejects it: %s\n", names[i], err.msg);
            failures++;
            continue;
        } else if (c) {
            snprintf(err.msg, sizeof err.msg, "(accepted)");
        }
        kvs_service_cfg_free(c);
        if (!strstr(err.msg, want)) {
            print_error("%s:\n  want: %s\n  got:  %s\n", names[i], want, err.msg);
            failures++;
        }
    }
    print_message("%zu broken configs checked (%d at create)\n", n, at_create);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_model),
        cmocka_unit_test(test_defaults_and_forms),
        cmocka_unit_test(test_load_from_file),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_component_ids),
        cmocka_unit_test(test_service_section),
        cmocka_unit_test(test_pipeline_ids),
        cmocka_unit_test(test_pipeline_references),
        cmocka_unit_test(test_pipeline_signals),
        cmocka_unit_test(test_connector_sides),
        cmocka_unit_test(test_connector_cycles),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_bad_config_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
