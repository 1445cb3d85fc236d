/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The parity check's spec and strategy (controller/parity.h). */
#include "controller/parity.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static cn_parity_spec_t spec_of(const char *label, const char *a, const char *b)
{
    cn_parity_spec_t s;
    cn_parity_spec_init(&s);
    s.weight_bp = 5000;
    s.duration_ms = 600000;
    cn_version_set_dispose(&s.canary);
    cn_version_set_init(&s.canary, label);
    cn_version_set_add(&s.canary, a);
    if (b)
        cn_version_set_add(&s.canary, b);
    return s;
}

Test(parity, the_spec_reads_back_as_written)
{
    cn_parity_spec_t s = spec_of("v1+parity", "127.0.0.1:9001", "[::1]:9002");
    char *text = cn_parity_spec_json(&s);
    cr_assert_str_eq(text, "{\"parity\":{\"weight_bp\":5000,\"duration_ms\":600000,"
                           "\"label\":\"v1+parity\",\"addresses\":[\"127.0.0.1:9001\","
                           "\"[::1]:9002\"]}}");
    cn_parity_spec_t back;
    bool is = false;
    char err[200];
    cr_assert_eq(cn_parity_spec_parse(text, &back, &is, err, sizeof err), 0, "%s", err);
    cr_assert(is);
    cr_assert_eq(back.weight_bp, 5000);
    cr_assert_eq(back.duration_ms, 600000);
    cr_assert(cn_version_set_equal(&back.canary, &s.canary));
    free(text);
    cn_parity_spec_dispose(&back);
    cn_parity_spec_dispose(&s);
}

Test(parity, a_strategy_without_a_parity_object_is_not_a_check)
{
    static const char *const texts[] = {NULL, "{}", "{\"steps\":[]}", "[1]",
                                        "nonsense"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cn_parity_spec_t s;
        bool is = true;
        char err[200];
        cr_assert_eq(cn_parity_spec_parse(texts[i], &s, &is, err, sizeof err), 0);
        cr_assert_not(is, "%s", texts[i] ? texts[i] : "NULL");
        cn_parity_spec_dispose(&s);
    }
}

Test(parity, a_bad_spec_is_named)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"parity\":{}}", "parity.weight_bp"},
        {"{\"parity\":{\"weight_bp\":10000,\"duration_ms\":1,\"label\":\"x\","
         "\"addresses\":[\"a:1\"]}}",
         "parity.weight_bp"},
        {"{\"parity\":{\"weight_bp\":5,\"duration_ms\":0,\"label\":\"x\","
         "\"addresses\":[\"a:1\"]}}",
         "parity.duration_ms"},
        {"{\"parity\":{\"weight_bp\":5,\"duration_ms\":1,\"label\":\"\","
         "\"addresses\":[\"a:1\"]}}",
         "parity.label"},
        {"{\"parity\":{\"weight_bp\":5,\"duration_ms\":1,\"label\":\"x\","
         "\"addresses\":[]}}",
         "parity.addresses"},
        {"{\"parity\":{\"weight_bp\":5,\"duration_ms\":1,\"label\":\"x\","
         "\"addresses\":[\"a:1\",2]}}",
         "parity.addresses[1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_parity_spec_t s;
        bool is = false;
        char err[200];
        cr_assert_eq(cn_parity_spec_parse(cases[i].text, &s, &is, err, sizeof err),
                     CN_EINVAL, "%s", cases[i].text);
        cr_assert(is, "a malformed spec is still a parity check's");
        cr_assert(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0, "%s: %s",
                  cases[i].text, err);
        cn_parity_spec_dispose(&s);
    }
}

/* What a parity check runs is a valid strategy: one weight, one bake,
 * one analysis with its whole alpha (no retries), nothing that lasts. */
Test(parity, its_strategy_is_one_weight_one_bake_one_analysis)
{
    cn_strategy_t base;
    cn_strategy_init(&base);
    base.warmup_ms = 5000;
    base.retries = 3;
    base.dry_run = true;
    base.on_marginal = CN_STRATEGY_MARGINAL_RETRY;
    base.triggers.has_error_rate = 1;
    base.triggers.error_rate.max = 0.1;
    base.triggers.error_rate.has_max = 1;
    base.gates.has_promotion = 1;
    cn_parity_spec_t s = spec_of("v1+parity", "127.0.0.1:9001", NULL);
    s.weight_bp = 2500;
    s.duration_ms = 30000;
    cn_strategy_t p;
    cn_parity_strategy(&base, &s, 200, &p);
    char err[300];
    cr_assert_eq(cn_strategy_validate(&p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.n_steps, 3);
    cr_assert_eq(p.steps[0].kind, CN_STRATEGY_SET_WEIGHT);
    cr_assert_eq(p.steps[0].weight_bp, 2500);
    cr_assert_eq(p.steps[1].kind, CN_STRATEGY_PAUSE);
    cr_assert_eq(p.steps[1].pause.duration_ms, 30000);
    cr_assert_eq(p.steps[2].kind, CN_STRATEGY_ANALYSIS);
    cr_assert_eq(p.steps[2].analysis.min_samples, 200);
    cr_assert_eq(p.max_bake_ms, 30000);
    cr_assert_eq(p.retries, 0);
    cr_assert_eq(p.on_marginal, CN_STRATEGY_MARGINAL_HOLD);
    cr_assert_not(p.dry_run);
    cr_assert_eq(p.warmup_ms, 5000);
    cr_assert(p.triggers.has_error_rate, "the triggers protect users as in a rollout");
    cr_assert_not(p.gates.has_promotion);
    cn_parity_strategy_dispose(&p);
    cn_parity_spec_dispose(&s);
    cn_strategy_dispose(&base);
}

Test(parity, results_by_state)
{
    cr_assert_str_eq(cn_parity_result(CN_STORE_ROLLOUT_PROMOTED), "passed");
    cr_assert_str_eq(cn_parity_result(CN_STORE_ROLLOUT_ROLLED_BACK), "failed");
    cr_assert_str_eq(cn_parity_result(CN_STORE_ROLLOUT_ABORTED), "inconclusive");
    cr_assert_str_eq(cn_parity_result(CN_STORE_ROLLOUT_PROGRESSING), "running");
}
