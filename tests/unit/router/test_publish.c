/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Generations: what cn_router_publish refuses (one line naming the field),
 * what it changes, cn_router_current, and a start that fails partway. */
#include "router/config.h"
#include "router/internal.h"
#include "router/router.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <string.h>

static cn_router_config_t cfg;
static cn_router_t *router;

static void setup(void)
{
    char err[300];
    cn_router_config_init(&cfg);
    cr_assert_eq(
        cn_router_config_set_flag(&cfg, "listen", "127.0.0.1:0", err, sizeof err), 0);
    cr_assert_eq(
        cn_router_config_set_flag(&cfg, "stable", "127.0.0.1:9", err, sizeof err), 0);
    cr_assert_eq(
        cn_router_config_set_flag(&cfg, "stable-version", "v1", err, sizeof err), 0);
    cr_assert_eq(cn_router_config_set_flag(&cfg, "workers", "2", err, sizeof err), 0);
    cr_assert_eq(cn_router_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_new(&cfg, &router, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    cn_router_free(router);
    router = NULL;
    cn_router_config_dispose(&cfg);
    cn_router__test_fail_thread = 0;
}

/* The current generation with the next number. */
static void next_of_current(cn_generation_t *g)
{
    cn_generation_init(g);
    cn_router_current(router, g, NULL);
    g->number++;
}

static void set_addresses(cn_version_set_t *s, const char *version, const char *a,
                          const char *b)
{
    cn_version_set_dispose(s);
    cn_version_set_init(s, version);
    if (a)
        cn_version_set_add(s, a);
    if (b)
        cn_version_set_add(s, b);
}

/* Publishing g must fail with one line containing `want`, and change
 * nothing. */
static void refused(cn_generation_t *g, const char *want)
{
    char err[300] = "";
    cn_generation_t before;
    cn_generation_init(&before);
    cn_router_current(router, &before, NULL);
    uint64_t step = cn_router_step(router);
    cr_assert_eq(cn_router_publish(router, g, err, sizeof err), CN_EINVAL, "%s", want);
    cr_assert(strstr(err, want), "want '%s', got '%s'", want, err);
    cr_assert_null(strchr(err, '\n'));
    cn_generation_t after;
    cn_generation_init(&after);
    cn_router_current(router, &after, NULL);
    cr_assert_eq(after.number, before.number);
    cr_assert(cn_version_set_equal(&after.sets[0], &before.sets[0]));
    cr_assert(cn_version_set_equal(&after.sets[1], &before.sets[1]));
    cr_assert_eq(cn_router_step(router), step, "a refusal opens no step");
    cn_generation_dispose(&before);
    cn_generation_dispose(&after);
    cn_generation_dispose(g);
}

TestSuite(publish, .init = setup, .fini = teardown);

Test(publish, the_config_is_generation_one)
{
    cn_generation_t g;
    cn_generation_init(&g);
    cn_step_t step;
    cn_router_current(router, &g, &step);
    cr_assert_eq(g.number, 1);
    cr_assert_str_eq(g.sets[CN_ROLE_STABLE].version, "v1");
    cr_assert_eq(g.sets[CN_ROLE_STABLE].count, 1);
    cr_assert_str_eq(g.sets[CN_ROLE_STABLE].addresses[0], "127.0.0.1:9");
    cr_assert_str_eq(g.sets[CN_ROLE_CANARY].version, "canary");
    cr_assert_eq(g.sets[CN_ROLE_CANARY].count, 0);
    cr_assert_eq(step.number, 1);
    cr_assert_eq(step.generation, 1);
    cr_assert_gt(step.started_unix_s, 1.6e9);
    cn_generation_dispose(&g);
}

Test(publish, refuses_bad_structure_naming_the_field)
{
    cn_generation_t g;
    next_of_current(&g);
    g.traffic.canary_weight_bp = 100;
    refused(&g,
            "traffic.canary_weight: must be 0 while the canary set has no addresses");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:10", "127.0.0.1:10");
    refused(&g, "canary.addresses[1]: duplicate of canary.addresses[0]");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:11", "127.0.0.1:9");
    refused(&g, "canary.addresses[1]: duplicate of stable.addresses[0] '127.0.0.1:9'");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:0", NULL);
    refused(&g, "canary.addresses[0]: must be host:port");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:65536", NULL);
    refused(&g, "canary.addresses[0]");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_STABLE], "v1", "127.0.0.1", NULL);
    refused(&g, "stable.addresses[0]: must be host:port");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v1", "127.0.0.1:10", NULL);
    refused(&g, "canary.version: must differ from stable.version, both are 'v1'");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "bad label", NULL, NULL);
    refused(&g, "canary.version: must be 1 to 63");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_STABLE], "v1", NULL, NULL);
    refused(&g, "stable.addresses: at least one address");

    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "no-such-host.invalid:80", NULL);
    refused(&g,
            "canary.addresses[0]: address 'no-such-host.invalid:80': cannot resolve");

    /* the same address once resolved, written two ways */
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "http://127.0.0.1:9", NULL);
    refused(&g, "canary.addresses[0]: 'http://127.0.0.1:9' is the same address as "
                "stable.addresses[0]");

    next_of_current(&g);
    g.number--;
    refused(&g, "number: must be above the current generation's 1, got 1");

    next_of_current(&g);
    g.traffic.mode = (cn_traffic_mode_t)7;
    refused(&g, "traffic: out of range");
}

