/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `strategy:` section (controller/strategy.h): every default, the
 * issue's example read verbatim into the right struct, every key's bounds,
 * every rule between steps with its exact one-line message, a strategy
 * built in code checked against the same rules, the effective
 * configuration written out and read back, and the checks against the
 * `analysis:` section (looks, metric names).
 */
#include "controller/sequential.h"
#include "controller/strategy.h"
#include "judge/config.h"
#include "judge/judge.h"
#include "util/config.h"
#include "util/error.h"
#include "util/yaml.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *yaml, cn_strategy_t *s, char *err, size_t errlen)
{
    return cn_strategy_parse(yaml, strlen(yaml), "s.yaml", s, err, errlen);
}

static void parse_ok(const char *yaml, cn_strategy_t *s)
{
    char err[512];
    cr_assert_eq(parse(yaml, s, err, sizeof err), 0, "unexpected error: %s", err);
}

/* The message for yaml, which must be refused with CN_EINVAL. */
static void assert_error(const char *yaml, const char *want)
{
    cn_strategy_t s;
    char err[1024];
    int rc = parse(yaml, &s, err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL, "accepted (rc %d): %s", rc, yaml);
    cr_assert_str_eq(err, want, "for:\n%s\ngot: %s", yaml, err);
    cr_assert_eq(s.n_steps, 0, "a refused strategy is left empty");
    cn_strategy_dispose(&s);
}

/* The issue's example, verbatim (issue 14, "Rollout strategy"). */
static const char issue_example[] =
    "strategy:\n"
    "  warmup: 30s                # once, when the canary first gets traffic: its "
    "samples are not judged (cold caches, JIT)\n"
    "  progress_deadline: 5m      # the canary must be healthy and take traffic by "
    "then, else the rollout aborts\n"
    "  steps:\n"
    "    - set_weight: 1\n"
    "    - pause: {duration: 10m} # bake at least this long; the last analysis also "
    "waits for its samples (min_samples: auto)\n"
    "    - analysis: {}           # judges with the file's analysis: section; may "
    "override metrics\n"
    "    - set_weight: 5\n"
    "    - pause: {duration: 15m}\n"
    "    - analysis: {}\n"
    "    - set_weight: 25\n"
    "    - pause: {}              # no duration: wait for a human `promote`\n"
    "    - set_weight: 50\n"
    "    - pause: {duration: 30m}\n"
    "    - analysis: {}           # the last analysis: it must pass\n"
    "    - set_weight: 100\n"
    "    - pause: {duration: 10m} # at 100% only the absolute triggers run\n"
    "  max_bake: 1h               # a step that cannot gather its samples by then "
    "holds, and says why\n"
    "  on_marginal: hold          # hold | retry (re-analyse, up to `retries`) | "
    "rollback\n"
    "  retries: 2\n"
    "  dry_run: false             # true: judge, record and notify, but never change "
    "traffic\n"
    "  triggers:                  # checked every second, from the first canary "
    "request\n"
    "    error_rate: {max: 0.05, max_ratio: 3.0}\n"
    "    p99_latency_ms: {max: 500, max_ratio: 2.0}\n"
    "    prediction_shift: {max_statistic: 0.2}\n";

/* ---------------------------------------------------------- defaults */

Test(strategy_defaults, init_sets_the_documented_defaults)
{
    cn_strategy_t s;
    memset(&s, 0xAB, sizeof s);
    cn_strategy_init(&s);
    cr_assert_eq(s.warmup_ms, 30000);
    cr_assert_eq(s.progress_deadline_ms, 600000);
    cr_assert_eq(s.max_bake_ms, 3600000);
    cr_assert_eq(s.on_marginal, CN_STRATEGY_MARGINAL_HOLD);
    cr_assert_eq(s.retries, 2);
    cr_assert_eq(s.dry_run, false);
    cr_assert_eq(s.n_steps, 0);
    cr_assert_null(s.steps);
    cr_assert_eq(s.triggers.level, 1e-7);
    cr_assert_eq(s.triggers.has_error_rate, 0);
    cr_assert_eq(s.triggers.has_p99_latency, 0);
    cr_assert_eq(s.triggers.has_prediction_shift, 0);
    cr_assert_eq(s.triggers.error_rate.min_rate, 0.001);
    cr_assert_eq(s.parity.weight_bp, 5000);
    cr_assert_eq(s.parity.duration_ms, 600000);
    cn_strategy_dispose(&s);
    cn_strategy_dispose(&s);
    cn_strategy_dispose(NULL);
}

Test(strategy_defaults, a_strategy_without_steps_is_not_valid)
{
    cn_strategy_t s;
    cn_strategy_init(&s);
    char err[512];
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'steps': no set_weight step: the canary would never "
                          "get traffic to judge (add one, e.g. '- set_weight: 5')");
    cn_strategy_dispose(&s);
}

Test(strategy_defaults, a_minimal_strategy_takes_every_default)
{
    cn_strategy_t s;
    parse_ok("strategy:\n  steps:\n    - set_weight: 5\n", &s);
    cr_assert_eq(s.n_steps, 1);
    cr_assert_eq(s.steps[0].kind, CN_STRATEGY_SET_WEIGHT);
    cr_assert_eq(s.steps[0].weight_bp, 500);
    cr_assert_eq(s.steps[0].line, 3);
    cr_assert_eq(s.warmup_ms, 30000);
    cr_assert_eq(s.retries, 2);
    cn_strategy_dispose(&s);
}

/* ------------------------------------------------------ the example */

