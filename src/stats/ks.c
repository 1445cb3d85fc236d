/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The two-sample Kolmogorov-Smirnov test, matching
 * scipy.stats.ks_2samp(x, y, alternative, method) of scipy 1.10.
 *
 * The statistic. With F and G the empirical CDFs of x (size n1) and y
 * (size n2), evaluated at every observation t of either sample,
 *     D+ = max_t F(t) - G(t)       ("greater": H1 is F > G somewhere)
 *     D- = max_t G(t) - F(t)       ("less":    H1 is F < G somewhere)
 *     D  = max(D+, D-)             ("two-sided")
 * The alternatives speak of CDFs, not of values: F > G means x tends to
 * be *smaller* than y. So CN_ALT_GREATER (scipy's 'greater') is the test
 * for "x stochastically smaller", and CN_ALT_LESS for "x larger"; this is
 * scipy's convention, kept so that results agree with it.
 *
 * D is computed exactly, in integers: after a run of equal values ends, i
 * values of x and j of y are <= it and s = i n2 - j n1 is n1 n2 (F - G);
 * the doubles i/n1 - j/n2 are formed only at the extremes, exactly as numpy
 * forms them, so D agrees with scipy to the last bit. Ties (within or
 * between samples) count only at the end of a run, as searchsorted(side=
 * 'right') does. For small samples: sort copies of both (the radix sort in
 * sort.c) and merge once. For large ones (>= 32768 values in all) a bucket
 * histogram over the bit patterns locates the few stretches of the merged
 * order where an extreme can lie, and only those values are sorted and
 * merged; see extremes_by_buckets(). Same result, bit for bit, in O(n) and
 * a few hundred KiB: at 10^6 values, three sorted copies cost more in
 * first-touch page faults than the sorting itself. scipy binary-searches
 * every pooled value in both samples.
 *
 * The p-value: exact. Under H0 every interleaving of the pooled sample is
 * equally likely, a lattice path from (0,0) to (n1,n2), and D >= d is the
 * event that the path leaves a band around the diagonal. With
 * g = gcd(n1, n2), lcm = n1 n2 / g and h = round(d lcm) (D is always a
 * multiple of 1/lcm; scipy reports d = h / lcm after this rounding), scipy
 * computes, and we follow operation for operation:
 *  - two-sided, n1 == n2: the reflection series of Gnedenko and Korolyuk,
 *        P = 2 sum_{k>=1} (-1)^(k-1) C(2n, n - k h) / C(2n, n),
 *    evaluated as a Horner-like product to avoid cancellation
 *    (prob_outside_square());
 *  - two-sided, n1 != n2: the "inside" method of Hodges (1958) with
 *    Viehmann's (2021) recursion that carries 1 - p directly, one column
 *    of the path-count matrix at a time, O(n1 n2) time and O(min(n1,n2))
 *    memory (outer_prob_inside());
 *  - one-sided, n1 == n2: C(2n, n-h) / C(2n, n) as a product of h ratios;
 *  - one-sided, n1 != n2: the "outside" method of Hodges (1958), counting
 *    paths by their first crossing of the boundary (count_paths_outside()),
 *    in floating point; scipy gives up when C(n1+n2, n1) overflows.
 * scipy abandons the exact p-value, with a warning, when it cannot
 * compute it: forced 'exact' with (n1/g)(n2/g) >= 2^31 - 1, an overflow, or
 * a result outside [0, 1] (the two-sided sums can round to just below 0
 * or above 1). It then uses the asymptotic p-value; so do we, and the
 * result's `method` says which was used. 'auto' tries exact if
 * max(n1, n2) <= 10000.
 *
 * The p-value: asymptotic. With m >= n the two sizes and en = m n/(m+n):
 *  - one-sided: Hodges' (1958, eq. 5.3) refinement of Smirnov's limit,
 *        p = exp(-2 z^2 - 2 z (m + 2n) / (3 sqrt(m n (m+n)))), z = d sqrt(en);
 *  - two-sided: the finite-n one-sample distribution at n = round(en),
 *        p = P(D_round(en) >= d) = scipy.stats.kstwo.sf(d, round(en)),
 *    computed by the port in kolmogorov.c. (round() is numpy's, half to
 *    even; for n1 = n2 = 1, en = 1/2 rounds to 0, where scipy returns NaN:
 *    we return CN_ETOOFEW.)
 *
 * References
 *  Hodges JL (1958). The significance probability of the Smirnov two-sample
 *    test. Arkiv for Matematik 3, 469-486.
 *  Gnedenko BV, Korolyuk VS (1951). On the maximum discrepancy between two
 *    empirical distributions. Doklady Akad Nauk SSSR 80, 525-528.
 *  Viehmann T (2021). Numerically more stable computation of the p-values
 *    for the two-sample Kolmogorov-Smirnov test. arXiv:2102.08037.
 *  scipy 1.10: scipy/stats/_stats_py.py (ks_2samp and helpers),
 *    scipy/stats/_stats_pythran.py (_compute_outer_prob_inside_method).
 */
#include "stats/kolmogorov.h"
#include "stats/stats.h"
#include "util/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The exact p-values reproduce scipy's double operations bit for bit, and a
 * fused multiply-add would change their rounding (the [0, 1] check that
 * decides scipy's fallback can hinge on the last bit). GCC does not
 * contract in ISO C mode; clang must be told. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* scipy's MAX_AUTO_N: 'auto' tries the exact p-value up to this size. */
#define KS_MAX_AUTO_N 10000

/* ----------------------------------------------------------- statistic */

/*
 * The extremes of F - G over the pooled sample. After a run of equal values
 * ends, i values of x and j of y are <= it, and s = i n2 - j n1 is
 * n1 n2 (F - G) exactly. numpy's max and min are over the doubles
 * i/n1 - j/n2, and two points with the same s can round differently, so
 * among the points attaining the exact extreme the largest (smallest)
 * double is kept. The last point has F = G = 1 and s = 0, so 0 is always
 * attained and both extremes may start there.
 */
typedef struct {
    int64_t n1, n2;
    double dn1, dn2;
    int64_t s_max, s_min;
    double d_max, d_min;
} ks_extremes_t;

static void extremes_init(ks_extremes_t *e, size_t n1, size_t n2)
{
    e->n1 = (int64_t)n1;
    e->n2 = (int64_t)n2;
    e->dn1 = (double)n1;
    e->dn2 = (double)n2;
    e->s_max = e->s_min = 0;
    e->d_max = e->d_min = 0.0;
}

/* Offer the point (i, j) with s = i n2 - j n1; cheap unless s reaches or
 * ties an extreme. */
static inline void extremes_offer(ks_extremes_t *e, int64_t s, int64_t i, int64_t j)
{
    if (s >= e->s_max || s <= e->s_min) {
        double diff = (double)i / e->dn1 - (double)j / e->dn2;
        if (s > e->s_max || (s == e->s_max && diff > e->d_max)) {
            e->s_max = s;
            e->d_max = diff;
        }
        if (s < e->s_min || (s == e->s_min && diff < e->d_min)) {
            e->s_min = s;
            e->d_min = diff;
        }
    }
}

/*
 * Sort a copy of v and append +inf as a sentinel, so that the merge below
 * needs no bounds checks (inputs are finite, so the sentinel is greater
 * than every value).
 */
static double *sorted_with_sentinel(const double *v, size_t n)
{
    double *s = cn_xmallocarray(n + 1, sizeof *s);
    memcpy(s, v, n * sizeof *s);
    cn_stats_sort(s, n);
    s[n] = INFINITY;
    return s;
}

/*
 * The extremes by one merge of the sorted samples (with sentinels). The
 * merge is branch-free; the run-end test is predictable and the offer is
 * cheap except at the (few) running extremes.
 */
static void merge_sorted(const double *xs, const double *ys, ks_extremes_t *e)
{
    int64_t sx = e->n2, sy = e->n1, s = 0;
    size_t i = 0, j = 0, total = (size_t)(e->n1 + e->n2);
    for (size_t k = 0; k < total; k++) {
        double a = xs[i], b = ys[j];
        int take_x = a <= b;
        double v = take_x ? a : b;
        i += (size_t)take_x;
        j += (size_t)!take_x;
        s += take_x ? sx : -sy;
        double next = xs[i] < ys[j] ? xs[i] : ys[j];
        if (next > v)
            extremes_offer(e, s, (int64_t)i, (int64_t)j);
    }
}

static void extremes_by_sorting(const double *x, const double *y, ks_extremes_t *e)
{
    double *xs = sorted_with_sentinel(x, (size_t)e->n1);
    double *ys = sorted_with_sentinel(y, (size_t)e->n2);
    merge_sorted(xs, ys, e);
    free(xs);
    free(ys);
}

/* The bit pattern of v as an unsigned key in numeric order (as sort.c);
 * -0.0 is folded into +0.0 first, since equal values need equal keys. */
static inline uint64_t order_key(double v)
{
    v += 0.0;
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

/*
 * Merge a[0..na) and b[0..nb), sorted, that hold every value of x and of y
 * in one key range, given the counts i0, j0 of values below the range.
 */
static void merge_segment(const double *a, size_t na, const double *b, size_t nb,
                          int64_t i0, int64_t j0, ks_extremes_t *e)
{
    size_t p = 0, q = 0;
    int64_t i = i0, j = j0;
    while (p < na || q < nb) {
        double v = (q >= nb || (p < na && a[p] <= b[q])) ? a[p] : b[q];
        while (p < na && a[p] <= v) {
            p++;
            i++;
        }
        while (q < nb && b[q] <= v) {
            q++;
            j++;
        }
        extremes_offer(e, i * e->n2 - j * e->n1, i, j);
    }
}

/* Bucket histogram: 2^KS_BUCKET_BITS buckets of uint32 counts per sample
 * (256 KiB each), used from KS_BUCKET_MIN_N pooled values on. */
#define KS_BUCKET_BITS 16
#define KS_BUCKET_MIN_N 32768

/*
 * The same extremes without sorting everything, for large samples: three
 * O(n) passes over the data and about 0.5 MiB of counts, instead of sorted
 * copies and radix scratch buffers (24 bytes per value; at 10^6 values
 * their first-touch page faults cost more than the sorting).
 *
 * Split the key range [kmin, kmax] into <= 2^16 buckets by the high bits of
 * key - kmin. Equal values share a key, hence a bucket, and buckets are
 * ordered, so the walk of s over the pooled sample visits the buckets in
 * order and the end of each non-empty bucket is a point of the walk whose
 * s follows from the counts alone. Inside bucket b, entered at s = S_b with
 * cx x-values and cy y-values, every s lies in [S_b - cy n1, S_b + cx n2];
 * if the bucket holds only one sample the walk is monotone and its interior
 * never beats its ends. So after offering all bucket ends, only the mixed
 * buckets whose bounds reach an extreme can hide a better point: their
 * values are gathered, sorted with cn_stats_sort and merged. Near the
 * extremes the walk spends few buckets, so this is a small fraction of
 * the data (0.1-2% for 10^6 lognormal values); if it is not (few distinct
 * values, or a pathological key distribution), the caller sorts everything
 * instead: returns -1 then, 0 on success.
 */
static int extremes_by_buckets(const double *x, const double *y, uint64_t kmin,
                               uint64_t kmax, ks_extremes_t *e)
{
    size_t n1 = (size_t)e->n1, n2 = (size_t)e->n2;
    if (n1 > UINT32_MAX || n2 > UINT32_MAX)
        return -1;
    uint64_t range = kmax - kmin;
    int bits = 0;
    while (bits < 64 && (range >> bits) != 0)
        bits++;
    int shift = bits > KS_BUCKET_BITS ? bits - KS_BUCKET_BITS : 0;
    size_t nb = (size_t)(range >> shift) + 1;
    uint32_t *cx = cn_xcalloc(nb, sizeof *cx);
    uint32_t *cy = cn_xcalloc(nb, sizeof *cy);
    for (size_t i = 0; i < n1; i++)
        cx[(order_key(x[i]) - kmin) >> shift]++;
    for (size_t i = 0; i < n2; i++)
        cy[(order_key(y[i]) - kmin) >> shift]++;

    int64_t i = 0, j = 0;
    for (size_t b = 0; b < nb; b++) {
        if (cx[b] == 0 && cy[b] == 0)
            continue;
        i += cx[b];
        j += cy[b];
        extremes_offer(e, i * e->n2 - j * e->n1, i, j);
    }

    unsigned char *cand = cn_xmalloc(nb);
    size_t tot_x = 0, tot_y = 0;
    i = j = 0;
    for (size_t b = 0; b < nb; b++) {
        int64_t s = i * e->n2 - j * e->n1;
        /* With shift == 0 every bucket holds a single value: no interior. */
        cand[b] = shift > 0 && cx[b] && cy[b] &&
                  (s + (int64_t)cx[b] * e->n2 >= e->s_max ||
                   s - (int64_t)cy[b] * e->n1 <= e->s_min);
        if (cand[b]) {
            tot_x += cx[b];
            tot_y += cy[b];
        }
        i += cx[b];
        j += cy[b];
    }
    int rc = -1;
    if (tot_x + tot_y <= (n1 + n2) / 4) {
        double *xc = cn_xmallocarray(tot_x + 1, sizeof *xc);
        double *yc = cn_xmallocarray(tot_y + 1, sizeof *yc);
        size_t px = 0, py = 0;
        for (size_t k = 0; k < n1; k++)
            if (cand[(order_key(x[k]) - kmin) >> shift])
                xc[px++] = x[k];
        for (size_t k = 0; k < n2; k++)
            if (cand[(order_key(y[k]) - kmin) >> shift])
                yc[py++] = y[k];
        cn_stats_sort(xc, tot_x);
        cn_stats_sort(yc, tot_y);
        px = py = 0;
        i = j = 0;
        for (size_t b = 0; b < nb; b++) {
            if (cand[b]) {
                merge_segment(xc + px, cx[b], yc + py, cy[b], i, j, e);
                px += cx[b];
                py += cy[b];
            }
            i += cx[b];
            j += cy[b];
        }
        free(xc);
        free(yc);
        rc = 0;
    }
    free(cand);
    free(cx);
    free(cy);
    return rc;
}

/* ----------------------------------------------------------- exact p */

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Python's a // b for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/*
 * P(D >= h/n) for n1 = n2 = n, scipy's _compute_prob_outside_square():
 *     P = 2 (A0 - A0 A1 + A0 A1 A2 - ...) = 2 A0 (1 - A1 (1 - A2 (...))),
 * A_k = C(2n, n - k h) / C(2n, n - (k-1) h), each a product of h ratios.
 */
static double prob_outside_square(int64_t n, int64_t h)
{
    double p = 0.0;
    int64_t k = (int64_t)floor((double)n / (double)h);
    while (k >= 0) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; j++)
            p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
        p = p1 * (1.0 - p);
        k--;
    }
    return 2 * p;
}

/*
 * P(D >= h/lcm), n1 != n2: scipy's _compute_outer_prob_inside_method()
 * (compiled with pythran in scipy; the same double operations here).
 * A(x, y) counts paths to (x, y) staying strictly inside |x/m - y/n| <
 * h/lcm, divided by C(x+y, y); the recursion
 *     A(i, j) = (i A(i-1, j) + j A(i, j-1)) / (i + j)
 * keeps these ratios in [0, 1], and Viehmann's boundary values (1 where a
 * path has already left the band) make the final entry 1 - P(inside),
 * i.e. the p-value itself, without a cancelling subtraction. One column
 * (a sliding window of it) is kept: O(max) iterations of O(window) work.
 */
static double outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h)
{
    if (m < n) {
        int64_t t = m;
        m = n;
        n = t;
    }
    int64_t mg = m / g, ng = n / g;
    int64_t minj = 0;
    int64_t maxj = (int64_t)ceil((double)h / (double)mg);
    if (maxj > n + 1)
        maxj = n + 1;
    int64_t curlen = maxj - minj;
    int64_t len_a = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
    double *a = cn_xmallocarray((size_t)len_a, sizeof *a);
    for (int64_t q = 0; q < len_a; q++)
        a[q] = q >= minj && q < maxj ? 0.0 : 1.0;

    double result;
    for (int64_t i = 1; i <= m; i++) {
        int64_t lastminj = minj, lastlen = curlen;
        minj = (int64_t)floor((double)(ng * i - h) / (double)mg) + 1;
        if (minj < 0)
            minj = 0;
        if (minj > n)
            minj = n;
        maxj = (int64_t)ceil((double)(ng * i + h) / (double)mg);
        if (maxj > n + 1)
            maxj = n + 1;
        if (maxj <= minj) {
            free(a);
            return 1.0;
        }
        double val = minj == 0 ? 0.0 : 1.0;
        double di = (double)i;
        for (int64_t jj = 0; jj < maxj - minj; jj++) {
            int64_t j = jj + minj;
            val = (a[jj + minj - lastminj] * di + val * (double)j) / (double)(i + j);
            a[jj] = val;
        }
        curlen = maxj - minj;
        if (lastlen > curlen) {
            /* Entries carried over from the previous, longer window. */
            int64_t end = maxj - minj + (lastlen - curlen);
            for (int64_t q = maxj - minj; q < end && q < len_a; q++)
                a[q] = 1.0;
        }
    }
    result = a[maxj - minj - 1];
    free(a);
    return result;
}

