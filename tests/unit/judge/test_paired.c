/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The judge on pairs (a shadow step: both versions answered the same
 * requests): the paired location tests, the agreement of predicted
 * classes, and what pairs do to a metric's rows. Golden values from scipy
 * 1.10 (ttest_1samp and wilcoxon with zero_method='pratt' on the
 * differences less the margin; binom.cdf and binom.sf).
 */
#include "judge/judge.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

static cn_judge_metric_t *add(cn_judge_config_t *cfg, const char *name,
                              cn_judge_test_t test, double margin, cn_judge_dir_t dir)
{
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup(name);
    m.test = test;
    m.margin = margin;
    m.margin_kind = CN_MARGIN_ABSOLUTE;
    m.has_margin = 1;
    m.direction = dir;
    return cn_judge_config_add_metric(cfg, &m);
}

static const cn_judge_row_t *only_row(const cn_judge_result_t *r, const char *name)
{
    const cn_judge_row_t *found = NULL;
    for (size_t i = 0; i < r->n_rows; i++)
        if (strcmp(r->rows[i].name, name) == 0) {
            cr_assert_null(found, "a paired metric has one row, %s has more", name);
            found = &r->rows[i];
        }
    cr_assert_not_null(found, "no row %s", name);
    return found;
}

/* Twelve requests: stable's answers and the canary's, 0.825 higher on
 * average, against a margin of 0.5 (lower is better). */
static const double S12[] = {10.0, 12.5, 9.0,  14.0, 11.0, 13.5,
                             8.5,  12.0, 10.5, 15.0, 9.5,  11.5};
static const double C12[] = {10.8, 13.1, 9.9,  14.6, 12.2, 14.0,
                             9.1,  13.3, 11.0, 16.1, 10.2, 12.6};

/* The result borrows names from *cfg: dispose of both. */
static void judge12(cn_judge_test_t test, cn_judge_config_t *cfg,
                    cn_judge_result_t *res)
{
    cn_judge_config_init(cfg);
    cfg->min_per_arm = 5;
    add(cfg, "score", test, 0.5, CN_JDIR_LOWER);
    cn_judge_data_t *d = cn_judge_data_new();
    cr_assert_eq(cn_judge_data_add_pairs(d, "score", S12, C12, 12), 0);
    cr_assert_eq(cn_judge_run(cfg, d, NULL, res), 0);
    cn_judge_data_free(d);
}

Test(paired, the_t_test_of_the_differences_matches_scipy)
{
    cn_judge_config_t cfg;
    cn_judge_result_t res;
    judge12(CN_JTEST_WELCH, &cfg, &res);
    const cn_judge_row_t *r = only_row(&res, "score");
    cr_assert_eq(r->n_pairs, 12);
    cr_assert_float_eq(r->effect, 0.825, 1e-12);
    cr_assert_float_eq(r->p_harm, 0.0011750474296602076, 1e-12);
    cr_assert_float_eq(r->p_noninf, 0.9988249525703398, 1e-12);
    cr_assert_eq(r->cls, CN_CLASS_FAIL, "0.825 above a margin of 0.5 is shown");
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);
}

Test(paired, the_signed_rank_test_and_the_paired_shift_match_scipy_and_stats)
{
    cn_judge_config_t cfg;
    cn_judge_result_t res;
    judge12(CN_JTEST_MWU, &cfg, &res);
    const cn_judge_row_t *r = only_row(&res, "score");
    cr_assert_float_eq(r->p_harm, 0.0015496613695109966, 1e-9);
    cr_assert_float_eq(r->p_noninf, 0.998450338630489, 1e-9);
    cn_hl_result_t hl;
    cr_assert_eq(cn_stats_hl_paired(C12, 12, S12, 12, 1 - 2 * 0.05, &hl), 0);
    cr_assert_float_eq(r->effect, hl.estimate, 1e-15);
    cr_assert_float_eq(r->ci_low, hl.ci_low, 1e-15);
    cr_assert_float_eq(r->ci_high, hl.ci_high, 1e-15);
    cr_assert_eq(r->cls, CN_CLASS_FAIL);
    cr_assert(strstr(r->reason, "paired, 12 requests") != NULL, "%s", r->reason);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);
}

