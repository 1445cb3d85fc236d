/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cn_judge_run(): samples of two versions in, a verdict out.
 *
 * The judge answers two different questions about every metric, and keeps
 * them apart, because confusing them is what makes canary analysis roll
 * back good models and promote bad ones:
 *
 *  1. Is the canary shown to be no worse than stable by more than the
 *     margin? (non-inferiority; H0: effect >= margin on the bad side.)
 *     Rejecting it is what PASS means.
 *  2. Is the canary shown to be worse than stable by more than the
 *     margin? (harm; H0: effect <= margin.) Rejecting it -- equivalently,
 *     the confidence interval of the effect lying wholly beyond the
 *     margin -- is what FAIL means.
 *
 * When neither is shown the metric is INCONCLUSIVE: it can hold a rollout,
 * never fail it. "No rollback on absence of evidence" is the fix for the
 * textbook recipe that counts every unshown non-inferiority as a failure
 * and so rolls back good models whenever traffic is thin.
 *
 * Error control. Each question is a family of one-sided tests across
 * metrics and segments, adjusted with the configured correction (Holm by
 * default), and tested at the alpha this look may spend: the harm family
 * on the false-rollback budget spent Pocock-style (early), the
 * non-inferiority family on the false-promotion budget spent
 * O'Brien-Fleming-style (late); see sequential.c. Over a whole rollout the
 * probability of any false fail is at most alpha, and so is the
 * probability of any false pass.
 *
 * The sample floor. Non-inferiority tests are valid at any n, but a pass
 * on a sample too small to detect the margin says more about luck than
 * about the model. A metric can therefore pass only with at least
 * min_samples per arm: given, or derived from the margin, alpha and the
 * configured power by the stats module's sample-size functions. Failing
 * needs no floor beyond the nodata floor: a gross failure is caught at
 * once.
 *
 * Gates (psi, threshold) have no p-value: they decide by their limit once
 * both arms reach min_samples, and stay out of the p-value families.
 */
#include "judge/data_internal.h"
#include "judge/judge.h"
#include "util/error.h"

#include <gsl/gsl_cdf.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cn_judge_class_name(cn_judge_class_t c)
{
    static const char *const names[] = {"pass", "fail", "inconclusive", "nodata",
                                        "error"};
    return (unsigned)c < 5 ? names[c] : "unknown";
}

const char *cn_judge_verdict_name(cn_verdict_t v)
{
    static const char *const names[] = {"pass", "fail", "marginal"};
    return (unsigned)v < 3 ? names[v] : "unknown";
}

/* Per-row working state while judging. */
typedef struct {
    cn_judge_row_t *row;
    const cn_judge_metric_t *m;
    double *c, *s;         /* canary and stable values, sorted; owned */
    size_t vc, vs;         /* number of values in c and s */
    size_t nc, ns;         /* observations per arm: the values plus counted trials */
    uint64_t kc, ks;       /* successes given as counts (proportion) */
    int counted;           /* some of the data came as counts */
    double *c_neg, *s_neg; /* auc: the negatives' scores (c, s: the
                              positives'); owned */
    size_t vc_neg, vs_neg;
    const double *pc, *ps; /* pairs (borrowed from the data), aligned */
    size_t npairs;         /* 0: the row is not paired */
    uint64_t *bc, *bs;     /* binned: canary's and stable's counts; owned */
    const double *bounds;  /* binned: the metric's edges (borrowed) */
    double lowest;         /* binned: bin 0's lower edge */
    size_t nbins;          /* 0: the row is not binned */
    int in_family;         /* has p_noninf and p_harm */
    int decided;           /* class set before the families are adjusted */
} work_t;

