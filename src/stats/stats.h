/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The statistics engine: pure numerics, no I/O, no global state.
 *
 * Every test here is checked against a named reference implementation
 * (scipy 1.10, statsmodels 0.13, R 4.2) by golden vectors generated with
 * tools/golden.py; see docs/STATS.md for formulas and citations.
 *
 * Conventions for the whole header:
 *  - Samples are borrowed `const double *` arrays; nothing is retained after
 *    a call returns. Every value must be finite, else CN_ENONFINITE.
 *  - Functions return 0 or a negative CN_E* code (util/error.h); on error the
 *    result struct is left unspecified.
 *  - "x" is the first sample and "y" the second. In the non-inferiority and
 *    canary-facing functions x is the canary and y is the stable version, and
 *    every difference is x - y (canary minus stable).
 *  - Functions are thread-safe: they touch only their arguments.
 */
#ifndef CN_STATS_STATS_H
#define CN_STATS_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The alternative hypothesis, with scipy's meaning in each test:
 *  - Mann-Whitney, Welch: LESS means x tends to be smaller than y
 *    (stochastically, or in mean), GREATER that it tends to be larger.
 *  - Kolmogorov-Smirnov: the alternatives are about the CDFs. LESS means
 *    F_x(t) < F_y(t) for some t -- so x tends to be LARGER -- and GREATER
 *    means F_x(t) > F_y(t) for some t (x tends to be smaller). This is
 *    scipy.stats.ks_2samp's convention, kept so results compare directly.
 */
typedef enum {
    CN_ALT_TWO_SIDED = 0,
    CN_ALT_LESS,
    CN_ALT_GREATER,
} cn_alternative_t;

/* Parse "two-sided" | "less" | "greater". Returns 0 or CN_EINVAL. */
int cn_stats_parse_alternative(const char *s, cn_alternative_t *out);
const char *cn_stats_alternative_name(cn_alternative_t alt);

/* ------------------------------------------------------------------ sort */

/*
 * Sort n finite doubles ascending in place. An LSD radix sort on the IEEE
 * bit pattern: O(n), several times faster than qsort() for n >= 10^4.
 * -0.0 sorts before +0.0 (they compare equal, so ranks are unaffected only
 * if callers compare with ==, which they do).
 */
void cn_stats_sort(double *v, size_t n);

/* Copy src into a fresh heap array and sort it. Caller frees. */
double *cn_stats_sorted_copy(const double *src, size_t n);

/*
 * Quantile of sorted data by linear interpolation between order statistics
 * (Hyndman-Fan type 7, numpy's default, R's default). q in [0,1]; n >= 1.
 */
double cn_stats_quantile_sorted(const double *sorted, size_t n, double q);

/* Number of elements of sorted[0..n) strictly below x / at most x, by
 * binary search, O(log n). */
size_t cn_stats_count_below(const double *sorted, size_t n, double x);
size_t cn_stats_count_at_most(const double *sorted, size_t n, double x);

/* ----------------------------------------------------------------- ranks */

/*
 * Ranks of values[0..n) with ties given their average rank (1-based), as
 * scipy.stats.rankdata(method='average'). ranks_out has n slots.
 * If tie_term_out is non-NULL it receives sum over tie groups of t^3 - t,
 * the term in the tie-corrected variance of rank statistics
 * (scipy.stats.tiecorrect(r) == 1 - tie_term / (n^3 - n)).
 */
int cn_stats_rank(const double *values, size_t n, double *ranks_out,
                  double *tie_term_out);

/* ------------------------------------------------- Wilcoxon distribution */

/*
 * The exact null distribution of the Mann-Whitney U statistic for sample
 * sizes n and m without ties. U takes integer values 0..n*m.
 *  cn_stats_wilcox_cdf: P(U <= u)   (R: pwilcox(u, n, m))
 *  cn_stats_wilcox_sf:  P(U >= u)
 *  cn_stats_wilcox_quantile: smallest u with P(U <= u) >= p
 *                            (R: qwilcox(p, n, m))
 * Cost O(n * m * min(n, m)) time, O(n * m) memory; n * m must not exceed
 * CN_WILCOX_MAX_NM and min(n, m) must not exceed CN_WILCOX_MAX_MIN (past
 * it the recursion's rounding error grows past 1e-15), else CN_ETOOBIG.
 * n or m == 0: CN_ETOOFEW; non-finite u or p: CN_ENONFINITE; p outside
 * [0,1]: CN_EINVAL.
 */
