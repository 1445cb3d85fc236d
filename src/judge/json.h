/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A judge's result as JSON: the one encoding `canary analyze --json`
 * prints and a rollout's audit trail stores, so that the two never drift.
 */
#ifndef CN_JUDGE_JSON_H
#define CN_JUDGE_JSON_H

#include "judge/judge.h"

#include <jansson.h>

/*
 * The result as a new JSON object (the caller owns the reference):
 * verdict, score, alpha_fail, alpha_pass, information_fraction and
 * previous_fraction (of `look`; 1 and 0 when look is NULL), reason, and
 * metrics: one object per row (name, segment, test, classification, the
 * p-values raw and adjusted, effect, ci, margin, n_canary, n_stable,
 * min_samples, the two arms' summaries, reason). NaN becomes null.
 * Allocation failure aborts (jansson's allocator is the process's).
 */
json_t *cn_judge_result_json(const cn_judge_result_t *res, const cn_judge_look_t *look);

#endif
