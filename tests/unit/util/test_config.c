/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config engine (util/config.h) on a table made for the test, shaped
 * like the rollout strategy to come: scalars with units, a nested record,
 * a list of one-of steps (`- set_weight: 5`, `- pause: 10m`,
 * `- analysis: {...}`), a list of records whose `kind` decides which keys
 * are allowed, a map of names to weights, required keys and a cross-field
 * check. Each rule is checked on the three paths a value can take (YAML,
 * a flag, a struct built in code), and the effective configuration is
 * written out and read back.
 */
#include "util/config.h"
#include "util/error.h"
#include "util/yaml.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ schema */

enum { STEP_WEIGHT = 1, STEP_PAUSE, STEP_ANALYSIS };
enum { KIND_LATENCY = 0, KIND_ERRORS = 1 };

typedef struct gate_s {
    char *metric;
    double max;
} gate_t;

typedef struct step_s {
    int tag;
    int line;
    uint16_t weight_bp;
    uint64_t pause_ms;
    gate_t analysis;
} step_t;

typedef struct check_s {
    char *name;
    int kind;
    double quantile;   /* latency only */
    uint32_t max_rate; /* errors only, per million */
    double margin;
    int has_margin;
    int line;
} check_t;

typedef struct group_s {
    char *name;
    double weight;
    int line;
} group_t;

typedef struct rollout_s {
    char *name;
    uint64_t interval_ms;
    uint64_t max_bytes;
    bool auto_promote;
    struct {
        unsigned min;
        unsigned max;
    } replicas;
    step_t *steps;
    size_t n_steps;
    check_t *checks;
    size_t n_checks;
    group_t *groups;
    size_t n_groups;
    cn_config_strv_t peers;
} rollout_t;

static const cn_config_key_t gate_keys[] = {
    {.key = "metric",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .help = "the metric gated",
     .offset = offsetof(gate_t, metric),
     .width = sizeof(char *)},
    {.key = "max",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .opts = CN_CONFIG_LO_OPEN,
     .default_text = "1",
     .help = "limit",
     .offset = offsetof(gate_t, max),
     .width = sizeof(double)},
};
static const cn_config_table_t gate_table = {
    .keys = gate_keys, .n_keys = 2, .size = sizeof(gate_t)};

static const cn_config_key_t step_keys[] = {
    {.key = "set_weight",
     .type = CN_CONFIG_PERCENT,
     .tag = STEP_WEIGHT,
     .help = "canary weight",
     .offset = offsetof(step_t, weight_bp),
     .width = sizeof(uint16_t)},
    {.key = "pause",
     .type = CN_CONFIG_DURATION,
     .lo = 1000,
     .hi = 86400000,
     .tag = STEP_PAUSE,
     .help = "wait",
     .offset = offsetof(step_t, pause_ms),
     .width = sizeof(uint64_t)},
    {.key = "analysis",
     .type = CN_CONFIG_RECORD,
     .table = &gate_table,
     .tag = STEP_ANALYSIS,
     .help = "judge",
     .offset = offsetof(step_t, analysis),
     .width = sizeof(gate_t)},
};
static const cn_config_table_t step_table = {
    .keys = step_keys,
    .n_keys = 3,
    .size = sizeof(step_t),
    .tag_at = CN_CONFIG_AT(step_t, tag),
    .line_at = CN_CONFIG_AT(step_t, line),
};

static const cn_config_name_t kind_names[] = {
    {"latency", KIND_LATENCY}, {"errors", KIND_ERRORS}, {NULL, 0}};

static int check_check(const void *record, char *path, size_t pathlen, int *line,
                       char *what, size_t len)
{
    const check_t *c = record;
    (void)line;
    if (c->kind == KIND_ERRORS && !c->has_margin) {
        snprintf(path, pathlen, "margin");
        snprintf(what, len, "required for kind 'errors'");
        return CN_EINVAL;
    }
    return 0;
}

