/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The control loop against a real router (not started) and a real SQLite
 * state file: every change is validated against the running config as a
 * whole generation, published (the router's traffic word and step move),
 * stored with its history and logged; refusals and no-ops change nothing;
 * changes from many submissions are applied one at a time, in order.
 */
#include "controller/controller.h"
#include "plane.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ validate */

static cn_generation_t gen;
static cn_controller_limits_t limits;
static char err[512];

static void gen_setup(void)
{
    cn_generation_init(&gen);
    cn_version_set_dispose(&gen.sets[0]);
    cn_version_set_dispose(&gen.sets[1]);
    cn_version_set_init(&gen.sets[0], "v1");
    cn_version_set_add(&gen.sets[0], "127.0.0.1:9001");
    cn_version_set_init(&gen.sets[1], "v2");
    cn_version_set_add(&gen.sets[1], "127.0.0.1:9002");
    gen.traffic.canary_weight_bp = 500;
    limits.sticky_key = false;
    err[0] = '\0';
}

static void gen_teardown(void)
{
    cn_generation_dispose(&gen);
}

static void assert_refused(const char *field)
{
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), CN_EINVAL,
                 "expected a refusal naming %s", field);
    cr_assert_eq(strncmp(err, field, strlen(field)), 0, "'%s' does not start with %s",
                 err, field);
}

Test(controller_validate, accepts_a_sound_generation, .init = gen_setup,
     .fini = gen_teardown)
{
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), 0, "%s", err);
    gen.traffic.mode = CN_TRAFFIC_MODE_SHADOW;
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), 0, "%s", err);
}

Test(controller_validate, refuses_a_weight_with_no_canary_address, .init = gen_setup,
     .fini = gen_teardown)
{
    cn_version_set_dispose(&gen.sets[1]);
    cn_version_set_init(&gen.sets[1], "v2");
    assert_refused("canary_weight");
    cr_assert(strstr(err, "no canary addresses"), "%s", err);
    gen.traffic.canary_weight_bp = 0;
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), 0, "%s", err);
}

/* The live bug of issue 13: shadow mode with no canary was stored, and the
 * next start refused the state file. */
Test(controller_validate, refuses_shadow_mode_with_no_canary_address, .init = gen_setup,
     .fini = gen_teardown)
{
    cn_version_set_dispose(&gen.sets[1]);
    cn_version_set_init(&gen.sets[1], "v2");
    gen.traffic.canary_weight_bp = 0;
    gen.traffic.mode = CN_TRAFFIC_MODE_SHADOW;
    assert_refused("mode");
    cr_assert(strstr(err, "shadow"), "%s", err);
}

Test(controller_validate, refuses_sticky_mode_without_a_sticky_key, .init = gen_setup,
     .fini = gen_teardown)
{
    gen.traffic.mode = CN_TRAFFIC_MODE_STICKY;
    assert_refused("mode");
    cr_assert(strstr(err, "sticky"), "%s", err);
    limits.sticky_key = true;
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), 0, "%s", err);
}

Test(controller_validate, refuses_bad_and_duplicate_addresses_naming_the_index,
     .init = gen_setup, .fini = gen_teardown)
{
    static const char *const bad[] = {
        "127.0.0.1",    "127.0.0.1:0",     "127.0.0.1:65536", "127.0.0.1:http",
        "300.1.1.1:80", "[::1:80",         "[nothost]:80",    "host name:80",
        ":80",          "127.0.0.1:80:80", "127.0.0.1:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_version_set_dispose(&gen.sets[1]);
        cn_version_set_init(&gen.sets[1], "v2");
        cn_version_set_add(&gen.sets[1], "127.0.0.1:9003");
        cn_version_set_add(&gen.sets[1], bad[i]);
        assert_refused("canary.addresses[1]");
        cr_assert(strstr(err, "port"), "%s: %s", bad[i], err);
    }
    cn_version_set_dispose(&gen.sets[0]);
    cn_version_set_init(&gen.sets[0], "v1");
    cn_version_set_add(&gen.sets[0], "[::1]:9001");
    cn_version_set_add(&gen.sets[0], "model-a.internal:80");
    cn_version_set_add(&gen.sets[0], "[::1]:9001");
    assert_refused("stable.addresses[2]");
    cr_assert(strstr(err, "duplicate address '[::1]:9001'"), "%s", err);

    /* one server in both sets: refused here as the router refuses it */
    cn_version_set_dispose(&gen.sets[0]);
    cn_version_set_init(&gen.sets[0], "v1");
    cn_version_set_add(&gen.sets[0], "127.0.0.1:9001");
    cn_version_set_dispose(&gen.sets[1]);
    cn_version_set_init(&gen.sets[1], "v2");
    cn_version_set_add(&gen.sets[1], "127.0.0.1:9003");
    cn_version_set_add(&gen.sets[1], "127.0.0.1:9001");
    assert_refused("canary.addresses[1]");
    cr_assert(strstr(err, "duplicate of stable.addresses[0] '127.0.0.1:9001'"), "%s",
              err);
}