static void reason(cn_judge_row_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static void summarize(const double *sorted, size_t n, cn_judge_arm_summary_t *s)
{
    s->n = n;
    if (n == 0) {
        s->mean = s->median = s->p95 = s->p99 = NAN;
        return;
    }
    /* Summed in long double: 10^6 latencies must not lose their tail. */
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sorted[i];
    s->mean = (double)(sum / n);
    s->median = cn_stats_quantile_sorted(sorted, n, 0.5);
    s->p95 = cn_stats_quantile_sorted(sorted, n, 0.95);
    s->p99 = cn_stats_quantile_sorted(sorted, n, 0.99);
}

/*
 * The type-7 quantile q of a 0/1 sample of n values of which k are 1,
 * without the sample: sorted, it is n - k zeros then k ones.
 */
static double binary_quantile(uint64_t k, uint64_t n, double q)
{
    double h = (double)(n - 1) * q;
    double lo = floor(h);
    double at_lo = (uint64_t)lo >= n - k ? 1 : 0;
    double at_hi = (uint64_t)ceil(h) >= n - k ? 1 : 0;
    return at_lo + (h - lo) * (at_hi - at_lo);
}

/* The summary of a rate arm given as counts (plus any 0/1 values, which
 * the caller has folded into k and n): what summarize() would say of the
 * expanded sample. */
static void summarize_counts(uint64_t k, uint64_t n, cn_judge_arm_summary_t *s)
{
    s->n = (size_t)n;
    if (n == 0) {
        s->mean = s->median = s->p95 = s->p99 = NAN;
        return;
    }
    s->mean = (double)k / (double)n;
    s->median = binary_quantile(k, n, 0.5);
    s->p95 = binary_quantile(k, n, 0.95);
    s->p99 = binary_quantile(k, n, 0.99);
}

static double sample_sd(const double *v, size_t n)
{
    if (n < 2)
        return NAN;
    long double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return sqrt((double)(ss / (n - 1)));
}

/* ------------------------------------------------------ sample floor */

/*
 * Per-arm n needed to pass: the sample size at which a one-sided test at
 * `alpha` has the configured power against an effect of the margin.
 * The spread is estimated from the data, so it is taken at its lower 99%
 * confidence bound (chi-square for an sd; the lower 99% Wald bound of the
 * rate for p(1-p) below 1/2): the floor refuses a pass only when the
 * sample is too small with high confidence, rather than half the time
 * the estimate comes out a little high. SIZE_MAX when the margin is 0:
 * non-inferiority with no margin can never be shown.
 */
static size_t floor_for_sd(double margin_abs, double sd, size_t df, double alpha,
                           double power)
{
    if (!(margin_abs > 0))
        return SIZE_MAX;
    if (!(sd > 0))
        return 0; /* no spread at all: any n detects the margin */
    double lo = sd * sqrt((double)df / gsl_cdf_chisq_Qinv(0.01, (double)df));
    double n;
    if (cn_stats_sample_size_means(margin_abs, lo, alpha, power, 0, &n))
        return SIZE_MAX;
    return (size_t)ceil(n);
}

static size_t floor_for_means(double margin_abs, const double *s, size_t ns,
                              const double *c, size_t nc, double alpha, double power)
{
    double sd = sample_sd(s, ns);
    size_t df = ns - 1;
    if (!(sd > 0)) {
        sd = sample_sd(c, nc);
        df = nc - 1;
    }
    return floor_for_sd(margin_abs, sd, df, alpha, power);
}

static size_t floor_for_rates(double p_stable, size_t ns, double margin_abs,
                              cn_judge_dir_t dir, double alpha, double power)
{
    if (!(margin_abs > 0))
        return SIZE_MAX;
    double se = sqrt(p_stable * (1 - p_stable) / (double)ns);
    double p = p_stable < 0.5 ? p_stable - 2.326 * se : p_stable + 2.326 * se;
    /* Keep the rate inside (0,1) with room for the margin. */
    double lo_clamp = 0.5 / (double)ns;
    if (p < lo_clamp)
        p = lo_clamp;
    if (p > 1 - lo_clamp)
        p = 1 - lo_clamp;
    /* Powered for both decisions: pass at the margin, fail at twice it. */
    double p2 = dir == CN_JDIR_HIGHER ? p - 2 * margin_abs : p + 2 * margin_abs;
    if (p2 <= 0 || p2 >= 1)
        return 0; /* the margin spans the whole scale: trivially detectable */
    double n;
    if (cn_stats_sample_size_noninf_props(
            p, margin_abs,
            dir == CN_JDIR_HIGHER ? CN_DIR_HIGHER_IS_BETTER : CN_DIR_LOWER_IS_BETTER,
            alpha, power, &n))
        return SIZE_MAX;
    return (size_t)ceil(n);
}

/*
 * Pick the row's p-values from the one-sided tests in each direction:
 * "low" tests treat higher as worse, "high" tests lower as worse. For
 * `either`, non-inferiority must hold both ways (two one-sided tests) and
 * harm either way (the smaller harm p, Bonferroni'd over the two sides).
 */
static void set_directional_p(cn_judge_row_t *r, cn_judge_dir_t dir, double ni_low,
                              double harm_low, double ni_high, double harm_high)
{
    if (dir == CN_JDIR_LOWER) {
        r->p_noninf = ni_low;
        r->p_harm = harm_low;
    } else if (dir == CN_JDIR_HIGHER) {
        r->p_noninf = ni_high;
        r->p_harm = harm_high;
    } else {
        r->p_noninf = fmax(ni_low, ni_high);
        r->p_harm = fmin(1, 2 * fmin(harm_low, harm_high));
    }
}

/* ------------------------------------------------------- the tests */

static double *shifted(const double *v, size_t n, double by)
{
    double *out = cn_xmallocarray(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = v[i] + by;
    return out;
}

/*
 * One-sided harm p-value for a location test: H0 "effect <= margin"
 * against "canary worse by more than the margin", for one bad direction
 * (+1: larger is worse, -1: smaller is worse).
 */
static int harm_location(cn_judge_test_t test, const work_t *w, double margin_abs,
                         int bad_sign, double *p)
{
    double *x = shifted(w->c, w->nc, -bad_sign * margin_abs);
    cn_alternative_t alt = bad_sign > 0 ? CN_ALT_GREATER : CN_ALT_LESS;
    int rc;
    if (test == CN_JTEST_WELCH) {
        cn_welch_result_t r;
        rc = cn_stats_welch(x, w->nc, w->s, w->ns, alt, &r);
        *p = r.pvalue;
    } else {
        cn_mwu_opts_t o;
        cn_stats_mwu_opts_init(&o);
        o.alternative = alt;
        cn_mwu_result_t r;
        rc = cn_stats_mwu(x, w->nc, w->s, w->ns, &o, &r);
        *p = r.pvalue;
    }
    free(x);
    return rc;
}

static int eval_location(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    cn_ni_opts_t o = {
        .test = m->test == CN_JTEST_WELCH ? CN_NI_WELCH : CN_NI_MWU,
        .margin = m->margin,
        .kind = m->margin_kind,
        .direction = m->direction == CN_JDIR_HIGHER ? CN_DIR_HIGHER_IS_BETTER
                                                    : CN_DIR_LOWER_IS_BETTER,
        .confidence = conf,
    };
    cn_ni_result_t ni;
    int rc = cn_stats_noninf(w->c, w->nc, w->s, w->ns, &o, &ni);
    if (rc)
        return rc;
    r->effect = ni.effect;
    r->ci_low = ni.ci_low;
    r->ci_high = ni.ci_high;
    r->margin_abs = ni.margin_abs;
    double p_up, p_down;
    if (m->direction == CN_JDIR_EITHER) {
        /* ni was run lower-is-better; add the higher-is-better side. */
        cn_ni_result_t other;
        o.direction = CN_DIR_HIGHER_IS_BETTER;
        if ((rc = cn_stats_noninf(w->c, w->nc, w->s, w->ns, &o, &other)))
            return rc;
        if ((rc = harm_location(m->test, w, ni.margin_abs, +1, &p_up)) ||
            (rc = harm_location(m->test, w, ni.margin_abs, -1, &p_down)))
            return rc;
        set_directional_p(r, CN_JDIR_EITHER, ni.pvalue, p_up, other.pvalue, p_down);
    } else {
        r->p_noninf = ni.pvalue;
        rc = harm_location(m->test, w, ni.margin_abs,
                           m->direction == CN_JDIR_HIGHER ? -1 : +1, &r->p_harm);
        if (rc)
            return rc;
    }
    r->min_samples = m->min_samples ? m->min_samples
                                    : floor_for_means(ni.margin_abs, w->s, w->ns, w->c,
                                                      w->nc, alpha_fam, power);
    w->in_family = 1;
    return 0;
}

static int eval_proportion(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    /* Full counts (cn_judge_data_add_counts) and 0/1 samples add up. */
    uint64_t kc = w->kc, ks = w->ks;
    for (size_t i = 0; i < w->vc; i++)
        kc += w->c[i] == 1;
    for (size_t i = 0; i < w->vs; i++)
        ks += w->s[i] == 1;
    for (size_t i = 0; i < w->vc; i++)
        if (w->c[i] != 0 && w->c[i] != 1) {
            reason(r, "rate samples must be 0 or 1 (canary has %g)", w->c[i]);
            return CN_EINVAL;
        }
    for (size_t i = 0; i < w->vs; i++)
        if (w->s[i] != 0 && w->s[i] != 1) {
            reason(r, "rate samples must be 0 or 1 (stable has %g)", w->s[i]);
            return CN_EINVAL;
        }
    cn_prop_result_t pr;
    cn_direction_t dir = m->direction == CN_JDIR_HIGHER ? CN_DIR_HIGHER_IS_BETTER
                                                        : CN_DIR_LOWER_IS_BETTER;
    int rc =
        cn_stats_prop(kc, w->nc, ks, w->ns, m->margin, m->margin_kind, dir, conf, &pr);
    if (rc)
        return rc;
    if (w->counted) {
        summarize_counts(kc, w->nc, &r->canary);
        summarize_counts(ks, w->ns, &r->stable);
    }
    /*
     * The decisions use the Agresti-Caffo adjustment (Agresti & Caffo 2000,
     * Am. Stat. 54(4)): one success and one failure added to each arm
     * before the unpooled Wald z. The plain Wald z is anti-conservative
     * with few events: a canary with 0 of 30 clicks against stable's 20%
     * gets a standard error from stable alone and a harm p-value near
     * 1e-6, which at the true rate happens 1% of the time. The adjusted
     * z keeps both one-sided tests near their nominal size at small n and
     * converges to the Wald z as n grows. The reported effect is the raw
     * difference; the interval is the adjusted one the decisions use.
     */
    double nc2 = (double)w->nc + 2, ns2 = (double)w->ns + 2;
    double pc = ((double)kc + 1) / nc2, ps = ((double)ks + 1) / ns2;
    double d = pc - ps, ma = pr.margin_abs;
    double se = sqrt(pc * (1 - pc) / nc2 + ps * (1 - ps) / ns2);
    double half = gsl_cdf_ugaussian_Qinv((1 - conf) / 2) * se;
    r->effect = pr.diff;
    r->ci_low = d - half;
    r->ci_high = d + half;
    r->margin_abs = ma;
    /* lower-is-better: worse means d > m; higher-is-better: d < -m. */
    double ni_low = gsl_cdf_ugaussian_P((d - ma) / se);
    double harm_low = gsl_cdf_ugaussian_Q((d - ma) / se);
    double ni_high = gsl_cdf_ugaussian_Q((d + ma) / se);
    double harm_high = gsl_cdf_ugaussian_P((d + ma) / se);
    set_directional_p(r, m->direction, ni_low, harm_low, ni_high, harm_high);
    r->min_samples = m->min_samples ? m->min_samples
                                    : floor_for_rates(pr.p_y, w->ns, pr.margin_abs,
                                                      m->direction, alpha_fam, power);
    w->in_family = 1;
    return 0;
}

/*
 * The AUC of each arm (scores of its positives against its negatives)
 * with DeLong's variance; the difference canary - stable with a normal
 * interval, its variance the sum of the arms' (independent samples of
 * traffic). Non-inferiority and harm are the one-sided z tests of the
 * difference against the margin, as for a rate. The floor to pass is the
 * per-arm size at which the observed per-observation variance gives the
 * power to show non-inferiority at the margin.
 */
static int eval_auc(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    cn_auc_result_t ac, as;
    int rc = cn_stats_auc(w->c, w->vc, w->c_neg, w->vc_neg, &ac);
    if (!rc)
        rc = cn_stats_auc(w->s, w->vs, w->s_neg, w->vs_neg, &as);
    if (rc == CN_ETOOFEW) {
        r->cls = CN_CLASS_NODATA;
        reason(r,
               "the AUC needs both classes in each arm: canary has %zu positive and "
               "%zu negative labels, stable %zu and %zu",
               w->vc, w->vc_neg, w->vs, w->vs_neg);
        w->decided = 1;
        return 0;
    }
    if (rc)
        return rc;
    r->canary.mean = r->canary.median = ac.auc;
    r->stable.mean = r->stable.median = as.auc;
    double ma = m->margin_kind == CN_MARGIN_RELATIVE ? m->margin * as.auc : m->margin;
    double d = ac.auc - as.auc;
    double se = sqrt(ac.variance + as.variance);
    if (!(se > 0)) {
        /* both arms separate their classes perfectly (or not at all) */
        r->cls = CN_CLASS_INCONCLUSIVE;
        r->effect = d;
        r->margin_abs = ma;
        reason(r,
               "AUC %.4g vs %.4g with no variance to test (perfectly separated "
               "or constant scores)",
               ac.auc, as.auc);
        w->decided = 1;
        return 0;
    }
    double half = gsl_cdf_ugaussian_Qinv((1 - conf) / 2) * se;
    r->effect = d;
    r->ci_low = d - half;
    r->ci_high = d + half;
    r->margin_abs = ma;
    double ni_low = gsl_cdf_ugaussian_P((d - ma) / se);
    double harm_low = gsl_cdf_ugaussian_Q((d - ma) / se);
    double ni_high = gsl_cdf_ugaussian_Q((d + ma) / se);
    double harm_high = gsl_cdf_ugaussian_P((d + ma) / se);
    set_directional_p(r, m->direction, ni_low, harm_low, ni_high, harm_high);
    if (m->min_samples) {
        r->min_samples = m->min_samples;
    } else if (ma > 0) {
        /* n Var(AUC) is about constant in n: the per-arm n at which the
         * difference's standard error meets the margin at this power */
        double v1 = ac.variance * (double)(w->vc + w->vc_neg) +
                    as.variance * (double)(w->vs + w->vs_neg);
        double z =
            gsl_cdf_ugaussian_Qinv(alpha_fam) + gsl_cdf_ugaussian_Qinv(1 - power);
        r->min_samples = (size_t)ceil(v1 * z * z / (ma * ma));
    } else {
        r->min_samples = SIZE_MAX;
    }
    w->nc = w->vc + w->vc_neg;
    w->ns = w->vs + w->vs_neg;
    w->in_family = 1;
    return 0;
}

/*
 * One-sided p-values of the paired differences x_i = d_i - bad_sign *
 * margin, d_i = canary_i - stable_i: non-inferiority (H0: the shift is at
 * or beyond the margin on the bad side) and harm (H0: it is not beyond
 * it), by the signed-rank test (mann-whitney) or the paired t test
 * (welch). bad_sign +1: larger is worse; -1: smaller is worse.
 */
static int paired_p(int t_test, const double *d, size_t n, double margin_abs,
                    int bad_sign, double *p_ni, double *p_harm)
{
    double *x = shifted(d, n, -bad_sign * margin_abs);
    /* "worse" is x > 0 when larger is worse, x < 0 when smaller is */
    cn_alternative_t worse = bad_sign > 0 ? CN_ALT_GREATER : CN_ALT_LESS;
    cn_alternative_t better = bad_sign > 0 ? CN_ALT_LESS : CN_ALT_GREATER;
    int rc = 0;
    if (t_test) {
        double mean = 0;
        for (size_t i = 0; i < n; i++)
            mean += x[i];
        mean /= (double)n;
        double sd = sample_sd(x, n);
        if (sd > 0) {
            double t = mean / (sd / sqrt((double)n)), df = (double)n - 1;
            double p_gt = gsl_cdf_tdist_Q(t, df), p_lt = gsl_cdf_tdist_P(t, df);
            *p_harm = worse == CN_ALT_GREATER ? p_gt : p_lt;
            *p_ni = better == CN_ALT_GREATER ? p_gt : p_lt;
        } else {
            /* every difference the same: the sign of the mean decides */
            double bad = bad_sign * mean;
            *p_harm = bad > 0 ? 0 : 1;
            *p_ni = bad < 0 ? 0 : 1;
        }
    } else {
        cn_signrank_opts_t o;
        cn_stats_signrank_opts_init(&o);
        cn_signrank_result_t r;
        o.alternative = worse;
        rc = cn_stats_signrank(x, n, NULL, 0, &o, &r);
        *p_harm = r.pvalue;
        if (!rc) {
            o.alternative = better;
            rc = cn_stats_signrank(x, n, NULL, 0, &o, &r);
            *p_ni = r.pvalue;
        }
    }
    free(x);
    return rc;
}

/*
 * A location metric judged on pairs (a shadow step): the differences d_i
 * = canary_i - stable_i of the same requests, so the requests' own
 * variation cancels. mann-whitney: the Hodges-Lehmann shift of the
 * differences with the interval that inverts the signed-rank test, and
 * the signed-rank tests of d_i against the margin; welch: the mean
 * difference, its t interval and the paired t tests. A relative margin is
 * taken of stable's median (mann-whitney) or mean (welch), as unpaired.
 * The floor is the one-sample size for the differences' spread (at its
 * lower 99% bound, as floor_for_means), over the signed-rank test's
 * efficiency 3/pi against the t test.
 */
static int eval_paired_location(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    size_t n = w->npairs;
    int t_test = m->test == CN_JTEST_WELCH;
    if (n < 2)
        return CN_ETOOFEW;
    double base = t_test ? r->stable.mean : r->stable.median;
    double ma =
        m->margin_kind == CN_MARGIN_RELATIVE ? m->margin * fabs(base) : m->margin;
    double *d = cn_xmallocarray(n, sizeof *d);
    double mean = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        d[i] = w->pc[i] - w->ps[i];
        if (!isfinite(d[i]))
            rc = CN_ETOOBIG;
        mean += d[i];
    }
    mean /= (double)n;
    double sd = rc ? 0 : sample_sd(d, n);
    if (!rc && t_test) {
        double half = sd > 0 ? gsl_cdf_tdist_Qinv((1 - conf) / 2, (double)n - 1) * sd /
                                   sqrt((double)n)
                             : 0;
        r->effect = mean;
        r->ci_low = mean - half;
        r->ci_high = mean + half;
    } else if (!rc) {
        cn_hl_result_t hl;
        rc = cn_stats_hl_paired(w->pc, n, w->ps, n, conf, &hl);
        r->effect = hl.estimate;
        r->ci_low = hl.ci_low;
        r->ci_high = hl.ci_high;
    }
    double ni_low = 1, harm_low = 1, ni_high = 1, harm_high = 1;
    if (!rc)
        rc = paired_p(t_test, d, n, ma, +1, &ni_low, &harm_low);
    if (!rc)
        rc = paired_p(t_test, d, n, ma, -1, &ni_high, &harm_high);
    free(d);
    if (rc)
        return rc;
    r->margin_abs = ma;
    set_directional_p(r, m->direction, ni_low, harm_low, ni_high, harm_high);
    if (m->min_samples)
        r->min_samples = m->min_samples;
    else if (!(ma > 0))
        r->min_samples = SIZE_MAX;
    else if (!(sd > 0))
        r->min_samples = 0;
    else {
        double df = (double)n - 1;
        double lo = sd * sqrt(df / gsl_cdf_chisq_Qinv(0.01, df));
        double z = gsl_cdf_ugaussian_Qinv(alpha_fam) + gsl_cdf_ugaussian_Pinv(power);
        double need = z * z * lo * lo / (ma * ma);
        if (!t_test)
            need /= 3 / M_PI;
        r->min_samples = need >= (double)SIZE_MAX ? SIZE_MAX : (size_t)ceil(need);
    }
    w->in_family = 1;
    return 0;
}

/*
 * The agreement of the two versions' predicted classes over the same
 * requests (pairs only): k of n pairs agree, the class being the value
 * itself or, with class_threshold, whether it reaches it. Against the
 * tolerated rate a = min_agreement, by the exact binomial tails: harm
 * tests H0: rate >= a (p = P(X <= k), X ~ Bin(n, a)), non-inferiority H0:
 * rate <= a (p = P(X >= k)). The interval is Wilson's. The floor is the
 * n at which a true rate halfway between a and 1 passes with the
 * configured power (normal approximation), and at least the n at which
 * perfect agreement can pass at all (a^n <= alpha).
 */
static int eval_agreement(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    size_t n = w->npairs;
    if (n > UINT_MAX)
        return CN_ETOOBIG;
    double *xc = cn_xmallocarray(n ? n : 1, sizeof *xc);
    double *xs = cn_xmallocarray(n ? n : 1, sizeof *xs);
    for (size_t i = 0; i < n; i++) {
        xc[i] = m->has_class_threshold ? (double)(w->pc[i] >= m->class_threshold)
                                       : w->pc[i];
        xs[i] = m->has_class_threshold ? (double)(w->ps[i] >= m->class_threshold)
                                       : w->ps[i];
    }
    cn_agreement_result_t ag;
    int rc = cn_stats_agreement(xc, n, xs, n, conf, &ag);
    free(xc);
    free(xs);
    if (rc)
        return rc;
    double a = m->min_agreement;
    unsigned k = (unsigned)ag.agree, nn = (unsigned)n;
    r->effect = ag.rate;
    r->ci_low = ag.ci_low;
    r->ci_high = ag.ci_high;
    r->margin_abs = a;
    r->p_harm = gsl_cdf_binomial_P(k, a, nn);
    r->p_noninf = k == 0 ? 1 : gsl_cdf_binomial_Q(k - 1, a, nn);
    if (m->min_samples) {
        r->min_samples = m->min_samples;
    } else {
        double p1 = (1 + a) / 2;
        double z = gsl_cdf_ugaussian_Qinv(alpha_fam) * sqrt(a * (1 - a)) +
                   gsl_cdf_ugaussian_Pinv(power) * sqrt(p1 * (1 - p1));
        double need = fmax(z * z / ((p1 - a) * (p1 - a)), log(alpha_fam) / log(a));
        r->min_samples = (size_t)ceil(need);
    }
    w->in_family = 1;
    return 0;
}

/*
 * KS drift against the tolerated distance L = max_statistic, both ways by
 * the DKW bound (cn_stats_ks_limit, stats/dkw.c): harm tests H0: D_true
 * <= L, p = 4 exp(-2 (D - L)^2 h); non-inferiority tests H0: D_true >= L,
 * p = 4 exp(-2 (L - D)^2 h); h = n_c n_s / (sqrt n_c + sqrt n_s)^2. So a
 * canary fails only when its true distance is shown to exceed the limit:
 * the equality test this replaced (significant AND D > L) failed a canary
 * with D_true = 0.08 against L = 0.1 almost half the time (docs/JUDGE.md
 * measures both). The interval D -/+ e, e = sqrt(ln(8 / (1 - conf)) /
 * (2h)), is the inversion of the same bound with (1 - conf) / 2 in each
 * tail, so it lies wholly above L exactly when p_harm < (1 - conf) / 2.
 */
static int eval_ks(work_t *w, double conf, double alpha_fam)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    cn_ks_limit_result_t kl;
    int rc;
    if (w->nbins) {
        /* Binned: the binned CDFs differ at most where the true ones do,
         * so the binned D bounds the true one from below: harm shown on
         * it holds, "within the limit" cannot be shown at all. */
        cn_ks_result_t ks;
        rc = cn_stats_ks2_binned(w->bc, w->bs, w->nbins, CN_ALT_TWO_SIDED,
                                 CN_KS_ASYMPTOTIC, &ks);
        kl.d = ks.d;
        kl.h = cn_stats_dkw_h(w->nc, w->ns);
        kl.p_above = cn_stats_dkw_p(kl.d - m->max_statistic, kl.h);
        kl.p_below = 1;
    } else {
        rc = cn_stats_ks_limit(w->c, w->nc, w->s, w->ns, m->max_statistic, &kl);
    }
    if (rc)
        return rc;
    r->effect = kl.d;
    r->margin_abs = m->max_statistic;
    r->p_harm = kl.p_above;
    r->p_noninf = kl.p_below;
    double e = sqrt(log(8 / (1 - conf)) / (2 * kl.h));
    r->ci_low = fmax(0, kl.d - e);
    r->ci_high = w->nbins ? 1 : fmin(1, kl.d + e);
    /* At D = 0 the pass p-value is 4 exp(-2 max^2 h) <= alpha; with equal
     * arms h = n/4. */
    r->min_samples = m->min_samples
                         ? m->min_samples
                         : (size_t)ceil(2 * log(4 / alpha_fam) /
                                        (m->max_statistic * m->max_statistic));
    w->in_family = 1;
    return 0;
}

