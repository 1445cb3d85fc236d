/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading the judge's metric specification from YAML: the standalone
 * analysis file, or the `analysis:` section of the full service config.
 * The config structs, their defaults and the cross-field checks are
 * declared in judge.h; this header adds only the text parser.
 *
 * The accepted keys, their defaults and ranges are documented key by key
 * in examples/analysis.yaml. The parser is strict: an unknown key, a value
 * of the wrong type (a string where a number is expected, a list where a
 * mapping is), an impossible value, or a key that the metric's test does
 * not use, is an error, because a typo in a rollout gate must not silently
 * become a default.
 */
#ifndef CN_JUDGE_CONFIG_H
#define CN_JUDGE_CONFIG_H

#include "judge/judge.h"
#include "util/config.h"
#include "util/yaml.h"

#include <stddef.h>

/*
 * Parse `len` bytes of YAML (no NUL terminator needed) into *out, which is
 * initialised here. `filename` is used only in messages. If the root
 * mapping has an `analysis` key, that mapping is the spec and the other
 * top-level keys are ignored (they belong to other parts of the service
 * config); otherwise the root mapping is the spec.
 *
 * On success returns 0 and *out holds a config that passes
 * cn_judge_config_validate(); the caller disposes it. On failure returns
 * CN_EPARSE (not YAML) or CN_EINVAL (YAML that is not a valid spec), writes
 * one line without a newline to err[0..errlen), in the form
 *
 *     FILE:LINE: key 'metrics[2].margin': must be >= 0, got '-1'
 *
 * (list indices count from 0, as in jq; in the section form the path
 * starts with `analysis.`), and leaves *out initialised with no metrics
 * and no allocations: nothing to dispose, though disposing is harmless.
 *
 * Pure: reads only the buffer, writes nothing to stdout or stderr.
 */
int cn_judge_config_parse(const char *text, size_t len, const char *filename,
                          cn_judge_config_t *out, char *err, size_t errlen);

/* The spec's key table (util/config.h), for `canary config check`, which
 * reads it as the `analysis:` section of a service config. */
const cn_config_table_t *cn_judge_config_table(void);

/*
 * Read the spec in a loaded document into *cfg (initialised by the
 * caller): the root mapping, or its `analysis` section, whose key paths
 * then start with "analysis.". An empty document is an error ("empty
 * config"). Messages go through y. Returns 0 or CN_EINVAL; *cfg may be
 * partly filled on error (the caller disposes it).
 */
int cn_judge_config_read_section(cn_yaml_t *y, struct fy_document *doc,
                                 cn_judge_config_t *cfg);

#endif