/*
 * scipy.special.binom(N, k) for integers. For k < 20 (after the symmetry
 * k -> N - k) scipy multiplies out num/den, rescaling past 1e50; we do the
 * same, so these agree exactly. For larger k scipy uses 1/(N+1)/B(N-k+1,
 * k+1) with cephes' beta (about 1e-13 relative); we multiply out
 * prod (N-k+i)/i in long double (2k 2^-64 relative), returning +inf as soon
 * as the product exceeds DBL_MAX, where scipy's result overflows too.
 * Negative integer N gives NaN and k outside [0, N] gives 0, as scipy.
 * Returns 1 and sets *out if the value came from the small-k path.
 */
static int binom_small(int64_t big_n, int64_t k, double *out, int64_t *k_reduced)
{
    if (big_n < 0) {
        *out = NAN;
        return 1;
    }
    if (k < 0 || k > big_n) {
        *out = 0.0;
        return 1;
    }
    double n = (double)big_n, kx = (double)k;
    if (kx > n / 2 && n > 0)
        kx = n - kx;
    *k_reduced = (int64_t)kx;
    if (kx >= 20)
        return 0;
    double num = 1.0, den = 1.0;
    for (int i = 1; i < 1 + (int)kx; i++) {
        num *= i + n - kx;
        den *= i;
        if (fabs(num) > 1e50) {
            num /= den;
            den = 1.0;
        }
    }
    *out = num / den;
    return 1;
}

