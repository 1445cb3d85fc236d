/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gate hooks in the rollout machine (rollout.h, strategy.gates): a weight
 * increase and the promotion wait for their gate's yes; a no (or no
 * answer in time) holds the rollout with the gate's answer as the reason,
 * the gate is asked again every gates.interval, and a yes or a person
 * (resume, promote, abort) ends the hold. Answers for another step or
 * gate, or after a person went on, are stale. (Weights only rise in a
 * strategy, so every set_weight after the first traffic is an increase.) Over every
 * gate state and every event, the contract of test_rollout.c holds.
 */
#include "controller/rollout.h"
#include "controller/strategy.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S_MS 1000

static const char gated[] = "warmup: 0s\n"
                            "progress_deadline: 1m\n"
                            "steps:\n"
                            "  - set_weight: 10\n"
                            "  - pause: {duration: 10s}\n"
                            "  - set_weight: 50\n"
                            "  - pause: {duration: 10s}\n"
                            "gates:\n"
                            "  confirm_traffic_increase: {url: 'http://gate/t'}\n"
                            "  confirm_promotion: {url: 'http://gate/p', timeout: 2s}\n"
                            "  interval: 5s\n";

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
        cn_strategy_parse(yaml, strlen(yaml), "g.yaml", &g->strategy, err, sizeof err),
        0, "%s", err);
    g->cfg = (cn_rollout_config_t){&g->strategy, 0.05};
    cn_rollout_init(&g->r);
    g->now = 1700000000000;
}

static cn_rollout_event_t event(rig_t *g, cn_rollout_event_kind_t kind)
{
    cn_rollout_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.now_ms = g->now;
    snprintf(ev.actor, sizeof ev.actor, "admin alice");
    return ev;
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
    cn_rollout_event_t ev = event(g, kind);
    return send_ev(g, &ev);
}

/* The gate's answer for the current step. */
static cn_rollout_output_t *answer(rig_t *g, cn_rollout_gate_t gate, bool yes,
                                   const char *what)
{
    cn_rollout_event_t ev = event(g, CN_ROLLOUT_EV_GATE);
    snprintf(ev.actor, sizeof ev.actor, "gate");
    ev.gate = gate;
    ev.step = g->r.step;
    ev.verdict = yes ? CN_ROLLOUT_VERDICT_PASS : CN_ROLLOUT_VERDICT_FAIL;
    snprintf(ev.reason, sizeof ev.reason, "%s", what);
    return send_ev(g, &ev);
}

static int find(const cn_rollout_output_t *o, cn_rollout_action_kind_t kind)
{
    for (size_t i = 0; i < o->n_actions; i++)
        if (o->actions[i].kind == kind)
            return (int)i;
    return -1;
}

static int count(const cn_rollout_output_t *o, cn_rollout_action_kind_t kind)
{
    int n = 0;
    for (size_t i = 0; i < o->n_actions; i++)
        n += o->actions[i].kind == kind;
    return n;
}

static void tick_for(rig_t *g, int64_t ms)
{
    int64_t end = g->now + ms;
    while (g->now < end) {
        g->now += S_MS;
        send_kind(g, CN_ROLLOUT_EV_TICK);
    }
}

/* Started; the first increase asked and confirmed; warm and progressing
 * at 10%, at the pause of step 1. */
static void start_through_first_gate(rig_t *g)
{
    cn_rollout_output_t *o = send_kind(g, CN_ROLLOUT_EV_START);
    int a = find(o, CN_ROLLOUT_ASK_GATE);
    cr_assert_geq(a, 0, "the first weight is an increase: its gate is asked");
    cr_assert_eq(o->actions[a].gate, CN_ROLLOUT_GATE_TRAFFIC);
    cr_assert_eq(o->actions[a].weight_bp, 1000);
    cr_assert_eq(o->actions[a].analysis.step, 0);
    cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), -1, "no traffic before the yes");
    cr_assert_eq(g->r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert(g->r.gate_in_flight);
    tick_for(g, 30 * S_MS);
    cr_assert_eq(g->r.state, CN_ROLLOUT_PROGRESSING, "waiting is not holding");
    o = answer(g, CN_ROLLOUT_GATE_TRAFFIC, true,
               "confirm_traffic_increase answered "
               "HTTP 200");
    cr_assert_eq(o->actions[find(o, CN_ROLLOUT_SET_TRAFFIC)].weight_bp, 1000);
    cr_assert_eq(g->r.state, CN_ROLLOUT_WARMUP);
    send_kind(g, CN_ROLLOUT_EV_CANARY_HEALTHY);
    send_kind(g, CN_ROLLOUT_EV_FIRST_REQUEST);
    cr_assert_eq(g->r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g->r.step, 1);
    cr_assert_eq(g->r.gate, CN_ROLLOUT_GATE_NONE);
}

