/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Delayed feedback: the body parser (one object or JSON Lines, one error
 * per bad line), the store (values kept once, per step, version and
 * segment), what it gives the judge, and the label metrics against
 * scikit-learn (tests/golden/labels.json from tools/golden/gen_auc.py).
 */
#include "feedback/feedback.h"
#include "golden.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static cn_feedback_metric_t metrics[] = {
    {"clicked", CN_FEEDBACK_PROPORTION},
    {"revenue", CN_FEEDBACK_MEAN},
    {"label", CN_FEEDBACK_LABEL},
};

static cn_feedback_config_t config(void)
{
    cn_feedback_config_t c = {.ttl_ms = 60000,
                              .threshold = 0.5,
                              .max_lines = 5,
                              .metrics = metrics,
                              .n_metrics = 3};
    return c;
}

static void parse_ok(const char *body, cn_feedback_batch_t *b)
{
    cn_feedback_config_t c = config();
    char err[256];
    cr_assert_eq(cn_feedback_parse(&c, body, strlen(body), b, err, sizeof err), 0, "%s",
                 err);
}

Test(feedback, one_object_over_several_lines_is_one_item)
{
    cn_feedback_batch_t b;
    parse_ok("{\n  \"request_id\": \"r1\",\n  \"metrics\": {\"clicked\": true, "
             "\"revenue\": 12.5, \"label\": 0}\n}\n",
             &b);
    cr_assert_eq(b.n_items, 1);
    cr_assert_eq(b.n_errors, 0);
    cr_assert_str_eq(b.items[0].id, "r1");
    cr_assert_eq(b.items[0].mask, 7u);
    cr_assert_eq(b.items[0].values[0], 1.0);
    cr_assert_eq(b.items[0].values[1], 12.5);
    cr_assert_eq(b.items[0].values[2], 0.0);
    cn_feedback_batch_dispose(&b);
}

Test(feedback, json_lines_keep_the_good_lines_and_name_each_bad_one)
{
    cn_feedback_batch_t b;
    parse_ok("{\"request_id\": \"a\", \"metrics\": {\"clicked\": 0}}\n"
             "\n"
             "{\"request_id\": \"b\", \"metrics\": {\"label\": 0.5}}\n"
             "[1, 2]\n"
             "{\"request_id\": \"c\", \"metrics\": {\"revenue\": \"12\"}}\n"
             "{\"request_id\": \"d\", \"metrics\": {\"revenue\": -3}}",
             &b);
    cr_assert_eq(b.lines, 5);
    cr_assert_eq(b.n_items, 2);
    cr_assert_str_eq(b.items[0].id, "a");
    cr_assert_eq(b.items[0].line, 1);
    cr_assert_str_eq(b.items[1].id, "d");
    cr_assert_eq(b.items[1].line, 6);
    cr_assert_eq(b.n_errors, 3);
    cr_assert_str_eq(b.errors[0].message, "line 3: metrics.label: must be 0 or 1");
    cr_assert_eq(b.errors[1].line, 4);
    cr_assert_str_eq(b.errors[2].message, "line 5: metrics.revenue: must be a number");
    cn_feedback_batch_dispose(&b);
}

