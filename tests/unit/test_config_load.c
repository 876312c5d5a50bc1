/* Unit tests of the configuration loader (core/config.c): the node tree
 * with positions and paths, scalar kinds and root forms, YAML errors with
 * file:line:column, loading from a file, and env expansion in all its
 * forms. The typed accessors: test_config_get.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "config_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void load_fails(const char *text, const char *msg)
{
    kvs_error err = { 0 };
    kvs_cfg_doc *d = load(text, NULL, &err);
    if (d) {
        kvs_cfg_free(d);
        print_error("expected an error containing \"%s\"\n", msg);
        fail();
    }
    assert_int_equal(err.code, KVS_E_INVALID);
    assert_contains(err.msg, msg);
}

/* ---- tree, positions, paths ---- */

static void test_positions_and_paths(void **state)
{
    (void)state;
    const char *y = "# comment\n"
                    "exporters:\n"
                    "  file/out:\n"
                    "    path: out.jsonl\n"
                    "    rotation:\n"
                    "      max_megabytes: 100\n"
                    "service:\n"
                    "  pipelines:\n"
                    "    traces:\n"
                    "      exporters: [a, b, c]\n"
                    "      receivers:\n"
                    "        - x\n"
                    "        - y\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *root = kvs_cfg_root(d);
    assert_int_equal(root->type, KVS_CFG_MAP);
    assert_int_equal(root->n, 2);
    assert_string_equal(root->path, "");
    assert_string_equal(root->file, "pipeline.yaml");
    assert_string_equal(kvs_cfg_doc_file(d), "pipeline.yaml");
    assert_int_equal(root->keys[0]->line, 2);
    assert_int_equal(root->keys[0]->col, 1);
    assert_string_equal(root->keys[0]->path, "exporters");

    const kvs_cfg_node *exp = kvs_cfg_get(root, "exporters");
    const kvs_cfg_node *fk = kvs_cfg_key(exp, "file/out");
    assert_non_null(fk);
    assert_int_equal(fk->line, 3);
    assert_int_equal(fk->col, 3);
    assert_string_equal(fk->path, "exporters.file/out");
    const kvs_cfg_node *rot = kvs_cfg_get(kvs_cfg_get(exp, "file/out"), "rotation");
    const kvs_cfg_node *mm = kvs_cfg_get(rot, "max_megabytes");
    assert_int_equal(mm->type, KVS_CFG_SCALAR);
    assert_string_equal(mm->scalar, "100");
    assert_string_equal(mm->path, "exporters.file/out.rotation.max_megabytes");
    assert_int_equal(mm->line, 6);
    assert_int_equal(mm->col, 22);
    assert_int_equal(mm->quoted, 0);
    const kvs_cfg_node *mk = kvs_cfg_key(rot, "max_megabytes");
    assert_int_equal(mk->line, 6);
    assert_int_equal(mk->col, 7);
    assert_string_equal(mk->path, "exporters.file/out.rotation.max_megabytes");
    assert_int_equal(rot->type, KVS_CFG_MAP);
    assert_int_equal(rot->line, 6);
    assert_int_equal(rot->col, 7);

    const kvs_cfg_node *tr = kvs_cfg_get(kvs_cfg_get(kvs_cfg_get(root, "service"), "pipelines"), "traces");
    const kvs_cfg_node *ex = kvs_cfg_get(tr, "exporters");
    assert_int_equal(ex->type, KVS_CFG_SEQ);
    assert_int_equal(ex->n, 3);
    assert_null(ex->keys);
    assert_string_equal(ex->items[2]->scalar, "c");
    assert_string_equal(ex->items[2]->path, "service.pipelines.traces.exporters[2]");
    assert_int_equal(ex->items[2]->line, 10);
    assert_int_equal(ex->items[2]->col, 25);
    const kvs_cfg_node *rc = kvs_cfg_get(tr, "receivers");
    assert_int_equal(rc->n, 2);
    assert_int_equal(rc->items[1]->line, 13);
    assert_int_equal(rc->items[1]->col, 11);
    assert_string_equal(rc->items[1]->path, "service.pipelines.traces.receivers[1]");
    kvs_cfg_free(d);
}

