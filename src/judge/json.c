/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A judge's result as JSON; see json.h. */
#include "judge/json.h"

#include <math.h>

/* JSON real that turns a NaN into null (JSON has no NaN). */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jci(double lo, double hi)
{
    if (!isfinite(lo) && !isfinite(hi))
        return json_null();
    json_t *arr = json_array();
    json_array_append_new(arr, jnum(lo));
    json_array_append_new(arr, jnum(hi));
    return arr;
}

static json_t *jsummary(const cn_judge_arm_summary_t *s)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o}", "n", (json_int_t)s->n, "mean",
                     jnum(s->mean), "median", jnum(s->median), "p95", jnum(s->p95),
                     "p99", jnum(s->p99));
}

static json_t *jrow(const cn_judge_row_t *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "segment",
                        r->segment ? json_string(r->segment) : json_null());
    json_object_set_new(o, "test", json_string(cn_judge_test_name(r->test)));
    json_object_set_new(o, "classification", json_string(cn_judge_class_name(r->cls)));
    json_object_set_new(o, "pvalue", jnum(r->pvalue));
    json_object_set_new(o, "adjusted_pvalue", jnum(r->adjusted_pvalue));
    json_object_set_new(o, "pvalue_noninf", jnum(r->p_noninf));
    json_object_set_new(o, "adjusted_pvalue_noninf", jnum(r->p_noninf_adj));
    json_object_set_new(o, "pvalue_harm", jnum(r->p_harm));
    json_object_set_new(o, "adjusted_pvalue_harm", jnum(r->p_harm_adj));
    json_object_set_new(o, "effect", jnum(r->effect));
    json_object_set_new(o, "ci", jci(r->ci_low, r->ci_high));
    json_object_set_new(o, "margin", jnum(r->margin_abs));
    json_object_set_new(o, "n_canary", json_integer((json_int_t)r->canary.n));
    json_object_set_new(o, "n_stable", json_integer((json_int_t)r->stable.n));
    json_object_set_new(o, "min_samples", json_integer((json_int_t)r->min_samples));
    /* the number of requests judged in pairs (a shadow step); 0: unpaired */
    json_object_set_new(o, "pairs", json_integer((json_int_t)r->n_pairs));
    json_object_set_new(o, "canary", jsummary(&r->canary));
    json_object_set_new(o, "stable", jsummary(&r->stable));
    json_object_set_new(o, "reason", json_string(r->reason));
    return o;
}

json_t *cn_judge_result_json(const cn_judge_result_t *res, const cn_judge_look_t *look)
{
    json_t *o = json_object();
    json_object_set_new(o, "verdict", json_string(cn_judge_verdict_name(res->verdict)));
    json_object_set_new(o, "score", jnum(res->score));
    json_object_set_new(o, "alpha_fail", jnum(res->alpha_fail));
    json_object_set_new(o, "alpha_pass", jnum(res->alpha_pass));
    json_object_set_new(o, "information_fraction", jnum(look ? look->t : 1));
    json_object_set_new(o, "previous_fraction", jnum(look ? look->t_prev : 0));
    json_object_set_new(o, "reason", json_string(res->reason));
    json_t *rows = json_array();
    for (size_t i = 0; i < res->n_rows; i++)
        json_array_append_new(rows, jrow(&res->rows[i]));
    json_object_set_new(o, "metrics", rows);
    return o;
}