#define CN_WILCOX_MAX_NM 4000000u
#define CN_WILCOX_MAX_MIN 100u
int cn_stats_wilcox_cdf(double u, size_t n, size_t m, double *out);
int cn_stats_wilcox_sf(double u, size_t n, size_t m, double *out);
int cn_stats_wilcox_quantile(double p, size_t n, size_t m, double *out);

/* -------------------------------------------------------- Mann-Whitney U */

typedef enum {
    CN_MWU_AUTO = 0, /* scipy 1.10: exact if min(n,m) <= 8 and no ties */
    CN_MWU_EXACT,
    CN_MWU_ASYMPTOTIC, /* tie-corrected normal approximation */
} cn_mwu_method_t;

typedef struct {
    cn_alternative_t alternative;
    int use_continuity; /* 0.5 continuity correction; default on */
    cn_mwu_method_t method;
} cn_mwu_opts_t;

/* Defaults: two-sided, continuity on, auto. */
void cn_stats_mwu_opts_init(cn_mwu_opts_t *opts);

typedef struct {
    double u; /* U statistic of x: #{x_i > y_j} + 0.5 ties */
    double pvalue;
    double z;               /* normal score (asymptotic) or NAN (exact) */
    cn_mwu_method_t method; /* the method actually used */
} cn_mwu_result_t;

/* Match scipy.stats.mannwhitneyu(x, y, ...). nx, ny >= 1. */
int cn_stats_mwu(const double *x, size_t nx, const double *y, size_t ny,
                 const cn_mwu_opts_t *opts, cn_mwu_result_t *out);
const char *cn_stats_mwu_method_name(cn_mwu_method_t m);

/* ------------------------------------------------------ binned data */

/*
 * Binned data (classic histograms, Prometheus's `_bucket` series): k
 * ordered bins with counts; bin i is (lo_i, hi_i] with lo_0 = `lowest`
 * (0 for latencies, -INFINITY when unbounded), hi_i = bounds[i] for
 * i < k - 1 (strictly ascending, finite) and hi_{k-1} = +inf. Both
 * samples' counts are over the same bins. stats/binned.c has the essay.
 */

/*
 * Mann-Whitney on the 2 x k ordered table of counts (Emerson & Moses 1985):
 * each bin a tie group, U1 = sum x_i (Y_<i + y_i / 2), the tie-corrected
 * variance. Equal to cn_stats_mwu (scipy.stats.mannwhitneyu) on the data
 * expanded to one value per count: exact for data tied within bins.
 * Empty x or y: CN_ETOOFEW; a count above 2^32 or nx * ny >= 2^62:
 * CN_ETOOBIG; otherwise as cn_stats_mwu. O(k).
 */
int cn_stats_mwu_binned(const uint64_t *x, const uint64_t *y, size_t k,
                        const cn_mwu_opts_t *opts, cn_mwu_result_t *out);

/*
 * The one-sided Mann-Whitney test (alt LESS or GREATER, else CN_EINVAL) of
 * x + shift against y when the values lie somewhere inside their bins
 * (bounds as above): the values placed where the alternative is hardest
 * to show, and the variance without tie correction, its largest. While
 * the p-value is below 1/2 it is at least the asymptotic p-value of every
 * placement, so a rejection holds whatever the values were (mwu.c).
 * out->u is that placement's U1, out->method ASYMPTOTIC. Errors as
 * cn_stats_mwu_binned; bad bounds: CN_EINVAL; non-finite shift:
 * CN_ENONFINITE.
 */
int cn_stats_mwu_binned_bound(const double *bounds, const uint64_t *x,
                              const uint64_t *y, size_t k, double lowest, double shift,
                              cn_alternative_t alt, cn_mwu_result_t *out);

typedef struct {
    double est_low, est_high; /* the HL estimate (median of x_i - y_j)
                                 lies in [est_low, est_high] */
    double ci_low, ci_high;   /* the normal-approximation HL interval at
                                 the confidence, widened to hold for every
                                 placement of the values in their bins */
} cn_hl_binned_t;

