/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout state machine, as one pure function from (state, event) to
 * (new state, actions): cn_rollout_step(). A thin driver on the control
 * loop feeds it events (a tick a second, the canary's first request, an
 * analysis's verdict, a trigger, a person's command, a publication done,
 * a restart) and carries out the actions it returns, in order.
 *
 * States (cn_rollout_state_t):
 *
 *   pending --start--> warmup --first request + warmup--> progressing(i)
 *   progressing(i) --steps run--> promoting --published--> promoted
 *   any active --trigger / failed analysis--> rolling-back --published-->
 *       rolled-back
 *   any active --abort / superseded / progress deadline--> rolling-back
 *       --published--> aborted
 *   progressing --pause: {} step, or a person's pause--> paused
 *   progressing --marginal, budget spent, no samples by max_bake--> holding
 *   rolled-back, aborted --retry--> warmup (from the first step)
 *
 * The rules (issue 14; docs/STRATEGY.md):
 *  - set_weight and shadow steps set the traffic at once; the first one
 *    starts warmup, which starts with the canary's first request and
 *    lasts `warmup`; the progress deadline counts from that first traffic
 *    step: no healthy canary with a first request by then aborts.
 *  - A pause with a duration bakes that long (after warmup); `pause: {}`
 *    waits in `paused` for a person's promote (resume does not end it).
 *  - An analysis step waits for its sample floor (the judge's min_per_arm,
 *    or for the last analysis the floor every metric's test needs, or the
 *    step's min_samples), then starts an analysis of the window since the
 *    weight was set. Without the floor by `max_bake` after the window
 *    started it holds with "n=.. of .. needed, at .. per minute", and
 *    goes on by itself once the floor is reached. No data is never a
 *    failure.
 *  - Verdicts: fail rolls back, whatever the state (harm found is never
 *    ignored); pass advances; an analysis before the last also advances on
 *    no data. Marginal (and, for the last analysis, anything but pass)
 *    applies on_marginal: hold, retry (a new attempt on a new window, after
 *    the bake of the pause before the analysis) or rollback.
 *  - Error budget: attempt k of analysis step j of J may falsely fail with
 *    alpha_fail = (a*(j/J) - a*((j-1)/J)) / (1 + retries),
 *    a*(t) = alpha ln(1 + (e - 1) t) (cn_judge_spend_pocock); only the last
 *    analysis can pass, its attempts sharing alpha: alpha_pass =
 *    alpha / (1 + retries), 0 for the others. An attempt beyond 1 + retries
 *    holds with "analysis budget spent".
 *  - An analysis step with `mode: anytime` (JUDGE.md) never starts an
 *    analysis: the driver tests its window every second from the start
 *    of the pause before it and sends ANYTIME events for the step
 *    cn_rollout_anytime_step() names. Fail rolls back (in any running
 *    state, as a failed analysis does); pass, while the current step is
 *    that pause or that analysis (progressing, or holding for it), ends
 *    the bake at once and continues after the analysis step. With
 *    neither by the time run_steps reaches it, an anytime step before the
 *    last advances ("no harm shown by the end of the bake"); the last
 *    waits until max_bake after its window started, then holds (hold
 *    anytime) until a pass, a fail or a person. Levels: one anytime
 *    "attempt" takes the step's whole shares (cn_rollout_anytime_levels).
 *  - A person: pause (any active state; resume goes back), promote (finish
 *    the current step now), promote --full (skip the rest), abort (=
 *    rollback, final state aborted), retry (rolled-back or aborted: start
 *    again from the first step; holding: a new analysis attempt within the
 *    budget). A manual traffic change to weight 0 aborts; one with
 *    override pauses. Each is recorded with its actor and reason.
 *  - dry_run: every action is emitted as it would be, with dry_run set:
 *    the driver records and notifies but changes no traffic, publishes no
 *    promotion and sets no tag.
 *  - A strategy may end below 100: after its last step the rollout
 *    promotes from there.
 *  - Crash and restart: the state is persisted after each step, so a
 *    restart event resumes it: the current step's bake and window restart
 *    (samples live in memory), an analysis in flight is lost and its
 *    attempt stays spent, warmup keeps its end time, the traffic is set
 *    again (idempotent), and a promotion or rollback in flight is issued
 *    again (the driver treats one already done as done). If the router's
 *    canary weight is found at 0 while the rollout had set more, a
 *    rollback was interrupted between its publication and its record: the
 *    rollout aborts rather than raise the weight again.
 *
 * The driver's contract: carry out the actions in order; persist the new
 * state in the same store transaction as the RECORD actions, after any
 * SET_TRAFFIC before them (so that a rollback's weight 0 is published
 * before its decision is stored, as the issue asks); send PUBLISHED when
 * the SET_TRAFFIC or PROMOTE of a rolling-back or promoting rollout is
 * done.
 *
 * Pure: no I/O, no allocation, no global state, no clock (every event
 * carries its time). The state is a plain struct of fixed-size fields,
 * so it can be stored and restored exactly (cn_rollout_t).
 */
#ifndef CN_CONTROLLER_ROLLOUT_H
#define CN_CONTROLLER_ROLLOUT_H

#include "controller/strategy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cn_rollout_state_e {
    CN_ROLLOUT_PENDING = 0,
    CN_ROLLOUT_WARMUP = 1,
    CN_ROLLOUT_PROGRESSING = 2,
    CN_ROLLOUT_PAUSED = 3,
    CN_ROLLOUT_HOLDING = 4,
    CN_ROLLOUT_PROMOTING = 5,
    CN_ROLLOUT_PROMOTED = 6,
    CN_ROLLOUT_ROLLING_BACK = 7,
    CN_ROLLOUT_ROLLED_BACK = 8,
    CN_ROLLOUT_ABORTED = 9,
} cn_rollout_state_t;
#define CN_ROLLOUT_STATES 10

