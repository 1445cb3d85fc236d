/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The feedback module's key table (config.h).
 */
#include "feedback/config.h"
#include "util/error.h"
#include "util/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *const cn_feedback_derived[CN_FEEDBACK_DERIVED] = {"accuracy", "log_loss",
                                                              "brier", "auc"};

/* What the router measures itself: a fed metric must not shadow it. */
static const char *const measured[] = {"latency_ms", "error", "prediction"};

static const cn_config_name_t kind_names[] = {
    {"proportion", CN_FEEDBACK_PROPORTION},
    {"mean", CN_FEEDBACK_MEAN},
    {"label", CN_FEEDBACK_LABEL},
    {NULL, 0},
};

static const cn_config_key_t metric_keys[] = {
    {.key = "",
     .type = CN_CONFIG_ENUM,
     .names = kind_names,
     .help = "the metric's kind: proportion (0/1), mean (a number) or label (the "
             "true class, 0/1, against the recorded prediction)",
     .offset = offsetof(cn_feedback_metric_t, kind),
     .width = sizeof(int)},
};

static const cn_config_table_t metric_table = {
    .keys = metric_keys,
    .n_keys = COUNT(metric_keys),
    .size = sizeof(cn_feedback_metric_t),
    .name_at = CN_CONFIG_AT(cn_feedback_metric_t, name),
};

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static int feedback_check(const void *record, char *path, size_t pathlen, int *line,
                          char *what, size_t len)
{
    const cn_feedback_config_t *c = record;
    (void)line;
    if (c->n_metrics > CN_FEEDBACK_METRICS_MAX) {
        snprintf(path, pathlen, "feedback.metrics");
        snprintf(what, len, "at most %d fed metrics, got %zu", CN_FEEDBACK_METRICS_MAX,
                 c->n_metrics);
        return CN_EINVAL;
    }
    size_t labels = 0;
    for (size_t i = 0; i < c->n_metrics; i++) {
        const char *name = c->metrics[i].name;
        snprintf(path, pathlen, "feedback.metrics.%.60s", name);
        if (!name_ok(name)) {
            snprintf(what, len,
                     "a metric name is a letter or '_', then letters, digits or '_' "
                     "(at most 63)");
            return CN_EINVAL;
        }
        for (size_t k = 0; k < COUNT(measured); k++)
            if (strcmp(name, measured[k]) == 0) {
                snprintf(what, len, "'%s' is measured by the router itself", name);
                return CN_EINVAL;
            }
        for (size_t k = 0; k < CN_FEEDBACK_DERIVED; k++)
            if (strcmp(name, cn_feedback_derived[k]) == 0) {
                snprintf(what, len,
                         "'%s' is what a label metric yields (accuracy, log_loss, "
                         "brier, auc): name the label itself, e.g. 'label: label'",
                         name);
                return CN_EINVAL;
            }
        if (c->metrics[i].kind == CN_FEEDBACK_LABEL && ++labels > 1) {
            snprintf(what, len,
                     "at most one metric is a label (its accuracy, log_loss, brier and "
                     "auc would be ambiguous)");
            return CN_EINVAL;
        }
    }
    return 0;
}

#define FIELD(f)                                                                       \
    .offset = offsetof(cn_feedback_config_t, f),                                       \
    .width = sizeof(((cn_feedback_config_t *)0)->f)

static const cn_config_key_t feedback_keys[] = {
    {.key = "feedback.ttl",
     .flag = "feedback-ttl",
     .type = CN_CONFIG_DURATION,
     .lo = 1000,
     .hi = 7 * 24 * CN_UNITS_HOUR_MS,
     .default_text = "1h",
     .help = "feedback for a request served longer ago than this is counted as "
             "expired (the request-id map, measure.request_id_map_size per worker, "
             "bounds how far back a join can reach in memory)",
     FIELD(ttl_ms)},
    {.key = "feedback.threshold",
     .flag = "feedback-threshold",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .default_text = "0.5",
     .help = "a label metric's class threshold: a prediction at or above it is "
             "class 1 (accuracy)",
     FIELD(threshold)},
    {.key = "feedback.max_lines",
     .flag = "feedback-max-lines",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = 1000000,
     .default_text = "10000",
     .help = "most lines in one POST /v1/feedback",
     FIELD(max_lines)},
    {.key = "feedback.metrics",
     .type = CN_CONFIG_MAP,
     .table = &metric_table,
     .want = "a mapping of metric name to proportion, mean or label",
     .help = "the metrics that arrive after the response, by name, with their kind",
     .offset = offsetof(cn_feedback_config_t, metrics),
     .width = sizeof(cn_feedback_metric_t *),
     .count_offset = offsetof(cn_feedback_config_t, n_metrics)},
};

static const cn_config_table_t feedback_table = {
    .keys = feedback_keys,
    .n_keys = COUNT(feedback_keys),
    .size = sizeof(cn_feedback_config_t),
    .check = feedback_check,
};

const cn_config_table_t *cn_feedback_config_table(void)
{
    return &feedback_table;
}

int cn_feedback_config_index(const cn_feedback_config_t *cfg, const char *name,
                             size_t len)
{
    for (size_t i = 0; cfg && i < cfg->n_metrics; i++)
        if (strlen(cfg->metrics[i].name) == len &&
            memcmp(cfg->metrics[i].name, name, len) == 0)
            return (int)i;
    return -1; /* not fed */
}

bool cn_feedback_config_provides(const cn_feedback_config_t *cfg, const char *name,
                                 int *kind, int *derived)
{
    if (derived)
        *derived = -1;
    if (!cfg || !name)
        return false;
    int i = cn_feedback_config_index(cfg, name, strlen(name));
    if (i >= 0) {
        *kind = cfg->metrics[i].kind;
        return true;
    }
    bool label = false;
    for (size_t k = 0; k < cfg->n_metrics; k++)
        label = label || cfg->metrics[k].kind == CN_FEEDBACK_LABEL;
    for (int k = 0; label && k < CN_FEEDBACK_DERIVED; k++)
        if (strcmp(name, cn_feedback_derived[k]) == 0) {
            *kind = CN_FEEDBACK_LABEL;
            if (derived)
                *derived = k;
            return true;
        }
    return false;
}
