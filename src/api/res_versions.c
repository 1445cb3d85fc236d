/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /v1/versions: the stable and canary version sets (label and addresses).
 * GET reads the controller's current generation. PUT replaces either set
 * or both; the controller validates the whole resulting generation (bad or
 * duplicate addresses, a label clash, a canary weight with no canary left:
 * 400 naming the field, nothing changes), publishes it with the traffic as
 * one generation (a new measurement step) and stores it with its history.
 *
 * POST /v1/versions/promote: the canary set becomes the stable set, the
 * canary set becomes empty and the canary weight 0, in one publication (a
 * worker never sees the new stable set with the old weight, or the old
 * canary twice). The body must be empty or {}. Answered like GET; a 400
 * when there is no canary to promote.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"

#include <jansson.h>
#include <stdlib.h>

static void handle_versions(cn_admin_request_t *req)
{
    cn_admin__generation_resource(req, cn_api_versions_parse, cn_api_versions_write);
}

/* No body, or an empty JSON object. */
static bool empty_object(const char *body, size_t len)
{
    if (len == 0)
        return true;
    json_t *j = json_loadb(body, len, 0, NULL);
    bool empty = json_is_object(j) && json_object_size(j) == 0;
    json_decref(j);
    return empty;
}

static void handle_promote(cn_admin_request_t *req)
{
    const cn_http_message_t *msg = cn_admin_request_message(req);
    if (!empty_object(msg->body, msg->body_len)) {
        cn_admin__respond_error(req, 400,
                                "promote takes no parameters: send no body "
                                "or {}");
        return;
    }
    if (cn_admin__managed_refuse(req))
        return;
    char who[CN_CONTROLLER_WHO_MAX + 1];
    cn_admin__who(req, who, sizeof who);
    cn_controller_change_t change;
    cn_controller_change_init(&change, who);
    change.promote = true;
    cn_admin__submit(req, &change, cn_api_versions_write);
    cn_controller_change_dispose(&change);
}

void cn_admin__versions_routes(cn_admin_t *a)
{
    static const cn_admin_route_t routes[] = {
        {CN_ADMIN_GET | CN_ADMIN_PUT, "/v1/versions", true, handle_versions, NULL},
        {CN_ADMIN_POST, "/v1/versions/promote", true, handle_promote, NULL},
    };
    char err[128];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (cn_admin_add_route(a, &routes[i], err, sizeof err))
            abort();
}