static void test_scalar_kinds(void **state)
{
    (void)state;
    const char *y = "a: ~\n"
                    "b: null\n"
                    "c:\n"
                    "d: NULL\n"
                    "e: \"null\"\n"
                    "f: 'x y'\n"
                    "g: |\n"
                    "  line1\n"
                    "  line2\n"
                    "h: >\n"
                    "  folded\n"
                    "i: !!str 42\n"
                    "j: plain text here\n"
                    "k: \"\"\n"
                    "l: [1, [2, 3], {m: 4}]\n"
                    "n: {}\n"
                    "o: []\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *r = kvs_cfg_root(d);
    assert_int_equal(kvs_cfg_get(r, "a")->type, KVS_CFG_NULL);
    assert_int_equal(kvs_cfg_get(r, "b")->type, KVS_CFG_NULL);
    assert_int_equal(kvs_cfg_get(r, "c")->type, KVS_CFG_NULL);
    assert_null(kvs_cfg_get(r, "c")->scalar);
    assert_string_equal(kvs_cfg_get(r, "c")->path, "c");
    assert_int_equal(kvs_cfg_get(r, "d")->type, KVS_CFG_NULL);
    const kvs_cfg_node *e = kvs_cfg_get(r, "e");
    assert_int_equal(e->type, KVS_CFG_SCALAR);
    assert_string_equal(e->scalar, "null");
    assert_int_equal(e->quoted, 1);
    assert_int_equal(kvs_cfg_get(r, "f")->quoted, 1);
    assert_string_equal(kvs_cfg_get(r, "f")->scalar, "x y");
    assert_string_equal(kvs_cfg_get(r, "g")->scalar, "line1\nline2\n");
    assert_int_equal(kvs_cfg_get(r, "g")->quoted, 1);
    assert_string_equal(kvs_cfg_get(r, "h")->scalar, "folded\n");
    assert_int_equal(kvs_cfg_get(r, "i")->quoted, 1);
    assert_string_equal(kvs_cfg_get(r, "i")->scalar, "42");
    assert_string_equal(kvs_cfg_get(r, "j")->scalar, "plain text here");
    assert_int_equal(kvs_cfg_get(r, "j")->quoted, 0);
    assert_int_equal(kvs_cfg_get(r, "k")->type, KVS_CFG_SCALAR);
    assert_string_equal(kvs_cfg_get(r, "k")->scalar, "");
    const kvs_cfg_node *l = kvs_cfg_get(r, "l");
    assert_int_equal(l->n, 3);
    assert_int_equal(l->items[1]->type, KVS_CFG_SEQ);
    assert_string_equal(l->items[1]->items[1]->path, "l[1][1]");
    assert_string_equal(kvs_cfg_get(l->items[2], "m")->path, "l[2].m");
    assert_int_equal(kvs_cfg_get(r, "n")->type, KVS_CFG_MAP);
    assert_int_equal(kvs_cfg_get(r, "n")->n, 0);
    assert_int_equal(kvs_cfg_get(r, "o")->type, KVS_CFG_SEQ);
    assert_int_equal(kvs_cfg_get(r, "o")->n, 0);
    assert_null(kvs_cfg_get(r, "zz"));
    assert_null(kvs_cfg_key(r, "zz"));
    kvs_cfg_free(d);
}

