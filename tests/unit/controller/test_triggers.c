/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout's triggers (controller/triggers.h): the exact binomial tail
 * and the quantile bound against scipy's values, the issue's example (six
 * failures in six requests against max 0.05: p = 1.6e-8), and each check:
 * when it fires, when it must not (no data, a breach without evidence, a
 * ratio with stable at 0 errors but the canary's rate not above min_rate),
 * which checks run in warmup and at 100%, and the refusal of inconsistent
 * counts.
 *
 * The golden values come from scipy 1.x (Debian's python3-scipy):
 *
 *   import scipy.stats as st
 *   sf = lambda k, n, p: st.binom.sf(k - 1, n, p)          # P(X >= k)
 *   def rank(m, q, level):                                  # bound rank
 *       if sf(m, m, q) > level: return 0
 *       return min(j for j in range(1, m + 1) if sf(j, m, q) <= level)
 *   for k, n, p in CASES: print(k, n, p, repr(float(sf(k, n, p))))
 *   p0 = r * nc / (r * nc + ns)                              # ratio check
 *   print(repr(sf(ec, ec + es, p0)), repr(sf(ec, nc, min_rate)))
 */
#include "controller/strategy.h"
#include "controller/triggers.h"
#include "metrics/metrics.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* |got - want| within rel of want (or both zero). */
static void assert_close(double got, double want, double rel, const char *what)
{
    if (want == 0) {
        cr_assert_eq(got, 0, "%s: got %.17g, want 0", what, got);
        return;
    }
    cr_assert(fabs(got - want) <= rel * fabs(want), "%s: got %.17g, want %.17g", what,
              got, want);
}

typedef struct sf_case_s {
    uint64_t k, n;
    double p, sf;
} sf_case_t;

static const sf_case_t sf_cases[] = {
    {6, 6, 0.05, 1.5625000000000006e-08},
    {3, 100, 0.05, 0.8817370188148796},
    {10, 100, 0.05, 0.028188294163416113},
    {15, 100, 0.05, 0.00013585423899229154},
    {1, 1, 0.5, 0.5},
    {50, 1000, 0.01, 8.306371435388825e-20},
    {30, 1000, 0.01, 2.059988850971949e-07},
    {0, 10, 0.3, 1.0},
    {11, 10, 0.3, 0.0},
    {5, 10, 0.3, 0.15026833259999992},
    {1, 1000000, 1e-09, 0.0009995001671245086},
    {200, 1000000, 0.0001, 9.296562418359234e-19},
    {130, 100000, 0.001, 0.0022712638657808523},
    {500, 1000, 0.5, 0.5126125090891801},
    {400, 1000, 0.5, 0.9999999999099158},
    {2, 10, 0.5, 0.9892578125},
    {9, 10, 0.999, 0.9999552393710069},
    {1000000, 1000000, 0.999999, 0.36787925722106646},
    {12000, 1000000, 0.01, 7.459607850494776e-85},
    {10500, 1000000, 0.01, 3.15856587924741e-07},
    {20, 1000, 0.01, 0.0032883597877274573},
    {25, 1000, 0.01, 4.202920844836726e-05},
};

Test(triggers_binomial, the_upper_tail_matches_scipy)
{
    for (size_t i = 0; i < sizeof sf_cases / sizeof sf_cases[0]; i++) {
        const sf_case_t *c = &sf_cases[i];
        char what[80];
        snprintf(what, sizeof what, "P(X >= %llu), n=%llu, p=%g",
                 (unsigned long long)c->k, (unsigned long long)c->n, c->p);
        /* Far in the tail the relative error is what counts; near 1 the
         * complement's rounding is 1e-16 absolute. */
        assert_close(cn_triggers_binom_sf(c->k, c->n, c->p), c->sf, 1e-9, what);
    }
}

Test(triggers_binomial, the_issue_example_six_of_six_against_five_percent)
{
    double p = cn_triggers_binom_sf(6, 6, 0.05);
    assert_close(p, 1.5625e-8, 1e-12, "0.05^6");
    cr_assert(p < 1e-7, "fires at the default level");
    cr_assert(cn_triggers_binom_sf(5, 5, 0.05) > 1e-7, "five of five does not");
}

Test(triggers_binomial, edges)
{
    cr_assert_eq(cn_triggers_binom_sf(0, 0, 0.5), 1);
    cr_assert_eq(cn_triggers_binom_sf(1, 0, 0.5), 0);
    cr_assert_eq(cn_triggers_binom_sf(1, 10, 0), 0);
    cr_assert_eq(cn_triggers_binom_sf(10, 10, 1), 1);
    cr_assert(isnan(cn_triggers_binom_sf(1, 10, -0.1)));
    cr_assert(isnan(cn_triggers_binom_sf(1, 10, 1.5)));
    cr_assert(isnan(cn_triggers_binom_sf(1, 10, NAN)));
    /* The tail never rises with k. */
    double prev = 1;
    for (uint64_t k = 0; k <= 200; k++) {
        double sf = cn_triggers_binom_sf(k, 200, 0.3);
        cr_assert(sf <= prev + 1e-15, "k=%llu", (unsigned long long)k);
        prev = sf;
    }
}

typedef struct rank_case_s {
    uint64_t m;
    double q, level;
    uint64_t rank;
} rank_case_t;

static const rank_case_t rank_cases[] = {
    {1000, 0.99, 5e-08, 0},     {1604, 0.99, 1e-07, 1604},    {1700, 0.99, 5e-08, 1700},
    {10000, 0.99, 5e-08, 9949}, {100000, 0.99, 5e-08, 99164}, {100, 0.5, 0.05, 59},
    {1, 0.5, 0.5, 1},
};

Test(triggers_binomial, the_quantile_bound_rank_matches_scipy)
{
    for (size_t i = 0; i < sizeof rank_cases / sizeof rank_cases[0]; i++) {
        const rank_case_t *c = &rank_cases[i];
        cr_assert_eq(cn_triggers_quantile_bound_rank(c->m, c->q, c->level), c->rank,
                     "m=%llu q=%g level=%g", (unsigned long long)c->m, c->q, c->level);
    }
    cr_assert_eq(cn_triggers_p99_bound_rank(10000, 1e-7), 9949, "level / 2");
    cr_assert_eq(cn_triggers_quantile_bound_rank(0, 0.99, 0.01), 0);
    cr_assert_eq(cn_triggers_quantile_bound_rank(10, 1.0, 0.01), 0);
}

/* scipy: the largest i with binom.cdf(i - 1, m, q) <= level */
static const rank_case_t lower_cases[] = {
    {1000, 0.99, 5e-08, 969},  {10000, 0.99, 5e-08, 9843}, {100000, 0.99, 5e-08, 98828},
    {100, 0.5, 0.05, 42},      {1, 0.5, 0.5, 1},           {5, 0.5, 0.01, 0},
    {3000, 0.99, 5e-08, 2937},
};

Test(triggers_binomial, the_quantile_lower_rank_matches_scipy)
{
    for (size_t i = 0; i < sizeof lower_cases / sizeof lower_cases[0]; i++) {
        const rank_case_t *c = &lower_cases[i];
        cr_assert_eq(cn_triggers_quantile_lower_rank(c->m, c->q, c->level), c->rank,
                     "m=%llu q=%g level=%g", (unsigned long long)c->m, c->q, c->level);
    }
    cr_assert_eq(cn_triggers_quantile_lower_rank(0, 0.99, 0.01), 0);
    cr_assert_eq(cn_triggers_quantile_lower_rank(10, 0.0, 0.01), 0);
}

/* The p99 interval of a known distribution holds its p99, narrows with
 * more values, and is refused with too few. */
Test(triggers_binomial, the_p99_interval_holds_the_p99)
{
    cn_metrics_hist_t *h = malloc(sizeof *h);
    cn_metrics_hist_init(h);
    double lo, hi;
    /* 1,000 values: too few for both ends at 1e-7 */
    for (uint64_t v = 1; v <= 1000; v++)
        cn_metrics_hist_record(h, v * 100);
    cr_assert_not(cn_triggers_p99_interval(h, 1e-7, &lo, &hi));
    double width_before = INFINITY;
    for (int round = 0; round < 3; round++) {
        /* uniform on 0.1 ms .. 100 ms in 100 us steps, p99 = 99 ms */
        for (int k = 0; k < 9 + 40 * round; k++)
            for (uint64_t v = 1; v <= 1000; v++)
                cn_metrics_hist_record(h, v * 100);
        cr_assert(cn_triggers_p99_interval(h, 1e-7, &lo, &hi), "round %d", round);
        cr_assert(lo <= 99.0 && hi >= 99.0, "round %d: [%g, %g]", round, lo, hi);
        cr_assert(lo > 90.0 && hi <= 100.5, "round %d: [%g, %g]", round, lo, hi);
        cr_assert(hi - lo <= width_before, "round %d narrows", round);
        width_before = hi - lo;
    }
    cr_assert_not(cn_triggers_p99_interval(NULL, 1e-7, &lo, &hi));
    cr_assert_not(cn_triggers_p99_interval(h, 0, &lo, &hi));
    free(h);
}

Test(triggers_binomial, the_dkw_excess_bound)
{
    /* n = m = 10000: h = 10^8 / (200)^2 = 2500. */
    assert_close(cn_triggers_ks_excess_p(0.15, 0.1, 10000, 10000),
                 4 * exp(-2 * 0.05 * 0.05 * 2500), 1e-12, "D - max = 0.05");
    cr_assert_eq(cn_triggers_ks_excess_p(0.1, 0.1, 10000, 10000), 1, "at the limit");
    cr_assert_eq(cn_triggers_ks_excess_p(0.05, 0.1, 10000, 10000), 1, "below");
    cr_assert_eq(cn_triggers_ks_excess_p(0.9, 0.1, 0, 10000), 1, "no data");
    cr_assert_eq(cn_triggers_ks_excess_p(0.101, 0.1, 10, 10), 1, "capped at 1");
}

/* ------------------------------------------------------------ checks */

static cn_strategy_triggers_t example_triggers(void)
{
    /* The issue's triggers. */
    cn_strategy_t s;
    cn_strategy_init(&s);
    cn_strategy_triggers_t t = s.triggers;
    cn_strategy_dispose(&s);
    t.has_error_rate = 1;
    t.error_rate.has_max = t.error_rate.has_max_ratio = 1;
    t.error_rate.max = 0.05;
    t.error_rate.max_ratio = 3.0;
    t.has_p99_latency = 1;
    t.p99_latency.has_max = t.p99_latency.has_max_ratio = 1;
    t.p99_latency.max = 500;
    t.p99_latency.max_ratio = 2.0;
    t.has_prediction_shift = 1;
    t.prediction_shift.max_statistic = 0.2;
    return t;
}

static cn_trigger_result_t run(const cn_strategy_triggers_t *t,
                               const cn_trigger_input_t *in)
{
    cn_trigger_result_t r;
    cr_assert_eq(cn_triggers_check(t, in, &r), 0);
    return r;
}

Test(triggers_check, six_failures_in_six_requests_fire_error_rate_max)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.phase = CN_TRIGGER_PHASE_WARMUP,
                             .canary = {.requests = 6, .errors = 6},
                             .stable = {.requests = 600, .errors = 0}};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert_eq(r.fired, CN_TRIGGER_ERROR_MAX, "during warmup too");
    const cn_trigger_row_t *row = &r.rows[CN_TRIGGER_ERROR_MAX];
    cr_assert(row->configured && row->ran && row->fired);
    assert_close(row->pvalue, 1.5625e-8, 1e-12, "p");
    cr_assert_eq(row->observed, 1.0);
    cr_assert_eq(row->limit, 0.05);
    cr_assert_str_eq(row->reason, "canary errors 6 of 6 (1), max 0.05: p = 1.56e-08");
    cr_assert(r.rows[CN_TRIGGER_ERROR_RATIO].ran, "errors ratio runs in warmup");
    cr_assert(r.rows[CN_TRIGGER_ERROR_RATIO].fired);
    cr_assert(!r.rows[CN_TRIGGER_P99_RATIO].ran, "no latency ratio in warmup");
    cr_assert(!r.rows[CN_TRIGGER_PREDICTION_SHIFT].ran, "no shift in warmup");
}

