/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The judge's rules, one behaviour per test: classification, the sample
 * floor, alpha spending, segments, score and verdict. The statistical
 * evidence over thousands of simulated rollouts lives in tests/sim/.
 */
#include "judge/judge.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

static gsl_rng *rng;

static void setup(void)
{
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 12345);
}

static void teardown(void)
{
    gsl_rng_free(rng);
}

TestSuite(judge, .init = setup, .fini = teardown);

static cn_judge_metric_t *add(cn_judge_config_t *cfg, const char *name,
                              cn_judge_test_t test, double margin,
                              cn_margin_kind_t kind)
{
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup(name);
    m.test = test;
    m.margin = margin;
    m.margin_kind = kind;
    m.has_margin = 1;
    return cn_judge_config_add_metric(cfg, &m);
}

static void lognormal(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                      const char *seg, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        cn_judge_data_add(d, metric, arm, seg,
                          scale * gsl_ran_lognormal(rng, log(40), 0.5));
}

static void rate(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm, size_t n,
                 double p)
{
    for (size_t i = 0; i < n; i++)
        cn_judge_data_add(d, metric, arm, NULL, gsl_rng_uniform(rng) < p ? 1 : 0);
}

static const cn_judge_row_t *row(const cn_judge_result_t *r, const char *name,
                                 const char *segment)
{
    for (size_t i = 0; i < r->n_rows; i++) {
        const cn_judge_row_t *x = &r->rows[i];
        if (strcmp(x->name, name) == 0 &&
            ((!segment && !x->segment) ||
             (segment && x->segment && strcmp(x->segment, segment) == 0)))
            return x;
    }
    cr_assert_fail("no row %s/%s", name, segment ? segment : "-");
    return NULL;
}

Test(spending, each_function_spends_exactly_alpha_over_the_rollout)
{
    double obf = 0, poc = 0;
    for (unsigned k = 1; k <= 6; k++) {
        cn_judge_look_t l = cn_judge_look_index(k, 6);
        obf += cn_judge_spend_obf(0.05, l.t_prev, l.t);
        poc += cn_judge_spend_pocock(0.05, l.t_prev, l.t);
    }
    cr_assert_float_eq(obf, 0.05, 1e-15);
    cr_assert_float_eq(poc, 0.05, 1e-15);
    /* OBF at t = 1/2: 2 - 2 Phi(1.959964 / sqrt(0.5)) = 0.0055746 */
    cr_assert_float_eq(cn_judge_spend_obf(0.05, 0, 0.5), 0.005574596680784305, 1e-12);
    /* Pocock spends early, OBF late. */
    cr_assert_gt(cn_judge_spend_pocock(0.05, 0, 1.0 / 6), 0.012);
    cr_assert_lt(cn_judge_spend_obf(0.05, 0, 1.0 / 6), 2e-6);
    cr_assert(isnan(cn_judge_look_index(0, 6).t));
    cr_assert(isnan(cn_judge_look_index(7, 6).t));
}

