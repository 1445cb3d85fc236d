/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout state machine (controller/rollout.h), driven event by event
 * the way the control loop will: the example strategy walked to
 * promotion (and the same in dry run), each way out (trigger, failed
 * analysis, marginal under each on_marginal, abort, weight 0, superseded,
 * progress deadline), the sample floors and max_bake, the error budget of
 * each analysis attempt against the spending function, every manual
 * control, the crash-restart of each state, and, over every state and
 * every event, the contract: a refused event changes nothing, an ended
 * rollout stays ended, a rollback's weight 0 comes before its record, and
 * a restored copy of the state continues exactly as the original.
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

/* The example strategy (see test_strategy.c for it verbatim). */
static const char example[] = "steps:\n"
                              "  - set_weight: 1\n"
                              "  - pause: {duration: 10m}\n"
                              "  - analysis: {}\n"
                              "  - set_weight: 5\n"
                              "  - pause: {duration: 15m}\n"
                              "  - analysis: {}\n"
                              "  - set_weight: 25\n"
                              "  - pause: {}\n"
                              "  - set_weight: 50\n"
                              "  - pause: {duration: 30m}\n"
                              "  - analysis: {}\n"
                              "  - set_weight: 100\n"
                              "  - pause: {duration: 10m}\n"
                              "warmup: 30s\n"
                              "progress_deadline: 5m\n"
                              "max_bake: 1h\n"
                              "on_marginal: hold\n"
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

static void rig_dispose(rig_t *g)
{
    cn_strategy_dispose(&g->strategy);
}

static cn_rollout_event_t event(rig_t *g, cn_rollout_event_kind_t kind)
{
    cn_rollout_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.now_ms = g->now;
    return ev;
}

/* Send an event that must be accepted; returns the output. */
static cn_rollout_output_t *send_ev(rig_t *g, const cn_rollout_event_t *ev)
{
    int rc = cn_rollout_step(&g->cfg, &g->r, ev, &g->out);
    cr_assert_eq(rc, 0, "%s refused in %s: %s", cn_rollout_event_name(ev->kind),
                 cn_rollout_state_name(g->r.state), g->out.error);
    return &g->out;
}

static cn_rollout_output_t *send_kind(rig_t *g, cn_rollout_event_kind_t kind)
{
    cn_rollout_event_t ev = event(g, kind);
    snprintf(ev.actor, sizeof ev.actor, "admin alice");
    return send_ev(g, &ev);
}

/* Send an event that must be refused: the state must not change. */
static void refused(rig_t *g, const cn_rollout_event_t *ev, const char *want)
{
    cn_rollout_t before = g->r;
    int rc = cn_rollout_step(&g->cfg, &g->r, ev, &g->out);
    cr_assert_eq(rc, CN_EINVAL, "%s accepted in %s", cn_rollout_event_name(ev->kind),
                 cn_rollout_state_name(g->r.state));
    cr_assert_eq(memcmp(&before, &g->r, sizeof before), 0, "a refusal changes nothing");
    cr_assert_eq(g->out.n_actions, 0);
    if (want)
        cr_assert_str_eq(g->out.error, want);
}

static void tick_for(rig_t *g, int64_t ms)
{
    int64_t end = g->now + ms;
    while (g->now < end) {
        g->now += S_MS;
        send_kind(g, CN_ROLLOUT_EV_TICK);
    }
}

static void samples(rig_t *g, uint64_t have, uint64_t min_per_arm, uint64_t floor_last)
{
    cn_rollout_event_t ev = event(g, CN_ROLLOUT_EV_SAMPLES);
    ev.samples_have = have;
    ev.samples_min_per_arm = min_per_arm;
    ev.samples_floor_last = floor_last;
    ev.samples_per_minute = 42.5;
    send_ev(g, &ev);
}

static void verdict(rig_t *g, cn_rollout_verdict_t v, const char *reason)
{
    cn_rollout_event_t ev = event(g, CN_ROLLOUT_EV_ANALYSIS_RESULT);
    ev.step = g->r.step;
    ev.attempt = g->r.attempt;
    ev.verdict = v;
    snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    send_ev(g, &ev);
}

/* The index of the first action of kind, or -1. */
static int find(const cn_rollout_output_t *o, cn_rollout_action_kind_t kind)
{
    for (size_t i = 0; i < o->n_actions; i++)
        if (o->actions[i].kind == kind)
            return (int)i;
    return -1;
}

/* The last SET_TRAFFIC weight in o, or -1. */
static int last_weight(const cn_rollout_output_t *o)
{
    int w = -1;
    for (size_t i = 0; i < o->n_actions; i++)
        if (o->actions[i].kind == CN_ROLLOUT_SET_TRAFFIC)
            w = o->actions[i].weight_bp;
    return w;
}

