/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The router's split decision: given the published traffic config and what
 * the request carries (a sticky key, a force header value), decide whether
 * the request goes to the stable or the canary version, and whether a
 * shadow copy goes to canary. Pure computation: no I/O, no allocation, no
 * global state. The random state is owned by the caller (one per worker
 * thread), so the hot path takes no lock and shares no cache line.
 *
 * The traffic config is published to the workers through a
 * cn_router_traffic_slot_t: one 64-bit atomic word holding the whole config
 * packed, so a reader can never see a torn mix of two configs and there is
 * no memory to reclaim.
 */
#ifndef CN_ROUTER_SPLIT_H
#define CN_ROUTER_SPLIT_H

#include "types/types.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a decision was made, for the request log. */
typedef enum cn_router_reason_e {
    CN_ROUTER_REASON_RANDOM = 0, /* a random draw (random mode, or sticky
                                    mode for a request without a key) */
    CN_ROUTER_REASON_STICKY = 1, /* the bucket of the sticky key */
    CN_ROUTER_REASON_FORCED = 2, /* an honoured force header */
    CN_ROUTER_REASON_SHADOW = 3, /* shadow mode: served by stable */
    CN_ROUTER_REASON_ZERO = 4,   /* canary weight 0: canary gets nothing */
} cn_router_reason_t;

/*
 * Where a config is published. The caller allocates it (embedded in the
 * router) and initialises it with cn_router_traffic_slot_init; there is
 * nothing to dispose. Private: use only the functions below.
 */
typedef struct cn_router_traffic_slot_s {
    /* private */
    _Atomic uint64_t packed;
} cn_router_traffic_slot_t;

/* What the request carries, borrowed for the duration of the call. */
typedef struct cn_router_request_info_s {
    const char *sticky_key; /* header/cookie value; NULL or empty: absent */
    size_t sticky_key_len;
    const char *force_value; /* force header value; NULL: absent */
    size_t force_value_len;
} cn_router_request_info_t;

typedef struct cn_router_decision_s {
    cn_role_t target; /* the version that answers the user */
    bool shadow_copy; /* also send a copy to canary, discard it */
    cn_router_reason_t reason;
} cn_router_decision_t;

/*
 * Set slot to t before any thread reads it (not atomic with respect to
 * concurrent readers). Returns CN_EINVAL, leaving slot untouched, if t is
 * out of range.
 */
int cn_router_traffic_slot_init(cn_router_traffic_slot_t *slot, const cn_traffic_t *t);

/*
 * Atomically replace the published config with a copy of t. Any thread may
 * call it; concurrent publishers are serialised by the atomic store (the
 * last one wins). The store is sequentially consistent, so once publish
 * returns every cn_router_traffic_acquire that starts afterwards, on any
 * thread, sees t (or a later config): no request decided after the call
 * returns goes to a version at weight 0. Requests decided before keep
 * their decision and finish. Returns CN_EINVAL, publishing nothing, if t
 * is out of range.
 */
int cn_router_traffic_publish(cn_router_traffic_slot_t *slot, const cn_traffic_t *t);

/*
 * Read the current config into *out: one atomic 64-bit load (acquire), no
 * lock, never torn. Wait-free; meant to be called once per request.
 */
void cn_router_traffic_acquire(cn_router_traffic_slot_t *slot, cn_traffic_t *out);

/*
 * The split decision. rng_state is the caller's per-thread splitmix64
 * state (any seed; advanced by zero, one or two draws).
 *
 * Order of precedence:
 *  1. canary_weight_bp == 0: target stable, no shadow copy, reason ZERO,
 *     whatever the mode or force header. Weight 0 is the rollback switch, so
 *     it is absolute: not even forced requests reach canary.
 *  2. force_enabled and the force value is "always" or "never" (ASCII,
 *     case-insensitive, exact length): canary or stable, no shadow copy,
 *     reason FORCED. Any other value, or force disabled: ignored.
 *  3. the mode:
 *     - random: canary iff a uniform draw in [0, 10000) < weight;
 *     - sticky: canary iff cn_router_split_bucket(key) < weight, reason
 *       STICKY; a request without a key falls back to a random draw,
 *       reason RANDOM (so the log shows the fallback);
 *     - shadow: target stable always, reason SHADOW; shadow_copy iff a
 *       uniform draw < shadow_bp. The weight plays no part beyond rule 1.
 * Weight 10000 sends every request to canary in random and sticky modes.
 *
 * Returns 0, or CN_EINVAL if t is out of range (out untouched).
 */
int cn_router_split_decide(const cn_traffic_t *t, const cn_router_request_info_t *req,
                           uint64_t *rng_state, cn_router_decision_t *out);

/*
 * The sticky bucket of a key, in [0, 10000): FNV-1a 64 over the bytes, then
 * the splitmix64 finaliser to spread FNV's weak low bits, then mod 10000
 * (the modulo bias, 10000 / 2^64, is negligible). Stable across runs,
 * processes and machines: do not change it, or cohorts move.
 */
uint32_t cn_router_split_bucket(const void *key, size_t len);

/* An unbiased uniform draw in [0, 10000) (rejection sampling). */
uint32_t cn_router_rng_bp(uint64_t *rng_state);

/* "random", "sticky", "forced", "shadow", "zero"; "?" if out of range. */
const char *cn_router_reason_name(cn_router_reason_t reason);

#endif
