/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Mann-Whitney U test (Wilcoxon rank-sum test), matching
 * scipy.stats.mannwhitneyu of scipy 1.10.
 *
 * The statistic. U1 = #{(i, j): x_i > y_j} + 1/2 #{(i, j): x_i == y_j}, which
 * equals R1 - nx (nx + 1)/2 with R1 the sum of x's mid-ranks in the pooled
 * sample (Mann & Whitney, Ann. Math. Statist. 18, 1947). U2 = nx ny - U1.
 * scipy reports U1 and takes the p-value from the upper tail of
 *     U1 for 'greater',  U2 for 'less',  max(U1, U2) doubled for 'two-sided'
 * (the distribution is symmetric, so the upper tail of U2 is the lower tail
 * of U1), clipping the result to [0, 1].
 *
 * The exact p-value is P(U >= floor(U)) under the no-ties null distribution
 * (wilcox.c). scipy truncates U to an integer, so with ties -- where U can
 * be a half-integer -- a forced 'exact' gives P(U >= U - 1/2); we do the
 * same, and like scipy make no tie correction there.
 *
 * The asymptotic p-value is the normal upper tail of
 *     z = (U - nx ny / 2 - 1/2 [continuity]) / s,
 *     s = sqrt(nx ny / 12 * ((N + 1) - T / (N (N - 1)))),   N = nx + ny,
 * with T = sum over tie groups of t^3 - t (Lehmann, "Nonparametrics", 1975,
 * eq. 1.106). The continuity correction always subtracts, because the
 * p-value is always an upper tail. We evaluate every expression in
 * scipy's order and the normal tail with scipy's ndtr() branch structure, so
 * the result agrees to the last few bits.
 *
 * 'auto' follows scipy's _mwu_choose_method: exact when min(nx, ny) <= 8 and
 * the pooled sample has no ties, asymptotic otherwise. Our one departure:
 * when that rule says exact but nx * ny exceeds CN_WILCOX_MAX_NM, 'auto'
 * falls back to the asymptotic method (and says so in out->method), while a
 * forced 'exact' returns CN_ETOOBIG.
 *
 * Speed. scipy ranks the pooled sample with an argsort; at nx = ny = 10^6
 * that is about 2 s. We need no ranks at all: sort x and y separately and
 * merge them once. Walking the merged order one tie group at a time, a
 * group of value v with cx members from x, cy from y, and `below` values of
 * y strictly smaller, adds cx * (2 below + cy) to 2 U1, and t^3 - t
 * (t = cx + cy) to T. Both sums are exact integers: 2 U1 <= 2 nx ny in
 * 64 bits, and T <= N^3 - N in 128 bits (64 would wrap from N = 2642246).
 * scipy's own rank sum is exact too -- mid-ranks are multiples of 1/2 --
 * so the two agree exactly on U, and on T up to scipy converting it to
 * double. tests/unit/stats/test_mwu.c checks T beyond 2642245 values
 * against a closed form.
 *
 * Memory, and why we do not call cn_stats_sort(). The sort is the LSD radix
 * sort of sort.c (cn__stats_sort_keys, radix.h), run here on the
 * order-preserving integer keys directly: one allocation holds x's keys, y's keys and a
 * single scratch buffer that both sorts share (24 MB at 10^6 + 10^6), the byte
 * histograms are built in the same pass that checks finiteness, and the merge compares
 * keys, so nothing is converted back to doubles. cn_stats_sort() on two
 * sorted copies needs 48 MB in six allocations. The difference is mostly
 * page faults: on the reference VM a first touch costs ~10 us per 4 KB
 * page, and with glibc's malloc the larger footprint is handed back to the
 * kernel after every call (it exceeds the dynamic trim threshold), so every
 * call faults afresh: 105-175 ms per call at 10^6 + 10^6. With the single
 * buffer, repeated calls reuse the heap and take ~20 ms; a cold first call
 * still pays ~6000 faults (~90 ms there, a few ms on bare metal).
 */
#include "stats/stats.h"
#include "stats/radix.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cn_stats_mwu_opts_init(cn_mwu_opts_t *opts)
{
    opts->alternative = CN_ALT_TWO_SIDED;
    opts->use_continuity = 1;
    opts->method = CN_MWU_AUTO;
}

