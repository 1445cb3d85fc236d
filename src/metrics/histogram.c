/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The log-linear latency histogram: fixed memory, O(1) record, quantiles
 * within 0.39% relative error, mergeable across per-thread shards.
 *
 * Layout and error bound
 * ----------------------
 * The design is HdrHistogram's (Gil Tene) with two significant binary
 * digits' worth of precision fixed at compile time. A value v (microseconds)
 * goes to:
 *
 *   v < 256:           bucket v                        (width 1, exact)
 *   2^e <= v < 2^(e+1), e = 8 .. 40:
 *                      bucket 256 + (e - 8) * 128 + ((v >> (e - 7)) & 127)
 *
 * That is, each power-of-two range is cut into 128 linear sub-buckets of
 * width w = 2^(e-7); the sub-bucket is the 7 bits below the leading one.
 * The index needs one count-leading-zeros and two shifts, so recording costs
 * the same for every value, with no search over bucket edges.
 *
 * Every value x in a log-linear bucket [L, L + w - 1] has x >= L >= 128 w.
 * Reporting the rounded-down midpoint m = L + (w - 1) / 2 (integer
 * division) is off by at most w / 2, so |m - x| / x <= (w / 2) / (128 w)
 * = 1/256 ~= 0.39%, well inside the 1% the router promises. Below 256 the
 * buckets are exact. Reporting the bucket's lower or upper edge instead
 * would double the bound to 1/128 ~= 0.78%.
 *
 * Why log-linear and not fixed Prometheus-style edges: the judge compares
 * tail quantiles (p99) whose location we do not know in advance; a relative
 * error bound holds wherever the tail lands, from 1 us to 2^41 us. Why not a
 * sketch (t-digest, DDSketch): those either allocate or need merging logic
 * with rank error that depends on the data; a flat array of counters merges
 * by addition and gives the same answer regardless of shard order.
 *
 * Memory: 256 + 33 * 128 = 4480 counters of 8 bytes, about 35 KiB per
 * histogram. Values above 2^41 - 1 us (about 25 days) are clamped into the
 * last bucket and counted separately; a request that slow is a bug report.
 *
 * Concurrency: single writer per histogram, plain (non-atomic) stores.
 */
#include "metrics/metrics.h"

#include "util/error.h"

#include <string.h>

#define HIST_SUB_BITS 7u /* log2(CN_METRICS_HIST_SUB) */

_Static_assert(CN_METRICS_HIST_SUB == (1u << HIST_SUB_BITS), "sub-bucket bits");
_Static_assert(CN_METRICS_HIST_LINEAR == (1u << CN_METRICS_HIST_MIN_EXP),
               "linear range ends where the first power-of-two range starts");
_Static_assert(CN_METRICS_HIST_LINEAR == 2 * CN_METRICS_HIST_SUB,
               "the first log-linear range has width-2 buckets");

