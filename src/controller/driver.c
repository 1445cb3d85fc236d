/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout driver: runs the pure state machine (rollout.c) on the
 * control loop and carries out what it decides.
 *
 * Every step runs as a job in the controller's one queue (see
 * controller_internal.h), so it never overlaps a change or another job:
 *  - a tick a second reads the current window's counters from the metrics
 *    source, feeds the machine the canary's health, its first request, the
 *    progress deadline, the triggers (triggers.c) and the sample counts,
 *    then a TICK;
 *  - a person's command (start, pause, resume, promote, abort, retry) or
 *    a manual traffic change becomes its event;
 *  - an analysis runs on the thread pool *outside* the queue (it may take
 *    seconds over 10^6 samples, and a rollback must not wait for it) and
 *    comes back as a job with its verdict.
 * The actions are carried out in order: traffic first (through the
 * controller's engine, stored with its history), then the state with its
 * audit entries in one store transaction per entry (a rollback's weight 0
 * is live before its decision is stored), then PUBLISHED for a promotion
 * or a rollback. A window is one measurement step: when the machine opens
 * a new window without a traffic change (warmup over, a new attempt), the
 * same generation is published again under a new number, which starts a
 * new step, so that each analysis judges exactly its window.
 *
 * Crash safety: the machine's whole state is stored as JSON with every
 * entry (store `machine` column); on start the model's active rollout is
 * read back and gets a RESTART event (rollout.h says what it does).
 */
#include "controller/controller_internal.h"
#include "feedback/feedback.h"
#include "controller/sequential.h"
#include "controller/machine.h"
#include "controller/notes.h"
#include "controller/parity.h"
#include "judge/json.h"
#include "stats/stats.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/text.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRIES_MAX CN_ROLLOUT_ACTIONS_MAX
/* Most events one change (with its PUBLISHED) announces. */
#define NOTES_MAX 8

/* The sequential state is saved at least this often between entries: a
 * restart resumes from it and skips the seconds since (a skipped second
 * is one not bet on). Strictly, the e-process before a crash and the one
 * resumed share everything up to the save; what the first did in its
 * unsaved last second (a crossing not yet stored) is a second chance
 * that each restart adds, so the window is kept at one tick. */
#define SEQ_SAVE_MS 1000

/* The counters of the last tick, per role (the current labels only). */
typedef struct seq_prev_s {
    bool valid;
    uint64_t step; /* the snapshot's measurement step */
    uint64_t requests[2], errors[2];
    cn_metrics_hist_t latency[2]; /* the step's */
    size_t n_buckets;             /* prediction bounds + 1 */
    uint64_t *pred_le[2];         /* cumulative since start, le-running */
} seq_prev_t;

struct cn_driver_s {
    cn_controller_t *c;
    cn_registry_t *reg;
    cn_store_t *store;
    char model[CN_STORE_NAME_MAX + 1];
    /* the strategy the loaded rollout runs: the configured one (base), or
     * a parity check's (parity.h), built when its row is loaded */
    const cn_strategy_t *strategy;
    const cn_strategy_t *base;
    cn_strategy_t parity_strategy;
    bool parity; /* the loaded rollout is a parity check */
    const cn_judge_config_t *analysis;
    cn_rollout_config_t rcfg;
    unsigned tick_ms;

    /* loop thread only */
    uv_timer_t timer;
    bool timer_open;
    bool tick_queued;
    /* The traffic engine refused or could not take the rollout's traffic
     * (a replica unreachable): the next tick pauses the rollout with this
     * reason, so nothing is promoted on a step that never ran. "": none. */
    char traffic_failed[320];
    bool analysis_running;

    /* jobs only (one at a time) */
    bool loaded; /* row and m hold the model's current rollout */
    cn_store_rollout_t row;
    cn_rollout_t m;
    cn_version_set_t canary_set; /* the candidate's addresses */
    uint64_t floor_hint;         /* the last analysis's derived floor */
    /* the last probe of the window (see probe()): what the judge can use */
    int64_t probe_ms;
    uint64_t probe_generation;
    bool probe_valid;
    uint64_t probe_have, probe_floor;
    uint64_t canary_served;
    uint64_t canary_seen_step; /* canary requests seen in the current step */
    uint64_t seen_generation;
    /* the promotion published and not yet recorded (PROMOTE, then
     * PUBLISHED records it with the registry's stable move) */
    bool has_promoted;
    cn_generation_t promoted;
    bool want_analysis; /* set by a job's work, taken by its after */
    cn_rollout_analysis_t analysis_req;
    /* the sequential triggers (sequential.h), jobs only: their state for
     * run seq_run of rollout seq_rollout (saved with the machine), and the
     * previous tick's counters, whose differences are each second's */
    bool has_seq;
    cn_seq_config_t seq_cfg;
    cn_seq_t seq;
    bool seq_on;
    int64_t seq_rollout;
    uint32_t seq_run;
    int64_t seq_saved_ms;
    seq_prev_t *prev;
    /* the anytime analysis judged now (cn_rollout_anytime_step): its harm
     * family at alpha_fail and its non-inferiority family at alpha_pass,
     * for step any_step of run any_run of rollout any_rollout (saved with
     * the machine under "anytime"); any_on is false when there is none,
     * or when its stored state could not be read (then the step gets no
     * verdict: it advances at the end of its bake, or holds at max_bake) */
    bool any_on;
    int64_t any_rollout;
    uint32_t any_run;
    uint32_t any_step;
    cn_seq_t any_harm, any_ni;
    /* notifications (notes.h), jobs only: the events of the change being
     * run, written with its last audit entry (persist), and the last
     * analysis of rollout analysis_rollout, which events carry */
    cn_notify_t *notify;
    char *notes[NOTES_MAX];
    size_t n_notes;
    json_t *analysis_json;
    int64_t analysis_rollout;
    /* the blast radius the events carry, counted as canary_served is (in
     * memory, since the rollout began or canary serve started): the
     * canary's errors and every user request of both arms */
    uint64_t blast_failed, blast_all;
    uint64_t blast_failed_seen_step, blast_all_seen_step;
};

/*
 * Fault injection for the crash tests (tests/integration): with
 * CANARY_CRASH_AT=NAME in the environment, the process kills itself with
 * SIGKILL at that point, as `kill -9` landing there would:
 *   warmup     the rollout's warmup began and was stored;
 *   analysis   an analysis is running (its attempt stored as spent);
 *   promotion  the promotion is published, not yet recorded;
 *   rollback   the canary's weight 0 is published, not yet recorded.
 * Unset (always, in production) it costs one getenv per point reached.
 */
static void crash_point(const char *name)
{
    const char *at = getenv("CANARY_CRASH_AT");
    if (at && strcmp(at, name) == 0) {
        fprintf(stderr, "canary: CANARY_CRASH_AT=%s: killing myself\n", name);
        fflush(stderr);
        raise(SIGKILL);
    }
}

static int64_t now_ms(void)
{
    return cn_clock_unix_ms();
}

/* ------------------------------------------------------------ live view */

static void seq_live(const cn_driver_t *d, cn_controller_live_t *l);

/* Each arm's p99 interval of the current window (the tick's). */
typedef struct p99_view_s {
    bool has[2];
    double lo[2], hi[2], level;
} p99_view_t;

static void live_update_p99(cn_driver_t *d, const cn_trigger_result_t *trig,
                            uint64_t canary_req, uint64_t stable_req,
                            const p99_view_t *p99);

static void live_update(cn_driver_t *d, const cn_trigger_result_t *trig,
                        uint64_t canary_req, uint64_t stable_req)
{
    live_update_p99(d, trig, canary_req, stable_req, NULL);
}

static void live_update_p99(cn_driver_t *d, const cn_trigger_result_t *trig,
                            uint64_t canary_req, uint64_t stable_req,
                            const p99_view_t *p99)
{
    cn_controller_t *c = d->c;
    pthread_mutex_lock(&c->mu);
    cn_controller_live_t *l = &c->live;
    if (!d->loaded || !cn_rollout_active(d->m.state)) {
        memset(l, 0, sizeof *l); /* no active rollout */
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (l->id != d->row.id)
        memset(l, 0, sizeof *l);
    l->id = d->row.id;
    l->machine = d->m;
    l->canary_served = d->canary_served;
    l->blast_failed = d->blast_failed;
    l->blast_all = d->blast_all;
    seq_live(d, l);
    if (p99) {
        for (int r = 0; r < 2; r++) {
            l->has_p99[r] = p99->has[r];
            l->p99_lo_ms[r] = p99->lo[r];
            l->p99_hi_ms[r] = p99->hi[r];
        }
        l->p99_level = p99->level;
    }
    if (trig) {
        l->has_triggers = true;
        l->triggers = *trig;
        l->canary_requests = canary_req;
        l->stable_requests = stable_req;
    }
    pthread_mutex_unlock(&c->mu);
}

static void live_verdict(cn_driver_t *d, const char *verdict, const char *reason)
{
    cn_controller_t *c = d->c;
    pthread_mutex_lock(&c->mu);
    if (c->live.id == d->row.id) {
        c->live.has_verdict = true;
        snprintf(c->live.verdict, sizeof c->live.verdict, "%s", verdict);
        snprintf(c->live.verdict_reason, sizeof c->live.verdict_reason, "%s", reason);
        c->live.verdict_ms = now_ms();
    }
    pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------ traffic */

static void log_line(cn_driver_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void log_line(cn_driver_t *d, const char *fmt, ...)
{
    FILE *f = d->c->log;
    va_list ap;
    va_start(ap, fmt);
    flockfile(f);
    fprintf(f, "canary: rollout %" PRId64 " (%s %s): ", d->row.id, d->row.model,
            d->row.version);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    funlockfile(f);
    fflush(f);
    va_end(ap);
}

/* The canary set empty at weight 0, as after a promotion: what a parity
 * check leaves behind (it changes nothing that lasts). */
static void parity_arm_off(cn_generation_t *g)
{
    const char *label =
        strcmp(g->sets[CN_ROLE_STABLE].version, "canary") ? "canary" : "canary-none";
    cn_version_set_dispose(&g->sets[CN_ROLE_CANARY]);
    cn_version_set_init(&g->sets[CN_ROLE_CANARY], label);
    g->traffic.canary_weight_bp = 0;
    if (g->traffic.mode == CN_TRAFFIC_MODE_SHADOW)
        g->traffic.mode = CN_TRAFFIC_MODE_RANDOM;
}

/* Publish the rollout's traffic: the candidate's set as canary at the
 * action's weight (or shadow share). */
static int set_traffic(cn_driver_t *d, const cn_rollout_action_t *a, char *err,
                       size_t errlen)
{
    cn_controller_t *c = d->c;
    cn_generation_t g;
    cn_generation_init(&g);
    pthread_mutex_lock(&c->mu);
    cn_generation_copy(&g, &c->current);
    pthread_mutex_unlock(&c->mu);
    if (d->parity && a->weight_bp == 0 && !a->shadow) {
        /* a parity check's end, whichever it is: the arm leaves */
        parity_arm_off(&g);
    } else if (d->canary_set.count) {
        cn_version_set_dispose(&g.sets[CN_ROLE_CANARY]);
        cn_version_set_init(&g.sets[CN_ROLE_CANARY], d->canary_set.version);
        cn_version_set_copy(&g.sets[CN_ROLE_CANARY], &d->canary_set);
    }
    if (a->shadow) {
        /* In shadow mode the router copies a share of the requests while
         * the weight gives users nothing; but a weight of 0 still turns the
         * canary off, copies included (split.h, rule 1: the operator's
         * way out). So the weight is the share copied, never 0. */
        g.traffic.mode = CN_TRAFFIC_MODE_SHADOW;
        g.traffic.shadow_bp = a->shadow_bp;
        g.traffic.canary_weight_bp = a->shadow_bp;
    } else {
        if (g.traffic.mode == CN_TRAFFIC_MODE_SHADOW)
            g.traffic.mode = CN_TRAFFIC_MODE_RANDOM;
        g.traffic.canary_weight_bp = a->weight_bp;
    }
    int rc = cn_controller_validate(&g, &c->limits, err, errlen);
    cn_traffic_applied_t applied;
    char who[96];
    snprintf(who, sizeof who, "rollout %" PRId64, d->row.id);
    if (!rc)
        rc = cn_controller__publish(c, &g, who, true, &applied, err, errlen);
    if (!rc || rc == CN_EIO)
        d->row.generation = g.number;
    cn_generation_dispose(&g);
    return rc;
}

/* The same generation under a new number: a new measurement step. */
static int restep(cn_driver_t *d, char *err, size_t errlen)
{
    cn_controller_t *c = d->c;
    cn_generation_t g;
    cn_generation_init(&g);
    pthread_mutex_lock(&c->mu);
    cn_generation_copy(&g, &c->current);
    pthread_mutex_unlock(&c->mu);
    cn_traffic_applied_t applied;
    char who[96];
    snprintf(who, sizeof who, "rollout %" PRId64 " (new window)", d->row.id);
    int rc = cn_controller__publish(c, &g, who, true, &applied, err, errlen);
    if (!rc || rc == CN_EIO)
        d->row.generation = g.number;
    cn_generation_dispose(&g);
    return rc;
}

/* The promotion's generation, published but not stored (the registry
 * stores it with the promotion, in one transaction). */
static int publish_promotion(cn_driver_t *d, cn_generation_t *g, char *err,
                             size_t errlen)
{
    cn_controller_t *c = d->c;
    pthread_mutex_lock(&c->mu);
    cn_generation_copy(g, &c->current);
    pthread_mutex_unlock(&c->mu);
    if (d->canary_set.count == 0)
        return cn_fail(err, errlen, CN_EINVAL, "the candidate has no addresses");
    cn_version_set_copy(&g->sets[CN_ROLE_STABLE], &d->canary_set);
    cn_version_set_dispose(&g->sets[CN_ROLE_CANARY]);
    cn_version_set_init(&g->sets[CN_ROLE_CANARY],
                        strcmp(d->canary_set.version, "canary") ? "canary"
                                                                : "canary-none");
    g->traffic.canary_weight_bp = 0;
    if (g->traffic.mode == CN_TRAFFIC_MODE_SHADOW)
        g->traffic.mode = CN_TRAFFIC_MODE_RANDOM;
    cn_traffic_applied_t applied;
    char who[96];
    snprintf(who, sizeof who, "rollout %" PRId64 " (promotion)", d->row.id);
    int rc = cn_controller__publish(c, g, who, false, &applied, err, errlen);
    if (!rc)
        d->row.generation = g->number;
    return rc;
}

/* ------------------------------------------------------------ persistence */

typedef struct entry_s {
    cn_store_audit_kind_t kind;
    char actor[CN_STORE_WHO_MAX + 1];
    char text[CN_STORE_REASON_MAX + 1];
} entry_t;

static cn_store_rollout_state_t store_state(cn_rollout_state_t s)
{
    cn_store_rollout_state_t out = CN_STORE_ROLLOUT_PENDING;
    cn_store_rollout_state_parse(cn_rollout_state_name(s), &out);
    return out;
}

/* The row's columns from the machine. */
/* ------------------------------------------------------------ sequential */

/* The sequential state belongs to the rollout and run now loaded. */
static bool seq_current(const cn_driver_t *d)
{
    return d->has_seq && d->seq_on && d->loaded && d->seq_rollout == d->row.id &&
           d->seq_run == d->m.run;
}

/* The anytime state belongs to the rollout and run now loaded. */
static bool any_current(const cn_driver_t *d)
{
    return d->any_on && d->loaded && d->any_rollout == d->row.id &&
           d->any_run == d->m.run;
}

/* The machine as stored: with the sequential state of its run and the
 * anytime analysis's. */
static char *machine_text(const cn_driver_t *d)
{
    json_t *j = seq_current(d) ? cn_seq_to_json(&d->seq) : NULL;
    json_t *a = NULL;
    if (any_current(d))
        a = json_pack("{s:I,s:o,s:o}", "step", (json_int_t)d->any_step, "harm",
                      cn_seq_to_json(&d->any_harm), "ni", cn_seq_to_json(&d->any_ni));
    char *text = cn_machine_json_state(&d->m, j, a);
    json_decref(j);
    json_decref(a);
    return text;
}

/* The two families of the anytime analysis at `step`, at its levels
 * (cn_rollout_anytime_levels; the families take alpha up to 0.5). */
static int any_configs(const cn_driver_t *d, uint32_t step, cn_seq_config_t *harm,
                       cn_seq_config_t *ni, char *what, size_t len)
{
    cn_rollout_analysis_t lv;
    if (cn_rollout_anytime_levels(&d->rcfg, step, &lv) ||
        cn_strategy_anytime_config(d->strategy, step, d->analysis, harm, what, len))
        return CN_EINVAL;
    *ni = *harm;
    harm->alpha = lv.alpha_fail < 0.5 ? lv.alpha_fail : 0.5;
    ni->alpha = lv.alpha_pass < 0.5 ? lv.alpha_pass : 0.5;
    return 0;
}

/* The anytime analysis of the current step begins (every e-value at 1):
 * its window starts with the weight, as the pause before it does. */
static void any_begin(cn_driver_t *d, uint32_t step)
{
    cn_seq_config_t h, n;
    char what[256];
    d->any_on = false;
    d->any_rollout = d->row.id;
    d->any_run = d->m.run;
    d->any_step = step;
    if (any_configs(d, step, &h, &n, what, sizeof what) ||
        cn_seq_init(&d->any_harm, &h) || cn_seq_ni_init(&d->any_ni, &n)) {
        log_line(d, "anytime analysis at step %u off: %s", step, what);
        return;
    }
    d->any_on = true;
}

/* A resumed run: the stored anytime state of its step, if any, so that
 * its alpha is not spent again; unreadable, that analysis stays off. */
static void any_resume(cn_driver_t *d, const json_t *stored)
{
    d->any_on = false;
    int64_t a = cn_rollout_anytime_step(&d->rcfg, &d->m);
    if (a < 0)
        return;
    json_t *step = json_object_get(stored, "step");
    if (!stored || !json_is_integer(step) || json_integer_value(step) != a) {
        any_begin(d, (uint32_t)a); /* stored before it ever ran */
        return;
    }
    cn_seq_config_t h, n;
    char err[256] = "";
    d->any_rollout = d->row.id;
    d->any_run = d->m.run;
    d->any_step = (uint32_t)a;
    if (any_configs(d, (uint32_t)a, &h, &n, err, sizeof err) ||
        cn_seq_from_json(&d->any_harm, &h, json_object_get(stored, "harm"), err,
                         sizeof err) ||
        cn_seq_ni_from_json(&d->any_ni, &n, json_object_get(stored, "ni"), err,
                            sizeof err)) {
        log_line(d, "anytime analysis at step %lld off for this run: %s", (long long)a,
                 err);
        return;
    }
    d->any_on = true;
}

/* Follow the machine: a new anytime step (or run) begins at 1. */
static void any_sync(cn_driver_t *d)
{
    int64_t a = d->loaded ? cn_rollout_anytime_step(&d->rcfg, &d->m) : -1;
    if (a < 0)
        return; /* kept: it is stored with the machine until the next step */
    if (d->any_rollout != d->row.id || d->any_run != d->m.run ||
        d->any_step != (uint32_t)a)
        any_begin(d, (uint32_t)a);
}

/* The sequential triggers in the live view (under the controller's lock). */
static void seq_live(const cn_driver_t *d, cn_controller_live_t *l)
{
    l->has_sequential = seq_current(d);
    if (!l->has_sequential)
        return;
    l->seq_alpha = d->seq.cfg.alpha;
    l->seq_threshold = cn_seq_threshold(&d->seq);
    l->seq_seconds = d->seq.seconds;
    l->n_seq = d->seq.cfg.n_metrics < 3 ? d->seq.cfg.n_metrics : 3;
    for (size_t i = 0; i < l->n_seq; i++) {
        const cn_seq_metric_t *m = &d->seq.m[i];
        l->seq[i].metric = cn_seq_kind_name(m->cfg.kind);
        l->seq[i].started = m->started;
        l->seq[i].e_value = isfinite(exp(m->log_e)) ? exp(m->log_e) : DBL_MAX;
        l->seq[i].pvalue = cn_seq_pvalue(m);
        l->seq[i].canary_requests = m->canary_n;
    }
}

/* A new run (a start, a retry): every e-value at 1, no previous counters. */
static void seq_begin(cn_driver_t *d)
{
    if (!d->has_seq)
        return;
    cn_seq_init(&d->seq, &d->seq_cfg);
    d->seq_on = true;
    d->seq_rollout = d->row.id;
    d->seq_run = d->m.run;
    d->prev->valid = false;
}

/*
 * A resumed run: its stored state, so that the budget is not spent again.
 * A state that cannot be read (the config's alpha or metrics changed
 * since it was stored) turns the sequential triggers off for this run,
 * rather than start again from 1 (spending the budget twice) or guess.
 */
static void seq_resume(cn_driver_t *d, const json_t *stored)
{
    d->seq_on = false;
    if (!d->has_seq)
        return;
    d->prev->valid = false;
    d->seq_rollout = d->row.id;
    d->seq_run = d->m.run;
    if (!stored) {
        seq_begin(d); /* stored before it ever ran: nothing spent */
        return;
    }
    char err[256];
    if (cn_seq_from_json(&d->seq, &d->seq_cfg, stored, err, sizeof err)) {
        log_line(d, "sequential triggers off for this run: %s", err);
        return;
    }
    d->seq_on = true;
    d->seq_rollout = d->row.id;
    d->seq_run = d->m.run;
}

/* prediction bucket counts (not cumulative) of one role from le-running
 * counts: out[b] = le[b] - le[b - 1] */
static void buckets_of(const uint64_t *le, size_t nb, uint64_t *out)
{
    for (size_t b = 0; b < nb; b++)
        out[b] = le[b] - (b ? le[b - 1] : 0);
}

/*
 * One second for the sequential triggers from the tick's snapshot: each
 * arm's counters now minus at the last tick (the step's requests, errors
 * and latencies; the predictions since start). A new measurement step
 * restarts the step counters: its own counts are the second's (what came
 * between the last tick and the step's start is skipped, which leaves the
 * e-processes valid: a skipped second is one not bet on). Returns true
 * when a trigger fired, with its reason and evidence.
 */
static bool seq_second(cn_driver_t *d, const cn_router_snapshot_t *s,
                       cn_metrics_hist_t *const lat[2], bool feed_seq, bool feed_any,
                       char *why, size_t whylen, char **payload)
{
    seq_prev_t *p = d->prev;
    size_t nb = s->n_prediction_bounds + 1;
    if (p->n_buckets != nb) {
        for (int r = 0; r < 2; r++)
            p->pred_le[r] = cn_xrealloc(p->pred_le[r], nb * sizeof *p->pred_le[r]);
        p->n_buckets = nb;
        p->valid = false;
    }
    uint64_t req[2] = {0, 0}, errs[2] = {0, 0};
    uint64_t *le[2];
    le[0] = cn_xcalloc(nb, sizeof *le[0]);
    le[1] = cn_xcalloc(nb, sizeof *le[1]);
    cn_metrics_hist_t *total = NULL;
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *cell = &s->cells[i];
        const char *label = s->version_name[cell->role];
        if (!label || strcmp(cell->version, label) != 0)
            continue;
        req[cell->role] += cell->step_requests;
        errs[cell->role] += cell->step_errors;
        for (size_t b = 0; cell->prediction_le && b < nb; b++)
            le[cell->role][b] += cell->prediction_le[b];
        if (cell->role == CN_ROLE_STABLE && cell->latency) {
            if (!total) {
                total = cn_xmalloc(sizeof *total);
                cn_metrics_hist_init(total);
            }
            cn_metrics_hist_merge(total, cell->latency);
        }
    }
    bool same_step = p->valid && p->step == s->step;
    bool fired = false;
    if (p->valid) {
        cn_metrics_hist_t *sec[2];
        uint64_t *pred[2], *pred_total = cn_xcalloc(nb, sizeof *pred_total);
        cn_seq_second_t in;
        memset(&in, 0, sizeof in);
        cn_seq_arm_t *arm[2] = {&in.stable, &in.canary};
        bool sane = true;
        for (int r = 0; r < 2; r++) {
            sec[r] = cn_xmalloc(sizeof *sec[r]);
            *sec[r] = *lat[r];
            uint64_t r0 = same_step ? p->requests[r] : 0,
                     e0 = same_step ? p->errors[r] : 0;
            sane = sane && req[r] >= r0 && errs[r] >= e0;
            if (same_step) {
                for (size_t b = 0; b < CN_METRICS_HIST_BUCKETS; b++) {
                    sane = sane && sec[r]->counts[b] >= p->latency[r].counts[b];
                    sec[r]->counts[b] -= p->latency[r].counts[b];
                }
                sane = sane && sec[r]->count >= p->latency[r].count;
                sec[r]->count -= p->latency[r].count;
            }
            pred[r] = cn_xcalloc(nb, sizeof *pred[r]);
            uint64_t *delta = cn_xcalloc(nb, sizeof *delta);
            for (size_t b = 0; b < nb; b++) {
                sane = sane && le[r][b] >= p->pred_le[r][b];
                delta[b] = le[r][b] - p->pred_le[r][b];
            }
            buckets_of(delta, nb, pred[r]);
            free(delta);
            arm[r]->requests = req[r] - r0;
            arm[r]->errors = errs[r] - e0;
            if (arm[r]->errors > arm[r]->requests)
                arm[r]->errors = arm[r]->requests;
            arm[r]->latency = sec[r];
            arm[r]->predictions = pred[r];
        }
        buckets_of(le[CN_ROLE_STABLE], nb, pred_total);
        in.stable_latency_total = total;
        in.stable_predictions_total = pred_total;
        in.prediction_bounds = s->prediction_bounds;
        in.n_prediction_bounds = s->n_prediction_bounds;
        in.warmup = d->m.state == CN_ROLLOUT_WARMUP;
        /* the anytime analysis: after warmup, the same second's counts */
        if (sane && feed_any && !in.warmup) {
            cn_seq_update(&d->any_harm, &in);
            cn_seq_update(&d->any_ni, &in);
        }
        /* counters that went down belong to another version or a restart
         * of the router: skip the second */
        if (sane && feed_seq && cn_seq_update(&d->seq, &in)) {
            fired = true;
            cn_seq_reason(&d->seq, d->seq.fired_metric, why, whylen);
            json_t *ev = cn_seq_evidence_json(&d->seq);
            *payload = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(17));
            json_decref(ev);
        }
        for (int r = 0; r < 2; r++) {
            free(sec[r]);
            free(pred[r]);
        }
        free(pred_total);
    }
    p->valid = true;
    p->step = s->step;
    for (int r = 0; r < 2; r++) {
        p->requests[r] = req[r];
        p->errors[r] = errs[r];
        p->latency[r] = *lat[r];
        memcpy(p->pred_le[r], le[r], nb * sizeof *le[r]);
        free(le[r]);
    }
    free(total);
    return fired;
}

/* Between entries, the sequential state is saved every SEQ_SAVE_MS (the
 * tick: one small UPDATE a second, on the job thread). */
static void seq_save(cn_driver_t *d, int64_t now)
{
    if ((!seq_current(d) && !any_current(d)) || now - d->seq_saved_ms < SEQ_SAVE_MS)
        return;
    char err[256];
    char *text = machine_text(d);
    if (cn_store_rollout_save_machine(d->store, d->row.id, d->row.audit_seq, text, err,
                                      sizeof err))
        log_line(d, "the sequential state was not saved: %s", err);
    else {
        free(d->row.machine);
        d->row.machine = text;
        text = NULL;
        d->seq_saved_ms = now;
    }
    free(text);
}

/* ------------------------------------------------------- notifications */

static void notes_clear(cn_driver_t *d)
{
    for (size_t i = 0; i < d->n_notes; i++)
        free(d->notes[i]);
    d->n_notes = 0;
}

/* One outbox row per event and target that wants it. */
static size_t notes_for_store(const cn_driver_t *d, cn_store_note_t *out, size_t max)
{
    const cn_notify_config_t *nc = cn_notify_config(d->notify);
    size_t k = 0;
    for (size_t i = 0; nc && i < d->n_notes; i++) {
        json_t *ev = json_loads(d->notes[i], 0, NULL);
        cn_notify_event_t kind;
        bool ok = cn_notify_event_parse(json_string_value(json_object_get(ev, "event")),
                                        &kind) == 0;
        json_decref(ev);
        for (size_t t = 0; ok && t < nc->n_targets && k < max; t++)
            if (cn_notify_target_wants(&nc->targets[t], kind))
                out[k++] = (cn_store_note_t){
                    (unsigned)i, cn_notify_target_name(&nc->targets[t]), d->notes[i]};
    }
    return k;
}

/* Queue event `kind` of the change being run (written by the next persist). */
static void note(cn_driver_t *d, cn_notify_event_t kind, const cn_rollout_event_t *ev,
                 const cn_rollout_action_t *a, const char *reason)
{
    if (!d->notify || !cn_notify_config(d->notify)->n_targets ||
        d->n_notes >= NOTES_MAX)
        return;
    static const char *const verdicts[] = {"pass", "fail", "marginal", "nodata"};
    cn_note_info_t in = {
        .event = kind,
        .time_ms = ev->now_ms,
        .model = d->row.model,
        .version = d->row.version,
        .baseline = d->row.baseline,
        .rollout_id = d->row.id,
        .run = d->m.run,
        .state = cn_rollout_state_name(a ? a->to : d->m.state),
        .reason = reason,
        .actor = a && a->actor[0] ? a->actor : ev->actor,
        .step_index = d->m.step,
        .step_count = (uint32_t)d->strategy->n_steps,
        .weight_bp =
            a && a->kind == CN_ROLLOUT_SET_TRAFFIC ? a->weight_bp : d->m.weight_bp,
        .shadow = a && a->kind == CN_ROLLOUT_SET_TRAFFIC ? a->shadow : d->m.shadow,
        .shadow_bp =
            a && a->kind == CN_ROLLOUT_SET_TRAFFIC ? a->shadow_bp : d->m.shadow_bp,
        .dry_run = d->m.dry_run,
        .verdict = (ev->kind == CN_ROLLOUT_EV_ANALYSIS_RESULT ||
                    ev->kind == CN_ROLLOUT_EV_ANYTIME) &&
                           (unsigned)ev->verdict < 4
                       ? verdicts[ev->verdict]
                       : NULL,
        .analysis = d->analysis_rollout == d->row.id ? d->analysis_json : NULL,
        .trigger = ev->kind == CN_ROLLOUT_EV_TRIGGER ? ev->reason : NULL,
        .parity =
            d->parity ? cn_parity_result(store_state(a ? a->to : d->m.state)) : NULL,
    };
    /* promoted: the new version takes all the traffic */
    if (kind == CN_NOTIFY_PROMOTED)
        in.weight_bp = 10000;
    /* the verdict: this event's, or the last analysis's */
    if (!in.verdict && in.analysis)
        in.verdict = json_string_value(json_object_get(in.analysis, "verdict"));
    json_t *blast = NULL;
    if (d->blast_all > 0) {
        blast = json_pack("{s:I, s:I, s:f}", "canary_requests",
                          (json_int_t)d->canary_served, "canary_failed",
                          (json_int_t)d->blast_failed, "share",
                          (double)d->canary_served / (double)d->blast_all);
        in.blast_radius = blast;
    }
    d->notes[d->n_notes++] = cn_note_json(&in);
    json_decref(blast);
}

/* The events an action announces. */
static void note_action(cn_driver_t *d, const cn_rollout_event_t *ev,
                        const cn_rollout_action_t *a)
{
    if (a->kind == CN_ROLLOUT_SET_TRAFFIC && d->m.state != CN_ROLLOUT_ROLLING_BACK &&
        (a->weight_bp > 0 || a->shadow) && ev->kind != CN_ROLLOUT_EV_RESTART &&
        ev->kind != CN_ROLLOUT_EV_RESUME)
        note(d, CN_NOTIFY_STEP, ev, a, a->text);
    if (a->kind != CN_ROLLOUT_NOTIFY)
        return;
    if (ev->kind == CN_ROLLOUT_EV_TRIGGER && a->to == CN_ROLLOUT_ROLLING_BACK)
        note(d, CN_NOTIFY_TRIGGER_FIRED, ev, a, a->text);
    int kind = cn_note_event_of(a->from, a->to);
    if (kind >= 0)
        note(d, (cn_notify_event_t)kind, ev, a, a->text);
}

/* ------------------------------------------------------------- gates */

static bool running(const cn_driver_t *d);
static void event_init(cn_rollout_event_t *ev, cn_rollout_event_kind_t kind,
                       const char *actor, const char *reason);
static int run_event(cn_driver_t *d, const cn_rollout_event_t *ev, const char *payload,
                     char *err, size_t errlen);

typedef struct gate_call_s {
    cn_driver_t *d;
    int64_t rollout_id;
    uint32_t run, step;
    cn_rollout_gate_t gate;
    bool ok;
    char what[256];
} gate_call_t;

static void gate_work(cn_controller_t *c, void *arg)
{
    gate_call_t *g = arg;
    cn_driver_t *d = c->driver;
    if (!running(d) || d->row.id != g->rollout_id || d->m.run != g->run)
        return; /* another rollout or run by now */
    cn_rollout_event_t ev;
    event_init(&ev, CN_ROLLOUT_EV_GATE, "gate", g->what);
    ev.gate = g->gate;
    ev.step = g->step;
    ev.verdict = g->ok ? CN_ROLLOUT_VERDICT_PASS : CN_ROLLOUT_VERDICT_FAIL;
    char err[384];
    if (run_event(d, &ev, NULL, err, sizeof err))
        log_line(d, "gate answer: %s", err);
    live_update(d, NULL, 0, 0);
}

static void gate_after(cn_controller_t *c, void *arg)
{
    (void)c;
    free(arg);
}

/* The delivery thread: the gate's answer, posted to the control loop. */
static void gate_answer(void *arg, bool ok, long status, const char *what)
{
    gate_call_t *g = arg;
    (void)status;
    g->ok = ok;
    snprintf(g->what, sizeof g->what, "%s answered %s", cn_rollout_gate_name(g->gate),
             what);
    if (cn_controller__job(g->d->c, gate_work, gate_after, g))
        free(g);
}

/* Ask the gate an ASK_GATE action names, off the control loop. */
static void ask_gate(cn_driver_t *d, const cn_rollout_action_t *a)
{
    const cn_strategy_gate_t *gc = a->gate == CN_ROLLOUT_GATE_TRAFFIC
                                       ? &d->strategy->gates.traffic
                                       : &d->strategy->gates.promotion;
    gate_call_t *g = cn_xcalloc(1, sizeof *g);
    g->d = d;
    g->rollout_id = d->row.id;
    g->run = d->m.run;
    g->step = a->analysis.step;
    g->gate = a->gate;
    json_t *body = json_pack(
        "{s:s, s:I, s:s, s:I, s:s, s:s, s:I, s:I, s:f, s:f, s:b}", "gate",
        cn_rollout_gate_name(a->gate), "time_unix_ms", (json_int_t)now_ms(), "model",
        d->row.model, "rollout_id", (json_int_t)d->row.id, "version", d->row.version,
        "baseline", d->row.baseline, "step_index", (json_int_t)a->analysis.step,
        "step_count", (json_int_t)d->strategy->n_steps, "weight_pct",
        a->weight_bp / 100.0, "current_weight_pct", d->m.weight_bp / 100.0, "dry_run",
        d->m.dry_run);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    log_line(d, "%s", a->text);
    if (!d->notify ||
        cn_notify_gate(d->notify, gc->url, gc->timeout_ms, text, gate_answer, g)) {
        /* no notifier (or stopping): the gate cannot confirm; it holds */
        g->ok = false;
        snprintf(g->what, sizeof g->what, "%s cannot be called (no notifier)",
                 cn_rollout_gate_name(g->gate));
        if (cn_controller__job(d->c, gate_work, gate_after, g))
            free(g);
    }
    free(text);
}

static void row_from_machine(cn_driver_t *d)
{
    cn_store_rollout_t *r = &d->row;
    const cn_rollout_t *m = &d->m;
    r->state = store_state(m->state);
    r->resume_state = CN_STORE_ROLLOUT_NONE;
    if (m->state == CN_ROLLOUT_PAUSED)
        r->resume_state = m->resume_state == CN_ROLLOUT_PENDING
                              ? CN_STORE_ROLLOUT_PROGRESSING
                              : store_state(m->resume_state);
    else if (m->state == CN_ROLLOUT_HOLDING)
        r->resume_state = CN_STORE_ROLLOUT_PROGRESSING;
    if (r->resume_state != CN_STORE_ROLLOUT_NONE &&
        !cn_store_rollout_state_active(r->resume_state))
        r->resume_state = CN_STORE_ROLLOUT_PROGRESSING;
    r->step_index = m->step > 65535 ? 65535 : m->step;
    r->weight_bp = m->weight_bp;
    r->analysis_attempts = m->attempt > 65535 ? 65535 : m->attempt;
    snprintf(r->reason, sizeof r->reason, "%s", m->reason);
    free(r->machine);
    r->machine = machine_text(d);
}

/*
 * Store the machine with each entry, one transaction per entry; the last
 * carries the end of a rollback (the rolled-back tag) or a promotion (the
 * stable move and its generation) when the machine reached it.
 */
/* A parity check's end says its result first: the machine's words are a
 * rollout's ("promoted: the canary is stable"), and nothing was promoted. */
static void parity_reason(cn_driver_t *d)
{
    if (!d->parity || !cn_rollout_final(d->m.state))
        return;
    const char *result = cn_parity_result(store_state(d->m.state));
    size_t n = strlen(result);
    if (strncmp(d->m.reason, result, n) == 0 && d->m.reason[n] == ':')
        return;
    char was[CN_ROLLOUT_REASON_MAX];
    snprintf(was, sizeof was, "%s", d->m.reason);
    if (d->m.state == CN_ROLLOUT_PROMOTED)
        snprintf(d->m.reason, sizeof d->m.reason,
                 "passed: the two arms of stable's version are equivalent within every "
                 "margin, each way; nothing was promoted");
    else
        snprintf(d->m.reason, sizeof d->m.reason, "%s: %.200s", result, was);
}

static int persist(cn_driver_t *d, const entry_t *entries, size_t n, bool tag,
                   const char *payload, char *err, size_t errlen)
{
    const cn_generation_t *promoted = d->has_promoted ? &d->promoted : NULL;
    /* the machine's texts are cut to size ("%.180s" of a person's
     * reason), maybe inside a UTF-8 character, which the store refuses */
    parity_reason(d);
    cn_text_utf8_clip(d->m.reason);
    row_from_machine(d);
    int rc = 0;
    /* the events go with the last entry (the change that caused them) */
    cn_store_note_t notes[NOTES_MAX * 8];
    size_t n_notes = notes_for_store(d, notes, sizeof notes / sizeof notes[0]);
    for (size_t i = 0; i < n && !rc; i++) {
        cn_store_audit_t e;
        memset(&e, 0, sizeof e);
        if (i + 1 == n) {
            e.notes = notes;
            e.n_notes = n_notes;
        }
        e.kind = entries[i].kind;
        snprintf(e.actor, sizeof e.actor, "%s", entries[i].actor);
        snprintf(e.reason, sizeof e.reason, "%s", entries[i].text);
        cn_text_utf8_clip(e.reason);
        e.payload = i == 0 ? (char *)payload : NULL;
        bool last = i + 1 == n;
        if (last && promoted && d->m.state == CN_ROLLOUT_PROMOTED) {
            rc = cn_registry_promote(d->reg, &d->row, &e, promoted, err, errlen);
            if (!rc)
                d->has_promoted = false;
        } else if (last && tag &&
                   (d->m.state == CN_ROLLOUT_ROLLED_BACK ||
                    d->m.state == CN_ROLLOUT_ABORTED))
            rc = cn_registry_roll_back(d->reg, &d->row, store_state(d->m.state), &e,
                                       err, errlen);
        else
            rc = cn_store_rollout_update(d->store, &d->row, &e, NULL, err, errlen);
        if (!rc) {
            /* the store gave back what it holds; keep our machine text */
            free(d->row.machine);
            d->row.machine = machine_text(d);
        }
    }
    if (rc)
        log_line(d, "NOT STORED: %s", err);
    bool kick = rc == 0 && n_notes > 0;
    notes_clear(d);
    if (kick)
        cn_notify_kick(d->notify);
    return rc;
}

/* ------------------------------------------------------------ events */

static cn_store_audit_kind_t entry_kind(cn_rollout_event_kind_t k)
{
    switch (k) {
    case CN_ROLLOUT_EV_TRIGGER:
        return CN_STORE_AUDIT_TRIGGER;
    case CN_ROLLOUT_EV_ANALYSIS_RESULT:
        return CN_STORE_AUDIT_ANALYSIS;
    case CN_ROLLOUT_EV_PAUSE:
    case CN_ROLLOUT_EV_RESUME:
    case CN_ROLLOUT_EV_PROMOTE:
    case CN_ROLLOUT_EV_PROMOTE_FULL:
    case CN_ROLLOUT_EV_ABORT:
    case CN_ROLLOUT_EV_RETRY:
    case CN_ROLLOUT_EV_MANUAL_TRAFFIC:
    case CN_ROLLOUT_EV_START:
        return CN_STORE_AUDIT_MANUAL;
    default:
        return CN_STORE_AUDIT_TRANSITION;
    }
}

/*
 * Feed one event and carry out its actions. 0; CN_ECONFLICT when the
 * machine refuses the event (its reason in err); another code when the
 * traffic or the store failed (the machine has moved on regardless: the
 * next tick carries on from what it decided).
 */
static int run_event(cn_driver_t *d, const cn_rollout_event_t *ev, const char *payload,
                     char *err, size_t errlen)
{
    cn_rollout_output_t out;
    int64_t window_before = d->m.window_started_ms;
    if (cn_rollout_step(&d->rcfg, &d->m, ev, &out))
        return cn_fail(err, errlen, CN_ECONFLICT, "%s", out.error);
    if (payload && ev->kind == CN_ROLLOUT_EV_ANALYSIS_RESULT && d->notify) {
        json_t *a = json_loads(payload, 0, NULL);
        if (json_is_object(a)) {
            json_decref(d->analysis_json);
            d->analysis_json = a;
            d->analysis_rollout = d->row.id;
        } else {
            json_decref(a);
        }
    }
    for (size_t i = 0; i < out.n_actions; i++)
        note_action(d, ev, &out.actions[i]);
    entry_t entries[ENTRIES_MAX];
    size_t n = 0;
    bool tag = false, traffic_set = false, published = false;
    int rc = 0;
    char aerr[384];
    for (size_t i = 0; i < out.n_actions; i++) {
        const cn_rollout_action_t *a = &out.actions[i];
        switch (a->kind) {
        case CN_ROLLOUT_SET_TRAFFIC:
            traffic_set = true;
            if (!a->dry_run && set_traffic(d, a, aerr, sizeof aerr)) {
                log_line(d, "traffic not set: %s", aerr);
                if (d->m.state != CN_ROLLOUT_ROLLING_BACK && a->weight_bp > 0)
                    snprintf(d->traffic_failed, sizeof d->traffic_failed, "%.300s",
                             aerr);
                if (!rc)
                    rc = cn_fail(err, errlen, CN_EIO, "traffic not set: %s", aerr);
            }
            published = true;
            if (d->m.state == CN_ROLLOUT_ROLLING_BACK)
                crash_point("rollback");
            break;
        case CN_ROLLOUT_PROMOTE:
            /* The decision first (state promoting, with the entries that
             * led to it), then the publication: a crash in between finds
             * the rollout promoting and issues the promotion again, rather
             * than judge the step again. (A rollback goes the other way:
             * weight 0 first.) */
            if (n) {
                int prc = persist(d, entries, n, false, payload, aerr, sizeof aerr);
                if (prc && !rc)
                    rc = cn_fail(err, errlen, prc, "not stored: %s", aerr);
                n = 0;
                payload = NULL;
            }
            if (a->dry_run) {
                published = true;
            } else if (d->parity) {
                /* a parity check that passed promotes nothing: its arm
                 * leaves, as at any of its ends */
                cn_rollout_action_t off;
                memset(&off, 0, sizeof off);
                off.kind = CN_ROLLOUT_SET_TRAFFIC;
                if (set_traffic(d, &off, aerr, sizeof aerr)) {
                    log_line(d, "parity arm not removed: %s", aerr);
                    if (!rc)
                        rc = cn_fail(err, errlen, CN_EIO, "parity arm not removed: %s",
                                     aerr);
                } else {
                    published = true;
                }
            } else if (publish_promotion(d, &d->promoted, aerr, sizeof aerr)) {
                log_line(d, "promotion not published: %s", aerr);
                if (!rc)
                    rc = cn_fail(err, errlen, CN_EIO, "promotion not published: %s",
                                 aerr);
            } else {
                d->has_promoted = true;
                published = true;
                crash_point("promotion");
            }
            break;
        case CN_ROLLOUT_START_ANALYSIS:
            d->want_analysis = true;
            d->analysis_req = a->analysis;
            /* stored before it runs, so a crash leaves it spent */
            if (n < ENTRIES_MAX) {
                entries[n].kind = CN_STORE_AUDIT_TRANSITION;
                snprintf(entries[n].actor, sizeof entries[n].actor, "controller");
                snprintf(entries[n].text, sizeof entries[n].text, "step %u: %s",
                         a->analysis.step, a->text);
                n++;
            }
            break;
        case CN_ROLLOUT_RECORD:
            if (n < ENTRIES_MAX) {
                /* the event's own kind (and its payload) on its first
                 * entry; what follows from it is a transition */
                entries[n].kind =
                    n == 0 ? entry_kind(ev->kind) : CN_STORE_AUDIT_TRANSITION;
                snprintf(entries[n].actor, sizeof entries[n].actor, "%s",
                         a->actor[0] ? a->actor : "controller");
                snprintf(entries[n].text, sizeof entries[n].text, "%s%s",
                         a->dry_run ? "[dry run] " : "", a->text);
                n++;
            }
            break;
        case CN_ROLLOUT_TAG:
            tag = !a->dry_run && !d->parity; /* a parity check tags nothing */
            break;
        case CN_ROLLOUT_NOTIFY:
            log_line(d, "%s", a->text);
            break;
        case CN_ROLLOUT_ASK_GATE:
            ask_gate(d, a);
            break;
        }
    }
    if (payload && n == 0 && ev->kind == CN_ROLLOUT_EV_ANALYSIS_RESULT) {
        /* every analysis is in the trail, even one the machine ignores */
        entries[0].kind = CN_STORE_AUDIT_ANALYSIS;
        snprintf(entries[0].actor, sizeof entries[0].actor, "controller");
        snprintf(entries[0].text, sizeof entries[0].text,
                 "analysis of step %u attempt %u (not acted on): %.200s", ev->step,
                 ev->attempt, ev->reason);
        n = 1;
    }
    if (n == 0 && (tag || (d->has_promoted && d->m.state == CN_ROLLOUT_PROMOTED))) {
        entries[0].kind = CN_STORE_AUDIT_TRANSITION;
        snprintf(entries[0].actor, sizeof entries[0].actor, "controller");
        snprintf(entries[0].text, sizeof entries[0].text, "%s", d->m.reason);
        n = 1;
    }
    if (n) {
        int prc = persist(d, entries, n, tag, payload, aerr, sizeof aerr);
        if (prc && !rc)
            rc = cn_fail(err, errlen, prc, "not stored: %s", aerr);
        if (!prc && d->m.state == CN_ROLLOUT_WARMUP)
            crash_point("warmup");
    }
    if (published &&
        (d->m.state == CN_ROLLOUT_ROLLING_BACK || d->m.state == CN_ROLLOUT_PROMOTING)) {
        cn_rollout_event_t pe;
        memset(&pe, 0, sizeof pe);
        pe.kind = CN_ROLLOUT_EV_PUBLISHED;
        pe.now_ms = now_ms();
        snprintf(pe.actor, sizeof pe.actor, "controller");
        char perr[384];
        int prc = run_event(d, &pe, NULL, perr, sizeof perr);
        if (prc && !rc)
            rc = cn_fail(err, errlen, prc, "%s", perr);
    }
    if (!traffic_set && d->m.window_started_ms != window_before &&
        d->m.window_started_ms && !d->m.dry_run && cn_rollout_active(d->m.state) &&
        d->m.traffic_started_ms) {
        if (restep(d, aerr, sizeof aerr))
            log_line(d, "new window not opened: %s", aerr);
    }
    if (cn_rollout_final(d->m.state))
        d->want_analysis = false;
    return rc;
}

static void event_init(cn_rollout_event_t *ev, cn_rollout_event_kind_t kind,
                       const char *actor, const char *reason)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->now_ms = now_ms();
    snprintf(ev->actor, sizeof ev->actor, "%s", actor ? actor : "controller");
    snprintf(ev->reason, sizeof ev->reason, "%s", reason ? reason : "");
}

static bool running(const cn_driver_t *d)
{
    return d->loaded && cn_rollout_active(d->m.state);
}

/* A run this driver has not seen yet (a start, a retry) begins at 1; a
 * resumed one was set by seq_resume, and stays off when its state was
 * unreadable. */
static void seq_sync(cn_driver_t *d)
{
    if (d->has_seq && running(d) &&
        (d->seq_rollout != d->row.id || d->seq_run != d->m.run))
        seq_begin(d);
}

/* Run the configured strategy (spec NULL) or a parity check's. */
static void use_strategy(cn_driver_t *d, const cn_parity_spec_t *spec)
{
    cn_parity_strategy_dispose(&d->parity_strategy);
    d->strategy = d->base;
    d->parity = spec != NULL;
    if (spec) {
        cn_parity_strategy(d->base, spec, d->analysis->min_per_arm,
                           &d->parity_strategy);
        d->strategy = &d->parity_strategy;
    }
    d->rcfg.strategy = d->strategy;
}

/* The candidate's addresses, from the registry; the configured strategy. */
static int load_candidate(cn_driver_t *d, const char *version, char *err, size_t errlen)
{
    use_strategy(d, NULL);
    cn_store_version_t v;
    cn_store_version_init(&v);
    int rc = cn_registry_get_version(d->reg, d->model, version, &v, err, errlen);
    if (!rc) {
        cn_version_set_dispose(&d->canary_set);
        cn_version_set_init(&d->canary_set, version);
        for (size_t i = 0; i < v.set.count; i++)
            cn_version_set_add(&d->canary_set, v.set.addresses[i]);
    }
    cn_store_version_dispose(&v);
    return rc;
}

/* A rollout's canary arm (into d->canary_set) and the strategy it runs:
 * a candidate's, or a parity check's from its spec. A parity check whose
 * spec cannot be read is still one (d->parity), so that its end touches
 * no tag. */
static int load_arm(cn_driver_t *d, const cn_store_rollout_t *row, char *err,
                    size_t errlen)
{
    if (!row->parity)
        return load_candidate(d, row->version, err, errlen);
    cn_parity_spec_t spec;
    bool is = false;
    int rc = cn_parity_spec_parse(row->strategy, &spec, &is, err, errlen);
    if (!rc && !is)
        rc = cn_fail(err, errlen, CN_EINVAL, "not a parity check's spec");
    if (!rc) {
        use_strategy(d, &spec);
        cn_version_set_copy(&d->canary_set, &spec.canary);
    } else {
        use_strategy(d, NULL);
        d->parity = true;
    }
    cn_parity_spec_dispose(&spec);
    return rc;
}

/* ------------------------------------------------------------ analysis */

typedef struct analysis_s {
    cn_driver_t *d;
    uv_work_t work;
    int64_t rollout_id;
    uint64_t generation;
    cn_rollout_analysis_t req;
    bool parity;           /* a parity check's: judged both ways */
    cn_judge_config_t cfg; /* the step's (step_config), taken at the start */
    /* result */
    double wall_ms, cpu_ms; /* what analysis_work took: its wall and
                               thread CPU time (read, judge) */
    int rc;
    cn_rollout_verdict_t verdict;
    char reason[CN_ROLLOUT_REASON_MAX];
    char *json;
    uint64_t floor;
} analysis_t;

/* The window's samples, as the judge takes them: the reservoirs per arm
 * and segment, the error counts whole, each arm's requests per segment
 * (so that its aggregate is stratified by its own traffic); in a shadow
 * step's window, the prediction pairs. */
/* A cell from a source that has only histograms (Prometheus): its
 * step's latency as bins, us edges in ms, judged as bins (JUDGE.md,
 * "Binned data"). */
static int add_latency_bins(cn_judge_data_t *data, cn_judge_arm_t arm, const char *seg,
                            const cn_router_cell_t *cell)
{
    size_t k = cell->n_step_latency_bins;
    double *ms = cn_xmallocarray(k, sizeof *ms);
    for (size_t b = 0; b + 1 < k; b++)
        ms[b] = cell->step_latency_bounds[b] / 1000.0;
    int rc = cn_judge_data_add_bins(data, "latency_ms", arm, seg, ms, 0,
                                    cell->step_latency_bins, k);
    free(ms);
    return rc;
}

static int window_data(const cn_router_snapshot_t *s, const cn_judge_config_t *cfg,
                       bool paired, bool swap, cn_judge_data_t *data)
{
    bool lat = cn_judge_config_wants(cfg, "latency_ms"),
         pred = cn_judge_config_wants(cfg, "prediction"),
         errm = cn_judge_config_wants(cfg, "error");
    /* A shadow step's predictions are judged in pairs, per request id: the
     * same requests answered by both versions. Its latency and errors are
     * judged as usual (the copies' own). */
    if (paired && pred && s->npairs) {
        double *ps = cn_xmallocarray(s->npairs, sizeof *ps);
        double *pc = cn_xmallocarray(s->npairs, sizeof *pc);
        for (size_t i = 0; i < s->npairs; i++) {
            ps[i] = s->pairs[i].stable;
            pc[i] = s->pairs[i].canary;
        }
        int rc = cn_judge_data_add_pairs(data, "prediction", ps, pc, s->npairs);
        free(ps);
        free(pc);
        if (rc)
            return rc;
        pred = false;
    }
    double *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < s->ncells && !rc; i++) {
        const cn_router_cell_t *cell = &s->cells[i];
        const char *label = s->version_name[cell->role];
        if (!label || strcmp(cell->version, label) != 0)
            continue; /* a version that left */
        /* swap: each arm judged as the other (a parity check's reverse) */
        cn_judge_arm_t arm =
            (cell->role == CN_ROLE_CANARY) != swap ? CN_ARM_CANARY : CN_ARM_STABLE;
        const char *seg = cell->segment && cell->segment[0] ? cell->segment : NULL;
        if (cell->step_requests == 0)
            continue;
        rc = cn_judge_data_set_requests(data, arm, seg, cell->step_requests);
        if (!rc && lat && cell->n_step_latency) {
            if (cap < cell->n_step_latency) {
                cap = cell->n_step_latency;
                buf = cn_xrealloc(buf, cap * sizeof *buf);
            }
            for (size_t k = 0; k < cell->n_step_latency; k++)
                buf[k] = cell->step_latency_us[k] / 1000.0;
            rc = cn_judge_data_add_many(data, "latency_ms", arm, seg, buf,
                                        cell->n_step_latency);
        }
        if (!rc && lat && !cell->n_step_latency && cell->n_step_latency_bins)
            rc = add_latency_bins(data, arm, seg, cell);
        if (!rc && pred && cell->n_step_predictions)
            rc = cn_judge_data_add_many(data, "prediction", arm, seg,
                                        cell->step_predictions,
                                        cell->n_step_predictions);
        if (!rc && errm)
            rc = cn_judge_data_add_counts(data, "error", arm, seg,
                                          cell->step_errors > cell->step_requests
                                              ? cell->step_requests
                                              : cell->step_errors,
                                          cell->step_requests);
    }
    free(buf);
    return rc;
}

