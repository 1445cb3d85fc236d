/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Upstream addresses and health, and the router's construction errors. */
#include "router/config.h"
#include "router/router.h"
#include "router/upstream.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

/* Numeric addresses only: a name would depend on /etc/hosts and the
 * resolver's configuration, which a test machine need not have. */
Test(upstream, resolves_ipv4_ipv6_and_http_prefixed_addresses)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[200] = "";
    cr_assert_eq(cn_router_resolve("127.0.0.1:8080", &ss, &len, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(ss.ss_family, AF_INET);
    cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
    cr_assert_eq(cn_router_resolve("[::1]:9", &ss, &len, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(ss.ss_family, AF_INET6);
    cr_assert_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9);
    cr_assert_eq(cn_router_resolve("http://127.0.0.1:1", &ss, &len, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 1);
}

Test(upstream, bad_addresses_are_one_line_errors_naming_the_address)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[200];
    cr_assert_eq(cn_router_resolve("127.0.0.1", &ss, &len, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "'127.0.0.1'"), "%s", err);
    cr_assert_eq(cn_router_resolve("127.0.0.1:70000", &ss, &len, err, sizeof err),
                 CN_EINVAL);
    cr_assert(strstr(err, "port"), "%s", err);
    cr_assert_eq(cn_router_resolve("[::1:80", &ss, &len, err, sizeof err), CN_EINVAL);
    cr_assert_eq(
        cn_router_resolve("no-such-host.invalid:80", &ss, &len, err, sizeof err),
        CN_EINVAL);
    cr_assert(strstr(err, "cannot resolve"), "%s", err);
    cr_assert_null(strchr(err, '\n'));
}

Test(upstream, passive_failures_mark_down_for_the_cooldown_and_success_resets)
{
    cn_router_upstream_t u;
    char err[200];
    cr_assert_eq(cn_router_upstream_init(&u, "127.0.0.1:1", err, sizeof err), 0, "%s",
                 err);
    uint64_t now = 1000000;
    cr_assert(cn_router_upstream_usable(&u, now));
    cn_router_upstream_failure(&u, now, 3, 5000);
    cn_router_upstream_failure(&u, now, 3, 5000);
    cn_router_upstream_success(&u); /* breaks the run */
    cn_router_upstream_failure(&u, now, 3, 5000);
    cn_router_upstream_failure(&u, now, 3, 5000);
    cr_assert(cn_router_upstream_usable(&u, now), "two in a row are not three");
    cn_router_upstream_failure(&u, now, 3, 5000);
    cr_assert_not(cn_router_upstream_usable(&u, now));
    cr_assert_not(cn_router_upstream_usable(&u, now + 4999));
    cr_assert(cn_router_upstream_usable(&u, now + 5000));
    cr_assert_eq(atomic_load(&u.failures_total), 5);
    /* the active check is independent */
    atomic_store(&u.active_down, true);
    cr_assert_not(cn_router_upstream_usable(&u, now + 10000));
    /* threshold 0: never marked down */
    atomic_store(&u.active_down, false);
    for (int i = 0; i < 10; i++)
        cn_router_upstream_failure(&u, now + 10000, 0, 5000);
    cr_assert(cn_router_upstream_usable(&u, now + 10000));
    cn_router_upstream_dispose(&u);
}

/* A config with one stable address; listen on an ephemeral port. */
static void small_config(cn_router_config_t *c, const char *listen)
{
    char err[200];
    cn_router_config_init(c);
    cr_assert_eq(cn_router_config_set_flag(c, "listen", listen, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(cn_router_config_set_flag(c, "stable", "127.0.0.1:9", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cn_router_config_set_flag(c, "workers", "2", err, sizeof err), 0);
    cr_assert_eq(cn_router_config_validate(c, err, sizeof err), 0, "%s", err);
}

Test(router, binds_port_zero_and_refuses_a_port_already_in_use)
{
    cn_router_config_t c, c2;
    small_config(&c, "127.0.0.1:0");
    cn_router_t *r = NULL;
    char err[300];
    cr_assert_eq(cn_router_new(&c, &r, err, sizeof err), 0, "%s", err);
    const char *addr = cn_router_listen_address(r);
    cr_assert(strncmp(addr, "127.0.0.1:", 10) == 0 && strcmp(addr, "127.0.0.1:0") != 0,
              "%s", addr);
    cr_assert_eq(cn_router_workers(r), 2);
    /* SO_REUSEPORT must not let a second router share the port silently */
    small_config(&c2, addr);
    cn_router_t *r2 = NULL;
    cr_assert_neq(cn_router_new(&c2, &r2, err, sizeof err), 0);
    cr_assert_null(r2);
    cr_assert(strstr(err, "in use"), "%s", err);
    cn_router_free(r);
    cn_router_config_dispose(&c2);
    cn_router_config_dispose(&c);
}

Test(router, publishes_traffic_and_counts_steps_without_running)
{
    cn_router_config_t c;
    small_config(&c, "127.0.0.1:0");
    cn_router_t *r = NULL;
    char err[300];
    cr_assert_eq(cn_router_new(&c, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_step(r), 1);
    cn_traffic_t t = {.canary_weight_bp = 250, .mode = CN_TRAFFIC_MODE_RANDOM};
    cr_assert_eq(cn_router_set_traffic(r, &t), CN_EINVAL, "no canary address");
    cr_assert_eq(cn_router_step(r), 1);
    t.canary_weight_bp = 0;
    t.force_enabled = true;
    cr_assert_eq(cn_router_set_traffic(r, &t), 0);
    cr_assert_eq(cn_router_step(r), 2);
    cn_traffic_t got;
    cn_router_get_traffic(r, &got);
    cr_assert(got.force_enabled);
    t.canary_weight_bp = 10001;
    cr_assert_eq(cn_router_set_traffic(r, &t), CN_EINVAL);
    cr_assert_eq(cn_router_step(r), 2, "a refused change opens no step");
    /* a snapshot of a router that never ran is empty but complete */
    cn_router_snapshot_t *s = cn_router_snapshot(r, CN_ROUTER_SNAP_ALL);
    cr_assert_eq(s->ncells, 0);
    cr_assert_eq(s->step, 2);
    cr_assert_eq(s->generation, 2);
    cr_assert_eq(s->nupstreams, 1);
    cr_assert(s->traffic.force_enabled);
    cr_assert_str_eq(s->version_name[CN_ROLE_STABLE], "stable");
    cn_router_snapshot_free(s);
    cn_router_lookup_t l;
    cr_assert_eq(cn_router_lookup(r, "x", 1, &l), CN_ENOTFOUND);
    cn_router_free(r);
    cn_router_config_dispose(&c);
}

Test(router, a_bad_prediction_pointer_or_address_fails_construction)
{
    cn_router_config_t c;
    small_config(&c, "127.0.0.1:0");
    char err[300];
    cr_assert_eq(cn_router_config_set_flag(&c, "stable", "no-such-host.invalid:80", err,
                                           sizeof err),
                 0);
    cn_router_t *r = (cn_router_t *)1;
    cr_assert_neq(cn_router_new(&c, &r, err, sizeof err), 0);
    cr_assert_null(r);
    cr_assert(strstr(err, "no-such-host.invalid"), "%s", err);
    cn_router_config_dispose(&c);
}
