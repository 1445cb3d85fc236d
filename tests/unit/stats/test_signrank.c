/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Specification of the paired comparisons (src/stats/signrank.c): the
 * signed-rank test against scipy.stats.wilcoxon, the paired Hodges-Lehmann
 * estimate and interval against R's wilcox.test(paired = TRUE,
 * conf.int = TRUE) and numpy's brute force over all Walsh averages, and the
 * agreement rate's Wilson interval against scipy's binomtest
 * (tests/golden/signrank.json, tools/golden/gen_signrank.py); then the
 * selection against brute force on random tied data, a 10^5-pair input,
 * and the bad inputs.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"
#include "util/rand.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static cn_zero_method_t zero_method(const char *s)
{
    if (strcmp(s, "pratt") == 0)
        return CN_ZERO_PRATT;
    if (strcmp(s, "wilcox") == 0)
        return CN_ZERO_WILCOX;
    cr_assert_str_eq(s, "zsplit");
    return CN_ZERO_ZSPLIT;
}

Test(signrank, statistic_and_p_value_match_scipy_wilcoxon)
{
    json_t *root = golden_load("signrank");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if (strcmp(golden_str(c, "kind"), "test") != 0)
            continue;
        const char *name = golden_str(c, "name");
        size_t n, m;
        double *x = golden_doubles(c, "x", &n);
        double *y = golden_doubles(c, "y", &m);
        size_t j;
        json_t *run;
        json_array_foreach(json_object_get(c, "runs"), j, run)
        {
            cn_signrank_opts_t o;
            cn_stats_signrank_opts_init(&o);
            cr_assert_eq(cn_stats_parse_alternative(golden_str(run, "alternative"),
                                                    &o.alternative),
                         0);
            o.zero_method = zero_method(golden_str(run, "zero_method"));
            o.use_continuity = (int)golden_num(run, "correction");
            int exact = strcmp(golden_str(run, "method"), "exact") == 0;
            cn_signrank_result_t r;
            int rc = cn_stats_signrank(x, n, y, m, &o, &r);
            cr_assert_eq(rc, 0, "%s: rc %d", name, rc);
            cr_assert_eq(r.method, exact ? CN_SIGNRANK_EXACT : CN_SIGNRANK_APPROX,
                         "%s: auto picked %s", name,
                         cn_stats_signrank_method_name(r.method));
            cr_assert_eq(r.statistic, golden_num(run, "statistic"),
                         "%s %s %s: statistic %.17g want %.17g", name,
                         golden_str(run, "zero_method"), golden_str(run, "alternative"),
                         r.statistic, golden_num(run, "statistic"));
            assert_golden(r.pvalue, golden_num(run, "pvalue"), GOLDEN_REL,
                          "%s %s %s cc=%d: p %.17g want %.17g", name,
                          golden_str(run, "zero_method"),
                          golden_str(run, "alternative"), o.use_continuity, r.pvalue,
                          golden_num(run, "pvalue"));
            checked++;
        }
        free(x);
        free(y);
    }
    cr_assert_geq(checked, 290);
    json_decref(root);
}

Test(signrank, differences_alone_give_the_same_answer_as_the_pairs)
{
    double x[6] = {12, 15.5, 9, 20, 11, 14}, y[6] = {10, 15.5, 10, 14, 11.5, 12};
    double d[6];
    for (int i = 0; i < 6; i++)
        d[i] = x[i] - y[i];
    cn_signrank_result_t a, b;
    cr_assert_eq(cn_stats_signrank(x, 6, y, 6, NULL, &a), 0);
    cr_assert_eq(cn_stats_signrank(d, 6, NULL, 0, NULL, &b), 0);
    cr_assert_eq(a.statistic, b.statistic);
    cr_assert_eq(a.pvalue, b.pvalue);
    cr_assert_eq(a.n_zero, 1);
    cr_assert_eq(a.n, 6);
}

Test(signrank, all_differences_zero_is_no_evidence_p_one)
{
    double x[5] = {1, 2, 3, 4, 5};
    for (int zm = 0; zm < 2; zm++) {
        cn_signrank_opts_t o;
        cn_stats_signrank_opts_init(&o);
        o.zero_method = (cn_zero_method_t)zm;
        cn_signrank_result_t r;
        cr_assert_eq(cn_stats_signrank(x, 5, x, 5, &o, &r), 0);
        cr_assert_eq(r.pvalue, 1.0);
        cr_assert_eq(r.statistic, 0.0);
        cr_assert_eq(r.z, 0.0);
        cr_assert_eq(r.n_zero, 5);
    }
}

