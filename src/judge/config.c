/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The judge's configuration: names of the enumerations, the key tables of
 * the analysis spec (spec_keys[] for the top level, metric_keys[] for an
 * item of `metrics`, group_keys[] for the weights of `groups`), and the
 * checks that need more than one key.
 *
 * The config engine (util/config.h) reads the tables: the defaults
 * (cn_judge_config_init and cn_judge_metric_init parse the tables' default
 * texts), the YAML walk with its messages ("FILE:LINE: key
 * 'metrics[2].margin': ..."), the check of a config built in code
 * (cn_judge_config_validate) and the effective configuration that `canary
 * config check` prints all come from the one entry of each key, so they
 * cannot disagree with each other or with examples/analysis.yaml (a unit
 * test checks that every key is documented there).
 *
 * A metric's `test` is its table's discriminator: the engine reads it
 * first, and a key that the test does not use is an error rather than
 * silently ignored, because a typo in a rollout gate must not become a
 * default. Typing follows the YAML 1.2 core schema as far as it matters: a
 * quoted "0.05" is a string, refused where a number is expected; booleans
 * are true/false (not yes/no); merge keys ("<<") are unknown keys.
 */
#include "judge/config.h"
#include "judge/judge.h"
#include "util/config.h"
#include "util/error.h"
#include "util/text.h"
#include "util/yaml.h"

#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Longest excerpt of a value or key quoted back in a message. */
#define QUOTE_MAX CN_YAML_QUOTE_MAX
#define QUOTE_BUF CN_TEXT_QUOTE_BUF(QUOTE_MAX)

/* ------------------------------------------------------------ names */

static const cn_config_name_t test_choices[] = {
    {"mann-whitney", CN_JTEST_MWU},
    {"welch", CN_JTEST_WELCH},
    {"proportion", CN_JTEST_PROPORTION},
    {"ks", CN_JTEST_KS},
    {"psi", CN_JTEST_PSI},
    {"bootstrap", CN_JTEST_BOOTSTRAP},
    {"threshold", CN_JTEST_THRESHOLD},
    {"agreement", CN_JTEST_AGREEMENT},
    {"auc", CN_JTEST_AUC},
    {NULL, 0},
};

static const cn_config_name_t dir_choices[] = {
    {"lower-is-better", CN_JDIR_LOWER},
    {"higher-is-better", CN_JDIR_HIGHER},
    {"either", CN_JDIR_EITHER},
    {NULL, 0},
};

static const cn_config_name_t adjust_choices[] = {
    {"none", CN_ADJUST_NONE},
    {"bonferroni", CN_ADJUST_BONFERRONI},
    {"holm", CN_ADJUST_HOLM},
    {"bh", CN_ADJUST_BH},
    {NULL, 0},
};

static const cn_config_name_t boot_choices[] = {
    {"mean", CN_BOOT_MEAN},
    {"median", CN_BOOT_MEDIAN},
    {"p95", CN_BOOT_P95},
    {"p99", CN_BOOT_P99},
    {NULL, 0},
};

int cn_judge_parse_test(const char *s, cn_judge_test_t *out)
{
    int v;
    if (cn_config_name_value(test_choices, s, &v))
        return CN_EINVAL;
    *out = (cn_judge_test_t)v;
    return 0;
}

const char *cn_judge_test_name(cn_judge_test_t t)
{
    const char *name = cn_config_name_of(test_choices, (int)t);
    return name ? name : "unknown";
}

int cn_judge_parse_direction(const char *s, cn_judge_dir_t *out)
{
    int v;
    if (cn_config_name_value(dir_choices, s, &v))
        return CN_EINVAL;
    *out = (cn_judge_dir_t)v;
    return 0;
}

const char *cn_judge_direction_name(cn_judge_dir_t d)
{
    const char *name = cn_config_name_of(dir_choices, (int)d);
    return name ? name : "unknown";
}

#define MARGIN_WANT                                                                    \
    "a number >= 0 (in the metric's unit) or a percentage of stable such as 5%"

/* A margin: a number in the metric's unit, or "5%" of stable (stored as the
 * fraction 0.05, kind relative). */
static int margin_parse(const cn_config_key_t *k, const char *text, void *record,
                        char *what, size_t len)
{
    cn_judge_metric_t *m = record;
    char q[QUOTE_BUF];
    double v, margin;
    cn_margin_kind_t kind;
    size_t n = strlen(text);
    (void)k;
    /* "-5%" and "-1" read as numbers but are out of range. */
    char *num = cn_xstrndup(text, n && text[n - 1] == '%' ? n - 1 : n);
    int rc = 0;
    if (cn_stats_parse_margin(text, &margin, &kind) == 0 &&
        strchr("+.0123456789", text[0]) && !strpbrk(text, "xX")) {
        m->margin = margin;
        m->margin_kind = kind;
    } else if (cn_text_to_double(num, &v) == 0 && v < 0) {
        snprintf(what, len, "must be >= 0, got '%s'",
                 cn_text_quote(text, n, QUOTE_MAX, q));
        rc = CN_EINVAL;
    } else {
        snprintf(what, len, "must be %s, got '%s'", MARGIN_WANT,
                 cn_text_quote(text, n, QUOTE_MAX, q));
        rc = CN_EINVAL;
    }
    free(num);
    return rc;
}

/* The margin as written: "5%" for a relative one (the shortest text that
 * reads back as the same fraction), else the number. */
static const char *margin_format(const cn_config_key_t *k, const void *record,
                                 char *buf, size_t len)
{
    const cn_judge_metric_t *m = record;
    (void)k;
    int relative = m->margin_kind == CN_MARGIN_RELATIVE;
    double shown = relative ? m->margin * 100.0 : m->margin;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g%s", prec, shown, relative ? "%" : "");
        double back;
        cn_margin_kind_t kind;
        if (cn_stats_parse_margin(buf, &back, &kind) == 0 && back == m->margin)
            break;
        if (!isfinite(shown) || shown < 0)
            break; /* cannot read back: the check reports it */
    }
    return buf;
}

