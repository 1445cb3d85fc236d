/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout strategy's key tables and cross-field rules (strategy.h).
 *
 * Steps are one-of items (CN_CONFIG_ONEOF_LIST): `- set_weight: 5` is a
 * percentage in basis points like every weight of the serve config, and
 * `pause`, `analysis` and `shadow` are records, so that `pause: {}` (until
 * a person promotes) and `pause: {duration: 10m}` read the way Argo
 * Rollouts writes them. The rules between steps run as the table's check,
 * after the whole section is read, and name the step that breaks them with
 * its line.
 */
#include "controller/sequential.h"
#include "controller/strategy.h"
#include "judge/judge.h"
#include "util/config.h"
#include "util/error.h"
#include "util/text.h"
#include "util/units.h"
#include "util/yaml.h"

#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define QUOTE_BUF CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)

static const cn_config_name_t marginal_names[] = {
    {"hold", CN_STRATEGY_MARGINAL_HOLD},
    {"retry", CN_STRATEGY_MARGINAL_RETRY},
    {"rollback", CN_STRATEGY_MARGINAL_ROLLBACK},
    {NULL, 0},
};

const char *cn_strategy_marginal_name(cn_strategy_marginal_t m)
{
    const char *name = cn_config_name_of(marginal_names, (int)m);
    return name ? name : "?";
}

const char *cn_strategy_step_kind_name(cn_strategy_step_kind_t kind)
{
    switch (kind) {
    case CN_STRATEGY_SET_WEIGHT:
        return "set_weight";
    case CN_STRATEGY_PAUSE:
        return "pause";
    case CN_STRATEGY_ANALYSIS:
        return "analysis";
    case CN_STRATEGY_SHADOW:
        return "shadow";
    }
    return "?";
}

/* ------------------------------------------------------------- steps */

static const cn_config_key_t pause_keys[] = {
    {.key = "duration",
     .type = CN_CONFIG_DURATION,
     .lo = CN_UNITS_SECOND_MS,
     .hi = 24 * CN_UNITS_HOUR_MS,
     .set_at = CN_CONFIG_AT(cn_strategy_pause_t, has_duration),
     .help = "bake at least this long; unset: until a person promotes",
     .offset = offsetof(cn_strategy_pause_t, duration_ms),
     .width = sizeof(uint64_t)},
};

static const cn_config_table_t pause_table = {
    .keys = pause_keys,
    .n_keys = COUNT(pause_keys),
    .size = sizeof(cn_strategy_pause_t),
};

/* A metric name as the analysis section spells it: what the judge's CSV
 * and the router's built-in metrics use. The check against the section's
 * names is cn_strategy_check_analysis(). */
#define METRICS_WANT "a list of metric names of the analysis section"

