/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Prometheus exposition of a router snapshot: what GET /metrics
 * answers. Every family has the canary_ prefix; per-version families carry
 * the labels version (the model version name), role ("stable"/"canary")
 * and segment. Every family is written, with its HELP and TYPE, even when
 * it has no samples, so dashboards and alerts see the whole schema.
 *
 * Pure: reads the snapshot, writes into the writer.
 */
#ifndef CN_API_EXPOSITION_H
#define CN_API_EXPOSITION_H

#include "metrics/prom.h"
#include "router/router.h"

/* The request-duration buckets, in seconds (the conventional client
 * library defaults). */
extern const double cn_admin_duration_buckets_s[];
extern const size_t cn_admin_n_duration_buckets;

/*
 * Write every family for snapshot s into w. Returns 0, or the writer's
 * first error (CN_ETOOBIG if the text outgrew the writer; CN_EINVAL only if
 * the snapshot holds impossible values, such as prediction bounds not
 * ascending).
 */
int cn_admin_exposition(const cn_router_snapshot_t *s, cn_prom_writer_t *w);

#endif