static const cn_config_custom_t margin_custom = {
    .parse = margin_parse,
    .format = margin_format,
};

#define T(x) (1u << (x))
#define T_MARGIN                                                                       \
    (T(CN_JTEST_MWU) | T(CN_JTEST_WELCH) | T(CN_JTEST_PROPORTION) |                    \
     T(CN_JTEST_BOOTSTRAP) | T(CN_JTEST_AUC))

#define MFIELD(f)                                                                      \
    .offset = offsetof(cn_judge_metric_t, f),                                          \
    .width = sizeof(((cn_judge_metric_t *)0)->f)

#define UNBOUNDED ((uint64_t)1 << 53)

/* An item of `metrics`. The order is that of the messages and of
 * examples/analysis.yaml. */
static const cn_config_key_t metric_keys[] = {
    {.key = "name",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .help = "the metric's name in the data",
     MFIELD(name)},
    {.key = "test",
     .type = CN_CONFIG_ENUM,
     .names = test_choices,
     .opts = CN_CONFIG_REQUIRED,
     .help = "the test that judges the metric",
     MFIELD(test)},
    {.key = "direction",
     .type = CN_CONFIG_ENUM,
     .names = dir_choices,
     .default_text = "lower-is-better",
     .when = T_MARGIN,
     .help = "which way is better",
     MFIELD(direction)},
    {.key = "margin",
     .type = CN_CONFIG_CUSTOM,
     .custom = &margin_custom,
     .want = MARGIN_WANT,
     .when = T_MARGIN,
     .set_at = CN_CONFIG_AT(cn_judge_metric_t, has_margin),
     .help = "the largest harmless change",
     MFIELD(margin)},
    {.key = "weight",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .opts = CN_CONFIG_LO_OPEN,
     .default_text = "1",
     .help = "its weight in the score",
     MFIELD(weight)},
    {.key = "group",
     .type = CN_CONFIG_STRING,
     .help = "a group declared in groups",
     MFIELD(group)},
    {.key = "critical",
     .type = CN_CONFIG_BOOL,
     .default_text = "false",
     .help = "a fail here fails the canary",
     MFIELD(critical)},
    {.key = "min_samples",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = UNBOUNDED,
     .opts = CN_CONFIG_ZERO_UNSETS,
     .help = "samples per arm needed to pass",
     MFIELD(min_samples)},
    {.key = "max_statistic",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .default_text = "0.1",
     .when = T(CN_JTEST_KS),
     .help = "KS: the tolerated distance; fail when shown above it",
     MFIELD(max_statistic)},
    {.key = "max_psi",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .opts = CN_CONFIG_LO_OPEN,
     .default_text = "0.2",
     .when = T(CN_JTEST_PSI),
     .help = "PSI: fail above this",
     MFIELD(max_psi)},
    {.key = "bins",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 2,
     .hi = 10000,
     .default_text = "10",
     .when = T(CN_JTEST_PSI),
     .help = "PSI: quantile bins",
     MFIELD(bins)},
    {.key = "statistic",
     .type = CN_CONFIG_ENUM,
     .names = boot_choices,
     .default_text = "mean",
     .when = T(CN_JTEST_BOOTSTRAP),
     .help = "bootstrap: the statistic compared",
     MFIELD(statistic)},
    {.key = "resamples",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 100,
     .hi = 10000000,
     .default_text = "2000",
     .when = T(CN_JTEST_BOOTSTRAP),
     .help = "bootstrap: resamples",
     MFIELD(resamples)},
    {.key = "seed",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 0,
     .hi = UINT64_MAX,
     .default_text = "1",
     .when = T(CN_JTEST_BOOTSTRAP),
     .help = "bootstrap: seed",
     MFIELD(seed)},
    {.key = "source",
     .type = CN_CONFIG_STRING,
     .when = T(CN_JTEST_THRESHOLD) | T(CN_JTEST_AGREEMENT),
     .help = "threshold, agreement: the metric whose samples are used",
     MFIELD(source)},
    {.key = "min_agreement",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .default_text = "0.99",
     .when = T(CN_JTEST_AGREEMENT),
     .help = "agreement: fail when the classes are shown to agree less often",
     MFIELD(min_agreement)},
    {.key = "class_threshold",
     .type = CN_CONFIG_DOUBLE,
     .dlo = -INFINITY,
     .dhi = INFINITY,
     .when = T(CN_JTEST_AGREEMENT),
     .set_at = CN_CONFIG_AT(cn_judge_metric_t, has_class_threshold),
     .help = "agreement: a score at or above this is class 1; unset: labels",
     MFIELD(class_threshold)},
    {.key = "quantile",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .default_text = "0.99",
     .when = T(CN_JTEST_THRESHOLD),
     .help = "threshold: the quantile gated",
     MFIELD(quantile)},
    {.key = "max",
     .type = CN_CONFIG_DOUBLE,
     .dlo = -INFINITY,
     .dhi = INFINITY,
     .when = T(CN_JTEST_THRESHOLD),
     .set_at = CN_CONFIG_AT(cn_judge_metric_t, has_max),
     .help = "threshold: limit on the canary's quantile",
     MFIELD(max)},
    {.key = "max_ratio",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .opts = CN_CONFIG_LO_OPEN,
     .when = T(CN_JTEST_THRESHOLD),
     .set_at = CN_CONFIG_AT(cn_judge_metric_t, has_max_ratio),
     .help = "threshold: limit on canary / stable",
     MFIELD(max_ratio)},
};

