/* libFuzzer target for the `.lct` reader: the input is read as a whole
 * recording (header validation path) and again behind a valid header frame
 * (so the record path, codec tags and truncation handling are reached);
 * every decoded value is walked. A small max_frame exercises oversized
 * frames. */
#include "formats/lct.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t walk(const kvs_lct_value *v, int depth)
{
    size_t n = 1;
    double d;
    if (depth > KVS_LCT_MAX_DEPTH + 2)
        abort();                      /* the reader promised a bound */
    kvs_lct_number(v, &d);
    switch (v->type) {
    case KVS_LCT_STR:
    case KVS_LCT_BIN:
        for (size_t i = 0; i < v->s.n; i++)
            n += (unsigned char)v->s.p[i] == 0xff;
        break;
    case KVS_LCT_LIST:
        for (size_t i = 0; i < v->list.n; i++)
            n += walk(&v->list.v[i], depth + 1);
        break;
    case KVS_LCT_MAP:
        for (size_t i = 0; i < v->map.n; i++)
            n += v->map.kv[i].key_len + walk(&v->map.kv[i].val, depth + 1);
        break;
    case KVS_LCT_TAGGED:
        n += strlen(kvs_lct_tag_name(v->tagged.tag)) + v->tagged.name_len + walk(v->tagged.v, depth + 1);
        break;
    default:
        break;
    }
    return n;
}

static void run(const uint8_t *data, size_t size)
{
    kvs_lct_reader *r = kvs_lct_reader_mem(data, size, 4096);
    if (!r)
        return;
    kvs_lct_header h;
    kvs_error err;
    if (kvs_lct_read_header(r, &h, &err) == 0) {
        kvs_lct_record rec;
        kvs_lct_issue is;
        int k;
        size_t budget = 100000;
        while ((k = kvs_lct_next(r, &rec, &is, &err)) > 0 && budget--) {
            if (k == KVS_LCT_RECORD) {
                const char *op;
                size_t n;
                kvs_lct_op_name(rec.qualname, rec.qualname_len, &op, &n);
                if (n > rec.qualname_len || strlen(rec.qualname) > rec.qualname_len)
                    abort();
                walk(rec.args, 0);
                kvs_lct_map_get(rec.args, "keys");
            }
        }
        const kvs_lct_stats *st = kvs_lct_get_stats(r);
        if (st->bytes > size)
            abort();
    }
    kvs_lct_reader_free(r);
}

/* header frame: {"type":"header","magic":b"LMCT","format_version":1,
 * "level":"storage","trace_schema_version":2} */
static const uint8_t header[] = {
    0x85, 0xa4, 't', 'y', 'p', 'e', 0xa6, 'h', 'e', 'a', 'd', 'e', 'r',
    0xa5, 'm', 'a', 'g', 'i', 'c', 0xc4, 4, 'L', 'M', 'C', 'T',
    0xae, 'f', 'o', 'r', 'm', 'a', 't', '_', 'v', 'e', 'r', 's', 'i', 'o', 'n', 1,
    0xa5, 'l', 'e', 'v', 'e', 'l', 0xa7, 's', 't', 'o', 'r', 'a', 'g', 'e',
    0xb4, 't', 'r', 'a', 'c', 'e', '_', 's', 'c', 'h', 'e', 'm', 'a', '_', 'v', 'e', 'r', 's', 'i', 'o', 'n', 2,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    uint8_t *buf = malloc(size + sizeof header + 4);
    if (!buf)
        return 0;
    buf[0] = 0, buf[1] = 0, buf[2] = 0, buf[3] = (uint8_t)sizeof header;
    memcpy(buf + 4, header, sizeof header);
    memcpy(buf + 4 + sizeof header, data, size);
    run(buf, size + sizeof header + 4);
    free(buf);
    return 0;
}
