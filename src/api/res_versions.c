/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /v1/versions: the stable and canary version sets (label and addresses).
 * GET reads the controller's current generation. PUT replaces either set
 * or both; the controller validates the whole resulting generation (bad or
 * duplicate addresses, a label clash, a canary weight with no canary left:
 * 400 naming the field, nothing changes), publishes it with the traffic as
 * one generation (a new measurement step) and stores it with its history.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"

#include <stdlib.h>

static void handle_versions(cn_admin_request_t *req)
{
    const cn_http_message_t *msg = cn_admin_request_message(req);
    if (msg->method == HTTP_PUT) {
        char who[CN_CONTROLLER_WHO_MAX + 1], err[512];
        cn_admin__who(req, who, sizeof who);
        cn_controller_change_t change;
        cn_controller_change_init(&change, who);
        if (cn_api_versions_parse(msg->body, msg->body_len, &change, err, sizeof err))
            cn_admin__respond_error(req, 400, "%s", err);
        else
            cn_admin__submit(req, &change, cn_api_versions_write);
        cn_controller_change_dispose(&change);
        return;
    }
    cn_generation_t g;
    cn_step_t step;
    cn_generation_init(&g);
    cn_controller_current(req->admin->controller, &g, &step);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024 * 1024);
    cn_api_versions_write(&w, &g, step.number);
    cn_generation_dispose(&g);
    cn_admin__respond_json(req, 200, &w);
}

void cn_admin__versions_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET | CN_ADMIN_PUT, "/v1/versions",
                                           true, handle_versions, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