/* Start, first request, warmup: the rollout is progressing at 1%. */
static void start_and_warm(rig_t *g, bool dry_run)
{
    cn_rollout_event_t ev = event(g, CN_ROLLOUT_EV_START);
    ev.dry_run = dry_run;
    snprintf(ev.actor, sizeof ev.actor, "registry");
    cn_rollout_output_t *o = send_ev(g, &ev);
    cr_assert_eq(g->r.state, CN_ROLLOUT_WARMUP);
    cr_assert_eq(last_weight(o), 100);
    cr_assert_eq(o->actions[find(o, CN_ROLLOUT_SET_TRAFFIC)].dry_run, dry_run);
    g->now += 2 * S_MS;
    send_kind(g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(g, CN_ROLLOUT_EV_FIRST_REQUEST);
    cr_assert_eq(g->r.state, CN_ROLLOUT_WARMUP);
    tick_for(g, 29 * S_MS);
    cr_assert_eq(g->r.state, CN_ROLLOUT_WARMUP, "30 s of warmup");
    tick_for(g, S_MS);
    cr_assert_eq(g->r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g->r.step, 1, "at the pause after set_weight 1");
    cr_assert_eq(g->r.window_started_ms, g->now, "the window starts after warmup");
}

/* Bake the current pause, feed samples, pass the analysis. */
static void bake_and_pass(rig_t *g, int64_t pause_ms)
{
    samples(g, 100000, 20, 5000);
    tick_for(g, pause_ms - S_MS);
    cr_assert_eq(g->r.analysis_in_flight, false, "not before the pause is over");
    tick_for(g, S_MS);
    cr_assert(g->r.analysis_in_flight, "after %lld ms", (long long)pause_ms);
    verdict(g, CN_ROLLOUT_VERDICT_PASS, "all metrics pass");
}

/* ------------------------------------------------------ a whole walk */

static void walk(bool dry_run)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, dry_run);
    bake_and_pass(&g, 10 * MIN_MS);
    cr_assert_eq(g.r.weight_bp, 500, "on to 5%%");
    cr_assert_eq(g.r.step, 4);
    bake_and_pass(&g, 15 * MIN_MS);
    cr_assert_eq(g.r.weight_bp, 2500);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED, "pause: {} waits for a person");
    cr_assert(g.r.paused_by_step);
    tick_for(&g, 3 * 3600 * S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED, "for hours");
    cn_rollout_event_t resume = event(&g, CN_ROLLOUT_EV_RESUME);
    refused(&g, &resume,
            "step 7 is a pause: {} step, which ends on promote, not resume");
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_PROMOTE);
    cr_assert_eq(last_weight(o), 5000);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    bake_and_pass(&g, 30 * MIN_MS);
    cr_assert_eq(g.r.weight_bp, 10000);
    tick_for(&g, 10 * MIN_MS - S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    g.now += S_MS;
    o = send_kind(&g, CN_ROLLOUT_EV_TICK);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    int p = find(o, CN_ROLLOUT_PROMOTE);
    cr_assert_geq(p, 0);
    cr_assert_eq(o->actions[p].dry_run, dry_run);
    o = send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTED);
    cr_assert(cn_rollout_final(g.r.state));
    cr_assert_eq(g.r.dry_run, dry_run);
    cr_assert_eq(find(o, CN_ROLLOUT_TAG), -1, "promotion tags in its own transaction");
    rig_dispose(&g);
}

Test(rollout_walk, a_good_canary_walks_every_step_and_is_promoted)
{
    walk(false);
}

Test(rollout_walk, the_same_in_dry_run_flags_every_action)
{
    walk(true);
}

Test(rollout_walk, every_traffic_action_of_a_dry_run_is_flagged)
{
    rig_t g;
    rig_init(&g, "dry_run: true\nsteps: [{set_weight: 10}, {pause: {duration: 1s}}]\n");
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_START);
    cr_assert(g.r.dry_run, "the strategy's dry_run");
    for (size_t i = 0; i < o->n_actions; i++)
        cr_assert(o->actions[i].dry_run, "%zu", i);
    rig_dispose(&g);
}

Test(rollout_walk, a_strategy_may_end_below_100)
{
    rig_t g;
    rig_init(&g, "warmup: 0s\nsteps: [{set_weight: 50}, {pause: {duration: 1m}}]\n");
    send_kind(&g, CN_ROLLOUT_EV_START);
    send_kind(&g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(&g, CN_ROLLOUT_EV_FIRST_REQUEST);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING, "warmup 0 ends at once");
    tick_for(&g, MIN_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    cr_assert_eq(g.r.weight_bp, 5000, "promoted from 50%%");
    cr_assert(strstr(g.r.reason, "every step done at weight 50%"), "%s", g.r.reason);
    rig_dispose(&g);
}

Test(rollout_walk, a_shadow_step_copies_then_judges_paired)
{
    rig_t g;
    rig_init(&g, "warmup: 0s\nsteps:\n  - shadow: {percent: 50, duration: 2m}\n"
                 "  - analysis: {}\n  - set_weight: 10\n  - analysis: {}\n");
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_START);
    int t = find(o, CN_ROLLOUT_SET_TRAFFIC);
    cr_assert(o->actions[t].shadow);
    cr_assert_eq(o->actions[t].shadow_bp, 5000);
    cr_assert_eq(o->actions[t].weight_bp, 0);
    cr_assert_eq(g.r.state, CN_ROLLOUT_WARMUP);
    send_kind(&g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(&g, CN_ROLLOUT_EV_FIRST_REQUEST);
    samples(&g, 1000, 20, 500);
    tick_for(&g, 2 * MIN_MS);
    cr_assert(g.r.analysis_in_flight);
    o = &g.out;
    int a = find(o, CN_ROLLOUT_START_ANALYSIS);
    cr_assert_geq(a, 0);
    cr_assert(o->actions[a].analysis.paired, "the shadow window is paired");
    cr_assert_eq(o->actions[a].analysis.last, false);
    verdict(&g, CN_ROLLOUT_VERDICT_PASS, "ok");
    cr_assert_eq(g.r.shadow, false);
    cr_assert_eq(g.r.weight_bp, 1000);
    rig_dispose(&g);
}

/* ------------------------------------------------------------ budget */

Test(rollout_budget, each_attempt_spends_its_share_of_the_pocock_budget)
{
    rig_t g;
    rig_init(&g, example);
    double total_fail = 0, total_pass = 0;
    static const uint32_t steps[] = {2, 5, 10};
    for (unsigned j = 1; j <= 3; j++) {
        double share = cn_judge_spend_pocock(0.05, (j - 1) / 3.0, j / 3.0) / 3;
        for (uint32_t k = 1; k <= 3; k++) {
            cn_rollout_analysis_t a;
            cr_assert_eq(cn_rollout_analysis_levels(&g.cfg, steps[j - 1], k, &a), 0);
            cr_assert_eq(a.rank, j);
            cr_assert_eq(a.of, 3);
            cr_assert_eq(a.attempts, 3);
            cr_assert_eq(a.last, j == 3);
            cr_assert_eq(a.paired, false);
            cr_assert_float_eq(a.alpha_fail, share, 1e-15);
            cr_assert_float_eq(a.alpha_pass, j == 3 ? 0.05 / 3 : 0, 1e-15);
            total_fail += a.alpha_fail;
            total_pass += a.alpha_pass;
        }
    }
    /* alpha*(1) = alpha ln(e) = alpha: the whole budget, no more. */
    cr_assert_float_eq(total_fail, 0.05, 1e-12);
    cr_assert_float_eq(total_pass, 0.05, 1e-12);
    /* The first analysis gets the most: Pocock spends early. */
    cn_rollout_analysis_t a1, a3;
    cn_rollout_analysis_levels(&g.cfg, 2, 1, &a1);
    cn_rollout_analysis_levels(&g.cfg, 10, 1, &a3);
    cr_assert_gt(a1.alpha_fail, a3.alpha_fail);
    cr_assert_float_eq(a1.alpha_fail, 0.05 * log(1 + (M_E - 1) / 3) / 3, 1e-15);
    cn_rollout_analysis_t bad;
    cr_assert_eq(cn_rollout_analysis_levels(&g.cfg, 2, 4, &bad), CN_EINVAL, "beyond");
    cr_assert_eq(cn_rollout_analysis_levels(&g.cfg, 2, 0, &bad), CN_EINVAL);
    cr_assert_eq(cn_rollout_analysis_levels(&g.cfg, 1, 1, &bad), CN_EINVAL, "a pause");
    rig_dispose(&g);
}

Test(rollout_budget, the_start_analysis_action_carries_the_levels_and_window)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    int64_t window = g.r.window_started_ms;
    samples(&g, 100000, 20, 5000);
    tick_for(&g, 10 * MIN_MS);
    int a = find(&g.out, CN_ROLLOUT_START_ANALYSIS);
    cr_assert_geq(a, 0);
    const cn_rollout_analysis_t *an = &g.out.actions[a].analysis;
    cr_assert_eq(an->step, 2);
    cr_assert_eq(an->attempt, 1);
    cr_assert_eq(an->window_start_ms, window);
    cr_assert_eq(g.r.attempt, 1);
    rig_dispose(&g);
}

