/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Binned data: what a classic histogram (Prometheus's `_bucket` series)
 * says about a sample, and what can honestly be concluded from it.
 *
 * A histogram keeps, for k ordered bins (lo_i, hi_i], only how many values
 * fell in each: lo_0 is the caller's `lowest` (0 for latencies), hi_i is
 * bounds[i], and the last bin is open above (hi_{k-1} = +inf). Two views:
 *
 *  - tied at the bins: each value is its bin, the data are an ordered
 *    categorical variable, and the rank tests are exact for them
 *    (Mann-Whitney on the 2 x k table, mwu.c; KS, ks.c): these are the
 *    tests of the binned distributions themselves;
 *  - values somewhere inside their bins: then a statistic that needs the
 *    values (a shift, a quantile) is known only up to the bin widths, and
 *    what is reported is an interval whose ends are bin edges. That is
 *    this file: the order-statistic interval of a quantile, mapped to the
 *    bins its order statistics fall in, and the Hodges-Lehmann shift's
 *    estimate and interval bounded over every placement of the values in
 *    their bins. mwu.c's cn_stats_mwu_binned_bound is the matching test.
 *
 * Nothing here pretends a bin is a point: every end of every interval is
 * a bin edge (or a bin edge minus another), so the answers are honest
 * about the binning and widen with it.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <gsl/gsl_cdf.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* Edges of bin i of k: (lo, hi]. */
static double bin_lo(const double *bounds, size_t i, double lowest)
{
    return i == 0 ? lowest : bounds[i - 1];
}

static double bin_hi(const double *bounds, size_t i, size_t k)
{
    return i + 1 == k ? INFINITY : bounds[i];
}

/* Bounds strictly ascending above `lowest`, all finite; counts summed. */
static int check_bins(const double *bounds, const uint64_t *counts, size_t k,
                      double lowest, uint64_t *n)
{
    if (k == 0 || !counts || (k > 1 && !bounds))
        return CN_EINVAL;
    if (isnan(lowest) || lowest == INFINITY)
        return CN_ENONFINITE;
    uint64_t sum = 0;
    for (size_t i = 0; i < k; i++) {
        if (i + 1 < k) {
            if (!isfinite(bounds[i]))
                return CN_ENONFINITE;
            if (bounds[i] <= bin_lo(bounds, i, lowest))
                return CN_EINVAL;
        }
        if (counts[i] > UINT64_MAX - sum)
            return CN_ETOOBIG;
        sum += counts[i];
    }
    *n = sum;
    return 0;
}

/* The bin holding order statistic r (1-based, 1 <= r <= n). */
static size_t bin_of_rank(const uint64_t *counts, size_t k, uint64_t r)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < k; i++) {
        cum += counts[i];
        if (cum >= r)
            return i;
    }
    return k - 1;
}

/* P(B <= r), B ~ Bin(n, q); 1 for r >= n. */
static double binom_cdf(uint64_t r, uint64_t n, double q)
{
    if (r >= n)
        return 1;
    return gsl_cdf_binomial_P((unsigned)r, q, (unsigned)n);
}

/* The smallest r in [0, n] with P(B <= r) >= target (scipy's binom.ppf). */
static uint64_t binom_ppf(double target, uint64_t n, double q)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (binom_cdf(mid, n, q) >= target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/*
 * The distribution-free interval for a quantile (David & Nagaraja,
 * "Order Statistics", 2003, sec. 7.1): with B ~ Bin(n, q) the number of
 * values below the true quantile xi_q, P(X_(l) <= xi_q <= X_(u)) >=
 * P(l <= B < u). l is the smallest r with P(B <= r) >= (1 - conf) / 2
 * and u - 1 the smallest with P(B <= u - 1) >= 1 - (1 - conf) / 2, so
 * each tail misses with probability below (1 - conf) / 2. X_(l) lies
 * in its bin, above the bin's lower edge; X_(u) at most at its bin's
 * upper edge: the interval reported is those two edges. l = 0 (the
 * sample is too small for the lower tail) gives `lowest`, u = n + 1
 * gives +inf.
 */
int cn_stats_quantile_ci_binned(const double *bounds, const uint64_t *counts, size_t k,
                                double lowest, double q, double confidence,
                                cn_quantile_ci_t *out)
{
    if (!out || !(q > 0 && q < 1) || !(confidence > 0 && confidence < 1))
        return CN_EINVAL;
    uint64_t n;
    int rc = check_bins(bounds, counts, k, lowest, &n);
    if (rc)
        return rc;
    if (n == 0)
        return CN_ETOOFEW;
    if (n > UINT_MAX)
        return CN_ETOOBIG;
    double tail = (1 - confidence) / 2;
    uint64_t l = binom_ppf(tail, n, q);
    uint64_t u = binom_ppf(1 - tail, n, q) + 1;
    out->rank_low = l;
    out->rank_high = u;
    out->coverage = binom_cdf(u - 1, n, q) - (l ? binom_cdf(l - 1, n, q) : 0);
    if (l == 0) {
        out->bin_low = 0;
        out->low = lowest;
    } else {
        out->bin_low = bin_of_rank(counts, k, l);
        out->low = bin_lo(bounds, out->bin_low, lowest);
    }
    if (u > n) {
        out->bin_high = k - 1;
        out->high = INFINITY;
    } else {
        out->bin_high = bin_of_rank(counts, k, u);
        out->high = bin_hi(bounds, out->bin_high, k);
    }
    return 0;
}

/* ------------------------------------------------ shift, bounded */

typedef struct {
    double v;
    uint64_t w;
} wdiff_t;

static int wdiff_cmp(const void *a, const void *b)
{
    double x = ((const wdiff_t *)a)->v, y = ((const wdiff_t *)b)->v;
    return (x > y) - (x < y);
}

/* The r-th smallest (1-based) of the weighted values, sorted. */
static double wselect(const wdiff_t *d, size_t nd, uint64_t r)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < nd; i++) {
        cum += d[i].w;
        if (cum >= r)
            return d[i].v;
    }
    return d[nd - 1].v;
}

