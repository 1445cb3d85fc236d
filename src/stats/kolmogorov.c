/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The finite-n null distribution of the one-sample Kolmogorov-Smirnov
 * statistics, ported from scipy 1.10 so that the two-sample test's
 * asymptotic p-values (ks.c) agree with scipy.stats.ks_2samp.
 *
 * Why a port and not a library call: ks_2samp's two-sided asymptotic
 * p-value is not the limiting Kolmogorov distribution K(sqrt(n) d) that
 * textbooks give, but the *finite-n* one-sample distribution evaluated at
 * n = round(n1 n2 / (n1 + n2)): kstwo.sf(d, n). For the small n that
 * unbalanced samples produce (n1 = 3, n2 = 20000 gives n = 3) the two
 * differ in the second digit, so matching scipy means computing exactly
 * what scipy computes. GSL has no KS distribution at all.
 *
 * D_n = sup_t |F_n(t) - F(t)| for n observations from a continuous F.
 * There is no single good algorithm for P(D_n >= d) over all (n, d), so
 * scipy follows Simard and L'Ecuyer (2011), who compare the candidates and
 * choose by n and by n d^2 (see kstwo_sf() for the exact selection):
 *
 *  - Ruben and Gambino's closed forms at the ends of the support:
 *      P(D_n <= d) = n!/n^n (2nd - 1)^n      for 1/(2n) <= d <= 1/n,
 *      P(D_n >= d) = 2 (1 - d)^n             for d >= 1 - 1/n.
 *  - For d >= 1/2 the events D+ >= d and D- >= d are disjoint, so
 *    P(D_n >= d) = 2 P(D+_n >= d) exactly; in the far upper tail (n d^2
 *    large) the same doubling is an excellent approximation (Miller 1956).
 *    P(D+_n >= d) is Smirnov's (1944) / Birnbaum and Tingey's (1951) sum
 *        P(D+_n >= d) = d sum_{v=0}^{floor(n(1-d))} C(n,v)
 *                         (d + v/n)^(v-1) (1 - d - v/n)^(n-v),
 *    scipy.special.smirnov; see smirnov_sf().
 *  - Durbin's (1968) matrix algorithm as organised by Marsaglia, Tsang and
 *    Wang (2003): with nd = k - h, 0 <= h < 1, P(D_n < d) is
 *    n!/n^n times the (k,k) entry of H^n for an explicit (2k-1)-square
 *    matrix H; O(k^3 log n), so only for small nd (dmtw_cdf()).
 *  - Pomeranz's (1974) recursion, O(n^2 d), for n <= 140 in the middle
 *    range (pomeranz_cdf()).
 *  - Pelz and Good's (1976) asymptotic series, in the form
 *    K0 + K1/sqrt(n) + K2/n + K3/n^(3/2) in z = sqrt(n) d, transformed
 *    with Jacobi theta identities so it converges for small z
 *    (pelz_good_cdf()).
 *
 * Each function below follows the scipy code operation for operation
 * (scipy/stats/_ksstats.py for the first group, scipy/special/cephes/
 * kolmogorov.c for smirnov), including its scaling by 2^+-128 and its use
 * of extended precision where numpy promotes to long double. The one
 * deliberate difference: scipy evaluates the Smirnov sum in double-double
 * arithmetic; we evaluate each term in the log2 domain (see
 * cn__stats_smirnov_sf()), which agrees with a 45-digit evaluation to
 * about 1e-14 relative at n = 10^5 and is ~30 times faster: the sum has
 * O(n) terms of similar size, and n reaches 5e5 in a 10^6 x 10^6 test.
 *
 * References
 *  Durbin J (1968). The probability that the sample distribution function
 *    lies between two parallel straight lines. Ann Math Stat 39, 398-411.
 *  Marsaglia G, Tsang WW, Wang J (2003). Evaluating Kolmogorov's
 *    distribution. J Stat Softw 8(18).
 *  Pomeranz J (1974). Exact cumulative distribution of the Kolmogorov-
 *    Smirnov statistic for small samples (Algorithm 487). CACM 17, 703-704.
 *  Pelz W, Good IJ (1976). Approximating the lower tail-areas of the
 *    Kolmogorov-Smirnov one-sample statistic. JRSS B 38, 152-156.
 *  Simard R, L'Ecuyer P (2011). Computing the two-sided Kolmogorov-Smirnov
 *    distribution. J Stat Softw 39(11).
 *  Smirnov NV (1944). Approximate laws of distribution of random variables
 *    from empirical data. Usp Mat Nauk 10, 179-206.
 *  van Mulbregt P (2018). Computing the cumulative distribution function
 *    and quantiles of the one-sided Kolmogorov-Smirnov statistic.
 *    arXiv:1802.06966 (the scipy smirnov implementation).
 */
