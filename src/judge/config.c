/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The judge's configuration: defaults, names of the enumerations, the
 * cross-field checks (judge.h) and the YAML parser (config.h).
 *
 * Every key is checked where it is read, so that the message can name the
 * file, the line and the key path ("metrics[2].margin"); checks that need
 * more than one key (a margin where the test needs one, unique names,
 * declared groups) live in one place, validate(), which the parser runs at
 * the end with the line numbers it recorded and which
 * cn_judge_config_validate() runs for configs built in code. The numeric
 * ranges are in one table of constants shared by both paths, so the parser
 * and the validator cannot disagree about what is allowed.
 *
 * YAML is read with libfyaml's document API through util/yaml.h, which
 * loads the document (working around libfyaml's bugs), turns its first
 * error into our one-line message, and reads keys and scalars. Typing
 * follows the YAML 1.2 core schema as far as it matters here: a quoted or
 * block scalar, or one tagged !!str, is a string, so `alpha: "0.05"` is
 * rejected as a string where a number is expected; booleans are true/false
 * (not yes/no). Aliases are followed (without copying, so no alias bomb can
 * blow up), merge keys ("<<") are not supported and are reported as
 * unknown keys.
 */
#include "judge/config.h"
#include "judge/judge.h"
#include "util/error.h"
#include "util/text.h"
#include "util/yaml.h"

#include <errno.h>
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
#define QUOTE_BUF (QUOTE_MAX + 8)

/* ------------------------------------------------------------ names */

static const struct {
    const char *name;
    cn_judge_test_t test;
} test_names[] = {
    {"mann-whitney", CN_JTEST_MWU},
    {"welch", CN_JTEST_WELCH},
    {"proportion", CN_JTEST_PROPORTION},
    {"ks", CN_JTEST_KS},
    {"psi", CN_JTEST_PSI},
    {"bootstrap", CN_JTEST_BOOTSTRAP},
    {"threshold", CN_JTEST_THRESHOLD},
};

static const struct {
    const char *name;
    cn_judge_dir_t dir;
} dir_names[] = {
    {"lower-is-better", CN_JDIR_LOWER},
    {"higher-is-better", CN_JDIR_HIGHER},
    {"either", CN_JDIR_EITHER},
};

int cn_judge_parse_test(const char *s, cn_judge_test_t *out)
{
    for (size_t i = 0; s && i < COUNT(test_names); i++) {
        if (strcmp(s, test_names[i].name) == 0) {
            *out = test_names[i].test;
            return 0;
        }
    }
    return CN_EINVAL;
}

const char *cn_judge_test_name(cn_judge_test_t t)
{
    for (size_t i = 0; i < COUNT(test_names); i++)
        if (test_names[i].test == t)
            return test_names[i].name;
    return "unknown";
}

int cn_judge_parse_direction(const char *s, cn_judge_dir_t *out)
{
    for (size_t i = 0; s && i < COUNT(dir_names); i++) {
        if (strcmp(s, dir_names[i].name) == 0) {
            *out = dir_names[i].dir;
            return 0;
        }
    }
    return CN_EINVAL;
}

const char *cn_judge_direction_name(cn_judge_dir_t d)
{
    for (size_t i = 0; i < COUNT(dir_names); i++)
        if (dir_names[i].dir == d)
            return dir_names[i].name;
    return "unknown";
}

/* ---------------------------------------------------------- defaults */

void cn_judge_config_init(cn_judge_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->alpha = 0.05;
    cfg->correction = CN_ADJUST_HOLM;
    cfg->pass_score = 95;
    cfg->marginal_score = 60;
    cfg->min_per_arm = 20;
    cfg->power = 0.8;
    cfg->looks = 1;
}

void cn_judge_metric_init(cn_judge_metric_t *m)
{
    memset(m, 0, sizeof *m);
    m->direction = CN_JDIR_LOWER;
    m->margin_kind = CN_MARGIN_ABSOLUTE;
    m->weight = 1;
    m->max_statistic = 0.1;
    m->max_psi = 0.2;
    m->bins = 10;
    m->statistic = CN_BOOT_MEAN;
    m->resamples = 2000;
    m->seed = 1;
    m->quantile = 0.99;
}

static void metric_dispose(cn_judge_metric_t *m)
{
    free(m->name);
    free(m->group);
    free(m->source);
    m->name = m->group = m->source = NULL;
}

void cn_judge_config_dispose(cn_judge_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_metrics; i++)
        metric_dispose(&cfg->metrics[i]);
    for (size_t i = 0; i < cfg->n_groups; i++)
        free(cfg->groups[i].name);
    free(cfg->metrics);
    free(cfg->groups);
    free(cfg->segment_by);
    cfg->metrics = NULL;
    cfg->groups = NULL;
    cfg->segment_by = NULL;
    cfg->n_metrics = cfg->n_groups = 0;
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
    if (s->test == CN_JTEST_THRESHOLD && !s->source && s->name)
        s->source = cn_xstrndup(s->name, strlen(s->name));
    return s;
}

