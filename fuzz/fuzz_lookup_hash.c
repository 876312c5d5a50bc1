/* libFuzzer target for lookup-hash JSONL: the input is split into lines,
 * each parsed and added to a summary; the summary's invariants are
 * checked (counts consistent, sets bounded and sorted). */
#include "formats/lookup_hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvs_lh_summary s;
    kvs_lh_summary_init(&s);
    const char *p = (const char *)data, *end = p + size;
    uint64_t rows = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        kvs_lh_row r;
        char err[128];
        int rc = kvs_lh_parse_line(p, n, &r, err, sizeof err);
        if (rc == 0) {
            if (strlen(r.model_name) >= sizeof r.model_name || strlen(r.dtypes) >= sizeof r.dtypes ||
                r.chunk_hash_count < 0)
                abort();
            kvs_lh_summary_add(&s, &r);
            rows++;
        } else if (rc < 0 && !memchr(err, 0, sizeof err)) {
            abort();
        }
        p += n + 1;
    }
    if (s.rows != rows || s.nmodels > KVS_LH_MAX_SET || s.nchunk_sizes > KVS_LH_MAX_SET)
        abort();
    for (size_t i = 1; i < s.nchunk_sizes; i++)
        if (s.chunk_sizes[i - 1] >= s.chunk_sizes[i])
            abort();
    if (s.seq_len.count && s.seq_len.min > s.seq_len.max)
        abort();
    return 0;
}
