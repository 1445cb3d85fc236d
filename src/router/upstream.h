/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Upstream addresses and their health, shared by every worker thread.
 *
 * An upstream is one "host:port" of the stable or the canary version. Its
 * health is two independent signals, both kept in atomics because they are
 * written rarely (on a failure, on a health check) and read on every
 * request:
 *  - passive: a worker that sees `passive_failures` consecutive failures
 *    (connect, reset, timeout, malformed response) marks the address down for
 *    `passive_cooldown_ms`; any success resets the count;
 *  - active: the health checker thread probes `health_path` every
 *    interval and sets or clears `active_down`.
 * An address is usable when neither signal says down. Round-robin state is
 * per worker (in the worker), not here, so the hot path writes nothing
 * shared.
 */
#ifndef CN_ROUTER_UPSTREAM_H
#define CN_ROUTER_UPSTREAM_H

#include "router/split.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct cn_router_upstream_s {
    /* read-only after cn_router_upstream_init */
    char *address; /* as configured, "host:port" (owned) */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    /* the router's registry (under its ups_mu): one object per address,
     * shared by every generation that lists it, so health carries over */
    unsigned refs;
    struct cn_router_upstream_s *next;
    /* shared, atomic */
    _Atomic unsigned consecutive_failures;
    _Atomic uint64_t down_until_ms; /* monotonic ms; passive down until */
    _Atomic bool active_down;
    _Atomic bool probed_ok; /* an active health check has answered 2xx */
    _Atomic uint64_t failures_total;
} cn_router_upstream_t;

/*
 * Resolve "host:port", "[v6]:port" or "http://host:port" (numeric or by
 * name, with getaddrinfo; the first address wins) into *out. Returns 0, or
 * CN_EINVAL with one line in err naming the address.
 */
int cn_router_resolve(const char *text, struct sockaddr_storage *out, socklen_t *len,
                      char *err, size_t errlen);

/* Initialise u for `text` (resolving it; may block on DNS). 0 or
 * CN_EINVAL with err. */
int cn_router_upstream_init(cn_router_upstream_t *u, const char *text, char *err,
                            size_t errlen);
void cn_router_upstream_dispose(cn_router_upstream_t *u);

/* Usable now (now_ms: monotonic milliseconds)? */
bool cn_router_upstream_usable(cn_router_upstream_t *u, uint64_t now_ms);

/* A request to u succeeded: clear the consecutive failure count. */
void cn_router_upstream_success(cn_router_upstream_t *u);

/* A request to u failed: count it; at `threshold` consecutive failures
 * mark u down until now_ms + cooldown_ms. threshold 0: never mark down. */
void cn_router_upstream_failure(cn_router_upstream_t *u, uint64_t now_ms,
                                unsigned threshold, uint32_t cooldown_ms);

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
uint64_t cn_router_now_ms(void);

#endif
