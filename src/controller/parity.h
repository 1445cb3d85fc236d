/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The infrastructure parity (A/A) check: stable's own version routed as
 * the canary arm, judged with the same analysis, so that an asymmetry of
 * the two arms (other nodes, other limits, a split or a measurement that
 * favours one side) shows before it blames a real candidate (issue 17;
 * docs/PARITY.md).
 *
 * A parity check is a rollout whose version is stable's own, with a spec
 * instead of the configured strategy in its row's `strategy` column:
 *     {"parity": {"weight_bp": 5000, "duration_ms": 600000,
 *                 "label": "v1+parity", "addresses": ["h:1", ...]}}
 * The canary arm is a set labelled with the parity label of stable's
 * (types.h) on the given addresses (stable's own by default: the same
 * servers measured as two arms, which the router allows for this label
 * only). It runs the strategy cn_parity_strategy() builds: one weight, a
 * bake of `duration`, one analysis with the whole alpha, which the driver
 * runs in both directions (an equivalence test: each arm against the
 * other). Its ends change no registry tag and no stable set: every end
 * publishes the canary arm empty at weight 0.
 *
 * Pure: no I/O, no global state.
 */
#ifndef CN_CONTROLLER_PARITY_H
#define CN_CONTROLLER_PARITY_H

#include "controller/strategy.h"
#include "store/store.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cn_parity_spec_s {
    uint16_t weight_bp;      /* (0, 10000) */
    uint64_t duration_ms;    /* > 0 */
    cn_version_set_t canary; /* the parity label and its addresses */
} cn_parity_spec_t;

void cn_parity_spec_init(cn_parity_spec_t *s);
void cn_parity_spec_dispose(cn_parity_spec_t *s);

/* The spec as the row's strategy JSON (compact; the caller frees it). */
char *cn_parity_spec_json(const cn_parity_spec_t *s);

/*
 * Read a row's strategy column. text NULL or JSON without a "parity"
 * object: 0 with *is_parity false (a rollout of a candidate). A parity
 * object: 0 with *is_parity true and *out filled (initialised here); a
 * malformed one (a key missing or out of range): CN_EINVAL naming it.
 */
int cn_parity_spec_parse(const char *text, cn_parity_spec_t *out, bool *is_parity,
                         char *err, size_t errlen);

/*
 * The strategy a parity check runs: base's warmup, progress deadline,
 * triggers (they protect users as in any rollout) and level; the steps
 * set_weight spec.weight, pause spec.duration, analysis {min_samples}
 * (the analysis section's min_per_arm: the check judges once when its
 * duration ends, with what it has, rather than wait for the floor a pass
 * would need: harm can be shown with fewer samples than equivalence);
 * max_bake spec.duration (short of even min_samples then: it holds, and
 * the driver ends it as inconclusive); on_marginal hold; retries 0 (one
 * analysis with the whole alpha); no gates (it changes nothing that
 * lasts); not a dry run. *out borrows base's strings: base must outlive
 * it; free it with cn_parity_strategy_dispose, never cn_strategy_dispose.
 */
void cn_parity_strategy(const cn_strategy_t *base, const cn_parity_spec_t *spec,
                        uint64_t min_samples, cn_strategy_t *out);
void cn_parity_strategy_dispose(cn_strategy_t *s);

/* What a parity check's state says of it: "running" (active),
 * "passed" (promoted: the arms shown equivalent within every margin),
 * "failed" (rolled-back: an asymmetry shown, or a trigger fired),
 * "inconclusive" (aborted: neither shown, or ended by a person). */
const char *cn_parity_result(cn_store_rollout_state_t state);

#endif
