/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Paired comparisons: the Wilcoxon signed-rank test, the Hodges-Lehmann
 * estimate of the paired shift with its confidence interval, and the
 * agreement rate of two versions' predicted classes with a Wilson
 * interval. A shadow step sends every request to both versions, so each
 * request id gives a pair (canary, stable) and the differences d_i =
 * x_i - y_i carry the comparison without the between-request noise.
 *
 * The signed-rank test (Wilcoxon 1945) matches scipy.stats.wilcoxon of
 * scipy 1.10. The |d_i| are ranked (ties get average ranks), R+ is the sum
 * of the ranks of positive differences and R- of negative ones; the
 * statistic is min(R+, R-) two-sided and R+ one-sided, as scipy reports.
 *
 * Zeros, and why Pratt by default. A zero difference (the two versions
 * answered identically) carries no sign. Wilcoxon's own rule, scipy's
 * default 'wilcox', drops the zeros before ranking. Pratt (1959, JASA
 * 54(287), "Remarks on zeros and ties in the Wilcoxon signed rank
 * procedures") ranks them with the rest and then drops their ranks, and
 * showed that dropping zeros first can make the test non-monotone: a
 * sample moved further from the null can come out less significant. In a
 * shadow comparison of two versions of one model most differences are
 * often exactly zero; keeping them in the ranking measures each non-zero
 * difference against all the pairs, not only the few that changed. So the
 * default is 'pratt' (opts->zero_method); 'wilcox' and 'zsplit' (zeros
 * split between R+ and R-) are there to match either convention. With no
 * zeros the three coincide.
 *
 * p-values, as scipy 1.10:
 *  - exact: the null distribution of R+ (each of the 2^n sign patterns
 *    equally likely), counted by the usual recursion over n; two-sided
 *    2 min(P(R+ <= r), P(R+ >= r)), capped at 1, and 1 at the centre.
 *    Used by CN_SIGNRANK_AUTO for n <= 50 without zeros and without ties
 *    (scipy 1.10's 'auto' keeps the exact method with ties and truncates
 *    a half-integer R+; we take the normal approximation instead, as R
 *    does, since the exact distribution assumes untied ranks).
 *  - normal approximation: mean n(n+1)/4 and variance n(n+1)(2n+1)/24,
 *    less sum(t^3 - t)/48 over tie groups; for Pratt (Cureton 1967) less
 *    n0(n0+1)/4 and n0(n0+1)(2n0+1)/24 for the n0 zeros, whose tie group
 *    is left out of the tie term; optional 0.5 continuity correction
 *    (scipy's `correction`, off by default).
 * Every difference zero: scipy raises for 'wilcox' and 'pratt'. No
 * difference at all is no evidence of one, so we return the statistic 0
 * with p = 1 and z = 0.
 *
 * The Hodges-Lehmann estimate of the paired shift is the median of the
 * n(n+1)/2 Walsh averages (d_i + d_j)/2, i <= j (Hodges & Lehmann 1963),
 * and its interval the order statistics [W_(k+1), W_(N-k)] that invert the
 * signed-rank test (Lehmann, "Nonparametrics", 1975, sec. 4.3):
 *  - n < 50, no zeros, no ties among |d|: exact, as R 4.2's
 *    wilcox.test(x, y, paired = TRUE, conf.int = TRUE): k + 1 = qu =
 *    qsignrank(alpha/2, n) (1 if 0), coverage 1 - 2 psignrank(qu - 1, n);
 *  - otherwise k = floor(N/2 - z sigma), sigma^2 = n(n+1)(2n+1)/24,
 *    clamped to [0, (N-1)/2], coverage from the continuity-corrected
 *    normal approximation, the same rule hl.c uses for two samples (R
 *    inverts the asymptotic test with uniroot() instead).
 * Zero differences are data here: a canary that answers most requests
 * exactly as stable does has a shift near 0, and its Walsh averages say
 * so.
 *
 * Selecting Walsh averages without materialising them: 10^5 pairs have
 * 5 x 10^9. With d sorted, the number of sums d_i + d_j (i <= j) at most v
 * is counted in O(n) by a pointer that only moves left as i grows, and
 * the k-th smallest sum is the least double v whose count exceeds k:
 * bisection on the IEEE bit pattern (which orders doubles as integers)
 * finds it in at most 64 counts, and it is always one of the sums exactly.
 * Four selections at n = 10^5 take about 2.6 x 10^7 steps and O(n) memory.
 * Floating-point addition is monotone, so the rounded sums are ordered as
 * R's outer(x, x, "+") values are, and the selected value is bit-identical.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <float.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    EXACT_MAX_N = 50,    /* scipy 1.10's 'auto' limit for the test */
    HL_EXACT_MAX_N = 49, /* R: exact <- n < 50 */
};

void cn_stats_signrank_opts_init(cn_signrank_opts_t *opts)
{
    opts->alternative = CN_ALT_TWO_SIDED;
    opts->zero_method = CN_ZERO_PRATT;
    opts->use_continuity = 0;
    opts->method = CN_SIGNRANK_AUTO;
}

const char *cn_stats_zero_method_name(cn_zero_method_t z)
{
    static const char *const names[] = {"pratt", "wilcox", "zsplit"};
    return (unsigned)z < 3 ? names[z] : "unknown";
}

const char *cn_stats_signrank_method_name(cn_signrank_method_t m)
{
    static const char *const names[] = {"auto", "exact", "approx"};
    return (unsigned)m < 3 ? names[m] : "unknown";
}

/*
 * The paired differences x_i - y_i (or x itself when y is NULL), checked:
 * sizes, finiteness, and no overflow to infinity. Fresh array.
 */
static int differences(const double *x, size_t nx, const double *y, size_t ny,
                       double **out)
{
    if ((nx && !x) || (y && ny != nx) || (!y && ny != 0))
        return CN_EINVAL;
    if (nx == 0)
        return CN_ETOOFEW;
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(x[i]) || (y && !isfinite(y[i])))
            return CN_ENONFINITE;
    double *d = cn_xmallocarray(nx, sizeof *d);
    for (size_t i = 0; i < nx; i++) {
        d[i] = y ? x[i] - y[i] : x[i];
        if (!isfinite(d[i])) {
            free(d);
            return CN_ETOOBIG;
        }
    }
    *out = d;
    return 0;
}