#include "stats/kolmogorov.h"
#include "util/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The ports below follow scipy's double operations one for one, and a fused
 * multiply-add would change their rounding (FMA is used only explicitly).
 * GCC does not contract in ISO C mode; clang must be told. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* scipy rescales by 2^+-128 to keep products inside double range. */
#define SCALE_EXP 128
static const long double SCALE_UP = 0x1p128L;
static const long double SCALE_DOWN = 0x1p-128L;

/* cephes MINLOG: log(2^-1075); exp() of anything smaller is zero. */
#define CEPHES_MINLOG (-7.451332191019412076235E2)

/* np.clip(p, 0, 1); NaN stays NaN. */
static double clip01(double p)
{
    if (p < 0.0)
        return 0.0;
    if (p > 1.0)
        return 1.0;
    return p;
}

static long double clip01l(long double p)
{
    if (p < 0.0L)
        return 0.0L;
    if (p > 1.0L)
        return 1.0L;
    return p;
}

/* ------------------------------------------------------------- Smirnov */

/* The rounding error of s = a + b (Knuth's two-sum): a + b == s + err. */
static double two_sum_err(double a, double b, double s)
{
    double bb = s - a;
    return (a - (s - bb)) + (b - bb);
}

/*
 * floor(n x) and its fractional part alpha, computed from the exact
 * product n x = hi + lo (an FMA gives the rounding error exactly), as
 * scipy's modNX() does in double-double. alpha is in [0, 1).
 */
static void mod_nx(int64_t n, double x, double *nx_hi, double *nx_lo, int64_t *nxfl,
                   double *alpha)
{
    double dn = (double)n;
    double hi = dn * x;
    double lo = fma(dn, x, -hi);
    double fl = floor(hi);
    double a;
    if (fl == hi) {
        if (lo < 0) {
            fl -= 1.0;
            a = 1.0 + lo;
        } else {
            a = lo;
        }
    } else {
        a = (hi - fl) + lo;
    }
    int64_t f = (int64_t)fl;
    if (a >= 1.0) {
        f += 1;
        a = 0.0;
    }
    *nx_hi = hi;
    *nx_lo = lo;
    *nxfl = f;
    *alpha = a;
}

/*
 * P(D+_n >= x), scipy.special.smirnov(n, x). The structure (special cases,
 * choice between the lower sum for the SF and the short alternating upper
 * sum for the CDF, early termination) is scipy's _smirnov(). A term is
 *     A_v = C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v),
 * evaluated as exp2() of its base-2 logarithm: C(n,v) alone overflows
 * any floating type for n ~ 10^5. The rounding errors of the bases are
 * recovered exactly and applied to first order, and the large, cancelling
 * parts of the exponent are added in long double, so each term carries
 * only log2()'s own rounding, ~ (n - v) 2^-53 relative, which averages out
 * over the terms. The base 1 - x - v/n is formed from the exact product
 * n x, so it has no cancellation error when it is small.
 */
