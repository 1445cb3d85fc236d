/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The router's split decision: random and sticky split fractions inside a
 * 99.9% binomial interval, the sticky cohort that only grows as the weight
 * rises, the weight-0 and force rules, shadow mode, and the lock-free
 * publication of the traffic config (round trip, and no torn reads while a
 * publisher races readers). Every seed is fixed, so every run draws the
 * same numbers; nothing depends on the clock.
 */
#include "router/split.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/*
 * Half-width of the two-sided 99.9% interval for the count of successes in
 * n Bernoulli(p) trials, by the normal approximation with a continuity
 * correction. Every n*p in this file is at least 100, where the
 * approximation is good.
 */
static double binomial_halfwidth(double n, double p)
{
    double z = gsl_cdf_ugaussian_Pinv(1.0 - 0.001 / 2.0);
    return z * sqrt(n * p * (1.0 - p)) + 0.5;
}

static void assert_count_in_interval(const char *what, uint64_t count, uint64_t n,
                                     unsigned weight_bp)
{
    double p = weight_bp / 10000.0;
    double expected = (double)n * p;
    double half = binomial_halfwidth((double)n, p);
    cr_log_info("%s: weight %u bp, %llu of %llu = %.5f%% (expected %.5f%% +- %.5f)",
                what, weight_bp, (unsigned long long)count, (unsigned long long)n,
                100.0 * (double)count / (double)n, 100.0 * p, 100.0 * half / (double)n);
    cr_assert(fabs((double)count - expected) <= half,
              "%s at %u bp: %llu of %llu, expected %.1f +- %.1f", what, weight_bp,
              (unsigned long long)count, (unsigned long long)n, expected, half);
}

static cn_traffic_t traffic(cn_traffic_mode_t mode, unsigned weight_bp,
                            unsigned shadow_bp, bool force)
{
    cn_traffic_t t = {.canary_weight_bp = (uint16_t)weight_bp,
                      .shadow_bp = (uint16_t)shadow_bp,
                      .mode = mode,
                      .force_enabled = force};
    return t;
}

static cn_router_request_info_t with_key(const char *key)
{
    cn_router_request_info_t r = {.sticky_key = key,
                                  .sticky_key_len = key ? strlen(key) : 0};
    return r;
}

static cn_router_request_info_t with_force(const char *value)
{
    cn_router_request_info_t r = {.force_value = value,
                                  .force_value_len = value ? strlen(value) : 0};
    return r;
}

static cn_router_decision_t decide(const cn_traffic_t *t,
                                   const cn_router_request_info_t *req, uint64_t *rng)
{
    cn_router_decision_t d;
    memset(&d, 0xa5, sizeof d); /* so a field left unset shows */
    cr_assert_eq(cn_router_split_decide(t, req, rng, &d), CN_OK);
    return d;
}

static const unsigned split_weights_bp[] = {1, 100, 500, 2500, 5000};
#define N_WEIGHTS (sizeof split_weights_bp / sizeof split_weights_bp[0])

/* ---------------------------------------------------------------- random */

Test(split, random_fraction_within_binomial_interval)
{
    const uint64_t n = 1000000;
    for (size_t w = 0; w < N_WEIGHTS; w++) {
        cn_traffic_t t = traffic(CN_TRAFFIC_MODE_RANDOM, split_weights_bp[w], 0, false);
        uint64_t rng = 0x5eed0000u + w, canary = 0;
        for (uint64_t i = 0; i < n; i++) {
            cn_router_decision_t d = decide(&t, NULL, &rng);
            cr_assert_eq(d.reason, CN_ROUTER_REASON_RANDOM);
            cr_assert_not(d.shadow_copy);
            canary += d.target == CN_ROLE_CANARY;
        }
        assert_count_in_interval("random", canary, n, split_weights_bp[w]);
    }
}

Test(split, bp_draw_is_in_range_and_covers_it)
{
    static uint8_t seen[CN_BP_MAX];
    uint64_t rng = 7;
    for (int i = 0; i < 200000; i++) {
        uint32_t v = cn_router_rng_bp(&rng);
        cr_assert_lt(v, CN_BP_MAX);
        seen[v] = 1;
    }
    /* 20 draws per value: P(some value missed) is about 10000 * e^-20. */
    for (unsigned v = 0; v < CN_BP_MAX; v++)
        cr_assert(seen[v], "value %u never drawn", v);
}

