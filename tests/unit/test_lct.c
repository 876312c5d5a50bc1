/* The `.lct` reader on files written by tests/unit/lct_writer.h in LMCache's
 * format: both header shapes (trace_schema_version 1 and 2, and the older
 * lmcache_version), header validation, every codec tag, a truncated tail
 * (records before it kept, offset reported), a corrupt record in the
 * middle (skipped with its index, the rest read), an unknown codec tag,
 * oversized frames, and a large file streamed in bounded memory
 * (64 MB; 1 GB when KVS_BIG_TESTS=1) with the peak RSS asserted. */
#include "formats/lct.h"
#include "lct_writer.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit_helpers.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static char tmpdir[256];

static const char *tmp(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

typedef struct readall {
    int rc;                  /* header rc */
    kvs_lct_header h;
    size_t nrec, nskip;
    uint64_t skip_index[8];
    char skip_reason[8][160];
    char ops[64][64];
    kvs_lct_stats st;
    char err[512];
} readall;

/* Reads a whole file, keeping what the tests look at. */
static readall read_file(const char *path, size_t max_frame)
{
    readall a;
    memset(&a, 0, sizeof a);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    kvs_lct_reader *r = kvs_lct_reader_fd(fd, max_frame);
    assert_non_null(r);
    kvs_error err = { 0 };
    a.rc = kvs_lct_read_header(r, &a.h, &err);
    snprintf(a.err, sizeof a.err, "%s", err.msg);
    if (a.rc == 0) {
        kvs_lct_record rec;
        kvs_lct_issue is;
        int k;
        while ((k = kvs_lct_next(r, &rec, &is, &err)) > 0) {
            if (k == KVS_LCT_RECORD) {
                const char *op;
                size_t n;
                kvs_lct_op_name(rec.qualname, rec.qualname_len, &op, &n);
                assert_int_equal(rec.index, a.nrec + a.nskip);
                if (a.nrec < 64)
                    snprintf(a.ops[a.nrec], sizeof a.ops[0], "%.*s", (int)n, op);
                a.nrec++;
            } else {
                if (a.nskip < 8) {
                    a.skip_index[a.nskip] = is.index;
                    snprintf(a.skip_reason[a.nskip], sizeof a.skip_reason[0], "%s", is.reason);
                }
                a.nskip++;
            }
        }
        assert_int_equal(k, KVS_LCT_END);
    }
    a.st = *kvs_lct_get_stats(r);
    kvs_lct_reader_free(r);
    close(fd);
    return a;
}

static void test_header_shapes(void **state)
{
    (void)state;
    for (int schema = 0; schema <= 2; schema++) {
        lctw w;
        assert_int_equal(lctw_open(&w, tmp("h.lct"), schema), 0);
        lctw_header(&w, schema, "ab12");
        lctw_request(&w, 0.5, "req-1", 0, 4, 2);
        lctw_close(&w);
        readall a = read_file(tmp("h.lct"), 0);
        assert_int_equal(a.rc, 0);
        assert_int_equal(a.h.format_version, 1);
        assert_int_equal(a.h.trace_schema_version, schema);
        assert_string_equal(a.h.level, "storage");
        assert_string_equal(a.h.sm_config_digest, "ab12");
        assert_string_equal(a.h.lmcache_version, schema ? "" : "0.3.9");
        assert_true(a.h.t_wall_start > 1.7e9);
        assert_int_equal(a.h.sm_config_json_len, strlen("{\"l1_size_gb\": 8}"));
        assert_int_equal(a.nrec, 7);
        assert_int_equal(a.nskip, 0);
        assert_string_equal(a.ops[0], "submit_prefetch_task");
        assert_string_equal(a.ops[1], "query_prefetch_status");
        assert_string_equal(a.ops[2], "read_prefetched_results.__enter__");
        assert_string_equal(a.ops[3], "read_prefetched_results.__exit__");
        assert_string_equal(a.ops[4], "finish_read_prefetched");
        assert_string_equal(a.ops[5], "reserve_write");
        assert_string_equal(a.ops[6], "finish_write");
        assert_false(a.st.truncated);
    }
}

/* Header frames that must be refused, and why. */
static void bad_header(const char *name, void (*pack)(lctw *), const char *why)
{
    lctw w;
    assert_int_equal(lctw_open(&w, tmp(name), 2), 0);
    if (pack) {
        pack(&w);
        lctw_frame(&w);
    }
    lctw_close(&w);
    readall a = read_file(tmp(name), 0);
    assert_int_equal(a.rc, KVS_E_INVALID);
    if (!strstr(a.err, why))
        fail_msg("%s: got \"%s\", want \"%s\"", name, a.err, why);
}

static void hdr_common(lctw *w, int n)
{
    msgpack_pack_map(&w->pk, (size_t)n);
    lctw_str(w, "type"), lctw_str(w, "header");
    lctw_str(w, "level"), lctw_str(w, "storage");
}
static void p_bad_magic(lctw *w)
{
    hdr_common(w, 5);
    lctw_str(w, "magic"), lctw_bin(w, "LMCX", 4);
    lctw_str(w, "format_version"), msgpack_pack_int(&w->pk, 1);
    lctw_str(w, "trace_schema_version"), msgpack_pack_int(&w->pk, 2);
}
static void p_bad_format(lctw *w)
{
    hdr_common(w, 5);
    lctw_str(w, "magic"), lctw_bin(w, "LMCT", 4);
    lctw_str(w, "format_version"), msgpack_pack_int(&w->pk, 2);
    lctw_str(w, "trace_schema_version"), msgpack_pack_int(&w->pk, 2);
}
static void p_bad_schema(lctw *w)
{
    hdr_common(w, 5);
    lctw_str(w, "magic"), lctw_bin(w, "LMCT", 4);
    lctw_str(w, "format_version"), msgpack_pack_int(&w->pk, 1);
    lctw_str(w, "trace_schema_version"), msgpack_pack_int(&w->pk, 3);
}
static void p_no_version(lctw *w)
{
    hdr_common(w, 4);
    lctw_str(w, "magic"), lctw_bin(w, "LMCT", 4);
    lctw_str(w, "format_version"), msgpack_pack_int(&w->pk, 1);
}
static void p_not_map(lctw *w) { lctw_str(w, "LMCT"); }
static void p_record_first(lctw *w) { lctw_record(w, 0.1, "finish_write", 0); }

static void test_header_validation(void **state)
{
    (void)state;
    bad_header("empty.lct", NULL, "empty trace file");
    bad_header("magic.lct", p_bad_magic, "bad magic");
    bad_header("format.lct", p_bad_format, "unsupported format_version 2");
    bad_header("schema.lct", p_bad_schema, "unsupported trace_schema_version 3");
    bad_header("nover.lct", p_no_version, "neither trace_schema_version nor lmcache_version");
    bad_header("notmap.lct", p_not_map, "not a map");
    bad_header("record.lct", p_record_first, "not a header");
    /* A file of text is not a trace (its "length" is huge or the body is
     * not msgpack). */
    FILE *f = fopen(tmp("text.lct"), "w");
    fputs("{\"type\": \"header\", \"magic\": \"LMCT\"}\n", f);
    fclose(f);
    readall a = read_file(tmp("text.lct"), 0);
    assert_int_equal(a.rc, KVS_E_INVALID);
}

static void test_truncated_tail(void **state)
{
    (void)state;
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("t.lct"), 2), 0);
    lctw_header(&w, 2, "");
    lctw_keys_op(&w, 0.1, "finish_write", 0, 2);
    lctw_keys_op(&w, 0.2, "finish_write", 2, 2);
    lctw_keys_op(&w, 0.3, "finish_write", 4, 2);
    uint64_t cut_at = w.bytes;
    /* A frame declaring 100 bytes with only 10 present (SIGKILL mid-write). */
    unsigned char partial[14] = { 0, 0, 0, 100, 0x85, 0xa4, 't', 'y', 'p', 'e', 0xa6, 'r', 'e', 'c' };
    lctw_raw(&w, partial, sizeof partial);
    lctw_close(&w);
    readall a = read_file(tmp("t.lct"), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.nrec, 3);
    assert_true(a.st.truncated);
    assert_int_equal(a.st.truncated_offset, cut_at);
    assert_int_equal(a.st.truncated_have, 14);
    assert_int_equal(a.st.truncated_want, 104);

    /* A cut length prefix (2 of 4 bytes). */
    assert_int_equal(lctw_open(&w, tmp("t2.lct"), 2), 0);
    lctw_header(&w, 2, "");
    lctw_keys_op(&w, 0.1, "finish_write", 0, 1);
    cut_at = w.bytes;
    lctw_raw(&w, "\0\0", 2);
    lctw_close(&w);
    a = read_file(tmp("t2.lct"), 0);
    assert_int_equal(a.nrec, 1);
    assert_true(a.st.truncated);
    assert_int_equal(a.st.truncated_offset, cut_at);
    assert_int_equal(a.st.truncated_want, 0);
}