/*
 * The judge's config for one analysis step: the analysis section with only
 * the metrics the step names (`analysis: {metrics: [...]}`; none named:
 * all of them), less the `agreement` metrics outside a shadow step's
 * window (they compare both versions' answers to the same requests, which
 * only a shadow copy gives; elsewhere they could never pass and would hold
 * the last analysis forever). A shallow copy: cfg->metrics is the
 * caller's to free, its strings stay the section's.
 */
static void step_config(const cn_driver_t *d, const cn_rollout_analysis_t *req,
                        cn_judge_config_t *cfg)
{
    const cn_judge_config_t *all = d->analysis;
    const cn_strategy_step_t *st =
        req->step < d->strategy->n_steps ? &d->strategy->steps[req->step] : NULL;
    const cn_config_strv_t *only =
        st && st->kind == CN_STRATEGY_ANALYSIS && st->analysis.metrics.count
            ? &st->analysis.metrics
            : NULL;
    *cfg = *all;
    cfg->metrics =
        cn_xcalloc(all->n_metrics ? all->n_metrics : 1, sizeof *cfg->metrics);
    cfg->n_metrics = 0;
    for (size_t i = 0; i < all->n_metrics; i++) {
        const cn_judge_metric_t *m = &all->metrics[i];
        bool keep = !only;
        for (size_t k = 0; only && k < only->count && !keep; k++)
            keep = strcmp(only->items[k], m->name) == 0;
        if (m->test == CN_JTEST_AGREEMENT && !req->paired)
            keep = false;
        if (keep)
            cfg->metrics[cfg->n_metrics++] = *m;
    }
}

