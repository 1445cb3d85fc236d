/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sample size and power for comparing two arms: a difference in means and a
 * difference in proportions. Used before a canary starts ("how much traffic
 * until a 5% latency regression is detectable?") and after it ends ("what
 * could this run have detected?").
 *
 * Means: the two-sample z test with common standard deviation sd and n per
 * arm, so the standardized shift is s = (delta / sd) sqrt(n / 2). With
 * z = z_{1-alpha} (one-sided) or z_{1-alpha/2} (two-sided):
 *
 *     power(n) = Phi(s - z)                       one-sided
 *     power(n) = Phi(s - z) + Phi(-s - z)         two-sided
 *
 * The second term of the two-sided power is the "far tail", rejecting in
 * the wrong direction. We keep it, as statsmodels' NormalIndPower.power
 * does; it is 1e-6 of the power at the usual settings. The sample size is
 * the exact root of power(n) = target, found by Newton's method on s from
 * the textbook start s0 = z_a + z_b (where z_b = z_{power}); for a one-sided
 * test s0 is the root, and n = (z_a + z_b)^2 * 2 sd^2 / delta^2 exactly.
 * This is the quantity statsmodels' NormalIndPower().solve_power(
 * effect_size=delta/sd, alpha, power, ratio=1) approximates (its root
 * finder stops at xtol = 1e-5, so it is only good to ~2e-7 relative).
 *
 * Proportions: Fleiss's formula (Fleiss, Levin & Paik, Statistical Methods
 * for Rates and Proportions, 3rd ed. 2003, ch. 4, without the continuity
 * correction): the pooled z test's variance under H0 and the unpooled one
 * under H1, with pbar = (p1 + p2)/2:
 *
 *     s0 = sqrt(2 pbar (1 - pbar)),  s1 = sqrt(p1 (1 - p1) + p2 (1 - p2))
 *     n  = (z_a s0 + z_b s1)^2 / (p1 - p2)^2
 *     power(n) = Phi((|p1 - p2| sqrt(n) - z_a s0) / s1)
 *              [+ Phi((-|p1 - p2| sqrt(n) - z_a s0) / s1) two-sided]
 *
 * These are statsmodels' samplesize_proportions_2indep_onetail and
 * power_proportions_2indep exactly, including their one asymmetry: the
 * closed-form n ignores the far tail and the power includes it, so
 * power(n(target)) exceeds the target by the far-tail term (< 1e-6 at
 * alpha = 0.05, power = 0.8). Why Fleiss rather than Cohen's arcsine
 * h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)) (statsmodels' proportion_effectsize
 * with NormalIndPower): Fleiss uses the variance of the test we actually
 * run on the rates (the pooled z test of cn_stats_prop), where the arcsine
 * transform is a variance-stabilising approximation of it; for rare events
 * the two differ by a few percent.
 *
 * One-sided tests are assumed to be in the direction of the effect, so only
 * |delta| or |p1 - p2| matters. Results are not rounded: callers take ceil().
 */
#include "stats/stats.h"
#include "util/error.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>

static int valid_prob(double p)
{
    return p > 0 && p < 1;
}

/* Power of the z test of means at standardized shift s >= 0. */
static double power_at_shift(double s, double crit, int two_sided)
{
    double pw = gsl_cdf_ugaussian_Q(crit - s);
    if (two_sided)
        pw += gsl_cdf_ugaussian_P(-crit - s);
    return pw;
}

int cn_stats_sample_size_means(double delta, double sd, double alpha, double power,
                               int two_sided, double *n_out)
{
    if (!n_out)
        return CN_EINVAL;
    if (!isfinite(delta) || delta <= 0 || !isfinite(sd) || sd <= 0)
        return CN_EINVAL;
    if (!valid_prob(alpha) || !valid_prob(power))
        return CN_EINVAL;
    /* At n = 0 the test already rejects with probability alpha. */
    if (power <= alpha)
        return CN_EINVAL;
    double crit = gsl_cdf_ugaussian_Qinv(two_sided ? alpha / 2 : alpha);
    double s = crit - gsl_cdf_ugaussian_Qinv(power);
    if (two_sided) {
        /* power_at_shift is increasing and concave beyond the start, where
         * it is already >= the target, so Newton approaches from above. */
        for (int it = 0; it < 100; it++) {
            double g = power_at_shift(s, crit, 1) - power;
            double slope =
                gsl_ran_ugaussian_pdf(crit - s) - gsl_ran_ugaussian_pdf(crit + s);
            if (!(slope > 0))
                break;
            double step = g / slope;
            s -= step;
            if (fabs(step) <= 1e-16 * s)
                break;
        }
    }
    double d = delta / sd;
    /* s = d sqrt(nobs) with nobs = n/2, the harmonic combination of the
     * two arms' sizes. */
    double nobs = (s / d) * (s / d);
    *n_out = 2 * nobs;
    return 0;
}

