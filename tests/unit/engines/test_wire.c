/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The controller-to-replica codecs (engines/wire.h): a snapshot crosses
 * bit for bit (rendering what was parsed gives the same bytes), a step's
 * 10^5-value reservoir included; every truncation and a bad magic are
 * refused with one line; the generation and lease bodies round-trip and
 * name the field they refuse.
 */
#include "../api/fake_router.h"
#include "engines/wire.h"
#include "util/error.h"
#include "util/rand.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static cn_buf_t render(const cn_router_snapshot_t *s)
{
    cn_buf_t b;
    cn_buf_init(&b, (size_t)1 << 30);
    cr_assert_eq(cn_wire_snapshot_render(&b, s), 0);
    return b;
}

Test(wire, snapshot_round_trip_is_exact)
{
    fake_router_t f;
    fake_router_init(&f);
    cn_router_snapshot_t *s = fake_router_snapshot(&f);
    s->what = CN_ROUTER_SNAP_ALL;
    s->generation = 42;
    cn_buf_t b = render(s);
    char err[256];
    cn_router_snapshot_t *p;
    cr_assert_eq(cn_wire_snapshot_parse(b.data, b.len, &p, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(p->generation, 42);
    cr_assert_eq(p->what, CN_ROUTER_SNAP_ALL);
    cr_assert_eq(p->traffic.canary_weight_bp, s->traffic.canary_weight_bp);
    cr_assert_eq(p->traffic.mode, s->traffic.mode);
    cr_assert_str_eq(p->version_name[CN_ROLE_CANARY], "v2");
    cr_assert_eq(p->ncells, 3);
    cr_assert_str_eq(p->cells[1].segment, "eu \"west\"\n");
    cr_assert_eq(p->cells[0].requests, 100);
    cr_assert_eq(p->cells[0].ncodes, 2);
    cr_assert_eq(p->cells[0].codes[1].code, 503);
    cr_assert_eq(p->cells[0].prediction_le[2], 80);
    cr_assert_eq(p->cells[0].step_latency_seen, s->cells[0].step_latency_seen);
    cr_assert_eq(p->cells[0].n_step_latency, 3);
    cr_assert_eq(p->cells[0].step_latency_us[2], 1200.0);
    for (size_t k = 0; k < CN_METRICS_HIST_BUCKETS; k++)
        cr_assert_eq(p->cells[0].latency->counts[k], s->cells[0].latency->counts[k]);
    cr_assert_eq(p->cells[0].latency->count, 98);
    cr_assert_eq(p->npairs, 2);
    cr_assert_str_eq(p->pairs[1].request_id, "req-2");
    cr_assert_eq(p->nupstreams, 2);
    cr_assert_eq(p->upstreams[1].up, false);
    cr_assert_eq(p->upstreams[1].failures, 4);
    cr_assert_eq(p->n_prediction_bounds, 3);
    cr_assert_eq(p->prediction_bounds[1], 0.5);
    /* the strongest check: what was parsed renders to the same bytes */
    cn_buf_t again = render(p);
    cr_assert_eq(again.len, b.len);
    cr_assert_eq(memcmp(again.data, b.data, b.len), 0);
    cn_buf_dispose(&again);
    cn_buf_dispose(&b);
    cn_wire_snapshot_free(p);
    fake_router_snapshot_free(s);
}

Test(wire, large_reservoir_crosses_bit_for_bit)
{
    cn_router_snapshot_t s;
    memset(&s, 0, sizeof s);
    s.what = CN_ROUTER_SNAP_SAMPLES | CN_ROUTER_SNAP_ADDRESSES;
    s.generation = 7;
    s.version_name[0] = "v1";
    s.version_name[1] = "v2";
    cn_router_cell_t cell;
    memset(&cell, 0, sizeof cell);
    cell.segment = "";
    cell.version = "v2";
    cell.role = CN_ROLE_CANARY;
    cell.n_step_latency = 100000;
    cell.step_latency_us = malloc(cell.n_step_latency * sizeof(double));
    uint64_t rng = 1;
    for (size_t i = 0; i < cell.n_step_latency; i++)
        cell.step_latency_us[i] = -log(1 - cn_rand_unit(&rng)) * 12345.678;
    cell.step_latency_us[5] = NAN; /* bits, not values */
    cell.step_latency_seen = 1000000;
    cell.step_predictions = malloc(1); /* asked for, none held */
    s.cells = &cell;
    s.ncells = 1;
    cn_metrics_hist_t h;
    cn_metrics_hist_init(&h);
    cn_metrics_hist_record(&h, 5);
    cn_metrics_hist_record(&h, 1 << 20);
    cn_router_address_stat_t addr = {"127.0.0.1:9002", CN_ROLE_CANARY, 2, 0, &h};
    s.addresses = &addr;
    s.naddresses = 1;
    cn_buf_t b = render(&s);
    cr_assert_lt(b.len, 100000 * 8 + 4096, "%zu bytes", b.len);
    cn_router_snapshot_t *p;
    char err[256];
    cr_assert_eq(cn_wire_snapshot_parse(b.data, b.len, &p, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(p->cells[0].n_step_latency, 100000);
    cr_assert_eq(memcmp(p->cells[0].step_latency_us, cell.step_latency_us,
                        100000 * sizeof(double)),
                 0);
    cr_assert_not_null(p->cells[0].step_predictions);
    cr_assert_eq(p->cells[0].n_step_predictions, 0);
    cr_assert_eq(p->naddresses, 1);
    cr_assert_eq(p->addresses[0].latency->count, 2);
    cr_assert_eq(p->addresses[0].latency->counts[cn_metrics_hist_bucket_index(1 << 20)],
                 1);
    cn_buf_dispose(&b);
    cn_wire_snapshot_free(p);
    free(cell.step_latency_us);
    free(cell.step_predictions);
}

Test(wire, every_truncation_is_refused)
{
    fake_router_t f;
    fake_router_init(&f);
    cn_router_snapshot_t *s = fake_router_snapshot(&f);
    s->what = CN_ROUTER_SNAP_ALL;
    cn_buf_t b = render(s);
    char err[256];
    for (size_t len = 0; len < b.len; len++) {
        cn_router_snapshot_t *p = (void *)1;
        int rc = cn_wire_snapshot_parse(b.data, len, &p, err, sizeof err);
        cr_assert_neq(rc, 0, "a prefix of %zu bytes parsed", len);
        cr_assert_null(p);
        cr_assert(strncmp(err, "snapshot: ", 10) == 0, "%s", err);
        cr_assert_null(strchr(err, '\n'));
    }
    /* one byte more is refused too */
    cn_buf_byte(&b, 0);
    cn_router_snapshot_t *p;
    cr_assert_eq(cn_wire_snapshot_parse(b.data, b.len, &p, err, sizeof err), CN_EPARSE);
    cr_assert(strstr(err, "after the end"), "%s", err);
    b.data[0] = 'X';
    cr_assert_eq(cn_wire_snapshot_parse(b.data, b.len, &p, err, sizeof err), CN_EPARSE);
    cr_assert(strstr(err, "not a canary snapshot"), "%s", err);
    cn_buf_dispose(&b);
    fake_router_snapshot_free(s);
}

Test(wire, generation_round_trip)
{
    cn_generation_t g, back;
    cn_generation_init(&g);
    cn_generation_init(&back);
    g.number = 9;
    g.traffic.canary_weight_bp = 1234;
    g.traffic.shadow_bp = 10;
    g.traffic.mode = CN_TRAFFIC_MODE_STICKY;
    g.traffic.force_enabled = true;
    cn_version_set_dispose(&g.sets[0]);
    cn_version_set_init(&g.sets[0], "v1");
    cn_version_set_add(&g.sets[0], "127.0.0.1:9001");
    cn_version_set_add(&g.sets[0], "[::1]:9003");
    cn_version_set_dispose(&g.sets[1]);
    cn_version_set_init(&g.sets[1], "v2");
    cn_buf_t b;
    cn_buf_init(&b, 1 << 20);
    cr_assert_eq(cn_wire_generation_render(&b, "ctl-a", &g, 10000), 0);
    char name[CN_WIRE_CONTROLLER_MAX + 1], err[256];
    uint64_t lease;
    cr_assert_eq(
        cn_wire_generation_parse(b.data, b.len, &back, name, &lease, err, sizeof err),
        0, "%s", err);
    cr_assert_str_eq(name, "ctl-a");
    cr_assert_eq(lease, 10000);
    cr_assert_eq(back.number, 9);
    cr_assert(cn_traffic_equal(&back.traffic, &g.traffic));
    cr_assert(cn_version_set_equal(&back.sets[0], &g.sets[0]));
    cr_assert(cn_version_set_equal(&back.sets[1], &g.sets[1]));
    cn_buf_reset(&b);
    cr_assert_eq(cn_wire_lease_render(&b, "ctl-a", 9, 2500), 0);
    uint64_t n;
    cr_assert_eq(cn_wire_lease_parse(b.data, b.len, name, &n, &lease, err, sizeof err),
                 0);
    cr_assert_eq(n, 9);
    cr_assert_eq(lease, 2500);
    cn_buf_dispose(&b);
    cn_generation_dispose(&g);
    cn_generation_dispose(&back);
}

static void refused(const char *body, const char *want)
{
    cn_generation_t g;
    cn_generation_init(&g);
    char name[CN_WIRE_CONTROLLER_MAX + 1], err[256];
    uint64_t lease;
    int rc =
        cn_wire_generation_parse(body, strlen(body), &g, name, &lease, err, sizeof err);
    cr_assert_neq(rc, 0, "%s parsed", body);
    cr_assert(strstr(err, want), "%s: got '%s', want '%s'", body, err, want);
    cn_generation_dispose(&g);
}

#define SETS                                                                           \
    "\"stable\":{\"version\":\"v1\",\"addresses\":[\"h:1\"]},\"canary\":{\"version\":" \
    "\"v2\",\"addresses\":[]}"

Test(wire, generation_errors_name_the_field)
{
    refused("[]", "body: must be a JSON object");
    refused("{", "body: not JSON");
    refused("{\"generation\":1,\"traffic\":{}," SETS "}", "controller:");
    refused("{\"controller\":\"a b\",\"generation\":1,\"traffic\":{}," SETS "}",
            "controller:");
    refused("{\"controller\":\"c\",\"generation\":0,\"traffic\":{}," SETS "}",
            "generation: must be an integer >= 1");
    refused("{\"controller\":\"c\",\"generation\":1,\"traffic\":{\"canary_weight_bp\":"
            "10001}," SETS "}",
            "traffic.canary_weight_bp: must be an integer in [0, 10000]");
    refused("{\"controller\":\"c\",\"generation\":1,\"traffic\":{\"mode\":\"x\"}," SETS
            "}",
            "traffic.mode:");
    refused("{\"controller\":\"c\",\"generation\":1,\"traffic\":{},\"stable\":{}}",
            "stable.version:");
    refused("{\"controller\":\"c\",\"generation\":1,\"traffic\":{},\"stable\":{"
            "\"version\":\"v1\",\"addresses\":[1]}}",
            "stable.addresses[0]:");
    refused("{\"controller\":\"c\",\"generation\":1,\"traffic\":{}," SETS
            ",\"lease_ms\":-1}",
            "lease_ms: must be an integer in [0, 3600000]");
}