static int eval_bootstrap(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    double *dist = cn_xmallocarray(m->resamples, sizeof *dist);
    cn_boot_result_t b;
    int rc = cn_stats_bootstrap_diff_dist(w->c, w->nc, w->s, w->ns, m->statistic,
                                          m->resamples, conf, m->seed, &b, dist);
    if (rc) {
        free(dist);
        return rc;
    }
    double stable_stat;
    switch (m->statistic) {
    case CN_BOOT_MEAN:
        stable_stat = w->row->stable.mean;
        break;
    case CN_BOOT_MEDIAN:
        stable_stat = w->row->stable.median;
        break;
    case CN_BOOT_P95:
        stable_stat = w->row->stable.p95;
        break;
    default:
        stable_stat = w->row->stable.p99;
        break;
    }
    double ma = m->margin_kind == CN_MARGIN_RELATIVE ? m->margin * fabs(stable_stat)
                                                     : m->margin;
    /* Bootstrap p-values read off the same resamples as the interval:
     * (1 + #{resampled differences on the H0 side}) / (B + 1). */
    size_t B = b.resamples;
    double inv = 1.0 / (double)(B + 1);
    size_t at_or_above_m = B - cn_stats_count_below(dist, B, ma);
    size_t at_or_below_m = cn_stats_count_at_most(dist, B, ma);
    size_t at_or_below_neg = cn_stats_count_at_most(dist, B, -ma);
    size_t at_or_above_neg = B - cn_stats_count_below(dist, B, -ma);
    double ni_low = (1 + at_or_above_m) * inv, harm_low = (1 + at_or_below_m) * inv;
    double ni_high = (1 + at_or_below_neg) * inv,
           harm_high = (1 + at_or_above_neg) * inv;
    free(dist);
    r->effect = b.estimate;
    r->ci_low = b.ci_low;
    r->ci_high = b.ci_high;
    r->margin_abs = ma;
    set_directional_p(r, m->direction, ni_low, harm_low, ni_high, harm_high);
    r->min_samples = m->min_samples ? m->min_samples
                                    : floor_for_means(ma, w->s, w->ns, w->c, w->nc,
                                                      alpha_fam, power);
    w->in_family = 1;
    return 0;
}

