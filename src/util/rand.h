/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014): the project's one small PRNG. One 64-bit word
 * of state, every seed is a good seed, passes BigCrush, and a step is an
 * add and two multiplies, so the data plane can draw one per request.
 * Not for secrets (tokens come from /dev/urandom).
 *
 * Everything here is static inline: the router calls it on its hot path.
 * The state belongs to the caller (one per thread); nothing is global.
 */
#ifndef CN_UTIL_RAND_H
#define CN_UTIL_RAND_H

#include <stdint.h>

/*
 * The splitmix64 output function (Stafford's "Mix13"): a bijection of 64-bit
 * words in which every output bit depends on every input bit. Also used on
 * its own to spread a weak hash (see cn_hash_fnv1a64).
 */
static inline uint64_t cn_rand_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The next 64 random bits of the generator whose state is *state. */
static inline uint64_t cn_rand_next(uint64_t *state)
{
    return cn_rand_mix(*state += UINT64_C(0x9e3779b97f4a7c15));
}

/*
 * Uniform in [0, bound), bound >= 1, without modulo bias: the 2^64 mod bound
 * smallest outputs are rejected so that the rest split evenly (for bound
 * 10000 the loop repeats with probability 5e-16).
 */
static inline uint64_t cn_rand_below(uint64_t *state, uint64_t bound)
{
    const uint64_t threshold = (UINT64_C(0) - bound) % bound;
    uint64_t x;
    do {
        x = cn_rand_next(state);
    } while (x < threshold);
    return x % bound;
}

/* Uniform in [0, 1) on the grid of 2^-53: the top 53 bits of one draw. */
static inline double cn_rand_unit(uint64_t *state)
{
    return (double)(cn_rand_next(state) >> 11) * 0x1.0p-53;
}

#endif
