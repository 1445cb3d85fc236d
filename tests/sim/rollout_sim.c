/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rollout-sim: whole rollouts in simulated time (issue 14, "Simulation"
 * and the detection-time goals). It drives the real pure pieces the
 * controller's driver will run -- the state machine (cn_rollout_step), the
 * triggers (cn_triggers_check, once a simulated second over the current
 * step's window) and the judge (cn_judge_run_levels at the levels each
 * START_ANALYSIS carries, over the window's data, stratified over
 * segments) -- through rollouts with the example strategy, on
 * synthetic traffic at a given request rate: latency lognormal, errors
 * Bernoulli, predictions logit-normal (a logistic of a normal: shaped like
 * a beta, cheaper to draw). Nothing sleeps: a second is a loop turn.
 *
 * What the simulated driver does each second, in order (the driver is not
 * written yet; this is the contract the simulation assumes, and the
 * report of issue 14 hands it to the integrator):
 *  1. route the second's requests (a random split at the current weight),
 *     recording per arm and segment: requests, errors, a latency histogram
 *     (metrics/histogram.c, microseconds), reservoirs of latency and
 *     predictions (metrics/reservoir.c, reservoir_size values per cell, as
 *     the router keeps them), and prediction counts in 1000 bins;
 *  2. FIRST_REQUEST at the canary's first request, then TICK, then SAMPLES;
 *  3. the triggers over the current window: counts for the error checks;
 *     canary requests in histogram buckets wholly above `max` for the p99
 *     limit; stable's p99 bound as the upper edge of the bucket holding the
 *     order statistic of rank cn_triggers_p99_bound_rank(), and canary
 *     requests in buckets wholly above max_ratio x that bound; the KS
 *     distance of the two arms' binned prediction counts (a binned KS
 *     distance is at most the true one, so the DKW bound stays valid);
 *     a TRIGGER event when one fires;
 *  4. every action carried out at once: SET_TRAFFIC changes the weight
 *     from the next request on (PUBLISHED follows when rolling back),
 *     START_ANALYSIS judges the window now (ANALYSIS_RESULT follows),
 *     PROMOTE is published at once.
 * The window is the rollout's: it restarts whenever window_started_ms
 * changes (a set_weight, the end of warmup, a retry).
 *
 * How a verdict maps onto the machine's (also the driver's to copy): a
 * judge `fail` is FAIL; any failing row without a fail verdict (a
 * non-critical metric) is MARGINAL; at the last analysis a judge `pass`
 * is PASS, a metric without data NODATA, anything else MARGINAL; before the
 * last (which cannot pass: alpha_pass 0) no failing row is PASS ("advance
 * unless harm is found"). At the last analysis SAMPLES carries the
 * binding metric's numbers: of the judge's aggregate rows, the one whose
 * smaller per-arm n is the smallest share of its own min_samples gives
 * samples_have (that n) and samples_floor_last (its min_samples), from a
 * judge run over the window every simulated minute at that step. (One
 * pair for all metrics would compare a counted rate's floor, in requests,
 * with a sampled metric's n, bounded by the reservoirs: the rollout would
 * wait forever.)
 *
 * A `pause: {}` step is promoted by a simulated person at once: the time
 * a person takes is theirs, not canary's.
 *
 *   rollout-sim                 the full report (several minutes)
 *   rollout-sim --markdown      the docs/JUDGE.md section (same run)
 *   rollout-sim --quick         a smoke run for `make test` (seconds): a
 *                               scaled-down A/A rollout set and a gross
 *                               failure set, with assertions
 *   rollout-sim --pooled-ks     A/A with unequal segments, the prediction
 *                               trigger's KS distance computed from the
 *                               arms' pooled reservoirs (as driver.c did
 *                               before f1957c7) and from full counts: the first
 *                               rolls identical canaries back
 *   rollout-sim --margin        a canary worse by exactly the judge's margins
 *                               (latency +5%, errors +0.5 points): both a
 *                               rollback and a promotion are false there,
 *                               each at most alpha
 *   rollout-sim --rollouts N    A/A rollouts per A/A scenario (default 400;
 *                               --pooled-ks: 50 per way; --margin: 200)
 *
 * Exit 0 when every asserted requirement holds, 1 otherwise (one line per
 * failure on stderr), 2 on a usage or internal error. Seeds are fixed: the
 * same command prints the same numbers.
 */
#include "controller/rollout.h"
#include "controller/strategy.h"
#include "controller/triggers.h"
#include "judge/judge.h"
#include "metrics/metrics.h"
#include "stats/stats.h"
#include "util/error.h"
#include "util/rand.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEG 2
#define PRED_BINS 1000
#define RESERVOIR 10000 /* the router's default measure.reservoir_size */
#define T0_MS INT64_C(1700000000000)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rollout-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ random */

/* A standard normal (Marsaglia's polar method, keeping the spare). */
typedef struct {
    uint64_t s;
    double spare;
    int has_spare;
} rng_t;

static double rng_unit(rng_t *r)
{
    return cn_rand_unit(&r->s);
}

static double rng_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2 * rng_unit(r) - 1;
        v = 2 * rng_unit(r) - 1;
        q = u * u + v * v;
    } while (q >= 1 || q == 0);
    double f = sqrt(-2 * log(q) / q);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

/* ------------------------------------------------------------ traffic */

/* One arm's behaviour in one segment. */
typedef struct {
    double lat_median_ms, lat_sigma; /* lognormal */
    double err;                      /* Bernoulli */
    double pred_mu, pred_sigma;      /* prediction = 1 / (1 + exp(-N(mu, s))) */
    int all_fail;                    /* every answer a 500 */
} behave_t;

typedef struct {
    const char *name;
    size_t n_seg;
    const char *seg_name[MAX_SEG]; /* NULL: no segment label */
    double seg_share[MAX_SEG];
    behave_t arm[2][MAX_SEG]; /* [cn_judge_arm_t][segment] */
} traffic_t;

/* ------------------------------------------------------------ window */

/* What the router keeps for the current step, per arm (and segment). */
typedef struct {
    int64_t key; /* the rollout's window_started_ms */
    uint64_t req[2][MAX_SEG], err[2][MAX_SEG];
    cn_metrics_reservoir_t lat[2][MAX_SEG], pred[2][MAX_SEG];
    cn_metrics_hist_t hist[2];
    uint64_t pbin[2][PRED_BINS];
} window_t;

static void window_init(window_t *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    for (int a = 0; a < 2; a++) {
        for (int s = 0; s < MAX_SEG; s++) {
            cn_metrics_reservoir_init(&w->lat[a][s], RESERVOIR,
                                      seed + 4 * (uint64_t)s + 2 * (uint64_t)a);
            cn_metrics_reservoir_init(&w->pred[a][s], RESERVOIR,
                                      seed + 4 * (uint64_t)s + 2 * (uint64_t)a + 1);
        }
        cn_metrics_hist_init(&w->hist[a]);
    }
}

