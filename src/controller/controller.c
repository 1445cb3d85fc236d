/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The control loop (see controller.h for the contract).
 *
 * Shape, after Envoy's main thread: one thread owns the truth (the current
 * generation) and is the only writer of the router's publication and of
 * the state file. Other threads post commands into an inbox (a mutex and a
 * uv_async); the loop takes one command at a time. The blocking part of a
 * change (the router's publication waits for every worker; the store
 * fsyncs) runs on libuv's thread pool through uv_queue_work, and the next
 * command is only taken in its after-work callback, on the loop: so changes
 * are serialised and applied in submission order, and the loop itself
 * never blocks.
 *
 * `current` is written only on the loop thread, under `mu`, so readers on
 * other threads (the admin API's GETs) get a consistent copy without
 * waiting for a change in flight; they see the old generation until the new
 * one is published.
 */
#include "controller/controller.h"
#include "controller/controller_internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fmt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void cn_controller_change_init(cn_controller_change_t *c, const char *who)
{
    memset(c, 0, sizeof *c);
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_init(&c->sets[r], "");
    snprintf(c->who, sizeof c->who, "%s", who ? who : "");
}

void cn_controller_change_dispose(cn_controller_change_t *c)
{
    if (!c)
        return;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&c->sets[r]);
}

static void change_copy(cn_controller_change_t *dst, const cn_controller_change_t *src)
{
    cn_controller_change_init(dst, src->who);
    dst->has_canary_weight = src->has_canary_weight;
    dst->has_shadow = src->has_shadow;
    dst->has_mode = src->has_mode;
    dst->has_force = src->has_force;
    dst->traffic = src->traffic;
    dst->promote = src->promote;
    dst->override = src->override;
    dst->remote_generation = src->remote_generation;
    dst->remote_takeover = src->remote_takeover;
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        dst->has_set[r] = src->has_set[r];
        if (src->has_set[r])
            cn_version_set_copy(&dst->sets[r], &src->sets[r]);
    }
}

/* The label an emptied canary set gets on promotion: the default one,
 * unless the new stable set already carries it. */
static const char *empty_canary_label(const char *stable_label)
{
    return strcmp(stable_label, "canary") == 0 ? "canary-none" : "canary";
}

/* Apply a change to a copy of the current generation. */
static void apply(const cn_controller_change_t *ch, const cn_generation_t *cur,
                  cn_generation_t *out)
{
    cn_generation_copy(out, cur);
    if (ch->promote) {
        cn_version_set_copy(&out->sets[CN_ROLE_STABLE], &cur->sets[CN_ROLE_CANARY]);
        cn_version_set_dispose(&out->sets[CN_ROLE_CANARY]);
        cn_version_set_init(&out->sets[CN_ROLE_CANARY],
                            empty_canary_label(out->sets[CN_ROLE_STABLE].version));
        out->traffic.canary_weight_bp = 0;
        if (out->traffic.mode == CN_TRAFFIC_MODE_SHADOW)
            out->traffic.mode = CN_TRAFFIC_MODE_RANDOM;
        return;
    }
    if (ch->has_canary_weight)
        out->traffic.canary_weight_bp = ch->traffic.canary_weight_bp;
    if (ch->has_shadow)
        out->traffic.shadow_bp = ch->traffic.shadow_bp;
    if (ch->has_mode)
        out->traffic.mode = ch->traffic.mode;
    if (ch->has_force)
        out->traffic.force_enabled = ch->traffic.force_enabled;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        if (ch->has_set[r])
            cn_version_set_copy(&out->sets[r], &ch->sets[r]);
}

/* ------------------------------------------------------------ logging */

static void log_set(FILE *f, const char *role, const cn_version_set_t *s)
{
    fprintf(f, "; %s %s [", role, s->version);
    for (size_t i = 0; i < s->count; i++) {
        if (i == 8) {
            fprintf(f, ", ... %zu in all", s->count);
            break;
        }
        fprintf(f, "%s%s", i ? ", " : "", s->addresses[i]);
    }
    fprintf(f, "]");
}