/* ---------------------------------------------------------------- sticky */

Test(split, sticky_bucket_is_pinned)
{
    /*
     * FNV-1a 64 + splitmix64 finaliser, mod 10000. These values must never
     * change: a change would move every user between cohorts. Computed
     * independently in Python:
     *   h = 0xcbf29ce484222325; for c in key: h = ((h ^ c) * 0x100000001b3) % 2**64
     *   then the splitmix64 finaliser, then % 10000.
     */
    cr_assert_eq(cn_router_split_bucket("user-42", 7), 8355);
    cr_assert_eq(cn_router_split_bucket("user-43", 7), 2146);
    cr_assert_eq(cn_router_split_bucket("", 0), 6203);
    cr_assert_eq(cn_router_split_bucket(NULL, 0), 6203);
}

Test(split, sticky_same_key_same_decision)
{
    cn_traffic_t t = traffic(CN_TRAFFIC_MODE_STICKY, 2500, 0, false);
    char key[32];
    for (int k = 0; k < 10000; k++) {
        snprintf(key, sizeof key, "user-%d", k);
        cn_router_request_info_t req = with_key(key);
        /* Different random states must not matter for a keyed request. */
        uint64_t rng1 = (uint64_t)k, rng2 = ~(uint64_t)k;
        cn_router_decision_t d1 = decide(&t, &req, &rng1);
        cn_router_decision_t d2 = decide(&t, &req, &rng2);
        cr_assert_eq(d1.target, d2.target, "key %s", key);
        cr_assert_eq(d1.reason, CN_ROUTER_REASON_STICKY);
        cr_assert_eq(d1.target == CN_ROLE_CANARY,
                     cn_router_split_bucket(key, strlen(key)) < 2500);
    }
}

Test(split, sticky_cohort_only_grows_as_weight_rises)
{
    enum { N_KEYS = 100000 };
    static const unsigned ramp_bp[] = {100, 500, 2500, 10000};
    static bool in_canary[N_KEYS];
    char key[32];
    uint64_t rng = 1;
    size_t previous = 0;
    for (size_t s = 0; s < sizeof ramp_bp / sizeof ramp_bp[0]; s++) {
        cn_traffic_t t = traffic(CN_TRAFFIC_MODE_STICKY, ramp_bp[s], 0, false);
        size_t cohort = 0;
        for (int k = 0; k < N_KEYS; k++) {
            snprintf(key, sizeof key, "session-%08d", k);
            cn_router_request_info_t req = with_key(key);
            bool canary = decide(&t, &req, &rng).target == CN_ROLE_CANARY;
            cr_assert(canary || !in_canary[k], "key %s left canary at %u bp", key,
                      ramp_bp[s]);
            in_canary[k] = canary;
            cohort += canary;
        }
        cr_assert_geq(cohort, previous);
        previous = cohort;
    }
    cr_assert_eq(previous, (size_t)N_KEYS, "weight 10000 puts every key in canary");
}

Test(split, sticky_fraction_within_binomial_interval)
{
    const uint64_t n = 200000;
    char key[40];
    uint64_t rng = 3;
    for (size_t w = 0; w < N_WEIGHTS; w++) {
        if (split_weights_bp[w] * n / 10000 < 100)
            continue; /* too few expected to use the normal approximation */
        cn_traffic_t t = traffic(CN_TRAFFIC_MODE_STICKY, split_weights_bp[w], 0, false);
        uint64_t canary = 0;
        for (uint64_t i = 0; i < n; i++) {
            snprintf(key, sizeof key, "user-%llu@example.com", (unsigned long long)i);
            cn_router_request_info_t req = with_key(key);
            canary += decide(&t, &req, &rng).target == CN_ROLE_CANARY;
        }
        assert_count_in_interval("sticky", canary, n, split_weights_bp[w]);
    }
}

