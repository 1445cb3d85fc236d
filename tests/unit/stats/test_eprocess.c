/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Specification of the betting e-process (src/stats/eprocess.c): the
 * trajectory against an independent per-observation implementation
 * (tests/golden/eprocess.json, tools/golden/gen_eprocess.py); its
 * anytime validity at the null's boundary, with stable's rate and the
 * weights changing under it; its power; the reversed (non-inferiority)
 * test with a negative margin, valid at its boundary and powerful for a
 * good canary; bad input.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int close_abs(double got, double want)
{
    return fabs(got - want) <= 1e-9 * (1 + fabs(want));
}

Test(eprocess, the_trajectory_matches_a_per_observation_implementation)
{
    json_t *root = golden_load("eprocess");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = golden_str(c, "name");
        cn_eproc_t e;
        cr_assert_eq(cn_stats_eproc_init(&e, (int)golden_num(c, "sign"),
                                         golden_num(c, "a"), golden_num(c, "b")),
                     0);
        json_t *secs = json_object_get(c, "seconds");
        size_t n_log;
        double *want = golden_doubles(c, "log_e", &n_log);
        cr_assert_eq(json_array_size(secs), n_log);
        size_t t;
        json_t *row;
        json_array_foreach(secs, t, row)
        {
            uint64_t k = (uint64_t)json_integer_value(json_array_get(row, 0));
            uint64_t n = (uint64_t)json_integer_value(json_array_get(row, 1));
            uint64_t ks = (uint64_t)json_integer_value(json_array_get(row, 2));
            uint64_t ns = (uint64_t)json_integer_value(json_array_get(row, 3));
            cr_assert_eq(cn_stats_eproc_update(&e, k, n, ks, ns), 0);
            cr_assert(close_abs(e.log_e, want[t]),
                      "%s: second %zu: log E %.17g, want %.17g", name, t, e.log_e,
                      want[t]);
            checked++;
        }
        cr_assert(close_abs(e.log_e_max, golden_num(c, "log_e_max")), "%s", name);
        free(want);
    }
    cr_assert_geq(checked, 1000);
    json_decref(root);
}

/*
 * At the null's boundary (the canary's rate exactly stable's plus the
 * margin), with stable's rate moving every 5 minutes and the weight
 * walking a ramp, 2000 rollouts of 40 minutes checked every second fire
 * at 1/alpha no more often than alpha allows (a one-sided binomial bound
 * at 4 standard errors, so the test itself fails about 1 run in 30,000).
 */
Test(eprocess, checked_every_second_it_fires_at_most_alpha_of_the_time)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 15);
    const double alpha = 0.05, margin = 0.005;
    const double q_by_period[] = {0.01, 0.03, 0.005, 0.02, 0.05, 0.015, 0.01, 0.04};
    const double weight_by_period[] = {0.01, 0.01, 0.05, 0.05, 0.25, 0.25, 0.5, 0.5};
    int runs = 2000, fired = 0;
    for (int r = 0; r < runs; r++) {
        cn_eproc_t e;
        cn_stats_eproc_init(&e, 1, 1, margin);
        for (int t = 0; t < 2400; t++) {
            int period = t / 300;
            double q = q_by_period[period], w = weight_by_period[period];
            unsigned total = gsl_ran_poisson(rng, 500);
            unsigned n = gsl_ran_binomial(rng, w, total), ns = total - n;
            unsigned k = gsl_ran_binomial(rng, q + margin, n);
            unsigned ks = gsl_ran_binomial(rng, q, ns);
            cn_stats_eproc_update(&e, k, n, ks, ns);
            if (e.log_e >= log(1 / alpha)) {
                fired++;
                break;
            }
        }
    }
    double rate = (double)fired / runs;
    double bound = alpha + 4 * sqrt(alpha * (1 - alpha) / runs);
    cr_log_info("eprocess: %d of %d null rollouts fired (alpha %.2f)", fired, runs,
                alpha);
    cr_assert_leq(rate, bound, "false fires %.4f above %.4f", rate, bound);
    gsl_rng_free(rng);
}

Test(eprocess, a_canary_with_three_times_the_errors_is_caught_in_minutes_at_1_percent)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    const double threshold = log(3 / 0.01); /* alpha 0.01 over 3 metrics */
    int caught = 0;
    for (int r = 0; r < 200; r++) {
        cn_eproc_t e;
        cn_stats_eproc_init(&e, 1, 1, 0.005);
        for (int t = 0; t < 1200; t++) {
            unsigned n = gsl_ran_poisson(rng, 5), ns = gsl_ran_poisson(rng, 495);
            cn_stats_eproc_update(&e, gsl_ran_binomial(rng, 0.03, n), n,
                                  gsl_ran_binomial(rng, 0.01, ns), ns);
            if (e.log_e >= threshold) {
                caught++;
                break;
            }
        }
    }
    /* a power check, not a timing: nearly every run is caught in 20 min */
    cr_assert_geq(caught, 190, "caught %d of 200", caught);
    gsl_rng_free(rng);
}

Test(eprocess, no_bet_while_the_canary_looks_no_worse_and_p_is_one)
{
    cn_eproc_t e;
    cr_assert_eq(cn_stats_eproc_init(&e, 1, 1.05, 0), 0);
    for (int t = 0; t < 100; t++)
        cr_assert_eq(cn_stats_eproc_update(&e, 0, 10, 5, 490), 0);
    cr_assert_eq(cn_stats_eproc_bet(&e, 10, 490), 0);
    cr_assert_eq(e.log_e, 0);
    cr_assert_eq(cn_stats_eproc_pvalue(&e), 1);
    cr_assert_eq(e.seconds, 100);
}

