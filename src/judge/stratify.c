/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One arm's aggregate sample from per-segment reservoirs, in proportion to
 * that arm's own traffic (issue 14, "both arms are compared over the same
 * segment mix").
 *
 * The router keeps a reservoir of at most k values per (version, segment)
 * cell. Pooling the reservoirs as they are gives each segment the weight
 * of its reservoir, not of its traffic: once a busy segment's cell is full
 * and a quiet one's is not, the busy segment is under-represented, and by
 * how much depends on the arm's volume. Stable at 99% of the traffic fills
 * every cell; a 1% canary fills none. In an A/A run with a 90/10 split the
 * two pooled samples then have different segment mixes, and an identical
 * canary "regresses" by the difference between the segments (measured: a
 * -28 ms latency gain and a prediction KS distance of 0.31).
 *
 * The fix is a proportionally stratified sample of the arm's own traffic:
 * segment s, with N_s of the arm's N requests, contributes n N_s / N
 * values, n being the largest total that no reservoir limits:
 *
 *     n = min over segments with N_s > 0 of floor(k_s N / N_s).
 *
 * Every segment then has its traffic share in the sample, whatever its
 * reservoir size. The two arms get different sampling fractions (stable's
 * n is about k / (largest share); the canary, whose cells are not full,
 * keeps all its values), which is fine: under a random or sticky split
 * both arms' traffic has the same segment mix, so both samples estimate
 * the same mixture. Equal fractions would starve the canary (a reservoir
 * of 10,000 would leave it about 100 values at 1%).
 *
 * Rounding. The shares n N_s / N are apportioned by largest remainders
 * (Hamilton's method): each segment gets floor(n N_s / N) and the n -
 * sum of floors left over go, one each, to the segments with the largest
 * fractional parts (ties to the lower index). The total is exactly n, and
 * no segment gets more than its reservoir: n N_s / N <= k_s by the choice
 * of n, and a segment whose share is an integer has a zero remainder and
 * never gets one of the extra values.
 *
 * Subsampling. A segment that gives fewer values than its reservoir holds
 * gives a uniform random subset (a partial Fisher-Yates shuffle of a copy)
 * drawn with SplitMix64 from `seed` and the segment's index, so a result
 * is reproducible and does not depend on the other segments.
 */
#include "judge/judge.h"
#include "util/error.h"
#include "util/rand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cn_judge_stratify_size(const cn_judge_stratum_t *strata, size_t n_strata,
                           size_t *n_out)
{
    if (!n_out || (n_strata && !strata))
        return CN_EINVAL;
    uint64_t total = 0;
    for (size_t s = 0; s < n_strata; s++) {
        const cn_judge_stratum_t *st = &strata[s];
        if (st->k > 0 && !st->values)
            return CN_EINVAL;
        /* A reservoir holds some of the segment's requests, never more. */
        if ((uint64_t)st->k > st->requests)
            return CN_EINVAL;
        if (st->requests > UINT64_MAX - total)
            return CN_ETOOBIG;
        total += st->requests;
        for (size_t i = 0; i < st->k; i++)
            if (!isfinite(st->values[i]))
                return CN_ENONFINITE;
    }
    if (total == 0) {
        *n_out = 0;
        return 0;
    }
    /* floor(k_s N / N_s) in 128 bits: k_s N overflows 64 at real volumes. */
    unsigned __int128 n = total;
    for (size_t s = 0; s < n_strata; s++) {
        const cn_judge_stratum_t *st = &strata[s];
        if (st->requests == 0)
            continue;
        unsigned __int128 lim = (unsigned __int128)st->k * total / st->requests;
        if (lim < n)
            n = lim;
    }
    *n_out = (size_t)n; /* n <= sum of k_s, which fits */
    return 0;
}

int cn_judge_stratify(const cn_judge_stratum_t *strata, size_t n_strata, uint64_t seed,
                      double *out, size_t out_cap, size_t *n_out)
{
    size_t n;
    int rc = cn_judge_stratify_size(strata, n_strata, &n);
    if (rc)
        return rc;
    if (n > out_cap || (n && !out))
        return CN_ETOOBIG;
    *n_out = n;
    if (n == 0)
        return 0;

    uint64_t total = 0;
    for (size_t s = 0; s < n_strata; s++)
        total += strata[s].requests;
    /* Shares: floor and remainder of n N_s / N, exactly, in 128 bits. */
    size_t *take = cn_xcalloc(n_strata, sizeof *take);
    uint64_t *rem = cn_xcalloc(n_strata, sizeof *rem);
    size_t given = 0;
    for (size_t s = 0; s < n_strata; s++) {
        unsigned __int128 num = (unsigned __int128)n * strata[s].requests;
        take[s] = (size_t)(num / total);
        rem[s] = (uint64_t)(num % total);
        given += take[s];
    }
    /* Largest remainders; n - given < n_strata, so this is short. */
    while (given < n) {
        size_t best = SIZE_MAX;
        for (size_t s = 0; s < n_strata; s++)
            if (rem[s] > 0 && (best == SIZE_MAX || rem[s] > rem[best]))
                best = s;
        if (best == SIZE_MAX)
            break; /* cannot happen: the remainders sum to (n - given) N */
        take[best]++;
        rem[best] = 0;
        given++;
    }

    size_t kmax = 0;
    for (size_t s = 0; s < n_strata; s++)
        kmax = strata[s].k > kmax ? strata[s].k : kmax;
    double *scratch = cn_xmallocarray(kmax ? kmax : 1, sizeof *scratch);
    size_t w = 0;
    for (size_t s = 0; s < n_strata; s++) {
        const cn_judge_stratum_t *st = &strata[s];
        size_t m = take[s] < st->k ? take[s] : st->k;
        if (m == 0)
            continue; /* values may be NULL */
        if (m == st->k) {
            memcpy(out + w, st->values, m * sizeof *out);
        } else {
            memcpy(scratch, st->values, st->k * sizeof *scratch);
            uint64_t rng = cn_rand_mix(seed ^ cn_rand_mix((uint64_t)s + 1));
            for (size_t i = 0; i < m; i++) {
                size_t j = i + (size_t)cn_rand_below(&rng, st->k - i);
                double t = scratch[i];
                scratch[i] = scratch[j];
                scratch[j] = t;
            }
            memcpy(out + w, scratch, m * sizeof *out);
        }
        w += m;
    }
    free(scratch);
    free(take);
    free(rem);
    *n_out = w;
    return 0;
}
