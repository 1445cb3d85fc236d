/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Parity (A/A) generations on real backends: stable's own addresses routed
 * as the canary arm too, under the "<stable>+parity" label, both arms
 * answering; one upstream object (one health state, one pool per worker)
 * per address whatever roles list it; back to a non-parity generation.
 * And the step's measurements per address (CN_ROUTER_SNAP_ADDRESSES):
 * how they add up, a slow address told apart, shadow copies, steps.
 */
#include "backend.h"
#include "router/internal.h"
#include "router/router.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKENDS 3

/* Everything a test starts, stopped by teardown in order (router, then
 * backends) even when an assertion ends the test body. */
static test_backend_t b[BACKENDS];
static cn_router_config_t cfg;
static bool cfg_ready;
static cn_router_t *router;

static void teardown(void)
{
    cn_router_free(router);
    router = NULL;
    if (cfg_ready)
        cn_router_config_dispose(&cfg);
    cfg_ready = false;
    for (int i = 0; i < BACKENDS; i++)
        test_backend_stop(&b[i]);
}

/* A started router with two workers and the given flags (name, value
 * pairs, NULL-terminated) over the defaults. */
static void router_start(const char *const *flags)
{
    signal(SIGPIPE, SIG_IGN); /* as canary serve does (router.h) */
    cn_router_config_init(&cfg);
    cfg_ready = true;
    char err[300];
    const char *base[] = {"listen", "127.0.0.1:0", "workers", "2", NULL};
    for (const char *const *f = base; *f; f += 2)
        cr_assert_eq(cn_router_config_set_flag(&cfg, f[0], f[1], err, sizeof err), 0,
                     "%s", err);
    for (const char *const *f = flags; *f; f += 2)
        cr_assert_eq(cn_router_config_set_flag(&cfg, f[0], f[1], err, sizeof err), 0,
                     "%s", err);
    cr_assert_eq(cn_router_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_new(&cfg, &router, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_start(router, err, sizeof err), 0, "%s", err);
}

/* Publish the current generation with the canary set `label` over the
 * given addresses (NULL-terminated) and traffic t. */
static void publish_canary_traffic(const char *label, const char *const *addresses,
                                   const cn_traffic_t *t)
{
    cn_generation_t g;
    cn_generation_init(&g);
    cn_router_current(router, &g, NULL);
    g.number++;
    cn_version_set_dispose(&g.sets[CN_ROLE_CANARY]);
    cn_version_set_init(&g.sets[CN_ROLE_CANARY], label);
    for (size_t i = 0; addresses && addresses[i]; i++)
        cn_version_set_add(&g.sets[CN_ROLE_CANARY], addresses[i]);
    g.traffic = *t;
    char err[300];
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
}

/* The same at weight_bp, random split. */
static void publish_canary(const char *label, const char *const *addresses,
                           unsigned weight_bp)
{
    cn_traffic_t t = {.canary_weight_bp = (uint16_t)weight_bp,
                      .mode = CN_TRAFFIC_MODE_RANDOM};
    publish_canary_traffic(label, addresses, &t);
}

/* n model requests through the router on one keep-alive connection, each
 * answered 200. */
static void send_requests(unsigned n)
{
    const char *req = test_model_request;
    int fd = test_connect(cn_router_listen_address(router));
    cr_assert_geq(fd, 0);
    for (unsigned i = 0; i < n; i++) {
        char body[256];
        int status = test_exchange(fd, req, body, sizeof body);
        cr_assert_eq(status, 200, "request %u: %d %s", i, status, body);
    }
    close(fd);
}

/* The step's requests of a role's cells (all segments), and of which
 * version. */
static uint64_t step_requests(const cn_router_snapshot_t *s, cn_role_t role,
                              const char *version)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->ncells; i++)
        if (s->cells[i].role == role && strcmp(s->cells[i].version, version) == 0)
            n += s->cells[i].step_requests;
    return n;
}

TestSuite(parity, .fini = teardown, .timeout = 120);