/* ---------------------------------------------------------- verdicts */

static void to_first_analysis(rig_t *g, const char *yaml)
{
    rig_init(g, yaml);
    start_and_warm(g, false);
    samples(g, 100000, 20, 5000);
    tick_for(g, 10 * MIN_MS);
    cr_assert(g->r.analysis_in_flight);
}

Test(rollout_verdicts, a_failed_analysis_rolls_back_weight_first)
{
    rig_t g;
    to_first_analysis(&g, example);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_ANALYSIS_RESULT);
    ev.step = 2;
    ev.attempt = 1;
    ev.verdict = CN_ROLLOUT_VERDICT_FAIL;
    snprintf(ev.reason, sizeof ev.reason, "latency_ms: canary 30%% slower");
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    int t = find(o, CN_ROLLOUT_SET_TRAFFIC), rec = find(o, CN_ROLLOUT_RECORD);
    cr_assert_eq(t, 0, "weight 0 first");
    cr_assert_eq(o->actions[t].weight_bp, 0);
    cr_assert_gt(rec, t, "then the decision");
    cr_assert_str_eq(
        o->actions[rec].text,
        "progressing -> rolling-back: analysis at step 2, attempt 1 failed: "
        "latency_ms: canary 30% slower");
    cr_assert_eq(find(o, CN_ROLLOUT_TAG), -1, "the tag after the publication");
    o = send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLED_BACK);
    int tag = find(o, CN_ROLLOUT_TAG);
    cr_assert_gt(tag, find(o, CN_ROLLOUT_RECORD), "record, then tag");
    cr_assert_str_eq(o->actions[tag].tag, "rolled-back");
    rig_dispose(&g);
}

Test(rollout_verdicts, harm_is_never_ignored_even_from_a_stale_attempt)
{
    rig_t g;
    to_first_analysis(&g, example);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_ANALYSIS_RESULT);
    ev.step = 2;
    ev.attempt = 7;
    ev.verdict = CN_ROLLOUT_VERDICT_PASS;
    send_ev(&g, &ev);
    cr_assert_eq(g.out.n_actions, 0, "a stale pass is ignored");
    cr_assert(g.r.analysis_in_flight);
    ev.verdict = CN_ROLLOUT_VERDICT_FAIL;
    send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    rig_dispose(&g);
}

Test(rollout_verdicts, an_early_analysis_advances_on_no_data)
{
    rig_t g;
    to_first_analysis(&g, example);
    verdict(&g, CN_ROLLOUT_VERDICT_NODATA, "error: 3 samples");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g.r.weight_bp, 500);
    rig_dispose(&g);
}

Test(rollout_verdicts, the_last_analysis_holds_on_no_data_and_never_fails)
{
    rig_t g;
    to_first_analysis(&g, "warmup: 30s\nsteps: [{set_weight: 1}, "
                          "{pause: {duration: 10m}}, {analysis: {}}]\n");
    verdict(&g, CN_ROLLOUT_VERDICT_NODATA, "latency_ms: 4 samples");
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_SAMPLES);
    samples(&g, 6000, 20, 5000);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING, "goes on once the floor is met");
    cr_assert(g.r.analysis_in_flight);
    cr_assert_eq(g.r.attempt, 2);
    rig_dispose(&g);
}

Test(rollout_verdicts, marginal_holds_by_default)
{
    rig_t g;
    to_first_analysis(&g, example);
    verdict(&g, CN_ROLLOUT_VERDICT_MARGINAL, "prediction: psi 0.15");
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_MARGINAL);
    cr_assert_str_eq(g.r.reason,
                     "analysis at step 2 marginal (on_marginal: hold): prediction: psi "
                     "0.15");
    tick_for(&g, 3600 * S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING, "a person decides");
    /* retry: a new attempt on a new window, at once */
    send_kind(&g, CN_ROLLOUT_EV_RETRY);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    samples(&g, 100000, 20, 5000);
    cr_assert(g.r.analysis_in_flight);
    cr_assert_eq(g.r.attempt, 2);
    rig_dispose(&g);
}

