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
 * YAML is read with libfyaml's document API. Its own diagnostics are
 * collected into a private diag object rather than printed, and the first
 * error becomes our one-line message. Typing follows the YAML 1.2 core
 * schema as far as it matters here: a quoted or block scalar, or one tagged
 * !!str, is a string, so `alpha: "0.05"` is rejected as a string where a
 * number is expected; booleans are true/false (not yes/no). Aliases are
 * followed (without copying, so no alias bomb can blow up), merge keys
 * ("<<") are not supported and are reported as unknown keys. Two checks
 * run before libfyaml sees the text, because it hangs or goes quadratic
 * without them: the text must be UTF-8, and directives are limited to
 * short %YAML and %TAG lines (see check_utf8 and check_directives).
 */
#include "judge/config.h"
#include "judge/judge.h"
#include "util/error.h"
#include "util/text.h"

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
#define QUOTE_MAX 40
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

static char *xstrndup(const char *s, size_t n)
{
    char *d = cn_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
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
        s->source = xstrndup(s->name, strlen(s->name));
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

/* Strings made while parsing, freed together at the end. */
typedef struct {
    char **items;
    size_t n;
} pool_t;

typedef struct {
    const char *file;   /* NULL: a config built in code */
    const char *prefix; /* "" or "analysis." */
    char *err;
    size_t errlen;
    const char *src; /* the YAML text being parsed, and its length */
    size_t src_len;
    pool_t *pool;
} ctx_t;

/*
 * Write the one-line message. With a file: "FILE:LINE: key 'PATH': what".
 * Without (cn_judge_config_validate on a config built in code), the metric
 * is named instead: "key 'PATH' (metric 'x', line 7): what".
 */
static int report(const ctx_t *c, int rc, int line, const char *path,
                  const cn_judge_metric_t *m, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!c->err || c->errlen == 0)
        return rc;
    if (c->file) {
        char loc[320];
        if (line > 0)
            snprintf(loc, sizeof loc, "%s:%d: ", c->file, line);
        else
            snprintf(loc, sizeof loc, "%s: ", c->file);
        if (path)
            snprintf(c->err, c->errlen, "%skey '%s%s': %s", loc, c->prefix, path, what);
        else
            snprintf(c->err, c->errlen, "%s%s", loc, what);
        return rc;
    }
    char who[200] = "";
    if (m && m->name && line > 0)
        snprintf(who, sizeof who, " (metric '%.80s', line %d)", m->name, line);
    else if (m && m->name)
        snprintf(who, sizeof who, " (metric '%.80s')", m->name);
    else if (line > 0)
        snprintf(who, sizeof who, " (line %d)", line);
    if (path)
        snprintf(c->err, c->errlen, "key '%s%s'%s: %s", c->prefix, path, who, what);
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
    ctx_t c = {.file = NULL,
               .prefix = "",
               .err = err,
               .errlen = errlen,
               .src = NULL,
               .src_len = 0,
               .pool = NULL};
    if (err && errlen)
        err[0] = '\0';
    return validate(&c, cfg);
}

/* -------------------------------------------------------- YAML nodes */

static const char *const yaml_core_tags[] = {
    "tag:yaml.org,2002:int",  "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",   "tag:yaml.org,2002:seq",
};

/* Line (1-based) where a node starts, or fallback when libfyaml has no
 * mark for it (an empty value, an empty collection). libfyaml 0.7 marks
 * only tokens, so a collection's line is that of its first scalar. */
static int node_line(struct fy_node *n, int fallback)
{
    if (!n)
        return fallback;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR: {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
        return mk && mk->line >= 0 ? mk->line + 1 : fallback;
    }
    case FYNT_SEQUENCE: {
        void *it = NULL;
        return node_line(fy_node_sequence_iterate(n, &it), fallback);
    }
    case FYNT_MAPPING: {
        void *it = NULL;
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_line(fy_node_pair_key(p), fallback) : fallback;
    }
    }
    return fallback;
}