Test(triggers_check, a_single_bad_reading_is_not_evidence)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.canary = {.requests = 1, .errors = 1},
                             .stable = {.requests = 99, .errors = 0}};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert_eq(r.fired, -1);
    cr_assert(r.rows[CN_TRIGGER_ERROR_MAX].ran);
    assert_close(r.rows[CN_TRIGGER_ERROR_MAX].pvalue, 0.05, 1e-12, "p of 1 of 1");
}

Test(triggers_check, no_data_never_fires)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {0};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert_eq(r.fired, -1);
    for (int i = 0; i < CN_TRIGGER_CHECKS; i++) {
        cr_assert(r.rows[i].configured, "%d", i);
        cr_assert(!r.rows[i].ran, "%d", i);
        cr_assert(isnan(r.rows[i].pvalue));
        cr_assert_str_eq(r.rows[i].reason, "");
    }
}

Test(triggers_check, unconfigured_checks_do_not_run)
{
    cn_strategy_t s;
    cn_strategy_init(&s);
    cn_trigger_input_t in = {.canary = {.requests = 100, .errors = 100},
                             .stable = {.requests = 100},
                             .canary_slower_than_max = 100};
    cn_trigger_result_t r = run(&s.triggers, &in);
    cr_assert_eq(r.fired, -1);
    for (int i = 0; i < CN_TRIGGER_CHECKS; i++)
        cr_assert(!r.rows[i].configured && !r.rows[i].ran, "%d", i);
    cn_strategy_dispose(&s);
}