static void add_group(cn_judge_config_t *cfg, char *name, double weight)
{
    cfg->groups = cn_xrealloc(cfg->groups, (cfg->n_groups + 1) * sizeof *cfg->groups);
    cfg->groups[cfg->n_groups].name = name;
    cfg->groups[cfg->n_groups].weight = weight;
    cfg->n_groups++;
}

/* ------------------------------------------------------------ ranges */

/* A closed or open interval of doubles; infinite ends are unbounded. */
typedef struct {
    double lo, hi;
    int lo_open, hi_open;
} range_t;

static const range_t R_PROBABILITY = {0, 1, 1, 1};        /* alpha, power, quantile */
static const range_t R_SCORE = {0, 100, 0, 0};            /* thresholds */
static const range_t R_POSITIVE = {0, INFINITY, 1, 0};    /* weights, ratios */
static const range_t R_NONNEGATIVE = {0, INFINITY, 0, 0}; /* margin */
static const range_t R_FINITE = {-INFINITY, INFINITY, 0, 0}; /* max */
static const range_t R_KS_STATISTIC = {0, 1, 0, 0};          /* D is in [0, 1] */

/* An interval of integers. */
typedef struct {
    uint64_t lo, hi;
} irange_t;

#define INT_UNBOUNDED ((uint64_t)1 << 53)
static const irange_t I_LOOKS = {1, 1000};
static const irange_t I_COUNT = {1, INT_UNBOUNDED};  /* min_per_arm, ... */
static const irange_t I_BINS = {2, 10000};           /* as cn_stats_psi */
static const irange_t I_RESAMPLES = {100, 10000000}; /* as the bootstrap */
static const irange_t I_SEED = {0, UINT64_MAX};

static int in_range(double v, const range_t *r)
{
    if (!isfinite(v))
        return 0;
    if (v < r->lo || (r->lo_open && v == r->lo))
        return 0;
    return !(v > r->hi || (r->hi_open && v == r->hi));
}

/* "in (0, 1)", "> 0", ">= 0" or "" (any finite number). */
static const char *range_text(const range_t *r, char *buf, size_t len)
{
    if (isinf(r->lo) && isinf(r->hi))
        snprintf(buf, len, "%s", "");
    else if (isinf(r->hi))
        snprintf(buf, len, "%s %g", r->lo_open ? ">" : ">=", r->lo);
    else
        snprintf(buf, len, "in %c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi,
                 r->hi_open ? ')' : ']');
    return buf;
}

static const char *irange_text(const irange_t *r, char *buf, size_t len)
{
    if (r->hi == UINT64_MAX && r->lo == 0)
        snprintf(buf, len, "a non-negative integer");
    else if (r->hi >= INT_UNBOUNDED)
        snprintf(buf, len, "an integer >= %llu", (unsigned long long)r->lo);
    else
        snprintf(buf, len, "an integer in [%llu, %llu]", (unsigned long long)r->lo,
                 (unsigned long long)r->hi);
    return buf;
}

/* ---------------------------------------------------------- messages */

typedef struct {
    cn_yaml_t *yaml; /* the file being parsed; NULL: a config built in code */
    char *err;       /* without yaml: where the message goes */
    size_t errlen;
} ctx_t;

/*
 * Write the one-line message. With a file: "FILE:LINE: key 'PATH': what"
 * (util/yaml.h). Without (cn_judge_config_validate on a config built in
 * code), the metric is named instead: "key 'PATH' (metric 'x', line 7):
 * what".
 */
static int report(const ctx_t *c, int rc, int line, const char *path,
                  const cn_judge_metric_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->yaml) {
        rc = cn_yaml_vreport(c->yaml, rc, line, path, fmt, ap);
        va_end(ap);
        return rc;
    }
    char what[512];
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!c->err || c->errlen == 0)
        return rc;
    char who[200] = "";
    if (m && m->name && line > 0)
        snprintf(who, sizeof who, " (metric '%.80s', line %d)", m->name, line);
    else if (m && m->name)
        snprintf(who, sizeof who, " (metric '%.80s')", m->name);
    else if (line > 0)
        snprintf(who, sizeof who, " (line %d)", line);
    if (path)
        snprintf(c->err, c->errlen, "key '%s'%s: %s", path, who, what);
    else
        snprintf(c->err, c->errlen, "%s", what);
    return rc;
}

/* Quote at most QUOTE_MAX bytes of s for a message (util/text.h). */
static const char *quote(const char *s, size_t len, char *buf)
{
    return cn_text_quote(s, len, QUOTE_MAX, buf);
}

/* ---------------------------------------------------------- validate */

static const char *metric_key_path(char *buf, size_t len, size_t i, const char *key)
{
    if (key)
        snprintf(buf, len, "metrics[%zu].%s", i, key);
    else
        snprintf(buf, len, "metrics[%zu]", i);
    return buf;
}

static int needs_margin(cn_judge_test_t t)
{
    return t == CN_JTEST_MWU || t == CN_JTEST_WELCH || t == CN_JTEST_PROPORTION ||
           t == CN_JTEST_BOOTSTRAP;
}