double cn__stats_smirnov_sf(int64_t n, double x)
{
    if (!(n > 0 && x >= 0.0 && x <= 1.0))
        return NAN;
    if (n == 1)
        return 1.0 - x;
    if (x == 0.0)
        return 1.0;
    if (x == 1.0)
        return 0.0;

    double nx_hi, nx_lo, alpha;
    int64_t nxfl;
    mod_nx(n, x, &nx_hi, &nx_lo, &nxfl, &alpha);
    int64_t n1mxfl = n - nxfl - (alpha == 0 ? 0 : 1);
    int64_t n1mxceil = n - nxfl;
    /* If alpha is 0 the last term of either sum is zero; leave it out. */
    if (alpha == 0) {
        n1mxfl -= 1;
        n1mxceil += 1;
    }

    /* x <= 1/n: P(D+ < x) = x (1 + x)^(n-1). */
    if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {
        long double t = powl(1.0L + (long double)x, (long double)(n - 1));
        double cdf = (double)((long double)x * t);
        return 1.0 - cdf;
    }
    /* The SF underflows double. */
    if (-2.0 * (double)n * x * x < CEPHES_MINLOG)
        return 0.0;
    /* x >= 1 - 1/n: only the v = 0 term remains. */
    if (nxfl >= n - 1)
        return (double)powl(1.0L - (long double)x, (long double)n);
    /* scipy's cut-off for the O(n) sum: p ~ exp(-(6nx+1)^2 / 18n). */
    if (n > 1000000) {
        double logp = -pow(6.0 * (double)n * x + 1, 2) / 18.0 / (double)n;
        if (logp < -M_LN2)
            return exp(logp);
        return 1.0 - (-expm1(logp));
    }

    /* The upper sum has few terms when x is small; scipy uses it only
     * then, as its terms alternate in sign and exceed 1. */
    int64_t n_upper_terms = n - n1mxceil + 1;
    int use_upper = (n_upper_terms <= 1 && x < 0.5) ||
                    (n >= 10 && n_upper_terms <= 3 && x <= 0.5 / sqrt((double)n));
    int64_t start = 0, step = 1, n_terms = n1mxfl + 1;
    if (use_upper) {
        start = n;
        step = -1;
        n_terms = n - n1mxceil + 1;
    }

    /*
     * C(n, v) is carried as a long double mantissa and a binary exponent;
     * the powers go through log2/exp2 in double. Every term is scaled by
     * 2^term_scale so that terms near the bottom of the double range keep
     * their precision; the scale is undone once at the end.
     */
    long double sum = 0.0L;
    long double c_man = 1.0L;
    int c_exp = 0;
    const int term_scale = 600;
    double dn = (double)n;
    int64_t vmid = n / 2;
    for (int64_t j = 0; j < n_terms; j++) {
        int64_t v = start + j * step;
        /* The bases b1 = x + v/n and b2 = 1 - x - v/n in double, each with
         * its rounding error recovered exactly (FMA, two-sum) and applied to
         * the logarithm to first order: log2(b + e) = log2(b) + e/(b ln 2).
         * Without this the rounding of (n - v) - n x, the same for every v
         * with the same exponent, biases the whole sum by ~ n 2^-53. */
        double q = (double)v / dn;
        double q_err = fma(-q, dn, (double)v) / dn;
        double b1 = x + q;
        double b1_err = two_sum_err(x, q, b1) + q_err;
        long double lg =
            (long double)(v - 1) * ((long double)log2(b1) +
                                    (long double)(b1_err / b1) * (long double)M_LOG2E) +
            (long double)(c_exp + term_scale);
        int negative = 0;
        if (n - v > 0) {
            double num = (double)(n - v) - nx_hi;
            double num_err = two_sum_err((double)(n - v), -nx_hi, num) - nx_lo;
            double b2 = num / dn;
            double b2_err = (fma(-b2, dn, num) + num_err) / dn;
            lg += (long double)(n - v) *
                  ((long double)log2(fabs(b2)) +
                   (long double)(b2_err / b2) * (long double)M_LOG2E);
            negative = b2 < 0 && ((n - v) & 1);
        }
        long double a = c_man * (long double)exp2((double)lg);
        if (negative)
            a = -a;
        if (isfinite(a) && a != 0.0L)
            sum += a;
        if (j > 0) {
            /* Terms decrease past the mode; stop once the rest cannot
             * change the sum in double precision. */
            if (a != 0.0L) {
                if (4.0L * (long double)(n_terms - j) * fabsl(a) < DBL_EPSILON * sum &&
                    j != n_terms - 1)
                    break;
            } else if (j > vmid) {
                break;
            }
        }
        c_man *= (long double)(n - j) / (long double)(j + 1);
        if (c_man > 0x1p64L || c_man < 0x1p-64L) {
            int e;
            c_man = frexpl(c_man, &e);
            c_exp += e;
        }
    }
    sum = ldexpl(sum, -term_scale);
    double prob = (double)((long double)x * sum);
    return clip01(use_upper ? 1.0 - prob : prob);
}