static void window_reset(window_t *w, int64_t key)
{
    w->key = key;
    memset(w->req, 0, sizeof w->req);
    memset(w->err, 0, sizeof w->err);
    memset(w->pbin, 0, sizeof w->pbin);
    for (int a = 0; a < 2; a++) {
        for (int s = 0; s < MAX_SEG; s++) {
            cn_metrics_reservoir_reset(&w->lat[a][s]);
            cn_metrics_reservoir_reset(&w->pred[a][s]);
        }
        cn_metrics_hist_reset(&w->hist[a]);
    }
}

static void window_dispose(window_t *w)
{
    for (int a = 0; a < 2; a++)
        for (int s = 0; s < MAX_SEG; s++) {
            cn_metrics_reservoir_dispose(&w->lat[a][s]);
            cn_metrics_reservoir_dispose(&w->pred[a][s]);
        }
}

static uint64_t arm_requests(const window_t *w, int a)
{
    uint64_t n = 0;
    for (int s = 0; s < MAX_SEG; s++)
        n += w->req[a][s];
    return n;
}

static uint64_t arm_errors(const window_t *w, int a)
{
    uint64_t n = 0;
    for (int s = 0; s < MAX_SEG; s++)
        n += w->err[a][s];
    return n;
}

/* ------------------------------------------------------------ scenario */

typedef struct {
    const char *name;
    const traffic_t *traffic;
    const char *strategy_yaml;
    double rps;
    int stratify; /* give the judge each segment's request counts, as the
                     driver does; 0: the union of the reservoirs (the
                     behaviour the issue measured and corrected) */
    unsigned rollouts;
    uint64_t seed;
    double max_sim_s; /* give up (outcome "stuck") after this long */
    int pooled_ks;    /* --pooled-ks: the trigger's KS as driver.c computes it */
} scenario_t;

typedef enum {
    OUT_PROMOTED = 0,
    OUT_ROLLBACK_TRIGGER,
    OUT_ROLLBACK_ANALYSIS,
    OUT_ABORTED,
    OUT_HELD,
    OUT_STUCK,
    OUT_COUNT
} outcome_t;

static const char *const outcome_names[OUT_COUNT] = {"promoted",
                                                     "rolled back by a trigger",
                                                     "rolled back by an analysis",
                                                     "aborted",
                                                     "held",
                                                     "still running"};

/* What one rollout did. */
typedef struct {
    outcome_t out;
    double first_request_s;   /* since start */
    double end_s;             /* promotion published, or the weight set to 0 */
    uint64_t canary_requests; /* served before the end */
    uint64_t trigger_checks;  /* trigger checks that ran */
    int trigger;              /* the check that fired, or -1 */
    unsigned analyses;
    cn_rollout_hold_t hold; /* held: why */
    char reason[CN_ROLLOUT_REASON_MAX];
} result_t;

typedef struct {
    cn_strategy_t strategy;
    cn_rollout_config_t rcfg;
    cn_judge_config_t jcfg;
    cn_judge_data_t *data;
    window_t win;
    double *buf;   /* scratch: both arms' pooled predictions */
    int pooled_ks; /* the prediction trigger's KS from pooled reservoirs */
} sim_t;

/* The analysis section the rollouts judge with: the three built-in
 * metrics, each critical (a fail of any rolls back). */
static void judge_config(cn_judge_config_t *cfg, int segments)
{
    cn_judge_config_init(cfg);
    cfg->alpha = 0.05;
    if (segments)
        cfg->segment_by = strdup("segment");
    struct {
        const char *name;
        cn_judge_test_t test;
        double margin;
        cn_margin_kind_t kind;
        double max_statistic;
    } ms[] = {
        {"latency_ms", CN_JTEST_MWU, 0.05, CN_MARGIN_RELATIVE, 0},
        {"error", CN_JTEST_PROPORTION, 0.005, CN_MARGIN_ABSOLUTE, 0},
        {"prediction", CN_JTEST_KS, NAN, CN_MARGIN_ABSOLUTE, 0.1},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        cn_judge_metric_t m;
        cn_judge_metric_init(&m);
        m.name = strdup(ms[i].name);
        m.test = ms[i].test;
        m.direction = CN_JDIR_LOWER;
        if (!isnan(ms[i].margin)) {
            m.margin = ms[i].margin;
            m.margin_kind = ms[i].kind;
            m.has_margin = 1;
        }
        if (ms[i].test == CN_JTEST_KS)
            m.max_statistic = ms[i].max_statistic;
        m.critical = 1;
        cn_judge_config_add_metric(cfg, &m);
    }
    char err[256];
    if (cn_judge_config_validate(cfg, err, sizeof err))
        die("analysis config: %s", err);
}

static void sim_init(sim_t *sim, const scenario_t *sc)
{
    memset(sim, 0, sizeof *sim);
    char err[512];
    if (cn_strategy_parse(sc->strategy_yaml, strlen(sc->strategy_yaml), "strategy",
                          &sim->strategy, err, sizeof err))
        die("%s: strategy: %s", sc->name, err);
    if (cn_strategy_validate(&sim->strategy, err, sizeof err))
        die("%s: strategy: %s", sc->name, err);
    judge_config(&sim->jcfg, sc->traffic->seg_name[0] != NULL);
    sim->rcfg.strategy = &sim->strategy;
    sim->rcfg.alpha = sim->jcfg.alpha;
    sim->data = cn_judge_data_new();
    window_init(&sim->win, sc->seed ^ UINT64_C(0x5eed));
    sim->buf = malloc(2 * MAX_SEG * RESERVOIR * sizeof *sim->buf);
    sim->pooled_ks = sc->pooled_ks;
    if (!sim->buf)
        die("out of memory");
}

static void sim_dispose(sim_t *sim)
{
    cn_strategy_dispose(&sim->strategy);
    cn_judge_config_dispose(&sim->jcfg);
    cn_judge_data_free(sim->data);
    window_dispose(&sim->win);
    free(sim->buf);
}

/* ------------------------------------------------------------ the judge */

static void fill_data(sim_t *sim, const traffic_t *tr, int stratify)
{
    cn_judge_data_clear(sim->data);
    window_t *w = &sim->win;
    for (int a = 0; a < 2; a++)
        for (size_t s = 0; s < tr->n_seg; s++) {
            const char *seg = tr->seg_name[s];
            int rc =
                cn_judge_data_add_many(sim->data, "latency_ms", (cn_judge_arm_t)a, seg,
                                       cn_metrics_reservoir_values(&w->lat[a][s]),
                                       cn_metrics_reservoir_size(&w->lat[a][s]));
            rc = rc ? rc
                    : cn_judge_data_add_many(
                          sim->data, "prediction", (cn_judge_arm_t)a, seg,
                          cn_metrics_reservoir_values(&w->pred[a][s]),
                          cn_metrics_reservoir_size(&w->pred[a][s]));
            rc = rc ? rc
                    : cn_judge_data_add_counts(sim->data, "error", (cn_judge_arm_t)a,
                                               seg, w->err[a][s], w->req[a][s]);
            if (!rc && stratify)
                rc = cn_judge_data_set_requests(sim->data, (cn_judge_arm_t)a, seg,
                                                w->req[a][s]);
            if (rc)
                die("judge data: %s", cn_strerror(rc));
        }
}