Test(strategy_example, the_issue_example_reads_verbatim)
{
    cn_strategy_t s;
    parse_ok(issue_example, &s);
    cr_assert_eq(s.warmup_ms, 30000);
    cr_assert_eq(s.progress_deadline_ms, 300000);
    cr_assert_eq(s.max_bake_ms, 3600000);
    cr_assert_eq(s.on_marginal, CN_STRATEGY_MARGINAL_HOLD);
    cr_assert_eq(s.retries, 2);
    cr_assert_eq(s.dry_run, false);
    cr_assert_eq(s.n_steps, 13);
    static const struct {
        int kind;
        unsigned weight_bp;
        uint64_t pause_ms; /* UINT64_MAX: no duration */
        int line;
    } want[] = {
        {CN_STRATEGY_SET_WEIGHT, 100, 0, 5},   {CN_STRATEGY_PAUSE, 0, 600000, 6},
        {CN_STRATEGY_ANALYSIS, 0, 0, 7},       {CN_STRATEGY_SET_WEIGHT, 500, 0, 8},
        {CN_STRATEGY_PAUSE, 0, 900000, 9},     {CN_STRATEGY_ANALYSIS, 0, 0, 10},
        {CN_STRATEGY_SET_WEIGHT, 2500, 0, 11}, {CN_STRATEGY_PAUSE, 0, UINT64_MAX, 12},
        {CN_STRATEGY_SET_WEIGHT, 5000, 0, 13}, {CN_STRATEGY_PAUSE, 0, 1800000, 14},
        {CN_STRATEGY_ANALYSIS, 0, 0, 15},      {CN_STRATEGY_SET_WEIGHT, 10000, 0, 16},
        {CN_STRATEGY_PAUSE, 0, 600000, 17},
    };
    for (size_t i = 0; i < 13; i++) {
        const cn_strategy_step_t *st = &s.steps[i];
        cr_assert_eq(st->kind, want[i].kind, "steps[%zu]", i);
        cr_assert_eq(st->line, want[i].line, "steps[%zu]", i);
        if (st->kind == CN_STRATEGY_SET_WEIGHT)
            cr_assert_eq(st->weight_bp, want[i].weight_bp, "steps[%zu]", i);
        if (st->kind == CN_STRATEGY_PAUSE && want[i].pause_ms == UINT64_MAX)
            cr_assert_eq(st->pause.has_duration, 0, "steps[%zu]", i);
        else if (st->kind == CN_STRATEGY_PAUSE) {
            cr_assert_eq(st->pause.has_duration, 1, "steps[%zu]", i);
            cr_assert_eq(st->pause.duration_ms, want[i].pause_ms, "steps[%zu]", i);
        }
        if (st->kind == CN_STRATEGY_ANALYSIS) {
            cr_assert_eq(st->analysis.metrics.count, 0);
            cr_assert_eq(st->analysis.min_samples, 0, "auto");
        }
    }
    const cn_strategy_triggers_t *t = &s.triggers;
    cr_assert(t->has_error_rate && t->has_p99_latency && t->has_prediction_shift);
    cr_assert(t->error_rate.has_max && t->error_rate.has_max_ratio);
    cr_assert_eq(t->error_rate.max, 0.05);
    cr_assert_eq(t->error_rate.max_ratio, 3.0);
    cr_assert_eq(t->error_rate.min_rate, 0.001);
    cr_assert_eq(t->p99_latency.max, 500);
    cr_assert_eq(t->p99_latency.max_ratio, 2.0);
    cr_assert_eq(t->prediction_shift.max_statistic, 0.2);
    cr_assert_eq(t->level, 1e-7);
    cr_assert_eq(cn_strategy_analysis_count(&s), 3);
    cr_assert_eq(cn_strategy_analysis_rank(&s, 2), 1);
    cr_assert_eq(cn_strategy_analysis_rank(&s, 5), 2);
    cr_assert_eq(cn_strategy_analysis_rank(&s, 10), 3);
    cr_assert_eq(cn_strategy_analysis_rank(&s, 0), 0, "not an analysis");
    cr_assert_eq(cn_strategy_analysis_rank(&s, 99), 0, "out of range");
    cr_assert_eq(cn_strategy_weight_at(&s, 0), 100);
    cr_assert_eq(cn_strategy_weight_at(&s, 7), 2500);
    cr_assert_eq(cn_strategy_weight_at(&s, 12), 10000);
    char err[512];
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), 0, "%s", err);
    cn_strategy_dispose(&s);
}

Test(strategy_example, the_root_form_reads_the_same_keys)
{
    cn_strategy_t s;
    parse_ok("warmup: 0s\nsteps: [{set_weight: 50}]\n", &s);
    cr_assert_eq(s.warmup_ms, 0);
    cr_assert_eq(s.steps[0].weight_bp, 5000);
    cn_strategy_dispose(&s);
}

Test(strategy_example, other_sections_are_left_to_their_readers)
{
    cn_strategy_t s;
    parse_ok("serve: {listen: ':0'}\nanalysis: {metrics: []}\n"
             "strategy: {steps: [{set_weight: 1}]}\n",
             &s);
    cr_assert_eq(s.n_steps, 1);
    cn_strategy_dispose(&s);
}

Test(strategy_example, read_section_says_whether_the_section_is_there)
{
    const char *text = "serve: {listen: ':0'}\n";
    cn_yaml_t y;
    char err[256];
    cn_yaml_init(&y, "x.yaml", err, sizeof err);
    struct fy_document *doc;
    cr_assert_eq(cn_yaml_load(&y, text, strlen(text), &doc), 0);
    cn_strategy_t s;
    cn_strategy_init(&s);
    bool present = true;
    cr_assert_eq(cn_strategy_read_section(&y, doc, &s, &present), 0);
    cr_assert_eq(present, false);
    cr_assert_eq(s.warmup_ms, 30000, "untouched");
    cn_yaml_dispose(&y);
    cn_strategy_dispose(&s);
}

/* --------------------------------------------------------- each key */

