/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The anytime-valid sequential triggers (strategy `triggers.sequential`):
 * tests of harm beyond each metric's margin that the controller may
 * evaluate every second for a whole rollout, at a stated false-rollback
 * probability `alpha` for all of them together. Pure: fed each second's
 * counts, no I/O, no clock; the driver (driver.c), `canary monitor` and
 * the simulations (tests/sim/) call the same functions.
 *
 * Each metric is a family of e-processes (src/stats/eprocess.c) on 0/1
 * outcomes, each second's stable requests being that second's reference:
 *  - error: the canary's error rate against stable's, with the margin of
 *    the `error` metric of the analysis section, absolute (0.005: 0.5
 *    points) or relative (5%: canary / stable above 1.05);
 *  - latency_ms: stochastic order beyond the margin. At each of up to
 *    CN_SEQ_LATENCY_THRESHOLDS thresholds y (stable's latency quantiles,
 *    fixed when monitoring starts from stable's traffic so far), the
 *    share of canary requests at or above (1 + m) y (relative margin) or
 *    y + m (absolute, in ms) is tested against stable's share at or above
 *    y: under "not slower beyond the margin" the first is never larger;
 *  - prediction: the KS distance beyond `max_statistic`. At each of up to
 *    CN_SEQ_PREDICTION_THRESHOLDS of the router's prediction bounds x (at
 *    stable's quantiles), both sides of |F_canary(x) - F_stable(x)| >
 *    max_statistic.
 * A metric's e-value is the mean of its e-processes (a mean of test
 * supermartingales is one), compared with M / alpha for M metrics
 * (Bonferroni over metrics): P(any sequential trigger ever fires on a
 * canary within every margin) <= alpha.
 *
 * Aggregate only: segments are not monitored separately (their traffic
 * adds up in the aggregate). The state is plain data, saved with the
 * rollout (cn_seq_to_json) and resumed after a restart (cn_seq_from_json),
 * so the budget is never spent twice.
 */
#ifndef CN_CONTROLLER_SEQUENTIAL_H
#define CN_CONTROLLER_SEQUENTIAL_H

#include "metrics/metrics.h"
#include "stats/stats.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_SEQ_METRICS_MAX 3
#define CN_SEQ_LATENCY_THRESHOLDS 8
#define CN_SEQ_PREDICTION_THRESHOLDS 8
#define CN_SEQ_GRID 12 /* the error rate's confidence sequence */
#define CN_SEQ_TESTS_MAX (2 * CN_SEQ_PREDICTION_THRESHOLDS)
/* monitoring of latency and predictions starts once stable has answered
 * this many (its quantiles then fix the thresholds) */
#define CN_SEQ_MIN_REFERENCE 200
/* non-inferiority compares latency up to stable's p99 (not 0.995, 0.999) */
#define CN_SEQ_NI_LATENCY_Q 0.99

typedef enum {
    CN_SEQ_ERROR = 0,  /* "error" */
    CN_SEQ_LATENCY,    /* "latency_ms" */
    CN_SEQ_PREDICTION, /* "prediction" */
} cn_seq_kind_t;

/* The metric names the triggers know ("error", "latency_ms",
 * "prediction"); -1 for any other. */
int cn_seq_kind_of(const char *name);
const char *cn_seq_kind_name(cn_seq_kind_t k);

typedef struct {
    cn_seq_kind_t kind;
    double margin; /* error, latency_ms: >= 0 (latency in ms) */
    cn_margin_kind_t margin_kind;
    double max_statistic; /* prediction: in (0, 1) */
} cn_seq_metric_config_t;

typedef struct cn_seq_config_s {
    double alpha; /* (0, 0.5]: all sequential triggers, whole rollout */
    size_t n_metrics;
    cn_seq_metric_config_t metrics[CN_SEQ_METRICS_MAX]; /* distinct kinds */
} cn_seq_config_t;

/* One arm's counts over one second (not cumulative). */
typedef struct {
    uint64_t requests;
    uint64_t errors;                  /* failures and 5xx, <= requests */
    const cn_metrics_hist_t *latency; /* the second's latencies; NULL: none */
    const uint64_t *predictions;      /* per prediction bucket (n_bounds + 1:
                                         bucket i holds values <= bound i
                                         and above bound i - 1, the last
                                         values above every bound); NULL:
                                         none */
} cn_seq_arm_t;

typedef struct {
    cn_seq_arm_t stable, canary;
    /* stable's traffic so far (cumulative), which fixes the thresholds
     * when a metric starts; may be NULL until there is some */
    const cn_metrics_hist_t *stable_latency_total;
    const uint64_t *stable_predictions_total;
    const double *prediction_bounds; /* ascending */
    size_t n_prediction_bounds;
    bool warmup; /* the canary's warmup: only the error rate is checked */
} cn_seq_second_t;

