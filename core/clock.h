/* Time helpers: monotonic and wall clocks in nanoseconds, durations. */
#ifndef KVS_CLOCK_H
#define KVS_CLOCK_H

#include <stdint.h>
#include <time.h>

#define KVS_MS ((uint64_t)1000000)
#define KVS_SEC ((uint64_t)1000000000)

static inline uint64_t kvs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * KVS_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t kvs_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * KVS_SEC + (uint64_t)ts.tv_nsec;
}

/* An absolute CLOCK_MONOTONIC deadline as a timespec for
 * pthread_cond_timedwait on a condition created with kvs_cond_init. */
static inline struct timespec kvs_timespec(uint64_t mono_ns)
{
    struct timespec ts = { (time_t)(mono_ns / KVS_SEC), (long)(mono_ns % KVS_SEC) };
    return ts;
}

#endif