/* A parity check's arm is stable's own servers under the parity label:
 * the one case of an address in both sets. Any other label still may not
 * share one, and a duplicate within the arm is still refused. */
Test(controller_validate, lets_only_a_parity_arm_share_stable_addresses,
     .init = gen_setup, .fini = gen_teardown)
{
    cn_version_set_dispose(&gen.sets[1]);
    cn_version_set_init(&gen.sets[1], "v1+parity");
    cn_version_set_add(&gen.sets[1], "127.0.0.1:9001");
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), 0, "%s", err);
    cn_version_set_add(&gen.sets[1], "127.0.0.1:9001");
    assert_refused("canary.addresses[1]");
    cn_version_set_dispose(&gen.sets[1]);
    cn_version_set_init(&gen.sets[1], "v0+parity");
    cn_version_set_add(&gen.sets[1], "127.0.0.1:9001");
    assert_refused("canary.addresses[0]");
    cr_assert(strstr(err, "duplicate of stable.addresses[0]"), "%s", err);
}

Test(controller_validate, refuses_a_label_clash_an_empty_stable_set_and_bad_labels,
     .init = gen_setup, .fini = gen_teardown)
{
    free(gen.sets[1].version);
    gen.sets[1].version = strdup("v1");
    assert_refused("canary.version");
    cr_assert(strstr(err, "'v1'"), "%s", err);

    free(gen.sets[1].version);
    gen.sets[1].version = strdup("has space");
    assert_refused("canary.version");
    free(gen.sets[1].version);
    gen.sets[1].version = strdup("");
    assert_refused("canary.version");
    free(gen.sets[1].version);
    gen.sets[1].version = strdup("v2+gpu.1");
    cr_assert_eq(cn_controller_validate(&gen, &limits, err, sizeof err), 0, "%s", err);

    cn_version_set_dispose(&gen.sets[0]);
    cn_version_set_init(&gen.sets[0], "v1");
    assert_refused("stable.addresses");
}

/* ------------------------------------------------------------ the loop */

static test_plane_t plane;

static void plane_setup(void)
{
    test_plane_start(&plane, NULL, true);
}

static void plane_teardown(void)
{
    test_plane_stop(&plane);
}

static size_t history_count(void)
{
    static cn_store_change_t rows[64];
    size_t n = 0;
    char e[256];
    cr_assert_eq(cn_store_history(plane.store, rows, 64, &n, e, sizeof e), 0, "%s", e);
    return n;
}

