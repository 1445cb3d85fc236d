/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Two proportions against statsmodels: the unpooled Wald non-inferiority
 * test and CI, the pooled equality z test, and the documented degenerate
 * case (every arm all 0 or all 1) that falls back to Agresti-Caffo.
 * Golden file: tests/golden/prop.json (tools/golden/gen_prop.py).
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static uint64_t count(json_t *c, const char *key)
{
    return (uint64_t)golden_num(c, key);
}

static int run_case(json_t *c, cn_prop_result_t *r)
{
    cn_margin_kind_t kind = strcmp(golden_str(c, "kind"), "relative") == 0
                                ? CN_MARGIN_RELATIVE
                                : CN_MARGIN_ABSOLUTE;
    cn_direction_t dir;
    cr_assert_eq(cn_stats_parse_direction(golden_str(c, "direction"), &dir), 0);
    return cn_stats_prop(count(c, "succ_x"), count(c, "n_x"), count(c, "succ_y"),
                         count(c, "n_y"), golden_num(c, "margin"), kind, dir,
                         golden_num(c, "confidence"), r);
}

Test(prop, noninferiority_ci_and_pooled_test_match_statsmodels)
{
    json_t *root = golden_load("prop");
    json_t *c;
    size_t i;
    json_array_foreach(golden_cases(root), i, c)
    {
        const char *name = golden_str(c, "name");
        cn_prop_result_t r;
        cr_assert_eq(run_case(c, &r), 0, "%s", name);
        cr_assert_eq(r.adjusted, (int)golden_num(c, "adjusted"), "%s", name);
        assert_golden(r.p_x, golden_num(c, "p_x"), GOLDEN_REL, "%s: p_x", name);
        assert_golden(r.p_y, golden_num(c, "p_y"), GOLDEN_REL, "%s: p_y", name);
        assert_golden(r.diff, golden_num(c, "diff"), GOLDEN_REL, "%s: diff", name);
        assert_golden(r.margin_abs, golden_num(c, "margin_abs"), GOLDEN_REL,
                      "%s: margin", name);
        assert_golden(r.se_unpooled, golden_num(c, "se"), GOLDEN_REL, "%s: se", name);
        assert_golden(r.z_noninf, golden_num(c, "z_noninf"), GOLDEN_REL,
                      "%s: z_noninf %.17g", name, r.z_noninf);
        assert_golden(r.p_noninf, golden_num(c, "p_noninf"), GOLDEN_REL,
                      "%s: p_noninf %.17g want %.17g", name, r.p_noninf,
                      golden_num(c, "p_noninf"));
        assert_golden(r.ci_low, golden_num(c, "ci_low"), GOLDEN_REL, "%s: ci_low %.17g",
                      name, r.ci_low);
        assert_golden(r.ci_high, golden_num(c, "ci_high"), GOLDEN_REL, "%s: ci_high",
                      name);
        assert_golden(r.z_pooled, golden_num(c, "z_pooled"), GOLDEN_REL, "%s: z_pooled",
                      name);
        assert_golden(r.p_equal, golden_num(c, "p_equal"), GOLDEN_REL,
                      "%s: p_equal %.17g want %.17g", name, r.p_equal,
                      golden_num(c, "p_equal"));
    }
    json_decref(root);
}

