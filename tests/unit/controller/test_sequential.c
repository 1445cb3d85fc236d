/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The sequential triggers (src/controller/sequential.c) fed synthetic
 * seconds: each metric fires on harm beyond its margin and says so in
 * words; identical arms rarely fire (the full A/A campaign is
 * tests/sim/); warmup feeds the error rate only; the state saved and
 * restored continues exactly; bad configs and stored states are refused.
 */
#include "controller/sequential.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A synthetic second: per arm, requests with an error rate, latencies
 * (lognormal, ms) and predictions (a uniform score on 20 buckets). */
typedef struct {
    cn_metrics_hist_t lat[2], lat_total[2];
    uint64_t pred[2][21], pred_total[21];
    double bounds[20];
    size_t touched[2][4096];
    size_t n_touched[2];
} world_t;

static void world_init(world_t *w)
{
    memset(w, 0, sizeof *w);
    for (int a = 0; a < 2; a++) {
        cn_metrics_hist_init(&w->lat[a]);
        cn_metrics_hist_init(&w->lat_total[a]);
    }
    for (int i = 0; i < 20; i++)
        w->bounds[i] = (i + 1) / 20.0;
}

/* arm 0 stable, 1 canary; slow multiplies the latency, shift adds to the
 * score (clamped to [0, 1]) */
static void arm_second(world_t *w, gsl_rng *r, int arm, unsigned n, double err,
                       double slow, double shift, cn_seq_arm_t *out, uint64_t *errors)
{
    for (size_t i = 0; i < w->n_touched[arm]; i++)
        w->lat[arm].counts[w->touched[arm][i]] = 0;
    w->lat[arm].count = 0;
    w->n_touched[arm] = 0;
    memset(w->pred[arm], 0, sizeof w->pred[arm]);
    *errors = 0;
    for (unsigned i = 0; i < n; i++) {
        if (gsl_rng_uniform(r) < err)
            (*errors)++;
        uint64_t us = (uint64_t)(slow * gsl_ran_lognormal(r, log(50000), 0.5));
        cn_metrics_hist_record(&w->lat[arm], us);
        cn_metrics_hist_record(&w->lat_total[arm], us);
        if (w->n_touched[arm] < 4096)
            w->touched[arm][w->n_touched[arm]++] = cn_metrics_hist_bucket_index(us);
        double p = gsl_rng_uniform(r) + shift;
        p = p < 0 ? 0 : p > 1 ? 1 : p;
        size_t b = 0;
        while (b < 20 && w->bounds[b] < p)
            b++;
        w->pred[arm][b]++;
        if (arm == 0)
            w->pred_total[b]++;
    }
    out->requests = n;
    out->errors = *errors;
    out->latency = &w->lat[arm];
    out->predictions = w->pred[arm];
}

typedef struct {
    double err[2], slow[2], shift[2];
    double weight;
} scenario_t;

static void second(world_t *w, gsl_rng *r, const scenario_t *sc, cn_seq_second_t *in)
{
    memset(in, 0, sizeof *in);
    unsigned total = gsl_ran_poisson(r, 500);
    unsigned nc = gsl_ran_binomial(r, sc->weight, total);
    uint64_t e;
    arm_second(w, r, 0, total - nc, sc->err[0], sc->slow[0], sc->shift[0], &in->stable,
               &e);
    arm_second(w, r, 1, nc, sc->err[1], sc->slow[1], sc->shift[1], &in->canary, &e);
    in->stable_latency_total = &w->lat_total[0];
    in->stable_predictions_total = w->pred_total;
    in->prediction_bounds = w->bounds;
    in->n_prediction_bounds = 20;
}

static cn_seq_config_t all_three(double alpha)
{
    cn_seq_config_t c = {.alpha = alpha, .n_metrics = 3};
    c.metrics[0] = (cn_seq_metric_config_t){
        .kind = CN_SEQ_ERROR, .margin = 0.005, .margin_kind = CN_MARGIN_ABSOLUTE};
    c.metrics[1] = (cn_seq_metric_config_t){
        .kind = CN_SEQ_LATENCY, .margin = 0.05, .margin_kind = CN_MARGIN_RELATIVE};
    c.metrics[2] =
        (cn_seq_metric_config_t){.kind = CN_SEQ_PREDICTION, .max_statistic = 0.05};
    return c;
}