Test(eprocess, a_restored_copy_continues_exactly)
{
    cn_eproc_t a, b;
    cn_stats_eproc_init(&a, 1, 1, 0.01);
    for (int t = 0; t < 50; t++)
        cn_stats_eproc_update(&a, 2, 10, 5, 490);
    b = a; /* saved and restored (the controller stores these fields) */
    for (int t = 0; t < 50; t++) {
        cn_stats_eproc_update(&a, 1, 10, 3, 490);
        cn_stats_eproc_update(&b, 1, 10, 3, 490);
    }
    cr_assert_eq(a.log_e, b.log_e);
    cr_assert_gt(a.log_e, 0);
    cr_assert_lt(cn_stats_eproc_pvalue(&a), 1);
}

Test(eprocess, bad_input_is_refused_and_changes_nothing)
{
    cn_eproc_t e;
    cr_assert_eq(cn_stats_eproc_init(&e, 0, 1, 0), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(&e, 1, 0, 0), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(&e, 1, 1, -1), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(&e, -1, 1, -1.5), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(&e, 1, 1, -0.1), 0); /* non-inferiority */
    cr_assert_gt(e.lambda_cap, 0);
    cr_assert_eq(cn_stats_eproc_init(&e, 1, NAN, 0), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(&e, 1, 1, INFINITY), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(NULL, 1, 1, 0), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_init(&e, -1, 1, 0.1), 0);
    cn_eproc_t before = e;
    cr_assert_eq(cn_stats_eproc_update(&e, 3, 2, 0, 10), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_update(&e, 0, 2, 11, 10), CN_EINVAL);
    cr_assert_eq(cn_stats_eproc_update(&e, 1, 2, 0, 0), 0); /* no reference */
    cr_assert_eq(memcmp(&before, &e, sizeof e), 0);
}

/*
 * Non-inferiority, the reversed test (-sign, a, -b): its null is harm of
 * at least the margin. At that boundary (the canary's rate exactly
 * stable's plus the margin), under the same moving stable rate and ramp
 * as above, it shows non-inferiority at most alpha of the time.
 */
Test(eprocess, non_inferiority_at_the_margin_is_shown_at_most_alpha_of_the_time)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 16);
    const double alpha = 0.05, margin = 0.005;
    const double q_by_period[] = {0.01, 0.03, 0.005, 0.02, 0.05, 0.015, 0.01, 0.04};
    const double weight_by_period[] = {0.01, 0.01, 0.05, 0.05, 0.25, 0.25, 0.5, 0.5};
    int runs = 2000, shown = 0;
    for (int r = 0; r < runs; r++) {
        cn_eproc_t e;
        cr_assert_eq(cn_stats_eproc_init(&e, -1, 1, -margin), 0);
        for (int t = 0; t < 2400; t++) {
            int period = t / 300;
            double q = q_by_period[period], w = weight_by_period[period];
            unsigned total = gsl_ran_poisson(rng, 500);
            unsigned n = gsl_ran_binomial(rng, w, total), ns = total - n;
            unsigned k = gsl_ran_binomial(rng, q + margin, n);
            unsigned ks = gsl_ran_binomial(rng, q, ns);
            cn_stats_eproc_update(&e, k, n, ks, ns);
            if (e.log_e >= log(1 / alpha)) {
                shown++;
                break;
            }
        }
    }
    double rate = (double)shown / runs;
    double bound = alpha + 4 * sqrt(alpha * (1 - alpha) / runs);
    cr_log_info("eprocess: %d of %d rollouts at the margin showed NI (alpha %.2f)",
                shown, runs, alpha);
    cr_assert_leq(rate, bound, "false NI %.4f above %.4f", rate, bound);
    gsl_rng_free(rng);
}

/* A canary as good as stable (1% errors each, a 0.5-point margin) at a 25%
 * weight shows non-inferiority; one with 3x the errors never does. */
Test(eprocess, a_good_canary_shows_non_inferiority_and_a_bad_one_does_not)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 17);
    const double threshold = log(1 / 0.05);
    int good = 0, bad = 0;
    for (int r = 0; r < 200; r++) {
        cn_eproc_t g, b;
        cn_stats_eproc_init(&g, -1, 1, -0.005);
        cn_stats_eproc_init(&b, -1, 1, -0.005);
        int g_shown = 0, b_shown = 0;
        for (int t = 0; t < 1800; t++) {
            unsigned n = gsl_ran_poisson(rng, 125), ns = gsl_ran_poisson(rng, 375);
            unsigned ks = gsl_ran_binomial(rng, 0.01, ns);
            cn_stats_eproc_update(&g, gsl_ran_binomial(rng, 0.01, n), n, ks, ns);
            cn_stats_eproc_update(&b, gsl_ran_binomial(rng, 0.03, n), n, ks, ns);
            g_shown |= g.log_e >= threshold;
            b_shown |= b.log_e >= threshold;
        }
        good += g_shown;
        bad += b_shown;
    }
    cr_assert_geq(good, 190, "good canaries shown non-inferior: %d of 200", good);
    cr_assert_eq(bad, 0, "bad canaries shown non-inferior: %d of 200", bad);
    gsl_rng_free(rng);
}
