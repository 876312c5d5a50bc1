/* Tests for the streaming Prometheus / OpenMetrics text parser
 * (formats/prom_text.h), what it reads: every family type in both formats,
 * escapes, number syntax and NaN/Inf, timestamps, exemplars, _created,
 * # EOF strictness, OpenMetrics' strict rules, and sniffing the format.
 * Lenient and malformed input, chunking, the fixtures and bounded memory:
 * test_prom_text_robustness.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "formats/prom_text.h"
#include "prom_text_recorder.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- family types, Prometheus 0.0.4 ---- */

static void test_prom_counter_and_created_family(void **state)
{
    (void)state;
    /* prometheus_client 0.0.4: counter family keeps _total, _created is a
     * gauge family of its own that follows it */
    char *out = run_s("# HELP req_total Requests.\n"
                      "# TYPE req_total counter\n"
                      "req_total{code=\"200\"} 1027\n"
                      "# HELP req_created Requests.\n"
                      "# TYPE req_created gauge\n"
                      "req_created{code=\"200\"} 1.7e9\n"
                      "# TYPE up gauge\n"
                      "up 1\n",
                      KVS_PROM_MODE_PROMETHEUS, NULL);
    HAS(out, "F req_total counter help=Requests.\n");
    HAS(out, "S 3 req_total{code=\"200\"} 1027 fam=req_total counter sfx=_total\n");
    HAS(out, "S 6 req_created{code=\"200\"} 1700000000 fam=req_total counter sfx=_created created\n");
    HASNT(out, "F req_created");
    HAS(out, "F up gauge\nS 8 up{} 1 fam=up gauge\n");
    free(out);
}

static void test_prom_histogram_summary_untyped(void **state)
{
    (void)state;
    char *out = run_s("# TYPE lat histogram\n"
                      "lat_sum{m=\"a\"} 2.5\n"
                      "lat_bucket{m=\"a\",le=\"0.1\"} 1\n"
                      "lat_bucket{m=\"a\",le=\"+Inf\"} 3\n"
                      "lat_count{m=\"a\"} 3\n"
                      "# TYPE rpc summary\n"
                      "rpc{quantile=\"0.5\"} 0.05\n"
                      "rpc_sum 17\n"
                      "rpc_count 300\n"
                      "# TYPE u untyped\n"
                      "u 4\n"
                      "plain 5\n",
                      KVS_PROM_MODE_PROMETHEUS, NULL);
    HAS(out, "S 2 lat_sum{m=\"a\"} 2.5 fam=lat histogram sfx=_sum\n");
    HAS(out, "S 3 lat_bucket{m=\"a\",le=\"0.1\"} 1 fam=lat histogram sfx=_bucket\n");
    HAS(out, "S 5 lat_count{m=\"a\"} 3 fam=lat histogram sfx=_count\n");
    HAS(out, "S 7 rpc{quantile=\"0.5\"} 0.050000000000000003 fam=rpc summary\n");
    HAS(out, "S 8 rpc_sum{} 17 fam=rpc summary sfx=_sum\n");
    HAS(out, "S 11 u{} 4 fam=u untyped\n");
    HAS(out, "F plain untyped\nS 12 plain{} 5 fam=plain untyped\n");
    free(out);
}

/* ---- family types, OpenMetrics ---- */