/* ---------------------------------------------------------------- Durbin */

/* c = a b for m x m row-major matrices; c must not alias a or b. The sum
 * over k runs in ascending order for every entry. */
static void matmul(const double *a, const double *b, double *c, int m)
{
    memset(c, 0, (size_t)m * (size_t)m * sizeof *c);
    for (int i = 0; i < m; i++)
        for (int k = 0; k < m; k++) {
            double aik = a[i * m + k];
            for (int j = 0; j < m; j++)
                c[i * m + j] += aik * b[k * m + j];
        }
}

/*
 * P(D_n < d) by Durbin's matrix (Marsaglia, Tsang and Wang 2003), as
 * scipy's _kolmogn_DMTW(): H^n by repeated squaring, rescaling H by 2^-128
 * whenever its (k,k) entry exceeds 2^128, then n!/n^n applied one factor at
 * a time with the same rescaling. Like numpy, the running product switches
 * to long double at the first rescale.
 */
static long double dmtw_cdf(int64_t n, double d)
{
    if (d >= 1.0)
        return 1.0L;
    double nd = (double)n * d;
    if (nd <= 0.5)
        return 0.0L;
    int k = (int)ceil(nd);
    double h = k - nd;
    int m = 2 * k - 1;
    size_t mm = (size_t)m * (size_t)m;

    double *hmat = cn_xcalloc(mm, sizeof *hmat);
    double *hpwr = cn_xcalloc(mm, sizeof *hpwr);
    double *tmp = cn_xmallocarray(mm, sizeof *tmp);
    double *v = cn_xmallocarray((size_t)m, sizeof *v);
    double *w = cn_xmallocarray((size_t)m, sizeof *w);

    /* v[j] = (1 - h^(j+1)) / (j+1)!, w[j] = 1/j! */
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        v[j - 1] = 1.0 - pow(h, j);
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] *= fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;

    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++)
            hmat[r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++)
        hmat[r * m] = v[r];
    for (int c = 0; c < m; c++)
        hmat[(m - 1) * m + c] = v[m - 1 - c];
    for (int i = 0; i < m; i++)
        hpwr[i * m + i] = 1.0;

    int64_t nn = n;
    int64_t expnt = 0, hexpnt = 0;
    while (nn > 0) {
        if (nn % 2) {
            matmul(hpwr, hmat, tmp, m);
            memcpy(hpwr, tmp, mm * sizeof *tmp);
            expnt += hexpnt;
        }
        matmul(hmat, hmat, tmp, m);
        memcpy(hmat, tmp, mm * sizeof *tmp);
        hexpnt *= 2;
        if (fabs(hmat[(k - 1) * m + (k - 1)]) > SCALE_UP) {
            for (size_t i = 0; i < mm; i++)
                hmat[i] = (double)(hmat[i] / SCALE_UP);
            hexpnt += SCALE_EXP;
        }
        nn /= 2;
    }

    /* Multiply by n!/n^n. */
    double pd = hpwr[(k - 1) * m + (k - 1)];
    long double pl = 0.0L;
    int extended = 0;
    for (int64_t i = 1; i <= n; i++) {
        if (!extended) {
            pd = (double)i * pd / (double)n;
            if (fabs(pd) < SCALE_DOWN) {
                pl = (long double)pd * SCALE_UP;
                extended = 1;
                expnt -= SCALE_EXP;
            }
        } else {
            pl = (long double)i * pl / (long double)n;
            if (fabsl(pl) < SCALE_DOWN) {
                pl *= SCALE_UP;
                expnt -= SCALE_EXP;
            }
        }
    }
    long double p = extended ? pl : (long double)pd;
    if (expnt != 0)
        p = ldexpl(p, (int)expnt);

    free(hmat);
    free(hpwr);
    free(tmp);
    free(v);
    free(w);
    return clip01l(p);
}