static int needs_margin(cn_judge_test_t t)
{
    return (T(t) & T_MARGIN) != 0;
}

/* The checks of one metric that need more than one key. */
static int metric_check(const void *record, char *path, size_t pathlen, int *line,
                        char *what, size_t len)
{
    const cn_judge_metric_t *m = record;
    (void)line;
    if (needs_margin(m->test) && !m->has_margin) {
        snprintf(path, pathlen, "margin");
        snprintf(what, len,
                 "required for test '%s' (e.g. 5%% of stable, or 2.5 in the metric's "
                 "unit)",
                 cn_judge_test_name(m->test));
        return CN_EINVAL;
    }
    if (m->test == CN_JTEST_THRESHOLD && !m->has_max && !m->has_max_ratio) {
        snprintf(path, pathlen, "%s", "");
        snprintf(what, len,
                 "test 'threshold' needs a limit: max (absolute) and/or max_ratio "
                 "(canary / stable)");
        return CN_EINVAL;
    }
    return 0;
}

static const cn_config_table_t metric_table = {
    .keys = metric_keys,
    .n_keys = COUNT(metric_keys),
    .size = sizeof(cn_judge_metric_t),
    .line_at = CN_CONFIG_AT(cn_judge_metric_t, line),
    .discriminator = "test",
    .item_want = "a mapping with name, test, ...",
    .check = metric_check,
};

static const cn_config_key_t group_keys[] = {
    {.key = "",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .opts = CN_CONFIG_LO_OPEN,
     .help = "the group's weight",
     .offset = offsetof(cn_judge_group_t, weight),
     .width = sizeof(double)},
};

static const cn_config_table_t group_table = {
    .keys = group_keys,
    .n_keys = COUNT(group_keys),
    .size = sizeof(cn_judge_group_t),
    .name_at = CN_CONFIG_AT(cn_judge_group_t, name),
};

#define SFIELD(f)                                                                      \
    .offset = offsetof(cn_judge_config_t, f),                                          \
    .width = sizeof(((cn_judge_config_t *)0)->f)