/* A scalar the YAML core schema reads as null: empty, ~ or null. */
static int is_null(struct fy_node *n)
{
    if (!n)
        return 1;
    if (!fy_node_is_scalar(n) || fy_node_is_alias(n) ||
        fy_node_get_style(n) != FYNS_PLAIN || fy_node_get_tag(n, NULL))
        return 0;
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s || len == 0)
        return 1;
    static const char *const nulls[] = {"~", "null", "Null", "NULL"};
    for (size_t i = 0; i < COUNT(nulls); i++)
        if (len == strlen(nulls[i]) && memcmp(s, nulls[i], len) == 0)
            return 1;
    return 0;
}

/*
 * The text of a single-quoted scalar, unescaped from the source: '' is a
 * quote, and line breaks fold as in YAML 1.2 section 7.3.2 (one break is a
 * space, k > 1 breaks are k - 1 newlines, blanks around breaks go).
 */
static char *unquote_single(const char *s, size_t n, size_t *out_len)
{
    char *o = cn_xmalloc(n + 1);
    size_t j = 0, trail = 0;
    for (size_t i = 0; i < n;) {
        char ch = s[i];
        if (ch == '\'' && i + 1 < n && s[i + 1] == '\'') {
            o[j++] = '\'';
            i += 2;
            trail = 0;
        } else if (ch == '\n' || ch == '\r') {
            j -= trail;
            trail = 0;
            size_t breaks = 0;
            while (i < n && s[i] && strchr("\n\r \t", s[i])) {
                if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
                    i++;
                breaks += s[i] == '\n' || s[i] == '\r';
                i++;
            }
            if (breaks == 1)
                o[j++] = ' ';
            for (size_t k = 1; k < breaks; k++)
                o[j++] = '\n';
        } else {
            o[j++] = ch;
            trail = (ch == ' ' || ch == '\t') ? trail + 1 : 0;
            i++;
        }
    }
    o[j] = '\0';
    *out_len = j;
    return o;
}

/*
 * A scalar's text (not NUL-terminated; may hold NULs from escapes). For a
 * single-quoted scalar the text is unescaped here from the source rather
 * than by libfyaml: libfyaml 0.7 leaks a buffer for every single-quoted
 * scalar with four or more '' escapes. The copy lives in the pool.
 */
static const char *scalar_text(const ctx_t *c, struct fy_node *n, size_t *len)
{
    *len = 0;
    if (fy_node_get_style(n) != FYNS_SINGLE_QUOTED || !c->src) {
        const char *s = fy_node_get_scalar(n, len);
        return s ? s : "";
    }
    struct fy_token *t = fy_node_get_scalar_token(n);
    const struct fy_mark *a = t ? fy_token_start_mark(t) : NULL;
    const struct fy_mark *b = t ? fy_token_end_mark(t) : NULL;
    if (!a || !b || a->input_pos > b->input_pos || b->input_pos > c->src_len)
        return "";
    char *o = unquote_single(c->src + a->input_pos, b->input_pos - a->input_pos, len);
    pool_t *p = c->pool;
    p->items = cn_xrealloc(p->items, (p->n + 1) * sizeof *p->items);
    p->items[p->n++] = o;
    return o;
}

/* "null", "a list", "a mapping" or the quoted scalar, for messages. */
static const char *describe(const ctx_t *c, struct fy_node *n, char *buf)
{
    if (is_null(n))
        return "null";
    if (fy_node_is_sequence(n))
        return "a list";
    if (fy_node_is_mapping(n))
        return "a mapping";
    size_t len = 0;
    const char *s = scalar_text(c, n, &len);
    char q[QUOTE_BUF];
    quote(s, len, q);
    snprintf(buf, QUOTE_BUF + 24, "'%s'", q);
    return buf;
}

#define DESCRIBE_BUF (QUOTE_BUF + 24)

/* Follow an alias to its anchor. Sets *rc on a dangling alias. */
static struct fy_node *deref(const ctx_t *c, struct fy_node *n, int line,
                             const char *path, int *rc)
{
    if (!n || !fy_node_is_alias(n))
        return n;
    struct fy_node *r = fy_node_resolve_alias(n);
    if (!r) {
        size_t len = 0;
        const char *s = fy_node_get_scalar(n, &len);
        char q[QUOTE_BUF];
        *rc = report(c, CN_EINVAL, node_line(n, line), path, NULL,
                     "alias '*%s' refers to no anchor", quote(s ? s : "", len, q));
    }
    return r;
}

typedef struct {
    char *text;    /* NUL-terminated copy, owned */
    int is_string; /* quoted, block or !!str: never a number or boolean */
    int line;
} scalar_t;