static const cn_config_key_t check_keys[] = {
    {.key = "name",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .help = "the check's name",
     .offset = offsetof(check_t, name),
     .width = sizeof(char *)},
    {.key = "kind",
     .type = CN_CONFIG_ENUM,
     .names = kind_names,
     .opts = CN_CONFIG_REQUIRED,
     .help = "kind",
     .offset = offsetof(check_t, kind),
     .width = sizeof(int)},
    {.key = "quantile",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 1,
     .opts = CN_CONFIG_LO_OPEN | CN_CONFIG_HI_OPEN,
     .default_text = "0.99",
     .when = 1u << KIND_LATENCY,
     .help = "q",
     .offset = offsetof(check_t, quantile),
     .width = sizeof(double)},
    {.key = "max_rate",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = 1000000,
     .default_text = "100",
     .when = 1u << KIND_ERRORS,
     .help = "rate",
     .offset = offsetof(check_t, max_rate),
     .width = sizeof(uint32_t)},
    {.key = "margin",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .help = "margin",
     .set_at = CN_CONFIG_AT(check_t, has_margin),
     .offset = offsetof(check_t, margin),
     .width = sizeof(double)},
};
static const cn_config_table_t check_table = {
    .keys = check_keys,
    .n_keys = 5,
    .size = sizeof(check_t),
    .line_at = CN_CONFIG_AT(check_t, line),
    .discriminator = "kind",
    .item_want = "a mapping with name, kind, ...",
    .check = check_check,
};

static const cn_config_key_t group_keys[] = {
    {.key = "",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = INFINITY,
     .opts = CN_CONFIG_LO_OPEN,
     .help = "weight",
     .offset = offsetof(group_t, weight),
     .width = sizeof(double)},
};
static const cn_config_table_t group_table = {
    .keys = group_keys,
    .n_keys = 1,
    .size = sizeof(group_t),
    .name_at = CN_CONFIG_AT(group_t, name),
    .line_at = CN_CONFIG_AT(group_t, line),
};

static int rollout_check(const void *record, char *path, size_t pathlen, int *line,
                         char *what, size_t len)
{
    const rollout_t *r = record;
    (void)line;
    if (r->replicas.min > r->replicas.max) {
        snprintf(path, pathlen, "replicas");
        snprintf(what, len, "min (%u) must be <= max (%u)", r->replicas.min,
                 r->replicas.max);
        return CN_EINVAL;
    }
    return 0;
}

#define F(f) .offset = offsetof(rollout_t, f), .width = sizeof(((rollout_t *)0)->f)

static const cn_config_key_t rollout_keys[] = {
    {.key = "name",
     .flag = "name",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_LABEL,
     .default_text = "main",
     .help = "name",
     F(name)},
    {.key = "interval",
     .flag = "interval",
     .type = CN_CONFIG_DURATION,
     .lo = 10,
     .hi = 3600000,
     .default_text = "30s",
     .help = "interval",
     F(interval_ms)},
    {.key = "max_bytes",
     .flag = "max-bytes",
     .type = CN_CONFIG_SIZE,
     .lo = 1,
     .hi = 1u << 30,
     .default_text = "1MiB",
     .help = "bytes",
     F(max_bytes)},
    {.key = "auto_promote",
     .flag = "auto-promote",
     .negated_flag = "manual",
     .type = CN_CONFIG_BOOL,
     .default_text = "false",
     .help = "promote",
     F(auto_promote)},
    {.key = "replicas.min",
     .flag = "replicas-min",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 0,
     .hi = 100,
     .default_text = "1",
     .help = "min",
     F(replicas.min)},
    {.key = "replicas.max",
     .flag = "replicas-max",
     .type = CN_CONFIG_UNSIGNED,
     .lo = 1,
     .hi = 100,
     .default_text = "3",
     .help = "max",
     F(replicas.max)},
    {.key = "steps",
     .type = CN_CONFIG_ONEOF_LIST,
     .table = &step_table,
     .help = "steps",
     F(steps),
     .count_offset = offsetof(rollout_t, n_steps)},
    {.key = "checks",
     .type = CN_CONFIG_LIST,
     .table = &check_table,
     .help = "checks",
     F(checks),
     .count_offset = offsetof(rollout_t, n_checks)},
    {.key = "groups",
     .type = CN_CONFIG_MAP,
     .table = &group_table,
     .want = "a mapping of group name to weight",
     .help = "groups",
     F(groups),
     .count_offset = offsetof(rollout_t, n_groups)},
    {.key = "peers",
     .flag = "peers",
     .type = CN_CONFIG_ADDRESS_LIST,
     .lo = 0,
     .hi = 4,
     .help = "peers",
     F(peers)},
};
static const cn_config_table_t rollout_table = {
    .keys = rollout_keys,
    .n_keys = sizeof rollout_keys / sizeof rollout_keys[0],
    .size = sizeof(rollout_t),
    .check = rollout_check,
};

