/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The judge's YAML spec: every default, the issue's example read into the
 * right struct, the `analysis:` section of a service config, and for each
 * class of bad input the exact one-line message with file, line and key.
 */
#include "judge/config.h"
#include "judge/judge.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *yaml, cn_judge_config_t *cfg, char *err)
{
    return cn_judge_config_parse(yaml, strlen(yaml), "a.yaml", cfg, err, 512);
}

/* Parse text that must be valid. */
static void parse_ok(const char *yaml, cn_judge_config_t *cfg)
{
    char err[512];
    int rc = parse(yaml, cfg, err);
    cr_assert_eq(rc, 0, "unexpected error: %s", err);
}

static const char issue_example[] =
    "alpha: 0.05                  # false-rollback budget\n"
    "correction: holm             # none | bonferroni | holm | bh\n"
    "thresholds: {pass: 95, marginal: 60}\n"
    "segment_by: segment          # optional\n"
    "metrics:\n"
    "  - name: latency_ms\n"
    "    test: mann-whitney\n"
    "    direction: lower-is-better\n"
    "    margin: 5%\n"
    "    weight: 2\n"
    "    group: latency\n"
    "  - name: error\n"
    "    test: proportion\n"
    "    direction: lower-is-better\n"
    "    margin: 0.005\n"
    "    critical: true\n"
    "  - name: prediction\n"
    "    test: ks\n"
    "    max_statistic: 0.1\n"
    "  - name: p99_latency\n"
    "    test: threshold\n"
    "    source: latency_ms\n"
    "    quantile: 0.99\n"
    "    max: 200\n"
    "    max_ratio: 2.0\n";

/* ---------------------------------------------------------- defaults */

Test(config_defaults, config_init_sets_the_documented_defaults)
{
    cn_judge_config_t cfg;
    memset(&cfg, 0xAB, sizeof cfg);
    cn_judge_config_init(&cfg);
    cr_assert_eq(cfg.alpha, 0.05);
    cr_assert_eq(cfg.correction, CN_ADJUST_HOLM);
    cr_assert_eq(cfg.pass_score, 95);
    cr_assert_eq(cfg.marginal_score, 60);
    cr_assert_null(cfg.segment_by);
    cr_assert_eq(cfg.min_per_arm, 20);
    cr_assert_eq(cfg.power, 0.8);
    cr_assert_eq(cfg.looks, 1);
    cr_assert_null(cfg.metrics);
    cr_assert_eq(cfg.n_metrics, 0);
    cr_assert_null(cfg.groups);
    cr_assert_eq(cfg.n_groups, 0);
    cn_judge_config_dispose(&cfg);
    cn_judge_config_dispose(&cfg); /* twice is harmless */
}

Test(config_defaults, metric_init_sets_the_documented_defaults)
{
    cn_judge_metric_t m;
    memset(&m, 0xAB, sizeof m);
    cn_judge_metric_init(&m);
    cr_assert_null(m.name);
    cr_assert_eq(m.test, CN_JTEST_MWU);
    cr_assert_eq(m.direction, CN_JDIR_LOWER);
    cr_assert_eq(m.has_margin, 0);
    cr_assert_eq(m.weight, 1);
    cr_assert_null(m.group);
    cr_assert_eq(m.critical, 0);
    cr_assert_eq(m.min_samples, 0);
    cr_assert_eq(m.max_statistic, 0.1);
    cr_assert_eq(m.max_psi, 0.2);
    cr_assert_eq(m.bins, 10);
    cr_assert_eq(m.statistic, CN_BOOT_MEAN);
    cr_assert_eq(m.resamples, 2000);
    cr_assert_eq(m.seed, 1);
    cr_assert_null(m.source);
    cr_assert_eq(m.quantile, 0.99);
    cr_assert_eq(m.has_max, 0);
    cr_assert_eq(m.has_max_ratio, 0);
    cr_assert_eq(m.line, 0);
}