/*
 * Hodges-Lehmann shift x - y of binned data, bounded: each end is a
 * difference of bin edges (stats/binned.c). k <= 1024. Errors: bad bounds
 * or confidence outside (0, 1): CN_EINVAL; an empty sample: CN_ETOOFEW;
 * nx * ny >= 2^62 or k > 1024: CN_ETOOBIG.
 */
int cn_stats_hl_binned(const double *bounds, const uint64_t *x, const uint64_t *y,
                       size_t k, double lowest, double confidence, cn_hl_binned_t *out);

typedef struct {
    double low, high; /* [lower edge of bin_low, upper edge of bin_high] */
    size_t bin_low, bin_high;
    uint64_t rank_low;  /* order statistics (1-based) behind the ends: */
    uint64_t rank_high; /* 0 is below the sample (low = lowest), n + 1
                           above it (high = +inf) */
    double coverage;    /* P(rank_low <= B < rank_high), B ~ Bin(n, q):
                           the interval's guaranteed coverage */
} cn_quantile_ci_t;

/*
 * The distribution-free confidence interval of the q-quantile from binned
 * counts: the order statistics X_(l), X_(u) of the binomial interval
 * (l = binom.ppf((1-conf)/2, n, q), u = binom.ppf(1-(1-conf)/2, n, q) + 1,
 * as scipy), mapped to the bins they fall in: [lower edge of X_(l)'s bin,
 * upper edge of X_(u)'s bin]. q and confidence in (0, 1), else CN_EINVAL;
 * no values: CN_ETOOFEW; n > 2^32 - 1: CN_ETOOBIG.
 */
int cn_stats_quantile_ci_binned(const double *bounds, const uint64_t *counts, size_t k,
                                double lowest, double q, double confidence,
                                cn_quantile_ci_t *out);

/* ------------------------------------------------------- Hodges-Lehmann */

/*
 * k-th smallest (0-based, k < n*m) of the n*m pairwise differences
 * xs[i] - ys[j], where xs and ys are sorted ascending. Never materialises
 * the differences: Monahan's (1984) randomized selection on the implicit
 * sorted matrix, expected O((n + m) log(n m)) time, O(n) extra memory.
 * The result is always one of the differences exactly (+-inf if it
 * overflows). n or m == 0: CN_ETOOFEW; n or m > UINT32_MAX: CN_ETOOBIG;
 * non-finite values: CN_ENONFINITE; unsorted input or k >= n*m: CN_EINVAL.
 */
int cn_stats_pairdiff_select(const double *xs, size_t n, const double *ys, size_t m,
                             uint64_t k, double *out);

typedef struct {
    double estimate;            /* median of all x_i - y_j (mean of the two middle
                                   differences when n*m is even, as R) */
    double ci_low;              /* an exact pairwise difference */
    double ci_high;             /* an exact pairwise difference */
    double achieved_confidence; /* coverage of the chosen order statistics */
    int exact;                  /* 1 if the exact Wilcoxon distribution was used */
} cn_hl_result_t;

/*
 * Hodges-Lehmann shift estimate of x - y with a confidence interval at
 * `confidence` in (0,1). n, m < 50 without ties: exact, as R's
 * wilcox.test(conf.int=TRUE, exact=TRUE). Otherwise the normal order
 * statistics d_(k+1), d_(nm-k), k = floor(nm/2 - z * sqrt(nm(n+m+1)/12)),
 * clamped to [0, (nm-1)/2]; docs/stats/hl.md. nx or ny == 0: CN_ETOOFEW;
 * confidence outside (0,1): CN_EINVAL; non-finite values: CN_ENONFINITE;
 * nx or ny > UINT32_MAX, or a difference beyond DBL_MAX: CN_ETOOBIG.
 */
int cn_stats_hl(const double *x, size_t nx, const double *y, size_t ny,
                double confidence, cn_hl_result_t *out);

/* ---------------------------------------------- paired: signed-rank test */

/*
 * What a zero difference (x_i == y_i) does in the signed-rank test
 * (signrank.c says why Pratt is the default):
 *  - PRATT:  ranked with the others, then its rank is dropped (Pratt 1959;
 *            scipy zero_method='pratt');
 *  - WILCOX: dropped before ranking (scipy's default 'wilcox', R's rule);
 *  - ZSPLIT: ranked, its rank split between R+ and R- (scipy 'zsplit').
 */