int cn_stats_power_means(double delta, double sd, double alpha, double n, int two_sided,
                         double *power_out)
{
    if (!power_out)
        return CN_EINVAL;
    if (!isfinite(delta) || delta <= 0 || !isfinite(sd) || sd <= 0)
        return CN_EINVAL;
    if (!valid_prob(alpha) || !isfinite(n) || n <= 0)
        return CN_EINVAL;
    double d = delta / sd;
    double nobs = 1. / (1. / n + 1. / n); /* statsmodels' ratio=1 form */
    double crit = gsl_cdf_ugaussian_Qinv(two_sided ? alpha / 2 : alpha);
    *power_out = power_at_shift(d * sqrt(nobs), crit, two_sided);
    return 0;
}

/* The null and alternative standard deviations of Fleiss's formula. */
static void prop_sds(double p1, double p2, double *s0, double *s1)
{
    double pbar = (p1 + p2) / 2;
    *s0 = sqrt(pbar * (1 - pbar) + pbar * (1 - pbar));
    *s1 = sqrt(p1 * (1 - p1) + p2 * (1 - p2));
}

static int check_props(double p1, double p2, double alpha)
{
    if (!valid_prob(p1) || !valid_prob(p2) || p1 == p2)
        return CN_EINVAL;
    if (!valid_prob(alpha))
        return CN_EINVAL;
    return 0;
}

int cn_stats_sample_size_props(double p1, double p2, double alpha, double power,
                               int two_sided, double *n_out)
{
    if (!n_out)
        return CN_EINVAL;
    int rc = check_props(p1, p2, alpha);
    if (rc)
        return rc;
    if (!valid_prob(power))
        return CN_EINVAL;
    double s0, s1;
    prop_sds(p1, p2, &s0, &s1);
    double z_a = gsl_cdf_ugaussian_Qinv(two_sided ? alpha / 2 : alpha);
    double z_b = -gsl_cdf_ugaussian_Qinv(power);
    double num = z_a * s0 + z_b * s1;
    /* A power this low is reached with no observations at all. */
    if (!(num > 0))
        return CN_EINVAL;
    double diff = fabs(p1 - p2);
    *n_out = (num / diff) * (num / diff);
    return 0;
}

int cn_stats_power_props(double p1, double p2, double alpha, double n, int two_sided,
                         double *power_out)
{
    if (!power_out)
        return CN_EINVAL;
    int rc = check_props(p1, p2, alpha);
    if (rc)
        return rc;
    if (!isfinite(n) || n <= 0)
        return CN_EINVAL;
    double s0, s1;
    prop_sds(p1, p2, &s0, &s1);
    double diff = fabs(p1 - p2);
    double crit = gsl_cdf_ugaussian_Qinv(two_sided ? alpha / 2 : alpha);
    double ratio = s0 / s1, shift = diff * sqrt(n) / s1;
    double pw = gsl_cdf_ugaussian_Q(crit * ratio - shift);
    if (two_sided)
        pw += gsl_cdf_ugaussian_P(-crit * ratio - shift);
    *power_out = pw;
    return 0;
}

int cn_stats_sample_size_noninf_props(double p, double margin, cn_direction_t dir,
                                      double alpha, double power, double *n_out)
{
    if (!n_out || !(margin > 0))
        return CN_EINVAL;
    double step = dir == CN_DIR_HIGHER_IS_BETTER ? -margin : margin;
    double n_pass, n_fail;
    int rc = cn_stats_sample_size_props(p, p + step, alpha, power, 0, &n_pass);
    if (rc)
        return rc;
    rc = cn_stats_sample_size_props(p + step, p + 2 * step, alpha, power, 0, &n_fail);
    if (rc)
        return rc;
    *n_out = n_pass > n_fail ? n_pass : n_fail;
    return 0;
}