Test(feedback, refuses_an_empty_body_too_many_lines_and_ids_the_router_never_keeps)
{
    cn_feedback_config_t c = config();
    cn_feedback_batch_t b;
    char err[256];
    cr_assert_eq(cn_feedback_parse(&c, " \n", 2, &b, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "empty body") != NULL, "%s", err);
    const char *six = "{}\n{}\n{}\n{}\n{}\n{}\n";
    cr_assert_eq(cn_feedback_parse(&c, six, strlen(six), &b, err, sizeof err),
                 CN_ETOOBIG);
    cr_assert(strstr(err, "more than 5 lines") != NULL, "%s", err);
    char body[200];
    snprintf(body, sizeof body,
             "{\"request_id\": \"%064d\", \"metrics\": {\"clicked\": 1}}", 0);
    parse_ok(body, &b);
    cr_assert_eq(b.n_items, 0);
    cr_assert(strstr(b.errors[0].message, "64 bytes, longer than the 63") != NULL, "%s",
              b.errors[0].message);
    cn_feedback_batch_dispose(&b);
    parse_ok("{\"request_id\": \"x\", \"metrics\": {\"clicked\": 1}, \"when\": 3}", &b);
    cr_assert_str_eq(b.errors[0].message,
                     "line 1: unknown key 'when' (expected request_id, metrics)");
    cn_feedback_batch_dispose(&b);
    parse_ok("{\"request_id\": \"x\", \"metrics\": {\"clicked\": 1, \"clicked\": 0}}",
             &b);
    cr_assert_eq(b.n_items, 0, "a duplicate key is refused, not silently one of them");
    cn_feedback_batch_dispose(&b);
}

static cn_feedback_item_t item(const char *id, uint32_t mask, double clicked,
                               double revenue, double label)
{
    cn_feedback_item_t it;
    memset(&it, 0, sizeof it);
    snprintf(it.id, sizeof it.id, "%s", id);
    it.id_len = strlen(it.id);
    it.mask = mask;
    it.values[0] = clicked;
    it.values[1] = revenue;
    it.values[2] = label;
    return it;
}

static const cn_judge_metric_t *judge_metric(cn_judge_config_t *cfg, const char *name,
                                             cn_judge_test_t test)
{
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup(name);
    m.test = test;
    m.margin = 0.05;
    m.has_margin = 1;
    return cn_judge_config_add_metric(cfg, &m);
}

Test(feedback, values_go_to_their_step_version_and_segment_and_reach_the_judge)
{
    cn_feedback_config_t c = config();
    cn_feedback_t *fb = cn_feedback_new(&c, 100, 1);
    cn_feedback_served_t st = {CN_ROLE_STABLE, "v1", "eu", 5, 0.9};
    cn_feedback_served_t ca = {CN_ROLE_CANARY, "v2", "eu", 5, 0.2};
    cn_feedback_served_t gone = {CN_ROLE_CANARY, "v0", "eu", 5, 0.2};
    for (int i = 0; i < 30; i++) {
        cn_feedback_item_t it = item("x", 7u, i % 3 == 0, i, i % 2);
        cn_feedback_record(fb, &st, &it, 7u);
        cn_feedback_record(fb, &ca, &it, 7u);
        cn_feedback_record(fb, &gone, &it, 7u);
    }
    /* a value joined before is dropped and counted */
    cn_feedback_item_t again = item("x", 1u, 1, 0, 0);
    cn_feedback_record(fb, &st, &again, 0u);
    cn_feedback_counters_t k;
    cn_feedback_counters(fb, &k);
    cr_assert_eq(k.values_duplicate, 1);

    cn_judge_config_t jc;
    cn_judge_config_init(&jc);
    judge_metric(&jc, "clicked", CN_JTEST_PROPORTION);
    judge_metric(&jc, "revenue", CN_JTEST_WELCH);
    judge_metric(&jc, "accuracy", CN_JTEST_PROPORTION);
    judge_metric(&jc, "brier", CN_JTEST_WELCH);
    cn_judge_data_t *d = cn_judge_data_new();
    const char *labels[CN_ROLE_COUNT] = {"v1", "v2"};
    cr_assert_eq(cn_feedback_add_to_judge(fb, 5, labels, &jc, d), 0);
    cn_judge_result_t r;
    jc.min_per_arm = 10;
    cr_assert_eq(cn_judge_run(&jc, d, NULL, &r), 0);
    /* clicked: 10 of 30 per arm (v0's cell is not canary's now) */
    cr_assert_eq(r.rows[0].canary.n, 30);
    cr_assert_float_eq(r.rows[0].canary.mean, 10.0 / 30, 1e-12);
    cr_assert_eq(r.rows[1].stable.n, 30);
    cr_assert_float_eq(r.rows[1].stable.mean, 14.5, 1e-12);
    /* accuracy: stable predicts 0.9 (class 1): right on the odd ones */
    cr_assert_float_eq(r.rows[2].stable.mean, 0.5, 1e-12);
    cr_assert_float_eq(r.rows[2].canary.mean, 0.5, 1e-12);
    /* brier of 0.9 against 0/1: 0.01 or 0.81 */
    cr_assert_float_eq(r.rows[3].stable.mean, 0.41, 1e-12);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    /* another step has nothing */
    d = cn_judge_data_new();
    cr_assert_eq(cn_feedback_add_to_judge(fb, 6, labels, &jc, d), 0);
    cr_assert_eq(cn_judge_run(&jc, d, NULL, &r), 0);
    cr_assert_eq(r.verdict, CN_VERDICT_MARGINAL);
    cr_assert(strstr(r.reason, "clicked (no samples named 'clicked'") != NULL, "%s",
              r.reason);
    cn_judge_result_dispose(&r);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&jc);
    cn_feedback_free(fb);
}

