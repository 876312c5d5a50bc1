/* libFuzzer target for the trace info / trace replay output parser: the
 * first byte picks the file name (so each kind: CSV, JSONL, JSON, text),
 * the rest is the content; the result's invariants are checked. */
#include "formats/lct_replay.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "trace_replay_ops.csv", "ops.jsonl", "replay.json", "info.txt" };
    if (size == 0)
        return 0;
    kvs_lctr *r = malloc(sizeof *r);
    if (!r)
        return 0;
    if (kvs_lctr_parse(names[data[0] & 3], (const char *)data + 1, size - 1, r) == 0) {
        if (r->nops > KVS_LCTR_MAX_OPS || r->nerrors > KVS_LCTR_MAX_ERRORS || r->nerrors > r->error_count)
            abort();
        for (size_t i = 0; i < r->nops; i++) {
            if (strlen(r->ops[i].qualname) >= sizeof r->ops[i].qualname || !r->ops[i].qualname[0])
                abort();
            if (r->ops[i].samples && isnan(r->ops[i].stat[KVS_LCTR_MEAN]))
                abort();
        }
        for (size_t i = 0; i < r->nerrors; i++)
            if (strlen(r->errors[i]) >= sizeof r->errors[i])
                abort();
        if (strlen(r->sm_config_digest) >= sizeof r->sm_config_digest || strlen(r->level) >= sizeof r->level)
            abort();
    }
    free(r);
    return 0;
}