/* The machine's verdict from the judge's result (see the top comment). */
static cn_rollout_verdict_t map_verdict(const cn_judge_result_t *res, int last)
{
    if (res->verdict == CN_VERDICT_FAIL)
        return CN_ROLLOUT_VERDICT_FAIL;
    int any_fail = 0, any_nodata = 0;
    for (size_t i = 0; i < res->n_rows; i++) {
        any_fail |= res->rows[i].cls == CN_CLASS_FAIL;
        any_nodata |= !res->rows[i].segment && res->rows[i].cls == CN_CLASS_NODATA;
    }
    if (any_fail)
        return CN_ROLLOUT_VERDICT_MARGINAL;
    if (!last)
        return CN_ROLLOUT_VERDICT_PASS;
    if (res->verdict == CN_VERDICT_PASS)
        return CN_ROLLOUT_VERDICT_PASS;
    return any_nodata ? CN_ROLLOUT_VERDICT_NODATA : CN_ROLLOUT_VERDICT_MARGINAL;
}

static int verbose; /* --verbose: one line per rollout on stderr; twice: more */

/* What the judge cost, for the terminal report. */
static unsigned long judge_calls;
static double judge_secs;

static void judge_window(sim_t *sim, const scenario_t *sc, double alpha_fail,
                         double alpha_pass, cn_judge_result_t *res)
{
    double t0 = now_s();
    judge_calls++;
    fill_data(sim, sc->traffic, sc->stratify);
    cn_judge_levels_t lv = {.alpha_fail = alpha_fail, .alpha_pass = alpha_pass};
    int rc = cn_judge_run_levels(&sim->jcfg, sim->data, &lv, res);
    if (rc)
        die("cn_judge_run_levels: %s", cn_strerror(rc));
    judge_secs += now_s() - t0;
}

/* ------------------------------------------------------------ triggers */

static void trigger_input(const sim_t *sim, const cn_rollout_t *r,
                          cn_trigger_input_t *in)
{
    const window_t *w = &sim->win;
    const cn_strategy_triggers_t *t = &sim->strategy.triggers;
    memset(in, 0, sizeof *in);
    in->phase = r->state == CN_ROLLOUT_WARMUP ? CN_TRIGGER_PHASE_WARMUP
                : r->weight_bp >= 10000       ? CN_TRIGGER_PHASE_FULL
                                              : CN_TRIGGER_PHASE_NORMAL;
    in->canary.requests = arm_requests(w, CN_ARM_CANARY);
    in->canary.errors = arm_errors(w, CN_ARM_CANARY);
    in->stable.requests = arm_requests(w, CN_ARM_STABLE);
    in->stable.errors = arm_errors(w, CN_ARM_STABLE);
    const cn_metrics_hist_t *hc = &w->hist[CN_ARM_CANARY],
                            *hs = &w->hist[CN_ARM_STABLE];
    /* Buckets wholly above a limit: a bucket straddling it is not
     * counted, so the counts never exceed the true ones. */
    double max_us = t->p99_latency.max * 1000;
    uint64_t above_max = 0;
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        cn_metrics_hist_bucket_bounds(i, &lo, &hi);
        if ((double)lo > max_us)
            above_max += hc->counts[i];
    }
    in->canary_slower_than_max = above_max;
    uint64_t m = cn_metrics_hist_count(hs);
    uint64_t rank = t->has_p99_latency && t->p99_latency.has_max_ratio
                        ? cn_triggers_p99_bound_rank(m, t->level)
                        : 0;
    if (rank > 0) {
        uint64_t cum = 0, bound = 0;
        for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++) {
            cum += hs->counts[i];
            if (cum >= rank) {
                uint64_t lo;
                cn_metrics_hist_bucket_bounds(i, &lo, &bound);
                break;
            }
        }
        double limit = t->p99_latency.max_ratio * (double)bound;
        uint64_t slow = 0;
        for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++) {
            uint64_t lo, hi;
            cn_metrics_hist_bucket_bounds(i, &lo, &hi);
            if ((double)lo > limit)
                slow += hc->counts[i];
        }
        in->has_p99_bound = true;
        in->canary_slower_than_bound = slow;
    }
    if (sim->pooled_ks) {
        /* As src/controller/driver.c's prediction_ks() did before f1957c7: the
         * union of each arm's per-segment reservoirs, whose segment mixes
         * differ when stable's fill and the canary's do not. */
        size_t n[2] = {0, 0};
        for (int a = 0; a < 2; a++)
            for (int sg = 0; sg < MAX_SEG; sg++) {
                size_t k = cn_metrics_reservoir_size(&w->pred[a][sg]);
                memcpy(sim->buf + (size_t)a * MAX_SEG * RESERVOIR + n[a],
                       cn_metrics_reservoir_values(&w->pred[a][sg]),
                       k * sizeof(double));
                n[a] += k;
            }
        cn_ks_result_t ks;
        if (n[0] && n[1] &&
            cn_stats_ks2(sim->buf + MAX_SEG * RESERVOIR, n[CN_ARM_CANARY], sim->buf,
                         n[CN_ARM_STABLE], CN_ALT_TWO_SIDED, CN_KS_ASYMPTOTIC,
                         &ks) == 0) {
            in->has_ks = true;
            in->ks_distance = ks.d;
            in->ks_n_canary = n[CN_ARM_CANARY];
            in->ks_n_stable = n[CN_ARM_STABLE];
        }
        return;
    }
    uint64_t nc = 0, ns = 0;
    for (int b = 0; b < PRED_BINS; b++) {
        nc += w->pbin[CN_ARM_CANARY][b];
        ns += w->pbin[CN_ARM_STABLE][b];
    }
    if (nc && ns) {
        double fc = 0, fs = 0, d = 0;
        for (int b = 0; b < PRED_BINS; b++) {
            fc += (double)w->pbin[CN_ARM_CANARY][b];
            fs += (double)w->pbin[CN_ARM_STABLE][b];
            double diff = fabs(fc / (double)nc - fs / (double)ns);
            if (diff > d)
                d = diff;
        }
        in->has_ks = true;
        in->ks_distance = d > 1 ? 1 : d;
        in->ks_n_canary = nc;
        in->ks_n_stable = ns;
    }
}

/* ------------------------------------------------------------ one rollout */

typedef struct {
    sim_t *sim;
    const scenario_t *sc;
    cn_rollout_t r;
    result_t *res;
    uint16_t weight_bp; /* what the simulated router runs */
    int64_t now_ms;
    int64_t first_req_ms; /* 0: none yet */
    /* the last analysis's floor, from a judge run at most once a minute */
    int64_t probe_ms;
    uint64_t probe_have, probe_need;
} run_t;

static void feed(run_t *run, cn_rollout_event_t *ev);

static void event(run_t *run, cn_rollout_event_kind_t kind)
{
    cn_rollout_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.now_ms = run->now_ms;
    feed(run, &ev);
}

