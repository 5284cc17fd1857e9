/*  =========================================================================
    metrics - Prometheus text exposition helpers and a lock-free histogram
    =========================================================================
*/
#include <assert.h>
#include "metrics.h"

//  Upper bounds of the finite buckets, in microseconds (10 us .. 10 s:
//  the lowest ones resolve the stages of one write, docs/performance.md)
static const uint64_t s_bounds_us [METRICS_BUCKETS] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000
};

void
metrics_histogram_observe (metrics_histogram_t *self, uint64_t usec)
{
    assert (self);
    size_t bucket = 0;
    while (bucket < METRICS_BUCKETS && usec > s_bounds_us [bucket])
        bucket++;
    atomic_fetch_add_explicit (&self->buckets [bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&self->sum_us, usec, memory_order_relaxed);
    atomic_fetch_add_explicit (&self->count, 1, memory_order_relaxed);
}

void
metrics_histogram_write (metrics_histogram_t *self, FILE *out, const char *name, const char *labels)
{
    assert (self && out && name && labels);
    //  Buckets first, the count as their total, so _count equals the +Inf
    //  bucket even while others observe
    uint64_t cumulative = 0;
    const char *comma = *labels? ",": "";
    for (size_t bucket = 0; bucket <= METRICS_BUCKETS; bucket++) {
        cumulative += atomic_load_explicit (&self->buckets [bucket], memory_order_relaxed);
        if (bucket < METRICS_BUCKETS)
            fprintf (out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, comma,
                     (double) s_bounds_us [bucket] / 1e6, (unsigned long long) cumulative);
        else
            fprintf (out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, comma,
                     (unsigned long long) cumulative);
    }
    uint64_t sum_us = atomic_load_explicit (&self->sum_us, memory_order_relaxed);
    if (*labels) {
        fprintf (out, "%s_sum{%s} %.6f\n", name, labels, (double) sum_us / 1e6);
        fprintf (out, "%s_count{%s} %llu\n", name, labels, (unsigned long long) cumulative);
    }
    else {
        fprintf (out, "%s_sum %.6f\n", name, (double) sum_us / 1e6);
        fprintf (out, "%s_count %llu\n", name, (unsigned long long) cumulative);
    }
}

uint64_t
metrics_histogram_quantile_us (metrics_histogram_t *self, double q)
{
    assert (self);
    uint64_t counts [METRICS_BUCKETS + 1];
    metrics_histogram_counts (self, counts);
    return metrics_buckets_quantile_us (counts, q);
}

void
metrics_histogram_counts (metrics_histogram_t *self, uint64_t *counts)
{
    assert (self && counts);
    for (size_t bucket = 0; bucket <= METRICS_BUCKETS; bucket++)
        counts [bucket] = atomic_load_explicit (&self->buckets [bucket], memory_order_relaxed);
}

uint64_t
metrics_bucket_bound_us (size_t bucket)
{
    assert (bucket < METRICS_BUCKETS);
    return s_bounds_us [bucket];
}

uint64_t
metrics_buckets_quantile_us (const uint64_t *counts, double q)
{
    assert (counts);
    uint64_t total = 0;
    for (size_t bucket = 0; bucket <= METRICS_BUCKETS; bucket++)
        total += counts [bucket];
    if (total == 0)
        return 0;
    double rank = q * (double) total;
    uint64_t below = 0;
    for (size_t bucket = 0; bucket <= METRICS_BUCKETS; bucket++) {
        if (counts [bucket] && (double) (below + counts [bucket]) >= rank) {
            if (bucket == METRICS_BUCKETS)
                return s_bounds_us [METRICS_BUCKETS - 1];
            double lower = bucket? (double) s_bounds_us [bucket - 1]: 0;
            double upper = (double) s_bounds_us [bucket];
            double within = (rank - (double) below) / (double) counts [bucket];
            return (uint64_t) (lower + (upper - lower) * within);
        }
        below += counts [bucket];
    }
    return s_bounds_us [METRICS_BUCKETS - 1];
}

void
metrics_header (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_label_value (FILE *out, const char *text)
{
    for (const char *c = text? text: ""; *c; c++)
        if (*c == '\\')
            fputs ("\\\\", out);
        else
        if (*c == '"')
            fputs ("\\\"", out);
        else
        if (*c == '\n')
            fputs ("\\n", out);
        else
            fputc (*c, out);
}
