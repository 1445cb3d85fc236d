/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Non-inferiority of a location. The p-values are pinned to scipy through
 * the identities the design rests on (golden "noninf_cases" in
 * tests/golden/welch.json, from tools/golden/gen_welch.py):
 *   Welch, lower is better:  ttest_ind(x - m, y, equal_var=False, 'less')
 *   Welch, higher is better: ttest_ind(x + m, y, equal_var=False, 'greater')
 *   MWU:                     mannwhitneyu(x -/+ m, y, 'less' / 'greater')
 * and the CIs to the Welch CI and to cn_stats_hl.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static cn_ni_opts_t opts_of(json_t *c, cn_ni_test_t test)
{
    cn_ni_opts_t o = {
        .test = test,
        .margin = golden_num(c, "margin"),
        .kind = strcmp(golden_str(c, "kind"), "relative") == 0 ? CN_MARGIN_RELATIVE
                                                               : CN_MARGIN_ABSOLUTE,
        .confidence = golden_num(c, "confidence"),
    };
    cr_assert_eq(cn_stats_parse_direction(golden_str(c, "direction"), &o.direction), 0);
    return o;
}

Test(noninf, welch_pvalue_is_scipy_ttest_of_the_shifted_canary)
{
    json_t *root = golden_load("welch");
    json_t *cases = json_object_get(root, "noninf_cases");
    cr_assert(json_array_size(cases) >= 8);
    json_t *c;
    size_t i;
    json_array_foreach(cases, i, c)
    {
        const char *name = golden_str(c, "name");
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_ni_opts_t o = opts_of(c, CN_NI_WELCH);
        cn_ni_result_t r;
        cr_assert_eq(cn_stats_noninf(x, nx, y, ny, &o, &r), 0, "%s", name);
        assert_golden(r.margin_abs, golden_num(c, "margin_abs_welch"), GOLDEN_REL,
                      "%s: margin", name);
        assert_golden(r.stable_stat, golden_num(c, "stable_mean"), GOLDEN_REL, "%s",
                      name);
        assert_golden(r.pvalue, golden_num(c, "p_welch"), GOLDEN_REL,
                      "%s: p %.17g want %.17g", name, r.pvalue,
                      golden_num(c, "p_welch"));
        assert_golden(r.effect, golden_num(c, "effect_welch"), GOLDEN_REL, "%s", name);
        size_t two;
        double *ci = golden_doubles(c, "ci_welch", &two);
        double half = (ci[1] - ci[0]) / 2;
        cr_assert_leq(fabs(r.ci_low - ci[0]), 1e-9 * half, "%s: ci_low", name);
        cr_assert_leq(fabs(r.ci_high - ci[1]), 1e-9 * half, "%s: ci_high", name);
        free(ci);
        free(x);
        free(y);
    }
    json_decref(root);
}

Test(noninf, mwu_pvalue_is_scipy_mannwhitneyu_of_the_shifted_canary)
{
    json_t *root = golden_load("welch");
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(root, "noninf_cases"), i, c)
    {
        const char *name = golden_str(c, "name");
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_ni_opts_t o = opts_of(c, CN_NI_MWU);
        cn_ni_result_t r;
        cr_assert_eq(cn_stats_noninf(x, nx, y, ny, &o, &r), 0, "%s", name);
        assert_golden(r.stable_stat, golden_num(c, "stable_median"), GOLDEN_REL, "%s",
                      name);
        assert_golden(r.margin_abs, golden_num(c, "margin_abs_mwu"), GOLDEN_REL,
                      "%s: margin", name);
        assert_golden(r.pvalue, golden_num(c, "p_mwu"), GOLDEN_REL,
                      "%s: p %.17g want %.17g", name, r.pvalue, golden_num(c, "p_mwu"));
        /* The effect and CI are the Hodges-Lehmann ones, unchanged. */
        cn_hl_result_t hl;
        cr_assert_eq(cn_stats_hl(x, nx, y, ny, o.confidence, &hl), 0);
        cr_assert_eq(r.effect, hl.estimate, "%s", name);
        cr_assert_eq(r.ci_low, hl.ci_low, "%s", name);
        cr_assert_eq(r.ci_high, hl.ci_high, "%s", name);
        free(x);
        free(y);
    }
    json_decref(root);
}

