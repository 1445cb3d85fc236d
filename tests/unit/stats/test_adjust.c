/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Multiple-testing adjustment against statsmodels' multipletests: exact
 * equality (the arithmetic is the same, step for step), input order, ties,
 * clipping at 1, and the error cases. Golden file: tests/golden/adjust.json
 * (tools/golden/gen_adjust.py).
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
    cn_adjust_method_t method;
} methods[] = {
    {"bonferroni", CN_ADJUST_BONFERRONI},
    {"holm", CN_ADJUST_HOLM},
    {"bh", CN_ADJUST_BH},
};

Test(adjust, bonferroni_holm_and_bh_equal_statsmodels_exactly)
{
    json_t *root = golden_load("adjust");
    json_t *c;
    size_t i;
    json_array_foreach(golden_cases(root), i, c)
    {
        const char *name = golden_str(c, "name");
        size_t n;
        double *p = golden_doubles(c, "p", &n);
        double *got = malloc(n * sizeof *got);
        for (size_t m = 0; m < 3; m++) {
            size_t nw;
            double *want = golden_doubles(c, methods[m].key, &nw);
            cr_assert_eq(nw, n);
            cr_assert_eq(cn_stats_adjust(p, n, methods[m].method, got), 0);
            for (size_t k = 0; k < n; k++)
                cr_assert_eq(got[k], want[k], "%s %s [%zu]: %.17g want %.17g", name,
                             methods[m].key, k, got[k], want[k]);
            free(want);
        }
        free(got);
        free(p);
    }
    json_decref(root);
}

Test(adjust, none_copies_and_the_parser_knows_every_method)
{
    double p[] = {0.3, 0.01, 1.0};
    double out[3];
    cr_assert_eq(cn_stats_adjust(p, 3, CN_ADJUST_NONE, out), 0);
    cr_assert_arr_eq(out, p, sizeof p);
    cn_adjust_method_t m;
    cr_assert_eq(cn_stats_parse_adjust("bh", &m), 0);
    cr_assert_eq(m, CN_ADJUST_BH);
    cr_assert_str_eq(cn_stats_adjust_name(CN_ADJUST_HOLM), "holm");
}

Test(adjust, results_come_back_in_input_order)
{
    double p[] = {0.04, 0.001, 0.03};
    double out[3];
    cr_assert_eq(cn_stats_adjust(p, 3, CN_ADJUST_HOLM, out), 0);
    /* sorted: 0.001*3, 0.03*2, 0.04*1 -> running max 0.003, 0.06, 0.06 */
    cr_assert_float_eq(out[0], 0.06, 1e-15);
    cr_assert_float_eq(out[1], 0.003, 1e-15);
    cr_assert_float_eq(out[2], 0.06, 1e-15);
    cr_assert_eq(cn_stats_adjust(p, 3, CN_ADJUST_BH, out), 0);
    /* 0.001*3/1, 0.03*3/2, 0.04*3/3 -> min from the top: 0.003, 0.04, 0.04 */
    cr_assert_float_eq(out[0], 0.04, 1e-15);
    cr_assert_float_eq(out[1], 0.003, 1e-15);
    cr_assert_float_eq(out[2], 0.04, 1e-15);
}

Test(adjust, adjusting_in_place_is_allowed)
{
    double p[] = {0.04, 0.001, 0.03};
    cr_assert_eq(cn_stats_adjust(p, 3, CN_ADJUST_BONFERRONI, p), 0);
    cr_assert_float_eq(p[0], 0.12, 1e-15);
    cr_assert_float_eq(p[1], 0.003, 1e-15);
}

Test(adjust, adjusted_values_never_exceed_one_or_fall_below_the_raw_p)
{
    double p[] = {0.9, 0.5, 0.7, 0.2, 0.99};
    double out[5];
    for (size_t m = 0; m < 3; m++) {
        cr_assert_eq(cn_stats_adjust(p, 5, methods[m].method, out), 0);
        for (size_t k = 0; k < 5; k++) {
            cr_assert_leq(out[k], 1.0);
            cr_assert_geq(out[k], p[k]);
        }
    }
}

Test(adjust, bad_input_is_rejected)
{
    double good[] = {0.1, 0.2};
    double out[2];
    double neg[] = {0.1, -0.01};
    double big[] = {1.0000001, 0.2};
    double nan[] = {NAN, 0.2};
    cr_assert_eq(cn_stats_adjust(neg, 2, CN_ADJUST_HOLM, out), CN_EINVAL);
    cr_assert_eq(cn_stats_adjust(big, 2, CN_ADJUST_BH, out), CN_EINVAL);
    cr_assert_eq(cn_stats_adjust(nan, 2, CN_ADJUST_NONE, out), CN_EINVAL);
    cr_assert_eq(cn_stats_adjust(good, 0, CN_ADJUST_HOLM, out), CN_ETOOFEW);
    cr_assert_eq(cn_stats_adjust(NULL, 2, CN_ADJUST_HOLM, out), CN_EINVAL);
    cr_assert_eq(cn_stats_adjust(good, 2, CN_ADJUST_HOLM, NULL), CN_EINVAL);
    cr_assert_eq(cn_stats_adjust(good, 2, (cn_adjust_method_t)9, out), CN_EINVAL);
}
