/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The exact null distribution of the Wilcoxon-Mann-Whitney statistic.
 *
 * Under H0, with no ties, every one of the C(n+m, n) ways to interleave the
 * two sorted samples is equally likely, and U = #{(i, j): x_i > y_j} is the
 * number of (x, y) inversions of the interleaving. The number of
 * interleavings with U = k is the number of partitions of k that fit in an
 * n x m box (at most n parts, each at most m), which is the coefficient of
 * q^k in the Gaussian binomial coefficient
 *
 *     [n+m choose n]_q = prod_{i=1}^{s} (1 - q^(L+i)) / (1 - q^i),
 *
 * with s = min(n, m) and L = max(n, m) (Andrews, "The Theory of Partitions",
 * 1976, thm. 3.1; Di Bucchianico, J. Statist. Plann. Inference 79, 1999).
 *
 * Why this method. R's cwilcox() and scipy's _MWU._f() memoise the counting
 * recursion f(k; n, m) = f(k - m; n - 1, m) + f(k; n, m - 1), which visits
 * every (i <= n, j <= m, k <= ij/2): O(n^2 m^2) time and memory, fine for
 * n, m < 50 but hopeless at 1000 x 1000. The product above costs
 * O(s * n * m): we build the coefficients of the partial products
 * P_i = [L+i choose i]_q one factor at a time,
 *
 *     H   = P_{i-1} / (1 - q^i)          H[k] = P_{i-1}[k] + H[k - i]
 *     P_i = H * (1 - q^(L+i))            P_i[k] = H[k] - H[k - (L+i)]
 *
 * so that after every step the array holds a genuine Gaussian binomial with
 * non-negative coefficients. The price is numerical: 1/(1 - q^i) times
 * (1 - q^(L+i)) is a kernel with an infinite comb of alternating signs
 * unless i divides L, so rounding errors are not damped but carried along,
 * and they compound from one factor to the next. We measured the worst
 * relative error of any P(U = k) in the half we use against a __float128
 * run of the same recursion (itself checked against exact big-integer
 * counts) for every L from s to 3s and sampled L up to the n*m limit: it
 * is 1e-18 up to s = 50, 2e-16 at s = 80, 1e-15 at s = 100 (worst near
 * L = 1.3 s), then grows fast and erratically: 9e-15 at s = 120, 2e-13 at
 * s = 150, 3e-11 at 200 x 250, 5e-6 at 400 x 1000. (Long double throughout;
 * plain double would be 2^11 times worse.) So we refuse
 * s > CN_WILCOX_MAX_MIN = 100 with CN_ETOOBIG rather than return a silently
 * inexact answer. That costs little: R's wilcox.test uses the exact
 * distribution only below 50 and scipy's 'auto' only for s <= 8, where the
 * normal approximation is poor; at s = 100 it is excellent.
 * Only the lower half k <= nm/2 is ever built (f(k) = f(nm - k)); the
 * recursion for coefficient k reads only coefficients below k, so the
 * truncation is exact.
 *
 * The counts themselves reach C(40100, 100) ~ 1e302 within the size limits,
 * at the edge of double's range, so we carry probabilities instead: each
 * step is divided by C(L+i, i) / C(L+i-1, i-1) = (L+i)/i, and the array
 * holds P(U_i = k) for the i x L problem. The extreme tails come near
 * DBL_MIN, and we want every bit we can get, so the arithmetic is in long
 * double (64-bit mantissa and 15-bit exponent on x86-64); where long double
 * is plain double, the error figures above are 2^11 times larger and the
 * farthest tails lose precision to subnormals.
 *
 * The cdf and quantile reproduce R's pwilcox() and qwilcox() (R 4.2,
 * src/nmath/wilcox.c) step for step: the same floor(q + 1e-7) rounding, the
 * same choice of which tail to sum, the same summation order in double, the
 * same 10 * DBL_EPSILON fuzz in the quantile search. That alone is not
 * enough for qwilcox() to agree exactly. R divides its counts by its own
 * choose(n + m, n), which for min(n, m) >= 30 is exp(lfastchoose()) and off
 * by up to ~1e-14 relative (choose(85, 40) by 4e-15); every R probability
 * carries that factor, and when p is itself a value of pwilcox() -- as it
 * is whenever a caller inverts a cdf -- the factor decides which side of
 * the fuzz the running sum lands on. So we compute R's choose() bit for bit
 * (r_choose() below, a transcription of nmath/choose.c, lbeta.c,
 * lgammacor.c and chebyshev.c for integer arguments) and scale our exact
 * probabilities by C(n+m, n) / r_choose(n+m, n). The result: quantiles
 * equal R's, and probabilities agree with R's to ~1e-15 and with the exact
 * values to R's ~1e-14.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/*
 * The null probabilities P(U = k) for k = 0..kmax (kmax <= n*m) of the
 * n x m problem, as a fresh array the caller frees. O(min(n,m) * kmax).
 */