/* Counts of the sign patterns with R+ = r, r = 0..n(n+1)/2, as doubles
 * (exact: at most C(50, 25) < 2^53). Fresh array. */
static double *signrank_counts(size_t n)
{
    size_t top = n * (n + 1) / 2;
    double *c = cn_xcalloc(top + 1, sizeof *c);
    c[0] = 1;
    for (size_t k = 1; k <= n; k++) {
        size_t hi = k * (k + 1) / 2;
        for (size_t r = hi; r >= k; r--)
            c[r] += c[r - k];
    }
    return c;
}

int cn_stats_signrank(const double *x, size_t nx, const double *y, size_t ny,
                      const cn_signrank_opts_t *opts, cn_signrank_result_t *out)
{
    cn_signrank_opts_t o;
    if (!out)
        return CN_EINVAL;
    if (opts)
        o = *opts;
    else
        cn_stats_signrank_opts_init(&o);
    if ((unsigned)o.alternative > CN_ALT_GREATER || (unsigned)o.zero_method > 2 ||
        (unsigned)o.method > CN_SIGNRANK_APPROX)
        return CN_EINVAL;
    double *d;
    int rc = differences(x, nx, y, ny, &d);
    if (rc)
        return rc;

    size_t n = nx, n_zero = 0;
    for (size_t i = 0; i < n; i++)
        n_zero += d[i] == 0;
    /* 'wilcox' ranks only the non-zero differences. */
    if (o.zero_method == CN_ZERO_WILCOX) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (d[i] != 0)
                d[w++] = d[i];
        n = w;
    }
    double *absd = cn_xmallocarray(n ? n : 1, sizeof *absd);
    double *ranks = cn_xmallocarray(n ? n : 1, sizeof *ranks);
    for (size_t i = 0; i < n; i++)
        absd[i] = fabs(d[i]);
    double tie_term = 0;
    if (n)
        cn_stats_rank(absd, n, ranks, &tie_term);
    double r_plus = 0, r_minus = 0, r_zero = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] > 0)
            r_plus += ranks[i];
        else if (d[i] < 0)
            r_minus += ranks[i];
        else
            r_zero += ranks[i];
    }
    if (o.zero_method == CN_ZERO_ZSPLIT) {
        r_plus += r_zero / 2;
        r_minus += r_zero / 2;
    }
    int has_ties = 0;
    {
        /* Ties among the non-zero |d|: the tie term without the zeros'. */
        double z0 = (double)n_zero;
        double zero_group = o.zero_method == CN_ZERO_WILCOX ? 0 : z0 * z0 * z0 - z0;
        has_ties = tie_term - zero_group > 0;
    }
    double T = o.alternative == CN_ALT_TWO_SIDED ? fmin(r_plus, r_minus) : r_plus;

    cn_signrank_method_t mode = o.method;
    if (mode == CN_SIGNRANK_AUTO)
        mode = nx <= EXACT_MAX_N && n_zero == 0 && !has_ties ? CN_SIGNRANK_EXACT
                                                             : CN_SIGNRANK_APPROX;
    else if (mode == CN_SIGNRANK_EXACT && (n_zero > 0 || has_ties))
        mode = CN_SIGNRANK_APPROX;
    if (mode == CN_SIGNRANK_EXACT && n > 1000) {
        rc = CN_ETOOBIG; /* the count table is O(n^2) doubles */
        goto out;
    }

    out->r_plus = r_plus;
    out->r_minus = r_minus;
    out->statistic = T;
    out->n = nx;
    out->n_zero = n_zero;
    out->method = mode;
    if (n_zero == nx && o.zero_method != CN_ZERO_ZSPLIT) {
        out->statistic = 0;
        out->z = 0;
        out->pvalue = 1;
        goto out;
    }
    if (mode == CN_SIGNRANK_APPROX) {
        double cnt = (double)n;
        double mn = cnt * (cnt + 1) * 0.25;
        double se = cnt * (cnt + 1) * (2 * cnt + 1);
        double tt = tie_term;
        if (o.zero_method == CN_ZERO_PRATT) {
            double z0 = (double)n_zero;
            mn -= z0 * (z0 + 1) * 0.25;
            se -= z0 * (z0 + 1) * (2 * z0 + 1);
            tt -= z0 * z0 * z0 - z0;
        }
        se -= 0.5 * tt;
        se = sqrt(se / 24);
        double cc = 0;
        if (o.use_continuity) {
            if (o.alternative == CN_ALT_TWO_SIDED)
                cc = T > mn ? 0.5 : T < mn ? -0.5 : 0;
            else
                cc = o.alternative == CN_ALT_LESS ? -0.5 : 0.5;
        }
        double z = (T - mn - cc) / se;
        double p;
        if (o.alternative == CN_ALT_TWO_SIDED)
            p = 2 * gsl_cdf_ugaussian_Q(fabs(z));
        else if (o.alternative == CN_ALT_GREATER)
            p = gsl_cdf_ugaussian_Q(z);
        else
            p = gsl_cdf_ugaussian_P(z);
        out->z = z;
        out->pvalue = p > 1 ? 1 : p;
    } else {
        size_t top = n * (n + 1) / 2;
        double *cnt = signrank_counts(n);
        double scale = ldexp(1.0, -(int)n);
        size_t r = (size_t)r_plus; /* an integer: no ties */
        double le = 0, ge = 0;
        for (size_t i = 0; i <= top; i++) {
            if (i <= r)
                le += cnt[i] * scale;
            if (i >= r)
                ge += cnt[i] * scale;
        }
        free(cnt);
        double p;
        if (o.alternative == CN_ALT_TWO_SIDED)
            p = r == top / 2 ? 1 : 2 * fmin(le, ge);
        else
            p = o.alternative == CN_ALT_GREATER ? ge : le;
        out->z = NAN;
        out->pvalue = p > 1 ? 1 : p < 0 ? 0 : p;
    }