/*
 * T = sum of t^3 - t is summed in 128-bit integers: exact while N^3 < 2^128,
 * N < 6.98e12, far beyond any sample that fits in memory. In 64 bits it
 * would wrap from N = 2642246 on (a tie group of 2642246 values alone has
 * t^3 > 2^64), which no test with fewer values could notice. GCC and Clang
 * both provide the type on every 64-bit target; __extension__ keeps
 * -pedantic quiet.
 */
__extension__ typedef unsigned __int128 tie_sum_t;

/*
 * Fill keys[0..n) from v and the eight byte histograms of the keys, in one
 * read pass. Returns 0, or CN_ENONFINITE at the first NaN or infinity.
 */
static int load_keys(const double *v, size_t n, uint64_t *keys,
                     cn__stats_histogram_t count)
{
    memset(count, 0, sizeof(cn__stats_histogram_t));
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return CN_ENONFINITE;
        keys[i] = cn__stats_key(v[i]);
        cn__stats_histogram_add(count, keys[i]);
    }
    return 0;
}

typedef struct {
    uint64_t twice_u1; /* 2 U1, exact */
    double tie_term;   /* T, rounded once to double as scipy does */
    int has_ties;
} merge_stats_t;

/* One tie group of the merged order: cx values of x and cy of y, with
 * `below` values of y strictly smaller. */
static inline void tie_group(uint64_t cx, uint64_t cy, uint64_t below,
                             uint64_t *twice_u1, tie_sum_t *tie_term, int *has_ties)
{
    *twice_u1 += cx * (2 * below + cy);
    tie_sum_t t = (tie_sum_t)cx + cy;
    if (t > 1) {
        *has_ties = 1;
        *tie_term += t * t * t - t;
    }
}

/* One pass over the merged order of the sorted keys; see the essay. */
static void merge_sorted(const uint64_t *xs, size_t nx, const uint64_t *ys, size_t ny,
                         merge_stats_t *ms)
{
    size_t i = 0, j = 0;
    uint64_t twice_u1 = 0;
    tie_sum_t tie_term = 0;
    int has_ties = 0;
    while (i < nx || j < ny) {
        uint64_t v = (j >= ny || (i < nx && xs[i] < ys[j])) ? xs[i] : ys[j];
        size_t cx = 0, cy = 0;
        while (i < nx && xs[i] == v) {
            i++;
            cx++;
        }
        while (j < ny && ys[j] == v) {
            j++;
            cy++;
        }
        uint64_t below = j - cy;
        tie_group(cx, cy, below, &twice_u1, &tie_term, &has_ties);
    }
    ms->twice_u1 = twice_u1;
    ms->tie_term = (double)tie_term;
    ms->has_ties = has_ties;
}

/*
 * Sort both samples as keys and merge them. One allocation holds x's keys,
 * y's keys and one scratch buffer shared by the two sorts.
 */
static int rank_stats(const double *x, size_t nx, const double *y, size_t ny,
                      merge_stats_t *ms)
{
    size_t big = nx > ny ? nx : ny;
    uint64_t *keys = cn_xmallocarray(nx + ny + big, sizeof *keys);
    uint64_t *xs = keys, *ys = keys + nx, *scratch = keys + nx + ny;
    cn__stats_histogram_t *count = cn_xmalloc(sizeof *count);
    int rc = load_keys(x, nx, xs, *count);
    if (rc)
        goto out;
    cn__stats_sort_keys(xs, scratch, nx, *count);
    rc = load_keys(y, ny, ys, *count);
    if (rc)
        goto out;
    cn__stats_sort_keys(ys, scratch, ny, *count);
    merge_sorted(xs, nx, ys, ny, ms);
out:
    free(count);
    free(keys);
    return rc;
}

/*
 * The standard normal cdf as scipy's special.ndtr (Cephes ndtr.c): erf near
 * zero, erfc in the tails, so both tails keep full relative precision.
 */
static double ndtr(double a)
{
    double x = a * M_SQRT1_2;
    double z = fabs(x);
    if (z < M_SQRT1_2)
        return 0.5 + 0.5 * erf(x);
    double y = 0.5 * erfc(z);
    return x > 0 ? 1.0 - y : y;
}

static int exact_fits(size_t nx, size_t ny)
{
    size_t s = nx < ny ? nx : ny;
    if (s > CN_WILCOX_MAX_MIN)
        return 0;
    return nx <= CN_WILCOX_MAX_NM && ny <= CN_WILCOX_MAX_NM / nx;
}