Test(config_defaults, a_minimal_spec_gets_every_default)
{
    cn_judge_config_t cfg;
    parse_ok("metrics:\n"
             "  - {name: d, test: ks}\n"
             "  - {name: p, test: psi}\n"
             "  - {name: b, test: bootstrap, margin: 1}\n"
             "  - {name: t, test: threshold, max: 5}\n",
             &cfg);
    cr_assert_eq(cfg.alpha, 0.05);
    cr_assert_eq(cfg.correction, CN_ADJUST_HOLM);
    cr_assert_eq(cfg.looks, 1);
    cr_assert_eq(cfg.n_metrics, 4);
    cr_assert_eq(cfg.metrics[0].max_statistic, 0.1);
    cr_assert_eq(cfg.metrics[0].direction, CN_JDIR_LOWER);
    cr_assert_eq(cfg.metrics[1].max_psi, 0.2);
    cr_assert_eq(cfg.metrics[1].bins, 10);
    cr_assert_eq(cfg.metrics[2].statistic, CN_BOOT_MEAN);
    cr_assert_eq(cfg.metrics[2].resamples, 2000);
    cr_assert_eq(cfg.metrics[2].seed, 1);
    cr_assert_eq(cfg.metrics[3].quantile, 0.99);
    cr_assert_str_eq(cfg.metrics[3].source, "t", "a threshold gates its own name");
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(cfg.metrics[i].weight, 1);
        cr_assert_eq(cfg.metrics[i].critical, 0);
        cr_assert_eq(cfg.metrics[i].min_samples, 0);
        cr_assert_eq(cfg.metrics[i].line, (int)i + 2);
    }
    cn_judge_config_dispose(&cfg);
}

/* ------------------------------------------------------------- names */

Test(config_names, tests_and_directions_round_trip)
{
    const char *tests[] = {"mann-whitney", "welch",     "proportion", "ks",
                           "psi",          "bootstrap", "threshold"};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        cn_judge_test_t t;
        cr_assert_eq(cn_judge_parse_test(tests[i], &t), 0);
        cr_assert_eq((size_t)t, i);
        cr_assert_str_eq(cn_judge_test_name(t), tests[i]);
    }
    const char *dirs[] = {"lower-is-better", "higher-is-better", "either"};
    for (size_t i = 0; i < 3; i++) {
        cn_judge_dir_t d;
        cr_assert_eq(cn_judge_parse_direction(dirs[i], &d), 0);
        cr_assert_eq((size_t)d, i);
        cr_assert_str_eq(cn_judge_direction_name(d), dirs[i]);
    }
    cn_judge_test_t t = CN_JTEST_KS;
    cn_judge_dir_t d = CN_JDIR_HIGHER;
    cr_assert_eq(cn_judge_parse_test("t-test", &t), CN_EINVAL);
    cr_assert_eq(cn_judge_parse_test(NULL, &t), CN_EINVAL);
    cr_assert_eq(t, CN_JTEST_KS, "untouched on error");
    cr_assert_eq(cn_judge_parse_direction("lower", &d), CN_EINVAL);
    cr_assert_eq(d, CN_JDIR_HIGHER);
    cr_assert_str_eq(cn_judge_test_name((cn_judge_test_t)99), "unknown");
    cr_assert_str_eq(cn_judge_direction_name((cn_judge_dir_t)99), "unknown");
}

/* ------------------------------------------------------------ parsing */

Test(config_parse, the_issue_example_reads_into_the_right_struct)
{
    cn_judge_config_t cfg;
    parse_ok(issue_example, &cfg);
    cr_assert_eq(cfg.alpha, 0.05);
    cr_assert_eq(cfg.correction, CN_ADJUST_HOLM);
    cr_assert_eq(cfg.pass_score, 95);
    cr_assert_eq(cfg.marginal_score, 60);
    cr_assert_str_eq(cfg.segment_by, "segment");
    cr_assert_eq(cfg.n_metrics, 4);

    const cn_judge_metric_t *lat = &cfg.metrics[0];
    cr_assert_str_eq(lat->name, "latency_ms");
    cr_assert_eq(lat->test, CN_JTEST_MWU);
    cr_assert_eq(lat->direction, CN_JDIR_LOWER);
    cr_assert(lat->has_margin);
    cr_assert_eq(lat->margin, 0.05);
    cr_assert_eq(lat->margin_kind, CN_MARGIN_RELATIVE);
    cr_assert_eq(lat->weight, 2);
    cr_assert_str_eq(lat->group, "latency");
    cr_assert_eq(lat->critical, 0);
    cr_assert_eq(lat->line, 6);

    const cn_judge_metric_t *err = &cfg.metrics[1];
    cr_assert_str_eq(err->name, "error");
    cr_assert_eq(err->test, CN_JTEST_PROPORTION);
    cr_assert_eq(err->margin, 0.005);
    cr_assert_eq(err->margin_kind, CN_MARGIN_ABSOLUTE);
    cr_assert_eq(err->critical, 1);
    cr_assert_null(err->group);
    cr_assert_eq(err->line, 12);

    const cn_judge_metric_t *pred = &cfg.metrics[2];
    cr_assert_str_eq(pred->name, "prediction");
    cr_assert_eq(pred->test, CN_JTEST_KS);
    cr_assert_eq(pred->max_statistic, 0.1);
    cr_assert_eq(pred->has_margin, 0);
    cr_assert_eq(pred->line, 17);

    const cn_judge_metric_t *gate = &cfg.metrics[3];
    cr_assert_str_eq(gate->name, "p99_latency");
    cr_assert_eq(gate->test, CN_JTEST_THRESHOLD);
    cr_assert_str_eq(gate->source, "latency_ms");
    cr_assert_eq(gate->quantile, 0.99);
    cr_assert(gate->has_max);
    cr_assert_eq(gate->max, 200);
    cr_assert(gate->has_max_ratio);
    cr_assert_eq(gate->max_ratio, 2.0);
    cr_assert_eq(gate->line, 20);

    char verr[256];
    cr_assert_eq(cn_judge_config_validate(&cfg, verr, sizeof verr), 0, "%s", verr);
    cn_judge_config_dispose(&cfg);
    cr_assert_null(cfg.metrics);
    cr_assert_eq(cfg.n_metrics, 0);
}