/* ----------------------------------------------------------- helpers */

static int parse(const char *text, rollout_t *r, char *err, size_t errlen)
{
    cn_config_init(&rollout_table, r);
    cn_yaml_t y;
    cn_yaml_init(&y, "r.yaml", err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&y, text, strlen(text), &doc);
    if (!rc && doc) {
        struct fy_node *root = fy_document_root(doc);
        cn_config_part_t part = {&rollout_table, r};
        rc = cn_config_read(&y, &part, 1, root, 1);
    }
    cn_yaml_dispose(&y);
    return rc;
}

static void parse_ok(const char *text, rollout_t *r)
{
    char err[512];
    cr_assert_eq(parse(text, r, err, sizeof err), 0, "%s", err);
}

static const char example[] = "name: v2-rollout\n"
                              "interval: 1m\n"
                              "replicas: {min: 2, max: 5}\n"
                              "steps:\n"
                              "  - set_weight: 5\n"
                              "  - pause: 10m\n"
                              "  - analysis: {metric: latency_ms, max: 250}\n"
                              "  - set_weight: 50.5\n"
                              "checks:\n"
                              "  - name: p99\n"
                              "    quantile: 0.9\n"
                              "    kind: latency\n"
                              "  - {name: err, kind: errors, max_rate: 5, margin: 0}\n"
                              "groups: {lat: 2, err: 0.5}\n"
                              "peers: [\"a:1\", \"http://b:2\"]\n";

/* ------------------------------------------------------------- tests */

Test(config_engine, defaults_come_from_the_table)
{
    rollout_t r;
    memset(&r, 0xAB, sizeof r);
    cn_config_init(&rollout_table, &r);
    cr_assert_str_eq(r.name, "main");
    cr_assert_eq(r.interval_ms, 30000);
    cr_assert_eq(r.max_bytes, 1 << 20);
    cr_assert_eq(r.auto_promote, false);
    cr_assert_eq(r.replicas.min, 1);
    cr_assert_eq(r.replicas.max, 3);
    cr_assert_null(r.steps);
    cr_assert_eq(r.n_steps, 0);
    cr_assert_eq(r.peers.count, 0);
    cn_config_problem_t p;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), 0, "%s: %s", p.path, p.what);
    cn_config_dispose(&rollout_table, &r);
    cn_config_dispose(&rollout_table, &r);
}

