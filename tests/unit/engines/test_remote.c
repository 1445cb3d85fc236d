/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The remote engine (engines/remote.h): the merge of the replicas'
 * snapshots (counts and histogram buckets add; the reservoirs' merged
 * sample is a uniform sample of the union, checked statistically with
 * fixed seeds), its config table's errors, and apply / read against two
 * real admin servers (api/res_remote.c) over sockets, each in front of
 * a real controller.
 */
#include "../api/fake_router.h"
#include "../controller/plane.h"
#include "api/admin.h"
#include "engines/remote.h"
#include "engines/wire.h"
#include "metrics/metrics.h"
#include "util/config.h"
#include "util/error.h"
#include "util/rand.h"
#include "util/yaml.h"

#include <criterion/criterion.h>
#include <libfyaml.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ merge */

static cn_router_snapshot_t *fake(uint64_t generation)
{
    fake_router_t f;
    fake_router_init(&f);
    cn_router_snapshot_t *s = fake_router_snapshot(&f);
    s->what = CN_ROUTER_SNAP_ALL;
    s->generation = generation;
    /* through the wire, as the engine gets them (cell versions set) */
    for (size_t i = 0; i < s->ncells; i++)
        s->cells[i].version = (char *)s->version_name[s->cells[i].role];
    cn_buf_t b;
    cn_buf_init(&b, 1 << 24);
    cr_assert_eq(cn_wire_snapshot_render(&b, s), 0);
    for (size_t i = 0; i < s->ncells; i++)
        s->cells[i].version = NULL;
    fake_router_snapshot_free(s);
    cn_router_snapshot_t *p;
    char err[256];
    cr_assert_eq(cn_wire_snapshot_parse(b.data, b.len, &p, err, sizeof err), 0, "%s",
                 err);
    cn_buf_dispose(&b);
    return p;
}