/* The window judged one way (swap: each arm as the other), at levels. */
static int judge_window(const analysis_t *a, const cn_router_snapshot_t *s, bool swap,
                        const cn_judge_levels_t *levels, cn_judge_result_t *res,
                        char *why, size_t whylen)
{
    cn_driver_t *d = a->d;
    cn_judge_data_t *data = cn_judge_data_new();
    int rc = window_data(s, &a->cfg, a->req.paired, swap, data);
    /* The fed metrics of the same step: values that arrived after the
     * responses, for the same versions (swapped with the arms). */
    const char *labels[2] = {s->version_name[CN_ROLE_STABLE],
                             s->version_name[CN_ROLE_CANARY]};
    if (swap) {
        labels[CN_ROLE_STABLE] = s->version_name[CN_ROLE_CANARY];
        labels[CN_ROLE_CANARY] = s->version_name[CN_ROLE_STABLE];
    }
    if (!rc && d->c->feedback)
        rc = cn_feedback_add_to_judge(d->c->feedback, s->step, labels, &a->cfg, data);
    if (rc) {
        cn_judge_data_free(data);
        snprintf(why, whylen, "the window's samples: %s", cn_strerror(rc));
        return rc;
    }
    rc = cn_judge_run_levels(&a->cfg, data, levels, res);
    cn_judge_data_free(data);
    if (rc)
        snprintf(why, whylen, "the judge refused: %s", cn_strerror(rc));
    return rc;
}