static void log_generation(cn_controller_t *c, const cn_generation_t *g,
                           const char *who, bool promote, uint64_t step,
                           bool sets_changed, const char *error)
{
    FILE *f = c->log;
    const cn_traffic_t *t = &g->traffic;
    char weight[CN_FMT_BP_BUF], shadow[CN_FMT_BP_BUF];
    flockfile(f);
    fprintf(f,
            "canary: %s by %s: generation %llu, step %llu: canary %s, mode %s, "
            "shadow %s, force %s",
            promote ? "promotion" : "change", who[0] ? who : "?",
            (unsigned long long)g->number, (unsigned long long)step,
            cn_fmt_bp(t->canary_weight_bp, weight, sizeof weight),
            cn_traffic_mode_name(t->mode),
            cn_fmt_bp(t->shadow_bp, shadow, sizeof shadow),
            t->force_enabled ? "on" : "off");
    if (sets_changed) {
        log_set(f, "stable", &g->sets[CN_ROLE_STABLE]);
        log_set(f, "canary", &g->sets[CN_ROLE_CANARY]);
    }
    if (error && error[0])
        fprintf(f, " (%s)", error);
    fputc('\n', f);
    funlockfile(f);
    fflush(f);
}

/* ------------------------------------------------------------ the loop */

/* Apply g through the engine and, on success, tell the metrics source
 * when its step opened (a source that measures by time needs it). */
static int engine_apply(cn_controller_t *c, const cn_generation_t *g,
                        cn_traffic_applied_t *applied, char *err, size_t errlen)
{
    int rc = c->engine->apply(c->engine, g, applied, err, errlen);
    if (!rc && c->metrics->opened)
        c->metrics->opened(c->metrics, g, cn_clock_unix_ms());
    return rc;
}

static void take_next(cn_controller_t *c);
static void after_work_cb(uv_work_t *w, int status);

static void finish(cn_controller_t *c, cmd_t *cmd)
{
    if (cmd->done)
        cmd->done(&cmd->result, cmd->arg);
    cn_generation_dispose(&cmd->result.generation);
    cn_generation_dispose(&cmd->next_gen);
    cn_controller_change_dispose(&cmd->change);
    free(cmd);
    (void)c;
}

int cn_controller__publish(cn_controller_t *c, cn_generation_t *g, const char *who,
                           bool store_it, cn_traffic_applied_t *applied, char *err,
                           size_t errlen)
{
    /* Only one command is in flight, so current is stable here. */
    pthread_mutex_lock(&c->mu);
    g->number = c->current.number + 1;
    bool sets_changed = false;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        sets_changed =
            sets_changed || !cn_version_set_equal(&g->sets[r], &c->current.sets[r]);
    pthread_mutex_unlock(&c->mu);
    int rc = engine_apply(c, g, applied, err, errlen);
    if (rc)
        return rc;
    int stored = 0;
    char serr[384] = "";
    if (store_it && c->store &&
        cn_store_save_generation(c->store, g, who, serr, sizeof serr)) {
        snprintf(err, errlen, "published, but not stored: %s", serr);
        stored = CN_EIO;
    }
    pthread_mutex_lock(&c->mu);
    cn_generation_copy(&c->current, g);
    c->step = applied->step;
    pthread_mutex_unlock(&c->mu);
    log_generation(c, g, who, false, applied->step.number, sets_changed,
                   stored ? err : NULL);
    return stored;
}

/* Off the loop: the blocking part of a command. */
static void work_cb(uv_work_t *w)
{
    cmd_t *cmd = w->data;
    cn_controller_t *c = cmd->ctl;
    if (cmd->kind == CMD_JOB) {
        cmd->job_work(c, cmd->arg);
        return;
    }
    cn_controller_result_t *res = &cmd->result;
    char err[384] = "";

    /* One generation: the split and both sets together. The router waits
     * for every worker to take it (and may resolve names): off the loop. */
    cn_traffic_applied_t applied;
    int rc = engine_apply(c, &cmd->next_gen, &applied, err, sizeof err);
    if (rc) {
        snprintf(res->error, sizeof res->error, "%s", err[0] ? err : cn_strerror(rc));
        res->rc = rc == CN_EINVAL ? CN_EINVAL : rc;
        return;
    }
    res->step = applied.step;
    res->effective_weight_bp = applied.effective_weight_bp;
    if (c->store) {
        /* The split and both sets with their history, in one transaction. */
        rc = cn_store_save_generation(c->store, &cmd->next_gen, cmd->change.who, err,
                                      sizeof err);
        if (rc) {
            snprintf(res->error, sizeof res->error, "published, but not stored: %s",
                     err);
            res->rc = CN_EIO;
        }
    }
    pthread_mutex_lock(&c->mu);
    cn_generation_copy(&c->current, &cmd->next_gen);
    c->step = applied.step;
    if (cmd->change.remote_generation) {
        c->remote_generation = cmd->change.remote_generation;
        c->remote_local = cmd->next_gen.number;
        c->remote_step = applied.step;
    }
    pthread_mutex_unlock(&c->mu);
    if (c->driver)
        cn_driver__changed(c->driver, &cmd->change, &cmd->next_gen);
}

