/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The control loop: one thread with its own libuv loop that owns every
 * change of the traffic split and of the two version sets (and, from the
 * rollout issue on, the rollouts). Nothing else publishes to the router or
 * writes the state file while serving.
 *
 * A change is a command: any thread submits it with a completion callback
 * (cn_controller_submit). The loop takes commands one at a time, in the
 * order they were submitted, and for each one:
 *  1. applies it to the current generation (a partial change keeps the
 *     other fields as they are *now*, not as they were when the command
 *     was built, so two concurrent PUTs never undo each other);
 *  2. validates the result against the running config
 *     (cn_controller_validate: a canary weight or shadow mode with no
 *     canary address, sticky mode without a sticky key, bad or duplicate
 *     addresses, a label clash); a refusal changes nothing;
 *  3. if it differs from the current generation: applies it through the
 *     traffic engine (engine.h; the router unless another is given) as one
 *     generation (a new measurement step), stores it with its
 *     history in one transaction, and logs one line; steps 3's publication
 *     and store write block (the router waits for its workers, the store
 *     for fsync), so they run off the loop (uv_queue_work), and the next
 *     command waits until they are done;
 *  4. calls the command's callback with the result.
 * A change that changes nothing publishes nothing, stores nothing and opens
 * no step (PUT is idempotent).
 *
 * Order of publication and storage: the router first, then the store, so a
 * slow or full disk never delays a rollback. A failed store is reported to
 * the caller as CN_EIO ("published, but not stored"): the change is live
 * but would not survive a restart.
 *
 * Threads: every function may be called from any thread, except that
 * callbacks run on the control loop's thread and must not block (post the
 * result to your own loop). Reading the current state
 * (cn_controller_current) takes a mutex for a copy, never waits for a
 * change in flight.
 */
#ifndef CN_CONTROLLER_CONTROLLER_H
#define CN_CONTROLLER_CONTROLLER_H

#include "controller/engine.h"
#include "controller/rollout.h"
#include "controller/strategy.h"
#include "controller/triggers.h"
#include "judge/judge.h"
#include "notify/notify.h"
#include "registry/registry.h"
#include "router/router.h"
#include "store/store.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cn_controller_s cn_controller_t;

/* Longest `who` of a change (who asked for it, for the log and history). */
#define CN_CONTROLLER_WHO_MAX 127u
/* Commands waiting at most; more are refused with CN_ETOOBIG. */
#define CN_CONTROLLER_QUEUE_MAX 1024u

/*
 * The running config a change is validated against: what was fixed at start
 * and cannot change at run time.
 */
typedef struct cn_controller_limits_s {
    bool sticky_key; /* a sticky header or cookie is configured */
} cn_controller_limits_t;

/*
 * One change: any subset of the traffic fields and of the two version
 * sets, or a promotion. Build it with cn_controller_change_init, set what
 * you change, and dispose it after cn_controller_submit (which copies it).
 */
typedef struct cn_controller_change_s {
    /* traffic: each field applies only when its has_ flag is set */
    bool has_canary_weight, has_shadow, has_mode, has_force;
    cn_traffic_t traffic;
    /* versions: sets[role] replaces that role's set when has_set[role] */
    bool has_set[CN_ROLE_COUNT];
    cn_version_set_t sets[CN_ROLE_COUNT];
    /*
     * Promotion: the canary set becomes the stable set and the canary set
     * becomes empty, with the canary weight at 0 (and shadow mode falls back
     * to random, which needs no canary), in one publication. Exclusive with
     * every other field. Refused (CN_EINVAL) when the canary set has no
     * addresses: there is nothing to promote.
     */
    bool promote;
    /*
     * While a rollout is running, a change of the traffic or the version
     * sets is refused (CN_ECONFLICT, naming the rollout) unless it sets
     * `override`, which pauses the rollout and is recorded in its audit
     * trail; a canary weight of 0 is always accepted, and aborts the
     * rollout (the operator's way out is never refused).
     */
    bool override;
    /*
     * A whole generation from a controller that drives this one from afar
     * (a `canary serve` replica under `canary control`, PUT
     * /v1/generation): its number there, >= 1. The change sets every
     * traffic field and both sets. It is published even if it changes
     * nothing (the remote generation opens a measurement step of its
     * own), and the number of the last one applied again changes nothing
     * (idempotent: changed false). A number below the last one applied is
     * refused (CN_ECONFLICT: a late copy of an older decision) unless
     * remote_takeover (a new controller, whose numbers start over).
     * 0: a local change.
     */
    uint64_t remote_generation;
    bool remote_takeover;
    char who[CN_CONTROLLER_WHO_MAX + 1]; /* "admin 127.0.0.1", "start" */
} cn_controller_change_t;

void cn_controller_change_init(cn_controller_change_t *c, const char *who);
void cn_controller_change_dispose(cn_controller_change_t *c);