Test(controller, publishes_stores_and_logs_a_partial_traffic_change,
     .init = plane_setup, .fini = plane_teardown)
{
    uint64_t step0 = cn_router_step(plane.router);
    size_t rows0 = history_count();
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "admin 10.0.0.7");
    ch.has_canary_weight = true;
    ch.traffic.canary_weight_bp = 1000;
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cn_controller_change_dispose(&ch);

    cr_assert_eq(r.rc, 0, "%s", r.error);
    cr_assert(r.changed);
    cr_assert_eq(r.generation.traffic.canary_weight_bp, 1000);
    cr_assert_eq(r.generation.traffic.shadow_bp, 10000, "the other keys are kept");
    cr_assert_eq(r.generation.number, 2);
    cr_assert_eq(r.step.number, step0 + 1, "a new measurement step");
    cr_assert_eq(r.step.generation, 2);

    cn_traffic_t live;
    cn_router_get_traffic(plane.router, &live);
    cr_assert_eq(live.canary_weight_bp, 1000, "the router runs the new split");
    cr_assert_eq(cn_router_step(plane.router), step0 + 1);

    cn_traffic_t stored;
    bool found = false;
    char e[256];
    cr_assert_eq(cn_store_load_traffic(plane.store, &stored, &found, e, sizeof e), 0);
    cr_assert(found);
    cr_assert_eq(stored.canary_weight_bp, 1000, "the new split is stored");
    cr_assert_eq(history_count(), rows0 + 1, "with one history row");

    const char *log = test_plane_log(&plane);
    cr_assert(strstr(log, "change by admin 10.0.0.7"), "%s", log);
    cr_assert(strstr(log, "canary 10.00%"), "%s", log);
    cr_assert_eq(strchr(log, '\n'), log + strlen(log) - 1, "one line: %s", log);

    cn_generation_t cur;
    cn_step_t step;
    cn_generation_init(&cur);
    cn_controller_current(plane.controller, &cur, &step);
    cr_assert_eq(cur.traffic.canary_weight_bp, 1000);
    cr_assert_eq(step.number, step0 + 1);
    cn_generation_dispose(&cur);
    cn_generation_dispose(&r.generation);
}

Test(controller, a_change_that_changes_nothing_publishes_nothing, .init = plane_setup,
     .fini = plane_teardown)
{
    uint64_t step0 = cn_router_step(plane.router);
    size_t rows0 = history_count();
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "t");
    ch.has_canary_weight = ch.has_mode = true;
    ch.traffic.canary_weight_bp = 250;
    ch.traffic.mode = CN_TRAFFIC_MODE_RANDOM;
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cn_controller_change_dispose(&ch);
    cr_assert_eq(r.rc, 0, "%s", r.error);
    cr_assert_not(r.changed);
    cr_assert_eq(r.generation.number, 1);
    cr_assert_eq(cn_router_step(plane.router), step0, "no new step");
    cr_assert_eq(history_count(), rows0, "nothing stored");
    cr_assert_str_empty(test_plane_log(&plane));
    cn_generation_dispose(&r.generation);
}

Test(controller, a_refused_change_changes_nothing, .init = plane_setup,
     .fini = plane_teardown)
{
    uint64_t step0 = cn_router_step(plane.router);
    size_t rows0 = history_count();
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "t");
    ch.has_mode = ch.has_canary_weight = true;
    ch.traffic.mode = CN_TRAFFIC_MODE_STICKY; /* no sticky key configured */
    ch.traffic.canary_weight_bp = 5000;
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cn_controller_change_dispose(&ch);
    cr_assert_eq(r.rc, CN_EINVAL);
    cr_assert(strstr(r.error, "sticky"), "%s", r.error);
    cr_assert_not(r.changed);
    cn_traffic_t live;
    cn_router_get_traffic(plane.router, &live);
    cr_assert_eq(live.canary_weight_bp, 250);
    cr_assert_eq(live.mode, CN_TRAFFIC_MODE_RANDOM);
    cr_assert_eq(cn_router_step(plane.router), step0);
    cr_assert_eq(history_count(), rows0);
    cn_generation_dispose(&r.generation);
}

/* The regression test of the shadow bug, end to end: with no canary, shadow
 * mode is refused, so the state file keeps a split the next start takes. */