static void after_work_cb(uv_work_t *w, int status)
{
    cmd_t *cmd = w->data;
    cn_controller_t *c = cmd->ctl;
    (void)status; /* work is never cancelled: nothing calls uv_cancel */
    c->busy = NULL;
    if (cmd->kind == CMD_JOB) {
        if (cmd->job_after)
            cmd->job_after(c, cmd->arg);
        free(cmd);
        take_next(c);
        return;
    }
    bool published = cmd->result.rc == 0 || cmd->result.rc == CN_EIO;
    pthread_mutex_lock(&c->mu);
    if (published)
        cmd->result.changed = true;
    cn_generation_copy(&cmd->result.generation, &c->current);
    cmd->result.step = c->step;
    pthread_mutex_unlock(&c->mu);
    if (published)
        log_generation(c, &cmd->next_gen, cmd->change.who, cmd->change.promote,
                       cmd->result.step.number, cmd->sets_changed, cmd->result.error);
    finish(c, cmd);
    take_next(c);
}

/* Start the next command, if none is in flight; close the loop when
 * stopping with nothing left. Loop thread. */
static void take_next(cn_controller_t *c)
{
    while (!c->busy && !c->closed) {
        pthread_mutex_lock(&c->mu);
        cmd_t *cmd = c->inbox_head;
        if (cmd) {
            c->inbox_head = cmd->next;
            if (!c->inbox_head)
                c->inbox_tail = NULL;
            c->inbox_count--;
        }
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (!cmd) {
            if (stopping) {
                c->closed = true;
                if (c->driver)
                    cn_driver__close(c->driver);
                uv_close((uv_handle_t *)&c->wake, NULL);
            }
            return;
        }
        if (cmd->kind == CMD_JOB) {
            c->busy = cmd;
            cmd->work.data = cmd;
            if (uv_queue_work(&c->loop, &cmd->work, work_cb, after_work_cb)) {
                /* cannot happen with a live loop; run it here rather than
                 * lose it */
                work_cb(&cmd->work);
                after_work_cb(&cmd->work, 0);
            }
            continue;
        }

        /* Only this thread writes current: reading it here needs no lock. */
        cn_controller_result_t *res = &cmd->result;
        cn_generation_init(&cmd->next_gen);
        apply(&cmd->change, &c->current, &cmd->next_gen);
        cmd->traffic_changed =
            !cn_traffic_equal(&cmd->next_gen.traffic, &c->current.traffic);
        cmd->sets_changed = false;
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            cmd->sets_changed =
                cmd->sets_changed ||
                !cn_version_set_equal(&cmd->next_gen.sets[r], &c->current.sets[r]);
        int rc = 0;
        /* A remote generation opens a step even when it changes nothing;
         * the one applied last again is a repeat (remote_generation is
         * written by a command's work, which never overlaps this: no lock
         * to read it). A takeover starts the numbers over. */
        uint64_t rg = cmd->change.remote_generation;
        bool remote_new =
            rg && (rg != c->remote_generation || cmd->change.remote_takeover);
        if (rg && rg < c->remote_generation && !cmd->change.remote_takeover) {
            snprintf(res->error, sizeof res->error,
                     "generation %llu is older than generation %llu, applied "
                     "already: a late copy of an older decision",
                     (unsigned long long)rg, (unsigned long long)c->remote_generation);
            rc = CN_ECONFLICT;
        }
        if (!rc && cmd->change.promote && c->current.sets[CN_ROLE_CANARY].count == 0) {
            snprintf(res->error, sizeof res->error,
                     "promote: the canary set has no addresses; nothing to promote");
            rc = CN_EINVAL;
        }
        if (!rc)
            rc = cn_controller_validate(&cmd->next_gen, &c->limits, res->error,
                                        sizeof res->error);
        if (!rc && c->driver && (cmd->traffic_changed || cmd->sets_changed))
            rc = cn_driver__check_change(c->driver, &cmd->change, &cmd->next_gen,
                                         res->error, sizeof res->error);
        if (rc || (!remote_new && !cmd->traffic_changed && !cmd->sets_changed)) {
            res->rc = rc;
            cn_generation_copy(&res->generation, &c->current);
            res->step = c->step;
            finish(c, cmd);
            continue;
        }
        cmd->next_gen.number = c->current.number + 1;
        c->busy = cmd;
        cmd->work.data = cmd;
        rc = uv_queue_work(&c->loop, &cmd->work, work_cb, after_work_cb);
        if (rc) {
            c->busy = NULL;
            snprintf(res->error, sizeof res->error, "not published: %s",
                     uv_strerror(rc));
            res->rc = CN_EIO;
            cn_generation_copy(&res->generation, &c->current);
            res->step = c->step;
            finish(c, cmd);
        }
    }
}