/* The machine's verdict of one result (rollout.h): harm rolls back; a
 * failing non-critical metric is marginal; an analysis before the last
 * has done its job when it finds no harm (it cannot pass: only the last
 * spends pass budget), so "not shown non-inferior" there is no data,
 * never a failure; the last must pass. *floor: the largest floor a row
 * needs. */
static cn_rollout_verdict_t machine_verdict(const cn_judge_result_t *res, bool last,
                                            uint64_t *floor)
{
    bool nodata = false, failing = false;
    for (size_t i = 0; i < res->n_rows; i++) {
        if (res->rows[i].segment)
            continue;
        /* below the floor its test needs: the window lacks data (the last
         * analysis waits for it and tries again), it is not marginal */
        if (res->rows[i].cls == CN_CLASS_NODATA ||
            (res->rows[i].cls == CN_CLASS_INCONCLUSIVE &&
             (res->rows[i].canary.n < res->rows[i].min_samples ||
              res->rows[i].stable.n < res->rows[i].min_samples)))
            nodata = true;
        if (res->rows[i].cls == CN_CLASS_FAIL)
            failing = true;
        if (res->rows[i].min_samples > *floor)
            *floor = res->rows[i].min_samples;
    }
    if (res->verdict == CN_VERDICT_FAIL)
        return CN_ROLLOUT_VERDICT_FAIL;
    if (failing)
        return CN_ROLLOUT_VERDICT_MARGINAL;
    if (res->verdict == CN_VERDICT_PASS)
        return CN_ROLLOUT_VERDICT_PASS;
    if (!last || nodata)
        return CN_ROLLOUT_VERDICT_NODATA;
    return CN_ROLLOUT_VERDICT_MARGINAL;
}

/*
 * A parity check's two directions as one equivalence test: the canary arm
 * against the stable arm (forward) and the stable arm against the canary
 * arm (reverse), stable's version on both. Harm shown either way fails
 * (each direction at alpha_fail / 2: a union of two tests); both
 * directions shown non-inferior passes (an intersection-union test: each
 * at alpha_pass, the two one-sided tests of TOST); otherwise the weaker
 * of the two (marginal before no data).
 */
static cn_rollout_verdict_t parity_verdict(cn_rollout_verdict_t fwd,
                                           cn_rollout_verdict_t rev)
{
    if (fwd == CN_ROLLOUT_VERDICT_FAIL || rev == CN_ROLLOUT_VERDICT_FAIL)
        return CN_ROLLOUT_VERDICT_FAIL;
    if (fwd == CN_ROLLOUT_VERDICT_PASS && rev == CN_ROLLOUT_VERDICT_PASS)
        return CN_ROLLOUT_VERDICT_PASS;
    if (fwd == CN_ROLLOUT_VERDICT_MARGINAL || rev == CN_ROLLOUT_VERDICT_MARGINAL)
        return CN_ROLLOUT_VERDICT_MARGINAL;
    return CN_ROLLOUT_VERDICT_NODATA;
}