Test(config_parse, every_key_is_read)
{
    cn_judge_config_t cfg;
    parse_ok("alpha: 0.1\n"
             "correction: bh\n"
             "thresholds:\n"
             "  pass: 90.5\n"
             "  marginal: 0\n"
             "segment_by: region\n"
             "looks: 6\n"
             "power: 0.9\n"
             "min_per_arm: 50\n"
             "groups: {lat: 3, err: 1.5}\n"
             "metrics:\n"
             "  - name: a\n"
             "    test: welch\n"
             "    direction: either\n"
             "    margin: 2.5\n"
             "    weight: 0.5\n"
             "    group: lat\n"
             "    critical: false\n"
             "    min_samples: 300\n"
             "  - name: b\n"
             "    test: psi\n"
             "    max_psi: 0.25\n"
             "    bins: 20\n"
             "    group: err\n"
             "  - name: c\n"
             "    test: bootstrap\n"
             "    direction: higher-is-better\n"
             "    margin: 0%\n"
             "    statistic: p95\n"
             "    resamples: 500\n"
             "    seed: 18446744073709551615\n"
             "  - name: d\n"
             "    test: threshold\n"
             "    quantile: 0.5\n"
             "    max_ratio: 1.5\n"
             "    critical: True\n"
             "  - name: e\n"
             "    test: ks\n"
             "    max_statistic: 0\n",
             &cfg);
    cr_assert_eq(cfg.alpha, 0.1);
    cr_assert_eq(cfg.correction, CN_ADJUST_BH);
    cr_assert_eq(cfg.pass_score, 90.5);
    cr_assert_eq(cfg.marginal_score, 0);
    cr_assert_str_eq(cfg.segment_by, "region");
    cr_assert_eq(cfg.looks, 6);
    cr_assert_eq(cfg.power, 0.9);
    cr_assert_eq(cfg.min_per_arm, 50);
    cr_assert_eq(cfg.n_groups, 2);
    cr_assert_str_eq(cfg.groups[0].name, "lat");
    cr_assert_eq(cfg.groups[0].weight, 3);
    cr_assert_str_eq(cfg.groups[1].name, "err");
    cr_assert_eq(cfg.groups[1].weight, 1.5);
    cr_assert_eq(cfg.n_metrics, 5);
    const cn_judge_metric_t *m = cfg.metrics;
    cr_assert_eq(m[0].test, CN_JTEST_WELCH);
    cr_assert_eq(m[0].direction, CN_JDIR_EITHER);
    cr_assert_eq(m[0].margin, 2.5);
    cr_assert_eq(m[0].margin_kind, CN_MARGIN_ABSOLUTE);
    cr_assert_eq(m[0].weight, 0.5);
    cr_assert_str_eq(m[0].group, "lat");
    cr_assert_eq(m[0].critical, 0);
    cr_assert_eq(m[0].min_samples, 300);
    cr_assert_eq(m[1].max_psi, 0.25);
    cr_assert_eq(m[1].bins, 20);
    cr_assert_eq(m[2].direction, CN_JDIR_HIGHER);
    cr_assert_eq(m[2].margin, 0);
    cr_assert_eq(m[2].margin_kind, CN_MARGIN_RELATIVE);
    cr_assert_eq(m[2].statistic, CN_BOOT_P95);
    cr_assert_eq(m[2].resamples, 500);
    cr_assert_eq(m[2].seed, UINT64_MAX);
    cr_assert_eq(m[3].quantile, 0.5);
    cr_assert_eq(m[3].has_max, 0);
    cr_assert_eq(m[3].max_ratio, 1.5);
    cr_assert_eq(m[3].critical, 1);
    cr_assert_str_eq(m[3].source, "d");
    cr_assert_eq(m[4].max_statistic, 0);
    cn_judge_config_dispose(&cfg);
}