static void carry_out(run_t *run, const cn_rollout_output_t *out)
{
    for (size_t i = 0; i < out->n_actions; i++) {
        const cn_rollout_action_t *a = &out->actions[i];
        switch (a->kind) {
        case CN_ROLLOUT_SET_TRAFFIC:
            run->weight_bp = a->weight_bp;
            if (run->r.state == CN_ROLLOUT_ROLLING_BACK) {
                if (!run->res->end_s)
                    run->res->end_s = (double)(run->now_ms - T0_MS) / 1000;
                event(run, CN_ROLLOUT_EV_PUBLISHED);
            }
            break;
        case CN_ROLLOUT_PROMOTE:
            if (run->r.state == CN_ROLLOUT_PROMOTING) {
                run->res->end_s = (double)(run->now_ms - T0_MS) / 1000;
                event(run, CN_ROLLOUT_EV_PUBLISHED);
            }
            break;
        case CN_ROLLOUT_START_ANALYSIS: {
            const cn_rollout_analysis_t *an = &a->analysis;
            cn_judge_result_t jr;
            judge_window(run->sim, run->sc, an->alpha_fail, an->alpha_pass, &jr);
            run->res->analyses++;
            cn_rollout_event_t ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = CN_ROLLOUT_EV_ANALYSIS_RESULT;
            ev.now_ms = run->now_ms;
            ev.step = an->step;
            ev.attempt = an->attempt;
            ev.verdict = map_verdict(&jr, an->last);
            snprintf(ev.reason, sizeof ev.reason, "%.200s", jr.reason);
            cn_judge_result_dispose(&jr);
            feed(run, &ev);
            break;
        }
        default:
            break;
        }
    }
}

static void feed(run_t *run, cn_rollout_event_t *ev)
{
    cn_rollout_output_t out;
    cn_rollout_state_t before = run->r.state;
    int rc = cn_rollout_step(&run->sim->rcfg, &run->r, ev, &out);
    if (rc && ev->kind != CN_ROLLOUT_EV_PROMOTE)
        die("%s: event %s refused in %s: %s", run->sc->name,
            cn_rollout_event_name(ev->kind), cn_rollout_state_name(before), out.error);
    if (run->r.state == CN_ROLLOUT_ROLLING_BACK && before != CN_ROLLOUT_ROLLING_BACK)
        snprintf(run->res->reason, sizeof run->res->reason, "%s", run->r.reason);
    carry_out(run, &out);
}

/* Whether the current step is the strategy's last analysis. */
static int at_last_analysis(const sim_t *sim, const cn_rollout_t *r)
{
    const cn_strategy_t *s = &sim->strategy;
    return r->step < s->n_steps && s->steps[r->step].kind == CN_STRATEGY_ANALYSIS &&
           cn_strategy_analysis_rank(s, r->step) == cn_strategy_analysis_count(s);
}

static void samples(run_t *run)
{
    sim_t *sim = run->sim;
    const window_t *w = &sim->win;
    uint64_t nc = arm_requests(w, CN_ARM_CANARY), ns = arm_requests(w, CN_ARM_STABLE);
    cn_rollout_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = CN_ROLLOUT_EV_SAMPLES;
    ev.now_ms = run->now_ms;
    ev.samples_have = nc < ns ? nc : ns;
    ev.samples_min_per_arm = sim->jcfg.min_per_arm;
    ev.samples_floor_last = UINT64_MAX; /* not known before the step */
    if (at_last_analysis(sim, &run->r) && run->r.state == CN_ROLLOUT_PROGRESSING &&
        !run->r.analysis_in_flight) {
        if (!run->probe_ms || run->now_ms - run->probe_ms >= 60000) {
            cn_rollout_analysis_t lv;
            cn_rollout_analysis_levels(&sim->rcfg, run->r.step,
                                       run->r.attempt ? run->r.attempt : 1, &lv);
            cn_judge_result_t jr;
            judge_window(sim, run->sc, lv.alpha_fail, lv.alpha_pass, &jr);
            /* One have and one need: the binding metric's, the one with
             * the smallest share of its own floor (a counted rate's n is
             * its requests, a sampled metric's its reservoirs'). */
            uint64_t have = 0, need = 0;
            double share = INFINITY;
            for (size_t i = 0; i < jr.n_rows; i++) {
                const cn_judge_row_t *row = &jr.rows[i];
                if (row->segment || row->min_samples == 0)
                    continue;
                uint64_t n =
                    row->canary.n < row->stable.n ? row->canary.n : row->stable.n;
                double sh = (double)n / (double)row->min_samples;
                if (sh < share) {
                    share = sh;
                    have = n;
                    need = row->min_samples;
                }
                if (verbose > 1)
                    fprintf(stderr, "  probe %s: n %zu / %zu, floor %zu\n", row->name,
                            row->canary.n, row->stable.n, row->min_samples);
            }
            cn_judge_result_dispose(&jr);
            run->probe_ms = run->now_ms;
            run->probe_have = have;
            run->probe_need = need ? need : sim->jcfg.min_per_arm;
        }
        ev.samples_have = run->probe_have;
        ev.samples_floor_last = run->probe_need;
    }
    double minutes = (double)(run->now_ms - run->r.window_started_ms) / 60000;
    ev.samples_per_minute = minutes > 0 ? (double)ev.samples_have / minutes : 0;
    feed(run, &ev);
}

/* One second of traffic, (now - 1 s, now]. */
static void traffic_second(run_t *run, rng_t *g)
{
    window_t *w = &run->sim->win;
    const traffic_t *tr = run->sc->traffic;
    unsigned n = (unsigned)run->sc->rps;
    double pw = run->weight_bp / 10000.0;
    for (unsigned i = 0; i < n; i++) {
        int a = rng_unit(g) < pw ? CN_ARM_CANARY : CN_ARM_STABLE;
        size_t s = 0;
        if (tr->n_seg > 1) {
            double u = rng_unit(g);
            while (s + 1 < tr->n_seg && u >= tr->seg_share[s]) {
                u -= tr->seg_share[s];
                s++;
            }
        }
        const behave_t *b = &tr->arm[a][s];
        if (a == CN_ARM_CANARY) {
            run->res->canary_requests++;
            if (!run->first_req_ms)
                run->first_req_ms =
                    run->now_ms - 1000 + (int64_t)((i + 1) * 1000.0 / n + 0.5);
        }
        w->req[a][s]++;
        int failed = b->all_fail || rng_unit(g) < b->err;
        w->err[a][s] += failed;
        double lat = b->lat_median_ms * exp(b->lat_sigma * rng_normal(g));
        cn_metrics_hist_record(&w->hist[a], (uint64_t)(lat * 1000));
        cn_metrics_reservoir_add(&w->lat[a][s], lat);
        if (!failed) {
            double p = 1 / (1 + exp(-(b->pred_mu + b->pred_sigma * rng_normal(g))));
            cn_metrics_reservoir_add(&w->pred[a][s], p);
            int bin = (int)(p * PRED_BINS);
            w->pbin[a][bin < PRED_BINS ? bin : PRED_BINS - 1]++;
        }
    }
}

