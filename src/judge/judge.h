/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The canary judge: from the samples two versions produced over the same
 * window of live traffic to a verdict -- pass (continue), marginal (hold
 * for a human) or fail (roll back now). Pure: no I/O, no global state.
 * The controller, the CLI (`canary analyze`) and the tests call the same
 * cn_judge_run(). The rules and their statistics are in docs/JUDGE.md.
 *
 * Ownership: a config owns its strings; cn_judge_config_dispose() frees
 * them. Data owns copies of the samples. A result owns its rows and their
 * segment strings but borrows metric names from the config, so the config
 * must outlive the result.
 */
#ifndef CN_JUDGE_JUDGE_H
#define CN_JUDGE_JUDGE_H

#include "stats/stats.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ config */

typedef enum {
    CN_JTEST_MWU = 0,    /* "mann-whitney": HL shift, MWU non-inferiority */
    CN_JTEST_WELCH,      /* "welch": mean difference, Welch t */
    CN_JTEST_PROPORTION, /* "proportion": rates from 0/1 samples or counts */
    CN_JTEST_KS,         /* "ks": distribution drift against a limit */
    CN_JTEST_PSI,        /* "psi": population stability index gate */
    CN_JTEST_BOOTSTRAP,  /* "bootstrap": difference in mean/median/p95/p99 */
    CN_JTEST_THRESHOLD,  /* "threshold": hard gate on a quantile */
    CN_JTEST_AGREEMENT,  /* "agreement": share of paired requests whose
                            predicted classes agree (needs pairs) */
    CN_JTEST_AUC,        /* "auc": area under the ROC curve of scores
                            against 0/1 labels (cn_judge_data_add_scored),
                            DeLong's variance per arm */
} cn_judge_test_t;

typedef enum {
    CN_JDIR_LOWER = 0, /* "lower-is-better" */
    CN_JDIR_HIGHER,    /* "higher-is-better" */
    CN_JDIR_EITHER,    /* "either": a change either way beyond the margin is
                          harm; pass needs equivalence (two one-sided tests) */
} cn_judge_dir_t;

typedef struct {
    char *name; /* metric name in the data */
    cn_judge_test_t test;
    cn_judge_dir_t direction; /* default lower-is-better */
    double margin;            /* >= 0; required for mwu/welch/proportion/
                                 bootstrap */
    cn_margin_kind_t margin_kind;
    int has_margin;
    double weight;      /* > 0, default 1 */
    char *group;        /* optional score group; NULL if none */
    int critical;       /* a fail here fails the canary */
    size_t min_samples; /* per arm, to pass; 0 = derive from margin,
                           alpha and power */
    /* ks */
    double max_statistic; /* the tolerated KS distance, default 0.1: fail
                             when D_true > this is shown, pass when
                             D_true < this is (DKW bound, stats/dkw.c) */
    /* psi */
    double max_psi; /* default 0.2 */
    size_t bins;    /* default 10 */
    /* bootstrap */
    cn_boot_stat_t statistic; /* default mean */
    size_t resamples;         /* default 2000 */
    uint64_t seed;            /* default 1 */
    /* agreement */
    double min_agreement;   /* (0,1), default 0.99: fail when the rate is
                               shown below it, pass when shown above */
    double class_threshold; /* a value >= this is class 1, else 0; unset:
                               the values are class labels */
    int has_class_threshold;
    /* threshold, agreement */
    char *source;    /* metric whose samples are gated (or paired);
                        default the metric's own name */
    double quantile; /* in (0,1), default 0.99 */
    double max;      /* absolute limit on canary's quantile */
    int has_max;
    double max_ratio; /* limit on canary q / stable q */
    int has_max_ratio;
    int line; /* line in the config file, 0 if unknown */
} cn_judge_metric_t;

typedef struct {
    char *name;
    double weight; /* > 0 */
} cn_judge_group_t;