/*
 * Read a non-null scalar for `path`, where `want` ("a number", "true or
 * false") names what was expected. Returns 0 with s->text to free, or an
 * error code after reporting.
 */
static int get_scalar(const ctx_t *c, struct fy_node *n, int line, const char *path,
                      const char *want, scalar_t *s)
{
    int rc = 0;
    s->text = NULL;
    s->line = node_line(n, line);
    n = deref(c, n, line, path, &rc);
    if (rc)
        return rc;
    char d[DESCRIBE_BUF];
    if (is_null(n) || !fy_node_is_scalar(n))
        return report(c, CN_EINVAL, s->line, path, NULL, "must be %s, got %s", want,
                      describe(c, n, d));
    size_t tlen = 0;
    const char *tag = fy_node_get_tag(n, &tlen);
    s->is_string = fy_node_get_style(n) != FYNS_PLAIN;
    if (tag) {
        int core = 0;
        for (size_t i = 0; i < COUNT(yaml_core_tags) && !core; i++)
            core = tlen == strlen(yaml_core_tags[i]) &&
                   memcmp(tag, yaml_core_tags[i], tlen) == 0;
        if (tlen == strlen("tag:yaml.org,2002:str") &&
            memcmp(tag, "tag:yaml.org,2002:str", tlen) == 0)
            s->is_string = 1;
        else if (!core) {
            char q[QUOTE_BUF];
            return report(c, CN_EINVAL, s->line, path, NULL,
                          "unsupported YAML tag '%s'", quote(tag, tlen, q));
        }
    }
    size_t len = 0;
    const char *text = scalar_text(c, n, &len);
    if (memchr(text, '\0', len))
        return report(c, CN_EINVAL, s->line, path, NULL, "contains a NUL byte");
    s->text = xstrndup(text, len);
    return 0;
}

/* strtod on the whole text, refusing hex, infinities and NaN. */
static int text_to_double(const char *s, double *out)
{
    if (!strchr("+-.0123456789", *s) || *s == '\0' || strpbrk(s, "xX"))
        return CN_EPARSE;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return CN_EPARSE;
    *out = v;
    return 0;
}