Test(config_engine, records_lists_one_of_items_and_maps_land)
{
    rollout_t r;
    parse_ok(example, &r);
    cr_assert_str_eq(r.name, "v2-rollout");
    cr_assert_eq(r.interval_ms, 60000);
    cr_assert_eq(r.replicas.min, 2);
    cr_assert_eq(r.replicas.max, 5);
    cr_assert_eq(r.n_steps, 4);
    cr_assert_eq(r.steps[0].tag, STEP_WEIGHT);
    cr_assert_eq(r.steps[0].weight_bp, 500);
    cr_assert_eq(r.steps[0].line, 5);
    cr_assert_eq(r.steps[1].tag, STEP_PAUSE);
    cr_assert_eq(r.steps[1].pause_ms, 600000);
    cr_assert_eq(r.steps[2].tag, STEP_ANALYSIS);
    cr_assert_str_eq(r.steps[2].analysis.metric, "latency_ms");
    cr_assert_eq(r.steps[2].analysis.max, 250);
    cr_assert_eq(r.steps[3].weight_bp, 5050);
    cr_assert_eq(r.n_checks, 2);
    cr_assert_str_eq(r.checks[0].name, "p99");
    cr_assert_eq(r.checks[0].kind, KIND_LATENCY);
    cr_assert_eq(r.checks[0].quantile, 0.9);
    cr_assert_eq(r.checks[0].has_margin, 0);
    cr_assert_eq(r.checks[0].line, 10);
    cr_assert_eq(r.checks[1].kind, KIND_ERRORS);
    cr_assert_eq(r.checks[1].max_rate, 5);
    cr_assert_eq(r.checks[1].quantile, 0.99, "defaults fill every item");
    cr_assert_eq(r.checks[1].has_margin, 1, "set_at marks a given key");
    cr_assert_eq(r.n_groups, 2);
    cr_assert_str_eq(r.groups[0].name, "lat");
    cr_assert_eq(r.groups[0].weight, 2);
    cr_assert_str_eq(r.groups[1].name, "err");
    cr_assert_eq(r.groups[1].weight, 0.5);
    cr_assert_eq(r.peers.count, 2);
    cr_assert_str_eq(r.peers.items[1], "b:2", "http:// is dropped");
    cn_config_problem_t p;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), 0, "%s: %s", p.path, p.what);
    cn_config_dispose(&rollout_table, &r);
}

Test(config_engine, a_list_given_again_replaces_the_old_one)
{
    rollout_t r;
    parse_ok("steps: [{set_weight: 1}, {set_weight: 2}]\n", &r);
    cn_config_part_t part = {&rollout_table, &r};
    cn_yaml_t y;
    char err[256];
    cn_yaml_init(&y, "b.yaml", err, sizeof err);
    struct fy_document *doc;
    const char *more = "steps: [{pause: 1s}]\n";
    cr_assert_eq(cn_yaml_load(&y, more, strlen(more), &doc), 0);
    cr_assert_eq(cn_config_read(&y, &part, 1, fy_document_root(doc), 1), 0, "%s", err);
    cn_yaml_dispose(&y);
    cr_assert_eq(r.n_steps, 1);
    cr_assert_eq(r.steps[0].tag, STEP_PAUSE);
    cn_config_dispose(&rollout_table, &r);
}