Test(triggers_check, the_ratio_needs_evidence_above_min_rate)
{
    /* scipy: p_ratio 6.827e-11 but p_min 1.074e-7: 10 errors in 1000
     * requests is not significantly above 0.001 at 1e-7. */
    cn_strategy_triggers_t t = example_triggers();
    t.error_rate.has_max = 0;
    cn_trigger_input_t in = {.canary = {.requests = 1000, .errors = 10},
                             .stable = {.requests = 99000, .errors = 10}};
    cn_trigger_result_t r = run(&t, &in);
    const cn_trigger_row_t *row = &r.rows[CN_TRIGGER_ERROR_RATIO];
    cr_assert(row->ran && !row->fired);
    assert_close(row->pvalue, 1.074283386846483e-07, 1e-9, "the larger p");
    assert_close(row->observed, (10 / 1000.0) / (10 / 99000.0), 1e-12, "ratio");
    cr_assert_eq(r.fired, -1);
    /* 3 errors with stable at 0: the ratio is infinite, yet no evidence. */
    in.canary.errors = 3;
    in.stable.errors = 0;
    r = run(&t, &in);
    cr_assert(!r.rows[CN_TRIGGER_ERROR_RATIO].fired);
    cr_assert(isinf(r.rows[CN_TRIGGER_ERROR_RATIO].observed));
    assert_close(r.rows[CN_TRIGGER_ERROR_RATIO].pvalue, 0.080209342840201, 1e-9,
                 "min_rate decides");
    /* 30 errors with stable at 0: both tests reject. */
    in.canary.errors = 30;
    r = run(&t, &in);
    cr_assert_eq(r.fired, CN_TRIGGER_ERROR_RATIO);
    assert_close(r.rows[CN_TRIGGER_ERROR_RATIO].pvalue, 9.503107515052507e-34, 1e-9,
                 "p");
    /* 1% against 0.21%: a ratio of 4.75 over 3 but p = 0.0034, not evidence. */
    in.canary = (cn_trigger_arm_t){.requests = 5000, .errors = 50};
    in.stable = (cn_trigger_arm_t){.requests = 95000, .errors = 200};
    r = run(&t, &in);
    cr_assert(!r.rows[CN_TRIGGER_ERROR_RATIO].fired);
    assert_close(r.rows[CN_TRIGGER_ERROR_RATIO].pvalue, 0.0033720749580396898, 1e-9,
                 "p");
}