typedef struct {
    double alpha;                  /* (0,1): false-rollback budget for the
                                      whole rollout; default 0.05 */
    cn_adjust_method_t correction; /* default holm */
    double pass_score;             /* default 95 */
    double marginal_score;         /* default 60; <= pass_score */
    char *segment_by;              /* NULL: no segments */
    size_t min_per_arm;            /* nodata floor, default 20 */
    double power;                  /* for derived min_samples, default 0.8 */
    unsigned looks;                /* planned analyses, default 1 */
    cn_judge_metric_t *metrics;
    size_t n_metrics;
    cn_judge_group_t *groups; /* optional weights per group */
    size_t n_groups;
} cn_judge_config_t;

/* Set every default; no metrics. */
void cn_judge_config_init(cn_judge_config_t *cfg);
void cn_judge_config_dispose(cn_judge_config_t *cfg);

/* Set a metric's defaults (the name is left NULL). */
void cn_judge_metric_init(cn_judge_metric_t *m);

/*
 * Append a metric (a copy of *m, taking ownership of its strings) and
 * return a pointer to the stored one.
 */
cn_judge_metric_t *cn_judge_config_add_metric(cn_judge_config_t *cfg,
                                              const cn_judge_metric_t *m);

/*
 * Cross-field checks the parser cannot do key by key: a margin where the
 * test needs one, unique names, a threshold with a limit, group names
 * declared, marginal <= pass. Returns 0 or CN_EINVAL with a message naming
 * the metric (and its line when known) in err.
 */
int cn_judge_config_validate(const cn_judge_config_t *cfg, char *err, size_t errlen);

/* Whether a metric of cfg judges the data named `name` (its name, or the
 * source a threshold or agreement metric reads): what a caller must put in
 * the data. */
int cn_judge_config_wants(const cn_judge_config_t *cfg, const char *name);

/* Names of the enumerations, for parsing and printing. */
int cn_judge_parse_test(const char *s, cn_judge_test_t *out);
const char *cn_judge_test_name(cn_judge_test_t t);
int cn_judge_parse_direction(const char *s, cn_judge_dir_t *out);
const char *cn_judge_direction_name(cn_judge_dir_t d);

/* -------------------------------------------------------------- data */

typedef enum { CN_ARM_STABLE = 0, CN_ARM_CANARY = 1 } cn_judge_arm_t;

typedef struct cn_judge_data_s cn_judge_data_t;

cn_judge_data_t *cn_judge_data_new(void);
void cn_judge_data_free(cn_judge_data_t *d);

/*
 * Add one observation. segment may be NULL (no segment label). value must
 * be finite (CN_ENONFINITE otherwise). Strings are copied.
 */
int cn_judge_data_add(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                      const char *segment, double value);

/* Add n observations with the same metric, arm and segment. */
int cn_judge_data_add_many(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                           const char *segment, const double *values, size_t n);

/*
 * Add a rate metric's full counts for one arm: `successes` of `trials`
 * (for `error`, the failed requests of all requests), without a reservoir
 * of 0/1 values. Counts add up over calls, per segment (NULL: no segment
 * label), and add to any 0/1 samples given with cn_judge_data_add for the
 * same metric, arm and segment: a count of k of n is the same evidence as
 * n samples of which k are 1. Only a `proportion` metric can use counts;
 * any other test gives that metric an error row. trials == 0 is allowed
 * (a window without requests: the row is nodata). successes > trials, a
 * bad arm or a NULL metric: CN_EINVAL; a segment's trials beyond 2^53
 * (where doubles stop counting exactly): CN_ETOOBIG. Strings are copied.
 */
int cn_judge_data_add_counts(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                             const char *segment, uint64_t successes, uint64_t trials);

/*
 * Add a metric's values for one arm as binned counts (a classic
 * histogram, Prometheus's `_bucket` series, de-cumulated): counts[i]
 * values in bin i = (bounds[i-1], bounds[i]], bin 0 from `lowest` (0 for
 * latencies), the last bin (n_bins - 1) above bounds[n_bins - 2]. Every
 * call for a metric (both arms, every segment) must give the same edges:
 * the two arms are compared bin by bin. Counts add up per segment; a
 * metric's aggregate row sums its segments (whole counts, like rates:
 * not resampled). The judge tests binned data exactly (JUDGE.md, "Binned
 * data"): mann-whitney by bounds over every placement of the values in
 * their bins, threshold by the quantile's interval bounded by the bucket
 * edges, ks by harm only (binning can hide a distance, never make one);
 * other tests give the metric an error row, and so does a metric given
 * both values and bins. n_bins == 0, bounds not strictly ascending above
 * lowest, edges unlike the metric's earlier ones, a bad arm or NULLs:
 * CN_EINVAL; a non-finite bound or lowest NaN or +inf: CN_ENONFINITE; a
 * bin's count beyond 2^53: CN_ETOOBIG. Arrays are copied.
 */