Test(strategy_keys, every_key_lands_in_its_field)
{
    cn_strategy_t s;
    parse_ok("strategy:\n"
             "  warmup: 250ms\n"
             "  progress_deadline: 2h\n"
             "  steps:\n"
             "    - shadow: {percent: 12.5, duration: 90s}\n"
             "    - analysis: {metrics: [latency_ms, error], min_samples: 5000}\n"
             "    - set_weight: 0.01\n"
             "    - pause: {duration: 1s}\n"
             "    - set_weight: 99.99\n"
             "    - analysis: {}\n"
             "  max_bake: 3h\n"
             "  on_marginal: retry\n"
             "  retries: 10\n"
             "  dry_run: true\n"
             "  triggers:\n"
             "    error_rate: {max_ratio: 1, min_rate: 0}\n"
             "    p99_latency_ms: {max: 0.5}\n"
             "    level: 0.01\n",
             &s);
    cr_assert_eq(s.warmup_ms, 250);
    cr_assert_eq(s.progress_deadline_ms, 7200000);
    cr_assert_eq(s.steps[0].kind, CN_STRATEGY_SHADOW);
    cr_assert_eq(s.steps[0].shadow.percent_bp, 1250);
    cr_assert_eq(s.steps[0].shadow.duration_ms, 90000);
    cr_assert_eq(s.steps[1].analysis.metrics.count, 2);
    cr_assert_str_eq(s.steps[1].analysis.metrics.items[0], "latency_ms");
    cr_assert_str_eq(s.steps[1].analysis.metrics.items[1], "error");
    cr_assert_eq(s.steps[1].analysis.min_samples, 5000);
    cr_assert_eq(s.steps[2].weight_bp, 1);
    cr_assert_eq(s.steps[3].pause.duration_ms, 1000);
    cr_assert_eq(s.steps[4].weight_bp, 9999);
    cr_assert_eq(s.max_bake_ms, 3 * 3600000);
    cr_assert_eq(s.on_marginal, CN_STRATEGY_MARGINAL_RETRY);
    cr_assert_eq(s.retries, 10);
    cr_assert_eq(s.dry_run, true);
    cr_assert(s.triggers.has_error_rate);
    cr_assert(!s.triggers.error_rate.has_max);
    cr_assert_eq(s.triggers.error_rate.max_ratio, 1);
    cr_assert_eq(s.triggers.error_rate.min_rate, 0);
    cr_assert(s.triggers.has_p99_latency);
    cr_assert_eq(s.triggers.p99_latency.max, 0.5);
    cr_assert(!s.triggers.p99_latency.has_max_ratio);
    cr_assert(!s.triggers.has_prediction_shift);
    cr_assert_eq(s.triggers.level, 0.01);
    cr_assert_eq(cn_strategy_weight_at(&s, 1), 0, "a shadow step sets no weight");
    cn_strategy_dispose(&s);
}

Test(strategy_keys, a_shadow_percent_defaults_to_100)
{
    cn_strategy_t s;
    parse_ok("steps: [{shadow: {duration: 10m}}, {set_weight: 1}]\n", &s);
    cr_assert_eq(s.steps[0].shadow.percent_bp, 10000);
    cn_strategy_dispose(&s);
}

Test(strategy_keys, the_names_of_the_enumerations)
{
    cr_assert_str_eq(cn_strategy_marginal_name(CN_STRATEGY_MARGINAL_HOLD), "hold");
    cr_assert_str_eq(cn_strategy_marginal_name(CN_STRATEGY_MARGINAL_RETRY), "retry");
    cr_assert_str_eq(cn_strategy_marginal_name(CN_STRATEGY_MARGINAL_ROLLBACK),
                     "rollback");
    cr_assert_str_eq(cn_strategy_marginal_name((cn_strategy_marginal_t)7), "?");
    cr_assert_str_eq(cn_strategy_step_kind_name(CN_STRATEGY_SET_WEIGHT), "set_weight");
    cr_assert_str_eq(cn_strategy_step_kind_name(CN_STRATEGY_PAUSE), "pause");
    cr_assert_str_eq(cn_strategy_step_kind_name(CN_STRATEGY_ANALYSIS), "analysis");
    cr_assert_str_eq(cn_strategy_step_kind_name(CN_STRATEGY_SHADOW), "shadow");
    cr_assert_str_eq(cn_strategy_step_kind_name((cn_strategy_step_kind_t)0), "?");
}

/* ------------------------------------------------------------ errors */

typedef struct bad_s {
    const char *yaml;
    const char *message;
} bad_t;

#define S "strategy:\n"
#define W1 "    - set_weight: 1\n"