static json_t *result_json(const analysis_t *a, const cn_judge_result_t *res)
{
    json_t *o = cn_judge_result_json(res, NULL);
    json_object_set_new(o, "step", json_integer(a->req.step));
    json_object_set_new(o, "attempt", json_integer(a->req.attempt));
    json_object_set_new(o, "generation", json_integer((json_int_t)a->generation));
    json_object_set_new(o, "paired", json_boolean(a->req.paired));
    return o;
}

/* Each address of each arm in the window (a parity check's): its
 * requests, errors and latency quantiles in ms (null without values). */
static json_t *addresses_json(const cn_router_snapshot_t *s)
{
    json_t *list = json_array();
    for (size_t i = 0; i < s->naddresses; i++) {
        const cn_router_address_stat_t *a = &s->addresses[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "arm", cn_role_name(a->role),
                              "address", a->address, "requests",
                              (json_int_t)a->requests, "errors", (json_int_t)a->errors);
        static const struct {
            const char *key;
            double q;
        } qs[] = {{"p50_ms", 0.5}, {"p90_ms", 0.9}, {"p99_ms", 0.99}};
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++)
            json_object_set_new(
                o, qs[k].key,
                cn_metrics_hist_count(a->latency)
                    ? json_real((double)cn_metrics_hist_quantile(a->latency, qs[k].q) /
                                1000.0)
                    : json_null());
        json_array_append_new(list, o);
    }
    return list;
}

static double ms_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void analysis_body(analysis_t *a);

/* The window's read and the judge, timed (the analysis's cost is in its
 * log line: with many models, the controller's CPU is analyses). */
static void analysis_work(uv_work_t *w)
{
    analysis_t *a = w->data;
    double wall = ms_of(CLOCK_MONOTONIC), cpu = ms_of(CLOCK_THREAD_CPUTIME_ID);
    analysis_body(a);
    a->wall_ms = ms_of(CLOCK_MONOTONIC) - wall;
    a->cpu_ms = ms_of(CLOCK_THREAD_CPUTIME_ID) - cpu;
}

static void analysis_body(analysis_t *a)
{
    cn_driver_t *d = a->d;
    crash_point("analysis");
    cn_metrics_source_t *src = d->c->metrics;
    cn_router_snapshot_t *s = NULL;
    char err[384];
    cn_metrics_window_t win = {.kind = CN_WINDOW_GENERATION,
                               .generation = a->generation};
    unsigned mask = CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_SAMPLES |
                    (a->req.paired ? CN_ROUTER_SNAP_PAIRS : 0) |
                    (a->parity ? CN_ROUTER_SNAP_ADDRESSES : 0);
    a->rc = src->read(src, &win, mask, &s, err, sizeof err);
    if (a->rc) {
        snprintf(a->reason, sizeof a->reason, "no window: %.200s", err);
        return;
    }
    json_t *addrs = a->parity ? addresses_json(s) : NULL;
    cn_judge_levels_t levels = {.alpha_fail = a->req.alpha_fail,
                                .alpha_pass = a->req.alpha_pass};
    if (a->parity)
        levels.alpha_fail /= 2;
    cn_judge_result_t res, rev;
    bool has_rev = false;
    int rc = judge_window(a, s, false, &levels, &res, a->reason, sizeof a->reason);
    if (!rc && a->parity) {
        rc = judge_window(a, s, true, &levels, &rev, a->reason, sizeof a->reason);
        if (rc)
            cn_judge_result_dispose(&res);
        has_rev = rc == 0;
    }
    src->release(src, s);
    if (rc) {
        json_decref(addrs);
        a->rc = rc;
        return;
    }
    a->verdict = machine_verdict(&res, a->req.last, &a->floor);
    snprintf(a->reason, sizeof a->reason, "%.250s", res.reason);
    json_t *o = result_json(a, &res);
    if (has_rev) {
        cn_rollout_verdict_t v = machine_verdict(&rev, a->req.last, &a->floor);
        cn_rollout_verdict_t both = parity_verdict(a->verdict, v);
        /* the reason of the direction that decided */
        if (both == CN_ROLLOUT_VERDICT_FAIL)
            snprintf(a->reason, sizeof a->reason, "the arms differ: %.200s",
                     a->verdict == CN_ROLLOUT_VERDICT_FAIL ? res.reason : rev.reason);
        else if (both == CN_ROLLOUT_VERDICT_PASS)
            snprintf(a->reason, sizeof a->reason,
                     "the arms are equivalent within every margin, each way: %.150s",
                     res.reason);
        else
            snprintf(a->reason, sizeof a->reason, "equivalence not shown: %.200s",
                     a->verdict != CN_ROLLOUT_VERDICT_PASS ? res.reason : rev.reason);
        static const char *const names[] = {"pass", "fail", "marginal", "nodata"};
        json_t *p = json_pack("{s:s, s:s, s:o, s:o}", "verdict", names[both], "reason",
                              a->reason, "reverse", result_json(a, &rev), "addresses",
                              addrs ? addrs : json_array());
        addrs = NULL;
        json_object_set_new(o, "parity", p);
        a->verdict = both;
        cn_judge_result_dispose(&rev);
    }
    json_decref(addrs);
    a->json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    cn_judge_result_dispose(&res);
}

static void verdict_work(cn_controller_t *c, void *arg)
{
    analysis_t *a = arg;
    cn_driver_t *d = c->driver;
    if (!running(d) || d->row.id != a->rollout_id)
        return; /* the rollout ended meanwhile: nothing to act on */
    cn_rollout_event_t ev;
    event_init(&ev, CN_ROLLOUT_EV_ANALYSIS_RESULT, "judge", a->reason);
    ev.step = a->req.step;
    ev.attempt = a->req.attempt;
    if (a->rc) {
        /* No window (a manual change opened a new step meanwhile): never a
         * failure. */
        ev.verdict = CN_ROLLOUT_VERDICT_NODATA;
    } else {
        ev.verdict = a->verdict;
        d->floor_hint = a->floor;
    }
    static const char *const names[] = {"pass", "fail", "marginal", "nodata"};
    log_line(d, "analysis of step %u: %s in %.1f ms (%.1f ms CPU)", a->req.step,
             names[ev.verdict], a->wall_ms, a->cpu_ms);
    live_verdict(d, names[ev.verdict], a->reason);
    char err[384];
    if (run_event(d, &ev, a->json, err, sizeof err))
        log_line(d, "analysis verdict: %s", err);
    live_update(d, NULL, 0, 0);
}

static void analysis_start(cn_driver_t *d);

static void analysis_free(analysis_t *a)
{
    free(a->json);
    free(a->cfg.metrics);
    free(a);
}

static void verdict_after(cn_controller_t *c, void *arg)
{
    analysis_t *a = arg;
    analysis_free(a);
    analysis_start(c->driver);
}

static void analysis_after(uv_work_t *w, int status)
{
    analysis_t *a = w->data;
    cn_driver_t *d = a->d;
    (void)status;
    d->analysis_running = false;
    if (cn_controller__job(d->c, verdict_work, verdict_after, a))
        analysis_free(a);
}

/* Loop thread: start the analysis a job asked for. */
static void analysis_start(cn_driver_t *d)
{
    if (!d->want_analysis || d->analysis_running || !running(d))
        return;
    d->want_analysis = false;
    analysis_t *a = cn_xcalloc(1, sizeof *a);
    a->d = d;
    a->rollout_id = d->row.id;
    a->req = d->analysis_req;
    a->parity = d->parity;
    /* the strategy may change under a running analysis (a new rollout):
     * its config is taken now */
    step_config(d, &a->req, &a->cfg);
    pthread_mutex_lock(&d->c->mu);
    a->generation = d->c->current.number;
    pthread_mutex_unlock(&d->c->mu);
    a->work.data = a;
    d->analysis_running = true;
    if (uv_queue_work(&d->c->loop, &a->work, analysis_work, analysis_after)) {
        d->analysis_running = false;
        analysis_free(a);
    }
}

/* ------------------------------------------------------------ tick */

static bool has_canary_up(const cn_router_snapshot_t *s)
{
    for (size_t i = 0; i < s->nupstreams; i++)
        if (s->upstreams[i].role == CN_ROLE_CANARY && s->upstreams[i].up &&
            s->upstreams[i].checked)
            return true;
    return false;
}

/*
 * One arm's predictions as a proportionally stratified sample of its own
 * traffic (as the judge builds its aggregates): pooling the reservoirs
 * would compare different segment mixes (a full reservoir of stable's big
 * segment against all of the canary's few values), which shifts an
 * identical canary whenever segments differ (rollout-sim --pooled-ks).
 * *out is allocated; returns its size, 0 when the arm has none.
 */
static size_t stratified_predictions(const cn_router_snapshot_t *s, cn_role_t role,
                                     double **out)
{
    *out = NULL;
    cn_judge_stratum_t *strata = cn_xcalloc(s->ncells + 1, sizeof *strata);
    size_t n_strata = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *cell = &s->cells[i];
        const char *label = s->version_name[cell->role];
        if (cell->role != role || !label || strcmp(cell->version, label) != 0 ||
            cell->step_predictions_seen == 0)
            continue;
        strata[n_strata].values = cell->step_predictions;
        strata[n_strata].k = cell->n_step_predictions;
        strata[n_strata].requests =
            cell->step_predictions_seen < cell->n_step_predictions
                ? cell->n_step_predictions
                : cell->step_predictions_seen;
        n_strata++;
    }
    size_t n = 0;
    if (n_strata && cn_judge_stratify_size(strata, n_strata, &n) == 0 && n > 0) {
        *out = cn_xmalloc(n * sizeof **out);
        if (cn_judge_stratify(strata, n_strata, 1, *out, n, &n)) {
            free(*out);
            *out = NULL;
            n = 0;
        }
    }
    free(strata);
    return n;
}

/* The KS distance of the arms' predictions (stratified samples). */
static bool prediction_ks(const cn_router_snapshot_t *s, double *dist, uint64_t *nc,
                          uint64_t *ns)
{
    double *v[2];
    size_t n[2];
    n[CN_ROLE_STABLE] = stratified_predictions(s, CN_ROLE_STABLE, &v[CN_ROLE_STABLE]);
    n[CN_ROLE_CANARY] = stratified_predictions(s, CN_ROLE_CANARY, &v[CN_ROLE_CANARY]);
    bool ok = n[0] && n[1];
    cn_ks_result_t ks;
    /* only D is used (the trigger tests it against its limit): the
     * asymptotic method skips the exact p-value's cost */
    if (ok)
        ok = cn_stats_ks2(v[CN_ROLE_CANARY], n[CN_ROLE_CANARY], v[CN_ROLE_STABLE],
                          n[CN_ROLE_STABLE], CN_ALT_TWO_SIDED, CN_KS_ASYMPTOTIC,
                          &ks) == 0;
    free(v[0]);
    free(v[1]);
    if (!ok)
        return false;
    *dist = ks.d;
    *nc = n[CN_ROLE_CANARY];
    *ns = n[CN_ROLE_STABLE];
    return true;
}

/* Stable's p99 upper bound (ms) from its step histogram: the bucket upper
 * edge of the order statistic of rank j. */
static bool p99_bound(const cn_metrics_hist_t *h, uint64_t m, double level,
                      double *out_ms)
{
    uint64_t j = cn_triggers_p99_bound_rank(m, level);
    if (!j || !h)
        return false;
    uint64_t seen = 0;
    for (size_t b = 0; b < CN_METRICS_HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= j) {
            uint64_t lo, hi;
            cn_metrics_hist_bucket_bounds(b, &lo, &hi);
            *out_ms = hi / 1000.0;
            return true;
        }
    }
    return false;
}

/* Whether the next analysis at or after the current step is the last. */
static bool next_is_last(const cn_driver_t *d)
{
    const cn_strategy_t *s = d->strategy;
    unsigned J = cn_strategy_analysis_count(s);
    for (size_t i = d->m.step; i < s->n_steps; i++)
        if (s->steps[i].kind == CN_STRATEGY_ANALYSIS)
            return cn_strategy_analysis_rank(s, i) == J &&
                   !s->steps[i].analysis.min_samples;
    return false;
}

/* Seconds between two probes of the same window. */
#define PROBE_EVERY_MS 5000

/*
 * Before the last analysis: what the judge could use now. The floor a
 * metric's test needs to pass (derived from its margin, alpha and power,
 * and the data's spread) and the sample the judge would really have
 * (each arm's stratified sample, which the reservoirs bound) are only
 * known by judging the window, so the driver judges it, without acting on
 * the verdict, every PROBE_EVERY_MS: the last analysis then starts when it
 * can pass, rather than spend an attempt of its budget on a window that is
 * too small. It runs on the tick's job (the thread pool), over the
 * reservoirs only (their size bounds its cost; not measured yet).
 */
static void probe(cn_driver_t *d, uint64_t gen, int64_t now)
{
    if (d->probe_valid && d->probe_generation == gen &&
        now - d->probe_ms < PROBE_EVERY_MS)
        return;
    cn_metrics_source_t *src = d->c->metrics;
    cn_metrics_window_t win = {.kind = CN_WINDOW_GENERATION, .generation = gen};
    cn_router_snapshot_t *s = NULL;
    char err[256];
    /* judged as the coming analysis step will judge it */
    cn_rollout_analysis_t req = {.step = (uint32_t)d->strategy->n_steps,
                                 .paired = d->m.shadow};
    for (size_t i = d->m.step; i < d->strategy->n_steps; i++)
        if (d->strategy->steps[i].kind == CN_STRATEGY_ANALYSIS) {
            req.step = (uint32_t)i;
            break;
        }
    unsigned mask = CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_SAMPLES |
                    (req.paired ? CN_ROUTER_SNAP_PAIRS : 0);
    if (src->read(src, &win, mask, &s, err, sizeof err))
        return;
    cn_judge_config_t cfg;
    step_config(d, &req, &cfg);
    cn_judge_data_t *data = cn_judge_data_new();
    int rc = window_data(s, &cfg, req.paired, false, data);
    src->release(src, s);
    cn_judge_result_t res;
    if (!rc)
        rc = cn_judge_run(&cfg, data, NULL, &res);
    cn_judge_data_free(data);
    free(cfg.metrics);
    if (rc)
        return;
    /* The binding metric: the aggregate row whose smaller arm is the
     * smallest share of its own floor. Mixing one row's n with another's
     * floor (the error rate's floor against the latency reservoirs' n)
     * would wait forever (rollout-sim found it). */
    uint64_t have = UINT64_MAX, floor = 0;
    double share = INFINITY;
    for (size_t i = 0; i < res.n_rows; i++) {
        const cn_judge_row_t *r = &res.rows[i];
        if (r->segment || !r->min_samples)
            continue;
        uint64_t n = r->canary.n < r->stable.n ? r->canary.n : r->stable.n;
        double sh = (double)n / (double)r->min_samples;
        if (sh < share) {
            share = sh;
            have = n;
            floor = r->min_samples;
        }
    }
    cn_judge_result_dispose(&res);
    d->probe_ms = now;
    d->probe_generation = gen;
    d->probe_valid = have != UINT64_MAX;
    d->probe_have = have;
    d->probe_floor = floor;
}

/* Values in buckets wholly above bound_us: a count that never includes a
 * value at or below the bound (the bucket straddling it is left out), so
 * the triggers' "slower than" counts never overstate. */
static uint64_t count_above(const cn_metrics_hist_t *h, uint64_t bound_us)
{
    uint64_t n = 0;
    for (size_t b = 0; b < CN_METRICS_HIST_BUCKETS; b++) {
        uint64_t lo, hi;
        if (h->counts[b] && cn_metrics_hist_bucket_bounds(b, &lo, &hi) == 0 &&
            lo > bound_us)
            n += h->counts[b];
    }
    return n;
}

