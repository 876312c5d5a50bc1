/* Unit tests of the configuration loader (core/config.c) and its typed
 * accessors (core/config_get.c): positions and paths, YAML errors with
 * file:line:column, env expansion in all its forms, every accessor with
 * defaults, range errors and "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define assert_contains(hay, needle)                                                              \
    do {                                                                                          \
        const char *h_ = (hay), *n_ = (needle);                                                   \
        if (!h_ || !strstr(h_, n_)) {                                                             \
            print_error("expected \"%s\"\n  to contain \"%s\"\n", h_ ? h_ : "(null)", n_);        \
            fail();                                                                               \
        }                                                                                         \
    } while (0)

/* Collected warnings. */
typedef struct warns {
    int n;
    char last[600];
} warns;

static void on_warn(void *ctx, const char *msg)
{
    warns *w = ctx;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

static kvs_cfg_doc *load(const char *text, warns *w, kvs_error *err)
{
    return kvs_cfg_load_string("pipeline.yaml", text, strlen(text), w ? on_warn : NULL, w, err);
}

static kvs_cfg_doc *load_ok(const char *text)
{
    kvs_error err = { 0 };
    kvs_cfg_doc *d = load(text, NULL, &err);
    if (!d) {
        print_error("unexpected error: %s\n", err.msg);
        fail();
    }
    return d;
}

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

/* ---- accessors ---- */

static void test_errorf_and_expect_map(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    kvs_cfg_doc *d = load_ok("exporters:\n  file/out:\n    path: [a]\n  s: text\n");
    const kvs_cfg_node *r = kvs_cfg_root(d), *e = kvs_cfg_get(r, "exporters");
    assert_int_equal(kvs_cfg_errorf(&err, kvs_cfg_get(e, "file/out"), "bad %d", 7), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:3:5: exporters.file/out: bad 7");
    assert_int_equal(err.code, KVS_E_INVALID);
    kvs_cfg_errorf(&err, NULL, "plain %s", "message");
    assert_string_equal(err.msg, "plain message");
    kvs_cfg_errorf(&err, r, "at root");
    assert_string_equal(err.msg, "pipeline.yaml:1:1: at root");

    assert_int_equal(kvs_cfg_expect_map(NULL, &err), 0);
    assert_int_equal(kvs_cfg_expect_map(e, &err), 0);
    assert_int_equal(kvs_cfg_expect_map(kvs_cfg_get(e, "s"), &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:4:6: exporters.s: expected a map, got \"text\"");
    const char *s;
    assert_int_equal(kvs_cfg_str(kvs_cfg_get(e, "file/out"), "path", NULL, &s, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:3:11: exporters.file/out.path: expected a string, got a sequence");
    assert_int_equal(kvs_cfg_str(r, "exporters", NULL, &s, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:2:3: exporters: expected a string, got a map");
    /* NULL err is allowed. */
    assert_int_equal(kvs_cfg_expect_map(kvs_cfg_get(e, "s"), NULL), KVS_E_INVALID);
    kvs_cfg_free(d);
    d = load_ok("empty:\nnull_section: ~\n");
    assert_int_equal(kvs_cfg_expect_map(kvs_cfg_get(kvs_cfg_root(d), "empty"), &err), 0);
    assert_int_equal(kvs_cfg_expect_map(kvs_cfg_get(kvs_cfg_root(d), "null_section"), &err), 0);
    /* Lookups in a NULL node are absent. */
    assert_null(kvs_cfg_get(kvs_cfg_get(kvs_cfg_root(d), "empty"), "x"));
    assert_int_equal(kvs_cfg_str(kvs_cfg_get(kvs_cfg_root(d), "empty"), "x", "def", &s, &err), 0);
    assert_string_equal(s, "def");
    kvs_cfg_free(d);
}

static void test_check_keys(void **state)
{
    (void)state;
    static const char *const batch[] = { "send_batch_size", "send_batch_max_size", "timeout", NULL };
    kvs_error err = { 0 };
    const char *y = "processors:\n"
                    "  batch:\n"
                    "    timeout: 1s\n"
                    "    send_batch_sise: 10\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *b = kvs_cfg_get(kvs_cfg_get(kvs_cfg_root(d), "processors"), "batch");
    assert_int_equal(kvs_cfg_check_keys(b, batch, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:4:5: processors.batch: unknown key \"send_batch_sise\" "
                                 "(did you mean \"send_batch_size\"?)");
    kvs_cfg_free(d);

    d = load_ok("processors:\n  batch:\n    zzz: 1\n");
    b = kvs_cfg_get(kvs_cfg_get(kvs_cfg_root(d), "processors"), "batch");
    assert_int_equal(kvs_cfg_check_keys(b, batch, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:3:5: processors.batch: unknown key \"zzz\" "
                                 "(expected one of: send_batch_size, send_batch_max_size, timeout)");
    static const char *const none[] = { NULL };
    assert_int_equal(kvs_cfg_check_keys(b, none, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:3:5: processors.batch: unknown key \"zzz\"");
    static const char *const ok[] = { "a", "zzz", NULL };
    assert_int_equal(kvs_cfg_check_keys(b, ok, &err), 0);
    assert_int_equal(kvs_cfg_check_keys(NULL, ok, &err), 0);
    /* A long list is not spelled out. */
    static const char *const many[] = { "aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccc",
                                        "dddddddddddddddddddddd", "eeeeeeeeeeeeeeeeeeeeee", "ffffffffffffffffffffff",
                                        "gggggggggggggggggggggg", "hhhhhhhhhhhhhhhhhhhhhh", NULL };
    assert_int_equal(kvs_cfg_check_keys(b, many, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:3:5: processors.batch: unknown key \"zzz\"");
    /* Top level: the message has no path. */
    static const char *const top[] = { "receivers", "processors", NULL };
    assert_int_equal(kvs_cfg_check_keys(kvs_cfg_root(d), top, &err), 0);
    kvs_cfg_free(d);
    d = load_ok("recievers: {}\n");
    assert_int_equal(kvs_cfg_check_keys(kvs_cfg_root(d), top, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:1:1: unknown key \"recievers\" (did you mean \"receivers\"?)");
    kvs_cfg_free(d);
    /* Not a map. */
    d = load_ok("batch: 5\n");
    assert_int_equal(kvs_cfg_check_keys(kvs_cfg_get(kvs_cfg_root(d), "batch"), batch, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:1:8: batch: expected a map, got \"5\"");
    kvs_cfg_free(d);
}

static void test_suggest(void **state)
{
    (void)state;
    static const char *const c[] = { "timeout", "endpoint", "send_batch_size", "id", NULL };
    assert_string_equal(kvs_cfg_suggest("timout", c), "timeout");
    assert_string_equal(kvs_cfg_suggest("tiemout", c), "timeout");   /* swap */
    assert_string_equal(kvs_cfg_suggest("endpont", c), "endpoint");
    assert_string_equal(kvs_cfg_suggest("endpoinT", c), "endpoint");
    assert_string_equal(kvs_cfg_suggest("send_batch_siz", c), "send_batch_size");
    assert_null(kvs_cfg_suggest("endp", c));    /* distance 4 */
    assert_null(kvs_cfg_suggest("x", c));       /* "id" would be 2 edits: too short */
    assert_null(kvs_cfg_suggest("timeout", NULL));
}

static void test_str_and_bool(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    const char *y = "s: hello\n"
                    "n: 42\n"
                    "q: \"true\"\n"
                    "t1: true\n"
                    "t2: True\n"
                    "t3: TRUE\n"
                    "f1: false\n"
                    "f2: False\n"
                    "f3: FALSE\n"
                    "yes: yes\n"
                    "tt: tRUE\n"
                    "one: 1\n"
                    "m: {a: 1}\n"
                    "nul:\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *r = kvs_cfg_root(d);
    const char *s;
    assert_int_equal(kvs_cfg_str(r, "s", NULL, &s, &err), 0);
    assert_string_equal(s, "hello");
    assert_int_equal(kvs_cfg_str(r, "n", NULL, &s, &err), 0);
    assert_string_equal(s, "42");
    assert_int_equal(kvs_cfg_str(r, "absent", "dflt", &s, &err), 0);
    assert_string_equal(s, "dflt");
    assert_int_equal(kvs_cfg_str(r, "nul", "dflt", &s, &err), 0);
    assert_string_equal(s, "dflt");
    assert_int_equal(kvs_cfg_str(r, "absent", NULL, &s, &err), 0);
    assert_null(s);

    int b = -1;
    const char *trues[] = { "t1", "t2", "t3" }, *falses[] = { "f1", "f2", "f3" };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kvs_cfg_bool(r, trues[i], 0, &b, &err), 0);
        assert_int_equal(b, 1);
        assert_int_equal(kvs_cfg_bool(r, falses[i], 1, &b, &err), 0);
        assert_int_equal(b, 0);
    }
    assert_int_equal(kvs_cfg_bool(r, "absent", 1, &b, &err), 0);
    assert_int_equal(b, 1);
    assert_int_equal(kvs_cfg_bool(r, "nul", 0, &b, &err), 0);
    assert_int_equal(b, 0);
    assert_int_equal(kvs_cfg_bool(r, "q", 0, &b, &err), KVS_E_INVALID);
    assert_string_equal(err.msg,
                        "pipeline.yaml:3:4: q: expected true or false, got a quoted string \"true\" (remove the quotes)");
    assert_int_equal(kvs_cfg_bool(r, "yes", 0, &b, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:10:6: yes: expected true or false, got \"yes\"");
    assert_int_equal(kvs_cfg_bool(r, "tt", 0, &b, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_bool(r, "one", 0, &b, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_bool(r, "m", 0, &b, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:13:4: m: expected true or false, got a map");
    kvs_cfg_free(d);
}

static void test_i64(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    const char *y = "a: 8192\n"
                    "neg: -5\n"
                    "hex: 0x1F\n"
                    "oct: 0o17\n"
                    "plus: +3\n"
                    "big: 9223372036854775807\n"
                    "min: -9223372036854775808\n"
                    "over: 9223372036854775808\n"
                    "q: \"10\"\n"
                    "qs: \"abc\"\n"
                    "f: 1.5\n"
                    "w: abc\n"
                    "l: [1]\n"
                    "e: ''\n"
                    "badhex: 0xZZ\n"
                    "sign: +\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *r = kvs_cfg_root(d);
    int64_t v;
    assert_int_equal(kvs_cfg_i64(r, "a", 0, 0, INT32_MAX, &v, &err), 0);
    assert_int_equal(v, 8192);
    assert_int_equal(kvs_cfg_i64(r, "neg", 0, -10, 10, &v, &err), 0);
    assert_int_equal(v, -5);
    assert_int_equal(kvs_cfg_i64(r, "hex", 0, 0, 100, &v, &err), 0);
    assert_int_equal(v, 31);
    assert_int_equal(kvs_cfg_i64(r, "oct", 0, 0, 100, &v, &err), 0);
    assert_int_equal(v, 15);
    assert_int_equal(kvs_cfg_i64(r, "plus", 0, 0, 100, &v, &err), 0);
    assert_int_equal(v, 3);
    assert_int_equal(kvs_cfg_i64(r, "big", 0, INT64_MIN, INT64_MAX, &v, &err), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(kvs_cfg_i64(r, "min", 0, INT64_MIN, INT64_MAX, &v, &err), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(kvs_cfg_i64(r, "absent", 77, 0, 100, &v, &err), 0);
    assert_int_equal(v, 77);

    assert_int_equal(kvs_cfg_i64(r, "over", 0, INT64_MIN, INT64_MAX, &v, &err), KVS_E_INVALID);
    assert_contains(err.msg, "pipeline.yaml:8:7: over: integer 9223372036854775808 does not fit in 64 bits");
    assert_int_equal(kvs_cfg_i64(r, "a", 0, 1, 100, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:1:4: a: must be between 1 and 100, got 8192");
    assert_int_equal(kvs_cfg_i64(r, "neg", 0, 0, INT64_MAX, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:2:6: neg: must be at least 0, got -5");
    assert_int_equal(kvs_cfg_i64(r, "a", 0, INT64_MIN, 10, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:1:4: a: must be at most 10, got 8192");
    assert_int_equal(kvs_cfg_i64(r, "q", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg,
                        "pipeline.yaml:9:4: q: expected an integer, got a quoted string \"10\" (remove the quotes)");
    assert_int_equal(kvs_cfg_i64(r, "qs", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:10:5: qs: expected an integer, got a quoted string \"abc\"");
    assert_int_equal(kvs_cfg_i64(r, "f", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:11:4: f: expected an integer, got \"1.5\"");
    assert_int_equal(kvs_cfg_i64(r, "w", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_i64(r, "l", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:13:4: l: expected an integer, got a sequence");
    assert_int_equal(kvs_cfg_i64(r, "e", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:14:4: e: expected an integer, got an empty quoted string");
    assert_int_equal(kvs_cfg_i64(r, "badhex", 0, 0, 100, &v, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_i64(r, "sign", 0, 0, 100, &v, &err), KVS_E_INVALID);
    kvs_cfg_free(d);
}

static void test_f64(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    const char *y = "a: 0.75\nb: 1e3\nc: -2\nd: abc\ne: .nan\nf: inf\ng: \"0.5\"\nh: 1e999\ni: .\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *r = kvs_cfg_root(d);
    double v;
    assert_int_equal(kvs_cfg_f64(r, "a", 0, 0, 1, &v, &err), 0);
    assert_true(v == 0.75);
    assert_int_equal(kvs_cfg_f64(r, "b", 0, 0, 1e6, &v, &err), 0);
    assert_true(v == 1000.0);
    assert_int_equal(kvs_cfg_f64(r, "c", 0, -5, 5, &v, &err), 0);
    assert_true(v == -2.0);
    assert_int_equal(kvs_cfg_f64(r, "absent", 0.25, 0, 1, &v, &err), 0);
    assert_true(v == 0.25);
    assert_int_equal(kvs_cfg_f64(r, "a", 0, 0.8, 1, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:1:4: a: must be between 0.8 and 1, got 0.75");
    assert_int_equal(kvs_cfg_f64(r, "d", 0, 0, 1, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:4:4: d: expected a number, got \"abc\"");
    assert_int_equal(kvs_cfg_f64(r, "e", 0, -1e300, 1e300, &v, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_f64(r, "f", 0, -1e300, 1e300, &v, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_f64(r, "g", 0, 0, 1, &v, &err), KVS_E_INVALID);
    assert_contains(err.msg, "(remove the quotes)");
    assert_int_equal(kvs_cfg_f64(r, "h", 0, 0, 1, &v, &err), KVS_E_INVALID);
    assert_int_equal(kvs_cfg_f64(r, "i", 0, 0, 1, &v, &err), KVS_E_INVALID);
    kvs_cfg_free(d);
}

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ns;
    } ok[] = {
        { "0", 0 },
        { "0s", 0 },
        { "+5s", 5000000000ull },
        { "200ms", 200000000ull },
        { "5s", 5000000000ull },
        { "1m30s", 90000000000ull },
        { "1h", 3600000000000ull },
        { "1.5s", 1500000000ull },
        { ".5s", 500000000ull },
        { "1.s", 1000000000ull },
        { "250us", 250000ull },
        { "250\xc2\xb5s", 250000ull },
        { "250\xce\xbcs", 250000ull },
        { "10ns", 10 },
        { "1h2m3s4ms5us6ns", 3723004005006ull },
        { "2.25h", 8100000000000ull },
        { "0.000000001s", 1 },
        { "18446744073s", 18446744073000000000ull },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 12345;
        if (kvs_parse_duration(ok[i].s, &v) != 0 || v != ok[i].ns) {
            print_error("%s: got %llu, want %llu\n", ok[i].s, (unsigned long long)v, (unsigned long long)ok[i].ns);
            fail();
        }
    }
    static const char *const bad[] = { "", "5", "1.5", "s", "5 s", "5sec", "-5s", "1d", "5s ", " 5s", ".s", "1..5s",
                                       "99999999999999999999ns", "18446744074s", "1e3s", "5S", NULL };
    for (size_t i = 0; bad[i]; i++) {
        uint64_t v;
        if (kvs_parse_duration(bad[i], &v) == 0) {
            print_error("\"%s\" parsed as %llu\n", bad[i], (unsigned long long)v);
            fail();
        }
    }
    uint64_t v;
    assert_int_not_equal(kvs_parse_duration(NULL, &v), 0);
}

static void test_cfg_duration(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    const char *y = "a: 200ms\nb: \"5s\"\nc: 0\nd: 30\ne: 5 sec\nf: -1s\ng: {x: 1}\nh: 1.5\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *r = kvs_cfg_root(d);
    uint64_t v;
    assert_int_equal(kvs_cfg_duration(r, "a", 0, &v, &err), 0);
    assert_true(v == 200000000ull);
    assert_int_equal(kvs_cfg_duration(r, "b", 0, &v, &err), 0);
    assert_true(v == 5000000000ull);
    assert_int_equal(kvs_cfg_duration(r, "c", 7, &v, &err), 0);
    assert_true(v == 0);
    assert_int_equal(kvs_cfg_duration(r, "absent", 7, &v, &err), 0);
    assert_true(v == 7);
    assert_int_equal(kvs_cfg_duration(r, "d", 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:4:4: d: duration needs a unit (e.g. 5s), got \"30\"");
    assert_int_equal(kvs_cfg_duration(r, "h", 0, &v, &err), KVS_E_INVALID);
    assert_contains(err.msg, "pipeline.yaml:8:4: h: duration needs a unit (e.g. 5s)");
    assert_int_equal(kvs_cfg_duration(r, "e", 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:5:4: e: invalid duration \"5 sec\" (expected e.g. 200ms, 5s, 1m30s, "
                                 "1h; units ns, us, ms, s, m, h)");
    assert_int_equal(kvs_cfg_duration(r, "f", 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:6:4: f: duration cannot be negative, got \"-1s\"");
    assert_int_equal(kvs_cfg_duration(r, "g", 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:7:4: g: expected a duration (e.g. 5s), got a map");
    kvs_cfg_free(d);
}

static void test_strlist(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    const char *y = "one: a.jsonl\nmany: [a, \"b\", c]\nnone: []\nnul:\nm: {a: 1}\nbad: [a, {b: 1}]\nbadn: [a, ~]\n";
    kvs_cfg_doc *d = load_ok(y);
    const kvs_cfg_node *r = kvs_cfg_root(d);
    const char **l = (const char **)1;
    size_t n = 99;
    assert_int_equal(kvs_cfg_strlist(r, "one", &l, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0], "a.jsonl");
    free(l);
    assert_int_equal(kvs_cfg_strlist(r, "many", &l, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(l[0], "a");
    assert_string_equal(l[1], "b");
    assert_string_equal(l[2], "c");
    free(l);
    assert_int_equal(kvs_cfg_strlist(r, "none", &l, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(kvs_cfg_strlist(r, "nul", &l, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kvs_cfg_strlist(r, "absent", &l, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(kvs_cfg_strlist(r, "m", &l, &n, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:5:4: m: expected a string or a list of strings, got a map");
    assert_null(l);
    assert_int_equal(kvs_cfg_strlist(r, "bad", &l, &n, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:6:10: bad[1]: expected a string, got a map");
    assert_int_equal(kvs_cfg_strlist(r, "badn", &l, &n, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:7:11: badn[1]: expected a string, got null");
    kvs_cfg_free(d);
}

static void test_enum(void **state)
{
    (void)state;
    static const char *const levels[] = { "basic", "normal", "detailed", NULL };
    kvs_error err = { 0 };
    kvs_cfg_doc *d = load_ok("a: normal\nb: \"detailed\"\nc: normall\nd: verbose\ne: [x]\n");
    const kvs_cfg_node *r = kvs_cfg_root(d);
    int v;
    assert_int_equal(kvs_cfg_enum(r, "a", levels, 0, &v, &err), 0);
    assert_int_equal(v, 1);
    assert_int_equal(kvs_cfg_enum(r, "b", levels, 0, &v, &err), 0);
    assert_int_equal(v, 2);
    assert_int_equal(kvs_cfg_enum(r, "absent", levels, 0, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kvs_cfg_enum(r, "c", levels, 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:3:4: c: must be one of basic, normal, detailed; got \"normall\" "
                                 "(did you mean \"normal\"?)");
    assert_int_equal(kvs_cfg_enum(r, "d", levels, 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:4:4: d: must be one of basic, normal, detailed; got \"verbose\"");
    assert_int_equal(kvs_cfg_enum(r, "e", levels, 0, &v, &err), KVS_E_INVALID);
    assert_string_equal(err.msg, "pipeline.yaml:5:4: e: must be one of basic, normal, detailed; got a sequence");
    kvs_cfg_free(d);
}

static void test_long_values_in_messages(void **state)
{
    (void)state;
    kvs_error err = { 0 };
    char y[2000];
    char longv[1200];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    snprintf(y, sizeof y, "a: %s\n", longv);
    kvs_cfg_doc *d = load_ok(y);
    int64_t v;
    assert_int_equal(kvs_cfg_i64(kvs_cfg_root(d), "a", 0, 0, 1, &v, &err), KVS_E_INVALID);
    assert_contains(err.msg, "pipeline.yaml:1:4: a: expected an integer, got \"xxxx");
    assert_contains(err.msg, "...\"");
    assert_true(strlen(err.msg) < 200);
    kvs_cfg_free(d);
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
        cmocka_unit_test(test_errorf_and_expect_map),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_str_and_bool),
        cmocka_unit_test(test_i64),
        cmocka_unit_test(test_f64),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_cfg_duration),
        cmocka_unit_test(test_strlist),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_long_values_in_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