/* Bake step 1: the gate of step 2 (50%) is asked and in flight. */
static void to_second_gate(rig_t *g)
{
    start_through_first_gate(g);
    tick_for(g, 10 * S_MS);
    cr_assert_eq(g->r.step, 2);
    cr_assert_eq(g->r.gate, CN_ROLLOUT_GATE_TRAFFIC);
    cr_assert(g->r.gate_in_flight);
    cr_assert_eq(g->r.weight_bp, 1000, "not raised yet");
}

Test(rollout_gate, each_weight_increase_waits_for_its_gate)
{
    rig_t g;
    rig_init(&g, gated);
    start_through_first_gate(&g);
    g.now += 10 * S_MS - S_MS;
    send_kind(&g, CN_ROLLOUT_EV_TICK);
    g.now += S_MS;
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_TICK);
    int a = find(o, CN_ROLLOUT_ASK_GATE);
    cr_assert_geq(a, 0);
    cr_assert_eq(o->actions[a].weight_bp, 5000);
    cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), -1);
    cr_assert_eq(find(o, CN_ROLLOUT_RECORD) >= 0, true, "the wait is recorded once");
    o = send_kind(&g, CN_ROLLOUT_EV_TICK);
    cr_assert_eq(o->n_actions, 0, "asked once while in flight");
    o = answer(&g, CN_ROLLOUT_GATE_TRAFFIC, true, "yes");
    cr_assert_eq(o->actions[find(o, CN_ROLLOUT_SET_TRAFFIC)].weight_bp, 5000);
    cr_assert_eq(g.r.step, 3);
    cr_assert_eq(g.r.gate_passed, 3, "step 2's gate said yes");
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, a_no_holds_with_the_answer_and_is_asked_again_every_interval)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    cn_rollout_output_t *o = answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false,
                                    "confirm_traffic_increase answered "
                                    "HTTP 503");
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_GATE);
    cr_assert_str_eq(g.r.reason,
                     "confirm_traffic_increase did not confirm step 2 (weight 50%): "
                     "confirm_traffic_increase answered HTTP 503; asked again every "
                     "5000 ms");
    cr_assert_geq(find(o, CN_ROLLOUT_NOTIFY), 0, "a hold is announced");
    cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), -1);
    tick_for(&g, 4 * S_MS);
    cr_assert(!g.r.gate_in_flight, "not before the interval");
    g.now += S_MS;
    o = send_kind(&g, CN_ROLLOUT_EV_TICK);
    cr_assert_eq(count(o, CN_ROLLOUT_ASK_GATE), 1, "asked again after 5 s");
    cr_assert_eq(find(o, CN_ROLLOUT_RECORD), -1, "a re-ask is not recorded");
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    /* a timeout is a no too, and changes nothing visible */
    o = answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false,
               "confirm_traffic_increase answered Operation timed out after 2000 ms");
    cr_assert_eq(o->n_actions, 0);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    tick_for(&g, 5 * S_MS);
    cr_assert(g.r.gate_in_flight);
    o = answer(&g, CN_ROLLOUT_GATE_TRAFFIC, true,
               "confirm_traffic_increase answered "
               "HTTP 200");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING, "goes on by itself");
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_NONE);
    cr_assert_eq(o->actions[find(o, CN_ROLLOUT_SET_TRAFFIC)].weight_bp, 5000);
    cr_assert_eq(g.r.step, 3);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, the_promotion_waits_for_its_gate)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, true, "yes");
    tick_for(&g, 10 * S_MS);
    cr_assert_eq(g.r.step, 4, "every step done");
    cr_assert_eq(g.r.gate, CN_ROLLOUT_GATE_PROMOTION);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cn_rollout_output_t *o = answer(&g, CN_ROLLOUT_GATE_PROMOTION, false, "HTTP 409");
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert(strstr(g.r.reason, "confirm_promotion did not confirm step 4"), "%s",
              g.r.reason);
    tick_for(&g, 5 * S_MS);
    o = answer(&g, CN_ROLLOUT_GATE_PROMOTION, true, "HTTP 204");
    cr_assert_geq(find(o, CN_ROLLOUT_PROMOTE), 0);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    send_kind(&g, CN_ROLLOUT_EV_PUBLISHED);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTED);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, a_person_goes_on_without_the_gate)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false, "HTTP 503");
    /* resume: past the gate */
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_RESUME);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_str_eq(g.r.reason,
                     "resumed by admin alice past confirm_traffic_increase");
    cr_assert_eq(o->actions[find(o, CN_ROLLOUT_SET_TRAFFIC)].weight_bp, 5000);
    /* a late yes or no changes nothing */
    cn_rollout_event_t late = event(&g, CN_ROLLOUT_EV_GATE);
    late.gate = CN_ROLLOUT_GATE_TRAFFIC;
    late.step = 2;
    late.verdict = CN_ROLLOUT_VERDICT_FAIL;
    cn_rollout_t before = g.r;
    o = send_ev(&g, &late);
    cr_assert_eq(o->n_actions, 0);
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0);
    cn_strategy_dispose(&g.strategy);

    /* promote at a gate makes the change the gate guards, not skips it */
    rig_init(&g, gated);
    to_second_gate(&g);
    o = send_kind(&g, CN_ROLLOUT_EV_PROMOTE);
    cr_assert_eq(o->actions[find(o, CN_ROLLOUT_SET_TRAFFIC)].weight_bp, 5000);
    cr_assert_eq(g.r.step, 3);
    cr_assert(!g.r.gate_in_flight);
    cn_strategy_dispose(&g.strategy);

    /* abort at a gate rolls back; retry there is refused, saying why */
    rig_init(&g, gated);
    to_second_gate(&g);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false, "HTTP 503");
    cn_rollout_event_t retry = event(&g, CN_ROLLOUT_EV_RETRY);
    before = g.r;
    cr_assert_eq(cn_rollout_step(&g.cfg, &g.r, &retry, &g.out), CN_EINVAL);
    cr_assert_str_eq(g.out.error,
                     "holding for confirm_traffic_increase, which is asked again every "
                     "5000 ms: resume or promote to go on without it, or abort");
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0);
    o = send_kind(&g, CN_ROLLOUT_EV_ABORT);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(g.r.gate, CN_ROLLOUT_GATE_NONE);
    cr_assert_eq(find(o, CN_ROLLOUT_SET_TRAFFIC), 0, "weight 0 first");
    cn_strategy_dispose(&g.strategy);

    /* promote --full skips the promotion gate too: a person's word */
    rig_init(&g, gated);
    to_second_gate(&g);
    o = send_kind(&g, CN_ROLLOUT_EV_PROMOTE_FULL);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROMOTING);
    cr_assert_eq(find(o, CN_ROLLOUT_ASK_GATE), -1);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, a_trigger_rolls_back_a_held_rollout)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false, "HTTP 503");
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_TRIGGER);
    snprintf(ev.reason, sizeof ev.reason, "error rate");
    send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_ROLLING_BACK);
    cr_assert_eq(g.r.weight_bp, 0);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, answers_for_another_step_or_gate_are_stale)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    cn_rollout_t before = g.r;
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_GATE);
    ev.gate = CN_ROLLOUT_GATE_TRAFFIC;
    ev.step = 0;
    ev.verdict = CN_ROLLOUT_VERDICT_PASS;
    cr_assert_eq(send_ev(&g, &ev)->n_actions, 0, "another step's");
    ev.step = 2;
    ev.gate = CN_ROLLOUT_GATE_PROMOTION;
    cr_assert_eq(send_ev(&g, &ev)->n_actions, 0, "another gate's");
    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, a_pause_keeps_the_answer_for_the_resume)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    send_kind(&g, CN_ROLLOUT_EV_PAUSE);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false, "HTTP 503");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED);
    send_kind(&g, CN_ROLLOUT_EV_RESUME);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING, "resumed into the gate's hold");
    cr_assert_eq(g.r.hold, CN_ROLLOUT_HOLD_GATE);
    tick_for(&g, 5 * S_MS);
    cr_assert(g.r.gate_in_flight, "and the gate is asked again");
    cn_strategy_dispose(&g.strategy);

    rig_init(&g, gated);
    to_second_gate(&g);
    send_kind(&g, CN_ROLLOUT_EV_PAUSE);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, true, "HTTP 200");
    cr_assert_eq(g.r.state, CN_ROLLOUT_PAUSED);
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_RESUME);
    cr_assert_eq(g.r.state, CN_ROLLOUT_PROGRESSING);
    cr_assert_eq(g.r.weight_bp, 5000, "the yes given while paused applies");
    cr_assert_geq(find(o, CN_ROLLOUT_SET_TRAFFIC), 0);
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, a_restart_asks_again)
{
    rig_t g;
    rig_init(&g, gated);
    to_second_gate(&g);
    cn_rollout_event_t ev = event(&g, CN_ROLLOUT_EV_RESTART);
    ev.has_weight = true;
    ev.weight_bp = 1000;
    cn_rollout_output_t *o = send_ev(&g, &ev);
    cr_assert_eq(count(o, CN_ROLLOUT_ASK_GATE), 1, "the call in flight was lost");
    cr_assert(g.r.gate_in_flight);
    cn_strategy_dispose(&g.strategy);

    rig_init(&g, gated);
    to_second_gate(&g);
    answer(&g, CN_ROLLOUT_GATE_TRAFFIC, false, "HTTP 503");
    o = send_ev(&g, &ev);
    cr_assert_eq(g.r.state, CN_ROLLOUT_HOLDING);
    cr_assert_eq(count(o, CN_ROLLOUT_ASK_GATE), 1, "held: asked at once");
    cn_strategy_dispose(&g.strategy);
}