/* PSI gate: expected A/A PSI is about (bins - 1)(1/n_c + 1/n_s); require
 * n so that it is at most a quarter of the limit. */
static int eval_psi(work_t *w)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    cn_psi_result_t p;
    int rc = cn_stats_psi(w->c, w->nc, w->s, w->ns, m->bins, &p);
    if (rc)
        return rc;
    r->effect = p.psi;
    r->margin_abs = m->max_psi;
    r->min_samples = m->min_samples
                         ? m->min_samples
                         : (size_t)ceil(8.0 * (double)(m->bins - 1) / m->max_psi);
    int enough = w->nc >= r->min_samples && w->ns >= r->min_samples;
    if (!enough) {
        r->cls = CN_CLASS_INCONCLUSIVE;
        reason(r,
               "PSI %.4g with n_canary=%zu, n_stable=%zu: below the %zu per arm "
               "the gate needs",
               p.psi, w->nc, w->ns, r->min_samples);
    } else if (p.psi > m->max_psi) {
        r->cls = CN_CLASS_FAIL;
        reason(r, "PSI %.4g > limit %.4g: canary's distribution has shifted", p.psi,
               m->max_psi);
    } else {
        r->cls = CN_CLASS_PASS;
        reason(r, "PSI %.4g <= limit %.4g", p.psi, m->max_psi);
    }
    w->decided = 1;
    return 0;
}

/* Threshold gate on a quantile, like Flagger/Argo, but only with at least
 * min_samples per arm (default: 5 observations beyond the quantile). */
static int eval_threshold(work_t *w)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    double qc = cn_stats_quantile_sorted(w->c, w->nc, m->quantile);
    double qs = cn_stats_quantile_sorted(w->s, w->ns, m->quantile);
    r->effect = qc;
    r->margin_abs = m->has_max ? m->max : NAN;
    r->min_samples =
        m->min_samples ? m->min_samples : (size_t)ceil(5.0 / (1.0 - m->quantile));
    int enough_c = w->nc >= r->min_samples;
    int enough_s = !m->has_max_ratio || w->ns >= r->min_samples;
    char q[16];
    snprintf(q, sizeof q, "p%g", m->quantile * 100);
    if (!enough_c || !enough_s) {
        r->cls = CN_CLASS_INCONCLUSIVE;
        reason(r, "canary %s %.4g with n_canary=%zu: below the %zu the gate needs", q,
               qc, w->nc, r->min_samples);
    } else if (m->has_max && qc > m->max) {
        r->cls = CN_CLASS_FAIL;
        reason(r, "canary %s %.4g > limit %.4g", q, qc, m->max);
    } else if (m->has_max_ratio && qc > m->max_ratio * qs) {
        r->cls = CN_CLASS_FAIL;
        reason(r, "canary %s %.4g > %.4gx stable's %.4g", q, qc, m->max_ratio, qs);
    } else {
        r->cls = CN_CLASS_PASS;
        reason(r, "canary %s %.4g within limits (stable %.4g)", q, qc, qs);
    }
    w->decided = 1;
    return 0;
}

/* ------------------------------------------------------ binned data */

/*
 * A metric given as binned counts (cn_judge_data_add_bins: a classic
 * histogram, e.g. Prometheus's `_bucket` series) is judged on the bins
 * without pretending to know where inside its bin each value was. Every
 * number a binned row reports is an interval with bin edges for ends,
 * and every decision holds for every placement of the values in their
 * bins:
 *
 *  - mann-whitney: the harm and non-inferiority p-values are
 *    cn_stats_mwu_binned_bound's, the Mann-Whitney test of canary - m
 *    against stable with the values placed where the alternative is
 *    hardest to show; the effect is the Hodges-Lehmann shift, known to
 *    lie in [est_low, est_high] (its midpoint is reported), with the
 *    interval widened over the placements (cn_stats_hl_binned). A shift
 *    smaller than the bins are wide cannot be shown either way: the row
 *    stays inconclusive, which holds the rollout; it never fails it.
 *  - threshold: the quantile's distribution-free interval mapped to the
 *    bins its order statistics fall in; the gate fails when the whole
 *    interval is beyond the limit, passes when the whole interval is
 *    within it, and is inconclusive when the limit falls inside.
 *  - ks: binning can only hide a distance (the binned CDFs differ at
 *    most where the true ones do), so a distance beyond the limit shown
 *    on the bins is shown for the values (harm), while "within the limit"
 *    cannot be shown from bins at all (p_noninf = 1).
 *  - other tests need values: an error row says so.
 */

/* Edges of bin i of a binned row. */
static double row_bin_lo(const work_t *w, size_t i)
{
    return i == 0 ? w->lowest : w->bounds[i - 1];
}

static double row_bin_hi(const work_t *w, size_t i)
{
    return i + 1 == w->nbins ? INFINITY : w->bounds[i];
}

/* A bin's representative value for spreads and relative margins: its
 * midpoint, or the lower edge of the open last bin (or the upper edge of
 * an unbounded first one). */
static double bin_mid(const work_t *w, size_t i)
{
    double lo = row_bin_lo(w, i), hi = row_bin_hi(w, i);
    if (isinf(hi))
        return lo;
    if (isinf(lo))
        return hi;
    return (lo + hi) / 2;
}