static int check_metric_name(const char *text, char *what, size_t len)
{
    size_t n = strlen(text);
    bool ok = n >= 1 && n <= 63;
    for (size_t i = 0; ok && i < n; i++)
        ok = text[i] > 0x20 && text[i] < 0x7f;
    if (ok)
        return 0;
    char q[QUOTE_BUF];
    snprintf(what, len,
             "must be a metric name of 1 to 63 visible ASCII characters, got '%s'",
             cn_text_quote(text, n, CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

static const cn_config_name_t mode_names[] = {
    {"planned", CN_STRATEGY_PLANNED},
    {"anytime", CN_STRATEGY_ANYTIME},
    {NULL, 0},
};

const char *cn_strategy_mode_name(cn_strategy_mode_t m)
{
    const char *name = cn_config_name_of(mode_names, (int)m);
    return name ? name : "?";
}

static const cn_config_key_t analysis_keys[] = {
    {.key = "metrics",
     .type = CN_CONFIG_ADDRESS_LIST,
     .lo = 0,
     .hi = 64,
     .check = check_metric_name,
     .want = METRICS_WANT,
     .help = "judge only these metrics of the analysis section; empty: all",
     .offset = offsetof(cn_strategy_analysis_t, metrics),
     .width = sizeof(cn_config_strv_t)},
    {.key = "min_samples",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = 1000000000,
     .opts = CN_CONFIG_ZERO_UNSETS,
     .help = "samples per arm the last analysis waits for; unset: derived",
     .offset = offsetof(cn_strategy_analysis_t, min_samples),
     .width = sizeof(uint64_t)},
    {.key = "mode",
     .type = CN_CONFIG_ENUM,
     .names = mode_names,
     .default_text = "planned",
     .help = "planned: one look at the end of the bake; anytime: every second, "
             "ending early once non-inferiority is shown",
     .offset = offsetof(cn_strategy_analysis_t, mode),
     .width = sizeof(int)},
};

static const cn_config_table_t analysis_table = {
    .keys = analysis_keys,
    .n_keys = COUNT(analysis_keys),
    .size = sizeof(cn_strategy_analysis_t),
};

static const cn_config_key_t shadow_keys[] = {
    {.key = "percent",
     .type = CN_CONFIG_PERCENT,
     .default_text = "100",
     .help = "share of requests copied to the canary",
     .offset = offsetof(cn_strategy_shadow_t, percent_bp),
     .width = sizeof(uint16_t)},
    {.key = "duration",
     .type = CN_CONFIG_DURATION,
     .lo = CN_UNITS_SECOND_MS,
     .hi = 24 * CN_UNITS_HOUR_MS,
     .opts = CN_CONFIG_REQUIRED,
     .help = "how long the canary answers shadow copies",
     .offset = offsetof(cn_strategy_shadow_t, duration_ms),
     .width = sizeof(uint64_t)},
};

static int shadow_check(const void *record, char *path, size_t pathlen, int *line,
                        char *what, size_t len)
{
    const cn_strategy_shadow_t *s = record;
    (void)line;
    if (s->duration_ms == 0) {
        snprintf(path, pathlen, "duration");
        snprintf(what, len, "required: how long the canary answers shadow copies");
        return CN_EINVAL;
    }
    if (s->percent_bp == 0) {
        snprintf(path, pathlen, "percent");
        snprintf(what, len, "must be above 0: a shadow step at 0%% copies nothing");
        return CN_EINVAL;
    }
    return 0;
}

static const cn_config_table_t shadow_table = {
    .keys = shadow_keys,
    .n_keys = COUNT(shadow_keys),
    .size = sizeof(cn_strategy_shadow_t),
    .check = shadow_check,
};

#define STEP(f)                                                                        \
    .offset = offsetof(cn_strategy_step_t, f),                                         \
    .width = sizeof(((cn_strategy_step_t *)0)->f)

static const cn_config_key_t step_keys[] = {
    {.key = "set_weight",
     .type = CN_CONFIG_PERCENT,
     .tag = CN_STRATEGY_SET_WEIGHT,
     .help = "the canary's share of requests from this step on",
     STEP(weight_bp)},
    {.key = "pause",
     .type = CN_CONFIG_RECORD,
     .table = &pause_table,
     .tag = CN_STRATEGY_PAUSE,
     .help = "bake for a duration, or until a person promotes",
     STEP(pause)},
    {.key = "analysis",
     .type = CN_CONFIG_RECORD,
     .table = &analysis_table,
     .tag = CN_STRATEGY_ANALYSIS,
     .help = "judge the window of the last set_weight or shadow step",
     STEP(analysis)},
    {.key = "shadow",
     .type = CN_CONFIG_RECORD,
     .table = &shadow_table,
     .tag = CN_STRATEGY_SHADOW,
     .help = "copy requests to the canary, answer from stable",
     STEP(shadow)},
};

/* The rule of one step alone (the engine runs it on every item). */
static int step_check(const void *record, char *path, size_t pathlen, int *line,
                      char *what, size_t len)
{
    const cn_strategy_step_t *s = record;
    (void)line;
    if (s->kind == CN_STRATEGY_SET_WEIGHT && s->weight_bp == 0) {
        snprintf(path, pathlen, "set_weight");
        snprintf(what, len,
                 "must be above 0: a step at 0%% gives the canary nothing to judge "
                 "(to stop a rollout, abort it)");
        return CN_EINVAL;
    }
    return 0;
}

static const cn_config_table_t step_table = {
    .keys = step_keys,
    .n_keys = COUNT(step_keys),
    .size = sizeof(cn_strategy_step_t),
    .tag_at = CN_CONFIG_AT(cn_strategy_step_t, kind),
    .line_at = CN_CONFIG_AT(cn_strategy_step_t, line),
    .check = step_check,
};

/* ---------------------------------------------------------- triggers */

#define LIMIT(f)                                                                       \
    .offset = offsetof(cn_strategy_limit_t, f),                                        \
    .width = sizeof(((cn_strategy_limit_t *)0)->f)

static const cn_config_key_t error_rate_keys[] = {
    {.key = "max",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .set_at = CN_CONFIG_AT(cn_strategy_limit_t, has_max),
     .help = "fire when the canary's error rate is significantly above this",
     LIMIT(max)},
    {.key = "max_ratio",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 1,
     .dhi = 1000,
     .set_at = CN_CONFIG_AT(cn_strategy_limit_t, has_max_ratio),
     .help = "fire when canary / stable error rate is significantly above this",
     LIMIT(max_ratio)},
    {.key = "min_rate",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_HI_OPEN,
     .default_text = "0.001",
     .help = "max_ratio fires only when the canary's rate is also above this",
     LIMIT(min_rate)},
};

static int limit_check(const void *record, char *path, size_t pathlen, int *line,
                       char *what, size_t len)
{
    const cn_strategy_limit_t *l = record;
    (void)line;
    if (!l->has_max && !l->has_max_ratio) {
        snprintf(path, pathlen, "%s", "");
        snprintf(what, len,
                 "needs a limit: max (absolute) and/or max_ratio (canary / "
                 "stable)");
        return CN_EINVAL;
    }
    return 0;
}

static const cn_config_table_t error_rate_table = {
    .keys = error_rate_keys,
    .n_keys = COUNT(error_rate_keys),
    .size = sizeof(cn_strategy_limit_t),
    .check = limit_check,
};

static const cn_config_key_t latency_keys[] = {
    {.key = "max",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 3600000,
     .opts = CN_CONFIG_LO_OPEN,
     .set_at = CN_CONFIG_AT(cn_strategy_limit_t, has_max),
     .help = "fire when over 1% of canary requests are significantly slower",
     LIMIT(max)},
    {.key = "max_ratio",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 1,
     .dhi = 1000,
     .set_at = CN_CONFIG_AT(cn_strategy_limit_t, has_max_ratio),
     .help = "fire when the canary's p99 is significantly above this x stable's",
     LIMIT(max_ratio)},
};

static const cn_config_table_t latency_table = {
    .keys = latency_keys,
    .n_keys = COUNT(latency_keys),
    .size = sizeof(cn_strategy_limit_t),
    .check = limit_check,
};

static const cn_config_key_t shift_keys[] = {
    {.key = "max_statistic",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_HI_OPEN | CN_CONFIG_REQUIRED,
     .help = "fire when the predictions' KS distance is significantly above this",
     .offset = offsetof(cn_strategy_shift_t, max_statistic),
     .width = sizeof(double)},
};

static const cn_config_table_t shift_table = {
    .keys = shift_keys,
    .n_keys = COUNT(shift_keys),
    .size = sizeof(cn_strategy_shift_t),
};

static int check_sequential_metric(const char *text, char *what, size_t len)
{
    if (cn_seq_kind_of(text) >= 0)
        return 0;
    char q[QUOTE_BUF];
    snprintf(what, len, "must be one of error, latency_ms, prediction, got '%s'",
             cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

static const cn_config_key_t sequential_keys[] = {
    {.key = "alpha",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 0.5,
     .opts = CN_CONFIG_LO_OPEN,
     .default_text = "0.01",
     .help = "false-rollback probability of all sequential triggers, whole rollout",
     .offset = offsetof(cn_strategy_sequential_t, alpha),
     .width = sizeof(double)},
    {.key = "metrics",
     .type = CN_CONFIG_ADDRESS_LIST,
     .lo = 1,
     .hi = CN_SEQ_METRICS_MAX,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_sequential_metric,
     .want = "a list of error, latency_ms, prediction",
     .help = "monitored with the margins of the analysis section",
     .offset = offsetof(cn_strategy_sequential_t, metrics),
     .width = sizeof(cn_config_strv_t)},
};

static const cn_config_table_t sequential_table = {
    .keys = sequential_keys,
    .n_keys = COUNT(sequential_keys),
    .size = sizeof(cn_strategy_sequential_t),
};

/* ------------------------------------------------------------- gates */

static int check_gate_url(const char *text, char *what, size_t len)
{
    const char *rest = strncmp(text, "http://", 7) == 0    ? text + 7
                       : strncmp(text, "https://", 8) == 0 ? text + 8
                                                           : NULL;
    if (rest && *rest && *rest != '/' && !strpbrk(text, " \t\r\n"))
        return 0;
    char q[QUOTE_BUF];
    snprintf(what, len, "must be an http:// or https:// URL with a host, got '%s'",
             cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

static const cn_config_key_t gate_keys[] = {
    {.key = "url",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_gate_url,
     .help = "POSTed before the change; a 2xx confirms it",
     .offset = offsetof(cn_strategy_gate_t, url),
     .width = sizeof(char *)},
    {.key = "timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 100,
     .hi = 5 * CN_UNITS_MINUTE_MS,
     .default_text = "5s",
     .help = "no answer by then holds the rollout",
     .offset = offsetof(cn_strategy_gate_t, timeout_ms),
     .width = sizeof(uint64_t)},
};

static const cn_config_table_t gate_table = {
    .keys = gate_keys,
    .n_keys = COUNT(gate_keys),
    .size = sizeof(cn_strategy_gate_t),
};

/* ------------------------------------------------------------- top */

#define TOP(f)                                                                         \
    .offset = offsetof(cn_strategy_t, f), .width = sizeof(((cn_strategy_t *)0)->f)

static int strategy_check(const void *record, char *path, size_t pathlen, int *line,
                          char *what, size_t len);

static const cn_config_key_t strategy_keys[] = {
    {.key = "warmup",
     .type = CN_CONFIG_DURATION,
     .lo = 0,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "30s",
     .help = "samples of the canary's first traffic that are not judged",
     TOP(warmup_ms)},
    {.key = "progress_deadline",
     .type = CN_CONFIG_DURATION,
     .lo = CN_UNITS_SECOND_MS,
     .hi = 24 * CN_UNITS_HOUR_MS,
     .default_text = "10m",
     .help = "the canary must be healthy and take traffic by then, else abort",
     TOP(progress_deadline_ms)},
    {.key = "steps",
     .type = CN_CONFIG_ONEOF_LIST,
     .table = &step_table,
     .lo = 1,
     .want = "a list of steps (set_weight, pause, analysis, shadow)",
     .help = "the ramp: set_weight, pause, analysis and shadow steps",
     TOP(steps),
     .count_offset = offsetof(cn_strategy_t, n_steps)},
    {.key = "max_bake",
     .type = CN_CONFIG_DURATION,
     .lo = CN_UNITS_SECOND_MS,
     .hi = 7 * 24 * CN_UNITS_HOUR_MS,
     .default_text = "1h",
     .help = "an analysis short of its samples by then holds, and says why",
     TOP(max_bake_ms)},
    {.key = "on_marginal",
     .type = CN_CONFIG_ENUM,
     .names = marginal_names,
     .default_text = "hold",
     .help = "a marginal verdict: hold, retry (up to retries) or rollback",
     TOP(on_marginal)},
    {.key = "retries",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 0,
     .hi = 10,
     .default_text = "2",
     .help = "further attempts of an analysis step (its budget is split)",
     TOP(retries)},
    {.key = "dry_run",
     .type = CN_CONFIG_BOOL,
     .default_text = "false",
     .help = "judge, record and notify, but never change traffic",
     TOP(dry_run)},
    {.key = "triggers.error_rate",
     .type = CN_CONFIG_RECORD,
     .table = &error_rate_table,
     .set_at = CN_CONFIG_AT(cn_strategy_t, triggers.has_error_rate),
     .help = "roll back at once on too many canary errors",
     TOP(triggers.error_rate)},
    {.key = "triggers.p99_latency_ms",
     .type = CN_CONFIG_RECORD,
     .table = &latency_table,
     .set_at = CN_CONFIG_AT(cn_strategy_t, triggers.has_p99_latency),
     .help = "roll back at once on a too slow canary",
     TOP(triggers.p99_latency)},
    {.key = "triggers.prediction_shift",
     .type = CN_CONFIG_RECORD,
     .table = &shift_table,
     .set_at = CN_CONFIG_AT(cn_strategy_t, triggers.has_prediction_shift),
     .help = "roll back at once on shifted predictions",
     TOP(triggers.prediction_shift)},
    {.key = "triggers.sequential",
     .type = CN_CONFIG_RECORD,
     .table = &sequential_table,
     .set_at = CN_CONFIG_AT(cn_strategy_t, triggers.has_sequential),
     .help = "roll back on anytime-valid evidence of harm beyond the margins",
     TOP(triggers.sequential)},
    {.key = "triggers.level",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 0.01,
     .opts = CN_CONFIG_LO_OPEN,
     .default_text = "1e-7",
     .help = "significance level of each trigger check (one per second)",
     TOP(triggers.level)},
    {.key = "gates.confirm_traffic_increase",
     .type = CN_CONFIG_RECORD,
     .table = &gate_table,
     .set_at = CN_CONFIG_AT(cn_strategy_t, gates.has_traffic),
     .help = "a URL asked before each weight increase; not 2xx: hold",
     TOP(gates.traffic)},
    {.key = "gates.confirm_promotion",
     .type = CN_CONFIG_RECORD,
     .table = &gate_table,
     .set_at = CN_CONFIG_AT(cn_strategy_t, gates.has_promotion),
     .help = "a URL asked before the promotion; not 2xx: hold",
     TOP(gates.promotion)},
    {.key = "gates.interval",
     .type = CN_CONFIG_DURATION,
     .lo = CN_UNITS_SECOND_MS,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "10s",
     .help = "a gate that held the rollout is asked again this often",
     TOP(gates.interval_ms)},
    {.key = "parity.weight",
     .type = CN_CONFIG_PERCENT,
     .default_text = "50",
     .help = "a parity check's canary arm: stable's version at this share",
     TOP(parity.weight_bp)},
    {.key = "parity.duration",
     .type = CN_CONFIG_DURATION,
     .lo = CN_UNITS_SECOND_MS,
     .hi = 24 * CN_UNITS_HOUR_MS,
     .default_text = "10m",
     .help = "a parity check bakes this long, then judges once",
     TOP(parity.duration_ms)},
};

static const cn_config_table_t strategy_table = {
    .keys = strategy_keys,
    .n_keys = COUNT(strategy_keys),
    .size = sizeof(cn_strategy_t),
    .check = strategy_check,
};

/* "set_weight 5% at line 4" or "set_weight 5% at steps[2]" */
static const char *where(const cn_strategy_step_t *s, size_t i, char *buf, size_t len)
{
    if (s->line > 0)
        snprintf(buf, len, "line %d", s->line);
    else
        snprintf(buf, len, "steps[%zu]", i);
    return buf;
}

/*
 * The rules between steps (strategy.h explains each). The blamed path is
 * the step's key, so the message reads
 *     FILE:LINE: key 'strategy.steps[7].analysis': ...
 */
static int strategy_check(const void *record, char *path, size_t pathlen, int *line,
                          char *what, size_t len)
{
    const cn_strategy_t *s = record;
    char pct[CN_UNITS_TEXT_BUF], at[40];
    if (s->n_steps > CN_STRATEGY_STEPS_MAX) {
        snprintf(path, pathlen, "steps");
        snprintf(what, len, "at most %u steps, got %zu", CN_STRATEGY_STEPS_MAX,
                 s->n_steps);
        return CN_EINVAL;
    }
    uint16_t weight = 0;
    size_t weight_at = 0;
    bool window = false, any_weight = false;
    for (size_t i = 0; i < s->n_steps; i++) {
        const cn_strategy_step_t *st = &s->steps[i];
        *line = st->line;
        switch (st->kind) {
        case CN_STRATEGY_SET_WEIGHT:
            if (any_weight && st->weight_bp <= weight) {
                snprintf(path, pathlen, "steps[%zu].set_weight", i);
                snprintf(what, len,
                         "must be above the previous set_weight (%s%% at %s): weights "
                         "only rise, so that no sticky user is sent back to stable "
                         "and the last analysis runs at the highest weight",
                         cn_units_percent_text(weight, pct, sizeof pct),
                         where(&s->steps[weight_at], weight_at, at, sizeof at));
                return CN_EINVAL;
            }
            weight = st->weight_bp;
            weight_at = i;
            any_weight = window = true;
            break;
        case CN_STRATEGY_SHADOW:
            if (any_weight) {
                snprintf(path, pathlen, "steps[%zu].shadow", i);
                snprintf(what, len,
                         "a shadow step must come before the first set_weight (%s): "
                         "once users get canary answers a shadow copy adds nothing",
                         where(&s->steps[weight_at], weight_at, at, sizeof at));
                return CN_EINVAL;
            }
            window = true;
            break;
        case CN_STRATEGY_ANALYSIS:
            if (!window) {
                snprintf(path, pathlen, "steps[%zu].analysis", i);
                snprintf(what, len,
                         "nothing to judge yet: an analysis judges the window of the "
                         "set_weight or shadow step before it");
                return CN_EINVAL;
            }
            if (st->analysis.mode == CN_STRATEGY_ANYTIME && !any_weight) {
                snprintf(path, pathlen, "steps[%zu].analysis.mode", i);
                snprintf(what, len,
                         "anytime judges a set_weight window: a shadow window pairs "
                         "both versions' answers to the same requests, which the "
                         "anytime tests do not use; use mode planned here");
                return CN_EINVAL;
            }
            if (weight == CN_UNITS_BP_MAX) {
                snprintf(path, pathlen, "steps[%zu].analysis", i);
                snprintf(what, len,
                         "not allowed after set_weight 100 (%s): at 100%% there is no "
                         "concurrent stable arm to compare with, and a past window is "
                         "confounded by time of day, request mix and load; run the "
                         "last analysis at the highest weight below 100",
                         where(&s->steps[weight_at], weight_at, at, sizeof at));
                return CN_EINVAL;
            }
            break;
        default:
            break;
        }
    }
    if (s->parity.weight_bp == 0 || s->parity.weight_bp >= CN_UNITS_BP_MAX) {
        *line = 0;
        snprintf(path, pathlen, "parity.weight");
        snprintf(what, len,
                 "must be above 0 and below 100: a parity check compares two live "
                 "arms of stable's version");
        return CN_EINVAL;
    }
    *line = 0;
    if (!any_weight) {
        snprintf(path, pathlen, "steps");
        snprintf(what, len,
                 "no set_weight step: the canary would never get traffic to judge "
                 "(add one, e.g. '- set_weight: 5')");
        return CN_EINVAL;
    }
    return 0;
}

const cn_config_table_t *cn_strategy_config_table(void)
{
    return &strategy_table;
}

cn_config_part_t cn_strategy_config_part(cn_strategy_t *s)
{
    return (cn_config_part_t){&strategy_table, s};
}

void cn_strategy_init(cn_strategy_t *s)
{
    cn_config_init(&strategy_table, s);
}

void cn_strategy_dispose(cn_strategy_t *s)
{
    if (s)
        cn_config_dispose(&strategy_table, s);
}

/* ---------------------------------------------------------- reading */

int cn_strategy_read_section(cn_yaml_t *y, struct fy_document *doc, cn_strategy_t *s,
                             bool *present)
{
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    *present = false;
    if (!root || cn_yaml_is_null(root) || !fy_node_is_mapping(root))
        return 0;
    char expected[400];
    cn_config_part_t part = {&strategy_table, s};
    cn_config_children(&part, 1, "", expected, sizeof expected);
    struct fy_node *section;
    int kline;
    int rc = cn_yaml_section(y, root, "strategy", expected, &section, &kline);
    if (rc || !section)
        return rc;
    *present = true;
    const char *prefix = y->prefix;
    y->prefix = "strategy.";
    rc = cn_config_read(y, &part, 1, section, kline);
    y->prefix = prefix;
    return rc;
}

int cn_strategy_parse(const char *text, size_t len, const char *filename,
                      cn_strategy_t *out, char *err, size_t errlen)
{
    cn_strategy_init(out);
    cn_yaml_t y;
    cn_yaml_init(&y, filename, err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&y, text, len, &doc);
    bool present = false;
    if (!rc)
        rc = cn_strategy_read_section(&y, doc, out, &present);
    if (!rc && !present) {
        struct fy_node *root = doc ? fy_document_root(doc) : NULL;
        if (!root || cn_yaml_is_null(root))
            rc = cn_yaml_report(&y, CN_EINVAL, 1, NULL,
                                "empty config: expected a strategy with steps");
        else {
            cn_config_part_t part = {&strategy_table, out};
            rc = cn_config_read(&y, &part, 1, root, cn_yaml_node_line(root, 1));
        }
    }
    cn_yaml_dispose(&y);
    if (rc) {
        cn_strategy_dispose(out);
        cn_strategy_init(out);
    }
    return rc;
}

int cn_strategy_validate(const cn_strategy_t *s, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s)
        return cn_fail(err, errlen, CN_EINVAL, "no strategy");
    cn_config_problem_t p;
    if (!cn_config_check(&strategy_table, s, &p))
        return 0;
    if (p.line > 0)
        return cn_fail(err, errlen, CN_EINVAL, "key '%s' (line %d): %s", p.path, p.line,
                       p.what);
    return cn_fail(err, errlen, CN_EINVAL, "key '%s': %s", p.path, p.what);
}

/* The line of key `name` in the mapping `map`, or 0 when it is not there. */
static int key_line(cn_yaml_t *y, struct fy_node *map, const char *name)
{
    if (!map || !fy_node_is_mapping(map))
        return 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen = 0;
        if (!k || !fy_node_is_scalar(k) || fy_node_is_alias(k))
            continue;
        const char *key = cn_yaml_scalar_text(y, k, &klen);
        if (cn_yaml_key_is(key, klen, name))
            return cn_yaml_node_line(k, 1);
    }
    return 0;
}

/* The value of key `name` in the mapping `map`, or NULL. */
static struct fy_node *key_value(cn_yaml_t *y, struct fy_node *map, const char *name)
{
    if (!map || !fy_node_is_mapping(map))
        return NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen = 0;
        if (!k || !fy_node_is_scalar(k) || fy_node_is_alias(k))
            continue;
        const char *key = cn_yaml_scalar_text(y, k, &klen);
        if (cn_yaml_key_is(key, klen, name))
            return fy_node_pair_value(p);
    }
    return NULL;
}

int cn_strategy_check_analysis(cn_yaml_t *y, struct fy_document *doc,
                               const cn_strategy_t *s, const cn_judge_config_t *a,
                               const cn_feedback_config_t *fed_cfg)
{
    unsigned J = cn_strategy_analysis_count(s);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    int line = 0;
    bool given = a->looks != 1;
    if (root) {
        struct fy_node *section = key_value(y, root, "analysis");
        if (section && fy_node_is_mapping(section))
            line = key_line(y, section, "looks");
        given = given || line > 0;
    }
    if (given) {
        const char *prefix = y->prefix;
        y->prefix = "";
        int rc = cn_yaml_report(y, CN_EINVAL, line, "analysis.looks",
                                "not used with a strategy: each of its %u analysis "
                                "steps is one look, and the error budget is spent "
                                "over them; remove looks",
                                J);
        y->prefix = prefix;
        return rc;
    }
    if (s->triggers.has_sequential) {
        cn_seq_config_t sc;
        size_t bad;
        char what[300];
        if (cn_strategy_sequential_config(s, a, &sc, &bad, what, sizeof what)) {
            char path[80];
            snprintf(path, sizeof path, "strategy.triggers.sequential.metrics[%zu]",
                     bad);
            const char *prefix = y->prefix;
            y->prefix = "";
            int rc = cn_yaml_report(
                y, CN_EINVAL,
                key_line(y, key_value(y, key_value(y, root, "strategy"), "triggers"),
                         "sequential"),
                path, "%s", what);
            y->prefix = prefix;
            return rc;
        }
    }
    char names[300], q[QUOTE_BUF];
    /* What the router measures for every request (driver.c's
     * window_data), and what the feedback config says arrives later
     * (feedback/config.h): any other name would be judged "no data"
     * forever. */
    static const char *const measured[] = {"latency_ms", "error", "prediction"};
    bool has_shadow = false;
    for (size_t i = 0; i < s->n_steps; i++)
        has_shadow = has_shadow || s->steps[i].kind == CN_STRATEGY_SHADOW;
    for (size_t k = 0; k < a->n_metrics; k++) {
        const cn_judge_metric_t *m = &a->metrics[k];
        const char *src = m->source ? m->source : m->name;
        if (!src)
            continue;
        bool known = false;
        for (size_t i = 0; i < COUNT(measured) && !known; i++)
            known = strcmp(src, measured[i]) == 0;
        int kind = -1, derived = -1;
        bool fed = !known && cn_feedback_config_provides(fed_cfg, src, &kind, &derived);
        char path[80];
        snprintf(path, sizeof path, "analysis.metrics[%zu].%s", k,
                 m->source ? "source" : "name");
        const char *why = NULL;
        if (!known && !fed)
            why = "is neither measured by canary serve (latency_ms, error, prediction) "
                  "nor fed (feedback.metrics; a label metric also gives accuracy, "
                  "log_loss, brier and auc)";
        else if (strcmp(src, "error") == 0 && m->test != CN_JTEST_PROPORTION)
            why = "is counted whole by the router: judge it with test proportion";
        else if (fed &&
                 (derived == 0 || (derived < 0 && kind == CN_FEEDBACK_PROPORTION)) &&
                 m->test != CN_JTEST_PROPORTION)
            why = "is a fed rate, counted whole: judge it with test proportion";
        else if (fed && derived == 3 && m->test != CN_JTEST_AUC)
            why = "is the label's AUC: judge it with test auc";
        else if (m->test == CN_JTEST_AUC && !(fed && derived == 3))
            why = "is judged by test auc, which needs scores with labels: only 'auc' "
                  "(given by a label metric in feedback.metrics) has them";
        else if (m->test == CN_JTEST_AGREEMENT && !has_shadow)
            why = "is judged by an agreement test, which compares both versions' "
                  "answers to the same requests: it needs a shadow step";
        if (!why)
            continue;
        const char *prefix = y->prefix;
        y->prefix = "";
        int rc =
            cn_yaml_report(y, CN_EINVAL, m->line, path, "'%s' %s",
                           cn_text_quote(src, strlen(src), CN_YAML_QUOTE_MAX, q), why);
        y->prefix = prefix;
        return rc;
    }
    for (size_t i = 0; i < s->n_steps; i++) {
        const cn_strategy_step_t *st = &s->steps[i];
        if (st->kind != CN_STRATEGY_ANALYSIS)
            continue;
        for (size_t m = 0; m < st->analysis.metrics.count; m++) {
            const char *name = st->analysis.metrics.items[m];
            bool found = false;
            for (size_t k = 0; k < a->n_metrics && !found; k++)
                found = a->metrics[k].name && strcmp(a->metrics[k].name, name) == 0;
            if (found)
                continue;
            size_t used = 0;
            names[0] = '\0';
            for (size_t k = 0; k < a->n_metrics && used + 1 < sizeof names; k++) {
                int n =
                    snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                             a->metrics[k].name ? a->metrics[k].name : "?");
                if (n < 0)
                    break;
                used += (size_t)n;
            }
            char path[80];
            snprintf(path, sizeof path, "strategy.steps[%zu].analysis.metrics[%zu]", i,
                     m);
            const char *prefix = y->prefix;
            y->prefix = "";
            int rc =
                cn_yaml_report(y, CN_EINVAL, st->line, path,
                               "no metric '%s' in the analysis section (it has %s)",
                               cn_text_quote(name, strlen(name), CN_YAML_QUOTE_MAX, q),
                               a->n_metrics ? names : "none");
            y->prefix = prefix;
            return rc;
        }
        if (st->analysis.mode == CN_STRATEGY_ANYTIME) {
            cn_seq_config_t sc;
            char what[300];
            if (cn_strategy_anytime_config(s, i, a, &sc, what, sizeof what)) {
                char path[80];
                snprintf(path, sizeof path, "strategy.steps[%zu].analysis.mode", i);
                const char *prefix = y->prefix;
                y->prefix = "";
                int rc =
                    cn_yaml_report(y, CN_EINVAL, st->line, path,
                                   "anytime needs an anytime test for every metric "
                                   "of the step: %s",
                                   what);
                y->prefix = prefix;
                return rc;
            }
        }
    }
    return 0;
}

/* The anytime test of metric `name` of the section a, for `who` ("the
 * sequential trigger", "an anytime analysis"). */
static int seq_metric(const char *name, const cn_judge_config_t *a,
                      cn_seq_metric_config_t *c, const char *who, char *what,
                      size_t len)
{
    int kind = cn_seq_kind_of(name);
    const cn_judge_metric_t *m = NULL;
    for (size_t k = 0; a && k < a->n_metrics && !m; k++)
        if (a->metrics[k].name && strcmp(a->metrics[k].name, name) == 0)
            m = &a->metrics[k];
    if (kind < 0) {
        snprintf(what, len,
                 "'%s' has no anytime test (%s knows error, latency_ms and "
                 "prediction)",
                 name, who);
        return CN_EINVAL;
    }
    if (!m) {
        snprintf(what, len,
                 "'%s' needs a metric of that name in the analysis section: its "
                 "margin is what the trigger tests",
                 name);
        return CN_EINVAL;
    }
    c->kind = (cn_seq_kind_t)kind;
    c->margin = m->margin;
    c->margin_kind = m->margin_kind;
    c->max_statistic = m->max_statistic;
    bool ok = kind == CN_SEQ_ERROR ? m->test == CN_JTEST_PROPORTION
              : kind == CN_SEQ_PREDICTION
                  ? m->test == CN_JTEST_KS
                  : m->test == CN_JTEST_MWU || m->test == CN_JTEST_WELCH ||
                        m->test == CN_JTEST_BOOTSTRAP;
    if (!ok) {
        snprintf(what, len,
                 "'%s' is judged by test %s in the analysis section; %s needs %s", name,
                 cn_judge_test_name(m->test), who,
                 kind == CN_SEQ_ERROR        ? "proportion (its margin)"
                 : kind == CN_SEQ_PREDICTION ? "ks (its max_statistic)"
                                             : "mann-whitney, welch or bootstrap "
                                               "(its margin)");
        return CN_EINVAL;
    }
    /* what cn_seq_config_check refuses later would turn the triggers
     * off at start: refuse it with the config instead */
    if (kind == CN_SEQ_PREDICTION && !(m->max_statistic > 0 && m->max_statistic < 1)) {
        snprintf(what, len,
                 "'%s': %s needs a max_statistic in (0, 1) in the analysis section, "
                 "got %g",
                 name, who, m->max_statistic);
        return CN_EINVAL;
    }
    if (kind != CN_SEQ_PREDICTION && !(m->margin >= 0 && isfinite(m->margin))) {
        snprintf(what, len, "'%s': %s needs a finite margin >= 0, got %g", name, who,
                 m->margin);
        return CN_EINVAL;
    }
    return 0;
}

int cn_strategy_anytime_config(const cn_strategy_t *s, size_t index,
                               const cn_judge_config_t *a, cn_seq_config_t *out,
                               char *what, size_t len)
{
    memset(out, 0, sizeof *out);
    if (!s || index >= s->n_steps || s->steps[index].kind != CN_STRATEGY_ANALYSIS) {
        snprintf(what, len, "step %zu is not an analysis", index);
        return CN_EINVAL;
    }
    const cn_strategy_analysis_t *an = &s->steps[index].analysis;
    size_t n = an->metrics.count ? an->metrics.count : (a ? a->n_metrics : 0);
    if (n == 0 || n > CN_SEQ_METRICS_MAX) {
        snprintf(what, len,
                 "anytime needs 1 to %d metrics (error, latency_ms, "
                 "prediction), the step judges %zu",
                 CN_SEQ_METRICS_MAX, n);
        return CN_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name =
            an->metrics.count ? an->metrics.items[i] : a->metrics[i].name;
        if (!name)
            name = "?";
        for (size_t j = 0; j < out->n_metrics; j++)
            if (out->metrics[j].kind == (cn_seq_kind_t)cn_seq_kind_of(name)) {
                snprintf(what, len, "'%s' is named twice", name);
                return CN_EINVAL;
            }
        cn_seq_metric_config_t *c = &out->metrics[out->n_metrics];
        if (seq_metric(name, a, c, "an anytime analysis", what, len))
            return CN_EINVAL;
        out->n_metrics++;
        if (c->kind == CN_SEQ_ERROR && c->margin_kind == CN_MARGIN_ABSOLUTE &&
            !(c->margin < 1)) {
            snprintf(what, len,
                     "'%s': an absolute margin of %g on a rate leaves nothing to show",
                     name, c->margin);
            return CN_EINVAL;
        }
    }
    return 0;
}

int cn_strategy_sequential_config(const cn_strategy_t *s, const cn_judge_config_t *a,
                                  cn_seq_config_t *out, size_t *bad, char *what,
                                  size_t len)
{
    const cn_strategy_sequential_t *q = &s->triggers.sequential;
    memset(out, 0, sizeof *out);
    out->alpha = q->alpha;
    *bad = 0;
    for (size_t i = 0; i < q->metrics.count; i++) {
        const char *name = q->metrics.items[i];
        *bad = i;
        for (size_t j = 0; j < i; j++)
            if (strcmp(q->metrics.items[j], name) == 0) {
                snprintf(what, len, "'%s' is named twice", name);
                return CN_EINVAL;
            }
        if (seq_metric(name, a, &out->metrics[out->n_metrics], "the sequential trigger",
                       what, len))
            return CN_EINVAL;
        out->n_metrics++;
    }
    return 0;
}

/* ---------------------------------------------------------- derived */

unsigned cn_strategy_analysis_count(const cn_strategy_t *s)
{
    unsigned n = 0;
    for (size_t i = 0; s && i < s->n_steps; i++)
        n += s->steps[i].kind == CN_STRATEGY_ANALYSIS;
    return n;
}

unsigned cn_strategy_analysis_rank(const cn_strategy_t *s, size_t index)
{
    if (!s || index >= s->n_steps || s->steps[index].kind != CN_STRATEGY_ANALYSIS)
        return 0;
    unsigned j = 0;
    for (size_t i = 0; i <= index; i++)
        j += s->steps[i].kind == CN_STRATEGY_ANALYSIS;
    return j;
}

uint16_t cn_strategy_weight_at(const cn_strategy_t *s, size_t index)
{
    uint16_t w = 0;
    for (size_t i = 0; s && i < s->n_steps && i <= index; i++)
        if (s->steps[i].kind == CN_STRATEGY_SET_WEIGHT)
            w = s->steps[i].weight_bp;
    return w;
}
