/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The split decision and the publication of the traffic config (see
 * split.h for the contracts).
 *
 * Publication. The whole config fits in 64 bits, so it is published as one
 * packed word in an _Atomic uint64_t rather than as an atomic pointer to a
 * heap copy: a reader can never see half of one config and half of
 * another, and there is no old copy whose memory must be reclaimed once no
 * reader holds it (the hazard-pointer / RCU problem). Layout of the word:
 *
 *   bits  0..15  canary_weight_bp
 *   bits 16..31  shadow_bp
 *   bits 32..39  mode
 *   bit  40      force_enabled
 *
 * The store is seq_cst and the load acquire: a load that starts after the
 * store has completed (returned) observes it, which is the "once publish
 * returns, no new request goes to a version at weight 0" guarantee.
 *
 * Policies. In the shape of h2o's balancers, each split mode is an entry
 * in a table of callbacks indexed by the mode. The policies here keep no
 * state of their own (the random state belongs to the calling worker), so
 * an entry is just a decide function (the names live in types/); a policy that needs
 * state would embed this table entry as its first member, `super`.
 */
#include "router/split.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/rand.h"

#include <string.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

typedef struct split_policy_s {
    void (*decide)(const cn_traffic_t *t, const cn_router_request_info_t *req,
                   uint64_t *rng_state, cn_router_decision_t *out);
} split_policy_t;

/* ------------------------------------------------------------ randomness */

uint32_t cn_router_rng_bp(uint64_t *rng_state)
{
    /* Unbiased: x % 10000 alone over-weights the low residues by one part
     * in 2^64 / 10000. */
    return (uint32_t)cn_rand_below(rng_state, CN_BP_MAX);
}

uint32_t cn_router_split_bucket(const void *key, size_t len)
{
    uint64_t h = cn_hash_fnv1a64(key, len);
    /*
     * FNV's low bits mix poorly for short keys that differ in the last
     * byte (user-1, user-2, ...), and the modulo reads mostly low bits:
     * the splitmix64 finaliser makes every output bit depend on every
     * input bit.
     */
    return (uint32_t)(cn_rand_mix(h) % CN_BP_MAX);
}

/* -------------------------------------------------------------- policies */

static void decide_random(const cn_traffic_t *t, const cn_router_request_info_t *req,
                          uint64_t *rng_state, cn_router_decision_t *out)
{
    (void)req;
    out->target = cn_router_rng_bp(rng_state) < t->canary_weight_bp ? CN_ROLE_CANARY
                                                                    : CN_ROLE_STABLE;
    out->shadow_copy = false;
    out->reason = CN_ROUTER_REASON_RANDOM;
}

static void decide_sticky(const cn_traffic_t *t, const cn_router_request_info_t *req,
                          uint64_t *rng_state, cn_router_decision_t *out)
{
    if (req == NULL || req->sticky_key == NULL || req->sticky_key_len == 0) {
        /* No key, no identity to keep stable: fall back to a fair draw. */
        decide_random(t, req, rng_state, out);
        return;
    }
    /* bucket < weight: raising the weight only adds buckets to canary. */
    uint32_t bucket = cn_router_split_bucket(req->sticky_key, req->sticky_key_len);
    out->target = bucket < t->canary_weight_bp ? CN_ROLE_CANARY : CN_ROLE_STABLE;
    out->shadow_copy = false;
    out->reason = CN_ROUTER_REASON_STICKY;
}

static void decide_shadow(const cn_traffic_t *t, const cn_router_request_info_t *req,
                          uint64_t *rng_state, cn_router_decision_t *out)
{
    (void)req;
    out->target = CN_ROLE_STABLE;
    out->shadow_copy = cn_router_rng_bp(rng_state) < t->shadow_bp;
    out->reason = CN_ROUTER_REASON_SHADOW;
}

static const split_policy_t policies[CN_TRAFFIC_MODE_COUNT] = {
    [CN_TRAFFIC_MODE_RANDOM] = {decide_random},
    [CN_TRAFFIC_MODE_STICKY] = {decide_sticky},
    [CN_TRAFFIC_MODE_SHADOW] = {decide_shadow},
};

/* ---------------------------------------------------------------- config */

static uint64_t traffic_pack(const cn_traffic_t *t)
{
    return (uint64_t)t->canary_weight_bp | (uint64_t)t->shadow_bp << 16 |
           (uint64_t)((unsigned)t->mode & 0xffu) << 32 |
           (uint64_t)(t->force_enabled ? 1u : 0u) << 40;
}

static void traffic_unpack(uint64_t packed, cn_traffic_t *out)
{
    out->canary_weight_bp = (uint16_t)(packed & 0xffffu);
    out->shadow_bp = (uint16_t)((packed >> 16) & 0xffffu);
    out->mode = (cn_traffic_mode_t)((packed >> 32) & 0xffu);
    out->force_enabled = ((packed >> 40) & 1u) != 0;
}

int cn_router_traffic_slot_init(cn_router_traffic_slot_t *slot, const cn_traffic_t *t)
{
    if (cn_traffic_validate(t) != CN_OK)
        return CN_EINVAL;
    atomic_init(&slot->packed, traffic_pack(t));
    return CN_OK;
}

int cn_router_traffic_publish(cn_router_traffic_slot_t *slot, const cn_traffic_t *t)
{
    if (cn_traffic_validate(t) != CN_OK)
        return CN_EINVAL;
    atomic_store_explicit(&slot->packed, traffic_pack(t), memory_order_seq_cst);
    return CN_OK;
}

void cn_router_traffic_acquire(cn_router_traffic_slot_t *slot, cn_traffic_t *out)
{
    traffic_unpack(atomic_load_explicit(&slot->packed, memory_order_acquire), out);
}

/* -------------------------------------------------------------- decision */

/* ASCII case-insensitive comparison of (s, len) with the lower-case word. */
static bool word_equals(const char *s, size_t len, const char *word)
{
    size_t wlen = strlen(word);
    if (len != wlen)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)word[i])
            return false;
    }
    return true;
}

int cn_router_split_decide(const cn_traffic_t *t, const cn_router_request_info_t *req,
                           uint64_t *rng_state, cn_router_decision_t *out)
{
    if (cn_traffic_validate(t) != CN_OK || rng_state == NULL || out == NULL)
        return CN_EINVAL;

    if (t->canary_weight_bp == 0) {
        out->target = CN_ROLE_STABLE;
        out->shadow_copy = false;
        out->reason = CN_ROUTER_REASON_ZERO;
        return CN_OK;
    }

    if (t->force_enabled && req != NULL && req->force_value != NULL) {
        bool always = word_equals(req->force_value, req->force_value_len, "always");
        if (always || word_equals(req->force_value, req->force_value_len, "never")) {
            out->target = always ? CN_ROLE_CANARY : CN_ROLE_STABLE;
            out->shadow_copy = false;
            out->reason = CN_ROUTER_REASON_FORCED;
            return CN_OK;
        }
    }

    policies[t->mode].decide(t, req, rng_state, out);
    return CN_OK;
}

/* ----------------------------------------------------------------- names */

const char *cn_router_reason_name(cn_router_reason_t reason)
{
    static const char *const names[] = {"random", "sticky", "forced", "shadow", "zero"};
    if ((unsigned)reason >= sizeof names / sizeof names[0])
        return "?";
    return names[reason];
}