static void run_rollout(sim_t *sim, const scenario_t *sc, uint64_t seed, result_t *res)
{
    memset(res, 0, sizeof *res);
    res->trigger = -1;
    run_t run = {.sim = sim, .sc = sc, .res = res, .now_ms = T0_MS};
    rng_t g = {.s = seed};
    cn_rollout_init(&run.r);
    window_reset(&sim->win, -1);
    event(&run, CN_ROLLOUT_EV_START);
    event(&run, CN_ROLLOUT_EV_CANARY_HEALTHY);
    int64_t end_ms = T0_MS + (int64_t)(sc->max_sim_s * 1000);
    while (
        cn_rollout_active(run.r.state) && run.now_ms < end_ms &&
        !(run.r.state == CN_ROLLOUT_HOLDING && run.r.hold != CN_ROLLOUT_HOLD_SAMPLES)) {
        if (sim->win.key != run.r.window_started_ms)
            window_reset(&sim->win, run.r.window_started_ms);
        run.now_ms += 1000;
        int had_first = run.first_req_ms != 0;
        traffic_second(&run, &g);
        if (!had_first && run.first_req_ms) {
            res->first_request_s = (double)(run.first_req_ms - T0_MS) / 1000;
            int64_t t = run.now_ms;
            run.now_ms = run.first_req_ms;
            event(&run, CN_ROLLOUT_EV_FIRST_REQUEST);
            run.now_ms = t;
        }
        event(&run, CN_ROLLOUT_EV_TICK);
        if (!cn_rollout_active(run.r.state))
            break;
        if (run.r.state == CN_ROLLOUT_PAUSED && run.r.paused_by_step) {
            cn_rollout_event_t ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = CN_ROLLOUT_EV_PROMOTE;
            ev.now_ms = run.now_ms;
            snprintf(ev.actor, sizeof ev.actor, "simulated operator");
            feed(&run, &ev);
        }
        if (sim->win.key != run.r.window_started_ms)
            continue; /* a new window began this second: nothing to check */
        samples(&run);
        if (!cn_rollout_active(run.r.state) || run.r.state == CN_ROLLOUT_ROLLING_BACK)
            continue;
        cn_trigger_input_t in;
        cn_trigger_result_t tr;
        trigger_input(sim, &run.r, &in);
        if (cn_triggers_check(&sim->strategy.triggers, &in, &tr))
            die("cn_triggers_check refused its input");
        for (int i = 0; i < CN_TRIGGER_CHECKS; i++)
            res->trigger_checks += tr.rows[i].ran;
        if (tr.fired >= 0) {
            res->trigger = tr.fired;
            cn_rollout_event_t ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = CN_ROLLOUT_EV_TRIGGER;
            ev.now_ms = run.now_ms;
            snprintf(ev.actor, sizeof ev.actor, "trigger");
            snprintf(ev.reason, sizeof ev.reason, "%s: %s",
                     cn_trigger_check_name((cn_trigger_check_t)tr.fired),
                     tr.rows[tr.fired].reason);
            feed(&run, &ev);
        }
    }
    switch (run.r.state) {
    case CN_ROLLOUT_PROMOTED:
        res->out = OUT_PROMOTED;
        break;
    case CN_ROLLOUT_ROLLED_BACK:
        res->out = res->trigger >= 0 ? OUT_ROLLBACK_TRIGGER : OUT_ROLLBACK_ANALYSIS;
        break;
    case CN_ROLLOUT_ABORTED:
        res->out = OUT_ABORTED;
        break;
    case CN_ROLLOUT_HOLDING:
        res->out = OUT_HELD;
        res->hold = run.r.hold;
        snprintf(res->reason, sizeof res->reason, "%s", run.r.reason);
        break;
    default:
        res->out = OUT_STUCK;
        snprintf(res->reason, sizeof res->reason, "%s: %.200s",
                 cn_rollout_state_name(run.r.state), run.r.reason);
        break;
    }
    if (!res->end_s)
        res->end_s = (double)(run.now_ms - T0_MS) / 1000;
}

/* ------------------------------------------------------------ summaries */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of v[0..n), sorting v; NAN when n == 0. */
static double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

/* The p-quantile of Beta(a, b) by bisection on its CDF (the inverse in GSL
 * fails to converge for some lopsided a and b). */