static void tick_work(cn_controller_t *c, void *arg)
{
    (void)arg;
    cn_driver_t *d = c->driver;
    char eerr[384];
    if (cn_controller__engine_tick(c, eerr, sizeof eerr) && running(d) &&
        d->m.state != CN_ROLLOUT_PAUSED && d->m.state != CN_ROLLOUT_ROLLING_BACK &&
        d->m.weight_bp > 0 && !d->traffic_failed[0])
        /* an engine that cannot be reached (a replica down) holds the
         * rollout: its steps must not be walked unjudged */
        snprintf(d->traffic_failed, sizeof d->traffic_failed, "%.300s", eerr);
    if (!running(d))
        return;
    if (d->traffic_failed[0]) {
        /* Hold: a step whose traffic never ran must not be judged or
         * promoted. A person resumes once the engine is fixed (resume
         * applies the step's traffic again). */
        char reason[CN_ROLLOUT_REASON_MAX], perr[384];
        snprintf(reason, sizeof reason,
                 "held: the traffic engine (%.20s) failed: %.120s; nothing is "
                 "judged or promoted until a person resumes",
                 c->engine->name, d->traffic_failed);
        d->traffic_failed[0] = '\0';
        cn_rollout_event_t ev;
        event_init(&ev, CN_ROLLOUT_EV_PAUSE, "controller", reason);
        if (d->m.state != CN_ROLLOUT_PAUSED &&
            run_event(d, &ev, NULL, perr, sizeof perr))
            log_line(d, "pause after a traffic failure: %s", perr);
        return;
    }
    const cn_strategy_triggers_t *t = &d->strategy->triggers;
    unsigned mask = CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS;
    if (t->has_prediction_shift)
        mask |= CN_ROUTER_SNAP_SAMPLES;
    uint64_t gen;
    pthread_mutex_lock(&c->mu);
    gen = c->current.number;
    pthread_mutex_unlock(&c->mu);
    cn_metrics_window_t win = {.kind = CN_WINDOW_GENERATION, .generation = gen};
    cn_router_snapshot_t *s = NULL;
    char err[384];
    if (c->metrics->read(c->metrics, &win, mask, &s, err, sizeof err))
        return; /* the generation moved under us: next tick */
    /* req: what each arm answered in the step, shadow copies included (a
     * shadow step's canary arm is its copies: they are its first request,
     * its warmup and its samples); users: of which users got the answer
     * (the canary requests served, which a rollout reports) */
    uint64_t req[2] = {0, 0}, errs[2] = {0, 0}, users_c = 0;
    cn_metrics_hist_t *lat[2];
    lat[0] = cn_xmalloc(sizeof *lat[0]);
    lat[1] = cn_xmalloc(sizeof *lat[1]);
    cn_metrics_hist_init(lat[0]);
    cn_metrics_hist_init(lat[1]);
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *cell = &s->cells[i];
        const char *label = s->version_name[cell->role];
        if (!label || strcmp(cell->version, label) != 0)
            continue;
        req[cell->role] += cell->step_requests;
        if (cell->role == CN_ROLE_CANARY)
            users_c += cell->step_requests - cell->shadow_requests;
        errs[cell->role] += cell->step_errors;
        if (cell->step_latency)
            cn_metrics_hist_merge(lat[cell->role], cell->step_latency);
    }
    uint64_t cr = req[CN_ROLE_CANARY], sr = req[CN_ROLE_STABLE];
    if (errs[0] > req[0])
        errs[0] = req[0];
    if (errs[1] > req[1])
        errs[1] = req[1];
    if (gen != d->seen_generation) {
        d->seen_generation = gen;
        d->canary_seen_step = 0;
        d->blast_failed_seen_step = d->blast_all_seen_step = 0;
    }
    if (users_c > d->canary_seen_step) {
        d->canary_served += users_c - d->canary_seen_step;
        d->canary_seen_step = users_c;
    }
    if (errs[CN_ROLE_CANARY] > d->blast_failed_seen_step) {
        d->blast_failed += errs[CN_ROLE_CANARY] - d->blast_failed_seen_step;
        d->blast_failed_seen_step = errs[CN_ROLE_CANARY];
    }
    if (users_c + sr > d->blast_all_seen_step) {
        d->blast_all += users_c + sr - d->blast_all_seen_step;
        d->blast_all_seen_step = users_c + sr;
    }
    /* stored with the machine, so a restart counts on */
    d->m.blast_requests = d->canary_served;
    d->m.blast_failed = d->blast_failed;
    d->m.blast_all = d->blast_all;
    /* each arm's p99 in the window, with the triggers' per-check level */
    p99_view_t p99;
    memset(&p99, 0, sizeof p99);
    p99.level = t->level;
    for (int r = 0; r < 2; r++)
        p99.has[r] = cn_triggers_p99_interval(lat[r], t->level, &p99.lo[r], &p99.hi[r]);
    /* A source without health checks (no upstreams in its snapshot)
     * counts a canary that answered as up; one that measures nothing
     * (`none`) waits for neither. */
    bool answered = cr > 0 || s->unmeasured;
    bool healthy = has_canary_up(s) || (s->nupstreams == 0 && answered);
    cn_rollout_event_t ev;
    if (healthy && !d->m.healthy) {
        event_init(&ev, CN_ROLLOUT_EV_CANARY_HEALTHY, "controller", "health check");
        run_event(d, &ev, NULL, err, sizeof err);
    }
    if (answered && !d->m.first_request_ms && running(d)) {
        event_init(&ev, CN_ROLLOUT_EV_FIRST_REQUEST, "controller", "");
        run_event(d, &ev, NULL, err, sizeof err);
    }
    /* the progress deadline is the machine's: its TICK checks it */
    int64_t now = now_ms();
    cn_trigger_result_t tr;
    bool has_tr = false;
    if (running(d) && cr > 0 && d->m.state != CN_ROLLOUT_PROMOTING &&
        d->m.state != CN_ROLLOUT_ROLLING_BACK && !d->m.shadow) {
        cn_trigger_input_t in;
        memset(&in, 0, sizeof in);
        in.phase = d->m.state == CN_ROLLOUT_WARMUP ? CN_TRIGGER_PHASE_WARMUP
                   : d->m.weight_bp >= 10000       ? CN_TRIGGER_PHASE_FULL
                                                   : CN_TRIGGER_PHASE_NORMAL;
        in.canary = (cn_trigger_arm_t){cr, errs[CN_ROLE_CANARY]};
        in.stable = (cn_trigger_arm_t){sr, errs[CN_ROLE_STABLE]};
        if (t->has_p99_latency && t->p99_latency.has_max) {
            uint64_t slow = count_above(lat[CN_ROLE_CANARY],
                                        (uint64_t)(t->p99_latency.max * 1000.0));
            in.canary_slower_than_max = slow > cr ? cr : slow;
        }
        double bound_ms;
        if (t->has_p99_latency && t->p99_latency.has_max_ratio &&
            p99_bound(lat[CN_ROLE_STABLE], cn_metrics_hist_count(lat[CN_ROLE_STABLE]),
                      t->level, &bound_ms)) {
            in.has_p99_bound = true;
            uint64_t slow =
                count_above(lat[CN_ROLE_CANARY],
                            (uint64_t)(t->p99_latency.max_ratio * bound_ms * 1000.0));
            in.canary_slower_than_bound = slow > cr ? cr : slow;
        }
        if (t->has_prediction_shift)
            in.has_ks =
                prediction_ks(s, &in.ks_distance, &in.ks_n_canary, &in.ks_n_stable);
        if (cn_triggers_check(t, &in, &tr) == 0) {
            has_tr = true;
            if (tr.fired >= 0) {
                const cn_trigger_row_t *row = &tr.rows[tr.fired];
                char why[CN_ROLLOUT_REASON_MAX];
                snprintf(why, sizeof why, "%s: %.200s",
                         cn_trigger_check_name((cn_trigger_check_t)tr.fired),
                         row->reason);
                event_init(&ev, CN_ROLLOUT_EV_TRIGGER, "trigger", why);
                json_t *o = json_pack(
                    "{s:s, s:f, s:f, s:f, s:I, s:I, s:I, s:I}", "check",
                    cn_trigger_check_name((cn_trigger_check_t)tr.fired), "observed",
                    isfinite(row->observed) ? row->observed : 0, "limit", row->limit,
                    "pvalue", isfinite(row->pvalue) ? row->pvalue : 1,
                    "canary_requests", (json_int_t)cr, "canary_errors",
                    (json_int_t)errs[CN_ROLE_CANARY], "stable_requests", (json_int_t)sr,
                    "stable_errors", (json_int_t)errs[CN_ROLE_STABLE]);
                for (int r = 0; r < 2; r++)
                    if (p99.has[r])
                        json_object_set_new(
                            o, r == CN_ROLE_CANARY ? "canary_p99_ms" : "stable_p99_ms",
                            json_pack("[f,f]", p99.lo[r], p99.hi[r]));
                char *payload = json_dumps(o, JSON_COMPACT);
                json_decref(o);
                run_event(d, &ev, payload, err, sizeof err);
                free(payload);
            }
        }
    }
    /* the sequential triggers: as the threshold triggers, from the first
     * request on, outside shadow steps (whose copies are not the users'
     * traffic) and not while promoting or rolling back; a second they
     * skip is one not bet on, which keeps them valid */
    seq_sync(d);
    any_sync(d);
    bool users = running(d) && d->m.first_request_ms &&
                 d->m.state != CN_ROLLOUT_PROMOTING &&
                 d->m.state != CN_ROLLOUT_ROLLING_BACK && !d->m.shadow;
    bool feed_seq = users && seq_current(d) && !d->seq.fired;
    bool feed_any = users && any_current(d) &&
                    cn_rollout_anytime_step(&d->rcfg, &d->m) == (int64_t)d->any_step;
    if (feed_seq || feed_any) {
        char why[CN_ROLLOUT_REASON_MAX], *payload = NULL;
        if (seq_second(d, s, lat, feed_seq, feed_any, why, sizeof why, &payload)) {
            event_init(&ev, CN_ROLLOUT_EV_TRIGGER, "trigger", why);
            log_line(d, "sequential trigger: %s", why);
            if (run_event(d, &ev, payload, err, sizeof err))
                log_line(d, "sequential trigger: %s", err);
            /* a rollback the machine did not take fires again next second */
            if (running(d) && d->m.state != CN_ROLLOUT_ROLLING_BACK)
                d->seq.fired = false;
        }
        free(payload);
        /* the anytime analysis: harm shown rolls back; non-inferiority
         * shown is sent every second until the machine takes it (a
         * person's pause defers it) */
        if (feed_any && running(d) && d->m.state != CN_ROLLOUT_ROLLING_BACK) {
            bool fail = d->any_harm.fired;
            if (fail || d->any_ni.fired) {
                char *ap = NULL;
                if (fail)
                    cn_seq_reason(&d->any_harm, d->any_harm.fired_metric, why,
                                  sizeof why);
                else
                    cn_seq_ni_reason(&d->any_ni, why, sizeof why);
                json_t *o = json_pack("{s:s,s:I,s:o,s:o}", "mode", "anytime", "step",
                                      (json_int_t)d->any_step, "harm",
                                      cn_seq_evidence_json(&d->any_harm), "ni",
                                      cn_seq_evidence_json(&d->any_ni));
                ap = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
                json_decref(o);
                event_init(&ev, CN_ROLLOUT_EV_ANYTIME, "analysis", why);
                ev.step = d->any_step;
                ev.verdict = fail ? CN_ROLLOUT_VERDICT_FAIL : CN_ROLLOUT_VERDICT_PASS;
                uint32_t step_before = d->m.step;
                cn_rollout_state_t state_before = d->m.state;
                if (run_event(d, &ev, ap, err, sizeof err))
                    log_line(d, "anytime analysis: %s", err);
                else if (d->m.step != step_before || d->m.state != state_before)
                    log_line(d, "anytime analysis at step %u: %s", ev.step, why);
                free(ap);
            }
        }
    } else if (d->prev) {
        d->prev->valid = false;
    }
    if (running(d)) {
        event_init(&ev, CN_ROLLOUT_EV_SAMPLES, "controller", "");
        ev.samples_have = cr < sr ? cr : sr;
        ev.samples_min_per_arm = d->analysis->min_per_arm;
        uint64_t floor = d->analysis->min_per_arm;
        for (size_t i = 0; i < d->analysis->n_metrics; i++)
            if (d->analysis->metrics[i].min_samples > floor)
                floor = d->analysis->metrics[i].min_samples;
        if (d->floor_hint > floor)
            floor = d->floor_hint;
        ev.samples_floor_last = floor;
        if ((d->m.state == CN_ROLLOUT_PROGRESSING ||
             d->m.state == CN_ROLLOUT_HOLDING) &&
            !d->m.analysis_in_flight && ev.samples_have >= d->analysis->min_per_arm &&
            next_is_last(d)) {
            probe(d, gen, now);
            if (d->probe_valid && d->probe_generation == gen) {
                /* the judge's own sample, bounded by the reservoirs */
                ev.samples_have = d->probe_have;
                if (d->probe_floor > ev.samples_floor_last)
                    ev.samples_floor_last = d->probe_floor;
            }
        }
        double minutes = d->m.window_started_ms && now > d->m.window_started_ms
                             ? (double)(now - d->m.window_started_ms) / 60000.0
                             : 0;
        ev.samples_per_minute = minutes > 0 ? (double)ev.samples_have / minutes : 0;
        run_event(d, &ev, NULL, err, sizeof err);
    }
    if (running(d)) {
        event_init(&ev, CN_ROLLOUT_EV_TICK, "controller", "");
        run_event(d, &ev, NULL, err, sizeof err);
    }
    /* A parity check runs for its duration and judges once: short of
     * samples then, or neither equivalent nor different, it ends as
     * inconclusive rather than hold the arm for a person. */
    if (running(d) && d->parity && d->m.state == CN_ROLLOUT_HOLDING) {
        char why[CN_ROLLOUT_REASON_MAX];
        snprintf(why, sizeof why, "inconclusive: %.200s", d->m.reason);
        event_init(&ev, CN_ROLLOUT_EV_ABORT, "parity check", why);
        if (run_event(d, &ev, NULL, err, sizeof err))
            log_line(d, "parity check not ended: %s", err);
    }
    if (running(d))
        seq_save(d, now);
    c->metrics->release(c->metrics, s);
    free(lat[0]);
    free(lat[1]);
    live_update_p99(d, has_tr ? &tr : NULL, cr, sr, &p99);
}

static void tick_after(cn_controller_t *c, void *arg)
{
    (void)arg;
    cn_driver_t *d = c->driver;
    d->tick_queued = false;
    analysis_start(d);
}

static void on_timer(uv_timer_t *h)
{
    cn_driver_t *d = h->data;
    if (d->tick_queued)
        return; /* the last tick has not run yet: no pile-up */
    if (cn_controller__job(d->c, tick_work, tick_after, NULL) == 0)
        d->tick_queued = true;
}

/* ------------------------------------------------------------ resume */

/*
 * What a rollout needs to be driven: its stored machine, in agreement with
 * its row when active, and its candidate's addresses (into d->canary_set).
 * 0 with *m set; otherwise *what names the part that could not be read
 * ("machine state", "candidate version") and err says why.
 */