/* Run until it fires or `seconds` pass; returns the second it fired at
 * (1-based) or 0. */
static int run(cn_seq_t *q, world_t *w, gsl_rng *r, const scenario_t *sc, int seconds)
{
    for (int t = 1; t <= seconds; t++) {
        cn_seq_second_t in;
        second(w, r, sc, &in);
        if (cn_seq_update(q, &in))
            return t;
    }
    return 0;
}

static world_t W;

Test(sequential, three_times_the_errors_fires_the_error_rate_and_says_so)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1);
    world_init(&W);
    cn_seq_config_t c = all_three(0.01);
    cn_seq_t q;
    cr_assert_eq(cn_seq_init(&q, &c), 0);
    scenario_t sc = {.err = {0.01, 0.03}, .slow = {1, 1}, .weight = 0.05};
    int t = run(&q, &W, r, &sc, 3600);
    cr_assert_gt(t, 0, "3x errors at 5%% were not caught in an hour");
    cr_assert_eq(q.fired_metric, 0);
    char why[400];
    cn_seq_reason(&q, 0, why, sizeof why);
    cr_log_info("sequential: fired after %d s: %s", t, why);
    cr_assert(strncmp(why,
                      "error rate: canary worse than stable by more than the 0.5-point "
                      "margin, anytime-valid p = ",
                      86) == 0,
              "%s", why);
    cr_assert(strstr(why, " canary requests (") != NULL, "%s", why);
    cr_assert_leq(cn_seq_pvalue(&q.m[0]), 0.01 / 3);
    json_t *ev = cn_seq_evidence_json(&q);
    json_t *m0 = json_array_get(json_object_get(ev, "metrics"), 0);
    cr_assert_geq(json_real_value(json_object_get(m0, "difference_lower_bound")), 0.005,
                  "the confidence sequence excludes differences within the margin");
    json_decref(ev);
    gsl_rng_free(r);
}

/* An e-value beyond a double (a gross failure on a busy second) keeps its
 * metric in the evidence: DBL_MAX, with the exact log next to it. */
Test(sequential, an_e_value_beyond_a_double_stays_in_the_evidence)
{
    cn_seq_config_t c = all_three(0.01);
    cn_seq_t q;
    cr_assert_eq(cn_seq_init(&q, &c), 0);
    q.m[0].log_e = q.m[0].log_e_max = 6755.0;
    json_t *ev = cn_seq_evidence_json(&q);
    json_t *ms = json_object_get(ev, "metrics");
    cr_assert_eq(json_array_size(ms), 3);
    json_t *m0 = json_array_get(ms, 0);
    cr_assert_str_eq(json_string_value(json_object_get(m0, "metric")), "error");
    cr_assert_eq(json_real_value(json_object_get(m0, "e_value")), DBL_MAX);
    cr_assert_eq(json_real_value(json_object_get(m0, "log_e_value")), 6755.0);
    json_decref(ev);
}

Test(sequential, a_30_percent_slower_canary_fires_latency)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2);
    world_init(&W);
    cn_seq_config_t c = all_three(0.01);
    cn_seq_t q;
    cn_seq_init(&q, &c);
    scenario_t sc = {.err = {0.01, 0.01}, .slow = {1, 1.3}, .weight = 0.05};
    int t = run(&q, &W, r, &sc, 3600);
    cr_assert_gt(t, 0);
    cr_assert_eq(q.fired_metric, 1);
    char why[400];
    cn_seq_reason(&q, 1, why, sizeof why);
    cr_log_info("sequential: fired after %d s: %s", t, why);
    cr_assert(
        strncmp(why, "latency_ms: canary slower than stable by more than the 5% margin",
                64) == 0,
        "%s", why);
    gsl_rng_free(r);
}

