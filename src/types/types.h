/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Plain types that several modules share: the traffic split, the two
 * roles, a version set (a label plus its upstream addresses), a generation
 * (the split and both sets, published together) and a measurement step.
 *
 * This module sits below the router, the store, the controller and the
 * API, so that none of them includes another's header for a type. It holds
 * data and the checks that belong to the data alone (ranges, names); what
 * a value means for the running process (is there a canary address, is a
 * sticky key configured) is the controller's business.
 *
 * Pure: no I/O, no global state. Allocation aborts on OOM (util/error.h).
 */
#ifndef CN_TYPES_TYPES_H
#define CN_TYPES_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Weights and shares are in basis points: 10000 bp = 100%, 1 bp = 0.01%. */
#define CN_BP_MAX 10000u

typedef enum cn_traffic_mode_e {
    CN_TRAFFIC_MODE_RANDOM = 0, /* independent draw per request (default) */
    CN_TRAFFIC_MODE_STICKY = 1, /* hash of a header/cookie key to a bucket */
    CN_TRAFFIC_MODE_SHADOW = 2, /* user gets stable; a share copied to canary */
} cn_traffic_mode_t;
#define CN_TRAFFIC_MODE_COUNT 3

/* The two roles. There are always exactly two; the canary's address set
 * may be empty. */
typedef enum cn_role_e {
    CN_ROLE_STABLE = 0,
    CN_ROLE_CANARY = 1,
} cn_role_t;
#define CN_ROLE_COUNT 2

/* The traffic split. */
typedef struct cn_traffic_s {
    uint16_t canary_weight_bp; /* 0 .. 10000: share of requests to canary */
    uint16_t shadow_bp;        /* 0 .. 10000: shadow mode, share copied */
    cn_traffic_mode_t mode;
    bool force_enabled; /* honour the force header ("always"/"never") */
} cn_traffic_t;

/* 0 if every field of t is in range, CN_EINVAL otherwise (also for NULL). */
int cn_traffic_validate(const cn_traffic_t *t);

/* True if a and b hold the same values. */
bool cn_traffic_equal(const cn_traffic_t *a, const cn_traffic_t *b);

/* "random", "sticky", "shadow"; "?" for an out-of-range value. */
const char *cn_traffic_mode_name(cn_traffic_mode_t mode);

/* Parse a mode name (exact, lower case). 0, or CN_EINVAL (out untouched). */
int cn_traffic_mode_parse(const char *name, cn_traffic_mode_t *out);

/* "stable", "canary"; "?" for an out-of-range value. */
const char *cn_role_name(cn_role_t role);

/* Longest version label, in bytes. */
#define CN_VERSION_LABEL_MAX 63u
/* Most addresses in one version set. */
#define CN_VERSION_MAX_ADDRESSES 256u

/*
 * A version set: the model version's label (what X-Model-Version and the
 * `version` metric label carry) and the upstream addresses that serve it,
 * as written ("host:port", "[v6]:port"). Owned strings; init/dispose.
 */
typedef struct cn_version_set_s {
    char *version;    /* owned, NUL-terminated; never NULL after init */
    size_t count;     /* addresses */
    char **addresses; /* owned */
} cn_version_set_t;

/* An empty set labelled `version` (copied; NULL is ""). */
void cn_version_set_init(cn_version_set_t *s, const char *version);
/* Free what s owns and zero it. Twice is harmless. */
void cn_version_set_dispose(cn_version_set_t *s);
/* Append a copy of address. */
void cn_version_set_add(cn_version_set_t *s, const char *address);
/* Make dst a deep copy of src (dst is disposed first if it held anything
 * initialised; pass a zeroed or initialised dst). */
void cn_version_set_copy(cn_version_set_t *dst, const cn_version_set_t *src);
/* True if both sets have the same label and the same addresses in the
 * same order. */
bool cn_version_set_equal(const cn_version_set_t *a, const cn_version_set_t *b);

/*
 * The parity (A/A) check routes stable's own version as the canary arm,
 * under a label of its own so that the two arms stay apart in the
 * metrics, the request-id map and the judge: "<stable>+parity" (the
 * stable label cut to fit CN_VERSION_LABEL_MAX). It is the one case in
 * which the two sets may share addresses (the same servers measured as
 * two arms): the router and the controller allow it exactly when the
 * canary label is the parity label of the stable one.
 */
#define CN_VERSION_PARITY_SUFFIX "+parity"
/* The parity label of `stable` into out (CN_VERSION_LABEL_MAX + 1 bytes). */
void cn_version_parity_label(const char *stable, char *out);
/* Whether canary is the parity label of stable. */
bool cn_version_is_parity(const char *stable, const char *canary);

/*
 * A generation: what the router routes with, published as one immutable
 * whole, so that no request is ever routed with one generation's weight and
 * another's addresses. `number` increases by one with every publication.
 */
typedef struct cn_generation_s {
    uint64_t number;
    cn_traffic_t traffic;
    cn_version_set_t sets[CN_ROLE_COUNT]; /* [CN_ROLE_STABLE], [CN_ROLE_CANARY] */
} cn_generation_t;

/* Zero traffic, empty sets labelled "stable" and "canary", number 0. */
void cn_generation_init(cn_generation_t *g);
void cn_generation_dispose(cn_generation_t *g);
void cn_generation_copy(cn_generation_t *dst, const cn_generation_t *src);

/*
 * A measurement step: the period over which the judge compares canary and
 * stable. A new step starts with every change of traffic or versions, so a
 * look never mixes two configurations.
 */
typedef struct cn_step_s {
    uint64_t number;       /* 1 at start, then +1 per change */
    uint64_t generation;   /* the generation the step measures */
    double started_unix_s; /* wall clock */
} cn_step_t;

#endif