static const cn_config_key_t spec_keys[] = {
    {.key = "alpha",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .default_text = "0.05",
     .help = "false-rollback budget for the whole rollout",
     SFIELD(alpha)},
    {.key = "correction",
     .type = CN_CONFIG_ENUM,
     .names = adjust_choices,
     .default_text = "holm",
     .help = "multiple-testing correction",
     SFIELD(correction)},
    {.key = "thresholds.pass",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 100,
     .default_text = "95",
     .help = "score at or above which the canary passes",
     SFIELD(pass_score)},
    {.key = "thresholds.marginal",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 100,
     .default_text = "60",
     .help = "score at or below which a failing metric fails",
     SFIELD(marginal_score)},
    {.key = "segment_by",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE,
     .help = "judge each segment as well; ~ for none",
     SFIELD(segment_by)},
    {.key = "looks",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = 1000,
     .default_text = "1",
     .help = "planned analyses over the rollout",
     SFIELD(looks)},
    {.key = "power",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .default_text = "0.8",
     .help = "power for a derived min_samples",
     SFIELD(power)},
    {.key = "min_per_arm",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = UNBOUNDED,
     .default_text = "20",
     .help = "samples per arm below which a metric is nodata",
     SFIELD(min_per_arm)},
    {.key = "groups",
     .type = CN_CONFIG_MAP,
     .table = &group_table,
     .want = "a mapping of group name to weight",
     .help = "score groups and weights",
     SFIELD(groups),
     .count_offset = offsetof(cn_judge_config_t, n_groups)},
    {.key = "metrics",
     .type = CN_CONFIG_LIST,
     .table = &metric_table,
     .opts = CN_CONFIG_REQUIRED,
     .want = "a list of metrics",
     .help = "a list of metrics to judge",
     SFIELD(metrics),
     .count_offset = offsetof(cn_judge_config_t, n_metrics)},
};

/* The checks of the whole spec that need more than one key. */
static int spec_check(const void *record, char *path, size_t pathlen, int *line,
                      char *what, size_t len)
{
    const cn_judge_config_t *cfg = record;
    char q[QUOTE_BUF];
    if (cfg->marginal_score > cfg->pass_score) {
        snprintf(path, pathlen, "thresholds");
        snprintf(what, len, "marginal (%g) must be <= pass (%g)", cfg->marginal_score,
                 cfg->pass_score);
        return CN_EINVAL;
    }
    if (cfg->n_metrics == 0 || !cfg->metrics) {
        snprintf(path, pathlen, "metrics");
        snprintf(what, len, "at least one metric is required");
        return CN_EINVAL;
    }
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        const cn_judge_metric_t *m = &cfg->metrics[i];
        *line = m->line;
        for (size_t j = 0; j < i && m->name; j++) {
            const cn_judge_metric_t *o = &cfg->metrics[j];
            if (!o->name || strcmp(o->name, m->name) != 0)
                continue;
            snprintf(path, pathlen, "metrics[%zu].name", i);
            if (o->line > 0)
                snprintf(what, len, "duplicate metric name '%s' (first at line %d)",
                         cn_text_quote(m->name, strlen(m->name), QUOTE_MAX, q),
                         o->line);
            else
                snprintf(what, len, "duplicate metric name '%s' (also metrics[%zu])",
                         cn_text_quote(m->name, strlen(m->name), QUOTE_MAX, q), j);
            return CN_EINVAL;
        }
        if (m->group && cfg->n_groups > 0) {
            int declared = 0;
            for (size_t g = 0; g < cfg->n_groups && !declared; g++)
                declared =
                    cfg->groups[g].name && strcmp(cfg->groups[g].name, m->group) == 0;
            if (!declared) {
                snprintf(path, pathlen, "metrics[%zu].group", i);
                snprintf(what, len, "group '%s' is not declared in 'groups'",
                         cn_text_quote(m->group, strlen(m->group), QUOTE_MAX, q));
                return CN_EINVAL;
            }
        }
    }
    *line = 0;
    return 0;
}

static const cn_config_table_t spec_table = {
    .keys = spec_keys,
    .n_keys = COUNT(spec_keys),
    .size = sizeof(cn_judge_config_t),
    .check = spec_check,
};

const cn_config_table_t *cn_judge_config_table(void)
{
    return &spec_table;
}

/* ---------------------------------------------------------- defaults */

void cn_judge_config_init(cn_judge_config_t *cfg)
{
    cn_config_init(&spec_table, cfg);
}

void cn_judge_metric_init(cn_judge_metric_t *m)
{
    cn_config_init(&metric_table, m);
}

