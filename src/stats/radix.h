/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to src/stats/: the radix sort on order-preserving integer keys
 * that cn_stats_sort() (sort.c) is built on, for callers that want to keep
 * the keys (mwu.c merges keys directly and shares one scratch buffer
 * between its two sorts; see the "Memory" note there).
 */
#ifndef CN_STATS_RADIX_H
#define CN_STATS_RADIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Eight byte histograms of a key array, one per byte position. */
typedef size_t cn__stats_histogram_t[8][256];

/*
 * The order-preserving map from finite doubles to unsigned integers: flip
 * every bit of a negative number and only the sign bit of a non-negative
 * one. -0.0 is first folded into +0.0, so that equal doubles -- and only
 * they -- get equal keys, and ties are key equality.
 */
static inline uint64_t cn__stats_key(double d)
{
    uint64_t u;
    if (d == 0)
        d = 0.0;
    memcpy(&u, &d, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

static inline double cn__stats_unkey(uint64_t k)
{
    uint64_t u = (k & 0x8000000000000000ull) ? (k & ~0x8000000000000000ull) : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Add key k to the histograms. */
static inline void cn__stats_histogram_add(cn__stats_histogram_t count, uint64_t k)
{
    for (int p = 0; p < 8; p++)
        count[p][(k >> (8 * p)) & 0xff]++;
}

/*
 * Sort keys[0..n) ascending, using scratch[0..n) and the histograms of
 * exactly these keys (built with cn__stats_histogram_add; consumed). The
 * result ends in keys.
 */
void cn__stats_sort_keys(uint64_t *keys, uint64_t *scratch, size_t n,
                         cn__stats_histogram_t count);

#endif