/* Check one numeric field of a metric against its range. */
#define CHECK_RANGE(field, key, range)                                                 \
    do {                                                                               \
        if (!in_range(m->field, &(range)))                                             \
            return report(c, CN_EINVAL, m->line,                                       \
                          metric_key_path(path, sizeof path, i, key), m,               \
                          "must be a number %s, got %g",                               \
                          range_text(&(range), rt, sizeof rt), m->field);              \
    } while (0)

#define CHECK_IRANGE(field, key, range)                                                \
    do {                                                                               \
        if ((uint64_t)m->field < (range).lo || (uint64_t)m->field > (range).hi)        \
            return report(                                                             \
                c, CN_EINVAL, m->line, metric_key_path(path, sizeof path, i, key), m,  \
                "must be %s, got %llu", irange_text(&(range), rt, sizeof rt),          \
                (unsigned long long)m->field);                                         \
    } while (0)

static int validate_metric(const ctx_t *c, const cn_judge_config_t *cfg, size_t i)
{
    const cn_judge_metric_t *m = &cfg->metrics[i];
    char path[96], rt[64];
    if (!m->name || !*m->name)
        return report(c, CN_EINVAL, m->line,
                      metric_key_path(path, sizeof path, i, "name"), m,
                      "required: the metric's name in the data");
    if ((unsigned)m->test > CN_JTEST_THRESHOLD)
        return report(c, CN_EINVAL, m->line,
                      metric_key_path(path, sizeof path, i, "test"), m,
                      "unknown test %d", (int)m->test);
    if ((unsigned)m->direction > CN_JDIR_EITHER)
        return report(c, CN_EINVAL, m->line,
                      metric_key_path(path, sizeof path, i, "direction"), m,
                      "unknown direction %d", (int)m->direction);
    for (size_t j = 0; j < i; j++) {
        if (cfg->metrics[j].name && strcmp(cfg->metrics[j].name, m->name) == 0) {
            char q[QUOTE_BUF];
            if (cfg->metrics[j].line > 0)
                return report(c, CN_EINVAL, m->line,
                              metric_key_path(path, sizeof path, i, "name"), m,
                              "duplicate metric name '%s' (first at line %d)",
                              quote(m->name, strlen(m->name), q), cfg->metrics[j].line);
            return report(c, CN_EINVAL, m->line,
                          metric_key_path(path, sizeof path, i, "name"), m,
                          "duplicate metric name '%s' (also metrics[%zu])",
                          quote(m->name, strlen(m->name), q), j);
        }
    }
    if (needs_margin(m->test) && !m->has_margin)
        return report(c, CN_EINVAL, m->line,
                      metric_key_path(path, sizeof path, i, "margin"), m,
                      "required for test '%s' (e.g. 5%% of stable, or 2.5 in "
                      "the metric's unit)",
                      cn_judge_test_name(m->test));
    if (m->has_margin)
        CHECK_RANGE(margin, "margin", R_NONNEGATIVE);
    CHECK_RANGE(weight, "weight", R_POSITIVE);
    if (m->min_samples != 0)
        CHECK_IRANGE(min_samples, "min_samples", I_COUNT);
    switch (m->test) {
    case CN_JTEST_KS:
        CHECK_RANGE(max_statistic, "max_statistic", R_KS_STATISTIC);
        break;
    case CN_JTEST_PSI:
        CHECK_RANGE(max_psi, "max_psi", R_POSITIVE);
        CHECK_IRANGE(bins, "bins", I_BINS);
        break;
    case CN_JTEST_BOOTSTRAP:
        if ((unsigned)m->statistic > CN_BOOT_P99)
            return report(c, CN_EINVAL, m->line,
                          metric_key_path(path, sizeof path, i, "statistic"), m,
                          "unknown statistic %d", (int)m->statistic);
        CHECK_IRANGE(resamples, "resamples", I_RESAMPLES);
        break;
    case CN_JTEST_THRESHOLD:
        CHECK_RANGE(quantile, "quantile", R_PROBABILITY);
        if (!m->has_max && !m->has_max_ratio)
            return report(c, CN_EINVAL, m->line,
                          metric_key_path(path, sizeof path, i, NULL), m,
                          "test 'threshold' needs a limit: max (absolute) "
                          "and/or max_ratio (canary / stable)");
        if (m->has_max)
            CHECK_RANGE(max, "max", R_FINITE);
        if (m->has_max_ratio)
            CHECK_RANGE(max_ratio, "max_ratio", R_POSITIVE);
        if (m->source && !*m->source)
            return report(c, CN_EINVAL, m->line,
                          metric_key_path(path, sizeof path, i, "source"), m,
                          "must not be empty");
        break;
    default:
        break;
    }
    if (m->group) {
        if (!*m->group)
            return report(c, CN_EINVAL, m->line,
                          metric_key_path(path, sizeof path, i, "group"), m,
                          "must not be empty");
        int declared = cfg->n_groups == 0;
        for (size_t g = 0; g < cfg->n_groups && !declared; g++)
            declared =
                cfg->groups[g].name && strcmp(cfg->groups[g].name, m->group) == 0;
        if (!declared) {
            char q[QUOTE_BUF];
            return report(c, CN_EINVAL, m->line,
                          metric_key_path(path, sizeof path, i, "group"), m,
                          "group '%s' is not declared in 'groups'",
                          quote(m->group, strlen(m->group), q));
        }
    }
    return 0;
}