Test(parity, both_arms_serve_from_the_same_addresses)
{
    for (int i = 0; i < BACKENDS; i++) {
        char name[16];
        snprintf(name, sizeof name, "b%d", i);
        test_backend_start(&b[i], name, NULL);
    }
    char stable[160];
    snprintf(stable, sizeof stable, "%s,%s", b[0].address, b[1].address);
    const char *flags[] = {
        "stable", stable,           "stable-version", "v1", "health-interval",
        "50ms",   "health-timeout", "40ms",           NULL};
    router_start(flags);

    const char *both[] = {b[1].address, b[0].address, NULL};
    publish_canary("v1+parity", both, 5000);
    send_requests(400);
    cn_router_snapshot_t *s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS);
    uint64_t st = step_requests(s, CN_ROLE_STABLE, "v1");
    uint64_t ca = step_requests(s, CN_ROLE_CANARY, "v1+parity");
    cr_assert_eq(st + ca, 400, "stable %lu + canary %lu", (unsigned long)st,
                 (unsigned long)ca);
    /* 50%: a binomial(400, 0.5) below 100 has probability < 1e-23 */
    cr_assert_gt(st, 100);
    cr_assert_gt(ca, 100);
    for (size_t i = 0; i < s->ncells; i++)
        cr_assert_eq(s->cells[i].step_errors, 0);
    cr_assert_eq(s->nupstreams, 4);
    cn_router_snapshot_free(s);
    long served0 = test_backend_requests(&b[0]);
    long served1 = test_backend_requests(&b[1]);
    cr_assert_eq(served0 + served1, 400);
    cr_assert_gt(served0, 0);
    cr_assert_gt(served1, 0);
    cr_assert_eq(test_backend_requests(&b[2]), 0);

    /* every entry of both roles is checked by the health checker (one
     * object per address: a probe of it counts for both roles) */
    bool all_checked = false;
    for (int tries = 0; tries < 400 && !all_checked; tries++) {
        s = cn_router_snapshot(router, 0);
        all_checked = s->nupstreams == 4;
        for (size_t i = 0; i < s->nupstreams; i++)
            all_checked = all_checked && s->upstreams[i].checked && s->upstreams[i].up;
        cn_router_snapshot_free(s);
        if (!all_checked)
            test_sleep_ms(25);
    }
    cr_assert(all_checked, "every address of both roles checked and up");

    /* back to a non-parity canary on its own backend: the sets are apart
     * again and stable's addresses serve stable only */
    const char *other[] = {b[2].address, NULL};
    publish_canary("v2", other, 5000);
    send_requests(200);
    s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS);
    st = step_requests(s, CN_ROLE_STABLE, "v1");
    ca = step_requests(s, CN_ROLE_CANARY, "v2");
    cr_assert_eq(step_requests(s, CN_ROLE_CANARY, "v1+parity"), 0);
    cr_assert_eq(st + ca, 200);
    cr_assert_eq(test_backend_requests(&b[2]), (long)ca);
    cr_assert_eq(test_backend_requests(&b[0]) + test_backend_requests(&b[1]),
                 400 + (long)st);
    cn_router_snapshot_free(s);

    /* parity again on one address, the others leaving both sets: it
     * serves both arms, and they get nothing more */
    cn_generation_t g;
    cn_generation_init(&g);
    cn_router_current(router, &g, NULL);
    g.number++;
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        cn_version_set_dispose(&g.sets[role]);
        cn_version_set_init(&g.sets[role], role == CN_ROLE_STABLE ? "v1" : "v1+parity");
        cn_version_set_add(&g.sets[role], b[0].address);
    }
    char err[300];
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
    long before[BACKENDS];
    for (int i = 0; i < BACKENDS; i++)
        before[i] = test_backend_requests(&b[i]);
    send_requests(100);
    cr_assert_eq(test_backend_requests(&b[0]), before[0] + 100);
    cr_assert_eq(test_backend_requests(&b[1]), before[1]);
    cr_assert_eq(test_backend_requests(&b[2]), before[2]);
    s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS);
    cr_assert_gt(step_requests(s, CN_ROLE_STABLE, "v1"), 0);
    cr_assert_gt(step_requests(s, CN_ROLE_CANARY, "v1+parity"), 0);
    cn_router_snapshot_free(s);

    /* each worker has one pool left, the shared address's: one per
     * address, whatever roles list it, and the pools of the addresses
     * that left went with their idle connections */
    cn_router_stop(router);
    cn_router_upstream_t *up = atomic_load(&router->gen)->ups[CN_ROLE_STABLE][0];
    cr_assert_eq(atomic_load(&router->gen)->ups[CN_ROLE_CANARY][0], up);
    for (unsigned w = 0; w < cn_router_workers(router); w++) {
        cn_router_pool_t *p = router->workers[w]->pools;
        cr_assert_not_null(p);
        cr_assert_eq(p->up, up, "worker %u: a pool for %s", w, p->up->address);
        cr_assert_null(p->next, "worker %u: a second pool, for %s", w,
                       p->next ? p->next->up->address : "");
    }
}