/* -------------------------------------------------------------- Pomeranz */

static void pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int ceilf, int roundf,
                          int64_t *j1_out, int64_t *j2_out)
{
    int64_t j1, j2;
    if (i == 0) {
        j1 = -ll - ceilf - 1;
        j2 = ll + ceilf - 1;
    } else {
        int64_t ip1div2 = (i + 1) / 2, ip1mod2 = (i + 1) % 2;
        if (ip1mod2 == 0) { /* i is odd */
            if (ip1div2 == n + 1) {
                j1 = n - ll - ceilf - 1;
                j2 = n + ll + ceilf - 1;
            } else {
                j1 = ip1div2 - 1 - ll - roundf - 1;
                j2 = ip1div2 + ll - 1 + ceilf - 1;
            }
        } else {
            j1 = ip1div2 - 1 - ll - 1;
            j2 = ip1div2 + ll + roundf - 1;
        }
    }
    *j1_out = j1 + 2 > 0 ? j1 + 2 : 0;
    *j2_out = j2 < n ? j2 : n;
}

/*
 * P(D_n <= x) by Pomeranz's recursion, as scipy's _kolmogn_Pomeranz():
 * 2n+1 steps, each convolving the previous row's few non-zero entries with
 * one of three scaled Poisson weight vectors, then a factor n!.
 */
static long double pomeranz_cdf(int64_t n, double x)
{
    double t = (double)n * x;
    int64_t ll = (int64_t)floor(t);
    double f = 1.0 * (t - (double)ll);
    double g = f <= 1.0 - f ? f : 1.0 - f;
    int ceilf = f > 0 ? 1 : 0;
    int roundf = f > 0.5 ? 1 : 0;
    int64_t npwrs = 2 * (ll + 1);

    double *gpower = cn_xmallocarray((size_t)npwrs, sizeof *gpower);
    double *twogpower = cn_xmallocarray((size_t)npwrs, sizeof *twogpower);
    double *onem2gpower = cn_xmallocarray((size_t)npwrs, sizeof *onem2gpower);
    double *v0 = cn_xcalloc((size_t)npwrs, sizeof *v0);
    double *v1 = cn_xcalloc((size_t)npwrs, sizeof *v1);
    double *conv = cn_xmallocarray((size_t)(2 * npwrs), sizeof *conv);

    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
    double g_over_n = g / (double)n, two_g_over_n = 2 * g / (double)n;
    double one_minus_two_g_over_n = (1 - 2 * g) / (double)n;
    for (int64_t m = 1; m < npwrs; m++) {
        gpower[m] = gpower[m - 1] * g_over_n / (double)m;
        twogpower[m] = twogpower[m - 1] * two_g_over_n / (double)m;
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / (double)m;
    }

    int64_t expnt = 0;
    int64_t v0s = 0, v1s = 0;
    v1[0] = 1.0;
    int64_t j1, j2;
    pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (int64_t i = 1; i < 2 * n + 2; i++) {
        int64_t k1 = j1;
        double *swap = v0;
        v0 = v1;
        v1 = swap;
        int64_t swaps = v0s;
        v0s = v1s;
        v1s = swaps;
        memset(v1, 0, (size_t)npwrs * sizeof *v1);
        pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pwrs;
        if (i == 1 || i == 2 * n + 1)
            pwrs = gpower;
        else
            pwrs = (i % 2) ? twogpower : onem2gpower;
        int64_t ln2 = j2 - k1 + 1;
        if (ln2 > 0) {
            /* np.convolve(V0[k1-V0s : k1-V0s+ln2], pwrs[:ln2]), with numpy's
             * clipping of slices at the array end. */
            int64_t a_start = k1 - v0s;
            int64_t a_len = ln2;
            if (a_start + a_len > npwrs)
                a_len = npwrs - a_start;
            int64_t b_len = ln2 < npwrs ? ln2 : npwrs;
            const double *a = v0 + a_start, *b = pwrs;
            int64_t la = a_len, lb = b_len;
            if (lb > la) {
                const double *tp = a;
                a = b;
                b = tp;
                int64_t tl = la;
                la = lb;
                lb = tl;
            }
            int64_t conv_n = la + lb - 1;
            for (int64_t c = 0; c < conv_n; c++) {
                double s = 0.0;
                int64_t lo = c - lb + 1 > 0 ? c - lb + 1 : 0;
                int64_t hi = c < la - 1 ? c : la - 1;
                for (int64_t q = lo; q <= hi; q++)
                    s += a[q] * b[c - q];
                conv[c] = s;
            }
            int64_t conv_start = j1 - k1;
            int64_t conv_len = j2 - j1 + 1;
            double vmax = 0.0;
            for (int64_t q = 0; q < conv_len; q++) {
                v1[q] = conv[conv_start + q];
                if (q == 0 || v1[q] > vmax)
                    vmax = v1[q];
            }
            for (int64_t q = conv_len; q < npwrs; q++)
                if (v1[q] > vmax)
                    vmax = v1[q];
            if (0 < vmax && vmax < SCALE_DOWN) {
                for (int64_t q = 0; q < npwrs; q++)
                    v1[q] = (double)(v1[q] * SCALE_UP);
                expnt -= SCALE_EXP;
            }
            v1s = v0s + j1 - k1;
        }
    }

    /* Multiply by n!; numpy promotes to long double at the first rescale. */
    double ad = v1[n - v1s];
    long double al = 0.0L;
    int extended = 0;
    for (int64_t m = 1; m <= n; m++) {
        if (!extended) {
            if (fabs(ad) > SCALE_UP) {
                al = (long double)ad * SCALE_DOWN;
                extended = 1;
                expnt += SCALE_EXP;
                al *= (long double)m;
            } else {
                ad *= (double)m;
            }
        } else {
            if (fabsl(al) > SCALE_UP) {
                al *= SCALE_DOWN;
                expnt += SCALE_EXP;
            }
            al *= (long double)m;
        }
    }
    long double ans = extended ? al : (long double)ad;
    if (expnt != 0)
        ans = ldexpl(ans, (int)expnt);

    free(gpower);
    free(twogpower);
    free(onem2gpower);
    free(v0);
    free(v1);
    free(conv);
    return clip01l(ans);
}