Test(sequential, shifted_predictions_fire_prediction)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    world_init(&W);
    cn_seq_config_t c = all_three(0.01);
    cn_seq_t q;
    cn_seq_init(&q, &c);
    /* a uniform score moved up by 0.15: the CDFs differ by up to 0.15 */
    scenario_t sc = {
        .err = {0.01, 0.01}, .slow = {1, 1}, .shift = {0, 0.15}, .weight = 0.05};
    int t = run(&q, &W, r, &sc, 3600);
    cr_assert_gt(t, 0);
    cr_assert_eq(q.fired_metric, 2);
    char why[400];
    cn_seq_reason(&q, 2, why, sizeof why);
    cr_assert(strstr(why, "more than max_statistic 0.05") != NULL, "%s", why);
    gsl_rng_free(r);
}

/*
 * Identical arms for 15 minutes, checked every second, 40 times at alpha
 * 0.2: a smoke check of the whole family's level (tests/sim/ runs the
 * campaign the docs quote). The bound is alpha + 4 standard errors.
 */
Test(sequential, identical_arms_rarely_fire)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4);
    int fired = 0, runs = 40;
    scenario_t sc = {.err = {0.02, 0.02}, .slow = {1, 1}, .weight = 0.1};
    for (int i = 0; i < runs; i++) {
        world_init(&W);
        cn_seq_config_t c = all_three(0.2);
        cn_seq_t q;
        cn_seq_init(&q, &c);
        fired += run(&q, &W, r, &sc, 900) > 0;
    }
    cr_log_info("sequential: %d of %d A/A runs fired at alpha 0.2", fired, runs);
    cr_assert_leq(fired, (int)(runs * (0.2 + 4 * sqrt(0.2 * 0.8 / runs))));
    gsl_rng_free(r);
}

Test(sequential, during_warmup_only_the_error_rate_is_fed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    world_init(&W);
    cn_seq_config_t c = all_three(0.01);
    cn_seq_t q;
    cn_seq_init(&q, &c);
    scenario_t sc = {.err = {0.01, 0.01}, .slow = {1, 3}, .weight = 0.5};
    for (int t = 0; t < 30; t++) {
        cn_seq_second_t in;
        second(&W, r, &sc, &in);
        in.warmup = true;
        cr_assert_not(cn_seq_update(&q, &in), "a slow warmup fired");
    }
    cr_assert(q.m[0].canary_n > 0);
    cr_assert_not(q.m[1].started);
    cr_assert_eq(q.m[1].canary_n, 0);
    cr_assert_eq(q.m[2].canary_n, 0);
    gsl_rng_free(r);
}

Test(sequential, a_restored_state_continues_exactly_and_a_foreign_one_is_refused)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 6);
    world_init(&W);
    cn_seq_config_t c = all_three(0.01);
    cn_seq_t a, b;
    cn_seq_init(&a, &c);
    scenario_t sc = {.err = {0.01, 0.015}, .slow = {1, 1.05}, .weight = 0.2};
    run(&a, &W, r, &sc, 300);
    json_t *j = cn_seq_to_json(&a);
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    char err[256];
    cr_assert_eq(cn_seq_from_json(&b, &c, back, err, sizeof err), 0, "%s", err);
    for (int t = 0; t < 120; t++) {
        cn_seq_second_t in;
        second(&W, r, &sc, &in);
        cn_seq_update(&a, &in);
        cn_seq_update(&b, &in);
    }
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(a.m[i].log_e, b.m[i].log_e, "metric %zu", i);
        cr_assert_eq(a.m[i].canary_n, b.m[i].canary_n);
    }
    cr_assert_eq(a.seconds, b.seconds);
    /* another alpha: not this config's state */
    cn_seq_config_t other = all_three(0.05);
    cr_assert_eq(cn_seq_from_json(&b, &other, back, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "made for another config") != NULL, "%s", err);
    json_t *bad = json_pack("{s:i}", "version", 2);
    cr_assert_eq(cn_seq_from_json(&b, &c, bad, err, sizeof err), CN_EINVAL);
    json_decref(bad);
    json_decref(back);
    free(text);
    gsl_rng_free(r);
}

