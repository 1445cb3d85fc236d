/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The two-sample Kolmogorov-Smirnov test (src/stats/ks.c) against
 * scipy.stats.ks_2samp of scipy 1.10 for every alternative and method, the
 * one-sample distributions behind its asymptotic p-values
 * (src/stats/kolmogorov.c) against scipy.stats.kstwo.sf and
 * scipy.special.smirnov, and the error contract.
 */
#include "golden.h"
#include "stats/kolmogorov.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static cn_ks_method_t method_of(const char *name)
{
    if (strcmp(name, "auto") == 0)
        return CN_KS_AUTO;
    if (strcmp(name, "exact") == 0)
        return CN_KS_EXACT;
    cr_assert_str_eq(name, "asymp");
    return CN_KS_ASYMPTOTIC;
}

static double max_rel_err_d, max_rel_err_p;

static void note_err(double *worst, double got, double want)
{
    if (isfinite(got) && isfinite(want) && got != want)
        *worst = fmax(*worst, fabs(got - want) / fmax(fabs(got), fabs(want)));
}

/*
 * Run cn_stats_ks2 on every run of every "ks2" golden case in `group` and
 * compare D, the p-value and the method actually used. Returns how many
 * runs were checked.
 */
static size_t check_group_against_scipy(const char *group)
{
    json_t *root = golden_load("ks");
    json_t *cases = golden_cases(root);
    size_t idx, checked = 0;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        if (strcmp(golden_str(c, "kind"), "ks2") != 0 ||
            strcmp(golden_str(c, "group"), group) != 0)
            continue;
        const char *name = golden_str(c, "name");
        size_t nx, ny, ridx;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        json_t *r;
        json_array_foreach(json_object_get(c, "runs"), ridx, r)
        {
            cn_alternative_t alt;
            cr_assert_eq(cn_stats_parse_alternative(golden_str(r, "alternative"), &alt),
                         0);
            cn_ks_method_t method = method_of(golden_str(r, "method"));
#define LABEL "%s [%s, %s]", name, golden_str(r, "alternative"), golden_str(r, "method")
            cn_ks_result_t res;
            int rc = cn_stats_ks2(x, nx, y, ny, alt, method, &res);
            if (json_object_get(r, "expect_error")) {
                /* scipy: nan */
                cr_assert_str_eq(golden_str(r, "expect_error"), "CN_ETOOFEW", LABEL);
                cr_assert_eq(rc, CN_ETOOFEW, LABEL);
                checked++;
                continue;
            }
            cr_assert_eq(rc, 0, LABEL);
            cr_assert_eq(res.method, method_of(golden_str(r, "method_used")), LABEL);
            double want_d = golden_num(r, "statistic"),
                   want_p = golden_num(r, "pvalue");
            assert_golden(res.d, want_d, GOLDEN_REL, LABEL);
            assert_golden(res.pvalue, want_p, GOLDEN_REL, LABEL);
            note_err(&max_rel_err_d, res.d, want_d);
            note_err(&max_rel_err_p, res.pvalue, want_p);
#undef LABEL
            checked++;
        }
        free(x);
        free(y);
    }
    json_decref(root);
    cr_log_info("ks2 [%s] vs scipy: %zu runs, max relative error D %.3g, p %.3g", group,
                checked, max_rel_err_d, max_rel_err_p);
    return checked;
}

Test(ks2, tiny_samples_of_one_to_three_match_scipy)
{
    cr_assert_gt(check_group_against_scipy("tiny"), 0);
}

Test(ks2, ties_within_and_between_samples_match_scipy)
{
    cr_assert_gt(check_group_against_scipy("ties"), 0);
}

Test(ks2, equal_samples_match_scipy)
{
    cr_assert_gt(check_group_against_scipy("equal"), 0);
}

Test(ks2, constant_samples_match_scipy)
{
    cr_assert_gt(check_group_against_scipy("constant"), 0);
}

Test(ks2, unequal_sizes_with_various_gcd_match_scipy_exact_and_asymptotic)
{
    cr_assert_gt(check_group_against_scipy("sizes"), 0);
}

Test(ks2, falls_back_from_exact_to_asymptotic_where_scipy_does)
{
    /* 5 vs 5 at D = 0.2: the exact sum rounds to 1 + 2^-52; one-sided
     * 600 vs 700: C(1300, 600) overflows */
    cr_assert_gt(check_group_against_scipy("fallback"), 0);
}

Test(ks2, auto_is_exact_up_to_10000_and_asymptotic_beyond)
{
    cr_assert_gt(check_group_against_scipy("auto_limit"), 0);
}