int cn_judge_data_add_bins(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                           const char *segment, const double *bounds, double lowest,
                           const uint64_t *counts, size_t n_bins);

/*
 * Add n pairs of one metric measured by both versions on the same
 * requests: stable[i] and canary[i] are the two versions' values for
 * request i (a shadow step: stable answered the user, the canary a copy).
 * A metric with pairs is judged on its pairs only (its other samples and
 * counts are not used), in one aggregate row (pairs carry no segment):
 *  - mann-whitney: the paired shift, Hodges-Lehmann over the Walsh
 *    averages of the differences canary - stable with its interval, and
 *    the Wilcoxon signed-rank test of the differences against the margin
 *    (cn_stats_hl_paired, cn_stats_signrank);
 *  - welch: the paired t test of the differences;
 *  - agreement: the share of pairs whose classes agree (it needs pairs);
 *  - every other test: the pairs' two sides as the two arms. Those tests
 *    assume independent arms; with the positive dependence of two
 *    versions answering the same requests their variance estimates are
 *    too large, so they err towards "inconclusive", never towards a false
 *    fail (ks's DKW bound holds for each side whatever the dependence).
 * Arrays are copied; pairs add up over calls. A non-finite value:
 * CN_ENONFINITE; NULL data, metric or arrays (with n > 0): CN_EINVAL.
 */
int cn_judge_data_add_pairs(cn_judge_data_t *d, const char *metric,
                            const double *stable, const double *canary, size_t n);

/*
 * Add n scores with their 0/1 labels (a model's predicted probability and
 * the true class that came later): what an `auc` metric judges. The
 * scores are the metric's values (so its arms summarise them) and each
 * keeps its label; a metric's values are all scored or none is (mixing
 * them: CN_EINVAL). A label other than 0 or 1: CN_EINVAL; a non-finite
 * score: CN_ENONFINITE. An auc row pools every value of its arm and
 * segment (its aggregate is not stratified: the AUC is a statistic of
 * pairs of one positive and one negative, which a resample would not
 * keep proportional).
 */
int cn_judge_data_add_scored(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                             const char *segment, const double *scores,
                             const uint8_t *labels, size_t n);

/*
 * The number of the arm's requests in one segment (NULL: the values
 * without a segment label) over the window the samples come from. Once
 * any is given for an arm, each sample-based metric's aggregate row for
 * that arm is a proportionally stratified sample of the arm's own traffic
 * (cn_judge_stratify below) instead of the union of its segments'
 * reservoirs, so that stable (whose reservoirs fill) and the canary
 * (whose do not) are compared over the same segment mix; segment rows
 * still use every value of their segment. Every segment with values must
 * then have a request count (else that metric's row is an error row); a
 * segment with requests but no values of a metric is left out of that
 * metric's aggregate. Counted rates (cn_judge_data_add_counts) are whole
 * already and are not resampled. Setting a segment again replaces its
 * count. A bad arm, NULL data or requests == UINT64_MAX: CN_EINVAL.
 */
int cn_judge_data_set_requests(cn_judge_data_t *d, cn_judge_arm_t arm,
                               const char *segment, uint64_t requests);

/* Remove every observation, count and request count, keeping allocated
 * capacity (for simulations that reuse one data set across rollouts). */
void cn_judge_data_clear(cn_judge_data_t *d);

/* ------------------------------------------------ stratified pooling */

/*
 * One segment of one arm: the reservoir sample the router kept for it
 * (`k` values, borrowed) and the number of the arm's requests in the
 * segment over the same window (`requests` >= k).
 */
