/* Lookup-hash JSONL rows on fixtures/evidence/lookup_hash: valid rows,
 * malformed lines (not JSON, not an object) reported, coercions of
 * seq_len / chunk_size, chunk hashes counted and never kept, rotation
 * config from the row and from a nested `config` object, the running
 * summary (models, chunk sizes, seq_len and hash-count statistics). */
#include "formats/lookup_hash.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *const hashes[] = {
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13",
};

/* No field of a row holds any of the fixture's hashes. */
static void no_hash(const kvs_lh_row *r)
{
    const unsigned char *p = (const unsigned char *)r;
    for (size_t h = 0; h < 3; h++)
        for (size_t i = 0; i + 16 <= sizeof *r; i++)
            if (memcmp(p + i, hashes[h], 16) == 0)
                fail_msg("row holds a raw chunk hash");
}

static void test_fixture(void **state)
{
    (void)state;
    char path[1024];
    const char *root = getenv("KVS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fixtures/evidence/lookup_hash/lookup_hashes_20260115T100000.jsonl",
             root ? root : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192], err[160];
    kvs_lh_summary s;
    kvs_lh_summary_init(&s);
    kvs_lh_row rows[8];
    size_t nrows = 0, blank = 0, lineno = 0, bad_lines[4], nbad = 0;
    char bad_err[4][160];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        kvs_lh_row r;
        int rc = kvs_lh_parse_line(line, strlen(line), &r, err, sizeof err);
        if (rc == 1) {
            blank++;
        } else if (rc < 0) {
            s.malformed++;
            bad_lines[nbad] = lineno;
            memcpy(bad_err[nbad++], err, sizeof err);
        } else {
            no_hash(&r);
            kvs_lh_summary_add(&s, &r);
            rows[nrows++] = r;
        }
    }
    fclose(f);
    assert_int_equal(s.rows, 4);
    assert_int_equal(s.malformed, 2);
    assert_int_equal(blank, 1);
    assert_int_equal(bad_lines[0], 3);
    assert_non_null(strstr(bad_err[0], "invalid JSON"));
    assert_int_equal(bad_lines[1], 4);
    assert_string_equal(bad_err[1], "expected object");

    assert_string_equal(rows[0].request_id, "cmpl-1");
    assert_string_equal(rows[0].model_name, "Qwen/Qwen3-8B");
    assert_int_equal(rows[0].chunk_hash_count, 2);
    assert_string_equal(rows[0].dtypes, "[\"torch.bfloat16\"]");
    assert_string_equal(rows[0].shapes, "[[2,36,256,1024]]");
    assert_true(rows[0].has_time);
    assert_true(rows[0].time_s > 1768471200.0 && rows[0].time_s < 1768471200.2);
    assert_string_equal(rows[0].config.log_dir, "/var/log/lmcache");
    assert_string_equal(rows[0].config.max_files, "5");
    assert_int_equal(rows[1].chunk_size, 256);    /* "256" */
    assert_int_equal(rows[1].seq_len, 768);       /* 768.9 truncated */
    assert_int_equal(rows[2].seq_len, 1024);      /* "1024" */
    assert_int_equal(rows[2].chunk_hash_count, 0);
    assert_false(rows[3].has_seq_len);            /* true is not a length */
    assert_false(rows[3].has_chunk_size);         /* "256.0" is not an integer string */
    assert_true(rows[3].has_chunk_hashes);
    assert_int_equal(rows[3].chunk_hash_count, 0);/* null */

    assert_int_equal(s.nmodels, 2);
    assert_int_equal(s.nchunk_sizes, 1);
    assert_int_equal(s.chunk_sizes[0], 256);
    assert_int_equal(s.seq_len.count, 3);
    assert_int_equal(s.seq_len.min, 512);
    assert_int_equal(s.seq_len.max, 1024);
    assert_int_equal(s.seq_len.total, 512 + 768 + 1024);
    assert_int_equal(s.chunk_hash_count.total, 3);
    assert_int_equal(s.chunk_hash_count.count, 4);
    assert_string_equal(s.config.log_dir, "/var/log/lmcache");
    assert_string_equal(s.config.rotation_interval, "1h");
    assert_string_equal(s.config.rotation_max_size, "104857600");
    assert_string_equal(s.config.max_files, "5");
    assert_true(s.first_time > 1768471200.0 && s.last_time == 1768471203.0);
}

static void test_edge_rows(void **state)
{
    (void)state;
    kvs_lh_row r;
    char err[160];
    const char *l = "{\"--lookup-hash-log-dir\": \"/d\", \"--lookup-hash-log-max-files\": 3, \"chunk_hashes\": \"x\"}";
    assert_int_equal(kvs_lh_parse_line(l, strlen(l), &r, err, sizeof err), 0);
    assert_string_equal(r.config.log_dir, "/d");
    assert_string_equal(r.config.max_files, "3");
    assert_int_equal(r.chunk_hash_count, 1);
    l = "{\"chunk_hashes\": {\"a\": 1, \"b\": 2}, \"seq_len\": \" 12 \", \"timestamp\": 1768471200123}";
    assert_int_equal(kvs_lh_parse_line(l, strlen(l), &r, err, sizeof err), 0);
    assert_int_equal(r.chunk_hash_count, 2);
    assert_int_equal(r.seq_len, 12);
    assert_true(r.time_s > 1768471200.0 && r.time_s < 1768471201.0);   /* milliseconds */
    l = "   \t ";
    assert_int_equal(kvs_lh_parse_line(l, strlen(l), &r, err, sizeof err), 1);
    l = "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}";
    assert_int_equal(kvs_lh_parse_line(l, strlen(l), &r, err, sizeof err), -1);
    l = "{\"seq_len\": 1e400, \"chunk_size\": -7}";
    assert_int_equal(kvs_lh_parse_line(l, strlen(l), &r, err, sizeof err), 0);
    assert_int_equal(r.chunk_size, -7);
    char big[2048];
    memset(big, 'a', sizeof big);
    int n = snprintf(big, sizeof big, "{\"model_name\": \"");
    memset(big + n, 'm', 1500);
    memcpy(big + n + 1500, "\"}", 3);
    assert_int_equal(kvs_lh_parse_line(big, strlen(big), &r, err, sizeof err), 0);
    assert_int_equal(strlen(r.model_name), sizeof r.model_name - 1);
    /* a summary keeps at most KVS_LH_MAX_SET models and counts the rest */
    kvs_lh_summary s;
    kvs_lh_summary_init(&s);
    for (int i = 0; i < KVS_LH_MAX_SET + 3; i++) {
        memset(&r, 0, sizeof r);
        snprintf(r.model_name, sizeof r.model_name, "m%d", i);
        r.has_chunk_size = 1;
        r.chunk_size = 1000 - i;
        kvs_lh_summary_add(&s, &r);
    }
    assert_int_equal(s.nmodels, KVS_LH_MAX_SET);
    assert_int_equal(s.more_models, 3);
    for (size_t i = 1; i < s.nchunk_sizes; i++)
        assert_true(s.chunk_sizes[i - 1] < s.chunk_sizes[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_edge_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