static double binom_int(int64_t big_n, int64_t k)
{
    double small;
    int64_t kk;
    if (binom_small(big_n, k, &small, &kk))
        return small;
    /* The factors (N - k + i)/i are >= 1 as k <= N/2, so the product only
     * grows: stop as soon as it leaves the double range. */
    long double r = 1.0L;
    for (int64_t i = 1; i <= kk; i++) {
        r = r * (long double)(big_n - kk + i) / (long double)i;
        if (r > (long double)DBL_MAX)
            return INFINITY;
    }
    return (double)r;
}

/*
 * binom_int() for arguments known to give at most C(m+n, n) < DBL_MAX with
 * k <= n <= ~515: then N!/(N-k)! = C(N,k) k! < 1e308 * 515! stays far inside
 * the long double range, and the quotient by a tabled k! is as accurate as
 * the product of ratios at a fraction of the cost (no division in the
 * dependency chain). fact[i] = i! for i <= kmax.
 */
static double binom_bounded(int64_t big_n, int64_t k, const long double *fact)
{
    double small;
    int64_t kk;
    if (binom_small(big_n, k, &small, &kk))
        return small;
    long double num0 = 1.0L, num1 = 1.0L;
    int64_t i = 1;
    for (; i + 1 <= kk; i += 2) {
        num0 *= (long double)(big_n - kk + i);
        num1 *= (long double)(big_n - kk + i + 1);
    }
    if (i <= kk)
        num0 *= (long double)(big_n - kk + i);
    long double r = num0 * num1 / fact[kk];
    return r > (long double)DBL_MAX ? INFINITY : (double)r;
}

