/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout's triggers: checks run once a second over the current step's
 * window that roll a canary back at once, without waiting for its next
 * analysis. A trigger fires on evidence, not on one bad reading: each
 * check is a one-sided test, exact where it can be, and fires only when
 * its p-value is below the per-check level (`triggers.level`, 1e-7), so
 * that a good canary checked every second for a day (86,400 checks per
 * trigger) is rolled back by a trigger with probability at most
 * 86,400 x checks x 1e-7 (< 1% for one check).
 *
 * The checks (strategy.h names the keys):
 *  - error_rate.max: the canary's errors e_c of n_c requests against the
 *    binomial(n_c, max) upper tail, P(X >= e_c). Six failures in six
 *    requests against max 0.05 give 0.05^6 = 1.6e-8: no minimum sample
 *    size is needed, the test carries its own.
 *  - error_rate.max_ratio r: conditional on the two arms' total e = e_c +
 *    e_s, the canary's count is binomial(e, p) with
 *    p = r n_c / (r n_c + n_s) when the canary's rate is r times
 *    stable's (the conditional test of two Poisson rates, exact, and valid
 *    when stable has no errors at all). Since with stable at 0 any canary
 *    error breaches a ratio, it fires only if the canary's rate is also
 *    significantly above min_rate (binomial(n_c, min_rate) tail): an
 *    intersection-union test, whose level is the larger p-value's.
 *  - p99_latency_ms.max: the count of canary requests slower than max
 *    against 1% (binomial(n_c, 0.01) upper tail): a p99 above max means
 *    more than 1% of requests are slower.
 *  - p99_latency_ms.max_ratio r: the count of canary requests slower than
 *    r x B against 1%, where B is an upper confidence bound of stable's
 *    p99: stable's order statistic of rank cn_triggers_p99_bound_rank()
 *    (the driver reads it from stable's samples or histogram, taking a
 *    bucket's upper edge). Each half runs at level / 2, so the check as a
 *    whole keeps the level although B is estimated.
 *  - prediction_shift.max_statistic m: the two-sample KS distance D of
 *    the arms' predictions against m, with the Dvoretzky-Kiefer-Wolfowitz
 *    inequality (Massart's constant) for each arm:
 *        p = 4 exp(-2 (D - m)^2 h),  h = n_c n_s / (sqrt(n_c) + sqrt(n_s))^2.
 *    (Splitting D - m between the two empirical CDFs in proportion to
 *    1/sqrt(n) gives this h, which is below n_c n_s / (n_c + n_s): the
 *    larger "effective size" is not justified by a union bound.) It is
 *    conservative, so a KS distance exactly at m never fires.
 * During warmup only the error checks and the absolute limits run (cold
 * caches would trip a latency ratio or a prediction shift); at 100% only
 * the absolute limits run (there is no concurrent stable arm).
 *
 * No data is never a failure: a check without data (no canary request, no
 * stable bound yet) does not run and does not fire.
 *
 * Pure: no I/O, no allocation, no global state. The binomial tail and the
 * quantile bound are generic; they live here because the controller may
 * not use src/stats (docs/ARCHITECTURE.md), and src/stats could take them
 * over as they are.
 */
#ifndef CN_CONTROLLER_TRIGGERS_H
#define CN_CONTROLLER_TRIGGERS_H

#include "controller/strategy.h"

#include <stdbool.h>
#include <stdint.h>

/* The checks, in the order they are run and reported. */
typedef enum cn_trigger_check_e {
    CN_TRIGGER_ERROR_MAX = 0,    /* error_rate.max */
    CN_TRIGGER_ERROR_RATIO,      /* error_rate.max_ratio */
    CN_TRIGGER_P99_MAX,          /* p99_latency_ms.max */
    CN_TRIGGER_P99_RATIO,        /* p99_latency_ms.max_ratio */
    CN_TRIGGER_PREDICTION_SHIFT, /* prediction_shift.max_statistic */
} cn_trigger_check_t;
#define CN_TRIGGER_CHECKS 5

/* "error_rate.max", "error_rate.max_ratio", "p99_latency_ms.max",
 * "p99_latency_ms.max_ratio", "prediction_shift"; "?" otherwise. */
const char *cn_trigger_check_name(cn_trigger_check_t c);

/* Which checks a rollout phase runs. */
typedef enum cn_trigger_phase_e {
    CN_TRIGGER_PHASE_NORMAL = 0, /* every configured check */
    CN_TRIGGER_PHASE_WARMUP,     /* error checks and absolute limits */
    CN_TRIGGER_PHASE_FULL,       /* the canary at 100%: absolute limits */
} cn_trigger_phase_t;

/* One arm's counts over the current step's window (from its first request
 * after warmup, or from the first canary request during warmup). */
typedef struct cn_trigger_arm_s {
    uint64_t requests; /* answered or failed */
    uint64_t errors;   /* failures and 5xx; <= requests */
} cn_trigger_arm_t;

typedef struct cn_trigger_input_s {
    cn_trigger_phase_t phase;
    cn_trigger_arm_t canary, stable;
    /* canary requests slower than p99_latency_ms.max; <= canary.requests */
    uint64_t canary_slower_than_max;
    /* canary requests slower than max_ratio x stable's p99 bound, when
     * has_p99_bound (stable has enough requests for a bound: see
     * cn_triggers_p99_bound_rank) */
    bool has_p99_bound;
    uint64_t canary_slower_than_bound;
    /* the KS distance of the arms' predictions and the sample sizes it was
     * computed from, when has_ks */
    bool has_ks;
    double ks_distance;
    uint64_t ks_n_canary, ks_n_stable;
} cn_trigger_input_t;

/* What one check found. */
typedef struct cn_trigger_row_s {
    bool configured;  /* the strategy sets this limit */
    bool ran;         /* configured, run in this phase and had data */
    bool fired;       /* ran and p < level */
    double observed;  /* canary error rate, canary/stable rate ratio, share
                         of slow requests, or D; NAN when it did not run */
    double limit;     /* the configured limit */
    double pvalue;    /* NAN when it did not run */
    char reason[200]; /* one line for people, when it ran */
} cn_trigger_row_t;

typedef struct cn_trigger_result_s {
    cn_trigger_row_t rows[CN_TRIGGER_CHECKS];
    int fired; /* the first check that fired (cn_trigger_check_t), or -1 */
} cn_trigger_result_t;

/*
 * Run every check the strategy configures and the phase allows over in.
 * Returns 0 with every row of *out filled, or CN_EINVAL (out zeroed, fired
 * -1) when a count is inconsistent (errors or slow requests above
 * requests, a KS distance outside [0, 1], a level outside (0, 1)).
 */
int cn_triggers_check(const cn_strategy_triggers_t *t, const cn_trigger_input_t *in,
                      cn_trigger_result_t *out);

/*
 * P(X >= k) for X ~ binomial(n, p), p in [0, 1]: the exact upper tail,
 * with full relative accuracy far into it (Loader's saddle-point form of
 * the binomial probability, then the terms summed from k outwards).
 * 1 for k == 0, 0 for k > n. NAN for p outside [0, 1].
 */
double cn_triggers_binom_sf(uint64_t k, uint64_t n, double p);

/*
 * The rank j (1-based) of the order statistic of m samples that is above
 * the population's q-quantile with probability at least 1 - level: the
 * smallest j with P(binomial(m, q) >= j) <= level. 0 when m samples are
 * too few for such a bound (q^m > level).
 */
uint64_t cn_triggers_quantile_bound_rank(uint64_t m, double q, double level);

/*
 * The rank i (1-based) of the order statistic of m samples that is at or
 * below the population's q-quantile with probability at least 1 - level:
 * the largest i with P(binomial(m, q) <= i - 1) <= level. 0 when m
 * samples are too few ((1 - q)^m > level).
 */
uint64_t cn_triggers_quantile_lower_rank(uint64_t m, double q, double level);

/*
 * A confidence interval for the p99 of the latencies in h (the router's
 * histogram, microseconds), in ms: the lower edge of the bucket holding
 * the order statistic of rank cn_triggers_quantile_lower_rank(m, 0.99,
 * level / 2) and the upper edge of the one holding rank
 * cn_triggers_quantile_bound_rank(m, 0.99, level / 2). Checked once a
 * second at the triggers' level, the intervals hold at every check
 * together with probability at least 1 - level x checks (a union bound
 * over the checks: the same time-uniform guarantee as the triggers').
 * Returns false, with nothing set, when h holds too few values for both
 * ends (about 1,700 at level 1e-7).
 */
struct cn_metrics_hist_s;
bool cn_triggers_p99_interval(const struct cn_metrics_hist_s *h, double level,
                              double *lo_ms, double *hi_ms);

/* The rank of stable's p99 bound for the p99 ratio check at `level`:
 * cn_triggers_quantile_bound_rank(m, 0.99, level / 2). */
uint64_t cn_triggers_p99_bound_rank(uint64_t m, double level);

/*
 * The DKW p-value that the KS distance between two distributions is above
 * max, given the observed distance d of samples of n and m:
 * min(1, 4 exp(-2 (d - max)^2 n m / (sqrt(n) + sqrt(m))^2)), and 1 when
 * d <= max or a sample is empty.
 */
double cn_triggers_ks_excess_p(double d, double max, uint64_t n, uint64_t m);

#endif