Test(rollout_verdicts, marginal_with_rollback_rolls_back)
{
    rig_t g;
    to_first_analysis(&g, "warmup: 30s\non_marginal: rollback\nsteps: [{set_weight: 1},"
                          " {pause: {duration: 10m}}, {analysis: {}}]\n");
    verdict(&g, CN_ROLLOUT_VERDICT_MARGINAL, "x");
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(g.r.end_state, CN_ROLLOUT_ROLLED_BACK);
    rig_dispose(&g);
}

Test(rollout_verdicts, marginal_with_retry_spends_attempts_then_holds)
{
    rig_t g;
    to_first_analysis(&g, "warmup: 30s\non_marginal: retry\nretries: 2\n"
                          "steps: [{set_weight: 1}, {pause: {duration: 10m}}, "
                          "{analysis: {}}, {set_weight: 2}, {analysis: {}}]\n");
    for (uint32_t k = 1; k <= 3; k++) {
        cr_assert_eq(g.r.attempt, k);
        verdict(&g, CN_ROLLOUT_VERDICT_MARGINAL, "m");
        if (k == 3)
            break;
        cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
        cr_assert(!g.r.analysis_in_flight, "a retry bakes a new window first");
        samples(&g, 100000, 20, 5000);
        tick_for(&g, 10 * MIN_MS - S_MS);
        cr_assert(!g.r.analysis_in_flight);
        tick_for(&g, S_MS);
        cr_assert(g.r.analysis_in_flight, "after the pause's 10m again");
    }
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_BUDGET);
    cn_rollout_event_t retry = event(&g, CN_ROLLOUT_EV_RETRY);
    refused(&g, &retry,
            "analysis budget spent (3 of 3 attempts at step 2): promote or abort");
    send_kind(&g, CN_ROLLOUT_EV_PROMOTE);
    cr_assert_eq(g.r.weight_bp, 200, "promote finishes the held step");
    rig_dispose(&g);
}

Test(rollout_verdicts, the_last_analysis_must_pass)
{
    rig_t g;
    to_first_analysis(&g, "warmup: 30s\nsteps: [{set_weight: 1}, "
                          "{pause: {duration: 10m}}, {analysis: {}}]\n");
    verdict(&g, CN_ROLLOUT_VERDICT_MARGINAL, "latency_ms: inconclusive");
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING, "not promoted");
    rig_dispose(&g);
}

/* ----------------------------------------------------------- samples */

Test(rollout_samples, no_floor_by_max_bake_holds_and_says_why)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    samples(&g, 12, 20, 5000);
    tick_for(&g, 10 * MIN_MS);
    cr_assert(!g.r.analysis_in_flight, "12 of min_per_arm 20");
    cr_assert_eq(g.r.samples_need, 20, "an early analysis needs min_per_arm");
    tick_for(&g, 50 * MIN_MS - S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    tick_for(&g, S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING, "max_bake 1h after the window began");
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_SAMPLES);
    cr_assert_str_eq(g.r.reason, "n=12 of 20 needed, at 42.5 per minute, after "
                                 "max_bake 3600000 ms (step 2); waiting for samples");
    tick_for(&g, 3 * 3600 * S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING, "never a failure");
    samples(&g, 20, 20, 5000);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert(g.r.analysis_in_flight);
    rig_dispose(&g);
}

Test(rollout_samples, only_the_last_analysis_waits_for_its_floor)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    bake_and_pass(&g, 10 * MIN_MS);
    bake_and_pass(&g, 15 * MIN_MS);
    send_kind(&g, CN_ROLLOUT_EV_PROMOTE);
    samples(&g, 4000, 20, 5000);
    cr_assert_eq(g.r.samples_need, 5000, "the last analysis's floor");
    tick_for(&g, 30 * MIN_MS);
    cr_assert(!g.r.analysis_in_flight);
    samples(&g, 5000, 20, 5000);
    cr_assert(g.r.analysis_in_flight);
    rig_dispose(&g);
}

Test(rollout_samples, a_step_min_samples_overrides_the_floor)
{
    rig_t g;
    rig_init(&g,
             "warmup: 0s\nsteps: [{set_weight: 1}, {analysis: {min_samples: 77}}]\n");
    send_kind(&g, CN_ROLLOUT_EV_START);
    send_kind(&g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(&g, CN_ROLLOUT_EV_FIRST_REQUEST);
    samples(&g, 76, 20, 5000);
    cr_assert_eq(g.r.samples_need, 77);
    cr_assert(!g.r.analysis_in_flight);
    samples(&g, 77, 20, 5000);
    cr_assert(g.r.analysis_in_flight);
    rig_dispose(&g);
}

/* ---------------------------------------------------------- triggers */

Test(rollout_triggers, a_trigger_rolls_back_from_any_running_state)
{
    cn_rollout_state_t seen[4] = {0};
    for (int which = 0; which < 4; which++) {
        rig_t g;
        rig_init(&g, example);
        send_kind(&g, CN_ROLLOUT_EV_START); /* warmup */
        if (which >= 1) {
            send_kind(&g, CN_ROLLOUT_EV_CANARY_HEALTHY);
            send_kind(&g, CN_ROLLOUT_EV_FIRST_REQUEST);
            tick_for(&g, 30 * S_MS); /* progressing */
        }
        if (which == 2)
            send_kind(&g, CN_ROLLOUT_EV_PAUSE);
        if (which == 3) {
            samples(&g, 1, 20, 5000);
            tick_for(&g, 3600 * S_MS); /* holding */
        }
        seen[which] = g.r.state;
        cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_TRIGGER);
        snprintf(ev.actor, sizeof ev.actor, "trigger");
        snprintf(ev.reason, sizeof ev.reason, "error_rate.max: 6 of 6, p = 1.56e-08");
        cn_rollout_output_t *o = send_ev(&g, &ev);
        cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
        cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), 0);
        cr_assert_eq(o->actions[0].weight_bp, 0);
        cr_assert(strstr(g.r.reason, "trigger fired: error_rate.max"));
        cr_assert_str_eq(o->actions[find(o, CN_ROLLOUT_RECORD)].actor, "trigger");
        rig_dispose(&g);
    }
    cr_assert_eq(seen[0], CN_ROLLOUT_WARMUP);
    cr_assert_eq(seen[1], CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(seen[2], CN_ROLLOUT_PAUSED);
    cr_assert_eq(seen[3], CN_ROLLOUT_HOLDING);
}