static void test_corrupt_middle(void **state)
{
    (void)state;
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("c.lct"), 2), 0);
    lctw_header(&w, 2, "");
    lctw_keys_op(&w, 0.1, "reserve_write", 0, 1);
    /* Record 1: a well-framed but undecodable body. */
    unsigned char junk[] = { 0, 0, 0, 6, 0xc1, 0xc1, 0xc1, 0xff, 0x00, 0x01 };
    lctw_raw(&w, junk, sizeof junk);
    /* Record 2: a map claiming more entries than the frame holds. */
    unsigned char liar[] = { 0, 0, 0, 5, 0xdf, 0x7f, 0xff, 0xff, 0xff };
    lctw_raw(&w, liar, sizeof liar);
    /* Record 3: no qualname. */
    msgpack_pack_map(&w.pk, 2);
    lctw_str(&w, "t_mono"), msgpack_pack_double(&w.pk, 1);
    lctw_str(&w, "t_wall"), msgpack_pack_double(&w.pk, 1);
    lctw_frame(&w);
    /* Record 4: an empty frame. */
    lctw_raw(&w, "\0\0\0\0", 4);
    lctw_keys_op(&w, 0.5, "finish_write", 0, 1);
    lctw_close(&w);
    readall a = read_file(tmp("c.lct"), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.nrec, 2);
    assert_int_equal(a.nskip, 4);
    assert_int_equal(a.skip_index[0], 1);
    assert_int_equal(a.skip_index[1], 2);
    assert_int_equal(a.skip_index[2], 3);
    assert_int_equal(a.skip_index[3], 4);
    assert_non_null(strstr(a.skip_reason[1], "more elements"));
    assert_non_null(strstr(a.skip_reason[2], "qualname"));
    assert_non_null(strstr(a.skip_reason[3], "empty"));
    assert_string_equal(a.ops[1], "finish_write");
    assert_int_equal(a.st.records, 2);
    assert_int_equal(a.st.skipped, 4);
    assert_false(a.st.truncated);
}