Test(config_parse, the_analysis_section_of_a_service_config_is_the_spec)
{
    cn_judge_config_t cfg;
    parse_ok("listen: 0.0.0.0:8080\n"
             "upstreams: {stable: [a:1], canary: [b:1]}\n"
             "rollout: {steps: [1, 5, 25]}\n"
             "analysis:\n"
             "  alpha: 0.01\n"
             "  looks: 3\n"
             "  metrics:\n"
             "    - name: latency_ms\n"
             "      test: mann-whitney\n"
             "      margin: 10%\n"
             "storage: {path: /var/lib/canary}\n",
             &cfg);
    cr_assert_eq(cfg.alpha, 0.01);
    cr_assert_eq(cfg.looks, 3);
    cr_assert_eq(cfg.n_metrics, 1);
    cr_assert_str_eq(cfg.metrics[0].name, "latency_ms");
    cr_assert_eq(cfg.metrics[0].margin, 0.1);
    cr_assert_eq(cfg.metrics[0].line, 8);
    cn_judge_config_dispose(&cfg);
}

Test(config_parse, flow_style_anchors_comments_and_crlf_are_yaml_as_usual)
{
    cn_judge_config_t cfg;
    parse_ok("# a comment line\r\n"
             "alpha: &a 0.02\r\n"
             "metrics: [{name: x, test: ks}, {name: y, test: welch, margin: '3%'}]\r\n",
             &cfg);
    cr_assert_eq(cfg.alpha, 0.02);
    cr_assert_eq(cfg.n_metrics, 2);
    cr_assert_eq(cfg.metrics[1].margin, 0.03, "a quoted margin is still a margin");
    cr_assert_eq(cfg.metrics[0].line, 3);
    cn_judge_config_dispose(&cfg);

    parse_ok("defaults: &m {name: shared, test: ks, weight: 3}\n"
             "analysis:\n"
             "  metrics:\n"
             "    - *m\n",
             &cfg);
    cr_assert_eq(cfg.n_metrics, 1);
    cr_assert_str_eq(cfg.metrics[0].name, "shared");
    cr_assert_eq(cfg.metrics[0].weight, 3);
    cn_judge_config_dispose(&cfg);
}

Test(config_parse, yaml_and_tag_directives_are_accepted)
{
    cn_judge_config_t cfg;
    parse_ok("%YAML 1.2\n%TAG !c! tag:example.com,2026:\n---\n"
             "metrics: [{name: x, test: ks}]\n",
             &cfg);
    cr_assert_eq(cfg.n_metrics, 1);
    cn_judge_config_dispose(&cfg);
}

Test(config_parse, single_quoted_strings_unescape_and_fold)
{
    cn_judge_config_t cfg;
    parse_ok("segment_by: 'it''s a ''''quoted'''' name'\n"
             "metrics:\n"
             "  - name: '  multi\n"
             "      line  \n"
             "\n"
             "      name '\n"
             "    test: ks\n",
             &cfg);
    cr_assert_str_eq(cfg.segment_by, "it's a ''quoted'' name");
    cr_assert_str_eq(cfg.metrics[0].name, "  multi line\nname ");
    cn_judge_config_dispose(&cfg);
}

Test(config_parse, segment_by_null_means_no_segments)
{
    cn_judge_config_t cfg;
    parse_ok("segment_by: ~\nmetrics: [{name: x, test: ks}]\n", &cfg);
    cr_assert_null(cfg.segment_by);
    cn_judge_config_dispose(&cfg);
}

Test(config_parse, the_buffer_need_not_be_nul_terminated)
{
    /* The length, not a NUL, ends the text: the "5" after it is not read. */
    const char text[] = "metrics: [{name: x, test: ks}]\nalpha: 0.25";
    cn_judge_config_t cfg;
    char err[512];
    cr_assert_eq(
        cn_judge_config_parse(text, sizeof text - 2, "a.yaml", &cfg, err, sizeof err),
        0, "%s", err);
    cr_assert_eq(cfg.alpha, 0.2);
    cn_judge_config_dispose(&cfg);
}

/* ------------------------------------------------------------ errors */

