/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Lock-free building blocks for the router's per-request measurements: a
 * log-linear latency histogram in fixed memory, and a uniform reservoir
 * sampler that keeps a bounded random sample of raw values for the rank
 * tests in src/stats/.
 *
 * Threads: neither structure uses atomics or locks. Each worker thread owns
 * its own shard (one writer per object); a reader that wants a global view
 * merges the shards (cn_metrics_hist_merge) after the writers have handed
 * them over, e.g. by an atomic pointer swap of double-buffered shards. Every
 * function touches only its arguments: no global state.
 */
#ifndef CN_METRICS_METRICS_H
#define CN_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ histogram */

/*
 * Bucket layout (see the essay in histogram.c):
 *  - values 0 .. 255 each have their own bucket (exact);
 *  - each power-of-two range [2^e, 2^(e+1)), e = 8 .. 40, is split into 128
 *    equal sub-buckets of width 2^(e-7).
 * So every bucket's width is at most 1/128 of its lower bound, and the
 * midpoint reported by cn_metrics_hist_quantile is within 1/256 (0.39%) of
 * every value in the bucket.
 *
 * Values above CN_METRICS_HIST_MAX_US (2^41 - 1 us, about 25 days) are
 * clamped to it and counted in `clamped`; 0 is a valid, exact value.
 */
#define CN_METRICS_HIST_LINEAR 256u /* exact buckets for 0 .. 255 */
#define CN_METRICS_HIST_SUB 128u    /* sub-buckets per power of two */
#define CN_METRICS_HIST_MIN_EXP 8u  /* first log-linear range: [2^8, 2^9) */
#define CN_METRICS_HIST_MAX_EXP 40u /* last log-linear range: [2^40, 2^41) */
#define CN_METRICS_HIST_MAX_US ((UINT64_C(1) << (CN_METRICS_HIST_MAX_EXP + 1)) - 1)
#define CN_METRICS_HIST_BUCKETS                                                        \
    (CN_METRICS_HIST_LINEAR +                                                          \
     (CN_METRICS_HIST_MAX_EXP - CN_METRICS_HIST_MIN_EXP + 1) * CN_METRICS_HIST_SUB)

typedef struct cn_metrics_hist_s cn_metrics_hist_t;

/*
 * A latency histogram: about 35 KiB, all inline, no heap. The caller
 * allocates it (embedded in a shard, static, or on the heap) and calls
 * cn_metrics_hist_init before use; there is nothing to dispose.
 */
struct cn_metrics_hist_s {
    /* read-only: written only by the cn_metrics_hist_* functions */
    uint64_t count;   /* values recorded */
    uint64_t sum_us;  /* sum of the (clamped) values, saturating at
                         UINT64_MAX instead of wrapping */
    uint64_t clamped; /* values that were above CN_METRICS_HIST_MAX_US */
    uint64_t counts[CN_METRICS_HIST_BUCKETS];
};

/* Make h empty. Equivalent to cn_metrics_hist_reset. */
void cn_metrics_hist_init(cn_metrics_hist_t *h);

/* Forget every value; h is then as after cn_metrics_hist_init. */
void cn_metrics_hist_reset(cn_metrics_hist_t *h);

/*
 * Record one value. O(1): one count-leading-zeros and a few shifts, no
 * loop, no branch on the bucket count. Values above
 * CN_METRICS_HIST_MAX_US are recorded as CN_METRICS_HIST_MAX_US and also
 * counted in h->clamped. Never fails.
 */
void cn_metrics_hist_record(cn_metrics_hist_t *h, uint64_t value_us);

/* Number of values recorded. */
uint64_t cn_metrics_hist_count(const cn_metrics_hist_t *h);

/* Sum of the recorded (clamped) values in us, saturating at UINT64_MAX. */
uint64_t cn_metrics_hist_sum(const cn_metrics_hist_t *h);

/*
 * The q-quantile: a representative value of the bucket holding the value
 * of rank ceil(q * count) (1-based; rank 0 is taken as 1, so q = 0 gives
 * the minimum's bucket and q = 1 the maximum's). The representative is the
 * bucket's midpoint rounded down, lower + (upper - lower) / 2, which is
 * exact for values below 256 and otherwise within 1/256 of the true order
 * statistic. q is clamped to [0, 1] and NaN is taken as 0. An empty
 * histogram returns 0. O(CN_METRICS_HIST_BUCKETS); not for the hot path.
 */
