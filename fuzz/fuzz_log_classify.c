/* libFuzzer target for the log classifier: strips the input, classifies
 * it with each source hint, and classifies the raw bytes too; checks the
 * invariants the receiver relies on (stripped text free of control bytes,
 * severity text and speed unit well-formed). */
#include "formats/log_classify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *clean = malloc(size + 1);
    if (!clean)
        return 0;
    size_t n = kvs_logc_strip((const char *)data, size, clean);
    if (n > size)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)clean[i] < 0x20 && clean[i] != '\t')
            abort();
    for (int hint = 0; hint <= KVS_LOGC_SRC_SGLANG; hint++) {
        kvs_logc_result r;
        kvs_logc_classify(clean, n, (kvs_logc_source)hint, &r);
        if (r.categories >> KVS_LOGC_NCAT)
            abort();
        if (strlen(r.speed_unit) >= sizeof r.speed_unit || strlen(r.hashseed) >= sizeof r.hashseed)
            abort();
        if (r.severity_text && r.severity_number == 0)
            abort();
        kvs_logc_source_name(r.source);
    }
    kvs_logc_result raw;
    kvs_logc_classify((const char *)data, size, KVS_LOGC_SRC_UNKNOWN, &raw);
    clean[n] = 0;
    kvs_logc_source_from_path(clean);
    free(clean);
    return 0;
}