struct bad_case {
    const char *yaml;
    int rc;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    /* YAML itself */
    {"metrics: [\n", CN_EPARSE,
     "a.yaml:1: invalid YAML: flow sequence without a closing bracket"},
    {"alpha: 0.1\nalpha: 0.2\n", CN_EPARSE, "a.yaml:2: invalid YAML: duplicate key"},
    {"\tmetrics: []\n", CN_EPARSE,
     "a.yaml:1: invalid YAML: invalid tab as indendation in a mapping"},
    {"alpha: 0.1\n---\nalpha: 0.2\n", CN_EPARSE,
     "a.yaml:3: more than one YAML document ('---'); expected one"},
    {"%FOO bar\nalpha: 0.1\n", CN_EPARSE,
     "a.yaml:1: invalid YAML: unsupported directive '%FOO bar' (only %YAML and %TAG)"},
    {"%YAML 1.2                                                                     "
     "                                                                    \n---\n",
     CN_EPARSE, "a.yaml:1: invalid YAML: directive line longer than 128 bytes"},
    {"alpha: 0.1\nmetrics: \xff\n", CN_EPARSE,
     "a.yaml:2: invalid YAML: not UTF-8 (byte 0xFF)"},
    {"%TAG\xff", CN_EPARSE, "a.yaml:1: invalid YAML: not UTF-8 (byte 0xFF)"},
    {"a: \xed\xa0\x80\n", CN_EPARSE, "a.yaml:1: invalid YAML: not UTF-8 (byte 0xED)"},
    {"a: \xc0\xaf\n", CN_EPARSE, "a.yaml:1: invalid YAML: not UTF-8 (byte 0xC0)"},
    {"", CN_EINVAL, "a.yaml:1: empty config: expected a mapping with a 'metrics' list"},
    {"# nothing\n", CN_EINVAL,
     "a.yaml:1: empty config: expected a mapping with a 'metrics' list"},
    {"- a\n- b\n", CN_EINVAL,
     "a.yaml:1: the config must be a mapping of keys (alpha, correction, thresholds, "
     "segment_by, looks, power, min_per_arm, groups, metrics), got a list"},
    /* unknown keys */
    {"alpah: 0.1\n", CN_EINVAL,
     "a.yaml:1: key 'alpah': unknown key (expected one of alpha, correction, "
     "thresholds, segment_by, looks, power, min_per_arm, groups, metrics)"},
    {"thresholds: {pass: 90, fail: 10}\n", CN_EINVAL,
     "a.yaml:1: key 'thresholds.fail': unknown key (expected one of pass, marginal)"},
    {"metrics:\n  - name: a\n    test: ks\n    margn: 1\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].margn': unknown key (expected one of name, test, "
     "direction, margin, weight, group, critical, min_samples, max_statistic, "
     "max_psi, bins, statistic, resamples, seed, source, min_agreement, "
     "class_threshold, quantile, max, max_ratio)"},
    {"metrics:\n  - name: a\n    test: ks\n    max_psi: 0.3\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].max_psi': not used by test 'ks' (only by psi)"},
    {"metrics:\n  - name: a\n    test: ks\n    margin: 1\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].margin': not used by test 'ks' (only by "
     "mann-whitney, welch, proportion, bootstrap, auc)"},
    /* wrong types */
    {"alpha: \"0.05\"\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got the string '0.05'"},
    {"alpha: [0.05]\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got a list"},
    {"alpha:\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got null"},
    {"alpha: five\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got 'five'"},
    {"alpha: 0x1p-4\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got '0x1p-4'"},
    {"alpha: !!str 0.05\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got the string '0.05'"},
    {"alpha: !custom 0.05\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': unsupported YAML tag '!custom'"},
    {"thresholds: [95, 60]\n", CN_EINVAL,
     "a.yaml:1: key 'thresholds': must be a mapping of keys (pass, marginal), got a "
     "list"},
    {"metrics: {name: a}\n", CN_EINVAL,
     "a.yaml:1: key 'metrics': must be a list of metrics, got a mapping"},
    {"metrics:\n  - name: a\n    test: ks\n  - latency\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[1]': must be a mapping with name, test, ..., got "
     "'latency'"},
    {"metrics:\n  - name: [a]\n    test: ks\n", CN_EINVAL,
     "a.yaml:2: key 'metrics[0].name': must be a string, got a list"},
    {"metrics:\n  - name: a\n    test: ks\n    critical: yes\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].critical': must be true or false, got 'yes'"},
    {"metrics:\n  - name: a\n    test: psi\n    bins: 2.5\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].bins': must be an integer in [2, 10000], got '2.5'"},
    {"looks: \"3\"\n", CN_EINVAL,
     "a.yaml:1: key 'looks': must be an integer in [1, 1000], got the string '3'"},
    {"groups: [a, b]\n", CN_EINVAL,
     "a.yaml:1: key 'groups': must be a mapping of group name to weight, got a list"},
    {"[a]: 1\n", CN_EINVAL, "a.yaml:1: keys must be plain strings, got a list"},
    {"alpha: *nowhere\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': alias '*nowhere' refers "
     "to no anchor"},
    /* impossible values */
    {"alpha: 1\n", CN_EINVAL, "a.yaml:1: key 'alpha': must be in (0, 1), got '1'"},
    {"alpha: 0\n", CN_EINVAL, "a.yaml:1: key 'alpha': must be in (0, 1), got '0'"},
    {"alpha: 1e999\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got '1e999'"},
    {"alpha: .nan\n", CN_EINVAL,
     "a.yaml:1: key 'alpha': must be a number in (0, 1), got '.nan'"},
    {"power: 1.0\n", CN_EINVAL, "a.yaml:1: key 'power': must be in (0, 1), got '1.0'"},
    {"correction: sidak\n", CN_EINVAL,
     "a.yaml:1: key 'correction': must be one of none, bonferroni, holm, bh, got "
     "'sidak'"},
    {"thresholds: {pass: 101}\n", CN_EINVAL,
     "a.yaml:1: key 'thresholds.pass': must be in [0, 100], got '101'"},
    {"thresholds: {marginal: -1}\n", CN_EINVAL,
     "a.yaml:1: key 'thresholds.marginal': must be in [0, 100], got '-1'"},
    {"thresholds:\n  pass: 50\n  marginal: 60\nmetrics: [{name: x, test: ks}]\n",
     CN_EINVAL, "a.yaml:1: key 'thresholds': marginal (60) must be <= pass (50)"},
    {"thresholds: {marginal: 96}\nmetrics: [{name: x, test: ks}]\n", CN_EINVAL,
     "a.yaml:1: key 'thresholds': marginal (96) must be <= pass (95)"},
    {"looks: 0\n", CN_EINVAL,
     "a.yaml:1: key 'looks': must be an integer in [1, 1000], "
     "got '0'"},
    {"min_per_arm: -5\n", CN_EINVAL,
     "a.yaml:1: key 'min_per_arm': must be an integer >= 1, got '-5'"},
    {"groups: {lat: 0}\n", CN_EINVAL,
     "a.yaml:1: key 'groups.lat': must be > 0, got '0'"},
    {"segment_by: ''\n", CN_EINVAL, "a.yaml:1: key 'segment_by': must not be empty"},
    {"metrics:\n  - name: a\n    test: t-test\n", CN_EINVAL,
     "a.yaml:3: key 'metrics[0].test': must be one of mann-whitney, welch, "
     "proportion, ks, psi, bootstrap, threshold, agreement, auc, got 't-test'"},
    {"metrics:\n  - name: a\n    test: welch\n    margin: -1\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].margin': must be >= 0, got '-1'"},
    {"metrics:\n  - name: a\n    test: welch\n    margin: -5%\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].margin': must be >= 0, got '-5%'"},
    {"metrics:\n  - name: a\n    test: welch\n    margin: 5 ms\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].margin': must be a number >= 0 (in the metric's "
     "unit) or a percentage of stable such as 5%, got '5 ms'"},
    {"metrics:\n  - name: a\n    test: welch\n    margin: 1\n    direction: down\n",
     CN_EINVAL,
     "a.yaml:5: key 'metrics[0].direction': must be one of lower-is-better, "
     "higher-is-better, either, got 'down'"},
    {"metrics:\n  - name: a\n    test: ks\n    weight: 0\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].weight': must be > 0, got '0'"},
    {"metrics:\n  - name: a\n    test: ks\n    weight: -2\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].weight': must be > 0, got '-2'"},
    {"metrics:\n  - name: a\n    test: ks\n    max_statistic: 1.5\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].max_statistic': must be in [0, 1], got '1.5'"},
    {"metrics:\n  - name: a\n    test: psi\n    bins: 1\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].bins': must be an integer in [2, 10000], got '1'"},
    {"metrics:\n  - name: a\n    test: bootstrap\n    margin: 1\n    resamples: 10\n",
     CN_EINVAL,
     "a.yaml:5: key 'metrics[0].resamples': must be an integer in [100, 10000000], "
     "got '10'"},
    {"metrics:\n  - name: a\n    test: bootstrap\n    margin: 1\n    statistic: p50\n",
     CN_EINVAL,
     "a.yaml:5: key 'metrics[0].statistic': must be one of mean, median, p95, p99, "
     "got 'p50'"},
    {"metrics:\n  - name: a\n    test: bootstrap\n    margin: 1\n    seed: -1\n",
     CN_EINVAL,
     "a.yaml:5: key 'metrics[0].seed': must be a non-negative integer, got '-1'"},
    {"metrics:\n  - name: a\n    test: threshold\n    max: 1\n    quantile: 1\n",
     CN_EINVAL, "a.yaml:5: key 'metrics[0].quantile': must be in (0, 1), got '1'"},
    {"metrics:\n  - name: a\n    test: threshold\n    max_ratio: 0\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].max_ratio': must be > 0, got '0'"},
    {"metrics:\n  - name: a\n    test: ks\n    min_samples: 0\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[0].min_samples': must be an integer >= 1, got '0'"},
    {"metrics:\n  - name: ''\n    test: ks\n", CN_EINVAL,
     "a.yaml:2: key 'metrics[0].name': must not be empty"},
    /* cross-field */
    {"alpha: 0.1\n", CN_EINVAL,
     "a.yaml:1: key 'metrics': required: a list of metrics to judge"},
    {"metrics: []\n", CN_EINVAL,
     "a.yaml:1: key 'metrics': at least one metric is required"},
    {"metrics:\n  - test: ks\n", CN_EINVAL,
     "a.yaml:2: key 'metrics[0].name': required: the metric's name in the data"},
    {"metrics:\n  - name: a\n", CN_EINVAL,
     "a.yaml:2: key 'metrics[0].test': required: one of mann-whitney, welch, "
     "proportion, ks, psi, bootstrap, threshold, agreement, auc"},
    {"metrics:\n  - name: a\n    test: ks\n  - name: b\n    test: welch\n", CN_EINVAL,
     "a.yaml:4: key 'metrics[1].margin': required for test 'welch' (e.g. 5% of "
     "stable, or 2.5 in the metric's unit)"},
    {"metrics:\n  - name: a\n    test: threshold\n    quantile: 0.9\n", CN_EINVAL,
     "a.yaml:2: key 'metrics[0]': test 'threshold' needs a limit: max (absolute) "
     "and/or max_ratio (canary / stable)"},
    {"metrics:\n  - name: a\n    test: ks\n  - name: b\n    test: psi\n"
     "  - name: a\n    test: psi\n",
     CN_EINVAL,
     "a.yaml:6: key 'metrics[2].name': duplicate metric name 'a' (first at line 2)"},
    {"groups: {lat: 1}\nmetrics:\n  - name: a\n    test: ks\n    group: err\n",
     CN_EINVAL,
     "a.yaml:3: key 'metrics[0].group': group 'err' is not declared in 'groups'"},
    /* the section form names its keys under analysis. */
    {"server: {x: 1}\nanalysis:\n  metrics:\n    - name: a\n      test: welch\n"
     "      margin: -3\n",
     CN_EINVAL, "a.yaml:6: key 'analysis.metrics[0].margin': must be >= 0, got '-3'"},
    {"server: {x: 1}\nanalysis:\n  metrics:\n    - name: a\n      test: welch\n",
     CN_EINVAL,
     "a.yaml:4: key 'analysis.metrics[0].margin': required for test 'welch' (e.g. 5% "
     "of stable, or 2.5 in the metric's unit)"},
    {"analysis: [1]\n", CN_EINVAL,
     "a.yaml:1: key 'analysis': must be a mapping of keys (alpha, correction, "
     "thresholds, segment_by, looks, power, min_per_arm, groups, metrics), got a "
     "list"},
    {"analysis:\n  alpha: 2\n", CN_EINVAL,
     "a.yaml:2: key 'analysis.alpha': must be in (0, 1), got '2'"},
};

