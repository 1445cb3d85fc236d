/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Helpers for unit tests that compare against golden vectors.
 *
 * Golden files live in tests/golden/<name>.json (or $CN_GOLDEN_DIR) and are
 * written by tools/golden.py from scipy / statsmodels / R. Each file is an
 * object {"generator": ..., "cases": [ {...}, ... ]}; a case's fields are
 * specific to the test. JSON cannot hold NaN, so NaN is written as null.
 */
#ifndef CN_TESTS_GOLDEN_H
#define CN_TESTS_GOLDEN_H

#include <jansson.h>
#include <stddef.h>

/* Load tests/golden/<name>.json; fails the current test if it cannot. The
 * caller json_decref()s the result. */
json_t *golden_load(const char *name);

/* The "cases" array of a loaded golden file (borrowed). */
json_t *golden_cases(json_t *root);

/* A JSON array of numbers as a fresh double array (caller frees); *n gets
 * the length. null entries become NAN. */
double *golden_doubles(json_t *case_obj, const char *key, size_t *n);

/* A number field (null -> NAN); fails the test if the key is missing. */
double golden_num(json_t *case_obj, const char *key);

/* A string field; fails the test if missing. Borrowed. */
const char *golden_str(json_t *case_obj, const char *key);

/* Relative comparison: |got - want| <= rel * max(|got|, |want|), or both
 * NaN, or both the same infinity. `what` names the case in the failure. */
int golden_close(double got, double want, double rel);

#define GOLDEN_REL 1e-9

#define assert_golden(got, want, rel, ...)                                             \
    cr_assert(golden_close((got), (want), (rel)), __VA_ARGS__)

#endif
