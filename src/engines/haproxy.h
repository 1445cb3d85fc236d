/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * HAProxy as the traffic splitter: a traffic engine (controller/engine.h)
 * that drives one backend of a running HAProxy through its runtime API
 * (the admin "stats socket", a unix socket or host:port).
 *
 * apply(desired) makes the backend's servers match the generation: one
 * server per address per role, named PREFIX ROLE "-" LABEL "-" INDEX
 * ("cn-stable-v1-0", "cn-canary-v2-0"), added with `add server` (in
 * maintenance, as HAProxy adds every dynamic server) and then `enable
 * server` (never `add server ... enabled`: in 2.6.12 such a server takes
 * no traffic, haproxy/haproxy#2497), weighted with `set weight` so that
 * the canary's share is the desired one as closely as HAProxy's 0..256
 * server weights allow (cn_haproxy_split below; docs/SCALE.md, "HAProxy").
 * A server that leaves is drained (`set server ... state drain`: no new
 * request), and deleted once it has no session (`disable server`, then
 * `del server`), or after drain_timeout with its sessions shut down. The
 * deletion does not hold apply: apply deletes what is idle at once and
 * every renew() deletes the rest.
 *
 * HAProxy forgets dynamic servers on a reload or a restart (they are not
 * in its configuration file; `server-state-file` restores only servers the
 * file declares). renew(), which the controller calls every tick, reads
 * the backend (`show servers state`, `show stat`) and re-applies the last
 * generation when the live servers differ from it, so the split comes
 * back within a tick. Servers of the backend whose names do not start with
 * the prefix are left alone; one that would take traffic (not a backup
 * server, weight above 0) makes apply fail, since the split would be
 * wrong.
 *
 * Every command's answer is checked: an error is one line naming the
 * command and quoting HAProxy's words. The socket I/O is blocking with
 * timeouts: call apply and renew off every event loop, one at a time
 * (the controller does). HAProxy is no metrics source here: the
 * measurements come from the replicas or Prometheus.
 */
#ifndef CN_ENGINES_HAPROXY_H
#define CN_ENGINES_HAPROXY_H

#include "controller/engine.h"
#include "util/config.h"

#include <stddef.h>
#include <stdint.h>

/* HAProxy's largest server weight (`set weight`: 0 to 256). */
#define CN_HAPROXY_WEIGHT_MAX 256u

typedef struct cn_haproxy_config_s {
    char *socket;                /* "/run/haproxy/admin.sock" or "host:port" */
    char *backend;               /* the backend's name */
    char *server_prefix;         /* "cn-": names of the servers canary owns */
    char *server_options;        /* more `add server` keywords, or NULL */
    char *state_file;            /* where to write `show servers state`, or NULL */
    uint64_t connect_timeout_ms; /* connecting to the socket */
    uint64_t timeout_ms;         /* one command's whole answer */
    uint64_t drain_timeout_ms;   /* a leaving server's sessions, at most */
    int line;                    /* the mapping's line in its file */
} cn_haproxy_config_t;

/* The `haproxy:` section's keys (socket, backend, server_prefix,
 * server_options, state_file, connect_timeout, timeout, drain_timeout),
 * with "FILE:LINE: key 'haproxy.backend': ..." errors. */
extern const cn_config_table_t cn_haproxy_config_table;

/* Free what cfg owns (cn_config_dispose with the table). */
void cn_haproxy_config_dispose(cn_haproxy_config_t *cfg);

typedef struct cn_haproxy_s cn_haproxy_t;

/*
 * An engine over cfg (copied: cfg may go after the call). Checks cfg
 * against the table; connects to nothing (the first apply does).
 * Returns 0, or CN_EINVAL with one line in err.
 */
int cn_haproxy_new(const cn_haproxy_config_t *cfg, cn_haproxy_t **out, char *err,
                   size_t errlen);
/* NULL is a no-op. The servers stay in HAProxy as they are. */
void cn_haproxy_free(cn_haproxy_t *h);

/* The traffic table (h's own; valid while h is). */
cn_traffic_engine_t *cn_haproxy_traffic(cn_haproxy_t *h);

/* What renew() has done: generations re-applied (the live servers had
 * left the last generation: a reload, a restart, a hand), servers
 * deleted, and the reason of the last re-apply ("" none; borrowed until
 * the next call on h). */
typedef struct cn_haproxy_counters_s {
    uint64_t reapplied;
    uint64_t deleted;
    const char *last_reapply;
} cn_haproxy_counters_t;
void cn_haproxy_counters(const cn_haproxy_t *h, cn_haproxy_counters_t *out);

/* ------------------------------------------------- the weight mapping */

/*
 * The canary's share in HAProxy is C / (C + S), C and S the sums of the
 * canary's and the stable's server weights, each weight in 0..256. For a
 * desired canary_bp (0..10000) and the sets' sizes, cn_haproxy_split
 * picks C in [0, 256 n_canary] and S in [0, 256 n_stable] that minimise,
 * in order:
 *   1. |round(10000 C / (C + S)) - canary_bp|: the error in canary's own
 *      unit, 0.01%;
 *   2. whether C is not a multiple of n_canary or S of n_stable: equal
 *      weights inside a role (spread, a role's weights differ by at most
 *      one: cn_haproxy_weight) only lose to a closer share;
 *   3. the exact error |C / (C + S) - canary_bp / 10000|;
 *   4. and then the larger C + S (the finest resolution for later).
 * An empty role gets 0; with both empty, C = S = 0. The smallest nonzero
 * share is 1 / (1 + 256 n_stable) (docs/SCALE.md). O(256 n_canary).
 * Returns 0, or CN_EINVAL (canary_bp > 10000, a set over
 * CN_VERSION_MAX_ADDRESSES).
 */
typedef struct cn_haproxy_split_s {
    uint32_t stable_total;        /* S */
    uint32_t canary_total;        /* C */
    uint16_t effective_weight_bp; /* round(10000 C / (C + S)); 0 if none */
} cn_haproxy_split_t;

int cn_haproxy_split(uint16_t canary_bp, size_t n_stable, size_t n_canary,
                     cn_haproxy_split_t *out);

/* The weight of server i (0-based) of n when the role's total is total:
 * floor(total / n), plus one for the first total % n servers. */
unsigned cn_haproxy_weight(uint32_t total, size_t n, size_t i);

/* round(10000 C / (C + S)), half up; 0 when C + S is 0. */
uint16_t cn_haproxy_share_bp(uint32_t canary_total, uint32_t stable_total);

#endif