void cn_judge_config_dispose(cn_judge_config_t *cfg)
{
    if (cfg)
        cn_config_dispose(&spec_table, cfg);
}

/*
 * The stored copy owns the strings of *m. A threshold metric without a
 * source gates its own samples, so it gets a copy of its name: code that
 * reads the config never has to know that default.
 */
cn_judge_metric_t *cn_judge_config_add_metric(cn_judge_config_t *cfg,
                                              const cn_judge_metric_t *m)
{
    cfg->metrics =
        cn_xrealloc(cfg->metrics, (cfg->n_metrics + 1) * sizeof *cfg->metrics);
    cn_judge_metric_t *s = &cfg->metrics[cfg->n_metrics++];
    *s = *m;
    if ((s->test == CN_JTEST_THRESHOLD || s->test == CN_JTEST_AGREEMENT) &&
        !s->source && s->name)
        s->source = cn_xstrdup(s->name);
    return s;
}

/* ---------------------------------------------------------- validate */

int cn_judge_config_validate(const cn_judge_config_t *cfg, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    cn_config_problem_t p;
    if (!cn_config_check(&spec_table, cfg, &p))
        return 0;
    if (!err || !errlen)
        return CN_EINVAL;
    /* Without a file, name the metric (and its line when known). */
    char who[200] = "";
    size_t i;
    if (sscanf(p.path, "metrics[%zu]", &i) == 1 && i < cfg->n_metrics &&
        cfg->metrics[i].name) {
        if (p.line > 0)
            snprintf(who, sizeof who, " (metric '%.80s', line %d)",
                     cfg->metrics[i].name, p.line);
        else
            snprintf(who, sizeof who, " (metric '%.80s')", cfg->metrics[i].name);
    } else if (p.line > 0) {
        snprintf(who, sizeof who, " (line %d)", p.line);
    }
    snprintf(err, errlen, "key '%s'%s: %s", p.path, who, p.what);
    return CN_EINVAL;
}

/* --------------------------------------------------------- documents */

#define TOP_KEYS                                                                       \
    "alpha, correction, thresholds, segment_by, looks, power, min_per_arm, "           \
    "groups, metrics"

int cn_judge_config_read_section(cn_yaml_t *y, struct fy_document *doc,
                                 cn_judge_config_t *cfg)
{
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    char d[CN_YAML_DESCRIBE_BUF];
    if (!root || cn_yaml_is_null(root))
        return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(root, 1), NULL,
                              "empty config: expected a mapping with a 'metrics' list");
    if (!fy_node_is_mapping(root))
        return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(root, 1), NULL,
                              "the config must be a mapping of keys (%s), got %s",
                              TOP_KEYS, cn_yaml_describe(y, root, d));
    /* The analysis section of a full service config: the rest of the file
     * belongs to other components. */
    struct fy_node *section;
    int kline;
    int rc = cn_yaml_section(y, root, "analysis", TOP_KEYS, &section, &kline);
    if (rc)
        return rc;
    cn_config_part_t part = {&spec_table, cfg};
    if (!section)
        rc = cn_config_read(y, &part, 1, root, cn_yaml_node_line(root, 1));
    else {
        y->prefix = "analysis.";
        rc = cn_config_read(y, &part, 1, section, kline);
        y->prefix = "";
    }
    /* A threshold or agreement without a source uses its own name (see
     * add_metric). */
    for (size_t i = 0; !rc && i < cfg->n_metrics; i++) {
        cn_judge_metric_t *m = &cfg->metrics[i];
        if ((m->test == CN_JTEST_THRESHOLD || m->test == CN_JTEST_AGREEMENT) &&
            !m->source && m->name)
            m->source = cn_xstrdup(m->name);
    }
    return rc;
}

int cn_judge_config_parse(const char *text, size_t len, const char *filename,
                          cn_judge_config_t *out, char *err, size_t errlen)
{
    cn_judge_config_init(out);
    cn_yaml_t yaml;
    cn_yaml_init(&yaml, filename, err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&yaml, text, len, &doc);
    if (!rc)
        rc = cn_judge_config_read_section(&yaml, doc, out);
    cn_yaml_dispose(&yaml);
    if (rc) {
        cn_judge_config_dispose(out);
        cn_judge_config_init(out);
    }
    return rc;
}

int cn_judge_config_wants(const cn_judge_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_metrics; i++)
        if (strcmp(cfg->metrics[i].name, name) == 0 ||
            (cfg->metrics[i].source && strcmp(cfg->metrics[i].source, name) == 0))
            return 1;
    return 0;
}
