/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `gateway_api` traffic engine: the weights of one rule of a Gateway
 * API HTTPRoute (spec.rules[i].backendRefs[j].weight, 0 to 1,000,000 per
 * backendRef, each backendRef's share its weight over the rule's sum),
 * set through the Kubernetes API with JSON Patch (k8s.h).
 *
 *   traffic:
 *     gateway_api:
 *       httproute: fraud          # required
 *       namespace: shop           # default: the service account's
 *       rule: 0                   # or rule_name: main
 *       backends:                 # optional: address -> backendRef
 *         - {address: fraud-v2:8080, name: fraud-v2, port: 8080}
 *
 * canary's share is canary_bp x 100 of 1,000,000 (exact to 0.01%); each
 * set's share is spread evenly over its backendRefs.
 */
#ifndef CN_ENGINES_GATEWAY_API_H
#define CN_ENGINES_GATEWAY_API_H

#include "engines/k8s.h"
#include "util/config.h"

typedef struct cn_gateway_api_config_s {
    cn_k8s_config_t k8s; /* httproute is k8s.route */
} cn_gateway_api_config_t;

extern const cn_config_table_t cn_gateway_api_config_table;

/* Free what the config owns (cn_config_dispose with the table). */
void cn_gateway_api_config_dispose(cn_gateway_api_config_t *c);

typedef cn_k8s_engine_t cn_gateway_api_t; /* `traffic` is its table */

/* An engine for cfg (copied). 0, or CN_EINVAL with one line in err. */
int cn_gateway_api_new(const cn_gateway_api_config_t *cfg, cn_gateway_api_t **out,
                       char *err, size_t errlen);
void cn_gateway_api_free(cn_gateway_api_t *e);

#endif
