/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The exact Wilcoxon-Mann-Whitney null distribution (src/stats/wilcox.c):
 * cdf and quantile against R 4.2's pwilcox/qwilcox, cdf and survival
 * function against exact big-integer counts for sizes R cannot reach, and
 * the error contract.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_reference(json_t *c, const char *ref)
{
    return strcmp(golden_str(c, "reference"), ref) == 0;
}

static size_t size_field(json_t *c, const char *key)
{
    return (size_t)golden_num(c, key);
}

static double rel_err(double got, double want)
{
    if (got == want)
        return 0;
    return fabs(got - want) / fmax(fabs(got), fabs(want));
}

/* Compare one of the cdf / sf columns of every case of the given reference. */
static void check_column(const char *ref, const char *xs_key, const char *ys_key,
                         int (*fn)(double, size_t, size_t, double *))
{
    json_t *root = golden_load("wilcox");
    json_t *cases = golden_cases(root);
    size_t idx, checked = 0;
    json_t *c;
    double worst = 0;
    json_array_foreach(cases, idx, c)
    {
        if (!is_reference(c, ref))
            continue;
        size_t n = size_field(c, "n"), m = size_field(c, "m"), len, len2;
        double *us = golden_doubles(c, xs_key, &len);
        double *want = golden_doubles(c, ys_key, &len2);
        cr_assert_eq(len, len2);
        for (size_t i = 0; i < len; i++) {
            double got;
            cr_assert_eq(fn(us[i], n, m, &got), 0);
            assert_golden(got, want[i], GOLDEN_REL,
                          "%s(%g; n=%zu, m=%zu) = %.17g, %s says %.17g", ys_key, us[i],
                          n, m, got, ref, want[i]);
            worst = fmax(worst, rel_err(got, want[i]));
            checked++;
        }
        free(us);
        free(want);
    }
    cr_assert_gt(checked, 0);
    cr_log_info("wilcox %s vs %s: %zu values, max relative error %.3g", ys_key, ref,
                checked, worst);
    json_decref(root);
}

Test(wilcox, cdf_matches_r_pwilcox)
{
    check_column("R", "cdf_u", "cdf", cn_stats_wilcox_cdf);
}

Test(wilcox, sf_matches_r_upper_tail)
{
    check_column("R", "sf_u", "sf", cn_stats_wilcox_sf);
}

Test(wilcox, cdf_matches_exact_counts_up_to_the_size_limit)
{
    check_column("exact", "cdf_u", "cdf", cn_stats_wilcox_cdf);
}

Test(wilcox, sf_matches_exact_counts_up_to_the_size_limit)
{
    check_column("exact", "sf_u", "sf", cn_stats_wilcox_sf);
}

Test(wilcox, quantile_equals_r_qwilcox_exactly)
{
    json_t *root = golden_load("wilcox");
    json_t *cases = golden_cases(root);
    size_t idx, checked = 0;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        if (!is_reference(c, "R"))
            continue;
        size_t n = size_field(c, "n"), m = size_field(c, "m"), len, len2;
        double *ps = golden_doubles(c, "quantile_p", &len);
        double *want = golden_doubles(c, "quantile", &len2);
        cr_assert_eq(len, len2);
        for (size_t i = 0; i < len; i++) {
            double got;
            cr_assert_eq(cn_stats_wilcox_quantile(ps[i], n, m, &got), 0);
            cr_assert_eq(got, want[i], "qwilcox(%.17g, %zu, %zu): got %g, R says %g",
                         ps[i], n, m, got, want[i]);
            checked++;
        }
        free(ps);
        free(want);
    }
    cr_assert_gt(checked, 0);
    json_decref(root);
}

Test(wilcox, two_by_two_distribution_by_hand)
{
    /* The 6 interleavings of two x's and two y's have U = 0,1,2,2,3,4. */
    static const double cdf[] = {1.0 / 6, 2.0 / 6, 4.0 / 6, 5.0 / 6, 1.0};
    for (int u = 0; u <= 4; u++) {
        double got, sf;
        cr_assert_eq(cn_stats_wilcox_cdf(u, 2, 2, &got), 0);
        cr_assert_float_eq(got, cdf[u], 1e-15, "P(U <= %d)", u);
        cr_assert_eq(cn_stats_wilcox_sf(u, 2, 2, &sf), 0);
        cr_assert_float_eq(sf, u == 0 ? 1.0 : 1.0 - cdf[u - 1], 1e-15, "P(U >= %d)", u);
    }
    double q;
    cr_assert_eq(cn_stats_wilcox_quantile(0.5, 2, 2, &q), 0);
    cr_assert_eq(q, 2);
}