static long double *wilcox_pmf(size_t n, size_t m, size_t kmax)
{
    size_t s = n < m ? n : m;
    size_t big = n < m ? m : n;
    long double *a = cn_xcalloc(kmax + 1, sizeof *a);
    a[0] = 1.0L;
    for (size_t i = 1; i <= s; i++) {
        size_t top = i * big < kmax ? i * big : kmax;
        for (size_t k = i; k <= top; k++)
            a[k] += a[k - i];
        long double scale = (long double)i / (long double)(big + i);
        size_t gap = big + i;
        for (size_t k = top + 1; k-- > 0;) {
            long double v = a[k];
            if (k >= gap)
                v -= a[k - gap];
            a[k] = v * scale;
        }
    }
    return a;
}

/* R's chebyshev_eval() (nmath/chebyshev.c). */
static double r_chebyshev_eval(double x, const double *a, int n)
{
    double b0 = 0, b1 = 0, b2 = 0, twox = x * 2;
    for (int i = 1; i <= n; i++) {
        b2 = b1;
        b1 = b0;
        b0 = twox * b1 - b2 + a[n - i];
    }
    return (b0 - b2) * 0.5;
}

/* R's lgammacor() (nmath/lgammacor.c) for x >= 10: the remainder of
 * Stirling's series, log Gamma(x) - ((x - 1/2) log x - x + log sqrt(2 pi)). */
static double r_lgammacor(double x)
{
    static const double algmcs[5] = {
        +.1666389480451863247205729650822e+0,  -.1384948176067563840732986059135e-4,
        +.9810825646924729426157171547487e-8,  -.1809129475572494194263306266719e-10,
        +.6221098041892605227126015543416e-13,
    };
    const double xbig = 94906265.62425156;
    if (x < xbig) {
        double tmp = 10 / x;
        return r_chebyshev_eval(tmp * tmp * 2 - 1, algmcs, 5) / x;
    }
    return 1 / (x * 12);
}

/* R's lbeta() (nmath/lbeta.c), only the branch min(a, b) >= 10. */
static double r_lbeta_big(double a, double b)
{
    const double ln_sqrt_2pi = 0.918938533204672741780329736406;
    double p = a < b ? a : b, q = a < b ? b : a;
    double corr = r_lgammacor(p) + r_lgammacor(q) - r_lgammacor(p + q);
    return log(q) * -0.5 + ln_sqrt_2pi + corr + (p - 0.5) * log(p / (p + q)) +
           q * log1p(-p / (p + q));
}

/*
 * R's choose(n, k) (nmath/choose.c) for integers 0 <= k <= n, which is what
 * pwilcox() and qwilcox() divide by. Below k = 30 a running product rounded
 * to the nearest integer, above it exp(lfastchoose()).
 */
static double r_choose(double n, double k)
{
    const double k_small_max = 30;
    if (n - k < k)
        k = n - k; /* R reaches the same k by its two symmetry steps */
    if (k < k_small_max) {
        if (k == 0)
            return 1;
        double r = n;
        for (int j = 2; j <= (int)k; j++)
            r *= (n - j + 1) / j;
        return nearbyint(r);
    }
    return nearbyint(exp(-log(n + 1.) - r_lbeta_big(n - k + 1., k + 1.)));
}

/*
 * The probabilities R's pwilcox() would sum, P(U = k) = cwilcox(k) / choose,
 * for k = 0..kmax: our exact probabilities times C(n+m, n) / r_choose(). The
 * caller frees. Where r_choose() overflows (C(n+m, n) > DBL_MAX, far beyond
 * what R itself can evaluate) there is nothing to imitate: no scaling.
 */
