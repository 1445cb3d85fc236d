/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * anytime-sim: how much shorter the bake is with `analysis: {mode:
 * anytime}` (issue 15, "Step analyses"), in simulated time. It drives the
 * real anytime families (cn_seq_init at alpha_fail, cn_seq_ni_init at
 * alpha_pass, levels from cn_rollout_anytime_levels) with per-second
 * counts, following the machine's rules (rollout.h): at each anytime
 * analysis, harm shown rolls back, non-inferiority shown ends the bake at
 * once; with neither, a step before the last advances at the end of its
 * pause and the last keeps monitoring until max_bake (then holds).
 *
 * The ramp at 500 requests/s (Poisson): 1% for 10 min, 5% for
 * 15 min, 25% for 30 min, each pause followed by an anytime analysis (the
 * 25% one the last), J = 3, analysis alpha 0.05, max_bake 1h; the planned
 * ramp bakes 55 min whatever the canary does. The metric is the error
 * rate alone (proportion, absolute margin 0.5 points; stable 1%); the
 * canary: as good as stable, at the margin (1.5%), and 3x stable (3%).
 *
 *   anytime-sim [--reps N]   (default 1000; prints Markdown on stdout)
 */
#include "controller/rollout.h"
#include "controller/sequential.h"
#include "controller/strategy.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_sort.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char strategy_yaml[] = "steps:\n"
                                    "  - set_weight: 1\n"
                                    "  - pause: {duration: 10m}\n"
                                    "  - analysis: {mode: anytime}\n"
                                    "  - set_weight: 5\n"
                                    "  - pause: {duration: 15m}\n"
                                    "  - analysis: {mode: anytime}\n"
                                    "  - set_weight: 25\n"
                                    "  - pause: {duration: 30m}\n"
                                    "  - analysis: {mode: anytime}\n"
                                    "max_bake: 1h\n";

#define STEPS 3
static const double weight[STEPS] = {0.01, 0.05, 0.25};
static const int pause_s[STEPS] = {600, 900, 1800};
static const uint32_t analysis_at[STEPS] = {2, 5, 8};
#define MAX_BAKE_S 3600

typedef struct {
    double bake_s; /* total bake (seconds until the last step ends) */
    int early;     /* steps ended early by non-inferiority */
    bool rolled;   /* harm shown */
    bool held;     /* the last did not show NI by max_bake */
    double step_s[STEPS];
} run_t;

static void one(gsl_rng *r, const cn_rollout_config_t *rc, const cn_seq_config_t *base,
                double p_canary, run_t *out)
{
    const double q = 0.01;
    memset(out, 0, sizeof *out);
    for (int j = 0; j < STEPS; j++) {
        cn_rollout_analysis_t lv;
        cn_rollout_anytime_levels(rc, analysis_at[j], &lv);
        cn_seq_config_t h = *base, n = *base;
        h.alpha = lv.alpha_fail;
        n.alpha = lv.alpha_pass;
        cn_seq_t harm, ni;
        cn_seq_init(&harm, &h);
        cn_seq_ni_init(&ni, &n);
        int limit = lv.last ? MAX_BAKE_S : pause_s[j];
        int t = 0;
        bool shown = false;
        for (t = 1; t <= limit; t++) {
            unsigned total = gsl_ran_poisson(r, 500);
            unsigned nc = gsl_ran_binomial(r, weight[j], total), ns = total - nc;
            cn_seq_second_t in;
            memset(&in, 0, sizeof in);
            in.canary.requests = nc;
            in.canary.errors = gsl_ran_binomial(r, p_canary, nc);
            in.stable.requests = ns;
            in.stable.errors = gsl_ran_binomial(r, q, ns);
            if (cn_seq_update(&harm, &in)) {
                out->rolled = true;
                out->bake_s += t;
                out->step_s[j] = t;
                return;
            }
            if (cn_seq_update(&ni, &in)) {
                shown = true;
                break;
            }
        }
        if (shown) {
            out->early++;
            out->step_s[j] = t;
        } else {
            out->step_s[j] = lv.last ? MAX_BAKE_S : pause_s[j];
            out->held = lv.last;
        }
        /* a step before the last bakes at most its pause; the last at
         * least its pause in the planned ramp (counted as such) */
        out->bake_s += out->step_s[j];
    }
}

static double quantile(double *v, size_t n, double p)
{
    gsl_sort(v, 1, n);
    return gsl_stats_quantile_from_sorted_data(v, 1, n, p);
}

int main(int argc, char **argv)
{
    int reps = 1000;
    if (argc == 3 && strcmp(argv[1], "--reps") == 0)
        reps = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: anytime-sim [--reps N]\n");
        return 2;
    }
    if (reps < 10) {
        fprintf(stderr, "anytime-sim: --reps must be at least 10\n");
        return 2;
    }
    cn_strategy_t s;
    char err[256];
    if (cn_strategy_parse(strategy_yaml, strlen(strategy_yaml), "anytime-sim", &s, err,
                          sizeof err)) {
        fprintf(stderr, "anytime-sim: %s\n", err);
        return 1;
    }
    cn_rollout_config_t rc = {&s, 0.05};
    cn_seq_config_t base = {.alpha = 0.05, .n_metrics = 1};
    base.metrics[0] = (cn_seq_metric_config_t){
        .kind = CN_SEQ_ERROR, .margin = 0.005, .margin_kind = CN_MARGIN_ABSOLUTE};
    static const struct {
        const char *name;
        double p;
    } cases[] = {{"as good as stable (1%)", 0.01},
                 {"at the margin (1.5%)", 0.015},
                 {"3x stable (3%)", 0.03}};
    printf("| canary | bake, median (min) | bake, p90 (min) | steps ended early | "
           "1%% / 5%% / 25%% step, median (min) | rolled back | last held at max_bake "
           "|\n|---|---|---|---|---|---|---|\n");
    double *bake = malloc((size_t)reps * sizeof *bake);
    double *st[STEPS];
    for (int j = 0; j < STEPS; j++)
        st[j] = malloc((size_t)reps * sizeof *st[j]);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r, 15 + c);
        int early = 0, rolled = 0, held = 0;
        for (int i = 0; i < reps; i++) {
            run_t o;
            one(r, &rc, &base, cases[c].p, &o);
            bake[i] = o.bake_s / 60;
            for (int j = 0; j < STEPS; j++)
                st[j][i] = o.step_s[j] / 60;
            early += o.early;
            rolled += o.rolled;
            held += o.held;
        }
        double b50 = quantile(bake, (size_t)reps, 0.5),
               b90 = quantile(bake, (size_t)reps, 0.9);
        printf("| %s | %.1f | %.1f | %.1f%% | %.1f / %.1f / %.1f | %.1f%% | %.1f%% |\n",
               cases[c].name, b50, b90, 100.0 * early / (STEPS * (double)reps),
               quantile(st[0], (size_t)reps, 0.5), quantile(st[1], (size_t)reps, 0.5),
               quantile(st[2], (size_t)reps, 0.5), 100.0 * rolled / reps,
               100.0 * held / reps);
        gsl_rng_free(r);
    }
    printf("\nPlanned analyses bake 55 min (10 + 15 + 30) whatever the canary "
           "does. %d replications per row (anytime-sim --reps %d).\n",
           reps, reps);
    free(bake);
    for (int j = 0; j < STEPS; j++)
        free(st[j]);
    cn_strategy_dispose(&s);
    return 0;
}