static void on_wake(uv_async_t *h)
{
    take_next(h->data);
}

int cn_controller__engine_tick(cn_controller_t *c, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!c->remote_engine)
        return 0;
    if (!c->synced) {
        /* The stored generation again, under the next number: the engine
         * (replicas, HAProxy, a route) runs what the state says, and its
         * measurement step starts now. */
        cn_generation_t g;
        cn_generation_init(&g);
        pthread_mutex_lock(&c->mu);
        cn_generation_copy(&g, &c->current);
        pthread_mutex_unlock(&c->mu);
        cn_traffic_applied_t applied;
        int rc =
            cn_controller__publish(c, &g, "start", true, &applied, err, sizeof err);
        cn_generation_dispose(&g);
        if (rc && rc != CN_EIO) {
            if (c->renew_failing != rc)
                fprintf(c->log,
                        "canary: engine %s: the stored generation could not be "
                        "applied: %s (trying again every tick)\n",
                        c->engine->name, err);
            c->renew_failing = rc;
            return rc;
        }
        c->synced = true;
        c->renew_failing = 0;
        return 0;
    }
    int rc = c->engine->renew ? c->engine->renew(c->engine, err, errlen) : 0;
    if (rc != c->renew_failing)
        fprintf(c->log,
                rc ? "canary: engine %s: renew failed: %s\n"
                   : "canary: engine %s: renew works again%s\n",
                c->engine->name, rc ? err : "");
    c->renew_failing = rc;
    return rc;
}

static void initial_work(cn_controller_t *c, void *arg)
{
    (void)arg;
    char err[384];
    cn_controller__engine_tick(c, err, sizeof err);
}