/* What became of a change. */
typedef struct cn_controller_result_s {
    /*
     * 0: applied (or nothing to change);
     * CN_EINVAL: refused by validation, nothing changed (an API answers 400);
     * CN_ECONFLICT: refused because a rollout is running (409);
     * CN_EIO: published but not stored (500); other codes: not published
     * (500). `error` holds one line naming the field, for people.
     */
    int rc;
    char error[512];
    bool changed;                 /* false: it changed nothing; no new step */
    uint16_t effective_weight_bp; /* what the engine applies, when changed
                                     (an engine may quantise the weight) */
    cn_generation_t generation;   /* the current generation afterwards */
    cn_step_t step;               /* the current step afterwards */
} cn_controller_result_t;

/* Called once per submitted change, on the control loop's thread, with
 * the result (borrowed: valid during the call). Must not block. */
typedef void (*cn_controller_done_cb)(const cn_controller_result_t *result, void *arg);

typedef struct cn_controller_config_s {
    cn_router_t *router; /* borrowed; required */
    /* Where changes are applied (borrowed); NULL: the router itself
     * (engine.h). */
    cn_traffic_engine_t *engine;
    cn_store_t *store;             /* borrowed; NULL: nothing is persisted */
    cn_controller_limits_t limits; /* copied */
    /* The generation the router was started with (copied). Its number and
     * traffic must be what the router runs now. */
    const cn_generation_t *initial;
    FILE *log; /* one line per change; NULL: stderr */

    /*
     * Rollouts (driver.c). registry NULL or strategy NULL: no rollouts
     * (cn_controller_rollout_op answers CN_EINVAL saying why). All
     * borrowed; they must outlive the controller.
     */
    cn_registry_t *registry;
    const char *model;                 /* the model this canary serve fronts */
    const cn_strategy_t *strategy;     /* valid (cn_strategy_validate) */
    const cn_judge_config_t *analysis; /* valid; what each analysis judges */
    cn_metrics_source_t *metrics;      /* NULL: the router's snapshots */
    struct cn_feedback_s *feedback;    /* the fed metrics (feedback.h) the
                                          analyses also judge; NULL: none */
    unsigned tick_ms;                  /* the rollout clock; 0: 1000 */
    /* Notifications and gate hooks (notify.h): events go to its targets
     * through the store's outbox, gates are called on its thread. NULL:
     * no notifications, and a gate is never confirmed (the rollout holds
     * at it until a person acts). Borrowed; it must outlive the
     * controller's stop (free it after cn_controller_stop, before
     * cn_controller_free). */
    cn_notify_t *notify;
} cn_controller_config_t;

/*
 * Create the controller and start its thread. Returns 0, or CN_EINVAL (a
 * missing router or initial generation, or an initial generation that does
 * not validate) / CN_EIO (no loop or thread) with one line in err; *out is
 * then NULL.
 */
int cn_controller_new(const cn_controller_config_t *cfg, cn_controller_t **out,
                      char *err, size_t errlen);

/*
 * Submit a change (copied). done is called exactly once, on the control
 * loop, unless this returns an error: CN_ETOOBIG when
 * CN_CONTROLLER_QUEUE_MAX changes are waiting, CN_EINVAL after
 * cn_controller_stop. Any thread.
 */
int cn_controller_submit(cn_controller_t *c, const cn_controller_change_t *change,
                         cn_controller_done_cb done, void *arg);

/* A copy of the current generation (out is disposed first if it was
 * initialised; pass a zeroed or initialised one) and step. Any thread. */
void cn_controller_current(cn_controller_t *c, cn_generation_t *out, cn_step_t *step);

/*
 * Finish every change already submitted (their callbacks run), refuse new
 * ones, and join the thread. Idempotent. Any thread but the control loop's.
 */
void cn_controller_stop(cn_controller_t *c);

/* Stop if needed and free. NULL is a no-op. */
void cn_controller_free(cn_controller_t *c);

/*
 * The last remote generation applied (cn_controller_change_t's
 * remote_generation; 0: none since start) and what it opened here: the
 * local generation and its step. Any thread.
 */
void cn_controller_remote(cn_controller_t *c, uint64_t *remote, uint64_t *local,
                          cn_step_t *step);

/* ------------------------------------------------------------ rollouts */

/* A person's (or the registry's) command to the rollout machine. */
typedef enum cn_controller_op_kind_e {
    CN_CONTROLLER_OP_START = 1, /* model, version, dry_run: start a rollout
                                   (superseding the model's active one) */
    CN_CONTROLLER_OP_PAUSE,
    CN_CONTROLLER_OP_RESUME,
    CN_CONTROLLER_OP_PROMOTE,      /* finish the current step now */
    CN_CONTROLLER_OP_PROMOTE_FULL, /* skip the remaining steps */
    CN_CONTROLLER_OP_ABORT,
    CN_CONTROLLER_OP_RETRY,
} cn_controller_op_kind_t;

/* A parity check's own addresses (cn_controller_op_t) at most, and the
 * longest one. */
#define CN_CONTROLLER_PARITY_ADDRESSES_MAX 32u
#define CN_CONTROLLER_ADDRESS_MAX 255u

