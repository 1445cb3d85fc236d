/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The AUC and its DeLong variance against scikit-learn's roc_auc_score and
 * the O(m n) definition of the variance (tests/golden/auc.json from
 * tools/golden/gen_auc.py), with ties; and the edge cases.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

Test(auc, matches_scikit_learn_and_the_definition_of_delongs_variance)
{
    json_t *root = golden_load("auc");
    json_t *c;
    size_t i;
    json_array_foreach(golden_cases(root), i, c)
    {
        size_t np, nn;
        double *pos = golden_doubles(c, "pos", &np);
        double *neg = golden_doubles(c, "neg", &nn);
        cn_auc_result_t r;
        cr_assert_eq(cn_stats_auc(pos, np, neg, nn, &r), 0, "case %zu", i);
        assert_golden(r.auc, golden_num(c, "auc"), GOLDEN_REL, "case %zu: auc %.17g", i,
                      r.auc);
        double want = golden_num(c, "variance");
        if (want == 0)
            cr_assert_eq(r.variance, 0.0, "case %zu: variance %.17g", i, r.variance);
        else
            assert_golden(r.variance, want, GOLDEN_REL, "case %zu: variance %.17g", i,
                          r.variance);
        cr_assert_eq(r.n_pos, np);
        cr_assert_eq(r.n_neg, nn);
        free(pos);
        free(neg);
    }
    json_decref(root);
}

Test(auc, perfect_separation_is_one_and_reversed_is_zero)
{
    double hi[] = {0.9, 0.8, 0.7}, lo[] = {0.1, 0.2};
    cn_auc_result_t r;
    cr_assert_eq(cn_stats_auc(hi, 3, lo, 2, &r), 0);
    cr_assert_eq(r.auc, 1.0);
    cr_assert_eq(r.variance, 0.0);
    cr_assert_eq(cn_stats_auc(lo, 2, hi, 3, &r), 0);
    cr_assert_eq(r.auc, 0.0);
}

Test(auc, all_ties_is_one_half)
{
    double a[] = {0.5, 0.5}, b[] = {0.5, 0.5, 0.5};
    cn_auc_result_t r;
    cr_assert_eq(cn_stats_auc(a, 2, b, 3, &r), 0);
    cr_assert_eq(r.auc, 0.5);
}

Test(auc, refuses_an_empty_class_and_non_finite_scores)
{
    double a[] = {0.5, NAN}, b[] = {0.1};
    cn_auc_result_t r;
    cr_assert_eq(cn_stats_auc(a, 1, b, 0, &r), CN_ETOOFEW);
    cr_assert(isnan(r.auc));
    cr_assert_eq(cn_stats_auc(a, 2, b, 1, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_auc(NULL, 2, b, 1, &r), CN_EINVAL);
}