typedef struct {
    const double *values;
    size_t k;
    uint64_t requests;
} cn_judge_stratum_t;

/*
 * The size n of the arm's proportionally stratified sample (stratify.c):
 * the largest total such that every segment s can give its share
 * n N_s / N, i.e. min over segments with N_s > 0 of floor(k_s N / N_s);
 * 0 when the arm has no requests. A segment with requests and an empty
 * reservoir makes n 0 (its share cannot be represented). k > requests,
 * or values NULL with k > 0: CN_EINVAL; a non-finite value: CN_ENONFINITE;
 * total requests beyond UINT64_MAX: CN_ETOOBIG.
 */
int cn_judge_stratify_size(const cn_judge_stratum_t *strata, size_t n_strata,
                           size_t *n_out);

/*
 * Build one arm's pooled sample in proportion to its own traffic: from
 * segment s, n N_s / N values (apportioned by largest remainders, summing
 * to exactly n = cn_judge_stratify_size), all of the reservoir when its
 * share is the whole reservoir, else a uniform random subset drawn
 * deterministically from `seed`. Values are written to out[0..n), segment
 * by segment, and *n_out = n. Give each arm its own strata (its own N_s
 * and reservoirs): the two arms' sampling fractions differ, their segment
 * mixes do not. Errors as cn_judge_stratify_size, and CN_ETOOBIG when
 * n > out_cap (nothing is written then). Pure; O(sum of k) time, O(max k)
 * extra memory.
 */
int cn_judge_stratify(const cn_judge_stratum_t *strata, size_t n_strata, uint64_t seed,
                      double *out, size_t out_cap, size_t *n_out);

/* ------------------------------------------------------ sequential */

/*
 * Lan-DeMets alpha spending with the O'Brien-Fleming-type function
 * alpha*(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)), t in (0,1] the
 * information fraction. Returns the alpha available to the look at t after
 * a previous look at t_prev (0 for the first look): alpha*(t) -
 * alpha*(t_prev). See docs/JUDGE.md for why the increment is a valid
 * (conservative) per-look level.
 */
double cn_judge_spend_obf(double alpha, double t_prev, double t);

/*
 * The same with the Pocock-type function alpha*(t) = alpha ln(1 + (e-1) t)
 * (Lan & DeMets 1983), which spends early. The judge spends its
 * false-rollback budget this way, so a gross failure is caught at the first
 * look, and its false-promotion budget the O'Brien-Fleming way, so thin
 * early data cannot promote. See docs/JUDGE.md.
 */
double cn_judge_spend_pocock(double alpha, double t_prev, double t);

typedef struct {
    double t;      /* information fraction of this look, (0,1] */
    double t_prev; /* of the previous look, [0, t); 0 for the first */
} cn_judge_look_t;

/* The look `index` (1-based) of `total` equally spaced looks. */
cn_judge_look_t cn_judge_look_index(unsigned index, unsigned total);

/*
 * The two levels one analysis is judged at: alpha_fail for declaring harm
 * (a false fail is a false rollback), alpha_pass for declaring
 * non-inferiority (a false pass is a false promotion). Each in [0, 1); 0
 * means that decision cannot be taken at this analysis.
 */
typedef struct {
    double alpha_fail;
    double alpha_pass;
} cn_judge_levels_t;

/*
 * How a rollout spends its analysis `alpha` (issue 14): the levels of
 * attempt `attempt` (1-based; attempts after the first are the strategy's
 * retries) of analysis step `step` (1-based) of `n_steps` analysis steps,
 * with `retries` retries allowed per step:
 *
 *   alpha_fail = (a*(step / n_steps) - a*((step - 1) / n_steps)) / (1 + retries)
 *   alpha_pass = alpha / (1 + retries) at the last step (step == n_steps),
 *                0 before it (only the last analysis can pass),
 *
 * where a*(t) = alpha ln(1 + (e - 1) t) is the Pocock-type spending
 * function of cn_judge_spend_pocock. Summed over every step and attempt
 * each budget is alpha, so by the union bound a rollout falsely fails
 * (or falsely passes) with probability at most alpha. Attempts that were
 * interrupted count as spent: the caller numbers attempts durably.
 *
 * Returns 0 with the levels in *out; CN_ETOOBIG when attempt > 1 +
 * retries (the step's analysis budget is spent: hold, never judge);
 * CN_EINVAL when alpha is not in (0, 1), n_steps == 0, step or attempt is
 * 0, or step > n_steps. Pure.
 */