Test(triggers_check, the_ratio_needs_a_stable_arm)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.canary = {.requests = 1000, .errors = 30}};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert(!r.rows[CN_TRIGGER_ERROR_RATIO].ran);
    cr_assert(r.rows[CN_TRIGGER_ERROR_MAX].ran);
}

Test(triggers_check, p99_max_counts_slow_requests_against_one_percent)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.canary = {.requests = 1000},
                             .stable = {.requests = 10000},
                             .canary_slower_than_max = 25};
    cn_trigger_result_t r = run(&t, &in);
    const cn_trigger_row_t *row = &r.rows[CN_TRIGGER_P99_MAX];
    cr_assert(row->ran && !row->fired, "2.5%% slow in 1000: p = 4.2e-5");
    assert_close(row->pvalue, 4.202920844836726e-05, 1e-9, "p");
    in.canary_slower_than_max = 50;
    r = run(&t, &in);
    cr_assert_eq(r.fired, CN_TRIGGER_P99_MAX);
    assert_close(r.rows[CN_TRIGGER_P99_MAX].pvalue, 8.306371435388825e-20, 1e-9, "p");
    cr_assert_str_eq(r.rows[CN_TRIGGER_P99_MAX].reason,
                     "canary requests slower than 500 ms: 50 of 1000 (5%, p99 limit "
                     "1%): p = 8.31e-20");
}

