/* Test helper: writes LMCache `.lct` trace recordings as LMCache's recorder
 * does (4-byte big-endian length + a msgpack map per frame, msgspec-style
 * tagged structs, codec wrappers {"__t__": tag, "v": payload}), so tests
 * exercise the reader on the documented format without committing binary
 * files. Header-only (static functions) for the tests that include it. */
#ifndef KVS_TEST_LCT_WRITER_H
#define KVS_TEST_LCT_WRITER_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LCTW_SM "lmcache.v1.distributed.storage_manager.StorageManager."

typedef struct lctw {
    FILE *f;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int schema;          /* ObjectKey carries cache_salt when 2 */
    uint64_t bytes;
} lctw;

__attribute__((unused)) static int lctw_open(lctw *w, const char *path, int schema)
{
    memset(w, 0, sizeof *w);
    w->f = fopen(path, "wb");
    if (!w->f)
        return -1;
    setvbuf(w->f, NULL, _IOFBF, 1 << 16);
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
    w->schema = schema;
    return 0;
}

__attribute__((unused)) static void lctw_raw(lctw *w, const void *p, size_t n)
{
    fwrite(p, 1, n, w->f);
    w->bytes += n;
}

/* Writes what was packed as one frame. */
__attribute__((unused)) static void lctw_frame(lctw *w)
{
    unsigned char pre[4] = { (unsigned char)(w->sb.size >> 24), (unsigned char)(w->sb.size >> 16),
                             (unsigned char)(w->sb.size >> 8), (unsigned char)w->sb.size };
    lctw_raw(w, pre, 4);
    lctw_raw(w, w->sb.data, w->sb.size);
    msgpack_sbuffer_clear(&w->sb);
}

__attribute__((unused)) static void lctw_str(lctw *w, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(&w->pk, n);
    msgpack_pack_str_body(&w->pk, s, n);
}

__attribute__((unused)) static void lctw_bin(lctw *w, const void *p, size_t n)
{
    msgpack_pack_bin(&w->pk, n);
    msgpack_pack_bin_body(&w->pk, p, n);
}

/* schema 1 or 2: `trace_schema_version`; 0: the older `lmcache_version`. */
__attribute__((unused)) static void lctw_header(lctw *w, int schema, const char *digest)
{
    msgpack_pack_map(&w->pk, 9);
    lctw_str(w, "type"), lctw_str(w, "header");
    lctw_str(w, "magic"), lctw_bin(w, "LMCT", 4);
    lctw_str(w, "format_version"), msgpack_pack_int(&w->pk, 1);
    lctw_str(w, "level"), lctw_str(w, "storage");
    if (schema)
        lctw_str(w, "trace_schema_version"), msgpack_pack_int(&w->pk, schema);
    else
        lctw_str(w, "lmcache_version"), lctw_str(w, "0.3.9");
    lctw_str(w, "t_mono_start"), msgpack_pack_double(&w->pk, 1000.0);
    lctw_str(w, "t_wall_start"), msgpack_pack_double(&w->pk, 1767225600.0);
    lctw_str(w, "sm_config_json"), lctw_str(w, "{\"l1_size_gb\": 8}");
    lctw_str(w, "sm_config_digest"), lctw_str(w, digest ? digest : "");
    lctw_frame(w);
}

/* Starts a record map; the caller packs `nargs` argument pairs then calls
 * lctw_frame. */
__attribute__((unused)) static void lctw_record(lctw *w, double t_mono, const char *op, size_t nargs)
{
    char q[256];
    snprintf(q, sizeof q, LCTW_SM "%s", op);
    msgpack_pack_map(&w->pk, 5);
    lctw_str(w, "type"), lctw_str(w, "record");
    lctw_str(w, "t_mono"), msgpack_pack_double(&w->pk, t_mono);
    lctw_str(w, "t_wall"), msgpack_pack_double(&w->pk, 1767225600.0 + t_mono);
    lctw_str(w, "qualname"), lctw_str(w, q);
    lctw_str(w, "args"), msgpack_pack_map(&w->pk, nargs);
}

__attribute__((unused)) static void lctw_wrap(lctw *w, const char *tag)
{
    msgpack_pack_map(&w->pk, 2);
    lctw_str(w, "__t__"), lctw_str(w, tag);
    lctw_str(w, "v");
}

/* An ObjectKey whose 32-byte chunk_hash is derived from `id`. */
__attribute__((unused)) static void lctw_object_key(lctw *w, unsigned id, const char *salt)
{
    unsigned char h[32];
    for (int i = 0; i < 32; i++)
        h[i] = (unsigned char)(id * 131u + (unsigned)i * 7u + (id >> 8));
    lctw_wrap(w, "ObjectKey");
    msgpack_pack_map(&w->pk, w->schema == 2 ? 5 : 4);
    lctw_str(w, "chunk_hash"), lctw_bin(w, h, sizeof h);
    lctw_str(w, "model_name"), lctw_str(w, "Qwen/Qwen3-8B");
    lctw_str(w, "kv_rank"), msgpack_pack_int(&w->pk, 16777472);
    lctw_str(w, "object_group_id"), msgpack_pack_int(&w->pk, 0);
    if (w->schema == 2)
        lctw_str(w, "cache_salt"), lctw_str(w, salt ? salt : "");
}

