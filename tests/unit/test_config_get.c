/* Unit tests of the configuration's typed accessors (core/config_get.c):
 * errors at a node, expect_map, unknown keys with "did you mean", and every
 * accessor (string, bool, integer, float, duration, string list, enum)
 * with defaults, range errors and bounded messages. The loader itself:
 * test_config_load.c. */
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
