/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A uniform reservoir sampler: a bounded random sample of the raw latency
 * and prediction values, for the rank tests that cannot work from a
 * histogram.
 *
 * Algorithm R (J. S. Vitter, "Random sampling with a reservoir", ACM TOMS
 * 11(1), 1985, attributing it to Waterman): keep the first k values; the
 * t-th value (1-based, t > k) draws j uniformly from [0, t) and replaces
 * slot j when j < k. By induction every value offered so far is in the
 * reservoir with probability k / t, independently of arrival order.
 *
 * Why R and not Li's Algorithm L (ACM TOMS 20(4), 1994), which skips ahead
 * geometrically and needs O(k (1 + log(t/k))) random draws instead of t:
 * the router calls add once per request, where one extra PRNG step costs a
 * few nanoseconds next to the parsing and the syscalls, while L's skip
 * counts need log() and exp() on doubles and are harder to verify. If a
 * profile ever shows the draw, L can replace R behind the same interface.
 *
 * The PRNG is splitmix64 (Steele, Lea and Flood, OOPSLA 2014), one 64-bit
 * word of state inside the struct, so there is no global state and each
 * worker's shard is reproducible from its seed. The draw in [0, t) uses
 * rejection to avoid modulo bias.
 *
 * Concurrency: single writer per reservoir; no atomics.
 */
#include "metrics/metrics.h"

#include "util/error.h"
#include "util/rand.h"

#include <stdlib.h>

int cn_metrics_reservoir_init(cn_metrics_reservoir_t *r, size_t capacity, uint64_t seed)
{
    if (capacity == 0)
        return CN_EINVAL;
    r->values = cn_xmallocarray(capacity, sizeof *r->values);
    r->capacity = capacity;
    r->size = 0;
    r->seen = 0;
    r->rng_state = seed;
    return CN_OK;
}

void cn_metrics_reservoir_dispose(cn_metrics_reservoir_t *r)
{
    free(r->values);
    r->values = NULL;
    r->capacity = 0;
    r->size = 0;
    r->seen = 0;
}

void cn_metrics_reservoir_add(cn_metrics_reservoir_t *r, double value)
{
    r->seen++;
    if (r->size < r->capacity) {
        r->values[r->size++] = value;
        return;
    }
    /* r->seen is t, the 1-based position of this value. */
    uint64_t slot = cn_rand_below(&r->rng_state, r->seen);
    if (slot < r->capacity)
        r->values[slot] = value;
}

size_t cn_metrics_reservoir_size(const cn_metrics_reservoir_t *r)
{
    return r->size;
}

uint64_t cn_metrics_reservoir_seen(const cn_metrics_reservoir_t *r)
{
    return r->seen;
}

const double *cn_metrics_reservoir_values(const cn_metrics_reservoir_t *r)
{
    return r->values;
}

void cn_metrics_reservoir_reset(cn_metrics_reservoir_t *r)
{
    r->size = 0;
    r->seen = 0;
}