/* Every tag decodes; values are reachable through the helpers. */
static void test_codec_tags(void **state)
{
    (void)state;
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("tags.lct"), 2), 0);
    lctw_header(&w, 2, "");
    lctw_submit_prefetch(&w, 0.25, 7, 3, "req-9");
    lctw_handle_op(&w, 0.3, "req-9", 2, 3);
    lctw_record(&w, 0.4, "misc", 5);
    lctw_str(&w, "size"), lctw_wrap(&w, "torch.Size"), msgpack_pack_array(&w.pk, 2);
    msgpack_pack_int(&w.pk, 4), msgpack_pack_int(&w.pk, 8);
    lctw_str(&w, "dtype"), lctw_wrap(&w, "torch.dtype"), lctw_str(&w, "torch.float16");
    lctw_str(&w, "ids"), lctw_wrap(&w, "set"), msgpack_pack_array(&w.pk, 1), msgpack_pack_int(&w.pk, 3);
    lctw_str(&w, "mode"), lctw_wrap(&w, "PrefetchMode"), lctw_str(&w, "SEGMENTED");
    lctw_str(&w, "attn"), lctw_wrap(&w, "AttnWindowDesc"), msgpack_pack_array(&w.pk, 0);
    lctw_frame(&w);
    lctw_close(&w);

    int fd = open(tmp("tags.lct"), O_RDONLY);
    kvs_lct_reader *r = kvs_lct_reader_fd(fd, 0);
    kvs_lct_header h;
    kvs_error err;
    assert_int_equal(kvs_lct_read_header(r, &h, &err), 0);
    kvs_lct_record rec;
    kvs_lct_issue is;
    assert_int_equal(kvs_lct_next(r, &rec, &is, &err), KVS_LCT_RECORD);
    assert_true(rec.t_mono == 0.25);
    const kvs_lct_value *keys = kvs_lct_map_get(rec.args, "keys");
    assert_non_null(keys);
    assert_int_equal(keys->type, KVS_LCT_LIST);
    assert_int_equal(keys->list.n, 3);
    const kvs_lct_value *k0 = &keys->list.v[0];
    assert_int_equal(k0->type, KVS_LCT_TAGGED);
    assert_int_equal(k0->tagged.tag, KVS_LCT_TAG_OBJECT_KEY);
    const kvs_lct_value *hash = kvs_lct_map_get(k0->tagged.v, "chunk_hash");
    assert_int_equal(hash->type, KVS_LCT_BIN);
    assert_int_equal(hash->s.n, 32);
    assert_non_null(kvs_lct_map_get(k0->tagged.v, "cache_salt"));
    const kvs_lct_value *ld = kvs_lct_map_get(rec.args, "layout_desc");
    assert_int_equal(ld->tagged.tag, KVS_LCT_TAG_MEMORY_LAYOUT_DESC);
    const kvs_lct_value *pol = kvs_lct_map_get(rec.args, "policy");
    assert_int_equal(pol->tagged.tag, KVS_LCT_TAG_TRIM_POLICY);
    assert_int_equal(pol->tagged.v->type, KVS_LCT_STR);
    const kvs_lct_value *rid = kvs_lct_map_get(rec.args, "external_request_id");
    assert_int_equal(rid->s.n, 5);
    assert_memory_equal(rid->s.p, "req-9", 5);

    assert_int_equal(kvs_lct_next(r, &rec, &is, &err), KVS_LCT_RECORD);
    const kvs_lct_value *hd = kvs_lct_map_get(rec.args, "handle");
    assert_int_equal(hd->tagged.tag, KVS_LCT_TAG_PREFETCH_HANDLE);
    double d;
    assert_int_equal(kvs_lct_number(kvs_lct_map_get(hd->tagged.v, "l1_prefix_hit_count"), &d), 0);
    assert_true(d == 2);
    assert_int_equal(kvs_lct_map_get(hd->tagged.v, "l1_found_indices")->tagged.tag, KVS_LCT_TAG_TUPLE);

    assert_int_equal(kvs_lct_next(r, &rec, &is, &err), KVS_LCT_RECORD);
    assert_int_equal(kvs_lct_map_get(rec.args, "size")->tagged.tag, KVS_LCT_TAG_TORCH_SIZE);
    assert_int_equal(kvs_lct_map_get(rec.args, "dtype")->tagged.tag, KVS_LCT_TAG_TORCH_DTYPE);
    assert_int_equal(kvs_lct_map_get(rec.args, "ids")->tagged.tag, KVS_LCT_TAG_SET);
    assert_int_equal(kvs_lct_map_get(rec.args, "mode")->tagged.tag, KVS_LCT_TAG_PREFETCH_MODE);
    assert_int_equal(kvs_lct_map_get(rec.args, "attn")->tagged.tag, KVS_LCT_TAG_ATTN_WINDOW_DESC);
    assert_int_equal(kvs_lct_next(r, &rec, &is, &err), KVS_LCT_END);
    assert_int_equal(kvs_lct_get_stats(r)->unknown_tags, 0);
    kvs_lct_reader_free(r);
    close(fd);
}