/* ----------------------------------------------------------- manual */

Test(rollout_manual, pause_and_resume_keep_the_step)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_PAUSE);
    snprintf(ev.actor, sizeof ev.actor, "admin bob");
    snprintf(ev.reason, sizeof ev.reason, "checking a dashboard");
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED);
    cr_assert_eq(g.r.resume_state, CN_ROLLOUT_PROGRESSING);
    int rec = find(o, CN_ROLLOUT_RECORD);
    cr_assert_str_eq(o->actions[rec].actor, "admin bob");
    cr_assert_str_eq(
        o->actions[rec].text,
        "progressing -> paused: paused by admin bob: checking a dashboard");
    refused(&g, &ev, "already paused");
    tick_for(&g, 20 * MIN_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED, "a paused bake does not advance");
    o = send_kind(&g, CN_ROLLOUT_EV_RESUME);
    cr_assert_eq(last_weight(o), 100, "the traffic is set again");
    samples(&g, 100000, 20, 5000);
    cr_assert(g.r.analysis_in_flight, "the bake was long enough");
    cn_rollout_event_t resume = event(&g, CN_ROLLOUT_EV_RESUME);
    refused(&g, &resume, "nothing to resume: the rollout is progressing");
    rig_dispose(&g);
}

Test(rollout_manual, a_verdict_during_a_pause_applies_at_resume)
{
    rig_t g;
    to_first_analysis(&g, example);
    send_kind(&g, CN_ROLLOUT_EV_PAUSE);
    verdict(&g, CN_ROLLOUT_VERDICT_PASS, "ok");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED);
    cr_assert_eq(g.r.weight_bp, 100, "no traffic change while paused");
    cr_assert(g.r.step_done);
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_RESUME);
    cr_assert_eq(last_weight(o), 500, "the step advances on resume");
    rig_dispose(&g);
}

Test(rollout_manual, promote_finishes_the_current_step)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cr_assert_eq(g.r.step, 1);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_PROMOTE);
    snprintf(ev.actor, sizeof ev.actor, "admin carol");
    snprintf(ev.reason, sizeof ev.reason, "hotfix");
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(g.r.step, 2, "the pause is over; the analysis waits for samples");
    cr_assert_str_eq(o->actions[find(o, CN_ROLLOUT_RECORD)].text,
                     "promote by admin carol: finish step 1 (pause) now: hotfix");
    ev.now_ms = g.now;
    send_ev(&g, &ev);
    cr_assert_eq(g.r.weight_bp, 500, "finishing the analysis step skips it");
    rig_dispose(&g);
}

Test(rollout_manual, promote_during_warmup_ends_it)
{
    rig_t g;
    rig_init(&g, example);
    send_kind(&g, CN_ROLLOUT_EV_START);
    send_kind(&g, CN_ROLLOUT_EV_PROMOTE);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g.r.step, 2);
    tick_for(&g, 10 * MIN_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING, "no deadline once promoted past");
    rig_dispose(&g);
}

Test(rollout_manual, promote_full_skips_the_rest)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_PROMOTE_FULL);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    cr_assert_eq(find(o, CN_ROLLOUT_PROMOTE), 0);
    cr_assert_str_eq(g.r.reason, "promote --full by admin alice at step 1");
    cn_rollout_event_t again = event(&g, CN_ROLLOUT_EV_PROMOTE_FULL);
    refused(&g, &again, "nothing to promote: the rollout is promoting");
    cn_rollout_event_t abort = event(&g, CN_ROLLOUT_EV_ABORT);
    refused(&g, &abort, "nothing to abort: the rollout is promoting");
    send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTED);
    rig_dispose(&g);
}

Test(rollout_manual, abort_rolls_back_and_retry_starts_over)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    bake_and_pass(&g, 10 * MIN_MS);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_ABORT);
    snprintf(ev.actor, sizeof ev.actor, "admin dan");
    snprintf(ev.reason, sizeof ev.reason, "customer complaint");
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(o->actions[0].kind, CN_ROLLOUT_SET_TRAFFIC);
    cr_assert_eq(o->actions[0].weight_bp, 0);
    o = send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ABORTED);
    cr_assert_str_eq(g.r.reason, "aborted by admin dan: customer complaint");
    cr_assert_geq(find(o, CN_ROLLOUT_TAG), 0);
    refused(&g, &ev, "nothing to abort: the rollout is aborted");
    o = send_kind(&g, CN_ROLLOUT_EV_RETRY);
    cr_assert_eq(g.r.state, CN_ROLLOUT_WARMUP, "from the first step");
    cr_assert_eq(g.r.run, 2);
    cr_assert_eq(g.r.step, 1);
    cr_assert_eq(last_weight(o), 100);
    cr_assert_eq(g.r.attempt, 0);
    cr_assert_eq(g.r.first_request_ms, 0, "warmup again");
    rig_dispose(&g);
}

Test(rollout_manual, abort_of_a_pending_rollout_ends_it)
{
    rig_t g;
    rig_init(&g, example);
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_ABORT);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ABORTED);
    cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), -1, "no traffic to take back");
    rig_dispose(&g);
}

