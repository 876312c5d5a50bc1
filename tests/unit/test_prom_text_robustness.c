/* Tests for the streaming Prometheus / OpenMetrics text parser
 * (formats/prom_text.h), how it copes: lenient cases, malformed lines
 * (reported with line and reason, the good lines around them kept), lines
 * past max_line, a callback stopping the parse, reset, chunking invariance
 * for chunk sizes 1..64, the fixtures, and bounded memory on a 100 MB
 * exposition. The syntax itself: test_prom_text_syntax.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "formats/prom_text.h"
#include "prom_text_recorder.h"
#include "unit_helpers.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count_lines(const char *out, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *l = out; *l;) {
        if (strncmp(l, prefix, pl) == 0)
            n++;
        const char *nl = strchr(l, '\n');
        if (!nl)
            break;
        l = nl + 1;
    }
    return n;
}

/* ---- lenient cases and malformed lines ---- */

static void test_lenient(void **state)
{
    (void)state;
    kvs_prom_stats st;
    char *out = run_s("\r\n"
                      "a 1   \r\n"                     /* trailing spaces, CRLF */
                      "\n"
                      "b{x=\"1\",} 2\n"                /* trailing comma */
                      "c 3\n"
                      "# TYPE c gauge\n"               /* TYPE after samples */
                      "c 4\n"
                      "# HELP d one\n"
                      "# HELP d two\n"                 /* duplicate HELP: last wins */
                      "d 5\n"
                      "   e { y = \"2\" }   6  \n"     /* blanks everywhere */
                      "lmcache_mp.sm_read_requests 7\n" /* dotted name */
                      "{\"lmcache_mp.l1_read\",cache_salt=\"s\"} 8\n" /* quoted name */
                      "f{\"my.label\"=\"v\"} 9\n"
                      "# random comment\n"
                      "#\n",
                      KVS_PROM_MODE_AUTO, &st);
    assert_int_equal(st.rejected, 0);
    HAS(out, "S 2 a{} 1 fam=a untyped\n");
    HAS(out, "S 4 b{x=\"1\"} 2 fam=b untyped\n");
    HAS(out, "F c untyped\nS 5 c{} 3 fam=c untyped\nF c gauge\nS 7 c{} 4 fam=c gauge\n");
    HAS(out, "F d untyped help=two\nS 10 d{} 5");
    HAS(out, "S 11 e{y=\"2\"} 6 fam=e untyped\n");
    HAS(out, "S 12 lmcache_mp.sm_read_requests{} 7");
    HAS(out, "S 13 lmcache_mp.l1_read{cache_salt=\"s\"} 8 fam=lmcache_mp.l1_read untyped\n");
    HAS(out, "S 14 f{my.label=\"v\"} 9");
    assert_int_equal(st.samples, 9);
    free(out);
}

static void test_malformed_lines_reported_and_skipped(void **state)
{
    (void)state;
    kvs_prom_stats st;
    char *out = run_s("good1 1\n"
                      "bad{a=1} 2\n"
                      "good2 2\n"
                      "bad{a=\"x\" 3\n"
                      "bad{a=\"x\"} notanumber\n"
                      "bad\n"
                      "9bad 1\n"
                      "bad{a=\"x\",a=\"y\"} 1\n"
                      "bad{a=\"unterminated} 1\n"
                      "bad 1 2 3\n"
                      "# TYPE bad nosuchtype\n"
                      "# TYPE\n"
                      "bad{=\"x\"} 1\n"
                      "good3{a=\"x\"} 3\n",
                      KVS_PROM_MODE_PROMETHEUS, &st);
    HAS(out, "S 1 good1{} 1");
    HAS(out, "R 2:7 expected '\"' to open label value [bad{a=1} 2]\n");
    HAS(out, "S 3 good2{} 2");
    HAS(out, "R 4:11 expected ',' or '}' in label set");
    HAS(out, "R 5:12 invalid value");
    HAS(out, "R 6:4 missing value [bad]\n");
    HAS(out, "R 7:1 invalid metric name");
    HAS(out, "R 8:1 duplicate label name");
    HAS(out, "R 9:23 unterminated quoted string");
    HAS(out, "R 10:9 unexpected text after timestamp");
    HAS(out, "R 11:12 unknown metric type");
    HAS(out, "R 12:7 invalid or missing metric name in descriptor");
    HAS(out, "R 13:5 invalid label name");
    HAS(out, "S 14 good3{a=\"x\"} 3");
    assert_int_equal(st.rejected, 11);
    assert_int_equal(st.samples, 3);
    assert_int_equal(st.lines, 14);
    free(out);
}