int cn_judge_rollout_levels(double alpha, unsigned step, unsigned n_steps,
                            unsigned retries, unsigned attempt, cn_judge_levels_t *out);

/* ----------------------------------------------------------- result */

typedef enum {
    CN_CLASS_PASS = 0,
    CN_CLASS_FAIL,
    CN_CLASS_INCONCLUSIVE,
    CN_CLASS_NODATA,
    CN_CLASS_ERROR,
} cn_judge_class_t;

const char *cn_judge_class_name(cn_judge_class_t c);

typedef enum {
    CN_VERDICT_PASS = 0,
    CN_VERDICT_FAIL = 1,
    CN_VERDICT_MARGINAL = 2,
} cn_verdict_t;

const char *cn_judge_verdict_name(cn_verdict_t v);

typedef struct {
    size_t n;
    double mean, median, p95, p99; /* NAN when n == 0 */
} cn_judge_arm_summary_t;

typedef struct {
    const char *name; /* borrowed from the config */
    char *segment;    /* NULL for the aggregate row; owned */
    cn_judge_test_t test;
    cn_judge_class_t cls;
    cn_judge_arm_summary_t canary, stable;
    double effect;                 /* canary - stable in the metric's unit, or
                                      the test's statistic (D, PSI, quantile) */
    double ci_low, ci_high;        /* CI of the effect; NAN if none */
    double margin_abs;             /* NAN if the test has no margin */
    double pvalue;                 /* the deciding test's raw p; NAN if none */
    double adjusted_pvalue;        /* after correction across the family */
    double p_noninf, p_noninf_adj; /* H0: canary worse by >= margin */
    double p_harm, p_harm_adj;     /* H0: canary not worse than margin */
    size_t min_samples;            /* per arm needed to pass */
    size_t n_pairs;                /* judged on this many pairs
                                      (cn_judge_data_add_pairs); 0: unpaired */
    char reason[320];              /* one line, for people */
} cn_judge_row_t;

typedef struct {
    cn_verdict_t verdict;
    double score;         /* 0..100 */
    double alpha_pass;    /* the level a pass was judged at: this look's
                             O'Brien-Fleming increment, or the given level */
    double alpha_fail;    /* the level a fail was judged at: this look's
                             Pocock-type increment, or the given level */
    cn_judge_row_t *rows; /* aggregate row of each metric, followed by
                             its segment rows */
    size_t n_rows;
    char reason[320];
} cn_judge_result_t;

/*
 * Judge one look. look may be NULL (a single analysis with the whole
 * alpha). Returns 0 (the verdict is in out, even when metrics are nodata
 * or error) or CN_EINVAL for an invalid config/look.
 */
int cn_judge_run(const cn_judge_config_t *cfg, const cn_judge_data_t *data,
                 const cn_judge_look_t *look, cn_judge_result_t *out);

/*
 * Judge one analysis at explicit levels (from cn_judge_rollout_levels, or
 * the caller's own plan) instead of a look's spending: harm is declared at
 * levels->alpha_fail and non-inferiority at levels->alpha_pass, each after
 * the family's correction; a level of 0 turns that decision off. The
 * derived sample floors still use cfg->alpha. cn_judge_run with a NULL
 * look is this with both levels equal to cfg->alpha. Returns 0 (the
 * verdict is in out) or CN_EINVAL for an invalid config, a NULL levels, or
 * a level outside [0, 1) or NaN; out is then zeroed (nothing to dispose).
 */
int cn_judge_run_levels(const cn_judge_config_t *cfg, const cn_judge_data_t *data,
                        const cn_judge_levels_t *levels, cn_judge_result_t *out);

void cn_judge_result_dispose(cn_judge_result_t *r);

#endif