Test(triggers_check, p99_ratio_runs_at_half_the_level_with_a_stable_bound)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.canary = {.requests = 1000},
                             .stable = {.requests = 10000},
                             .has_p99_bound = false,
                             .canary_slower_than_bound = 1000};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert(!r.rows[CN_TRIGGER_P99_RATIO].ran, "no bound yet: no data");
    in.has_p99_bound = true;
    in.canary_slower_than_bound = 30; /* p = 2.06e-7: above 1e-7 / 2 */
    r = run(&t, &in);
    cr_assert(r.rows[CN_TRIGGER_P99_RATIO].ran);
    cr_assert(!r.rows[CN_TRIGGER_P99_RATIO].fired);
    assert_close(r.rows[CN_TRIGGER_P99_RATIO].pvalue, 2.059988850971949e-07, 1e-9, "p");
    in.canary_slower_than_bound = 50;
    r = run(&t, &in);
    cr_assert_eq(r.fired, CN_TRIGGER_P99_RATIO);
}

Test(triggers_check, prediction_shift_fires_beyond_the_limit_only)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.canary = {.requests = 10000},
                             .stable = {.requests = 10000},
                             .has_ks = true,
                             .ks_distance = 0.25,
                             .ks_n_canary = 10000,
                             .ks_n_stable = 10000};
    cn_trigger_result_t r = run(&t, &in);
    /* h = 2500, p = 4 exp(-2 * 0.05^2 * 2500) = 4 exp(-12.5) = 1.5e-5 */
    cr_assert(r.rows[CN_TRIGGER_PREDICTION_SHIFT].ran);
    cr_assert(!r.rows[CN_TRIGGER_PREDICTION_SHIFT].fired);
    in.ks_distance = 0.3; /* 4 exp(-50) = 7.7e-22 */
    r = run(&t, &in);
    cr_assert_eq(r.fired, CN_TRIGGER_PREDICTION_SHIFT);
    assert_close(r.rows[CN_TRIGGER_PREDICTION_SHIFT].pvalue, 4 * exp(-50.0), 1e-12,
                 "p");
}