Test(ks2, samples_of_100000_match_scipy)
{
    cr_assert_gt(check_group_against_scipy("large"), 0);
}

/* Compare one of the one-sample distributions with its golden values. */
static size_t check_one_sample(const char *kind, double (*sf)(int64_t, double))
{
    json_t *root = golden_load("ks");
    json_t *cases = golden_cases(root);
    size_t idx, checked = 0;
    double worst = 0;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        if (strcmp(golden_str(c, "kind"), kind) != 0)
            continue;
        int64_t n = (int64_t)golden_num(c, "n");
        double d = golden_num(c, "d"), want = golden_num(c, "sf");
        double got = sf(n, d);
        assert_golden(got, want, GOLDEN_REL, "%s n=%lld d=%.17g: got %.17g want %.17g",
                      kind, (long long)n, d, got, want);
        note_err(&worst, got, want);
        checked++;
    }
    json_decref(root);
    cr_log_info("%s vs scipy: %zu values, max relative error %.3g", kind, checked,
                worst);
    return checked;
}

Test(kstwo, one_sample_sf_matches_scipy_kstwo_in_every_branch)
{
    cr_assert_gt(check_one_sample("kstwo", cn__stats_kstwo_sf), 0);
}

Test(kstwo, smirnov_one_sided_sf_matches_scipy_special_smirnov)
{
    cr_assert_gt(check_one_sample("smirnov", cn__stats_smirnov_sf), 0);
}

Test(kstwo, distribution_edges)
{
    cr_assert_eq(cn__stats_kstwo_sf(10, 0.0), 1.0);
    cr_assert_eq(cn__stats_kstwo_sf(10, 0.05), 1.0); /* d <= 1/(2n) */
    cr_assert_eq(cn__stats_kstwo_sf(10, 1.0), 0.0);
    /* d >= 1 - 1/n: 2 (1 - d)^n */
    assert_golden(cn__stats_kstwo_sf(10, 0.95), 2 * pow(1.0 - 0.95, 10), 1e-15, "top");
    cr_assert(isnan(cn__stats_kstwo_sf(0, 0.5)));
    cr_assert_eq(cn__stats_smirnov_sf(1, 0.25), 0.75);
    cr_assert(isnan(cn__stats_smirnov_sf(5, 1.5)));
}

/* ------------------------------------------------------ specification */

Test(ks2, identical_samples_give_d_zero_and_p_one_for_every_method)
{
    const double x[] = {3, 1, 4, 1, 5, 9, 2, 6};
    cn_ks_method_t methods[] = {CN_KS_AUTO, CN_KS_EXACT, CN_KS_ASYMPTOTIC};
    cn_alternative_t alts[] = {CN_ALT_TWO_SIDED, CN_ALT_LESS, CN_ALT_GREATER};
    for (int m = 0; m < 3; m++)
        for (int a = 0; a < 3; a++) {
            cn_ks_result_t r;
            cr_assert_eq(cn_stats_ks2(x, 8, x, 8, alts[a], methods[m], &r), 0);
            cr_assert_eq(r.d, 0.0);
            cr_assert_eq(signbit(r.d), 0, "D is +0");
            cr_assert_eq(r.pvalue, 1.0);
        }
}

Test(ks2, greater_means_the_cdf_of_x_lies_above_that_of_y)
{
    /* x entirely below y: F_x reaches 1 before F_y leaves 0, so D+ = 1 and
     * D- = 0. Exactly, P(D+ >= 1) = 1 / C(6, 3) = 1/20, and the two-sided
     * p doubles it. */
    const double x[] = {1, 2, 3}, y[] = {4, 5, 6};
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(x, 3, y, 3, CN_ALT_GREATER, CN_KS_EXACT, &r), 0);
    cr_assert_eq(r.d, 1.0);
    assert_golden(r.pvalue, 0.05, 1e-15, "p = %.17g", r.pvalue);
    cr_assert_eq(cn_stats_ks2(x, 3, y, 3, CN_ALT_LESS, CN_KS_EXACT, &r), 0);
    cr_assert_eq(r.d, 0.0);
    cr_assert_eq(r.pvalue, 1.0);
    cr_assert_eq(cn_stats_ks2(x, 3, y, 3, CN_ALT_TWO_SIDED, CN_KS_EXACT, &r), 0);
    cr_assert_eq(r.d, 1.0);
    assert_golden(r.pvalue, 0.1, 1e-15, "p = %.17g", r.pvalue);
    cr_assert_eq(r.method, CN_KS_EXACT);
}

