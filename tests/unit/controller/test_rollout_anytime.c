/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout state machine's anytime analyses (controller/rollout.h,
 * strategy `analysis: {mode: anytime}`): a pass during the pause before
 * one ends the bake at once and skips the analysis step; a fail rolls
 * back, weight first, from any running state; with neither, an analysis
 * before the last advances when the bake ends and the last one holds at
 * max_bake until a pass; stale and ill-timed passes change nothing; an
 * anytime step never starts a planned analysis; the levels take the
 * step's whole shares; a restart keeps the step. The contract over every
 * state and event (the new one included) is test_rollout.c's
 * rollout_every.
 */
#include "controller/rollout.h"
#include "controller/strategy.h"
#include "judge/judge.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_MS 1000
#define MIN_MS (60 * S_MS)

/* Two anytime analyses after 10-minute and 30-minute pauses. */
static const char anytime[] = "steps:\n"
                              "  - set_weight: 5\n"
                              "  - pause: {duration: 10m}\n"
                              "  - analysis: {mode: anytime}\n"
                              "  - set_weight: 50\n"
                              "  - pause: {duration: 30m}\n"
                              "  - analysis: {mode: anytime}\n"
                              "warmup: 30s\n"
                              "max_bake: 1h\n"
                              "retries: 2\n";

typedef struct rig_s {
    cn_strategy_t strategy;
    cn_rollout_config_t cfg;
    cn_rollout_t r;
    cn_rollout_output_t out;
    int64_t now;
} rig_t;

static void rig_init(rig_t *g, const char *yaml)
{
    memset(g, 0, sizeof *g);
    char err[512];
    cr_assert_eq(
        cn_strategy_parse(yaml, strlen(yaml), "r.yaml", &g->strategy, err, sizeof err),
        0, "%s", err);
    g->cfg = (cn_rollout_config_t){&g->strategy, 0.05};
    cn_rollout_init(&g->r);
    g->now = 1700000000000;
}

static cn_rollout_output_t *send_ev(rig_t *g, const cn_rollout_event_t *ev)
{
    int rc = cn_rollout_step(&g->cfg, &g->r, ev, &g->out);
    cr_assert_eq(rc, 0, "%s refused in %s: %s", cn_rollout_event_name(ev->kind),
                 cn_rollout_state_name(g->r.state), g->out.error);
    return &g->out;
}

static cn_rollout_output_t *send_kind(rig_t *g, cn_rollout_event_kind_t kind)
{
    cn_rollout_event_t ev = {.kind = kind, .now_ms = g->now};
    snprintf(ev.actor, sizeof ev.actor, "admin alice");
    return send_ev(g, &ev);
}

static int find(const cn_rollout_output_t *o, cn_rollout_action_kind_t kind)
{
    for (size_t i = 0; i < o->n_actions; i++)
        if (o->actions[i].kind == kind)
            return (int)i;
    return -1;
}

/* Tick for ms; no tick may start a planned analysis. */
static void tick_for(rig_t *g, int64_t ms)
{
    int64_t end = g->now + ms;
    while (g->now < end) {
        g->now += S_MS;
        cn_rollout_output_t *o = send_kind(g, CN_ROLLOUT_EV_TICK);
        cr_assert_eq(find(o, CN_ROLLOUT_START_ANALYSIS), -1,
                     "an anytime step started a planned analysis");
    }
}

static cn_rollout_output_t *anytime_ev(rig_t *g, uint32_t step, cn_rollout_verdict_t v,
                                       const char *reason)
{
    cn_rollout_event_t ev = {.kind = CN_ROLLOUT_EV_ANYTIME, .now_ms = g->now};
    snprintf(ev.actor, sizeof ev.actor, "analysis");
    ev.step = step;
    ev.verdict = v;
    snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    return send_ev(g, &ev);
}

