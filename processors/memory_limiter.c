/* Processor `memory_limiter`: refuses data while the process uses too much
 * memory, so receivers answer "retry later" instead of kvscope growing
 * without bound. A checker thread samples the resident set size
 * (/proc/self/statm) every `check_interval`. Above the soft limit (limit
 * minus spike) consume returns KVS_E_REFUSED (counted in tel->refused; one
 * log line when the state changes) until usage falls back below it; between
 * two samples the bytes of the batches let through are added to the last
 * sample, so a burst cannot carry usage past the soft limit unseen; and
 * the checker calls malloc_trim(0) to hand freed memory back to the system
 * (what the Collector's forced GC does: request buffers freed by threads
 * stay in their malloc arenas otherwise). Under the soft limit batches
 * pass through unchanged.
 * Limits are absolute (limit_mib, spike_limit_mib) or a share of the
 * memory available (limit_percentage, spike_limit_percentage: of the cgroup
 * limit when there is one, else of physical memory). */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)

typedef uint64_t (*rss_source)(void *arg);

typedef struct memlim {
    const char *id;
    kvs_signal signal;
    kvs_next *next;
    kvs_telemetry *tel;
    uint64_t interval_ns;
    int64_t limit_mib, spike_mib;         /* spike_mib < 0: default */
    double limit_pct, spike_pct;          /* spike_pct < 0: default */
    uint64_t hard, soft;                  /* bytes, set by start */

    atomic_int refusing;
    atomic_uint_fast64_t last_rss;
    atomic_uint_fast64_t admitted;        /* batch bytes let through since last_rss was read */
    int above_hard;

    pthread_mutex_t check_lock;           /* serialises checks and the source */
    rss_source rss_fn;
    void *rss_arg;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, running, started;
    pthread_t thread;
} memlim;

static const char *const keys[] = { "check_interval",   "limit_mib",
                                    "spike_limit_mib",  "limit_percentage",
                                    "spike_limit_percentage", NULL };

/* Resident set size from /proc/self/statm (0 when it cannot be read). */
static uint64_t proc_rss(void *arg)
{
    (void)arg;
    return kvs_proc_rss_bytes();
}

/* Memory available to the process: the cgroup limit when set, else RAM. */
static uint64_t total_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t phys = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    static const char *const files[] = { "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f)
            continue;
        unsigned long long v = 0;
        int ok = fscanf(f, "%llu", &v) == 1; /* "max" does not parse: no limit */
        fclose(f);
        if (ok && v > 0 && (phys == 0 || v < phys))
            return v;
    }
    return phys;
}

static int ml_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    uint64_t interval;
    int64_t limit_mib, spike_mib;
    double limit_pct, spike_pct;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_duration(c, "check_interval", KVS_SEC, &interval, err) ||
        kvs_cfg_i64(c, "limit_mib", 0, 0, (int64_t)1 << 40, &limit_mib, err) ||
        kvs_cfg_i64(c, "spike_limit_mib", -1, 0, (int64_t)1 << 40, &spike_mib, err) ||
        kvs_cfg_f64(c, "limit_percentage", 0, 0, 100, &limit_pct, err) ||
        kvs_cfg_f64(c, "spike_limit_percentage", -1, 0, 100, &spike_pct, err))
        return KVS_E_INVALID;
    if (interval == 0)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "check_interval"), "%s: check_interval must be greater than 0",
                              ctx->id);
    if (limit_mib > 0 && limit_pct > 0)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "limit_percentage"),
                              "%s: set limit_mib or limit_percentage, not both", ctx->id);
    if (limit_mib == 0 && limit_pct <= 0)
        return kvs_cfg_errorf(err, c, "%s: limit_mib or limit_percentage must be greater than 0", ctx->id);
    if (limit_mib > 0 && spike_pct >= 0)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "spike_limit_percentage"),
                              "%s: with limit_mib, give the spike as spike_limit_mib", ctx->id);
    if (limit_pct > 0 && spike_mib >= 0)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "spike_limit_mib"),
                              "%s: with limit_percentage, give the spike as spike_limit_percentage", ctx->id);
    if (limit_mib > 0 && spike_mib >= limit_mib)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "spike_limit_mib"),
                              "%s: spike_limit_mib (%lld) must be smaller than limit_mib (%lld)", ctx->id,
                              (long long)spike_mib, (long long)limit_mib);
    if (limit_pct > 0 && spike_pct >= limit_pct)
        return kvs_cfg_errorf(err, kvs_cfg_get(c, "spike_limit_percentage"),
                              "%s: spike_limit_percentage (%g) must be smaller than limit_percentage (%g)", ctx->id,
                              spike_pct, limit_pct);
    memlim *m = calloc(1, sizeof *m);
    if (!m)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    m->id = ctx->id;
    m->signal = (kvs_signal)ctx->signals;
    m->next = ctx->next[kvs_signal_index(m->signal)];
    m->tel = ctx->tel;
    m->interval_ns = interval;
    m->limit_mib = limit_mib;
    m->spike_mib = spike_mib;
    m->limit_pct = limit_pct;
    m->spike_pct = spike_pct;
    m->rss_fn = proc_rss;
    pthread_mutex_init(&m->check_lock, NULL);
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    *state = m;
    return 0;
}