static const bad_t bad[] = {
    /* each key's bounds and type */
    {S "  warmup: 2h\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.warmup': must be a duration in [0ms, 1h], got '2h'"},
    {S "  progress_deadline: 500ms\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.progress_deadline': must be a duration in [1s, 24h], "
     "got '500ms'"},
    {S "  max_bake: 200h\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.max_bake': must be a duration in [1s, 168h], got '200h'"},
    {S "  on_marginal: wait\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.on_marginal': must be one of hold, retry, rollback, got "
     "'wait'"},
    {S "  retries: 11\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.retries': must be an integer in [0, 10], got '11'"},
    {S "  retries: '2'\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.retries': must be an integer in [0, 10], got the string "
     "'2'"},
    {S "  dry_run: yes\n"
       "  steps: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.dry_run': must be true or false, got 'yes'"},
    {S "  steps: []\n", "s.yaml:2: key 'strategy.steps': at least 1 item is required"},
    {S "  steps: {set_weight: 5}\n",
     "s.yaml:2: key 'strategy.steps': must be a list of steps (set_weight, pause, "
     "analysis, shadow), got a mapping"},
    {S "  steps:\n"
       "    - set_weight: 150\n",
     "s.yaml:3: key 'strategy.steps[0].set_weight': must be a percentage in [0, 100] "
     "with at most 2 decimals, got '150'"},
    {S "  steps:\n"
       "    - set_weight: 2.555\n",
     "s.yaml:3: key 'strategy.steps[0].set_weight': must be a percentage in [0, 100] "
     "with at most 2 decimals, got '2.555'"},
    {S "  steps:\n"
       "    - set_weight: 0\n",
     "s.yaml:3: key 'strategy.steps[0].set_weight': must be above 0: a step at 0% "
     "gives the canary nothing to judge (to stop a rollout, abort it)"},
    {S "  steps:\n" W1 "    - pause: 10m\n",
     "s.yaml:4: key 'strategy.steps[1].pause': must be a mapping of keys (duration), "
     "got '10m'"},
    {S "  steps:\n" W1 "    - pause: {duration: 500ms}\n",
     "s.yaml:4: key 'strategy.steps[1].pause.duration': must be a duration in [1s, "
     "24h], got '500ms'"},
    {S "  steps:\n" W1 "    - pause: {for: 10m}\n",
     "s.yaml:4: key 'strategy.steps[1].pause.for': unknown key (expected one of "
     "duration)"},
    {S "  steps:\n" W1 "    - wait: 10m\n",
     "s.yaml:4: key 'strategy.steps[1].wait': unknown key (expected one of "
     "set_weight, pause, analysis, shadow)"},
    {S "  steps:\n" W1 "    - {pause: {}, analysis: {}}\n",
     "s.yaml:4: key 'strategy.steps[1]': must be a mapping of exactly one of "
     "set_weight, pause, analysis, shadow, got several keys"},
    {S "  steps:\n" W1 "    - analysis: {looks: 3}\n",
     "s.yaml:4: key 'strategy.steps[1].analysis.looks': unknown key (expected one "
     "of metrics, min_samples, mode)"},
    {S "  steps:\n" W1 "    - analysis: {mode: eventually}\n",
     "s.yaml:4: key 'strategy.steps[1].analysis.mode': must be one of planned, "
     "anytime, got 'eventually'"},
    {S "  steps:\n"
       "    - shadow: {duration: 1m}\n"
       "    - analysis: {mode: anytime}\n" W1,
     "s.yaml:4: key 'strategy.steps[1].analysis.mode': anytime judges a set_weight "
     "window: a shadow window pairs both versions' answers to the same requests, "
     "which the anytime tests do not use; use mode planned here"},
    {S "  steps:\n" W1 "    - analysis: {metrics: latency_ms}\n",
     "s.yaml:4: key 'strategy.steps[1].analysis.metrics': must be a list of metric "
     "names of the analysis section, got 'latency_ms'"},
    {S "  steps:\n" W1 "    - analysis: {metrics: ['a b']}\n",
     "s.yaml:4: key 'strategy.steps[1].analysis.metrics[0]': must be a metric name of "
     "1 to 63 visible ASCII characters, got 'a b'"},
    {S "  steps:\n" W1 "    - analysis: {min_samples: 0}\n",
     "s.yaml:4: key 'strategy.steps[1].analysis.min_samples': must be an integer in "
     "[1, 1000000000], got '0'"},
    {S "  steps:\n"
       "    - shadow: {percent: 50}\n" W1,
     "s.yaml:3: key 'strategy.steps[0].shadow.duration': required: how long the "
     "canary answers shadow copies"},
    {S "  steps:\n"
       "    - shadow: {percent: 0, duration: 1m}\n" W1,
     "s.yaml:3: key 'strategy.steps[0].shadow.percent': must be above 0: a shadow "
     "step at 0% copies nothing"},
    /* triggers */
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    error_rate: {max: 1}\n",
     "s.yaml:4: key 'strategy.triggers.error_rate.max': must be in (0, 1), got "
     "'1'"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    error_rate: {max_ratio: 0.5}\n",
     "s.yaml:4: key 'strategy.triggers.error_rate.max_ratio': must be in [1, 1000], "
     "got '0.5'"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    error_rate: {min_rate: 0.01}\n",
     "s.yaml:4: key 'strategy.triggers.error_rate': needs a limit: max (absolute) "
     "and/or max_ratio (canary / stable)"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    p99_latency_ms: {max: 0}\n",
     "s.yaml:4: key 'strategy.triggers.p99_latency_ms.max': must be in (0, 3600000], "
     "got '0'"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    p99_latency_ms: {min_rate: 0.1, max: 5}\n",
     "s.yaml:4: key 'strategy.triggers.p99_latency_ms.min_rate': unknown key "
     "(expected one of max, max_ratio)"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    prediction_shift: {}\n",
     "s.yaml:4: key 'strategy.triggers.prediction_shift.max_statistic': required: "
     "fire when the predictions' KS distance is significantly above this"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    prediction_shift: {max_statistic: 1}\n",
     "s.yaml:4: key 'strategy.triggers.prediction_shift.max_statistic': must be in "
     "[0, 1), got '1'"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    level: 0.05\n",
     "s.yaml:4: key 'strategy.triggers.level': must be in (0, 0.01], got '0.05'"},
    {S "  steps: [{set_weight: 1}]\n"
       "  triggers:\n"
       "    latency: {max: 5}\n",
     "s.yaml:4: key 'strategy.triggers.latency': unknown key (expected one of "
     "error_rate, "
     "p99_latency_ms, prediction_shift, sequential, level)"},
    {S "  stepz: [{set_weight: 1}]\n",
     "s.yaml:2: key 'strategy.stepz': unknown key (expected one of warmup, "
     "progress_deadline, steps, max_bake, on_marginal, retries, dry_run, triggers, "
     "gates, parity)"},
    {"strategy: [1]\n",
     "s.yaml:1: key 'strategy': must be a mapping of keys (warmup, progress_deadline, "
     "steps, max_bake, on_marginal, retries, dry_run, triggers, gates, parity), got a "
     "list"},
    /* the rules between steps */
    {S "  steps:\n"
       "    - pause: {duration: 1m}\n",
     "s.yaml:2: key 'strategy.steps': no set_weight step: the canary would never get "
     "traffic to judge (add one, e.g. '- set_weight: 5')"},
    {S "  steps:\n"
       "    - set_weight: 5\n"
       "    - pause: {}\n"
       "    - set_weight: 5\n",
     "s.yaml:5: key 'strategy.steps[2].set_weight': must be above the previous "
     "set_weight (5% at line 3): weights only rise, so that no sticky user is sent "
     "back to stable and the last analysis runs at the highest weight"},
    {S "  steps:\n"
       "    - set_weight: 50\n"
       "    - set_weight: 2.5\n",
     "s.yaml:4: key 'strategy.steps[1].set_weight': must be above the previous "
     "set_weight (50% at line 3): weights only rise, so that no sticky user is sent "
     "back to stable and the last analysis runs at the highest weight"},
    {S "  steps:\n"
       "    - analysis: {}\n" W1,
     "s.yaml:3: key 'strategy.steps[0].analysis': nothing to judge yet: an analysis "
     "judges the window of the set_weight or shadow step before it"},
    {S "  steps:\n"
       "    - pause: {}\n"
       "    - analysis: {}\n" W1,
     "s.yaml:4: key 'strategy.steps[1].analysis': nothing to judge yet: an analysis "
     "judges the window of the set_weight or shadow step before it"},
    {S "  steps:\n" W1 "    - shadow: {duration: 1m}\n",
     "s.yaml:4: key 'strategy.steps[1].shadow': a shadow step must come before the "
     "first set_weight (line 3): once users get canary answers a shadow copy adds "
     "nothing"},
    /* a parity check needs two live arms */
    {S "  steps: [{set_weight: 1}]\n"
       "  parity: {weight: 100}\n",
     "s.yaml:3: key 'strategy.parity.weight': must be above 0 and below 100: a parity "
     "check compares two live arms of stable's version"},
    {S "  steps: [{set_weight: 1}]\n"
       "  parity: {duration: 25h}\n",
     "s.yaml:3: key 'strategy.parity.duration': must be a duration in [1s, 24h], got "
     "'25h'"},
    {S "  steps:\n" W1 "    - set_weight: 100\n"
       "    - pause: {duration: 10m}\n"
       "    - analysis: {}\n",
     "s.yaml:6: key 'strategy.steps[3].analysis': not allowed after set_weight 100 "
     "(line 4): at 100% there is no concurrent stable arm to compare with, and a past "
     "window is confounded by time of day, request mix and load; run the last "
     "analysis at the highest weight below 100"},
};