static int validate(const ctx_t *c, const cn_judge_config_t *cfg)
{
    char rt[64];
    if (!in_range(cfg->alpha, &R_PROBABILITY))
        return report(c, CN_EINVAL, 0, "alpha", NULL, "must be a number %s, got %g",
                      range_text(&R_PROBABILITY, rt, sizeof rt), cfg->alpha);
    if ((unsigned)cfg->correction > CN_ADJUST_BH)
        return report(c, CN_EINVAL, 0, "correction", NULL, "unknown method %d",
                      (int)cfg->correction);
    if (!in_range(cfg->pass_score, &R_SCORE))
        return report(c, CN_EINVAL, 0, "thresholds.pass", NULL,
                      "must be a number %s, got %g",
                      range_text(&R_SCORE, rt, sizeof rt), cfg->pass_score);
    if (!in_range(cfg->marginal_score, &R_SCORE))
        return report(c, CN_EINVAL, 0, "thresholds.marginal", NULL,
                      "must be a number %s, got %g",
                      range_text(&R_SCORE, rt, sizeof rt), cfg->marginal_score);
    if (cfg->marginal_score > cfg->pass_score)
        return report(c, CN_EINVAL, 0, "thresholds", NULL,
                      "marginal (%g) must be <= pass (%g)", cfg->marginal_score,
                      cfg->pass_score);
    if (cfg->min_per_arm < I_COUNT.lo || cfg->min_per_arm > I_COUNT.hi)
        return report(c, CN_EINVAL, 0, "min_per_arm", NULL, "must be %s, got %zu",
                      irange_text(&I_COUNT, rt, sizeof rt), cfg->min_per_arm);
    if (!in_range(cfg->power, &R_PROBABILITY))
        return report(c, CN_EINVAL, 0, "power", NULL, "must be a number %s, got %g",
                      range_text(&R_PROBABILITY, rt, sizeof rt), cfg->power);
    if (cfg->looks < I_LOOKS.lo || cfg->looks > I_LOOKS.hi)
        return report(c, CN_EINVAL, 0, "looks", NULL, "must be %s, got %u",
                      irange_text(&I_LOOKS, rt, sizeof rt), cfg->looks);
    if (cfg->segment_by && !*cfg->segment_by)
        return report(c, CN_EINVAL, 0, "segment_by", NULL, "must not be empty");
    for (size_t g = 0; g < cfg->n_groups; g++) {
        char path[96];
        const cn_judge_group_t *gr = &cfg->groups[g];
        if (!gr->name || !*gr->name)
            return report(c, CN_EINVAL, 0, "groups", NULL, "group %zu has no name", g);
        snprintf(path, sizeof path, "groups.%.60s", gr->name);
        if (!in_range(gr->weight, &R_POSITIVE))
            return report(c, CN_EINVAL, 0, path, NULL, "must be a number %s, got %g",
                          range_text(&R_POSITIVE, rt, sizeof rt), gr->weight);
        for (size_t h = 0; h < g; h++)
            if (cfg->groups[h].name && strcmp(cfg->groups[h].name, gr->name) == 0)
                return report(c, CN_EINVAL, 0, path, NULL, "duplicate group");
    }
    if (cfg->n_metrics == 0 || !cfg->metrics)
        return report(c, CN_EINVAL, 0, "metrics", NULL,
                      "at least one metric is required");
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        int rc = validate_metric(c, cfg, i);
        if (rc)
            return rc;
    }
    return 0;
}

int cn_judge_config_validate(const cn_judge_config_t *cfg, char *err, size_t errlen)
{
    ctx_t c = {.yaml = NULL, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    return validate(&c, cfg);
}

/* -------------------------------------------------------- YAML nodes */

static int get_real(const ctx_t *c, struct fy_node *n, int line, const char *path,
                    const range_t *r, double *out)
{
    char rt[64], want[96];
    range_text(r, rt, sizeof rt);
    snprintf(want, sizeof want, "a number%s%s", *rt ? " " : "", rt);
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(c->yaml, n, line, path, want, 0, &s);
    if (rc)
        return rc;
    char q[QUOTE_BUF];
    double v;
    if (s.is_string)
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got the string '%s'",
                    want, quote(s.text, strlen(s.text), q));
    else if (cn_text_to_double(s.text, &v))
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got '%s'", want,
                    quote(s.text, strlen(s.text), q));
    else if (!in_range(v, r))
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got '%s'", rt,
                    quote(s.text, strlen(s.text), q));
    else
        *out = v;
    free(s.text);
    return rc;
}

static int get_uint(const ctx_t *c, struct fy_node *n, int line, const char *path,
                    const irange_t *r, uint64_t *out)
{
    char want[96];
    irange_text(r, want, sizeof want);
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(c->yaml, n, line, path, want, 0, &s);
    if (rc)
        return rc;
    char q[QUOTE_BUF];
    const char *p = s.text;
    errno = 0;
    char *end = NULL;
    unsigned long long v = 0;
    int digits = *p >= '0' && *p <= '9';
    if (digits)
        v = strtoull(p, &end, 10);
    if (s.is_string)
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got the string '%s'",
                    want, quote(s.text, strlen(s.text), q));
    else if (!digits || *end != '\0' || errno == ERANGE || v < r->lo || v > r->hi)
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got '%s'", want,
                    quote(s.text, strlen(s.text), q));
    else
        *out = (uint64_t)v;
    free(s.text);
    return rc;
}

