/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout state machine (rollout.h): one function, cn_rollout_step(),
 * that works on a copy of the state and commits it only when the event is
 * accepted, so that a refused event leaves the state as it was.
 *
 * The steps of the strategy run in run_steps(): set_weight is instant
 * (the traffic is set and the next step follows at once), the other steps
 * wait for their time (a pause's duration, a shadow's duration), for a
 * person (`pause: {}`), or for samples and a verdict (analysis). Each
 * state change goes through transition(), which records it (with actor
 * and reason) and notifies; a rollback goes through rollback() and a
 * promotion through promote(), each the one place that orders its actions
 * as the issue asks (a rollback's weight 0 before its record).
 */
#include "controller/rollout.h"
#include "judge/judge.h"
#include "util/error.h"
#include "util/units.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[CN_ROLLOUT_STATES] = {
    "pending",   "warmup",   "progressing",  "paused",      "holding",
    "promoting", "promoted", "rolling-back", "rolled-back", "aborted",
};

const char *cn_rollout_state_name(cn_rollout_state_t s)
{
    return (unsigned)s < CN_ROLLOUT_STATES ? state_names[s] : "?";
}

int cn_rollout_state_parse(const char *name, cn_rollout_state_t *out)
{
    for (int i = 0; name && i < CN_ROLLOUT_STATES; i++)
        if (strcmp(state_names[i], name) == 0) {
            *out = (cn_rollout_state_t)i;
            return 0;
        }
    return CN_EINVAL;
}

bool cn_rollout_active(cn_rollout_state_t s)
{
    return (s >= CN_ROLLOUT_WARMUP && s <= CN_ROLLOUT_PROMOTING) ||
           s == CN_ROLLOUT_ROLLING_BACK;
}

bool cn_rollout_final(cn_rollout_state_t s)
{
    return s == CN_ROLLOUT_PROMOTED || s == CN_ROLLOUT_ROLLED_BACK ||
           s == CN_ROLLOUT_ABORTED;
}

const char *cn_rollout_hold_name(cn_rollout_hold_t h)
{
    static const char *const names[] = {"none",   "samples", "marginal",
                                        "budget", "anytime", "gate"};
    return (unsigned)h < 6 ? names[h] : "?";
}

const char *cn_rollout_gate_name(cn_rollout_gate_t g)
{
    static const char *const names[] = {"none", "confirm_traffic_increase",
                                        "confirm_promotion"};
    return (unsigned)g < 3 ? names[g] : "?";
}