Test(noninf, the_pvalue_equals_the_direct_one_sided_test_of_the_shifted_canary)
{
    double x[] = {12.1, 11.4, 13.0, 12.7, 11.9, 12.2, 12.8, 11.1};
    double y[] = {12.0, 12.5, 11.8, 12.9, 12.3, 11.7, 12.6};
    double xm[8], xp[8];
    for (int i = 0; i < 8; i++) {
        xm[i] = x[i] - 0.5;
        xp[i] = x[i] + 0.5;
    }
    cn_ni_opts_t o = {CN_NI_WELCH, 0.5, CN_MARGIN_ABSOLUTE, CN_DIR_LOWER_IS_BETTER,
                      0.95};
    cn_ni_result_t r;
    cn_welch_result_t w;
    cr_assert_eq(cn_stats_noninf(x, 8, y, 7, &o, &r), 0);
    cr_assert_eq(cn_stats_welch(xm, 8, y, 7, CN_ALT_LESS, &w), 0);
    cr_assert_eq(r.pvalue, w.pvalue);
    o.direction = CN_DIR_HIGHER_IS_BETTER;
    cr_assert_eq(cn_stats_noninf(x, 8, y, 7, &o, &r), 0);
    cr_assert_eq(cn_stats_welch(xp, 8, y, 7, CN_ALT_GREATER, &w), 0);
    cr_assert_eq(r.pvalue, w.pvalue);

    o.test = CN_NI_MWU;
    cn_mwu_opts_t mo;
    cn_stats_mwu_opts_init(&mo);
    mo.alternative = CN_ALT_GREATER;
    cn_mwu_result_t m;
    cr_assert_eq(cn_stats_noninf(x, 8, y, 7, &o, &r), 0);
    cr_assert_eq(cn_stats_mwu(xp, 8, y, 7, &mo, &m), 0);
    cr_assert_eq(r.pvalue, m.pvalue);
}

Test(noninf, directions_mirror_under_negation)
{
    /* Latency x vs y, lower is better == -x vs -y, higher is better. */
    double x[] = {101, 98, 105, 99, 102, 97, 103, 100, 104, 96};
    double y[] = {100, 99, 101, 98, 102, 100, 97, 103, 99, 101, 100};
    double nx_[10], ny_[11];
    for (int i = 0; i < 10; i++)
        nx_[i] = -x[i];
    for (int i = 0; i < 11; i++)
        ny_[i] = -y[i];
    for (int t = 0; t < 2; t++) {
        cn_ni_opts_t lo = {(cn_ni_test_t)t, 2.0, CN_MARGIN_ABSOLUTE,
                           CN_DIR_LOWER_IS_BETTER, 0.9};
        cn_ni_opts_t hi = lo;
        hi.direction = CN_DIR_HIGHER_IS_BETTER;
        cn_ni_result_t a, b;
        cr_assert_eq(cn_stats_noninf(x, 10, y, 11, &lo, &a), 0);
        cr_assert_eq(cn_stats_noninf(nx_, 10, ny_, 11, &hi, &b), 0);
        cr_assert_float_eq(a.pvalue, b.pvalue, 1e-12, "test %d", t);
        cr_assert_float_eq(a.effect, -b.effect, 1e-12, "test %d", t);
        cr_assert_float_eq(a.ci_low, -b.ci_high, 1e-12, "test %d", t);
    }
}