/*
 * The number of lattice paths from (0,0) to (m,n) that touch the line
 * m y = n x - h g, scipy's _count_paths_outside_method() (Hodges 1958):
 * with x_j the first x at which height j reaches the boundary,
 *     B(j) = C(x_j + j, j) - sum_{i<j} C(x_j - x_i + j - i, j - i) B(i)
 * paths first touch it at (x_j, j), and the count is
 *     sum_j B(j) C(m - x_j + n - j, n - j).
 * Floating point, as scipy. Callers must first check that C(m+n, n) is
 * finite (see binom_bounded()).
 */
static double count_paths_outside(int64_t m, int64_t n, int64_t g, int64_t h)
{
    if (m < n) {
        int64_t t = m;
        m = n;
        n = t;
    }
    int64_t mg = m / g, ng = n / g;
    int64_t lxj = n + floor_div(mg - h, mg);
    if (lxj <= 0)
        return binom_int(m + n, n);
    int64_t *xj = cn_xmallocarray((size_t)lxj, sizeof *xj);
    double *b = cn_xmallocarray((size_t)lxj, sizeof *b);
    long double *fact = cn_xmallocarray((size_t)n + 1, sizeof *fact);
    fact[0] = 1.0L;
    for (int64_t i = 1; i <= n; i++)
        fact[i] = fact[i - 1] * (long double)i;
    for (int64_t j = 0; j < lxj; j++)
        xj[j] = (h + mg * j + ng - 1) / ng;
    b[0] = 1.0;
    for (int64_t j = 1; j < lxj; j++) {
        double bj = binom_bounded(xj[j] + j, j, fact);
        for (int64_t i = 0; i < j; i++)
            bj -= binom_bounded(xj[j] - xj[i] + j - i, j - i, fact) * b[i];
        b[j] = bj;
    }
    double num_paths = 0.0;
    for (int64_t j = 0; j < lxj; j++)
        num_paths += b[j] * binom_bounded((m - xj[j]) + (n - j), n - j, fact);
    free(xj);
    free(b);
    free(fact);
    return num_paths;
}