Test(controller, refuses_shadow_without_a_canary_so_the_state_stays_startable)
{
    static const char *const flags[] = {"canary", "", "canary-weight", "0", NULL};
    test_plane_start(&plane, flags, true);
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "t");
    ch.has_mode = true;
    ch.traffic.mode = CN_TRAFFIC_MODE_SHADOW;
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cn_controller_change_dispose(&ch);
    cr_assert_eq(r.rc, CN_EINVAL);
    cr_assert(strstr(r.error, "no canary addresses"), "%s", r.error);
    cn_generation_dispose(&r.generation);

    /* What a restart would read back fits the config. */
    cn_traffic_t stored;
    bool found = false;
    char e[256];
    cr_assert_eq(cn_store_load_traffic(plane.store, &stored, &found, e, sizeof e), 0);
    if (found) {
        plane.cfg.traffic = stored;
        cr_assert_eq(cn_router_config_validate(&plane.cfg, e, sizeof e), 0, "%s", e);
    }
    test_plane_stop(&plane);
}

/* Promotion is one publication: one generation, one step, one row in each
 * history, and the router runs the new stable set with weight 0 at once. */
Test(controller, promotes_in_one_publication_and_refuses_with_no_canary)
{
    static const char *const flags[] = {"mode", "shadow", NULL};
    test_plane_start(&plane, flags, true);
    uint64_t step0 = cn_router_step(plane.router);
    size_t rows0 = history_count();
    static cn_store_versions_change_t vrows[64];
    size_t vn0 = 0, vn = 0;
    char e[256];
    cr_assert_eq(cn_store_versions_history(plane.store, vrows, 64, &vn0, e, sizeof e),
                 0);
    for (size_t i = 0; i < vn0; i++)
        cn_store_versions_change_dispose(&vrows[i]);

    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "admin 10.0.0.9");
    ch.promote = true;
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cr_assert_eq(r.rc, 0, "%s", r.error);
    cr_assert(r.changed);
    cr_assert_eq(r.generation.number, 2, "one generation, not two");
    cr_assert_eq(r.step.number, step0 + 1, "one new step");
    cn_generation_dispose(&r.generation);

    cn_generation_t live;
    cn_step_t step;
    cn_generation_init(&live);
    cn_router_current(plane.router, &live, &step);
    cr_assert_eq(live.number, 2);
    cr_assert_str_eq(live.sets[CN_ROLE_STABLE].version, "v2");
    cr_assert_eq(live.sets[CN_ROLE_STABLE].count, 1);
    cr_assert_str_eq(live.sets[CN_ROLE_STABLE].addresses[0], "127.0.0.1:2");
    cr_assert_eq(live.sets[CN_ROLE_CANARY].count, 0, "the canary set is emptied");
    cr_assert_str_neq(live.sets[CN_ROLE_CANARY].version, "v2");
    cr_assert_eq(live.traffic.canary_weight_bp, 0);
    cr_assert_eq(live.traffic.mode, CN_TRAFFIC_MODE_RANDOM, "shadow needs a canary");
    cn_generation_dispose(&live);

    cr_assert_eq(history_count(), rows0 + 1, "one traffic history row");
    cr_assert_eq(cn_store_versions_history(plane.store, vrows, 64, &vn, e, sizeof e),
                 0);
    cr_assert_eq(vn, vn0 + 1, "one versions history row");
    cr_assert_eq(vrows[vn - 1].generation, 2);
    for (size_t i = 0; i < vn; i++)
        cn_store_versions_change_dispose(&vrows[i]);
    const char *log = test_plane_log(&plane);
    cr_assert(strstr(log, "promotion by admin 10.0.0.9: generation 2"), "%s", log);

    /* Again: there is no canary left, so nothing to promote. */
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cn_controller_change_dispose(&ch);
    cr_assert_eq(r.rc, CN_EINVAL);
    cr_assert(strstr(r.error, "nothing to promote"), "%s", r.error);
    cr_assert_eq(r.generation.number, 2);
    cr_assert_eq(cn_router_step(plane.router), step0 + 1);
    cn_generation_dispose(&r.generation);
    test_plane_stop(&plane);
}

typedef struct order_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned seen;
    uint16_t weights[200];
    uint64_t steps[200];
} order_t;