static int get_bool(const ctx_t *c, struct fy_node *n, int line, const char *path,
                    int *out)
{
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(c->yaml, n, line, path, "true or false", 0, &s);
    if (rc)
        return rc;
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    int v = -1;
    for (size_t i = 0; i < COUNT(yes) && !s.is_string; i++) {
        if (strcmp(s.text, yes[i]) == 0)
            v = 1;
        if (strcmp(s.text, no[i]) == 0)
            v = 0;
    }
    char q[QUOTE_BUF];
    if (v < 0)
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be true or false, got '%s'",
                    quote(s.text, strlen(s.text), q));
    else
        *out = v;
    free(s.text);
    return rc;
}

/* A non-empty string; *out (owned) replaces and frees any previous value. */
static int get_string(const ctx_t *c, struct fy_node *n, int line, const char *path,
                      char **out)
{
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(c->yaml, n, line, path, "a string", 0, &s);
    if (rc)
        return rc;
    if (!*s.text) {
        free(s.text);
        return report(c, CN_EINVAL, s.line, path, NULL, "must not be empty");
    }
    free(*out);
    *out = s.text;
    return 0;
}

/* A string that must be one of a fixed set of names. */
static int get_choice(const ctx_t *c, struct fy_node *n, int line, const char *path,
                      const char *choices, int (*parse)(const char *, void *),
                      void *out)
{
    char want[160];
    snprintf(want, sizeof want, "one of %s", choices);
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(c->yaml, n, line, path, want, 0, &s);
    if (rc)
        return rc;
    char q[QUOTE_BUF];
    if (parse(s.text, out))
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be one of %s, got '%s'",
                    choices, quote(s.text, strlen(s.text), q));
    free(s.text);
    return rc;
}

static int parse_test_cb(const char *s, void *out)
{
    return cn_judge_parse_test(s, out);
}
static int parse_dir_cb(const char *s, void *out)
{
    return cn_judge_parse_direction(s, out);
}
static int parse_adjust_cb(const char *s, void *out)
{
    return cn_stats_parse_adjust(s, out);
}
static int parse_boot_cb(const char *s, void *out)
{
    return cn_stats_parse_boot_stat(s, out);
}

#define TEST_CHOICES "mann-whitney, welch, proportion, ks, psi, bootstrap, threshold"

static int unknown_key(const ctx_t *c, int line, const char *parent, const char *key,
                       size_t len, const char *expected)
{
    char q[QUOTE_BUF], path[160];
    quote(key, len, q);
    if (*parent)
        snprintf(path, sizeof path, "%s.%s", parent, q);
    else
        snprintf(path, sizeof path, "%s", q);
    return report(c, CN_EINVAL, line, path, NULL, "unknown key (expected one of %s)",
                  expected);
}

/* ----------------------------------------------------------- metrics */

enum {
    MK_NAME,
    MK_TEST,
    MK_DIRECTION,
    MK_MARGIN,
    MK_WEIGHT,
    MK_GROUP,
    MK_CRITICAL,
    MK_MIN_SAMPLES,
    MK_MAX_STATISTIC,
    MK_MAX_PSI,
    MK_BINS,
    MK_STATISTIC,
    MK_RESAMPLES,
    MK_SEED,
    MK_SOURCE,
    MK_QUANTILE,
    MK_MAX,
    MK_MAX_RATIO,
};

#define T(x) (1u << (x))
#define T_ALL 0x7fu
#define T_MARGIN                                                                       \
    (T(CN_JTEST_MWU) | T(CN_JTEST_WELCH) | T(CN_JTEST_PROPORTION) |                    \
     T(CN_JTEST_BOOTSTRAP))

/* Which tests use each key; any other use is an error, so that a key
 * meant for another test is not silently ignored. */
static const struct {
    const char *name;
    unsigned tests;
} metric_keys[] = {
    [MK_NAME] = {"name", T_ALL},
    [MK_TEST] = {"test", T_ALL},
    [MK_DIRECTION] = {"direction", T_MARGIN},
    [MK_MARGIN] = {"margin", T_MARGIN},
    [MK_WEIGHT] = {"weight", T_ALL},
    [MK_GROUP] = {"group", T_ALL},
    [MK_CRITICAL] = {"critical", T_ALL},
    [MK_MIN_SAMPLES] = {"min_samples", T_ALL},
    [MK_MAX_STATISTIC] = {"max_statistic", T(CN_JTEST_KS)},
    [MK_MAX_PSI] = {"max_psi", T(CN_JTEST_PSI)},
    [MK_BINS] = {"bins", T(CN_JTEST_PSI)},
    [MK_STATISTIC] = {"statistic", T(CN_JTEST_BOOTSTRAP)},
    [MK_RESAMPLES] = {"resamples", T(CN_JTEST_BOOTSTRAP)},
    [MK_SEED] = {"seed", T(CN_JTEST_BOOTSTRAP)},
    [MK_SOURCE] = {"source", T(CN_JTEST_THRESHOLD)},
    [MK_QUANTILE] = {"quantile", T(CN_JTEST_THRESHOLD)},
    [MK_MAX] = {"max", T(CN_JTEST_THRESHOLD)},
    [MK_MAX_RATIO] = {"max_ratio", T(CN_JTEST_THRESHOLD)},
};