/* ------------------------------------------------------------ Pelz-Good */

#define PI_SQUARED (M_PI * M_PI)
#define PI_FOUR (PI_SQUARED * PI_SQUARED)
#define PI_SIX (PI_FOUR * PI_SQUARED)

/*
 * P(D_n <= x) by the Pelz-Good series, as scipy's _kolmogn_PelzGood():
 * K0..K3 as Horner sums over odd integers in q = exp(-pi^2 / (8 z^2)),
 * plus the extra terms of K2 and K3 summed directly over all integers.
 */
static double pelz_good_cdf(int64_t n, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double z = sqrt((double)n) * x;
    double zsquared = z * z, zthree = pow(z, 3), zfour = pow(z, 4);
    double zsix = pow(z, 6);
    double qlog = -PI_SQUARED / 8 / zsquared;
    if (qlog < -708) /* z ~ 0.0417 */
        return 0.0;
    double q = exp(qlog);

    double k1a = -zsquared;
    double k1b = PI_SQUARED / 4;
    double k2a = 6 * zsix + 2 * zfour;
    double k2b = (2 * zfour - 5 * zsquared) * PI_SQUARED / 4;
    double k2c = PI_FOUR * (1 - 2 * zsquared) / 16;
    double k3d = PI_SIX * (5 - 30 * zsquared) / 64;
    double k3c = PI_FOUR * (-60 * zsquared + 212 * zfour) / 16;
    double k3b = PI_SQUARED * (135 * zfour - 96 * zsix) / 4;
    double k3a = -30 * zsix - 90 * pow(z, 8);

    double kk[4] = {0, 0, 0, 0};
    int maxk = (int)ceil(16 * z / M_PI);
    for (int k = maxk; k > 0; k--) {
        double m = 2 * k - 1;
        double msquared = m * m, mfour = pow(m, 4), msix = pow(m, 6);
        double qpower = pow(q, 8 * k);
        double coeffs[4] = {
            1.0,
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        };
        for (int i = 0; i < 4; i++)
            kk[i] = kk[i] * qpower + coeffs[i];
    }
    double sqrt2pi = sqrt(2 * M_PI);
    double denom[4] = {z, 6 * zfour, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++)
        kk[i] = kk[i] * q * sqrt2pi / denom[i];

    /* K2 and K3 also have sums over all integers k of k^2 q^(k^2). */
    q = exp(-PI_SQUARED / 2 / zsquared);
    double sqrt3z = sqrt(3.0) * z;
    double k2extra = 0.0, k3extra = 0.0;
    for (int k = maxk; k > 0; k--) {
        double ksq = (double)k * k;
        double kspi = M_PI * k;
        double qpw = pow(q, ksq);
        k2extra += ksq * qpw;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qpw;
    }
    k2extra *= PI_SQUARED * sqrt2pi / (-36 * zthree);
    kk[2] += k2extra;
    k3extra *= PI_SQUARED * sqrt2pi / (216 * zsix);
    kk[3] += k3extra;

    double ksum = 0.0;
    for (int i = 0; i < 4; i++)
        ksum += kk[i] / pow((double)n, i / 2.0);
    return ksum;
}

