/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The judge on binned data (cn_judge_data_add_bins: a histogram, as the
 * Prometheus source gives latency): mann-whitney by bounds over every
 * placement of the values in their bins, threshold on the quantile's
 * interval bounded by the bucket edges, ks by harm only, the other tests
 * refused, and the rows' words saying the data are binned.
 */
#include "judge/judge.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static cn_judge_metric_t *add(cn_judge_config_t *cfg, const char *name,
                              cn_judge_test_t test, double margin)
{
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup(name);
    m.test = test;
    m.margin = margin;
    m.margin_kind = CN_MARGIN_ABSOLUTE;
    m.has_margin = 1;
    return cn_judge_config_add_metric(cfg, &m);
}

static const cn_judge_row_t *agg_row(const cn_judge_result_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (strcmp(r->rows[i].name, name) == 0 && !r->rows[i].segment)
            return &r->rows[i];
    cr_assert_fail("no row %s", name);
    return NULL;
}

/* Fine buckets: 1 ms wide from 0 to 40 ms, then +Inf. */
#define FINE 41
static double fine_bounds[FINE - 1];

static void fine_init(void)
{
    for (int i = 0; i < FINE - 1; i++)
        fine_bounds[i] = i + 1;
}

/* n values spread evenly over [from, from + width) ms, binned finely. */
static void fill_fine(uint64_t *bins, double from, double width, uint64_t n)
{
    memset(bins, 0, FINE * sizeof *bins);
    for (uint64_t i = 0; i < n; i++) {
        double v = from + width * ((double)i + 0.5) / (double)n;
        size_t b = 0;
        while (b < FINE - 1 && v > fine_bounds[b])
            b++;
        bins[b]++;
    }
}

static void run(cn_judge_config_t *cfg, const uint64_t *canary, const uint64_t *stable,
                const double *bounds, size_t k, cn_judge_result_t *res)
{
    cn_judge_data_t *d = cn_judge_data_new();
    cr_assert_eq(cn_judge_data_add_bins(d, "latency_ms", CN_ARM_CANARY, NULL, bounds, 0,
                                        canary, k),
                 0);
    cr_assert_eq(cn_judge_data_add_bins(d, "latency_ms", CN_ARM_STABLE, NULL, bounds, 0,
                                        stable, k),
                 0);
    cr_assert_eq(cn_judge_run(cfg, d, NULL, res), 0);
    cn_judge_data_free(d);
}

Test(judge_binned, a_canary_slower_by_far_more_than_margin_and_buckets_fails_in_words)
{
    fine_init();
    uint64_t c[FINE], s[FINE];
    fill_fine(s, 5, 10, 2000);  /* stable 5-15 ms */
    fill_fine(c, 25, 10, 2000); /* canary 25-35 ms */
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 2);
    cn_judge_result_t res;
    run(&cfg, c, s, fine_bounds, FINE, &res);
    const cn_judge_row_t *r = agg_row(&res, "latency_ms");
    cr_assert_eq(r->cls, CN_CLASS_FAIL, "%s", r->reason);
    cr_assert_eq(res.verdict, CN_VERDICT_FAIL);
    cr_assert(strstr(r->reason, "binned"), "%s", r->reason);
    cr_assert(strstr(r->reason, "bucket edges"), "%s", r->reason);
    /* the shift is 20 ms; its bounds are within one bucket either way */
    cr_assert(r->ci_low <= 20 && r->ci_high >= 20, "[%g, %g]", r->ci_low, r->ci_high);
    cr_assert(r->effect > 18 && r->effect < 22, "%g", r->effect);
    cr_assert_eq(r->canary.n, 2000);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);
}

