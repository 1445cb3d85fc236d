/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout strategy: the `strategy:` section of a config file, read by
 * the config engine (util/config.h) from one key table, so that its
 * defaults, its `file:line: key 'strategy.steps[7].analysis': ...`
 * messages, the check of a strategy built in code and the effective
 * configuration that `canary config check` prints all come from one place.
 *
 *     strategy:
 *       warmup: 30s
 *       progress_deadline: 10m
 *       steps:
 *         - shadow: {percent: 100, duration: 10m}   # only before set_weight
 *         - set_weight: 1
 *         - pause: {duration: 10m}
 *         - analysis: {}
 *         - set_weight: 50
 *         - pause: {}                               # until `promote`
 *       max_bake: 1h
 *       on_marginal: hold                           # hold | retry | rollback
 *       retries: 2
 *       dry_run: false
 *       triggers:
 *         error_rate: {max: 0.05, max_ratio: 3.0, min_rate: 0.001}
 *         p99_latency_ms: {max: 500, max_ratio: 2.0}
 *         prediction_shift: {max_statistic: 0.2}
 *         level: 1e-7
 *
 * The rules that need more than one key, and why (docs/STRATEGY.md maps
 * every key to Argo Rollouts and Flagger):
 *  - at least one set_weight: a strategy that never gives the canary
 *    traffic can never judge it;
 *  - the weights rise strictly: a sticky user's cohort only grows (a lower
 *    weight would send users back to stable and then forth again), and the
 *    last analysis, which must pass, runs at the highest weight below 100,
 *    where it has the most data;
 *  - an analysis needs a window: it follows a set_weight or a shadow step;
 *  - no analysis after set_weight 100: there is no concurrent stable arm,
 *    and a past window is confounded by time of day, request mix and load;
 *  - shadow steps only before the first set_weight.
 * A strategy may end below 100 (as Flagger's maxWeight): the rollout then
 * promotes from its last weight.
 *
 * Pure: no I/O, no global state. The strategy owns its strings and steps;
 * cn_strategy_dispose() frees them.
 */
#ifndef CN_CONTROLLER_STRATEGY_H
#define CN_CONTROLLER_STRATEGY_H

#include "feedback/config.h"
#include "judge/judge.h"
#include "util/config.h"
#include "util/yaml.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fy_document;

/* Most steps in a strategy. */
#define CN_STRATEGY_STEPS_MAX 64u

typedef enum cn_strategy_step_kind_e {
    CN_STRATEGY_SET_WEIGHT = 1, /* `set_weight: 5` */
    CN_STRATEGY_PAUSE = 2,      /* `pause: {duration: 10m}` or `pause: {}` */
    CN_STRATEGY_ANALYSIS = 3,   /* `analysis: {}` */
    CN_STRATEGY_SHADOW = 4,     /* `shadow: {percent: 100, duration: 10m}` */
} cn_strategy_step_kind_t;

/* "set_weight", "pause", "analysis", "shadow"; "?" otherwise. */
const char *cn_strategy_step_kind_name(cn_strategy_step_kind_t kind);

typedef enum cn_strategy_marginal_e {
    CN_STRATEGY_MARGINAL_HOLD = 0,     /* wait for a person */
    CN_STRATEGY_MARGINAL_RETRY = 1,    /* analyse again, up to `retries` */
    CN_STRATEGY_MARGINAL_ROLLBACK = 2, /* treat as a failure */
} cn_strategy_marginal_t;

/* "hold", "retry", "rollback"; "?" otherwise. */
const char *cn_strategy_marginal_name(cn_strategy_marginal_t m);

typedef struct cn_strategy_pause_s {
    uint64_t duration_ms; /* [1s, 24h] when has_duration */
    int has_duration;     /* 0: `pause: {}`, ends on a person's promote */
} cn_strategy_pause_t;

/* How an analysis step looks at its window: once at the end of the
 * pause before it (planned, the default), or every second with the
 * anytime-valid tests (anytime: it may end the bake early once
 * non-inferiority is shown, and rolls back once harm is; JUDGE.md). */
typedef enum cn_strategy_mode_e {
    CN_STRATEGY_PLANNED = 0,
    CN_STRATEGY_ANYTIME = 1,
} cn_strategy_mode_t;

/* "planned", "anytime"; "?" otherwise. */
const char *cn_strategy_mode_name(cn_strategy_mode_t m);

/* What an analysis step may change of the `analysis:` section; what is
 * unset takes the section's value. */
typedef struct cn_strategy_analysis_s {
    cn_config_strv_t metrics; /* names of the section's metrics to judge at
                                 this step; empty: all of them */
    uint64_t min_samples;     /* per arm, the last analysis's floor;
                                 0: auto (the judge derives it) */
    int mode;                 /* cn_strategy_mode_t; default planned */
} cn_strategy_analysis_t;

typedef struct cn_strategy_shadow_s {
    uint16_t percent_bp;  /* share of requests copied; default 10000 */
    uint64_t duration_ms; /* required, [1s, 24h] */
} cn_strategy_shadow_t;

/* One step: `kind` says which of the fields below holds it. */
typedef struct cn_strategy_step_s {
    int kind;                        /* cn_strategy_step_kind_t */
    int line;                        /* in the config file; 0 if built in code */
    uint16_t weight_bp;              /* SET_WEIGHT: (0, 10000] */
    cn_strategy_pause_t pause;       /* PAUSE */
    cn_strategy_analysis_t analysis; /* ANALYSIS */
    cn_strategy_shadow_t shadow;     /* SHADOW */
} cn_strategy_step_t;

/* error_rate and p99_latency_ms: an absolute limit and/or a ratio to
 * stable. */
typedef struct cn_strategy_limit_s {
    double max; /* error_rate: a rate in (0, 1); p99_latency_ms: ms */
    int has_max;
    double max_ratio; /* canary / stable, in [1, 1000] */
    int has_max_ratio;
    double min_rate; /* error_rate only: the ratio check fires only when
                        the canary's rate is also significantly above
                        this; default 0.001 */
} cn_strategy_limit_t;

typedef struct cn_strategy_shift_s {
    double max_statistic; /* KS distance D of predictions, [0, 1) */
} cn_strategy_shift_t;

/* The anytime-valid sequential triggers (sequential.h). */
typedef struct cn_strategy_sequential_s {
    double alpha;             /* all of them, whole rollout; default 0.01 */
    cn_config_strv_t metrics; /* 1 to 3 of error, latency_ms, prediction */
} cn_strategy_sequential_t;

typedef struct cn_strategy_triggers_s {
    cn_strategy_sequential_t sequential;
    int has_sequential;
    cn_strategy_limit_t error_rate;
    int has_error_rate;
    cn_strategy_limit_t p99_latency;
    int has_p99_latency;
    cn_strategy_shift_t prediction_shift;
    int has_prediction_shift;
    double level; /* per-check significance level; default 1e-7 */
} cn_strategy_triggers_t;

/* A gate hook (docs/NOTIFY.md): a URL POSTed before a weight increase or
 * before the promotion; a 2xx lets the rollout go on, anything else (or
 * no answer within timeout) holds it, and it is asked again every
 * gates.interval until it says yes or a person acts. */
typedef struct cn_strategy_gate_s {
    char *url;           /* required: http:// or https:// */
    uint64_t timeout_ms; /* default 5s; [100ms, 5m] */
} cn_strategy_gate_t;

typedef struct cn_strategy_gates_s {
    cn_strategy_gate_t traffic; /* confirm_traffic_increase */
    int has_traffic;
    cn_strategy_gate_t promotion; /* confirm_promotion */
    int has_promotion;
    uint64_t interval_ms; /* asked again while held; default 10s */
} cn_strategy_gates_t;

/* The parity (A/A) check (controller/parity.h): stable's own version as
 * the canary arm at `weight` for `duration`, then one analysis. */
typedef struct cn_strategy_parity_s {
    uint16_t weight_bp;   /* default 50%; (0, 100) */
    uint64_t duration_ms; /* default 10m; [1s, 24h] */
} cn_strategy_parity_t;

typedef struct cn_strategy_s {
    uint64_t warmup_ms;            /* default 30s; [0, 1h] */
    uint64_t progress_deadline_ms; /* default 10m; [1s, 24h] */
    cn_strategy_step_t *steps;
    size_t n_steps;
    uint64_t max_bake_ms; /* default 1h; [1s, 7 days] */
    int on_marginal;      /* cn_strategy_marginal_t; default hold */
    unsigned retries;     /* default 2; [0, 10] */
    bool dry_run;         /* default false */
    cn_strategy_triggers_t triggers;
    cn_strategy_gates_t gates;
    cn_strategy_parity_t parity;
} cn_strategy_t;

/* The key table (util/config.h), whose keys are relative to the section
 * ("warmup", "steps", "triggers.level"). Static. */
const cn_config_table_t *cn_strategy_config_table(void);

/* The part to read or emit s with (cn_config_read, cn_config_emit). */
cn_config_part_t cn_strategy_config_part(cn_strategy_t *s);

/* Every default; no steps (which is not yet a valid strategy). */
void cn_strategy_init(cn_strategy_t *s);

/* Free what s owns and zero it. Twice is harmless; NULL is a no-op. */
void cn_strategy_dispose(cn_strategy_t *s);

/*
 * Read the `strategy:` section of a loaded document into *s (initialised
 * by the caller), with key paths starting "strategy.". Sets *present to
 * whether the document has the section (when it has not, *s is
 * untouched and 0 is returned). A document without a root mapping has no
 * section. Returns 0, or CN_EINVAL after reporting through y
 * ("FILE:LINE: key 'strategy.steps[3].set_weight': ..."); *s may then be
 * partly filled (dispose it).
 */
int cn_strategy_read_section(cn_yaml_t *y, struct fy_document *doc, cn_strategy_t *s,
                             bool *present);

/*
 * Parse len bytes of YAML into *out (initialised here): the `strategy:`
 * section if the root mapping has one, else the root mapping itself.
 * Returns 0, CN_EPARSE or CN_EINVAL with one line in err, and then leaves
 * *out initialised with no steps.
 */
int cn_strategy_parse(const char *text, size_t len, const char *filename,
                      cn_strategy_t *out, char *err, size_t errlen);

/*
 * Check a strategy built (or changed) in code against the table and the
 * cross-field rules. Returns 0, or CN_EINVAL with one line in err:
 *     key 'steps[2].set_weight' (line 7): must be above ...
 */
int cn_strategy_validate(const cn_strategy_t *s, char *err, size_t errlen);

/*
 * The checks of a strategy against the `analysis:` section it judges
 * with, for the composition root once both are read:
 *  - the section must not set `looks`: with a strategy, each analysis
 *    step is one look (cn_strategy_analysis_count());
 *  - every metric an analysis step names must be one of the section's;
 *  - what canary serve can judge (measured metrics, errors as proportion,
 *    agreement after a shadow step);
 *  - each `triggers.sequential` metric must be in the section with a
 *    test that gives its margin (cn_strategy_sequential_config).
 * doc is the document both came from (for the line of `analysis.looks`;
 * may be NULL for a spec built in code, and then any looks other than 1
 * is refused). Reports through y as "FILE:LINE: key 'analysis.looks':
 * ..." or "FILE:LINE: key 'strategy.steps[2].analysis.metrics': ...".
 * Returns 0 or CN_EINVAL.
 */
/*
 * The sequential triggers' config from the strategy's
 * `triggers.sequential` and the margins of the analysis section: error
 * needs a `proportion` metric named error (its margin, absolute or
 * relative), latency_ms a mann-whitney, welch or bootstrap metric
 * (its margin; an absolute one in ms), prediction a `ks` metric (its
 * max_statistic). On a problem, CN_EINVAL with *bad the index of the
 * metrics entry and a message in what. s must have has_sequential.
 */
struct cn_seq_config_s;
int cn_strategy_sequential_config(const cn_strategy_t *s, const cn_judge_config_t *a,
                                  struct cn_seq_config_s *out, size_t *bad, char *what,
                                  size_t len);

int cn_strategy_check_analysis(cn_yaml_t *y, struct fy_document *doc,
                               const cn_strategy_t *s, const cn_judge_config_t *a,
                               const cn_feedback_config_t *fed_cfg);

/*
 * The anytime tests of the analysis at steps[index] (mode anytime): the
 * step's metrics (all of the section's when it names none), each needing
 * an anytime test as the sequential triggers do (error: proportion;
 * latency_ms: mann-whitney, welch or bootstrap; prediction: ks), and an
 * absolute error margin below 1. out->alpha is left 0 (the driver sets
 * each family's level). CN_EINVAL with a message in what otherwise.
 */
int cn_strategy_anytime_config(const cn_strategy_t *s, size_t index,
                               const cn_judge_config_t *a, struct cn_seq_config_s *out,
                               char *what, size_t len);

/* The number J of analysis steps. */
unsigned cn_strategy_analysis_count(const cn_strategy_t *s);

/* The 1-based rank j of the analysis at steps[index] among the analysis
 * steps, or 0 when that step is not an analysis. */
unsigned cn_strategy_analysis_rank(const cn_strategy_t *s, size_t index);

/* The weight in effect once steps[0..index] have run (0 before the first
 * set_weight); a shadow step does not count. */
uint16_t cn_strategy_weight_at(const cn_strategy_t *s, size_t index);

#endif
