#include "core/telemetry.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void kvs_telemetry_init(kvs_telemetry *t, const char *id, const char *kind)
{
    memset(t, 0, sizeof *t);
    t->id = id;
    t->kind = kind;
    pthread_mutex_init(&t->lock, NULL);
}

void kvs_telemetry_destroy(kvs_telemetry *t) { pthread_mutex_destroy(&t->lock); }

void kvs_tel_drop(kvs_telemetry *t, const char *reason, uint64_t n)
{
    kvs_tel_add(&t->dropped, n);
    pthread_mutex_lock(&t->lock);
    int i;
    for (i = 0; i < t->nreasons; i++)
        if (strcmp(t->reasons[i].reason, reason) == 0)
            break;
    if (i == t->nreasons && i < KVS_TEL_MAX_REASONS)
        t->reasons[t->nreasons++].reason = reason;
    if (i < KVS_TEL_MAX_REASONS)
        t->reasons[i].count += n;
    else
        t->reasons[KVS_TEL_MAX_REASONS - 1].count += n;
    pthread_mutex_unlock(&t->lock);
}

uint64_t kvs_proc_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}