Test(publish, swaps_sets_and_split_together_and_opens_a_step)
{
    char err[300];
    cn_router_upstream_t *stable0 = atomic_load(&router->gen)->ups[CN_ROLE_STABLE][0];
    atomic_store(&stable0->active_down, true);
    cn_generation_t g;
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:10", "[::1]:11");
    g.traffic.canary_weight_bp = 500;
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
    /* an address kept across generations is the same object: its health
     * state carries over */
    cr_assert_eq(atomic_load(&router->gen)->ups[CN_ROLE_STABLE][0], stable0);
    cr_assert(atomic_load(&stable0->active_down));
    cn_router_upstream_t *canary1 = atomic_load(&router->gen)->ups[CN_ROLE_CANARY][1];

    cn_generation_t cur;
    cn_generation_init(&cur);
    cn_step_t step;
    cn_router_current(router, &cur, &step);
    cr_assert_eq(cur.number, 2);
    cr_assert_eq(cur.traffic.canary_weight_bp, 500);
    cr_assert_str_eq(cur.sets[CN_ROLE_CANARY].addresses[1], "[::1]:11");
    cr_assert_eq(step.number, 2);
    cr_assert_eq(step.generation, 2);

    /* promotion is one publication: v2 becomes stable, canary empties */
    next_of_current(&g);
    cn_version_set_copy(&g.sets[CN_ROLE_STABLE], &cur.sets[CN_ROLE_CANARY]);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v3", NULL, NULL);
    g.traffic.canary_weight_bp = 0;
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
    cn_router_current(router, &cur, &step);
    cr_assert_str_eq(cur.sets[CN_ROLE_STABLE].version, "v2");
    cr_assert_eq(cur.sets[CN_ROLE_STABLE].count, 2);
    cr_assert_eq(atomic_load(&router->gen)->ups[CN_ROLE_STABLE][1], canary1,
                 "a promoted address keeps its state");
    cr_assert_eq(cur.sets[CN_ROLE_CANARY].count, 0);
    cr_assert_eq(step.number, 3);

    /* the snapshot owns what it names */
    cn_router_snapshot_t *s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS);
    cn_generation_dispose(&cur);
    cr_assert_str_eq(s->version_name[CN_ROLE_STABLE], "v2");
    cr_assert_str_eq(s->version_name[CN_ROLE_CANARY], "v3");
    cr_assert_eq(s->nupstreams, 2);
    cr_assert_str_eq(s->upstreams[0].address, "127.0.0.1:10");
    cr_assert_eq(s->generation, 3);
    cn_router_snapshot_free(s);

    /* set_traffic keeps the sets and takes the next number */
    cn_traffic_t t = {.canary_weight_bp = 0, .mode = CN_TRAFFIC_MODE_SHADOW};
    cr_assert_eq(cn_router_set_traffic(router, &t), 0);
    cn_generation_init(&cur);
    cn_router_current(router, &cur, NULL);
    cr_assert_eq(cur.number, 4);
    cr_assert_eq(cur.traffic.mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_str_eq(cur.sets[CN_ROLE_STABLE].version, "v2");
    cn_generation_dispose(&cur);
}