typedef struct {
    cn_seq_metric_config_t cfg;
    bool ni;      /* the family's direction (cn_seq_t.ni) */
    bool started; /* thresholds fixed; the tests run */
    size_t n_tests;
    cn_eproc_t tests[CN_SEQ_TESTS_MAX];
    /* latency: bucket indexes of stable's threshold and the canary's;
     * prediction: the bound index (tests 2i and 2i + 1 are its sides) */
    uint32_t stable_at[CN_SEQ_TESTS_MAX], canary_at[CN_SEQ_TESTS_MAX];
    cn_eproc_t grid[CN_SEQ_GRID]; /* error: the confidence sequence */
    double log_e;                 /* log of the mean of the tests' e-values
                                     (ni: the min of their running maxima) */
    double log_e_max;             /* its running maximum */
    uint64_t canary_n, stable_n;  /* requests counted */
    /* the last second's shares at the test with the largest e-value */
    double shown_canary, shown_stable, shown_at;
    size_t best;
} cn_seq_metric_t;

typedef struct {
    cn_seq_config_t cfg;
    cn_seq_metric_t m[CN_SEQ_METRICS_MAX];
    uint64_t seconds;
    bool ni;    /* non-inferiority (cn_seq_ni_init): fired = shown */
    bool fired; /* harm: a metric fired; ni: every test has shown it */
    size_t fired_metric;
} cn_seq_t;

/*
 * Check a config: alpha in (0, 0.5], 1 to CN_SEQ_METRICS_MAX metrics of
 * distinct kinds, margins >= 0 and finite, max_statistic in (0, 1).
 * CN_EINVAL with a one-line message in err.
 */
int cn_seq_config_check(const cn_seq_config_t *cfg, char *err, size_t errlen);

/* Start: every e-value at 1. The config must pass cn_seq_config_check
 * (CN_EINVAL otherwise). */
int cn_seq_init(cn_seq_t *q, const cn_seq_config_t *cfg);

/*
 * Start the non-inferiority family of the same metrics (the anytime step
 * analyses, strategy `analysis: {mode: anytime}`): each test reversed,
 * (-sign, a, -b), so that its null is harm of at least the margin and its
 * crossing 1/alpha shows "not worse than stable by the margin" at level
 * alpha; latency at stable's quantiles up to CN_SEQ_NI_LATENCY_Q. The
 * family is shown (q->fired) once EVERY test of EVERY metric has crossed
 * 1/alpha at some second: an intersection-union test, so no multiplicity
 * correction (P(shown) <= alpha whenever any metric is beyond its
 * margin). CN_EINVAL as cn_seq_init, and for an absolute error margin >= 1.
 */
int cn_seq_ni_init(cn_seq_t *q, const cn_seq_config_t *cfg);

/*
 * Feed one second. Returns true when a metric's e-value reached
 * M / alpha this second or before (then q->fired and q->fired_metric
 * are set, and later seconds change nothing). CN_EINVAL-free: counts
 * that do not add up (errors > requests) are ignored for that metric.
 */
bool cn_seq_update(cn_seq_t *q, const cn_seq_second_t *in);

/* The level each metric's e-value is compared with: M / alpha (harm),
 * 1 / alpha (non-inferiority: every test against it). */
double cn_seq_threshold(const cn_seq_t *q);

/* A metric's anytime-valid p-value: min(1, 1 / max over time of its
 * e-value) (compare with alpha / M). */
double cn_seq_pvalue(const cn_seq_metric_t *m);

/*
 * One line for people about metric i, e.g. "error rate: canary worse than
 * stable by more than the 0.5-point margin, anytime-valid p = 0.0004 after
 * 6,210 canary requests (canary - stable >= 0.8 points)".
 */
void cn_seq_reason(const cn_seq_t *q, size_t i, char *buf, size_t len);

/*
 * One line for people about a non-inferiority family: once shown,
 * "non-inferiority shown: error within the 0.5-point margin and
 * latency_ms within the 5% margin, anytime-valid p <= 0.004 (every test)
 * after 12,400 canary requests"; before, "non-inferiority not shown after
 * N canary requests (weakest: ...)".
 */
void cn_seq_ni_reason(const cn_seq_t *q, char *buf, size_t len);

/* The whole state as JSON (to store), and back. from_json checks that the
 * stored state belongs to this config (kinds, margins, alpha) and is
 * complete; CN_EINVAL with a message in err otherwise (q unchanged). */
json_t *cn_seq_to_json(const cn_seq_t *q);
int cn_seq_from_json(cn_seq_t *q, const cn_seq_config_t *cfg, const json_t *j,
                     char *err, size_t errlen);
/* The same for a non-inferiority family (its JSON says "direction":
 * "noninferiority"; a harm state is refused here and vice versa). */
int cn_seq_ni_from_json(cn_seq_t *q, const cn_seq_config_t *cfg, const json_t *j,
                        char *err, size_t errlen);

/* The evidence at this moment for the audit trail: per metric its
 * e-value, p-value, counts, the shares at its strongest test and, for the
 * error rate, the confidence sequence's lower bound. */
json_t *cn_seq_evidence_json(const cn_seq_t *q);

#endif