typedef enum {
    CN_ZERO_PRATT = 0,
    CN_ZERO_WILCOX,
    CN_ZERO_ZSPLIT,
} cn_zero_method_t;

typedef enum {
    CN_SIGNRANK_AUTO = 0, /* exact if n <= 50, no zeros and no ties */
    CN_SIGNRANK_EXACT,    /* falls back to APPROX with zeros or ties */
    CN_SIGNRANK_APPROX,   /* normal, tie- and zero-corrected */
} cn_signrank_method_t;

typedef struct {
    cn_alternative_t alternative; /* GREATER: x tends to exceed y */
    cn_zero_method_t zero_method; /* default PRATT */
    int use_continuity;           /* 0.5 correction (APPROX); default off, as
                                     scipy's correction=False */
    cn_signrank_method_t method;  /* default AUTO */
} cn_signrank_opts_t;

/* Defaults: two-sided, Pratt, no continuity correction, auto. */
void cn_stats_signrank_opts_init(cn_signrank_opts_t *opts);
const char *cn_stats_zero_method_name(cn_zero_method_t z);
const char *cn_stats_signrank_method_name(cn_signrank_method_t m);

typedef struct {
    double statistic; /* min(R+, R-) two-sided, R+ one-sided (scipy) */
    double r_plus, r_minus;
    double pvalue;
    double z;                    /* normal score (APPROX) or NAN (EXACT) */
    cn_signrank_method_t method; /* the method actually used */
    size_t n;                    /* pairs */
    size_t n_zero;               /* pairs with x_i == y_i */
} cn_signrank_result_t;

/*
 * The Wilcoxon signed-rank test of the pairs (x_i, y_i), i < n, on the
 * differences x_i - y_i; with y == NULL (and ny == 0), x holds the
 * differences. Matches scipy.stats.wilcoxon(x, y, zero_method,
 * correction, alternative, method) of scipy 1.10, with the rules for
 * ties in AUTO and for all-zero differences (statistic 0, p = 1, where
 * scipy raises) documented in signrank.c. opts may be NULL (defaults).
 * nx == 0: CN_ETOOFEW; nx != ny with y given, a bad option or NULL out:
 * CN_EINVAL; a non-finite value: CN_ENONFINITE; a difference that
 * overflows, or EXACT asked for n > 1000: CN_ETOOBIG. O(n log n).
 */
int cn_stats_signrank(const double *x, size_t nx, const double *y, size_t ny,
                      const cn_signrank_opts_t *opts, cn_signrank_result_t *out);

/*
 * Hodges-Lehmann estimate of the paired shift: the median of the Walsh
 * averages (d_i + d_j) / 2, i <= j, of the differences d_i = x_i - y_i
 * (or of x when y == NULL and ny == 0), zeros included, with the
 * confidence interval that inverts the signed-rank test, both ends exact
 * Walsh averages. n < 50 with no zero and no tie among |d|: exact, as R's
 * wilcox.test(x, y, paired = TRUE, conf.int = TRUE); otherwise the normal
 * order statistics, k = floor(N/2 - z sqrt(n(n+1)(2n+1)/24)), N =
 * n(n+1)/2 (signrank.c). The result's `exact` and `achieved_confidence`
 * are as cn_stats_hl's. O(n log n) time and O(n) memory at any n (no
 * Walsh average is stored). Errors as cn_stats_signrank; confidence
 * outside (0, 1): CN_EINVAL; a sum of two differences beyond DBL_MAX:
 * CN_ETOOBIG.
 */
int cn_stats_hl_paired(const double *x, size_t nx, const double *y, size_t ny,
                       double confidence, cn_hl_result_t *out);

/* ------------------------------------- agreement of predicted classes */

/*
 * Wilson score interval of a proportion k / n at two-sided `confidence`,
 * as scipy 1.10's binomtest(k, n).proportion_ci(confidence, 'wilson'):
 * center (2k + z^2) / (2(n + z^2)) -/+ z sqrt(4 n p q + z^2) / (2(n +
 * z^2)), with lo = 0 when k == 0 and hi = 1 when k == n. n == 0:
 * CN_ETOOFEW; k > n, confidence outside (0, 1), NULL outputs: CN_EINVAL.
 */