/*
 * scipy's _attempt_exact_2kssamp(): rounds *d to h/lcm (also on failure)
 * and returns 1 with *p set, or 0 if the exact computation fails and the
 * caller must fall back to the asymptotic p-value.
 */
static int attempt_exact(int64_t n1, int64_t n2, int64_t g, cn_alternative_t alt,
                         double *d, double *p)
{
    int64_t lcm = (n1 / g) * n2;
    int64_t h = (int64_t)nearbyint(*d * (double)lcm);
    *d = (double)h * 1.0 / (double)lcm;
    if (h == 0) {
        *p = 1.0;
        return 1;
    }
    double prob;
    if (alt == CN_ALT_TWO_SIDED) {
        if (n1 == n2)
            prob = prob_outside_square(n1, h);
        else
            prob = outer_prob_inside(n1, n2, g, h);
    } else if (n1 == n2) {
        /* C(2n, n-h) / C(2n, n) */
        prob = 1.0;
        for (int64_t j = 0; j < h; j++)
            prob *= (double)(n1 - j) / ((double)(n1 + j) + 1.0);
    } else {
        /* scipy computes the count first and fails on any overflow in it;
         * every term is bounded by C(n1+n2, n1), so checking that first
         * gives the same outcome without the O(n^2) work. */
        double bin = binom_int(n1 + n2, n1);
        if (isinf(bin))
            return 0;
        double num_paths = count_paths_outside(n1, n2, g, h);
        if (num_paths > bin || isinf(num_paths))
            return 0;
        prob = num_paths / bin;
    }
    if (!(0 <= prob && prob <= 1))
        return 0;
    *p = prob;
    return 1;
}

