/* libFuzzer target for the configuration loader and the service model:
 * feeds the bytes to kvs_service_cfg_parse (the real component table) and
 * to kvs_service_cfg_parse_with (a fake table with every kind and signal
 * set, so inputs reach the pipeline, connector and cycle checks), then runs
 * the typed accessors over every map in the tree, and frees. */
#include "core/service_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const kvs_component_def fz_defs[] = {
    { .type = "otlp", .kind = KVS_RECEIVER, .signals = KVS_SIG_ALL },
    { .type = "otlpjsonfile", .kind = KVS_RECEIVER, .signals = KVS_SIG_ALL },
    { .type = "prometheus", .kind = KVS_RECEIVER, .signals = KVS_SIG_METRICS },
    { .type = "batch", .kind = KVS_PROCESSOR, .signals = KVS_SIG_ALL },
    { .type = "lmcache_correlate", .kind = KVS_PROCESSOR, .signals = KVS_SIG_TRACES | KVS_SIG_METRICS },
    { .type = "otlp", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL },
    { .type = "debug", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL },
    { .type = "file", .kind = KVS_EXPORTER, .signals = KVS_SIG_ALL },
    { .type = "lmcache_diagnose", .kind = KVS_CONNECTOR, .signals = KVS_SIG_TRACES | KVS_SIG_METRICS,
      .out_signals = KVS_SIG_LOGS },
    { .type = "forward", .kind = KVS_CONNECTOR, .signals = KVS_SIG_ALL, .out_signals = KVS_SIG_ALL },
    { .type = "health_check", .kind = KVS_EXTENSION },
};
#define FZ_N (sizeof fz_defs / sizeof fz_defs[0])

static const kvs_component_def *fz_find(kvs_kind kind, const char *type, size_t len)
{
    for (size_t i = 0; i < FZ_N; i++)
        if (fz_defs[i].kind == kind && strlen(fz_defs[i].type) == len && memcmp(fz_defs[i].type, type, len) == 0)
            return &fz_defs[i];
    return NULL;
}

static const kvs_component_def *const *fz_all(size_t *n)
{
    static const kvs_component_def *table[FZ_N + 1];
    for (size_t i = 0; i < FZ_N; i++)
        table[i] = &fz_defs[i];
    *n = FZ_N;
    return table;
}

static void fz_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

/* Every accessor on every key of every map, recursively. */
static void walk(const kvs_cfg_node *n, int depth)
{
    static const char *const allowed[] = { "receivers", "timeout", "endpoint", NULL };
    static const char *const values[] = { "basic", "normal", "detailed", NULL };
    if (!n || depth > 80)
        return;
    kvs_error err;
    if (n->type == KVS_CFG_MAP) {
        kvs_cfg_check_keys(n, allowed, &err);
        for (size_t i = 0; i < n->n; i++) {
            const char *k = n->keys[i]->scalar, *s, **list;
            int b, e;
            int64_t v;
            double d;
            uint64_t ns;
            size_t cnt;
            kvs_cfg_str(n, k, NULL, &s, &err);
            kvs_cfg_bool(n, k, 0, &b, &err);
            kvs_cfg_i64(n, k, 0, -1000, 1000, &v, &err);
            kvs_cfg_f64(n, k, 0, -1, 1, &d, &err);
            kvs_cfg_duration(n, k, 0, &ns, &err);
            kvs_cfg_enum(n, k, values, 0, &e, &err);
            kvs_cfg_expect_map(n->items[i], &err);
            if (kvs_cfg_strlist(n, k, &list, &cnt, &err) == 0)
                free(list);
            kvs_cfg_errorf(&err, n->items[i], "%s", "x");
            walk(n->items[i], depth + 1);
        }
    } else if (n->type == KVS_CFG_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            walk(n->items[i], depth + 1);
    } else if (n->type == KVS_CFG_SCALAR) {
        uint64_t ns;
        kvs_parse_duration(n->scalar, &ns);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const kvs_component_lookup fake = { fz_find, fz_all };
    kvs_error err;
    kvs_service_cfg *cfg = kvs_service_cfg_parse("fuzz.yaml", (const char *)data, size, fz_warn, NULL, &err);
    kvs_service_cfg_free(cfg);
    cfg = kvs_service_cfg_parse_with("fuzz.yaml", (const char *)data, size, &fake, fz_warn, NULL, &err);
    kvs_service_cfg_free(cfg);
    kvs_cfg_doc *doc = kvs_cfg_load_string("fuzz.yaml", (const char *)data, size, fz_warn, NULL, &err);
    if (doc)
        walk(kvs_cfg_root(doc), 0);
    kvs_cfg_free(doc);
    return 0;
}
