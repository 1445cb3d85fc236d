/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Alpha spending across the looks of one rollout.
 *
 * A rollout analyses the same canary again and again: at every ramp step
 * and continuously. Testing each look at the full alpha inflates the
 * chance of a false decision with the number of looks (Armitage,
 * McPherson & Rowe 1969: five looks at 0.05 give ~0.14). Lan & DeMets
 * (1983, Biometrika 70(3), "Discrete sequential boundaries for clinical
 * trials") let a trial spend its alpha as a function of the information
 * fraction t in (0,1], alpha*(t) non-decreasing with alpha*(1) = alpha,
 * without fixing the number or timing of looks in advance.
 *
 * Each look k gets the increment alpha*(t_k) - alpha*(t_{k-1}) as its
 * nominal level. Exact group-sequential boundaries would solve for the
 * critical values numerically using the correlation between looks; using
 * the increment directly is the union (Bonferroni) bound over looks:
 * P(any false rejection) <= sum_k increment_k = alpha*(1) = alpha. It is
 * conservative -- more so when looks are highly correlated -- but valid
 * for any test at any look, which is what a judge that mixes rank tests,
 * proportion tests and drift tests needs.
 *
 * Two spending functions:
 *  - O'Brien-Fleming type, alpha*(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)):
 *    almost nothing early, nearly everything at the end. Used for
 *    passing (promotion), so thin early data cannot promote.
 *  - Pocock type, alpha*(t) = alpha ln(1 + (e - 1) t): spends early. Used
 *    for failing (rollback), so a gross failure is caught at once.
 * Passing and failing are different errors (a false promotion, a false
 * rollback), each controlled at alpha over the whole rollout.
 */
#include "judge/judge.h"
#include "util/error.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

static double obf(double alpha, double t)
{
    if (t <= 0)
        return 0;
    if (t >= 1)
        return alpha;
    double z = gsl_cdf_ugaussian_Qinv(alpha / 2);
    return 2 * gsl_cdf_ugaussian_Q(z / sqrt(t));
}

static double pocock(double alpha, double t)
{
    if (t <= 0)
        return 0;
    if (t >= 1)
        return alpha;
    return alpha * log1p((M_E - 1) * t);
}

double cn_judge_spend_obf(double alpha, double t_prev, double t)
{
    double a = obf(alpha, t) - obf(alpha, t_prev);
    return a > 0 ? a : 0;
}

double cn_judge_spend_pocock(double alpha, double t_prev, double t)
{
    double a = pocock(alpha, t) - pocock(alpha, t_prev);
    return a > 0 ? a : 0;
}

cn_judge_look_t cn_judge_look_index(unsigned index, unsigned total)
{
    cn_judge_look_t look = {1.0, 0.0};
    if (total == 0 || index == 0 || index > total)
        return (cn_judge_look_t){NAN, NAN};
    look.t = (double)index / total;
    look.t_prev = (double)(index - 1) / total;
    return look;
}

/*
 * The rollout's plan (issue 14). Fail: the analysis steps are the looks of
 * a Pocock-type spending (harm must be caught early, at the smallest blast
 * radius), each step's increment split evenly over its attempts. Pass:
 * only the last step may promote, so it gets the whole alpha, split evenly
 * over its attempts; earlier steps pass nothing, they only advance when
 * they find no harm. Both sums over all attempts are alpha.
 */
int cn_judge_rollout_levels(double alpha, unsigned step, unsigned n_steps,
                            unsigned retries, unsigned attempt, cn_judge_levels_t *out)
{
    if (!out || !(alpha > 0 && alpha < 1) || n_steps == 0 || step == 0 ||
        step > n_steps || attempt == 0)
        return CN_EINVAL;
    if (attempt > 1 + (uint64_t)retries)
        return CN_ETOOBIG;
    double attempts = 1.0 + (double)retries;
    cn_judge_look_t look = cn_judge_look_index(step, n_steps);
    out->alpha_fail = cn_judge_spend_pocock(alpha, look.t_prev, look.t) / attempts;
    out->alpha_pass = step == n_steps ? alpha / attempts : 0;
    return 0;
}
