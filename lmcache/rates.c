/* Counter, rate and histogram arithmetic (see rates.h). */
#include "lmcache/rates.h"

#include <math.h>

double kvs_lmc_counter_adjust(kvs_lmc_counter_track *t, double raw)
{
    if (isnan(raw))
        return t->started ? t->last_raw + t->offset : 0.0;
    if (!t->started) {
        t->started = true;
        t->last_raw = raw;
        t->offset = 0;
        return raw;
    }
    if (raw < t->last_raw) {
        /* reset: everything counted before stays counted */
        t->offset += t->last_raw;
        t->resets++;
    }
    t->last_raw = raw;
    return raw + t->offset;
}

double kvs_lmc_increase(double v0, double v1)
{
    if (isnan(v0) || isnan(v1) || v1 <= v0)
        return 0.0;
    return v1 - v0;
}

double kvs_lmc_rate(int64_t t0_ms, double v0, int64_t t1_ms, double v1)
{
    if (t1_ms <= t0_ms)
        return NAN;
    return kvs_lmc_increase(v0, v1) / ((double)(t1_ms - t0_ms) / 1000.0);
}

double kvs_lmc_ratio(double num, double den)
{
    if (isnan(num) || isnan(den) || den <= 0)
        return NAN;
    return num / den;
}

double kvs_lmc_hist_quantile(const double *bounds, const double *counts, size_t nb, double q)
{
    if (!counts || isnan(q) || q < 0 || q > 1)
        return NAN;
    double total = 0;
    for (size_t i = 0; i <= nb; i++) {
        if (isnan(counts[i]) || counts[i] < 0)
            return NAN;
        total += counts[i];
    }
    for (size_t i = 1; i < nb; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NAN;
    if (total <= 0)
        return NAN;
    double rank = q * total;
    double cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        double prev = cum;
        cum += counts[i];
        if (cum < rank || counts[i] <= 0)
            continue;
        if (i == nb) /* +Inf bucket: the highest finite bound is all we know */
            return nb ? bounds[nb - 1] : NAN;
        double hi = bounds[i];
        double lo = i ? bounds[i - 1] : (hi > 0 ? 0.0 : hi);
        return lo + (hi - lo) * ((rank - prev) / counts[i]);
    }
    return nb ? bounds[nb - 1] : NAN;
}

double kvs_lmc_hist_mean(double sum, double count)
{
    if (isnan(sum) || isnan(count) || count <= 0)
        return NAN;
    return sum / count;
}

double kvs_lmc_slope(const int64_t *t_ms, const double *v, size_t n)
{
    if (n < 2)
        return NAN;
    double mt = 0, mv = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        mt += (double)(t_ms[i] - t_ms[0]) / 1000.0;
        mv += v[i];
        k++;
    }
    if (k < 2)
        return NAN;
    mt /= (double)k;
    mv /= (double)k;
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        double dt = (double)(t_ms[i] - t_ms[0]) / 1000.0 - mt;
        num += dt * (v[i] - mv);
        den += dt * dt;
    }
    return den > 0 ? num / den : NAN;
}