/* -------------------------------------------------------- asymptotic p */

static int asymptotic_p(int64_t n1, int64_t n2, cn_alternative_t alt, double d,
                        double *p)
{
    double m = (double)(n1 > n2 ? n1 : n2), n = (double)(n1 > n2 ? n2 : n1);
    double en = m * n / (m + n);
    if (alt == CN_ALT_TWO_SIDED) {
        /* np.round: half to even, which nearbyint() does in the default
         * rounding mode. */
        int64_t n_eff = (int64_t)nearbyint(en);
        if (n_eff < 1)
            return CN_ETOOFEW;
        *p = cn__stats_kstwo_sf(n_eff, d);
    } else {
        double z = sqrt(en) * d;
        double expt = -2 * (z * z) - 2 * z * (m + 2 * n) / sqrt(m * n * (m + n)) / 3.0;
        *p = exp(expt);
    }
    return 0;
}

/* ---------------------------------------------------------------- test */

/* D for the alternative from the extremes, and its p-value. */
static int ks_finish(const ks_extremes_t *ext, cn_alternative_t alt,
                     cn_ks_method_t method, cn_ks_result_t *out)
{
    double diff_max = ext->d_max, diff_min = ext->d_min;

    double d_plus = diff_max;
    double d_minus = diff_min < 0 ? -diff_min : 0.0;
    if (d_minus > 1.0)
        d_minus = 1.0;
    double d;
    if (alt == CN_ALT_LESS || (alt == CN_ALT_TWO_SIDED && d_minus > d_plus))
        d = d_minus;
    else
        d = d_plus;

    int64_t n1 = ext->n1, n2 = ext->n2;
    int64_t g = gcd64(n1, n2);
    int64_t n1g = n1 / g, n2g = n2 / g;
    cn_ks_method_t mode = method;
    if (mode == CN_KS_AUTO) {
        mode = (n1 > n2 ? n1 : n2) <= KS_MAX_AUTO_N ? CN_KS_EXACT : CN_KS_ASYMPTOTIC;
    } else if (mode == CN_KS_EXACT) {
        /* lcm too large for scipy's exact code: it switches to asymp. */
        if ((double)n1g >= 2147483647.0 / (double)n2g)
            mode = CN_KS_ASYMPTOTIC;
    }

    double p = NAN;
    if (mode == CN_KS_EXACT && !attempt_exact(n1, n2, g, alt, &d, &p))
        mode = CN_KS_ASYMPTOTIC;
    if (mode == CN_KS_ASYMPTOTIC) {
        int rc = asymptotic_p(n1, n2, alt, d, &p);
        if (rc)
            return rc;
    }
    if (p < 0)
        p = 0;
    if (p > 1)
        p = 1;

    out->d = d;
    out->pvalue = p;
    out->method = mode;
    return 0;
}