static void thread_main(void *arg)
{
    cn_controller_t *c = arg;
    if (c->remote_engine)
        cn_controller__job(c, initial_work, NULL, NULL);
    if (c->driver)
        cn_driver__start(c->driver);
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

/* ------------------------------------------------------------ public */

int cn_controller_new(const cn_controller_config_t *cfg, cn_controller_t **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->initial || (!cfg->router && (!cfg->engine || !cfg->metrics))) {
        snprintf(err, errlen,
                 "controller: an initial generation and a router (or a "
                 "traffic engine and a metrics source) are required");
        return CN_EINVAL;
    }
    char verr[512];
    if (cn_controller_validate(cfg->initial, &cfg->limits, verr, sizeof verr)) {
        snprintf(err, errlen, "%s", verr);
        return CN_EINVAL;
    }
    cn_controller_t *c = cn_xcalloc(1, sizeof *c);
    c->router = cfg->router;
    c->remote_engine = !cfg->router;
    c->synced = !c->remote_engine;
    if (cfg->router)
        cn_engine_router_init(&c->router_engine, cfg->router);
    c->engine = cfg->engine ? cfg->engine : &c->router_engine.traffic;
    c->metrics = cfg->metrics ? cfg->metrics : &c->router_engine.metrics;
    c->feedback = cfg->feedback;
    c->store = cfg->store;
    c->limits = cfg->limits;
    c->log = cfg->log ? cfg->log : stderr;
    cn_generation_init(&c->current);
    cn_generation_copy(&c->current, cfg->initial);
    /* Numbers only grow, in the router and in the state file: start from
     * the larger of the two. */
    if (cfg->router) {
        cn_generation_t live;
        cn_generation_init(&live);
        cn_router_current(cfg->router, &live, &c->step);
        if (live.number > c->current.number)
            c->current.number = live.number;
        cn_generation_dispose(&live);
    }
    c->step.generation = c->current.number;
    pthread_mutex_init(&c->mu, NULL);
    int rc = uv_loop_init(&c->loop);
    if (rc) {
        snprintf(err, errlen, "controller: event loop: %s", uv_strerror(rc));
        goto fail;
    }
    rc = uv_async_init(&c->loop, &c->wake, on_wake);
    if (rc) {
        snprintf(err, errlen, "controller: async handle: %s", uv_strerror(rc));
        uv_loop_close(&c->loop);
        goto fail;
    }
    c->wake.data = c;
    if (cfg->registry && cfg->strategy && cfg->analysis && cfg->model && cfg->store)
        c->driver = cn_driver__new(c, cfg);
    rc = uv_thread_create(&c->thread, thread_main, c);
    if (rc) {
        snprintf(err, errlen, "controller: thread: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&c->wake, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        goto fail;
    }
    c->thread_started = true;
    *out = c;
    return 0;
fail:
    pthread_mutex_destroy(&c->mu);
    cn_generation_dispose(&c->current);
    free(c);
    return CN_EIO;
}

/* Put cmd in the inbox; 0, or an error and cmd is not queued. */
static int enqueue(cn_controller_t *c, cmd_t *cmd)
{
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (c->stopping)
        rc = CN_EINVAL;
    else if (c->inbox_count >= CN_CONTROLLER_QUEUE_MAX)
        rc = CN_ETOOBIG;
    if (!rc) {
        if (c->inbox_tail)
            c->inbox_tail->next = cmd;
        else
            c->inbox_head = cmd;
        c->inbox_tail = cmd;
        c->inbox_count++;
        /* sent under the lock: stop cannot close the handle in between */
        uv_async_send(&c->wake);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int cn_controller__job(cn_controller_t *c, cn_job_fn work, cn_job_fn after, void *arg)
{
    cmd_t *cmd = cn_xcalloc(1, sizeof *cmd);
    cmd->kind = CMD_JOB;
    cmd->job_work = work;
    cmd->job_after = after;
    cmd->arg = arg;
    cmd->ctl = c;
    int rc = enqueue(c, cmd);
    if (rc)
        free(cmd);
    return rc;
}

int cn_controller_rollout_op(cn_controller_t *c, const cn_controller_op_t *op,
                             cn_controller_op_cb done, void *arg)
{
    if (!c->driver) {
        cn_controller_op_result_t res = {.rc = CN_EINVAL};
        snprintf(res.error, sizeof res.error,
                 "rollouts need a state file (--state), a model and a strategy: "
                 "section in the config");
        done(&res, arg);
        return 0;
    }
    return cn_driver__op(c->driver, op, done, arg);
}

void cn_controller_live(cn_controller_t *c, cn_controller_live_t *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->live;
    pthread_mutex_unlock(&c->mu);
}

int cn_controller_submit(cn_controller_t *c, const cn_controller_change_t *change,
                         cn_controller_done_cb done, void *arg)
{
    cmd_t *cmd = cn_xcalloc(1, sizeof *cmd);
    cmd->kind = CMD_CHANGE;
    change_copy(&cmd->change, change);
    cmd->done = done;
    cmd->arg = arg;
    cmd->ctl = c;
    cn_generation_init(&cmd->result.generation);
    int rc = enqueue(c, cmd);
    if (rc) {
        cn_generation_dispose(&cmd->result.generation);
        cn_controller_change_dispose(&cmd->change);
        free(cmd);
    }
    return rc;
}

void cn_controller_remote(cn_controller_t *c, uint64_t *remote, uint64_t *local,
                          cn_step_t *step)
{
    pthread_mutex_lock(&c->mu);
    *remote = c->remote_generation;
    *local = c->remote_local;
    if (step)
        *step = c->remote_step;
    pthread_mutex_unlock(&c->mu);
}

void cn_controller_current(cn_controller_t *c, cn_generation_t *out, cn_step_t *step)
{
    pthread_mutex_lock(&c->mu);
    if (out)
        cn_generation_copy(out, &c->current);
    if (step)
        *step = c->step;
    pthread_mutex_unlock(&c->mu);
}

void cn_controller_stop(cn_controller_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    bool was = c->stopping;
    c->stopping = true;
    if (!was)
        uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    if (c->thread_started) {
        uv_thread_join(&c->thread);
        c->thread_started = false;
        uv_loop_close(&c->loop);
    }
}

void cn_controller_free(cn_controller_t *c)
{
    if (!c)
        return;
    cn_controller_stop(c);
    cn_driver__free(c->driver);
    pthread_mutex_destroy(&c->mu);
    cn_generation_dispose(&c->current);
    free(c);
}
