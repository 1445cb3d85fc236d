/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Running the real `promtool check metrics` from the unit tests of what
 * writes the Prometheus text format (tests/unit/metrics/, tests/unit/api/). */
#ifndef CN_TEST_PROMTOOL_H
#define CN_TEST_PROMTOOL_H

#include <stddef.h>

/*
 * Run `promtool check metrics` on text; return its exit status (0: valid
 * and lint-clean) and put what it said in out. promtool is found on PATH:
 * it is a test dependency (scripts/deps.sh --test puts Debian's promtool in
 * /usr/local/bin, without the Prometheus server), so its absence fails the
 * calling test rather than skipping it.
 */
int promtool_check(const char *text, char *out, size_t outlen);

#endif