int cn_stats_wilson_ci(uint64_t k, uint64_t n, double confidence, double *lo,
                       double *hi);

typedef struct {
    uint64_t agree, n;      /* pairs with x_i == y_i, and all pairs */
    double rate;            /* agree / n */
    double ci_low, ci_high; /* Wilson interval of the rate */
} cn_agreement_result_t;

/*
 * The agreement rate of two versions' predicted classes over the same
 * requests: the share of pairs with x_i == y_i (class labels as numbers,
 * compared exactly), with its Wilson interval at `confidence`. nx != ny,
 * NULL arrays with n > 0, confidence outside (0, 1): CN_EINVAL; nx == 0:
 * CN_ETOOFEW; a NaN or infinite label: CN_ENONFINITE.
 */
int cn_stats_agreement(const double *x, size_t nx, const double *y, size_t ny,
                       double confidence, cn_agreement_result_t *out);

/* ---------------------------------------------------------- Welch's t */

typedef struct {
    double t;
    double df; /* Welch-Satterthwaite */
    double pvalue;
    double mean_x, mean_y;
    double se; /* standard error of mean_x - mean_y */
} cn_welch_result_t;

/* Match scipy.stats.ttest_ind(x, y, equal_var=False). nx, ny >= 2.
 * CN_EDEGENERATE if both samples have zero variance. */
int cn_stats_welch(const double *x, size_t nx, const double *y, size_t ny,
                   cn_alternative_t alt, cn_welch_result_t *out);

/* Confidence interval for mean_x - mean_y from a Welch result, at the given
 * two-sided confidence level, using the t distribution with r->df. */
int cn_stats_welch_ci(const cn_welch_result_t *r, double confidence, double *lo,
                      double *hi);

/* ------------------------------------------------ non-inferiority basics */

typedef enum {
    CN_DIR_LOWER_IS_BETTER = 0, /* latency, error rate */
    CN_DIR_HIGHER_IS_BETTER,    /* click-through, accuracy */
} cn_direction_t;

typedef enum {
    CN_MARGIN_ABSOLUTE = 0, /* margin in the metric's own unit */
    CN_MARGIN_RELATIVE,     /* margin as a fraction of the stable statistic */
} cn_margin_kind_t;

int cn_stats_parse_direction(const char *s, cn_direction_t *out);
const char *cn_stats_direction_name(cn_direction_t d);

/*
 * Parse a margin: "5%" is relative (0.05 of the stable statistic), "2.5" is
 * absolute. Must be finite and >= 0. Returns 0 or CN_EINVAL.
 */
int cn_stats_parse_margin(const char *s, double *margin, cn_margin_kind_t *kind);

/* ------------------------------------------------- two proportions */

typedef struct {
    double p_x, p_y;        /* observed rates */
    double diff;            /* p_x - p_y */
    double se_unpooled;     /* sqrt(p_x q_x / n_x + p_y q_y / n_y) */
    double ci_low, ci_high; /* Wald CI of diff at the requested confidence */
    double margin_abs;      /* the margin the NI test used, absolute */
    double z_noninf;        /* unpooled Wald z against the margin */
    double p_noninf;        /* one-sided p of H0 "x worse by >= margin" */
    double z_pooled;        /* pooled z for H0 p_x == p_y */
    double p_equal;         /* two-sided p of the pooled test */
    int adjusted;           /* 1 if the Wald se was 0 (every arm all 0 or all
                               1) and the NI test and CI used Agresti-Caffo */
} cn_prop_result_t;

/*
 * Two-proportion comparison of x (canary) against y (stable): successes
 * out of trials for each. Non-inferiority with an unpooled Wald z, equality
 * with a pooled z; formulas in docs/STATS.md. margin >= 0; a relative
 * margin is multiplied by p_y. Trials >= 1, successes <= trials.
 */
int cn_stats_prop(uint64_t succ_x, uint64_t n_x, uint64_t succ_y, uint64_t n_y,
                  double margin, cn_margin_kind_t kind, cn_direction_t dir,
                  double confidence, cn_prop_result_t *out);

/* ------------------------------------------- Kolmogorov-Smirnov (two) */