Test(judge, an_identical_canary_with_plenty_of_data_passes)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_data_t *d = cn_judge_data_new();
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 4000, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 4000, 1);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    const cn_judge_row_t *x = row(&r, "latency_ms", NULL);
    cr_assert_eq(x->cls, CN_CLASS_PASS, "%s", x->reason);
    cr_assert_eq(r.verdict, CN_VERDICT_PASS, "%s", r.reason);
    cr_assert_float_eq(r.score, 100, 0);
    cr_assert_lt(x->ci_low, x->margin_abs);
    cr_assert_lt(x->ci_high, x->margin_abs);
    cr_assert_leq(x->adjusted_pvalue, 0.05);
    cr_assert_eq(x->canary.n, 4000);
    cr_assert(strstr(x->reason, "non-inferior") != NULL, "%s", x->reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, a_canary_clearly_worse_than_the_margin_fails_with_its_interval_beyond_it)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_data_t *d = cn_judge_data_new();
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 4000, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 4000, 1.2);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    const cn_judge_row_t *x = row(&r, "latency_ms", NULL);
    cr_assert_eq(x->cls, CN_CLASS_FAIL, "%s", x->reason);
    cr_assert_gt(x->ci_low, x->margin_abs, "the interval lies beyond the margin");
    cr_assert_eq(r.verdict, CN_VERDICT_FAIL);
    cr_assert(strstr(x->reason, "worse (higher)") != NULL, "%s", x->reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, a_small_identical_sample_is_inconclusive_not_failed)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_data_t *d = cn_judge_data_new();
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 60, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 60, 1);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    const cn_judge_row_t *x = row(&r, "latency_ms", NULL);
    cr_assert_eq(x->cls, CN_CLASS_INCONCLUSIVE, "%s", x->reason);
    cr_assert_gt(x->min_samples, 60, "the derived floor exceeds the sample");
    cr_assert_eq(r.verdict, CN_VERDICT_MARGINAL, "%s", r.reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, below_the_floor_of_20_per_arm_is_nodata_and_holds)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    add(&cfg, "missing", CN_JTEST_WELCH, 1, CN_MARGIN_ABSOLUTE);
    cn_judge_data_t *d = cn_judge_data_new();
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 500, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 19, 1);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "latency_ms", NULL)->cls, CN_CLASS_NODATA);
    cr_assert(strstr(row(&r, "latency_ms", NULL)->reason, "n_canary=19") != NULL);
    cr_assert_eq(row(&r, "missing", NULL)->cls, CN_CLASS_NODATA);
    cr_assert(strstr(row(&r, "missing", NULL)->reason, "no samples named") != NULL);
    cr_assert_eq(r.verdict, CN_VERDICT_MARGINAL);
    cr_assert(strstr(r.reason, "no metric has enough data") != NULL, "%s", r.reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, gross_failures_fail_at_the_first_of_six_looks_with_50_per_arm)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cfg.looks = 6;
    cn_judge_metric_t *e =
        add(&cfg, "error", CN_JTEST_PROPORTION, 0.005, CN_MARGIN_ABSOLUTE);
    e->critical = 1;
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_look_t look = cn_judge_look_index(1, 6);

    cn_judge_data_t *d = cn_judge_data_new();
    rate(d, "error", CN_ARM_STABLE, 50, 0.01);
    rate(d, "error", CN_ARM_CANARY, 50, 0.5);
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 50, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 50, 1);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, &look, &r), 0);
    cr_assert_eq(row(&r, "error", NULL)->cls, CN_CLASS_FAIL, "%s",
                 row(&r, "error", NULL)->reason);
    cr_assert_eq(r.verdict, CN_VERDICT_FAIL);
    cr_assert(strstr(r.reason, "critical metric 'error'") != NULL, "%s", r.reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);

    d = cn_judge_data_new();
    rate(d, "error", CN_ARM_STABLE, 50, 0.01);
    rate(d, "error", CN_ARM_CANARY, 50, 0.01);
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 50, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 50, 3);
    cr_assert_eq(cn_judge_run(&cfg, d, &look, &r), 0);
    cr_assert_eq(row(&r, "latency_ms", NULL)->cls, CN_CLASS_FAIL, "%s",
                 row(&r, "latency_ms", NULL)->reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, kayentas_variance_case_does_not_pass)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cfg.min_per_arm = 1;
    add(&cfg, "m", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_data_t *d = cn_judge_data_new();
    for (int i = 0; i < 10; i++) {
        cn_judge_data_add(d, "m", CN_ARM_CANARY, NULL, i < 7 ? 100 : 1);
        cn_judge_data_add(d, "m", CN_ARM_STABLE, NULL, 1);
    }
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_neq(r.verdict, CN_VERDICT_PASS, "%s", r.reason);
    cr_assert_neq(row(&r, "m", NULL)->cls, CN_CLASS_PASS);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, a_regression_in_one_segment_fails_the_metric)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cfg.segment_by = strdup("region");
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_data_t *d = cn_judge_data_new();
    const char *regions[] = {"r0", "r1", "r2", "r3", "r4",
                             "r5", "r6", "r7", "r8", "r9"};
    for (int s = 0; s < 10; s++) {
        lognormal(d, "latency_ms", CN_ARM_STABLE, regions[s], 800, 1);
        lognormal(d, "latency_ms", CN_ARM_CANARY, regions[s], 800, s == 7 ? 1.5 : 1);
    }
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(r.n_rows, 11, "aggregate + 10 segments");
    cr_assert_eq(row(&r, "latency_ms", "r7")->cls, CN_CLASS_FAIL, "%s",
                 row(&r, "latency_ms", "r7")->reason);
    cr_assert_eq(r.verdict, CN_VERDICT_FAIL, "%s", r.reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, score_weights_passing_metrics_and_a_fail_above_marginal_holds)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "a", CN_JTEST_WELCH, 0.05, CN_MARGIN_RELATIVE)->weight = 3;
    add(&cfg, "b", CN_JTEST_WELCH, 0.05, CN_MARGIN_RELATIVE)->weight = 1;
    cn_judge_data_t *d = cn_judge_data_new();
    lognormal(d, "a", CN_ARM_STABLE, NULL, 4000, 1);
    lognormal(d, "a", CN_ARM_CANARY, NULL, 4000, 1);
    lognormal(d, "b", CN_ARM_STABLE, NULL, 4000, 1);
    lognormal(d, "b", CN_ARM_CANARY, NULL, 4000, 1.5);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "a", NULL)->cls, CN_CLASS_PASS, "%s",
                 row(&r, "a", NULL)->reason);
    cr_assert_eq(row(&r, "b", NULL)->cls, CN_CLASS_FAIL);
    cr_assert_float_eq(r.score, 75, 1e-12);
    /* One non-critical fail with score 75 > 60: a human decides. */
    cr_assert_eq(r.verdict, CN_VERDICT_MARGINAL, "%s", r.reason);
    cfg.marginal_score = 80;
    cn_judge_result_dispose(&r);
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(r.verdict, CN_VERDICT_FAIL, "%s", r.reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, higher_is_better_fails_a_drop_and_passes_a_rise)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "ctr", CN_JTEST_PROPORTION, 0.01, CN_MARGIN_ABSOLUTE)->direction =
        CN_JDIR_HIGHER;
    cn_judge_data_t *d = cn_judge_data_new();
    rate(d, "ctr", CN_ARM_STABLE, 20000, 0.10);
    rate(d, "ctr", CN_ARM_CANARY, 20000, 0.06);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "ctr", NULL)->cls, CN_CLASS_FAIL, "%s",
                 row(&r, "ctr", NULL)->reason);
    cr_assert(strstr(row(&r, "ctr", NULL)->reason, "worse (lower)") != NULL);
    cn_judge_result_dispose(&r);
    cn_judge_data_clear(d);
    rate(d, "ctr", CN_ARM_STABLE, 20000, 0.10);
    rate(d, "ctr", CN_ARM_CANARY, 20000, 0.12);
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "ctr", NULL)->cls, CN_CLASS_PASS, "%s",
                 row(&r, "ctr", NULL)->reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, a_rate_metric_with_a_non_binary_value_is_an_error_row)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "error", CN_JTEST_PROPORTION, 0.01, CN_MARGIN_ABSOLUTE);
    cn_judge_data_t *d = cn_judge_data_new();
    rate(d, "error", CN_ARM_STABLE, 100, 0.1);
    rate(d, "error", CN_ARM_CANARY, 99, 0.1);
    cn_judge_data_add(d, "error", CN_ARM_CANARY, NULL, 0.5);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "error", NULL)->cls, CN_CLASS_ERROR);
    cr_assert(strstr(row(&r, "error", NULL)->reason, "0 or 1") != NULL, "%s",
              row(&r, "error", NULL)->reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, gates_decide_only_with_enough_samples)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup("p99");
    m.test = CN_JTEST_THRESHOLD;
    m.source = strdup("latency_ms");
    m.quantile = 0.99;
    m.max = 200;
    m.has_max = 1;
    cn_judge_config_add_metric(&cfg, &m);
    cn_judge_data_t *d = cn_judge_data_new();
    lognormal(d, "latency_ms", CN_ARM_STABLE, NULL, 100, 1);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 100, 10);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "p99", NULL)->cls, CN_CLASS_INCONCLUSIVE, "%s",
                 row(&r, "p99", NULL)->reason);
    cn_judge_result_dispose(&r);
    lognormal(d, "latency_ms", CN_ARM_CANARY, NULL, 500, 10);
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    cr_assert_eq(row(&r, "p99", NULL)->cls, CN_CLASS_FAIL, "%s",
                 row(&r, "p99", NULL)->reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, an_invalid_look_is_rejected)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cn_judge_data_t *d = cn_judge_data_new();
    cn_judge_result_t r;
    cn_judge_look_t bad = {0.3, 0.5};
    cr_assert_eq(cn_judge_run(&cfg, d, &bad, &r), CN_EINVAL);
    bad = (cn_judge_look_t){1.5, 0};
    cr_assert_eq(cn_judge_run(&cfg, d, &bad, &r), CN_EINVAL);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, either_direction_fails_a_change_beyond_the_margin_both_ways)
{
    double scales[] = {1.3, 0.7, 1.0};
    cn_judge_class_t want[] = {CN_CLASS_FAIL, CN_CLASS_FAIL, CN_CLASS_PASS};
    for (int k = 0; k < 3; k++) {
        cn_judge_config_t cfg;
        cn_judge_config_init(&cfg);
        add(&cfg, "prediction", CN_JTEST_WELCH, 0.05, CN_MARGIN_RELATIVE)->direction =
            CN_JDIR_EITHER;
        cn_judge_data_t *d = cn_judge_data_new();
        lognormal(d, "prediction", CN_ARM_STABLE, NULL, 6000, 1);
        lognormal(d, "prediction", CN_ARM_CANARY, NULL, 6000, scales[k]);
        cn_judge_result_t r;
        cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
        const cn_judge_row_t *x = row(&r, "prediction", NULL);
        cr_assert_eq(x->cls, want[k], "scale %g: %s", scales[k], x->reason);
        cn_judge_result_dispose(&r);
        cn_judge_data_free(d);
        cn_judge_config_dispose(&cfg);
    }
}