static void test_empty_and_root_forms(void **state)
{
    (void)state;
    kvs_cfg_doc *d = load_ok("");
    assert_int_equal(kvs_cfg_root(d)->type, KVS_CFG_NULL);
    assert_int_equal(kvs_cfg_root(d)->line, 1);
    assert_int_equal(kvs_cfg_root(d)->col, 1);
    kvs_cfg_free(d);
    d = load_ok("# only a comment\n\n");
    assert_int_equal(kvs_cfg_root(d)->type, KVS_CFG_NULL);
    kvs_cfg_free(d);
    d = load_ok("---\n");
    assert_int_equal(kvs_cfg_root(d)->type, KVS_CFG_NULL);
    kvs_cfg_free(d);
    d = load_ok("just a scalar\n");
    assert_int_equal(kvs_cfg_root(d)->type, KVS_CFG_SCALAR);
    assert_string_equal(kvs_cfg_root(d)->path, "");
    kvs_cfg_free(d);
    d = load_ok("- a\n- b\n");
    assert_int_equal(kvs_cfg_root(d)->type, KVS_CFG_SEQ);
    assert_string_equal(kvs_cfg_root(d)->items[1]->path, "[1]");
    kvs_cfg_free(d);
    d = load_ok("a: 1\n...\n");
    assert_int_equal(kvs_cfg_root(d)->n, 1);
    kvs_cfg_free(d);
    d = kvs_cfg_load_string(NULL, NULL, 0, NULL, NULL, NULL);
    assert_non_null(d);
    assert_string_equal(kvs_cfg_root(d)->file, "config");
    kvs_cfg_free(d);
    kvs_cfg_free(NULL);
    assert_null(kvs_cfg_root(NULL));
}

static void test_yaml_errors(void **state)
{
    (void)state;
    load_fails("a: [1, 2\nb: 3\n", "pipeline.yaml:2:2: YAML syntax error: did not find expected ',' or ']'");
    load_fails("a: \"open\n", "pipeline.yaml:2:1: YAML syntax error: found unexpected end of stream");
    load_fails("a: b: c\n", "pipeline.yaml:1:5: YAML syntax error: mapping values are not allowed in this context");
    load_fails("a:\n\tb: 1\n", "pipeline.yaml:2:1: YAML syntax error: found character that cannot start any token "
                                "(tabs cannot be used for indentation; use spaces)");
    load_fails("a:\n  b: 1\n  c: 2\n  b: 3\n", "pipeline.yaml:4:3: a: duplicate key \"b\" (first at line 2, column 3)");
    load_fails("x: 1\ny: 2\nx: 3\n", "pipeline.yaml:3:1: duplicate key \"x\" (first at line 1, column 1)");
    load_fails("{x: 1, \"x\": 2}\n", "pipeline.yaml:1:8: duplicate key \"x\"");
    load_fails("a:\n  ? [1, 2]\n  : v\n", "pipeline.yaml:2:5: a: map keys must be scalars, not a sequence");
    load_fails("a:\n  ? {k: v}\n  : v\n", "pipeline.yaml:2:5: a: map keys must be scalars, not a map");
    load_fails("a: &x 1\nb: *x\n", "pipeline.yaml:1:4: YAML anchors (&x) are not supported");
    load_fails("a: &m {k: 1}\n", "pipeline.yaml:1:4: YAML anchors (&m) are not supported");
    load_fails("b: *x\n", "pipeline.yaml:1:4: YAML aliases (*x) are not supported");
    load_fails("a: 1\n---\nb: 2\n", "pipeline.yaml:2:1: a second YAML document");
    load_fails("a: !!int 5\n", "pipeline.yaml:1:4: YAML tag \"tag:yaml.org,2002:int\" is not supported");
    load_fails("a: !custom {x: 1}\n", "YAML tag \"!custom\" is not supported");
    load_fails("a: \"x\\0y\"\n", "pipeline.yaml:1:4: NUL character in a scalar");
    load_fails("a:\n  \"\": 1\n", "pipeline.yaml:2:3: a: empty map key");
    /* An explicit key ("? key") may be longer than YAML's 1024 for implicit ones. */
    char longkey[1100] = "? ";
    memset(longkey + 2, 'k', 1025);
    strcpy(longkey + 1027, "\n: 1\n");
    load_fails(longkey, "pipeline.yaml:1:3: map key longer than 1024 bytes");
    strcpy(longkey + 1026, "\n: 1\n");
    kvs_cfg_doc *lk = load_ok(longkey);
    assert_int_equal(strlen(kvs_cfg_root(lk)->keys[0]->scalar), 1024);
    kvs_cfg_free(lk);
    /* Nesting limit. */
    char deep[400] = "";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    load_fails(deep, "nesting deeper than 64 levels");
    /* Many keys in one map: duplicates found through the hash set. */
    char *big = malloc(200000);
    size_t off = 0;
    for (int i = 0; i < 5000; i++)
        off += (size_t)sprintf(big + off, "k%d: %d\n", i, i);
    kvs_cfg_doc *d = load_ok(big);
    assert_int_equal(kvs_cfg_root(d)->n, 5000);
    assert_string_equal(kvs_cfg_get(kvs_cfg_root(d), "k4321")->scalar, "4321");
    kvs_cfg_free(d);
    sprintf(big + off, "k2500: dup\n");
    load_fails(big, "pipeline.yaml:5001:1: duplicate key \"k2500\" (first at line 2501, column 1)");
    free(big);
}