static void test_om_all_types(void **state)
{
    (void)state;
    kvs_prom_stats st;
    char *out = run_s("# TYPE c counter\n"
                      "# UNIT c seconds\n"
                      "c_total 17 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602\n"
                      "c_created 1520872607.123\n"
                      "# TYPE g gauge\n"
                      "g 1.5\n"
                      "# TYPE h histogram\n"
                      "h_bucket{le=\"1\"} 0 # {a=\"b\"} 0.5\n"
                      "h_bucket{le=\"+Inf\"} 2\n"
                      "h_count 2\n"
                      "h_sum 3\n"
                      "h_created 1.5e9\n"
                      "# TYPE gh gaugehistogram\n"
                      "gh_bucket{le=\"+Inf\"} 4\n"
                      "gh_gcount 4\n"
                      "gh_gsum 8\n"
                      "# TYPE s summary\n"
                      "s{quantile=\"0.9\"} 3\n"
                      "s_count 10\n"
                      "s_sum 30\n"
                      "# TYPE i info\n"
                      "i_info{version=\"1\"} 1\n"
                      "# TYPE st stateset\n"
                      "st{st=\"a\"} 1\n"
                      "st{st=\"b\"} 0\n"
                      "# TYPE x unknown\n"
                      "x 3\n"
                      "# EOF\n",
                      KVS_PROM_MODE_AUTO, &st);
    HAS(out, "F c counter unit=seconds om\n");
    HAS(out, "S 3 c_total{} 17 fam=c counter sfx=_total ts=1520879607789000000 "
             "ex={trace_id=\"KOO5S4vxi0o\"}:0.67000000000000004@1520879602000000000\n");
    HAS(out, "S 4 c_created{} 1520872607.1229999 fam=c counter sfx=_created created\n");
    HAS(out, "S 6 g{} 1.5 fam=g gauge\n");
    HAS(out, "S 8 h_bucket{le=\"1\"} 0 fam=h histogram sfx=_bucket ex={a=\"b\"}:0.5\n");
    HAS(out, "S 12 h_created{} 1500000000 fam=h histogram sfx=_created created\n");
    HAS(out, "S 14 gh_bucket{le=\"+Inf\"} 4 fam=gh gaugehistogram sfx=_bucket\n");
    HAS(out, "S 15 gh_gcount{} 4 fam=gh gaugehistogram sfx=_gcount\n");
    HAS(out, "S 16 gh_gsum{} 8 fam=gh gaugehistogram sfx=_gsum\n");
    HAS(out, "S 18 s{quantile=\"0.9\"} 3 fam=s summary\n");
    HAS(out, "S 22 i_info{version=\"1\"} 1 fam=i info sfx=_info\n");
    HAS(out, "S 24 st{st=\"a\"} 1 fam=st stateset\n");
    HAS(out, "S 27 x{} 3 fam=x unknown\n");
    assert_int_equal(st.rejected, 0);
    assert_true(st.openmetrics);
    assert_true(st.eof_seen);
    assert_int_equal(st.samples, 18);
    free(out);
}

/* ---- values, escapes, timestamps ---- */

static void test_escapes(void **state)
{
    (void)state;
    char *out = run_s("# HELP e Help with \\\\ and \\n newline.\n"
                      "e{a=\"back\\\\slash\",b=\"q\\\"uote\",c=\"new\\nline\",d=\"\"} 1\n"
                      "e{a=\"keep \\t unknown\"} 2\n",
                      KVS_PROM_MODE_PROMETHEUS, NULL);
    HAS(out, "F e untyped help=Help with \\ and \n newline.\n");
    HAS(out, "e{a=\"back\\slash\",b=\"q\"uote\",c=\"new\nline\",d=\"\"} 1");
    HAS(out, "e{a=\"keep \\t unknown\"} 2");
    free(out);
    /* strict: unknown escapes are errors */
    out = run_s("e{a=\"\\t\"} 1\n# EOF\n", KVS_PROM_MODE_OPENMETRICS, NULL);
    HAS(out, "R 1:6 invalid escape sequence");
    free(out);
}

