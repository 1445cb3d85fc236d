/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Welch's t-test against scipy.stats.ttest_ind(equal_var=False): the
 * statistic, the Welch-Satterthwaite df and the p-value of every
 * alternative to 1e-9 relative, tails included, plus the confidence
 * interval and the error cases. Golden file: tests/golden/welch.json
 * (tools/golden/gen_welch.py).
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *key;
    cn_alternative_t alt;
} alts[] = {
    {"p_two_sided", CN_ALT_TWO_SIDED},
    {"p_less", CN_ALT_LESS},
    {"p_greater", CN_ALT_GREATER},
};

Test(welch, statistic_df_and_pvalues_match_scipy_for_every_alternative)
{
    json_t *root = golden_load("welch");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if (json_object_get(c, "error"))
            continue;
        const char *name = golden_str(c, "name");
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        for (size_t a = 0; a < 3; a++) {
            cn_welch_result_t r;
            int rc = cn_stats_welch(x, nx, y, ny, alts[a].alt, &r);
            cr_assert_eq(rc, 0, "%s: rc %d", name, rc);
            assert_golden(r.t, golden_num(c, "t"), GOLDEN_REL, "%s: t %.17g", name,
                          r.t);
            assert_golden(r.df, golden_num(c, "df"), GOLDEN_REL, "%s: df %.17g", name,
                          r.df);
            assert_golden(r.se, golden_num(c, "se"), GOLDEN_REL, "%s: se", name);
            assert_golden(r.mean_x, golden_num(c, "mean_x"), GOLDEN_REL, "%s: mean_x",
                          name);
            assert_golden(r.mean_y, golden_num(c, "mean_y"), GOLDEN_REL, "%s: mean_y",
                          name);
            double want = golden_num(c, alts[a].key);
            assert_golden(r.pvalue, want, GOLDEN_REL, "%s %s: p %.17g want %.17g", name,
                          alts[a].key, r.pvalue, want);
            checked++;
        }
        free(x);
        free(y);
    }
    cr_assert_geq(checked, 60);
    json_decref(root);
}

Test(welch, moments_are_bit_identical_to_numpy)
{
    /* numpy's pairwise summation is reproduced exactly, so t, df and the
     * means do not just agree to 1e-9: they are the same doubles. */
    json_t *root = golden_load("welch");
    json_t *c;
    size_t i;
    json_array_foreach(golden_cases(root), i, c)
    {
        /* Constant samples are the documented exception: their mean is
         * their value, where numpy's may be off by an ulp. */
        const char *name = golden_str(c, "name");
        if (json_object_get(c, "error") || strstr(name, "constant"))
            continue;
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_welch_result_t r;
        cr_assert_eq(cn_stats_welch(x, nx, y, ny, CN_ALT_TWO_SIDED, &r), 0);
        cr_expect_eq(r.mean_x, golden_num(c, "mean_x"), "%s", name);
        cr_expect_eq(r.mean_y, golden_num(c, "mean_y"), "%s", name);
        cr_expect_eq(r.t, golden_num(c, "t"), "%s", name);
        cr_expect_eq(r.df, golden_num(c, "df"), "%s", name);
        free(x);
        free(y);
    }
    json_decref(root);
}

Test(welch, very_small_pvalues_keep_full_relative_accuracy)
{
    /* p = 1e-252 at df = 3243 and 2e-20 at df = 4.9: the tail is computed
     * as in TOMS 708, not as 1 - cdf. */
    json_t *root = golden_load("welch");
    json_t *c;
    size_t i, seen = 0;
    json_array_foreach(golden_cases(root), i, c)
    {
        const char *name = golden_str(c, "name");
        if (strncmp(name, "tiny_p_", 7) != 0)
            continue;
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_welch_result_t r;
        cr_assert_eq(cn_stats_welch(x, nx, y, ny, CN_ALT_LESS, &r), 0);
        cr_assert_lt(r.pvalue, 1e-19, "%s", name);
        assert_golden(r.pvalue, golden_num(c, "p_less"), 1e-12, "%s: %.17g", name,
                      r.pvalue);
        seen++;
        free(x);
        free(y);
    }
    cr_assert_eq(seen, 3);
    json_decref(root);
}

Test(welch, confidence_interval_uses_the_exact_t_quantile)
{
    json_t *root = golden_load("welch");
    json_t *c;
    size_t i;
    json_array_foreach(golden_cases(root), i, c)
    {
        if (json_object_get(c, "error"))
            continue;
        const char *name = golden_str(c, "name");
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_welch_result_t r;
        cr_assert_eq(cn_stats_welch(x, nx, y, ny, CN_ALT_TWO_SIDED, &r), 0);
        json_t *cis = json_object_get(c, "ci");
        json_t *ppf = json_object_get(c, "ci_scipy_ppf");
        for (size_t k = 0; k < json_array_size(cis); k++) {
            json_t *row = json_array_get(cis, k);
            double level = json_number_value(json_array_get(row, 0));
            double lo, hi;
            cr_assert_eq(cn_stats_welch_ci(&r, level, &lo, &hi), 0);
            /* Absolute tolerance relative to the half-width: an interval
             * around a difference of ~0 has no meaningful relative error. */
            double half = (hi - lo) / 2;
            double want_lo = json_number_value(json_array_get(row, 1));
            double want_hi = json_number_value(json_array_get(row, 2));
            cr_expect_leq(fabs(lo - want_lo), 1e-9 * half, "%s %g: lo %.17g want %.17g",
                          name, level, lo, want_lo);
            cr_expect_leq(fabs(hi - want_hi), 1e-9 * half, "%s %g: hi", name, level);
            /* scipy's own t.ppf is a root search with tolerance 1e-8. */
            json_t *prow = json_array_get(ppf, k);
            double p_lo = json_number_value(json_array_get(prow, 1));
            cr_expect_leq(fabs(lo - p_lo), 1e-7 * half, "%s %g: vs t.ppf", name, level);
        }
        free(x);
        free(y);
    }
    json_decref(root);
}

