/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a controller and the `canary serve` replicas it drives say to each
 * other (the `remote` engine, remote.h, and the replica's admin API,
 * api/res_remote.c): pure codecs, no I/O, shared by both sides so that
 * they cannot drift apart.
 *
 *  - A generation (PUT /v1/generation): JSON, small and readable with
 *    curl:
 *      {"controller": "ctl-a", "generation": 7,
 *       "traffic": {"canary_weight_bp": 500, "shadow_bp": 0,
 *                   "mode": "random", "force": false},
 *       "stable": {"version": "v1", "addresses": ["127.0.0.1:9001"]},
 *       "canary": {"version": "v2", "addresses": ["127.0.0.1:9002"]},
 *       "lease_ms": 10000}
 *    Weights in basis points (integers: exact, no "12.5%" rounding).
 *    lease_ms: the controller's lease, which the replica keeps unless its
 *    own serve.lease says otherwise (absent: 0, no lease).
 *  - A lease renewal (POST /v1/lease): {"controller": "ctl-a",
 *    "generation": 7, "lease_ms": 10000}.
 *  - A router snapshot (GET /v1/snapshot): binary, because a step's
 *    reservoirs hold up to 10^6 doubles each and must cross bit for bit
 *    (a judge's ranks and ties must be the replica's). Little-endian
 *    fixed-width integers, IEEE doubles as their 64 bits, strings as a u32
 *    length and bytes; histograms sparse (only the non-zero buckets, as
 *    (index, count) pairs in ascending index). Layout in wire.c.
 *
 * Parsing is for untrusted bytes (a replica may be anyone's): every
 * length is checked against what is left, every count against a bound,
 * every index and enum against its range; a parser never reads past its
 * input and never allocates more than a small multiple of the input's
 * size. tests/fuzz/fuzz_wire.c fuzzes all three parsers.
 */
#ifndef CN_ENGINES_WIRE_H
#define CN_ENGINES_WIRE_H

#include "router/router.h"
#include "types/types.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Longest controller name (the lease's holder, for messages). */
#define CN_WIRE_CONTROLLER_MAX 63u
/* The content type of a binary snapshot. */
#define CN_WIRE_SNAPSHOT_TYPE "application/vnd.canary.snapshot"
/* The longest lease a controller may announce (an hour). */
#define CN_WIRE_LEASE_MAX_MS 3600000u
/* Limits of a snapshot a parser takes (beyond them: CN_ETOOBIG). */
#define CN_WIRE_MAX_CELLS 65536u
#define CN_WIRE_MAX_STRING 4096u

/* The generation body. controller: 1..CN_WIRE_CONTROLLER_MAX visible ASCII
 * characters. Appends JSON (one line, with a newline) to out; 0 or
 * CN_ETOOBIG (out's maximum). */
int cn_wire_generation_render(cn_buf_t *out, const char *controller,
                              const cn_generation_t *g, uint64_t lease_ms);

/*
 * Parse a generation body into *g (initialised by the caller; replaced)
 * and the controller's name into controller (CN_WIRE_CONTROLLER_MAX + 1
 * bytes). g->number is the controller's generation (>= 1). Checks shape
 * and ranges only (the traffic in range, labels and addresses strings,
 * at most CN_VERSION_MAX_ADDRESSES per set); what the generation means is
 * the replica controller's to validate. 0, or CN_EINVAL / CN_EPARSE with
 * one line in err naming the field ("traffic.mode: must be one of ...").
 */
int cn_wire_generation_parse(const char *body, size_t len, cn_generation_t *g,
                             char *controller, uint64_t *lease_ms, char *err,
                             size_t errlen);

/* The lease body. */
int cn_wire_lease_render(cn_buf_t *out, const char *controller, uint64_t generation,
                         uint64_t lease_ms);
int cn_wire_lease_parse(const char *body, size_t len, char *controller,
                        uint64_t *generation, uint64_t *lease_ms, char *err,
                        size_t errlen);

/* Append s (what its mask asked for; what == s->what) in the binary
 * layout. 0 or CN_ETOOBIG. */
int cn_wire_snapshot_render(cn_buf_t *out, const cn_router_snapshot_t *s);

/*
 * Parse a binary snapshot into a new one (*out; free it with
 * cn_wire_snapshot_free: unlike the router's, it owns its
 * prediction_bounds). 0, or CN_EPARSE / CN_ETOOBIG with one line in err
 * ("snapshot: cell 3: truncated"); *out is then NULL.
 */
int cn_wire_snapshot_parse(const void *data, size_t len, cn_router_snapshot_t **out,
                           char *err, size_t errlen);
void cn_wire_snapshot_free(cn_router_snapshot_t *s);

#endif