/* ------------------------------------------------------------ addresses */

/* The snapshot's entry for (role, address), asserting there is one. */
static const cn_router_address_stat_t *address_stat(const cn_router_snapshot_t *s,
                                                    cn_role_t role, const char *address)
{
    for (size_t i = 0; i < s->naddresses; i++)
        if (s->addresses[i].role == role &&
            strcmp(s->addresses[i].address, address) == 0)
            return &s->addresses[i];
    cr_assert_fail("no %s entry for %s", cn_role_name(role), address);
    return NULL;
}

/* Per role, the addresses' requests add up to the cells' step_requests,
 * and each histogram holds one latency per request (every attempt here
 * answered). */
static void addresses_match_cells(const cn_router_snapshot_t *s)
{
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        uint64_t cells = 0, addresses = 0;
        for (size_t i = 0; i < s->ncells; i++)
            if (s->cells[i].role == (cn_role_t)role)
                cells += s->cells[i].step_requests;
        for (size_t i = 0; i < s->naddresses; i++) {
            const cn_router_address_stat_t *a = &s->addresses[i];
            if (a->role != (cn_role_t)role)
                continue;
            addresses += a->requests;
            cr_assert_eq(cn_metrics_hist_count(a->latency), a->requests, "%s",
                         a->address);
            cr_assert_eq(a->errors, 0, "%s", a->address);
        }
        cr_assert_eq(addresses, cells, "%s: addresses %lu, cells %lu",
                     cn_role_name((cn_role_t)role), (unsigned long)addresses,
                     (unsigned long)cells);
    }
}

TestSuite(addresses, .fini = teardown, .timeout = 120);

/* Each arm has two addresses, one answering at once and one 20 ms late
 * (--delay-ms): per role, per address, the step's requests add up to the
 * cells' and the slow address's median is the higher, in both arms. */
