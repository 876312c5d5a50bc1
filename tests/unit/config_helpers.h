/* Shared by the configuration loader tests (test_config_load.c,
 * test_config_get.c): loading a YAML text as "pipeline.yaml", collecting
 * warnings (assert_contains is in unit_helpers.h). Header-only;
 * include after cmocka.h. */
#ifndef KVS_TEST_CONFIG_HELPERS_H
#define KVS_TEST_CONFIG_HELPERS_H

#include "core/config.h"
#include "unit_helpers.h"

#include <stdio.h>
#include <string.h>

/* Collected warnings. */
typedef struct warns {
    int n;
    char last[600];
} warns;

__attribute__((unused)) static void on_warn(void *ctx, const char *msg)
{
    warns *w = ctx;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

__attribute__((unused)) static kvs_cfg_doc *load(const char *text, warns *w, kvs_error *err)
{
    return kvs_cfg_load_string("pipeline.yaml", text, strlen(text), w ? on_warn : NULL, w, err);
}

__attribute__((unused)) static kvs_cfg_doc *load_ok(const char *text)
{
    kvs_error err = { 0 };
    kvs_cfg_doc *d = load(text, NULL, &err);
    if (!d) {
        print_error("unexpected error: %s\n", err.msg);
        fail();
    }
    return d;
}

#endif
