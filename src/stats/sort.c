/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sorting and order statistics for the rank tests.
 *
 * Every rank-based test here (Mann-Whitney, KS, Hodges-Lehmann, PSI) starts
 * by sorting both samples, and at n = 10^6 the sort is most of the cost.
 * qsort() pays an indirect call per comparison, about 40 n of them; an LSD
 * radix sort on the IEEE-754 bit pattern does 8 linear passes of 8 bits
 * instead, and skips any pass in which every key has the same byte (common:
 * latencies share their top exponent bytes). The bit trick: flip all bits of
 * negative numbers and only the sign bit of non-negative ones, and the
 * unsigned order of the keys equals the numeric order of the doubles.
 *
 * Small inputs fall back to insertion sort, where the radix passes' fixed
 * cost (histograms of 256 buckets) would dominate. -0.0 is folded into
 * +0.0 on the way (they compare equal), so equal values have equal keys.
 *
 * The key-level sort is shared through radix.h with mwu.c, which keeps the
 * keys to merge them.
 */
#include "stats/stats.h"
#include "stats/radix.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void insertion_sort_keys(uint64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

void cn__stats_sort_keys(uint64_t *keys, uint64_t *scratch, size_t n,
                         cn__stats_histogram_t count)
{
    if (n < 64) {
        insertion_sort_keys(keys, n);
        return;
    }
    uint64_t *a = keys, *b = scratch;
    for (int p = 0; p < 8; p++) {
        size_t *c = count[p];
        unsigned shift = 8u * (unsigned)p;
        /* A pass where every key has the same byte changes nothing. */
        if (c[(a[0] >> shift) & 0xff] == n)
            continue;
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            b[c[(a[i] >> shift) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    if (a != keys)
        memcpy(keys, a, n * sizeof *keys);
}

void cn_stats_sort(double *v, size_t n)
{
    if (n < 2)
        return;
    /* One allocation: keys, then scratch. One read pass builds the keys and
     * all eight byte histograms. */
    uint64_t *keys = cn_xmallocarray(2 * n, sizeof *keys);
    cn__stats_histogram_t count;
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        keys[i] = cn__stats_key(v[i]);
        cn__stats_histogram_add(count, keys[i]);
    }
    cn__stats_sort_keys(keys, keys + n, n, count);
    for (size_t i = 0; i < n; i++)
        v[i] = cn__stats_unkey(keys[i]);
    free(keys);
}

double *cn_stats_sorted_copy(const double *src, size_t n)
{
    double *v = cn_xmallocarray(n ? n : 1, sizeof *v);
    if (n)
        memcpy(v, src, n * sizeof *v);
    cn_stats_sort(v, n);
    return v;
}

double cn_stats_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    /* Type 7: h = (n - 1) q, interpolate between floor(h) and floor(h)+1.
     * numpy 1.24's _lerp computes a + (b - a) t for t < 0.5 and
     * b - (b - a)(1 - t) above, which is more accurate near b; do the same
     * so results agree to the last bit. */
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    double t = h - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    double a = sorted[lo], b = sorted[lo + 1], diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

size_t cn_stats_count_below(const double *sorted, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t cn_stats_count_at_most(const double *sorted, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