typedef struct cn_controller_op_s {
    cn_controller_op_kind_t kind;
    int64_t id; /* every op but START: the rollout */
    char model[CN_STORE_NAME_MAX + 1];
    char version[CN_VERSION_LABEL_MAX + 1];
    bool dry_run; /* START, RETRY */
    /* START: a parity check (controller/parity.h) instead of a rollout of
     * `version` (which is then ignored): stable's own version as the
     * canary arm, on `addresses` (none: stable's own addresses) */
    bool parity;
    size_t n_addresses;
    char addresses[CN_CONTROLLER_PARITY_ADDRESSES_MAX][CN_CONTROLLER_ADDRESS_MAX + 1];
    char actor[CN_ROLLOUT_ACTOR_MAX];   /* "admin 127.0.0.1" */
    char reason[CN_ROLLOUT_REASON_MAX]; /* may be "" */
} cn_controller_op_t;

typedef struct cn_controller_op_result_s {
    /* 0; CN_EINVAL (a bad request: an unknown model or version, the
     * stable version, no strategy); CN_ENOTFOUND (no such rollout, or it
     * is not this serve's model's active one for a control);
     * CN_ECONFLICT (refused in its state: the machine's reason); CN_EIO
     * (the state file failed). error: one line for people. */
    int rc;
    char error[512];
    int64_t id; /* the rollout acted on (START: the new one) */
    /* When has_row: the rollout as stored after the command (its
     * machine pointer NULL; its strategy borrowed for the callback) and
     * its state machine. */
    bool has_row;
    cn_store_rollout_t row;
    cn_rollout_t machine;
} cn_controller_op_result_t;

typedef void (*cn_controller_op_cb)(const cn_controller_op_result_t *result, void *arg);

/*
 * Submit a rollout command; done is called exactly once on the control
 * loop (must not block) unless this returns CN_ETOOBIG / CN_EINVAL as
 * cn_controller_submit does. Commands and changes share one queue, so
 * they are applied one at a time in submission order.
 */
int cn_controller_rollout_op(cn_controller_t *c, const cn_controller_op_t *op,
                             cn_controller_op_cb done, void *arg);

/* What the controller knows of the active rollout now, beyond its row. */
typedef struct cn_controller_live_s {
    int64_t id;                       /* 0: no active rollout */
    cn_rollout_t machine;             /* its state machine */
    uint64_t canary_requests;         /* in the current window */
    uint64_t stable_requests;         /* in the current window */
    uint64_t canary_served;           /* canary requests since the rollout began
                                         (this process) */
    uint64_t blast_failed, blast_all; /* the canary's failed user requests,
                                        and every user request, since the
                                        rollout began (the blast radius) */
    /* each arm's p99 in the current window, a confidence interval at the
     * triggers' level a check (cn_triggers_p99_interval), in ms; [role] */
    bool has_p99[2];
    double p99_lo_ms[2], p99_hi_ms[2];
    double p99_level;
    bool has_triggers; /* triggers ran at the last tick */
    cn_trigger_result_t triggers;
    /* the sequential triggers (triggers.sequential), when they run for
     * this rollout's run: per metric its e-value against the threshold */
    bool has_sequential;
    double seq_alpha, seq_threshold; /* threshold: metrics / alpha */
    uint64_t seq_seconds;            /* seconds monitored */
    size_t n_seq;
    struct {
        const char *metric; /* "error", "latency_ms", "prediction"; static */
        bool started;       /* thresholds fixed (latency, prediction) */
        double e_value, pvalue;
        uint64_t canary_requests; /* counted by the test */
    } seq[3];
    bool has_verdict; /* an analysis finished */
    char verdict[16]; /* pass, fail, marginal */
    char verdict_reason[320];
    int64_t verdict_ms;
} cn_controller_live_t;

/* A copy of the live view of the model's active rollout (id 0 if none).
 * Any thread; never waits for work in flight. */
void cn_controller_live(cn_controller_t *c, cn_controller_live_t *out);

/*
 * The checks of a generation against the running config, as one pure
 * function (the loop calls it for every change; the server for the
 * generation it starts with). In order:
 *  - each set: a label of 1..CN_VERSION_LABEL_MAX visible ASCII characters
 *    without '"' or '\\' (as the config's labels),
 *    at most CN_VERSION_MAX_ADDRESSES addresses, each "host:port" or
 *    "[v6]:port" with a port in [1, 65535], no address twice in a set;
 *  - no address in both sets (one server is one version: as in the
 *    config and the router), unless the canary label is the parity label
 *    of stable's (types.h: a parity check's arm, the same servers);
 *  - at least one stable address;
 *  - the two labels differ;
 *  - a canary weight > 0, or shadow mode, needs a canary address;
 *  - sticky mode needs a sticky key (limits->sticky_key);
 *  - the traffic fields in range (cn_traffic_validate).
 * Returns 0, or CN_EINVAL with one line in err naming the field as the API
 * spells it, e.g. "canary.addresses[1]: duplicate address '127.0.0.1:9002'"
 * or "canary_weight: must stay 0: the canary set has no addresses".
 */
int cn_controller_validate(const cn_generation_t *g,
                           const cn_controller_limits_t *limits, char *err,
                           size_t errlen);

#endif