/* An unknown tag keeps the record (as LMCache's reader does); a known tag
 * with a payload of the wrong shape makes it undecodable. */
static void test_unknown_tag(void **state)
{
    (void)state;
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("u.lct"), 2), 0);
    lctw_header(&w, 2, "");
    lctw_record(&w, 0.1, "reserve_write", 1);
    lctw_str(&w, "future"), lctw_wrap(&w, "GpuStreamDesc"), msgpack_pack_map(&w.pk, 0);
    lctw_frame(&w);
    lctw_record(&w, 0.2, "finish_write", 1);
    lctw_str(&w, "keys"), msgpack_pack_array(&w.pk, 1), lctw_wrap(&w, "ObjectKey"), lctw_str(&w, "oops");
    lctw_frame(&w);
    lctw_record(&w, 0.3, "finish_write", 1);
    lctw_str(&w, "k"), msgpack_pack_map(&w.pk, 1), lctw_str(&w, "__t__"), lctw_str(&w, "tuple");
    lctw_frame(&w);
    lctw_keys_op(&w, 0.4, "finish_write", 0, 1);
    lctw_close(&w);
    readall a = read_file(tmp("u.lct"), 0);
    assert_int_equal(a.nrec, 2);
    assert_int_equal(a.nskip, 2);
    assert_int_equal(a.st.unknown_tags, 1);
    assert_string_equal(a.ops[0], "reserve_write");
    assert_non_null(strstr(a.skip_reason[0], "ObjectKey payload is not a map"));
    assert_non_null(strstr(a.skip_reason[1], "without a value"));

    int fd = open(tmp("u.lct"), O_RDONLY);
    kvs_lct_reader *r = kvs_lct_reader_fd(fd, 0);
    kvs_error err;
    kvs_lct_record rec;
    assert_int_equal(kvs_lct_next(r, &rec, NULL, &err), KVS_LCT_RECORD); /* reads the header itself */
    const kvs_lct_value *f = kvs_lct_map_get(rec.args, "future");
    assert_int_equal(f->type, KVS_LCT_TAGGED);
    assert_int_equal(f->tagged.tag, KVS_LCT_TAG_UNKNOWN);
    assert_int_equal(f->tagged.name_len, strlen("GpuStreamDesc"));
    kvs_lct_reader_free(r);
    close(fd);
}