void cn_metrics_hist_init(cn_metrics_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

void cn_metrics_hist_reset(cn_metrics_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

size_t cn_metrics_hist_bucket_index(uint64_t value_us)
{
    if (value_us > CN_METRICS_HIST_MAX_US)
        value_us = CN_METRICS_HIST_MAX_US;
    if (value_us < CN_METRICS_HIST_LINEAR)
        return (size_t)value_us;
    /* value_us >= 256, so the argument to clz is non-zero. */
    unsigned exp = 63u - (unsigned)__builtin_clzll((unsigned long long)value_us);
    uint64_t sub = (value_us >> (exp - HIST_SUB_BITS)) & (CN_METRICS_HIST_SUB - 1);
    return CN_METRICS_HIST_LINEAR +
           (size_t)(exp - CN_METRICS_HIST_MIN_EXP) * CN_METRICS_HIST_SUB + (size_t)sub;
}

int cn_metrics_hist_bucket_bounds(size_t index, uint64_t *lower_us, uint64_t *upper_us)
{
    if (index >= CN_METRICS_HIST_BUCKETS)
        return CN_EINVAL;
    if (index < CN_METRICS_HIST_LINEAR) {
        *lower_us = *upper_us = (uint64_t)index;
        return CN_OK;
    }
    size_t rel = index - CN_METRICS_HIST_LINEAR;
    unsigned exp = CN_METRICS_HIST_MIN_EXP + (unsigned)(rel / CN_METRICS_HIST_SUB);
    uint64_t sub = (uint64_t)(rel % CN_METRICS_HIST_SUB);
    uint64_t width = UINT64_C(1) << (exp - HIST_SUB_BITS);
    uint64_t lower = (UINT64_C(1) << exp) + sub * width;
    *lower_us = lower;
    *upper_us = lower + width - 1;
    return CN_OK;
}

/* Add without wrapping: a saturated sum is visibly wrong, a wrapped one is
 * silently wrong. */
static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s < a ? UINT64_MAX : s;
}

void cn_metrics_hist_record(cn_metrics_hist_t *h, uint64_t value_us)
{
    if (value_us > CN_METRICS_HIST_MAX_US) {
        value_us = CN_METRICS_HIST_MAX_US;
        h->clamped++;
    }
    h->counts[cn_metrics_hist_bucket_index(value_us)]++;
    h->count++;
    h->sum_us = add_saturating(h->sum_us, value_us);
}

uint64_t cn_metrics_hist_count(const cn_metrics_hist_t *h)
{
    return h->count;
}

uint64_t cn_metrics_hist_sum(const cn_metrics_hist_t *h)
{
    return h->sum_us;
}

uint64_t cn_metrics_hist_quantile(const cn_metrics_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    if (!(q > 0.0)) /* also catches NaN */
        q = 0.0;
    if (q > 1.0)
        q = 1.0;
    /* ceil(q * count) in double is exact enough: count < 2^53 in any
     * realistic run, and past it the rank is off by a rounding ulp. */
    double rank_d = q * (double)h->count;
    uint64_t rank = (uint64_t)rank_d;
    if ((double)rank < rank_d)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;

    uint64_t cumulative = 0;
    size_t index = 0;
    for (; index < CN_METRICS_HIST_BUCKETS; index++) {
        cumulative += h->counts[index];
        if (cumulative >= rank)
            break;
    }
    /* The counts sum to h->count >= rank, so the loop always breaks; the
     * guard keeps a corrupted struct from indexing past the end. */
    if (index == CN_METRICS_HIST_BUCKETS)
        index = CN_METRICS_HIST_BUCKETS - 1;
    uint64_t lower, upper;
    cn_metrics_hist_bucket_bounds(index, &lower, &upper);
    return lower + (upper - lower) / 2;
}

void cn_metrics_hist_merge(cn_metrics_hist_t *dst, const cn_metrics_hist_t *src)
{
    dst->count += src->count;
    dst->sum_us = add_saturating(dst->sum_us, src->sum_us);
    dst->clamped += src->clamped;
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
}

void cn_metrics_hist_delta(cn_metrics_hist_t *dst, const cn_metrics_hist_t *now,
                           const cn_metrics_hist_t *before)
{
    /* count is recounted from the buckets, so it always matches them;
     * sum_us is exact unless either sum saturated. */
    uint64_t count = 0;
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++) {
        uint64_t d =
            now->counts[i] > before->counts[i] ? now->counts[i] - before->counts[i] : 0;
        dst->counts[i] = d;
        count += d;
    }
    dst->count = count;
    dst->sum_us = now->sum_us > before->sum_us ? now->sum_us - before->sum_us : 0;
    dst->clamped = now->clamped > before->clamped ? now->clamped - before->clamped : 0;
}

uint64_t cn_metrics_hist_count_le(const cn_metrics_hist_t *h, uint64_t bound_us)
{
    if (bound_us >= CN_METRICS_HIST_MAX_US)
        return h->count;
    size_t last = cn_metrics_hist_bucket_index(bound_us);
    uint64_t lower, upper;
    cn_metrics_hist_bucket_bounds(last, &lower, &upper);
    /* Include the bucket holding bound_us only if it ends exactly there;
     * otherwise it may hold values above the bound. */
    size_t end = upper == bound_us ? last + 1 : last;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < end; i++)
        cumulative += h->counts[i];
    return cumulative;
}
