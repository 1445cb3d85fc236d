/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What controller.c (the queue and the changes) and driver.c (the
 * rollouts) share. Private to the controller module.
 *
 * One queue: a command is a change (a PUT), or a job (the rollout
 * driver's tick, a person's rollout command, an analysis's verdict).
 * The loop takes one at a time; a command's blocking part runs on the
 * thread pool, and the next command starts only after it: so the driver's
 * state is touched by one thread at a time (a job's work on the pool,
 * then its after on the loop), with no lock, and nothing a job decides
 * is overtaken by a change that was queued after it.
 */
#ifndef CN_CONTROLLER_CONTROLLER_INTERNAL_H
#define CN_CONTROLLER_CONTROLLER_INTERNAL_H

#include "controller/controller.h"

#include <pthread.h>
#include <uv.h>

typedef struct cn_driver_s cn_driver_t;

/* A job: work runs on the thread pool, after on the loop (it frees arg). */
typedef void (*cn_job_fn)(cn_controller_t *c, void *arg);

typedef enum { CMD_CHANGE = 0, CMD_JOB = 1 } cmd_kind_t;

typedef struct cmd_s {
    struct cmd_s *next;
    cmd_kind_t kind;
    cn_controller_change_t change;
    cn_controller_done_cb done;
    void *arg;
    cn_job_fn job_work, job_after; /* CMD_JOB */
    cn_controller_t *ctl;
    uv_work_t work;
    cn_generation_t next_gen; /* what is published */
    bool traffic_changed, sets_changed;
    cn_controller_result_t result;
} cmd_t;

struct cn_controller_s {
    cn_router_t *router;
    cn_engine_router_t router_engine; /* the default traffic engine */
    cn_traffic_engine_t *engine;      /* what apply goes to */
    cn_metrics_source_t *metrics;
    struct cn_feedback_s *feedback;
    /* borrowed; NULL: nothing fed */ /* what rollouts read */
    cn_store_t *store;
    cn_controller_limits_t limits;
    FILE *log;

    uv_loop_t loop;
    uv_async_t wake;
    uv_thread_t thread;
    bool thread_started;

    pthread_mutex_t mu; /* guards what follows */
    cmd_t *inbox_head, *inbox_tail;
    size_t inbox_count;
    bool stopping;
    cn_generation_t current;
    cn_step_t step;
    cn_controller_live_t live; /* the driver's view, for readers */
    /* the last remote generation applied and what it opened here */
    uint64_t remote_generation, remote_local;
    cn_step_t remote_step;

    cmd_t *busy;         /* the command in flight; loop thread only */
    bool closed;         /* wake is closed; loop thread only */
    cn_driver_t *driver; /* NULL: no rollouts */
    /* No router (canary control): the engine is remote. `synced` says
     * whether it has taken the current generation since start (the first
     * apply may find it down: every tick tries again), and renew() runs
     * every tick; both on the thread pool, one job at a time. */
    bool remote_engine;
    bool synced;
    int renew_failing; /* the last renew's code (a change is logged) */
};

/* The engine's heartbeat, and the first apply until it took (remote
 * engines only; a tick's work, on the thread pool): 0, or the failure's
 * code with its words in err. */
int cn_controller__engine_tick(cn_controller_t *c, char *err, size_t errlen);

/* Queue a job (any thread). 0, or CN_ETOOBIG / CN_EINVAL (stopping): then
 * neither function runs and arg is the caller's. */
int cn_controller__job(cn_controller_t *c, cn_job_fn work, cn_job_fn after, void *arg);

/*
 * Publish g (its number is set here: the next one) through the engine and,
 * if store_it, save it with its history; then make it current and log a
 * line. On the thread pool, from a command's work only. 0; CN_EIO
 * (published, not stored); another code (not published) with err.
 */
int cn_controller__publish(cn_controller_t *c, cn_generation_t *g, const char *who,
                           bool store_it, cn_traffic_applied_t *applied, char *err,
                           size_t errlen);

/* driver.c */
cn_driver_t *cn_driver__new(cn_controller_t *c, const cn_controller_config_t *cfg);
/* On the loop thread, once it runs: the tick timer and the resume job. */
void cn_driver__start(cn_driver_t *d);
/* On the loop thread when stopping: close the timer. */
void cn_driver__close(cn_driver_t *d);
void cn_driver__free(cn_driver_t *d);
/*
 * Loop thread, before a change is applied (no command in flight): 0, or
 * CN_ECONFLICT with one line when a running rollout refuses it.
 */
int cn_driver__check_change(cn_driver_t *d, const cn_controller_change_t *ch,
                            const cn_generation_t *next, char *err, size_t errlen);
/* The change's work, after it was published: tell the rollout. */
void cn_driver__changed(cn_driver_t *d, const cn_controller_change_t *ch,
                        const cn_generation_t *published);
/* The rollout op's job. */
int cn_driver__op(cn_driver_t *d, const cn_controller_op_t *op,
                  cn_controller_op_cb done, void *arg);

#endif
