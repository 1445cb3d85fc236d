/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sample size and power against statsmodels: NormalIndPower for means (with
 * the two-sided far tail), Fleiss's formula as statsmodels'
 * samplesize_proportions_2indep_onetail / power_proportions_2indep for
 * proportions. Golden file: tests/golden/power.json
 * (tools/golden/gen_power.py).
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static int is(json_t *c, const char *key, const char *want)
{
    return strcmp(golden_str(c, key), want) == 0;
}

Test(power, means_sample_size_is_the_exact_root_of_statsmodels_power)
{
    json_t *root = golden_load("power");
    json_t *c;
    size_t i, seen = 0;
    json_array_foreach(golden_cases(root), i, c)
    {
        if (!is(c, "test", "means") || !is(c, "kind", "sample_size"))
            continue;
        double n;
        int two = (int)golden_num(c, "two_sided");
        cr_assert_eq(cn_stats_sample_size_means(
                         golden_num(c, "delta"), golden_num(c, "sd"),
                         golden_num(c, "alpha"), golden_num(c, "power"), two, &n),
                     0);
        assert_golden(n, golden_num(c, "n_exact"), GOLDEN_REL, "case %zu: n %.17g", i,
                      n);
        /* solve_power's own root finder stops at xtol = 1e-5. */
        if (json_object_get(c, "n_statsmodels"))
            assert_golden(n, golden_num(c, "n_statsmodels"), 1e-6, "case %zu", i);
        /* And the power at that n is the target. */
        double pw;
        cr_assert_eq(cn_stats_power_means(golden_num(c, "delta"), golden_num(c, "sd"),
                                          golden_num(c, "alpha"), n, two, &pw),
                     0);
        cr_assert_float_eq(pw, golden_num(c, "power"), 1e-12, "case %zu", i);
        seen++;
    }
    cr_assert_geq(seen, 10);
    json_decref(root);
}

Test(power, means_power_matches_statsmodels_including_the_far_tail)
{
    json_t *root = golden_load("power");
    json_t *c;
    size_t i, seen = 0;
    json_array_foreach(golden_cases(root), i, c)
    {
        if (!is(c, "test", "means") || !is(c, "kind", "power"))
            continue;
        double pw;
        cr_assert_eq(cn_stats_power_means(golden_num(c, "delta"), golden_num(c, "sd"),
                                          golden_num(c, "alpha"), golden_num(c, "n"),
                                          (int)golden_num(c, "two_sided"), &pw),
                     0);
        assert_golden(pw, golden_num(c, "power"), GOLDEN_REL, "case %zu: %.17g", i, pw);
        seen++;
    }
    cr_assert_geq(seen, 8);
    json_decref(root);
}

Test(power, one_sided_means_sample_size_is_the_closed_form)
{
    /* n = 2 (z_{1-alpha} + z_{power})^2 sd^2 / delta^2 */
    double n;
    cr_assert_eq(cn_stats_sample_size_means(2.0, 10.0, 0.05, 0.8, 0, &n), 0);
    double z = 1.6448536269514722 + 0.8416212335729143;
    cr_assert_float_eq(n, 2 * z * z * 100 / 4, 1e-9);
}

Test(power, props_sample_size_is_fleiss_as_statsmodels)
{
    json_t *root = golden_load("power");
    json_t *c;
    size_t i, seen = 0;
    json_array_foreach(golden_cases(root), i, c)
    {
        if (!is(c, "test", "props") || !is(c, "kind", "sample_size"))
            continue;
        double n;
        cr_assert_eq(
            cn_stats_sample_size_props(golden_num(c, "p1"), golden_num(c, "p2"),
                                       golden_num(c, "alpha"), golden_num(c, "power"),
                                       (int)golden_num(c, "two_sided"), &n),
            0);
        assert_golden(n, golden_num(c, "n"), GOLDEN_REL, "case %zu: %.17g", i, n);
        /* Cohen's arcsine approximation lands within a few percent. */
        double arc = golden_num(c, "n_arcsine");
        cr_expect_lt(fabs(n - arc) / n, 0.04, "case %zu: fleiss %g arcsine %g", i, n,
                     arc);
        seen++;
    }
    cr_assert_geq(seen, 8);
    json_decref(root);
}

Test(power, props_power_matches_statsmodels)
{
    json_t *root = golden_load("power");
    json_t *c;
    size_t i, seen = 0;
    json_array_foreach(golden_cases(root), i, c)
    {
        if (!is(c, "test", "props") || !is(c, "kind", "power"))
            continue;
        double pw;
        cr_assert_eq(cn_stats_power_props(golden_num(c, "p1"), golden_num(c, "p2"),
                                          golden_num(c, "alpha"), golden_num(c, "n"),
                                          (int)golden_num(c, "two_sided"), &pw),
                     0);
        assert_golden(pw, golden_num(c, "power"), GOLDEN_REL, "case %zu: %.17g", i, pw);
        seen++;
    }
    cr_assert_geq(seen, 6);
    json_decref(root);
}

