/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `istio` traffic engine: the weights of one HTTP route of an Istio
 * VirtualService (spec.http[i].route[j].weight, integer percentages that
 * sum to 100), set through the Kubernetes API with JSON Patch (k8s.h).
 *
 *   traffic:
 *     istio:
 *       virtual_service: fraud    # required
 *       namespace: shop
 *       rule: 0                   # or rule_name: main (spec.http[].name)
 *       backends:                 # optional: address -> destination
 *         - {address: fraud-v2:8080, host: fraud, port: 8080, subset: v2}
 *
 * The canary's share is quantised to whole percents: the nearest one
 * (halves up), but at least 1% when the canary weight is above 0 and at
 * most 99% when it is below 100%; the engine answers the percent it set as
 * the effective weight (0.25% runs as 1%, 12.5% as 13%).
 */
#ifndef CN_ENGINES_ISTIO_H
#define CN_ENGINES_ISTIO_H

#include "engines/k8s.h"
#include "util/config.h"

typedef struct cn_istio_config_s {
    cn_k8s_config_t k8s; /* virtual_service is k8s.route */
} cn_istio_config_t;

extern const cn_config_table_t cn_istio_config_table;

void cn_istio_config_dispose(cn_istio_config_t *c);

typedef cn_k8s_engine_t cn_istio_t; /* `traffic` is its table */

/* An engine for cfg (copied). 0, or CN_EINVAL with one line in err. */
int cn_istio_new(const cn_istio_config_t *cfg, cn_istio_t **out, char *err,
                 size_t errlen);
void cn_istio_free(cn_istio_t *e);

#endif