#define METRIC_KEYS                                                                    \
    "name, test, direction, margin, weight, group, critical, min_samples, "            \
    "max_statistic, max_psi, bins, statistic, resamples, seed, source, "               \
    "quantile, max, max_ratio"

/* "mann-whitney, welch" for a mask of tests. */
static const char *tests_text(unsigned mask, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(test_names); i++) {
        if (!(mask & T(test_names[i].test)))
            continue;
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", test_names[i].name);
    }
    return buf;
}

static int parse_margin(const ctx_t *c, struct fy_node *n, int line, const char *path,
                        cn_judge_metric_t *m)
{
    static const char want[] =
        "a number >= 0 (in the metric's unit) or a percentage of stable such as 5%";
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(c->yaml, n, line, path, want, 0, &s);
    if (rc)
        return rc;
    char q[QUOTE_BUF];
    double v;
    size_t len = strlen(s.text);
    /* "-5%" and "-1" read as numbers but are out of range. */
    char *num = cn_xstrndup(s.text, len && s.text[len - 1] == '%' ? len - 1 : len);
    if (cn_stats_parse_margin(s.text, &m->margin, &m->margin_kind) == 0 &&
        strchr("+.0123456789", s.text[0]) && !strpbrk(s.text, "xX"))
        m->has_margin = 1;
    else if (cn_text_to_double(num, &v) == 0 && v < 0)
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be >= 0, got '%s'",
                    quote(s.text, len, q));
    else
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got '%s'", want,
                    quote(s.text, len, q));
    free(num);
    free(s.text);
    return rc;
}

static int parse_metric_key(const ctx_t *c, int k, struct fy_node *v, int line,
                            const char *path, cn_judge_metric_t *m)
{
    uint64_t u;
    int rc;
    switch (k) {
    case MK_NAME:
        return get_string(c, v, line, path, &m->name);
    case MK_TEST:
        return 0; /* read first, by parse_metric */
    case MK_DIRECTION:
        return get_choice(c, v, line, path, "lower-is-better, higher-is-better, either",
                          parse_dir_cb, &m->direction);
    case MK_MARGIN:
        return parse_margin(c, v, line, path, m);
    case MK_WEIGHT:
        return get_real(c, v, line, path, &R_POSITIVE, &m->weight);
    case MK_GROUP:
        return get_string(c, v, line, path, &m->group);
    case MK_CRITICAL:
        return get_bool(c, v, line, path, &m->critical);
    case MK_MIN_SAMPLES:
        if ((rc = get_uint(c, v, line, path, &I_COUNT, &u)) == 0)
            m->min_samples = (size_t)u;
        return rc;
    case MK_MAX_STATISTIC:
        return get_real(c, v, line, path, &R_KS_STATISTIC, &m->max_statistic);
    case MK_MAX_PSI:
        return get_real(c, v, line, path, &R_POSITIVE, &m->max_psi);
    case MK_BINS:
        if ((rc = get_uint(c, v, line, path, &I_BINS, &u)) == 0)
            m->bins = (size_t)u;
        return rc;
    case MK_STATISTIC:
        return get_choice(c, v, line, path, "mean, median, p95, p99", parse_boot_cb,
                          &m->statistic);
    case MK_RESAMPLES:
        if ((rc = get_uint(c, v, line, path, &I_RESAMPLES, &u)) == 0)
            m->resamples = (size_t)u;
        return rc;
    case MK_SEED:
        return get_uint(c, v, line, path, &I_SEED, &m->seed);
    case MK_SOURCE:
        return get_string(c, v, line, path, &m->source);
    case MK_QUANTILE:
        return get_real(c, v, line, path, &R_PROBABILITY, &m->quantile);
    case MK_MAX:
        if ((rc = get_real(c, v, line, path, &R_FINITE, &m->max)) == 0)
            m->has_max = 1;
        return rc;
    case MK_MAX_RATIO:
        if ((rc = get_real(c, v, line, path, &R_POSITIVE, &m->max_ratio)) == 0)
            m->has_max_ratio = 1;
        return rc;
    }
    return CN_EINVAL;
}

/*
 * One item of `metrics`. The test is read first, whatever its position in
 * the mapping, because it decides which other keys are allowed.
 */