Test(noninf, a_wider_margin_makes_non_inferiority_easier)
{
    double x[] = {10.3, 10.9, 10.1, 10.6, 10.4, 10.8, 10.2, 10.5};
    double y[] = {10.0, 10.2, 9.9, 10.1, 10.3, 9.8, 10.0};
    for (int t = 0; t < 2; t++) {
        cn_ni_opts_t o = {(cn_ni_test_t)t, 0.1, CN_MARGIN_ABSOLUTE,
                          CN_DIR_LOWER_IS_BETTER, 0.95};
        cn_ni_result_t tight, wide;
        cr_assert_eq(cn_stats_noninf(x, 8, y, 7, &o, &tight), 0);
        o.margin = 1.0;
        cr_assert_eq(cn_stats_noninf(x, 8, y, 7, &o, &wide), 0);
        cr_assert_gt(tight.pvalue, 0.5, "canary is 0.4 slower: not within 0.1");
        cr_assert_lt(wide.pvalue, 0.01, "but clearly within 1.0");
        cr_assert_lt(wide.ci_high, 1.0);
    }
}

Test(noninf, relative_margin_uses_the_stable_statistic)
{
    double x[] = {210, 190, 205, 198, 202};
    double y[] = {200, 195, 205, 190, 210, 100};
    cn_ni_opts_t o = {CN_NI_WELCH, 0.1, CN_MARGIN_RELATIVE, CN_DIR_LOWER_IS_BETTER,
                      0.95};
    cn_ni_result_t r;
    cr_assert_eq(cn_stats_noninf(x, 5, y, 6, &o, &r), 0);
    cr_assert_float_eq(r.stable_stat, 1100.0 / 6, 1e-12);
    cr_assert_float_eq(r.margin_abs, 110.0 / 6, 1e-12);
    o.test = CN_NI_MWU;
    cr_assert_eq(cn_stats_noninf(x, 5, y, 6, &o, &r), 0);
    cr_assert_eq(r.stable_stat, 197.5, "type-7 median of y");
    cr_assert_float_eq(r.margin_abs, 19.75, 1e-12);
    /* A stable statistic of 0 makes the relative margin 0. */
    double z[] = {-1, 0, 1, 0};
    cr_assert_eq(cn_stats_noninf(x, 5, z, 4, &o, &r), 0);
    cr_assert_eq(r.margin_abs, 0.0);
}

Test(noninf, bad_input_is_rejected_with_the_right_code)
{
    double x[] = {1, 2, 3}, y[] = {2, 3, 4}, bad[] = {1, NAN, 3};
    double c1[] = {5, 5, 5}, c2[] = {6, 6};
    cn_ni_result_t r;
    cn_ni_opts_t ok = {CN_NI_WELCH, 0.5, CN_MARGIN_ABSOLUTE, CN_DIR_LOWER_IS_BETTER,
                       0.95};
    cn_ni_opts_t o;
    for (int t = 0; t < 2; t++) {
        ok.test = (cn_ni_test_t)t;
        cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &ok, &r), 0);
        cr_assert_eq(cn_stats_noninf(bad, 3, y, 3, &ok, &r), CN_ENONFINITE);
        cr_assert_eq(cn_stats_noninf(x, 3, bad, 3, &ok, &r), CN_ENONFINITE);
        cr_assert_eq(cn_stats_noninf(x, 0, y, 3, &ok, &r), CN_ETOOFEW);
        o = ok;
        o.margin = -0.1;
        cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &o, &r), CN_EINVAL);
        o.margin = NAN;
        cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &o, &r), CN_EINVAL);
        o = ok;
        o.confidence = 1.0;
        cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &o, &r), CN_EINVAL);
        o = ok;
        o.kind = (cn_margin_kind_t)4;
        cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &o, &r), CN_EINVAL);
        o = ok;
        o.direction = (cn_direction_t)4;
        cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &o, &r), CN_EINVAL);
    }
    o = ok;
    o.test = (cn_ni_test_t)7;
    cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &o, &r), CN_EINVAL);
    ok.test = CN_NI_WELCH;
    cr_assert_eq(cn_stats_noninf(x, 1, y, 3, &ok, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_noninf(c1, 3, c2, 2, &ok, &r), CN_EDEGENERATE);
    cr_assert_eq(cn_stats_noninf(x, 3, y, 3, NULL, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_noninf(x, 3, y, 3, &ok, NULL), CN_EINVAL);
    cr_assert_eq(cn_stats_noninf(NULL, 3, y, 3, &ok, &r), CN_EINVAL);
}