static int get_real(const ctx_t *c, struct fy_node *n, int line, const char *path,
                    const range_t *r, double *out)
{
    char rt[64], want[96];
    range_text(r, rt, sizeof rt);
    snprintf(want, sizeof want, "a number%s%s", *rt ? " " : "", rt);
    scalar_t s;
    int rc = get_scalar(c, n, line, path, want, &s);
    if (rc)
        return rc;
    char q[QUOTE_BUF];
    double v;
    if (s.is_string)
        rc = report(c, CN_EINVAL, s.line, path, NULL, "must be %s, got the string '%s'",
                    want, quote(s.text, strlen(s.text), q));
    else if (text_to_double(s.text, &v))
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
    scalar_t s;
    int rc = get_scalar(c, n, line, path, want, &s);
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
    scalar_t s;
    int rc = get_scalar(c, n, line, path, "true or false", &s);
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
    scalar_t s;
    int rc = get_scalar(c, n, line, path, "a string", &s);
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
    scalar_t s;
    int rc = get_scalar(c, n, line, path, want, &s);
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

/*
 * A mapping's key: a non-empty scalar. Returns 0 with the text (borrowed
 * from the document, not NUL-terminated) or an error code.
 */
static int get_key(const ctx_t *c, struct fy_node_pair *p, int line, const char *parent,
                   const char **key, size_t *len, int *key_line)
{
    struct fy_node *k = fy_node_pair_key(p);
    *key_line = node_line(k, line);
    if (!k || is_null(k) || !fy_node_is_scalar(k) || fy_node_is_alias(k)) {
        char d[DESCRIBE_BUF];
        return report(c, CN_EINVAL, *key_line, *parent ? parent : NULL, NULL,
                      "keys must be plain strings, got %s", describe(c, k, d));
    }
    *key = scalar_text(c, k, len);
    return 0;
}

static int key_is(const char *key, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(key, name, len) == 0;
}

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
    scalar_t s;
    int rc = get_scalar(c, n, line, path, want, &s);
    if (rc)
        return rc;
    char q[QUOTE_BUF];
    double v;
    size_t len = strlen(s.text);
    /* "-5%" and "-1" read as numbers but are out of range. */
    char *num = xstrndup(s.text, len && s.text[len - 1] == '%' ? len - 1 : len);
    if (cn_stats_parse_margin(s.text, &m->margin, &m->margin_kind) == 0 &&
        strchr("+.0123456789", s.text[0]) && !strpbrk(s.text, "xX"))
        m->has_margin = 1;
    else if (text_to_double(num, &v) == 0 && v < 0)
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
    char path[160], d[DESCRIBE_BUF];
    int rc = 0;
    metric_key_path(path, sizeof path, idx, NULL);
    line = node_line(n, line);
    n = deref(c, n, line, path, &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return report(c, CN_EINVAL, line, path, NULL,
                      "must be a mapping with name, test, ..., got %s",
                      describe(c, n, d));
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
        if ((rc = get_key(c, p, line, path, &key, &klen, &kline)))
            break;
        if (key_is(key, klen, "test")) {
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
        if ((rc = get_key(c, p, line, metric_key_path(path, sizeof path, idx, NULL),
                          &key, &klen, &kline)))
            break;
        int k = -1;
        for (size_t i = 0; i < COUNT(metric_keys) && k < 0; i++)
            if (key_is(key, klen, metric_keys[i].name))
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
    char d[DESCRIBE_BUF];
    line = node_line(n, line);
    n = deref(c, n, line, "metrics", &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_sequence(n))
        return report(c, CN_EINVAL, line, "metrics", NULL,
                      "must be a list of metrics, got %s", describe(c, n, d));
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
    char d[DESCRIBE_BUF];
    n = deref(c, n, line, "thresholds", &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return report(c, CN_EINVAL, node_line(n, line), "thresholds", NULL,
                      "must be a mapping {pass: 95, marginal: 60}, got %s",
                      describe(c, n, d));
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = get_key(c, p, line, "thresholds", &key, &klen, &kline)))
            return rc;
        if (key_is(key, klen, "pass"))
            rc = get_real(c, fy_node_pair_value(p), kline, "thresholds.pass", &R_SCORE,
                          &cfg->pass_score);
        else if (key_is(key, klen, "marginal"))
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
    char d[DESCRIBE_BUF];
    n = deref(c, n, line, "groups", &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return report(c, CN_EINVAL, node_line(n, line), "groups", NULL,
                      "must be a mapping of group name to weight, got %s",
                      describe(c, n, d));
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = get_key(c, p, line, "groups", &key, &klen, &kline)))
            return rc;
        char q[QUOTE_BUF], path[96];
        snprintf(path, sizeof path, "groups.%s", quote(key, klen, q));
        if (klen == 0 || memchr(key, '\0', klen))
            return report(c, CN_EINVAL, kline, path, NULL,
                          "a group name must be a non-empty string");
        double w;
        if ((rc = get_real(c, fy_node_pair_value(p), kline, path, &R_POSITIVE, &w)))
            return rc;
        add_group(cfg, xstrndup(key, klen), w);
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
        if ((rc = get_key(c, p, line, "", &key, &klen, &kline)))
            break;
        struct fy_node *v = fy_node_pair_value(p);
        if (key_is(key, klen, "alpha")) {
            rc = get_real(c, v, kline, "alpha", &R_PROBABILITY, &cfg->alpha);
        } else if (key_is(key, klen, "correction")) {
            rc = get_choice(c, v, kline, "correction", "none, bonferroni, holm, bh",
                            parse_adjust_cb, &cfg->correction);
        } else if (key_is(key, klen, "thresholds")) {
            rc = parse_thresholds(c, v, kline, cfg);
        } else if (key_is(key, klen, "segment_by")) {
            /* null turns segments off, e.g. in an override file */
            if (is_null(v)) {
                free(cfg->segment_by);
                cfg->segment_by = NULL;
            } else {
                rc = get_string(c, v, kline, "segment_by", &cfg->segment_by);
            }
        } else if (key_is(key, klen, "looks")) {
            if ((rc = get_uint(c, v, kline, "looks", &I_LOOKS, &u)) == 0)
                cfg->looks = (unsigned)u;
        } else if (key_is(key, klen, "power")) {
            rc = get_real(c, v, kline, "power", &R_PROBABILITY, &cfg->power);
        } else if (key_is(key, klen, "min_per_arm")) {
            if ((rc = get_uint(c, v, kline, "min_per_arm", &I_COUNT, &u)) == 0)
                cfg->min_per_arm = (size_t)u;
        } else if (key_is(key, klen, "groups")) {
            rc = parse_groups(c, v, kline, cfg);
        } else if (key_is(key, klen, "metrics")) {
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

/* libfyaml reports an error at the end of input on the line after the
 * last one; point at the last line that exists instead. */
static int clamp_line(const char *text, size_t len, int line)
{
    int lines = 1;
    for (size_t i = 0; i + 1 < len; i++)
        lines += text[i] == '\n';
    return line < 1 ? 1 : line > lines ? lines : line;
}

/*
 * Length of the valid UTF-8 sequence at s (1-4), or 0 if it is invalid:
 * truncated, overlong, a surrogate, beyond U+10FFFF, or a NUL byte (YAML
 * allows none of these).
 */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char b = s[0];
    if (b == 0)
        return 0;
    if (b < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/*
 * YAML is Unicode, and libfyaml 0.7 is lax about it in ways that matter:
 * "%TAG" followed by a byte that is not UTF-8 sends it into an endless
 * loop. So the text is checked first, and a bad byte is reported by line.
 */
static int check_utf8(const ctx_t *c, const char *text, size_t len)
{
    int line = 1;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(s + i, len - i);
        if (n == 0)
            return report(c, CN_EPARSE, line, NULL, NULL,
                          s[i] ? "invalid YAML: not UTF-8 (byte 0x%02X)"
                               : "invalid YAML: NUL byte",
                          s[i]);
        line += s[i] == '\n';
        i += n;
    }
    return 0;
}

/* Longest directive line (%YAML, %TAG) passed to libfyaml. */
#define DIRECTIVE_MAX 128

/*
 * libfyaml 0.7 scans a directive line in time quadratic in its length (a
 * 6 kB "%FOO ..." line takes 60 ms, a megabyte would hang), so directives
 * are vetted before the parser sees them: only %YAML and %TAG, and only
 * short lines. A spec has no use for anything else. A '%' at the start of
 * a line is taken as a directive even where YAML would read it as part of
 * a multi-line quoted string; such a spec is not worth the risk.
 */
static int check_directives(const ctx_t *c, const char *text, size_t len)
{
    int line = 1;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (n && text[i] == '%') {
            char q[QUOTE_BUF];
            int known = (n >= 5 && memcmp(text + i, "%YAML", 5) == 0) ||
                        (n >= 4 && memcmp(text + i, "%TAG", 4) == 0);
            if (!known)
                return report(c, CN_EPARSE, line, NULL, NULL,
                              "invalid YAML: unsupported directive '%s' (only "
                              "%%YAML and %%TAG)",
                              quote(text + i, n, q));
            if (n > DIRECTIVE_MAX)
                return report(c, CN_EPARSE, line, NULL, NULL,
                              "invalid YAML: directive line longer than %d bytes",
                              DIRECTIVE_MAX);
        }
        i += n + 1;
        line++;
    }
    return 0;
}

/* The first error libfyaml collected, as "FILE:LINE: invalid YAML: msg". */
static int yaml_error(const ctx_t *c, struct fy_diag *diag, const char *text,
                      size_t len)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it))) {
        if (e->type < FYET_ERROR)
            continue;
        char msg[160];
        size_t j = 0;
        for (const char *s = e->msg ? e->msg : ""; *s && j + 1 < sizeof msg; s++)
            msg[j++] = ((unsigned char)*s >= 0x20 && *s != 0x7f) ? *s : ' ';
        msg[j] = '\0';
        return report(c, CN_EPARSE, clamp_line(text, len, e->line), NULL, NULL,
                      "invalid YAML: %s", msg);
    }
    return report(c, CN_EPARSE, 1, NULL, NULL, "invalid YAML");
}