/* Start, healthy, first request, warmup: progressing at 5%, step 1. */
static void start_and_warm(rig_t *g)
{
    if (g->r.state == CN_ROLLOUT_PENDING)
        send_kind(g, CN_ROLLOUT_EV_START);
    send_kind(g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(g, CN_ROLLOUT_EV_FIRST_REQUEST);
    tick_for(g, 30 * S_MS);
    cr_assert_eq(g->r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g->r.step, 1);
    cr_assert_eq(g->r.weight_bp, 500);
}

static bool recorded(const cn_rollout_output_t *o, const char *text)
{
    for (size_t i = 0; i < o->n_actions; i++)
        if (o->actions[i].kind == CN_ROLLOUT_RECORD && strstr(o->actions[i].text, text))
            return true;
    return false;
}

Test(rollout_anytime, a_pass_ends_each_bake_early_and_the_last_promotes)
{
    rig_t g;
    rig_init(&g, anytime);
    start_and_warm(&g);
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), 2, "the pause before step 2");
    tick_for(&g, 90 * S_MS);
    cn_rollout_output_t *o =
        anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "non-inferiority shown: error");
    cr_assert(recorded(o, "step 2: analysis 1 of 2 (anytime) passed: non-inferiority "
                          "shown: error"));
    cr_assert_eq(g.r.weight_bp, 5000, "on to 50%% after 2 minutes, not 10");
    cr_assert_eq(g.r.step, 4);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g.r.window_started_ms, g.now, "a new window at the new weight");
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), 5);
    /* a pass of the first analysis again is stale now */
    o = anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "late");
    cr_assert_eq(o->n_actions, 0);
    cr_assert_eq(g.r.step, 4);
    tick_for(&g, 5 * MIN_MS);
    o = anytime_ev(&g, 5, CN_ROLLOUT_VERDICT_PASS, "shown");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    cr_assert_geq(find(o, CN_ROLLOUT_PROMOTE), 0);
    send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTED);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_anytime, without_a_verdict_an_early_step_advances_and_the_last_holds)
{
    rig_t g;
    rig_init(&g, anytime);
    start_and_warm(&g);
    tick_for(&g, 10 * MIN_MS - S_MS);
    cr_assert_eq(g.r.step, 1, "still baking");
    g.now += S_MS;
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_TICK);
    cr_assert(recorded(o, "step 2: anytime analysis: no harm shown by the end of the "
                          "bake"));
    cr_assert_eq(g.r.weight_bp, 5000);
    cr_assert_eq(g.r.step, 4);
    /* the last: past its pause it keeps monitoring until max_bake */
    tick_for(&g, 30 * MIN_MS);
    cr_assert_eq(g.r.step, 5);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), 5);
    tick_for(&g, 30 * MIN_MS - S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING, "max_bake counts from the window");
    tick_for(&g, S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_ANYTIME);
    cr_assert(strstr(g.r.reason, "anytime analysis (step 5): non-inferiority not shown "
                                 "after max_bake 3600000 ms") == g.r.reason,
              "%s", g.r.reason);
    tick_for(&g, 3600 * S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING, "holds; no churn");
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), 5, "monitoring goes on");
    o = anytime_ev(&g, 5, CN_ROLLOUT_VERDICT_PASS, "shown at last");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING, "a later pass leaves the hold");
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_NONE);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_anytime, a_fail_rolls_back_weight_first_from_every_running_state)
{
    for (int where = 0; where < 4; where++) {
        rig_t g;
        rig_init(&g, anytime);
        if (where == 0) { /* warmup */
            send_kind(&g, CN_ROLLOUT_EV_START);
        } else {
            start_and_warm(&g);
            if (where == 2) /* paused by a person */
                send_kind(&g, CN_ROLLOUT_EV_PAUSE);
            if (where == 3) { /* holding at the last */
                tick_for(&g, 10 * MIN_MS + 90 * MIN_MS);
                cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
            }
        }
        cn_rollout_output_t *o = anytime_ev(
            &g, (uint32_t)(where == 3 ? 5 : 2), CN_ROLLOUT_VERDICT_FAIL,
            "error rate: canary worse than stable by more than the 0.5-point margin");
        cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK, "from %d", where);
        cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), 0, "weight 0 first");
        cr_assert_eq(o->actions[0].weight_bp, 0);
        char want[80];
        snprintf(want, sizeof want,
                 "analysis at step %d (anytime): error rate: ", where == 3 ? 5 : 2);
        cr_assert(strstr(g.r.reason, want) == g.r.reason, "%s", g.r.reason);
        send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
        cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLED_BACK);
        /* ended: later verdicts change nothing */
        o = anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "x");
        cr_assert_eq(o->n_actions, 0);
        cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLED_BACK);
        cn_strategy_dispose(&g.strategy);
    }
}

Test(rollout_anytime, ill_timed_passes_change_nothing)
{
    rig_t g;
    rig_init(&g, anytime);
    send_kind(&g, CN_ROLLOUT_EV_START);
    cn_rollout_t before = g.r;
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "during warmup");
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0, "warmup");
    start_and_warm(&g);
    before = g.r;
    anytime_ev(&g, 5, CN_ROLLOUT_VERDICT_PASS, "another step's");
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0, "another step");
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_MARGINAL, "not a verdict anytime gives");
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_NODATA, "nor this");
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0, "marginal, no data");
    send_kind(&g, CN_ROLLOUT_EV_PAUSE);
    before = g.r;
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "while a person paused");
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0, "paused by a person");
    send_kind(&g, CN_ROLLOUT_EV_RESUME);
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "again after the resume");
    cr_assert_eq(g.r.step, 4, "the driver sends it again; it applies now");
    cn_strategy_dispose(&g.strategy);
}