struct bad_case {
    const char *yaml;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"steps:\n  - set_weight: 5\n  - pause: 1s\n    set_weight: 3\n",
     "r.yaml:3: key 'steps[1]': must be a mapping of exactly one of set_weight, pause, "
     "analysis, got several keys"},
    {"steps:\n  - wait: 10m\n",
     "r.yaml:2: key 'steps[0].wait': unknown key (expected one of set_weight, pause, "
     "analysis)"},
    {"steps:\n  - set_weight: 5\n  - set_weight: 150\n",
     "r.yaml:3: key 'steps[1].set_weight': must be a percentage in [0, 100] with at "
     "most 2 decimals, got '150'"},
    {"steps:\n  - pause: 10ms\n",
     "r.yaml:2: key 'steps[0].pause': must be a duration in [1s, 24h], got '10ms'"},
    {"steps:\n  - 5\n",
     "r.yaml:2: key 'steps[0]': must be a mapping of exactly one of set_weight, pause, "
     "analysis, got '5'"},
    {"steps:\n  - analysis: {max: 3}\n",
     "r.yaml:2: key 'steps[0].analysis.metric': required: the metric gated"},
    {"steps:\n  - analysis: {metric: x, max: 0}\n",
     "r.yaml:2: key 'steps[0].analysis.max': must be > 0, got '0'"},
    {"steps: {set_weight: 5}\n",
     "r.yaml:1: key 'steps': must be a list, got a mapping"},
    {"checks:\n  - name: a\n    kind: latency\n    max_rate: 3\n",
     "r.yaml:4: key 'checks[0].max_rate': not used by kind 'latency' (only by errors)"},
    {"checks:\n  - name: a\n    max_rate: 3\n",
     "r.yaml:2: key 'checks[0].kind': required: one of latency, errors"},
    {"checks:\n  - kind: latency\n",
     "r.yaml:2: key 'checks[0].name': required: the check's name"},
    {"checks:\n  - name: a\n    kind: errors\n",
     "r.yaml:2: key 'checks[0].margin': required for kind 'errors'"},
    {"checks:\n  - name: a\n    kind: latency\n  - oops\n",
     "r.yaml:4: key 'checks[1]': must be a mapping with name, kind, ..., got 'oops'"},
    {"checks:\n  - name: a\n    kind: latency\n    quantile: \"0.5\"\n",
     "r.yaml:4: key 'checks[0].quantile': must be a number in (0, 1), got the string "
     "'0.5'"},
    {"checks:\n  - name: a\n    kind: latency\n    qantile: 0.5\n",
     "r.yaml:4: key 'checks[0].qantile': unknown key (expected one of name, kind, "
     "quantile, max_rate, margin)"},
    {"groups: {lat: 0}\n", "r.yaml:1: key 'groups.lat': must be > 0, got '0'"},
    {"groups: [lat]\n",
     "r.yaml:1: key 'groups': must be a mapping of group name to weight, got a list"},
    {"groups: {'': 1}\n", "r.yaml:1: key 'groups.': a name must be a non-empty string"},
    {"replicas: {min: 4, max: 2}\n",
     "r.yaml:1: key 'replicas': min (4) must be <= max (2)"},
    {"replicas:\n  min: 4\n  max: 2\n",
     "r.yaml:1: key 'replicas': min (4) must be <= max (2)"},
    {"replicas: 3\n",
     "r.yaml:1: key 'replicas': must be a mapping of keys (min, max), got '3'"},
    {"replicas: {mn: 3}\n",
     "r.yaml:1: key 'replicas.mn': unknown key (expected one of min, max)"},
    {"peers: [\"a:1\", \"a:1\"]\n",
     "r.yaml:1: key 'peers[1]': duplicate address 'a:1'"},
    {"interval: 2d\n",
     "r.yaml:1: key 'interval': must be a duration like 250ms, 10s or 2m, got '2d'"},
    {"auto_promote: \"true\"\n",
     "r.yaml:1: key 'auto_promote': must be true or false, got the string 'true'"},
    {"nmae: x\n",
     "r.yaml:1: key 'nmae': unknown key (expected one of name, interval, max_bytes, "
     "auto_promote, replicas, steps, checks, groups, peers)"},
};

Test(config_engine, each_bad_input_gives_one_exact_line)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        rollout_t r;
        char err[512];
        int rc = parse(bad_cases[i].yaml, &r, err, sizeof err);
        cr_expect_eq(rc, CN_EINVAL, "case %zu: rc %d", i, rc);
        cr_expect_str_eq(err, bad_cases[i].message, "case %zu", i);
        cn_config_dispose(&rollout_table, &r);
    }
}