/* --------------------------------------------------------------- kolmogn */

/* log(n!/n^n) by Stirling's series, scipy's _log_nfactorial_div_n_pow_n. */
static double log_nfactorial_div_n_pow_n(int64_t n)
{
    static const double stirling[] = {
        -2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
        8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
        -2.7777777777777777778e-3, 8.3333333333333333333e-2,
    };
    double dn = (double)n;
    double rn = 1.0 / dn;
    double x = rn / dn, poly = 0.0;
    for (size_t i = 0; i < sizeof stirling / sizeof stirling[0]; i++)
        poly = poly * x + stirling[i];
    return log(dn) / 2 - dn + log(2 * M_PI) / 2 + rn * poly;
}

/*
 * scipy's _kolmogn(n, x, cdf=False), with the algorithm chosen as Simard
 * and L'Ecuyer recommend: exact formulas at the ends of the support, the
 * doubled Smirnov sum for x >= 1/2 and in the upper tail, Durbin for small
 * n x^2 (and, for n > 140, small n x^1.5), Pomeranz for moderate n x^2 at
 * n <= 140, Pelz-Good otherwise.
 */
double cn__stats_kstwo_sf(int64_t n, double x)
{
    if (n <= 0 || isnan(x))
        return NAN;
    if (x >= 1.0)
        return 0.0;
    if (x <= 0.0)
        return 1.0;
    double dn = (double)n;
    double t = dn * x;
    if (t <= 1.0) { /* Ruben-Gambino: 1/2n <= x <= 1/n */
        if (t <= 0.5)
            return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int64_t i = 1; i <= n; i++)
                prob *= (double)i * (1.0 / dn) * (2 * t - 1);
        } else {
            prob = exp(log_nfactorial_div_n_pow_n(n) + dn * log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= dn - 1) /* Ruben-Gambino */
        return clip01(2 * pow(1.0 - x, dn));
    if (x >= 0.5) /* exact: 2 * smirnov */
        return clip01(2 * cn__stats_smirnov_sf(n, x));

    double nxsquared = t * x;
    if (n <= 140) {
        if (nxsquared <= 0.754693)
            return (double)clip01l(1.0L - dmtw_cdf(n, x));
        if (nxsquared <= 4)
            return (double)clip01l(1.0L - pomeranz_cdf(n, x));
        /* Miller's approximation: 2 * smirnov */
        return clip01(2 * cn__stats_smirnov_sf(n, x));
    }
    if (nxsquared >= 370.0)
        return 0.0;
    if (nxsquared >= 2.2)
        return clip01(2 * cn__stats_smirnov_sf(n, x));
    if (n <= 100000 && dn * pow(x, 1.5) <= 1.4)
        return (double)clip01l(1.0L - dmtw_cdf(n, x));
    return clip01(1.0 - pelz_good_cdf(n, x));
}
