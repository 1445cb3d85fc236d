/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Non-inferiority of a location: is the canary (x) worse than the stable
 * version (y) by at least a margin? This is the question a canary judge
 * actually asks. "Not significantly different" is not evidence of "no
 * worse" (a small or noisy canary is never significantly different); a
 * non-inferiority test puts the burden of proof on the canary.
 *
 * With effect = location(x) - location(y) and m >= 0 the margin:
 *
 *   lower is better (latency):   H0: effect >= m    vs  H1: effect < m
 *   higher is better (accuracy): H0: effect <= -m   vs  H1: effect > -m
 *
 * Both tests work by shifting the canary by the margin, which turns H0 into
 * an ordinary one-sided null of "no shift":
 *
 *   CN_NI_WELCH: Welch's t of (x - m) against y, alternative 'less'
 *     (x + m and 'greater' for higher-is-better), so the p-value is exactly
 *     scipy.stats.ttest_ind(x - m, y, equal_var=False, alternative='less').
 *     effect = mean(x) - mean(y), with the two-sided Welch CI.
 *   CN_NI_MWU: Mann-Whitney U of (x - m) against y with the same one-sided
 *     alternative (cn_stats_mwu, default continuity correction and method),
 *     i.e. scipy.stats.mannwhitneyu(x - m, y, alternative='less'). This
 *     tests a location shift under the shift model; effect is the
 *     Hodges-Lehmann estimate of the shift with its CI (cn_stats_hl), the
 *     estimator that goes with the rank test.
 *
 * The one-sided p-value and the two-sided CI at confidence c agree in the
 * usual way: for lower-is-better, p < (1 - c)/2 exactly when the CI's upper
 * end is below m (Welch; approximately for MWU and HL).
 *
 * A relative margin is m = margin * |stable statistic|, the stable mean
 * (Welch) or type-7 median (MWU), e.g. 0.05 for "at most 5% slower". The
 * stable statistic is treated as a known constant, not as the estimate it
 * is: the test ignores the sampling error of the margin itself. With a
 * large stable sample (the usual canary split, where stable serves most of
 * the traffic) that error is small next to the canary's; with a small one
 * the test is somewhat anti-conservative, and an exact treatment would test
 * the ratio (Fieller's method; a t test of x - (1 + margin) y for means).
 * A stable statistic of 0 makes a relative margin 0.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>

static int check_opts(const cn_ni_opts_t *o)
{
    if (o->test != CN_NI_WELCH && o->test != CN_NI_MWU)
        return CN_EINVAL;
    if (!isfinite(o->margin) || o->margin < 0)
        return CN_EINVAL;
    if (o->kind != CN_MARGIN_ABSOLUTE && o->kind != CN_MARGIN_RELATIVE)
        return CN_EINVAL;
    if (o->direction != CN_DIR_LOWER_IS_BETTER &&
        o->direction != CN_DIR_HIGHER_IS_BETTER)
        return CN_EINVAL;
    if (!(o->confidence > 0 && o->confidence < 1))
        return CN_EINVAL;
    return 0;
}

/* x shifted towards "worse" by the margin: x - m when lower is better. */
static double *shifted(const double *x, size_t n, double m, cn_direction_t dir)
{
    double *s = cn_xmallocarray(n, sizeof *s);
    for (size_t i = 0; i < n; i++)
        s[i] = dir == CN_DIR_LOWER_IS_BETTER ? x[i] - m : x[i] + m;
    return s;
}

static cn_alternative_t one_sided(cn_direction_t dir)
{
    return dir == CN_DIR_LOWER_IS_BETTER ? CN_ALT_LESS : CN_ALT_GREATER;
}

static int noninf_welch(const double *x, size_t nx, const double *y, size_t ny,
                        const cn_ni_opts_t *o, cn_ni_result_t *out)
{
    cn_welch_result_t plain, test;
    int rc = cn_stats_welch(x, nx, y, ny, CN_ALT_TWO_SIDED, &plain);
    if (rc)
        return rc;
    double m =
        o->kind == CN_MARGIN_RELATIVE ? o->margin * fabs(plain.mean_y) : o->margin;
    double *xs = shifted(x, nx, m, o->direction);
    rc = cn_stats_welch(xs, nx, y, ny, one_sided(o->direction), &test);
    free(xs);
    if (rc)
        return rc;
    double lo, hi;
    rc = cn_stats_welch_ci(&plain, o->confidence, &lo, &hi);
    if (rc)
        return rc;
    out->effect = plain.mean_x - plain.mean_y;
    out->ci_low = lo;
    out->ci_high = hi;
    out->margin_abs = m;
    out->pvalue = test.pvalue;
    out->stable_stat = plain.mean_y;
    return 0;
}

static int noninf_mwu(const double *x, size_t nx, const double *y, size_t ny,
                      const cn_ni_opts_t *o, cn_ni_result_t *out)
{
    /* cn_stats_hl validates sizes and finiteness before anything is
     * allocated from them. */
    cn_hl_result_t hl;
    int rc = cn_stats_hl(x, nx, y, ny, o->confidence, &hl);
    if (rc)
        return rc;
    double *ys = cn_stats_sorted_copy(y, ny);
    double median = cn_stats_quantile_sorted(ys, ny, 0.5);
    free(ys);
    double m = o->kind == CN_MARGIN_RELATIVE ? o->margin * fabs(median) : o->margin;
    double *xs = shifted(x, nx, m, o->direction);
    cn_mwu_opts_t mo;
    cn_stats_mwu_opts_init(&mo);
    mo.alternative = one_sided(o->direction);
    cn_mwu_result_t res;
    rc = cn_stats_mwu(xs, nx, y, ny, &mo, &res);
    free(xs);
    if (rc)
        return rc;
    out->effect = hl.estimate;
    out->ci_low = hl.ci_low;
    out->ci_high = hl.ci_high;
    out->margin_abs = m;
    out->pvalue = res.pvalue;
    out->stable_stat = median;
    return 0;
}

int cn_stats_noninf(const double *x, size_t nx, const double *y, size_t ny,
                    const cn_ni_opts_t *opts, cn_ni_result_t *out)
{
    if (!x || !y || !opts || !out)
        return CN_EINVAL;
    int rc = check_opts(opts);
    if (rc)
        return rc;
    if (opts->test == CN_NI_WELCH)
        return noninf_welch(x, nx, y, ny, opts, out);
    return noninf_mwu(x, nx, y, ny, opts, out);
}