Test(config_errors, each_bad_input_gives_one_exact_line_and_no_config)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        cn_judge_config_t cfg;
        char err[512];
        int rc = parse(c->yaml, &cfg, err);
        cr_expect_eq(rc, c->rc, "case %zu (%s): rc %d, message %s", i, c->yaml, rc,
                     err);
        cr_expect_str_eq(err, c->message, "case %zu: %s", i, err);
        cr_expect_null(strchr(err, '\n'), "case %zu: one line", i);
        cr_expect_null(cfg.metrics, "case %zu: no partial config", i);
        cr_expect_eq(cfg.n_metrics, 0);
        cr_expect_null(cfg.groups);
        cr_expect_null(cfg.segment_by);
        cn_judge_config_dispose(&cfg);
    }
}

Test(config_errors, a_raw_nul_byte_is_rejected)
{
    const char text[] = "alpha: 0.1\n\0\n";
    cn_judge_config_t cfg;
    char err[512];
    cr_assert_eq(
        cn_judge_config_parse(text, sizeof text - 1, "a.yaml", &cfg, err, sizeof err),
        CN_EPARSE);
    cr_assert_str_eq(err, "a.yaml:2: invalid YAML: NUL byte");
}

Test(config_parse, utf8_names_are_accepted)
{
    cn_judge_config_t cfg;
    parse_ok("metrics: [{name: \"latenz_\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80\", test: "
             "ks}]\n",
             &cfg);
    cr_assert_str_eq(cfg.metrics[0].name,
                     "latenz_\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80");
    cn_judge_config_dispose(&cfg);
}