/* n scored predictions: label ~ Bernoulli(0.3), score a noisy logistic of
 * the label with separation sep (0: an uninformative model). */
static void scored(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                   const char *seg, size_t n, double sep)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t y = gsl_rng_uniform(rng) < 0.3;
        double z = (y ? sep : -sep) + gsl_ran_gaussian(rng, 1.0);
        double p = 1 / (1 + exp(-z));
        cr_assert_eq(cn_judge_data_add_scored(d, metric, arm, seg, &p, &y, 1), 0);
    }
}

Test(judge, auc_of_an_equally_good_model_passes_and_of_a_worse_one_fails)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cn_judge_metric_t *m = add(&cfg, "auc", CN_JTEST_AUC, 0.02, CN_MARGIN_ABSOLUTE);
    m->direction = CN_JDIR_HIGHER;
    cn_judge_data_t *d = cn_judge_data_new();
    scored(d, "auc", CN_ARM_STABLE, NULL, 20000, 1.0);
    scored(d, "auc", CN_ARM_CANARY, NULL, 20000, 1.0);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    const cn_judge_row_t *x = row(&r, "auc", NULL);
    cr_assert_eq(x->cls, CN_CLASS_PASS, "%s", x->reason);
    cr_assert_gt(x->canary.mean, 0.9,
                 "the arms report their AUC (Phi(sqrt 2) = 0.921)");
    cr_assert_lt(x->canary.mean, 0.94);
    cr_assert_gt(x->ci_low, -0.02);
    cr_assert_eq(x->canary.n, 20000);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);

    d = cn_judge_data_new();
    scored(d, "auc", CN_ARM_STABLE, NULL, 5000, 1.0);
    scored(d, "auc", CN_ARM_CANARY, NULL, 5000, 0.5);
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    x = row(&r, "auc", NULL);
    cr_assert_eq(x->cls, CN_CLASS_FAIL, "%s", x->reason);
    cr_assert_lt(x->ci_high, -0.02, "the interval lies beyond the margin");
    cr_assert_eq(r.verdict, CN_VERDICT_FAIL);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, auc_fails_in_the_segment_where_the_model_is_worse)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cfg.segment_by = strdup("region");
    cn_judge_metric_t *m = add(&cfg, "auc", CN_JTEST_AUC, 0.02, CN_MARGIN_ABSOLUTE);
    m->direction = CN_JDIR_HIGHER;
    cn_judge_data_t *d = cn_judge_data_new();
    scored(d, "auc", CN_ARM_STABLE, "us", 8000, 1.0);
    scored(d, "auc", CN_ARM_CANARY, "us", 8000, 1.0);
    scored(d, "auc", CN_ARM_STABLE, "eu", 3000, 1.0);
    scored(d, "auc", CN_ARM_CANARY, "eu", 3000, 0.3);
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    const cn_judge_row_t *eu = row(&r, "auc", "eu");
    cr_assert_eq(eu->cls, CN_CLASS_FAIL, "%s", eu->reason);
    cr_assert_neq(row(&r, "auc", "us")->cls, CN_CLASS_FAIL);
    cr_assert_eq(r.verdict, CN_VERDICT_FAIL);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, auc_without_both_classes_is_nodata_and_plain_values_are_an_error)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "auc", CN_JTEST_AUC, 0.02, CN_MARGIN_ABSOLUTE)->direction =
        CN_JDIR_HIGHER;
    cn_judge_data_t *d = cn_judge_data_new();
    scored(d, "auc", CN_ARM_STABLE, NULL, 500, 1.0);
    uint8_t one = 1;
    for (int i = 0; i < 100; i++) {
        double p = 0.01 * i;
        cn_judge_data_add_scored(d, "auc", CN_ARM_CANARY, NULL, &p, &one, 1);
    }
    cn_judge_result_t r;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &r), 0);
    const cn_judge_row_t *x = row(&r, "auc", NULL);
    cr_assert_eq(x->cls, CN_CLASS_NODATA, "%s", x->reason);
    cr_assert(strstr(x->reason, "both classes") != NULL, "%s", x->reason);
    cr_assert_eq(r.verdict, CN_VERDICT_MARGINAL, "%s", r.reason);
    cn_judge_result_dispose(&r);
    /* a metric's values are all scored or none is */
    double v = 0.5;
    cr_assert_eq(cn_judge_data_add(d, "auc", CN_ARM_CANARY, NULL, v), CN_EINVAL);
    cr_assert_eq(cn_judge_data_add(d, "plain", CN_ARM_CANARY, NULL, v), 0);
    cr_assert_eq(cn_judge_data_add_scored(d, "plain", CN_ARM_CANARY, NULL, &v, &one, 1),
                 CN_EINVAL);
    uint8_t two = 2;
    cr_assert_eq(cn_judge_data_add_scored(d, "auc", CN_ARM_CANARY, NULL, &v, &two, 1),
                 CN_EINVAL);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge, a_config_wants_its_metrics_names_and_the_sources_they_read)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE);
    cn_judge_metric_t *t = add(&cfg, "p99", CN_JTEST_THRESHOLD, 0, CN_MARGIN_ABSOLUTE);
    t->source = strdup("ttfb_ms");
    cr_assert(cn_judge_config_wants(&cfg, "latency_ms"));
    cr_assert(cn_judge_config_wants(&cfg, "ttfb_ms"));
    cr_assert(cn_judge_config_wants(&cfg, "p99"));
    cr_assert_not(cn_judge_config_wants(&cfg, "error"));
    cn_judge_config_dispose(&cfg);
}