Test(signrank, bad_input_is_an_error_code)
{
    double x[3] = {1, 2, 3}, y[3] = {1, 2, NAN}, big[2] = {1e308, -1e308};
    double neg[2] = {-1e308, 1e308};
    cn_signrank_result_t r;
    cn_signrank_opts_t o;
    cn_stats_signrank_opts_init(&o);
    cr_assert_eq(cn_stats_signrank(x, 0, x, 0, NULL, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_signrank(x, 3, x, 2, NULL, &r), CN_EINVAL, "lengths differ");
    cr_assert_eq(cn_stats_signrank(x, 3, NULL, 2, NULL, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_signrank(x, 3, y, 3, NULL, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_signrank(y, 3, x, 3, NULL, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_signrank(big, 2, neg, 2, NULL, &r), CN_ETOOBIG);
    cr_assert_eq(cn_stats_signrank(NULL, 3, x, 3, NULL, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_signrank(x, 3, x, 3, NULL, NULL), CN_EINVAL);
    o.zero_method = (cn_zero_method_t)9;
    cr_assert_eq(cn_stats_signrank(x, 3, x, 3, &o, &r), CN_EINVAL);
    cn_stats_signrank_opts_init(&o);
    o.alternative = (cn_alternative_t)9;
    cr_assert_eq(cn_stats_signrank(x, 3, x, 3, &o, &r), CN_EINVAL);
}

/* ------------------------------------------------------ paired HL */

static void check_hl(int want_exact)
{
    json_t *root = golden_load("signrank");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if (strcmp(golden_str(c, "kind"), "hl") != 0 ||
            (int)golden_num(c, "exact") != want_exact)
            continue;
        const char *name = golden_str(c, "name");
        size_t n, m;
        double *x = golden_doubles(c, "x", &n);
        double *y = golden_doubles(c, "y", &m);
        cn_hl_result_t r;
        int rc = cn_stats_hl_paired(x, n, y, m, golden_num(c, "confidence"), &r);
        cr_assert_eq(rc, 0, "%s: rc %d", name, rc);
        cr_assert_eq(r.exact, want_exact, "%s", name);
        /* The ends are Walsh averages: bit-identical. */
        cr_assert(r.ci_low == golden_num(c, "ci_low"), "%s: ci_low %.17g want %.17g",
                  name, r.ci_low, golden_num(c, "ci_low"));
        cr_assert(r.ci_high == golden_num(c, "ci_high"), "%s: ci_high %.17g want %.17g",
                  name, r.ci_high, golden_num(c, "ci_high"));
        assert_golden(r.estimate, golden_num(c, "estimate"), GOLDEN_REL,
                      "%s: estimate %.17g want %.17g", name, r.estimate,
                      golden_num(c, "estimate"));
        assert_golden(r.achieved_confidence, golden_num(c, "achieved_confidence"),
                      GOLDEN_REL, "%s: coverage %.17g want %.17g", name,
                      r.achieved_confidence, golden_num(c, "achieved_confidence"));
        free(x);
        free(y);
        checked++;
    }
    cr_assert_geq(checked, want_exact ? 9 : 6);
    json_decref(root);
}

Test(hl_paired, exact_interval_and_estimate_match_R_wilcox_test_paired)
{
    check_hl(1);
}

Test(hl_paired, normal_interval_and_estimate_match_brute_force_walsh_averages)
{
    check_hl(0);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Brute force on small, heavily tied random inputs: the estimate and both
 * ends are the order statistics of the sorted Walsh averages. */
Test(hl_paired, selection_equals_sorting_all_walsh_averages_on_tied_data)
{
    uint64_t s = 99;
    for (int rep = 0; rep < 300; rep++) {
        size_t n = 1 + (size_t)cn_rand_below(&s, 120);
        double *d = malloc(n * sizeof *d);
        for (size_t i = 0; i < n; i++)
            d[i] = (double)((int64_t)cn_rand_below(&s, 9) - 3) * 0.25;
        size_t big_n = n * (n + 1) / 2, w = 0;
        double *walsh = malloc(big_n * sizeof *walsh);
        for (size_t i = 0; i < n; i++)
            for (size_t j = i; j < n; j++)
                walsh[w++] = (d[i] + d[j]) / 2;
        qsort(walsh, big_n, sizeof *walsh, cmp_double);
        cn_hl_result_t r;
        cr_assert_eq(cn_stats_hl_paired(d, n, NULL, 0, 0.9, &r), 0);
        double med = big_n % 2 ? walsh[big_n / 2]
                               : 0.5 * walsh[big_n / 2 - 1] + 0.5 * walsh[big_n / 2];
        cr_assert_eq(r.estimate, med, "rep %d n %zu: %g vs %g", rep, n, r.estimate,
                     med);
        int found_lo = 0, found_hi = 0;
        for (size_t k = 0; k < big_n; k++) {
            found_lo |= walsh[k] == r.ci_low;
            found_hi |= walsh[k] == r.ci_high;
        }
        cr_assert(found_lo && found_hi && r.ci_low <= r.estimate &&
                  r.estimate <= r.ci_high);
        free(d);
        free(walsh);
    }
}

Test(hl_paired, a_hundred_thousand_pairs_in_linear_memory)
{
    size_t n = 100000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++) {
        y[i] = 50 + 10 * cn_rand_unit(&s);
        x[i] = y[i] + 2 + (cn_rand_unit(&s) - 0.5); /* shift 2, symmetric */
    }
    cn_hl_result_t r;
    cr_assert_eq(cn_stats_hl_paired(x, n, y, n, 0.95, &r), 0);
    cr_assert_eq(r.exact, 0);
    cr_assert_float_eq(r.estimate, 2.0, 0.01, "%g", r.estimate);
    cr_assert(r.ci_low < r.estimate && r.estimate < r.ci_high);
    cr_assert_lt(r.ci_high - r.ci_low, 0.01);
    cn_signrank_result_t t;
    cr_assert_eq(cn_stats_signrank(x, n, y, n, NULL, &t), 0);
    cr_assert_lt(t.pvalue, 1e-100);
    free(x);
    free(y);
}

Test(hl_paired, bad_input_is_an_error_code)
{
    double x[3] = {1, 2, 3}, y[3] = {1, 2, INFINITY}, big[2] = {1e308, 1e308};
    cn_hl_result_t r;
    cr_assert_eq(cn_stats_hl_paired(x, 0, x, 0, 0.95, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_hl_paired(x, 3, x, 1, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_hl_paired(x, 3, y, 3, 0.95, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_hl_paired(x, 3, x, 3, 1.0, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_hl_paired(x, 3, x, 3, NAN, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_hl_paired(big, 2, NULL, 0, 0.95, &r), CN_ETOOBIG);
    cr_assert_eq(cn_stats_hl_paired(x, 3, x, 3, 0.95, NULL), CN_EINVAL);
}

/* ------------------------------------------------------ agreement */

Test(agreement, rate_and_wilson_interval_match_scipy_binomtest)
{
    json_t *root = golden_load("signrank");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if (strcmp(golden_str(c, "kind"), "agreement") != 0)
            continue;
        const char *name = golden_str(c, "name");
        size_t n, m;
        double *x = golden_doubles(c, "x", &n);
        double *y = golden_doubles(c, "y", &m);
        cn_agreement_result_t r;
        cr_assert_eq(cn_stats_agreement(x, n, y, m, golden_num(c, "confidence"), &r), 0,
                     "%s", name);
        cr_assert_eq(r.agree, (uint64_t)golden_num(c, "agree"), "%s", name);
        cr_assert_eq(r.n, n);
        assert_golden(r.ci_low, golden_num(c, "ci_low"), GOLDEN_REL,
                      "%s: lo %.17g want %.17g", name, r.ci_low,
                      golden_num(c, "ci_low"));
        assert_golden(r.ci_high, golden_num(c, "ci_high"), GOLDEN_REL,
                      "%s: hi %.17g want %.17g", name, r.ci_high,
                      golden_num(c, "ci_high"));
        cr_assert(r.ci_low <= r.rate && r.rate <= r.ci_high);
        free(x);
        free(y);
        checked++;
    }
    cr_assert_geq(checked, 6);
    json_decref(root);
}

Test(agreement, bad_input_is_an_error_code)
{
    double x[3] = {1, 2, 3}, y[3] = {1, 2, NAN};
    cn_agreement_result_t r;
    double lo, hi;
    cr_assert_eq(cn_stats_agreement(x, 0, x, 0, 0.95, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_agreement(x, 3, x, 2, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_agreement(x, 3, y, 3, 0.95, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_agreement(x, 3, x, 3, 0, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_agreement(NULL, 3, x, 3, 0.95, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_wilson_ci(4, 3, 0.95, &lo, &hi), CN_EINVAL);
    cr_assert_eq(cn_stats_wilson_ci(0, 0, 0.95, &lo, &hi), CN_ETOOFEW);
    cr_assert_eq(cn_stats_wilson_ci(1, 3, 1.5, &lo, &hi), CN_EINVAL);
}