static void test_special_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double v;
    } ok[] = {
        {"0", 0},      {"-0", -0.0},  {"1", 1},       {"+1", 1},     {"-1.5", -1.5}, {".5", 0.5},
        {"5.", 5},     {"1e3", 1000}, {"1E-3", 1e-3}, {"1.5e+2", 150}, {"123456789012345678", 123456789012345678.0},
        {"0.1", 0.1},  {"7.557572e+06", 7557572}, {"2.3518979474117756e+06", 2.3518979474117756e+06},
        {"1e-400", 0}, {"12345678901234567890123", 12345678901234567890123.0},
        {"0.00000000000000000000000001", 1e-26},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double d;
        assert_int_equal(kvs_prom_parse_float(ok[i].text, strlen(ok[i].text), &d), 0);
        if (d != ok[i].v || signbit(d) != signbit(ok[i].v))
            fail_msg("%s parsed as %.17g", ok[i].text, d);
    }
    static const char *const inf[] = {"+Inf", "Inf", "inf", "INF", "+infinity", "Infinity"};
    for (size_t i = 0; i < sizeof inf / sizeof *inf; i++) {
        double d;
        assert_int_equal(kvs_prom_parse_float(inf[i], strlen(inf[i]), &d), 0);
        assert_true(isinf(d) && d > 0);
    }
    double d;
    assert_int_equal(kvs_prom_parse_float("-Inf", 4, &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(kvs_prom_parse_float("NaN", 3, &d), 0);
    assert_true(isnan(d));
    assert_int_equal(kvs_prom_parse_float("nan", 3, &d), 0);
    static const char *const bad[] = {"", "+", "-", ".", "e3", "1e", "1e+", "1..2", "0x10", "1_000", "+NaN",
                                      "Infx", "1.5.", "--1", "1e3e4", "NaNa", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (kvs_prom_parse_float(bad[i], strlen(bad[i]), &d) == 0)
            fail_msg("%s should not parse", bad[i]);
    /* the fast path agrees with strtod on many decimals */
    char buf[64];
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int e = (int)(x % 40) - 20;
        snprintf(buf, sizeof buf, "%llu.%llue%d", (unsigned long long)(x >> 44),
                 (unsigned long long)((x >> 20) % 100000), e);
        if (i & 1)
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)(x >> (x % 50)));
        double want = strtod(buf, NULL);
        assert_int_equal(kvs_prom_parse_float(buf, strlen(buf), &d), 0);
        if (d != want)
            fail_msg("%s: %.17g != strtod %.17g", buf, d, want);
    }
    char *out = run_s("a NaN\nb +Inf\nc -Inf\n", KVS_PROM_MODE_PROMETHEUS, NULL);
    HAS(out, "S 1 a{} nan");
    HAS(out, "S 2 b{} inf");
    HAS(out, "S 3 c{} -inf");
    free(out);
}

static void test_timestamps(void **state)
{
    (void)state;
    kvs_prom_stats st;
    char *out = run_s("a 1 1700000000123\nb 2 -5\nc 3 99999999999999999999\nd 4 1.5\n", KVS_PROM_MODE_PROMETHEUS, &st);
    HAS(out, "S 1 a{} 1 fam=a untyped ts=1700000000123000000\n");
    HAS(out, "S 2 b{} 2 fam=b untyped ts=-5000000\n");
    HAS(out, "R 3:5 timestamp out of range [c 3 99999999999999999999]\n");
    HAS(out, "R 4:5 timestamp must be integer milliseconds [d 4 1.5]\n");
    assert_int_equal(st.rejected, 2);
    free(out);
    out = run_s("a_total 1 1520879607.789123456789\nb 2 1520879607\nc 3 1.5e9\nd 4 abc\n# EOF\n",
                KVS_PROM_MODE_OPENMETRICS, &st);
    HAS(out, "S 1 a_total{} 1 fam=a_total unknown ts=1520879607789123456\n");
    HAS(out, "S 2 b{} 2 fam=b unknown ts=1520879607000000000\n");
    HAS(out, "S 3 c{} 3 fam=c unknown ts=1500000000000000000\n");
    HAS(out, "R 4:5 invalid timestamp [d 4 abc]\n");
    free(out);
}