/*
 * Why pairs: requests vary far more than the versions differ. Stable's
 * answers spread with sd 100; the canary answers each request 3 higher,
 * against a margin of 1. Judged as two independent samples the shift is
 * lost in the spread; judged in pairs it is plain.
 */
Test(paired, pairs_show_a_shift_that_the_spread_of_requests_hides_unpaired)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    size_t n = 400;
    double *s = malloc(n * sizeof *s), *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        s[i] = 500 + gsl_ran_gaussian(rng, 100);
        c[i] = s[i] + 3 + gsl_ran_gaussian(rng, 0.5);
    }
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "score", CN_JTEST_MWU, 1, CN_JDIR_EITHER);
    cn_judge_data_t *paired = cn_judge_data_new(), *unpaired = cn_judge_data_new();
    cr_assert_eq(cn_judge_data_add_pairs(paired, "score", s, c, n), 0);
    cn_judge_data_add_many(unpaired, "score", CN_ARM_STABLE, NULL, s, n);
    cn_judge_data_add_many(unpaired, "score", CN_ARM_CANARY, NULL, c, n);
    cn_judge_result_t rp, ru;
    cr_assert_eq(cn_judge_run(&cfg, paired, NULL, &rp), 0);
    cr_assert_eq(cn_judge_run(&cfg, unpaired, NULL, &ru), 0);
    cr_assert_eq(only_row(&rp, "score")->cls, CN_CLASS_FAIL, "%s",
                 only_row(&rp, "score")->reason);
    cr_assert_eq(rp.verdict, CN_VERDICT_FAIL);
    cr_assert_eq(only_row(&ru, "score")->cls, CN_CLASS_INCONCLUSIVE, "%s",
                 only_row(&ru, "score")->reason);
    cr_assert_eq(only_row(&ru, "score")->n_pairs, 0);
    cn_judge_result_dispose(&rp);
    cn_judge_result_dispose(&ru);
    cn_judge_data_free(paired);
    cn_judge_data_free(unpaired);
    cn_judge_config_dispose(&cfg);
    free(s);
    free(c);
    gsl_rng_free(rng);
}

Test(paired, identical_answers_pass_and_their_floor_is_met_at_once)
{
    double v[50];
    for (size_t i = 0; i < 50; i++)
        v[i] = (double)(i % 7) / 7.0;
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "prediction", CN_JTEST_MWU, 0.01, CN_JDIR_EITHER);
    cn_judge_data_t *d = cn_judge_data_new();
    cr_assert_eq(cn_judge_data_add_pairs(d, "prediction", v, v, 50), 0);
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    const cn_judge_row_t *r = only_row(&res, "prediction");
    cr_assert_eq(r->cls, CN_CLASS_PASS, "%s", r->reason);
    cr_assert_eq(r->min_samples, 0, "no spread in the differences: any n detects");
    cr_assert_eq(r->effect, 0);
    cr_assert_eq(res.verdict, CN_VERDICT_PASS);
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

static cn_judge_metric_t *add_agreement(cn_judge_config_t *cfg, double min,
                                        const double *threshold)
{
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup("agree");
    m.source = strdup("prediction");
    m.test = CN_JTEST_AGREEMENT;
    m.min_agreement = min;
    if (threshold) {
        m.class_threshold = *threshold;
        m.has_class_threshold = 1;
    }
    return cn_judge_config_add_metric(cfg, &m);
}

