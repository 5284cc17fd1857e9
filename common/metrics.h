/*  =========================================================================
    metrics - Prometheus text exposition helpers and a lock-free histogram

    metrics_histogram_t counts observations (durations, in microseconds)
    into fixed buckets with relaxed atomics, so any thread may observe while
    the HTTP thread writes it out; a reader may see a count one observation
    ahead of a bucket, never a torn value. The bucket bounds (seconds) are
    METRICS_BUCKET_BOUNDS, the same for every histogram so dashboards can
    compare them.
    =========================================================================
*/
#ifndef STRATA_METRICS_H_INCLUDED
#define STRATA_METRICS_H_INCLUDED

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_BUCKETS 19          //  finite buckets; one more for +Inf

typedef struct {
    _Atomic uint64_t buckets [METRICS_BUCKETS + 1];     //  per bucket (not cumulative)
    _Atomic uint64_t sum_us;                            //  sum of observations
    _Atomic uint64_t count;                             //  observations
} metrics_histogram_t;

//  Count one observation of usec microseconds.
void
    metrics_histogram_observe (metrics_histogram_t *self, uint64_t usec);

//  Write the _bucket, _sum and _count series of histogram name with labels
//  (e.g. "type=\"ping\"", or "" for none). Write the HELP/TYPE header once
//  before with metrics_header.
void
    metrics_histogram_write (metrics_histogram_t *self, FILE *out, const char *name,
                             const char *labels);

//  Estimate the q quantile (0 < q <= 1) in microseconds from the buckets
//  (linear within a bucket; the top finite bound for +Inf). 0 when empty.
uint64_t
    metrics_histogram_quantile_us (metrics_histogram_t *self, double q);

//  Copy the per-bucket counts (not cumulative; METRICS_BUCKETS + 1 of
//  them, the last for +Inf) into counts.
void
    metrics_histogram_counts (metrics_histogram_t *self, uint64_t *counts);

//  The upper bound in microseconds of finite bucket number bucket
//  (0 <= bucket < METRICS_BUCKETS).
uint64_t
    metrics_bucket_bound_us (size_t bucket);

//  Estimate the q quantile in microseconds from per-bucket counts laid out
//  as metrics_histogram_counts gives them (e.g. the difference of two
//  snapshots). 0 when all are zero.
uint64_t
    metrics_buckets_quantile_us (const uint64_t *counts, double q);

//  Write "# HELP name help" and "# TYPE name type".
void
    metrics_header (FILE *out, const char *name, const char *type, const char *help);

//  Write text as a label value: backslash, double quote and newline escaped.
void
    metrics_label_value (FILE *out, const char *text);

#endif