out:
    free(absd);
    free(ranks);
    free(d);
    return rc;
}

/* ------------------------------------------------ Hodges-Lehmann, paired */

/* Doubles ordered as unsigned integers: -0.0 just below +0.0. */
static uint64_t order_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

static double key_value(uint64_t k)
{
    uint64_t u = k >> 63 ? k & ~(UINT64_C(1) << 63) : ~k;
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Number of sums d_i + d_j, i <= j, at most v; d sorted ascending. */
static uint64_t walsh_count_le(const double *d, size_t n, double v)
{
    uint64_t count = 0;
    size_t c = n; /* sums d_i + d_j with j < c are <= v */
    for (size_t i = 0; i < n; i++) {
        while (c > 0 && d[i] + d[c - 1] > v)
            c--;
        if (c <= i)
            break; /* d grows: no later row has any */
        count += c - i;
    }
    return count;
}

/* The k-th smallest (0-based) sum d_i + d_j, i <= j: the least double
 * whose count exceeds k, by bisection on the bit pattern. */
static double walsh_select_sum(const double *d, size_t n, uint64_t k)
{
    uint64_t lo = order_key(d[0] + d[0]), hi = order_key(d[n - 1] + d[n - 1]);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (walsh_count_le(d, n, key_value(mid)) > k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return key_value(lo) + 0.0; /* -0.0 becomes 0 */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* R's qsignrank(p, n) for p <= 0.5 and psignrank(q, n), lower tail, step
 * for step (nmath/signrank.c): counts times exp(-n ln 2), the quantile's
 * 10 DBL_EPSILON fuzz, the cdf's summing from the nearer tail. */
static double r_qsignrank(double p, size_t n, const double *cnt)
{
    double f = exp(-(double)n * M_LN2), acc = 0;
    double x = p - 10 * DBL_EPSILON;
    size_t q = 0, top = n * (n + 1) / 2;
    for (;;) {
        acc += cnt[q] * f;
        if (acc >= x || q >= top)
            break;
        q++;
    }
    return (double)q;
}

static double r_psignrank(double q, size_t n, const double *cnt)
{
    double x = floor(q + 1e-7), top = (double)(n * (n + 1) / 2);
    if (x < 0)
        return 0;
    if (x >= top)
        return 1;
    double f = exp(-(double)n * M_LN2), p = 0;
    if (x <= top / 2) {
        for (size_t i = 0; (double)i <= x; i++)
            p += cnt[i] * f;
        return p;
    }
    x = top - x;
    for (size_t i = 0; (double)i < x; i++)
        p += cnt[i] * f;
    return 1 - p;
}

int cn_stats_hl_paired(const double *x, size_t nx, const double *y, size_t ny,
                       double confidence, cn_hl_result_t *out)
{
    if (!out)
        return CN_EINVAL;
    if (!(confidence > 0 && confidence < 1))
        return CN_EINVAL;
    double *d;
    int rc = differences(x, nx, y, ny, &d);
    if (rc)
        return rc;
    size_t n = nx;
    cn_stats_sort(d, n);
    /* The extreme sums must be finite for the bisection's bounds. */
    if (!isfinite(d[0] + d[0]) || !isfinite(d[n - 1] + d[n - 1])) {
        free(d);
        return CN_ETOOBIG;
    }
    int zeros = 0, ties = 0;
    for (size_t i = 0; i < n; i++)
        zeros |= d[i] == 0;
    if (!zeros && n <= HL_EXACT_MAX_N) {
        double *absd = cn_xmallocarray(n, sizeof *absd);
        for (size_t i = 0; i < n; i++)
            absd[i] = fabs(d[i]);
        qsort(absd, n, sizeof *absd, cmp_double);
        for (size_t i = 1; i < n; i++)
            ties |= absd[i] == absd[i - 1];
        free(absd);
    }
    uint64_t big_n = (uint64_t)n * (n + 1) / 2;
    double alpha = 1 - confidence;
    uint64_t k;
    double coverage;
    int exact = !zeros && !ties && n <= HL_EXACT_MAX_N;
    if (exact) {
        double *cnt = signrank_counts(n);
        double qu = r_qsignrank(alpha / 2, n, cnt);
        if (qu == 0)
            qu = 1;
        coverage = 1 - 2 * r_psignrank(trunc(qu) - 1, n, cnt);
        free(cnt);
        k = (uint64_t)qu - 1;
        /* R's cint = c(diffs[qu], diffs[N - qu + 1]); qu past the middle
         * (tiny n at a low confidence) would invert it: clamp as below. */
        if (k > (big_n - 1) / 2)
            k = (big_n - 1) / 2;
    } else {
        double z = gsl_cdf_ugaussian_Qinv(alpha / 2);
        double nn = (double)n;
        double sigma = sqrt(nn * (nn + 1) * (2 * nn + 1) / 24);
        double t = (double)big_n / 2 - z * sigma;
        k = t < 0 ? 0 : (uint64_t)floor(t);
        if (k > (big_n - 1) / 2)
            k = (big_n - 1) / 2;
        double w = ((double)big_n / 2 - ((double)k + 0.5)) / sigma;
        coverage = erf(w / M_SQRT2);
    }
    out->ci_low = walsh_select_sum(d, n, k) / 2;
    out->ci_high = walsh_select_sum(d, n, big_n - 1 - k) / 2;
    uint64_t mid = (big_n - 1) / 2;
    double m1 = walsh_select_sum(d, n, mid) / 2;
    double m2 = big_n % 2 ? m1 : walsh_select_sum(d, n, mid + 1) / 2;
    out->estimate = 0.5 * m1 + 0.5 * m2;
    out->achieved_confidence = coverage;
    out->exact = exact;
    free(d);
    return 0;
}

/* ------------------------------------------------------------ agreement */

int cn_stats_wilson_ci(uint64_t k, uint64_t n, double confidence, double *lo,
                       double *hi)
{
    if (!lo || !hi || !(confidence > 0 && confidence < 1) || k > n)
        return CN_EINVAL;
    if (n == 0)
        return CN_ETOOFEW;
    /* scipy 1.10's _binom_wilson_conf_int (Newcombe 1998), term for term. */
    double z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * confidence);
    double nn = (double)n, p = (double)k / nn, q = 1 - p;
    double denom = 2 * (nn + z * z);
    double center = (2 * nn * p + z * z) / denom;
    double delta = z / denom * sqrt(4 * nn * p * q + z * z);
    *lo = k == 0 ? 0.0 : center - delta;
    *hi = k == n ? 1.0 : center + delta;
    return 0;
}

int cn_stats_agreement(const double *x, size_t nx, const double *y, size_t ny,
                       double confidence, cn_agreement_result_t *out)
{
    if (!out || (nx && !x) || (ny && !y) || nx != ny)
        return CN_EINVAL;
    if (!(confidence > 0 && confidence < 1))
        return CN_EINVAL;
    if (nx == 0)
        return CN_ETOOFEW;
    uint64_t agree = 0;
    for (size_t i = 0; i < nx; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return CN_ENONFINITE;
        agree += x[i] == y[i];
    }
    double lo, hi;
    int rc = cn_stats_wilson_ci(agree, nx, confidence, &lo, &hi);
    if (rc)
        return rc;
    out->agree = agree;
    out->n = nx;
    out->rate = (double)agree / (double)nx;
    out->ci_low = lo;
    out->ci_high = hi;
    return 0;
}
