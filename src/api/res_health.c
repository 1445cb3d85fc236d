/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /healthz: the liveness probe. Answered on the admin loop from
 * nothing but a constant, so it answers while a snapshot or a change is in
 * progress: it tells whether the process serves, not what the router
 * measured.
 */
#include "api/admin_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static void handle_healthz(cn_admin_request_t *req)
{
    static const char ok[] = "{\"status\":\"ok\"}\n";
    cn_admin_response_t res = {.status = 200, .content_type = CN_ADMIN_JSON_TYPE};
    res.body = cn_xmalloc(sizeof ok);
    memcpy(res.body, ok, sizeof ok);
    res.body_len = sizeof ok - 1;
    cn_admin_respond(req, &res);
}

void cn_admin__health_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET, "/healthz", false,
                                           handle_healthz, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort(); /* a built-in route always fits */
}
