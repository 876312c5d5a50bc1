#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int min_level = KVS_LOG_INFO;

void kvs_log_set_level(kvs_log_level lvl) { atomic_store(&min_level, lvl); }
int kvs_log_enabled(kvs_log_level lvl) { return (int)lvl >= atomic_load(&min_level); }

void kvs_log(kvs_log_level lvl, const char *who, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    if (!kvs_log_enabled(lvl))
        return;
    char msg[1024], ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per line so concurrent lines do not interleave. */
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", ts, now.tv_nsec / 1000000, names[lvl], who ? who : "kvscope", msg);
}