/* "pending", "warmup", "progressing", "paused", "holding", "promoting",
 * "promoted", "rolling-back", "rolled-back", "aborted"; "?" otherwise. */
const char *cn_rollout_state_name(cn_rollout_state_t s);
/* The state named name: 0, or CN_EINVAL. */
int cn_rollout_state_parse(const char *name, cn_rollout_state_t *out);

/* Whether the rollout is still running (warmup, progressing, paused,
 * holding, promoting, rolling-back): at most one per model. */
bool cn_rollout_active(cn_rollout_state_t s);
/* Whether it has ended (promoted, rolled-back, aborted). */
bool cn_rollout_final(cn_rollout_state_t s);

/* Why a rollout holds. */
typedef enum cn_rollout_hold_e {
    CN_ROLLOUT_HOLD_NONE = 0,
    CN_ROLLOUT_HOLD_SAMPLES = 1,  /* floor not reached by max_bake; goes on by
                                     itself when it is */
    CN_ROLLOUT_HOLD_MARGINAL = 2, /* on_marginal: hold */
    CN_ROLLOUT_HOLD_BUDGET = 3,   /* analysis budget spent */
    CN_ROLLOUT_HOLD_ANYTIME = 4,  /* the last analysis is anytime and has not
                                     shown non-inferiority by max_bake; goes
                                     on by itself when it does */
    CN_ROLLOUT_HOLD_GATE = 5,     /* a gate hook said no (or nothing in time);
                                     asked again every gates.interval, goes on
                                     by itself when it says yes */
} cn_rollout_hold_t;

/* Which gate hook (strategy.gates) a rollout waits for. */
typedef enum cn_rollout_gate_e {
    CN_ROLLOUT_GATE_NONE = 0,
    CN_ROLLOUT_GATE_TRAFFIC = 1,   /* confirm_traffic_increase */
    CN_ROLLOUT_GATE_PROMOTION = 2, /* confirm_promotion */
} cn_rollout_gate_t;

/* "none", "confirm_traffic_increase", "confirm_promotion"; "?" otherwise. */
const char *cn_rollout_gate_name(cn_rollout_gate_t g);

/* "none", "samples", "marginal", "budget", "anytime", "gate". */
const char *cn_rollout_hold_name(cn_rollout_hold_t h);