/* A planned analysis next to an anytime one: the step that is not
 * anytime is not named, and its pass is not taken from ANYTIME. */
Test(rollout_anytime, only_anytime_steps_are_named_and_planned_ones_still_start)
{
    rig_t g;
    rig_init(&g, "steps:\n"
                 "  - set_weight: 5\n"
                 "  - pause: {duration: 10m}\n"
                 "  - analysis: {}\n"
                 "  - set_weight: 50\n"
                 "  - analysis: {mode: anytime}\n"
                 "warmup: 30s\n");
    start_and_warm(&g);
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), -1);
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "not anytime");
    cr_assert_eq(g.r.step, 1);
    /* no pause before the anytime step: its window is judged at once */
    cn_rollout_event_t s = {.kind = CN_ROLLOUT_EV_SAMPLES, .now_ms = g.now};
    s.samples_have = 100000;
    s.samples_min_per_arm = 20;
    s.samples_floor_last = 5000;
    send_ev(&g, &s);
    g.now += 10 * MIN_MS;
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_TICK);
    cr_assert_geq(find(o, CN_ROLLOUT_START_ANALYSIS), 0, "the planned one starts");
    cn_rollout_event_t v = {.kind = CN_ROLLOUT_EV_ANALYSIS_RESULT, .now_ms = g.now};
    v.step = g.r.step;
    v.attempt = g.r.attempt;
    v.verdict = CN_ROLLOUT_VERDICT_NODATA;
    send_ev(&g, &v);
    cr_assert_eq(g.r.step, 4, "the anytime step, right after set_weight 50");
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), 4);
    anytime_ev(&g, 4, CN_ROLLOUT_VERDICT_PASS, "shown");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_anytime, the_levels_take_the_step_s_whole_shares)
{
    rig_t g;
    rig_init(&g, anytime);
    cn_rollout_analysis_t a, p;
    cr_assert_eq(cn_rollout_anytime_levels(&g.cfg, 2, &a), 0);
    cr_assert_eq(a.rank, 1);
    cr_assert_eq(a.of, 2);
    cr_assert_eq(a.attempt, 1);
    cr_assert_eq(a.attempts, 1);
    cr_assert_not(a.last);
    double inc = cn_judge_spend_pocock(0.05, 0, 0.5);
    cr_assert_float_eq(a.alpha_fail, inc, 1e-15);
    cr_assert_eq(a.alpha_pass, 0.05, "an early advance at the analysis alpha");
    /* the planned attempts' shares add up to the anytime one */
    cr_assert_eq(cn_rollout_analysis_levels(&g.cfg, 2, 1, &p), 0);
    cr_assert_float_eq(p.alpha_fail * p.attempts, a.alpha_fail, 1e-15);
    cr_assert_eq(cn_rollout_anytime_levels(&g.cfg, 5, &a), 0);
    cr_assert(a.last);
    cr_assert_float_eq(a.alpha_fail, cn_judge_spend_pocock(0.05, 0.5, 1), 1e-15);
    cr_assert_eq(a.alpha_pass, 0.05);
    cr_assert_eq(cn_rollout_anytime_levels(&g.cfg, 1, &a), CN_EINVAL, "a pause");
    cr_assert_eq(cn_rollout_anytime_levels(&g.cfg, 99, &a), CN_EINVAL);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_anytime, a_restart_during_the_bake_keeps_the_step)
{
    rig_t g;
    rig_init(&g, anytime);
    start_and_warm(&g);
    tick_for(&g, 5 * MIN_MS);
    cn_rollout_t saved = g.r; /* stored, then read back after a crash */
    g.r = saved;
    cn_rollout_event_t ev = {.kind = CN_ROLLOUT_EV_RESTART, .now_ms = g.now};
    ev.has_weight = true;
    ev.weight_bp = 500;
    send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(cn_rollout_anytime_step(&g.cfg, &g.r), 2, "the same analysis");
    anytime_ev(&g, 2, CN_ROLLOUT_VERDICT_PASS, "shown after the restart");
    cr_assert_eq(g.r.step, 4);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_anytime, names)
{
    cr_assert_str_eq(cn_rollout_event_name(CN_ROLLOUT_EV_ANYTIME), "anytime");
    cr_assert_str_eq(cn_rollout_hold_name(CN_ROLLOUT_HOLD_ANYTIME), "anytime");
    cr_assert_str_eq(cn_rollout_hold_name((cn_rollout_hold_t)6), "?");
    cr_assert_str_eq(cn_rollout_hold_name(CN_ROLLOUT_HOLD_GATE), "gate");
}