Test(ks2, swapping_the_samples_swaps_less_and_greater)
{
    const double x[] = {0.3, 1.2, 2.2, 2.9, 4.1, 5.0, 0.7};
    const double y[] = {1.0, 1.5, 3.3, 6.0, 7.5};
    cn_ks_result_t less_xy, greater_yx;
    cr_assert_eq(cn_stats_ks2(x, 7, y, 5, CN_ALT_LESS, CN_KS_AUTO, &less_xy), 0);
    cr_assert_eq(cn_stats_ks2(y, 5, x, 7, CN_ALT_GREATER, CN_KS_AUTO, &greater_yx), 0);
    cr_assert_eq(less_xy.d, greater_yx.d);
    assert_golden(less_xy.pvalue, greater_yx.pvalue, 1e-12, "p");
}

Test(ks2, reports_the_method_actually_used)
{
    /* max(n1, n2) = 10001 > 10000: auto is asymptotic ... */
    size_t n = 46342;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i;
        y[i] = (double)i + 0.5;
    }
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(x, 10001, y, 10001, CN_ALT_TWO_SIDED, CN_KS_AUTO, &r), 0);
    cr_assert_eq(r.method, CN_KS_ASYMPTOTIC);
    /* ... while forced exact works there: equal sizes, lcm = n */
    cr_assert_eq(cn_stats_ks2(x, 10001, y, 10001, CN_ALT_TWO_SIDED, CN_KS_EXACT, &r),
                 0);
    cr_assert_eq(r.method, CN_KS_EXACT);
    cr_assert_eq(r.d, 1.0 / 10001);
    /* ... and with coprime sizes while lcm = 46341 * 46340 < 2^31 - 1 ... */
    cr_assert_eq(cn_stats_ks2(x, n - 1, y, n - 2, CN_ALT_TWO_SIDED, CN_KS_EXACT, &r),
                 0);
    cr_assert_eq(r.method, CN_KS_EXACT);
    /* ... but not beyond: 46342 * 46341 > 2^31 - 1 */
    cr_assert_eq(cn_stats_ks2(x, n, y, n - 1, CN_ALT_TWO_SIDED, CN_KS_EXACT, &r), 0);
    cr_assert_eq(r.method, CN_KS_ASYMPTOTIC);
    free(x);
    free(y);
    cr_assert_str_eq(cn_stats_ks_method_name(CN_KS_AUTO), "auto");
    cr_assert_str_eq(cn_stats_ks_method_name(CN_KS_EXACT), "exact");
    cr_assert_str_eq(cn_stats_ks_method_name(CN_KS_ASYMPTOTIC), "asymp");
}

/* scipy's definition, plainly: sort, then for every pooled value t take
 * (#x <= t)/n1 - (#y <= t)/n2, and the max and min of those doubles. */
static int cmp_double(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

static void reference_extremes(const double *x, size_t n1, const double *y, size_t n2,
                               double *dmax, double *dmin)
{
    double *xs = malloc(n1 * sizeof *xs), *ys = malloc(n2 * sizeof *ys);
    memcpy(xs, x, n1 * sizeof *xs);
    memcpy(ys, y, n2 * sizeof *ys);
    qsort(xs, n1, sizeof *xs, cmp_double);
    qsort(ys, n2, sizeof *ys, cmp_double);
    *dmax = -INFINITY;
    *dmin = INFINITY;
    size_t i = 0, j = 0;
    for (size_t k = 0; k < n1 + n2; k++) {
        double t = k < n1 ? x[k] : y[k - n1];
        /* counts of values <= t, by monotone pointers over sorted t would
         * be faster; binary search keeps the reference obviously right */
        size_t lo = 0, hi = n1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (xs[mid] <= t)
                lo = mid + 1;
            else
                hi = mid;
        }
        i = lo;
        lo = 0;
        hi = n2;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ys[mid] <= t)
                lo = mid + 1;
            else
                hi = mid;
        }
        j = lo;
        double diff = (double)i / (double)n1 - (double)j / (double)n2;
        *dmax = fmax(*dmax, diff);
        *dmin = fmin(*dmin, diff);
    }
    free(xs);
    free(ys);
}