typedef enum {
    CN_KS_AUTO = 0, /* scipy 1.10: exact if max(n,m) <= 10000 */
    CN_KS_EXACT,
    CN_KS_ASYMPTOTIC,
} cn_ks_method_t;

typedef struct {
    double d; /* the D statistic for the chosen alternative */
    double pvalue;
    cn_ks_method_t method; /* the method actually used */
} cn_ks_result_t;

/* Match scipy.stats.ks_2samp(x, y, alternative, method). nx, ny >= 1. */
int cn_stats_ks2(const double *x, size_t nx, const double *y, size_t ny,
                 cn_alternative_t alt, cn_ks_method_t method, cn_ks_result_t *out);
const char *cn_stats_ks_method_name(cn_ks_method_t m);

/*
 * The same on binned counts (the same k bins for both): D from the CDFs
 * after each bin, equal to ks_2samp's on the data expanded to one value
 * per count; the p-values are ks_2samp's for that D (conservative with
 * ties). Empty x or y: CN_ETOOFEW; nx * ny >= 2^62: CN_ETOOBIG.
 */
int cn_stats_ks2_binned(const uint64_t *x, const uint64_t *y, size_t k,
                        cn_alternative_t alt, cn_ks_method_t method,
                        cn_ks_result_t *out);

/* --------------------------- KS distance against a limit (DKW bound) */

/*
 * The two-sample DKW effective size h = n m / (sqrt n + sqrt m)^2 of
 * samples of n and m values (0 if either is 0). See dkw.c for why this h
 * and not n m / (n + m).
 */
double cn_stats_dkw_h(size_t n, size_t m);

/*
 * The DKW p-value 4 exp(-2 gap^2 h), at most 1; exactly 1 when gap <= 0
 * (or h <= 0, or either is NaN). With gap = D - limit it is the p-value
 * of H0: D_true <= limit; with gap = limit - D, of H0: D_true >= limit
 * (Massart's bound applied to each sample, dkw.c).
 */
double cn_stats_dkw_p(double gap, double h);

typedef struct {
    double d;       /* two-sided KS distance of the samples, as
                       scipy.stats.ks_2samp(x, y, method='asymp') reports */
    double h;       /* cn_stats_dkw_h(nx, ny) */
    double p_above; /* H0: D_true <= limit vs D_true > limit (harm) */
    double p_below; /* H0: D_true >= limit vs D_true < limit (within) */
} cn_ks_limit_result_t;

/*
 * Test the true KS distance of the distributions behind x and y against
 * `limit` in [0, 1], both ways, by the DKW bound: p_above =
 * cn_stats_dkw_p(D - limit, h), p_below = cn_stats_dkw_p(limit - D, h).
 * Valid at every n and for any distributions (no continuity needed).
 * nx or ny == 0: CN_ETOOFEW; a non-finite value: CN_ENONFINITE; limit
 * outside [0, 1] or NaN: CN_EINVAL; nx * ny >= 2^62: CN_ETOOBIG.
 */
int cn_stats_ks_limit(const double *x, size_t nx, const double *y, size_t ny,
                      double limit, cn_ks_limit_result_t *out);

/* ------------------------------------------- area under the ROC curve */

typedef struct {
    double auc;      /* P(pos > neg) + P(pos = neg) / 2 */
    double variance; /* DeLong's estimate of the AUC's variance */
    size_t n_pos, n_neg;
} cn_auc_result_t;

/*
 * The AUC of the positives' scores against the negatives' with DeLong's
 * variance (stats/auc.c). 0; CN_ETOOFEW when either sample is empty (the
 * AUC is undefined; auc and variance NAN); CN_ENONFINITE; CN_EINVAL for a
 * NULL array with n > 0. Agrees with scikit-learn's roc_auc_score.
 */
int cn_stats_auc(const double *pos, size_t n_pos, const double *neg, size_t n_neg,
                 cn_auc_result_t *out);

/* ------------------------------------------ population stability index */

typedef struct {
    double psi;
    size_t bins; /* bins actually used after merging duplicate edges */
} cn_psi_result_t;

/*
 * PSI of x (canary) against y (stable), with bin edges at the quantiles of
 * y (`bins` equal-mass bins, 10 by default when bins == 0). Formula and the
 * empty-bin rule in docs/STATS.md.
 */
