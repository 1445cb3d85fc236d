/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The canary's basis points as HAProxy server weights (haproxy.h,
 * cn_haproxy_split). Pure.
 *
 * HAProxy gives a server of weight w a share w / Σw of the backend's
 * requests (roundrobin and random alike), every weight an integer in
 * 0..256. With n_s stable and n_c canary servers the canary's share is
 * C / (C + S), C in [0, 256 n_c] and S in [0, 256 n_s] the roles' sums.
 * For one C the closest S is one of the two integers around the ideal
 * S* = C (10000 - p) / p, and the closest S that every stable server can
 * share equally is one of the two multiples of n_s around S*: trying
 * those four for every C finds the best pair by the order of haproxy.h
 * in O(256 n_c) steps, without floating point (the errors are compared
 * as fractions, cross-multiplied in 64 bits: |10000 C - p T| < 2^31 and
 * T = C + S < 2^17).
 *
 * A nonzero share never becomes 0 and a share below 100% never becomes
 * 100%: C > 0 when p > 0 and S > 0 when p < 10000 (with both sets
 * non-empty). Rounding a 0.01% canary down to nothing would stop the
 * canary's measurements while the controller believes the step runs; it
 * gets the smallest share HAProxy can give instead, 1 / (1 + 256 n_s),
 * and the effective weight says so.
 */
#include "engines/haproxy.h"
#include "types/types.h"
#include "util/error.h"

#include <stdbool.h>
#include <stdint.h>

uint16_t cn_haproxy_share_bp(uint32_t canary_total, uint32_t stable_total)
{
    uint64_t t = (uint64_t)canary_total + stable_total;
    if (t == 0)
        return 0;
    return (uint16_t)((20000u * (uint64_t)canary_total + t) / (2 * t));
}

unsigned cn_haproxy_weight(uint32_t total, size_t n, size_t i)
{
    if (n == 0)
        return 0;
    return (unsigned)(total / n + (i < total % n ? 1 : 0));
}

typedef struct cand_s {
    uint32_t c, s;
    uint32_t bp_err;   /* key 1 */
    bool unbalanced;   /* key 2 */
    uint64_t num, den; /* key 3: |10000 C - p T| / T */
} cand_t;

static cand_t make(uint32_t c, uint32_t s, uint16_t p, size_t n_s, size_t n_c)
{
    cand_t k = {.c = c, .s = s};
    uint16_t got = cn_haproxy_share_bp(c, s);
    k.bp_err = got > p ? (uint32_t)(got - p) : (uint32_t)(p - got);
    k.unbalanced = (n_c && c % n_c) || (n_s && s % n_s);
    uint64_t t = (uint64_t)c + s;
    int64_t d = (int64_t)(10000u * (uint64_t)c) - (int64_t)((uint64_t)p * t);
    k.num = (uint64_t)(d < 0 ? -d : d);
    k.den = t;
    return k;
}

/* Whether a is better than b. */
static bool better(const cand_t *a, const cand_t *b)
{
    if (a->bp_err != b->bp_err)
        return a->bp_err < b->bp_err;
    if (a->unbalanced != b->unbalanced)
        return !a->unbalanced;
    uint64_t l = a->num * b->den, r = b->num * a->den;
    if (l != r)
        return l < r;
    return a->den > b->den;
}

int cn_haproxy_split(uint16_t canary_bp, size_t n_stable, size_t n_canary,
                     cn_haproxy_split_t *out)
{
    *out = (cn_haproxy_split_t){0, 0, 0};
    if (canary_bp > CN_BP_MAX || n_stable > CN_VERSION_MAX_ADDRESSES ||
        n_canary > CN_VERSION_MAX_ADDRESSES)
        return CN_EINVAL;
    const uint32_t c_max = CN_HAPROXY_WEIGHT_MAX * (uint32_t)n_canary;
    const uint32_t s_max = CN_HAPROXY_WEIGHT_MAX * (uint32_t)n_stable;
    const uint16_t p = canary_bp;
    if (n_canary == 0 || n_stable == 0) {
        /* One role, or none: it takes everything there is. */
        out->canary_total = c_max;
        out->stable_total = s_max;
        out->effective_weight_bp = cn_haproxy_share_bp(c_max, s_max);
        return 0;
    }
    /* Never off when asked on, never all when asked for less. */
    const uint32_t c_lo = p > 0 ? 1 : 0, c_hi = p == 0 ? 0 : c_max;
    const uint32_t s_lo = p < CN_BP_MAX ? 1 : 0, s_hi = p == CN_BP_MAX ? 0 : s_max;
    bool have = false;
    cand_t best = {0};
    for (uint32_t c = c_lo; c <= c_hi; c++) {
        uint64_t ideal_floor; /* floor(S*) */
        bool exact;
        if (p == 0) {
            ideal_floor = s_hi;
            exact = true;
        } else {
            uint64_t num = (uint64_t)c * (CN_BP_MAX - p);
            ideal_floor = num / p;
            exact = num % p == 0;
        }
        uint64_t mult_floor = ideal_floor / n_stable * n_stable;
        uint64_t tries[4] = {ideal_floor, ideal_floor + (exact ? 0 : 1), mult_floor,
                             mult_floor + n_stable};
        for (int i = 0; i < 4; i++) {
            uint64_t s = tries[i];
            if (s < s_lo)
                s = s_lo;
            if (s > s_hi)
                s = s_hi;
            if (c + s == 0)
                continue;
            cand_t k = make(c, (uint32_t)s, p, n_stable, n_canary);
            if (!have || better(&k, &best)) {
                best = k;
                have = true;
            }
        }
    }
    out->canary_total = best.c;
    out->stable_total = best.s;
    out->effective_weight_bp = cn_haproxy_share_bp(best.c, best.s);
    return 0;
}