static void test_oversized_frame(void **state)
{
    (void)state;
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("o.lct"), 2), 0);
    lctw_header(&w, 2, "");
    lctw_keys_op(&w, 0.1, "reserve_write", 0, 200);   /* ~13 KB */
    lctw_keys_op(&w, 0.2, "finish_write", 0, 1);
    lctw_close(&w);
    readall a = read_file(tmp("o.lct"), 4096);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.nrec, 1);
    assert_int_equal(a.nskip, 1);
    assert_int_equal(a.skip_index[0], 0);
    assert_non_null(strstr(a.skip_reason[0], "exceeds max_frame"));
    assert_string_equal(a.ops[0], "finish_write");
}

static void test_mem_and_op_names(void **state)
{
    (void)state;
    const char *op;
    size_t n;
    const char *q = "a.b.StorageManager.read_prefetched_results.__exit__";
    kvs_lct_op_name(q, strlen(q), &op, &n);
    assert_int_equal(n, strlen("read_prefetched_results.__exit__"));
    kvs_lct_op_name("plain", 5, &op, &n);
    assert_int_equal(n, 5);
    kvs_lct_op_name("x.__enter__", 11, &op, &n);
    assert_int_equal(n, 11);
    /* A header-only trace from memory. */
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("m.lct"), 1), 0);
    lctw_header(&w, 1, "");
    lctw_close(&w);
    FILE *f = fopen(tmp("m.lct"), "rb");
    unsigned char buf[512];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    kvs_lct_reader *r = kvs_lct_reader_mem(buf, len, 0);
    kvs_lct_header h;
    kvs_error err;
    kvs_lct_record rec;
    assert_int_equal(kvs_lct_read_header(r, &h, &err), 0);
    assert_int_equal(h.trace_schema_version, 1);
    assert_int_equal(kvs_lct_next(r, &rec, NULL, &err), KVS_LCT_END);
    assert_int_equal(kvs_lct_get_stats(r)->bytes, len);
    kvs_lct_reader_free(r);
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* A large recording (64 MB, or 1 GB with KVS_BIG_TESTS=1) streams with a
 * bounded peak RSS: < 32 MB in all (plain build), and < 32 MB above the
 * starting RSS under AddressSanitizer, whose own shadow memory and
 * allocator caches are not the reader's. */