Test(split, sticky_without_key_falls_back_to_random)
{
    const uint64_t n = 400000;
    cn_traffic_t t = traffic(CN_TRAFFIC_MODE_STICKY, 500, 0, false);
    cn_router_request_info_t empty = with_key("");
    uint64_t rng = 11, canary = 0;
    for (uint64_t i = 0; i < n; i++) {
        cn_router_decision_t d = decide(&t, (i & 1) ? &empty : NULL, &rng);
        cr_assert_eq(d.reason, CN_ROUTER_REASON_RANDOM);
        canary += d.target == CN_ROLE_CANARY;
    }
    assert_count_in_interval("sticky-no-key", canary, n, 500);
}

/* ------------------------------------------------------- weight and force */

Test(split, weight_zero_never_sends_to_canary)
{
    static const char *const forces[] = {NULL, "always", "never"};
    char key[32];
    uint64_t rng = 5;
    for (unsigned m = 0; m < CN_TRAFFIC_MODE_COUNT; m++) {
        cn_traffic_t t = traffic((cn_traffic_mode_t)m, 0, 10000, true);
        for (int i = 0; i < 30000; i++) {
            snprintf(key, sizeof key, "u%d", i);
            cn_router_request_info_t req = with_key(key);
            req.force_value = forces[i % 3];
            req.force_value_len = forces[i % 3] ? strlen(forces[i % 3]) : 0;
            cn_router_decision_t d = decide(&t, &req, &rng);
            cr_assert_eq(d.target, CN_ROLE_STABLE, "mode %u", m);
            cr_assert_not(d.shadow_copy, "mode %u", m);
            cr_assert_eq(d.reason, CN_ROUTER_REASON_ZERO);
        }
    }
}

Test(split, weight_full_always_sends_to_canary_except_shadow)
{
    char key[32];
    uint64_t rng = 9;
    cn_traffic_t rnd = traffic(CN_TRAFFIC_MODE_RANDOM, 10000, 0, false);
    cn_traffic_t sticky = traffic(CN_TRAFFIC_MODE_STICKY, 10000, 0, false);
    cn_traffic_t shadow = traffic(CN_TRAFFIC_MODE_SHADOW, 10000, 0, false);
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cn_router_request_info_t req = with_key(key);
        cr_assert_eq(decide(&rnd, &req, &rng).target, CN_ROLE_CANARY);
        cr_assert_eq(decide(&sticky, &req, &rng).target, CN_ROLE_CANARY);
        cn_router_decision_t d = decide(&shadow, &req, &rng);
        cr_assert_eq(d.target, CN_ROLE_STABLE);
        cr_assert_not(d.shadow_copy, "shadow share 0 copies nothing");
    }
}

Test(split, force_is_honoured_only_when_enabled)
{
    uint64_t rng = 13;
    for (unsigned m = 0; m < CN_TRAFFIC_MODE_COUNT; m++) {
        /* 1 bp: without force, canary is (almost) never chosen. */
        cn_traffic_t on = traffic((cn_traffic_mode_t)m, 1, 0, true);
        cn_traffic_t off = traffic((cn_traffic_mode_t)m, 1, 0, false);
        cn_router_request_info_t always = with_force("always");
        cn_router_request_info_t upper = with_force("ALWAYS");
        cn_router_request_info_t never = with_force("never");
        cn_router_decision_t d = decide(&on, &always, &rng);
        cr_assert_eq(d.target, CN_ROLE_CANARY);
        cr_assert_eq(d.reason, CN_ROUTER_REASON_FORCED);
        cr_assert_not(d.shadow_copy);
        cr_assert_eq(decide(&on, &upper, &rng).target, CN_ROLE_CANARY);
        d = decide(&on, &never, &rng);
        cr_assert_eq(d.target, CN_ROLE_STABLE);
        cr_assert_eq(d.reason, CN_ROUTER_REASON_FORCED);
        cr_assert_neq(decide(&off, &always, &rng).reason, CN_ROUTER_REASON_FORCED);
        cr_assert_neq(decide(&off, &never, &rng).reason, CN_ROUTER_REASON_FORCED);
    }
    /* "never" beats a 100% weight; other values are ignored. */
    cn_traffic_t full = traffic(CN_TRAFFIC_MODE_RANDOM, 10000, 0, true);
    cn_router_request_info_t never = with_force("never");
    cr_assert_eq(decide(&full, &never, &rng).target, CN_ROLE_STABLE);
    static const char *const ignored[] = {"", "yes", "alway", "alwaysx", "1", "never "};
    cn_traffic_t low = traffic(CN_TRAFFIC_MODE_RANDOM, 1, 0, true);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        cn_router_request_info_t req = with_force(ignored[i]);
        cr_assert_eq(decide(&low, &req, &rng).reason, CN_ROUTER_REASON_RANDOM,
                     "force value \"%s\"", ignored[i]);
    }
    /* Length, not NUL, ends the value: "always" inside a longer buffer. */
    cn_router_request_info_t prefix = {.force_value = "alwaysXYZ",
                                       .force_value_len = 6};
    cr_assert_eq(decide(&low, &prefix, &rng).target, CN_ROLE_CANARY);
}