Test(judge_binned, an_identical_canary_passes_when_the_margin_exceeds_the_bucket_width)
{
    fine_init();
    uint64_t c[FINE], s[FINE];
    fill_fine(s, 5, 10, 4000);
    fill_fine(c, 5, 10, 4000);
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 2); /* buckets are 1 ms wide */
    cn_judge_result_t res;
    run(&cfg, c, s, fine_bounds, FINE, &res);
    const cn_judge_row_t *r = agg_row(&res, "latency_ms");
    cr_assert_eq(r->cls, CN_CLASS_PASS, "%s", r->reason);
    cr_assert(strstr(r->reason, "binned at 41 buckets"), "%s", r->reason);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);
}

Test(judge_binned, a_shift_smaller_than_the_buckets_is_inconclusive_never_a_fail)
{
    /* Prometheus-like coarse buckets: everything in (10, 25] ms. A margin
     * of 2 ms cannot be shown either way inside a 15 ms bucket. */
    const double bounds[] = {5, 10, 25, 50, 100};
    const uint64_t c[] = {0, 0, 5000, 0, 0, 0}, s[] = {0, 0, 5000, 0, 0, 0};
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 2);
    cn_judge_result_t res;
    run(&cfg, c, s, bounds, 6, &res);
    const cn_judge_row_t *r = agg_row(&res, "latency_ms");
    cr_assert_eq(r->cls, CN_CLASS_INCONCLUSIVE, "%s", r->reason);
    cr_assert_eq(res.verdict, CN_VERDICT_MARGINAL);
    /* the shift's interval spans the bucket: -15 to +15 ms */
    cr_assert_eq(r->ci_low, -15);
    cr_assert_eq(r->ci_high, 15);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);
}

Test(judge_binned, threshold_uses_the_quantile_interval_bounded_by_the_bucket_edges)
{
    const double bounds[] = {5, 10, 25, 50, 100};
    /* p99 of the canary is in (25, 50]. */
    const uint64_t c[] = {500, 3000, 1400, 100, 0, 0},
                   s[] = {500, 3000, 1490, 10, 0, 0};
    struct {
        double max;
        cn_judge_class_t cls;
        const char *word;
    } cases[] = {{50, CN_CLASS_PASS, "within"},
                 {25, CN_CLASS_FAIL, "wholly above"},
                 {30, CN_CLASS_INCONCLUSIVE, "straddles"}};
    for (size_t i = 0; i < 3; i++) {
        cn_judge_config_t cfg;
        cn_judge_config_init(&cfg);
        cn_judge_metric_t *m = add(&cfg, "p99", CN_JTEST_THRESHOLD, 0);
        m->source = strdup("latency_ms");
        m->quantile = 0.99;
        m->max = cases[i].max;
        m->has_max = 1;
        cn_judge_result_t res;
        run(&cfg, c, s, bounds, 6, &res);
        const cn_judge_row_t *r = agg_row(&res, "p99");
        cr_assert_eq(r->cls, cases[i].cls, "max %g: %s", cases[i].max, r->reason);
        cr_assert(strstr(r->reason, cases[i].word), "%s", r->reason);
        cr_assert(strstr(r->reason, "bucket edges"), "%s", r->reason);
        cr_assert_eq(r->ci_low, 25);
        cr_assert_eq(r->ci_high, 50);
        cn_judge_result_dispose(&res);
        cn_judge_config_dispose(&cfg);
    }
}

Test(judge_binned, ks_on_bins_can_show_drift_but_never_pass)
{
    const double bounds[] = {5, 10, 25, 50, 100};
    const uint64_t c[] = {0, 0, 0, 4000, 0, 0}, s[] = {0, 4000, 0, 0, 0, 0},
                   same[] = {0, 4000, 0, 0, 0, 0};
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cn_judge_metric_t *m = add(&cfg, "latency_ms", CN_JTEST_KS, 0);
    m->has_margin = 0;
    cn_judge_result_t res;
    run(&cfg, c, s, bounds, 6, &res);
    cr_assert_eq(agg_row(&res, "latency_ms")->cls, CN_CLASS_FAIL);
    cn_judge_result_dispose(&res);
    run(&cfg, same, s, bounds, 6, &res);
    const cn_judge_row_t *r = agg_row(&res, "latency_ms");
    cr_assert_eq(r->cls, CN_CLASS_INCONCLUSIVE, "%s", r->reason);
    cr_assert(strstr(r->reason, "cannot be shown from buckets"), "%s", r->reason);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);
}