Test(rollout_manual, a_traffic_change_without_override_is_refused)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_MANUAL_TRAFFIC);
    ev.weight_bp = 3000;
    refused(&g, &ev,
            "a rollout is progressing: the change needs \"override\": true (which "
            "pauses the rollout), or canary weight 0 (which aborts it)");
    ev.override = true;
    snprintf(ev.actor, sizeof ev.actor, "admin erin");
    send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED);
    cr_assert_str_eq(g.r.reason,
                     "manual traffic change to 30% by admin erin (override)");
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_RESUME);
    cr_assert_eq(last_weight(o), 100, "resume gives the weight back to the rollout");
    rig_dispose(&g);
}

Test(rollout_manual, weight_0_is_always_accepted_and_aborts)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_MANUAL_TRAFFIC);
    snprintf(ev.actor, sizeof ev.actor, "admin frank");
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ABORTED, "no publication to wait for");
    cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), -1, "the PUT already set it");
    cr_assert_geq(find(o, CN_ROLLOUT_TAG), 0);
    cr_assert_str_eq(g.r.reason, "canary weight set to 0 by admin frank");
    /* and in every other state it is accepted too */
    send_ev(&g, &ev);
    cr_assert_eq(g.out.n_actions, 0);
    rig_dispose(&g);
}

Test(rollout_manual, a_newer_candidate_supersedes)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_SUPERSEDED);
    snprintf(ev.reason, sizeof ev.reason, "v7");
    send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_str_eq(g.r.reason, "superseded by v7");
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ABORTED);
    cr_assert_eq(find(o, CN_ROLLOUT_TAG), -1, "a superseded version is not bad");
    rig_dispose(&g);
}

Test(rollout_manual, no_request_by_the_progress_deadline_aborts)
{
    rig_t g;
    rig_init(&g, example);
    send_kind(&g, CN_ROLLOUT_EV_START);
    tick_for(&g, 5 * MIN_MS - S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_WARMUP);
    tick_for(&g, S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(g.r.end_state, CN_ROLLOUT_ABORTED);
    cr_assert_str_eq(g.r.reason, "progress deadline: the canary never passed a health "
                                 "check within 300000 ms");
    /* the driver's own timer does the same */
    rig_t h;
    rig_init(&h, example);
    send_kind(&h, CN_ROLLOUT_EV_START);
    send_kind(&h, CN_ROLLOUT_EV_PROGRESS_DEADLINE);
    cr_assert_eq(h.r.state, CN_ROLLOUT_ROLLING_BACK);
    rig_dispose(&h);
    rig_dispose(&g);
}

/* ----------------------------------------------------------- restart */

Test(rollout_restart, during_a_bake_the_bake_restarts)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    tick_for(&g, 8 * MIN_MS);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_RESTART);
    ev.has_weight = true;
    ev.weight_bp = 100;
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(last_weight(o), 100, "the traffic is set again (idempotent)");
    cr_assert_eq(g.r.step, 1);
    cr_assert_eq(g.r.step_started_ms, g.now);
    samples(&g, 100000, 20, 5000);
    tick_for(&g, 10 * MIN_MS - S_MS);
    cr_assert(!g.r.analysis_in_flight, "a whole new bake");
    tick_for(&g, S_MS);
    cr_assert(g.r.analysis_in_flight);
    rig_dispose(&g);
}

Test(rollout_restart, during_an_analysis_its_attempt_stays_spent)
{
    rig_t g;
    to_first_analysis(&g, example);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_RESTART);
    send_ev(&g, &ev);
    cr_assert(!g.r.analysis_in_flight);
    cr_assert_eq(g.r.attempt, 1);
    cr_assert(strstr(g.out.actions[find(&g.out, CN_ROLLOUT_RECORD)].text,
                     "the analysis in flight is lost"));
    samples(&g, 100000, 20, 5000);
    tick_for(&g, 10 * MIN_MS - S_MS);
    cr_assert(!g.r.analysis_in_flight, "the step's bake restarts");
    tick_for(&g, S_MS);
    cr_assert(g.r.analysis_in_flight);
    cr_assert_eq(g.r.attempt, 2, "the next attempt");
    rig_dispose(&g);
}

Test(rollout_manual, requests_without_a_passed_health_check_abort_at_the_deadline)
{
    /* An unhealthy canary may take a request or two before its first
     * check fails: that is not progress. */
    rig_t g;
    rig_init(&g, example);
    send_kind(&g, CN_ROLLOUT_EV_START);
    send_kind(&g, CN_ROLLOUT_EV_FIRST_REQUEST);
    tick_for(&g, 2 * MIN_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_WARMUP, "warmup waits for a passed check");
    tick_for(&g, 3 * MIN_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_str_eq(g.r.reason, "progress deadline: the canary never passed a health "
                                 "check within 300000 ms");
    rig_dispose(&g);
}

Test(rollout_restart, during_warmup_warmup_keeps_its_end)
{
    rig_t g;
    rig_init(&g, example);
    send_kind(&g, CN_ROLLOUT_EV_START);
    send_kind(&g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(&g, CN_ROLLOUT_EV_FIRST_REQUEST);
    int64_t ends = g.r.warmup_ends_ms;
    tick_for(&g, 10 * S_MS);
    send_kind(&g, CN_ROLLOUT_EV_RESTART);
    cr_assert_eq(g.r.state, CN_ROLLOUT_WARMUP);
    cr_assert_eq(g.r.warmup_ends_ms, ends);
    tick_for(&g, 20 * S_MS);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    rig_dispose(&g);
}

Test(rollout_restart, during_promotion_and_rollback_the_publication_is_issued_again)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    send_kind(&g, CN_ROLLOUT_EV_PROMOTE_FULL);
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_RESTART);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    cr_assert_eq(find(o, CN_ROLLOUT_PROMOTE), 0);
    rig_dispose(&g);
    rig_init(&g, example);
    start_and_warm(&g, false);
    send_kind(&g, CN_ROLLOUT_EV_ABORT);
    o = send_kind(&g, CN_ROLLOUT_EV_RESTART);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(last_weight(o), 0);
    rig_dispose(&g);
}

Test(rollout_restart, a_weight_found_at_0_is_never_raised_again)
{
    rig_t g;
    rig_init(&g, example);
    start_and_warm(&g, false);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_RESTART);
    ev.has_weight = true;
    ev.weight_bp = 0;
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(last_weight(o), 0);
    rig_dispose(&g);
}

