/* kvs_lmc rates: the arithmetic that turns cumulative telemetry into
 * answers over time windows.
 *
 * Promises: pure functions over caller-owned arrays (no allocation, no
 * state). Counters are read as rates between two points of a timeline,
 * never as cumulative totals; a counter that goes down is a reset (the
 * process restarted) and contributes its new value as the increase since
 * the reset, as Prometheus' rate() does. Histogram quantiles follow
 * Prometheus' histogram_quantile(): linear interpolation inside the bucket
 * that holds the rank, the lowest bucket starting at 0 (or at its bound
 * when that is negative), the +Inf bucket answering with the highest
 * finite bound. Empty input gives NaN, never a made-up number. */
#ifndef KVS_LMC_RATES_H
#define KVS_LMC_RATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cumulative counter across resets. Feed raw values in time order:
 * the adjusted value never goes down. */
typedef struct kvs_lmc_counter_track {
    double last_raw;     /* last raw value seen */
    double offset;       /* added to raw values since the last reset */
    unsigned resets;
    bool started;
} kvs_lmc_counter_track;

/* Returns the reset-adjusted cumulative value for `raw`. A raw value
 * below the previous one is a reset; NaN raw values are ignored (the
 * previous adjusted value is returned). */
double kvs_lmc_counter_adjust(kvs_lmc_counter_track *t, double raw);

/* Increase of a reset-adjusted counter between two points; 0 when the
 * points are the same or out of order. */
double kvs_lmc_increase(double v0, double v1);
/* Per-second rate between (t0_ms, v0) and (t1_ms, v1) of an adjusted
 * counter; NaN when t1 <= t0. */
double kvs_lmc_rate(int64_t t0_ms, double v0, int64_t t1_ms, double v1);
/* Ratio num/den, NaN when den <= 0 or either is NaN. */
double kvs_lmc_ratio(double num, double den);

/* Quantile q in [0,1] of an explicit-bucket histogram.
 * bounds[0..nb): finite upper bounds, increasing.
 * counts[0..nb]: per-bucket (not cumulative) counts, counts[nb] is the
 * +Inf bucket. Returns NaN when the total count is 0 or q is outside
 * [0,1]; bounds that are not increasing give NaN too. */
double kvs_lmc_hist_quantile(const double *bounds, const double *counts, size_t nb, double q);
/* Mean from sum and count; NaN when count <= 0. */
double kvs_lmc_hist_mean(double sum, double count);

/* Least-squares slope (units per second) of values over times (ms);
 * NaN with fewer than 2 distinct times. */
double kvs_lmc_slope(const int64_t *t_ms, const double *v, size_t n);

#endif
