/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The percentile bootstrap of a difference: reproducible by seed, the point
 * estimate is the plain difference of the statistics, the interval covers a
 * known true difference at about the nominal rate, and bad input is
 * rejected. There is no golden file: no reference shares our generator, so
 * the properties are what we can pin down.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

static const cn_boot_stat_t all_stats[] = {CN_BOOT_MEAN, CN_BOOT_MEDIAN, CN_BOOT_P95,
                                           CN_BOOT_P99};

/* A deterministic test sample: lognormal "latencies". */
static double *latencies(size_t n, double mu, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_lognormal(r, mu, 0.6);
    gsl_rng_free(r);
    return v;
}

static double plain_stat(cn_boot_stat_t s, const double *v, size_t n)
{
    if (s == CN_BOOT_MEAN) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += v[i];
        return sum / (double)n;
    }
    double q = s == CN_BOOT_MEDIAN ? 0.5 : s == CN_BOOT_P95 ? 0.95 : 0.99;
    double *sorted = cn_stats_sorted_copy(v, n);
    double out = cn_stats_quantile_sorted(sorted, n, q);
    free(sorted);
    return out;
}

Test(bootstrap, same_seed_gives_identical_results)
{
    double *x = latencies(300, 3.0, 1), *y = latencies(250, 3.1, 2);
    for (size_t s = 0; s < 4; s++) {
        cn_boot_result_t a, b;
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, 300, y, 250, all_stats[s], 500, 0.95, 42, &a),
            0);
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, 300, y, 250, all_stats[s], 500, 0.95, 42, &b),
            0);
        cr_assert_eq(a.ci_low, b.ci_low);
        cr_assert_eq(a.ci_high, b.ci_high);
        cr_assert_eq(a.estimate, b.estimate);
        cr_assert_eq(a.resamples, 500);
    }
    free(x);
    free(y);
}

Test(bootstrap, different_seeds_give_different_intervals)
{
    double *x = latencies(300, 3.0, 3), *y = latencies(250, 3.1, 4);
    for (size_t s = 0; s < 4; s++) {
        cn_boot_result_t a, b, c;
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, 300, y, 250, all_stats[s], 500, 0.95, 1, &a), 0);
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, 300, y, 250, all_stats[s], 500, 0.95, 2, &b), 0);
        /* Seeds that differ only in the high 32 bits are different seeds. */
        cr_assert_eq(cn_stats_bootstrap_diff(x, 300, y, 250, all_stats[s], 500, 0.95,
                                             1 + (UINT64_C(1) << 40), &c),
                     0);
        cr_assert(a.ci_low != b.ci_low || a.ci_high != b.ci_high, "stat %zu", s);
        cr_assert(a.ci_low != c.ci_low || a.ci_high != c.ci_high, "stat %zu", s);
        cr_assert_eq(a.estimate, b.estimate,
                     "the estimate does not depend on the seed");
    }
    free(x);
    free(y);
}

Test(bootstrap, estimate_is_the_plain_difference_of_the_statistics)
{
    double *x = latencies(1001, 3.0, 5), *y = latencies(640, 2.9, 6);
    for (size_t s = 0; s < 4; s++) {
        cn_boot_result_t r;
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, 1001, y, 640, all_stats[s], 200, 0.9, 7, &r), 0);
        double want =
            plain_stat(all_stats[s], x, 1001) - plain_stat(all_stats[s], y, 640);
        cr_assert_eq(r.estimate, want, "stat %zu: %.17g want %.17g", s, r.estimate,
                     want);
        cr_assert_leq(r.ci_low, r.ci_high);
    }
    free(x);
    free(y);
}

Test(bootstrap, interval_widens_with_confidence)
{
    double *x = latencies(400, 3.0, 8), *y = latencies(400, 3.0, 9);
    cn_boot_result_t a, b;
    cr_assert_eq(cn_stats_bootstrap_diff(x, 400, y, 400, CN_BOOT_P95, 2000, 0.8, 5, &a),
                 0);
    cr_assert_eq(
        cn_stats_bootstrap_diff(x, 400, y, 400, CN_BOOT_P95, 2000, 0.99, 5, &b), 0);
    cr_assert_leq(b.ci_low, a.ci_low);
    cr_assert_geq(b.ci_high, a.ci_high);
    free(x);
    free(y);
}