/*
 * The p-value of U1 (from the merge) with the options, the method
 * resolved from `method` as 'auto' does, into out; shared by the
 * per-value and the binned tests.
 */
static int mwu_finish(size_t nx, size_t ny, const merge_stats_t *ms,
                      const cn_mwu_opts_t *opts, cn_mwu_method_t method,
                      cn_mwu_result_t *out)
{
    int rc;
    if (method == CN_MWU_AUTO) {
        if ((nx > 8 && ny > 8) || ms->has_ties || !exact_fits(nx, ny))
            method = CN_MWU_ASYMPTOTIC;
        else
            method = CN_MWU_EXACT;
    }

    double nm = (double)nx * (double)ny;
    double u1 = (double)ms->twice_u1 / 2;
    double u2 = nm - u1;
    double u, factor = 1;
    switch (opts->alternative) {
    case CN_ALT_GREATER:
        u = u1;
        break;
    case CN_ALT_LESS:
        u = u2;
        break;
    default:
        u = u1 > u2 ? u1 : u2;
        factor = 2;
        break;
    }

    double p, z;
    if (method == CN_MWU_EXACT) {
        rc = cn_stats_wilcox_sf(floor(u), nx, ny, &p);
        if (rc)
            return rc;
        z = NAN;
    } else {
        double n = (double)(nx + ny);
        double nn1 = (double)((uint64_t)(nx + ny) * (nx + ny - 1));
        double s = sqrt(nm / 12 * ((n + 1) - ms->tie_term / nn1));
        double num = u - nm / 2;
        if (opts->use_continuity)
            num -= 0.5;
        /* s == 0 only when every value is tied: scipy divides anyway and
         * gets -inf (p = 1) with the continuity correction, nan without. */
        if (s > 0)
            z = num / s;
        else if (s == 0 && num != 0)
            z = num < 0 ? -INFINITY : INFINITY;
        else
            z = NAN;
        p = ndtr(-z);
    }
    p *= factor;
    if (isnan(p))
        return CN_EDEGENERATE;
    if (p > 1)
        p = 1;
    if (p < 0)
        p = 0;

    out->u = u1;
    out->pvalue = p;
    out->z = z;
    out->method = method;
    return 0;
}

static int check_opts(const cn_mwu_opts_t *opts)
{
    return (unsigned)opts->alternative > CN_ALT_GREATER ||
                   (unsigned)opts->method > CN_MWU_ASYMPTOTIC
               ? CN_EINVAL
               : 0;
}

int cn_stats_mwu(const double *x, size_t nx, const double *y, size_t ny,
                 const cn_mwu_opts_t *opts, cn_mwu_result_t *out)
{
    cn_mwu_opts_t defaults;
    if (!opts) {
        cn_stats_mwu_opts_init(&defaults);
        opts = &defaults;
    }
    if (!out || (nx && !x) || (ny && !y) || check_opts(opts))
        return CN_EINVAL;
    if (nx == 0 || ny == 0)
        return CN_ETOOFEW;

    if (opts->method == CN_MWU_EXACT && !exact_fits(nx, ny))
        return CN_ETOOBIG;

    merge_stats_t ms;
    int rc = rank_stats(x, nx, y, ny, &ms);
    if (rc)
        return rc;
    return mwu_finish(nx, ny, &ms, opts, opts->method, out);
}

/*
 * Binned data: the 2 x k ordered table of counts (Emerson & Moses 1985).
 * Every value of bin i is tied with every other value of bin i, in either
 * sample, so bin i is one tie group of t_i = x_i + y_i values: the walk
 * above with the groups given instead of found. U1 = sum x_i (2 Y_<i + y_i)
 * / 2 and T = sum t_i^3 - t_i are the same numbers scipy computes from the
 * data expanded to one value per count, so the test is exact for binned
 * data and needs no expansion (O(k), whatever the counts).
 */