/* The bin holding the q-quantile's order statistic (type 1), n > 0. */
static size_t bin_of_quantile(const uint64_t *counts, size_t k, uint64_t n, double q)
{
    uint64_t r = (uint64_t)ceil(q * (double)n);
    if (r < 1)
        r = 1;
    uint64_t cum = 0;
    for (size_t i = 0; i < k; i++) {
        cum += counts[i];
        if (cum >= r)
            return i;
    }
    return k - 1;
}

/* The summary of a binned arm: the mean of the bins' representative
 * values, and each quantile as the upper edge of the bin that holds it
 * (NAN for the open last bin): what can be said without the values. */
static void summarize_bins(const work_t *w, const uint64_t *counts,
                           cn_judge_arm_summary_t *s)
{
    uint64_t n = 0;
    long double sum = 0;
    for (size_t i = 0; i < w->nbins; i++) {
        n += counts[i];
        sum += (long double)counts[i] * bin_mid(w, i);
    }
    s->n = (size_t)n;
    if (n == 0) {
        s->mean = s->median = s->p95 = s->p99 = NAN;
        return;
    }
    s->mean = (double)(sum / n);
    double *qs[3] = {&s->median, &s->p95, &s->p99};
    const double q[3] = {0.5, 0.95, 0.99};
    for (int j = 0; j < 3; j++) {
        double hi = row_bin_hi(w, bin_of_quantile(counts, w->nbins, n, q[j]));
        *qs[j] = isinf(hi) ? NAN : hi;
    }
}

/* The sample sd of the bins' representative values (Sheppard's view of a
 * histogram), for the sample floor. */
static double bins_sd(const work_t *w, const uint64_t *counts, uint64_t *n_out)
{
    uint64_t n = 0;
    long double sum = 0, ss = 0;
    for (size_t i = 0; i < w->nbins; i++) {
        n += counts[i];
        sum += (long double)counts[i] * bin_mid(w, i);
    }
    *n_out = n;
    if (n < 2)
        return NAN;
    long double mean = sum / n;
    for (size_t i = 0; i < w->nbins; i++) {
        long double d = bin_mid(w, i) - mean;
        ss += (long double)counts[i] * d * d;
    }
    return sqrt((double)(ss / (n - 1)));
}

/* One-sided bound p-values of canary + shift against stable. */
static int binned_p(const work_t *w, double shift, cn_alternative_t alt, double *p)
{
    cn_mwu_result_t r;
    int rc = cn_stats_mwu_binned_bound(w->bounds, w->bc, w->bs, w->nbins, w->lowest,
                                       shift, alt, &r);
    *p = r.pvalue;
    return rc;
}

static int eval_binned_location(work_t *w, double conf, double alpha_fam, double power)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    uint64_t n_s;
    double ma = m->margin;
    if (m->margin_kind == CN_MARGIN_RELATIVE)
        ma = m->margin *
             fabs(bin_mid(w, bin_of_quantile(w->bs, w->nbins, (uint64_t)w->ns, 0.5)));
    cn_hl_binned_t hl;
    int rc =
        cn_stats_hl_binned(w->bounds, w->bc, w->bs, w->nbins, w->lowest, conf, &hl);
    if (rc)
        return rc;
    r->effect = isfinite(hl.est_low) && isfinite(hl.est_high)
                    ? (hl.est_low + hl.est_high) / 2
                    : NAN;
    r->ci_low = hl.ci_low;
    r->ci_high = hl.ci_high;
    r->margin_abs = ma;
    /* larger is worse: non-inferior when canary - m is below stable,
     * harmful when above; mirrored for higher-is-better */
    double ni_low = 1, harm_low = 1, ni_high = 1, harm_high = 1;
    if (m->direction != CN_JDIR_HIGHER &&
        ((rc = binned_p(w, -ma, CN_ALT_LESS, &ni_low)) ||
         (rc = binned_p(w, -ma, CN_ALT_GREATER, &harm_low))))
        return rc;
    if (m->direction != CN_JDIR_LOWER &&
        ((rc = binned_p(w, ma, CN_ALT_GREATER, &ni_high)) ||
         (rc = binned_p(w, ma, CN_ALT_LESS, &harm_high))))
        return rc;
    set_directional_p(r, m->direction, ni_low, harm_low, ni_high, harm_high);
    double sd = bins_sd(w, w->bs, &n_s);
    if (!(sd > 0)) {
        uint64_t n_c;
        sd = bins_sd(w, w->bc, &n_c);
        n_s = n_c;
    }
    r->min_samples =
        m->min_samples ? m->min_samples
                       : floor_for_sd(ma, sd, n_s > 1 ? n_s - 1 : 1, alpha_fam, power);
    w->in_family = 1;
    return 0;
}

/* The threshold gate on the quantile's interval, bounded by the bucket
 * edges: decided only when the whole interval is on one side. */
static int eval_binned_threshold(work_t *w, double conf)
{
    const cn_judge_metric_t *m = w->m;
    cn_judge_row_t *r = w->row;
    cn_quantile_ci_t qc, qs = {0};
    int rc = cn_stats_quantile_ci_binned(w->bounds, w->bc, w->nbins, w->lowest,
                                         m->quantile, conf, &qc);
    if (!rc && m->has_max_ratio)
        rc = cn_stats_quantile_ci_binned(w->bounds, w->bs, w->nbins, w->lowest,
                                         m->quantile, conf, &qs);
    if (rc)
        return rc;
    r->effect = isfinite(qc.high) ? (qc.low + qc.high) / 2 : qc.low;
    r->ci_low = qc.low;
    r->ci_high = qc.high;
    r->margin_abs = m->has_max ? m->max : NAN;
    r->min_samples =
        m->min_samples ? m->min_samples : (size_t)ceil(5.0 / (1.0 - m->quantile));
    int enough_c = w->nc >= r->min_samples;
    int enough_s = !m->has_max_ratio || w->ns >= r->min_samples;
    char q[16];
    snprintf(q, sizeof q, "p%g", m->quantile * 100);
    /* a bin is open below: every value in it exceeds its lower edge */
    int above = (m->has_max && qc.low >= m->max) ||
                (m->has_max_ratio && qc.low >= m->max_ratio * qs.high);
    int within = (!m->has_max || qc.high <= m->max) &&
                 (!m->has_max_ratio || qc.high <= m->max_ratio * qs.low);
    char lim[64] = "";
    if (m->has_max)
        snprintf(lim, sizeof lim, "limit %.4g", m->max);
    else
        snprintf(lim, sizeof lim, "%.4gx stable's [%.4g, %.4g]", m->max_ratio, qs.low,
                 qs.high);
    if (!enough_c || !enough_s) {
        r->cls = CN_CLASS_INCONCLUSIVE;
        reason(r,
               "binned: canary %s in [%.4g, %.4g] (bounded by the bucket edges) with "
               "n_canary=%zu: below the %zu the gate needs",
               q, qc.low, qc.high, w->nc, r->min_samples);
    } else if (above) {
        r->cls = CN_CLASS_FAIL;
        reason(r,
               "binned: canary %s in [%.4g, %.4g] (%.0f%% interval bounded by the "
               "bucket edges) is wholly above %s",
               q, qc.low, qc.high, qc.coverage * 100, lim);
    } else if (within) {
        r->cls = CN_CLASS_PASS;
        reason(r,
               "binned: canary %s in [%.4g, %.4g] (%.0f%% interval bounded by the "
               "bucket edges) is within %s",
               q, qc.low, qc.high, qc.coverage * 100, lim);
    } else {
        r->cls = CN_CLASS_INCONCLUSIVE;
        reason(r,
               "binned: canary %s in [%.4g, %.4g] (interval bounded by the bucket "
               "edges) straddles %s: the buckets are too coarse to decide",
               q, qc.low, qc.high, lim);
    }
    w->decided = 1;
    return 0;
}

/* ---------------------------------------------------------- reasons */

static const char *dir_word(const cn_judge_metric_t *m)
{
    return m->direction == CN_JDIR_HIGHER ? "worse (lower)" : "worse (higher)";
}