Test(triggers_check, at_full_weight_only_the_absolute_limits_run)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.phase = CN_TRIGGER_PHASE_FULL,
                             .canary = {.requests = 10000, .errors = 10},
                             .stable = {.requests = 10, .errors = 0},
                             .canary_slower_than_max = 10,
                             .has_p99_bound = true,
                             .canary_slower_than_bound = 10000,
                             .has_ks = true,
                             .ks_distance = 1,
                             .ks_n_canary = 10000,
                             .ks_n_stable = 10000};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert(r.rows[CN_TRIGGER_ERROR_MAX].ran);
    cr_assert(r.rows[CN_TRIGGER_P99_MAX].ran);
    cr_assert(!r.rows[CN_TRIGGER_ERROR_RATIO].ran);
    cr_assert(!r.rows[CN_TRIGGER_P99_RATIO].ran);
    cr_assert(!r.rows[CN_TRIGGER_PREDICTION_SHIFT].ran);
    cr_assert_eq(r.fired, -1);
}

Test(triggers_check, the_first_check_that_fires_is_reported)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_input_t in = {.canary = {.requests = 1000, .errors = 1000},
                             .stable = {.requests = 1000},
                             .canary_slower_than_max = 1000};
    cn_trigger_result_t r = run(&t, &in);
    cr_assert_eq(r.fired, CN_TRIGGER_ERROR_MAX);
    cr_assert(r.rows[CN_TRIGGER_P99_MAX].fired, "every row is filled");
}

Test(triggers_check, inconsistent_counts_are_refused)
{
    cn_strategy_triggers_t t = example_triggers();
    cn_trigger_result_t r;
    cn_trigger_input_t in = {.canary = {.requests = 1, .errors = 2}};
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
    cr_assert_eq(r.fired, -1);
    in = (cn_trigger_input_t){.stable = {.requests = 1, .errors = 2}};
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
    in = (cn_trigger_input_t){.canary = {.requests = 1}, .canary_slower_than_max = 2};
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
    in = (cn_trigger_input_t){.canary = {.requests = 1},
                              .has_p99_bound = true,
                              .canary_slower_than_bound = 2};
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
    in = (cn_trigger_input_t){.has_ks = true, .ks_distance = 1.5};
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
    in = (cn_trigger_input_t){.phase = (cn_trigger_phase_t)9};
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
    in = (cn_trigger_input_t){0};
    t.level = 0;
    cr_assert_eq(cn_triggers_check(&t, &in, &r), CN_EINVAL);
}

Test(triggers_check, names)
{
    cr_assert_str_eq(cn_trigger_check_name(CN_TRIGGER_ERROR_MAX), "error_rate.max");
    cr_assert_str_eq(cn_trigger_check_name(CN_TRIGGER_ERROR_RATIO),
                     "error_rate.max_ratio");
    cr_assert_str_eq(cn_trigger_check_name(CN_TRIGGER_P99_MAX), "p99_latency_ms.max");
    cr_assert_str_eq(cn_trigger_check_name(CN_TRIGGER_P99_RATIO),
                     "p99_latency_ms.max_ratio");
    cr_assert_str_eq(cn_trigger_check_name(CN_TRIGGER_PREDICTION_SHIFT),
                     "prediction_shift");
    cr_assert_str_eq(cn_trigger_check_name((cn_trigger_check_t)42), "?");
}
