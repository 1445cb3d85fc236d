/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's JSON, one codec per resource: parse and validate request
 * bodies, render responses. Pure: no sockets, no libuv, no global state, so
 * a command-line client links the same code that the server runs, and the
 * unit tests drive it with strings.
 *
 * Parsers read one JSON object (jansson, duplicate keys refused) and fill a
 * cn_controller_change_t; on error they return CN_EINVAL with one line in
 * err naming the key and the value ("canary_weight: must be a percentage in
 * [0, 100] with at most 2 decimals, got 150"), and the change is left as
 * it was (init'ed by the caller; dispose it either way). Writers append to
 * a cn_jsonw_t.
 *
 * Shapes:
 *   traffic   {"canary_weight": 2.5, "mode": "random", "shadow_percent":
 *             100, "force_enabled": false, "step": 3}
 *             (PUT: any subset of the first four keys; percentages are
 *             JSON numbers in [0, 100] with at most two decimals)
 *   versions  {"stable": {"version": "v1", "addresses": ["127.0.0.1:9001"]},
 *              "canary": {"version": "v2", "addresses": []},
 *              "generation": 4, "step": 3}
 *             (PUT: "stable", "canary" or both, each with both keys)
 *   samples   see cn_api_samples_write
 *   models    {"models": [{"name": "fraud", "version_count": 2, "stable":
 *              "v1", "candidate": null, "active_rollout": null,
 *              "created_unix_ms": .., "created_by": ".."}]}
 *   model     the same fields, and "versions": [version, ...]
 *   version   {"model": "fraud", "version": "v2", "addresses": [".."],
 *              "artifact": "s3://..", "metadata": {..}, "tags": ["stable"],
 *              "created_unix_ms": .., "created_by": ".."}
 *             (POST: version and addresses required; artifact, metadata)
 *   requests  {"request_id": "..", "version": "v2", "role": "canary",
 *              "segment": "eu", "time": unix_s, "shadowed": false}
 *   errors    {"error": "..."}
 */
#ifndef CN_API_CODEC_H
#define CN_API_CODEC_H

#include "api/jsonw.h"
#include "controller/controller.h"
#include "router/router.h"
#include "store/store.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* {"error": message} */
void cn_api_error_write(cn_jsonw_t *w, const char *message);

/* ------------------------------------------------------------ traffic */

/* The traffic object, with "step". */
void cn_api_traffic_write(cn_jsonw_t *w, const cn_traffic_t *t, uint64_t step);

/* A PUT /v1/traffic body: the keys given set their has_ flag in *change. */
int cn_api_traffic_parse(const char *body, size_t len, cn_controller_change_t *change,
                         char *err, size_t errlen);

/* ------------------------------------------------------------ versions */

/* Both sets, the generation number and the step. */
void cn_api_versions_write(cn_jsonw_t *w, const cn_generation_t *g, uint64_t step);

/* A PUT /v1/versions body: each set given replaces that role's set
 * (has_set). The syntax is checked here (types, key names, lengths); the
 * meaning (address syntax, duplicates, label clash, weight without canary)
 * is cn_controller_validate's, against the running generation. */
int cn_api_versions_parse(const char *body, size_t len, cn_controller_change_t *change,
                          char *err, size_t errlen);

/* ------------------------------------------------------------ samples */

/* The query of GET /v1/samples: "window=step" (default) or "window=all".
 * *all is set. 0 or CN_EINVAL naming the parameter. */
int cn_api_samples_query_parse(const char *query, size_t len, bool *all, char *err,
                               size_t errlen);

/*
 * The samples body:
 *   {"window": "step", "step": N, "step_started": unix_s, "now": unix_s,
 *    "traffic": {...as GET /v1/traffic...},
 *    "versions": {"stable": {"version": "v1", "segments": {"<segment>": {
 *        "requests": n, "errors": n,
 *        "latency_us": {"count": n, "p50": us, "p95": us, "p99": us,
 *                       "sample": [us, ...]},
 *        "predictions": {"seen": n, "sample": [x, ...]}}}},
 *      "canary": {...}},
 *    "shadow_pairs": [{"request_id": "..", "stable": x, "canary": x}]}
 * with quantiles null when count is 0. all gives the cumulative counters
 * instead (plus "shadow_requests", "retried_on_stable" and predictions
 * "sum"), quantiles of the cumulative histogram, and no "sample" arrays and
 * no "shadow_pairs".
 */
void cn_api_samples_write(cn_jsonw_t *w, const cn_router_snapshot_t *s, bool all);

/* ------------------------------------------------------------ requests */

void cn_api_lookup_write(cn_jsonw_t *w, const char *id, size_t id_len,
                         const cn_router_lookup_t *found);

/*
 * Percent-decode s[0..len) into out (len + 1 bytes, NUL-terminated), '+'
 * as a space when plus_is_space (query strings). False on a bad escape.
 */
bool cn_api_percent_decode(const char *s, size_t len, bool plus_is_space, char *out,
                           size_t *out_len);

/* The model registry (codec_models.c). */
void cn_api_model_write_fields(cn_jsonw_t *w, const cn_store_model_t *m);
void cn_api_models_write(cn_jsonw_t *w, const cn_store_model_t *models, size_t n);
void cn_api_model_write(cn_jsonw_t *w, const cn_store_model_t *m,
                        const cn_store_version_t *versions, size_t n);
void cn_api_version_write(cn_jsonw_t *w, const cn_store_version_t *v);

/* A version to register into *out (cn_store_version_init'ed by the caller,
 * who sets out->model and disposes it either way): the shape checks; the
 * store checks the values (addresses, labels, sizes). CN_EINVAL with one
 * line naming the key. */
int cn_api_version_parse(const char *body, size_t len, cn_store_version_t *out,
                         char *err, size_t errlen);

#endif