static void family_reason(work_t *w, double alpha_pass, double alpha_fail)
{
    cn_judge_row_t *r = w->row;
    const cn_judge_metric_t *m = w->m;
    char effect[160], paired[48] = "";
    if (w->npairs)
        snprintf(paired, sizeof paired, "paired, %zu requests: ", w->npairs);
    if (w->nbins && m->test == CN_JTEST_KS)
        snprintf(effect, sizeof effect,
                 "binned at %zu buckets: D=%.4g (at least %.4g) vs limit %.4g "
                 "(within the limit cannot be shown from buckets)",
                 w->nbins, r->effect, r->ci_low, r->margin_abs);
    else if (w->nbins)
        snprintf(effect, sizeof effect,
                 "binned at %zu buckets: canary-stable %+.4g [%+.4g, %+.4g], interval "
                 "bounded by the bucket edges, vs margin %.4g",
                 w->nbins, r->effect, r->ci_low, r->ci_high, r->margin_abs);
    else if (m->test == CN_JTEST_KS)
        snprintf(effect, sizeof effect, "%sD=%.4g [%.4g, %.4g] vs limit %.4g", paired,
                 r->effect, r->ci_low, r->ci_high, r->margin_abs);
    else if (m->test == CN_JTEST_AGREEMENT)
        snprintf(effect, sizeof effect, "%sclasses agree %.4g [%.4g, %.4g] vs min %.4g",
                 paired, r->effect, r->ci_low, r->ci_high, r->margin_abs);
    else
        snprintf(effect, sizeof effect,
                 "%scanary-stable %+.4g [%+.4g, %+.4g] vs margin %.4g", paired,
                 r->effect, r->ci_low, r->ci_high, r->margin_abs);
    switch (r->cls) {
    case CN_CLASS_FAIL:
        if (m->test == CN_JTEST_KS)
            reason(r, "%s: drift beyond the limit, p_adj=%.3g <= %.3g", effect,
                   r->p_harm_adj, alpha_fail);
        else if (m->test == CN_JTEST_AGREEMENT)
            reason(r,
                   "%s: the classes agree less often than min allows, p_adj=%.3g "
                   "<= %.3g",
                   effect, r->p_harm_adj, alpha_fail);
        else
            reason(r, "%s: %s than the margin allows, p_adj=%.3g <= %.3g", effect,
                   dir_word(m), r->p_harm_adj, alpha_fail);
        break;
    case CN_CLASS_PASS:
        reason(r, "%s: non-inferior, p_adj=%.3g <= %.3g", effect, r->p_noninf_adj,
               alpha_pass);
        break;
    default:
        if (!(alpha_pass > 0))
            reason(r,
                   "%s: no harm shown (p_adj harm %.3g); passing is not decided at "
                   "this analysis",
                   effect, r->p_harm_adj);
        else if (r->p_noninf_adj <= alpha_pass)
            reason(r,
                   "%s: non-inferior (p_adj=%.3g) but n=%zu/%zu is below the "
                   "%zu per arm needed to pass",
                   effect, r->p_noninf_adj, w->nc, w->ns, r->min_samples);
        else
            reason(r,
                   "%s: not shown either way yet (p_adj non-inferior %.3g, harm "
                   "%.3g)",
                   effect, r->p_noninf_adj, r->p_harm_adj);
        break;
    }
}

/* -------------------------------------------------------------- run */

/*
 * One arm's values for a metric's aggregate row: all of them, or, once the
 * data has the arm's request counts per segment, the proportionally
 * stratified sample of its own traffic (stratify.c): a reservoir per
 * segment pooled as is would weight each segment by its reservoir, and
 * stable's fill while the canary's do not. A segment without values is
 * left out (it has nothing to contribute). Returns a fresh array, or NULL
 * with a reason in why[0..why_len) when the counts do not fit the values.
 */
static double *aggregate_values(const cn_judge_data_t *data, const cn__judge_arm_t *a,
                                cn_judge_arm_t arm, size_t *n_out, char *why,
                                size_t why_len)
{
    if (!cn__judge_data_has_requests(data, arm))
        return cn__judge_arm_values(a, UINT32_MAX, n_out);
    const char *arm_name = arm == CN_ARM_CANARY ? "canary" : "stable";
    size_t nseg = cn__judge_data_n_segments(data);
    cn_judge_stratum_t *st = cn_xcalloc(nseg + 1, sizeof *st);
    size_t used = 0;
    double *out = NULL;
    int ok = 1;
    for (uint32_t id = 0; id <= nseg && ok; id++) {
        size_t k;
        double *v = cn__judge_arm_values(a, id, &k);
        uint64_t req;
        const char *label = id ? cn__judge_data_segment(data, id) : "(none)";
        if (k == 0) {
            free(v);
        } else if (!cn__judge_data_requests(data, arm, id, &req)) {
            snprintf(why, why_len,
                     "%s has samples in segment '%s' but no request count", arm_name,
                     label);
            free(v);
            ok = 0;
        } else if (req < k) {
            snprintf(why, why_len,
                     "%s has %zu samples in segment '%s' but only %llu requests",
                     arm_name, k, label, (unsigned long long)req);
            free(v);
            ok = 0;
        } else {
            st[used++] = (cn_judge_stratum_t){v, k, req};
        }
    }
    size_t n = 0;
    if (ok && cn_judge_stratify_size(st, used, &n) == 0) {
        out = cn_xmallocarray(n ? n : 1, sizeof *out);
        /* A fixed seed per arm: the same data gives the same verdict. */
        if (cn_judge_stratify(st, used, UINT64_C(0x5EED) + (uint64_t)arm, out, n,
                              n_out)) {
            free(out);
            out = NULL;
        }
    }
    if (ok && !out)
        snprintf(why, why_len, "%s's segments could not be pooled", arm_name);
    for (size_t i = 0; i < used; i++)
        free((void *)st[i].values);
    free(st);
    return out;
}

/* Build the work list: each metric's aggregate row, then one row per
 * segment label present in its data when segment_by is set. */
