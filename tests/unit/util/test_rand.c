/* SPDX-License-Identifier: GPL-3.0-or-later */
/* splitmix64 and FNV-1a: the published reference values, and the
 * properties the callers rely on (unbiased bounded draws, [0, 1)). */
#include "util/hash.h"
#include "util/rand.h"

#include <criterion/criterion.h>
#include <string.h>

Test(rand, splitmix64_matches_the_reference_sequence)
{
    /* Vigna's splitmix64.c seeded with 1234567: the first outputs. */
    uint64_t s = 1234567;
    const uint64_t want[] = {
        UINT64_C(6457827717110365317), UINT64_C(3203168211198807973),
        UINT64_C(9817491932198370423), UINT64_C(4593380528125082431),
        UINT64_C(16408922859458223821)};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(cn_rand_next(&s), want[i], "output %zu", i);
}

Test(rand, the_state_advances_by_the_golden_gamma)
{
    uint64_t s = 0;
    uint64_t first = cn_rand_next(&s);
    cr_assert_eq(s, UINT64_C(0x9e3779b97f4a7c15));
    cr_assert_eq(first, cn_rand_mix(UINT64_C(0x9e3779b97f4a7c15)));
    cr_assert_eq(cn_rand_mix(0), 0, "the finaliser maps 0 to 0");
}

Test(rand, below_stays_in_range_and_covers_it_evenly)
{
    uint64_t s = 42;
    unsigned counts[7] = {0};
    const unsigned n = 70000;
    for (unsigned i = 0; i < n; i++) {
        uint64_t x = cn_rand_below(&s, 7);
        cr_assert_lt(x, 7);
        counts[x]++;
    }
    /* Each cell expects 10000 with sd ~93; 6 sd either way. */
    for (int i = 0; i < 7; i++)
        cr_assert(counts[i] > 9440 && counts[i] < 10560, "cell %d: %u", i, counts[i]);
    cr_assert_eq(cn_rand_below(&s, 1), 0);
}

Test(rand, below_rejects_the_biased_low_outputs)
{
    /* Bound 2^63 + 1: the threshold is 2^63 - 1, so about half of all
     * outputs are rejected; whatever comes back is still below the bound. */
    uint64_t s = 7, bound = (UINT64_C(1) << 63) + 1;
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(cn_rand_below(&s, bound), bound);
}

Test(rand, unit_is_in_zero_one_with_mean_one_half)
{
    uint64_t s = 99;
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = cn_rand_unit(&s);
        cr_assert(u >= 0.0 && u < 1.0, "%.17g", u);
        sum += u;
    }
    /* sd of the mean: sqrt(1/12/1e5) ~ 0.00091; 6 sd. */
    cr_assert(sum / 100000 > 0.4945 && sum / 100000 < 0.5055, "mean %g", sum / 100000);
}

Test(hash, fnv1a64_matches_the_published_test_vectors)
{
    /* From the FNV reference test suite (Noll). */
    cr_assert_eq(cn_hash_fnv1a64("", 0), UINT64_C(0xcbf29ce484222325));
    cr_assert_eq(cn_hash_fnv1a64("a", 1), UINT64_C(0xaf63dc4c8601ec8c));
    cr_assert_eq(cn_hash_fnv1a64("foobar", 6), UINT64_C(0x85944171f73967e8));
}

Test(hash, fnv1a64_can_be_computed_in_pieces)
{
    uint64_t h = cn_hash_fnv1a64_more(CN_HASH_FNV1A64_BASIS, "foo", 3);
    cr_assert_eq(cn_hash_fnv1a64_more(h, "bar", 3), cn_hash_fnv1a64("foobar", 6));
}