static int table_stats(const uint64_t *x, const uint64_t *y, size_t k, size_t *nx,
                       size_t *ny, merge_stats_t *ms)
{
    uint64_t sx = 0, sy = 0, below = 0, twice_u1 = 0;
    tie_sum_t tie_term = 0;
    int has_ties = 0;
    for (size_t i = 0; i < k; i++) {
        if (x[i] > UINT32_MAX || y[i] > UINT32_MAX)
            return CN_ETOOBIG;
        sx += x[i];
        sy += y[i];
    }
    if (sx == 0 || sy == 0)
        return CN_ETOOFEW;
    /* 2 U1 <= 2 nx ny must fit in 64 bits. */
    if ((double)sx * (double)sy >= 0x1p62)
        return CN_ETOOBIG;
    for (size_t i = 0; i < k; i++) {
        tie_group(x[i], y[i], below, &twice_u1, &tie_term, &has_ties);
        below += y[i];
    }
    *nx = (size_t)sx;
    *ny = (size_t)sy;
    ms->twice_u1 = twice_u1;
    ms->tie_term = (double)tie_term;
    ms->has_ties = has_ties;
    return 0;
}

int cn_stats_mwu_binned(const uint64_t *x, const uint64_t *y, size_t k,
                        const cn_mwu_opts_t *opts, cn_mwu_result_t *out)
{
    cn_mwu_opts_t defaults;
    if (!opts) {
        cn_stats_mwu_opts_init(&defaults);
        opts = &defaults;
    }
    if (!out || (k && (!x || !y)) || check_opts(opts))
        return CN_EINVAL;
    size_t nx, ny;
    merge_stats_t ms;
    int rc = table_stats(x, y, k, &nx, &ny, &ms);
    if (rc)
        return rc;
    if (opts->method == CN_MWU_EXACT && !exact_fits(nx, ny))
        return CN_ETOOBIG;
    return mwu_finish(nx, ny, &ms, opts, opts->method, out);
}

/*
 * The bound for data binned on edges rather than tied at points: x + shift
 * against y, each value placed in its bin where it makes the alternative
 * hardest to show (LESS: x at its bin's upper edge, y just above its
 * bin's lower edge; GREATER: the mirror; two-sided: CN_EINVAL). That
 * placement gives the U farthest towards H0 that any data with these bin
 * counts can give, and the variance is taken without a tie correction,
 * its largest value over all placements; so while z is on the
 * alternative's side (p < 1/2) the p-value is at least that of every
 * placement: a rejection holds whatever the values were inside their
 * bins. See docs/JUDGE.md, "Binned data".
 */
int cn_stats_mwu_binned_bound(const double *bounds, const uint64_t *x,
                              const uint64_t *y, size_t k, double lowest, double shift,
                              cn_alternative_t alt, cn_mwu_result_t *out)
{
    if (!out || k == 0 || !x || !y || (k > 1 && !bounds) ||
        (alt != CN_ALT_LESS && alt != CN_ALT_GREATER))
        return CN_EINVAL;
    if (!isfinite(shift) || isnan(lowest) || lowest == INFINITY)
        return CN_ENONFINITE;
    for (size_t i = 0; i + 1 < k; i++)
        if (!isfinite(bounds[i]) || bounds[i] <= (i ? bounds[i - 1] : lowest))
            return CN_EINVAL;
    size_t nx, ny;
    merge_stats_t ms;
    int rc = table_stats(x, y, k, &nx, &ny, &ms);
    if (rc)
        return rc;
        /* Edges of bin i: (lo_i, hi_i], lo_0 = lowest, hi_{k-1} = +inf. */
#define LO(i) ((i) == 0 ? lowest : bounds[(i)-1])
#define HI(i) ((i) + 1 == k ? INFINITY : bounds[(i)])
    /* LESS: x_i + shift at hi_i against y_j at lo_j + 0: x counts above
     * y_j when hi_i + shift > lo_j (equal: y is above). GREATER: x_i +
     * shift at lo_i + 0 against y_j at hi_j: x above when lo_i + shift >=
     * hi_j. Both walks are monotone in j. */
    uint64_t twice_u1 = 0, below = 0;
    size_t j = 0;
    for (size_t i = 0; i < k; i++) {
        if (alt == CN_ALT_LESS) {
            double v = HI(i) + shift;
            while (j < k && v > LO(j))
                below += y[j++];
        } else {
            double v = LO(i) + shift;
            while (j < k && v >= HI(j))
                below += y[j++];
        }
        twice_u1 += 2 * x[i] * below;
    }
#undef LO
#undef HI
    ms.twice_u1 = twice_u1;
    ms.tie_term = 0;
    ms.has_ties = 1;
    cn_mwu_opts_t o;
    cn_stats_mwu_opts_init(&o);
    o.alternative = alt;
    o.method = CN_MWU_ASYMPTOTIC;
    return mwu_finish(nx, ny, &ms, &o, CN_MWU_ASYMPTOTIC, out);
}