/* ------------------------------------------------- over every state */

/* Drive a fresh rollout of the example to state `want` (and a variant). */
static void drive_to(rig_t *g, int which)
{
    rig_init(g, example);
    switch (which) {
    case 0: /* pending */
        return;
    case 1: /* warmup */
        send_kind(g, CN_ROLLOUT_EV_START);
        return;
    case 2: /* progressing, baking */
        start_and_warm(g, false);
        return;
    case 3: /* progressing, analysis in flight */
        start_and_warm(g, false);
        samples(g, 100000, 20, 5000);
        tick_for(g, 10 * MIN_MS);
        return;
    case 4: /* paused by a person */
        start_and_warm(g, false);
        send_kind(g, CN_ROLLOUT_EV_PAUSE);
        return;
    case 5: /* paused by a step */
        start_and_warm(g, false);
        bake_and_pass(g, 10 * MIN_MS);
        bake_and_pass(g, 15 * MIN_MS);
        return;
    case 6: /* holding for samples */
        start_and_warm(g, false);
        tick_for(g, 3600 * S_MS);
        return;
    case 7: /* holding, marginal */
        start_and_warm(g, false);
        samples(g, 100000, 20, 5000);
        tick_for(g, 10 * MIN_MS);
        verdict(g, CN_ROLLOUT_VERDICT_MARGINAL, "m");
        return;
    case 8: /* promoting */
        start_and_warm(g, false);
        send_kind(g, CN_ROLLOUT_EV_PROMOTE_FULL);
        return;
    case 9: /* promoted */
        start_and_warm(g, false);
        send_kind(g, CN_ROLLOUT_EV_PROMOTE_FULL);
        send_kind(g, CN_ROLLOUT_EV_PUBLISHED);
        return;
    case 10: /* rolling back */
        start_and_warm(g, false);
        send_kind(g, CN_ROLLOUT_EV_TRIGGER);
        return;
    case 11: /* rolled back */
        start_and_warm(g, false);
        send_kind(g, CN_ROLLOUT_EV_TRIGGER);
        send_kind(g, CN_ROLLOUT_EV_PUBLISHED);
        return;
    case 12: /* aborted */
        start_and_warm(g, false);
        send_kind(g, CN_ROLLOUT_EV_ABORT);
        send_kind(g, CN_ROLLOUT_EV_PUBLISHED);
        return;
    }
}
#define WHICH 13

static const cn_rollout_state_t which_state[WHICH] = {
    CN_ROLLOUT_PENDING,     CN_ROLLOUT_WARMUP,       CN_ROLLOUT_PROGRESSING,
    CN_ROLLOUT_PROGRESSING, CN_ROLLOUT_PAUSED,       CN_ROLLOUT_PAUSED,
    CN_ROLLOUT_HOLDING,     CN_ROLLOUT_HOLDING,      CN_ROLLOUT_PROMOTING,
    CN_ROLLOUT_PROMOTED,    CN_ROLLOUT_ROLLING_BACK, CN_ROLLOUT_ROLLED_BACK,
    CN_ROLLOUT_ABORTED,
};

Test(rollout_every, every_event_in_every_state_keeps_the_contract)
{
    for (int w = 0; w < WHICH; w++) {
        for (int k = CN_ROLLOUT_EV_START; k <= CN_ROLLOUT_EV_GATE; k++) {
            for (int variant = 0; variant < 4; variant++) {
                rig_t g;
                drive_to(&g, w);
                cr_assert_eq(g.r.state, which_state[w], "drive %d", w);
                cn_rollout_t before = g.r;
                cn_rollout_event_t ev = event(&g, (cn_rollout_event_kind_t)k);
                ev.now_ms += 1000;
                ev.step = g.r.step;
                ev.attempt = g.r.attempt;
                ev.verdict = (cn_rollout_verdict_t)variant;
                ev.weight_bp = variant & 1 ? 2500 : 0;
                ev.override = variant & 2;
                ev.has_weight = variant & 1;
                ev.samples_have = variant * 10000;
                ev.samples_min_per_arm = 20;
                ev.samples_floor_last = 5000;
                cn_rollout_output_t out;
                int rc = cn_rollout_step(&g.cfg, &g.r, &ev, &out);
                const char *what = cn_rollout_event_name(ev.kind);
                cr_assert(rc == 0 || rc == CN_EINVAL, "%s in %d", what, w);
                cr_assert_leq(out.n_actions, CN_ROLLOUT_ACTIONS_MAX);
                if (rc) {
                    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0,
                                 "%s in %d: refused but changed", what, w);
                    cr_assert_eq(out.n_actions, 0);
                    cr_assert_neq(out.error[0], '\0', "%s in %d: say why", what, w);
                } else {
                    cr_assert_str_eq(out.error, "");
                }
                /* An ended rollout stays ended, except a retry. */
                if (cn_rollout_final(before.state) && k != CN_ROLLOUT_EV_RETRY)
                    cr_assert_eq(g.r.state, before.state, "%s in %d", what, w);
                /* A state change is recorded, with from and to. */
                if (g.r.state != before.state) {
                    bool recorded = false;
                    for (size_t i = 0; i < out.n_actions; i++)
                        recorded |= out.actions[i].kind == CN_ROLLOUT_RECORD &&
                                    out.actions[i].to == g.r.state;
                    cr_assert(recorded, "%s in %d: unrecorded change", what, w);
                    cr_assert_gt(g.r.transitions, before.transitions);
                }
                /* Into rolling-back: weight 0 before anything is recorded. */
                if (g.r.state == CN_ROLLOUT_ROLLING_BACK &&
                    before.state != CN_ROLLOUT_ROLLING_BACK) {
                    int t = find(&out, CN_ROLLOUT_SET_TRAFFIC);
                    cr_assert_eq(t, 0, "%s in %d", what, w);
                    cr_assert_eq(out.actions[t].weight_bp, 0);
                    cr_assert_eq(g.r.weight_bp, 0);
                }
                /* Every action is well formed. */
                for (size_t i = 0; i < out.n_actions; i++) {
                    const cn_rollout_action_t *a = &out.actions[i];
                    cr_assert(a->kind >= CN_ROLLOUT_SET_TRAFFIC &&
                              a->kind <= CN_ROLLOUT_ASK_GATE);
                    if (a->kind == CN_ROLLOUT_TAG)
                        cr_assert_str_eq(a->tag, "rolled-back");
                    if (a->kind == CN_ROLLOUT_START_ANALYSIS)
                        cr_assert(a->analysis.attempt >= 1 &&
                                  a->analysis.attempt <= a->analysis.attempts);
                    if (a->kind == CN_ROLLOUT_SET_TRAFFIC)
                        cr_assert_leq(a->weight_bp, 10000);
                }
                rig_dispose(&g);
            }
        }
    }
}