static void test_big_file_bounded_memory(void **state)
{
    (void)state;
    const char *big = getenv("KVS_BIG_TESTS");
    uint64_t target = big && strcmp(big, "1") == 0 ? (1ull << 30) : (64ull << 20);
    lctw w;
    assert_int_equal(lctw_open(&w, tmp("big.lct"), 2), 0);
    lctw_header(&w, 2, "digest");
    unsigned i = 0;
    char req[32];
    while (w.bytes < target) {
        snprintf(req, sizeof req, "req-%u", i);
        lctw_request(&w, i * 0.01, req, i * 8, 8, i % 9);
        i++;
    }
    uint64_t size = w.bytes;
    lctw_close(&w);

    /* Reset the peak (VmHWM) to the current RSS, then stream. */
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (cr) {
        fputs("5", cr);
        fclose(cr);
    }
    long before = status_kb("VmRSS");
    int fd = open(tmp("big.lct"), O_RDONLY);
    kvs_lct_reader *r = kvs_lct_reader_fd(fd, 0);
    kvs_lct_header h;
    kvs_error err;
    assert_int_equal(kvs_lct_read_header(r, &h, &err), 0);
    kvs_lct_record rec;
    uint64_t n = 0;
    int k;
    while ((k = kvs_lct_next(r, &rec, NULL, &err)) == KVS_LCT_RECORD)
        n++;
    assert_int_equal(k, KVS_LCT_END);
    assert_int_equal(kvs_lct_get_stats(r)->bytes, size);
    assert_int_equal(kvs_lct_get_stats(r)->skipped, 0);
    kvs_lct_reader_free(r);
    close(fd);
    unlink(tmp("big.lct"));
    long peak = status_kb("VmHWM");
    print_message("streamed %llu records, %llu MB; RSS before %ld KB, peak %ld KB\n", (unsigned long long)n,
                  (unsigned long long)(size >> 20), before, peak);
    assert_true(n > 50000);
    assert_true(peak > 0 && before > 0);
    assert_true(peak - before < 32 * 1024);
    if (!UNDER_ASAN)
        assert_true(peak < 32 * 1024);
}

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(tmpdir, sizeof tmpdir, "kvs_lct");
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_shapes),
        cmocka_unit_test(test_header_validation),
        cmocka_unit_test(test_truncated_tail),
        cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_codec_tags),
        cmocka_unit_test(test_unknown_tag),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_mem_and_op_names),
        cmocka_unit_test(test_big_file_bounded_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