Test(remote_merge, counts_and_histogram_buckets_add)
{
    cn_router_snapshot_t *parts[3] = {fake(5), fake(5), fake(5)};
    parts[1]->upstreams[0].up = false;
    parts[2]->cells[2].requests = 1000;
    uint64_t rng = 1;
    cn_router_snapshot_t *m;
    char err[256];
    cr_assert_eq(cn_remote_merge(parts, 3, &rng, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m->generation, 5);
    cr_assert_eq(m->ncells, 3);
    cr_assert_eq(m->cells[0].requests, 300);
    cr_assert_eq(m->cells[0].ncodes, 2);
    cr_assert_eq(m->cells[0].codes[0].count, 3 * 95);
    cr_assert_eq(m->cells[0].codes[1].count, 3 * 3);
    cr_assert_eq(m->cells[0].prediction_le[2], 3 * 80);
    cr_assert_eq(m->cells[0].step_requests, 120);
    cr_assert_eq(m->cells[2].requests, 20 + 20 + 1000);
    cr_assert_float_eq(m->cells[2].prediction_sum, 3 * 9.5, 1e-12);
    for (size_t k = 0; k < CN_METRICS_HIST_BUCKETS; k++) {
        cr_assert_eq(m->cells[0].latency->counts[k],
                     3 * parts[0]->cells[0].latency->counts[k]);
        cr_assert_eq(m->cells[0].step_latency->counts[k],
                     3 * parts[0]->cells[0].step_latency->counts[k]);
    }
    cr_assert_eq(cn_metrics_hist_count(m->cells[0].latency), 3 * 98);
    cr_assert_eq(m->workers, 6);
    cr_assert_eq(m->rejects[CN_ROUTER_REJECT_MAX_CONNECTIONS], 15);
    cr_assert_eq(m->npairs, 6);
    cr_assert_eq(m->nupstreams, 2);
    cr_assert_eq(m->upstreams[0].up, false, "up only where every replica finds it up");
    cr_assert_eq(m->upstreams[1].failures, 12);
    /* the fake's reservoirs are whole (3 of 30 seen is not, see below) */
    cr_assert_eq(m->cells[2].n_step_latency, 6, "2 values seen 0 times: whole");
    cn_wire_snapshot_free(m);
    for (int i = 0; i < 3; i++)
        cn_wire_snapshot_free(parts[i]);
}

Test(remote_merge, disagreeing_labels_are_refused)
{
    cn_router_snapshot_t *parts[2] = {fake(5), fake(5)};
    free((char *)parts[1]->version_name[CN_ROLE_CANARY]);
    parts[1]->version_name[CN_ROLE_CANARY] = strdup("v3");
    uint64_t rng = 1;
    cn_router_snapshot_t *m = (void *)1;
    char err[256];
    cr_assert_eq(cn_remote_merge(parts, 2, &rng, &m, err, sizeof err), CN_EINVAL);
    cr_assert_null(m);
    cr_assert_str_eq(err, "replica 1 runs canary version 'v3', replica 0 'v2'");
    parts[1]->generation = 6;
    cr_assert_eq(cn_remote_merge(parts, 2, &rng, &m, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "generation 6"), "%s", err);
    cn_wire_snapshot_free(parts[0]);
    cn_wire_snapshot_free(parts[1]);
}

/* A snapshot of one canary cell whose latency reservoir holds r's sample. */
static cn_router_snapshot_t *of_reservoir(const cn_metrics_reservoir_t *r)
{
    cn_router_snapshot_t *s = calloc(1, sizeof *s);
    s->what = CN_ROUTER_SNAP_SAMPLES;
    s->generation = 1;
    s->version_name[0] = strdup("v1");
    s->version_name[1] = strdup("v2");
    s->ncells = 1;
    s->cells = calloc(1, sizeof *s->cells);
    cn_router_cell_t *c = &s->cells[0];
    c->segment = strdup("");
    c->version = strdup("v2");
    c->role = CN_ROLE_CANARY;
    c->n_step_latency = cn_metrics_reservoir_size(r);
    c->step_latency_us = malloc(c->n_step_latency * sizeof(double) + 1);
    memcpy(c->step_latency_us, cn_metrics_reservoir_values(r),
           c->n_step_latency * sizeof(double));
    c->step_latency_seen = cn_metrics_reservoir_seen(r);
    c->step_predictions = malloc(1);
    return s;
}

/*
 * Three replicas saw 5,000, 20,000 and 1,000 requests (values are the
 * request's number in the union: 0..25,999) and kept reservoirs of 500,
 * 500 and 1,000 (the last one whole). Over 400 rounds (each with fresh
 * reservoirs and a fresh merge), every request of the union must be in the
 * merged sample equally often: K = min(2000, 500*26000/5000,
 * 500*26000/20000, 1000*26000/1000) = 650 of 26,000, so 10 times each on
 * average. Checked on 26 groups of 1,000 consecutive requests (each
 * expected 10,000 times): Pearson's chi-square with 25 degrees of freedom
 * below 52.62 (p = 0.001), and each replica's share of the merged values
 * within 1% of its share of the traffic. With a uniform merge replaced by
 * a concatenation, replica 3's 1,000 requests would be in every sample
 * (400 times each) and the statistic would be in the millions.
 */
Test(remote_merge, merged_reservoir_is_uniform_over_the_union)
{
    const uint64_t n[3] = {5000, 20000, 1000}, cap[3] = {500, 500, 1000};
    const uint64_t base[3] = {0, 5000, 25000};
    const int rounds = 400;
    static uint64_t group[26];
    memset(group, 0, sizeof group);
    uint64_t from[3] = {0, 0, 0}, total = 0;
    uint64_t rng = 0x5eed;
    for (int t = 0; t < rounds; t++) {
        cn_router_snapshot_t *parts[3];
        for (int j = 0; j < 3; j++) {
            cn_metrics_reservoir_t r;
            cr_assert_eq(cn_metrics_reservoir_init(&r, cap[j], 1000u * t + j), 0);
            for (uint64_t v = 0; v < n[j]; v++)
                cn_metrics_reservoir_add(&r, (double)(base[j] + v));
            parts[j] = of_reservoir(&r);
            cn_metrics_reservoir_dispose(&r);
        }
        cn_router_snapshot_t *m;
        char err[256];
        cr_assert_eq(cn_remote_merge(parts, 3, &rng, &m, err, sizeof err), 0, "%s",
                     err);
        const cn_router_cell_t *c = &m->cells[0];
        cr_assert_eq(c->step_latency_seen, 26000);
        cr_assert(c->n_step_latency >= 649 && c->n_step_latency <= 651, "%zu",
                  c->n_step_latency);
        for (size_t i = 0; i < c->n_step_latency; i++) {
            uint64_t v = (uint64_t)c->step_latency_us[i];
            group[v / 1000]++;
            from[v < 5000 ? 0 : v < 25000 ? 1 : 2]++;
            total++;
        }
        cn_wire_snapshot_free(m);
        for (int j = 0; j < 3; j++)
            cn_wire_snapshot_free(parts[j]);
    }
    double expected = (double)total / 26.0, chi2 = 0;
    for (int g = 0; g < 26; g++)
        chi2 +=
            ((double)group[g] - expected) * ((double)group[g] - expected) / expected;
    cr_assert_lt(chi2, 52.62, "chi-square %.2f over 26 groups", chi2);
    for (int j = 0; j < 3; j++) {
        double share = (double)from[j] / (double)total, want = (double)n[j] / 26000.0;
        cr_assert_lt(fabs(share - want), 0.01,
                     "replica %d: %.4f of the merged values, "
                     "%.4f of the traffic",
                     j, share, want);
    }
}

Test(remote_merge, whole_reservoirs_are_concatenated)
{
    cn_metrics_reservoir_t a, b;
    cn_metrics_reservoir_init(&a, 100, 1);
    cn_metrics_reservoir_init(&b, 100, 2);
    for (int i = 0; i < 30; i++)
        cn_metrics_reservoir_add(&a, i);
    for (int i = 0; i < 70; i++)
        cn_metrics_reservoir_add(&b, 100 + i);
    cn_router_snapshot_t *parts[2] = {of_reservoir(&a), of_reservoir(&b)};
    uint64_t rng = 3;
    cn_router_snapshot_t *m;
    char err[256];
    cr_assert_eq(cn_remote_merge(parts, 2, &rng, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m->cells[0].n_step_latency, 100);
    double sum = 0;
    for (size_t i = 0; i < 100; i++)
        sum += m->cells[0].step_latency_us[i];
    cr_assert_float_eq(sum, 435.0 + 100 * 70 + 2415.0, 1e-9);
    cn_wire_snapshot_free(m);
    cn_wire_snapshot_free(parts[0]);
    cn_wire_snapshot_free(parts[1]);
    cn_metrics_reservoir_dispose(&a);
    cn_metrics_reservoir_dispose(&b);
}

/* ------------------------------------------------------------ config */

static int parse(const char *text, cn_remote_config_t *c, char *err, size_t errlen)
{
    cn_config_init(&cn_remote_config_table, c);
    cn_yaml_t y;
    cn_yaml_init(&y, "c.yaml", err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&y, text, strlen(text), &doc);
    if (!rc && doc) {
        cn_config_part_t part = {&cn_remote_config_table, c};
        rc = cn_config_read(&y, &part, 1, fy_document_root(doc), 1);
    }
    cn_yaml_dispose(&y);
    return rc;
}

static void config_error(const char *text, const char *want)
{
    cn_remote_config_t c;
    char err[512];
    cr_assert_neq(parse(text, &c, err, sizeof err), 0, "%s parsed", text);
    cr_assert(strstr(err, want), "got '%s', want '%s'", err, want);
    cr_assert_null(strchr(err, '\n'));
    cn_remote_config_dispose(&c);
}

Test(remote_config, defaults_and_errors)
{
    cn_remote_config_t c;
    char err[512];
    cr_assert_eq(
        parse("replicas:\n  - url: http://127.0.0.1:8081\n", &c, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(c.n_replicas, 1);
    cr_assert_eq(c.lease_ms, 10000);
    cr_assert_eq(c.renew_every_ms, 2000);
    cr_assert_eq(c.timeout_ms, 2000);
    cr_assert_null(c.replicas[0].token_file);
    cn_remote_config_dispose(&c);

    config_error("lease: 10s\n", "c.yaml:1: key 'replicas'");
    config_error("replicas: []\n", "key 'replicas'");
    config_error("replicas:\n  - url: https://h:1\n",
                 "c.yaml:2: key 'replicas[0].url': must be a replica's admin API as "
                 "http://host:port (no path)");
    config_error("replicas:\n  - url: http://h:1/v1\n", "replicas[0].url");
    config_error("replicas:\n  - token_file: /x\n", "replicas[0].url");
    config_error("replicas:\n  - url: http://h:1\n  - url: http://h:1\n",
                 "c.yaml:3: key 'replicas[1].url': replica [1] is replica [0] again");
    config_error("replicas:\n  - url: http://h:1\nlease: 2s\nrenew_every: 1500ms\n",
                 "key 'renew_every': must be at most half the lease (2000 ms)");
    config_error("replicas:\n  - url: http://h:1\nlease: 100ms\n", "key 'lease'");
    config_error("replicas:\n  - url: http://h:1\ncontroller: a b\n",
                 "key 'controller': must be 1 to 63 visible ASCII characters");
    config_error("replicas:\n  - url: http://h:1\nleese: 1s\n", "leese");
}

Test(remote_config, unreadable_token_file_names_the_replica)
{
    cn_remote_config_t c;
    char err[512];
    cr_assert_eq(parse("replicas:\n  - url: http://127.0.0.1:1\n  - url: "
                       "http://127.0.0.1:2\n    token_file: /nonexistent/t\n",
                       &c, err, sizeof err),
                 0, "%s", err);
    setenv("CANARY_TOKEN", "t0123456789abcdef", 1);
    cn_remote_t *e = (void *)1;
    cr_assert_eq(cn_remote_new(&c, &e, err, sizeof err), CN_EIO);
    cr_assert_null(e);
    cr_assert(strncmp(err, "replicas[1].token_file: /nonexistent/t", 38) == 0, "%s",
              err);
    cn_remote_config_dispose(&c);
}

/* ------------------------------------------------------------ live */

/*
 * Two replicas in this process: each a real controller (test_plane: a
 * router, not started, and its controller) behind a real admin server on
 * 127.0.0.1:0, whose snapshots are the fake router's numbers for the
 * generation the controller runs.
 */
#define TOKEN "t0123456789abcdef"

typedef struct replica_s {
    test_plane_t plane;
    fake_router_t fake;
    cn_admin_t *admin;
    pthread_t thread;
    bool running;
    char url[96];
} replica_t;

static cn_router_snapshot_t *live_snapshot(void *ctx, unsigned mask)
{
    replica_t *r = ctx;
    cn_router_snapshot_t *s = fake_router_snapshot(&r->fake);
    s->what = mask;
    cn_generation_t g;
    cn_generation_init(&g);
    cn_controller_current(r->plane.controller, &g, NULL);
    s->generation = g.number;
    cn_generation_dispose(&g);
    return s;
}

static void live_snapshot_free(void *ctx, cn_router_snapshot_t *s)
{
    (void)ctx;
    fake_router_snapshot_free(s);
}

static int live_lookup(void *ctx, const char *id, size_t len, cn_router_lookup_t *out)
{
    (void)ctx;
    (void)id;
    (void)len;
    (void)out;
    return CN_ENOTFOUND;
}

static void *serve(void *arg)
{
    cn_admin_run(arg);
    return NULL;
}

static void replica_start(replica_t *r)
{
    signal(SIGPIPE, SIG_IGN);
    fake_router_init(&r->fake);
    test_plane_start(&r->plane, NULL, false);
    cn_admin_ops_t ops = {live_snapshot, live_snapshot_free, live_lookup, NULL, r, NULL,
                          NULL};
    char err[256];
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, r->plane.controller,
                              &r->admin, err, sizeof err),
                 0, "%s", err);
    cn_admin_set_log(r->admin, NULL);
    snprintf(r->url, sizeof r->url, "http://%s", cn_admin_address(r->admin));
    cr_assert_eq(pthread_create(&r->thread, NULL, serve, r->admin), 0);
    r->running = true;
}

static void replica_stop(replica_t *r)
{
    if (!r->running)
        return;
    cn_admin_stop(r->admin);
    pthread_join(r->thread, NULL);
    cn_admin_free(r->admin);
    test_plane_stop(&r->plane);
    r->running = false;
}

static replica_t reps[2];

static void live_setup(void)
{
    setenv("CANARY_TOKEN", TOKEN, 1);
    replica_start(&reps[0]);
    replica_start(&reps[1]);
}

static void live_teardown(void)
{
    replica_stop(&reps[0]);
    replica_stop(&reps[1]);
}

static cn_remote_t *engine(uint64_t rollback_retry_ms)
{
    cn_remote_config_t c;
    char text[512], err[512];
    snprintf(text, sizeof text,
             "replicas:\n  - url: %s\n  - url: %s\ncontroller: test-ctl\n"
             "timeout: 1s\nrollback_retry: %llums\n",
             reps[0].url, reps[1].url, (unsigned long long)rollback_retry_ms);
    cr_assert_eq(parse(text, &c, err, sizeof err), 0, "%s", err);
    cn_remote_t *e;
    cr_assert_eq(cn_remote_new(&c, &e, err, sizeof err), 0, "%s", err);
    cn_remote_config_dispose(&c);
    return e;
}

/* The plane's sets (stable 127.0.0.1:1 v1, canary 127.0.0.1:2 v2) at w. */
static void generation(cn_generation_t *g, uint64_t number, uint16_t w)
{
    cn_generation_init(g);
    g->number = number;
    g->traffic.canary_weight_bp = w;
    cn_version_set_dispose(&g->sets[0]);
    cn_version_set_init(&g->sets[0], "v1");
    cn_version_set_add(&g->sets[0], "127.0.0.1:1");
    cn_version_set_dispose(&g->sets[1]);
    cn_version_set_init(&g->sets[1], "v2");
    cn_version_set_add(&g->sets[1], "127.0.0.1:2");
}

static uint64_t local_number(replica_t *r, uint16_t *weight)
{
    cn_generation_t g;
    cn_generation_init(&g);
    cn_controller_current(r->plane.controller, &g, NULL);
    uint64_t n = g.number;
    *weight = g.traffic.canary_weight_bp;
    cn_generation_dispose(&g);
    return n;
}

Test(remote_live, apply_then_read_merges_every_replica, .init = live_setup,
     .fini = live_teardown)
{
    cn_remote_t *e = engine(0);
    cn_generation_t g;
    generation(&g, 40, 5000);
    cn_traffic_applied_t applied;
    char err[512];
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(applied.generation, 40);
    cr_assert_eq(applied.effective_weight_bp, 5000);
    uint16_t w;
    uint64_t l0 = local_number(&reps[0], &w);
    cr_assert_eq(w, 5000);
    /* idempotent: the same generation again opens nothing */
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(local_number(&reps[0], &w), l0);
    cr_assert(strstr(test_plane_log(&reps[1].plane), "change by controller test-ctl"),
              "%s", test_plane_log(&reps[1].plane));
    cr_assert_eq(e->traffic.renew(&e->traffic, err, sizeof err), 0, "%s", err);

    cn_metrics_window_t win = {.kind = CN_WINDOW_GENERATION, .generation = 40};
    cn_router_snapshot_t *s;
    cr_assert_eq(
        e->metrics.read(&e->metrics, &win, CN_ROUTER_SNAP_ALL, &s, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(s->generation, 40);
    cr_assert_eq(s->cells[0].requests, 200);
    cr_assert_eq(s->workers, 4);
    e->metrics.release(&e->metrics, s);
    win.generation = 39;
    cr_assert_eq(e->metrics.read(&e->metrics, &win, CN_ROUTER_SNAP_COUNTERS, &s, err,
                                 sizeof err),
                 CN_ENOTFOUND);
    cr_assert(strstr(err, "controller generation 39 is not applied here"), "%s", err);

    /* a replica that is gone fails apply and read, named */
    replica_stop(&reps[1]);
    cn_generation_dispose(&g);
    generation(&g, 41, 2500);
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "1 of 2 replicas did not confirm generation 41"), "%s", err);
    cr_assert(strstr(err, reps[1].url), "%s", err);
    cr_assert_null(strchr(err, '\n'));
    win.generation = 41;
    cr_assert_eq(e->metrics.read(&e->metrics, &win, CN_ROUTER_SNAP_COUNTERS, &s, err,
                                 sizeof err),
                 CN_EIO);
    cr_assert(strstr(err, reps[1].url), "%s", err);
    /* a rollback is asked again until the retry runs out, then fails */
    cn_generation_dispose(&g);
    generation(&g, 42, 0);
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "rollback: 1 of 2 replicas"), "%s", err);
    cr_assert_eq(local_number(&reps[0], &w), l0 + 2);
    cr_assert_eq(w, 0, "the replica that answered rolled back");
    cn_generation_dispose(&g);
    cn_remote_free(e);
}

Test(remote_live, a_second_controller_is_refused_while_the_lease_holds,
     .init = live_setup, .fini = live_teardown)
{
    cn_remote_t *e = engine(0);
    cn_generation_t g;
    generation(&g, 3, 100);
    cn_traffic_applied_t applied;
    char err[512];
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cn_remote_config_t c;
    char text[512];
    snprintf(text, sizeof text, "replicas:\n  - url: %s\ncontroller: other\n",
             reps[0].url);
    cr_assert_eq(parse(text, &c, err, sizeof err), 0, "%s", err);
    cn_remote_t *o;
    cr_assert_eq(cn_remote_new(&c, &o, err, sizeof err), 0, "%s", err);
    cn_remote_config_dispose(&c);
    g.number = 1;
    g.traffic.canary_weight_bp = 200;
    cr_assert_eq(o->traffic.apply(&o->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "HTTP 409: this replica is managed by controller test-ctl"),
              "%s", err);
    /* an older generation of the same controller is refused too */
    g.number = 2;
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "generation 2 is older than generation 3"), "%s", err);
    cn_remote_free(o);
    cn_remote_free(e);
    cn_generation_dispose(&g);
}
