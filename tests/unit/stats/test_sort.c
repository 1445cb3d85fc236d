/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The radix sort and type-7 quantiles that every rank test builds on. */
#include "stats/stats.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* xorshift64*: a small deterministic generator for test data. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void check_against_qsort(double *v, size_t n)
{
    double *ref = malloc((n ? n : 1) * sizeof *ref);
    memcpy(ref, v, n * sizeof *v);
    qsort(ref, n, sizeof *ref, cmp_double);
    cn_stats_sort(v, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(v[i] == ref[i], "n=%zu: position %zu: %g != %g", n, i, v[i], ref[i]);
    free(ref);
}

Test(sort, orders_mixed_sign_values_like_qsort_at_every_size)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    size_t sizes[] = {0, 1, 2, 63, 64, 65, 1000, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        double *v = malloc((n ? n : 1) * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            double u = (double)(rng_next(&s) >> 11) / 9007199254740992.0;
            v[i] = (u - 0.5) * pow(10, (double)(rng_next(&s) % 40) - 20);
        }
        check_against_qsort(v, n);
        free(v);
    }
}

Test(sort, handles_extremes_subnormals_and_heavy_ties)
{
    double v[200];
    double special[] = {DBL_MAX,   -DBL_MAX, DBL_MIN, -DBL_MIN, 4.9e-324,
                        -4.9e-324, 0.0,      1.0,     -1.0,     1e300};
    for (size_t i = 0; i < 200; i++)
        v[i] = special[(i * 7) % 10];
    check_against_qsort(v, 200);
}

Test(sort, negative_zero_sorts_equal_to_zero_in_value_order)
{
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = (i % 3 == 0) ? -0.0 : (i % 3 == 1 ? 0.0 : -1.0);
    cn_stats_sort(v, 100);
    for (int i = 1; i < 100; i++)
        cr_assert(v[i - 1] <= v[i]);
}

Test(quantile, type7_matches_numpy_default)
{
    /* numpy.quantile([1,2,3,4,10], [0, .1, .5, .95, 1]) */
    double v[] = {1, 2, 3, 4, 10};
    cr_assert_float_eq(cn_stats_quantile_sorted(v, 5, 0.0), 1.0, 0);
    cr_assert_float_eq(cn_stats_quantile_sorted(v, 5, 0.1), 1.4, 1e-15);
    cr_assert_float_eq(cn_stats_quantile_sorted(v, 5, 0.5), 3.0, 0);
    cr_assert_float_eq(cn_stats_quantile_sorted(v, 5, 0.95), 8.8, 1e-14);
    cr_assert_float_eq(cn_stats_quantile_sorted(v, 5, 1.0), 10.0, 0);
    cr_assert_float_eq(cn_stats_quantile_sorted(v, 1, 0.7), 1.0, 0);
    cr_assert(isnan(cn_stats_quantile_sorted(v, 0, 0.5)));
}

Test(quantile, agrees_with_numpy_to_the_last_bit_above_the_midpoint)
{
    /* numpy.quantile([a, b], q) with t = q >= 0.5 computes b - (b-a)(1-t):
     * 0.27339535827952893 here, where a + (b-a) t gives ...529. */
    double v[] = {0.16065200877512686, 0.2768912040453708};
    cr_assert_eq(cn_stats_quantile_sorted(v, 2, 0.9699254132161326),
                 0.27339535827952893);
}

Test(count, below_and_at_most_bracket_a_tie_group)
{
    double v[] = {1, 2, 2, 2, 5};
    cr_assert_eq(cn_stats_count_below(v, 5, 2), 1);
    cr_assert_eq(cn_stats_count_at_most(v, 5, 2), 4);
    cr_assert_eq(cn_stats_count_below(v, 5, 0), 0);
    cr_assert_eq(cn_stats_count_at_most(v, 5, 9), 5);
    cr_assert_eq(cn_stats_count_below(v, 0, 1), 0);
}