Test(addresses, per_address_counts_add_up_and_a_slow_address_shows_its_latency)
{
    const char *slow[] = {"--delay-ms", "20", NULL};
    test_backend_start(&b[0], "fast", NULL);
    test_backend_start(&b[1], "slow", slow);
    char stable[160];
    snprintf(stable, sizeof stable, "%s,%s", b[0].address, b[1].address);
    const char *flags[] = {"stable", stable, "stable-version", "v1", NULL};
    router_start(flags);
    const char *both[] = {b[0].address, b[1].address, NULL};
    publish_canary("v1+parity", both, 5000);
    send_requests(200);

    cn_router_snapshot_t *s =
        cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_ADDRESSES);
    cr_assert_eq(s->naddresses, 4);
    const cn_role_t order[4] = {CN_ROLE_STABLE, CN_ROLE_STABLE, CN_ROLE_CANARY,
                                CN_ROLE_CANARY};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(s->addresses[i].role, order[i]);
        cr_assert_str_eq(s->addresses[i].address, both[i % 2],
                         "the generation's order");
    }
    addresses_match_cells(s);
    uint64_t total = 0;
    for (size_t i = 0; i < 4; i++)
        total += s->addresses[i].requests;
    cr_assert_eq(total, 200);
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        const cn_router_address_stat_t *fast =
            address_stat(s, (cn_role_t)role, b[0].address);
        const cn_router_address_stat_t *late =
            address_stat(s, (cn_role_t)role, b[1].address);
        cr_assert_gt(fast->requests, 0);
        cr_assert_gt(late->requests, 0);
        uint64_t fast_us = cn_metrics_hist_quantile(fast->latency, 0.5);
        uint64_t late_us = cn_metrics_hist_quantile(late->latency, 0.5);
        fprintf(stderr,
                "addresses: %s median %lu us (fast, %lu requests), %lu us "
                "(20 ms late, %lu requests)\n",
                cn_role_name((cn_role_t)role), (unsigned long)fast_us,
                (unsigned long)fast->requests, (unsigned long)late_us,
                (unsigned long)late->requests);
        cr_assert_gt(late_us, fast_us, "%s: the slow address's median",
                     cn_role_name((cn_role_t)role));
    }
    cn_router_snapshot_free(s);

    /* without the bit: none */
    s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS);
    cr_assert_eq(s->naddresses, 0);
    cr_assert_null(s->addresses);
    cn_router_snapshot_free(s);

    /* a new step starts them afresh, the entries stay */
    cn_router_new_step(router);
    s = cn_router_snapshot(router, CN_ROUTER_SNAP_ADDRESSES);
    cr_assert_eq(s->naddresses, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(s->addresses[i].requests, 0);
        cr_assert_eq(cn_metrics_hist_count(s->addresses[i].latency), 0);
    }
    cn_router_snapshot_free(s);
    send_requests(20);
    s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_ADDRESSES);
    addresses_match_cells(s);
    total = 0;
    for (size_t i = 0; i < 4; i++)
        total += s->addresses[i].requests;
    cr_assert_eq(total, 20);
    cn_router_snapshot_free(s);

    /* a publication too, and the entries follow the new generation */
    publish_canary("v2", NULL, 0);
    s = cn_router_snapshot(router, CN_ROUTER_SNAP_ADDRESSES);
    cr_assert_eq(s->naddresses, 2);
    cr_assert_eq(s->addresses[0].requests + s->addresses[1].requests, 0);
    cn_router_snapshot_free(s);
}

/* Shadow copies are attempts of canary's: counted at the address they
 * went to, with stable's at theirs. */
Test(addresses, shadow_copies_count_at_their_canary_address)
{
    test_backend_start(&b[0], "s", NULL);
    test_backend_start(&b[1], "c", NULL);
    const char *flags[] = {"stable", b[0].address, "stable-version", "v1", NULL};
    router_start(flags);
    const char *canary[] = {b[1].address, NULL};
    /* a weight above 0 turns the split on; shadow mode sends every user to
     * stable */
    cn_traffic_t t = {
        .canary_weight_bp = 10000, .mode = CN_TRAFFIC_MODE_SHADOW, .shadow_bp = 10000};
    publish_canary_traffic("v2", canary, &t);
    send_requests(50);
    /* the shadow copies finish after their clients' answers: wait for them
     * at the canary backend */
    for (int tries = 0; tries < 400 && test_backend_requests(&b[1]) < 50; tries++)
        test_sleep_ms(25);
    long shadowed = test_backend_requests(&b[1]);
    cr_assert_eq(shadowed, 50, "canary backend got %ld", shadowed);
    cn_router_snapshot_t *s = NULL;
    for (int tries = 0; tries < 400; tries++) {
        cn_router_snapshot_free(s);
        s = cn_router_snapshot(router,
                               CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_ADDRESSES);
        if (address_stat(s, CN_ROLE_CANARY, b[1].address)->requests == 50)
            break;
        test_sleep_ms(25);
    }
    cr_assert_eq(address_stat(s, CN_ROLE_STABLE, b[0].address)->requests, 50);
    cr_assert_eq(address_stat(s, CN_ROLE_CANARY, b[1].address)->requests, 50);
    addresses_match_cells(s);
    cn_router_snapshot_free(s);
}

