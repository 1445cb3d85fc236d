/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Two proportions: a rate of the canary (x) against the stable version (y),
 * e.g. error rate or click-through. Two questions, two classic z tests.
 *
 * Non-inferiority, "is the canary worse by at least the margin m?". For a
 * lower-is-better rate (errors) H0: p_x - p_y >= m against H1: p_x - p_y < m;
 * for higher-is-better (clicks) H0: p_x - p_y <= -m against H1: > -m. The
 * statistic is the unpooled Wald z
 *
 *     se = sqrt(p_x (1 - p_x) / n_x + p_y (1 - p_y) / n_y)
 *     z  = (p_x - p_y - m) / se,   p = Phi(z)        (lower is better)
 *     z  = (p_x - p_y + m) / se,   p = 1 - Phi(z)    (higher is better)
 *
 * with the Wald interval p_x - p_y -/+ z_{1-alpha/2} se (not clipped to
 * [-1, 1]). This is statsmodels' test_proportions_2indep(method='wald',
 * compare='diff', value=+/-m) and confint_proportions_2indep(method='wald').
 * Unpooled, because under H0 the two rates differ by m: a pooled "common p"
 * is the null model of the equality test only. (The Farrington-Manning
 * score test is the more careful NI test for small counts; the Wald test is
 * what the issue asks for and what practitioners read off a dashboard.)
 *
 * Equality, "do the rates differ at all?", with the pooled z
 *
 *     p = (s_x + s_y) / (n_x + n_y)
 *     z = (p_x - p_y) / sqrt(p (1 - p) (1/n_x + 1/n_y)),   two-sided p
 *
 * as statsmodels' proportions_ztest (the chi-square test without
 * continuity correction).
 *
 * The degenerate case, decided here and not left to NaN. If every arm is
 * all-failure or all-success (0 errors in both arms is the common one: a
 * healthy service with plenty of traffic), the Wald se is exactly 0 and z is
 * 0/0 or -inf. Neither is an answer: "no errors in 10^5 requests" does not
 * prove the error rate is 0, only that it is probably below ~3/10^5 (the
 * rule of three). So then, and only then, the NI test and the CI switch to
 * the Agresti-Caffo adjustment (Agresti & Caffo 2000): add one success and
 * one failure to each arm,
 *
 *     p~ = (s + 1) / (n + 2),   se~ = sqrt(p~_x q~_x / (n_x + 2) + p~_y q~_y / (n_y +
 * 2))
 *
 * and use the Wald formulas on p~. For 0 of n in both arms that gives
 * se~ ~ sqrt(2)/n: non-inferiority at one-sided alpha = 0.05 is shown once
 * the margin exceeds ~2.3/n, in line with the rule of three, and never for a
 * margin of 0. Agresti and Caffo showed this interval has close to nominal
 * coverage even at the extremes, and statsmodels implements it
 * (method='agresti-caffo'), so this branch is golden-tested too. The result
 * says so in `adjusted`. The pooled equality test is degenerate exactly
 * when the pooled rate is 0 or 1, which forces p_x = p_y: then z = 0 and
 * p = 1 (no evidence of a difference) where statsmodels gives NaN.
 *
 * A relative margin is m = margin * p_y, with the observed stable rate taken
 * as known; note that a relative margin on a stable rate of 0 is 0.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

/* Counts above 2^53 are not exact as doubles. */
#define MAX_EXACT_COUNT (UINT64_C(1) << 53)

int cn_stats_prop(uint64_t succ_x, uint64_t n_x, uint64_t succ_y, uint64_t n_y,
                  double margin, cn_margin_kind_t kind, cn_direction_t dir,
                  double confidence, cn_prop_result_t *out)
{
    if (!out)
        return CN_EINVAL;
    if (n_x == 0 || n_y == 0)
        return CN_ETOOFEW;
    if (succ_x > n_x || succ_y > n_y)
        return CN_EINVAL;
    if (n_x > MAX_EXACT_COUNT || n_y > MAX_EXACT_COUNT)
        return CN_ETOOBIG;
    if (!isfinite(margin) || margin < 0)
        return CN_EINVAL;
    if (kind != CN_MARGIN_ABSOLUTE && kind != CN_MARGIN_RELATIVE)
        return CN_EINVAL;
    if (dir != CN_DIR_LOWER_IS_BETTER && dir != CN_DIR_HIGHER_IS_BETTER)
        return CN_EINVAL;
    if (!(confidence > 0 && confidence < 1))
        return CN_EINVAL;

    double sx = (double)succ_x, nx = (double)n_x;
    double sy = (double)succ_y, ny = (double)n_y;
    double p_x = sx / nx, p_y = sy / ny;
    double diff = p_x - p_y;
    double m = kind == CN_MARGIN_RELATIVE ? margin * p_y : margin;

    /* The estimate the NI test and CI are built on: Wald, or Agresti-Caffo
     * when the Wald se vanishes. Operation order as statsmodels. */
    double est = diff;
    double var = p_x * (1 - p_x) / nx + p_y * (1 - p_y) / ny;
    int adjusted = 0;
    if (!(var > 0)) {
        double ax = (sx + 1) / (nx + 2), ay = (sy + 1) / (ny + 2);
        est = ax - ay;
        var = ax * (1 - ax) / (nx + 2) + ay * (1 - ay) / (ny + 2);
        adjusted = 1;
    }
    double se = sqrt(var);

    double z_ni, p_ni;
    if (dir == CN_DIR_LOWER_IS_BETTER) {
        z_ni = (est - m) / se;
        p_ni = gsl_cdf_ugaussian_P(z_ni);
    } else {
        z_ni = (est - (-m)) / se;
        p_ni = gsl_cdf_ugaussian_Q(z_ni);
    }

    double crit = gsl_cdf_ugaussian_Qinv((1 - confidence) / 2);
    double half = crit * se;

    double pooled = (sx + sy) / (nx + ny);
    double var_pooled = pooled * (1 - pooled) * (1 / nx + 1 / ny);
    double z_pooled = 0, p_equal = 1;
    if (var_pooled > 0) {
        z_pooled = diff / sqrt(var_pooled);
        p_equal = gsl_cdf_ugaussian_Q(fabs(z_pooled)) * 2;
    }

    out->p_x = p_x;
    out->p_y = p_y;
    out->diff = diff;
    out->se_unpooled = se;
    out->ci_low = est - half;
    out->ci_high = est + half;
    out->margin_abs = m;
    out->z_noninf = z_ni;
    out->p_noninf = p_ni;
    out->z_pooled = z_pooled;
    out->p_equal = p_equal;
    out->adjusted = adjusted;
    return 0;
}