/* A parity (A/A) generation may list stable's addresses as canary's too:
 * one upstream object in both roles, shown once per role. */
Test(publish, a_parity_generation_shares_addresses_across_the_sets)
{
    char err[300];
    cn_router_upstream_t *stable0 = atomic_load(&router->gen)->ups[CN_ROLE_STABLE][0];
    cn_generation_t g;
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_STABLE], "v1", "127.0.0.1:9", "127.0.0.1:10");
    char parity[CN_VERSION_LABEL_MAX + 1];
    cn_version_parity_label("v1", parity);
    cr_assert_str_eq(parity, "v1+parity");
    set_addresses(&g.sets[CN_ROLE_CANARY], parity, "127.0.0.1:10", "127.0.0.1:9");
    g.traffic.canary_weight_bp = 5000;
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
    cn_router_gen_t *cur = atomic_load(&router->gen);
    cr_assert_eq(cur->ups[CN_ROLE_STABLE][0], stable0, "kept across generations");
    cr_assert_eq(cur->ups[CN_ROLE_CANARY][1], stable0, "one object in both roles");
    cr_assert_eq(cur->ups[CN_ROLE_CANARY][0], cur->ups[CN_ROLE_STABLE][1]);
    /* the config's generation (released once every worker took the new
     * one), and one hold per role of this one, plus each worker's pool */
    pthread_mutex_lock(&router->ups_mu);
    unsigned refs = stable0->refs;
    pthread_mutex_unlock(&router->ups_mu);
    cr_assert_eq(refs, 2 + cn_router_workers(router), "got %u", refs);

    cn_router_snapshot_t *s = cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS);
    cr_assert_eq(s->nupstreams, 4);
    const char *want[4] = {"127.0.0.1:9", "127.0.0.1:10", "127.0.0.1:10",
                           "127.0.0.1:9"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(s->upstreams[i].address, want[i]);
        cr_assert_eq(s->upstreams[i].role, i < 2 ? CN_ROLE_STABLE : CN_ROLE_CANARY);
    }
    cr_assert_str_eq(s->version_name[CN_ROLE_CANARY], "v1+parity");
    cn_router_snapshot_free(s);

    /* still refused: an address twice within one set, parity or not */
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], parity, "127.0.0.1:9", "127.0.0.1:9");
    refused(&g, "canary.addresses[1]: duplicate of canary.addresses[0] '127.0.0.1:9'");
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], parity, "127.0.0.1:9", "http://127.0.0.1:9");
    refused(&g, "canary.addresses[1]: 'http://127.0.0.1:9' is the same address as "
                "canary.addresses[0]");

    /* back to a non-parity canary: the sets must be apart again, with the
     * same message as ever */
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:11", "127.0.0.1:10");
    refused(&g, "canary.addresses[1]: duplicate of stable.addresses[1] '127.0.0.1:10'");
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v1+parityx", "127.0.0.1:9", NULL);
    refused(&g, "canary.addresses[0]: duplicate of stable.addresses[0] '127.0.0.1:9'");
    next_of_current(&g);
    set_addresses(&g.sets[CN_ROLE_CANARY], "v2", "127.0.0.1:11", NULL);
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
    pthread_mutex_lock(&router->ups_mu);
    refs = stable0->refs;
    pthread_mutex_unlock(&router->ups_mu);
    cr_assert_eq(refs, 1 + cn_router_workers(router), "got %u", refs);
}

/* Workers 1 starts, worker 2's thread fails: cn_router_free must close
 * only the loop that never ran (ASan sees a double close). */
Test(publish, a_start_failing_partway_frees_cleanly)
{
    char err[300];
    cn_router__test_fail_thread = 2;
    cr_assert_eq(cn_router_start(router, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "cannot start worker thread"), "%s", err);
    /* still usable from this thread: nothing runs */
    cn_router_snapshot_t *s = cn_router_snapshot(router, CN_ROUTER_SNAP_ALL);
    cn_router_snapshot_free(s);
    cn_generation_t g;
    next_of_current(&g);
    cr_assert_eq(cn_router_publish(router, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
}

Test(publish, a_health_thread_that_cannot_start_fails_the_start)
{
    char err[300];
    cn_router__test_fail_thread = 3; /* two workers, then the health checker */
    cr_assert_eq(cn_router_start(router, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "health checker"), "%s", err);
}