/* A request decided in one step and answered in the next counts in
 * neither step's per-address data (nor in the cells' step fields). */
Test(addresses, a_request_decided_in_an_older_step_is_not_counted)
{
    test_backend_start(&b[0], "s", NULL);
    const char *flags[] = {"stable", b[0].address, "stable-version", "v1", NULL};
    router_start(flags);
    int fd = test_connect(cn_router_listen_address(router));
    cr_assert_geq(fd, 0);
    /* held 300 ms at the backend (X-Delay-Ms): it has arrived there, so
     * the router decided it, when the new step starts */
    static const char held[] = "GET /v2/models/m/infer HTTP/1.1\r\nHost: x\r\n"
                               "X-Delay-Ms: 300\r\n\r\n";
    cr_assert_eq(send(fd, held, sizeof held - 1, MSG_NOSIGNAL),
                 (ssize_t)sizeof held - 1);
    for (int tries = 0; tries < 400 && test_backend_requests(&b[0]) < 1; tries++)
        test_sleep_ms(5);
    cr_assert_eq(test_backend_requests(&b[0]), 1);
    cn_router_new_step(router);
    char body[256];
    cr_assert_eq(test_exchange(fd, "", body, sizeof body), 200, "%s", body);
    close(fd);
    cn_router_snapshot_t *s =
        cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_ADDRESSES);
    cr_assert_eq(s->naddresses, 1);
    cr_assert_eq(s->addresses[0].requests, 0);
    cr_assert_eq(cn_metrics_hist_count(s->addresses[0].latency), 0);
    uint64_t requests = 0;
    for (size_t i = 0; i < s->ncells; i++)
        requests += s->cells[i].requests;
    cr_assert_eq(requests, 1, "measured, in the cumulative counters");
    addresses_match_cells(s);
    cn_router_snapshot_free(s);
}

/* A client whose connection breaks while its response streams (the
 * router's write to it fails) has left: its request is not measured, as
 * when a client leaves; never as an upstream failure of some version (it
 * was counted as a connect failure of key 0's, stable's here). */
Test(addresses, a_client_that_breaks_off_mid_body_is_no_upstream_failure)
{
    const char *big[] = {"--pad-bytes", "4000000", NULL};
    test_backend_start(&b[0], "big", big);
    const char *flags[] = {"stable", b[0].address, "stable-version", "v1", NULL};
    router_start(flags);
    for (int k = 0; k < 20; k++) {
        int fd = test_connect(cn_router_listen_address(router));
        cr_assert_geq(fd, 0);
        size_t n = strlen(test_model_request);
        cr_assert_eq(send(fd, test_model_request, n, MSG_NOSIGNAL), (ssize_t)n);
        char buf[4096];
        cr_assert_gt(recv(fd, buf, sizeof buf, 0), 0);
        struct linger reset = {1, 0}; /* close with RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        close(fd);
    }
    /* the 20 requests have ended once the router has closed their
     * connections */
    cn_router_snapshot_t *s = NULL;
    for (int tries = 0; tries < 400; tries++) {
        cn_router_snapshot_free(s);
        s = cn_router_snapshot(router,
                               CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_ADDRESSES);
        if (s->connections_open == 0)
            break;
        test_sleep_ms(25);
    }
    cr_assert_eq(s->connections_open, 0);
    cr_assert_eq(s->connections_total, 20);
    /* (a response the kernel took whole before the reset is a 200) */
    uint64_t failures = 0, errors = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        errors += s->cells[i].step_errors;
        for (int f = 0; f < CN_ROUTER_FAIL_COUNT; f++)
            failures += s->cells[i].failures[f];
    }
    cr_assert_eq(failures, 0, "a broken client counted as an upstream failure");
    cr_assert_eq(errors, 0);
    cr_assert_eq(s->naddresses, 1);
    addresses_match_cells(s);
    cn_router_snapshot_free(s);
}