Test(rollout_gate, without_gates_nothing_is_asked)
{
    rig_t g;
    rig_init(&g, "warmup: 0s\nsteps: [{set_weight: 50}, {pause: {duration: 1s}}]\n");
    cn_rollout_output_t *o = send_kind(&g, CN_ROLLOUT_EV_START);
    cr_assert_eq(find(o, CN_ROLLOUT_ASK_GATE), -1);
    cr_assert_geq(find(o, CN_ROLLOUT_SET_TRAFFIC), 0);
    cn_strategy_dispose(&g.strategy);
}

/* Drive to a gate state: 0 waiting (in flight), 1 holding, 2 holding with
 * the re-ask in flight, 3 paused while waiting, 4 waiting for the
 * promotion's gate. */
static void drive_to(rig_t *g, int which)
{
    rig_init(g, gated);
    to_second_gate(g);
    switch (which) {
    case 1:
        answer(g, CN_ROLLOUT_GATE_TRAFFIC, false, "no");
        break;
    case 2:
        answer(g, CN_ROLLOUT_GATE_TRAFFIC, false, "no");
        tick_for(g, 5 * S_MS);
        break;
    case 3:
        send_kind(g, CN_ROLLOUT_EV_PAUSE);
        break;
    case 4:
        answer(g, CN_ROLLOUT_GATE_TRAFFIC, true, "yes");
        tick_for(g, 10 * S_MS);
        break;
    }
}