/* The median of the weighted values as R's HL: the mean of the two
 * middle ones when the total is even. */
static double wmedian(const wdiff_t *d, size_t nd, uint64_t total)
{
    double a = wselect(d, nd, (total + 1) / 2), b = wselect(d, nd, total / 2 + 1);
    if (total % 2)
        return a;
    if (isinf(a) || isinf(b))
        return a == b ? a : (isinf(a) ? a : b);
    return (a + b) / 2;
}

/*
 * Every difference x_i - y_j of a value in x's bin a and one in y's bin
 * b lies in (lo_a - hi_b, hi_a - lo_b). So the r-th smallest difference
 * is above the r-th smallest of the lower ends and at most the r-th
 * smallest of the upper ends: the k^2 distinct ends, each weighted by the
 * x_a y_b pairs it stands for, bound every order statistic, the median
 * (the HL estimate) and the normal interval's ends, d_(kk+1) and
 * d_(nm-kk) with kk = floor(nm/2 - z sqrt(nm(n+m+1)/12)) as in hl.c.
 * O(k^2 log k).
 */
int cn_stats_hl_binned(const double *bounds, const uint64_t *x, const uint64_t *y,
                       size_t k, double lowest, double confidence, cn_hl_binned_t *out)
{
    if (!out || !y || !(confidence > 0 && confidence < 1))
        return CN_EINVAL;
    uint64_t nx, ny;
    int rc = check_bins(bounds, x, k, lowest, &nx);
    if (!rc)
        rc = check_bins(bounds, y, k, lowest, &ny);
    if (rc)
        return rc;
    if (nx == 0 || ny == 0)
        return CN_ETOOFEW;
    if ((double)nx * (double)ny >= 0x1p62 || k > 1024)
        return CN_ETOOBIG;
    wdiff_t *lo = cn_xmallocarray(k * k, sizeof *lo);
    wdiff_t *hi = cn_xmallocarray(k * k, sizeof *hi);
    size_t nd = 0;
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            uint64_t w = x[a] * y[b];
            if (!w)
                continue;
            lo[nd] = (wdiff_t){bin_lo(bounds, a, lowest) - bin_hi(bounds, b, k), w};
            hi[nd] = (wdiff_t){bin_hi(bounds, a, k) - bin_lo(bounds, b, lowest), w};
            nd++;
        }
    qsort(lo, nd, sizeof *lo, wdiff_cmp);
    qsort(hi, nd, sizeof *hi, wdiff_cmp);
    uint64_t nm = nx * ny;
    double dnm = (double)nm;
    double z = gsl_cdf_ugaussian_Pinv(1 - (1 - confidence) / 2);
    double kk = floor(dnm / 2 - z * sqrt(dnm * ((double)nx + (double)ny + 1) / 12));
    double kmax = floor((dnm - 1) / 2);
    if (kk < 0)
        kk = 0;
    if (kk > kmax)
        kk = kmax;
    uint64_t kr = (uint64_t)kk;
    out->est_low = wmedian(lo, nd, nm);
    out->est_high = wmedian(hi, nd, nm);
    out->ci_low = wselect(lo, nd, kr + 1);
    out->ci_high = wselect(hi, nd, nm - kr);
    free(lo);
    free(hi);
    return 0;
}