/* Longest texts kept in the state and in actions (bytes, with the NUL). */
#define CN_ROLLOUT_REASON_MAX 256
#define CN_ROLLOUT_ACTOR_MAX 64

/*
 * The persisted state of one rollout. Every field is a plain value; a
 * store keeps one column per field (see the report of issue 14) and gets
 * back an identical struct. Times are milliseconds since the Unix epoch
 * (the events' clock), 0 for "not yet".
 */
typedef struct cn_rollout_s {
    cn_rollout_state_t state;
    cn_rollout_state_t resume_state; /* paused by a person: the state resume
                                        returns to; else PENDING */
    cn_rollout_state_t end_state;    /* rolling-back: rolled-back or aborted */
    cn_rollout_hold_t hold;          /* holding: why */
    uint32_t step;       /* index of the current step; n_steps: past the last */
    uint32_t run;        /* 1 on start, +1 per retry from the start */
    uint16_t weight_bp;  /* the canary weight the rollout has set */
    uint16_t shadow_bp;  /* the shadow share, when shadow */
    bool shadow;         /* the traffic is a shadow copy (shadow step) */
    bool dry_run;        /* change no traffic (the strategy's or the start's) */
    bool paused_by_step; /* paused: by a `pause: {}` step (promote ends it) */
    bool step_done;      /* paused by a person: the current step finished
                            meanwhile; resume advances */
    bool healthy;        /* the canary was reported healthy */
    bool analysis_in_flight;
    bool superseded;            /* ended by a newer candidate: no rolled-back tag */
    uint32_t attempt;           /* attempts started at the current analysis step
                                   (an attempt in flight, or lost in a crash, counts) */
    int64_t started_ms;         /* start (or the last retry from the start) */
    int64_t traffic_started_ms; /* the first set_weight or shadow step: the
                                   progress deadline counts from here */
    int64_t first_request_ms;   /* the canary's first request */
    int64_t warmup_ends_ms;     /* first request + warmup */
    int64_t step_started_ms;    /* the current step's bake began */
    int64_t window_started_ms;  /* the judged window began: weight set (or
                                   new attempt), after warmup */
    int64_t updated_ms;         /* the last event that changed the state */
    uint64_t samples_have;      /* last reported: fewer of the two arms */
    uint64_t samples_need;      /* the floor the current step waits for */
    double samples_per_minute;  /* rate at which the fewer arm grows */
    uint64_t transitions;       /* state changes so far (audit sequence) */
    /* Gate hooks: the gate being asked (progressing, or holding for it),
     * whether its call is out, when it was last asked, and the gate that
     * said yes, as step + 1 (the promotion's step is n_steps). */
    cn_rollout_gate_t gate;
    bool gate_in_flight;
    int64_t gate_asked_ms;
    uint32_t gate_passed;
    /* The blast radius so far (kept by the driver, stored with the
     * machine, never read by it): the user requests the canary answered,
     * how many of them failed, and the user requests of both arms since
     * the rollout began. */
    uint64_t blast_requests, blast_failed, blast_all;
    char reason[CN_ROLLOUT_REASON_MAX]; /* why the last state change
                                           happened (hold, pause, end) */
} cn_rollout_t;

/* What the machine needs besides the state: borrowed, never changed. */
typedef struct cn_rollout_config_s {
    const cn_strategy_t *strategy; /* valid (cn_strategy_validate) */
    double alpha;                  /* the analysis section's alpha, (0, 1) */
} cn_rollout_config_t;

typedef enum cn_rollout_verdict_e {
    CN_ROLLOUT_VERDICT_PASS = 0,
    CN_ROLLOUT_VERDICT_FAIL = 1,
    CN_ROLLOUT_VERDICT_MARGINAL = 2,
    CN_ROLLOUT_VERDICT_NODATA = 3, /* a metric short of data: never a fail */
} cn_rollout_verdict_t;