Test(sequential, bad_configs_are_refused_with_a_reason)
{
    char err[200];
    cn_seq_config_t c = all_three(0.01);
    c.alpha = 0;
    cr_assert_eq(cn_seq_config_check(&c, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "alpha must be in (0, 0.5], got 0");
    c = all_three(0.01);
    c.metrics[2].max_statistic = 0;
    cr_assert_eq(cn_seq_config_check(&c, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "prediction: max_statistic must be in (0, 1), got 0");
    c = all_three(0.01);
    c.metrics[1].kind = CN_SEQ_ERROR;
    cr_assert_eq(cn_seq_config_check(&c, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "metric 'error' is named twice");
    c = all_three(0.01);
    c.metrics[0].margin = NAN;
    cr_assert_eq(cn_seq_config_check(&c, err, sizeof err), CN_EINVAL);
    cn_seq_t q;
    cr_assert_eq(cn_seq_init(&q, &c), CN_EINVAL);
    cr_assert_eq(cn_seq_kind_of("latency_ms"), CN_SEQ_LATENCY);
    cr_assert_eq(cn_seq_kind_of("clicks"), -1);
}

/* ------------------------------------------------ non-inferiority family */

/* Run a non-inferiority family until it is shown or `seconds` pass;
 * returns the second (1-based) or 0. */
static int run_ni(cn_seq_t *q, world_t *w, gsl_rng *r, const scenario_t *sc,
                  int seconds)
{
    for (int t = 1; t <= seconds; t++) {
        cn_seq_second_t in;
        second(w, r, sc, &in);
        if (cn_seq_update(q, &in))
            return t;
    }
    return 0;
}

Test(sequential_ni, a_good_canary_shows_non_inferiority_on_every_metric_and_says_so)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    world_init(&W);
    cn_seq_config_t c = all_three(0.05);
    cn_seq_t q;
    cr_assert_eq(cn_seq_ni_init(&q, &c), 0);
    cr_assert(q.ni);
    cr_assert_eq(cn_seq_threshold(&q), 1 / 0.05); /* no correction over metrics */
    char why[400];
    cn_seq_ni_reason(&q, why, sizeof why);
    cr_assert(strncmp(why, "non-inferiority not shown after 0 canary requests", 49) ==
                  0,
              "%s", why);
    scenario_t sc = {.err = {0.01, 0.01}, .slow = {1, 1}, .weight = 0.25};
    int t = run_ni(&q, &W, r, &sc, 3600);
    cr_assert_gt(t, 0, "an identical canary at 25%% did not show NI in an hour");
    for (size_t i = 0; i < 3; i++) {
        cr_assert(q.m[i].started && q.m[i].n_tests > 0, "metric %zu", i);
        for (size_t k = 0; k < q.m[i].n_tests; k++)
            cr_assert_geq(q.m[i].tests[k].log_e_max, log(20), "metric %zu test %zu", i,
                          k);
    }
    /* latency stops at stable's p99 */
    cr_assert_leq(q.m[1].n_tests, 6);
    cn_seq_ni_reason(&q, why, sizeof why);
    cr_log_info("sequential_ni: shown after %d s: %s", t, why);
    cr_assert(strncmp(why,
                      "non-inferiority shown: error within the 0.5-point margin, "
                      "latency_ms within the 5% margin and prediction within "
                      "max_statistic 0.05, anytime-valid p <= ",
                      150) == 0,
              "%s", why);
    /* once shown it stays shown */
    cr_assert(cn_seq_update(&q, &(cn_seq_second_t){0}));
    gsl_rng_free(r);
}

/* Bad canaries never show it: 3x the errors; 30% slower; shifted
 * predictions (the other metrics fine). */
Test(sequential_ni, a_bad_canary_never_shows_non_inferiority)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12);
    const scenario_t bad[] = {
        {.err = {0.01, 0.03}, .slow = {1, 1}, .weight = 0.25},
        {.err = {0.01, 0.01}, .slow = {1, 1.3}, .weight = 0.25},
        {.err = {0.01, 0.01}, .slow = {1, 1}, .shift = {0, 0.15}, .weight = 0.25},
    };
    for (size_t b = 0; b < 3; b++) {
        world_init(&W);
        cn_seq_config_t c = all_three(0.05);
        cn_seq_t q;
        cn_seq_ni_init(&q, &c);
        cr_assert_eq(run_ni(&q, &W, r, &bad[b], 1800), 0, "bad canary %zu showed NI",
                     b);
        char why[400];
        cn_seq_ni_reason(&q, why, sizeof why);
        cr_assert(strstr(why, "non-inferiority not shown after ") == why, "%s", why);
        cr_assert(strstr(why, cn_seq_kind_name((cn_seq_kind_t)b)) != NULL,
                  "bad canary %zu: the weakest metric is the bad one: %s", b, why);
    }
    gsl_rng_free(r);
}

