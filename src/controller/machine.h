/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A rollout's state machine (cn_rollout_t) in its stored form: the JSON
 * object of the store's `machine` column, what a restart resumes from.
 * Private to the controller (the driver and its tests).
 *
 * The format is versioned: the object carries "format": 1 (a row written
 * before the key existed has none, and reads as 1). A reader takes exactly
 * the keys of its format: a newer format, an unknown key, a missing one or
 * a value out of range is unreadable, with a message naming it, because a
 * key this build does not know is state it would drop on its next write.
 * A newer canary that adds a key must raise the format. What the driver
 * does with an unreadable machine: it ends the rollout as aborted (driver.c,
 * resume_work; docs/STRATEGY.md, "After a crash").
 *
 * Pure: no I/O, no global state.
 */
#ifndef CN_CONTROLLER_MACHINE_H
#define CN_CONTROLLER_MACHINE_H

#include "controller/rollout.h"
#include "store/store.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* The format this build writes; it reads it and every older one. Format 2
 * adds the optional "sequential" object: the sequential triggers' state
 * (sequential.h), so that a restart does not spend their budget again.
 * Format 3 adds the optional "anytime" object (the anytime analysis's
 * tests, driver.c) and hold 4 (anytime). Format 4 adds hold 5 (gate) and
 * the gate hooks' fields (gate, gate_in_flight, gate_asked_ms,
 * gate_passed), which an older format does not have (read as 0). */
#define CN_MACHINE_FORMAT 5

/* The machine as a compact JSON object; the caller frees the text. */
char *cn_machine_json(const cn_rollout_t *m);

/* The same with the sequential triggers' state under "sequential" (NULL:
 * none; not stolen). */
char *cn_machine_json_seq(const cn_rollout_t *m, const json_t *sequential);

/* The same with the anytime analysis's state under "anytime" too (NULL:
 * none; not stolen). */
char *cn_machine_json_state(const cn_rollout_t *m, const json_t *sequential,
                            const json_t *anytime);

/*
 * Read a stored machine (text may be NULL: a row without one). 0 with *m
 * set, or CN_EINVAL with one line in err naming what is wrong (a newer
 * format, an unknown, missing or bad key) and *m untouched.
 */
int cn_machine_parse(const char *text, cn_rollout_t *m, char *err, size_t errlen);

/* The same, also giving the "sequential" object (a new reference; NULL
 * when the machine has none) when it succeeds. sequential may be NULL. A
 * "sequential" that is not an object is unreadable. */
int cn_machine_parse_seq(const char *text, cn_rollout_t *m, json_t **sequential,
                         char *err, size_t errlen);

/* The same, also giving the "anytime" object (a new reference or NULL);
 * either out pointer may be NULL. */
int cn_machine_parse_state(const char *text, cn_rollout_t *m, json_t **sequential,
                           json_t **anytime, char *err, size_t errlen);

/*
 * Whether a machine read back agrees with the named columns of the row it
 * was stored with (state, step, weight): they are written together in one
 * transaction, so a difference means one of them was changed by hand or
 * damaged. 0, or CN_EINVAL naming the first column that differs.
 */
int cn_machine_check_row(const cn_rollout_t *m, const cn_store_rollout_t *row,
                         char *err, size_t errlen);

/*
 * The machine of a rollout ended without its stored machine: what the
 * row's named columns say (step, attempts spent, dry run, start), ended
 * in `end` (aborted or rolled-back) with the canary weight 0, `reason`
 * (cut to CN_ROLLOUT_REASON_MAX - 1 bytes) and updated_ms = now_ms. It is
 * what a repair stores in place of an unreadable machine, and what a retry
 * starts again from (a retry needs nothing else: it begins at the first
 * step).
 */
void cn_machine_ended(const cn_store_rollout_t *row, cn_rollout_state_t end,
                      const char *reason, int64_t now_ms, cn_rollout_t *out);

#endif