static int parse_metric(const ctx_t *c, struct fy_node *n, size_t idx, int line,
                        cn_judge_config_t *cfg)
{
    char path[160], d[CN_YAML_DESCRIBE_BUF];
    int rc = 0;
    metric_key_path(path, sizeof path, idx, NULL);
    line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(c->yaml, n, line, path, &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return report(c, CN_EINVAL, line, path, NULL,
                      "must be a mapping with name, test, ..., got %s",
                      cn_yaml_describe(c->yaml, n, d));
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.line = line;

    void *it = NULL;
    struct fy_node_pair *p;
    int have_test = 0;
    while (!rc && (p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = cn_yaml_get_key(c->yaml, p, line, path, &key, &klen, &kline)))
            break;
        if (cn_yaml_key_is(key, klen, "test")) {
            metric_key_path(path, sizeof path, idx, "test");
            rc = get_choice(c, fy_node_pair_value(p), kline, path, TEST_CHOICES,
                            parse_test_cb, &m.test);
            have_test = 1;
        }
    }
    if (!rc && !have_test)
        rc = report(c, CN_EINVAL, line, metric_key_path(path, sizeof path, idx, "test"),
                    NULL, "required: one of " TEST_CHOICES);

    it = NULL;
    while (!rc && (p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = cn_yaml_get_key(c->yaml, p, line,
                                  metric_key_path(path, sizeof path, idx, NULL), &key,
                                  &klen, &kline)))
            break;
        int k = -1;
        for (size_t i = 0; i < COUNT(metric_keys) && k < 0; i++)
            if (cn_yaml_key_is(key, klen, metric_keys[i].name))
                k = (int)i;
        if (k < 0) {
            rc = unknown_key(c, kline, path, key, klen, METRIC_KEYS);
            break;
        }
        metric_key_path(path, sizeof path, idx, metric_keys[k].name);
        if (!(metric_keys[k].tests & T(m.test))) {
            char tt[160];
            rc =
                report(c, CN_EINVAL, kline, path, NULL,
                       "not used by test '%s' (only by %s)", cn_judge_test_name(m.test),
                       tests_text(metric_keys[k].tests, tt, sizeof tt));
            break;
        }
        rc = parse_metric_key(c, k, fy_node_pair_value(p), kline, path, &m);
    }
    if (rc) {
        metric_dispose(&m);
        return rc;
    }
    cn_judge_config_add_metric(cfg, &m);
    return 0;
}

static int parse_metrics(const ctx_t *c, struct fy_node *n, int line,
                         cn_judge_config_t *cfg)
{
    int rc = 0;
    char d[CN_YAML_DESCRIBE_BUF];
    line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(c->yaml, n, line, "metrics", &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_sequence(n))
        return report(c, CN_EINVAL, line, "metrics", NULL,
                      "must be a list of metrics, got %s",
                      cn_yaml_describe(c->yaml, n, d));
    void *it = NULL;
    struct fy_node *item;
    size_t idx = 0;
    while ((item = fy_node_sequence_iterate(n, &it)))
        if ((rc = parse_metric(c, item, idx++, line, cfg)))
            return rc;
    if (idx == 0)
        return report(c, CN_EINVAL, line, "metrics", NULL,
                      "at least one metric is required");
    return 0;
}

/* ---------------------------------------------------- top-level keys */

static int parse_thresholds(const ctx_t *c, struct fy_node *n, int line,
                            cn_judge_config_t *cfg)
{
    int rc = 0;
    char d[CN_YAML_DESCRIBE_BUF];
    n = cn_yaml_deref(c->yaml, n, line, "thresholds", &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return report(c, CN_EINVAL, cn_yaml_node_line(n, line), "thresholds", NULL,
                      "must be a mapping {pass: 95, marginal: 60}, got %s",
                      cn_yaml_describe(c->yaml, n, d));
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = cn_yaml_get_key(c->yaml, p, line, "thresholds", &key, &klen, &kline)))
            return rc;
        if (cn_yaml_key_is(key, klen, "pass"))
            rc = get_real(c, fy_node_pair_value(p), kline, "thresholds.pass", &R_SCORE,
                          &cfg->pass_score);
        else if (cn_yaml_key_is(key, klen, "marginal"))
            rc = get_real(c, fy_node_pair_value(p), kline, "thresholds.marginal",
                          &R_SCORE, &cfg->marginal_score);
        else
            rc = unknown_key(c, kline, "thresholds", key, klen, "pass, marginal");
        if (rc)
            return rc;
    }
    if (cfg->marginal_score > cfg->pass_score)
        return report(c, CN_EINVAL, line, "thresholds", NULL,
                      "marginal (%g) must be <= pass (%g)", cfg->marginal_score,
                      cfg->pass_score);
    return 0;
}

static int parse_groups(const ctx_t *c, struct fy_node *n, int line,
                        cn_judge_config_t *cfg)
{
    int rc = 0;
    char d[CN_YAML_DESCRIBE_BUF];
    n = cn_yaml_deref(c->yaml, n, line, "groups", &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return report(c, CN_EINVAL, cn_yaml_node_line(n, line), "groups", NULL,
                      "must be a mapping of group name to weight, got %s",
                      cn_yaml_describe(c->yaml, n, d));
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = cn_yaml_get_key(c->yaml, p, line, "groups", &key, &klen, &kline)))
            return rc;
        char q[QUOTE_BUF], path[96];
        snprintf(path, sizeof path, "groups.%s", quote(key, klen, q));
        if (klen == 0 || memchr(key, '\0', klen))
            return report(c, CN_EINVAL, kline, path, NULL,
                          "a group name must be a non-empty string");
        double w;
        if ((rc = get_real(c, fy_node_pair_value(p), kline, path, &R_POSITIVE, &w)))
            return rc;
        add_group(cfg, cn_xstrndup(key, klen), w);
    }
    return 0;
}