/*
 * Parse the spec in doc: the root mapping, or its `analysis` section.
 * *used is set to the context whose key paths fit the form found.
 */
static int parse_document(const ctx_t *c, struct fy_document *doc,
                          cn_judge_config_t *cfg, const ctx_t *section,
                          const ctx_t **used)
{
    *used = c;
    struct fy_node *root = fy_document_root(doc);
    char d[DESCRIBE_BUF];
    if (!root || is_null(root))
        return report(c, CN_EINVAL, node_line(root, 1), NULL, NULL,
                      "empty config: expected a mapping with a 'metrics' list");
    if (!fy_node_is_mapping(root))
        return report(c, CN_EINVAL, node_line(root, 1), NULL, NULL,
                      "the config must be a mapping of keys (%s), got %s", TOP_KEYS,
                      describe(c, root, d));
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen = 0;
        const char *key = k && fy_node_is_scalar(k) && !fy_node_is_alias(k)
                              ? scalar_text(c, k, &klen)
                              : NULL;
        if (key && key_is(key, klen, "analysis")) {
            /* The analysis section of a full service config: the rest of
             * the file belongs to other components. */
            int rc = 0, kline = node_line(k, 1);
            struct fy_node *v = deref(c, fy_node_pair_value(p), kline, "analysis", &rc);
            if (rc)
                return rc;
            if (!v || !fy_node_is_mapping(v))
                return report(c, CN_EINVAL, node_line(v, kline), "analysis", NULL,
                              "must be a mapping of keys (%s), got %s", TOP_KEYS,
                              describe(c, v, d));
            *used = section;
            return parse_spec(section, v, kline, cfg);
        }
    }
    return parse_spec(c, root, node_line(root, 1), cfg);
}