/*
 * A canary exactly at the error margin (stable's rate plus 0.5 points),
 * 40 runs of 15 minutes at alpha 0.2: the family is shown no more often
 * than alpha allows (alpha + 4 standard errors), though the other metrics
 * are fine. The error rate alone is the null's boundary.
 */
Test(sequential_ni, a_canary_at_the_margin_rarely_shows_non_inferiority)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 13);
    int shown = 0, runs = 40;
    scenario_t sc = {.err = {0.02, 0.025}, .slow = {1, 1}, .weight = 0.25};
    cn_seq_config_t c = {.alpha = 0.2, .n_metrics = 1};
    c.metrics[0] = (cn_seq_metric_config_t){
        .kind = CN_SEQ_ERROR, .margin = 0.005, .margin_kind = CN_MARGIN_ABSOLUTE};
    for (int i = 0; i < runs; i++) {
        world_init(&W);
        cn_seq_t q;
        cn_seq_ni_init(&q, &c);
        shown += run_ni(&q, &W, r, &sc, 900) > 0;
    }
    cr_log_info("sequential_ni: %d of %d runs at the margin showed NI at alpha 0.2",
                shown, runs);
    cr_assert_leq(shown, (int)(runs * (0.2 + 4 * sqrt(0.2 * 0.8 / runs))));
    gsl_rng_free(r);
}

Test(sequential_ni, a_restored_state_continues_exactly_and_the_direction_is_checked)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 14);
    world_init(&W);
    cn_seq_config_t c = all_three(0.05);
    cn_seq_t a, b;
    cn_seq_ni_init(&a, &c);
    scenario_t sc = {.err = {0.01, 0.01}, .slow = {1, 1}, .weight = 0.1};
    run_ni(&a, &W, r, &sc, 60);
    json_t *j = cn_seq_to_json(&a);
    cr_assert_str_eq(json_string_value(json_object_get(j, "direction")),
                     "noninferiority");
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    char err[256];
    cr_assert_eq(cn_seq_ni_from_json(&b, &c, back, err, sizeof err), 0, "%s", err);
    cr_assert(b.ni && b.m[0].ni);
    for (int t = 0; t < 120; t++) {
        cn_seq_second_t in;
        second(&W, r, &sc, &in);
        cn_seq_update(&a, &in);
        cn_seq_update(&b, &in);
    }
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(a.m[i].log_e, b.m[i].log_e, "metric %zu", i);
        cr_assert_eq(a.m[i].n_tests, b.m[i].n_tests);
    }
    cr_assert_eq(a.fired, b.fired);
    /* a non-inferiority state is not a harm state, and the other way */
    cr_assert_eq(cn_seq_from_json(&b, &c, back, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "the stored sequential state tests noninferiority, not harm");
    cn_seq_t h;
    cn_seq_init(&h, &c);
    json_t *hj = cn_seq_to_json(&h);
    cr_assert_null(json_object_get(hj, "direction"));
    cr_assert_eq(cn_seq_ni_from_json(&b, &c, hj, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "the stored sequential state tests harm, not noninferiority");
    json_decref(hj);
    json_decref(back);
    free(text);
    gsl_rng_free(r);
}

Test(sequential_ni, a_rate_margin_of_one_or_more_is_refused)
{
    cn_seq_config_t c = all_three(0.05);
    c.metrics[0].margin = 1;
    cn_seq_t q;
    cr_assert_eq(cn_seq_ni_init(&q, &c), CN_EINVAL);
    cr_assert_eq(cn_seq_init(&q, &c), 0);          /* harm: allowed (never fires) */
    c.metrics[0].margin_kind = CN_MARGIN_RELATIVE; /* 100% relative: fine */
    cr_assert_eq(cn_seq_ni_init(&q, &c), 0);
}