Test(strategy_errors, each_error_names_file_line_and_key)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_error(bad[i].yaml, bad[i].message);
}

Test(strategy_errors, the_example_from_the_brief_at_steps_7)
{
    /* The issue's example with one more analysis after 100%: steps[13]. */
    char text[4096];
    snprintf(text, sizeof text, "%s", issue_example);
    char *at = strstr(text, "  max_bake:");
    cr_assert_not_null(at);
    char tail[2048];
    snprintf(tail, sizeof tail, "%s", at);
    snprintf(at, sizeof text - (size_t)(at - text), "    - analysis: {}\n%s", tail);
    assert_error(text,
                 "s.yaml:18: key 'strategy.steps[13].analysis': not allowed after "
                 "set_weight 100 (line 16): at 100% there is no concurrent stable arm "
                 "to compare with, and a past window is confounded by time of day, "
                 "request mix and load; run the last analysis at the highest weight "
                 "below 100");
}

Test(strategy_errors, not_yaml_and_empty)
{
    cn_strategy_t s;
    char err[512];
    cr_assert_eq(parse("strategy: [\n", &s, err, sizeof err), CN_EPARSE);
    cr_assert(strncmp(err, "s.yaml:", 7) == 0, "%s", err);
    cr_assert_eq(parse("", &s, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "s.yaml:1: empty config: expected a strategy with steps");
    cn_strategy_dispose(&s);
}

Test(strategy_errors, too_many_steps)
{
    char text[8192] = "steps:\n";
    for (unsigned i = 1; i <= CN_STRATEGY_STEPS_MAX + 1; i++) {
        char line[40];
        snprintf(line, sizeof line, "  - set_weight: %u\n", i);
        strcat(text, line);
    }
    assert_error(text, "s.yaml:1: key 'steps': at most 64 steps, got 65");
}

/* ------------------------------------------------- built in code */

static void add_step(cn_strategy_t *s, cn_strategy_step_t st)
{
    s->steps = realloc(s->steps, (s->n_steps + 1) * sizeof *s->steps);
    cr_assert_not_null(s->steps);
    s->steps[s->n_steps++] = st;
}

Test(strategy_code, a_strategy_built_in_code_meets_the_same_rules)
{
    cn_strategy_t s;
    cn_strategy_init(&s);
    add_step(&s,
             (cn_strategy_step_t){.kind = CN_STRATEGY_SET_WEIGHT, .weight_bp = 500});
    add_step(&s, (cn_strategy_step_t){.kind = CN_STRATEGY_ANALYSIS});
    char err[512];
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), 0, "%s", err);
    add_step(&s,
             (cn_strategy_step_t){.kind = CN_STRATEGY_SET_WEIGHT, .weight_bp = 400});
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'steps[2].set_weight': must be above the previous "
                          "set_weight (5% at steps[0]): weights only rise, so that no "
                          "sticky user is sent back to stable and the last analysis "
                          "runs at the highest weight");
    s.steps[2].weight_bp = 20000;
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'steps[2].set_weight': must be a percentage in [0, "
                          "100] with at most 2 decimals, got '200'");
    s.steps[2].weight_bp = 10000;
    s.steps[2].line = 9;
    s.retries = 11;
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'retries': must be an integer in [0, 10], got '11'");
    s.retries = 0;
    add_step(&s, (cn_strategy_step_t){.kind = CN_STRATEGY_ANALYSIS, .line = 10});
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), CN_EINVAL);
    cr_assert(strncmp(err,
                      "key 'steps[3].analysis' (line 10): not allowed after set_weight "
                      "100 (line 9)",
                      70) == 0,
              "%s", err);
    cr_assert_eq(cn_strategy_validate(NULL, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "no strategy");
    cn_strategy_dispose(&s);
}

Test(strategy_code, a_set_trigger_without_a_limit_is_refused)
{
    cn_strategy_t s;
    parse_ok("steps: [{set_weight: 1}]\n", &s);
    s.triggers.has_p99_latency = 1;
    char err[512];
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'triggers.p99_latency_ms': needs a limit: max "
                          "(absolute) and/or max_ratio (canary / stable)");
    cn_strategy_dispose(&s);
}

/* ---------------------------------------------- effective config */

static char *emit(cn_strategy_t *s, cn_config_style_t style)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cn_config_part_t part = cn_strategy_config_part(s);
    cn_config_section_t sec = {"strategy", &part, 1};
    cr_assert_eq(cn_config_emit(f, style, &sec, 1), 0);
    fclose(f);
    return buf;
}

