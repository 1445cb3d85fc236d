/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Specification of the KS distance tested against a limit (src/stats/dkw.c):
 * the statistic against scipy.stats.ks_2samp, the DKW p-values against the
 * documented formula evaluated in Python (tests/golden/dkw.json,
 * tools/golden/gen_dkw.py), and the bad inputs.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

Test(dkw, distance_matches_scipy_and_p_values_match_the_formula)
{
    json_t *root = golden_load("dkw");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = golden_str(c, "name");
        size_t n, m;
        double *x = golden_doubles(c, "x", &n);
        double *y = golden_doubles(c, "y", &m);
        cn_ks_limit_result_t r;
        int rc = cn_stats_ks_limit(x, n, y, m, golden_num(c, "limit"), &r);
        cr_assert_eq(rc, 0, "%s: rc %d", name, rc);
        assert_golden(r.d, golden_num(c, "d"), 1e-12, "%s: D %.17g want %.17g", name,
                      r.d, golden_num(c, "d"));
        assert_golden(r.h, golden_num(c, "h"), 1e-13, "%s: h %.17g want %.17g", name,
                      r.h, golden_num(c, "h"));
        /* exp() amplifies the last bits of D's rounding by 4 (D - L) h. */
        assert_golden(r.p_above, golden_num(c, "p_above"), 1e-9,
                      "%s: p_above %.17g want %.17g", name, r.p_above,
                      golden_num(c, "p_above"));
        assert_golden(r.p_below, golden_num(c, "p_below"), 1e-9,
                      "%s: p_below %.17g want %.17g", name, r.p_below,
                      golden_num(c, "p_below"));
        free(x);
        free(y);
        checked++;
    }
    cr_assert_geq(checked, 20);
    json_decref(root);
}

Test(dkw, the_p_value_is_one_on_the_null_side_and_falls_with_the_gap)
{
    cr_assert_eq(cn_stats_dkw_p(0, 1000), 1.0);
    cr_assert_eq(cn_stats_dkw_p(-0.1, 1000), 1.0);
    cr_assert_eq(cn_stats_dkw_p(0.1, 0), 1.0);
    cr_assert_eq(cn_stats_dkw_p(NAN, 1000), 1.0);
    /* 4 exp(-2 * 0.05^2 * 1000) = 4 e^-5 */
    cr_assert_float_eq(cn_stats_dkw_p(0.05, 1000), 4 * exp(-5.0), 1e-15);
    cr_assert_lt(cn_stats_dkw_p(0.06, 1000), cn_stats_dkw_p(0.05, 1000));
    /* n = m: h = n / 4; 1% canary: h = 99 n / (1 + sqrt 99)^2 ~ 0.82 n. */
    cr_assert_float_eq(cn_stats_dkw_h(400, 400), 100.0, 1e-12);
    cr_assert_float_eq(cn_stats_dkw_h(100, 9900), 990000.0 / pow(10 + sqrt(9900), 2),
                       1e-9);
    cr_assert_eq(cn_stats_dkw_h(0, 10), 0.0);
}

Test(dkw, bad_input_is_an_error_code)
{
    double x[3] = {1, 2, 3}, y[3] = {1, 2, NAN};
    cn_ks_limit_result_t r;
    cr_assert_eq(cn_stats_ks_limit(x, 0, x, 3, 0.1, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_ks_limit(x, 3, x, 0, 0.1, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_ks_limit(x, 3, y, 3, 0.1, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_ks_limit(x, 3, x, 3, -0.1, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_ks_limit(x, 3, x, 3, 1.5, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_ks_limit(x, 3, x, 3, NAN, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_ks_limit(NULL, 3, x, 3, 0.1, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_ks_limit(x, 3, x, 3, 0.1, NULL), CN_EINVAL);
}