static void on_order(const cn_controller_result_t *r, void *arg)
{
    order_t *o = arg;
    pthread_mutex_lock(&o->mu);
    o->weights[o->seen] = r->generation.traffic.canary_weight_bp;
    o->steps[o->seen] = r->step.number;
    o->seen++;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

Test(controller, applies_changes_one_at_a_time_in_submission_order, .init = plane_setup,
     .fini = plane_teardown)
{
    static order_t o = {
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}};
    uint64_t step0 = cn_router_step(plane.router);
    for (unsigned i = 0; i < 200; i++) {
        cn_controller_change_t ch;
        cn_controller_change_init(&ch, "burst");
        ch.has_canary_weight = true;
        ch.traffic.canary_weight_bp = (uint16_t)(i + 1);
        cr_assert_eq(cn_controller_submit(plane.controller, &ch, on_order, &o), 0);
        cn_controller_change_dispose(&ch);
    }
    pthread_mutex_lock(&o.mu);
    while (o.seen < 200)
        pthread_cond_wait(&o.cv, &o.mu);
    pthread_mutex_unlock(&o.mu);
    for (unsigned i = 0; i < 200; i++) {
        cr_assert_eq(o.weights[i], i + 1, "result %u is change %u's", i, i + 1);
        cr_assert_eq(o.steps[i], step0 + i + 1, "one step per change, in order");
    }
    cn_traffic_t live;
    cn_router_get_traffic(plane.router, &live);
    cr_assert_eq(live.canary_weight_bp, 200, "the last change wins");
}

static void count_done(const cn_controller_result_t *r, void *arg)
{
    (void)r;
    (*(unsigned *)arg)++; /* on the control loop only */
}

Test(controller, stop_finishes_what_was_submitted_and_refuses_more, .init = plane_setup,
     .fini = plane_teardown)
{
    static unsigned done;
    for (unsigned i = 0; i < 20; i++) {
        cn_controller_change_t ch;
        cn_controller_change_init(&ch, "t");
        ch.has_canary_weight = true;
        ch.traffic.canary_weight_bp = (uint16_t)(100 + i);
        cr_assert_eq(cn_controller_submit(plane.controller, &ch, count_done, &done), 0);
        cn_controller_change_dispose(&ch);
    }
    cn_controller_stop(plane.controller);
    cr_assert_eq(done, 20, "every callback ran before stop returned");
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "t");
    cr_assert_eq(cn_controller_submit(plane.controller, &ch, count_done, &done),
                 CN_EINVAL);
    cn_controller_change_dispose(&ch);
    cn_controller_stop(plane.controller); /* twice is harmless */
}

Test(controller, refuses_to_start_from_a_generation_that_does_not_validate)
{
    test_plane_start(&plane, NULL, false);
    cn_generation_t g;
    cn_generation_init(&g);
    g.traffic.mode = CN_TRAFFIC_MODE_SHADOW;
    cn_controller_config_t cc = {.router = plane.router, .initial = &g};
    cn_controller_t *c = (cn_controller_t *)&g;
    char e[256];
    cr_assert_eq(cn_controller_new(&cc, &c, e, sizeof e), CN_EINVAL);
    cr_assert_null(c);
    cr_assert(strstr(e, "stable.addresses"), "%s", e);
    cn_generation_dispose(&g);
    test_plane_stop(&plane);
}

/* ------------------------------------------------------------ engines */

/* A traffic engine like HAProxy's: weights in 0..256, so the weight it
 * applies is the desired one rounded to 1/256; refuses what `refuse`
 * names; remembers what it was given. */
typedef struct quantising_engine_s {
    cn_traffic_engine_t super;
    unsigned applies;
    uint64_t last_generation;
    bool refuse;
} quantising_engine_t;

static int quantising_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                            cn_traffic_applied_t *out, char *e, size_t elen)
{
    quantising_engine_t *q = (quantising_engine_t *)self;
    if (q->refuse)
        return cn_fail(e, elen, CN_EINVAL, "engine: no such backend");
    q->applies++;
    q->last_generation = desired->number;
    unsigned w256 = (desired->traffic.canary_weight_bp * 256u + 5000u) / 10000u;
    out->generation = desired->number;
    out->effective_weight_bp = (uint16_t)((w256 * 10000u + 128u) / 256u);
    out->step = (cn_step_t){.number = 100 + q->applies, .generation = desired->number};
    return 0;
}