Test(config_engine, flags_come_from_the_same_table)
{
    rollout_t r;
    cn_config_init(&rollout_table, &r);
    cn_config_part_t part = {&rollout_table, &r};
    char err[256];
    cr_assert_eq(cn_config_set_flag(&part, 1, "interval", "2m", err, sizeof err), 0);
    cr_assert_eq(r.interval_ms, 120000);
    cr_assert_eq(cn_config_set_flag(&part, 1, "auto-promote", NULL, err, sizeof err),
                 0);
    cr_assert(r.auto_promote);
    cr_assert_eq(cn_config_set_flag(&part, 1, "manual", NULL, err, sizeof err), 0);
    cr_assert(!r.auto_promote);
    cr_assert_eq(cn_config_set_flag(&part, 1, "peers", "a:1, b:2", err, sizeof err), 0);
    cr_assert_eq(r.peers.count, 2);
    cr_assert_eq(cn_config_set_flag(&part, 1, "max-bytes", "0", err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "--max-bytes: must be a size in [1, 1GiB], got '0'");
    cr_assert_eq(r.max_bytes, 1 << 20, "nothing changed");
    cr_assert_eq(cn_config_set_flag(&part, 1, "peers", "a:1,", err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "--peers: must not have an empty item, got 'a:1,'");
    cr_assert_eq(r.peers.count, 2, "nothing changed");
    cr_assert_eq(cn_config_set_flag(&part, 1, "steps", "x", err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_eq(cn_config_set_flag(&part, 1, "nope", "x", err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_str_eq(err, "--nope: unknown option");
    cn_config_dispose(&rollout_table, &r);
}

Test(config_engine, a_struct_built_in_code_meets_the_same_rules)
{
    rollout_t r;
    parse_ok(example, &r);
    cn_config_problem_t p;
    r.steps[1].pause_ms = 5;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), CN_EINVAL);
    cr_assert_str_eq(p.path, "steps[1].pause");
    cr_assert_str_eq(p.what, "must be a duration in [1s, 24h], got '5ms'");
    r.steps[1].pause_ms = 1000;
    r.checks[0].quantile = 1;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), CN_EINVAL);
    cr_assert_str_eq(p.path, "checks[0].quantile");
    cr_assert_eq(p.line, 10, "the item's line");
    cr_assert_str_eq(p.what, "must be in (0, 1), got '1'");
    r.checks[0].quantile = 0.5;
    r.checks[1].has_margin = 0;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), CN_EINVAL);
    cr_assert_str_eq(p.path, "checks[1].margin");
    cr_assert_str_eq(p.what, "required for kind 'errors'");
    r.checks[1].has_margin = 1;
    r.groups[1].weight = -1;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), CN_EINVAL);
    cr_assert_str_eq(p.path, "groups.err");
    r.groups[1].weight = 1;
    r.replicas.min = 9;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), CN_EINVAL);
    cr_assert_str_eq(p.path, "replicas");
    cr_assert_null(p.key);
    r.replicas.min = 1;
    free(r.steps[2].analysis.metric);
    r.steps[2].analysis.metric = NULL;
    cr_assert_eq(cn_config_check(&rollout_table, &r, &p), CN_EINVAL);
    cr_assert_str_eq(p.path, "steps[2].analysis.metric");
    cr_assert_str_eq(p.what, "required: the metric gated");
    cn_config_dispose(&rollout_table, &r);
}

/* Write r out in a style, into a string the caller frees. */
static char *emit(const rollout_t *r, cn_config_style_t style)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cn_config_part_t part = {&rollout_table, (void *)r};
    cn_config_section_t section = {"rollout", &part, 1};
    cr_assert_eq(cn_config_emit(f, style, &section, 1), 0);
    fclose(f);
    return buf;
}

