/* libFuzzer target for the LMCache HTTP payload parser: the first byte
 * picks the endpoint and an HTTP status, the rest is the body; every fact
 * is read back. The input is also tried as a route (safety guard), as an
 * endpoint name and as an environment variable (secret detection). */
#include "formats/lmcache_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const int codes[] = { 0, 200, 404, 503, 500, 302, 400, 200 };
    kvs_lmc_ep ep = (kvs_lmc_ep)(data[0] % KVS_LMC_EP_COUNT);
    int status = codes[(data[0] >> 4) & 7];
    kvs_lmc_payload p;
    if (kvs_lmc_parse(ep, status, (const char *)data + 1, size - 1, &p) == 0) {
        size_t n = 0;
        for (size_t i = 0; i < p.nfacts; i++) {
            const kvs_lmc_fact *f = &p.facts[i];
            n += strlen(f->key);
            if (f->s)
                n += strlen(f->s);
            for (size_t j = 0; j < f->nlist; j++)
                n += strlen(f->list[j]);
        }
        if (p.reason)
            n += strlen(p.reason);
        if (p.summary && strlen(p.summary) > KVS_LMC_SUMMARY_MAX)
            abort();
        if (p.health == KVS_LMC_UNHEALTHY && !p.reason)
            abort();
        (void)n;
        kvs_lmc_payload_free(&p);
    }
    char *z = malloc(size + 1);
    if (!z)
        return 0;
    memcpy(z, data, size);
    z[size] = 0;
    char *eq = strchr(z, '=');
    if (eq) {
        *eq = 0;
        kvs_lmc_env_is_secret(z, eq + 1);
        *eq = '=';
    }
    kvs_lmc_env_is_secret(z, z);
    if (kvs_lmc_route_is_safe("GET", z)) {
        /* the path part (before any query) of a safe route never names a
         * mutating route */
        char *q = strchr(z, '?');
        if (q)
            *q = 0;
        int thread_detail = strncmp(z, "/periodic-threads/", 18) == 0;
        if (!thread_detail && (strstr(z, "clear") || strstr(z, "reset") || strstr(z, "loglevel") ||
                               strstr(z, "run_script") || strchr(z, '#')))
            abort();
        if (q)
            *q = '?';
    }
    kvs_lmc_route_is_safe("POST", z);
    kvs_lmc_ep e;
    kvs_lmc_ep_from_name(z, strlen(z), &e);
    kvs_lmc_json_depth_ok(z, size, 8);
    free(z);
    return 0;
}