Test(power, props_power_at_the_fleiss_n_is_the_target_plus_the_far_tail)
{
    double n, pw, one;
    cr_assert_eq(cn_stats_sample_size_props(0.10, 0.12, 0.05, 0.8, 1, &n), 0);
    cr_assert_eq(cn_stats_power_props(0.10, 0.12, 0.05, n, 1, &pw), 0);
    cr_assert_geq(pw, 0.8);
    cr_assert_lt(pw - 0.8, 1e-5);
    cr_assert_eq(cn_stats_sample_size_props(0.10, 0.12, 0.05, 0.8, 0, &n), 0);
    cr_assert_eq(cn_stats_power_props(0.10, 0.12, 0.05, n, 0, &one), 0);
    cr_assert_float_eq(one, 0.8, 1e-12);
}

Test(power, power_grows_with_n_and_effect)
{
    double a, b, c;
    cr_assert_eq(cn_stats_power_means(1, 5, 0.05, 100, 1, &a), 0);
    cr_assert_eq(cn_stats_power_means(1, 5, 0.05, 400, 1, &b), 0);
    cr_assert_eq(cn_stats_power_means(2, 5, 0.05, 100, 1, &c), 0);
    cr_assert_lt(a, b);
    cr_assert_lt(a, c);
    cr_assert_float_eq(b, c, 1e-12, "4x the traffic = 2x the effect");
}

Test(power, bad_parameters_are_rejected)
{
    double out;
    cr_assert_eq(cn_stats_sample_size_means(0, 1, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(-1, 1, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(1, 0, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(NAN, 1, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(1, INFINITY, 0.05, 0.8, 1, &out),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(1, 1, 0, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(1, 1, 1, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(1, 1, 0.05, 1, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_means(1, 1, 0.05, 0.05, 1, &out), CN_EINVAL,
                 "power <= alpha needs no data");
    cr_assert_eq(cn_stats_sample_size_means(1, 1, 0.05, 0.8, 1, NULL), CN_EINVAL);
    cr_assert_eq(cn_stats_power_means(1, 1, 0.05, 0, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_power_means(1, 1, 0.05, NAN, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_power_means(1, 1, 1.5, 10, 1, &out), CN_EINVAL);

    cr_assert_eq(cn_stats_sample_size_props(0.1, 0.1, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_props(0, 0.1, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_props(0.1, 1, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_props(0.1, 0.2, 0.05, 0.0, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_props(0.1, 0.2, -0.1, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_props(0.1, 0.2, 0.05, 0.01, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_props(0.1, NAN, 0.05, 0.8, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_power_props(0.1, 0.2, 0.05, -3, 1, &out), CN_EINVAL);
    cr_assert_eq(cn_stats_power_props(0.1, 0.2, 0.05, 10, 1, NULL), CN_EINVAL);
}

Test(power, noninf_rate_design_powers_both_the_pass_and_the_fail)
{
    double n, pass, fail;
    cr_assert_eq(cn_stats_sample_size_noninf_props(0.05, 0.01, CN_DIR_LOWER_IS_BETTER,
                                                   0.05, 0.8, &n),
                 0);
    cr_assert_eq(cn_stats_sample_size_props(0.05, 0.06, 0.05, 0.8, 0, &pass), 0);
    cr_assert_eq(cn_stats_sample_size_props(0.06, 0.07, 0.05, 0.8, 0, &fail), 0);
    cr_assert_float_eq(n, fail > pass ? fail : pass, 1e-6);
    cr_assert_gt(fail, pass, "the harm side, at higher variance, needs more");
    /* Higher-is-better mirrors the steps downwards. */
    cr_assert_eq(cn_stats_sample_size_noninf_props(0.2, 0.02, CN_DIR_HIGHER_IS_BETTER,
                                                   0.05, 0.8, &n),
                 0);
    cr_assert_eq(cn_stats_sample_size_props(0.2, 0.18, 0.05, 0.8, 0, &pass), 0);
    cr_assert_eq(cn_stats_sample_size_props(0.18, 0.16, 0.05, 0.8, 0, &fail), 0);
    cr_assert_float_eq(n, fail > pass ? fail : pass, 1e-6);
    cr_assert_eq(cn_stats_sample_size_noninf_props(0.05, 0, CN_DIR_LOWER_IS_BETTER,
                                                   0.05, 0.8, &n),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_sample_size_noninf_props(0.6, 0.3, CN_DIR_LOWER_IS_BETTER,
                                                   0.05, 0.8, &n),
                 CN_EINVAL);
}
