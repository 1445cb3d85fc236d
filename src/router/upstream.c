/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Upstream addresses: resolution and the shared health signals (see
 * upstream.h). Relaxed atomics suffice: health is advisory, a stale read
 * only sends one more request to an address that has just gone down (and
 * that request is retried or answered 502 like any other failure).
 */
#include "router/upstream.h"
#include "util/addr.h"
#include "util/error.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t cn_router_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cn_router_resolve(const char *text, struct sockaddr_storage *out, socklen_t *len,
                      char *err, size_t errlen)
{
    /* The config has checked the syntax for its role (listen or upstream). */
    return cn_addr_resolve(text, CN_ADDR_LISTEN | CN_ADDR_SCHEME, out, len, err,
                           errlen);
}

int cn_router_upstream_init(cn_router_upstream_t *u, const char *text, char *err,
                            size_t errlen)
{
    memset(u, 0, sizeof *u);
    int rc = cn_router_resolve(text, &u->addr, &u->addr_len, err, errlen);
    if (rc)
        return rc;
    u->address = cn_xmalloc(strlen(text) + 1);
    strcpy(u->address, text);
    atomic_init(&u->consecutive_failures, 0);
    atomic_init(&u->down_until_ms, 0);
    atomic_init(&u->active_down, false);
    atomic_init(&u->probed_ok, false);
    atomic_init(&u->failures_total, 0);
    return 0;
}

void cn_router_upstream_dispose(cn_router_upstream_t *u)
{
    free(u->address);
    u->address = NULL;
}

bool cn_router_upstream_usable(cn_router_upstream_t *u, uint64_t now_ms)
{
    if (atomic_load_explicit(&u->active_down, memory_order_relaxed))
        return false;
    return atomic_load_explicit(&u->down_until_ms, memory_order_relaxed) <= now_ms;
}

void cn_router_upstream_success(cn_router_upstream_t *u)
{
    /* Read first: the common case (no failures) then writes nothing, so the
     * cache line stays shared between workers. */
    if (atomic_load_explicit(&u->consecutive_failures, memory_order_relaxed))
        atomic_store_explicit(&u->consecutive_failures, 0, memory_order_relaxed);
}

void cn_router_upstream_failure(cn_router_upstream_t *u, uint64_t now_ms,
                                unsigned threshold, uint32_t cooldown_ms)
{
    atomic_fetch_add_explicit(&u->failures_total, 1, memory_order_relaxed);
    unsigned n =
        atomic_fetch_add_explicit(&u->consecutive_failures, 1, memory_order_relaxed) +
        1;
    if (threshold && n >= threshold) {
        atomic_store_explicit(&u->down_until_ms, now_ms + cooldown_ms,
                              memory_order_relaxed);
        atomic_store_explicit(&u->consecutive_failures, 0, memory_order_relaxed);
    }
}
