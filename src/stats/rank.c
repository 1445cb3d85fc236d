/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Mid-ranks and the tie-correction term, for the rank tests.
 *
 * The rank of a value is its 1-based position in the sorted sample; a group
 * of t equal values occupying positions p+1 .. p+t all get the average rank
 * p + (t + 1)/2 (scipy.stats.rankdata(method='average'), R's rank() with
 * ties.method = "average"). Ties shrink the variance of any linear rank
 * statistic by the factor
 *
 *     1 - sum_groups (t^3 - t) / (n^3 - n)
 *
 * (Kendall & Gibbons, "Rank Correlation Methods", 5th ed., 1990, sec. 3.8;
 * scipy.stats.tiecorrect), so we hand back the sum of t^3 - t alongside.
 *
 * How: sort a copy with the radix sort, then place every value by two
 * binary searches in the sorted copy. With lo = #{v < x} and hi = #{v <= x},
 * x's tie group occupies positions lo+1 .. hi, so its mid-rank is
 * (lo + hi + 1)/2 -- exact in double, as every rank is a multiple of 1/2
 * far below 2^52. This costs O(n log n) comparisons but no index
 * permutation, and ranking is not on any hot path: the Mann-Whitney test
 * computes its rank sum by merging the two sorted samples instead.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>

int cn_stats_rank(const double *values, size_t n, double *ranks_out,
                  double *tie_term_out)
{
    if (n == 0)
        return CN_ETOOFEW;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return CN_ENONFINITE;

    double *sorted = cn_stats_sorted_copy(values, n);
    for (size_t i = 0; i < n; i++) {
        size_t lo = cn_stats_count_below(sorted, n, values[i]);
        size_t hi = cn_stats_count_at_most(sorted, n, values[i]);
        ranks_out[i] = (double)(lo + hi + 1) / 2;
    }

    if (tie_term_out) {
        /* t^3 - t summed over tie groups is at most n^3 - n: exact in
         * 128-bit integers for any n that fits in memory, where 64 bits
         * would wrap from n = 2642246 on (see mwu.c). */
        __extension__ unsigned __int128 sum = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && sorted[j] == sorted[i])
                j++;
            __extension__ unsigned __int128 t = j - i;
            sum += t * t * t - t;
            i = j;
        }
        *tie_term_out = (double)sum;
    }
    free(sorted);
    return 0;
}