/* "keys": [ObjectKey(first) .. ObjectKey(first + n - 1)] */
__attribute__((unused)) static void lctw_keys(lctw *w, unsigned first, unsigned n)
{
    lctw_str(w, "keys");
    msgpack_pack_array(&w->pk, n);
    for (unsigned i = 0; i < n; i++)
        lctw_object_key(w, first + i, NULL);
}

__attribute__((unused)) static void lctw_layout(lctw *w)
{
    lctw_str(w, "layout_desc");
    lctw_wrap(w, "MemoryLayoutDesc");
    msgpack_pack_map(&w->pk, 2);
    lctw_str(w, "shapes"), msgpack_pack_array(&w->pk, 1), msgpack_pack_array(&w->pk, 4);
    msgpack_pack_int(&w->pk, 2), msgpack_pack_int(&w->pk, 36), msgpack_pack_int(&w->pk, 256);
    msgpack_pack_int(&w->pk, 1024);
    lctw_str(w, "dtypes"), msgpack_pack_array(&w->pk, 1), lctw_str(w, "torch.bfloat16");
}

__attribute__((unused)) static void lctw_submit_prefetch(lctw *w, double t, unsigned first, unsigned n, const char *req)
{
    lctw_record(w, t, "submit_prefetch_task", 5);
    lctw_keys(w, first, n);
    lctw_layout(w);
    lctw_str(w, "extra_count"), msgpack_pack_int(&w->pk, 0);
    lctw_str(w, "external_request_id"), lctw_str(w, req);
    lctw_str(w, "policy"), lctw_wrap(w, "TrimPolicy"), lctw_str(w, "PREFIX");
    lctw_frame(w);
}

__attribute__((unused)) static void lctw_keys_op(lctw *w, double t, const char *op, unsigned first, unsigned n)
{
    lctw_record(w, t, op, 1);
    lctw_keys(w, first, n);
    lctw_frame(w);
}

__attribute__((unused)) static void lctw_reserve_write(lctw *w, double t, unsigned first, unsigned n)
{
    lctw_record(w, t, "reserve_write", 3);
    lctw_keys(w, first, n);
    lctw_layout(w);
    lctw_str(w, "mode"), lctw_str(w, "new");
    lctw_frame(w);
}

/* A traced call taking a PrefetchHandle (query_prefetch_status). */
__attribute__((unused)) static void lctw_handle_op(lctw *w, double t, const char *req, unsigned hits, unsigned total)
{
    lctw_record(w, t, "query_prefetch_status", 1);
    lctw_str(w, "handle");
    lctw_wrap(w, "PrefetchHandle");
    msgpack_pack_map(&w->pk, 7);
    lctw_str(w, "prefetch_request_id"), msgpack_pack_int(&w->pk, -1);
    lctw_str(w, "external_request_id"), lctw_str(w, req);
    lctw_str(w, "l1_prefix_hit_count"), msgpack_pack_int(&w->pk, (int)hits);
    lctw_str(w, "l1_found_indices"), lctw_wrap(w, "tuple"), msgpack_pack_array(&w->pk, hits);
    for (unsigned i = 0; i < hits; i++)
        msgpack_pack_int(&w->pk, (int)i);
    lctw_str(w, "total_requested_keys"), msgpack_pack_int(&w->pk, (int)total);
    lctw_str(w, "submit_time"), msgpack_pack_double(&w->pk, 1000.0 + t);
    lctw_str(w, "l2_orig_indices"), lctw_wrap(w, "tuple"), msgpack_pack_array(&w->pk, 0);
    lctw_frame(w);
}

/* One request's life as the MP server records it: lookup/prefetch, the
 * read of the `hits` prefix, and the store of the rest. */
__attribute__((unused)) static void lctw_request(lctw *w, double t, const char *req, unsigned first, unsigned n, unsigned hits)
{
    lctw_submit_prefetch(w, t, first, n, req);
    lctw_handle_op(w, t + 0.0005, req, hits, n);
    if (hits) {
        lctw_keys_op(w, t + 0.001, "read_prefetched_results.__enter__", first, hits);
        lctw_keys_op(w, t + 0.0015, "read_prefetched_results.__exit__", first, hits);
        lctw_record(w, t + 0.002, "finish_read_prefetched", 2);
        lctw_keys(w, first, hits);
        lctw_str(w, "extra_count"), msgpack_pack_int(&w->pk, 0);
        lctw_frame(w);
    }
    if (hits < n) {
        lctw_reserve_write(w, t + 0.003, first + hits, n - hits);
        lctw_keys_op(w, t + 0.008, "finish_write", first + hits, n - hits);
    }
}

__attribute__((unused)) static void lctw_close(lctw *w)
{
    msgpack_sbuffer_destroy(&w->sb);
    if (w->f)
        fclose(w->f);
    w->f = NULL;
}

#endif
