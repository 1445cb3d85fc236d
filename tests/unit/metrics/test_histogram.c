/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The log-linear latency histogram: quantiles against exact order
 * statistics, the clamping of extreme values, shard merging and the
 * cumulative `le` counts a Prometheus exposition prints.
 */
#include "metrics/metrics.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*: a small deterministic generator for test data. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Uniform in (0, 1). */
static double rng_unit(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(uint64_t *s)
{
    /* Box-Muller; one of the pair is enough for test data. */
    double u1 = rng_unit(s), u2 = rng_unit(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static uint64_t clamp_to_range(double x, double lo, double hi)
{
    if (x < lo)
        x = lo;
    if (x > hi)
        x = hi;
    return (uint64_t)llround(x);
}

typedef enum { DATA_LOGNORMAL, DATA_UNIFORM, DATA_LOGUNIFORM } data_kind_t;

static const char *data_name(data_kind_t kind)
{
    return kind == DATA_LOGNORMAL ? "lognormal"
           : kind == DATA_UNIFORM ? "uniform"
                                  : "log-uniform";
}

/* n values in [1, 10^9] us of the given shape, as integers. */
static uint64_t *make_data(data_kind_t kind, size_t n, uint64_t seed)
{
    uint64_t *v = malloc(n * sizeof *v);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double x;
        switch (kind) {
        case DATA_LOGNORMAL: /* median 10 ms, sigma 2.5 in log space */
            x = exp(log(1e4) + 2.5 * rng_normal(&s));
            break;
        case DATA_UNIFORM:
            x = 1.0 + rng_unit(&s) * (1e9 - 1.0);
            break;
        default:
            x = exp(rng_unit(&s) * log(1e9));
            break;
        }
        v[i] = clamp_to_range(x, 1.0, 1e9);
    }
    return v;
}

static const double quantiles[] = {0.0,  0.001, 0.01, 0.05, 0.1,   0.25,   0.5,
                                   0.75, 0.9,   0.95, 0.99, 0.999, 0.9999, 1.0};
#define N_QUANTILES (sizeof quantiles / sizeof quantiles[0])

/*
 * Record n values and compare every quantile with (a) the exact order
 * statistic of rank ceil(q n), which the histogram claims to approximate
 * within 1/256, and (b) numpy's type-7 quantile from src/stats, within the
 * 1% the router promises. Returns the largest relative error against (a).
 */
static double check_quantiles(data_kind_t kind, size_t n, uint64_t seed)
{
    uint64_t *values = make_data(kind, n, seed);
    double *sorted = malloc(n * sizeof *sorted);
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    for (size_t i = 0; i < n; i++) {
        cn_metrics_hist_record(h, values[i]);
        sorted[i] = (double)values[i];
    }
    cn_stats_sort(sorted, n);
    cr_assert_eq(cn_metrics_hist_count(h), n);

    double max_err = 0.0;
    for (size_t k = 0; k < N_QUANTILES; k++) {
        double q = quantiles[k];
        double got = (double)cn_metrics_hist_quantile(h, q);

        size_t rank = (size_t)ceil(q * (double)n);
        if (rank < 1)
            rank = 1;
        double order_stat = sorted[rank - 1];
        double err = fabs(got - order_stat) / order_stat;
        cr_assert(err <= 1.0 / 256.0,
                  "%s q=%g: histogram %g vs order statistic %g, error %g",
                  data_name(kind), q, got, order_stat, err);
        if (err > max_err)
            max_err = err;

        double type7 = cn_stats_quantile_sorted(sorted, n, q);
        double err7 = fabs(got - type7) / type7;
        cr_assert(err7 <= 0.01, "%s q=%g: histogram %g vs type-7 %g, error %g",
                  data_name(kind), q, got, type7, err7);
    }
    free(h);
    free(sorted);
    free(values);
    return max_err;
}

Test(histogram, quantiles_of_lognormal_latencies_are_within_one_percent)
{
    double err = check_quantiles(DATA_LOGNORMAL, 200000, 0x1234567887654321ull);
    fprintf(stderr, "histogram: lognormal max relative quantile error %.5f%%\n",
            100 * err);
}

Test(histogram, quantiles_of_uniform_latencies_are_within_one_percent)
{
    double err = check_quantiles(DATA_UNIFORM, 200000, 0x0badc0ffee0ddf00ull);
    fprintf(stderr, "histogram: uniform max relative quantile error %.5f%%\n",
            100 * err);
}

Test(histogram, quantiles_of_log_uniform_latencies_are_within_one_percent)
{
    double err = check_quantiles(DATA_LOGUNIFORM, 200000, 0x9e3779b97f4a7c15ull);
    fprintf(stderr, "histogram: log-uniform max relative quantile error %.5f%%\n",
            100 * err);
}

Test(histogram, every_bucket_midpoint_is_within_1_in_256_of_its_values)
{
    /* The error bound, checked exhaustively on the bucket edges, where it
     * is largest: for each bucket, the midpoint against lower and upper. */
    uint64_t prev_upper = 0;
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++) {
        uint64_t lower, upper;
        cr_assert_eq(cn_metrics_hist_bucket_bounds(i, &lower, &upper), 0);
        if (i > 0)
            cr_assert_eq(lower, prev_upper + 1, "bucket %zu leaves a gap", i);
        cr_assert_eq(cn_metrics_hist_bucket_index(lower), i);
        cr_assert_eq(cn_metrics_hist_bucket_index(upper), i);
        uint64_t mid = lower + (upper - lower) / 2;
        if (lower > 0) {
            cr_assert_leq((double)(mid - lower) / (double)lower, 1.0 / 256);
            cr_assert_leq((double)(upper - mid) / (double)upper, 1.0 / 256);
        }
        prev_upper = upper;
    }
    cr_assert_eq(prev_upper, CN_METRICS_HIST_MAX_US);
    uint64_t l, u;
    cr_assert_eq(cn_metrics_hist_bucket_bounds(CN_METRICS_HIST_BUCKETS, &l, &u),
                 CN_EINVAL);
}

Test(histogram, values_below_256_are_exact)
{
    cn_metrics_hist_t *h = malloc(sizeof *h);
    for (uint64_t v = 0; v < 256; v++) {
        cn_metrics_hist_init(h);
        cn_metrics_hist_record(h, v);
        cr_assert_eq(cn_metrics_hist_quantile(h, 0.5), v);
        cr_assert_eq(cn_metrics_hist_count_le(h, v), 1);
        if (v > 0)
            cr_assert_eq(cn_metrics_hist_count_le(h, v - 1), 0);
    }
    free(h);
}

Test(histogram, edge_values_zero_one_and_two_to_the_40_are_recorded)
{
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    const uint64_t big = UINT64_C(1) << 40;

    cn_metrics_hist_record(h, 0);
    cr_assert_eq(cn_metrics_hist_quantile(h, 1.0), 0, "0 us is a valid value");
    cn_metrics_hist_record(h, 1);
    cn_metrics_hist_record(h, big);
    cr_assert_eq(cn_metrics_hist_count(h), 3);
    cr_assert_eq(cn_metrics_hist_sum(h), big + 1);
    cr_assert_eq(h->clamped, 0, "2^40 is inside the range");

    cr_assert_eq(cn_metrics_hist_quantile(h, 0.0), 0);
    cr_assert_eq(cn_metrics_hist_quantile(h, 0.5), 1);
    uint64_t top = cn_metrics_hist_quantile(h, 1.0);
    cr_assert_leq(fabs((double)top - (double)big) / (double)big, 1.0 / 256,
                  "2^40 reported as %llu", (unsigned long long)top);
    cr_assert_eq(cn_metrics_hist_count_le(h, big - 1), 2);
    free(h);
}

Test(histogram, values_above_the_maximum_are_clamped_and_counted)
{
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    cn_metrics_hist_record(h, UINT64_MAX);
    cn_metrics_hist_record(h, CN_METRICS_HIST_MAX_US + 1);
    cn_metrics_hist_record(h, CN_METRICS_HIST_MAX_US);

    cr_assert_eq(cn_metrics_hist_count(h), 3);
    cr_assert_eq(h->clamped, 2, "only values above the maximum are clamped");
    cr_assert_eq(cn_metrics_hist_sum(h), 3 * CN_METRICS_HIST_MAX_US,
                 "the sum adds the clamped values");
    cr_assert_eq(h->counts[CN_METRICS_HIST_BUCKETS - 1], 3);
    uint64_t top = cn_metrics_hist_quantile(h, 1.0);
    cr_assert_leq((double)(CN_METRICS_HIST_MAX_US - top) /
                      (double)CN_METRICS_HIST_MAX_US,
                  1.0 / 256);
    cr_assert_eq(cn_metrics_hist_count_le(h, UINT64_MAX), 3);
    cr_assert_eq(cn_metrics_hist_count_le(h, CN_METRICS_HIST_MAX_US - 1), 0);
    free(h);
}

Test(histogram, sum_saturates_instead_of_wrapping)
{
    cn_metrics_hist_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    cn_metrics_hist_init(a);
    cn_metrics_hist_init(b);
    a->sum_us = UINT64_MAX - 5;
    b->sum_us = 10;
    cn_metrics_hist_merge(a, b);
    cr_assert_eq(cn_metrics_hist_sum(a), UINT64_MAX);
    cn_metrics_hist_record(b, 7);
    b->sum_us = UINT64_MAX - 1;
    cn_metrics_hist_record(b, 2);
    cr_assert_eq(cn_metrics_hist_sum(b), UINT64_MAX);
    free(a);
    free(b);
}

Test(histogram, empty_histogram_and_out_of_range_q)
{
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    cr_assert_eq(cn_metrics_hist_count(h), 0);
    cr_assert_eq(cn_metrics_hist_sum(h), 0);
    cr_assert_eq(cn_metrics_hist_quantile(h, 0.5), 0, "empty gives 0");
    cr_assert_eq(cn_metrics_hist_count_le(h, UINT64_MAX), 0);

    cn_metrics_hist_record(h, 10);
    cn_metrics_hist_record(h, 20);
    cr_assert_eq(cn_metrics_hist_quantile(h, -1.0), 10, "q < 0 is q = 0");
    cr_assert_eq(cn_metrics_hist_quantile(h, NAN), 10, "NaN is q = 0");
    cr_assert_eq(cn_metrics_hist_quantile(h, 2.0), 20, "q > 1 is q = 1");
    cr_assert_eq(cn_metrics_hist_quantile(h, 0.5), 10, "rank ceil(0.5 * 2) = 1");
    cr_assert_eq(cn_metrics_hist_quantile(h, 0.51), 20, "rank ceil(1.02) = 2");
    free(h);
}

Test(histogram, merging_shards_equals_recording_everything_in_one)
{
    enum { SHARDS = 4 };
    const size_t n = 50000;
    uint64_t *values = make_data(DATA_LOGNORMAL, n, 42);
    cn_metrics_hist_t *whole = malloc(sizeof *whole);
    cn_metrics_hist_t *merged = malloc(sizeof *merged);
    cn_metrics_hist_t *shards = malloc(SHARDS * sizeof *shards);
    cn_metrics_hist_init(whole);
    cn_metrics_hist_init(merged);
    for (size_t s = 0; s < SHARDS; s++)
        cn_metrics_hist_init(&shards[s]);

    for (size_t i = 0; i < n; i++) {
        /* A few clamped values too, so `clamped` is merged as well. */
        uint64_t v = i % 10007 == 0 ? UINT64_MAX : values[i];
        cn_metrics_hist_record(whole, v);
        cn_metrics_hist_record(&shards[i % SHARDS], v);
    }
    for (size_t s = 0; s < SHARDS; s++)
        cn_metrics_hist_merge(merged, &shards[s]);

    cr_assert_eq(merged->count, whole->count);
    cr_assert_eq(merged->sum_us, whole->sum_us);
    cr_assert_eq(merged->clamped, whole->clamped);
    cr_assert_gt(whole->clamped, 0);
    cr_assert(memcmp(merged->counts, whole->counts, sizeof whole->counts) == 0);
    for (size_t k = 0; k < N_QUANTILES; k++)
        cr_assert_eq(cn_metrics_hist_quantile(merged, quantiles[k]),
                     cn_metrics_hist_quantile(whole, quantiles[k]));
    free(shards);
    free(merged);
    free(whole);
    free(values);
}

Test(histogram, delta_of_two_copies_is_what_was_recorded_between_them)
{
    const size_t n = 20000;
    uint64_t *values = make_data(DATA_LOGNORMAL, n, 7);
    cn_metrics_hist_t *cumulative = malloc(sizeof *cumulative);
    cn_metrics_hist_t *before = malloc(sizeof *before);
    cn_metrics_hist_t *second = malloc(sizeof *second);
    cn_metrics_hist_t *delta = malloc(sizeof *delta);
    cn_metrics_hist_init(cumulative);
    cn_metrics_hist_init(second);
    for (size_t i = 0; i < n / 2; i++)
        cn_metrics_hist_record(cumulative, values[i]);
    *before = *cumulative;
    for (size_t i = n / 2; i < n; i++) {
        cn_metrics_hist_record(cumulative, values[i]);
        cn_metrics_hist_record(second, values[i]);
    }
    cn_metrics_hist_delta(delta, cumulative, before);
    cr_assert_eq(delta->count, n / 2);
    cr_assert_eq(delta->sum_us, second->sum_us);
    cr_assert(memcmp(delta->counts, second->counts, sizeof second->counts) == 0);
    for (size_t k = 0; k < N_QUANTILES; k++)
        cr_assert_eq(cn_metrics_hist_quantile(delta, quantiles[k]),
                     cn_metrics_hist_quantile(second, quantiles[k]));

    /* "before" that is not an earlier copy (a counter reset): never negative */
    cn_metrics_hist_delta(delta, before, cumulative);
    cr_assert_eq(delta->count, 0);
    cr_assert_eq(delta->sum_us, 0);
    cr_assert_eq(cn_metrics_hist_quantile(delta, 0.99), 0);
    free(delta);
    free(second);
    free(before);
    free(cumulative);
    free(values);
}

Test(histogram, count_le_is_monotone_and_never_counts_values_above_the_bound)
{
    const size_t n = 100000;
    uint64_t *values = make_data(DATA_LOGUNIFORM, n, 7);
    double *sorted = malloc(n * sizeof *sorted);
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    for (size_t i = 0; i < n; i++) {
        cn_metrics_hist_record(h, values[i]);
        sorted[i] = (double)values[i];
    }
    cn_stats_sort(sorted, n);

    /* Prometheus-style bounds, 1-2.5-5 per decade, plus +Inf. */
    uint64_t prev = 0;
    for (double bound = 1; bound <= 1e10; bound *= 10) {
        const double steps[] = {1, 2.5, 5};
        for (size_t k = 0; k < 3; k++) {
            uint64_t le = (uint64_t)(bound * steps[k]);
            uint64_t got = cn_metrics_hist_count_le(h, le);
            uint64_t exact = cn_stats_count_at_most(sorted, n, (double)le);
            /* Never above the exact count; below it by at most the values
             * within 1/128 under the bound (one straddling bucket). */
            uint64_t floor_count =
                cn_stats_count_at_most(sorted, n, (double)le * (1 - 1.0 / 128) - 1);
            cr_assert_leq(got, exact, "le=%llu", (unsigned long long)le);
            cr_assert_geq(got, floor_count, "le=%llu", (unsigned long long)le);
            cr_assert_geq(got, prev, "le=%llu is not monotone", (unsigned long long)le);
            prev = got;
        }
    }
    cr_assert_eq(cn_metrics_hist_count_le(h, UINT64_MAX), n);

    /* At every bucket's upper bound the count is exact. */
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i += 97) {
        uint64_t lower, upper;
        cn_metrics_hist_bucket_bounds(i, &lower, &upper);
        cr_assert_eq(cn_metrics_hist_count_le(h, upper),
                     cn_stats_count_at_most(sorted, n, (double)upper));
    }
    free(h);
    free(sorted);
    free(values);
}

Test(histogram, reset_forgets_everything)
{
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    cn_metrics_hist_record(h, 123456);
    cn_metrics_hist_record(h, UINT64_MAX);
    cn_metrics_hist_reset(h);
    cr_assert_eq(cn_metrics_hist_count(h), 0);
    cr_assert_eq(cn_metrics_hist_sum(h), 0);
    cr_assert_eq(h->clamped, 0);
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++)
        cr_assert_eq(h->counts[i], 0);
    free(h);
}