Test(rollout_every, a_restored_copy_continues_exactly_as_the_original)
{
    /* Persist after every event (a byte copy: every field is a value), and
     * run the copy in lockstep: same actions, same state. */
    rig_t g;
    rig_init(&g, example);
    cn_rollout_t copy = g.r;
    static const cn_rollout_event_kind_t script[] = {
        CN_ROLLOUT_EV_START,   CN_ROLLOUT_EV_FIRST_REQUEST, CN_ROLLOUT_EV_TICK,
        CN_ROLLOUT_EV_SAMPLES, CN_ROLLOUT_EV_PAUSE,         CN_ROLLOUT_EV_RESUME,
        CN_ROLLOUT_EV_PROMOTE, CN_ROLLOUT_EV_PROMOTE,       CN_ROLLOUT_EV_RESTART,
        CN_ROLLOUT_EV_TRIGGER, CN_ROLLOUT_EV_PUBLISHED,     CN_ROLLOUT_EV_RETRY,
    };
    for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
        g.now += 40 * S_MS;
        cn_rollout_event_t ev = event(&g, script[i]);
        ev.samples_have = 100000;
        ev.samples_min_per_arm = 20;
        ev.samples_floor_last = 5000;
        cn_rollout_output_t a, b;
        unsigned char stored[sizeof copy];
        memcpy(stored, &copy, sizeof copy);
        cn_rollout_t restored;
        memcpy(&restored, stored, sizeof restored);
        int ra = cn_rollout_step(&g.cfg, &g.r, &ev, &a);
        int rb = cn_rollout_step(&g.cfg, &restored, &ev, &b);
        cr_assert_eq(ra, rb);
        cr_assert_eq(memcmp(&g.r, &restored, sizeof restored), 0, "event %zu", i);
        cr_assert_eq(a.n_actions, b.n_actions);
        cr_assert_eq(memcmp(a.actions, b.actions, a.n_actions * sizeof a.actions[0]),
                     0);
        copy = restored;
    }
    cr_assert_eq(g.r.state, CN_ROLLOUT_WARMUP, "retried");
    cr_assert_eq(g.r.run, 2);
    rig_dispose(&g);
}

Test(rollout_every, names)
{
    static const char *const states[] = {
        "pending",   "warmup",   "progressing",  "paused",      "holding",
        "promoting", "promoted", "rolling-back", "rolled-back", "aborted"};
    for (int i = 0; i < CN_ROLLOUT_STATES; i++) {
        cr_assert_str_eq(cn_rollout_state_name((cn_rollout_state_t)i), states[i]);
        cn_rollout_state_t s;
        cr_assert_eq(cn_rollout_state_parse(states[i], &s), 0);
        cr_assert_eq(s, (cn_rollout_state_t)i);
    }
    cn_rollout_state_t s;
    cr_assert_eq(cn_rollout_state_parse("done", &s), CN_EINVAL);
    cr_assert_str_eq(cn_rollout_state_name((cn_rollout_state_t)10), "?");
    cr_assert(cn_rollout_active(CN_ROLLOUT_HOLDING));
    cr_assert(cn_rollout_active(CN_ROLLOUT_ROLLING_BACK));
    cr_assert(!cn_rollout_active(CN_ROLLOUT_PENDING));
    cr_assert(!cn_rollout_active(CN_ROLLOUT_ABORTED));
    cr_assert(cn_rollout_final(CN_ROLLOUT_ROLLED_BACK));
    cr_assert(!cn_rollout_final(CN_ROLLOUT_PROMOTING));
    cr_assert_str_eq(cn_rollout_hold_name(CN_ROLLOUT_HOLD_BUDGET), "budget");
    cr_assert_str_eq(cn_rollout_event_name(CN_ROLLOUT_EV_RESTART), "restart");
    cr_assert_str_eq(cn_rollout_event_name(CN_ROLLOUT_EV_START), "start");
    cr_assert_str_eq(cn_rollout_event_name((cn_rollout_event_kind_t)99), "?");
    cr_assert_str_eq(cn_rollout_action_name(CN_ROLLOUT_START_ANALYSIS),
                     "start-analysis");
    cr_assert_str_eq(cn_rollout_action_name(CN_ROLLOUT_NOTIFY), "notify");
}

Test(rollout_every, bad_calls_are_refused)
{
    rig_t g;
    rig_init(&g, example);
    cn_rollout_output_t out;
    cn_rollout_event_t ev = event(&g, (cn_rollout_event_kind_t)0);
    cr_assert_eq(cn_rollout_step(&g.cfg, &g.r, &ev, &out), CN_EINVAL);
    cr_assert_str_eq(out.error, "unknown event 0");
    cn_rollout_config_t none = {NULL, 0.05};
    ev.kind = CN_ROLLOUT_EV_START;
    cr_assert_eq(cn_rollout_step(&none, &g.r, &ev, &out), CN_EINVAL);
    send_kind(&g, CN_ROLLOUT_EV_START);
    refused(&g, &ev, "the rollout has already started (warmup)");
    rig_dispose(&g);
}