static void test_created_never_populated(void **state)
{
    (void)state;
    /* OpenMetrics in-family, 0.0.4 companion family, and an orphan */
    char *out = run_s("# TYPE a counter\na_total 0\na_created 1.7e9\n"
                      "# TYPE b_total counter\nb_total 0\n# TYPE b_created gauge\nb_created 1.7e9\n"
                      "# TYPE h histogram\nh_count 0\nh_sum 0\nh_created 1.7e9\n"
                      "zzz_created 1.7e9\n",
                      KVS_PROM_MODE_AUTO, NULL);
    HAS(out, "a_created{} 1700000000 fam=a counter sfx=_created created\n");
    HAS(out, "b_created{} 1700000000 fam=b_total counter sfx=_created created\n");
    HAS(out, "h_created{} 1700000000 fam=h histogram sfx=_created created\n");
    HAS(out, "zzz_created{} 1700000000 fam=zzz_created untyped sfx=_created created\n");
    free(out);
}

/* ---- OpenMetrics strictness and sniffing ---- */

static void test_eof_strictness(void **state)
{
    (void)state;
    kvs_prom_stats st;
    char *out = run_s("# TYPE a gauge\na 1\n", KVS_PROM_MODE_OPENMETRICS, &st);
    HAS(out, "S 2 a{} 1");
    HAS(out, "R 3:1 missing # EOF at end of OpenMetrics exposition []\n");
    assert_false(st.eof_seen);
    free(out);
    out = run_s("a 1\n# EOF\nb 2\n\n", KVS_PROM_MODE_OPENMETRICS, &st);
    HAS(out, "R 3:1 content after # EOF [b 2]\n");
    HAS(out, "R 4:1 empty line []\n");
    HASNT(out, "S 3");
    free(out);
    /* EOF without trailing newline is fine */
    out = run_s("a 1\n# EOF", KVS_PROM_MODE_OPENMETRICS, &st);
    assert_int_equal(st.rejected, 0);
    assert_true(st.eof_seen);
    free(out);
    /* lenient: concatenated expositions continue after # EOF */
    out = run_s("a 1\n# EOF\nb 2\n", KVS_PROM_MODE_AUTO, &st);
    HAS(out, "S 3 b{} 2");
    assert_int_equal(st.rejected, 0);
    assert_false(st.eof_seen);
    free(out);
}

static void test_om_strict_rules(void **state)
{
    (void)state;
    kvs_prom_stats st;
    char *out = run_s("# TYPE c counter\n"
                      "c 1\n"                        /* 2: no _total */
                      "c_total 1\n"                  /* 3: fine */
                      "c_total -1\n"                  /* 4: negative counter */
                      "c_total 5 \n"                  /* 5: trailing space */
                      "c_total{a=\"b\",} 5\n"         /* 6: trailing comma */
                      "# HELP c late\n"               /* 7: metadata after samples */
                      "# TYPE h histogram\n"
                      "h_bucket 1\n"                  /* 9: no le */
                      "h 1\n"                         /* 10: no suffix */
                      "# TYPE g gauge\n"
                      "g 1 # {a=\"b\"} 1\n"           /* 12: exemplar on a gauge */
                      "g  1\n"                        /* 13: two spaces */
                      "# a comment\n"                 /* 14 */
                      "# TYPE u untyped\n"            /* 15 */
                      "# UNIT g_bytes seconds\n"      /* 16 */
                      "x{\"dotted.name\"=\"v\"} 1\n"  /* 17 */
                      "# TYPE c2 counter\n"           /* 18 */
                      "c2_total 2\r\n"                /* 19 */
                      "c2_total 3\n"                  /* 20: fine */
                      "# EOF\n",
                      KVS_PROM_MODE_OPENMETRICS, &st);
    HAS(out, "R 2:1 counter sample must end in _total");
    HAS(out, "S 3 c_total{} 1 fam=c counter sfx=_total\n");
    HAS(out, "R 4:1 counter value must be a non-negative number");
    HAS(out, "R 5:10 trailing whitespace");
    HAS(out, "R 6:15 trailing comma in label set");
    HAS(out, "R 7:8 metadata after samples of its family");
    HAS(out, "R 9:1 bucket without le label");
    HAS(out, "R 10:1 sample name has no valid suffix for its family type");
    HAS(out, "R 12:1 exemplars are allowed only on counter _total and histogram _bucket samples");
    HAS(out, "R 13:2 invalid character after metric name or labels");
    HAS(out, "R 14:3 unknown descriptor (comments are not OpenMetrics)");
    HAS(out, "R 15:10 type untyped is not OpenMetrics (use unknown)");
    HAS(out, "R 16:16 metric name must end with _<unit>");
    HAS(out, "R 17:3 quoted label names are not OpenMetrics 1.0");
    HAS(out, "R 19:11 carriage return before end of line");
    HAS(out, "S 20 c2_total{} 3 fam=c2 counter sfx=_total\n");
    assert_int_equal(st.rejected, 14);
    free(out);
    /* duplicate metadata */
    out = run_s("# TYPE a gauge\n# TYPE a gauge\n# HELP a x\n# HELP a y\n# UNIT a_b b\n# EOF\n",
                KVS_PROM_MODE_OPENMETRICS, &st);
    HAS(out, "R 2:3 duplicate # TYPE");
    HAS(out, "R 4:3 duplicate # HELP");
    free(out);
}