int cn_stats_ks2(const double *x, size_t nx, const double *y, size_t ny,
                 cn_alternative_t alt, cn_ks_method_t method, cn_ks_result_t *out)
{
    if (!out || (nx && !x) || (ny && !y))
        return CN_EINVAL;
    if (alt != CN_ALT_TWO_SIDED && alt != CN_ALT_LESS && alt != CN_ALT_GREATER)
        return CN_EINVAL;
    if (method != CN_KS_AUTO && method != CN_KS_EXACT && method != CN_KS_ASYMPTOTIC)
        return CN_EINVAL;
    if (nx == 0 || ny == 0)
        return CN_ETOOFEW;
    /* n1 n2 (F - G) is tracked in an int64_t. */
    if ((double)nx * (double)ny >= 0x1p62)
        return CN_ETOOBIG;
    /* Reject non-finite values; the key range is needed for large inputs. */
    uint64_t kmin = UINT64_MAX, kmax = 0;
    for (size_t i = 0; i < nx; i++) {
        if (!isfinite(x[i]))
            return CN_ENONFINITE;
        uint64_t k = order_key(x[i]);
        kmin = k < kmin ? k : kmin;
        kmax = k > kmax ? k : kmax;
    }
    for (size_t i = 0; i < ny; i++) {
        if (!isfinite(y[i]))
            return CN_ENONFINITE;
        uint64_t k = order_key(y[i]);
        kmin = k < kmin ? k : kmin;
        kmax = k > kmax ? k : kmax;
    }

    ks_extremes_t ext;
    extremes_init(&ext, nx, ny);
    if (nx + ny < KS_BUCKET_MIN_N || extremes_by_buckets(x, y, kmin, kmax, &ext) != 0)
        extremes_by_sorting(x, y, &ext);
    return ks_finish(&ext, alt, method, out);
}