Test(judge_binned, tests_that_need_values_and_mixed_inputs_are_error_rows)
{
    const double bounds[] = {5, 10};
    const uint64_t c[] = {100, 100, 100};
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_WELCH, 1);
    cn_judge_result_t res;
    run(&cfg, c, c, bounds, 3, &res);
    const cn_judge_row_t *r = agg_row(&res, "latency_ms");
    cr_assert_eq(r->cls, CN_CLASS_ERROR);
    cr_assert(strstr(r->reason, "binned"), "%s", r->reason);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&cfg);

    cn_judge_config_init(&cfg);
    add(&cfg, "latency_ms", CN_JTEST_MWU, 1);
    cn_judge_data_t *d = cn_judge_data_new();
    cr_assert_eq(
        cn_judge_data_add_bins(d, "latency_ms", CN_ARM_CANARY, NULL, bounds, 0, c, 3),
        0);
    cr_assert_eq(cn_judge_data_add(d, "latency_ms", CN_ARM_STABLE, NULL, 3.0), 0);
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    cr_assert_eq(agg_row(&res, "latency_ms")->cls, CN_CLASS_ERROR);
    cn_judge_result_dispose(&res);
    /* the edges of a metric are fixed by its first bins */
    const double other[] = {5, 11};
    cr_assert_eq(
        cn_judge_data_add_bins(d, "latency_ms", CN_ARM_STABLE, NULL, other, 0, c, 3),
        CN_EINVAL);
    const double unsorted[] = {10, 5};
    cr_assert_eq(cn_judge_data_add_bins(d, "x", CN_ARM_STABLE, NULL, unsorted, 0, c, 3),
                 CN_EINVAL);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}

Test(judge_binned, segments_sum_into_the_aggregate_without_stratifying)
{
    /* The driver also gives each arm's requests per segment (for the
     * reservoirs' stratified aggregate): bins are whole counts and need
     * none of it. */
    fine_init();
    uint64_t a[FINE], b[FINE];
    fill_fine(a, 5, 10, 3000);
    fill_fine(b, 5, 10, 1000);
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cfg.segment_by = strdup("region");
    add(&cfg, "latency_ms", CN_JTEST_MWU, 2);
    cn_judge_data_t *d = cn_judge_data_new();
    const char *segs[2] = {"eu", "us"};
    for (int arm = 0; arm < 2; arm++)
        for (int sg = 0; sg < 2; sg++) {
            cr_assert_eq(cn_judge_data_set_requests(d, (cn_judge_arm_t)arm, segs[sg],
                                                    sg ? 1000 : 3000),
                         0);
            cr_assert_eq(cn_judge_data_add_bins(d, "latency_ms", (cn_judge_arm_t)arm,
                                                segs[sg], fine_bounds, 0, sg ? b : a,
                                                FINE),
                         0);
        }
    cn_judge_result_t res;
    cr_assert_eq(cn_judge_run(&cfg, d, NULL, &res), 0);
    cr_assert_eq(res.n_rows, 3);
    const cn_judge_row_t *r = agg_row(&res, "latency_ms");
    cr_assert_eq(r->canary.n, 4000);
    cr_assert_eq(r->stable.n, 4000);
    cr_assert_eq(r->cls, CN_CLASS_PASS, "%s", r->reason);
    for (size_t i = 1; i < 3; i++)
        cr_assert_neq(res.rows[i].cls, CN_CLASS_ERROR, "%s", res.rows[i].reason);
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
}