Test(config_errors, a_nul_byte_in_a_value_is_rejected)
{
    const char text[] = "metrics:\n  - name: \"a\\0b\"\n    test: ks\n";
    cn_judge_config_t cfg;
    char err[512];
    cr_assert_eq(parse(text, &cfg, err), CN_EINVAL);
    cr_assert_str_eq(err, "a.yaml:2: key 'metrics[0].name': contains a NUL byte");
}

Test(config_errors, long_values_are_quoted_short_and_printable)
{
    cn_judge_config_t cfg;
    char err[512];
    cr_assert_eq(parse("alpha: \"\\u0001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaa\"\n",
                       &cfg, err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "a.yaml:1: key 'alpha': must be a number in (0, 1), got the "
                          "string '?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
}

Test(config_errors, a_small_err_buffer_is_truncated_not_overrun)
{
    cn_judge_config_t cfg;
    char err[16];
    memset(err, 'x', sizeof err);
    cr_assert_eq(cn_judge_config_parse("alpha: 2\n", 9, "a.yaml", &cfg, err, 10),
                 CN_EINVAL);
    cr_assert_str_eq(err, "a.yaml:1:");
    cr_assert_eq(err[10], 'x');
}

/* ---------------------------------------------------------- validate */

Test(config_validate, configs_built_in_code_name_the_metric)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    char err[256];
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'metrics': at least one metric is required");

    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup("lat");
    m.test = CN_JTEST_WELCH;
    cn_judge_metric_t *stored = cn_judge_config_add_metric(&cfg, &m);
    cr_assert_str_eq(stored->name, "lat");
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'metrics[0].margin' (metric 'lat'): required for "
                          "test 'welch' (e.g. 5% of stable, or 2.5 in the metric's "
                          "unit)");
    cfg.metrics[0].has_margin = 1;
    cfg.metrics[0].margin = -1;
    cfg.metrics[0].line = 7;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'metrics[0].margin' (metric 'lat', line 7): must be "
                          ">= 0, got '-1'");
    cfg.metrics[0].margin = 0.5;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(err, "");

    cn_judge_metric_init(&m);
    m.name = strdup("lat");
    m.test = CN_JTEST_KS;
    cn_judge_config_add_metric(&cfg, &m);
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'metrics[1].name' (metric 'lat'): duplicate metric "
                          "name 'lat' (first at line 7)");
    free(cfg.metrics[1].name);
    cfg.metrics[1].name = strdup("drift");

    cfg.marginal_score = 99;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'thresholds': marginal (99) must be <= pass (95)");
    cfg.marginal_score = 60;
    cfg.alpha = NAN;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'alpha': must be a number in (0, 1), got 'NaN'");
    cfg.alpha = 0.05;
    cfg.looks = 0;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'looks': must be an integer in [1, 1000], got '0'");
    cfg.looks = 1;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cn_judge_config_dispose(&cfg);
}

