/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Version swaps under load, on real backends: four build/model-server
 * processes (the one next to this test binary), a router with two workers,
 * four client threads sending keep-alive requests the whole time, and 20
 * publications that move the canary to the other canary backend, each
 * followed by one that moves the stable. After each publication returns,
 * the backend that left must receive no new request: its own request count
 * (GET /stats), read 200 ms after the publication and again 1 s later under
 * load, must not grow. And no client sees an error.
 *
 * A request decided before a publication may still reach the old address
 * just after it (it keeps its generation); the first read, 200 ms later,
 * is after any such request has long been answered.
 *
 * And the stop that ends it: cn_router_free right after a snapshot, with
 * the router's hook widening the window in which a worker still finishing
 * the snapshot's call could stop and close its loop before cn_router_free
 * had sent it its own wake (libuv then aborted the process: the swap
 * test's rare SIGABRT).
 */
#include "backend.h"
#include "router/internal.h"
#include "router/router.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKENDS 4
#define CLIENTS 4
#define SWAPS 20

typedef struct load_s {
    const char *address;
    atomic_bool stop;
    atomic_long ok, errors;
    char first_error[200];
    pthread_mutex_t mu;
} load_t;

static void note_error(load_t *l, const char *what, int code)
{
    atomic_fetch_add(&l->errors, 1);
    pthread_mutex_lock(&l->mu);
    if (!l->first_error[0])
        snprintf(l->first_error, sizeof l->first_error, "%s: %d (%s) after %ld ok",
                 what, code, code > 0 && code < 200 ? strerror(code) : "",
                 atomic_load(&l->ok));
    pthread_mutex_unlock(&l->mu);
}

static void *client_main(void *arg)
{
    load_t *l = arg;
    const char *req = test_model_request;
    int fd = -1;
    while (!atomic_load(&l->stop)) {
        if (fd < 0 && (fd = test_connect(l->address)) < 0) {
            note_error(l, "connect", errno);
            test_sleep_ms(10);
            continue;
        }
        char body[256];
        errno = 0;
        int status = test_exchange(fd, req, body, sizeof body);
        if (status == 200) {
            atomic_fetch_add(&l->ok, 1);
            continue;
        }
        note_error(l, status < 0 ? "exchange" : body, status < 0 ? errno : status);
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Publish the current generation with one role's set moved to `to`,
 * labelled `version`. */
static void move_role(cn_router_t *r, cn_role_t role, const test_backend_t *to,
                      const char *version)
{
    cn_generation_t g;
    cn_generation_init(&g);
    cn_router_current(r, &g, NULL);
    g.number++;
    cn_version_set_dispose(&g.sets[role]);
    cn_version_set_init(&g.sets[role], version);
    cn_version_set_add(&g.sets[role], to->address);
    char err[300];
    cr_assert_eq(cn_router_publish(r, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
}

/*
 * Everything the test starts lives here, not on the test's stack, and
 * teardown() (.fini) stops it in order: the clients, then the router, then
 * the backends. A failed assertion ends the test body with a longjmp; the
 * client threads and the router's worker and health threads would
 * otherwise keep running on the body's dead frame (the config, the load
 * counters) and crash the test process, leaving the backends orphaned.
 */
static test_backend_t b[BACKENDS];
static cn_router_config_t cfg;
static bool cfg_ready;
static cn_router_t *router;
static load_t load = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_t clients[CLIENTS];
static int nclients;

static void stop_clients(void)
{
    atomic_store(&load.stop, true);
    for (int i = 0; i < nclients; i++)
        pthread_join(clients[i], NULL);
    nclients = 0;
}

static void teardown(void)
{
    stop_clients();
    cn_router_free(router);
    router = NULL;
    if (cfg_ready)
        cn_router_config_dispose(&cfg);
    cfg_ready = false;
    for (int i = 0; i < BACKENDS; i++)
        test_backend_stop(&b[i]);
}

Test(swap, under_load_no_request_reaches_an_address_that_left, .timeout = 600,
     .fini = teardown)
{
    signal(SIGPIPE, SIG_IGN); /* as canary serve does (router.h) */
    const char *names[BACKENDS] = {"s1", "s2", "c1", "c2"};
    for (int i = 0; i < BACKENDS; i++)
        test_backend_start(&b[i], names[i], NULL);

    cn_router_config_init(&cfg);
    cfg_ready = true;
    char err[300];
    const char *flags[][2] = {{"listen", "127.0.0.1:0"},  {"workers", "2"},
                              {"stable", b[0].address},   {"canary", b[2].address},
                              {"canary-weight", "30"},    {"health-interval", "200ms"},
                              {"health-timeout", "100ms"}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_assert_eq(
            cn_router_config_set_flag(&cfg, flags[i][0], flags[i][1], err, sizeof err),
            0, "%s", err);
    cr_assert_eq(cn_router_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_new(&cfg, &router, err, sizeof err), 0, "%s", err);
    cn_router_t *r = router;
    cr_assert_eq(cn_router_start(r, err, sizeof err), 0, "%s", err);

    load.address = cn_router_listen_address(r);
    for (int i = 0; i < CLIENTS; i++) {
        cr_assert_eq(pthread_create(&clients[i], NULL, client_main, &load), 0);
        nclients++;
    }
    test_sleep_ms(300);

    int stable = 0, canary = 2; /* indices of the current backends */
    for (int k = 0; k < SWAPS; k++) {
        for (int role = CN_ROLE_CANARY; role >= CN_ROLE_STABLE; role--) {
            int *cur = role == CN_ROLE_CANARY ? &canary : &stable;
            int from = *cur, to = from ^ 1;
            long served_before = atomic_load(&load.ok);
            /* a new canary label every time: more labels than a shard
             * has key slots, so old ones are reused under load */
            char version[32];
            snprintf(version, sizeof version, "%s-%d",
                     role == CN_ROLE_CANARY ? "canary" : "stable", k);
            move_role(r, (cn_role_t)role, &b[to], version);
            *cur = to;
            test_sleep_ms(200);
            long c1 = test_backend_requests(&b[from]);
            test_sleep_ms(1000);
            long c2 = test_backend_requests(&b[from]);
            cr_assert_eq(c2, c1,
                         "swap %d (%s): %s got %ld requests after it left the set "
                         "(1 s, under load)",
                         k, role == CN_ROLE_CANARY ? "canary" : "stable",
                         b[from].address, c2 - c1);
            cr_assert_gt(atomic_load(&load.ok), served_before, "the load kept flowing");
        }
    }
    stop_clients();
    cr_assert_eq(atomic_load(&load.errors), 0, "client errors: %ld (first: %s)",
                 atomic_load(&load.errors), load.first_error);
    cr_assert_gt(atomic_load(&load.ok), 1000);
    fprintf(stderr, "swap: %d publications under load, %ld requests, 0 client errors\n",
            2 * SWAPS, atomic_load(&load.ok));
    /* the new backends answered, so the swaps did move traffic */
    for (int i = 0; i < BACKENDS; i++)
        cr_assert_gt(test_backend_requests(&b[i]), 0, "%s got nothing", names[i]);

    cn_router_snapshot_t *s = cn_router_snapshot(r, CN_ROUTER_SNAP_COUNTERS);
    uint64_t generation = s->generation;
    cn_router_snapshot_free(s);
    cr_assert_eq(generation, 1 + 2 * SWAPS);
}

static void stop_race_reset(void)
{
    cn_router__test_stop_race_ms = 0;
}

/* Snapshot, then free at once: every worker is still inside the
 * snapshot's wake (the hook holds it there 100 ms) when cn_router_free
 * sets `stopping`, and cn_router_free waits 100 ms before each wake it
 * sends. A worker that stopped on seeing `stopping` alone would close its
 * loop before the second wake reaches it, and uv_async_send would abort
 * the test process. */
Test(swap, free_right_after_a_snapshot_wakes_no_closed_loop, .fini = stop_race_reset)
{
    for (int round = 0; round < 3; round++) {
        cn_router_config_t c;
        cn_router_config_init(&c);
        char err[300];
        const char *flags[][2] = {
            {"listen", "127.0.0.1:0"}, {"workers", "2"}, {"stable", "127.0.0.1:9"}};
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
            cr_assert_eq(cn_router_config_set_flag(&c, flags[i][0], flags[i][1], err,
                                                   sizeof err),
                         0, "%s", err);
        cr_assert_eq(cn_router_config_validate(&c, err, sizeof err), 0, "%s", err);
        cn_router_t *r;
        cr_assert_eq(cn_router_new(&c, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(cn_router_start(r, err, sizeof err), 0, "%s", err);
        cn_router__test_stop_race_ms = 100;
        cn_router_snapshot_t *s = cn_router_snapshot(r, CN_ROUTER_SNAP_COUNTERS);
        cn_router_snapshot_free(s);
        cn_router_free(r);
        cn_router__test_stop_race_ms = 0;
        cn_router_config_dispose(&c);
    }
}