Test(rollout_gate, every_event_in_every_gate_state_keeps_the_contract)
{
    for (int w = 0; w < 5; w++) {
        for (int k = CN_ROLLOUT_EV_START; k <= CN_ROLLOUT_EV_GATE; k++) {
            for (int variant = 0; variant < 8; variant++) {
                rig_t g;
                drive_to(&g, w);
                cn_rollout_t before = g.r;
                cn_rollout_event_t ev = event(&g, (cn_rollout_event_kind_t)k);
                ev.now_ms += 1000;
                ev.step = g.r.step - (variant & 4 ? 1 : 0);
                ev.gate = (cn_rollout_gate_t)(variant & 3);
                ev.verdict = (cn_rollout_verdict_t)(variant & 1);
                ev.weight_bp = variant & 1 ? 2500 : 0;
                ev.override = variant & 2;
                ev.has_weight = variant & 1;
                cn_rollout_output_t out;
                int rc = cn_rollout_step(&g.cfg, &g.r, &ev, &out);
                const char *what = cn_rollout_event_name(ev.kind);
                cr_assert(rc == 0 || rc == CN_EINVAL, "%s in %d", what, w);
                if (rc) {
                    cr_assert_eq(memcmp(&before, &g.r, sizeof before), 0,
                                 "%s in %d: refused but changed", what, w);
                    cr_assert_eq(out.n_actions, 0);
                    cr_assert_neq(out.error[0], '\0');
                }
                if (g.r.state != before.state) {
                    bool recorded = false;
                    for (size_t i = 0; i < out.n_actions; i++)
                        recorded |= out.actions[i].kind == CN_ROLLOUT_RECORD &&
                                    out.actions[i].to == g.r.state;
                    cr_assert(recorded, "%s in %d: unrecorded change", what, w);
                }
                if (g.r.state == CN_ROLLOUT_ROLLING_BACK &&
                    before.state != CN_ROLLOUT_ROLLING_BACK) {
                    cr_assert_eq(find(&out, CN_ROLLOUT_SET_TRAFFIC), 0, "%s in %d",
                                 what, w);
                    cr_assert_eq(g.r.gate, CN_ROLLOUT_GATE_NONE);
                }
                /* a gate's hold is left only for progressing, or an end */
                if (before.state == CN_ROLLOUT_HOLDING &&
                    g.r.state != CN_ROLLOUT_HOLDING)
                    cr_assert(g.r.state == CN_ROLLOUT_PROGRESSING ||
                                  g.r.state == CN_ROLLOUT_PAUSED ||
                                  g.r.state == CN_ROLLOUT_ROLLING_BACK ||
                                  g.r.state == CN_ROLLOUT_ABORTED ||
                                  g.r.state == CN_ROLLOUT_PROMOTING,
                              "%s in %d: to %s", what, w,
                              cn_rollout_state_name(g.r.state));
                /* the weight rises only past a gate's yes or a person */
                if (g.r.weight_bp > before.weight_bp)
                    cr_assert(g.r.gate_passed == g.r.step ||
                                  g.r.gate_passed == g.r.step - 1 ||
                                  g.r.gate_passed == before.step + 1,
                              "%s in %d: raised without a yes", what, w);
                for (size_t i = 0; i < out.n_actions; i++) {
                    const cn_rollout_action_t *a = &out.actions[i];
                    cr_assert(a->kind >= CN_ROLLOUT_SET_TRAFFIC &&
                              a->kind <= CN_ROLLOUT_ASK_GATE);
                    if (a->kind == CN_ROLLOUT_ASK_GATE)
                        cr_assert(a->gate == CN_ROLLOUT_GATE_TRAFFIC ||
                                  a->gate == CN_ROLLOUT_GATE_PROMOTION);
                }
                cn_strategy_dispose(&g.strategy);
            }
        }
    }
}

Test(rollout_gate, names)
{
    cr_assert_str_eq(cn_rollout_gate_name(CN_ROLLOUT_GATE_NONE), "none");
    cr_assert_str_eq(cn_rollout_gate_name(CN_ROLLOUT_GATE_TRAFFIC),
                     "confirm_traffic_increase");
    cr_assert_str_eq(cn_rollout_gate_name(CN_ROLLOUT_GATE_PROMOTION),
                     "confirm_promotion");
    cr_assert_str_eq(cn_rollout_gate_name((cn_rollout_gate_t)3), "?");
    cr_assert_str_eq(cn_rollout_hold_name(CN_ROLLOUT_HOLD_GATE), "gate");
    cr_assert_str_eq(cn_rollout_event_name(CN_ROLLOUT_EV_GATE), "gate");
    cr_assert_str_eq(cn_rollout_action_name(CN_ROLLOUT_ASK_GATE), "ask-gate");
}