static void test_long_line_and_abort(void **state)
{
    (void)state;
    /* a line past max_line is rejected, whatever the chunking */
    char *text = malloc(5000);
    assert_non_null(text);
    strcpy(text, "a 1\nlong{v=\"");
    size_t n = strlen(text);
    memset(text + n, 'x', 3000);
    n += 3000;
    strcpy(text + n, "\"} 1\nb 2\n");
    n += strlen(text + n);
    for (size_t chunk = 0; chunk < 70; chunk += 7) {
        struct rec r = {0};
        kvs_prom_options o = {.max_line = 1024};
        kvs_prom_handler h = {on_family, on_sample, on_reject, &r};
        kvs_prom_parser *p = kvs_prom_new(&o, &h);
        size_t c = chunk ? chunk : n;
        for (size_t i = 0; i < n; i += c)
            assert_int_equal(kvs_prom_feed(p, text + i, n - i < c ? n - i : c), 0);
        assert_int_equal(kvs_prom_finish(p), 0);
        assert_true(kvs_prom_get_stats(p)->mem_peak < 8 * 1024);
        kvs_prom_free(p);
        kvs_buf_putc(&r.out, 0);
        HAS(r.out.data, "R 2:1025 line longer than max_line");
        HAS(r.out.data, "S 1 a{} 1");
        HAS(r.out.data, "S 3 b{} 2");
        kvs_buf_free(&r.out);
    }
    free(text);
    /* a callback's non-zero return stops parsing and is returned */
    struct rec r = {.abort_at_sample = 2};
    kvs_prom_handler h = {on_family, on_sample, on_reject, &r};
    kvs_prom_parser *p = kvs_prom_new(NULL, &h);
    assert_int_equal(kvs_prom_feed(p, "a 1\nb 2\nc 3\n", 12), 99);
    assert_int_equal(kvs_prom_feed(p, "d 4\n", 4), 99);
    assert_int_equal(kvs_prom_finish(p), 99);
    kvs_prom_free(p);
    kvs_buf_putc(&r.out, 0);
    HASNT(r.out.data, "c{}");
    kvs_buf_free(&r.out);
    /* reset makes a parser reusable */
    r = (struct rec){0};
    h.ctx = &r;
    p = kvs_prom_new(NULL, &h);
    assert_int_equal(kvs_prom_feed(p, "a 1\n# EOF\n", 10), 0);
    assert_int_equal(kvs_prom_finish(p), 0);
    kvs_prom_reset(p);
    assert_int_equal(kvs_prom_feed(p, "b 2 1000", 8), 0);
    assert_int_equal(kvs_prom_finish(p), 0);
    assert_false(kvs_prom_get_stats(p)->openmetrics);
    kvs_prom_free(p);
    kvs_buf_putc(&r.out, 0);
    HAS(r.out.data, "S 1 b{} 2 fam=b untyped ts=1000000000\n");
    kvs_buf_free(&r.out);
}

/* ---- chunking ---- */

static void check_chunking(const char *text, size_t len, kvs_prom_mode mode)
{
    char *whole = run(text, len, mode, NULL, 0, NULL);
    for (size_t c = 1; c <= 64; c++) {
        char *part = run(text, len, mode, NULL, c, NULL);
        if (strcmp(whole, part) != 0)
            fail_msg("chunk size %zu differs", c);
        free(part);
    }
    free(whole);
}

static void test_chunking_invariance(void **state)
{
    (void)state;
    const char *tricky = "# HELP a x\\ny\r\n# TYPE a counter\r\na_total{l=\"v\\\"w\",m=\"\\n\"} 1 1000\r\n"
                         "a_created 1.5e9\n\nbad{ 1\n{\"q.name\"} 2\n"
                         "h_bucket{le=\"1\"} 1 # {trace_id=\"ab\"} 1 1.5\n# EOF\nlast 3";
    check_chunking(tricky, strlen(tricky), KVS_PROM_MODE_AUTO);
    check_chunking(tricky, strlen(tricky), KVS_PROM_MODE_OPENMETRICS);
    static const char *const fx[] = {"fixtures/prom/lmcache_mp.prom", "fixtures/prom/vllm_embedded_lmcache.prom",
                                     "fixtures/prom/sglang.prom", "fixtures/prom/openmetrics_sample.txt"};
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        char *t = slurp(src(fx[i]), &n);
        check_chunking(t, n, KVS_PROM_MODE_AUTO);
        free(t);
    }
}

/* ---- fixtures ---- */