Test(wilcox, cdf_is_zero_below_and_one_at_the_top_of_the_support)
{
    double p;
    cr_assert_eq(cn_stats_wilcox_cdf(-0.5, 5, 7, &p), 0);
    cr_assert_eq(p, 0);
    cr_assert_eq(cn_stats_wilcox_cdf(35, 5, 7, &p), 0);
    cr_assert_eq(p, 1);
    cr_assert_eq(cn_stats_wilcox_sf(0, 5, 7, &p), 0);
    cr_assert_eq(p, 1);
    cr_assert_eq(cn_stats_wilcox_sf(35.5, 5, 7, &p), 0);
    cr_assert_eq(p, 0);
}

Test(wilcox, distribution_is_symmetric_about_nm_over_2)
{
    for (double u = 0; u <= 12 * 13; u += 7) {
        double lower, upper;
        cr_assert_eq(cn_stats_wilcox_cdf(u, 12, 13, &lower), 0);
        cr_assert_eq(cn_stats_wilcox_sf(12 * 13 - u, 12, 13, &upper), 0);
        assert_golden(lower, upper, 1e-14, "P(U <= %g) vs P(U >= nm - %g)", u, u);
    }
}

Test(wilcox, quantile_is_the_smallest_u_reaching_p)
{
    static const double ps[] = {0.01, 0.025, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975, 0.99};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double q, at, below;
        cr_assert_eq(cn_stats_wilcox_quantile(ps[i], 9, 11, &q), 0);
        cr_assert_eq(cn_stats_wilcox_cdf(q, 9, 11, &at), 0);
        cr_assert_eq(cn_stats_wilcox_cdf(q - 1, 9, 11, &below), 0);
        cr_assert(at >= ps[i] && below < ps[i], "p = %g: q = %g", ps[i], q);
    }
}

Test(wilcox, rejects_empty_samples)
{
    double out;
    cr_assert_eq(cn_stats_wilcox_cdf(1, 0, 5, &out), CN_ETOOFEW);
    cr_assert_eq(cn_stats_wilcox_sf(1, 5, 0, &out), CN_ETOOFEW);
    cr_assert_eq(cn_stats_wilcox_quantile(0.5, 0, 0, &out), CN_ETOOFEW);
}

Test(wilcox, rejects_sizes_beyond_the_documented_limits)
{
    double out;
    /* n * m over CN_WILCOX_MAX_NM */
    cr_assert_eq(cn_stats_wilcox_cdf(1, 2, CN_WILCOX_MAX_NM / 2 + 1, &out), CN_ETOOBIG);
    /* min(n, m) over CN_WILCOX_MAX_MIN, though n * m is small enough */
    cr_assert_eq(
        cn_stats_wilcox_sf(1, CN_WILCOX_MAX_MIN + 1, CN_WILCOX_MAX_MIN + 1, &out),
        CN_ETOOBIG);
    cr_assert_eq(cn_stats_wilcox_quantile(0.5, SIZE_MAX / 2, 4, &out), CN_ETOOBIG);
    /* the limits themselves are allowed */
    cr_assert_eq(cn_stats_wilcox_cdf(1, 2, CN_WILCOX_MAX_NM / 2, &out), 0);
    /* P(U <= 1) = #{U = 0, U = 1} / C(m + 2, 2) = 2 / C(m + 2, 2) */
    double m = CN_WILCOX_MAX_NM / 2;
    assert_golden(out, 2 / ((m + 2) * (m + 1) / 2), 1e-14, "P(U <= 1; 2, %g)", m);
}

Test(wilcox, rejects_non_finite_arguments)
{
    double out;
    cr_assert_eq(cn_stats_wilcox_cdf(NAN, 3, 4, &out), CN_ENONFINITE);
    cr_assert_eq(cn_stats_wilcox_sf(INFINITY, 3, 4, &out), CN_ENONFINITE);
    cr_assert_eq(cn_stats_wilcox_quantile(NAN, 3, 4, &out), CN_ENONFINITE);
}

Test(wilcox, rejects_probabilities_outside_0_1)
{
    double out;
    cr_assert_eq(cn_stats_wilcox_quantile(-0.01, 3, 4, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_wilcox_quantile(1.01, 3, 4, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_wilcox_quantile(0, 3, 4, &out), 0);
    cr_assert_eq(out, 0);
    cr_assert_eq(cn_stats_wilcox_quantile(1, 3, 4, &out), 0);
    cr_assert_eq(out, 12);
}