Test(bootstrap, a_constant_shift_of_the_data_shifts_the_interval)
{
    /* Same seed, y + 5: every resample pairs the same positions, so the
     * quantile-based intervals move by exactly 5 (up to rounding). */
    double *x = latencies(200, 3.0, 10), *y = latencies(150, 3.0, 11);
    double *y5 = malloc(150 * sizeof *y5);
    for (size_t i = 0; i < 150; i++)
        y5[i] = y[i] + 5;
    cn_boot_result_t a, b;
    cr_assert_eq(
        cn_stats_bootstrap_diff(x, 200, y, 150, CN_BOOT_MEDIAN, 300, 0.95, 9, &a), 0);
    cr_assert_eq(
        cn_stats_bootstrap_diff(x, 200, y5, 150, CN_BOOT_MEDIAN, 300, 0.95, 9, &b), 0);
    cr_assert_float_eq(b.ci_low, a.ci_low - 5, 1e-9);
    cr_assert_float_eq(b.ci_high, a.ci_high - 5, 1e-9);
    free(x);
    free(y);
    free(y5);
}

/*
 * Coverage: 200 simulated canaries with a known difference. Normal data with
 * a shift of 1, so the true difference of means and of medians is 1, and of
 * p95 too. The count of intervals that cover 1 is Binomial(200, ~0.95) if
 * the interval is right; we accept 180..199 (0.90..0.995), more than three
 * binomial standard deviations (3.1 intervals) on either side of 190 for
 * the mean and median, whose percentile intervals are close to nominal at
 * n = 100. The data come from a fixed seed, so the test is deterministic.
 */
static void check_coverage(cn_boot_stat_t stat, double shift_sd, int lo_ok, int hi_ok)
{
    const size_t n = 100, reps = 200;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2024);
    double x[100], y[100];
    int covered = 0;
    for (size_t rep = 0; rep < reps; rep++) {
        for (size_t i = 0; i < n; i++) {
            x[i] = 1.0 + gsl_ran_gaussian(r, shift_sd);
            y[i] = gsl_ran_gaussian(r, shift_sd);
        }
        cn_boot_result_t res;
        cr_assert_eq(cn_stats_bootstrap_diff(x, n, y, n, stat, 1000, 0.95, rep, &res),
                     0);
        covered += res.ci_low <= 1.0 && 1.0 <= res.ci_high;
    }
    gsl_rng_free(r);
    cr_assert(covered >= lo_ok && covered <= hi_ok, "stat %d covered %d of 200",
              (int)stat, covered);
}

Test(bootstrap, mean_interval_covers_the_true_difference_about_95_percent)
{
    check_coverage(CN_BOOT_MEAN, 2.0, 180, 199);
}

Test(bootstrap, median_interval_covers_the_true_difference_about_95_percent)
{
    check_coverage(CN_BOOT_MEDIAN, 2.0, 180, 199);
}

Test(bootstrap, quickselect_agrees_with_sorting_on_ties_and_tiny_samples)
{
    /* Two values, heavy ties: every resample quantile must be a value (or
     * an interpolation between the two), and the estimate exact. */
    double x[] = {1, 1, 1, 2, 2, 2, 2, 2};
    double y[] = {1, 2};
    for (size_t s = 0; s < 4; s++) {
        cn_boot_result_t res;
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, 8, y, 2, all_stats[s], 1000, 0.95, 3, &res), 0);
        cr_assert_geq(res.ci_low, -1.0);
        cr_assert_leq(res.ci_high, 1.0);
        cr_assert_eq(res.estimate,
                     plain_stat(all_stats[s], x, 8) - plain_stat(all_stats[s], y, 2));
    }
    /* Constant samples: every resample is the sample. */
    double c1[] = {4, 4, 4}, c2[] = {1.5, 1.5};
    cn_boot_result_t res;
    cr_assert_eq(cn_stats_bootstrap_diff(c1, 3, c2, 2, CN_BOOT_P99, 100, 0.95, 0, &res),
                 0);
    cr_assert_eq(res.ci_low, 2.5);
    cr_assert_eq(res.ci_high, 2.5);
    cr_assert_eq(res.estimate, 2.5);
}