int cn_judge_config_parse(const char *text, size_t len, const char *filename,
                          cn_judge_config_t *out, char *err, size_t errlen)
{
    cn_judge_config_init(out);
    if (err && errlen)
        err[0] = '\0';
    /* libfyaml reads a NUL-terminated copy that outlives the document. */
    char *buf = xstrndup(text ? text : "", text ? len : 0);
    if (!text)
        len = 0;
    pool_t pool = {NULL, 0};
    ctx_t c = {.file = filename ? filename : "<config>",
               .prefix = "",
               .err = err,
               .errlen = errlen,
               .src = buf,
               .src_len = len,
               .pool = &pool};
    ctx_t section = c;
    section.prefix = "analysis.";

    int rc = check_utf8(&c, buf, len);
    if (!rc)
        rc = check_directives(&c, buf, len);
    if (rc) {
        free(buf);
        cn_judge_config_init(out);
        return rc;
    }
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        free(buf);
        return report(&c, CN_EPARSE, 0, NULL, NULL, "cannot start the YAML parser");
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg = {
        .search_path = "",
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG,
        .userdata = NULL,
        .diag = diag,
    };
    struct fy_parser *fyp = fy_parser_create(&pcfg);
    struct fy_document *doc = NULL, *extra = NULL;
    if (!fyp || fy_parser_set_string(fyp, buf, len) != 0) {
        rc = report(&c, CN_EPARSE, 0, NULL, NULL, "cannot start the YAML parser");
        goto out;
    }
    doc = fy_parse_load_document(fyp);
    if (!doc) {
        if (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag))
            rc = yaml_error(&c, diag, buf, len);
        else
            rc = report(&c, CN_EINVAL, 1, NULL, NULL,
                        "empty config: expected a mapping with a 'metrics' list");
        goto out;
    }
    /* A second document would be silently ignored; say so instead. */
    extra = fy_parse_load_document(fyp);
    if (extra) {
        rc = report(&c, CN_EPARSE, node_line(fy_document_root(extra), 1), NULL, NULL,
                    "more than one YAML document ('---'); expected one");
        goto out;
    }
    if (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag)) {
        rc = yaml_error(&c, diag, buf, len);
        goto out;
    }
    const ctx_t *used;
    if ((rc = parse_document(&c, doc, out, &section, &used)))
        goto out;
    /* Cross-field checks, with the lines recorded for each metric. */
    rc = validate(used, out);
out:
    if (extra)
        fy_parse_document_destroy(fyp, extra);
    if (doc)
        fy_parse_document_destroy(fyp, doc);
    if (fyp)
        fy_parser_destroy(fyp);
    fy_diag_destroy(diag);
    for (size_t i = 0; i < pool.n; i++)
        free(pool.items[i]);
    free(pool.items);
    free(buf);
    if (rc) {
        cn_judge_config_dispose(out);
        cn_judge_config_init(out);
    }
    return rc;
}