/* ---------------------------------------------------------------- shadow */

Test(split, shadow_serves_stable_and_copies_the_share)
{
    static const unsigned shares_bp[] = {100, 1000, 5000};
    const uint64_t n = 500000;
    char key[32];
    uint64_t rng = 17;
    for (size_t s = 0; s < sizeof shares_bp / sizeof shares_bp[0]; s++) {
        cn_traffic_t t = traffic(CN_TRAFFIC_MODE_SHADOW, 10000, shares_bp[s], false);
        uint64_t copies = 0;
        for (uint64_t i = 0; i < n; i++) {
            snprintf(key, sizeof key, "u%llu", (unsigned long long)i);
            cn_router_request_info_t req = with_key(key);
            cn_router_decision_t d = decide(&t, &req, &rng);
            cr_assert_eq(d.target, CN_ROLE_STABLE);
            cr_assert_eq(d.reason, CN_ROUTER_REASON_SHADOW);
            copies += d.shadow_copy;
        }
        assert_count_in_interval("shadow", copies, n, shares_bp[s]);
    }
}

/* ----------------------------------------------------------- publication */

Test(split, publish_acquire_round_trips_every_field)
{
    static const unsigned values_bp[] = {0, 1, 250, 9999, 10000};
    cn_router_traffic_slot_t slot;
    cn_traffic_t init = traffic(CN_TRAFFIC_MODE_RANDOM, 0, 0, false), got;
    cr_assert_eq(cn_router_traffic_slot_init(&slot, &init), CN_OK);
    for (unsigned m = 0; m < CN_TRAFFIC_MODE_COUNT; m++)
        for (size_t w = 0; w < 5; w++)
            for (size_t s = 0; s < 5; s++)
                for (int f = 0; f < 2; f++) {
                    cn_traffic_t t =
                        traffic((cn_traffic_mode_t)m, values_bp[w], values_bp[s], f);
                    cr_assert_eq(cn_router_traffic_publish(&slot, &t), CN_OK);
                    cn_router_traffic_acquire(&slot, &got);
                    cr_assert_eq(got.canary_weight_bp, t.canary_weight_bp);
                    cr_assert_eq(got.shadow_bp, t.shadow_bp);
                    cr_assert_eq(got.mode, t.mode);
                    cr_assert_eq(got.force_enabled, t.force_enabled);
                }
}

Test(split, out_of_range_config_is_rejected_and_not_published)
{
    cn_router_traffic_slot_t slot;
    cn_traffic_t good = traffic(CN_TRAFFIC_MODE_STICKY, 42, 7, true), got;
    cr_assert_eq(cn_router_traffic_slot_init(&slot, &good), CN_OK);
    cn_traffic_t bad[] = {
        traffic(CN_TRAFFIC_MODE_RANDOM, 10001, 0, false),
        traffic(CN_TRAFFIC_MODE_RANDOM, 0, 10001, false),
        traffic((cn_traffic_mode_t)CN_TRAFFIC_MODE_COUNT, 0, 0, false),
    };
    uint64_t rng = 1;
    cn_router_decision_t d;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(cn_router_traffic_publish(&slot, &bad[i]), CN_EINVAL);
        cr_assert_eq(cn_router_split_decide(&bad[i], NULL, &rng, &d), CN_EINVAL);
    }
    cn_router_traffic_acquire(&slot, &got);
    cr_assert_eq(got.canary_weight_bp, 42);
    cr_assert_eq(got.shadow_bp, 7);
    cr_assert_eq(got.mode, CN_TRAFFIC_MODE_STICKY);
    cr_assert(got.force_enabled);
}