static int adopt_check(cn_driver_t *d, const cn_store_rollout_t *row, cn_rollout_t *m,
                       const char **what, char *err, size_t errlen)
{
    *what = "machine state";
    int rc = cn_machine_parse(row->machine, m, err, errlen);
    if (!rc && cn_store_rollout_state_active(row->state))
        rc = cn_machine_check_row(m, row, err, errlen);
    if (!rc) {
        *what = row->parity ? "parity spec" : "candidate version";
        rc = load_arm(d, row, err, errlen);
    }
    return rc;
}

/* The audit payload of a repair: what could not be read, and what was
 * stored, kept as evidence (the machine column is replaced). */
static char *repair_payload(const cn_store_rollout_t *row, const char *what,
                            const char *why, unsigned traffic_bp, bool shadow)
{
    json_t *o = json_object();
    json_object_set_new(o, "unreadable", json_string(what));
    json_t *msg = json_string(why);
    json_object_set_new(o, "error", msg ? msg : json_string("(not UTF-8)"));
    json_object_set_new(o, "state",
                        json_string(cn_store_rollout_state_name(row->state)));
    json_object_set_new(o, "step", json_integer(row->step_index));
    json_object_set_new(o, "weight", json_real(row->weight_bp / 100.0));
    json_object_set_new(o, shadow ? "traffic_shadow" : "traffic_weight",
                        json_real(traffic_bp / 100.0));
    /* the text as stored; a column that is not UTF-8 is kept by size */
    json_t *text = row->machine ? json_string(row->machine) : json_null();
    if (text)
        json_object_set_new(o, "stored_machine", text);
    else
        json_object_set_new(o, "stored_machine_bytes",
                            json_integer((json_int_t)strlen(row->machine)));
    char *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

/*
 * End an active rollout whose stored state cannot be read (`what`, `why`)
 * as aborted, since nothing can drive it: left active it would refuse
 * every new rollout of the model, and its canary would keep serving at
 * the persisted weight with nothing watching it. As a rollback: the
 * canary weight 0 first, published and stored (a dry run never set the
 * traffic and leaves it alone; a pending rollout never set it either),
 * then the rollout stored as aborted with one audit entry (actor, kind;
 * its payload keeps the unreadable text) and, as after an abort, its
 * version tagged rolled-back (not for a dry run or a pending rollout).
 * The rest of the row (step, attempts, strategy, start) is kept, and its
 * machine becomes one rebuilt from the row (cn_machine_ended), so that a
 * retry starts again from the first step. Takes *row. 0 with the ended
 * rollout loaded; otherwise nothing was stored as ended (the weight may
 * be 0 already): a restart or an abort tries again.
 */
static int repair(cn_driver_t *d, cn_store_rollout_t *row, const char *what,
                  const char *why, const char *actor, cn_store_audit_kind_t kind,
                  const char *person_reason, char *err, size_t errlen)
{
    cn_controller_t *c = d->c;
    cn_store_rollout_dispose(&d->row);
    d->row = *row;
    cn_store_rollout_init(row);
    d->loaded = false;
    bool pending = d->row.state == CN_STORE_ROLLOUT_PENDING;
    pthread_mutex_lock(&c->mu);
    bool shadow = c->current.traffic.mode == CN_TRAFFIC_MODE_SHADOW;
    unsigned traffic_bp =
        shadow ? c->current.traffic.shadow_bp : c->current.traffic.canary_weight_bp;
    pthread_mutex_unlock(&c->mu);
    char text[CN_ROLLOUT_REASON_MAX];
    if (kind == CN_STORE_AUDIT_MANUAL)
        snprintf(text, sizeof text,
                 "aborted by %.60s%s%.80s (its %s was unreadable: %.120s)", actor,
                 person_reason && person_reason[0] ? ": " : "",
                 person_reason ? person_reason : "", what, why);
    else
        snprintf(text, sizeof text, "%s unreadable at restart: %.200s", what, why);
    char *payload = repair_payload(&d->row, what, why, traffic_bp, shadow);
    int rc = 0;
    char aerr[384];
    if (!d->row.dry_run && !pending && (shadow || traffic_bp > 0)) {
        /* the candidate's set at weight 0, as a rollback publishes it;
         * when the candidate is what cannot be read, the generation's
         * canary set stays as it is: only the weight goes to 0 */
        if (load_arm(d, &d->row, aerr, sizeof aerr)) {
            cn_version_set_dispose(&d->canary_set);
            cn_version_set_init(&d->canary_set, "canary");
        }
        cn_rollout_action_t a;
        memset(&a, 0, sizeof a);
        a.kind = CN_ROLLOUT_SET_TRAFFIC;
        rc = set_traffic(d, &a, aerr, sizeof aerr);
        if (rc)
            /* CN_EIO: live but not stored; storing the end now would let
             * the next start serve the canary at its stored weight with
             * nothing watching it */
            rc = cn_fail(err, errlen, rc, "rollout %" PRId64 ": canary weight 0 %s: %s",
                         d->row.id, rc == CN_EIO ? "published, not stored" : "not set",
                         aerr);
    }
    cn_rollout_t m;
    cn_machine_ended(&d->row, CN_ROLLOUT_ABORTED, text, now_ms(), &m);
    if (!rc) {
        cn_store_audit_t e;
        memset(&e, 0, sizeof e);
        e.kind = kind;
        snprintf(e.actor, sizeof e.actor, "%s", actor);
        snprintf(e.reason, sizeof e.reason, "%s", text);
        e.payload = payload;
        d->row.state = CN_STORE_ROLLOUT_ABORTED;
        d->row.resume_state = CN_STORE_ROLLOUT_NONE;
        d->row.weight_bp = 0;
        snprintf(d->row.reason, sizeof d->row.reason, "%s", m.reason);
        free(d->row.machine);
        d->row.machine = cn_machine_json(&m);
        if (d->row.dry_run || pending || d->row.parity)
            rc =
                cn_store_rollout_update(d->store, &d->row, &e, NULL, aerr, sizeof aerr);
        else
            rc = cn_registry_roll_back(d->reg, &d->row, CN_STORE_ROLLOUT_ABORTED, &e,
                                       aerr, sizeof aerr);
        if (rc)
            rc = cn_fail(err, errlen, rc,
                         "rollout %" PRId64 " not stored as aborted: %s", d->row.id,
                         aerr);
    }
    free(payload);
    if (rc)
        return rc;
    free(d->row.machine);
    d->row.machine = cn_machine_json(&m);
    d->m = m;
    d->loaded = true;
    d->want_analysis = false;
    d->floor_hint = 0;
    d->canary_served = 0;
    d->blast_failed = d->blast_all = 0;
    log_line(d, "ended as aborted: %s", text);
    return 0;
}

static void resume_work(cn_controller_t *c, void *arg)
{
    (void)arg;
    cn_driver_t *d = c->driver;
    char err[512];
    bool found = false;
    cn_store_rollout_t row;
    cn_store_rollout_init(&row);
    int rc = cn_store_rollout_active(d->store, d->model, &row, &found, err, sizeof err);
    if (rc || !found) {
        if (rc && rc != CN_ENOTFOUND)
            fprintf(c->log, "canary: cannot read the active rollout: %s\n", err);
        cn_store_rollout_dispose(&row);
        return;
    }
    cn_rollout_t m;
    const char *what;
    if (adopt_check(d, &row, &m, &what, err, sizeof err)) {
        int64_t id = row.id;
        fprintf(c->log,
                "canary: rollout %" PRId64 " cannot resume: its %s is unreadable: %s\n",
                id, what, err);
        char why[sizeof err];
        snprintf(why, sizeof why, "%s", err);
        if (repair(d, &row, what, why, "controller", CN_STORE_AUDIT_TRANSITION, NULL,
                   err, sizeof err))
            fprintf(c->log,
                    "canary: %s; it stays active: end it with POST "
                    "/v1/rollouts/%" PRId64 "/abort\n",
                    err, id);
        cn_store_rollout_dispose(&row);
        live_update(d, NULL, 0, 0);
        return;
    }
    json_t *stored = NULL, *any_stored = NULL;
    if (cn_machine_parse_state(row.machine, &m, &stored, &any_stored, err, sizeof err))
        stored = any_stored = NULL; /* read once by adopt_check: cannot fail here */
    cn_store_rollout_dispose(&d->row);
    d->row = row;
    d->m = m;
    d->loaded = true;
    /* the blast radius counts on from what was stored */
    d->canary_served = m.blast_requests;
    d->blast_failed = m.blast_failed;
    d->blast_all = m.blast_all;
    seq_resume(d, stored);
    json_decref(stored);
    any_resume(d, any_stored);
    json_decref(any_stored);
    cn_rollout_event_t ev;
    event_init(&ev, CN_ROLLOUT_EV_RESTART, "controller", "canary serve started again");
    pthread_mutex_lock(&c->mu);
    ev.has_weight = true;
    ev.weight_bp = c->current.traffic.canary_weight_bp;
    pthread_mutex_unlock(&c->mu);
    log_line(d, "resuming in state %s at step %u", cn_rollout_state_name(m.state),
             m.step);
    if (run_event(d, &ev, NULL, err, sizeof err))
        log_line(d, "resume: %s", err);
    live_update(d, NULL, 0, 0);
}

static void plain_after(cn_controller_t *c, void *arg)
{
    (void)arg;
    analysis_start(c->driver);
}

/* ------------------------------------------------------------ ops */

typedef struct op_job_s {
    cn_controller_op_t op;
    cn_controller_op_cb done;
    void *arg;
    cn_controller_op_result_t res;
} op_job_t;

/* Store a new rollout (row, its first entry e; takes row) and start its
 * machine: the tail of every start. The arm and strategy are loaded. */
static int start_row(cn_driver_t *d, const cn_controller_op_t *op,
                     cn_store_rollout_t *row, const cn_store_audit_t *e, char *err,
                     size_t errlen, int64_t *id)
{
    cn_rollout_t m;
    cn_rollout_init(&m);
    free(row->machine);
    row->machine = cn_machine_json(&m);
    pthread_mutex_lock(&d->c->mu);
    row->generation = d->c->current.number;
    pthread_mutex_unlock(&d->c->mu);
    int rc = cn_store_rollout_start(d->store, row, e, 0, NULL, err, errlen);
    if (rc) {
        cn_store_rollout_dispose(row);
        return rc;
    }
    cn_store_rollout_dispose(&d->row);
    d->row = *row;
    d->m = m;
    d->loaded = true;
    d->floor_hint = 0;
    d->canary_served = 0;
    d->blast_failed = d->blast_all = 0;
    *id = d->row.id;
    cn_rollout_event_t ev;
    event_init(&ev, CN_ROLLOUT_EV_START, op->actor, op->reason);
    ev.dry_run = d->row.dry_run;
    return run_event(d, &ev, NULL, err, errlen);
}

/*
 * Start a parity check (parity.h): stable's version, as live now, as the
 * canary arm under its parity label, on the op's addresses or stable's
 * own, at strategy.parity's weight for its duration. Refused while
 * another rollout is active (it needs the canary arm: a parity check
 * never supersedes a candidate), as a dry run (it would judge nothing),
 * and with addresses the generation's checks refuse.
 */
static int op_start_parity(cn_driver_t *d, const cn_controller_op_t *op, char *err,
                           size_t errlen, int64_t *id)
{
    if (running(d)) {
        *id = d->row.id;
        if (d->parity)
            return cn_fail(err, errlen, CN_ECONFLICT,
                           "parity check %" PRId64 " of model '%s' is %s already",
                           d->row.id, d->model, cn_rollout_state_name(d->m.state));
        return cn_fail(err, errlen, CN_ECONFLICT,
                       "rollout %" PRId64 " of version '%s' is %s: a parity check "
                       "needs the canary arm; end that rollout first",
                       d->row.id, d->row.version, cn_rollout_state_name(d->m.state));
    }
    if (op->dry_run || d->base->dry_run)
        return cn_fail(err, errlen, CN_EINVAL,
                       "dry_run: a parity check judges real traffic on both arms; "
                       "as a dry run (%s) it would have nothing to judge",
                       op->dry_run ? "asked" : "strategy.dry_run");
    cn_controller_t *c = d->c;
    cn_generation_t g;
    cn_generation_init(&g);
    pthread_mutex_lock(&c->mu);
    cn_generation_copy(&g, &c->current);
    pthread_mutex_unlock(&c->mu);
    const cn_version_set_t *st = &g.sets[CN_ROLE_STABLE];
    cn_parity_spec_t spec;
    cn_parity_spec_init(&spec);
    spec.weight_bp = d->base->parity.weight_bp;
    spec.duration_ms = d->base->parity.duration_ms;
    char label[CN_VERSION_LABEL_MAX + 1];
    cn_version_parity_label(st->version, label);
    cn_version_set_dispose(&spec.canary);
    cn_version_set_init(&spec.canary, label);
    for (size_t i = 0; i < (op->n_addresses ? op->n_addresses : st->count); i++)
        cn_version_set_add(&spec.canary,
                           op->n_addresses ? op->addresses[i] : st->addresses[i]);
    /* the generation the check will publish, checked now */
    cn_version_set_copy(&g.sets[CN_ROLE_CANARY], &spec.canary);
    g.traffic.canary_weight_bp = spec.weight_bp;
    if (g.traffic.mode == CN_TRAFFIC_MODE_SHADOW)
        g.traffic.mode = CN_TRAFFIC_MODE_RANDOM;
    char verr[384];
    int rc = cn_controller_validate(&g, &c->limits, verr, sizeof verr);
    if (rc)
        rc = cn_fail(err, errlen, CN_EINVAL, "%s", verr);
    cn_store_rollout_t row;
    cn_store_rollout_init(&row);
    cn_store_audit_t e;
    memset(&e, 0, sizeof e);
    if (!rc) {
        snprintf(row.model, sizeof row.model, "%s", d->model);
        snprintf(row.version, sizeof row.version, "%s", st->version);
        row.state = CN_STORE_ROLLOUT_PENDING;
        row.strategy = cn_parity_spec_json(&spec);
        snprintf(row.reason, sizeof row.reason, "started");
        e.kind = CN_STORE_AUDIT_MANUAL;
        snprintf(e.actor, sizeof e.actor, "%s",
                 op->actor[0] ? op->actor : "controller");
        char pct[16];
        snprintf(pct, sizeof pct, "%g", spec.weight_bp / 100.0);
        snprintf(e.reason, sizeof e.reason,
                 "parity check of version '%s' started by %s: '%s' on %s (%zu "
                 "address%s) at %s%% for %" PRIu64 " s%s%s",
                 st->version, e.actor, label,
                 op->n_addresses ? "its own addresses" : "stable's addresses",
                 spec.canary.count, spec.canary.count == 1 ? "" : "es", pct,
                 spec.duration_ms / 1000, op->reason[0] ? ": " : "", op->reason);
        cn_text_utf8_clip(e.reason);
    }
    cn_generation_dispose(&g);
    if (!rc) {
        use_strategy(d, &spec);
        cn_version_set_copy(&d->canary_set, &spec.canary);
    }
    cn_parity_spec_dispose(&spec);
    if (rc) {
        cn_store_rollout_dispose(&row);
        return rc;
    }
    int64_t before = d->loaded ? d->row.id : 0;
    rc = start_row(d, op, &row, &e, err, errlen, id);
    if (rc && (d->loaded ? d->row.id : 0) == before) {
        /* not stored: back to what the loaded rollout runs */
        char lerr[256];
        if (d->loaded)
            load_arm(d, &d->row, lerr, sizeof lerr);
        else
            use_strategy(d, NULL);
    }
    return rc;
}

static int op_start(cn_driver_t *d, const cn_controller_op_t *op, char *err,
                    size_t errlen, int64_t *id)
{
    cn_store_version_t v;
    cn_store_version_init(&v);
    char gerr[384];
    int rc =
        cn_registry_get_version(d->reg, d->model, op->version, &v, gerr, sizeof gerr);
    bool is_stable = !rc && v.tag == CN_STORE_TAG_STABLE;
    cn_store_version_dispose(&v);
    /* an unregistered version is a bad field of the request (400) */
    if (rc)
        return cn_fail(err, errlen, rc == CN_ENOTFOUND ? CN_EINVAL : rc, "%s%s",
                       rc == CN_ENOTFOUND ? "version: " : "", gerr);
    if (is_stable)
        return cn_fail(err, errlen, CN_EINVAL,
                       "version: '%s' is the stable version of model '%s'; there is "
                       "nothing to roll out",
                       op->version, d->model);
    char reason[CN_ROLLOUT_REASON_MAX];
    if (running(d)) {
        if (strcmp(d->row.version, op->version) == 0 &&
            d->m.state != CN_ROLLOUT_PENDING) {
            *id = d->row.id;
            return cn_fail(err, errlen, CN_ECONFLICT,
                           "rollout %" PRId64 " of version '%s' is %s already",
                           d->row.id, op->version, cn_rollout_state_name(d->m.state));
        }
        cn_rollout_event_t ev;
        snprintf(reason, sizeof reason, "%s", op->version);
        event_init(&ev, CN_ROLLOUT_EV_SUPERSEDED, op->actor, reason);
        rc = run_event(d, &ev, NULL, err, errlen);
        if (rc)
            return rc;
    }
    char verr[256];
    if (load_candidate(d, op->version, verr, sizeof verr))
        return cn_fail(err, errlen, CN_EINVAL, "%s", verr);
    cn_store_rollout_t row;
    cn_store_rollout_init(&row);
    snprintf(row.model, sizeof row.model, "%s", d->model);
    snprintf(row.version, sizeof row.version, "%s", op->version);
    row.state = CN_STORE_ROLLOUT_PENDING;
    row.dry_run = op->dry_run || d->strategy->dry_run;
    snprintf(row.reason, sizeof row.reason, "started");
    cn_store_audit_t e;
    memset(&e, 0, sizeof e);
    e.kind = CN_STORE_AUDIT_MANUAL;
    snprintf(e.actor, sizeof e.actor, "%s", op->actor[0] ? op->actor : "controller");
    snprintf(e.reason, sizeof e.reason, "rollout of version '%s' started by %s%s%s%s",
             op->version, e.actor, row.dry_run ? " (dry run)" : "",
             op->reason[0] ? ": " : "", op->reason);
    /* the trail says what the status shows: the arms may not be
     * comparable (a read error only leaves the note out) */
    cn_store_rollout_t prev;
    cn_store_rollout_init(&prev);
    bool found = false;
    char perr[256];
    if (cn_store_rollout_parity_before(d->store, d->model, 0, &prev, &found, perr,
                                       sizeof perr) == 0 &&
        found && prev.state == CN_STORE_ROLLOUT_ROLLED_BACK) {
        size_t len = strlen(e.reason);
        snprintf(e.reason + len, sizeof e.reason - len,
                 " (warning: the last parity check, rollout %" PRId64 ", failed)",
                 prev.id);
        cn_text_utf8_clip(e.reason);
    }
    cn_store_rollout_dispose(&prev);
    return start_row(d, op, &row, &e, err, errlen, id);
}

static void op_work(cn_controller_t *c, void *arg)
{
    op_job_t *j = arg;
    cn_driver_t *d = c->driver;
    const cn_controller_op_t *op = &j->op;
    cn_controller_op_result_t *res = &j->res;
    res->id = op->id;
    if (op->kind == CN_CONTROLLER_OP_START) {
        if (strcmp(op->model, d->model) != 0)
            res->rc = cn_fail(res->error, sizeof res->error, CN_EINVAL,
                              "model: this canary serve fronts model '%s', not '%s'",
                              d->model, op->model);
        else if (op->parity)
            res->rc = op_start_parity(d, op, res->error, sizeof res->error, &res->id);
        else
            res->rc = op_start(d, op, res->error, sizeof res->error, &res->id);
        seq_sync(d);
        live_update(d, NULL, 0, 0);
        return;
    }
    /* A control acts on the loaded rollout; a retry may bring back an
     * ended one, and an abort an active one this process could not
     * resume (its stored state unreadable, and its end not stored at
     * start): the way out is never refused. */
    if (!d->loaded || d->row.id != op->id) {
        cn_store_rollout_t row;
        cn_store_rollout_init(&row);
        char err[512];
        int rc = cn_store_rollout_get(d->store, op->id, &row, err, sizeof err);
        if (rc == CN_ENOTFOUND)
            rc = cn_fail(err, sizeof err, CN_ENOTFOUND, "no rollout %" PRId64, op->id);
        else if (!rc && strcmp(row.model, d->model) != 0)
            rc = cn_fail(err, sizeof err, CN_ENOTFOUND,
                         "rollout %" PRId64 " is of model '%s'; this canary serve "
                         "fronts '%s'",
                         op->id, row.model, d->model);
        bool active = !rc && cn_store_rollout_state_active(row.state);
        if (!rc && running(d))
            rc = cn_fail(err, sizeof err, CN_ECONFLICT,
                         "rollout %" PRId64 " is %s; another rollout is active", op->id,
                         cn_store_rollout_state_name(row.state));
        else if (!rc && active && op->kind != CN_CONTROLLER_OP_ABORT)
            rc = cn_fail(err, sizeof err, CN_ECONFLICT,
                         "rollout %" PRId64 " is %s, but this canary serve could not "
                         "resume it (its log says why): only abort works on it",
                         op->id, cn_store_rollout_state_name(row.state));
        else if (!rc && !active && op->kind != CN_CONTROLLER_OP_RETRY)
            rc = cn_fail(err, sizeof err, CN_ECONFLICT, "rollout %" PRId64 " is %s",
                         op->id, cn_store_rollout_state_name(row.state));
        cn_rollout_t m;
        const char *what = "";
        char why[sizeof err];
        if (!rc && adopt_check(d, &row, &m, &what, why, sizeof why)) {
            if (active) {
                /* the abort of a rollout nothing can drive */
                res->rc = repair(d, &row, what, why, op->actor, CN_STORE_AUDIT_MANUAL,
                                 op->reason, res->error, sizeof res->error);
                cn_store_rollout_dispose(&row);
                live_update(d, NULL, 0, 0);
                return;
            }
            if (strcmp(what, "machine state") == 0) {
                /* a retry starts from the first step: it needs nothing of
                 * an ended machine that the row does not say (the
                 * candidate is read below) */
                fprintf(d->c->log,
                        "canary: rollout %" PRId64 ": its ended %s is unreadable (%s); "
                        "the retry starts from its row\n",
                        op->id, what, why);
                cn_rollout_state_t st = CN_ROLLOUT_ABORTED;
                cn_rollout_state_parse(cn_store_rollout_state_name(row.state), &st);
                cn_machine_ended(&row, st, row.reason, now_ms(), &m);
            }
        }
        if (rc) {
            res->rc = cn_fail(res->error, sizeof res->error, rc, "%s", err);
            cn_store_rollout_dispose(&row);
            return;
        }
        cn_store_rollout_dispose(&d->row);
        d->row = row;
        d->m = m;
        d->loaded = true;
    }
    if (op->kind == CN_CONTROLLER_OP_RETRY && !running(d)) {
        /* a retry publishes the candidate again: its addresses as they
         * are now (a repair may have ended it without them) */
        char why[256];
        if (load_arm(d, &d->row, why, sizeof why)) {
            res->rc = cn_fail(res->error, sizeof res->error, CN_ECONFLICT,
                              "rollout %" PRId64 " cannot be retried: its candidate "
                              "version is unreadable: %s",
                              op->id, why);
            return;
        }
    }
    if (d->parity && (op->kind == CN_CONTROLLER_OP_PROMOTE ||
                      op->kind == CN_CONTROLLER_OP_PROMOTE_FULL)) {
        res->rc = cn_fail(res->error, sizeof res->error, CN_ECONFLICT,
                          "rollout %" PRId64 " is a parity check: it promotes nothing "
                          "and ends by its verdict (abort it to end it now)",
                          op->id);
        return;
    }
    if (d->parity && op->kind == CN_CONTROLLER_OP_RETRY && !running(d)) {
        pthread_mutex_lock(&c->mu);
        bool same = cn_version_is_parity(c->current.sets[CN_ROLE_STABLE].version,
                                         d->canary_set.version);
        pthread_mutex_unlock(&c->mu);
        if (!same) {
            res->rc = cn_fail(res->error, sizeof res->error, CN_ECONFLICT,
                              "rollout %" PRId64 " is a parity check of a version that "
                              "is no longer stable: start a new one",
                              op->id);
            return;
        }
    }
    static const cn_rollout_event_kind_t kinds[] = {
        [CN_CONTROLLER_OP_PAUSE] = CN_ROLLOUT_EV_PAUSE,
        [CN_CONTROLLER_OP_RESUME] = CN_ROLLOUT_EV_RESUME,
        [CN_CONTROLLER_OP_PROMOTE] = CN_ROLLOUT_EV_PROMOTE,
        [CN_CONTROLLER_OP_PROMOTE_FULL] = CN_ROLLOUT_EV_PROMOTE_FULL,
        [CN_CONTROLLER_OP_ABORT] = CN_ROLLOUT_EV_ABORT,
        [CN_CONTROLLER_OP_RETRY] = CN_ROLLOUT_EV_RETRY,
    };
    cn_rollout_event_t ev;
    event_init(&ev, kinds[op->kind], op->actor, op->reason);
    ev.dry_run = op->dry_run || d->row.dry_run;
    res->rc = run_event(d, &ev, NULL, res->error, sizeof res->error);
    seq_sync(d);
    live_update(d, NULL, 0, 0);
}

static void op_after(cn_controller_t *c, void *arg)
{
    op_job_t *j = arg;
    cn_driver_t *d = c->driver;
    if (d->loaded && d->row.id == j->res.id) {
        j->res.has_row = true;
        j->res.row = d->row;
        /* the strategy text says what a parity check runs */
        j->res.row.strategy = d->row.strategy ? cn_xstrdup(d->row.strategy) : NULL;
        j->res.row.machine = NULL;
        j->res.machine = d->m;
    }
    j->done(&j->res, j->arg);
    if (j->res.has_row)
        free(j->res.row.strategy);
    free(j);
    analysis_start(c->driver);
}

int cn_driver__op(cn_driver_t *d, const cn_controller_op_t *op,
                  cn_controller_op_cb done, void *arg)
{
    if (op->kind < CN_CONTROLLER_OP_START || op->kind > CN_CONTROLLER_OP_RETRY)
        return CN_EINVAL;
    op_job_t *j = cn_xcalloc(1, sizeof *j);
    j->op = *op;
    j->done = done;
    j->arg = arg;
    int rc = cn_controller__job(d->c, op_work, op_after, j);
    if (rc)
        free(j);
    return rc;
}

/* ------------------------------------------------------------ changes */

int cn_driver__check_change(cn_driver_t *d, const cn_controller_change_t *ch,
                            const cn_generation_t *next, char *err, size_t errlen)
{
    if (!running(d) || d->m.dry_run || d->m.state == CN_ROLLOUT_PENDING)
        return 0;
    if (d->m.state == CN_ROLLOUT_PROMOTING || d->m.state == CN_ROLLOUT_ROLLING_BACK)
        return cn_fail(
            err, errlen, CN_ECONFLICT,
            "rollout %" PRId64 " of model '%s' version '%s' is %s; try again in "
            "a moment",
            d->row.id, d->model, d->row.version, cn_rollout_state_name(d->m.state));
    if (next->traffic.canary_weight_bp == 0)
        return 0; /* the way out (in shadow mode too: weight 0 stops the
                     copies): always accepted; it aborts the rollout */
    if (ch->override)
        return 0;
    return cn_fail(
        err, errlen, CN_ECONFLICT,
        "rollout %" PRId64 " of model '%s' version '%s' is %s at step %u: send "
        "\"override\": true to change it anyway (which pauses the rollout), or "
        "canary_weight 0 (which aborts it)",
        d->row.id, d->model, d->row.version, cn_rollout_state_name(d->m.state),
        d->m.step);
}

void cn_driver__changed(cn_driver_t *d, const cn_controller_change_t *ch,
                        const cn_generation_t *published)
{
    if (!running(d) || d->m.dry_run || d->m.state == CN_ROLLOUT_PENDING)
        return;
    cn_rollout_event_t ev;
    event_init(&ev, CN_ROLLOUT_EV_MANUAL_TRAFFIC, ch->who, "");
    ev.weight_bp = published->traffic.canary_weight_bp == 0 ? 0
                   : published->traffic.mode == CN_TRAFFIC_MODE_SHADOW
                       ? published->traffic.shadow_bp
                       : published->traffic.canary_weight_bp;
    ev.override = ch->override;
    d->row.generation = published->number;
    char err[384];
    if (run_event(d, &ev, NULL, err, sizeof err))
        log_line(d, "manual change: %s", err);
    live_update(d, NULL, 0, 0);
}

/* ------------------------------------------------------------ life */

cn_driver_t *cn_driver__new(cn_controller_t *c, const cn_controller_config_t *cfg)
{
    cn_driver_t *d = cn_xcalloc(1, sizeof *d);
    d->c = c;
    d->reg = cfg->registry;
    d->store = cfg->store;
    snprintf(d->model, sizeof d->model, "%s", cfg->model);
    d->strategy = cfg->strategy;
    d->base = cfg->strategy;
    d->analysis = cfg->analysis;
    d->rcfg.strategy = cfg->strategy;
    d->rcfg.alpha = cfg->analysis->alpha;
    d->tick_ms = cfg->tick_ms ? cfg->tick_ms : 1000;
    d->notify = cfg->notify;
    cn_store_rollout_init(&d->row);
    cn_rollout_init(&d->m);
    cn_version_set_init(&d->canary_set, "canary");
    cn_generation_init(&d->promoted);
    d->prev = cn_xcalloc(1, sizeof *d->prev);
    if (cfg->strategy->triggers.has_sequential) {
        size_t bad = 0;
        char what[256];
        /* checked when the config was read: a failure here is a bug */
        if (cn_strategy_sequential_config(cfg->strategy, cfg->analysis, &d->seq_cfg,
                                          &bad, what, sizeof what))
            fprintf(c->log, "canary: sequential triggers off: %s\n", what);
        else
            d->has_seq = true;
    }
    return d;
}

void cn_driver__start(cn_driver_t *d)
{
    uv_timer_init(&d->c->loop, &d->timer);
    d->timer.data = d;
    d->timer_open = true;
    uv_timer_start(&d->timer, on_timer, d->tick_ms, d->tick_ms);
    if (cn_controller__job(d->c, resume_work, plain_after, NULL))
        fprintf(d->c->log, "canary: the rollout resume could not be queued\n");
}

void cn_driver__close(cn_driver_t *d)
{
    if (d->timer_open) {
        d->timer_open = false;
        uv_close((uv_handle_t *)&d->timer, NULL);
    }
}

void cn_driver__free(cn_driver_t *d)
{
    if (!d)
        return;
    notes_clear(d);
    json_decref(d->analysis_json);
    cn_store_rollout_dispose(&d->row);
    cn_version_set_dispose(&d->canary_set);
    cn_generation_dispose(&d->promoted);
    cn_parity_strategy_dispose(&d->parity_strategy);
    if (d->prev) {
        free(d->prev->pred_le[0]);
        free(d->prev->pred_le[1]);
        free(d->prev);
    }
    free(d);
}