Test(welch, equal_samples_give_t_zero_and_p_one)
{
    double x[] = {1, 2, 3, 4, 5};
    cn_welch_result_t r;
    cr_assert_eq(cn_stats_welch(x, 5, x, 5, CN_ALT_TWO_SIDED, &r), 0);
    cr_assert_eq(r.t, 0.0);
    cr_assert_eq(r.pvalue, 1.0);
    cr_assert_eq(cn_stats_welch(x, 5, x, 5, CN_ALT_LESS, &r), 0);
    cr_assert_eq(r.pvalue, 0.5);
    cr_assert_eq(r.df, 8.0);
}

Test(welch, one_constant_sample_is_fine_and_df_is_the_other_n_minus_one)
{
    double x[] = {0.1, 0.1, 0.1, 0.1};
    double y[] = {1, 2, 3, 4, 5, 6};
    cn_welch_result_t r;
    cr_assert_eq(cn_stats_welch(x, 4, y, 6, CN_ALT_TWO_SIDED, &r), 0);
    cr_assert_eq(r.mean_x, 0.1, "a constant sample's mean is its value exactly");
    cr_assert_float_eq(r.df, 5.0, 1e-12);
}

Test(welch, both_samples_constant_is_degenerate)
{
    double x[] = {2, 2, 2};
    double y[] = {2, 2};
    double z[] = {3, 3, 3, 3};
    /* 0.1 * 3 / 3 != 0.1 in floating point: numpy would see a variance of
     * 1e-34 here; we see a constant. */
    double w[] = {0.1, 0.1, 0.1};
    cn_welch_result_t r;
    cr_assert_eq(cn_stats_welch(x, 3, y, 2, CN_ALT_TWO_SIDED, &r), CN_EDEGENERATE);
    cr_assert_eq(cn_stats_welch(x, 3, z, 4, CN_ALT_LESS, &r), CN_EDEGENERATE);
    cr_assert_eq(cn_stats_welch(w, 3, z, 4, CN_ALT_GREATER, &r), CN_EDEGENERATE);
}

Test(welch, golden_degenerate_cases_are_rejected)
{
    json_t *root = golden_load("welch");
    json_t *c;
    size_t i, seen = 0;
    json_array_foreach(golden_cases(root), i, c)
    {
        if (!json_object_get(c, "error"))
            continue;
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_welch_result_t r;
        cr_assert_eq(cn_stats_welch(x, nx, y, ny, CN_ALT_TWO_SIDED, &r), CN_EDEGENERATE,
                     "%s", golden_str(c, "name"));
        seen++;
        free(x);
        free(y);
    }
    cr_assert_eq(seen, 2);
    json_decref(root);
}

Test(welch, bad_input_is_rejected_with_the_right_code)
{
    double x[] = {1, 2, 3};
    double y[] = {4, 5, 7};
    double nan_y[] = {4, NAN, 7};
    double inf_x[] = {1, INFINITY, 3};
    cn_welch_result_t r;
    cr_assert_eq(cn_stats_welch(x, 1, y, 3, CN_ALT_TWO_SIDED, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_welch(x, 3, y, 1, CN_ALT_TWO_SIDED, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_welch(x, 0, y, 0, CN_ALT_TWO_SIDED, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_welch(x, 3, nan_y, 3, CN_ALT_TWO_SIDED, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_welch(inf_x, 3, y, 3, CN_ALT_TWO_SIDED, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_welch(x, 3, y, 3, (cn_alternative_t)7, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_welch(NULL, 3, y, 3, CN_ALT_TWO_SIDED, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_welch(x, 3, y, 3, CN_ALT_TWO_SIDED, NULL), CN_EINVAL);
    /* Squares that overflow leave no usable variance. */
    double huge[] = {-1e300, 1e300, 0};
    cr_assert_eq(cn_stats_welch(huge, 3, y, 3, CN_ALT_TWO_SIDED, &r), CN_ENONFINITE);

    cr_assert_eq(cn_stats_welch(x, 3, y, 3, CN_ALT_TWO_SIDED, &r), 0);
    double lo, hi;
    cr_assert_eq(cn_stats_welch_ci(&r, 0.0, &lo, &hi), CN_EINVAL);
    cr_assert_eq(cn_stats_welch_ci(&r, 1.0, &lo, &hi), CN_EINVAL);
    cr_assert_eq(cn_stats_welch_ci(&r, NAN, &lo, &hi), CN_EINVAL);
    cr_assert_eq(cn_stats_welch_ci(NULL, 0.95, &lo, &hi), CN_EINVAL);
}

Test(welch, ci_is_centred_on_the_difference_and_widens_with_confidence)
{
    double x[] = {10.1, 9.7, 10.4, 10.0, 9.9, 10.3};
    double y[] = {9.0, 9.4, 8.8, 9.1, 9.6};
    cn_welch_result_t r;
    cr_assert_eq(cn_stats_welch(x, 6, y, 5, CN_ALT_TWO_SIDED, &r), 0);
    double lo90, hi90, lo99, hi99;
    cr_assert_eq(cn_stats_welch_ci(&r, 0.90, &lo90, &hi90), 0);
    cr_assert_eq(cn_stats_welch_ci(&r, 0.99, &lo99, &hi99), 0);
    double d = r.mean_x - r.mean_y;
    cr_assert_float_eq((lo90 + hi90) / 2, d, 1e-12);
    cr_assert_lt(lo99, lo90);
    cr_assert_gt(hi99, hi90);
}
