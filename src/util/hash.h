/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * FNV-1a, 64-bit (Fowler, Noll, Vo): the project's one non-cryptographic
 * byte hash, for hash tables and sticky buckets. Its low bits mix poorly
 * for keys that differ only in their last byte: pass the result through
 * cn_rand_mix (util/rand.h) before taking a modulo.
 *
 * static inline: the router hashes every request id and sticky key.
 */
#ifndef CN_UTIL_HASH_H
#define CN_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The FNV-1a 64 offset basis: the hash of no bytes. */
#define CN_HASH_FNV1A64_BASIS UINT64_C(0xcbf29ce484222325)

/* Continue hash h over n more bytes at p (start from CN_HASH_FNV1A64_BASIS);
 * hashing a then b equals hashing a followed by b. */
static inline uint64_t cn_hash_fnv1a64_more(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* FNV-1a 64 of the n bytes at p. */
static inline uint64_t cn_hash_fnv1a64(const void *p, size_t n)
{
    return cn_hash_fnv1a64_more(CN_HASH_FNV1A64_BASIS, p, n);
}

#endif