Test(config_validate, a_threshold_added_without_source_gates_its_own_name)
{
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup("p99");
    m.test = CN_JTEST_THRESHOLD;
    cn_judge_metric_t *s = cn_judge_config_add_metric(&cfg, &m);
    cr_assert_str_eq(s->source, "p99");
    cr_assert_neq(s->source, s->name, "a copy, owned separately");
    char err[256];
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "key 'metrics[0]' (metric 'p99'): test 'threshold' needs a "
                          "limit: max (absolute) and/or max_ratio (canary / stable)");
    cfg.metrics[0].has_max = 1;
    cfg.metrics[0].max = 100;
    cr_assert_eq(cn_judge_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cn_judge_config_dispose(&cfg);
}

/* -------------------------------------------------------------- docs */

/* Every key of the judge's tables is written in examples/analysis.yaml as
 * "key:" (a top-level key, a key of thresholds, or a metric's key), so the
 * documented example cannot fall behind the table. */
Test(config_docs, every_key_is_in_the_example)
{
    FILE *f = fopen("examples/analysis.yaml", "rb");
    cr_assert_not_null(f, "run from the repository root");
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const cn_config_table_t *spec = cn_judge_config_table();
    size_t checked = 0;
    for (size_t i = 0; i < spec->n_keys; i++) {
        const char *key = spec->keys[i].key;
        const char *leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
        char want[80];
        snprintf(want, sizeof want, "%s:", leaf);
        cr_expect_not_null(strstr(text, want), "key '%s' is not documented", key);
        checked++;
        if (spec->keys[i].type != CN_CONFIG_LIST)
            continue;
        const cn_config_table_t *metric = spec->keys[i].table;
        for (size_t j = 0; j < metric->n_keys; j++) {
            snprintf(want, sizeof want, " %s:", metric->keys[j].key);
            cr_expect_not_null(strstr(text, want), "metric key '%s' is not documented",
                               metric->keys[j].key);
            checked++;
        }
    }
    cr_assert_eq(checked, 10 + 20, "every key of both tables was looked for");
    /* And the example itself is a valid spec. */
    cn_judge_config_t cfg;
    char err[512];
    cr_assert_eq(
        cn_judge_config_parse(text, n, "examples/analysis.yaml", &cfg, err, sizeof err),
        0, "%s", err);
    cn_judge_config_dispose(&cfg);
}