uint64_t cn_metrics_hist_quantile(const cn_metrics_hist_t *h, double q);

/*
 * Add every count of src into dst (summing per-thread shards). dst and src
 * may not alias. The result is identical to recording both value streams
 * into one histogram.
 */
void cn_metrics_hist_merge(cn_metrics_hist_t *dst, const cn_metrics_hist_t *src);

/*
 * dst = now - before, bucket by bucket: the values recorded between two
 * copies of one cumulative histogram (the latencies of the last second,
 * from two snapshots). Counts that went down (before is not an earlier
 * copy of now) are taken as 0, so the result is always a histogram. dst
 * may alias neither.
 */
void cn_metrics_hist_delta(cn_metrics_hist_t *dst, const cn_metrics_hist_t *now,
                           const cn_metrics_hist_t *before);

/*
 * Cumulative count for a Prometheus `le` bucket: the number of recorded
 * values whose bucket lies entirely at or below bound_us. It never counts a
 * value above bound_us; it is exact when bound_us is an upper bucket bound
 * (any bound below 256, any bound of the form cn_metrics_hist_bucket_bounds
 * gives, and any bound >= CN_METRICS_HIST_MAX_US, which returns count), and
 * otherwise may miss values in the one bucket that straddles bound_us,
 * i.e. values within 1/128 below it. Monotone non-decreasing in bound_us.
 * O(CN_METRICS_HIST_BUCKETS).
 */
uint64_t cn_metrics_hist_count_le(const cn_metrics_hist_t *h, uint64_t bound_us);

/* Index of the bucket that records value_us (after clamping). */
size_t cn_metrics_hist_bucket_index(uint64_t value_us);

/*
 * Inclusive value range [*lower_us, *upper_us] of bucket `index`, for
 * iterating over h->counts. index must be < CN_METRICS_HIST_BUCKETS, else
 * CN_EINVAL and nothing is written; 0 on success.
 */
int cn_metrics_hist_bucket_bounds(size_t index, uint64_t *lower_us, uint64_t *upper_us);

/* ------------------------------------------------------------ reservoir */

typedef struct cn_metrics_reservoir_s cn_metrics_reservoir_t;

/*
 * A uniform random sample of at most `capacity` values out of every value
 * offered since init or the last reset (Vitter's Algorithm R). The caller
 * allocates the struct; _init allocates the value array, _dispose frees it.
 */
struct cn_metrics_reservoir_s {
    /* private */
    double *values;
    size_t capacity;
    size_t size;
    uint64_t seen;
    uint64_t rng_state; /* splitmix64 */
};

/*
 * Prepare r for `capacity` values, with a PRNG seeded by `seed` (the same
 * seed and the same offers give the same sample). capacity == 0:
 * CN_EINVAL, and r needs no dispose. Allocation aborts on out-of-memory.
 */
int cn_metrics_reservoir_init(cn_metrics_reservoir_t *r, size_t capacity,
                              uint64_t seed);

/* Free the value array. r may then be initialised again. */
void cn_metrics_reservoir_dispose(cn_metrics_reservoir_t *r);

/*
 * Offer one value. The first `capacity` values are kept; the t-th value
 * after that (t = seen + 1) replaces a uniformly chosen slot with
 * probability capacity / t. O(1) expected. Never fails.
 */
void cn_metrics_reservoir_add(cn_metrics_reservoir_t *r, double value);

/* Number of values held: min(seen, capacity). */
size_t cn_metrics_reservoir_size(const cn_metrics_reservoir_t *r);

/* Number of values offered since init or the last reset. */
uint64_t cn_metrics_reservoir_seen(const cn_metrics_reservoir_t *r);

/*
 * The held values, size() of them, in no particular order. Borrowed: valid
 * until the next add, reset or dispose.
 */
const double *cn_metrics_reservoir_values(const cn_metrics_reservoir_t *r);

/*
 * Forget every value (size and seen become 0). The PRNG stream continues
 * rather than restarting, so successive windows draw independent samples;
 * the whole sequence is still determined by the seed.
 */
void cn_metrics_reservoir_reset(cn_metrics_reservoir_t *r);

#endif