static size_t plan_rows(const cn_judge_config_t *cfg, const cn_judge_data_t *data,
                        work_t **works_out, cn_judge_row_t **rows_out)
{
    size_t nseg = cfg->segment_by ? cn__judge_data_n_segments(data) : 0;
    size_t cap = cfg->n_metrics * (1 + nseg);
    work_t *works = cn_xcalloc(cap ? cap : 1, sizeof *works);
    cn_judge_row_t *rows = cn_xcalloc(cap ? cap : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        const cn_judge_metric_t *m = &cfg->metrics[i];
        const char *src =
            (m->test == CN_JTEST_THRESHOLD || m->test == CN_JTEST_AGREEMENT) &&
                    m->source
                ? m->source
                : m->name;
        const cn__judge_metric_data_t *md = cn__judge_data_metric(data, src);
        /* A metric with pairs is judged on them alone, in its aggregate
         * row: pairs carry no segment. */
        size_t npairs = md ? md->n_pairs : 0;
        /* Binned counts (a histogram) are whole, like counted rates: each
         * row sums its bins, nothing is resampled. */
        size_t nbins = md && !npairs ? md->n_bins : 0;
        for (size_t sg = 0; sg <= (npairs ? 0 : nseg); sg++) {
            uint32_t seg = sg == 0 ? UINT32_MAX : (uint32_t)sg;
            double *c = NULL, *s = NULL;
            size_t nc = 0, ns = 0;
            uint64_t kc = 0, tc = 0, ks = 0, ts = 0;
            int counted = 0;
            char pool_err[200] = "";
            double *c_neg = NULL, *s_neg = NULL;
            size_t nc_neg = 0, ns_neg = 0;
            bool scored = false;
            uint64_t *bc = NULL, *bs = NULL;
            size_t bin_sets = 0, mixed = 0;
            if (nbins) {
                bc = cn_xcalloc(nbins, sizeof *bc);
                bs = cn_xcalloc(nbins, sizeof *bs);
                bin_sets = cn__judge_arm_bins(&md->arm[CN_ARM_CANARY], seg, nbins, bc) +
                           cn__judge_arm_bins(&md->arm[CN_ARM_STABLE], seg, nbins, bs);
                mixed = md->arm[CN_ARM_CANARY].n + md->arm[CN_ARM_STABLE].n +
                        md->arm[CN_ARM_CANARY].n_counts +
                        md->arm[CN_ARM_STABLE].n_counts;
                for (size_t b = 0; b < nbins; b++) {
                    tc += bc[b];
                    ts += bs[b];
                }
            } else if (md && !npairs && m->test == CN_JTEST_AUC) {
                scored = cn__judge_arm_scored(&md->arm[CN_ARM_CANARY], seg, &c, &nc,
                                              &c_neg, &nc_neg);
                scored = cn__judge_arm_scored(&md->arm[CN_ARM_STABLE], seg, &s, &ns,
                                              &s_neg, &ns_neg) ||
                         scored;
            } else if (npairs) {
                c = cn_xmallocarray(npairs, sizeof *c);
                s = cn_xmallocarray(npairs, sizeof *s);
                memcpy(c, md->pair_c, npairs * sizeof *c);
                memcpy(s, md->pair_s, npairs * sizeof *s);
                nc = ns = npairs;
            } else if (md) {
                counted =
                    cn__judge_arm_counts(&md->arm[CN_ARM_CANARY], seg, &kc, &tc) +
                        cn__judge_arm_counts(&md->arm[CN_ARM_STABLE], seg, &ks, &ts) >
                    0;
                if (sg == 0 && !counted) {
                    c = aggregate_values(data, &md->arm[CN_ARM_CANARY], CN_ARM_CANARY,
                                         &nc, pool_err, sizeof pool_err);
                    if (c)
                        s = aggregate_values(data, &md->arm[CN_ARM_STABLE],
                                             CN_ARM_STABLE, &ns, pool_err,
                                             sizeof pool_err);
                    if (!c || !s) {
                        free(c);
                        c = s = NULL;
                        nc = ns = 0;
                    }
                } else {
                    c = cn__judge_arm_values(&md->arm[CN_ARM_CANARY], seg, &nc);
                    s = cn__judge_arm_values(&md->arm[CN_ARM_STABLE], seg, &ns);
                }
            }
            if (sg > 0 && nc + nc_neg == 0 && ns + ns_neg == 0 && !counted &&
                !bin_sets) {
                free(c);
                free(s);
                free(c_neg);
                free(s_neg);
                free(bc);
                free(bs);
                continue; /* this metric has no data in this segment */
            }
            if (!c)
                c = cn_xmalloc(sizeof *c);
            if (!s)
                s = cn_xmalloc(sizeof *s);
            cn_stats_sort(c, nc);
            cn_stats_sort(s, ns);
            work_t *w = &works[n];
            w->row = &rows[n];
            w->m = m;
            w->c = c;
            w->s = s;
            w->vc = nc;
            w->vs = ns;
            w->c_neg = c_neg;
            w->s_neg = s_neg;
            w->vc_neg = nc_neg;
            w->vs_neg = ns_neg;
            w->nc = nc + nc_neg + (size_t)tc;
            w->ns = ns + ns_neg + (size_t)ts;
            w->kc = kc;
            w->ks = ks;
            w->counted = counted;
            w->npairs = npairs;
            w->bc = bc;
            w->bs = bs;
            w->nbins = nbins;
            w->bounds = nbins ? md->bin_bounds : NULL;
            w->lowest = nbins ? md->bin_lowest : 0;
            w->pc = npairs ? md->pair_c : NULL;
            w->ps = npairs ? md->pair_s : NULL;
            cn_judge_row_t *r = w->row;
            r->name = m->name;
            r->n_pairs = npairs;
            if (sg > 0) {
                r->segment = strdup(cn__judge_data_segment(data, seg));
                if (!r->segment)
                    abort();
            }
            r->test = m->test;
            r->effect = r->ci_low = r->ci_high = r->margin_abs = NAN;
            r->pvalue = r->adjusted_pvalue = NAN;
            r->p_noninf = r->p_noninf_adj = r->p_harm = r->p_harm_adj = NAN;
            if (nbins) {
                summarize_bins(w, bc, &r->canary);
                summarize_bins(w, bs, &r->stable);
            } else if (counted) {
                /* eval_proportion repeats this with the values checked. */
                uint64_t ones_c = kc, ones_s = ks;
                for (size_t v = 0; v < nc; v++)
                    ones_c += c[v] == 1;
                for (size_t v = 0; v < ns; v++)
                    ones_s += s[v] == 1;
                summarize_counts(ones_c, w->nc, &r->canary);
                summarize_counts(ones_s, w->ns, &r->stable);
            } else if (m->test == CN_JTEST_AUC) {
                /* eval_auc sets the arms' AUC as their mean and median */
                r->canary = (cn_judge_arm_summary_t){w->nc, NAN, NAN, NAN, NAN};
                r->stable = (cn_judge_arm_summary_t){w->ns, NAN, NAN, NAN, NAN};
            } else {
                summarize(c, nc, &r->canary);
                summarize(s, ns, &r->stable);
            }
            if (!md) {
                r->cls = CN_CLASS_NODATA;
                reason(r, "no samples named '%s' in the data", src);
                w->decided = 1;
            } else if (m->test == CN_JTEST_AGREEMENT && !npairs) {
                r->cls = CN_CLASS_NODATA;
                reason(r,
                       "agreement compares both versions' answers to the same "
                       "requests: it needs pairs (a shadow step), and '%s' has none",
                       src);
                w->decided = 1;
            } else if (m->test == CN_JTEST_AUC && !scored) {
                r->cls = CN_CLASS_ERROR;
                reason(r,
                       "test auc needs scores with labels (a fed label metric), and "
                       "'%s' has plain values",
                       src);
                w->decided = 1;
            } else if (nbins && mixed) {
                r->cls = CN_CLASS_ERROR;
                reason(r,
                       "'%s' was given both as bins (a histogram) and as values or "
                       "counts: give one",
                       src);
                w->decided = 1;
            } else if (nbins && m->test != CN_JTEST_MWU &&
                       m->test != CN_JTEST_THRESHOLD && m->test != CN_JTEST_KS) {
                r->cls = CN_CLASS_ERROR;
                reason(r,
                       "'%s' is binned (histogram buckets, no values): test %s needs "
                       "the values; mann-whitney, threshold and ks judge bins",
                       src, cn_judge_test_name(m->test));
                w->decided = 1;
            } else if (pool_err[0]) {
                r->cls = CN_CLASS_ERROR;
                reason(r, "the aggregate cannot be stratified: %s", pool_err);
                w->decided = 1;
            } else if (counted && m->test != CN_JTEST_PROPORTION) {
                r->cls = CN_CLASS_ERROR;
                reason(r,
                       "counts were given for '%s', but only a proportion test "
                       "can use counts (this metric's test is %s)",
                       src, cn_judge_test_name(m->test));
                w->decided = 1;
            } else if (w->nc < cfg->min_per_arm || w->ns < cfg->min_per_arm) {
                r->cls = CN_CLASS_NODATA;
                reason(r, "n_canary=%zu, n_stable=%zu: below the floor of %zu per arm",
                       w->nc, w->ns, cfg->min_per_arm);
                w->decided = 1;
            }
            n++;
        }
    }
    *works_out = works;
    *rows_out = rows;
    return n;
}

static int uses_family(cn_judge_test_t t)
{
    return t != CN_JTEST_PSI && t != CN_JTEST_THRESHOLD;
}

static void adjust_family(work_t *works, size_t n, cn_adjust_method_t method, int harm)
{
    double *p = cn_xmallocarray(n ? n : 1, sizeof *p);
    double *adj = cn_xmallocarray(n ? n : 1, sizeof *adj);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (works[i].in_family)
            p[k++] = harm ? works[i].row->p_harm : works[i].row->p_noninf;
    if (k && cn_stats_adjust(p, k, method, adj) == 0) {
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!works[i].in_family)
                continue;
            if (harm)
                works[i].row->p_harm_adj = adj[k++];
            else
                works[i].row->p_noninf_adj = adj[k++];
        }
    }
    free(p);
    free(adj);
}

/* Metric-level class: fail if any of its rows (aggregate or segment)
 * fails, so a regression confined to one segment fails the metric;
 * otherwise the aggregate row's class. */
static cn_judge_class_t metric_class(const cn_judge_row_t *rows, size_t n,
                                     const cn_judge_metric_t *m)
{
    cn_judge_class_t agg = CN_CLASS_NODATA;
    int any_fail = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].name != m->name)
            continue;
        if (rows[i].cls == CN_CLASS_FAIL)
            any_fail = 1;
        if (!rows[i].segment)
            agg = rows[i].cls;
    }
    return any_fail ? CN_CLASS_FAIL : agg;
}

static double group_weight(const cn_judge_config_t *cfg, const char *g)
{
    for (size_t i = 0; i < cfg->n_groups; i++)
        if (g && strcmp(cfg->groups[i].name, g) == 0)
            return cfg->groups[i].weight;
    return 1;
}

/*
 * Score = 100 x weight of passing metrics / weight of judged metrics
 * (pass, fail or inconclusive). With groups, as Kayenta: each group
 * scores the same way over its own metrics, and the score is the
 * group-weighted mean over the groups that have judged metrics.
 */
static double score_of(const cn_judge_config_t *cfg, const cn_judge_class_t *cls,
                       int *any_judged)
{
    *any_judged = 0;
    if (cfg->n_groups == 0) {
        double pass = 0, all = 0;
        for (size_t i = 0; i < cfg->n_metrics; i++) {
            if (cls[i] == CN_CLASS_NODATA || cls[i] == CN_CLASS_ERROR)
                continue;
            all += cfg->metrics[i].weight;
            if (cls[i] == CN_CLASS_PASS)
                pass += cfg->metrics[i].weight;
        }
        *any_judged = all > 0;
        return all > 0 ? 100 * pass / all : 0;
    }
    double num = 0, den = 0;
    for (size_t g = 0; g <= cfg->n_groups; g++) {
        const char *name = g < cfg->n_groups ? cfg->groups[g].name : NULL;
        double pass = 0, all = 0;
        for (size_t i = 0; i < cfg->n_metrics; i++) {
            const char *mg = cfg->metrics[i].group;
            int in = name ? (mg && strcmp(mg, name) == 0) : (mg == NULL);
            if (!in || cls[i] == CN_CLASS_NODATA || cls[i] == CN_CLASS_ERROR)
                continue;
            all += cfg->metrics[i].weight;
            if (cls[i] == CN_CLASS_PASS)
                pass += cfg->metrics[i].weight;
        }
        if (all > 0) {
            double gw = name ? group_weight(cfg, name) : 1;
            num += gw * pass / all;
            den += gw;
        }
    }
    *any_judged = den > 0;
    return den > 0 ? 100 * num / den : 0;
}

int cn_judge_run(const cn_judge_config_t *cfg, const cn_judge_data_t *data,
                 const cn_judge_look_t *look, cn_judge_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (!cfg || !data || !(cfg->alpha > 0 && cfg->alpha < 1))
        return CN_EINVAL;
    double t = 1, t_prev = 0;
    if (look) {
        t = look->t;
        t_prev = look->t_prev;
        if (!(t > 0 && t <= 1) || !(t_prev >= 0 && t_prev < t))
            return CN_EINVAL;
    }
    cn_judge_levels_t lv = {
        .alpha_fail = cn_judge_spend_pocock(cfg->alpha, t_prev, t),
        .alpha_pass = cn_judge_spend_obf(cfg->alpha, t_prev, t),
    };
    return cn_judge_run_levels(cfg, data, &lv, out);
}