int cn_stats_psi(const double *x, size_t nx, const double *y, size_t ny, size_t bins,
                 cn_psi_result_t *out);

/* ------------------------------------------------------------ bootstrap */

typedef enum {
    CN_BOOT_MEAN = 0,
    CN_BOOT_MEDIAN,
    CN_BOOT_P95,
    CN_BOOT_P99,
} cn_boot_stat_t;

int cn_stats_parse_boot_stat(const char *s, cn_boot_stat_t *out);
const char *cn_stats_boot_stat_name(cn_boot_stat_t s);

typedef struct {
    double estimate;        /* stat(x) - stat(y) on the original samples */
    double ci_low, ci_high; /* percentile interval */
    size_t resamples;
} cn_boot_result_t;

/*
 * Percentile bootstrap CI for stat(x) - stat(y), resampling each sample
 * independently with replacement. Deterministic for a given seed.
 * resamples >= 100; confidence in (0,1).
 */
int cn_stats_bootstrap_diff(const double *x, size_t nx, const double *y, size_t ny,
                            cn_boot_stat_t stat, size_t resamples, double confidence,
                            uint64_t seed, cn_boot_result_t *out);

/*
 * The same, also copying the sorted bootstrap distribution of the
 * difference into diffs_out (`resamples` slots) when it is non-NULL, so a
 * caller can read tail probabilities (e.g. bootstrap p-values against a
 * margin) from the very resamples behind the interval.
 */
int cn_stats_bootstrap_diff_dist(const double *x, size_t nx, const double *y, size_t ny,
                                 cn_boot_stat_t stat, size_t resamples,
                                 double confidence, uint64_t seed,
                                 cn_boot_result_t *out, double *diffs_out);

/* ------------------------------------------------------- power / size */

/*
 * Per-arm sample size to detect a difference in means `delta` (> 0) with
 * common standard deviation `sd`, at level alpha with the given power, by
 * the z approximation n = (z_a + z_b)^2 * 2 sd^2 / delta^2, where z_a is
 * z_{1-alpha} for a one-sided and z_{1-alpha/2} for a two-sided test.
 * Two-sided, the far tail is counted as in statsmodels' NormalIndPower: n is
 * the exact root of cn_stats_power_means(n) == power, a hair below the
 * closed form. power must exceed alpha. The result is not rounded; callers
 * take ceil().
 */
int cn_stats_sample_size_means(double delta, double sd, double alpha, double power,
                               int two_sided, double *n_out);

/* Power of the same test at n per arm. */
int cn_stats_power_means(double delta, double sd, double alpha, double n, int two_sided,
                         double *power_out);

/*
 * Per-arm sample size to detect rate p2 against p1 (p1 != p2, both in
 * (0,1)); formula in docs/STATS.md.
 */
int cn_stats_sample_size_props(double p1, double p2, double alpha, double power,
                               int two_sided, double *n_out);
/*
 * Per-arm sample size for a non-inferiority design on a rate p with an
 * absolute margin m, powered for both of the judge's decisions: passing a
 * canary no worse than stable (p against p + m) and failing one worse by
 * twice the margin (p + m against p + 2m, the harm test's question, whose
 * variance is larger). The larger of the two Fleiss sample sizes, one-sided
 * at alpha; mirrored (p - m, p - 2m) for higher-is-better. Both rates must
 * stay in (0,1), else CN_EINVAL.
 */
int cn_stats_sample_size_noninf_props(double p, double margin, cn_direction_t dir,
                                      double alpha, double power, double *n_out);

int cn_stats_power_props(double p1, double p2, double alpha, double n, int two_sided,
                         double *power_out);

/* ------------------------------------------------ multiple testing */

typedef enum {
    CN_ADJUST_NONE = 0,
    CN_ADJUST_BONFERRONI,
    CN_ADJUST_HOLM,
    CN_ADJUST_BH,
} cn_adjust_method_t;

int cn_stats_parse_adjust(const char *s, cn_adjust_method_t *out);
const char *cn_stats_adjust_name(cn_adjust_method_t m);

/* Adjusted p-values in input order, matching statsmodels'
 * multipletests(p, method='bonferroni'|'holm'|'fdr_bh'). Each p in [0,1]. */