Test(config_engine, the_effective_yaml_reads_back_the_same)
{
    rollout_t r, back;
    parse_ok(example, &r);
    char *text = emit(&r, CN_CONFIG_YAML);
    /* Read the section's body back as a config of its own. */
    const char *body = strstr(text, "rollout:\n");
    cr_assert_not_null(body, "%s", text);
    const char *q = strstr(text, "quantile");
    cr_assert(q && !strstr(q + 1, "quantile"),
              "a key its kind does not use is left "
              "out: %s",
              text);
    char err[512];
    char wrapped[8192];
    snprintf(wrapped, sizeof wrapped, "%s", text);
    cn_config_init(&rollout_table, &back);
    cn_yaml_t y;
    cn_yaml_init(&y, "out.yaml", err, sizeof err);
    struct fy_document *doc;
    cr_assert_eq(cn_yaml_load(&y, wrapped, strlen(wrapped), &doc), 0, "%s\n%s", err,
                 text);
    struct fy_node *section;
    int line;
    cr_assert_eq(
        cn_yaml_section(&y, fy_document_root(doc), "rollout", "", &section, &line), 0);
    cn_config_part_t part = {&rollout_table, &back};
    cr_assert_eq(cn_config_read(&y, &part, 1, section, line), 0, "%s\n%s", err, text);
    cn_yaml_dispose(&y);
    cr_assert_str_eq(back.name, r.name);
    cr_assert_eq(back.interval_ms, r.interval_ms);
    cr_assert_eq(back.replicas.max, r.replicas.max);
    cr_assert_eq(back.n_steps, r.n_steps);
    for (size_t i = 0; i < r.n_steps; i++) {
        cr_assert_eq(back.steps[i].tag, r.steps[i].tag);
        cr_assert_eq(back.steps[i].weight_bp, r.steps[i].weight_bp);
        cr_assert_eq(back.steps[i].pause_ms, r.steps[i].pause_ms);
    }
    cr_assert_str_eq(back.steps[2].analysis.metric, "latency_ms");
    cr_assert_eq(back.n_checks, 2);
    cr_assert_eq(back.checks[0].quantile, 0.9);
    cr_assert_eq(back.checks[1].has_margin, 1);
    cr_assert_eq(back.checks[0].has_margin, 0);
    cr_assert_eq(back.n_groups, 2);
    cr_assert_eq(back.groups[1].weight, 0.5);
    cr_assert_eq(back.peers.count, 2);
    free(text);
    cn_config_dispose(&rollout_table, &back);
    cn_config_dispose(&rollout_table, &r);
}

Test(config_engine, the_effective_json_is_json)
{
    rollout_t r;
    parse_ok(example, &r);
    char *text = emit(&r, CN_CONFIG_JSON);
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "%s: %s", e.text, text);
    json_t *ro = json_object_get(j, "rollout");
    cr_assert_str_eq(json_string_value(json_object_get(ro, "interval")), "1m");
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(ro, "replicas"), "min")), 2);
    json_t *steps = json_object_get(ro, "steps");
    cr_assert_eq(json_array_size(steps), 4);
    cr_assert_eq(
        json_number_value(json_object_get(json_array_get(steps, 3), "set_weight")),
        50.5);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(steps, 1), "pause")), "10m");
    cr_assert_eq(json_number_value(json_object_get(
                     json_object_get(json_array_get(steps, 2), "analysis"), "max")),
                 250);
    cr_assert_eq(
        json_number_value(json_object_get(json_object_get(ro, "groups"), "err")), 0.5);
    cr_assert_eq(json_array_size(json_object_get(ro, "peers")), 2);
    json_decref(j);
    free(text);

    /* Empty collections and unset strings. */
    cn_config_dispose(&rollout_table, &r);
    cn_config_init(&rollout_table, &r);
    text = emit(&r, CN_CONFIG_JSON);
    j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "%s: %s", e.text, text);
    cr_assert_eq(
        json_array_size(json_object_get(json_object_get(j, "rollout"), "steps")), 0);
    json_decref(j);
    free(text);
    cn_config_dispose(&rollout_table, &r);
}

Test(config_engine, want_texts_name_the_bounds)
{
    char buf[256];
    cr_assert_str_eq(cn_config_want(&rollout_keys[1], buf, sizeof buf),
                     "a duration in [10ms, 1h]");
    cr_assert_str_eq(cn_config_want(&rollout_keys[2], buf, sizeof buf),
                     "a size in [1, 1GiB]");
    cr_assert_str_eq(cn_config_want(&check_keys[1], buf, sizeof buf),
                     "one of latency, errors");
    cr_assert_str_eq(cn_config_want(&check_keys[2], buf, sizeof buf),
                     "a number in (0, 1)");
    cr_assert_str_eq(cn_config_want(&check_keys[4], buf, sizeof buf), "a number >= 0");
    cn_config_part_t part = {&rollout_table, NULL};
    cr_assert_str_eq(cn_config_children(&part, 1, "replicas.", buf, sizeof buf),
                     "min, max");
    cr_assert(cn_config_has_name(&part, 1, "replicas"));
    cr_assert(!cn_config_has_name(&part, 1, "replica"));
    cr_assert_not_null(cn_config_find_key(&rollout_table, "replicas.max"));
}
