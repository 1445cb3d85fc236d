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
    const cn_http_message_t *msg = cn_admin_request_message(req);
    if (msg->method == HTTP_PUT) {
        char who[CN_CONTROLLER_WHO_MAX + 1], err[512];
        cn_admin__who(req, who, sizeof who);
        cn_controller_change_t change;
        cn_controller_change_init(&change, who);
        if (cn_api_traffic_parse(msg->body, msg->body_len, &change, err, sizeof err))
            cn_admin__respond_error(req, 400, "%s", err);
        else
            cn_admin__submit(req, &change, render_traffic);
        cn_controller_change_dispose(&change);
        return;
    }
    cn_generation_t g;
    cn_step_t step;
    cn_generation_init(&g);
    cn_controller_current(req->admin->controller, &g, &step);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    render_traffic(&w, &g, step.number);
    cn_generation_dispose(&g);
    cn_admin__respond_json(req, 200, &w);
}

void cn_admin__traffic_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET | CN_ADMIN_PUT, "/v1/traffic",
                                           true, handle_traffic, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