int cn_stats_adjust(const double *p, size_t n, cn_adjust_method_t method,
                    double *adjusted_out);

/* ------------------------------------------------- non-inferiority */

typedef enum {
    CN_NI_WELCH = 0, /* difference in means, Welch t */
    CN_NI_MWU,       /* location shift, Mann-Whitney + Hodges-Lehmann CI */
} cn_ni_test_t;

typedef struct {
    cn_ni_test_t test;
    double margin;         /* >= 0 */
    cn_margin_kind_t kind; /* relative: fraction of the stable statistic
                              (mean for Welch, median for MWU) */
    cn_direction_t direction;
    double confidence; /* for the CI; e.g. 0.95 */
} cn_ni_opts_t;

typedef struct {
    double effect;          /* canary - stable: mean difference or HL shift */
    double ci_low, ci_high; /* two-sided CI of the effect */
    double margin_abs;      /* the margin in the metric's unit */
    double pvalue;          /* one-sided p of H0 "canary worse by >= margin" */
    double stable_stat;     /* stable's mean (Welch) or median (MWU) */
} cn_ni_result_t;

/*
 * Non-inferiority of x (canary) against y (stable). For lower-is-better,
 * H0: effect >= margin_abs vs H1: effect < margin_abs; mirrored for
 * higher-is-better. See docs/STATS.md.
 */
int cn_stats_noninf(const double *x, size_t nx, const double *y, size_t ny,
                    const cn_ni_opts_t *opts, cn_ni_result_t *out);

int cn_stats_parse_ni_test(const char *s, cn_ni_test_t *out);
int cn_stats_parse_mwu_method(const char *s, cn_mwu_method_t *out);
int cn_stats_parse_ks_method(const char *s, cn_ks_method_t *out);

/* ------------------------------- anytime-valid: e-processes by betting */

/*
 * One anytime-valid test of harm beyond a margin between the canary's and
 * stable's rates of a 0/1 outcome, fed the counts of each second
 * (eprocess.c has the construction and its proof): with p and q the
 * canary's and stable's probabilities of X = 1 in a second, H0 is
 * sign (p - a q) <= b in every second. The e-process E (log_e) is a
 * nonnegative supermartingale under H0 starting at 1, so
 * P(ever E >= 1/alpha) <= alpha: it may be checked every second for as
 * long as the rollout runs. Plain data: copy it to save it, restore it to
 * resume (the budget is not spent again).
 */
typedef struct {
    int sign;          /* +1: canary's rate above; -1: below */
    double a, b;       /* scale of stable's rate, margin */
    double lambda_cap; /* the largest bet */
    double log_e;      /* log of the e-process now */
    double log_e_max;  /* its running maximum (>= 0) */
    double n;          /* canary observations seen */
    double sum, sumsq; /* of their Z (the bet's estimates) */
    uint64_t seconds;  /* seconds with both arms */
} cn_eproc_t;

/*
 * Start at E = 1. sign +1 or -1; a > 0 and b > -1, finite. Absolute margin
 * m: (+1, 1, m); relative margin m: (+1, 1 + m, 0); one side of a CDF
 * difference limit L: (+1 or -1, 1, L). Non-inferiority (showing the
 * canary is not worse by the margin) is the reversed test
 * (-sign, a, -b): its H0 is harm of at least the margin. CN_EINVAL
 * otherwise.
 */
int cn_stats_eproc_init(cn_eproc_t *e, int sign, double a, double b);

/*
 * One second: k of the canary's n requests and k_s of stable's n_s had
 * X = 1. A second with n == 0 or n_s == 0 changes nothing. k > n or
 * k_s > n_s: CN_EINVAL (nothing changes).
 */
int cn_stats_eproc_update(cn_eproc_t *e, uint64_t k, uint64_t n, uint64_t k_s,
                          uint64_t n_s);

/* The bet the next second with these counts would make (0 when the canary
 * looks no worse than the margin so far). */
double cn_stats_eproc_bet(const cn_eproc_t *e, uint64_t n, uint64_t n_s);

/* The anytime-valid p-value: min(1, 1 / max over time of E). */
double cn_stats_eproc_pvalue(const cn_eproc_t *e);

#endif