static void test_load_file(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    assert_null(kvs_cfg_load_file("/nonexistent/kvscope.yaml", NULL, NULL, &err));
    assert_int_equal(err.code, KVS_E_IO);
    assert_contains(err.msg, "/nonexistent/kvscope.yaml: cannot open:");
    char path[] = "/tmp/kvs_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "a:\n  b: 1\n  b: 2\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    assert_null(kvs_cfg_load_file(path, NULL, NULL, &err));
    char want[200];
    snprintf(want, sizeof want, "%s:3:3: a: duplicate key \"b\"", path);
    assert_contains(err.msg, want);
    unlink(path);
}

/* ---- env expansion ---- */

static const char *value_of(const char *yaml_value, warns *w, kvs_error *err, kvs_cfg_doc **out)
{
    char y[600];
    snprintf(y, sizeof y, "section:\n  key: %s\n", yaml_value);
    kvs_cfg_doc *d = kvs_cfg_load_string("pipeline.yaml", y, strlen(y), w ? on_warn : NULL, w, err);
    *out = d;
    if (!d)
        return NULL;
    return kvs_cfg_get(kvs_cfg_get(kvs_cfg_root(d), "section"), "key")->scalar;
}

static void expands_to(const char *v, const char *want)
{
    kvs_error err = { 0 };
    kvs_cfg_doc *d;
    warns w = { 0 };
    const char *got = value_of(v, &w, &err, &d);
    if (!got) {
        print_error("%s: unexpected error: %s\n", v, err.msg);
        fail();
    }
    if (strcmp(got, want) != 0) {
        print_error("%s: expanded to \"%s\", want \"%s\"\n", v, got, want);
        fail();
    }
    kvs_cfg_free(d);
}