/*
 * The concurrency test. The publisher walks an index k = 0 .. N-1 and
 * publishes a config from which k can be recovered (weight = k mod 10001,
 * shadow = k div 10001) and whose mode and force flag are further functions
 * of k. A torn read (fields from two publications) breaks that relation.
 * Reads of one atomic object are coherent, so each reader must also see k
 * never decrease.
 */
enum { PUBLICATIONS = 300000, READERS = 3 };

static cn_traffic_t config_for(uint32_t k)
{
    return traffic((cn_traffic_mode_t)(k % 3), k % 10001, k / 10001, (k / 3) & 1);
}

typedef struct reader_s {
    cn_router_traffic_slot_t *slot;
    atomic_bool *done;
    uint64_t reads, torn, backwards, last_k;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    uint64_t rng = 99;
    int64_t last = -1;
    bool finished = false;
    while (!finished) {
        /* Read once more after done is set, to see the final value. */
        finished = atomic_load(r->done);
        cn_traffic_t t;
        cn_router_traffic_acquire(r->slot, &t);
        uint32_t k = (uint32_t)t.shadow_bp * 10001u + t.canary_weight_bp;
        cn_traffic_t want = config_for(k);
        if (t.canary_weight_bp > 10000 || k >= PUBLICATIONS || t.mode != want.mode ||
            t.force_enabled != want.force_enabled)
            r->torn++;
        if ((int64_t)k < last)
            r->backwards++;
        last = k;
        /* Use the config as a worker would. */
        cn_router_decision_t d;
        if (cn_router_split_decide(&t, NULL, &rng, &d) != CN_OK)
            r->torn++;
        r->reads++;
    }
    r->last_k = (uint64_t)last;
    return NULL;
}

Test(split, concurrent_readers_never_see_a_torn_config)
{
    cn_router_traffic_slot_t slot;
    cn_traffic_t first = config_for(0);
    cr_assert_eq(cn_router_traffic_slot_init(&slot, &first), CN_OK);
    atomic_bool done;
    atomic_init(&done, false);
    reader_t readers[READERS];
    pthread_t threads[READERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = (reader_t){.slot = &slot, .done = &done};
        cr_assert_eq(pthread_create(&threads[i], NULL, reader_main, &readers[i]), 0);
    }
    for (uint32_t k = 1; k < PUBLICATIONS; k++) {
        cn_traffic_t t = config_for(k);
        cr_assert_eq(cn_router_traffic_publish(&slot, &t), CN_OK);
    }
    atomic_store(&done, true);
    for (int i = 0; i < READERS; i++) {
        cr_assert_eq(pthread_join(threads[i], NULL), 0);
        cr_log_info("reader %d: %llu reads", i, (unsigned long long)readers[i].reads);
        cr_assert_eq(readers[i].torn, 0, "reader %d saw a torn config", i);
        cr_assert_eq(readers[i].backwards, 0, "reader %d went back in time", i);
        /* Its last read started after the final publish returned. */
        cr_assert_eq(readers[i].last_k, PUBLICATIONS - 1);
    }
}

/* ----------------------------------------------------------------- names */

Test(split, mode_names_round_trip)
{
    for (unsigned m = 0; m < CN_TRAFFIC_MODE_COUNT; m++) {
        cn_traffic_mode_t parsed;
        cr_assert_eq(
            cn_traffic_mode_parse(cn_traffic_mode_name((cn_traffic_mode_t)m), &parsed),
            CN_OK);
        cr_assert_eq(parsed, (cn_traffic_mode_t)m);
    }
    cn_traffic_mode_t untouched = CN_TRAFFIC_MODE_SHADOW;
    cr_assert_eq(cn_traffic_mode_parse("Random", &untouched), CN_EINVAL);
    cr_assert_eq(untouched, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_str_eq(cn_router_reason_name(CN_ROUTER_REASON_FORCED), "forced");
    cr_assert_str_eq(cn_router_reason_name((cn_router_reason_t)99), "?");
}