Test(bootstrap, large_samples_take_the_bucket_selection_path)
{
    /* n > 4096 selects within one 1/2048 bucket of the indices instead of
     * all of them; the statistics must still be order statistics of the
     * resample. With two values only, every resample p99 is 0, 1 or between
     * (type-7 interpolation), and the interval must contain the estimate. */
    size_t n = 10000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = i % 50 == 0;
        y[i] = i % 70 == 0;
    }
    for (size_t s = 1; s < 4; s++) {
        cn_boot_result_t a, b;
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, n, y, n, all_stats[s], 200, 0.95, 11, &a), 0);
        cr_assert_eq(
            cn_stats_bootstrap_diff(x, n, y, n, all_stats[s], 200, 0.95, 11, &b), 0);
        cr_assert_eq(a.ci_low, b.ci_low);
        cr_assert_geq(a.ci_low, -1.0);
        cr_assert_leq(a.ci_high, 1.0);
        cr_assert_eq(a.estimate,
                     plain_stat(all_stats[s], x, n) - plain_stat(all_stats[s], y, n));
    }
    /* A continuous case: the p95 interval of two large samples from the same
     * distribution brackets 0 and the estimate. */
    double *u = latencies(20000, 3.0, 12), *v = latencies(15000, 3.0, 13);
    cn_boot_result_t r;
    cr_assert_eq(
        cn_stats_bootstrap_diff(u, 20000, v, 15000, CN_BOOT_P95, 400, 0.99, 4, &r), 0);
    cr_assert_leq(r.ci_low, r.estimate);
    cr_assert_geq(r.ci_high, r.estimate);
    cr_assert_lt(r.ci_low, 0.0);
    cr_assert_gt(r.ci_high, 0.0);
    free(u);
    free(v);
    free(x);
    free(y);
}

Test(bootstrap, bad_input_is_rejected)
{
    double x[] = {1, 2, 3}, y[] = {2, 3, 4};
    double bad[] = {1, NAN, 3};
    cn_boot_result_t r;
    cr_assert_eq(cn_stats_bootstrap_diff(x, 1, y, 3, CN_BOOT_MEAN, 100, 0.95, 0, &r),
                 CN_ETOOFEW);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, y, 1, CN_BOOT_MEAN, 100, 0.95, 0, &r),
                 CN_ETOOFEW);
    cr_assert_eq(cn_stats_bootstrap_diff(bad, 3, y, 3, CN_BOOT_MEAN, 100, 0.95, 0, &r),
                 CN_ENONFINITE);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, bad, 3, CN_BOOT_P95, 100, 0.95, 0, &r),
                 CN_ENONFINITE);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, y, 3, CN_BOOT_MEAN, 99, 0.95, 0, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, y, 3, CN_BOOT_MEAN, 100, 0.0, 0, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, y, 3, CN_BOOT_MEAN, 100, 1.0, 0, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, y, 3, CN_BOOT_MEAN, 100, NAN, 0, &r),
                 CN_EINVAL);
    cr_assert_eq(
        cn_stats_bootstrap_diff(x, 3, y, 3, (cn_boot_stat_t)9, 100, 0.9, 0, &r),
        CN_EINVAL);
    cr_assert_eq(cn_stats_bootstrap_diff(NULL, 3, y, 3, CN_BOOT_MEAN, 100, 0.9, 0, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_bootstrap_diff(x, 3, y, 3, CN_BOOT_MEAN, 100, 0.9, 0, NULL),
                 CN_EINVAL);
}