typedef enum cn_rollout_event_kind_e {
    CN_ROLLOUT_EV_START = 1,         /* dry_run ORs the strategy's */
    CN_ROLLOUT_EV_TICK,              /* once a second */
    CN_ROLLOUT_EV_CANARY_HEALTHY,    /* the canary passed its health check */
    CN_ROLLOUT_EV_FIRST_REQUEST,     /* the canary answered its first request */
    CN_ROLLOUT_EV_SAMPLES,           /* the window's sample counts */
    CN_ROLLOUT_EV_ANALYSIS_RESULT,   /* a verdict, for step and attempt */
    CN_ROLLOUT_EV_TRIGGER,           /* a trigger fired (reason: name, stat) */
    CN_ROLLOUT_EV_PAUSE,             /* a person */
    CN_ROLLOUT_EV_RESUME,            /* a person */
    CN_ROLLOUT_EV_PROMOTE,           /* a person: finish the current step */
    CN_ROLLOUT_EV_PROMOTE_FULL,      /* a person: skip the remaining steps */
    CN_ROLLOUT_EV_ABORT,             /* a person */
    CN_ROLLOUT_EV_RETRY,             /* a person */
    CN_ROLLOUT_EV_MANUAL_TRAFFIC,    /* a PUT of the traffic or versions */
    CN_ROLLOUT_EV_SUPERSEDED,        /* a newer candidate (version) */
    CN_ROLLOUT_EV_PROGRESS_DEADLINE, /* the driver's own deadline timer */
    CN_ROLLOUT_EV_PUBLISHED,         /* a promotion or rollback publication done */
    CN_ROLLOUT_EV_RESTART,           /* canary serve started again */
    CN_ROLLOUT_EV_ANYTIME,           /* an anytime analysis: verdict (pass:
                                        non-inferiority shown; fail: harm
                                        shown), step, reason */
    CN_ROLLOUT_EV_GATE,              /* a gate hook's answer: gate, step,
                                        verdict pass (2xx) or fail, reason */
} cn_rollout_event_kind_t;

/* "start", "tick", ..., "restart"; "?" otherwise. */
const char *cn_rollout_event_name(cn_rollout_event_kind_t k);

typedef struct cn_rollout_event_s {
    cn_rollout_event_kind_t kind;
    int64_t now_ms;                     /* the time of the event */
    char actor[CN_ROLLOUT_ACTOR_MAX];   /* who: "admin alice", "trigger" */
    char reason[CN_ROLLOUT_REASON_MAX]; /* why, for people */
    bool dry_run;                       /* START, RETRY: dry run asked */
    /* SAMPLES: the fewer arm's samples in the window, the floors the
     * driver derived (the judge's min_per_arm; the last analysis's
     * auto floor), and the fewer arm's rate */
    uint64_t samples_have, samples_min_per_arm, samples_floor_last;
    double samples_per_minute;
    /* ANALYSIS_RESULT: the step and attempt of its START_ANALYSIS;
     * ANYTIME: the step (cn_rollout_anytime_step) and pass or fail */
    uint32_t step, attempt;
    cn_rollout_verdict_t verdict;
    /* MANUAL_TRAFFIC: the new canary weight and whether it overrides */
    uint16_t weight_bp;
    bool override;
    /* RESTART: the canary weight the router runs now (weight_bp), when
     * known */
    bool has_weight;
    /* GATE: which gate answered (for the step in `step`) */
    cn_rollout_gate_t gate;
} cn_rollout_event_t;

typedef enum cn_rollout_action_kind_e {
    CN_ROLLOUT_SET_TRAFFIC = 1,    /* weight_bp, shadow, shadow_bp */
    CN_ROLLOUT_PROMOTE = 2,        /* canary to stable in one publication and one
                                      registry transaction (old stable retired) */
    CN_ROLLOUT_START_ANALYSIS = 3, /* analysis */
    CN_ROLLOUT_RECORD = 4,         /* an audit entry: from, to, actor, text */
    CN_ROLLOUT_TAG = 5,            /* tag the canary version: tag */
    CN_ROLLOUT_NOTIFY = 6,         /* from, to, text */
    CN_ROLLOUT_ASK_GATE = 7,       /* call gate hook `gate` for step
                                      analysis.step at weight_bp; answer with
                                      a GATE event */
} cn_rollout_action_kind_t;