/* One sample: updates the refusing state, trims above the soft limit. */
static void check(memlim *m)
{
    pthread_mutex_lock(&m->check_lock);
    /* Reset first: what is admitted from now on is not in this sample. */
    atomic_store(&m->admitted, 0);
    uint64_t rss = m->rss_fn(m->rss_arg);
    int hard = rss > m->hard;
    if (hard && !m->above_hard)
        KVS_WARN(m->id, "memory usage %llu MiB is above the hard limit %llu MiB: returning free memory to the system",
                 (unsigned long long)(rss / MIB), (unsigned long long)(m->hard / MIB));
    if (rss > m->soft) {
        malloc_trim(0);
        rss = m->rss_fn(m->rss_arg);
    }
    m->above_hard = hard;
    atomic_store(&m->last_rss, rss);
    int refuse = rss > m->soft;
    int was = atomic_exchange(&m->refusing, refuse);
    if (refuse && !was)
        KVS_WARN(m->id, "memory usage %llu MiB is above the soft limit %llu MiB: refusing data",
                 (unsigned long long)(rss / MIB), (unsigned long long)(m->soft / MIB));
    else if (!refuse && was)
        KVS_INFO(m->id, "memory usage %llu MiB is back below the soft limit %llu MiB: accepting data",
                 (unsigned long long)(rss / MIB), (unsigned long long)(m->soft / MIB));
    pthread_mutex_unlock(&m->check_lock);
}

static void *checker_main(void *arg)
{
    memlim *m = arg;
    pthread_mutex_lock(&m->lock);
    uint64_t next = kvs_now_ns() + m->interval_ns;
    while (!m->stop) {
        if (kvs_now_ns() < next) {
            struct timespec ts = kvs_timespec(next);
            pthread_cond_timedwait(&m->cond, &m->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&m->lock);
        check(m);
        pthread_mutex_lock(&m->lock);
        next = kvs_now_ns() + m->interval_ns;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static int ml_start(void *state, kvs_error *err)
{
    memlim *m = state;
    if (m->limit_mib > 0) {
        m->hard = (uint64_t)m->limit_mib * MIB;
        m->soft = m->hard - (m->spike_mib >= 0 ? (uint64_t)m->spike_mib * MIB : m->hard / 5);
    } else {
        uint64_t total = total_memory();
        if (total == 0)
            return kvs_errorf(err, KVS_E_IO, "%s: cannot tell the total memory for limit_percentage", m->id);
        m->hard = (uint64_t)((double)total * m->limit_pct / 100.0);
        uint64_t spike = m->spike_pct >= 0 ? (uint64_t)((double)total * m->spike_pct / 100.0) : m->hard / 5;
        m->soft = spike < m->hard ? m->hard - spike : 0;
    }
    KVS_INFO(m->id, "hard limit %llu MiB, soft limit %llu MiB, checked every %.3fs", (unsigned long long)(m->hard / MIB),
             (unsigned long long)(m->soft / MIB), (double)m->interval_ns / 1e9);
    m->started = 1;
    check(m);
    if (pthread_create(&m->thread, NULL, checker_main, m) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the memory checker thread", m->id);
    m->running = 1;
    return 0;
}

static int ml_consume(void *state, kvs_batch *b, kvs_error *err)
{
    memlim *m = state;
    /* Between two samples the data let through counts too, so a burst
     * larger than the spike allowance cannot overshoot the limit before
     * the next check sees it. */
    uint64_t add = kvs_batch_bytes(b);
    uint64_t since = atomic_fetch_add(&m->admitted, add) + add;
    uint64_t rss = atomic_load(&m->last_rss);
    if (atomic_load(&m->refusing) || rss + since > m->soft) {
        atomic_fetch_sub(&m->admitted, add);
        kvs_tel_add(&m->tel->refused, b->items);
        return kvs_errorf(err, KVS_E_REFUSED,
                          "%s: memory usage %llu MiB (+%llu KiB let through since it was measured) is above the soft "
                          "limit %llu MiB",
                          m->id, (unsigned long long)(rss / MIB), (unsigned long long)((since - add) >> 10),
                          (unsigned long long)(m->soft / MIB));
    }
    if (!m->next)
        return 0;
    return kvs_next_consume(m->next, b, err);
}

static void ml_shutdown(void *state, uint64_t deadline_ns)
{
    memlim *m = state;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    if (m->running) {
        pthread_join(m->thread, NULL);
        m->running = 0;
    }
}

static void ml_destroy(void *state)
{
    memlim *m = state;
    ml_shutdown(m, 0);
    pthread_mutex_destroy(&m->check_lock);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}

/* Test seam: replaces the RSS source of an instance (fn NULL restores
 * /proc/self/statm) and runs one check at once when it has started. */
void kvs_memory_limiter_set_rss_source(void *state, uint64_t (*fn)(void *arg), void *arg);
void kvs_memory_limiter_set_rss_source(void *state, uint64_t (*fn)(void *arg), void *arg)
{
    memlim *m = state;
    pthread_mutex_lock(&m->check_lock);
    m->rss_fn = fn ? fn : proc_rss;
    m->rss_arg = arg;
    pthread_mutex_unlock(&m->check_lock);
    if (m->started)
        check(m);
}

const kvs_component_def kvs_processor_memory_limiter = {
    .type = "memory_limiter",
    .kind = KVS_PROCESSOR,
    .signals = KVS_SIG_ALL,
    .create = ml_create,
    .start = ml_start,
    .wire = 1,
    .consume = ml_consume,
    .shutdown = ml_shutdown,
    .destroy = ml_destroy,
};