Test(feedback, keeps_the_newest_steps_and_counts_values_for_older_ones_as_late)
{
    cn_feedback_config_t c = config();
    cn_feedback_t *fb = cn_feedback_new(&c, 10, 1);
    cn_feedback_item_t it = item("x", 1u, 1, 0, 0);
    for (uint64_t s = 1; s <= CN_FEEDBACK_STEPS + 2; s++) {
        cn_feedback_served_t at = {CN_ROLE_STABLE, "v1", "", s, NAN};
        cn_feedback_record(fb, &at, &it, 1u);
    }
    cn_feedback_served_t old = {CN_ROLE_STABLE, "v1", "", 1, NAN};
    cn_feedback_record(fb, &old, &it, 1u);
    cn_feedback_counters_t k;
    cn_feedback_counters(fb, &k);
    cr_assert_eq(k.late, 1);
    size_t n;
    uint64_t step;
    cn_feedback_cell_summary_t *cells = cn_feedback_summary(fb, 0, &n, &step);
    cr_assert_eq(step, CN_FEEDBACK_STEPS + 2);
    cr_assert_eq(n, 1);
    cr_assert_eq(cells[0].metric[0].n, 1);
    free(cells);
    cn_feedback_free(fb);
}

Test(feedback, label_metrics_match_scikit_learn)
{
    cn_feedback_config_t c = config();
    json_t *root = golden_load("labels");
    json_t *gc;
    size_t i;
    json_array_foreach(golden_cases(root), i, gc)
    {
        size_t n, nl;
        double *p = golden_doubles(gc, "prediction", &n);
        double *y = golden_doubles(gc, "label", &nl);
        cn_feedback_t *fb = cn_feedback_new(&c, n, 1);
        for (size_t k = 0; k < n; k++) {
            cn_feedback_served_t s = {CN_ROLE_CANARY, "v2", "", 1, p[k]};
            cn_feedback_item_t it = item("x", 4u, 0, 0, y[k]);
            cn_feedback_record(fb, &s, &it, 4u);
        }
        size_t cells;
        uint64_t step;
        cn_feedback_cell_summary_t *sum = cn_feedback_summary(fb, 1, &cells, &step);
        cr_assert_eq(cells, 1);
        const cn_feedback_estimate_t *l = sum[0].label;
        cr_assert_eq(l[0].n, n);
        assert_golden(l[0].value, golden_num(gc, "accuracy"), GOLDEN_REL, "accuracy");
        assert_golden(l[1].value, golden_num(gc, "log_loss"), GOLDEN_REL,
                      "log_loss %.17g", l[1].value);
        assert_golden(l[2].value, golden_num(gc, "brier"), GOLDEN_REL, "brier");
        assert_golden(l[3].value, golden_num(gc, "auc"), GOLDEN_REL, "auc");
        cr_assert(l[0].low < l[0].value && l[0].value < l[0].high);
        free(sum);
        free(p);
        free(y);
        cn_feedback_free(fb);
    }
    json_decref(root);
}