static void test_fixtures(void **state)
{
    (void)state;
    size_t n;
    kvs_prom_stats st;
    char *t = slurp(src("fixtures/prom/lmcache_mp.prom"), &n);
    char *out = run(t, n, KVS_PROM_MODE_AUTO, NULL, 0, &st);
    assert_int_equal(st.rejected, 0);
    assert_false(st.openmetrics);
    HAS(out, "S 3 target_info{service_instance_id=\"mp-0a1b2c3d\"");
    HAS(out, "lmcache_mp_l1_read_chunks_total{cache_salt=\"\",otel_scope_name=\"lmcache.l1\",otel_scope_version=\"\"} "
             "18432 fam=lmcache_mp_l1_read_chunks_total counter sfx=_total\n");
    HAS(out, "fam=lmcache_mp_l0_l1_load_throughput_gbs_GB_per_second histogram sfx=_bucket\n");
    assert_int_equal(count_lines(out, "R "), 0);
    free(out);
    free(t);

    t = slurp(src("fixtures/prom/vllm_embedded_lmcache.prom"), &n);
    out = run(t, n, KVS_PROM_MODE_AUTO, NULL, 0, &st);
    assert_int_equal(st.rejected, 0);
    HAS(out, "vllm:prefix_cache_hits_created{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} "
             "1747900000.1229999 fam=vllm:prefix_cache_hits_total counter sfx=_created created\n");
    HAS(out, "lmcache:time_to_retrieve_created{");
    HASNT(out, "F vllm:prefix_cache_hits_created");
    free(out);
    free(t);

    t = slurp(src("fixtures/prom/sglang.prom"), &n);
    out = run(t, n, KVS_PROM_MODE_AUTO, NULL, 0, &st);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(st.samples, 29);
    free(out);
    free(t);

    t = slurp(src("fixtures/prom/openmetrics_sample.txt"), &n);
    out = run(t, n, KVS_PROM_MODE_OPENMETRICS, NULL, 0, &st);
    assert_int_equal(st.rejected, 0);
    assert_true(st.eof_seen);
    HAS(out, "F lmcache_mp_l1_read_chunks counter help=Number of chunks read from L1. unit=chunks om\n");
    free(out);
    free(t);
}

/* ---- 100 MB with bounded memory ---- */

struct gen {
    char buf[1 << 16];
    size_t len;
    unsigned long i;
};

/* An LMCache/vLLM-shaped exposition, produced one chunk at a time. */
static size_t gen_chunk(struct gen *g)
{
    g->len = 0;
    while (g->len + 512 < sizeof g->buf) {
        unsigned long i = g->i++;
        int n;
        switch (i % 8) {
        case 0:
            n = snprintf(g->buf + g->len, 512, "# HELP lmcache_mp_l1_read_chunks_total Chunks read\n"
                                               "# TYPE lmcache_mp_l1_read_chunks_total counter\n");
            break;
        case 1: case 2:
            n = snprintf(g->buf + g->len, 512,
                         "lmcache_mp_l1_read_chunks_total{cache_salt=\"tenant-%lu\",model_name=\"meta-llama/Llama-3.1-8B\"} %lu\n",
                         i % 97, i);
            break;
        case 3:
            n = snprintf(g->buf + g->len, 512, "# TYPE vllm:time_to_first_token_seconds histogram\n");
            break;
        case 4: case 5:
            n = snprintf(g->buf + g->len, 512,
                         "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"%lu.5\",model_name=\"llama\"} %lu\n",
                         i % 13, i);
            break;
        case 6:
            n = snprintf(g->buf + g->len, 512, "vllm:time_to_first_token_seconds_sum{engine=\"0\",model_name=\"llama\"} %lu.25\n", i);
            break;
        default:
            n = snprintf(g->buf + g->len, 512, "lmcache:retrieve_hit_rate{worker_id=\"%lu\"} 0.%lu\n", i % 8, i % 1000);
            break;
        }
        g->len += (size_t)n;
    }
    return g->len;
}

static int count_sample(void *ctx, const kvs_prom_sample *s)
{
    (void)s;
    (*(unsigned long *)ctx)++;
    return 0;
}

static int fail_reject(void *ctx, const kvs_prom_reject *r)
{
    (void)ctx;
    fail_msg("unexpected reject at line %lu: %s", r->line, r->reason);
    return 1;
}

static void test_100mb_bounded_memory(void **state)
{
    (void)state;
    unsigned long samples = 0;
    kvs_prom_handler h = {.sample = count_sample, .reject = fail_reject, .ctx = &samples};
    kvs_prom_parser *p = kvs_prom_new(NULL, &h);
    assert_non_null(p);
    struct gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    unsigned long long fed = 0;
    size_t peak_after_warmup = 0;
    while (fed < 100ull << 20) {
        size_t n = gen_chunk(g);
        /* feed with an odd split so lines straddle feeds */
        assert_int_equal(kvs_prom_feed(p, g->buf, 1000), 0);
        assert_int_equal(kvs_prom_feed(p, g->buf + 1000, n - 1000), 0);
        fed += n;
        if (fed < (1u << 20))
            peak_after_warmup = kvs_prom_get_stats(p)->mem_peak;
    }
    assert_int_equal(kvs_prom_finish(p), 0);
    const kvs_prom_stats *st = kvs_prom_get_stats(p);
    assert_int_equal(st->bytes, fed);
    assert_int_equal(st->samples, samples);
    assert_true(samples > 900000);
    /* the parser holds a few KiB, and nothing more after the first MB */
    assert_true(st->mem_peak < 16 * 1024);
    assert_int_equal(st->mem_peak, peak_after_warmup);
    kvs_prom_free(p);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_malformed_lines_reported_and_skipped),
        cmocka_unit_test(test_long_line_and_abort),
        cmocka_unit_test(test_chunking_invariance),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_100mb_bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