/*
 * Binned data: the counts of x and y in the same k ordered bins. The
 * empirical CDFs of both samples change only at bin edges, and every
 * value of a bin is tied with the others there, so F - G is evaluated
 * after each bin, exactly as the per-value walk evaluates it after each
 * run of ties: D is the D of the data expanded to one value per count
 * (scipy.stats.ks_2samp on it agrees). The p-values are then the same
 * functions of (D, n1, n2) as ks_2samp's, which assume continuous data;
 * with ties they are conservative (Noether 1963), never anti-conservative.
 */
int cn_stats_ks2_binned(const uint64_t *x, const uint64_t *y, size_t k,
                        cn_alternative_t alt, cn_ks_method_t method,
                        cn_ks_result_t *out)
{
    if (!out || (k && (!x || !y)))
        return CN_EINVAL;
    if (alt != CN_ALT_TWO_SIDED && alt != CN_ALT_LESS && alt != CN_ALT_GREATER)
        return CN_EINVAL;
    if (method != CN_KS_AUTO && method != CN_KS_EXACT && method != CN_KS_ASYMPTOTIC)
        return CN_EINVAL;
    uint64_t nx = 0, ny = 0;
    for (size_t b = 0; b < k; b++) {
        if (x[b] > (UINT64_C(1) << 62) || y[b] > (UINT64_C(1) << 62))
            return CN_ETOOBIG;
        nx += x[b];
        ny += y[b];
    }
    if (nx == 0 || ny == 0)
        return CN_ETOOFEW;
    if ((double)nx * (double)ny >= 0x1p62)
        return CN_ETOOBIG;
    ks_extremes_t ext;
    extremes_init(&ext, (size_t)nx, (size_t)ny);
    int64_t i = 0, j = 0;
    for (size_t b = 0; b < k; b++) {
        if (!x[b] && !y[b])
            continue;
        i += (int64_t)x[b];
        j += (int64_t)y[b];
        extremes_offer(&ext, i * ext.n2 - j * ext.n1, i, j);
    }
    return ks_finish(&ext, alt, method, out);
}