static double beta_quantile(double p, double a, double b)
{
    double lo = 0, hi = 1;
    for (int i = 0; i < 60; i++) {
        double mid = (lo + hi) / 2;
        if (gsl_cdf_beta_P(mid, a, b) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* Exact (Clopper-Pearson) two-sided 95% interval of k of n. */
static void cp95(unsigned k, unsigned n, double *lo, double *hi)
{
    *lo = k == 0 ? 0 : beta_quantile(0.025, k, n - k + 1);
    *hi = k == n ? 1 : beta_quantile(0.975, k + 1, n - k);
}

typedef struct {
    const scenario_t *sc;
    unsigned n, count[OUT_COUNT];
    unsigned held_samples; /* held short of samples: a floor never reached */
    unsigned by_trigger[CN_TRIGGER_CHECKS];
    double mean_checks;
    double promote_med, promote_p90; /* s from start, promoted */
    double detect_med, detect_p90;   /* s from the first canary request */
    double served_med, served_p90;   /* canary requests before rollback */
    double wall_s;
    char example_reason[CN_ROLLOUT_REASON_MAX]; /* of a rollback or hold */
} summary_t;

static void run_scenario(const scenario_t *sc, summary_t *sum)
{
    memset(sum, 0, sizeof *sum);
    sum->sc = sc;
    sum->n = sc->rollouts;
    double t0 = now_s();
    sim_t sim;
    sim_init(&sim, sc);
    double *prom = malloc(sc->rollouts * sizeof *prom);
    double *det = malloc(sc->rollouts * sizeof *det);
    double *srv = malloc(sc->rollouts * sizeof *srv);
    if (!prom || !det || !srv)
        die("out of memory");
    size_t np = 0, nd = 0;
    double checks = 0;
    for (unsigned i = 0; i < sc->rollouts; i++) {
        result_t res;
        run_rollout(&sim, sc, cn_rand_mix(sc->seed + i), &res);
        sum->count[res.out]++;
        checks += (double)res.trigger_checks;
        sum->held_samples += res.out == OUT_HELD && res.hold == CN_ROLLOUT_HOLD_SAMPLES;
        if (res.out == OUT_PROMOTED)
            prom[np++] = res.end_s;
        if (res.out == OUT_ROLLBACK_TRIGGER || res.out == OUT_ROLLBACK_ANALYSIS) {
            det[nd] = res.end_s - res.first_request_s;
            srv[nd++] = (double)res.canary_requests;
            if (res.trigger >= 0)
                sum->by_trigger[res.trigger]++;
        }
        if (verbose)
            fprintf(stderr,
                    "%s #%u: %s at %.0f s (first canary request %.1f s, %llu "
                    "canary requests, %u analyses)%s%s\n",
                    sc->name, i, outcome_names[res.out], res.end_s, res.first_request_s,
                    (unsigned long long)res.canary_requests, res.analyses,
                    res.reason[0] ? ": " : "", res.reason);
        if (res.out != OUT_PROMOTED && !sum->example_reason[0])
            snprintf(sum->example_reason, sizeof sum->example_reason, "%s", res.reason);
    }
    sum->mean_checks = checks / sc->rollouts;
    sum->promote_med = quantile(prom, np, 0.5);
    sum->promote_p90 = quantile(prom, np, 0.9);
    sum->detect_med = quantile(det, nd, 0.5);
    sum->detect_p90 = quantile(det, nd, 0.9);
    sum->served_med = quantile(srv, nd, 0.5);
    sum->served_p90 = quantile(srv, nd, 0.9);
    free(prom);
    free(det);
    free(srv);
    sim_dispose(&sim);
    sum->wall_s = now_s() - t0;
}

static unsigned rollbacks(const summary_t *s)
{
    return s->count[OUT_ROLLBACK_TRIGGER] + s->count[OUT_ROLLBACK_ANALYSIS];
}

/* alpha + level x the trigger checks a rollout ran (on average). */
static double guarantee(const summary_t *s)
{
    return 0.05 + 1e-7 * s->mean_checks;
}

/* ------------------------------------------------------------ requirements */

static unsigned n_failed;

static void require(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void require(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    n_failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("rollout-sim: requirement failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* An A/A rate must not be significantly above the guarantee: the lower
 * end of its exact 95% interval at most the bound. */
static void require_aa(const summary_t *s)
{
    double lo, hi;
    cp95(rollbacks(s), s->n, &lo, &hi);
    require(lo <= guarantee(s),
            "%s: %u of %u rollouts rolled back (95%% interval from %.2f%%), above the "
            "guarantee %.2f%%",
            s->sc->name, rollbacks(s), s->n, 100 * lo, 100 * guarantee(s));
    require(s->count[OUT_STUCK] == 0, "%s: %u rollouts neither ended nor held",
            s->sc->name, s->count[OUT_STUCK]);
    /* At 500 requests/s every floor is reachable: a hold for samples is a
     * floor the window can never give (see samples()). */
    require(s->held_samples == 0, "%s: %u rollouts held short of samples", s->sc->name,
            s->held_samples);
}

/* ------------------------------------------------------------ scenarios */

/* The example strategy, verbatim. */
static const char example_yaml[] = "strategy:\n"
                                   "  warmup: 30s\n"
                                   "  progress_deadline: 5m\n"
                                   "  steps:\n"
                                   "    - set_weight: 1\n"
                                   "    - pause: {duration: 10m}\n"
                                   "    - analysis: {}\n"
                                   "    - set_weight: 5\n"
                                   "    - pause: {duration: 15m}\n"
                                   "    - analysis: {}\n"
                                   "    - set_weight: 25\n"
                                   "    - pause: {}\n"
                                   "    - set_weight: 50\n"
                                   "    - pause: {duration: 30m}\n"
                                   "    - analysis: {}\n"
                                   "    - set_weight: 100\n"
                                   "    - pause: {duration: 10m}\n"
                                   "  max_bake: 1h\n"
                                   "  on_marginal: hold\n"
                                   "  retries: 2\n"
                                   "  dry_run: false\n"
                                   "  triggers:\n"
                                   "    error_rate: {max: 0.05, max_ratio: 3.0}\n"
                                   "    p99_latency_ms: {max: 500, max_ratio: 2.0}\n"
                                   "    prediction_shift: {max_statistic: 0.2}\n";

/* The same from its 5% step on: the canary's first weight is 5%. */
static const char from5_yaml[] = "strategy:\n"
                                 "  warmup: 30s\n"
                                 "  progress_deadline: 5m\n"
                                 "  steps:\n"
                                 "    - set_weight: 5\n"
                                 "    - pause: {duration: 15m}\n"
                                 "    - analysis: {}\n"
                                 "    - set_weight: 25\n"
                                 "    - pause: {}\n"
                                 "    - set_weight: 50\n"
                                 "    - pause: {duration: 30m}\n"
                                 "    - analysis: {}\n"
                                 "    - set_weight: 100\n"
                                 "    - pause: {duration: 10m}\n"
                                 "  max_bake: 1h\n"
                                 "  on_marginal: hold\n"
                                 "  retries: 2\n"
                                 "  dry_run: false\n"
                                 "  triggers:\n"
                                 "    error_rate: {max: 0.05, max_ratio: 3.0}\n"
                                 "    p99_latency_ms: {max: 500, max_ratio: 2.0}\n"
                                 "    prediction_shift: {max_statistic: 0.2}\n";

/* The example with every duration divided by 10 (warmup 3s, pauses 60s,
 * 90s, 180s, 60s): the smoke run's, so that `make test` takes seconds. */
static const char scaled_yaml[] = "strategy:\n"
                                  "  warmup: 3s\n"
                                  "  progress_deadline: 5m\n"
                                  "  steps:\n"
                                  "    - set_weight: 1\n"
                                  "    - pause: {duration: 60s}\n"
                                  "    - analysis: {}\n"
                                  "    - set_weight: 5\n"
                                  "    - pause: {duration: 90s}\n"
                                  "    - analysis: {}\n"
                                  "    - set_weight: 25\n"
                                  "    - pause: {}\n"
                                  "    - set_weight: 50\n"
                                  "    - pause: {duration: 180s}\n"
                                  "    - analysis: {}\n"
                                  "    - set_weight: 100\n"
                                  "    - pause: {duration: 60s}\n"
                                  "  max_bake: 1h\n"
                                  "  on_marginal: hold\n"
                                  "  retries: 2\n"
                                  "  dry_run: false\n"
                                  "  triggers:\n"
                                  "    error_rate: {max: 0.05, max_ratio: 3.0}\n"
                                  "    p99_latency_ms: {max: 500, max_ratio: 2.0}\n"
                                  "    prediction_shift: {max_statistic: 0.2}\n";

/* Stable's behaviour: latency median 50 ms (p99 160 ms), 1% errors,
 * predictions logistic(N(-1, 1)). */
static const behave_t base = {50, 0.5, 0.01, -1, 1, 0};

/* Segments of unequal volume and behaviour: "a" 90% of the traffic, "b"
 * 10% and slower, more failing, with other predictions. Stable's cells
 * fill their reservoirs in the first minute; the canary's at 1% never do. */
static const behave_t seg_a = {50, 0.5, 0.005, -1, 1, 0};
static const behave_t seg_b = {100, 0.5, 0.03, 0, 1, 0};

static traffic_t t_aa, t_seg, t_seg_wide, t_err3, t_slow, t_gross, t_margin;

static void traffic_setup(void)
{
    t_aa = (traffic_t){.name = "A/A", .n_seg = 1, .seg_share = {1}};
    t_aa.arm[0][0] = t_aa.arm[1][0] = base;

    t_seg = (traffic_t){.name = "A/A, segments 90/10",
                        .n_seg = 2,
                        .seg_name = {"a", "b"},
                        .seg_share = {0.9, 0.1}};
    t_seg.arm[0][0] = t_seg.arm[1][0] = seg_a;
    t_seg.arm[0][1] = t_seg.arm[1][1] = seg_b;

    /* The same with segments whose predictions differ widely (as those of
     * two countries or devices may): the pooled KS distance of an
     * identical canary is then 0.4 x 0.87 = 0.35, above max_statistic 0.2
     * (the issue measured 0.31 in such a run). */
    t_seg_wide = t_seg;
    t_seg_wide.name = "A/A, segments 90/10, predictions far apart";
    t_seg_wide.arm[0][0].pred_mu = t_seg_wide.arm[1][0].pred_mu = -1.5;
    t_seg_wide.arm[0][1].pred_mu = t_seg_wide.arm[1][1].pred_mu = 1.5;

    /* Worse by exactly the judge's margins: latency x 1.05 (margin 5%) and
     * errors 1.5% against 1% (margin 0.5 points), where a rollback and a
     * promotion are both false, each at most alpha. */
    t_margin = t_aa;
    t_margin.name = "at the margins";
    t_margin.arm[1][0].lat_median_ms = 1.05 * base.lat_median_ms;
    t_margin.arm[1][0].err = base.err + 0.005;

    t_err3 = t_aa;
    t_err3.name = "3x error rate";
    t_err3.arm[1][0].err = 3 * base.err;

    t_slow = t_aa;
    t_slow.name = "30% slower";
    t_slow.arm[1][0].lat_median_ms = 1.3 * base.lat_median_ms;

    t_gross = t_aa;
    t_gross.name = "every answer a 500";
    t_gross.arm[1][0].all_fail = 1;
}

/* ------------------------------------------------------------ output */

static FILE *out;

static void fmt_s(char *buf, size_t len, double s)
{
    if (isnan(s))
        snprintf(buf, len, "-");
    else if (s < 120)
        snprintf(buf, len, "%.1f s", s);
    else
        snprintf(buf, len, "%.1f min", s / 60);
}

static void print_aa(const summary_t *s)
{
    double lo, hi;
    unsigned k = rollbacks(s);
    cp95(k, s->n, &lo, &hi);
    char prom[32], p90[32];
    fmt_s(prom, sizeof prom, s->promote_med);
    fmt_s(p90, sizeof p90, s->promote_p90);
    fprintf(
        out,
        "| %s | %u | %u (%.2f%%, 95%% CI %.2f-%.2f%%) | %u / %u | %.2f%% | %u | %u | "
        "%s / %s |\n",
        s->sc->name, s->n, k, 100.0 * k / s->n, 100 * lo, 100 * hi,
        s->count[OUT_ROLLBACK_ANALYSIS], s->count[OUT_ROLLBACK_TRIGGER],
        100 * guarantee(s), s->count[OUT_HELD], s->count[OUT_PROMOTED], prom, p90);
}

static void print_detect(const summary_t *s)
{
    char med[32], p90[32];
    fmt_s(med, sizeof med, s->detect_med);
    fmt_s(p90, sizeof p90, s->detect_p90);
    unsigned k = rollbacks(s);
    fprintf(out, "| %s | %u of %u | %u / %u | %s | %s | %.0f | %.0f |\n", s->sc->name,
            k, s->n, s->count[OUT_ROLLBACK_ANALYSIS], s->count[OUT_ROLLBACK_TRIGGER],
            med, p90, s->served_med, s->served_p90);
}

static void usage(void)
{
    fputs("usage: rollout-sim [--quick | --pooled-ks | --margin] [--markdown] "
          "[--verbose] "
          "[--rollouts N]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    int quick = 0, markdown = 0, pooled = 0, margin = 0;
    unsigned aa_n = 400;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--pooled-ks") == 0)
            pooled = 1;
        else if (strcmp(argv[i], "--margin") == 0)
            margin = 1;
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose++;
        else if (strcmp(argv[i], "--markdown") == 0)
            markdown = 1;
        else if (strcmp(argv[i], "--rollouts") == 0 && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v == 0 || v > 100000)
                usage();
            aa_n = (unsigned)v;
        } else
            usage();
    }
    out = stdout;
    traffic_setup();
    double t0 = now_s();

    if (margin) {
        /* At the boundary of harm both errors are possible: a rollback
         * (false: the canary is not worse than the margins) and a promotion
         * (false: it is not better either), each at most alpha. */
        unsigned n = aa_n == 400 ? 200 : aa_n;
        scenario_t m = {"latency +5% and errors +0.5 points (both at the margin)",
                        &t_margin,
                        example_yaml,
                        500,
                        1,
                        n,
                        301,
                        4 * 3600,
                        0};
        summary_t sm;
        run_scenario(&m, &sm);
        double lo, hi, plo, phi;
        cp95(rollbacks(&sm), sm.n, &lo, &hi);
        cp95(sm.count[OUT_PROMOTED], sm.n, &plo, &phi);
        fprintf(
            out,
            "| scenario | rollouts | rolled back (by analysis / trigger) | promoted | "
            "held |\n|---|---|---|---|---|\n"
            "| %s | %u | %u (%u / %u): %.1f%%, 95%% CI %.1f-%.1f%% | %u: %.1f%%, "
            "95%% CI %.1f-%.1f%% | %u |\n",
            m.name, sm.n, rollbacks(&sm), sm.count[OUT_ROLLBACK_ANALYSIS],
            sm.count[OUT_ROLLBACK_TRIGGER], 100.0 * rollbacks(&sm) / sm.n, 100 * lo,
            100 * hi, sm.count[OUT_PROMOTED], 100.0 * sm.count[OUT_PROMOTED] / sm.n,
            100 * plo, 100 * phi, sm.count[OUT_HELD]);
        if (sm.example_reason[0])
            fprintf(out, "\nFor example: \"%s\"\n", sm.example_reason);
        require(lo <= guarantee(&sm), "at the margins: rollbacks above %.2f%%",
                100 * guarantee(&sm));
        require(plo <= 0.05, "at the margins: promotions above 5%%");
        return n_failed ? 1 : 0;
    }

    if (pooled) {
        /* The prediction trigger's KS distance computed two ways over the
         * same A/A traffic with unequal segments: from the arms' pooled
         * reservoirs (driver.c before f1957c7) and from full counts. */
        unsigned n = aa_n == 400 ? 50 : aa_n;
        scenario_t p = {
            "prediction trigger from pooled reservoirs (driver.c before f1957c7)",
            &t_seg_wide,
            example_yaml,
            500,
            1,
            n,
            201,
            4 * 3600,
            1};
        scenario_t f = {"prediction trigger from full counts (this simulation)",
                        &t_seg_wide,
                        example_yaml,
                        500,
                        1,
                        n,
                        201,
                        4 * 3600,
                        0};
        summary_t sp, sf;
        run_scenario(&p, &sp);
        run_scenario(&f, &sf);
        fprintf(out,
                "| scenario | rollouts | rolled back (any cause) | by analysis / by "
                "trigger | guarantee | held | promoted | time to promotion, median / "
                "p90 |\n|---|---|---|---|---|---|---|---|\n");
        print_aa(&sp);
        print_aa(&sf);
        if (sp.example_reason[0])
            fprintf(out, "\nA pooled rollback: \"%s\"\n", sp.example_reason);
        require_aa(&sp);
        require_aa(&sf);
        return n_failed ? 1 : 0;
    }

    if (quick) {
        /* The smoke run: 40 scaled-down A/A rollouts with unequal
         * segments, stratified, and 100 gross failures. */
        scenario_t aa = {"A/A, segments 90/10, durations / 10",
                         &t_seg,
                         scaled_yaml,
                         500,
                         1,
                         aa_n == 400 ? 40 : aa_n,
                         101,
                         3 * 3600,
                         0};
        scenario_t gross = {
            "every answer a 500, 1%", &t_gross, example_yaml, 500, 1, 100, 501, 600, 0};
        summary_t s_aa, s_gross;
        run_scenario(&aa, &s_aa);
        run_scenario(&gross, &s_gross);
        fprintf(out, "| scenario | rollouts | rolled back | by analysis / trigger | "
                     "guarantee | held | promoted | promotion median / p90 |\n"
                     "|---|---|---|---|---|---|---|---|\n");
        print_aa(&s_aa);
        fprintf(out, "\n| scenario | rolled back | by analysis / trigger | detection "
                     "median | p90 | canary requests median | p90 |\n"
                     "|---|---|---|---|---|---|---|\n");
        print_detect(&s_gross);
        require_aa(&s_aa);
        require(rollbacks(&s_gross) == s_gross.n, "gross failure: %u of %u rolled back",
                rollbacks(&s_gross), s_gross.n);
        require(s_gross.detect_med <= 2.0,
                "gross failure: median detection %.2f s > 2 s", s_gross.detect_med);
        fprintf(out, "\n%.1f s (%lu judge runs, %.1f s)\n", now_s() - t0, judge_calls,
                judge_secs);
        return n_failed ? 1 : 0;
    }
    scenario_t aa = {"A/A", &t_aa, example_yaml, 500, 1, aa_n, 1, 4 * 3600, 0};
    scenario_t aa_seg = {"A/A, segments 90/10, stratified",
                         &t_seg,
                         example_yaml,
                         500,
                         1,
                         aa_n,
                         2,
                         4 * 3600,
                         0};
    unsigned pooled_n = aa_n < 100 ? aa_n : 100;
    scenario_t aa_pool = {
        "A/A, segments 90/10, pooled reservoirs (not what the driver does)",
        &t_seg,
        example_yaml,
        500,
        0,
        pooled_n,
        3,
        4 * 3600,
        0};
    scenario_t det[] = {
        {"3x error rate, 1% (example strategy)", &t_err3, example_yaml, 500, 1, 100, 11,
         4 * 3600, 0},
        {"3x error rate, 5% (from its 5% step)", &t_err3, from5_yaml, 500, 1, 100, 12,
         4 * 3600, 0},
        {"30% slower, 1% (example strategy)", &t_slow, example_yaml, 500, 1, 100, 13,
         4 * 3600, 0},
        {"30% slower, 5% (from its 5% step)", &t_slow, from5_yaml, 500, 1, 100, 14,
         4 * 3600, 0},
        {"every answer a 500, 1%", &t_gross, example_yaml, 500, 1, 1000, 15, 600, 0},
    };
    size_t n_det = sizeof det / sizeof det[0];
    summary_t s_aa, s_seg, s_pool, s_det[sizeof det / sizeof det[0]];
    run_scenario(&aa, &s_aa);
    run_scenario(&aa_seg, &s_seg);
    run_scenario(&aa_pool, &s_pool);
    for (size_t i = 0; i < n_det; i++)
        run_scenario(&det[i], &s_det[i]);

    require_aa(&s_aa);
    require_aa(&s_seg);
    const summary_t *gross = &s_det[n_det - 1];
    require(rollbacks(gross) == gross->n, "gross failure: %u of %u rolled back",
            rollbacks(gross), gross->n);
    require(gross->detect_med <= 2.0, "gross failure: median detection %.2f s > 2 s",
            gross->detect_med);

    fprintf(
        out,
        "Measured by `build/rollout-sim` (tests/sim/rollout_sim.c; `make sim-rollout`, "
        "%u A/A rollouts per A/A scenario, fixed seeds), at 500 requests/s with the "
        "issue's example strategy (durations as written: warmup 30 s, bakes of 10, 15 "
        "and 30 min, 10 min at 100%%; a `pause: {}` is promoted at once by a simulated "
        "person). Judged with `latency_ms` (mann-whitney, margin 5%%), `error` "
        "(proportion from full counts, margin 0.5 points) and `prediction` (ks, "
        "max_statistic 0.1), all critical, alpha 0.05. Stable: latency lognormal "
        "(median 50 ms, sigma 0.5), 1%% errors, predictions logistic(N(-1, 1)); with "
        "segments, \"a\" (90%%: median 50 ms, 0.5%% errors) and \"b\" (10%%: median "
        "100 ms, "
        "3%% errors, predictions logistic(N(0, 1))), reservoirs of %d per cell, which "
        "stable's fill and the canary's at 1%% do not.\n\n",
        aa_n, RESERVOIR);
    fprintf(
        out,
        "#### A canary identical to stable\n\n"
        "| scenario | rollouts | rolled back (any cause) | by analysis / by trigger "
        "| guarantee | held | promoted | time to promotion, median / p90 |\n"
        "|---|---|---|---|---|---|---|---|\n");
    print_aa(&s_aa);
    print_aa(&s_seg);
    print_aa(&s_pool);
    fprintf(
        out,
        "\nThe guarantee is alpha + 1e-7 x the trigger checks a rollout ran "
        "(%.0f on average: 5 checks a second, fewer in warmup and at 100%%). A "
        "rollout held by a marginal verdict waits for a person and is counted apart. "
        "Time to promotion counts from the start to the promotion's publication.",
        s_aa.mean_checks);
    if (s_pool.example_reason[0])
        fprintf(out, " A pooled rollback, for example: \"%s\".", s_pool.example_reason);
    fprintf(
        out,
        "\n\n#### Regressions: detection\n\n"
        "| scenario | rolled back | by analysis / by trigger | from the first canary "
        "request to weight 0, median | p90 | canary requests served, median | "
        "p90 |\n"
        "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n_det; i++)
        print_detect(&s_det[i]);
    fprintf(
        out,
        "\nThe time is simulated, in checks once a second; an analysis is judged the "
        "moment it is started. \"From its 5%% step\" is the example strategy without "
        "its first three steps, so the canary's first weight is 5%%.\n");
    if (!markdown) {
        fprintf(out, "\nwall time:");
        fprintf(out, " %s %.1f s;", aa.name, s_aa.wall_s);
        fprintf(out, " %s %.1f s;", aa_seg.name, s_seg.wall_s);
        for (size_t i = 0; i < n_det; i++)
            fprintf(out, " %s %.1f s;", det[i].name, s_det[i].wall_s);
        fprintf(out, " total %.1f s\n", now_s() - t0);
        for (int o = 0; o < OUT_COUNT; o++)
            if (s_seg.count[o])
                fprintf(out, "segments: %s %u\n", outcome_names[o], s_seg.count[o]);
    }
    return n_failed ? 1 : 0;
}