/* "set-traffic", "promote", "start-analysis", "record", "tag", "notify",
 * "ask-gate". */
const char *cn_rollout_action_name(cn_rollout_action_kind_t k);

/* What an analysis is to judge, and at what levels. */
typedef struct cn_rollout_analysis_s {
    uint32_t step;              /* index in the strategy */
    uint32_t rank, of;          /* analysis j of J */
    uint32_t attempt, attempts; /* attempt k of 1 + retries */
    bool last;                  /* the last analysis: the only one that passes */
    bool paired;                /* the window is a shadow step's */
    double alpha_fail, alpha_pass;
    int64_t window_start_ms; /* judge [window_start_ms, now] */
} cn_rollout_analysis_t;

typedef struct cn_rollout_action_s {
    cn_rollout_action_kind_t kind;
    bool dry_run; /* record and notify only: no traffic, promotion or tag */
    uint16_t weight_bp, shadow_bp;
    bool shadow;
    cn_rollout_analysis_t analysis;
    cn_rollout_state_t from, to;
    const char *tag;        /* "rolled-back"; static */
    cn_rollout_gate_t gate; /* ASK_GATE */
    char actor[CN_ROLLOUT_ACTOR_MAX];
    char text[CN_ROLLOUT_REASON_MAX + 128];
} cn_rollout_action_t;

/* Most actions one event yields. */
#define CN_ROLLOUT_ACTIONS_MAX 16

typedef struct cn_rollout_output_s {
    cn_rollout_action_t actions[CN_ROLLOUT_ACTIONS_MAX];
    size_t n_actions;
    char error[CN_ROLLOUT_REASON_MAX]; /* a refused event: why */
} cn_rollout_output_t;

/* A rollout not started: pending, step 0, nothing set. */
void cn_rollout_init(cn_rollout_t *r);

/*
 * Apply event ev to *r under cfg. Returns 0 with *r updated and the
 * actions in *out (possibly none: a tick with nothing due, a stale
 * verdict); or CN_EINVAL when the event is refused in this state (a
 * person's resume with nothing paused, an abort of an ended rollout, a
 * manual traffic change without override, a retry beyond the budget...),
 * with *r unchanged, no actions and one line in out->error for the
 * person (an API answers 409 with it). An event kind out of range, or a
 * config without strategy, is CN_EINVAL too.
 */
int cn_rollout_step(const cn_rollout_config_t *cfg, cn_rollout_t *r,
                    const cn_rollout_event_t *ev, cn_rollout_output_t *out);

/*
 * The levels of attempt k (1-based) of the analysis step at index `step`:
 * what START_ANALYSIS carries. Returns 0, or CN_EINVAL when the step is
 * not an analysis or k is beyond 1 + retries.
 */
int cn_rollout_analysis_levels(const cn_rollout_config_t *cfg, uint32_t step,
                               uint32_t attempt, cn_rollout_analysis_t *out);

/*
 * The levels of the anytime analysis at index `step`: alpha_fail is the
 * step's whole Pocock increment (all 1 + retries attempts' shares: an
 * anytime analysis has one attempt, which never ends before its step
 * does), alpha_pass the analysis alpha (for the last analysis, all its
 * attempts' shares; before it, an early advance at the same level, which
 * promotes nothing). attempt = attempts = 1. CN_EINVAL when the step is
 * not an anytime analysis.
 */
int cn_rollout_anytime_levels(const cn_rollout_config_t *cfg, uint32_t step,
                              cn_rollout_analysis_t *out);

/*
 * The index of the anytime analysis whose window is being judged now, or
 * -1: the current step when it is an anytime analysis, or the next one
 * when the current step is a pause right before one; the rollout must be
 * progressing, paused or holding. The driver feeds that analysis's tests
 * and names it in ANYTIME events.
 */
int64_t cn_rollout_anytime_step(const cn_rollout_config_t *cfg, const cn_rollout_t *r);

#endif