static void test_sniffing(void **state)
{
    (void)state;
    kvs_prom_stats st;
    /* plain 0.0.4: no OpenMetrics, timestamps in ms */
    char *out = run_s("a 1 1000\n", KVS_PROM_MODE_AUTO, &st);
    assert_false(st.openmetrics);
    HAS(out, "ts=1000000000\n");
    free(out);
    /* # UNIT switches; later timestamps are seconds */
    out = run_s("# UNIT a_s s\na 1 1000\n", KVS_PROM_MODE_AUTO, &st);
    assert_true(st.openmetrics);
    HAS(out, "ts=1000000000000\n");
    free(out);
    /* an exemplar switches, on its own line already */
    out = run_s("a_total 1 1000 # {t=\"x\"} 1\n", KVS_PROM_MODE_AUTO, &st);
    assert_true(st.openmetrics);
    HAS(out, "ts=1000000000000 ex=");
    free(out);
    /* # EOF switches (seen at the end) */
    out = run_s("a 1\n# EOF\n", KVS_PROM_MODE_AUTO, &st);
    assert_true(st.openmetrics);
    assert_true(st.eof_seen);
    free(out);
    /* an OpenMetrics-only type switches */
    out = run_s("# TYPE a info\na_info 1\n", KVS_PROM_MODE_AUTO, &st);
    assert_true(st.openmetrics);
    free(out);
    /* a fractional timestamp switches */
    out = run_s("a 1 1.5\n", KVS_PROM_MODE_AUTO, &st);
    assert_true(st.openmetrics);
    HAS(out, "ts=1500000000\n");
    free(out);
    /* Content-Type picks OpenMetrics up front */
    const char *t = "a 1 1000\n";
    out = run(t, strlen(t), KVS_PROM_MODE_AUTO, "application/openmetrics-text; version=1.0.0; charset=utf-8", 0, &st);
    assert_true(st.openmetrics);
    HAS(out, "ts=1000000000000\n");
    free(out);
    /* text/plain pins 0.0.4: a fractional timestamp is then an error */
    t = "# UNIT a_s s\na 1 1.5\n";
    out = run(t, strlen(t), KVS_PROM_MODE_AUTO, "text/plain; version=0.0.4", 0, &st);
    assert_false(st.openmetrics);
    HAS(out, "R 2:5 timestamp must be integer milliseconds");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_counter_and_created_family),
        cmocka_unit_test(test_prom_histogram_summary_untyped),
        cmocka_unit_test(test_om_all_types),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_created_never_populated),
        cmocka_unit_test(test_eof_strictness),
        cmocka_unit_test(test_om_strict_rules),
        cmocka_unit_test(test_sniffing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
