/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /v1/traffic: the split. GET reads the controller's current state (a copy
 * under its mutex: no wait for a change in flight). PUT sends the keys
 * given to the controller, which merges them into the state current when
 * it applies them, validates, publishes and stores; the answer is the
 * traffic object then current, with its step.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"

#include <stdlib.h>

static void render_traffic(cn_jsonw_t *w, const cn_generation_t *g, uint64_t step)
{
    cn_api_traffic_write(w, &g->traffic, step);
}

static void handle_traffic(cn_admin_request_t *req)
{
    cn_admin__generation_resource(req, cn_api_traffic_parse, render_traffic);
}

void cn_admin__traffic_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET | CN_ADMIN_PUT, "/v1/traffic",
                                           true, handle_traffic, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