Test(strategy_emit, the_effective_strategy_reads_back_the_same)
{
    cn_strategy_t s;
    parse_ok(issue_example, &s);
    s.steps[1].line = 0;
    char *yaml = emit(&s, CN_CONFIG_YAML);
    cr_assert(strstr(yaml, "    - pause: {}\n"), "an empty pause is written {}:\n%s",
              yaml);
    cr_assert(strstr(yaml, "    - set_weight: 25\n"), "%s", yaml);
    cr_assert(strstr(yaml, "  on_marginal: \"hold\"\n"), "%s", yaml);
    cr_assert(strstr(yaml, "    level: 1e-07\n") || strstr(yaml, "    level: 1e-7\n"),
              "%s", yaml);
    cn_strategy_t back;
    parse_ok(yaml, &back);
    cr_assert_eq(back.n_steps, s.n_steps);
    for (size_t i = 0; i < s.n_steps; i++) {
        cr_assert_eq(back.steps[i].kind, s.steps[i].kind);
        cr_assert_eq(back.steps[i].weight_bp, s.steps[i].weight_bp);
        cr_assert_eq(back.steps[i].pause.has_duration, s.steps[i].pause.has_duration);
        cr_assert_eq(back.steps[i].pause.duration_ms, s.steps[i].pause.duration_ms);
    }
    cr_assert_eq(back.progress_deadline_ms, s.progress_deadline_ms);
    cr_assert_eq(back.triggers.error_rate.max_ratio, 3.0);
    cr_assert_eq(back.triggers.prediction_shift.max_statistic, 0.2);
    cr_assert_eq(back.triggers.has_p99_latency, 1);
    char *again = emit(&back, CN_CONFIG_YAML);
    cr_assert_str_eq(again, yaml, "a fixed point");
    free(again);
    free(yaml);
    cn_strategy_dispose(&back);
    cn_strategy_dispose(&s);
}

Test(strategy_emit, unset_triggers_are_not_written_and_json_is_one_object)
{
    cn_strategy_t s;
    parse_ok("steps:\n  - shadow: {duration: 1m}\n  - set_weight: 1\n"
             "  - analysis: {metrics: [error], min_samples: 100}\n",
             &s);
    char *json = emit(&s, CN_CONFIG_JSON);
    cr_assert(strstr(json, "\"shadow\": {\"percent\": 100, \"duration\": \"1m\"}") ||
                  strstr(json, "\"shadow\":{\"percent\":100,\"duration\":\"1m\"}"),
              "%s", json);
    cr_assert_null(strstr(json, "error_rate"), "%s", json);
    cr_assert(strstr(json, "\"level\""), "%s", json);
    free(json);
    char *yaml = emit(&s, CN_CONFIG_YAML);
    cn_strategy_t back;
    parse_ok(yaml, &back);
    cr_assert_eq(back.steps[2].analysis.min_samples, 100);
    cr_assert_str_eq(back.steps[2].analysis.metrics.items[0], "error");
    cr_assert_eq(back.steps[0].shadow.duration_ms, 60000);
    free(yaml);
    cn_strategy_dispose(&back);
    cn_strategy_dispose(&s);
}

/* ------------------------------------------- against analysis: */

/* Read a whole file's strategy and analysis sections, then run the check;
 * returns its code with the message in err. */
static int check_file(const char *text, char *err, size_t errlen)
{
    cn_yaml_t y;
    cn_yaml_init(&y, "f.yaml", err, errlen);
    struct fy_document *doc;
    cr_assert_eq(cn_yaml_load(&y, text, strlen(text), &doc), 0, "%s", err);
    cn_strategy_t s;
    cn_strategy_init(&s);
    bool present;
    cr_assert_eq(cn_strategy_read_section(&y, doc, &s, &present), 0, "%s", err);
    cr_assert(present);
    cn_judge_config_t a;
    cn_judge_config_init(&a);
    cr_assert_eq(cn_judge_config_read_section(&y, doc, &a), 0, "%s", err);
    int rc = cn_strategy_check_analysis(&y, doc, &s, &a, NULL);
    cn_judge_config_dispose(&a);
    cn_strategy_dispose(&s);
    cn_yaml_dispose(&y);
    return rc;
}

#define ANALYSIS                                                                       \
    "analysis:\n"                                                                      \
    "  metrics:\n"                                                                     \
    "    - {name: latency_ms, test: mann-whitney, margin: 5%}\n"                       \
    "    - {name: error, test: proportion, margin: 0.005}\n"