#define TOP_KEYS                                                                       \
    "alpha, correction, thresholds, segment_by, looks, power, min_per_arm, "           \
    "groups, metrics"

static int parse_spec(const ctx_t *c, struct fy_node *map, int line,
                      cn_judge_config_t *cfg)
{
    void *it = NULL;
    struct fy_node_pair *p;
    int rc = 0, have_metrics = 0;
    uint64_t u;
    while (!rc && (p = fy_node_mapping_iterate(map, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = cn_yaml_get_key(c->yaml, p, line, "", &key, &klen, &kline)))
            break;
        struct fy_node *v = fy_node_pair_value(p);
        if (cn_yaml_key_is(key, klen, "alpha")) {
            rc = get_real(c, v, kline, "alpha", &R_PROBABILITY, &cfg->alpha);
        } else if (cn_yaml_key_is(key, klen, "correction")) {
            rc = get_choice(c, v, kline, "correction", "none, bonferroni, holm, bh",
                            parse_adjust_cb, &cfg->correction);
        } else if (cn_yaml_key_is(key, klen, "thresholds")) {
            rc = parse_thresholds(c, v, kline, cfg);
        } else if (cn_yaml_key_is(key, klen, "segment_by")) {
            /* null turns segments off, e.g. in an override file */
            if (cn_yaml_is_null(v)) {
                free(cfg->segment_by);
                cfg->segment_by = NULL;
            } else {
                rc = get_string(c, v, kline, "segment_by", &cfg->segment_by);
            }
        } else if (cn_yaml_key_is(key, klen, "looks")) {
            if ((rc = get_uint(c, v, kline, "looks", &I_LOOKS, &u)) == 0)
                cfg->looks = (unsigned)u;
        } else if (cn_yaml_key_is(key, klen, "power")) {
            rc = get_real(c, v, kline, "power", &R_PROBABILITY, &cfg->power);
        } else if (cn_yaml_key_is(key, klen, "min_per_arm")) {
            if ((rc = get_uint(c, v, kline, "min_per_arm", &I_COUNT, &u)) == 0)
                cfg->min_per_arm = (size_t)u;
        } else if (cn_yaml_key_is(key, klen, "groups")) {
            rc = parse_groups(c, v, kline, cfg);
        } else if (cn_yaml_key_is(key, klen, "metrics")) {
            have_metrics = 1;
            rc = parse_metrics(c, v, kline, cfg);
        } else {
            rc = unknown_key(c, kline, "", key, klen, TOP_KEYS);
        }
    }
    if (!rc && !have_metrics)
        rc = report(c, CN_EINVAL, line, "metrics", NULL,
                    "required: a list of metrics to judge");
    return rc;
}

/* --------------------------------------------------------- documents */

/*
 * Parse the spec in doc (NULL: the text held no document): the root
 * mapping, or its `analysis` section, in which case the key paths of every
 * later message, those of validate() included, start with "analysis.".
 */
static int parse_document(const ctx_t *c, struct fy_document *doc,
                          cn_judge_config_t *cfg)
{
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    char d[CN_YAML_DESCRIBE_BUF];
    if (!root || cn_yaml_is_null(root))
        return report(c, CN_EINVAL, cn_yaml_node_line(root, 1), NULL, NULL,
                      "empty config: expected a mapping with a 'metrics' list");
    if (!fy_node_is_mapping(root))
        return report(c, CN_EINVAL, cn_yaml_node_line(root, 1), NULL, NULL,
                      "the config must be a mapping of keys (%s), got %s", TOP_KEYS,
                      cn_yaml_describe(c->yaml, root, d));
    /* The analysis section of a full service config: the rest of the file
     * belongs to other components. */
    struct fy_node *section;
    int kline;
    int rc = cn_yaml_section(c->yaml, root, "analysis", TOP_KEYS, &section, &kline);
    if (rc)
        return rc;
    if (!section)
        return parse_spec(c, root, cn_yaml_node_line(root, 1), cfg);
    c->yaml->prefix = "analysis.";
    return parse_spec(c, section, kline, cfg);
}

int cn_judge_config_parse(const char *text, size_t len, const char *filename,
                          cn_judge_config_t *out, char *err, size_t errlen)
{
    cn_judge_config_init(out);
    cn_yaml_t yaml;
    cn_yaml_init(&yaml, filename, err, errlen);
    ctx_t c = {.yaml = &yaml, .err = err, .errlen = errlen};
    struct fy_document *doc;
    int rc = cn_yaml_load(&yaml, text, len, &doc);
    if (!rc)
        rc = parse_document(&c, doc, out);
    /* Cross-field checks, with the lines recorded for each metric. */
    if (!rc)
        rc = validate(&c, out);
    cn_yaml_dispose(&yaml);
    if (rc) {
        cn_judge_config_dispose(out);
        cn_judge_config_init(out);
    }
    return rc;
}