Test(controller_engine, answers_what_the_engine_applies_and_stores_the_generation)
{
    quantising_engine_t q = {.super = {"quantising", quantising_apply, NULL}};
    test_plane_start_engine(&plane, NULL, true, &q.super);
    size_t rows0 = history_count();
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "t");
    ch.has_canary_weight = true;
    ch.traffic.canary_weight_bp = 100; /* 1% is 2.56/256: 3/256 = 1.17% */
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cr_assert_eq(r.rc, 0, "%s", r.error);
    cr_assert_eq(q.applies, 1);
    cr_assert_eq(q.last_generation, 2);
    cr_assert_eq(r.effective_weight_bp, 117);
    cr_assert_eq(r.generation.traffic.canary_weight_bp, 100, "the desired weight");
    cr_assert_eq(r.step.number, 101, "the engine's step");
    cn_generation_dispose(&r.generation);
    cr_assert_eq(history_count(), rows0 + 1, "the change is stored");

    q.refuse = true;
    ch.traffic.canary_weight_bp = 200;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cr_assert_eq(r.rc, CN_EINVAL);
    cr_assert_str_eq(r.error, "engine: no such backend");
    cr_assert_not(r.changed);
    cr_assert_eq(r.generation.traffic.canary_weight_bp, 100, "nothing changed");
    cr_assert_eq(history_count(), rows0 + 1, "nothing more stored");
    cn_generation_dispose(&r.generation);
    cn_controller_change_dispose(&ch);
    test_plane_stop(&plane);
}

Test(controller_engine, the_router_reads_only_its_current_generation)
{
    test_plane_start(&plane, NULL, false);
    cn_engine_router_t e;
    cn_engine_router_init(&e, plane.router);
    cn_router_snapshot_t *s = NULL;
    char e_text[256];
    cn_metrics_window_t now = {.kind = CN_WINDOW_GENERATION, .generation = 1};
    cr_assert_eq(e.metrics.read(&e.metrics, &now, CN_ROUTER_SNAP_COUNTERS, &s, e_text,
                                sizeof e_text),
                 0, "%s", e_text);
    cr_assert_eq(s->generation, 1);
    e.metrics.release(&e.metrics, s);

    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "t");
    ch.has_canary_weight = true;
    ch.traffic.canary_weight_bp = 700;
    cn_controller_result_t r;
    cr_assert_eq(test_plane_apply(&plane, &ch, &r), 0);
    cr_assert_eq(r.rc, 0, "%s", r.error);
    cr_assert_eq(r.effective_weight_bp, 700, "the router applies the weight as is");
    cn_generation_dispose(&r.generation);
    cn_controller_change_dispose(&ch);

    cr_assert_eq(e.metrics.read(&e.metrics, &now, CN_ROUTER_SNAP_COUNTERS, &s, e_text,
                                sizeof e_text),
                 CN_ENOTFOUND);
    cr_assert_null(s);
    cr_assert(strstr(e_text, "generation 1 is no longer measured"), "%s", e_text);
    cn_metrics_window_t range = {
        .kind = CN_WINDOW_TIME, .from_unix_ms = 0, .to_unix_ms = 1};
    cr_assert_eq(e.metrics.read(&e.metrics, &range, 0, &s, e_text, sizeof e_text),
                 CN_EINVAL);

    /* apply is idempotent: the running generation again publishes nothing */
    cn_generation_t cur;
    cn_step_t step;
    cn_generation_init(&cur);
    cn_router_current(plane.router, &cur, &step);
    cn_traffic_applied_t applied;
    cr_assert_eq(e.traffic.apply(&e.traffic, &cur, &applied, e_text, sizeof e_text), 0);
    cr_assert_eq(applied.generation, cur.number);
    cr_assert_eq(applied.step.number, step.number, "no new step");
    cn_generation_dispose(&cur);
    test_plane_stop(&plane);
}