/* "no metric has enough data to judge yet: latency_ms (n_canary=3, ...)",
 * naming each metric whose aggregate row had no data, with its reason. */
static void nodata_reason(const cn_judge_row_t *rows, size_t n, char *buf, size_t len)
{
    int used = snprintf(buf, len, "no metric has enough data to judge yet");
    const char *sep = ": ";
    for (size_t i = 0; i < n && used >= 0 && (size_t)used < len; i++) {
        if (rows[i].segment ||
            (rows[i].cls != CN_CLASS_NODATA && rows[i].cls != CN_CLASS_ERROR))
            continue;
        int k = snprintf(buf + used, len - (size_t)used, "%s%s (%s)", sep, rows[i].name,
                         rows[i].reason);
        if (k < 0)
            break;
        used += k;
        sep = "; ";
    }
}

int cn_judge_run_levels(const cn_judge_config_t *cfg, const cn_judge_data_t *data,
                        const cn_judge_levels_t *levels, cn_judge_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (!cfg || !data || !levels || !(cfg->alpha > 0 && cfg->alpha < 1))
        return CN_EINVAL;
    double alpha_pass = levels->alpha_pass, alpha_fail = levels->alpha_fail;
    if (!(alpha_pass >= 0 && alpha_pass < 1) || !(alpha_fail >= 0 && alpha_fail < 1))
        return CN_EINVAL;
    out->alpha_pass = alpha_pass;
    out->alpha_fail = alpha_fail;

    work_t *works;
    cn_judge_row_t *rows;
    size_t n = plan_rows(cfg, data, &works, &rows);

    /* Family size first: it sets the confidence of the reported intervals
     * (Bonferroni at this look, 1 - 2 alpha_fail / m, so an interval wholly
     * beyond the margin implies a fail) and the alpha of derived floors. */
    size_t fam = 0;
    for (size_t i = 0; i < n; i++)
        fam += !works[i].decided && uses_family(works[i].m->test);
    /* With failing turned off (alpha_fail 0) the intervals are still
     * reported, at the rollout's alpha. */
    double conf =
        1 - 2 * (alpha_fail > 0 ? alpha_fail : cfg->alpha) / (double)(fam ? fam : 1);
    if (conf < 0.5)
        conf = 0.5;
    if (conf > 1 - 1e-12)
        conf = 1 - 1e-12;
    /* The floor is set for the whole rollout's budget per test, not this
     * look's slice of it: it is about what the sample can detect. */
    double alpha_floor = cfg->alpha / (double)(fam ? fam : 1);

    for (size_t i = 0; i < n; i++) {
        work_t *w = &works[i];
        if (w->decided)
            continue;
        int rc;
        if (w->nbins) {
            rc = w->m->test == CN_JTEST_MWU
                     ? eval_binned_location(w, conf, alpha_floor, cfg->power)
                 : w->m->test == CN_JTEST_KS ? eval_ks(w, conf, alpha_floor)
                                             : eval_binned_threshold(w, conf);
            if (rc) {
                w->in_family = 0;
                w->decided = 1;
                w->row->cls = CN_CLASS_ERROR;
                if (!w->row->reason[0])
                    reason(w->row, "the test could not be computed: %s",
                           cn_strerror(rc));
            }
            continue;
        }
        switch (w->m->test) {
        case CN_JTEST_MWU:
        case CN_JTEST_WELCH:
            rc = w->npairs ? eval_paired_location(w, conf, alpha_floor, cfg->power)
                           : eval_location(w, conf, alpha_floor, cfg->power);
            break;
        case CN_JTEST_AGREEMENT:
            rc = eval_agreement(w, conf, alpha_floor, cfg->power);
            break;
        case CN_JTEST_PROPORTION:
            rc = eval_proportion(w, conf, alpha_floor, cfg->power);
            break;
        case CN_JTEST_KS:
            rc = eval_ks(w, conf, alpha_floor);
            break;
        case CN_JTEST_BOOTSTRAP:
            rc = eval_bootstrap(w, conf, alpha_floor, cfg->power);
            break;
        case CN_JTEST_PSI:
            rc = eval_psi(w);
            break;
        case CN_JTEST_AUC:
            rc = eval_auc(w, conf, alpha_floor, cfg->power);
            break;
        case CN_JTEST_THRESHOLD:
            rc = eval_threshold(w);
            break;
        default:
            rc = CN_EINVAL;
            break;
        }
        if (rc) {
            w->in_family = 0;
            w->decided = 1;
            w->row->cls = CN_CLASS_ERROR;
            if (!w->row->reason[0])
                reason(w->row, "the test could not be computed: %s", cn_strerror(rc));
        }
    }

    adjust_family(works, n, cfg->correction, 0);
    adjust_family(works, n, cfg->correction, 1);

    for (size_t i = 0; i < n; i++) {
        work_t *w = &works[i];
        cn_judge_row_t *r = w->row;
        if (!w->in_family)
            continue;
        /* A level of 0 turns its decision off, even for a p-value that
         * underflowed to 0. */
        int harm = alpha_fail > 0 && r->p_harm_adj <= alpha_fail;
        int enough = w->nc >= r->min_samples && w->ns >= r->min_samples;
        if (harm)
            r->cls = CN_CLASS_FAIL;
        else if (alpha_pass > 0 && r->p_noninf_adj <= alpha_pass && enough)
            r->cls = CN_CLASS_PASS;
        else
            r->cls = CN_CLASS_INCONCLUSIVE;
        r->pvalue = r->cls == CN_CLASS_FAIL ? r->p_harm : r->p_noninf;
        r->adjusted_pvalue = r->cls == CN_CLASS_FAIL ? r->p_harm_adj : r->p_noninf_adj;
        family_reason(w, alpha_pass, alpha_fail);
    }

    /* Metric classes, score, verdict. */
    cn_judge_class_t *cls =
        cn_xcalloc(cfg->n_metrics ? cfg->n_metrics : 1, sizeof *cls);
    int critical_fail = 0, any_fail = 0, n_inconclusive = 0;
    const char *first_fail = NULL;
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        cls[i] = metric_class(rows, n, &cfg->metrics[i]);
        if (cls[i] == CN_CLASS_FAIL) {
            any_fail++;
            if (!first_fail)
                first_fail = cfg->metrics[i].name;
            if (cfg->metrics[i].critical) {
                critical_fail = 1;
                first_fail = cfg->metrics[i].name;
            }
        }
        n_inconclusive += cls[i] == CN_CLASS_INCONCLUSIVE;
    }
    int any_judged;
    out->score = score_of(cfg, cls, &any_judged);
    /* The first failing row of the metric that decided, in words: which
     * segment (when the aggregate did not fail) and why. */
    char detail[256] = "";
    for (size_t i = 0; first_fail && i < n && !detail[0]; i++)
        if (rows[i].cls == CN_CLASS_FAIL && strcmp(rows[i].name, first_fail) == 0)
            snprintf(detail, sizeof detail, "%s%.64s%s: %.160s",
                     rows[i].segment ? " in segment '" : "",
                     rows[i].segment ? rows[i].segment : "", rows[i].segment ? "'" : "",
                     rows[i].reason);
    if (critical_fail) {
        out->verdict = CN_VERDICT_FAIL;
        snprintf(out->reason, sizeof out->reason,
                 "critical metric '%.64s' failed%.230s", first_fail, detail);
    } else if (any_fail && out->score <= cfg->marginal_score) {
        out->verdict = CN_VERDICT_FAIL;
        snprintf(out->reason, sizeof out->reason,
                 "%d metric(s) failed (first: '%s') and score %.1f <= %.1f", any_fail,
                 first_fail, out->score, cfg->marginal_score);
    } else if (!any_fail && any_judged && out->score >= cfg->pass_score) {
        out->verdict = CN_VERDICT_PASS;
        snprintf(out->reason, sizeof out->reason,
                 "score %.1f >= %.1f, no metric failed", out->score, cfg->pass_score);
    } else {
        out->verdict = CN_VERDICT_MARGINAL;
        if (!any_judged)
            nodata_reason(rows, n, out->reason, sizeof out->reason);
        else if (any_fail)
            snprintf(
                out->reason, sizeof out->reason,
                "%d metric(s) failed (first: '%s') but score %.1f > %.1f: hold for "
                "a human",
                any_fail, first_fail, out->score, cfg->marginal_score);
        else
            snprintf(out->reason, sizeof out->reason,
                     "score %.1f < %.1f (%d metric(s) inconclusive): hold", out->score,
                     cfg->pass_score, n_inconclusive);
    }
    free(cls);
    for (size_t i = 0; i < n; i++) {
        free(works[i].c);
        free(works[i].s);
        free(works[i].c_neg);
        free(works[i].s_neg);
        free(works[i].bc);
        free(works[i].bs);
    }
    free(works);
    out->rows = rows;
    out->n_rows = n;
    return 0;
}

void cn_judge_result_dispose(cn_judge_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_rows; i++)
        free(r->rows[i].segment);
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}
