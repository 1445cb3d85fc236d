/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /v1/events: a Server-Sent Events stream (text/event-stream) for the
 * dashboard, with the bearer token like every /v1 resource. Events:
 *
 *   event: sample    data: one point of /v1/series (res_series.c), once a
 *                    second
 *   event: rollout   data: {"id", "step", "weight", "transitions"} when the
 *                    active rollout changed (started, ended, moved a step,
 *                    changed state or weight, got a verdict): the page
 *                    reads the rollout, its trail and its analyses again
 *
 * and a comment line (": ...") when a second has no sample, so that a
 * client sees a live stream. The first bytes are "retry: 2000" (the
 * reconnect delay for EventSource) and a comment.
 *
 * A browser's EventSource cannot send an Authorization header; the page
 * reads this stream with fetch() instead, so the token never goes into a
 * URL (docs/DASHBOARD.md). At most CN_ADMIN_MAX_STREAMS streams are open
 * (503 beyond); a client that stops reading loses events, and is cut off
 * by the send timeout.
 */
#include "api/admin_internal.h"

#include <stdlib.h>
#include <string.h>

#define SSE_TYPE "text/event-stream; charset=utf-8"

static void handle_events(cn_admin_request_t *req)
{
    static const char first[] = "retry: 2000\n: canary events\n\n";
    cn_admin__stream_open(req, SSE_TYPE, first, sizeof first - 1);
}

void cn_admin__events_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET, "/v1/events", true,
                                           handle_events, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