static void expand_fails(const char *v, const char *msg)
{
    kvs_error err = { 0 };
    kvs_cfg_doc *d;
    const char *got = value_of(v, NULL, &err, &d);
    if (got) {
        print_error("%s: expected error \"%s\", got value \"%s\"\n", v, msg, got);
        kvs_cfg_free(d);
        fail();
    }
    assert_contains(err.msg, msg);
}

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("KVS_T_A", "alpha", 1);
    setenv("KVS_T_B", "beta", 1);
    setenv("KVS_T_EMPTY", "", 1);
    setenv("KVS_T_PORT", "4317", 1);
    unsetenv("KVS_T_UNSET");
    expands_to("${env:KVS_T_A}", "alpha");
    expands_to("${KVS_T_A}", "alpha");
    expands_to("pre-${env:KVS_T_A}-mid-${KVS_T_B}-post", "pre-alpha-mid-beta-post");
    expands_to("\"quoted ${env:KVS_T_A}\"", "quoted alpha");
    expands_to("'single ${env:KVS_T_B}'", "single beta");
    expands_to("${env:KVS_T_UNSET:-fallback}", "fallback");
    expands_to("${KVS_T_UNSET:-fb}", "fb");
    expands_to("${env:KVS_T_A:-fallback}", "alpha");
    expands_to("${env:KVS_T_UNSET:-}", "");
    expands_to("${env:KVS_T_UNSET:-a:b/c d}", "a:b/c d");
    expands_to("${env:KVS_T_EMPTY:-default}", "");  /* set but empty: stays empty */
    expands_to("$${env:KVS_T_A}", "${env:KVS_T_A}");
    expands_to("a$${b}c", "a${b}c");
    expands_to("$$${env:KVS_T_A}", "$${env:KVS_T_A}"); /* only "$${" is special */
    expands_to("cost$5", "cost$5");
    expands_to("ends with $", "ends with $");
    expands_to("$$", "$$");
    expands_to("${env:KVS_T_A}${env:KVS_T_B}", "alphabeta");
    expands_to("localhost:${env:KVS_T_PORT}", "localhost:4317");

    /* Unset without default: empty, with a warning at the scalar. */
    kvs_error err = { 0 };
    warns w = { 0 };
    kvs_cfg_doc *d;
    const char *v = value_of("x${env:KVS_T_UNSET}y", &w, &err, &d);
    assert_string_equal(v, "xy");
    assert_int_equal(w.n, 1);
    assert_string_equal(w.last, "pipeline.yaml:2:8: section.key: environment variable KVS_T_UNSET is not set");
    kvs_cfg_free(d);
    w.n = 0;
    v = value_of("${KVS_T_UNSET} ${KVS_T_UNSET}", &w, &err, &d);
    assert_string_equal(v, " ");
    assert_int_equal(w.n, 2);
    kvs_cfg_free(d);
    /* No callback: still fine. */
    v = value_of("${KVS_T_UNSET}", NULL, &err, &d);
    assert_string_equal(v, "");
    kvs_cfg_free(d);

    /* A plain ${...} that expands to a number reads as a number. */
    d = load_ok("port: ${env:KVS_T_PORT}\n");
    int64_t port;
    assert_int_equal(kvs_cfg_i64(kvs_cfg_root(d), "port", 0, 1, 65535, &port, &err), 0);
    assert_int_equal(port, 4317);
    kvs_cfg_free(d);

    /* Keys are not expanded. */
    d = load_ok("${env:KVS_T_A}: 1\n");
    assert_non_null(kvs_cfg_get(kvs_cfg_root(d), "${env:KVS_T_A}"));
    kvs_cfg_free(d);
    /* In sequences too, with the item's path in warnings. */
    w.n = 0;
    const char *ys = "l:\n  - ok\n  - ${env:KVS_T_UNSET}\n";
    d = kvs_cfg_load_string("p.yaml", ys, strlen(ys), on_warn, &w, &err);
    assert_non_null(d);
    assert_string_equal(w.last, "p.yaml:3:5: l[1]: environment variable KVS_T_UNSET is not set");
    kvs_cfg_free(d);

    /* Malformed references: errors at the scalar. */
    expand_fails("${env:KVS_T_A", "pipeline.yaml:2:8: section.key: unterminated \"${\"");
    expand_fails("ok ${env:KVS_T_A} then ${oops", "pipeline.yaml:2:8: section.key: unterminated \"${\"");
    expand_fails("${file:/etc/x}", "pipeline.yaml:2:8: section.key: unknown provider \"file\" in \"${file:/etc/x}\"");
    expand_fails("${http:x}", "unknown provider \"http\"");
    expand_fails("${env:1BAD}", "pipeline.yaml:2:8: section.key: invalid environment variable name \"1BAD\" in "
                                "\"${env:1BAD}\" (letters, digits and _, not starting with a digit)");
    expand_fails("${env:}", "invalid environment variable name \"\"");
    expand_fails("${}", "invalid environment variable name \"\"");
    expand_fails("${env:A-B}", "invalid environment variable name \"A-B\"");
    expand_fails("${env:A B}", "invalid environment variable name");
    expand_fails("${env:KVS_T_A:x}", "pipeline.yaml:2:8: section.key: invalid reference \"${env:KVS_T_A:x}\" "
                                     "(expected ${env:NAME} or ${env:NAME:-default})");
    expand_fails("${env:KVS_T_A:}", "invalid reference \"${env:KVS_T_A:}\"");
    expand_fails("${KVS_T_A:}", "unknown provider \"KVS_T_A\"");
    expand_fails("${:x}", "invalid reference \"${:x}\"");
    expand_fails("${env:A:-${env:B}}", "nested \"${\"");
    expand_fails("\"${env:X\"", "unterminated");
    unsetenv("KVS_T_A");
    unsetenv("KVS_T_B");
    unsetenv("KVS_T_EMPTY");
    unsetenv("KVS_T_PORT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_and_paths),
        cmocka_unit_test(test_scalar_kinds),
        cmocka_unit_test(test_empty_and_root_forms),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_env_expansion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