Test(ks2, statistic_of_large_samples_equals_scipys_definition_bit_for_bit)
{
    /* >= 32768 pooled values take the bucket-histogram path (and, for
     * heavily tied data, its fallback to sorting everything) */
    size_t n1 = 40000, n2 = 30011;
    double *x = malloc(n1 * sizeof *x), *y = malloc(n2 * sizeof *y);
    unsigned long long state = 12345;
    for (int kind = 0; kind < 5; kind++) {
        for (size_t k = 0; k < n1 + n2; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(state >> 11) * 0x1p-53; /* [0, 1) */
            double v;
            switch (kind) {
            case 0: /* log-uniform over 12 decades, as latencies */
                v = pow(10.0, 12 * u - 6);
                break;
            case 1: /* integers 0..9: heavy ties between samples */
                v = floor(10 * u);
                break;
            case 2: /* signed zeros and a few values */
                v = u < 0.3 ? -0.0 : u < 0.6 ? 0.0 : floor(4 * u) - 2;
                break;
            case 3: /* a narrow cluster with far outliers */
                v = u < 0.001 ? 1e300 : u > 0.999 ? -1e300 : 1.0 + u * 1e-9;
                break;
            default: /* x uniform, y shifted */
                v = k < n1 ? u : u + 0.01;
                break;
            }
            if (k < n1)
                x[k] = v;
            else
                y[k - n1] = v;
        }
        double dmax, dmin;
        reference_extremes(x, n1, y, n2, &dmax, &dmin);
        cn_ks_result_t r;
        cr_assert_eq(cn_stats_ks2(x, n1, y, n2, CN_ALT_GREATER, CN_KS_ASYMPTOTIC, &r),
                     0);
        cr_assert_eq(r.d, dmax, "kind %d: D+ %.17g want %.17g", kind, r.d, dmax);
        cr_assert_eq(cn_stats_ks2(x, n1, y, n2, CN_ALT_LESS, CN_KS_ASYMPTOTIC, &r), 0);
        cr_assert_eq(r.d, fmax(-dmin, 0.0), "kind %d: D- %.17g want %.17g", kind, r.d,
                     -dmin);
    }
    free(x);
    free(y);
}

Test(ks2, does_not_modify_its_inputs)
{
    double x[] = {5, 3, 1, 4}, y[] = {2, 8, 0};
    const double x0[] = {5, 3, 1, 4}, y0[] = {2, 8, 0};
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(x, 4, y, 3, CN_ALT_TWO_SIDED, CN_KS_AUTO, &r), 0);
    cr_assert_arr_eq(x, x0, sizeof x);
    cr_assert_arr_eq(y, y0, sizeof y);
}

Test(ks2, rejects_empty_samples)
{
    const double x[] = {1, 2};
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(x, 2, x, 0, CN_ALT_TWO_SIDED, CN_KS_AUTO, &r),
                 CN_ETOOFEW);
    cr_assert_eq(cn_stats_ks2(x, 0, x, 2, CN_ALT_TWO_SIDED, CN_KS_AUTO, &r),
                 CN_ETOOFEW);
    cr_assert_eq(cn_stats_ks2(NULL, 0, NULL, 0, CN_ALT_LESS, CN_KS_EXACT, &r),
                 CN_ETOOFEW);
}

Test(ks2, rejects_nan_and_infinity)
{
    const double ok[] = {1, 2, 3};
    const double with_nan[] = {1, NAN, 3};
    const double with_inf[] = {1, 2, -INFINITY};
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(with_nan, 3, ok, 3, CN_ALT_TWO_SIDED, CN_KS_AUTO, &r),
                 CN_ENONFINITE);
    cr_assert_eq(cn_stats_ks2(ok, 3, with_inf, 3, CN_ALT_GREATER, CN_KS_AUTO, &r),
                 CN_ENONFINITE);
}

Test(ks2, rejects_bad_parameters)
{
    const double x[] = {1, 2, 3};
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(x, 3, x, 3, (cn_alternative_t)7, CN_KS_AUTO, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_ks2(x, 3, x, 3, CN_ALT_LESS, (cn_ks_method_t)-1, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_ks2(x, 3, x, 3, CN_ALT_LESS, CN_KS_AUTO, NULL), CN_EINVAL);
    cr_assert_eq(cn_stats_ks2(NULL, 3, x, 3, CN_ALT_LESS, CN_KS_AUTO, &r), CN_EINVAL);
}

Test(ks2, two_sided_asymptotic_with_one_observation_each_is_too_few)
{
    /* n = round(1 * 1 / 2) = 0 (half to even): scipy's kstwo gives nan */
    const double x[] = {1}, y[] = {2};
    cn_ks_result_t r;
    cr_assert_eq(cn_stats_ks2(x, 1, y, 1, CN_ALT_TWO_SIDED, CN_KS_ASYMPTOTIC, &r),
                 CN_ETOOFEW);
    /* the exact p-value is fine: P(D >= 1) = 1 */
    cr_assert_eq(cn_stats_ks2(x, 1, y, 1, CN_ALT_TWO_SIDED, CN_KS_AUTO, &r), 0);
    cr_assert_eq(r.pvalue, 1.0);
}