Test(strategy_analysis, a_strategy_and_its_analysis_agree)
{
    char err[512];
    int rc = check_file(ANALYSIS "strategy:\n  steps:\n    - set_weight: 5\n"
                                 "    - analysis: {metrics: [error]}\n",
                        err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
}

Test(strategy_analysis, looks_next_to_a_strategy_is_an_error)
{
    char err[512];
    int rc = check_file("analysis:\n  looks: 3\n"
                        "  metrics: [{name: error, test: proportion, margin: 0.01}]\n"
                        "strategy:\n  steps: [{set_weight: 5}, {analysis: {}},\n"
                        "          {set_weight: 10}, {analysis: {}}]\n",
                        err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert_str_eq(err, "f.yaml:2: key 'analysis.looks': not used with a strategy: "
                          "each of its 2 analysis steps is one look, and the error "
                          "budget is spent over them; remove looks");
    /* Even looks: 1, which is the default, is refused when written. */
    rc = check_file("analysis:\n  looks: 1\n"
                    "  metrics: [{name: error, test: proportion, margin: 0.01}]\n"
                    "strategy:\n  steps: [{set_weight: 5}]\n",
                    err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert(strncmp(err, "f.yaml:2: key 'analysis.looks': not used", 40) == 0, "%s",
              err);
}

Test(strategy_analysis, looks_in_a_spec_built_in_code)
{
    cn_strategy_t s;
    parse_ok("steps: [{set_weight: 5}]\n", &s);
    cn_judge_config_t a;
    cn_judge_config_init(&a);
    a.looks = 4;
    char err[512];
    cn_yaml_t y;
    cn_yaml_init(&y, "code", err, sizeof err);
    cr_assert_eq(cn_strategy_check_analysis(&y, NULL, &s, &a, NULL), CN_EINVAL);
    cr_assert_str_eq(err, "code: key 'analysis.looks': not used with a strategy: each "
                          "of its 0 analysis steps is one look, and the error budget "
                          "is spent over them; remove looks");
    a.looks = 1;
    cr_assert_eq(cn_strategy_check_analysis(&y, NULL, &s, &a, NULL), 0);
    cn_yaml_dispose(&y);
    cn_judge_config_dispose(&a);
    cn_strategy_dispose(&s);
}

Test(strategy_analysis, an_override_must_name_a_metric_of_the_section)
{
    char err[512];
    int rc = check_file(ANALYSIS "strategy:\n  steps:\n    - set_weight: 5\n"
                                 "    - analysis: {metrics: [error, latency]}\n",
                        err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert_str_eq(err, "f.yaml:8: key 'strategy.steps[1].analysis.metrics[1]': no "
                          "metric 'latency' in the analysis section (it has "
                          "latency_ms, error)");
}

/* canary serve measures latency_ms, error and prediction; a metric it
 * does not measure would be "no data" forever, so it is refused. */
Test(strategy_analysis, only_what_the_router_measures_can_be_judged)
{
    char err[512];
    int rc = check_file("analysis:\n  metrics:\n"
                        "    - {name: latency_ms, test: mann-whitney, margin: 5%}\n"
                        "    - {name: clicks, test: proportion, margin: 0.01}\n"
                        "strategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\n",
                        err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert_str_eq(err,
                     "f.yaml:4: key 'analysis.metrics[1].name': 'clicks' is neither "
                     "measured by canary serve (latency_ms, error, prediction) nor "
                     "fed (feedback.metrics; a label metric also gives accuracy, "
                     "log_loss, brier and auc)");
    /* a threshold's source is what counts */
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: p99, test: threshold, source: ttfb_ms, max: 100}\n"
                    "strategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\n",
                    err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert(strstr(err, "key 'analysis.metrics[0].source': 'ttfb_ms' is neither") !=
                  NULL,
              "%s", err);
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: p99, test: threshold, source: latency_ms, max: 100}\n"
                    "strategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\n",
                    err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
}

Test(strategy_analysis, errors_are_counted_whole_so_only_a_proportion_judges_them)
{
    char err[512];
    int rc = check_file("analysis:\n  metrics:\n"
                        "    - {name: error, test: mann-whitney, margin: 0.01}\n"
                        "strategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\n",
                        err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert_str_eq(err,
                     "f.yaml:3: key 'analysis.metrics[0].name': 'error' is counted "
                     "whole by the router: judge it with test proportion");
}

Test(strategy_analysis, an_agreement_metric_needs_a_shadow_step)
{
    char err[512];
    const char *metric = "analysis:\n  metrics:\n"
                         "    - {name: cls, test: agreement, source: prediction}\n";
    char text[512];
    snprintf(text, sizeof text,
             "%sstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\n", metric);
    cr_assert_eq(check_file(text, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "f.yaml:3: key 'analysis.metrics[0].source': 'prediction' is "
                          "judged by an agreement test, which compares both versions' "
                          "answers to the same requests: it needs a shadow step");
    snprintf(text, sizeof text,
             "%sstrategy:\n  steps: [{shadow: {duration: 1m}}, {analysis: {}},\n"
             "          {set_weight: 5}]\n",
             metric);
    cr_assert_eq(check_file(text, err, sizeof err), 0, "%s", err);
}

/* ------------------------------------------- triggers.sequential */

#define SEQ_ANALYSIS                                                                   \
    "analysis:\n"                                                                      \
    "  metrics:\n"                                                                     \
    "    - {name: latency_ms, test: mann-whitney, margin: 5%}\n"                       \
    "    - {name: error, test: proportion, margin: 0.005}\n"                           \
    "    - {name: prediction, test: ks, max_statistic: 0.1}\n"

Test(strategy_sequential, the_issue_example_reads_and_takes_the_analysis_margins)
{
    char err[512];
    const char *text =
        SEQ_ANALYSIS "strategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\n"
                     "  triggers:\n    sequential:\n      alpha: 0.01\n"
                     "      metrics: [error, latency_ms, prediction]\n";
    cr_assert_eq(check_file(text, err, sizeof err), 0, "%s", err);
    cn_yaml_t y;
    cn_yaml_init(&y, "f.yaml", err, sizeof err);
    struct fy_document *doc;
    cr_assert_eq(cn_yaml_load(&y, text, strlen(text), &doc), 0);
    cn_strategy_t s;
    cn_strategy_init(&s);
    bool present;
    cr_assert_eq(cn_strategy_read_section(&y, doc, &s, &present), 0, "%s", err);
    cn_judge_config_t a;
    cn_judge_config_init(&a);
    cr_assert_eq(cn_judge_config_read_section(&y, doc, &a), 0, "%s", err);
    cr_assert(s.triggers.has_sequential);
    cn_seq_config_t sc;
    size_t bad_at;
    char what[300];
    cr_assert_eq(cn_strategy_sequential_config(&s, &a, &sc, &bad_at, what, sizeof what),
                 0, "%s", what);
    cr_assert_eq(sc.n_metrics, 3);
    cr_assert_float_eq(sc.alpha, 0.01, 1e-15);
    cr_assert_eq(sc.metrics[0].kind, CN_SEQ_ERROR);
    cr_assert_float_eq(sc.metrics[0].margin, 0.005, 1e-15);
    cr_assert_eq(sc.metrics[0].margin_kind, CN_MARGIN_ABSOLUTE);
    cr_assert_eq(sc.metrics[1].kind, CN_SEQ_LATENCY);
    cr_assert_float_eq(sc.metrics[1].margin, 0.05, 1e-15);
    cr_assert_eq(sc.metrics[1].margin_kind, CN_MARGIN_RELATIVE);
    cr_assert_eq(sc.metrics[2].kind, CN_SEQ_PREDICTION);
    cr_assert_float_eq(sc.metrics[2].max_statistic, 0.1, 1e-15);
    cr_assert_eq(cn_seq_config_check(&sc, what, sizeof what), 0, "%s", what);
    cn_judge_config_dispose(&a);
    cn_strategy_dispose(&s);
    cn_yaml_dispose(&y);
}

Test(strategy_sequential, an_unknown_metric_or_one_without_its_margin_is_refused)
{
    char err[512];
    assert_error(
        "steps: [{set_weight: 5}]\ntriggers:\n  sequential: {metrics: [clicks]}\n",
        "s.yaml:3: key 'triggers.sequential.metrics[0]': must be one of error, "
        "latency_ms, prediction, got 'clicks'");
    assert_error("steps: [{set_weight: 5}]\ntriggers:\n  sequential: {metrics: [error, "
                 "error]}\n",
                 "s.yaml:3: key 'triggers.sequential.metrics[1]': duplicate value "
                 "'error'");
    int rc;
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: prediction, test: mann-whitney, margin: 0.1}\n"
                    "strategy:\n  steps: [{set_weight: 5}]\n"
                    "  triggers:\n    sequential: {metrics: [prediction]}\n",
                    err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert_str_eq(err,
                     "f.yaml:7: key 'strategy.triggers.sequential.metrics[0]': "
                     "'prediction' is judged by test mann-whitney in the analysis "
                     "section; the sequential trigger needs ks (its max_statistic)");
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: error, test: proportion, margin: 0.01}\n"
                    "strategy:\n  steps: [{set_weight: 5}]\n"
                    "  triggers:\n    sequential: {metrics: [latency_ms]}\n",
                    err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert(strstr(err, "'latency_ms' needs a metric of that name in the analysis "
                          "section") != NULL,
              "%s", err);
    /* a max_statistic the trigger cannot test (0 or 1) is refused with the
     * config, not found at start (which turned the triggers off) */
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: prediction, test: ks, max_statistic: 0}\n"
                    "strategy:\n  steps: [{set_weight: 5}]\n"
                    "  triggers:\n    sequential: {metrics: [prediction]}\n",
                    err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL, "%s", err);
    cr_assert(strstr(err,
                     "'prediction': the sequential trigger needs a max_statistic in "
                     "(0, 1) in the analysis section, got 0") != NULL,
              "%s", err);
}

/* ------------------------------------------------ analysis: {mode: anytime} */

Test(strategy_anytime, mode_reads_defaults_to_planned_and_takes_the_section_margins)
{
    char err[512];
    int rc = check_file(ANALYSIS "strategy:\n  steps:\n    - set_weight: 5\n"
                                 "    - pause: {duration: 10m}\n"
                                 "    - analysis: {mode: anytime}\n"
                                 "    - set_weight: 50\n"
                                 "    - analysis: {}\n",
                        err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(cn_strategy_mode_name(CN_STRATEGY_ANYTIME), "anytime");
    cr_assert_str_eq(cn_strategy_mode_name(CN_STRATEGY_PLANNED), "planned");
    cr_assert_str_eq(cn_strategy_mode_name((cn_strategy_mode_t)7), "?");
    cn_strategy_t s;
    cn_strategy_init(&s);
    add_step(&s,
             (cn_strategy_step_t){.kind = CN_STRATEGY_SET_WEIGHT, .weight_bp = 500});
    add_step(&s, (cn_strategy_step_t){.kind = CN_STRATEGY_ANALYSIS,
                                      .analysis.mode = CN_STRATEGY_ANYTIME});
    cr_assert_eq(cn_strategy_validate(&s, err, sizeof err), 0, "%s", err);
    cn_judge_config_t a;
    cn_judge_config_init(&a);
    a.n_metrics = 2;
    a.metrics = calloc(2, sizeof *a.metrics);
    a.metrics[0] = (cn_judge_metric_t){.name = "latency_ms",
                                       .test = CN_JTEST_MWU,
                                       .margin = 0.05,
                                       .margin_kind = CN_MARGIN_RELATIVE};
    a.metrics[1] = (cn_judge_metric_t){.name = "error",
                                       .test = CN_JTEST_PROPORTION,
                                       .margin = 0.005,
                                       .margin_kind = CN_MARGIN_ABSOLUTE};
    cn_seq_config_t sc;
    cr_assert_eq(cn_strategy_anytime_config(&s, 1, &a, &sc, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(sc.n_metrics, 2);
    cr_assert_eq(sc.metrics[0].kind, CN_SEQ_LATENCY);
    cr_assert_eq(sc.metrics[0].margin, 0.05);
    cr_assert_eq(sc.metrics[1].kind, CN_SEQ_ERROR);
    cr_assert_eq(sc.metrics[1].margin_kind, CN_MARGIN_ABSOLUTE);
    cr_assert_eq(cn_strategy_anytime_config(&s, 0, &a, &sc, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "step 0 is not an analysis");
    free(a.metrics);
    a.metrics = NULL;
    a.n_metrics = 0;
    cn_judge_config_dispose(&a);
    cn_strategy_dispose(&s);
}

Test(strategy_anytime, every_metric_of_the_step_needs_an_anytime_test)
{
    char err[512];
    int rc = check_file("analysis:\n  metrics:\n"
                        "    - {name: latency_ms, test: mann-whitney, margin: 5%}\n"
                        "    - {name: error, test: proportion, margin: 0.005}\n"
                        "    - {name: p_latency, test: threshold, source: latency_ms, "
                        "max: 100}\n"
                        "strategy:\n  steps:\n    - set_weight: 5\n"
                        "    - analysis: {mode: anytime}\n",
                        err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert_str_eq(err, "f.yaml:9: key 'strategy.steps[1].analysis.mode': anytime "
                          "needs an anytime test for every metric of the step: "
                          "'p_latency' has no anytime test (an anytime analysis knows "
                          "error, latency_ms and prediction)");
    /* naming the metrics that have one is the way out */
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: latency_ms, test: mann-whitney, margin: 5%}\n"
                    "    - {name: error, test: proportion, margin: 0.005}\n"
                    "    - {name: p_latency, test: threshold, source: latency_ms, "
                    "max: 100}\n"
                    "strategy:\n  steps:\n    - set_weight: 5\n"
                    "    - analysis: {mode: anytime, metrics: [error, latency_ms]}\n",
                    err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    rc = check_file("analysis:\n  metrics:\n"
                    "    - {name: prediction, test: psi, max_psi: 0.2}\n"
                    "strategy:\n  steps:\n    - set_weight: 5\n"
                    "    - analysis: {mode: anytime}\n",
                    err, sizeof err);
    cr_assert_eq(rc, CN_EINVAL);
    cr_assert(strstr(err, "f.yaml:7: key 'strategy.steps[1].analysis.mode': anytime "
                          "needs an anytime test for every metric of the step: "
                          "'prediction' is judged by test psi in the analysis section; "
                          "an anytime analysis needs ks (its max_statistic)") == err,
              "%s", err);
}