static double *r_pmf(size_t n, size_t m, size_t kmax)
{
    size_t s = n < m ? n : m, big = n < m ? m : n;
    long double exact_c = 1;
    for (size_t i = 1; i <= s; i++)
        exact_c = exact_c * (long double)(big + i) / (long double)i;
    double r_c = r_choose((double)(n + m), (double)s);
    long double scale = 1;
    if (isfinite(r_c) && isfinite((double)exact_c) && exact_c <= (long double)DBL_MAX)
        scale = exact_c / r_c;
    long double *pmf = wilcox_pmf(n, m, kmax);
    double *out = cn_xmallocarray(kmax + 1, sizeof *out);
    for (size_t k = 0; k <= kmax; k++)
        out[k] = (double)(pmf[k] * scale);
    free(pmf);
    return out;
}

static int check_sizes(size_t n, size_t m)
{
    if (n == 0 || m == 0)
        return CN_ETOOFEW;
    if (n > CN_WILCOX_MAX_NM || m > CN_WILCOX_MAX_NM / n)
        return CN_ETOOBIG;
    if ((n < m ? n : m) > CN_WILCOX_MAX_MIN)
        return CN_ETOOBIG;
    return 0;
}

/*
 * P(U <= q) for an integer q, 0 <= q < n*m, as R's pwilcox: sum the pmf in
 * double over the shorter side, and complement when that is the upper one.
 */
static double cdf_int(size_t q, size_t n, size_t m)
{
    size_t nm = n * m;
    double p = 0;
    if ((double)q <= (double)nm / 2) {
        double *pmf = r_pmf(n, m, q);
        for (size_t i = 0; i <= q; i++)
            p += pmf[i];
        free(pmf);
        return p;
    }
    size_t r = nm - q; /* >= 1: P(U <= q) = 1 - P(U >= q+1) = 1 - P(U < r) */
    double *pmf = r_pmf(n, m, r - 1);
    for (size_t i = 0; i < r; i++)
        p += pmf[i];
    free(pmf);
    return 0.5 - p + 0.5; /* R_D_Cval */
}

int cn_stats_wilcox_cdf(double u, size_t n, size_t m, double *out)
{
    int rc = check_sizes(n, m);
    if (rc)
        return rc;
    if (!isfinite(u))
        return CN_ENONFINITE;
    double q = floor(u + 1e-7);
    if (q < 0) {
        *out = 0.0;
        return 0;
    }
    if (q >= (double)(n * m)) {
        *out = 1.0;
        return 0;
    }
    *out = cdf_int((size_t)q, n, m);
    return 0;
}

int cn_stats_wilcox_sf(double u, size_t n, size_t m, double *out)
{
    int rc = check_sizes(n, m);
    if (rc)
        return rc;
    if (!isfinite(u))
        return CN_ENONFINITE;
    /* P(U >= u) = P(U >= k) with k the least integer >= u (same 1e-7 fuzz as
     * the cdf), and by symmetry P(U >= k) = P(U <= nm - k). */
    double k = ceil(u - 1e-7);
    double nm = (double)(n * m);
    if (k <= 0) {
        *out = 1.0;
        return 0;
    }
    if (k > nm) {
        *out = 0.0;
        return 0;
    }
    *out = cdf_int((size_t)(nm - k), n, m);
    return 0;
}

int cn_stats_wilcox_quantile(double p, size_t n, size_t m, double *out)
{
    int rc = check_sizes(n, m);
    if (rc)
        return rc;
    if (isnan(p))
        return CN_ENONFINITE;
    if (p < 0 || p > 1)
        return CN_EINVAL;
    size_t nm = n * m;
    if (p == 0) {
        *out = 0;
        return 0;
    }
    if (p == 1) {
        *out = (double)nm;
        return 0;
    }
    /* R's search never passes the middle of the distribution; take one
     * coefficient past it and fall back to symmetry if it ever would. */
    size_t half = nm / 2 + 1;
    if (half > nm)
        half = nm;
    double *pmf = r_pmf(n, m, half);
    double acc = 0.0;
    size_t q = 0;
    if (p <= 0.5) {
        double x = p - 10 * DBL_EPSILON;
        for (;;) {
            acc += pmf[q <= half ? q : nm - q];
            if (acc >= x || q >= nm)
                break;
            q++;
        }
    } else {
        double x = 1 - p + 10 * DBL_EPSILON;
        for (;;) {
            acc += pmf[q <= half ? q : nm - q];
            if (acc > x || q >= nm) {
                q = nm - q;
                break;
            }
            q++;
        }
    }
    free(pmf);
    *out = (double)q;
    return 0;
}