const char *cn_rollout_event_name(cn_rollout_event_kind_t k)
{
    static const char *const names[] = {
        "?",
        "start",
        "tick",
        "canary-healthy",
        "first-request",
        "samples",
        "analysis-result",
        "trigger",
        "pause",
        "resume",
        "promote",
        "promote-full",
        "abort",
        "retry",
        "manual-traffic",
        "superseded",
        "progress-deadline",
        "published",
        "restart",
        "anytime",
        "gate",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *cn_rollout_action_name(cn_rollout_action_kind_t k)
{
    static const char *const names[] = {
        "?",      "set-traffic", "promote", "start-analysis",
        "record", "tag",         "notify",  "ask-gate"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

void cn_rollout_init(cn_rollout_t *r)
{
    memset(r, 0, sizeof *r);
    r->state = CN_ROLLOUT_PENDING;
}

/* ------------------------------------------------------------ levels */

int cn_rollout_analysis_levels(const cn_rollout_config_t *cfg, uint32_t step,
                               uint32_t attempt, cn_rollout_analysis_t *out)
{
    const cn_strategy_t *s = cfg->strategy;
    memset(out, 0, sizeof *out);
    unsigned j = cn_strategy_analysis_rank(s, step);
    unsigned J = cn_strategy_analysis_count(s);
    uint32_t attempts = 1 + s->retries;
    if (j == 0 || attempt < 1 || attempt > attempts)
        return CN_EINVAL;
    out->step = step;
    out->rank = j;
    out->of = J;
    out->attempt = attempt;
    out->attempts = attempts;
    out->last = j == J;
    out->paired = cn_strategy_weight_at(s, step) == 0;
    /* Pocock-type spending of the false-rollback budget over the J
     * analysis steps, split equally over each step's attempts. */
    out->alpha_fail =
        cn_judge_spend_pocock(cfg->alpha, (double)(j - 1) / J, (double)j / J) /
        attempts;
    /* Only the last analysis passes; its attempts share alpha. */
    out->alpha_pass = out->last ? cfg->alpha / attempts : 0;
    return 0;
}

static bool is_anytime(const cn_strategy_t *s, size_t i)
{
    return i < s->n_steps && s->steps[i].kind == CN_STRATEGY_ANALYSIS &&
           s->steps[i].analysis.mode == CN_STRATEGY_ANYTIME;
}

int cn_rollout_anytime_levels(const cn_rollout_config_t *cfg, uint32_t step,
                              cn_rollout_analysis_t *out)
{
    const cn_strategy_t *s = cfg->strategy;
    memset(out, 0, sizeof *out);
    if (!is_anytime(s, step))
        return CN_EINVAL;
    unsigned j = cn_strategy_analysis_rank(s, step);
    unsigned J = cn_strategy_analysis_count(s);
    out->step = step;
    out->rank = j;
    out->of = J;
    out->attempt = out->attempts = 1;
    out->last = j == J;
    out->alpha_fail =
        cn_judge_spend_pocock(cfg->alpha, (double)(j - 1) / J, (double)j / J);
    out->alpha_pass = cfg->alpha;
    return 0;
}

int64_t cn_rollout_anytime_step(const cn_rollout_config_t *cfg, const cn_rollout_t *r)
{
    const cn_strategy_t *s = cfg->strategy;
    if (r->state != CN_ROLLOUT_PROGRESSING && r->state != CN_ROLLOUT_PAUSED &&
        r->state != CN_ROLLOUT_HOLDING)
        return -1;
    if (is_anytime(s, r->step))
        return r->step;
    if (r->step < s->n_steps && s->steps[r->step].kind == CN_STRATEGY_PAUSE &&
        s->steps[r->step].pause.has_duration && is_anytime(s, r->step + 1))
        return r->step + 1;
    return -1;
}

/* ----------------------------------------------------------- actions */

typedef struct ctx_s {
    const cn_rollout_config_t *cfg;
    const cn_strategy_t *s;
    cn_rollout_t *r;
    const cn_rollout_event_t *ev;
    cn_rollout_output_t *out;
    const char *actor; /* the event's actor, or a default */
} ctx_t;

static cn_rollout_action_t *emit(ctx_t *c, cn_rollout_action_kind_t kind)
{
    /* Bounded by construction: an event runs at most a few instant steps
     * (see run_steps); running out is a bug, and the last action is
     * overwritten rather than memory. */
    size_t i = c->out->n_actions < CN_ROLLOUT_ACTIONS_MAX ? c->out->n_actions++
                                                          : CN_ROLLOUT_ACTIONS_MAX - 1;
    cn_rollout_action_t *a = &c->out->actions[i];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->dry_run = c->r->dry_run;
    a->from = a->to = c->r->state;
    snprintf(a->actor, sizeof a->actor, "%s", c->actor);
    return a;
}

static void record(ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void record(ctx_t *c, const char *fmt, ...)
{
    cn_rollout_action_t *a = emit(c, CN_ROLLOUT_RECORD);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text, sizeof a->text, fmt, ap);
    va_end(ap);
}

static void set_traffic(ctx_t *c)
{
    cn_rollout_action_t *a = emit(c, CN_ROLLOUT_SET_TRAFFIC);
    a->weight_bp = c->r->weight_bp;
    a->shadow = c->r->shadow;
    a->shadow_bp = c->r->shadow_bp;
    char pct[CN_UNITS_TEXT_BUF];
    if (a->shadow)
        snprintf(a->text, sizeof a->text, "shadow %s%%",
                 cn_units_percent_text(a->shadow_bp, pct, sizeof pct));
    else
        snprintf(a->text, sizeof a->text, "weight %s%%",
                 cn_units_percent_text(a->weight_bp, pct, sizeof pct));
}

/* Change state: record and notify, with reason. */
static void transition(ctx_t *c, cn_rollout_state_t to, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void transition(ctx_t *c, cn_rollout_state_t to, const char *fmt, ...)
{
    cn_rollout_t *r = c->r;
    cn_rollout_state_t from = r->state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->state = to;
    r->transitions++;
    cn_rollout_action_t *a = emit(c, CN_ROLLOUT_RECORD);
    a->from = from;
    a->to = to;
    snprintf(a->text, sizeof a->text, "%s -> %s: %s", cn_rollout_state_name(from),
             cn_rollout_state_name(to), r->reason);
    cn_rollout_action_t *n = emit(c, CN_ROLLOUT_NOTIFY);
    n->from = from;
    n->to = to;
    snprintf(n->text, sizeof n->text, "%s", a->text);
}

/* The rollback: weight 0 first, then the decision recorded; the tag
 * follows the publication (PUBLISHED). */
static void rollback(ctx_t *c, cn_rollout_state_t end, const char *why)
{
    cn_rollout_t *r = c->r;
    r->weight_bp = 0;
    r->shadow = false;
    r->shadow_bp = 0;
    r->analysis_in_flight = false;
    r->hold = CN_ROLLOUT_HOLD_NONE;
    r->paused_by_step = r->step_done = false;
    r->resume_state = CN_ROLLOUT_PENDING;
    r->end_state = end;
    r->gate = CN_ROLLOUT_GATE_NONE;
    r->gate_in_flight = false;
    set_traffic(c);
    transition(c, CN_ROLLOUT_ROLLING_BACK, "%s", why);
}

/* The promotion: one publication and one registry transaction. */
static void promote(ctx_t *c, const char *why)
{
    cn_rollout_t *r = c->r;
    r->analysis_in_flight = false;
    r->hold = CN_ROLLOUT_HOLD_NONE;
    r->paused_by_step = r->step_done = false;
    r->resume_state = CN_ROLLOUT_PENDING;
    r->gate = CN_ROLLOUT_GATE_NONE;
    r->gate_in_flight = false;
    cn_rollout_action_t *a = emit(c, CN_ROLLOUT_PROMOTE);
    snprintf(a->text, sizeof a->text, "canary becomes stable");
    transition(c, CN_ROLLOUT_PROMOTING, "%s", why);
}

/* ------------------------------------------------------------- steps */

static const cn_strategy_step_t *current(const ctx_t *c)
{
    return c->r->step < c->s->n_steps ? &c->s->steps[c->r->step] : NULL;
}

/* The sample floor of the next analysis at or after the current step: its
 * own min_samples, else the last analysis's floor or min_per_arm. */
static uint64_t floor_of(const ctx_t *c, uint64_t min_per_arm, uint64_t floor_last)
{
    const cn_strategy_t *s = c->s;
    unsigned J = cn_strategy_analysis_count(s);
    for (size_t i = c->r->step; i < s->n_steps; i++) {
        if (s->steps[i].kind != CN_STRATEGY_ANALYSIS)
            continue;
        if (s->steps[i].analysis.min_samples)
            return s->steps[i].analysis.min_samples;
        return cn_strategy_analysis_rank(s, i) == J ? floor_last : min_per_arm;
    }
    return 0;
}

/* The bake before a retried analysis: the pause just before it. */
static uint64_t rebake_ms(const ctx_t *c)
{
    uint32_t i = c->r->step;
    if (i == 0 || i > c->s->n_steps)
        return 0;
    const cn_strategy_step_t *p = &c->s->steps[i - 1];
    return p->kind == CN_STRATEGY_PAUSE && p->pause.has_duration ? p->pause.duration_ms
                                                                 : 0;
}

static void new_window(ctx_t *c)
{
    c->r->window_started_ms = c->ev->now_ms;
    c->r->step_started_ms = c->ev->now_ms;
    c->r->samples_have = 0;
}

/* The current step is done: on to the next (or, paused by a person, on
 * resume). */
static void step_done(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    if (r->state == CN_ROLLOUT_PAUSED) {
        r->step_done = true;
        return;
    }
    r->step++;
    r->attempt = 0;
    r->analysis_in_flight = false;
    r->step_started_ms = c->ev->now_ms;
}

static void start_attempt(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    uint32_t attempts = 1 + c->s->retries;
    if (r->attempt >= attempts) {
        r->hold = CN_ROLLOUT_HOLD_BUDGET;
        transition(c, CN_ROLLOUT_HOLDING,
                   "analysis budget spent: %u of %u attempts at step %u; promote or "
                   "abort",
                   r->attempt, attempts, r->step);
        return;
    }
    r->attempt++;
    r->analysis_in_flight = true;
    cn_rollout_action_t *a = emit(c, CN_ROLLOUT_START_ANALYSIS);
    cn_rollout_analysis_levels(c->cfg, r->step, r->attempt, &a->analysis);
    a->analysis.window_start_ms = r->window_started_ms;
    snprintf(a->text, sizeof a->text,
             "analysis %u of %u, attempt %u of %u: alpha_fail %.3g, alpha_pass %.3g",
             a->analysis.rank, a->analysis.of, a->analysis.attempt,
             a->analysis.attempts, a->analysis.alpha_fail, a->analysis.alpha_pass);
}

/* Enter the first traffic step's warmup. */
static void begin_warmup(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    r->traffic_started_ms = c->ev->now_ms;
    char pct[CN_UNITS_TEXT_BUF];
    transition(
        c, CN_ROLLOUT_WARMUP,
        "first traffic (%s %s%%): waiting for the canary's "
        "first request, then %llu ms of warmup",
        r->shadow ? "shadow" : "weight",
        cn_units_percent_text(r->shadow ? r->shadow_bp : r->weight_bp, pct, sizeof pct),
        (unsigned long long)c->s->warmup_ms);
}

/* ------------------------------------------------------------- gates */

static const cn_strategy_gate_t *gate_of(const cn_strategy_t *s, cn_rollout_gate_t g)
{
    if (g == CN_ROLLOUT_GATE_TRAFFIC && s->gates.has_traffic)
        return &s->gates.traffic;
    if (g == CN_ROLLOUT_GATE_PROMOTION && s->gates.has_promotion)
        return &s->gates.promotion;
    return NULL;
}

/* The weight the gate being asked would confirm: the set_weight step's
 * for a traffic increase, the current one for the promotion. */
static uint16_t gate_weight(const ctx_t *c)
{
    const cn_rollout_t *r = c->r;
    if (r->gate == CN_ROLLOUT_GATE_TRAFFIC && r->step < c->s->n_steps)
        return c->s->steps[r->step].weight_bp;
    return r->weight_bp;
}

static void ask_gate(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    r->gate_in_flight = true;
    r->gate_asked_ms = c->ev->now_ms;
    cn_rollout_action_t *a = emit(c, CN_ROLLOUT_ASK_GATE);
    a->gate = r->gate;
    a->weight_bp = gate_weight(c);
    a->analysis.step = r->step;
    char pct[CN_UNITS_TEXT_BUF];
    snprintf(a->text, sizeof a->text, "step %u: asking %s (weight %s%%)", r->step,
             cn_rollout_gate_name(r->gate),
             cn_units_percent_text(a->weight_bp, pct, sizeof pct));
}

/*
 * Whether the change at the current step must wait for gate g (a weight
 * increase, or the promotion): not when the strategy has no such gate or
 * it said yes for this step; else it is asked (once: its answer comes as
 * a GATE event) and the rollout waits, progressing.
 */
static bool gate_wait(ctx_t *c, cn_rollout_gate_t g)
{
    cn_rollout_t *r = c->r;
    if (!gate_of(c->s, g))
        return false;
    if (r->gate_passed == r->step + 1) {
        r->gate = CN_ROLLOUT_GATE_NONE;
        return false;
    }
    if (r->gate == g && r->gate_in_flight)
        return true;
    bool first = r->gate != g;
    r->gate = g;
    ask_gate(c);
    if (first) {
        char pct[CN_UNITS_TEXT_BUF];
        record(c, "step %u: waiting for %s (weight %s%%)", r->step,
               cn_rollout_gate_name(g),
               cn_units_percent_text(gate_weight(c), pct, sizeof pct));
    }
    return true;
}

/*
 * Run the steps from the current one as far as they go now: the state is
 * progressing (or was just made so). Instant steps follow each other; a
 * step that waits returns. Every set_weight is followed by a waiting step
 * or the end, so an event runs at most a handful of steps.
 */
static void run_steps(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_strategy_t *s = c->s;
    int64_t now = c->ev->now_ms;
    char pct[CN_UNITS_TEXT_BUF];
    for (unsigned guard = 0; guard < 2 * CN_STRATEGY_STEPS_MAX + 2; guard++) {
        if (r->state != CN_ROLLOUT_PROGRESSING)
            return;
        const cn_strategy_step_t *st = current(c);
        if (!st) {
            char w[CN_UNITS_TEXT_BUF];
            char why[160];
            snprintf(why, sizeof why, "every step done at weight %s%%",
                     cn_units_percent_text(r->weight_bp, w, sizeof w));
            if (gate_wait(c, CN_ROLLOUT_GATE_PROMOTION))
                return;
            promote(c, why);
            return;
        }
        switch (st->kind) {
        case CN_STRATEGY_SET_WEIGHT:
            if (st->weight_bp > r->weight_bp && gate_wait(c, CN_ROLLOUT_GATE_TRAFFIC))
                return;
            r->weight_bp = st->weight_bp;
            r->shadow = false;
            r->shadow_bp = 0;
            set_traffic(c);
            record(c, "step %u: set_weight %s%%", r->step,
                   cn_units_percent_text(st->weight_bp, pct, sizeof pct));
            r->step++;
            r->attempt = 0;
            new_window(c);
            if (!r->traffic_started_ms) {
                begin_warmup(c);
                return;
            }
            continue;
        case CN_STRATEGY_SHADOW:
            if (!r->shadow) {
                r->shadow = true;
                r->shadow_bp = st->shadow.percent_bp;
                set_traffic(c);
                record(c, "step %u: shadow %s%% for %llu ms", r->step,
                       cn_units_percent_text(st->shadow.percent_bp, pct, sizeof pct),
                       (unsigned long long)st->shadow.duration_ms);
                new_window(c);
                if (!r->traffic_started_ms) {
                    begin_warmup(c);
                    return;
                }
            }
            if (now - r->step_started_ms < (int64_t)st->shadow.duration_ms)
                return;
            step_done(c);
            continue;
        case CN_STRATEGY_PAUSE:
            if (!st->pause.has_duration) {
                r->paused_by_step = true;
                transition(c, CN_ROLLOUT_PAUSED,
                           "step %u: pause until a person promotes (pause: {})",
                           r->step);
                return;
            }
            if (now - r->step_started_ms < (int64_t)st->pause.duration_ms)
                return;
            record(c, "step %u: pause of %llu ms done", r->step,
                   (unsigned long long)st->pause.duration_ms);
            step_done(c);
            continue;
        case CN_STRATEGY_ANALYSIS:
            if (st->analysis.mode == CN_STRATEGY_ANYTIME) {
                /* its tests run in the driver; a pass or a fail comes as
                 * an ANYTIME event */
                if (cn_strategy_analysis_rank(s, r->step) <
                    cn_strategy_analysis_count(s)) {
                    record(c,
                           "step %u: anytime analysis: no harm shown by the end of "
                           "the bake",
                           r->step);
                    step_done(c);
                    continue;
                }
                if (now - r->window_started_ms >= (int64_t)s->max_bake_ms) {
                    r->hold = CN_ROLLOUT_HOLD_ANYTIME;
                    transition(c, CN_ROLLOUT_HOLDING,
                               "anytime analysis (step %u): non-inferiority not shown "
                               "after max_bake %llu ms; %s",
                               r->step, (unsigned long long)s->max_bake_ms,
                               c->ev->kind == CN_ROLLOUT_EV_ANYTIME && c->ev->reason[0]
                                   ? c->ev->reason
                                   : "monitoring goes on");
                }
                return;
            }
            if (r->analysis_in_flight)
                return;
            if (r->attempt > 0 && now - r->step_started_ms < (int64_t)rebake_ms(c))
                return; /* a retry bakes its new window first */
            if (r->samples_need > 0 && r->samples_have >= r->samples_need) {
                start_attempt(c);
                return;
            }
            if (now - r->window_started_ms >= (int64_t)s->max_bake_ms) {
                r->hold = CN_ROLLOUT_HOLD_SAMPLES;
                transition(c, CN_ROLLOUT_HOLDING,
                           "n=%llu of %llu needed, at %.1f per minute, after max_bake "
                           "%llu ms (step %u); waiting for samples",
                           (unsigned long long)r->samples_have,
                           (unsigned long long)r->samples_need, r->samples_per_minute,
                           (unsigned long long)s->max_bake_ms, r->step);
            }
            return;
        default:
            return;
        }
    }
}

/* Leave a hold for samples once the floor is reached. */
static void check_samples_hold(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    if (r->state != CN_ROLLOUT_HOLDING || r->hold != CN_ROLLOUT_HOLD_SAMPLES)
        return;
    if (r->samples_need == 0 || r->samples_have < r->samples_need)
        return;
    r->hold = CN_ROLLOUT_HOLD_NONE;
    transition(c, CN_ROLLOUT_PROGRESSING, "n=%llu of %llu: sample floor reached",
               (unsigned long long)r->samples_have,
               (unsigned long long)r->samples_need);
    run_steps(c);
}

/* Holding for a gate: ask it again every gates.interval. */
static void check_gate_hold(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    if (r->state != CN_ROLLOUT_HOLDING || r->hold != CN_ROLLOUT_HOLD_GATE ||
        r->gate_in_flight)
        return;
    if (c->ev->now_ms - r->gate_asked_ms < (int64_t)c->s->gates.interval_ms)
        return;
    ask_gate(c);
}

/* Warmup: the deadline and the end of warmup. */
static void warmup_tick(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    int64_t now = c->ev->now_ms;
    if (r->state != CN_ROLLOUT_WARMUP)
        return;
    /* The canary must be healthy (an active check passed) and take
     * traffic by the deadline; warmup ends only when it is both. */
    if (!r->first_request_ms || !r->healthy) {
        if (now - r->traffic_started_ms >= (int64_t)c->s->progress_deadline_ms) {
            char why[200];
            snprintf(why, sizeof why, "progress deadline: the canary %s within %llu ms",
                     !r->healthy ? "never passed a health check" : "took no request",
                     (unsigned long long)c->s->progress_deadline_ms);
            rollback(c, CN_ROLLOUT_ABORTED, why);
        }
        return;
    }
    if (now < r->warmup_ends_ms)
        return;
    new_window(c);
    transition(c, CN_ROLLOUT_PROGRESSING, "warmup done");
    run_steps(c);
}

/* Everything an active rollout does with time or samples. */
static void advance(ctx_t *c)
{
    switch (c->r->state) {
    case CN_ROLLOUT_WARMUP:
        warmup_tick(c);
        break;
    case CN_ROLLOUT_PROGRESSING:
        run_steps(c);
        break;
    case CN_ROLLOUT_HOLDING:
        check_samples_hold(c);
        check_gate_hold(c);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ events */

static int refuse(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->out->error, sizeof c->out->error, fmt, ap);
    va_end(ap);
    return CN_EINVAL;
}

/* Warmup, progressing, paused or holding: where a person's commands and
 * the checks apply. */
static bool running(cn_rollout_state_t s)
{
    return s == CN_ROLLOUT_WARMUP || s == CN_ROLLOUT_PROGRESSING ||
           s == CN_ROLLOUT_PAUSED || s == CN_ROLLOUT_HOLDING;
}

static void start_run(ctx_t *c, bool dry_run)
{
    cn_rollout_t *r = c->r;
    cn_rollout_state_t from = r->state;
    uint64_t transitions = r->transitions;
    uint32_t run = r->run;
    cn_rollout_init(r);
    r->state = from;
    r->transitions = transitions;
    r->run = run + 1;
    r->dry_run = dry_run || c->s->dry_run;
    r->started_ms = c->ev->now_ms;
    r->step_started_ms = c->ev->now_ms;
    r->updated_ms = c->ev->now_ms;
    transition(c, CN_ROLLOUT_PROGRESSING, "%s by %s%s",
               run ? "retried from the first step" : "started", c->actor,
               r->dry_run ? " (dry run: traffic is never changed)" : "");
    run_steps(c);
}

static int on_analysis(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_rollout_event_t *ev = c->ev;
    if (!running(r->state))
        return 0; /* ended or not begun: nothing to decide */
    bool current_attempt =
        r->analysis_in_flight && ev->step == r->step && ev->attempt == r->attempt;
    if (ev->verdict == CN_ROLLOUT_VERDICT_FAIL) {
        /* Harm found is never ignored, even from an earlier attempt. */
        char why[CN_ROLLOUT_REASON_MAX];
        snprintf(why, sizeof why, "analysis at step %u, attempt %u failed: %.200s",
                 ev->step, ev->attempt, ev->reason);
        rollback(c, CN_ROLLOUT_ROLLED_BACK, why);
        return 0;
    }
    if (!current_attempt)
        return 0; /* a stale verdict: the driver records the analysis itself */
    r->analysis_in_flight = false;
    cn_rollout_analysis_t lv;
    cn_rollout_analysis_levels(c->cfg, r->step, r->attempt, &lv);
    cn_rollout_verdict_t v = ev->verdict;
    if (v == CN_ROLLOUT_VERDICT_PASS || (!lv.last && v == CN_ROLLOUT_VERDICT_NODATA)) {
        record(c, "step %u: analysis %u of %u %s: %s", r->step, lv.rank, lv.of,
               v == CN_ROLLOUT_VERDICT_PASS ? "passed" : "found no harm (no data)",
               ev->reason);
        step_done(c);
        run_steps(c);
        return 0;
    }
    if (v == CN_ROLLOUT_VERDICT_NODATA) {
        /* The last analysis without data: never a failure, never a pass. */
        r->hold = CN_ROLLOUT_HOLD_SAMPLES;
        r->samples_have = 0;
        /* The window goes on: what it waits for is its floor, not a bake. */
        r->step_started_ms = c->ev->now_ms - (int64_t)rebake_ms(c);
        if (r->state == CN_ROLLOUT_PAUSED)
            r->resume_state = CN_ROLLOUT_HOLDING;
        else
            transition(
                c, CN_ROLLOUT_HOLDING,
                "the last analysis (step %u) lacks data: %s; waiting for samples",
                r->step, ev->reason);
        return 0;
    }
    /* Marginal, or the last analysis not passing. */
    switch ((cn_strategy_marginal_t)c->s->on_marginal) {
    case CN_STRATEGY_MARGINAL_ROLLBACK: {
        char why[CN_ROLLOUT_REASON_MAX];
        snprintf(why, sizeof why,
                 "analysis at step %u marginal (on_marginal: rollback): %.180s",
                 r->step, ev->reason);
        rollback(c, CN_ROLLOUT_ROLLED_BACK, why);
        return 0;
    }
    case CN_STRATEGY_MARGINAL_RETRY:
        if (r->attempt < 1 + c->s->retries) {
            record(c, "step %u: analysis marginal, retrying on a new window: %s",
                   r->step, ev->reason);
            new_window(c);
            run_steps(c);
            return 0;
        }
        r->hold = CN_ROLLOUT_HOLD_BUDGET;
        if (r->state == CN_ROLLOUT_PAUSED)
            r->resume_state = CN_ROLLOUT_HOLDING;
        else
            transition(c, CN_ROLLOUT_HOLDING,
                       "analysis budget spent: %u attempts at step %u, the last "
                       "marginal: %s",
                       r->attempt, r->step, ev->reason);
        return 0;
    case CN_STRATEGY_MARGINAL_HOLD:
    default:
        r->hold = CN_ROLLOUT_HOLD_MARGINAL;
        if (r->state == CN_ROLLOUT_PAUSED)
            r->resume_state = CN_ROLLOUT_HOLDING;
        else
            transition(c, CN_ROLLOUT_HOLDING,
                       "analysis at step %u marginal (on_marginal: hold): %s", r->step,
                       ev->reason);
        return 0;
    }
}

/*
 * An anytime analysis's verdict. Fail: rolled back in any running state
 * (harm found is never ignored). Pass: only for the analysis being judged
 * now (cn_rollout_anytime_step), progressing or holding for it; the
 * driver sends it every second while it holds, so a pass that comes
 * while a person has paused the rollout takes effect after the resume.
 */
static int on_anytime(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_rollout_event_t *ev = c->ev;
    if (!running(r->state))
        return 0;
    if (ev->verdict == CN_ROLLOUT_VERDICT_FAIL) {
        char why[CN_ROLLOUT_REASON_MAX];
        snprintf(why, sizeof why, "analysis at step %u (anytime): %.200s", ev->step,
                 ev->reason);
        rollback(c, CN_ROLLOUT_ROLLED_BACK, why);
        return 0;
    }
    if (ev->verdict != CN_ROLLOUT_VERDICT_PASS)
        return 0;
    int64_t a = cn_rollout_anytime_step(c->cfg, r);
    if (a < 0 || (uint32_t)a != ev->step)
        return 0; /* not the analysis judged now: stale */
    if (r->state == CN_ROLLOUT_HOLDING && r->hold != CN_ROLLOUT_HOLD_ANYTIME)
        return 0;
    if (r->state != CN_ROLLOUT_PROGRESSING && r->state != CN_ROLLOUT_HOLDING)
        return 0;
    cn_rollout_analysis_t lv;
    cn_rollout_anytime_levels(c->cfg, ev->step, &lv);
    char what[CN_ROLLOUT_REASON_MAX];
    snprintf(what, sizeof what, "step %u: analysis %u of %u (anytime) passed: %.180s",
             ev->step, lv.rank, lv.of, ev->reason);
    r->step = ev->step + 1;
    r->attempt = 0;
    r->analysis_in_flight = false;
    r->step_started_ms = ev->now_ms;
    if (r->state == CN_ROLLOUT_HOLDING) {
        r->hold = CN_ROLLOUT_HOLD_NONE;
        transition(c, CN_ROLLOUT_PROGRESSING, "%s", what);
    } else {
        record(c, "%s", what);
    }
    run_steps(c);
    return 0;
}

/*
 * A gate's answer. Only the call out now counts (the gate and step it was
 * asked for); a late one, after a person went on, is stale. Yes: the
 * change goes ahead (leaving a gate hold). No, or no answer in time: a
 * progressing rollout holds (hold gate), and the tick asks again every
 * gates.interval; one paused by a person resumes into that hold.
 */
static int on_gate(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_rollout_event_t *ev = c->ev;
    if (!running(r->state) || !r->gate_in_flight || ev->gate != r->gate ||
        ev->step != r->step)
        return 0;
    r->gate_in_flight = false;
    const char *name = cn_rollout_gate_name(r->gate);
    char pct[CN_UNITS_TEXT_BUF];
    cn_units_percent_text(gate_weight(c), pct, sizeof pct);
    if (ev->verdict == CN_ROLLOUT_VERDICT_PASS) {
        r->gate_passed = r->step + 1;
        if (r->state == CN_ROLLOUT_HOLDING && r->hold == CN_ROLLOUT_HOLD_GATE) {
            r->hold = CN_ROLLOUT_HOLD_NONE;
            transition(c, CN_ROLLOUT_PROGRESSING,
                       "%s confirmed step %u (weight %s%%): %.150s", name, r->step, pct,
                       ev->reason);
            run_steps(c);
        } else if (r->state == CN_ROLLOUT_PROGRESSING) {
            record(c, "step %u: %s confirmed (weight %s%%): %.150s", r->step, name, pct,
                   ev->reason);
            run_steps(c);
        } else if (r->state == CN_ROLLOUT_PAUSED && r->hold == CN_ROLLOUT_HOLD_GATE) {
            r->hold = CN_ROLLOUT_HOLD_NONE;
            r->resume_state = CN_ROLLOUT_PROGRESSING;
        }
        return 0;
    }
    if (r->state == CN_ROLLOUT_PROGRESSING) {
        r->hold = CN_ROLLOUT_HOLD_GATE;
        transition(
            c, CN_ROLLOUT_HOLDING,
            "%s did not confirm step %u (weight %s%%): %.120s; asked again every "
            "%llu ms",
            name, r->step, pct, ev->reason,
            (unsigned long long)c->s->gates.interval_ms);
    } else if (r->state == CN_ROLLOUT_PAUSED &&
               r->resume_state == CN_ROLLOUT_PROGRESSING) {
        r->hold = CN_ROLLOUT_HOLD_GATE;
        r->resume_state = CN_ROLLOUT_HOLDING;
    }
    return 0;
}

/* A person's promote: finish the current step now. */
static void finish_step_now(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_strategy_step_t *st = current(c);
    /* At a gate, the step is the change the gate guards: a person vouches
     * for it, and it is made now (not skipped). */
    bool at_gate = r->gate != CN_ROLLOUT_GATE_NONE && r->gate_passed != r->step + 1;
    if (at_gate) {
        r->gate_passed = r->step + 1;
        r->gate_in_flight = false;
    }
    r->analysis_in_flight = false;
    r->hold = CN_ROLLOUT_HOLD_NONE;
    r->paused_by_step = r->step_done = false;
    r->resume_state = CN_ROLLOUT_PENDING;
    if (r->state == CN_ROLLOUT_WARMUP) {
        /* Warmup ends with the step: a person vouched for the canary. */
        if (!r->first_request_ms)
            r->first_request_ms = c->ev->now_ms;
        r->warmup_ends_ms = c->ev->now_ms;
        new_window(c);
    }
    if (r->state != CN_ROLLOUT_PROGRESSING)
        transition(c, CN_ROLLOUT_PROGRESSING,
                   "promote by %s: finish step %u (%s) now%s%s", c->actor, r->step,
                   st ? cn_strategy_step_kind_name((cn_strategy_step_kind_t)st->kind)
                      : "end",
                   c->ev->reason[0] ? ": " : "", c->ev->reason);
    else
        record(c, "promote by %s: finish step %u (%s) now%s%s", c->actor, r->step,
               st ? cn_strategy_step_kind_name((cn_strategy_step_kind_t)st->kind)
                  : "end",
               c->ev->reason[0] ? ": " : "", c->ev->reason);
    if (st && !at_gate) {
        r->step++;
        r->attempt = 0;
        r->step_started_ms = c->ev->now_ms;
    }
    if (!r->window_started_ms)
        r->window_started_ms = c->ev->now_ms;
    run_steps(c);
}

static int on_restart(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_rollout_event_t *ev = c->ev;
    r->samples_have = 0;
    switch (r->state) {
    case CN_ROLLOUT_PROMOTING: {
        cn_rollout_action_t *a = emit(c, CN_ROLLOUT_PROMOTE);
        snprintf(a->text, sizeof a->text,
                 "canary becomes stable (again after restart)");
        record(c, "restarted while promoting: the promotion is issued again");
        return 0;
    }
    case CN_ROLLOUT_ROLLING_BACK:
        set_traffic(c);
        record(c, "restarted while rolling back: weight 0 is set again");
        return 0;
    case CN_ROLLOUT_WARMUP:
    case CN_ROLLOUT_PROGRESSING:
    case CN_ROLLOUT_PAUSED:
    case CN_ROLLOUT_HOLDING:
        break;
    default:
        return 0;
    }
    if (ev->has_weight && ev->weight_bp == 0 && (r->weight_bp > 0 || r->shadow) &&
        !r->dry_run) {
        rollback(c, CN_ROLLOUT_ROLLED_BACK,
                 "restarted with the canary weight at 0: a rollback was interrupted "
                 "before it was recorded");
        return 0;
    }
    bool lost = r->analysis_in_flight;
    r->analysis_in_flight = false;
    /* a gate's call is lost with the process: asked again at once */
    r->gate_in_flight = false;
    r->gate_asked_ms = 0;
    if (r->state != CN_ROLLOUT_WARMUP)
        new_window(c);
    if (r->traffic_started_ms)
        set_traffic(c);
    record(c, "restarted at step %u: its bake restarts%s (%u attempts spent)", r->step,
           lost ? ", the analysis in flight is lost" : "", r->attempt);
    advance(c);
    return 0;
}

static int on_manual_traffic(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_rollout_event_t *ev = c->ev;
    char pct[CN_UNITS_TEXT_BUF];
    if (!running(r->state))
        return 0; /* promoting, rolling back or not running: nothing to do */
    if (ev->weight_bp == 0) {
        /* The operator's way out: the weight is already 0. */
        r->weight_bp = 0;
        r->shadow = false;
        r->analysis_in_flight = false;
        r->hold = CN_ROLLOUT_HOLD_NONE;
        r->paused_by_step = r->step_done = false;
        r->end_state = CN_ROLLOUT_ABORTED;
        transition(c, CN_ROLLOUT_ABORTED, "canary weight set to 0 by %s%s%s", c->actor,
                   ev->reason[0] ? ": " : "", ev->reason);
        cn_rollout_action_t *t = emit(c, CN_ROLLOUT_TAG);
        t->tag = "rolled-back";
        return 0;
    }
    if (!ev->override)
        return refuse(c,
                      "a rollout is %s: the change needs \"override\": true (which "
                      "pauses the rollout), or canary weight 0 (which aborts it)",
                      cn_rollout_state_name(r->state));
    if (r->state == CN_ROLLOUT_PAUSED) {
        record(c, "manual traffic change to %s%% by %s (override) while paused%s%s",
               cn_units_percent_text(ev->weight_bp, pct, sizeof pct), c->actor,
               ev->reason[0] ? ": " : "", ev->reason);
        return 0;
    }
    r->resume_state = r->state;
    transition(c, CN_ROLLOUT_PAUSED,
               "manual traffic change to %s%% by %s (override)%s%s",
               cn_units_percent_text(ev->weight_bp, pct, sizeof pct), c->actor,
               ev->reason[0] ? ": " : "", ev->reason);
    return 0;
}

static int dispatch(ctx_t *c)
{
    cn_rollout_t *r = c->r;
    const cn_rollout_event_t *ev = c->ev;
    const char *state = cn_rollout_state_name(r->state);
    const char *why = ev->reason;
    const char *sep = why[0] ? ": " : "";
    switch (ev->kind) {
    case CN_ROLLOUT_EV_START:
        if (r->state != CN_ROLLOUT_PENDING)
            return refuse(c, "the rollout has already started (%s)", state);
        start_run(c, ev->dry_run);
        return 0;
    case CN_ROLLOUT_EV_TICK:
        advance(c);
        return 0;
    case CN_ROLLOUT_EV_CANARY_HEALTHY:
        if (!running(r->state) || r->healthy)
            return 0;
        r->healthy = true;
        record(c, "canary healthy");
        return 0;
    case CN_ROLLOUT_EV_FIRST_REQUEST:
        if (!running(r->state) || r->first_request_ms)
            return 0;
        r->first_request_ms = ev->now_ms;
        r->warmup_ends_ms = ev->now_ms + (int64_t)c->s->warmup_ms;
        record(c, "canary's first request: warmup until +%llu ms",
               (unsigned long long)c->s->warmup_ms);
        advance(c);
        return 0;
    case CN_ROLLOUT_EV_SAMPLES:
        if (!running(r->state))
            return 0;
        r->samples_have = ev->samples_have;
        r->samples_need = floor_of(c, ev->samples_min_per_arm, ev->samples_floor_last);
        r->samples_per_minute = ev->samples_per_minute;
        advance(c);
        return 0;
    case CN_ROLLOUT_EV_ANALYSIS_RESULT:
        return on_analysis(c);
    case CN_ROLLOUT_EV_TRIGGER: {
        if (!running(r->state))
            return 0; /* promoting or rolling back already */
        char text[CN_ROLLOUT_REASON_MAX];
        snprintf(text, sizeof text, "trigger fired: %.230s", why);
        rollback(c, CN_ROLLOUT_ROLLED_BACK, text);
        return 0;
    }
    case CN_ROLLOUT_EV_PAUSE:
        if (r->state == CN_ROLLOUT_PAUSED)
            return refuse(c, "already paused%s",
                          r->paused_by_step ? " (a pause: {} step; promote ends it)"
                                            : "");
        if (!running(r->state))
            return refuse(c, "nothing to pause: the rollout is %s", state);
        r->resume_state = r->state;
        transition(c, CN_ROLLOUT_PAUSED, "paused by %s%s%s", c->actor, sep, why);
        return 0;
    case CN_ROLLOUT_EV_RESUME:
        if (r->state == CN_ROLLOUT_HOLDING && r->hold == CN_ROLLOUT_HOLD_GATE) {
            /* a person answers for the gate */
            const char *name = cn_rollout_gate_name(r->gate);
            r->gate_passed = r->step + 1;
            r->gate_in_flight = false;
            r->hold = CN_ROLLOUT_HOLD_NONE;
            transition(c, CN_ROLLOUT_PROGRESSING, "resumed by %s past %s%s%.150s",
                       c->actor, name, sep, why);
            run_steps(c);
            return 0;
        }
        if (r->state != CN_ROLLOUT_PAUSED)
            return refuse(c, "nothing to resume: the rollout is %s", state);
        if (r->paused_by_step)
            return refuse(c,
                          "step %u is a pause: {} step, which ends on promote, not "
                          "resume",
                          r->step);
        {
            cn_rollout_state_t back = r->resume_state;
            r->resume_state = CN_ROLLOUT_PENDING;
            transition(c, back, "resumed by %s%s%s", c->actor, sep, why);
            if (r->traffic_started_ms)
                set_traffic(c);
            if (r->step_done) {
                r->step_done = false;
                step_done(c);
            }
            advance(c);
        }
        return 0;
    case CN_ROLLOUT_EV_PROMOTE:
        if (!running(r->state))
            return refuse(c, "nothing to promote: the rollout is %s", state);
        finish_step_now(c);
        return 0;
    case CN_ROLLOUT_EV_PROMOTE_FULL: {
        if (!running(r->state))
            return refuse(c, "nothing to promote: the rollout is %s", state);
        char text[CN_ROLLOUT_REASON_MAX];
        snprintf(text, sizeof text, "promote --full by %.60s at step %u%s%.150s",
                 c->actor, r->step, sep, why);
        promote(c, text);
        return 0;
    }
    case CN_ROLLOUT_EV_ABORT: {
        char text[CN_ROLLOUT_REASON_MAX];
        snprintf(text, sizeof text, "aborted by %.60s%s%.180s", c->actor, sep, why);
        if (r->state == CN_ROLLOUT_PENDING) {
            r->end_state = CN_ROLLOUT_ABORTED;
            transition(c, CN_ROLLOUT_ABORTED, "%s", text);
            return 0;
        }
        if (!running(r->state))
            return refuse(c, "nothing to abort: the rollout is %s", state);
        rollback(c, CN_ROLLOUT_ABORTED, text);
        return 0;
    }
    case CN_ROLLOUT_EV_RETRY:
        if (r->state == CN_ROLLOUT_ROLLED_BACK || r->state == CN_ROLLOUT_ABORTED) {
            record(c, "retry by %s%s%s", c->actor, sep, why);
            start_run(c, ev->dry_run);
            return 0;
        }
        if (r->state == CN_ROLLOUT_HOLDING && r->hold == CN_ROLLOUT_HOLD_GATE)
            return refuse(
                c,
                "holding for %s, which is asked again every %llu ms: resume or "
                "promote to go on without it, or abort",
                cn_rollout_gate_name(r->gate),
                (unsigned long long)c->s->gates.interval_ms);
        if (r->state == CN_ROLLOUT_HOLDING && r->hold != CN_ROLLOUT_HOLD_SAMPLES) {
            if (r->attempt >= 1 + c->s->retries)
                return refuse(c,
                              "analysis budget spent (%u of %u attempts at step %u): "
                              "promote or abort",
                              r->attempt, 1 + c->s->retries, r->step);
            r->hold = CN_ROLLOUT_HOLD_NONE;
            new_window(c);
            r->step_started_ms -= (int64_t)rebake_ms(c); /* a person asked: now */
            transition(c, CN_ROLLOUT_PROGRESSING,
                       "retry by %s: a new analysis attempt%s%s", c->actor, sep, why);
            run_steps(c);
            return 0;
        }
        return refuse(c, "nothing to retry: the rollout is %s%s", state,
                      r->state == CN_ROLLOUT_HOLDING ? " for samples" : "");
    case CN_ROLLOUT_EV_MANUAL_TRAFFIC:
        return on_manual_traffic(c);
    case CN_ROLLOUT_EV_SUPERSEDED: {
        char text[CN_ROLLOUT_REASON_MAX];
        snprintf(text, sizeof text, "superseded by %.200s",
                 why[0] ? why : "a newer version");
        if (r->state == CN_ROLLOUT_PENDING) {
            r->superseded = true;
            r->end_state = CN_ROLLOUT_ABORTED;
            transition(c, CN_ROLLOUT_ABORTED, "%s", text);
            return 0;
        }
        if (r->state == CN_ROLLOUT_PROMOTING)
            return refuse(c, "the rollout is promoting: the newer version starts "
                             "against the new stable once it is done");
        if (!running(r->state))
            return 0;
        r->superseded = true;
        rollback(c, CN_ROLLOUT_ABORTED, text);
        return 0;
    }
    case CN_ROLLOUT_EV_PROGRESS_DEADLINE:
        if (r->state == CN_ROLLOUT_WARMUP && !r->first_request_ms)
            rollback(c, CN_ROLLOUT_ABORTED,
                     "progress deadline: the canary took no request in time");
        return 0;
    case CN_ROLLOUT_EV_PUBLISHED:
        if (r->state == CN_ROLLOUT_PROMOTING) {
            r->weight_bp = 0;
            r->shadow = false;
            transition(c, CN_ROLLOUT_PROMOTED, "promoted: the canary is stable");
        } else if (r->state == CN_ROLLOUT_ROLLING_BACK) {
            cn_rollout_state_t end = r->end_state;
            char text[CN_ROLLOUT_REASON_MAX];
            snprintf(text, sizeof text, "%.255s", r->reason);
            transition(c, end, "%s", text);
            if (!r->superseded) {
                cn_rollout_action_t *t = emit(c, CN_ROLLOUT_TAG);
                t->tag = "rolled-back";
            }
        }
        return 0;
    case CN_ROLLOUT_EV_RESTART:
        return on_restart(c);
    case CN_ROLLOUT_EV_ANYTIME:
        return on_anytime(c);
    case CN_ROLLOUT_EV_GATE:
        return on_gate(c);
    }
    return refuse(c, "unknown event %d", (int)ev->kind);
}

int cn_rollout_step(const cn_rollout_config_t *cfg, cn_rollout_t *r,
                    const cn_rollout_event_t *ev, cn_rollout_output_t *out)
{
    memset(out, 0, sizeof *out);
    if (!cfg || !cfg->strategy || !r || !ev) {
        snprintf(out->error, sizeof out->error, "no strategy, state or event");
        return CN_EINVAL;
    }
    cn_rollout_t next = *r;
    ctx_t c = {.cfg = cfg, .s = cfg->strategy, .r = &next, .ev = ev, .out = out};
    c.actor = ev->actor[0] ? ev->actor : "controller";
    int rc = dispatch(&c);
    if (rc) {
        out->n_actions = 0;
        return rc;
    }
    if (out->n_actions)
        next.updated_ms = ev->now_ms;
    *r = next;
    return 0;
}