Test(paired, agreement_is_tested_against_its_minimum_by_exact_binomial_tails)
{
    /* 995 of 1000 requests get the same class from both versions */
    static double s[1000], c[1000];
    for (size_t i = 0; i < 1000; i++) {
        s[i] = (double)(i % 3);
        c[i] = i < 5 ? s[i] + 1 : s[i];
    }
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add_agreement(&cfg, 0.99, NULL);
    cn_judge_data_t *d = cn_judge_data_new();
    cr_assert_eq(cn_judge_data_add_pairs(d, "prediction", s, c, 1000), 0);
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    const cn_judge_row_t *r = only_row(&res, "agree");
    cr_assert_float_eq(r->effect, 0.995, 1e-15);
    cr_assert_float_eq(r->p_harm, 0.9713136000009954, 1e-9);    /* binom.cdf */
    cr_assert_float_eq(r->p_noninf, 0.06613951160725165, 1e-9); /* binom.sf */
    cr_assert_eq(r->cls, CN_CLASS_INCONCLUSIVE, "%s", r->reason);
    double lo, hi;
    cr_assert_eq(cn_stats_wilson_ci(995, 1000, 1 - 2 * 0.05, &lo, &hi), 0);
    cr_assert_float_eq(r->ci_low, lo, 1e-15);
    cr_assert_float_eq(r->ci_high, hi, 1e-15);
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(paired, a_class_threshold_turns_scores_into_classes)
{
    /* scores move a little (no exact agreement) but cross 0.5 together,
     * except for 40 of 400 requests */
    static double s[400], c[400];
    for (size_t i = 0; i < 400; i++) {
        s[i] = (i % 2) ? 0.8 : 0.2;
        c[i] = s[i] + 0.01;
        if (i < 40)
            c[i] = 1 - s[i];
    }
    double thr = 0.5;
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add_agreement(&cfg, 0.99, &thr);
    cn_judge_data_t *d = cn_judge_data_new();
    cr_assert_eq(cn_judge_data_add_pairs(d, "prediction", s, c, 400), 0);
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    const cn_judge_row_t *r = only_row(&res, "agree");
    cr_assert_float_eq(r->effect, 0.9, 1e-15);
    cr_assert_eq(r->cls, CN_CLASS_FAIL, "%s", r->reason);
    cr_assert(strstr(r->reason, "agree less often") != NULL, "%s", r->reason);
    cr_assert_eq(res.verdict, CN_VERDICT_FAIL);
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(paired, agreement_without_pairs_is_nodata_and_says_why)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add_agreement(&cfg, 0.99, NULL);
    cn_judge_data_t *d = cn_judge_data_new();
    for (int i = 0; i < 100; i++) {
        cn_judge_data_add(d, "prediction", CN_ARM_STABLE, NULL, 1);
        cn_judge_data_add(d, "prediction", CN_ARM_CANARY, NULL, 1);
    }
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    const cn_judge_row_t *r = only_row(&res, "agree");
    cr_assert_eq(r->cls, CN_CLASS_NODATA);
    cr_assert(strstr(r->reason, "needs pairs") != NULL, "%s", r->reason);
    cr_assert_neq(res.verdict, CN_VERDICT_FAIL, "no data is never a failure");
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(paired, pairs_replace_the_metrics_other_samples_and_have_no_segment_rows)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cfg.segment_by = strdup("region");
    cfg.min_per_arm = 5;
    cn_judge_metric_t *m = add(&cfg, "score", CN_JTEST_KS, 0, CN_JDIR_LOWER);
    m->has_margin = 0;
    m->max_statistic = 0.2;
    cn_judge_data_t *d = cn_judge_data_new();
    /* unpaired samples that differ completely, in two segments */
    for (int i = 0; i < 50; i++) {
        cn_judge_data_add(d, "score", CN_ARM_STABLE, "eu", 0);
        cn_judge_data_add(d, "score", CN_ARM_CANARY, "us", 1);
    }
    cr_assert_eq(cn_judge_data_add_pairs(d, "score", S12, S12, 12), 0);
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    const cn_judge_row_t *r = only_row(&res, "score");
    cr_assert_null(r->segment);
    cr_assert_eq(r->n_pairs, 12);
    cr_assert_eq(r->canary.n, 12);
    cr_assert_eq(r->effect, 0, "the pairs' sides are the same values: D = 0");
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(paired, bad_pairs_are_refused_and_change_nothing)
{
    cn_judge_data_t *d = cn_judge_data_new();
    double ok[2] = {1, 2}, bad[2] = {1, NAN};
    cr_assert_eq(cn_judge_data_add_pairs(d, "x", ok, bad, 2), CN_ENONFINITE);
    cr_assert_eq(cn_judge_data_add_pairs(d, "x", NULL, ok, 2), CN_EINVAL);
    cr_assert_eq(cn_judge_data_add_pairs(NULL, "x", ok, ok, 2), CN_EINVAL);
    cr_assert_eq(cn_judge_data_add_pairs(d, NULL, ok, ok, 2), CN_EINVAL);
    cr_assert_eq(cn_judge_data_add_pairs(d, "x", NULL, NULL, 0), 0);
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "x", CN_JTEST_MWU, 1, CN_JDIR_LOWER);
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    cr_assert_eq(res.rows[0].cls, CN_CLASS_NODATA, "%s", res.rows[0].reason);
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}