Test(prop, zero_errors_in_both_arms_gives_a_usable_answer)
{
    /* 0 errors in 10^5 requests on each side: the Wald se is 0. With the
     * Agresti-Caffo fallback a margin of 0.01% is shown non-inferior, a
     * margin of 0.001% (below the rule-of-three resolution 3/n) is not, and
     * a zero margin never is. */
    cn_prop_result_t r;
    cr_assert_eq(cn_stats_prop(0, 100000, 0, 100000, 1e-4, CN_MARGIN_ABSOLUTE,
                               CN_DIR_LOWER_IS_BETTER, 0.95, &r),
                 0);
    cr_assert_eq(r.adjusted, 1);
    cr_assert(isfinite(r.z_noninf) && isfinite(r.p_noninf));
    cr_assert_lt(r.p_noninf, 1e-6);
    cr_assert_eq(r.diff, 0.0);
    cr_assert_lt(r.ci_low, 0.0);
    cr_assert_gt(r.ci_high, 0.0);
    cr_assert_eq(r.p_equal, 1.0);
    cr_assert_eq(r.z_pooled, 0.0);

    cr_assert_eq(cn_stats_prop(0, 100000, 0, 100000, 1e-5, CN_MARGIN_ABSOLUTE,
                               CN_DIR_LOWER_IS_BETTER, 0.95, &r),
                 0);
    cr_assert_gt(r.p_noninf, 0.05);

    cr_assert_eq(cn_stats_prop(0, 100000, 0, 100000, 0.0, CN_MARGIN_ABSOLUTE,
                               CN_DIR_LOWER_IS_BETTER, 0.95, &r),
                 0);
    cr_assert_float_eq(r.p_noninf, 0.5, 1e-15);
}

Test(prop, plain_wald_is_kept_when_only_one_arm_is_at_the_boundary)
{
    cn_prop_result_t r;
    cr_assert_eq(cn_stats_prop(0, 5000, 7, 5000, 0.001, CN_MARGIN_ABSOLUTE,
                               CN_DIR_LOWER_IS_BETTER, 0.95, &r),
                 0);
    cr_assert_eq(r.adjusted, 0);
    cr_assert_float_eq(r.se_unpooled, sqrt(7.0 / 5000 * (1 - 7.0 / 5000) / 5000),
                       1e-15);
}

Test(prop, directions_mirror_each_other)
{
    /* Swapping the arms and the direction gives the same NI p-value. */
    cn_prop_result_t a, b;
    cr_assert_eq(cn_stats_prop(30, 1000, 25, 1200, 0.01, CN_MARGIN_ABSOLUTE,
                               CN_DIR_LOWER_IS_BETTER, 0.95, &a),
                 0);
    cr_assert_eq(cn_stats_prop(970, 1000, 1175, 1200, 0.01, CN_MARGIN_ABSOLUTE,
                               CN_DIR_HIGHER_IS_BETTER, 0.95, &b),
                 0);
    cr_assert_float_eq(a.p_noninf, b.p_noninf, 1e-12);
    cr_assert_float_eq(a.z_noninf, -b.z_noninf, 1e-12);
}

Test(prop, relative_margin_is_a_fraction_of_the_stable_rate)
{
    cn_prop_result_t r;
    cr_assert_eq(cn_stats_prop(10, 1000, 20, 1000, 0.5, CN_MARGIN_RELATIVE,
                               CN_DIR_LOWER_IS_BETTER, 0.95, &r),
                 0);
    cr_assert_float_eq(r.margin_abs, 0.01, 1e-15);
}

Test(prop, bad_input_is_rejected_with_the_right_code)
{
    cn_prop_result_t r;
    const cn_margin_kind_t A = CN_MARGIN_ABSOLUTE;
    const cn_direction_t L = CN_DIR_LOWER_IS_BETTER;
    cr_assert_eq(cn_stats_prop(0, 0, 1, 10, 0.1, A, L, 0.95, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_prop(1, 10, 0, 0, 0.1, A, L, 0.95, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_prop(11, 10, 1, 10, 0.1, A, L, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 11, 10, 0.1, A, L, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, -0.1, A, L, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, NAN, A, L, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, INFINITY, A, L, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, 0.1, A, L, 0.0, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, 0.1, A, L, 1.0, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, 0.1, A, L, NAN, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, 0.1, (cn_margin_kind_t)5, L, 0.95, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, 0.1, A, (cn_direction_t)5, 0.95, &r),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, 10, 1, 10, 0.1, A, L, 0.95, NULL), CN_EINVAL);
    cr_assert_eq(cn_stats_prop(1, UINT64_C(1) << 60, 1, 10, 0.1, A, L, 0.95, &r),
                 CN_ETOOBIG);
}
